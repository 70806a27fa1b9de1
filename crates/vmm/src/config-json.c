/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cloud Hypervisor's VmConfig JSON (vm.create, vm.add-*, --config) to the
 * same struct cvmm_vm_config the flags produce, and back (vm.info). The
 * rule for fields: what cvmm implements is read and checked; a field cvmm
 * lacks is accepted only when it holds Cloud Hypervisor's default (false,
 * null, an empty list, or the documented value), so clients that send the
 * whole schema (Kata) work, and anything that would change the VM is
 * refused with a 400 naming the field, never silently ignored.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/net.h>

#include <cvmm/vmm/config.h>

#include "vm-internal.h"

#define fail(err, errlen, ...) cvmm_vm_errf(err, errlen, -EINVAL, __VA_ARGS__)

/* A required field: its parser's error, or "missing". */
#define REQUIRED(call, ...)                                               \
	do {                                                              \
		int r_ = (call);                                          \
		if (r_ < 0)                                               \
			return r_;                                        \
		if (!r_)                                                  \
			return fail(err, errlen, __VA_ARGS__);             \
	} while (0)

/* A field cvmm does not implement, and the one value it may hold. */
struct dflt {
	const char *key;
	const char *json;   /* the default as JSON text; NULL: only null/false/[] */
};

static bool is_default(struct json_object *v, const char *json)
{
	struct json_object *d;
	bool same;

	if (!v)
		return true;
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		if (!json_object_get_boolean(v))
			return true;
		break;
	case json_type_array:
		if (!json_object_array_length(v))
			return true;
		break;
	default:
		break;
	}
	if (!json)
		return false;
	d = json_tokener_parse(json);
	same = d && json_object_equal(v, d);
	json_object_put(d);
	return same;
}

/*
 * Every key of @o must be in @known (implemented) or in @dflts with its
 * default value. @where names the object in messages ("disks[1]").
 */
static int check_keys(struct json_object *o, const char *where, const char *const *known,
		      const struct dflt *dflts, char *err, size_t errlen)
{
	if (!json_object_is_type(o, json_type_object))
		return fail(err, errlen, "%s: must be an object", where);
	json_object_object_foreach(o, key, val) {
		bool ok = false;

		for (const char *const *k = known; *k && !ok; k++)
			ok = !strcmp(*k, key);
		for (const struct dflt *d = dflts; d && d->key && !ok; d++) {
			if (strcmp(d->key, key))
				continue;
			if (!is_default(val, d->json))
				return fail(err, errlen,
					    "%s.%s: not supported by cvmm (only its default%s%s)",
					    where, key, d->json ? " " : "", d->json ? d->json : "");
			ok = true;
		}
		if (!ok)
			return fail(err, errlen, "%s.%s: unknown field", where, key);
	}
	return 0;
}

static int get_str(struct json_object *o, const char *key, const char *where, const char **out,
		   char *err, size_t errlen)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return fail(err, errlen, "%s.%s: must be a string", where, key);
	if (!json_object_get_string_len(v))
		return fail(err, errlen, "%s.%s: empty", where, key);
	*out = json_object_get_string(v);
	return 1;
}

static int get_strbuf(struct json_object *o, const char *key, const char *where, char *buf,
		      size_t size, char *err, size_t errlen)
{
	const char *s = NULL;
	int ret = get_str(o, key, where, &s, err, errlen);

	if (ret <= 0)
		return ret;
	if (strlen(s) >= size)
		return fail(err, errlen, "%s.%s: longer than %zu bytes", where, key, size - 1);
	strcpy(buf, s);
	return 1;
}

static int get_u64(struct json_object *o, const char *key, const char *where, uint64_t min,
		   uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	struct json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return fail(err, errlen, "%s.%s: must be an integer", where, key);
	errno = 0;
	n = json_object_get_int64(v);
	/* json-c saturates what does not fit an int64 */
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max || (errno && n == INT64_MAX))
		return fail(err, errlen, "%s.%s: %lld is not from %llu to %llu", where, key,
			    (long long)n, (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)n;
	return 1;
}

static int get_bool(struct json_object *o, const char *key, const char *where, bool *out,
		    char *err, size_t errlen)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return fail(err, errlen, "%s.%s: must be true or false", where, key);
	*out = json_object_get_boolean(v);
	return 1;
}

static int get_id(struct json_object *o, const char *where, char *id, char *err, size_t errlen)
{
	int ret = get_strbuf(o, "id", where, id, CVMM_VMM_ID_MAX, err, errlen);

	if (ret <= 0)
		return ret;
	for (const char *p = id; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && !strchr("_.-", *p))
			return fail(err, errlen, "%s.id: '%s' may hold only A-Z a-z 0-9 _ . -", where,
				    id);
	return 1;
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* A TokenBucket as a per-second rate: size tokens every refill_time ms. */
static int bucket(struct json_object *rl, const char *key, const char *where, uint64_t *rate,
		  char *err, size_t errlen)
{
	static const char *const known[] = { "size", "refill_time", "one_time_burst", NULL };
	struct json_object *b;
	uint64_t size = 0, refill = 0, burst = 0;
	char w[96];
	int ret;

	if (!json_object_object_get_ex(rl, key, &b) || json_object_is_type(b, json_type_null))
		return 0;
	snprintf(w, sizeof(w), "%s.%s", where, key);
	if ((ret = check_keys(b, w, known, NULL, err, errlen)))
		return ret;
	REQUIRED(get_u64(b, "size", w, 1, 1ull << 40, &size, err, errlen),
		 "%s.size: missing", w);
	REQUIRED(get_u64(b, "refill_time", w, 1, 3600000, &refill, err, errlen),
		 "%s.refill_time: missing", w);
	if (get_u64(b, "one_time_burst", w, 0, 0, &burst, err, errlen) < 0)
		return -EINVAL;
	*rate = size * 1000 / refill;
	if (!*rate)
		return fail(err, errlen, "%s: less than one a second", w);
	return 1;
}

static int rate_limiter(struct json_object *o, const char *where, uint64_t *ops, uint64_t *bytes,
			char *err, size_t errlen)
{
	static const char *const known[] = { "bandwidth", "ops", NULL };
	struct json_object *rl;
	char w[80];
	int ret;

	if (!json_object_object_get_ex(o, "rate_limiter_config", &rl) ||
	    json_object_is_type(rl, json_type_null))
		return 0;
	snprintf(w, sizeof(w), "%s.rate_limiter_config", where);
	if ((ret = check_keys(rl, w, known, NULL, err, errlen)) ||
	    bucket(rl, "ops", w, ops, err, errlen) < 0 ||
	    bucket(rl, "bandwidth", w, bytes, err, errlen) < 0)
		return -EINVAL;
	return 0;
}

static const struct dflt pci_dflts[] = {
	{ "iommu", NULL }, { "pci_segment", "0" }, { "pci_device_id", NULL }, { NULL, NULL },
};
/* For devices that can sit behind the virtio-iommu ("iommu" is read). */
static const struct dflt pci_dflts_iommu[] = {
	{ "pci_segment", "0" }, { "pci_device_id", NULL }, { NULL, NULL },
};

/*
 * cvmm's per-device "transport": "pci" or "mmio" (the flags' transport=),
 * over the VM's platform.transport. @return 0 (absent or read); -EINVAL.
 */
static int get_transport(struct json_object *o, const char *where, struct cvmm_vm_tr *tr,
			 char *err, size_t errlen)
{
	const char *t = NULL;
	int ret = get_str(o, "transport", where, &t, err, errlen);

	if (ret <= 0)
		return ret;
	if (!strcmp(t, "pci"))
		tr->kind = CVMM_VM_TR_PCI;
	else if (!strcmp(t, "mmio"))
		tr->kind = CVMM_VM_TR_MMIO;
	else
		return fail(err, errlen, "%s.transport: '%s' is not pci or mmio", where, t);
	return 0;
}

static int add_vhost(struct json_object *o, const char *where, struct cvmm_vm_devices *d,
		     uint32_t type, const char *sock_key, char *err, size_t errlen)
{
	struct cvmm_vm_vhost vu = { .opt = "vhost-user", .type = type };
	uint64_t v = 0;

	if (d->nvhost == CVMM_VM_MAX_VHOST)
		return fail(err, errlen, "%s: at most %u vhost-user devices", where, CVMM_VM_MAX_VHOST);
	REQUIRED(get_strbuf(o, sock_key, where, vu.socket, sizeof(vu.socket), err, errlen),
		 "%s.%s: missing", where, sock_key);
	if (get_id(o, where, vu.id, err, errlen) < 0 ||
	    get_transport(o, where, &vu.tr, err, errlen) < 0 ||
	    get_u64(o, "num_queues", where, 1, CVMM_VIRTIO_MAX_QUEUES, &v, err, errlen) < 0)
		return -EINVAL;
	/* disks and nets (the keys their callers allow): behind the IOMMU
	 * through the backend's IOTLB */
	if ((type == CVMM_VIRTIO_ID_BLOCK || type == CVMM_VIRTIO_ID_NET) &&
	    get_bool(o, "iommu", where, &vu.tr.iommu, err, errlen) < 0)
		return -EINVAL;
	vu.queues = (unsigned int)v;
	if (type == CVMM_VM_VIRTIO_ID_FS) {
		vu.opt = "fs";
		REQUIRED(get_strbuf(o, "tag", where, vu.tag, sizeof(vu.tag), err, errlen),
			 "%s.tag: missing", where);
	}
	d->vhost[d->nvhost++] = vu;
	return 0;
}

static int add_disk(struct json_object *o, const char *where, struct cvmm_vm_devices *d,
		    char *err, size_t errlen)
{
	static const char *const known[] = {
		"path", "readonly", "direct", "num_queues", "queue_size", "vhost_user",
		"vhost_socket", "rate_limiter_config", "id", "iommu", "transport", NULL,
	};
	static const struct dflt dflts[] = {
		{ "pci_segment", "0" }, { "pci_device_id", NULL },
		{ "serial", NULL }, { "rate_limit_group", NULL }, { "queue_affinity", NULL },
		{ "backing_files", NULL }, { "sparse", "true" }, { "image_type", "\"Raw\"" },
		{ "lock_granularity", "\"ByteRange\"" }, { NULL, NULL },
	};
	struct cvmm_vm_disk disk = { .read_only = false };
	bool vhost = false;
	uint64_t v;
	int ret;

	if ((ret = check_keys(o, where, known, dflts, err, errlen)) ||
	    get_bool(o, "vhost_user", where, &vhost, err, errlen) < 0)
		return -EINVAL;
	v = 1;
	if (get_u64(o, "num_queues", where, 1, vhost ? CVMM_VIRTIO_MAX_QUEUES : 1, &v, err,
		    errlen) < 0)
		return fail(err, errlen, "%s.num_queues: cvmm's virtio-blk has one request queue",
			    where);
	if (vhost) {
		struct cvmm_vm_vhost *vu;

		if (add_vhost(o, where, d, CVMM_VIRTIO_ID_BLOCK, "vhost_socket", err, errlen))
			return -EINVAL;
		vu = &d->vhost[d->nvhost - 1];
		vu->opt = "disk";
		vu->queues = (unsigned int)v;
		return 0;
	}
	if (d->ndisks == CVMM_VM_MAX_DISKS)
		return fail(err, errlen, "%s: at most %u disks", where, CVMM_VM_MAX_DISKS);
	REQUIRED(get_strbuf(o, "path", where, disk.path, sizeof(disk.path), err, errlen),
		 "%s.path: missing", where);
	v = 0;
	if (get_bool(o, "readonly", where, &disk.read_only, err, errlen) < 0 ||
	    get_bool(o, "iommu", where, &disk.tr.iommu, err, errlen) < 0 ||
	    get_transport(o, where, &disk.tr, err, errlen) < 0 ||
	    get_bool(o, "direct", where, &disk.direct, err, errlen) < 0 ||
	    get_u64(o, "queue_size", where, 2, 1024, &v, err, errlen) < 0 ||
	    get_id(o, where, disk.id, err, errlen) < 0 ||
	    rate_limiter(o, where, &disk.ops_per_sec, &disk.bytes_per_sec, err, errlen))
		return -EINVAL;
	if (v && !pow2(v))
		return fail(err, errlen, "%s.queue_size: %llu is not a power of two", where,
			    (unsigned long long)v);
	disk.queue_size = (unsigned int)v;
	d->disk[d->ndisks++] = disk;
	return 0;
}

static int add_net(struct json_object *o, const char *where, struct cvmm_vm_devices *d,
		   const int *fds, unsigned int nfds, char *err, size_t errlen)
{
	static const char *const known[] = {
		"tap", "mac", "num_queues", "queue_size", "vhost_user", "vhost_socket", "id",
		"rate_limiter_config", "iommu", "transport", NULL,
	};
	static const struct dflt dflts[] = {
		{ "ip", "\"192.168.249.1\"" }, { "mask", "\"255.255.255.0\"" }, { "host_mac", NULL },
		{ "mtu", NULL }, { "vhost_mode", "\"Client\"" },
		{ "pci_segment", "0" }, { "pci_device_id", NULL }, { "offload_tso", "true" },
		{ "offload_ufo", "true" }, { "offload_csum", "true" }, { "fds", NULL },
		{ NULL, NULL },
	};
	struct cvmm_vm_net net = { .queues = 1 };
	const char *mac = NULL;
	bool vhost = false;
	uint64_t q = 2, v = 0, ops = 0, bytes = 0;
	int ret;

	if ((ret = check_keys(o, where, known, dflts, err, errlen)) ||
	    get_bool(o, "vhost_user", where, &vhost, err, errlen) < 0)
		return -EINVAL;
	if (vhost) {
		if (nfds)
			return fail(err, errlen, "%s: a vhost-user card takes no TAP fds", where);
		if (add_vhost(o, where, d, CVMM_VIRTIO_ID_NET, "vhost_socket", err, errlen))
			return -EINVAL;
		d->vhost[d->nvhost - 1].opt = "net";
		return 0;
	}
	if (d->nnets == CVMM_VM_MAX_NETS)
		return fail(err, errlen, "%s: at most %u network cards", where, CVMM_VM_MAX_NETS);
	if (get_u64(o, "num_queues", where, 2, 2 * CVMM_NET_MAX_PAIRS, &q, err, errlen) < 0)
		return -EINVAL;
	if (q % 2)
		return fail(err, errlen, "%s.num_queues: %llu is odd (a receive and a transmit queue a pair)",
			    where, (unsigned long long)q);
	net.queues = (unsigned int)(q / 2);
	if (get_bool(o, "iommu", where, &net.tr.iommu, err, errlen) < 0 ||
	    get_transport(o, where, &net.tr, err, errlen) < 0)
		return -EINVAL;
	if ((ret = get_strbuf(o, "tap", where, net.tap, sizeof(net.tap), err, errlen)) < 0 ||
	    get_str(o, "mac", where, &mac, err, errlen) < 0 ||
	    get_u64(o, "queue_size", where, 2, 1024, &v, err, errlen) < 0 ||
	    get_id(o, where, net.id, err, errlen) < 0 ||
	    rate_limiter(o, where, &ops, &bytes, err, errlen))
		return -EINVAL;
	if (ops || bytes)
		return fail(err, errlen, "%s.rate_limiter_config: not supported by cvmm for net", where);
	if (v && !pow2(v))
		return fail(err, errlen, "%s.queue_size: %llu is not a power of two", where,
			    (unsigned long long)v);
	net.queue_size = (unsigned int)v;
	if (mac && cvmm_vm_parse_mac(mac, net.mac))
		return fail(err, errlen, "%s.mac: '%s' is not a unicast MAC (xx:xx:xx:xx:xx:xx)",
			    where, mac);
	net.has_mac = mac != NULL;
	if (ret > 0 && (strchr(net.tap, '/') || strchr(net.tap, ' ')))
		return fail(err, errlen, "%s.tap: '%s' is not an interface name", where, net.tap);
	if (ret > 0 && nfds)
		return fail(err, errlen, "%s: tap and fds: give one of them", where);
	if (ret <= 0 && !nfds)
		return fail(err, errlen, "%s.tap: missing (or pass TAP fds with the request)", where);
	if (nfds && nfds != net.queues)
		return fail(err, errlen, "%s: %u TAP fds for %u queue pairs (one a pair)", where, nfds,
			    net.queues);
	for (unsigned int i = 0; i < nfds; i++)
		net.fds[i] = fds[i];
	net.nfds = nfds;
	d->net[d->nnets++] = net;
	return 0;
}

static int add_vsock(struct json_object *o, const char *where, struct cvmm_vm_devices *d,
		     char *err, size_t errlen)
{
	static const char *const known[] = { "cid", "socket", "id", "iommu", "transport", NULL };
	int ret;

	if (d->vsock)
		return fail(err, errlen, "%s: the VM has a vsock device already", where);
	if ((ret = check_keys(o, where, known, pci_dflts_iommu, err, errlen)))
		return ret;
	d->vsock_tr.kind = CVMM_VM_TR_DEFAULT;
	if (get_bool(o, "iommu", where, &d->vsock_tr.iommu, err, errlen) < 0 ||
	    get_transport(o, where, &d->vsock_tr, err, errlen) < 0)
		return -EINVAL;
	REQUIRED(get_u64(o, "cid", where, 3, 0xfffffffeull, &d->vsock_cid, err, errlen),
		 "%s.cid: missing", where);
	REQUIRED(get_strbuf(o, "socket", where, d->vsock_path, sizeof(d->vsock_path), err, errlen),
		 "%s.socket: missing", where);
	if (get_id(o, where, d->vsock_id, err, errlen) < 0)
		return -EINVAL;
	d->vsock = true;
	return 0;
}

static int add_fs(struct json_object *o, const char *where, struct cvmm_vm_devices *d,
		  char *err, size_t errlen)
{
	static const char *const known[] = { "tag", "socket", "num_queues", "queue_size", "id",
					     "transport", NULL };
	uint64_t v = 0;
	int ret;

	if ((ret = check_keys(o, where, known, pci_dflts, err, errlen)))
		return ret;
	/* The backend sizes its queues; cvmm offers the default only. */
	if (get_u64(o, "queue_size", where, 1024, 1024, &v, err, errlen) < 0)
		return -EINVAL;
	return add_vhost(o, where, d, CVMM_VM_VIRTIO_ID_FS, "socket", err, errlen);
}

static int add_generic(struct json_object *o, const char *where, struct cvmm_vm_devices *d,
		       char *err, size_t errlen)
{
	static const char *const known[] = { "socket", "device_type", "queue_sizes", "id",
					     "transport", NULL };
	struct json_object *qs;
	uint64_t type = 0;
	size_t n = 0;
	int ret;

	if ((ret = check_keys(o, where, known, pci_dflts, err, errlen)))
		return ret;
	REQUIRED(get_u64(o, "device_type", where, 1, 63, &type, err, errlen),
		 "%s.device_type: missing", where);
	if (json_object_object_get_ex(o, "queue_sizes", &qs)) {
		if (!json_object_is_type(qs, json_type_array))
			return fail(err, errlen, "%s.queue_sizes: must be a list of integers", where);
		n = json_object_array_length(qs);
		if (n > CVMM_VIRTIO_MAX_QUEUES)
			return fail(err, errlen, "%s.queue_sizes: more than %u queues", where,
				    CVMM_VIRTIO_MAX_QUEUES);
		for (size_t i = 0; i < n; i++)
			if (!json_object_is_type(json_object_array_get_idx(qs, i), json_type_int))
				return fail(err, errlen, "%s.queue_sizes[%zu]: must be an integer",
					    where, i);
	}
	if (add_vhost(o, where, d, (uint32_t)type, "socket", err, errlen))
		return -EINVAL;
	d->vhost[d->nvhost - 1].opt = "generic_vhost_user";
	d->vhost[d->nvhost - 1].queues = (unsigned int)n;
	return 0;
}

int cvmm_vm_config_add_json(struct json_object *j, const char *kind,
				struct cvmm_vm_devices *d, const int *fds, unsigned int nfds,
				char *err, size_t errlen)
{
	if (strcmp(kind, "net") && nfds)
		return fail(err, errlen, "%s: takes no file descriptors", kind);
	if (cvmm_vm_virtio_count(d) >= CVMM_VM_VIRTIO_MAX)
		return fail(err, errlen, "%s: the VM has %u virtio devices, the most it can", kind,
			    CVMM_VM_VIRTIO_MAX);
	if (!strcmp(kind, "disk"))
		return add_disk(j, kind, d, err, errlen);
	if (!strcmp(kind, "net"))
		return add_net(j, kind, d, fds, nfds, err, errlen);
	if (!strcmp(kind, "vsock"))
		return add_vsock(j, kind, d, err, errlen);
	if (!strcmp(kind, "fs"))
		return add_fs(j, kind, d, err, errlen);
	if (!strcmp(kind, "generic_vhost_user"))
		return add_generic(j, kind, d, err, errlen);
	return fail(err, errlen, "%s: unknown device kind", kind);
}

static int each(struct json_object *j, const char *key, struct cvmm_vm_devices *d,
		const char *kind, char *err, size_t errlen)
{
	struct json_object *a;
	char where[48];

	if (!json_object_object_get_ex(j, key, &a) || json_object_is_type(a, json_type_null))
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return fail(err, errlen, "%s: must be a list", key);
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		char why[400];

		snprintf(where, sizeof(where), "%s[%zu]", key, i);
		if (cvmm_vm_config_add_json(json_object_array_get_idx(a, i), kind, d, NULL, 0,
						why, sizeof(why)))
			/* name the entry, not the kind */
			return fail(err, errlen, "%s%s", where, why + strlen(kind));
	}
	return 0;
}

int cvmm_vm_console_json(struct json_object *o, const char *where, const char **mode,
			 const char **file, char *err, size_t errlen)
{
	static const char *const known[] = { "mode", "file", NULL };
	static const struct dflt dflts[] = {
		{ "iommu", NULL }, { "socket", NULL }, { "id", NULL }, { "pci_segment", "0" },
		{ "pci_device_id", NULL }, { NULL, NULL },
	};
	int ret;

	if ((ret = check_keys(o, where, known, dflts, err, errlen)))
		return ret;
	REQUIRED(get_str(o, "mode", where, mode, err, errlen),
		 "%s.mode: missing", where);
	if (get_str(o, "file", where, file, err, errlen) < 0)
		return -EINVAL;
	if (!strcmp(*mode, "File") && !*file)
		return fail(err, errlen, "%s.file: missing (mode File)", where);
	if (strcmp(*mode, "File") && *file)
		return fail(err, errlen, "%s.file: only with mode File", where);
	if (strcmp(*mode, "Off") && strcmp(*mode, "Null") && strcmp(*mode, "Tty") &&
	    strcmp(*mode, "File"))
		return fail(err, errlen, "%s.mode: '%s' is not supported by cvmm (Off, Null, Tty, File)",
			    where, *mode);
	return 0;
}

static int parse_payload(struct json_object *j, struct cvmm_vm_config *c, char *err,
			 size_t errlen)
{
	static const char *const known[] = { "kernel", "cmdline", "initramfs", NULL };
	static const struct dflt dflts[] = {
		{ "firmware", NULL }, { "igvm", NULL }, { "host_data", NULL }, { NULL, NULL },
	};
	struct json_object *p;
	int ret;

	if (!json_object_object_get_ex(j, "payload", &p))
		return fail(err, errlen, "payload: missing");
	if ((ret = check_keys(p, "payload", known, dflts, err, errlen)))
		return ret;
	REQUIRED(get_str(p, "kernel", "payload", &c->kernel, err, errlen),
		 "payload.kernel: missing");
	if (get_str(p, "cmdline", "payload", &c->cmdline, err, errlen) < 0 ||
	    get_str(p, "initramfs", "payload", &c->initrd, err, errlen) < 0)
		return -EINVAL;
	return 0;
}

/*
 * cpus.topology: cvmm presents its vCPUs as single-threaded cores of one
 * package, which is what Kata describes ({1, boot_vcpus, 1, 1} when
 * max_vcpus equals boot_vcpus); anything else is refused.
 */
static int parse_topology(struct json_object *cpus, uint64_t boot, char *err, size_t errlen)
{
	static const char *const known[] = { "threads_per_core", "cores_per_die",
					     "dies_per_package", "packages", NULL };
	static const char *const one[] = { "threads_per_core", "dies_per_package", "packages" };
	struct json_object *t;
	uint64_t v;
	int ret;

	if (!json_object_object_get_ex(cpus, "topology", &t) ||
	    json_object_is_type(t, json_type_null))
		return 0;
	if ((ret = check_keys(t, "cpus.topology", known, NULL, err, errlen)))
		return ret;
	for (unsigned int i = 0; i < 3; i++) {
		v = 1;
		if (get_u64(t, one[i], "cpus.topology", 0, UINT32_MAX, &v, err, errlen) < 0)
			return -EINVAL;
		if (v != 1)
			return fail(err, errlen,
				    "cpus.topology.%s: %llu: cvmm presents single-threaded cores in one package (only 1)",
				    one[i], (unsigned long long)v);
	}
	v = boot;
	if (get_u64(t, "cores_per_die", "cpus.topology", 0, UINT32_MAX, &v, err, errlen) < 0)
		return -EINVAL;
	if (v != boot)
		return fail(err, errlen, "cpus.topology.cores_per_die: %llu, not boot_vcpus (%llu)",
			    (unsigned long long)v, (unsigned long long)boot);
	return 0;
}

static int parse_cpus(struct json_object *j, struct cvmm_vm_config *c, char *err, size_t errlen)
{
	static const char *const known[] = { "boot_vcpus", "max_vcpus", "topology", NULL };
	static const struct dflt dflts[] = {
		{ "kvm_hyperv", NULL }, { "max_phys_bits", NULL },
		{ "nested", "true" }, { "affinity", NULL }, { "features", "{}" },
		{ "core_scheduling", "\"Vm\"" }, { NULL, NULL },
	};
	struct json_object *o;
	uint64_t boot = 1, max = 0;
	int ret;

	if (!json_object_object_get_ex(j, "cpus", &o) || json_object_is_type(o, json_type_null))
		return 0;
	if ((ret = check_keys(o, "cpus", known, dflts, err, errlen)) ||
	    get_u64(o, "boot_vcpus", "cpus", 1, CVMM_VM_MAX_CPUS, &boot, err, errlen) < 0 ||
	    get_u64(o, "max_vcpus", "cpus", 1, CVMM_VM_MAX_CPUS, &max, err, errlen) < 0)
		return -EINVAL;
	if (max && max != boot)
		return fail(err, errlen,
			    "cpus.max_vcpus: %llu, not boot_vcpus (%llu): vCPU hotplug is not supported by cvmm",
			    (unsigned long long)max, (unsigned long long)boot);
	c->cpus = (unsigned int)boot;
	return parse_topology(o, boot, err, errlen);
}

static int parse_memory(struct json_object *j, struct cvmm_vm_config *c, char *err,
			size_t errlen)
{
	static const char *const known[] = { "size", "shared", "hugepages", "hugepage_size",
					     "prefault", "hotplug_method", "hotplug_size",
					     "hotplugged_size", NULL };
	static const struct dflt dflts[] = {
		{ "mergeable", NULL }, { "reserve", NULL }, { "thp", "true" },
		{ "zones", NULL }, { NULL, NULL },
	};
	struct json_object *o;
	const char *method = "Acpi";
	uint64_t hp = 0;
	int ret;

	if (!json_object_object_get_ex(j, "memory", &o) || json_object_is_type(o, json_type_null))
		return 0;
	if ((ret = check_keys(o, "memory", known, dflts, err, errlen)))
		return ret;
	ret = get_u64(o, "size", "memory", 16ull << 20, 1ull << 40, &c->memory, err, errlen);
	if (ret <= 0)
		return ret < 0 ? ret : fail(err, errlen, "memory.size: missing");
	if (c->memory % 4096)
		return fail(err, errlen, "memory.size: not a whole number of 4 KiB pages");
	if (get_bool(o, "shared", "memory", &c->mem_shared, err, errlen) < 0 ||
	    get_bool(o, "hugepages", "memory", &c->hugepages, err, errlen) < 0 ||
	    get_bool(o, "prefault", "memory", &c->prefault, err, errlen) < 0 ||
	    get_u64(o, "hugepage_size", "memory", 2u << 20, 2u << 20, &hp, err, errlen) < 0)
		return -EINVAL;
	if (c->hugepages && c->memory % (2u << 20))
		return fail(err, errlen, "memory.size: not a whole number of 2 MiB huge pages");
	/* Cloud Hypervisor's hotplug_method VirtioMem; its Acpi (DIMMs) is
	 * not cvmm's: only without a hotplug size. */
	c->dev.vmem_size = c->dev.vmem_requested = 0;
	if (get_str(o, "hotplug_method", "memory", &method, err, errlen) < 0 ||
	    get_u64(o, "hotplug_size", "memory", 0, 1ull << 40, &c->dev.vmem_size, err,
		    errlen) < 0 ||
	    get_u64(o, "hotplugged_size", "memory", 0, 1ull << 40, &c->dev.vmem_requested, err,
		    errlen) < 0)
		return -EINVAL;
	if (strcmp(method, "Acpi") && strcmp(method, "VirtioMem"))
		return fail(err, errlen, "memory.hotplug_method: '%s' is not Acpi or VirtioMem", method);
	if (!c->dev.vmem_size && c->dev.vmem_requested)
		return fail(err, errlen, "memory.hotplugged_size: without a hotplug_size");
	if (!c->dev.vmem_size)
		return 0;
	if (strcmp(method, "VirtioMem"))
		return fail(err, errlen, "memory.hotplug_size: ACPI memory hotplug is not supported by "
			    "cvmm (hotplug_method VirtioMem is)");
	if (c->dev.vmem_size % CVMM_VM_VMEM_BLOCK || c->dev.vmem_requested % CVMM_VM_VMEM_BLOCK)
		return fail(err, errlen, "memory.hotplug_size, hotplugged_size: not whole 2 MiB blocks");
	if (c->dev.vmem_requested > c->dev.vmem_size)
		return fail(err, errlen, "memory.hotplugged_size: more than hotplug_size");
	if (c->hugepages)
		return fail(err, errlen, "memory.hotplug_method: VirtioMem is not supported with huge pages");
	c->dev.vmem = true;
	return 0;
}

/*
 * Cloud Hypervisor's PlatformConfig, with cvmm's own field "transport"
 * ("pci" or "mmio"): the default of every device (CVMM_VM_TR_DEFAULT).
 */
static int parse_platform(struct json_object *j, struct cvmm_vm_devices *d, char *err,
			  size_t errlen)
{
	static const char *const known[] = { "transport", NULL };
	static const struct dflt dflts[] = {
		{ "num_pci_segments", "1" }, { "iommu_segments", NULL },
		{ "iommu_address_width", NULL }, { "serial_number", NULL }, { "uuid", NULL },
		{ "oem_strings", NULL }, { "tdx", NULL }, { "sev_snp", NULL }, { NULL, NULL },
	};
	struct json_object *o;
	const char *t = NULL;
	int ret;

	if (!json_object_object_get_ex(j, "platform", &o) || json_object_is_type(o, json_type_null))
		return 0;
	if ((ret = check_keys(o, "platform", known, dflts, err, errlen)))
		return ret;
	if ((ret = get_str(o, "transport", "platform", &t, err, errlen)) <= 0)
		return ret;
	if (!strcmp(t, "pci"))
		d->transport = CVMM_VM_TR_PCI;
	else if (!strcmp(t, "mmio"))
		d->transport = CVMM_VM_TR_MMIO;
	else
		return fail(err, errlen, "platform.transport: '%s' is not pci or mmio", t);
	return 0;
}

int cvmm_vm_config_from_json(struct json_object *j, struct cvmm_vm_config *c, char *err,
			   size_t errlen)
{
	static const char *const known[] = {
		"payload", "cpus", "memory", "disks", "net", "rng", "fs", "generic_vhost_user",
		"serial", "console", "vsock", "balloon", "platform", NULL,
	};
	static const struct dflt dflts[] = {
		{ "rate_limit_groups", NULL }, { "pmem", NULL },
		{ "debug_console", "{\"mode\":\"Off\"}" }, { "devices", NULL },
		{ "user_devices", NULL }, { "vdpa", NULL }, { "numa", NULL }, { "iommu", NULL },
		{ "watchdog", NULL }, { "rtc", NULL }, { "pvpanic", NULL }, { "pci_segments", NULL },
		{ "tpm", NULL }, { "landlock_enable", NULL },
		{ "landlock_rules", NULL }, { NULL, NULL },
	};
	struct json_object *o;
	const char *mode = NULL, *file = NULL;
	int ret;

	err[0] = '\0';
	if ((ret = check_keys(j, "VmConfig", known, dflts, err, errlen)))
		return ret;
	c->kernel = c->initrd = c->cmdline = NULL;
	c->cpus = 1;
	c->memory = 512ull << 20;  /* Cloud Hypervisor's default */
	c->mem_shared = c->hugepages = c->prefault = false;
	/* Cloud Hypervisor's default serial is Null: a port that drops output. */
	c->serial = CVMM_VM_SERIAL_OFF;
	c->serial_path = NULL;
	{
		/* --guest-arg is no VmConfig field: the test guests keep it */
		uint64_t ga[4];
		bool pci = c->dev.pci;
		enum cvmm_vm_transport tr = c->dev.transport;

		memcpy(ga, c->dev.guest_args, sizeof(ga));
		cvmm_vm_devices_clear(&c->dev);
		memcpy(c->dev.guest_args, ga, sizeof(ga));
		/* --pci, --transport: the command line's, unless platform says */
		c->dev.pci = pci;
		c->dev.transport = tr;
	}
	if ((ret = parse_platform(j, &c->dev, err, errlen)) ||
	    (ret = parse_payload(j, c, err, errlen)) || (ret = parse_cpus(j, c, err, errlen)) ||
	    (ret = parse_memory(j, c, err, errlen)) ||
	    (ret = each(j, "disks", &c->dev, "disk", err, errlen)) ||
	    (ret = each(j, "net", &c->dev, "net", err, errlen)) ||
	    (ret = each(j, "fs", &c->dev, "fs", err, errlen)) ||
	    (ret = each(j, "generic_vhost_user", &c->dev, "generic_vhost_user", err, errlen)))
		return ret;
	if (json_object_object_get_ex(j, "vsock", &o) && !json_object_is_type(o, json_type_null) &&
	    (ret = add_vsock(o, "vsock", &c->dev, err, errlen)))
		return ret;
	if (json_object_object_get_ex(j, "rng", &o) && !json_object_is_type(o, json_type_null)) {
		static const char *const rk[] = { "src", "iommu", "transport", NULL };
		const char *src = NULL;

		if ((ret = check_keys(o, "rng", rk, pci_dflts_iommu, err, errlen)) ||
		    get_str(o, "src", "rng", &src, err, errlen) < 0 ||
		    get_bool(o, "iommu", "rng", &c->dev.rng_tr.iommu, err, errlen) < 0 ||
		    get_transport(o, "rng", &c->dev.rng_tr, err, errlen) < 0)
			return -EINVAL;
		if (src && strcmp(src, "/dev/urandom"))
			return fail(err, errlen, "rng.src: '%s': cvmm's virtio-rng reads getrandom() only (/dev/urandom)",
				    src);
		c->dev.rng = true;
	}
	if (json_object_object_get_ex(j, "balloon", &o) && !json_object_is_type(o, json_type_null)) {
		/* Cloud Hypervisor's BalloonConfig */
		static const char *const bk[] = { "size", "deflate_on_oom", "free_page_reporting",
						  "transport", NULL };
		static const struct dflt bd[] = { { NULL, NULL } };

		if ((ret = check_keys(o, "balloon", bk, bd, err, errlen)))
			return ret;
		ret = get_u64(o, "size", "balloon", 0, (uint64_t)UINT32_MAX * 4096, &c->dev.balloon_size,
			      err, errlen);
		if (ret < 0)
			return ret;
		if (!ret)
			return fail(err, errlen, "balloon.size: missing");
		if (get_transport(o, "balloon", &c->dev.balloon_tr, err, errlen) < 0 ||
		    get_bool(o, "deflate_on_oom", "balloon", &c->dev.balloon_oom, err, errlen) < 0 ||
		    get_bool(o, "free_page_reporting", "balloon", &c->dev.balloon_fpr, err,
			     errlen) < 0)
			return -EINVAL;
		c->dev.balloon_size &= ~4095ull;
		if (c->dev.balloon_size > c->memory)
			return fail(err, errlen, "balloon.size: more than memory.size");
		c->dev.balloon = true;
	}
	if (json_object_object_get_ex(j, "serial", &o) && !json_object_is_type(o, json_type_null)) {
		if ((ret = cvmm_vm_console_json(o, "serial", &mode, &file, err, errlen)))
			return ret;
		c->serial = !strcmp(mode, "Tty") ? CVMM_VM_SERIAL_STDIO :
			    !strcmp(mode, "File") ? CVMM_VM_SERIAL_FILE : CVMM_VM_SERIAL_OFF;
		c->serial_path = file;
	}
	mode = file = NULL;
	if (json_object_object_get_ex(j, "console", &o) && !json_object_is_type(o, json_type_null)) {
		if ((ret = cvmm_vm_console_json(o, "console", &mode, &file, err, errlen)))
			return ret;
		c->dev.console = !strcmp(mode, "Tty") ? CVMM_VM_CONSOLE_STDIO :
				 !strcmp(mode, "File") ? CVMM_VM_CONSOLE_FILE : CVMM_VM_CONSOLE_NONE;
		c->dev.console_path[0] = '\0';
		if (file && strlen(file) >= sizeof(c->dev.console_path))
			return fail(err, errlen, "VmConfig: console.file: longer than %zu bytes",
				    sizeof(c->dev.console_path) - 1);
		if (file)
			strcpy(c->dev.console_path, file);
	}
	if (cvmm_vm_virtio_count(&c->dev) > CVMM_VM_VIRTIO_MAX)
		return fail(err, errlen, "VmConfig: %u virtio devices, more than the %u cvmm places",
			    cvmm_vm_virtio_count(&c->dev), CVMM_VM_VIRTIO_MAX);
	if (cvmm_vm_iommu_check(&c->dev, err, errlen))
		return -EINVAL;
	if (cvmm_vm_pci_assign(&c->dev))
		return fail(err, errlen, "VmConfig: more than 31 PCI devices");
	return 0;
}

int cvmm_vm_config_from_file(const char *path, const char *opt, struct cvmm_vm_config *c,
			     struct json_object **json, char *err, size_t errlen)
{
	struct json_object *j = json_object_from_file(path);
	char why[400];

	if (!j) {
		fail(err, errlen, "%s: '%s': %s", opt, path,
		     json_util_get_last_err() ? json_util_get_last_err() : "not JSON");
		err[strcspn(err, "\n")] = '\0';
		return -EINVAL;
	}
	if (cvmm_vm_config_from_json(j, c, why, sizeof(why))) {
		json_object_put(j);
		return fail(err, errlen, "%s: '%s': %s", opt, path, why);
	}
	*json = j;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* back to JSON                                                             */
/* ------------------------------------------------------------------------ */

static void add(struct json_object *o, const char *k, struct json_object *v)
{
	json_object_object_add(o, k, v);
}

/* A device's own transport, when it has one (the VM's is platform's). */
static void add_transport(struct json_object *o, const struct cvmm_vm_tr *tr)
{
	if (tr->kind != CVMM_VM_TR_DEFAULT)
		add(o, "transport", json_object_new_string(tr->kind == CVMM_VM_TR_PCI ? "pci"
							   : "mmio"));
}

static struct json_object *bucket_json(uint64_t rate)
{
	struct json_object *b = json_object_new_object();

	add(b, "size", json_object_new_int64((int64_t)rate));
	add(b, "refill_time", json_object_new_int64(1000));
	return b;
}

static struct json_object *mode_json(const char *mode, const char *file)
{
	struct json_object *o = json_object_new_object();

	add(o, "mode", json_object_new_string(mode));
	if (file)
		add(o, "file", json_object_new_string(file));
	return o;
}

/* --vhost-user or generic_vhost_user: whatever the type, echoed as given. */
static bool is_generic(const struct cvmm_vm_vhost *v)
{
	return !strcmp(v->opt, "generic_vhost_user") || !strcmp(v->opt, "--vhost-user");
}

static struct json_object *vhost_json(const struct cvmm_vm_vhost *v)
{
	struct json_object *o = json_object_new_object();

	if (is_generic(v)) {
		struct json_object *qs = json_object_new_array();

		for (unsigned int i = 0; i < v->queues; i++)
			json_object_array_add(qs, json_object_new_int(256));
		add(o, "socket", json_object_new_string(v->socket));
		add(o, "device_type", json_object_new_int((int)v->type));
		add(o, "queue_sizes", qs);
	} else if (v->type == CVMM_VIRTIO_ID_BLOCK || v->type == CVMM_VIRTIO_ID_NET) {
		add(o, "vhost_user", json_object_new_boolean(1));
		add(o, "vhost_socket", json_object_new_string(v->socket));
		if (v->queues)
			add(o, "num_queues", json_object_new_int((int)v->queues));
	} else if (v->type == CVMM_VM_VIRTIO_ID_FS) {
		add(o, "tag", json_object_new_string(v->tag));
		add(o, "socket", json_object_new_string(v->socket));
		add(o, "num_queues", json_object_new_int(v->queues ? (int)v->queues : 1));
		add(o, "queue_size", json_object_new_int(1024));
	}
	if (v->id[0])
		add(o, "id", json_object_new_string(v->id));
	if (v->tr.iommu && !is_generic(v) &&
	    (v->type == CVMM_VIRTIO_ID_BLOCK || v->type == CVMM_VIRTIO_ID_NET))
		add(o, "iommu", json_object_new_boolean(true));
	add_transport(o, &v->tr);
	return o;
}

struct json_object *cvmm_vm_config_to_json(const struct cvmm_vm_config *c)
{
	const struct cvmm_vm_devices *d = &c->dev;
	struct json_object *j = json_object_new_object(), *o, *a, *fs, *gen;

	if (!j)
		return NULL;
	o = json_object_new_object();
	add(o, "kernel", json_object_new_string(c->kernel ? c->kernel : ""));
	add(o, "cmdline", json_object_new_string(c->cmdline ? c->cmdline : CVMM_VM_DEFAULT_CMDLINE));
	if (c->initrd)
		add(o, "initramfs", json_object_new_string(c->initrd));
	add(j, "payload", o);
	o = json_object_new_object();
	add(o, "boot_vcpus", json_object_new_int((int)c->cpus));
	add(o, "max_vcpus", json_object_new_int((int)c->cpus));
	add(j, "cpus", o);
	o = json_object_new_object();
	add(o, "size", json_object_new_int64((int64_t)c->memory));
	add(o, "shared", json_object_new_boolean(c->mem_shared || d->nvhost));
	add(o, "hugepages", json_object_new_boolean(c->hugepages));
	if (c->hugepages)
		add(o, "hugepage_size", json_object_new_int64(2 << 20));
	add(o, "prefault", json_object_new_boolean(c->prefault));
	if (d->vmem) {
		add(o, "hotplug_method", json_object_new_string("VirtioMem"));
		add(o, "hotplug_size", json_object_new_int64((int64_t)d->vmem_size));
		add(o, "hotplugged_size", json_object_new_int64((int64_t)d->vmem_requested));
	}
	add(j, "memory", o);
	a = json_object_new_array();
	for (unsigned int i = 0; i < d->ndisks; i++) {
		const struct cvmm_vm_disk *k = &d->disk[i];

		o = json_object_new_object();
		add(o, "path", json_object_new_string(k->path));
		add(o, "readonly", json_object_new_boolean(k->read_only));
		add(o, "direct", json_object_new_boolean(k->direct));
		add(o, "num_queues", json_object_new_int(1));
		add(o, "queue_size", json_object_new_int(k->queue_size ? (int)k->queue_size : 256));
		if (k->ops_per_sec || k->bytes_per_sec) {
			struct json_object *rl = json_object_new_object();

			if (k->ops_per_sec)
				add(rl, "ops", bucket_json(k->ops_per_sec));
			if (k->bytes_per_sec)
				add(rl, "bandwidth", bucket_json(k->bytes_per_sec));
			add(o, "rate_limiter_config", rl);
		}
		if (k->id[0])
			add(o, "id", json_object_new_string(k->id));
		if (k->tr.iommu)
			add(o, "iommu", json_object_new_boolean(true));
		add_transport(o, &k->tr);
		json_object_array_add(a, o);
	}
	fs = json_object_new_array();
	gen = json_object_new_array();
	for (unsigned int i = 0; i < d->nvhost; i++) {
		uint32_t t = d->vhost[i].type;

		if (is_generic(&d->vhost[i]))
			json_object_array_add(gen, vhost_json(&d->vhost[i]));
		else if (t == CVMM_VIRTIO_ID_BLOCK)
			json_object_array_add(a, vhost_json(&d->vhost[i]));
		else if (t == CVMM_VM_VIRTIO_ID_FS)
			json_object_array_add(fs, vhost_json(&d->vhost[i]));
		else if (t != CVMM_VIRTIO_ID_NET)
			json_object_array_add(gen, vhost_json(&d->vhost[i]));
	}
	add(j, "disks", a);
	a = json_object_new_array();
	for (unsigned int i = 0; i < d->nnets; i++) {
		const struct cvmm_vm_net *k = &d->net[i];
		char mac[18];

		o = json_object_new_object();
		/* A card on passed fds has no name, unless a local migration
		 * passed them for the TAP it names (the next move needs it). */
		if (k->tap[0])
			add(o, "tap", json_object_new_string(k->tap));
		if (k->has_mac) {
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", k->mac[0],
				 k->mac[1], k->mac[2], k->mac[3], k->mac[4], k->mac[5]);
			add(o, "mac", json_object_new_string(mac));
		}
		add(o, "num_queues", json_object_new_int((int)k->queues * 2));
		add(o, "queue_size", json_object_new_int(k->queue_size ? (int)k->queue_size : 256));
		if (k->id[0])
			add(o, "id", json_object_new_string(k->id));
		if (k->tr.iommu)
			add(o, "iommu", json_object_new_boolean(true));
		add_transport(o, &k->tr);
		json_object_array_add(a, o);
	}
	for (unsigned int i = 0; i < d->nvhost; i++)
		if (d->vhost[i].type == CVMM_VIRTIO_ID_NET && !is_generic(&d->vhost[i]))
			json_object_array_add(a, vhost_json(&d->vhost[i]));
	add(j, "net", a);
	add(j, "fs", fs);
	add(j, "generic_vhost_user", gen);
	if (d->rng) {
		o = json_object_new_object();
		add(o, "src", json_object_new_string("/dev/urandom"));
		if (d->rng_tr.iommu)
			add(o, "iommu", json_object_new_boolean(true));
		add_transport(o, &d->rng_tr);
		add(j, "rng", o);
	}
	if (d->balloon) {
		o = json_object_new_object();
		add(o, "size", json_object_new_int64((int64_t)d->balloon_size));
		add(o, "deflate_on_oom", json_object_new_boolean(d->balloon_oom));
		add(o, "free_page_reporting", json_object_new_boolean(d->balloon_fpr));
		add_transport(o, &d->balloon_tr);
		add(j, "balloon", o);
	}
	if (d->vsock) {
		o = json_object_new_object();
		add(o, "cid", json_object_new_int64((int64_t)d->vsock_cid));
		add(o, "socket", json_object_new_string(d->vsock_path));
		if (d->vsock_tr.iommu)
			add(o, "iommu", json_object_new_boolean(true));
		if (d->vsock_id[0])
			add(o, "id", json_object_new_string(d->vsock_id));
		add_transport(o, &d->vsock_tr);
		add(j, "vsock", o);
	}
	add(j, "serial", c->serial == CVMM_VM_SERIAL_STDIO ? mode_json("Tty", NULL) :
			 c->serial == CVMM_VM_SERIAL_FILE ? mode_json("File", c->serial_path) :
			 mode_json("Null", NULL));
	add(j, "console", d->console == CVMM_VM_CONSOLE_STDIO ? mode_json("Tty", NULL) :
			  d->console == CVMM_VM_CONSOLE_FILE ? mode_json("File", d->console_path) :
			  mode_json("Off", NULL));
	if (d->transport != CVMM_VM_TR_DEFAULT) {
		o = json_object_new_object();
		add(o, "transport", json_object_new_string(d->transport == CVMM_VM_TR_PCI ? "pci"
							   : "mmio"));
		add(j, "platform", o);
	}
	return j;
}
