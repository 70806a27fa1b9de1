/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Packed virtqueue event suppression (virtio 1.2, 2.8.10): the driver and
 * device event structures, with descriptor-specific events under
 * EVENT_IDX. The hot pop and push paths are in ring-packed.h.
 */
#include "ring-packed.h"


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
	cvmm_vq_mark_dirty(q, q->used_region, q->used_gpa, 4);
	/* Publish the request before looking again (lost-wakeup race). */
	cvmm_vq_mb();
	flags = cvmm_load_acquire_u16(q->desc + (size_t)CVMM_VQ_DESC_SIZE * q->next_avail + 14);
	return cvmm_vq_packed_available(q, flags) ? 1 : 0;
}

void cvmm_vq_packed_disable_notification(struct cvmm_virtq *q)
{
	__atomic_store_n((uint32_t *)q->used, (uint32_t)CVMM_VIRTQ_EVENT_F_DISABLE << 16,
			 __ATOMIC_RELAXED);
	cvmm_vq_mark_dirty(q, q->used_region, q->used_gpa, 4);
}
