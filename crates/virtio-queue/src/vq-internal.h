/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between the files of the virtio-queue crate; never installed. */
#ifndef CVMM_VQ_INTERNAL_H
#define CVMM_VQ_INTERNAL_H

#include <cvmm/virtio-queue.h>
#include <cvmm/sys-util.h>

#include <errno.h>
#include <string.h>

#define CVMM_VQ_HIDDEN __attribute__((visibility("hidden")))

/* How a cursor finds its next descriptor. */
enum {
	CVMM_VQ_MODE_SPLIT = 0,  /* split table or split indirect table: NEXT links */
	CVMM_VQ_MODE_PRING,      /* packed: the chain's copied ring descriptors */
	CVMM_VQ_MODE_PIND,       /* packed indirect table: sequential entries */
};

/* Cursor state bits. */
#define CVMM_VQ_CUR_MORE CVMM_VIRTQ_CUR_MORE /* another descriptor follows */
#define CVMM_VQ_CUR_INDIRECT 0x2u  /* inside an indirect table */
#define CVMM_VQ_CUR_WRITE 0x4u     /* a writable descriptor was seen */
#define CVMM_VQ_CUR_FLAT CVMM_VIRTQ_CUR_FLAT /* PRING: pop validated the copies */

/* Split ring layout (virtio 1.2, 2.7). */
#define CVMM_VQ_AVAIL_IDX 2u
#define CVMM_VQ_AVAIL_RING 4u
#define CVMM_VQ_USED_IDX 2u
#define CVMM_VQ_USED_RING 4u
/* Packed event suppression structure: le16 off_wrap, le16 flags. */
#define CVMM_VQ_EVT_OFF_WRAP 0u
#define CVMM_VQ_EVT_FLAGS 2u

#define CVMM_VQ_DESC_SIZE 16u

/* q->status of a ready packed queue (a ready split queue has 0). */
#define CVMM_VQ_STATUS_PACKED 1

/* Set the packed available wrap counter and the flag bits it implies
 * (AVAIL equal to it, USED not). */
static inline void cvmm_vq_set_avail_wrap(struct cvmm_virtq *q, uint8_t wrap)
{
	q->avail_wrap = wrap;
	q->avail_want = wrap ? CVMM_VIRTQ_DESC_F_AVAIL : CVMM_VIRTQ_DESC_F_USED;
}

/* The same for the used wrap counter: AVAIL and USED both equal to it. */
static inline void cvmm_vq_set_used_wrap(struct cvmm_virtq *q, uint8_t wrap)
{
	q->used_wrap = wrap;
	q->used_flags = wrap ? CVMM_VIRTQ_DESC_F_AVAIL | CVMM_VIRTQ_DESC_F_USED : 0;
}

/* Mark the queue broken with @err (the first error sticks) and return it. */
int cvmm_vq_fail(struct cvmm_virtq *q, int err, const char *why) CVMM_VQ_HIDDEN
	__attribute__((cold, noinline));

/* Pop without the IOMMU step (@status: q->status). */
int cvmm_vq_pop_raw(struct cvmm_virtq *q, struct cvmm_virtq_chain *c, int status) CVMM_VQ_HIDDEN;
/* Pop behind an IOMMU (dma.c): re-translate the rings when the mappings
 * moved, then pop and check every buffer of the chain. */
int cvmm_vq_dma_pop(struct cvmm_virtq *q, struct cvmm_virtq_chain *c) CVMM_VQ_HIDDEN
	__attribute__((noinline));
/* Translate buffer [@iova, @iova + @len) of a queue behind an IOMMU. */
int cvmm_vq_dma_buf(struct cvmm_virtq *q, uint64_t iova, uint32_t len, uint16_t flags,
		    uint64_t *gpa) CVMM_VQ_HIDDEN;

/* Split and packed halves of the public calls. */
bool cvmm_vq_split_needs_notification(struct cvmm_virtq *q) CVMM_VQ_HIDDEN;
int cvmm_vq_split_enable_notification(struct cvmm_virtq *q) CVMM_VQ_HIDDEN;
void cvmm_vq_split_disable_notification(struct cvmm_virtq *q) CVMM_VQ_HIDDEN;

bool cvmm_vq_packed_needs_notification(struct cvmm_virtq *q) CVMM_VQ_HIDDEN;
int cvmm_vq_packed_enable_notification(struct cvmm_virtq *q) CVMM_VQ_HIDDEN;
void cvmm_vq_packed_disable_notification(struct cvmm_virtq *q) CVMM_VQ_HIDDEN;

/* Switch @cur into the indirect table described by @rd (or break the queue). */
int cvmm_vq_enter_indirect(struct cvmm_virtq *q, struct cvmm_virtq_cursor *cur,
			   uint64_t addr, uint32_t len, uint16_t flags) CVMM_VQ_HIDDEN;

/*
 * True when [gpa, gpa + len) is guest RAM. The region holding the rings is
 * checked inline (nearly every buffer lives there); others ask vm-memory.
 */
static inline bool cvmm_vq_range_ok(const struct cvmm_virtq *q, uint64_t gpa,
				    uint64_t len)
{
	uint64_t off = gpa - q->fast_gpa;	/* wraps to huge below the region */

	if (CVMM_LIKELY(off < q->fast_size && len <= q->fast_size - off))
		return true;
	if (gpa + len < gpa)
		return false;
	return cvmm_guest_mem_range_valid(q->mem, gpa, len);
}

/*
 * The split "need event" test (virtio 1.2, 2.7.10): true when @event_idx
 * lies in the window (old, new] of indexes just published.
 */
static inline bool cvmm_vq_need_event(uint16_t event_idx, uint16_t new_idx,
				      uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

/* Full barrier between our store and our load of the other side's field. */
static inline void cvmm_vq_mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/*
 * Mark [gpa, gpa + len) dirty when region @r logs VMM writes. The region
 * flags mirror cvmm_guest_mem_dirty_log_enable(), which runs while devices
 * are paused; checking them first keeps the common case (no migration)
 * free of a call and a region search per completion.
 */
static inline void cvmm_vq_mark_dirty(const struct cvmm_virtq *q,
				      const struct cvmm_mem_region *r,
				      uint64_t gpa, uint64_t len)
{
	if (CVMM_UNLIKELY(__atomic_load_n(&r->flags, __ATOMIC_RELAXED) & CVMM_MEM_F_DIRTY_LOG))
		cvmm_guest_mem_mark_dirty(q->mem, gpa, len);
}

/* Where iteration of chain @c starts (pop and rewind). */
static inline void cvmm_vq_chain_start(const struct cvmm_virtq_chain *c,
				       struct cvmm_virtq_cursor *cur)
{
	/* FLAT stays in the chain's own state for its whole walk: pop set it
	 * (packed) or not (split), and no step clears it. */
	unsigned int flat = c->cur.state & CVMM_VQ_CUR_FLAT;

	if (c->q->packed) {
		cur->table = NULL;
		cur->table_len = c->ring_slots;
		cur->idx = 0;
		cur->mode = CVMM_VQ_MODE_PRING;
	} else {
		cur->table = c->q->desc;
		cur->table_len = c->q->size;
		cur->idx = c->id;
		cur->mode = CVMM_VQ_MODE_SPLIT;
	}
	cur->visited = 0;
	cur->state = (uint8_t)(CVMM_VQ_CUR_MORE | (c->q->packed ? flat : 0));
	/* A packed chain kept across a reset to a split ring: its buffer id
	 * is no table index. Nothing to walk rather than a read past it. */
	if (CVMM_UNLIKELY(cur->mode == CVMM_VQ_MODE_SPLIT && c->id >= c->q->size))
		cur->state = 0;
	/* Refused by the IOMMU at pop: nothing of it may be touched. */
	if (CVMM_UNLIKELY(c->refused))
		cur->state = 0;
}

/* Out-of-line continuations of cvmm_vq_cursor_next(), reached by tail calls
 * so the inline fast path needs no saved registers. */
int cvmm_vq_next_indirect(struct cvmm_virtq_chain *c, struct cvmm_virtq_cursor *cur,
			  struct cvmm_virtq_desc *d, uint64_t addr, uint32_t len,
			  uint16_t flags) CVMM_VQ_HIDDEN __attribute__((noinline));
int cvmm_vq_next_slow_range(struct cvmm_virtq *q, struct cvmm_virtq_desc *d,
			    uint64_t addr, uint32_t len, uint16_t flags)
	CVMM_VQ_HIDDEN __attribute__((noinline));

/*
 * Advance @cur within chain @c: 1 with @d, 0 at the end, <0 when the queue
 * is (or now becomes) broken. Inline: it is most of the per-chain cost.
 */
static inline int cvmm_vq_cursor_next(struct cvmm_virtq_chain *c,
				      struct cvmm_virtq_cursor *cur,
				      struct cvmm_virtq_desc *d)
{
	struct cvmm_virtq *q = c->q;
	struct cvmm_virtq_raw_desc rd;
	/* Work on locals and store back once: @d may alias nothing, but the
	 * compiler cannot know that. */
	unsigned int state = cur->state, idx = cur->idx, len = cur->table_len;
	unsigned int mode = cur->mode;
	unsigned int flags;
	uint64_t end;

	if (CVMM_UNLIKELY(q->status < 0))
		return q->status;
	if (!(state & CVMM_VQ_CUR_MORE))
		return 0;
	/* A chain cannot visit more descriptors than its table holds without
	 * going round in a loop. */
	if (CVMM_UNLIKELY(cur->visited >= len))
		return cvmm_vq_fail(q, -ELOOP, "descriptor loop or chain longer than the queue");
	cur->visited++;
	if (CVMM_LIKELY(mode == CVMM_VQ_MODE_SPLIT)) {
		const uint8_t *p = cur->table + (size_t)CVMM_VQ_DESC_SIZE * idx;
		uint16_t f16, next;

		/* Each field is read once; only that copy is checked and
		 * used. (Field by field: no shifts to take a copy apart.) */
		memcpy(&rd.addr, p, sizeof(rd.addr));
		memcpy(&rd.len, p + 8, sizeof(rd.len));
		memcpy(&f16, p + 12, sizeof(f16));
		flags = f16;
		if (flags & CVMM_VIRTQ_DESC_F_NEXT) {
			memcpy(&next, p + 14, sizeof(next));
			if (CVMM_UNLIKELY(next >= len))
				return cvmm_vq_fail(q, -EINVAL, "next descriptor index out of range");
			idx = next;
		} else {
			state &= ~CVMM_VQ_CUR_MORE;
		}
	} else {
		if (state & CVMM_VQ_CUR_FLAT) {
			/* Pop validated these copies: hand them out. */
			rd = c->ring[idx];
			if (++idx == len)
				state &= ~CVMM_VQ_CUR_MORE;
			cur->idx = (uint16_t)idx;
			cur->state = (uint8_t)state;
			d->addr = rd.addr;
			d->len = rd.len;
			d->flags = rd.b & CVMM_VIRTQ_DESC_F_WRITE;
			return 1;
		}
		if (mode == CVMM_VQ_MODE_PRING) {
			rd = c->ring[idx];
			flags = rd.b;
		} else {
			const uint8_t *p = cur->table + (size_t)CVMM_VQ_DESC_SIZE * idx;
			uint16_t f16;

			/* packed indirect: only WRITE is meaningful (2.8.8) */
			memcpy(&rd.addr, p, sizeof(rd.addr));
			memcpy(&rd.len, p + 8, sizeof(rd.len));
			memcpy(&f16, p + 14, sizeof(f16));
			flags = f16 & CVMM_VIRTQ_DESC_F_WRITE;
		}
		if (++idx == len)
			state &= ~CVMM_VQ_CUR_MORE;
	}
	if (CVMM_UNLIKELY(flags & CVMM_VIRTQ_DESC_F_INDIRECT)) {
		cur->idx = (uint16_t)idx;
		cur->state = (uint8_t)state;
		return cvmm_vq_next_indirect(c, cur, d, rd.addr, rd.len, flags);
	}
	if (flags & CVMM_VIRTQ_DESC_F_WRITE)
		state |= CVMM_VQ_CUR_WRITE;
	else if (CVMM_UNLIKELY(state & CVMM_VQ_CUR_WRITE))
		return cvmm_vq_fail(q, -EINVAL, "readable descriptor after a writable one");
	cur->idx = (uint16_t)idx;
	cur->state = (uint8_t)state;
	flags &= CVMM_VIRTQ_DESC_F_WRITE;
	if (CVMM_UNLIKELY(rd.addr < q->fast_gpa ||
			  __builtin_add_overflow(rd.addr, (uint64_t)rd.len, &end) ||
			  end > q->fast_end))
		return cvmm_vq_next_slow_range(q, d, rd.addr, rd.len, flags);
	d->addr = rd.addr;
	d->len = rd.len;
	d->flags = flags;
	return 1;
}

#endif
