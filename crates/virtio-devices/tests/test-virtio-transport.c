/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio transport core on its own: a toy device with four queues, a
 * fake MSI-X-like interrupt with one eventfd per vector (config + each
 * queue), the common registers driven directly (the test thread plays the
 * vCPU and, through run(), the device thread). Hostile status orders,
 * features outside the offer, queue sizes and ring addresses, a reset in
 * the middle of an activation, state refusals that name their field, and
 * per-queue interrupts on both the fake and the virtio-mmio implementation.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices.h>

#include "cvmm-test.h"

#define S_ACK CVMM_VIRTIO_S_ACKNOWLEDGE
#define S_DRV CVMM_VIRTIO_S_DRIVER
#define S_FOK CVMM_VIRTIO_S_FEATURES_OK
#define S_DOK CVMM_VIRTIO_S_DRIVER_OK
#define S_NR CVMM_VIRTIO_S_NEEDS_RESET
#define V1 CVMM_VIRTIO_F_VERSION_1

#define NQ 4u
#define QMAX 64u
#define MEM_SIZE (1ull << 20)
#define TOY_ID 42u
#define TOY_FEATURE (1ull << 3)

/* ---- toy device ---------------------------------------------------------- */

struct toy {
	struct cvmm_virtio_device dev;
	unsigned int activations, resets, events[NQ];
	uint64_t features;
	struct cvmm_virtio_transport *reset_from_activate; /* write Status 0 there */
};

static void toy_config_read(struct cvmm_virtio_device *dev, uint32_t off, void *data,
			    uint32_t len)
{
	(void)dev;
	for (uint32_t i = 0; i < len; i++)
		((uint8_t *)data)[i] = (uint8_t)(0xa0 + off + i);
}

static int toy_activate(struct cvmm_virtio_device *dev, struct cvmm_guest_mem *mem,
			struct cvmm_virtq *queues, unsigned int nq, uint64_t features)
{
	struct toy *t = CVMM_CONTAINER_OF(dev, struct toy, dev);

	(void)mem;
	(void)queues;
	(void)nq;
	t->activations++;
	t->features = features;
	/* a vCPU resets the device while the loop is inside activate() */
	if (t->reset_from_activate)
		cvmm_virtio_transport_reg_write(t->reset_from_activate, CVMM_VIRTIO_REG_STATUS, 0);
	return 0;
}

static void toy_queue_event(struct cvmm_virtio_device *dev, unsigned int q)
{
	CVMM_CONTAINER_OF(dev, struct toy, dev)->events[q]++;
}

static void toy_reset(struct cvmm_virtio_device *dev)
{
	CVMM_CONTAINER_OF(dev, struct toy, dev)->resets++;
}

static const struct cvmm_virtio_device_ops toy_ops = {
	.config_read = toy_config_read,
	.activate = toy_activate,
	.queue_event = toy_queue_event,
	.reset = toy_reset,
};

static void toy_init(struct toy *t)
{
	memset(t, 0, sizeof(*t));
	t->dev.ops = &toy_ops;
	t->dev.device_id = TOY_ID;
	t->dev.config_size = 8;
	t->dev.features = TOY_FEATURE;
	t->dev.num_queues = NQ;
	for (unsigned int i = 0; i < NQ; i++)
		t->dev.queue_max_size[i] = QMAX;
}

/* ---- fake per-vector interrupt ------------------------------------------- */

struct fake_irq {
	struct cvmm_virtio_interrupt irq;
	int fd[1 + NQ]; /* [0] config, [1 + q] queue q */
};

static int vec(enum cvmm_virtio_irq_type type, unsigned int queue)
{
	return type == CVMM_VIRTIO_IRQ_CONFIG ? 0 : (int)(1 + queue);
}

static void fake_trigger(struct cvmm_virtio_interrupt *irq, enum cvmm_virtio_irq_type type,
			 unsigned int queue)
{
	struct fake_irq *f = CVMM_CONTAINER_OF(irq, struct fake_irq, irq);

	ck_assert(type == CVMM_VIRTIO_IRQ_CONFIG || queue < NQ);
	ck_assert_int_eq(cvmm_eventfd_write(f->fd[vec(type, queue)], 1), 0);
}

static int fake_notifier_fd(struct cvmm_virtio_interrupt *irq, enum cvmm_virtio_irq_type type,
			    unsigned int queue)
{
	struct fake_irq *f = CVMM_CONTAINER_OF(irq, struct fake_irq, irq);

	if (type == CVMM_VIRTIO_IRQ_QUEUE && queue >= NQ)
		return -EINVAL;
	return f->fd[vec(type, queue)];
}

static const struct cvmm_virtio_interrupt_ops fake_ops = {
	.trigger = fake_trigger,
	.notifier_fd = fake_notifier_fd,
};

/* ---- fixture ------------------------------------------------------------- */

static struct cvmm_guest_mem *MEM;
static struct cvmm_event_manager *EM;
static struct toy DEV;
static struct fake_irq IRQ;
static struct cvmm_virtio_transport *T;

static void create_core(struct cvmm_virtio_transport **out, struct toy *dev)
{
	struct cvmm_virtio_transport_opts o = {
		.sz = sizeof(o), .dev = &dev->dev, .mem = MEM, .em = EM, .irq = &IRQ.irq,
	};

	ck_assert_int_eq(cvmm_virtio_transport_create(&o, out), 0);
}

static void setup(void)
{
	struct cvmm_mem_region_opts ro = {
		.sz = sizeof(ro), .gpa = 0, .size = MEM_SIZE, .backing = CVMM_MEM_ANON,
		.fd = -1,
	};

	ck_assert_int_eq(cvmm_guest_mem_create(&MEM), 0);
	ck_assert_int_eq(cvmm_guest_mem_add_region(MEM, &ro), 0);
	ck_assert_int_eq(cvmm_event_manager_create(NULL, &EM), 0);
	IRQ.irq.ops = &fake_ops;
	for (unsigned int i = 0; i < 1 + NQ; i++) {
		IRQ.fd[i] = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
		ck_assert_int_ge(IRQ.fd[i], 0);
	}
	toy_init(&DEV);
	create_core(&T, &DEV);
}

static void teardown(void)
{
	cvmm_virtio_transport_destroy(T);
	for (unsigned int i = 0; i < 1 + NQ; i++)
		cvmm_close(IRQ.fd[i]);
	cvmm_event_manager_destroy(EM);
	cvmm_guest_mem_destroy(MEM);
}

static uint32_t rd(enum cvmm_virtio_reg r)
{
	return cvmm_virtio_transport_reg_read(T, r);
}

static void wr(enum cvmm_virtio_reg r, uint32_t v)
{
	cvmm_virtio_transport_reg_write(T, r, v);
}

/* The device thread catches up (bounded). */
static void run(void)
{
	for (int i = 0; i < 100 && !cvmm_virtio_transport_settled(T); i++)
		ck_assert_int_ge(cvmm_event_manager_run_once(EM, 10), 0);
	ck_assert(cvmm_virtio_transport_settled(T));
	while (cvmm_event_manager_run_once(EM, 0) > 0)
		;
}

static void ack_features(uint64_t f)
{
	wr(CVMM_VIRTIO_REG_DRIVER_FEATURES_SEL, 0);
	wr(CVMM_VIRTIO_REG_DRIVER_FEATURES, (uint32_t)f);
	wr(CVMM_VIRTIO_REG_DRIVER_FEATURES_SEL, 1);
	wr(CVMM_VIRTIO_REG_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

/* Reset, ACK, DRIVER, @f, FEATURES_OK: whether FEATURES_OK stuck. */
static bool negotiate(uint64_t f)
{
	wr(CVMM_VIRTIO_REG_STATUS, 0);
	run();
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK);
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK | S_DRV);
	ack_features(f);
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK | S_DRV | S_FOK);
	return rd(CVMM_VIRTIO_REG_STATUS) & S_FOK;
}

static uint64_t ring(unsigned int q)
{
	return 0x10000ull + q * 0x1000ull;
}

/* Program queue @q with @num entries at @desc (driver/device rings follow). */
static void setup_queue(unsigned int q, uint32_t num, uint64_t desc)
{
	wr(CVMM_VIRTIO_REG_QUEUE_SEL, q);
	wr(CVMM_VIRTIO_REG_QUEUE_NUM, num);
	wr(CVMM_VIRTIO_REG_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(CVMM_VIRTIO_REG_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(CVMM_VIRTIO_REG_QUEUE_DRIVER_LOW, (uint32_t)(desc + 0x400));
	wr(CVMM_VIRTIO_REG_QUEUE_DRIVER_HIGH, (uint32_t)((desc + 0x400) >> 32));
	wr(CVMM_VIRTIO_REG_QUEUE_DEVICE_LOW, (uint32_t)(desc + 0x800));
	wr(CVMM_VIRTIO_REG_QUEUE_DEVICE_HIGH, (uint32_t)((desc + 0x800) >> 32));
	wr(CVMM_VIRTIO_REG_QUEUE_READY, 1);
}

/* Full bring-up of every queue. */
static void bring_up(void)
{
	ck_assert(negotiate(V1 | TOY_FEATURE));
	for (unsigned int q = 0; q < NQ; q++) {
		setup_queue(q, 16, ring(q));
		ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_READY), 1);
	}
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	run();
	ck_assert_uint_eq(cvmm_virtio_transport_status(T), S_ACK | S_DRV | S_FOK | S_DOK);
}

static uint64_t fired(int fd)
{
	uint64_t v = 0;

	if (cvmm_eventfd_read(fd, &v) < 0)
		return 0;
	return v;
}

static void drain_irqs(void)
{
	for (unsigned int i = 0; i < 1 + NQ; i++)
		(void)fired(IRQ.fd[i]);
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(identity_and_offer)
{
	uint64_t off = cvmm_virtio_transport_offered(T);
	uint8_t cfg[8];

	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_DEVICE_ID), TOY_ID);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_NUM_QUEUES), NQ);
	ck_assert_uint_eq(off, TOY_FEATURE | V1 | CVMM_VIRTIO_F_EVENT_IDX |
				       CVMM_VIRTIO_F_INDIRECT_DESC | CVMM_VIRTIO_F_RING_PACKED);
	wr(CVMM_VIRTIO_REG_DEVICE_FEATURES_SEL, 1);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_DEVICE_FEATURES), (uint32_t)(off >> 32));
	wr(CVMM_VIRTIO_REG_DEVICE_FEATURES_SEL, 2);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_DEVICE_FEATURES), 0);
	/* a device offering ACCESS_PLATFORM does not get it through */
	{
		struct toy d2;
		struct cvmm_virtio_transport *t2;

		toy_init(&d2);
		d2.dev.features |= CVMM_VIRTIO_F_ACCESS_PLATFORM;
		create_core(&t2, &d2);
		ck_assert(!(cvmm_virtio_transport_offered(t2) & CVMM_VIRTIO_F_ACCESS_PLATFORM));
		/* one device, one transport */
		{
			struct cvmm_virtio_transport_opts o = {
				.sz = sizeof(o), .dev = &d2.dev, .mem = MEM, .em = EM,
				.irq = &IRQ.irq,
			};
			struct cvmm_virtio_transport *t3;

			ck_assert_int_eq(cvmm_virtio_transport_create(&o, &t3), -EBUSY);
			o.irq = NULL;
			ck_assert_int_eq(cvmm_virtio_transport_create(&o, &t3), -EINVAL);
			o.irq = &IRQ.irq;
			o.sz = offsetof(struct cvmm_virtio_transport_opts, irq);
			ck_assert_int_eq(cvmm_virtio_transport_create(&o, &t3), -EINVAL);
		}
		cvmm_virtio_transport_destroy(t2);
		ck_assert_ptr_null(d2.dev.transport);
	}
	/* config space: bounds checked by the core */
	memset(cfg, 0xff, sizeof(cfg));
	ck_assert_int_eq(cvmm_virtio_transport_config_access(T, 2, cfg, 4, false), 0);
	ck_assert_uint_eq(cfg[0], 0xa2);
	ck_assert_int_eq(cvmm_virtio_transport_config_access(T, 6, cfg, 4, false), 0);
	ck_assert_uint_eq(cfg[0] | cfg[3], 0);
	ck_assert_int_eq(cvmm_virtio_transport_config_access(T, UINT64_MAX - 1, cfg, 8, false), 0);
	ck_assert_int_eq(cvmm_virtio_transport_config_access(T, 0, cfg, 9, false), -EINVAL);
	ck_assert_int_eq(cvmm_virtio_transport_config_access(T, 0, NULL, 4, false), -EINVAL);
	ck_assert_int_eq(cvmm_virtio_transport_config_access(T, 0, cfg, 4, true), 0);
	ck_assert_int_eq(cvmm_virtio_transport_notify_fd(T, NQ), -EINVAL);
	ck_assert_int_ge(cvmm_virtio_transport_notify_fd(T, NQ - 1), 0);
	cvmm_virtio_transport_destroy(NULL);
}
END_TEST

START_TEST(hostile_status_orders)
{
	/* everything at once from 0: DRIVER with ACK stays, FEATURES_OK with
	 * no features and DRIVER_OK without it do not, FAILED does */
	wr(CVMM_VIRTIO_REG_STATUS, 0xff);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_STATUS), S_ACK | S_DRV | CVMM_VIRTIO_S_FAILED);
	run();
	ck_assert_uint_eq(DEV.activations, 0);

	wr(CVMM_VIRTIO_REG_STATUS, 0);
	run();
	/* DRIVER before ACKNOWLEDGE */
	wr(CVMM_VIRTIO_REG_STATUS, S_DRV);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_STATUS), 0);
	/* features before DRIVER are not taken */
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK);
	ack_features(V1);
	wr(CVMM_VIRTIO_REG_DRIVER_FEATURES_SEL, 0);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_DRIVER_FEATURES), 0);
	/* FEATURES_OK without DRIVER, DRIVER_OK without FEATURES_OK */
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK | S_FOK);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_STATUS), S_ACK);
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK | S_DRV | S_DOK);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_STATUS), S_ACK | S_DRV);
	run();
	ck_assert_uint_eq(DEV.activations, 0);
	/* bits are never cleared but by a reset; NEEDS_RESET is the device's */
	ack_features(V1);
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK | S_DRV | S_FOK);
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK | S_FOK);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_STATUS), S_ACK | S_DRV | S_FOK);
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK | S_DRV | S_FOK | S_NR);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_STATUS), S_ACK | S_DRV | S_FOK);
	/* features freeze at FEATURES_OK */
	ack_features(V1 | CVMM_VIRTIO_F_EVENT_IDX);
	wr(CVMM_VIRTIO_REG_DRIVER_FEATURES_SEL, 0);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_DRIVER_FEATURES), 0);
	wr(CVMM_VIRTIO_REG_DRIVER_FEATURES_SEL, 1);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_DRIVER_FEATURES), 1); /* VERSION_1 is bit 32 */
	/* DRIVER_OK with no queue ready still activates (the device decides) */
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	ck_assert(!cvmm_virtio_transport_settled(T));
	run();
	ck_assert_uint_eq(DEV.activations, 1);
	ck_assert_uint_eq(DEV.features, V1);
	ck_assert_uint_eq(__atomic_load_n(&DEV.dev.driver_features, __ATOMIC_ACQUIRE), V1);
	/* DRIVER_OK written again: no second activation */
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	run();
	ck_assert_uint_eq(DEV.activations, 1);
	/* queue setup is closed after DRIVER_OK */
	wr(CVMM_VIRTIO_REG_QUEUE_SEL, 0);
	wr(CVMM_VIRTIO_REG_QUEUE_NUM, 8);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_NUM), QMAX);
	/* FAILED on top is accepted; reset ends it all */
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK | S_DRV | S_FOK | S_DOK | CVMM_VIRTIO_S_FAILED);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_STATUS) & CVMM_VIRTIO_S_FAILED, CVMM_VIRTIO_S_FAILED);
	wr(CVMM_VIRTIO_REG_STATUS, 0);
	/* until the device thread reset the device, Status reads the old value
	 * and writes other than 0 are ignored */
	ck_assert_uint_ne(rd(CVMM_VIRTIO_REG_STATUS), 0);
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK);
	run();
	ck_assert_uint_eq(DEV.resets, 1);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_STATUS), 0);
	ck_assert_uint_eq(__atomic_load_n(&DEV.dev.driver_features, __ATOMIC_ACQUIRE), 0);
}
END_TEST

START_TEST(features_outside_offer)
{
	ck_assert(!negotiate(0));
	ck_assert(!negotiate(CVMM_VIRTIO_F_EVENT_IDX));                 /* no VERSION_1 */
	ck_assert(!negotiate(V1 | CVMM_VIRTIO_F_ACCESS_PLATFORM));       /* refused */
	ck_assert(!negotiate(V1 | (1ull << 40)));                       /* not offered */
	ck_assert(!negotiate(V1 | (1ull << 4)));                        /* device bit not offered */
	ck_assert(negotiate(V1 | TOY_FEATURE | CVMM_VIRTIO_F_RING_PACKED));
	/* feature words past the second are not there */
	wr(CVMM_VIRTIO_REG_STATUS, 0);
	run();
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK | S_DRV);
	ack_features(V1);
	wr(CVMM_VIRTIO_REG_DRIVER_FEATURES_SEL, 2);
	wr(CVMM_VIRTIO_REG_DRIVER_FEATURES, 0xffffffffu);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_DRIVER_FEATURES), 0);
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK | S_DRV | S_FOK);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_STATUS), S_ACK | S_DRV | S_FOK);
}
END_TEST

START_TEST(queue_sizes)
{
	/* a queue the device does not have */
	wr(CVMM_VIRTIO_REG_QUEUE_SEL, NQ);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_NUM_MAX), 0);
	ck_assert(negotiate(V1));
	wr(CVMM_VIRTIO_REG_QUEUE_SEL, NQ);
	wr(CVMM_VIRTIO_REG_QUEUE_NUM, 8);
	wr(CVMM_VIRTIO_REG_QUEUE_READY, 1);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_NUM), 0);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_READY), 0);

	wr(CVMM_VIRTIO_REG_QUEUE_SEL, 1);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_NUM_MAX), QMAX);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_NUM), QMAX); /* starts at max */
	wr(CVMM_VIRTIO_REG_QUEUE_NUM, QMAX + 1);                   /* over max */
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_NUM), QMAX);
	wr(CVMM_VIRTIO_REG_QUEUE_NUM, 0x10000 | 8);                /* truncation */
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_NUM), QMAX);
	wr(CVMM_VIRTIO_REG_QUEUE_NUM, 0);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_NUM), QMAX);
	wr(CVMM_VIRTIO_REG_QUEUE_NUM, 48);                         /* not a power of 2 */
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_NUM), 48);
	wr(CVMM_VIRTIO_REG_QUEUE_READY, 1);                         /* split ring: refused */
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_READY), 0);
	wr(CVMM_VIRTIO_REG_QUEUE_READY, 3);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_READY), 0);
	wr(CVMM_VIRTIO_REG_QUEUE_NUM, 32);
	wr(CVMM_VIRTIO_REG_QUEUE_READY, 1);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_READY), 1);
	/* a ready queue is frozen; disabling it reopens it */
	wr(CVMM_VIRTIO_REG_QUEUE_NUM, 16);
	wr(CVMM_VIRTIO_REG_QUEUE_DESC_LOW, 0x5000);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_NUM), 32);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_DESC_LOW), 0);
	wr(CVMM_VIRTIO_REG_QUEUE_READY, 0);
	wr(CVMM_VIRTIO_REG_QUEUE_NUM, 16);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_NUM), 16);
	/* packed rings take any size up to max */
	ck_assert(negotiate(V1 | CVMM_VIRTIO_F_RING_PACKED));
	wr(CVMM_VIRTIO_REG_QUEUE_SEL, 1);
	wr(CVMM_VIRTIO_REG_QUEUE_NUM, 48);
	wr(CVMM_VIRTIO_REG_QUEUE_READY, 1);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_READY), 1);
}
END_TEST

/* Rings outside guest RAM (or wrapping around): the register takes the
 * enable, the device thread refuses the queue at DRIVER_OK, sets
 * NEEDS_RESET with a config interrupt, never activates the device. */
START_TEST(queue_outside_ram)
{
	static const uint64_t bad[] = { MEM_SIZE, MEM_SIZE - 0x100, UINT64_MAX - 0x7ff };

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t gen;

		ck_assert(negotiate(V1));
		setup_queue(0, 16, ring(0));
		setup_queue(2, 16, bad[i]);
		ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_QUEUE_READY), 1);
		gen = rd(CVMM_VIRTIO_REG_CONFIG_GENERATION);
		drain_irqs();
		wr(CVMM_VIRTIO_REG_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
		run();
		ck_assert_uint_eq(cvmm_virtio_transport_status(T),
				  S_ACK | S_DRV | S_FOK | S_DOK | S_NR);
		ck_assert_uint_eq(DEV.activations, 0);
		ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_CONFIG_GENERATION), gen + 1);
		ck_assert_uint_eq(fired(IRQ.fd[0]), 1);
		/* kicks are not delivered to a device that was never activated */
		cvmm_virtio_transport_notify(T, 0);
		run();
		ck_assert_uint_eq(DEV.events[0], 0);
	}
	/* and the reset afterwards finds nothing to reset in the device */
	wr(CVMM_VIRTIO_REG_STATUS, 0);
	run();
	ck_assert_uint_eq(DEV.resets, 0);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_STATUS), 0);
}
END_TEST

START_TEST(reset_mid_activation)
{
	struct cvmm_virtio_transport_state s0, s1;

	ck_assert_int_eq(cvmm_virtio_transport_save(T, &s0, NULL, 0), 0);
	/* 1: DRIVER_OK then reset before the device thread ran at all */
	ck_assert(negotiate(V1));
	setup_queue(0, 16, ring(0));
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	ck_assert_int_eq(cvmm_virtio_transport_save(T, &s1, NULL, 0), -EBUSY);
	wr(CVMM_VIRTIO_REG_STATUS, 0);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_STATUS), S_ACK | S_DRV | S_FOK | S_DOK);
	ck_assert(!cvmm_virtio_transport_settled(T));
	run();
	ck_assert_uint_eq(DEV.activations, 0);
	ck_assert_uint_eq(DEV.resets, 0);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_STATUS), 0);

	/* 2: the reset arrives while the device thread is inside activate():
	 * the activation completes, then the reset undoes it */
	ck_assert(negotiate(V1));
	setup_queue(0, 16, ring(0));
	DEV.reset_from_activate = T;
	wr(CVMM_VIRTIO_REG_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	run();
	DEV.reset_from_activate = NULL;
	ck_assert_uint_eq(DEV.activations, 1);
	ck_assert_uint_eq(DEV.resets, 1);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_STATUS), 0);
	/* nothing is delivered to the reset device */
	cvmm_virtio_transport_notify(T, 0);
	run();
	ck_assert_uint_eq(DEV.events[0], 0);
	/* the core is as created (but for the generation) */
	ck_assert_int_eq(cvmm_virtio_transport_save(T, &s1, NULL, 0), 0);
	s1.config_generation = s0.config_generation;
	ck_assert_int_eq(memcmp(&s0, &s1, sizeof(s0)), 0);
	/* and comes up again */
	bring_up();
	ck_assert_uint_eq(DEV.activations, 2);
	cvmm_virtio_transport_notify(T, 3);
	run();
	ck_assert_uint_ge(DEV.events[3], 1);
}
END_TEST

/* One fd per vector: queue 2's interrupt fires queue 2's fd only. */
START_TEST(per_queue_interrupts)
{
	struct cvmm_virtio_interrupt *irq = cvmm_virtio_transport_interrupt(T);
	unsigned int ev;
	uint32_t gen;

	ck_assert_ptr_eq(irq, &IRQ.irq);
	ck_assert_ptr_eq(cvmm_virtio_transport_device(T), &DEV.dev);
	ck_assert_ptr_eq(DEV.dev.transport, T);
	for (unsigned int q = 0; q < NQ; q++)
		ck_assert_int_eq(cvmm_virtio_interrupt_notifier_fd(irq, CVMM_VIRTIO_IRQ_QUEUE, q),
				 IRQ.fd[1 + q]);
	ck_assert_int_eq(cvmm_virtio_interrupt_notifier_fd(irq, CVMM_VIRTIO_IRQ_CONFIG, 0),
			 IRQ.fd[0]);
	ck_assert_int_eq(cvmm_virtio_interrupt_notifier_fd(irq, CVMM_VIRTIO_IRQ_QUEUE, NQ),
			 -EINVAL);
	ck_assert_int_eq(cvmm_virtio_interrupt_notifier_fd(NULL, CVMM_VIRTIO_IRQ_CONFIG, 0),
			 -EINVAL);
	bring_up();
	drain_irqs();
	cvmm_virtio_device_signal_used(&DEV.dev, 2);
	for (unsigned int v = 0; v < 1 + NQ; v++)
		ck_assert_uint_eq(fired(IRQ.fd[v]), v == 1 + 2 ? 1 : 0);
	cvmm_virtio_device_signal_used(&DEV.dev, 0);
	cvmm_virtio_device_signal_used(&DEV.dev, 3);
	ck_assert_uint_eq(fired(IRQ.fd[1]), 1);
	ck_assert_uint_eq(fired(IRQ.fd[4]), 1);
	ck_assert_uint_eq(fired(IRQ.fd[0]), 0);
	/* a queue the device does not have: nothing */
	cvmm_virtio_device_signal_used(&DEV.dev, NQ);
	for (unsigned int v = 0; v < 1 + NQ; v++)
		ck_assert_uint_eq(fired(IRQ.fd[v]), 0);
	/* config change: the generation moves, the config vector fires */
	gen = rd(CVMM_VIRTIO_REG_CONFIG_GENERATION);
	cvmm_virtio_device_config_changed(&DEV.dev);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_CONFIG_GENERATION), gen + 1);
	ck_assert_uint_eq(fired(IRQ.fd[0]), 1);
	ck_assert_uint_eq(fired(IRQ.fd[3]), 0);
	/* NEEDS_RESET: once, through the config vector */
	cvmm_virtio_device_set_needs_reset(&DEV.dev);
	cvmm_virtio_device_set_needs_reset(&DEV.dev);
	ck_assert_uint_eq(fired(IRQ.fd[0]), 1);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_CONFIG_GENERATION), gen + 2);
	ck_assert_uint_eq(rd(CVMM_VIRTIO_REG_STATUS) & S_NR, S_NR);
	/* this interrupt sets no ISR bit: that is the transport's choice */
	ck_assert_uint_eq(cvmm_virtio_transport_isr(T), 0);
	/* queue events stop until reset */
	ev = DEV.events[1];
	cvmm_virtio_transport_notify(T, 1);
	run();
	ck_assert_uint_eq(DEV.events[1], ev);
}
END_TEST

/* virtio-mmio: every queue and the config change share one fd; the ISR
 * bits tell them apart. */
START_TEST(mmio_one_line)
{
	struct cvmm_virtio_mmio_opts o = { .sz = sizeof(o), .mem = MEM, .em = EM };
	struct cvmm_virtio_transport *core;
	struct cvmm_virtio_interrupt *irq;
	struct cvmm_virtio_mmio *m;
	struct toy d;
	uint32_t isr = 0;
	int fd;

	toy_init(&d);
	o.dev = &d.dev;
	ck_assert_int_eq(cvmm_virtio_mmio_create(&o, &m), 0);
	core = cvmm_virtio_mmio_transport(m);
	ck_assert_ptr_nonnull(core);
	ck_assert_ptr_eq(d.dev.transport, core);
	irq = cvmm_virtio_transport_interrupt(core);
	fd = cvmm_virtio_mmio_irq_fd(m);
	for (unsigned int q = 0; q < NQ; q++) {
		ck_assert_int_eq(cvmm_virtio_interrupt_notifier_fd(irq, CVMM_VIRTIO_IRQ_QUEUE, q), fd);
		ck_assert_int_eq(cvmm_virtio_transport_notify_fd(core, q),
				 cvmm_virtio_mmio_notify_fd(m, q));
	}
	ck_assert_int_eq(cvmm_virtio_interrupt_notifier_fd(irq, CVMM_VIRTIO_IRQ_CONFIG, 0), fd);
	ck_assert_int_eq(cvmm_virtio_interrupt_notifier_fd(irq, CVMM_VIRTIO_IRQ_QUEUE, NQ),
			 -EINVAL);
	cvmm_virtio_device_signal_used(&d.dev, 2);
	ck_assert_uint_eq(fired(fd), 1);
	ck_assert_int_eq(cvmm_virtio_mmio_access(m, CVMM_VIRTIO_MMIO_INTERRUPT_STATUS, &isr, 4,
						 false), 0);
	ck_assert_uint_eq(isr, CVMM_VIRTIO_ISR_USED);
	cvmm_virtio_device_config_changed(&d.dev);
	cvmm_virtio_device_signal_used(&d.dev, 3);
	ck_assert_uint_eq(fired(fd), 2);
	ck_assert_int_eq(cvmm_virtio_mmio_access(m, CVMM_VIRTIO_MMIO_INTERRUPT_STATUS, &isr, 4,
						 false), 0);
	ck_assert_uint_eq(isr, CVMM_VIRTIO_ISR_USED | CVMM_VIRTIO_ISR_CONFIG);
	isr = CVMM_VIRTIO_ISR_USED;
	ck_assert_int_eq(cvmm_virtio_mmio_access(m, CVMM_VIRTIO_MMIO_INTERRUPT_ACK, &isr, 4,
						 true), 0);
	ck_assert_uint_eq(cvmm_virtio_transport_isr(core), CVMM_VIRTIO_ISR_CONFIG);
	ck_assert_uint_eq(cvmm_virtio_transport_isr_take(core), CVMM_VIRTIO_ISR_CONFIG);
	ck_assert_uint_eq(cvmm_virtio_transport_isr(core), 0);
	/* the register map reads the core: the same device id, the same queues */
	ck_assert_int_eq(cvmm_virtio_mmio_access(m, CVMM_VIRTIO_MMIO_DEVICE_ID, &isr, 4, false), 0);
	ck_assert_uint_eq(isr, TOY_ID);
	cvmm_virtio_mmio_destroy(m);
	ck_assert_ptr_null(d.dev.transport);
	ck_assert_ptr_null(d.dev.signal);
	/* detached: signalling does nothing */
	cvmm_virtio_device_signal_used(&d.dev, 0);
	cvmm_virtio_device_config_changed(&d.dev);
	cvmm_virtio_device_set_needs_reset(&d.dev);
}
END_TEST

/* Every refusal says which field and why; nothing half-restored stays. */
START_TEST(restore_refusals_name_the_field)
{
	struct cvmm_virtio_transport_state s, bad;
	struct cvmm_virtio_transport *t2;
	struct toy d2;
	char err[160];

	bring_up();
	cvmm_virtio_transport_isr_raise(T, CVMM_VIRTIO_ISR_USED);
	ck_assert_int_eq(cvmm_virtio_transport_save(T, &s, NULL, 0), 0);
	ck_assert_uint_eq(s.version, CVMM_VIRTIO_TRANSPORT_STATE_VERSION);
	ck_assert_uint_eq(s.device_active, 1);
	ck_assert_uint_eq(s.isr, CVMM_VIRTIO_ISR_USED);
	ck_assert(s.queues[3].active);
	toy_init(&d2);
	create_core(&t2, &d2);

#define REFUSED(field, val, word)                                                       \
	do {                                                                            \
		bad = s;                                                                \
		bad.field = val;                                                        \
		memset(err, 0, sizeof(err));                                            \
		ck_assert_int_eq(cvmm_virtio_transport_restore(t2, &bad, NULL, 0, err,  \
							       sizeof(err)),            \
				 -EINVAL);                                              \
		ck_assert_msg(strstr(err, word) != NULL, "'%s' lacks '%s'", err, word); \
		ck_assert_uint_eq(d2.activations, 0);                                   \
	} while (0)
	REFUSED(version, 2, "version");
	REFUSED(device_id, CVMM_VIRTIO_ID_BLOCK, "device_id");
	REFUSED(num_queues, NQ + 1, "num_queues");
	REFUSED(status, 0x30 | S_ACK, "status");
	REFUSED(status, S_ACK | S_FOK | S_DOK, "FEATURES_OK without DRIVER");
	REFUSED(status, S_DRV, "DRIVER without ACKNOWLEDGE");
	REFUSED(status, S_ACK | S_DRV | S_DOK, "DRIVER_OK without FEATURES_OK");
	REFUSED(isr, 4, "isr");
	REFUSED(driver_features, TOY_FEATURE, "VERSION_1");
	REFUSED(driver_features, V1 | (1ull << 40), "never offered");
	REFUSED(device_active, 2, "device_active");
	REFUSED(status, S_ACK | S_DRV | S_FOK, "device_active");
	REFUSED(regs[1].num, QMAX + 1, "regs[1].num");
	REFUSED(regs[1].num, 0, "regs[1].num");
	REFUSED(regs[2].num, 24, "power of two");
	REFUSED(regs[0].ready, 2, "regs[0].ready");
	REFUSED(regs[NQ].num, 8, "regs[4]");
	REFUSED(queues[3].size, 32, "queues[3].size");
	REFUSED(queues[1].features, V1 | CVMM_VIRTIO_F_EVENT_IDX, "queues[1].features");
	REFUSED(regs[3].ready, 0, "queues[3].active");
	REFUSED(queues[0].version, 9, "queues[0]");
	/* device state for a device that keeps none */
	memset(err, 0, sizeof(err));
	ck_assert_int_eq(cvmm_virtio_transport_restore(t2, &s, "abcd", 4, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "device state"));
	/* a short buffer gets a truncated, terminated message; none is fine */
	bad = s;
	bad.version = 7;
	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(cvmm_virtio_transport_restore(t2, &bad, NULL, 0, err, 8), -EINVAL);
	ck_assert_uint_eq(strlen(err), 7);
	ck_assert_int_eq(cvmm_virtio_transport_restore(t2, &bad, NULL, 0, NULL, 0), -EINVAL);
	/* the refusals left t2 fresh: the real state goes in, once */
	ck_assert_int_eq(cvmm_virtio_transport_restore(t2, &s, NULL, 0, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	ck_assert_uint_eq(d2.activations, 1);
	ck_assert_int_eq(cvmm_virtio_transport_restore(t2, &s, NULL, 0, err, sizeof(err)), -EBUSY);
	ck_assert_ptr_nonnull(strstr(err, "fresh"));
	ck_assert_uint_eq(cvmm_virtio_transport_status(t2), S_ACK | S_DRV | S_FOK | S_DOK);
	ck_assert_uint_eq(cvmm_virtio_transport_isr(t2), CVMM_VIRTIO_ISR_USED);
	/* the restored core saves what it was given */
	ck_assert_int_eq(cvmm_virtio_transport_save(t2, &bad, NULL, 0), 0);
	ck_assert_int_eq(memcmp(&bad, &s, sizeof(s)), 0);
	/* and kicks that arrived meanwhile are looked at */
	while (cvmm_event_manager_run_once(EM, 0) > 0)
		;
	ck_assert_uint_ge(d2.events[0], 1);
	cvmm_virtio_transport_destroy(t2);
	ck_assert_uint_eq(d2.resets, 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("virtio-transport");
	TCase *t = tcase_create("core");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 30);
	tcase_add_test(t, identity_and_offer);
	tcase_add_test(t, hostile_status_orders);
	tcase_add_test(t, features_outside_offer);
	tcase_add_test(t, queue_sizes);
	tcase_add_test(t, queue_outside_ram);
	tcase_add_test(t, reset_mid_activation);
	tcase_add_test(t, per_queue_interrupts);
	tcase_add_test(t, mmio_one_line);
	tcase_add_test(t, restore_refusals_name_the_field);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	Suite *s[] = { suite(), NULL };

	return cvmm_test_run(s);
}
