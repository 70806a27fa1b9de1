/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host-side tests of the parts of the guest kit that are plain C: the
 * runtime's printf (compiled for the host and compared with glibc's) and
 * the dirty-page pattern the tests rely on for exact comparisons.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvmm-dirty-pattern.h"
#include "cvmm-test.h"
#include "guest.h"

/* Same format and arguments through both printfs. */
#define SAME(fmt, ...)                                                          \
	do {                                                                    \
		char a[128], b[128];                                            \
		int na = guest_snprintf(a, sizeof(a), fmt, __VA_ARGS__);        \
		int nb = snprintf(b, sizeof(b), fmt, __VA_ARGS__);              \
		ck_assert_msg(na == nb && !strcmp(a, b),                        \
			      "format \"%s\": guest \"%s\" (%d), libc \"%s\" (%d)", \
			      fmt, a, na, b, nb);                               \
	} while (0)

START_TEST(printf_matches_libc)
{
	SAME("%d %i %u", 0, -1, 4000000000u);
	SAME("%d", -2147483647 - 1);
	SAME("%5d|%-3s|%05d|%05d", 42, "x", 42, -42);
	SAME("%x %X %08x", 0xdeadbeefu, 0xabcu, 0x1fu);
	SAME("%lx %lu %ld", (unsigned long)UINT64_MAX, (unsigned long)UINT64_MAX, (long)INT64_MIN);
	SAME("%llx %lld", 0x123456789abcdefull, -5ll);
	SAME("%zu %zx", (size_t)12345, (size_t)0xffff);
	SAME("%c%c%c", 'a', 'b', 'c');
	SAME("%s and %s", "one", "");
	SAME("%10s|", "right");
	SAME("%-10s|%-6d|%-4x|", "left", -12, 0xau);
	SAME("100%% %d", 1);
	SAME("%p", (void *)0x200040);
	SAME("%016lx", 0x1234ul);
	SAME("%u", 0u);
}
END_TEST

/* No format attribute: for the deliberately odd formats below. */
static int raw(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = guest_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

START_TEST(printf_truncates_like_snprintf)
{
	char buf[8];

	memset(buf, 'z', sizeof(buf));
	ck_assert_int_eq(guest_snprintf(buf, 5, "hello world"), 11);
	ck_assert_str_eq(buf, "hell");
	ck_assert_int_eq(buf[5], 'z');
	memset(buf, 'z', sizeof(buf));
	ck_assert_int_eq(guest_snprintf(buf, 0, "abc"), 3);
	ck_assert_int_eq(buf[0], 'z');
	ck_assert_int_eq(guest_snprintf(buf, 1, "abc"), 3);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(raw(buf, sizeof(buf), "%s", (char *)NULL), 6);
	ck_assert_str_eq(buf, "(null)");
	/* A lone '%' at the end must not read past the terminator. */
	ck_assert_int_eq(raw(buf, sizeof(buf), "ab%"), 2);
	ck_assert_str_eq(buf, "ab");
	ck_assert_int_eq(raw(buf, sizeof(buf), "%q"), 2);
	ck_assert_str_eq(buf, "%q");
}
END_TEST

START_TEST(dirty_pattern_distinct)
{
	static const uint64_t spans[] = { 1, 2, 3, 64, 4096, 12288, 32768, 65521, 1u << 20 };

	for (size_t s = 0; s < sizeof(spans) / sizeof(spans[0]); s++) {
		uint64_t span = spans[s];
		uint8_t *hit = calloc(span, 1);

		for (uint64_t seed = 0; seed < 4; seed++) {
			for (uint64_t round = 0; round < 3; round++) {
				struct cvmm_dirty_round d = cvmm_dirty_round_init(seed, round, span);
				uint64_t n = span < 5000 ? span : 5000;

				ck_assert_uint_eq(cvmm_dirty_gcd(d.stride, span), 1);
				memset(hit, 0, span);
				for (uint64_t i = 0; i < n; i++) {
					uint64_t p = cvmm_dirty_page(&d, i);

					ck_assert_uint_lt(p, span);
					ck_assert_msg(!hit[p], "span %llu: page %llu twice",
						      (unsigned long long)span,
						      (unsigned long long)p);
					hit[p] = 1;
					ck_assert_uint_ne(cvmm_dirty_value(seed, round, i), 0);
				}
			}
		}
		free(hit);
	}
}
END_TEST

START_TEST(dirty_pattern_rounds_differ)
{
	/* Consecutive rounds must not write the same set, or a log that
	 * forgot to re-arm would still match. */
	struct cvmm_dirty_round a = cvmm_dirty_round_init(1, 0, 12288);
	struct cvmm_dirty_round b = cvmm_dirty_round_init(1, 1, 12288);
	unsigned int same = 0;

	for (uint64_t i = 0; i < 300; i++)
		same += cvmm_dirty_page(&a, i) == cvmm_dirty_page(&b, i);
	ck_assert_uint_lt(same, 300);
	ck_assert(a.start != b.start || a.stride != b.stride);
}
END_TEST

static Suite *kit_suite(void)
{
	Suite *s = suite_create("guest-kit");
	TCase *tc = tcase_create("host");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, printf_matches_libc);
	tcase_add_test(tc, printf_truncates_like_snprintf);
	tcase_add_test(tc, dirty_pattern_distinct);
	tcase_add_test(tc, dirty_pattern_rounds_differ);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	Suite *suites[] = { kit_suite(), NULL };

	return cvmm_test_run(suites);
}
