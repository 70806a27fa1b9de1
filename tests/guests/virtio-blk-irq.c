/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One-at-a-time virtio-blk reads with the completion taken from an
 * interrupt, the same driver logic over either transport, so the two
 * interrupt paths can be compared (bench/virtio-irq/run.sh):
 *   virtio-mmio: the device's line, an I/O APIC pin (every pin from 5 up is
 *     routed to the vector: the guest does not know which GSI the VMM
 *     gave the disk); after each interrupt the driver reads InterruptStatus
 *     and writes InterruptACK, as Linux's virtio-mmio driver does;
 *   virtio-pci: the queue's own MSI-X vector (table entry 1), nothing to
 *     acknowledge.
 * args: 0 as virtio-blk.c's (0: virtio-mmio; bits 8 and up a PCI BAR
 *   window: the disk on PCI bus 0), 1 N requests, 2 mode: 0 poll the used
 *   ring (no interrupt), 1 wait for the interrupt, 2 (virtio-mmio) the
 *   same without reading and acknowledging InterruptStatus (not a correct
 *   driver: it tells what those two register accesses cost).
 * The image enters at CPL0: the runtime drops to CPL3 with IF=1, so the
 * IDT handler (CPL0, a counter and the LAPIC EOI) runs for each interrupt.
 * Port 0x80 (cvmm-microvm --boot-timer) gets 0x10 before the N requests
 * and 0x11 after them: the host's timestamps give requests/s.
 * Exit 0; 0x30 + step on a failure (printed).
 */
#include "guest.h"
#include "virtio.h"
#include "virtio-blk.h"

GUEST_IMAGE_FLAGS(CVMM_GUEST_F_ENTER_CPL0);

#define VECTOR 0x51u

static struct virtio_dev dev;
static struct vq vq;
static volatile uint64_t irqs;

static int fail(int step, const char *what)
{
	guest_printf("virtio-blk-irq: FAIL %s\n", what);
	return 0x30 + step;
}

static void on_irq(unsigned int vector)
{
	if (vector == VECTOR)
		irqs++;
}

/* MSI-X on the disk's function: config on entry 0, queue 0 on entry 1,
 * both to VECTOR on this CPU. @return 0; -1 without MSI-X. */
static int msix_setup(void)
{
	for (unsigned int e = 0; e < 2; e++)
		if (virtio_pci_msix_entry(&dev, e, VECTOR, lapic_id()))
			return -1;
	return virtio_pci_msix_vector(&dev, -1, 0) || virtio_pci_msix_vector(&dev, 0, 1) ? -1 : 0;
}

/* One read of sector 0; with @irq the completion is the interrupt. */
static bool one(struct blk_hdr *hdr, uint8_t *data, volatile uint8_t *status, bool irq,
		bool ack)
{
	struct vbuf b[3] = {
		{ (uint64_t)hdr, sizeof(*hdr), false },
		{ (uint64_t)data, 512, true },
		{ (uint64_t)status, 1, true },
	};
	uint64_t seen = irqs;
	uint32_t id, len;

	hdr->type = T_IN;
	hdr->reserved = 0;
	hdr->sector = 0;
	*status = 0xff;
	vq_submit(&vq, b, 3);
	if (irq) {
		for (uint64_t i = 0; irqs == seen; i++) {
			if (i > VIRTIO_SPINS)
				return false;
			cpu_relax();
		}
		if (!dev.common && ack) /* the line: what was it for (and acknowledge) */
			virtio_write(&dev, VIRTIO_MMIO_INTERRUPT_ACK,
				     virtio_read(&dev, VIRTIO_MMIO_INTERRUPT_STATUS));
	}
	return vq_wait(&vq, &id, &len, irq ? 1000 : VIRTIO_SPINS) == 0 && *status == S_OK;
}

int guest_main(unsigned int cpu)
{
	uint64_t pci_window = guest_arg(0) & ~0xffull, n = guest_arg(1);
	bool irq = guest_arg(2) == 1 || guest_arg(2) == 2, ack = guest_arg(2) == 1;
	struct blk_hdr *hdr;
	volatile uint8_t *status;
	uint8_t *data;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	legacy_pic_mask();
	lapic_enable();
	guest_set_irq_handler(on_irq);
	if (pci_window ? virtio_find_pci(VIRTIO_ID_BLOCK, 0, pci_window, &dev) :
			 virtio_find(VIRTIO_ID_BLOCK, 0, &dev))
		return fail(0, "no virtio-blk device");
	if (virtio_init(&dev, 0))
		return fail(1, "feature negotiation");
	if (irq && pci_window && msix_setup())
		return fail(2, "MSI-X");
	if (irq && !pci_window)
		for (unsigned int pin = 5; pin < 24; pin++)
			ioapic_route(pin, VECTOR, lapic_id());
	if (vq_setup(&dev, 0, &vq))
		return fail(3, "queue setup");
	virtio_driver_ok(&dev);
	hdr = virtio_alloc(4096);
	status = virtio_alloc(4096);
	data = virtio_alloc(4096);
	/* one request first, so set-up costs stay out of the timed part */
	if (!one(hdr, data, status, irq, ack))
		return fail(4, irq ? "no interrupt for the first request" : "first request");
	outb(0x80, 0x10);
	for (uint64_t i = 0; i < n; i++)
		if (!one(hdr, data, status, irq, ack))
			return fail(5, irq ? "a request or its interrupt missing" : "a request");
	outb(0x80, 0x11);
	guest_printf("virtio-blk-irq: %lu requests on %s, %s, %lu interrupts\n",
		     (unsigned long)n, pci_window ? "virtio-pci" : "virtio-mmio",
		     irq ? (pci_window ? "MSI-X vector" : ack ? "I/O APIC line" :
				 "I/O APIC line, InterruptStatus not read") : "polling",
		     (unsigned long)irqs);
	return 0;
}
