/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Packed virtqueue (virtio 1.2, 2.8): one descriptor ring shared both ways,
 * AVAIL/USED flag bits against wrap counters, buffer ids, event suppression
 * structures. The device writes a used descriptor at next_used and skips
 * ahead by the completed chain's ring_slots; with out-of-order completion
 * that can overwrite ring slots of a chain still in flight, so pop copies a
 * chain's in-ring descriptors (indirect tables stay in place: the device
 * owns them until used).
 */
#include "vq-internal.h"

static inline bool desc_available(const struct cvmm_virtq *q, uint16_t flags)
{
	bool avail = (flags & CVMM_VIRTQ_DESC_F_AVAIL) != 0;
	bool used = (flags & CVMM_VIRTQ_DESC_F_USED) != 0;

	return avail != used && avail == (bool)q->avail_wrap;
}

int cvmm_vq_packed_pop(struct cvmm_virtq *q, struct cvmm_virtq_chain *c)
{
	uint16_t pos = q->next_avail;
	uint8_t wrap = q->avail_wrap;
	const uint8_t *d = q->desc + (size_t)CVMM_VQ_DESC_SIZE * pos;
	/* Acquire: the driver writes the head's flags last, so everything in
	 * the list is visible once the head shows available. */
	uint16_t flags = cvmm_load_acquire_u16(d + 14);
	unsigned int n = 0;

	if (!desc_available(q, flags))
		return 0;
	for (;;) {
		memcpy(&c->ring[n], d, sizeof(c->ring[n]));
		n++;
		if (++pos == q->size) {
			pos = 0;
			wrap ^= 1;
		}
		if (!(c->ring[n - 1].b & CVMM_VIRTQ_DESC_F_NEXT))
			break;
		if (n >= q->size)
			return cvmm_vq_fail(q, -ELOOP, "packed chain longer than the queue");
		if (n >= CVMM_VIRTQ_PACKED_MAX_CHAIN)
			return cvmm_vq_fail(q, -E2BIG, "packed chain longer than the device limit");
		d = q->desc + (size_t)CVMM_VQ_DESC_SIZE * pos;
	}
	c->q = q;
	c->id = c->ring[n - 1].a;	/* the buffer id is in the last descriptor */
	c->ring_slots = (uint16_t)n;
	c->prev_avail = q->next_avail;
	c->prev_wrap = q->avail_wrap;
	c->nring = (uint8_t)n;
	c->start.table = NULL;
	c->start.table_len = n;
	c->start.idx = 0;
	c->start.visited = 0;
	c->start.mode = CVMM_VQ_MODE_PRING;
	c->start.state = CVMM_VQ_CUR_MORE;
	c->start.rsvd = 0;
	c->cur = c->start;
	q->next_avail = pos;
	q->avail_wrap = wrap;
	return 1;
}

int cvmm_vq_packed_push(struct cvmm_virtq *q, uint16_t id, uint16_t slots,
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
	if ((uint32_t)q->used_since_signal + slots > UINT16_MAX)
		q->used_since_signal = UINT16_MAX;
	else
		q->used_since_signal = (uint16_t)(q->used_since_signal + slots);
	cvmm_guest_mem_mark_dirty(q->mem, q->desc_gpa + (uint64_t)CVMM_VQ_DESC_SIZE * pos,
				  CVMM_VQ_DESC_SIZE);
	return 0;
}

bool cvmm_vq_packed_needs_notification(struct cvmm_virtq *q)
{
	uint16_t n = q->used_since_signal;
	uint16_t new_idx, old_idx, off;
	uint32_t evt;
	uint16_t flags, off_wrap;

	if (n == 0)
		return false;
	q->used_since_signal = 0;
	/* Used descriptors must be visible before we read the driver's
	 * event suppression structure. */
	cvmm_vq_mb();
	evt = __atomic_load_n((const uint32_t *)q->avail, __ATOMIC_RELAXED);
	off_wrap = (uint16_t)(evt & 0xffffu);
	flags = (uint16_t)((evt >> 16) & 0x3u);
	if (flags == CVMM_VIRTQ_EVENT_F_DISABLE)
		return false;
	if (flags != CVMM_VIRTQ_EVENT_F_DESC || !q->event_idx)
		return true;	/* ENABLE, or a reserved value: err towards notifying */
	if (n >= q->size)
		return true;
	/* Indexes in one linear space: this lap is [0, size), the previous
	 * lap is negative; 16-bit arithmetic keeps the window exact. */
	new_idx = q->next_used;
	old_idx = (uint16_t)(new_idx - n);
	off = off_wrap & 0x7fffu;
	if ((off_wrap >> 15) != q->used_wrap)
		off = (uint16_t)(off - q->size);
	return cvmm_vq_need_event(off, new_idx, old_idx);
}

int cvmm_vq_packed_enable_notification(struct cvmm_virtq *q)
{
	uint32_t v;
	uint16_t flags;

	if (q->event_idx)
		v = ((uint32_t)CVMM_VIRTQ_EVENT_F_DESC << 16) | q->next_avail |
		    ((uint32_t)q->avail_wrap << 15);
	else
		v = (uint32_t)CVMM_VIRTQ_EVENT_F_ENABLE << 16;
	__atomic_store_n((uint32_t *)q->used, v, __ATOMIC_RELAXED);
	cvmm_guest_mem_mark_dirty(q->mem, q->used_gpa, 4);
	/* Publish the request before looking again (lost-wakeup race). */
	cvmm_vq_mb();
	flags = cvmm_load_acquire_u16(q->desc + (size_t)CVMM_VQ_DESC_SIZE * q->next_avail + 14);
	return desc_available(q, flags) ? 1 : 0;
}

void cvmm_vq_packed_disable_notification(struct cvmm_virtq *q)
{
	__atomic_store_n((uint32_t *)q->used, (uint32_t)CVMM_VIRTQ_EVENT_F_DISABLE << 16,
			 __ATOMIC_RELAXED);
	cvmm_guest_mem_mark_dirty(q->mem, q->used_gpa, 4);
}
