/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A PCI driver at CPL3: enumerate bus 0 through 0xCF8/0xCFC and through
 * ECAM (arg 0: its base), find the virtio-rng function, size BAR 0 and put
 * it at arg 1, walk the capability list to the virtio capabilities and
 * MSI-X, read the device id, then drive the rng over virtio-pci with the
 * queue on MSI-X vector 1: its interrupt must arrive as the LAPIC vector
 * the guest wrote in the table (0x42, seen pending in the IRR: IF stays 0
 * at CPL3); with the vector masked the next one must wait in the PBA and
 * arrive (as 0x43) when the guest unmasks it. Exit 0; 0x50 + step.
 * With arg 2 = a port: then write 1 there and poll it until it reads 2
 * (the host saves the VM and restores it into a new one meanwhile), and
 * make a third request, its vector retargeted to 0x44: the notify
 * ioeventfd, the MSI route and the BAR must have come along. With arg 3
 * = N as well, N reads of each kind (0xCF8/0xCFC, ECAM, a common
 * configuration field, an MSI-X table word, an empty spot of the BAR
 * window) between marks 0x10..0x15 on
 * that port, for the host to time.
 */
#include "guest.h"
#include "virtio.h"

#define CF8 0xcf8
#define CFC 0xcfc
#define VID_VIRTIO 0x1af4
#define DID_RNG (0x1040 + VIRTIO_ID_RNG)

static uint64_t ecam;

static uint32_t cf8_read(unsigned int dev, unsigned int reg)
{
	outl(CF8, 0x80000000u | dev << 11 | (reg & 0xfc));
	return inl(CFC);
}

static void cf8_write(unsigned int dev, unsigned int reg, uint32_t v)
{
	outl(CF8, 0x80000000u | dev << 11 | (reg & 0xfc));
	outl(CFC, v);
}

static uint64_t ecam_at(unsigned int dev, unsigned int fn, unsigned int reg)
{
	return ecam + ((uint64_t)dev << 15) + ((uint64_t)fn << 12) + reg;
}

static int fail(int step, const char *what)
{
	guest_printf("virtio-pci: FAIL %s\n", what);
	return 0x50 + step;
}

/* Spin until @vector is pending in the IRR (bounded: each look is a
 * LAPIC access, emulated, so a few tens of microseconds). */
static bool irr_wait(unsigned int vector, int tries)
{
	for (int i = 0; i < tries; i++) {
		if (lapic_irr_pending(vector))
			return true;
		cpu_relax();
	}
	return false;
}

int guest_main(unsigned int cpu)
{
	uint64_t bar = guest_arg(1), common = 0, notify = 0, isr = 0, devcfg = 0;
	uint32_t mult = 0, v, size, table = 0, pba = 0, msix = 0;
	unsigned int slot = 0, found = 0, caps = 0;
	struct vring_desc *desc;
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
	uint8_t *buf;
	uint16_t qsize, noff;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	ecam = guest_arg(0);
	if (!ecam || !bar)
		return fail(0, "args: 0 = ECAM base, 1 = BAR 0 address");

	/* 1. Enumerate through 0xCF8: the host bridge at 00.0, the rng. */
	v = cf8_read(0, 0);
	if ((v & 0xffff) != 0x8086 || (cf8_read(0, 8) >> 8) != 0x060000)
		return fail(1, "no host bridge at 00.0");
	for (unsigned int d = 1; d < 32; d++) {
		v = cf8_read(d, 0);
		if (v == 0xffffffffu)
			continue;
		found++;
		if (v == ((uint32_t)DID_RNG << 16 | VID_VIRTIO) && !slot)
			slot = d;
	}
	if (!slot)
		return fail(1, "no virtio-rng function on bus 0");
	guest_printf("virtio-pci: 0xCF8: host bridge 8086:0d57, %u device(s), rng at 00:%02x.0\n",
		     found, slot);

	/* 2. The same through ECAM; absent functions read all ones. */
	if (mmio_read32(ecam_at(slot, 0, 0)) != cf8_read(slot, 0) ||
	    mmio_read16(ecam_at(0, 0, 0)) != 0x8086 ||
	    mmio_read32(ecam_at(slot, 1, 0)) != 0xffffffffu ||
	    mmio_read32(ecam_at(slot, 0, 0x100)) != 0)
		return fail(2, "ECAM disagrees with 0xCF8");

	/* 3. Size BAR 0, then place it and turn on memory decoding. */
	cf8_write(slot, 0x10, 0xffffffffu);
	v = cf8_read(slot, 0x10);
	if (v & 1)
		return fail(3, "BAR 0 is not memory");
	size = ~(v & ~0xfu) + 1;
	if (size != 0x8000)
		return fail(3, "BAR 0 size");
	mmio_write32(ecam_at(slot, 0, 0x10), (uint32_t)bar);
	if ((mmio_read32(ecam_at(slot, 0, 0x10)) & ~0xfu) != (uint32_t)bar)
		return fail(3, "BAR 0 did not take the address");
	mmio_write16(ecam_at(slot, 0, 4), 0x6);        /* memory + bus master */

	/* 4. Capabilities (a bounded walk). */
	if (!(mmio_read16(ecam_at(slot, 0, 6)) & 0x10))
		return fail(4, "no capability list");
	for (uint32_t off = mmio_read8(ecam_at(slot, 0, 0x34)) & ~3u, n = 0; off && n < 48;
	     off = mmio_read8(ecam_at(slot, 0, off + 1)) & ~3u, n++) {
		uint8_t id = mmio_read8(ecam_at(slot, 0, off));

		if (off < 0x40)
			return fail(4, "capability pointer into the header");
		if (id == 0x11) {
			msix = off;
			table = mmio_read32(ecam_at(slot, 0, off + 4));
			pba = mmio_read32(ecam_at(slot, 0, off + 8));
			continue;
		}
		if (id != 0x09)
			continue;
		uint8_t type = mmio_read8(ecam_at(slot, 0, off + 3));
		uint64_t at = bar + mmio_read32(ecam_at(slot, 0, off + 8));

		if (mmio_read8(ecam_at(slot, 0, off + 4)) != 0)
			continue;
		caps |= 1u << type;
		if (type == 1)
			common = at;
		else if (type == 2) {
			notify = at;
			mult = mmio_read32(ecam_at(slot, 0, off + 16));
		} else if (type == 3)
			isr = at;
		else if (type == 4)
			devcfg = at;
	}
	if (!common || !notify || !isr || !msix || (table & 7) || (pba & 7))
		return fail(4, "virtio or MSI-X capability missing");
	guest_printf("virtio-pci: caps 0x%x: common %lx notify %lx (x%u) isr %lx device %lx, "
		     "MSI-X %u vectors\n", caps, (unsigned long)common, (unsigned long)notify, mult,
		     (unsigned long)isr, (unsigned long)devcfg,
		     (mmio_read16(ecam_at(slot, 0, msix + 2)) & 0x7ff) + 1);

	/* 5. The device id and the queue count, through the BAR. */
	if (mmio_read16(ecam_at(slot, 0, 2)) - 0x1040 != VIRTIO_ID_RNG ||
	    mmio_read16(common + 0x12) != 1)
		return fail(5, "device id or num_queues");

	/* Optional (arg 3 = N, needs the port of arg 2): N accesses of each
	 * kind between marks on the port, which the host timestamps. */
	if (guest_arg(2) && guest_arg(3)) {
		uint16_t port = (uint16_t)guest_arg(2);
		uint64_t n = guest_arg(3);
		volatile uint32_t sink = 0;

		outb(port, 0x10);
		for (uint64_t i = 0; i < n; i++)
			sink += cf8_read(slot, 0);
		outb(port, 0x11);
		for (uint64_t i = 0; i < n; i++)
			sink += mmio_read32(ecam_at(slot, 0, 0));
		outb(port, 0x12);
		for (uint64_t i = 0; i < n; i++)
			sink += mmio_read16(common + 0x12);
		outb(port, 0x13);
		for (uint64_t i = 0; i < n; i++)
			sink += mmio_read32(bar + (table & ~7u) + 8);
		outb(port, 0x14);
		for (uint64_t i = 0; i < n; i++)
			sink += mmio_read32(bar + 0x10000);    /* in the window, no BAR */
		outb(port, 0x15);
		(void)sink;
	}

	/* 6. Driver set-up with MSI-X: config on vector 0, queue 0 on 1. */
	mmio_write8(common + 0x14, 0);
	for (int i = 0; mmio_read8(common + 0x14); i++)
		if (i > 10000000)
			return fail(6, "reset did not finish");
	mmio_write8(common + 0x14, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	mmio_write32(common + 0x00, 1);
	if (!(mmio_read32(common + 0x04) & 1))
		return fail(6, "no VERSION_1");
	mmio_write32(common + 0x08, 0);
	mmio_write32(common + 0x0c, 0);
	mmio_write32(common + 0x08, 1);
	mmio_write32(common + 0x0c, 1);
	mmio_write8(common + 0x14, 0x0b);
	if (!(mmio_read8(common + 0x14) & VIRTIO_S_FEATURES_OK))
		return fail(6, "FEATURES_OK refused");
	lapic_enable();
	mmio_write16(ecam_at(slot, 0, msix + 2), 0x8000);            /* MSI-X enable */
	for (unsigned int e = 0; e < 2; e++) {
		uint64_t ent = bar + (table & ~7u) + 16 * e;

		mmio_write32(ent + 0, 0xfee00000u | lapic_id() << 12);
		mmio_write32(ent + 4, 0);
		mmio_write32(ent + 8, 0x42);
		mmio_write32(ent + 12, 0);                            /* unmask */
	}
	mmio_write16(common + 0x10, 0);
	mmio_write16(common + 0x16, 0);
	mmio_write16(common + 0x1a, 1);
	if (mmio_read16(common + 0x10) != 0 || mmio_read16(common + 0x1a) != 1)
		return fail(6, "MSI-X vectors not taken");
	qsize = mmio_read16(common + 0x18);
	if (qsize < VQ_SIZE)
		return fail(6, "queue too small");
	mmio_write16(common + 0x18, VQ_SIZE);
	noff = mmio_read16(common + 0x1e);
	desc = virtio_alloc(4096);
	avail = virtio_alloc(4096);
	used = virtio_alloc(4096);
	buf = virtio_alloc(4096);
	mmio_write64(common + 0x20, (uint64_t)desc);
	mmio_write64(common + 0x28, (uint64_t)avail);
	mmio_write64(common + 0x30, (uint64_t)used);
	mmio_write16(common + 0x1c, 1);
	mmio_write8(common + 0x14, 0x0f);

	/* 7. Two requests: the first on vector 1 as 0x42; the second with the
	 * vector masked and moved to 0x43: pending, delivered on unmask. */
	for (unsigned int r = 0; r < 2; r++) {
		uint64_t ent = bar + (table & ~7u) + 16;

		if (r == 1) {
			mmio_write32(ent + 12, 1);
			mmio_write32(ent + 8, 0x43);
		}
		desc[r] = (struct vring_desc){ (uint64_t)(buf + 64 * r), 64, VRING_DESC_F_WRITE, 0 };
		avail->ring[r] = (uint16_t)r;
		barrier();
		avail->idx = (uint16_t)(r + 1);
		barrier();
		mmio_write16(notify + (uint64_t)noff * mult, 0);
		for (uint64_t i = 0; used->idx != r + 1; i++)
			if (i > VIRTIO_SPINS)
				return fail(7, "no answer");
		if (used->ring[r].len != 64)
			return fail(7, "short answer");
		if (r == 0) {
			if (!irr_wait(0x42, 200000))
				return fail(8, "no interrupt on vector 0x42");
			continue;
		}
		if (irr_wait(0x43, 2000))
			return fail(9, "a masked vector fired");
		if (!(mmio_read64(bar + (pba & ~7u)) & 2))
			return fail(9, "masked vector not pending in the PBA");
		mmio_write32(ent + 12, 0);
		if (!irr_wait(0x43, 200000))
			return fail(10, "pending vector not delivered on unmask");
		if (mmio_read64(bar + (pba & ~7u)) & 2)
			return fail(10, "PBA bit left set");
	}
	guest_printf("virtio-pci: rng over virtio-pci, MSI-X vector 1 -> 0x42; masked -> PBA -> "
		     "0x43 on unmask\n");
	if (guest_arg(2)) {
		uint16_t port = (uint16_t)guest_arg(2);
		uint64_t ent = bar + (table & ~7u) + 16;

		outb(port, 1);
		while (inb(port) != 2)
			cpu_relax();
		mmio_write32(ent + 8, 0x44);
		desc[2] = (struct vring_desc){ (uint64_t)(buf + 128), 64, VRING_DESC_F_WRITE, 0 };
		avail->ring[2] = 2;
		barrier();
		avail->idx = 3;
		barrier();
		mmio_write16(notify + (uint64_t)noff * mult, 0);
		for (uint64_t i = 0; used->idx != 3; i++)
			if (i > VIRTIO_SPINS)
				return fail(11, "no answer after the restore");
		if (!irr_wait(0x44, 200000))
			return fail(11, "no interrupt on vector 0x44 after the restore");
		guest_printf("virtio-pci: after save and restore: request answered, vector -> 0x44\n");
	}
	return 0;
}
