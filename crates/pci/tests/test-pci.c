/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pci crate: configuration space masks, capabilities (and hostile chains),
 * BAR sizing, placement and refusals, 0xCF8/0xCFC and ECAM decoding,
 * MSI-X (mask, function mask, PBA, delivery on unmask, hostile table
 * accesses), save/restore with named refusals.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cvmm/pci.h>

#include "cvmm-test.h"

static struct cvmm_pci_config *mkdev(uint16_t did)
{
	struct cvmm_pci_config_opts o = {
		.sz = sizeof(o), .vendor_id = 0x1af4, .device_id = did, .revision_id = 1,
		.class_code = 0x020000, .subsystem_vendor_id = 0x1af4, .subsystem_id = 0x40,
		.interrupt_pin = 1,
	};
	struct cvmm_pci_config *c;

	ck_assert_int_eq(cvmm_pci_config_create(&o, &c), 0);
	return c;
}

static uint32_t rd(struct cvmm_pci_config *c, uint32_t off, unsigned int len)
{
	uint32_t v = 0;

	ck_assert_int_eq(cvmm_pci_config_read(c, off, &v, len), 0);
	return v;
}

static void wr(struct cvmm_pci_config *c, uint32_t off, uint32_t v, unsigned int len)
{
	ck_assert_int_eq(cvmm_pci_config_write(c, off, &v, len), 0);
}

static void add_bar(struct cvmm_pci_config *c, unsigned int i, enum cvmm_pci_bar_type t,
		    uint64_t size, uint64_t addr)
{
	struct cvmm_pci_bar_opts b = { .sz = sizeof(b), .index = i, .type = t, .size = size,
				       .addr = addr };

	ck_assert_int_eq(cvmm_pci_config_add_bar(c, &b), 0);
}

/* ------------------------------------------------------------------------ */

START_TEST(header_masks)
{
	struct cvmm_pci_config *c = mkdev(0x1041);
	struct cvmm_pci_config_opts bad = { .sz = sizeof(bad), .vendor_id = 0xffff };

	struct cvmm_pci_config *none = NULL;

	ck_assert_int_eq(cvmm_pci_config_create(&bad, &none), -EINVAL);
	ck_assert_uint_eq(rd(c, 0, 4), 0x10411af4);
	ck_assert_uint_eq(rd(c, 8, 4), 0x02000001);
	ck_assert_uint_eq(rd(c, CVMM_PCI_INTERRUPT_PIN, 1), 1);
	/* Read-only: IDs, class, header type, revision, pin, cap pointer. */
	wr(c, 0, 0xdeadbeef, 4);
	wr(c, 8, 0xffffffff, 4);
	wr(c, CVMM_PCI_HEADER_TYPE, 0xff, 1);
	wr(c, CVMM_PCI_INTERRUPT_PIN, 4, 1);
	wr(c, CVMM_PCI_CAPABILITY_LIST, 0x40, 1);
	wr(c, CVMM_PCI_ROM_ADDRESS, 0xffffffff, 4);
	ck_assert_uint_eq(rd(c, 0, 4), 0x10411af4);
	ck_assert_uint_eq(rd(c, 8, 4), 0x02000001);
	ck_assert_uint_eq(rd(c, CVMM_PCI_HEADER_TYPE, 1), 0);
	ck_assert_uint_eq(rd(c, CVMM_PCI_INTERRUPT_PIN, 1), 1);
	ck_assert_uint_eq(rd(c, CVMM_PCI_CAPABILITY_LIST, 1), 0);
	ck_assert_uint_eq(rd(c, CVMM_PCI_ROM_ADDRESS, 4), 0);
	/* Command: only the implemented bits. */
	wr(c, CVMM_PCI_COMMAND, 0xffff, 2);
	ck_assert_uint_eq(rd(c, CVMM_PCI_COMMAND, 2), 0x0407);
	/* Status: write-1-to-clear error bits, the rest read-only. */
	cvmm_pci_config_set(c, CVMM_PCI_STATUS, (uint8_t[]){ 0x00, 0x30 }, 2);
	wr(c, CVMM_PCI_STATUS, 0x10ff, 2);
	ck_assert_uint_eq(rd(c, CVMM_PCI_STATUS, 2), 0x2000);
	wr(c, CVMM_PCI_STATUS, 0x2000, 2);
	ck_assert_uint_eq(rd(c, CVMM_PCI_STATUS, 2), 0);
	cvmm_pci_config_set_intx_status(c, true);
	ck_assert_uint_eq(rd(c, CVMM_PCI_STATUS, 2), CVMM_PCI_STATUS_INTERRUPT);
	wr(c, CVMM_PCI_STATUS, 0xffff, 2);
	ck_assert_uint_eq(rd(c, CVMM_PCI_STATUS, 2), CVMM_PCI_STATUS_INTERRUPT);
	/* Interrupt line read-write. */
	wr(c, CVMM_PCI_INTERRUPT_LINE, 11, 1);
	ck_assert_uint_eq(rd(c, CVMM_PCI_INTERRUPT_LINE, 1), 11);
	/* Misaligned, odd widths, past the end: all ones, no change. */
	ck_assert_uint_eq(rd(c, 1, 2), 0xffff);
	ck_assert_uint_eq(rd(c, 2, 4), 0xffffffff);
	ck_assert_uint_eq(rd(c, 4094, 4), 0xffffffff);
	ck_assert_uint_eq(rd(c, 4096, 1), 0xff);
	wr(c, CVMM_PCI_COMMAND + 1, 0, 2);
	wr(c, 4096, 0, 1);
	ck_assert_uint_eq(rd(c, CVMM_PCI_COMMAND, 2), 0x0407);
	/* Extended space exists (ECAM) and reads 0. */
	ck_assert_uint_eq(rd(c, 0x100, 4), 0);
	/* The owner cannot make header IDs or BARs writable by masks. */
	ck_assert_int_eq(cvmm_pci_config_set_masks(c, 0, (uint8_t[]){ 0xff }, NULL, 1), -EINVAL);
	ck_assert_int_eq(cvmm_pci_config_set_masks(c, 0x10, (uint8_t[]){ 0xff }, NULL, 1),
			 -EINVAL);
	ck_assert_int_eq(cvmm_pci_config_set_masks(c, 0x34, (uint8_t[]){ 0xff }, NULL, 1),
			 -EINVAL);
	cvmm_pci_config_destroy(c);
}
END_TEST

START_TEST(bar_sizing)
{
	struct cvmm_pci_config *c = mkdev(1);
	struct cvmm_pci_bar_opts b = { .sz = sizeof(b) };
	struct cvmm_pci_bar_info bi;

	add_bar(c, 0, CVMM_PCI_BAR_MEM32, 0x1000, 0xe0000000);
	add_bar(c, 1, CVMM_PCI_BAR_IO, 0x20, 0xc000);
	add_bar(c, 2, CVMM_PCI_BAR_MEM64, 0x100000000ull, 0x800000000ull);
	/* Refusals: taken, upper half, not a power of two, misaligned, bad
	 * index, I/O too big, MEM64 at the last index. */
	b.index = 0; b.type = CVMM_PCI_BAR_MEM32; b.size = 0x1000;
	ck_assert_int_eq(cvmm_pci_config_add_bar(c, &b), -EEXIST);
	b.index = 3;
	ck_assert_int_eq(cvmm_pci_config_add_bar(c, &b), -EEXIST);
	b.index = 4; b.size = 0x1800;
	ck_assert_int_eq(cvmm_pci_config_add_bar(c, &b), -EINVAL);
	b.size = 0x1000; b.addr = 0x800;
	ck_assert_int_eq(cvmm_pci_config_add_bar(c, &b), -EINVAL);
	b.addr = 0; b.index = 6;
	ck_assert_int_eq(cvmm_pci_config_add_bar(c, &b), -EINVAL);
	b.index = 4; b.type = CVMM_PCI_BAR_IO; b.size = 512;
	ck_assert_int_eq(cvmm_pci_config_add_bar(c, &b), -EINVAL);
	b.index = 5; b.type = CVMM_PCI_BAR_MEM64; b.size = 0x1000;
	ck_assert_int_eq(cvmm_pci_config_add_bar(c, &b), -EINVAL);

	ck_assert_uint_eq(rd(c, 0x10, 4), 0xe0000000);
	ck_assert_uint_eq(rd(c, 0x14, 4), 0xc001);
	ck_assert_uint_eq(rd(c, 0x18, 4), 0x4);
	ck_assert_uint_eq(rd(c, 0x1c, 4), 0x8);
	/* Sizing as a driver does. */
	wr(c, 0x10, 0xffffffff, 4);
	ck_assert_uint_eq(rd(c, 0x10, 4), 0xfffff000);
	wr(c, 0x14, 0xffffffff, 4);
	ck_assert_uint_eq(rd(c, 0x14, 4), 0xffe1);
	wr(c, 0x18, 0xffffffff, 4);
	wr(c, 0x1c, 0xffffffff, 4);
	ck_assert_uint_eq(rd(c, 0x18, 4), 0x4);
	ck_assert_uint_eq(rd(c, 0x1c, 4), 0xffffffff);
	/* Unused BARs read 0 and stay 0. */
	wr(c, 0x20, 0xffffffff, 4);
	ck_assert_uint_eq(rd(c, 0x20, 4), 0);
	/* Programming; flag bits cannot change. */
	wr(c, 0x10, 0xd0000fff, 4);
	ck_assert_int_eq(cvmm_pci_config_bar(c, 0, &bi), 0);
	ck_assert_int_eq(bi.type, CVMM_PCI_BAR_MEM32);
	ck_assert_uint_eq(bi.addr, 0xd0000000);
	ck_assert(!bi.decode);
	wr(c, 0x18, 0, 4);
	wr(c, 0x1c, 0x3, 4);
	ck_assert_int_eq(cvmm_pci_config_bar(c, 2, &bi), 0);
	ck_assert_uint_eq(bi.addr, 0x300000000ull);
	ck_assert_uint_eq(bi.size, 0x100000000ull);
	ck_assert_int_eq(cvmm_pci_config_bar(c, 3, &bi), 0);
	ck_assert_int_eq(bi.type, CVMM_PCI_BAR_NONE);
	wr(c, CVMM_PCI_COMMAND, CVMM_PCI_COMMAND_IO, 2);
	ck_assert_int_eq(cvmm_pci_config_bar(c, 1, &bi), 0);
	ck_assert(bi.decode);
	ck_assert_uint_eq(bi.addr, 0xffe0);
	ck_assert_int_eq(cvmm_pci_config_bar(c, 0, &bi), 0);
	ck_assert(!bi.decode);
	cvmm_pci_config_destroy(c);
}
END_TEST

static int count_cap(uint8_t id, uint32_t off, void *opaque)
{
	(void)id;
	(void)off;
	(*(int *)opaque)++;
	return 0;
}

START_TEST(capabilities)
{
	struct cvmm_pci_config *c = mkdev(1);
	uint8_t body[16] = { 0xaa, 0xbb, 0x10, 1, 2, 3 };
	uint8_t raw[256];
	uint32_t bad = 0;
	int n, off1, off2, off3;

	ck_assert_int_eq(cvmm_pci_config_find_cap(c, 9, 0), -ENOENT);
	off1 = cvmm_pci_config_add_cap(c, 9, body, 16);
	off2 = cvmm_pci_config_add_cap(c, 0x11, body, 12);
	off3 = cvmm_pci_config_add_cap(c, 9, body, 5);
	ck_assert_int_eq(off1, 0x40);
	ck_assert_int_eq(off2, 0x50);
	ck_assert_int_eq(off3, 0x5c);
	ck_assert_uint_eq(rd(c, CVMM_PCI_STATUS, 2) & CVMM_PCI_STATUS_CAP_LIST,
			  CVMM_PCI_STATUS_CAP_LIST);
	ck_assert_uint_eq(rd(c, CVMM_PCI_CAPABILITY_LIST, 1), 0x40);
	ck_assert_uint_eq(rd(c, 0x40, 4), 0x01105009);
	ck_assert_int_eq(cvmm_pci_config_find_cap(c, 9, 0), 0x40);
	ck_assert_int_eq(cvmm_pci_config_find_cap(c, 9, 0x40), 0x5c);
	ck_assert_int_eq(cvmm_pci_config_find_cap(c, 0x11, 0), 0x50);
	ck_assert_int_eq(cvmm_pci_config_find_cap(c, 0x10, 0), -ENOENT);
	/* Capabilities are read-only unless the owner says otherwise. */
	wr(c, 0x41, 0, 1);
	wr(c, 0x42, 0xffff, 2);
	ck_assert_uint_eq(rd(c, 0x40, 4), 0x01105009);
	/* Full: no room below 0x100. */
	ck_assert_int_eq(cvmm_pci_config_add_cap(c, 9, body, 180), -ENOSPC);
	ck_assert_int_eq(cvmm_pci_config_add_cap(c, 9, body, 1), -EINVAL);

	/* Hostile chains over raw bytes: a loop, a pointer into the header,
	 * one past the end, a self-loop; the low two bits are masked. */
	ck_assert_int_eq(cvmm_pci_config_get(c, 0, raw, sizeof(raw)), 0);
	n = 0;
	ck_assert_int_eq(cvmm_pci_cap_walk(raw, count_cap, &n, NULL), 0);
	ck_assert_int_eq(n, 3);
	raw[0x5d] = 0x40;                  /* last -> first */
	ck_assert_int_eq(cvmm_pci_cap_walk(raw, NULL, NULL, &bad), -ELOOP);
	raw[0x5d] = 0x5c;                  /* self */
	ck_assert_int_eq(cvmm_pci_cap_walk(raw, NULL, NULL, &bad), -ELOOP);
	raw[0x5d] = 0x20;                  /* into the header */
	ck_assert_int_eq(cvmm_pci_cap_walk(raw, NULL, NULL, &bad), -EINVAL);
	ck_assert_uint_eq(bad, 0x5d);
	raw[0x5d] = 0xfe;                  /* masked to 0xfc: the last dword, fine */
	raw[0xfd] = 0;
	n = 0;
	ck_assert_int_eq(cvmm_pci_cap_walk(raw, count_cap, &n, NULL), 0);
	ck_assert_int_eq(n, 4);
	raw[CVMM_PCI_CAPABILITY_LIST] = 0x3c;
	ck_assert_int_eq(cvmm_pci_cap_walk(raw, NULL, NULL, &bad), -EINVAL);
	ck_assert_uint_eq(bad, CVMM_PCI_CAPABILITY_LIST);
	raw[CVMM_PCI_STATUS] &= (uint8_t)~CVMM_PCI_STATUS_CAP_LIST;
	ck_assert_int_eq(cvmm_pci_cap_walk(raw, NULL, NULL, NULL), 0);
	cvmm_pci_config_destroy(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Segment                                                                   */
/* ------------------------------------------------------------------------ */

#define ECAM 0xe0000000ull

struct owner {
	struct cvmm_pci_bar_event ev[32];
	int n;
};

static void on_bar(void *opaque, const struct cvmm_pci_bar_event *ev)
{
	struct owner *o = opaque;

	if (o->n < 32)
		o->ev[o->n] = *ev;
	o->n++;
}

static const struct cvmm_pci_dev_ops owner_ops = { .bar_event = on_bar };

static struct cvmm_guest_mem *mkram(void)
{
	struct cvmm_mem_region_opts r = { .sz = sizeof(r), .gpa = 0, .size = 1 << 20,
					  .backing = CVMM_MEM_ANON, .fd = -1 };
	struct cvmm_guest_mem *m;

	ck_assert_int_eq(cvmm_guest_mem_create(&m), 0);
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &r), 0);
	return m;
}

static struct cvmm_pci_segment *mkseg(struct cvmm_guest_mem *m)
{
	struct cvmm_pci_range res = { .base = 0xfec00000, .size = 0x1000 };
	struct cvmm_pci_segment_opts o = { .sz = sizeof(o), .ecam_base = ECAM, .mem = m,
					   .reserved = &res, .num_reserved = 1 };
	struct cvmm_pci_segment *s;

	ck_assert_int_eq(cvmm_pci_segment_create(&o, &s), 0);
	return s;
}

static uint32_t cf8_read(struct cvmm_pci_segment *s, unsigned int dev, uint32_t reg,
			 unsigned int len)
{
	uint32_t a = 0x80000000u | dev << 11 | (reg & 0xfc), v = 0;

	ck_assert_int_eq(cvmm_pci_segment_pio(s, 0xcf8, &a, 4, true), 0);
	ck_assert_int_eq(cvmm_pci_segment_pio(s, (uint16_t)(0xcfc + (reg & 3)), &v, len, false),
			 0);
	return v;
}

static void cf8_write(struct cvmm_pci_segment *s, unsigned int dev, uint32_t reg, uint32_t v,
		      unsigned int len)
{
	uint32_t a = 0x80000000u | dev << 11 | (reg & 0xfc);

	ck_assert_int_eq(cvmm_pci_segment_pio(s, 0xcf8, &a, 4, true), 0);
	ck_assert_int_eq(cvmm_pci_segment_pio(s, (uint16_t)(0xcfc + (reg & 3)), &v, len, true),
			 0);
}

static uint32_t ecam_read(struct cvmm_pci_segment *s, unsigned int bus, unsigned int dev,
			  unsigned int fn, uint32_t reg, unsigned int len)
{
	uint32_t v = 0;

	ck_assert_int_eq(cvmm_pci_segment_ecam(s, (uint64_t)bus << 20 | dev << 15 | fn << 12 | reg,
					       &v, len, false), 0);
	return v;
}

static void ecam_write(struct cvmm_pci_segment *s, unsigned int dev, uint32_t reg, uint32_t v,
		       unsigned int len)
{
	ck_assert_int_eq(cvmm_pci_segment_ecam(s, (uint64_t)dev << 15 | reg, &v, len, true), 0);
}

START_TEST(segment_access)
{
	struct cvmm_pci_segment *s = mkseg(NULL);
	struct cvmm_pci_config *c = mkdev(0x1042);
	uint32_t v, a;
	uint64_t q = 0;

	ck_assert_int_eq(cvmm_pci_segment_add(s, 0, c, NULL, NULL), -EINVAL);
	ck_assert_int_eq(cvmm_pci_segment_add(s, 32, c, NULL, NULL), -EINVAL);
	ck_assert_int_eq(cvmm_pci_segment_add(s, 3, c, NULL, NULL), 3);
	ck_assert_int_eq(cvmm_pci_segment_add(s, 3, c, NULL, NULL), -EBUSY);
	/* Host bridge at 00.0, device at 00.3, nothing else. */
	ck_assert_uint_eq(cf8_read(s, 0, 0, 4), 0x0d578086);
	ck_assert_uint_eq(cf8_read(s, 0, 0x8, 4) >> 8, 0x060000);
	ck_assert_uint_eq(cf8_read(s, 3, 0, 4), 0x10421af4);
	ck_assert_uint_eq(cf8_read(s, 3, 2, 2), 0x1042);
	ck_assert_uint_eq(cf8_read(s, 3, 3, 1), 0x10);
	ck_assert_uint_eq(cf8_read(s, 4, 0, 4), 0xffffffff);
	ck_assert_uint_eq(cf8_read(s, 31, 0, 2), 0xffff);
	/* Function 1, bus 1, enable bit clear: no device. */
	a = 0x80000000u | 3 << 11 | 1 << 8;
	cvmm_pci_segment_pio(s, 0xcf8, &a, 4, true);
	cvmm_pci_segment_pio(s, 0xcfc, &v, 4, false);
	ck_assert_uint_eq(v, 0xffffffff);
	a = 0x80000000u | 1 << 16 | 3 << 11;
	cvmm_pci_segment_pio(s, 0xcf8, &a, 4, true);
	cvmm_pci_segment_pio(s, 0xcfc, &v, 4, false);
	ck_assert_uint_eq(v, 0xffffffff);
	a = 3 << 11;
	cvmm_pci_segment_pio(s, 0xcf8, &a, 4, true);
	cvmm_pci_segment_pio(s, 0xcfc, &v, 4, false);
	ck_assert_uint_eq(v, 0xffffffff);
	/* CONFIG_ADDRESS reads back; byte accesses to 0xCF8..0xCFB are not it. */
	cvmm_pci_segment_pio(s, 0xcf8, &v, 4, false);
	ck_assert_uint_eq(v, a);
	v = 0;
	cvmm_pci_segment_pio(s, 0xcf9, &v, 1, true);
	cvmm_pci_segment_pio(s, 0xcf8, &v, 4, false);
	ck_assert_uint_eq(v, a);
	cvmm_pci_segment_pio(s, 0xcf8, &v, 2, false);
	ck_assert_uint_eq(v & 0xffff, 0xffff);
	/* A word at 0xCFF would cross the dword: no access. */
	a = 0x80000000u | 3 << 11;
	cvmm_pci_segment_pio(s, 0xcf8, &a, 4, true);
	v = 0;
	cvmm_pci_segment_pio(s, 0xcff, &v, 2, false);
	ck_assert_uint_eq(v, 0xffff);
	ck_assert_int_eq(cvmm_pci_segment_pio(s, 0xd00, &v, 1, false), -EINVAL);
	ck_assert_int_eq(cvmm_pci_segment_pio(s, 0xcfc, &v, 3, false), -EINVAL);

	/* ECAM: the same device, extended space, bus/fn decoding. */
	ck_assert_uint_eq(ecam_read(s, 0, 3, 0, 0, 4), 0x10421af4);
	ck_assert_uint_eq(ecam_read(s, 0, 0, 0, 0, 2), 0x8086);
	ck_assert_uint_eq(ecam_read(s, 0, 3, 0, 0x100, 4), 0);
	ck_assert_uint_eq(ecam_read(s, 0, 3, 1, 0, 4), 0xffffffff);
	ck_assert_uint_eq(ecam_read(s, 1, 3, 0, 0, 4), 0xffffffff);
	ck_assert_uint_eq(ecam_read(s, 0, 5, 0, 0, 4), 0xffffffff);
	ck_assert_uint_eq(ecam_read(s, 0, 3, 0, 1, 2), 0xffff);   /* misaligned */
	ck_assert_int_eq(cvmm_pci_segment_ecam(s, 3 << 15, &q, 8, false), 0);
	ck_assert_uint_eq(q, UINT64_MAX);
	ck_assert_int_eq(cvmm_pci_segment_ecam(s, 0x10000000ull, &v, 4, false), 0);
	ck_assert_uint_eq(v, 0xffffffff);
	/* Writes through either path land in the same space. */
	ecam_write(s, 3, CVMM_PCI_INTERRUPT_LINE, 9, 1);
	ck_assert_uint_eq(cf8_read(s, 3, CVMM_PCI_INTERRUPT_LINE, 1), 9);
	ecam_write(s, 3, 0, 0, 4);
	ck_assert_uint_eq(cf8_read(s, 3, 0, 4), 0x10421af4);
	/* The host bridge takes no writes that matter. */
	cf8_write(s, 0, 0, 0, 4);
	ck_assert_uint_eq(cf8_read(s, 0, 0, 4), 0x0d578086);

	ck_assert_int_eq(cvmm_pci_segment_remove(s, 3), 0);
	ck_assert_int_eq(cvmm_pci_segment_remove(s, 3), -ENOENT);
	ck_assert_uint_eq(cf8_read(s, 3, 0, 4), 0xffffffff);
	ck_assert_int_eq(cvmm_pci_segment_add(s, -1, c, NULL, NULL), 1);
	cvmm_pci_segment_destroy(s);
	cvmm_pci_config_destroy(c);
}
END_TEST

START_TEST(segment_bars)
{
	struct cvmm_guest_mem *m = mkram();
	struct cvmm_pci_segment *s = mkseg(m);
	struct cvmm_pci_config *a = mkdev(1), *b = mkdev(2);
	struct owner oa = { 0 }, ob = { 0 };
	uint64_t addr;

	add_bar(a, 0, CVMM_PCI_BAR_MEM32, 0x4000, 0);
	add_bar(a, 2, CVMM_PCI_BAR_MEM64, 0x4000, 0);
	add_bar(a, 4, CVMM_PCI_BAR_IO, 0x20, 0);
	add_bar(b, 0, CVMM_PCI_BAR_MEM32, 0x1000, 0);
	ck_assert_int_eq(cvmm_pci_segment_add(s, 1, a, &owner_ops, &oa), 1);
	ck_assert_int_eq(cvmm_pci_segment_add(s, 2, b, &owner_ops, &ob), 2);
	ck_assert_int_eq(oa.n, 0);

	/* Program, then enable decoding: mapped. */
	ecam_write(s, 1, 0x10, 0xc0000000, 4);
	ecam_write(s, 1, 0x18, 0xc0010000, 4);
	ecam_write(s, 1, 0x1c, 0x1, 4);
	ecam_write(s, 1, 0x20, 0xc000, 4);
	ck_assert_int_eq(oa.n, 0);
	ecam_write(s, 1, CVMM_PCI_COMMAND, CVMM_PCI_COMMAND_MEMORY | CVMM_PCI_COMMAND_IO, 2);
	ck_assert_int_eq(oa.n, 3);
	ck_assert_int_eq(oa.ev[0].bar, 0);
	ck_assert_uint_eq(oa.ev[0].new_addr, 0xc0000000);
	ck_assert_uint_eq(oa.ev[0].old_addr, CVMM_PCI_BAR_ADDR_NONE);
	ck_assert_int_eq(oa.ev[0].why, CVMM_PCI_BAR_MAPPED);
	ck_assert_int_eq(oa.ev[1].bar, 2);
	ck_assert_uint_eq(oa.ev[1].new_addr, 0x1c0010000ull);
	ck_assert_int_eq(oa.ev[2].type, CVMM_PCI_BAR_IO);
	ck_assert_uint_eq(oa.ev[2].new_addr, 0xc000);
	ck_assert_int_eq(cvmm_pci_segment_bar_addr(s, 1, 0, &addr), 0);
	ck_assert_uint_eq(addr, 0xc0000000);

	/* Relocation: one event with old and new. */
	oa.n = 0;
	ecam_write(s, 1, 0x10, 0xc0100000, 4);
	ck_assert_int_eq(oa.n, 1);
	ck_assert_uint_eq(oa.ev[0].old_addr, 0xc0000000);
	ck_assert_uint_eq(oa.ev[0].new_addr, 0xc0100000);

	/* b onto a's BAR 0: refused, a keeps its place. */
	ecam_write(s, 2, 0x10, 0xc0101000, 4);
	ecam_write(s, 2, CVMM_PCI_COMMAND, CVMM_PCI_COMMAND_MEMORY, 2);
	ck_assert_int_eq(ob.n, 1);
	ck_assert_int_eq(ob.ev[0].why, CVMM_PCI_BAR_OVERLAP_BAR);
	ck_assert_uint_eq(ob.ev[0].wanted_addr, 0xc0101000);
	ck_assert_uint_eq(ob.ev[0].new_addr, CVMM_PCI_BAR_ADDR_NONE);
	ck_assert_int_eq(cvmm_pci_segment_bar_addr(s, 2, 0, &addr), 0);
	ck_assert_uint_eq(addr, CVMM_PCI_BAR_ADDR_NONE);
	ck_assert_int_eq(oa.n, 1);
	/* Further writes elsewhere do not repeat the refusal. */
	ecam_write(s, 2, CVMM_PCI_COMMAND, CVMM_PCI_COMMAND_MEMORY | CVMM_PCI_COMMAND_MASTER, 2);
	ck_assert_int_eq(ob.n, 1);
	/* a moves away: b is mapped where it asked. */
	ecam_write(s, 1, 0x10, 0xc0200000, 4);
	ck_assert_int_eq(ob.n, 2);
	ck_assert_int_eq(ob.ev[1].why, CVMM_PCI_BAR_MAPPED);
	ck_assert_uint_eq(ob.ev[1].new_addr, 0xc0101000);
	/* a moves onto b now: a loses its mapping, told why. */
	oa.n = 0;
	ecam_write(s, 1, 0x10, 0xc0100000, 4);
	ck_assert_int_eq(oa.n, 1);
	ck_assert_uint_eq(oa.ev[0].old_addr, 0xc0200000);
	ck_assert_uint_eq(oa.ev[0].new_addr, CVMM_PCI_BAR_ADDR_NONE);
	ck_assert_int_eq(oa.ev[0].why, CVMM_PCI_BAR_OVERLAP_BAR);
	/* Removing b frees the place: a is mapped. */
	oa.n = ob.n = 0;
	ck_assert_int_eq(cvmm_pci_segment_remove(s, 2), 0);
	ck_assert_int_eq(ob.n, 1);
	ck_assert_int_eq(ob.ev[0].why, CVMM_PCI_BAR_UNMAPPED);
	ck_assert_int_eq(oa.n, 1);
	ck_assert_uint_eq(oa.ev[0].new_addr, 0xc0100000);

	/* Over RAM, over the ECAM window, over a reserved range, over
	 * 0xCF8, wrapping: refused. */
	oa.n = 0;
	ecam_write(s, 1, 0x10, 0x80000, 4);
	ck_assert_int_eq(oa.ev[0].why, CVMM_PCI_BAR_OVERLAP_RAM);
	ecam_write(s, 1, 0x10, (uint32_t)ECAM + 0x4000, 4);
	ck_assert_int_eq(oa.ev[1].why, CVMM_PCI_BAR_OVERLAP_RESERVED);
	ecam_write(s, 1, 0x10, 0xfec00000, 4);
	ck_assert_int_eq(oa.ev[2].why, CVMM_PCI_BAR_OVERLAP_RESERVED);
	ecam_write(s, 1, 0x20, 0xce0, 4);
	ck_assert_int_eq(oa.ev[3].why, CVMM_PCI_BAR_OVERLAP_RESERVED);
	ck_assert_int_eq(oa.ev[3].bar, 4);
	/* The very top of the 64-bit space is a place like any other. */
	ecam_write(s, 1, 0x18, 0xffffc000, 4);
	ecam_write(s, 1, 0x1c, 0xffffffff, 4);
	ck_assert_int_eq(cvmm_pci_segment_bar_addr(s, 1, 2, &addr), 0);
	ck_assert_uint_eq(addr, 0xffffffffffffc000ull);
	/* Sizing with decoding on goes through refusals, then back. */
	ecam_write(s, 1, 0x10, 0xffffffff, 4);
	ck_assert_uint_eq(ecam_read(s, 0, 1, 0, 0x10, 4), 0xffffc000);
	ecam_write(s, 1, 0x10, 0xc0000000, 4);
	ck_assert_int_eq(cvmm_pci_segment_bar_addr(s, 1, 0, &addr), 0);
	ck_assert_uint_eq(addr, 0xc0000000);
	/* Decoding off: every BAR unmapped, told. */
	oa.n = 0;
	ecam_write(s, 1, CVMM_PCI_COMMAND, 0, 2);
	ck_assert_int_eq(oa.n, 2);   /* BAR 0 and BAR 2 were mapped */
	ck_assert_int_eq(oa.ev[0].why, CVMM_PCI_BAR_UNMAPPED);
	ck_assert_uint_eq(oa.ev[0].old_addr, 0xc0000000);
	ck_assert_int_eq(cvmm_pci_segment_bar_addr(s, 1, 0, &addr), 0);
	ck_assert_uint_eq(addr, CVMM_PCI_BAR_ADDR_NONE);

	cvmm_pci_segment_destroy(s);
	cvmm_pci_config_destroy(a);
	cvmm_pci_config_destroy(b);
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* MSI-X                                                                     */
/* ------------------------------------------------------------------------ */

struct msix_owner {
	int delivered[8];
	int updates[8];
	bool usable[8];
	struct cvmm_pci_msi_msg msg[8];
};

static void mo_update(void *opaque, unsigned int v, const struct cvmm_pci_msi_msg *msg,
		      bool usable)
{
	struct msix_owner *o = opaque;

	o->updates[v]++;
	o->usable[v] = usable;
	o->msg[v] = *msg;
}

static void mo_deliver(void *opaque, unsigned int v, const struct cvmm_pci_msi_msg *msg)
{
	struct msix_owner *o = opaque;

	ck_assert_uint_eq(msg->addr, o->msg[v].addr);
	o->delivered[v]++;
}

static const struct cvmm_pci_msix_ops mo_ops = { .update = mo_update, .deliver = mo_deliver };

#define TBL 0x2000
#define PBA 0x3000

static struct cvmm_pci_msix *mkmsix(struct cvmm_pci_config *c, struct msix_owner *o)
{
	struct cvmm_pci_msix_opts mo = { .sz = sizeof(mo), .cfg = c, .num_vectors = 4,
					 .table_bar = 0, .table_offset = TBL, .pba_bar = 0,
					 .pba_offset = PBA, .ops = &mo_ops, .opaque = o };
	struct cvmm_pci_msix *m;

	ck_assert_int_eq(cvmm_pci_msix_create(&mo, &m), 0);
	return m;
}

static uint64_t tbl_read(struct cvmm_pci_msix *m, uint64_t off, unsigned int len)
{
	uint64_t v = 0;

	ck_assert_int_eq(cvmm_pci_msix_bar_access(m, 0, off, &v, len, false), 1);
	return v;
}

static void tbl_write(struct cvmm_pci_msix *m, uint64_t off, uint64_t v, unsigned int len)
{
	ck_assert_int_eq(cvmm_pci_msix_bar_access(m, 0, off, &v, len, true), 1);
}

static void program(struct cvmm_pci_msix *m, unsigned int v, uint32_t data, bool mask)
{
	tbl_write(m, TBL + 16 * v, 0xfee00000 + v * 0x1000, 4);
	tbl_write(m, TBL + 16 * v + 4, 0, 4);
	tbl_write(m, TBL + 16 * v + 8, data, 4);
	tbl_write(m, TBL + 16 * v + 12, mask, 4);
}

START_TEST(msix_basic)
{
	struct cvmm_pci_config *c = mkdev(1);
	struct msix_owner o = { 0 };
	struct cvmm_pci_msix *m;
	struct cvmm_pci_msix_opts bad;
	uint32_t cap;
	bool masked, pending;

	add_bar(c, 0, CVMM_PCI_BAR_MEM32, 0x4000, 0);
	add_bar(c, 1, CVMM_PCI_BAR_IO, 0x20, 0);
	/* Refusals at create: I/O BAR, table past the BAR, table and PBA
	 * overlapping, too many vectors, no deliver. */
	bad = (struct cvmm_pci_msix_opts){ .sz = sizeof(bad), .cfg = c, .num_vectors = 4,
					   .table_bar = 1, .pba_bar = 0, .pba_offset = PBA,
					   .ops = &mo_ops };
	ck_assert_int_eq(cvmm_pci_msix_create(&bad, &m), -EINVAL);
	bad.table_bar = 0;
	bad.table_offset = 0x3ff8;
	ck_assert_int_eq(cvmm_pci_msix_create(&bad, &m), -EINVAL);
	bad.table_offset = PBA - 8;
	ck_assert_int_eq(cvmm_pci_msix_create(&bad, &m), -EINVAL);
	bad.table_offset = TBL;
	bad.num_vectors = CVMM_PCI_MSIX_MAX_VECTORS + 1;
	ck_assert_int_eq(cvmm_pci_msix_create(&bad, &m), -EINVAL);
	bad.num_vectors = 4;
	bad.ops = &(struct cvmm_pci_msix_ops){ .update = mo_update };
	ck_assert_int_eq(cvmm_pci_msix_create(&bad, &m), -EINVAL);

	m = mkmsix(c, &o);
	cap = cvmm_pci_msix_cap_offset(m);
	ck_assert_int_eq(cvmm_pci_config_find_cap(c, CVMM_PCI_CAP_ID_MSIX, 0), (int)cap);
	ck_assert_uint_eq(rd(c, cap, 4), 0x00030011);    /* table size 4 - 1 */
	ck_assert_uint_eq(rd(c, cap + 4, 4), TBL);
	ck_assert_uint_eq(rd(c, cap + 8, 4), PBA);
	/* Read-only parts stay. */
	wr(c, cap + 2, 0x3fff, 2);
	wr(c, cap + 4, 0xffffffff, 4);
	ck_assert_uint_eq(rd(c, cap, 4), 0x00030011);
	ck_assert_uint_eq(rd(c, cap + 4, 4), TBL);

	/* Every vector starts masked; disabled MSI-X refuses signals. */
	ck_assert_uint_eq(tbl_read(m, TBL + 12, 4), 1);
	ck_assert_int_eq(cvmm_pci_msix_signal(m, 0), -ENOENT);
	ck_assert_int_eq(cvmm_pci_msix_signal(m, 4), -EINVAL);
	program(m, 0, 0x41, false);
	program(m, 1, 0x42, true);
	ck_assert_uint_eq(tbl_read(m, TBL + 16, 8), 0xfee01000);
	ck_assert_uint_eq(tbl_read(m, TBL + 24, 8), 0x100000042ull);
	ck_assert_int_eq(o.updates[0], 0);   /* not usable yet: nothing to route */

	/* Enable: vector 0 usable, 1 masked. */
	wr(c, cap + 2, CVMM_PCI_MSIX_CTRL_ENABLE, 2);
	ck_assert(cvmm_pci_msix_enabled(m));
	ck_assert(o.usable[0]);
	ck_assert_uint_eq(o.msg[0].addr, 0xfee00000);
	ck_assert_uint_eq(o.msg[0].data, 0x41);
	ck_assert(!o.usable[1]);
	ck_assert_int_eq(cvmm_pci_msix_signal(m, 0), 1);
	ck_assert_int_eq(o.delivered[0], 1);
	/* Masked vector: remembered in the PBA, delivered on unmask, once. */
	ck_assert_int_eq(cvmm_pci_msix_signal(m, 1), 0);
	ck_assert_int_eq(cvmm_pci_msix_signal(m, 1), 0);
	ck_assert_int_eq(o.delivered[1], 0);
	ck_assert_uint_eq(tbl_read(m, PBA, 8), 0x2);
	ck_assert_uint_eq(tbl_read(m, PBA, 4), 0x2);
	ck_assert_uint_eq(tbl_read(m, PBA + 4, 4), 0);
	ck_assert_int_eq(cvmm_pci_msix_vector(m, 1, NULL, &masked, &pending), 0);
	ck_assert(masked && pending);
	tbl_write(m, PBA, 0, 8);                      /* PBA is read-only */
	ck_assert_uint_eq(tbl_read(m, PBA, 8), 0x2);
	tbl_write(m, TBL + 16 + 12, 0, 4);
	ck_assert_int_eq(o.delivered[1], 1);
	ck_assert(o.usable[1]);
	ck_assert_uint_eq(tbl_read(m, PBA, 8), 0);
	/* Function mask: both pend, both delivered when it is cleared. */
	wr(c, cap + 2, CVMM_PCI_MSIX_CTRL_ENABLE | CVMM_PCI_MSIX_CTRL_MASKALL, 2);
	ck_assert(!cvmm_pci_msix_enabled(m));
	ck_assert(!o.usable[0] && !o.usable[1]);
	ck_assert_int_eq(cvmm_pci_msix_signal(m, 0), 0);
	ck_assert_int_eq(cvmm_pci_msix_signal(m, 1), 0);
	ck_assert_uint_eq(tbl_read(m, PBA, 8), 0x3);
	wr(c, cap + 2, CVMM_PCI_MSIX_CTRL_ENABLE, 2);
	ck_assert_int_eq(o.delivered[0], 2);
	ck_assert_int_eq(o.delivered[1], 2);
	ck_assert_uint_eq(tbl_read(m, PBA, 8), 0);
	/* Reprogramming an unmasked vector updates the owner. */
	int before = o.updates[0];
	tbl_write(m, TBL + 8, 0x55, 4);
	ck_assert_int_eq(o.updates[0], before + 1);
	ck_assert_uint_eq(o.msg[0].data, 0x55);
	/* A write of the same value tells nobody. */
	tbl_write(m, TBL + 8, 0x55, 4);
	ck_assert_int_eq(o.updates[0], before + 1);
	/* Disable: not usable, signals refused. */
	wr(c, cap + 2, 0, 2);
	ck_assert(!o.usable[0]);
	ck_assert_int_eq(cvmm_pci_msix_signal(m, 0), -ENOENT);
	cvmm_pci_msix_destroy(m);
	/* The hook is gone with it. */
	wr(c, cap + 2, CVMM_PCI_MSIX_CTRL_ENABLE, 2);
	cvmm_pci_config_destroy(c);
}
END_TEST

START_TEST(msix_hostile)
{
	struct cvmm_pci_config *c = mkdev(1);
	struct msix_owner o = { 0 };
	struct cvmm_pci_msix *m;
	uint64_t v = 0x1122334455667788ull;
	uint8_t b = 0xff;
	int i;

	add_bar(c, 0, CVMM_PCI_BAR_MEM32, 0x4000, 0);
	m = mkmsix(c, &o);
	program(m, 2, 0x77, false);
	/* Wrong sizes, misaligned, straddling entries, past the table,
	 * another BAR: reads 0, writes change nothing. */
	ck_assert_int_eq(cvmm_pci_msix_bar_access(m, 0, TBL + 32, &b, 1, true), 1);
	ck_assert_uint_eq(tbl_read(m, TBL + 32, 2), 0);
	ck_assert_int_eq(cvmm_pci_msix_bar_access(m, 0, TBL + 34, &v, 4, true), 1);
	ck_assert_int_eq(cvmm_pci_msix_bar_access(m, 0, TBL + 36, &v, 8, true), 1);
	ck_assert_uint_eq(tbl_read(m, TBL + 36, 8), 0);
	ck_assert_uint_eq(tbl_read(m, TBL + 32, 8), 0xfee02000);
	ck_assert_uint_eq(tbl_read(m, TBL + 40, 4), 0x77);
	ck_assert_int_eq(cvmm_pci_msix_bar_access(m, 0, TBL + 64, &v, 4, true), 0);
	ck_assert_int_eq(cvmm_pci_msix_bar_access(m, 0, TBL - 4, &v, 4, true), 0);
	ck_assert_int_eq(cvmm_pci_msix_bar_access(m, 1, TBL, &v, 4, true), 0);
	ck_assert_int_eq(cvmm_pci_msix_bar_access(m, 0, PBA + 8, &v, 4, false), 0);
	ck_assert_int_eq(cvmm_pci_msix_bar_access(m, 0, TBL, &v, 0, false), -EINVAL);
	ck_assert_int_eq(cvmm_pci_msix_bar_access(m, 0, TBL, &v, 16, false), -EINVAL);
	ck_assert_int_eq(cvmm_pci_msix_bar_access(m, 0, PBA + 2, &v, 2, false), 1);
	ck_assert_uint_eq(v & 0xffff, 0);
	/* Reserved vector-control bits and address bits 1:0 read 0. */
	tbl_write(m, TBL + 12, 0xfffffffe, 4);
	ck_assert_uint_eq(tbl_read(m, TBL + 12, 4), 0);
	tbl_write(m, TBL, 0xfee00003, 4);
	ck_assert_uint_eq(tbl_read(m, TBL, 4), 0xfee00000);
	/* Random writes over everything: the state stays sane. */
	srand(7);
	for (i = 0; i < 20000; i++) {
		uint64_t off = (uint64_t)(rand() % 0x4000);
		unsigned int len = 1u << (rand() % 4);
		uint64_t val = (uint64_t)rand() << 32 | (uint64_t)rand();

		cvmm_pci_msix_bar_access(m, 0, off, &val, len, rand() & 1);
		if (!(i % 64))
			wr(c, cvmm_pci_msix_cap_offset(m) + 2, (uint32_t)rand(), 2);
		cvmm_pci_msix_signal(m, (unsigned int)rand() % 5);
	}
	for (i = 0; i < 4; i++) {
		bool masked, pending;
		struct cvmm_pci_msi_msg msg;

		ck_assert_int_eq(cvmm_pci_msix_vector(m, (unsigned int)i, &msg, &masked, &pending),
				 0);
		ck_assert_uint_eq(msg.addr & 3, 0);
		ck_assert_uint_eq(tbl_read(m, TBL + 16 * (uint64_t)i + 12, 4) & ~1u, 0);
	}
	ck_assert_uint_eq(tbl_read(m, PBA, 8) >> 4, 0);
	cvmm_pci_msix_destroy(m);
	cvmm_pci_config_destroy(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* State                                                                     */
/* ------------------------------------------------------------------------ */

static struct cvmm_pci_config *mkfull(struct msix_owner *o, struct cvmm_pci_msix **m)
{
	struct cvmm_pci_config *c = mkdev(0x1041);
	uint8_t vcap[14] = { 0, 0, 14, 1 };

	add_bar(c, 0, CVMM_PCI_BAR_MEM64, 0x4000, 0);
	ck_assert_int_eq(cvmm_pci_config_add_cap(c, CVMM_PCI_CAP_ID_VNDR, vcap, sizeof(vcap)),
			 0x40);
	*m = mkmsix(c, o);
	return c;
}

START_TEST(state_roundtrip)
{
	struct msix_owner o1 = { 0 }, o2 = { 0 };
	struct cvmm_pci_msix *m1, *m2;
	struct cvmm_pci_config *c1 = mkfull(&o1, &m1), *c2 = mkfull(&o2, &m2);
	struct cvmm_pci_config_state *cs = malloc(sizeof(*cs)), *cs2 = malloc(sizeof(*cs2));
	struct cvmm_pci_msix_state ms, ms2;
	uint32_t cap = cvmm_pci_msix_cap_offset(m1);
	char err[200];

	wr(c1, 0x10, 0xc0000004, 4);
	wr(c1, 0x14, 0x2, 4);
	wr(c1, CVMM_PCI_COMMAND, CVMM_PCI_COMMAND_MEMORY | CVMM_PCI_COMMAND_MASTER, 2);
	wr(c1, CVMM_PCI_INTERRUPT_LINE, 5, 1);
	program(m1, 0, 0x30, false);
	program(m1, 3, 0x33, true);
	wr(c1, cap + 2, CVMM_PCI_MSIX_CTRL_ENABLE, 2);
	ck_assert_int_eq(cvmm_pci_msix_signal(m1, 3), 0);   /* pending */
	ck_assert_int_eq(cvmm_pci_config_save(c1, cs), 0);
	ck_assert_int_eq(cvmm_pci_msix_save(m1, &ms), 0);

	ck_assert_int_eq(cvmm_pci_config_restore(c2, cs, err, sizeof(err)), 0);
	ck_assert_int_eq(cvmm_pci_msix_restore(m2, &ms, err, sizeof(err)), 0);
	ck_assert_int_eq(cvmm_pci_config_save(c2, cs2), 0);
	ck_assert_int_eq(memcmp(cs, cs2, sizeof(*cs)), 0);
	ck_assert_int_eq(cvmm_pci_msix_save(m2, &ms2), 0);
	ck_assert_int_eq(memcmp(&ms, &ms2, sizeof(ms)), 0);
	/* The owner was told the routes again. */
	ck_assert(o2.usable[0]);
	ck_assert_uint_eq(o2.msg[0].data, 0x30);
	ck_assert(!o2.usable[3]);
	/* The pending vector is delivered on unmask after restore. */
	tbl_write(m2, TBL + 48 + 12, 0, 4);
	ck_assert_int_eq(o2.delivered[3], 1);
	cvmm_pci_msix_destroy(m1);
	cvmm_pci_msix_destroy(m2);
	cvmm_pci_config_destroy(c1);
	cvmm_pci_config_destroy(c2);
	free(cs);
	free(cs2);
}
END_TEST

START_TEST(state_hostile)
{
	static const struct {
		uint32_t off;
		uint8_t val;
		const char *field;
	} forged[] = {
		{ 0x00, 0x34, "vendor_id" },
		{ 0x03, 0x77, "device_id" },
		{ 0x0b, 0x01, "class_code" },
		{ 0x0e, 0x80, "header_type" },
		{ 0x10, 0x00, "bar[0]" },          /* MEM64 type bits cleared */
		{ 0x10, 0x14, "bar[0]" },          /* address bits below the size */
		{ 0x18, 0x01, "bar[2]" },          /* an unused BAR */
		{ 0x34, 0x44, "capabilities_pointer" },
		{ 0x41, 0x40, "capability 0x09 at 0x40" },  /* a loop */
		{ 0x41, 0xf0, "capability 0x09 at 0x40" },  /* elsewhere */
		{ 0x3d, 0x02, "interrupt_pin" },
		{ 0x06, 0x00, "status" },          /* CAP_LIST cleared */
		{ 0x200, 0x01, "extended space" },
		{ 0xf0, 0x01, "device-specific" },
	};
	struct msix_owner o = { 0 };
	struct cvmm_pci_msix *m;
	struct cvmm_pci_config *c = mkfull(&o, &m);
	struct cvmm_pci_config_state *cs = malloc(sizeof(*cs)), *orig = malloc(sizeof(*orig));
	struct cvmm_pci_msix_state ms, ms0;
	char err[200];
	size_t i;

	ck_assert_int_eq(cvmm_pci_config_save(c, orig), 0);
	for (i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		*cs = *orig;
		cs->bytes[forged[i].off] = forged[i].val;
		err[0] = 0;
		ck_assert_int_eq(cvmm_pci_config_restore(c, cs, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, forged[i].field), "case %zu: '%s' lacks '%s'", i, err,
			      forged[i].field);
	}
	*cs = *orig;
	cs->version = 2;
	ck_assert_int_eq(cvmm_pci_config_restore(c, cs, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "version"));
	cs->version = 1;
	cs->size = 256;
	ck_assert_int_eq(cvmm_pci_config_restore(c, cs, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "size"));
	/* Nothing changed by the refusals; writable bits are taken. */
	ck_assert_int_eq(cvmm_pci_config_save(c, cs), 0);
	ck_assert_int_eq(memcmp(cs, orig, sizeof(*cs)), 0);
	cs->bytes[CVMM_PCI_INTERRUPT_LINE] = 3;
	cs->bytes[CVMM_PCI_STATUS] |= CVMM_PCI_STATUS_INTERRUPT;
	ck_assert_int_eq(cvmm_pci_config_restore(c, cs, err, sizeof(err)), 0);
	ck_assert_uint_eq(rd(c, CVMM_PCI_INTERRUPT_LINE, 1), 3);

	/* MSI-X state. */
	ck_assert_int_eq(cvmm_pci_msix_save(m, &ms0), 0);
	ms = ms0; ms.version = 9;
	ck_assert_int_eq(cvmm_pci_msix_restore(m, &ms, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "msix version"));
	ms = ms0; ms.num_vectors = 8;
	ck_assert_int_eq(cvmm_pci_msix_restore(m, &ms, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "num_vectors"));
	ms = ms0; ms.pba = 0x10;
	ck_assert_int_eq(cvmm_pci_msix_restore(m, &ms, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "msix pba"));
	ms = ms0; ms.entries[3].ctrl = 3;
	ck_assert_int_eq(cvmm_pci_msix_restore(m, &ms, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "entries[3].ctrl"));
	ms = ms0; ms.entries[1].addr_lo = 0xfee00001;
	ck_assert_int_eq(cvmm_pci_msix_restore(m, &ms, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "entries[1].addr_lo"));
	ms = ms0; ms.entries[10].data = 1;
	ck_assert_int_eq(cvmm_pci_msix_restore(m, &ms, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "entries[10]"));
	ck_assert_int_eq(cvmm_pci_msix_save(m, &ms), 0);
	ck_assert_int_eq(memcmp(&ms, &ms0, sizeof(ms)), 0);
	ck_assert_int_eq(cvmm_pci_config_restore(c, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(cvmm_pci_msix_restore(m, NULL, NULL, 0), -EINVAL);

	cvmm_pci_msix_destroy(m);
	cvmm_pci_config_destroy(c);
	free(cs);
	free(orig);
}
END_TEST

static Suite *pci_suite(void)
{
	Suite *s = suite_create("pci");
	TCase *tc = tcase_create("pci");

	tcase_add_test(tc, header_masks);
	tcase_add_test(tc, bar_sizing);
	tcase_add_test(tc, capabilities);
	tcase_add_test(tc, segment_access);
	tcase_add_test(tc, segment_bars);
	tcase_add_test(tc, msix_basic);
	tcase_add_test(tc, msix_hostile);
	tcase_add_test(tc, state_roundtrip);
	tcase_add_test(tc, state_hostile);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return cvmm_test_run((Suite *[]){ pci_suite(), NULL });
}
