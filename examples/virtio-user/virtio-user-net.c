/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-user-net: a vhost-user frontend and a virtio-net driver in one host
 * process (see virtio-user-net.h). */
#include "virtio-user-net.h"

#include "vu-core.h"

#include <cvmm/sys-util.h>
#include <cvmm/vhost.h>
#include <cvmm/virtio-queue.h>
#include <cvmm/vm-memory.h>

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PF(b) CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_##b)
#define HDR CVMM_NET_HDR_LEN

/* Queue 2i is pair i's receiveq, 2i + 1 its transmitq; each queue's area
 * (vu-core.h) holds its queue_size buffers of buf_size bytes. */
struct cvmm_virtio_user_net {
	struct cvmm_virtio_user_net_opts o;
	struct cvmm_vu_core c;
};

void *cvmm_virtio_user_net_host(struct cvmm_virtio_user_net *vu, uint64_t gpa, uint64_t len)
{
	return cvmm_vu_core_host(&vu->c, gpa, len);
}

uint64_t cvmm_virtio_user_net_mem_size(const struct cvmm_virtio_user_net *vu)
{
	return vu->c.mem_size;
}

static int setup(struct cvmm_virtio_user_net *vu, bool first, int timeout_ms)
{
	struct cvmm_vu_core_want w = {
		.features = CVMM_VIRTIO_F_EVENT_IDX | vu->o.features |
			    (vu->o.pairs > 1 ? CVMM_VIRTIO_NET_F_MQ : 0),
		.pfeatures = PF(MQ) | PF(REPLY_ACK) | PF(CONFIG),
		.min_nq = vu->o.pairs > 1 ? vu->c.nq : 0,
	};
	int ret;

	ret = cvmm_vu_core_negotiate(&vu->c, first, timeout_ms, &w);
	return ret < 0 ? ret : cvmm_vu_core_start(&vu->c, first, 0);
}

int cvmm_virtio_user_net_create(const struct cvmm_virtio_user_net_opts *o,
				struct cvmm_virtio_user_net **out)
{
	struct cvmm_virtio_user_net *vu;
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
	ret = cvmm_vu_core_init(&vu->c, o->socket, 2 * vu->o.pairs, vu->o.queue_size,
				(uint64_t)vu->o.buf_size * vu->o.queue_size);
	if (ret < 0)
		goto fail;
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
	cvmm_vu_core_fini(&vu->c);
	free(vu);
}

int cvmm_virtio_user_net_reconnect(struct cvmm_virtio_user_net *vu, int timeout_ms)
{
	cvmm_vu_core_disconnect(&vu->c);
	return setup(vu, false, timeout_ms);
}

uint64_t cvmm_virtio_user_net_features(const struct cvmm_virtio_user_net *vu)
{
	return vu->c.features;
}

int cvmm_virtio_user_net_config(struct cvmm_virtio_user_net *vu, uint32_t off, void *buf,
				uint32_t len)
{
	if (!(vu->c.pfeatures & PF(CONFIG)))
		return -ENOTSUP;
	return cvmm_vhost_frontend_get_config(vu->c.fe, off, buf, len);
}

static uint64_t slot_gpa(const struct cvmm_virtio_user_net *vu, const struct cvmm_vu_queue *q,
			 unsigned int slot)
{
	return q->area + (uint64_t)slot * vu->o.buf_size;
}

int cvmm_virtio_user_net_rx_fill(struct cvmm_virtio_user_net *vu, unsigned int pair)
{
	struct cvmm_vu_queue *q;
	int n = 0, ret;

	if (pair >= vu->o.pairs)
		return -EINVAL;
	q = &vu->c.q[2 * pair];
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
	ret = cvmm_vu_core_kick(q);
	return ret < 0 ? ret : n;
}

static int tx_reap_now(struct cvmm_virtio_user_net *vu, struct cvmm_vu_queue *q)
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
	struct cvmm_vu_queue *q;
	int n, w;

	if (pair >= vu->o.pairs)
		return -EINVAL;
	q = &vu->c.q[2 * pair + 1];
	for (;;) {
		n = tx_reap_now(vu, q);
		if (n != 0 || timeout_ms == 0)
			return n;
		w = cvmm_vu_core_wait_call(q, timeout_ms);
		if (w <= 0)
			return w;
	}
}

unsigned int cvmm_virtio_user_net_tx_in_flight(const struct cvmm_virtio_user_net *vu,
					       unsigned int pair)
{
	return pair < vu->o.pairs ? cvmm_virtq_driver_in_flight(vu->c.q[2 * pair + 1].drv) : 0;
}

int cvmm_virtio_user_net_tx_kick(struct cvmm_virtio_user_net *vu, unsigned int pair)
{
	if (pair >= vu->o.pairs)
		return -EINVAL;
	return cvmm_vu_core_kick(&vu->c.q[2 * pair + 1]);
}

int cvmm_virtio_user_net_send(struct cvmm_virtio_user_net *vu, unsigned int pair,
			      const struct cvmm_virtio_net_hdr *h, const void *frame,
			      uint32_t len, bool no_kick)
{
	struct cvmm_virtio_net_hdr hz;
	struct cvmm_vu_queue *q;
	unsigned int s;
	uint8_t *p;
	int ret;

	if (pair >= vu->o.pairs || len > vu->o.buf_size - HDR)
		return -EINVAL;
	q = &vu->c.q[2 * pair + 1];
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
	return no_kick ? 0 : cvmm_vu_core_kick(q);
}

int cvmm_virtio_user_net_send_raw(struct cvmm_virtio_user_net *vu, unsigned int pair,
				  const struct cvmm_virtq_buf *out, unsigned int n)
{
	struct cvmm_vu_queue *q;
	int ret;

	if (pair >= vu->o.pairs || !n)
		return -EINVAL;
	q = &vu->c.q[2 * pair + 1];
	ret = cvmm_virtq_driver_add(q->drv, out, n, NULL, 0, false, vu->o.queue_size);
	return ret < 0 ? ret : cvmm_vu_core_kick(q);
}

int cvmm_virtio_user_net_rx_add_raw(struct cvmm_virtio_user_net *vu, unsigned int pair,
				    const struct cvmm_virtq_buf *in, unsigned int n)
{
	struct cvmm_vu_queue *q;
	int ret;

	if (pair >= vu->o.pairs || !n)
		return -EINVAL;
	q = &vu->c.q[2 * pair];
	ret = cvmm_virtq_driver_add(q->drv, NULL, 0, in, n, false, vu->o.queue_size);
	return ret < 0 ? ret : cvmm_vu_core_kick(q);
}

static int rx_next(struct cvmm_virtio_user_net *vu, struct cvmm_vu_queue *q, int timeout_ms,
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
		r = cvmm_vu_core_wait_call(q, timeout_ms);
		if (r <= 0)
			return r;
	}
}

int cvmm_virtio_user_net_recv(struct cvmm_virtio_user_net *vu, unsigned int pair, void *buf,
			      size_t cap, struct cvmm_virtio_net_hdr *h, unsigned int *nbufs,
			      int timeout_ms)
{
	struct cvmm_virtio_net_hdr hd;
	struct cvmm_vu_queue *q;
	unsigned int slot, nb = 1;
	uint32_t len;
	size_t total = 0;
	int r;

	if (pair >= vu->o.pairs)
		return -EINVAL;
	q = &vu->c.q[2 * pair];
	r = rx_next(vu, q, timeout_ms, &slot, &len);
	if (r <= 0)
		return r;
	if (len < HDR)
		return -EIO;
	memcpy(&hd, cvmm_virtio_user_net_host(vu, slot_gpa(vu, q, slot), HDR), HDR);
	if (vu->c.features & CVMM_VIRTIO_NET_F_MRG_RXBUF) {
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
	r = cvmm_vu_core_kick(q);
	if (r < 0)
		return r;
	return total > (size_t)INT32_MAX ? -EIO : (int)total;
}
