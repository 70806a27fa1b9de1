/* SPDX-License-Identifier: Apache-2.0 */
/* The vhost-user requests, as callbacks of the vhost crate's backend. They
 * run on the serve() thread; vring changes reach the workers through
 * cvmm_vub_vring_try_start()/stop(). */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PF(b) CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_##b)

static int get_features(void *opaque, uint64_t *f)
{
	struct cvmm_vub *d = opaque;

	*f = d->o.features | CVMM_VUB_FRAMEWORK_FEATURES;
	if (d->o.flags & CVMM_VUB_F_SPLIT_ONLY)
		*f &= ~CVMM_VIRTIO_F_RING_PACKED;
	return 0;
}

static int set_features(void *opaque, uint64_t f)
{
	struct cvmm_vub *d = opaque;

	if ((f ^ d->features) & CVMM_VHOST_VIRTIO_F_ACCESS_PLATFORM)
		cvmm_vub_iotlb_flush(&d->iotlb);
	d->features = f;
	return d->ops.set_features ? d->ops.set_features(d->o.opaque, f) : 0;
}

static int get_protocol_features(void *opaque, uint64_t *f)
{
	struct cvmm_vub *d = opaque;

	*f = PF(MQ) | PF(REPLY_ACK) | PF(INFLIGHT_SHMFD) | PF(LOG_SHMFD) |
	     PF(CONFIGURE_MEM_SLOTS) | PF(STATUS) | PF(RESET_DEVICE) | PF(PAGEFAULT) |
	     PF(BACKEND_REQ); /* IOTLB misses (ACCESS_PLATFORM) */
	if (d->ops.get_config)
		*f |= PF(CONFIG);
	return 0;
}

static int set_protocol_features(void *opaque, uint64_t f)
{
	struct cvmm_vub *d = opaque;

	d->pfeatures = f;
	return 0;
}

static bool protocol_features_acked(const struct cvmm_vub *d)
{
	return d->features & (1ull << 30);
}

/* Stop every started vring, run @fn, start them again (a memory table
 * change must not race the workers' ring accesses). */
static int with_vrings_stopped(struct cvmm_vub *d, int (*fn)(struct cvmm_vub *, void *),
			       void *arg)
{
	bool *was = calloc(d->o.num_queues, sizeof(*was));
	int ret;

	if (!was)
		return -ENOMEM;
	for (unsigned int i = 0; i < d->o.num_queues; i++) {
		struct cvmm_vub_vring *vr = &d->vrings[i];

		was[i] = vr->started;
		cvmm_vub_vring_park(vr);
	}
	ret = fn(d, arg);
	for (unsigned int i = 0; i < d->o.num_queues; i++)
		if (was[i])
			(void)cvmm_vub_vring_try_start(&d->vrings[i]);
	free(was);
	return ret;
}

struct mem_args {
	const struct cvmm_vhost_mem_region *r;
	const int *fds;
	unsigned int n;
};

static int swap_mem(struct cvmm_vub *d, void *arg)
{
	struct mem_args *a = arg;
	struct cvmm_guest_mem *m = NULL;
	int ret;

	if (a->n) {
		ret = cvmm_vhost_mem_map(a->r, a->fds, a->n, &m);
		if (ret < 0)
			return ret;
	} else {
		ret = cvmm_guest_mem_create(&m);
		if (ret < 0)
			return ret;
	}
	if (d->pfeatures & PF(LOG_SHMFD))
		(void)cvmm_guest_mem_dirty_log_enable(m, true);
	/* Post-copy listens: the new mapping faults to the frontend before
	 * any ring touches it. */
	ret = cvmm_vub_postcopy_register(d, m);
	if (ret < 0) {
		cvmm_guest_mem_destroy(m);
		return ret;
	}
	cvmm_guest_mem_destroy(d->mem);
	d->mem = m;
	/* The windows point into the old table's guest addresses. */
	cvmm_vub_iotlb_flush(&d->iotlb);
	return 0;
}

static int set_mem_table(void *opaque, const struct cvmm_vhost_mem_region *r,
			 const int *fds, unsigned int n)
{
	struct cvmm_vub *d = opaque;
	struct mem_args a = { r, fds, n };

	if (d->pc_state == VUB_PC_LISTENING) {
		/* Post-copy: the rings start again on the new mapping only
		 * once the frontend knows its bases and serves its faults
		 * (postcopy_mem_acked); a ring start reads guest RAM on this
		 * thread, which must not sleep on a fault before the answer. */
		for (unsigned int i = 0; i < d->o.num_queues; i++) {
			struct cvmm_vub_vring *vr = &d->vrings[i];

			vr->pc_parked |= vr->started;
			cvmm_vub_vring_park(vr);
		}
		return swap_mem(d, &a);
	}
	return with_vrings_stopped(d, swap_mem, &a);
}

static void postcopy_mem_acked(void *opaque, bool ok)
{
	struct cvmm_vub *d = opaque;

	if (!ok)
		VUB_LOG(CVMM_LOG_WARN, "post-copy: the frontend did not acknowledge our "
			"mapping; rings start anyway");
	for (unsigned int i = 0; i < d->o.num_queues; i++) {
		struct cvmm_vub_vring *vr = &d->vrings[i];

		if (vr->pc_parked) {
			vr->pc_parked = false;
			(void)cvmm_vub_vring_try_start(vr);
		}
	}
}

static struct cvmm_vub_vring *vring(struct cvmm_vub *d, unsigned int idx)
{
	return &d->vrings[idx];
}

static int set_vring_num(void *opaque, unsigned int idx, unsigned int num)
{
	struct cvmm_vub_vring *vr = vring(opaque, idx);

	if (vr->started || num == 0 || num > CVMM_VIRTQ_MAX_SIZE)
		return -EBUSY;
	vr->num = (uint16_t)num;
	return 0;
}

static int set_vring_addr(void *opaque, const struct cvmm_vhost_vring_addr *a)
{
	struct cvmm_vub_vring *vr = vring(opaque, a->index);

	if (vr->started)
		return -EBUSY;
	vr->desc_gpa = a->desc_gpa;
	vr->avail_gpa = a->avail_gpa;
	vr->used_gpa = a->used_gpa;
	vr->addr_set = true;
	return 0;
}

/* The vhost crate checked the encoding against the acked ring format (and
 * the size, when known); do_start() checks again against the final size. */
static int set_vring_base(void *opaque, unsigned int idx, unsigned int base)
{
	struct cvmm_vub_vring *vr = vring(opaque, idx);

	if (vr->started)
		return -EBUSY;
	vr->base = base;
	return 0;
}

static int get_vring_base(void *opaque, unsigned int idx, unsigned int *base)
{
	struct cvmm_vub_vring *vr = vring(opaque, idx);

	cvmm_vub_vring_park(vr);
	*base = vr->base;
	/* The ring stops until a new kick fd arrives, as the protocol says. */
	cvmm_close(vr->kick_fd);
	vr->kick_fd = -1;
	return 0;
}

static int set_vring_kick(void *opaque, unsigned int idx, int fd)
{
	struct cvmm_vub_vring *vr = vring(opaque, idx);

	if (fd < 0)
		return -EOPNOTSUPP; /* polling mode is not offered */
	/* a new kick fd on a live ring: resume where it is */
	cvmm_vub_vring_park(vr);
	cvmm_close(vr->kick_fd);
	vr->kick_fd = fd;
	if (!protocol_features_acked(vr->d))
		vr->enabled = true;
	(void)cvmm_vub_vring_try_start(vr);
	return 0;
}

struct call_swap {
	struct cvmm_vub_vring *vr;
	int fd;
};

static int do_call_swap(struct cvmm_event_manager *em, void *arg)
{
	struct call_swap *s = arg;
	int old = s->vr->call_fd;

	(void)em;
	s->vr->call_fd = s->fd;
	return old;
}

static int set_vring_call(void *opaque, unsigned int idx, int fd)
{
	struct cvmm_vub_vring *vr = vring(opaque, idx);
	struct call_swap s = { vr, fd };
	int old;

	/* The worker reads call_fd on every signal: swap it on its thread. */
	if (vr->started)
		old = cvmm_event_manager_call(vr->w->em, do_call_swap, &s, true);
	else
		old = do_call_swap(NULL, &s);
	cvmm_close(old);
	return 0;
}

static int set_vring_err(void *opaque, unsigned int idx, int fd)
{
	struct cvmm_vub_vring *vr = vring(opaque, idx);

	cvmm_close(vr->err_fd);
	vr->err_fd = fd;
	return 0;
}

static int set_vring_enable(void *opaque, unsigned int idx, bool enable)
{
	struct cvmm_vub_vring *vr = vring(opaque, idx);

	vr->enabled = enable;
	if (enable)
		(void)cvmm_vub_vring_try_start(vr);
	else
		cvmm_vub_vring_park(vr);
	return 0;
}

static int get_config(void *opaque, uint32_t offset, void *buf, uint32_t len)
{
	struct cvmm_vub *d = opaque;

	if (!d->ops.get_config)
		return -EOPNOTSUPP;
	return d->ops.get_config(d->o.opaque, offset, buf, len);
}

static int set_config(void *opaque, uint32_t offset, const void *buf, uint32_t len,
		      uint32_t flags)
{
	struct cvmm_vub *d = opaque;

	(void)flags;
	if (!d->ops.set_config)
		return -EOPNOTSUPP;
	return d->ops.set_config(d->o.opaque, offset, buf, len);
}

struct log_args {
	int fd;
	uint64_t size, off;
};

static int swap_log(struct cvmm_vub *d, void *arg)
{
	struct log_args *a = arg;

	return cvmm_vub_log_set(d, a->fd, a->size, a->off);
}

static int set_log_base(void *opaque, int fd, uint64_t size, uint64_t off)
{
	struct log_args a = { fd, size, off };

	/* Workers read the log pointer on every signal. */
	return with_vrings_stopped(opaque, swap_log, &a);
}

struct inflight_args {
	bool get;
	int fd, *fdp;
	uint64_t size, off, *sizep, *offp;
	uint16_t nq, qsize;
};

static int swap_inflight(struct cvmm_vub *d, void *arg)
{
	struct inflight_args *a = arg;

	if (a->get)
		return cvmm_vub_inflight_get(d, a->nq, a->qsize, a->fdp, a->sizep, a->offp);
	return cvmm_vub_inflight_set(d, a->fd, a->size, a->off, a->nq, a->qsize);
}

/* Workers write through pointers into the region: never unmap it under
 * them (QEMU sends these before starting the rings; a hostile frontend
 * may not). */
/*
 * The packed layout of the inflight region (DescStatePacked) is not
 * implemented: packed rings do not use the region. The messages are still
 * accepted, because QEMU (7.2) sends GET_INFLIGHT_FD after SET_FEATURES
 * and gives up on the device when it is refused; the warning says what is
 * lost (a daemon restart loses a packed ring's requests in flight).
 */
static void inflight_packed_warn(const struct cvmm_vub *d)
{
	if (cvmm_vub_packed(d))
		VUB_LOG(CVMM_LOG_WARN, "inflight region accepted but not used: in-flight "
			"tracking is not implemented for packed rings");
}

static int get_inflight_fd(void *opaque, uint16_t nq, uint16_t qsize, int *fd,
			   uint64_t *size, uint64_t *off)
{
	struct inflight_args a = { .get = true, .fdp = fd, .sizep = size, .offp = off,
				   .nq = nq, .qsize = qsize };

	inflight_packed_warn(opaque);
	return with_vrings_stopped(opaque, swap_inflight, &a);
}

static int set_inflight_fd(void *opaque, int fd, uint64_t size, uint64_t off,
			   uint16_t nq, uint16_t qsize)
{
	struct inflight_args a = { .fd = fd, .size = size, .off = off, .nq = nq, .qsize = qsize };

	inflight_packed_warn(opaque);
	return with_vrings_stopped(opaque, swap_inflight, &a);
}

/*
 * SET_STATUS: the framework keeps the byte. Rings run only while
 * DRIVER_OK is set; without it (a status of 0 is a reset) every ring
 * stops with its requests finished and keeps its position, because a
 * frontend (QEMU) may send 0 before the GET_VRING_BASE that reads it.
 */
static int set_status(void *opaque, uint8_t status)
{
	struct cvmm_vub *d = opaque;

	d->status = status;
	for (unsigned int i = 0; i < d->o.num_queues; i++) {
		if (status & VUB_STATUS_DRIVER_OK)
			(void)cvmm_vub_vring_try_start(&d->vrings[i]);
		else
			cvmm_vub_vring_park(&d->vrings[i]);
	}
	return 0;
}

static int get_status(void *opaque, uint8_t *status)
{
	*status = ((struct cvmm_vub *)opaque)->status;
	return 0;
}

/* Stop every ring and forget its set-up (position and fds included). */
static void vrings_forget(struct cvmm_vub *d)
{
	for (unsigned int i = 0; i < d->o.num_queues; i++) {
		struct cvmm_vub_vring *vr = &d->vrings[i];

		if (vr->started)
			cvmm_vub_vring_stop(vr);
		cvmm_close(vr->kick_fd);
		cvmm_close(vr->call_fd);
		cvmm_close(vr->err_fd);
		vr->kick_fd = vr->call_fd = vr->err_fd = -1;
		vr->enabled = false;
		vr->pc_parked = false;
		vr->addr_set = false;
		vr->num = 0;
		vr->base = 0;
	}
}

/*
 * RESET_DEVICE (vhost-user.rst: disable all rings, reset the device state
 * to the initial one, ready to be initialised again; ownership stays):
 * rings stopped and forgotten, the inflight region dropped (the frontend
 * gets a new one after a reset), status 0, features unacked. The memory
 * table, dirty log, protocol features and backend channel are the
 * connection's, not the device's, and stay. Unlike RESET_OWNER
 * (deprecated; accepted and ignored here).
 */
static int reset_device(void *opaque)
{
	struct cvmm_vub *d = opaque;

	vrings_forget(d);
	cvmm_vub_inflight_unmap(d);
	d->status = 0;
	d->features = 0;
	return 0;
}

/* UPDATE / INVALIDATE, checked by the vhost crate (ACCESS_PLATFORM acked,
 * no wrap, perm, uaddr in one region = @gpa). An INVALIDATE is in force
 * when this returns, before the ack: a worker translating afterwards
 * misses, and the rings are translated again (the generation moved). */
static int iotlb_msg(void *opaque, const struct cvmm_vhost_iotlb_msg *m, uint64_t gpa)
{
	struct cvmm_vub *d = opaque;

	VUB_LOG(CVMM_LOG_DEBUG, "IOTLB %s iova 0x%llx size 0x%llx gpa 0x%llx perm %u",
		m->type == CVMM_VHOST_IOTLB_UPDATE ? "update" : "invalidate",
		(unsigned long long)m->iova, (unsigned long long)m->size,
		(unsigned long long)gpa, m->perm);
	if (m->type == CVMM_VHOST_IOTLB_UPDATE)
		return cvmm_vub_iotlb_update(&d->iotlb, m->iova, m->size, gpa, m->perm);
	return cvmm_vub_iotlb_invalidate(&d->iotlb, m->iova, m->size);
}

/* The connection ended (or the daemon exits): stop and forget everything
 * the frontend set up. */
void cvmm_vub_conn_reset(struct cvmm_vub *d)
{
	vrings_forget(d);
	cvmm_vub_postcopy_reset(d);
	cvmm_guest_mem_destroy(d->mem);
	d->mem = NULL;
	cvmm_vub_inflight_unmap(d);
	cvmm_vub_log_unmap(d);
	d->features = d->pfeatures = 0;
	d->status = 0;
	cvmm_vub_iotlb_flush(&d->iotlb);
}

const struct cvmm_vhost_backend_ops cvmm_vub_backend_ops = {
	.sz = sizeof(struct cvmm_vhost_backend_ops),
	.get_features = get_features,
	.set_features = set_features,
	.get_protocol_features = get_protocol_features,
	.set_protocol_features = set_protocol_features,
	.set_mem_table = set_mem_table,
	.set_vring_num = set_vring_num,
	.set_vring_addr = set_vring_addr,
	.set_vring_base = set_vring_base,
	.get_vring_base = get_vring_base,
	.set_vring_kick = set_vring_kick,
	.set_vring_call = set_vring_call,
	.set_vring_err = set_vring_err,
	.set_vring_enable = set_vring_enable,
	.get_config = get_config,
	.set_config = set_config,
	.set_log_base = set_log_base,
	.get_inflight_fd = get_inflight_fd,
	.set_inflight_fd = set_inflight_fd,
	.set_status = set_status,
	.get_status = get_status,
	.reset_device = reset_device,
	.postcopy_advise = cvmm_vub_postcopy_advise,
	.postcopy_listen = cvmm_vub_postcopy_listen,
	.postcopy_end = cvmm_vub_postcopy_end,
	.postcopy_mem_bases = cvmm_vub_postcopy_mem_bases,
	.postcopy_mem_acked = postcopy_mem_acked,
	.iotlb_msg = iotlb_msg,
};
