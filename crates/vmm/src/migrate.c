/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Live migration, the parts both sides share: the progress record (read by
 * any thread while the control thread migrates) and dirty tracking.
 *
 * Dirty pages come from KVM's per-slot dirty log. With manual protect
 * (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2), GET_DIRTY_LOG only reads the bits
 * and CLEAR_DIRTY_LOG write-protects the pages again, chunk by chunk,
 * before we copy them: a write after the clear is caught by the next pass,
 * and the guest is never write-protected all at once. Without it,
 * GET_DIRTY_LOG reads and re-protects in one go. Pages the VMM itself
 * wrote (used rings, read buffers) come from vm-memory's bitmap.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"

static const char *const state_names[] = {
	[CVMM_VMM_MIG_NONE] = "none",
	[CVMM_VMM_MIG_SETUP] = "setup",
	[CVMM_VMM_MIG_PRECOPY] = "precopy",
	[CVMM_VMM_MIG_STOPCOPY] = "stop-and-copy",
	[CVMM_VMM_MIG_POSTCOPY] = "postcopy",
	[CVMM_VMM_MIG_COMPLETED] = "completed",
	[CVMM_VMM_MIG_FAILED] = "failed",
	[CVMM_VMM_MIG_CANCELLED] = "cancelled",
	[CVMM_VMM_MIG_POSTCOPY_PAUSED] = "postcopy-paused",
};

const char *cvmm_vmm_mig_state_name(enum cvmm_vmm_mig_state s)
{
	return (unsigned int)s <= CVMM_VMM_MIG_POSTCOPY_PAUSED ? state_names[s] : "unknown";
}

struct migration *cvmm_vi_mig_get(struct cvmm_vmm *vmm)
{
	struct migration *m = __atomic_load_n(&vmm->mig, __ATOMIC_ACQUIRE);

	if (m)
		return m;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->ring_lock, NULL);
	__atomic_store_n(&vmm->mig, m, __ATOMIC_RELEASE);
	return m;
}

int cvmm_vi_mig_thread_start(struct cvmm_vmm *vmm, unsigned int index)
{
	return vmm->opts.thread_start ?
	       vmm->opts.thread_start(vmm->opts.opaque, "migration", index) : 0;
}

void cvmm_vi_migrate_fini(struct cvmm_vmm *vmm)
{
	struct migration *m = vmm->mig;

	if (!m)
		return;
	cvmm_vi_mig_postcopy_fini(vmm);
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->ring_lock);
	free(m);
	vmm->mig = NULL;
}

void cvmm_vi_mig_publish(struct cvmm_vmm *vmm, const struct cvmm_vmm_mig_progress *p,
			 cvmm_vmm_mig_progress_fn fn, void *opaque)
{
	struct migration *m = vmm->mig;

	pthread_mutex_lock(&m->lock);
	m->p = *p;
	m->have = true;
	pthread_mutex_unlock(&m->lock);
	if (fn)
		fn(opaque, p);
}

bool cvmm_vmm_migrate_progress(struct cvmm_vmm *vmm, struct cvmm_vmm_mig_progress *out)
{
	struct migration *m = vmm ? __atomic_load_n(&vmm->mig, __ATOMIC_ACQUIRE) : NULL;
	bool have;

	if (!m || !out)
		return false;
	pthread_mutex_lock(&m->lock);
	have = m->have;
	*out = m->p;
	pthread_mutex_unlock(&m->lock);
	return have;
}

int cvmm_vmm_migrate_cancel(struct cvmm_vmm *vmm)
{
	struct migration *m = vmm ? __atomic_load_n(&vmm->mig, __ATOMIC_ACQUIRE) : NULL;

	if (!m || !atomic_load(&m->sending))
		return -ENOENT;
	atomic_store(&m->cancel, true);
	return 0;
}

unsigned int cvmm_vi_mig_ranges(struct cvmm_vmm *vmm,
				struct cvmm_mig_range out[CVMM_MIG_MAX_RANGES])
{
	unsigned int n = cvmm_guest_mem_num_regions(vmm->mem);

	if (n > CVMM_MIG_MAX_RANGES)
		n = CVMM_MIG_MAX_RANGES;
	for (unsigned int i = 0; i < n; i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(vmm->mem, i);

		out[i] = (struct cvmm_mig_range){ r->gpa, r->size };
	}
	return n;
}

static void devices_dirty_log(struct cvmm_vmm *vmm, bool on)
{
	for (unsigned int i = 0; i < vmm->ndev; i++) {
		int ret;

		if (!vmm->dev[i].ops->dirty_log)
			continue;
		ret = vmm->dev[i].ops->dirty_log(vmm->dev[i].dev, on);
		/* A backend that cannot log (no LOG_SHMFD): what it writes
		 * during the passes reaches the destination only if the
		 * guest dirties the page too. Said, not hidden. */
		if (on && ret < 0 && ret != -EALREADY)
			CVMM_LOG(CVMM_LOG_WARN, VMM_CRATE, "dirty tracking: device '%s': its "
				 "writes are not logged: %s", vmm->dev[i].id, strerror(-ret));
	}
}

static int set_log(struct cvmm_vmm *vmm, const struct mig_dirty_slot *s, bool on)
{
	struct kvm_userspace_memory_region kr = {
		.slot = s->slot,
		.flags = on ? s->flags | KVM_MEM_LOG_DIRTY_PAGES : s->flags,
		.guest_phys_addr = s->gpa,
		.memory_size = s->size,
		.userspace_addr = s->userspace_addr,
	};

	return cvmm_kvm_vm_set_memory(vmm->vm, &kr);
}

int cvmm_vi_mig_dirty_start(struct cvmm_vmm *vmm, struct mig_dirty *d, char *err, size_t errlen)
{
	struct kvm_userspace_memory_region kr[CVMM_MIG_MAX_RANGES];
	int n = cvmm_kvm_vm_get_slots(vmm->vm, kr, CVMM_MIG_MAX_RANGES);
	size_t most = 0;
	int ret;

	memset(d, 0, sizeof(*d));
	if (n < 0 || n > (int)CVMM_MIG_MAX_RANGES) {
		snprintf(err, errlen, "dirty tracking: cannot list KVM memory slots");
		return n < 0 ? n : -E2BIG;
	}
	d->s = calloc((size_t)n + 1, sizeof(*d->s));
	if (!d->s)
		return -ENOMEM;
	d->m = cvmm_vi_mig_get(vmm);
	if (!d->m)
		return -ENOMEM;
	/* The rings when the VM has them; else the log, with manual clear
	 * when offered. */
	d->ring = cvmm_kvm_vm_dirty_ring_bytes(vmm->vm) > 0;
	d->manual = !d->ring && cvmm_kvm_vm_enable_manual_dirty_protect(
					vmm->vm, KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) == 0;
	for (int i = 0; i < n; i++) {
		struct mig_dirty_slot *s;

		if (kr[i].slot >> 16 || !kr[i].memory_size)
			continue; /* SMM address space: not guest RAM of its own */
		s = &d->s[d->n];
		s->slot = kr[i].slot;
		s->flags = kr[i].flags;
		s->gpa = kr[i].guest_phys_addr;
		s->size = kr[i].memory_size;
		s->userspace_addr = kr[i].userspace_addr;
		s->bm_bytes = cvmm_kvm_dirty_bitmap_bytes(s->size);
		s->bm = calloc(1, s->bm_bytes);
		if (!s->bm) {
			ret = -ENOMEM;
			goto fail;
		}
		if (s->bm_bytes > most)
			most = s->bm_bytes;
		ret = set_log(vmm, s, true);
		d->n++;
		if (ret) {
			snprintf(err, errlen, "dirty tracking: slot %u: %s", s->slot, strerror(-ret));
			goto fail;
		}
	}
	d->tmp = calloc(1, most ? most : 8);
	if (!d->tmp) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = cvmm_guest_mem_dirty_log_enable(vmm->mem, true);
	if (ret) {
		snprintf(err, errlen, "dirty tracking: VMM bitmap: %s", strerror(-ret));
		goto fail;
	}
	d->vmm_log = true;
	devices_dirty_log(vmm, true);
	pthread_mutex_lock(&d->m->ring_lock);
	d->m->active = d;
	pthread_mutex_unlock(&d->m->ring_lock);
	return 0;
fail:
	cvmm_vi_mig_dirty_stop(vmm, d);
	return ret;
}

/* A harvested ring entry: set its page in its slot's bitmap. */
static int ring_entry(uint32_t slot, uint64_t offset, void *opaque)
{
	struct mig_dirty *d = opaque;

	for (unsigned int i = 0; d && i < d->n; i++)
		if (d->s[i].slot == slot) {
			if (offset < d->s[i].size / 4096)
				d->s[i].bm[offset / 64] |= 1ull << (offset % 64);
			break;
		}
	return 0;
}

/* Harvest every vCPU's ring (@only: just that one) into @d (NULL: drop the
 * entries), then recycle them. Under ring_lock: one harvester per ring. */
static int ring_harvest(struct cvmm_vmm *vmm, struct mig_dirty *d, int only)
{
	int ret = 0;

	for (unsigned int i = 0; i < vmm->ncpus; i++) {
		if (only >= 0 && (unsigned int)only != i)
			continue;
		ret = cvmm_kvm_vcpu_dirty_ring_harvest_cb(vmm->vcpu[i].kvm, ring_entry, d);
		if (ret < 0)
			return ret;
	}
	ret = cvmm_kvm_vm_reset_dirty_rings(vmm->vm);
	return ret < 0 ? ret : 0;
}

void cvmm_vi_mig_ring_full(struct cvmm_vmm *vmm, unsigned int index)
{
	struct migration *m = __atomic_load_n(&vmm->mig, __ATOMIC_ACQUIRE);

	if (!m) {
		/* No migration ever ran: nobody else harvests; drop the entries. */
		ring_harvest(vmm, NULL, (int)index);
		return;
	}
	pthread_mutex_lock(&m->ring_lock);
	ring_harvest(vmm, m->active, (int)index);
	pthread_mutex_unlock(&m->ring_lock);
}

long cvmm_vi_mig_dirty_collect(struct cvmm_vmm *vmm, struct mig_dirty *d)
{
	long total = 0;

	/* Pages devices logged elsewhere (a vhost-user backend's shared log,
	 * LOG_SHMFD) go into the VMM's bitmap first, read below. */
	for (unsigned int i = 0; i < vmm->ndev; i++) {
		long n = vmm->dev[i].ops->dirty_harvest ?
			 vmm->dev[i].ops->dirty_harvest(vmm->dev[i].dev) : 0;

		if (n < 0)
			return n;
	}

	if (d->ring) {
		int ret;

		/* O(dirty pages): only what the vCPUs logged, no bitmap copy. */
		pthread_mutex_lock(&d->m->ring_lock);
		ret = ring_harvest(vmm, d, -1);
		pthread_mutex_unlock(&d->m->ring_lock);
		if (ret)
			return ret;
	}
	for (unsigned int i = 0; i < d->n; i++) {
		struct mig_dirty_slot *s = &d->s[i];
		size_t words = s->bm_bytes / 8;
		long v;
		int ret;

		if (!d->ring) {
			ret = cvmm_kvm_vm_get_dirty_log(vmm->vm, s->slot, d->tmp, s->bm_bytes);
			if (ret)
				return ret;
			if (d->manual) {
				ret = cvmm_kvm_vm_clear_dirty_log_chunked(vmm->vm, s->slot, d->tmp,
									  s->bm_bytes, 0);
				if (ret < 0)
					return ret;
			}
			/* Added to what is still unsent: a pass that ended in
			 * stop-and-copy has not sent the last harvest yet. */
			for (size_t w = 0; w < words; w++)
				s->bm[w] |= d->tmp[w];
		}
		/* The VMM's own writes into this slot's RAM. */
		v = cvmm_guest_mem_dirty_get_and_clear(vmm->mem, s->gpa, s->size, d->tmp);
		for (size_t w = 0; v > 0 && w < words; w++)
			s->bm[w] |= d->tmp[w];
		for (size_t w = 0; w < words; w++)
			total += __builtin_popcountll(s->bm[w]);
	}
	return total;
}

void cvmm_vi_mig_dirty_stop(struct cvmm_vmm *vmm, struct mig_dirty *d)
{
	if (d->m) {
		pthread_mutex_lock(&d->m->ring_lock);
		if (d->m->active == d)
			d->m->active = NULL;
		pthread_mutex_unlock(&d->m->ring_lock);
	}
	if (d->vmm_log) {
		devices_dirty_log(vmm, false);
		cvmm_guest_mem_dirty_log_enable(vmm->mem, false);
	}
	for (unsigned int i = 0; i < d->n; i++) {
		set_log(vmm, &d->s[i], false);
		free(d->s[i].bm);
	}
	free(d->s);
	free(d->tmp);
	memset(d, 0, sizeof(*d));
}
