/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Walking a descriptor chain: NEXT links, indirect tables, and every rule a
 * hostile driver could break. One cursor (vq-internal.h) serves
 * chain_next(), the length walk and the reader/writer, so the checks live
 * in one place; the rare indirect switch is here, out of line.
 */
#include "vq-internal.h"

int cvmm_vq_enter_indirect(struct cvmm_virtq *q, struct cvmm_virtq_cursor *cur,
			   uint64_t addr, uint32_t len, uint16_t flags)
{
	const uint8_t *tbl;

	if (!q->indirect)
		return cvmm_vq_fail(q, -EINVAL, "indirect descriptor without VIRTIO_F_INDIRECT_DESC");
	if (cur->state & CVMM_VQ_CUR_INDIRECT)
		return cvmm_vq_fail(q, -EINVAL, "nested indirect table");
	if (flags & CVMM_VIRTQ_DESC_F_NEXT)
		return cvmm_vq_fail(q, -EINVAL, "indirect descriptor with NEXT");
	/* Packed: a list holds descriptors of one type (2.8.5). */
	if (cur->mode == CVMM_VQ_MODE_PRING && cur->table_len != 1)
		return cvmm_vq_fail(q, -EINVAL, "indirect descriptor inside a packed list");
	if (len == 0 || len % CVMM_VQ_DESC_SIZE ||
	    len / CVMM_VQ_DESC_SIZE > CVMM_VIRTQ_MAX_INDIRECT)
		return cvmm_vq_fail(q, -EINVAL, "indirect table of bad length");
	if (q->dma) {
		int e = cvmm_vq_dma_buf(q, addr, len, 0, &addr);

		if (e)
			return e;
	}
	/* The table must be contiguous in one region: it is read in place.
	 * It nearly always sits in the region holding the rings. */
	if (addr - q->fast_gpa < q->fast_size && len <= q->fast_size - (addr - q->fast_gpa))
		tbl = q->fast_host + (addr - q->fast_gpa);
	else
		tbl = cvmm_guest_mem_ptr(q->mem, addr, len);
	if (!tbl)
		return cvmm_vq_fail(q, -EFAULT, "indirect table outside guest RAM");
	cur->table = tbl;
	cur->table_len = (uint16_t)(len / CVMM_VQ_DESC_SIZE);
	cur->idx = 0;
	cur->visited = 0;
	cur->mode = cur->mode == CVMM_VQ_MODE_SPLIT ? CVMM_VQ_MODE_SPLIT : CVMM_VQ_MODE_PIND;
	cur->state |= CVMM_VQ_CUR_INDIRECT | CVMM_VQ_CUR_MORE;
	return 0;
}

int cvmm_vq_next_indirect(struct cvmm_virtq_chain *c, struct cvmm_virtq_cursor *cur,
			  struct cvmm_virtq_desc *d, uint64_t addr, uint32_t len,
			  uint16_t flags)
{
	int err = cvmm_vq_enter_indirect(c->q, cur, addr, len, flags);

	if (err)
		return err;
	/* enter_indirect refuses a nested table, so this recursion is one deep */
	return cvmm_vq_cursor_next(c, cur, d);
}

int cvmm_vq_next_slow_range(struct cvmm_virtq *q, struct cvmm_virtq_desc *d,
			    uint64_t addr, uint32_t len, uint16_t flags)
{
	/* Zero-length descriptors carry no address to check. */
	if (len && q->dma) {
		const struct cvmm_mem_region *r = q->fast_region;
		int e = cvmm_vq_dma_buf(q, addr, len, flags, &addr);

		if (e)
			return e;
		/* Behind an IOMMU the inline region test is off (addresses
		 * are IOVAs); the translated address nearly always lands in
		 * the ring's region: test that before searching them all. */
		if (addr - r->gpa < r->size && len <= r->size - (addr - r->gpa))
			goto ok;
	}
	if (len && !cvmm_vq_range_ok(q, addr, len))
		return cvmm_vq_fail(q, -EFAULT, "buffer outside guest RAM");
ok:
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	return 1;
}

/* The packed modes, out of line so that the split walk below keeps its
 * registers to itself. */
static __attribute__((noinline)) int next_packed(struct cvmm_virtq_chain *c,
						 struct cvmm_virtq_desc *d)
{
	return cvmm_vq_cursor_next(c, &c->cur, d);
}

int cvmm_virtq_chain_next_slow(struct cvmm_virtq_chain *c, struct cvmm_virtq_desc *d)
{
	if (CVMM_UNLIKELY(c->cur.mode != CVMM_VQ_MODE_SPLIT))
		return next_packed(c, d);
	return cvmm_vq_cursor_next(c, &c->cur, d);
}

void cvmm_virtq_chain_rewind(struct cvmm_virtq_chain *c)
{
	cvmm_vq_chain_start(c, &c->cur);
}

int cvmm_virtq_chain_lengths(struct cvmm_virtq_chain *c, uint64_t *readable,
			     uint64_t *writable)
{
	struct cvmm_virtq_cursor cur;
	struct cvmm_virtq_desc d = { 0 };
	uint64_t r = 0, w = 0;
	int ret;

	cvmm_vq_chain_start(c, &cur);
	while ((ret = cvmm_vq_cursor_next(c, &cur, &d)) > 0) {
		if (d.flags & CVMM_VIRTQ_DESC_F_WRITE)
			w += d.len;
		else
			r += d.len;
	}
	if (ret < 0)
		return ret;
	if (readable)
		*readable = r;
	if (writable)
		*writable = w;
	return 0;
}
