/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk end to end: requests built by the virtio-queue driver helper in
 * real guest memory, the virtio-mmio transport, the device thread, a real
 * temp file, with the io_uring and the synchronous engine (loop index).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <liburing.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/blk.h>

#include "../src/internal.h"
#include "cvmm-test.h"
#include "vd-fixture.h"

#define DISK_BYTES (1ull << 20)
#define CAP (DISK_BYTES / 512)
#define SERIAL "cvmm-test-serial"

static struct vdf F;
static struct cvmm_blk *BLK;
static char PATH[PATH_MAX];
static int FD = -1;
static uint64_t HDR, ST, DATA; /* scratch guest buffers */

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + off / 512 + 1);
}

static void fill_file(void)
{
	static uint8_t buf[DISK_BYTES];

	for (uint64_t i = 0; i < DISK_BYTES; i++)
		buf[i] = pattern(i);
	ck_assert_int_eq(pwrite(FD, buf, DISK_BYTES, 0), (ssize_t)DISK_BYTES);
}

static uint64_t file_sum(void)
{
	static uint8_t buf[DISK_BYTES];
	uint64_t h = 1469598103934665603ull;

	ck_assert_int_eq(pread(FD, buf, DISK_BYTES, 0), (ssize_t)DISK_BYTES);
	for (uint64_t i = 0; i < DISK_BYTES; i++)
		h = (h ^ buf[i]) * 1099511628211ull;
	return h;
}

static void blk_make(int engine, bool ro, const struct cvmm_rate_limiter_opts *rate)
{
	struct cvmm_blk_opts o = {
		.sz = sizeof(o), .em = F.em, .queue_size = 128, .rate = rate,
		.backend = {
			.sz = sizeof(o.backend), .path = PATH, .fd = -1, .read_only = ro,
			.engine = engine ? CVMM_BLK_ENGINE_SYNC : CVMM_BLK_ENGINE_URING,
			.serial = SERIAL,
		},
	};

	ck_assert_int_eq(cvmm_blk_create(&o, &BLK), 0);
	ck_assert_int_eq(cvmm_blk_backend_engine(cvmm_blk_backend(BLK)),
			 engine ? CVMM_BLK_ENGINE_SYNC : CVMM_BLK_ENGINE_URING);
	vdf_attach(&F, cvmm_blk_device(BLK));
}

static void up(int engine, bool ro, const struct cvmm_rate_limiter_opts *rate,
	       uint64_t want)
{
	FD = cvmm_test_tmpfile(PATH, DISK_BYTES);
	ck_assert_int_ge(FD, 0);
	fill_file();
	vdf_init(&F, 0);
	blk_make(engine, ro, rate);
	vdf_start(&F);
	vdf_bring_up(&F, want | CVMM_VIRTIO_BLK_F_FLUSH | CVMM_VIRTIO_BLK_F_DISCARD |
			     CVMM_VIRTIO_BLK_F_WRITE_ZEROES | CVMM_VIRTIO_BLK_F_SEG_MAX |
			     CVMM_VIRTIO_BLK_F_RO | CVMM_VIRTIO_F_INDIRECT_DESC, 1, 128);
	HDR = vdf_alloc(&F, 16, 16);
	ST = vdf_alloc(&F, 16, 16);
	DATA = vdf_alloc(&F, 1 << 20, 4096);
}

static void down(void)
{
	if (F.mem)
		vdf_fini(&F);
	memset(&F, 0, sizeof(F));
	cvmm_blk_destroy(BLK);
	BLK = NULL;
	if (FD >= 0) {
		close(FD);
		unlink(PATH);
		FD = -1;
	}
}

static void put_hdr(uint64_t gpa, uint32_t type, uint64_t sector)
{
	uint8_t *h = vdf_host(&F, gpa);

	memset(h, 0, 16);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
}

/* Submit a chain and wait for it; returns the used length (asserting it
 * came back); *st the status byte. */
static uint32_t submit(const struct cvmm_virtq_buf *out, unsigned int nout,
		       const struct cvmm_virtq_buf *in, unsigned int nin, bool ind)
{
	uint64_t tok;
	uint32_t len;

	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], out, nout, in, nin, ind, 77), 0);
	vdf_kick(&F, 0);
	ck_assert_int_eq(vdf_wait_used(&F, 0, &tok, &len, 5000), 1);
	ck_assert_uint_eq(tok, 77);
	return len;
}

/* A well-formed request: header [+ data out] | [data in +] status. */
static uint8_t rq(uint32_t type, uint64_t sector, uint64_t data, uint32_t len,
		  bool data_out, uint32_t *used)
{
	struct cvmm_virtq_buf out[2] = { { HDR, 16 }, { data, len } };
	struct cvmm_virtq_buf in[2] = { { data, len }, { ST, 1 } };
	uint32_t u;

	put_hdr(HDR, type, sector);
	*vdf_host(&F, ST) = 0xee;
	if (!len)
		u = submit(out, 1, &in[1], 1, false);
	else if (data_out)
		u = submit(out, 2, &in[1], 1, false);
	else
		u = submit(out, 1, in, 2, false);
	if (used)
		*used = u;
	return *vdf_host(&F, ST);
}

static void wait_needs_reset(void)
{
	for (int i = 0; i < 5000; i++) {
		if (vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS) & CVMM_VIRTIO_S_NEEDS_RESET)
			return;
		usleep(2000);
	}
	ck_abort_msg("device did not ask for a reset");
}

static void check_file(uint64_t off, const uint8_t *want, size_t len)
{
	uint8_t *got = malloc(len);

	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(pread(FD, got, len, (off_t)off), (ssize_t)len);
	ck_assert_int_eq(memcmp(got, want, len), 0);
	free(got);
}

static void check_pattern(uint64_t off, size_t len)
{
	uint8_t *want = malloc(len);

	for (size_t i = 0; i < len; i++)
		want[i] = pattern(off + i);
	check_file(off, want, len);
	free(want);
}

/* ------------------------------------------------------------------------ */

START_TEST(read_write)
{
	uint8_t *d;
	uint32_t used;
	struct cvmm_virtq_buf out[4], in[4];

	up(_i, false, NULL, CVMM_VIRTIO_F_EVENT_IDX);
	/* write 8 sectors at sector 10 in three oddly-sized descriptors */
	d = vdf_host(&F, DATA);
	for (int i = 0; i < 4096; i++)
		d[i] = (uint8_t)(i ^ 0x5a);
	put_hdr(HDR, CVMM_VIRTIO_BLK_T_OUT, 10);
	out[0] = (struct cvmm_virtq_buf){ HDR, 16 };
	out[1] = (struct cvmm_virtq_buf){ DATA, 1000 };
	out[2] = (struct cvmm_virtq_buf){ DATA + 1000, 2000 };
	out[3] = (struct cvmm_virtq_buf){ DATA + 3000, 1096 };
	in[0] = (struct cvmm_virtq_buf){ ST, 1 };
	*vdf_host(&F, ST) = 0xee;
	ck_assert_uint_eq(submit(out, 4, in, 1, false), 1);
	ck_assert_uint_eq(*vdf_host(&F, ST), CVMM_VIRTIO_BLK_S_OK);
	check_file(10 * 512, d, 4096);
	check_pattern(0, 10 * 512);
	check_pattern(18 * 512, 512);
	/* read it back into another buffer, through an indirect table */
	memset(d + 8192, 0, 4096);
	put_hdr(HDR, CVMM_VIRTIO_BLK_T_IN, 10);
	in[0] = (struct cvmm_virtq_buf){ DATA + 8192, 512 };
	in[1] = (struct cvmm_virtq_buf){ DATA + 8192 + 512, 3584 };
	in[2] = (struct cvmm_virtq_buf){ ST, 1 };
	ck_assert_uint_eq(submit(out, 1, in, 3, true), 4097);
	ck_assert_uint_eq(*vdf_host(&F, ST), CVMM_VIRTIO_BLK_S_OK);
	ck_assert_int_eq(memcmp(d, d + 8192, 4096), 0);
	/* the last sector of the disk */
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_IN, CAP - 1, DATA, 512, false, &used),
			  CVMM_VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(used, 513);
	for (int i = 0; i < 512; i++)
		ck_assert_uint_eq(d[i], pattern((CAP - 1) * 512 + (uint64_t)i));
	/* data and status in one writable descriptor */
	put_hdr(HDR, CVMM_VIRTIO_BLK_T_IN, 1);
	in[0] = (struct cvmm_virtq_buf){ DATA, 513 };
	d[512] = 0xee;
	ck_assert_uint_eq(submit(out, 1, in, 1, false), 513);
	ck_assert_uint_eq(d[512], CVMM_VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(d[0], pattern(512));
	/* zero-length read and write are fine */
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_IN, 0, DATA, 0, false, NULL), CVMM_VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_OUT, CAP, DATA, 0, true, NULL), CVMM_VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
}
END_TEST

START_TEST(packed_ring)
{
	uint8_t *d;

	up(_i, false, NULL, CVMM_VIRTIO_F_RING_PACKED | CVMM_VIRTIO_F_EVENT_IDX);
	ck_assert(F.features & CVMM_VIRTIO_F_RING_PACKED);
	d = vdf_host(&F, DATA);
	for (int round = 0; round < 300; round++) { /* wraps the 128-entry ring */
		uint64_t sector = (uint64_t)(round * 13) % (CAP - 8);

		memset(d, round & 0xff, 4096);
		ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_OUT, sector, DATA, 4096, true, NULL),
				  CVMM_VIRTIO_BLK_S_OK);
		memset(d, 0, 4096);
		ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_IN, sector, DATA, 4096, false, NULL),
				  CVMM_VIRTIO_BLK_S_OK);
		ck_assert_uint_eq(d[0], round & 0xff);
		ck_assert_uint_eq(d[4095], round & 0xff);
	}
}
END_TEST

/* seg_max follows what a packed ring without indirect tables can carry */
START_TEST(seg_max_config)
{
	uint32_t seg;
	uint64_t capv;

	up(_i, false, NULL, CVMM_VIRTIO_F_RING_PACKED);
	ck_assert_int_eq(cvmm_virtio_mmio_access(F.t, 0x100 + CVMM_VIRTIO_BLK_CFG_CAPACITY,
						 &capv, 8, false), 0);
	ck_assert_uint_eq(capv, CAP);
	ck_assert_int_eq(cvmm_virtio_mmio_access(F.t, 0x100 + CVMM_VIRTIO_BLK_CFG_SEG_MAX,
						 &seg, 4, false), 0);
	/* up() acks INDIRECT_DESC: the full seg_max */
	ck_assert_uint_eq(seg, CVMM_BLK_SEG_MAX);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, 0);
	vdf_wait_settled(&F);
	vdf_bring_up(&F, CVMM_VIRTIO_F_RING_PACKED, 1, 128);
	ck_assert_int_eq(cvmm_virtio_mmio_access(F.t, 0x100 + CVMM_VIRTIO_BLK_CFG_SEG_MAX,
						 &seg, 4, false), 0);
	ck_assert_uint_eq(seg, CVMM_VIRTQ_PACKED_MAX_CHAIN - 2);
	/* a request using all of them works on the packed ring */
	{
		struct cvmm_virtq_buf out[15];

		put_hdr(HDR, CVMM_VIRTIO_BLK_T_OUT, 0);
		out[0] = (struct cvmm_virtq_buf){ HDR, 16 };
		for (unsigned int i = 1; i < 15; i++)
			out[i] = (struct cvmm_virtq_buf){ DATA + 512 * (i - 1), 512 };
		memset(vdf_host(&F, DATA), 0x3c, 14 * 512);
		ck_assert_uint_eq(submit(out, 15, &(struct cvmm_virtq_buf){ ST, 1 }, 1, false), 1);
		ck_assert_uint_eq(*vdf_host(&F, ST), CVMM_VIRTIO_BLK_S_OK);
		check_file(0, vdf_host(&F, DATA), 14 * 512);
	}
	/* config space past its end reads 0; writes are ignored */
	seg = 0xffffffff;
	ck_assert_int_eq(cvmm_virtio_mmio_access(F.t, 0x100 + CVMM_VIRTIO_BLK_CFG_SIZE - 2,
						 &seg, 4, false), 0);
	ck_assert_uint_eq(seg, 0);
	seg = 1;
	ck_assert_int_eq(cvmm_virtio_mmio_access(F.t, 0x100, &seg, 4, true), 0);
	ck_assert_int_eq(cvmm_virtio_mmio_access(F.t, 0x100, &capv, 8, false), 0);
	ck_assert_uint_eq(capv, CAP);
}
END_TEST

START_TEST(flush_and_id)
{
	uint32_t used;
	uint8_t *d;
	uint8_t want[20] = SERIAL;

	up(_i, false, NULL, 0);
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &used), CVMM_VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(used, 1);
	d = vdf_host(&F, DATA);
	memset(d, 0xff, 64);
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_GET_ID, 0, DATA, 20, false, &used),
			  CVMM_VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(used, 21);
	ck_assert_int_eq(memcmp(d, want, 20), 0);
	/* a short id buffer gets a prefix; a long one only 20 bytes */
	memset(d, 0xff, 64);
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_GET_ID, 0, DATA, 8, false, &used),
			  CVMM_VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(used, 9);
	ck_assert_int_eq(memcmp(d, want, 8), 0);
	ck_assert_uint_eq(d[8], 0xff);
	memset(d, 0xff, 64);
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_GET_ID, 0, DATA, 40, false, &used),
			  CVMM_VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(used, 21);
	ck_assert_uint_eq(d[20], 0xff);
	/* flush with data attached is not a flush */
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_FLUSH, 0, DATA, 512, true, NULL),
			  CVMM_VIRTIO_BLK_S_IOERR);
}
END_TEST

static void put_seg(uint64_t gpa, uint64_t sector, uint32_t n, uint32_t flags)
{
	uint8_t *p = vdf_host(&F, gpa);

	memcpy(p, &sector, 8);
	memcpy(p + 8, &n, 4);
	memcpy(p + 12, &flags, 4);
}

static uint8_t seg_rq(uint32_t type, unsigned int nseg)
{
	return rq(type, 0, DATA, 16 * nseg, true, NULL);
}

START_TEST(discard_write_zeroes)
{
	static const uint8_t zero[4096];
	uint64_t sum;

	up(_i, false, NULL, 0);
	ck_assert(F.features & CVMM_VIRTIO_BLK_F_DISCARD);
	ck_assert(F.features & CVMM_VIRTIO_BLK_F_WRITE_ZEROES);
	/* two segments at once */
	put_seg(DATA, 8, 8, 0);
	put_seg(DATA + 16, 100, 3, CVMM_VIRTIO_BLK_WZ_F_UNMAP);
	ck_assert_uint_eq(seg_rq(CVMM_VIRTIO_BLK_T_WRITE_ZEROES, 2), CVMM_VIRTIO_BLK_S_OK);
	check_file(8 * 512, zero, 4096);
	check_file(100 * 512, zero, 3 * 512);
	check_pattern(0, 8 * 512);
	check_pattern(16 * 512, 84 * 512);
	check_pattern(103 * 512, 512);
	/* discard: OK, the neighbours survive */
	put_seg(DATA, 200, 16, 0);
	ck_assert_uint_eq(seg_rq(CVMM_VIRTIO_BLK_T_DISCARD, 1), CVMM_VIRTIO_BLK_S_OK);
	check_pattern(199 * 512, 512);
	check_pattern(216 * 512, 512);

	sum = file_sum();
	/* unmap is not a discard flag; reserved flags are refused */
	put_seg(DATA, 300, 8, CVMM_VIRTIO_BLK_WZ_F_UNMAP);
	ck_assert_uint_eq(seg_rq(CVMM_VIRTIO_BLK_T_DISCARD, 1), CVMM_VIRTIO_BLK_S_UNSUPP);
	put_seg(DATA, 300, 8, 2);
	ck_assert_uint_eq(seg_rq(CVMM_VIRTIO_BLK_T_WRITE_ZEROES, 1), CVMM_VIRTIO_BLK_S_UNSUPP);
	/* the second segment passes the end: nothing at all is done */
	put_seg(DATA, 300, 8, 0);
	put_seg(DATA + 16, CAP - 4, 8, 0);
	ck_assert_uint_eq(seg_rq(CVMM_VIRTIO_BLK_T_WRITE_ZEROES, 2), CVMM_VIRTIO_BLK_S_IOERR);
	put_seg(DATA + 16, UINT64_MAX - 2, 8, 0);
	ck_assert_uint_eq(seg_rq(CVMM_VIRTIO_BLK_T_DISCARD, 2), CVMM_VIRTIO_BLK_S_IOERR);
	/* too many segments, a partial segment, none, a huge segment */
	for (unsigned int i = 0; i < CVMM_BLK_MAX_DISCARD_SEG + 1; i++)
		put_seg(DATA + 16 * i, 300, 1, 0);
	ck_assert_uint_eq(seg_rq(CVMM_VIRTIO_BLK_T_DISCARD, CVMM_BLK_MAX_DISCARD_SEG + 1),
			  CVMM_VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA, 24, true, NULL),
			  CVMM_VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA, 0, true, NULL),
			  CVMM_VIRTIO_BLK_S_IOERR);
	put_seg(DATA, 0, CVMM_BLK_MAX_DISCARD_SECTORS + 1, 0);
	ck_assert_uint_eq(seg_rq(CVMM_VIRTIO_BLK_T_WRITE_ZEROES, 1), CVMM_VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(file_sum(), sum);
}
END_TEST

START_TEST(read_only)
{
	uint64_t sum;
	uint8_t *d;

	up(_i, true, NULL, 0);
	ck_assert(F.features & CVMM_VIRTIO_BLK_F_RO);
	ck_assert(!(F.features & CVMM_VIRTIO_BLK_F_DISCARD));
	sum = file_sum();
	d = vdf_host(&F, DATA);
	memset(d, 0x11, 4096);
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_OUT, 0, DATA, 4096, true, NULL),
			  CVMM_VIRTIO_BLK_S_IOERR);
	put_seg(DATA, 0, 8, 0);
	/* not negotiated: unsupported */
	ck_assert_uint_eq(seg_rq(CVMM_VIRTIO_BLK_T_DISCARD, 1), CVMM_VIRTIO_BLK_S_UNSUPP);
	ck_assert_uint_eq(seg_rq(CVMM_VIRTIO_BLK_T_WRITE_ZEROES, 1), CVMM_VIRTIO_BLK_S_UNSUPP);
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_IN, 4, DATA, 512, false, NULL),
			  CVMM_VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(d[0], pattern(4 * 512));
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL),
			  CVMM_VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(file_sum(), sum);
}
END_TEST

START_TEST(out_of_range)
{
	uint64_t sum;
	uint32_t used;

	up(_i, false, NULL, 0);
	memset(vdf_host(&F, DATA), 0x33, 8192);
	sum = file_sum();
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_OUT, CAP - 1, DATA, 1024, true, &used),
			  CVMM_VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(used, 1);
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_OUT, CAP, DATA, 512, true, NULL),
			  CVMM_VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_OUT, UINT64_MAX, DATA, 512, true, NULL),
			  CVMM_VIRTIO_BLK_S_IOERR);
	/* sector * 512 would wrap to a small offset */
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_OUT, 1ull << 55, DATA, 512, true, NULL),
			  CVMM_VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_OUT, (UINT64_MAX / 512) + 1, DATA, 512, true,
			     NULL), CVMM_VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_IN, CAP - 1, DATA, 1024, false, &used),
			  CVMM_VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(used, 1);
	/* not whole sectors */
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_OUT, 0, DATA, 511, true, NULL),
			  CVMM_VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_IN, 0, DATA, 513, false, NULL),
			  CVMM_VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(file_sum(), sum);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
}
END_TEST

START_TEST(answerable_errors)
{
	struct cvmm_virtq_buf out[2], in[3];
	struct cvmm_virtq_buf many[140];
	uint64_t sum;

	up(_i, false, NULL, 0);
	memset(vdf_host(&F, DATA), 0x44, 8192);
	sum = file_sum();
	/* write data in a device-writable descriptor */
	put_hdr(HDR, CVMM_VIRTIO_BLK_T_OUT, 0);
	out[0] = (struct cvmm_virtq_buf){ HDR, 16 };
	in[0] = (struct cvmm_virtq_buf){ DATA, 4096 };
	in[1] = (struct cvmm_virtq_buf){ ST, 1 };
	*vdf_host(&F, ST) = 0xee;
	ck_assert_uint_eq(submit(out, 1, in, 2, false), 1);
	ck_assert_uint_eq(*vdf_host(&F, ST), CVMM_VIRTIO_BLK_S_IOERR);
	/* read with data in a device-readable descriptor */
	put_hdr(HDR, CVMM_VIRTIO_BLK_T_IN, 0);
	out[1] = (struct cvmm_virtq_buf){ DATA, 512 };
	ck_assert_uint_eq(submit(out, 2, &in[1], 1, false), 1);
	ck_assert_uint_eq(*vdf_host(&F, ST), CVMM_VIRTIO_BLK_S_IOERR);
	/* unknown and unimplemented types */
	ck_assert_uint_eq(rq(99, 0, DATA, 512, true, NULL), CVMM_VIRTIO_BLK_S_UNSUPP);
	ck_assert_uint_eq(rq(10 /* GET_LIFETIME */, 0, DATA, 512, false, NULL),
			  CVMM_VIRTIO_BLK_S_UNSUPP);
	ck_assert_uint_eq(rq(0xffffffffu, 0, 0, 0, false, NULL), CVMM_VIRTIO_BLK_S_UNSUPP);
	/* more data segments than seg_max */
	put_hdr(HDR, CVMM_VIRTIO_BLK_T_OUT, 0);
	many[0] = (struct cvmm_virtq_buf){ HDR, 16 };
	for (unsigned int i = 1; i < 131; i++)
		many[i] = (struct cvmm_virtq_buf){ DATA + 512 * (i - 1), 512 };
	ck_assert_uint_eq(submit(many, 131, &in[1], 1, true), 1);
	ck_assert_uint_eq(*vdf_host(&F, ST), CVMM_VIRTIO_BLK_S_IOERR);
	/* seg_max itself is fine */
	ck_assert_uint_eq(submit(many, 1 + CVMM_BLK_SEG_MAX, &in[1], 1, true), 1);
	ck_assert_uint_eq(*vdf_host(&F, ST), CVMM_VIRTIO_BLK_S_OK);
	check_file(0, vdf_host(&F, DATA), CVMM_BLK_SEG_MAX * 512);
	ck_assert_uint_ne(file_sum(), sum);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
}
END_TEST

/* Unanswerable chains: pushed back empty, NEEDS_RESET, file untouched, and
 * a reset brings the device back. _i selects the malformation. */
START_TEST(unanswerable)
{
	struct cvmm_virtq_buf out[3], in[3];
	unsigned int nout = 0, nin = 0;
	uint64_t sum;
	uint32_t used;

	up(0, false, NULL, 0);
	memset(vdf_host(&F, DATA), 0x55, 4096);
	sum = file_sum();
	put_hdr(HDR, CVMM_VIRTIO_BLK_T_OUT, 0);
	switch (_i) {
	case 0: /* header shorter than 16 bytes */
		out[nout++] = (struct cvmm_virtq_buf){ HDR, 8 };
		in[nin++] = (struct cvmm_virtq_buf){ ST, 1 };
		break;
	case 1: /* header in a writable descriptor */
		in[nin++] = (struct cvmm_virtq_buf){ HDR, 16 };
		in[nin++] = (struct cvmm_virtq_buf){ ST, 1 };
		break;
	case 2: /* status descriptor of length 0 */
		out[nout++] = (struct cvmm_virtq_buf){ HDR, 16 };
		out[nout++] = (struct cvmm_virtq_buf){ DATA, 512 };
		in[nin++] = (struct cvmm_virtq_buf){ ST, 0 };
		break;
	case 3: /* no status at all */
		out[nout++] = (struct cvmm_virtq_buf){ HDR, 16 };
		out[nout++] = (struct cvmm_virtq_buf){ DATA, 512 };
		break;
	case 4: /* header split: 15 bytes then the status */
		out[nout++] = (struct cvmm_virtq_buf){ HDR, 15 };
		in[nin++] = (struct cvmm_virtq_buf){ HDR + 15, 1 };
		break;
	}
	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], out, nout, in, nin, false, 5), 0);
	vdf_kick(&F, 0);
	wait_needs_reset();
	{
		uint64_t tok;

		ck_assert_int_eq(vdf_wait_used(&F, 0, &tok, &used, 1000), 1);
		ck_assert_uint_eq(used, 0);
	}
	ck_assert_uint_eq(file_sum(), sum);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, 0);
	vdf_wait_settled(&F);
	vdf_bring_up(&F, 0, 1, 128);
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_OUT, 0, DATA, 512, true, NULL),
			  CVMM_VIRTIO_BLK_S_OK);
	check_file(0, vdf_host(&F, DATA), 512);
}
END_TEST

START_TEST(outside_guest_ram)
{
	struct cvmm_virtq_buf out[2] = { { HDR, 16 }, { 0, 512 } };
	struct cvmm_virtq_buf in = { ST, 1 };
	uint64_t sum, tok;
	uint32_t used;

	up(_i, false, NULL, 0);
	sum = file_sum();
	put_hdr(HDR, CVMM_VIRTIO_BLK_T_OUT, 0);
	out[1].gpa = F.mem_size - 256; /* straddles the end of RAM */
	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], out, 2, &in, 1, false, 5), 0);
	vdf_kick(&F, 0);
	wait_needs_reset();
	ck_assert_int_eq(vdf_wait_used(&F, 0, &tok, &used, 100), 0);
	ck_assert_uint_eq(file_sum(), sum);
}
END_TEST

START_TEST(many_in_flight)
{
	enum { N = 96 };
	struct cvmm_virtq_buf out[N], in[N][2];
	bool seen[N] = { false };
	uint64_t sector[N];
	uint8_t *d = NULL;

	up(_i, false, NULL, CVMM_VIRTIO_F_EVENT_IDX);
	d = vdf_host(&F, DATA);
	memset(d, 0, N * 4096);
	for (int i = 0; i < N; i++) {
		uint64_t h = vdf_alloc(&F, 16, 16);

		sector[i] = (uint64_t)(i * 37 % (CAP / 8)) * 8;
		put_hdr(h, CVMM_VIRTIO_BLK_T_IN, sector[i]);
		out[i] = (struct cvmm_virtq_buf){ h, 16 };
		in[i][0] = (struct cvmm_virtq_buf){ DATA + 4096ull * i, 4096 };
		in[i][1] = (struct cvmm_virtq_buf){ vdf_alloc(&F, 1, 1), 1 };
		ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], &out[i], 1, in[i], 2, true,
						       (uint64_t)i), 0);
	}
	vdf_kick(&F, 0);
	for (int n = 0; n < N; n++) {
		uint64_t tok;
		uint32_t len;

		ck_assert_int_eq(vdf_wait_used(&F, 0, &tok, &len, 5000), 1);
		ck_assert_uint_lt(tok, N);
		ck_assert(!seen[tok]);
		seen[tok] = true;
		ck_assert_uint_eq(len, 4097);
		ck_assert_uint_eq(*vdf_host(&F, in[tok][1].gpa), CVMM_VIRTIO_BLK_S_OK);
		for (int k = 0; k < 4096; k += 511)
			ck_assert_uint_eq(d[4096 * tok + (uint64_t)k],
					  pattern(sector[tok] * 512 + (uint64_t)k));
	}
}
END_TEST

/* A reset while requests are in flight: the device waits for the host
 * I/O, reports nothing to the reset driver, and works again afterwards. */
START_TEST(reset_mid_io)
{
	enum { N = 64 };
	uint8_t *d;

	up(_i, false, NULL, CVMM_VIRTIO_F_EVENT_IDX);
	d = vdf_host(&F, DATA);
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < N; i++) {
			uint64_t h = vdf_alloc(&F, 16, 16);
			struct cvmm_virtq_buf out = { h, 16 };
			struct cvmm_virtq_buf in[2] = { { DATA + 8192ull * i, 8192 },
							{ vdf_alloc(&F, 1, 1), 1 } };

			put_hdr(h, CVMM_VIRTIO_BLK_T_IN, 16ull * i);
			ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], &out, 1, in, 2, true,
							       (uint64_t)i), 0);
		}
		vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, 0);
		vdf_wait_settled(&F);
		ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS), 0);
		ck_assert_uint_eq(cvmm_blk_backend_in_flight(cvmm_blk_backend(BLK)), 0);
		vdf_bring_up(&F, CVMM_VIRTIO_F_EVENT_IDX | CVMM_VIRTIO_F_INDIRECT_DESC, 1, 128);
		HDR = vdf_alloc(&F, 16, 16);
		ST = vdf_alloc(&F, 16, 16);
		memset(d, 0, 512);
		ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_IN, 3, DATA, 512, false, NULL),
				  CVMM_VIRTIO_BLK_S_OK);
		ck_assert_uint_eq(d[0], pattern(3 * 512));
	}
}
END_TEST

START_TEST(rate_limited)
{
	struct cvmm_rate_limiter_opts r = {
		.sz = sizeof(r), .ops_per_sec = 100, .ops_burst = 1,
	};
	uint64_t t0, dt;

	up(_i, false, &r, 0);
	t0 = cvmm_now_ns();
	for (int i = 0; i < 6; i++)
		ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_IN, (uint64_t)i, DATA, 512, false, NULL),
				  CVMM_VIRTIO_BLK_S_OK);
	dt = cvmm_now_ns() - t0;
	/* the first passes at once (burst 1), five wait ~10 ms each */
	ck_assert_uint_ge(dt, 45000000ull);
	ck_assert_uint_ge(cvmm_blk_throttled(BLK), 4);
}
END_TEST

START_TEST(rate_limited_bytes)
{
	struct cvmm_rate_limiter_opts r = {
		.sz = sizeof(r), .bytes_per_sec = 512 * 1000, .bytes_burst = 4096,
	};
	uint64_t t0, dt;

	up(_i, false, &r, 0);
	/* 4 KiB pass from the full bucket; 16 KiB more need ~32 ms */
	t0 = cvmm_now_ns();
	for (int i = 0; i < 5; i++)
		ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_IN, 0, DATA, 4096, false, NULL),
				  CVMM_VIRTIO_BLK_S_OK);
	dt = cvmm_now_ns() - t0;
	ck_assert_uint_ge(dt, 30000000ull);
	ck_assert_uint_ge(cvmm_blk_throttled(BLK), 1);
}
END_TEST

START_TEST(save_restore_mid_stream)
{
	enum { N = 24 };
	struct cvmm_virtio_transport_state s;
	uint8_t dev_state[256];
	bool seen[2 * N] = { false };
	uint8_t *d;
	int n;

	up(_i, false, NULL, CVMM_VIRTIO_F_EVENT_IDX);
	d = vdf_host(&F, DATA);
	for (int i = 0; i < 2 * N; i++) {
		uint64_t h = vdf_alloc(&F, 16, 16);
		struct cvmm_virtq_buf out[2] = { { h, 16 }, { DATA + 4096ull * i, 4096 } };
		struct cvmm_virtq_buf in = { vdf_alloc(&F, 1, 1), 1 };

		memset(d + 4096 * i, 0x80 + i, 4096);
		put_hdr(h, CVMM_VIRTIO_BLK_T_OUT, 8ull * i);
		ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], out, 2, &in, 1, true,
						       (uint64_t)i), 0);
		if (i == N - 1) {
			/* the first half is in motion when the VM is paused */
			vdf_kick(&F, 0);
			usleep(300);
			vdf_stop(&F);
		}
	}
	/* the second half was made available while paused, never kicked */
	n = cvmm_virtio_mmio_save(F.t, &s, dev_state, sizeof(dev_state));
	ck_assert_int_gt(n, 0);
	ck_assert_uint_eq(cvmm_blk_backend_in_flight(cvmm_blk_backend(BLK)), 0);
	ck_assert_uint_le(s.queues[0].next_used, N);

	/* a new device and transport from the saved state */
	cvmm_virtio_mmio_destroy(F.t);
	F.t = NULL;
	cvmm_blk_destroy(BLK);
	blk_make(_i, false, NULL);
	{
		uint8_t bad[256];

		memcpy(bad, dev_state, sizeof(bad));
		bad[8] ^= 1; /* capacity */
		ck_assert_int_eq(cvmm_virtio_mmio_restore(F.t, &s, bad, (size_t)n, NULL, 0), -EINVAL);
		ck_assert_int_eq(cvmm_virtio_mmio_restore(F.t, &s, dev_state, (size_t)n - 1, NULL, 0),
				 -EINVAL);
	}
	ck_assert_int_eq(cvmm_virtio_mmio_restore(F.t, &s, dev_state, (size_t)n, NULL, 0), 0);
	vdf_start(&F);
	for (int k = 0; k < 2 * N; k++) {
		uint64_t tok;
		uint32_t len;

		if (k == N)
			vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		ck_assert_int_eq(vdf_wait_used(&F, 0, &tok, &len, 5000), 1);
		ck_assert_uint_lt(tok, 2 * N);
		ck_assert(!seen[tok]);
		seen[tok] = true;
	}
	for (int i = 0; i < 2 * N; i++) {
		uint8_t want[4096];

		memset(want, 0x80 + i, sizeof(want));
		check_file(4096ull * i, want, 4096);
	}
}
END_TEST

START_TEST(direct_io)
{
	struct cvmm_blk_opts o = {
		.sz = sizeof(o), .queue_size = 64,
		.backend = { .sz = sizeof(o.backend), .fd = -1, .direct = true,
			     .engine = _i ? CVMM_BLK_ENGINE_SYNC : CVMM_BLK_ENGINE_URING },
	};
	char p[] = "/var/tmp/cvmm-vdev-directXXXXXX";
	int fd = mkstemp(p);
	uint8_t *d;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
	vdf_init(&F, 0);
	o.em = F.em;
	o.backend.path = p;
	{
		struct statfs sf;
		int r = cvmm_blk_create(&o, &BLK);

		/* tmpfs has no O_DIRECT: then the open must fail cleanly */
		ck_assert_int_eq(statfs(p, &sf), 0);
		if (sf.f_type == TMPFS_MAGIC) {
			ck_assert_int_eq(r, -EINVAL);
			close(fd);
			unlink(p);
			return;
		}
		ck_assert_int_eq(r, 0);
	}
	vdf_attach(&F, cvmm_blk_device(BLK));
	vdf_start(&F);
	vdf_bring_up(&F, 0, 1, 64);
	HDR = vdf_alloc(&F, 16, 16);
	ST = vdf_alloc(&F, 16, 16);
	DATA = vdf_alloc(&F, 1 << 16, 4096);
	d = vdf_host(&F, DATA);
	memset(d, 0x6b, 8192);
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_OUT, 16, DATA, 8192, true, NULL),
			  CVMM_VIRTIO_BLK_S_OK);
	memset(d, 0, 8192);
	ck_assert_uint_eq(rq(CVMM_VIRTIO_BLK_T_IN, 16, DATA, 8192, false, NULL),
			  CVMM_VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(d[0], 0x6b);
	ck_assert_uint_eq(d[8191], 0x6b);
	/* the data went to the file, not only to a cache of ours */
	{
		uint8_t want[8192];

		memset(want, 0x6b, sizeof(want));
		FD = fd;
		check_file(16 * 512, want, sizeof(want));
		FD = -1;
	}
	close(fd);
	unlink(p);
}
END_TEST

/* The advisory lock: one writer or any number of readers per image, across
 * open file descriptions (another VMM); released as soon as the backend
 * closes, io_uring ring or not; backends from one fd share its lock. */
START_TEST(image_lock)
{
	struct cvmm_blk_backend_opts o = { .sz = sizeof(o), .fd = -1 };
	struct cvmm_blk_backend *a, *b, *c;

	FD = cvmm_test_tmpfile(PATH, DISK_BYTES);
	ck_assert_int_ge(FD, 0);
	o.path = PATH;
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &a), 0);
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &b), -EBUSY);
	o.read_only = true;
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &b), -EBUSY);
	for (int i = 0; i < 20; i++) { /* closed, the image is free at once */
		o.read_only = false;
		cvmm_blk_backend_close(a);
		ck_assert_int_eq(cvmm_blk_backend_open(&o, &a), 0);
	}
	cvmm_blk_backend_close(a);
	o.read_only = true;
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &a), 0);
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &b), 0); /* readers share */
	o.read_only = false;
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &c), -EBUSY);
	cvmm_blk_backend_close(a);
	cvmm_blk_backend_close(b);
	o.path = NULL;
	o.fd = FD;
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &a), 0);
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &b), 0); /* one fd: one lock */
	o.fd = -1;
	o.path = PATH;
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &c), -EBUSY);
	cvmm_blk_backend_close(a);
	cvmm_blk_backend_close(b);
}
END_TEST

START_TEST(backend_open)
{
	struct cvmm_blk_backend_opts o = { .sz = sizeof(o), .fd = -1 };
	struct cvmm_blk_backend *b;

	FD = cvmm_test_tmpfile(PATH, 4096 + 300); /* trailing partial sector */
	ck_assert_int_ge(FD, 0);
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &b), -EINVAL); /* neither */
	o.path = PATH;
	o.fd = FD;
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &b), -EINVAL); /* both */
	o.fd = -1;
	o.serial = "123456789012345678901";
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &b), -EINVAL);
	o.serial = NULL;
	o.sz = 4;
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &b), -EINVAL);
	o.sz = sizeof(o);
	o.path = "/nonexistent/cvmm.img";
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &b), -ENOENT);
	o.path = "/tmp"; /* a directory: said so */
	o.read_only = true;
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &b), -EISDIR);
	o.path = "/dev/null"; /* neither a regular file nor a block device */
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &b), -EINVAL);
	o.read_only = false;
	o.path = NULL;
	o.fd = FD;
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &b), 0);
	ck_assert_uint_eq(cvmm_blk_backend_capacity(b), 8);
	ck_assert_int_ge(cvmm_blk_backend_completion_fd(b), 0);
	cvmm_blk_backend_close(b);
	o.engine = CVMM_BLK_ENGINE_SYNC;
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &b), 0);
	ck_assert_int_eq(cvmm_blk_backend_completion_fd(b), -1);
	cvmm_blk_backend_close(b);
	cvmm_blk_backend_close(NULL);
}
END_TEST

/* One SQE prepared by the caller, submitted on the backend's own ring as a
 * compromised thread would; returns the CQE's result. */
static int ring_run(struct io_uring *ring, struct io_uring_sqe *sqe)
{
	struct io_uring_cqe *cqe;
	int res;

	io_uring_sqe_set_data64(sqe, 0x5eed);
	ck_assert_int_eq(io_uring_submit(ring), 1);
	ck_assert_int_eq(io_uring_wait_cqe(ring, &cqe), 0);
	ck_assert_uint_eq(io_uring_cqe_get_data64(cqe), 0x5eed);
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

/* Whether this kernel has ring restrictions at all (5.10+). */
static bool kernel_restricts(void)
{
	struct io_uring r;
	int e = io_uring_queue_init(4, &r, IORING_SETUP_R_DISABLED);

	if (e == 0)
		io_uring_queue_exit(&r);
	return e == 0;
}

START_TEST(ring_restricted)
{
	struct cvmm_blk_backend_opts o = { .sz = sizeof(o), .fd = -1,
					   .engine = CVMM_BLK_ENGINE_URING };
	struct cvmm_blk_backend *b;
	struct io_uring *ring;
	struct io_uring_sqe *sqe;
	uint8_t buf[512];
	struct iovec iov = { buf, sizeof(buf) };
	struct sockaddr sa = { .sa_family = AF_UNIX };

	FD = cvmm_test_tmpfile(PATH, DISK_BYTES);
	ck_assert_int_ge(FD, 0);
	fill_file();
	o.path = PATH;
	ck_assert_int_eq(cvmm_blk_backend_open(&o, &b), 0);
	ring = cvmm_vd_blk_backend_ring(b);
	ck_assert_ptr_nonnull(ring);
	if (!kernel_restricts()) {
		/* The documented fallback: a plain ring, the device works. */
		ck_assert(!cvmm_vd_blk_backend_ring_restricted(b));
		cvmm_blk_backend_close(b);
		return;
	}
	ck_assert(cvmm_vd_blk_backend_ring_restricted(b));

	/* Operations the backend never submits: refused, fixed file or not. */
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_openat(sqe, AT_FDCWD, PATH, O_RDWR, 0);
	ck_assert_int_eq(ring_run(ring, sqe), -EACCES);
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/passwd", O_RDONLY, 0);
	io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
	ck_assert_int_eq(ring_run(ring, sqe), -EACCES);
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_socket(sqe, AF_INET, SOCK_STREAM, 0, 0);
	ck_assert_int_eq(ring_run(ring, sqe), -EACCES);
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_connect(sqe, 0, &sa, sizeof(sa));
	io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
	ck_assert_int_eq(ring_run(ring, sqe), -EACCES);
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
	ck_assert_int_eq(ring_run(ring, sqe), -EACCES);

	/* An allowed operation on a plain fd (any fd of the process) or with
	 * another SQE flag: refused too. */
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_readv(sqe, FD, &iov, 1, 0);
	ck_assert_int_eq(ring_run(ring, sqe), -EACCES);
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_readv(sqe, 0, &iov, 1, 0);
	io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE | IOSQE_IO_DRAIN);
	ck_assert_int_eq(ring_run(ring, sqe), -EACCES);

	/* The image itself, as the backend reaches it: allowed. */
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_readv(sqe, 0, &iov, 1, 512);
	io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
	ck_assert_int_eq(ring_run(ring, sqe), 512);
	for (unsigned int i = 0; i < sizeof(buf); i++)
		ck_assert_uint_eq(buf[i], pattern(512 + i));

	/* No io_uring_register operation once the ring runs. */
	ck_assert_int_eq(io_uring_unregister_eventfd(ring), -EACCES);
	ck_assert_int_eq(io_uring_register_files_update(ring, 0, &FD, 1), -EACCES);
	cvmm_blk_backend_close(b);
}
END_TEST

static int WARNINGS;

static void count_warnings(enum cvmm_log_level level, const char *crate,
			   const char *msg, void *opaque)
{
	(void)crate;
	(void)opaque;
	if (level == CVMM_LOG_WARN && strstr(msg, "io_uring restrictions unavailable"))
		__atomic_add_fetch(&WARNINGS, 1, __ATOMIC_RELAXED);
}

/* This (forked) test process answers IORING_REGISTER_RESTRICTIONS with
 * -EINVAL, as a kernel without ring restrictions would. */
static void refuse_restrictions(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IORING_REGISTER_RESTRICTIONS, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
	};
	struct sock_fprog prog = { CVMM_ARRAY_SIZE(f), f };

	ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	ck_assert_int_eq(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog), 0);
}

START_TEST(ring_unrestricted_fallback)
{
	struct cvmm_blk_backend_opts o = { .sz = sizeof(o), .fd = -1,
					   .engine = CVMM_BLK_ENGINE_URING };
	struct cvmm_blk_backend *b[2];
	struct io_uring_sqe *sqe;
	uint8_t buf[512];
	struct iovec iov = { buf, sizeof(buf) };

	/* The filter would outlive the test without Check's fork. */
	if (getenv("CK_FORK") && strcmp(getenv("CK_FORK"), "no") == 0)
		return;
	FD = cvmm_test_tmpfile(PATH, DISK_BYTES);
	ck_assert_int_ge(FD, 0);
	fill_file();
	/* Two backends on one image: from one fd, whose lock they share (by
	 * path, the second would find the image locked by the first). */
	o.fd = FD;
	cvmm_log_set_sink(count_warnings, NULL);
	cvmm_log_set_level(CVMM_LOG_WARN);
	refuse_restrictions();
	for (int i = 0; i < 2; i++) {
		struct io_uring *ring;

		ck_assert_int_eq(cvmm_blk_backend_open(&o, &b[i]), 0);
		ck_assert_int_eq(cvmm_blk_backend_engine(b[i]), CVMM_BLK_ENGINE_URING);
		ck_assert(!cvmm_vd_blk_backend_ring_restricted(b[i]));
		/* A plain ring: works, on any fd, without the fixed-file flag. */
		ring = cvmm_vd_blk_backend_ring(b[i]);
		sqe = io_uring_get_sqe(ring);
		io_uring_prep_readv(sqe, FD, &iov, 1, 1024);
		ck_assert_int_eq(ring_run(ring, sqe), 512);
		ck_assert_uint_eq(buf[7], pattern(1024 + 7));
	}
	ck_assert_int_eq(__atomic_load_n(&WARNINGS, __ATOMIC_RELAXED), 1); /* once */
	cvmm_blk_backend_close(b[0]);
	cvmm_blk_backend_close(b[1]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("virtio-blk");
	TCase *t = tcase_create("io");

	tcase_add_checked_fixture(t, NULL, down);
	tcase_set_timeout(t, 120);
	tcase_add_loop_test(t, read_write, 0, 2);
	tcase_add_loop_test(t, packed_ring, 0, 2);
	tcase_add_loop_test(t, seg_max_config, 0, 2);
	tcase_add_loop_test(t, flush_and_id, 0, 2);
	tcase_add_loop_test(t, discard_write_zeroes, 0, 2);
	tcase_add_loop_test(t, read_only, 0, 2);
	tcase_add_loop_test(t, out_of_range, 0, 2);
	tcase_add_loop_test(t, answerable_errors, 0, 2);
	tcase_add_loop_test(t, unanswerable, 0, 5);
	tcase_add_loop_test(t, outside_guest_ram, 0, 2);
	tcase_add_loop_test(t, many_in_flight, 0, 2);
	tcase_add_loop_test(t, reset_mid_io, 0, 2);
	tcase_add_loop_test(t, rate_limited, 0, 2);
	tcase_add_loop_test(t, rate_limited_bytes, 0, 2);
	tcase_add_loop_test(t, save_restore_mid_stream, 0, 2);
	tcase_add_loop_test(t, direct_io, 0, 2);
	tcase_add_test(t, backend_open);
	tcase_add_test(t, image_lock);
	tcase_add_test(t, ring_restricted);
	tcase_add_test(t, ring_unrestricted_fallback);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	Suite *s[] = { suite(), NULL };

	return cvmm_test_run(s);
}
