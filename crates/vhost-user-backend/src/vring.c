/* SPDX-License-Identifier: Apache-2.0 */
/* Vrings: start and stop on the worker thread, and the calls a device
 * makes from its queue callbacks. */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static int do_activate(struct cvmm_event_manager *em, void *arg);

static void on_kick(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct cvmm_vub_vring *vr = opaque;
	uint64_t v;

	(void)events;
	(void)cvmm_eventfd_read(fd, &v);
	/* Behind an IOMMU whose rings did not translate yet: the guest may
	 * have mapped them since; a kick tries again. */
	if (vr->started && vr->activating)
		(void)do_activate(em, vr);
	else if (vr->started)
		vr->d->ops.queue_kick(vr->d->o.opaque, vr);
}

/*
 * Where a packed ring resumes: both slots come from SET_VRING_BASE (the
 * ring itself does not say). A base whose used half is 0 while its avail
 * half is not comes from a frontend that encodes only the avail half
 * (as DPDK's virtio-user did): the used side resumes where avail does,
 * which is where it stands after GET_VRING_BASE, since every chain popped
 * is pushed before a ring stops. No inflight tracking: its packed layout
 * is not implemented (GET/SET_INFLIGHT_FD refuse packed rings).
 */
static int packed_position(struct cvmm_vub_vring *vr, struct cvmm_virtq_state *s)
{
	struct cvmm_vhost_packed_base pb;

	if (cvmm_vhost_packed_base_decode(vr->base, vr->num, &pb) < 0)
		return -EINVAL;
	vr->inflight = NULL;
	vr->rq_active = false;
	if (vr->d->inflight)
		VUB_LOG(CVMM_LOG_INFO, "vring %u: packed ring, requests in flight are not tracked",
			vr->idx);
	if ((vr->base >> 16) == 0 && (vr->base & 0xffffu)) {
		pb.used_idx = pb.avail_idx;
		pb.used_wrap = pb.avail_wrap;
	}
	s->next_avail = pb.avail_idx;
	s->avail_wrap = pb.avail_wrap;
	s->next_used = pb.used_idx;
	s->used_wrap = pb.used_wrap;
	return 0;
}

/* Split: the used index is the ring's own; avail resumes at the base, or
 * behind it when the inflight region has requests to resubmit. */
static int split_position(struct cvmm_vub_vring *vr, struct cvmm_virtq_state *s)
{
	uint16_t ring_used;
	int next_avail;

	if (cvmm_guest_mem_read_u16(vr->mem, vr->used_gpa + 2, &ring_used) < 0)
		return -EFAULT;
	next_avail = cvmm_vub_inflight_attach(vr, ring_used);
	if (next_avail < 0)
		return next_avail;
	s->next_avail = (uint16_t)next_avail;
	s->next_used = ring_used;
	return 0;
}

/* Position, queue state, the device's queue_start: the ring goes live. */
static int bring_up(struct cvmm_vub_vring *vr)
{
	struct cvmm_vub *d = vr->d;
	struct cvmm_virtq_state s;
	int ret;

	memset(&s, 0, sizeof(s));
	if (cvmm_vub_packed(d)) {
		ret = packed_position(vr, &s);
	} else if (cvmm_vub_iommu(d)) {
		uint64_t gpa;
		uint16_t ring_used;

		/* No inflight tracking behind an IOMMU: the record's replay
		 * ring would point at IOVAs it has no translation for. */
		vr->inflight = NULL;
		ret = vr->dma.translate(vr->dma.opaque, vr->used_gpa + 2, 2, CVMM_DMA_READ,
					&gpa, NULL);
		if (ret == 0)
			ret = cvmm_guest_mem_read_u16(vr->mem, gpa, &ring_used);
		if (ret == 0) {
			s.next_avail = (uint16_t)vr->base;
			s.next_used = ring_used;
		}
	} else {
		ret = split_position(vr, &s);
	}
	if (ret < 0)
		return ret;
	s.version = CVMM_VIRTQ_STATE_VERSION;
	s.features = d->features;
	s.desc_gpa = vr->desc_gpa;
	s.avail_gpa = vr->avail_gpa;
	s.used_gpa = vr->used_gpa;
	s.size = vr->num;
	s.active = 1;
	ret = cvmm_virtq_state_restore(&vr->q, &s);
	if (ret < 0)
		return ret;
	if (d->ops.queue_start)
		ret = d->ops.queue_start(d->o.opaque, vr);
	return ret;
}

/* ACCESS_PLATFORM: on the worker, after do_start returned (serve() is free
 * to take the UPDATEs our misses ask for). */
static int do_activate(struct cvmm_event_manager *em, void *arg)
{
	struct cvmm_vub_vring *vr = arg;
	int ret;

	(void)em;
	if (!vr->started || !vr->activating)
		return 0;
	ret = bring_up(vr);
	if (ret < 0) {
		VUB_LOG(CVMM_LOG_WARN, "vring %u: rings do not translate through the IOMMU "
			"(%s); a kick tries again", vr->idx, strerror(-ret));
		return ret;
	}
	vr->activating = false;
	vr->d->ops.queue_kick(vr->d->o.opaque, vr);
	return 0;
}

static int do_start(struct cvmm_event_manager *em, void *arg)
{
	struct cvmm_vub_vring *vr = arg;
	struct cvmm_vub *d = vr->d;
	int ret;

	vr->mem = d->mem;
	vr->activating = false;
	ret = cvmm_virtq_init(&vr->q, vr->mem, vr->num);
	if (ret < 0)
		return ret;
	if (cvmm_vub_iommu(d)) {
		/* Translating the rings may need the frontend's answers,
		 * which serve() (waiting for this call) cannot take now. */
		cvmm_vub_iotlb_xlate(d, &vr->dma);
		cvmm_virtq_set_dma(&vr->q, &vr->dma);
		ret = cvmm_event_manager_add(em, vr->kick_fd, EPOLLIN, on_kick, vr);
		if (ret < 0)
			return ret;
		ret = cvmm_event_manager_call(em, do_activate, vr, false);
		if (ret < 0) {
			(void)cvmm_event_manager_remove(em, vr->kick_fd);
			return ret;
		}
		vr->activating = true;
		vr->started = true;
		return 0;
	}
	ret = bring_up(vr);
	if (ret < 0)
		goto fail;
	ret = cvmm_event_manager_add(em, vr->kick_fd, EPOLLIN, on_kick, vr);
	if (ret < 0) {
		if (d->ops.queue_stop)
			d->ops.queue_stop(d->o.opaque, vr);
		goto fail;
	}
	vr->started = true;
	/* Resubmissions, and kicks sent before the ring was live. */
	d->ops.queue_kick(d->o.opaque, vr);
	return 0;
fail:
	vr->rq_active = false;
	cvmm_guest_mem_destroy(vr->rmem);
	vr->rmem = NULL;
	vr->inflight = NULL;
	return ret;
}

int cvmm_vub_vring_try_start(struct cvmm_vub_vring *vr)
{
	int ret;

	struct cvmm_vub *d = vr->d;

	if (vr->started || !d->mem || !vr->addr_set || !vr->num || vr->kick_fd < 0 ||
	    !vr->enabled)
		return 0;
	/* With STATUS, rings run only while the driver says DRIVER_OK. */
	if ((d->pfeatures & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_STATUS)) &&
	    !(d->status & VUB_STATUS_DRIVER_OK))
		return 0;
	ret = cvmm_event_manager_call(vr->w->em, do_start, vr, true);
	if (ret < 0)
		VUB_LOG(CVMM_LOG_WARN, "vring %u does not start: %s", vr->idx, strerror(-ret));
	return ret;
}

static int do_stop(struct cvmm_event_manager *em, void *arg)
{
	struct cvmm_vub_vring *vr = arg;

	(void)cvmm_event_manager_remove(em, vr->kick_fd);
	/* A ring still activating never reached queue_start. */
	if (vr->d->ops.queue_stop && !vr->activating)
		vr->d->ops.queue_stop(vr->d->o.opaque, vr);
	vr->started = false;
	vr->rq_active = false;
	cvmm_guest_mem_destroy(vr->rmem);
	vr->rmem = NULL;
	vr->inflight = NULL;
	vr->priv = NULL;
	return 0;
}

void cvmm_vub_vring_stop(struct cvmm_vub_vring *vr)
{
	if (vr->started)
		(void)cvmm_event_manager_call(vr->w->em, do_stop, vr, true);
}

void cvmm_vub_vring_park(struct cvmm_vub_vring *vr)
{
	struct cvmm_vhost_packed_base pb;

	if (!vr->started)
		return;
	cvmm_vub_vring_stop(vr);
	/* Never activated: it resumes where it was to start. */
	if (vr->activating) {
		vr->activating = false;
		return;
	}
	/* Every chain popped was pushed (queue_stop), so this is where the
	 * ring resumes. */
	if (!vr->q.packed) {
		vr->base = vr->q.next_avail;
		return;
	}
	pb.avail_idx = vr->q.next_avail;
	pb.avail_wrap = vr->q.avail_wrap;
	pb.used_idx = vr->q.next_used;
	pb.used_wrap = vr->q.used_wrap;
	vr->base = cvmm_vhost_packed_base_encode(&pb);
}

unsigned int cvmm_vub_vring_index(const struct cvmm_vub_vring *vr)
{
	return vr->idx;
}

struct cvmm_event_manager *cvmm_vub_vring_em(const struct cvmm_vub_vring *vr)
{
	return vr->w->em;
}

struct cvmm_guest_mem *cvmm_vub_vring_mem(const struct cvmm_vub_vring *vr)
{
	return vr->mem;
}

uint16_t cvmm_vub_vring_size(const struct cvmm_vub_vring *vr)
{
	return vr->num;
}

uint64_t cvmm_vub_vring_features(const struct cvmm_vub_vring *vr)
{
	return vr->d->features;
}

void cvmm_vub_vring_set_priv(struct cvmm_vub_vring *vr, void *priv)
{
	vr->priv = priv;
}

void *cvmm_vub_vring_priv(const struct cvmm_vub_vring *vr)
{
	return vr->priv;
}

int cvmm_vub_vring_pop(struct cvmm_vub_vring *vr, struct cvmm_virtq_chain *c)
{
	int ret;

	if (!vr->started && !vr->q.active)
		return -ENODEV;
	if (vr->rq_active) {
		ret = cvmm_virtq_pop(&vr->rq, c);
		if (ret == 1) {
			/* Same descriptor table: the chain now belongs to the
			 * real queue, where it will be pushed. */
			c->q = &vr->q;
			__atomic_fetch_add(&vr->d->resubmitted, 1, __ATOMIC_RELAXED);
			return 1;
		}
		if (ret < 0)
			VUB_LOG(CVMM_LOG_WARN, "vring %u: resubmission stopped: %s", vr->idx,
				strerror(-ret));
		vr->rq_active = false;
		cvmm_virtq_fini(&vr->rq);
		/* rmem stays: the replayed chains point into it */
	}
	ret = cvmm_virtq_pop(&vr->q, c);
	if (ret == 1)
		cvmm_vub_inflight_mark(vr, c->id);
	return ret;
}

int cvmm_vub_vring_push(struct cvmm_vub_vring *vr, const struct cvmm_virtq_chain *c,
			uint32_t len)
{
	int ret;

	cvmm_vub_vring_push_begin(vr, c->id);
	ret = cvmm_virtq_push(&vr->q, c, len);
	if (ret == 0)
		cvmm_vub_vring_push_end(vr, c->id);
	return ret;
}

int cvmm_vub_vring_signal(struct cvmm_vub_vring *vr)
{
	if (__atomic_load_n(&vr->d->log, __ATOMIC_ACQUIRE))
		cvmm_vub_log_sync(vr->d, vr->mem);
	if (vr->call_fd >= 0 && cvmm_virtq_needs_notification(&vr->q))
		return cvmm_eventfd_write(vr->call_fd, 1);
	return 0;
}

int cvmm_vub_vring_enable_notification(struct cvmm_vub_vring *vr)
{
	if (vr->rq_active)
		return 1;
	return cvmm_virtq_enable_notification(&vr->q);
}

void cvmm_vub_vring_disable_notification(struct cvmm_vub_vring *vr)
{
	cvmm_virtq_disable_notification(&vr->q);
}

int cvmm_vub_vring_drain(struct cvmm_vub_vring *vr, cvmm_vub_chain_fn fn, void *opaque)
{
	struct cvmm_virtq_chain c;
	int r;

	do {
		cvmm_vub_vring_disable_notification(vr);
		while ((r = cvmm_vub_vring_pop(vr, &c)) == 1)
			if ((r = fn(opaque, vr, &c)) < 0)
				break;
		if (r < 0)
			break;
	} while ((r = cvmm_vub_vring_enable_notification(vr)) > 0);
	(void)cvmm_vub_vring_signal(vr);
	return r < 0 ? r : 0;
}
