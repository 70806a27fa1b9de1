/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio device served by a vhost-user backend (see
 * cvmm/virtio-devices/vhost-user.h). Everything but config access runs on
 * the device thread, so the frontend (one thread at a time) is only ever
 * used there; the config space is cached under a lock because vCPU threads
 * read it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cvmm/event-manager.h>
#include <cvmm/sys-util.h>
#include <cvmm/vhost.h>
#include <cvmm/virtio-devices/vhost-user.h>
#include <cvmm/virtio-queue.h>
#include <cvmm/vm-memory.h>

#include "internal.h"

#define LOG "vhost-user"
/* virtio-fs config: tag[36] + num_request_queues (le32). */
#define FS_CFG_SIZE 40u
#define NET_CFG_SIZE 12u
#define BLK_CFG_SIZE 60u
#define VHOST_F_LOG_ALL (1ull << 26)
#define LOG_PAGE_SHIFT 12u

#define VU_STATE_MAGIC 0x53735556u /* "VUsS" */
#define VU_STATE_VERSION 1u

/* How start_rings() finds each ring's first index. */
enum ring_base_from {
	BASE_QUEUE,     /* the transport's queue (a fresh activation) */
	BASE_USED,      /* a reconnect: the used index (redo what the guest did not see) */
	BASE_SAVED,     /* pause or a restored state: what GET_VRING_BASE said */
};

/* Saved state: plain little-endian data. */
struct vu_state {
	uint32_t magic;
	uint32_t version;
	uint32_t device_id;
	uint32_t num_queues;
	uint64_t features;           /* acked by the driver */
	uint64_t backend_features;
	uint64_t protocol_features;
	uint32_t config_size;
	uint32_t base_valid;         /* bit i: base[i] holds ring i's position */
	uint32_t base[CVMM_VIRTIO_MAX_QUEUES];
	uint8_t config[CVMM_VHOST_MAX_CONFIG_SIZE];
};

struct cvmm_vhost_user_dev {
	struct cvmm_virtio_device dev;
	char socket[108];
	char fs_tag[37];
	unsigned int reconnect;
	unsigned int queue_size;
	struct cvmm_event_manager *em;
	struct cvmm_vhost_frontend *fe;  /* NULL while the backend is gone */
	int sock;                        /* fe's socket, watched for hang-up */
	bool sock_watched;               /* sock is on the loop */
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
	/* pause / restore: where each ring stopped (wire encoding) */
	bool paused;
	bool restored;                   /* activate starts from base[] */
	uint32_t base_valid;
	uint32_t base[CVMM_VIRTIO_MAX_QUEUES];
	/* dirty log (LOG_SHMFD) */
	int log_fd;
	uint64_t *log;
	uint64_t log_size;
	bool log_wanted;                 /* asked for while inactive: mapped at activate */
	pthread_mutex_t cfg_lock;
	int cfg_efd;                     /* vCPU -> device thread: config written */
	uint32_t dirty_lo, dirty_hi;     /* the written range not yet sent */
	uint8_t config[CVMM_VHOST_MAX_CONFIG_SIZE];	/* post-copy at the destination (PAGEFAULT): LISTEN sent, and the
	 * backend's mapping of each region as its SET_MEM_TABLE answer said
	 * (pc_lock: read by the VM's fault thread) */
	bool pc_listening;
	pthread_mutex_t pc_lock;
	/* start_rings() vs postcopy_end(): before the device thread runs,
	 * the VM's start (resume) and the migration's end may come at once
	 * from two threads, on one socket */
	pthread_mutex_t pc_io;
	unsigned int pc_n;
	struct cvmm_vhost_user_pc_region pc[CVMM_VHOST_BASELINE_NREGIONS];
	/* behind a virtio-iommu: the transport's translation (from the queues
	 * at activate), the backend channel that brings IOTLB misses, and
	 * whether the backend took ACCESS_PLATFORM (it then holds an IOTLB
	 * that every withdrawal must reach) */
	bool iommu;
	const struct cvmm_dma_xlate *dma;
	bool dma_watched;
	int chan_fd;                     /* watched on the loop, -1 none */
	bool iotlb_on;
	uint64_t iotlb_updates, iotlb_invalidates, iotlb_refused;
};

static struct cvmm_vhost_user_dev *of(struct cvmm_virtio_device *dev)
{
	return CVMM_CONTAINER_OF(dev, struct cvmm_vhost_user_dev, dev);
}

static const char *type_name(uint32_t type)
{
	switch (type) {
	case CVMM_VIRTIO_ID_NET: return "net";
	case CVMM_VIRTIO_ID_BLOCK: return "blk";
	case CVMM_VIRTIO_ID_FS: return "fs";
	default: return "device";
	}
}

static void config_read(struct cvmm_virtio_device *dev, uint32_t offset, void *data, uint32_t len)
{
	struct cvmm_vhost_user_dev *d = of(dev);

	pthread_mutex_lock(&d->cfg_lock);
	vd_config_copy(d->config, sizeof(d->config), offset, data, len);
	pthread_mutex_unlock(&d->cfg_lock);
}

/* A driver write: kept in the copy at once (so it reads back), sent with
 * SET_CONFIG from the device thread, which owns the socket. */
static void config_write(struct cvmm_virtio_device *dev, uint32_t offset, const void *data,
			 uint32_t len)
{
	struct cvmm_vhost_user_dev *d = of(dev);

	if (d->cfg_efd < 0 || !cvmm_range_ok(offset, len, sizeof(d->config)))
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
	struct cvmm_vhost_user_dev *d = opaque;
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
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: SET_CONFIG [%u, %u): %s", d->socket, lo, hi,
			 strerror(-ret));
}

static void drop_backend(struct cvmm_vhost_user_dev *d);

/* ------------------------------------------------------------------------ */
/* Behind a virtio-iommu: the backend's IOTLB                                */
/* ------------------------------------------------------------------------ */

static void unwatch_chan(struct cvmm_vhost_user_dev *d)
{
	if (d->chan_fd >= 0)
		cvmm_event_manager_remove(d->em, d->chan_fd);
	d->chan_fd = -1;
}

/*
 * A MISS: the window of the IOMMU mapping around @iova, cut to the guest
 * memory region it lands in (the backend maps regions, not guest physical
 * space as one piece), as an UPDATE with our address of its first byte.
 * An IOVA the guest did not map (or not for this access) gets nothing.
 */
static int answer_miss(struct cvmm_vhost_user_dev *d, const struct cvmm_vhost_iotlb_msg *t)
{
	const struct cvmm_mem_region *r;
	struct cvmm_vhost_iotlb_msg u = { 0 };
	struct cvmm_dma_span span;
	uint64_t gpa, lo, hi, below, above;
	int ret;

	if (!d->dma || !d->mem)
		return -EFAULT;
	ret = d->dma->translate(d->dma->opaque, t->iova, 1, t->perm, &gpa, &span);
	if (ret < 0)
		return ret;
	r = cvmm_guest_mem_find(d->mem, gpa);
	if (!r)
		return -EFAULT;
	if (!span.perm) /* no window to reuse: the byte's page at most */
		span = (struct cvmm_dma_span){ t->iova, t->iova, gpa, t->perm };
	/* [lo, hi]: the window's IOVAs whose guest addresses stay in r */
	below = gpa - r->gpa;
	above = r->gpa + r->size - 1 - gpa;
	lo = t->iova - span.iova > below ? t->iova - below : span.iova;
	hi = span.last - t->iova > above ? t->iova + above : span.last;
	u.type = CVMM_VHOST_IOTLB_UPDATE;
	u.iova = lo;
	u.size = hi - lo + 1;
	u.uaddr = (uint64_t)(uintptr_t)(r->host + (gpa - (t->iova - lo) - r->gpa));
	u.perm = (uint8_t)span.perm;
	ret = cvmm_vhost_frontend_iotlb_msg(d->fe, &u);
	if (ret == 0)
		d->iotlb_updates++;
	return ret;
}

static void chan_cb(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct cvmm_vhost_user_dev *d = opaque;
	struct cvmm_vhost_backend_event ev;
	int ret, err = 0;

	(void)em;
	(void)fd;
	(void)events;
	if (!d->fe)
		return;
	ret = cvmm_vhost_frontend_recv_backend_req(d->fe, &ev);
	if (ret == -EAGAIN || ret == -EINTR)
		return;
	if (ret == -EPIPE || ret == -EPROTO || ret == -ENOTCONN) {
		/* The backend's IOTLB misses go unanswered from now on: its
		 * rings fail their requests, nothing else is reachable. */
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: backend channel closed", d->socket);
		unwatch_chan(d);
		return;
	}
	if (ret < 0) {
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: backend request %u refused: %s", d->socket,
			 ev.request, strerror(-ret));
		return;
	}
	if (ev.request == CVMM_VHOST_BACKEND_IOTLB_MSG) {
		if (ev.iotlb.type == CVMM_VHOST_IOTLB_MISS) {
			err = answer_miss(d, &ev.iotlb);
			if (err == -EFAULT || err == -EACCES)
				d->iotlb_refused++;
			else if (err < 0)
				cvmm_log(CVMM_LOG_WARN, LOG, "%s: IOTLB update for 0x%llx: %s",
					 d->socket, (unsigned long long)ev.iotlb.iova,
					 strerror(-err));
		} else {
			cvmm_log(CVMM_LOG_DEBUG, LOG, "%s: backend access to IOVA 0x%llx failed",
				 d->socket, (unsigned long long)ev.iotlb.iova);
		}
	}
	if (ev.ack_due && d->fe &&
	    cvmm_vhost_frontend_backend_req_ack(d->fe, ev.request, err) == -EPIPE)
		unwatch_chan(d);
}

static int open_channel(struct cvmm_vhost_user_dev *d)
{
	int ret = cvmm_vhost_frontend_open_backend_channel(d->fe);

	if (ret)
		return ret;
	ret = cvmm_event_manager_add(d->em, cvmm_vhost_frontend_backend_channel_fd(d->fe),
				     EPOLLIN, chan_cb, d);
	if (!ret)
		d->chan_fd = cvmm_vhost_frontend_backend_channel_fd(d->fe);
	return ret;
}

/* Send INVALIDATE for [iova, last] (the whole space takes two: size is
 * 64 bits). */
static int invalidate(struct cvmm_vhost_user_dev *d, uint64_t iova, uint64_t last)
{
	struct cvmm_vhost_iotlb_msg t = { .type = CVMM_VHOST_IOTLB_INVALIDATE, .iova = iova };
	int ret;

	if (last - iova == UINT64_MAX) {
		t.size = UINT64_MAX; /* [0, UINT64_MAX - 1] */
		ret = cvmm_vhost_frontend_iotlb_msg(d->fe, &t);
		t.iova = UINT64_MAX;
		t.size = 1;
		return ret ? ret : cvmm_vhost_frontend_iotlb_msg(d->fe, &t);
	}
	t.size = last - iova + 1;
	return cvmm_vhost_frontend_iotlb_msg(d->fe, &t);
}

/* The IOMMU withdrew translations: the backend drops them before the
 * guest's unmap completes (this runs before the IOMMU's request does). */
static void on_withdraw(void *arg, uint64_t iova, uint64_t last)
{
	struct cvmm_vhost_user_dev *d = arg;
	int ret;

	if (!d->fe || !d->iotlb_on)
		return;
	ret = invalidate(d, iova, last);
	if (ret == 0) {
		d->iotlb_invalidates++;
		return;
	}
	/* A backend that cannot drop a translation must not keep using it:
	 * cut it off (its rings stop with the connection). */
	cvmm_log(CVMM_LOG_WARN, LOG, "%s: IOTLB invalidate [0x%llx, 0x%llx]: %s; dropping "
		 "the backend", d->socket, (unsigned long long)iova, (unsigned long long)last,
		 strerror(-ret));
	drop_backend(d);
}

static void unwatch_dma(struct cvmm_vhost_user_dev *d)
{
	if (d->dma_watched && d->dma->watch)
		(void)d->dma->watch(d->dma->opaque, NULL, NULL);
	d->dma_watched = false;
}

/* Connect and take ownership; the caller checks features afterwards. */
static int handshake(struct cvmm_vhost_user_dev *d)
{
	uint64_t pf = 0, want;
	int sock, ret;

	sock = cvmm_unix_connect(d->socket);
	if (sock < 0)
		return sock;
	d->sock = sock;
	ret = cvmm_vhost_frontend_create(sock, &d->fe);
	if (ret) {
		d->sock = -1;
		return ret;
	}
	d->protocol_features = 0;
	if (d->pc_listening) {
		/* A new backend was never advised: its accesses are not ours
		 * to serve, and it would not answer a post-copy table. */
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: backend reconnected during post-copy: pages "
			 "not yet here may read as zero in it", d->socket);
		d->pc_listening = false;
		pthread_mutex_lock(&d->pc_lock);
		d->pc_n = 0;
		pthread_mutex_unlock(&d->pc_lock);
	}
	ret = cvmm_vhost_frontend_set_owner(d->fe);
	if (!ret)
		ret = cvmm_vhost_frontend_get_features(d->fe, &d->backend_features);
	if (!ret && (d->backend_features & CVMM_VHOST_F_PROTOCOL_FEATURES)) {
		ret = cvmm_vhost_frontend_get_protocol_features(d->fe, &pf);
		want = CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_MQ) |
		       CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_REPLY_ACK) |
		       CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIG) |
		       CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_INFLIGHT_SHMFD) |
		       CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_LOG_SHMFD) |
		       CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_PAGEFAULT);
		/* The IOTLB misses come on the backend channel. */
		if (d->iommu)
			want |= CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_BACKEND_REQ);
		d->protocol_features = pf & want;
		if (!ret)
			ret = cvmm_vhost_frontend_set_protocol_features(d->fe, d->protocol_features);
	}
	if (!ret && d->iommu) {
		const uint64_t need = CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_BACKEND_REQ) |
				      CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_REPLY_ACK);

		if (!(d->backend_features & CVMM_VIRTIO_F_ACCESS_PLATFORM) ||
		    (d->protocol_features & need) != need)
			ret = -EOPNOTSUPP;
		else
			ret = open_channel(d);
	}
	if (ret) {
		unwatch_chan(d);
		cvmm_vhost_frontend_destroy(d->fe);
		d->fe = NULL;
		d->sock = -1;
		d->protocol_features = 0;
	}
	return ret;
}

static void unwatch_sock(struct cvmm_vhost_user_dev *d)
{
	if (d->sock_watched)
		cvmm_event_manager_remove(d->em, d->sock);
	d->sock_watched = false;
}

static int send_ring(struct cvmm_vhost_user_dev *d, unsigned int i, unsigned int base)
{
	struct cvmm_virtq *q = &d->queues[i];
	/* Behind the IOMMU the backend gets the driver's IOVAs and asks for
	 * their translations (ACCESS_PLATFORM). */
	struct cvmm_vhost_vring_addr_wire a = {
		.index = i,
		.desc_user_addr = d->iotlb_on ? q->desc_gpa : (uint64_t)(uintptr_t)q->desc,
		.avail_user_addr = d->iotlb_on ? q->avail_gpa : (uint64_t)(uintptr_t)q->avail,
		.used_user_addr = d->iotlb_on ? q->used_gpa : (uint64_t)(uintptr_t)q->used,
	};
	int kick = cvmm_virtio_transport_notify_fd(d->dev.transport, i);
	/* The call fd is the KVM irqfd of queue i's interrupt itself: the
	 * backend's signal is the guest's interrupt, with no VMM thread in
	 * between (the virtio-mmio transport, created with used_irq_direct,
	 * always shows the used bit in InterruptStatus; on virtio-mmio every
	 * queue shares the one line's fd). */
	int call = cvmm_virtio_interrupt_notifier_fd(
		cvmm_virtio_transport_interrupt(d->dev.transport), CVMM_VIRTIO_IRQ_QUEUE, i);

	/* While logging, the backend also logs its used-ring writes (those
	 * backends that log only what the flag asks for). */
	if (d->log) {
		a.flags = CVMM_VHOST_VRING_F_LOG;
		a.log_guest_addr = d->iotlb_on ? q->used_phys : q->used_gpa;
	}
	return cvmm_vhost_frontend_start_vring(d->fe, &a, q->size, base, kick, call,
					       d->backend_features & CVMM_VHOST_F_PROTOCOL_FEATURES);
}

static int get_inflight(struct cvmm_vhost_user_dev *d)
{
	return cvmm_vhost_frontend_get_inflight_fd(d->fe, d->dev.num_queues,
						   (uint16_t)d->queue_size, &d->inflight_fd,
						   &d->inflight_size, &d->inflight_offset);
}

static int log_map(struct cvmm_vhost_user_dev *d);

static uint64_t ring_features(const struct cvmm_vhost_user_dev *d)
{
	uint64_t f = d->features | (d->backend_features & CVMM_VHOST_F_PROTOCOL_FEATURES);

	return d->log ? f | VHOST_F_LOG_ALL : f;
}

/* Post-copy: the table, the backend's bases kept for the fault thread,
 * then the acknowledgement that lets the backend fault. */
static int mem_table_postcopy(struct cvmm_vhost_user_dev *d)
{
	uint64_t bases[CVMM_VHOST_BASELINE_NREGIONS];
	unsigned int n = cvmm_guest_mem_num_regions(d->mem);
	int ret = cvmm_vhost_frontend_set_mem_table_postcopy(d->fe, d->mem, bases);

	if (ret)
		return ret;
	pthread_mutex_lock(&d->pc_lock);
	for (unsigned int i = 0; i < n; i++) {
		const struct cvmm_mem_region *g = cvmm_guest_mem_region(d->mem, i);

		d->pc[i] = (struct cvmm_vhost_user_pc_region){ g->gpa, g->size, bases[i] };
	}
	d->pc_n = n;
	pthread_mutex_unlock(&d->pc_lock);
	return cvmm_vhost_frontend_postcopy_mem_ack(d->fe, 0);
}

static int start_rings_locked(struct cvmm_vhost_user_dev *d, enum ring_base_from from);

/* Hand the rings to the backend, each starting where @from says. */
static int start_rings(struct cvmm_vhost_user_dev *d, enum ring_base_from from)
{
	int ret;

	pthread_mutex_lock(&d->pc_io);
	ret = start_rings_locked(d, from);
	pthread_mutex_unlock(&d->pc_io);
	return ret;
}

static int start_rings_locked(struct cvmm_vhost_user_dev *d, enum ring_base_from from)
{
	int ret;

	/* The transport offers ring features of its own, and a backend that
	 * comes back may offer less: one that lacks a bit the driver took
	 * cannot serve the rings. */
	if (d->features & ~d->backend_features) {
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: driver features %#llx not offered by the backend",
			 d->socket, (unsigned long long)(d->features & ~d->backend_features));
		return -EOPNOTSUPP;
	}
	/* A backend behind the IOMMU keeps an IOTLB: from now on every
	 * withdrawal must reach it (none was cached before: a new
	 * connection starts with an empty one). */
	d->iotlb_on = false;
	if (d->dma && !(d->features & CVMM_VIRTIO_F_ACCESS_PLATFORM)) {
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: the driver refused ACCESS_PLATFORM behind the "
			 "IOMMU", d->socket);
		return -EOPNOTSUPP;
	}
	ret = cvmm_vhost_frontend_set_features(d->fe, ring_features(d));
	if (!ret && d->dma) {
		d->iotlb_on = true;
		cvmm_log(CVMM_LOG_INFO, LOG, "%s: behind the IOMMU: ring addresses are IOVAs, "
			 "the backend's IOTLB is kept in step", d->socket);
	}
	if (!ret)
		ret = d->pc_listening ? mem_table_postcopy(d)
				      : cvmm_vhost_frontend_set_mem_table(d->fe, d->mem);
	if (!ret && d->log)
		ret = cvmm_vhost_frontend_set_log_base(d->fe, d->log_fd, d->log_size, 0);
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
								  d->dev.num_queues,
								  (uint16_t)d->queue_size);
	}
	for (unsigned int i = 0; !ret && i < d->dev.num_queues; i++) {
		struct cvmm_virtq *q = &d->queues[i];
		unsigned int base = q->next_avail;

		if (!cvmm_virtq_active(q))
			continue;
		if (from == BASE_SAVED && (d->base_valid & (1u << i))) {
			base = d->base[i];
		} else if (q->packed) {
			struct cvmm_vhost_packed_base pb = {
				.avail_idx = q->next_avail, .avail_wrap = q->avail_wrap,
				.used_idx = q->next_used, .used_wrap = q->used_wrap,
			};

			/* No way to learn where a dead backend stopped in a
			 * packed ring without inflight tracking. */
			if (from == BASE_USED)
				return -EOPNOTSUPP;
			base = cvmm_vhost_packed_base_encode(&pb);
		} else if (from == BASE_USED) {
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
	struct cvmm_vhost_user_dev *d = opaque;
	char c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	(void)em;
	/* Between requests the backend has nothing to say: data or EOF here
	 * both mean the connection is out of step or gone. */
	if (!(events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)) &&
	    /* recvmsg, not recv: the thread's seccomp filter has it already */
	    recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT) != 0)
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: unexpected data from the backend", d->socket);
	drop_backend(d);
}

static void retry_cb(struct cvmm_event_manager *em, struct cvmm_event_timer *t,
		     uint64_t n, void *opaque)
{
	struct cvmm_vhost_user_dev *d = opaque;
	int ret;

	(void)n;
	(void)t;
	if (d->fe || handshake(d))
		return;
	ret = cvmm_event_manager_add(em, d->sock, EPOLLRDHUP, sock_cb, d);
	d->sock_watched = ret == 0;
	/* A paused device gets its rings at resume. */
	if (!ret && d->active && !d->paused)
		ret = start_rings(d, BASE_USED);
	if (ret) {
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: backend back but cannot resume: %s",
			 d->socket, strerror(-ret));
		drop_backend(d);
		return;
	}
	cvmm_event_manager_timer_set(em, d->retry, 0, 0);
	cvmm_log(CVMM_LOG_INFO, LOG, "%s: backend reconnected", d->socket);
}

static void release_kicks(struct cvmm_vhost_user_dev *d)
{
	for (unsigned int i = 0; i < d->dev.num_queues; i++) {
		/* Back to the transport, which drains notifies again (not at
		 * teardown, where the transport removes it anyway). */
		if (d->kick_taken[i] && !d->detached)
			cvmm_event_manager_modify(d->em, cvmm_virtio_transport_notify_fd(d->dev.transport, i),
						  EPOLLIN);
		d->kick_taken[i] = false;
	}
}

static void drop_backend(struct cvmm_vhost_user_dev *d)
{
	if (!d->fe)
		return;
	unwatch_sock(d);
	unwatch_chan(d);
	d->iotlb_on = false;
	cvmm_vhost_frontend_destroy(d->fe);
	d->fe = NULL;
	d->sock = -1;
	d->protocol_features = 0;
	if (d->reconnect) {
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: backend hung up; retrying every %u s",
			 d->socket, d->reconnect);
		cvmm_event_manager_timer_set(d->em, d->retry, d->reconnect * 1000000000ull,
					     d->reconnect * 1000000000ull);
		return;
	}
	cvmm_log(CVMM_LOG_WARN, LOG, "%s: backend hung up; virtio-%s DEVICE_NEEDS_RESET",
		 d->socket, type_name(d->dev.device_id));
	if (d->active) {
		release_kicks(d);
		cvmm_virtio_device_set_needs_reset(&d->dev);
	}
}

static int activate(struct cvmm_virtio_device *dev, struct cvmm_guest_mem *mem,
		    struct cvmm_virtq *queues, unsigned int num_queues, uint64_t features)
{
	struct cvmm_vhost_user_dev *d = of(dev);
	int ret = 0;

	(void)num_queues;
	d->mem = mem;
	d->queues = queues;
	d->features = features;
	if (!d->fe && !d->reconnect)
		return -ENOTCONN;
	/* Logging asked for before the driver started us: from the first
	 * ring on (start_rings sends the log and LOG_ALL). */
	if (d->log_wanted && !d->log && (ret = log_map(d)))
		return ret;
	/* The transport puts every queue behind the same translation. */
	d->dma = d->iommu && dev->num_queues ? queues[0].dma : NULL;
	if (d->iommu && !d->dma)
		return -EINVAL;
	if (d->dma && !d->dma_watched) {
		if (!d->dma->watch || (ret = d->dma->watch(d->dma->opaque, on_withdraw, d)))
			return ret ? ret : -EOPNOTSUPP;
		d->dma_watched = true;
	}
	for (unsigned int i = 0; !ret && i < dev->num_queues; i++) {
		if (!cvmm_virtq_active(&queues[i]))
			continue;
		/* The backend, not the transport, consumes this queue's
		 * ioeventfd from now on. */
		ret = cvmm_event_manager_modify(d->em, cvmm_virtio_transport_notify_fd(dev->transport, i), 0);
		if (ret)
			break;
		d->kick_taken[i] = true;
	}
	/* With reconnect=N and the backend away, the rings start when it is
	 * back (retry_cb). A restored state starts them where the saved
	 * backend stopped, not where the VMM's queue copy says. */
	if (!ret && d->fe && d->restored && d->pc_listening) {
		/* Post-copy: a ring start makes the backend read guest RAM,
		 * whose pages the source sends only once this VM runs. The
		 * rings start with it (resume), from the saved bases. */
		d->restored = false;
		d->paused = true;
		d->active = true;
		return 0;
	}
	if (!ret && d->fe)
		ret = start_rings(d, d->restored ? BASE_SAVED : BASE_QUEUE);
	if (ret) {
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: starting the rings: %s", d->socket,
			 strerror(-ret));
		/* No reset() follows a failed activate: undo here. */
		release_kicks(d);
		return ret;
	}
	d->restored = false;
	d->paused = false;
	d->base_valid = 0;
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
	struct cvmm_vhost_user_dev *d = of(dev);

	for (unsigned int i = 0; d->fe && !d->paused && i < dev->num_queues; i++) {
		unsigned int base;

		/* GET_VRING_BASE stops the ring in the backend. */
		if (d->kick_taken[i] && cvmm_vhost_frontend_get_vring_base(d->fe, i, &base))
			cvmm_log(CVMM_LOG_WARN, LOG, "%s: GET_VRING_BASE %u failed", d->socket, i);
	}
	release_kicks(d);
	unwatch_dma(d);
	d->iotlb_on = false;
	d->active = false;
	d->paused = false;
	d->restored = false;
	d->base_valid = 0;
	/* A reset device starts with nothing in flight. */
	cvmm_close(d->inflight_fd);
	d->inflight_fd = -1;
}

/* ------------------------------------------------------------------------ */
/* Pause, resume, save, restore                                              */
/* ------------------------------------------------------------------------ */

int cvmm_vhost_user_dev_pause(struct cvmm_vhost_user_dev *d)
{
	uint32_t valid = 0;

	if (!d->active || d->paused)
		return 0;
	if (!d->fe)
		return -ENOTCONN;
	for (unsigned int i = 0; i < d->dev.num_queues; i++) {
		unsigned int base;
		int ret;

		if (!d->kick_taken[i])
			continue;
		ret = cvmm_vhost_frontend_get_vring_base(d->fe, i, &base);
		if (ret) {
			cvmm_log(CVMM_LOG_WARN, LOG, "%s: pause: GET_VRING_BASE %u: %s", d->socket,
				 i, strerror(-ret));
			drop_backend(d);
			return ret;
		}
		d->base[i] = base;
		valid |= 1u << i;
	}
	d->base_valid = valid;
	d->paused = true;
	return 0;
}

int cvmm_vhost_user_dev_resume(struct cvmm_vhost_user_dev *d)
{
	int ret;

	if (!d->active || !d->paused)
		return 0;
	if (!d->fe)
		return -ENOTCONN;
	ret = start_rings(d, BASE_SAVED);
	if (ret) {
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: resume: %s", d->socket, strerror(-ret));
		return ret;
	}
	d->paused = false;
	d->base_valid = 0;
	return 0;
}

/* The state is taken paused: an active device is paused here (and stays
 * so: cvmm_vhost_user_dev_resume() goes on). */
static int save(struct cvmm_virtio_device *dev, void *buf, size_t len)
{
	struct cvmm_vhost_user_dev *d = of(dev);
	struct vu_state s;
	int ret;

	if (!buf)
		return (int)sizeof(s);
	if (len < sizeof(s))
		return -ENOSPC;
	ret = cvmm_vhost_user_dev_pause(d);
	if (ret)
		return ret;
	memset(&s, 0, sizeof(s));
	s.magic = VU_STATE_MAGIC;
	s.version = VU_STATE_VERSION;
	s.device_id = d->dev.device_id;
	s.num_queues = d->dev.num_queues;
	s.features = d->active ? d->features : 0;
	s.backend_features = d->backend_features;
	s.protocol_features = d->protocol_features;
	s.config_size = d->dev.config_size;
	s.base_valid = d->active ? d->base_valid : 0;
	memcpy(s.base, d->base, sizeof(s.base));
	pthread_mutex_lock(&d->cfg_lock);
	memcpy(s.config, d->config, d->dev.config_size);
	pthread_mutex_unlock(&d->cfg_lock);
	memcpy(buf, &s, sizeof(s));
	return (int)sizeof(s);
}

/* Hostile input: every field is checked against this device before any is
 * taken. The ring positions are checked by the frontend (and the backend)
 * when they are sent. */
static int restore(struct cvmm_virtio_device *dev, const void *buf, size_t len)
{
	struct cvmm_vhost_user_dev *d = of(dev);
	struct vu_state s;
	const char *why = NULL;

	if (!buf || len != sizeof(s)) {
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: restore: state of %zu bytes, want %zu",
			 d->socket, len, sizeof(s));
		return -EINVAL;
	}
	memcpy(&s, buf, sizeof(s));
	if (s.magic != VU_STATE_MAGIC)
		why = "magic";
	else if (s.version != VU_STATE_VERSION)
		why = "version";
	else if (s.device_id != d->dev.device_id)
		why = "device_id";
	else if (s.num_queues != d->dev.num_queues)
		why = "num_queues";
	else if (s.config_size != d->dev.config_size)
		why = "config_size";
	else if (s.base_valid >> d->dev.num_queues)
		why = "base_valid";
	else if (s.features & ~d->backend_features)
		why = "features (not offered by this backend)";
	if (why) {
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: restore: field %s does not fit this device",
			 d->socket, why);
		return -EINVAL;
	}
	if (s.protocol_features & ~d->protocol_features)
		cvmm_log(CVMM_LOG_INFO, LOG,
			 "%s: restore: protocol features %#llx were negotiated before, not now",
			 d->socket,
			 (unsigned long long)(s.protocol_features & ~d->protocol_features));
	pthread_mutex_lock(&d->cfg_lock);
	memcpy(d->config, s.config, d->dev.config_size);
	pthread_mutex_unlock(&d->cfg_lock);
	memcpy(d->base, s.base, sizeof(d->base));
	d->base_valid = s.base_valid;
	d->restored = s.base_valid != 0;
	return 0;
}

static const struct cvmm_virtio_device_ops ops = {
	.config_read = config_read,
	.config_write = config_write,
	.activate = activate,
	.queue_event = queue_event,
	.reset = reset,
	.save = save,
	.restore = restore,
};

/* ------------------------------------------------------------------------ */
/* Dirty log                                                                 */
/* ------------------------------------------------------------------------ */

static void log_unmap(struct cvmm_vhost_user_dev *d)
{
	if (d->log)
		munmap(d->log, d->log_size);
	d->log = NULL;
	d->log_size = 0;
	cvmm_close(d->log_fd);
	d->log_fd = -1;
}

/* The shared bitmap, sized from the guest memory activate() handed us. */
static int log_map(struct cvmm_vhost_user_dev *d)
{
	uint64_t end = 0, pages;
	void *p;
	int ret;

	for (unsigned int i = 0; i < cvmm_guest_mem_num_regions(d->mem); i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(d->mem, i);

		if (r->gpa + r->size > end)
			end = r->gpa + r->size;
	}
	pages = (end + (1ull << LOG_PAGE_SHIFT) - 1) >> LOG_PAGE_SHIFT;
	/* whole 64-bit words, so harvest exchanges words */
	d->log_size = (pages + 63) / 64 * 8;
	d->log_fd = memfd_create("cvmm-vhost-user-log", MFD_CLOEXEC);
	if (d->log_fd < 0) {
		ret = -errno;
		d->log_size = 0;
		return ret;
	}
	if (ftruncate(d->log_fd, (off_t)d->log_size) < 0) {
		ret = -errno;
		log_unmap(d);
		return ret;
	}
	p = mmap(NULL, d->log_size, PROT_READ | PROT_WRITE, MAP_SHARED, d->log_fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		log_unmap(d);
		return ret;
	}
	d->log = p;
	return 0;
}

int cvmm_vhost_user_dev_log_start(struct cvmm_vhost_user_dev *d)
{
	int ret;

	if (d->log || d->log_wanted)
		return -EALREADY;
	if (!d->fe)
		return -ENOTCONN;
	if (!(d->backend_features & VHOST_F_LOG_ALL) ||
	    !(d->protocol_features & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_LOG_SHMFD)))
		return -EOPNOTSUPP;
	if (!d->active || !d->mem) {
		/* The driver has not started the device yet (or reset it
		 * before it had memory): the backend writes nothing now, but
		 * the rings it starts during the migration must log from
		 * their first write, so activate() maps the log and
		 * start_rings() sends it. */
		d->log_wanted = true;
		return 0;
	}
	ret = log_map(d);
	if (ret)
		return ret;
	d->log_wanted = true;
	ret = cvmm_vhost_frontend_set_log_base(d->fe, d->log_fd, d->log_size, 0);
	if (!ret)
		ret = cvmm_vhost_frontend_set_features(d->fe, ring_features(d));
	if (ret) {
		cvmm_log(CVMM_LOG_WARN, LOG, "%s: starting the dirty log: %s", d->socket,
			 strerror(-ret));
		d->log_wanted = false;
		log_unmap(d);
		return ret;
	}
	return 0;
}

long cvmm_vhost_user_dev_log_harvest(struct cvmm_vhost_user_dev *d)
{
	long n = 0;

	if (!d->log)
		return d->log_wanted ? 0 : -EINVAL; /* not activated: nothing written */
	for (uint64_t w = 0; w < d->log_size / 8; w++) {
		uint64_t bits;

		if (!__atomic_load_n(&d->log[w], __ATOMIC_RELAXED))
			continue;
		bits = __atomic_exchange_n(&d->log[w], 0, __ATOMIC_ACQ_REL);
		while (bits) {
			uint64_t pg = w * 64 + (uint64_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			cvmm_guest_mem_mark_dirty(d->mem, pg << LOG_PAGE_SHIFT,
						  1ull << LOG_PAGE_SHIFT);
			n++;
		}
	}
	return n;
}

int cvmm_vhost_user_dev_log_stop(struct cvmm_vhost_user_dev *d)
{
	int ret = 0;

	if (!d->log && !d->log_wanted)
		return -EINVAL;
	d->log_wanted = false;
	if (!d->log)
		return 0;
	log_unmap(d);
	if (d->fe && d->active && !d->paused)
		ret = cvmm_vhost_frontend_set_features(d->fe, ring_features(d));
	return ret;
}

/* ------------------------------------------------------------------------ */
/* Post-copy                                                                 */
/* ------------------------------------------------------------------------ */

int cvmm_vhost_user_dev_postcopy_begin(struct cvmm_vhost_user_dev *d, int *ufd)
{
	int ret;

	*ufd = -1;
	if (!d->fe)
		return -ENOTCONN;
	if (!(d->protocol_features & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_PAGEFAULT)))
		return -EOPNOTSUPP;
	if (d->active || d->pc_listening)
		return -EBUSY; /* only before the state is restored */
	ret = cvmm_vhost_frontend_postcopy_advise(d->fe, ufd);
	if (!ret)
		ret = cvmm_vhost_frontend_postcopy_listen(d->fe);
	if (ret) {
		cvmm_close(*ufd);
		*ufd = -1;
		return ret;
	}
	d->pc_listening = true;
	return 0;
}

unsigned int cvmm_vhost_user_dev_postcopy_regions(struct cvmm_vhost_user_dev *d,
						  struct cvmm_vhost_user_pc_region *out,
						  unsigned int max)
{
	unsigned int n;

	pthread_mutex_lock(&d->pc_lock);
	n = d->pc_n < max ? d->pc_n : max;
	memcpy(out, d->pc, n * sizeof(*out));
	pthread_mutex_unlock(&d->pc_lock);
	return n;
}

int cvmm_vhost_user_dev_postcopy_end(struct cvmm_vhost_user_dev *d)
{
	int ret = 0;

	pthread_mutex_lock(&d->pc_io);
	if (d->pc_listening) {
		d->pc_listening = false;
		pthread_mutex_lock(&d->pc_lock);
		d->pc_n = 0;
		pthread_mutex_unlock(&d->pc_lock);
		if (d->fe)
			ret = cvmm_vhost_frontend_postcopy_end(d->fe);
	}
	pthread_mutex_unlock(&d->pc_io);
	return ret;
}

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                  */
/* ------------------------------------------------------------------------ */

/* A failed create: the message, then everything undone. */
static int fail(char *err, size_t errlen, int ret, struct cvmm_vhost_user_dev *d,
		const char *what)
{
	snprintf(err, errlen, "socket: '%s': %s: %s", d->socket, what, strerror(-ret));
	cvmm_vhost_user_dev_destroy(d);
	return ret;
}

int cvmm_vhost_user_dev_create(const struct cvmm_vhost_user_dev_opts *o,
			       struct cvmm_vhost_user_dev **out, char *err, size_t errlen)
{
	struct cvmm_vhost_user_dev *d;
	unsigned int nq;
	uint32_t cfg_size = 0;
	int ret;

	if (out)
		*out = NULL;
	if (!o || !out || o->sz < sizeof(*o) || !o->socket || !o->em ||
	    strlen(o->socket) >= sizeof(d->socket) ||
	    (o->fs_tag && strlen(o->fs_tag) >= sizeof(d->fs_tag)) ||
	    o->queue_size > CVMM_VIRTQ_MAX_SIZE) {
		snprintf(err, errlen, "bad vhost-user device options");
		return -EINVAL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	strcpy(d->socket, o->socket);
	if (o->fs_tag)
		strcpy(d->fs_tag, o->fs_tag);
	d->reconnect = o->reconnect;
	d->queue_size = o->queue_size ? o->queue_size : 256;
	d->em = o->em;
	d->sock = -1;
	d->chan_fd = -1;
	d->iommu = o->iommu;
	d->inflight_fd = -1;
	d->cfg_efd = -1;
	d->log_fd = -1;
	d->dev.device_id = o->device_id;
	nq = o->queues;
	pthread_mutex_init(&d->cfg_lock, NULL);
	pthread_mutex_init(&d->pc_lock, NULL);
	pthread_mutex_init(&d->pc_io, NULL);
	ret = handshake(d);
	if (ret == -EOPNOTSUPP && d->iommu)
		return fail(err, errlen, ret, d, "iommu=on: the backend does not offer "
			    "ACCESS_PLATFORM with BACKEND_REQ and REPLY_ACK (its IOTLB)");
	if (ret)
		return fail(err, errlen, ret, d, "cannot connect to the vhost-user backend");
	if (!nq) {
		uint64_t n = 1;

		if (o->device_id == CVMM_VIRTIO_ID_NET)
			n = 2;
		else if (o->device_id == CVMM_VIRTIO_ID_FS)
			n = 2;
		else if (d->protocol_features & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_MQ))
			(void)cvmm_vhost_frontend_get_queue_num(d->fe, &n);
		nq = n >= 1 && n <= CVMM_VIRTIO_MAX_QUEUES ? (unsigned int)n : 1;
	}
	if (nq > CVMM_VIRTIO_MAX_QUEUES)
		return fail(err, errlen, -E2BIG, d, "too many queues");
	if (d->protocol_features & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_MQ)) {
		uint64_t max = 0;

		ret = cvmm_vhost_frontend_get_queue_num(d->fe, &max);
		if (ret)
			return fail(err, errlen, ret, d, "GET_QUEUE_NUM");
		if (nq > max) {
			snprintf(err, errlen, "queues: %u, but the backend on '%s' has %llu",
				 nq, d->socket, (unsigned long long)max);
			cvmm_vhost_user_dev_destroy(d);
			return -EINVAL;
		}
	}
	switch (o->device_id) {
	case CVMM_VIRTIO_ID_BLOCK: cfg_size = BLK_CFG_SIZE; break;
	case CVMM_VIRTIO_ID_NET: cfg_size = NET_CFG_SIZE; break;
	case CVMM_VIRTIO_ID_FS: cfg_size = FS_CFG_SIZE; break;
	default: cfg_size = 0; break;
	}
	if (o->device_id == CVMM_VIRTIO_ID_FS &&
	    !(d->protocol_features & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIG))) {
		uint32_t req = nq - 1;

		/* virtiofsd leaves the config to the VMM. */
		memcpy(d->config, d->fs_tag, strnlen(d->fs_tag, 36));
		vd_put_le32(d->config + 36, req);
	} else if (cfg_size) {
		if (!(d->protocol_features & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIG)))
			return fail(err, errlen, -EOPNOTSUPP, d,
				    "backend cannot report its configuration (PROTOCOL_F_CONFIG)");
		ret = cvmm_vhost_frontend_get_config(d->fe, 0, d->config, cfg_size);
		if (ret)
			return fail(err, errlen, ret, d, "GET_CONFIG");
		d->cfg_efd = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
		if (d->cfg_efd < 0)
			return fail(err, errlen, d->cfg_efd, d, "eventfd");
		ret = cvmm_event_manager_add(d->em, d->cfg_efd, EPOLLIN, cfg_cb, d);
		if (ret) {
			cvmm_close(d->cfg_efd);
			d->cfg_efd = -1;
			return fail(err, errlen, ret, d, "watching the config eventfd");
		}
	}
	for (unsigned int i = 0; i < nq; i++)
		d->dev.queue_max_size[i] = (uint16_t)d->queue_size;
	d->dev.num_queues = (uint16_t)nq;
	if (d->protocol_features & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_INFLIGHT_SHMFD)) {
		ret = get_inflight(d);
		if (ret)
			return fail(err, errlen, ret, d, "GET_INFLIGHT_FD");
	}
	ret = cvmm_event_manager_add(d->em, d->sock, EPOLLRDHUP, sock_cb, d);
	d->sock_watched = ret == 0;
	if (ret)
		return fail(err, errlen, ret, d, "watching the socket");
	/* Created disarmed here, before the device thread is confined: the
	 * thread only arms and disarms it. */
	if (d->reconnect) {
		ret = cvmm_event_manager_timer_add(d->em, 0, 0, retry_cb, d, &d->retry);
		if (ret)
			return fail(err, errlen, ret, d, "reconnect timer");
	}
	d->dev.ops = &ops;
	d->dev.config_size = cfg_size;
	/* Device bits, and transport bits the backend implements; never
	 * the vhost-only ones or ACCESS_PLATFORM (no IOMMU here). */
	d->dev.features = d->backend_features &
			  ~(CVMM_VHOST_F_PROTOCOL_FEATURES | VHOST_F_LOG_ALL |
			    (d->iommu ? 0 : CVMM_VIRTIO_F_ACCESS_PLATFORM));
	cvmm_log(CVMM_LOG_INFO, LOG,
		 "%s: virtio-%s (id %u), backend features %#llx, protocol features %#llx, %u queues, %u config bytes%s%s",
		 d->socket, type_name(o->device_id), o->device_id,
		 (unsigned long long)d->backend_features,
		 (unsigned long long)d->protocol_features, nq, cfg_size,
		 o->device_id == CVMM_VIRTIO_ID_FS ? ", tag " : "",
		 o->device_id == CVMM_VIRTIO_ID_FS ? d->fs_tag : "");
	*out = d;
	return 0;
}

void cvmm_vhost_user_dev_detach(struct cvmm_vhost_user_dev *d)
{
	if (!d)
		return;
	d->detached = true;
	unwatch_dma(d);
	d->iotlb_on = false;
	if (!d->fe)
		return;
	unwatch_sock(d);
	unwatch_chan(d);
	cvmm_vhost_frontend_destroy(d->fe);
	d->fe = NULL;
	d->sock = -1;
}

struct cvmm_virtio_device *cvmm_vhost_user_dev_device(struct cvmm_vhost_user_dev *d)
{
	return &d->dev;
}

uint64_t cvmm_vhost_user_dev_protocol_features(const struct cvmm_vhost_user_dev *d)
{
	return d->fe ? d->protocol_features : 0;
}

void cvmm_vhost_user_dev_destroy(struct cvmm_vhost_user_dev *d)
{
	if (!d)
		return;
	/* The reconnect timer is left to cvmm_event_manager_destroy(), which
	 * follows: removing it here would disarm it (timerfd_settime) from
	 * the main thread, whose seccomp filter has no timer calls. */
	unwatch_sock(d);
	unwatch_chan(d);
	unwatch_dma(d);
	cvmm_vhost_frontend_destroy(d->fe);
	cvmm_close(d->inflight_fd);
	if (d->cfg_efd >= 0)
		cvmm_event_manager_remove(d->em, d->cfg_efd);
	cvmm_close(d->cfg_efd);
	log_unmap(d);
	pthread_mutex_destroy(&d->cfg_lock);
	pthread_mutex_destroy(&d->pc_lock);
	pthread_mutex_destroy(&d->pc_io);
	free(d);
}
