/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueue (virtio 1.2, 2.7): available ring in, used ring out.
 * Descriptors stay in guest memory and are read lazily by the cursor: the
 * driver may not reuse them until they are used, and whatever a hostile
 * driver changes meanwhile is validated again on each read.
 */
#include "vq-internal.h"

int cvmm_vq_split_pop(struct cvmm_virtq *q, struct cvmm_virtq_chain *c)
{
	uint16_t next = q->next_avail;
	uint16_t head;

	if (q->shadow_avail == next) {
		/* Acquire: ring entries and descriptors written before the
		 * index are visible once we see the index. */
		uint16_t idx = cvmm_load_acquire_u16(q->avail + CVMM_VQ_AVAIL_IDX);

		if (CVMM_UNLIKELY((uint16_t)(idx - next) > q->size))
			return cvmm_vq_fail(q, -EINVAL, "available index jumped past the queue size");
		q->shadow_avail = idx;
		if (idx == next)
			return 0;
	}
	head = cvmm_load_relaxed_u16(q->avail + CVMM_VQ_AVAIL_RING +
				     2u * (next & (q->size - 1)));
	if (CVMM_UNLIKELY(head >= q->size))
		return cvmm_vq_fail(q, -EINVAL, "available head out of range");
	q->next_avail = (uint16_t)(next + 1);

	c->q = q;
	c->id = head;
	c->ring_slots = 1;
	c->prev_avail = next;
	c->prev_wrap = 0;
	c->nring = 0;
	c->start.table = q->desc;
	c->start.table_len = q->size;
	c->start.idx = head;
	c->start.visited = 0;
	c->start.mode = CVMM_VQ_MODE_SPLIT;
	c->start.state = CVMM_VQ_CUR_MORE;
	c->start.rsvd = 0;
	c->cur = c->start;
	return 1;
}

int cvmm_vq_split_push(struct cvmm_virtq *q, uint16_t id, uint32_t len)
{
	uint16_t idx = q->next_used;
	uint32_t slot = idx & (q->size - 1u);
	uint8_t *elem = q->used + CVMM_VQ_USED_RING + 8u * slot;
	uint64_t elem_end = q->used_gpa + CVMM_VQ_USED_RING + 8u * slot + 8u;

	__atomic_store_n((uint32_t *)elem, (uint32_t)id, __ATOMIC_RELAXED);
	__atomic_store_n((uint32_t *)(elem + 4), len, __ATOMIC_RELAXED);
	idx++;
	/* Release: the element is visible before the index that covers it. */
	cvmm_store_release_u16(q->used + CVMM_VQ_USED_IDX, idx);
	q->next_used = idx;
	if (q->used_since_signal != UINT16_MAX)
		q->used_since_signal++;
	/* The index and the element usually share a page: one call then. */
	if (((q->used_gpa ^ (elem_end - 1)) >> CVMM_GUEST_PAGE_SHIFT) == 0) {
		cvmm_guest_mem_mark_dirty(q->mem, q->used_gpa, elem_end - q->used_gpa);
	} else {
		cvmm_guest_mem_mark_dirty(q->mem, q->used_gpa + CVMM_VQ_USED_IDX, 2);
		cvmm_guest_mem_mark_dirty(q->mem, elem_end - 8, 8);
	}
	return 0;
}

bool cvmm_vq_split_needs_notification(struct cvmm_virtq *q)
{
	uint16_t new_idx = q->next_used;
	uint16_t old_idx = q->signalled_used;
	uint16_t n = q->used_since_signal;
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
		cvmm_guest_mem_mark_dirty(q->mem, q->used_gpa + off, 2);
	} else {
		cvmm_store_relaxed_u16(q->used, 0);
		cvmm_guest_mem_mark_dirty(q->mem, q->used_gpa, 2);
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
	cvmm_guest_mem_mark_dirty(q->mem, q->used_gpa, 2);
}
