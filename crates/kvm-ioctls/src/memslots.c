/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Memory slots with bookkeeping: the VM remembers what it gave the kernel so
 * it can hand out free slots, refuse overlaps itself, and list the slots for
 * dirty tracking and snapshots.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define PAGE_MASK ((1ull << KVM_PAGE_SHIFT) - 1)

/* Index of the first slot >= @slot in the sorted table. */
static size_t slot_pos(const struct cvmm_kvm_vm *vm, uint32_t slot)
{
	size_t lo = 0, hi = vm->nslots;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (vm->slots[mid].slot < slot)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct kvm_slot *cvmm__kvm_vm_slot_lookup(const struct cvmm_kvm_vm *vm,
						uint32_t slot)
{
	size_t i = slot_pos(vm, slot);

	return i < vm->nslots && vm->slots[i].slot == slot ? &vm->slots[i] : NULL;
}

static bool overlaps_other(const struct cvmm_kvm_vm *vm, const struct kvm_slot *n)
{
	for (size_t i = 0; i < vm->nslots; i++) {
		const struct kvm_slot *s = &vm->slots[i];

		if (s->slot == n->slot || KVM_SLOT_AS(s->slot) != KVM_SLOT_AS(n->slot))
			continue;
		if (n->gpa < s->gpa + s->size && s->gpa < n->gpa + n->size)
			return true;
	}
	return false;
}

static int reserve_one(struct cvmm_kvm_vm *vm);

static int table_insert(struct cvmm_kvm_vm *vm, const struct kvm_slot *n)
{
	size_t i = slot_pos(vm, n->slot);
	int r = reserve_one(vm);

	if (r)
		return r;
	memmove(&vm->slots[i + 1], &vm->slots[i], (vm->nslots - i) * sizeof(*n));
	vm->slots[i] = *n;
	vm->nslots++;
	return 0;
}

static void table_remove(struct cvmm_kvm_vm *vm, const struct kvm_slot *s)
{
	size_t i = (size_t)(s - vm->slots);

	memmove(&vm->slots[i], &vm->slots[i + 1], (vm->nslots - i - 1) * sizeof(*s));
	vm->nslots--;
}

/* Checks shared by both ioctl flavours; @n is the requested slot. */
static int slot_check(const struct cvmm_kvm_vm *vm, const struct kvm_slot *n,
		      uint32_t allowed_flags)
{
	uint64_t end;

	if (KVM_SLOT_AS(n->slot) >= vm->nr_as || KVM_SLOT_ID(n->slot) >= vm->max_slot_id)
		return -EINVAL;
	if (n->size == 0)
		return cvmm__kvm_vm_slot_lookup(vm, n->slot) ? 0 : -ENOENT;
	if (n->flags & ~allowed_flags)
		return -EINVAL;
	if ((n->gpa | n->size | n->uaddr) & PAGE_MASK)
		return -EINVAL;
	if (cvmm_add_overflow(n->gpa, n->size, &end) ||
	    cvmm_add_overflow(n->uaddr, n->size, &end))
		return -EINVAL;
	if (overlaps_other(vm, n))
		return -EEXIST;
	return 0;
}

/* Record what the kernel accepted. */
static int slot_commit(struct cvmm_kvm_vm *vm, const struct kvm_slot *n)
{
	const struct kvm_slot *old = cvmm__kvm_vm_slot_lookup(vm, n->slot);

	if (n->size == 0) {
		if (old)
			table_remove(vm, old);
		return 0;
	}
	if (old) {
		vm->slots[old - vm->slots] = *n;
		return 0;
	}
	return table_insert(vm, n);
}

/* Reserve room first so a kernel success is never followed by -ENOMEM. */
static int reserve_one(struct cvmm_kvm_vm *vm)
{
	struct kvm_slot *p;
	size_t cap;

	if (vm->nslots < vm->cap_slots)
		return 0;
	cap = vm->cap_slots ? vm->cap_slots * 2 : 8;
	p = realloc(vm->slots, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	vm->slots = p;
	vm->cap_slots = cap;
	return 0;
}

int cvmm_kvm_vm_set_memory(struct cvmm_kvm_vm *vm,
			   const struct kvm_userspace_memory_region *r)
{
	struct kvm_slot n = { .slot = r->slot, .flags = r->flags,
			      .gpa = r->guest_phys_addr, .size = r->memory_size,
			      .uaddr = r->userspace_addr };
	int ret;

	pthread_mutex_lock(&vm->lock);
	ret = slot_check(vm, &n, KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY);
	if (!ret)
		ret = reserve_one(vm);
	if (!ret)
		ret = KVM_IOCTL(vm->fd, KVM_SET_USER_MEMORY_REGION, r);
	if (!ret)
		ret = slot_commit(vm, &n);
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int cvmm_kvm_vm_set_memory2(struct cvmm_kvm_vm *vm,
			    const struct kvm_userspace_memory_region2 *r)
{
	struct kvm_slot n = { .slot = r->slot, .flags = r->flags,
			      .gpa = r->guest_phys_addr, .size = r->memory_size,
			      .uaddr = r->userspace_addr };
	int ret;

	if (cvmm_kvm_vm_check_extension(vm, KVM_CAP_USER_MEMORY2) <= 0)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&vm->lock);
	ret = slot_check(vm, &n, KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY |
				 KVM_MEM_GUEST_MEMFD);
	if (!ret)
		ret = reserve_one(vm);
	if (!ret)
		ret = KVM_IOCTL(vm->fd, KVM_SET_USER_MEMORY_REGION2, r);
	if (!ret)
		ret = slot_commit(vm, &n);
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int cvmm_kvm_vm_find_free_slot(struct cvmm_kvm_vm *vm, uint16_t as_id)
{
	uint32_t want = (uint32_t)as_id << 16;
	int ret = -ENOSPC;

	if (as_id >= vm->nr_as)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	for (size_t i = slot_pos(vm, want); i <= vm->nslots; i++) {
		if (KVM_SLOT_ID(want) >= vm->max_slot_id)
			break;
		if (i == vm->nslots || vm->slots[i].slot != want) {
			ret = (int)KVM_SLOT_ID(want);
			break;
		}
		want++;
	}
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

static void to_region(const struct kvm_slot *s, struct kvm_userspace_memory_region *r)
{
	r->slot = s->slot;
	r->flags = s->flags;
	r->guest_phys_addr = s->gpa;
	r->memory_size = s->size;
	r->userspace_addr = s->uaddr;
}

int cvmm_kvm_vm_get_slots(struct cvmm_kvm_vm *vm,
			  struct kvm_userspace_memory_region *out, size_t max)
{
	int n;

	pthread_mutex_lock(&vm->lock);
	for (size_t i = 0; i < vm->nslots && i < max; i++)
		to_region(&vm->slots[i], &out[i]);
	n = (int)vm->nslots;
	pthread_mutex_unlock(&vm->lock);
	return n;
}

int cvmm_kvm_vm_find_slot(struct cvmm_kvm_vm *vm, uint64_t gpa,
			  struct kvm_userspace_memory_region *out)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&vm->lock);
	for (size_t i = 0; i < vm->nslots; i++) {
		const struct kvm_slot *s = &vm->slots[i];

		if (KVM_SLOT_AS(s->slot) == 0 && gpa >= s->gpa && gpa - s->gpa < s->size) {
			to_region(s, out);
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return ret;
}
