/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reader: the whole stream is validated and indexed at open, so restore
 * code only ever sees sections of a stream that is whole. The stream is
 * hostile: every length is checked against the bytes left before it is
 * used, every sum for overflow, and every refusal names its section and field.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct snap_sec {
	char id[CVMM_SNAP_ID_SIZE];
	uint32_t version;
	uint64_t len;
	const uint8_t *data;
	uint8_t claimed; /* set with __atomic stores: lookups may run on several threads */
};

struct cvmm_snap_reader {
	size_t n;
	struct snap_sec *secs;
	uint32_t *sorted; /* indexes into secs, ordered by id */
};

static int CVMM_PRINTF(5, 6) refuse(struct cvmm_snap_error *err, int ret, const char *section,
				    const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return ret;
	snprintf(err->section, sizeof(err->section), "%s", section ? section : "");
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return ret;
}

/* The id field of a section header: 0, or the error for field "id". */
static int id_validate(const uint8_t *f, char *msg, size_t msize)
{
	const uint8_t *nul = memchr(f, 0, CVMM_SNAP_ID_SIZE);
	size_t n;

	if (!nul) {
		snprintf(msg, msize, "no NUL in its %d bytes: longer than %d characters",
			 CVMM_SNAP_ID_SIZE, CVMM_SNAP_ID_SIZE - 1);
		return -ENAMETOOLONG;
	}
	n = (size_t)(nul - f);
	if (!n) {
		snprintf(msg, msize, "empty id");
		return -EBADMSG;
	}
	for (size_t i = 0; i < n; i++)
		if (!snap_id_char_ok(f[i])) {
			snprintf(msg, msize, "byte %zu is %#04x, not an id character", i, f[i]);
			return -EBADMSG;
		}
	for (size_t i = n + 1; i < CVMM_SNAP_ID_SIZE; i++)
		if (f[i]) {
			snprintf(msg, msize, "not NUL-padded: byte %zu after the NUL at %zu is %#04x",
				 i, n, f[i]);
			return -EBADMSG;
		}
	return 0;
}

/* The last section's id, for messages about what follows it. */
static const char *after(const struct cvmm_snap_reader *r)
{
	return r->n ? r->secs[r->n - 1].id : "(none: the first section)";
}

static struct snap_sec *secs_next(struct cvmm_snap_reader *r, size_t *cap)
{
	if (r->n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		void *p = reallocarray(r->secs, c, sizeof(*r->secs));

		if (!p)
			return NULL;
		r->secs = p;
		*cap = c;
	}
	return &r->secs[r->n];
}

/* qsort has no context argument in C: sort (id pointer, index) pairs instead. */
struct id_ref {
	const char *id;
	uint32_t index;
};

static int id_ref_cmp(const void *a, const void *b)
{
	const struct id_ref *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int index_build(struct cvmm_snap_reader *r, struct cvmm_snap_error *err)
{
	struct id_ref *refs = calloc(r->n, sizeof(*refs));
	int ret = 0;

	r->sorted = calloc(r->n, sizeof(*r->sorted));
	if (!refs || !r->sorted) {
		free(refs);
		return refuse(err, -ENOMEM, NULL, NULL, "out of memory indexing %zu sections", r->n);
	}
	for (size_t i = 0; i < r->n; i++)
		refs[i] = (struct id_ref){ r->secs[i].id, (uint32_t)i };
	qsort(refs, r->n, sizeof(*refs), id_ref_cmp);
	for (size_t i = 0; i < r->n; i++) {
		if (i && !strcmp(refs[i - 1].id, refs[i].id)) {
			ret = refuse(err, -EEXIST, refs[i].id, "id",
				     "appears twice (sections %" PRIu32 " and %" PRIu32 ")",
				     refs[i - 1].index, refs[i].index);
			break;
		}
		r->sorted[i] = refs[i].index;
	}
	free(refs);
	return ret;
}

static int end_check(struct cvmm_snap_reader *r, const uint8_t *p, size_t left, uint32_t hcount,
		     uint32_t headers_crc, struct cvmm_snap_error *err)
{
	uint32_t v;

	if (left < CVMM_SNAP_END_SIZE)
		return refuse(err, -ENODATA, NULL, "end",
			      "stream ends %zu bytes into the %d-byte end marker", left,
			      CVMM_SNAP_END_SIZE);
	if (memcmp(p + SNAP_E_MAGIC, CVMM_SNAP_END_MAGIC, 8))
		return refuse(err, -EBADMSG, NULL, "end.magic",
			      "neither a section nor the end marker after section '%s'", after(r));
	v = cvmm_snap_crc32c(0, p, SNAP_E_CRC);
	if (v != snap_get32(p + SNAP_E_CRC))
		return refuse(err, -EBADMSG, NULL, "end.crc", "CRC %#010" PRIx32 ", computed %#010" PRIx32,
			      snap_get32(p + SNAP_E_CRC), v);
	if (snap_get32(p + SNAP_E_RESERVED))
		return refuse(err, -EBADMSG, NULL, "end.reserved", "%#" PRIx32 ", expected 0",
			      snap_get32(p + SNAP_E_RESERVED));
	v = snap_get32(p + SNAP_E_COUNT);
	if (v != r->n)
		return refuse(err, -EBADMSG, NULL, "end.count",
			      "%" PRIu32 " sections, but the stream has %zu", v, r->n);
	if (snap_get32(p + SNAP_E_HEADERS_CRC) != headers_crc)
		return refuse(err, -EBADMSG, NULL, "end.headers_crc",
			      "CRC %#010" PRIx32 ", computed %#010" PRIx32
			      " over the section headers (a section was removed, added or moved)",
			      snap_get32(p + SNAP_E_HEADERS_CRC), headers_crc);
	if (hcount != CVMM_SNAP_COUNT_STREAMED && hcount != r->n)
		return refuse(err, -EBADMSG, NULL, "header.count",
			      "%" PRIu32 " sections, but the stream has %zu", hcount, r->n);
	if (!r->n)
		return refuse(err, -ENODATA, NULL, "end", "the stream has no sections");
	if (left > CVMM_SNAP_END_SIZE)
		return refuse(err, -EBADMSG, NULL, "end", "%zu bytes follow the end marker",
			      left - CVMM_SNAP_END_SIZE);
	return 0;
}

/* One section at @p with @left bytes from it to the end of the stream. */
static int section_parse(struct cvmm_snap_reader *r, struct snap_sec *s, const uint8_t *p,
			 size_t left, size_t off, size_t *used, struct cvmm_snap_error *err)
{
	char msg[120];
	uint64_t len, total;
	uint32_t crc;
	size_t pad;
	int ret;

	if (left < CVMM_SNAP_SECTION_HEADER_SIZE)
		return refuse(err, -ENODATA, NULL, "section",
			      "stream ends %zu bytes into the header of section %zu (after '%s')",
			      left, r->n, after(r));
	ret = id_validate(p + SNAP_S_ID, msg, sizeof(msg));
	crc = cvmm_snap_crc32c(0, p, SNAP_S_CRC);
	if (crc != snap_get32(p + SNAP_S_CRC))
		/* The id is unverified: quote it only when it is a well-formed one. */
		return refuse(err, -EBADMSG, ret ? NULL : (const char *)p + SNAP_S_ID, "header_crc",
			      "section %zu at byte %zu: CRC %#010" PRIx32 ", computed %#010" PRIx32,
			      r->n, off, snap_get32(p + SNAP_S_CRC), crc);
	if (ret)
		return refuse(err, ret, NULL, "id", "section %zu at byte %zu: %s", r->n, off, msg);
	memcpy(s->id, p + SNAP_S_ID, CVMM_SNAP_ID_SIZE);
	if (snap_get32(p + SNAP_S_RESERVED))
		return refuse(err, -EBADMSG, s->id, "reserved", "%#" PRIx32 ", expected 0",
			      snap_get32(p + SNAP_S_RESERVED));
	len = snap_get64(p + SNAP_S_LENGTH);
	pad = (size_t)((CVMM_SNAP_ALIGN - (len % CVMM_SNAP_ALIGN)) % CVMM_SNAP_ALIGN);
	if (cvmm_add_overflow(len, (uint64_t)pad, &total) ||
	    cvmm_add_overflow(total, (uint64_t)CVMM_SNAP_SECTION_HEADER_SIZE, &total) ||
	    cvmm_add_overflow(total, (uint64_t)off, &total))
		return refuse(err, -EOVERFLOW, s->id, "length",
			      "length %" PRIu64 " overflows the stream offset", len);
	if (total - off > left)
		return refuse(err, -ENODATA, s->id, "length",
			      "length %" PRIu64 ", but the stream has %zu bytes left", len,
			      left - CVMM_SNAP_SECTION_HEADER_SIZE);
	s->version = snap_get32(p + SNAP_S_VERSION);
	s->len = len;
	s->data = p + CVMM_SNAP_SECTION_HEADER_SIZE;
	s->claimed = 0;
	crc = cvmm_snap_crc32c(0, s->data, (size_t)len);
	if (crc != snap_get32(p + SNAP_S_DATA_CRC))
		return refuse(err, -EBADMSG, s->id, "payload_crc",
			      "CRC %#010" PRIx32 ", computed %#010" PRIx32 " over %" PRIu64 " bytes",
			      snap_get32(p + SNAP_S_DATA_CRC), crc, len);
	for (size_t i = 0; i < pad; i++)
		if (s->data[len + i])
			return refuse(err, -EBADMSG, s->id, "padding",
				      "padding byte %zu is %#04x, expected 0", i, s->data[len + i]);
	*used = (size_t)(total - off);
	return 0;
}

int cvmm_snap_reader_open(const void *buf, size_t len, struct cvmm_snap_reader **out,
			  struct cvmm_snap_error *err)
{
	const uint8_t *b = buf;
	struct cvmm_snap_reader *r;
	uint32_t v, hcount, headers_crc = 0;
	size_t off, cap = 0;
	int ret;

	if (out)
		*out = NULL;
	if (!out || (!buf && len))
		return refuse(err, -EINVAL, NULL, NULL, "no stream or no place for the reader");
	if (len && memcmp(b, CVMM_SNAP_MAGIC, CVMM_MIN(len, (size_t)8)))
		return refuse(err, -EBADMSG, NULL, "header.magic",
			      "not a cvmm state stream (magic is not \"" CVMM_SNAP_MAGIC "\")");
	if (len < CVMM_SNAP_HEADER_SIZE)
		return refuse(err, -ENODATA, NULL, "header",
			      "stream is %zu bytes, shorter than the %d-byte header", len,
			      CVMM_SNAP_HEADER_SIZE);
	/*
	 * Magic and version are the part of the header every format version
	 * keeps: a newer stream is named as such before its CRC (whose place
	 * a newer format may move) is looked at.
	 */
	v = snap_get32(b + SNAP_H_VERSION);
	if (v > CVMM_SNAP_FORMAT_VERSION)
		return refuse(err, -EPROTONOSUPPORT, NULL, "header.version",
			      "format version %" PRIu32 " is newer than this cvmm (%u)", v,
			      CVMM_SNAP_FORMAT_VERSION);
	if (cvmm_snap_crc32c(0, b, SNAP_H_CRC) != snap_get32(b + SNAP_H_CRC))
		return refuse(err, -EBADMSG, NULL, "header.crc",
			      "CRC %#010" PRIx32 ", computed %#010" PRIx32,
			      snap_get32(b + SNAP_H_CRC), cvmm_snap_crc32c(0, b, SNAP_H_CRC));
	if (!v)
		return refuse(err, -EBADMSG, NULL, "header.version", "format version 0");
	if (snap_get32(b + SNAP_H_FLAGS) & ~SNAP_FLAGS_KNOWN)
		return refuse(err, -EPROTONOSUPPORT, NULL, "header.flags",
			      "unknown flags %#" PRIx32 " (from a newer cvmm?)",
			      snap_get32(b + SNAP_H_FLAGS) & ~SNAP_FLAGS_KNOWN);
	hcount = snap_get32(b + SNAP_H_COUNT);

	r = calloc(1, sizeof(*r));
	if (!r)
		return refuse(err, -ENOMEM, NULL, NULL, "out of memory");
	off = CVMM_SNAP_HEADER_SIZE;
	for (;;) {
		struct snap_sec *s;
		size_t used = 0;

		if (len - off < 8) {
			ret = refuse(err, -ENODATA, NULL, "end",
				     "stream ends at byte %zu, before the end marker (after section '%s')",
				     len, after(r));
			goto fail;
		}
		if (b[off] == 0xff) {
			ret = end_check(r, b + off, len - off, hcount, headers_crc, err);
			if (ret)
				goto fail;
			break;
		}
		if (r->n >= CVMM_SNAP_COUNT_STREAMED - 1) {
			ret = refuse(err, -EOVERFLOW, NULL, "section", "more than %u sections",
				     CVMM_SNAP_COUNT_STREAMED - 2);
			goto fail;
		}
		s = secs_next(r, &cap);
		if (!s) {
			ret = refuse(err, -ENOMEM, NULL, NULL, "out of memory at section %zu", r->n);
			goto fail;
		}
		ret = section_parse(r, s, b + off, len - off, off, &used, err);
		if (ret)
			goto fail;
		headers_crc = cvmm_snap_crc32c(headers_crc, b + off, SNAP_S_CRC);
		r->n++;
		off += used;
	}
	ret = index_build(r, err);
	if (ret)
		goto fail;
	*out = r;
	return 0;
fail:
	cvmm_snap_reader_destroy(r);
	return ret;
}

void cvmm_snap_reader_destroy(struct cvmm_snap_reader *r)
{
	if (!r)
		return;
	free(r->sorted);
	free(r->secs);
	free(r);
}

size_t cvmm_snap_reader_count(const struct cvmm_snap_reader *r)
{
	return r ? r->n : 0;
}

static void fill(const struct cvmm_snap_reader *r, size_t i, struct cvmm_snap_section *out)
{
	const struct snap_sec *s = &r->secs[i];

	out->id = s->id;
	out->version = s->version;
	out->index = (uint32_t)i;
	out->data = s->data;
	out->len = s->len;
}

static void claim(struct cvmm_snap_reader *r, size_t i)
{
	__atomic_store_n(&r->secs[i].claimed, 1, __ATOMIC_RELAXED);
}

int cvmm_snap_reader_at(const struct cvmm_snap_reader *r, size_t index,
			struct cvmm_snap_section *out)
{
	if (!r || !out)
		return -EINVAL;
	if (index >= r->n)
		return -ENOENT;
	fill(r, index, out);
	return 0;
}

int cvmm_snap_reader_find(struct cvmm_snap_reader *r, const char *id,
			  struct cvmm_snap_section *out)
{
	size_t lo = 0, hi;

	if (!r || !id || !out)
		return -EINVAL;
	hi = r->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t i = r->sorted[mid];
		int c = strcmp(r->secs[i].id, id);

		if (!c) {
			claim(r, i);
			fill(r, i, out);
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -ENOENT;
}

int cvmm_snap_reader_require(struct cvmm_snap_reader *r, const char *id, uint32_t max_version,
			     struct cvmm_snap_section *out, struct cvmm_snap_error *err)
{
	int ret = cvmm_snap_reader_find(r, id, out);

	if (ret == -ENOENT)
		return refuse(err, -ENOENT, id, NULL, "missing from the stream");
	if (ret)
		return refuse(err, ret, id, NULL, "bad lookup arguments");
	return cvmm_snap_check_version(err, id, out->version, max_version);
}

int cvmm_snap_reader_next(struct cvmm_snap_reader *r, const char *prefix, size_t *pos,
			  struct cvmm_snap_section *out)
{
	size_t plen;

	if (!r || !prefix || !pos || !out)
		return -EINVAL;
	plen = strlen(prefix);
	for (size_t i = *pos; i < r->n; i++) {
		if (strncmp(r->secs[i].id, prefix, plen))
			continue;
		claim(r, i);
		fill(r, i, out);
		*pos = i + 1;
		return 0;
	}
	*pos = r->n;
	return -ENOENT;
}

bool cvmm_snap_reader_claimed(const struct cvmm_snap_reader *r, size_t index)
{
	if (!r || index >= r->n)
		return false;
	return __atomic_load_n(&r->secs[index].claimed, __ATOMIC_RELAXED);
}

int cvmm_snap_reader_unclaimed(const struct cvmm_snap_reader *r, struct cvmm_snap_error *err)
{
	if (!r)
		return refuse(err, -EINVAL, NULL, NULL, "no reader");
	for (size_t i = 0; i < r->n; i++)
		if (!cvmm_snap_reader_claimed(r, i))
			return refuse(err, -EPROTONOSUPPORT, r->secs[i].id, NULL,
				      "no part of this cvmm restores it (version %" PRIu32
				      ", %" PRIu64 " bytes): unknown section",
				      r->secs[i].version, r->secs[i].len);
	return 0;
}
