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
#define CVMM_VQ_CUR_MORE 0x1u      /* another descriptor follows */
#define CVMM_VQ_CUR_INDIRECT 0x2u  /* inside an indirect table */
#define CVMM_VQ_CUR_WRITE 0x4u     /* a writable descriptor was seen */

/* Split ring layout (virtio 1.2, 2.7). */
#define CVMM_VQ_AVAIL_IDX 2u
#define CVMM_VQ_AVAIL_RING 4u
#define CVMM_VQ_USED_IDX 2u
#define CVMM_VQ_USED_RING 4u
/* Packed event suppression structure: le16 off_wrap, le16 flags. */
#define CVMM_VQ_EVT_OFF_WRAP 0u
#define CVMM_VQ_EVT_FLAGS 2u

#define CVMM_VQ_DESC_SIZE 16u

/* Mark the queue broken with @err (the first error sticks) and return it. */
int cvmm_vq_fail(struct cvmm_virtq *q, int err, const char *why) CVMM_VQ_HIDDEN;

/* Split and packed halves of the public calls. */
int cvmm_vq_split_pop(struct cvmm_virtq *q, struct cvmm_virtq_chain *c) CVMM_VQ_HIDDEN;
int cvmm_vq_split_push(struct cvmm_virtq *q, uint16_t id, uint32_t len) CVMM_VQ_HIDDEN;
bool cvmm_vq_split_needs_notification(struct cvmm_virtq *q) CVMM_VQ_HIDDEN;
int cvmm_vq_split_enable_notification(struct cvmm_virtq *q) CVMM_VQ_HIDDEN;
void cvmm_vq_split_disable_notification(struct cvmm_virtq *q) CVMM_VQ_HIDDEN;

int cvmm_vq_packed_pop(struct cvmm_virtq *q, struct cvmm_virtq_chain *c) CVMM_VQ_HIDDEN;
int cvmm_vq_packed_push(struct cvmm_virtq *q, uint16_t id, uint16_t slots,
			uint32_t len) CVMM_VQ_HIDDEN;
bool cvmm_vq_packed_needs_notification(struct cvmm_virtq *q) CVMM_VQ_HIDDEN;
int cvmm_vq_packed_enable_notification(struct cvmm_virtq *q) CVMM_VQ_HIDDEN;
void cvmm_vq_packed_disable_notification(struct cvmm_virtq *q) CVMM_VQ_HIDDEN;

/* Advance @cur within chain @c: 1 with @d, 0 at the end, <0 broken. */
int cvmm_vq_cursor_next(struct cvmm_virtq_chain *c, struct cvmm_virtq_cursor *cur,
			struct cvmm_virtq_desc *d) CVMM_VQ_HIDDEN;

/*
 * True when [gpa, gpa + len) is guest RAM. The region holding the rings is
 * checked inline (nearly every buffer lives there); others ask vm-memory.
 */
static inline bool cvmm_vq_range_ok(const struct cvmm_virtq *q, uint64_t gpa,
				    uint64_t len)
{
	uint64_t off = gpa - q->fast_gpa;

	if (CVMM_LIKELY(gpa >= q->fast_gpa && off < q->fast_size &&
			len <= q->fast_size - off))
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

#endif
