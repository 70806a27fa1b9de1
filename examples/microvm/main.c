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

#include <json-c/json.h>

#include "input.h"
#include "microvm.h"
#include "snapshot.h"

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

/* --event-monitor without the API: the VM's events, as the API reports them. */
static int monitor_fd = -1;

static void monitor_event(void *opaque, const struct cvmm_vmm_event *ev)
{
	struct microvm *m = opaque;
	const char *src, *name = microvm_event_name(ev, &src);

	if (name)
		microvm_event_monitor_write(monitor_fd, m->t0_ns, src, name, ev->id);
}

/* --config FILE.json: a VmConfig, as vm.create takes it. */
static int load_vmconfig(struct microvm_config *c, struct json_object **out, char *err,
			 size_t errlen)
{
	struct json_object *j = json_object_from_file(c->config_file);
	char why[400];

	if (!j) {
		snprintf(err, errlen, "--config: '%s': %s", c->config_file,
			 json_util_get_last_err() ? json_util_get_last_err() : "not JSON");
		err[strcspn(err, "\n")] = '\0';
		return -EINVAL;
	}
	if (microvm_vmconfig_parse(j, c, why, sizeof(why))) {
		snprintf(err, errlen, "--config: '%s': %s", c->config_file, why);
		json_object_put(j);
		return -EINVAL;
	}
	*out = j;
	return 0;
}

struct run_ctx {
	struct microvm *m;
	struct cvmm_sandbox *sandbox;
};

/* Start the vCPUs, then confine the main thread (last, once set up). */
static int start_vm(struct run_ctx *c)
{
	if (cvmm_vmm_start(c->m->vmm)) {
		fprintf(stderr, "cvmm-microvm: cannot start vCPU threads\n");
		return 3;
	}
	c->m->snap->started = true;
	if (c->m->snap->source)
		CVMM_LOG(CVMM_LOG_INFO, "microvm", "restored VM running %.3f ms after exec",
			 (cvmm_now_ns() - c->m->t0_ns) / 1e6);
	if (c->m->cfg->serial == SERIAL_STDIO)
		tty_make_raw();
	if (cvmm_sandbox_install(c->sandbox, "vmm")) {
		fprintf(stderr, "cvmm-microvm: cannot install the seccomp filter of the main thread\n");
		cvmm_vmm_request_stop(c->m->vmm, CVMM_VMM_STOP_HOST_ERROR, 3);
	}
	return 0;
}

/* SIGUSR1 snapshots, SIGUSR2 resumes (or starts a VM restored with resume=off). */
static void on_user_signal(void *opaque, int signo)
{
	struct run_ctx *c = opaque;

	if (microvm_snap_signal(c->m->snap, c->m->vmm, c->m->cfg, signo) && start_vm(c))
		cvmm_vmm_request_stop(c->m->vmm, CVMM_VMM_STOP_HOST_ERROR, 3);
}

/* One way out: whatever was set up is undone in reverse, on every path. */
int main(int argc, char **argv)
{
	static const char *const sandbox_threads[] = { "vmm", "vcpu", "virtio", "api",
							       "migration", "uffd", "fill" };
	struct microvm m = { .t0_ns = process_start_ns(), .serial_out = -1, .con_out = -1 };
	struct cvmm_sandbox sandbox;
	struct microvm_config cfg;
	struct microvm_outputs outs;
	struct microvm_input in;
	struct microvm_snap snap;
	struct run_ctx rc = { .m = &m };
	struct json_object *vmconfig = NULL;
	bool sandbox_ready = false, vm_made = false;
	char err[512] = "";
	int sfd = -1, evfd = -1, status = 1, ret;
	sigset_t sigs;

	/* --snapshot/--restore first: a restore's configuration is the
	 * snapshot's stored arguments with this command line's overrides. */
	if (microvm_snap_args(&snap, argc, argv, err, sizeof(err)) ||
	    microvm_config_parse(snap.argc, snap.argv, &cfg, err, sizeof(err))) {
		fprintf(stderr, "cvmm-microvm: %s%s\n", snap.source && snap.argv ? "restore: " : "",
			err);
		goto out;
	}
	m.snap = &snap;
	if (cfg.help || cfg.version) {
		if (cfg.help) {
			microvm_usage(stdout, argv[0]);
			microvm_snap_usage(stdout);
		} else {
			printf("cvmm-microvm %s\n", PACKAGE_VERSION);
		}
		status = 0;
		goto out;
	}
	cvmm_log_set_level(cfg.log_level);
	cvmm_log_set_sink(log_sink, NULL);
	m.cfg = &cfg;
	if (cfg.config_file && load_vmconfig(&cfg, &vmconfig, err, sizeof(err))) {
		fprintf(stderr, "cvmm-microvm: %s\n", err);
		goto out;
	}

	/* The files a VM reads are looked at before any file is created (a
	 * restore does not read the kernel; an API server has no VM yet). */
	if (!cfg.api_socket && cfg.api_fd < 0 &&
	    microvm_config_check_files(&cfg, !snap.source, err, sizeof(err))) {
		fprintf(stderr, "cvmm-microvm: %s\n", err);
		goto out;
	}

	/* Filters are compiled before any thread exists; each thread type
	 * installs its own as it starts (the VM core calls thread_start). */
	if (cvmm_sandbox_prepare(&sandbox, "microvm", sandbox_threads,
				 CVMM_ARRAY_SIZE(sandbox_threads), cfg.seccomp,
				 cfg.seccomp_filter, err, sizeof(err))) {
		fprintf(stderr, "cvmm-microvm: %s\n", err);
		goto out;
	}
	sandbox_ready = true;
	m.sandbox = &sandbox;

	/* SIGTERM/SIGINT (stop) and SIGUSR1/SIGUSR2 (snapshot, start) arrive
	 * through a signalfd on the control loop; the VM's threads inherit
	 * the blocked mask and never see them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);

	if (cfg.api_socket || cfg.api_fd >= 0) {
		status = microvm_api_main(&m, sfd);
		goto out;
	}
	microvm_outputs_note(&outs, &cfg);
	evfd = microvm_event_monitor_open(&cfg, err, sizeof(err));
	if (err[0]) {
		fprintf(stderr, "cvmm-microvm: %s\n", err);
		goto out;
	}
	if (evfd >= 0) {
		m.on_event = monitor_event;
		m.event_opaque = &m;
		monitor_fd = evfd;
	}
	snap.evfd = evfd;
	snap.t0_ns = m.t0_ns;
	vm_made = true;
	ret = microvm_vm_create(&m, err, sizeof(err));
	if (!ret)
		ret = microvm_input_init(&in, m.vmm, sfd, cfg.serial == SERIAL_STDIO);
	if (ret) {
		fprintf(stderr, "cvmm-microvm: %s%s\n", snap.source ? "restore: " : "",
			err[0] ? err : strerror(-ret));
		microvm_outputs_remove(&outs);
		goto out;
	}
	in.user_signal = on_user_signal;
	in.user_opaque = &rc;
	rc.sandbox = &sandbox;
	/* A restore without resume=on waits for SIGUSR2. */
	if (snap.started && (status = start_vm(&rc))) {
		microvm_outputs_remove(&outs);
		goto out;
	}
	cvmm_vmm_run(m.vmm);
	tty_restore();
	status = microvm_exit_status(m.vmm);
out:
	if (vm_made)
		microvm_vm_destroy(&m);
	cvmm_close(sfd);
	if (evfd >= 0 && evfd != cfg.event_monitor_fd)
		close(evfd);
	if (sandbox_ready)
		cvmm_sandbox_fini(&sandbox);
	json_object_put(vmconfig);
	microvm_snap_fini(&snap);
	return status;
}
