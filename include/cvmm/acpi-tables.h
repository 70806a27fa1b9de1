/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/acpi-tables.h
 * @brief ACPI tables for a hardware-reduced x86 guest, and an AML builder.
 *
 * Three layers, each usable alone:
 *  - struct cvmm_acpi_buf: a heap byte buffer with a hard size cap and a
 *    sticky error, so a long run of builder calls is checked once at the end;
 *  - the AML builder (cvmm_aml_*): names, integers, strings, buffers,
 *    packages, Scope/Device/Method, resource templates; PkgLength fields
 *    are sized and filled in when a construct is closed;
 *  - cvmm_acpi_build(): RSDP, XSDT, FADT (hardware-reduced, with the ACPI 6
 *    sleep control/status registers the VMM traps to see a guest poweroff),
 *    MADT and a DSDT describing the serial port, optional i8042 and RTC, and
 *    one LNRO0005 device per virtio-mmio transport, laid out as one blob for
 *    a given guest physical address with every pointer and checksum set.
 *
 * The output is plain bytes; cvmm_acpi_tables_write() copies a blob into
 * guest memory through vm-memory, or the program copies it itself.
 *
 * Errors: -EINVAL malformed argument (bad name, bad config); -E2BIG a
 * buffer would pass its cap or an encoding limit (PkgLength > 2^28 - 1,
 * more than 255 package elements); -ENOMEM allocation failure.
 *
 * Thread safety: a buffer belongs to one thread at a time; nothing global.
 */
#ifndef CVMM_ACPI_TABLES_H
#define CVMM_ACPI_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cvmm_guest_mem;

/* ------------------------------------------------------------------------ */
/* Byte buffer                                                               */
/* ------------------------------------------------------------------------ */

/** Default cap of a buffer: far above any real DSDT, far below trouble. */
#define CVMM_ACPI_BUF_DEFAULT_MAX (16u << 20)

struct cvmm_acpi_buf {
	uint8_t *data;
	size_t len;
	size_t cap;   /* allocated bytes */
	size_t max;   /* appends that would pass this fail with -E2BIG */
	int err;      /* first error, sticky: later appends do nothing */
};

/**
 * Start an empty buffer that may grow to @max bytes (0: the default cap).
 * Nothing is allocated until the first append.
 * Thread safety: the buffer is the caller's.
 */
void cvmm_acpi_buf_init(struct cvmm_acpi_buf *b, size_t max);

/**
 * Free the storage and reset to empty (the cap is kept). NULL is a no-op.
 * Thread safety: reentrant (one thread per buffer or table set).
 */
void cvmm_acpi_buf_fini(struct cvmm_acpi_buf *b);

/**
 * @return the first error met by any call on @b, or 0.
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_acpi_buf_error(const struct cvmm_acpi_buf *b);

/**
 * Append @n bytes (little-endian helpers below). Once an error is
 * recorded every append returns it and changes nothing.
 * @return 0; -E2BIG (past the cap, nothing appended); -ENOMEM.
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_acpi_buf_append(struct cvmm_acpi_buf *b, const void *p, size_t n);
int cvmm_acpi_buf_u8(struct cvmm_acpi_buf *b, uint8_t v);
int cvmm_acpi_buf_u16(struct cvmm_acpi_buf *b, uint16_t v);
int cvmm_acpi_buf_u32(struct cvmm_acpi_buf *b, uint32_t v);
int cvmm_acpi_buf_u64(struct cvmm_acpi_buf *b, uint64_t v);

/**
 * Byte sum of [@p, @p + @len): 0 for a table with a correct checksum.
 * Thread safety: reentrant (one thread per buffer or table set).
 */
uint8_t cvmm_acpi_sum(const void *p, size_t len);

/**
 * Begin a System Description Table: a 36-byte header with @sig (4 chars),
 * @revision, @oem_id (up to 6 chars, NULL: "CVMM") and @oem_table_id (up
 * to 8 chars, NULL: "CVMM" + @sig). @return the table's offset in @b (the
 * argument for cvmm_acpi_table_end()); check cvmm_acpi_buf_error().
 * Thread safety: reentrant (one thread per buffer or table set).
 */
size_t cvmm_acpi_table_begin(struct cvmm_acpi_buf *b, const char *sig, uint8_t revision,
			     const char *oem_id, const char *oem_table_id);

/**
 * Finish the table that starts at @start and runs to the end of @b: fill
 * in its length and checksum. Call after everything of the table is
 * appended. @return 0; -EINVAL (@start past the end); the sticky error.
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_acpi_table_end(struct cvmm_acpi_buf *b, size_t start);

/* ------------------------------------------------------------------------ */
/* AML builder                                                               */
/* ------------------------------------------------------------------------ */

/** The largest PkgLength AML can encode (4 bytes, 28 bits). */
#define CVMM_AML_PKGLEN_MAX 0x0fffffffu

/**
 * Encode the PkgLength @value (which counts its own bytes) in the fewest
 * bytes: 1 up to 63, 2 up to 4095, 3 up to 2^20 - 1, 4 up to 2^28 - 1.
 * @return the number of bytes written to @out; -E2BIG above the maximum.
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_pkglen_encode(uint32_t value, uint8_t out[4]);

/**
 * A NameString: "\\" for the root, "^" per parent step, then NameSegs of
 * 1-4 characters ([A-Z_][A-Z0-9_]*, padded with '_') joined by '.', e.g.
 * "\\_SB.COM1", "_HID", "^^PCI0". @return 0; -EINVAL (malformed).
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_name_string(struct cvmm_acpi_buf *b, const char *path);

/**
 * An Integer in the smallest encoding: ZeroOp, OneOp, Byte/Word/DWord/QWord.
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_integer(struct cvmm_acpi_buf *b, uint64_t v);

/**
 * A String (ASCII 0x01-0x7f). @return 0; -EINVAL (other characters).
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_string(struct cvmm_acpi_buf *b, const char *s);

/**
 * EisaId("PNP0501"): three letters A-Z and four hex digits compressed into
 * a DWord integer. @return 0; -EINVAL.
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_eisaid(struct cvmm_acpi_buf *b, const char *id);

/**
 * Buffer(){...} with @len bytes from @data.
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_buffer(struct cvmm_acpi_buf *b, const void *data, size_t len);

/**
 * Name(@name, <the data object the caller appends next>).
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_name(struct cvmm_acpi_buf *b, const char *name);

/**
 * Return(<the term the caller appends next>).
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_return(struct cvmm_acpi_buf *b);

/*
 * Nested constructs: *_begin() appends the opening and returns a mark; the
 * caller appends the body; the matching end call sizes the PkgLength and
 * inserts it. Ends must nest like brackets. After an error the marks are
 * meaningless but harmless: every end returns the sticky error.
 */

/**
 * Scope(@name) { ... }; close with cvmm_aml_end().
 * Thread safety: reentrant (one thread per buffer or table set).
 */
size_t cvmm_aml_scope_begin(struct cvmm_acpi_buf *b, const char *name);
/**
 * Device(@name) { ... }; close with cvmm_aml_end().
 * Thread safety: reentrant (one thread per buffer or table set).
 */
size_t cvmm_aml_device_begin(struct cvmm_acpi_buf *b, const char *name);
/**
 * Method(@name, @nargs (0-7), Serialized if @serialized) { ... }; close
 * with cvmm_aml_end(). A bad @nargs records -EINVAL.
 * Thread safety: reentrant (one thread per buffer or table set).
 */
size_t cvmm_aml_method_begin(struct cvmm_acpi_buf *b, const char *name,
			     unsigned int nargs, bool serialized);
/**
 * Close a Scope, Device or Method begun at @mark.
 * @return 0; -EINVAL (@mark past the end); -E2BIG; the sticky error.
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_end(struct cvmm_acpi_buf *b, size_t mark);

/**
 * Package(){...}: append the elements, then close with the element count.
 * Thread safety: reentrant (one thread per buffer or table set).
 */
size_t cvmm_aml_package_begin(struct cvmm_acpi_buf *b);
/**
 * @return 0; -E2BIG (@nelems > 255); -EINVAL; the sticky error.
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_package_end(struct cvmm_acpi_buf *b, size_t mark, unsigned int nelems);

/**
 * ResourceTemplate(){...}: append cvmm_aml_res_* items, then close with
 * cvmm_aml_restemplate_end(), which adds the end tag and sizes the Buffer.
 * End: @return 0; -EINVAL (@mark past the end); -E2BIG; the sticky error.
 * Thread safety: reentrant (one thread per buffer or table set).
 */
size_t cvmm_aml_restemplate_begin(struct cvmm_acpi_buf *b);
int cvmm_aml_restemplate_end(struct cvmm_acpi_buf *b, size_t mark);

/**
 * IO(Decode16, @min, @max, @align, @len).
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_res_io(struct cvmm_acpi_buf *b, uint16_t min, uint16_t max, uint8_t align,
		    uint8_t len);
/**
 * IRQNoFlags(){@irq}. @return 0; -EINVAL (@irq > 15).
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_res_irq_noflags(struct cvmm_acpi_buf *b, unsigned int irq);
/**
 * Memory32Fixed(ReadWrite or ReadOnly, @base, @len).
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_res_memory32_fixed(struct cvmm_acpi_buf *b, bool rw, uint32_t base, uint32_t len);

/* Interrupt() flags */
#define CVMM_AML_INT_CONSUMER 0x01
#define CVMM_AML_INT_EDGE 0x02
#define CVMM_AML_INT_ACTIVE_LOW 0x04
#define CVMM_AML_INT_SHARED 0x08
#define CVMM_AML_INT_WAKE 0x10
/** Interrupt(...){@gsi}, the Extended Interrupt Descriptor; flags CVMM_AML_INT_*.
 * @return 0; -EINVAL (unknown flag bits).
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_res_interrupt(struct cvmm_acpi_buf *b, unsigned int flags, uint32_t gsi);
/**
 * QWordMemory(ResourceConsumer, PosDecode, MinFixed, MaxFixed, Cacheable or
 * NonCacheable, ReadWrite or ReadOnly, 0, @base, @base + @len - 1, 0, @len).
 * @return 0; -EINVAL (@len 0, or the range wraps).
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_res_qword_memory(struct cvmm_acpi_buf *b, bool rw, bool cacheable,
			      uint64_t base, uint64_t len);

/**
 * WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, @min,
 * @max, 0, @max - @min + 1): the buses a host bridge decodes.
 * @return 0; -EINVAL (@min above @max).
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_res_word_bus_number(struct cvmm_acpi_buf *b, uint16_t min, uint16_t max);
/**
 * A memory window a bridge produces: DWordMemory (below 4 GiB) or
 * QWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed,
 * NonCacheable, ReadWrite, 0, @base, @base + @len - 1, 0, @len).
 * @return 0; -EINVAL (@len 0, or the range wraps).
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_res_window_memory(struct cvmm_acpi_buf *b, uint64_t base, uint64_t len);

/*
 * Control methods. The operator calls append the opcode only; the caller
 * appends the operands next, in AML order (as for cvmm_aml_name()):
 *   Store:  cvmm_aml_store(b); <source>; <target>
 *   And:    cvmm_aml_and(b); <operand>; <operand>; <target or cvmm_aml_no_target()>
 *   Notify: cvmm_aml_notify(b); <name string>; <integer>
 *   If:     m = cvmm_aml_if_begin(b); <predicate>; <body>; cvmm_aml_end(b, m)
 * A method call is the method's name string followed by its arguments.
 * Errors are recorded in the buffer (sticky) as for every builder call.
 */

/* OperationRegion spaces */
#define CVMM_AML_SPACE_MEMORY 0x00
#define CVMM_AML_SPACE_IO 0x01
/* Field flags: access type | update rule (lock rule: NoLock) */
#define CVMM_AML_FIELD_ANY_ACC 0x00
#define CVMM_AML_FIELD_BYTE_ACC 0x01
#define CVMM_AML_FIELD_DWORD_ACC 0x03
#define CVMM_AML_FIELD_PRESERVE 0x00
#define CVMM_AML_FIELD_WRITE_AS_ZEROS 0x40

/**
 * OperationRegion(@name, @space, @offset, @len).
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_opregion(struct cvmm_acpi_buf *b, const char *name, uint8_t space,
		      uint64_t offset, uint64_t len);
/**
 * Field(@region, @flags) { ... }: append cvmm_aml_field_unit()s, then close
 * with cvmm_aml_end().
 * Thread safety: reentrant (one thread per buffer or table set).
 */
size_t cvmm_aml_field_begin(struct cvmm_acpi_buf *b, const char *region, uint8_t flags);
/**
 * A named field unit @name (one NameSeg) of @bits bits.
 * @return 0; -EINVAL (bad name, 0 bits); -E2BIG.
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_aml_field_unit(struct cvmm_acpi_buf *b, const char *name, uint32_t bits);
/** Local@n (0-7) / Arg@n (0-6). @return 0; -EINVAL.
 * Thread safety: reentrant (one thread per buffer or table set). */
int cvmm_aml_local(struct cvmm_acpi_buf *b, unsigned int n);
int cvmm_aml_arg(struct cvmm_acpi_buf *b, unsigned int n);
/** Opcodes of Store, And, Notify and a NullName target (see above).
 * Thread safety: reentrant (one thread per buffer or table set). */
int cvmm_aml_store(struct cvmm_acpi_buf *b);
int cvmm_aml_and(struct cvmm_acpi_buf *b);
int cvmm_aml_no_target(struct cvmm_acpi_buf *b);
int cvmm_aml_notify(struct cvmm_acpi_buf *b);
/** If (<predicate>) { ... }; close with cvmm_aml_end().
 * Thread safety: reentrant (one thread per buffer or table set). */
size_t cvmm_aml_if_begin(struct cvmm_acpi_buf *b);

/* ------------------------------------------------------------------------ */
/* The table set                                                             */
/* ------------------------------------------------------------------------ */

/* Generic Address Structure address spaces */
#define CVMM_ACPI_GAS_MEMORY 0
#define CVMM_ACPI_GAS_IO 1

struct cvmm_acpi_gas {
	uint8_t space_id;     /* CVMM_ACPI_GAS_* */
	uint8_t bit_width;    /* 0: 8 */
	uint8_t bit_offset;
	uint8_t access_size;  /* 0: 1 (byte access) */
	uint64_t address;
};

/*
 * The ACPI 6 hardware-reduced sleep register protocol: to enter S<n> the
 * guest writes (SLP_TYP << 2) | SLP_EN to SLEEP_CONTROL_REG, with SLP_TYP
 * taken from the DSDT's \_Sx package. The DSDT built here says S5 = 5, so
 * a poweroff is the byte 0x34.
 */
#define CVMM_ACPI_SLP_TYP_S5 5u
#define CVMM_ACPI_SLP_EN 0x20u
#define CVMM_ACPI_SLEEP_S5_VALUE ((CVMM_ACPI_SLP_TYP_S5 << 2) | CVMM_ACPI_SLP_EN)

/**
 * True when a guest write of @value to SLEEP_CONTROL_REG requests S5 (poweroff).
 * Thread safety: reentrant (one thread per buffer or table set).
 */
static inline bool cvmm_acpi_sleep_is_poweroff(uint64_t value)
{
	return (value & CVMM_ACPI_SLP_EN) && ((value >> 2) & 7) == CVMM_ACPI_SLP_TYP_S5;
}

struct cvmm_acpi_virtio_mmio {
	uint64_t base;   /* transport registers; Memory32Fixed below 4 GiB, else QWordMemory */
	uint64_t size;   /* > 0; 0x200 for virtio-mmio */
	uint32_t gsi;    /* IOAPIC input the device interrupts on */
	bool level;      /* level-triggered (else edge, the irqfd default) */
};

/** INTA# of device @slot on the root bus goes to I/O APIC input @gsi. */
struct cvmm_acpi_pci_irq {
	uint8_t slot;    /* 0..31 */
	uint32_t gsi;
};

/**
 * A PCI segment behind a host bridge: MCFG gets its ECAM range, the DSDT a
 * PCI root (\_SB.PCI0: PNP0A08/PNP0A03, _SEG, _BBN, _CRS with the bus
 * range, 0xCF8..0xCFF and the memory windows, _PRT for INTA# of each slot
 * listed) and a motherboard device (\_SB.MBRD, PNP0C02) reserving ECAM.
 */
struct cvmm_acpi_pci {
	uint16_t segment;
	uint8_t bus_start, bus_end;
	uint64_t ecam_base;         /* 1 MiB aligned; (bus_end - bus_start + 1) MiB */
	uint64_t mmio32_base, mmio32_size; /* below 4 GiB; size 0: none */
	uint64_t mmio64_base, mmio64_size; /* size 0: none */
	const struct cvmm_acpi_pci_irq *irqs;
	unsigned int num_irqs;      /* at most 32 */
};

/*
 * The ACPI Generic Event Device (ACPI0013) as Cloud Hypervisor lays it out:
 * a 32-bit event word at @base that the guest's _EVT reads (the VMM clears
 * it on read) and an edge interrupt on I/O APIC input @gsi. Bits: */
#define CVMM_ACPI_GED_PCI_HOTPLUG (1u << 1)   /* _EVT calls \_SB.PCI0.PCNT */
#define CVMM_ACPI_GED_POWER_BUTTON (1u << 3)  /* Notify(\_SB.PWRB, 0x80) */
#define CVMM_ACPI_GED_SIZE 4u
/*
 * ACPI PCI hotplug registers (32 bits each, at @pcihp_base): slots that
 * came up and slots the host wants removed since the last read (bit N =
 * slot N, cleared on read), and the eject register the slots' _EJ0 write.
 */
#define CVMM_ACPI_PCIHP_UP 0x0
#define CVMM_ACPI_PCIHP_DOWN 0x4
#define CVMM_ACPI_PCIHP_EJECT 0x8
#define CVMM_ACPI_PCIHP_SIZE 12u

/**
 * The GED (\_SB.GED_; its _CRS has the interrupt only, as Linux's acpi-ged
 * driver wants, the registers are claimed by \_SB.GEC_, PNP0A06), the
 * power button \_SB.PWRB (PNP0C0C) and, with
 * @pcihp_base and a PCI segment, slot devices \_SB.PCI0.S01..S31 (_ADR,
 * _SUN, _EJ0 writing the slot's bit to the eject register) and
 * \_SB.PCI0.PCNT (Notify(Sxx, 1) for each slot up, Notify(Sxx, 3) for each
 * slot down), which _EVT calls on CVMM_ACPI_GED_PCI_HOTPLUG.
 */
struct cvmm_acpi_ged {
	uint64_t base;        /* below 4 GiB */
	uint32_t gsi;
	uint64_t pcihp_base;  /* 0: no PCI hotplug; else below 4 GiB, needs cfg->pci */
};

/** One PCI function behind the virtio-iommu (a VIOT PCI range node). */
struct cvmm_acpi_viot_endpoint {
	uint16_t bdf_start, bdf_end; /* bus << 8 | dev << 3 | fn, inclusive */
	uint32_t endpoint_start;     /* the virtio-iommu endpoint id of bdf_start */
};

/*
 * The VIOT table (Virtual I/O Translation, as Linux's drivers/acpi/viot.c
 * reads it): a virtio-iommu on PCI at @iommu_bdf of cfg->pci's segment,
 * and the PCI ranges whose DMA it translates. Devices in no range are not
 * behind it.
 */
#define CVMM_ACPI_VIOT_MAX_RANGES 32u
struct cvmm_acpi_viot {
	uint16_t iommu_bdf;
	const struct cvmm_acpi_viot_endpoint *ranges;
	unsigned int num_ranges;     /* 1..CVMM_ACPI_VIOT_MAX_RANGES */
};

/* MADT Interrupt Source Override flags (MPS INTI) */
#define CVMM_ACPI_MPS_ACTIVE_HIGH 0x1
#define CVMM_ACPI_MPS_ACTIVE_LOW 0x3
#define CVMM_ACPI_MPS_EDGE 0x4
#define CVMM_ACPI_MPS_LEVEL 0xc

struct cvmm_acpi_irq_override {
	uint8_t source;  /* ISA IRQ */
	uint32_t gsi;
	uint16_t flags;  /* CVMM_ACPI_MPS_*; 0 = bus defaults */
};

#define CVMM_ACPI_MAX_CPUS 255u
#define CVMM_ACPI_MAX_VIRTIO 4096u

struct cvmm_acpi_config {
	size_t sz;                 /* sizeof(struct cvmm_acpi_config) */
	/*
	 * Guest physical address of the blob, 16-byte aligned. The RSDP is
	 * its first 36 bytes: for the BIOS-area scan use 0xE0000 (the blob
	 * then has to fit below 1 MiB, checked); any address works when the
	 * loader passes the RSDP address (boot_params.acpi_rsdp_addr).
	 */
	uint64_t gpa;
	uint32_t num_cpus;         /* 1..255; APIC IDs and processor UIDs 0..n-1 */
	uint32_t lapic_addr;       /* 0: 0xFEE00000 */
	uint32_t ioapic_addr;      /* 0: 0xFEC00000 */
	uint8_t ioapic_id;
	uint32_t ioapic_gsi_base;
	bool pcat_compat;          /* guest also has dual 8259 PICs (MADT flag) */
	const struct cvmm_acpi_irq_override *overrides;
	unsigned int num_overrides;
	bool serial;               /* PNP0501 at serial_port (8 ports), serial_irq */
	uint16_t serial_port;
	uint32_t serial_irq;       /* < 16: IRQNoFlags, else Interrupt() */
	bool i8042;                /* PNP0303 at 0x60/0x64, IRQ 1; FADT 8042 flag */
	bool rtc;                  /* PNP0B00 at 0x70, IRQ 8; FADT "no CMOS RTC" if false */
	const struct cvmm_acpi_virtio_mmio *virtio;
	unsigned int num_virtio;   /* up to CVMM_ACPI_MAX_VIRTIO (names V000-VFFF) */
	struct cvmm_acpi_gas sleep_control; /* required: the VMM traps writes here */
	struct cvmm_acpi_gas sleep_status;  /* required: reads here report wake status */
	struct cvmm_acpi_gas reset_reg;     /* optional (address 0: none) */
	uint8_t reset_value;
	const char *oem_id;        /* up to 6 chars; NULL: "CVMM" */
	const struct cvmm_acpi_pci *pci; /* NULL: no PCI (no MCFG, no PCI0) */
	const struct cvmm_acpi_ged *ged; /* NULL: no GED, no power button */
	const struct cvmm_acpi_viot *viot; /* NULL: no VIOT; needs @pci */
};

/** A finished table set: copy @len bytes of @data to guest address @gpa. */
struct cvmm_acpi_tables {
	uint8_t *data;
	size_t len;
	uint64_t gpa;
	/* Where each table landed (guest physical). */
	uint64_t rsdp_gpa, xsdt_gpa, fadt_gpa, madt_gpa, dsdt_gpa;
	uint64_t mcfg_gpa;          /* 0 without PCI */
	uint64_t viot_gpa;          /* 0 without a VIOT */
	size_t dsdt_len;
};

/**
 * Build RSDP, XSDT, FADT, MADT and DSDT (and MCFG with @cfg->pci, VIOT
 * with @cfg->viot) for
 * @cfg into @out (which the caller releases with cvmm_acpi_tables_fini()).
 * Tables follow the RSDP 16-byte aligned in the order listed.
 * @return 0; -EINVAL (bad sz, num_cpus, alignment, sleep registers, a
 * zero-sized or wrapping device range, blob would wrap the address space
 * or pass 1 MiB when placed below it; PCI: ECAM misaligned, bus range
 * reversed, a 32-bit window above 4 GiB, a slot above 31 or irqs NULL;
 * GED: registers above 4 GiB, PCI hotplug without PCI; VIOT: without PCI,
 * no range or more than CVMM_ACPI_VIOT_MAX_RANGES, a range reversed or
 * holding the IOMMU's own BDF);
 * -E2BIG (too many devices); -ENOMEM.
 * Thread safety: reentrant.
 */
int cvmm_acpi_build(const struct cvmm_acpi_config *cfg, struct cvmm_acpi_tables *out);

/**
 * Free a table set. NULL or an already finished set is a no-op.
 * Thread safety: reentrant (one thread per buffer or table set).
 */
void cvmm_acpi_tables_fini(struct cvmm_acpi_tables *t);

/**
 * Copy the blob into guest memory at t->gpa.
 * @return 0; -EFAULT (some byte is not guest RAM; nothing written).
 * Thread safety: as cvmm_guest_mem_write().
 */
int cvmm_acpi_tables_write(const struct cvmm_acpi_tables *t, struct cvmm_guest_mem *m);

/**
 * Append the DSDT for @cfg (header included) to @b: what cvmm_acpi_build()
 * uses, exposed for programs that lay out tables themselves.
 * @return 0; the errors of cvmm_acpi_build().
 * Thread safety: reentrant (one thread per buffer or table set).
 */
int cvmm_acpi_build_dsdt(struct cvmm_acpi_buf *b, const struct cvmm_acpi_config *cfg);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_ACPI_TABLES_H */
