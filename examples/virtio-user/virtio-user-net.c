/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-user-net: a vhost-user frontend and a virtio-net driver in one host
 * process (see virtio-user-net.h). */
#include "virtio-user-net.h"

#include <cvmm/sys-util.h>
#include <cvmm/vhost.h>
#include <cvmm/virtio-queue.h>
#include <cvmm/vm-memory.h>

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define PF(b) CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_##b)
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define HDR CVMM_NET_HDR_LEN

struct vun_queue {
	struct cvmm_virtq_driver *drv;
	uint64_t desc, avail, used, bufs;
	int kick_fd, call_fd;
	uint8_t *busy; /* per buffer slot */
};

struct cvmm_virtio_user_net {
	struct cvmm_virtio_user_net_opts o;
	char *path;
	struct cvmm_vhost_frontend *fe;
	struct cvmm_guest_mem *mem;
	uint64_t features, pfeatures, mem_size;
	unsigned int nq;
	struct vun_queue *q;
};

static int connect_sock(const char *path, int timeout_ms)
{
	uint64_t end = cvmm_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;

	for (;;) {
		int fd = cvmm_unix_connect(path);

		if (fd >= 0 || cvmm_now_ns() >= end)
			return fd;
		usleep(10000);
	}
}

void *cvmm_virtio_user_net_host(struct cvmm_virtio_user_net *vu, uint64_t gpa, uint64_t len)
{
	return cvmm_guest_mem_ptr(vu->mem, gpa, len);
}

uint64_t cvmm_virtio_user_net_mem_size(const struct cvmm_virtio_user_net *vu)
{
	return vu->mem_size;
}

static int setup(struct cvmm_virtio_user_net *vu, bool first, int timeout_ms)
{
	uint64_t offered, want, pf, qn;
	int sock, ret;

	sock = connect_sock(vu->path, timeout_ms);
	if (sock < 0)
		return sock;
	ret = cvmm_vhost_frontend_create(sock, &vu->fe);
	if (ret < 0)
		return ret;
	if ((ret = cvmm_vhost_frontend_set_owner(vu->fe)) < 0 ||
	    (ret = cvmm_vhost_frontend_get_features(vu->fe, &offered)) < 0)
		return ret;
	if (!(offered & CVMM_VIRTIO_F_VERSION_1) || !(offered & CVMM_VHOST_F_PROTOCOL_FEATURES))
		return -ENOTSUP;
	want = CVMM_VIRTIO_F_VERSION_1 | CVMM_VHOST_F_PROTOCOL_FEATURES | CVMM_VIRTIO_F_EVENT_IDX |
	       vu->o.features;
	if (vu->o.pairs > 1)
		want |= CVMM_VIRTIO_NET_F_MQ;
	if (!first && (offered & vu->features) != vu->features)
		return -ENOTSUP;
	vu->features = first ? offered & want : vu->features;
	if ((ret = cvmm_vhost_frontend_get_protocol_features(vu->fe, &pf)) < 0)
		return ret;
	pf &= PF(MQ) | PF(REPLY_ACK) | PF(CONFIG);
	vu->pfeatures = pf;
	if ((ret = cvmm_vhost_frontend_set_protocol_features(vu->fe, pf)) < 0)
		return ret;
	if (vu->o.pairs > 1) {
		if (!(pf & PF(MQ)))
			return -ENOTSUP;
		if ((ret = cvmm_vhost_frontend_get_queue_num(vu->fe, &qn)) < 0)
			return ret;
		if (qn < vu->nq)
			return -ENOTSUP;
	}
	if ((ret = cvmm_vhost_frontend_set_features(vu->fe, vu->features)) < 0 ||
	    (ret = cvmm_vhost_frontend_set_mem_table(vu->fe, vu->mem)) < 0)
		return ret;
	for (unsigned int i = 0; i < vu->nq; i++) {
		struct vun_queue *q = &vu->q[i];
		uint16_t used_idx = 0;
		struct cvmm_vhost_vring_addr_wire a = {
			.index = i,
			.desc_user_addr = (uint64_t)(uintptr_t)cvmm_virtio_user_net_host(vu, q->desc, 1),
			.avail_user_addr = (uint64_t)(uintptr_t)cvmm_virtio_user_net_host(vu, q->avail, 1),
			.used_user_addr = (uint64_t)(uintptr_t)cvmm_virtio_user_net_host(vu, q->used, 1),
		};

		if (first) {
			struct cvmm_virtq_driver_opts d = {
				.sz = sizeof(d), .mem = vu->mem, .size = vu->o.queue_size,
				.features = vu->features, .desc_gpa = q->desc,
				.avail_gpa = q->avail, .used_gpa = q->used,
			};

			ret = cvmm_virtq_driver_create(&d, &q->drv);
			if (ret < 0)
				return ret;
		}
		(void)cvmm_guest_mem_read_u16(vu->mem, q->used + 2, &used_idx);
		ret = cvmm_vhost_frontend_start_vring(vu->fe, &a, vu->o.queue_size, used_idx,
						      q->kick_fd, q->call_fd, true);
		if (ret < 0)
			return ret;
		(void)cvmm_eventfd_write(q->kick_fd, 1);
	}
	return 0;
}

int cvmm_virtio_user_net_create(const struct cvmm_virtio_user_net_opts *o,
				struct cvmm_virtio_user_net **out)
{
	struct cvmm_virtio_user_net *vu;
	uint64_t db, ab, ub, per_q, total;
	int ret;

	if (!o || !out || o->sz < sizeof(*o) || !o->socket)
		return -EINVAL;
	vu = calloc(1, sizeof(*vu));
	if (!vu)
		return -ENOMEM;
	vu->o = *o;
	if (!vu->o.pairs)
		vu->o.pairs = 1;
	if (!vu->o.queue_size)
		vu->o.queue_size = 256;
	if (!vu->o.buf_size)
		vu->o.buf_size = 2048;
	ret = -EINVAL;
	if (vu->o.pairs > 64 || (vu->o.queue_size & (vu->o.queue_size - 1)) ||
	    vu->o.queue_size > 1024 || vu->o.buf_size < HDR || vu->o.buf_size > (1u << 20))
		goto fail;
	vu->nq = 2 * vu->o.pairs;
	ret = -ENOMEM;
	vu->path = strdup(o->socket);
	vu->q = calloc(vu->nq, sizeof(*vu->q));
	if (!vu->path || !vu->q)
		goto fail;
	cvmm_virtq_ring_bytes(vu->o.queue_size, CVMM_VIRTIO_F_EVENT_IDX, &db, &ab, &ub);
	per_q = ALIGN_UP(db, 4096) + ALIGN_UP(ab, 4096) + ALIGN_UP(ub, 4096) +
		ALIGN_UP((uint64_t)vu->o.buf_size * vu->o.queue_size, 4096);
	total = ALIGN_UP(per_q * vu->nq, 2ull << 20);
	vu->mem_size = total;
	if ((ret = cvmm_guest_mem_create(&vu->mem)) < 0)
		goto fail;
	struct cvmm_mem_region_opts ro = { .sz = sizeof(ro), .gpa = 0, .size = total,
					   .backing = CVMM_MEM_MEMFD,
					   .flags = CVMM_MEM_F_SHARED, .fd = -1 };
	if ((ret = cvmm_guest_mem_add_region(vu->mem, &ro)) < 0)
		goto fail;
	for (unsigned int i = 0; i < vu->nq; i++) {
		struct vun_queue *q = &vu->q[i];
		uint64_t g = per_q * i;

		q->kick_fd = q->call_fd = -1;
		q->desc = g;
		g += ALIGN_UP(db, 4096);
		q->avail = g;
		g += ALIGN_UP(ab, 4096);
		q->used = g;
		g += ALIGN_UP(ub, 4096);
		q->bufs = g;
		q->busy = calloc(vu->o.queue_size, 1);
		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		q->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ret = -ENOMEM;
		if (!q->busy || q->kick_fd < 0 || q->call_fd < 0)
			goto fail;
	}
	ret = setup(vu, true, o->connect_timeout_ms);
	if (ret < 0)
		goto fail;
	*out = vu;
	return 0;
fail:
	cvmm_virtio_user_net_destroy(vu);
	return ret;
}

void cvmm_virtio_user_net_destroy(struct cvmm_virtio_user_net *vu)
{
	if (!vu)
		return;
	cvmm_vhost_frontend_destroy(vu->fe);
	for (unsigned int i = 0; vu->q && i < vu->nq; i++) {
		cvmm_virtq_driver_destroy(vu->q[i].drv);
		cvmm_close(vu->q[i].kick_fd);
		cvmm_close(vu->q[i].call_fd);
		free(vu->q[i].busy);
	}
	cvmm_guest_mem_destroy(vu->mem);
	free(vu->q);
	free(vu->path);
	free(vu);
}

int cvmm_virtio_user_net_reconnect(struct cvmm_virtio_user_net *vu, int timeout_ms)
{
	cvmm_vhost_frontend_destroy(vu->fe);
	vu->fe = NULL;
	return setup(vu, false, timeout_ms);
}

uint64_t cvmm_virtio_user_net_features(const struct cvmm_virtio_user_net *vu)
{
	return vu->features;
}

int cvmm_virtio_user_net_config(struct cvmm_virtio_user_net *vu, uint32_t off, void *buf,
				uint32_t len)
{
	if (!(vu->pfeatures & PF(CONFIG)))
		return -ENOTSUP;
	return cvmm_vhost_frontend_get_config(vu->fe, off, buf, len);
}

static uint64_t slot_gpa(const struct cvmm_virtio_user_net *vu, const struct vun_queue *q,
			 unsigned int slot)
{
	return q->bufs + (uint64_t)slot * vu->o.buf_size;
}

static int kick(struct vun_queue *q)
{
	if (cvmm_virtq_driver_kick_needed(q->drv))
		return cvmm_eventfd_write(q->kick_fd, 1);
	return 0;
}

int cvmm_virtio_user_net_rx_fill(struct cvmm_virtio_user_net *vu, unsigned int pair)
{
	struct vun_queue *q;
	int n = 0, ret;

	if (pair >= vu->o.pairs)
		return -EINVAL;
	q = &vu->q[2 * pair];
	for (unsigned int s = 0; s < vu->o.queue_size; s++) {
		struct cvmm_virtq_buf b = { slot_gpa(vu, q, s), vu->o.buf_size };

		if (q->busy[s])
			continue;
		ret = cvmm_virtq_driver_add(q->drv, NULL, 0, &b, 1, false, s);
		if (ret < 0)
			return ret;
		q->busy[s] = 1;
		n++;
	}
	ret = kick(q);
	return ret < 0 ? ret : n;
}

/* Wait for a call on @q (after arming callbacks). 1: maybe more used; 0: timeout. */
static int wait_call(struct vun_queue *q, int timeout_ms)
{
	struct pollfd p = { .fd = q->call_fd, .events = POLLIN };
	uint64_t v;
	int pr;

	if (cvmm_virtq_driver_enable_cb(q->drv))
		return 1;
	pr = poll(&p, 1, timeout_ms);
	if (pr < 0)
		return errno == EINTR ? 1 : -errno;
	if (pr == 0)
		return 0;
	(void)cvmm_eventfd_read(q->call_fd, &v);
	return 1;
}

static int tx_reap_now(struct cvmm_virtio_user_net *vu, struct vun_queue *q)
{
	int n = 0;

	for (;;) {
		uint64_t tok;
		uint32_t len;
		int r = cvmm_virtq_driver_get_used(q->drv, &tok, &len);

		if (r < 0)
			return r;
		if (r == 0)
			return n;
		/* Raw chains carry token queue_size + k: nothing to free. */
		if (tok < vu->o.queue_size) {
			if (!q->busy[tok])
				return -EIO;
			q->busy[tok] = 0;
		} else if (tok >= 2ull * vu->o.queue_size) {
			return -EIO;
		}
		n++;
	}
}

int cvmm_virtio_user_net_tx_reap(struct cvmm_virtio_user_net *vu, unsigned int pair,
				 int timeout_ms)
{
	struct vun_queue *q;
	int n, w;

	if (pair >= vu->o.pairs)
		return -EINVAL;
	q = &vu->q[2 * pair + 1];
	for (;;) {
		n = tx_reap_now(vu, q);
		if (n != 0 || timeout_ms == 0)
			return n;
		w = wait_call(q, timeout_ms);
		if (w <= 0)
			return w;
	}
}

unsigned int cvmm_virtio_user_net_tx_in_flight(const struct cvmm_virtio_user_net *vu,
					       unsigned int pair)
{
	return pair < vu->o.pairs ? cvmm_virtq_driver_in_flight(vu->q[2 * pair + 1].drv) : 0;
}

int cvmm_virtio_user_net_tx_kick(struct cvmm_virtio_user_net *vu, unsigned int pair)
{
	if (pair >= vu->o.pairs)
		return -EINVAL;
	return kick(&vu->q[2 * pair + 1]);
}

int cvmm_virtio_user_net_send(struct cvmm_virtio_user_net *vu, unsigned int pair,
			      const struct cvmm_virtio_net_hdr *h, const void *frame,
			      uint32_t len, bool no_kick)
{
	struct cvmm_virtio_net_hdr hz;
	struct vun_queue *q;
	unsigned int s;
	uint8_t *p;
	int ret;

	if (pair >= vu->o.pairs || len > vu->o.buf_size - HDR)
		return -EINVAL;
	q = &vu->q[2 * pair + 1];
	if (cvmm_virtq_driver_num_free(q->drv) == 0 && (ret = tx_reap_now(vu, q)) < 0)
		return ret;
	/* Slots are handed out in a rotating order so a free one is found fast. */
	for (s = 0; s < vu->o.queue_size && q->busy[s]; s++)
		;
	if (s == vu->o.queue_size) {
		if ((ret = tx_reap_now(vu, q)) < 0)
			return ret;
		for (s = 0; s < vu->o.queue_size && q->busy[s]; s++)
			;
		if (s == vu->o.queue_size)
			return -ENOSPC;
	}
	memset(&hz, 0, sizeof(hz));
	if (h)
		hz = *h;
	hz.num_buffers = 0;
	p = cvmm_virtio_user_net_host(vu, slot_gpa(vu, q, s), HDR + (uint64_t)len);
	if (!p)
		return -EFAULT;
	memcpy(p, &hz, HDR);
	memcpy(p + HDR, frame, len);
	struct cvmm_virtq_buf b = { slot_gpa(vu, q, s), HDR + len };
	ret = cvmm_virtq_driver_add(q->drv, &b, 1, NULL, 0, false, s);
	if (ret < 0)
		return ret;
	q->busy[s] = 1;
	return no_kick ? 0 : kick(q);
}

int cvmm_virtio_user_net_send_raw(struct cvmm_virtio_user_net *vu, unsigned int pair,
				  const struct cvmm_virtq_buf *out, unsigned int n)
{
	struct vun_queue *q;
	int ret;

	if (pair >= vu->o.pairs || !n)
		return -EINVAL;
	q = &vu->q[2 * pair + 1];
	ret = cvmm_virtq_driver_add(q->drv, out, n, NULL, 0, false, vu->o.queue_size);
	return ret < 0 ? ret : kick(q);
}

int cvmm_virtio_user_net_rx_add_raw(struct cvmm_virtio_user_net *vu, unsigned int pair,
				    const struct cvmm_virtq_buf *in, unsigned int n)
{
	struct vun_queue *q;
	int ret;

	if (pair >= vu->o.pairs || !n)
		return -EINVAL;
	q = &vu->q[2 * pair];
	ret = cvmm_virtq_driver_add(q->drv, NULL, 0, in, n, false, vu->o.queue_size);
	return ret < 0 ? ret : kick(q);
}

static int rx_next(struct cvmm_virtio_user_net *vu, struct vun_queue *q, int timeout_ms,
		   unsigned int *slot, uint32_t *len)
{
	for (;;) {
		uint64_t tok;
		int r = cvmm_virtq_driver_get_used(q->drv, &tok, len);

		if (r < 0)
			return r;
		if (r == 1) {
			if (tok >= vu->o.queue_size || !q->busy[tok] || *len > vu->o.buf_size)
				return -EIO;
			q->busy[tok] = 0;
			*slot = (unsigned int)tok;
			return 1;
		}
		if (timeout_ms == 0)
			return 0;
		r = wait_call(q, timeout_ms);
		if (r <= 0)
			return r;
	}
}

int cvmm_virtio_user_net_recv(struct cvmm_virtio_user_net *vu, unsigned int pair, void *buf,
			      size_t cap, struct cvmm_virtio_net_hdr *h, unsigned int *nbufs,
			      int timeout_ms)
{
	struct cvmm_virtio_net_hdr hd;
	struct vun_queue *q;
	unsigned int slot, nb = 1;
	uint32_t len;
	size_t total = 0;
	int r;

	if (pair >= vu->o.pairs)
		return -EINVAL;
	q = &vu->q[2 * pair];
	r = rx_next(vu, q, timeout_ms, &slot, &len);
	if (r <= 0)
		return r;
	if (len < HDR)
		return -EIO;
	memcpy(&hd, cvmm_virtio_user_net_host(vu, slot_gpa(vu, q, slot), HDR), HDR);
	if (vu->features & CVMM_VIRTIO_NET_F_MRG_RXBUF) {
		nb = le16toh(hd.num_buffers);
		if (nb == 0 || nb > vu->o.queue_size)
			return -EIO;
	}
	for (unsigned int i = 0; i < nb; i++) {
		uint32_t skip = i == 0 ? HDR : 0;
		const uint8_t *p;

		if (i > 0) {
			/* The rest of the frame is pushed before the call. */
			r = rx_next(vu, q, 1000, &slot, &len);
			if (r <= 0)
				return r < 0 ? r : -EIO;
		}
		p = cvmm_virtio_user_net_host(vu, slot_gpa(vu, q, slot), len);
		if (!p)
			return -EIO;
		if (total < cap)
			memcpy((uint8_t *)buf + total, p + skip,
			       len - skip < cap - total ? len - skip : cap - total);
		total += len - skip;
		/* Copied out: the buffer goes straight back to the device. */
		struct cvmm_virtq_buf b = { slot_gpa(vu, q, slot), vu->o.buf_size };
		r = cvmm_virtq_driver_add(q->drv, NULL, 0, &b, 1, false, slot);
		if (r < 0)
			return r;
		q->busy[slot] = 1;
	}
	if (h)
		*h = hd;
	if (nbufs)
		*nbufs = nb;
	r = kick(q);
	if (r < 0)
		return r;
	return total > (size_t)INT32_MAX ? -EIO : (int)total;
}
