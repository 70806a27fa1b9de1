/* SPDX-License-Identifier: Apache-2.0 */
/* Command-line parsing in the style of Cloud Hypervisor and Firecracker:
 * long options only, every value checked, one clear line per mistake. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

enum { OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_CPUS, OPT_MEMORY, OPT_SERIAL,
       OPT_LOG_LEVEL, OPT_BOOT_TIMER, OPT_HELP, OPT_VERSION,
       OPT_DISK, OPT_CONSOLE, OPT_RNG, OPT_GUEST_ARG, OPT_NET, OPT_VSOCK, OPT_SECCOMP, OPT_SECCOMP_FILTER };

/* management (the API, config files, events) */
enum { OPT_API_SOCKET = 500, OPT_CONFIG, OPT_EVENT_MONITOR };

/* vhost-user options (virtio-devices' vhost-user device) */
enum { OPT_FS = 400, OPT_VHOST_USER };

/* PCI */
enum { OPT_PCI = 600, OPT_BALLOON, OPT_TRANSPORT };

static const struct option options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "boot-timer", no_argument, NULL, OPT_BOOT_TIMER },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "rng", optional_argument, NULL, OPT_RNG },
	{ "pci", no_argument, NULL, OPT_PCI },
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ "balloon", required_argument, NULL, OPT_BALLOON },
	{ "guest-arg", required_argument, NULL, OPT_GUEST_ARG },
	{ "net", required_argument, NULL, OPT_NET },
	{ "vsock", required_argument, NULL, OPT_VSOCK },
	{ "fs", required_argument, NULL, OPT_FS },
	{ "vhost-user", required_argument, NULL, OPT_VHOST_USER },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "seccomp-filter", required_argument, NULL, OPT_SECCOMP_FILTER },
	{ "api-socket", required_argument, NULL, OPT_API_SOCKET },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "event-monitor", required_argument, NULL, OPT_EVENT_MONITOR },
	{ NULL, 0, NULL, 0 },
};

void microvm_usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"Usage: %s --kernel PATH [options]\n"
		"       %s --config FILE.json [options]\n"
		"       %s --api-socket PATH [--kernel PATH [options]]\n"
		"Boot a Linux kernel (ELF vmlinux with or without PVH note, or bzImage) or a cvmm test guest.\n"
		"\n"
		"  --kernel PATH          kernel image to boot (required without --api-socket\n"
		"                         or --config)\n"
		"  --api-socket PATH      serve Cloud Hypervisor's REST API on a unix socket\n"
		"                         (also path=PATH or fd=N); without --kernel the VMM\n"
		"                         starts empty and waits for vm.create (docs/api.md)\n"
		"  --config FILE.json     the VM from a VmConfig file (the JSON of vm.create)\n"
		"  --event-monitor path=FILE|fd=N\n"
		"                         one JSON object a line for each lifecycle event\n"
		"  --initrd PATH          initial ramdisk\n"
		"  --cmdline STR          kernel command line (default: \"%s\")\n"
		"  --cpus N               number of vCPUs, 1-%d (default 1)\n"
		"  --memory SIZE          guest RAM, e.g. 512M or 2G (default 128M)\n"
		"  --memory size=SIZE,hotplug_method=virtio-mem,hotplug_size=SIZE[,hotplugged_size=SIZE]\n"
		"                         RAM plus a virtio-mem region of whole 2 MiB blocks;\n"
		"                         vm.resize desired_ram (RAM + plugged) drives it\n"
		"  --serial MODE          stdio, file=PATH or off (default stdio)\n"
		"  --log-level LEVEL      error, warn, info, debug or trace (default warn)\n"
		"  --boot-timer           print the time since start at each guest write to port 0x80\n"
		"  --disk path=FILE[,readonly=on][,direct=on][,rate=OPS][,bandwidth=SIZE]\n"
		"                         a virtio-blk disk over a raw image (repeatable);\n"
		"                         rate: requests/s, bandwidth: bytes/s\n"
		"  --console MODE         a virtio-console on stdio or file=PATH\n"
		"  --rng [transport=T][,iommu=on]\n"
		"                         a virtio-rng device\n"
		"  --balloon size=SIZE[,deflate_on_oom=on][,free_page_reporting=on]\n"
		"                         a virtio-balloon asking SIZE back (vm.resize changes it);\n"
		"                         free_page_reporting: the guest's free pages go back too\n"
		"  --transport pci|mmio   the transport of every device that names none (default\n"
		"                         pci: a PCI segment with host bridge, ECAM and BAR\n"
		"                         windows; devices hotplug into the running guest); each\n"
		"                         device option takes its own ,transport=pci|mmio\n"
		"  --pci                  a PCI segment even when every device is on mmio\n"
		"                         --disk, --net, --vsock and --rng take ,iommu=on: the\n"
		"                         device sits behind a virtio-iommu (PCI; ACPI VIOT) and\n"
		"                         reaches only the memory the guest maps for it\n"
		"  --net tap=NAME[,mac=MAC][,queues=N]\n"
		"                         a virtio-net card on a TAP device (repeatable)\n"
		"  --vsock cid=N,socket=PATH\n"
		"                         virtio-vsock; guest connections appear on unix sockets\n"
		"  --disk vhost_user=on,socket=PATH[,queues=N][,reconnect=SECS]\n"
		"  --net vhost_user=on,socket=PATH[,queues=N][,reconnect=SECS]\n"
		"  --fs tag=TAG,socket=PATH[,queues=N][,reconnect=SECS]\n"
		"  --vhost-user type=ID,socket=PATH[,queues=N][,reconnect=SECS]\n"
		"                         a device served by a vhost-user backend; guest RAM\n"
		"                         becomes a shared memfd. A backend that hangs up makes\n"
		"                         the device need a reset, or with reconnect=SECS is\n"
		"                         retried every SECS seconds\n"
		"  --guest-arg I=VALUE    boot info args[I] (0-3) of a test guest image\n"
		"  -h, --help             this text\n"
		"  --seccomp MODE         on (default: a forbidden syscall ends the VM with a\n"
		"                         message naming it, exit 159), log or off\n"
		"  --seccomp-filter FILE  per-thread filters (vmm, vcpu, virtio) from a\n"
		"                         Firecracker-format JSON file instead of the built-in ones\n"
		"  -V, -v, --version      print the version\n"
		"\n"
		"Exit status: 0 when the guest powers off or resets; the value the guest\n"
		"wrote to the debug-exit port (0xf4); 1 for a bad command line or\n"
		"configuration; 2 when the guest crashed (triple fault, internal error);\n"
		"3 for a host-side failure; 143 after SIGTERM.\n",
		argv0, argv0, argv0, CVMM_VM_DEFAULT_CMDLINE, CVMM_VM_MAX_CPUS);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int microvm_config_parse(int argc, char **argv, struct microvm_config *c,
			 char *err, size_t errlen)
{
	int opt, ret = 0;

	memset(c, 0, offsetof(struct microvm_config, vm));
	c->log_level = CVMM_LOG_WARN;
	c->api_fd = -1;
	c->event_monitor_fd = -1;
	cvmm_vm_config_init(&c->vm);
	opterr = 0;
	optind = 1;
	/* The short forms people try first: -h for help, -V/-v for the version. */
	while ((opt = getopt_long(argc, argv, "hVv", options, NULL)) != -1) {
		switch (opt) {
		case OPT_KERNEL:
			c->vm.kernel = optarg;
			break;
		case OPT_INITRD:
			c->vm.initrd = optarg;
			break;
		case OPT_CMDLINE:
			c->vm.cmdline = optarg;
			break;
		case OPT_CPUS:
			ret = cvmm_vm_parse_cpus(&c->vm, optarg, err, errlen);
			break;
		case OPT_MEMORY:
			ret = cvmm_vm_parse_memory(&c->vm, optarg, err, errlen);
			break;
		case OPT_SERIAL:
			ret = cvmm_vm_parse_serial(&c->vm, optarg, err, errlen);
			break;
		case OPT_LOG_LEVEL:
			if (cvmm_log_level_parse(optarg, &c->log_level))
				return fail(err, errlen,
					    "--log-level: '%s' is not error, warn, info, debug or trace", optarg);
			break;
		case OPT_BOOT_TIMER:
			c->vm.boot_timer = true;
			break;
		case OPT_DISK:
			ret = cvmm_vm_parse_disk(&c->vm.dev, optarg, err, errlen);
			break;
		case OPT_CONSOLE:
			ret = cvmm_vm_parse_console(&c->vm.dev, optarg, err, errlen);
			break;
		case OPT_RNG:
			/* "--rng transport=pci" as the other options are written:
			 * the value may be the next word. */
			if (!optarg && optind < argc && (!strncmp(argv[optind], "transport=", 10) ||
							 !strncmp(argv[optind], "iommu=", 6)))
				optarg = argv[optind++];
			ret = cvmm_vm_parse_rng(&c->vm.dev, optarg, err, errlen);
			break;
		case OPT_PCI:
			c->vm.dev.pci = true;
			break;
		case OPT_TRANSPORT:
			ret = cvmm_vm_parse_transport(&c->vm.dev, optarg, err, errlen);
			break;
		case OPT_BALLOON:
			ret = cvmm_vm_parse_balloon(&c->vm.dev, optarg, err, errlen);
			break;
		case OPT_NET:
			ret = cvmm_vm_parse_net(&c->vm.dev, optarg, err, errlen);
			break;
		case OPT_FS:
			ret = cvmm_vm_parse_vhost(&c->vm.dev, "--fs", CVMM_VM_VIRTIO_ID_FS, optarg, err,
						errlen);
			break;
		case OPT_VHOST_USER:
			ret = cvmm_vm_parse_vhost(&c->vm.dev, "--vhost-user", 0, optarg, err, errlen);
			break;
		case OPT_VSOCK:
			ret = cvmm_vm_parse_vsock(&c->vm.dev, optarg, err, errlen);
			break;
		case OPT_GUEST_ARG:
			ret = cvmm_vm_parse_guest_arg(&c->vm.dev, optarg, err, errlen);
			break;
		case 'h':
		case OPT_HELP:
			c->help = true;
			return 0;
		case OPT_SECCOMP:
			if (cvmm_sandbox_parse_mode(optarg, &c->seccomp))
				return fail(err, errlen, "--seccomp: '%s' is not on, log or off", optarg);
			break;
		case OPT_SECCOMP_FILTER:
			c->seccomp_filter = optarg;
			break;
		case 'V':
		case 'v':
		case OPT_VERSION:
			c->version = true;
			return 0;
		case OPT_API_SOCKET:
			ret = cvmm_vm_parse_path_or_fd("--api-socket", optarg, true, &c->api_socket,
						       &c->api_fd, err, errlen);
			break;
		case OPT_CONFIG:
			c->config_file = optarg;
			break;
		case OPT_EVENT_MONITOR:
			ret = cvmm_vm_parse_path_or_fd("--event-monitor", optarg, false,
						       &c->event_monitor, &c->event_monitor_fd, err,
						       errlen);
			break;
		case ':':
			return fail(err, errlen, "%s: needs a value", argv[optind - 1]);
		default:
			/* getopt sets optopt to the option's value when its
			 * argument is missing (ours are all >= 256), to the
			 * character of an unknown short option, 0 otherwise. */
			if (optopt >= OPT_KERNEL)
				return fail(err, errlen, "%s: needs a value", argv[optind - 1]);
			if (optopt)
				return fail(err, errlen, "unknown option '-%c' (see --help)", optopt);
			return fail(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
		}
		if (ret)
			return -EINVAL;
	}
	if (optind < argc)
		return fail(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
	if (c->config_file && c->vm.kernel)
		return fail(err, errlen, "--config: the file names the kernel; drop --kernel");
	if (!c->vm.kernel && !c->config_file && !c->api_socket && c->api_fd < 0)
		return fail(err, errlen, "--kernel: missing; a kernel or test guest image is required");
	return cvmm_vm_config_finish(&c->vm, err, errlen);
}

