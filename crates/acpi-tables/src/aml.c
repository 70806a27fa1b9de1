/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AML encoder (ACPI 6.x, chapter 20). Constructs with a PkgLength are
 * written body-first: *_begin() records where the PkgLength goes, and the
 * end call, knowing the body size, inserts the shortest encoding there.
 * Shifting the body once per construct is cheap next to any guest boot.
 */
#include <cvmm/acpi-tables.h>
#include <cvmm/sys-util.h>

#include <errno.h>
#include <string.h>

#include "internal.h"

#define AML_ZERO 0x00
#define AML_ONE 0x01
#define AML_NAME 0x08
#define AML_BYTE 0x0a
#define AML_WORD 0x0b
#define AML_DWORD 0x0c
#define AML_STRING 0x0d
#define AML_QWORD 0x0e
#define AML_SCOPE 0x10
#define AML_BUFFER 0x11
#define AML_PACKAGE 0x12
#define AML_METHOD 0x14
#define AML_DUAL_NAME 0x2e
#define AML_MULTI_NAME 0x2f
#define AML_EXT 0x5b
#define AML_DEVICE 0x82
#define AML_ROOT '\\'
#define AML_PARENT '^'
#define AML_RETURN 0xa4

#define RES_IO 0x47
#define RES_IRQ_NOFLAGS 0x22
#define RES_END 0x79
#define RES_MEM32_FIXED 0x86
#define RES_EXT_IRQ 0x89
#define RES_QWORD 0x8a
#define RES_DWORD 0x87
#define RES_WORD 0x88

int cvmm_aml_pkglen_encode(uint32_t value, uint8_t out[4])
{
	int n;

	if (value <= 0x3f) {
		out[0] = (uint8_t)value;
		return 1;
	}
	if (value <= 0xfff)
		n = 2;
	else if (value <= 0xfffff)
		n = 3;
	else if (value <= CVMM_AML_PKGLEN_MAX)
		n = 4;
	else
		return -E2BIG;
	/* Lead byte: count of following bytes in bits 7-6, low nibble of the
	 * value in bits 3-0; the following bytes carry the rest, LSB first. */
	out[0] = (uint8_t)(((n - 1) << 6) | (value & 0x0f));
	for (int i = 1; i < n; i++)
		out[i] = (uint8_t)(value >> (4 + 8 * (i - 1)));
	return n;
}

/* Insert the PkgLength for everything from @mark to the end, at @mark. */
static int pkg_close(struct cvmm_acpi_buf *b, size_t mark)
{
	uint8_t enc[4];
	size_t body;
	int n;

	if (b->err)
		return b->err;
	if (mark > b->len)
		return cvmm_acpi_priv_fail(b, -EINVAL);
	body = b->len - mark;
	/* The length counts its own bytes, so pick the width that fits. */
	for (n = 1; n <= 4; n++) {
		static const uint32_t limit[5] = { 0, 0x3f, 0xfff, 0xfffff, CVMM_AML_PKGLEN_MAX };

		if (body <= limit[n] - (uint32_t)n)
			break;
	}
	if (n > 4)
		return cvmm_acpi_priv_fail(b, -E2BIG);
	if (cvmm_aml_pkglen_encode((uint32_t)(body + (size_t)n), enc) != n)
		return cvmm_acpi_priv_fail(b, -E2BIG);
	return cvmm_acpi_priv_insert(b, mark, enc, (size_t)n);
}

static bool seg_lead(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool seg_char(char c)
{
	return seg_lead(c) || (c >= '0' && c <= '9');
}

/* Parse one NameSeg of 1-4 chars at @p into @out (padded with '_'). */
static const char *parse_seg(const char *p, uint8_t out[4])
{
	size_t n = 0;

	if (!seg_lead(*p))
		return NULL;
	while (seg_char(p[n])) {
		if (n == 4)
			return NULL;
		out[n] = (uint8_t)p[n];
		n++;
	}
	for (size_t i = n; i < 4; i++)
		out[i] = '_';
	return p + n;
}

int cvmm_aml_name_string(struct cvmm_acpi_buf *b, const char *path)
{
	uint8_t prefix[256], segs[255 * 4];
	size_t np = 0, ns = 0;
	const char *p = path;

	if (b->err)
		return b->err;
	if (!p)
		return cvmm_acpi_priv_fail(b, -EINVAL);
	if (*p == AML_ROOT) {
		prefix[np++] = AML_ROOT;
		p++;
	} else {
		while (*p == AML_PARENT) {
			if (np == sizeof(prefix))
				return cvmm_acpi_priv_fail(b, -EINVAL);
			prefix[np++] = AML_PARENT;
			p++;
		}
	}
	while (*p) {
		if (ns == 255)
			return cvmm_acpi_priv_fail(b, -EINVAL);
		p = parse_seg(p, segs + 4 * ns);
		if (!p)
			return cvmm_acpi_priv_fail(b, -EINVAL);
		ns++;
		if (*p == '.') {
			p++;
			if (!*p) /* trailing dot */
				return cvmm_acpi_priv_fail(b, -EINVAL);
		} else if (*p) {
			return cvmm_acpi_priv_fail(b, -EINVAL);
		}
	}
	if (ns == 0 && np == 0)
		return cvmm_acpi_priv_fail(b, -EINVAL);
	cvmm_acpi_buf_append(b, prefix, np);
	if (ns == 0)
		cvmm_acpi_buf_u8(b, 0x00); /* NullName */
	else if (ns == 2)
		cvmm_acpi_buf_u8(b, AML_DUAL_NAME);
	else if (ns > 2) {
		cvmm_acpi_buf_u8(b, AML_MULTI_NAME);
		cvmm_acpi_buf_u8(b, (uint8_t)ns);
	}
	return cvmm_acpi_buf_append(b, segs, 4 * ns);
}

int cvmm_aml_integer(struct cvmm_acpi_buf *b, uint64_t v)
{
	uint8_t enc[9];
	unsigned int n;

	if (v == 0)
		return cvmm_acpi_buf_u8(b, AML_ZERO);
	if (v == 1)
		return cvmm_acpi_buf_u8(b, AML_ONE);
	if (v <= 0xff) {
		enc[0] = AML_BYTE;
		n = 1;
	} else if (v <= 0xffff) {
		enc[0] = AML_WORD;
		n = 2;
	} else if (v <= 0xffffffff) {
		enc[0] = AML_DWORD;
		n = 4;
	} else {
		enc[0] = AML_QWORD;
		n = 8;
	}
	cvmm_acpi_priv_put_le(enc + 1, v, n);
	return cvmm_acpi_buf_append(b, enc, n + 1);
}

int cvmm_aml_string(struct cvmm_acpi_buf *b, const char *s)
{
	size_t n;

	if (b->err)
		return b->err;
	if (!s)
		return cvmm_acpi_priv_fail(b, -EINVAL);
	n = strlen(s);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] > 0x7f)
			return cvmm_acpi_priv_fail(b, -EINVAL);
	cvmm_acpi_buf_u8(b, AML_STRING);
	return cvmm_acpi_buf_append(b, s, n + 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int cvmm_aml_eisaid(struct cvmm_acpi_buf *b, const char *id)
{
	uint32_t v = 0;

	if (b->err)
		return b->err;
	if (!id || strlen(id) != 7)
		return cvmm_acpi_priv_fail(b, -EINVAL);
	/* Three 5-bit letters ('A' = 1) then four hex digits, stored
	 * big-endian in a DWord (so the bytes read "compressed ID" order). */
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return cvmm_acpi_priv_fail(b, -EINVAL);
		v = (v << 5) | (uint32_t)(id[i] - 'A' + 1);
	}
	for (int i = 3; i < 7; i++) {
		int h = hexval(id[i]);

		if (h < 0)
			return cvmm_acpi_priv_fail(b, -EINVAL);
		v = (v << 4) | (uint32_t)h;
	}
	v = __builtin_bswap32(v);
	return cvmm_aml_integer(b, v);
}

/* Close a Buffer whose bytes run from @mark to the end. */
static int buffer_close(struct cvmm_acpi_buf *b, size_t mark)
{
	struct cvmm_acpi_buf size;
	uint8_t enc[9];
	size_t n;
	int r;

	if (b->err)
		return b->err;
	if (mark > b->len)
		return cvmm_acpi_priv_fail(b, -EINVAL);
	cvmm_acpi_buf_init(&size, sizeof(enc));
	cvmm_aml_integer(&size, b->len - mark);
	r = size.err;
	n = size.len;
	if (!r)
		memcpy(enc, size.data, n);
	cvmm_acpi_buf_fini(&size);
	if (r)
		return cvmm_acpi_priv_fail(b, r);
	r = cvmm_acpi_priv_insert(b, mark, enc, n);
	return r ? r : pkg_close(b, mark);
}

int cvmm_aml_buffer(struct cvmm_acpi_buf *b, const void *data, size_t len)
{
	size_t mark;

	cvmm_acpi_buf_u8(b, AML_BUFFER);
	mark = b->len;
	cvmm_acpi_buf_append(b, data, len);
	return buffer_close(b, mark);
}

int cvmm_aml_name(struct cvmm_acpi_buf *b, const char *name)
{
	cvmm_acpi_buf_u8(b, AML_NAME);
	return cvmm_aml_name_string(b, name);
}

int cvmm_aml_return(struct cvmm_acpi_buf *b)
{
	return cvmm_acpi_buf_u8(b, AML_RETURN);
}

size_t cvmm_aml_scope_begin(struct cvmm_acpi_buf *b, const char *name)
{
	size_t mark;

	cvmm_acpi_buf_u8(b, AML_SCOPE);
	mark = b->len;
	cvmm_aml_name_string(b, name);
	return mark;
}

size_t cvmm_aml_device_begin(struct cvmm_acpi_buf *b, const char *name)
{
	size_t mark;

	cvmm_acpi_buf_u8(b, AML_EXT);
	cvmm_acpi_buf_u8(b, AML_DEVICE);
	mark = b->len;
	cvmm_aml_name_string(b, name);
	return mark;
}

size_t cvmm_aml_method_begin(struct cvmm_acpi_buf *b, const char *name,
			     unsigned int nargs, bool serialized)
{
	size_t mark;

	cvmm_acpi_buf_u8(b, AML_METHOD);
	mark = b->len;
	if (nargs > 7)
		cvmm_acpi_priv_fail(b, -EINVAL);
	cvmm_aml_name_string(b, name);
	cvmm_acpi_buf_u8(b, (uint8_t)((nargs & 7) | (serialized ? 0x08 : 0)));
	return mark;
}

int cvmm_aml_end(struct cvmm_acpi_buf *b, size_t mark)
{
	return pkg_close(b, mark);
}

size_t cvmm_aml_package_begin(struct cvmm_acpi_buf *b)
{
	size_t mark;

	cvmm_acpi_buf_u8(b, AML_PACKAGE);
	mark = b->len;
	cvmm_acpi_buf_u8(b, 0); /* NumElements, filled in at the end */
	return mark;
}

int cvmm_aml_package_end(struct cvmm_acpi_buf *b, size_t mark, unsigned int nelems)
{
	if (b->err)
		return b->err;
	if (mark >= b->len)
		return cvmm_acpi_priv_fail(b, -EINVAL);
	if (nelems > 255)
		return cvmm_acpi_priv_fail(b, -E2BIG);
	b->data[mark] = (uint8_t)nelems;
	return pkg_close(b, mark);
}

size_t cvmm_aml_restemplate_begin(struct cvmm_acpi_buf *b)
{
	cvmm_acpi_buf_u8(b, AML_BUFFER);
	return b->len;
}

int cvmm_aml_restemplate_end(struct cvmm_acpi_buf *b, size_t mark)
{
	/* End tag; checksum 0 means "treat as valid". */
	cvmm_acpi_buf_u8(b, RES_END);
	cvmm_acpi_buf_u8(b, 0);
	return buffer_close(b, mark);
}

int cvmm_aml_res_io(struct cvmm_acpi_buf *b, uint16_t min, uint16_t max, uint8_t align,
		    uint8_t len)
{
	uint8_t d[8] = { RES_IO, 0x01 /* Decode16 */, (uint8_t)min, (uint8_t)(min >> 8),
			 (uint8_t)max, (uint8_t)(max >> 8), align, len };

	return cvmm_acpi_buf_append(b, d, sizeof(d));
}

int cvmm_aml_res_irq_noflags(struct cvmm_acpi_buf *b, unsigned int irq)
{
	uint8_t d[3] = { RES_IRQ_NOFLAGS };

	if (b->err)
		return b->err;
	if (irq > 15)
		return cvmm_acpi_priv_fail(b, -EINVAL);
	d[1] = (uint8_t)(1u << irq);
	d[2] = (uint8_t)((1u << irq) >> 8);
	return cvmm_acpi_buf_append(b, d, sizeof(d));
}

int cvmm_aml_res_memory32_fixed(struct cvmm_acpi_buf *b, bool rw, uint32_t base, uint32_t len)
{
	uint8_t d[12] = { RES_MEM32_FIXED, 9, 0, rw ? 1 : 0 };

	cvmm_acpi_priv_put_le(d + 4, base, 4);
	cvmm_acpi_priv_put_le(d + 8, len, 4);
	return cvmm_acpi_buf_append(b, d, sizeof(d));
}

int cvmm_aml_res_interrupt(struct cvmm_acpi_buf *b, unsigned int flags, uint32_t gsi)
{
	uint8_t d[9] = { RES_EXT_IRQ, 6, 0, 0, 1 };

	if (b->err)
		return b->err;
	if (flags & ~0x1fu)
		return cvmm_acpi_priv_fail(b, -EINVAL);
	d[3] = (uint8_t)flags;
	cvmm_acpi_priv_put_le(d + 5, gsi, 4);
	return cvmm_acpi_buf_append(b, d, sizeof(d));
}

int cvmm_aml_res_qword_memory(struct cvmm_acpi_buf *b, bool rw, bool cacheable,
			      uint64_t base, uint64_t len)
{
	uint8_t d[46] = { RES_QWORD, 43, 0, 0 /* memory */ };
	uint64_t max;

	if (b->err)
		return b->err;
	if (!len || cvmm_add_overflow(base, len - 1, &max))
		return cvmm_acpi_priv_fail(b, -EINVAL);
	d[4] = 0x0c | 0x01;  /* MaxFixed, MinFixed, ResourceConsumer */
	d[5] = (uint8_t)((rw ? 1 : 0) | (cacheable ? 0x02 : 0));
	cvmm_acpi_priv_put_le(d + 6, 0, 8);      /* granularity */
	cvmm_acpi_priv_put_le(d + 14, base, 8);
	cvmm_acpi_priv_put_le(d + 22, max, 8);
	cvmm_acpi_priv_put_le(d + 30, 0, 8);     /* translation */
	cvmm_acpi_priv_put_le(d + 38, len, 8);
	return cvmm_acpi_buf_append(b, d, sizeof(d));
}

/* Address space descriptors a bridge produces (ACPI 6.4, 6.4.3.5). General
 * flags: MaxFixed, MinFixed, PosDecode, ResourceProducer. */
#define ADDR_PRODUCER_FIXED 0x0c

int cvmm_aml_res_word_bus_number(struct cvmm_acpi_buf *b, uint16_t min, uint16_t max)
{
	uint8_t d[16] = { RES_WORD, 13, 0, 2 /* bus number range */, ADDR_PRODUCER_FIXED, 0 };

	if (b->err)
		return b->err;
	if (min > max)
		return cvmm_acpi_priv_fail(b, -EINVAL);
	cvmm_acpi_priv_put_le(d + 6, 0, 2);                 /* granularity */
	cvmm_acpi_priv_put_le(d + 8, min, 2);
	cvmm_acpi_priv_put_le(d + 10, max, 2);
	cvmm_acpi_priv_put_le(d + 12, 0, 2);                /* translation */
	cvmm_acpi_priv_put_le(d + 14, (uint32_t)max - min + 1, 2);
	return cvmm_acpi_buf_append(b, d, sizeof(d));
}

int cvmm_aml_res_window_memory(struct cvmm_acpi_buf *b, uint64_t base, uint64_t len)
{
	uint64_t max;

	if (b->err)
		return b->err;
	if (!len || cvmm_add_overflow(base, len - 1, &max))
		return cvmm_acpi_priv_fail(b, -EINVAL);
	if (max <= 0xffffffffull) {
		uint8_t d[26] = { RES_DWORD, 23, 0, 0 /* memory */, ADDR_PRODUCER_FIXED,
				  0x01 /* ReadWrite, NonCacheable */ };

		cvmm_acpi_priv_put_le(d + 6, 0, 4);
		cvmm_acpi_priv_put_le(d + 10, base, 4);
		cvmm_acpi_priv_put_le(d + 14, max, 4);
		cvmm_acpi_priv_put_le(d + 18, 0, 4);
		cvmm_acpi_priv_put_le(d + 22, len, 4);
		return cvmm_acpi_buf_append(b, d, sizeof(d));
	} else {
		uint8_t d[46] = { RES_QWORD, 43, 0, 0 /* memory */, ADDR_PRODUCER_FIXED, 0x01 };

		cvmm_acpi_priv_put_le(d + 6, 0, 8);
		cvmm_acpi_priv_put_le(d + 14, base, 8);
		cvmm_acpi_priv_put_le(d + 22, max, 8);
		cvmm_acpi_priv_put_le(d + 30, 0, 8);
		cvmm_acpi_priv_put_le(d + 38, len, 8);
		return cvmm_acpi_buf_append(b, d, sizeof(d));
	}
}

/* ------------------------------------------------------------------------ */
/* Control methods: the few operators a GED and PCI hotplug need            */
/* ------------------------------------------------------------------------ */

#define AML_EXT_OPREGION 0x80
#define AML_EXT_FIELD 0x81
#define AML_LOCAL0 0x60
#define AML_ARG0 0x68
#define AML_STORE 0x70
#define AML_AND 0x7b
#define AML_NOTIFY 0x86
#define AML_IF 0xa0

int cvmm_aml_opregion(struct cvmm_acpi_buf *b, const char *name, uint8_t space,
		      uint64_t offset, uint64_t len)
{
	cvmm_acpi_buf_u8(b, AML_EXT);
	cvmm_acpi_buf_u8(b, AML_EXT_OPREGION);
	cvmm_aml_name_string(b, name);
	cvmm_acpi_buf_u8(b, space);
	cvmm_aml_integer(b, offset);
	return cvmm_aml_integer(b, len);
}

size_t cvmm_aml_field_begin(struct cvmm_acpi_buf *b, const char *region, uint8_t flags)
{
	size_t mark;

	cvmm_acpi_buf_u8(b, AML_EXT);
	cvmm_acpi_buf_u8(b, AML_EXT_FIELD);
	mark = b->len;
	cvmm_aml_name_string(b, region);
	cvmm_acpi_buf_u8(b, flags);
	return mark;
}

int cvmm_aml_field_unit(struct cvmm_acpi_buf *b, const char *name, uint32_t bits)
{
	uint8_t seg[4], enc[4];
	const char *end;
	int n;

	if (b->err)
		return b->err;
	/* A NamedField is a bare NameSeg, then its width as a PkgLength. */
	end = name ? parse_seg(name, seg) : NULL;
	if (!end || *end || !bits)
		return cvmm_acpi_priv_fail(b, -EINVAL);
	n = cvmm_aml_pkglen_encode(bits, enc);
	if (n < 0)
		return cvmm_acpi_priv_fail(b, n);
	cvmm_acpi_buf_append(b, seg, 4);
	return cvmm_acpi_buf_append(b, enc, (size_t)n);
}

int cvmm_aml_local(struct cvmm_acpi_buf *b, unsigned int n)
{
	if (b->err)
		return b->err;
	if (n > 7)
		return cvmm_acpi_priv_fail(b, -EINVAL);
	return cvmm_acpi_buf_u8(b, (uint8_t)(AML_LOCAL0 + n));
}

int cvmm_aml_arg(struct cvmm_acpi_buf *b, unsigned int n)
{
	if (b->err)
		return b->err;
	if (n > 6)
		return cvmm_acpi_priv_fail(b, -EINVAL);
	return cvmm_acpi_buf_u8(b, (uint8_t)(AML_ARG0 + n));
}

int cvmm_aml_store(struct cvmm_acpi_buf *b)
{
	return cvmm_acpi_buf_u8(b, AML_STORE);
}

int cvmm_aml_and(struct cvmm_acpi_buf *b)
{
	return cvmm_acpi_buf_u8(b, AML_AND);
}

int cvmm_aml_no_target(struct cvmm_acpi_buf *b)
{
	return cvmm_acpi_buf_u8(b, 0x00); /* NullName */
}

int cvmm_aml_notify(struct cvmm_acpi_buf *b)
{
	return cvmm_acpi_buf_u8(b, AML_NOTIFY);
}

size_t cvmm_aml_if_begin(struct cvmm_acpi_buf *b)
{
	cvmm_acpi_buf_u8(b, AML_IF);
	return b->len;
}
