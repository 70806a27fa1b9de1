/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a guest without virtio_mmio.device= sees of the virtio devices: walk
 * RSDP (scanned for in 0xE0000-0xFFFFF) -> XSDT -> FADT -> DSDT, count the
 * LNRO0005 (virtio-mmio) devices and print each Memory32Fixed window and
 * Extended Interrupt in the DSDT, one "virtio-acpi: ..." line each.
 * Every table's checksum is verified. Exit code: 0x40 + the LNRO0005
 * count (not the count itself: 1, 2 and 3 are cvmm-microvm's own codes for
 * a bad configuration, a crashed guest and a host failure); 0xe0 + step
 * when a table is missing or broken.
 */
#include "guest.h"

#define VIRTIO_ACPI_EXIT_BASE 0x40

static bool sum_ok(const uint8_t *p, uint64_t len)
{
	uint8_t s = 0;

	for (uint64_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s == 0;
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

int guest_main(unsigned int cpu)
{
	const uint8_t *rsdp = NULL, *xsdt, *fadt = NULL, *dsdt;
	uint32_t xlen, dlen;
	int count = 0;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
		if (!memcmp((const void *)a, "RSD PTR ", 8)) {
			rsdp = (const uint8_t *)a;
			break;
		}
	if (!rsdp || !sum_ok(rsdp, 20) || rsdp[15] < 2 || !sum_ok(rsdp, 36))
		return 0xe0;
	xsdt = (const uint8_t *)le64(rsdp + 24);
	xlen = le32(xsdt + 4);
	if (memcmp(xsdt, "XSDT", 4) || xlen < 36 || !sum_ok(xsdt, xlen))
		return 0xe1;
	for (uint32_t off = 36; off + 8 <= xlen; off += 8) {
		const uint8_t *t = (const uint8_t *)le64(xsdt + off);

		if (!memcmp(t, "FACP", 4))
			fadt = t;
	}
	if (!fadt || !sum_ok(fadt, le32(fadt + 4)))
		return 0xe2;
	/* X_DSDT (offset 140) when the FADT is long enough, else DSDT (40). */
	dsdt = (const uint8_t *)(le32(fadt + 4) >= 148 && le64(fadt + 140) ?
				 le64(fadt + 140) : (uint64_t)le32(fadt + 40));
	dlen = le32(dsdt + 4);
	if (memcmp(dsdt, "DSDT", 4) || dlen < 36 || !sum_ok(dsdt, dlen))
		return 0xe3;
	for (uint32_t i = 36; i + 12 <= dlen; i++) {
		if (!memcmp(dsdt + i, "LNRO0005", 8))
			count++;
		/* Memory32Fixed: 0x86, length 9 */
		if (dsdt[i] == 0x86 && dsdt[i + 1] == 9 && dsdt[i + 2] == 0)
			guest_printf("virtio-acpi: mem %x size %x\n", le32(dsdt + i + 4),
				     le32(dsdt + i + 8));
		/* Extended Interrupt with one entry: 0x89, length 6 */
		if (dsdt[i] == 0x89 && dsdt[i + 1] == 6 && dsdt[i + 2] == 0 && dsdt[i + 4] == 1)
			guest_printf("virtio-acpi: irq %u flags %x\n", le32(dsdt + i + 5), dsdt[i + 3]);
	}
	guest_printf("virtio-acpi: %d LNRO0005 devices\n", count);
	return VIRTIO_ACPI_EXIT_BASE + count;
}
