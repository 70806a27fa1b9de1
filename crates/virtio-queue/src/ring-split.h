/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueue hot paths (virtio 1.2, 2.7): available ring in, used ring
 * out. Inline into the public pop/push. Descriptors stay in guest memory and
 * are read lazily by the cursor: the driver may not reuse them until they
 * are used, and whatever a hostile driver changes meanwhile is validated
 * again on each read.
 */
#ifndef CVMM_VQ_RING_SPLIT_H
#define CVMM_VQ_RING_SPLIT_H

#include "vq-internal.h"

/* Dirty-log the used index and element @slot (logging is on). */
int cvmm_vq_split_mark_used(struct cvmm_virtq *q, uint32_t slot) CVMM_VQ_HIDDEN;

static inline int cvmm_vq_split_pop(struct cvmm_virtq *q, struct cvmm_virtq_chain *c)
{
	/* Locals: the stores to @c below could alias @q for the compiler. */
	uint16_t next = q->next_avail, size = q->size;
	const uint8_t *avail = q->avail, *desc = q->desc;
	uint16_t head;

	if (q->shadow_avail == next) {
		/* Acquire: ring entries and descriptors written before the
		 * index are visible once we see the index. */
		uint16_t idx = cvmm_load_acquire_u16(avail + CVMM_VQ_AVAIL_IDX);

		if (CVMM_UNLIKELY((uint16_t)(idx - next) > size))
			return cvmm_vq_fail(q, -EINVAL, "available index jumped past the queue size");
		q->shadow_avail = idx;
		if (idx == next)
			return 0;
	}
	head = cvmm_load_relaxed_u16(avail + CVMM_VQ_AVAIL_RING + 2u * (next & (size - 1u)));
	if (CVMM_UNLIKELY(head >= size))
		return cvmm_vq_fail(q, -EINVAL, "available head out of range");
	q->next_avail = (uint16_t)(next + 1);

	c->q = q;
	c->id = head;
	c->ring_slots = 1;
	c->prev_avail = next;
	c->refused = 0;
	c->cur.table = desc;
	c->cur.table_len = size;
	c->cur.idx = head;
	c->cur.visited = 0;
	c->cur.mode = CVMM_VQ_MODE_SPLIT;
	c->cur.state = CVMM_VQ_CUR_MORE;
	return 1;
}

static inline int cvmm_vq_split_push(struct cvmm_virtq *q, uint16_t id, uint32_t len)
{
	uint16_t idx = q->next_used;
	uint32_t slot = idx & (q->size - 1u);
	uint8_t *used = q->used;
	uint8_t *elem = used + CVMM_VQ_USED_RING + 8u * slot;

	__atomic_store_n((uint32_t *)elem, (uint32_t)id, __ATOMIC_RELAXED);
	__atomic_store_n((uint32_t *)(elem + 4), len, __ATOMIC_RELAXED);
	idx++;
	/* Release: the element is visible before the index that covers it. */
	cvmm_store_release_u16(used + CVMM_VQ_USED_IDX, idx);
	q->next_used = idx;
	q->used_since_signal++;
	if (CVMM_UNLIKELY(__atomic_load_n(&q->used_region->flags, __ATOMIC_RELAXED) &
			  CVMM_MEM_F_DIRTY_LOG))
		return cvmm_vq_split_mark_used(q, slot);
	return 0;
}

#endif
