/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-mmio transport semantics, virtio-rng, virtio-console and the rate
 * limiter, through the real transport, a real guest memory map and the
 * virtio-queue driver helper.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/console.h>

#include "cvmm-test.h"
#include "vd-fixture.h"

#define S_ACK CVMM_VIRTIO_S_ACKNOWLEDGE
#define S_DRV CVMM_VIRTIO_S_DRIVER
#define S_FOK CVMM_VIRTIO_S_FEATURES_OK
#define S_DOK CVMM_VIRTIO_S_DRIVER_OK

static struct vdf F;
static struct cvmm_rng *RNG;

static void rng_setup(void)
{
	struct cvmm_rng_opts o = { .sz = sizeof(o), .queue_size = 64 };

	vdf_init(&F, 0);
	ck_assert_int_eq(cvmm_rng_create(&o, &RNG), 0);
	vdf_attach(&F, cvmm_rng_device(RNG));
}

static void rng_teardown(void)
{
	vdf_fini(&F);
	cvmm_rng_destroy(RNG);
}

static uint64_t offered(void)
{
	uint64_t v;

	vdf_wr(&F, CVMM_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	v = vdf_rd(&F, CVMM_VIRTIO_MMIO_DEVICE_FEATURES);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return v | (uint64_t)vdf_rd(&F, CVMM_VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

static void ack_features(uint64_t feat)
{
	vdf_wr(&F, CVMM_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)feat);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(feat >> 32));
}

/* ------------------------------------------------------------------------ */

START_TEST(identity)
{
	uint8_t b[8];
	uint16_t h;

	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_MAGIC), 0x74726976);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_VERSION), 2);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_DEVICE_ID), CVMM_VIRTIO_ID_RNG);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_VENDOR_ID), CVMM_VIRTIO_MMIO_VENDOR_VALUE);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS), 0);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG_GENERATION), 0);
	/* no shared memory regions: length reads as all ones */
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffffu);
	/* registers take only aligned 4-byte accesses */
	memset(b, 0xaa, sizeof(b));
	ck_assert_int_eq(cvmm_virtio_mmio_access(F.t, 0, &h, 2, false), 0);
	ck_assert_uint_eq(h, 0);
	ck_assert_int_eq(cvmm_virtio_mmio_access(F.t, 1, b, 4, false), 0);
	ck_assert_uint_eq(b[0] | b[1] | b[2] | b[3], 0);
	ck_assert_int_eq(cvmm_virtio_mmio_access(F.t, 0, b, 8, false), 0);
	ck_assert_uint_eq(b[0] | b[7], 0);
	ck_assert_int_eq(cvmm_virtio_mmio_access(F.t, 0, b, 3, false), -EINVAL);
	ck_assert_int_eq(cvmm_virtio_mmio_access(F.t, 0, NULL, 4, false), -EINVAL);
	/* rng has no config space: reads 0, far offsets too */
	memset(b, 0xaa, sizeof(b));
	ck_assert_int_eq(cvmm_virtio_mmio_access(F.t, 0x100, b, 4, false), 0);
	ck_assert_uint_eq(b[0], 0);
	ck_assert_int_eq(cvmm_virtio_mmio_access(F.t, UINT64_MAX - 1, b, 8, false), 0);
	ck_assert_uint_eq(b[7], 0);
	/* writes to read-only registers change nothing */
	vdf_wr(&F, CVMM_VIRTIO_MMIO_MAGIC, 0);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_DEVICE_ID, 7);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_MAGIC), 0x74726976);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_DEVICE_ID), CVMM_VIRTIO_ID_RNG);
}
END_TEST

START_TEST(feature_windows)
{
	uint64_t f = offered();

	ck_assert(f & CVMM_VIRTIO_F_VERSION_1);
	ck_assert(f & CVMM_VIRTIO_F_EVENT_IDX);
	ck_assert(f & CVMM_VIRTIO_F_INDIRECT_DESC);
	ck_assert(f & CVMM_VIRTIO_F_RING_PACKED);
	ck_assert(!(f & CVMM_VIRTIO_F_ACCESS_PLATFORM));
	for (uint32_t sel = 2; sel < 5; sel++) {
		vdf_wr(&F, CVMM_VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
		ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_DEVICE_FEATURES), 0);
	}
	vdf_wr(&F, CVMM_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0xffffffffu);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_DEVICE_FEATURES), 0);
}
END_TEST

/* FEATURES_OK for feature set @feat: returns whether it stuck. */
static bool try_features(uint64_t feat)
{
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, 0);
	vdf_wait_settled(&F);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, S_ACK);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	ack_features(feat);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	return vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS) & S_FOK;
}

START_TEST(status_machine)
{
	uint64_t v1 = CVMM_VIRTIO_F_VERSION_1;

	/* DRIVER without ACKNOWLEDGE is dropped */
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, S_DRV);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS), 0);
	/* features cannot be written before DRIVER */
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, S_ACK);
	ack_features(v1);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS), S_ACK | S_DRV);

	ck_assert(!try_features(0));                       /* no VERSION_1 */
	ck_assert(!try_features(CVMM_VIRTIO_F_EVENT_IDX)); /* still none */
	ck_assert(!try_features(v1 | CVMM_VIRTIO_F_ACCESS_PLATFORM));
	ck_assert(!try_features(v1 | (1ull << 40)));       /* not offered */
	ck_assert(try_features(v1 | CVMM_VIRTIO_F_EVENT_IDX));

	/* a driver cannot clear bits except by reset */
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, S_ACK);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS), S_ACK | S_DRV | S_FOK);
	/* nor set NEEDS_RESET itself */
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | CVMM_VIRTIO_S_NEEDS_RESET);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS), S_ACK | S_DRV | S_FOK);

	/* DRIVER_OK without FEATURES_OK is dropped */
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, 0);
	vdf_wait_settled(&F);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_DOK);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS), S_ACK | S_DRV);
	/* FAILED is accepted at any point */
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, S_ACK | S_DRV | CVMM_VIRTIO_S_FAILED);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS),
			  S_ACK | S_DRV | CVMM_VIRTIO_S_FAILED);

	{
		struct cvmm_virtio_transport_state st;

		/* the frozen features: VERSION_1|EVENT_IDX kept, no ACCESS_PLATFORM */
		vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, 0);
		ck_assert(try_features(v1 | CVMM_VIRTIO_F_EVENT_IDX));
		ack_features(v1 | CVMM_VIRTIO_F_ACCESS_PLATFORM);
		ck_assert_int_eq(cvmm_virtio_mmio_save(F.t, &st, NULL, 0), 0);
		ck_assert_uint_eq(st.driver_features, v1 | CVMM_VIRTIO_F_EVENT_IDX);
	}
}
END_TEST

START_TEST(queue_registers)
{
	uint32_t max;

	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_SEL, 0);
	max = vdf_rd(&F, CVMM_VIRTIO_MMIO_QUEUE_NUM_MAX);
	ck_assert_uint_eq(max, 64);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_SEL, 1); /* rng has one queue */
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_READY, 1);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_QUEUE_READY), 0);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_SEL, 0);

	/* before FEATURES_OK queue registers are not writable */
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_NUM, 16);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_QUEUE_NUM), 64);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_QUEUE_DESC_LOW), 0);

	ck_assert(try_features(CVMM_VIRTIO_F_VERSION_1));
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_NUM, max + 1);  /* above max: refused */
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_QUEUE_NUM), 64);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_NUM, 0x10000); /* truncation must not help */
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_QUEUE_NUM), 64);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_NUM, 0);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_QUEUE_NUM), 64);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_NUM, 24);       /* split: not a power of 2 */
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_QUEUE_NUM), 24);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_READY, 1);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_QUEUE_READY), 0);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_NUM, 32);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_DESC_HIGH, 0x2);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_QUEUE_DESC_HIGH), 2);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_READY, 2); /* only 0/1 mean something */
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_QUEUE_READY), 0);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_READY, 1);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_QUEUE_READY), 1);
	/* a ready queue is frozen */
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_NUM, 16);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_DESC_LOW, 0x3000);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_QUEUE_NUM), 32);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_QUEUE_DESC_LOW), 0x1000);
	/* the rings are outside guest RAM (8 GiB + 4 KiB): activation fails
	 * on the device thread and the device asks for a reset */
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	vdf_wait_settled(&F);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS),
			  S_ACK | S_DRV | S_FOK | S_DOK | CVMM_VIRTIO_S_NEEDS_RESET);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_INTERRUPT_STATUS) &
				  CVMM_VIRTIO_ISR_CONFIG, CVMM_VIRTIO_ISR_CONFIG);
	ck_assert_uint_ge(vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG_GENERATION), 1);

	/* packed rings take any size */
	ck_assert(try_features(CVMM_VIRTIO_F_VERSION_1 | CVMM_VIRTIO_F_RING_PACKED));
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_NUM, 24);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_READY, 1);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_QUEUE_READY), 1);
}
END_TEST

/* Ask for @n random bytes in two descriptors; return the used length. */
static uint32_t rng_request(uint64_t gpa, uint32_t n)
{
	struct cvmm_virtq_buf in[2] = { { gpa, n / 2 }, { gpa + n / 2, n - n / 2 } };
	uint64_t tok;
	uint32_t len;

	memset(vdf_host(&F, gpa), 0, n);
	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], NULL, 0, in, 2, false, gpa), 0);
	vdf_kick(&F, 0);
	ck_assert_int_eq(vdf_wait_used(&F, 0, &tok, &len, 5000), 1);
	ck_assert_uint_eq(tok, gpa);
	return len;
}

static unsigned int nonzero(const uint8_t *p, size_t n)
{
	unsigned int c = 0;

	for (size_t i = 0; i < n; i++)
		c += p[i] != 0;
	return c;
}

START_TEST(rng_fills)
{
	uint64_t a, b;

	vdf_start(&F);
	vdf_bring_up(&F, CVMM_VIRTIO_F_EVENT_IDX, 1, 64);
	a = vdf_alloc(&F, 256, 8);
	b = vdf_alloc(&F, 256, 8);
	ck_assert_uint_eq(rng_request(a, 256), 256);
	ck_assert_uint_eq(rng_request(b, 256), 256);
	/* 256 random bytes: all-zero halves or equal buffers mean no fill */
	ck_assert_uint_gt(nonzero(vdf_host(&F, a), 128), 64);
	ck_assert_uint_gt(nonzero(vdf_host(&F, a + 128), 128), 64);
	ck_assert(memcmp(vdf_host(&F, a), vdf_host(&F, b), 256) != 0);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
}
END_TEST

START_TEST(rng_cap)
{
	struct cvmm_rng_opts o = { .sz = sizeof(o), .queue_size = 64,
				   .max_bytes_per_request = 100 };
	struct cvmm_rng *r;
	uint64_t a;

	/* a second device with a per-request cap */
	vdf_detach(&F);
	cvmm_rng_destroy(RNG);
	ck_assert_int_eq(cvmm_rng_create(&o, &r), 0);
	RNG = r;
	vdf_attach(&F, cvmm_rng_device(RNG));
	vdf_start(&F);
	vdf_bring_up(&F, 0, 1, 64);
	a = vdf_alloc(&F, 300, 8);
	ck_assert_uint_eq(rng_request(a, 300), 100);
	ck_assert_uint_eq(nonzero(vdf_host(&F, a + 100), 200), 0);
}
END_TEST

/* A descriptor outside guest RAM breaks the queue: NEEDS_RESET + config
 * interrupt, later kicks are ignored, reset brings the device back. */
START_TEST(broken_queue_needs_reset)
{
	struct cvmm_virtq_buf bad = { F.mem_size + 4096, 64 };
	uint64_t tok, a;
	uint32_t len, gen;

	vdf_start(&F);
	vdf_bring_up(&F, 0, 1, 64);
	gen = vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG_GENERATION);
	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], NULL, 0, &bad, 1, false, 1), 0);
	vdf_kick(&F, 0);
	for (int i = 0; i < 2500 && !(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS) &
				     CVMM_VIRTIO_S_NEEDS_RESET); i++)
		usleep(2000);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS),
			  S_ACK | S_DRV | S_FOK | S_DOK | CVMM_VIRTIO_S_NEEDS_RESET);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_INTERRUPT_STATUS), CVMM_VIRTIO_ISR_CONFIG);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
	/* a good buffer is not served while the device needs a reset */
	a = vdf_alloc(&F, 64, 8);
	{
		struct cvmm_virtq_buf in = { a, 64 };

		ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], NULL, 0, &in, 1, false, 2), 0);
	}
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_int_eq(vdf_wait_used(&F, 0, &tok, &len, 100), 0);
	/* reset: everything back, the device works again on fresh rings */
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, 0);
	vdf_wait_settled(&F);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS), 0);
	vdf_bring_up(&F, 0, 1, 64);
	ck_assert_uint_eq(rng_request(a, 64), 64);
}
END_TEST

START_TEST(reset_returns_everything)
{
	struct cvmm_virtio_transport_state s0, s1;
	uint64_t a;

	ck_assert_int_eq(cvmm_virtio_mmio_save(F.t, &s0, NULL, 0), 0);
	vdf_start(&F);
	vdf_bring_up(&F, CVMM_VIRTIO_F_EVENT_IDX | CVMM_VIRTIO_F_INDIRECT_DESC, 1, 32);
	a = vdf_alloc(&F, 64, 8);
	ck_assert_uint_eq(rng_request(a, 64), 64);
	ck_assert_uint_eq(rng_request(a, 64), 64);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_SEL, 5);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, 0);
	vdf_wait_settled(&F);
	vdf_stop(&F);
	ck_assert_int_eq(cvmm_virtio_mmio_save(F.t, &s1, NULL, 0), 0);
	/* config generation is not part of the reset, everything else is */
	s1.config_generation = s0.config_generation;
	ck_assert_int_eq(memcmp(&s0, &s1, sizeof(s0)), 0);
	ck_assert(!s1.queues[0].active);
	ck_assert_uint_eq(s1.queues[0].next_avail, 0);
	vdf_start(&F);
	/* after reset the queue starts at index 0 on new rings */
	vdf_bring_up(&F, CVMM_VIRTIO_F_RING_PACKED, 1, 16);
	ck_assert_uint_eq(rng_request(a, 64), 64);
}
END_TEST

START_TEST(reset_while_busy)
{
	/* Reset and re-initialise repeatedly while the device thread serves
	 * requests: the vCPU side never waits for device work and the status
	 * register reads non-zero until the device thread finished. */
	uint64_t a = vdf_alloc(&F, 64, 8);

	vdf_start(&F);
	for (int i = 0; i < 50; i++) {
		struct cvmm_virtq_buf in = { a, 64 };

		vdf_bring_up(&F, i & 1 ? CVMM_VIRTIO_F_EVENT_IDX : 0, 1, 16);
		ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], NULL, 0, &in, 1, false, 9), 0);
		vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, 0);
		vdf_wait_settled(&F);
		ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS), 0);
	}
}
END_TEST

/* A kick written right after DRIVER_OK, before the device thread handled
 * the activation, must not be lost. */
START_TEST(kick_races_activation)
{
	uint64_t a = vdf_alloc(&F, 64, 8), tok;
	struct cvmm_virtq_buf in = { a, 64 };
	uint32_t len;

	/* the loop is not running: DRIVER_OK and the kick are both pending */
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, S_ACK);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	ack_features(CVMM_VIRTIO_F_VERSION_1);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_NUM, 64);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_DESC_LOW, 0x10000);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_DRIVER_LOW, 0x14000);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_DEVICE_LOW, 0x18000);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_READY, 1);
	{
		struct cvmm_virtq_driver_opts d = {
			.sz = sizeof(d), .mem = F.mem, .size = 64,
			.features = CVMM_VIRTIO_F_VERSION_1, .desc_gpa = 0x10000,
			.avail_gpa = 0x14000, .used_gpa = 0x18000,
		};

		ck_assert_int_eq(cvmm_virtq_driver_create(&d, &F.drv[0]), 0);
	}
	/* the notify fd becomes ready before the control fd: epoll hands them
	 * to the loop in that order, so the kick is seen before activation */
	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], NULL, 0, &in, 1, false, 3), 0);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	for (int i = 0; i < 3; i++)
		ck_assert_int_ge(cvmm_event_manager_run_once(F.em, 0), 0);
	ck_assert_int_eq(vdf_wait_used(&F, 0, &tok, &len, 2000), 1);
	ck_assert_uint_eq(len, 64);
}
END_TEST

static bool hammer_stop; /* atomic */

static void *hammer(void *arg)
{
	struct cvmm_virtio_mmio *t = arg;
	unsigned long n = 0;

	while (!__atomic_load_n(&hammer_stop, __ATOMIC_RELAXED)) {
		uint32_t v, off = (uint32_t)(n++ % 0x40) * 4;

		cvmm_virtio_mmio_access(t, off, &v, 4, false);
		v = 0;
		cvmm_virtio_mmio_access(t, CVMM_VIRTIO_MMIO_QUEUE_SEL, &v, 4, true);
	}
	return NULL;
}

/* A second vCPU reads every register while the device thread serves
 * requests and the first vCPU drives the device (run it under ASan). */
START_TEST(concurrent_vcpus)
{
	uint64_t a = vdf_alloc(&F, 64, 8);
	pthread_t th;

	vdf_start(&F);
	vdf_bring_up(&F, CVMM_VIRTIO_F_EVENT_IDX, 1, 64);
	__atomic_store_n(&hammer_stop, false, __ATOMIC_RELAXED);
	ck_assert_int_eq(pthread_create(&th, NULL, hammer, F.t), 0);
	for (int i = 0; i < 300; i++)
		ck_assert_uint_eq(rng_request(a, 64), 64);
	__atomic_store_n(&hammer_stop, true, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
}
END_TEST

START_TEST(state_restore_validation)
{
	struct cvmm_virtio_transport_state s, bad;
	struct cvmm_virtio_mmio *t2;
	struct cvmm_rng *r2;
	struct cvmm_rng_opts ro = { .sz = sizeof(ro), .queue_size = 64 };
	struct cvmm_virtio_mmio_opts o = { .sz = sizeof(o), .mem = F.mem, .em = F.em };
	uint64_t a = vdf_alloc(&F, 64, 8);

	vdf_start(&F);
	vdf_bring_up(&F, CVMM_VIRTIO_F_EVENT_IDX, 1, 64);
	ck_assert_uint_eq(rng_request(a, 64), 64);
	vdf_stop(&F);
	ck_assert_int_eq(cvmm_virtio_mmio_save(F.t, &s, NULL, 0), 0);
	ck_assert_uint_eq(s.status, S_ACK | S_DRV | S_FOK | S_DOK);
	ck_assert_uint_eq(s.queues[0].next_avail, 1);

	ck_assert_int_eq(cvmm_rng_create(&ro, &r2), 0);
	o.dev = cvmm_rng_device(r2);
	ck_assert_int_eq(cvmm_virtio_mmio_create(&o, &t2), 0);
#define BAD(field, val)                                                         \
	do {                                                                    \
		bad = s;                                                        \
		bad.field = val;                                                \
		ck_assert_int_eq(cvmm_virtio_mmio_restore(t2, &bad, NULL, 0, NULL, 0), -EINVAL); \
	} while (0)
	BAD(version, 2);
	BAD(device_id, CVMM_VIRTIO_ID_BLOCK);
	BAD(num_queues, 2);
	BAD(status, S_ACK | S_FOK | S_DOK);           /* FEATURES_OK without DRIVER */
	BAD(status, 0x30);                            /* unknown bits */
	BAD(driver_features, CVMM_VIRTIO_F_EVENT_IDX); /* no VERSION_1 */
	BAD(driver_features, s.driver_features | CVMM_VIRTIO_F_ACCESS_PLATFORM);
	BAD(isr, 4);
	BAD(regs[0].num, 65);
	BAD(regs[0].num, 0);
	BAD(regs[0].ready, 2);
	BAD(regs[1].num, 8);                          /* a queue that does not exist */
	BAD(queues[0].size, 32);                      /* disagrees with the register */
	BAD(queues[0].version, 9);
	BAD(device_active, 2);
	/* the failed attempts left t2 fresh: the real state restores */
	ck_assert_int_eq(cvmm_virtio_mmio_restore(t2, &s, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(cvmm_virtio_mmio_restore(t2, &s, NULL, 0, NULL, 0), -EBUSY);
	/* continue on the restored device */
	cvmm_virtio_mmio_destroy(F.t);
	cvmm_rng_destroy(RNG);
	F.t = t2;
	RNG = r2;
	vdf_start(&F);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS), S_ACK | S_DRV | S_FOK | S_DOK);
	ck_assert_uint_eq(rng_request(a, 64), 64);
	ck_assert_uint_eq(rng_request(a, 64), 64);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* console                                                                   */
/* ------------------------------------------------------------------------ */

static struct cvmm_console *CONS;
static int cin[2], cout[2];

static void cons_setup(void)
{
	struct cvmm_console_opts o = { .sz = sizeof(o), .queue_size = 32 };

	vdf_init(&F, 0);
	ck_assert_int_eq(pipe(cin), 0);
	ck_assert_int_eq(pipe(cout), 0);
	o.em = F.em;
	o.in_fd = cin[0];
	o.out_fd = cout[1];
	ck_assert_int_eq(cvmm_console_create(&o, &CONS), 0);
	vdf_attach(&F, cvmm_console_device(CONS));
}

static void cons_teardown(void)
{
	vdf_fini(&F);
	cvmm_console_destroy(CONS);
	close(cin[0]);
	if (cin[1] >= 0)
		close(cin[1]);
	close(cout[0]);
	close(cout[1]);
}

START_TEST(console_tx)
{
	static const char msg[] = "hello from the guest console\n";
	uint64_t a = vdf_alloc(&F, 64, 1), tok;
	struct cvmm_virtq_buf out[2] = { { a, 10 }, { a + 10, sizeof(msg) - 1 - 10 } };
	char got[64] = { 0 };
	uint32_t len, cfg;

	ck_assert_int_eq(cvmm_virtio_mmio_access(F.t, 0x104, &cfg, 4, false), 0);
	ck_assert_uint_eq(cfg, 1); /* max_nr_ports */
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_DEVICE_ID), CVMM_VIRTIO_ID_CONSOLE);
	vdf_start(&F);
	vdf_bring_up(&F, CVMM_VIRTIO_F_EVENT_IDX, 2, 32);
	memcpy(vdf_host(&F, a), msg, sizeof(msg) - 1);
	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[1], out, 2, NULL, 0, false, 5), 0);
	vdf_kick(&F, 1);
	ck_assert_int_eq(vdf_wait_used(&F, 1, &tok, &len, 5000), 1);
	ck_assert_uint_eq(tok, 5);
	ck_assert_int_eq(cvmm_read_full(cout[0], got, sizeof(msg) - 1), 0);
	ck_assert_str_eq(got, msg);
}
END_TEST

START_TEST(console_rx)
{
	uint64_t a = vdf_alloc(&F, 64, 1), b = vdf_alloc(&F, 64, 1), tok;
	struct cvmm_virtq_buf in = { a, 8 };
	uint32_t len;

	vdf_start(&F);
	vdf_bring_up(&F, 0, 2, 32);
	/* input before the guest has buffers waits in the pipe */
	ck_assert_int_eq(cvmm_write_full(cin[1], "0123456789abc", 13), 0);
	usleep(20000);
	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], NULL, 0, &in, 1, false, 1), 0);
	vdf_kick(&F, 0);
	ck_assert_int_eq(vdf_wait_used(&F, 0, &tok, &len, 5000), 1);
	ck_assert_uint_eq(len, 8);
	ck_assert_int_eq(memcmp(vdf_host(&F, a), "01234567", 8), 0);
	in.gpa = b;
	in.len = 64;
	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], NULL, 0, &in, 1, false, 2), 0);
	vdf_kick(&F, 0);
	ck_assert_int_eq(vdf_wait_used(&F, 0, &tok, &len, 5000), 1);
	ck_assert_uint_eq(tok, 2);
	ck_assert_uint_eq(len, 5);
	ck_assert_int_eq(memcmp(vdf_host(&F, b), "89abc", 5), 0);
	/* end of input: later buffers stay unused, the device stays healthy */
	close(cin[1]);
	cin[1] = -1;
	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], NULL, 0, &in, 1, false, 3), 0);
	vdf_kick(&F, 0);
	ck_assert_int_eq(vdf_wait_used(&F, 0, &tok, &len, 100), 0);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
}
END_TEST

START_TEST(console_tx_hostile)
{
	/* a transmit buffer the device would have to write into is a chain
	 * with only writable parts: nothing is sent, the buffer is returned */
	uint64_t a = vdf_alloc(&F, 64, 1), tok;
	struct cvmm_virtq_buf in = { a, 16 };
	struct pollfd p = { .fd = cout[0], .events = POLLIN };
	uint32_t len;

	vdf_start(&F);
	vdf_bring_up(&F, 0, 2, 32);
	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[1], NULL, 0, &in, 1, false, 7), 0);
	vdf_kick(&F, 1);
	ck_assert_int_eq(vdf_wait_used(&F, 1, &tok, &len, 5000), 1);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(poll(&p, 1, 0), 0);
}
END_TEST

/* One connected unix socket carries both directions. */
START_TEST(console_socket)
{
	struct cvmm_console_opts o = { .sz = sizeof(o), .queue_size = 16 };
	struct cvmm_console *c;
	uint64_t a = vdf_alloc(&F, 64, 1), b = vdf_alloc(&F, 64, 1), tok;
	struct cvmm_virtq_buf in = { b, 64 }, out = { a, 5 };
	char got[8] = { 0 };
	uint32_t len;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	vdf_detach(&F);
	o.em = F.em;
	o.in_fd = sv[0];
	o.out_fd = sv[0];
	ck_assert_int_eq(cvmm_console_create(&o, &c), 0);
	vdf_attach(&F, cvmm_console_device(c));
	vdf_start(&F);
	vdf_bring_up(&F, CVMM_VIRTIO_F_EVENT_IDX, 2, 16);
	memcpy(vdf_host(&F, a), "ping\n", 5);
	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[1], &out, 1, NULL, 0, false, 1), 0);
	vdf_kick(&F, 1);
	ck_assert_int_eq(vdf_wait_used(&F, 1, &tok, &len, 5000), 1);
	ck_assert_int_eq(cvmm_read_full(sv[1], got, 5), 0);
	ck_assert_str_eq(got, "ping\n");
	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], NULL, 0, &in, 1, false, 2), 0);
	vdf_kick(&F, 0);
	ck_assert_int_eq(cvmm_write_full(sv[1], "pong", 4), 0);
	ck_assert_int_eq(vdf_wait_used(&F, 0, &tok, &len, 5000), 1);
	ck_assert_uint_eq(len, 4);
	ck_assert_int_eq(memcmp(vdf_host(&F, b), "pong", 4), 0);
	vdf_detach(&F);
	cvmm_console_destroy(c);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* rate limiter                                                              */
/* ------------------------------------------------------------------------ */

static uint64_t fake_now;

static uint64_t fake_clock(void *opaque)
{
	(void)opaque;
	return fake_now;
}

START_TEST(token_bucket_math)
{
	struct cvmm_rate_limiter rl;
	struct cvmm_rate_limiter_opts o = {
		.sz = sizeof(o), .bytes_per_sec = 1000, .bytes_burst = 4000,
		.ops_per_sec = 10, .ops_burst = 2, .clock = fake_clock,
	};

	fake_now = 1000000000ull;
	ck_assert_int_eq(cvmm_rate_limiter_init(&rl, &o), 0);
	ck_assert(!cvmm_rate_limiter_unlimited(&rl));
	/* full buckets: two ops (ops burst), 4000 bytes (byte burst) */
	ck_assert(cvmm_rate_limiter_consume(&rl, 1, 3000));
	ck_assert(!cvmm_rate_limiter_consume(&rl, 1, 1001)); /* bytes short */
	ck_assert(cvmm_rate_limiter_consume(&rl, 1, 1000));
	ck_assert(!cvmm_rate_limiter_consume(&rl, 1, 0));    /* ops empty */
	/* both or neither: the refused consume took nothing */
	ck_assert_uint_eq(cvmm_rate_limiter_wait_ns(&rl, 1, 0), 100000000ull);
	ck_assert_uint_eq(cvmm_rate_limiter_wait_ns(&rl, 1, 500), 500000000ull);
	fake_now += 99999999ull;
	ck_assert(!cvmm_rate_limiter_consume(&rl, 1, 0));
	ck_assert_uint_eq(cvmm_rate_limiter_wait_ns(&rl, 1, 0), 1);
	fake_now += 1;
	ck_assert(cvmm_rate_limiter_consume(&rl, 1, 0));
	/* refill is capped at the burst */
	fake_now += 3600ull * 1000000000ull;
	ck_assert(cvmm_rate_limiter_consume(&rl, 2, 4000));
	ck_assert(!cvmm_rate_limiter_consume(&rl, 0, 1));
	/* a request bigger than the bucket passes only from a full bucket */
	fake_now += 4000000000ull;
	ck_assert(cvmm_rate_limiter_consume(&rl, 0, 1000000));
	ck_assert(!cvmm_rate_limiter_consume(&rl, 0, 1));
	ck_assert_uint_eq(cvmm_rate_limiter_wait_ns(&rl, 0, 1000000), 4000000000ull);
	/* a clock that goes backwards adds nothing and breaks nothing */
	fake_now -= 500000000ull;
	ck_assert(!cvmm_rate_limiter_consume(&rl, 0, 1));
	fake_now += 1000000ull;
	ck_assert(cvmm_rate_limiter_consume(&rl, 0, 1));
	/* huge rates do not overflow */
	o.bytes_per_sec = UINT64_MAX;
	o.bytes_burst = UINT64_MAX;
	o.ops_per_sec = 0;
	o.ops_burst = 0;
	ck_assert_int_eq(cvmm_rate_limiter_init(&rl, &o), 0);
	ck_assert(cvmm_rate_limiter_consume(&rl, 0, UINT64_MAX));
	fake_now += UINT64_MAX / 4;
	ck_assert(cvmm_rate_limiter_consume(&rl, 0, UINT64_MAX));
	/* bad options */
	o.bytes_per_sec = 0;
	ck_assert_int_eq(cvmm_rate_limiter_init(&rl, &o), -EINVAL);
	o.sz = 4;
	ck_assert_int_eq(cvmm_rate_limiter_init(&rl, &o), -EINVAL);
	ck_assert_int_eq(cvmm_rate_limiter_init(&rl, NULL), 0);
	ck_assert(cvmm_rate_limiter_unlimited(&rl));
	ck_assert(cvmm_rate_limiter_consume(&rl, UINT64_MAX, UINT64_MAX));
}
END_TEST

/* Swap the fixture's transport for one created with @direct (the loop
 * is not running). */
static void reattach_direct(bool direct)
{
	struct cvmm_virtio_mmio_opts o = {
		.sz = sizeof(o), .dev = cvmm_rng_device(RNG), .mem = F.mem, .em = F.em,
		.used_irq_direct = direct,
	};

	cvmm_virtio_mmio_destroy(F.t);
	ck_assert_int_eq(cvmm_virtio_mmio_create(&o, &F.t), 0);
}

static uint64_t irq_count(void)
{
	uint64_t v = 0;

	(void)cvmm_eventfd_read(cvmm_virtio_mmio_irq_fd(F.t), &v);
	return v;
}

/* used_irq_direct: someone else writes the irq fd for used buffers, so the
 * used bit reads 1 from creation on, whatever the driver acknowledges;
 * the config bit keeps its own life (set by the transport, cleared by
 * the driver's ACK). */
START_TEST(used_irq_direct_isr)
{
	const uint32_t isr = CVMM_VIRTIO_MMIO_INTERRUPT_STATUS, ack = CVMM_VIRTIO_MMIO_INTERRUPT_ACK;
	uint64_t a = vdf_alloc(&F, 64, 8);
	uint32_t gen;

	reattach_direct(true);
	ck_assert_uint_eq(vdf_rd(&F, isr), CVMM_VIRTIO_ISR_USED);
	vdf_wr(&F, ack, CVMM_VIRTIO_ISR_USED);
	ck_assert_uint_eq(vdf_rd(&F, isr), CVMM_VIRTIO_ISR_USED);
	vdf_start(&F);
	vdf_bring_up(&F, 0, 1, 64);
	ck_assert_uint_eq(vdf_rd(&F, isr), CVMM_VIRTIO_ISR_USED);
	/* a backend's signal: the irq fd only, the register cannot know */
	ck_assert_int_eq(cvmm_eventfd_write(cvmm_virtio_mmio_irq_fd(F.t), 1), 0);
	ck_assert_uint_eq(vdf_rd(&F, isr), CVMM_VIRTIO_ISR_USED);
	ck_assert_uint_eq(irq_count(), 1);
	/* a device of the VMM signalling through the transport still works */
	ck_assert_uint_eq(rng_request(a, 64), 64);
	vdf_wr(&F, ack, CVMM_VIRTIO_ISR_USED | CVMM_VIRTIO_ISR_CONFIG);
	ck_assert_uint_eq(vdf_rd(&F, isr), CVMM_VIRTIO_ISR_USED);
	/* config change: both bits, one interrupt; its ACK leaves the used bit */
	(void)irq_count();
	gen = vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG_GENERATION);
	cvmm_virtio_device_config_changed(cvmm_rng_device(RNG));
	ck_assert_uint_eq(vdf_rd(&F, isr), CVMM_VIRTIO_ISR_USED | CVMM_VIRTIO_ISR_CONFIG);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
	ck_assert_uint_eq(irq_count(), 1);
	vdf_wr(&F, ack, CVMM_VIRTIO_ISR_CONFIG);
	ck_assert_uint_eq(vdf_rd(&F, isr), CVMM_VIRTIO_ISR_USED);
	/* DEVICE_NEEDS_RESET (a backend that died) raises the config bit too */
	vdf_stop(&F);
	cvmm_virtio_device_set_needs_reset(cvmm_rng_device(RNG));
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS) & CVMM_VIRTIO_S_NEEDS_RESET,
			  CVMM_VIRTIO_S_NEEDS_RESET);
	ck_assert_uint_eq(vdf_rd(&F, isr), CVMM_VIRTIO_ISR_USED | CVMM_VIRTIO_ISR_CONFIG);
	ck_assert_uint_eq(irq_count(), 1);
	/* a reset clears the config bit, not the used one */
	vdf_start(&F);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_STATUS, 0);
	vdf_wait_settled(&F);
	ck_assert_uint_eq(vdf_rd(&F, isr), CVMM_VIRTIO_ISR_USED);
}
END_TEST

/* The option off (the default, and a caller whose sz ends before the
 * field): InterruptStatus is 0 until something is raised. */
START_TEST(used_irq_direct_off)
{
	struct cvmm_virtio_mmio_opts o = {
		.sz = offsetof(struct cvmm_virtio_mmio_opts, used_irq_direct),
		.dev = cvmm_rng_device(RNG), .mem = F.mem, .em = F.em,
		.used_irq_direct = true, /* beyond sz: not read */
	};

	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cvmm_virtio_mmio_destroy(F.t);
	ck_assert_int_eq(cvmm_virtio_mmio_create(&o, &F.t), 0);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cvmm_virtio_device_config_changed(cvmm_rng_device(RNG));
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_INTERRUPT_STATUS), CVMM_VIRTIO_ISR_CONFIG);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_INTERRUPT_ACK, CVMM_VIRTIO_ISR_CONFIG);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	o.sz -= 1;
	cvmm_virtio_mmio_destroy(F.t);
	F.t = NULL;
	ck_assert_int_eq(cvmm_virtio_mmio_create(&o, &F.t), -EINVAL);
	reattach_direct(false);
}
END_TEST

/* Save records the used bit as the guest reads it: restored onto a
 * transport without the option it still shows (a pending interrupt's
 * rings get walked) until acknowledged; with the option it stays. */
START_TEST(used_irq_direct_save_restore)
{
	struct cvmm_virtio_transport_state s;
	struct cvmm_virtio_mmio *t2;
	struct cvmm_rng *r2;
	struct cvmm_rng_opts ro = { .sz = sizeof(ro), .queue_size = 64 };
	struct cvmm_virtio_mmio_opts o = { .sz = sizeof(o), .mem = F.mem, .em = F.em };
	uint64_t a = vdf_alloc(&F, 64, 8);

	reattach_direct(true);
	vdf_start(&F);
	vdf_bring_up(&F, 0, 1, 64);
	ck_assert_uint_eq(rng_request(a, 64), 64);
	vdf_wr(&F, CVMM_VIRTIO_MMIO_INTERRUPT_ACK, 3);
	vdf_stop(&F);
	ck_assert_int_eq(cvmm_virtio_mmio_save(F.t, &s, NULL, 0), 0);
	ck_assert_uint_eq(s.isr, CVMM_VIRTIO_ISR_USED);

	for (int direct = 0; direct < 2; direct++) {
		ck_assert_int_eq(cvmm_rng_create(&ro, &r2), 0);
		o.dev = cvmm_rng_device(r2);
		o.used_irq_direct = direct;
		ck_assert_int_eq(cvmm_virtio_mmio_create(&o, &t2), 0);
		ck_assert_int_eq(cvmm_virtio_mmio_restore(t2, &s, NULL, 0, NULL, 0), 0);
		cvmm_virtio_mmio_destroy(F.t);
		cvmm_rng_destroy(RNG);
		F.t = t2;
		RNG = r2;
		ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_INTERRUPT_STATUS),
				  CVMM_VIRTIO_ISR_USED);
		vdf_wr(&F, CVMM_VIRTIO_MMIO_INTERRUPT_ACK, CVMM_VIRTIO_ISR_USED);
		ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_INTERRUPT_STATUS),
				  direct ? CVMM_VIRTIO_ISR_USED : 0);
		vdf_start(&F);
		ck_assert_uint_eq(rng_request(a, 64), 64);
		vdf_stop(&F);
	}
}
END_TEST

START_TEST(create_validation)
{
	struct cvmm_virtio_device d = { 0 };
	struct cvmm_virtio_mmio_opts o = { .sz = sizeof(o), .dev = &d, .mem = F.mem, .em = F.em };
	struct cvmm_virtio_mmio *t;

	ck_assert_int_eq(cvmm_virtio_mmio_create(&o, &t), -EINVAL); /* no ops */
	d = *cvmm_rng_device(RNG);
	d.num_queues = 0;
	ck_assert_int_eq(cvmm_virtio_mmio_create(&o, &t), -EINVAL);
	d.num_queues = CVMM_VIRTIO_MAX_QUEUES + 1;
	ck_assert_int_eq(cvmm_virtio_mmio_create(&o, &t), -EINVAL);
	d.num_queues = 1;
	d.queue_max_size[0] = 0;
	ck_assert_int_eq(cvmm_virtio_mmio_create(&o, &t), -EINVAL);
	d.queue_max_size[0] = 64;
	d.config_size = 0x101;
	ck_assert_int_eq(cvmm_virtio_mmio_create(&o, &t), -EINVAL);
	d.config_size = 0;
	o.sz = 8;
	ck_assert_int_eq(cvmm_virtio_mmio_create(&o, &t), -EINVAL);
	ck_assert_int_eq(cvmm_virtio_mmio_notify_fd(F.t, 1), -EINVAL);
	ck_assert_int_ge(cvmm_virtio_mmio_notify_fd(F.t, 0), 0);
	cvmm_virtio_mmio_destroy(NULL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("virtio-mmio");
	TCase *t = tcase_create("transport");

	tcase_add_checked_fixture(t, rng_setup, rng_teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, identity);
	tcase_add_test(t, feature_windows);
	tcase_add_test(t, status_machine);
	tcase_add_test(t, queue_registers);
	tcase_add_test(t, rng_fills);
	tcase_add_test(t, rng_cap);
	tcase_add_test(t, broken_queue_needs_reset);
	tcase_add_test(t, reset_returns_everything);
	tcase_add_test(t, reset_while_busy);
	tcase_add_test(t, kick_races_activation);
	tcase_add_test(t, concurrent_vcpus);
	tcase_add_test(t, state_restore_validation);
	tcase_add_test(t, create_validation);
	tcase_add_test(t, used_irq_direct_isr);
	tcase_add_test(t, used_irq_direct_off);
	tcase_add_test(t, used_irq_direct_save_restore);
	tcase_add_test(t, console_socket);
	suite_add_tcase(s, t);

	t = tcase_create("console");
	tcase_add_checked_fixture(t, cons_setup, cons_teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, console_tx);
	tcase_add_test(t, console_rx);
	tcase_add_test(t, console_tx_hostile);
	suite_add_tcase(s, t);

	t = tcase_create("rate-limiter");
	tcase_add_test(t, token_bucket_math);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	Suite *s[] = { suite(), NULL };

	return cvmm_test_run(s);
}
