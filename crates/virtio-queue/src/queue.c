/* SPDX-License-Identifier: Apache-2.0 */
/* Queue setup, activation (layout validation), the broken state, dispatch. */
#include "ring-split.h"
#include "ring-packed.h"

int cvmm_vq_fail(struct cvmm_virtq *q, int err, const char *why)
{
	if (!q->error) {
		q->error = err;
		q->status = err;
		CVMM_LOG(CVMM_LOG_WARN, "virtio-queue",
			 "queue broken by the driver: %s (%d)", why, err);
	}
	return q->error;
}

int cvmm_virtq_init(struct cvmm_virtq *q, struct cvmm_guest_mem *mem,
		    uint16_t max_size)
{
	memset(q, 0, sizeof(*q));
	if (!mem || max_size == 0 || max_size > CVMM_VIRTQ_MAX_SIZE)
		return -EINVAL;
	q->mem = mem;
	q->mem_gen = cvmm_guest_mem_generation(mem);
	q->max_size = max_size;
	q->cfg_size = max_size;
	q->status = -ENODEV;
	return 0;
}

void cvmm_virtq_fini(struct cvmm_virtq *q)
{
	if (q) {
		q->active = 0;
		q->status = q->error ? q->error : -ENODEV;
	}
}

void cvmm_virtq_reset(struct cvmm_virtq *q)
{
	struct cvmm_guest_mem *mem = q->mem;
	const struct cvmm_dma_xlate *dma = q->dma;
	uint16_t max = q->max_size;

	memset(q, 0, sizeof(*q));
	q->mem = mem;
	q->dma = dma;
	q->mem_gen = cvmm_guest_mem_generation(mem);
	q->max_size = max;
	q->cfg_size = max;
	q->status = -ENODEV;
}

void cvmm_virtq_set_size(struct cvmm_virtq *q, uint16_t size)
{
	q->cfg_size = size;
}

void cvmm_virtq_set_addrs(struct cvmm_virtq *q, uint64_t desc_gpa,
			  uint64_t avail_gpa, uint64_t used_gpa)
{
	q->desc_gpa = desc_gpa;
	q->avail_gpa = avail_gpa;
	q->used_gpa = used_gpa;
}

void cvmm_virtq_set_features(struct cvmm_virtq *q, uint64_t features)
{
	q->features = features;
}

void cvmm_virtq_set_dma(struct cvmm_virtq *q, const struct cvmm_dma_xlate *dma)
{
	q->dma = dma;
}

void cvmm_virtq_ring_bytes(uint16_t size, uint64_t features, uint64_t *desc,
			   uint64_t *avail, uint64_t *used)
{
	uint64_t n = size;
	uint64_t ev = (features & CVMM_VIRTIO_F_EVENT_IDX) ? 2 : 0;

	*desc = n * CVMM_VQ_DESC_SIZE;
	if (features & CVMM_VIRTIO_F_RING_PACKED) {
		*avail = 4;
		*used = 4;
	} else {
		*avail = CVMM_VQ_AVAIL_RING + 2 * n + ev;
		*used = CVMM_VQ_USED_RING + 8 * n + ev;
	}
}

/* Host pointer to a ring part, or NULL when misaligned or not in one
 * region; behind an IOMMU @gpa is an IOVA translated for @access first, and
 * *@phys gets the guest physical address. */
static uint8_t *ring_ptr(struct cvmm_virtq *q, uint64_t gpa, uint64_t len,
			 uint64_t align, unsigned int access, uint64_t *phys, int *err)
{
	uint8_t *p;

	if (gpa & (align - 1)) {
		*err = -EINVAL;
		return NULL;
	}
	if (q->dma && q->dma->translate(q->dma->opaque, gpa, len, access, &gpa, NULL)) {
		*err = -EFAULT;
		return NULL;
	}
	*phys = gpa;
	p = cvmm_guest_mem_ptr(q->mem, gpa, len);
	if (!p)
		*err = -EFAULT;
	return p;
}

/*
 * Translate the rings of a queue of @size at the current memory map: host
 * pointers, and the region whose buffers pop checks inline. Indexes are
 * untouched, so a live queue can be re-translated after a map change.
 */
static int translate(struct cvmm_virtq *q, uint16_t size, bool packed)
{
	uint64_t dlen, alen, ulen;
	const struct cvmm_mem_region *r;
	int err = 0;

	uint64_t avail_phys;

	q->gen_seen = q->mem_gen ? __atomic_load_n(q->mem_gen, __ATOMIC_ACQUIRE) : 0;
	if (q->dma)
		q->dma_gen_seen = __atomic_load_n(q->dma->generation, __ATOMIC_ACQUIRE);
	cvmm_virtq_ring_bytes(size, q->features, &dlen, &alen, &ulen);
	/* The device writes used descriptors into a packed ring. */
	q->desc = ring_ptr(q, q->desc_gpa, dlen, 16,
			   packed ? CVMM_DMA_READ | CVMM_DMA_WRITE : CVMM_DMA_READ,
			   &q->desc_phys, &err);
	if (q->desc)
		q->avail = ring_ptr(q, q->avail_gpa, alen, packed ? 4 : 2, CVMM_DMA_READ,
				    &avail_phys, &err);
	if (q->avail)
		q->used = ring_ptr(q, q->used_gpa, ulen, 4, CVMM_DMA_WRITE, &q->used_phys, &err);
	if (!q->used) {
		q->desc = q->avail = NULL;
		return err;
	}
	r = cvmm_guest_mem_find(q->mem, q->desc_phys);
	q->fast_region = r;
	q->used_region = cvmm_guest_mem_find(q->mem, q->used_phys);
	if (q->dma) {
		/* Buffer addresses are IOVAs: an empty fast region sends every
		 * one through the translating slow path. */
		q->fast_gpa = q->fast_size = q->fast_end = 0;
		q->fast_host = NULL;
		return 0;
	}
	q->fast_gpa = r->gpa;
	q->fast_size = r->size;
	q->fast_end = r->gpa + r->size;
	q->fast_host = r->host;
	return 0;
}

int cvmm_virtq_remap(struct cvmm_virtq *q)
{
	int err;

	if (!q->active || q->error)
		return q->status;
	if ((!q->mem_gen || __atomic_load_n(q->mem_gen, __ATOMIC_ACQUIRE) == q->gen_seen) &&
	    (!q->dma || __atomic_load_n(q->dma->generation, __ATOMIC_ACQUIRE) == q->dma_gen_seen))
		return q->status;
	err = translate(q, q->size, q->packed);
	if (err)
		return cvmm_vq_fail(q, -EFAULT, "ring outside guest RAM after a memory map change");
	return q->status;
}

int cvmm_virtq_activate(struct cvmm_virtq *q)
{
	bool packed = (q->features & CVMM_VIRTIO_F_RING_PACKED) != 0;
	uint16_t size = q->cfg_size;
	int err;

	if (q->error)
		return q->error;
	if (size == 0 || size > q->max_size || (!packed && !CVMM_IS_POW2(size)))
		return cvmm_vq_fail(q, -EINVAL, "bad queue size");
	err = translate(q, size, packed);
	if (err)
		return cvmm_vq_fail(q, err, "ring misaligned or outside guest RAM");
	q->size = size;
	q->packed = packed;
	q->event_idx = (q->features & CVMM_VIRTIO_F_EVENT_IDX) != 0;
	q->indirect = (q->features & CVMM_VIRTIO_F_INDIRECT_DESC) != 0;
	q->next_avail = q->shadow_avail = q->next_used = 0;
	q->signalled_used = 0;
	q->used_since_signal = 0;
	q->signalled_valid = 0;
	cvmm_vq_set_avail_wrap(q, 1);
	cvmm_vq_set_used_wrap(q, 1);
	q->active = 1;
	q->status = packed ? CVMM_VQ_STATUS_PACKED : 0;
	return 0;
}

bool cvmm_virtq_active(const struct cvmm_virtq *q)
{
	return q->active;
}

bool cvmm_virtq_broken(const struct cvmm_virtq *q)
{
	return q->error != 0;
}

int cvmm_virtq_error(const struct cvmm_virtq *q)
{
	return q->error;
}

/* The pop of either layout (@status: q->status), no IOMMU step. */
static inline int pop_raw(struct cvmm_virtq *q, struct cvmm_virtq_chain *c, int status)
{
	if (CVMM_LIKELY(status == 0))
		return cvmm_vq_split_pop(q, c);
	/* A tail call: each layout's pop keeps its registers to itself. */
	if (CVMM_LIKELY(status == CVMM_VQ_STATUS_PACKED))
		return cvmm_vq_packed_pop_out(q, c);
	return status;
}

int cvmm_vq_pop_raw(struct cvmm_virtq *q, struct cvmm_virtq_chain *c, int status)
{
	return pop_raw(q, c, status);
}

int cvmm_virtq_pop(struct cvmm_virtq *q, struct cvmm_virtq_chain *c)
{
	if (CVMM_UNLIKELY(q->dma != NULL))
		return cvmm_vq_dma_pop(q, c);
	return pop_raw(q, c, q->status);
}

int cvmm_virtq_unpop(struct cvmm_virtq *q, const struct cvmm_virtq_chain *c)
{
	uint16_t after;

	if (q->error)
		return q->error;
	if (c->q != q || !q->active)
		return -EINVAL;
	if (q->packed) {
		uint32_t pos = (uint32_t)c->prev_avail + c->ring_slots;
		uint8_t wrap = c->prev_wrap;

		/* A chain popped before a reset to a smaller size would put
		 * next_avail past the ring. */
		if (c->prev_avail >= q->size || c->ring_slots == 0 || c->ring_slots > q->size)
			return -EINVAL;
		if (pos >= q->size) {
			pos -= q->size;
			wrap ^= 1;
		}
		if (pos != q->next_avail || wrap != q->avail_wrap)
			return -EINVAL;
		q->next_avail = c->prev_avail;
		cvmm_vq_set_avail_wrap(q, c->prev_wrap);
		return 0;
	}
	after = (uint16_t)(c->prev_avail + 1);
	if (after != q->next_avail)
		return -EINVAL;
	q->next_avail = c->prev_avail;
	return 0;
}

int cvmm_virtq_push(struct cvmm_virtq *q, const struct cvmm_virtq_chain *c,
		    uint32_t len)
{
	if (CVMM_UNLIKELY(c->q != q))
		return -EINVAL;
	if (CVMM_LIKELY(q->status == 0))
		return cvmm_vq_split_push(q, c->id, len);
	if (q->status == CVMM_VQ_STATUS_PACKED) {
		/* A chain popped before a reset to a smaller size: skipping its
		 * ring_slots would put next_used past the ring, and the next
		 * used descriptor would be written outside it. */
		if (CVMM_UNLIKELY((uint16_t)(c->ring_slots - 1u) >= q->size))
			return -EINVAL;
		return cvmm_vq_packed_push(q, c->id, c->ring_slots, len);
	}
	return q->status;
}

int cvmm_virtq_push_id(struct cvmm_virtq *q, uint16_t id, uint16_t ring_slots,
		       uint32_t len)
{
	if (q->error)
		return q->error;
	if (!q->active)
		return -ENODEV;
	if (ring_slots == 0 || ring_slots > q->size)
		return -EINVAL;
	if (q->packed)
		return cvmm_vq_packed_push(q, id, ring_slots, len);
	if (id >= q->size || ring_slots != 1)
		return -EINVAL;
	return cvmm_vq_split_push(q, id, len);
}

bool cvmm_virtq_needs_notification(struct cvmm_virtq *q)
{
	/* status is 0 or 1 exactly when active and not broken */
	if (CVMM_LIKELY(q->status == 0))
		return cvmm_vq_split_needs_notification(q);
	if (q->status == CVMM_VQ_STATUS_PACKED)
		return cvmm_vq_packed_needs_notification(q);
	return false;
}

int cvmm_virtq_enable_notification(struct cvmm_virtq *q)
{
	if (q->error)
		return q->error;
	if (!q->active)
		return -ENODEV;
	if (q->packed)
		return cvmm_vq_packed_enable_notification(q);
	return cvmm_vq_split_enable_notification(q);
}

void cvmm_virtq_disable_notification(struct cvmm_virtq *q)
{
	if (!q->active || q->error)
		return;
	if (q->packed)
		cvmm_vq_packed_disable_notification(q);
	else
		cvmm_vq_split_disable_notification(q);
}
