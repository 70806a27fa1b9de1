/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --event-monitor: Cloud Hypervisor's event monitor format, one JSON
 * object a line: {"timestamp":{"secs":S,"nanos":N},"source":"vm",
 * "event":"booted","properties":null}; the timestamp counts from the
 * VMM's start. Lines are written whole with one write() (O_APPEND for a
 * file), so events from several threads never interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include <cvmm/vmm/vm.h>

#include "vm-internal.h"

int cvmm_vm_event_monitor_open(const char *path, int evfd, char *err, size_t errlen)
{
	int fd;

	if (evfd >= 0) {
		if (fcntl(evfd, F_GETFD) < 0) {
			snprintf(err, errlen, "--event-monitor: fd: %d is not open", evfd);
			return -1;
		}
		return evfd;
	}
	if (!path)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		snprintf(err, errlen, "--event-monitor: cannot open '%s': %s", path, strerror(errno));
	return fd;
}

void cvmm_vm_event_monitor_write_props(int fd, uint64_t t0_ns, const char *source,
				       const char *event, const char *const *kv)
{
	struct json_object *o, *ts, *props = NULL;
	uint64_t ns = cvmm_now_ns() - t0_ns;
	const char *s;
	char line[1024];
	int n;

	if (fd < 0)
		return;
	o = json_object_new_object();
	ts = json_object_new_object();
	if (!o || !ts) {
		json_object_put(o);
		json_object_put(ts);
		return;
	}
	json_object_object_add(ts, "secs", json_object_new_int64((int64_t)(ns / 1000000000ull)));
	json_object_object_add(ts, "nanos", json_object_new_int64((int64_t)(ns % 1000000000ull)));
	json_object_object_add(o, "timestamp", ts);
	json_object_object_add(o, "source", json_object_new_string(source));
	json_object_object_add(o, "event", json_object_new_string(event));
	for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
		if (!props)
			props = json_object_new_object();
		json_object_object_add(props, kv[i], json_object_new_string(kv[i + 1]));
	}
	json_object_object_add(o, "properties", props);
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	n = snprintf(line, sizeof(line), "%s\n", s);
	/* one write() per line: threads reporting at once do not interleave */
	if (n > 0 && (size_t)n < sizeof(line) && write(fd, line, (size_t)n) < 0) {
		/* a full pipe or a gone reader loses the event, never the VM */
	}
	json_object_put(o);
}

void cvmm_vm_event_monitor_write(int fd, uint64_t t0_ns, const char *source, const char *event,
				 const char *id)
{
	const char *kv[] = { "id", id, NULL };

	cvmm_vm_event_monitor_write_props(fd, t0_ns, source, event, id ? kv : NULL);
}

const char *cvmm_vm_event_name(const struct cvmm_vmm_event *ev, const char **source)
{
	*source = "vm";
	switch (ev->type) {
	case CVMM_VMM_EV_BOOTING: return "booting";
	case CVMM_VMM_EV_BOOTED: return "booted";
	case CVMM_VMM_EV_PAUSING: return "pausing";
	case CVMM_VMM_EV_PAUSED: return "paused";
	case CVMM_VMM_EV_RESUMING: return "resuming";
	case CVMM_VMM_EV_RESUMED: return "resumed";
	case CVMM_VMM_EV_SHUTDOWN: return "shutdown";
	case CVMM_VMM_EV_DEVICE_ADDED: *source = "device-manager"; return "device-added";
	case CVMM_VMM_EV_DEVICE_REMOVED: *source = "device-manager"; return "device-removed";
	case CVMM_VMM_EV_VCPU_CRASH: *source = "vcpu"; return "crash";
	case CVMM_VMM_EV_POSTCOPY_PAUSED: return "postcopy-paused";
	case CVMM_VMM_EV_POSTCOPY_RESUMED: return "postcopy-resumed";
	}
	return NULL;
}
