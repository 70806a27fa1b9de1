/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reader/writer: a byte stream over the readable or writable part of a
 * chain, with copies, scatter-gather iovecs for preadv/writev, and dirty
 * marking of what the device wrote.
 */
#include "vq-internal.h"

#include <limits.h>

enum rw_op {
	RW_READ,   /* guest -> buf */
	RW_WRITE,  /* buf -> guest, mark dirty */
	RW_IOV,    /* describe spans */
	RW_SKIP,   /* consume; a writer marks dirty */
};

static int rw_init(struct cvmm_virtq_rw *rw, struct cvmm_virtq_chain *c, bool writer)
{
	uint64_t r, w;
	int ret = cvmm_virtq_chain_lengths(c, &r, &w);

	memset(rw, 0, sizeof(*rw));
	if (ret)
		return ret;
	rw->c = c;
	cvmm_vq_chain_start(c, &rw->cur);
	rw->writer = writer;
	rw->total = writer ? w : r;
	return 0;
}

int cvmm_virtq_reader_init(struct cvmm_virtq_rw *rw, struct cvmm_virtq_chain *c)
{
	return rw_init(rw, c, false);
}

int cvmm_virtq_writer_init(struct cvmm_virtq_rw *rw, struct cvmm_virtq_chain *c)
{
	return rw_init(rw, c, true);
}

uint64_t cvmm_virtq_rw_remaining(const struct cvmm_virtq_rw *rw)
{
	return rw->done >= rw->total ? 0 : rw->total - rw->done;
}

uint64_t cvmm_virtq_rw_done(const struct cvmm_virtq_rw *rw)
{
	return rw->done;
}

/* Load the next non-empty descriptor of our part: 1, 0 at the end, <0. */
static int rw_fill(struct cvmm_virtq_rw *rw)
{
	struct cvmm_virtq_desc d = { 0 };
	int ret;

	while (rw->left == 0) {
		if (rw->ended)
			return 0;
		ret = cvmm_vq_cursor_next(rw->c, &rw->cur, &d);
		if (ret < 0)
			return ret;
		if (ret == 0) {
			rw->ended = 1;
			return 0;
		}
		if (d.flags & CVMM_VIRTQ_DESC_F_WRITE) {
			if (!rw->writer) {
				/* writable descriptors only follow: the readable part is over */
				rw->ended = 1;
				return 0;
			}
		} else if (rw->writer) {
			continue;
		}
		rw->gpa = d.addr;
		rw->left = d.len;
	}
	return 1;
}

/* Host span at rw->gpa, at most rw->left bytes, within one region. */
static uint8_t *rw_span(struct cvmm_virtq_rw *rw, uint64_t *n)
{
	struct cvmm_virtq *q = rw->c->q;
	uint64_t off = rw->gpa - q->fast_gpa;
	uint8_t *p;

	if (rw->gpa >= q->fast_gpa && off < q->fast_size) {
		*n = CVMM_MIN((uint64_t)rw->left, q->fast_size - off);
		return q->fast_host + off;
	}
	*n = rw->left;
	p = cvmm_guest_mem_translate(q->mem, rw->gpa, n);
	if (!p)
		cvmm_vq_fail(q, -EFAULT, "buffer outside guest RAM");
	return p;
}

/* Dirty marking of device writes; the descriptor region's flag is cheap to test. */
static void rw_dirty(struct cvmm_virtq *q, uint64_t gpa, uint64_t n)
{
	if (gpa >= q->fast_gpa && gpa - q->fast_gpa < q->fast_size)
		cvmm_vq_mark_dirty(q, q->fast_region, gpa, n);
	else
		cvmm_guest_mem_mark_dirty(q->mem, gpa, n);
}

static ssize_t rw_walk(struct cvmm_virtq_rw *rw, enum rw_op op, uint8_t *buf,
		       size_t len, struct iovec *iov, unsigned int max_iov, int *niov)
{
	struct cvmm_virtq *q = rw->c->q;
	size_t done = 0;
	int ret;

	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	while (done < len) {
		uint64_t n;
		uint8_t *p;

		ret = rw_fill(rw);
		if (ret < 0)
			return ret;
		if (ret == 0)
			break;
		if (op == RW_IOV && (unsigned int)*niov == max_iov)
			break;
		p = rw_span(rw, &n);
		if (!p)
			return q->error;
		n = CVMM_MIN(n, (uint64_t)(len - done));
		switch (op) {
		case RW_READ:
			memcpy(buf + done, p, n);
			break;
		case RW_WRITE:
			memcpy(p, buf + done, n);
			rw_dirty(q, rw->gpa, n);
			break;
		case RW_IOV:
			iov[*niov].iov_base = p;
			iov[*niov].iov_len = n;
			(*niov)++;
			break;
		case RW_SKIP:
			if (rw->writer)
				rw_dirty(q, rw->gpa, n);
			break;
		}
		rw->gpa += n;
		rw->left -= (uint32_t)n;
		rw->done += n;
		done += n;
	}
	return (ssize_t)done;
}

ssize_t cvmm_virtq_reader_read(struct cvmm_virtq_rw *rw, void *buf, size_t len)
{
	if (rw->writer)
		return -EBADF;
	return rw_walk(rw, RW_READ, buf, len, NULL, 0, NULL);
}

ssize_t cvmm_virtq_writer_write(struct cvmm_virtq_rw *rw, const void *buf, size_t len)
{
	if (!rw->writer)
		return -EBADF;
	return rw_walk(rw, RW_WRITE, (uint8_t *)(uintptr_t)buf, len, NULL, 0, NULL);
}

int cvmm_virtq_rw_iovec(const struct cvmm_virtq_rw *rw, size_t max_bytes,
			struct iovec *iov, unsigned int max_iov)
{
	struct cvmm_virtq_rw tmp = *rw;
	int niov = 0;
	ssize_t ret;

	if (max_iov > INT_MAX)
		max_iov = INT_MAX;
	ret = rw_walk(&tmp, RW_IOV, NULL, max_bytes, iov, max_iov, &niov);
	if (ret < 0)
		return (int)ret;
	return niov;
}

ssize_t cvmm_virtq_rw_advance(struct cvmm_virtq_rw *rw, size_t len)
{
	return rw_walk(rw, RW_SKIP, NULL, len, NULL, 0, NULL);
}
