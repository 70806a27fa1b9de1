/* SPDX-License-Identifier: Apache-2.0 */
/* The API's vm.add-* and vm.remove-device (the configuration before
 * vm.boot; PCI hotplug after it) and vm.resize (the balloon's target,
 * virtio-mem's requested size). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices/balloon.h>
#include <cvmm/virtio-devices/mem.h>

#include "api-internal.h"

static void add_device(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r,
		       const char *kind, const char *what)
{
	struct cvmm_vm_devices *d = &a->cfg.dev;
	unsigned int n0, nd = d->ndisks, nn = d->nnets, nv = d->nvhost;
	const struct cvmm_vm_tr *tr = NULL;
	const char *id = NULL;
	bool vsock = d->vsock, hot;
	char err[400];

	if (!need(a, r, "Created|Shutdown|Running|Paused", what))
		return;
	if (a->restored_paused)
		return cvmm_api_error(r, 409, "%s: the VM was restored and never ran: vm.resume "
				      "first", what);
	/* Into a booted VM: ACPI PCI hotplug. */
	hot = !strcmp(state_name(a), "Running") || !strcmp(state_name(a), "Paused");
	n0 = cvmm_vm_virtio_count(&a->cfg.dev);
	if (cvmm_vm_config_add_json(q->json, kind, &a->cfg.dev, q->fds, q->nfds, err,
					sizeof(err)))
		return cvmm_api_error(r, 400, "%s: %s", what, err);
	if (cvmm_vm_virtio_count(&a->cfg.dev) != n0 + 1)
		return cvmm_api_error(r, 500, "%s: no device was added", what);
	/* The config keeps the json strings it points to (none for devices:
	 * they are copied), and the fds it took. */
	if (!strcmp(kind, "net"))
		for (unsigned int i = 0; i < q->nfds; i++)
			q->fds[i] = -1;
	cvmm_vm_devices_name(&a->cfg.dev, &a->id_counter);
	/* Which one is new: its id, and on PCI the slot it gets at boot. */
	if (d->ndisks > nd)
		tr = &d->disk[nd].tr, id = d->disk[nd].id;
	else if (d->nnets > nn)
		tr = &d->net[nn].tr, id = d->net[nn].id;
	else if (d->nvhost > nv)
		tr = &d->vhost[nv].tr, id = d->vhost[nv].id;
	else if (d->vsock && !vsock)
		tr = &d->vsock_tr, id = d->vsock_id;
	if (hot && (!tr || !cvmm_vm_tr_is_pci(d, tr))) {
		cvmm_vm_devices_remove(d, id);
		return cvmm_api_error(r, 409, "%s: the VM is %s: a virtio-mmio device joins before "
				      "vm.boot only (hotplug needs transport=pci)", what,
				      state_name(a));
	}
	if (tr && cvmm_vm_tr_is_pci(d, tr)) {
		if (cvmm_vm_pci_assign(d)) {
			cvmm_vm_devices_remove(d, id);
			return cvmm_api_error(r, 507, "%s: all 31 PCI slots are taken", what);
		}
		if (hot && cvmm_vm_device_hotplug(&a->vm, id, err, sizeof(err))) {
			cvmm_vm_devices_remove(d, id);
			return cvmm_api_error(r, 400, "%s: %s", what, err);
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

void vm_add_disk(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	add_device(a, q, r, "disk", "vm.add-disk");
}

void vm_add_net(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	add_device(a, q, r, "net", "vm.add-net");
}

void vm_add_fs(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	add_device(a, q, r, "fs", "vm.add-fs");
}

void vm_add_vsock(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	add_device(a, q, r, "vsock", "vm.add-vsock");
}

void vm_add_vhost(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	add_device(a, q, r, "generic_vhost_user", "vm.add-generic-vhost-user");
}

/* The live model of @kind, or NULL (none, or the VM is not running). */
static void *model_of(struct api *a, const char *kind)
{
	for (unsigned int i = 0; a->vm.vmm && i < a->vm.nmodels; i++)
		if (!strcmp(a->vm.models[i].kind, kind) &&
		    cvmm_vmm_state(a->vm.vmm) != CVMM_VMM_SHUTDOWN)
			return a->vm.models[i].model;
	return NULL;
}

/*
 * desired_ram (Cloud Hypervisor's meaning: the guest's whole RAM, boot
 * memory plus what virtio-mem plugs): into *@plug, the bytes virtio-mem
 * is to hold. @return 0 (also when absent: *@plug unchanged); -EINVAL
 * with the answer in @r.
 */
static int desired_ram(struct api *a, struct json_object *v, uint64_t *plug,
		       struct cvmm_api_response *r)
{
	const struct cvmm_vm_devices *d = &a->cfg.dev;
	int64_t bytes;

	if (!v || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_int) || (bytes = json_object_get_int64(v)) < 0) {
		cvmm_api_error(r, 400, "vm.resize: desired_ram: not a number of bytes");
		return -EINVAL;
	}
	if (!d->vmem) {
		if ((uint64_t)bytes == a->cfg.memory)
			return 0;
		cvmm_api_error(r, 400,
			       "vm.resize: desired_ram: the VM has no virtio-mem (--memory "
			       "size=SIZE,hotplug_method=virtio-mem,hotplug_size=SIZE or VmConfig "
			       "memory.hotplug_method VirtioMem; a balloon shrinks the guest: "
			       "desired_balloon)");
		return -EINVAL;
	}
	if ((uint64_t)bytes < a->cfg.memory || (uint64_t)bytes - a->cfg.memory > d->vmem_size ||
	    ((uint64_t)bytes - a->cfg.memory) % CVMM_VM_VMEM_BLOCK) {
		cvmm_api_error(r, 400,
			       "vm.resize: desired_ram: %lld is not the boot memory (%llu) plus whole "
			       "2 MiB blocks up to hotplug_size (%llu)", (long long)bytes,
			       (unsigned long long)a->cfg.memory,
			       (unsigned long long)d->vmem_size);
		return -EINVAL;
	}
	*plug = (uint64_t)bytes - a->cfg.memory;
	return 0;
}

/* vm.resize: the balloon's target (desired_balloon, bytes) and
 * virtio-mem's requested size (desired_ram); desired_vcpus needs CPU
 * hotplug (not yet). Everything is checked before anything changes. */
void vm_resize(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	struct json_object *v, *ram = NULL;
	uint64_t plug = a->cfg.dev.vmem_requested;
	void *model;
	int64_t bytes = 0;

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
	json_object_object_get_ex(q->json, "desired_ram", &ram);
	if (desired_ram(a, ram, &plug, r))
		return;
	if (!json_object_object_get_ex(q->json, "desired_balloon", &v) ||
	    json_object_is_type(v, json_type_null)) {
		v = NULL;
	} else if (!json_object_is_type(v, json_type_int) ||
		   (bytes = json_object_get_int64(v)) < 0 || (uint64_t)bytes > a->cfg.memory) {
		return cvmm_api_error(r, 400,
				      "vm.resize: desired_balloon: not a number of bytes from 0 to the "
				      "guest's %llu", (unsigned long long)a->cfg.memory);
	} else if (!a->cfg.dev.balloon) {
		return cvmm_api_error(r, 400,
				      "vm.resize: desired_balloon: the VM has no balloon (--balloon or "
				      "VmConfig balloon)");
	}
	if (a->cfg.dev.vmem && plug != a->cfg.dev.vmem_requested) {
		a->cfg.dev.vmem_requested = plug;
		if ((model = model_of(a, "virtio-mem")))
			cvmm_virtio_mem_set_requested(model, plug);
	}
	if (v) {
		a->cfg.dev.balloon_size = (uint64_t)bytes & ~(uint64_t)(CVMM_BALLOON_PAGE_SIZE - 1);
		if ((model = model_of(a, "virtio-balloon")))
			cvmm_balloon_set_target(model, (uint32_t)(a->cfg.dev.balloon_size /
								  CVMM_BALLOON_PAGE_SIZE));
	}
	r->status = 204;
}

void vm_remove_device(struct api *a, struct cvmm_api_request *q,
			     struct cvmm_api_response *r)
{
	struct json_object *id;

	if (!json_object_is_type(q->json, json_type_object) ||
	    !json_object_object_get_ex(q->json, "id", &id) ||
	    !json_object_is_type(id, json_type_string) || json_object_object_length(q->json) != 1)
		return cvmm_api_error(r, 400, "vm.remove-device: the body must be {\"id\": \"...\"}");
	if (!need(a, r, "Created|Shutdown|Running|Paused", "vm.remove-device"))
		return;
	/* Its region holds guest memory in use: it shrinks, never leaves. */
	for (unsigned int i = 0; a->vm.vmm && i < a->vm.nmodels; i++)
		if (!strcmp(a->vm.models[i].id, json_object_get_string(id)) &&
		    !strcmp(a->vm.models[i].kind, "virtio-mem"))
			return cvmm_api_error(r, 400, "vm.remove-device: '%s' is the VM's virtio-mem: "
					      "its memory cannot leave (vm.resize desired_ram shrinks "
					      "it)", a->vm.models[i].id);
	if (!strcmp(state_name(a), "Running") || !strcmp(state_name(a), "Paused")) {
		char err[300] = "";
		int ret;

		/* The guest ejects, then the device goes (DEVICE_REMOVED). */
		ret = a->restored_paused ? -EBUSY :
		      cvmm_vmm_device_unplug(a->vm.vmm, json_object_get_string(id), err,
					     sizeof(err));
		if (ret == -ENOENT)
			return cvmm_api_error(r, 404, "vm.remove-device: %s", err);
		if (ret)
			return cvmm_api_error(r, ret == -EINVAL ? 400 : 409,
					      "vm.remove-device: %s", ret == -EBUSY ?
					      "the VM was restored and never ran: vm.resume first" :
					      err);
		r->status = 204;
		return;
	}
	if (cvmm_vm_devices_remove(&a->cfg.dev, json_object_get_string(id)))
		return cvmm_api_error(r, 404, "vm.remove-device: no device '%s'",
				      json_object_get_string(id));
	r->status = 204;
}

