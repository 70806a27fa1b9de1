/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-blk drain loop over one request queue, shared by the in-VMM
 * device (blk.c, a plain virtqueue) and cvmm-vhost-user-blk (a vring of the
 * vhost-user-backend framework, behind ops): pop, parse, submit, reap,
 * complete, notify. Requests live in slots from a free list rather than
 * at their head index: a hostile driver that makes a head available again
 * while it is in flight gets a second slot, never the first one's buffers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices/blk.h>

#include "internal.h"

struct cvmm_blk_queue {
	struct cvmm_virtq *q;
	const struct cvmm_blk_queue_ops *ops;
	void *ctx;
	struct cvmm_blk_backend *be;
	struct cvmm_rate_limiter *rl;
	void (*notify)(void *ctx);
	bool (*error)(void *ctx, int err, bool queue_broken);
	void (*throttled)(void *ctx, uint64_t bytes);
	bool (*hold)(void *ctx, const struct cvmm_blk_request *req);
	struct cvmm_guest_mem *mem;
	struct cvmm_blk_disk_info disk;
	void (*push_begin)(void *ctx, uint16_t id); /* ops' or NULL */
	void (*push_end)(void *ctx, uint16_t id);
	bool broken;
	bool stalled;            /* a drain stopped for room: drain on completion */
	bool can_unpop;
	bool slow;               /* hold or a rate limiter: checks per request */
	unsigned int nslots, nfree;
	uint16_t *free_slots;
	struct cvmm_blk_request *slots;
};

/* Queue access: direct on a plain virtqueue, through ops otherwise. */
static inline int wq_pop(struct cvmm_blk_queue *w, struct cvmm_virtq_chain *c)
{
	return w->q ? cvmm_virtq_pop(w->q, c) : w->ops->pop(w->ctx, c);
}

static inline void wq_disable(struct cvmm_blk_queue *w)
{
	if (w->q)
		cvmm_virtq_disable_notification(w->q);
	else
		w->ops->disable_notification(w->ctx);
}

static inline int wq_enable(struct cvmm_blk_queue *w)
{
	return w->q ? cvmm_virtq_enable_notification(w->q) : w->ops->enable_notification(w->ctx);
}

static inline void wq_unpop(struct cvmm_blk_queue *w, const struct cvmm_virtq_chain *c)
{
	if (w->q)
		(void)cvmm_virtq_unpop(w->q, c);
	else
		(void)w->ops->unpop(w->ctx, c);
}

static void wq_notify(struct cvmm_blk_queue *w)
{
	if (w->broken)
		return;
	if (!w->q || cvmm_virtq_needs_notification(w->q))
		w->notify(w->ctx);
}

/* Report @err; true when the queue is (now) stopped. */
static bool wq_error(struct cvmm_blk_queue *w, int err, bool queue_broke)
{
	bool stop = w->error ? w->error(w->ctx, err, queue_broke) : true;

	if (stop || queue_broke)
		w->broken = true;
	return w->broken;
}

static struct cvmm_blk_request *slot_get(struct cvmm_blk_queue *w)
{
	return &w->slots[w->free_slots[--w->nfree]];
}

static void slot_put(struct cvmm_blk_queue *w, struct cvmm_blk_request *req)
{
	w->free_slots[w->nfree++] = (uint16_t)(req - w->slots);
}

/* Push a chain with @len bytes written, bracketed for the owner. */
static int push_chain(struct cvmm_blk_queue *w, const struct cvmm_virtq_chain *c, uint32_t len)
{
	int r;

	if (w->push_begin)
		w->push_begin(w->ctx, c->id);
	r = cvmm_virtq_push(c->q, c, len);
	if (r == 0 && w->push_end)
		w->push_end(w->ctx, c->id);
	return r;
}

/* Complete one request; false when the push failed (the queue is broken). */
static bool complete_one(struct cvmm_blk_queue *w, struct cvmm_blk_request *req)
{
	int r;

	if (w->push_begin)
		w->push_begin(w->ctx, req->chain.id);
	r = cvmm_blk_request_complete(req);
	if (CVMM_LIKELY(r == 0) && w->push_end)
		w->push_end(w->ctx, req->chain.id);
	slot_put(w, req);
	if (CVMM_UNLIKELY(r < 0)) {
		(void)wq_error(w, -EIO, true);
		return false;
	}
	return true;
}

/* Complete what the backend finished; @wait: until nothing is in flight.
 * Without @push the requests are dropped (a reset). @return pushed any. */
static bool reap(struct cvmm_blk_queue *w, bool wait, bool push)
{
	struct cvmm_blk_request *done[64];
	bool pushed = false;
	int n;

	while (cvmm_blk_backend_in_flight(w->be)) {
		n = cvmm_blk_backend_reap(w->be, done, CVMM_ARRAY_SIZE(done), wait);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			if (push && !w->broken) {
				if (complete_one(w, done[i]))
					pushed = true;
			} else {
				slot_put(w, done[i]);
			}
		}
		if (!wait && n < (int)CVMM_ARRAY_SIZE(done))
			break;
	}
	return pushed;
}

static uint64_t io_bytes(const struct cvmm_blk_request *req)
{
	return req->type == CVMM_VIRTIO_BLK_T_IN || req->type == CVMM_VIRTIO_BLK_T_OUT
		       ? req->data_len : 0;
}

/*
 * Pop and start requests until the queue is empty (0), room runs out (1:
 * slots, backend entries or rate tokens; a completion or the throttle
 * timer drains again), or the queue stops (negative).
 */
static int drain(struct cvmm_blk_queue *w, bool *pushed, bool *submitted)
{
	struct cvmm_virtq_chain chain;
	struct cvmm_blk_request *req;
	int r;

	for (;;) {
		if (CVMM_UNLIKELY(!w->nfree))
			return 1;
		r = wq_pop(w, &chain);
		if (r <= 0) {
			if (r < 0)
				(void)wq_error(w, r, true);
			return r;
		}
		if (CVMM_UNLIKELY(chain.refused)) {
			/* Behind an IOMMU, a buffer the guest did not map for
			 * us: the request fails, nothing of it is read or
			 * written, and the device goes on (not a broken
			 * request: the driver's mapping, not its format). */
			(void)push_chain(w, &chain, 0);
			*pushed = true;
			continue;
		}
		req = slot_get(w);
		r = cvmm_blk_request_parse(req, &chain, w->mem, &w->disk);
		if (CVMM_UNLIKELY(r < 0)) {
			slot_put(w, req);
			if (cvmm_virtq_broken(chain.q)) {
				(void)wq_error(w, r, true);
				return r;
			}
			/* unanswerable: give it back empty */
			(void)push_chain(w, &chain, 0);
			*pushed = true;
			if (wq_error(w, r, r != -EINVAL))
				return r;
			continue;
		}
		if (CVMM_UNLIKELY(w->slow)) {
			if (w->hold && w->hold(w->ctx, req))
				continue; /* the slot stays taken: hung I/O */
			if (req->executable && w->rl && !cvmm_rate_limiter_unlimited(w->rl)) {
				uint64_t bytes = io_bytes(req);

				if (!cvmm_rate_limiter_consume(w->rl, 1, bytes)) {
					slot_put(w, req);
					wq_unpop(w, &chain);
					if (w->throttled)
						w->throttled(w->ctx, bytes);
					return 1;
				}
			}
		}
		if (!req->executable) {
			if (!complete_one(w, req))
				return -EIO;
			*pushed = true;
			continue;
		}
		r = cvmm_blk_backend_submit(w->be, req);
		while (r == -EAGAIN && !w->can_unpop) {
			/* No way to give the chain back: make room now. */
			bool had = cvmm_blk_backend_in_flight(w->be) > 0;

			(void)cvmm_blk_backend_kick(w->be);
			if (reap(w, true, true))
				*pushed = true;
			if (w->broken) {
				slot_put(w, req);
				return -EIO;
			}
			r = cvmm_blk_backend_submit(w->be, req);
			if (r == -EAGAIN && !had)
				r = -EIO; /* full with nothing to wait for: IOERR */
		}
		if (r == -EAGAIN) {
			slot_put(w, req);
			wq_unpop(w, &chain);
			return 1;
		}
		if (r == 0) {
			*submitted = true;
			continue;
		}
		if (r < 0)
			req->status = CVMM_VIRTIO_BLK_S_IOERR;
		if (!complete_one(w, req))
			return -EIO;
		*pushed = true;
	}
}

void cvmm_blk_queue_process(struct cvmm_blk_queue *w)
{
	bool pushed = false, submitted = false;
	int r;

	if (w->broken)
		return;
	w->stalled = false;
	for (;;) {
		wq_disable(w);
		r = drain(w, &pushed, &submitted);
		if (r != 0)
			break;
		r = wq_enable(w);
		if (r <= 0) {
			if (r < 0)
				(void)wq_error(w, r, true);
			break;
		}
	}
	if (r == 1)
		w->stalled = true;
	if (submitted) {
		if (cvmm_blk_backend_kick(w->be) < 0)
			(void)wq_error(w, -EIO, true);
		/* Page-cache hits complete during submission and raise no
		 * completion event: harvest them now. */
		else if (reap(w, false, true))
			pushed = true;
	}
	if (pushed)
		wq_notify(w);
}

void cvmm_blk_queue_complete(struct cvmm_blk_queue *w)
{
	int fd = cvmm_blk_backend_completion_fd(w->be);
	uint64_t v;

	if (fd >= 0)
		(void)cvmm_eventfd_read(fd, &v);
	if (reap(w, false, true))
		wq_notify(w);
	if (w->stalled)
		cvmm_blk_queue_process(w);
}

void cvmm_blk_queue_quiesce(struct cvmm_blk_queue *w)
{
	if (reap(w, true, true))
		wq_notify(w);
}

void cvmm_blk_queue_set_features(struct cvmm_blk_queue *w, uint64_t features)
{
	w->disk.features = features;
}

bool cvmm_blk_queue_broken(const struct cvmm_blk_queue *w)
{
	return w->broken;
}

int cvmm_blk_queue_create(const struct cvmm_blk_queue_opts *o, struct cvmm_blk_queue **out)
{
	struct cvmm_blk_queue *w;

	if (!o || !out || o->sz < sizeof(*o) || !o->backend || !o->mem || !o->notify ||
	    !o->slots || o->slots > CVMM_VIRTQ_MAX_SIZE || !o->q == !o->ops)
		return -EINVAL;
	if (o->ops && (o->ops->sz < sizeof(*o->ops) || !o->ops->pop ||
		       !o->ops->disable_notification || !o->ops->enable_notification))
		return -EINVAL;
	if (o->rl && o->ops && !o->ops->unpop)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->slots = calloc(o->slots, sizeof(*w->slots));
	w->free_slots = calloc(o->slots, sizeof(*w->free_slots));
	if (!w->slots || !w->free_slots) {
		free(w->slots);
		free(w->free_slots);
		free(w);
		return -ENOMEM;
	}
	w->nslots = o->slots;
	for (unsigned int i = 0; i < w->nslots; i++)
		w->free_slots[w->nfree++] = (uint16_t)(w->nslots - 1 - i);
	w->q = o->q;
	w->ops = o->ops;
	w->ctx = o->ctx;
	w->be = o->backend;
	w->rl = o->rl;
	w->notify = o->notify;
	w->error = o->error;
	w->throttled = o->throttled;
	w->hold = o->hold;
	w->mem = o->mem;
	w->can_unpop = o->q || o->ops->unpop;
	w->push_begin = o->ops ? o->ops->push_begin : NULL;
	w->push_end = o->ops ? o->ops->push_end : NULL;
	/* An unlimited limiter costs nothing per request. */
	w->slow = o->hold || (o->rl && !cvmm_rate_limiter_unlimited(o->rl));
	w->disk.capacity = cvmm_blk_backend_capacity(o->backend);
	w->disk.features = o->features;
	w->disk.read_only = o->read_only;
	*out = w;
	return 0;
}

void cvmm_blk_queue_destroy(struct cvmm_blk_queue *w, bool push)
{
	if (!w)
		return;
	if (reap(w, true, push) && push)
		wq_notify(w);
	free(w->slots);
	free(w->free_slots);
	free(w);
}

/* ------------------------------------------------------------------------ */
/* Config space                                                              */
/* ------------------------------------------------------------------------ */

void cvmm_blk_config_build(uint8_t *c, uint64_t capacity, uint64_t features,
			   uint16_t num_queues)
{
	uint32_t seg_max = CVMM_BLK_SEG_MAX;

	/* A packed ring without indirect tables holds a chain in at most
	 * CVMM_VIRTQ_PACKED_MAX_CHAIN ring slots: header and status take two. */
	if ((features & CVMM_VIRTIO_F_RING_PACKED) && !(features & CVMM_VIRTIO_F_INDIRECT_DESC))
		seg_max = CVMM_VIRTQ_PACKED_MAX_CHAIN - 2;
	memset(c, 0, CVMM_VIRTIO_BLK_CFG_SIZE);
	vd_put_le64(c + CVMM_VIRTIO_BLK_CFG_CAPACITY, capacity);
	vd_put_le32(c + CVMM_VIRTIO_BLK_CFG_SEG_MAX, seg_max);
	vd_put_le32(c + CVMM_VIRTIO_BLK_CFG_BLK_SIZE, CVMM_BLK_SECTOR_SIZE);
	c[CVMM_VIRTIO_BLK_CFG_NUM_QUEUES] = (uint8_t)num_queues;
	c[CVMM_VIRTIO_BLK_CFG_NUM_QUEUES + 1] = (uint8_t)(num_queues >> 8);
	vd_put_le32(c + CVMM_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, CVMM_BLK_MAX_DISCARD_SECTORS);
	vd_put_le32(c + CVMM_VIRTIO_BLK_CFG_MAX_DISCARD_SEG, CVMM_BLK_MAX_DISCARD_SEG);
	vd_put_le32(c + CVMM_VIRTIO_BLK_CFG_DISCARD_ALIGN, 1);
	vd_put_le32(c + CVMM_VIRTIO_BLK_CFG_MAX_WZ_SECTORS, CVMM_BLK_MAX_DISCARD_SECTORS);
	vd_put_le32(c + CVMM_VIRTIO_BLK_CFG_MAX_WZ_SEG, CVMM_BLK_MAX_DISCARD_SEG);
	c[CVMM_VIRTIO_BLK_CFG_WZ_MAY_UNMAP] = 1;
}
