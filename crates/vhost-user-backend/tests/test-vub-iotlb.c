/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device IOTLB of vhost-user-backend (src/iotlb.c), driven directly as
 * a hostile frontend would fill it: overflowing and empty ranges, bad
 * permissions, overlapping updates, invalidations that split windows, a
 * full table, and lookups held to the struct cvmm_dma_xlate contract
 * (permission checked per access, contiguity, the hole reported, the
 * generation moving on every withdrawal). A page-granular reference model
 * cross-checks a long pseudo-random sequence.
 */
#include "cvmm-test.h"
#include "../src/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define R CVMM_DMA_READ
#define W CVMM_DMA_WRITE
#define RW (R | W)

static struct vub_iotlb T;

static void setup(void)
{
	ck_assert_int_eq(cvmm_vub_iotlb_init(&T, 0), 0);
}

static void teardown(void)
{
	cvmm_vub_iotlb_fini(&T);
}

static int look(uint64_t iova, uint64_t len, unsigned int access, uint64_t *gpa)
{
	uint64_t hole, g = 0;
	int r = cvmm_vub_iotlb_lookup(&T, iova, len, access, &g, NULL, &hole);

	if (gpa)
		*gpa = r == 0 ? g : hole;
	return r;
}

START_TEST(hostile_updates_refused)
{
	ck_assert_int_eq(cvmm_vub_iotlb_update(&T, 0x1000, 0, 0, RW), -EINVAL);
	ck_assert_int_eq(cvmm_vub_iotlb_update(&T, ~0xfffull, 0x2000, 0, RW), -EINVAL);
	ck_assert_int_eq(cvmm_vub_iotlb_update(&T, 0x1000, 0x2000, ~0xfffull, RW), -EINVAL);
	ck_assert_int_eq(cvmm_vub_iotlb_update(&T, 0x1000, 0x1000, 0, 0), -EINVAL);
	ck_assert_int_eq(cvmm_vub_iotlb_update(&T, 0x1000, 0x1000, 0, 4), -EINVAL);
	ck_assert_int_eq(cvmm_vub_iotlb_update(&T, 0x1000, 0x1000, 0, 0xff), -EINVAL);
	ck_assert_int_eq(cvmm_vub_iotlb_invalidate(&T, 0x1000, 0), -EINVAL);
	ck_assert_int_eq(cvmm_vub_iotlb_invalidate(&T, ~0ull, 2), -EINVAL);
	ck_assert_uint_eq(cvmm_vub_iotlb_count(&T), 0);
	/* The very top of the space is fine. */
	ck_assert_int_eq(cvmm_vub_iotlb_update(&T, ~0xfffull, 0x1000, 0x5000, R), 0);
	ck_assert_int_eq(look(~0ull, 1, R, NULL), 0);
	ck_assert_int_eq(look(~0ull, 2, R, NULL), -EFAULT); /* wraps */
	ck_assert_int_eq(look(0x1000, 0, R, NULL), -EFAULT);
	ck_assert_int_eq(look(~0xfffull, 1, 0, NULL), -EFAULT);
	ck_assert_int_eq(look(~0xfffull, 1, 4, NULL), -EFAULT);
}
END_TEST

START_TEST(permissions_and_contiguity)
{
	uint64_t g, gen = T.gen;
	struct cvmm_dma_span sp;
	uint64_t hole;

	ck_assert_int_eq(cvmm_vub_iotlb_update(&T, 0x10000, 0x1000, 0x200000, R), 0);
	ck_assert_int_eq(cvmm_vub_iotlb_update(&T, 0x11000, 0x1000, 0x201000, RW), 0);
	ck_assert_int_eq(cvmm_vub_iotlb_update(&T, 0x12000, 0x1000, 0x900000, RW), 0);
	ck_assert_uint_eq(T.gen, gen); /* adding withdraws nothing */
	/* a device write into a read-only window fails */
	ck_assert_int_eq(look(0x10010, 16, W, NULL), -EACCES);
	ck_assert_int_eq(look(0x10010, 16, R, &g), 0);
	ck_assert_uint_eq(g, 0x200010);
	/* joined across adjacent windows contiguous in both spaces */
	ck_assert_int_eq(look(0x10ff0, 0x20, R, &g), 0);
	ck_assert_uint_eq(g, 0x200ff0);
	/* ... not for an access the first lacks */
	ck_assert_int_eq(look(0x10ff0, 0x20, RW, NULL), -EACCES);
	/* not contiguous in guest physical space */
	ck_assert_int_eq(look(0x11ff0, 0x20, R, NULL), -ERANGE);
	/* the hole is named */
	ck_assert_int_eq(look(0x12ff0, 0x20, R, &g), -EFAULT);
	ck_assert_uint_eq(g, 0x13000);
	ck_assert_int_eq(look(0xf000, 0x2000, R, &g), -EFAULT);
	ck_assert_uint_eq(g, 0xf000);
	/* the span is the window itself */
	ck_assert_int_eq(cvmm_vub_iotlb_lookup(&T, 0x11800, 8, W, &g, &sp, &hole), 0);
	ck_assert_uint_eq(sp.iova, 0x11000);
	ck_assert_uint_eq(sp.last, 0x11fff);
	ck_assert_uint_eq(sp.gpa, 0x201000);
	ck_assert_uint_eq(sp.perm, RW);
	ck_assert_int_eq(cvmm_vub_iotlb_lookup(&T, 0x11800, 8, 8, &g, &sp, &hole), -EFAULT);
	ck_assert_uint_eq(sp.perm, 0);
}
END_TEST

START_TEST(invalidate_splits_and_withdraws)
{
	uint64_t g, gen;

	ck_assert_int_eq(cvmm_vub_iotlb_update(&T, 0x100000, 0x10000, 0x400000, RW), 0);
	gen = T.gen;
	/* a hole in the middle: two windows remain, offsets kept */
	ck_assert_int_eq(cvmm_vub_iotlb_invalidate(&T, 0x104000, 0x1000), 0);
	ck_assert_uint_gt(T.gen, gen);
	ck_assert_uint_eq(cvmm_vub_iotlb_count(&T), 2);
	ck_assert_int_eq(look(0x104800, 1, R, NULL), -EFAULT);
	ck_assert_int_eq(look(0x103fff, 1, R, &g), 0);
	ck_assert_uint_eq(g, 0x403fff);
	ck_assert_int_eq(look(0x105000, 1, R, &g), 0);
	ck_assert_uint_eq(g, 0x405000);
	/* the ends trimmed */
	ck_assert_int_eq(cvmm_vub_iotlb_invalidate(&T, 0xff000, 0x2000), 0);
	ck_assert_int_eq(look(0x100fff, 1, R, NULL), -EFAULT);
	ck_assert_int_eq(look(0x101000, 1, R, &g), 0);
	ck_assert_uint_eq(g, 0x401000);
	ck_assert_int_eq(cvmm_vub_iotlb_invalidate(&T, 0x10f000, 0x100000), 0);
	ck_assert_int_eq(look(0x10efff, 1, R, NULL), 0);
	ck_assert_int_eq(look(0x10f000, 1, R, NULL), -EFAULT);
	/* an UPDATE over part of a window replaces that part */
	gen = T.gen;
	ck_assert_int_eq(cvmm_vub_iotlb_update(&T, 0x102000, 0x1000, 0x800000, R), 0);
	ck_assert_uint_gt(T.gen, gen);
	ck_assert_int_eq(look(0x102010, 1, W, NULL), -EACCES);
	ck_assert_int_eq(look(0x102010, 1, R, &g), 0);
	ck_assert_uint_eq(g, 0x800010);
	ck_assert_int_eq(look(0x101fff, 1, W, &g), 0);
	ck_assert_uint_eq(g, 0x401fff);
	/* everything */
	ck_assert_int_eq(cvmm_vub_iotlb_invalidate(&T, 0, ~0ull), 0);
	ck_assert_uint_eq(cvmm_vub_iotlb_count(&T), 0);
}
END_TEST

/* A frontend that floods UPDATEs: the table never grows past its cap; a
 * full table starts over (everything can be asked for again). */
START_TEST(flood_stays_bounded)
{
	struct vub_iotlb small;
	uint64_t gen;

	ck_assert_int_eq(cvmm_vub_iotlb_init(&small, 8), 0);
	gen = small.gen;
	for (uint64_t i = 0; i < 1000; i++) {
		ck_assert_int_eq(cvmm_vub_iotlb_update(&small, i * 0x2000, 0x1000, i * 0x1000, R), 0);
		ck_assert_uint_le(cvmm_vub_iotlb_count(&small), 8);
		/* the newest is always there */
		ck_assert_int_eq(cvmm_vub_iotlb_lookup(&small, i * 0x2000, 1, R, &(uint64_t){ 0 },
						       NULL, &(uint64_t){ 0 }), 0);
	}
	ck_assert_uint_gt(small.flushes, 0);
	ck_assert_uint_gt(small.gen, gen);
	/* splitting in a full table drops everything rather than overflow */
	cvmm_vub_iotlb_flush(&small);
	for (uint64_t i = 0; i < 7; i++)
		ck_assert_int_eq(cvmm_vub_iotlb_update(&small, 0x10000000 + i * 0x10000, 0x3000, 0, R),
				 0);
	ck_assert_uint_eq(cvmm_vub_iotlb_count(&small), 7);
	ck_assert_int_eq(cvmm_vub_iotlb_invalidate(&small, 0x10001000, 0x1000), 0);
	ck_assert_uint_eq(cvmm_vub_iotlb_count(&small), 8);
	ck_assert_int_eq(cvmm_vub_iotlb_invalidate(&small, 0x10011000, 0x1000), 0);
	ck_assert_uint_eq(cvmm_vub_iotlb_count(&small), 0);
	ck_assert_int_eq(cvmm_vub_iotlb_lookup(&small, 0x10000000, 1, R, &(uint64_t){ 0 }, NULL,
					       &(uint64_t){ 0 }), -EFAULT);
	cvmm_vub_iotlb_fini(&small);
}
END_TEST

/* Pages 0..NP-1 of IOVA space; each maps to a guest page (or none). */
#define NP 64
struct ref {
	int64_t gpage[NP];
	uint8_t perm[NP];
};

static void ref_set(struct ref *m, uint64_t p, uint64_t n, int64_t g, uint8_t perm)
{
	for (uint64_t i = 0; i < n; i++) {
		m->gpage[p + i] = g < 0 ? -1 : g + (int64_t)i;
		m->perm[p + i] = perm;
	}
}

/* The model's answer for [iova, iova + len) (len within a few pages). */
static int ref_look(const struct ref *m, uint64_t iova, uint64_t len, unsigned int access,
		    uint64_t *gpa)
{
	uint64_t first = iova >> 12, last = (iova + len - 1) >> 12;

	for (uint64_t p = first; p <= last; p++) {
		if (p >= NP || m->gpage[p] < 0)
			return -EFAULT;
		if ((m->perm[p] & access) != access)
			return -EACCES;
		if (p > first && m->gpage[p] != m->gpage[p - 1] + 1)
			return -ERANGE;
	}
	*gpa = ((uint64_t)m->gpage[first] << 12) + (iova & 0xfff);
	return 0;
}

START_TEST(random_against_model)
{
	struct ref m;
	uint32_t x = 12345;

	for (int i = 0; i < NP; i++)
		m.gpage[i] = -1;
	memset(m.perm, 0, sizeof(m.perm));
	for (int step = 0; step < 20000; step++) {
		uint64_t p, n, g, a, b;
		uint8_t perm;
		int want, got;

		x = x * 1103515245u + 12345u;
		p = (x >> 8) % NP;
		n = 1 + (x >> 16) % 4;
		if (p + n > NP)
			n = NP - p;
		switch ((x >> 28) % 4) {
		case 0:
		case 1:
			g = (x >> 4) % 32;
			perm = (uint8_t)(1 + (x >> 12) % 3);
			ck_assert_int_eq(cvmm_vub_iotlb_update(&T, p << 12, n << 12, g << 12, perm), 0);
			ref_set(&m, p, n, (int64_t)g, perm);
			break;
		case 2:
			ck_assert_int_eq(cvmm_vub_iotlb_invalidate(&T, p << 12, n << 12), 0);
			ref_set(&m, p, n, -1, 0);
			break;
		default: {
			unsigned int acc = 1 + (x >> 3) % 3;
			uint64_t off = (x >> 5) & 0xfff, len = 1 + ((x >> 9) % 0x1800);

			want = ref_look(&m, (p << 12) + off, len, acc, &a);
			got = look((p << 12) + off, len, acc, &b);
			/* the model lists problems page by page; the table may
			 * meet them in another order only when both fail */
			ck_assert_msg((want == 0) == (got == 0), "step %d: model %d, table %d", step,
				      want, got);
			if (want == 0)
				ck_assert_uint_eq(a, b);
			break;
		}
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vub-iotlb");
	TCase *t = tcase_create("iotlb");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, hostile_updates_refused);
	tcase_add_test(t, permissions_and_contiguity);
	tcase_add_test(t, invalidate_splits_and_withdraws);
	tcase_add_test(t, flood_stays_bounded);
	tcase_add_test(t, random_against_model);
	suite_add_tcase(s, t);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
