/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dirty ring: per-vCPU arrays of kvm_dirty_gfn the kernel fills as the
 * guest dirties pages. Protocol per entry: the kernel writes slot/offset and
 * then sets DIRTY (release); we read DIRTY with acquire before slot/offset,
 * copy them, and store RESET with release so KVM_RESET_DIRTY_RINGS (which
 * re-protects the page and frees the entry) sees our reads as finished.
 */
#include "internal.h"

#include <sys/mman.h>

int cvmm_kvm_vm_enable_dirty_ring(struct cvmm_kvm_vm *vm, uint32_t bytes)
{
	struct kvm_enable_cap cap = { .args = { bytes } };
	int max_acq = cvmm_kvm_vm_check_extension(vm, KVM_CAP_DIRTY_LOG_RING_ACQ_REL);
	int max_plain = cvmm_kvm_vm_check_extension(vm, KVM_CAP_DIRTY_LOG_RING);
	int max;

	if (max_acq > 0) {
		cap.cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
		max = max_acq;
	} else if (max_plain > 0) {
		cap.cap = KVM_CAP_DIRTY_LOG_RING;
		max = max_plain;
	} else {
		return -EOPNOTSUPP;
	}
	if (!CVMM_IS_POW2(bytes) || bytes < cvmm_page_size() || bytes > (uint32_t)max)
		return -EINVAL;
	/* enable_cap() checks for vCPUs and records the size, under the lock. */
	return cvmm_kvm_vm_enable_cap(vm, &cap);
}

uint32_t cvmm_kvm_vm_dirty_ring_bytes(const struct cvmm_kvm_vm *vm)
{
	return vm->ring_bytes;
}

int cvmm_kvm_vm_reset_dirty_rings(struct cvmm_kvm_vm *vm)
{
	if (!vm->ring_bytes)
		return -EOPNOTSUPP;
	return KVM_IOCTL_VAL(vm->fd, KVM_RESET_DIRTY_RINGS, 0);
}

/* Called from vcpu create with the VM lock held. */
int cvmm__kvm_vcpu_map_ring(struct cvmm_kvm_vcpu *vcpu, uint32_t bytes)
{
	void *p;

	if (!bytes)
		return 0;
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd,
		 (off_t)KVM_DIRTY_LOG_PAGE_OFFSET * (off_t)cvmm_page_size());
	if (p == MAP_FAILED)
		return -errno;
	vcpu->ring = p;
	vcpu->ring_entries = bytes / (uint32_t)sizeof(struct kvm_dirty_gfn);
	vcpu->ring_fetch = 0;
	return 0;
}

/* Take the next published entry, if any, without marking it. */
static bool ring_peek(struct cvmm_kvm_vcpu *vcpu, struct kvm_dirty_gfn **ep,
		      struct cvmm_kvm_dirty_entry *out)
{
	struct kvm_dirty_gfn *e = &vcpu->ring[vcpu->ring_fetch & (vcpu->ring_entries - 1)];
	uint32_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);

	if (!(flags & KVM_DIRTY_GFN_F_DIRTY))
		return false;
	out->slot = e->slot;
	out->offset = e->offset;
	*ep = e;
	return true;
}

static void ring_consume(struct cvmm_kvm_vcpu *vcpu, struct kvm_dirty_gfn *e)
{
	__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
	vcpu->ring_fetch++;
}

int cvmm_kvm_vcpu_dirty_ring_harvest(struct cvmm_kvm_vcpu *vcpu,
				     struct cvmm_kvm_dirty_entry *out, size_t max)
{
	size_t n = 0;
	struct kvm_dirty_gfn *e;

	if (!vcpu->ring)
		return -EOPNOTSUPP;
	/* Never more than one lap: entries past it are the same ones again. */
	max = CVMM_MIN(max, (size_t)vcpu->ring_entries);
	while (n < max && ring_peek(vcpu, &e, &out[n])) {
		ring_consume(vcpu, e);
		n++;
	}
	return (int)n;
}

int cvmm_kvm_vcpu_dirty_ring_harvest_cb(struct cvmm_kvm_vcpu *vcpu,
					cvmm_kvm_dirty_fn fn, void *opaque)
{
	struct cvmm_kvm_dirty_entry d;
	struct kvm_dirty_gfn *e;
	uint32_t n = 0;

	if (!vcpu->ring)
		return -EOPNOTSUPP;
	while (n < vcpu->ring_entries && ring_peek(vcpu, &e, &d)) {
		int r = fn(d.slot, d.offset, opaque);

		if (r < 0)
			return r;
		ring_consume(vcpu, e);
		n++;
	}
	return (int)n;
}
