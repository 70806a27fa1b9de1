/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-pci driven the way a driver does it: through a PCI segment's ECAM
 * (enumeration, BAR sizing and programming, capability walk, MSI-X enable)
 * and BAR 0 accesses (common configuration, notify, ISR, device
 * configuration, MSI-X table and PBA). A toy device with three queues; the
 * test thread plays the vCPU and, through run(), the device thread.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cvmm/pci.h>
#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/pci.h>

#include "cvmm-test.h"

#define NQ 3u
#define QMAX 64u
#define TOY_ID 4u          /* rng: class 0xff0000 */
#define MEM_SIZE (1ull << 20)
#define SLOT 1u
#define BAR_ADDR 0xc0000000u
#define V1 CVMM_VIRTIO_F_VERSION_1

struct toy {
	struct cvmm_virtio_device dev;
	unsigned int activations, resets, events[NQ];
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
	(void)mem;
	(void)queues;
	(void)nq;
	(void)features;
	CVMM_CONTAINER_OF(dev, struct toy, dev)->activations++;
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
	t->dev.num_queues = NQ;
	for (unsigned int i = 0; i < NQ; i++)
		t->dev.queue_max_size[i] = QMAX;
}

/* ---- fixture ------------------------------------------------------------- */

struct routes {
	int updates;
	bool usable[NQ + 1];
	uint32_t data[NQ + 1];
};

static struct cvmm_guest_mem *MEM;
static struct cvmm_event_manager *EM;
static struct cvmm_pci_segment *SEG;
static struct toy DEV;
static struct cvmm_virtio_pci *T;
static struct routes ROUTES;
static uint64_t MAPPED = CVMM_PCI_BAR_ADDR_NONE;

static void on_update(void *opaque, unsigned int v, const struct cvmm_pci_msi_msg *msg,
		      bool usable)
{
	struct routes *r = opaque;

	ck_assert_uint_lt(v, NQ + 1);
	r->updates++;
	r->usable[v] = usable;
	r->data[v] = msg->data;
}

static void on_bar(void *opaque, const struct cvmm_pci_bar_event *ev)
{
	(void)opaque;
	ck_assert_uint_eq(ev->bar, 0);
	ck_assert_uint_eq(ev->old_addr, MAPPED);
	MAPPED = ev->new_addr;
}

static const struct cvmm_pci_dev_ops dev_ops = { .bar_event = on_bar };

static void make_transport(struct cvmm_virtio_pci **out, struct toy *dev, bool bar64)
{
	struct cvmm_virtio_pci_opts o = {
		.sz = sizeof(o), .dev = &dev->dev, .mem = MEM, .em = EM, .bar_64bit = bar64,
		.msix_update = on_update, .opaque = &ROUTES,
	};

	ck_assert_int_eq(cvmm_virtio_pci_create(&o, out), 0);
}

static void setup(void)
{
	struct cvmm_mem_region_opts ro = {
		.sz = sizeof(ro), .gpa = 0, .size = MEM_SIZE, .backing = CVMM_MEM_ANON, .fd = -1,
	};
	struct cvmm_pci_segment_opts so = { .sz = sizeof(so), .ecam_base = 0xe0000000 };

	ck_assert_int_eq(cvmm_guest_mem_create(&MEM), 0);
	ck_assert_int_eq(cvmm_guest_mem_add_region(MEM, &ro), 0);
	ck_assert_int_eq(cvmm_event_manager_create(NULL, &EM), 0);
	so.mem = MEM;
	ck_assert_int_eq(cvmm_pci_segment_create(&so, &SEG), 0);
	memset(&ROUTES, 0, sizeof(ROUTES));
	MAPPED = CVMM_PCI_BAR_ADDR_NONE;
	toy_init(&DEV);
	make_transport(&T, &DEV, false);
	ck_assert_int_eq(cvmm_pci_segment_add(SEG, SLOT, cvmm_virtio_pci_config(T), &dev_ops,
					      NULL), (int)SLOT);
}

static void teardown(void)
{
	cvmm_pci_segment_remove(SEG, SLOT);
	cvmm_virtio_pci_destroy(T);
	cvmm_pci_segment_destroy(SEG);
	cvmm_event_manager_destroy(EM);
	cvmm_guest_mem_destroy(MEM);
}

static void run(void)
{
	struct cvmm_virtio_transport *c = cvmm_virtio_pci_transport(T);

	for (int i = 0; i < 100 && !cvmm_virtio_transport_settled(c); i++)
		ck_assert_int_ge(cvmm_event_manager_run_once(EM, 10), 0);
	ck_assert(cvmm_virtio_transport_settled(c));
	while (cvmm_event_manager_run_once(EM, 0) > 0)
		;
}

/* Configuration space through ECAM, 00:01.0. */
static uint32_t cfg_rd(uint32_t reg, unsigned int len)
{
	uint32_t v = 0;

	ck_assert_int_eq(cvmm_pci_segment_ecam(SEG, SLOT << 15 | reg, &v, len, false), 0);
	return v;
}

static void cfg_wr(uint32_t reg, uint32_t v, unsigned int len)
{
	ck_assert_int_eq(cvmm_pci_segment_ecam(SEG, SLOT << 15 | reg, &v, len, true), 0);
}

/* BAR 0, as the VMM routes a guest access (only where it is mapped). */
static uint64_t bar_rd(uint32_t off, unsigned int len)
{
	uint64_t v = 0;

	ck_assert_int_eq(cvmm_virtio_pci_bar_access(T, off, &v, len, false), 0);
	return v;
}

static void bar_wr(uint32_t off, uint64_t v, unsigned int len)
{
	ck_assert_int_eq(cvmm_virtio_pci_bar_access(T, off, &v, len, true), 0);
}

static bool fired(int fd)
{
	uint64_t v;

	return cvmm_eventfd_read(fd, &v) == 0 && v > 0;
}

static void drain_all(void)
{
	for (unsigned int v = 0; v < NQ + 1; v++)
		fired(cvmm_virtio_pci_vector_fd(T, v));
	fired(cvmm_virtio_pci_intx_fd(T));
}

/* Find the virtio capability of @type as a driver does; its offset. */
static uint32_t find_vcap(uint8_t type)
{
	uint32_t off = cfg_rd(CVMM_PCI_CAPABILITY_LIST, 1);

	for (int n = 0; off && n < 48; n++) {
		if (cfg_rd(off, 1) == CVMM_PCI_CAP_ID_VNDR && cfg_rd(off + 3, 1) == type)
			return off;
		off = cfg_rd(off + 1, 1);
	}
	return 0;
}

static void map_bar(void)
{
	cfg_wr(CVMM_PCI_BAR0, 0xffffffff, 4);
	ck_assert_uint_eq(cfg_rd(CVMM_PCI_BAR0, 4), (uint32_t)~(CVMM_VIRTIO_PCI_BAR_SIZE - 1));
	cfg_wr(CVMM_PCI_BAR0, BAR_ADDR, 4);
	cfg_wr(CVMM_PCI_COMMAND, CVMM_PCI_COMMAND_MEMORY | CVMM_PCI_COMMAND_MASTER, 2);
	ck_assert_uint_eq(MAPPED, BAR_ADDR);
}

static uint32_t msix_cap(void)
{
	int off = cvmm_pci_config_find_cap(cvmm_virtio_pci_config(T), CVMM_PCI_CAP_ID_MSIX, 0);

	ck_assert_int_gt(off, 0);
	return (uint32_t)off;
}

static void msix_enable(bool on)
{
	cfg_wr(msix_cap() + 2, on ? CVMM_PCI_MSIX_CTRL_ENABLE : 0, 2);
}

static void msix_program(unsigned int v, uint32_t data, bool masked)
{
	uint32_t e = CVMM_VIRTIO_PCI_MSIX_TABLE_OFFSET + 16 * v;

	bar_wr(e, 0xfee00000, 4);
	bar_wr(e + 4, 0, 4);
	bar_wr(e + 8, data, 4);
	bar_wr(e + 12, masked, 4);
}

#define C(x) (CVMM_VIRTIO_PCI_COMMON_OFFSET + CVMM_VIRTIO_PCI_##x)

/* The Linux virtio_pci_modern sequence up to DRIVER_OK, with queue q on
 * vector q + 1 and config on vector 0 when @msix. */
static void driver_init(bool msix)
{
	uint64_t f;

	map_bar();
	bar_wr(C(DEVICE_STATUS), 0, 1);
	run();
	bar_wr(C(DEVICE_STATUS), CVMM_VIRTIO_S_ACKNOWLEDGE, 1);
	bar_wr(C(DEVICE_STATUS), CVMM_VIRTIO_S_ACKNOWLEDGE | CVMM_VIRTIO_S_DRIVER, 1);
	bar_wr(C(DEVICE_FEATURE_SELECT), 0, 4);
	f = bar_rd(C(DEVICE_FEATURE), 4);
	bar_wr(C(DEVICE_FEATURE_SELECT), 1, 4);
	f |= bar_rd(C(DEVICE_FEATURE), 4) << 32;
	ck_assert(f & V1);
	bar_wr(C(DRIVER_FEATURE_SELECT), 0, 4);
	bar_wr(C(DRIVER_FEATURE), 0, 4);
	bar_wr(C(DRIVER_FEATURE_SELECT), 1, 4);
	bar_wr(C(DRIVER_FEATURE), (uint32_t)(V1 >> 32), 4);
	bar_wr(C(DEVICE_STATUS), 0x0b, 1);
	ck_assert_uint_eq(bar_rd(C(DEVICE_STATUS), 1), 0x0b);
	if (msix) {
		msix_enable(true);
		for (unsigned int v = 0; v < NQ + 1; v++)
			msix_program(v, 0x40 + v, false);
		bar_wr(C(CONFIG_MSIX_VECTOR), 0, 2);
		ck_assert_uint_eq(bar_rd(C(CONFIG_MSIX_VECTOR), 2), 0);
	}
	ck_assert_uint_eq(bar_rd(C(NUM_QUEUES), 2), NQ);
	for (unsigned int q = 0; q < NQ; q++) {
		uint64_t base = 0x10000 + q * 0x4000ull;

		bar_wr(C(QUEUE_SELECT), q, 2);
		ck_assert_uint_eq(bar_rd(C(QUEUE_SIZE), 2), QMAX);
		bar_wr(C(QUEUE_SIZE), 32, 2);
		ck_assert_uint_eq(bar_rd(C(QUEUE_NOTIFY_OFF), 2), q);
		if (msix) {
			bar_wr(C(QUEUE_MSIX_VECTOR), q + 1, 2);
			ck_assert_uint_eq(bar_rd(C(QUEUE_MSIX_VECTOR), 2), q + 1);
		}
		/* Two halves (Linux's vp_iowrite64_twopart) and one qword. */
		bar_wr(C(QUEUE_DESC), (uint32_t)base, 4);
		bar_wr(C(QUEUE_DESC) + 4, 0, 4);
		bar_wr(C(QUEUE_DRIVER), base + 0x1000, 8);
		bar_wr(C(QUEUE_DEVICE), base + 0x2000, 8);
		ck_assert_uint_eq(bar_rd(C(QUEUE_DRIVER), 8), base + 0x1000);
		bar_wr(C(QUEUE_ENABLE), 1, 2);
		ck_assert_uint_eq(bar_rd(C(QUEUE_ENABLE), 2), 1);
	}
	bar_wr(C(DEVICE_STATUS), 0x0f, 1);
	run();
	ck_assert_uint_eq(DEV.activations, 1);
	ck_assert_uint_eq(bar_rd(C(DEVICE_STATUS), 1), 0x0f);
	drain_all();
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(identity_and_caps)
{
	uint32_t off, cap;

	ck_assert_uint_eq(cfg_rd(0, 2), CVMM_VIRTIO_PCI_VENDOR_ID);
	ck_assert_uint_eq(cfg_rd(2, 2), 0x1040 + TOY_ID);
	ck_assert_uint_eq(cfg_rd(8, 1), 1);                /* revision: modern */
	ck_assert_uint_eq(cfg_rd(8, 4) >> 8, 0xff0000);
	ck_assert_uint_eq(cfg_rd(CVMM_PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	ck_assert_uint_eq(cfg_rd(CVMM_PCI_SUBSYSTEM_ID, 2), 0x40);
	ck_assert_uint_eq(cfg_rd(CVMM_PCI_INTERRUPT_PIN, 1), 1);
	ck_assert(cfg_rd(CVMM_PCI_STATUS, 2) & CVMM_PCI_STATUS_CAP_LIST);
	/* Each virtio capability: BAR 0, its offset and length. */
	off = find_vcap(CVMM_VIRTIO_PCI_CAP_COMMON_CFG);
	ck_assert_uint_ne(off, 0);
	ck_assert_uint_eq(cfg_rd(off + 2, 1), 16);
	ck_assert_uint_eq(cfg_rd(off + 4, 1), 0);
	ck_assert_uint_eq(cfg_rd(off + 8, 4), CVMM_VIRTIO_PCI_COMMON_OFFSET);
	ck_assert_uint_eq(cfg_rd(off + 12, 4), CVMM_VIRTIO_PCI_COMMON_SIZE);
	off = find_vcap(CVMM_VIRTIO_PCI_CAP_NOTIFY_CFG);
	ck_assert_uint_eq(cfg_rd(off + 2, 1), 20);
	ck_assert_uint_eq(cfg_rd(off + 8, 4), CVMM_VIRTIO_PCI_NOTIFY_OFFSET);
	ck_assert_uint_eq(cfg_rd(off + 12, 4), NQ * 4);
	ck_assert_uint_eq(cfg_rd(off + 16, 4), CVMM_VIRTIO_PCI_NOTIFY_MULTIPLIER);
	off = find_vcap(CVMM_VIRTIO_PCI_CAP_ISR_CFG);
	ck_assert_uint_eq(cfg_rd(off + 8, 4), CVMM_VIRTIO_PCI_ISR_OFFSET);
	off = find_vcap(CVMM_VIRTIO_PCI_CAP_DEVICE_CFG);
	ck_assert_uint_eq(cfg_rd(off + 8, 4), CVMM_VIRTIO_PCI_DEVICE_OFFSET);
	ck_assert_uint_eq(cfg_rd(off + 12, 4), 8);
	ck_assert_uint_ne(find_vcap(CVMM_VIRTIO_PCI_CAP_PCI_CFG), 0);
	/* Capabilities are read-only to the guest (but the PCI_CFG window). */
	off = find_vcap(CVMM_VIRTIO_PCI_CAP_COMMON_CFG);
	cfg_wr(off + 8, 0x1234, 4);
	cfg_wr(off + 1, 0, 1);
	ck_assert_uint_eq(cfg_rd(off + 8, 4), 0);
	ck_assert_uint_ne(cfg_rd(off + 1, 1), 0);
	/* MSI-X: NQ + 1 vectors, table and PBA in BAR 0. */
	cap = msix_cap();
	ck_assert_uint_eq(cfg_rd(cap + 2, 2) & 0x7ff, NQ);
	ck_assert_uint_eq(cfg_rd(cap + 4, 4), CVMM_VIRTIO_PCI_MSIX_TABLE_OFFSET);
	ck_assert_uint_eq(cfg_rd(cap + 8, 4), CVMM_VIRTIO_PCI_MSIX_PBA_OFFSET);
	/* BAR 0: 32-bit, sized, mapped where the guest puts it. */
	ck_assert_uint_eq(cfg_rd(CVMM_PCI_BAR0, 4), 0);
	map_bar();
	cfg_wr(CVMM_PCI_BAR0, BAR_ADDR + 0x100000, 4);
	ck_assert_uint_eq(MAPPED, BAR_ADDR + 0x100000);
	ck_assert_int_eq(cvmm_virtio_pci_notify_offset(T, 2), CVMM_VIRTIO_PCI_NOTIFY_OFFSET + 8);
	ck_assert_int_eq(cvmm_virtio_pci_notify_offset(T, NQ), -EINVAL);
	ck_assert_uint_eq(cvmm_virtio_pci_num_vectors(T), NQ + 1);
	/* Device configuration through the BAR. */
	ck_assert_uint_eq(bar_rd(CVMM_VIRTIO_PCI_DEVICE_OFFSET + 2, 2), 0xa3a2);
	ck_assert_uint_eq(bar_rd(CVMM_VIRTIO_PCI_DEVICE_OFFSET + 8, 1), 0);
}
END_TEST

START_TEST(bar64)
{
	struct cvmm_virtio_pci *t2;
	struct toy d2;
	struct cvmm_pci_bar_info bi;

	toy_init(&d2);
	make_transport(&t2, &d2, true);
	ck_assert_int_eq(cvmm_pci_config_bar(cvmm_virtio_pci_config(t2), 0, &bi), 0);
	ck_assert_int_eq(bi.type, CVMM_PCI_BAR_MEM64);
	ck_assert_uint_eq(bi.size, CVMM_VIRTIO_PCI_BAR_SIZE);
	cvmm_virtio_pci_destroy(t2);
}
END_TEST

START_TEST(msix_per_queue)
{
	struct cvmm_virtio_interrupt *irq = cvmm_virtio_transport_interrupt(
		cvmm_virtio_pci_transport(T));
	uint32_t e2 = CVMM_VIRTIO_PCI_MSIX_TABLE_OFFSET + 16 * 2;

	driver_init(true);
	/* The routes the VMM was asked to program. */
	for (unsigned int v = 0; v < NQ + 1; v++) {
		ck_assert(ROUTES.usable[v]);
		ck_assert_uint_eq(ROUTES.data[v], 0x40 + v);
	}
	/* A vhost-user backend's call fd for queue 1 is vector 2's eventfd. */
	ck_assert_int_eq(cvmm_virtio_interrupt_notifier_fd(irq, CVMM_VIRTIO_IRQ_QUEUE, 1),
			 cvmm_virtio_pci_vector_fd(T, 2));
	ck_assert_int_eq(cvmm_virtio_interrupt_notifier_fd(irq, CVMM_VIRTIO_IRQ_CONFIG, 0),
			 cvmm_virtio_pci_vector_fd(T, 0));
	ck_assert_int_eq(cvmm_virtio_interrupt_notifier_fd(irq, CVMM_VIRTIO_IRQ_QUEUE, NQ),
			 -EINVAL);

	/* Notify: the address names the queue; also the ioeventfd path. */
	memset(DEV.events, 0, sizeof(DEV.events));
	bar_wr(CVMM_VIRTIO_PCI_NOTIFY_OFFSET + 4, 1, 2);
	run();
	ck_assert_uint_eq(DEV.events[1], 1);
	ck_assert_uint_eq(DEV.events[0] + DEV.events[2], 0);
	ck_assert_int_eq(cvmm_eventfd_write(cvmm_virtio_pci_notify_fd(T, 2), 1), 0);
	run();
	ck_assert_uint_eq(DEV.events[2], 1);

	/* Used buffers on queue 1: vector 2 only; config: vector 0 only. */
	cvmm_virtio_device_signal_used(&DEV.dev, 1);
	ck_assert(fired(cvmm_virtio_pci_vector_fd(T, 2)));
	ck_assert(!fired(cvmm_virtio_pci_vector_fd(T, 0)));
	ck_assert(!fired(cvmm_virtio_pci_vector_fd(T, 1)));
	ck_assert(!fired(cvmm_virtio_pci_vector_fd(T, 3)));
	ck_assert(!fired(cvmm_virtio_pci_intx_fd(T)));
	ck_assert_uint_eq(bar_rd(CVMM_VIRTIO_PCI_ISR_OFFSET, 1), 0);   /* no ISR with MSI-X */
	cvmm_virtio_device_config_changed(&DEV.dev);
	ck_assert(fired(cvmm_virtio_pci_vector_fd(T, 0)));
	ck_assert(!fired(cvmm_virtio_pci_vector_fd(T, 2)));
	ck_assert_uint_eq(bar_rd(C(CONFIG_GENERATION), 1), 1);

	/* Mask vector 2: remembered, delivered on unmask, once. */
	bar_wr(e2 + 12, 1, 4);
	ck_assert(!ROUTES.usable[2]);
	cvmm_virtio_device_signal_used(&DEV.dev, 1);
	cvmm_virtio_device_signal_used(&DEV.dev, 1);
	ck_assert(!fired(cvmm_virtio_pci_vector_fd(T, 2)));
	ck_assert_uint_eq(bar_rd(CVMM_VIRTIO_PCI_MSIX_PBA_OFFSET, 8), 1u << 2);
	bar_wr(e2 + 12, 0, 4);
	ck_assert(ROUTES.usable[2]);
	ck_assert(fired(cvmm_virtio_pci_vector_fd(T, 2)));
	ck_assert(!fired(cvmm_virtio_pci_vector_fd(T, 2)));
	ck_assert_uint_eq(bar_rd(CVMM_VIRTIO_PCI_MSIX_PBA_OFFSET, 8), 0);
	/* Function mask holds every vector. */
	cfg_wr(msix_cap() + 2, CVMM_PCI_MSIX_CTRL_ENABLE | CVMM_PCI_MSIX_CTRL_MASKALL, 2);
	cvmm_virtio_device_signal_used(&DEV.dev, 0);
	ck_assert(!fired(cvmm_virtio_pci_vector_fd(T, 1)));
	cfg_wr(msix_cap() + 2, CVMM_PCI_MSIX_CTRL_ENABLE, 2);
	ck_assert(fired(cvmm_virtio_pci_vector_fd(T, 1)));

	/* Queue 2 moved to vector 1 (shared with queue 0) by the driver. */
	bar_wr(C(QUEUE_SELECT), 2, 2);
	bar_wr(C(QUEUE_MSIX_VECTOR), 1, 2);
	cvmm_virtio_device_signal_used(&DEV.dev, 2);
	ck_assert(fired(cvmm_virtio_pci_vector_fd(T, 1)));
	ck_assert(!fired(cvmm_virtio_pci_vector_fd(T, 3)));
	/* NO_VECTOR: no interrupt at all. */
	bar_wr(C(QUEUE_MSIX_VECTOR), CVMM_VIRTIO_PCI_NO_VECTOR, 2);
	cvmm_virtio_device_signal_used(&DEV.dev, 2);
	for (unsigned int v = 0; v < NQ + 1; v++)
		ck_assert(!fired(cvmm_virtio_pci_vector_fd(T, v)));
	ck_assert(!fired(cvmm_virtio_pci_intx_fd(T)));
	ck_assert_int_eq(cvmm_virtio_interrupt_notifier_fd(irq, CVMM_VIRTIO_IRQ_QUEUE, 2),
			 -ENOENT);

	/* Reset: vectors back to NO_VECTOR, device reset on its thread. */
	bar_wr(C(DEVICE_STATUS), 0, 1);
	run();
	ck_assert_uint_eq(DEV.resets, 1);
	ck_assert_uint_eq(bar_rd(C(DEVICE_STATUS), 1), 0);
	ck_assert_uint_eq(bar_rd(C(CONFIG_MSIX_VECTOR), 2), CVMM_VIRTIO_PCI_NO_VECTOR);
	bar_wr(C(QUEUE_SELECT), 0, 2);
	ck_assert_uint_eq(bar_rd(C(QUEUE_MSIX_VECTOR), 2), CVMM_VIRTIO_PCI_NO_VECTOR);
	ck_assert_uint_eq(cvmm_virtio_pci_queue_vector(T, 1), CVMM_VIRTIO_PCI_NO_VECTOR);
}
END_TEST

START_TEST(intx_fallback)
{
	driver_init(false);
	cvmm_virtio_device_signal_used(&DEV.dev, 0);
	ck_assert(fired(cvmm_virtio_pci_intx_fd(T)));
	for (unsigned int v = 0; v < NQ + 1; v++)
		ck_assert(!fired(cvmm_virtio_pci_vector_fd(T, v)));
	/* ISR: read clears; 1-byte reads only. */
	ck_assert_uint_eq(bar_rd(CVMM_VIRTIO_PCI_ISR_OFFSET, 4), 0);
	ck_assert_uint_eq(bar_rd(CVMM_VIRTIO_PCI_ISR_OFFSET, 1), CVMM_VIRTIO_ISR_USED);
	ck_assert_uint_eq(bar_rd(CVMM_VIRTIO_PCI_ISR_OFFSET, 1), 0);
	cvmm_virtio_device_config_changed(&DEV.dev);
	ck_assert(fired(cvmm_virtio_pci_intx_fd(T)));
	bar_wr(CVMM_VIRTIO_PCI_ISR_OFFSET, 0, 1);      /* writes do nothing */
	ck_assert_uint_eq(bar_rd(CVMM_VIRTIO_PCI_ISR_OFFSET, 1), CVMM_VIRTIO_ISR_CONFIG);
	/* Every notifier is the INTx line's fd. */
	ck_assert_int_eq(cvmm_virtio_interrupt_notifier_fd(
				 cvmm_virtio_transport_interrupt(cvmm_virtio_pci_transport(T)),
				 CVMM_VIRTIO_IRQ_QUEUE, 2),
			 cvmm_virtio_pci_intx_fd(T));
	/* Vectors set but MSI-X off: still INTx. */
	bar_wr(C(QUEUE_SELECT), 0, 2);
	bar_wr(C(QUEUE_MSIX_VECTOR), 1, 2);
	cvmm_virtio_device_signal_used(&DEV.dev, 0);
	ck_assert(fired(cvmm_virtio_pci_intx_fd(T)));
	ck_assert(!fired(cvmm_virtio_pci_vector_fd(T, 1)));
	/* MSI-X on: the vector (masked: pending until the table says so). */
	msix_enable(true);
	cvmm_virtio_device_signal_used(&DEV.dev, 0);
	ck_assert(!fired(cvmm_virtio_pci_intx_fd(T)));
	ck_assert(!fired(cvmm_virtio_pci_vector_fd(T, 1)));
	msix_program(1, 0x99, false);
	ck_assert(fired(cvmm_virtio_pci_vector_fd(T, 1)));
}
END_TEST

/* INTx is a level: KVM's resample (the guest's EOI) asserts it again while
 * the ISR still holds a bit, never once the driver has read it, and never
 * for MSI-X. */
START_TEST(intx_level_resample)
{
	int rs = cvmm_virtio_pci_intx_resample_fd(T), intx = cvmm_virtio_pci_intx_fd(T);

	ck_assert_int_ge(rs, 0);
	ck_assert_int_ne(rs, intx);
	driver_init(false);
	cvmm_virtio_device_signal_used(&DEV.dev, 0);
	ck_assert(fired(intx));
	for (int i = 0; i < 3; i++) {          /* EOI, ISR unread: up again */
		ck_assert_int_eq(cvmm_eventfd_write(rs, 1), 0);
		ck_assert_int_eq(cvmm_event_manager_run_once(EM, 100), 1);
		ck_assert(fired(intx));
	}
	ck_assert_uint_eq(bar_rd(CVMM_VIRTIO_PCI_ISR_OFFSET, 1), CVMM_VIRTIO_ISR_USED);
	ck_assert_int_eq(cvmm_eventfd_write(rs, 1), 0);
	ck_assert_int_eq(cvmm_event_manager_run_once(EM, 100), 1);
	ck_assert(!fired(intx));
	/* MSI-X on with the ISR set: the line is not the device's any more. */
	bar_wr(C(QUEUE_SELECT), 0, 2);
	bar_wr(C(QUEUE_MSIX_VECTOR), 1, 2);
	msix_enable(true);
	msix_program(1, 0x99, false);
	cvmm_virtio_device_config_changed(&DEV.dev);
	ck_assert_int_eq(cvmm_eventfd_write(rs, 1), 0);
	ck_assert_int_eq(cvmm_event_manager_run_once(EM, 100), 1);
	ck_assert(!fired(intx));
}
END_TEST

/* A backend that writes the interrupt fd itself: with INTx the ISR shows
 * the used bit always (the driver's handler would call it spurious). */
START_TEST(used_irq_direct)
{
	struct cvmm_virtio_pci_opts o = { .sz = sizeof(o), .mem = MEM, .em = EM,
					  .used_irq_direct = true };
	struct cvmm_virtio_pci *t2;
	struct toy d2;
	uint64_t v = 0;

	toy_init(&d2);
	o.dev = &d2.dev;
	ck_assert_int_eq(cvmm_virtio_pci_create(&o, &t2), 0);
	ck_assert_int_eq(cvmm_virtio_pci_bar_access(t2, CVMM_VIRTIO_PCI_ISR_OFFSET, &v, 1, false),
			 0);
	ck_assert_uint_eq(v, CVMM_VIRTIO_ISR_USED);
	cvmm_virtio_device_config_changed(&d2.dev);
	ck_assert_int_eq(cvmm_virtio_pci_bar_access(t2, CVMM_VIRTIO_PCI_ISR_OFFSET, &v, 1, false),
			 0);
	ck_assert_uint_eq(v, CVMM_VIRTIO_ISR_USED | CVMM_VIRTIO_ISR_CONFIG);
	cvmm_virtio_pci_destroy(t2);
	/* Without the option the ISR is what the interrupts set. */
	ck_assert_uint_eq(bar_rd(CVMM_VIRTIO_PCI_ISR_OFFSET, 1), 0);
}
END_TEST

START_TEST(pci_cfg_window)
{
	uint32_t w = find_vcap(CVMM_VIRTIO_PCI_CAP_PCI_CFG);

	/* No BAR mapping needed: the window reaches BAR 0 through config
	 * space. Read num_queues, write queue_select, read it back. */
	cfg_wr(w + 4, 0, 1);
	cfg_wr(w + 8, C(NUM_QUEUES), 4);
	cfg_wr(w + 12, 2, 4);
	ck_assert_uint_eq(cfg_rd(w + 16, 2), NQ);
	cfg_wr(w + 8, C(QUEUE_SELECT), 4);
	cfg_wr(w + 16, 2, 2);
	ck_assert_uint_eq(bar_rd(C(QUEUE_SELECT), 2), 2);
	ck_assert_uint_eq(cfg_rd(w + 16, 2), 2);
	/* Hostile windows: another BAR, bad length, misaligned, past the
	 * BAR: nothing happens. */
	cfg_wr(w + 4, 3, 1);
	cfg_wr(w + 16, 0, 2);
	ck_assert_uint_eq(bar_rd(C(QUEUE_SELECT), 2), 2);
	cfg_wr(w + 4, 0, 1);
	cfg_wr(w + 12, 3, 4);
	cfg_wr(w + 16, 0, 2);
	cfg_wr(w + 12, 2, 4);
	cfg_wr(w + 8, C(QUEUE_SELECT) + 1, 4);
	cfg_wr(w + 16, 0, 2);
	cfg_wr(w + 8, 0x10000000, 4);
	cfg_wr(w + 16, 0, 2);
	ck_assert_uint_eq(bar_rd(C(QUEUE_SELECT), 2), 2);
}
END_TEST

START_TEST(hostile_registers)
{
	uint64_t f;
	int i;

	map_bar();
	/* Wrong widths on common fields: read 0, ignored. */
	bar_wr(C(QUEUE_SELECT), 1, 1);
	bar_wr(C(QUEUE_SELECT), 1, 4);
	ck_assert_uint_eq(bar_rd(C(QUEUE_SELECT), 2), 0);
	ck_assert_uint_eq(bar_rd(C(NUM_QUEUES), 4), 0);
	ck_assert_uint_eq(bar_rd(C(DEVICE_FEATURE) + 1, 1), 0);
	bar_wr(C(DEVICE_FEATURE_SELECT), 1, 2);
	ck_assert_uint_eq(bar_rd(C(DEVICE_FEATURE_SELECT), 4), 0);
	ck_assert_uint_eq(bar_rd(C(DEVICE_STATUS), 2), 0);
	/* Read-only fields. */
	bar_wr(C(NUM_QUEUES), 9, 2);
	bar_wr(C(CONFIG_GENERATION), 9, 1);
	bar_wr(C(QUEUE_NOTIFY_OFF), 9, 2);
	bar_wr(C(DEVICE_FEATURE), 0, 4);
	ck_assert_uint_eq(bar_rd(C(NUM_QUEUES), 2), NQ);
	ck_assert_uint_eq(bar_rd(C(CONFIG_GENERATION), 1), 0);
	ck_assert_uint_eq(bar_rd(C(QUEUE_NOTIFY_OFF), 2), 0);
	bar_wr(C(DEVICE_FEATURE_SELECT), 1, 4);
	ck_assert_uint_eq(bar_rd(C(DEVICE_FEATURE), 4) & 1, 1);   /* VERSION_1 */
	/* Vectors the table lacks read back NO_VECTOR; a queue the device
	 * lacks has none and no size. */
	bar_wr(C(CONFIG_MSIX_VECTOR), NQ + 1, 2);
	ck_assert_uint_eq(bar_rd(C(CONFIG_MSIX_VECTOR), 2), CVMM_VIRTIO_PCI_NO_VECTOR);
	bar_wr(C(QUEUE_SELECT), NQ, 2);
	bar_wr(C(QUEUE_MSIX_VECTOR), 1, 2);
	ck_assert_uint_eq(bar_rd(C(QUEUE_MSIX_VECTOR), 2), CVMM_VIRTIO_PCI_NO_VECTOR);
	ck_assert_uint_eq(bar_rd(C(QUEUE_SIZE), 2), 0);
	bar_wr(C(QUEUE_ENABLE), 1, 2);
	ck_assert_uint_eq(bar_rd(C(QUEUE_ENABLE), 2), 0);
	/* Gaps, past the common structure, past the BAR, notify past the
	 * last queue, bad access lengths. */
	bar_wr(0x38, 0xffffffff, 4);
	ck_assert_uint_eq(bar_rd(0x38, 4), 0);
	ck_assert_uint_eq(bar_rd(0x800, 4), 0);
	ck_assert_uint_eq(bar_rd(CVMM_VIRTIO_PCI_BAR_SIZE + 4, 4), 0);
	bar_wr(CVMM_VIRTIO_PCI_NOTIFY_OFFSET + 4 * NQ, 0, 2);
	run();
	for (unsigned int q = 0; q < NQ; q++)
		ck_assert_uint_eq(DEV.events[q], 0);
	f = 0;
	ck_assert_int_eq(cvmm_virtio_pci_bar_access(T, 0, &f, 3, false), -EINVAL);
	ck_assert_int_eq(cvmm_virtio_pci_bar_access(T, 0, NULL, 4, false), -EINVAL);
	/* FEATURES_OK without VERSION_1 is refused. */
	bar_wr(C(DEVICE_STATUS), 3, 1);
	bar_wr(C(DEVICE_STATUS), 0x0b, 1);
	ck_assert_uint_eq(bar_rd(C(DEVICE_STATUS), 1) & CVMM_VIRTIO_S_FEATURES_OK, 0);
	bar_wr(C(DEVICE_STATUS), 0, 1);
	run();

	/* Random accesses over the whole BAR and the config space, with the
	 * device thread running in between: no crash, and FEATURES_OK never
	 * stands without VERSION_1. */
	srand(13);
	for (i = 0; i < 30000; i++) {
		uint32_t off = (uint32_t)rand() % (CVMM_VIRTIO_PCI_BAR_SIZE + 0x100);
		unsigned int len = 1u << (rand() % 4);
		uint64_t v = (uint64_t)rand() << 31 ^ (uint64_t)rand();

		if (rand() % 4 == 0)
			off %= 0x40;           /* mostly the common registers */
		if (rand() % 8 == 0) {
			uint32_t r = (uint32_t)rand() % 0x100;

			cvmm_pci_segment_ecam(SEG, SLOT << 15 | (r & ~(len - 1)), &v,
					      len > 4 ? 4 : len, rand() & 1);
		} else {
			cvmm_virtio_pci_bar_access(T, off, &v, len, rand() & 1);
		}
		if (i % 50 == 0)
			while (cvmm_event_manager_run_once(EM, 0) > 0)
				;
		if (cvmm_virtio_transport_status(cvmm_virtio_pci_transport(T)) &
		    CVMM_VIRTIO_S_FEATURES_OK) {
			bar_wr(C(DRIVER_FEATURE_SELECT), 1, 4);
			f = bar_rd(C(DRIVER_FEATURE), 4);
			ck_assert(f & (V1 >> 32));
		}
		if (rand() % 100 == 0)
			cvmm_virtio_device_signal_used(&DEV.dev, (unsigned int)rand() % (NQ + 1));
	}
	/* Still a working device after a reset. */
	cfg_wr(CVMM_PCI_COMMAND, 0, 2);
	cfg_wr(CVMM_PCI_BAR0, 0, 4);
	cfg_wr(msix_cap() + 2, 0, 2);
	bar_wr(C(DEVICE_STATUS), 0, 1);
	run();
	DEV.activations = 0;
	driver_init(true);
}
END_TEST

START_TEST(save_restore)
{
	struct cvmm_virtio_pci_state *s = calloc(1, sizeof(*s)), *s2 = calloc(1, sizeof(*s2));
	struct cvmm_virtio_pci *t2;
	struct toy d2;
	char err[240];

	driver_init(true);
	bar_wr(C(QUEUE_SELECT), 2, 2);
	bar_wr(C(QUEUE_MSIX_VECTOR), 1, 2);
	bar_wr(CVMM_VIRTIO_PCI_MSIX_TABLE_OFFSET + 16 * 3 + 12, 1, 4);
	cvmm_virtio_device_signal_used(&DEV.dev, 2);    /* vector 1: fires */
	ck_assert(fired(cvmm_virtio_pci_vector_fd(T, 1)));
	cvmm_virtio_device_signal_used(&DEV.dev, 1);    /* vector 2 */
	ck_assert(fired(cvmm_virtio_pci_vector_fd(T, 2)));
	bar_wr(CVMM_VIRTIO_PCI_MSIX_TABLE_OFFSET + 16 * 2 + 12, 1, 4);
	cvmm_virtio_device_signal_used(&DEV.dev, 1);    /* pending */
	ck_assert_int_eq(cvmm_virtio_pci_save(T, s, NULL, 0), 0);
	ck_assert_uint_eq(s->queue_vector[2], 1);
	ck_assert_uint_eq(s->msix.pba, 1u << 2);

	toy_init(&d2);
	memset(&ROUTES, 0, sizeof(ROUTES));
	make_transport(&t2, &d2, false);
	/* Forged fields, each named; the transport stays fresh. */
	*s2 = *s; s2->version = 7;
	ck_assert_int_eq(cvmm_virtio_pci_restore(t2, s2, NULL, 0, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "version"));
	*s2 = *s; s2->num_vectors = 9;
	ck_assert_int_eq(cvmm_virtio_pci_restore(t2, s2, NULL, 0, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "num_vectors"));
	*s2 = *s; s2->queue_vector[1] = NQ + 1;
	ck_assert_int_eq(cvmm_virtio_pci_restore(t2, s2, NULL, 0, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "queue_vector[1]"));
	*s2 = *s; s2->queue_vector[NQ] = 0;
	ck_assert_int_eq(cvmm_virtio_pci_restore(t2, s2, NULL, 0, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "queue_vector[3]"));
	*s2 = *s; s2->config_vector = 0x100;
	ck_assert_int_eq(cvmm_virtio_pci_restore(t2, s2, NULL, 0, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "config_vector"));
	*s2 = *s; s2->cfg.bytes[2] ^= 1;
	ck_assert_int_eq(cvmm_virtio_pci_restore(t2, s2, NULL, 0, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "device_id"));
	*s2 = *s; s2->msix.entries[0].ctrl = 4;
	ck_assert_int_eq(cvmm_virtio_pci_restore(t2, s2, NULL, 0, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "entries[0].ctrl"));
	*s2 = *s; s2->core.regs[1].num = 3;
	ck_assert_int_eq(cvmm_virtio_pci_restore(t2, s2, NULL, 0, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "regs[1]"));
	/* That last one got past config and MSI-X: both were put back. */
	ck_assert_uint_eq(cvmm_pci_config_get16(cvmm_virtio_pci_config(t2), CVMM_PCI_COMMAND), 0);
	ck_assert(!cvmm_pci_msix_enable_bit(cvmm_virtio_pci_msix(t2)));
	ck_assert_uint_eq(cvmm_virtio_pci_queue_vector(t2, 2), CVMM_VIRTIO_PCI_NO_VECTOR);

	/* The real thing. */
	ck_assert_int_eq(cvmm_virtio_pci_restore(t2, s, NULL, 0, err, sizeof(err)), 0);
	while (cvmm_event_manager_run_once(EM, 0) > 0)
		;
	ck_assert_uint_eq(d2.activations, 1);
	ck_assert_uint_eq(cvmm_virtio_pci_queue_vector(t2, 2), 1);
	ck_assert_uint_eq(cvmm_virtio_pci_config_vector(t2), 0);
	ck_assert(ROUTES.usable[0] && ROUTES.usable[1] && !ROUTES.usable[2] && !ROUTES.usable[3]);
	ck_assert_int_eq(cvmm_virtio_pci_save(t2, s2, NULL, 0), 0);
	ck_assert_int_eq(memcmp(&s->cfg, &s2->cfg, sizeof(s->cfg)), 0);
	ck_assert_int_eq(memcmp(&s->msix, &s2->msix, sizeof(s->msix)), 0);
	ck_assert_int_eq(memcmp(s->queue_vector, s2->queue_vector, sizeof(s->queue_vector)), 0);
	/* The pending vector 2 is delivered when the driver unmasks it. */
	{
		uint64_t v = 0;

		ck_assert_int_eq(cvmm_virtio_pci_bar_access(
					 t2, CVMM_VIRTIO_PCI_MSIX_TABLE_OFFSET + 16 * 2 + 12, &v, 4,
					 true), 0);
		ck_assert(fired(cvmm_virtio_pci_vector_fd(t2, 2)));
	}
	/* A second restore is refused: not fresh. */
	ck_assert_int_eq(cvmm_virtio_pci_restore(t2, s, NULL, 0, err, sizeof(err)), -EBUSY);
	cvmm_virtio_pci_destroy(t2);
	free(s);
	free(s2);
}
END_TEST

static Suite *vpci_suite(void)
{
	Suite *s = suite_create("virtio-pci");
	TCase *tc = tcase_create("virtio-pci");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, identity_and_caps);
	tcase_add_test(tc, bar64);
	tcase_add_test(tc, msix_per_queue);
	tcase_add_test(tc, intx_fallback);
	tcase_add_test(tc, intx_level_resample);
	tcase_add_test(tc, pci_cfg_window);
	tcase_add_test(tc, used_irq_direct);
	tcase_add_test(tc, hostile_registers);
	tcase_add_test(tc, save_restore);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return cvmm_test_run((Suite *[]){ vpci_suite(), NULL });
}
