/* SPDX-License-Identifier: Apache-2.0 */
/* Bitmap dirty tracking: KVM_GET_DIRTY_LOG and manual-protect KVM_CLEAR_DIRTY_LOG. */
#include "internal.h"

#define CLEAR_ALIGN_PAGES 64u /* the kernel clears whole 64-bit words */

size_t cvmm_kvm_dirty_bitmap_bytes(uint64_t memory_size)
{
	uint64_t pages = memory_size >> KVM_PAGE_SHIFT;

	return (size_t)((pages + 63) / 64 * 8);
}

/* Copy out the slot's page count under the lock; slots may change after. */
static int slot_pages(struct cvmm_kvm_vm *vm, uint32_t slot, uint64_t *pages)
{
	const struct kvm_slot *s;
	int r = -ENOENT;

	pthread_mutex_lock(&vm->lock);
	s = cvmm__kvm_vm_slot_lookup(vm, slot);
	if (s) {
		*pages = s->size >> KVM_PAGE_SHIFT;
		r = (s->flags & KVM_MEM_LOG_DIRTY_PAGES) ? 0 : -EINVAL;
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

bool cvmm__kvm_vm_manual_protect(struct cvmm_kvm_vm *vm)
{
	bool on;

	pthread_mutex_lock(&vm->lock);
	on = vm->manual_protect;
	pthread_mutex_unlock(&vm->lock);
	return on;
}

int cvmm_kvm_vm_get_dirty_log(struct cvmm_kvm_vm *vm, uint32_t slot,
			      uint64_t *bitmap, size_t bitmap_bytes)
{
	struct kvm_dirty_log log = { .slot = slot };
	uint64_t pages;
	int r = slot_pages(vm, slot, &pages);

	if (r)
		return r;
	if (!bitmap || bitmap_bytes < cvmm_kvm_dirty_bitmap_bytes(pages << KVM_PAGE_SHIFT))
		return -ENOSPC;
	log.dirty_bitmap = bitmap;
	return KVM_IOCTL(vm->fd, KVM_GET_DIRTY_LOG, &log);
}

int cvmm_kvm_vm_enable_manual_dirty_protect(struct cvmm_kvm_vm *vm, uint64_t flags)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args = { flags },
	};
	int offered = cvmm_kvm_vm_check_extension(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);

	if (offered <= 0 || (flags & ~(uint64_t)offered))
		return -EOPNOTSUPP;
	if (!(flags & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE))
		return -EINVAL;
	/* enable_cap() records the mode. */
	return cvmm_kvm_vm_enable_cap(vm, &cap);
}

static int clear_range(struct cvmm_kvm_vm *vm, uint32_t slot, uint64_t pages,
		       uint64_t first, uint32_t num, const uint64_t *bitmap)
{
	struct kvm_clear_dirty_log c = {
		.slot = slot, .num_pages = num, .first_page = first,
	};

	if (first % CLEAR_ALIGN_PAGES || first >= pages || num > pages - first)
		return -EINVAL;
	if (num % CLEAR_ALIGN_PAGES && first + num != pages)
		return -EINVAL;
	c.dirty_bitmap = (void *)(uintptr_t)bitmap;
	return KVM_IOCTL(vm->fd, KVM_CLEAR_DIRTY_LOG, &c);
}

int cvmm_kvm_vm_clear_dirty_log(struct cvmm_kvm_vm *vm, uint32_t slot,
				uint64_t first_page, uint32_t num_pages,
				const uint64_t *bitmap)
{
	uint64_t pages;
	int r = slot_pages(vm, slot, &pages);

	if (r)
		return r;
	if (!bitmap || num_pages == 0)
		return -EINVAL;
	/* The kernel would accept it, but without manual protect GET_DIRTY_LOG
	 * already re-protects: a clear then only means a confused caller. */
	if (!cvmm__kvm_vm_manual_protect(vm))
		return -EINVAL;
	return clear_range(vm, slot, pages, first_page, num_pages, bitmap);
}

static bool any_bit(const uint64_t *words, uint64_t first_page, uint64_t num)
{
	for (uint64_t w = first_page / 64; w < (first_page + num + 63) / 64; w++)
		if (words[w])
			return true;
	return false;
}

int cvmm_kvm_vm_clear_dirty_log_chunked(struct cvmm_kvm_vm *vm, uint32_t slot,
					const uint64_t *bitmap, size_t bitmap_bytes,
					uint32_t chunk_pages)
{
	uint64_t pages;
	int calls = 0;
	int r = slot_pages(vm, slot, &pages);

	if (r)
		return r;
	if (!cvmm__kvm_vm_manual_protect(vm))
		return -EINVAL;
	if (chunk_pages == 0)
		chunk_pages = 65536;
	if (chunk_pages % CLEAR_ALIGN_PAGES)
		return -EINVAL;
	if (!bitmap || bitmap_bytes < cvmm_kvm_dirty_bitmap_bytes(pages << KVM_PAGE_SHIFT))
		return -ENOSPC;
	for (uint64_t first = 0; first < pages; first += chunk_pages) {
		uint32_t n = (uint32_t)CVMM_MIN((uint64_t)chunk_pages, pages - first);

		if (!any_bit(bitmap, first, n))
			continue;
		r = clear_range(vm, slot, pages, first, n, bitmap + first / 64);
		if (r < 0)
			return r;
		if (calls < INT32_MAX)
			calls++;
	}
	return calls;
}
