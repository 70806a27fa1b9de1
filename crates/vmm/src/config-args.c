/* SPDX-License-Identifier: Apache-2.0 */
/* Cloud Hypervisor-style option strings for a VM's devices (--disk, --net,
 * --console, ...): key=value lists checked field by field, so a mistake is
 * reported before anything is opened. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices.h>

#include <cvmm/vmm/config.h>

#include "vm-internal.h"

#define fail(err, errlen, ...) cvmm_vm_errf(err, errlen, -EINVAL, __VA_ARGS__)

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_onoff(const char *s, bool *out)
{
	if (!strcmp(s, "on")) {
		*out = true;
		return 0;
	}
	if (!strcmp(s, "off")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

/* One field of a comma-separated list: its key and value, NUL-terminated in @buf. */
struct field {
	char *key;
	char *val;
};

#define MAX_FIELDS 8

static int split(char *buf, struct field *f, unsigned int *n, const char *opt,
		 char *err, size_t errlen)
{
	char *save = NULL;
	char *tok;

	*n = 0;
	if (!*buf)
		return fail(err, errlen, "%s: needs key=value fields", opt);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq || eq == tok)
			return fail(err, errlen, "%s: '%s' is not key=value", opt, tok);
		if (*n == MAX_FIELDS)
			return fail(err, errlen, "%s: too many fields", opt);
		*eq = '\0';
		for (unsigned int i = 0; i < *n; i++)
			if (!strcmp(f[i].key, tok))
				return fail(err, errlen, "%s: %s: given twice", opt, tok);
		if (!eq[1])
			return fail(err, errlen, "%s: %s: empty value", opt, tok);
		f[*n].key = tok;
		f[*n].val = eq + 1;
		(*n)++;
	}
	return 0;
}

static int check_fields(const char *opt, const char *arg, char *err, size_t errlen);

static int parse_transport(const char *opt, const char *val, struct cvmm_vm_tr *t, char *err,
			   size_t errlen)
{
	if (!strcmp(val, "pci"))
		t->kind = CVMM_VM_TR_PCI;
	else if (!strcmp(val, "mmio"))
		t->kind = CVMM_VM_TR_MMIO;
	else
		return fail(err, errlen, "%s: transport: '%s' is not pci or mmio", opt, val);
	return 0;
}

int cvmm_vm_parse_transport(struct cvmm_vm_devices *d, const char *arg, char *err,
			    size_t errlen)
{
	if (!strcmp(arg, "pci"))
		d->transport = CVMM_VM_TR_PCI;
	else if (!strcmp(arg, "mmio"))
		d->transport = CVMM_VM_TR_MMIO;
	else
		return fail(err, errlen, "--transport: '%s' is not pci or mmio", arg);
	return 0;
}

static int parse_iommu(const char *opt, const char *val, struct cvmm_vm_tr *t, char *err,
		       size_t errlen)
{
	if (parse_onoff(val, &t->iommu))
		return fail(err, errlen, "%s: iommu: '%s' is not on or off", opt, val);
	return 0;
}

/* Does the list @arg have a field named @key (so --disk/--net hand it to
 * the vhost-user parser)? */
static bool has_key(const char *arg, const char *key)
{
	size_t k = strlen(key);

	for (const char *p = arg; p; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (!strncmp(p, key, k) && p[k] == '=')
			return true;
	}
	return false;
}

int cvmm_vm_parse_vhost(struct cvmm_vm_devices *d, const char *opt, uint32_t type,
			const char *arg, char *err, size_t errlen)
{
	struct cvmm_vm_vhost vu = { .opt = opt, .type = type };
	bool on = type == CVMM_VM_VIRTIO_ID_FS || !type;
	struct field f[MAX_FIELDS];
	unsigned int n;
	uint64_t v;
	char *buf;
	int ret;

	if (d->nvhost == CVMM_VM_MAX_VHOST)
		return fail(err, errlen, "%s: at most %u vhost-user devices", opt, CVMM_VM_MAX_VHOST);
	if (check_fields(opt, arg, err, errlen))
		return -EINVAL;
	buf = strdup(arg);
	if (!buf)
		return fail(err, errlen, "%s: out of memory", opt);
	ret = split(buf, f, &n, opt, err, errlen);
	for (unsigned int i = 0; !ret && i < n; i++) {
		const char *k = f[i].key, *val = f[i].val;

		if (!strcmp(k, "vhost_user") && type && type != CVMM_VM_VIRTIO_ID_FS) {
			if (parse_onoff(val, &on))
				ret = fail(err, errlen, "%s: vhost_user: '%s' is not on or off", opt, val);
		} else if (!strcmp(k, "socket")) {
			if (strlen(val) >= sizeof(vu.socket))
				ret = fail(err, errlen, "%s: socket: longer than %zu bytes", opt,
					   sizeof(vu.socket) - 1);
			else
				strcpy(vu.socket, val);
		} else if (!strcmp(k, "queues")) {
			if (parse_u64(val, &v) || v < 1 || v > CVMM_VIRTIO_MAX_QUEUES)
				ret = fail(err, errlen, "%s: queues: '%s' is not a number from 1 to %u",
					   opt, val, CVMM_VIRTIO_MAX_QUEUES);
			else
				vu.queues = (unsigned int)v;
		} else if (!strcmp(k, "reconnect")) {
			if (parse_u64(val, &v) || v > 3600)
				ret = fail(err, errlen,
					   "%s: reconnect: '%s' is not a number of seconds from 0 to 3600",
					   opt, val);
			else
				vu.reconnect = (unsigned int)v;
		} else if (!strcmp(k, "type") && !type) {
			if (parse_u64(val, &v) || v < 1 || v > 63)
				ret = fail(err, errlen, "%s: type: '%s' is not a virtio device id from 1 to 63",
					   opt, val);
			else
				vu.type = (uint32_t)v;
		} else if (!strcmp(k, "transport")) {
			ret = parse_transport(opt, val, &vu.tr, err, errlen);
		} else if (!strcmp(k, "iommu") && type && type != CVMM_VM_VIRTIO_ID_FS) {
			/* --disk/--net vhost_user=on (VmConfig carries it there) */
			ret = parse_iommu(opt, val, &vu.tr, err, errlen);
		} else if (!strcmp(k, "tag") && type == CVMM_VM_VIRTIO_ID_FS) {
			if (strlen(val) > 36)
				ret = fail(err, errlen, "%s: tag: longer than 36 bytes", opt);
			else
				strcpy(vu.tag, val);
		} else {
			ret = fail(err, errlen, "%s: unknown field '%s' (%s)", opt, k,
				   type == CVMM_VM_VIRTIO_ID_FS ? "tag, socket, queues, reconnect, transport" :
				   !type ? "type, socket, queues, reconnect, transport" :
				   "vhost_user, socket, queues, reconnect, transport, iommu");
		}
	}
	free(buf);
	if (ret)
		return ret;
	if (!on)
		return fail(err, errlen, "%s: vhost_user=off cannot take a socket (drop the vhost-user fields)", opt);
	if (!vu.type)
		return fail(err, errlen, "%s: type: missing (type=ID, e.g. 2 for a block device)", opt);
	if (!vu.socket[0])
		return fail(err, errlen, "%s: socket: missing (socket=PATH)", opt);
	if (type == CVMM_VM_VIRTIO_ID_FS && !vu.tag[0])
		return fail(err, errlen, "%s: tag: missing (tag=NAME)", opt);
	d->vhost[d->nvhost++] = vu;
	return 0;
}

int cvmm_vm_parse_disk(struct cvmm_vm_devices *d, const char *arg, char *err, size_t errlen)
{
	struct cvmm_vm_disk disk = { .read_only = false };
	bool have_path = false;
	struct field f[MAX_FIELDS];
	unsigned int n;
	char *buf;
	int ret;

	if (has_key(arg, "vhost_user"))
		return cvmm_vm_parse_vhost(d, "--disk", CVMM_VIRTIO_ID_BLOCK, arg, err, errlen);
	if (d->ndisks == CVMM_VM_MAX_DISKS)
		return fail(err, errlen, "--disk: at most %u disks", CVMM_VM_MAX_DISKS);
	if (check_fields("--disk", arg, err, errlen))
		return -EINVAL;
	buf = strdup(arg);
	if (!buf)
		return fail(err, errlen, "--disk: out of memory");
	ret = split(buf, f, &n, "--disk", err, errlen);
	for (unsigned int i = 0; !ret && i < n; i++) {
		const char *k = f[i].key, *val = f[i].val;

		if (!strcmp(k, "path")) {
			if (strlen(val) >= sizeof(disk.path))
				ret = fail(err, errlen, "--disk: path: longer than %u bytes",
					   CVMM_VM_DISK_PATH_MAX - 1);
			else
				strcpy(disk.path, val);
			have_path = true;
		} else if (!strcmp(k, "readonly")) {
			if (parse_onoff(val, &disk.read_only))
				ret = fail(err, errlen, "--disk: readonly: '%s' is not on or off", val);
		} else if (!strcmp(k, "direct")) {
			if (parse_onoff(val, &disk.direct))
				ret = fail(err, errlen, "--disk: direct: '%s' is not on or off", val);
		} else if (!strcmp(k, "rate")) {
			if (parse_u64(val, &disk.ops_per_sec) || disk.ops_per_sec == 0 ||
			    disk.ops_per_sec > 10000000)
				ret = fail(err, errlen,
					   "--disk: rate: '%s' is not a number of requests per second from 1 to 10000000",
					   val);
		} else if (!strcmp(k, "bandwidth")) {
			if (cvmm_parse_size(val, &disk.bytes_per_sec) || disk.bytes_per_sec < 512 ||
			    disk.bytes_per_sec > (1ull << 40))
				ret = fail(err, errlen,
					   "--disk: bandwidth: '%s' is not bytes per second from 512 to 1T (e.g. 10M)",
					   val);
		} else if (!strcmp(k, "transport")) {
			ret = parse_transport("--disk", val, &disk.tr, err, errlen);
		} else if (!strcmp(k, "iommu")) {
			ret = parse_iommu("--disk", val, &disk.tr, err, errlen);
		} else {
			ret = fail(err, errlen,
				   "--disk: unknown field '%s' (path, readonly, direct, rate, bandwidth, transport, iommu)", k);
		}
	}
	if (!ret && !have_path)
		ret = fail(err, errlen, "--disk: path: missing (path=FILE)");
	free(buf);
	if (ret)
		return ret;
	d->disk[d->ndisks++] = disk;
	return 0;
}

static int check_fields(const char *opt, const char *arg, char *err, size_t errlen)
{
	if (strstr(arg, ",,") || arg[0] == ',' || (arg[0] && arg[strlen(arg) - 1] == ','))
		return fail(err, errlen, "%s: empty field in '%s'", opt, arg);
	return 0;
}

int cvmm_vm_parse_mac(const char *s, uint8_t mac[6])
{
	static const char hex[] = "0123456789abcdefABCDEF";

	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		const char *p = s + i * 3;

		if (!strchr(hex, p[0]) || !strchr(hex, p[1]) || (i < 5 && p[2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)strtoul((char[3]){ p[0], p[1], 0 }, NULL, 16);
	}
	/* A multicast (group) address cannot be a station's. */
	return (mac[0] & 1) ? -EINVAL : 0;
}

int cvmm_vm_parse_net(struct cvmm_vm_devices *d, const char *arg, char *err, size_t errlen)
{
	struct cvmm_vm_net net = { .queues = 1 };
	struct field f[MAX_FIELDS];
	bool have_tap = false;
	unsigned int n;
	uint64_t q;
	char *buf;
	int ret;

	if (has_key(arg, "vhost_user"))
		return cvmm_vm_parse_vhost(d, "--net", CVMM_VIRTIO_ID_NET, arg, err, errlen);
	if (d->nnets == CVMM_VM_MAX_NETS)
		return fail(err, errlen, "--net: at most %u network cards", CVMM_VM_MAX_NETS);
	if (check_fields("--net", arg, err, errlen))
		return -EINVAL;
	buf = strdup(arg);
	if (!buf)
		return fail(err, errlen, "--net: out of memory");
	ret = split(buf, f, &n, "--net", err, errlen);
	for (unsigned int i = 0; !ret && i < n; i++) {
		const char *k = f[i].key, *val = f[i].val;

		if (!strcmp(k, "tap")) {
			if (strlen(val) >= sizeof(net.tap) || strchr(val, '/') || strchr(val, ' '))
				ret = fail(err, errlen,
					   "--net: tap: '%s' is not an interface name (at most 15 bytes, no '/')",
					   val);
			else
				strcpy(net.tap, val);
			have_tap = true;
		} else if (!strcmp(k, "mac")) {
			if (cvmm_vm_parse_mac(val, net.mac))
				ret = fail(err, errlen,
					   "--net: mac: '%s' is not a unicast MAC (xx:xx:xx:xx:xx:xx)", val);
			net.has_mac = true;
		} else if (!strcmp(k, "queues")) {
			if (parse_u64(val, &q) || q < 1 || q > 7)
				ret = fail(err, errlen,
					   "--net: queues: '%s' is not a number of queue pairs from 1 to 7", val);
			net.queues = (unsigned int)q;
		} else if (!strcmp(k, "transport")) {
			ret = parse_transport("--net", val, &net.tr, err, errlen);
		} else if (!strcmp(k, "iommu")) {
			ret = parse_iommu("--net", val, &net.tr, err, errlen);
		} else {
			ret = fail(err, errlen, "--net: unknown field '%s' (tap, mac, queues, transport, iommu)", k);
		}
	}
	if (!ret && !have_tap)
		ret = fail(err, errlen, "--net: tap: missing (tap=NAME)");
	free(buf);
	if (ret)
		return ret;
	d->net[d->nnets++] = net;
	return 0;
}

int cvmm_vm_parse_vsock(struct cvmm_vm_devices *d, const char *arg, char *err, size_t errlen)
{
	struct field f[MAX_FIELDS];
	bool have_cid = false, have_path = false;
	unsigned int n;
	char *buf;
	int ret;

	if (d->vsock)
		return fail(err, errlen, "--vsock: given twice");
	if (check_fields("--vsock", arg, err, errlen))
		return -EINVAL;
	buf = strdup(arg);
	if (!buf)
		return fail(err, errlen, "--vsock: out of memory");
	ret = split(buf, f, &n, "--vsock", err, errlen);
	for (unsigned int i = 0; !ret && i < n; i++) {
		const char *k = f[i].key, *val = f[i].val;

		if (!strcmp(k, "cid")) {
			if (parse_u64(val, &d->vsock_cid) || d->vsock_cid < 3 ||
			    d->vsock_cid > 0xfffffffeull)
				ret = fail(err, errlen,
					   "--vsock: cid: '%s' is not a number from 3 to 4294967294", val);
			have_cid = true;
		} else if (!strcmp(k, "socket")) {
			if (strlen(val) >= sizeof(d->vsock_path))
				ret = fail(err, errlen, "--vsock: socket: longer than %u bytes",
					   CVMM_VM_VSOCK_PATH_MAX - 1);
			else
				strcpy(d->vsock_path, val);
			have_path = true;
		} else if (!strcmp(k, "transport")) {
			ret = parse_transport("--vsock", val, &d->vsock_tr, err, errlen);
		} else if (!strcmp(k, "iommu")) {
			ret = parse_iommu("--vsock", val, &d->vsock_tr, err, errlen);
		} else {
			ret = fail(err, errlen, "--vsock: unknown field '%s' (cid, socket, transport, iommu)", k);
		}
	}
	if (!ret && !have_cid)
		ret = fail(err, errlen, "--vsock: cid: missing (cid=N)");
	if (!ret && !have_path)
		ret = fail(err, errlen, "--vsock: socket: missing (socket=PATH)");
	free(buf);
	if (ret)
		return ret;
	d->vsock = true;
	return 0;
}

int cvmm_vm_parse_console(struct cvmm_vm_devices *d, const char *arg, char *err, size_t errlen)
{
	const char *comma = strrchr(arg, ',');
	size_t len = strlen(arg);

	if (d->console != CVMM_VM_CONSOLE_NONE)
		return fail(err, errlen, "--console: given twice");
	/* A trailing ",transport=..." (a file name may hold commas itself). */
	if (comma && !strncmp(comma, ",transport=", 11)) {
		if (parse_transport("--console", comma + 11, &d->console_tr, err, errlen))
			return -EINVAL;
		len = (size_t)(comma - arg);
	}
	if (len == 5 && !strncmp(arg, "stdio", 5)) {
		d->console = CVMM_VM_CONSOLE_STDIO;
	} else if (len > 5 && !strncmp(arg, "file=", 5)) {
		if (len - 5 >= sizeof(d->console_path))
			return fail(err, errlen, "--console: file: longer than %zu bytes",
				    sizeof(d->console_path) - 1);
		d->console = CVMM_VM_CONSOLE_FILE;
		memcpy(d->console_path, arg + 5, len - 5);
		d->console_path[len - 5] = '\0';
	} else {
		d->console_tr.kind = CVMM_VM_TR_DEFAULT;
		return fail(err, errlen, "--console: '%s' is not stdio or file=PATH[,transport=pci|mmio]",
			    arg);
	}
	return 0;
}

int cvmm_vm_parse_balloon(struct cvmm_vm_devices *d, const char *arg, char *err, size_t errlen)
{
	struct field f[MAX_FIELDS];
	bool have_size = false;
	unsigned int n;
	char *buf;
	int ret;

	if (d->balloon)
		return fail(err, errlen, "--balloon: given twice");
	if (check_fields("--balloon", arg, err, errlen))
		return -EINVAL;
	buf = strdup(arg);
	if (!buf)
		return fail(err, errlen, "--balloon: out of memory");
	ret = split(buf, f, &n, "--balloon", err, errlen);
	for (unsigned int i = 0; !ret && i < n; i++) {
		const char *k = f[i].key, *val = f[i].val;

		if (!strcmp(k, "size")) {
			/* num_pages is 32 bits of 4 KiB pages */
			if (cvmm_parse_size(val, &d->balloon_size) || d->balloon_size % 4096 ||
			    d->balloon_size / 4096 > UINT32_MAX)
				ret = fail(err, errlen,
					   "--balloon: size: '%s' is not a size in whole 4 KiB pages below 16T (e.g. 0, 64M)",
					   val);
			have_size = true;
		} else if (!strcmp(k, "deflate_on_oom")) {
			if (parse_onoff(val, &d->balloon_oom))
				ret = fail(err, errlen, "--balloon: deflate_on_oom: '%s' is not on or off", val);
		} else if (!strcmp(k, "free_page_reporting")) {
			if (parse_onoff(val, &d->balloon_fpr))
				ret = fail(err, errlen,
					   "--balloon: free_page_reporting: '%s' is not on or off", val);
		} else if (!strcmp(k, "transport")) {
			ret = parse_transport("--balloon", val, &d->balloon_tr, err, errlen);
		} else {
			ret = fail(err, errlen,
				   "--balloon: unknown field '%s' (size, deflate_on_oom, free_page_reporting, transport)",
				   k);
		}
	}
	if (!ret && !have_size)
		ret = fail(err, errlen, "--balloon: size: missing (size=SIZE, e.g. 0)");
	free(buf);
	if (ret)
		return ret;
	d->balloon = true;
	return 0;
}

int cvmm_vm_parse_rng(struct cvmm_vm_devices *d, const char *arg, char *err, size_t errlen)
{
	struct field f[MAX_FIELDS];
	unsigned int n;
	char *buf;
	int ret;

	if (d->rng)
		return fail(err, errlen, "--rng: given twice");
	if (!arg) {
		d->rng = true;
		return 0;
	}
	if (check_fields("--rng", arg, err, errlen))
		return -EINVAL;
	buf = strdup(arg);
	if (!buf)
		return fail(err, errlen, "--rng: out of memory");
	ret = split(buf, f, &n, "--rng", err, errlen);
	for (unsigned int i = 0; !ret && i < n; i++) {
		if (!strcmp(f[i].key, "transport"))
			ret = parse_transport("--rng", f[i].val, &d->rng_tr, err, errlen);
		else if (!strcmp(f[i].key, "iommu"))
			ret = parse_iommu("--rng", f[i].val, &d->rng_tr, err, errlen);
		else
			ret = fail(err, errlen, "--rng: unknown field '%s' (transport, iommu)",
				   f[i].key);
	}
	free(buf);
	if (ret)
		return ret;
	d->rng = true;
	return 0;
}

int cvmm_vm_parse_guest_arg(struct cvmm_vm_devices *d, const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	uint64_t v;

	if (!eq || eq != arg + 1 || arg[0] < '0' || arg[0] > '3' || parse_u64(eq + 1, &v))
		return fail(err, errlen, "--guest-arg: '%s' is not I=VALUE with I from 0 to 3", arg);
	d->guest_args[arg[0] - '0'] = v;
	return 0;
}


int cvmm_vm_parse_serial(struct cvmm_vm_config *c, const char *arg, char *err, size_t errlen)
{
	if (!strcmp(arg, "stdio")) {
		c->serial = CVMM_VM_SERIAL_STDIO;
	} else if (!strcmp(arg, "off")) {
		c->serial = CVMM_VM_SERIAL_OFF;
	} else if (!strncmp(arg, "file=", 5) && arg[5]) {
		c->serial = CVMM_VM_SERIAL_FILE;
		c->serial_path = arg + 5;
	} else {
		return fail(err, errlen, "--serial: '%s' is not stdio, off or file=PATH", arg);
	}
	return 0;
}

int cvmm_vm_parse_path_or_fd(const char *opt, const char *arg, bool bare, const char **path,
			     int *fd, char *err, size_t errlen)
{
	unsigned long n = 0;
	char *end;

	if (!strncmp(arg, "fd=", 3)) {
		const char *s = arg + 3;

		errno = 0;
		if (*s && *s != '-' && *s != '+')
			n = strtoul(s, &end, 10);
		if (!*s || *s == '-' || *s == '+' || errno || *end || n > (1u << 20) || n < 3)
			return fail(err, errlen, "%s: fd: '%s' is not an open fd number from 3", opt,
				    arg + 3);
		*fd = (int)n;
		*path = NULL;
		return 0;
	}
	if (!strncmp(arg, "path=", 5))
		arg += 5;
	else if (!bare || strchr(arg, '='))
		return fail(err, errlen, "%s: '%s' is not path=PATH or fd=N", opt, arg);
	if (!*arg)
		return fail(err, errlen, "%s: path: empty", opt);
	*path = arg;
	*fd = -1;
	return 0;
}

int cvmm_vm_config_finish(struct cvmm_vm_config *c, char *err, size_t errlen)
{
	if (cvmm_vm_iommu_check(&c->dev, err, errlen))
		return -EINVAL;
	if (cvmm_vm_pci_assign(&c->dev))
		return fail(err, errlen, "--pci: more than 31 PCI devices");
	if (c->dev.balloon && c->dev.balloon_size > c->memory)
		return fail(err, errlen, "--balloon: size: more than the guest's %llu bytes of memory",
			    (unsigned long long)c->memory);
	if (c->dev.vmem && c->hugepages)
		return fail(err, errlen, "--memory: hotplug_method=virtio-mem: not with huge pages");
	return 0;
}

int cvmm_vm_parse_cpus(struct cvmm_vm_config *c, const char *arg, char *err, size_t errlen)
{
	unsigned long v = 0;
	char *end = NULL;

	errno = 0;
	if (*arg && *arg != '-' && *arg != '+')
		v = strtoul(arg, &end, 10);
	if (!*arg || *arg == '-' || *arg == '+' || errno || *end || v == 0 || v > CVMM_VM_MAX_CPUS)
		return fail(err, errlen, "--cpus: '%s' is not a number from 1 to %d", arg,
			    CVMM_VM_MAX_CPUS);
	c->cpus = (unsigned int)v;
	return 0;
}

static int memory_size(struct cvmm_vm_config *c, const char *val, char *err, size_t errlen)
{
	if (cvmm_parse_size(val, &c->memory) || c->memory < (16ull << 20) || c->memory % 4096 ||
	    c->memory > (1ull << 40))
		return fail(err, errlen,
			    "--memory: '%s' is not a size from 16M to 1T in whole pages (e.g. 512M, 2G)",
			    val);
	return 0;
}

/* A size of whole virtio-mem blocks (2 MiB), at most 1 TiB. */
static int block_size_of(const char *key, const char *val, uint64_t *out, char *err,
			 size_t errlen)
{
	if (cvmm_parse_size(val, out) || *out % CVMM_VM_VMEM_BLOCK || *out > (1ull << 40))
		return fail(err, errlen,
			    "--memory: %s: '%s' is not a size in whole 2 MiB blocks up to 1T (e.g. 1G)",
			    key, val);
	return 0;
}

int cvmm_vm_parse_memory(struct cvmm_vm_config *c, const char *arg, char *err, size_t errlen)
{
	struct cvmm_vm_devices *d = &c->dev;
	struct field f[MAX_FIELDS];
	bool have_size = false, vmem = false;
	unsigned int n;
	char *buf;
	int ret;

	if (!strchr(arg, '='))
		return memory_size(c, arg, err, errlen);
	if (check_fields("--memory", arg, err, errlen))
		return -EINVAL;
	buf = strdup(arg);
	if (!buf)
		return fail(err, errlen, "--memory: out of memory");
	d->vmem_size = d->vmem_requested = 0;
	ret = split(buf, f, &n, "--memory", err, errlen);
	for (unsigned int i = 0; !ret && i < n; i++) {
		const char *k = f[i].key, *val = f[i].val;

		if (!strcmp(k, "size")) {
			ret = memory_size(c, val, err, errlen);
			have_size = true;
		} else if (!strcmp(k, "hotplug_method")) {
			if (strcmp(val, "virtio-mem"))
				ret = fail(err, errlen,
					   "--memory: hotplug_method: '%s' is not virtio-mem (the only one cvmm has)",
					   val);
			vmem = true;
		} else if (!strcmp(k, "hotplug_size")) {
			ret = block_size_of(k, val, &d->vmem_size, err, errlen);
		} else if (!strcmp(k, "hotplugged_size")) {
			ret = block_size_of(k, val, &d->vmem_requested, err, errlen);
		} else if (!strcmp(k, "transport")) {
			ret = parse_transport("--memory", val, &d->vmem_tr, err, errlen);
		} else {
			ret = fail(err, errlen,
				   "--memory: unknown field '%s' (size, hotplug_method, hotplug_size, hotplugged_size, transport)",
				   k);
		}
	}
	if (!ret && !have_size)
		ret = fail(err, errlen, "--memory: size: missing (size=SIZE, e.g. 512M)");
	if (!ret && (d->vmem_size || d->vmem_requested) && !vmem)
		ret = fail(err, errlen, "--memory: hotplug_size: needs hotplug_method=virtio-mem");
	if (!ret && vmem && !d->vmem_size)
		ret = fail(err, errlen, "--memory: hotplug_size: missing (hotplug_size=SIZE, e.g. 1G)");
	if (!ret && d->vmem_requested > d->vmem_size)
		ret = fail(err, errlen, "--memory: hotplugged_size: more than hotplug_size");
	free(buf);
	if (ret)
		return ret;
	d->vmem = vmem;
	return 0;
}
