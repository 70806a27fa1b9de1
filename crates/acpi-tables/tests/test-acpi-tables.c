/* SPDX-License-Identifier: Apache-2.0 */
#include <cvmm/acpi-tables.h>
#include "cvmm-test.h"
#include "acpi-test-util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void expect_bytes(struct cvmm_acpi_buf *b, const void *want, size_t n)
{
	ck_assert_int_eq(b->err, 0);
	ck_assert_uint_eq(b->len, n);
	ck_assert_mem_eq(b->data, want, n);
	cvmm_acpi_buf_fini(b);
}

/* The smallest width whose range holds @value (independent of the encoder). */
static int min_width(uint32_t value)
{
	return value < (1u << 6) ? 1 : value < (1u << 12) ? 2 : value < (1u << 20) ? 3 : 4;
}

START_TEST(pkglen_boundaries)
{
	static const struct { uint32_t v; int n; uint8_t b[4]; } cases[] = {
		{ 0, 1, { 0x00 } },
		{ 63, 1, { 0x3f } },
		{ 64, 2, { 0x40, 0x04 } },
		{ 4095, 2, { 0x4f, 0xff } },
		{ 4096, 3, { 0x80, 0x00, 0x01 } },
		{ 0xfffff, 3, { 0x8f, 0xff, 0xff } },
		{ 0x100000, 4, { 0xc0, 0x00, 0x00, 0x01 } },
		{ 0x0fffffff, 4, { 0xcf, 0xff, 0xff, 0xff } },
	};
	uint8_t out[4];
	unsigned int n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 0xaa, sizeof(out));
		ck_assert_int_eq(cvmm_aml_pkglen_encode(cases[i].v, out), cases[i].n);
		ck_assert_mem_eq(out, cases[i].b, (size_t)cases[i].n);
	}
	ck_assert_int_eq(cvmm_aml_pkglen_encode(0x10000000, out), -E2BIG);
	ck_assert_int_eq(cvmm_aml_pkglen_encode(UINT32_MAX, out), -E2BIG);
	/* Round trip through the independent decoder over the first 2^21
	 * values and a stride through the rest. */
	/* (Plain comparisons in the loop: each ck_assert costs a pipe write.) */
	for (uint64_t v = 0; v <= CVMM_AML_PKGLEN_MAX; v += v < (1u << 21) ? 1 : 4093) {
		int w = cvmm_aml_pkglen_encode((uint32_t)v, out);

		if (w != min_width((uint32_t)v) || test_pkglen_decode(out, &n) != v ||
		    n != (unsigned int)w || (w > 1 && (out[0] & 0x30)))
			ck_abort_msg("PkgLength %llu encodes wrongly", (unsigned long long)v);
	}
}
END_TEST

/* A construct's PkgLength counts itself: check the width flips exactly where
 * body + width passes the limit of that width. */
START_TEST(pkglen_builder_edges)
{
	static const size_t bodies[] = { 4, 5, 58, 59, 60, 61, 62, 63, 64, 65,
					 4090, 4091, 4092, 4093, 4094, 4095, 4096,
					 0xffffb, 0xffffc, 0xffffd, 0xffffe, 0x100000 };
	uint8_t *junk = calloc(1, 0x100000);

	ck_assert_ptr_nonnull(junk);
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct cvmm_acpi_buf b;
		size_t mark, body = bodies[i];
		unsigned int n;
		uint32_t v;

		cvmm_acpi_buf_init(&b, 0);
		mark = cvmm_aml_device_begin(&b, "DEV0");
		ck_assert_uint_eq(mark, 2);
		cvmm_acpi_buf_append(&b, junk, body - 4); /* the name is part of the body */
		ck_assert_int_eq(cvmm_aml_end(&b, mark), 0);
		v = test_pkglen_decode(b.data + mark, &n);
		ck_assert_uint_eq(v, body + n);
		ck_assert_int_eq((int)n, min_width((uint32_t)(body + n)));
		ck_assert_uint_eq(b.len, mark + n + body);
		ck_assert_mem_eq(b.data + mark + n, "DEV0", 4);
		if (body == 59)
			ck_assert_uint_eq(n, 1);
		if (body == 63 || body == 4093)
			ck_assert_uint_eq(n, 2);
		if (body == 4094 || body == 0xffffc)
			ck_assert_uint_eq(n, 3);
		if (body == 0xffffd)
			ck_assert_uint_eq(n, 4);
		cvmm_acpi_buf_fini(&b);
	}
	free(junk);
}
END_TEST

START_TEST(aml_integers)
{
	struct cvmm_acpi_buf b;
	static const struct { uint64_t v; size_t n; uint8_t enc[9]; } cases[] = {
		{ 0, 1, { 0x00 } },
		{ 1, 1, { 0x01 } },
		{ 2, 2, { 0x0a, 0x02 } },
		{ 0xff, 2, { 0x0a, 0xff } },
		{ 0x100, 3, { 0x0b, 0x00, 0x01 } },
		{ 0xffff, 3, { 0x0b, 0xff, 0xff } },
		{ 0x10000, 5, { 0x0c, 0x00, 0x00, 0x01, 0x00 } },
		{ 0xffffffff, 5, { 0x0c, 0xff, 0xff, 0xff, 0xff } },
		{ 0x100000000ull, 9, { 0x0e, 0, 0, 0, 0, 1, 0, 0, 0 } },
		{ UINT64_MAX, 9, { 0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cvmm_acpi_buf_init(&b, 0);
		ck_assert_int_eq(cvmm_aml_integer(&b, cases[i].v), 0);
		expect_bytes(&b, cases[i].enc, cases[i].n);
	}
}
END_TEST

START_TEST(aml_names)
{
	struct cvmm_acpi_buf b;
	static const char *const bad[] = { "", "1ABC", "ABCDE", "A..B", "A.", ".A", "a",
					   "\\^A", "^\\A", "AB-C", "\\_SB.", "_SB .X" };

	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_name_string(&b, "_HID"), 0);
	expect_bytes(&b, "_HID", 4);
	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_name_string(&b, "COM"), 0);
	expect_bytes(&b, "COM_", 4);
	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_name_string(&b, "\\_SB.COM1"), 0);
	expect_bytes(&b, "\\\x2e_SB_COM1", 10);
	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_name_string(&b, "\\_SB.PCI0.ISA"), 0);
	expect_bytes(&b, "\\\x2f\x03_SB_PCI0ISA_", 15);
	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_name_string(&b, "^^FOO"), 0);
	expect_bytes(&b, "^^FOO_", 6);
	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_name_string(&b, "\\"), 0);
	expect_bytes(&b, "\\\0", 2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cvmm_acpi_buf_init(&b, 0);
		ck_assert_int_eq(cvmm_aml_name_string(&b, bad[i]), -EINVAL);
		ck_assert_uint_eq(b.len, 0);
		/* Sticky: the next valid call fails too. */
		ck_assert_int_eq(cvmm_aml_integer(&b, 5), -EINVAL);
		ck_assert_int_eq(cvmm_acpi_buf_error(&b), -EINVAL);
		cvmm_acpi_buf_fini(&b);
	}
	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_name_string(&b, NULL), -EINVAL);
	cvmm_acpi_buf_fini(&b);
}
END_TEST

START_TEST(aml_strings_eisaid_buffers)
{
	struct cvmm_acpi_buf b;
	static const uint8_t buf5[] = { 0x11, 0x08, 0x0a, 0x05, 1, 2, 3, 4, 5 };
	uint8_t big[300];

	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_string(&b, "LNRO0005"), 0);
	expect_bytes(&b, "\x0dLNRO0005", 10);
	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_string(&b, "\xc3\xa9"), -EINVAL);
	cvmm_acpi_buf_fini(&b);
	/* EisaId("PNP0501") is the DWord 0x0105D041. */
	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_eisaid(&b, "PNP0501"), 0);
	expect_bytes(&b, "\x0c\x41\xd0\x05\x01", 5);
	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_eisaid(&b, "PNP0B00"), 0);
	expect_bytes(&b, "\x0c\x41\xd0\x0b\x00", 5);
	static const char *const bad[] = { "pnp0501", "PNP050G", "PNP05011", "PNP050", "1NP0501" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cvmm_acpi_buf_init(&b, 0);
		ck_assert_int_eq(cvmm_aml_eisaid(&b, bad[i]), -EINVAL);
		cvmm_acpi_buf_fini(&b);
	}
	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_buffer(&b, "\1\2\3\4\5", 5), 0);
	expect_bytes(&b, buf5, sizeof(buf5));
	/* 300 bytes: Word size prefix and a 2-byte PkgLength. */
	memset(big, 0x77, sizeof(big));
	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_buffer(&b, big, sizeof(big)), 0);
	{
		unsigned int n;
		uint32_t v = test_pkglen_decode(b.data + 1, &n);

		ck_assert_uint_eq(b.data[0], 0x11);
		ck_assert_uint_eq(n, 2);
		ck_assert_uint_eq(v, b.len - 1);
		ck_assert_uint_eq(b.data[1 + n], 0x0b);
		ck_assert_uint_eq(test_le(b.data + 2 + n, 2), sizeof(big));
		ck_assert_mem_eq(b.data + 4 + n, big, sizeof(big));
	}
	cvmm_acpi_buf_fini(&b);
	/* Empty buffer: Buffer(Zero){}. */
	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_buffer(&b, NULL, 0), 0);
	expect_bytes(&b, "\x11\x02\x00", 3);
}
END_TEST

START_TEST(aml_package_method_device)
{
	struct cvmm_acpi_buf b;
	size_t pkg, dev, m;
	/* Name(_S5_, Package(){5, 0}) */
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x05, 0x02, 0x0a, 0x05, 0x00 };
	/* Device(DEV0){ Method(_STA){ Return(0x0F) } } */
	static const uint8_t devm[] = { 0x5b, 0x82, 0x0f, 'D', 'E', 'V', '0',
					0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f };

	cvmm_acpi_buf_init(&b, 0);
	cvmm_aml_name(&b, "_S5_");
	pkg = cvmm_aml_package_begin(&b);
	cvmm_aml_integer(&b, 5);
	cvmm_aml_integer(&b, 0);
	ck_assert_int_eq(cvmm_aml_package_end(&b, pkg, 2), 0);
	expect_bytes(&b, s5, sizeof(s5));

	cvmm_acpi_buf_init(&b, 0);
	dev = cvmm_aml_device_begin(&b, "DEV0");
	m = cvmm_aml_method_begin(&b, "_STA", 0, false);
	cvmm_aml_return(&b);
	cvmm_aml_integer(&b, 0x0f);
	ck_assert_int_eq(cvmm_aml_end(&b, m), 0);
	ck_assert_int_eq(cvmm_aml_end(&b, dev), 0);
	expect_bytes(&b, devm, sizeof(devm));

	cvmm_acpi_buf_init(&b, 0);
	cvmm_aml_method_begin(&b, "MTH0", 8, false);
	ck_assert_int_eq(cvmm_acpi_buf_error(&b), -EINVAL);
	cvmm_acpi_buf_fini(&b);
	cvmm_acpi_buf_init(&b, 0);
	m = cvmm_aml_method_begin(&b, "MTH1", 7, true);
	ck_assert_int_eq(cvmm_aml_end(&b, m), 0);
	ck_assert_uint_eq(b.data[b.len - 1], 0x0f);
	cvmm_acpi_buf_fini(&b);

	cvmm_acpi_buf_init(&b, 0);
	pkg = cvmm_aml_package_begin(&b);
	for (int i = 0; i < 256; i++)
		cvmm_aml_integer(&b, 0);
	ck_assert_int_eq(cvmm_aml_package_end(&b, pkg, 256), -E2BIG);
	cvmm_acpi_buf_fini(&b);
	cvmm_acpi_buf_init(&b, 0);
	cvmm_aml_integer(&b, 2);
	ck_assert_int_eq(cvmm_aml_end(&b, 100), -EINVAL); /* mark past the end */
	cvmm_acpi_buf_fini(&b);
}
END_TEST

START_TEST(aml_resources)
{
	struct cvmm_acpi_buf b;
	size_t rt;
	const uint8_t *p;

	cvmm_acpi_buf_init(&b, 0);
	rt = cvmm_aml_restemplate_begin(&b);
	cvmm_aml_res_io(&b, 0x3f8, 0x3f8, 1, 8);
	cvmm_aml_res_irq_noflags(&b, 4);
	cvmm_aml_res_memory32_fixed(&b, true, 0xd0000000, 0x200);
	cvmm_aml_res_interrupt(&b, CVMM_AML_INT_CONSUMER | CVMM_AML_INT_EDGE, 5);
	cvmm_aml_res_qword_memory(&b, true, false, 0x100000000ull, 0x1000);
	ck_assert_int_eq(cvmm_aml_restemplate_end(&b, rt), 0);
	/* BufferOp, 2-byte PkgLength (body > 63), ByteConst size, items. */
	ck_assert_uint_eq(b.data[0], 0x11);
	ck_assert_uint_eq(b.data[3], 0x0a);
	ck_assert_uint_eq(b.data[4], 8 + 3 + 12 + 9 + 46 + 2);
	p = b.data + 5;
	ck_assert_mem_eq(p, "\x47\x01\xf8\x03\xf8\x03\x01\x08", 8);
	p += 8;
	ck_assert_mem_eq(p, "\x22\x10\x00", 3);
	p += 3;
	ck_assert_mem_eq(p, "\x86\x09\x00\x01\x00\x00\x00\xd0\x00\x02\x00\x00", 12);
	p += 12;
	ck_assert_mem_eq(p, "\x89\x06\x00\x03\x01\x05\x00\x00\x00", 9);
	p += 9;
	ck_assert_uint_eq(p[0], 0x8a);
	ck_assert_uint_eq(test_le(p + 1, 2), 43);
	ck_assert_uint_eq(test_le(p + 14, 8), 0x100000000ull);
	ck_assert_uint_eq(test_le(p + 22, 8), 0x100000fffull);
	ck_assert_uint_eq(test_le(p + 38, 8), 0x1000);
	p += 46;
	ck_assert_mem_eq(p, "\x79\x00", 2);
	ck_assert_uint_eq((size_t)(p + 2 - b.data), b.len);
	cvmm_acpi_buf_fini(&b);

	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_res_irq_noflags(&b, 16), -EINVAL);
	cvmm_acpi_buf_fini(&b);
	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_res_interrupt(&b, 0x20, 1), -EINVAL);
	cvmm_acpi_buf_fini(&b);
	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_res_qword_memory(&b, true, true, UINT64_MAX, 2), -EINVAL);
	cvmm_acpi_buf_fini(&b);
	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_res_qword_memory(&b, true, true, 0, 0), -EINVAL);
	cvmm_acpi_buf_fini(&b);
	cvmm_acpi_buf_init(&b, 0);
	ck_assert_int_eq(cvmm_aml_res_qword_memory(&b, true, true, UINT64_MAX, 1), 0);
	cvmm_acpi_buf_fini(&b);
}
END_TEST

START_TEST(buf_cap_e2big)
{
	struct cvmm_acpi_buf b;
	uint8_t junk[200] = { 0 };
	int r = 0;
	unsigned int devices = 0;

	cvmm_acpi_buf_init(&b, 100);
	ck_assert_int_eq(cvmm_acpi_buf_append(&b, junk, 101), -E2BIG);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(cvmm_acpi_buf_u8(&b, 1), -E2BIG);
	ck_assert_uint_eq(b.len, 0);
	cvmm_acpi_buf_fini(&b);

	cvmm_acpi_buf_init(&b, 100);
	ck_assert_int_eq(cvmm_acpi_buf_u8(&b, 1), 0);
	ck_assert_uint_le(b.cap, 100); /* the first allocation respects the cap too */
	ck_assert_int_eq(cvmm_acpi_buf_append(&b, junk, 99), 0);
	ck_assert_int_eq(cvmm_acpi_buf_u8(&b, 1), -E2BIG);
	ck_assert_uint_eq(b.len, 100);
	cvmm_acpi_buf_fini(&b);

	/* Devices until the cap: -E2BIG, never a write past it. */
	cvmm_acpi_buf_init(&b, 4096);
	while (!r) {
		size_t d = cvmm_aml_device_begin(&b, "DEV0"), rt;

		cvmm_aml_name(&b, "_CRS");
		rt = cvmm_aml_restemplate_begin(&b);
		cvmm_aml_res_memory32_fixed(&b, true, 0x1000, 0x200);
		cvmm_aml_restemplate_end(&b, rt);
		r = cvmm_aml_end(&b, d);
		ck_assert_uint_le(b.len, 4096);
		ck_assert_uint_le(b.cap, 4096);
		devices += !r;
	}
	ck_assert_int_eq(r, -E2BIG);
	ck_assert_uint_gt(devices, 50);
	cvmm_acpi_buf_fini(&b);

	/* The PkgLength insert itself can be what passes the cap. */
	cvmm_acpi_buf_init(&b, 70);
	{
		size_t d = cvmm_aml_device_begin(&b, "DEV0");

		cvmm_acpi_buf_append(&b, junk, 70 - 2 - 4);
		ck_assert_uint_eq(b.len, 70);
		ck_assert_int_eq(cvmm_aml_end(&b, d), -E2BIG);
		ck_assert_uint_eq(b.len, 70);
	}
	cvmm_acpi_buf_fini(&b);
	cvmm_acpi_buf_fini(NULL);
}
END_TEST

START_TEST(table_header)
{
	struct cvmm_acpi_buf b;
	size_t t;

	cvmm_acpi_buf_init(&b, 0);
	cvmm_acpi_buf_u8(&b, 0xee); /* tables need not start at 0 */
	t = cvmm_acpi_table_begin(&b, "TEST", 3, "ABCDEFGH", NULL);
	ck_assert_uint_eq(t, 1);
	cvmm_acpi_buf_u32(&b, 0xdeadbeef);
	ck_assert_int_eq(cvmm_acpi_table_end(&b, t), 0);
	ck_assert_uint_eq(b.len, 41);
	ck_assert_mem_eq(b.data + 1, "TEST", 4);
	ck_assert_uint_eq(test_le(b.data + 5, 4), 40);
	ck_assert_uint_eq(b.data[9], 3);
	ck_assert_mem_eq(b.data + 11, "ABCDEF", 6); /* truncated to 6 */
	ck_assert_mem_eq(b.data + 17, "CVMMTEST", 8);
	ck_assert_uint_eq(cvmm_acpi_sum(b.data + 1, 40), 0);
	ck_assert_int_eq(cvmm_acpi_table_end(&b, 10), -EINVAL); /* shorter than a header */
	cvmm_acpi_buf_fini(&b);
	cvmm_acpi_buf_init(&b, 0);
	cvmm_acpi_table_begin(&b, "LONGER", 1, NULL, NULL);
	ck_assert_int_eq(cvmm_acpi_buf_error(&b), -EINVAL);
	cvmm_acpi_buf_fini(&b);
}
END_TEST

static bool contains(const uint8_t *p, size_t len, const void *needle, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(p + i, needle, n))
			return true;
	return false;
}

static unsigned int count(const uint8_t *p, size_t len, const void *needle, size_t n)
{
	unsigned int c = 0;

	for (size_t i = 0; i + n <= len; i++)
		c += !memcmp(p + i, needle, n);
	return c;
}

START_TEST(build_pointers_checksums)
{
	struct cvmm_acpi_config cfg;
	struct cvmm_acpi_tables t;
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt, *e;
	size_t xlen;
	unsigned int lapics = 0, ioapics = 0, isos = 0, nmis = 0;

	test_config(&cfg);
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), 0);
	ck_assert_uint_eq(t.gpa, 0xe0000);
	ck_assert_uint_le(t.gpa + t.len, 0x100000);
	rsdp = t.data;
	ck_assert_mem_eq(rsdp, "RSD PTR ", 8);
	ck_assert_uint_eq(cvmm_acpi_sum(rsdp, 20), 0);
	ck_assert_uint_eq(cvmm_acpi_sum(rsdp, 36), 0);
	ck_assert_uint_eq(rsdp[15], 2);
	ck_assert_uint_eq(test_le(rsdp + 20, 4), 36);
	ck_assert_uint_eq(test_le(rsdp + 16, 4), 0);

	xsdt = test_table_at(&t, test_le(rsdp + 24, 8));
	ck_assert_ptr_nonnull(xsdt);
	ck_assert_uint_eq(test_le(rsdp + 24, 8), t.xsdt_gpa);
	ck_assert_mem_eq(xsdt, "XSDT", 4);
	xlen = test_le(xsdt + 4, 4);
	ck_assert_uint_eq(cvmm_acpi_sum(xsdt, xlen), 0);
	ck_assert_uint_eq(xlen, 36 + 16);
	fadt = test_table_at(&t, test_le(xsdt + 36, 8));
	madt = test_table_at(&t, test_le(xsdt + 44, 8));
	ck_assert_ptr_nonnull(fadt);
	ck_assert_ptr_nonnull(madt);
	ck_assert_mem_eq(fadt, "FACP", 4);
	ck_assert_mem_eq(madt, "APIC", 4);
	ck_assert_uint_eq(test_le(fadt + 4, 4), 276);
	ck_assert_uint_eq(cvmm_acpi_sum(fadt, 276), 0);
	ck_assert_uint_eq(cvmm_acpi_sum(madt, test_le(madt + 4, 4)), 0);
	/* FADT: hardware-reduced, X_DSDT (and the 32-bit copy), sleep registers. */
	ck_assert_uint_eq(test_le(fadt + 112, 4) & (1u << 20), 1u << 20);
	ck_assert_uint_eq(test_le(fadt + 112, 4) & (1u << 10), 1u << 10);
	ck_assert_uint_eq(test_le(fadt + 140, 8), t.dsdt_gpa);
	ck_assert_uint_eq(test_le(fadt + 40, 4), t.dsdt_gpa);
	ck_assert_uint_eq(fadt[244], CVMM_ACPI_GAS_IO);
	ck_assert_uint_eq(fadt[245], 8);
	ck_assert_uint_eq(test_le(fadt + 248, 8), 0x600);
	ck_assert_uint_eq(test_le(fadt + 260, 8), 0x601);
	ck_assert_uint_eq(test_le(fadt + 120, 8), 0x602);
	ck_assert_uint_eq(fadt[128], 0x0f);
	ck_assert_uint_eq(fadt[108], 0x32);
	ck_assert_uint_eq(test_le(fadt + 109, 2) & 0x2, 0x2);
	dsdt = test_table_at(&t, test_le(fadt + 140, 8));
	ck_assert_ptr_nonnull(dsdt);
	ck_assert_mem_eq(dsdt, "DSDT", 4);
	ck_assert_uint_eq(test_le(dsdt + 4, 4), t.dsdt_len);
	ck_assert_uint_eq(cvmm_acpi_sum(dsdt, t.dsdt_len), 0);
	ck_assert_uint_eq(dsdt[8], 2);
	ck_assert_uint_eq(t.dsdt_gpa - t.gpa + t.dsdt_len, t.len);
	ck_assert_uint_eq(count(dsdt, t.dsdt_len, "\x0dLNRO0005", 10), 3);
	ck_assert(contains(dsdt, t.dsdt_len, "\x0c\x41\xd0\x05\x01", 5)); /* PNP0501 */
	ck_assert(contains(dsdt, t.dsdt_len, "\x08_S5_\x12", 6));
	/* MADT walk: every entry inside the table, the counts as configured. */
	ck_assert_uint_eq(test_le(madt + 36, 4), 0xfee00000);
	for (e = madt + 44; e < madt + test_le(madt + 4, 4); e += e[1]) {
		ck_assert_uint_ge(e[1], 2);
		ck_assert(e + e[1] <= madt + test_le(madt + 4, 4));
		switch (e[0]) {
		case 0:
			ck_assert_uint_eq(e[3], lapics);
			ck_assert_uint_eq(e[4] & 1, 1);
			lapics++;
			break;
		case 1:
			ck_assert_uint_eq(e[2], 4);
			ck_assert_uint_eq(test_le(e + 4, 4), 0xfec00000);
			ioapics++;
			break;
		case 2:
			ck_assert_uint_eq(e[3], test_isos[isos].source);
			ck_assert_uint_eq(test_le(e + 4, 4), test_isos[isos].gsi);
			ck_assert_uint_eq(test_le(e + 8, 2), test_isos[isos].flags);
			isos++;
			break;
		case 4:
			nmis++;
			break;
		default:
			ck_abort_msg("unexpected MADT entry %u", e[0]);
		}
	}
	ck_assert_uint_eq(lapics, 4);
	ck_assert_uint_eq(ioapics, 1);
	ck_assert_uint_eq(isos, 2);
	ck_assert_uint_eq(nmis, 1);
	cvmm_acpi_tables_fini(&t);
	ck_assert_ptr_null(t.data);
	cvmm_acpi_tables_fini(&t);
	cvmm_acpi_tables_fini(NULL);

	/* Anywhere above 4 GiB: the 32-bit DSDT field stays 0. */
	cfg.gpa = 0x200000000ull;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), 0);
	fadt = test_table_at(&t, t.fadt_gpa);
	ck_assert_ptr_nonnull(fadt);
	ck_assert_uint_eq(test_le(fadt + 40, 4), 0);
	ck_assert_uint_eq(test_le(fadt + 140, 8), t.dsdt_gpa);
	cvmm_acpi_tables_fini(&t);
}
END_TEST

START_TEST(build_rejects)
{
	struct cvmm_acpi_config cfg;
	struct cvmm_acpi_tables t;
	struct cvmm_acpi_virtio_mmio v[2];
	static struct cvmm_acpi_virtio_mmio many[CVMM_ACPI_MAX_VIRTIO + 1];

#define EXPECT(err, stmt)                                        \
	do {                                                     \
		test_config(&cfg);                               \
		stmt;                                            \
		ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), err); \
		ck_assert_ptr_null(t.data);                      \
	} while (0)
	EXPECT(-EINVAL, cfg.sz = 8);
	EXPECT(-EINVAL, cfg.num_cpus = 0);
	EXPECT(-EINVAL, cfg.num_cpus = 256);
	EXPECT(-EINVAL, cfg.gpa = 0xe0008);
	EXPECT(-EINVAL, cfg.sleep_control.address = 0);
	EXPECT(-EINVAL, cfg.sleep_status.address = 0);
	EXPECT(-EINVAL, cfg.sleep_status.space_id = 7);
	EXPECT(-EINVAL, cfg.gpa = 0xffff0);          /* would cross 1 MiB */
	EXPECT(-EINVAL, cfg.gpa = UINT64_MAX - 15);  /* would wrap */
	EXPECT(-EINVAL, cfg.oem_id = "TOOLONG");
	EXPECT(-EINVAL, cfg.virtio = NULL);
	EXPECT(-EINVAL, cfg.overrides = NULL);
	EXPECT(-EINVAL, cfg.serial_port = 0xfffc);
	v[0] = test_virtio[0];
	v[1] = (struct cvmm_acpi_virtio_mmio){ .base = 0x1000, .size = 0 };
	EXPECT(-EINVAL, cfg.virtio = v; cfg.num_virtio = 2);
	v[1] = (struct cvmm_acpi_virtio_mmio){ .base = UINT64_MAX - 10, .size = 0x200 };
	EXPECT(-EINVAL, cfg.virtio = v; cfg.num_virtio = 2);
	EXPECT(-E2BIG, cfg.virtio = many; cfg.num_virtio = CVMM_ACPI_MAX_VIRTIO + 1);
#undef EXPECT
	ck_assert_int_eq(cvmm_acpi_build(NULL, &t), -EINVAL);
	test_config(&cfg);
	ck_assert_int_eq(cvmm_acpi_build(&cfg, NULL), -EINVAL);
	/* The maximum device count builds (above 1 MiB: it is ~400 KiB). */
	for (unsigned int i = 0; i < CVMM_ACPI_MAX_VIRTIO; i++)
		many[i] = (struct cvmm_acpi_virtio_mmio){ .base = 0xd0000000ull + i * 0x1000ull,
							  .size = 0x200, .gsi = 5 + i % 19 };
	cfg.virtio = many;
	cfg.num_virtio = CVMM_ACPI_MAX_VIRTIO;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), -EINVAL); /* too big for the BIOS area */
	cfg.gpa = 0x100000;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), 0);
	ck_assert_uint_eq(cvmm_acpi_sum(t.data + (t.dsdt_gpa - t.gpa), t.dsdt_len), 0);
	/* Scope(\_SB) right after the header now needs a 3-byte PkgLength. */
	ck_assert_uint_gt(t.dsdt_len, 0x10000);
	ck_assert_uint_eq(t.data[t.dsdt_gpa - t.gpa + 36], 0x10);
	ck_assert_uint_eq(t.data[t.dsdt_gpa - t.gpa + 37] >> 6, 2);
	cvmm_acpi_tables_fini(&t);
}
END_TEST

/* The VIOT: a virtio-iommu node at 00:01.0 and two PCI ranges pointing at
 * it, its XSDT entry after MCFG's, every checksum; refused configurations.
 * (Debian 12's iasl, 20200925, predates VIOT: checked byte by byte.) */
START_TEST(build_viot)
{
	static const struct cvmm_acpi_pci_irq irqs[] = { { 1, 5 }, { 2, 6 } };
	struct cvmm_acpi_pci pci = {
		.ecam_base = 0xd0000000, .mmio32_base = 0xd4000000, .mmio32_size = 64 << 20,
		.irqs = irqs, .num_irqs = 2,
	};
	struct cvmm_acpi_viot_endpoint eps[] = { { 0x10, 0x10, 0x10 }, { 0x18, 0x1f, 0x18 } };
	struct cvmm_acpi_viot viot = { .iommu_bdf = 0x08, .ranges = eps, .num_ranges = 2 };
	struct cvmm_acpi_config cfg;
	struct cvmm_acpi_tables t;
	const uint8_t *v, *xsdt, *n;
	uint8_t sum = 0;

	test_config(&cfg);
	cfg.pci = &pci;
	cfg.viot = &viot;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), 0);
	ck_assert_uint_ne(t.viot_gpa, 0);
	xsdt = test_table_at(&t, t.xsdt_gpa);
	ck_assert_uint_eq(test_le(xsdt + 4, 4), 36 + 4 * 8);
	ck_assert_uint_eq(test_le(xsdt + 36 + 16, 8), t.mcfg_gpa);
	ck_assert_uint_eq(test_le(xsdt + 36 + 24, 8), t.viot_gpa);
	for (unsigned int i = 0; i < 36 + 4 * 8; i++)
		sum += xsdt[i];
	ck_assert_uint_eq(sum, 0);
	v = test_table_at(&t, t.viot_gpa);
	ck_assert_mem_eq(v, "VIOT", 4);
	ck_assert_uint_eq(test_le(v + 4, 4), 48 + 16 + 2 * 24);
	sum = 0;
	for (unsigned int i = 0; i < 48 + 16 + 2 * 24; i++)
		sum += v[i];
	ck_assert_uint_eq(sum, 0);
	ck_assert_uint_eq(test_le(v + 36, 2), 3);   /* node_count */
	ck_assert_uint_eq(test_le(v + 38, 2), 48);  /* node_offset */
	n = v + 48;                                 /* virtio-iommu PCI node */
	ck_assert_uint_eq(n[0], 3);
	ck_assert_uint_eq(test_le(n + 2, 2), 16);
	ck_assert_uint_eq(test_le(n + 4, 2), 0);
	ck_assert_uint_eq(test_le(n + 6, 2), 0x08);
	n = v + 64 + 24;                            /* second PCI range */
	ck_assert_uint_eq(n[0], 1);
	ck_assert_uint_eq(test_le(n + 2, 2), 24);
	ck_assert_uint_eq(test_le(n + 4, 4), 0x18);
	ck_assert_uint_eq(test_le(n + 12, 2), 0x18);
	ck_assert_uint_eq(test_le(n + 14, 2), 0x1f);
	ck_assert_uint_eq(test_le(n + 16, 2), 48);  /* output node: the IOMMU */
	cvmm_acpi_tables_fini(&t);

	/* refused: the IOMMU inside a range, a reversed range, no ranges,
	 * too many, no PCI */
	eps[1].bdf_start = 0x08;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), -EINVAL);
	eps[1].bdf_start = 0x20;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), -EINVAL);
	eps[1].bdf_start = 0x18;
	viot.num_ranges = 0;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), -EINVAL);
	viot.num_ranges = CVMM_ACPI_VIOT_MAX_RANGES + 1;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), -EINVAL);
	viot.num_ranges = 2;
	cfg.pci = NULL;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), -EINVAL);
}
END_TEST

START_TEST(sleep_value)
{
	ck_assert_uint_eq(CVMM_ACPI_SLEEP_S5_VALUE, 0x34);
	ck_assert(cvmm_acpi_sleep_is_poweroff(0x34));
	ck_assert(cvmm_acpi_sleep_is_poweroff(0x35)); /* reserved bits ignored */
	ck_assert(!cvmm_acpi_sleep_is_poweroff(0x14)); /* SLP_EN clear */
	ck_assert(!cvmm_acpi_sleep_is_poweroff(0x2c)); /* S3 */
	ck_assert(!cvmm_acpi_sleep_is_poweroff(0));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acpi-tables");
	TCase *aml = tcase_create("aml"), *tables = tcase_create("tables");

	tcase_set_timeout(aml, 60);
	tcase_add_test(aml, pkglen_boundaries);
	tcase_add_test(aml, pkglen_builder_edges);
	tcase_add_test(aml, aml_integers);
	tcase_add_test(aml, aml_names);
	tcase_add_test(aml, aml_strings_eisaid_buffers);
	tcase_add_test(aml, aml_package_method_device);
	tcase_add_test(aml, aml_resources);
	tcase_add_test(aml, buf_cap_e2big);
	tcase_add_test(aml, table_header);
	suite_add_tcase(s, aml);
	tcase_set_timeout(tables, 60);
	tcase_add_test(tables, build_pointers_checksums);
	tcase_add_test(tables, build_rejects);
	tcase_add_test(tables, sleep_value);
	tcase_add_test(tables, build_viot);
	suite_add_tcase(s, tables);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
