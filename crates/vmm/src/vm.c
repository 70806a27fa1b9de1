/* SPDX-License-Identifier: Apache-2.0 */
/* Creating and destroying a VM: KVM, guest memory, irqchip, PIT, vCPUs. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>

#include "internal.h"
#include "migrate.h"

/* The TSS and identity-map pages sit just below the BIOS area in the MMIO
 * hole, where no RAM or device is. */
#define TSS_ADDR 0xfffbd000ull
#define IDENTITY_MAP_ADDR 0xfffbc000ull

static int memory_register(struct cvmm_vmm *vmm)
{
	for (unsigned int i = 0; i < cvmm_guest_mem_num_regions(vmm->mem); i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(vmm->mem, i);
		struct kvm_userspace_memory_region kr = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->host,
		};
		int ret = cvmm_kvm_vm_set_memory(vmm->vm, &kr);

		if (ret)
			return ret;
	}
	return 0;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Populate guest RAM now rather than on first touch. */
static int prefault(struct cvmm_vmm *vmm)
{
	for (unsigned int i = 0; i < cvmm_guest_mem_num_regions(vmm->mem); i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(vmm->mem, i);

		if (madvise(r->host, r->size, MADV_POPULATE_WRITE))
			return -errno;
	}
	return 0;
}

static int fail(char *err, size_t errlen, int ret, const char *fmt, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, what, strerror(-ret));
	return ret;
}

static int create(struct cvmm_vmm *vmm, char *err, size_t errlen)
{
	struct cvmm_kvm_opts ko = { .sz = sizeof(ko) };
	struct cvmm_kvm_vm_opts vo = { .sz = sizeof(vo) };
	struct cvmm_x86_ram_opts mo = {
		.sz = sizeof(mo),
		.size = vmm->opts.mem_size,
		.backing = CVMM_MEM_ANON,
		.flags = CVMM_MEM_F_NORESERVE,
	};
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int ret;

	if (vmm->opts.backing == CVMM_VMM_MEM_SHARED)
		mo.backing = CVMM_MEM_MEMFD;
	else if (vmm->opts.backing == CVMM_VMM_MEM_HUGETLB)
		mo.backing = CVMM_MEM_HUGETLBFS;
	if ((ret = cvmm_vi_bus_domain_init(&vmm->bus_dom)) ||
	    (ret = cvmm_vi_bus_init(&vmm->bus[CVMM_VMM_PIO], &vmm->bus_dom)) ||
	    (ret = cvmm_vi_bus_init(&vmm->bus[CVMM_VMM_MMIO], &vmm->bus_dom)))
		return fail(err, errlen, ret, "%s: %s", "buses");
	vmm->stop_efd = cvmm_eventfd_create(0);
	if (vmm->stop_efd < 0)
		return fail(err, errlen, vmm->stop_efd, "%s: %s", "eventfd");
	/* Subscribed now: a program may confine the control thread before
	 * it runs the loop. */
	vmm->own_em = !vmm->opts.em;
	if (!vmm->own_em)
		vmm->em = vmm->opts.em;
	if ((vmm->own_em && (ret = cvmm_event_manager_create(NULL, &vmm->em))) ||
	    (ret = cvmm_event_manager_add(vmm->em, vmm->stop_efd, EPOLLIN, cvmm_vi_on_stop, vmm)))
		return fail(err, errlen, ret, "%s: %s", "control loop");
	if ((ret = cvmm_kvm_create(&ko, &vmm->kvm)))
		return fail(err, errlen, ret, "%s: %s", "/dev/kvm");
	if ((ret = cvmm_kvm_vm_create(vmm->kvm, &vo, &vmm->vm)))
		return fail(err, errlen, ret, "%s: %s", "KVM_CREATE_VM");
	ret = cvmm_guest_mem_create_x86(&mo, &vmm->mem);
	if (ret) {
		if (err && errlen)
			snprintf(err, errlen, "memory: cannot map %" PRIu64 " bytes of guest RAM: %s",
				 vmm->opts.mem_size, strerror(-ret));
		return ret;
	}
	if (vmm->opts.prefault && (ret = prefault(vmm)))
		return fail(err, errlen, ret, "%s: %s", "memory: prefault");
	/* Memory slots before the irqchip: once the irqchip exists, each slot
	 * change waits for a kernel grace period (milliseconds of start-up). */
	if ((ret = memory_register(vmm)))
		return fail(err, errlen, ret, "%s: %s", "KVM_SET_USER_MEMORY_REGION");
	if ((ret = cvmm_kvm_vm_set_tss_addr(vmm->vm, TSS_ADDR)) ||
	    (ret = cvmm_kvm_vm_set_identity_map_addr(vmm->vm, IDENTITY_MAP_ADDR)) ||
	    (ret = cvmm_kvm_vm_create_irqchip(vmm->vm)) ||
	    (ret = cvmm_kvm_vm_create_pit2(vmm->vm, &pit)))
		return fail(err, errlen, ret, "%s: %s", "irqchip setup");
	/* The ring is mapped by each vCPU at creation: before them. Not
	 * offered: migration uses the bitmap log instead. */
	if (vmm->opts.dirty_ring_bytes &&
	    (ret = cvmm_kvm_vm_enable_dirty_ring(vmm->vm, vmm->opts.dirty_ring_bytes)) &&
	    ret != -EOPNOTSUPP)
		return fail(err, errlen, ret, "%s: %s", "dirty ring");
	for (unsigned int i = 0; i < vmm->ncpus; i++) {
		vmm->vcpu[i].vmm = vmm;
		vmm->vcpu[i].index = i;
		ret = cvmm_kvm_vcpu_create(vmm->vm, i, &vmm->vcpu[i].kvm);
		if (ret) {
			if (err && errlen)
				snprintf(err, errlen, "cpus: cannot create vCPU %u: %s", i,
					 strerror(-ret));
			return ret;
		}
	}
	cvmm_vi_alloc_init(&vmm->alloc, cvmm_guest_mem_end(vmm->mem));
	/* The RTC's legacy line sits inside the device GSI pool; the I/O APIC
	 * and LAPIC pages lie above the 32-bit MMIO pool. */
	if ((ret = cvmm_vmm_alloc_at(vmm, CVMM_VMM_RES_GSI, 8, 1, "__rtc")))
		return fail(err, errlen, ret, "%s: %s", "allocator");
	return 0;
}

int cvmm_vmm_create(const struct cvmm_vmm_opts *o, struct cvmm_vmm **out, char *err,
		    size_t errlen)
{
	struct cvmm_vmm *vmm;
	int ret;

	if (err && errlen)
		err[0] = 0;
	if (!o || !out || o->sz < sizeof(*o)) {
		if (err && errlen)
			snprintf(err, errlen, "vmm: options missing or from another version");
		return -EINVAL;
	}
	if (!o->ncpus || o->ncpus > CVMM_VMM_MAX_VCPUS) {
		if (err && errlen)
			snprintf(err, errlen, "cpus: %u is out of range (1-%u)", o->ncpus,
				 CVMM_VMM_MAX_VCPUS);
		return -EINVAL;
	}
	if (!o->mem_size || (o->mem_size & 0xfff)) {
		if (err && errlen)
			snprintf(err, errlen, "memory: size must be a non-zero multiple of 4 KiB");
		return -EINVAL;
	}
	vmm = calloc(1, sizeof(*vmm));
	if (!vmm)
		return -ENOMEM;
	vmm->opts = *o;
	vmm->ncpus = o->ncpus;
	vmm->stop_efd = -1;
	pthread_mutex_init(&vmm->vcpu_lock, NULL);
	pthread_mutex_init(&vmm->dev_mu, NULL);
	pthread_cond_init(&vmm->dev_cv, NULL);
	pthread_cond_init(&vmm->vcpu_cond, NULL);
	ret = create(vmm, err, errlen);
	if (ret) {
		cvmm_vmm_destroy(vmm);
		return ret;
	}
	*out = vmm;
	return 0;
}

void cvmm_vmm_destroy(struct cvmm_vmm *vmm)
{
	if (!vmm)
		return;
	vmm->tearing_down = true;
	cvmm_vi_vcpus_stop_and_join(vmm);
	cvmm_vi_device_thread_exit(vmm);
	cvmm_vi_mig_postcopy_peers_end(vmm); /* it talks to devices */
	cvmm_vi_devices_destroy_all(vmm);
	cvmm_vi_pci_fini(vmm);
	cvmm_event_manager_destroy(vmm->dev_em);
	/* After every thread that could fault on guest RAM, before RAM goes. */
	cvmm_vi_snap_restore_fini(vmm);
	cvmm_vi_snap_track_fini(vmm);
	cvmm_vi_migrate_fini(vmm);
	for (unsigned int i = 0; i < vmm->ncpus; i++)
		cvmm_kvm_vcpu_destroy(vmm->vcpu[i].kvm);
	cvmm_kvm_vm_destroy(vmm->vm);
	cvmm_kvm_destroy(vmm->kvm);
	cvmm_guest_mem_destroy(vmm->mem);
	if (vmm->own_em)
		cvmm_event_manager_destroy(vmm->em);
	else if (vmm->em && vmm->stop_efd >= 0)
		cvmm_event_manager_remove(vmm->em, vmm->stop_efd);
	cvmm_close(vmm->stop_efd);
	cvmm_vi_alloc_fini(&vmm->alloc);
	cvmm_vi_bus_fini(&vmm->bus[CVMM_VMM_PIO]);
	cvmm_vi_bus_fini(&vmm->bus[CVMM_VMM_MMIO]);
	cvmm_vi_bus_domain_fini(&vmm->bus_dom);
	pthread_mutex_destroy(&vmm->vcpu_lock);
	pthread_cond_destroy(&vmm->dev_cv);
	pthread_mutex_destroy(&vmm->dev_mu);
	pthread_cond_destroy(&vmm->vcpu_cond);
	free(vmm);
}

struct cvmm_kvm *cvmm_vmm_kvm(const struct cvmm_vmm *vmm) { return vmm->kvm; }
struct cvmm_kvm_vm *cvmm_vmm_kvm_vm(const struct cvmm_vmm *vmm) { return vmm->vm; }
struct cvmm_guest_mem *cvmm_vmm_mem(const struct cvmm_vmm *vmm) { return vmm->mem; }
unsigned int cvmm_vmm_ncpus(const struct cvmm_vmm *vmm) { return vmm->ncpus; }
struct cvmm_event_manager *cvmm_vmm_event_manager(const struct cvmm_vmm *vmm) { return vmm->em; }

struct cvmm_kvm_vcpu *cvmm_vmm_vcpu(const struct cvmm_vmm *vmm, unsigned int i)
{
	return vmm && i < vmm->ncpus ? vmm->vcpu[i].kvm : NULL;
}
