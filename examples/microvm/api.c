/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --api-socket: Cloud Hypervisor's REST API (docs/api.md) on the api
 * crate. The server thread parses requests; every handler that touches
 * the VM runs on the control loop (cvmm_event_manager_call), where the VM
 * lives, so the VM sees one caller at a time and a slow client only ever
 * delays other clients.
 *
 * As in Cloud Hypervisor, vm.create only records the configuration (and
 * vm.add-* edit it) and vm.boot builds the VM from it; a VM that was shut
 * down through the API stays for vm.info until vm.boot builds a new one
 * or vm.delete drops it. A guest that powers off, resets or crashes ends
 * the VMM with the exit status the flags path gives.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cvmm/api.h>
#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/balloon.h>
#include <cvmm/virtio-devices/net.h>
#include <cvmm/virtio-devices/vsock.h>

#include "microvm.h"
#include "snapshot.h"

struct api {
	struct microvm *m;
	const struct microvm_config *flags; /* the command line: the base of every config */
	struct microvm_config cfg;    /* the VM's configuration ... */
	bool have_cfg;                /* ... once created */
	struct json_object *cfg_json; /* strings of cfg point into it */
	unsigned int id_counter;
	struct cvmm_event_manager *em;
	int evfd;                     /* --event-monitor, or -1 */
	bool api_stop;                /* the VM's stop came from the API */
	bool quit;                    /* leave the loop */
	int status;                   /* ... with this exit status */
	struct microvm_snap snap;     /* vm.restore: the snapshot and its stored arguments */
	bool restored_paused;         /* restored with resume false: vm.resume starts it */
	struct mig {                  /* the last or current migration */
		pthread_t t;
		bool thread;          /* t exists (joined by the next one or at exit) */
		bool done;            /* t has finished (atomic) */
		bool sending;         /* the source side */
		char url[128];
		int lfd;              /* receive: the listening socket, or -1 */
		int cfd;              /* receive: the connection (atomic), or -1 */
		bool cancel;          /* receive: vm.migration-cancel stopped it (atomic) */
		struct cvmm_vmm_incoming *in;
		struct cvmm_vmm_migrate_opts o;
		char *config;         /* the VmConfig sent in START */
		pthread_mutex_t mu;
		pthread_cond_t cv;
		int setup;            /* 0: pending; 1: connected/listening; <0: failed */
		char err[300];        /* ... why */
		struct cvmm_vmm_mig_progress own; /* figures while no VM holds them */
	} mig;
};

/* ------------------------------------------------------------------------ */
/* states                                                                   */
/* ------------------------------------------------------------------------ */

static bool stopped(const struct api *a)
{
	return a->m->vmm && (cvmm_vmm_state(a->m->vmm) == CVMM_VMM_SHUTDOWN ||
			     cvmm_vmm_stop_reason(a->m->vmm, NULL) != CVMM_VMM_STOP_NONE);
}

static const char *state_name(const struct api *a)
{
	if (!a->m->vmm)
		return "Created";
	if (stopped(a))
		return "Shutdown";
	if (a->restored_paused)
		return "Paused";
	return cvmm_vmm_state(a->m->vmm) == CVMM_VMM_PAUSED ? "Paused" :
	       cvmm_vmm_state(a->m->vmm) == CVMM_VMM_RUNNING ? "Running" : "Created";
}

/* A send runs on the migration thread: the VM must stay as it is. */
static bool sending(const struct api *a)
{
	return a->mig.thread && a->mig.sending && !__atomic_load_n(&a->mig.done, __ATOMIC_ACQUIRE);
}

/* 404 without a VM; 409 unless the state is one of @ok ("Running|Paused"),
 * and while a send runs (but for vm.counters). */
static bool need(struct api *a, struct cvmm_api_response *r, const char *ok, const char *what)
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

static void emit(struct api *a, const char *source, const char *event, const char *id)
{
	microvm_event_monitor_write(a->evfd, a->m->t0_ns, source, event, id);
}

/* Every event of the VM: the monitor hears it; a stop the API did not
 * ask for ends the VMM (the control thread sends SHUTDOWN). */
static void on_vm_event(void *opaque, const struct cvmm_vmm_event *ev)
{
	struct api *a = opaque;
	const char *src, *name = microvm_event_name(ev, &src);

	if (name)
		emit(a, src, name, ev->id);
	if (ev->type == CVMM_VMM_EV_SHUTDOWN && !a->api_stop) {
		a->quit = true;
		a->status = microvm_exit_status(a->m->vmm);
		cvmm_event_manager_stop(a->em);
	}
}

/* ------------------------------------------------------------------------ */
/* the configuration                                                        */
/* ------------------------------------------------------------------------ */

static void drop_vm(struct api *a)
{
	microvm_vm_destroy(a->m);
	a->restored_paused = false;
}

static void drop_cfg(struct api *a)
{
	if (a->have_cfg)
		microvm_vmconfig_close_fds(&a->cfg.dev);
	json_object_put(a->cfg_json);
	a->cfg_json = NULL;
	microvm_snap_fini(&a->snap);
	a->have_cfg = false;
	a->id_counter = 0;
}

/* The VM of a->cfg, started. @return 0 or 500/409 in @r. */
static int boot(struct api *a, struct cvmm_api_response *r)
{
	char err[512] = "";
	int ret;

	drop_vm(a);
	a->m->cfg = &a->cfg;
	a->api_stop = false;
	ret = microvm_vm_create(a->m, err, sizeof(err));
	if (!ret && (ret = cvmm_vmm_start(a->m->vmm)))
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
	if (a->m->vmm && !stopped(a)) {
		a->api_stop = true;
		cvmm_vmm_request_stop(a->m->vmm, CVMM_VMM_STOP_REQUEST, 0);
	}
	a->quit = true;
	a->status = 0;
	cvmm_event_manager_stop(a->em);
	r->status = 204;
}

static void vm_create(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	struct microvm_config c = *a->flags;
	char err[400];

	if (a->have_cfg)
		return cvmm_api_error(r, 409, "vm.create: the VM is created already (vm.delete first)");
	if (microvm_vmconfig_parse(q->json, &c, err, sizeof(err)))
		return cvmm_api_error(r, 400, "vm.create: %s", err);
	a->cfg = c;
	a->cfg_json = json_object_get(q->json);
	a->have_cfg = true;
	a->id_counter = 0;
	microvm_vmconfig_name_devices(&a->cfg.dev, &a->id_counter);
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
	if (a->m->vmm) {
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
	ret = cvmm_vmm_pause(a->m->vmm);
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
	if (a->restored_paused) {
		/* a restored VM that never ran: its vCPUs start here */
		a->restored_paused = false;
		ret = cvmm_vmm_start(a->m->vmm);
	} else {
		ret = cvmm_vmm_resume(a->m->vmm);
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
	cvmm_vmm_request_stop(a->m->vmm, CVMM_VMM_STOP_REQUEST, 0);
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
	cvmm_api_error(r, 500,
		       "vm.power-button: not supported: cvmm's platform has no ACPI power button "
		       "(GED) yet; use vm.shutdown");
}

static struct json_object *resource(const struct cvmm_vmm_resource *res)
{
	struct json_object *o = json_object_new_object(), *v;

	switch (res->kind) {
	case CVMM_VMM_RES_GSI:
		json_object_object_add(o, "LegacyIrq", json_object_new_int64((int64_t)res->base));
		return o;
	case CVMM_VMM_RES_MSI:
		json_object_object_add(o, "MsiIrq", json_object_new_int64((int64_t)res->base));
		return o;
	default:
		v = json_object_new_object();
		json_object_object_add(v, "base", json_object_new_int64((int64_t)res->base));
		json_object_object_add(v, "size", json_object_new_int64((int64_t)res->len));
		json_object_object_add(o, res->kind == CVMM_VMM_RES_PIO ? "PioAddressRange" :
					  "MmioAddressRange", v);
		return o;
	}
}

/* Cloud Hypervisor's PCI address form: segment 0, bus 0, function 0. */
static struct json_object *bdf_json(unsigned int slot)
{
	char b[16];

	snprintf(b, sizeof(b), "0000:00:%02x.0", slot & 0x1f);
	return json_object_new_string(b);
}

static struct json_object *device_tree(struct api *a)
{
	struct cvmm_vmm_device_info devs[64];
	struct cvmm_vmm_resource res[256];
	struct json_object *t = json_object_new_object();
	int n, nr;

	if (!a->m->vmm || cvmm_vmm_state(a->m->vmm) == CVMM_VMM_SHUTDOWN)
		return t;
	n = cvmm_vmm_device_list(a->m->vmm, devs, 64);
	nr = cvmm_vmm_alloc_list(a->m->vmm, res, 256);
	for (int i = 0; i < n && i < 64; i++) {
		struct json_object *d = json_object_new_object(), *rs = json_object_new_array();

		for (int k = 0; k < nr && k < 256; k++)
			if (!strcmp(res[k].owner, devs[i].id))
				json_object_array_add(rs, resource(&res[k]));
		json_object_object_add(d, "id", json_object_new_string(devs[i].id));
		json_object_object_add(d, "kind", json_object_new_string(devs[i].kind ? devs[i].kind : ""));
		json_object_object_add(d, "resources", rs);
		json_object_object_add(d, "children", json_object_new_array());
		json_object_object_add(d, "pci_bdf", NULL);
		for (unsigned int k = 0; k < a->m->nmodels; k++)
			if (a->m->models[k].pci_slot && !strcmp(a->m->models[k].id, devs[i].id))
				json_object_object_add(d, "pci_bdf",
						       bdf_json(a->m->models[k].pci_slot));
		json_object_object_add(t, devs[i].id, d);
	}
	return t;
}

/* What the balloon holds (its driver's "actual"): Cloud Hypervisor's
 * memory_actual_size leaves it out. */
static uint64_t balloon_bytes(struct api *a)
{
	struct cvmm_balloon_counters c;

	for (unsigned int i = 0; a->m->vmm && i < a->m->nmodels; i++) {
		if (strcmp(a->m->models[i].kind, "virtio-balloon") ||
		    cvmm_vmm_state(a->m->vmm) == CVMM_VMM_SHUTDOWN)
			continue;
		cvmm_balloon_get_counters(a->m->models[i].model, &c);
		return CVMM_MIN((uint64_t)c.actual * CVMM_BALLOON_PAGE_SIZE, a->cfg.memory);
	}
	return 0;
}

static void vm_info(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	(void)q;
	if (!a->have_cfg)
		return cvmm_api_error(r, 404, "vm.info: the VM is not created (vm.create first)");
	r->json = json_object_new_object();
	json_object_object_add(r->json, "config", microvm_vmconfig_to_json(&a->cfg));
	json_object_object_add(r->json, "state", json_object_new_string(state_name(a)));
	json_object_object_add(r->json, "memory_actual_size",
			       json_object_new_int64((int64_t)(a->cfg.memory - balloon_bytes(a))));
	json_object_object_add(r->json, "device_tree", device_tree(a));
	r->status = 200;
}

static void counter(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

static void vm_counters(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	(void)q;
	if (!need(a, r, "Running|Paused|Shutdown", "vm.counters"))
		return;
	r->json = json_object_new_object();
	for (unsigned int i = 0; a->m->vmm && i < a->m->nmodels; i++) {
		const struct microvm_model *md = &a->m->models[i];
		struct json_object *c = json_object_new_object();

		if (!strcmp(md->kind, "virtio-net")) {
			struct cvmm_net_stats s;

			cvmm_net_get_stats(md->model, &s);
			counter(c, "rx_bytes", s.rx_bytes);
			counter(c, "rx_frames", s.rx_frames);
			counter(c, "rx_dropped", s.rx_dropped);
			counter(c, "tx_bytes", s.tx_bytes);
			counter(c, "tx_frames", s.tx_frames);
			counter(c, "tx_dropped", s.tx_dropped);
		} else if (!strcmp(md->kind, "virtio-vsock")) {
			struct cvmm_vsock_stats s;

			cvmm_vsock_get_stats(md->model, &s);
			counter(c, "rx_packets", s.rx_pkts);
			counter(c, "tx_packets", s.tx_pkts);
			counter(c, "tx_dropped", s.tx_dropped);
			counter(c, "rst_sent", s.rst_sent);
			counter(c, "connections", s.conns);
		} else if (!strcmp(md->kind, "virtio-balloon")) {
			struct cvmm_balloon_counters s;

			cvmm_balloon_get_counters(md->model, &s);
			counter(c, "inflated_pages", s.inflated);
			counter(c, "deflated_pages", s.deflated);
			counter(c, "refused_pages", s.refused);
			counter(c, "target_pages", s.num_pages);
			counter(c, "actual_pages", s.actual);
			counter(c, "stats_reports", s.stats_reports);
			/* the driver's last report (virtio 1.2, 5.5.6.3), and a
			 * request for the next one, which the next call shows */
			for (unsigned int k = 0; k < s.nstats; k++) {
				static const char *const tag[] = {
					"swap_in", "swap_out", "major_faults", "minor_faults",
					"free_memory", "total_memory", "available_memory",
					"disk_caches", "hugetlb_allocations", "hugetlb_failures",
				};
				char name[32];

				if (s.stats[k].tag < CVMM_ARRAY_SIZE(tag))
					snprintf(name, sizeof(name), "guest_%s", tag[s.stats[k].tag]);
				else
					snprintf(name, sizeof(name), "guest_stat_%u", s.stats[k].tag);
				counter(c, name, s.stats[k].val);
			}
			cvmm_balloon_stats_request(md->model);
		}
		json_object_object_add(r->json, md->id, c);
	}
	r->status = 200;
}

static void add_device(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r,
		       const char *kind, const char *what)
{
	struct microvm_devices *d = &a->cfg.dev;
	unsigned int n0, nd = d->ndisks, nn = d->nnets, nv = d->nvhost;
	const struct microvm_tr *tr = NULL;
	const char *id = NULL;
	bool vsock = d->vsock;
	char err[400];

	if (!need(a, r, "Created|Shutdown", what)) {
		if (r->status == 409)
			cvmm_api_error(r, 409,
				       "%s: the VM is %s: cvmm adds devices before vm.boot only "
				       "(hotplug needs PCI)", what, state_name(a));
		return;
	}
	n0 = microvm_virtio_count(&a->cfg.dev);
	if (microvm_vmconfig_add_device(q->json, kind, &a->cfg.dev, q->fds, q->nfds, err,
					sizeof(err)))
		return cvmm_api_error(r, 400, "%s: %s", what, err);
	if (microvm_virtio_count(&a->cfg.dev) != n0 + 1)
		return cvmm_api_error(r, 500, "%s: no device was added", what);
	/* The config keeps the json strings it points to (none for devices:
	 * they are copied), and the fds it took. */
	if (!strcmp(kind, "net"))
		for (unsigned int i = 0; i < q->nfds; i++)
			q->fds[i] = -1;
	microvm_vmconfig_name_devices(&a->cfg.dev, &a->id_counter);
	/* Which one is new: its id, and on PCI the slot it gets at boot. */
	if (d->ndisks > nd)
		tr = &d->disk[nd].tr, id = d->disk[nd].id;
	else if (d->nnets > nn)
		tr = &d->net[nn].tr, id = d->net[nn].id;
	else if (d->nvhost > nv)
		tr = &d->vhost[nv].tr, id = d->vhost[nv].id;
	else if (d->vsock && !vsock)
		tr = &d->vsock_tr, id = d->vsock_id;
	if (tr && microvm_tr_is_pci(d, tr)) {
		if (microvm_pci_assign(d)) {
			microvm_vmconfig_remove_device(d, id);
			return cvmm_api_error(r, 507, "%s: all 31 PCI slots are taken", what);
		}
		/* Cloud Hypervisor's PciDeviceInfo (Kata needs the address). */
		r->json = json_object_new_object();
		json_object_object_add(r->json, "id", json_object_new_string(id));
		json_object_object_add(r->json, "bdf", bdf_json(tr->slot));
		r->status = 200;
		return;
	}
	r->status = 204;
}

static void vm_add_disk(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	add_device(a, q, r, "disk", "vm.add-disk");
}

static void vm_add_net(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	add_device(a, q, r, "net", "vm.add-net");
}

static void vm_add_fs(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	add_device(a, q, r, "fs", "vm.add-fs");
}

static void vm_add_vsock(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	add_device(a, q, r, "vsock", "vm.add-vsock");
}

static void vm_add_vhost(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	add_device(a, q, r, "generic_vhost_user", "vm.add-generic-vhost-user");
}

/* vm.resize: the balloon's target (desired_balloon, bytes); desired_ram
 * and desired_vcpus need memory and CPU hotplug (not yet). */
static void vm_resize(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	struct json_object *v;
	int64_t bytes;

	if (!json_object_is_type(q->json, json_type_object))
		return cvmm_api_error(r, 400, "vm.resize: the body must be a JSON object");
	json_object_object_foreach(q->json, key, val) {
		(void)val;
		if (strcmp(key, "desired_balloon") && strcmp(key, "desired_ram") &&
		    strcmp(key, "desired_vcpus"))
			return cvmm_api_error(r, 400, "vm.resize: unknown field '%s'", key);
	}
	if (!need(a, r, "Created|Running|Paused|Shutdown", "vm.resize"))
		return;
	if (json_object_object_get_ex(q->json, "desired_vcpus", &v) &&
	    !json_object_is_type(v, json_type_null) &&
	    (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != a->cfg.cpus))
		return cvmm_api_error(r, 400, "vm.resize: desired_vcpus: not supported yet (no vCPU hotplug)");
	if (json_object_object_get_ex(q->json, "desired_ram", &v) &&
	    !json_object_is_type(v, json_type_null) &&
	    (!json_object_is_type(v, json_type_int) ||
	     json_object_get_int64(v) != (int64_t)a->cfg.memory))
		return cvmm_api_error(r, 400,
				      "vm.resize: desired_ram: not supported yet (no virtio-mem or memory "
				      "hotplug; a balloon shrinks the guest: desired_balloon)");
	if (!json_object_object_get_ex(q->json, "desired_balloon", &v) ||
	    json_object_is_type(v, json_type_null)) {
		r->status = 204;
		return;
	}
	if (!json_object_is_type(v, json_type_int) || (bytes = json_object_get_int64(v)) < 0 ||
	    (uint64_t)bytes > a->cfg.memory)
		return cvmm_api_error(r, 400,
				      "vm.resize: desired_balloon: not a number of bytes from 0 to the "
				      "guest's %llu", (unsigned long long)a->cfg.memory);
	if (!a->cfg.dev.balloon)
		return cvmm_api_error(r, 400,
				      "vm.resize: desired_balloon: the VM has no balloon (--balloon or "
				      "VmConfig balloon)");
	a->cfg.dev.balloon_size = (uint64_t)bytes & ~(uint64_t)(CVMM_BALLOON_PAGE_SIZE - 1);
	for (unsigned int i = 0; a->m->vmm && i < a->m->nmodels; i++)
		if (!strcmp(a->m->models[i].kind, "virtio-balloon") &&
		    cvmm_vmm_state(a->m->vmm) != CVMM_VMM_SHUTDOWN)
			cvmm_balloon_set_target(a->m->models[i].model,
						(uint32_t)(a->cfg.dev.balloon_size /
							   CVMM_BALLOON_PAGE_SIZE));
	r->status = 204;
}

static void vm_remove_device(struct api *a, struct cvmm_api_request *q,
			     struct cvmm_api_response *r)
{
	struct json_object *id;

	if (!json_object_is_type(q->json, json_type_object) ||
	    !json_object_object_get_ex(q->json, "id", &id) ||
	    !json_object_is_type(id, json_type_string) || json_object_object_length(q->json) != 1)
		return cvmm_api_error(r, 400, "vm.remove-device: the body must be {\"id\": \"...\"}");
	if (!need(a, r, "Created|Shutdown", "vm.remove-device")) {
		if (r->status == 409)
			cvmm_api_error(r, 409,
				       "vm.remove-device: the VM is %s: cvmm removes devices before "
				       "vm.boot only (hotplug needs PCI)", state_name(a));
		return;
	}
	if (microvm_vmconfig_remove_device(&a->cfg.dev, json_object_get_string(id)))
		return cvmm_api_error(r, 404, "vm.remove-device: no device '%s'",
				      json_object_get_string(id));
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
	a->snap.t0_ns = a->m->t0_ns;
	ret = microvm_snap_api_snapshot(&a->snap, a->m->vmm, &a->cfg, q->json, err, sizeof(err));
	if (ret)
		return cvmm_api_error(r, ret == -EINVAL && !strstr(err, "snapshot '") ? 400 : 500,
				      "vm.snapshot: %s", err[0] ? err : strerror(-ret));
	emit(a, "vm", "snapshotted", NULL);
	r->status = 204;
}

/* vm.restore on an empty VMM: the VM of the snapshot's config, restored
 * instead of booted; running with "resume": true, else Paused. */
static void vm_restore(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	struct microvm_config c = *a->flags;
	struct json_object *cj = NULL;
	char err[512] = "";
	int ret;

	if (a->have_cfg)
		return cvmm_api_error(r, 409, "vm.restore: a VM exists already (vm.delete first)");
	emit(a, "vm", "restoring", NULL);
	a->snap.evfd = a->evfd;
	a->snap.t0_ns = a->m->t0_ns;
	ret = microvm_snap_api_restore_open(&a->snap, q->json, &c, &cj, err, sizeof(err));
	if (ret) {
		microvm_snap_fini(&a->snap);
		return cvmm_api_error(r, ret == -EINVAL && !strstr(err, "snapshot '") ? 400 : 500,
				      "vm.restore: %s", err[0] ? err : strerror(-ret));
	}
	a->cfg = c;
	a->cfg_json = cj;
	a->have_cfg = true;
	a->id_counter = 0;
	microvm_vmconfig_name_devices(&a->cfg.dev, &a->id_counter);
	a->m->cfg = &a->cfg;
	a->m->snap = &a->snap;
	a->api_stop = false;
	ret = microvm_vm_create(a->m, err, sizeof(err));
	a->m->snap = NULL;
	if (!ret && a->snap.resume && (ret = cvmm_vmm_start(a->m->vmm)))
		snprintf(err, sizeof(err), "cannot start the vCPU threads: %s", strerror(-ret));
	if (ret) {
		drop_vm(a);
		drop_cfg(a);
		return cvmm_api_error(r, 500, "vm.restore: %s", err[0] ? err : strerror(-ret));
	}
	a->restored_paused = !a->snap.resume;
	emit(a, "vm", "restored", NULL);
	r->status = 204;
}

/* ------------------------------------------------------------------------ */
/* live migration (docs/migration.md): the sockets and the send run on a    */
/* "migration" thread of their own; the receive and every lifecycle step on */
/* the control loop, where the VM lives.                                    */
/* ------------------------------------------------------------------------ */

/* Refuse a body member other than @known (NULL-terminated). */
static bool only_known(struct json_object *j, const char *const *known, const char *what,
		       struct cvmm_api_response *r)
{
	json_object_object_foreach(j, k, v) {
		bool ok = false;

		(void)v;
		for (const char *const *n = known; *n; n++)
			ok |= !strcmp(k, *n);
		if (!ok) {
			cvmm_api_error(r, 400, "%s: unknown field '%s'", what, k);
			return false;
		}
	}
	return true;
}

/* "unix:PATH" or "tcp:IPV4:PORT" into @sa. @return its length, or 0 with @err. */
static socklen_t mig_addr(const char *url, struct sockaddr_storage *sa, char *err, size_t errlen)
{
	memset(sa, 0, sizeof(*sa));
	if (!strncmp(url, "unix:", 5)) {
		struct sockaddr_un *u = (struct sockaddr_un *)sa;
		size_t n = strlen(url + 5);

		if (!n || n >= sizeof(u->sun_path)) {
			snprintf(err, errlen, "'%s': the socket path is empty or longer than %zu bytes",
				 url, sizeof(u->sun_path) - 1);
			return 0;
		}
		u->sun_family = AF_UNIX;
		memcpy(u->sun_path, url + 5, n);
		return (socklen_t)sizeof(*u);
	}
	if (!strncmp(url, "tcp:", 4)) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;
		char host[64];
		const char *colon = strrchr(url + 4, ':');
		char *end;
		long port = colon ? strtol(colon + 1, &end, 10) : -1;

		if (!colon || colon == url + 4 || (size_t)(colon - url - 4) >= sizeof(host) ||
		    !colon[1] || *end || port < 1 || port > 65535) {
			snprintf(err, errlen, "'%s': needs tcp:IPV4:PORT", url);
			return 0;
		}
		memcpy(host, url + 4, (size_t)(colon - url - 4));
		host[colon - url - 4] = '\0';
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1) {
			snprintf(err, errlen, "'%s': '%s' is not an IPv4 address", url, host);
			return 0;
		}
		return (socklen_t)sizeof(*in);
	}
	snprintf(err, errlen, "'%s': needs unix:PATH or tcp:IPV4:PORT", url);
	return 0;
}

/* The migration thread's set-up outcome, handed to the handler waiting for it. */
static void mig_setup_done(struct mig *g, int ret)
{
	pthread_mutex_lock(&g->mu);
	g->setup = ret ? ret : 1;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

/* A failure with no VM to hold its figures (the destination before a VM). */
static void mig_fail(struct mig *g, const char *fmt, const char *detail)
{
	char line[1024];

	snprintf(line, sizeof(line), fmt, detail);
	pthread_mutex_lock(&g->mu);
	g->own.state = CVMM_VMM_MIG_FAILED;
	snprintf(g->own.error, sizeof(g->own.error), "%.255s", line);
	pthread_mutex_unlock(&g->mu);
}

/* The source after a migration that went: the guest runs on the
 * destination, this VMM ends (status 0), as Cloud Hypervisor's does. */
static int source_done(struct cvmm_event_manager *em, void *arg)
{
	struct api *a = arg;

	emit(a, "vm", "migrated", NULL);
	if (a->m->vmm && !stopped(a)) {
		a->api_stop = true;
		cvmm_vmm_request_stop(a->m->vmm, CVMM_VMM_STOP_REQUEST, 0);
	}
	a->quit = true;
	a->status = 0;
	cvmm_event_manager_stop(em);
	return 0;
}

static void *send_main(void *arg)
{
	struct api *a = arg;
	struct mig *g = &a->mig;
	struct sockaddr_storage sa;
	socklen_t len;
	char err[300] = "";
	int fd = -1, ret;

	if (cvmm_sandbox_install(a->m->sandbox, "migration")) {
		snprintf(g->err, sizeof(g->err), "cannot install the migration thread's seccomp filter");
		mig_setup_done(g, -EPERM);
		goto out;
	}
	len = mig_addr(g->url, &sa, g->err, sizeof(g->err));
	if (!len) {
		mig_setup_done(g, -EINVAL);
		goto out;
	}
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, len)) {
		ret = -errno;
		snprintf(g->err, sizeof(g->err), "cannot connect to '%s': %s", g->url, strerror(-ret));
		mig_setup_done(g, ret);
		goto out;
	}
	mig_setup_done(g, 0);
	ret = cvmm_vmm_migrate_send(a->m->vmm, fd, &g->o, err, sizeof(err));
	if (ret)
		CVMM_LOG(CVMM_LOG_WARN, "microvm", "send-migration: %s", err[0] ? err : strerror(-ret));
	else
		cvmm_event_manager_call(a->em, source_done, a, false);
out:
	cvmm_close(fd);
	__atomic_store_n(&g->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* On the loop: the VM of the config the stream carries, received and started. */
static int receive_on_loop(struct cvmm_event_manager *em, void *arg)
{
	struct api *a = arg;
	struct mig *g = &a->mig;
	struct microvm_config c = *a->flags;
	struct cvmm_vmm_receive_opts ro = { .sz = sizeof(ro), .request_fd = -1 };
	struct json_object *cj;
	char err[512] = "";
	int ret;

	(void)em;
	if (a->quit)
		return -ECANCELED;
	if (a->have_cfg) {
		mig_fail(g, "%s", "a VM was created meanwhile (vm.delete first)");
		return -EEXIST;
	}
	cj = json_tokener_parse(cvmm_vmm_incoming_config(g->in, NULL));
	if (!cj || microvm_vmconfig_parse(cj, &c, err, sizeof(err))) {
		json_object_put(cj);
		mig_fail(g, "the source's VM config: %s", cj ? err : "not JSON");
		return -EPROTO;
	}
	if (c.memory != cvmm_vmm_incoming_mem_size(g->in) ||
	    c.cpus != cvmm_vmm_incoming_ncpus(g->in)) {
		json_object_put(cj);
		mig_fail(g, "%s", "the source's VM config does not match its memory size or vCPUs");
		return -EPROTO;
	}
	a->cfg = c;
	a->cfg_json = cj;
	a->have_cfg = true;
	a->id_counter = 0;
	microvm_vmconfig_name_devices(&a->cfg.dev, &a->id_counter);
	a->m->cfg = &a->cfg;
	a->m->incoming = true;
	a->api_stop = false;
	emit(a, "vm", "receiving", NULL);
	ret = microvm_vm_create(a->m, err, sizeof(err));
	a->m->incoming = false;
	if (!ret)
		ret = cvmm_vmm_migrate_receive(a->m->vmm, g->in, &ro, err, sizeof(err));
	if (!ret && (ret = cvmm_vmm_start(a->m->vmm)))
		snprintf(err, sizeof(err), "cannot start the vCPU threads: %s", strerror(-ret));
	if (ret) {
		a->api_stop = true;
		drop_vm(a);
		drop_cfg(a);
		mig_fail(g, "%s", err[0] ? err : strerror(-ret));
		return ret;
	}
	emit(a, "vm", "received", NULL);
	return 0;
}

static void *receive_main(void *arg)
{
	struct api *a = arg;
	struct mig *g = &a->mig;
	struct sockaddr_storage sa = { 0 };
	socklen_t len;
	char err[300] = "";
	int fd = -1, ret, one = 1;

	if (cvmm_sandbox_install(a->m->sandbox, "migration")) {
		snprintf(g->err, sizeof(g->err), "cannot install the migration thread's seccomp filter");
		mig_setup_done(g, -EPERM);
		goto out;
	}
	len = mig_addr(g->url, &sa, g->err, sizeof(g->err));
	if (!len) {
		mig_setup_done(g, -EINVAL);
		goto out;
	}
	g->lfd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g->lfd >= 0 && sa.ss_family == AF_INET)
		setsockopt(g->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (g->lfd < 0 || bind(g->lfd, (struct sockaddr *)&sa, len) || listen(g->lfd, 1)) {
		ret = -errno;
		snprintf(g->err, sizeof(g->err), "cannot listen on '%s': %s", g->url, strerror(-ret));
		mig_setup_done(g, ret);
		goto out;
	}
	mig_setup_done(g, 0);
	fd = accept4(g->lfd, NULL, NULL, SOCK_CLOEXEC);
	__atomic_store_n(&g->cfd, fd, __ATOMIC_RELEASE);
	if (fd < 0 && __atomic_load_n(&g->cancel, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&g->mu);
		g->own.state = CVMM_VMM_MIG_CANCELLED;
		pthread_mutex_unlock(&g->mu);
		goto out;
	}
	if (fd < 0) {
		mig_fail(g, "accept: %s", strerror(errno));
		goto out;
	}
	ret = cvmm_vmm_migrate_accept(fd, &g->in, err, sizeof(err));
	if (ret) {
		mig_fail(g, "%s", err[0] ? err : strerror(-ret));
		goto out;
	}
	cvmm_event_manager_call(a->em, receive_on_loop, a, true);
	cvmm_vmm_incoming_free(g->in);
	g->in = NULL;
out:
	__atomic_store_n(&g->cfd, -1, __ATOMIC_RELEASE);
	cvmm_close(fd);
	if (sa.ss_family == AF_UNIX && g->lfd >= 0)
		unlink(((struct sockaddr_un *)&sa)->sun_path);
	__atomic_store_n(&g->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* Join the last migration thread; a running one is cancelled first (the
 * loop keeps turning meanwhile: the send pauses and resumes through it). */
static void mig_join(struct api *a, bool cancel)
{
	struct mig *g = &a->mig;

	if (!g->thread)
		return;
	if (cancel) {
		if (a->m->vmm)
			cvmm_vmm_migrate_cancel(a->m->vmm);
		int cfd = __atomic_load_n(&g->cfd, __ATOMIC_ACQUIRE);

		if (g->lfd >= 0)
			shutdown(g->lfd, SHUT_RDWR); /* wakes accept() */
		if (cfd >= 0)
			shutdown(cfd, SHUT_RDWR);    /* ... or a silent peer's START */
	}
	while (!__atomic_load_n(&g->done, __ATOMIC_ACQUIRE))
		cvmm_event_manager_run_once(a->em, 10);
	pthread_join(g->t, NULL);
	cvmm_close(g->lfd);
	g->lfd = -1;
	g->thread = false;
}

/* Start @fn on the migration thread and wait for its set-up (connect or
 * listen). @return 0, or the set-up's error in @r. */
static int mig_start(struct api *a, void *(*fn)(void *), const char *url, const char *what,
		     struct cvmm_api_response *r)
{
	struct mig *g = &a->mig;
	int ret;

	if (g->thread && !__atomic_load_n(&g->done, __ATOMIC_ACQUIRE)) {
		cvmm_api_error(r, 409, "%s: a migration runs already", what);
		return -EBUSY;
	}
	mig_join(a, false);
	snprintf(g->url, sizeof(g->url), "%s", url);
	g->err[0] = '\0';
	g->setup = 0;
	g->done = false;
	g->cancel = false;
	memset(&g->own, 0, sizeof(g->own));
	g->own.state = CVMM_VMM_MIG_SETUP;
	ret = -pthread_create(&g->t, NULL, fn, a);
	if (ret) {
		cvmm_api_error(r, 500, "%s: cannot start the migration thread: %s", what, strerror(-ret));
		return ret;
	}
	g->thread = true;
	pthread_mutex_lock(&g->mu);
	while (!g->setup)
		pthread_cond_wait(&g->cv, &g->mu);
	ret = g->setup < 0 ? g->setup : 0;
	pthread_mutex_unlock(&g->mu);
	if (ret) {
		mig_join(a, false);
		mig_fail(g, "%s", g->err);
		cvmm_api_error(r, ret == -EINVAL ? 400 : 500, "%s: %s", what, g->err);
	}
	return ret;
}

static const char *url_of(struct json_object *j, const char *key, const char *what,
			  struct cvmm_api_response *r)
{
	struct json_object *v;

	if (!json_object_object_get_ex(j, key, &v) || !json_object_is_type(v, json_type_string)) {
		cvmm_api_error(r, 400, "%s: '%s' (a string) is required", what, key);
		return NULL;
	}
	return json_object_get_string(v);
}

/* vm.receive-migration {"receiver_url": URL} on an empty VMM: 204 once it
 * listens; the VM appears (Running) when the migration completes. */
static void vm_receive_migration(struct api *a, struct cvmm_api_request *q,
				 struct cvmm_api_response *r)
{
	static const char *const known[] = { "receiver_url", NULL };
	const char *url;

	if (!only_known(q->json, known, "vm.receive-migration", r) ||
	    !(url = url_of(q->json, "receiver_url", "vm.receive-migration", r)))
		return;
	if (a->have_cfg)
		return cvmm_api_error(r, 409, "vm.receive-migration: a VM exists already "
				      "(vm.delete first)");
	a->mig.sending = false;
	if (!mig_start(a, receive_main, url, "vm.receive-migration", r))
		r->status = 204;
}

/* vm.send-migration {"destination_url", "local", "downtime_ms"} on a
 * running VM: 204 once connected; vm.migration-progress follows it. */
static void vm_send_migration(struct api *a, struct cvmm_api_request *q,
			      struct cvmm_api_response *r)
{
	static const char *const known[] = { "destination_url", "local", "downtime_ms", NULL };
	struct mig *g = &a->mig;
	struct json_object *v;
	const char *url;
	int64_t dt = 0;

	if (!only_known(q->json, known, "vm.send-migration", r) ||
	    !(url = url_of(q->json, "destination_url", "vm.send-migration", r)))
		return;
	if (!need(a, r, "Running", "vm.send-migration"))
		return;
	g->o = (struct cvmm_vmm_migrate_opts){ .sz = sizeof(g->o), .via_loop = true,
					       .request_fd = -1 };
	if (json_object_object_get_ex(q->json, "local", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return cvmm_api_error(r, 400, "vm.send-migration: 'local' must be a boolean");
		g->o.local = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(q->json, "downtime_ms", &v)) {
		dt = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || dt < 1 || dt > 60000)
			return cvmm_api_error(r, 400, "vm.send-migration: 'downtime_ms' must be an "
					      "integer of 1 to 60000");
		g->o.downtime_ms = (uint32_t)dt;
	}
	if (g->o.local && strncmp(url, "unix:", 5))
		return cvmm_api_error(r, 400, "vm.send-migration: 'local' needs a unix: URL");
	if (g->o.local && !a->cfg.mem_shared)
		return cvmm_api_error(r, 400, "vm.send-migration: 'local' needs shared memory "
				      "(memory shared=on)");
	free(g->config);
	{
		struct json_object *cj = microvm_vmconfig_to_json(&a->cfg);

		g->config = cj ? strdup(json_object_to_json_string_ext(cj, JSON_C_TO_STRING_PLAIN))
			       : NULL;
		json_object_put(cj);
	}
	if (!g->config)
		return cvmm_api_error(r, 500, "vm.send-migration: cannot write the VM config");
	g->o.config = g->config;
	g->o.config_len = strlen(g->config);
	g->sending = true;
	if (!mig_start(a, send_main, url, "vm.send-migration", r))
		r->status = 204;
}

static void vm_migration_progress(struct api *a, struct cvmm_api_request *q,
				  struct cvmm_api_response *r)
{
	struct cvmm_vmm_mig_progress p;
	struct json_object *o;

	(void)q;
	pthread_mutex_lock(&a->mig.mu);
	p = a->mig.own;
	pthread_mutex_unlock(&a->mig.mu);
	/* the VM's figures once it has them (either side) */
	if (a->m->vmm && p.state != CVMM_VMM_MIG_FAILED)
		cvmm_vmm_migrate_progress(a->m->vmm, &p);
	else if (a->m->vmm && a->mig.sending)
		cvmm_vmm_migrate_progress(a->m->vmm, &p);
	o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string(cvmm_vmm_mig_state_name(p.state)));
	json_object_object_add(o, "pass", json_object_new_int64(p.pass));
	counter(o, "bytes_sent", p.bytes_sent);
	counter(o, "bytes_remaining", p.bytes_remaining);
	counter(o, "pages_sent", p.pages_sent);
	counter(o, "zero_pages", p.zero_pages);
	counter(o, "dirty_rate", p.dirty_rate);
	counter(o, "bandwidth", p.bandwidth);
	counter(o, "expected_downtime_ms", p.expected_downtime_ms);
	counter(o, "throttle_pct", p.throttle_pct);
	counter(o, "page_requests", p.page_requests);
	json_object_object_add(o, "dirty_ring", json_object_new_boolean(p.dirty_ring));
	counter(o, "total_ms", p.total_ms);
	counter(o, "downtime_ms", p.downtime_ms);
	if (p.error[0])
		json_object_object_add(o, "error", json_object_new_string(p.error));
	r->json = o;
	r->status = 200;
}

static void vm_migration_cancel(struct api *a, struct cvmm_api_request *q,
				struct cvmm_api_response *r)
{
	(void)q;
	if (!a->mig.thread || __atomic_load_n(&a->mig.done, __ATOMIC_ACQUIRE))
		return cvmm_api_error(r, 409, "vm.migration-cancel: no migration runs");
	if (a->mig.sending) {
		if (cvmm_vmm_migrate_cancel(a->m->vmm))
			return cvmm_api_error(r, 409, "vm.migration-cancel: too late (the state went)");
	} else if (a->mig.lfd >= 0) {
		__atomic_store_n(&a->mig.cancel, true, __ATOMIC_RELEASE);
		shutdown(a->mig.lfd, SHUT_RDWR);
	}
	r->status = 204;
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

/* vmm.ping needs nothing of the VM: answered on the API thread. */
static void h_ping(void *o, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	(void)o;
	(void)q;
	r->json = json_object_new_object();
	json_object_object_add(r->json, "build_version", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(r->json, "version", json_object_new_string(PACKAGE_VERSION));
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
	{ V1 "vm.snapshot", CVMM_API_PUT, h_vm_snapshot, true },
	{ V1 "vm.restore", CVMM_API_PUT, h_vm_restore, true },
	{ V1 "vm.send-migration", CVMM_API_PUT, h_vm_send_migration, true },
	{ V1 "vm.receive-migration", CVMM_API_PUT, h_vm_receive_migration, true },
	{ V1 "vm.migration-progress", CVMM_API_GET, h_vm_migration_progress, false },
	{ V1 "vm.migration-cancel", CVMM_API_PUT, h_vm_migration_cancel, false },
};

static int api_thread_start(void *opaque, const char *type)
{
	return cvmm_sandbox_install(opaque, type);
}

static void on_signal(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct api *a = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (a->m->vmm && !stopped(a)) {
		a->api_stop = true;
		cvmm_vmm_request_stop(a->m->vmm, CVMM_VMM_STOP_REQUEST, 128 + (int)si.ssi_signo);
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

int microvm_api_main(struct microvm *m, int sfd)
{
	struct api a = { .m = m, .flags = m->cfg, .evfd = -1,
			 .mig = { .lfd = -1, .cfd = -1, .mu = PTHREAD_MUTEX_INITIALIZER,
				  .cv = PTHREAD_COND_INITIALIZER } };
	struct cvmm_api_opts o = {
		.sz = sizeof(o), .path = m->cfg->api_socket, .listen_fd = m->cfg->api_fd,
		.routes = routes, .nroutes = CVMM_ARRAY_SIZE(routes), .opaque = &a,
		.thread_start = api_thread_start, .thread_opaque = (void *)m->sandbox,
	};
	struct cvmm_api_server *srv = NULL;
	char err[512] = "";
	int ret;

	a.evfd = microvm_event_monitor_open(m->cfg, err, sizeof(err));
	if (err[0]) {
		fprintf(stderr, "cvmm-microvm: %s\n", err);
		return 1;
	}
	ret = cvmm_event_manager_create(NULL, &a.em);
	if (ret) {
		fprintf(stderr, "cvmm-microvm: control loop: %s\n", strerror(-ret));
		goto out;
	}
	m->em = a.em;
	m->on_event = on_vm_event;
	m->event_opaque = &a;
	if (sfd >= 0 && (ret = cvmm_event_manager_add(a.em, sfd, EPOLLIN, on_signal, &a))) {
		fprintf(stderr, "cvmm-microvm: signals: %s\n", strerror(-ret));
		goto out;
	}
	emit(&a, "vmm", "starting", NULL);
	/* A VM from the flags (or --config) boots before the API answers, so
	 * the first vm.info already sees it Running. */
	if (m->cfg->kernel) {
		struct cvmm_api_response r = { 0 };

		a.cfg = *m->cfg;
		a.have_cfg = true;
		microvm_vmconfig_name_devices(&a.cfg.dev, &a.id_counter);
		if (boot(&a, &r)) {
			fprintf(stderr, "cvmm-microvm: %s\n", r.error + strlen("vm.boot: "));
			a.have_cfg = false;
			ret = 1;
			goto out;
		}
	}
	ret = cvmm_api_server_create(&o, &srv);
	if (ret) {
		fprintf(stderr, "cvmm-microvm: --api-socket: cannot serve on '%s': %s\n",
			o.path ? o.path : "fd", strerror(-ret));
		ret = 1;
		goto out;
	}
	a.status = 0;
	cvmm_event_manager_run(a.em);
	ret = a.status;
out:
	/* The VM goes first (it lives on the loop). The server thread may be
	 * inside a handler waiting for the loop: the loop keeps turning
	 * (answering 503, a->quit is set) until a helper thread has joined the
	 * server, and only then goes. */
	a.quit = true;
	cvmm_api_server_stop(srv);
	if (a.em)
		mig_join(&a, true);
	free(a.mig.config);
	a.api_stop = true;
	drop_vm(&a);
	emit(&a, "vmm", "shutdown", NULL);
	if (srv && a.em) {
		struct joiner j = { .srv = srv };
		pthread_t t;

		if (!pthread_create(&t, NULL, join_server, &j)) {
			while (!__atomic_load_n(&j.done, __ATOMIC_ACQUIRE))
				cvmm_event_manager_run_once(a.em, 10);
			pthread_join(t, NULL);
			srv = NULL;
		}
	}
	cvmm_event_manager_destroy(a.em);
	cvmm_api_server_destroy(srv);
	/* The flags' own config does not own json; drop_cfg only closes fds. */
	drop_cfg(&a);
	if (a.evfd >= 0 && a.evfd != m->cfg->event_monitor_fd)
		close(a.evfd);
	m->em = NULL;
	return ret;
}
