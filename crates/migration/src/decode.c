/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The decoder: every field of every message from the peer is hostile. Sizes
 * are checked against per-type ceilings before anything is allocated, every
 * page address against the receiver's own memory map, with overflow-safe
 * arithmetic; the first problem found is reported in one line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmm/migration.h>

#include "internal.h"

static const char *const names[] = {
	[CVMM_MIG_START] = "START",
	[CVMM_MIG_PASS] = "PASS",
	[CVMM_MIG_PAGES] = "PAGES",
	[CVMM_MIG_STATE] = "STATE",
	[CVMM_MIG_COMPLETE] = "COMPLETE",
	[CVMM_MIG_ABANDON] = "ABANDON",
	[CVMM_MIG_PAGE_REQUEST] = "PAGE_REQUEST",
	[CVMM_MIG_MEMFD] = "MEMFD",
	[CVMM_MIG_RESULT] = "RESULT",
	[CVMM_MIG_ACCEPT] = "ACCEPT",
	[CVMM_MIG_SWITCH] = "SWITCH",
	[CVMM_MIG_DISCARD] = "DISCARD",
	[CVMM_MIG_RECEIVED] = "RECEIVED",
	[CVMM_MIG_DEVFD] = "DEVFD",
};

const char *cvmm_mig_type_name(uint32_t type)
{
	return type >= 1 && type <= CVMM_MIG_TYPE_MAX ? names[type] : "unknown";
}

int cvmm_mig__fail(char *err, size_t errlen, int ret, uint32_t type, const char *field,
		   const char *fmt, ...)
{
	char why[200];
	va_list ap;

	if (!err || !errlen)
		return ret;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (field)
		snprintf(err, errlen, "migration message '%s' field '%s': %s",
			 cvmm_mig_type_name(type), field, why);
	else
		snprintf(err, errlen, "migration message '%s': %s", cvmm_mig_type_name(type), why);
	return ret;
}

#define FAIL(ret, field, ...) cvmm_mig__fail(err, errlen, ret, h->type, field, __VA_ARGS__)

uint64_t cvmm_mig__max_len(uint32_t type)
{
	switch (type) {
	case CVMM_MIG_START:
		return sizeof(struct cvmm_mig_start) +
		       (uint64_t)CVMM_MIG_MAX_RANGES * sizeof(struct cvmm_mig_range) +
		       CVMM_MIG_MAX_CONFIG;
	case CVMM_MIG_PASS:
		return 16;
	case CVMM_MIG_PAGES:
		return sizeof(struct cvmm_mig_pages) +
		       (uint64_t)CVMM_MIG_MAX_BATCH * CVMM_MIG_PAGE_SIZE;
	case CVMM_MIG_STATE:
		return CVMM_MIG_MAX_STATE;
	case CVMM_MIG_COMPLETE:
		return 8;
	case CVMM_MIG_ABANDON:
		return CVMM_MIG_MAX_REASON;
	case CVMM_MIG_PAGE_REQUEST:
		return sizeof(struct cvmm_mig_pages);
	case CVMM_MIG_MEMFD:
		return sizeof(struct cvmm_mig_memfd);
	case CVMM_MIG_RESULT:
		return 8 + CVMM_MIG_MAX_REASON;
	case CVMM_MIG_ACCEPT:
	case CVMM_MIG_SWITCH:
		return 8;
	case CVMM_MIG_DISCARD:
		return sizeof(struct cvmm_mig_pages);
	case CVMM_MIG_RECEIVED:
		return sizeof(struct cvmm_mig_received) + CVMM_MIG_MAX_BITMAP / 8;
	case CVMM_MIG_DEVFD:
		return sizeof(struct cvmm_mig_devfd);
	default:
		return 0;
	}
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

int cvmm_mig_decode_header(const void *buf, struct cvmm_mig_hdr *h, char *err, size_t errlen)
{
	const uint8_t *p = buf;
	uint32_t rsvd;

	if (!buf || !h)
		return -EINVAL;
	h->type = get32(p);
	rsvd = get32(p + 4);
	h->len = get64(p + 8);
	if (h->type < 1 || h->type > CVMM_MIG_TYPE_MAX)
		return cvmm_mig__fail(err, errlen, -EPROTO, h->type, "type",
				      "unknown message type %" PRIu32, h->type);
	if (rsvd)
		return FAIL(-EPROTO, "reserved", "%#" PRIx32 ", expected 0", rsvd);
	if (h->len > cvmm_mig__max_len(h->type))
		return FAIL(-EMSGSIZE, "length", "%" PRIu64 " exceeds %" PRIu64, h->len,
			    cvmm_mig__max_len(h->type));
	return 0;
}

/* The index of the range of @map holding [gpa, gpa + len), or -1. */
static int map_find(const struct cvmm_mig_map *map, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; map && i < map->nranges; i++) {
		const struct cvmm_mig_range *r = &map->ranges[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return (int)i;
	}
	return -1;
}

static int decode_pages(const struct cvmm_mig_hdr *h, const uint8_t *p,
			const struct cvmm_mig_map *map, struct cvmm_mig_msg *out, char *err,
			size_t errlen)
{
	struct cvmm_mig_pages *pg = &out->u.pages.hdr;
	uint64_t bytes, want;

	if (h->len < sizeof(*pg))
		return FAIL(-EPROTO, "length", "%" PRIu64 " bytes, at least %zu needed", h->len,
			    sizeof(*pg));
	pg->gpa = get64(p);
	pg->count = get32(p + 8);
	pg->flags = get32(p + 12);
	if (pg->gpa & (CVMM_MIG_PAGE_SIZE - 1))
		return FAIL(-EPROTO, "gpa", "%#" PRIx64 " is not page-aligned", pg->gpa);
	if (!pg->count || pg->count > CVMM_MIG_MAX_BATCH)
		return FAIL(-EPROTO, "count", "%" PRIu32 " out of range [1, %u]", pg->count,
			    CVMM_MIG_MAX_BATCH);
	if (h->type != CVMM_MIG_PAGES ? pg->flags : pg->flags & ~CVMM_MIG_PAGES_ZERO)
		return FAIL(-EPROTO, "flags", "unknown bits in %#" PRIx32, pg->flags);
	bytes = (uint64_t)pg->count * CVMM_MIG_PAGE_SIZE; /* <= 4 MiB: no overflow */
	if (pg->gpa > UINT64_MAX - bytes)
		return FAIL(-ERANGE, "gpa", "%#" PRIx64 " + %" PRIu64 " bytes wraps", pg->gpa,
			    bytes);
	if (map_find(map, pg->gpa, bytes) < 0)
		return FAIL(-ERANGE, "gpa", "[%#" PRIx64 ", %#" PRIx64 ") is not inside guest RAM",
			    pg->gpa, pg->gpa + bytes);
	want = sizeof(*pg);
	if (h->type == CVMM_MIG_PAGES && !(pg->flags & CVMM_MIG_PAGES_ZERO))
		want += bytes;
	if (h->len != want)
		return FAIL(-EPROTO, "length", "%" PRIu64 " bytes, %" PRIu64 " expected for %" PRIu32
			    " %s", h->len, want, pg->count,
			    want == sizeof(*pg) ? "page markers" : "pages of data");
	out->u.pages.data = want > sizeof(*pg) ? p + sizeof(*pg) : NULL;
	return 0;
}

static int decode_start(const struct cvmm_mig_hdr *h, const uint8_t *p,
			struct cvmm_mig_msg *out, char *err, size_t errlen)
{
	struct cvmm_mig_start *s = &out->u.start.hdr;
	uint64_t need, sum = 0;

	if (h->len < sizeof(*s))
		return FAIL(-EPROTO, "length", "%" PRIu64 " bytes, at least %zu needed", h->len,
			    sizeof(*s));
	memcpy(s->magic, p, 8);
	s->version = get32(p + 8);
	s->flags = get32(p + 12);
	s->ncpus = get32(p + 16);
	s->nranges = get32(p + 20);
	s->mem_size = get64(p + 24);
	s->config_len = get64(p + 32);
	s->connections = get32(p + 40);
	s->devfds = get32(p + 44);
	s->reserved = get64(p + 48);
	if (memcmp(s->magic, CVMM_MIG_MAGIC, 8))
		return FAIL(-EPROTO, "magic", "not a cvmm migration stream");
	if (s->version != CVMM_MIG_VERSION)
		return FAIL(-EPROTONOSUPPORT, "version", "%" PRIu32 ", this cvmm speaks %u",
			    s->version, CVMM_MIG_VERSION);
	if (s->flags & ~CVMM_MIG_F_ALL)
		return FAIL(-EPROTONOSUPPORT, "flags", "unknown bits in %#" PRIx32, s->flags);
	if (s->reserved)
		return FAIL(-EPROTO, "reserved", "not zero");
	if (s->devfds > CVMM_MIG_MAX_DEVFDS)
		return FAIL(-EPROTO, "devfds", "%" PRIu32 " exceeds %u", s->devfds,
			    CVMM_MIG_MAX_DEVFDS);
	if (s->devfds && !(s->flags & CVMM_MIG_F_LOCAL))
		return FAIL(-EPROTO, "devfds", "%" PRIu32 " in a migration that is not local",
			    s->devfds);
	if (s->connections > CVMM_MIG_MAX_CONNECTIONS)
		return FAIL(-EPROTO, "connections", "%" PRIu32 " exceeds %u", s->connections,
			    CVMM_MIG_MAX_CONNECTIONS);
	if ((s->flags & CVMM_MIG_F_RESUME) &&
	    ((s->flags & CVMM_MIG_F_ALL) != (CVMM_MIG_F_RESUME | CVMM_MIG_F_POSTCOPY) ||
	     s->connections))
		return FAIL(-EPROTO, "flags", "a resume (%#" PRIx32 ") is post-copy on one "
			    "connection only", s->flags);
	if (s->connections && (s->flags & CVMM_MIG_F_LOCAL))
		return FAIL(-EPROTO, "connections", "%" PRIu32 " in a local migration",
			    s->connections);
	if (!s->ncpus || s->ncpus > CVMM_MIG_MAX_VCPUS)
		return FAIL(-EPROTO, "ncpus", "%" PRIu32 " out of range [1, %u]", s->ncpus,
			    CVMM_MIG_MAX_VCPUS);
	if (!s->nranges || s->nranges > CVMM_MIG_MAX_RANGES)
		return FAIL(-EPROTO, "nranges", "%" PRIu32 " out of range [1, %u]", s->nranges,
			    CVMM_MIG_MAX_RANGES);
	if (s->config_len > CVMM_MIG_MAX_CONFIG)
		return FAIL(-EPROTO, "config_len", "%" PRIu64 " exceeds %u", s->config_len,
			    CVMM_MIG_MAX_CONFIG);
	need = sizeof(*s) + (uint64_t)s->nranges * sizeof(struct cvmm_mig_range) + s->config_len;
	if (h->len != need)
		return FAIL(-EPROTO, "length", "%" PRIu64 " bytes, %" PRIu64 " expected for %" PRIu32
			    " ranges and a %" PRIu64 "-byte config", h->len, need, s->nranges,
			    s->config_len);
	for (uint32_t i = 0; i < s->nranges; i++) {
		struct cvmm_mig_range *r = &out->u.start.ranges[i];
		const uint8_t *q = p + sizeof(*s) + i * sizeof(*r);

		r->gpa = get64(q);
		r->size = get64(q + 8);
		if ((r->gpa | r->size) & (CVMM_MIG_PAGE_SIZE - 1) || !r->size)
			return FAIL(-EPROTO, "ranges", "range %" PRIu32 " [%#" PRIx64 ", +%#" PRIx64
				    ") is empty or not page-aligned", i, r->gpa, r->size);
		if (r->gpa > UINT64_MAX - r->size)
			return FAIL(-EPROTO, "ranges", "range %" PRIu32 " wraps", i);
		if (i && r->gpa < out->u.start.ranges[i - 1].gpa + out->u.start.ranges[i - 1].size)
			return FAIL(-EPROTO, "ranges", "range %" PRIu32
				    " overlaps or precedes the one before", i);
		if (sum > UINT64_MAX - r->size)
			return FAIL(-EPROTO, "ranges", "sizes overflow");
		sum += r->size;
	}
	if (sum != s->mem_size)
		return FAIL(-EPROTO, "mem_size", "%" PRIu64 ", the ranges hold %" PRIu64,
			    s->mem_size, sum);
	out->u.start.config = p + sizeof(*s) + (size_t)s->nranges * sizeof(struct cvmm_mig_range);
	return 0;
}

static int decode_received(const struct cvmm_mig_hdr *h, const uint8_t *p,
			   const struct cvmm_mig_map *map, struct cvmm_mig_msg *out, char *err,
			   size_t errlen)
{
	struct cvmm_mig_received *rc = &out->u.received.hdr;
	uint64_t bytes, want;

	if (h->len < sizeof(*rc))
		return FAIL(-EPROTO, "length", "%" PRIu64 " bytes, at least %zu needed", h->len,
			    sizeof(*rc));
	rc->gpa = get64(p);
	rc->count = get32(p + 8);
	rc->reserved = get32(p + 12);
	if (rc->reserved)
		return FAIL(-EPROTO, "reserved", "not zero");
	if (rc->gpa & (CVMM_MIG_PAGE_SIZE - 1))
		return FAIL(-EPROTO, "gpa", "%#" PRIx64 " is not page-aligned", rc->gpa);
	if (!rc->count || rc->count > CVMM_MIG_MAX_BITMAP)
		return FAIL(-EPROTO, "count", "%" PRIu32 " out of range [1, %u]", rc->count,
			    CVMM_MIG_MAX_BITMAP);
	bytes = (uint64_t)rc->count * CVMM_MIG_PAGE_SIZE; /* <= 1 GiB: no overflow */
	if (rc->gpa > UINT64_MAX - bytes || map_find(map, rc->gpa, bytes) < 0)
		return FAIL(-ERANGE, "gpa", "%#" PRIx64 " + %" PRIu32 " pages is not inside guest RAM",
			    rc->gpa, rc->count);
	want = sizeof(*rc) + (rc->count + 7u) / 8u;
	if (h->len != want)
		return FAIL(-EPROTO, "length", "%" PRIu64 " bytes, %" PRIu64 " expected for a "
			    "bitmap of %" PRIu32 " pages", h->len, want, rc->count);
	out->u.received.bits = p + sizeof(*rc);
	return 0;
}

static int decode_devfd(const struct cvmm_mig_hdr *h, const uint8_t *p, struct cvmm_mig_msg *out,
			char *err, size_t errlen)
{
	struct cvmm_mig_devfd *d = &out->u.devfd;
	size_t n;

	if (h->len != sizeof(*d))
		return FAIL(-EPROTO, "length", "%" PRIu64 " bytes, %zu expected", h->len, sizeof(*d));
	d->kind = get32(p);
	d->index = get32(p + 4);
	memcpy(d->id, p + 8, sizeof(d->id));
	if (d->kind != CVMM_MIG_DEVFD_TAP && d->kind != CVMM_MIG_DEVFD_VSOCK)
		return FAIL(-EPROTO, "kind", "%" PRIu32 " is not a TAP (1) or vsock listener (2)",
			    d->kind);
	if (d->index >= (d->kind == CVMM_MIG_DEVFD_TAP ? 16u : 1u))
		return FAIL(-EPROTO, "index", "%" PRIu32 " out of range", d->index);
	n = strnlen(d->id, sizeof(d->id));
	if (!n || n == sizeof(d->id))
		return FAIL(-EPROTO, "id", "empty or not NUL-terminated");
	/* Printable, NUL-padded: the id ends up in a log line. */
	for (size_t i = 0; i < sizeof(d->id); i++)
		if (i < n ? (d->id[i] < 0x20 || d->id[i] >= 0x7f) : d->id[i] != 0)
			return FAIL(-EPROTO, "id", "byte %zu is %s", i,
				    i < n ? "not printable" : "not NUL padding");
	return 0;
}

static int decode_text(const struct cvmm_mig_hdr *h, const uint8_t *p, struct cvmm_mig_msg *out,
		       char *err, size_t errlen)
{
	uint64_t off = 0;

	out->u.text.error = 0;
	if (h->type == CVMM_MIG_RESULT) {
		if (h->len < 8)
			return FAIL(-EPROTO, "length", "%" PRIu64 " bytes, at least 8 needed", h->len);
		out->u.text.error = (int32_t)get32(p);
		if (get32(p + 4))
			return FAIL(-EPROTO, "reserved", "not zero");
		if (out->u.text.error > 0 || out->u.text.error < -4095)
			return FAIL(-EPROTO, "error", "%" PRId32 " is not 0 or a negative errno",
				    out->u.text.error);
		off = 8;
	}
	/* Printable ASCII only: the reason ends up in a log line. */
	for (uint64_t i = off; i < h->len; i++)
		out->u.text.reason[i - off] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	out->u.text.reason[h->len - off] = 0;
	return 0;
}

int cvmm_mig_decode(const struct cvmm_mig_hdr *h, const void *payload,
		    const struct cvmm_mig_map *map, struct cvmm_mig_msg *out, char *err,
		    size_t errlen)
{
	const uint8_t *p = payload;

	if (!h || !out || (!payload && h->len))
		return -EINVAL;
	if (h->type < 1 || h->type > CVMM_MIG_TYPE_MAX || h->len > cvmm_mig__max_len(h->type))
		return cvmm_mig__fail(err, errlen, -EPROTO, h->type, "length", "bad header");
	out->type = h->type;
	switch (h->type) {
	case CVMM_MIG_START:
		return decode_start(h, p, out, err, errlen);
	case CVMM_MIG_PASS:
		if (h->len != 16)
			return FAIL(-EPROTO, "length", "%" PRIu64 " bytes, 16 expected", h->len);
		out->u.pass.pass = get64(p);
		out->u.pass.pages = get64(p + 8);
		return 0;
	case CVMM_MIG_PAGES:
	case CVMM_MIG_PAGE_REQUEST:
	case CVMM_MIG_DISCARD:
		return decode_pages(h, p, map, out, err, errlen);
	case CVMM_MIG_ACCEPT:
		if (h->len != 8)
			return FAIL(-EPROTO, "length", "%" PRIu64 " bytes, 8 expected", h->len);
		out->u.accept.flags = get32(p);
		if (get32(p + 4))
			return FAIL(-EPROTO, "reserved", "not zero");
		if (out->u.accept.flags & ~CVMM_MIG_F_ALL)
			return FAIL(-EPROTONOSUPPORT, "flags", "unknown bits in %#" PRIx32,
				    out->u.accept.flags);
		return 0;
	case CVMM_MIG_SWITCH:
		if (h->len != 8)
			return FAIL(-EPROTO, "length", "%" PRIu64 " bytes, 8 expected", h->len);
		out->u.switch_pages = get64(p);
		return 0;
	case CVMM_MIG_STATE:
		if (!h->len)
			return FAIL(-EPROTO, "length", "empty state");
		out->u.state.data = p;
		out->u.state.len = h->len;
		return 0;
	case CVMM_MIG_COMPLETE:
		if (h->len != 8)
			return FAIL(-EPROTO, "length", "%" PRIu64 " bytes, 8 expected", h->len);
		out->u.complete_pages = get64(p);
		return 0;
	case CVMM_MIG_ABANDON:
	case CVMM_MIG_RESULT:
		return decode_text(h, p, out, err, errlen);
	case CVMM_MIG_RECEIVED:
		return decode_received(h, p, map, out, err, errlen);
	case CVMM_MIG_DEVFD:
		return decode_devfd(h, p, out, err, errlen);
	case CVMM_MIG_MEMFD: {
		struct cvmm_mig_memfd *m = &out->u.memfd;
		int i;

		if (h->len != sizeof(*m))
			return FAIL(-EPROTO, "length", "%" PRIu64 " bytes, %zu expected", h->len,
				    sizeof(*m));
		m->gpa = get64(p);
		m->size = get64(p + 8);
		m->fd_offset = get64(p + 16);
		if (m->fd_offset & (CVMM_MIG_PAGE_SIZE - 1) || m->fd_offset > INT64_MAX)
			return FAIL(-EPROTO, "fd_offset", "%#" PRIx64 " not page-aligned or too large",
				    m->fd_offset);
		i = map_find(map, m->gpa, m->size);
		if (i < 0 || map->ranges[i].gpa != m->gpa || map->ranges[i].size != m->size)
			return FAIL(-ERANGE, "gpa", "[%#" PRIx64 ", +%#" PRIx64
				    ") is not one range of guest RAM", m->gpa, m->size);
		return 0;
	}
	}
	return -EINVAL;
}

int cvmm_mig_rx_accept(struct cvmm_mig_rx *rx, const struct cvmm_mig_msg *m, char *err,
		       size_t errlen)
{
	if (!rx || !m)
		return -EINVAL;
	if (rx->done)
		return cvmm_mig__fail(err, errlen, -EPROTO, m->type, NULL,
				      "arrived after the end of the migration");
	if (!rx->started && m->type != CVMM_MIG_START && m->type != CVMM_MIG_ABANDON)
		return cvmm_mig__fail(err, errlen, -EPROTO, m->type, NULL, "arrived before START");
	/* The device fds come right after START: all announced, none later. */
	if (rx->started && m->type != CVMM_MIG_DEVFD && m->type != CVMM_MIG_ABANDON &&
	    !rx->devfds_closed) {
		if (rx->devfds < rx->devfds_max)
			return cvmm_mig__fail(err, errlen, -EPROTO, m->type, NULL,
					      "after only %" PRIu32 " of the %" PRIu32
					      " device fds START announced", rx->devfds,
					      rx->devfds_max);
		rx->devfds_closed = true;
	}
	switch (m->type) {
	case CVMM_MIG_START:
		if (rx->started)
			return cvmm_mig__fail(err, errlen, -EPROTO, m->type, NULL, "sent twice");
		rx->started = true;
		rx->flags = m->u.start.hdr.flags;
		rx->devfds_max = m->u.start.hdr.devfds;
		return 0;
	case CVMM_MIG_DEVFD:
		if (!(rx->flags & CVMM_MIG_F_LOCAL))
			return cvmm_mig__fail(err, errlen, -EPROTO, m->type, NULL,
					      "in a migration that is not local");
		if (rx->devfds_closed)
			return cvmm_mig__fail(err, errlen, -EPROTO, m->type, NULL,
					      "not right after START");
		if (rx->devfds >= rx->devfds_max)
			return cvmm_mig__fail(err, errlen, -EPROTO, m->type, NULL,
					      "one more than the %" PRIu32 " START announced",
					      rx->devfds_max);
		rx->devfds++;
		return 0;
	case CVMM_MIG_PASS:
		if (m->u.pass.pass < rx->last_pass || (rx->pages && m->u.pass.pass == rx->last_pass))
			return cvmm_mig__fail(err, errlen, -EPROTO, m->type, "pass",
					      "%" PRIu64 " does not follow pass %" PRIu64,
					      m->u.pass.pass, rx->last_pass);
		rx->last_pass = m->u.pass.pass;
		return 0;
	case CVMM_MIG_SWITCH:
		if (!(rx->flags & CVMM_MIG_F_SWITCH) || rx->switched || rx->state_seen)
			return cvmm_mig__fail(err, errlen, -EPROTO, m->type, NULL, "%s",
					      rx->switched ? "sent twice" : rx->state_seen ?
					      "after the device state" :
					      "in a migration whose START did not allow it");
		rx->switched = true;
		return 0;
	case CVMM_MIG_DISCARD:
		if (!rx->switched || rx->state_seen)
			return cvmm_mig__fail(err, errlen, -EPROTO, m->type, NULL,
					      "outside a switch to post-copy");
		return 0;
	case CVMM_MIG_PAGES:
		if (rx->state_seen && !(rx->flags & CVMM_MIG_F_POSTCOPY) && !rx->switched)
			return cvmm_mig__fail(err, errlen, -EPROTO, m->type, NULL,
					      "pages after the device state of a pre-copy migration");
		rx->pages += m->u.pages.hdr.count;
		return 0;
	case CVMM_MIG_MEMFD:
		if (!(rx->flags & CVMM_MIG_F_LOCAL))
			return cvmm_mig__fail(err, errlen, -EPROTO, m->type, NULL,
					      "in a migration that is not local");
		return 0;
	case CVMM_MIG_STATE:
		if (rx->state_seen)
			return cvmm_mig__fail(err, errlen, -EPROTO, m->type, NULL, "sent twice");
		rx->state_seen = true;
		return 0;
	case CVMM_MIG_COMPLETE:
		if (!rx->state_seen)
			return cvmm_mig__fail(err, errlen, -EPROTO, m->type, NULL,
					      "before the device state");
		rx->done = true;
		return 0;
	case CVMM_MIG_ABANDON:
		rx->done = true;
		return 0;
	default:
		return cvmm_mig__fail(err, errlen, -EPROTO, m->type, NULL,
				      "not valid on the source's stream");
	}
}
