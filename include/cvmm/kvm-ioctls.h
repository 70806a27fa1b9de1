/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/kvm-ioctls.h
 * @brief The KVM API a VMM needs on x86_64: system, VM, vCPU and device fds.
 *
 * Three opaque objects, each owning one fd:
 *  - struct cvmm_kvm       /dev/kvm: API version, capabilities, CPUID, MSR lists;
 *  - struct cvmm_kvm_vm    a VM: memory slots (with bookkeeping), irqchip,
 *                          PIT, clock, irqfd/ioeventfd/MSI/GSI routing,
 *                          coalesced MMIO, dirty log and dirty ring, devices;
 *  - struct cvmm_kvm_vcpu  a vCPU: KVM_RUN with a typed exit, the kick,
 *                          register/MSR/CPUID/LAPIC/XSAVE/event state.
 *
 * Wrappers take the <linux/kvm.h> structs directly. Every ioctl is issued
 * through a macro that checks at compile time that the argument's size
 * matches the size encoded in the ioctl number.
 *
 * Conventions: 0 (or a non-negative count) on success, a negative errno on
 * failure (the kernel's errno is passed through unless stated otherwise);
 * nothing prints, exits or aborts. A feature the kernel lacks gives
 * -EOPNOTSUPP. Destroy vCPUs before their VM and VMs before their system
 * object.
 *
 * Thread safety in general: a vCPU object belongs to the thread that runs it;
 * only cvmm_kvm_vcpu_kick() may be called from other threads. VM calls are
 * safe from any thread (memory-slot bookkeeping is locked); system calls are
 * safe from any thread.
 */
#ifndef CVMM_KVM_IOCTLS_H
#define CVMM_KVM_IOCTLS_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Definitions newer than the oldest <linux/kvm.h> we build against (6.1).   */
/* Layouts are the kernel's ABI (Documentation/virt/kvm/api.rst).            */
/* ------------------------------------------------------------------------ */

#ifndef KVM_SET_USER_MEMORY_REGION2
struct kvm_userspace_memory_region2 {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
	__u64 guest_memfd_offset;
	__u32 guest_memfd;
	__u32 pad1;
	__u64 pad2[14];
};
#define KVM_SET_USER_MEMORY_REGION2 \
	_IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)
#endif
#ifndef KVM_CAP_USER_MEMORY2
#define KVM_CAP_USER_MEMORY2 231
#endif
#ifndef KVM_MEM_GUEST_MEMFD
#define KVM_MEM_GUEST_MEMFD (1UL << 2)
#endif

/* ------------------------------------------------------------------------ */
/* System: /dev/kvm                                                          */
/* ------------------------------------------------------------------------ */

struct cvmm_kvm;
struct cvmm_kvm_vm;
struct cvmm_kvm_vcpu;

/** Options for cvmm_kvm_create(); NULL means all defaults. */
struct cvmm_kvm_opts {
	size_t sz;        /**< sizeof(struct cvmm_kvm_opts) */
	const char *path; /**< device node; NULL: "/dev/kvm" */
};

/**
 * Open the KVM device and check that it speaks API version 12.
 * @return 0 with *@out set; -ENOENT/-EACCES (no usable device), -EINVAL
 *         (bad @o->sz), -EPROTO (API version is not 12), -ENOMEM.
 * Thread safety: reentrant.
 */
int cvmm_kvm_create(const struct cvmm_kvm_opts *o, struct cvmm_kvm **out);

/** Close the device. NULL does nothing. Destroy every VM first. */
void cvmm_kvm_destroy(struct cvmm_kvm *kvm);

/** The /dev/kvm fd (owned by @kvm). Thread safety: any thread. */
int cvmm_kvm_fd(const struct cvmm_kvm *kvm);

/** KVM_GET_API_VERSION. @return the version (12) or negative errno. */
int cvmm_kvm_api_version(struct cvmm_kvm *kvm);

/**
 * KVM_CHECK_EXTENSION on the system fd.
 * @return the capability's value (0: absent; often 1, sometimes a size or
 *         a count) or negative errno. Thread safety: any thread.
 */
int cvmm_kvm_check_extension(struct cvmm_kvm *kvm, long cap);

/** KVM_GET_VCPU_MMAP_SIZE (cached at create). @return bytes (> 0). */
int cvmm_kvm_vcpu_mmap_size(const struct cvmm_kvm *kvm);

/**
 * KVM_GET_SUPPORTED_CPUID into a freshly allocated struct that is grown
 * until it fits. The caller free()s *@out.
 * @return the number of entries; -ENOMEM; negative errno from the kernel.
 * Thread safety: any thread.
 */
int cvmm_kvm_get_supported_cpuid(struct cvmm_kvm *kvm, struct kvm_cpuid2 **out);

/** KVM_GET_EMULATED_CPUID, as cvmm_kvm_get_supported_cpuid(). */
int cvmm_kvm_get_emulated_cpuid(struct cvmm_kvm *kvm, struct kvm_cpuid2 **out);

/**
 * KVM_GET_MSR_INDEX_LIST: the MSRs a vCPU state save must cover. Allocated
 * to fit; the caller free()s *@out.
 * @return the number of indices; -ENOMEM; negative errno.
 */
int cvmm_kvm_get_msr_index_list(struct cvmm_kvm *kvm, struct kvm_msr_list **out);

/**
 * KVM_GET_MSR_FEATURE_INDEX_LIST (needs KVM_CAP_GET_MSR_FEATURES), as
 * cvmm_kvm_get_msr_index_list().
 * @return count; -EOPNOTSUPP; -ENOMEM; negative errno.
 */
int cvmm_kvm_get_msr_feature_index_list(struct cvmm_kvm *kvm,
					struct kvm_msr_list **out);

/**
 * KVM_GET_MSRS on the system fd: read feature MSRs (indices from the
 * feature index list) into @msrs->entries[0..nmsrs).
 * @return the number of MSRs read (stops at the first unknown one);
 *         -EOPNOTSUPP; negative errno.
 */
int cvmm_kvm_get_feature_msrs(struct cvmm_kvm *kvm, struct kvm_msrs *msrs);

/* ------------------------------------------------------------------------ */
/* Variable-size kernel structs                                              */
/* ------------------------------------------------------------------------ */

/** calloc() a kvm_cpuid2 with room for @nent entries, nent set. NULL on ENOMEM. */
struct kvm_cpuid2 *cvmm_kvm_cpuid2_alloc(uint32_t nent);
/** calloc() a kvm_msrs with room for @n entries, nmsrs set. NULL on ENOMEM. */
struct kvm_msrs *cvmm_kvm_msrs_alloc(uint32_t n);

/* ------------------------------------------------------------------------ */
/* VM                                                                        */
/* ------------------------------------------------------------------------ */

/** Options for cvmm_kvm_vm_create(); NULL means all defaults. */
struct cvmm_kvm_vm_opts {
	size_t sz;          /**< sizeof(struct cvmm_kvm_vm_opts) */
	unsigned long type; /**< KVM_CREATE_VM machine type; 0 for x86 default */
};

/**
 * KVM_CREATE_VM and the slot bookkeeping (size from KVM_CAP_NR_MEMSLOTS).
 * @return 0 with *@out set; -EINVAL (bad opts); -ENOMEM; negative errno
 *         from the kernel (-EMFILE, -ENOMEM...).
 * Thread safety: any thread.
 */
int cvmm_kvm_vm_create(struct cvmm_kvm *kvm, const struct cvmm_kvm_vm_opts *o,
		       struct cvmm_kvm_vm **out);

/** Close the VM fd and free the bookkeeping. NULL does nothing. Destroy vCPUs first. */
void cvmm_kvm_vm_destroy(struct cvmm_kvm_vm *vm);

/** The VM fd (owned by @vm). */
int cvmm_kvm_vm_fd(const struct cvmm_kvm_vm *vm);
/** The system object this VM was created from. */
struct cvmm_kvm *cvmm_kvm_vm_kvm(const struct cvmm_kvm_vm *vm);

/** KVM_CHECK_EXTENSION on the VM fd. @return the value (0: absent) or negative errno. */
int cvmm_kvm_vm_check_extension(struct cvmm_kvm_vm *vm, long cap);

/**
 * KVM_ENABLE_CAP on the VM fd. For the dirty ring, manual dirty-log protect
 * and split irqchip prefer the dedicated helpers below: they also keep this
 * object's view of the VM in step.
 * @return 0 or negative errno (-EINVAL: unknown cap or bad args).
 */
int cvmm_kvm_vm_enable_cap(struct cvmm_kvm_vm *vm, const struct kvm_enable_cap *cap);

/* --- memory slots ------------------------------------------------------- */

/**
 * KVM_SET_USER_MEMORY_REGION with bookkeeping. @r->slot holds the address
 * space in bits 16..31 (x86: 0 normal, 1 SMM where KVM_CAP_MULTI_ADDRESS_SPACE
 * offers it) and the slot id below.
 * memory_size 0 deletes the slot. Before asking the kernel, a new or changed
 * slot is checked against the other slots of the same address space.
 * @return 0; -EEXIST (overlaps another slot); -EINVAL (slot id out of range,
 *         unaligned address or size, address overflow, unknown flags, or the
 *         kernel refused a change such as moving a live slot); -ENOENT
 *         (deleting a slot that does not exist); -ENOMEM; negative errno.
 * Thread safety: any thread; serialised with the other slot calls.
 */
int cvmm_kvm_vm_set_memory(struct cvmm_kvm_vm *vm,
			   const struct kvm_userspace_memory_region *r);

/**
 * KVM_SET_USER_MEMORY_REGION2 (guest_memfd-capable) with the same checks.
 * @return as cvmm_kvm_vm_set_memory(); -EOPNOTSUPP without KVM_CAP_USER_MEMORY2.
 */
int cvmm_kvm_vm_set_memory2(struct cvmm_kvm_vm *vm,
			    const struct kvm_userspace_memory_region2 *r);

/**
 * The lowest unused slot id in address space @as_id.
 * @return the slot id (without the address-space bits); -ENOSPC when full;
 *         -EINVAL (no such address space).
 */
int cvmm_kvm_vm_find_free_slot(struct cvmm_kvm_vm *vm, uint16_t as_id);

/**
 * Copy up to @max registered slots (sorted by slot number, with address
 * space bits) into @out, for snapshots and dirty tracking.
 * @return the total number of slots (may exceed @max).
 */
int cvmm_kvm_vm_get_slots(struct cvmm_kvm_vm *vm,
			  struct kvm_userspace_memory_region *out, size_t max);

/**
 * Find the slot (address space 0) containing guest physical address @gpa.
 * @return 0 with *@out filled; -ENOENT.
 */
int cvmm_kvm_vm_find_slot(struct cvmm_kvm_vm *vm, uint64_t gpa,
			  struct kvm_userspace_memory_region *out);

/* --- interrupt controllers, PIT, clock ---------------------------------- */

/** KVM_CREATE_IRQCHIP (PIC + IOAPIC + LAPICs). Call before creating vCPUs. @return 0; -EEXIST; negative errno. */
int cvmm_kvm_vm_create_irqchip(struct cvmm_kvm_vm *vm);
/**
 * KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP): LAPICs in the kernel, PIC/IOAPIC in
 * user space, with @nr_ioapic_pins routes reserved. Call before vCPUs exist.
 * @return 0; -EOPNOTSUPP; -EEXIST (an irqchip or a vCPU already exists;
 *         kernels before 6.x say -EINVAL for the vCPU case); -EINVAL (too
 *         many pins); negative errno.
 */
int cvmm_kvm_vm_enable_split_irqchip(struct cvmm_kvm_vm *vm, uint32_t nr_ioapic_pins);
/** KVM_GET_IRQCHIP: @chip->chip_id selects PIC master/slave or IOAPIC. @return 0; -ENXIO (no irqchip); -EINVAL. */
int cvmm_kvm_vm_get_irqchip(struct cvmm_kvm_vm *vm, struct kvm_irqchip *chip);
/** KVM_SET_IRQCHIP. @return 0; -ENXIO; -EINVAL. */
int cvmm_kvm_vm_set_irqchip(struct cvmm_kvm_vm *vm, const struct kvm_irqchip *chip);
/** KVM_CREATE_PIT2 (needs the in-kernel irqchip). @return 0; -EEXIST; -ENOENT (no irqchip); negative errno. */
int cvmm_kvm_vm_create_pit2(struct cvmm_kvm_vm *vm, const struct kvm_pit_config *cfg);
/** KVM_GET_PIT2. @return 0; -ENXIO (no PIT). */
int cvmm_kvm_vm_get_pit2(struct cvmm_kvm_vm *vm, struct kvm_pit_state2 *st);
/** KVM_SET_PIT2. @return 0; -ENXIO (no PIT). */
int cvmm_kvm_vm_set_pit2(struct cvmm_kvm_vm *vm, const struct kvm_pit_state2 *st);
/** KVM_GET_CLOCK (kvmclock). @return 0 or negative errno. */
int cvmm_kvm_vm_get_clock(struct cvmm_kvm_vm *vm, struct kvm_clock_data *clk);
/** KVM_SET_CLOCK. @return 0; -EINVAL (unknown flags); negative errno. */
int cvmm_kvm_vm_set_clock(struct cvmm_kvm_vm *vm, const struct kvm_clock_data *clk);
/**
 * KVM_IRQ_LINE: drive GSI @irq to @level (true: asserted).
 * @return 0; -ENXIO (no irqchip); negative errno.
 * Thread safety: any thread.
 */
int cvmm_kvm_vm_irq_line(struct cvmm_kvm_vm *vm, uint32_t irq, bool level);
/** KVM_SET_TSS_ADDR: three pages the CPU needs for real mode on VMX (call before running vCPUs). @return 0; -EINVAL (above 4 GiB). */
int cvmm_kvm_vm_set_tss_addr(struct cvmm_kvm_vm *vm, uint64_t addr);
/** KVM_SET_IDENTITY_MAP_ADDR: one page; call before vCPUs exist. @return 0; -EINVAL (vCPUs exist). */
int cvmm_kvm_vm_set_identity_map_addr(struct cvmm_kvm_vm *vm, uint64_t addr);

/* --- irqfd, ioeventfd, MSI, GSI routing --------------------------------- */

/**
 * KVM_IRQFD: a write to eventfd @fd injects GSI @gsi. With @resample_fd >= 0
 * the line is level-triggered: it stays asserted until the guest EOIs, then
 * @resample_fd is signalled (KVM_IRQFD_FLAG_RESAMPLE).
 * @return 0; -EINVAL (no in-kernel irqchip, bad fd); -EBUSY (fd already
 *         registered); -EBADF; negative errno. Thread safety: any thread.
 */
int cvmm_kvm_vm_register_irqfd(struct cvmm_kvm_vm *vm, int fd, uint32_t gsi,
			       int resample_fd);
/**
 * KVM_IRQFD with KVM_IRQFD_FLAG_DEASSIGN.
 * @return 0 (also for a pair that was never registered: the kernel does not
 *         tell); -EBADF; negative errno. Thread safety: any thread.
 */
int cvmm_kvm_vm_unregister_irqfd(struct cvmm_kvm_vm *vm, int fd, uint32_t gsi);

/** Address space of an ioeventfd. */
enum cvmm_kvm_io_space {
	CVMM_KVM_IO_PIO = 0,  /**< x86 port I/O */
	CVMM_KVM_IO_MMIO = 1, /**< memory-mapped I/O */
};

/**
 * KVM_IOEVENTFD: a guest write of @len bytes (0, 1, 2, 4 or 8; 0 means any
 * length, MMIO only) at @addr signals @fd instead of exiting to user space.
 * With @datamatch non-NULL only writes of exactly *@datamatch match; others
 * exit as usual.
 * @return 0; -EINVAL (bad length or range, or @len 0 with @datamatch);
 *         -EEXIST (same address/length/datamatch already registered);
 *         -ENOSPC (the I/O bus is full); negative errno.
 * Thread safety: any thread.
 */
int cvmm_kvm_vm_register_ioeventfd(struct cvmm_kvm_vm *vm, int fd,
				   enum cvmm_kvm_io_space space, uint64_t addr,
				   uint32_t len, const uint64_t *datamatch);
/** Remove a registration made with the same arguments. @return 0; -ENOENT. */
int cvmm_kvm_vm_unregister_ioeventfd(struct cvmm_kvm_vm *vm, int fd,
				     enum cvmm_kvm_io_space space, uint64_t addr,
				     uint32_t len, const uint64_t *datamatch);

/**
 * KVM_SIGNAL_MSI.
 * @return 1 delivered, 0 blocked by the guest, negative errno (-ENODEV or
 *         -EINVAL without an in-kernel LAPIC). Thread safety: any thread.
 */
int cvmm_kvm_vm_signal_msi(struct cvmm_kvm_vm *vm, const struct kvm_msi *msi);

/**
 * KVM_SET_GSI_ROUTING: replace the whole routing table with @nr entries.
 * @return 0; -EINVAL (bad entry, too many entries); -ENOMEM; negative errno.
 * Thread safety: any thread (the kernel serialises).
 */
int cvmm_kvm_vm_set_gsi_routing(struct cvmm_kvm_vm *vm,
				const struct kvm_irq_routing_entry *entries,
				uint32_t nr);

/* --- coalesced MMIO/PIO ------------------------------------------------- */

/**
 * KVM_REGISTER_COALESCED_MMIO: writes to @zone are queued in the ring
 * (see cvmm_kvm_vcpu_coalesced_mmio_drain()) instead of exiting.
 * @zone->pio 1 selects port I/O (KVM_CAP_COALESCED_PIO).
 * @return 0; -EOPNOTSUPP; -EINVAL; -ENOSPC.
 */
int cvmm_kvm_vm_register_coalesced_mmio(struct cvmm_kvm_vm *vm,
					const struct kvm_coalesced_mmio_zone *zone);
/** KVM_UNREGISTER_COALESCED_MMIO. @return 0; negative errno. */
int cvmm_kvm_vm_unregister_coalesced_mmio(struct cvmm_kvm_vm *vm,
					  const struct kvm_coalesced_mmio_zone *zone);

/* --- device fds ---------------------------------------------------------- */

/**
 * KVM_CREATE_DEVICE. On success @cd->fd holds the new device fd (owned by
 * the caller) unless KVM_CREATE_DEVICE_TEST was set.
 * @return 0; -ENODEV (type not supported); -EEXIST; negative errno.
 */
int cvmm_kvm_vm_create_device(struct cvmm_kvm_vm *vm, struct kvm_create_device *cd);
/** KVM_SET_DEVICE_ATTR on a device fd (or a VM/vCPU fd with attributes). @return 0; -ENXIO (unknown attribute); negative errno. */
int cvmm_kvm_device_set_attr(int fd, const struct kvm_device_attr *attr);
/** KVM_GET_DEVICE_ATTR. @return 0; -ENXIO (unknown attribute); -EPERM (device has no getter); negative errno. */
int cvmm_kvm_device_get_attr(int fd, const struct kvm_device_attr *attr);
/** KVM_HAS_DEVICE_ATTR. @return 1 present, 0 absent, negative errno. */
int cvmm_kvm_device_has_attr(int fd, const struct kvm_device_attr *attr);

/* --- dirty log (bitmap) --------------------------------------------------- */

/** Bytes of a dirty bitmap for a slot of @memory_size bytes (4 KiB pages, 64-bit words). */
size_t cvmm_kvm_dirty_bitmap_bytes(uint64_t memory_size);

/**
 * KVM_GET_DIRTY_LOG for @slot (with address-space bits) into @bitmap, bit n
 * for page n of the slot. The slot must have KVM_MEM_LOG_DIRTY_PAGES.
 * Without manual protect, the kernel also write-protects again and clears
 * its log; with manual protect (cvmm_kvm_vm_enable_manual_dirty_protect())
 * the pages stay writable until cvmm_kvm_vm_clear_dirty_log().
 * @return 0; -ENOENT (no such slot); -ENOSPC (@bitmap_bytes too small);
 *         -EINVAL (slot does not log); negative errno.
 * Thread safety: any thread.
 */
int cvmm_kvm_vm_get_dirty_log(struct cvmm_kvm_vm *vm, uint32_t slot,
			      uint64_t *bitmap, size_t bitmap_bytes);

/**
 * KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) with @flags
 * (KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE, optionally KVM_DIRTY_LOG_INITIALLY_SET).
 * @return 0; -EOPNOTSUPP (not offered, or @flags has bits the kernel lacks);
 *         -EINVAL (@flags lacks MANUAL_PROTECT_ENABLE); negative errno.
 */
int cvmm_kvm_vm_enable_manual_dirty_protect(struct cvmm_kvm_vm *vm, uint64_t flags);

/**
 * KVM_CLEAR_DIRTY_LOG: write-protect again the pages of @slot whose bits are
 * set in @bitmap, bit 0 meaning page @first_page. @first_page must be a
 * multiple of 64, and @num_pages a multiple of 64 unless the range ends at
 * the end of the slot.
 * @return 0; -ENOENT (no such slot); -EINVAL (alignment, range past the
 *         slot, manual protect not enabled); negative errno.
 */
int cvmm_kvm_vm_clear_dirty_log(struct cvmm_kvm_vm *vm, uint32_t slot,
				uint64_t first_page, uint32_t num_pages,
				const uint64_t *bitmap);

/**
 * Clear a whole slot's dirty @bitmap (as returned by get_dirty_log) with one
 * KVM_CLEAR_DIRTY_LOG per @chunk_pages pages (a multiple of 64, 0 for 65536),
 * skipping chunks with no bit set, so the guest's pages are write-protected
 * again a chunk at a time instead of all at once.
 * @return the number of KVM_CLEAR_DIRTY_LOG calls made; -ENOENT; -ENOSPC
 *         (@bitmap_bytes too small for the slot); -EINVAL; negative errno.
 */
int cvmm_kvm_vm_clear_dirty_log_chunked(struct cvmm_kvm_vm *vm, uint32_t slot,
					const uint64_t *bitmap, size_t bitmap_bytes,
					uint32_t chunk_pages);

/* --- dirty ring ----------------------------------------------------------- */

/**
 * Enable the per-vCPU dirty ring of @bytes bytes (a power of two, at least
 * one page, at most the KVM_CAP_DIRTY_LOG_RING value; 16 bytes per entry).
 * KVM_CAP_DIRTY_LOG_RING_ACQ_REL is preferred over KVM_CAP_DIRTY_LOG_RING.
 * Call before creating any vCPU (each vCPU maps its ring at creation).
 * @return 0; -EOPNOTSUPP; -EINVAL (bad size); -EBUSY (vCPUs exist or
 *         already enabled); negative errno.
 */
int cvmm_kvm_vm_enable_dirty_ring(struct cvmm_kvm_vm *vm, uint32_t bytes);

/** The dirty ring size in bytes; 0 when not enabled. */
uint32_t cvmm_kvm_vm_dirty_ring_bytes(const struct cvmm_kvm_vm *vm);

/**
 * KVM_RESET_DIRTY_RINGS: the kernel write-protects again every page whose
 * ring entry was harvested and frees those entries. Call after harvesting
 * all vCPUs' rings (and before re-entering a vCPU that exited with
 * CVMM_KVM_EXIT_DIRTY_RING_FULL).
 * @return the number of entries reset; -EOPNOTSUPP (ring not enabled);
 *         negative errno. Thread safety: any thread.
 */
int cvmm_kvm_vm_reset_dirty_rings(struct cvmm_kvm_vm *vm);

/** One harvested dirty page: slot (with address-space bits) and page offset in it. */
struct cvmm_kvm_dirty_entry {
	uint32_t slot;
	uint64_t offset; /**< page index inside the slot */
};

/**
 * Called per harvested entry. A negative return stops the harvest; that
 * entry is left in the ring (not marked for reset) and the value is returned.
 */
typedef int (*cvmm_kvm_dirty_fn)(uint32_t slot, uint64_t offset, void *opaque);

/**
 * Harvest up to @max dirty entries from @vcpu's ring into @out: each entry
 * published by the kernel (flags DIRTY, read with acquire ordering) is
 * copied, then marked RESET (release store) so the next
 * cvmm_kvm_vm_reset_dirty_rings() recycles it.
 * @return the number harvested (0: ring empty); -EOPNOTSUPP (ring not enabled).
 * Thread safety: one harvester per vCPU at a time; may run while the vCPU
 * is in KVM_RUN (the ring is the lock-free protocol between the two).
 */
int cvmm_kvm_vcpu_dirty_ring_harvest(struct cvmm_kvm_vcpu *vcpu,
				     struct cvmm_kvm_dirty_entry *out, size_t max);

/**
 * Harvest every published entry, calling @fn for each.
 * @return the number harvested; @fn's negative value; -EOPNOTSUPP.
 * Thread safety: as cvmm_kvm_vcpu_dirty_ring_harvest().
 */
int cvmm_kvm_vcpu_dirty_ring_harvest_cb(struct cvmm_kvm_vcpu *vcpu,
					cvmm_kvm_dirty_fn fn, void *opaque);

/* ------------------------------------------------------------------------ */
/* vCPU                                                                      */
/* ------------------------------------------------------------------------ */

/**
 * KVM_CREATE_VCPU with id @id, and map its kvm_run page (and its dirty ring
 * if enabled).
 * @return 0 with *@out set; -EEXIST (id in use); -EINVAL (id too large);
 *         -ENOMEM; negative errno.
 * Thread safety: any thread; the vCPU then belongs to the thread running it.
 */
int cvmm_kvm_vcpu_create(struct cvmm_kvm_vm *vm, uint32_t id,
			 struct cvmm_kvm_vcpu **out);

/** Unmap and close. NULL does nothing. The vCPU must not be running. */
void cvmm_kvm_vcpu_destroy(struct cvmm_kvm_vcpu *vcpu);

/** The vCPU fd (owned by @vcpu). */
int cvmm_kvm_vcpu_fd(const struct cvmm_kvm_vcpu *vcpu);
/** The vCPU id. */
uint32_t cvmm_kvm_vcpu_id(const struct cvmm_kvm_vcpu *vcpu);
/** The VM this vCPU belongs to. */
struct cvmm_kvm_vm *cvmm_kvm_vcpu_vm(const struct cvmm_kvm_vcpu *vcpu);
/** The shared kvm_run page (for fields the typed exit does not carry). */
struct kvm_run *cvmm_kvm_vcpu_run_page(struct cvmm_kvm_vcpu *vcpu);

/** Why KVM_RUN returned. */
enum cvmm_kvm_exit_reason {
	CVMM_KVM_EXIT_UNKNOWN = 0,     /**< anything not listed: see kvm_reason */
	CVMM_KVM_EXIT_IO,              /**< port I/O: exit.io */
	CVMM_KVM_EXIT_MMIO,            /**< MMIO to an unmapped GPA: exit.mmio */
	CVMM_KVM_EXIT_HLT,             /**< HLT without an in-kernel LAPIC */
	CVMM_KVM_EXIT_SHUTDOWN,        /**< triple fault */
	CVMM_KVM_EXIT_FAIL_ENTRY,      /**< exit.fail_entry */
	CVMM_KVM_EXIT_INTERNAL_ERROR,  /**< exit.internal */
	CVMM_KVM_EXIT_SYSTEM_EVENT,    /**< exit.system_event */
	CVMM_KVM_EXIT_DEBUG,           /**< exit.debug */
	CVMM_KVM_EXIT_IRQ_WINDOW_OPEN, /**< request_interrupt_window satisfied */
	CVMM_KVM_EXIT_RDMSR,           /**< exit.msr: fill *data_out, *error_out */
	CVMM_KVM_EXIT_WRMSR,           /**< exit.msr: data; set *error_out to reject */
	CVMM_KVM_EXIT_DIRTY_RING_FULL, /**< harvest, reset rings, run again */
	CVMM_KVM_EXIT_INTR,            /**< a signal or immediate_exit (a kick) */
	CVMM_KVM_EXIT_HYPERCALL,       /**< exit.hypercall (KVM_CAP_EXIT_HYPERCALL) */
	CVMM_KVM_EXIT_EXCEPTION,       /**< KVM_EXIT_EXCEPTION */
	CVMM_KVM_EXIT_NMI,             /**< KVM_EXIT_NMI */
	CVMM_KVM_EXIT_BUS_LOCK,        /**< KVM_EXIT_X86_BUS_LOCK */
	CVMM_KVM_EXIT_NOTIFY,          /**< KVM_EXIT_NOTIFY */
	CVMM_KVM_EXIT_IOAPIC_EOI,      /**< exit.eoi_vector (split irqchip) */
};

/** A typed view of one KVM_RUN exit. Pointers point into the kvm_run page
 *  and are valid until the next cvmm_kvm_vcpu_run(). */
struct cvmm_kvm_exit {
	enum cvmm_kvm_exit_reason reason;
	uint32_t kvm_reason; /**< raw kvm_run.exit_reason */
	union {
		struct {
			uint16_t port;
			uint8_t size;   /**< 1, 2 or 4 bytes per element */
			bool is_write;  /**< OUT (true) or IN (false) */
			uint32_t count; /**< elements (string I/O: > 1) */
			uint8_t *data;  /**< size * count bytes; for IN fill it */
		} io;
		struct {
			uint64_t addr;
			uint32_t len;  /**< 1..8 */
			bool is_write;
			uint8_t *data; /**< 8 bytes; for reads fill data[0..len) */
		} mmio;
		struct {
			uint64_t hardware_entry_failure_reason;
			uint32_t cpu;
		} fail_entry;
		struct {
			uint32_t suberror;
			uint32_t ndata;       /**< clamped to the array size */
			const __u64 *data;
		} internal;
		struct {
			uint32_t type;  /**< KVM_SYSTEM_EVENT_* */
			uint32_t ndata; /**< clamped to the array size */
			const __u64 *data;
		} system_event;
		struct {
			uint32_t exception;
			uint64_t pc;
			uint64_t dr6, dr7;
		} debug;
		struct {
			uint32_t index;     /**< MSR number */
			uint32_t reason;    /**< KVM_MSR_EXIT_REASON_* */
			uint64_t data;      /**< WRMSR value */
			__u64 *data_out;   /**< RDMSR result goes here */
			uint8_t *error_out; /**< set to 1 to inject #GP */
		} msr;
		struct {
			uint64_t nr;
			uint64_t args[6];
			__u64 *ret; /**< result returned to the guest */
		} hypercall;
		struct {
			uint32_t exception, error_code;
		} exception;
		uint8_t eoi_vector;
	};
};

/**
 * KVM_RUN once and decode the exit into @exit. A pending kick (see
 * cvmm_kvm_vcpu_kick()) makes it return at once with CVMM_KVM_EXIT_INTR and
 * consumes the kick. Any I/O or MMIO IN data the caller wrote into the
 * previous exit's buffer is delivered to the guest by this call.
 * No allocation and no logging: this is the hot path.
 * @return 0 (see @exit->reason); -EFAULT (the run page describes I/O data
 *         outside the mapping or an MMIO length over 8, or the kernel hit a
 *         bad memory slot); any other negative errno of KVM_RUN (EINTR is
 *         not one: it is the INTR exit).
 * Thread safety: only the vCPU's own thread; it records that thread so
 * cvmm_kvm_vcpu_kick() can signal it.
 */
int cvmm_kvm_vcpu_run(struct cvmm_kvm_vcpu *vcpu, struct cvmm_kvm_exit *exit);

/**
 * Kick the vCPU out of KVM_RUN: set immediate_exit, then send sys-util's
 * kick signal (cvmm_kick_signal()) to the thread that last ran it. The
 * vCPU's current or next cvmm_kvm_vcpu_run() returns CVMM_KVM_EXIT_INTR,
 * however the kick and the run race. Several kicks before that run coalesce
 * into one. Set your request flag before kicking; check it after INTR.
 * Requires cvmm_kick_init() in the process and the kick signal unblocked in
 * the vCPU thread.
 * @return 0; -ESRCH (the recorded thread is gone).
 * Thread safety: any thread, while the vCPU object exists and the thread
 * that last ran it has not been joined (signalling a joined pthread_t is
 * undefined): stop kicking before joining a vCPU thread.
 */
int cvmm_kvm_vcpu_kick(struct cvmm_kvm_vcpu *vcpu);

/** Whether a kick is pending (immediate_exit is set). Any thread. */
bool cvmm_kvm_vcpu_kick_pending(const struct cvmm_kvm_vcpu *vcpu);

/* ------------------------------------------------------------------------ */
/* Register state. Each get/set pair is the ioctl of the same name          */
/* (KVM_GET_REGS, KVM_SET_REGS, ...) on the vCPU fd.                          */
/* @return 0 or the kernel's negative errno (specific ones noted below).     */
/* Thread safety: the vCPU's own thread, while it is not in KVM_RUN.         */
/* ------------------------------------------------------------------------ */

int cvmm_kvm_vcpu_get_regs(struct cvmm_kvm_vcpu *vcpu, struct kvm_regs *regs);
int cvmm_kvm_vcpu_set_regs(struct cvmm_kvm_vcpu *vcpu, const struct kvm_regs *regs);
int cvmm_kvm_vcpu_get_sregs(struct cvmm_kvm_vcpu *vcpu, struct kvm_sregs *sregs);
/** @return 0; -EINVAL (inconsistent state, e.g. bad CR0/CR4/EFER combination). */
int cvmm_kvm_vcpu_set_sregs(struct cvmm_kvm_vcpu *vcpu, const struct kvm_sregs *sregs);
/** KVM_GET_SREGS2. @return 0; -EOPNOTSUPP without KVM_CAP_SREGS2. */
int cvmm_kvm_vcpu_get_sregs2(struct cvmm_kvm_vcpu *vcpu, struct kvm_sregs2 *sregs);
/** KVM_SET_SREGS2. @return 0; -EOPNOTSUPP; -EINVAL (bad flags or state). */
int cvmm_kvm_vcpu_set_sregs2(struct cvmm_kvm_vcpu *vcpu, const struct kvm_sregs2 *sregs);
int cvmm_kvm_vcpu_get_fpu(struct cvmm_kvm_vcpu *vcpu, struct kvm_fpu *fpu);
int cvmm_kvm_vcpu_set_fpu(struct cvmm_kvm_vcpu *vcpu, const struct kvm_fpu *fpu);

/**
 * Bytes an XSAVE buffer needs: KVM_CAP_XSAVE2's value when offered
 * (at least sizeof(struct kvm_xsave)), else sizeof(struct kvm_xsave).
 */
size_t cvmm_kvm_vm_xsave_size(struct cvmm_kvm_vm *vm);
/**
 * KVM_GET_XSAVE2 (or KVM_GET_XSAVE) into @xsave of @bytes bytes.
 * @return 0; -ENOSPC (@bytes < cvmm_kvm_vm_xsave_size()); negative errno.
 */
int cvmm_kvm_vcpu_get_xsave(struct cvmm_kvm_vcpu *vcpu, struct kvm_xsave *xsave,
			    size_t bytes);
/** KVM_SET_XSAVE from @bytes bytes. @return 0; -ENOSPC; -EINVAL (bad header). */
int cvmm_kvm_vcpu_set_xsave(struct cvmm_kvm_vcpu *vcpu, const struct kvm_xsave *xsave,
			    size_t bytes);
int cvmm_kvm_vcpu_get_xcrs(struct cvmm_kvm_vcpu *vcpu, struct kvm_xcrs *xcrs);
/** @return 0; -EINVAL (bad XCR0 value or count). */
int cvmm_kvm_vcpu_set_xcrs(struct cvmm_kvm_vcpu *vcpu, const struct kvm_xcrs *xcrs);
/** @return 0; -EINVAL (no in-kernel LAPIC). */
int cvmm_kvm_vcpu_get_lapic(struct cvmm_kvm_vcpu *vcpu, struct kvm_lapic_state *lapic);
/** @return 0; -EINVAL (no in-kernel LAPIC, or bad state). */
int cvmm_kvm_vcpu_set_lapic(struct cvmm_kvm_vcpu *vcpu, const struct kvm_lapic_state *lapic);
/**
 * KVM_GET_MSRS for @msrs->entries[0..nmsrs).
 * @return the number read: the kernel stops at the first MSR it cannot read;
 *         -E2BIG (too many); negative errno.
 */
int cvmm_kvm_vcpu_get_msrs(struct cvmm_kvm_vcpu *vcpu, struct kvm_msrs *msrs);
/** KVM_SET_MSRS. @return the number written (stops at the first refused). */
int cvmm_kvm_vcpu_set_msrs(struct cvmm_kvm_vcpu *vcpu, const struct kvm_msrs *msrs);
/** KVM_SET_CPUID2 (call before the first run). @return 0; -E2BIG; -EINVAL; -ENOMEM. */
int cvmm_kvm_vcpu_set_cpuid2(struct cvmm_kvm_vcpu *vcpu, const struct kvm_cpuid2 *cpuid);
/**
 * KVM_GET_CPUID2 into a struct allocated to fit; the caller free()s *@out.
 * @return the number of entries; -ENOMEM; negative errno.
 */
int cvmm_kvm_vcpu_get_cpuid2(struct cvmm_kvm_vcpu *vcpu, struct kvm_cpuid2 **out);
int cvmm_kvm_vcpu_get_events(struct cvmm_kvm_vcpu *vcpu, struct kvm_vcpu_events *ev);
/** @return 0; -EINVAL (bad flags or vectors). */
int cvmm_kvm_vcpu_set_events(struct cvmm_kvm_vcpu *vcpu, const struct kvm_vcpu_events *ev);
int cvmm_kvm_vcpu_get_mp_state(struct cvmm_kvm_vcpu *vcpu, struct kvm_mp_state *mp);
/** @return 0; -EINVAL (unknown state, or not allowed without an irqchip). */
int cvmm_kvm_vcpu_set_mp_state(struct cvmm_kvm_vcpu *vcpu, const struct kvm_mp_state *mp);
int cvmm_kvm_vcpu_get_debugregs(struct cvmm_kvm_vcpu *vcpu, struct kvm_debugregs *dr);
/** @return 0; -EINVAL (flags, or reserved DR6/DR7 bits). */
int cvmm_kvm_vcpu_set_debugregs(struct cvmm_kvm_vcpu *vcpu, const struct kvm_debugregs *dr);
/** KVM_GET_TSC_KHZ. @return the guest TSC frequency in kHz (> 0); -EIO; negative errno. */
int cvmm_kvm_vcpu_get_tsc_khz(struct cvmm_kvm_vcpu *vcpu);
/** KVM_SET_TSC_KHZ. @return 0; -EIO/-EINVAL (scaling unsupported: only the current rate is accepted). */
int cvmm_kvm_vcpu_set_tsc_khz(struct cvmm_kvm_vcpu *vcpu, uint32_t khz);
/** KVM_NMI: queue an NMI (in-kernel LAPIC). @return 0; -ENXIO. */
int cvmm_kvm_vcpu_nmi(struct cvmm_kvm_vcpu *vcpu);
/** KVM_INTERRUPT: inject external interrupt @irq (only without an in-kernel irqchip). @return 0; -ENXIO (irqchip in kernel); -EINVAL (irq > 255); -EEXIST (one pending). */
int cvmm_kvm_vcpu_interrupt(struct cvmm_kvm_vcpu *vcpu, uint32_t irq);
/** KVM_SET_GUEST_DEBUG (single-step, breakpoints). @return 0; -EINVAL (unknown flags); negative errno. */
int cvmm_kvm_vcpu_set_guest_debug(struct cvmm_kvm_vcpu *vcpu, const struct kvm_guest_debug *dbg);
/** KVM_ENABLE_CAP on the vCPU fd. @return 0; -EINVAL. */
int cvmm_kvm_vcpu_enable_cap(struct cvmm_kvm_vcpu *vcpu, const struct kvm_enable_cap *cap);

/**
 * Drain the coalesced MMIO ring (shared by the VM, mapped through this
 * vCPU) calling @fn for each queued write. Entries whose length exceeds 8
 * are skipped (counted, not passed on).
 * @return entries consumed; -EOPNOTSUPP (no coalesced MMIO).
 * Thread safety: one drainer at a time per VM.
 */
int cvmm_kvm_vcpu_coalesced_mmio_drain(struct cvmm_kvm_vcpu *vcpu,
				       void (*fn)(const struct kvm_coalesced_mmio *e,
						  void *opaque),
				       void *opaque);

/* ------------------------------------------------------------------------ */
/* Whole vCPU state (for snapshots and migration)                            */
/* ------------------------------------------------------------------------ */

/** Which parts of struct cvmm_kvm_vcpu_state hold data. */
#define CVMM_KVM_STATE_LAPIC 0x1u     /**< lapic (needs an in-kernel LAPIC) */
#define CVMM_KVM_STATE_XSAVE 0x2u     /**< xsave (else fpu alone) */
#define CVMM_KVM_STATE_XCRS 0x4u      /**< xcrs */
#define CVMM_KVM_STATE_DEBUGREGS 0x8u /**< debugregs */
#define CVMM_KVM_STATE_TSC_KHZ 0x10u  /**< tsc_khz */

/**
 * Everything KVM keeps for one vCPU. Fill with cvmm_kvm_vcpu_state_save(),
 * release with cvmm_kvm_vcpu_state_fini(); the allocated members are
 * plain heap blocks, so a snapshot writer may serialise them directly.
 */
struct cvmm_kvm_vcpu_state {
	uint32_t valid; /**< CVMM_KVM_STATE_* */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp_state;
	struct kvm_debugregs debugregs;
	uint32_t tsc_khz;
	size_t xsave_size;        /**< bytes at xsave */
	struct kvm_xsave *xsave;  /**< malloc'd, NULL if !(valid & XSAVE) */
	struct kvm_msrs *msrs;    /**< malloc'd: every MSR KVM lets us read */
	struct kvm_cpuid2 *cpuid; /**< malloc'd: the vCPU's CPUID table */
};

/**
 * Read the whole state of a stopped vCPU. MSRs are those of
 * KVM_GET_MSR_INDEX_LIST that the vCPU can read.
 * @return 0; -ENOMEM; negative errno (@st is then left empty).
 * Thread safety: the vCPU's thread, while it is not in KVM_RUN.
 */
int cvmm_kvm_vcpu_state_save(struct cvmm_kvm_vcpu *vcpu, struct cvmm_kvm_vcpu_state *st);

/**
 * Write @st back, in the order KVM needs: CPUID, TSC rate, mp_state, regs,
 * sregs, xsave/fpu, xcrs, debugregs, LAPIC, MSRs, events, mp_state.
 * An MSR the kernel refuses is tolerated only when it already holds the
 * saved value (some are read-only in some configurations).
 * @return 0; -EIO (the kernel refused an MSR whose value differs); -ENOMEM;
 *         negative errno.
 * Thread safety: the vCPU's thread, while it is not in KVM_RUN.
 */
int cvmm_kvm_vcpu_state_restore(struct cvmm_kvm_vcpu *vcpu,
				const struct cvmm_kvm_vcpu_state *st);

/** Free what cvmm_kvm_vcpu_state_save() allocated and zero @st. NULL-safe. */
void cvmm_kvm_vcpu_state_fini(struct cvmm_kvm_vcpu_state *st);

/*
 * The vCPU state as one plain, versioned byte string (no pointers), for a
 * snapshot section: a 32-byte header (version, valid, tsc_khz, MSR count,
 * CPUID count, XSAVE size, flags, reserved), then regs, sregs, fpu, xcrs,
 * lapic, events, mp_state, debugregs, the MSR entries, the CPUID entries
 * and the XSAVE area, each padded to 8 bytes. Host byte order (x86_64:
 * little endian), the <linux/kvm.h> layouts.
 */
#define CVMM_KVM_VCPU_STATE_VERSION 1u
/** Limits unpack enforces before it allocates anything. */
#define CVMM_KVM_VCPU_STATE_MAX_MSRS 4096u
#define CVMM_KVM_VCPU_STATE_MAX_CPUID 256u /* KVM_MAX_CPUID_ENTRIES */
#define CVMM_KVM_VCPU_STATE_MAX_XSAVE (1u << 20)

/**
 * Bytes cvmm_kvm_vcpu_state_pack() writes for @st (0 for NULL).
 * Thread safety: reentrant.
 */
size_t cvmm_kvm_vcpu_state_packed_size(const struct cvmm_kvm_vcpu_state *st);

/**
 * Write @st as the packed form into @buf.
 * @return the bytes written; -ENOSPC when @len is below
 *         cvmm_kvm_vcpu_state_packed_size(); -EINVAL (NULL arguments, XSAVE
 *         marked valid without a buffer or with a size outside the limits,
 *         more MSRs or CPUID entries than the limits).
 * Thread safety: reentrant.
 */
int cvmm_kvm_vcpu_state_pack(const struct cvmm_kvm_vcpu_state *st, void *buf, size_t len);

struct cvmm_kvm_state_error; /* below, with the whole-VM state */

/**
 * Read a packed vCPU state from a hostile source into @st (allocating its
 * MSR, CPUID and XSAVE blocks; release with cvmm_kvm_vcpu_state_fini()).
 * Counts and sizes are checked against the limits and against @len before
 * anything is allocated; the kernel checks the register contents at
 * restore (and refuses bad ones with -EINVAL).
 * @return 0; -EPROTONOSUPPORT (a newer version); -EINVAL (version 0,
 *         unknown valid bits or flags, reserved not zero, an XSAVE size or
 *         TSC rate that contradicts the valid bits, @len not exactly what
 *         the header implies); -ERANGE (more MSRs/CPUID entries/XSAVE bytes
 *         than the limits, mp_state beyond KVM_MP_STATE_SUSPENDED); -ENOMEM.
 *         On failure @st is left empty and @why (may be NULL) names the
 *         field ("length", "nmsrs", "mp_state", ...).
 * Thread safety: reentrant.
 */
int cvmm_kvm_vcpu_state_unpack(const void *buf, size_t len, struct cvmm_kvm_vcpu_state *st,
			       struct cvmm_kvm_state_error *why);

/* ------------------------------------------------------------------------ */
/* Whole-VM state: in-kernel PIC pair and IOAPIC, PIT, kvmclock              */
/* ------------------------------------------------------------------------ */

/*
 * Plain data, no pointers: a snapshot writer may store the struct (or each
 * part: &st.pic[0], &st.ioapic, ...) as it is, and a reader must treat what
 * it reads back as hostile. cvmm_kvm_vm_state_check() (called by restore
 * before it touches the VM) refuses what neither KVM nor a guest could have
 * produced, naming the field. The parts are the <linux/kvm.h> structs,
 * whose layout is kernel ABI; the version covers this wrapper's layout.
 */
#define CVMM_KVM_VM_STATE_VERSION 1u

/** Which parts of struct cvmm_kvm_vm_state hold data. */
#define CVMM_KVM_VM_STATE_PIC 0x1u    /**< pic[0] (master), pic[1] (slave) */
#define CVMM_KVM_VM_STATE_IOAPIC 0x2u /**< ioapic */
#define CVMM_KVM_VM_STATE_PIT 0x4u    /**< pit */
#define CVMM_KVM_VM_STATE_CLOCK 0x8u  /**< clock */
#define CVMM_KVM_VM_STATE_ALL 0xfu

/** The IOAPIC's MMIO base; KVM's IOAPIC lives there and nowhere else. */
#define CVMM_KVM_IOAPIC_BASE 0xfec00000ull

struct cvmm_kvm_vm_state {
	uint32_t version;               /**< CVMM_KVM_VM_STATE_VERSION */
	uint32_t valid;                 /**< CVMM_KVM_VM_STATE_* */
	struct kvm_pic_state pic[2];    /**< KVM_IRQCHIP_PIC_MASTER, _SLAVE */
	struct kvm_ioapic_state ioapic; /**< KVM_IRQCHIP_IOAPIC */
	struct kvm_pit_state2 pit;      /**< KVM_GET_PIT2 */
	struct kvm_clock_data clock;    /**< KVM_GET_CLOCK, flags as the kernel gave them */
};

/** Which field of a state was refused and why (copy into the snapshot error). */
struct cvmm_kvm_state_error {
	char field[48]; /**< e.g. "pic[1].irq_base", "pit.channels[2].mode" */
	char msg[128];  /**< e.g. "value 3 is not a multiple of 8" */
};

/** cvmm_kvm_vm_state_restore() flags. */
/**
 * Keep KVM_CLOCK_REALTIME when the saved clock has it: KVM then moves the
 * guest clock on by the wall time that passed since the save (what live
 * migration wants). Without it the guest's kvmclock continues from the
 * saved value, as if no time had passed (what a snapshot restore wants).
 */
#define CVMM_KVM_VM_RESTORE_CLOCK_REALTIME 0x1u

/**
 * Read the VM-wide state KVM keeps: the PIC pair and IOAPIC (when the VM
 * has the full in-kernel irqchip), the PIT (when created) and kvmclock.
 * Parts the VM lacks are left zero and their bit clear in @st->valid.
 * KVM_CLOCK_TSC_STABLE is dropped from the clock flags (it describes the
 * host, and KVM ignores it on set).
 * @return 0; a negative errno of an ioctl other than the "part missing"
 *         -ENXIO (@st is then zeroed).
 * Thread safety: any thread; take it while the vCPUs are paused, or the
 *         parts are not from one instant.
 */
int cvmm_kvm_vm_state_save(struct cvmm_kvm_vm *vm, struct cvmm_kvm_vm_state *st);

/**
 * Check a state read from a hostile source, part by part, without a VM.
 * @return 0; -EPROTONOSUPPORT (version newer than CVMM_KVM_VM_STATE_VERSION);
 *         -EINVAL (version 0, unknown valid bits, a field no KVM or guest
 *         produces: an unaligned PIC vector base, an ELCR mask other than
 *         KVM's, an IOAPIC elsewhere than CVMM_KVM_IOAPIC_BASE, unknown PIT
 *         or clock flags, reserved fields not zero); -ERANGE (a field out
 *         of its range: PIC priority or init state, IOAPIC id or register
 *         select, a PIT count above 0x10000 or a mode above 5, ...).
 *         @why (may be NULL) names the field and says why.
 * Thread safety: reentrant.
 */
int cvmm_kvm_vm_state_check(const struct cvmm_kvm_vm_state *st, struct cvmm_kvm_state_error *why);

/** The same checks for one part (for a snapshot that stores parts apart). */
int cvmm_kvm_pic_state_check(const struct kvm_pic_state *pic, bool slave,
			     struct cvmm_kvm_state_error *why);
int cvmm_kvm_ioapic_state_check(const struct kvm_ioapic_state *io,
				struct cvmm_kvm_state_error *why);
int cvmm_kvm_pit_state_check(const struct kvm_pit_state2 *pit, struct cvmm_kvm_state_error *why);
int cvmm_kvm_clock_state_check(const struct kvm_clock_data *clk, struct cvmm_kvm_state_error *why);

/**
 * Check @st (cvmm_kvm_vm_state_check(); nothing is written to the VM when
 * it fails), then write each valid part: PIC master, PIC slave, IOAPIC,
 * PIT, clock. The VM must have what @st->valid names (irqchip, PIT).
 * Restore it before the vCPUs' state (their LAPICs route to this irqchip)
 * and before any vCPU runs. @flags: CVMM_KVM_VM_RESTORE_*.
 * @return 0; the errors of cvmm_kvm_vm_state_check(); -EINVAL (unknown
 *         @flags); -ENXIO (the VM lacks the irqchip or PIT a part needs;
 *         @why names the part); a negative errno of the kernel (parts
 *         before the failing one are then already written).
 * Thread safety: any thread, while no vCPU runs.
 */
int cvmm_kvm_vm_state_restore(struct cvmm_kvm_vm *vm, const struct cvmm_kvm_vm_state *st,
			      unsigned int flags, struct cvmm_kvm_state_error *why);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_KVM_IOCTLS_H */
