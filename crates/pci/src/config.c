/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One function's configuration space: the bytes, a read-write and a
 * write-1-to-clear mask per byte (a guest write can change nothing else),
 * the capability list, BAR declarations and range hooks. Not locked: the
 * segment serialises every access under its own lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct cfg_bar {
	enum cvmm_pci_bar_type type; /* NONE also for the upper half of a MEM64 */
	uint64_t size;
	bool prefetchable;
	bool upper;                  /* the high dword of the BAR below */
};

struct cvmm_pci_config {
	uint8_t b[CVMM_PCI_CFG_EXT_SIZE];
	uint8_t rw[CVMM_PCI_CFG_EXT_SIZE];
	uint8_t w1c[CVMM_PCI_CFG_EXT_SIZE];
	struct cfg_bar bars[CVMM_PCI_NUM_BARS];
	uint32_t last_cap;       /* offset of the last capability, 0: none */
	uint32_t next_free;      /* where the next capability goes */
	struct cvmm_pci_config_hook hooks[CVMM_PCI_CONFIG_MAX_HOOKS];
	unsigned int num_hooks;
};

void cvmm_pci_refuse(char *err, size_t errlen, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (err && errlen)
		snprintf(err, errlen, "%s", buf);
	CVMM_LOG(CVMM_LOG_WARN, PCI_CRATE, "state refused: %s", buf);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

int cvmm_pci_config_create(const struct cvmm_pci_config_opts *o, struct cvmm_pci_config **out)
{
	struct cvmm_pci_config *c;

	if (!o || !out || o->sz < sizeof(*o) || o->vendor_id == 0xffff ||
	    o->class_code > 0xffffff || o->interrupt_pin > 4)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	put16(c->b + CVMM_PCI_VENDOR_ID, o->vendor_id);
	put16(c->b + CVMM_PCI_DEVICE_ID, o->device_id);
	c->b[CVMM_PCI_REVISION_ID] = o->revision_id;
	c->b[CVMM_PCI_CLASS_PROG] = (uint8_t)o->class_code;
	put16(c->b + CVMM_PCI_CLASS_DEVICE, (uint16_t)(o->class_code >> 8));
	c->b[CVMM_PCI_HEADER_TYPE] = o->multifunction ? 0x80 : 0x00;
	put16(c->b + CVMM_PCI_SUBSYSTEM_VENDOR_ID, o->subsystem_vendor_id);
	put16(c->b + CVMM_PCI_SUBSYSTEM_ID, o->subsystem_id);
	c->b[CVMM_PCI_INTERRUPT_PIN] = o->interrupt_pin;
	/* Command: I/O, memory, bus master, INTx disable. */
	put16(c->rw + CVMM_PCI_COMMAND, CVMM_PCI_COMMAND_IO | CVMM_PCI_COMMAND_MEMORY |
					  CVMM_PCI_COMMAND_MASTER |
					  CVMM_PCI_COMMAND_INTX_DISABLE);
	/* Status: master data parity error, signalled/received aborts,
	 * system error, detected parity error. */
	put16(c->w1c + CVMM_PCI_STATUS, 0xf900);
	c->rw[CVMM_PCI_CACHE_LINE_SIZE] = 0xff;
	c->rw[CVMM_PCI_LATENCY_TIMER] = 0xff;
	c->rw[CVMM_PCI_INTERRUPT_LINE] = 0xff;
	c->next_free = CVMM_PCI_CAP_START;
	*out = c;
	return 0;
}

void cvmm_pci_config_destroy(struct cvmm_pci_config *c)
{
	free(c);
}

/* A naturally aligned access of 1, 2 or 4 bytes inside the space. */
static bool access_ok(uint32_t off, unsigned int len)
{
	return (len == 1 || len == 2 || len == 4) && !(off & (len - 1)) &&
	       off < CVMM_PCI_CFG_EXT_SIZE && len <= CVMM_PCI_CFG_EXT_SIZE - off;
}

static bool overlaps(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
	return a < b + blen && b < a + alen;
}

int cvmm_pci_config_read(struct cvmm_pci_config *c, uint32_t off, void *data, unsigned int len)
{
	unsigned int i;

	if (!c || !data)
		return -EINVAL;
	if (!access_ok(off, len)) {
		memset(data, 0xff, len > 8 ? 8 : len);
		return 0;
	}
	for (i = 0; i < c->num_hooks; i++)
		if (c->hooks[i].read && overlaps(off, len, c->hooks[i].off, c->hooks[i].len))
			c->hooks[i].read(c, off, len, c->hooks[i].opaque);
	memcpy(data, c->b + off, len);
	return 0;
}

int cvmm_pci_config_write(struct cvmm_pci_config *c, uint32_t off, const void *data,
			  unsigned int len)
{
	const uint8_t *v = data;
	unsigned int i;

	if (!c || !data)
		return -EINVAL;
	if (!access_ok(off, len))
		return 0;
	for (i = 0; i < len; i++) {
		uint32_t o = off + i;

		c->b[o] = (uint8_t)((c->b[o] & ~c->rw[o]) | (v[i] & c->rw[o]));
		c->b[o] &= (uint8_t)~(v[i] & c->w1c[o]);
	}
	for (i = 0; i < c->num_hooks; i++)
		if (c->hooks[i].write && overlaps(off, len, c->hooks[i].off, c->hooks[i].len))
			c->hooks[i].write(c, off, len, c->hooks[i].opaque);
	return 0;
}

int cvmm_pci_config_set(struct cvmm_pci_config *c, uint32_t off, const void *data, size_t len)
{
	if (!c || !data || off > CVMM_PCI_CFG_EXT_SIZE || len > CVMM_PCI_CFG_EXT_SIZE - off)
		return -EINVAL;
	memcpy(c->b + off, data, len);
	return 0;
}

int cvmm_pci_config_get(const struct cvmm_pci_config *c, uint32_t off, void *data, size_t len)
{
	if (!c || !data || off > CVMM_PCI_CFG_EXT_SIZE || len > CVMM_PCI_CFG_EXT_SIZE - off)
		return -EINVAL;
	memcpy(data, c->b + off, len);
	return 0;
}

uint8_t cvmm_pci_config_get8(const struct cvmm_pci_config *c, uint32_t off)
{
	uint8_t v = 0;

	cvmm_pci_config_get(c, off, &v, 1);
	return v;
}

uint16_t cvmm_pci_config_get16(const struct cvmm_pci_config *c, uint32_t off)
{
	uint8_t v[2] = { 0, 0 };

	cvmm_pci_config_get(c, off, v, 2);
	return (uint16_t)(v[0] | v[1] << 8);
}

uint32_t cvmm_pci_config_get32(const struct cvmm_pci_config *c, uint32_t off)
{
	return cvmm_pci_config_get16(c, off) | (uint32_t)cvmm_pci_config_get16(c, off + 2) << 16;
}

int cvmm_pci_config_set_masks(struct cvmm_pci_config *c, uint32_t off, const uint8_t *rw,
			      const uint8_t *w1c, size_t len)
{
	size_t i;

	if (!c || off > CVMM_PCI_CFG_EXT_SIZE || len > CVMM_PCI_CFG_EXT_SIZE - off)
		return -EINVAL;
	/* IDs, class, header type, the BARs (their masks come from
	 * add_bar) and the capability pointer stay read-only. */
	if (overlaps(off, (uint32_t)len, 0, 0x10) ||
	    overlaps(off, (uint32_t)len, CVMM_PCI_BAR0, 4 * CVMM_PCI_NUM_BARS) ||
	    overlaps(off, (uint32_t)len, CVMM_PCI_CAPABILITY_LIST, 1))
		return -EINVAL;
	for (i = 0; i < len; i++) {
		c->rw[off + i] = rw ? rw[i] : 0;
		c->w1c[off + i] = w1c ? w1c[i] : 0;
	}
	return 0;
}

int cvmm_pci_config_add_hook(struct cvmm_pci_config *c, const struct cvmm_pci_config_hook *h)
{
	if (!c || !h || !h->len || h->off >= CVMM_PCI_CFG_EXT_SIZE ||
	    h->len > CVMM_PCI_CFG_EXT_SIZE - h->off || (!h->read && !h->write))
		return -EINVAL;
	if (c->num_hooks >= CVMM_PCI_CONFIG_MAX_HOOKS)
		return -ENOSPC;
	c->hooks[c->num_hooks++] = *h;
	return 0;
}

void cvmm_pci_config_remove_hooks(struct cvmm_pci_config *c, void *opaque)
{
	unsigned int i, j;

	if (!c)
		return;
	for (i = j = 0; i < c->num_hooks; i++)
		if (c->hooks[i].opaque != opaque)
			c->hooks[j++] = c->hooks[i];
	c->num_hooks = j;
}

/* ------------------------------------------------------------------------ */
/* Capabilities                                                              */
/* ------------------------------------------------------------------------ */

int cvmm_pci_config_add_cap(struct cvmm_pci_config *c, uint8_t id, const void *body, size_t len)
{
	uint32_t off;

	if (!c || !body || len < 2 || len > CVMM_PCI_CFG_SIZE - CVMM_PCI_CAP_START)
		return -EINVAL;
	off = c->next_free;
	if (off + len > CVMM_PCI_CFG_SIZE)
		return -ENOSPC;
	memcpy(c->b + off, body, len);
	c->b[off] = id;
	c->b[off + 1] = 0;
	if (c->last_cap)
		c->b[c->last_cap + 1] = (uint8_t)off;
	else
		c->b[CVMM_PCI_CAPABILITY_LIST] = (uint8_t)off;
	c->last_cap = off;
	c->next_free = (uint32_t)((off + len + 3) & ~3u);
	put16(c->b + CVMM_PCI_STATUS,
	      (uint16_t)(cvmm_pci_config_get16(c, CVMM_PCI_STATUS) | CVMM_PCI_STATUS_CAP_LIST));
	return (int)off;
}

int cvmm_pci_cap_walk(const uint8_t *cfg, int (*fn)(uint8_t id, uint32_t off, void *opaque),
		      void *opaque, uint32_t *bad_off)
{
	uint32_t holder = CVMM_PCI_CAPABILITY_LIST;
	uint32_t off;
	unsigned int n;
	int r;

	if (!cfg)
		return -EINVAL;
	if (!(cfg[CVMM_PCI_STATUS] & CVMM_PCI_STATUS_CAP_LIST))
		return 0;
	off = cfg[holder];
	for (n = 0; off; n++) {
		/* The low two bits are reserved: masked, as the spec says. */
		off &= ~3u;
		if (off < CVMM_PCI_CAP_START || off > CVMM_PCI_CFG_SIZE - 4) {
			if (bad_off)
				*bad_off = holder;
			return -EINVAL;
		}
		if (n >= CVMM_PCI_CAP_WALK_MAX) {
			if (bad_off)
				*bad_off = holder;
			return -ELOOP;
		}
		if (fn) {
			r = fn(cfg[off], off, opaque);
			if (r)
				return r;
		}
		holder = off + 1;
		off = cfg[holder];
	}
	return 0;
}

struct find_ctx {
	uint8_t id;
	uint32_t start;
	bool past_start;
};

static int find_fn(uint8_t id, uint32_t off, void *opaque)
{
	struct find_ctx *f = opaque;

	if (!f->past_start) {
		f->past_start = off == f->start;
		return 0;
	}
	return id == f->id ? (int)off : 0;
}

int cvmm_pci_config_find_cap(const struct cvmm_pci_config *c, uint8_t id, uint32_t start)
{
	struct find_ctx f = { .id = id, .start = start, .past_start = start == 0 };
	int r;

	if (!c)
		return -EINVAL;
	r = cvmm_pci_cap_walk(c->b, find_fn, &f, NULL);
	return r == 0 ? -ENOENT : r;
}

/* ------------------------------------------------------------------------ */
/* BARs                                                                      */
/* ------------------------------------------------------------------------ */

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int cvmm_pci_config_add_bar(struct cvmm_pci_config *c, const struct cvmm_pci_bar_opts *o)
{
	uint32_t reg, flags, mask;
	uint64_t sizemask;
	unsigned int i;

	if (!c || !o || o->sz < sizeof(*o) || o->index >= CVMM_PCI_NUM_BARS || !pow2(o->size) ||
	    (o->addr & (o->size - 1)))
		return -EINVAL;
	i = o->index;
	switch (o->type) {
	case CVMM_PCI_BAR_MEM32:
		if (o->size < 16 || o->size > (1ull << 31) || o->addr + o->size > (1ull << 32))
			return -EINVAL;
		flags = o->prefetchable ? 0x8 : 0;
		break;
	case CVMM_PCI_BAR_MEM64:
		if (i + 1 >= CVMM_PCI_NUM_BARS || o->size < 16 || o->size > (1ull << 62) ||
		    o->addr > UINT64_MAX - o->size)
			return -EINVAL;
		flags = 0x4 | (o->prefetchable ? 0x8 : 0);
		break;
	case CVMM_PCI_BAR_IO:
		if (o->size < 4 || o->size > 256 || o->prefetchable ||
		    o->addr + o->size > 0x10000)
			return -EINVAL;
		flags = 0x1;
		break;
	default:
		return -EINVAL;
	}
	if (c->bars[i].type != CVMM_PCI_BAR_NONE || c->bars[i].upper ||
	    (o->type == CVMM_PCI_BAR_MEM64 &&
	     (c->bars[i + 1].type != CVMM_PCI_BAR_NONE || c->bars[i + 1].upper)))
		return -EEXIST;
	c->bars[i].type = o->type;
	c->bars[i].size = o->size;
	c->bars[i].prefetchable = o->prefetchable;
	sizemask = ~(o->size - 1);
	reg = CVMM_PCI_BAR0 + 4 * i;
	/* x86 I/O space is 16 bits: an I/O BAR decodes no more. */
	mask = (uint32_t)sizemask & (o->type == CVMM_PCI_BAR_IO ? 0xfffcu : ~15u);
	put32(c->rw + reg, mask);
	put32(c->b + reg, ((uint32_t)o->addr & mask) | flags);
	if (o->type == CVMM_PCI_BAR_MEM64) {
		c->bars[i + 1].upper = true;
		put32(c->rw + reg + 4, (uint32_t)(sizemask >> 32));
		put32(c->b + reg + 4, (uint32_t)(o->addr >> 32));
	}
	return 0;
}

int cvmm_pci_config_bar(const struct cvmm_pci_config *c, unsigned int index,
			struct cvmm_pci_bar_info *out)
{
	const struct cfg_bar *b;
	uint32_t reg, lo;
	uint16_t cmd;

	if (!c || !out || index >= CVMM_PCI_NUM_BARS)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	b = &c->bars[index];
	if (b->type == CVMM_PCI_BAR_NONE)
		return 0;
	reg = CVMM_PCI_BAR0 + 4 * index;
	lo = cvmm_pci_config_get32(c, reg);
	cmd = cvmm_pci_config_get16(c, CVMM_PCI_COMMAND);
	out->type = b->type;
	out->size = b->size;
	out->prefetchable = b->prefetchable;
	if (b->type == CVMM_PCI_BAR_IO) {
		out->addr = lo & ~3u;
		out->decode = cmd & CVMM_PCI_COMMAND_IO;
	} else {
		out->addr = lo & ~15u;
		if (b->type == CVMM_PCI_BAR_MEM64)
			out->addr |= (uint64_t)cvmm_pci_config_get32(c, reg + 4) << 32;
		out->decode = cmd & CVMM_PCI_COMMAND_MEMORY;
	}
	return 0;
}

void cvmm_pci_config_set_intx_status(struct cvmm_pci_config *c, bool pending)
{
	uint16_t st;

	if (!c)
		return;
	st = cvmm_pci_config_get16(c, CVMM_PCI_STATUS);
	st = pending ? (st | CVMM_PCI_STATUS_INTERRUPT)
		     : (uint16_t)(st & ~CVMM_PCI_STATUS_INTERRUPT);
	put16(c->b + CVMM_PCI_STATUS, st);
}

/* ------------------------------------------------------------------------ */
/* State                                                                     */
/* ------------------------------------------------------------------------ */

int cvmm_pci_config_save(const struct cvmm_pci_config *c, struct cvmm_pci_config_state *s)
{
	if (!c || !s)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->version = CVMM_PCI_CONFIG_STATE_VERSION;
	s->size = CVMM_PCI_CFG_EXT_SIZE;
	memcpy(s->bytes, c->b, sizeof(c->b));
	return 0;
}

/* The name of the header field holding byte @off (for refusals). */
static const char *field_name(const struct cvmm_pci_config *c, uint32_t off, char *buf,
			      size_t len)
{
	static const struct {
		uint32_t off, len;
		const char *name;
	} hdr[] = {
		{ 0x00, 2, "vendor_id" }, { 0x02, 2, "device_id" }, { 0x04, 2, "command" },
		{ 0x06, 2, "status" }, { 0x08, 1, "revision_id" }, { 0x09, 3, "class_code" },
		{ 0x0c, 1, "cache_line_size" }, { 0x0d, 1, "latency_timer" },
		{ 0x0e, 1, "header_type" }, { 0x0f, 1, "bist" }, { 0x28, 4, "cardbus_cis" },
		{ 0x2c, 2, "subsystem_vendor_id" }, { 0x2e, 2, "subsystem_id" },
		{ 0x30, 4, "rom_address" }, { 0x34, 1, "capabilities_pointer" },
		{ 0x3c, 1, "interrupt_line" }, { 0x3d, 1, "interrupt_pin" },
		{ 0x3e, 1, "min_gnt" }, { 0x3f, 1, "max_lat" },
	};
	uint32_t cap, best;
	unsigned int n;
	size_t i;

	for (i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++)
		if (off >= hdr[i].off && off < hdr[i].off + hdr[i].len)
			return hdr[i].name;
	if (off >= CVMM_PCI_BAR0 && off < CVMM_PCI_BAR0 + 4 * CVMM_PCI_NUM_BARS) {
		snprintf(buf, len, "bar[%u]", (off - CVMM_PCI_BAR0) / 4);
		return buf;
	}
	/* Inside a capability: the closest one starting at or below @off. */
	best = 0;
	for (cap = c->b[CVMM_PCI_CAPABILITY_LIST], n = 0; cap && n < CVMM_PCI_CAP_WALK_MAX;
	     cap = c->b[cap + 1], n++)
		if (cap <= off && cap > best)
			best = cap;
	if (best && off < c->next_free) {
		snprintf(buf, len, "capability 0x%02x at 0x%02x", c->b[best], best);
		return buf;
	}
	return off < CVMM_PCI_CFG_SIZE ? "device-specific" : "extended space";
}

int cvmm_pci_config_restore(struct cvmm_pci_config *c, const struct cvmm_pci_config_state *s,
			    char *err, size_t errlen)
{
	uint32_t off, bad = 0;
	char name[48];
	int r;

	if (!c || !s) {
		cvmm_pci_refuse(err, errlen, "state: NULL");
		return -EINVAL;
	}
	if (s->version != CVMM_PCI_CONFIG_STATE_VERSION) {
		cvmm_pci_refuse(err, errlen, "version: %u, this build reads %u", s->version,
			   CVMM_PCI_CONFIG_STATE_VERSION);
		return -EINVAL;
	}
	if (s->size != CVMM_PCI_CFG_EXT_SIZE) {
		cvmm_pci_refuse(err, errlen, "size: %u, expected %u", s->size, CVMM_PCI_CFG_EXT_SIZE);
		return -EINVAL;
	}
	for (off = 0; off < CVMM_PCI_CFG_EXT_SIZE; off++) {
		uint8_t fixed = (uint8_t)~(c->rw[off] | c->w1c[off]);

		/* INTx pending is the device's to show. */
		if (off == CVMM_PCI_STATUS)
			fixed &= (uint8_t)~CVMM_PCI_STATUS_INTERRUPT;
		if ((s->bytes[off] ^ c->b[off]) & fixed) {
			cvmm_pci_refuse(err, errlen,
				   "bytes[0x%03x] (%s): 0x%02x in the state, 0x%02x here: read-only bits differ",
				   off, field_name(c, off, name, sizeof(name)), s->bytes[off],
				   c->b[off]);
			return -EINVAL;
		}
	}
	/* Read-only bytes equal ours, so the chain is ours; walked anyway so
	 * that a model bug cannot let a loop through. */
	r = cvmm_pci_cap_walk(s->bytes, NULL, NULL, &bad);
	if (r < 0) {
		cvmm_pci_refuse(err, errlen, "bytes[0x%02x] (capability pointer): %s", bad,
			   r == -ELOOP ? "the chain loops" : "points outside 0x40..0xfc");
		return -EINVAL;
	}
	memcpy(c->b, s->bytes, sizeof(c->b));
	return 0;
}
