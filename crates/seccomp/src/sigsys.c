/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SIGSYS handler for the TRAP action: the one place in cvmm that writes
 * to stderr and exits, because it runs in a thread that has just broken its
 * filter and the process must die telling why. It may use only
 * async-signal-safe calls, so the syscall names are copied into a static
 * table here, at install time, while malloc is still allowed.
 */
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp SIGSYS; glibc lacks the name */
#endif

#define NAME_NR_MAX 1024
#define NAME_LEN 32

static char syscall_names[NAME_NR_MAX][NAME_LEN];

/*
 * initial-exec: the handler must not be the first to touch this TLS block
 * (a lazily allocated block would call malloc inside the signal handler).
 */
static __thread char thread_name[CVMM_SECCOMP_NAME_MAX] __attribute__((tls_model("initial-exec")));
static char tsync_name[CVMM_SECCOMP_NAME_MAX];

void cvmm_seccomp_i_note_thread(const char *name, int tsync)
{
	size_t n = strnlen(name, CVMM_SECCOMP_NAME_MAX - 1);

	memcpy(thread_name, name, n);
	thread_name[n] = '\0';
	if (tsync) {
		memcpy(tsync_name, name, n);
		tsync_name[n] = '\0';
	}
}

struct out {
	char buf[256];
	size_t n;
};

static void put(struct out *o, const char *s)
{
	while (*s && o->n < sizeof(o->buf))
		o->buf[o->n++] = *s++;
}

static void put_int(struct out *o, long v)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

	tmp[--i] = '\0';
	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u && i > 1);
	if (v < 0)
		tmp[--i] = '-';
	put(o, &tmp[i]);
}

static void sigsys_handler(int sig, siginfo_t *si, void *uc)
{
	struct out o = { .n = 0 };
	const char *who = thread_name[0] ? thread_name : tsync_name[0] ? tsync_name : "?";

	(void)sig;
	(void)uc;
	put(&o, "cvmm: seccomp: thread ");
	put(&o, who);
	if (si && si->si_code == SYS_SECCOMP) {
		int nr = si->si_syscall;
		const char *name = nr >= 0 && nr < NAME_NR_MAX && syscall_names[nr][0] ?
				   syscall_names[nr] : "?";

		put(&o, " made forbidden syscall ");
		put(&o, name);
		put(&o, " (");
		put_int(&o, nr);
		put(&o, ")\n");
	} else {
		put(&o, " received SIGSYS\n");
	}
	/* Best effort: nothing useful can be done if stderr is gone. */
	if (write(STDERR_FILENO, o.buf, o.n) < 0)
		o.n = 0;
	/*
	 * exit_group directly: it is what _exit() does, but a sanitizer build
	 * runs stack bookkeeping (sigaltstack) before any noreturn call, and
	 * the filter most likely forbids that. _exit() is the fallback only.
	 */
	syscall(SYS_exit_group, CVMM_SECCOMP_TRAP_EXIT_CODE);
	_exit(CVMM_SECCOMP_TRAP_EXIT_CODE);
}

int cvmm_seccomp_install_sigsys_handler(void)
{
	struct sigaction sa;

	for (int nr = 0; nr < NAME_NR_MAX; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (name) {
			size_t n = strnlen(name, NAME_LEN - 1);

			memcpy(syscall_names[nr], name, n);
			syscall_names[nr][n] = '\0';
			free(name);
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sigsys_handler;
	sa.sa_flags = SA_SIGINFO;
	/* One message, not interleaved with other handlers. */
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	return 0;
}
