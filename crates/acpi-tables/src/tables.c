/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The table set of a hardware-reduced x86 guest: RSDP -> XSDT -> {FADT,
 * MADT}, FADT -> DSDT. No FACS, no PM blocks, no SCI: power management is
 * the ACPI 6 sleep control/status register pair, which the VMM traps.
 */
#include <cvmm/acpi-tables.h>
#include <cvmm/sys-util.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define RSDP_LEN 36
#define FADT_LEN 276   /* ACPI 6.3 layout, up to the hypervisor vendor ID */
#define TABLE_ALIGN 16

#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED (1u << 20)
#define BOOT_ARCH_8042 (1u << 1)
#define BOOT_ARCH_NO_VGA (1u << 2)
#define BOOT_ARCH_NO_CMOS_RTC (1u << 5)

#define MADT_PCAT_COMPAT 1u
#define DEFAULT_LAPIC 0xfee00000u
#define DEFAULT_IOAPIC 0xfec00000u
#define BIOS_AREA_END 0x100000ull
#define RTC_CENTURY_REG 0x32

static const char *oem(const struct cvmm_acpi_config *cfg)
{
	return cfg->oem_id ? cfg->oem_id : "CVMM";
}

static void put_gas(uint8_t *p, const struct cvmm_acpi_gas *g)
{
	p[0] = g->space_id;
	p[1] = g->bit_width ? g->bit_width : 8;
	p[2] = g->bit_offset;
	p[3] = g->access_size ? g->access_size : 1;
	cvmm_acpi_priv_put_le(p + 4, g->address, 8);
}

static bool gas_ok(const struct cvmm_acpi_gas *g)
{
	return g->address && g->space_id <= CVMM_ACPI_GAS_IO && g->access_size <= 4;
}

static int check_config(const struct cvmm_acpi_config *cfg)
{
	if (!cfg || cfg->sz < sizeof(*cfg))
		return -EINVAL;
	if (cfg->num_cpus < 1 || cfg->num_cpus > CVMM_ACPI_MAX_CPUS)
		return -EINVAL;
	if (!CVMM_IS_ALIGNED(cfg->gpa, TABLE_ALIGN))
		return -EINVAL;
	if (!gas_ok(&cfg->sleep_control) || !gas_ok(&cfg->sleep_status))
		return -EINVAL;
	if (cfg->reset_reg.address && !gas_ok(&cfg->reset_reg))
		return -EINVAL;
	if (cfg->viot) {
		const struct cvmm_acpi_viot *v = cfg->viot;

		if (!cfg->pci || !v->ranges || v->num_ranges < 1 ||
		    v->num_ranges > CVMM_ACPI_VIOT_MAX_RANGES)
			return -EINVAL;
		for (unsigned int i = 0; i < v->num_ranges; i++)
			if (v->ranges[i].bdf_end < v->ranges[i].bdf_start ||
			    (v->iommu_bdf >= v->ranges[i].bdf_start &&
			     v->iommu_bdf <= v->ranges[i].bdf_end))
				return -EINVAL;
	}
	if (cfg->num_overrides && !cfg->overrides)
		return -EINVAL;
	if (cfg->num_virtio > CVMM_ACPI_MAX_VIRTIO)
		return -E2BIG;
	if (cfg->num_virtio && !cfg->virtio)
		return -EINVAL;
	for (unsigned int i = 0; i < cfg->num_virtio; i++) {
		const struct cvmm_acpi_virtio_mmio *v = &cfg->virtio[i];

		if (!v->size || !cvmm_range_ok(v->base, v->size, UINT64_MAX))
			return -EINVAL;
	}
	if (cfg->serial && cfg->serial_port > 0xffff - 7)
		return -EINVAL;
	if (cfg->oem_id && strlen(cfg->oem_id) > 6)
		return -EINVAL;
	if (cfg->ged) {
		const struct cvmm_acpi_ged *g = cfg->ged;

		if (!cvmm_range_ok(g->base, CVMM_ACPI_GED_SIZE, 1ull << 32) ||
		    (g->pcihp_base && (!cfg->pci || !cvmm_range_ok(g->pcihp_base,
								   CVMM_ACPI_PCIHP_SIZE,
								   1ull << 32))))
			return -EINVAL;
	}
	if (cfg->pci) {
		const struct cvmm_acpi_pci *p = cfg->pci;

		if (!CVMM_IS_ALIGNED(p->ecam_base, 1ull << 20) || p->bus_start > p->bus_end ||
		    !cvmm_range_ok(p->ecam_base, (uint64_t)(p->bus_end - p->bus_start + 1) << 20,
				   UINT64_MAX) ||
		    (p->mmio32_size && !cvmm_range_ok(p->mmio32_base, p->mmio32_size, 1ull << 32)) ||
		    (p->mmio64_size && !cvmm_range_ok(p->mmio64_base, p->mmio64_size, UINT64_MAX)) ||
		    p->num_irqs > 32 || (p->num_irqs && !p->irqs))
			return -EINVAL;
		for (unsigned int i = 0; i < p->num_irqs; i++)
			if (p->irqs[i].slot > 31)
				return -EINVAL;
	}
	return 0;
}

static void name_int(struct cvmm_acpi_buf *b, const char *name, uint64_t v)
{
	cvmm_aml_name(b, name);
	cvmm_aml_integer(b, v);
}

/* Method(_STA) { Return (0x0F) }: present, enabled, shown, functioning. */
static void sta_present(struct cvmm_acpi_buf *b)
{
	size_t m = cvmm_aml_method_begin(b, "_STA", 0, false);

	cvmm_aml_return(b);
	cvmm_aml_integer(b, 0x0f);
	cvmm_aml_end(b, m);
}

static void legacy_device(struct cvmm_acpi_buf *b, const char *name, const char *hid,
			  uint64_t uid, const uint16_t *ports, const uint8_t *lens,
			  unsigned int nports, uint32_t irq)
{
	size_t dev = cvmm_aml_device_begin(b, name), crs;

	cvmm_aml_name(b, "_HID");
	cvmm_aml_eisaid(b, hid);
	name_int(b, "_UID", uid);
	sta_present(b);
	cvmm_aml_name(b, "_CRS");
	crs = cvmm_aml_restemplate_begin(b);
	for (unsigned int i = 0; i < nports; i++)
		cvmm_aml_res_io(b, ports[i], ports[i], 1, lens[i]);
	if (irq < 16)
		cvmm_aml_res_irq_noflags(b, irq);
	else
		cvmm_aml_res_interrupt(b, CVMM_AML_INT_CONSUMER | CVMM_AML_INT_EDGE, irq);
	cvmm_aml_restemplate_end(b, crs);
	cvmm_aml_end(b, dev);
}

static void virtio_device(struct cvmm_acpi_buf *b, unsigned int idx,
			  const struct cvmm_acpi_virtio_mmio *v)
{
	char name[8];
	size_t dev, crs;
	unsigned int flags = CVMM_AML_INT_CONSUMER | (v->level ? 0 : CVMM_AML_INT_EDGE);

	snprintf(name, sizeof(name), "V%03X", idx & 0xfff);
	dev = cvmm_aml_device_begin(b, name);
	cvmm_aml_name(b, "_HID");
	cvmm_aml_string(b, "LNRO0005");
	name_int(b, "_UID", idx);
	sta_present(b);
	cvmm_aml_name(b, "_CRS");
	crs = cvmm_aml_restemplate_begin(b);
	if (cvmm_range_ok(v->base, v->size, 1ull << 32))
		cvmm_aml_res_memory32_fixed(b, true, (uint32_t)v->base, (uint32_t)v->size);
	else
		cvmm_aml_res_qword_memory(b, true, false, v->base, v->size);
	cvmm_aml_res_interrupt(b, flags, v->gsi);
	cvmm_aml_restemplate_end(b, crs);
	cvmm_aml_end(b, dev);
}

/*
 * Device (PCI0): the host bridge of @p's segment. Linux takes ECAM from
 * MCFG only when a motherboard device reserves it, hence MBRD.
 */
/* Notify(S<slot>, @value) for each bit of Local@local. */
static void notify_slots(struct cvmm_acpi_buf *b, unsigned int local, unsigned int value)
{
	for (unsigned int s = 1; s < 32; s++) {
		char name[5];
		size_t m = cvmm_aml_if_begin(b);

		cvmm_aml_and(b);
		cvmm_aml_local(b, local);
		cvmm_aml_integer(b, 1ull << s);
		cvmm_aml_no_target(b);
		snprintf(name, sizeof(name), "S%02X", s);
		cvmm_aml_notify(b);
		cvmm_aml_name_string(b, name);
		cvmm_aml_integer(b, value);
		cvmm_aml_end(b, m);
	}
}

/*
 * ACPI PCI hotplug inside PCI0, as Cloud Hypervisor and QEMU describe it:
 * the registers as fields, a device per slot whose _EJ0 writes the slot's
 * bit to the eject register, and PCNT, which reads both bitmaps (the VMM
 * clears them on read) and notifies each slot: 1 (device check: scan it)
 * for up, 3 (eject request) for down.
 */
static void pci_hotplug(struct cvmm_acpi_buf *b, uint64_t base)
{
	size_t f, m;

	cvmm_aml_opregion(b, "PCST", CVMM_AML_SPACE_MEMORY, base, CVMM_ACPI_PCIHP_SIZE);
	f = cvmm_aml_field_begin(b, "PCST", CVMM_AML_FIELD_DWORD_ACC |
				 CVMM_AML_FIELD_WRITE_AS_ZEROS);
	cvmm_aml_field_unit(b, "PCIU", 32);
	cvmm_aml_field_unit(b, "PCID", 32);
	cvmm_aml_field_unit(b, "B0EJ", 32);
	cvmm_aml_end(b, f);
	for (unsigned int s = 1; s < 32; s++) {
		char name[5];
		size_t dev;

		snprintf(name, sizeof(name), "S%02X", s);
		dev = cvmm_aml_device_begin(b, name);
		name_int(b, "_ADR", (uint64_t)s << 16);
		name_int(b, "_SUN", s);
		m = cvmm_aml_method_begin(b, "_EJ0", 1, false);
		cvmm_aml_store(b);
		cvmm_aml_integer(b, 1ull << s);
		cvmm_aml_name_string(b, "B0EJ");
		cvmm_aml_end(b, m);
		cvmm_aml_end(b, dev);
	}
	m = cvmm_aml_method_begin(b, "PCNT", 0, true);
	cvmm_aml_store(b);
	cvmm_aml_name_string(b, "PCIU");
	cvmm_aml_local(b, 0);
	cvmm_aml_store(b);
	cvmm_aml_name_string(b, "PCID");
	cvmm_aml_local(b, 1);
	notify_slots(b, 0, 1);
	notify_slots(b, 1, 3);
	cvmm_aml_end(b, m);
}

/*
 * The power button (PNP0C0C) and the GED: _CRS gives its interrupt, and
 * only that (Linux's acpi-ged refuses a _CRS with anything but
 * interrupts: "unable to parse IRQ resource"); its registers are claimed
 * by a generic container beside it, GEC_ (PNP0A06), as Cloud Hypervisor
 * does. _EVT reads the event word (cleared on read) and acts on each bit.
 */
static void ged_devices(struct cvmm_acpi_buf *b, const struct cvmm_acpi_ged *g)
{
	size_t dev, crs, m, f, i;

	dev = cvmm_aml_device_begin(b, "PWRB");
	cvmm_aml_name(b, "_HID");
	cvmm_aml_eisaid(b, "PNP0C0C");
	name_int(b, "_UID", 0);
	cvmm_aml_end(b, dev);

	dev = cvmm_aml_device_begin(b, "GEC_");
	cvmm_aml_name(b, "_HID");
	cvmm_aml_eisaid(b, "PNP0A06");
	name_int(b, "_UID", 0);
	cvmm_aml_name(b, "_CRS");
	crs = cvmm_aml_restemplate_begin(b);
	cvmm_aml_res_memory32_fixed(b, true, (uint32_t)g->base, CVMM_ACPI_GED_SIZE);
	if (g->pcihp_base)
		cvmm_aml_res_memory32_fixed(b, true, (uint32_t)g->pcihp_base,
					    CVMM_ACPI_PCIHP_SIZE);
	cvmm_aml_restemplate_end(b, crs);
	cvmm_aml_end(b, dev);

	dev = cvmm_aml_device_begin(b, "GED_");
	cvmm_aml_name(b, "_HID");
	cvmm_aml_string(b, "ACPI0013");
	name_int(b, "_UID", 0);
	cvmm_aml_name(b, "_CRS");
	crs = cvmm_aml_restemplate_begin(b);
	cvmm_aml_res_interrupt(b, CVMM_AML_INT_CONSUMER | CVMM_AML_INT_EDGE, g->gsi);
	cvmm_aml_restemplate_end(b, crs);
	cvmm_aml_opregion(b, "GDST", CVMM_AML_SPACE_MEMORY, g->base, CVMM_ACPI_GED_SIZE);
	f = cvmm_aml_field_begin(b, "GDST", CVMM_AML_FIELD_DWORD_ACC |
				 CVMM_AML_FIELD_WRITE_AS_ZEROS);
	cvmm_aml_field_unit(b, "GDAT", 32);
	cvmm_aml_end(b, f);
	m = cvmm_aml_method_begin(b, "_EVT", 1, true);
	cvmm_aml_store(b);
	cvmm_aml_name_string(b, "GDAT");
	cvmm_aml_local(b, 0);
	if (g->pcihp_base) {
		i = cvmm_aml_if_begin(b);
		cvmm_aml_and(b);
		cvmm_aml_local(b, 0);
		cvmm_aml_integer(b, CVMM_ACPI_GED_PCI_HOTPLUG);
		cvmm_aml_no_target(b);
		/* Relative, as iasl optimises it (the DSDT recompiles to itself). */
		cvmm_aml_name_string(b, "^^PCI0.PCNT");
		cvmm_aml_end(b, i);
	}
	i = cvmm_aml_if_begin(b);
	cvmm_aml_and(b);
	cvmm_aml_local(b, 0);
	cvmm_aml_integer(b, CVMM_ACPI_GED_POWER_BUTTON);
	cvmm_aml_no_target(b);
	cvmm_aml_notify(b);
	cvmm_aml_name_string(b, "PWRB");
	cvmm_aml_integer(b, 0x80);
	cvmm_aml_end(b, i);
	cvmm_aml_end(b, m);
	cvmm_aml_end(b, dev);
}

static void pci_root(struct cvmm_acpi_buf *b, const struct cvmm_acpi_pci *p,
		     const struct cvmm_acpi_ged *ged)
{
	uint64_t ecam_len = (uint64_t)(p->bus_end - p->bus_start + 1) << 20;
	size_t dev, crs, prt;

	dev = cvmm_aml_device_begin(b, "PCI0");
	cvmm_aml_name(b, "_HID");
	cvmm_aml_eisaid(b, "PNP0A08");
	cvmm_aml_name(b, "_CID");
	cvmm_aml_eisaid(b, "PNP0A03");
	name_int(b, "_ADR", 0);
	name_int(b, "_SEG", p->segment);
	name_int(b, "_BBN", p->bus_start);
	name_int(b, "_UID", p->segment);
	cvmm_aml_name(b, "_CRS");
	crs = cvmm_aml_restemplate_begin(b);
	cvmm_aml_res_word_bus_number(b, p->bus_start, p->bus_end);
	cvmm_aml_res_io(b, 0xcf8, 0xcf8, 1, 8);
	if (p->mmio32_size)
		cvmm_aml_res_window_memory(b, p->mmio32_base, p->mmio32_size);
	if (p->mmio64_size)
		cvmm_aml_res_window_memory(b, p->mmio64_base, p->mmio64_size);
	cvmm_aml_restemplate_end(b, crs);
	/* _PRT: {slot << 16 | 0xFFFF, pin INTA (0), no link device (0), GSI}. */
	cvmm_aml_name(b, "_PRT");
	prt = cvmm_aml_package_begin(b);
	for (unsigned int i = 0; i < p->num_irqs; i++) {
		size_t e = cvmm_aml_package_begin(b);

		cvmm_aml_integer(b, (uint64_t)p->irqs[i].slot << 16 | 0xffff);
		cvmm_aml_integer(b, 0);
		cvmm_aml_integer(b, 0);
		cvmm_aml_integer(b, p->irqs[i].gsi);
		cvmm_aml_package_end(b, e, 4);
	}
	cvmm_aml_package_end(b, prt, p->num_irqs);
	if (ged && ged->pcihp_base)
		pci_hotplug(b, ged->pcihp_base);
	cvmm_aml_end(b, dev);

	dev = cvmm_aml_device_begin(b, "MBRD");
	cvmm_aml_name(b, "_HID");
	cvmm_aml_eisaid(b, "PNP0C02");
	name_int(b, "_UID", 0);
	cvmm_aml_name(b, "_CRS");
	crs = cvmm_aml_restemplate_begin(b);
	if (cvmm_range_ok(p->ecam_base, ecam_len, 1ull << 32))
		cvmm_aml_res_memory32_fixed(b, true, (uint32_t)p->ecam_base, (uint32_t)ecam_len);
	else
		cvmm_aml_res_qword_memory(b, true, false, p->ecam_base, ecam_len);
	cvmm_aml_restemplate_end(b, crs);
	cvmm_aml_end(b, dev);
}

int cvmm_acpi_build_dsdt(struct cvmm_acpi_buf *b, const struct cvmm_acpi_config *cfg)
{
	static const uint16_t kbd_ports[] = { 0x60, 0x64 }, rtc_ports[] = { 0x70 };
	static const uint8_t kbd_lens[] = { 1, 1 }, rtc_lens[] = { 2 };
	size_t start, sb, pkg;
	int r = check_config(cfg);

	if (r)
		return cvmm_acpi_priv_fail(b, r);
	/* Revision 2: integers are 64 bits (QWordMemory needs that). */
	start = cvmm_acpi_table_begin(b, "DSDT", 2, oem(cfg), NULL);
	/* Relative names at the top level are already rooted, and are what
	 * iasl emits: the DSDT then recompiles to identical bytes. */
	sb = cvmm_aml_scope_begin(b, "_SB");
	if (cfg->serial) {
		uint8_t len = 8;

		legacy_device(b, "COM1", "PNP0501", 1, &cfg->serial_port, &len, 1,
			      cfg->serial_irq);
	}
	if (cfg->i8042)
		legacy_device(b, "PS2K", "PNP0303", 0, kbd_ports, kbd_lens, 2, 1);
	if (cfg->rtc)
		legacy_device(b, "RTC_", "PNP0B00", 0, rtc_ports, rtc_lens, 1, 8);
	for (unsigned int i = 0; i < cfg->num_virtio; i++)
		virtio_device(b, i, &cfg->virtio[i]);
	if (cfg->pci)
		pci_root(b, cfg->pci, cfg->ged);
	if (cfg->ged)
		ged_devices(b, cfg->ged);
	cvmm_aml_end(b, sb);
	/* \_S5: SLP_TYPa, SLP_TYPb and two reserved entries. */
	cvmm_aml_name(b, "_S5");
	pkg = cvmm_aml_package_begin(b);
	cvmm_aml_integer(b, CVMM_ACPI_SLP_TYP_S5);
	cvmm_aml_integer(b, CVMM_ACPI_SLP_TYP_S5);
	cvmm_aml_integer(b, 0);
	cvmm_aml_integer(b, 0);
	cvmm_aml_package_end(b, pkg, 4);
	return cvmm_acpi_table_end(b, start);
}

static void build_fadt(struct cvmm_acpi_buf *b, const struct cvmm_acpi_config *cfg,
		       uint64_t dsdt_gpa)
{
	uint8_t f[FADT_LEN - ACPI_HEADER_LEN] = { 0 };
	size_t start = cvmm_acpi_table_begin(b, "FACP", 6, oem(cfg), NULL);
	uint32_t flags = FADT_F_HW_REDUCED;
	uint16_t boot_arch = BOOT_ARCH_NO_VGA;
#define AT(off) (f + ((off) - ACPI_HEADER_LEN))

	if (cfg->i8042)
		boot_arch |= BOOT_ARCH_8042;
	if (!cfg->rtc)
		boot_arch |= BOOT_ARCH_NO_CMOS_RTC;
	else
		*AT(108) = RTC_CENTURY_REG;
	if (dsdt_gpa < (1ull << 32))
		cvmm_acpi_priv_put_le(AT(40), dsdt_gpa, 4);
	cvmm_acpi_priv_put_le(AT(109), boot_arch, 2);
	if (cfg->reset_reg.address) {
		flags |= FADT_F_RESET_REG_SUP;
		put_gas(AT(116), &cfg->reset_reg);
		*AT(128) = cfg->reset_value;
	}
	cvmm_acpi_priv_put_le(AT(112), flags, 4);
	*AT(131) = 3; /* FADT minor version: 6.3 */
	cvmm_acpi_priv_put_le(AT(140), dsdt_gpa, 8);
	put_gas(AT(244), &cfg->sleep_control);
	put_gas(AT(256), &cfg->sleep_status);
	memcpy(AT(268), "CVMM    ", 8); /* hypervisor vendor identity */
#undef AT
	cvmm_acpi_buf_append(b, f, sizeof(f));
	cvmm_acpi_table_end(b, start);
}

static void build_madt(struct cvmm_acpi_buf *b, const struct cvmm_acpi_config *cfg)
{
	size_t start = cvmm_acpi_table_begin(b, "APIC", 5, oem(cfg), NULL);

	cvmm_acpi_buf_u32(b, cfg->lapic_addr ? cfg->lapic_addr : DEFAULT_LAPIC);
	cvmm_acpi_buf_u32(b, cfg->pcat_compat ? MADT_PCAT_COMPAT : 0);
	for (uint32_t i = 0; i < cfg->num_cpus; i++) {
		uint8_t lapic[8] = { 0, 8, (uint8_t)i, (uint8_t)i, 1 /* enabled */ };

		cvmm_acpi_buf_append(b, lapic, sizeof(lapic));
	}
	{
		uint8_t io[12] = { 1, 12, cfg->ioapic_id, 0 };

		cvmm_acpi_priv_put_le(io + 4, cfg->ioapic_addr ? cfg->ioapic_addr : DEFAULT_IOAPIC, 4);
		cvmm_acpi_priv_put_le(io + 8, cfg->ioapic_gsi_base, 4);
		cvmm_acpi_buf_append(b, io, sizeof(io));
	}
	for (unsigned int i = 0; i < cfg->num_overrides; i++) {
		const struct cvmm_acpi_irq_override *o = &cfg->overrides[i];
		uint8_t iso[10] = { 2, 10, 0 /* ISA */, o->source };

		cvmm_acpi_priv_put_le(iso + 4, o->gsi, 4);
		cvmm_acpi_priv_put_le(iso + 8, o->flags, 2);
		cvmm_acpi_buf_append(b, iso, sizeof(iso));
	}
	{
		/* LINT1 of every CPU is NMI, edge, active high. */
		uint8_t nmi[6] = { 4, 6, 0xff, 0x05, 0x00, 1 };

		cvmm_acpi_buf_append(b, nmi, sizeof(nmi));
	}
	cvmm_acpi_table_end(b, start);
}

/* MCFG: one allocation (ECAM range) for the segment. */
static void build_mcfg(struct cvmm_acpi_buf *b, const struct cvmm_acpi_config *cfg)
{
	const struct cvmm_acpi_pci *p = cfg->pci;
	size_t start = cvmm_acpi_table_begin(b, "MCFG", 1, oem(cfg), NULL);
	uint8_t e[16] = { 0 };

	cvmm_acpi_buf_u64(b, 0);                       /* reserved */
	cvmm_acpi_priv_put_le(e, p->ecam_base, 8);
	cvmm_acpi_priv_put_le(e + 8, p->segment, 2);
	e[10] = p->bus_start;
	e[11] = p->bus_end;
	cvmm_acpi_buf_append(b, e, sizeof(e));
	cvmm_acpi_table_end(b, start);
}

/*
 * VIOT (virtio 1.2 leaves it to ACPI; the layout Linux's viot.c reads):
 * header, node_count, node_offset, 8 reserved; the virtio-iommu PCI node
 * (type 3, 16 bytes) first, then a PCI range node (type 1, 24 bytes) per
 * range whose output_node is the IOMMU node's offset in the table.
 */
#define VIOT_NODES 48u
static void build_viot(struct cvmm_acpi_buf *b, const struct cvmm_acpi_config *cfg)
{
	const struct cvmm_acpi_viot *v = cfg->viot;
	size_t start = cvmm_acpi_table_begin(b, "VIOT", 0, oem(cfg), NULL);
	uint8_t n[24];

	cvmm_acpi_buf_u16(b, (uint16_t)(1 + v->num_ranges));
	cvmm_acpi_buf_u16(b, VIOT_NODES);
	cvmm_acpi_buf_u64(b, 0);
	memset(n, 0, sizeof(n));
	n[0] = 3;                                      /* virtio-iommu on PCI */
	cvmm_acpi_priv_put_le(n + 2, 16, 2);
	cvmm_acpi_priv_put_le(n + 4, cfg->pci->segment, 2);
	cvmm_acpi_priv_put_le(n + 6, v->iommu_bdf, 2);
	cvmm_acpi_buf_append(b, n, 16);
	for (unsigned int i = 0; i < v->num_ranges; i++) {
		const struct cvmm_acpi_viot_endpoint *r = &v->ranges[i];

		memset(n, 0, sizeof(n));
		n[0] = 1;                              /* PCI range */
		cvmm_acpi_priv_put_le(n + 2, 24, 2);
		cvmm_acpi_priv_put_le(n + 4, r->endpoint_start, 4);
		cvmm_acpi_priv_put_le(n + 8, cfg->pci->segment, 2);
		cvmm_acpi_priv_put_le(n + 10, cfg->pci->segment, 2);
		cvmm_acpi_priv_put_le(n + 12, r->bdf_start, 2);
		cvmm_acpi_priv_put_le(n + 14, r->bdf_end, 2);
		cvmm_acpi_priv_put_le(n + 16, VIOT_NODES, 2);
		cvmm_acpi_buf_append(b, n, 24);
	}
	cvmm_acpi_table_end(b, start);
}

static void pad_to(struct cvmm_acpi_buf *b, size_t align)
{
	static const uint8_t zeros[TABLE_ALIGN];

	cvmm_acpi_buf_append(b, zeros, CVMM_ALIGN_UP(b->len, align) - b->len);
}

int cvmm_acpi_build(const struct cvmm_acpi_config *cfg, struct cvmm_acpi_tables *out)
{
	struct cvmm_acpi_buf b, dsdt;
	size_t xsdt, fadt, madt, dsdt_off, xsdt_mcfg = 0, mcfg = 0, viot = 0;
	unsigned int nx = 2 + (cfg && cfg->pci) + (cfg && cfg->viot);
	uint8_t rsdp[RSDP_LEN] = { 0 };
	bool layout_ok;
	int r;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	r = check_config(cfg);
	if (r)
		return r;
	cvmm_acpi_buf_init(&dsdt, 0);
	r = cvmm_acpi_build_dsdt(&dsdt, cfg);
	if (r) {
		cvmm_acpi_buf_fini(&dsdt);
		return r;
	}
	/* Fixed layout: every offset is known before any table is written. */
	xsdt = CVMM_ALIGN_UP((size_t)RSDP_LEN, TABLE_ALIGN);
	fadt = CVMM_ALIGN_UP(xsdt + ACPI_HEADER_LEN + nx * 8, TABLE_ALIGN);
	madt = CVMM_ALIGN_UP(fadt + FADT_LEN, TABLE_ALIGN);
	cvmm_acpi_buf_init(&b, 0);
	cvmm_acpi_buf_append(&b, rsdp, sizeof(rsdp)); /* filled in below */
	pad_to(&b, TABLE_ALIGN);
	{
		size_t start = cvmm_acpi_table_begin(&b, "XSDT", 1, oem(cfg), NULL);

		cvmm_acpi_buf_u64(&b, cfg->gpa + fadt);
		cvmm_acpi_buf_u64(&b, cfg->gpa + madt);
		xsdt_mcfg = b.len;           /* MCFG's address, once known */
		if (cfg->pci)
			cvmm_acpi_buf_u64(&b, 0);
		if (cfg->viot)
			cvmm_acpi_buf_u64(&b, 0);
		cvmm_acpi_table_end(&b, start);
	}
	pad_to(&b, TABLE_ALIGN);
	dsdt_off = 0;
	if (!b.err) {
		/* The DSDT goes after the MADT, whose size depends on the config. */
		struct cvmm_acpi_buf probe;

		cvmm_acpi_buf_init(&probe, 0);
		build_madt(&probe, cfg);
		dsdt_off = CVMM_ALIGN_UP(madt + probe.len, TABLE_ALIGN);
		r = probe.err;
		cvmm_acpi_buf_fini(&probe);
		if (r)
			cvmm_acpi_priv_fail(&b, r);
	}
	layout_ok = b.len == fadt;
	build_fadt(&b, cfg, cfg->gpa + dsdt_off);
	pad_to(&b, TABLE_ALIGN);
	layout_ok &= b.len == madt;
	build_madt(&b, cfg);
	pad_to(&b, TABLE_ALIGN);
	layout_ok &= b.len == dsdt_off;
	cvmm_acpi_buf_append(&b, dsdt.data, dsdt.len);
	if (cfg->pci) {
		/* After the DSDT: the XSDT's third entry, then its checksum. */
		pad_to(&b, TABLE_ALIGN);
		mcfg = b.len;
		build_mcfg(&b, cfg);
		if (cfg->viot) {
			pad_to(&b, TABLE_ALIGN);
			viot = b.len;
			build_viot(&b, cfg);
		}
		if (!b.err) {
			cvmm_acpi_priv_put_le(b.data + xsdt_mcfg, cfg->gpa + mcfg, 8);
			if (cfg->viot)
				cvmm_acpi_priv_put_le(b.data + xsdt_mcfg + 8, cfg->gpa + viot, 8);
			b.data[xsdt + 9] = 0;
			b.data[xsdt + 9] = (uint8_t)(0x100 - cvmm_acpi_sum(b.data + xsdt,
									   ACPI_HEADER_LEN + nx * 8));
		}
	}
	r = b.err;
	if (!r && (!layout_ok || !cvmm_range_ok(cfg->gpa, b.len, UINT64_MAX)))
		r = -EINVAL;
	/* Below 1 MiB the blob sits in the BIOS area and must not cross it. */
	if (!r && cfg->gpa < BIOS_AREA_END && cfg->gpa + b.len > BIOS_AREA_END)
		r = -EINVAL;
	if (r) {
		cvmm_acpi_buf_fini(&dsdt);
		cvmm_acpi_buf_fini(&b);
		return r;
	}
	memcpy(b.data, "RSD PTR ", 8);
	memset(b.data + 9, ' ', 6);
	memcpy(b.data + 9, oem(cfg), strlen(oem(cfg)));
	b.data[15] = 2; /* ACPI 2.0+ RSDP: XSDT only, RsdtAddress stays 0 */
	cvmm_acpi_priv_put_le(b.data + 20, RSDP_LEN, 4);
	cvmm_acpi_priv_put_le(b.data + 24, cfg->gpa + xsdt, 8);
	b.data[8] = (uint8_t)(0x100 - cvmm_acpi_sum(b.data, 20));
	b.data[32] = (uint8_t)(0x100 - cvmm_acpi_sum(b.data, RSDP_LEN));

	out->data = b.data;
	out->len = b.len;
	out->gpa = cfg->gpa;
	out->rsdp_gpa = cfg->gpa;
	out->xsdt_gpa = cfg->gpa + xsdt;
	out->fadt_gpa = cfg->gpa + fadt;
	out->madt_gpa = cfg->gpa + madt;
	out->dsdt_gpa = cfg->gpa + dsdt_off;
	out->dsdt_len = dsdt.len;
	out->mcfg_gpa = cfg->pci ? cfg->gpa + mcfg : 0;
	out->viot_gpa = cfg->viot ? cfg->gpa + viot : 0;
	cvmm_acpi_buf_fini(&dsdt);
	return 0;
}

void cvmm_acpi_tables_fini(struct cvmm_acpi_tables *t)
{
	if (!t)
		return;
	free(t->data);
	memset(t, 0, sizeof(*t));
}
