/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host input on the VM's control loop: stdin feeds the guest's serial port
 * (with back-pressure: bytes the UART's FIFO refuses wait for a retry
 * timer), and SIGTERM/SIGINT arriving through a signalfd stop the VM.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "input.h"

#define RETRY_NS (10ull * 1000 * 1000)

static void feed(struct microvm_input *in)
{
	if (in->off < in->len)
		in->off += cvmm_vmm_serial_input(in->vmm, in->buf + in->off, in->len - in->off);
}

/* Read more only once everything read before was taken. */
static void read_stdin(struct microvm_input *in, struct cvmm_event_manager *em)
{
	ssize_t r;

	if (in->off < in->len)
		return;
	r = read(STDIN_FILENO, in->buf, sizeof(in->buf));
	if (r <= 0) {
		/* EOF: the guest keeps running without input. */
		if (!in->stdin_file)
			cvmm_event_manager_remove(em, STDIN_FILENO);
		in->stdin_file = false;
		in->stdin_on = false;
		return;
	}
	in->len = (size_t)r;
	in->off = 0;
	feed(in);
}


/* While the FIFO refuses bytes, stdin is not watched (it would stay
 * readable and spin the loop); the timer offers the rest until taken. */
static void arm_retry(struct microvm_input *in, struct cvmm_event_manager *em)
{
	bool pending = in->off < in->len;

	if (in->stdin_on && !in->stdin_file && pending != in->stdin_paused) {
		cvmm_event_manager_modify(em, STDIN_FILENO, pending ? 0 : EPOLLIN);
		in->stdin_paused = pending;
	}
	cvmm_event_manager_timer_set(em, in->retry, pending || in->stdin_file ? RETRY_NS : 0, 0);
}

static void on_stdin(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct microvm_input *in = opaque;

	(void)fd;
	/* The writer went away while bytes still wait for the FIFO: epoll
	 * would report the hang-up for ever (whatever the mask), spinning the
	 * loop. Stop watching; the retry timer reads the rest to EOF. */
	if ((events & (EPOLLHUP | EPOLLERR)) && in->off < in->len) {
		cvmm_event_manager_remove(em, STDIN_FILENO);
		in->stdin_file = true;
		arm_retry(in, em);
		return;
	}
	read_stdin(in, em);
	arm_retry(in, em);
}

static void on_retry(struct cvmm_event_manager *em, struct cvmm_event_timer *t, uint64_t n,
		     void *opaque)
{
	struct microvm_input *in = opaque;

	(void)t;
	(void)n;
	feed(in);
	if (in->stdin_file)
		read_stdin(in, em);
	arm_retry(in, em);
}

static void on_signal(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct microvm_input *in = opaque;
	struct signalfd_siginfo si;

	(void)em;
	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	/* SIGUSR1/SIGUSR2 are the program's (snapshot, resume). */
	if ((si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGUSR2) && in->user_signal)
		in->user_signal(in->user_opaque, (int)si.ssi_signo);
	else
		cvmm_vmm_request_stop(in->vmm, CVMM_VMM_STOP_REQUEST, 128 + (int)si.ssi_signo);
}

int microvm_input_init(struct microvm_input *in, struct cvmm_vmm *vmm, int sfd, bool serial_stdin)
{
	struct cvmm_event_manager *em = cvmm_vmm_event_manager(vmm);
	int ret;

	*in = (struct microvm_input){ .vmm = vmm };
	ret = cvmm_event_manager_add(em, sfd, EPOLLIN, on_signal, in);
	if (!ret)
		ret = cvmm_event_manager_timer_add(em, 0, 0, on_retry, in, &in->retry);
	if (ret || !serial_stdin)
		return ret;
	in->stdin_on = true;
	ret = cvmm_event_manager_add(em, STDIN_FILENO, EPOLLIN, on_stdin, in);
	if (ret == -EPERM) {
		/* A regular file is always readable and epoll refuses it: poll it
		 * on the retry timer instead. */
		in->stdin_file = true;
		arm_retry(in, em);
		ret = 0;
	}
	return ret;
}
