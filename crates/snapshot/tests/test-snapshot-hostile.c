/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hostile streams: each is refused whole at open, with the specific errno
 * and an error naming the section and/or field. Streams with valid CRCs but
 * a bad structure are built byte by byte here, since the writer refuses to
 * make them.
 */
#include <cvmm/snapshot.h>
#include "cvmm-test.h"
#include "snapshot-tests.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct raw {
	uint8_t b[8192];
	size_t n;
	uint32_t headers_crc;
	uint32_t count;
};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static void raw_header(struct raw *r, uint32_t version, uint32_t flags, uint32_t count)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->b, "CVMMSTAT", 8);
	put32(r->b + 8, version);
	put32(r->b + 12, flags);
	put32(r->b + 16, count);
	put32(r->b + 20, cvmm_snap_crc32c(0, r->b, 20));
	r->n = 24;
}

/* A section with the id field given as 48 raw bytes and any length field. */
static void raw_section_bytes(struct raw *r, const uint8_t id[48], uint32_t version,
			      uint32_t reserved, uint64_t len_field, const void *data, size_t len)
{
	uint8_t *h = r->b + r->n;

	memcpy(h, id, 48);
	put32(h + 48, version);
	put32(h + 52, reserved);
	put64(h + 56, len_field);
	put32(h + 64, cvmm_snap_crc32c(0, data, len));
	put32(h + 68, cvmm_snap_crc32c(0, h, 68));
	r->headers_crc = cvmm_snap_crc32c(r->headers_crc, h, 68);
	r->count++;
	r->n += 72;
	memcpy(r->b + r->n, data, len);
	r->n += (len + 7) & ~(size_t)7;
}

static void raw_section(struct raw *r, const char *id, uint32_t version, const void *data, size_t len)
{
	uint8_t f[48] = { 0 };

	memcpy(f, id, strlen(id));
	raw_section_bytes(r, f, version, 0, len, data, len);
}

static void raw_end_with(struct raw *r, uint32_t count, uint32_t headers_crc)
{
	uint8_t *e = r->b + r->n;

	memcpy(e, "\xff" "CVMMEND", 8);
	put32(e + 8, count);
	put32(e + 12, headers_crc);
	put32(e + 16, 0);
	put32(e + 20, cvmm_snap_crc32c(0, e, 20));
	r->n += 24;
}

static void raw_end(struct raw *r)
{
	raw_end_with(r, r->count, r->headers_crc);
}

/* Open @r, expect @want; check the error names what it should. */
#define refused(r, want, section, field) refused_at(__LINE__, r, want, section, field)
static struct cvmm_snap_error refused_at(int line_no, const struct raw *r, int want,
					 const char *section, const char *field)
{
	struct cvmm_snap_reader *rd = (void *)1;
	struct cvmm_snap_error e;
	char line[CVMM_SNAP_ERROR_LINE];

	memset(&e, 0, sizeof(e));
	int ret = cvmm_snap_reader_open(r->b, r->n, &rd, &e);

	ck_assert_msg(ret == want, "line %d: %d, want %d (%s)", line_no, ret, want,
		      cvmm_snap_error_format(&e, line, sizeof(line)));
	ck_assert_ptr_null(rd);
	ck_assert_msg(strcmp(e.section, section) == 0, "section '%s', want '%s' (%s)", e.section,
		      section, cvmm_snap_error_format(&e, line, sizeof(line)));
	ck_assert_msg(strcmp(e.field, field) == 0, "field '%s', want '%s' (%s)", e.field, field,
		      cvmm_snap_error_format(&e, line, sizeof(line)));
	ck_assert(e.msg[0]);
	return e;
}

static const uint8_t pl[16] = "0123456789abcdef";

START_TEST(raw_builder_matches_writer)
{
	struct raw r;
	struct cvmm_snap_reader *rd;
	uint8_t *buf;
	size_t len;

	/* The test's own builder makes exactly what the writer makes. */
	snap_test_stream(3, &buf, &len);
	raw_header(&r, 1, 0, 3);
	ck_assert_int_eq(cvmm_snap_reader_open(buf, len, &rd, NULL), 0);
	for (unsigned int i = 0; i < 3; i++) {
		struct cvmm_snap_section s;

		ck_assert_int_eq(cvmm_snap_reader_at(rd, i, &s), 0);
		raw_section(&r, s.id, i + 1, s.data, s.len);
	}
	cvmm_snap_reader_destroy(rd);
	raw_end(&r);
	ck_assert_uint_eq(r.n, len);
	ck_assert(memcmp(r.b, buf, len) == 0);
	free(buf);
}
END_TEST

START_TEST(truncated_at_every_byte)
{
	uint8_t *buf;
	size_t len;
	struct cvmm_snap_reader *rd;
	struct cvmm_snap_error e;
	char line[CVMM_SNAP_ERROR_LINE];

	snap_test_stream(4, &buf, &len);
	ck_assert_int_eq(cvmm_snap_reader_open(buf, len, &rd, &e), 0);
	cvmm_snap_reader_destroy(rd);
	for (size_t cut = 0; cut < len; cut++) {
		memset(&e, 0, sizeof(e));
		ck_assert_msg(cvmm_snap_reader_open(buf, cut, &rd, &e) == -ENODATA,
			      "cut at %zu: %s", cut, cvmm_snap_error_format(&e, line, sizeof(line)));
		ck_assert_ptr_null(rd);
		ck_assert_msg(e.section[0] || e.field[0], "cut at %zu names nothing", cut);
	}
	/* At a section boundary: the end marker is missing, the last section named. */
	ck_assert_int_eq(cvmm_snap_reader_open(buf, len - 24, &rd, &e), -ENODATA);
	ck_assert_str_eq(e.field, "end");
	ck_assert(strstr(e.msg, "'sec/3'") != NULL);
	free(buf);
}
END_TEST

START_TEST(bit_flip_in_every_byte)
{
	uint8_t *buf;
	size_t len;
	struct cvmm_snap_reader *rd;
	struct cvmm_snap_error e;
	char line[CVMM_SNAP_ERROR_LINE];

	snap_test_stream(4, &buf, &len);
	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++) {
			int ret;

			buf[i] ^= (uint8_t)(1u << bit);
			memset(&e, 0, sizeof(e));
			ret = cvmm_snap_reader_open(buf, len, &rd, &e);
			buf[i] ^= (uint8_t)(1u << bit);
			ck_assert_msg(ret < 0, "flip of bit %d at byte %zu accepted", bit, i);
			ck_assert_ptr_null(rd);
			ck_assert_msg(e.field[0] && e.msg[0], "byte %zu bit %d: %s", i, bit,
				      cvmm_snap_error_format(&e, line, sizeof(line)));
			/* A payload byte: the section is named along with its CRC. */
			if (i >= 24 + 72 + 72 + 8 + 72 && i < 24 + 72 + 72 + 8 + 72 + 14) {
				ck_assert_int_eq(ret, -EBADMSG);
				ck_assert_str_eq(e.section, "sec/2");
				ck_assert_str_eq(e.field, "payload_crc");
			}
		}
	free(buf);
}
END_TEST

START_TEST(future_format_version_and_flags)
{
	struct raw r;
	struct cvmm_snap_error e;

	raw_header(&r, 2, 0, 1);
	raw_section(&r, "a", 1, pl, 8);
	raw_end(&r);
	e = refused(&r, -EPROTONOSUPPORT, "", "header.version");
	ck_assert_str_eq(e.msg, "format version 2 is newer than this cvmm (1)");
	raw_header(&r, 0, 0, 1);
	raw_section(&r, "a", 1, pl, 8);
	raw_end(&r);
	refused(&r, -EBADMSG, "", "header.version");
	raw_header(&r, 1, 4, 1);
	raw_section(&r, "a", 1, pl, 8);
	raw_end(&r);
	refused(&r, -EPROTONOSUPPORT, "", "header.flags");
}
END_TEST

START_TEST(future_section_version)
{
	struct raw r;
	struct cvmm_snap_reader *rd;
	struct cvmm_snap_section s;
	struct cvmm_snap_error e;
	char line[CVMM_SNAP_ERROR_LINE];

	raw_header(&r, 1, 0, 1);
	raw_section(&r, "irqchip/ioapic", 3, pl, 16);
	raw_end(&r);
	/* The framing is fine; the restore code refuses the layout it does not know. */
	ck_assert_int_eq(cvmm_snap_reader_open(r.b, r.n, &rd, &e), 0);
	ck_assert_int_eq(cvmm_snap_reader_require(rd, "irqchip/ioapic", 2, &s, &e), -EPROTONOSUPPORT);
	ck_assert_str_eq(cvmm_snap_error_format(&e, line, sizeof(line)),
			 "state section 'irqchip/ioapic' field 'version': version 3 is newer than this cvmm (2)");
	cvmm_snap_reader_destroy(rd);
}
END_TEST

START_TEST(duplicate_id)
{
	struct raw r;
	struct cvmm_snap_error e;

	raw_header(&r, 1, 0, 3);
	raw_section(&r, "vcpu/0", 1, pl, 8);
	raw_section(&r, "vcpu/1", 1, pl, 8);
	raw_section(&r, "vcpu/0", 1, pl, 16);
	raw_end(&r);
	e = refused(&r, -EEXIST, "vcpu/0", "id");
	ck_assert_str_eq(e.msg, "appears twice (sections 0 and 2)");
}
END_TEST

START_TEST(overlong_and_bad_ids)
{
	struct raw r;
	uint8_t id[48];
	struct cvmm_snap_error e;

	/* 48 characters, no NUL. */
	memset(id, 'q', sizeof(id));
	raw_header(&r, 1, 0, 1);
	raw_section_bytes(&r, id, 1, 0, 8, pl, 8);
	raw_end(&r);
	refused(&r, -ENAMETOOLONG, "", "id");
	/* NUL then garbage: not NUL-padded. */
	memset(id, 0, sizeof(id));
	memcpy(id, "vcpu/0", 6);
	id[20] = 'X';
	raw_header(&r, 1, 0, 1);
	raw_section_bytes(&r, id, 1, 0, 8, pl, 8);
	raw_end(&r);
	e = refused(&r, -EBADMSG, "", "id");
	ck_assert(strstr(e.msg, "not NUL-padded: byte 20") != NULL);
	/* A quote, a space, an empty id. */
	memset(id, 0, sizeof(id));
	memcpy(id, "a'b", 3);
	raw_header(&r, 1, 0, 1);
	raw_section_bytes(&r, id, 1, 0, 8, pl, 8);
	raw_end(&r);
	refused(&r, -EBADMSG, "", "id");
	memset(id, 0, sizeof(id));
	raw_header(&r, 1, 0, 1);
	raw_section_bytes(&r, id, 1, 0, 8, pl, 8);
	raw_end(&r);
	refused(&r, -EBADMSG, "", "id");
	/* The writer refuses the same. */
	struct cvmm_snap_writer *w;
	char longid[60];

	memset(longid, 'q', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	ck_assert_int_eq(cvmm_snap_writer_create(NULL, &w), 0);
	ck_assert_int_eq(cvmm_snap_write(w, longid, 1, pl, 8), -ENAMETOOLONG);
	ck_assert_int_eq(cvmm_snap_write_begin(w, "a b", 1), -EINVAL);
	ck_assert_int_eq(cvmm_snap_write(w, "", 1, pl, 8), -EINVAL);
	cvmm_snap_writer_destroy(w);
}
END_TEST

START_TEST(length_overflow_and_lies)
{
	struct raw r;
	struct cvmm_snap_error e;
	const uint64_t huge[] = { UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 7, UINT64_MAX - 8,
				  UINT64_MAX - 72 - 24, 1ull << 63 };

	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		raw_header(&r, 1, 0, 1);
		raw_section(&r, "x", 1, pl, 0);
		/* Patch the length and re-seal the header: only the length lies. */
		put64(r.b + 24 + 56, huge[i]);
		put32(r.b + 24 + 68, cvmm_snap_crc32c(0, r.b + 24, 68));
		r.headers_crc = cvmm_snap_crc32c(0, r.b + 24, 68);
		raw_end(&r);
		memset(&e, 0, sizeof(e));
		struct cvmm_snap_reader *rd;
		int ret = cvmm_snap_reader_open(r.b, r.n, &rd, &e);

		ck_assert_msg(ret == -EOVERFLOW || ret == -ENODATA, "length %llu: %d",
			      (unsigned long long)huge[i], ret);
		if (huge[i] > UINT64_MAX - 100)
			ck_assert_int_eq(ret, -EOVERFLOW);
		ck_assert_str_eq(e.section, "x");
		ck_assert_str_eq(e.field, "length");
	}
	/* A length one more than what is there. */
	raw_header(&r, 1, 0, 1);
	raw_section(&r, "x", 1, pl, 8);
	put64(r.b + 24 + 56, 9 + 24);
	put32(r.b + 24 + 68, cvmm_snap_crc32c(0, r.b + 24, 68));
	raw_end(&r);
	e = refused(&r, -ENODATA, "x", "length");
}
END_TEST

START_TEST(zero_sections)
{
	struct raw r;
	struct cvmm_snap_writer *w;

	raw_header(&r, 1, 0, 0);
	raw_end(&r);
	refused(&r, -ENODATA, "", "end");
	/* Nothing at all, and a bare header. */
	ck_assert_int_eq(cvmm_snap_reader_open(NULL, 0, &(struct cvmm_snap_reader *){ NULL }, NULL), -ENODATA);
	raw_header(&r, 1, 0, 0);
	refused(&r, -ENODATA, "", "end");
	raw_header(&r, 1, 0, CVMM_SNAP_COUNT_STREAMED);
	raw_end(&r);
	refused(&r, -ENODATA, "", "end");
	ck_assert_int_eq(cvmm_snap_writer_create(NULL, &w), 0);
	ck_assert_int_eq(cvmm_snap_writer_finish(w), -ENODATA);
	cvmm_snap_writer_destroy(w);
}
END_TEST

START_TEST(trailing_garbage)
{
	struct raw r;
	struct cvmm_snap_error e;

	raw_header(&r, 1, 0, 1);
	raw_section(&r, "a", 1, pl, 8);
	raw_end(&r);
	r.b[r.n++] = 0;
	e = refused(&r, -EBADMSG, "", "end");
	ck_assert_str_eq(e.msg, "1 bytes follow the end marker");
	/* A whole second stream glued on is garbage too. */
	raw_header(&r, 1, 0, 1);
	raw_section(&r, "a", 1, pl, 8);
	raw_end(&r);
	memcpy(r.b + r.n, r.b, r.n);
	r.n *= 2;
	refused(&r, -EBADMSG, "", "end");
}
END_TEST

START_TEST(structure_lies)
{
	struct raw r;
	uint32_t crc_abc;

	/* Header count disagrees with the stream. */
	raw_header(&r, 1, 0, 2);
	raw_section(&r, "a", 1, pl, 8);
	raw_end(&r);
	refused(&r, -EBADMSG, "", "header.count");
	/* End marker count disagrees. */
	raw_header(&r, 1, 0, CVMM_SNAP_COUNT_STREAMED);
	raw_section(&r, "a", 1, pl, 8);
	raw_end_with(&r, 2, r.headers_crc);
	refused(&r, -EBADMSG, "", "end.count");
	/* A section removed or two swapped, counts and CRCs re-sealed: the CRC over
	 * the headers in the end marker still tells. */
	raw_header(&r, 1, 0, CVMM_SNAP_COUNT_STREAMED);
	raw_section(&r, "a", 1, pl, 8);
	raw_section(&r, "b", 1, pl, 8);
	raw_section(&r, "c", 1, pl, 8);
	crc_abc = r.headers_crc;
	raw_header(&r, 1, 0, CVMM_SNAP_COUNT_STREAMED);
	raw_section(&r, "a", 1, pl, 8);
	raw_section(&r, "c", 1, pl, 8);
	raw_end_with(&r, 2, crc_abc);
	refused(&r, -EBADMSG, "", "end.headers_crc");
	raw_header(&r, 1, 0, 3);
	raw_section(&r, "a", 1, pl, 8);
	raw_section(&r, "c", 1, pl, 8);
	raw_section(&r, "b", 1, pl, 8);
	raw_end_with(&r, 3, crc_abc);
	refused(&r, -EBADMSG, "", "end.headers_crc");
	/* Reserved fields, padding. */
	raw_header(&r, 1, 0, 1);
	raw_section_bytes(&r, (const uint8_t[48]){ 'a' }, 1, 5, 8, pl, 8);
	raw_end(&r);
	refused(&r, -EBADMSG, "a", "reserved");
	raw_header(&r, 1, 0, 1);
	raw_section(&r, "a", 1, pl, 3);
	r.b[24 + 72 + 5] = 1;
	raw_end(&r);
	refused(&r, -EBADMSG, "a", "padding");
	/* Not even a stream. */
	raw_header(&r, 1, 0, 1);
	memcpy(r.b, "QEMU", 4);
	refused(&r, -EBADMSG, "", "header.magic");
	/* Neither a section nor an end marker: 0xff then not the magic. */
	raw_header(&r, 1, 0, 1);
	raw_section(&r, "a", 1, pl, 8);
	raw_end(&r);
	r.b[r.n - 20] ^= 1;
	refused(&r, -EBADMSG, "", "end.magic");
}
END_TEST

START_TEST(unknown_section_refused)
{
	struct raw r;
	struct cvmm_snap_reader *rd;
	struct cvmm_snap_section s;
	struct cvmm_snap_error e;
	char line[CVMM_SNAP_ERROR_LINE];

	raw_header(&r, 1, 0, 2);
	raw_section(&r, "vcpu/0", 1, pl, 16);
	raw_section(&r, "dev/_gpu0", 1, pl, 8);
	raw_end(&r);
	ck_assert_int_eq(cvmm_snap_reader_open(r.b, r.n, &rd, &e), 0);
	ck_assert_int_eq(cvmm_snap_reader_require(rd, "vcpu/0", 1, &s, &e), 0);
	ck_assert_int_eq(cvmm_snap_expect_len(&e, s.id, NULL, s.len, 16), 0);
	ck_assert_int_eq(cvmm_snap_reader_unclaimed(rd, &e), -EPROTONOSUPPORT);
	cvmm_snap_error_format(&e, line, sizeof(line));
	ck_assert_msg(strncmp(line, "state section 'dev/_gpu0': no part of this cvmm restores it", 59) == 0,
		      "%s", line);
	cvmm_snap_reader_destroy(rd);
}
END_TEST

Suite *snapshot_hostile_suite(void)
{
	Suite *s = suite_create("snapshot-hostile");
	TCase *tc = tcase_create("hostile");

	tcase_add_test(tc, raw_builder_matches_writer);
	tcase_add_test(tc, truncated_at_every_byte);
	tcase_add_test(tc, bit_flip_in_every_byte);
	tcase_add_test(tc, future_format_version_and_flags);
	tcase_add_test(tc, future_section_version);
	tcase_add_test(tc, duplicate_id);
	tcase_add_test(tc, overlong_and_bad_ids);
	tcase_add_test(tc, length_overflow_and_lies);
	tcase_add_test(tc, zero_sections);
	tcase_add_test(tc, trailing_garbage);
	tcase_add_test(tc, structure_lies);
	tcase_add_test(tc, unknown_section_refused);
	suite_add_tcase(s, tc);
	return s;
}
