/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-blk device model: one request queue served by a blk queue
 * worker (blk-queue.c, the same drain loop cvmm-vhost-user-blk runs) over
 * the transport's virtqueue; completions from the backend's eventfd, the
 * rate limiter's refill timer, all on the device thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <cvmm/virtio-devices/blk.h>

#include "internal.h"

#define BLK_STATE_VERSION 1u
#define BLK_STATE_MAGIC 0x6b6c4256u /* "VBlk" */

struct blk_state {
	uint32_t magic;
	uint32_t version;
	uint64_t capacity;
	uint64_t features;
	uint32_t read_only;
	uint32_t rsvd;
};

struct cvmm_blk {
	struct cvmm_virtio_device dev;
	struct cvmm_blk_backend *be;
	struct cvmm_event_manager *em;
	struct cvmm_rate_limiter rl;
	struct cvmm_event_timer *timer;
	bool timer_armed;
	bool comp_registered;
	struct cvmm_blk_disk_info disk;
	uint16_t qsize;
	struct cvmm_blk_queue *w;   /* the request queue's worker while active */
	uint64_t features;
	uint64_t throttled;
};

static struct cvmm_blk *to_blk(struct cvmm_virtio_device *dev)
{
	return CVMM_CONTAINER_OF(dev, struct cvmm_blk, dev);
}

/* Worker callbacks */

static void blk_notify(void *opaque)
{
	struct cvmm_blk *b = opaque;

	cvmm_virtio_device_signal_used(&b->dev, 0);
}

/* Anything wrong (an unanswerable chain, a broken queue) needs a reset. */
static bool blk_error(void *opaque, int err, bool queue_broken)
{
	struct cvmm_blk *b = opaque;

	(void)err;
	(void)queue_broken;
	cvmm_virtio_device_set_needs_reset(&b->dev);
	return true;
}

static void blk_throttled(void *opaque, uint64_t bytes)
{
	struct cvmm_blk *b = opaque;
	uint64_t ns;

	b->throttled++;
	if (b->timer_armed)
		return;
	ns = cvmm_rate_limiter_wait_ns(&b->rl, 1, bytes);
	if (cvmm_event_manager_timer_set(b->em, b->timer, ns ? ns : 1, 0) == 0)
		b->timer_armed = true;
}

static void timer_cb(struct cvmm_event_manager *em, struct cvmm_event_timer *t,
		     uint64_t exp, void *opaque)
{
	struct cvmm_blk *b = opaque;

	b->timer_armed = false;
	if (b->w)
		cvmm_blk_queue_process(b->w);
}

static void comp_cb(struct cvmm_event_manager *em, int fd, uint32_t events,
		    void *opaque)
{
	struct cvmm_blk *b = opaque;
	uint64_t v;

	if (b->w)
		cvmm_blk_queue_complete(b->w);
	else
		(void)cvmm_eventfd_read(fd, &v);
}

/* ------------------------------------------------------------------------ */
/* Device ops                                                                */
/* ------------------------------------------------------------------------ */

static void blk_config_read(struct cvmm_virtio_device *dev, uint32_t off,
			    void *data, uint32_t len)
{
	struct cvmm_blk *b = to_blk(dev);
	uint64_t f = __atomic_load_n(&dev->driver_features, __ATOMIC_ACQUIRE);
	uint8_t cfg[CVMM_VIRTIO_BLK_CFG_SIZE];

	cvmm_blk_config_build(cfg, b->disk.capacity, f, 1);
	vd_config_copy(cfg, sizeof(cfg), off, data, len);
}

static void blk_unregister(struct cvmm_blk *b)
{
	if (b->comp_registered) {
		cvmm_event_manager_remove(b->em, cvmm_blk_backend_completion_fd(b->be));
		b->comp_registered = false;
	}
	if (b->timer) {
		cvmm_event_manager_timer_remove(b->em, b->timer);
		b->timer = NULL;
		b->timer_armed = false;
	}
}

static int blk_activate(struct cvmm_virtio_device *dev, struct cvmm_guest_mem *mem,
			struct cvmm_virtq *queues, unsigned int nq, uint64_t features)
{
	struct cvmm_blk *b = to_blk(dev);
	int cfd = cvmm_blk_backend_completion_fd(b->be);
	struct cvmm_blk_queue_opts qo = {
		.sz = sizeof(qo), .backend = b->be, .mem = mem, .q = &queues[0],
		.slots = b->qsize, .features = features, .read_only = b->disk.read_only,
		.rl = &b->rl, .ctx = b, .notify = blk_notify, .error = blk_error,
		.throttled = blk_throttled,
	};
	int r;

	if (nq < 1 || !cvmm_virtq_active(&queues[0]))
		return -EINVAL;
	b->features = features;
	b->disk.features = features;
	r = cvmm_blk_queue_create(&qo, &b->w);
	if (r < 0)
		return r;
	if (cfd >= 0) {
		r = cvmm_event_manager_add(b->em, cfd, EPOLLIN, comp_cb, b);
		if (r < 0)
			goto fail;
		b->comp_registered = true;
	}
	r = cvmm_event_manager_timer_add(b->em, 0, 0, timer_cb, b, &b->timer);
	if (r < 0)
		goto fail;
	return 0;
fail:
	blk_unregister(b);
	cvmm_blk_queue_destroy(b->w, false);
	b->w = NULL;
	return r;
}

static void blk_queue_event(struct cvmm_virtio_device *dev, unsigned int q)
{
	struct cvmm_blk *b = to_blk(dev);

	if (q == 0 && b->w)
		cvmm_blk_queue_process(b->w);
}

static void blk_reset(struct cvmm_virtio_device *dev)
{
	struct cvmm_blk *b = to_blk(dev);

	/* Host I/O already started must finish before the guest may reuse
	 * its buffers; it is never reported to the reset driver. */
	cvmm_blk_queue_destroy(b->w, false);
	b->w = NULL;
	blk_unregister(b);
}

static int blk_save(struct cvmm_virtio_device *dev, void *buf, size_t len)
{
	struct cvmm_blk *b = to_blk(dev);
	struct blk_state s;

	if (!buf)
		return (int)sizeof(s);
	if (len < sizeof(s))
		return -ENOSPC;
	if (b->w)
		cvmm_blk_queue_quiesce(b->w);
	memset(&s, 0, sizeof(s));
	s.magic = BLK_STATE_MAGIC;
	s.version = BLK_STATE_VERSION;
	s.capacity = b->disk.capacity;
	s.features = b->features;
	s.read_only = b->disk.read_only;
	memcpy(buf, &s, sizeof(s));
	return (int)sizeof(s);
}

static int blk_restore(struct cvmm_virtio_device *dev, const void *buf, size_t len)
{
	struct cvmm_blk *b = to_blk(dev);
	struct blk_state s;

	if (!buf || len != sizeof(s))
		return -EINVAL;
	memcpy(&s, buf, sizeof(s));
	if (s.magic != BLK_STATE_MAGIC || s.version != BLK_STATE_VERSION || s.rsvd ||
	    s.capacity != b->disk.capacity || s.read_only != b->disk.read_only ||
	    (s.features & ~(b->dev.features | CVMM_VIRTIO_F_VERSION_1 |
			    CVMM_VIRTIO_F_EVENT_IDX | CVMM_VIRTIO_F_INDIRECT_DESC |
			    CVMM_VIRTIO_F_RING_PACKED)))
		return -EINVAL;
	b->features = s.features;
	b->disk.features = s.features;
	if (b->w)
		cvmm_blk_queue_set_features(b->w, s.features);
	return 0;
}

static const struct cvmm_virtio_device_ops blk_ops = {
	.config_read = blk_config_read,
	.activate = blk_activate,
	.queue_event = blk_queue_event,
	.reset = blk_reset,
	.save = blk_save,
	.restore = blk_restore,
};

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                  */
/* ------------------------------------------------------------------------ */

int cvmm_blk_image_lock(struct cvmm_blk *b, bool hold)
{
	return cvmm_blk_backend_lock(b->be, hold);
}

int cvmm_blk_create(const struct cvmm_blk_opts *o, struct cvmm_blk **out)
{
	struct cvmm_blk *b;
	uint16_t qsize;
	int r;

	if (!o || !out || o->sz < sizeof(*o) || !o->em)
		return -EINVAL;
	qsize = o->queue_size ? o->queue_size : 256;
	if (qsize > CVMM_VIRTQ_MAX_SIZE)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	r = cvmm_rate_limiter_init(&b->rl, o->rate);
	if (r < 0)
		goto fail;
	r = cvmm_blk_backend_open(&o->backend, &b->be);
	if (r < 0)
		goto fail;
	b->em = o->em;
	b->qsize = qsize;
	b->disk.capacity = cvmm_blk_backend_capacity(b->be);
	b->disk.read_only = cvmm_blk_backend_read_only(b->be);
	b->dev.ops = &blk_ops;
	b->dev.device_id = CVMM_VIRTIO_ID_BLOCK;
	b->dev.config_size = CVMM_VIRTIO_BLK_CFG_SIZE;
	b->dev.features = CVMM_VIRTIO_BLK_F_SEG_MAX | CVMM_VIRTIO_BLK_F_BLK_SIZE |
			  CVMM_VIRTIO_BLK_F_FLUSH;
	if (b->disk.read_only)
		b->dev.features |= CVMM_VIRTIO_BLK_F_RO;
	else
		b->dev.features |= CVMM_VIRTIO_BLK_F_DISCARD | CVMM_VIRTIO_BLK_F_WRITE_ZEROES;
	b->dev.num_queues = 1;
	b->dev.queue_max_size[0] = qsize;
	*out = b;
	return 0;
fail:
	cvmm_blk_backend_close(b->be);
	free(b);
	return r;
}

void cvmm_blk_destroy(struct cvmm_blk *b)
{
	if (!b)
		return;
	if (b->w)
		blk_reset(&b->dev);
	cvmm_blk_backend_close(b->be);
	free(b);
}

struct cvmm_virtio_device *cvmm_blk_device(struct cvmm_blk *b)
{
	return &b->dev;
}

struct cvmm_blk_backend *cvmm_blk_backend(struct cvmm_blk *b)
{
	return b->be;
}

uint64_t cvmm_blk_throttled(const struct cvmm_blk *b)
{
	return b->throttled;
}
