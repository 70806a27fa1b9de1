/* SPDX-License-Identifier: Apache-2.0 */
/* The device fuzz targets' shared harness (fuzz-vq.h has the layout and
 * the input format). Every oddity it meets in what the device did is an
 * abort(), which libFuzzer reports as a crash with the input. */
#include "fuzz-vq.h"

#include <stdlib.h>
#include <string.h>

#include <cvmm/virtio-devices/transport.h>

static uint64_t ring_base(unsigned int q)
{
	return 0x1000ull + q * 0x4000ull;
}

void fvq_setup(struct fvq *f, const struct cvmm_mem_region_opts *extra)
{
	struct cvmm_mem_region_opts o = {
		.sz = sizeof(o), .gpa = 0, .size = FVQ_RAM, .backing = CVMM_MEM_ANON,
		.flags = CVMM_MEM_F_GUARD, .fd = -1,
	};
	uint64_t len = FVQ_RAM;

	memset(f, 0, sizeof(*f));
	if (cvmm_guest_mem_create(&f->mem) || cvmm_guest_mem_add_region(f->mem, &o) ||
	    (extra && cvmm_guest_mem_add_region(f->mem, extra)) ||
	    cvmm_event_manager_create(NULL, &f->em))
		abort();
	f->ram = cvmm_guest_mem_translate(f->mem, 0, &len);
	if (!f->ram || len != FVQ_RAM)
		abort();
}

static void loop_idle(struct fvq *f)
{
	for (int i = 0; i < 10000; i++)
		if (cvmm_event_manager_run_once(f->em, 0) <= 0)
			return;
	abort(); /* the device keeps finding work: a livelock */
}

static uint32_t rd(struct fvq *f, uint32_t off)
{
	uint32_t v = 0;

	if (cvmm_virtio_mmio_access(f->t, off, &v, 4, false))
		abort();
	return v;
}

static void wr(struct fvq *f, uint32_t off, uint32_t v)
{
	if (cvmm_virtio_mmio_access(f->t, off, &v, 4, true))
		abort();
}

static void settle(struct fvq *f)
{
	for (int i = 0; i < 100 && !cvmm_virtio_mmio_settled(f->t); i++)
		cvmm_event_manager_run_once(f->em, 0);
	if (!cvmm_virtio_mmio_settled(f->t))
		abort();
}

/* Status 0 and wait for it; then the whole driver bring-up. */
static bool bring_up(struct fvq *f, uint64_t want)
{
	uint64_t offered;

	wr(f, CVMM_VIRTIO_MMIO_STATUS, 0);
	settle(f);
	if (rd(f, CVMM_VIRTIO_MMIO_STATUS) != 0)
		abort();
	for (unsigned int q = 0; q < FVQ_MAXQ; q++) {
		cvmm_virtq_driver_destroy(f->drv[q]);
		f->drv[q] = NULL;
		memset(f->ch[q], 0, sizeof(f->ch[q]));
	}
	f->lied = false;
	f->up = false;
	wr(f, CVMM_VIRTIO_MMIO_STATUS, CVMM_VIRTIO_S_ACKNOWLEDGE | CVMM_VIRTIO_S_DRIVER);
	wr(f, CVMM_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	offered = rd(f, CVMM_VIRTIO_MMIO_DEVICE_FEATURES);
	wr(f, CVMM_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	offered |= (uint64_t)rd(f, CVMM_VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	f->features = (offered & want) | CVMM_VIRTIO_F_VERSION_1;
	wr(f, CVMM_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, CVMM_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f->features);
	wr(f, CVMM_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, CVMM_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f->features >> 32));
	wr(f, CVMM_VIRTIO_MMIO_STATUS, CVMM_VIRTIO_S_ACKNOWLEDGE | CVMM_VIRTIO_S_DRIVER |
	   CVMM_VIRTIO_S_FEATURES_OK);
	if (!(rd(f, CVMM_VIRTIO_MMIO_STATUS) & CVMM_VIRTIO_S_FEATURES_OK))
		return false;
	for (unsigned int q = 0; q < f->nq; q++) {
		uint64_t base = ring_base(q);
		struct cvmm_virtq_driver_opts d = {
			.sz = sizeof(d), .mem = f->mem, .size = FVQ_QSIZE, .features = f->features,
			.desc_gpa = base, .avail_gpa = base + 0x1000, .used_gpa = base + 0x2000,
			.indirect_gpa = 0x11000ull + q * 0x1000ull, .indirect_max = 4,
		};

		wr(f, CVMM_VIRTIO_MMIO_QUEUE_SEL, q);
		if (rd(f, CVMM_VIRTIO_MMIO_QUEUE_NUM_MAX) < FVQ_QSIZE)
			return false;
		wr(f, CVMM_VIRTIO_MMIO_QUEUE_NUM, FVQ_QSIZE);
		wr(f, CVMM_VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)d.desc_gpa);
		wr(f, CVMM_VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		wr(f, CVMM_VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)d.avail_gpa);
		wr(f, CVMM_VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
		wr(f, CVMM_VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)d.used_gpa);
		wr(f, CVMM_VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
		if (cvmm_virtq_driver_create(&d, &f->drv[q]))
			abort();
		wr(f, CVMM_VIRTIO_MMIO_QUEUE_READY, 1);
		if (rd(f, CVMM_VIRTIO_MMIO_QUEUE_READY) != 1)
			return false;
	}
	wr(f, CVMM_VIRTIO_MMIO_STATUS, CVMM_VIRTIO_S_ACKNOWLEDGE | CVMM_VIRTIO_S_DRIVER |
	   CVMM_VIRTIO_S_FEATURES_OK | CVMM_VIRTIO_S_DRIVER_OK);
	settle(f);
	if (!(rd(f, CVMM_VIRTIO_MMIO_STATUS) & CVMM_VIRTIO_S_DRIVER_OK))
		return false;
	/* activation may leave queue events behind (it looks at every queue
	 * once): handled now, so a KICK is the only thing that runs a queue */
	loop_idle(f);
	f->up = true;
	return true;
}

static uint64_t want_of;

bool fvq_start(struct fvq *f, struct cvmm_virtio_device *dev, unsigned int nq,
	       uint64_t want, uint8_t canary)
{
	struct cvmm_virtio_mmio_opts mo = { .sz = sizeof(mo), .dev = dev, .mem = f->mem,
					    .em = f->em };
	uint8_t hdr = fvq_u8(f);

	memset(f->ram, 0, FVQ_CANARY);
	memset(f->ram + FVQ_CANARY, canary, FVQ_RAM - FVQ_CANARY);
	f->dev = dev;
	f->nq = nq;
	if (cvmm_virtio_mmio_create(&mo, &f->t))
		abort();
	want_of = want | (hdr & 1 ? CVMM_VIRTIO_F_RING_PACKED : 0) |
		  (hdr & 2 ? CVMM_VIRTIO_F_INDIRECT_DESC : 0) |
		  (hdr & 4 ? CVMM_VIRTIO_F_EVENT_IDX : 0);
	if (hdr & 8) /* the target's first optional feature left out */
		want_of &= ~(want & -want);
	return bring_up(f, want_of);
}

void fvq_stop(struct fvq *f)
{
	cvmm_virtio_mmio_destroy(f->t);
	f->t = NULL;
	for (unsigned int q = 0; q < FVQ_MAXQ; q++) {
		cvmm_virtq_driver_destroy(f->drv[q]);
		f->drv[q] = NULL;
	}
}

uint8_t fvq_u8(struct fvq *f)
{
	if (!f->left)
		return 0;
	f->left--;
	return *f->in++;
}

uint16_t fvq_u16(struct fvq *f)
{
	return (uint16_t)(fvq_u8(f) | fvq_u8(f) << 8);
}

uint32_t fvq_u32(struct fvq *f)
{
	return fvq_u16(f) | (uint32_t)fvq_u16(f) << 16;
}

uint64_t fvq_u64(struct fvq *f)
{
	return fvq_u32(f) | (uint64_t)fvq_u32(f) << 32;
}

uint8_t *fvq_host(struct fvq *f, uint64_t gpa, uint64_t len)
{
	if (gpa >= FVQ_RAM || len > FVQ_RAM - gpa)
		return NULL;
	return f->ram + gpa;
}

bool fvq_needs_reset(struct fvq *f)
{
	return rd(f, CVMM_VIRTIO_MMIO_STATUS) & CVMM_VIRTIO_S_NEEDS_RESET;
}

unsigned int fvq_in_flight(struct fvq *f, unsigned int q)
{
	return f->drv[q] ? cvmm_virtq_driver_in_flight(f->drv[q]) : 0;
}

unsigned int fvq_pending(struct fvq *f, unsigned int q, const struct fvq_chain **out)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FVQ_QSIZE; i++)
		if (f->ch[q][i].busy)
			out[n++] = &f->ch[q][i];
	/* insertion sort by seq: at most 64 */
	for (unsigned int i = 1; i < n; i++)
		for (unsigned int j = i; j && out[j - 1]->seq > out[j]->seq; j--) {
			const struct fvq_chain *t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

size_t fvq_readable(struct fvq *f, const struct fvq_chain *c, uint8_t *out, size_t max)
{
	size_t n = 0;

	for (unsigned int i = 0; i < c->nout && n < max; i++) {
		const uint8_t *p = fvq_host(f, c->buf[i].gpa, c->buf[i].len);
		size_t k = c->buf[i].len < max - n ? c->buf[i].len : max - n;

		if (!p && !c->buf[i].len)
			continue; /* zero bytes, anywhere: the queue allows it */
		if (!p)
			return n;
		memcpy(out + n, p, k);
		n += k;
	}
	return n;
}

/* A hostile address for a "wild" buffer. */
static uint64_t wild_addr(uint8_t k, uint32_t len)
{
	switch (k & 7) {
	case 0: return 0xfffffffffffff000ull;           /* wraps */
	case 1: return FVQ_RAM - (len ? len / 2 + 1 : 8); /* straddles the end of RAM */
	case 2: return FVQ_RAM;                          /* the guard page */
	case 3: return 0x1000;                           /* queue 0's descriptors */
	case 4: return FVQ_CANARY + (k >> 3) * 0x1000;    /* the canary area */
	case 5: return 0x100000ull + (k >> 3) * 0x1000;   /* a second region (when there) */
	case 6: return 0x80000000ull;                    /* nowhere */
	default: return 0x11000;                         /* indirect tables */
	}
}

static void op_add(struct fvq *f)
{
	uint8_t spec = fvq_u8(f), wild = fvq_u8(f);
	unsigned int q = (spec & 3) % f->nq, nout = (spec >> 2) & 3, nin = (spec >> 4) & 3;
	bool indirect = (spec & 0x40) && (f->features & CVMM_VIRTIO_F_INDIRECT_DESC);
	struct fvq_chain *c = NULL;
	unsigned int slot, npay;

	if (!f->up || !f->drv[q])
		return;
	if (!nout && !nin)
		nout = 1;
	for (slot = 0; slot < FVQ_QSIZE; slot++)
		if (!f->ch[q][slot].busy) {
			c = &f->ch[q][slot];
			break;
		}
	if (!c)
		return;
	memset(c, 0, sizeof(*c));
	c->q = q;
	c->nout = nout;
	c->nin = nin;
	for (unsigned int i = 0; i < nout + nin; i++) {
		uint32_t off = (uint32_t)fvq_u16(f) & 0xfff8u;
		uint32_t len = fvq_u16(f);

		/* A 0xffff length: 4 KiB pages (for page-sized buffers). */
		if (len == 0xffff)
			len = 0x1000;
		c->buf[i].gpa = FVQ_DATA + off;
		c->buf[i].len = len;
		if ((spec & 0x80) && i == (wild >> 5) % (nout + nin)) {
			c->buf[i].gpa = wild_addr(wild, len);
			c->wild = true;
		}
		if (i >= nout)
			c->writable += len;
	}
	/* payload over the buffers in order (data-area parts only) */
	npay = fvq_u8(f);
	for (unsigned int i = 0; i < nout + nin && npay; i++) {
		uint8_t *p = fvq_host(f, c->buf[i].gpa, c->buf[i].len);

		if (!p || c->buf[i].gpa < FVQ_DATA || c->buf[i].gpa >= FVQ_DATA_END)
			continue;
		for (uint32_t k = 0; k < c->buf[i].len && npay; k++, npay--)
			p[k] = fvq_u8(f);
	}
	while (npay--) /* what did not fit is still the payload's */
		(void)fvq_u8(f);
	if (cvmm_virtq_driver_add(f->drv[q], c->buf, nout, c->buf + nout, nin, indirect, slot))
		return; /* no room: the chain is not there */
	c->busy = true;
	c->seq = ++f->seq;
}

static void reap(struct fvq *f, unsigned int q, fvq_used_fn used)
{
	uint64_t tok;
	uint32_t len;
	int r;

	while ((r = cvmm_virtq_driver_get_used(f->drv[q], &tok, &len)) == 1) {
		struct fvq_chain *c;

		if (tok >= FVQ_QSIZE || !(c = &f->ch[q][tok])->busy)
			abort();
		if (!f->lied && len > c->writable)
			abort(); /* the device says it wrote more than it was given */
		if (used && !f->lied)
			used(f, c, len);
		c->busy = false;
	}
	if (r < 0 && !f->lied)
		abort(); /* a used entry the driver never handed out */
	if (r < 0) /* after a lie: nothing more is read from this queue */
		f->up = false;
}

/* A pending chain of @q lets the device write into the rings or indirect
 * tables (a hostile guest may): after that kick what the driver helper
 * believes is no longer what is there, as after a LIE. */
static bool writes_rings(struct fvq *f, unsigned int q)
{
	for (unsigned int i = 0; i < FVQ_QSIZE; i++) {
		const struct fvq_chain *c = &f->ch[q][i];

		if (!c->busy)
			continue;
		for (unsigned int k = c->nout; k < c->nout + c->nin; k++)
			if (c->buf[k].len && c->buf[k].gpa < FVQ_DATA)
				return true;
	}
	return false;
}

static void op_lie(struct fvq *f)
{
	uint8_t q = fvq_u8(f) % f->nq, part = fvq_u8(f) % 3;
	uint16_t off = fvq_u16(f) & 0xfff;
	uint8_t x = fvq_u8(f);

	f->ram[ring_base(q) + part * 0x1000ull + off] ^= x ? x : 1;
	f->lied = true;
}

static void op_cfg(struct fvq *f)
{
	uint8_t w = fvq_u8(f);
	uint32_t off = fvq_u8(f), v = fvq_u32(f);
	unsigned int width = 1u << (w & 3);

	(void)cvmm_virtio_mmio_access(f->t, CVMM_VIRTIO_MMIO_CONFIG + off, &v,
				      width > 4 ? 4 : width, w & 4);
}

void fvq_run(struct fvq *f, const struct fvq_hooks *h)
{
	unsigned int ops = 0;

	while (f->left && ops++ < 256) {
		uint8_t op = fvq_u8(f);

		switch (op & 7) {
		case 0:
			op_add(f);
			break;
		case 1: {
			unsigned int q = (op >> 3) % f->nq;

			if (!f->up)
				break;
			if (writes_rings(f, q))
				f->lied = true;
			if (h->before_kick && !f->lied)
				h->before_kick(f, q);
			wr(f, CVMM_VIRTIO_MMIO_QUEUE_NOTIFY, q);
			loop_idle(f);
			reap(f, q, h->used);
			if (h->after_kick) /* (after a LIE too: a model may resync) */
				h->after_kick(f, q);
			break;
		}
		case 2:
			op_lie(f);
			break;
		case 3:
			if (h->dev_op)
				h->dev_op(f);
			loop_idle(f);
			break;
		case 4:
			if (!bring_up(f, want_of))
				abort(); /* it came up before */
			break;
		default:
			op_cfg(f);
			break;
		}
	}
}
