/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hostile drivers: each malformed ring marks the queue broken with a
 * specific error, later calls keep returning it, and nothing outside guest
 * RAM is touched (the regions have guard pages; run under ASan too).
 */
#include "vq-fixture.h"
#include "cvmm-test.h"

#include <cvmm/sys-util.h>

#include <errno.h>
#include <string.h>

/* Pop one chain (must succeed) and iterate until the error. */
static void expect_iter_error(struct fx *f, int err)
{
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_desc d;
	unsigned int n = 0;
	int r;

	ck_assert_int_eq(cvmm_virtq_pop(&f->q, &c), 1);
	while ((r = cvmm_virtq_chain_next(&c, &d)) == 1)
		ck_assert_uint_le(++n, 65536);
	ck_assert_int_eq(r, err);
	fx_assert_broken(f, err);
	/* the same chain, rewound, and a reader over it report the error too */
	cvmm_virtq_chain_rewind(&c);
	ck_assert_int_eq(cvmm_virtq_chain_next(&c, &d), err);
	{
		struct cvmm_virtq_rw rw;

		ck_assert_int_eq(cvmm_virtq_reader_init(&rw, &c), err);
	}
}

/* Same, but the reader/writer is what meets the bad descriptor. */
static void expect_rw_error(struct fx *f, int err)
{
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_rw rw;

	ck_assert_int_eq(cvmm_virtq_pop(&f->q, &c), 1);
	ck_assert_int_eq(cvmm_virtq_writer_init(&rw, &c), err);
	fx_assert_broken(f, err);
}

static void split_one(struct fx *f, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	fx_split_desc(f, FX_DESC, 0, addr, len, flags, next);
	fx_split_avail(f, 0, 0);
}

/* ---- split ---------------------------------------------------------- */

START_TEST(split_descriptor_loop)
{
	struct fx f;

	fx_setup(&f, false, 8, 0);
	fx_split_desc(&f, FX_DESC, 0, FX_BUF, 4, CVMM_VIRTQ_DESC_F_NEXT, 1);
	fx_split_desc(&f, FX_DESC, 1, FX_BUF, 4, CVMM_VIRTQ_DESC_F_NEXT, 0);
	fx_split_avail(&f, 0, 0);
	expect_iter_error(&f, -ELOOP);
	fx_teardown(&f);

	fx_setup(&f, false, 8, 0);
	fx_split_desc(&f, FX_DESC, 5, FX_BUF, 4, CVMM_VIRTQ_DESC_F_NEXT, 5);
	fx_split_avail(&f, 0, 5);
	expect_iter_error(&f, -ELOOP);
	fx_teardown(&f);
}
END_TEST

/* A chain through every descriptor and back: longer than the queue. */
START_TEST(split_chain_longer_than_queue)
{
	struct fx f;

	fx_setup(&f, false, 16, 0);
	for (uint16_t i = 0; i < 16; i++)
		fx_split_desc(&f, FX_DESC, i, FX_BUF, 1, CVMM_VIRTQ_DESC_F_NEXT, (i + 1) % 16);
	fx_split_avail(&f, 0, 3);
	expect_iter_error(&f, -ELOOP);
	fx_teardown(&f);
}
END_TEST

START_TEST(split_next_out_of_range)
{
	struct fx f;

	fx_setup(&f, false, 8, 0);
	split_one(&f, FX_BUF, 4, CVMM_VIRTQ_DESC_F_NEXT, 8);
	expect_iter_error(&f, -EINVAL);
	fx_teardown(&f);
}
END_TEST

START_TEST(split_head_out_of_range)
{
	static const uint16_t heads[] = { 8, 9, 0xffff };

	for (unsigned int i = 0; i < CVMM_ARRAY_SIZE(heads); i++) {
		struct fx f;
		struct cvmm_virtq_chain c;

		fx_setup(&f, false, 8, 0);
		fx_split_avail(&f, 0, heads[i]);
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), -EINVAL);
		fx_assert_broken(&f, -EINVAL);
		fx_teardown(&f);
	}
}
END_TEST

START_TEST(split_avail_index_jump)
{
	struct fx f;
	struct cvmm_virtq_chain c;

	/* from pop */
	fx_setup(&f, false, 8, 0);
	fx_add1(&f, FX_BUF, 1, false, 1);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
	ck_assert_int_eq(cvmm_guest_mem_write_u16(f.mem, FX_AVAIL + 2, 1 + 9), 0);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), -EINVAL);
	fx_assert_broken(&f, -EINVAL);
	fx_teardown(&f);

	/* exactly the queue size ahead is fine; one more is not */
	fx_setup(&f, false, 8, 0);
	ck_assert_int_eq(cvmm_guest_mem_write_u16(f.mem, FX_AVAIL + 2, 8), 0);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
	fx_teardown(&f);

	/* going backwards is a jump of almost 2^16 */
	fx_setup(&f, false, 8, 0);
	ck_assert_int_eq(cvmm_guest_mem_write_u16(f.mem, FX_AVAIL + 2, 0xffff), 0);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), -EINVAL);
	fx_teardown(&f);

	/* from the re-check in enable_notification */
	fx_setup(&f, false, 8, CVMM_VIRTIO_F_EVENT_IDX);
	ck_assert_int_eq(cvmm_guest_mem_write_u16(f.mem, FX_AVAIL + 2, 100), 0);
	ck_assert_int_eq(cvmm_virtq_enable_notification(&f.q), -EINVAL);
	fx_assert_broken(&f, -EINVAL);
	fx_teardown(&f);
}
END_TEST

START_TEST(split_nested_indirect)
{
	struct fx f;

	fx_setup(&f, false, 8, CVMM_VIRTIO_F_INDIRECT_DESC);
	fx_split_desc(&f, FX_IND, 0, FX_IND + 0x100, 32, CVMM_VIRTQ_DESC_F_INDIRECT, 0);
	split_one(&f, FX_IND, 16, CVMM_VIRTQ_DESC_F_INDIRECT, 0);
	expect_iter_error(&f, -EINVAL);
	fx_teardown(&f);
}
END_TEST

START_TEST(indirect_bad_length)
{
	static const uint32_t lens[] = { 0, 8, 17, 24, (CVMM_VIRTQ_MAX_INDIRECT + 1) * 16 };
	bool packed = _i;

	for (unsigned int i = 0; i < CVMM_ARRAY_SIZE(lens); i++) {
		struct fx f;

		fx_setup(&f, packed, 8, CVMM_VIRTIO_F_INDIRECT_DESC);
		if (packed)
			fx_packed_desc(&f, 0, FX_IND, lens[i], 0, CVMM_VIRTQ_DESC_F_INDIRECT, 1);
		else
			split_one(&f, FX_IND, lens[i], CVMM_VIRTQ_DESC_F_INDIRECT, 0);
		expect_iter_error(&f, -EINVAL);
		fx_teardown(&f);
	}
}
END_TEST

START_TEST(indirect_without_feature)
{
	struct fx f;
	bool packed = _i;

	fx_setup(&f, packed, 8, 0);
	if (packed) {
		fx_packed_ind(&f, FX_IND, 0, FX_BUF, 4, 0);
		fx_packed_desc(&f, 0, FX_IND, 16, 0, CVMM_VIRTQ_DESC_F_INDIRECT, 1);
	} else {
		fx_split_desc(&f, FX_IND, 0, FX_BUF, 4, 0, 0);
		split_one(&f, FX_IND, 16, CVMM_VIRTQ_DESC_F_INDIRECT, 0);
	}
	expect_iter_error(&f, -EINVAL);
	fx_teardown(&f);
}
END_TEST

START_TEST(split_indirect_with_next)
{
	struct fx f;

	fx_setup(&f, false, 8, CVMM_VIRTIO_F_INDIRECT_DESC);
	fx_split_desc(&f, FX_IND, 0, FX_BUF, 4, 0, 0);
	fx_split_desc(&f, FX_DESC, 1, FX_BUF, 4, 0, 0);
	split_one(&f, FX_IND, 16, CVMM_VIRTQ_DESC_F_INDIRECT | CVMM_VIRTQ_DESC_F_NEXT, 1);
	expect_iter_error(&f, -EINVAL);
	fx_teardown(&f);
}
END_TEST

START_TEST(indirect_table_outside_ram)
{
	struct { uint64_t addr; uint32_t len; } cases[] = {
		{ FX_RAM_END, 16 },               /* in the hole */
		{ FX_RAM_END - 16, 32 },          /* runs off the end */
		{ UINT64_MAX - 15, 32 },          /* address + length wraps */
		{ FX_REGION_A - 16, 32 },         /* spans two regions */
	};
	bool packed = _i;

	for (unsigned int i = 0; i < CVMM_ARRAY_SIZE(cases); i++) {
		struct fx f;

		fx_setup(&f, packed, 8, CVMM_VIRTIO_F_INDIRECT_DESC);
		if (packed)
			fx_packed_desc(&f, 0, cases[i].addr, cases[i].len, 0,
				       CVMM_VIRTQ_DESC_F_INDIRECT, 1);
		else
			split_one(&f, cases[i].addr, cases[i].len, CVMM_VIRTQ_DESC_F_INDIRECT, 0);
		expect_iter_error(&f, -EFAULT);
		fx_teardown(&f);
	}
}
END_TEST

START_TEST(split_indirect_loop_and_range)
{
	struct fx f;

	fx_setup(&f, false, 8, CVMM_VIRTIO_F_INDIRECT_DESC);
	fx_split_desc(&f, FX_IND, 0, FX_BUF, 4, CVMM_VIRTQ_DESC_F_NEXT, 1);
	fx_split_desc(&f, FX_IND, 1, FX_BUF, 4, CVMM_VIRTQ_DESC_F_NEXT, 0);
	split_one(&f, FX_IND, 32, CVMM_VIRTQ_DESC_F_INDIRECT, 0);
	expect_iter_error(&f, -ELOOP);
	fx_teardown(&f);

	fx_setup(&f, false, 8, CVMM_VIRTIO_F_INDIRECT_DESC);
	fx_split_desc(&f, FX_IND, 0, FX_BUF, 4, CVMM_VIRTQ_DESC_F_NEXT, 2);
	split_one(&f, FX_IND, 32, CVMM_VIRTQ_DESC_F_INDIRECT, 0);
	expect_iter_error(&f, -EINVAL);
	fx_teardown(&f);
}
END_TEST

static const struct { uint64_t addr; uint32_t len; } bad_bufs[] = {
	{ FX_RAM_END, 1 },                   /* in the hole */
	{ FX_RAM_END - 1, 2 },               /* last byte past the end */
	{ UINT64_MAX, 2 },                   /* address + length overflows */
	{ UINT64_MAX - 0xfff, 0x2000 },
	{ FX_BUF, 0xffffffffu },             /* longer than guest RAM */
	{ 0x8000000000000000ull, 16 },
};

START_TEST(buffer_outside_ram)
{
	bool packed = _i & 1, via_rw = _i & 2;

	for (unsigned int i = 0; i < CVMM_ARRAY_SIZE(bad_bufs); i++) {
		struct fx f;

		fx_setup(&f, packed, 8, 0);
		if (packed)
			fx_packed_desc(&f, 0, bad_bufs[i].addr, bad_bufs[i].len, 0,
				       CVMM_VIRTQ_DESC_F_WRITE, 1);
		else
			split_one(&f, bad_bufs[i].addr, bad_bufs[i].len, CVMM_VIRTQ_DESC_F_WRITE, 0);
		if (via_rw)
			expect_rw_error(&f, -EFAULT);
		else
			expect_iter_error(&f, -EFAULT);
		fx_teardown(&f);
	}
}
END_TEST

/* Zero-length descriptors carry no address to check: they are allowed. */
START_TEST(zero_length_descriptor)
{
	struct fx f;
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_desc d;
	struct cvmm_virtq_rw rw;

	fx_setup(&f, _i, 8, 0);
	if (_i)
		fx_packed_desc(&f, 0, UINT64_MAX, 0, 0, 0, 1);
	else
		split_one(&f, UINT64_MAX, 0, 0, 0);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
	ck_assert_int_eq(cvmm_virtq_chain_next(&c, &d), 1);
	ck_assert_uint_eq(d.len, 0);
	ck_assert_int_eq(cvmm_virtq_reader_init(&rw, &c), 0);
	ck_assert_int_eq(cvmm_virtq_reader_read(&rw, &d, 1), 0);
	ck_assert(!cvmm_virtq_broken(&f.q));
	fx_teardown(&f);
}
END_TEST

START_TEST(readable_after_writable)
{
	struct fx f;
	bool packed = _i & 1, indirect = _i & 2;

	fx_setup(&f, packed, 8, CVMM_VIRTIO_F_INDIRECT_DESC);
	if (packed && indirect) {
		fx_packed_ind(&f, FX_IND, 0, FX_BUF, 4, CVMM_VIRTQ_DESC_F_WRITE);
		fx_packed_ind(&f, FX_IND, 1, FX_BUF, 4, 0);
		fx_packed_desc(&f, 0, FX_IND, 32, 0, CVMM_VIRTQ_DESC_F_INDIRECT, 1);
	} else if (packed) {
		fx_packed_desc(&f, 1, FX_BUF, 4, 0, 0, 1);
		fx_packed_desc(&f, 0, FX_BUF, 4, 0,
			       CVMM_VIRTQ_DESC_F_WRITE | CVMM_VIRTQ_DESC_F_NEXT, 1);
	} else if (indirect) {
		fx_split_desc(&f, FX_IND, 0, FX_BUF, 4,
			      CVMM_VIRTQ_DESC_F_WRITE | CVMM_VIRTQ_DESC_F_NEXT, 1);
		fx_split_desc(&f, FX_IND, 1, FX_BUF, 4, 0, 0);
		split_one(&f, FX_IND, 32, CVMM_VIRTQ_DESC_F_INDIRECT, 0);
	} else {
		fx_split_desc(&f, FX_DESC, 1, FX_BUF, 4, 0, 0);
		split_one(&f, FX_BUF, 4, CVMM_VIRTQ_DESC_F_WRITE | CVMM_VIRTQ_DESC_F_NEXT, 1);
	}
	expect_iter_error(&f, -EINVAL);
	fx_teardown(&f);
}
END_TEST

/* ---- packed --------------------------------------------------------- */

START_TEST(packed_chain_longer_than_queue)
{
	struct fx f;
	struct cvmm_virtq_chain c;

	fx_setup(&f, true, 8, 0);
	for (uint16_t i = 1; i < 8; i++)
		fx_packed_desc(&f, i, FX_BUF, 1, 0, CVMM_VIRTQ_DESC_F_NEXT, 1);
	/* the head last, as a driver publishes it */
	fx_packed_desc(&f, 0, FX_BUF, 1, 0, CVMM_VIRTQ_DESC_F_NEXT, 1);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), -ELOOP);
	fx_assert_broken(&f, -ELOOP);
	fx_teardown(&f);
}
END_TEST

START_TEST(packed_chain_over_device_limit)
{
	struct fx f;
	struct cvmm_virtq_chain c;
	const uint16_t n = CVMM_VIRTQ_PACKED_MAX_CHAIN + 1;

	fx_setup(&f, true, 64, 0);
	for (uint16_t i = 0; i < n; i++)
		fx_packed_desc(&f, i, FX_BUF, 1, 0, i + 1 < n ? CVMM_VIRTQ_DESC_F_NEXT : 0, 1);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), -E2BIG);
	fx_assert_broken(&f, -E2BIG);
	fx_teardown(&f);

	/* exactly at the limit works */
	fx_setup(&f, true, 64, 0);
	for (uint16_t i = 0; i < n - 1; i++)
		fx_packed_desc(&f, i, FX_BUF, 1, 7, i + 2 < n ? CVMM_VIRTQ_DESC_F_NEXT : 0, 1);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
	ck_assert_uint_eq(c.ring_slots, n - 1);
	ck_assert_int_eq(cvmm_virtq_chain_lengths(&c, NULL, NULL), 0);
	fx_teardown(&f);
}
END_TEST

START_TEST(packed_indirect_misuse)
{
	struct fx f;

	/* INDIRECT with NEXT */
	fx_setup(&f, true, 8, CVMM_VIRTIO_F_INDIRECT_DESC);
	fx_packed_ind(&f, FX_IND, 0, FX_BUF, 4, 0);
	fx_packed_desc(&f, 1, FX_BUF, 4, 0, 0, 1);
	fx_packed_desc(&f, 0, FX_IND, 16, 0,
		       CVMM_VIRTQ_DESC_F_INDIRECT | CVMM_VIRTQ_DESC_F_NEXT, 1);
	expect_iter_error(&f, -EINVAL);
	fx_teardown(&f);

	/* an indirect descriptor inside a list of direct ones */
	fx_setup(&f, true, 8, CVMM_VIRTIO_F_INDIRECT_DESC);
	fx_packed_ind(&f, FX_IND, 0, FX_BUF, 4, 0);
	fx_packed_desc(&f, 1, FX_IND, 16, 0, CVMM_VIRTQ_DESC_F_INDIRECT, 1);
	fx_packed_desc(&f, 0, FX_BUF, 4, 0, CVMM_VIRTQ_DESC_F_NEXT, 1);
	expect_iter_error(&f, -EINVAL);
	fx_teardown(&f);
}
END_TEST

/* In a packed indirect table only WRITE counts (2.8.8): INDIRECT and NEXT
 * there are ignored, so a "nested" table is just a buffer. */
START_TEST(packed_indirect_flags_ignored)
{
	struct fx f;
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_desc d;

	fx_setup(&f, true, 8, CVMM_VIRTIO_F_INDIRECT_DESC);
	fx_packed_ind(&f, FX_IND, 0, FX_IND + 0x100, 32, CVMM_VIRTQ_DESC_F_INDIRECT);
	fx_packed_ind(&f, FX_IND, 1, FX_BUF, 8, CVMM_VIRTQ_DESC_F_WRITE | CVMM_VIRTQ_DESC_F_NEXT);
	fx_packed_desc(&f, 0, FX_IND, 32, 42, CVMM_VIRTQ_DESC_F_INDIRECT, 1);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
	ck_assert_uint_eq(c.id, 42);
	ck_assert_int_eq(cvmm_virtq_chain_next(&c, &d), 1);
	ck_assert_uint_eq(d.addr, FX_IND + 0x100);
	ck_assert_uint_eq(d.flags, 0);
	ck_assert_int_eq(cvmm_virtq_chain_next(&c, &d), 1);
	ck_assert_uint_eq(d.addr, FX_BUF);
	ck_assert_uint_eq(d.flags, CVMM_VIRTQ_DESC_F_WRITE);
	ck_assert_int_eq(cvmm_virtq_chain_next(&c, &d), 0);
	ck_assert(!cvmm_virtq_broken(&f.q));
	fx_teardown(&f);
}
END_TEST

/* Descriptors whose flags do not say "available in this lap" are not. */
START_TEST(packed_not_available)
{
	struct fx f;
	struct cvmm_virtq_chain c;

	fx_setup(&f, true, 8, 0);
	fx_packed_desc(&f, 0, FX_BUF, 1, 0, 0, 0);	/* previous lap's bits */
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 0);
	fx_packed_desc(&f, 0, FX_BUF, 1, 0, CVMM_VIRTQ_DESC_F_USED, 1); /* used */
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 0);
	/* the buffer id comes from the last descriptor of the list */
	fx_packed_desc(&f, 1, FX_BUF, 1, 5, 0, 1);
	fx_packed_desc(&f, 0, FX_BUF, 1, 4, CVMM_VIRTQ_DESC_F_NEXT, 1);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
	ck_assert_uint_eq(c.id, 5);
	ck_assert_uint_eq(c.ring_slots, 2);
	fx_teardown(&f);
}
END_TEST

/* A queue reset after breaking is usable again (the device's reset path). */
START_TEST(reset_after_broken)
{
	struct fx f;
	struct cvmm_virtq_chain c;

	fx_setup(&f, _i, 8, 0);
	if (_i)
		fx_packed_desc(&f, 0, FX_RAM_END, 4, 0, 0, 1);
	else
		split_one(&f, FX_RAM_END, 4, 0, 0);
	expect_iter_error(&f, -EFAULT);
	cvmm_virtq_reset(&f.q);
	ck_assert(!cvmm_virtq_broken(&f.q));
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), -ENODEV);
	fx_teardown(&f);
}
END_TEST

/* Regression (review 2026-11-22): a packed chain popped before a reset to a
 * smaller ring must not move next_used past the new ring when pushed late
 * (the next used descriptor would be written outside the ring). */
START_TEST(packed_stale_chain_push_after_resize)
{
	struct fx f;
	struct cvmm_virtq_chain c;

	fx_setup(&f, true, 8, 0);
	for (uint16_t i = 1; i < 4; i++)
		fx_packed_desc(&f, i, FX_BUF, 1, 7, i < 3 ? CVMM_VIRTQ_DESC_F_NEXT : 0, 1);
	fx_packed_desc(&f, 0, FX_BUF, 1, 7, CVMM_VIRTQ_DESC_F_NEXT, 1);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
	ck_assert_uint_eq(c.ring_slots, 4);

	/* the driver resets the device and sets up a 2-entry ring */
	cvmm_virtq_reset(&f.q);
	cvmm_virtq_set_size(&f.q, 2);
	cvmm_virtq_set_addrs(&f.q, FX_DESC, FX_AVAIL, FX_USED);
	cvmm_virtq_set_features(&f.q, f.features);
	ck_assert_int_eq(cvmm_virtq_activate(&f.q), 0);

	ck_assert_int_eq(cvmm_virtq_push(&f.q, &c, 0), -EINVAL);
	ck_assert_uint_lt(f.q.next_used, f.q.size);
	ck_assert_uint_eq(f.q.next_used, 0);
	ck_assert_uint_eq(f.q.used_wrap, 1);
	ck_assert(!cvmm_virtq_broken(&f.q));
	fx_teardown(&f);
}
END_TEST

/* Regression (review 2026-11-22): unpopping such a stale chain must not set
 * next_avail past the new ring (pop would then read outside it). */
START_TEST(packed_stale_chain_unpop_after_resize)
{
	struct fx f;
	struct cvmm_virtq_chain c, now;

	fx_setup(&f, true, 8, 0);
	/* one full lap, then two more: next_avail 2 with wrap counter 0 */
	for (uint16_t i = 0; i < 8; i++) {
		fx_packed_desc(&f, i, FX_BUF, 1, i, 0, 1);
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
	}
	for (uint16_t i = 0; i < 3; i++) {
		fx_packed_desc(&f, i, FX_BUF, 1, i, 0, 0);
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
	}
	ck_assert_uint_eq(c.prev_avail, 2);
	ck_assert_uint_eq(c.prev_wrap, 0);

	cvmm_virtq_reset(&f.q);
	cvmm_virtq_set_size(&f.q, 2);
	cvmm_virtq_set_addrs(&f.q, FX_DESC, FX_AVAIL, FX_USED);
	cvmm_virtq_set_features(&f.q, f.features);
	ck_assert_int_eq(cvmm_virtq_activate(&f.q), 0);
	fx_packed_desc(&f, 0, FX_BUF, 1, 0, 0, 1);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &now), 1);
	ck_assert_uint_eq(f.q.next_avail, 1);

	/* prev_avail 2 + 1 slot wraps to 1 with wrap 1: it looks like the
	 * chain just popped, but its position is outside the new ring */
	ck_assert_int_eq(cvmm_virtq_unpop(&f.q, &c), -EINVAL);
	ck_assert_uint_eq(f.q.next_avail, 1);
	ck_assert_uint_eq(f.q.avail_wrap, 1);
	/* the chain really popped from this ring still goes back */
	ck_assert_int_eq(cvmm_virtq_unpop(&f.q, &now), 0);
	ck_assert_uint_eq(f.q.next_avail, 0);
	fx_teardown(&f);
}
END_TEST

/* Regression (review 2026-11-22): a refused restore leaves the queue as it
 * was (it used to be reset and marked broken by the failed activate). */
START_TEST(restore_refused_leaves_queue_untouched)
{
	struct fx f;
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_state before, after, bad;
	struct cvmm_virtq_desc d;

	fx_setup(&f, _i, 8, 0);
	for (unsigned int i = 0; i < 3; i++) {
		fx_add1(&f, FX_BUF, 1, false, i);
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
		ck_assert_int_eq(cvmm_virtq_push(&f.q, &c, 0), 0);
	}
	cvmm_virtq_state_save(&f.q, &before);
	bad = before;
	bad.used_gpa = FX_RAM_END;	/* outside guest RAM: activate refuses */
	bad.next_avail = 1;
	ck_assert_int_eq(cvmm_virtq_state_restore(&f.q, &bad), -EFAULT);
	bad = before;
	bad.size = 3;			/* not a power of two (split) / fine (packed) */
	bad.desc_gpa = FX_DESC + 8;	/* misaligned either way */
	ck_assert_int_eq(cvmm_virtq_state_restore(&f.q, &bad), -EINVAL);

	ck_assert(cvmm_virtq_active(&f.q));
	ck_assert(!cvmm_virtq_broken(&f.q));
	cvmm_virtq_state_save(&f.q, &after);
	ck_assert_mem_eq(&before, &after, sizeof(before));
	/* and it still carries buffers */
	fx_add1(&f, FX_BUF + 0x100, 5, true, 9);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
	ck_assert_int_eq(cvmm_virtq_chain_next(&c, &d), 1);
	ck_assert_uint_eq(d.addr, FX_BUF + 0x100);
	ck_assert_int_eq(cvmm_virtq_push(&f.q, &c, 5), 0);
	fx_teardown(&f);
}
END_TEST

/*
 * Pop validates a packed chain's copied descriptors once and the cursor then
 * hands them out: a chain that fails any check (here a buffer outside the
 * ring's region, still guest RAM) keeps the checking walk, and a validated
 * chain still reports the queue error once the queue breaks.
 */
START_TEST(packed_validated_chain_and_break)
{
	struct fx f;
	struct cvmm_virtq_chain a, b, bad;
	struct cvmm_virtq_desc d;
	uint64_t r, w;

	fx_setup(&f, true, 64, 0);
	fx_packed_desc(&f, 0, FX_BUF, 8, 3, 0, 1);
	/* second chain: readable in region A, writable straddling into B */
	fx_packed_desc(&f, 2, FX_REGION_A - 8, 16, 4, CVMM_VIRTQ_DESC_F_WRITE, 1);
	fx_packed_desc(&f, 1, FX_BUF, 4, 0, CVMM_VIRTQ_DESC_F_NEXT, 1);
	fx_packed_desc(&f, 3, FX_RAM_END, 8, 5, 0, 1);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &a), 1);
	ck_assert(a.cur.state & CVMM_VIRTQ_CUR_FLAT);	/* validated at pop */
	ck_assert_int_eq(cvmm_virtq_chain_next(&a, &d), 1);
	ck_assert_uint_eq(d.addr, FX_BUF);
	ck_assert_uint_eq(d.len, 8);
	ck_assert_uint_eq(d.flags, 0);
	ck_assert_int_eq(cvmm_virtq_chain_next(&a, &d), 0);
	cvmm_virtq_chain_rewind(&a);
	ck_assert(a.cur.state & CVMM_VIRTQ_CUR_FLAT);

	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &b), 1);
	ck_assert_uint_eq(b.ring_slots, 2);
	ck_assert(!(b.cur.state & CVMM_VIRTQ_CUR_FLAT));	/* walked with every check */
	ck_assert_int_eq(cvmm_virtq_chain_lengths(&b, &r, &w), 0);
	ck_assert_uint_eq(r, 4);
	ck_assert_uint_eq(w, 16);
	ck_assert_int_eq(cvmm_virtq_chain_next(&b, &d), 1);
	ck_assert_int_eq(cvmm_virtq_chain_next(&b, &d), 1);
	ck_assert_uint_eq(d.addr, FX_REGION_A - 8);
	ck_assert_uint_eq(d.flags, CVMM_VIRTQ_DESC_F_WRITE);
	ck_assert_int_eq(cvmm_virtq_chain_next(&b, &d), 0);

	/* a buffer outside guest RAM breaks the queue at chain_next... */
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &bad), 1);
	ck_assert_int_eq(cvmm_virtq_chain_next(&bad, &d), -EFAULT);
	fx_assert_broken(&f, -EFAULT);
	/* ...and the validated chain, rewound, reports it too */
	ck_assert_int_eq(cvmm_virtq_chain_next(&a, &d), -EFAULT);
	ck_assert_int_eq(cvmm_virtq_chain_lengths(&a, NULL, NULL), -EFAULT);
	ck_assert_int_eq(cvmm_virtq_push(&f.q, &a, 0), -EFAULT);
	fx_teardown(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("virtio-queue-hostile");
	TCase *sp = tcase_create("split");
	TCase *pk = tcase_create("packed");
	TCase *both = tcase_create("both");

	tcase_add_test(sp, split_descriptor_loop);
	tcase_add_test(sp, split_chain_longer_than_queue);
	tcase_add_test(sp, split_next_out_of_range);
	tcase_add_test(sp, split_head_out_of_range);
	tcase_add_test(sp, split_avail_index_jump);
	tcase_add_test(sp, split_nested_indirect);
	tcase_add_test(sp, split_indirect_with_next);
	tcase_add_test(sp, split_indirect_loop_and_range);
	tcase_add_test(pk, packed_chain_longer_than_queue);
	tcase_add_test(pk, packed_chain_over_device_limit);
	tcase_add_test(pk, packed_indirect_misuse);
	tcase_add_test(pk, packed_indirect_flags_ignored);
	tcase_add_test(pk, packed_not_available);
	tcase_add_test(pk, packed_stale_chain_push_after_resize);
	tcase_add_test(pk, packed_stale_chain_unpop_after_resize);
	tcase_add_test(pk, packed_validated_chain_and_break);
	tcase_add_loop_test(both, indirect_bad_length, 0, 2);
	tcase_add_loop_test(both, indirect_without_feature, 0, 2);
	tcase_add_loop_test(both, indirect_table_outside_ram, 0, 2);
	tcase_add_loop_test(both, buffer_outside_ram, 0, 4);
	tcase_add_loop_test(both, zero_length_descriptor, 0, 2);
	tcase_add_loop_test(both, readable_after_writable, 0, 4);
	tcase_add_loop_test(both, reset_after_broken, 0, 2);
	tcase_add_loop_test(both, restore_refused_leaves_queue_untouched, 0, 2);
	suite_add_tcase(s, sp);
	suite_add_tcase(s, pk);
	suite_add_tcase(s, both);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
