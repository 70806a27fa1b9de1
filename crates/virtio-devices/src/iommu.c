/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-iommu's request queue (virtio 1.2, 5.13.6): ATTACH, DETACH, MAP,
 * UNMAP and PROBE parsed from hostile guest buffers into the table
 * operations of iommu-table.c, each answered with a status in the
 * request's tail. The event queue is accepted and never used.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "iommu-internal.h"

/* Readable bytes of each request after the 4-byte head (the tail is the
 * 4 writable bytes at the end of the chain). */
#define ATTACH_BODY 16u  /* domain, endpoint, flags, reserved[4] */
#define DETACH_BODY 16u  /* domain, endpoint, reserved[8] */
#define MAP_BODY 32u     /* domain, virt_start, virt_end, phys_start, flags */
#define UNMAP_BODY 24u   /* domain, virt_start, virt_end, reserved[4] */
#define PROBE_BODY 68u   /* endpoint, reserved[64] */
#define REQ_MAX (4u + PROBE_BODY)

static struct cvmm_iommu *to_io(struct cvmm_virtio_device *dev)
{
	return CVMM_CONTAINER_OF(dev, struct cvmm_iommu, dev);
}

static void iommu_config_read(struct cvmm_virtio_device *dev, uint32_t off, void *data,
			      uint32_t len)
{
	struct cvmm_iommu *io = to_io(dev);

	vd_config_copy(io->config, sizeof(io->config), off, data, len);
}

static uint8_t status_of(int e)
{
	switch (e) {
	case 0: return CVMM_VIRTIO_IOMMU_S_OK;
	case -ENOENT: return CVMM_VIRTIO_IOMMU_S_NOENT;
	case -ERANGE: return CVMM_VIRTIO_IOMMU_S_RANGE;
	case -ENOMEM: return CVMM_VIRTIO_IOMMU_S_NOMEM;
	default: return CVMM_VIRTIO_IOMMU_S_INVAL;
	}
}

/* PROBE: the reserved MSI region, then zeros (type NONE ends the list). */
static int probe(struct cvmm_iommu *io, uint32_t endpoint, uint8_t *props)
{
	bool known;

	pthread_rwlock_rdlock(&io->lock);
	known = false;
	for (unsigned int i = 0; i < io->nep; i++)
		known |= io->ep[i].id == endpoint;
	pthread_rwlock_unlock(&io->lock);
	if (!known)
		return -ENOENT;
	memset(props, 0, CVMM_IOMMU_PROBE_SIZE);
	props[0] = CVMM_VIRTIO_IOMMU_PROBE_T_RESV_MEM; /* le16 type */
	props[2] = 20;                                 /* le16 length after the header */
	props[4] = CVMM_VIRTIO_IOMMU_RESV_MEM_T_MSI;
	vd_put_le64(props + 8, io->msi_start);
	vd_put_le64(props + 16, io->msi_end);
	return 0;
}

/* One request: parse, act, answer. @return bytes written; <0: queue broken. */
static int handle(struct cvmm_iommu *io, struct cvmm_virtq_chain *c)
{
	uint8_t props[CVMM_IOMMU_PROBE_SIZE];
	uint8_t req[REQ_MAX] = { 0 }, tail[4] = { 0 };
	struct cvmm_virtq_rw rd, wr;
	uint64_t writable;
	uint32_t need = 0;
	ssize_t got;
	int e = -EINVAL, r;
	bool is_probe = false;

	r = cvmm_virtq_reader_init(&rd, c);
	if (r < 0)
		return r;
	r = cvmm_virtq_writer_init(&wr, c);
	if (r < 0)
		return r;
	writable = cvmm_virtq_rw_remaining(&wr);
	/* Nowhere to put a status: nobody to answer. */
	if (writable < sizeof(tail))
		return 0;
	got = cvmm_virtq_reader_read(&rd, req, sizeof(req));
	if (got < 0)
		return (int)got;
	if (got < 4) {
		tail[0] = CVMM_VIRTIO_IOMMU_S_INVAL;
		goto answer;
	}
	switch (req[0]) {
	case CVMM_VIRTIO_IOMMU_T_ATTACH: need = ATTACH_BODY; break;
	case CVMM_VIRTIO_IOMMU_T_DETACH: need = DETACH_BODY; break;
	case CVMM_VIRTIO_IOMMU_T_MAP: need = MAP_BODY; break;
	case CVMM_VIRTIO_IOMMU_T_UNMAP: need = UNMAP_BODY; break;
	case CVMM_VIRTIO_IOMMU_T_PROBE: need = PROBE_BODY; is_probe = true; break;
	default:
		tail[0] = CVMM_VIRTIO_IOMMU_S_UNSUPP;
		goto answer;
	}
	/* Too short a request, or a PROBE without room for its properties. */
	if ((uint64_t)got < 4u + need ||
	    (is_probe && writable < CVMM_IOMMU_PROBE_SIZE + sizeof(tail))) {
		tail[0] = CVMM_VIRTIO_IOMMU_S_INVAL;
		goto answer;
	}
	switch (req[0]) {
	case CVMM_VIRTIO_IOMMU_T_ATTACH:
		/* No flag is defined without F_BYPASS_CONFIG. */
		e = vd_get_le32(req + 12) ? -EINVAL
					  : cvmm_iommu_attach(io, vd_get_le32(req + 4),
							      vd_get_le32(req + 8));
		break;
	case CVMM_VIRTIO_IOMMU_T_DETACH:
		e = cvmm_iommu_detach(io, vd_get_le32(req + 4), vd_get_le32(req + 8));
		break;
	case CVMM_VIRTIO_IOMMU_T_MAP:
		e = cvmm_iommu_map(io, vd_get_le32(req + 4), vd_get_le64(req + 8),
				   vd_get_le64(req + 16), vd_get_le64(req + 24),
				   vd_get_le32(req + 32));
		break;
	case CVMM_VIRTIO_IOMMU_T_UNMAP:
		e = cvmm_iommu_unmap(io, vd_get_le32(req + 4), vd_get_le64(req + 8),
				     vd_get_le64(req + 16));
		break;
	case CVMM_VIRTIO_IOMMU_T_PROBE:
		e = probe(io, vd_get_le32(req + 4), props);
		break;
	}
	tail[0] = status_of(e);
answer:
	if (tail[0] != CVMM_VIRTIO_IOMMU_S_OK)
		__atomic_add_fetch(&io->requests_failed, 1, __ATOMIC_RELAXED);
	/* The tail is the last 4 writable bytes; PROBE's properties (or
	 * zeros) fill what comes before it. */
	if (is_probe && tail[0] == CVMM_VIRTIO_IOMMU_S_OK) {
		got = cvmm_virtq_writer_write(&wr, props, CVMM_IOMMU_PROBE_SIZE);
		if (got < 0)
			return (int)got;
	}
	while (cvmm_virtq_rw_remaining(&wr) > sizeof(tail)) {
		static const uint8_t zero[256];
		uint64_t n = CVMM_MIN(cvmm_virtq_rw_remaining(&wr) - sizeof(tail),
				      (uint64_t)sizeof(zero));

		got = cvmm_virtq_writer_write(&wr, zero, n);
		if (got <= 0)
			return got < 0 ? (int)got : -EIO;
	}
	got = cvmm_virtq_writer_write(&wr, tail, sizeof(tail));
	if (got < 0)
		return (int)got;
	return (int)cvmm_virtq_rw_done(&wr);
}

static void iommu_queue_event(struct cvmm_virtio_device *dev, unsigned int qi)
{
	struct cvmm_iommu *io = to_io(dev);
	struct cvmm_virtq_chain c;
	bool pushed = false;
	int e, n;

	if (!io->active || qi != 0)
		return; /* the event queue: the device never reports faults */
	for (;;) {
		while ((e = cvmm_virtq_pop(io->rq, &c)) > 0) {
			n = handle(io, &c);
			__atomic_add_fetch(&io->requests, 1, __ATOMIC_RELAXED);
			if (n < 0 && cvmm_virtq_broken(io->rq)) {
				e = n;
				break;
			}
			e = cvmm_virtq_push(io->rq, &c, n < 0 ? 0 : (uint32_t)n);
			if (e < 0)
				break;
			pushed = true;
		}
		if (e < 0)
			break;
		e = cvmm_virtq_enable_notification(io->rq);
		if (e <= 0)
			break;
	}
	if (e < 0)
		cvmm_virtio_device_set_needs_reset(dev);
	if (pushed && cvmm_virtq_needs_notification(io->rq))
		cvmm_virtio_device_signal_used(dev, 0);
}

static int iommu_activate(struct cvmm_virtio_device *dev, struct cvmm_guest_mem *mem,
			  struct cvmm_virtq *queues, unsigned int nq, uint64_t features)
{
	struct cvmm_iommu *io = to_io(dev);

	if (nq < 1 || !cvmm_virtq_active(&queues[0]))
		return -EINVAL;
	io->rq = &queues[0];
	io->active = true;
	return 0;
}

static void iommu_reset(struct cvmm_virtio_device *dev)
{
	struct cvmm_iommu *io = to_io(dev);

	io->active = false;
	io->rq = NULL;
	/* A reset device has no attachments: every endpoint reaches nothing. */
	cvmm_iommu_clear(io);
}

static int iommu_save(struct cvmm_virtio_device *dev, void *buf, size_t len)
{
	return cvmm_iommu_state_save(to_io(dev), buf, len);
}

static int iommu_restore(struct cvmm_virtio_device *dev, const void *buf, size_t len)
{
	return cvmm_iommu_state_restore(to_io(dev), buf, len) ? -EINVAL : 0;
}

static const struct cvmm_virtio_device_ops iommu_ops = {
	.config_read = iommu_config_read,
	.activate = iommu_activate,
	.queue_event = iommu_queue_event,
	.reset = iommu_reset,
	.save = iommu_save,
	.restore = iommu_restore,
};

int cvmm_iommu_create(const struct cvmm_iommu_opts *o, struct cvmm_iommu **out)
{
	struct cvmm_iommu *io;
	uint8_t *cfg;

	if (!o || !out || o->sz < sizeof(*o) || o->msi_end < o->msi_start)
		return -EINVAL;
	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	if (pthread_rwlock_init(&io->lock, NULL)) {
		free(io);
		return -ENOMEM;
	}
	pthread_mutex_init(&io->watch_lock, NULL);
	io->msi_start = o->msi_start || o->msi_end ? o->msi_start : 0xfee00000ull;
	io->msi_end = o->msi_start || o->msi_end ? o->msi_end : 0xfeefffffull;
	cfg = io->config;
	vd_put_le64(cfg, ~(CVMM_IOMMU_PAGE_SIZE - 1)); /* page_size_mask */
	vd_put_le64(cfg + 8, 0);                        /* input_range */
	vd_put_le64(cfg + 16, ~0ull);
	vd_put_le32(cfg + 24, 0);                       /* domain_range */
	vd_put_le32(cfg + 28, CVMM_IOMMU_MAX_DOMAIN_ID);
	vd_put_le32(cfg + 32, CVMM_IOMMU_PROBE_SIZE);   /* probe_size */
	/* bypass (36): 0, and F_BYPASS_CONFIG is not offered */
	io->dev.ops = &iommu_ops;
	io->dev.device_id = CVMM_VIRTIO_ID_IOMMU;
	io->dev.config_size = sizeof(io->config);
	io->dev.features = CVMM_VIRTIO_IOMMU_F_INPUT_RANGE | CVMM_VIRTIO_IOMMU_F_DOMAIN_RANGE |
			   CVMM_VIRTIO_IOMMU_F_MAP_UNMAP | CVMM_VIRTIO_IOMMU_F_PROBE;
	io->dev.num_queues = 2;
	io->dev.queue_max_size[0] = o->queue_size ? o->queue_size : 256;
	io->dev.queue_max_size[1] = o->queue_size ? o->queue_size : 256;
	*out = io;
	return 0;
}

void cvmm_iommu_destroy(struct cvmm_iommu *io)
{
	if (!io)
		return;
	cvmm_iommu_clear(io);
	pthread_rwlock_destroy(&io->lock);
	pthread_mutex_destroy(&io->watch_lock);
	free(io);
}

struct cvmm_virtio_device *cvmm_iommu_device(struct cvmm_iommu *io)
{
	return &io->dev;
}
