/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device side driven through the driver-side helper in real guest
 * memory: split (_i == 0) and packed (_i == 1) for every loop test.
 */
#include "vq-fixture.h"
#include "cvmm-test.h"

#include <cvmm/sys-util.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Fails the test like ck_assert, without ck_assert's per-call cost in
 * fork mode (hot loops below run it 10^5 times). */
#define CHECK(x) do { if (!(x)) ck_abort_msg("check failed: %s", #x); } while (0)

static uint32_t drain_one(struct fx *f, uint64_t expect_token)
{
	uint64_t tok = ~0ull;
	uint32_t len = 0;
	int r = cvmm_virtq_driver_get_used(f->drv, &tok, &len);

	if (r != 1 || tok != expect_token)
		ck_abort_msg("get_used = %d, token %llu, expected %llu", r,
			     (unsigned long long)tok, (unsigned long long)expect_token);
	return len;
}

START_TEST(single_descriptor_many_laps)
{
	struct fx f;
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_desc d;

	fx_setup(&f, _i, 8, 0);
	/* Several laps round the ring: wrap counters and free-running indexes. */
	for (unsigned int i = 0; i < 50; i++) {
		uint64_t gpa = FX_BUF + 64 * i;

		fx_add1(&f, gpa, 32 + i, i & 1, 1000 + i);
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
		ck_assert_int_eq(cvmm_virtq_chain_next(&c, &d), 1);
		ck_assert_uint_eq(d.addr, gpa);
		ck_assert_uint_eq(d.len, 32 + i);
		ck_assert_uint_eq(d.flags, (i & 1) ? CVMM_VIRTQ_DESC_F_WRITE : 0);
		ck_assert_int_eq(cvmm_virtq_chain_next(&c, &d), 0);
		ck_assert_int_eq(cvmm_virtq_chain_next(&c, &d), 0);
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 0);
		ck_assert_int_eq(cvmm_virtq_push(&f.q, &c, i), 0);
		ck_assert_uint_eq(drain_one(&f, 1000 + i), i);
	}
	ck_assert_uint_eq(cvmm_virtq_driver_in_flight(f.drv), 0);
	ck_assert_uint_eq(cvmm_virtq_driver_num_free(f.drv), 8);
	fx_teardown(&f);
}
END_TEST

static void check_multi(struct fx *f, bool indirect)
{
	struct cvmm_virtq_buf out[2] = { { FX_BUF, 10 }, { FX_BUF + 0x100, 20 } };
	struct cvmm_virtq_buf in[2] = { { FX_BUF + 0x200, 30 }, { FX_BUF + 0x300, 40 } };
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_desc d;
	uint64_t r, w;

	for (unsigned int round = 0; round < 20; round++) {
		ck_assert_int_eq(cvmm_virtq_driver_add(f->drv, out, 2, in, 2, indirect, round), 0);
		ck_assert_int_eq(cvmm_virtq_pop(&f->q, &c), 1);
		ck_assert_uint_eq(c.ring_slots, f->packed ? (indirect ? 1 : 4) : 1);
		for (unsigned int k = 0; k < 4; k++) {
			const struct cvmm_virtq_buf *b = k < 2 ? &out[k] : &in[k - 2];

			ck_assert_int_eq(cvmm_virtq_chain_next(&c, &d), 1);
			ck_assert_uint_eq(d.addr, b->gpa);
			ck_assert_uint_eq(d.len, b->len);
			ck_assert_uint_eq(d.flags, k < 2 ? 0 : CVMM_VIRTQ_DESC_F_WRITE);
		}
		ck_assert_int_eq(cvmm_virtq_chain_next(&c, &d), 0);
		ck_assert_int_eq(cvmm_virtq_chain_lengths(&c, &r, &w), 0);
		ck_assert_uint_eq(r, 30);
		ck_assert_uint_eq(w, 70);
		/* rewind: the same descriptors again, from guest memory */
		cvmm_virtq_chain_rewind(&c);
		ck_assert_int_eq(cvmm_virtq_chain_next(&c, &d), 1);
		ck_assert_uint_eq(d.addr, out[0].gpa);
		ck_assert_int_eq(cvmm_virtq_push(&f->q, &c, 70), 0);
		ck_assert_uint_eq(drain_one(f, round), 70);
	}
}

START_TEST(multi_descriptor_chain)
{
	struct fx f;

	fx_setup(&f, _i, 16, 0);
	check_multi(&f, false);
	fx_teardown(&f);
}
END_TEST

START_TEST(indirect_chain)
{
	struct fx f;

	fx_setup(&f, _i, 16, CVMM_VIRTIO_F_INDIRECT_DESC);
	check_multi(&f, true);
	check_multi(&f, false);	/* mixing direct and indirect lists is valid */
	fx_teardown(&f);
}
END_TEST

START_TEST(reader_writer_across_descriptors)
{
	struct fx f;
	/* Parts of odd sizes, one straddling the boundary of regions A and B. */
	struct cvmm_virtq_buf out[3] = {
		{ FX_BUF, 3 }, { FX_BUF + 0x100, 5 }, { FX_REGION_A - 4, 8 } };
	struct cvmm_virtq_buf in[2] = { { FX_BUF + 0x1000, 7 }, { FX_REGION_A - 6, 13 } };
	uint8_t src[16], got[16], wr[20];
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_rw r, w;

	fx_setup(&f, _i, 16, CVMM_VIRTIO_F_INDIRECT_DESC);
	for (unsigned int k = 0; k < 16; k++)
		src[k] = (uint8_t)(0xa0 + k);
	for (unsigned int k = 0; k < 20; k++)
		wr[k] = (uint8_t)(0x10 + k);

	for (int ind = 0; ind < 2; ind++) {
		/* in[1] overlaps out[2] (both cross the region boundary) */
		memcpy(fx_host(&f, out[0].gpa), src, 3);
		memcpy(fx_host(&f, out[1].gpa), src + 3, 5);
		ck_assert_int_eq(cvmm_guest_mem_write(f.mem, out[2].gpa, src + 8, 8), 0);
		ck_assert_int_eq(cvmm_virtq_driver_add(f.drv, out, 3, in, 2, ind, 7), 0);
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
		ck_assert_int_eq(cvmm_virtq_reader_init(&r, &c), 0);
		ck_assert_int_eq(cvmm_virtq_writer_init(&w, &c), 0);
		ck_assert_uint_eq(cvmm_virtq_rw_remaining(&r), 16);
		ck_assert_uint_eq(cvmm_virtq_rw_remaining(&w), 20);
		ck_assert_int_eq(cvmm_virtq_writer_write(&r, wr, 1), -EBADF);
		ck_assert_int_eq(cvmm_virtq_reader_read(&w, got, 1), -EBADF);
		memset(got, 0, sizeof(got));
		ck_assert_int_eq(cvmm_virtq_reader_read(&r, got, 10), 10);
		ck_assert_int_eq(cvmm_virtq_reader_read(&r, got + 10, 100), 6);
		ck_assert_int_eq(cvmm_virtq_reader_read(&r, got, 1), 0);
		ck_assert_mem_eq(got, src, 16);
		ck_assert_int_eq(cvmm_virtq_writer_write(&w, wr, 4), 4);
		ck_assert_int_eq(cvmm_virtq_writer_write(&w, wr + 4, 100), 16);
		ck_assert_uint_eq(cvmm_virtq_rw_done(&w), 20);
		ck_assert_uint_eq(cvmm_virtq_rw_remaining(&w), 0);
		ck_assert_mem_eq(fx_host(&f, in[0].gpa), wr, 7);
		{
			uint8_t tail[13];

			ck_assert_int_eq(cvmm_guest_mem_read(f.mem, in[1].gpa, tail, 13), 0);
			ck_assert_mem_eq(tail, wr + 7, 13);
		}
		ck_assert_int_eq(cvmm_virtq_push(&f.q, &c, (uint32_t)cvmm_virtq_rw_done(&w)), 0);
		ck_assert_uint_eq(drain_one(&f, 7), 20);
	}
	fx_teardown(&f);
}
END_TEST

START_TEST(iovec_with_preadv_writev)
{
	struct fx f;
	struct cvmm_virtq_buf out[2] = { { FX_BUF, 6 }, { FX_REGION_A - 3, 9 } };
	struct cvmm_virtq_buf in[2] = { { FX_BUF + 0x800, 5 }, { FX_REGION_A + 0x100, 11 } };
	const char msg[] = "0123456789abcde";  /* 15 bytes + NUL */
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_rw r, w;
	struct iovec iov[8];
	char back[32];
	int p[2], n;

	fx_setup(&f, _i, 16, 0);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(cvmm_guest_mem_write(f.mem, out[0].gpa, msg, 6), 0);
	ck_assert_int_eq(cvmm_guest_mem_write(f.mem, out[1].gpa, msg + 6, 9), 0);
	ck_assert_int_eq(cvmm_virtq_driver_add(f.drv, out, 2, in, 2, false, 1), 0);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);

	/* readable part -> writev; the straddling part needs two spans */
	ck_assert_int_eq(cvmm_virtq_reader_init(&r, &c), 0);
	n = cvmm_virtq_rw_iovec(&r, SIZE_MAX, iov, 8);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(writev(p[1], iov, n), 15);
	ck_assert_int_eq(cvmm_virtq_rw_advance(&r, 15), 15);
	ck_assert_int_eq(read(p[0], back, sizeof(back)), 15);
	ck_assert_mem_eq(back, msg, 15);
	/* max_iov and max_bytes limits */
	ck_assert_int_eq(cvmm_virtq_reader_init(&r, &c), 0);
	ck_assert_int_eq(cvmm_virtq_rw_iovec(&r, SIZE_MAX, iov, 1), 1);
	ck_assert_uint_eq(iov[0].iov_len, 6);
	ck_assert_int_eq(cvmm_virtq_rw_iovec(&r, 4, iov, 8), 1);
	ck_assert_uint_eq(iov[0].iov_len, 4);

	/* pipe -> readv into the writable part, then advance marks it written */
	ck_assert_int_eq(cvmm_virtq_writer_init(&w, &c), 0);
	ck_assert_int_eq(write(p[1], msg, 15), 15);
	n = cvmm_virtq_rw_iovec(&w, 15, iov, 8);
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(iov[0].iov_len + iov[1].iov_len, 15);
	ck_assert_int_eq(readv(p[0], iov, n), 15);
	ck_assert_int_eq(cvmm_virtq_rw_advance(&w, 15), 15);
	ck_assert_uint_eq(cvmm_virtq_rw_done(&w), 15);
	ck_assert_int_eq(cvmm_guest_mem_read(f.mem, in[1].gpa, back, 10), 0);
	ck_assert_mem_eq(back, msg + 5, 10);
	ck_assert_int_eq(cvmm_virtq_push(&f.q, &c, 15), 0);
	ck_assert_uint_eq(drain_one(&f, 1), 15);
	close(p[0]);
	close(p[1]);
	fx_teardown(&f);
}
END_TEST

START_TEST(writer_marks_dirty)
{
	struct fx f;
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_rw w;
	uint64_t bitmap[FX_REGION_A / 4096 / 64];
	uint8_t data[5000];

	fx_setup(&f, _i, 8, 0);
	ck_assert_int_eq(cvmm_guest_mem_dirty_log_enable(f.mem, true), 0);
	fx_add1(&f, FX_BUF + 0x3000 + 100, 5000, true, 3);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
	/* clear everything the driver helper and pop may have touched */
	ck_assert_int_ge(cvmm_guest_mem_dirty_get_and_clear(f.mem, 0, FX_REGION_A, bitmap), 0);
	ck_assert_int_eq(cvmm_virtq_writer_init(&w, &c), 0);
	memset(data, 0x5a, sizeof(data));
	ck_assert_int_eq(cvmm_virtq_writer_write(&w, data, sizeof(data)), 5000);
	ck_assert_int_eq(cvmm_virtq_push(&f.q, &c, 5000), 0);
	ck_assert_int_eq(cvmm_guest_mem_dirty_get_and_clear(f.mem, 0, FX_REGION_A, bitmap), 3);
	/* the buffer's two pages and the page holding the used entry */
	{
		uint64_t used_page = f.packed ? FX_DESC >> 12 : FX_USED >> 12;
		uint64_t b0 = (FX_BUF + 0x3000) >> 12;

		ck_assert(bitmap[b0 / 64] >> (b0 % 64) & 1);
		ck_assert(bitmap[(b0 + 1) / 64] >> ((b0 + 1) % 64) & 1);
		ck_assert(bitmap[used_page / 64] >> (used_page % 64) & 1);
	}
	fx_teardown(&f);
}
END_TEST

START_TEST(out_of_order_completion)
{
	struct fx f;
	struct cvmm_virtq_buf out[3] = { { FX_BUF, 1 }, { FX_BUF + 16, 2 }, { FX_BUF + 32, 3 } };
	struct cvmm_virtq_chain a, b, cc;
	struct cvmm_virtq_desc d;

	fx_setup(&f, _i, 8, 0);
	for (unsigned int lap = 0; lap < 10; lap++) {
		ck_assert_int_eq(cvmm_virtq_driver_add(f.drv, out, 3, NULL, 0, false, 1), 0);
		fx_add1(&f, FX_BUF + 0x100, 9, true, 2);
		fx_add1(&f, FX_BUF + 0x200, 9, true, 3);
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &a), 1);
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &b), 1);
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &cc), 1);
		/* complete the later chains first: in a packed ring their used
		 * descriptors land on the slots of chain a */
		ck_assert_int_eq(cvmm_virtq_push(&f.q, &cc, 9), 0);
		ck_assert_int_eq(cvmm_virtq_push(&f.q, &b, 8), 0);
		for (unsigned int k = 0; k < 3; k++) {
			ck_assert_int_eq(cvmm_virtq_chain_next(&a, &d), 1);
			ck_assert_uint_eq(d.addr, out[k].gpa);
			ck_assert_uint_eq(d.len, out[k].len);
		}
		ck_assert_int_eq(cvmm_virtq_chain_next(&a, &d), 0);
		ck_assert_int_eq(cvmm_virtq_push(&f.q, &a, 0), 0);
		ck_assert_uint_eq(drain_one(&f, 3), 9);
		ck_assert_uint_eq(drain_one(&f, 2), 8);
		ck_assert_uint_eq(drain_one(&f, 1), 0);
	}
	fx_teardown(&f);
}
END_TEST

START_TEST(unpop_returns_chain)
{
	struct fx f;
	struct cvmm_virtq_chain a, b, again;

	fx_setup(&f, _i, 8, 0);
	for (unsigned int lap = 0; lap < 12; lap++) {
		struct cvmm_virtq_buf out[2] = { { FX_BUF, 1 }, { FX_BUF + 16, 2 } };

		ck_assert_int_eq(cvmm_virtq_driver_add(f.drv, out, 2, NULL, 0, false, 10), 0);
		fx_add1(&f, FX_BUF + 64, 4, false, 11);
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &a), 1);
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &b), 1);
		ck_assert_int_eq(cvmm_virtq_unpop(&f.q, &a), -EINVAL); /* not the last */
		ck_assert_int_eq(cvmm_virtq_unpop(&f.q, &b), 0);
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &again), 1);
		ck_assert_uint_eq(again.id, b.id);
		ck_assert_uint_eq(again.ring_slots, b.ring_slots);
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &again), 0);
		ck_assert_int_eq(cvmm_virtq_push(&f.q, &a, 0), 0);
		ck_assert_int_eq(cvmm_virtq_push(&f.q, &b, 0), 0);
		ck_assert_uint_eq(drain_one(&f, 10), 0);
		ck_assert_uint_eq(drain_one(&f, 11), 0);
	}
	fx_teardown(&f);
}
END_TEST

/* Without EVENT_IDX: the flags fields. */
START_TEST(notification_flags)
{
	struct fx f;
	struct cvmm_virtq_chain c;

	fx_setup(&f, _i, 8, 0);
	ck_assert(!cvmm_virtq_needs_notification(&f.q)); /* nothing pushed */
	/* device side: kicks wanted by default, not once disabled */
	fx_add1(&f, FX_BUF, 1, false, 1);
	ck_assert(cvmm_virtq_driver_kick_needed(f.drv));
	cvmm_virtq_disable_notification(&f.q);
	fx_add1(&f, FX_BUF, 1, false, 2);
	ck_assert(!cvmm_virtq_driver_kick_needed(f.drv));
	/* re-enabling finds the buffers that came meanwhile */
	ck_assert_int_eq(cvmm_virtq_enable_notification(&f.q), 1);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
		ck_assert_int_eq(cvmm_virtq_push(&f.q, &c, 0), 0);
	}
	ck_assert_int_eq(cvmm_virtq_enable_notification(&f.q), 0);
	fx_add1(&f, FX_BUF, 1, false, 3);
	ck_assert(cvmm_virtq_driver_kick_needed(f.drv));
	ck_assert(!cvmm_virtq_driver_kick_needed(f.drv)); /* nothing new */
	/* driver side: interrupts */
	ck_assert(cvmm_virtq_needs_notification(&f.q));
	ck_assert(!cvmm_virtq_needs_notification(&f.q));
	cvmm_virtq_driver_disable_cb(f.drv);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
	ck_assert_int_eq(cvmm_virtq_push(&f.q, &c, 0), 0);
	ck_assert(!cvmm_virtq_needs_notification(&f.q));
	ck_assert(cvmm_virtq_driver_enable_cb(f.drv)); /* used entries pending */
	for (int i = 0; i < 3; i++)
		drain_one(&f, (uint64_t)i + 1);
	ck_assert(!cvmm_virtq_driver_enable_cb(f.drv));
	fx_add1(&f, FX_BUF, 1, false, 4);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
	ck_assert_int_eq(cvmm_virtq_push(&f.q, &c, 0), 0);
	ck_assert(cvmm_virtq_needs_notification(&f.q));
	fx_teardown(&f);
}
END_TEST

/*
 * With EVENT_IDX: a notification exactly when the other side asked for
 * that index, over 70000 requests so the 16-bit indexes wrap (split) and
 * the wrap counters flip thousands of times (packed).
 */
START_TEST(notification_event_idx_wraps)
{
	struct fx f;
	struct cvmm_virtq_chain c;
	unsigned int kicks = 0, irqs = 0;

	fx_setup(&f, _i, 8, CVMM_VIRTIO_F_EVENT_IDX);
	ck_assert_int_eq(cvmm_virtq_enable_notification(&f.q), 0);
	cvmm_virtq_driver_enable_cb(f.drv);
	for (unsigned int i = 0; i < 70000; i++) {
		fx_add1(&f, FX_BUF, 1, false, i);
		if (cvmm_virtq_driver_kick_needed(f.drv))
			kicks++;
		/* a second buffer before the device ran: it asked for one kick */
		fx_add1(&f, FX_BUF, 1, false, i);
		CHECK(!cvmm_virtq_driver_kick_needed(f.drv));
		cvmm_virtq_disable_notification(&f.q);
		for (int k = 0; k < 2; k++) {
			CHECK(cvmm_virtq_pop(&f.q, &c) == 1);
			CHECK(cvmm_virtq_push(&f.q, &c, 0) == 0);
			if (cvmm_virtq_needs_notification(&f.q))
				irqs++;
		}
		CHECK(cvmm_virtq_enable_notification(&f.q) == 0);
		drain_one(&f, i);
		drain_one(&f, i);
		CHECK(!cvmm_virtq_driver_enable_cb(f.drv));
	}
	/* one kick and one interrupt per round: the second of each pair is
	 * suppressed by the event index */
	ck_assert_uint_eq(kicks, 70000);
	ck_assert_uint_eq(irqs, 70000);
	fx_teardown(&f);
}
END_TEST

/* EVENT_IDX with the driver not re-arming: no interrupts until it does. */
START_TEST(notification_event_idx_batching)
{
	struct fx f;
	struct cvmm_virtq_chain c;

	fx_setup(&f, _i, 16, CVMM_VIRTIO_F_EVENT_IDX);
	cvmm_virtq_driver_enable_cb(f.drv);
	for (unsigned int i = 0; i < 6; i++)
		fx_add1(&f, FX_BUF, 1, false, i);
	for (unsigned int i = 0; i < 6; i++) {
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
		ck_assert_int_eq(cvmm_virtq_push(&f.q, &c, 0), 0);
		/* the driver asked for an interrupt at its next used entry only */
		ck_assert(cvmm_virtq_needs_notification(&f.q) == (i == 0));
	}
	for (unsigned int i = 0; i < 6; i++)
		drain_one(&f, i);
	ck_assert(!cvmm_virtq_driver_enable_cb(f.drv));
	fx_add1(&f, FX_BUF, 1, false, 9);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
	ck_assert_int_eq(cvmm_virtq_push(&f.q, &c, 0), 0);
	ck_assert(cvmm_virtq_needs_notification(&f.q));
	/* a batch of pushes and one decision */
	for (unsigned int i = 0; i < 3; i++)
		fx_add1(&f, FX_BUF, 1, false, i);
	drain_one(&f, 9);
	ck_assert(!cvmm_virtq_driver_enable_cb(f.drv));
	for (unsigned int i = 0; i < 3; i++) {
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
		ck_assert_int_eq(cvmm_virtq_push(&f.q, &c, 0), 0);
	}
	ck_assert(cvmm_virtq_needs_notification(&f.q));
	ck_assert(!cvmm_virtq_needs_notification(&f.q));
	fx_teardown(&f);
}
END_TEST

START_TEST(save_restore_mid_stream)
{
	struct fx f;
	struct cvmm_virtq_chain a, b, c;
	struct cvmm_virtq_state s;
	struct cvmm_virtq q2;
	struct cvmm_virtq_desc d;
	uint16_t a_id, a_slots;

	fx_setup(&f, _i, 8, CVMM_VIRTIO_F_EVENT_IDX);
	/* move the indexes off zero first */
	for (unsigned int i = 0; i < 13; i++) {
		fx_add1(&f, FX_BUF, 1, false, i);
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &a), 1);
		ck_assert_int_eq(cvmm_virtq_push(&f.q, &a, 0), 0);
		drain_one(&f, i);
	}
	for (unsigned int i = 0; i < 4; i++)
		fx_add1(&f, FX_BUF + 0x100 * i, 10 + i, true, 100 + i);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &a), 1);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &b), 1);
	ck_assert_int_eq(cvmm_virtq_push(&f.q, &b, 5), 0);
	a_id = a.id;
	a_slots = a.ring_slots;
	cvmm_virtq_state_save(&f.q, &s);
	ck_assert_uint_eq(s.version, CVMM_VIRTQ_STATE_VERSION);

	/* the destination: a fresh queue on the same guest memory */
	ck_assert_int_eq(cvmm_virtq_init(&q2, f.mem, 256), 0);
	ck_assert_int_eq(cvmm_virtq_state_restore(&q2, &s), 0);
	ck_assert(cvmm_virtq_active(&q2));
	ck_assert_int_eq(cvmm_virtq_push_id(&q2, a_id, a_slots, 7), 0);
	for (unsigned int i = 2; i < 4; i++) {
		ck_assert_int_eq(cvmm_virtq_pop(&q2, &c), 1);
		ck_assert_int_eq(cvmm_virtq_chain_next(&c, &d), 1);
		ck_assert_uint_eq(d.addr, FX_BUF + 0x100 * i);
		ck_assert_int_eq(cvmm_virtq_push(&q2, &c, 1), 0);
	}
	ck_assert_int_eq(cvmm_virtq_pop(&q2, &c), 0);
	ck_assert_uint_eq(drain_one(&f, 101), 5);
	ck_assert_uint_eq(drain_one(&f, 100), 7);
	ck_assert_uint_eq(drain_one(&f, 102), 1);
	ck_assert_uint_eq(drain_one(&f, 103), 1);

	/* states that cannot be right are refused */
	{
		struct cvmm_virtq_state bad = s;

		bad.version = 99;
		ck_assert_int_eq(cvmm_virtq_state_restore(&q2, &bad), -EINVAL);
		bad = s;
		bad.size = 512;
		ck_assert_int_eq(cvmm_virtq_state_restore(&q2, &bad), -EINVAL);
		bad = s;
		bad.used_wrap = 2;
		ck_assert_int_eq(cvmm_virtq_state_restore(&q2, &bad), -EINVAL);
		if (f.packed) {
			bad = s;
			bad.next_avail = 8;
			ck_assert_int_eq(cvmm_virtq_state_restore(&q2, &bad), -EINVAL);
		}
		bad = s;
		bad.used_gpa = FX_RAM_END;
		ck_assert_int_eq(cvmm_virtq_state_restore(&q2, &bad), -EFAULT);
	}
	/* a broken queue stays broken across migration */
	{
		struct cvmm_virtq_state br = s;

		br.error = -ELOOP;
		ck_assert_int_eq(cvmm_virtq_state_restore(&q2, &br), 0);
		ck_assert(cvmm_virtq_broken(&q2));
		ck_assert_int_eq(cvmm_virtq_pop(&q2, &c), -ELOOP);
	}
	cvmm_virtq_fini(&q2);
	fx_teardown(&f);
}
END_TEST

/*
 * The memory map changes under a live queue (the VM paused): after
 * cvmm_virtq_remap() the queue goes on over the new map; a queue whose
 * rings were in a removed region is broken, never left pointing into it.
 */
START_TEST(remap_after_map_change)
{
	struct cvmm_mem_region_opts ro = { .sz = sizeof(ro), .gpa = 0x200000, .size = 0x10000,
					   .backing = CVMM_MEM_ANON, .fd = -1 };
	bool packed = _i;
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_desc d;
	struct cvmm_virtq inb;
	const uint64_t *gen;
	uint64_t g0;
	struct fx f;

	fx_setup(&f, packed, 8, 0);
	gen = cvmm_guest_mem_generation(f.mem);
	g0 = *gen;
	/* A second queue whose rings live in region B. */
	ck_assert_int_eq(cvmm_virtq_init(&inb, f.mem, 8), 0);
	cvmm_virtq_set_size(&inb, 8);
	cvmm_virtq_set_addrs(&inb, FX_REGION_A, FX_REGION_A + 0x1000, FX_REGION_A + 0x2000);
	cvmm_virtq_set_features(&inb, CVMM_VIRTIO_F_VERSION_1 | (packed ? CVMM_VIRTIO_F_RING_PACKED : 0));
	ck_assert_int_eq(cvmm_virtq_activate(&inb), 0);
	/* Unchanged map: remap is a no-op. */
	ck_assert_int_eq(cvmm_virtq_remap(&f.q), packed);

	ck_assert_int_eq(cvmm_guest_mem_add_region(f.mem, &ro), 0);
	ck_assert_uint_eq(*gen, g0 + 1);
	ck_assert_int_eq(cvmm_guest_mem_remove_region(f.mem, FX_REGION_A), 0);
	ck_assert_uint_eq(*gen, g0 + 2);
	ck_assert_int_eq(cvmm_guest_mem_remove_region(f.mem, FX_REGION_A), -ENOENT);
	ck_assert_int_eq(cvmm_virtq_remap(&f.q), packed);
	ck_assert_int_eq(cvmm_virtq_remap(&inb), -EFAULT);
	ck_assert(cvmm_virtq_broken(&inb));
	ck_assert_int_eq(cvmm_virtq_pop(&inb, &c), -EFAULT);

	/* The remapped queue works, with buffers in the new region. */
	fx_add1(&f, 0x200000 + 0x100, 64, true, 1);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
	ck_assert_int_eq(cvmm_virtq_chain_next(&c, &d), 1);
	ck_assert_uint_eq(d.addr, 0x200100);
	ck_assert_int_eq(cvmm_virtq_push(&f.q, &c, 64), 0);
	cvmm_virtq_fini(&inb);
	fx_teardown(&f);
}
END_TEST

START_TEST(activate_checks_layout)
{
	struct fx f;
	struct cvmm_virtq q;
	bool packed = _i;
	uint64_t feat = packed ? CVMM_VIRTIO_F_RING_PACKED : 0;
	struct { uint16_t size; uint64_t desc, avail, used; int err; } cases[] = {
		{ 0, FX_DESC, FX_AVAIL, FX_USED, -EINVAL },
		{ 512, FX_DESC, FX_AVAIL, FX_USED, -EINVAL },      /* above max_size */
		{ 8, FX_DESC + 8, FX_AVAIL, FX_USED, -EINVAL },    /* desc not 16-aligned */
		{ 8, FX_DESC, FX_AVAIL + 1, FX_USED, -EINVAL },    /* avail misaligned */
		{ 8, FX_DESC, FX_AVAIL, FX_USED + 2, -EINVAL },    /* used not 4-aligned */
		{ 8, FX_RAM_END, FX_AVAIL, FX_USED, -EFAULT },     /* outside RAM */
		{ 8, FX_RAM_END - 16, FX_AVAIL, FX_USED, -EFAULT }, /* runs off the end */
		{ 8, FX_DESC, FX_RAM_END, FX_USED, -EFAULT },
		{ 8, FX_DESC, FX_AVAIL, UINT64_MAX - 3, -EFAULT }, /* wraps */
		{ 8, FX_REGION_A - 64, FX_AVAIL, FX_USED, -EFAULT }, /* spans two regions */
	};

	fx_setup(&f, packed, 8, 0);
	for (unsigned int i = 0; i < CVMM_ARRAY_SIZE(cases); i++) {
		ck_assert_int_eq(cvmm_virtq_init(&q, f.mem, 256), 0);
		cvmm_virtq_set_size(&q, cases[i].size);
		cvmm_virtq_set_addrs(&q, cases[i].desc, cases[i].avail, cases[i].used);
		cvmm_virtq_set_features(&q, feat);
		ck_assert_msg(cvmm_virtq_activate(&q) == cases[i].err, "case %u", i);
		ck_assert(cvmm_virtq_broken(&q));
		ck_assert(!cvmm_virtq_active(&q));
		/* reset clears the broken state */
		cvmm_virtq_reset(&q);
		ck_assert(!cvmm_virtq_broken(&q));
		cvmm_virtq_fini(&q);
	}
	/* queue sizes that are not powers of two: split no, packed yes */
	ck_assert_int_eq(cvmm_virtq_init(&q, f.mem, 256), 0);
	cvmm_virtq_set_size(&q, 6);
	cvmm_virtq_set_addrs(&q, FX_DESC, FX_AVAIL, FX_USED);
	cvmm_virtq_set_features(&q, feat);
	ck_assert_int_eq(cvmm_virtq_activate(&q), packed ? 0 : -EINVAL);
	/* not active: pop and push say so */
	{
		struct cvmm_virtq_chain c;

		cvmm_virtq_reset(&q);
		ck_assert_int_eq(cvmm_virtq_pop(&q, &c), -ENODEV);
		ck_assert_int_eq(cvmm_virtq_push_id(&q, 0, 1, 0), -ENODEV);
		ck_assert_int_eq(cvmm_virtq_enable_notification(&q), -ENODEV);
	}
	ck_assert_int_eq(cvmm_virtq_init(&q, f.mem, 0), -EINVAL);
	ck_assert_int_eq(cvmm_virtq_init(&q, NULL, 8), -EINVAL);
	fx_teardown(&f);
}
END_TEST

/* A packed queue whose size is not a power of two, many laps. */
START_TEST(packed_odd_size)
{
	struct fx f;
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_buf out[2] = { { FX_BUF, 1 }, { FX_BUF + 16, 2 } };

	fx_setup(&f, true, 7, 0);
	for (unsigned int i = 0; i < 40; i++) {
		ck_assert_int_eq(cvmm_virtq_driver_add(f.drv, out, 1 + (i % 2), NULL, 0, false, i), 0);
		ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
		ck_assert_int_eq(cvmm_virtq_chain_lengths(&c, NULL, NULL), 0);
		ck_assert_int_eq(cvmm_virtq_push(&f.q, &c, 0), 0);
		drain_one(&f, i);
	}
	fx_teardown(&f);
}
END_TEST

/* Driver full: -ENOSPC, and the device sees exactly size buffers. */
START_TEST(ring_full)
{
	struct fx f;
	struct cvmm_virtq_chain c;
	unsigned int n = 0;

	fx_setup(&f, _i, 8, 0);
	for (unsigned int i = 0; i < 8; i++)
		fx_add1(&f, FX_BUF, 1, false, i);
	ck_assert_int_eq(cvmm_virtq_driver_add(f.drv, &(struct cvmm_virtq_buf){ FX_BUF, 1 }, 1,
					       NULL, 0, false, 99), -ENOSPC);
	while (cvmm_virtq_pop(&f.q, &c) == 1) {
		ck_assert_int_eq(cvmm_virtq_push(&f.q, &c, 0), 0);
		n++;
	}
	ck_assert_uint_eq(n, 8);
	ck_assert(!cvmm_virtq_broken(&f.q));
	fx_teardown(&f);
}
END_TEST

/*
 * Device and driver on two threads, each sleeping on an eventfd whenever
 * the other side's suppression protocol says a notification will come. A
 * lost wake-up (a missing barrier or re-check) hangs and the test times out.
 */
#define STRESS_N 20000u

struct stress {
	struct fx f;
	int kick, irq;
	unsigned int processed;
};

static void *stress_device(void *arg)
{
	struct stress *st = arg;
	struct cvmm_virtq *q = &st->f.q;
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_desc d;
	uint64_t v;

	while (st->processed < STRESS_N) {
		int r;

		cvmm_virtq_disable_notification(q);
		while ((r = cvmm_virtq_pop(q, &c)) == 1) {
			uint32_t n = 0;

			while (cvmm_virtq_chain_next(&c, &d) == 1)
				n += d.len;
			if (cvmm_virtq_push(q, &c, n) != 0)
				return (void *)1;
			st->processed++;
		}
		if (r < 0)
			return (void *)1;
		if (cvmm_virtq_needs_notification(q) && eventfd_write(st->irq, 1))
			return (void *)1;
		if (st->processed < STRESS_N && cvmm_virtq_enable_notification(q) == 0 &&
		    eventfd_read(st->kick, &v))
			return (void *)1;
	}
	return NULL;
}

START_TEST(concurrent_notifications)
{
	struct stress st;
	pthread_t t;
	unsigned int sent = 0, done = 0;
	void *ret;
	uint64_t v;

	fx_setup(&st.f, _i & 1, 64, (_i & 2) ? CVMM_VIRTIO_F_EVENT_IDX : 0);
	st.kick = eventfd(0, EFD_CLOEXEC);
	st.irq = eventfd(0, EFD_CLOEXEC);
	st.processed = 0;
	ck_assert_int_ge(st.kick, 0);
	ck_assert_int_ge(st.irq, 0);
	ck_assert_int_eq(cvmm_virtq_enable_notification(&st.f.q), 0);
	cvmm_virtq_driver_enable_cb(st.f.drv);
	ck_assert_int_eq(pthread_create(&t, NULL, stress_device, &st), 0);
	while (done < STRESS_N) {
		bool progress = false;
		uint64_t tok;
		uint32_t len;
		int r;

		while (sent < STRESS_N && cvmm_virtq_driver_num_free(st.f.drv) > 0) {
			fx_add1(&st.f, FX_BUF + 8 * (sent % 64), 1 + sent % 7, sent & 1, sent);
			sent++;
			progress = true;
			if (cvmm_virtq_driver_kick_needed(st.f.drv))
				CHECK(eventfd_write(st.kick, 1) == 0);
		}
		while ((r = cvmm_virtq_driver_get_used(st.f.drv, &tok, &len)) == 1) {
			CHECK(len == 1 + tok % 7);
			done++;
			progress = true;
		}
		CHECK(r == 0);
		if (progress || done == STRESS_N)
			continue;
		/* nothing to do: arm the interrupt, re-check, then sleep */
		if (cvmm_virtq_driver_enable_cb(st.f.drv))
			continue;
		CHECK(eventfd_read(st.irq, &v) == 0);
	}
	ck_assert_int_eq(pthread_join(t, &ret), 0);
	ck_assert_ptr_null(ret);
	ck_assert_uint_eq(st.processed, STRESS_N);
	ck_assert(!cvmm_virtq_broken(&st.f.q));
	close(st.kick);
	close(st.irq);
	fx_teardown(&st.f);
}
END_TEST

START_TEST(push_checks_arguments)
{
	struct fx f, g;
	struct cvmm_virtq_chain c;

	fx_setup(&f, _i, 8, 0);
	fx_setup(&g, _i, 8, 0);
	fx_add1(&f, FX_BUF, 1, false, 1);
	ck_assert_int_eq(cvmm_virtq_pop(&f.q, &c), 1);
	ck_assert_int_eq(cvmm_virtq_push(&g.q, &c, 0), -EINVAL);	/* another queue's chain */
	ck_assert_int_eq(cvmm_virtq_push_id(&f.q, c.id, 0, 0), -EINVAL);
	ck_assert_int_eq(cvmm_virtq_push_id(&f.q, c.id, 9, 0), -EINVAL);
	if (!_i) {
		ck_assert_int_eq(cvmm_virtq_push_id(&f.q, 8, 1, 0), -EINVAL);
		ck_assert_int_eq(cvmm_virtq_push_id(&f.q, c.id, 2, 0), -EINVAL);
	}
	ck_assert_int_eq(cvmm_virtq_push_id(&f.q, c.id, c.ring_slots, 3), 0);
	ck_assert_uint_eq(drain_one(&f, 1), 3);
	ck_assert(!cvmm_virtq_broken(&f.q));
	fx_teardown(&g);
	fx_teardown(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("virtio-queue");
	TCase *tc = tcase_create("device");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, single_descriptor_many_laps, 0, 2);
	tcase_add_loop_test(tc, multi_descriptor_chain, 0, 2);
	tcase_add_loop_test(tc, indirect_chain, 0, 2);
	tcase_add_loop_test(tc, reader_writer_across_descriptors, 0, 2);
	tcase_add_loop_test(tc, iovec_with_preadv_writev, 0, 2);
	tcase_add_loop_test(tc, writer_marks_dirty, 0, 2);
	tcase_add_loop_test(tc, out_of_order_completion, 0, 2);
	tcase_add_loop_test(tc, unpop_returns_chain, 0, 2);
	tcase_add_loop_test(tc, notification_flags, 0, 2);
	tcase_add_loop_test(tc, notification_event_idx_wraps, 0, 2);
	tcase_add_loop_test(tc, notification_event_idx_batching, 0, 2);
	tcase_add_loop_test(tc, save_restore_mid_stream, 0, 2);
	tcase_add_loop_test(tc, activate_checks_layout, 0, 2);
	tcase_add_loop_test(tc, remap_after_map_change, 0, 2);
	tcase_add_test(tc, packed_odd_size);
	tcase_add_loop_test(tc, ring_full, 0, 2);
	tcase_add_loop_test(tc, push_checks_arguments, 0, 2);
	tcase_add_loop_test(tc, concurrent_notifications, 0, 4);
	suite_add_tcase(s, tc);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
