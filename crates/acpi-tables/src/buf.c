/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The byte buffer every builder writes into. The error is sticky so a long
 * chain of appends needs one check at the end, and the cap is enforced
 * before any allocation so a runaway builder fails with -E2BIG instead of
 * eating memory.
 */
#include <cvmm/acpi-tables.h>
#include <cvmm/sys-util.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void cvmm_acpi_buf_init(struct cvmm_acpi_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max ? max : CVMM_ACPI_BUF_DEFAULT_MAX;
}

void cvmm_acpi_buf_fini(struct cvmm_acpi_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}

int cvmm_acpi_buf_error(const struct cvmm_acpi_buf *b)
{
	return b->err;
}

int cvmm_acpi_priv_fail(struct cvmm_acpi_buf *b, int err)
{
	if (!b->err)
		b->err = err;
	return b->err;
}

/* Make room for @n more bytes. */
int cvmm_acpi_priv_reserve(struct cvmm_acpi_buf *b, size_t n)
{
	size_t need, cap;
	uint8_t *p;

	if (b->err)
		return b->err;
	if (cvmm_add_overflow(b->len, n, &need) || need > b->max)
		return cvmm_acpi_priv_fail(b, -E2BIG);
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > b->max / 2 ? b->max : cap * 2;
	/* need <= max, so clamping keeps cap >= need. */
	cap = CVMM_MIN(cap, b->max);
	p = realloc(b->data, cap);
	if (!p)
		return cvmm_acpi_priv_fail(b, -ENOMEM);
	b->data = p;
	b->cap = cap;
	return 0;
}

int cvmm_acpi_buf_append(struct cvmm_acpi_buf *b, const void *p, size_t n)
{
	int r = cvmm_acpi_priv_reserve(b, n);

	if (r)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

/* Open a gap of @n bytes at @pos, filled from @p. */
int cvmm_acpi_priv_insert(struct cvmm_acpi_buf *b, size_t pos, const void *p, size_t n)
{
	int r;

	if (b->err)
		return b->err;
	if (pos > b->len)
		return cvmm_acpi_priv_fail(b, -EINVAL);
	r = cvmm_acpi_priv_reserve(b, n);
	if (r)
		return r;
	memmove(b->data + pos + n, b->data + pos, b->len - pos);
	memcpy(b->data + pos, p, n);
	b->len += n;
	return 0;
}

int cvmm_acpi_buf_u8(struct cvmm_acpi_buf *b, uint8_t v)
{
	return cvmm_acpi_buf_append(b, &v, 1);
}

int cvmm_acpi_buf_u16(struct cvmm_acpi_buf *b, uint16_t v)
{
	uint8_t le[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	return cvmm_acpi_buf_append(b, le, sizeof(le));
}

int cvmm_acpi_buf_u32(struct cvmm_acpi_buf *b, uint32_t v)
{
	uint8_t le[4];

	cvmm_acpi_priv_put_le(le, v, 4);
	return cvmm_acpi_buf_append(b, le, sizeof(le));
}

int cvmm_acpi_buf_u64(struct cvmm_acpi_buf *b, uint64_t v)
{
	uint8_t le[8];

	cvmm_acpi_priv_put_le(le, v, 8);
	return cvmm_acpi_buf_append(b, le, sizeof(le));
}

void cvmm_acpi_priv_put_le(uint8_t *p, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint8_t cvmm_acpi_sum(const void *p, size_t len)
{
	const uint8_t *c = p;
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + c[i]);
	return s;
}

/* Copy @s into a fixed-width, space-padded header field. */
static void put_padded(uint8_t *dst, const char *s, size_t width)
{
	size_t n = s ? strnlen(s, width) : 0;

	memset(dst, ' ', width);
	memcpy(dst, s, n);
}

size_t cvmm_acpi_table_begin(struct cvmm_acpi_buf *b, const char *sig, uint8_t revision,
			     const char *oem_id, const char *oem_table_id)
{
	uint8_t h[ACPI_HEADER_LEN] = { 0 };
	char table_id[9];
	size_t start = b->len;

	if (!sig || strlen(sig) != 4) {
		cvmm_acpi_priv_fail(b, -EINVAL);
		return start;
	}
	memcpy(h, sig, 4);
	h[8] = revision;
	put_padded(h + 10, oem_id ? oem_id : "CVMM", 6);
	if (!oem_table_id) {
		memcpy(table_id, "CVMM", 4);
		memcpy(table_id + 4, sig, 4);
		table_id[8] = 0;
		oem_table_id = table_id;
	}
	put_padded(h + 16, oem_table_id, 8);
	cvmm_acpi_priv_put_le(h + 24, 1, 4);       /* OEM revision */
	memcpy(h + 28, "CVMM", 4);       /* creator ID */
	cvmm_acpi_priv_put_le(h + 32, 1, 4);       /* creator revision */
	cvmm_acpi_buf_append(b, h, sizeof(h));
	return start;
}

int cvmm_acpi_table_end(struct cvmm_acpi_buf *b, size_t start)
{
	size_t len;

	if (b->err)
		return b->err;
	if (start > b->len || b->len - start < ACPI_HEADER_LEN || b->len - start > UINT32_MAX)
		return cvmm_acpi_priv_fail(b, -EINVAL);
	len = b->len - start;
	cvmm_acpi_priv_put_le(b->data + start + 4, len, 4);
	b->data[start + 9] = 0;
	b->data[start + 9] = (uint8_t)(0x100 - cvmm_acpi_sum(b->data + start, len));
	return 0;
}
