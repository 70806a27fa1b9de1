/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueue notification suppression (virtio 1.2, 2.7.7, 2.7.10):
 * the flags fields, or used_event/avail_event with EVENT_IDX. The hot pop
 * and push paths are in ring-split.h.
 */
#include "ring-split.h"

bool cvmm_vq_split_needs_notification(struct cvmm_virtq *q)
{
	uint16_t new_idx = q->next_used;
	uint16_t old_idx = q->signalled_used;
	uint32_t n = q->used_since_signal;
	bool valid = q->signalled_valid;
	uint16_t event;

	if (n == 0)
		return false;
	q->used_since_signal = 0;
	q->signalled_used = new_idx;
	q->signalled_valid = 1;
	/* Our used->idx store must be visible before we read the driver's
	 * flags/used_event, or both sides may decide to wait. */
	cvmm_vq_mb();
	if (!q->event_idx)
		return !(cvmm_load_relaxed_u16(q->avail) & CVMM_VIRTQ_AVAIL_F_NO_INTERRUPT);
	/* After activate/restore there is no window to compare against; and a
	 * window of 32768 or more is ambiguous in 16-bit arithmetic. */
	if (!valid || n >= 0x8000u)
		return true;
	event = cvmm_load_relaxed_u16(q->avail + CVMM_VQ_AVAIL_RING + 2u * q->size);
	return cvmm_vq_need_event(event, new_idx, old_idx);
}

int cvmm_vq_split_enable_notification(struct cvmm_virtq *q)
{
	uint16_t idx;

	if (q->event_idx) {
		uint64_t off = CVMM_VQ_USED_RING + 8u * q->size;

		/* avail_event: kick me when you publish entry next_avail. */
		cvmm_store_relaxed_u16(q->used + off, q->next_avail);
		cvmm_vq_mark_dirty(q, q->used_region, q->used_phys + off, 2);
	} else {
		cvmm_store_relaxed_u16(q->used, 0);
		cvmm_vq_mark_dirty(q, q->used_region, q->used_phys, 2);
	}
	/* The store above must be visible before we re-read avail->idx:
	 * otherwise a buffer added in between is never kicked nor seen. */
	cvmm_vq_mb();
	idx = cvmm_load_acquire_u16(q->avail + CVMM_VQ_AVAIL_IDX);
	if ((uint16_t)(idx - q->next_avail) > q->size)
		return cvmm_vq_fail(q, -EINVAL, "available index jumped past the queue size");
	q->shadow_avail = idx;
	return idx != q->next_avail;
}

void cvmm_vq_split_disable_notification(struct cvmm_virtq *q)
{
	if (q->event_idx)
		return;
	cvmm_store_relaxed_u16(q->used, CVMM_VIRTQ_USED_F_NO_NOTIFY);
	cvmm_vq_mark_dirty(q, q->used_region, q->used_phys, 2);
}

int cvmm_vq_split_mark_used(struct cvmm_virtq *q, uint32_t slot)
{
	uint64_t elem = q->used_phys + CVMM_VQ_USED_RING + 8u * slot;

	/* The index and the element usually share a page: one call then. */
	if (((q->used_phys ^ (elem + 7)) >> CVMM_GUEST_PAGE_SHIFT) == 0) {
		cvmm_guest_mem_mark_dirty(q->mem, q->used_phys, elem + 8 - q->used_phys);
	} else {
		cvmm_guest_mem_mark_dirty(q->mem, q->used_phys + CVMM_VQ_USED_IDX, 2);
		cvmm_guest_mem_mark_dirty(q->mem, elem, 8);
	}
	return 0;
}
