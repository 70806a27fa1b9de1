/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A PCI segment's bus 0: the host bridge at 00.0, 31 device slots
 * (function 0 each), configuration access through 0xCF8/0xCFC and ECAM,
 * and the one place that decides where BARs are mapped. The guest moves
 * BARs at will; a BAR is mapped only where it overlaps neither guest RAM,
 * a reserved range nor a BAR that is already mapped (the incumbent keeps
 * its place), and its owner hears every change through bar_event.
 *
 * One mutex: configuration access is a slow path (probe, BAR moves, MSI-X
 * enable), and a lock makes "check overlap, then map" atomic across vCPUs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_RESERVED 16u
#define HOST_BRIDGE_VENDOR 0x8086
#define HOST_BRIDGE_DEVICE 0x0d57

struct seg_bar {
	uint64_t mapped;           /* CVMM_PCI_BAR_ADDR_NONE: not mapped */
	enum cvmm_pci_bar_why why; /* last reported */
	uint64_t wanted;           /* last reported refusal's address */
	uint64_t was;              /* pass 1 -> 2: mapped here before a move */
};

struct seg_slot {
	struct cvmm_pci_config *cfg;   /* NULL: empty */
	const struct cvmm_pci_dev_ops *ops;
	void *opaque;
	struct seg_bar bars[CVMM_PCI_NUM_BARS];
};

struct cvmm_pci_segment {
	pthread_mutex_t lock;
	uint64_t ecam_base;
	const struct cvmm_guest_mem *mem;
	struct cvmm_pci_range res[MAX_RESERVED + 2];
	unsigned int num_res;
	uint32_t config_address;       /* 0xCF8 as the guest wrote it */
	struct cvmm_pci_config *bridge;
	struct seg_slot slots[CVMM_PCI_SLOTS];
};

int cvmm_pci_segment_create(const struct cvmm_pci_segment_opts *o,
			    struct cvmm_pci_segment **out)
{
	struct cvmm_pci_config_opts bo = {
		.sz = sizeof(bo), .vendor_id = HOST_BRIDGE_VENDOR,
		.device_id = HOST_BRIDGE_DEVICE, .class_code = 0x060000,
	};
	struct cvmm_pci_segment *s;
	unsigned int i, b;
	int r;

	if (!o || !out || o->sz < sizeof(*o) || (o->ecam_base & (CVMM_PCI_ECAM_BUS_SIZE - 1)) ||
	    o->num_reserved > MAX_RESERVED || (o->num_reserved && !o->reserved))
		return -EINVAL;
	for (i = 0; i < o->num_reserved; i++)
		if (!o->reserved[i].size || o->reserved[i].base + o->reserved[i].size - 1 <
						    o->reserved[i].base)
			return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = cvmm_pci_config_create(&bo, &s->bridge);
	if (r < 0) {
		free(s);
		return r;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->ecam_base = o->ecam_base;
	s->mem = o->mem;
	for (i = 0; i < o->num_reserved; i++)
		s->res[s->num_res++] = o->reserved[i];
	s->res[s->num_res++] = (struct cvmm_pci_range){ .base = CVMM_PCI_CONFIG_ADDRESS,
							.size = 8, .io = true };
	if (o->ecam_base)
		s->res[s->num_res++] = (struct cvmm_pci_range){ .base = o->ecam_base,
								.size = CVMM_PCI_ECAM_BUS_SIZE };
	s->slots[0].cfg = s->bridge;
	for (i = 0; i < CVMM_PCI_SLOTS; i++)
		for (b = 0; b < CVMM_PCI_NUM_BARS; b++)
			s->slots[i].bars[b] = (struct seg_bar){
				.mapped = CVMM_PCI_BAR_ADDR_NONE, .was = CVMM_PCI_BAR_ADDR_NONE,
				.why = CVMM_PCI_BAR_UNMAPPED };
	*out = s;
	return 0;
}

void cvmm_pci_segment_destroy(struct cvmm_pci_segment *s)
{
	if (!s)
		return;
	cvmm_pci_config_destroy(s->bridge);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ------------------------------------------------------------------------ */
/* BAR placement                                                             */
/* ------------------------------------------------------------------------ */

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool is_io(enum cvmm_pci_bar_type t)
{
	return t == CVMM_PCI_BAR_IO;
}

/* Would [addr, addr+size) in space @io hit a mapped BAR other than
 * (@slot, @bar)? */
static bool hits_mapped_bar(struct cvmm_pci_segment *s, unsigned int slot, unsigned int bar,
			    bool io, uint64_t addr, uint64_t size)
{
	struct cvmm_pci_bar_info bi;
	unsigned int i, b;

	for (i = 0; i < CVMM_PCI_SLOTS; i++) {
		if (!s->slots[i].cfg)
			continue;
		for (b = 0; b < CVMM_PCI_NUM_BARS; b++) {
			uint64_t m = s->slots[i].bars[b].mapped;

			if (m == CVMM_PCI_BAR_ADDR_NONE || (i == slot && b == bar))
				continue;
			cvmm_pci_config_bar(s->slots[i].cfg, b, &bi);
			if (is_io(bi.type) == io && ranges_overlap(addr, size, m, bi.size))
				return true;
		}
	}
	return false;
}

static enum cvmm_pci_bar_why placement(struct cvmm_pci_segment *s, unsigned int slot,
				       unsigned int bar, const struct cvmm_pci_bar_info *bi)
{
	bool io = is_io(bi->type);
	unsigned int i;

	if (bi->addr + bi->size - 1 < bi->addr || (io && bi->addr + bi->size > 0x10000))
		return CVMM_PCI_BAR_OUT_OF_RANGE;
	if (!io && s->mem) {
		for (i = 0; i < cvmm_guest_mem_num_regions(s->mem); i++) {
			const struct cvmm_mem_region *r = cvmm_guest_mem_region(s->mem, i);

			if (r && ranges_overlap(bi->addr, bi->size, r->gpa, r->size))
				return CVMM_PCI_BAR_OVERLAP_RAM;
		}
	}
	for (i = 0; i < s->num_res; i++)
		if (s->res[i].io == io &&
		    ranges_overlap(bi->addr, bi->size, s->res[i].base, s->res[i].size))
			return CVMM_PCI_BAR_OVERLAP_RESERVED;
	if (hits_mapped_bar(s, slot, bar, io, bi->addr, bi->size))
		return CVMM_PCI_BAR_OVERLAP_BAR;
	return CVMM_PCI_BAR_MAPPED;
}

static const char *why_name(enum cvmm_pci_bar_why w)
{
	switch (w) {
	case CVMM_PCI_BAR_OVERLAP_RAM: return "overlaps guest RAM";
	case CVMM_PCI_BAR_OVERLAP_BAR: return "overlaps another BAR";
	case CVMM_PCI_BAR_OVERLAP_RESERVED: return "overlaps a reserved range";
	case CVMM_PCI_BAR_OUT_OF_RANGE: return "out of range";
	default: return "";
	}
}

static void tell(struct seg_slot *sl, unsigned int slot, unsigned int bar,
		 const struct cvmm_pci_bar_info *bi, uint64_t old_addr, uint64_t new_addr,
		 enum cvmm_pci_bar_why why)
{
	struct cvmm_pci_bar_event ev = {
		.slot = slot, .bar = bar, .type = bi->type, .size = bi->size,
		.old_addr = old_addr, .new_addr = new_addr, .why = why, .wanted_addr = bi->addr,
	};

	if (why > CVMM_PCI_BAR_UNMAPPED)
		CVMM_LOG(CVMM_LOG_WARN, PCI_CRATE,
			 "00:%02x.0 BAR %u at 0x%llx size 0x%llx not mapped: %s", slot, bar,
			 (unsigned long long)bi->addr, (unsigned long long)bi->size,
			 why_name(why));
	if (sl->ops && sl->ops->bar_event)
		sl->ops->bar_event(sl->opaque, &ev);
}

/* Bring every BAR's mapping in line with its registers. BARs that stay
 * where they are keep their place; moved ones are placed after, in slot
 * order, so a BAR moved onto an incumbent is the one refused. */
static void update_locked(struct cvmm_pci_segment *s)
{
	struct cvmm_pci_bar_info bi;
	unsigned int i, b;

	/* Pass 1: take down what no longer decodes where it is mapped. */
	for (i = 0; i < CVMM_PCI_SLOTS; i++) {
		struct seg_slot *sl = &s->slots[i];

		if (!sl->cfg)
			continue;
		for (b = 0; b < CVMM_PCI_NUM_BARS; b++) {
			struct seg_bar *sb = &sl->bars[b];
			uint64_t old = sb->mapped;

			if (old == CVMM_PCI_BAR_ADDR_NONE)
				continue;
			cvmm_pci_config_bar(sl->cfg, b, &bi);
			if (bi.type != CVMM_PCI_BAR_NONE && bi.decode && bi.addr == old)
				continue;
			sb->mapped = CVMM_PCI_BAR_ADDR_NONE;
			if (bi.type != CVMM_PCI_BAR_NONE && bi.decode && bi.addr) {
				sb->was = old;   /* pass 2 reports the move or refusal */
			} else {
				sb->why = CVMM_PCI_BAR_UNMAPPED;
				tell(sl, i, b, &bi, old, CVMM_PCI_BAR_ADDR_NONE,
				     CVMM_PCI_BAR_UNMAPPED);
			}
		}
	}
	/* Pass 2: place every BAR that decodes but is not mapped. */
	for (i = 0; i < CVMM_PCI_SLOTS; i++) {
		struct seg_slot *sl = &s->slots[i];

		if (!sl->cfg)
			continue;
		for (b = 0; b < CVMM_PCI_NUM_BARS; b++) {
			struct seg_bar *sb = &sl->bars[b];
			enum cvmm_pci_bar_why why;
			uint64_t old = sb->was;

			if (sb->mapped != CVMM_PCI_BAR_ADDR_NONE)
				continue;
			sb->was = CVMM_PCI_BAR_ADDR_NONE;
			cvmm_pci_config_bar(sl->cfg, b, &bi);
			if (bi.type == CVMM_PCI_BAR_NONE || !bi.decode || !bi.addr) {
				sb->why = CVMM_PCI_BAR_UNMAPPED;
				continue;
			}
			why = placement(s, i, b, &bi);
			if (why == CVMM_PCI_BAR_MAPPED) {
				sb->mapped = bi.addr;
				sb->why = why;
				tell(sl, i, b, &bi, old, bi.addr, why);
				continue;
			}
			/* Refused: told once per (reason, address), and always
			 * when it loses a mapping. */
			if (old != CVMM_PCI_BAR_ADDR_NONE || sb->why != why || sb->wanted != bi.addr)
				tell(sl, i, b, &bi, old, CVMM_PCI_BAR_ADDR_NONE, why);
			sb->why = why;
			sb->wanted = bi.addr;
		}
	}
}

void cvmm_pci_segment_update(struct cvmm_pci_segment *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	update_locked(s);
	pthread_mutex_unlock(&s->lock);
}

int cvmm_pci_segment_add(struct cvmm_pci_segment *s, int slot, struct cvmm_pci_config *cfg,
			 const struct cvmm_pci_dev_ops *ops, void *opaque)
{
	struct seg_slot *sl;
	unsigned int b;
	int r;

	if (!s || !cfg || slot == 0 || slot >= (int)CVMM_PCI_SLOTS || slot < -1)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (slot < 0) {
		for (slot = 1; slot < (int)CVMM_PCI_SLOTS && s->slots[slot].cfg; slot++)
			;
		if (slot == (int)CVMM_PCI_SLOTS) {
			r = -ENOSPC;
			goto out;
		}
	} else if (s->slots[slot].cfg) {
		r = -EBUSY;
		goto out;
	}
	sl = &s->slots[slot];
	sl->cfg = cfg;
	sl->ops = ops;
	sl->opaque = opaque;
	for (b = 0; b < CVMM_PCI_NUM_BARS; b++)
		sl->bars[b] = (struct seg_bar){ .mapped = CVMM_PCI_BAR_ADDR_NONE,
						.was = CVMM_PCI_BAR_ADDR_NONE,
						.why = CVMM_PCI_BAR_UNMAPPED };
	update_locked(s);
	r = slot;
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int cvmm_pci_segment_remove(struct cvmm_pci_segment *s, unsigned int slot)
{
	struct cvmm_pci_bar_info bi;
	struct seg_slot *sl;
	unsigned int b;

	if (!s || slot == 0 || slot >= CVMM_PCI_SLOTS)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	sl = &s->slots[slot];
	if (!sl->cfg) {
		pthread_mutex_unlock(&s->lock);
		return -ENOENT;
	}
	for (b = 0; b < CVMM_PCI_NUM_BARS; b++) {
		if (sl->bars[b].mapped == CVMM_PCI_BAR_ADDR_NONE)
			continue;
		cvmm_pci_config_bar(sl->cfg, b, &bi);
		tell(sl, slot, b, &bi, sl->bars[b].mapped, CVMM_PCI_BAR_ADDR_NONE,
		     CVMM_PCI_BAR_UNMAPPED);
	}
	memset(sl, 0, sizeof(*sl));
	update_locked(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int cvmm_pci_segment_bar_addr(struct cvmm_pci_segment *s, unsigned int slot, unsigned int bar,
			      uint64_t *addr)
{
	int r = 0;

	if (!s || !addr || slot >= CVMM_PCI_SLOTS || bar >= CVMM_PCI_NUM_BARS)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (!s->slots[slot].cfg)
		r = -ENOENT;
	else
		*addr = s->slots[slot].bars[bar].mapped;
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* ------------------------------------------------------------------------ */
/* Configuration access                                                      */
/* ------------------------------------------------------------------------ */

/* One access to bus 0, @dev, @fn, register @reg; under the lock. */
static void cfg_access(struct cvmm_pci_segment *s, unsigned int bus, unsigned int dev,
		       unsigned int fn, uint32_t reg, void *data, unsigned int len, bool is_write)
{
	struct cvmm_pci_config *c = NULL;

	if (bus == 0 && fn == 0 && dev < CVMM_PCI_SLOTS)
		c = s->slots[dev].cfg;
	if (!c) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (!is_write) {
		cvmm_pci_config_read(c, reg, data, len);
		return;
	}
	cvmm_pci_config_write(c, reg, data, len);
	/* Command (decode enables) or a BAR: placement may change. */
	if (ranges_overlap(reg, len, CVMM_PCI_COMMAND, 2) ||
	    ranges_overlap(reg, len, CVMM_PCI_BAR0, 4 * CVMM_PCI_NUM_BARS))
		update_locked(s);
}

int cvmm_pci_segment_pio(struct cvmm_pci_segment *s, uint16_t port, void *data,
			 unsigned int len, bool is_write)
{
	uint32_t a, byte;

	if (!s || !data || port < CVMM_PCI_CONFIG_ADDRESS || port > CVMM_PCI_CONFIG_DATA + 3 ||
	    (len != 1 && len != 2 && len != 4))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (port < CVMM_PCI_CONFIG_DATA) {
		/* CONFIG_ADDRESS is a dword register; narrower accesses belong
		 * to other (absent) chipset ports. */
		if (port == CVMM_PCI_CONFIG_ADDRESS && len == 4) {
			if (is_write)
				memcpy(&s->config_address, data, 4);
			else
				memcpy(data, &s->config_address, 4);
		} else if (!is_write) {
			memset(data, 0xff, len);
		}
		goto out;
	}
	a = s->config_address;
	byte = port - CVMM_PCI_CONFIG_DATA;
	if (!(a & 0x80000000u) || byte + len > 4 || (byte & (len - 1))) {
		if (!is_write)
			memset(data, 0xff, len);
		goto out;
	}
	cfg_access(s, (a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 7, (a & 0xfc) + byte, data,
		   len, is_write);
out:
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int cvmm_pci_segment_ecam(struct cvmm_pci_segment *s, uint64_t offset, void *data,
			  unsigned int len, bool is_write)
{
	if (!s || !data || !len || len > 8)
		return -EINVAL;
	if ((len != 1 && len != 2 && len != 4) || (offset & (len - 1)) ||
	    offset >= 256ull * CVMM_PCI_ECAM_BUS_SIZE) {
		if (!is_write)
			memset(data, 0xff, len);
		return 0;
	}
	pthread_mutex_lock(&s->lock);
	cfg_access(s, (unsigned int)(offset >> 20), (offset >> 15) & 0x1f, (offset >> 12) & 7,
		   offset & 0xfff, data, len, is_write);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
