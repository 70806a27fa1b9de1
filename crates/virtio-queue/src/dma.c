/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A queue behind an IOMMU (cvmm_virtq_set_dma): every buffer address is an
 * IOVA. The chain walk translates each descriptor (chain.c calls
 * cvmm_vq_dma_buf); pop walks a chain once before handing it out, so a
 * buffer the guest did not map refuses that chain (it walks as empty and
 * the device completes it with length 0) instead of breaking the queue,
 * and no device model needs to know about the IOMMU.
 */
#include "vq-internal.h"

int cvmm_vq_dma_buf(struct cvmm_virtq *q, uint64_t iova, uint32_t len, uint16_t flags,
		    uint64_t *gpa)
{
	unsigned int access = (flags & CVMM_VIRTQ_DESC_F_WRITE) ? CVMM_DMA_WRITE : CVMM_DMA_READ;
	/* Read before translating: a change after this read moves it, so a
	 * window cached now is dropped at the next look. */
	uint64_t gen = __atomic_load_n(q->dma->generation, __ATOMIC_ACQUIRE);
	const struct cvmm_dma_span *t = &q->dma_tlb;
	struct cvmm_dma_span span;
	int e;

	/* Buffers of one request (and of the next) nearly always sit in the
	 * window translated last: no lock, no search. */
	if (gen == q->dma_tlb_gen && (t->perm & access) == access && iova >= t->iova &&
	    iova <= t->last && (uint64_t)len - 1 <= t->last - iova) {
		*gpa = t->gpa + (iova - t->iova);
		return 0;
	}
	e = q->dma->translate(q->dma->opaque, iova, len, access, gpa, &span);
	if (e)
		/* Not a broken queue: the chain is refused (pop) or, when a
		 * mapping went away under a request in flight, it fails. */
		return -EFAULT;
	q->dma_tlb = span;
	q->dma_tlb_gen = gen;
	return 0;
}

/* Walk every descriptor of @c (translating each); the queue's state is
 * untouched unless the ring content itself is malformed. */
static int check_chain(struct cvmm_virtq_chain *c)
{
	struct cvmm_virtq_cursor cur;
	struct cvmm_virtq_desc d;
	int r;

	cvmm_vq_chain_start(c, &cur);
	while ((r = cvmm_vq_cursor_next(c, &cur, &d)) > 0)
		;
	return r;
}

int cvmm_vq_dma_pop(struct cvmm_virtq *q, struct cvmm_virtq_chain *c)
{
	int r;

	/* An unmap or detach may have withdrawn a ring: translate again. */
	if (q->status >= 0 &&
	    __atomic_load_n(q->dma->generation, __ATOMIC_ACQUIRE) != q->dma_gen_seen) {
		r = cvmm_virtq_remap(q);
		if (r < 0)
			return r;
	}
	r = cvmm_vq_pop_raw(q, c, q->status);
	if (r <= 0)
		return r;
	c->refused = 0;
	r = check_chain(c);
	if (r >= 0)
		return 1;
	if (q->error)
		return q->error;
	/* A buffer outside what the guest mapped for this device. */
	c->refused = 1;
	c->cur.state = 0;
	q->dma_faults++;
	if ((q->dma_faults & (q->dma_faults - 1)) == 0)
		CVMM_LOG(CVMM_LOG_WARN, "virtio-queue",
			 "request %u refused: a buffer is not mapped for the device in its IOMMU "
			 "domain (%llu so far)", c->id, (unsigned long long)q->dma_faults);
	return 1;
}
