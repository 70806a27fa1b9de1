/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-blk device model: one request queue, requests parsed into
 * per-request slots, executed on the backend, completed from the backend's
 * completion eventfd, all on the device thread.
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
	bool active;
	bool broken;
	bool comp_registered;
	uint8_t config[CVMM_VIRTIO_BLK_CFG_SIZE];
	struct cvmm_blk_disk_info disk;
	struct cvmm_virtq *q;
	struct cvmm_guest_mem *mem;
	uint64_t features;
	struct cvmm_blk_request *slots;
	uint16_t *free_slots;
	unsigned int nslots;
	unsigned int nfree;
	uint64_t throttled;
};

static struct cvmm_blk *to_blk(struct cvmm_virtio_device *dev)
{
	return CVMM_CONTAINER_OF(dev, struct cvmm_blk, dev);
}

static struct cvmm_blk_request *slot_get(struct cvmm_blk *b)
{
	struct cvmm_blk_request *req;

	if (!b->nfree)
		return NULL;
	req = &b->slots[b->free_slots[--b->nfree]];
	return req;
}

static void slot_put(struct cvmm_blk *b, struct cvmm_blk_request *req)
{
	b->free_slots[b->nfree++] = (uint16_t)(req - b->slots);
}

static void blk_fail(struct cvmm_blk *b)
{
	b->broken = true;
	cvmm_virtio_device_set_needs_reset(&b->dev);
}

/* Complete one request; on a push failure the queue is broken. */
static bool complete_one(struct cvmm_blk *b, struct cvmm_blk_request *req)
{
	int r = cvmm_blk_request_complete(req);

	slot_put(b, req);
	if (r < 0) {
		blk_fail(b);
		return false;
	}
	return true;
}

static void blk_process(struct cvmm_blk *b);
static bool reap(struct cvmm_blk *b, bool wait, bool push);

static void timer_cb(struct cvmm_event_manager *em, struct cvmm_event_timer *t,
		     uint64_t exp, void *opaque)
{
	struct cvmm_blk *b = opaque;

	b->timer_armed = false;
	blk_process(b);
}

static void throttle(struct cvmm_blk *b, uint64_t bytes)
{
	uint64_t ns;

	b->throttled++;
	if (b->timer_armed)
		return;
	ns = cvmm_rate_limiter_wait_ns(&b->rl, 1, bytes);
	if (cvmm_event_manager_timer_set(b->em, b->timer, ns ? ns : 1, 0) == 0)
		b->timer_armed = true;
}

/*
 * Pop and start requests until the queue is empty (0), a resource runs out
 * (1: slots, backend room or rate tokens; something will call back), or the
 * queue breaks (negative).
 */
static int drain(struct cvmm_blk *b, bool *pushed, bool *submitted)
{
	struct cvmm_virtq_chain chain;
	struct cvmm_blk_request *req;
	int r;

	for (;;) {
		if (!b->nfree)
			return 1; /* a completion will call blk_process() */
		r = cvmm_virtq_pop(b->q, &chain);
		if (r <= 0)
			return r;
		req = slot_get(b);
		r = cvmm_blk_request_parse(req, &chain, b->mem, &b->disk);
		if (r < 0) {
			slot_put(b, req);
			if (!cvmm_virtq_broken(b->q))
				(void)cvmm_virtq_push(b->q, &chain, 0);
			*pushed = true;
			return r;
		}
		if (req->executable && !cvmm_rate_limiter_unlimited(&b->rl)) {
			uint64_t bytes = req->type == CVMM_VIRTIO_BLK_T_IN ||
						 req->type == CVMM_VIRTIO_BLK_T_OUT
					 ? req->data_len : 0;

			if (!cvmm_rate_limiter_consume(&b->rl, 1, bytes)) {
				slot_put(b, req);
				(void)cvmm_virtq_unpop(b->q, &chain);
				throttle(b, bytes);
				return 1;
			}
		}
		if (!req->executable) {
			if (!complete_one(b, req))
				return -EIO;
			*pushed = true;
			continue;
		}
		r = cvmm_blk_backend_submit(b->be, req);
		if (r == -EAGAIN) {
			slot_put(b, req);
			(void)cvmm_virtq_unpop(b->q, &chain);
			return 1;
		}
		if (r == 0) {
			*submitted = true;
			continue;
		}
		if (r < 0)
			req->status = CVMM_VIRTIO_BLK_S_IOERR;
		if (!complete_one(b, req))
			return -EIO;
		*pushed = true;
	}
}

static void blk_process(struct cvmm_blk *b)
{
	bool pushed = false, submitted = false;
	int r;

	if (!b->active || b->broken)
		return;
	for (;;) {
		cvmm_virtq_disable_notification(b->q);
		r = drain(b, &pushed, &submitted);
		if (r != 0)
			break;
		r = cvmm_virtq_enable_notification(b->q);
		if (r <= 0)
			break;
	}
	if (submitted) {
		if (cvmm_blk_backend_kick(b->be) < 0)
			r = -EIO;
		/* Page-cache hits complete during submission: harvest them now
		 * rather than after a trip through the completion eventfd. */
		else if (reap(b, false, true))
			pushed = true;
	}
	if (r < 0)
		blk_fail(b);
	if (pushed && !b->broken && cvmm_virtq_needs_notification(b->q))
		cvmm_virtio_device_signal_used(&b->dev, 0);
}

/* Complete what the backend finished; @wait: block for everything. */
static bool reap(struct cvmm_blk *b, bool wait, bool push)
{
	struct cvmm_blk_request *done[64];
	bool pushed = false;
	int n;

	while (cvmm_blk_backend_in_flight(b->be)) {
		n = cvmm_blk_backend_reap(b->be, done, CVMM_ARRAY_SIZE(done), wait);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			if (push && !b->broken) {
				if (complete_one(b, done[i]))
					pushed = true;
			} else {
				slot_put(b, done[i]);
			}
		}
		if (!wait && n < (int)CVMM_ARRAY_SIZE(done))
			break;
	}
	return pushed;
}

static void comp_cb(struct cvmm_event_manager *em, int fd, uint32_t events,
		    void *opaque)
{
	struct cvmm_blk *b = opaque;
	uint64_t v;

	(void)cvmm_eventfd_read(fd, &v);
	if (!b->active)
		return;
	if (reap(b, false, true) && !b->broken &&
	    cvmm_virtq_needs_notification(b->q))
		cvmm_virtio_device_signal_used(&b->dev, 0);
	blk_process(b);
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

	memcpy(cfg, b->config, sizeof(cfg));
	/* A packed ring without indirect tables holds a chain in at most
	 * CVMM_VIRTQ_PACKED_MAX_CHAIN ring slots: header and status take two. */
	if ((f & CVMM_VIRTIO_F_RING_PACKED) && !(f & CVMM_VIRTIO_F_INDIRECT_DESC))
		vd_put_le32(cfg + CVMM_VIRTIO_BLK_CFG_SEG_MAX,
			    CVMM_VIRTQ_PACKED_MAX_CHAIN - 2);
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
	int r;

	if (nq < 1 || !cvmm_virtq_active(&queues[0]))
		return -EINVAL;
	b->q = &queues[0];
	b->mem = mem;
	b->features = features;
	b->disk.features = features;
	b->broken = false;
	if (cfd >= 0) {
		r = cvmm_event_manager_add(b->em, cfd, EPOLLIN, comp_cb, b);
		if (r < 0)
			return r;
		b->comp_registered = true;
	}
	r = cvmm_event_manager_timer_add(b->em, 0, 0, timer_cb, b, &b->timer);
	if (r < 0) {
		blk_unregister(b);
		return r;
	}
	b->active = true;
	return 0;
}

static void blk_queue_event(struct cvmm_virtio_device *dev, unsigned int q)
{
	if (q == 0)
		blk_process(to_blk(dev));
}

static void blk_reset(struct cvmm_virtio_device *dev)
{
	struct cvmm_blk *b = to_blk(dev);

	/* Host I/O already started must finish before the guest may reuse
	 * its buffers; it is never reported to the reset driver. */
	(void)reap(b, true, false);
	blk_unregister(b);
	b->active = false;
	b->broken = false;
	b->q = NULL;
}

static int blk_save(struct cvmm_virtio_device *dev, void *buf, size_t len)
{
	struct cvmm_blk *b = to_blk(dev);
	struct blk_state s;

	if (!buf)
		return (int)sizeof(s);
	if (len < sizeof(s))
		return -ENOSPC;
	if (b->active && reap(b, true, true) && !b->broken &&
	    cvmm_virtq_needs_notification(b->q))
		cvmm_virtio_device_signal_used(&b->dev, 0);
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

static void build_config(struct cvmm_blk *b)
{
	uint8_t *c = b->config;

	memset(c, 0, sizeof(b->config));
	vd_put_le64(c + CVMM_VIRTIO_BLK_CFG_CAPACITY, b->disk.capacity);
	vd_put_le32(c + CVMM_VIRTIO_BLK_CFG_SEG_MAX, CVMM_BLK_SEG_MAX);
	vd_put_le32(c + CVMM_VIRTIO_BLK_CFG_BLK_SIZE, CVMM_BLK_SECTOR_SIZE);
	vd_put_le32(c + CVMM_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS,
		    CVMM_BLK_MAX_DISCARD_SECTORS);
	vd_put_le32(c + CVMM_VIRTIO_BLK_CFG_MAX_DISCARD_SEG, CVMM_BLK_MAX_DISCARD_SEG);
	vd_put_le32(c + CVMM_VIRTIO_BLK_CFG_DISCARD_ALIGN, 1);
	vd_put_le32(c + CVMM_VIRTIO_BLK_CFG_MAX_WZ_SECTORS, CVMM_BLK_MAX_DISCARD_SECTORS);
	vd_put_le32(c + CVMM_VIRTIO_BLK_CFG_MAX_WZ_SEG, CVMM_BLK_MAX_DISCARD_SEG);
	c[CVMM_VIRTIO_BLK_CFG_WZ_MAY_UNMAP] = 1;
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
	b->nslots = qsize;
	b->slots = calloc(qsize, sizeof(*b->slots));
	b->free_slots = calloc(qsize, sizeof(*b->free_slots));
	if (!b->slots || !b->free_slots) {
		r = -ENOMEM;
		goto fail;
	}
	for (unsigned int i = 0; i < qsize; i++)
		b->free_slots[b->nfree++] = (uint16_t)(qsize - 1 - i);
	b->disk.capacity = cvmm_blk_backend_capacity(b->be);
	b->disk.read_only = cvmm_blk_backend_read_only(b->be);
	build_config(b);
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
	free(b->slots);
	free(b->free_slots);
	free(b);
	return r;
}

void cvmm_blk_destroy(struct cvmm_blk *b)
{
	if (!b)
		return;
	if (b->active)
		blk_reset(&b->dev);
	cvmm_blk_backend_close(b->be);
	free(b->slots);
	free(b->free_slots);
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
