/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost-user devices of cvmm-microvm (see vhost-user.h). Everything but
 * config_read runs on the device thread, so the frontend (one thread at a
 * time) is only ever used there; the config space is cached under a lock
 * because vCPU threads read it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cvmm/sys-util.h>
#include <cvmm/vhost.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-queue.h>

#include "vhost-user.h"

#define LOG "vhost-user"
#define QUEUE_SIZE 256u
/* virtio-fs config: tag[36] + num_request_queues (le32). */
#define FS_CFG_SIZE 40u
#define NET_CFG_SIZE 12u
#define BLK_CFG_SIZE 60u
#define VHOST_F_LOG_ALL (1ull << 26)

struct microvm_vhost_dev {
	struct cvmm_virtio_device dev;
	struct microvm_vhost cfg;
	struct cvmm_event_manager *em;
	struct cvmm_vhost_frontend *fe;  /* NULL while the backend is gone */
	int sock;                        /* fe's socket, watched for hang-up */
	uint64_t backend_features;
	uint64_t protocol_features;      /* negotiated */
	/* INFLIGHT_SHMFD: the backend's record of requests it took, kept
	 * here across its death and handed back when it returns */
	int inflight_fd;
	uint64_t inflight_size, inflight_offset;
	bool detached;                   /* teardown: no more loop changes but DEL */
	struct cvmm_event_timer *retry;  /* reconnect=N: armed while disconnected */
	/* the state activate() handed us, for reconnecting */
	bool active;
	struct cvmm_guest_mem *mem;
	struct cvmm_virtq *queues;
	uint64_t features;
	bool kick_taken[CVMM_VIRTIO_MAX_QUEUES];
	pthread_mutex_t cfg_lock;
	int cfg_efd;                     /* vCPU -> device thread: config written */
	uint32_t dirty_lo, dirty_hi;     /* the written range not yet sent */
	uint8_t config[CVMM_VHOST_MAX_CONFIG_SIZE];
};

static struct microvm_vhost_dev *of(struct cvmm_virtio_device *dev)
{
	return (struct microvm_vhost_dev *)dev;
}

static const char *type_name(uint32_t type)
{
	switch (type) {
	case CVMM_VIRTIO_ID_NET: return "net";
	case CVMM_VIRTIO_ID_BLOCK: return "blk";
	case MICROVM_VIRTIO_ID_FS: return "fs";
	default: return "device";
	}
}

static void config_read(struct cvmm_virtio_device *dev, uint32_t offset, void *data, uint32_t len)
{
	struct microvm_vhost_dev *d = of(dev);

	pthread_mutex_lock(&d->cfg_lock);
	memcpy(data, d->config + offset, len);
	pthread_mutex_unlock(&d->cfg_lock);
}

/* A driver write: kept in the copy at once (so it reads back), sent with
 * SET_CONFIG from the device thread, which owns the socket. */
static void config_write(struct cvmm_virtio_device *dev, uint32_t offset, const void *data,
			 uint32_t len)
{
	struct microvm_vhost_dev *d = of(dev);

	if (d->cfg_efd < 0)
		return;
	pthread_mutex_lock(&d->cfg_lock);
	memcpy(d->config + offset, data, len);
	if (d->dirty_hi == d->dirty_lo) {
		d->dirty_lo = offset;
		d->dirty_hi = offset + len;
	} else {
		d->dirty_lo = offset < d->dirty_lo ? offset : d->dirty_lo;
		d->dirty_hi = offset + len > d->dirty_hi ? offset + len : d->dirty_hi;
	}
	pthread_mutex_unlock(&d->cfg_lock);
	(void)cvmm_eventfd_write(d->cfg_efd, 1);
}

static void cfg_cb(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct microvm_vhost_dev *d = opaque;
	uint8_t buf[CVMM_VHOST_MAX_CONFIG_SIZE];
	uint32_t lo, hi;
	uint64_t v;
	int ret;

	(void)em;
	(void)events;
	(void)cvmm_eventfd_read(fd, &v);
	pthread_mutex_lock(&d->cfg_lock);
	lo = d->dirty_lo;
	hi = d->dirty_hi;
	memcpy(buf, d->config + lo, hi - lo);
	d->dirty_lo = d->dirty_hi = 0;
	pthread_mutex_unlock(&d->cfg_lock);
	if (hi == lo || !d->fe)
		return;
	ret = cvmm_vhost_frontend_set_config(d->fe, lo, buf, hi - lo, 0);
	if (ret)
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: SET_CONFIG [%u, %u): %s", d->cfg.socket, lo, hi,
			 strerror(-ret));
}

/* Connect and take ownership; the caller checks features afterwards. */
static int handshake(struct microvm_vhost_dev *d)
{
	uint64_t pf = 0, want;
	int sock, ret;

	sock = cvmm_unix_connect(d->cfg.socket);
	if (sock < 0)
		return sock;
	d->sock = sock;
	ret = cvmm_vhost_frontend_create(sock, &d->fe);
	if (ret) {
		d->sock = -1;
		return ret;
	}
	ret = cvmm_vhost_frontend_set_owner(d->fe);
	if (!ret)
		ret = cvmm_vhost_frontend_get_features(d->fe, &d->backend_features);
	if (!ret && (d->backend_features & CVMM_VHOST_F_PROTOCOL_FEATURES)) {
		ret = cvmm_vhost_frontend_get_protocol_features(d->fe, &pf);
		want = CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_MQ) |
		       CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_REPLY_ACK) |
		       CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIG) |
		       CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_INFLIGHT_SHMFD);
		d->protocol_features = pf & want;
		if (!ret)
			ret = cvmm_vhost_frontend_set_protocol_features(d->fe, d->protocol_features);
	}
	if (ret) {
		cvmm_vhost_frontend_destroy(d->fe);
		d->fe = NULL;
		d->sock = -1;
	}
	return ret;
}

static void drop_backend(struct microvm_vhost_dev *d);

static int send_ring(struct microvm_vhost_dev *d, unsigned int i, unsigned int base)
{
	struct cvmm_virtq *q = &d->queues[i];
	struct cvmm_vhost_vring_addr_wire a = {
		.index = i,
		.desc_user_addr = (uint64_t)(uintptr_t)q->desc,
		.avail_user_addr = (uint64_t)(uintptr_t)q->avail,
		.used_user_addr = (uint64_t)(uintptr_t)q->used,
	};
	int kick = cvmm_virtio_mmio_notify_fd(d->dev.transport, i);
	/* The call fd is the device's KVM irqfd itself: the backend's signal
	 * is the guest's interrupt, with no VMM thread in between (the
	 * transport, created with used_irq_direct, always shows the used
	 * bit in InterruptStatus). Every queue shares it, as they share the
	 * one virtio-mmio interrupt line. */
	int call = cvmm_virtio_mmio_irq_fd(d->dev.transport);

	return cvmm_vhost_frontend_start_vring(d->fe, &a, q->size, base, kick, call,
					       d->backend_features & CVMM_VHOST_F_PROTOCOL_FEATURES);
}

static int get_inflight(struct microvm_vhost_dev *d)
{
	return cvmm_vhost_frontend_get_inflight_fd(d->fe, d->dev.num_queues, QUEUE_SIZE,
						   &d->inflight_fd, &d->inflight_size,
						   &d->inflight_offset);
}

/* Hand the rings to the backend. @resume: after a reconnect, start at the
 * used index (what the guest has not seen completed is done again). */
static int start_rings(struct microvm_vhost_dev *d, bool resume)
{
	uint64_t feat = d->features | (d->backend_features & CVMM_VHOST_F_PROTOCOL_FEATURES);
	int ret;

	/* The transport offers ring features of its own, and a backend that
	 * comes back may offer less: one that lacks a bit the driver took
	 * cannot serve the rings. */
	if (d->features & ~d->backend_features) {
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: driver features %#llx not offered by the backend",
			 d->cfg.socket, (unsigned long long)(d->features & ~d->backend_features));
		return -EOPNOTSUPP;
	}
	ret = cvmm_vhost_frontend_set_features(d->fe, feat);
	if (!ret)
		ret = cvmm_vhost_frontend_set_mem_table(d->fe, d->mem);
	if (!ret && (d->protocol_features & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_INFLIGHT_SHMFD)) &&
	    !(d->features & CVMM_VIRTIO_F_RING_PACKED)) {
		/* Only after a device reset: the first region comes from
		 * start-up (get_inflight), so the confined thread needs the
		 * fstat of the frontend's size check only then. */
		if (d->inflight_fd < 0)
			ret = get_inflight(d);
		if (!ret)
			ret = cvmm_vhost_frontend_set_inflight_fd(d->fe, d->inflight_fd,
								  d->inflight_size,
								  d->inflight_offset,
								  d->dev.num_queues, QUEUE_SIZE);
	}
	for (unsigned int i = 0; !ret && i < d->dev.num_queues; i++) {
		struct cvmm_virtq *q = &d->queues[i];
		unsigned int base = q->next_avail;

		if (!cvmm_virtq_active(q))
			continue;
		if (q->packed) {
			struct cvmm_vhost_packed_base pb = {
				.avail_idx = q->next_avail, .avail_wrap = q->avail_wrap,
				.used_idx = q->next_used, .used_wrap = q->used_wrap,
			};

			/* No way to learn where a dead backend stopped in a
			 * packed ring without inflight tracking. */
			if (resume)
				return -EOPNOTSUPP;
			base = cvmm_vhost_packed_base_encode(&pb);
		} else if (resume) {
			uint16_t used_idx;

			memcpy(&used_idx, q->used + 2, sizeof(used_idx));
			base = used_idx;
		}
		ret = send_ring(d, i, base);
	}
	return ret;
}

static void sock_cb(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct microvm_vhost_dev *d = opaque;
	char c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	(void)em;
	/* Between requests the backend has nothing to say: data or EOF here
	 * both mean the connection is out of step or gone. */
	if (!(events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)) &&
	    /* recvmsg, not recv: the thread's seccomp filter has it already */
	    recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT) != 0)
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: unexpected data from the backend", d->cfg.socket);
	drop_backend(d);
}

static void retry_cb(struct cvmm_event_manager *em, struct cvmm_event_timer *t,
		     uint64_t n, void *opaque)
{
	struct microvm_vhost_dev *d = opaque;
	int ret;

	(void)n;
	(void)t;
	if (d->fe || handshake(d))
		return;
	ret = cvmm_event_manager_add(em, d->sock, EPOLLRDHUP, sock_cb, d);
	if (!ret && d->active)
		ret = start_rings(d, true);
	if (ret) {
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: backend back but cannot resume: %s",
			 d->cfg.socket, strerror(-ret));
		drop_backend(d);
		return;
	}
	cvmm_event_manager_timer_set(em, d->retry, 0, 0);
	cvmm_log(CVMM_LOG_INFO, LOG, "%s: backend reconnected", d->cfg.socket);
}

static void release_kicks(struct microvm_vhost_dev *d)
{
	for (unsigned int i = 0; i < d->dev.num_queues; i++) {
		/* Back to the transport, which drains notifies again (not at
		 * teardown, where the transport removes it anyway). */
		if (d->kick_taken[i] && !d->detached)
			cvmm_event_manager_modify(d->em, cvmm_virtio_mmio_notify_fd(d->dev.transport, i),
						  EPOLLIN);
		d->kick_taken[i] = false;
	}
}

static void drop_backend(struct microvm_vhost_dev *d)
{
	if (!d->fe)
		return;
	cvmm_event_manager_remove(d->em, d->sock);
	cvmm_vhost_frontend_destroy(d->fe);
	d->fe = NULL;
	d->sock = -1;
	if (d->cfg.reconnect) {
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: backend hung up; retrying every %u s",
			 d->cfg.socket, d->cfg.reconnect);
		cvmm_event_manager_timer_set(d->em, d->retry, d->cfg.reconnect * 1000000000ull,
					     d->cfg.reconnect * 1000000000ull);
		return;
	}
	cvmm_log(CVMM_LOG_WARN, LOG, "%s: backend hung up; virtio-%s DEVICE_NEEDS_RESET",
		 d->cfg.socket, type_name(d->cfg.type));
	if (d->active) {
		release_kicks(d);
		cvmm_virtio_device_set_needs_reset(&d->dev);
	}
}

static int activate(struct cvmm_virtio_device *dev, struct cvmm_guest_mem *mem,
		    struct cvmm_virtq *queues, unsigned int num_queues, uint64_t features)
{
	struct microvm_vhost_dev *d = of(dev);
	int ret = 0;

	(void)num_queues;
	d->mem = mem;
	d->queues = queues;
	d->features = features;
	if (!d->fe && !d->cfg.reconnect)
		return -ENOTCONN;
	for (unsigned int i = 0; !ret && i < dev->num_queues; i++) {
		if (!cvmm_virtq_active(&queues[i]))
			continue;
		/* The backend, not the transport, consumes this queue's
		 * ioeventfd from now on. */
		ret = cvmm_event_manager_modify(d->em, cvmm_virtio_mmio_notify_fd(dev->transport, i), 0);
		if (ret)
			break;
		d->kick_taken[i] = true;
	}
	/* With reconnect=N and the backend away, the rings start when it is
	 * back (retry_cb). */
	if (!ret && d->fe)
		ret = start_rings(d, false);
	if (ret) {
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: starting the rings: %s", d->cfg.socket,
			 strerror(-ret));
		/* No reset() follows a failed activate: undo here. */
		release_kicks(d);
		return ret;
	}
	d->active = true;
	return 0;
}

static void queue_event(struct cvmm_virtio_device *dev, unsigned int q)
{
	/* Only while the backend does not own the kick fd: nothing to do. */
	(void)dev;
	(void)q;
}

static void reset(struct cvmm_virtio_device *dev)
{
	struct microvm_vhost_dev *d = of(dev);

	for (unsigned int i = 0; d->fe && i < dev->num_queues; i++) {
		unsigned int base;

		/* GET_VRING_BASE stops the ring in the backend. */
		if (d->kick_taken[i] && cvmm_vhost_frontend_get_vring_base(d->fe, i, &base))
			cvmm_log(CVMM_LOG_WARN, LOG, "%s: GET_VRING_BASE %u failed", d->cfg.socket, i);
	}
	release_kicks(d);
	d->active = false;
	/* A reset device starts with nothing in flight. */
	cvmm_close(d->inflight_fd);
	d->inflight_fd = -1;
}

static const struct cvmm_virtio_device_ops ops = {
	.config_read = config_read,
	.config_write = config_write,
	.activate = activate,
	.queue_event = queue_event,
	.reset = reset,
};

static int fail(char *err, size_t errlen, int ret, const struct microvm_vhost *c, const char *what)
{
	snprintf(err, errlen, "%s: socket: '%s': %s: %s", c->opt, c->socket, what, strerror(-ret));
	return ret;
}

int microvm_vhost_create(const struct microvm_vhost *c, struct cvmm_event_manager *em,
			 struct microvm_vhost_dev **out, char *err, size_t errlen)
{
	struct microvm_vhost_dev *d = calloc(1, sizeof(*d));
	unsigned int nq = c->queues;
	uint32_t cfg_size = 0;
	int ret;

	if (!d)
		return -ENOMEM;
	d->cfg = *c;
	d->em = em;
	d->sock = -1;
	d->inflight_fd = -1;
	d->cfg_efd = -1;
	pthread_mutex_init(&d->cfg_lock, NULL);
	*out = d;
	ret = handshake(d);
	if (ret)
		return fail(err, errlen, ret, c, "cannot connect to the vhost-user backend");
	if (!nq) {
		uint64_t n = 1;

		if (c->type == CVMM_VIRTIO_ID_NET)
			n = 2;
		else if (c->type == MICROVM_VIRTIO_ID_FS)
			n = 2;
		else if (d->protocol_features & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_MQ))
			(void)cvmm_vhost_frontend_get_queue_num(d->fe, &n);
		nq = n >= 1 && n <= CVMM_VIRTIO_MAX_QUEUES ? (unsigned int)n : 1;
	}
	if (nq > CVMM_VIRTIO_MAX_QUEUES)
		return fail(err, errlen, -E2BIG, c, "too many queues");
	if (d->protocol_features & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_MQ)) {
		uint64_t max = 0;

		ret = cvmm_vhost_frontend_get_queue_num(d->fe, &max);
		if (ret)
			return fail(err, errlen, ret, c, "GET_QUEUE_NUM");
		if (nq > max) {
			snprintf(err, errlen, "%s: queues: %u, but the backend on '%s' has %llu",
				 c->opt, nq, c->socket, (unsigned long long)max);
			return -EINVAL;
		}
	}
	switch (c->type) {
	case CVMM_VIRTIO_ID_BLOCK: cfg_size = BLK_CFG_SIZE; break;
	case CVMM_VIRTIO_ID_NET: cfg_size = NET_CFG_SIZE; break;
	case MICROVM_VIRTIO_ID_FS: cfg_size = FS_CFG_SIZE; break;
	default: cfg_size = 0; break;
	}
	if (c->type == MICROVM_VIRTIO_ID_FS && !(d->protocol_features & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIG))) {
		uint32_t req = nq - 1;

		/* virtiofsd leaves the config to the VMM. */
		memcpy(d->config, c->tag, strnlen(c->tag, 36));
		memcpy(d->config + 36, &req, sizeof(req));
	} else if (cfg_size) {
		if (!(d->protocol_features & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIG)))
			return fail(err, errlen, -EOPNOTSUPP, c,
				    "backend cannot report its configuration (PROTOCOL_F_CONFIG)");
		ret = cvmm_vhost_frontend_get_config(d->fe, 0, d->config, cfg_size);
		if (ret)
			return fail(err, errlen, ret, c, "GET_CONFIG");
		d->cfg_efd = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
		if (d->cfg_efd < 0)
			return fail(err, errlen, d->cfg_efd, c, "eventfd");
		ret = cvmm_event_manager_add(em, d->cfg_efd, EPOLLIN, cfg_cb, d);
		if (ret) {
			cvmm_close(d->cfg_efd);
			d->cfg_efd = -1;
			return fail(err, errlen, ret, c, "watching the config eventfd");
		}
	}
	for (unsigned int i = 0; i < nq; i++)
		d->dev.queue_max_size[i] = QUEUE_SIZE;
	d->dev.num_queues = (uint16_t)nq;
	if (d->protocol_features & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_INFLIGHT_SHMFD)) {
		ret = get_inflight(d);
		if (ret)
			return fail(err, errlen, ret, c, "GET_INFLIGHT_FD");
	}
	ret = cvmm_event_manager_add(em, d->sock, EPOLLRDHUP, sock_cb, d);
	if (ret)
		return fail(err, errlen, ret, c, "watching the socket");
	/* Created disarmed here, before the device thread is confined: the
	 * thread only arms and disarms it. */
	if (c->reconnect) {
		ret = cvmm_event_manager_timer_add(em, 0, 0, retry_cb, d, &d->retry);
		if (ret)
			return fail(err, errlen, ret, c, "reconnect timer");
	}
	d->dev.ops = &ops;
	d->dev.device_id = c->type;
	d->dev.config_size = cfg_size;
	d->dev.num_queues = (uint16_t)nq;
	/* Device bits, and transport bits the backend implements; never
	 * the vhost-only ones or ACCESS_PLATFORM (no IOMMU here). */
	d->dev.features = d->backend_features &
			  ~(CVMM_VHOST_F_PROTOCOL_FEATURES | VHOST_F_LOG_ALL |
			    CVMM_VIRTIO_F_ACCESS_PLATFORM);
	cvmm_log(CVMM_LOG_INFO, LOG,
		 "%s: virtio-%s (id %u), backend features %#llx, protocol features %#llx, %u queues, %u config bytes%s%s",
		 c->socket, type_name(c->type), c->type, (unsigned long long)d->backend_features,
		 (unsigned long long)d->protocol_features, nq, cfg_size,
		 c->type == MICROVM_VIRTIO_ID_FS ? ", tag " : "",
		 c->type == MICROVM_VIRTIO_ID_FS ? c->tag : "");
	return 0;
}

void microvm_vhost_detach(struct microvm_vhost_dev *d)
{
	if (!d)
		return;
	d->detached = true;
	if (!d->fe)
		return;
	cvmm_event_manager_remove(d->em, d->sock);
	cvmm_vhost_frontend_destroy(d->fe);
	d->fe = NULL;
	d->sock = -1;
}

struct cvmm_virtio_device *microvm_vhost_device(struct microvm_vhost_dev *d)
{
	return &d->dev;
}

void microvm_vhost_destroy(struct microvm_vhost_dev *d)
{
	if (!d)
		return;
	/* The reconnect timer is left to cvmm_event_manager_destroy(), which
	 * follows: removing it here would disarm it (timerfd_settime) from
	 * the main thread, whose seccomp filter has no timer calls. */
	if (d->sock >= 0)
		cvmm_event_manager_remove(d->em, d->sock);
	cvmm_vhost_frontend_destroy(d->fe);
	cvmm_close(d->inflight_fd);
	if (d->cfg_efd >= 0)
		cvmm_event_manager_remove(d->em, d->cfg_efd);
	cvmm_close(d->cfg_efd);
	pthread_mutex_destroy(&d->cfg_lock);
	free(d);
}
