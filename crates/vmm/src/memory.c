/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest memory that changes shape while the VM exists (hotplug,
 * virtio-mem, post-copy): with the VM paused, the map and KVM's memory
 * slots change together, and every device re-translates what it cached
 * (virtqueue rings) before anything runs again. The hot paths never check
 * the map: this protocol is what keeps their pointers valid.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static bool quiet(const struct cvmm_vmm *vmm)
{
	enum cvmm_vmm_state s = cvmm_vmm_state(vmm);

	return s == CVMM_VMM_PAUSED || s == CVMM_VMM_CREATED;
}

static int tell_devices(struct cvmm_vmm *vmm)
{
	int first = 0;

	for (unsigned int i = 0; i < vmm->ndev; i++) {
		const struct device_entry *d = &vmm->dev[i];
		int ret = d->ops->memory_changed ? d->ops->memory_changed(d->dev) : 0;

		if (ret < 0 && !first)
			first = ret;
	}
	return first;
}

int cvmm_vmm_memory_add(struct cvmm_vmm *vmm, const struct cvmm_mem_region_opts *o)
{
	struct kvm_userspace_memory_region kr;
	const struct cvmm_mem_region *r;
	int slot, ret;

	if (!vmm || !o)
		return -EINVAL;
	if (!quiet(vmm))
		return -EBUSY;
	slot = cvmm_kvm_vm_find_free_slot(vmm->vm, 0);
	if (slot < 0)
		return slot;
	ret = cvmm_guest_mem_add_region(vmm->mem, o);
	if (ret)
		return ret;
	r = cvmm_guest_mem_find(vmm->mem, o->gpa);
	kr = (struct kvm_userspace_memory_region){
		.slot = (uint32_t)slot,
		.guest_phys_addr = r->gpa,
		.memory_size = r->size,
		.userspace_addr = (uintptr_t)r->host,
	};
	ret = cvmm_kvm_vm_set_memory(vmm->vm, &kr);
	if (ret) {
		cvmm_guest_mem_remove_region(vmm->mem, o->gpa);
		tell_devices(vmm);
		return ret;
	}
	return tell_devices(vmm);
}

int cvmm_vmm_memory_remove(struct cvmm_vmm *vmm, uint64_t gpa)
{
	struct kvm_userspace_memory_region kr;
	int ret;

	if (!vmm)
		return -EINVAL;
	if (!quiet(vmm))
		return -EBUSY;
	if (!cvmm_guest_mem_find(vmm->mem, gpa) || cvmm_guest_mem_find(vmm->mem, gpa)->gpa != gpa)
		return -ENOENT;
	/* KVM first: the guest must not reach the mapping once it is gone. */
	ret = cvmm_kvm_vm_find_slot(vmm->vm, gpa, &kr);
	if (!ret) {
		kr.memory_size = 0;
		ret = cvmm_kvm_vm_set_memory(vmm->vm, &kr);
	}
	if (ret)
		return ret;
	ret = cvmm_guest_mem_remove_region(vmm->mem, gpa);
	if (ret)
		return ret;
	return tell_devices(vmm);
}
