/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm-microvm: boot a kernel or test guest on the vmm crate, a recipe:
 * parse the flags into the crate's VM configuration, prepare the sandbox,
 * build the VM (cvmm/vmm/vm.h) or serve the API (cvmm/vmm/api.h), and run
 * the control loop (host input, signals) on the main thread; each vCPU,
 * the device loop, the API and migrations have threads of their own, each
 * under its own seccomp filter.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <json-c/json.h>

#include <cvmm/vmm/api.h>
#include <cvmm/vmm/snap.h>
#ifdef CVMM_MICROVM_TLS
#include <cvmm/migration-tls.h>
#endif

#include "config.h"
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

/* What the VM's hooks need. */
struct microvm {
	struct cvmm_vm vm;
	struct microvm_config cfg;
	struct cvmm_sandbox sandbox;
	struct cvmm_vm_snap snap;
	int evfd;               /* --event-monitor, or -1 */
};

static int thread_start(void *opaque, const char *type, unsigned int index)
{
	struct microvm *m = opaque;

	(void)index;
	return cvmm_sandbox_install(&m->sandbox, type);
}

/* A vCPU crash prints the registers in one block, so vCPUs crashing
 * together do not interleave; without the API, --event-monitor hears every
 * event (the API layer reports them itself). */
static void on_event(void *opaque, const struct cvmm_vmm_event *ev)
{
	struct microvm *m = opaque;
	const char *src, *name;

	if (ev->type == CVMM_VMM_EV_VCPU_CRASH)
		fprintf(stderr, "cvmm-microvm: vCPU %d: %s\n", ev->vcpu, ev->detail);
	if (m->cfg.api_socket || m->cfg.api_fd >= 0 || !(name = cvmm_vm_event_name(ev, &src)))
		return;
	cvmm_vm_event_monitor_write(m->evfd, m->vm.t0_ns, src, name, ev->id);
}

static void post_code(void *opaque, uint8_t code, uint64_t ns)
{
	(void)opaque;
	fprintf(stderr, "cvmm-microvm: boot-timer: post code 0x%02x at %llu.%03llu ms\n", code,
		(unsigned long long)(ns / 1000000), (unsigned long long)(ns / 1000 % 1000));
}

/* A snapshot's stored command line back into a VM configuration. */
static int parse_args(void *opaque, int argc, char **argv, struct cvmm_vm_config *c, char *err,
		      size_t errlen)
{
	struct microvm_config mc;
	int ret = microvm_config_parse(argc, argv, &mc, err, errlen);

	(void)opaque;
	if (!ret)
		*c = mc.vm;
	return ret;
}

static const char *const no_value[] = { "boot-timer", "rng", "help", "version", NULL };
static const char *const positional[] = { "disk", "net", "vsock", "fs", "vhost-user", NULL };
static const struct cvmm_vm_snap_spec snap_spec = {
	.args_key = "cvmm-microvm", .no_value = no_value, .positional = positional,
	.parse_args = parse_args,
};

static void snap_usage(FILE *f)
{
	fprintf(f,
		"\nSnapshots (docs/snapshot.md):\n"
		"  --snapshot destination_url=file:///DIR[,snapshot_type=Full|Diff]\n"
		"             [,then=pause|resume|exit]\n"
		"                         on SIGUSR1 pause the VM and write a snapshot to DIR;\n"
		"                         then stay paused (SIGUSR2 resumes), resume or exit.\n"
		"                         With snapshot_type=Diff the first is a full base and\n"
		"                         snapshot N after it a diff of what changed, in DIR.N\n"
		"  --restore source_url=file:///DIR[,memory_restore_mode=Copy|OnDemand|Shared]\n"
		"            [,resume=on][,prefault=on][,clock=realtime][,diff_urls=[file:///D1,...]]\n"
		"                         restore the snapshot in DIR instead of booting; flags\n"
		"                         given with it replace the stored ones (--serial,\n"
		"                         --console; --disk, --net, --vsock by position), so\n"
		"                         clones get their own TAPs, sockets and files. Without\n"
		"                         resume=on the VM waits for SIGUSR2\n");
}

/* The main thread's filter: with diff snapshots it also tracks dirty pages. */
static const char *main_filter(const struct microvm *m)
{
	return m->snap.chain ? "vmm-diff" : "vmm";
}

/* Start the vCPUs, then confine the main thread (last, once set up). */
static int start_vm(struct microvm *m)
{
	if (cvmm_vmm_start(m->vm.vmm)) {
		fprintf(stderr, "cvmm-microvm: cannot start vCPU threads\n");
		return 3;
	}
	m->snap.started = true;
	if (m->snap.source)
		CVMM_LOG(CVMM_LOG_INFO, "microvm", "restored VM running %.3f ms after exec",
			 (cvmm_now_ns() - m->vm.t0_ns) / 1e6);
	if (m->cfg.vm.serial == CVMM_VM_SERIAL_STDIO)
		tty_make_raw();
	/* What setting up freed (filter compilation, parsing) goes back to
	 * the host: it is most of the heap a running VM would keep. */
	malloc_trim(0);
	if (cvmm_sandbox_install(&m->sandbox, main_filter(m))) {
		fprintf(stderr, "cvmm-microvm: cannot install the seccomp filter of the main thread\n");
		cvmm_vmm_request_stop(m->vm.vmm, CVMM_VMM_STOP_HOST_ERROR, 3);
	}
	return 0;
}

/* SIGTERM/SIGINT stop the VM with 128 + the signal; SIGUSR1 snapshots
 * (--snapshot); SIGUSR2 resumes a paused VM or starts one restored with
 * resume=off. */
static void on_signal(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct microvm *m = opaque;
	struct cvmm_vmm *vmm = m->vm.vmm;
	struct signalfd_siginfo si;
	char msg[600];

	(void)em;
	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGUSR2 && cvmm_vmm_state(vmm) == CVMM_VMM_CREATED && !m->snap.started) {
		if (start_vm(m))
			cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_HOST_ERROR, 3);
	} else if (si.ssi_signo == SIGUSR1 && !m->snap.dest) {
		fprintf(stderr, "cvmm-microvm: SIGUSR1: no --snapshot destination\n");
	} else if (si.ssi_signo == SIGUSR1) {
		cvmm_vm_snap_take(&m->snap, vmm, &m->cfg.vm, msg, sizeof(msg));
		fprintf(stderr, "cvmm-microvm: %s\n", msg);
	} else if (si.ssi_signo == SIGUSR2) {
		if (cvmm_vmm_state(vmm) == CVMM_VMM_PAUSED)
			cvmm_vmm_resume(vmm);
	} else {
		cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_REQUEST, 128 + (int)si.ssi_signo);
	}
}

/* --api-socket: the API serves (and with --restore restores, else with
 * --kernel or --config boots) the VM. */
static int serve_api(struct microvm *m, int sfd)
{
	struct cvmm_vm_api_opts o = {
		.sz = sizeof(o), .path = m->cfg.api_socket, .listen_fd = m->cfg.api_fd,
		.base = &m->cfg.vm, .boot = m->cfg.vm.kernel != NULL, .tmpl = &m->vm,
		.snap_spec = &snap_spec, .signal_fd = sfd, .event_fd = m->evfd,
		.version = PACKAGE_VERSION, .restore = &m->snap,
#ifdef CVMM_MICROVM_TLS
		.tls_wrap = cvmm_mig_tls_wrap,
#endif
	};
	char err[512] = "";
	int status = cvmm_vm_api_main(&o, err, sizeof(err));

	if (err[0])
		fprintf(stderr, "cvmm-microvm: %s\n", err);
	return status;
}

/* One way out: whatever was set up is undone in reverse, on every path. */
int main(int argc, char **argv)
{
	/* the API's threads only with --api-socket: each filter costs heap */
	const char *sandbox_threads[] = { "vmm", "vcpu", "virtio", "uffd", "fill", "api",
					  "migration" };
	static struct microvm m;  /* big (a VM configuration): not on the stack */
	struct microvm_config *cfg = &m.cfg;
	struct cvmm_vm_outputs outs;
	struct json_object *vmconfig = NULL;
	bool sandbox_ready = false;
	char err[512] = "";
	int sfd = -1, status = 1, ret;
	sigset_t sigs;

	m.vm = (struct cvmm_vm){ .cfg = &cfg->vm, .t0_ns = process_start_ns(), .opaque = &m,
				 .thread_start = thread_start, .on_event = on_event,
				 .post_code = post_code, .boot_image = microvm_boot_test_guest,
				 .snap = &m.snap, .serial_stdin = true, .serial_out = -1,
				 .con_out = -1 };
	m.evfd = -1;
	/* --snapshot/--restore first: a restore's configuration is the
	 * snapshot's stored arguments with this command line's overrides. */
	if (cvmm_vm_snap_args(&m.snap, &snap_spec, argc, argv, err, sizeof(err)) ||
	    microvm_config_parse(m.snap.argc, m.snap.argv, cfg, err, sizeof(err))) {
		fprintf(stderr, "cvmm-microvm: %s%s\n",
			m.snap.source && m.snap.argv ? "restore: " : "", err);
		goto out;
	}
	if (cfg->help || cfg->version) {
		if (cfg->help) {
			microvm_usage(stdout, argv[0]);
			snap_usage(stdout);
		} else {
			printf("cvmm-microvm %s\n", PACKAGE_VERSION);
		}
		status = 0;
		goto out;
	}
	cvmm_log_set_level(cfg->log_level);
	cvmm_log_set_sink(log_sink, NULL);
	if (cfg->config_file && cvmm_vm_config_from_file(cfg->config_file, "--config", &cfg->vm,
							 &vmconfig, err, sizeof(err))) {
		fprintf(stderr, "cvmm-microvm: %s\n", err);
		goto out;
	}

	/* The files a VM reads are looked at before any file is created (a
	 * restore does not read the kernel; an API server has no VM yet). */
	if (!cfg->api_socket && cfg->api_fd < 0 &&
	    cvmm_vm_config_check_files(&cfg->vm, !m.snap.source, err, sizeof(err))) {
		fprintf(stderr, "cvmm-microvm: %s\n", err);
		goto out;
	}

	/* Filters are compiled before any thread exists; each thread type
	 * installs its own as it starts (the VM core calls thread_start). */
	sandbox_threads[0] = main_filter(&m);
	if (cvmm_sandbox_prepare(&m.sandbox, "microvm", sandbox_threads,
				 cfg->api_socket || cfg->api_fd >= 0 ? 7 : 5, cfg->seccomp,
				 cfg->seccomp_filter, err, sizeof(err))) {
		fprintf(stderr, "cvmm-microvm: %s\n", err);
		goto out;
	}
	sandbox_ready = true;

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

	cvmm_vm_outputs_note(&outs, &cfg->vm, cfg->event_monitor_fd < 0 ? cfg->event_monitor : NULL);
	m.evfd = cvmm_vm_event_monitor_open(cfg->event_monitor, cfg->event_monitor_fd, err,
					    sizeof(err));
	if (err[0]) {
		fprintf(stderr, "cvmm-microvm: %s\n", err);
		goto out;
	}
	m.snap.evfd = m.evfd;
	m.snap.t0_ns = m.vm.t0_ns;
	if (cfg->api_socket || cfg->api_fd >= 0) {
		status = serve_api(&m, sfd);
		goto out;
	}
	/* The devices' ids as the API names them (cvmm_vm_devices_name(),
	 * then the core's counter from 0 for its own "__" devices): a VM of
	 * these flags, or restored from their snapshot, has the ids of its
	 * VmConfig, so a migration's destination (the API's VM of that
	 * VmConfig) and vm.restore find the same devices. */
	{
		unsigned int counter = 0;

		cvmm_vm_devices_name(&cfg->vm.dev, &counter);
	}
	ret = cvmm_vm_build(&m.vm, err, sizeof(err));
	if (!ret)
		ret = cvmm_event_manager_add(cvmm_vmm_event_manager(m.vm.vmm), sfd, EPOLLIN,
					     on_signal, &m);
	if (ret) {
		fprintf(stderr, "cvmm-microvm: %s%s\n", m.snap.source ? "restore: " : "",
			err[0] ? err : strerror(-ret));
		cvmm_vm_outputs_remove(&outs);
		goto out;
	}
	/* A restore without resume=on waits for SIGUSR2. */
	if (m.snap.started && (status = start_vm(&m))) {
		cvmm_vm_outputs_remove(&outs);
		goto out;
	}
	cvmm_vmm_run(m.vm.vmm);
	tty_restore();
	status = cvmm_vm_exit_status(m.vm.vmm);
out:
	cvmm_vm_teardown(&m.vm);
	cvmm_close(sfd);
	if (m.evfd >= 0 && m.evfd != cfg->event_monitor_fd)
		close(m.evfd);
	if (sandbox_ready)
		cvmm_sandbox_fini(&m.sandbox);
	json_object_put(vmconfig);
	cvmm_vm_snap_fini(&m.snap);
	return status;
}
