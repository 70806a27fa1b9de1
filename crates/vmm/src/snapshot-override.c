/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a vm.restore body may change in the snapshot's VM: the host side
 * of its devices, so that clones of one snapshot do not fight over one
 * TAP, socket, image or log file. Cloud Hypervisor's net_fds, Firecracker's
 * network_overrides and vsock_override, and cvmm's disk_overrides, serial
 * and console. Every field is checked against the configuration before
 * anything changes: a body that cannot be taken changes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include <cvmm/vmm/snap.h>

#include "vm-internal.h"

#define fail cvmm_vm_errf

/* @o holds only @keys, each a non-empty string, into @out in order. */
static int obj_strings(struct json_object *o, const char *where, const char *const *keys,
		       const char **out, char *err, size_t errlen)
{
	struct json_object *v;

	if (!json_object_is_type(o, json_type_object))
		return fail(err, errlen, -EINVAL, "%s: not an object", where);
	json_object_object_foreach(o, k, kv) {
		bool known = false;

		(void)kv;
		for (size_t i = 0; keys[i]; i++)
			known |= !strcmp(k, keys[i]);
		if (!known)
			return fail(err, errlen, -EINVAL, "%s: unknown field '%s'", where, k);
	}
	for (size_t i = 0; keys[i]; i++) {
		if (!json_object_object_get_ex(o, keys[i], &v) || !json_object_is_type(v, json_type_string) ||
		    !json_object_get_string_len(v))
			return fail(err, errlen, -EINVAL, "%s: needs a non-empty string \"%s\"", where,
				    keys[i]);
		out[i] = json_object_get_string(v);
	}
	return 0;
}

/* Does "net_fds" of @body name card @id? */
static bool in_net_fds(struct json_object *body, const char *id)
{
	struct json_object *arr, *v;

	if (!json_object_object_get_ex(body, "net_fds", &arr) || !json_object_is_type(arr, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(arr, i), "id", &v) &&
		    json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), id))
			return true;
	return false;
}

bool cvmm_vm_snap_body_names_net(struct json_object *body, const char *id)
{
	struct json_object *arr, *v;

	if (in_net_fds(body, id))
		return true;
	if (!json_object_object_get_ex(body, "network_overrides", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(arr, i), "iface_id", &v) &&
		    json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), id))
			return true;
	return false;
}

/* What the body changes, found and checked before anything is applied. */
struct overrides {
	struct cvmm_vm_net *net[CVMM_VM_MAX_NETS];
	const char *tap[CVMM_VM_MAX_NETS];
	size_t nnet;
	struct cvmm_vm_disk *disk[CVMM_VM_MAX_DISKS];
	const char *path[CVMM_VM_MAX_DISKS];
	size_t ndisk;
	const char *vsock;
	bool serial;
	enum cvmm_vm_serial_mode serial_mode;
	const char *serial_file;
	bool console;
	enum cvmm_vm_console_mode console_mode;
	const char *console_file;
};

static int check_nets(struct json_object *body, struct cvmm_vm_devices *d, struct overrides *o,
		      char *err, size_t errlen)
{
	static const char *const keys[] = { "iface_id", "host_dev_name", NULL };
	struct json_object *arr;
	char where[48];

	if (!json_object_object_get_ex(body, "network_overrides", &arr))
		return 0;
	if (!json_object_is_type(arr, json_type_array) || json_object_array_length(arr) > CVMM_VM_MAX_NETS)
		return fail(err, errlen, -EINVAL, "network_overrides: an array of at most %u "
			    "{\"iface_id\", \"host_dev_name\"}", CVMM_VM_MAX_NETS);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		const char *v[2];
		int ret;

		snprintf(where, sizeof(where), "network_overrides[%zu]", i);
		if ((ret = obj_strings(json_object_array_get_idx(arr, i), where, keys, v, err, errlen)))
			return ret;
		o->net[i] = NULL;
		for (unsigned int k = 0; k < d->nnets; k++)
			if (!strcmp(d->net[k].id, v[0]))
				o->net[i] = &d->net[k];
		if (!o->net[i])
			return fail(err, errlen, -EINVAL, "%s: the snapshot's VM has no network card "
				    "'%s' on a TAP", where, v[0]);
		for (size_t j = 0; j < i; j++)
			if (o->net[j] == o->net[i])
				return fail(err, errlen, -EINVAL, "network_overrides: '%s' twice", v[0]);
		if (in_net_fds(body, v[0]))
			return fail(err, errlen, -EINVAL, "%s: '%s' gets TAP fds from net_fds already",
				    where, v[0]);
		if (strlen(v[1]) >= sizeof(d->net[0].tap))
			return fail(err, errlen, -EINVAL, "%s: host_dev_name '%s' is longer than %zu "
				    "bytes (IFNAMSIZ)", where, v[1], sizeof(d->net[0].tap) - 1);
		o->tap[i] = v[1];
		o->nnet = i + 1;
	}
	return 0;
}

static int check_disks(struct json_object *body, struct cvmm_vm_devices *d, struct overrides *o,
		       char *err, size_t errlen)
{
	static const char *const keys[] = { "id", "path", NULL };
	struct json_object *arr;
	char where[48];

	if (!json_object_object_get_ex(body, "disk_overrides", &arr))
		return 0;
	if (!json_object_is_type(arr, json_type_array) ||
	    json_object_array_length(arr) > CVMM_VM_MAX_DISKS)
		return fail(err, errlen, -EINVAL, "disk_overrides: an array of at most %u "
			    "{\"id\", \"path\"}", CVMM_VM_MAX_DISKS);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		const char *v[2];
		int ret;

		snprintf(where, sizeof(where), "disk_overrides[%zu]", i);
		if ((ret = obj_strings(json_object_array_get_idx(arr, i), where, keys, v, err, errlen)))
			return ret;
		o->disk[i] = NULL;
		for (unsigned int k = 0; k < d->ndisks; k++)
			if (!strcmp(d->disk[k].id, v[0]))
				o->disk[i] = &d->disk[k];
		if (!o->disk[i])
			return fail(err, errlen, -EINVAL, "%s: the snapshot's VM has no disk '%s' "
				    "(vhost-user disks have no path)", where, v[0]);
		for (size_t j = 0; j < i; j++)
			if (o->disk[j] == o->disk[i])
				return fail(err, errlen, -EINVAL, "disk_overrides: '%s' twice", v[0]);
		if (strlen(v[1]) >= CVMM_VM_DISK_PATH_MAX)
			return fail(err, errlen, -EINVAL, "%s: path longer than %u bytes", where,
				    CVMM_VM_DISK_PATH_MAX - 1);
		o->path[i] = v[1];
		o->ndisk = i + 1;
	}
	return 0;
}

static int check_vsock(struct json_object *body, struct cvmm_vm_devices *d, struct overrides *o,
		       char *err, size_t errlen)
{
	static const char *const keys[] = { "uds_path", NULL };
	struct json_object *v;
	struct stat st;
	int ret;

	if (!json_object_object_get_ex(body, "vsock_override", &v))
		return 0;
	if ((ret = obj_strings(v, "vsock_override", keys, &o->vsock, err, errlen)))
		return ret;
	if (!d->vsock)
		return fail(err, errlen, -EINVAL, "vsock_override: the snapshot's VM has no vsock device");
	if (strlen(o->vsock) >= CVMM_VM_VSOCK_PATH_MAX)
		return fail(err, errlen, -EINVAL, "vsock_override: uds_path longer than %u bytes "
			    "(a unix socket's path, with '_PORT' after it)", CVMM_VM_VSOCK_PATH_MAX - 1);
	if (!lstat(o->vsock, &st))
		return fail(err, errlen, -EINVAL, "vsock_override: uds_path '%s' exists already",
			    o->vsock);
	return 0;
}

/* "serial" and "console": Cloud Hypervisor's {"mode": "Off"|"Null"|"Tty"|"File", "file"}. */
static int check_outputs(struct json_object *body, struct cvmm_vm_devices *d, struct overrides *o,
			 char *err, size_t errlen)
{
	struct json_object *v;
	const char *mode, *file;
	int ret;

	if (json_object_object_get_ex(body, "serial", &v)) {
		mode = file = NULL;
		if ((ret = cvmm_vm_console_json(v, "serial", &mode, &file, err, errlen)))
			return ret;
		o->serial = true;
		o->serial_mode = !strcmp(mode, "Tty") ? CVMM_VM_SERIAL_STDIO :
				 !strcmp(mode, "File") ? CVMM_VM_SERIAL_FILE : CVMM_VM_SERIAL_OFF;
		o->serial_file = file;
	}
	if (json_object_object_get_ex(body, "console", &v)) {
		mode = file = NULL;
		if ((ret = cvmm_vm_console_json(v, "console", &mode, &file, err, errlen)))
			return ret;
		/* The guest has (or lacks) a virtio-console: only where its
		 * output goes can change. */
		if (d->console == CVMM_VM_CONSOLE_NONE)
			return fail(err, errlen, -EINVAL, "console: the snapshot's VM has no console device");
		if (strcmp(mode, "Tty") && strcmp(mode, "File"))
			return fail(err, errlen, -EINVAL, "console: mode '%s' would remove the VM's "
				    "console device (Tty or File)", mode);
		if (file && strlen(file) >= sizeof(d->console_path))
			return fail(err, errlen, -EINVAL, "console.file: longer than %zu bytes",
				    sizeof(d->console_path) - 1);
		o->console = true;
		o->console_mode = !strcmp(mode, "Tty") ? CVMM_VM_CONSOLE_STDIO : CVMM_VM_CONSOLE_FILE;
		o->console_file = file;
	}
	return 0;
}

int cvmm_vm_snap_api_restore_overrides(struct cvmm_vm_snap *s, struct json_object *body,
				       struct cvmm_vm_config *c, int *fds, unsigned int nfds,
				       char *err, size_t errlen)
{
	struct overrides o = { .nnet = 0 };
	struct cvmm_vm_devices *d = &c->dev;
	char *serial = NULL;
	int ret;

	if (!body)
		return cvmm_vm_snap_api_restore_fds(body, d, fds, nfds, err, errlen);
	if ((ret = check_nets(body, d, &o, err, errlen)) ||
	    (ret = check_disks(body, d, &o, err, errlen)) ||
	    (ret = check_vsock(body, d, &o, err, errlen)) ||
	    (ret = check_outputs(body, d, &o, err, errlen)))
		return ret;
	if (o.serial_file && !(serial = strdup(o.serial_file)))
		return fail(err, errlen, -ENOMEM, "out of memory");
	/* net_fds checks everything before it takes a fd: the last to fail */
	if ((ret = cvmm_vm_snap_api_restore_fds(body, d, fds, nfds, err, errlen))) {
		free(serial);
		return ret;
	}
	for (size_t i = 0; i < o.nnet; i++) {
		struct cvmm_vm_net *n = o.net[i];

		for (unsigned int q = 0; q < n->nfds; q++)
			cvmm_close(n->fds[q]);
		n->nfds = 0;
		snprintf(n->tap, sizeof(n->tap), "%s", o.tap[i]);
	}
	for (size_t i = 0; i < o.ndisk; i++)
		snprintf(o.disk[i]->path, sizeof(o.disk[i]->path), "%s", o.path[i]);
	if (o.vsock)
		snprintf(d->vsock_path, sizeof(d->vsock_path), "%s", o.vsock);
	if (o.serial) {
		free(s->ovr_serial);
		s->ovr_serial = serial;
		c->serial = o.serial_mode;
		c->serial_path = serial;
	}
	if (o.console) {
		d->console = o.console_mode;
		snprintf(d->console_path, sizeof(d->console_path), "%s",
			 o.console_file ? o.console_file : "");
	}
	return 0;
}

int cvmm_vm_snap_api_restore_fds(struct json_object *body, struct cvmm_vm_devices *d, int *fds,
				 unsigned int nfds, char *err, size_t errlen)
{
	struct json_object *arr, *e, *v;
	struct cvmm_vm_net *take[CVMM_VM_MAX_NETS];
	unsigned int count[CVMM_VM_MAX_NETS], used = 0;
	size_t n;

	if (!body || !json_object_object_get_ex(body, "net_fds", &arr)) {
		if (nfds)
			return fail(err, errlen, -EINVAL, "%u fds came with the request but no "
				    "\"net_fds\" says whose", nfds);
		return 0;
	}
	if (!json_object_is_type(arr, json_type_array) ||
	    (n = json_object_array_length(arr)) > CVMM_VM_MAX_NETS)
		return fail(err, errlen, -EINVAL, "net_fds: an array of at most %u "
			    "{\"id\", \"num_fds\"}", CVMM_VM_MAX_NETS);
	/* Check everything before taking anything. */
	for (size_t i = 0; i < n; i++) {
		const char *id;
		int64_t num;

		e = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, "id", &v) || !json_object_is_type(v, json_type_string))
			return fail(err, errlen, -EINVAL, "net_fds[%zu]: needs a string \"id\"", i);
		id = json_object_get_string(v);
		json_object_object_foreach(e, key, kv) {
			(void)kv;
			if (strcmp(key, "id") && strcmp(key, "num_fds") && strcmp(key, "fds"))
				return fail(err, errlen, -EINVAL, "net_fds[%zu]: unknown field '%s'", i, key);
		}
		if (!json_object_object_get_ex(e, "num_fds", &v) || !json_object_is_type(v, json_type_int) ||
		    (num = json_object_get_int64(v)) < 1 || num > 7)
			return fail(err, errlen, -EINVAL, "net_fds[%zu] ('%s'): num_fds must be 1 to 7",
				    i, id);
		take[i] = NULL;
		for (unsigned int k = 0; k < d->nnets; k++)
			if (!strcmp(d->net[k].id, id))
				take[i] = &d->net[k];
		if (!take[i])
			return fail(err, errlen, -EINVAL, "net_fds[%zu]: the snapshot's VM has no "
				    "network card '%s'", i, id);
		for (size_t j = 0; j < i; j++)
			if (take[j] == take[i])
				return fail(err, errlen, -EINVAL, "net_fds: '%s' twice", id);
		if ((unsigned int)num != take[i]->queues)
			return fail(err, errlen, -EINVAL, "net_fds[%zu] ('%s'): %lld fds for %u queue "
				    "pairs (one a pair)", i, id, (long long)num, take[i]->queues);
		count[i] = (unsigned int)num;
		used += count[i];
	}
	if (used != nfds)
		return fail(err, errlen, -EINVAL, "net_fds: %u fds named, %u came with the request "
			    "(SCM_RIGHTS)", used, nfds);
	used = 0;
	for (size_t i = 0; i < n; i++) {
		struct cvmm_vm_net *k = take[i];

		for (unsigned int q = 0; q < k->nfds; q++)
			if (k->fds[q] >= 0)
				close(k->fds[q]);
		for (unsigned int q = 0; q < count[i]; q++) {
			k->fds[q] = fds[used];
			fds[used++] = -1;
		}
		k->nfds = count[i];
	}
	return 0;
}
