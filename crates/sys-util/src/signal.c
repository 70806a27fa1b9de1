/* SPDX-License-Identifier: Apache-2.0 */
/* The kick signal: a real-time signal whose no-op handler exists only so
 * that blocking syscalls (KVM_RUN, read, epoll_wait) return EINTR. */
#include <cvmm/sys-util.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

/* 0 means "SIGRTMIN", which glibc computes at run time. */
static int kick_signo;

int cvmm_kick_signal(void)
{
	int s = __atomic_load_n(&kick_signo, __ATOMIC_RELAXED);

	return s ? s : SIGRTMIN;
}

int cvmm_kick_signal_set(int signo)
{
	if (signo < SIGRTMIN || signo > SIGRTMAX)
		return -EINVAL;
	__atomic_store_n(&kick_signo, signo, __ATOMIC_RELAXED);
	return 0;
}

static void kick_handler(int signo)
{
	(void)signo;
}

int cvmm_kick_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	/* No SA_RESTART: the whole point is that the syscall gets EINTR. */
	sa.sa_flags = 0;
	sigemptyset(&sa.sa_mask);
	if (sigaction(cvmm_kick_signal(), &sa, NULL) < 0)
		return -errno;
	return cvmm_signal_unblock(cvmm_kick_signal());
}

int cvmm_kick_thread(unsigned long thread)
{
	CVMM_BUILD_BUG_ON(sizeof(pthread_t) != sizeof(unsigned long));
	return -pthread_kill((pthread_t)thread, cvmm_kick_signal());
}

static int mask(int how, int signo)
{
	sigset_t set;

	sigemptyset(&set);
	if (sigaddset(&set, signo) < 0)
		return -EINVAL;
	return -pthread_sigmask(how, &set, NULL);
}

int cvmm_signal_block(int signo)
{
	return mask(SIG_BLOCK, signo);
}

int cvmm_signal_unblock(int signo)
{
	return mask(SIG_UNBLOCK, signo);
}
