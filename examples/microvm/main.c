/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm-microvm: boot a kernel or test guest with the legacy platform a
 * microVM needs. The main thread owns host input and signals; each vCPU
 * has a thread of its own (vmm.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "vmm.h"

static struct termios saved_tty;
static bool tty_raw;

static void tty_restore(void)
{
	if (tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
	tty_raw = false;
}

/* The guest's console wants keys as typed, not lines: raw mode, but keep
 * ISIG so Ctrl-C still reaches us as SIGINT and stops the VM. */
static void tty_make_raw(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tty))
		return;
	t = saved_tty;
	t.c_lflag &= ~(ICANON | ECHO);
	t.c_iflag &= ~(ICRNL | IXON);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (!tcsetattr(STDIN_FILENO, TCSANOW, &t)) {
		tty_raw = true;
		atexit(tty_restore);
	}
}

enum { EV_STOP = 1, EV_SIGNAL, EV_STDIN };

/* Host input waiting for room in the UART's FIFO. */
struct pending_input {
	uint8_t buf[256];
	size_t len, off;
};

static void main_loop(struct vmm *v, int sfd)
{
	struct pending_input in = { .len = 0 };
	bool stdin_on = v->cfg->serial == SERIAL_STDIO;
	bool stdin_file = false; /* a regular file: always readable, epoll refuses it */
	struct epoll_event ev[4];
	int ep = cvmm_epoll_create();

	if (ep < 0) {
		vmm_request_stop(v, VM_STOP_HOST_ERROR, 3);
		return;
	}
	cvmm_epoll_add(ep, v->stop_efd, EPOLLIN, EV_STOP);
	cvmm_epoll_add(ep, sfd, EPOLLIN, EV_SIGNAL);
	if (stdin_on && cvmm_epoll_add(ep, STDIN_FILENO, EPOLLIN, EV_STDIN) == -EPERM)
		stdin_file = true;
	/* The main thread confines itself last, once everything is set up. */
	if (cvmm_sandbox_install(v->sandbox, "vmm")) {
		fprintf(stderr, "cvmm-microvm: cannot install the seccomp filter of the main thread\n");
		vmm_request_stop(v, VM_STOP_HOST_ERROR, 3);
	}

	while (atomic_load(&v->stop) == VM_RUNNING) {
		/* While the FIFO is full, retry soon instead of reading more. */
		int n = cvmm_epoll_wait(ep, ev, 4, in.off < in.len || stdin_file ? 10 : -1);

		if (in.off < in.len)
			in.off += vmm_serial_input(v, in.buf + in.off, in.len - in.off);
		if (stdin_file && in.off >= in.len) {
			ssize_t r = read(STDIN_FILENO, in.buf, sizeof(in.buf));

			if (r <= 0) {
				stdin_file = false;
			} else {
				in.len = (size_t)r;
				in.off = vmm_serial_input(v, in.buf, in.len);
			}
		}
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u64 == EV_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) == sizeof(si))
					vmm_request_stop(v, VM_STOP_SIGNAL, 128 + (int)si.ssi_signo);
			} else if (ev[i].data.u64 == EV_STDIN && in.off >= in.len) {
				ssize_t r = read(STDIN_FILENO, in.buf, sizeof(in.buf));

				if (r <= 0) {
					/* EOF: the guest keeps running without input. */
					cvmm_epoll_del(ep, STDIN_FILENO);
					continue;
				}
				in.len = (size_t)r;
				in.off = vmm_serial_input(v, in.buf, in.len);
			}
		}
	}
	cvmm_close(ep);
}

static void log_sink(enum cvmm_log_level level, const char *crate, const char *msg, void *o)
{
	(void)o;
	fprintf(stderr, "cvmm-microvm: %s: %s: %s\n", cvmm_log_level_name(level), crate, msg);
}

/*
 * When the process started, for the boot timer: CVMM_T0_NS (CLOCK_MONOTONIC
 * taken by a benchmark just before exec) when set, else now.
 */
static uint64_t process_start_ns(void)
{
	const char *t0 = getenv("CVMM_T0_NS");
	char *end;
	unsigned long long v;

	if (t0) {
		v = strtoull(t0, &end, 10);
		if (!*end && v && v <= cvmm_now_ns())
			return v;
	}
	return cvmm_now_ns();
}

int main(int argc, char **argv)
{
	uint64_t t0 = process_start_ns();
	static const char *const sandbox_threads[] = { "vmm", "vcpu", "virtio" };
	struct cvmm_sandbox sandbox;
	struct microvm_config cfg;
	struct vmm v;
	char err[512] = "";
	sigset_t sigs;
	int sfd, status, ret;

	if (microvm_config_parse(argc, argv, &cfg, err, sizeof(err))) {
		fprintf(stderr, "cvmm-microvm: %s\n", err);
		return 1;
	}
	if (cfg.help) {
		microvm_usage(stdout, argv[0]);
		return 0;
	}
	if (cfg.version) {
		printf("cvmm-microvm %s\n", PACKAGE_VERSION);
		return 0;
	}
	cvmm_log_set_level(cfg.log_level);
	cvmm_log_set_sink(log_sink, NULL);

	/* Filters are compiled before any thread exists; each thread type
	 * installs its own (vmm.c, virtio.c, main_loop). */
	if (cvmm_sandbox_prepare(&sandbox, "microvm", sandbox_threads,
				 CVMM_ARRAY_SIZE(sandbox_threads), cfg.seccomp,
				 cfg.seccomp_filter, err, sizeof(err))) {
		fprintf(stderr, "cvmm-microvm: %s\n", err);
		return 1;
	}

	/* SIGTERM/SIGINT arrive through a signalfd in the main loop; vCPU
	 * threads inherit the blocked mask and never see them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);

	ret = vmm_create(&v, &cfg, err, sizeof(err));
	v.t0_ns = t0;
	v.sandbox = &sandbox;
	CVMM_LOG(CVMM_LOG_DEBUG, "microvm", "VM, memory and vCPUs ready at %.3f ms",
		 (cvmm_now_ns() - t0) / 1e6);
	if (!ret)
		ret = vmm_devices_init(&v, err, sizeof(err));
	if (!ret)
		ret = vmm_boot(&v, err, sizeof(err));
	CVMM_LOG(CVMM_LOG_DEBUG, "microvm", "devices and boot state ready at %.3f ms",
		 (cvmm_now_ns() - t0) / 1e6);
	if (ret) {
		fprintf(stderr, "cvmm-microvm: %s\n", err[0] ? err : strerror(-ret));
		vmm_destroy(&v);
		cvmm_sandbox_fini(&sandbox);
		return 1;
	}
	if (vmm_start(&v)) {
		fprintf(stderr, "cvmm-microvm: cannot start vCPU threads\n");
		vmm_join(&v);
		vmm_destroy(&v);
		cvmm_sandbox_fini(&sandbox);
		return 3;
	}
	if (cfg.serial == SERIAL_STDIO)
		tty_make_raw();
	main_loop(&v, sfd);
	vmm_join(&v);
	tty_restore();
	status = vmm_exit_status(&v);
	vmm_destroy(&v);
	cvmm_close(sfd);
	cvmm_sandbox_fini(&sandbox);
	return status;
}
