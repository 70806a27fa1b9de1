/* SPDX-License-Identifier: Apache-2.0 */
/* sys-util: logging, size parsing, range checks and the small helpers. */
#include <cvmm/sys-util.h>
#include "cvmm-test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char last_msg[512];
static int last_level = -1;
static void capture(enum cvmm_log_level l, const char *c, const char *m, void *o)
{
	(void)c; (void)o;
	last_level = (int)l;
	snprintf(last_msg, sizeof(last_msg), "%s", m);
}

START_TEST(log_levels)
{
	enum cvmm_log_level l;

	ck_assert_int_eq(cvmm_log_level_parse("DEBUG", &l), 0);
	ck_assert_int_eq(l, CVMM_LOG_DEBUG);
	ck_assert_int_eq(cvmm_log_level_parse("loud", &l), -EINVAL);
	ck_assert_int_eq(cvmm_log_level_parse(NULL, &l), -EINVAL);
	ck_assert_str_eq(cvmm_log_level_name(CVMM_LOG_TRACE), "trace");
	ck_assert_str_eq(cvmm_log_level_name((enum cvmm_log_level)99), "?");
	cvmm_log_set_sink(capture, NULL);
	cvmm_log_set_level(CVMM_LOG_WARN);
	ck_assert_int_eq(cvmm_log_get_level(), CVMM_LOG_WARN);
	last_msg[0] = 0;
	cvmm_log(CVMM_LOG_INFO, "t", "dropped");
	ck_assert_str_eq(last_msg, "");
	ck_assert(!cvmm_log_enabled(CVMM_LOG_INFO));
	ck_assert(cvmm_log_enabled(CVMM_LOG_WARN));
	cvmm_log(CVMM_LOG_ERROR, "t", "kept %d", 7);
	ck_assert_str_eq(last_msg, "kept 7");
	ck_assert_int_eq(last_level, CVMM_LOG_ERROR);
	cvmm_log_set_sink(NULL, NULL);
	ck_assert(!cvmm_log_enabled(CVMM_LOG_ERROR));
}
END_TEST

START_TEST(log_long_message_truncated)
{
	char big[2000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	cvmm_log_set_sink(capture, NULL);
	cvmm_log_set_level(CVMM_LOG_TRACE);
	cvmm_log(CVMM_LOG_TRACE, "t", "%s", big);
	ck_assert_uint_eq(strlen(last_msg), 511);
	cvmm_log_set_sink(NULL, NULL);

	/* The program helper: a level from the environment, else the default. */
	setenv("CVMM_TEST_LOG", "debug", 1);
	cvmm_log_stderr_from_env("CVMM_TEST_LOG", CVMM_LOG_WARN);
	ck_assert_int_eq(cvmm_log_get_level(), CVMM_LOG_DEBUG);
	setenv("CVMM_TEST_LOG", "chatty", 1);
	cvmm_log_stderr_from_env("CVMM_TEST_LOG", CVMM_LOG_WARN);
	ck_assert_int_eq(cvmm_log_get_level(), CVMM_LOG_WARN);
	unsetenv("CVMM_TEST_LOG");
	cvmm_log_stderr_from_env("CVMM_TEST_LOG", CVMM_LOG_ERROR);
	ck_assert_int_eq(cvmm_log_get_level(), CVMM_LOG_ERROR);
	cvmm_log_set_sink(NULL, NULL);
}
END_TEST

/* ---- parse_size --------------------------------------------------------- */

static uint64_t ok_size(const char *s)
{
	uint64_t v = 0xdeadbeef;

	ck_assert_msg(cvmm_parse_size(s, &v) == 0, "\"%s\" should parse", s);
	return v;
}

static void bad_size(const char *s, int err)
{
	uint64_t v = 0x1234;
	int r = cvmm_parse_size(s, &v);

	ck_assert_msg(r == err, "\"%s\": got %d, want %d", s ? s : "(null)", r, err);
	ck_assert_msg(v == 0x1234, "\"%s\": output written on failure", s ? s : "(null)");
}

START_TEST(parse_size_valid)
{
	ck_assert_uint_eq(ok_size("0"), 0);
	ck_assert_uint_eq(ok_size("4096"), 4096);
	ck_assert_uint_eq(ok_size("4096B"), 4096);
	ck_assert_uint_eq(ok_size("512K"), 512ull << 10);
	ck_assert_uint_eq(ok_size("512k"), 512ull << 10);
	ck_assert_uint_eq(ok_size("128M"), 128ull << 20);
	ck_assert_uint_eq(ok_size("128MiB"), 128ull << 20);
	ck_assert_uint_eq(ok_size("128mib"), 128ull << 20);
	ck_assert_uint_eq(ok_size("128MB"), 128ull << 20);
	ck_assert_uint_eq(ok_size("4G"), 4ull << 30);
	ck_assert_uint_eq(ok_size("2T"), 2ull << 40);
	ck_assert_uint_eq(ok_size("3P"), 3ull << 50);
	ck_assert_uint_eq(ok_size("15E"), 15ull << 60);
	ck_assert_uint_eq(ok_size("007"), 7);
	ck_assert_uint_eq(ok_size("18446744073709551615"), UINT64_MAX);
	ck_assert_uint_eq(ok_size("17179869183G"), (17179869183ull << 30));
}
END_TEST

START_TEST(parse_size_invalid)
{
	bad_size(NULL, -EINVAL);
	bad_size("", -EINVAL);
	bad_size("G", -EINVAL);
	bad_size("12Q", -EINVAL);
	bad_size("-1", -EINVAL);
	bad_size("+1", -EINVAL);
	bad_size(" 1", -EINVAL);
	bad_size("1 ", -EINVAL);
	bad_size("1 G", -EINVAL);
	bad_size("0x10", -EINVAL);
	bad_size("1.5G", -EINVAL);
	bad_size("4iB", -EINVAL);
	bad_size("4Gi", -EINVAL);
	bad_size("4GBB", -EINVAL);
	bad_size("4GG", -EINVAL);
	/* A malformed tail wins over an overflowing number. */
	bad_size("99999999999999999999999x", -EINVAL);
}
END_TEST

START_TEST(parse_size_range)
{
	bad_size("99999999999G", -ERANGE);
	bad_size("18446744073709551616", -ERANGE);
	bad_size("99999999999999999999999", -ERANGE);
	bad_size("16E", -ERANGE);
	bad_size("17179869184G", -ERANGE);
}
END_TEST

START_TEST(range_ok_edges)
{
	ck_assert(cvmm_range_ok(0, 0, 0));
	ck_assert(cvmm_range_ok(10, 0, 10));
	ck_assert(!cvmm_range_ok(11, 0, 10));
	ck_assert(cvmm_range_ok(0, 10, 10));
	ck_assert(!cvmm_range_ok(0, 11, 10));
	ck_assert(!cvmm_range_ok(1, 10, 10));
	ck_assert(cvmm_range_ok(0, UINT64_MAX, UINT64_MAX));
	/* base + len wraps to a small number that would pass a naive check. */
	ck_assert(!cvmm_range_ok(UINT64_MAX, 2, 100));
	ck_assert(!cvmm_range_ok(2, UINT64_MAX, 100));
	ck_assert(!cvmm_range_ok(UINT64_MAX - 4, 10, UINT64_MAX));
	ck_assert(cvmm_range_ok(UINT64_MAX - 10, 10, UINT64_MAX));
}
END_TEST

START_TEST(macros)
{
	uint64_t r;

	ck_assert_uint_eq(CVMM_ALIGN_UP(4097ull, 4096), 8192);
	ck_assert_uint_eq(CVMM_ALIGN_UP(4096ull, 4096), 4096);
	ck_assert_uint_eq(CVMM_ALIGN_DOWN(8191ull, 4096), 4096);
	ck_assert(CVMM_IS_ALIGNED(0x2000ull, 0x1000));
	ck_assert(!CVMM_IS_ALIGNED(0x2001ull, 0x1000));
	ck_assert(CVMM_IS_POW2(1u) && CVMM_IS_POW2(64u) && !CVMM_IS_POW2(0u) && !CVMM_IS_POW2(96u));
	ck_assert(cvmm_add_overflow(UINT64_MAX, (uint64_t)1, &r));
	ck_assert(!cvmm_mul_overflow((uint64_t)1 << 31, (uint64_t)1 << 32, &r));
	ck_assert(cvmm_mul_overflow((uint64_t)1 << 32, (uint64_t)1 << 32, &r));
	ck_assert(cvmm_sub_overflow((uint64_t)0, (uint64_t)1, &r));
}
END_TEST

/* ---- misc --------------------------------------------------------------- */

START_TEST(close_keeps_errno)
{
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	errno = 1234;
	cvmm_close(p[0]);
	ck_assert_int_eq(errno, 1234);
	ck_assert_int_eq(fcntl(p[0], F_GETFD), -1);
	errno = 77;
	cvmm_close(-1);
	cvmm_close(-5);
	ck_assert_int_eq(errno, 77);
	cvmm_close(p[1]);
}
END_TEST

START_TEST(page_size)
{
	ck_assert_uint_eq(cvmm_page_size(), (size_t)sysconf(_SC_PAGESIZE));
	ck_assert_uint_eq(cvmm_page_size(), cvmm_page_size());
	ck_assert(CVMM_IS_POW2(cvmm_page_size()));
}
END_TEST

START_TEST(tempfile_unlinked)
{
	struct stat st;
	int fd = cvmm_tempfile(123456, NULL);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, 123456);
	ck_assert_uint_eq(st.st_nlink, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(pwrite(fd, "abc", 3, 100), 3);
	close(fd);
}
END_TEST

START_TEST(tempfile_named_in_tmpdir)
{
	char dir[] = "/tmp/cvmm-tdir-XXXXXX";
	char path[PATH_MAX];
	struct stat st;
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	setenv("TMPDIR", dir, 1);
	fd = cvmm_tempfile(0, path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(strncmp(path, dir, strlen(dir)), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert_int_eq(unlink(path), 0);
	close(fd);
	ck_assert_int_eq(rmdir(dir), 0);

	setenv("TMPDIR", "/nonexistent-cvmm-dir", 1);
	ck_assert_int_eq(cvmm_tempfile(0, NULL), -ENOENT);
	ck_assert_int_eq(cvmm_tempfile(UINT64_MAX, NULL), -EFBIG);
	unsetenv("TMPDIR");
}
END_TEST

static void *name_thread(void *arg)
{
	char got[32];
	long ok;

	(void)arg;
	ok = cvmm_thread_set_name("a-name-much-longer-than-fifteen") == 0;
	pthread_getname_np(pthread_self(), got, sizeof(got));
	ok = ok && !strcmp(got, "a-name-much-lon");
	ok = ok && cvmm_thread_set_name("vcpu0") == 0;
	pthread_getname_np(pthread_self(), got, sizeof(got));
	ok = ok && !strcmp(got, "vcpu0");
	ok = ok && cvmm_thread_set_name(NULL) == -EINVAL;
	return (void *)ok;
}

START_TEST(thread_name)
{
	pthread_t t;
	void *ok;

	ck_assert_int_eq(pthread_create(&t, NULL, name_thread, NULL), 0);
	ck_assert_int_eq(pthread_join(t, &ok), 0);
	ck_assert_ptr_eq(ok, (void *)1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sys-util");
	TCase *tc = tcase_create("log");

	tcase_add_test(tc, log_levels);
	tcase_add_test(tc, log_long_message_truncated);
	suite_add_tcase(s, tc);

	tc = tcase_create("size");
	tcase_add_test(tc, parse_size_valid);
	tcase_add_test(tc, parse_size_invalid);
	tcase_add_test(tc, parse_size_range);
	tcase_add_test(tc, range_ok_edges);
	tcase_add_test(tc, macros);
	suite_add_tcase(s, tc);

	tc = tcase_create("misc");
	tcase_add_test(tc, close_keeps_errno);
	tcase_add_test(tc, page_size);
	tcase_add_test(tc, tempfile_unlinked);
	tcase_add_test(tc, tempfile_named_in_tmpdir);
	tcase_add_test(tc, thread_name);
	suite_add_tcase(s, tc);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
