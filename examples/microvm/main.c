/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm-microvm: boot a kernel or test guest on the VM core (crates/vmm)
 * with the legacy platform and virtio-mmio devices a microVM needs. The
 * main thread runs the VM's control loop (host input, signals); each vCPU
 * and the device loop have threads of their own, each under its own
 * seccomp filter.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "input.h"
#include "microvm.h"

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

static void log_sink(enum cvmm_log_level level, const char *crate, const char *msg, void *o)
{
	(void)o;
	fprintf(stderr, "cvmm-microvm: %s: %s: %s\n", cvmm_log_level_name(level), crate, msg);
}

/* A vCPU crash prints the registers in one block, so vCPUs crashing
 * together do not interleave. */
static void on_event(void *opaque, const struct cvmm_vmm_event *ev)
{
	(void)opaque;
	if (ev->type == CVMM_VMM_EV_VCPU_CRASH)
		fprintf(stderr, "cvmm-microvm: vCPU %d: %s\n", ev->vcpu, ev->detail);
}

static int thread_start(void *opaque, const char *type, unsigned int index)
{
	(void)index;
	return cvmm_sandbox_install(opaque, type);
}

static void post_code(void *opaque, uint8_t code, uint64_t ns)
{
	(void)opaque;
	fprintf(stderr, "cvmm-microvm: boot-timer: post code 0x%02x at %llu.%03llu ms\n", code,
		(unsigned long long)(ns / 1000000), (unsigned long long)(ns / 1000 % 1000));
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

static int open_serial_output(struct microvm *m, char *err, size_t errlen)
{
	m->serial_out = -1;
	if (m->cfg->serial == SERIAL_STDIO)
		m->serial_out = STDOUT_FILENO;
	if (m->cfg->serial != SERIAL_FILE)
		return 0;
	m->serial_out = open(m->cfg->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND,
			     0644);
	if (m->serial_out < 0) {
		snprintf(err, errlen, "--serial: cannot open '%s': %s", m->cfg->serial_path,
			 strerror(errno));
		return -errno;
	}
	return 0;
}

static int open_image(const char *flag, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		snprintf(err, errlen, "%s: cannot open '%s': %s", flag, path, strerror(errno));
	return fd < 0 ? -errno : fd;
}

static int boot(struct microvm *m, char *err, size_t errlen)
{
	struct cvmm_vmm_boot_opts bo = {
		.sz = sizeof(bo),
		.initrd_fd = -1,
		.cmdline = m->cfg->cmdline ? m->cfg->cmdline : MICROVM_DEFAULT_CMDLINE,
		.kernel_name = m->cfg->kernel,
	};
	char why[480];
	int ret = microvm_boot_test_guest(m, err, errlen);

	if (ret <= 0)
		return ret;
	bo.kernel_fd = open_image("--kernel", m->cfg->kernel, err, errlen);
	if (bo.kernel_fd < 0)
		return bo.kernel_fd;
	if (m->cfg->initrd) {
		bo.initrd_fd = open_image("--initrd", m->cfg->initrd, err, errlen);
		if (bo.initrd_fd < 0) {
			close(bo.kernel_fd);
			return bo.initrd_fd;
		}
	}
	ret = cvmm_vmm_boot_linux(m->vmm, &bo, why, sizeof(why));
	close(bo.kernel_fd);
	cvmm_close(bo.initrd_fd);
	/* The core names the field; the flag is ours. */
	if (ret)
		snprintf(err, errlen, "%s%s",
			 !strncmp(why, "kernel:", 7) || !strncmp(why, "cmdline:", 8) ? "--" : "", why);
	return ret;
}

static int exit_status(struct cvmm_vmm *vmm)
{
	int code;

	switch (cvmm_vmm_stop_reason(vmm, &code)) {
	case CVMM_VMM_STOP_POWEROFF:
	case CVMM_VMM_STOP_RESET:
		return 0;
	case CVMM_VMM_STOP_NONE:
		return 3;
	default:
		return code;
	}
}

static int setup(struct microvm *m, char *err, size_t errlen)
{
	const struct microvm_config *cfg = m->cfg;
	struct cvmm_vmm_opts vo = {
		.sz = sizeof(vo),
		.mem_size = cfg->memory,
		.ncpus = cfg->cpus,
		/* vhost-user backends map guest RAM themselves. */
		.backing = cfg->dev.nvhost ? CVMM_VMM_MEM_SHARED : CVMM_VMM_MEM_ANON,
		.event = on_event,
		.thread_start = thread_start,
		.opaque = (void *)m->sandbox,
	};
	struct cvmm_vmm_platform_opts po = {
		.sz = sizeof(po),
		.debug_exit = true,
		.post_code = cfg->boot_timer ? post_code : NULL,
		.t0_ns = m->t0_ns,
	};
	int ret;

	ret = cvmm_vmm_create(&vo, &m->vmm, err, errlen);
	if (ret) {
		/* The core names the field; the flag is ours. */
		if (!strncmp(err, "memory:", 7) || !strncmp(err, "cpus:", 5)) {
			char why[512];

			snprintf(why, sizeof(why), "--%s", err);
			snprintf(err, errlen, "%s", why);
		}
		return ret;
	}
	CVMM_LOG(CVMM_LOG_DEBUG, "microvm", "VM, memory and vCPUs ready at %.3f ms",
		 (cvmm_now_ns() - m->t0_ns) / 1e6);
	/* virtio first: a bad --disk fails before a --serial file is created. */
	if ((ret = microvm_devices_add(m, err, errlen)) ||
	    (ret = open_serial_output(m, err, errlen)))
		return ret;
	po.serial_out_fd = m->serial_out;
	if ((ret = cvmm_vmm_platform_add(m->vmm, &po, err, errlen)) || (ret = boot(m, err, errlen)))
		return ret;
	CVMM_LOG(CVMM_LOG_DEBUG, "microvm", "devices and boot state ready at %.3f ms",
		 (cvmm_now_ns() - m->t0_ns) / 1e6);
	return 0;
}

static void teardown(struct microvm *m)
{
	cvmm_vmm_destroy(m->vmm);
	if (m->serial_out > STDERR_FILENO)
		cvmm_close(m->serial_out);
	cvmm_close(m->con_out);
}

int main(int argc, char **argv)
{
	static const char *const sandbox_threads[] = { "vmm", "vcpu", "virtio" };
	struct microvm m = { .t0_ns = process_start_ns(), .serial_out = -1, .con_out = -1 };
	struct cvmm_sandbox sandbox;
	struct microvm_config cfg;
	struct microvm_input in;
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
	m.cfg = &cfg;

	/* Filters are compiled before any thread exists; each thread type
	 * installs its own as it starts (the VM core calls thread_start). */
	if (cvmm_sandbox_prepare(&sandbox, "microvm", sandbox_threads,
				 CVMM_ARRAY_SIZE(sandbox_threads), cfg.seccomp,
				 cfg.seccomp_filter, err, sizeof(err))) {
		fprintf(stderr, "cvmm-microvm: %s\n", err);
		return 1;
	}
	m.sandbox = &sandbox;

	/* SIGTERM/SIGINT arrive through a signalfd on the control loop; the
	 * VM's threads inherit the blocked mask and never see them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);

	ret = setup(&m, err, sizeof(err));
	if (!ret)
		ret = microvm_input_init(&in, m.vmm, sfd, cfg.serial == SERIAL_STDIO);
	if (ret) {
		fprintf(stderr, "cvmm-microvm: %s\n", err[0] ? err : strerror(-ret));
		teardown(&m);
		cvmm_sandbox_fini(&sandbox);
		return 1;
	}
	if (cvmm_vmm_start(m.vmm)) {
		fprintf(stderr, "cvmm-microvm: cannot start vCPU threads\n");
		teardown(&m);
		cvmm_sandbox_fini(&sandbox);
		return 3;
	}
	if (cfg.serial == SERIAL_STDIO)
		tty_make_raw();
	/* The main thread confines itself last, once everything is set up. */
	if (cvmm_sandbox_install(&sandbox, "vmm")) {
		fprintf(stderr, "cvmm-microvm: cannot install the seccomp filter of the main thread\n");
		cvmm_vmm_request_stop(m.vmm, CVMM_VMM_STOP_HOST_ERROR, 3);
	}
	cvmm_vmm_run(m.vmm);
	tty_restore();
	status = exit_status(m.vmm);
	teardown(&m);
	cvmm_close(sfd);
	cvmm_sandbox_fini(&sandbox);
	return status;
}
