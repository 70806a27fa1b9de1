/* SPDX-License-Identifier: Apache-2.0 */
/* Translation, bulk and typed access: bounds, wrap, holes, region crossings. */
#include "gm-test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/*
 * The layout most tests use:
 *   A [1 MiB, 2 MiB) anon | B [2 MiB, 3 MiB) memfd | hole | C [4 MiB, 5 MiB) anon
 */
#define A_GPA (1 * MiB)
#define B_GPA (2 * MiB)
#define C_GPA (4 * MiB)

static struct cvmm_guest_mem *layout(void)
{
	struct cvmm_guest_mem *m = gm_new();
	struct cvmm_mem_region_opts o = gm_opts(B_GPA, 1 * MiB, CVMM_MEM_MEMFD, 0);

	gm_add(m, C_GPA, 1 * MiB, 0);
	gm_add(m, A_GPA, 1 * MiB, 0);
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), 0);
	return m;
}

static const uint8_t *host_of(struct cvmm_guest_mem *m, uint64_t gpa)
{
	const struct cvmm_mem_region *r = cvmm_guest_mem_find(m, gpa);

	ck_assert_ptr_nonnull(r);
	return r->host + (gpa - r->gpa);
}

START_TEST(translate_shortens_at_region_end)
{
	struct cvmm_guest_mem *m = layout();
	uint64_t len;
	uint8_t *p;

	len = 64;
	p = cvmm_guest_mem_translate(m, B_GPA - 16, &len);
	ck_assert_ptr_eq(p, host_of(m, B_GPA - 16));
	ck_assert_uint_eq(len, 16);      /* stops at A's end even though B follows */
	len = UINT64_MAX;
	p = cvmm_guest_mem_translate(m, B_GPA, &len);
	ck_assert_ptr_eq(p, host_of(m, B_GPA));
	ck_assert_uint_eq(len, 1 * MiB);
	len = 10;
	ck_assert_ptr_eq(cvmm_guest_mem_translate(m, A_GPA + 5, &len), host_of(m, A_GPA + 5));
	ck_assert_uint_eq(len, 10);      /* never lengthened */
	len = 0;
	ck_assert_ptr_eq(cvmm_guest_mem_translate(m, A_GPA, &len), host_of(m, A_GPA));
	ck_assert_uint_eq(len, 0);
	/* The hole and below the first region. */
	len = 4;
	ck_assert_ptr_null(cvmm_guest_mem_translate(m, 3 * MiB, &len));
	ck_assert_uint_eq(len, 0);
	len = 4;
	ck_assert_ptr_null(cvmm_guest_mem_translate(m, A_GPA - 1, &len));
	ck_assert_uint_eq(len, 0);
	len = 4;
	ck_assert_ptr_null(cvmm_guest_mem_translate(m, 5 * MiB, &len));
	ck_assert_ptr_null(cvmm_guest_mem_translate(m, 0, NULL));
	ck_assert_ptr_null(cvmm_guest_mem_translate(NULL, 0, &len));
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* The real x86 layout: RAM stops at the MMIO hole and resumes at 4 GiB. */
START_TEST(translate_across_x86_hole)
{
	struct cvmm_x86_ram_opts xo = {
		.sz = sizeof(xo), .size = 3 * GiB + 2 * PAGE, .backing = CVMM_MEM_ANON,
		.flags = CVMM_MEM_F_NORESERVE,
	};
	struct cvmm_guest_mem *m = NULL;
	uint64_t len;

	ck_assert_int_eq(cvmm_guest_mem_create_x86(&xo, &m), 0);
	len = 64;
	ck_assert_ptr_nonnull(cvmm_guest_mem_translate(m, CVMM_X86_MMIO_HOLE_START - 16, &len));
	ck_assert_uint_eq(len, 16);
	len = 64;
	ck_assert_ptr_null(cvmm_guest_mem_translate(m, CVMM_X86_MMIO_HOLE_START, &len));
	len = 64;
	ck_assert_ptr_null(cvmm_guest_mem_translate(m, CVMM_X86_MMIO_HOLE_END - 1, &len));
	len = 3 * PAGE;
	ck_assert_ptr_nonnull(cvmm_guest_mem_translate(m, CVMM_X86_MMIO_HOLE_END, &len));
	ck_assert_uint_eq(len, 2 * PAGE);
	ck_assert(!cvmm_guest_mem_range_valid(m, CVMM_X86_MMIO_HOLE_START - 1, 2));
	ck_assert(cvmm_guest_mem_range_valid(m, CVMM_X86_MMIO_HOLE_END, 2 * PAGE));
	ck_assert(!cvmm_guest_mem_range_valid(m, CVMM_X86_MMIO_HOLE_END, 2 * PAGE + 1));
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* Hostile addresses near the top of the space: everything fails, nothing crashes. */
START_TEST(wrapping_ranges_fail)
{
	struct cvmm_guest_mem *m = gm_new();
	const uint64_t top_gpa = 0xFFFFFFFFFFFE0000ull; /* region ends at 2^64 - 64 KiB */
	const uint64_t top_end = top_gpa + 64 * KiB;
	uint8_t buf[32] = { 0 };
	struct iovec iov[4];
	uint64_t len, v64;
	uint32_t v32;
	uint16_t v16;

	gm_add(m, 0, 64 * KiB, 0);
	gm_add(m, top_gpa, 64 * KiB, CVMM_MEM_F_DIRTY_LOG);
	ck_assert_uint_eq(cvmm_guest_mem_end(m), top_end);

	ck_assert_int_eq(cvmm_guest_mem_read(m, UINT64_MAX - 3, buf, 8), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_write(m, UINT64_MAX, buf, 2), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_fill(m, top_gpa, 0, SIZE_MAX), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_read(m, top_end - 8, buf, 16), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_read(m, top_end - 8, buf, 8), 0);
	ck_assert_int_eq(cvmm_guest_mem_read(m, top_gpa, buf, SIZE_MAX), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_read(m, 8, buf, SIZE_MAX - 7), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_read(m, 8, buf, SIZE_MAX - 8), -EFAULT);
	ck_assert(!cvmm_guest_mem_range_valid(m, top_gpa, UINT64_MAX));
	ck_assert(!cvmm_guest_mem_range_valid(m, UINT64_MAX, 1));
	ck_assert(!cvmm_guest_mem_range_valid(m, 0, UINT64_MAX));
	ck_assert(cvmm_guest_mem_range_valid(m, top_gpa, 64 * KiB));
	ck_assert_ptr_null(cvmm_guest_mem_ptr(m, top_gpa + 8, UINT64_MAX));
	ck_assert_ptr_null(cvmm_guest_mem_ptr(m, top_gpa + 8, UINT64_MAX - top_gpa));
	ck_assert_ptr_nonnull(cvmm_guest_mem_ptr(m, top_gpa + 8, 64 * KiB - 8));
	ck_assert_ptr_null(cvmm_guest_mem_ptr(m, top_gpa + 8, 64 * KiB - 7));
	len = UINT64_MAX;
	ck_assert_ptr_nonnull(cvmm_guest_mem_translate(m, top_gpa + 10, &len));
	ck_assert_uint_eq(len, 64 * KiB - 10);
	len = UINT64_MAX;
	ck_assert_ptr_null(cvmm_guest_mem_translate(m, UINT64_MAX, &len));
	ck_assert_int_eq(cvmm_guest_mem_iovec(m, top_gpa, UINT64_MAX - top_gpa + 10, iov, 4),
			 -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_iovec(m, top_gpa, UINT64_MAX - top_gpa, iov, 4),
			 -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_read_u64(m, UINT64_MAX - 3, &v64), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_read_u64(m, UINT64_MAX - 7, &v64), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_read_u32(m, UINT64_MAX - 1, &v32), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_read_u16(m, UINT64_MAX, &v16), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_write_u64(m, UINT64_MAX - 5, 1), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_write_u16(m, top_end - 1, 1), -EFAULT);
	/* mark_dirty clamps and must neither crash nor mark anything spurious. */
	cvmm_guest_mem_mark_dirty(m, UINT64_MAX - 10, 100);
	cvmm_guest_mem_mark_dirty(m, top_end - 1, UINT64_MAX);
	{
		uint64_t bm[16];

		ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, top_gpa, 64 * KiB, bm), 1);
		ck_assert_uint_eq(bm[0], 1ull << 15);
	}
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(read_write_span_adjacent_regions)
{
	struct cvmm_guest_mem *m = layout();
	uint8_t buf[8192], back[8192];

	gm_pattern(buf, sizeof(buf), 11);
	ck_assert_int_eq(cvmm_guest_mem_write(m, B_GPA - 4096 - 3, buf, sizeof(buf)), 0);
	/* Each half sits in its own mapping. */
	ck_assert_mem_eq(host_of(m, B_GPA - 4099), buf, 4099);
	ck_assert_mem_eq(host_of(m, B_GPA), buf + 4099, sizeof(buf) - 4099);
	memset(back, 0, sizeof(back));
	ck_assert_int_eq(cvmm_guest_mem_read(m, B_GPA - 4099, back, sizeof(back)), 0);
	ck_assert_mem_eq(back, buf, sizeof(buf));
	ck_assert(cvmm_guest_mem_range_valid(m, A_GPA, 2 * MiB));
	/* ptr() wants one region: a span over two is refused. */
	ck_assert_ptr_null(cvmm_guest_mem_ptr(m, B_GPA - 4, 8));
	ck_assert_ptr_eq(cvmm_guest_mem_ptr(m, B_GPA - 8, 8), host_of(m, B_GPA - 8));
	ck_assert_ptr_eq(cvmm_guest_mem_ptr(m, B_GPA, 0), host_of(m, B_GPA));
	ck_assert_ptr_null(cvmm_guest_mem_ptr(m, 3 * MiB, 0));

	/* fill across the boundary too. */
	ck_assert_int_eq(cvmm_guest_mem_fill(m, B_GPA - 10, 0x77, 20), 0);
	ck_assert_int_eq(cvmm_guest_mem_read(m, B_GPA - 11, back, 22), 0);
	ck_assert_uint_eq(back[0], buf[4099 - 11]);
	for (int i = 1; i <= 20; i++)
		ck_assert_uint_eq(back[i], 0x77);
	ck_assert_uint_eq(back[21], buf[4099 + 10]);
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* A range that leaves RAM anywhere is refused whole, before any byte moves. */
START_TEST(partial_outside_copies_nothing)
{
	struct cvmm_guest_mem *m = layout();
	static const struct { uint64_t gpa; size_t len; } bad[] = {
		{ 3 * MiB - 100, 200 },         /* runs from B into the hole */
		{ 4 * MiB - 100, 200 },         /* starts in the hole, ends in C */
		{ 2 * MiB + 100, 3 * MiB },     /* B, hole, C */
		{ A_GPA - 1, 2 },               /* starts below A */
		{ 5 * MiB - 1, 2 },             /* runs off C */
		{ A_GPA, 4 * MiB + 1 },         /* A, B, hole, C, beyond */
	};
	static uint8_t buf[5 * MiB], save[5 * MiB];

	ck_assert_int_eq(cvmm_guest_mem_fill(m, A_GPA, 0x11, 2 * MiB), 0);
	ck_assert_int_eq(cvmm_guest_mem_fill(m, C_GPA, 0x22, 1 * MiB), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(buf, 0xab, bad[i].len);
		ck_assert_int_eq(cvmm_guest_mem_read(m, bad[i].gpa, buf, bad[i].len), -EFAULT);
		memset(save, 0xab, bad[i].len);
		ck_assert_msg(memcmp(buf, save, bad[i].len) == 0, "case %zu", i);
		ck_assert(!cvmm_guest_mem_range_valid(m, bad[i].gpa, bad[i].len));

		ck_assert_int_eq(cvmm_guest_mem_write(m, bad[i].gpa, buf, bad[i].len), -EFAULT);
		ck_assert_int_eq(cvmm_guest_mem_fill(m, bad[i].gpa, 0xcd, bad[i].len), -EFAULT);
	}
	/* Guest RAM is exactly as before. */
	memset(save, 0x11, 2 * MiB);
	ck_assert_int_eq(cvmm_guest_mem_read(m, A_GPA, buf, 2 * MiB), 0);
	ck_assert_mem_eq(buf, save, 2 * MiB);
	memset(save, 0x22, 1 * MiB);
	ck_assert_int_eq(cvmm_guest_mem_read(m, C_GPA, buf, 1 * MiB), 0);
	ck_assert_mem_eq(buf, save, 1 * MiB);

	/* Zero-length accesses succeed anywhere; NULL buffers do not. */
	ck_assert_int_eq(cvmm_guest_mem_read(m, 3 * MiB, buf, 0), 0);
	ck_assert_int_eq(cvmm_guest_mem_write(m, UINT64_MAX, buf, 0), 0);
	ck_assert(cvmm_guest_mem_range_valid(m, 3 * MiB, 0));
	ck_assert_int_eq(cvmm_guest_mem_read(m, A_GPA, NULL, 1), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_write(m, A_GPA, NULL, 1), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_read(NULL, A_GPA, buf, 1), -EINVAL);
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(iovec_building)
{
	struct cvmm_guest_mem *m = layout();
	struct iovec iov[3];
	char path[PATH_MAX];
	int fd = cvmm_test_tmpfile(path, 0);
	static uint8_t buf[1 * MiB], back[sizeof(buf)];

	/* Within one region: one entry. */
	ck_assert_int_eq(cvmm_guest_mem_iovec(m, A_GPA + 10, 100, iov, 3), 1);
	ck_assert_ptr_eq(iov[0].iov_base, host_of(m, A_GPA + 10));
	ck_assert_uint_eq(iov[0].iov_len, 100);
	/* Over A and B: two entries that meet at the boundary. */
	ck_assert_int_eq(cvmm_guest_mem_iovec(m, B_GPA - 4096, sizeof(buf), iov, 3), 2);
	ck_assert_ptr_eq(iov[0].iov_base, host_of(m, B_GPA - 4096));
	ck_assert_uint_eq(iov[0].iov_len, 4096);
	ck_assert_ptr_eq(iov[1].iov_base, host_of(m, B_GPA));
	ck_assert_uint_eq(iov[1].iov_len, sizeof(buf) - 4096);
	/* Not enough room. */
	ck_assert_int_eq(cvmm_guest_mem_iovec(m, B_GPA - 4096, sizeof(buf), iov, 1), -ENOBUFS);
	ck_assert_int_eq(cvmm_guest_mem_iovec(m, A_GPA, 1, NULL, 0), -ENOBUFS);
	ck_assert_int_eq(cvmm_guest_mem_iovec(m, A_GPA, 2 * MiB, iov, 2), 2);
	ck_assert_int_eq(cvmm_guest_mem_iovec(m, A_GPA, 2 * MiB + 1, iov, 3), -EFAULT);
	/* Outside RAM beats lack of room: the range is checked first. */
	ck_assert_int_eq(cvmm_guest_mem_iovec(m, A_GPA, 3 * MiB, iov, 1), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_iovec(m, 3 * MiB, 1, iov, 3), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_iovec(m, 3 * MiB, 0, iov, 3), 0);
	ck_assert_int_eq(cvmm_guest_mem_iovec(m, A_GPA, 1, NULL, 3), -EINVAL);

	/* The iovecs really drive preadv into guest memory. */
	ck_assert_int_ge(fd, 0);
	gm_pattern(buf, sizeof(buf), 12);
	ck_assert_int_eq(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	ck_assert_int_eq(cvmm_guest_mem_iovec(m, B_GPA - 4096, sizeof(buf), iov, 3), 2);
	ck_assert_int_eq(preadv(fd, iov, 2, 0), (ssize_t)sizeof(buf));
	ck_assert_int_eq(cvmm_guest_mem_read(m, B_GPA - 4096, back, sizeof(back)), 0);
	ck_assert_mem_eq(back, buf, sizeof(buf));
	close(fd);
	unlink(path);
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(typed_access)
{
	struct cvmm_guest_mem *m = layout();
	uint8_t bytes[8], v8;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	ck_assert_int_eq(cvmm_guest_mem_write_u32(m, A_GPA + 8, 0x11223344u), 0);
	ck_assert_int_eq(cvmm_guest_mem_read(m, A_GPA + 8, bytes, 4), 0);
	/* Little-endian in guest memory. */
	ck_assert_uint_eq(bytes[0], 0x44);
	ck_assert_uint_eq(bytes[3], 0x11);
	ck_assert_int_eq(cvmm_guest_mem_read_u32(m, A_GPA + 8, &v32), 0);
	ck_assert_uint_eq(v32, 0x11223344u);
	ck_assert_int_eq(cvmm_guest_mem_read_u16(m, A_GPA + 9, &v16), 0);
	ck_assert_uint_eq(v16, 0x2233);
	ck_assert_int_eq(cvmm_guest_mem_read_u8(m, A_GPA + 11, &v8), 0);
	ck_assert_uint_eq(v8, 0x11);

	ck_assert_int_eq(cvmm_guest_mem_write_u64(m, C_GPA + 16, 0x0102030405060708ull), 0);
	ck_assert_int_eq(cvmm_guest_mem_read_u64(m, C_GPA + 16, &v64), 0);
	ck_assert_uint_eq(v64, 0x0102030405060708ull);
	ck_assert_int_eq(cvmm_guest_mem_write_u16(m, C_GPA + 30, 0xbeef), 0);
	ck_assert_int_eq(cvmm_guest_mem_read_u16(m, C_GPA + 30, &v16), 0);
	ck_assert_uint_eq(v16, 0xbeef);
	ck_assert_int_eq(cvmm_guest_mem_write_u8(m, C_GPA + 1 * MiB - 1, 0x5a), 0);
	ck_assert_int_eq(cvmm_guest_mem_read_u8(m, C_GPA + 1 * MiB - 1, &v8), 0);
	ck_assert_uint_eq(v8, 0x5a);

	/* Unaligned across the A|B boundary: bytewise, in two mappings. */
	ck_assert_int_eq(cvmm_guest_mem_write_u64(m, B_GPA - 3, 0xa1a2a3a4a5a6a7a8ull), 0);
	ck_assert_int_eq(cvmm_guest_mem_read_u64(m, B_GPA - 3, &v64), 0);
	ck_assert_uint_eq(v64, 0xa1a2a3a4a5a6a7a8ull);
	ck_assert_uint_eq(*host_of(m, B_GPA - 3), 0xa8);
	ck_assert_uint_eq(*host_of(m, B_GPA), 0xa5);
	ck_assert_int_eq(cvmm_guest_mem_read_u32(m, B_GPA - 1, &v32), 0);
	ck_assert_uint_eq(v32, 0xa3a4a5a6u);

	/* Unaligned across B|hole: refused, nothing written. */
	ck_assert_int_eq(cvmm_guest_mem_write_u32(m, 3 * MiB - 8, 0), 0);
	ck_assert_int_eq(cvmm_guest_mem_write_u32(m, 3 * MiB - 4, 0), 0);
	ck_assert_int_eq(cvmm_guest_mem_write_u64(m, 3 * MiB - 6, ~0ull), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_read_u64(m, 3 * MiB - 8, &v64), 0);
	ck_assert_uint_eq(v64, 0);
	ck_assert_int_eq(cvmm_guest_mem_read_u64(m, 3 * MiB - 6, &v64), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_read_u32(m, 3 * MiB, &v32), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_write_u8(m, 3 * MiB, 1), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_read_u8(m, A_GPA - 1, &v8), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_read_u32(m, A_GPA, NULL), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_write_u32(NULL, A_GPA, 0), -EINVAL);
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* Aligned typed access is one load/store: a reader never sees a torn value. */
struct tear_ctx {
	struct cvmm_guest_mem *m;
	volatile bool stop;
};

static void *tear_writer(void *arg)
{
	struct tear_ctx *c = arg;

	for (uint64_t i = 0; !c->stop; i++)
		cvmm_guest_mem_write_u64(c->m, C_GPA + 64, (i & 1) ? ~0ull : 0);
	return NULL;
}

START_TEST(aligned_typed_not_torn)
{
	struct tear_ctx c = { .m = layout() };
	uint64_t v, last = 0, odd = 0, flips = 0;
	struct timespec t0, t1;
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, tear_writer, &c), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Enough value changes to have had many chances to tear, bounded in time. */
	for (long i = 0; flips < 20000; i++) {
		ck_assert_int_eq(cvmm_guest_mem_read_u64(c.m, C_GPA + 64, &v), 0);
		if (v != 0 && v != ~0ull)
			odd++;
		flips += v != last;
		last = v;
		if ((i & 1023) == 0) {
			/* On a loaded machine the writer may share our core: let it run. */
			sched_yield();
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (t1.tv_sec - t0.tv_sec > 10)
				break;
		}
	}
	c.stop = true;
	pthread_join(t, NULL);
	ck_assert_uint_eq(odd, 0);
	ck_assert_uint_gt(flips, 100);
	cvmm_guest_mem_destroy(c.m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vm-memory access");
	TCase *tt = tcase_create("translate");
	TCase *tb = tcase_create("bulk");
	TCase *ty = tcase_create("typed");

	tcase_add_test(tt, translate_shortens_at_region_end);
	tcase_add_test(tt, translate_across_x86_hole);
	tcase_add_test(tt, wrapping_ranges_fail);
	suite_add_tcase(s, tt);
	tcase_add_test(tb, read_write_span_adjacent_regions);
	tcase_add_test(tb, partial_outside_copies_nothing);
	tcase_add_test(tb, iovec_building);
	tcase_set_timeout(tb, 30);
	suite_add_tcase(s, tb);
	tcase_add_test(ty, typed_access);
	tcase_add_test(ty, aligned_typed_not_torn);
	tcase_set_timeout(ty, 60);
	suite_add_tcase(s, ty);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
