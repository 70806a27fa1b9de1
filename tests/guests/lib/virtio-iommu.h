/* SPDX-License-Identifier: Apache-2.0 */
/* The virtio-iommu request format (virtio 1.2, 5.13) and a polled driver
 * for the guests that put a device behind it (virtio-iommu.c,
 * virtio-iommu-blk.c): requests, and a device's queue 0 at IOVAs. */
#ifndef GUEST_VIRTIO_IOMMU_H
#define GUEST_VIRTIO_IOMMU_H

#include "virtio.h"

#define VIRTIO_ID_IOMMU 23u
#define VIRTIO_F_ACCESS_PLATFORM (1ull << 33)
#define VIOMMU_F_MAP_UNMAP (1ull << 2)
#define VIOMMU_F_PROBE (1ull << 4)

#define VIOMMU_T_ATTACH 1
#define VIOMMU_T_MAP 3
#define VIOMMU_T_UNMAP 4
#define VIOMMU_T_PROBE 5
#define VIOMMU_S_OK 0
#define VIOMMU_S_UNSUPP 2
#define VIOMMU_S_INVAL 4
#define VIOMMU_S_RANGE 5
#define VIOMMU_S_NOENT 6

/* MAP flags */
#define VIOMMU_READ 1u
#define VIOMMU_WRITE 2u

struct viommu {
	struct virtio_dev dev;
	struct vq rq;
	uint8_t *req, *tail;    /* a request's bytes, its writable tail */
};

static inline void viommu_put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void viommu_put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/*
 * Find the virtio-iommu on PCI bus 0 (@window: the BAR window), negotiate
 * @features (MAP_UNMAP at least), set its request queue up.
 * @return 0; -1 (absent, features refused, queue).
 */
static inline int viommu_init(struct viommu *v, uint64_t window, uint64_t features)
{
	if (virtio_find_pci(VIRTIO_ID_IOMMU, 0, window, &v->dev) ||
	    virtio_init(&v->dev, features) || !(v->dev.features & VIOMMU_F_MAP_UNMAP) ||
	    vq_setup(&v->dev, 0, &v->rq))
		return -1;
	virtio_driver_ok(&v->dev);
	v->req = virtio_alloc(4096);
	v->tail = virtio_alloc(4096);
	return v->req && v->tail ? 0 : -1;
}

/* Send @len bytes of @v->req and @wlen writable bytes at @v->tail.
 * @return the status byte; -1 when the request never completed. */
static inline int viommu_request(struct viommu *v, uint32_t len, uint32_t wlen)
{
	struct vbuf b[2] = { { (uint64_t)v->req, len, false },
			     { (uint64_t)v->tail, wlen, true } };
	uint32_t id, used;

	memset(v->tail, 0xee, wlen);
	vq_submit(&v->rq, b, 2);
	if (vq_wait(&v->rq, &id, &used, VIRTIO_SPINS))
		return -1;
	return v->tail[wlen - 4];
}

static inline int viommu_attach(struct viommu *v, uint32_t domain, uint32_t ep)
{
	memset(v->req, 0, 64);
	v->req[0] = VIOMMU_T_ATTACH;
	viommu_put32(v->req + 4, domain);
	viommu_put32(v->req + 8, ep);
	return viommu_request(v, 20, 4);
}

static inline int viommu_map(struct viommu *v, uint32_t domain, uint64_t iova, uint64_t len,
			     uint64_t phys, uint32_t flags)
{
	memset(v->req, 0, 64);
	v->req[0] = VIOMMU_T_MAP;
	viommu_put32(v->req + 4, domain);
	viommu_put64(v->req + 8, iova);
	viommu_put64(v->req + 16, iova + len - 1);
	viommu_put64(v->req + 24, phys);
	viommu_put32(v->req + 32, flags);
	return viommu_request(v, 36, 4);
}

static inline int viommu_unmap(struct viommu *v, uint32_t domain, uint64_t iova, uint64_t len)
{
	memset(v->req, 0, 64);
	v->req[0] = VIOMMU_T_UNMAP;
	viommu_put32(v->req + 4, domain);
	viommu_put64(v->req + 8, iova);
	viommu_put64(v->req + 16, iova + len - 1);
	return viommu_request(v, 32, 4);
}

/*
 * Queue 0 of @d (behind the IOMMU, features negotiated) with its rings at
 * @iova, +0x1000 and +0x2000 in @domain: the rings allocated, mapped
 * (descriptors and driver area read-only for the device, used ring
 * read-write) and programmed as IOVAs. @return 0; -1 (a MAP refused).
 */
static inline int viommu_queue_at(struct viommu *v, uint32_t domain, struct virtio_dev *d,
				  struct vq *vq, uint64_t iova)
{
	vq->desc = virtio_alloc(4096);
	vq->avail = virtio_alloc(4096);
	vq->used = virtio_alloc(4096);
	vq->dev = d;
	vq->index = 0;
	vq->size = VQ_SIZE;
	if (viommu_map(v, domain, iova, 4096, (uint64_t)vq->desc, VIOMMU_READ) != VIOMMU_S_OK ||
	    viommu_map(v, domain, iova + 0x1000, 4096, (uint64_t)vq->avail, VIOMMU_READ) !=
		    VIOMMU_S_OK ||
	    viommu_map(v, domain, iova + 0x2000, 4096, (uint64_t)vq->used,
		       VIOMMU_READ | VIOMMU_WRITE) != VIOMMU_S_OK)
		return -1;
	virtio_write(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	virtio_write(d, VIRTIO_MMIO_QUEUE_NUM, VQ_SIZE);
	virtio_write(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)iova);
	virtio_write(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(iova >> 32));
	virtio_write(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)(iova + 0x1000));
	virtio_write(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)((iova + 0x1000) >> 32));
	virtio_write(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)(iova + 0x2000));
	virtio_write(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)((iova + 0x2000) >> 32));
	virtio_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return 0;
}

#endif
