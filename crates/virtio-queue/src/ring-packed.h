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
	return (flags & (CVMM_VIRTQ_DESC_F_AVAIL | CVMM_VIRTQ_DESC_F_USED)) == q->avail_want;
}

/* cvmm_vq_packed_pop() out of line, for cvmm_virtq_pop() (packed.c). */
int cvmm_vq_packed_pop_out(struct cvmm_virtq *q, struct cvmm_virtq_chain *c)
	CVMM_VQ_HIDDEN __attribute__((noinline));
/* A list of several descriptors (packed.c). */
int cvmm_vq_packed_pop_list(struct cvmm_virtq *q, struct cvmm_virtq_chain *c)
	CVMM_VQ_HIDDEN __attribute__((noinline));

/*
 * Fill @c from the chain at next_avail, copying its in-ring descriptors.
 * The copies are checked here, once, as the cursor would: no INDIRECT, the
 * buffer inside the ring's region, no readable after a writable one. When
 * all pass (nearly always) the cursor just hands them out
 * (CVMM_VQ_CUR_FLAT); otherwise it walks them with every check and
 * reports the error where it always did, at chain_next.
 */
static inline void cvmm_vq_packed_fill(struct cvmm_virtq *q, struct cvmm_virtq_chain *c,
				       uint16_t id, unsigned int n, bool ok,
				       uint16_t start, uint8_t start_wrap)
{
	c->q = q;
	c->id = id;
	c->ring_slots = (uint16_t)n;
	c->prev_avail = start;
	c->prev_wrap = start_wrap;
	c->refused = 0;
	/* One initialiser: the compiler builds the cursor in registers. */
	c->cur = (struct cvmm_virtq_cursor){
		.table = NULL, .table_len = (uint16_t)n, .mode = CVMM_VQ_MODE_PRING,
		.state = (uint8_t)(CVMM_VQ_CUR_MORE | ((unsigned int)ok << 3)),
	};
}

/* True when the copied direct descriptor @rd lies in the ring's region. */
static inline bool cvmm_vq_packed_in_fast(const struct cvmm_virtq *q,
					  const struct cvmm_virtq_raw_desc *rd)
{
	uint64_t end;

	return rd->addr >= q->fast_gpa &&
	       !__builtin_add_overflow(rd->addr, (uint64_t)rd->len, &end) &&
	       end <= q->fast_end;
}

/* Pop, with the one-descriptor chain inline. */
static inline int cvmm_vq_packed_pop(struct cvmm_virtq *q, struct cvmm_virtq_chain *c)
{
	uint16_t start = q->next_avail, size = q->size;
	const uint8_t *d = q->desc + (size_t)CVMM_VQ_DESC_SIZE * start;
	struct cvmm_virtq_raw_desc rd;
	/* Acquire: the driver writes the head's flags last, so everything in
	 * the list is visible once the head shows available. */
	uint16_t flags = cvmm_load_acquire_u16(d + 14);
	uint8_t wrap = q->avail_wrap;

	if (!cvmm_vq_packed_available(q, flags))
		return 0;
	/* One read of guest memory; only the copy is checked and used. */
	memcpy(&rd, d, sizeof(rd));
	if (CVMM_UNLIKELY(rd.b & CVMM_VIRTQ_DESC_F_NEXT))
		return cvmm_vq_packed_pop_list(q, c);
	c->ring[0] = rd;
	/* An indirect table is walked (and checked) in place by the cursor. */
	cvmm_vq_packed_fill(q, c, rd.a, 1,
			    !(rd.b & CVMM_VIRTQ_DESC_F_INDIRECT) && cvmm_vq_packed_in_fast(q, &rd),
			    start, wrap);
	if (CVMM_UNLIKELY(start + 1u == size)) {
		q->next_avail = 0;
		cvmm_vq_set_avail_wrap(q, (uint8_t)(wrap ^ 1u));
	} else {
		q->next_avail = (uint16_t)(start + 1u);
	}
	return 1;
}

/* Dirty-log the used descriptor at ring slot @pos (logging is on); 0. */
int cvmm_vq_packed_mark_used(struct cvmm_virtq *q, uint16_t pos) CVMM_VQ_HIDDEN;

static inline int cvmm_vq_packed_push(struct cvmm_virtq *q, uint16_t id, uint16_t slots,
			uint32_t len)
{
	uint16_t pos = q->next_used, size = q->size;
	uint8_t *d = q->desc + (size_t)CVMM_VQ_DESC_SIZE * pos;
	uint16_t flags = q->used_flags;
	uint32_t next;

	flags |= (uint16_t)((len != 0) * CVMM_VIRTQ_DESC_F_WRITE);
	__atomic_store_n((uint32_t *)(d + 8), len, __ATOMIC_RELAXED);
	__atomic_store_n((uint16_t *)(d + 12), id, __ATOMIC_RELAXED);
	/* Release: id and len are visible before the flags that make the
	 * descriptor used. */
	cvmm_store_release_u16(d + 14, flags);
	next = (uint32_t)pos + slots;
	if (next >= size) {
		next -= size;
		cvmm_vq_set_used_wrap(q, (uint8_t)(q->used_wrap ^ 1u));
	}
	q->next_used = (uint16_t)next;
	q->used_since_signal += slots;
	if (CVMM_UNLIKELY(__atomic_load_n(&q->fast_region->flags, __ATOMIC_RELAXED) &
			  CVMM_MEM_F_DIRTY_LOG))
		return cvmm_vq_packed_mark_used(q, pos);
	return 0;
}

#endif
