/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-iommu: the mapping table (overlapping maps, partial unmaps per
 * the specification, huge ranges, unknown domains and endpoints, joined
 * and split translations, permissions), its state save/restore with
 * hostile images, hostile requests on the request queue (truncated,
 * unknown, no room for the status, PROBE), and a queue behind the IOMMU:
 * map, DMA, unmap, DMA again refused with nothing touched; a ring unmapped
 * under a live queue breaks it.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/iommu.h>
#include <cvmm/virtio-queue/driver.h>

#include "cvmm-test.h"
#include "vd-fixture.h"

#define PG 4096ull
#define RD CVMM_VIRTIO_IOMMU_MAP_F_READ
#define WR CVMM_VIRTIO_IOMMU_MAP_F_WRITE

static struct cvmm_iommu *new_iommu(void)
{
	struct cvmm_iommu_opts o = { .sz = sizeof(o) };
	struct cvmm_iommu *io;

	ck_assert_int_eq(cvmm_iommu_create(&o, &io), 0);
	return io;
}

START_TEST(table_basics)
{
	struct cvmm_iommu *io = new_iommu();
	const struct cvmm_dma_xlate *x, *x2;
	struct cvmm_iommu_stats st;
	uint64_t gpa;

	ck_assert_int_eq(cvmm_iommu_endpoint_add(io, 0x08, &x), 0);
	ck_assert_int_eq(cvmm_iommu_endpoint_add(io, 0x08, &x2), -EEXIST);
	ck_assert_int_eq(cvmm_iommu_endpoint_add(io, 0x10, &x2), 0);
	/* attached to nothing: reaches nothing (no bypass) */
	ck_assert_int_eq(x->translate(x->opaque, 0, 1, CVMM_DMA_READ, &gpa, NULL), -EFAULT);
	/* unknown endpoint, domain out of range, unknown domain */
	ck_assert_int_eq(cvmm_iommu_attach(io, 1, 0x99), -ENOENT);
	ck_assert_int_eq(cvmm_iommu_attach(io, CVMM_IOMMU_MAX_DOMAIN_ID + 1, 0x08), -ERANGE);
	ck_assert_int_eq(cvmm_iommu_map(io, 7, 0, PG - 1, 0, RD), -ENOENT);
	ck_assert_int_eq(cvmm_iommu_unmap(io, 7, 0, PG - 1), -ENOENT);
	ck_assert_int_eq(cvmm_iommu_detach(io, 7, 0x08), -EINVAL);
	ck_assert_int_eq(cvmm_iommu_detach(io, 7, 0x99), -ENOENT);

	ck_assert_int_eq(cvmm_iommu_attach(io, 1, 0x08), 0);
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0x10000, 0x11fff, 0x200000, RD | WR), 0);
	ck_assert_int_eq(x->translate(x->opaque, 0x10010, 16, CVMM_DMA_WRITE, &gpa, NULL), 0);
	ck_assert_uint_eq(gpa, 0x200010);
	/* the other endpoint is in no domain */
	ck_assert_int_eq(x2->translate(x2->opaque, 0x10010, 16, CVMM_DMA_READ, &gpa, NULL), -EFAULT);
	/* past the end, before the start, straddling the end */
	ck_assert_int_eq(x->translate(x->opaque, 0x12000, 1, CVMM_DMA_READ, &gpa, NULL), -EFAULT);
	ck_assert_int_eq(x->translate(x->opaque, 0xffff, 2, CVMM_DMA_READ, &gpa, NULL), -EFAULT);
	ck_assert_int_eq(x->translate(x->opaque, 0x11fff, 2, CVMM_DMA_READ, &gpa, NULL), -EFAULT);
	/* wrapping ranges */
	ck_assert_int_eq(x->translate(x->opaque, ~0ull, 2, CVMM_DMA_READ, &gpa, NULL), -EFAULT);

	/* overlaps, in every position */
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0x10000, 0x10fff, 0x300000, RD), -EINVAL);
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0xf000, 0x10fff, 0x300000, RD), -EINVAL);
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0x11000, 0x12fff, 0x300000, RD), -EINVAL);
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0x0, 0xfffff, 0x300000, RD), -EINVAL);
	/* malformed: end before start, unaligned, MMIO or unknown flags, phys wraps */
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0x20000, 0x1ffff, 0, RD), -EINVAL);
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0x20001, 0x20fff, 0, RD), -EINVAL);
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0x20000, 0x20ffe, 0, RD), -EINVAL);
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0x20000, 0x20fff, 0x123, RD), -EINVAL);
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0x20000, 0x20fff, 0, CVMM_VIRTIO_IOMMU_MAP_F_MMIO), -EINVAL);
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0x20000, 0x20fff, 0, 0x80), -EINVAL);
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0x20000, 0x21fff, ~0ull & ~(PG - 1), RD), -EINVAL);

	/* permissions: read-only and write-only */
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0x20000, 0x20fff, 0x400000, RD), 0);
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0x30000, 0x30fff, 0x500000, WR), 0);
	ck_assert_int_eq(x->translate(x->opaque, 0x20000, 8, CVMM_DMA_WRITE, &gpa, NULL), -EACCES);
	ck_assert_int_eq(x->translate(x->opaque, 0x30000, 8, CVMM_DMA_READ, &gpa, NULL), -EACCES);
	ck_assert_int_eq(x->translate(x->opaque, 0x30000, 8, CVMM_DMA_WRITE, &gpa, NULL), 0);

	/* adjacent mappings contiguous in guest memory join; others do not */
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0x12000, 0x12fff, 0x202000, RD | WR), 0);
	ck_assert_int_eq(x->translate(x->opaque, 0x11ff0, 0x20, CVMM_DMA_READ, &gpa, NULL), 0);
	ck_assert_uint_eq(gpa, 0x201ff0);
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0x13000, 0x13fff, 0x900000, RD | WR), 0);
	ck_assert_int_eq(x->translate(x->opaque, 0x12ff0, 0x20, CVMM_DMA_READ, &gpa, NULL), -ERANGE);

	/* partial unmaps would split: nothing removed (5.13.6.6) */
	ck_assert_int_eq(cvmm_iommu_unmap(io, 1, 0x10000, 0x10fff), -ERANGE);
	ck_assert_int_eq(cvmm_iommu_unmap(io, 1, 0x11000, 0x12fff), -ERANGE);
	ck_assert_int_eq(x->translate(x->opaque, 0x10000, 0x3000, CVMM_DMA_READ, &gpa, NULL), 0);
	/* a range holding nothing; one covering several */
	ck_assert_int_eq(cvmm_iommu_unmap(io, 1, 0x50000, 0x5ffff), 0);
	ck_assert_int_eq(cvmm_iommu_unmap(io, 1, 0x20000, 0x20000), -ERANGE);
	cvmm_iommu_get_stats(io, &st);
	ck_assert_uint_eq(st.mappings, 5);
	ck_assert_int_eq(cvmm_iommu_unmap(io, 1, 0x10000, 0x12fff), 0);
	ck_assert_int_eq(x->translate(x->opaque, 0x10000, 1, CVMM_DMA_READ, &gpa, NULL), -EFAULT);
	ck_assert_int_eq(x->translate(x->opaque, 0x13000, 1, CVMM_DMA_READ, &gpa, NULL), 0);
	ck_assert_int_eq(cvmm_iommu_unmap(io, 1, 0x20000, 0x20fff), 0);
	ck_assert_int_eq(cvmm_iommu_unmap(io, 1, 0, ~0ull), 0);
	cvmm_iommu_get_stats(io, &st);
	ck_assert_uint_eq(st.mappings, 0);

	/* the whole 64-bit space at once, and its last byte */
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0, ~0ull, 0, RD), 0);
	ck_assert_int_eq(x->translate(x->opaque, ~0ull, 1, CVMM_DMA_READ, &gpa, NULL), 0);
	ck_assert_uint_eq(gpa, ~0ull);
	ck_assert_int_eq(cvmm_iommu_map(io, 1, 0x1000, 0x1fff, 0, RD), -EINVAL);
	ck_assert_int_eq(cvmm_iommu_unmap(io, 1, 1, ~0ull), -ERANGE);

	/* moving to another domain; the last endpoint out takes the domain */
	ck_assert_int_eq(cvmm_iommu_attach(io, 2, 0x08), 0);
	ck_assert_int_eq(x->translate(x->opaque, 0, 1, CVMM_DMA_READ, &gpa, NULL), -EFAULT);
	cvmm_iommu_get_stats(io, &st);
	ck_assert_uint_eq(st.domains, 1);
	ck_assert_uint_eq(st.mappings, 0);
	ck_assert_int_eq(cvmm_iommu_attach(io, 2, 0x10), 0);
	ck_assert_int_eq(cvmm_iommu_map(io, 2, 0, PG - 1, 0x1000, RD), 0);
	ck_assert_int_eq(x2->translate(x2->opaque, 0, 1, CVMM_DMA_READ, &gpa, NULL), 0);
	ck_assert_int_eq(cvmm_iommu_detach(io, 2, 0x08), 0);
	ck_assert_int_eq(x2->translate(x2->opaque, 0, 1, CVMM_DMA_READ, &gpa, NULL), 0);
	ck_assert_int_eq(cvmm_iommu_detach(io, 2, 0x10), 0);
	cvmm_iommu_get_stats(io, &st);
	ck_assert_uint_eq(st.domains, 0);
	ck_assert_int_eq(cvmm_iommu_map(io, 2, 0, PG - 1, 0x1000, RD), -ENOENT);
	cvmm_iommu_destroy(io);
	cvmm_iommu_destroy(NULL);
}
END_TEST

START_TEST(table_limits)
{
	struct cvmm_iommu *io = new_iommu();
	const struct cvmm_dma_xlate *x;
	uint64_t gpa;
	uint32_t i;
	int r = 0;

	for (i = 0; i < CVMM_IOMMU_MAX_ENDPOINTS; i++)
		ck_assert_int_eq(cvmm_iommu_endpoint_add(io, i, &x), 0);
	ck_assert_int_eq(cvmm_iommu_endpoint_add(io, i, &x), -ENOSPC);
	/* every endpoint in its own domain, then all moved around */
	for (i = 0; i < CVMM_IOMMU_MAX_ENDPOINTS; i++)
		ck_assert_int_eq(cvmm_iommu_attach(io, 1000 + i, i), 0);
	for (i = 0; i < CVMM_IOMMU_MAX_ENDPOINTS; i++)
		ck_assert_int_eq(cvmm_iommu_attach(io, 5000 + i, i), 0);
	/* 4096 mappings in reverse order (each insert at the front: the
	 * worst case of the sorted array), then ascending up to the limit
	 * (the whole limit in reverse takes about a second, minutes under
	 * ASan) */
	for (i = 0; i < 4096 && !r; i++)
		r = cvmm_iommu_map(io, 5000, (uint64_t)(4096 - i) * 2 * PG,
				   (uint64_t)(4096 - i) * 2 * PG + PG - 1, (uint64_t)i * PG, RD);
	for (; i <= CVMM_IOMMU_MAX_MAPPINGS && !r; i++)
		r = cvmm_iommu_map(io, 5000, (uint64_t)(i + 1) * 2 * PG,
				   (uint64_t)(i + 1) * 2 * PG + PG - 1, (uint64_t)i * PG, RD);
	ck_assert_int_eq(r, -ENOMEM);
	ck_assert_uint_eq(i, CVMM_IOMMU_MAX_MAPPINGS + 1);
	ck_assert_int_eq(cvmm_iommu_translate(io, 0, 2 * PG * 77 + 5, 1, CVMM_DMA_READ, &gpa), 0);
	ck_assert_uint_eq(gpa, (uint64_t)(4096 - 77) * PG + 5);
	ck_assert_int_eq(cvmm_iommu_translate(io, 0, 2 * PG * 5000 + 5, 1, CVMM_DMA_READ, &gpa), 0);
	ck_assert_uint_eq(gpa, 4999 * PG + 5);
	ck_assert_int_eq(cvmm_iommu_translate(io, 0, 2 * PG * 77 + PG, 1, CVMM_DMA_READ, &gpa),
			 -EFAULT);
	ck_assert_int_eq(cvmm_iommu_translate(io, 999, 0, 1, CVMM_DMA_READ, &gpa), -ENOENT);
	cvmm_iommu_clear(io);
	ck_assert_int_eq(cvmm_iommu_translate(io, 0, 2 * PG * 77, 1, CVMM_DMA_READ, &gpa), -EFAULT);
	cvmm_iommu_destroy(io);
}
END_TEST

START_TEST(state_roundtrip_and_hostile)
{
	struct cvmm_iommu *a = new_iommu(), *b = new_iommu();
	const struct cvmm_dma_xlate *x;
	uint8_t *buf, *bad;
	uint64_t gpa;
	int n;

	for (uint32_t e = 8; e < 24; e += 8) {
		ck_assert_int_eq(cvmm_iommu_endpoint_add(a, e, &x), 0);
		ck_assert_int_eq(cvmm_iommu_endpoint_add(b, e, &x), 0);
	}
	ck_assert_int_eq(cvmm_iommu_attach(a, 3, 8), 0);
	ck_assert_int_eq(cvmm_iommu_map(a, 3, 0x10000, 0x1ffff, 0x400000, RD | WR), 0);
	ck_assert_int_eq(cvmm_iommu_map(a, 3, 0x40000, 0x40fff, 0x800000, RD), 0);
	n = cvmm_iommu_state_save(a, NULL, 0);
	ck_assert_int_gt(n, 0);
	buf = malloc((size_t)n);
	ck_assert_int_eq(cvmm_iommu_state_save(a, buf, (size_t)n - 1), -ENOSPC);
	ck_assert_int_eq(cvmm_iommu_state_save(a, buf, (size_t)n), n);
	ck_assert_int_eq(cvmm_iommu_state_restore(b, buf, (size_t)n), 0);
	ck_assert_int_eq(x->translate(x->opaque, 0x10008, 8, CVMM_DMA_READ, &gpa, NULL), -EFAULT);
	ck_assert_int_eq(cvmm_iommu_translate(b, 8, 0x10008, 8, CVMM_DMA_WRITE, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x400008);
	ck_assert_int_eq(cvmm_iommu_translate(b, 8, 0x40000, 8, CVMM_DMA_WRITE, &gpa), -EACCES);

	/* truncated at every length, and single corrupted fields */
	for (int len = 0; len < n; len++)
		ck_assert_int_eq(cvmm_iommu_state_restore(b, buf, (size_t)len), -EINVAL);
	bad = malloc((size_t)n);
	for (int off = 0; off < n; off++) {
		int r;

		memcpy(bad, buf, (size_t)n);
		bad[off] ^= 0x01;
		r = cvmm_iommu_state_restore(b, bad, (size_t)n);
		/* a flipped low bit of a phys or id may still be valid;
		 * whatever was accepted translates without crashing */
		ck_assert(r == 0 || r == -EINVAL);
	}
	/* overlapping mappings in an image: refused, tables unchanged */
	memcpy(bad, buf, (size_t)n);
	ck_assert_int_eq(cvmm_iommu_state_restore(b, buf, (size_t)n), 0);
	/* second map's start (after 16 + 2*8 + 8 + 28 bytes) into the first */
	bad[16 + 16 + 8 + 28 + 2] = 0x01;	/* start 0x10000 */
	bad[16 + 16 + 8 + 28 + 1] = 0x00;
	ck_assert_int_eq(cvmm_iommu_state_restore(b, bad, (size_t)n), -EINVAL);
	ck_assert_int_eq(cvmm_iommu_translate(b, 8, 0x40000, 8, CVMM_DMA_READ, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x800000);
	free(bad);
	free(buf);
	cvmm_iommu_destroy(a);
	cvmm_iommu_destroy(b);
}
END_TEST

/* ---- the request queue ---------------------------------------------- */

static struct vdf F;
static struct cvmm_iommu *IO;

static void rq_setup(void)
{
	const struct cvmm_dma_xlate *x;

	vdf_init(&F, 0);
	IO = new_iommu();
	ck_assert_int_eq(cvmm_iommu_endpoint_add(IO, 0x18, &x), 0);
	vdf_attach(&F, cvmm_iommu_device(IO));
	vdf_start(&F);
	vdf_bring_up(&F, CVMM_VIRTIO_IOMMU_F_MAP_UNMAP | CVMM_VIRTIO_IOMMU_F_PROBE, 2, 64);
}

static void rq_teardown(void)
{
	vdf_detach(&F);
	cvmm_iommu_destroy(IO);
	vdf_fini(&F);
}

/* Send @len request bytes and @wlen writable bytes; @return used length,
 * the status (the last writable byte's first) in *@st. */
static uint32_t req(const void *body, uint32_t len, uint32_t wlen, uint8_t *st)
{
	uint64_t a = vdf_alloc(&F, len ? len : 1, 8), w = vdf_alloc(&F, wlen ? wlen : 1, 8), tok;
	struct cvmm_virtq_buf out = { a, len }, in = { w, wlen };
	uint32_t used;

	memcpy(vdf_host(&F, a), body, len);
	memset(vdf_host(&F, w), 0xee, wlen);
	ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], len ? &out : NULL, len ? 1 : 0,
					       wlen ? &in : NULL, wlen ? 1 : 0, false, a), 0);
	vdf_kick(&F, 0);
	ck_assert_int_eq(vdf_wait_used(&F, 0, &tok, &used, 5000), 1);
	ck_assert_uint_eq(tok, a);
	if (st && wlen >= 4)
		*st = *vdf_host(&F, w + wlen - 4);
	return used;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

START_TEST(requests)
{
	uint8_t r[80] = { 0 }, st = 0xff;
	struct cvmm_iommu_stats s;
	uint64_t gpa, w;

	/* config: page_size_mask, domain range, probe_size */
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG), 0xfffff000u);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG + 28), CVMM_IOMMU_MAX_DOMAIN_ID);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_CONFIG + 32), CVMM_IOMMU_PROBE_SIZE);

	/* ATTACH endpoint 0x18 to domain 5 */
	r[0] = CVMM_VIRTIO_IOMMU_T_ATTACH;
	put32(r + 4, 5);
	put32(r + 8, 0x18);
	ck_assert_uint_eq(req(r, 20, 4, &st), 4);
	ck_assert_uint_eq(st, CVMM_VIRTIO_IOMMU_S_OK);
	/* unknown endpoint; flags set */
	put32(r + 8, 0x99);
	req(r, 20, 4, &st);
	ck_assert_uint_eq(st, CVMM_VIRTIO_IOMMU_S_NOENT);
	put32(r + 8, 0x18);
	put32(r + 12, 1);
	req(r, 20, 4, &st);
	ck_assert_uint_eq(st, CVMM_VIRTIO_IOMMU_S_INVAL);
	put32(r + 12, 0);
	/* truncated: 19 bytes of 20; only the head; nothing readable */
	req(r, 19, 4, &st);
	ck_assert_uint_eq(st, CVMM_VIRTIO_IOMMU_S_INVAL);
	req(r, 4, 4, &st);
	ck_assert_uint_eq(st, CVMM_VIRTIO_IOMMU_S_INVAL);
	req(r, 0, 4, &st);
	ck_assert_uint_eq(st, CVMM_VIRTIO_IOMMU_S_INVAL);
	/* no room for the status: nothing written, used length 0 */
	ck_assert_uint_eq(req(r, 20, 3, NULL), 0);
	ck_assert_uint_eq(req(r, 20, 0, NULL), 0);
	/* unknown type */
	r[0] = 77;
	req(r, 20, 4, &st);
	ck_assert_uint_eq(st, CVMM_VIRTIO_IOMMU_S_UNSUPP);

	/* MAP, overlapping MAP, MAP into an unknown domain */
	memset(r, 0, sizeof(r));
	r[0] = CVMM_VIRTIO_IOMMU_T_MAP;
	put32(r + 4, 5);
	put64(r + 8, 0x100000);
	put64(r + 16, 0x10ffff);
	put64(r + 24, 0x800000);
	put32(r + 32, RD | WR);
	req(r, 36, 4, &st);
	ck_assert_uint_eq(st, CVMM_VIRTIO_IOMMU_S_OK);
	req(r, 36, 4, &st);
	ck_assert_uint_eq(st, CVMM_VIRTIO_IOMMU_S_INVAL);
	put32(r + 4, 6);
	req(r, 36, 4, &st);
	ck_assert_uint_eq(st, CVMM_VIRTIO_IOMMU_S_NOENT);
	ck_assert_int_eq(cvmm_iommu_translate(IO, 0x18, 0x100100, 16, CVMM_DMA_WRITE, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x800100);

	/* UNMAP of half the mapping: RANGE, kept; of all of it: OK */
	memset(r, 0, sizeof(r));
	r[0] = CVMM_VIRTIO_IOMMU_T_UNMAP;
	put32(r + 4, 5);
	put64(r + 8, 0x100000);
	put64(r + 16, 0x107fff);
	req(r, 32, 4, &st);
	ck_assert_uint_eq(st, CVMM_VIRTIO_IOMMU_S_RANGE);
	put64(r + 16, 0x10ffff);
	req(r, 32, 4, &st);
	ck_assert_uint_eq(st, CVMM_VIRTIO_IOMMU_S_OK);
	ck_assert_int_eq(cvmm_iommu_translate(IO, 0x18, 0x100100, 16, CVMM_DMA_READ, &gpa),
			 -EFAULT);

	/* PROBE: a reserved MSI region, the tail after probe_size bytes */
	memset(r, 0, sizeof(r));
	r[0] = CVMM_VIRTIO_IOMMU_T_PROBE;
	put32(r + 4, 0x18);
	w = F.next_buf;
	ck_assert_uint_eq(req(r, 72, CVMM_IOMMU_PROBE_SIZE + 4, &st), CVMM_IOMMU_PROBE_SIZE + 4);
	ck_assert_uint_eq(st, CVMM_VIRTIO_IOMMU_S_OK);
	{
		/* the writable buffer follows the 72-byte request (8-aligned) */
		const uint8_t *p = vdf_host(&F, (w + 72 + 7) & ~7ull);
		uint64_t start, end;

		ck_assert_uint_eq(p[0], CVMM_VIRTIO_IOMMU_PROBE_T_RESV_MEM);
		ck_assert_uint_eq(p[2], 20);
		ck_assert_uint_eq(p[4], CVMM_VIRTIO_IOMMU_RESV_MEM_T_MSI);
		memcpy(&start, p + 8, 8);
		memcpy(&end, p + 16, 8);
		ck_assert_uint_eq(start, 0xfee00000u);
		ck_assert_uint_eq(end, 0xfeefffffu);
		ck_assert_uint_eq(p[24], 0);
	}
	/* PROBE without room for the properties; unknown endpoint */
	req(r, 72, 8, &st);
	ck_assert_uint_eq(st, CVMM_VIRTIO_IOMMU_S_INVAL);
	put32(r + 4, 0x19);
	req(r, 72, CVMM_IOMMU_PROBE_SIZE + 4, &st);
	ck_assert_uint_eq(st, CVMM_VIRTIO_IOMMU_S_NOENT);

	/* DETACH from the wrong domain, then the right one */
	memset(r, 0, sizeof(r));
	r[0] = CVMM_VIRTIO_IOMMU_T_DETACH;
	put32(r + 4, 6);
	put32(r + 8, 0x18);
	req(r, 20, 4, &st);
	ck_assert_uint_eq(st, CVMM_VIRTIO_IOMMU_S_INVAL);
	put32(r + 4, 5);
	req(r, 20, 4, &st);
	ck_assert_uint_eq(st, CVMM_VIRTIO_IOMMU_S_OK);
	cvmm_iommu_get_stats(IO, &s);
	ck_assert_uint_eq(s.domains, 0);
	ck_assert_uint_gt(s.requests_failed, 10);
	ck_assert_uint_eq(vdf_rd(&F, CVMM_VIRTIO_MMIO_STATUS) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
}
END_TEST

/* ---- a queue behind the IOMMU ---------------------------------------- */

#define IOVA_RING 0x7000000000ull	/* where the guest maps the rings */
#define IOVA_BUF 0x7100000000ull	/* ... and a buffer */
#define DOM 9u

/* A device-side queue behind endpoint 0x20 whose rings the guest mapped at
 * IOVA_RING; the driver helper writes the rings by guest physical address. */
struct behind {
	struct cvmm_guest_mem *mem;
	struct cvmm_iommu *io;
	const struct cvmm_dma_xlate *x;
	struct cvmm_virtq q;
	struct cvmm_virtq_driver *drv;
};

static void behind_up(struct behind *b, uint64_t feats)
{
	struct cvmm_mem_region_opts ro = {
		.sz = sizeof(ro), .gpa = 0, .size = 16 << 20, .backing = CVMM_MEM_ANON, .fd = -1,
	};
	struct cvmm_virtq_driver_opts d = {
		.sz = sizeof(d), .size = 16, .features = feats,
		.desc_gpa = 0x10000, .avail_gpa = 0x11000, .used_gpa = 0x12000,
		.indirect_gpa = 0x20000, .indirect_max = 4,
	};

	ck_assert_int_eq(cvmm_guest_mem_create(&b->mem), 0);
	ck_assert_int_eq(cvmm_guest_mem_add_region(b->mem, &ro), 0);
	b->io = new_iommu();
	ck_assert_int_eq(cvmm_iommu_endpoint_add(b->io, 0x20, &b->x), 0);
	ck_assert_int_eq(cvmm_iommu_attach(b->io, DOM, 0x20), 0);
	/* rings and indirect tables at IOVA_RING -> 0x10000.. */
	ck_assert_int_eq(cvmm_iommu_map(b->io, DOM, IOVA_RING, IOVA_RING + 0x2ffff, 0x10000,
					RD | WR), 0);
	/* the driver helper puts the indirect tables' guest physical
	 * addresses in descriptors: the guest maps them one to one */
	ck_assert_int_eq(cvmm_iommu_map(b->io, DOM, 0x20000, 0x2ffff, 0x20000, RD), 0);
	d.mem = b->mem;
	ck_assert_int_eq(cvmm_virtq_driver_create(&d, &b->drv), 0);
	ck_assert_int_eq(cvmm_virtq_init(&b->q, b->mem, 16), 0);
	cvmm_virtq_set_dma(&b->q, b->x);
	cvmm_virtq_set_size(&b->q, 16);
	cvmm_virtq_set_features(&b->q, feats);
	cvmm_virtq_set_addrs(&b->q, IOVA_RING, IOVA_RING + 0x1000, IOVA_RING + 0x2000);
	ck_assert_int_eq(cvmm_virtq_activate(&b->q), 0);
}

static void behind_down(struct behind *b)
{
	cvmm_virtq_driver_destroy(b->drv);
	cvmm_virtq_fini(&b->q);
	cvmm_iommu_destroy(b->io);
	cvmm_guest_mem_destroy(b->mem);
}

/* One "DMA": the device writes @n bytes of 0xab into the chain's writable
 * part. @return bytes written (0: refused), or <0 from pop. */
static int dma_write(struct behind *b, uint64_t iova, uint32_t n, bool indirect)
{
	struct cvmm_virtq_buf in = { iova, n };
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_rw w;
	uint8_t pat[256];
	uint64_t tok;
	uint32_t len;
	ssize_t got;
	int r;

	memset(pat, 0xab, sizeof(pat));
	ck_assert_int_eq(cvmm_virtq_driver_add(b->drv, NULL, 0, &in, 1, indirect, iova), 0);
	r = cvmm_virtq_pop(&b->q, &c);
	if (r < 0)
		return r;
	ck_assert_int_eq(r, 1);
	ck_assert_int_eq(cvmm_virtq_writer_init(&w, &c), 0);
	got = cvmm_virtq_writer_write(&w, pat, CVMM_MIN(n, (uint32_t)sizeof(pat)));
	ck_assert_int_ge(got, 0);
	ck_assert_int_eq(cvmm_virtq_push(&b->q, &c, (uint32_t)got), 0);
	ck_assert_int_eq(cvmm_virtq_driver_get_used(b->drv, &tok, &len), 1);
	ck_assert_uint_eq(tok, iova);
	ck_assert_uint_eq(len, (uint32_t)got);
	return (int)got;
}

static unsigned int count(const uint8_t *p, size_t n, uint8_t v)
{
	unsigned int c = 0;

	for (size_t i = 0; i < n; i++)
		c += p[i] == v;
	return c;
}

START_TEST(dma_map_unmap)
{
	struct behind b;
	uint8_t *host;
	uint64_t feats = _i ? CVMM_VIRTIO_F_RING_PACKED | CVMM_VIRTIO_F_INDIRECT_DESC
			    : CVMM_VIRTIO_F_INDIRECT_DESC;

	behind_up(&b, feats);
	host = cvmm_guest_mem_ptr(b.mem, 0x400000, 0x200000);
	ck_assert_ptr_nonnull(host);
	memset(host, 0, 0x200000);
	/* not mapped yet: refused, nothing written anywhere */
	ck_assert_int_eq(dma_write(&b, IOVA_BUF, 256, false), 0);
	ck_assert_uint_eq(b.q.dma_faults, 1);
	/* map one page at 0x500000: the DMA lands there */
	ck_assert_int_eq(cvmm_iommu_map(b.io, DOM, IOVA_BUF, IOVA_BUF + PG - 1, 0x500000, WR), 0);
	ck_assert_int_eq(dma_write(&b, IOVA_BUF + 16, 256, false), 256);
	ck_assert_uint_eq(count(host + 0x100000 + 16, 256, 0xab), 256);
	/* through an indirect table too */
	ck_assert_int_eq(dma_write(&b, IOVA_BUF + 512, 256, true), 256);
	ck_assert_uint_eq(count(host + 0x100000 + 512, 256, 0xab), 256);
	/* crossing the end of the mapping: refused as a whole */
	ck_assert_int_eq(dma_write(&b, IOVA_BUF + PG - 16, 32, false), 0);
	/* read-only mapping for a device write: refused */
	ck_assert_int_eq(cvmm_iommu_map(b.io, DOM, IOVA_BUF + 0x10000, IOVA_BUF + 0x10fff,
					0x580000, RD), 0);
	ck_assert_int_eq(dma_write(&b, IOVA_BUF + 0x10000, 64, false), 0);
	/* unmap, DMA again: refused, nothing written */
	memset(host, 0, 0x200000);
	ck_assert_int_eq(cvmm_iommu_unmap(b.io, DOM, IOVA_BUF, IOVA_BUF + PG - 1), 0);
	ck_assert_int_eq(dma_write(&b, IOVA_BUF + 16, 256, false), 0);
	ck_assert_int_eq(dma_write(&b, IOVA_BUF + 512, 256, true), 0);
	ck_assert_uint_eq(count(host, 0x200000, 0), 0x200000);
	ck_assert_uint_eq(b.q.dma_faults, 5);
	ck_assert(!cvmm_virtq_broken(&b.q));
	/* the queue still works once mapped again */
	ck_assert_int_eq(cvmm_iommu_map(b.io, DOM, IOVA_BUF, IOVA_BUF + PG - 1, 0x500000, WR), 0);
	ck_assert_int_eq(dma_write(&b, IOVA_BUF, 8, false), 8);
	/* the rings unmapped under the live queue: it breaks at the next pop,
	 * it never reads the old ring pages */
	ck_assert_int_eq(cvmm_iommu_unmap(b.io, DOM, IOVA_RING, IOVA_RING + 0x2ffff), 0);
	ck_assert_int_eq(dma_write(&b, IOVA_BUF, 8, false), -EFAULT);
	ck_assert(cvmm_virtq_broken(&b.q));
	behind_down(&b);
}
END_TEST

START_TEST(dma_detach_and_activate)
{
	struct behind b;

	behind_up(&b, 0);
	ck_assert_int_eq(cvmm_iommu_map(b.io, DOM, IOVA_BUF, IOVA_BUF + PG - 1, 0x500000, WR), 0);
	ck_assert_int_eq(dma_write(&b, IOVA_BUF, 8, false), 8);
	/* detached: nothing reaches through, the rings neither */
	ck_assert_int_eq(cvmm_iommu_detach(b.io, DOM, 0x20), 0);
	ck_assert_int_eq(dma_write(&b, IOVA_BUF, 8, false), -EFAULT);
	/* activation with rings the guest never mapped fails */
	cvmm_virtq_reset(&b.q);
	cvmm_virtq_set_size(&b.q, 16);
	cvmm_virtq_set_addrs(&b.q, IOVA_RING, IOVA_RING + 0x1000, IOVA_RING + 0x2000);
	ck_assert_int_eq(cvmm_virtq_activate(&b.q), -EFAULT);
	behind_down(&b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("virtio-iommu");
	TCase *t = tcase_create("table");
	TCase *q = tcase_create("requestq");
	TCase *d = tcase_create("dma");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, table_basics);
	tcase_add_test(t, table_limits);
	tcase_add_test(t, state_roundtrip_and_hostile);
	suite_add_tcase(s, t);
	tcase_set_timeout(q, 60);
	tcase_add_checked_fixture(q, rq_setup, rq_teardown);
	tcase_add_test(q, requests);
	suite_add_tcase(s, q);
	tcase_set_timeout(d, 60);
	tcase_add_loop_test(d, dma_map_unmap, 0, 2);
	tcase_add_test(d, dma_detach_and_activate);
	suite_add_tcase(s, d);
	return s;
}

int main(void)
{
	Suite *s[] = { suite(), NULL };

	return cvmm_test_run(s);
}
