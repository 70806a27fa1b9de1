/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ACPI Generic Event Device and PCI hotplug from the guest side, at
 * CPL3 with the runtime's interrupt handlers. The guest finds everything
 * in the ACPI tables as a kernel would: the GED's event word in its GDST
 * region, its GSI in the _CRS after "ACPI0013", ECAM in MCFG, the 32-bit
 * BAR window in PCI0's _CRS; the PCI hotplug registers sit at the GED page + 0x10 (PCIU, PCID,
 * B0EJ, as the DSDT's PCST region says). The GED line is routed through
 * the I/O APIC to vector 0x40.
 *
 *   arg 0 = 0: spin (a guest that does nothing).
 *   arg 0 = 1: power button. Print "hotplug: ready", write 3 to port
 *          0x510 (the host presses the button), wait for the GED
 *          interrupt, read the event word: exit 0x48 when the power-button
 *          bit is set (and the word read back is clear), else 0x50 + step.
 *   arg 0 = 2: arg 1 rounds of: write 1 to port 0x510 (the host adds a
 *          virtio-rng), take the GED interrupt, read PCIU, find the rng in
 *          that slot through ECAM, place BAR 0, drive one request with the
 *          queue on MSI-X vector 0x42 and wait for that interrupt; write 2
 *          (the host asks for removal), take the GED interrupt, read PCID,
 *          eject (also: a stray eject of another slot, a repeated eject),
 *          wait until the slot reads empty. Hostile register accesses first.
 *          Exit 0.
 *   arg 0 = 3: as one round of 2 with any virtio device and no port (the
 *          API test: a script adds and removes it), printing each step;
 *          exit 0x49.
 *   arg 0 = 4: add and use as in 2, then write 4 to the port and poll it
 *          until it reads 4 (the host saves the VM and restores it into a
 *          new one), then a second request on the restored device: exit 0.
 *   arg 0 = 5: INTx on hotplugged slots. Write 1 (the host adds an rng,
 *          slot A), then 5 (a second one in slot A + 4). Each slot's
 *          Interrupt Line must be what the DSDT's _PRT says for it, and
 *          the two share it (four lines round the slots). The line is
 *          routed level-triggered to vector 0x44, both rngs run without
 *          MSI-X: a request on B interrupts with B's ISR set and A's clear
 *          (the handler reads both ISRs, as a shared handler does), then
 *          one on A; then a request on A while the handler leaves the ISR
 *          unread: the line stays asserted and delivers again after each
 *          EOI until the driver reads the ISR, then stops. Exit 0.
 */
#include "guest.h"
#include "virtio.h"

GUEST_IMAGE_FLAGS(CVMM_GUEST_F_ENTER_CPL0);

#define PORT 0x510
#define GED_VECTOR 0x40
#define Q_VECTOR 0x42
#define INTX_VECTOR 0x44
#define WAIT (1ull << 31)
#define PCIU 0x10
#define PCID 0x14
#define B0EJ 0x18

static uint64_t ged, ecam, win32;
static const uint8_t *dsdt;
static uint32_t dsdt_len;
static unsigned int ged_gsi;
static volatile uint32_t irqs[256];
/* INTx (mode 5): the ISRs the handler reads, and what it found in them. */
static volatile uint64_t isr_at[2];
static volatile uint8_t isr_seen[2];
static volatile bool isr_in_handler;

static void on_irq(unsigned int vector)
{
	irqs[vector & 0xff]++;
	if (vector == INTX_VECTOR && isr_in_handler)
		for (unsigned int i = 0; i < 2; i++)
			if (isr_at[i])
				isr_seen[i] |= mmio_read8(isr_at[i]);
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int fail(int step, const char *what)
{
	guest_printf("hotplug: FAIL %s\n", what);
	return 0x50 + step;
}

/* The GSI the DSDT's _PRT gives @slot's INTA: the entry Package (4)
 * { DWord slot << 16 | 0xFFFF, Zero, Zero, Byte GSI }; 0 without one. */
static unsigned int prt_gsi(unsigned int slot)
{
	const uint8_t want[8] = { 0x0c, 0xff, 0xff, (uint8_t)slot, 0, 0x00, 0x00, 0x0a };

	for (uint32_t i = 36; i + 9 <= dsdt_len; i++)
		if (!memcmp(dsdt + i, want, 8))
			return dsdt[i + 8];
	return 0;
}

/* RSDP -> XSDT -> FADT (DSDT) and MCFG; the facts this guest needs. */
static bool find_tables(void)
{
	const uint8_t *rsdp = NULL, *xsdt, *dt = NULL;
	uint32_t n, dlen;

	for (uint64_t a = 0xe0000; a < 0x100000 && !rsdp; a += 16)
		if (!memcmp((const void *)a, "RSD PTR ", 8))
			rsdp = (const uint8_t *)a;
	if (!rsdp)
		return false;
	xsdt = (const uint8_t *)le64(rsdp + 24);
	n = (le32(xsdt + 4) - 36) / 8;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *t = (const uint8_t *)le64(xsdt + 36 + 8 * i);

		if (!memcmp(t, "FACP", 4))
			dt = (const uint8_t *)le64(t + 140);
		else if (!memcmp(t, "MCFG", 4))
			ecam = le64(t + 44);
	}
	if (!dt)
		return false;
	dlen = le32(dt + 4);
	dsdt = dt;
	dsdt_len = dlen;
	for (uint32_t i = 36; i + 16 <= dlen; i++) {
		/* PCI0's 32-bit window: DWordMemory (0x87, length 0x17). */
		if (!win32 && dt[i] == 0x87 && dt[i + 1] == 0x17 && dt[i + 3] == 0)
			win32 = le32(dt + i + 10);
		/* OperationRegion (GDST, SystemMemory, DWord base, ...) */
		if (!ged && dt[i] == 0x5b && dt[i + 1] == 0x80 &&
		    !memcmp(dt + i + 2, "GDST", 4) && dt[i + 6] == 0 && dt[i + 7] == 0x0c)
			ged = le32(dt + i + 8);
		if (ged_gsi || memcmp(dt + i, "ACPI0013", 8))
			continue;
		/* The GED's _CRS: one Extended Interrupt. */
		for (uint32_t j = i; j + 12 <= dlen && j < i + 64; j++)
			if (dt[j] == 0x89 && dt[j + 1] == 6 && dt[j + 2] == 0 && dt[j + 4] == 1)
				ged_gsi = le32(dt + j + 5);
	}
	return ged && ged_gsi;
}

static bool wait_irq(unsigned int vector, uint32_t seen)
{
	for (uint64_t i = 0; i < WAIT; i++) {
		if (irqs[vector] != seen)
			return true;
		cpu_relax();
	}
	return false;
}

static uint64_t ecam_at(unsigned int dev, unsigned int reg)
{
	return ecam + ((uint64_t)dev << 15) + reg;
}

/* Wait for the next GED interrupt and return the event word. */
static uint32_t ged_event(uint32_t *seen)
{
	if (!wait_irq(GED_VECTOR, *seen))
		return 0;
	*seen = irqs[GED_VECTOR];
	return mmio_read32(ged);
}

/* Misbehave at the register block: each must read as zero, change nothing. */
static int hostile(void)
{
	if (mmio_read8(ged) || mmio_read16(ged + 2) || mmio_read64(ged) ||
	    mmio_read32(ged + 0x800) || mmio_read32(ged + 0xffc) || mmio_read32(ged + B0EJ))
		return fail(1, "a stray read returned data");
	mmio_write32(ged, 0xffffffffu);
	mmio_write8(ged + PCIU, 0xff);
	mmio_write32(ged + PCID, 0xffffffffu);
	mmio_write64(ged + B0EJ, ~0ull);
	mmio_write32(ged + B0EJ, 0xfffffffeu);     /* eject everything: nothing offered */
	mmio_write32(ged + 0x1c, 1);
	if (mmio_read32(ged) || mmio_read32(ged + PCIU) || mmio_read32(ged + PCID))
		return fail(1, "stray writes set bits");
	return 0;
}

struct rng {
	uint64_t common, notify, isr;
	uint32_t mult;
	uint16_t noff;
	uint16_t n;
	bool intx;                  /* set before rng_setup: no MSI-X */
	struct vring_desc *desc;
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
	uint8_t *buf;
};

/* Place BAR 0, find the capabilities, set the rng up with its queue on
 * MSI-X vector 1 -> Q_VECTOR (or on INTx with @r->intx). */
static int rng_setup(unsigned int slot, struct rng *r)
{
	uint64_t bar = win32 + 0x100000 + ((uint64_t)slot << 16);
	uint32_t table = 0, msix = 0;

	if (mmio_read16(ecam_at(slot, 2)) != 0x1040 + VIRTIO_ID_RNG)
		return fail(5, "not a virtio-rng");
	mmio_write32(ecam_at(slot, 0x10), (uint32_t)bar);
	mmio_write16(ecam_at(slot, 4), 0x6);
	r->common = r->notify = r->isr = 0;
	for (uint32_t off = mmio_read8(ecam_at(slot, 0x34)) & ~3u, n = 0; off && n < 48;
	     off = mmio_read8(ecam_at(slot, off + 1)) & ~3u, n++) {
		uint8_t id = mmio_read8(ecam_at(slot, off)), type;

		if (id == 0x11) {
			msix = off;
			table = mmio_read32(ecam_at(slot, off + 4));
		}
		if (id != 0x09 || mmio_read8(ecam_at(slot, off + 4)) != 0)
			continue;
		type = mmio_read8(ecam_at(slot, off + 3));
		if (type == 1)
			r->common = bar + mmio_read32(ecam_at(slot, off + 8));
		if (type == 2) {
			r->notify = bar + mmio_read32(ecam_at(slot, off + 8));
			r->mult = mmio_read32(ecam_at(slot, off + 16));
		}
		if (type == 3)
			r->isr = bar + mmio_read32(ecam_at(slot, off + 8));
	}
	if (!r->common || !r->notify || !r->isr || !msix)
		return fail(5, "capabilities");
	mmio_write8(r->common + 0x14, 0);
	for (int i = 0; mmio_read8(r->common + 0x14); i++)
		if (i > 10000000)
			return fail(5, "reset");
	mmio_write8(r->common + 0x14, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	mmio_write32(r->common + 0x08, 1);
	mmio_write32(r->common + 0x0c, 1);
	mmio_write8(r->common + 0x14, 0x0b);
	if (!(mmio_read8(r->common + 0x14) & VIRTIO_S_FEATURES_OK))
		return fail(5, "FEATURES_OK");
	if (!r->intx)
		mmio_write16(ecam_at(slot, msix + 2), 0x8000);
	for (unsigned int e = 0; e < 2 && !r->intx; e++) {
		uint64_t ent = bar + (table & ~7u) + 16 * e;

		mmio_write32(ent + 0, 0xfee00000u | lapic_id() << 12);
		mmio_write32(ent + 4, 0);
		mmio_write32(ent + 8, Q_VECTOR - 1 + e);
		mmio_write32(ent + 12, 0);
	}
	mmio_write16(r->common + 0x10, r->intx ? 0xffff : 0);
	mmio_write16(r->common + 0x16, 0);
	mmio_write16(r->common + 0x1a, r->intx ? 0xffff : 1);
	mmio_write16(r->common + 0x18, VQ_SIZE);
	r->noff = mmio_read16(r->common + 0x1e);
	if (!r->desc) {
		r->desc = virtio_alloc(4096);
		r->avail = virtio_alloc(4096);
		r->used = virtio_alloc(4096);
		r->buf = virtio_alloc(4096);
	}
	memset((void *)r->desc, 0, 4096);
	memset((void *)r->avail, 0, 4096);
	memset((void *)r->used, 0, 4096);
	mmio_write64(r->common + 0x20, (uint64_t)r->desc);
	mmio_write64(r->common + 0x28, (uint64_t)r->avail);
	mmio_write64(r->common + 0x30, (uint64_t)r->used);
	mmio_write16(r->common + 0x1c, 1);
	mmio_write8(r->common + 0x14, 0x0f);
	r->n = 0;
	return 0;
}

/* One request for 32 random bytes; its interrupt must arrive on Q_VECTOR
 * (INTX_VECTOR for an INTx rng). */
static int rng_read(struct rng *r)
{
	unsigned int vector = r->intx ? INTX_VECTOR : Q_VECTOR;
	uint32_t seen = irqs[vector];
	uint16_t i = r->n;

	memset(r->buf, 0, 64);
	r->desc[i % VQ_SIZE] = (struct vring_desc){ (uint64_t)r->buf, 32, VRING_DESC_F_WRITE, 0 };
	r->avail->ring[i % VQ_SIZE] = (uint16_t)(i % VQ_SIZE);
	barrier();
	r->avail->idx = (uint16_t)(i + 1);
	barrier();
	mmio_write16(r->notify + (uint64_t)r->noff * r->mult, 0);
	for (uint64_t k = 0; r->used->idx != (uint16_t)(i + 1); k++)
		if (k > VIRTIO_SPINS)
			return fail(6, "no answer from the rng");
	r->n++;
	if (r->used->ring[i % VQ_SIZE].len != 32)
		return fail(6, "short answer");
	if (!wait_irq(vector, seen))
		return fail(6, r->intx ? "no INTx interrupt" : "no MSI-X interrupt");
	return 0;
}

static int slot_of(uint32_t bits)
{
	for (int s = 1; s < 32; s++)
		if (bits & (1u << s))
			return s;
	return -1;
}

/* Wait for the GED's PCI event with a bit in PCIU (@up) or PCID. */
static int hp_event(uint32_t *seen, bool up, unsigned int *slot)
{
	uint32_t ev = ged_event(seen), u, d;
	int s;

	if (!(ev & 2))
		return fail(2, "no GED PCI-hotplug event");
	u = mmio_read32(ged + PCIU);
	d = mmio_read32(ged + PCID);
	s = slot_of(up ? u : d);
	if (s < 0 || (up ? d : u))
		return fail(2, up ? "PCIU names no slot" : "PCID names no slot");
	if (mmio_read32(ged + PCIU) || mmio_read32(ged + PCID))
		return fail(2, "PCIU/PCID not cleared on read");
	*slot = (unsigned int)s;
	return 0;
}

static int eject_and_wait(unsigned int slot)
{
	/* Another slot first (not offered: refused), then ours, twice. */
	mmio_write32(ged + B0EJ, 1u << (slot == 30 ? 29 : 30));
	mmio_write32(ged + B0EJ, 1u << slot);
	mmio_write32(ged + B0EJ, 1u << slot);
	for (uint64_t i = 0; i < WAIT; i++) {
		if (mmio_read16(ecam_at(slot, 0)) == 0xffff)
			return 0;
		cpu_relax();
	}
	return fail(3, "the slot stayed occupied after the eject");
}

/* Mode 5: two hotplugged rngs on one shared, level-triggered INTx line. */
static int intx_shared(uint32_t *seen)
{
	static struct rng rr[2];
	unsigned int slot[2], line[2];
	uint32_t before, after;
	int ret;

	for (unsigned int i = 0; i < 2; i++) {
		outb(PORT, i ? 5 : 1);
		if ((ret = hp_event(seen, true, &slot[i])))
			return ret;
		line[i] = mmio_read8(ecam_at(slot[i], 0x3c));
		if (!line[i] || line[i] != prt_gsi(slot[i]))
			return fail(7, "Interrupt Line is not the _PRT's GSI for the slot");
		if (mmio_read8(ecam_at(slot[i], 0x3d)) != 1)
			return fail(7, "Interrupt Pin is not INTA");
		rr[i].intx = true;
		if ((ret = rng_setup(slot[i], &rr[i])))
			return ret;
		isr_at[i] = rr[i].isr;
	}
	if (slot[1] != slot[0] + 4 || line[0] != line[1])
		return fail(7, "slots A and A + 4 do not share a line");
	guest_printf("hotplug: slots %u and %u on INTx GSI %u (the _PRT's)\n", slot[0], slot[1],
		     line[0]);
	ioapic_route_level(line[0], INTX_VECTOR, lapic_id());
	isr_in_handler = true;
	for (int i = 1; i >= 0; i--) {
		isr_seen[0] = isr_seen[1] = 0;
		if ((ret = rng_read(&rr[i])))
			return ret;
		if (!(isr_seen[i] & 1) || isr_seen[1 - i])
			return fail(8, "the shared handler found the ISRs wrong");
	}
	/* A driver that has not read the ISR yet: the line is still up. */
	isr_in_handler = false;
	before = irqs[INTX_VECTOR];
	if ((ret = rng_read(&rr[0])))
		return ret;
	for (uint64_t i = 0; irqs[INTX_VECTOR] < before + 3; i++)
		if (i > WAIT)
			return fail(9, "INTx delivered once while the ISR stayed set (an edge, "
				    "not a level)");
	if (!(mmio_read8(rr[0].isr) & 1))
		return fail(9, "the ISR lost its bit");
	after = irqs[INTX_VECTOR];
	for (uint64_t i = 0; i < (1ull << 26); i++)
		cpu_relax();
	/* One may have been on its way when the ISR was read. */
	if (irqs[INTX_VECTOR] > after + 1)
		return fail(9, "INTx kept coming after the ISR was read");
	guest_printf("hotplug: INTx shared by two slots; a level: %u deliveries before the ISR "
		     "read, none after\n", after - before);
	return 0;
}

int guest_main(unsigned int cpu)
{
	uint64_t mode = guest_arg(0), rounds = guest_arg(1);
	uint32_t seen = 0;
	unsigned int slot;
	struct rng r;
	int ret;

	if (cpu != 0 || mode == 0)
		for (;;)
			cpu_relax();
	if (!find_tables())
		return fail(0, "no GED in the DSDT");
	legacy_pic_mask();
	lapic_enable();
	ioapic_route(ged_gsi, GED_VECTOR, lapic_id());
	guest_set_irq_handler(on_irq);
	guest_printf("hotplug: GED at 0x%lx GSI %u, ECAM 0x%lx, window 0x%lx\n",
		     (unsigned long)ged, ged_gsi, (unsigned long)ecam, (unsigned long)win32);
	if (mode == 1) {
		uint32_t ev;

		guest_printf("hotplug: ready\n");
		outb(PORT, 3);
		ev = ged_event(&seen);
		if (!(ev & 8))
			return fail(4, "no power-button bit");
		if (mmio_read32(ged))
			return fail(4, "event word not cleared on read");
		guest_printf("hotplug: power button\n");
		return 0x48;
	}
	if (!ecam || !win32)
		return fail(0, "no PCI in the ACPI tables");
	if ((ret = hostile()))
		return ret;
	if (mode == 3) {
		uint16_t did;

		guest_printf("hotplug: ready\n");
		if ((ret = hp_event(&seen, true, &slot)))
			return ret;
		did = mmio_read16(ecam_at(slot, 2));
		if (mmio_read16(ecam_at(slot, 0)) != 0x1af4)
			return fail(5, "no virtio function in the new slot");
		guest_printf("hotplug: slot %u up (1af4:%04x)\n", slot, did);
		if ((ret = hp_event(&seen, false, &slot)))
			return ret;
		guest_printf("hotplug: slot %u down, ejecting\n", slot);
		if ((ret = eject_and_wait(slot)))
			return ret;
		guest_printf("hotplug: slot %u gone\n", slot);
		return 0x49;
	}
	if (mode == 5)
		return intx_shared(&seen);
	if (mode != 2 && mode != 4)
		return fail(0, "arg 0: mode 1-5");
	if (mode == 4)
		rounds = 1;
	for (uint64_t i = 0; i < rounds; i++) {
		outb(PORT, 1);
		if ((ret = hp_event(&seen, true, &slot)) || (ret = rng_setup(slot, &r)) ||
		    (ret = rng_read(&r)))
			return ret;
		if (mode == 4) {
			outb(PORT, 4);
			while (inb(PORT) != 4)
				cpu_relax();
			if ((ret = rng_read(&r)))
				return ret;
			guest_printf("hotplug: after save and restore the hotplugged rng answers\n");
			return 0;
		}
		outb(PORT, 2);
		{
			unsigned int down;

			if ((ret = hp_event(&seen, false, &down)))
				return ret;
			if (down != slot)
				return fail(2, "PCID names another slot");
		}
		if ((ret = eject_and_wait(slot)))
			return ret;
		if (i == 0 || i + 1 == rounds)
			guest_printf("hotplug: round %lu: slot %u up, rng read, ejected, gone\n",
				     (unsigned long)i, slot);
	}
	return 0;
}
