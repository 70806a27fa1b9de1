/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dirty tracking against a guest that writes a known page set
 * (tests/guests/dirty.c, cvmm-dirty-pattern.h): after each round the guest
 * stops at the sync port, we harvest, and the pages reported in the data
 * slot must be exactly that round's pages -- with the dirty log, the
 * manually cleared log and the dirty ring, on one and several vCPUs. The
 * loader's own slot (code, stacks, page tables) is left out of the
 * comparison, which is why the data area is a slot of its own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cvmm-dirty-pattern.h"
#include "itest.h"

#define MIB (1ull << 20)
#define AREA_GPA (16 * MIB)
#define MEM_SIZE (64 * MIB)
#define SPAN ((MEM_SIZE - AREA_GPA) / 4096)
#define MAX_ROUNDS 4

struct dirty_ctx {
	uint64_t seed, count, rounds;
	uint8_t *seen;          /* one byte per area page, for the current harvest */
	unsigned int syncs;
	long missing[MAX_ROUNDS], extra[MAX_ROUNDS], wrong_value[MAX_ROUNDS];
	long sys_pages[MAX_ROUNDS];
	long leftover;          /* pages reported at exit (after the last round) */
	int error;
};

static void note_page(uint64_t gpa, void *opaque)
{
	struct dirty_ctx *c = opaque;

	if (gpa < AREA_GPA || gpa >= MEM_SIZE) {
		c->sys_pages[c->syncs % MAX_ROUNDS]++;
		return;
	}
	c->seen[(gpa - AREA_GPA) / 4096]++;
}

/* Compare the harvest with round @r's pages and the values the guest wrote. */
static void check_round(struct hk_vm *vm, struct dirty_ctx *c, uint64_t r)
{
	struct cvmm_dirty_round d = cvmm_dirty_round_init(c->seed, r, SPAN);
	uint8_t *want = calloc(SPAN, 1);

	for (uint64_t i = 0; i < c->count; i++) {
		uint64_t page = cvmm_dirty_page(&d, i), v = 0;

		want[page] = 1;
		if (cvmm_guest_mem_read_u64(hk_vm_mem(vm), AREA_GPA + page * 4096, &v) ||
		    v != cvmm_dirty_value(c->seed, r, i))
			c->wrong_value[r]++;
	}
	for (uint64_t p = 0; p < SPAN; p++) {
		if (want[p] && !c->seen[p])
			c->missing[r]++;
		else if (!want[p] && c->seen[p])
			c->extra[r]++;
	}
	free(want);
}

static int on_sync(struct hk_vm *vm, uint32_t cpu, uint8_t value, void *opaque)
{
	struct dirty_ctx *c = opaque;
	long n;

	if (c->syncs >= c->rounds || value != c->syncs) {
		c->error = -EPROTO;
		return -EPROTO;
	}
	memset(c->seen, 0, SPAN);
	n = hk_vm_dirty_collect(vm, note_page, c);
	if (n < 0) {
		c->error = (int)n;
		return (int)n;
	}
	check_round(vm, c, c->syncs);
	c->syncs++;
	return 0;
}

static void run_dirty(enum hk_dirty_mode mode, uint32_t ncpus, uint64_t count,
		      uint64_t rounds, uint32_t ring_bytes, uint64_t seed)
{
	struct dirty_ctx c = { .seed = seed, .count = count, .rounds = rounds };
	struct hk_vm_opts o = {
		.ncpus = ncpus,
		.mem_size = MEM_SIZE,
		.split_gpa = AREA_GPA,
		.dirty = mode,
		.ring_bytes = ring_bytes,
		.on_sync = on_sync,
		.opaque = &c,
		.args = { AREA_GPA, SPAN, count | rounds << 32, seed },
	};
	struct hk_result r;
	struct hk_vm *vm;

	c.seen = calloc(SPAN, 1);
	ck_assert_ptr_nonnull(c.seen);
	vm = itest_vm(&o, GUEST("dirty"));
	ck_assert_int_eq(hk_vm_run(vm, &r), 0);
	itest_expect_exit(&r, 0);
	ck_assert_int_eq(c.error, 0);
	ck_assert_uint_eq(c.syncs, rounds);
	for (uint64_t i = 0; i < rounds; i++) {
		ck_assert_msg(c.missing[i] == 0 && c.extra[i] == 0 && c.wrong_value[i] == 0,
			      "round %llu: %ld pages missing, %ld extra, %ld wrong values",
			      (unsigned long long)i, c.missing[i], c.extra[i],
			      c.wrong_value[i]);
	}
	/* Nothing was written to the area after the last round. */
	memset(c.seen, 0, SPAN);
	ck_assert_int_ge(hk_vm_dirty_collect(vm, note_page, &c), 0);
	for (uint64_t p = 0; p < SPAN; p++)
		c.leftover += c.seen[p];
	ck_assert_int_eq(c.leftover, 0);
	hk_vm_destroy(vm);
	free(c.seen);
}

START_TEST(dirty_log_1cpu) { run_dirty(HK_DIRTY_LOG, 1, 300, 3, 0, 1); }
END_TEST
START_TEST(dirty_log_3cpus) { run_dirty(HK_DIRTY_LOG, 3, 500, 2, 0, 2); }
END_TEST
START_TEST(dirty_clear_1cpu) { run_dirty(HK_DIRTY_CLEAR, 1, 300, 3, 0, 3); }
END_TEST
START_TEST(dirty_clear_3cpus) { run_dirty(HK_DIRTY_CLEAR, 3, 500, 2, 0, 4); }
END_TEST
START_TEST(dirty_ring_1cpu) { run_dirty(HK_DIRTY_RING, 1, 300, 3, 0, 5); }
END_TEST
START_TEST(dirty_ring_3cpus) { run_dirty(HK_DIRTY_RING, 3, 500, 2, 0, 6); }
END_TEST
START_TEST(dirty_ring_full)
{
	/* A 4 KiB ring holds 256 entries: 1,000 pages a round must go through
	 * KVM_EXIT_DIRTY_RING_FULL and still add up to exactly the set. */
	run_dirty(HK_DIRTY_RING, 1, 1000, 2, 4096, 7);
}
END_TEST
START_TEST(dirty_whole_area)
{
	/* Every page of the area, twice: no page may be lost at the edges. */
	run_dirty(HK_DIRTY_CLEAR, 2, SPAN, 2, 0, 8);
}
END_TEST

static Suite *dirty_suite(void)
{
	Suite *s = suite_create("dirty");
	TCase *tc = tcase_create("guest-writes");

	tcase_set_timeout(tc, ITEST_TIMEOUT);
	tcase_add_test(tc, dirty_log_1cpu);
	tcase_add_test(tc, dirty_log_3cpus);
	tcase_add_test(tc, dirty_clear_1cpu);
	tcase_add_test(tc, dirty_clear_3cpus);
	tcase_add_test(tc, dirty_ring_1cpu);
	tcase_add_test(tc, dirty_ring_3cpus);
	tcase_add_test(tc, dirty_ring_full);
	tcase_add_test(tc, dirty_whole_area);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	Suite *suites[] = { dirty_suite(), NULL };

	cvmm_test_require_kvm();
	return cvmm_test_run(suites);
}
