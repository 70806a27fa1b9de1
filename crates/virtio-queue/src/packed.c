/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Packed virtqueue event suppression (virtio 1.2, 2.8.10): the driver and
 * device event structures, with descriptor-specific events under
 * EVENT_IDX. The hot pop and push paths are in ring-packed.h.
 */
#include "ring-packed.h"

int cvmm_vq_packed_pop_out(struct cvmm_virtq *q, struct cvmm_virtq_chain *c)
{
	return cvmm_vq_packed_pop(q, c);
}

int cvmm_vq_packed_mark_used(struct cvmm_virtq *q, uint16_t pos)
{
	cvmm_guest_mem_mark_dirty(q->mem, q->desc_phys + (uint64_t)CVMM_VQ_DESC_SIZE * pos,
				  CVMM_VQ_DESC_SIZE);
	return 0;
}

int cvmm_vq_packed_pop_list(struct cvmm_virtq *q, struct cvmm_virtq_chain *c)
{
	uint16_t pos = q->next_avail, start = pos, size = q->size;
	uint8_t wrap = q->avail_wrap, start_wrap = wrap;
	const uint8_t *d = q->desc + (size_t)CVMM_VQ_DESC_SIZE * pos;
	/* Read the head again (acquire): it is the list's own publication. */
	uint16_t flags = cvmm_load_acquire_u16(d + 14);
	unsigned int n = 0, wseen = 0, bad = 0;
	struct cvmm_virtq_raw_desc rd;

	if (!cvmm_vq_packed_available(q, flags))
		return 0;
	for (;;) {
		memcpy(&rd, d, sizeof(rd));
		c->ring[n++] = rd;
		flags = rd.b;
		/* What the cursor would refuse, or must check itself (an
		 * indirect table), leaves the copy to the checking walk. */
		bad |= (flags & CVMM_VIRTQ_DESC_F_INDIRECT) | (wseen & ~flags) |
		       !cvmm_vq_packed_in_fast(q, &rd);
		wseen |= flags & CVMM_VIRTQ_DESC_F_WRITE;
		if (++pos == size) {
			pos = 0;
			wrap ^= 1;
		}
		if (!(flags & CVMM_VIRTQ_DESC_F_NEXT))
			break;
		if (n >= size)
			return cvmm_vq_fail(q, -ELOOP, "packed chain longer than the queue");
		if (n >= CVMM_VIRTQ_PACKED_MAX_CHAIN)
			return cvmm_vq_fail(q, -E2BIG, "packed chain longer than the device limit");
		d = q->desc + (size_t)CVMM_VQ_DESC_SIZE * pos;
	}
	/* the buffer id is in the last descriptor */
	cvmm_vq_packed_fill(q, c, rd.a, n, !bad, start, start_wrap);
	q->next_avail = pos;
	if (wrap != start_wrap)
		cvmm_vq_set_avail_wrap(q, wrap);
	return 1;
}


bool cvmm_vq_packed_needs_notification(struct cvmm_virtq *q)
{
	uint32_t n = q->used_since_signal;
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
	old_idx = (uint16_t)(new_idx - n);	/* n < size here */
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
	cvmm_vq_mark_dirty(q, q->used_region, q->used_phys, 4);
	/* Publish the request before looking again (lost-wakeup race). */
	cvmm_vq_mb();
	flags = cvmm_load_acquire_u16(q->desc + (size_t)CVMM_VQ_DESC_SIZE * q->next_avail + 14);
	return cvmm_vq_packed_available(q, flags) ? 1 : 0;
}

void cvmm_vq_packed_disable_notification(struct cvmm_virtq *q)
{
	__atomic_store_n((uint32_t *)q->used, (uint32_t)CVMM_VIRTQ_EVENT_F_DISABLE << 16,
			 __ATOMIC_RELAXED);
	cvmm_vq_mark_dirty(q, q->used_region, q->used_phys, 4);
}
