/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-mem over virtio-mmio with the virtio-queue driver helper: a
 * 32 MiB region of 2 MiB blocks after 16 MiB of RAM. Config space; plug,
 * write, state, unplug (mincore says the block left, it reads zeros);
 * unplug_all; requested_size from the host (configuration interrupt); every
 * hostile request answers the spec's code and leaves every byte of RAM
 * and of the region's other blocks as it was; save/restore of the bitmap.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cvmm/sys-util.h>
#include <cvmm/vm-memory.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/mem.h>

#include "cvmm-test.h"
#include "vd-fixture.h"

#define MB (1ull << 20)
#define BS (2 * MB)
#define RGN (64 * MB)        /* the region's guest address */
#define RSIZE (32 * MB)      /* 16 blocks */
#define NB (RSIZE / BS)

enum { ACK, NACK, BUSY, ERR };

static struct vdf F;
static struct cvmm_virtio_mem *M;

static void up(bool shared, uint64_t requested)
{
	struct cvmm_mem_region_opts ro = {
		.sz = sizeof(ro), .gpa = RGN, .size = RSIZE, .fd = -1,
		.backing = shared ? CVMM_MEM_MEMFD : CVMM_MEM_ANON,
		.flags = CVMM_MEM_F_NORESERVE,
	};
	struct cvmm_virtio_mem_opts o = {
		.sz = sizeof(o), .addr = RGN, .region_size = RSIZE, .requested_size = requested,
	};

	if (shared)
		vdf_init_shared(&F, 0);
	else
		vdf_init(&F, 0);
	ck_assert_int_eq(cvmm_guest_mem_add_region(F.mem, &ro), 0);
	ck_assert_int_eq(cvmm_virtio_mem_create(&o, &M), 0);
	vdf_attach(&F, cvmm_virtio_mem_device(M));
	vdf_start(&F);
	vdf_bring_up(&F, 0, 1, 64);
}

static void down(void)
{
	vdf_detach(&F);
	cvmm_virtio_mem_destroy(M);
	vdf_fini(&F);
}

static uint64_t cfg64(uint32_t off)
{
	return vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG + off) |
	       (uint64_t)vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG + off + 4) << 32;
}

static bool resident(uint64_t gpa)
{
	unsigned char v = 0;

	ck_assert_int_eq(mincore(vdf_host(&F, gpa), 4096, &v), 0);
	return v & 1;
}

/*
 * Send @rlen bytes of request (type, addr, nb_blocks) with @wlen bytes of
 * response room; @return the response type (-1: answered with used length
 * 0), *@state the state field.
 */
static int req_raw(uint16_t type, uint64_t addr, uint16_t n, uint32_t rlen, uint32_t wlen,
		   uint16_t *state)
{
	uint64_t g = vdf_alloc(&F, 64, 8), tok;
	uint8_t *h = vdf_host(&F, g);
	struct cvmm_virtq_buf out = { g, rlen }, in = { g + 32, wlen };
	uint32_t len;

	memset(h, 0, 64);
	memcpy(h, &type, 2);
	memcpy(h + 8, &addr, 8);
	memcpy(h + 16, &n, 2);
	memset(h + 32, 0xee, 16);
	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], &out, 1, &in, wlen ? 1 : 0, false, 5), 0);
	vdf_kick(&F, 0);
	ck_assert_int_eq(vdf_wait_used(&F, 0, &tok, &len, 5000), 1);
	ck_assert_uint_eq(tok, 5);
	if (!len)
		return -1;
	ck_assert_uint_eq(len, 10);
	if (state)
		memcpy(state, h + 40, 2);
	return h[32] | h[33] << 8;
}

static int req(uint16_t type, uint64_t addr, uint16_t n)
{
	return req_raw(type, addr, n, 24, 10, NULL);
}

static uint16_t state(uint64_t addr, uint16_t n)
{
	uint16_t s = 0xffff;

	ck_assert_int_eq(req_raw(CVMM_VIRTIO_MEM_REQ_STATE, addr, n, 24, 10, &s), ACK);
	return s;
}

START_TEST(config_space)
{
	struct cvmm_virtio_mem_counters c;
	uint32_t gen;

	up(false, 4 * BS);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_DEVICE_ID), 24);
	ck_assert_uint_eq(cfg64(0), BS);
	ck_assert_uint_eq(cfg64(16), RGN);
	ck_assert_uint_eq(cfg64(24), RSIZE);
	ck_assert_uint_eq(cfg64(32), RSIZE);
	ck_assert_uint_eq(cfg64(40), 0);
	ck_assert_uint_eq(cfg64(48), 4 * BS);
	/* read-only for the driver */
	vdf_wr(&F, CVMM_VIRTIO_MMIO_CONFIG + 48, 0);
	ck_assert_uint_eq(cfg64(48), 4 * BS);
	gen = vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG_GENERATION);
	ck_assert_int_eq(cvmm_virtio_mem_set_requested(M, 8 * BS), 0);
	ck_assert_uint_eq(cfg64(48), 8 * BS);
	ck_assert_uint_ne(vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG_GENERATION), gen);
	ck_assert_uint_ne(vdf_rd(&F, CVMM_VIRTIO_MMIO_INTERRUPT_STATUS) & 2, 0);
	ck_assert_int_eq(cvmm_virtio_mem_set_requested(M, BS + 4096), -EINVAL);
	ck_assert_int_eq(cvmm_virtio_mem_set_requested(M, RSIZE + BS), -EINVAL);
	ck_assert_int_eq(cvmm_virtio_mem_set_requested(NULL, 0), -EINVAL);
	cvmm_virtio_mem_get_counters(M, &c);
	ck_assert_uint_eq(c.requested_size, 8 * BS);
	ck_assert_uint_eq(c.region_size, RSIZE);
	ck_assert_uint_eq(c.block_size, BS);
	down();
}
END_TEST

/* _i: private or shared memfd memory. */
START_TEST(plug_write_unplug)
{
	struct cvmm_virtio_mem_counters c;

	up(_i == 1, 4 * BS);
	ck_assert_uint_eq(state(RGN, NB), CVMM_VIRTIO_MEM_STATE_UNPLUGGED);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_PLUG, RGN + 2 * BS, 3), ACK);
	ck_assert_uint_eq(cfg64(40), 3 * BS);
	ck_assert_uint_eq(state(RGN + 2 * BS, 3), CVMM_VIRTIO_MEM_STATE_PLUGGED);
	ck_assert_uint_eq(state(RGN + BS, 3), CVMM_VIRTIO_MEM_STATE_MIXED);
	memset(vdf_host(&F, RGN + 2 * BS), 0x5a, 3 * BS);
	ck_assert(resident(RGN + 3 * BS));
	/* the middle block goes: its neighbours keep their bytes */
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_UNPLUG, RGN + 3 * BS, 1), ACK);
	for (uint64_t o = 0; o < BS; o += 4096)
		ck_assert(!resident(RGN + 3 * BS + o));
	ck_assert_uint_eq(*vdf_host(&F, RGN + 3 * BS), 0);
	ck_assert_uint_eq(*vdf_host(&F, RGN + 3 * BS - 1), 0x5a);
	ck_assert_uint_eq(*vdf_host(&F, RGN + 4 * BS), 0x5a);
	ck_assert_uint_eq(cfg64(40), 2 * BS);
	/* unplug_all: the rest goes too */
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0), ACK);
	ck_assert(!resident(RGN + 2 * BS));
	ck_assert(!resident(RGN + 4 * BS));
	ck_assert_uint_eq(cfg64(40), 0);
	ck_assert_uint_eq(state(RGN, NB), CVMM_VIRTIO_MEM_STATE_UNPLUGGED);
	cvmm_virtio_mem_get_counters(M, &c);
	ck_assert_uint_eq(c.plugs, 3);
	ck_assert_uint_eq(c.unplugs, 3);
	ck_assert_uint_eq(c.unplug_alls, 1);
	ck_assert_uint_eq(c.errors, 0);
	down();
}
END_TEST

/* Every hostile request: the spec's answer, counted, nothing touched. */
START_TEST(hostile_requests)
{
	struct cvmm_virtio_mem_counters c;
	uint16_t s;

	up(false, 2 * BS);
	memset(vdf_host(&F, (16 * MB) - MB), 0x11, MB);      /* the end of RAM */
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_PLUG, RGN, 1), ACK);
	memset(vdf_host(&F, RGN), 0x22, BS);
	/* address not block aligned, outside the region, no blocks, past its end */
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_UNPLUG, RGN + 4096, 1), ERR);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_UNPLUG, RGN - BS, 1), ERR);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_UNPLUG, 16 * MB - BS, 1), ERR);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_UNPLUG, RGN + RSIZE, 1), ERR);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_UNPLUG, RGN, 0), ERR);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_PLUG, RGN + (NB - 1) * BS, 2), ERR);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_UNPLUG, RGN, 0xffff), ERR);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_UNPLUG, UINT64_MAX - BS + 1, 1), ERR);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_STATE, RGN + RSIZE - BS, 2), ERR);
	/* plug of a plugged block, unplug of unplugged ones (one plugged among them) */
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_PLUG, RGN, 1), ERR);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_UNPLUG, RGN + BS, 1), ERR);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_UNPLUG, RGN, 2), ERR);
	/* plug beyond requested_size (2 blocks, 1 plugged): NACK */
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_PLUG, RGN + BS, 2), NACK);
	/* an unknown type, a short request, no room for the answer */
	ck_assert_int_eq(req(7, RGN, 1), ERR);
	ck_assert_int_eq(req_raw(CVMM_VIRTIO_MEM_REQ_UNPLUG, RGN, 1, 12, 10, NULL), ERR);
	ck_assert_int_eq(req_raw(CVMM_VIRTIO_MEM_REQ_UNPLUG, RGN, 1, 24, 4, NULL), -1);
	ck_assert_int_eq(req_raw(CVMM_VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0, 24, 0, NULL), -1);
	/* nothing moved: RAM and the plugged block keep their bytes */
	for (uint64_t o = 0; o < MB; o += 4096)
		ck_assert_uint_eq(*vdf_host(&F, 15 * MB + o), 0x11);
	for (uint64_t o = 0; o < BS; o += 4096)
		ck_assert_uint_eq(*vdf_host(&F, RGN + o), 0x22);
	ck_assert_uint_eq(cfg64(40), BS);
	cvmm_virtio_mem_get_counters(M, &c);
	ck_assert_uint_eq(c.errors, 16);
	ck_assert_uint_eq(c.nacks, 1);
	ck_assert_uint_eq(c.unplugs, 0);
	/* the device still works: the plug fits once requested grows */
	ck_assert_int_eq(cvmm_virtio_mem_set_requested(M, 3 * BS), 0);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_PLUG, RGN + BS, 2), ACK);
	s = state(RGN, 3);
	ck_assert_uint_eq(s, CVMM_VIRTIO_MEM_STATE_PLUGGED);
	down();
}
END_TEST

/* A region the map holds only part of (here [12, 20) MiB over 16 MiB of
 * RAM): unplug fails with ERROR, nothing released. */
START_TEST(region_missing)
{
	struct cvmm_virtio_mem_opts o = {
		.sz = sizeof(o), .addr = 12 * MB, .region_size = 8 * MB, .requested_size = 8 * MB,
	};

	vdf_init(&F, 0);
	ck_assert_int_eq(cvmm_virtio_mem_create(&o, &M), 0);
	vdf_attach(&F, cvmm_virtio_mem_device(M));
	vdf_start(&F);
	vdf_bring_up(&F, 0, 1, 64);
	memset(vdf_host(&F, 12 * MB), 0x44, 4 * MB);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_PLUG, 12 * MB, 1), ACK);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_UNPLUG, 12 * MB, 1), ERR);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0), ERR);
	for (uint64_t off = 0; off < 4 * MB; off += 4096)
		ck_assert_uint_eq(*vdf_host(&F, 12 * MB + off), 0x44);
	down();
}
END_TEST

START_TEST(save_restore)
{
	struct cvmm_virtio_mem_opts o = {
		.sz = sizeof(o), .addr = RGN, .region_size = RSIZE,
	};
	struct cvmm_virtio_mem_counters c;
	struct cvmm_virtio_device *d;
	struct cvmm_virtio_mem *m2;
	uint8_t buf[256];
	int n;

	up(false, 6 * BS);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_PLUG, RGN, 2), ACK);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_PLUG, RGN + 9 * BS, 3), ACK);
	d = cvmm_virtio_mem_device(M);
	n = d->ops->save(d, NULL, 0);
	ck_assert_int_eq(n, 84 + 2);
	ck_assert_int_eq(d->ops->save(d, buf, 10), -ENOSPC);
	ck_assert_int_eq(d->ops->save(d, buf, sizeof(buf)), n);
	ck_assert_int_eq(cvmm_virtio_mem_create(&o, &m2), 0);
	d = cvmm_virtio_mem_device(m2);
	ck_assert_int_eq(d->ops->restore(d, buf, (size_t)n - 1), -EINVAL);
	buf[84] ^= 0x40;      /* the bitmap disagrees with the plugged count */
	ck_assert_int_eq(d->ops->restore(d, buf, (size_t)n), -EINVAL);
	buf[84] ^= 0x40;
	buf[20] ^= 1;         /* another region's address */
	ck_assert_int_eq(d->ops->restore(d, buf, (size_t)n), -EINVAL);
	buf[20] ^= 1;
	ck_assert_int_eq(d->ops->restore(d, buf, (size_t)n), 0);
	cvmm_virtio_mem_get_counters(m2, &c);
	ck_assert_uint_eq(c.plugged_size, 5 * BS);
	ck_assert_uint_eq(c.requested_size, 6 * BS);
	ck_assert_uint_eq(c.plugs, 5);
	cvmm_virtio_mem_destroy(m2);
	/* a restored bitmap means what it says: the first 2 blocks unplug */
	d = cvmm_virtio_mem_device(M);
	ck_assert_int_eq(d->ops->restore(d, buf, (size_t)n), 0);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_UNPLUG, RGN, 2), ACK);
	ck_assert_int_eq(req(CVMM_VIRTIO_MEM_REQ_UNPLUG, RGN + 2 * BS, 1), ERR);
	ck_assert_uint_eq(state(RGN + 9 * BS, 3), CVMM_VIRTIO_MEM_STATE_PLUGGED);
	down();
}
END_TEST

START_TEST(bad_opts)
{
	struct cvmm_virtio_mem_opts o = { .sz = sizeof(o), .addr = RGN, .region_size = RSIZE };
	struct cvmm_virtio_mem *m;

	o.region_size = RSIZE + 4096;
	ck_assert_int_eq(cvmm_virtio_mem_create(&o, &m), -EINVAL);
	o.region_size = RSIZE;
	o.addr = RGN + 4096;
	ck_assert_int_eq(cvmm_virtio_mem_create(&o, &m), -EINVAL);
	o.addr = RGN;
	o.block_size = 3 * MB;
	ck_assert_int_eq(cvmm_virtio_mem_create(&o, &m), -EINVAL);
	o.block_size = 0;
	o.requested_size = RSIZE + BS;
	ck_assert_int_eq(cvmm_virtio_mem_create(&o, &m), -EINVAL);
	o.requested_size = 0;
	o.addr = UINT64_MAX - BS + 1;
	ck_assert_int_eq(cvmm_virtio_mem_create(&o, &m), -EINVAL);
	o.addr = RGN;
	o.sz = 8;
	ck_assert_int_eq(cvmm_virtio_mem_create(&o, &m), -EINVAL);
	o.sz = sizeof(o);
	o.block_size = 4096;
	ck_assert_int_eq(cvmm_virtio_mem_create(&o, &m), 0);
	cvmm_virtio_mem_destroy(m);
	cvmm_virtio_mem_destroy(NULL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("virtio-mem");
	TCase *t = tcase_create("core");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, config_space);
	tcase_add_loop_test(t, plug_write_unplug, 0, 2);
	tcase_add_test(t, hostile_requests);
	tcase_add_test(t, region_missing);
	tcase_add_test(t, save_restore);
	tcase_add_test(t, bad_opts);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	Suite *s[] = { suite(), NULL };

	return cvmm_test_run(s);
}
