/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: what a guest sends virtio-iommu on its request queue
 * (ATTACH, DETACH, MAP, UNMAP, PROBE with hostile lengths, domains, ranges,
 * flags, overlapping maps, chains that lie) and its event queue, through
 * the real virtio-mmio transport and virtqueues in a fuzz-owned guest
 * memory (fuzz-vq.h has the harness and the input format). Three
 * endpoints sit behind it (0x08, 0x10, 0x18), as PCI functions would.
 *
 * Invariants, per KICK of the request queue whose chains did not lie and
 * left the queue whole:
 *  - every request comes back; used length = all its writable bytes (at
 *    least the 4-byte tail) or 0 when it has no room for a tail; the tail
 *    holds a status the specification defines and zero reserved bytes; a
 *    PROBE answered OK names a known endpoint and carries the reserved MSI
 *    region;
 * and after every KICK:
 *  - the tables save, restore into a fresh IOMMU with the same endpoints
 *    (the hostile-state validator takes them: sorted, aligned, not
 *    overlapping, within limits) and save back to the same bytes;
 *  - the counts (domains, mappings) match the saved tables;
 *  - translation agrees with the saved tables: each mapping's first and
 *    last byte translate to its physical range for an endpoint attached
 *    to its domain (and only with the permissions it has), the byte after
 *    it does not unless another mapping covers it; an endpoint attached to
 *    nothing reaches nothing.
 * Always: nothing outside guest memory is touched (guard pages, ASan).
 */
#include <cvmm/virtio-devices/iommu.h>

#include <stdlib.h>
#include <string.h>

#include "fuzz-vq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fvq F;
static struct cvmm_iommu *IO;
static const uint32_t EPS[] = { 0x08, 0x10, 0x18 };

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static struct cvmm_iommu *fresh(void)
{
	struct cvmm_iommu_opts o = { .sz = sizeof(o), .queue_size = 64 };
	const struct cvmm_dma_xlate *x;
	struct cvmm_iommu *io;

	if (cvmm_iommu_create(&o, &io))
		abort();
	for (unsigned int i = 0; i < 3; i++)
		if (cvmm_iommu_endpoint_add(io, EPS[i], &x))
			abort();
	return io;
}

/* Is [iova] inside a mapping of the domain at @d (state bytes)? */
static bool covered(const uint8_t *d, uint64_t iova)
{
	uint32_t n = le32(d + 4);

	for (uint32_t k = 0; k < n; k++) {
		const uint8_t *m = d + 8 + 28 * k;

		if (iova >= le64(m) && iova <= le64(m + 8))
			return true;
	}
	return false;
}

static void check_translation(const uint8_t *st, size_t len)
{
	uint32_t nep = le32(st + 8), ndom = le32(st + 12);
	const uint8_t *dom0 = st + 16 + 8 * (size_t)nep;
	struct cvmm_iommu_stats stats;
	uint32_t maps = 0;
	uint64_t gpa;

	if (nep != 3)
		abort();
	for (uint32_t e = 0; e < nep; e++) {
		uint32_t ep = le32(st + 16 + 8 * e), dom = le32(st + 20 + 8 * e);
		const uint8_t *d = dom0, *found = NULL;

		for (uint32_t i = 0; i < ndom; i++) {
			if (le32(d) == dom)
				found = d;
			d += 8 + 28 * (size_t)le32(d + 4);
		}
		if (d != st + len)
			abort(); /* the saved lengths do not add up */
		if (!found) {
			if (dom != 0xffffffffu)
				abort(); /* attached to a domain that is not there */
			if (!cvmm_iommu_translate(IO, ep, 0, 1, CVMM_DMA_READ, &gpa) ||
			    !cvmm_iommu_translate(IO, ep, 0x100000, 1, CVMM_DMA_WRITE, &gpa))
				abort(); /* reaches memory without a domain */
			continue;
		}
		for (uint32_t k = 0; k < le32(found + 4) && k < 64; k++) {
			const uint8_t *m = found + 8 + 28 * k;
			uint64_t s = le64(m), end = le64(m + 8), phys = le64(m + 16);
			uint32_t perm = le32(m + 24);
			unsigned int acc = perm & CVMM_VIRTIO_IOMMU_MAP_F_READ ? CVMM_DMA_READ :
										  CVMM_DMA_WRITE;

			if ((cvmm_iommu_translate(IO, ep, s, 1, acc, &gpa) == 0) != !!(perm & 3) ||
			    ((perm & 3) && gpa != phys))
				abort(); /* the first byte does not go where the map says */
			if ((perm & 3) && (cvmm_iommu_translate(IO, ep, end, 1, acc, &gpa) ||
					   gpa != phys + (end - s)))
				abort(); /* nor the last */
			if (!(perm & CVMM_VIRTIO_IOMMU_MAP_F_WRITE) &&
			    !cvmm_iommu_translate(IO, ep, s, 1, CVMM_DMA_WRITE, &gpa))
				abort(); /* a write through a read-only mapping */
			if (end != ~0ull && !covered(found, end + 1) &&
			    !cvmm_iommu_translate(IO, ep, end + 1, 1, CVMM_DMA_READ, &gpa))
				abort(); /* the byte after the mapping translates */
		}
	}
	for (uint32_t i = 0, off = 0; i < ndom; i++) {
		const uint8_t *d = dom0 + off;

		maps += le32(d + 4);
		off += 8 + 28 * le32(d + 4);
	}
	cvmm_iommu_get_stats(IO, &stats);
	if (stats.domains != ndom || stats.mappings != maps)
		abort();
}

static void after_kick(struct fvq *f, unsigned int q)
{
	static uint8_t st[1 << 20], back[1 << 20];
	struct cvmm_iommu *io2;
	int n = cvmm_iommu_state_save(IO, st, sizeof(st)), m;

	if (n < 16)
		abort();
	if (q == 0 && !f->lied && !fvq_needs_reset(f) && fvq_in_flight(f, 0))
		abort(); /* a request not answered */
	io2 = fresh();
	if (cvmm_iommu_state_restore(io2, st, (size_t)n))
		abort(); /* the device made tables its own validator refuses */
	m = cvmm_iommu_state_save(io2, back, sizeof(back));
	if (m != n || memcmp(st, back, (size_t)n))
		abort();
	cvmm_iommu_destroy(io2);
	check_translation(st, (size_t)n);
}

static bool overlaps(const struct cvmm_virtq_buf *a, const struct cvmm_virtq_buf *b)
{
	return a->len && b->len && a->gpa < b->gpa + b->len && b->gpa < a->gpa + a->len;
}

/* Answers that land on each other's buffers (or on requests) leave
 * nothing to read back at reap time: the batch is checked for lengths
 * only then. */
static bool clobber;

static void before_kick(struct fvq *f, unsigned int q)
{
	const struct fvq_chain *pend[FVQ_QSIZE];
	unsigned int n = fvq_pending(f, q, pend);

	clobber = false;
	for (unsigned int i = 0; i < n; i++)
		for (unsigned int a = pend[i]->nout; a < pend[i]->nout + pend[i]->nin; a++) {
			if (!fvq_host(f, pend[i]->buf[a].gpa, pend[i]->buf[a].len))
				clobber = true;
			for (unsigned int j = 0; j < n; j++)
				for (unsigned int b = 0; b < pend[j]->nout + pend[j]->nin; b++)
					if ((i != j || a != b) &&
					    overlaps(&pend[i]->buf[a], &pend[j]->buf[b]))
						clobber = true;
		}
}

static void used(struct fvq *f, const struct fvq_chain *c, uint32_t len)
{
	static uint8_t w[FVQ_MAXBUF * 65536];
	uint8_t req[8] = { 0 };
	const uint8_t *tail;
	size_t n = 0;

	if (c->q != 0)
		abort(); /* the device never uses an event buffer */
	if (c->writable < 4) {
		if (len)
			abort(); /* nowhere to answer, yet an answer */
		return;
	}
	if (len != c->writable)
		abort(); /* every writable byte is written (properties, zeros, tail) */
	if (clobber)
		return;
	for (unsigned int k = c->nout; k < c->nout + c->nin; k++) {
		memcpy(w + n, fvq_host(f, c->buf[k].gpa, c->buf[k].len), c->buf[k].len);
		n += c->buf[k].len;
	}
	tail = w + n - 4;
	if (tail[0] > CVMM_VIRTIO_IOMMU_S_NOMEM || tail[0] == CVMM_VIRTIO_IOMMU_S_IOERR ||
	    tail[0] == CVMM_VIRTIO_IOMMU_S_DEVERR || tail[0] == CVMM_VIRTIO_IOMMU_S_FAULT ||
	    tail[1] || tail[2] || tail[3])
		abort(); /* a status the device has no reason to give */
	if (tail[0] == CVMM_VIRTIO_IOMMU_S_OK &&
	    fvq_readable(f, c, req, sizeof(req)) == sizeof(req) &&
	    req[0] == CVMM_VIRTIO_IOMMU_T_PROBE) {
		uint32_t ep = le32(req + 4);

		if (ep != 0x08 && ep != 0x10 && ep != 0x18)
			abort(); /* probed an endpoint that is not there */
		if (n < CVMM_IOMMU_PROBE_SIZE + 4 || w[0] != CVMM_VIRTIO_IOMMU_PROBE_T_RESV_MEM ||
		    w[2] != 20 || w[4] != CVMM_VIRTIO_IOMMU_RESV_MEM_T_MSI ||
		    le64(w + 8) != 0xfee00000ull || le64(w + 16) != 0xfeefffffull)
			abort(); /* not the reserved MSI region */
	}
}

static void dev_op(struct fvq *f)
{
	/* the host side's own table operations, as a program may use them */
	uint8_t k = fvq_u8(f);
	uint32_t dom = fvq_u8(f) & 7, ep = EPS[fvq_u8(f) % 3];
	uint64_t a = (uint64_t)fvq_u16(f) << 12, b = a + ((uint64_t)fvq_u16(f) << 12) - 1;

	switch (k & 3) {
	case 0: (void)cvmm_iommu_attach(IO, dom, ep); break;
	case 1: (void)cvmm_iommu_map(IO, dom, a, b, 0x20000, k >> 2 & 3); break;
	case 2: (void)cvmm_iommu_unmap(IO, dom, a, b); break;
	default: (void)cvmm_iommu_detach(IO, dom, ep); break;
	}
	(void)f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct fvq_hooks h = { dev_op, used, before_kick, after_kick };

	if (!F.mem)
		fvq_setup(&F, NULL);
	if (!size)
		return 0;
	IO = fresh();
	F.in = data;
	F.left = size;
	if (!fvq_start(&F, cvmm_iommu_device(IO), 2,
		       CVMM_VIRTIO_IOMMU_F_INPUT_RANGE | CVMM_VIRTIO_IOMMU_F_DOMAIN_RANGE |
			       CVMM_VIRTIO_IOMMU_F_MAP_UNMAP | CVMM_VIRTIO_IOMMU_F_PROBE, 0))
		abort();
	fvq_run(&F, &h);
	after_kick(&F, 1);
	fvq_stop(&F);
	cvmm_iommu_destroy(IO);
	return 0;
}
