/* SPDX-License-Identifier: Apache-2.0 */
/* Private to kvm-ioctls: object layouts and the size-checked ioctl macros. */
#ifndef CVMM_KVM_INTERNAL_H
#define CVMM_KVM_INTERNAL_H

#include <cvmm/kvm-ioctls.h>
#include <cvmm/sys-util.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>

#define KVM_LOG_CRATE "kvm-ioctls"

/* Address space id (x86: 0 normal, 1 SMM when offered) lives in slot bits 16+. */
#define KVM_SLOT_AS(slot) ((slot) >> 16)
#define KVM_SLOT_ID(slot) ((slot) & 0xffffu)
#define KVM_PAGE_SHIFT 12

struct cvmm_kvm {
	int fd;
	int mmap_size;
};

struct kvm_slot {
	uint32_t slot; /* with address-space bits */
	uint32_t flags;
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;
};

struct cvmm_kvm_vm {
	struct cvmm_kvm *kvm;
	int fd;
	pthread_mutex_t lock; /* slots, nr_vcpus, ring enable */
	struct kvm_slot *slots; /* sorted by slot */
	size_t nslots, cap_slots;
	uint32_t max_slot_id; /* per address space */
	uint32_t nr_as;       /* KVM_CAP_MULTI_ADDRESS_SPACE, at least 1 */
	uint32_t nr_vcpus;
	uint32_t ring_bytes;
	bool manual_protect;
};

struct cvmm_kvm_vcpu {
	struct cvmm_kvm_vm *vm;
	int fd;
	uint32_t id;
	struct kvm_run *run;
	size_t run_size;
	struct kvm_coalesced_mmio_ring *coalesced; /* NULL: not offered */
	struct kvm_dirty_gfn *ring;
	uint32_t ring_entries; /* a power of two */
	uint32_t ring_fetch;   /* next entry to harvest (free-running) */
	_Atomic unsigned long thread; /* pthread_t of the last runner; 0 none */
};

/* ioctl() returning the result or -errno. */
static inline int kvm_ioctl_raw(int fd, unsigned long cmd, unsigned long arg)
{
	int r = ioctl(fd, cmd, arg);

	return r < 0 ? -errno : r;
}

/*
 * Every ioctl that takes a pointer goes through KVM_IOCTL: the struct the
 * ioctl number was defined with must be the size of what we pass, so a
 * wrong argument type is a compile error, not memory corruption.
 */
#define KVM_IOCTL(fd, cmd, argp)                                              \
	({                                                                    \
		_Static_assert(_IOC_SIZE(cmd) == sizeof(*(argp)),             \
			       "ioctl argument size mismatch for " #cmd);     \
		kvm_ioctl_raw((fd), (cmd), (unsigned long)(argp));            \
	})

/* ioctls whose argument is a plain value (or none) encode size 0. */
#define KVM_IOCTL_VAL(fd, cmd, val)                                           \
	({                                                                    \
		_Static_assert(_IOC_SIZE(cmd) == 0,                           \
			       "ioctl " #cmd " takes a pointer");             \
		kvm_ioctl_raw((fd), (cmd), (unsigned long)(val));             \
	})

/* Internal but global (static archives share one namespace): cvmm__ prefix. */
/* Grow-until-it-fits helper for ioctls with a counted flexible array. */
int cvmm__kvm_cpuid_query(int fd, unsigned long cmd, struct kvm_cpuid2 **out);

const struct kvm_slot *cvmm__kvm_vm_slot_lookup(const struct cvmm_kvm_vm *vm, uint32_t slot);
bool cvmm__kvm_vm_manual_protect(struct cvmm_kvm_vm *vm);
int cvmm__kvm_vcpu_map_ring(struct cvmm_kvm_vcpu *vcpu, uint32_t bytes);

#endif
