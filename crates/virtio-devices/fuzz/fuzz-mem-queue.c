/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: what a guest sends virtio-mem on its request queue
 * (PLUG, UNPLUG, UNPLUG_ALL, STATE with hostile addresses, block counts,
 * alignments, short requests and response buffers, chains that lie),
 * through the real virtio-mmio transport and virtqueue in a fuzz-owned
 * guest memory (fuzz-vq.h has the harness and the input format). The
 * device's region: 32 blocks of 4 KiB at 0x100000, a second guest memory
 * region; requested_size starts at 16 blocks and op 3 moves it.
 *
 * A model of the device (its bitmap, requested size and the rules of
 * virtio 1.2 5.15.6) runs beside it. Per KICK whose chains did not lie,
 * did not break the queue and do not overwrite each other's requests:
 *  - every chain comes back; used length 10 with the model's response
 *    (type, and the state for STATE), or 0 when there was no room for one;
 *  - the device's bitmap (its saved state) and plugged size are the
 *    model's;
 *  - a block plugged before the batch and not unplugged by it keeps its
 *    bytes; a block unplugged by the batch reads zero (also when plugged
 *    again since).
 * Always: the saved bitmap agrees with the plugged size; nothing outside
 * guest memory is touched (guard pages, ASan).
 */
#include <cvmm/virtio-devices/mem.h>

#include <stdlib.h>
#include <string.h>

#include "fuzz-vq.h"

#define BASE 0x100000ull
#define BS 4096ull
#define NB 32u
#define STATE_HDR 84u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fvq F;
static struct cvmm_virtio_mem *M;
static uint8_t *region;              /* host view of the device's region */

static bool model[NB];               /* plugged */
static uint64_t requested;           /* bytes */
static bool before[NB];
static bool released[NB];            /* unplugged by the batch (maybe plugged again) */
static bool exact;                   /* the batch can be predicted */
/* Expected answer per chain slot: used length and the 10 response bytes. */
static uint32_t exp_len[FVQ_QSIZE];
static uint8_t exp_resp[FVQ_QSIZE][10];

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static unsigned int plugged_count(void)
{
	unsigned int n = 0;

	for (unsigned int b = 0; b < NB; b++)
		n += model[b];
	return n;
}

/* The rules (virtio 1.2, 5.15.6) for one 24-byte request. */
static void model_request(const uint8_t *req, uint8_t *resp)
{
	uint16_t type = (uint16_t)(req[0] | req[1] << 8);
	uint64_t addr = le64(req + 8), n = (uint64_t)(req[16] | req[17] << 8), first, k = 0;
	uint16_t answer = CVMM_VIRTIO_MEM_RESP_ERROR;

	if (type == CVMM_VIRTIO_MEM_REQ_UNPLUG_ALL) {
		for (unsigned int b = 0; b < NB; b++)
			released[b] |= model[b];
		memset(model, 0, sizeof(model));
		answer = CVMM_VIRTIO_MEM_RESP_ACK;
		goto out;
	}
	if (type > CVMM_VIRTIO_MEM_REQ_STATE || !n || addr < BASE || (addr - BASE) % BS ||
	    (addr - BASE) / BS >= NB || n > NB - (addr - BASE) / BS)
		goto out;
	first = (addr - BASE) / BS;
	for (uint64_t b = first; b < first + n; b++)
		k += model[b];
	switch (type) {
	case CVMM_VIRTIO_MEM_REQ_PLUG:
		if (k)
			break;
		if ((plugged_count() + n) * BS > requested) {
			answer = CVMM_VIRTIO_MEM_RESP_NACK;
			break;
		}
		for (uint64_t b = first; b < first + n; b++)
			model[b] = true;
		answer = CVMM_VIRTIO_MEM_RESP_ACK;
		break;
	case CVMM_VIRTIO_MEM_REQ_UNPLUG:
		if (k != n)
			break;
		for (uint64_t b = first; b < first + n; b++) {
			model[b] = false;
			released[b] = true;
		}
		answer = CVMM_VIRTIO_MEM_RESP_ACK;
		break;
	default:
		resp[8] = !k ? CVMM_VIRTIO_MEM_STATE_UNPLUGGED :
			  k == n ? CVMM_VIRTIO_MEM_STATE_PLUGGED : CVMM_VIRTIO_MEM_STATE_MIXED;
		answer = CVMM_VIRTIO_MEM_RESP_ACK;
		break;
	}
out:
	resp[0] = (uint8_t)answer;
	resp[1] = (uint8_t)(answer >> 8);
}

static bool overlaps(const struct cvmm_virtq_buf *a, const struct cvmm_virtq_buf *b)
{
	return a->len && b->len && a->gpa < b->gpa + b->len && b->gpa < a->gpa + a->len;
}

/* The device's bitmap from its saved state (and its own consistency). */
static void device_bitmap(bool *out)
{
	static uint8_t st[STATE_HDR + NB / 8];
	struct cvmm_virtio_transport_state s;
	unsigned int k = 0;

	if (cvmm_virtio_mmio_save(F.t, &s, st, sizeof(st)) != (int)sizeof(st))
		abort();
	for (unsigned int b = 0; b < NB; b++) {
		out[b] = st[STATE_HDR + b / 8] >> (b % 8) & 1;
		k += out[b];
	}
	if (le64(st + 36) != k || le64(st + 28) != requested)
		abort(); /* the plugged count or requested size disagrees */
}

static void before_kick(struct fvq *f, unsigned int q)
{
	const struct fvq_chain *pend[FVQ_QSIZE];
	unsigned int n = fvq_pending(f, q, pend);

	memcpy(before, model, sizeof(model));
	memset(released, 0, sizeof(released));
	exact = true;
	for (unsigned int i = 0; i < n && exact; i++) {
		const struct fvq_chain *c = pend[i];

		/* a buffer in the device's region, or a response that lands on
		 * a request still to be read or on another response: no exact
		 * prediction */
		for (unsigned int k = 0; k < c->nout + c->nin; k++)
			if (!fvq_host(f, c->buf[k].gpa, c->buf[k].len) && c->buf[k].len)
				exact = false;
		for (unsigned int j = 0; j < n && exact; j++)
			for (unsigned int a = c->nout; a < c->nout + c->nin; a++)
				for (unsigned int b = 0; b < pend[j]->nout + pend[j]->nin; b++)
					if ((j >= i || b >= pend[j]->nout) && (j != i || b != a) &&
					    overlaps(&c->buf[a], &pend[j]->buf[b]))
						exact = false;
	}
	if (!exact)
		return;
	/* plugged blocks get a pattern to keep */
	for (unsigned int b = 0; b < NB; b++)
		if (model[b])
			memset(region + b * BS, 0x40 + (int)b, BS);
	/* the model answers the chains in order and ends where the device
	 * should */
	for (unsigned int i = 0; i < n; i++) {
		const struct fvq_chain *c = pend[i];
		unsigned int slot = (unsigned int)(c - f->ch[q]);
		uint8_t req[24] = { 0 };
		size_t got = fvq_readable(f, c, req, sizeof(req));

		memset(exp_resp[slot], 0, 10);
		exp_len[slot] = c->writable < 10 ? 0 : 10;
		if (!exp_len[slot])
			continue;
		if (got == 24)
			model_request(req, exp_resp[slot]);
		else
			exp_resp[slot][0] = CVMM_VIRTIO_MEM_RESP_ERROR;
	}
}

static void used(struct fvq *f, const struct fvq_chain *c, uint32_t len)
{
	unsigned int slot = (unsigned int)(c - f->ch[c->q]);
	uint8_t resp[10] = { 0 };
	size_t n = 0;

	if (!exact)
		return;
	if (len != exp_len[slot])
		abort(); /* answered without room, or not answered with room */
	for (unsigned int k = c->nout; k < c->nout + c->nin && n < len; k++) {
		const uint8_t *p = fvq_host(f, c->buf[k].gpa, c->buf[k].len);
		size_t m = c->buf[k].len < len - n ? c->buf[k].len : len - n;

		if (!p)
			continue; /* (zero bytes outside RAM) */
		memcpy(resp + n, p, m);
		n += m;
	}
	if (memcmp(resp, exp_resp[slot], len))
		abort(); /* not the answer the rules give */
}

static void after_kick(struct fvq *f, unsigned int q)
{
	bool dev[NB];

	(void)q;
	if (fvq_needs_reset(f) || f->lied || !exact) {
		device_bitmap(model); /* take the device's word for it from here */
		return;
	}
	if (fvq_in_flight(f, 0))
		abort(); /* a request was not answered */
	device_bitmap(dev);
	if (memcmp(dev, model, sizeof(dev)))
		abort(); /* the device plugged or unplugged other blocks */
	for (unsigned int b = 0; b < NB; b++) {
		const uint8_t *p = region + b * BS;

		if (before[b] && !released[b] && (p[0] != 0x40 + b || p[BS - 1] != 0x40 + b))
			abort(); /* a plugged block lost its bytes */
		if (released[b] && (p[0] || memcmp(p, p + 1, BS - 1)))
			abort(); /* an unplugged block still holds its bytes */
	}
}

static void dev_op(struct fvq *f)
{
	uint8_t blocks = fvq_u8(f), odd = fvq_u8(f);
	uint64_t bytes = (uint64_t)(blocks % (NB + 2)) * BS + (odd == 0xff ? 1 : 0);

	if (cvmm_virtio_mem_set_requested(M, bytes) == 0)
		requested = bytes;
	else if (bytes <= NB * BS && bytes % BS == 0)
		abort(); /* a valid size refused */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct fvq_hooks h = { dev_op, used, before_kick, after_kick };
	struct cvmm_virtio_mem_opts o = { .sz = sizeof(o), .addr = BASE, .region_size = NB * BS,
					  .block_size = BS, .requested_size = 16 * BS,
					  .queue_size = 64 };
	struct cvmm_mem_region_opts ro = {
		.sz = sizeof(ro), .gpa = BASE, .size = NB * BS, .backing = CVMM_MEM_ANON,
		.flags = CVMM_MEM_F_GUARD, .fd = -1,
	};
	uint64_t len = NB * BS;

	if (!F.mem) {
		fvq_setup(&F, &ro);
		region = cvmm_guest_mem_translate(F.mem, BASE, &len);
		if (!region || len != NB * BS)
			abort();
	}
	if (!size)
		return 0;
	if (cvmm_virtio_mem_create(&o, &M))
		abort();
	memset(model, 0, sizeof(model));
	memset(region, 0, NB * BS);
	requested = o.requested_size;
	F.in = data;
	F.left = size;
	if (!fvq_start(&F, cvmm_virtio_mem_device(M), 1, 0, 0x5a))
		abort();
	fvq_run(&F, &h);
	device_bitmap(model);
	fvq_stop(&F);
	cvmm_virtio_mem_destroy(M);
	return 0;
}
