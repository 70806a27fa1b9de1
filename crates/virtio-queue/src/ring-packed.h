/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Packed virtqueue hot paths (virtio 1.2, 2.8): one descriptor ring shared
 * both ways, AVAIL/USED flag bits against wrap counters, buffer ids. The
 * device writes a used descriptor at next_used and skips ahead by the
 * completed chain's ring_slots; with out-of-order completion that can
 * overwrite ring slots of a chain still in flight, so pop copies a chain's
 * in-ring descriptors (indirect tables stay in place: the device owns them
 * until used).
 */
#ifndef CVMM_VQ_RING_PACKED_H
#define CVMM_VQ_RING_PACKED_H

#include "vq-internal.h"

/* Available in this lap: AVAIL matches the wrap counter, USED does not. */
static inline bool cvmm_vq_packed_available(const struct cvmm_virtq *q, uint16_t flags)
{
	uint16_t want = q->avail_wrap ? CVMM_VIRTQ_DESC_F_AVAIL : CVMM_VIRTQ_DESC_F_USED;

	return (flags & (CVMM_VIRTQ_DESC_F_AVAIL | CVMM_VIRTQ_DESC_F_USED)) == want;
}

static inline int cvmm_vq_packed_pop(struct cvmm_virtq *q, struct cvmm_virtq_chain *c)
{
	uint16_t start = q->next_avail, pos = start;
	uint8_t start_wrap = q->avail_wrap, wrap = start_wrap;
	const uint8_t *d = q->desc + (size_t)CVMM_VQ_DESC_SIZE * pos;
	uint16_t next_flags, id;
	/* Acquire: the driver writes the head's flags last, so everything in
	 * the list is visible once the head shows available. */
	uint16_t flags = cvmm_load_acquire_u16(d + 14);
	unsigned int n = 0;

	if (!cvmm_vq_packed_available(q, flags))
		return 0;
	for (;;) {
		memcpy(&c->ring[n], d, sizeof(c->ring[n]));
		next_flags = c->ring[n].b;
		id = c->ring[n].a;	/* the buffer id is in the last descriptor */
		n++;
		if (++pos == q->size) {
			pos = 0;
			wrap ^= 1;
		}
		if (!(next_flags & CVMM_VIRTQ_DESC_F_NEXT))
			break;
		if (n >= q->size)
			return cvmm_vq_fail(q, -ELOOP, "packed chain longer than the queue");
		if (n >= CVMM_VIRTQ_PACKED_MAX_CHAIN)
			return cvmm_vq_fail(q, -E2BIG, "packed chain longer than the device limit");
		d = q->desc + (size_t)CVMM_VQ_DESC_SIZE * pos;
	}
	c->q = q;
	c->id = id;
	c->ring_slots = (uint16_t)n;
	c->prev_avail = start;
	c->prev_wrap = start_wrap;
	c->cur.table = NULL;
	c->cur.table_len = (uint16_t)n;
	c->cur.idx = 0;
	c->cur.visited = 0;
	c->cur.mode = CVMM_VQ_MODE_PRING;
	c->cur.state = CVMM_VQ_CUR_MORE;
	q->next_avail = pos;
	q->avail_wrap = wrap;
	return 1;
}

static inline int cvmm_vq_packed_push(struct cvmm_virtq *q, uint16_t id, uint16_t slots,
			uint32_t len)
{
	uint16_t pos = q->next_used;
	uint8_t *d = q->desc + (size_t)CVMM_VQ_DESC_SIZE * pos;
	uint16_t flags = q->used_wrap ? (CVMM_VIRTQ_DESC_F_AVAIL | CVMM_VIRTQ_DESC_F_USED) : 0;
	uint32_t next;

	if (len)
		flags |= CVMM_VIRTQ_DESC_F_WRITE;
	__atomic_store_n((uint32_t *)(d + 8), len, __ATOMIC_RELAXED);
	__atomic_store_n((uint16_t *)(d + 12), id, __ATOMIC_RELAXED);
	/* Release: id and len are visible before the flags that make the
	 * descriptor used. */
	cvmm_store_release_u16(d + 14, flags);
	next = (uint32_t)pos + slots;
	if (next >= q->size) {
		next -= q->size;
		q->used_wrap ^= 1;
	}
	q->next_used = (uint16_t)next;
	q->used_since_signal += slots;
	cvmm_vq_mark_dirty(q, q->fast_region, q->desc_gpa + (uint64_t)CVMM_VQ_DESC_SIZE * pos,
			   CVMM_VQ_DESC_SIZE);
	return 0;
}

#endif
