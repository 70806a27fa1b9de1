/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The writer: sections appended into a growable buffer, or streamed front to
 * back to an fd that may be a pipe or a socket (never seeks, so migration
 * can send the stream as it is made).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

struct cvmm_snap_writer {
	int fd;           /* -1: memory */
	int err;          /* sticky after a failed write(): the stream is broken */
	bool finished;
	bool in_section;
	uint8_t *buf;     /* memory: the stream; fd: the open section's payload */
	size_t len, cap;
	uint64_t written; /* fd: bytes written */
	uint32_t count;
	uint32_t headers_crc;
	/* The section between begin and end. */
	char cur_id[CVMM_SNAP_ID_SIZE];
	uint32_t cur_version;
	size_t cur_hdr;   /* memory: offset of its header */
	uint64_t cur_len;
	uint32_t cur_crc;
	/* Ids written so far, sorted, so a duplicate is refused at write time. */
	char (*ids)[CVMM_SNAP_ID_SIZE];
	size_t nids, ids_cap;
};

static const uint8_t zeros[CVMM_SNAP_ALIGN];

static int buf_reserve(struct cvmm_snap_writer *w, size_t more)
{
	size_t need, cap;
	uint8_t *p;

	if (cvmm_add_overflow(w->len, more, &need))
		return -EOVERFLOW;
	if (need <= w->cap)
		return 0;
	cap = w->cap ? w->cap : 4096;
	while (cap < need)
		if (cvmm_mul_overflow(cap, (size_t)2, &cap))
			return -EOVERFLOW;
	p = realloc(w->buf, cap);
	if (!p)
		return -ENOMEM;
	w->buf = p;
	w->cap = cap;
	return 0;
}

static int buf_put(struct cvmm_snap_writer *w, const void *p, size_t n)
{
	int r = buf_reserve(w, n);

	if (r < 0)
		return r;
	if (n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
	return 0;
}

static int fd_put(struct cvmm_snap_writer *w, const void *p, size_t n)
{
	int r = cvmm_write_full(w->fd, p, n);

	if (r < 0) {
		w->err = r;
		return r;
	}
	w->written += n;
	return 0;
}

/* Binary search in the sorted id list: index of @id or where it would go. */
static size_t ids_find(const struct cvmm_snap_writer *w, const char *id, bool *found)
{
	size_t lo = 0, hi = w->nids;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(w->ids[mid], id);

		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Refuse what the reader would refuse: bad ids, duplicates, a broken or finished writer. */
static int section_admit(struct cvmm_snap_writer *w, const char *id)
{
	bool found;
	int r;

	if (w->err)
		return w->err;
	if (w->finished || w->in_section)
		return -EBUSY;
	r = cvmm_snap_id_check(id);
	if (r < 0)
		return r;
	ids_find(w, id, &found);
	if (found)
		return -EEXIST;
	if (w->count == CVMM_SNAP_COUNT_STREAMED - 1)
		return -EOVERFLOW;
	if (w->nids == w->ids_cap) {
		size_t cap = w->ids_cap ? w->ids_cap * 2 : 64;
		void *p = reallocarray(w->ids, cap, sizeof(*w->ids));

		if (!p)
			return -ENOMEM;
		w->ids = p;
		w->ids_cap = cap;
	}
	return 0;
}

/* The section is out: remember its id and fold its header into the end CRC. */
static void section_done(struct cvmm_snap_writer *w, const char *id, const uint8_t *hdr)
{
	bool found;
	size_t at = ids_find(w, id, &found);

	memmove(w->ids + at + 1, w->ids + at, (w->nids - at) * sizeof(*w->ids));
	memset(w->ids[at], 0, sizeof(w->ids[at]));
	memcpy(w->ids[at], id, strlen(id));
	w->nids++;
	w->count++;
	w->headers_crc = cvmm_snap_crc32c(w->headers_crc, hdr, SNAP_S_CRC);
}

static size_t pad_of(uint64_t len)
{
	return (size_t)((CVMM_SNAP_ALIGN - (len % CVMM_SNAP_ALIGN)) % CVMM_SNAP_ALIGN);
}

int cvmm_snap_writer_create(const struct cvmm_snap_writer_opts *o, struct cvmm_snap_writer **out)
{
	struct cvmm_snap_writer *w;
	uint8_t h[CVMM_SNAP_HEADER_SIZE] = { 0 };
	int fd = -1, r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (o) {
		if (o->sz < offsetof(struct cvmm_snap_writer_opts, fd) + sizeof(o->fd))
			return -EINVAL;
		fd = o->fd;
		if (fd < -1)
			return -EINVAL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = fd;
	memcpy(h + SNAP_H_MAGIC, CVMM_SNAP_MAGIC, 8);
	snap_put32(h + SNAP_H_VERSION, CVMM_SNAP_FORMAT_VERSION);
	snap_put32(h + SNAP_H_FLAGS, 0);
	snap_put32(h + SNAP_H_COUNT, CVMM_SNAP_COUNT_STREAMED);
	snap_put32(h + SNAP_H_CRC, cvmm_snap_crc32c(0, h, SNAP_H_CRC));
	r = fd < 0 ? buf_put(w, h, sizeof(h)) : fd_put(w, h, sizeof(h));
	if (r < 0) {
		cvmm_snap_writer_destroy(w);
		return r;
	}
	*out = w;
	return 0;
}

void cvmm_snap_writer_destroy(struct cvmm_snap_writer *w)
{
	if (!w)
		return;
	free(w->buf);
	free(w->ids);
	free(w);
}

/* Header, payload, padding: in one go for memory, three writes for an fd. */
static int emit(struct cvmm_snap_writer *w, const char *id, uint32_t version, const void *data,
		uint64_t len, uint32_t crc)
{
	uint8_t hdr[CVMM_SNAP_SECTION_HEADER_SIZE];
	size_t pad = pad_of(len);
	int r;

	cvmm_snap_section_header_fill(hdr, id, version, len, crc);
	if (w->fd < 0) {
		size_t total;

		if (len > SIZE_MAX || cvmm_add_overflow(sizeof(hdr), (size_t)len, &total) ||
		    cvmm_add_overflow(total, pad, &total))
			return -EOVERFLOW;
		r = buf_reserve(w, total);
		if (r < 0)
			return r;
		buf_put(w, hdr, sizeof(hdr));
		buf_put(w, data, (size_t)len);
		buf_put(w, zeros, pad);
	} else {
		r = fd_put(w, hdr, sizeof(hdr));
		if (!r && len)
			r = fd_put(w, data, (size_t)len);
		if (!r && pad)
			r = fd_put(w, zeros, pad);
		if (r < 0)
			return r;
	}
	section_done(w, id, hdr);
	return 0;
}

int cvmm_snap_write(struct cvmm_snap_writer *w, const char *id, uint32_t version,
		    const void *data, uint64_t len)
{
	int r;

	if (!w || (!data && len))
		return -EINVAL;
	r = section_admit(w, id);
	if (r < 0)
		return r;
	if (len > SIZE_MAX)
		return -EOVERFLOW;
	return emit(w, id, version, data, len, cvmm_snap_crc32c(0, data, (size_t)len));
}

int cvmm_snap_write_begin(struct cvmm_snap_writer *w, const char *id, uint32_t version)
{
	int r;

	if (!w)
		return -EINVAL;
	r = section_admit(w, id);
	if (r < 0)
		return r;
	if (w->fd < 0) {
		/* Room for the header now; it is filled in at end. */
		r = buf_reserve(w, CVMM_SNAP_SECTION_HEADER_SIZE);
		if (r < 0)
			return r;
		w->cur_hdr = w->len;
		memset(w->buf + w->len, 0, CVMM_SNAP_SECTION_HEADER_SIZE);
		w->len += CVMM_SNAP_SECTION_HEADER_SIZE;
	} else {
		w->len = 0; /* the scratch payload */
	}
	memset(w->cur_id, 0, sizeof(w->cur_id));
	memcpy(w->cur_id, id, strlen(id));
	w->cur_version = version;
	w->cur_len = 0;
	w->cur_crc = 0;
	w->in_section = true;
	return 0;
}

int cvmm_snap_write_append(struct cvmm_snap_writer *w, const void *data, size_t len)
{
	int r;

	if (!w || (!data && len))
		return -EINVAL;
	if (w->err)
		return w->err;
	if (!w->in_section)
		return -EBUSY;
	r = buf_put(w, data, len);
	if (r < 0) {
		/* The section has lost bytes: no end may seal it. */
		w->err = r;
		return r;
	}
	w->cur_len += len;
	w->cur_crc = cvmm_snap_crc32c(w->cur_crc, data, len);
	return 0;
}

int cvmm_snap_write_end(struct cvmm_snap_writer *w)
{
	int r;

	if (!w)
		return -EINVAL;
	if (w->err)
		return w->err;
	if (!w->in_section)
		return -EBUSY;
	w->in_section = false;
	if (w->fd >= 0) {
		r = emit(w, w->cur_id, w->cur_version, w->buf, w->cur_len, w->cur_crc);
		w->len = 0;
		return r;
	}
	size_t pad = pad_of(w->cur_len);

	r = buf_put(w, zeros, pad);
	if (r < 0) {
		/* Drop the half-made section so the buffer stays a valid prefix. */
		w->len = w->cur_hdr;
		return r;
	}
	cvmm_snap_section_header_fill(w->buf + w->cur_hdr, w->cur_id, w->cur_version, w->cur_len,
				      w->cur_crc);
	section_done(w, w->cur_id, w->buf + w->cur_hdr);
	return 0;
}

int cvmm_snap_writer_finish(struct cvmm_snap_writer *w)
{
	uint8_t e[CVMM_SNAP_END_SIZE] = { 0 };
	int r;

	if (!w)
		return -EINVAL;
	if (w->err)
		return w->err;
	if (w->finished || w->in_section)
		return -EBUSY;
	if (!w->count)
		return -ENODATA;
	memcpy(e + SNAP_E_MAGIC, CVMM_SNAP_END_MAGIC, 8);
	snap_put32(e + SNAP_E_COUNT, w->count);
	snap_put32(e + SNAP_E_HEADERS_CRC, w->headers_crc);
	snap_put32(e + SNAP_E_CRC, cvmm_snap_crc32c(0, e, SNAP_E_CRC));
	if (w->fd >= 0) {
		r = fd_put(w, e, sizeof(e));
		if (r < 0)
			return r;
	} else {
		r = buf_put(w, e, sizeof(e));
		if (r < 0)
			return r;
		/* In memory the count is known by now: the header carries it too. */
		snap_put32(w->buf + SNAP_H_COUNT, w->count);
		snap_put32(w->buf + SNAP_H_CRC, cvmm_snap_crc32c(0, w->buf, SNAP_H_CRC));
	}
	w->finished = true;
	return 0;
}

int cvmm_snap_writer_buffer(const struct cvmm_snap_writer *w, const void **ptr, size_t *len)
{
	if (!w || !ptr || !len || w->fd >= 0)
		return -EINVAL;
	if (!w->finished)
		return -EBUSY;
	*ptr = w->buf;
	*len = w->len;
	return 0;
}

uint64_t cvmm_snap_writer_bytes(const struct cvmm_snap_writer *w)
{
	if (!w)
		return 0;
	return w->fd >= 0 ? w->written : w->len;
}
