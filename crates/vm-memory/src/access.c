/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checked translation and bulk access. Every guest address is hostile: all
 * arithmetic is done on (gpa - region base), which the lookup has already
 * proven to be inside the region, so no host pointer is ever formed outside
 * a mapping.
 */
#include "gm-internal.h"

#include <errno.h>
#include <string.h>

void *cvmm_guest_mem_translate(const struct cvmm_guest_mem *m, uint64_t gpa,
			       uint64_t *len)
{
	const struct cvmm_gm_slot *s;

	if (CVMM_UNLIKELY(!m || !len))
		return NULL;
	s = cvmm_gm_lookup(m, gpa);
	if (CVMM_UNLIKELY(!s)) {
		*len = 0;
		return NULL;
	}
	*len = CVMM_MIN(*len, s->end - gpa);
	return s->host + (gpa - s->gpa);
}

void *cvmm_guest_mem_translate_write(const struct cvmm_guest_mem *m, uint64_t gpa,
				     uint64_t *len)
{
	const struct cvmm_gm_slot *s;

	if (CVMM_UNLIKELY(!m || !len))
		return NULL;
	s = cvmm_gm_lookup(m, gpa);
	if (CVMM_UNLIKELY(!s || (s->flags & CVMM_MEM_F_READONLY))) {
		*len = 0;
		return NULL;
	}
	*len = CVMM_MIN(*len, s->end - gpa);
	return s->host + (gpa - s->gpa);
}

void *cvmm_guest_mem_ptr(const struct cvmm_guest_mem *m, uint64_t gpa, uint64_t len)
{
	const struct cvmm_gm_slot *s;

	if (CVMM_UNLIKELY(!m))
		return NULL;
	s = cvmm_gm_lookup(m, gpa);
	/* s->end - gpa cannot underflow once the lookup succeeded, and the
	 * comparison cannot wrap, unlike gpa + len. */
	if (CVMM_UNLIKELY(!s || len > s->end - gpa))
		return NULL;
	return s->host + (gpa - s->gpa);
}

/*
 * 0 when every byte of [@gpa, @gpa + @len) is guest RAM (and writable when
 * @write); -EINVAL when the range wraps; -EFAULT otherwise.
 */
static int check_range(const struct cvmm_guest_mem *m, uint64_t gpa, uint64_t len,
		       bool write)
{
	uint64_t end;

	if (cvmm_add_overflow(gpa, len, &end))
		return -EINVAL;
	while (gpa < end) {
		const struct cvmm_gm_slot *s = cvmm_gm_lookup(m, gpa);

		if (!s || (write && (s->flags & CVMM_MEM_F_READONLY)))
			return -EFAULT;
		gpa = s->end;
	}
	return 0;
}

bool cvmm_guest_mem_range_valid(const struct cvmm_guest_mem *m, uint64_t gpa,
				uint64_t len)
{
	return m && check_range(m, gpa, len, false) == 0;
}

int cvmm_guest_mem_read(const struct cvmm_guest_mem *m, uint64_t gpa, void *buf,
			size_t len)
{
	const struct cvmm_gm_slot *s;
	uint8_t *dst = buf;
	int r;

	if (CVMM_UNLIKELY(!m || (!buf && len)))
		return -EINVAL;
	s = cvmm_gm_lookup(m, gpa);
	if (CVMM_LIKELY(s && len <= s->end - gpa)) {
		memcpy(dst, s->host + (gpa - s->gpa), len);
		return 0;
	}
	r = check_range(m, gpa, len, false);
	if (r)
		return r;
	while (len) {
		size_t n;

		s = cvmm_gm_lookup(m, gpa);
		n = (size_t)CVMM_MIN((uint64_t)len, s->end - gpa);
		memcpy(dst, s->host + (gpa - s->gpa), n);
		dst += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

/*
 * The write side of write() and fill(): @src NULL means memset with @c.
 * Dirty bits are set after the data is in place (see dirty.c).
 */
static int store(struct cvmm_guest_mem *m, uint64_t gpa, const void *src, int c,
		 size_t len)
{
	const struct cvmm_gm_slot *s;
	const uint8_t *p = src;
	int r;

	s = cvmm_gm_lookup(m, gpa);
	if (CVMM_LIKELY(s && len <= s->end - gpa && !(s->flags & CVMM_MEM_F_READONLY))) {
		if (!len)
			return 0;
		if (p)
			memcpy(s->host + (gpa - s->gpa), p, len);
		else
			memset(s->host + (gpa - s->gpa), c, len);
		cvmm_gm_note_write(s, gpa, len);
		return 0;
	}
	r = check_range(m, gpa, len, true);
	if (r)
		return r;
	while (len) {
		size_t n;

		s = cvmm_gm_lookup(m, gpa);
		n = (size_t)CVMM_MIN((uint64_t)len, s->end - gpa);
		if (p) {
			memcpy(s->host + (gpa - s->gpa), p, n);
			p += n;
		} else {
			memset(s->host + (gpa - s->gpa), c, n);
		}
		cvmm_gm_note_write(s, gpa, n);
		gpa += n;
		len -= n;
	}
	return 0;
}

int cvmm_guest_mem_write(struct cvmm_guest_mem *m, uint64_t gpa, const void *buf,
			 size_t len)
{
	if (CVMM_UNLIKELY(!m || (!buf && len)))
		return -EINVAL;
	return store(m, gpa, len ? buf : NULL, 0, len);
}

int cvmm_guest_mem_fill(struct cvmm_guest_mem *m, uint64_t gpa, int c, size_t len)
{
	if (CVMM_UNLIKELY(!m))
		return -EINVAL;
	return store(m, gpa, NULL, c, len);
}

int cvmm_guest_mem_iovec(const struct cvmm_guest_mem *m, uint64_t gpa, uint64_t len,
			 struct iovec *iov, unsigned int max)
{
	unsigned int n = 0;
	uint64_t end;
	int r;

	if (CVMM_UNLIKELY(!m || (!iov && max)))
		return -EINVAL;
	r = check_range(m, gpa, len, false);
	if (r)
		return r;
	end = gpa + len;
	while (gpa < end) {
		const struct cvmm_gm_slot *s = cvmm_gm_lookup(m, gpa);
		uint64_t stop = CVMM_MIN(end, s->end);

		if (n == max)
			return -ENOBUFS;
		iov[n].iov_base = s->host + (gpa - s->gpa);
		iov[n].iov_len = (size_t)(stop - gpa);
		n++;
		gpa = stop;
	}
	return (int)n;
}
