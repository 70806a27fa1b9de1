/* SPDX-License-Identifier: Apache-2.0 */
/* The VMM-side dirty bitmap: what marks it, exact harvests, concurrency. */
#include "gm-test.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

/* A [1 MiB, +300 pages) | B [4 MiB, +1 MiB) | hole | C [16 MiB, +64 KiB) */
#define A_GPA (1 * MiB)
#define A_PAGES 300u
#define B_GPA (4 * MiB)
#define C_GPA (16 * MiB)

static struct cvmm_guest_mem *layout(uint32_t flags)
{
	struct cvmm_guest_mem *m = gm_new();

	gm_add(m, A_GPA, A_PAGES * PAGE, flags);
	gm_add(m, B_GPA, 1 * MiB, flags);
	gm_add(m, C_GPA, 64 * KiB, flags);
	return m;
}

/* The test's own model of which pages are dirty: one byte per page. */
struct model {
	uint64_t gpa;
	uint8_t dirty[A_PAGES];
};

static void model_mark(struct model *md, uint64_t gpa, uint64_t len)
{
	for (uint64_t a = gpa; a < gpa + len; a++)
		md->dirty[(a - md->gpa) / PAGE] = 1;
}

/* Harvest pages [first, first + n) of A and compare with the model, clearing both. */
static void harvest_and_check(struct cvmm_guest_mem *m, struct model *md,
			      unsigned int first, unsigned int n)
{
	uint64_t bm[8];
	long want = 0, got;

	ck_assert_uint_le((n + 63) / 64, 7);
	for (size_t i = 0; i < 8; i++)
		bm[i] = 0xdeadbeefcafef00dull;
	got = cvmm_guest_mem_dirty_get_and_clear(m, A_GPA + (uint64_t)first * PAGE,
						 (uint64_t)n * PAGE, bm);
	for (unsigned int i = 0; i < n; i++) {
		bool bit = (bm[i / 64] >> (i % 64)) & 1;

		ck_assert_msg(bit == md->dirty[first + i], "page %u: bitmap %d model %d",
			      first + i, bit, md->dirty[first + i]);
		want += md->dirty[first + i];
		md->dirty[first + i] = 0;
	}
	/* Bits past the range in the last word are zero; words past it untouched. */
	if (n % 64)
		ck_assert_uint_eq(bm[n / 64] >> (n % 64), 0);
	ck_assert_uint_eq(bm[(n + 63) / 64], 0xdeadbeefcafef00dull);
	ck_assert_int_eq(got, want);
}

START_TEST(off_by_default)
{
	struct cvmm_guest_mem *m = layout(0);
	uint64_t bm[8];

	ck_assert_int_eq(cvmm_guest_mem_write_u32(m, A_GPA, 1), 0);
	cvmm_guest_mem_mark_dirty(m, A_GPA, PAGE);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, A_GPA, PAGE, bm), -ENODATA);
	ck_assert(!(cvmm_guest_mem_region(m, 0)->flags & CVMM_MEM_F_DIRTY_LOG));
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* Every write path marks exactly the pages it touched; reads mark nothing. */
START_TEST(writes_mark_pages)
{
	struct cvmm_guest_mem *m = layout(0);
	struct model md = { .gpa = A_GPA };
	uint8_t buf[3 * PAGE] = { 0 };
	uint64_t v;

	ck_assert_int_eq(cvmm_guest_mem_dirty_log_enable(m, true), 0);
	ck_assert(cvmm_guest_mem_region(m, 2)->flags & CVMM_MEM_F_DIRTY_LOG);
	harvest_and_check(m, &md, 0, A_PAGES);      /* starts clean */

#define W(call, gpa, len) do { ck_assert_int_eq(call, 0); model_mark(&md, gpa, len); } while (0)
	W(cvmm_guest_mem_write(m, A_GPA + PAGE - 1, buf, 2 * PAGE + 2), A_GPA + PAGE - 1, 2 * PAGE + 2);
	W(cvmm_guest_mem_fill(m, A_GPA + 10 * PAGE, 1, PAGE), A_GPA + 10 * PAGE, PAGE);
	W(cvmm_guest_mem_write_u32(m, A_GPA + 63 * PAGE + 8, 7), A_GPA + 63 * PAGE + 8, 4);
	W(cvmm_guest_mem_write_u64(m, A_GPA + 100 * PAGE - 4, 7), A_GPA + 100 * PAGE - 4, 8);
	W(cvmm_guest_mem_write_u8(m, A_GPA + 299 * PAGE + 4095, 7), A_GPA + 299 * PAGE + 4095, 1);
	W(cvmm_guest_mem_write_u16(m, A_GPA + 128 * PAGE, 7), A_GPA + 128 * PAGE, 2);
	cvmm_guest_mem_mark_dirty(m, A_GPA + 200 * PAGE + 1, 65 * PAGE);
	model_mark(&md, A_GPA + 200 * PAGE + 1, 65 * PAGE);
#undef W
	/* Reads, failed writes and zero-length writes leave no mark. */
	ck_assert_int_eq(cvmm_guest_mem_read(m, A_GPA + 150 * PAGE, buf, sizeof(buf)), 0);
	ck_assert_int_eq(cvmm_guest_mem_read_u64(m, A_GPA + 160 * PAGE, &v), 0);
	ck_assert_int_eq(cvmm_guest_mem_write(m, A_GPA + 170 * PAGE, buf, 0), 0);
	ck_assert_int_eq(cvmm_guest_mem_write(m, A_GPA + 299 * PAGE, buf, 2 * PAGE), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_fill(m, A_GPA + 298 * PAGE, 0, 3 * PAGE), -EFAULT);

	harvest_and_check(m, &md, 0, A_PAGES);
	/* Cleared: a second harvest finds nothing. */
	harvest_and_check(m, &md, 0, A_PAGES);
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* Windows that start and end anywhere relative to the 64-page words. */
START_TEST(unaligned_windows)
{
	struct cvmm_guest_mem *m = layout(CVMM_MEM_F_DIRTY_LOG);
	struct model md = { .gpa = A_GPA };
	uint64_t rng = 0x9e3779b97f4a7c15ull;

	for (int round = 0; round < 400; round++) {
		unsigned int first, n;

		for (int k = 0; k < 20; k++) {
			unsigned int p;

			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			p = (unsigned int)((rng >> 33) % A_PAGES);
			cvmm_guest_mem_mark_dirty(m, A_GPA + (uint64_t)p * PAGE + (rng & 4095), 1);
			md.dirty[p] = 1;
		}
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		first = (unsigned int)((rng >> 33) % A_PAGES);
		n = 1 + (unsigned int)((rng >> 13) % (A_PAGES - first));
		if (n > 7 * 64)
			n = 7 * 64;
		harvest_and_check(m, &md, first, n);
	}
	/* Fixed awkward shapes: inside one word, across one boundary, across several. */
	cvmm_guest_mem_mark_dirty(m, A_GPA, A_PAGES * PAGE);
	memset(md.dirty, 1, sizeof(md.dirty));
	harvest_and_check(m, &md, 3, 5);
	harvest_and_check(m, &md, 60, 8);
	harvest_and_check(m, &md, 63, 1);
	harvest_and_check(m, &md, 64, 64);
	harvest_and_check(m, &md, 129, 170);
	harvest_and_check(m, &md, 0, A_PAGES);
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(harvest_validation)
{
	struct cvmm_guest_mem *m = layout(CVMM_MEM_F_DIRTY_LOG);
	uint64_t bm[300];

	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, A_GPA + 1, PAGE, bm), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, A_GPA, PAGE + 1, bm), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, A_GPA, 0, bm), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, A_GPA, PAGE, NULL), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(NULL, A_GPA, PAGE, bm), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, UINT64_MAX - PAGE + 1,
							    2 * PAGE, bm), -EINVAL);
	/* Past the end of A, in the hole, across two regions. */
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, A_GPA, (A_PAGES + 1) * PAGE, bm),
			 -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, 8 * MiB, PAGE, bm), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, 0, PAGE, bm), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, B_GPA + 1 * MiB - PAGE,
							    2 * PAGE, bm), -EFAULT);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, B_GPA, 1 * MiB, bm), 0);
	ck_assert_int_eq(cvmm_guest_mem_dirty_log_enable(NULL, true), -EINVAL);
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* mark_dirty over holes and several regions marks all RAM pages and nothing else. */
START_TEST(mark_across_regions)
{
	struct cvmm_guest_mem *m = layout(CVMM_MEM_F_DIRTY_LOG);
	uint64_t bm[8];

	cvmm_guest_mem_mark_dirty(m, 0, C_GPA + 64 * KiB + 10 * MiB);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, A_GPA, A_PAGES * PAGE, bm),
			 A_PAGES);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, B_GPA, 1 * MiB, bm), 256);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, C_GPA, 64 * KiB, bm), 16);
	ck_assert_uint_eq(bm[0], 0xffff);
	/* The last byte of B and the first of C: one page each. */
	cvmm_guest_mem_mark_dirty(m, B_GPA + 1 * MiB - 1, C_GPA - (B_GPA + 1 * MiB) + 2);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, B_GPA + 1 * MiB - 64 * PAGE,
							    64 * PAGE, bm), 1);
	ck_assert_uint_eq(bm[0], 1ull << 63);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, C_GPA, 64 * KiB, bm), 1);
	ck_assert_uint_eq(bm[0], 1);
	cvmm_guest_mem_mark_dirty(m, C_GPA, 0);
	cvmm_guest_mem_mark_dirty(NULL, C_GPA, 1);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, C_GPA, 64 * KiB, bm), 0);
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* Region flags vs the global switch. */
START_TEST(enable_disable)
{
	struct cvmm_guest_mem *m = gm_new();
	uint64_t bm[1];

	gm_add(m, 0, 64 * KiB, CVMM_MEM_F_DIRTY_LOG);
	gm_add(m, 1 * MiB, 64 * KiB, 0);
	ck_assert_int_eq(cvmm_guest_mem_write_u8(m, 0, 1), 0);
	ck_assert_int_eq(cvmm_guest_mem_write_u8(m, 1 * MiB, 1), 0);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, 1 * MiB, 64 * KiB, bm), -ENODATA);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, 0, 64 * KiB, bm), 1);
	/* Enabling (again) clears pending bits everywhere. */
	ck_assert_int_eq(cvmm_guest_mem_write_u8(m, 0, 1), 0);
	ck_assert_int_eq(cvmm_guest_mem_dirty_log_enable(m, true), 0);
	ck_assert(cvmm_guest_mem_region(m, 1)->flags & CVMM_MEM_F_DIRTY_LOG);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, 0, 64 * KiB, bm), 0);
	ck_assert_int_eq(cvmm_guest_mem_write_u8(m, 1 * MiB + 5 * PAGE, 1), 0);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, 1 * MiB, 64 * KiB, bm), 1);
	ck_assert_uint_eq(bm[0], 1u << 5);
	ck_assert_int_eq(cvmm_guest_mem_dirty_log_enable(m, false), 0);
	ck_assert(!(cvmm_guest_mem_region(m, 0)->flags & CVMM_MEM_F_DIRTY_LOG));
	ck_assert_int_eq(cvmm_guest_mem_write_u8(m, 0, 1), 0);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, 0, 64 * KiB, bm), -ENODATA);
	/* Regions added while logging is on carry their own flag. */
	ck_assert_int_eq(cvmm_guest_mem_dirty_log_enable(m, true), 0);
	gm_add(m, 2 * MiB, PAGE, CVMM_MEM_F_DIRTY_LOG);
	ck_assert_int_eq(cvmm_guest_mem_write_u8(m, 2 * MiB, 1), 0);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(m, 2 * MiB, PAGE, bm), 1);
	cvmm_guest_mem_destroy(m);
}
END_TEST

/*
 * Two writers mark interleaved pages (even and odd, walking up together so
 * they keep hitting the same bitmap word) while a third thread harvests in
 * odd-shaped windows. Every page is marked exactly once per round, so each
 * round's harvests must add up to exactly the number of pages, each seen
 * once. Many short rounds keep the threads racing on the same words.
 */
#define CC_PAGES 4096u
#define CC_ROUNDS 10u

struct cc_ctx {
	struct cvmm_guest_mem *m;
	pthread_barrier_t start, end;
	uint8_t seen[CC_PAGES];
	long dup, missing;
	int done;
};

struct cc_writer {
	struct cc_ctx *c;
	unsigned int parity;
};

static void *cc_write(void *arg)
{
	struct cc_writer *w = arg;
	uint64_t one = 1;

	for (unsigned int r = 0; r < CC_ROUNDS; r++) {
		pthread_barrier_wait(&w->c->start);
		for (unsigned int i = 0; i < CC_PAGES / 2; i++) {
			unsigned int page = i * 2 + w->parity;
			uint64_t gpa = B_GPA + (uint64_t)page * PAGE;

			switch (i % 4) {
			case 0:
				ck_assert_int_eq(cvmm_guest_mem_write_u64(w->c->m, gpa, page), 0);
				break;
			case 1:
				ck_assert_int_eq(cvmm_guest_mem_write(w->c->m, gpa + 100, &one, 8), 0);
				break;
			default:
				cvmm_guest_mem_mark_dirty(w->c->m, gpa + 4095, 1);
				break;
			}
		}
		__atomic_fetch_add(&w->c->done, 1, __ATOMIC_RELEASE);
		pthread_barrier_wait(&w->c->end);
	}
	return NULL;
}

static void cc_harvest(struct cc_ctx *c, unsigned int first, unsigned int n)
{
	static uint64_t bm[CC_PAGES / 64];
	long got;

	got = cvmm_guest_mem_dirty_get_and_clear(c->m, B_GPA + (uint64_t)first * PAGE,
						 (uint64_t)n * PAGE, bm);
	ck_assert_int_ge(got, 0);
	for (unsigned int i = 0; i < n; i++) {
		if (!((bm[i / 64] >> (i % 64)) & 1))
			continue;
		if (c->seen[first + i])
			c->dup++;
		c->seen[first + i] = 1;
		got--;
	}
	ck_assert_int_eq(got, 0);  /* the count matches the bits */
}

static void *cc_harvester(void *arg)
{
	struct cc_ctx *c = arg;
	unsigned int first = 0, k = 0;

	for (unsigned int r = 0; r < CC_ROUNDS; r++) {
		memset(c->seen, 0, sizeof(c->seen));
		pthread_barrier_wait(&c->start);
		while (__atomic_load_n(&c->done, __ATOMIC_ACQUIRE) < 2) {
			/* Windows of 1..200 pages at any offset, and whole words. */
			unsigned int n = (k++ % 3) ? 1 + (first * 7919u + k) % 200 : 64;

			if (first + n > CC_PAGES)
				n = CC_PAGES - first;
			cc_harvest(c, first, n);
			first = (first + n) % CC_PAGES;
		}
		/* Writers are done: the final full harvest picks up the rest. */
		cc_harvest(c, 0, CC_PAGES);
		for (unsigned int i = 0; i < CC_PAGES; i++)
			c->missing += !c->seen[i];
		c->done = 0;
		pthread_barrier_wait(&c->end);
	}
	return NULL;
}

START_TEST(concurrent_marks_not_lost)
{
	struct cc_ctx *c = calloc(1, sizeof(*c));
	struct cvmm_guest_mem *m = gm_new();
	struct cc_writer w[2];
	pthread_t t[3];

	ck_assert_ptr_nonnull(c);
	gm_add(m, B_GPA, (uint64_t)CC_PAGES * PAGE, CVMM_MEM_F_DIRTY_LOG);
	c->m = m;
	ck_assert_int_eq(pthread_barrier_init(&c->start, NULL, 3), 0);
	ck_assert_int_eq(pthread_barrier_init(&c->end, NULL, 3), 0);
	ck_assert_int_eq(pthread_create(&t[2], NULL, cc_harvester, c), 0);
	for (unsigned int i = 0; i < 2; i++) {
		w[i] = (struct cc_writer){ .c = c, .parity = i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, cc_write, &w[i]), 0);
	}
	for (unsigned int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(c->dup, 0);
	ck_assert_int_eq(c->missing, 0);
	pthread_barrier_destroy(&c->start);
	pthread_barrier_destroy(&c->end);
	cvmm_guest_mem_destroy(m);
	free(c);
}
END_TEST

/*
 * The same, concentrated on one bitmap word: each writer owns every other
 * page of a 64-page word, marks each owned page that is not outstanding,
 * and the harvester hands pages back as it finds them. A lost bit leaves a
 * page outstanding for ever; a bit found for a page nobody marked is a
 * phantom. Both writers and the harvester hammer the same word.
 */
#define HW_MARKS 100000ul

struct hw_ctx {
	struct cvmm_guest_mem *m;
	int outstanding[64];
	unsigned long marked, harvested, phantom;
	int done;
	struct timespec deadline;
};

static bool hw_expired(const struct hw_ctx *c)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > c->deadline.tv_sec;
}

static void *hw_write(void *arg)
{
	struct cc_writer *w = arg;
	struct hw_ctx *c = (struct hw_ctx *)w->c;
	unsigned long n = 0;

	for (unsigned long spin = 0; n < HW_MARKS; spin++) {
		for (unsigned int j = 0; j < 32 && n < HW_MARKS; j++) {
			unsigned int page = 2 * j + w->parity;

			if (__atomic_load_n(&c->outstanding[page], __ATOMIC_ACQUIRE))
				continue;
			__atomic_store_n(&c->outstanding[page], 1, __ATOMIC_RELAXED);
			if (j & 1)
				cvmm_guest_mem_mark_dirty(c->m, C_GPA + page * PAGE, 1);
			else
				ck_assert_int_eq(cvmm_guest_mem_write_u32(c->m, C_GPA + page * PAGE,
									  (uint32_t)n), 0);
			n++;
		}
		if ((spin & 1023) == 0 && hw_expired(c))
			break;
	}
	__atomic_fetch_add(&c->marked, n, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void hw_harvest(struct hw_ctx *c, unsigned int first, unsigned int n)
{
	uint64_t bm;
	long got;

	got = cvmm_guest_mem_dirty_get_and_clear(c->m, C_GPA + first * PAGE, n * PAGE, &bm);
	ck_assert_int_ge(got, 0);
	for (unsigned int i = 0; i < n; i++) {
		if (!((bm >> i) & 1))
			continue;
		if (!__atomic_load_n(&c->outstanding[first + i], __ATOMIC_RELAXED))
			c->phantom++;
		c->harvested++;
		__atomic_store_n(&c->outstanding[first + i], 0, __ATOMIC_RELEASE);
	}
}

static void *hw_harvester(void *arg)
{
	struct hw_ctx *c = arg;
	/* Whole word, and splits that are not word-aligned. */
	static const unsigned int win[][2] = { { 0, 64 }, { 0, 37 }, { 37, 27 }, { 5, 1 },
					       { 6, 58 }, { 0, 5 } };

	for (unsigned long k = 0; __atomic_load_n(&c->done, __ATOMIC_ACQUIRE) < 2; k++)
		hw_harvest(c, win[k % 6][0], win[k % 6][1]);
	hw_harvest(c, 0, 64);
	return NULL;
}

START_TEST(contended_word_no_lost_marks)
{
	struct hw_ctx *c = calloc(1, sizeof(*c));
	struct cc_writer w[2];
	pthread_t t[3];

	ck_assert_ptr_nonnull(c);
	c->m = gm_new();
	gm_add(c->m, C_GPA, 64 * PAGE, CVMM_MEM_F_DIRTY_LOG);
	clock_gettime(CLOCK_MONOTONIC, &c->deadline);
	c->deadline.tv_sec += 3;
	ck_assert_int_eq(pthread_create(&t[2], NULL, hw_harvester, c), 0);
	for (unsigned int i = 0; i < 2; i++) {
		w[i] = (struct cc_writer){ .c = (struct cc_ctx *)c, .parity = i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, hw_write, &w[i]), 0);
	}
	for (unsigned int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_eq(c->phantom, 0);
	/* Every mark came back exactly once. */
	ck_assert_uint_eq(c->harvested, c->marked);
	ck_assert_uint_gt(c->marked, 1000);
	cvmm_guest_mem_destroy(c->m);
	free(c);
}
END_TEST

/*
 * The migration invariant: once a harvest reports a page, reading the page
 * shows at least the data of the write that set the bit. Writers bump a
 * per-page counter; the harvester copies reported pages; after the final
 * harvest the copy equals guest memory.
 */
#define MV_PAGES 256u
#define MV_ITERS 50000u

struct mv_ctx {
	struct cvmm_guest_mem *m;
	int done;
	uint64_t copy[MV_PAGES];
};

static void *mv_write(void *arg)
{
	struct cc_writer *w = arg;
	struct mv_ctx *c = (struct mv_ctx *)w->c;

	for (unsigned int i = 0; i < MV_ITERS; i++) {
		unsigned int page = ((i * 31u) % (MV_PAGES / 2)) * 2 + w->parity;
		uint64_t gpa = C_GPA + (uint64_t)page * PAGE, v;

		ck_assert_int_eq(cvmm_guest_mem_read_u64(c->m, gpa, &v), 0);
		ck_assert_int_eq(cvmm_guest_mem_write_u64(c->m, gpa, v + 1), 0);
	}
	__atomic_fetch_add(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void mv_harvest(struct mv_ctx *c)
{
	uint64_t bm[MV_PAGES / 64];

	ck_assert_int_ge(cvmm_guest_mem_dirty_get_and_clear(c->m, C_GPA, MV_PAGES * PAGE, bm), 0);
	for (unsigned int i = 0; i < MV_PAGES; i++)
		if ((bm[i / 64] >> (i % 64)) & 1)
			ck_assert_int_eq(cvmm_guest_mem_read_u64(c->m, C_GPA + (uint64_t)i * PAGE,
								 &c->copy[i]), 0);
}

static void *mv_harvester(void *arg)
{
	struct mv_ctx *c = arg;

	while (__atomic_load_n(&c->done, __ATOMIC_ACQUIRE) < 2)
		mv_harvest(c);
	mv_harvest(c);
	return NULL;
}

START_TEST(harvest_sees_data)
{
	struct mv_ctx *c = calloc(1, sizeof(*c));
	struct cc_writer w[2];
	pthread_t t[3];
	uint64_t sum = 0;

	ck_assert_ptr_nonnull(c);
	c->m = gm_new();
	gm_add(c->m, C_GPA, MV_PAGES * PAGE, CVMM_MEM_F_DIRTY_LOG);
	ck_assert_int_eq(pthread_create(&t[2], NULL, mv_harvester, c), 0);
	for (unsigned int i = 0; i < 2; i++) {
		w[i] = (struct cc_writer){ .c = (struct cc_ctx *)c, .parity = i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, mv_write, &w[i]), 0);
	}
	for (unsigned int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	for (unsigned int i = 0; i < MV_PAGES; i++) {
		uint64_t v;

		ck_assert_int_eq(cvmm_guest_mem_read_u64(c->m, C_GPA + (uint64_t)i * PAGE, &v), 0);
		ck_assert_msg(c->copy[i] == v, "page %u: copy %llu guest %llu", i,
			      (unsigned long long)c->copy[i], (unsigned long long)v);
		sum += v;
	}
	ck_assert_uint_eq(sum, 2 * MV_ITERS);
	cvmm_guest_mem_destroy(c->m);
	free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vm-memory dirty bitmap");
	TCase *tb = tcase_create("bitmap");
	TCase *tc = tcase_create("concurrency");

	tcase_add_test(tb, off_by_default);
	tcase_add_test(tb, writes_mark_pages);
	tcase_add_test(tb, unaligned_windows);
	tcase_add_test(tb, harvest_validation);
	tcase_add_test(tb, mark_across_regions);
	tcase_add_test(tb, enable_disable);
	tcase_set_timeout(tb, 30);
	suite_add_tcase(s, tb);
	tcase_add_test(tc, concurrent_marks_not_lost);
	tcase_add_test(tc, contended_word_no_lost_marks);
	tcase_add_test(tc, harvest_sees_data);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
