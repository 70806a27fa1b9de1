/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cloud Hypervisor's REST API (docs/api.md) on the api crate: the
 * lifecycle, snapshot and restore handlers, routing and the main loop. The server thread parses requests; every handler that touches
 * the VM runs on the control loop (cvmm_event_manager_call), where the VM
 * lives, so the VM sees one caller at a time and a slow client only ever
 * delays other clients.
 *
 * As in Cloud Hypervisor, vm.create only records the configuration (and
 * vm.add-* edit it) and vm.boot builds the VM from it; a VM that was shut
 * down through the API stays for vm.info until vm.boot builds a new one
 * or vm.delete drops it. A guest that powers off, resets or crashes ends
 * the run with the exit status a program's flags path gives.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cvmm/sys-util.h>

#include "api-internal.h"
#include "vm-internal.h"

/* ------------------------------------------------------------------------ */
/* states                                                                   */
/* ------------------------------------------------------------------------ */

bool stopped(const struct api *a)
{
	return a->vm.vmm && (cvmm_vmm_state(a->vm.vmm) == CVMM_VMM_SHUTDOWN ||
			     cvmm_vmm_stop_reason(a->vm.vmm, NULL) != CVMM_VMM_STOP_NONE);
}

const char *state_name(const struct api *a)
{
	if (!a->vm.vmm)
		return "Created";
	if (stopped(a))
		return "Shutdown";
	if (a->restored_paused)
		return "Paused";
	return cvmm_vmm_state(a->vm.vmm) == CVMM_VMM_PAUSED ? "Paused" :
	       cvmm_vmm_state(a->vm.vmm) == CVMM_VMM_RUNNING ? "Running" : "Created";
}

/* A send runs on the migration thread: the VM must stay as it is. */
bool sending(const struct api *a)
{
	return a->mig.thread && a->mig.sending && !__atomic_load_n(&a->mig.done, __ATOMIC_ACQUIRE);
}

/* 404 without a VM; 409 unless the state is one of @ok ("Running|Paused"),
 * and while a send runs (but for vm.counters). */
bool need(struct api *a, struct cvmm_api_response *r, const char *ok, const char *what)
{
	const char *st;

	if (!a->have_cfg) {
		cvmm_api_error(r, 404, "%s: the VM is not created (vm.create first)", what);
		return false;
	}
	if (sending(a) && strcmp(what, "vm.counters")) {
		cvmm_api_error(r, 409, "%s: a migration runs (vm.migration-cancel first)", what);
		return false;
	}
	st = state_name(a);
	if (!strstr(ok, st)) {
		cvmm_api_error(r, 409, "%s: the VM is %s (needs %s)", what, st, ok);
		return false;
	}
	return true;
}

void emit(struct api *a, const char *source, const char *event, const char *id)
{
	cvmm_vm_event_monitor_write(a->evfd, a->vm.t0_ns, source, event, id);
}

/* Every event of the VM: the monitor hears it; a stop the API did not
 * ask for ends the VMM (the control thread sends SHUTDOWN). */
static void on_vm_event(void *opaque, const struct cvmm_vmm_event *ev)
{
	struct api *a = opaque;
	const char *src, *name = cvmm_vm_event_name(ev, &src);

	if (name)
		emit(a, src, name, ev->id);
	/* A device the guest ejected (vm.remove-device at runtime) is gone:
	 * out of the configuration, so a reboot or snapshot goes without. */
	if (ev->type == CVMM_VMM_EV_DEVICE_REMOVED && ev->id && a->vm.vmm &&
	    cvmm_vmm_state(a->vm.vmm) != CVMM_VMM_CREATED) {
		cvmm_vm_model_forget(&a->vm, ev->id);
		if (a->have_cfg)
			cvmm_vm_devices_remove(&a->cfg.dev, ev->id);
	}
	if (ev->type == CVMM_VMM_EV_SHUTDOWN && !a->api_stop) {
		a->quit = true;
		a->status = cvmm_vm_exit_status(a->vm.vmm);
		cvmm_event_manager_stop(a->em);
	}
}

/* ------------------------------------------------------------------------ */
/* the configuration                                                        */
/* ------------------------------------------------------------------------ */

void drop_vm(struct api *a)
{
	cvmm_vm_teardown(&a->vm);
	a->restored_paused = false;
	mig_close_fds(a);
}

void drop_cfg(struct api *a)
{
	if (a->have_cfg)
		cvmm_vm_devices_close_fds(&a->cfg.dev);
	json_object_put(a->cfg_json);
	a->cfg_json = NULL;
	cvmm_vm_snap_fini(&a->snap);
	a->have_cfg = false;
	a->id_counter = 0;
}

void adopt_cfg(struct api *a, const struct cvmm_vm_config *c, struct json_object *cj)
{
	a->cfg = *c;
	a->cfg_json = cj;
	a->have_cfg = true;
	a->id_counter = 0;
	cvmm_vm_devices_name(&a->cfg.dev, &a->id_counter);
	a->vm.cfg = &a->cfg;
}

/* The VM of a->cfg, started. @return 0 or 500/409 in @r. */
static int boot(struct api *a, struct cvmm_api_response *r)
{
	char err[512] = "";
	int ret;

	drop_vm(a);
	a->vm.cfg = &a->cfg;
	a->api_stop = false;
	ret = cvmm_vm_build(&a->vm, err, sizeof(err));
	if (!ret && (ret = cvmm_vmm_start(a->vm.vmm)))
		snprintf(err, sizeof(err), "cannot start the vCPU threads: %s", strerror(-ret));
	if (ret) {
		drop_vm(a);
		cvmm_api_error(r, 500, "vm.boot: %s", err[0] ? err : strerror(-ret));
		return ret;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* handlers (on the control loop)                                            */
/* ------------------------------------------------------------------------ */

typedef void (*loop_fn)(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r);

static void vmm_shutdown(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	(void)q;
	if (a->vm.vmm && !stopped(a)) {
		a->api_stop = true;
		cvmm_vmm_request_stop(a->vm.vmm, CVMM_VMM_STOP_REQUEST, 0);
	}
	a->quit = true;
	a->status = 0;
	cvmm_event_manager_stop(a->em);
	r->status = 204;
}

static void vm_create(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	struct cvmm_vm_config c = *a->flags;
	char err[400];

	if (a->have_cfg)
		return cvmm_api_error(r, 409, "vm.create: the VM is created already (vm.delete first)");
	if (cvmm_vm_config_from_json(q->json, &c, err, sizeof(err)))
		return cvmm_api_error(r, 400, "vm.create: %s", err);
	adopt_cfg(a, &c, json_object_get(q->json));
	r->status = 204;
}

static void vm_boot(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	(void)q;
	if (!need(a, r, "Created|Shutdown", "vm.boot"))
		return;
	if (!boot(a, r))
		r->status = 204;
}

static void vm_delete(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	(void)q;
	if (sending(a))
		return cvmm_api_error(r, 409, "vm.delete: a migration runs (vm.migration-cancel first)");
	if (a->vm.vmm) {
		a->api_stop = true;
		drop_vm(a);
	}
	if (a->have_cfg)
		emit(a, "vm", "deleted", NULL);
	drop_cfg(a);
	r->status = 204;
}

static void vm_pause(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	int ret;

	(void)q;
	if (!need(a, r, "Running", "vm.pause"))
		return;
	ret = cvmm_vmm_pause(a->vm.vmm);
	if (ret)
		return cvmm_api_error(r, 500, "vm.pause: %s", strerror(-ret));
	r->status = 204;
}

static void vm_resume(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	int ret;

	(void)q;
	if (!need(a, r, "Paused", "vm.resume"))
		return;
	{
		struct cvmm_vmm_mig_progress p;

		/* The guest runs over there on what it got: running it here
		 * too would make two copies (and two writers of its disks,
		 * whose locks went with it). */
		if (a->mig.sending && cvmm_vmm_migrate_progress(a->vm.vmm, &p) &&
		    p.state == CVMM_VMM_MIG_POSTCOPY_PAUSED)
			return cvmm_api_error(r, 409, "vm.resume: the guest runs on the post-copy's "
					      "destination (postcopy-paused): resume the migration "
					      "(vm.send-migration with 'resume') or vm.delete");
	}
	if (a->restored_paused) {
		/* a restored VM that never ran: its vCPUs start here */
		a->restored_paused = false;
		ret = cvmm_vmm_start(a->vm.vmm);
	} else {
		ret = cvmm_vmm_resume(a->vm.vmm);
	}
	if (ret)
		return cvmm_api_error(r, 500, "vm.resume: %s", strerror(-ret));
	r->status = 204;
}

static void vm_shutdown(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	(void)q;
	if (!need(a, r, "Running|Paused", "vm.shutdown"))
		return;
	a->api_stop = true;
	cvmm_vmm_stop(a->vm.vmm, CVMM_VMM_STOP_REQUEST, 0);
	r->status = 204;
}

/* A new VM from the same configuration: what a reset does to hardware. */
static void vm_reboot(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	(void)q;
	if (!need(a, r, "Running|Paused", "vm.reboot"))
		return;
	emit(a, "vm", "rebooting", NULL);
	a->api_stop = true;
	if (!boot(a, r)) {
		emit(a, "vm", "rebooted", NULL);
		r->status = 204;
	}
}

static void vm_power_button(struct api *a, struct cvmm_api_request *q,
			    struct cvmm_api_response *r)
{
	(void)q;
	if (!need(a, r, "Running|Paused", "vm.power-button"))
		return;
	if (cvmm_vmm_power_button(a->vm.vmm))
		return cvmm_api_error(r, 409, "vm.power-button: the VM has no ACPI GED (virtio-mmio "
				      "devices took every interrupt line); use vm.shutdown");
	r->status = 204;
}

/* ------------------------------------------------------------------------ */
/* the server side: every handler runs on the loop                          */
/* ------------------------------------------------------------------------ */

/* vm.snapshot {"destination_url": "file:///DIR"} on a paused VM (snapshot.c). */
static void vm_snapshot(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	char err[512] = "";
	int ret;

	if (!need(a, r, "Paused", "vm.snapshot"))
		return;
	if (a->restored_paused)
		return cvmm_api_error(r, 409, "vm.snapshot: the VM was restored and never ran "
				      "(its snapshot is the one it came from)");
	emit(a, "vm", "snapshotting", NULL);
	a->snap.evfd = a->evfd;
	a->snap.t0_ns = a->vm.t0_ns;
	a->snap.live = &a->snap_live;
	cvmm_vm_snap_live_begin(&a->snap_live, CVMM_VM_SNAP_OP_SNAPSHOT);
	ret = cvmm_vm_snap_api_snapshot(&a->snap, a->vm.vmm, &a->cfg, q->json, err, sizeof(err));
	cvmm_vm_snap_live_end(&a->snap_live, ret);
	if (ret)
		return cvmm_api_error(r, ret == -EINVAL && !strstr(err, "snapshot '") ? 400 : 500,
				      "vm.snapshot: %s", err[0] ? err : strerror(-ret));
	emit(a, "vm", "snapshotted", NULL);
	r->status = 204;
}

/* vm.restore's work on an empty VMM: the VM of the snapshot's config,
 * restored instead of booted; running with "resume": true, else Paused. */
static void restore(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	struct cvmm_vm_config c = *a->flags;
	struct json_object *cj = NULL;
	struct cvmm_vm_outputs outs;
	const char *initrd;
	char err[512] = "";
	int ret;

	ret = cvmm_vm_snap_api_restore_open(&a->snap, q->json, &c, &cj, err, sizeof(err));
	if (ret) {
		cvmm_vm_snap_fini(&a->snap);
		return cvmm_api_error(r, ret == -EINVAL && !strstr(err, "snapshot '") ? 400 : 500,
				      "vm.restore: %s", err[0] ? err : strerror(-ret));
	}
	adopt_cfg(a, &c, cj);
	/* The host side of its devices: TAP fds or names, vsock socket, disk
	 * images, serial and console files of this clone's own. Then the
	 * images are looked at as a boot would (not the kernel and initrd: a
	 * restore does not read them). */
	initrd = a->cfg.initrd;
	a->cfg.initrd = NULL;
	if ((ret = cvmm_vm_snap_api_restore_overrides(&a->snap, q->json, &a->cfg, q->fds, q->nfds,
						      err, sizeof(err))) ||
	    (ret = cvmm_vm_config_check_files(&a->cfg, false, err, sizeof(err)))) {
		drop_cfg(a);
		/* the image check speaks of flags: here the image is a disk's */
		return cvmm_api_error(r, ret == -EINVAL ? 400 : 500, "vm.restore: %s%s",
				      !strncmp(err, "--disk: path: ", 14) ? "disk: " : "",
				      err + (!strncmp(err, "--disk: path: ", 14) ? 14 : 0));
	}
	a->cfg.initrd = initrd;
	/* A restore that fails leaves no serial or console file it created. */
	cvmm_vm_outputs_note(&outs, &a->cfg, NULL);
	a->vm.snap = &a->snap;
	a->api_stop = false;
	ret = cvmm_vm_build(&a->vm, err, sizeof(err));
	a->vm.snap = NULL;
	if (!ret && a->snap.resume && (ret = cvmm_vmm_start(a->vm.vmm)))
		snprintf(err, sizeof(err), "cannot start the vCPU threads: %s", strerror(-ret));
	if (ret) {
		drop_vm(a);
		cvmm_vm_outputs_remove(&outs);
		drop_cfg(a);
		return cvmm_api_error(r, 500, "vm.restore: %s", err[0] ? err : strerror(-ret));
	}
	a->restored_paused = !a->snap.resume;
	emit(a, "vm", "restored", NULL);
	r->status = 204;
}

/* The flags' --restore (o->restore): the VM of the snapshot's stored
 * arguments with the command line's overrides (a->flags), restored as
 * vm.restore does, not booted from the kernel those arguments name (a
 * fresh boot would pass for the restored guest, and a migration would
 * carry it on). @return 0 or an errno with @err. */
static int restore_flags(struct api *a, char *err, size_t errlen)
{
	struct cvmm_vm_snap *s = a->o->restore;
	int ret;

	adopt_cfg(a, a->flags, NULL);
	a->vm.snap = s;
	a->api_stop = false;
	ret = cvmm_vm_build(&a->vm, err, errlen);
	a->vm.snap = NULL;
	if (!ret && s->resume && (ret = cvmm_vmm_start(a->vm.vmm)))
		snprintf(err, errlen, "cannot start the vCPU threads: %s", strerror(-ret));
	if (ret) {
		if (!err[0])
			snprintf(err, errlen, "%s", strerror(-ret));
		drop_vm(a);
		a->have_cfg = false;
		return ret;
	}
	s->started = s->resume;
	a->restored_paused = !s->resume;
	emit(a, "vm", "restored", NULL);
	return 0;
}

/* vm.restore, followed by vm.snapshot-progress. */
static void vm_restore(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	if (a->have_cfg)
		return cvmm_api_error(r, 409, "vm.restore: a VM exists already (vm.delete first)");
	emit(a, "vm", "restoring", NULL);
	a->snap.evfd = a->evfd;
	a->snap.t0_ns = a->vm.t0_ns;
	a->snap.live = &a->snap_live;
	cvmm_vm_snap_live_begin(&a->snap_live, CVMM_VM_SNAP_OP_RESTORE);
	restore(a, q, r);
	cvmm_vm_snap_live_end(&a->snap_live, r->status >= 400);
}

struct call {
	struct api *a;
	loop_fn fn;
	struct cvmm_api_request *q;
	struct cvmm_api_response *r;
};

static int run_call(struct cvmm_event_manager *em, void *arg)
{
	struct call *c = arg;

	(void)em;
	if (c->a->quit)
		cvmm_api_error(c->r, 503, "the VMM is shutting down");
	else
		c->fn(c->a, c->q, c->r);
	return 0;
}

static void on_loop(struct api *a, loop_fn fn, struct cvmm_api_request *q,
		    struct cvmm_api_response *r)
{
	struct call c = { a, fn, q, r };
	int ret = cvmm_event_manager_call(a->em, run_call, &c, true);

	if (ret)
		cvmm_api_error(r, 503, "the VMM is shutting down");
}

#define ROUTE(name, fn)                                                                  \
	static void h_##fn(void *o, struct cvmm_api_request *q, struct cvmm_api_response *r) \
	{                                                                                \
		on_loop(o, fn, q, r);                                                    \
	}
ROUTE("vmm.shutdown", vmm_shutdown)
ROUTE("vm.create", vm_create)
ROUTE("vm.boot", vm_boot)
ROUTE("vm.delete", vm_delete)
ROUTE("vm.pause", vm_pause)
ROUTE("vm.resume", vm_resume)
ROUTE("vm.shutdown", vm_shutdown)
ROUTE("vm.reboot", vm_reboot)
ROUTE("vm.power-button", vm_power_button)
ROUTE("vm.info", vm_info)
ROUTE("vm.counters", vm_counters)
ROUTE("vm.add-disk", vm_add_disk)
ROUTE("vm.add-net", vm_add_net)
ROUTE("vm.add-fs", vm_add_fs)
ROUTE("vm.add-vsock", vm_add_vsock)
ROUTE("vm.add-generic-vhost-user", vm_add_vhost)
ROUTE("vm.remove-device", vm_remove_device)
ROUTE("vm.resize", vm_resize)
ROUTE("vm.snapshot", vm_snapshot)
ROUTE("vm.restore", vm_restore)
ROUTE("vm.send-migration", vm_send_migration)
ROUTE("vm.receive-migration", vm_receive_migration)
ROUTE("vm.migration-progress", vm_migration_progress)
ROUTE("vm.migration-cancel", vm_migration_cancel)

/* vm.snapshot-progress (a cvmm extension): how far the running or last
 * vm.snapshot / vm.restore has got, answered on the API thread from
 * atomics while the snapshot runs on the control loop. */
static void h_snapshot_progress(void *o, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	(void)q;
	r->json = cvmm_vm_snap_live_json(&((struct api *)o)->snap_live);
	r->status = r->json ? 200 : 500;
}

/* vmm.ping needs nothing of the VM: answered on the API thread. */
static void h_ping(void *o, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	(void)q;
	r->json = json_object_new_object();
	json_object_object_add(r->json, "build_version", json_object_new_string(((struct api *)o)->o->version));
	json_object_object_add(r->json, "version", json_object_new_string(((struct api *)o)->o->version));
	json_object_object_add(r->json, "pid", json_object_new_int64(getpid()));
	json_object_object_add(r->json, "features", json_object_new_array());
	r->status = 200;
}

#define V1 "/api/v1/"
static const struct cvmm_api_route routes[] = {
	{ V1 "vmm.ping", CVMM_API_GET, h_ping, false },
	{ V1 "vmm.shutdown", CVMM_API_PUT, h_vmm_shutdown, false },
	{ V1 "vm.create", CVMM_API_PUT, h_vm_create, true },
	{ V1 "vm.boot", CVMM_API_PUT, h_vm_boot, false },
	{ V1 "vm.delete", CVMM_API_PUT, h_vm_delete, false },
	{ V1 "vm.pause", CVMM_API_PUT, h_vm_pause, false },
	{ V1 "vm.resume", CVMM_API_PUT, h_vm_resume, false },
	{ V1 "vm.shutdown", CVMM_API_PUT, h_vm_shutdown, false },
	{ V1 "vm.reboot", CVMM_API_PUT, h_vm_reboot, false },
	{ V1 "vm.power-button", CVMM_API_PUT, h_vm_power_button, false },
	{ V1 "vm.info", CVMM_API_GET, h_vm_info, false },
	{ V1 "vm.counters", CVMM_API_GET, h_vm_counters, false },
	{ V1 "vm.add-disk", CVMM_API_PUT, h_vm_add_disk, true },
	{ V1 "vm.add-net", CVMM_API_PUT, h_vm_add_net, true },
	{ V1 "vm.add-fs", CVMM_API_PUT, h_vm_add_fs, true },
	{ V1 "vm.add-vsock", CVMM_API_PUT, h_vm_add_vsock, true },
	{ V1 "vm.add-generic-vhost-user", CVMM_API_PUT, h_vm_add_vhost, true },
	{ V1 "vm.remove-device", CVMM_API_PUT, h_vm_remove_device, true },
	{ V1 "vm.resize", CVMM_API_PUT, h_vm_resize, true },
	/* slow: on the server's worker, so that progress is answered meanwhile */
	{ V1 "vm.snapshot", CVMM_API_PUT, h_vm_snapshot, true, true },
	{ V1 "vm.restore", CVMM_API_PUT, h_vm_restore, true, true },
	{ V1 "vm.snapshot-progress", CVMM_API_GET, h_snapshot_progress, false },
	{ V1 "vm.send-migration", CVMM_API_PUT, h_vm_send_migration, true },
	{ V1 "vm.receive-migration", CVMM_API_PUT, h_vm_receive_migration, true },
	{ V1 "vm.migration-progress", CVMM_API_GET, h_vm_migration_progress, false },
	{ V1 "vm.migration-cancel", CVMM_API_PUT, h_vm_migration_cancel, false },
};

static int api_thread_start(void *opaque, const char *type)
{
	struct api *a = opaque;

	return a->vm.thread_start ? a->vm.thread_start(a->vm.opaque, type, 0) : 0;
}

static void on_signal(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct api *a = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (a->vm.vmm && !stopped(a)) {
		a->api_stop = true;
		cvmm_vmm_request_stop(a->vm.vmm, CVMM_VMM_STOP_REQUEST, 128 + (int)si.ssi_signo);
	}
	a->quit = true;
	a->status = 128 + (int)si.ssi_signo;
	cvmm_event_manager_stop(em);
}

struct joiner {
	struct cvmm_api_server *srv;
	bool done;
};

static void *join_server(void *arg)
{
	struct joiner *j = arg;

	cvmm_api_server_destroy(j->srv);
	__atomic_store_n(&j->done, true, __ATOMIC_RELEASE);
	return NULL;
}

int cvmm_vm_api_main(const struct cvmm_vm_api_opts *opts, char *err, size_t errlen)
{
	/* big (a configuration and a VM): on the heap, not the stack */
	struct api *a = calloc(1, sizeof(*a));
	struct cvmm_api_opts o = {
		.sz = sizeof(o), .path = opts->path, .listen_fd = opts->listen_fd,
		.routes = routes, .nroutes = CVMM_ARRAY_SIZE(routes), .opaque = a,
		.thread_start = api_thread_start, .thread_opaque = a,
	};
	struct cvmm_api_server *srv = NULL;
	int ret;

	if (!a)
		return cvmm_vm_errf(err, errlen, -ENOMEM, "API: %s", strerror(ENOMEM));
	a->o = opts;
	a->flags = opts->base;
	a->evfd = opts->event_fd;
	a->mig.lfd = a->mig.cfd = -1;
	pthread_mutex_init(&a->mig.mu, NULL);
	pthread_cond_init(&a->mig.cv, NULL);
	cvmm_vm_init(&a->vm);
	if (opts->tmpl) {
		a->vm = *opts->tmpl;
		a->vm.vmm = NULL;
		a->vm.snap = NULL;
		a->vm.serial_out = a->vm.con_out = -1;
	}
	a->snap.spec = opts->snap_spec;
	a->snap.evfd = -1;
	ret = cvmm_event_manager_create(NULL, &a->em);
	if (ret) {
		cvmm_vm_errf(err, errlen, ret, "control loop: %s", strerror(-ret));
		goto out;
	}
	a->vm.em = a->em;
	a->vm.observer = on_vm_event;
	a->vm.observer_opaque = a;
	if (opts->signal_fd >= 0 &&
	    (ret = cvmm_event_manager_add(a->em, opts->signal_fd, EPOLLIN, on_signal, a))) {
		cvmm_vm_errf(err, errlen, ret, "signals: %s", strerror(-ret));
		goto out;
	}
	emit(a, "vmm", "starting", NULL);
	/* A VM from the flags (or --config) is restored or boots before the
	 * API answers, so the first vm.info already sees it. */
	if (opts->restore && opts->restore->source) {
		char why[512] = "";

		if (restore_flags(a, why, sizeof(why))) {
			cvmm_vm_errf(err, errlen, 1, "restore: %s", why);
			ret = 1;
			goto out;
		}
	} else if (opts->boot) {
		struct cvmm_api_response r = { 0 };

		adopt_cfg(a, opts->base, NULL);
		if (boot(a, &r)) {
			cvmm_vm_errf(err, errlen, 1, "%s", r.error + strlen("vm.boot: "));
			a->have_cfg = false;
			ret = 1;
			goto out;
		}
	}
	ret = cvmm_api_server_create(&o, &srv);
	if (ret) {
		cvmm_vm_errf(err, errlen, 1, "--api-socket: cannot serve on '%s': %s",
			     o.path ? o.path : "fd", strerror(-ret));
		ret = 1;
		goto out;
	}
	a->status = 0;
	cvmm_event_manager_run(a->em);
	ret = a->status;
out:
	/* The VM goes first (it lives on the loop). The server thread may be
	 * inside a handler waiting for the loop: the loop keeps turning
	 * (answering 503, a->quit is set) until a helper thread has joined the
	 * server, and only then goes. */
	a->quit = true;
	cvmm_api_server_stop(srv);
	if (a->em)
		mig_join(a, true);
	free(a->mig.config);
	a->api_stop = true;
	drop_vm(a);
	emit(a, "vmm", "shutdown", NULL);
	if (srv && a->em) {
		struct joiner j = { .srv = srv };
		pthread_t t;

		if (!pthread_create(&t, NULL, join_server, &j)) {
			while (!__atomic_load_n(&j.done, __ATOMIC_ACQUIRE))
				cvmm_event_manager_run_once(a->em, 10);
			pthread_join(t, NULL);
			srv = NULL;
		}
	}
	cvmm_event_manager_destroy(a->em);
	cvmm_api_server_destroy(srv);
	/* The flags' own config does not own json; drop_cfg only closes fds. */
	drop_cfg(a);
	pthread_mutex_destroy(&a->mig.mu);
	pthread_cond_destroy(&a->mig.cv);
	free(a);
	return ret;
}

