/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Multiqueue virtio-net over virtio-pci with an MSI-X vector per queue:
 * vCPU k drives the transmit queue of pair k, one frame at a time, and
 * takes each completion from that queue's own interrupt, as Linux's
 * virtio_net does with one queue pair per CPU. The frames go to a foreign
 * MAC, so the host's TAP drops them; the figure is the queue/interrupt path.
 * args: 0 the PCI segment's BAR window (the device's BAR 0 goes at window +
 *   slot * 64 KiB), 1 N frames per pair, 2 P pairs (1 .. vCPUs, at most the
 *   device's), 3 bit 0: every vector to vCPU 0 (else each to the vCPU that
 *   drives its queue), bit 1: the handler checks that each interrupt
 *   arrives on the vCPU its vector was sent to (one more LAPIC read per
 *   interrupt: keep it off when timing).
 * The image enters at CPL0 (the IDT), the drivers run at CPL3.
 * Port 0x80 (cvmm-microvm --boot-timer) gets 0x10 when every sender starts
 * and 0x11 when the last one is done: the host's timestamps give frames/s.
 * Exit 0 with one line of counts; 0x60 + step on a failure (printed).
 */
#include "guest.h"
#include "virtio.h"

GUEST_IMAGE_FLAGS(CVMM_GUEST_F_ENTER_CPL0);

#define F_MAC (1ull << 5)
#define F_CTRL_VQ (1ull << 17)
#define F_MQ (1ull << 22)
#define HDR 12u
#define FRAME 64u
#define MAXP 4u
#define VEC0 0x60u
#define NO_VECTOR 0xffffu

static struct virtio_dev dev;
static struct vq rxq[MAXP], txq[MAXP], ctrlq;
static volatile uint32_t apic[MAXP];     /* each sender's local APIC id */
static volatile uint32_t dest[MAXP];     /* where pair k's vector is sent */
static volatile uint64_t irqs[MAXP];     /* interrupts on pair k's vector */
static volatile uint64_t misrouted, stray;
static volatile unsigned int arrived, finished, go, checking;
static volatile int failed;

static int fail(int step, const char *what)
{
	guest_printf("virtio-net-mq: FAIL %s\n", what);
	return 0x60 + step;
}

/* At CPL0, emulated: a counter, and the destination check when asked. */
static void on_irq(unsigned int vector)
{
	unsigned int k = vector - VEC0;

	if (vector < VEC0 || k >= MAXP) {
		stray++;
		return;
	}
	__atomic_fetch_add(&irqs[k], 1, __ATOMIC_RELAXED);
	if (checking && lapic_id() != dest[k])
		misrouted++;
}

/* VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET on the control queue, polled. */
static int set_pairs(unsigned int p)
{
	uint8_t *b = virtio_alloc(4096);
	struct vbuf c[3] = {
		{ (uint64_t)b, 2, false }, { (uint64_t)b + 2, 2, false },
		{ (uint64_t)b + 4, 1, true },
	};
	uint32_t id, len;

	b[0] = 4; /* VIRTIO_NET_CTRL_MQ */
	b[1] = 0; /* VQ_PAIRS_SET */
	b[2] = (uint8_t)p;
	b[3] = 0;
	b[4] = 0xff;
	vq_submit(&ctrlq, c, 3);
	return vq_wait(&ctrlq, &id, &len, VIRTIO_SPINS) || ((volatile uint8_t *)b)[4] ? -1 : 0;
}

static int setup(unsigned int pairs, bool to_cpu0)
{
	unsigned int max, ctrl;

	if (virtio_find_pci(VIRTIO_ID_NET, 0, guest_arg(0) & ~0xffffull, &dev))
		return fail(1, "no virtio-net function on PCI bus 0");
	if (virtio_init(&dev, F_MAC | F_CTRL_VQ | F_MQ))
		return fail(2, "feature negotiation");
	max = dev.features & F_MQ ? (unsigned int)virtio_config_read(&dev, 8, 2) : 1;
	if (pairs > max || (pairs > 1 && !(dev.features & F_MQ)))
		return fail(3, "the device has fewer queue pairs than asked for");
	ctrl = 2 * max;
	if (virtio_pci_msix_vector(&dev, -1, NO_VECTOR))
		return fail(4, "config vector");
	for (unsigned int k = 0; k < pairs; k++) {
		dest[k] = to_cpu0 ? apic[0] : apic[k];
		/* table entry 1 + queue, as Linux lays them out */
		if (virtio_pci_msix_entry(&dev, 2 + 2 * k, VEC0 + k, dest[k]) ||
		    virtio_pci_msix_vector(&dev, (int)(2 * k + 1), (uint16_t)(2 + 2 * k)) ||
		    virtio_pci_msix_vector(&dev, (int)(2 * k), NO_VECTOR))
			return fail(5, "MSI-X vector of a queue");
		if (vq_setup(&dev, 2 * k, &rxq[k]) || vq_setup(&dev, 2 * k + 1, &txq[k]))
			return fail(6, "queue set-up");
	}
	if ((dev.features & F_CTRL_VQ) &&
	    (virtio_pci_msix_vector(&dev, (int)ctrl, NO_VECTOR) || vq_setup(&dev, ctrl, &ctrlq)))
		return fail(6, "control queue set-up");
	virtio_driver_ok(&dev);
	/* Receive buffers for whatever the host's stack sends (IPv6 chatter). */
	for (unsigned int k = 0; k < pairs; k++)
		for (unsigned int i = 0; i < 8; i++) {
			struct vbuf b = { (uint64_t)virtio_alloc(4096), 2048, true };

			vq_submit(&rxq[k], &b, 1);
		}
	if ((dev.features & F_MQ) && set_pairs(pairs))
		return fail(7, "VQ_PAIRS_SET refused");
	return 0;
}

/* N frames on pair @k, each completion taken from its interrupt. */
static int send(unsigned int k, uint64_t n)
{
	uint8_t *buf = virtio_alloc(4096), *f = buf + HDR;
	struct vbuf b = { (uint64_t)buf, HDR + FRAME, false };
	uint32_t id, len;

	memset(f, 0, FRAME);
	f[0] = 0x02; f[5] = 0xfe;         /* to a MAC nobody has */
	f[6] = 0x02; f[11] = (uint8_t)k;
	f[12] = 0x88; f[13] = 0xb5;       /* local experimental EtherType */
	for (uint64_t i = 0; i < n && !failed; i++) {
		uint64_t seen = irqs[k];

		f[14] = (uint8_t)i;
		vq_submit(&txq[k], &b, 1);
		for (uint64_t s = 0; irqs[k] == seen; s++) {
			if (s > VIRTIO_SPINS)
				return -1;
			cpu_relax();
		}
		if (vq_wait(&txq[k], &id, &len, VIRTIO_SPINS))
			return -1;
	}
	return failed ? -1 : 0;
}

int guest_main(unsigned int cpu)
{
	uint64_t n = guest_arg(1), total = 0;
	unsigned int pairs = (unsigned int)guest_arg(2);
	int r;

	if (cpu != 0 && (cpu >= MAXP || cpu >= pairs)) {
		for (;;)
			cpu_relax();
	}
	if (cpu == 0 && (!pairs || pairs > MAXP || pairs > guest_ncpus() || !n))
		return fail(0, "args: 1 N frames, 2 pairs 1..vCPUs (at most 4)");
	lapic_enable();
	apic[cpu] = lapic_id();
	__atomic_fetch_add(&arrived, 1, __ATOMIC_SEQ_CST);
	if (cpu != 0) {
		while (!go)
			cpu_relax();
		if (send(cpu, n))
			failed = 1;
		__atomic_fetch_add(&finished, 1, __ATOMIC_SEQ_CST);
		for (;;)
			cpu_relax();
	}
	legacy_pic_mask();
	guest_set_irq_handler(on_irq);
	while (arrived < pairs)
		cpu_relax();
	if ((r = setup(pairs, guest_arg(3) & 1)))
		return r;
	checking = (guest_arg(3) & 2) != 0;
	outb(0x80, 0x10);
	go = 1;
	if (send(0, n))
		return fail(8, "a frame's completion interrupt did not come");
	while (finished < pairs - 1 && !failed)
		cpu_relax();
	outb(0x80, 0x11);
	if (failed)
		return fail(8, "a frame's completion interrupt did not come on another pair");
	for (unsigned int k = 0; k < pairs; k++)
		total += irqs[k];
	guest_printf("virtio-net-mq: %u pair(s), %lu frames each, vectors to %s; interrupts",
		     pairs, (unsigned long)n, guest_arg(3) & 1 ? "vCPU 0" : "their senders");
	for (unsigned int k = 0; k < pairs; k++)
		guest_printf(" %lu", (unsigned long)irqs[k]);
	guest_printf("; misrouted %lu%s, stray %lu\n", (unsigned long)misrouted,
		     checking ? "" : " (not checked)", (unsigned long)stray);
	if (misrouted)
		return fail(9, "an interrupt reached a vCPU its vector was not sent to");
	if (total < pairs * n)
		return fail(9, "fewer interrupts than frames");
	return 0;
}
