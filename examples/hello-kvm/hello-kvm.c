/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hello-kvm: run a cvmm test guest (tests/guests) on KVM with N vCPUs and
 * exit with the guest's exit code. Uses sys-util, vm-memory and
 * kvm-ioctls, and for its seccomp filters (one for the main thread, one for
 * the vCPU threads) the examples' sandbox library and the seccomp crate.
 *
 * Exit status: the guest's code (its low 8 bits) when it exits through the
 * debug-exit port; 2 after a triple fault; 3 after --timeout; 1 for usage
 * and internal errors.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cvmm/sys-util.h>

#include "sandbox.h"
#include "vm.h"

#define EXIT_FAULT 2
#define EXIT_TIMEOUT 3

static const char usage[] =
	"Usage: hello-kvm [OPTIONS] GUEST.img\n"
	"Run a cvmm test guest and exit with its exit code.\n"
	"\n"
	"  -c, --cpus N           vCPUs, 1-%u (default 1)\n"
	"  -m, --memory SIZE      guest RAM, e.g. 128M, 4G (default 128M)\n"
	"  -d, --dirty-log MODE   track guest writes: log, clear or ring; the dirty\n"
	"                         pages are reported on stderr at every sync-port\n"
	"                         write and at exit\n"
	"      --dirty-list       with --dirty-log: also list each dirty page\n"
	"  -a, --arg I=VALUE      boot info args[I] (I in 0-3; VALUE in C syntax)\n"
	"  -t, --timeout SECONDS  stop a guest that has not exited by then (status 3)\n"
	"  -v, --verbose          report how the guest ended on stderr\n"
	"      --seccomp MODE     on (default: a forbidden syscall ends the VM with a\n"
	"                         message naming it, exit 159), log or off\n"
	"      --seccomp-filter FILE\n"
	"                         per-thread filters (main, vcpu) from a Firecracker-\n"
	"                         format JSON file instead of the built-in ones\n"
	"  -h, --help             this text\n"
	"\n"
	"Exit status: the guest's code (low 8 bits); 2 after a triple fault;\n"
	"3 after --timeout; 1 for errors. CVMM_T0_NS=<CLOCK_MONOTONIC ns> in\n"
	"the environment makes it print start-up timings relative to that instant.\n";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("hello-kvm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t parse_u64(const char *what, const char *s, uint64_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v > max)
		die("invalid %s '%s'", what, s);
	return v;
}

static const char *load_error(int err)
{
	switch (err) {
	case -ENOEXEC:
		return "not a cvmm guest image (too short or bad magic)";
	case -EOPNOTSUPP:
		return "unsupported image version or flags";
	case -EINVAL:
		return "malformed image header (sizes, entry point or alignment)";
	case -EFAULT:
		return "the image does not fit in guest RAM (try a larger --memory)";
	case -EFBIG:
		return "file too large for a test guest";
	default:
		return strerror(-err);
	}
}

struct dirty_report {
	unsigned int round;
	bool list;
};

/* What the VM's hooks get as their opaque. */
struct hello {
	struct dirty_report dr;
	struct cvmm_sandbox sb;
};

static void print_page(uint64_t gpa, void *opaque)
{
	fprintf(stderr, "dirty 0x%" PRIx64 "\n", gpa);
}

static int report_dirty(struct hk_vm *vm, const char *when, struct dirty_report *r)
{
	long n = hk_vm_dirty_collect(vm, r->list ? print_page : NULL, NULL);

	if (n < 0)
		return (int)n;
	fprintf(stderr, "dirty-log %s %u: %ld pages\n", when, r->round++, n);
	return 0;
}

static int on_sync(struct hk_vm *vm, uint32_t cpu, uint8_t value, void *opaque)
{
	return report_dirty(vm, "sync", &((struct hello *)opaque)->dr);
}

/* Each vCPU thread before its first KVM_RUN, the main thread once they all
 * run: the thread confines itself (fail closed: an error stops the VM). */
static int on_thread_start(struct hk_vm *vm, uint32_t cpu, void *opaque)
{
	struct hello *h = opaque;

	(void)vm;
	return cvmm_sandbox_install(&h->sb, cpu == HK_MAIN_THREAD ? "main" : "vcpu");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cpus", required_argument, NULL, 'c' },
		{ "memory", required_argument, NULL, 'm' },
		{ "dirty-log", required_argument, NULL, 'd' },
		{ "dirty-list", no_argument, NULL, 'L' },
		{ "arg", required_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "seccomp", required_argument, NULL, 'S' },
		{ "seccomp-filter", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hk_vm_opts o = { .sz = sizeof(o), .ncpus = 1, .mem_size = 128ull << 20 };
	static const char *const threads[] = { "main", "vcpu" };
	/* stdout gets its buffer now: a vCPU thread's first serial byte must
	 * not allocate one (and fstat) under its filter. */
	static char outbuf[BUFSIZ];
	struct hello h = { 0 };
	enum cvmm_sandbox_mode seccomp = CVMM_SANDBOX_ON;
	const char *filter = NULL;
	char err[512] = "";
	const char *t0_env = getenv("CVMM_T0_NS");
	uint64_t t0 = 0, t_main = cvmm_now_ns(), t_created, t_loaded;
	bool verbose = false;
	struct hk_result res;
	struct hk_vm *vm;
	int c, ret;

	if (t0_env)
		t0 = parse_u64("CVMM_T0_NS", t0_env, UINT64_MAX);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:m:d:a:t:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.ncpus = (uint32_t)parse_u64("vCPU count", optarg, CVMM_GUEST_MAX_CPUS);
			if (!o.ncpus)
				die("invalid vCPU count '%s'", optarg);
			break;
		case 'm':
			if (cvmm_parse_size(optarg, &o.mem_size) || o.mem_size < (16ull << 20) ||
			    o.mem_size % (2ull << 20))
				die("invalid memory size '%s' (a 2 MiB multiple, at least 16M)",
				    optarg);
			break;
		case 'd':
			if (hk_dirty_mode_parse(optarg, &o.dirty))
				die("invalid dirty-log mode '%s' (log, clear or ring)", optarg);
			break;
		case 'L':
			h.dr.list = true;
			break;
		case 'a': {
			char *eq = strchr(optarg, '=');
			uint64_t i;

			if (!eq || eq == optarg)
				die("invalid --arg '%s' (want I=VALUE)", optarg);
			*eq = '\0';
			i = parse_u64("argument index", optarg, CVMM_GUEST_NUM_ARGS - 1);
			o.args[i] = parse_u64("argument value", eq + 1, UINT64_MAX);
			break;
		}
		case 't':
			o.timeout_ms = (uint32_t)(parse_u64("timeout", optarg, 86400) * 1000);
			if (!o.timeout_ms)
				die("invalid timeout '%s' (1-86400 seconds)", optarg);
			break;
		case 'v':
			verbose = true;
			break;
		case 'S':
			if (cvmm_sandbox_parse_mode(optarg, &seccomp))
				die("--seccomp: '%s' is not on, log or off", optarg);
			break;
		case 'F':
			filter = optarg;
			break;
		case 'h':
			printf(usage, CVMM_GUEST_MAX_CPUS);
			return 0;
		case ':':
			die("option '%s' needs a value (see --help)", argv[optind - 1]);
		default:
			die("unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		die(optind == argc ? "no guest image given (see --help)"
				   : "more than one guest image given");
	cvmm_log_set_sink(cvmm_log_stderr_sink, NULL);
	cvmm_log_set_level(CVMM_LOG_WARN);
	setvbuf(stdout, outbuf, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, sizeof(outbuf));
	o.serial = stdout;
	if (o.dirty != HK_DIRTY_NONE)
		o.on_sync = on_sync;
	o.opaque = &h;
	/* Compiled before any vCPU thread exists. */
	if (cvmm_sandbox_prepare(&h.sb, "hello-kvm", threads, CVMM_ARRAY_SIZE(threads), seccomp,
				 filter, err, sizeof(err)))
		die("%s", err);
	o.on_thread_start = on_thread_start;
	ret = hk_vm_create(&o, &vm);
	if (ret)
		die("cannot create the VM: %s", strerror(-ret));
	t_created = cvmm_now_ns();
	ret = hk_vm_load(vm, argv[optind]);
	if (ret)
		die("cannot load '%s': %s", argv[optind], load_error(ret));
	t_loaded = cvmm_now_ns();
	ret = hk_vm_run(vm, &res);
	if (ret)
		die("cannot run the VM: %s", strerror(-ret));
	if (o.dirty != HK_DIRTY_NONE && res.outcome == HK_EXITED) {
		ret = report_dirty(vm, "exit", &h.dr);
		if (ret)
			die("dirty-log harvest failed: %s", strerror(-ret));
	}
	if (t0) {
		fprintf(stderr, "timing: main-us %.1f\n", (double)(t_main - t0) / 1e3);
		fprintf(stderr, "timing: vm-created-us %.1f\n", (double)(t_created - t0) / 1e3);
		fprintf(stderr, "timing: loaded-us %.1f\n", (double)(t_loaded - t0) / 1e3);
		if (res.marker_ns)
			fprintf(stderr, "timing: first-instruction-us %.1f\n",
				(double)(res.marker_ns - t0) / 1e3);
		fprintf(stderr, "timing: exit-us %.1f\n", (double)(res.exit_ns - t0) / 1e3);
	}
	hk_vm_destroy(vm);
	cvmm_sandbox_fini(&h.sb);
	switch (res.outcome) {
	case HK_EXITED:
		if (verbose)
			fprintf(stderr, "hello-kvm: guest exited with code %u (vCPU %u)\n",
				res.code, res.cpu);
		return (int)(res.code & 0xff);
	case HK_TIMEOUT:
		fprintf(stderr, "hello-kvm: guest timed out: %s\n", res.what);
		return EXIT_TIMEOUT;
	case HK_SHUTDOWN:
		fprintf(stderr, "hello-kvm: guest triple fault (shutdown) on vCPU %u at RIP 0x%" PRIx64 "\n",
			res.cpu, res.rip);
		return EXIT_FAULT;
	default:
		fprintf(stderr, "hello-kvm: vCPU %u: %s: %s\n", res.cpu, res.what,
			strerror(-res.error));
		return 1;
	}
}
