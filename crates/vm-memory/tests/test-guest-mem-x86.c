/* SPDX-License-Identifier: Apache-2.0 */
/* The x86 layout: region tables for several sizes, shared memfd, NORESERVE. */
#include "gm-test.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	uint64_t size;
	unsigned int n;
	uint64_t low;      /* size of [0, low) */
	uint64_t high;     /* size of [4 GiB, 4 GiB + high) */
} cases[] = {
	{ 128 * MiB, 1, 128 * MiB, 0 },
	{ 3 * GiB, 1, 3 * GiB, 0 },
	{ 3 * GiB + 4 * KiB, 2, 3 * GiB, 4 * KiB },
	{ 8 * GiB, 2, 3 * GiB, 5 * GiB },
	{ 80 * GiB, 2, 3 * GiB, 77 * GiB },
};

static struct cvmm_guest_mem *make(uint64_t size, enum cvmm_mem_backing b, uint32_t flags)
{
	struct cvmm_x86_ram_opts o = {
		.sz = sizeof(o), .size = size, .backing = b, .flags = flags,
	};
	struct cvmm_guest_mem *m = NULL;

	ck_assert_int_eq(cvmm_guest_mem_create_x86(&o, &m), 0);
	ck_assert_ptr_nonnull(m);
	return m;
}

static void check_table(struct cvmm_guest_mem *m, size_t i, enum cvmm_mem_backing b)
{
	const struct cvmm_mem_region *r0, *r1;

	ck_assert_uint_eq(cvmm_guest_mem_num_regions(m), cases[i].n);
	ck_assert_uint_eq(cvmm_guest_mem_total_size(m), cases[i].size);
	r0 = cvmm_guest_mem_region(m, 0);
	ck_assert_uint_eq(r0->gpa, 0);
	ck_assert_uint_eq(r0->size, cases[i].low);
	ck_assert_int_eq(r0->backing, b);
	/* Nothing of the MMIO hole is RAM. */
	ck_assert_ptr_null(cvmm_guest_mem_find(m, CVMM_X86_MMIO_HOLE_START));
	ck_assert_ptr_null(cvmm_guest_mem_find(m, CVMM_X86_MMIO_HOLE_END - 1));
	ck_assert(cvmm_guest_mem_range_valid(m, 0, cases[i].low));
	if (cases[i].n == 1) {
		ck_assert_ptr_null(cvmm_guest_mem_region(m, 1));
		ck_assert_uint_eq(cvmm_guest_mem_end(m), cases[i].size);
		ck_assert_ptr_null(cvmm_guest_mem_find(m, cases[i].size));
		return;
	}
	r1 = cvmm_guest_mem_region(m, 1);
	ck_assert_uint_eq(r1->gpa, CVMM_X86_MMIO_HOLE_END);
	ck_assert_uint_eq(r1->size, cases[i].high);
	ck_assert_int_eq(r1->backing, b);
	ck_assert_uint_eq(cvmm_guest_mem_end(m), CVMM_X86_MMIO_HOLE_END + cases[i].high);
	ck_assert(cvmm_guest_mem_range_valid(m, CVMM_X86_MMIO_HOLE_END, cases[i].high));
	ck_assert_ptr_null(cvmm_guest_mem_region(m, 2));
}

/* Write a marker at the first and last byte of every region, read it back. */
static void touch_ends(struct cvmm_guest_mem *m)
{
	for (unsigned int i = 0; i < cvmm_guest_mem_num_regions(m); i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(m, i);
		uint8_t v;

		ck_assert_int_eq(cvmm_guest_mem_write_u8(m, r->gpa, (uint8_t)(0x40 + i)), 0);
		ck_assert_int_eq(cvmm_guest_mem_write_u8(m, r->gpa + r->size - 1,
							 (uint8_t)(0x80 + i)), 0);
		ck_assert_int_eq(cvmm_guest_mem_read_u8(m, r->gpa, &v), 0);
		ck_assert_uint_eq(v, 0x40 + i);
		ck_assert_uint_eq(r->host[r->size - 1], 0x80 + i);
	}
}

START_TEST(layout_anon)
{
	struct cvmm_guest_mem *m = make(cases[_i].size, CVMM_MEM_ANON, CVMM_MEM_F_NORESERVE);

	check_table(m, (size_t)_i, CVMM_MEM_ANON);
	ck_assert_int_eq(cvmm_guest_mem_region(m, 0)->fd, -1);
	touch_ends(m);
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* One memfd for all RAM: the high region is the same file at offset `low`. */
START_TEST(layout_memfd)
{
	struct cvmm_guest_mem *m = make(cases[_i].size, CVMM_MEM_MEMFD, CVMM_MEM_F_NORESERVE);
	const struct cvmm_mem_region *r0, *r1;
	struct stat s0, s1;
	uint64_t v = 0;

	check_table(m, (size_t)_i, CVMM_MEM_MEMFD);
	touch_ends(m);
	r0 = cvmm_guest_mem_region(m, 0);
	ck_assert_int_ge(r0->fd, 0);
	ck_assert_uint_eq(r0->fd_offset, 0);
	ck_assert_int_eq(fstat(r0->fd, &s0), 0);
	ck_assert_int_eq(s0.st_size, (off_t)cases[_i].size);
	if (cases[_i].n == 2) {
		r1 = cvmm_guest_mem_region(m, 1);
		ck_assert_int_ge(r1->fd, 0);
		ck_assert_int_eq(fstat(r1->fd, &s1), 0);
		ck_assert_uint_eq(s0.st_ino, s1.st_ino);
		ck_assert_uint_eq(r1->fd_offset, cases[_i].low);
		ck_assert_int_eq(cvmm_guest_mem_write_u64(m, CVMM_X86_MMIO_HOLE_END + 8,
							  0x1122334455667788ull), 0);
		ck_assert_int_eq(pread(r0->fd, &v, 8, (off_t)(cases[_i].low + 8)), 8);
		ck_assert_uint_eq(v, 0x1122334455667788ull);
	}
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* The VmFlags line of the mapping that starts at @addr, from /proc/self/smaps. */
static bool vma_has_flag(const void *addr, const char *flag)
{
	char line[512], want[32];
	bool in = false, found = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	ck_assert_ptr_nonnull(f);
	snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)addr);
	while (fgets(line, sizeof(line), f)) {
		/* Mapping headers start with a lowercase hex address; field
		 * names start with a capital letter. */
		if ((line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f'))
			in = strncmp(line, want, strlen(want)) == 0;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			char *tok = strtok(line + 8, " \n");

			for (; tok; tok = strtok(NULL, " \n"))
				found |= strcmp(tok, flag) == 0;
			break;
		}
	}
	fclose(f);
	return found;
}

/* An 80 GiB guest on a smaller host costs nothing until touched. */
START_TEST(big_guest_noreserve_rss)
{
	const enum cvmm_mem_backing b = _i ? CVMM_MEM_MEMFD : CVMM_MEM_ANON;
	uint64_t before, after, touched;
	struct cvmm_guest_mem *m;

	before = gm_rss_bytes();
	m = make(80 * GiB, b, CVMM_MEM_F_NORESERVE);
	ck_assert_int_eq(cvmm_guest_mem_dirty_log_enable(m, true), 0);
	after = gm_rss_bytes();
	/* MAP_NORESERVE really reached the kernel: no commit charge. */
	ck_assert(vma_has_flag(cvmm_guest_mem_region(m, 1)->host, "nr"));
	ck_assert_msg(after < before + 16 * MiB, "RSS %llu -> %llu",
		      (unsigned long long)before, (unsigned long long)after);
	/* Touch 64 pages spread over the top region: RSS grows by about that. */
	for (uint64_t i = 0; i < 64; i++)
		ck_assert_int_eq(cvmm_guest_mem_write_u64(m, CVMM_X86_MMIO_HOLE_END + i * GiB,
							  i + 1), 0);
	touched = gm_rss_bytes();
	ck_assert_uint_ge(touched, after + 64 * PAGE / 2);
	ck_assert_msg(touched < after + 16 * MiB, "RSS %llu -> %llu",
		      (unsigned long long)after, (unsigned long long)touched);
	{
		uint64_t v;

		ck_assert_int_eq(cvmm_guest_mem_read_u64(m, CVMM_X86_MMIO_HOLE_END + 63 * GiB, &v), 0);
		ck_assert_uint_eq(v, 64);
	}
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(layout_hugetlbfs)
{
	struct cvmm_x86_ram_opts o = {
		.sz = sizeof(o), .size = 16 * MiB, .backing = CVMM_MEM_HUGETLBFS,
	};
	struct cvmm_guest_mem *m = NULL;
	struct gm_hugepages hp = { .lock = -1, .old = -1 };
	int r;

	r = cvmm_guest_mem_create_x86(&o, &m);
	if (r == -ENOMEM) {
		if (gm_hugepages_reserve(&hp, 8))
			r = cvmm_guest_mem_create_x86(&o, &m);
	}
	if (r == -ENOMEM || r == -EINVAL || r == -ENOSYS || r == -EACCES) {
		fprintf(stderr, "# layout_hugetlbfs: skipped, no 2 MiB huge pages (%s)\n",
			strerror(-r));
		gm_hugepages_restore(&hp);
		return;
	}
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(cvmm_guest_mem_num_regions(m), 1);
	ck_assert_uint_eq((uintptr_t)cvmm_guest_mem_region(m, 0)->host % (2 * MiB), 0);
	touch_ends(m);
	cvmm_guest_mem_destroy(m);
	gm_hugepages_restore(&hp);
	/* Sizes must be whole huge pages. */
	o.size = 16 * MiB + PAGE;
	ck_assert_int_eq(cvmm_guest_mem_create_x86(&o, &m), -EINVAL);
}
END_TEST

START_TEST(layout_invalid)
{
	struct cvmm_x86_ram_opts o;
	struct cvmm_guest_mem *m = (struct cvmm_guest_mem *)&o; /* must stay untouched */

#define EXPECT(expr)                                                              \
	do {                                                                      \
		o = (struct cvmm_x86_ram_opts){ .sz = sizeof(o), .size = 1 * MiB }; \
		expr;                                                             \
		ck_assert_int_eq(cvmm_guest_mem_create_x86(&o, &m), -EINVAL);     \
		ck_assert_ptr_eq(m, (struct cvmm_guest_mem *)&o);                 \
	} while (0)

	EXPECT(o.size = 0);
	EXPECT(o.size += 1);
	EXPECT(o.sz = 8);
	EXPECT(o.backing = CVMM_MEM_FILE);
	EXPECT(o.backing = (enum cvmm_mem_backing)7);
	EXPECT(o.flags = 0x80000000u);
	/* The part above 4 GiB would run past 2^64. */
	EXPECT(o.size = UINT64_MAX & ~(PAGE - 1));
	EXPECT(o.size = (UINT64_MAX & ~(PAGE - 1)) - 1 * GiB);
	EXPECT((o.backing = CVMM_MEM_HUGETLBFS, o.hugepage_size = 4096));
	EXPECT((o.backing = CVMM_MEM_HUGETLBFS, o.size = 1 * MiB));
#undef EXPECT
	o = (struct cvmm_x86_ram_opts){ .sz = sizeof(o), .size = 1 * MiB };
	ck_assert_int_eq(cvmm_guest_mem_create_x86(NULL, &m), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_create_x86(&o, NULL), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vm-memory x86 layout");
	TCase *tl = tcase_create("layout");
	TCase *tb = tcase_create("big");

	tcase_add_loop_test(tl, layout_anon, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_loop_test(tl, layout_memfd, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tl, layout_hugetlbfs);
	tcase_add_test(tl, layout_invalid);
	tcase_set_timeout(tl, 60);
	suite_add_tcase(s, tl);
	tcase_add_loop_test(tb, big_guest_noreserve_rss, 0, 2);
	tcase_set_timeout(tb, 60);
	suite_add_tcase(s, tb);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
