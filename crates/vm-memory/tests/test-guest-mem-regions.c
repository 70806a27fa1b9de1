/* SPDX-License-Identifier: Apache-2.0 */
/* Regions: every backing kind, validation, overlap, ordering, guard pages. */
#include "gm-test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

START_TEST(empty_map)
{
	struct cvmm_guest_mem *m = gm_new();
	uint64_t len = 16;

	ck_assert_uint_eq(cvmm_guest_mem_num_regions(m), 0);
	ck_assert_uint_eq(cvmm_guest_mem_total_size(m), 0);
	ck_assert_uint_eq(cvmm_guest_mem_end(m), 0);
	ck_assert_ptr_null(cvmm_guest_mem_region(m, 0));
	ck_assert_ptr_null(cvmm_guest_mem_find(m, 0));
	ck_assert_ptr_null(cvmm_guest_mem_translate(m, 0, &len));
	ck_assert_uint_eq(len, 0);
	ck_assert(!cvmm_guest_mem_range_valid(m, 0, 1));
	cvmm_guest_mem_destroy(m);
	cvmm_guest_mem_destroy(NULL);
	ck_assert_int_eq(cvmm_guest_mem_create(NULL), -EINVAL);
}
END_TEST

START_TEST(anon_region_view)
{
	struct cvmm_guest_mem *m = gm_new();
	const struct cvmm_mem_region *r;
	uint8_t buf[64], back[64];

	gm_add(m, 1 * MiB, 64 * KiB, 0);
	ck_assert_uint_eq(cvmm_guest_mem_num_regions(m), 1);
	r = cvmm_guest_mem_region(m, 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->gpa, 1 * MiB);
	ck_assert_uint_eq(r->size, 64 * KiB);
	ck_assert_int_eq(r->fd, -1);
	ck_assert_int_eq(r->backing, CVMM_MEM_ANON);
	ck_assert_ptr_nonnull(r->host);
	ck_assert_ptr_eq(cvmm_guest_mem_find(m, 1 * MiB + 64 * KiB - 1), r);
	ck_assert_ptr_null(cvmm_guest_mem_find(m, 1 * MiB + 64 * KiB));
	ck_assert_ptr_null(cvmm_guest_mem_find(m, 1 * MiB - 1));
	ck_assert_uint_eq(cvmm_guest_mem_end(m), 1 * MiB + 64 * KiB);

	gm_pattern(buf, sizeof(buf), 1);
	ck_assert_int_eq(cvmm_guest_mem_write(m, 1 * MiB + 100, buf, sizeof(buf)), 0);
	/* The bytes land at host + (gpa - base). */
	ck_assert_mem_eq(r->host + 100, buf, sizeof(buf));
	ck_assert_int_eq(cvmm_guest_mem_read(m, 1 * MiB + 100, back, sizeof(back)), 0);
	ck_assert_mem_eq(back, buf, sizeof(buf));
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* Guest RAM in a file by path: guest writes reach the file, file data reaches the guest. */
START_TEST(file_by_path_shared)
{
	char path[PATH_MAX];
	int tfd = cvmm_test_tmpfile(path, 0);
	struct cvmm_guest_mem *m = gm_new();
	struct cvmm_mem_region_opts o = gm_opts(2 * MiB, 1 * MiB, CVMM_MEM_FILE,
						CVMM_MEM_F_SHARED);
	uint8_t buf[5000], back[5000];
	const struct cvmm_mem_region *r;
	struct stat st;

	ck_assert_int_ge(tfd, 0);
	o.path = path;
	o.fd_offset = 64 * KiB;
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), 0);
	r = cvmm_guest_mem_region(m, 0);
	ck_assert_int_ge(r->fd, 0);
	ck_assert_uint_eq(r->fd_offset, 64 * KiB);
	/* The file was grown to hold the region. */
	ck_assert_int_eq(fstat(tfd, &st), 0);
	ck_assert_int_ge(st.st_size, (off_t)(64 * KiB + 1 * MiB));

	gm_pattern(buf, sizeof(buf), 2);
	ck_assert_int_eq(cvmm_guest_mem_write(m, 2 * MiB + 3 * PAGE + 10, buf, sizeof(buf)), 0);
	memset(back, 0, sizeof(back));
	ck_assert_int_eq(pread(tfd, back, sizeof(back), (off_t)(64 * KiB + 3 * PAGE + 10)),
			 (ssize_t)sizeof(back));
	ck_assert_mem_eq(back, buf, sizeof(buf));

	gm_pattern(buf, sizeof(buf), 3);
	ck_assert_int_eq(pwrite(tfd, buf, 100, (off_t)(64 * KiB + 500 * KiB)), 100);
	ck_assert_int_eq(cvmm_guest_mem_read(m, 2 * MiB + 500 * KiB, back, 100), 0);
	ck_assert_mem_eq(back, buf, 100);

	cvmm_guest_mem_destroy(m);
	close(tfd);
	unlink(path);
}
END_TEST

/* A caller's fd: it must be long enough; a private mapping keeps writes out of the file. */
START_TEST(file_by_fd_private)
{
	char path[PATH_MAX];
	int tfd = cvmm_test_tmpfile(path, 256 * KiB);
	struct cvmm_guest_mem *m = gm_new();
	struct cvmm_mem_region_opts o = gm_opts(0, 256 * KiB, CVMM_MEM_FILE, 0);
	uint8_t buf[256], back[256];
	const struct cvmm_mem_region *r;

	ck_assert_int_ge(tfd, 0);
	gm_pattern(buf, sizeof(buf), 4);
	ck_assert_int_eq(pwrite(tfd, buf, sizeof(buf), 8192), (ssize_t)sizeof(buf));

	o.fd = tfd;
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), 0);
	r = cvmm_guest_mem_region(m, 0);
	/* The region holds its own dup, not the caller's fd. */
	ck_assert_int_ge(r->fd, 0);
	ck_assert_int_ne(r->fd, tfd);
	ck_assert_int_eq(cvmm_guest_mem_read(m, 8192, back, sizeof(back)), 0);
	ck_assert_mem_eq(back, buf, sizeof(buf));

	ck_assert_int_eq(cvmm_guest_mem_fill(m, 8192, 0xee, sizeof(buf)), 0);
	ck_assert_int_eq(pread(tfd, back, sizeof(back), 8192), (ssize_t)sizeof(back));
	ck_assert_mem_eq(back, buf, sizeof(buf));

	/* Too short a file would SIGBUS on touch: refused up front. */
	o.gpa = 1 * MiB;
	o.size = 512 * KiB;
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), -EINVAL);
	o.size = 128 * KiB;
	o.fd_offset = 192 * KiB;
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), -EINVAL);
	ck_assert_uint_eq(cvmm_guest_mem_num_regions(m), 1);

	cvmm_guest_mem_destroy(m);
	close(tfd);
	unlink(path);
}
END_TEST

/* A read-only image: readable, and no write path can reach it. */
START_TEST(file_readonly_image)
{
	char path[PATH_MAX];
	int tfd = cvmm_test_tmpfile(path, 64 * KiB);
	struct cvmm_guest_mem *m = gm_new();
	struct cvmm_mem_region_opts o = gm_opts(0xFFF00000ull, 64 * KiB, CVMM_MEM_FILE,
						CVMM_MEM_F_READONLY);
	uint8_t buf[32], back[32];
	uint64_t len = 100;
	uint32_t v;

	ck_assert_int_ge(tfd, 0);
	gm_pattern(buf, sizeof(buf), 5);
	ck_assert_int_eq(pwrite(tfd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	o.path = path;
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), 0);
	gm_add(m, 0, 1 * MiB, 0);

	ck_assert_int_eq(cvmm_guest_mem_read(m, 0xFFF00000ull, back, sizeof(back)), 0);
	ck_assert_mem_eq(back, buf, sizeof(buf));
	ck_assert_int_eq(cvmm_guest_mem_write(m, 0xFFF00000ull, buf, 1), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_fill(m, 0xFFF00010ull, 0, 4), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_write_u32(m, 0xFFF00000ull, 1), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_write_u32(m, 0xFFF00001ull, 1), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_read_u32(m, 0xFFF00000ull, &v), 0);
	ck_assert_ptr_nonnull(cvmm_guest_mem_translate(m, 0xFFF00000ull, &len));
	ck_assert_uint_eq(len, 100);
	ck_assert_ptr_null(cvmm_guest_mem_translate_write(m, 0xFFF00000ull, &len));
	ck_assert_uint_eq(len, 0);
	len = 100;
	ck_assert_ptr_nonnull(cvmm_guest_mem_translate_write(m, 0, &len));
	ck_assert_uint_eq(len, 100);

	/* A read-only image must exist: it is never created. */
	o.gpa = 16 * MiB;
	o.path = "/nonexistent/cvmm-rom.bin";
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), -ENOENT);
	cvmm_guest_mem_destroy(m);
	close(tfd);
	unlink(path);
}
END_TEST

/* memfd: another mapping of the region's fd sees the same bytes, both ways. */
START_TEST(memfd_shared_with_other_mapping)
{
	struct cvmm_guest_mem *m = gm_new();
	struct cvmm_mem_region_opts o = gm_opts(4 * GiB, 2 * MiB, CVMM_MEM_MEMFD, 0);
	const struct cvmm_mem_region *r;
	uint8_t buf[300], back[300];
	uint8_t *other;

	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), 0);
	r = cvmm_guest_mem_region(m, 0);
	ck_assert_int_ge(r->fd, 0);
	ck_assert(r->flags & CVMM_MEM_F_SHARED);
	other = mmap(NULL, 2 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
		     (off_t)r->fd_offset);
	ck_assert_ptr_ne(other, MAP_FAILED);
	/* A different mapping, not the same address. */
	ck_assert_ptr_ne(other, r->host);

	gm_pattern(buf, sizeof(buf), 6);
	ck_assert_int_eq(cvmm_guest_mem_write(m, 4 * GiB + 1 * MiB + 7, buf, sizeof(buf)), 0);
	ck_assert_mem_eq(other + 1 * MiB + 7, buf, sizeof(buf));
	gm_pattern(buf, sizeof(buf), 7);
	memcpy(other + 2 * MiB - sizeof(buf), buf, sizeof(buf));
	ck_assert_int_eq(cvmm_guest_mem_read(m, 4 * GiB + 2 * MiB - sizeof(buf), back,
					     sizeof(back)), 0);
	ck_assert_mem_eq(back, buf, sizeof(buf));
	munmap(other, 2 * MiB);
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* A memfd the caller made, mapped at an offset; too short is refused. */
START_TEST(memfd_given_fd_offset)
{
	struct cvmm_guest_mem *m = gm_new();
	struct cvmm_mem_region_opts o = gm_opts(0, 1 * MiB, CVMM_MEM_MEMFD, 0);
	int fd = memfd_create("test", MFD_CLOEXEC);
	uint8_t buf[64], back[64];
	struct stat a, b;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 2 * MiB), 0);
	gm_pattern(buf, sizeof(buf), 8);
	ck_assert_int_eq(pwrite(fd, buf, sizeof(buf), 1 * MiB + 4096), (ssize_t)sizeof(buf));
	o.fd = fd;
	o.fd_offset = 1 * MiB;
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), 0);
	ck_assert_int_eq(cvmm_guest_mem_read(m, 4096, back, sizeof(back)), 0);
	ck_assert_mem_eq(back, buf, sizeof(buf));
	ck_assert_int_eq(fstat(fd, &a), 0);
	ck_assert_int_eq(fstat(cvmm_guest_mem_region(m, 0)->fd, &b), 0);
	ck_assert_uint_eq(a.st_ino, b.st_ino);

	o.gpa = 8 * MiB;
	o.fd_offset = 1 * MiB + PAGE;
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), -EINVAL);
	/* Closing ours does not affect the region. */
	close(fd);
	ck_assert_int_eq(cvmm_guest_mem_read(m, 4096, back, sizeof(back)), 0);
	ck_assert_mem_eq(back, buf, sizeof(buf));
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* A region re-pointed at a file, MAP_PRIVATE: reads see the file, writes
 * stay private (the file and a second mapping of it are untouched), the
 * host address does not move; shared, short or unaligned are refused. */
START_TEST(region_map_private)
{
	struct cvmm_guest_mem *m = gm_new();
	const struct cvmm_mem_region *r;
	char path[] = "/tmp/cvmm-gm-private-XXXXXX";
	uint8_t page[4096], back[4096];
	uint8_t *host;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	memset(page, 0x5a, sizeof(page));
	ck_assert_int_eq(ftruncate(fd, 64 * KiB + 4096), 0);
	ck_assert_int_eq(pwrite(fd, page, sizeof(page), 4096 + 8192), (ssize_t)sizeof(page));
	gm_add(m, 1 * MiB, 64 * KiB, 0);
	r = cvmm_guest_mem_region(m, 0);
	host = r->host;
	ck_assert_int_eq(cvmm_guest_mem_write(m, 1 * MiB, "old", 3), 0);
	ck_assert_int_eq(cvmm_guest_mem_region_map_private(m, 0, fd, 4096, false), 0);
	ck_assert_ptr_eq(cvmm_guest_mem_region(m, 0)->host, host);
	ck_assert_int_eq(r->fd, -1);
	/* the old contents are gone; the file's page shows */
	ck_assert_int_eq(cvmm_guest_mem_read(m, 1 * MiB, back, 3), 0);
	ck_assert_int_eq(memcmp(back, "\0\0\0", 3), 0);
	ck_assert_int_eq(cvmm_guest_mem_read(m, 1 * MiB + 8192, back, sizeof(back)), 0);
	ck_assert_int_eq(memcmp(back, page, sizeof(page)), 0);
	/* a write is private */
	ck_assert_int_eq(cvmm_guest_mem_write(m, 1 * MiB + 8192, "new", 3), 0);
	ck_assert_int_eq(pread(fd, back, sizeof(back), 4096 + 8192), (ssize_t)sizeof(back));
	ck_assert_int_eq(memcmp(back, page, sizeof(page)), 0);
	/* refusals */
	ck_assert_int_eq(cvmm_guest_mem_region_map_private(m, 1, fd, 0, false), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_region_map_private(m, 0, fd, 100, false), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_region_map_private(m, 0, fd, 8192, false), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_region_map_private(m, 0, -1, 0, false), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_region_map_private(m, 0, fd, 0, true), 0);
	cvmm_guest_mem_destroy(m);

	m = gm_new();
	{
		struct cvmm_mem_region_opts o = { .sz = sizeof(o), .gpa = 0, .size = 64 * KiB,
						  .backing = CVMM_MEM_MEMFD, .fd = -1 };

		ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), 0);
	}
	ck_assert_int_eq(cvmm_guest_mem_region_map_private(m, 0, fd, 0, false), -EINVAL);
	cvmm_guest_mem_destroy(m);
	close(fd);
}
END_TEST

START_TEST(overlap_eexist)
{
	struct cvmm_guest_mem *m = gm_new();
	static const struct { uint64_t gpa, size; } bad[] = {
		{ 1 * MiB, 1 * MiB },             /* identical */
		{ 1 * MiB + PAGE, PAGE },          /* inside */
		{ 1 * MiB - PAGE, 2 * PAGE },      /* straddles the start */
		{ 2 * MiB - PAGE, 2 * PAGE },      /* straddles the end */
		{ 0, 4 * MiB },                    /* contains */
		{ 2 * MiB - PAGE, 2 * MiB + 2 * PAGE }, /* bridges the two */
	};

	gm_add(m, 1 * MiB, 1 * MiB, 0);
	gm_add(m, 4 * MiB - PAGE, PAGE, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cvmm_mem_region_opts o = gm_opts(bad[i].gpa, bad[i].size, CVMM_MEM_ANON, 0);

		ck_assert_msg(cvmm_guest_mem_add_region(m, &o) == -EEXIST, "case %zu", i);
	}
	ck_assert_uint_eq(cvmm_guest_mem_num_regions(m), 2);
	/* Touching neighbours are fine on either side. */
	gm_add(m, 1 * MiB - PAGE, PAGE, 0);
	gm_add(m, 2 * MiB, 2 * MiB - PAGE, 0);
	ck_assert_uint_eq(cvmm_guest_mem_num_regions(m), 4);
	ck_assert_uint_eq(cvmm_guest_mem_total_size(m), 4 * MiB - (1 * MiB - PAGE));
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* Regions added in any order come back sorted, and lookups find each one. */
START_TEST(sorted_any_order)
{
	struct cvmm_guest_mem *m = gm_new();
	const uint64_t order[] = { 7, 2, 9, 0, 5, 3, 8, 1, 6, 4 };

	for (size_t i = 0; i < 10; i++)
		gm_add(m, order[i] * 16 * MiB, (order[i] + 1) * PAGE, 0);
	ck_assert_uint_eq(cvmm_guest_mem_num_regions(m), 10);
	for (unsigned int i = 0; i < 10; i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(m, i);

		ck_assert_uint_eq(r->gpa, i * 16 * MiB);
		ck_assert_uint_eq(r->size, (i + 1) * PAGE);
		ck_assert_ptr_eq(cvmm_guest_mem_find(m, r->gpa), r);
		ck_assert_ptr_eq(cvmm_guest_mem_find(m, r->gpa + r->size - 1), r);
		ck_assert_ptr_null(cvmm_guest_mem_find(m, r->gpa + r->size));
		if (r->gpa)
			ck_assert_ptr_null(cvmm_guest_mem_find(m, r->gpa - 1));
	}
	ck_assert_ptr_null(cvmm_guest_mem_region(m, 10));
	ck_assert_uint_eq(cvmm_guest_mem_end(m), 9 * 16 * MiB + 10 * PAGE);
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(invalid_opts)
{
	struct cvmm_guest_mem *m = gm_new();
	struct {
		struct cvmm_mem_region_opts o;
		uint64_t extra;
	} big;
	struct cvmm_mem_region_opts o;

#define EXPECT(expr, err)                                                     \
	do {                                                                  \
		o = gm_opts(1 * MiB, 1 * MiB, CVMM_MEM_ANON, 0);              \
		expr;                                                         \
		ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), err);      \
	} while (0)

	EXPECT(o.gpa += 1, -EINVAL);
	EXPECT(o.gpa += 2048, -EINVAL);
	EXPECT(o.size = 0, -EINVAL);
	EXPECT(o.size = 100, -EINVAL);
	EXPECT(o.size += 1, -EINVAL);
	EXPECT((o.gpa = UINT64_MAX - PAGE + 1, o.size = 2 * PAGE), -EINVAL);
	/* Ending exactly at 2^64 is refused too: end must be representable. */
	EXPECT((o.gpa = UINT64_MAX - PAGE + 1, o.size = PAGE), -EINVAL);
	EXPECT((o.gpa = 0, o.size = UINT64_MAX & ~(PAGE - 1)), -EINVAL);
	EXPECT(o.sz = sizeof(o) - 8, -EINVAL);
	EXPECT(o.sz = 0, -EINVAL);
	EXPECT(o.flags = 0x100, -EINVAL);
	EXPECT(o.backing = (enum cvmm_mem_backing)99, -EINVAL);
	EXPECT(o.fd = 0, -EINVAL);                       /* ANON takes no fd */
	EXPECT(o.path = "/tmp/x", -EINVAL);
	EXPECT(o.fd_offset = PAGE, -EINVAL);
	EXPECT((o.backing = CVMM_MEM_FILE), -EINVAL);     /* neither path nor fd */
	EXPECT((o.backing = CVMM_MEM_FILE, o.fd = 0, o.path = "/tmp/x"), -EINVAL);
	EXPECT((o.backing = CVMM_MEM_MEMFD, o.fd_offset = 100), -EINVAL);
	EXPECT((o.backing = CVMM_MEM_MEMFD, o.fd = -2), -EINVAL);
	EXPECT((o.backing = CVMM_MEM_MEMFD, o.fd_offset = UINT64_MAX & ~(PAGE - 1)), -EINVAL);
	EXPECT((o.backing = CVMM_MEM_HUGETLBFS, o.size = 1 * MiB), -EINVAL);
	EXPECT((o.backing = CVMM_MEM_HUGETLBFS, o.size = 2 * MiB, o.hugepage_size = 4 * MiB),
	       -EINVAL);
	EXPECT((o.backing = CVMM_MEM_HUGETLBFS, o.size = 2 * MiB, o.hugepage_size = 1 * GiB),
	       -EINVAL);
	EXPECT((o.backing = CVMM_MEM_HUGETLBFS, o.size = 2 * MiB, o.fd_offset = PAGE), -EINVAL);
#undef EXPECT
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, NULL), -EINVAL);
	o = gm_opts(0, PAGE, CVMM_MEM_ANON, 0);
	ck_assert_int_eq(cvmm_guest_mem_add_region(NULL, &o), -EINVAL);
	ck_assert_uint_eq(cvmm_guest_mem_num_regions(m), 0);

	/* A larger struct from a newer header: fine when the tail is zero. */
	memset(&big, 0, sizeof(big));
	big.o = gm_opts(0, PAGE, CVMM_MEM_ANON, 0);
	big.o.sz = sizeof(big);
	big.extra = 1;
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &big.o), -EINVAL);
	big.extra = 0;
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &big.o), 0);
	ck_assert_uint_eq(cvmm_guest_mem_num_regions(m), 1);
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(too_many_regions)
{
	struct cvmm_guest_mem *m = gm_new();
	struct cvmm_mem_region_opts o;

	/* Every other page, so no two are adjacent. */
	for (unsigned int i = 0; i < CVMM_GUEST_MEM_MAX_REGIONS; i++)
		gm_add(m, (uint64_t)i * 2 * PAGE, PAGE, 0);
	o = gm_opts(1 * GiB, PAGE, CVMM_MEM_ANON, 0);
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), -E2BIG);
	ck_assert_uint_eq(cvmm_guest_mem_num_regions(m), CVMM_GUEST_MEM_MAX_REGIONS);
	/* Binary search over the full table. */
	for (unsigned int i = 0; i < CVMM_GUEST_MEM_MAX_REGIONS; i++) {
		ck_assert_ptr_eq(cvmm_guest_mem_find(m, (uint64_t)i * 2 * PAGE + 5),
				 cvmm_guest_mem_region(m, i));
		ck_assert_ptr_null(cvmm_guest_mem_find(m, (uint64_t)i * 2 * PAGE + PAGE));
	}
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* Fork a child that reads one byte at @p; return how it ended. */
static int child_touch(volatile const uint8_t *p)
{
	pid_t pid = fork();
	int st = 0;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = SIG_DFL };

		/* Sanitizers catch SIGSEGV themselves; we want the raw death. */
		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
		(void)*p;
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

static void check_guards(const struct cvmm_mem_region *r)
{
	int st;

	st = child_touch(r->host - 1);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "before: status %#x", st);
	st = child_touch(r->host + r->size);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "after: status %#x", st);
	/* The region's own first and last bytes are fine. */
	st = child_touch(r->host);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = child_touch(r->host + r->size - 1);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

START_TEST(guard_pages_fault)
{
	struct cvmm_guest_mem *m = gm_new();
	struct cvmm_mem_region_opts o = gm_opts(1 * MiB, 8 * MiB, CVMM_MEM_MEMFD,
						CVMM_MEM_F_GUARD);

	gm_add(m, 0, 3 * PAGE, CVMM_MEM_F_GUARD);
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), 0);
	ck_assert(cvmm_guest_mem_region(m, 0)->flags & CVMM_MEM_F_GUARD);
	check_guards(cvmm_guest_mem_region(m, 0));
	check_guards(cvmm_guest_mem_region(m, 1));
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* Large regions are 2 MiB-aligned in the host (THP); small ones need not be. */
START_TEST(large_regions_aligned)
{
	struct cvmm_guest_mem *m = gm_new();

	gm_add(m, 0, 6 * MiB, CVMM_MEM_F_NORESERVE);
	gm_add(m, 64 * MiB, 2 * MiB, CVMM_MEM_F_GUARD);
	ck_assert_uint_eq((uintptr_t)cvmm_guest_mem_region(m, 0)->host % (2 * MiB), 0);
	ck_assert_uint_eq((uintptr_t)cvmm_guest_mem_region(m, 1)->host % (2 * MiB), 0);
	check_guards(cvmm_guest_mem_region(m, 1));
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(hugetlbfs_2m)
{
	struct cvmm_guest_mem *m = gm_new();
	struct cvmm_mem_region_opts o = gm_opts(4 * GiB, 4 * MiB, CVMM_MEM_HUGETLBFS,
						CVMM_MEM_F_GUARD);
	const struct cvmm_mem_region *r;
	struct gm_hugepages hp = { .lock = -1, .old = -1 };
	uint8_t buf[128], back[128];
	uint8_t *other;
	int ret;

	ret = cvmm_guest_mem_add_region(m, &o);
	if (ret == -ENOMEM) {
		/* No free huge pages: reserve a few for this test (as root). */
		if (gm_hugepages_reserve(&hp, 2))
			ret = cvmm_guest_mem_add_region(m, &o);
	}
	if (ret == -ENOMEM || ret == -EINVAL || ret == -ENOSYS || ret == -EACCES) {
		fprintf(stderr, "# hugetlbfs_2m: skipped, no 2 MiB huge pages (%s)\n",
			strerror(-ret));
		gm_hugepages_restore(&hp);
		cvmm_guest_mem_destroy(m);
		return;
	}
	ck_assert_int_eq(ret, 0);
	r = cvmm_guest_mem_region(m, 0);
	ck_assert_int_eq(r->backing, CVMM_MEM_HUGETLBFS);
	ck_assert_uint_eq((uintptr_t)r->host % (2 * MiB), 0);
	ck_assert(r->flags & CVMM_MEM_F_SHARED);
	gm_pattern(buf, sizeof(buf), 9);
	ck_assert_int_eq(cvmm_guest_mem_write(m, 4 * GiB + 2 * MiB - 64, buf, sizeof(buf)), 0);
	ck_assert_int_eq(cvmm_guest_mem_read(m, 4 * GiB + 2 * MiB - 64, back, sizeof(back)), 0);
	ck_assert_mem_eq(back, buf, sizeof(buf));
	other = mmap(NULL, 4 * MiB, PROT_READ, MAP_SHARED, r->fd, 0);
	ck_assert_ptr_ne(other, MAP_FAILED);
	ck_assert_mem_eq(other + 2 * MiB - 64, buf, sizeof(buf));
	munmap(other, 4 * MiB);
	check_guards(r);

	/* The same file handed over as a FILE fd (as a vhost-user frontend
	 * would): placed at a huge page boundary, whole huge pages only. */
	o = gm_opts(8 * GiB, 2 * MiB, CVMM_MEM_FILE, CVMM_MEM_F_SHARED);
	o.fd = r->fd;
	o.fd_offset = 2 * MiB;
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), 0);
	r = cvmm_guest_mem_find(m, 8 * GiB);
	ck_assert_uint_eq((uintptr_t)r->host % (2 * MiB), 0);
	ck_assert_int_eq(cvmm_guest_mem_read(m, 8 * GiB - 64, back, 64), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_read(m, 8 * GiB, back, 64), 0);
	ck_assert_mem_eq(back, buf + 64, 64);
	o.gpa = 16 * GiB;
	o.size = 1 * MiB;
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), -EINVAL);
	o.size = 2 * MiB;
	o.fd_offset = 1 * MiB;
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), -EINVAL);
	cvmm_guest_mem_destroy(m);
	gm_hugepages_restore(&hp);
}
END_TEST

/* A path that is not on hugetlbfs would silently give small pages. */
START_TEST(hugetlbfs_path_not_hugetlbfs)
{
	char path[PATH_MAX];
	int tfd = cvmm_test_tmpfile(path, 0);
	struct cvmm_guest_mem *m = gm_new();
	struct cvmm_mem_region_opts o = gm_opts(0, 2 * MiB, CVMM_MEM_HUGETLBFS, 0);

	ck_assert_int_ge(tfd, 0);
	o.path = path;
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), -EINVAL);
	ck_assert_uint_eq(cvmm_guest_mem_num_regions(m), 0);
	cvmm_guest_mem_destroy(m);
	close(tfd);
	unlink(path);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vm-memory regions");
	TCase *tc = tcase_create("backings");
	TCase *tv = tcase_create("validation");
	TCase *tg = tcase_create("guards");

	tcase_add_test(tc, empty_map);
	tcase_add_test(tc, anon_region_view);
	tcase_add_test(tc, file_by_path_shared);
	tcase_add_test(tc, file_by_fd_private);
	tcase_add_test(tc, file_readonly_image);
	tcase_add_test(tc, memfd_shared_with_other_mapping);
	tcase_add_test(tc, memfd_given_fd_offset);
	tcase_add_test(tc, region_map_private);
	tcase_add_test(tc, hugetlbfs_2m);
	tcase_add_test(tc, hugetlbfs_path_not_hugetlbfs);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tcase_add_test(tv, overlap_eexist);
	tcase_add_test(tv, sorted_any_order);
	tcase_add_test(tv, invalid_opts);
	tcase_add_test(tv, too_many_regions);
	tcase_set_timeout(tv, 30);
	suite_add_tcase(s, tv);

	tcase_add_test(tg, guard_pages_fault);
	tcase_add_test(tg, large_regions_aligned);
	tcase_set_timeout(tg, 30);
	suite_add_tcase(s, tg);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
