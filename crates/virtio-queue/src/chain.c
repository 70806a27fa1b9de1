/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Walking a descriptor chain: NEXT links, indirect tables, and every rule a
 * hostile driver could break. One cursor type serves chain_next(), the
 * length walk and the reader/writer, so the checks live in one place.
 */
#include "vq-internal.h"

/* Switch @cur into the indirect table described by @rd. */
static int enter_indirect(struct cvmm_virtq *q, struct cvmm_virtq_cursor *cur,
			  const struct cvmm_virtq_raw_desc *rd, uint16_t flags)
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
	if (rd->len == 0 || rd->len % CVMM_VQ_DESC_SIZE ||
	    rd->len / CVMM_VQ_DESC_SIZE > CVMM_VIRTQ_MAX_INDIRECT)
		return cvmm_vq_fail(q, -EINVAL, "indirect table of bad length");
	tbl = cvmm_guest_mem_ptr(q->mem, rd->addr, rd->len);
	if (!tbl)
		return cvmm_vq_fail(q, -EFAULT, "indirect table outside guest RAM");
	cur->table = tbl;
	cur->table_len = rd->len / CVMM_VQ_DESC_SIZE;
	cur->idx = 0;
	cur->visited = 0;
	cur->mode = cur->mode == CVMM_VQ_MODE_SPLIT ? CVMM_VQ_MODE_SPLIT : CVMM_VQ_MODE_PIND;
	cur->state |= CVMM_VQ_CUR_INDIRECT | CVMM_VQ_CUR_MORE;
	return 0;
}

int cvmm_vq_cursor_next(struct cvmm_virtq_chain *c, struct cvmm_virtq_cursor *cur,
			struct cvmm_virtq_desc *d)
{
	struct cvmm_virtq *q = c->q;
	struct cvmm_virtq_raw_desc rd;
	uint16_t flags;
	int err;

	if (CVMM_UNLIKELY(q->error))
		return q->error;
	for (;;) {
		if (!(cur->state & CVMM_VQ_CUR_MORE))
			return 0;
		/* A chain cannot visit more descriptors than its table holds
		 * without going round in a loop. */
		if (CVMM_UNLIKELY(cur->visited >= cur->table_len))
			return cvmm_vq_fail(q, -ELOOP, "descriptor loop or chain longer than the queue");
		cur->visited++;
		switch (cur->mode) {
		case CVMM_VQ_MODE_SPLIT:
			/* One copy, then only the copy is checked and used. */
			memcpy(&rd, cur->table + (size_t)CVMM_VQ_DESC_SIZE * cur->idx, sizeof(rd));
			flags = rd.a;
			if (flags & CVMM_VIRTQ_DESC_F_NEXT) {
				if (CVMM_UNLIKELY(rd.b >= cur->table_len))
					return cvmm_vq_fail(q, -EINVAL, "next descriptor index out of range");
				cur->idx = rd.b;
			} else {
				cur->state &= ~CVMM_VQ_CUR_MORE;
			}
			break;
		case CVMM_VQ_MODE_PRING:
			rd = c->ring[cur->idx];
			flags = rd.b;
			if (++cur->idx == cur->table_len)
				cur->state &= ~CVMM_VQ_CUR_MORE;
			break;
		default: /* CVMM_VQ_MODE_PIND: only WRITE is meaningful (2.8.8) */
			memcpy(&rd, cur->table + (size_t)CVMM_VQ_DESC_SIZE * cur->idx, sizeof(rd));
			flags = rd.b & CVMM_VIRTQ_DESC_F_WRITE;
			if (++cur->idx == cur->table_len)
				cur->state &= ~CVMM_VQ_CUR_MORE;
			break;
		}
		if (CVMM_UNLIKELY(flags & CVMM_VIRTQ_DESC_F_INDIRECT)) {
			err = enter_indirect(q, cur, &rd, flags);
			if (err)
				return err;
			continue;
		}
		if (flags & CVMM_VIRTQ_DESC_F_WRITE) {
			cur->state |= CVMM_VQ_CUR_WRITE;
		} else if (CVMM_UNLIKELY(cur->state & CVMM_VQ_CUR_WRITE)) {
			return cvmm_vq_fail(q, -EINVAL, "readable descriptor after a writable one");
		}
		if (CVMM_UNLIKELY(rd.len && !cvmm_vq_range_ok(q, rd.addr, rd.len)))
			return cvmm_vq_fail(q, -EFAULT, "buffer outside guest RAM");
		d->addr = rd.addr;
		d->len = rd.len;
		d->flags = flags & CVMM_VIRTQ_DESC_F_WRITE;
		d->rsvd = 0;
		return 1;
	}
}

int cvmm_virtq_chain_next(struct cvmm_virtq_chain *c, struct cvmm_virtq_desc *d)
{
	return cvmm_vq_cursor_next(c, &c->cur, d);
}

void cvmm_virtq_chain_rewind(struct cvmm_virtq_chain *c)
{
	c->cur = c->start;
}

int cvmm_virtq_chain_lengths(struct cvmm_virtq_chain *c, uint64_t *readable,
			     uint64_t *writable)
{
	struct cvmm_virtq_cursor cur = c->start;
	struct cvmm_virtq_desc d;
	uint64_t r = 0, w = 0;
	int ret;

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
