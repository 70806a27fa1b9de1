/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-balloon over virtio-mmio with the virtio-queue driver helper:
 * inflated pages leave the host mapping (mincore says not resident, they
 * read as zeros), their neighbours keep their bytes; shared memfd memory
 * too (MADV_REMOVE); deflate; num_pages/actual in config; hostile page
 * numbers and a huge buffer are refused and counted; save/restore; free
 * page reporting (queue 3 with stats, 2 without): reported ranges leave the
 * host, hostile ranges (unaligned, outside RAM, straddling its end) are
 * refused one by one without touching their neighbours; 32 ranges in one
 * in-ring chain of a packed ring, as Linux reports them.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/balloon.h>

#include "cvmm-test.h"
#include "vd-fixture.h"

#define PG 4096u
#define AREA 0xa00000ull   /* guest pages the tests touch and inflate */
#define NPG 64u

static struct vdf F;
static struct cvmm_balloon *B;

/* @take_stats: the driver negotiates the offered stats queue. */
static void up_want(bool shared, bool stats, bool report, bool take_stats)
{
	struct cvmm_balloon_opts o = { .sz = sizeof(o), .num_pages = 0, .stats = stats,
				       .deflate_on_oom = true, .free_page_reporting = report };

	if (shared)
		vdf_init_shared(&F, 0);
	else
		vdf_init(&F, 0);
	o.em = F.em;
	ck_assert_int_eq(cvmm_balloon_create(&o, &B), 0);
	vdf_attach(&F, cvmm_balloon_device(B));
	vdf_start(&F);
	vdf_bring_up(&F, CVMM_VIRTIO_BALLOON_F_DEFLATE_ON_OOM |
			 (take_stats ? CVMM_VIRTIO_BALLOON_F_STATS_VQ : 0) |
			 (report ? CVMM_VIRTIO_BALLOON_F_PAGE_REPORTING : 0),
		     (take_stats ? 3 : 2) + (report ? 1 : 0), 64);
	ck_assert(F.features & CVMM_VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
}

static void up_opts(bool shared, bool stats, bool report)
{
	up_want(shared, stats, report, stats);
}

static void up(bool shared, bool stats)
{
	up_opts(shared, stats, false);
}

static void down(void)
{
	vdf_detach(&F);
	cvmm_balloon_destroy(B);
	vdf_fini(&F);
}

static bool resident(uint64_t gpa)
{
	unsigned char v = 0;
	uint8_t *p = vdf_host(&F, gpa);

	ck_assert_int_eq(mincore((void *)((uintptr_t)p & ~(uintptr_t)(PG - 1)), PG, &v), 0);
	return v & 1;
}

/* Send @n le32 page numbers on queue @q and wait for the buffer back. */
static void send_pfns(unsigned int q, const uint32_t *pfn, unsigned int n)
{
	uint64_t g = vdf_alloc(&F, (uint64_t)n * 4, 8), tok;
	uint32_t len;
	struct cvmm_virtq_buf out = { g, n * 4 };

	memcpy(vdf_host(&F, g), pfn, (size_t)n * 4);
	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[q], &out, 1, NULL, 0, false, 9), 0);
	vdf_kick(&F, q);
	ck_assert_int_eq(vdf_wait_used(&F, q, &tok, &len, 5000), 1);
	ck_assert_uint_eq(tok, 9);
	ck_assert_uint_eq(len, 0);
}

START_TEST(inflate_releases)
{
	struct cvmm_balloon_counters c;
	uint32_t pfn[NPG / 2];

	up(_i == 1, false);
	memset(vdf_host(&F, AREA), 0x5a, NPG * PG);
	for (unsigned int i = 0; i < NPG; i++)
		ck_assert(resident(AREA + i * PG));
	/* every other page: runs of one, and the neighbours must survive */
	for (unsigned int i = 0; i < NPG / 2; i++)
		pfn[i] = (uint32_t)(AREA / PG + 2 * i);
	send_pfns(0, pfn, NPG / 2);
	for (unsigned int i = 0; i < NPG; i++) {
		uint8_t *p = vdf_host(&F, AREA + i * PG);

		if (i % 2) {
			ck_assert(resident(AREA + i * PG));
			ck_assert_uint_eq(p[0], 0x5a);
			ck_assert_uint_eq(p[PG - 1], 0x5a);
		} else {
			ck_assert(!resident(AREA + i * PG));
			ck_assert_uint_eq(p[0], 0); /* (this read maps a zero page) */
		}
	}
	/* deflate: the guest may use them again */
	send_pfns(1, pfn, NPG / 2);
	cvmm_balloon_get_counters(B, &c);
	ck_assert_uint_eq(c.inflated, NPG / 2);
	ck_assert_uint_eq(c.deflated, NPG / 2);
	ck_assert_uint_eq(c.refused, 0);
	down();
}
END_TEST

START_TEST(contiguous_run)
{
	struct cvmm_balloon_counters c;
	uint32_t pfn[NPG];

	up(false, false);
	memset(vdf_host(&F, AREA - PG), 0x33, (NPG + 2) * PG);
	for (unsigned int i = 0; i < NPG; i++)
		pfn[i] = (uint32_t)(AREA / PG + i);
	send_pfns(0, pfn, NPG);
	for (unsigned int i = 0; i < NPG; i++)
		ck_assert(!resident(AREA + i * PG));
	ck_assert_uint_eq(*vdf_host(&F, AREA - 1), 0x33);
	ck_assert_uint_eq(*vdf_host(&F, AREA + NPG * PG), 0x33);
	cvmm_balloon_get_counters(B, &c);
	ck_assert_uint_eq(c.inflated, NPG);
	down();
}
END_TEST

/* Unsorted, repeated and alternating page numbers: exactly the named pages
 * go, the rest stay, and every number counts (as the spec's pages). */
START_TEST(unsorted_repeats)
{
	struct cvmm_balloon_counters c;
	uint32_t pfn[600];
	const unsigned int named[] = { 5, 3, 4, 9, 1 };
	unsigned int n = 0;

	up(false, false);
	memset(vdf_host(&F, AREA), 0x44, NPG * PG);
	for (unsigned int r = 0; r < 100; r++)
		for (unsigned int k = 0; k < 5; k++)
			pfn[n++] = (uint32_t)(AREA / PG + named[(k + r) % 5]);
	while (n < 600)
		pfn[n++] = (uint32_t)(AREA / PG + 3);
	send_pfns(0, pfn, n);
	for (unsigned int i = 0; i < NPG; i++) {
		bool gone = i == 1 || (i >= 3 && i <= 5) || i == 9;

		ck_assert_msg(resident(AREA + i * PG) == !gone, "page %u", i);
		if (!gone)
			ck_assert_uint_eq(*vdf_host(&F, AREA + i * PG), 0x44);
	}
	cvmm_balloon_get_counters(B, &c);
	ck_assert_uint_eq(c.inflated, 600);
	ck_assert_uint_eq(c.refused, 0);
	down();
}
END_TEST

START_TEST(config_target_actual)
{
	struct cvmm_balloon_counters c;
	uint32_t gen;

	up(false, false);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG), 0);
	gen = vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG_GENERATION);
	ck_assert_int_eq(cvmm_balloon_set_target(B, 1234), 0);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG), 1234);
	ck_assert_uint_ne(vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG_GENERATION), gen);
	ck_assert_uint_ne(vdf_rd(&F, CVMM_VIRTIO_MMIO_INTERRUPT_STATUS) & 2, 0);
	/* num_pages is the device's: a driver write there is ignored */
	vdf_wr(&F, CVMM_VIRTIO_MMIO_CONFIG, 7);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG), 1234);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_CONFIG + 4, 1000);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG + 4), 1000);
	cvmm_balloon_get_counters(B, &c);
	ck_assert_uint_eq(c.actual, 1000);
	ck_assert_uint_eq(c.num_pages, 1234);
	down();
}
END_TEST

/* Page numbers outside RAM (16 MiB here), the last one of the 32-bit
 * range, and a 256 KiB buffer of them: refused and counted; RAM intact. */
START_TEST(hostile_pfns)
{
	struct cvmm_balloon_counters c;
	uint32_t bad[] = { 0x1000, 0x1001, 0xffffffffu, 0x80000000u };
	unsigned int n = 65536;
	uint32_t *many = malloc((size_t)n * 4);

	up(false, false);
	memset(vdf_host(&F, AREA), 0x77, NPG * PG);
	send_pfns(0, bad, 4);
	for (unsigned int i = 0; i < n; i++)
		many[i] = 0x2000u + i;
	send_pfns(0, many, n);
	free(many);
	cvmm_balloon_get_counters(B, &c);
	ck_assert_uint_eq(c.refused, 4 + n);
	ck_assert_uint_eq(c.inflated, 0);
	for (unsigned int i = 0; i < NPG; i++)
		ck_assert_uint_eq(*vdf_host(&F, AREA + i * PG), 0x77);
	/* the device still works */
	bad[0] = (uint32_t)(AREA / PG);
	send_pfns(0, bad, 1);
	ck_assert(!resident(AREA));
	down();
}
END_TEST

/* Send a stats buffer: MEMFREE = @free, MEMTOT = 0x20000. */
static void send_stats(uint64_t free_bytes, uint64_t token)
{
	uint8_t rec[20] = { 0 };
	uint64_t g = vdf_alloc(&F, sizeof(rec), 8);
	struct cvmm_virtq_buf out = { g, sizeof(rec) };

	rec[0] = 4;                       /* VIRTIO_BALLOON_S_MEMFREE */
	memcpy(rec + 2, &free_bytes, 8);  /* (x86: little-endian already) */
	rec[10] = 5;                      /* VIRTIO_BALLOON_S_MEMTOT */
	rec[14] = 0x02;
	memcpy(vdf_host(&F, g), rec, sizeof(rec));
	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[2], &out, 1, NULL, 0, false, token), 0);
	vdf_kick(&F, 2);
}

static void wait_reports(uint64_t n, struct cvmm_balloon_counters *c)
{
	for (int i = 0; i < 500; i++) {
		cvmm_balloon_get_counters(B, c);
		if (c->stats_reports >= n)
			break;
		usleep(10000);
	}
	ck_assert_uint_eq(c->stats_reports, n);
}

START_TEST(stats_queue)
{
	struct cvmm_balloon_counters c;
	uint64_t tok;
	uint32_t len;

	up(false, true);
	ck_assert(F.features & CVMM_VIRTIO_BALLOON_F_STATS_VQ);
	send_stats(0x10, 3);
	wait_reports(1, &c);
	ck_assert_uint_eq(c.nstats, 2);
	ck_assert_uint_eq(c.stats[0].tag, 4);
	ck_assert_uint_eq(c.stats[0].val, 0x10);
	ck_assert_uint_eq(c.stats[1].tag, 5);
	ck_assert_uint_eq(c.stats[1].val, 0x20000);
	/* kept until the host asks: nothing comes back by itself */
	ck_assert_int_eq(vdf_wait_used(&F, 2, &tok, &len, 100), 0);
	ck_assert_int_eq(cvmm_balloon_stats_request(B), 0);
	ck_assert_int_eq(vdf_wait_used(&F, 2, &tok, &len, 5000), 1);
	ck_assert_uint_eq(tok, 3);
	/* the driver answers with a fresh report */
	send_stats(0x30, 4);
	wait_reports(2, &c);
	ck_assert_uint_eq(c.stats[0].val, 0x30);
	down();
}
END_TEST

START_TEST(stats_request_unsupported)
{
	up(false, false);
	ck_assert_int_eq(cvmm_balloon_stats_request(B), -ENOTSUP);
	ck_assert_int_eq(cvmm_balloon_stats_request(NULL), -EINVAL);
	down();
}
END_TEST

START_TEST(save_restore)
{
	struct cvmm_balloon_opts o = { .sz = sizeof(o) };
	struct cvmm_virtio_device *d;
	struct cvmm_balloon *b2;
	struct cvmm_balloon_counters c;
	uint32_t pfn = (uint32_t)(AREA / PG);
	uint8_t buf[128];
	int n;

	up(false, false);
	cvmm_balloon_set_target(B, 99);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_CONFIG + 4, 42);
	send_pfns(0, &pfn, 1);
	d = cvmm_balloon_device(B);
	ck_assert_int_eq(d->ops->save(d, NULL, 0), 52);
	ck_assert_int_eq(d->ops->save(d, buf, 8), -ENOSPC);
	n = d->ops->save(d, buf, sizeof(buf));
	ck_assert_int_eq(n, 52);
	ck_assert_int_eq(cvmm_balloon_create(&o, &b2), 0);
	d = cvmm_balloon_device(b2);
	ck_assert_int_eq(d->ops->restore(d, buf, 35), -EINVAL);
	ck_assert_int_eq(d->ops->restore(d, buf, 51), -EINVAL);
	/* a state from before free page reporting (36 bytes) still restores */
	ck_assert_int_eq(d->ops->restore(d, buf, 36), 0);
	buf[0] ^= 1;
	ck_assert_int_eq(d->ops->restore(d, buf, (size_t)n), -EINVAL);
	buf[0] ^= 1;
	ck_assert_int_eq(d->ops->restore(d, buf, (size_t)n), 0);
	cvmm_balloon_get_counters(b2, &c);
	ck_assert_uint_eq(c.num_pages, 99);
	ck_assert_uint_eq(c.actual, 42);
	ck_assert_uint_eq(c.inflated, 1);
	cvmm_balloon_destroy(b2);
	down();
}
END_TEST

/* Report the ranges (gpa, len) as one buffer of device-writable
 * descriptors on queue @q (as Linux does) and wait for it back, unwritten. */
static void send_report(unsigned int q, const uint64_t (*r)[2], unsigned int n)
{
	struct cvmm_virtq_buf in[32];
	uint64_t tok;
	uint32_t len;

	ck_assert_uint_le(n, 32);
	for (unsigned int i = 0; i < n; i++)
		in[i] = (struct cvmm_virtq_buf){ r[i][0], (uint32_t)r[i][1] };
	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[q], NULL, 0, in, n, false, 11), 0);
	vdf_kick(&F, q);
	ck_assert_int_eq(vdf_wait_used(&F, q, &tok, &len, 5000), 1);
	ck_assert_uint_eq(tok, 11);
	ck_assert_uint_eq(len, 0);
}

/* _i: 0 private, 1 shared memfd, 2 private without the stats queue (the
 * reporting queue moves to index 2), 3 the stats queue offered but not
 * negotiated (index 2 too, as Linux numbers them). */
START_TEST(report_releases)
{
	struct cvmm_balloon_counters c;
	unsigned int q = _i >= 2 ? 2 : 3;
	const uint64_t r[][2] = { { AREA, 16 * PG }, { AREA + 32 * PG, 8 * PG } };

	up_want(_i == 1, _i != 2, true, _i < 2);
	ck_assert(F.features & CVMM_VIRTIO_BALLOON_F_PAGE_REPORTING);
	memset(vdf_host(&F, AREA - PG), 0x6b, (NPG + 2) * PG);
	send_report(q, r, 2);
	for (unsigned int i = 0; i < NPG; i++) {
		bool gone = i < 16 || (i >= 32 && i < 40);

		ck_assert(resident(AREA + i * PG) == !gone);
		ck_assert_uint_eq(*vdf_host(&F, AREA + i * PG), gone ? 0 : 0x6b);
	}
	ck_assert_uint_eq(*vdf_host(&F, AREA - 1), 0x6b);
	cvmm_balloon_get_counters(B, &c);
	ck_assert_uint_eq(c.reported, 24);
	ck_assert_uint_eq(c.report_refused, 0);
	ck_assert_uint_eq(c.inflated, 0);
	down();
}
END_TEST

/* Linux's virtio_balloon turns INDIRECT_DESC down and puts up to 32
 * ranges (PAGE_REPORTING_CAPACITY) in one in-ring chain; on a packed ring
 * cvmm took 16 at most and the device needed a reset at Linux's first
 * report (tests/linux-guest/memdev.sh). */
START_TEST(report_packed_32)
{
	struct cvmm_balloon_counters c;
	uint64_t r[32][2];

	vdf_init(&F, 0);
	{
		struct cvmm_balloon_opts o = { .sz = sizeof(o), .stats = true,
					       .free_page_reporting = true };

		o.em = F.em;
		ck_assert_int_eq(cvmm_balloon_create(&o, &B), 0);
	}
	vdf_attach(&F, cvmm_balloon_device(B));
	vdf_start(&F);
	vdf_bring_up(&F, CVMM_VIRTIO_BALLOON_F_STATS_VQ | CVMM_VIRTIO_BALLOON_F_PAGE_REPORTING |
			 CVMM_VIRTIO_F_RING_PACKED, 4, 64);
	ck_assert(F.features & CVMM_VIRTIO_F_RING_PACKED);
	ck_assert(!(F.features & CVMM_VIRTIO_F_INDIRECT_DESC));
	memset(vdf_host(&F, AREA), 0x5a, NPG * PG);
	for (unsigned int i = 0; i < 32; i++) {
		r[i][0] = AREA + 2 * i * PG;
		r[i][1] = PG;
	}
	send_report(3, (const uint64_t (*)[2])r, 32);
	for (unsigned int i = 0; i < NPG; i++)
		ck_assert_uint_eq(*vdf_host(&F, AREA + i * PG), i % 2 ? 0x5a : 0);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
	cvmm_balloon_get_counters(B, &c);
	ck_assert_uint_eq(c.reported, 32);
	ck_assert_uint_eq(c.report_refused, 0);
	down();
}
END_TEST

/* Unaligned address, unaligned length, a range straddling the end of RAM
 * (the queue itself refuses a buffer outside RAM: the device needs a reset
 * then), each refused alone; the good range of the same buffer counts. */
START_TEST(report_hostile)
{
	struct cvmm_balloon_counters c;
	const uint64_t r[][2] = {
		{ AREA + 1, 4 * PG },            /* unaligned address */
		{ AREA + 8 * PG, 4 * PG + 512 }, /* not whole pages */
		{ AREA + 16 * PG, 0 },           /* empty */
		{ AREA + 24 * PG, 4 * PG },      /* good */
	};
	const uint64_t out_of_ram[][2] = { { (16ull << 20) - 2 * PG, 4 * PG } };
	uint64_t tok;
	uint32_t len;

	up_opts(false, true, true);
	memset(vdf_host(&F, AREA), 0x3c, NPG * PG);
	memset(vdf_host(&F, (16ull << 20) - 2 * PG), 0x3c, 2 * PG);
	send_report(3, r, 4);
	for (unsigned int i = 0; i < NPG; i++) {
		bool gone = i >= 24 && i < 28;

		ck_assert_uint_eq(*vdf_host(&F, AREA + i * PG), gone ? 0 : 0x3c);
	}
	cvmm_balloon_get_counters(B, &c);
	ck_assert_uint_eq(c.reported, 4);
	ck_assert_uint_eq(c.report_refused, 3);
	/* past the end of guest RAM: the ring refuses it, nothing released */
	{
		struct cvmm_virtq_buf in = { out_of_ram[0][0], (uint32_t)out_of_ram[0][1] };

		ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[3], NULL, 0, &in, 1, false, 12), 0);
		vdf_kick(&F, 3);
		ck_assert_int_eq(vdf_wait_used(&F, 3, &tok, &len, 200), 0);
	}
	for (int i = 0; i < 2500 && !(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS) &
				     CVMM_VIRTIO_S_NEEDS_RESET); i++)
		usleep(2000);
	ck_assert_uint_ne(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
	ck_assert_uint_eq(*vdf_host(&F, (16ull << 20) - 2 * PG), 0x3c);
	ck_assert_uint_eq(*vdf_host(&F, (16ull << 20) - PG), 0x3c);
	cvmm_balloon_get_counters(B, &c);
	ck_assert_uint_eq(c.reported, 4);
	down();
}
END_TEST

START_TEST(bad_opts)
{
	struct cvmm_balloon_opts o = { .sz = sizeof(o), .queue_size = 100 };
	struct cvmm_balloon *b;

	ck_assert_int_eq(cvmm_balloon_create(&o, &b), -EINVAL);
	o.sz = 1;
	o.queue_size = 0;
	ck_assert_int_eq(cvmm_balloon_create(&o, &b), -EINVAL);
	ck_assert_int_eq(cvmm_balloon_set_target(NULL, 1), -EINVAL);
	cvmm_balloon_destroy(NULL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("virtio-balloon");
	TCase *t = tcase_create("core");

	tcase_set_timeout(t, 60);
	tcase_add_loop_test(t, inflate_releases, 0, 2);
	tcase_add_test(t, contiguous_run);
	tcase_add_test(t, unsorted_repeats);
	tcase_add_test(t, config_target_actual);
	tcase_add_test(t, hostile_pfns);
	tcase_add_test(t, stats_queue);
	tcase_add_test(t, stats_request_unsupported);
	tcase_add_test(t, save_restore);
	tcase_add_loop_test(t, report_releases, 0, 4);
	tcase_add_test(t, report_packed_32);
	tcase_add_test(t, report_hostile);
	tcase_add_test(t, bad_opts);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	Suite *s[] = { suite(), NULL };

	return cvmm_test_run(s);
}
