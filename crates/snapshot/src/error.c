/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The error struct every restore fills, the typed field checks built on it,
 * and section ids. Kept apart from the reader so restore code in other
 * crates' users links only what it calls.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static int vfail(struct cvmm_snap_error *err, int ret, const char *section, const char *field,
		 const char *fmt, va_list ap)
{
	if (!err)
		return ret;
	copy_str(err->section, sizeof(err->section), section);
	copy_str(err->field, sizeof(err->field), field);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return ret;
}

/* Same as cvmm_snap_fail() with a chosen return value. */
static int CVMM_PRINTF(5, 6) fail_ret(struct cvmm_snap_error *err, int ret, const char *section,
				      const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(err, ret, section, field, fmt, ap);
	va_end(ap);
	return ret;
}

int cvmm_snap_fail(struct cvmm_snap_error *err, const char *section, const char *field,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(err, -EINVAL, section, field, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

char *cvmm_snap_error_format(const struct cvmm_snap_error *e, char *buf, size_t size)
{
	if (!buf || !size)
		return buf;
	if (!e) {
		snprintf(buf, size, "state stream: no error recorded");
		return buf;
	}
	/* The struct may come from a caller that filled it by hand: bound each string. */
	int sl = (int)strnlen(e->section, sizeof(e->section));
	int fl = (int)strnlen(e->field, sizeof(e->field));
	int ml = (int)strnlen(e->msg, sizeof(e->msg));

	if (sl && fl)
		snprintf(buf, size, "state section '%.*s' field '%.*s': %.*s", sl, e->section, fl,
			 e->field, ml, e->msg);
	else if (sl)
		snprintf(buf, size, "state section '%.*s': %.*s", sl, e->section, ml, e->msg);
	else if (fl)
		snprintf(buf, size, "state stream field '%.*s': %.*s", fl, e->field, ml, e->msg);
	else
		snprintf(buf, size, "state stream: %.*s", ml, e->msg);
	return buf;
}

int cvmm_snap_expect_len(struct cvmm_snap_error *err, const char *section, const char *field,
			 uint64_t len, uint64_t expected)
{
	if (len == expected)
		return 0;
	return fail_ret(err, -EINVAL, section, field ? field : "length",
			"length %" PRIu64 ", expected %" PRIu64, len, expected);
}

int cvmm_snap_check_range(struct cvmm_snap_error *err, const char *section, const char *field,
			  uint64_t value, uint64_t min, uint64_t max)
{
	if (value >= min && value <= max)
		return 0;
	return fail_ret(err, -ERANGE, section, field,
			"value %" PRIu64 " out of range [%" PRIu64 ", %" PRIu64 "]", value, min, max);
}

int cvmm_snap_check_flags(struct cvmm_snap_error *err, const char *section, const char *field,
			  uint64_t value, uint64_t allowed)
{
	if (!(value & ~allowed))
		return 0;
	return fail_ret(err, -EINVAL, section, field, "unknown bits %#" PRIx64 " in %#" PRIx64,
			value & ~allowed, value);
}

int cvmm_snap_check_zero(struct cvmm_snap_error *err, const char *section, const char *field,
			 const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return fail_ret(err, -EINVAL, section, field,
					"byte %zu of %zu reserved bytes is %#04x, expected 0", i, len,
					b[i]);
	return 0;
}

int cvmm_snap_check_version(struct cvmm_snap_error *err, const char *section, uint32_t version,
			    uint32_t max_supported)
{
	if (version <= max_supported)
		return 0;
	return fail_ret(err, -EPROTONOSUPPORT, section, "version",
			"version %" PRIu32 " is newer than this cvmm (%" PRIu32 ")", version,
			max_supported);
}

int cvmm_snap_id_check(const char *id)
{
	size_t n;

	if (!id)
		return -EINVAL;
	n = strnlen(id, CVMM_SNAP_ID_SIZE);
	if (n >= CVMM_SNAP_ID_SIZE)
		return -ENAMETOOLONG;
	if (!n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!snap_id_char_ok((unsigned char)id[i]))
			return -EINVAL;
	return 0;
}

int cvmm_snap_id_fmt(char id[CVMM_SNAP_ID_SIZE], const char *fmt, ...)
{
	va_list ap;
	int n, r;

	if (!id || !fmt)
		return -EINVAL;
	va_start(ap, fmt);
	n = vsnprintf(id, CVMM_SNAP_ID_SIZE, fmt, ap);
	va_end(ap);
	if (n < 0) {
		id[0] = '\0';
		return -EINVAL;
	}
	if (n >= CVMM_SNAP_ID_SIZE) {
		/* A cut id could name another section: hand back none. */
		id[0] = '\0';
		return -ENAMETOOLONG;
	}
	r = cvmm_snap_id_check(id);
	if (r < 0)
		id[0] = '\0';
	return r;
}

void cvmm_snap_section_header_fill(uint8_t h[CVMM_SNAP_SECTION_HEADER_SIZE], const char *id,
				   uint32_t version, uint64_t len, uint32_t data_crc)
{
	memset(h, 0, CVMM_SNAP_SECTION_HEADER_SIZE);
	memcpy(h + SNAP_S_ID, id, strlen(id));
	snap_put32(h + SNAP_S_VERSION, version);
	snap_put64(h + SNAP_S_LENGTH, len);
	snap_put32(h + SNAP_S_DATA_CRC, data_crc);
	snap_put32(h + SNAP_S_CRC, cvmm_snap_crc32c(0, h, SNAP_S_CRC));
}
