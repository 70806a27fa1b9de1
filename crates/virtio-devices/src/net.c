/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net on a TAP. One loop thread serves every queue. Receive reads a
 * frame only after it holds a receive chain, so a frame is never taken from
 * the TAP without somewhere to put it; with mergeable buffers a frame that
 * needs more chains than are available stays pending (with the chains it
 * already holds) until the guest adds buffers.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cvmm/virtio-devices/net.h>

#include "internal.h"
#include "net-internal.h"

#define NET_CFG_SIZE 10u
#define NET_TX_IOV 64u
#define NET_BUF_LEN (CVMM_NET_HDR_LEN + CVMM_NET_MAX_FRAME)
#define NET_S_LINK_UP 1u

struct cvmm_net;

struct net_pair {
	struct cvmm_net *n;
	int fd;
	bool enabled;     /* counted in active_pairs */
	bool polled;      /* fd subscribed to the loop */
	struct cvmm_virtq *rxq;
	struct cvmm_virtq *txq;
	/* pending receive frame: buf[0, len) read from the TAP, buf[off, len)
	 * not yet in guest buffers, held[0, nheld) the chains it fills */
	uint8_t *buf;
	uint32_t len;
	uint32_t off;
	uint16_t nheld;
	bool rx_throttled;
	bool tx_throttled;
	struct cvmm_virtq_rw hdr_w;  /* header position in held[0] */
	struct cvmm_virtq_chain *held;
	uint32_t *held_len;
	uint8_t *txbuf;              /* frames scattered over too many spans */
};

struct cvmm_net {
	struct cvmm_virtio_device dev;
	struct cvmm_event_manager *em;
	struct net_pair pairs[CVMM_NET_MAX_PAIRS];
	unsigned int npairs;
	bool own_fds;
	bool active;
	bool broken;
	uint16_t qsize;
	struct cvmm_virtq *ctrlq;
	uint64_t features;
	struct cvmm_rate_limiter rx_rl;
	struct cvmm_rate_limiter tx_rl;
	struct cvmm_event_timer *timer;
	bool timer_armed;
	struct cvmm_net_stats st;
	uint32_t restored_pairs;     /* from restore(), for the next activate */
	uint8_t config[NET_CFG_SIZE];
};

#define NET_STATE_VERSION 1u
#define NET_STATE_LEN 8u /* le32 version, le32 active pairs */

static struct cvmm_net *to_net(struct cvmm_virtio_device *dev)
{
	return CVMM_CONTAINER_OF(dev, struct cvmm_net, dev);
}

/* Queue index of pair @p's receive queue (its transmit queue is the next):
 * virtio 1.2, 5.1.2 orders them receiveq1, transmitq1, receiveq2, ... */
static unsigned int pair_rxq(const struct net_pair *p)
{
	return 2u * (unsigned int)(p - p->n->pairs);
}

static void net_config_read(struct cvmm_virtio_device *dev, uint32_t off,
			    void *data, uint32_t len)
{
	vd_config_copy(to_net(dev)->config, NET_CFG_SIZE, off, data, len);
}

static void tap_cb(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque);

static void poll_tap(struct net_pair *p, bool on)
{
	if (on == p->polled)
		return;
	if (on) {
		if (cvmm_event_manager_add(p->n->em, p->fd, EPOLLIN, tap_cb, p) == 0)
			p->polled = true;
	} else {
		cvmm_event_manager_remove(p->n->em, p->fd);
		p->polled = false;
	}
}

static void net_broken(struct cvmm_net *n)
{
	for (unsigned int i = 0; i < n->npairs; i++)
		poll_tap(&n->pairs[i], false);
	n->broken = true;
	cvmm_virtio_device_set_needs_reset(&n->dev);
}

static void arm_timer(struct cvmm_net *n, struct cvmm_rate_limiter *rl, uint64_t bytes)
{
	uint64_t ns;

	if (n->timer_armed || !n->timer)
		return;
	ns = cvmm_rate_limiter_wait_ns(rl, 1, bytes);
	if (cvmm_event_manager_timer_set(n->em, n->timer, ns ? ns : 1, 0) == 0)
		n->timer_armed = true;
}

static void drop_pending(struct net_pair *p)
{
	p->len = p->off = 0;
	p->nheld = 0;
}

/* Put as much of the pending frame as fits into chain held[i]. */
static int fill_chain(struct net_pair *p, unsigned int i, bool first)
{
	struct cvmm_virtq_rw w;
	uint32_t want = p->len - p->off;
	ssize_t k;
	int r;

	r = cvmm_virtq_writer_init(&w, &p->held[i]);
	if (r < 0)
		return r;
	if (first) {
		if (cvmm_virtq_rw_remaining(&w) < CVMM_NET_HDR_LEN)
			return -EINVAL;
		p->hdr_w = w;
		if (cvmm_virtq_rw_advance(&w, CVMM_NET_HDR_LEN) != CVMM_NET_HDR_LEN)
			return -EINVAL;
	} else if (cvmm_virtq_rw_remaining(&w) == 0) {
		return -EINVAL; /* a mergeable buffer without room: no progress */
	}
	k = cvmm_virtq_writer_write(&w, p->buf + p->off, want);
	if (k < 0)
		return (int)k;
	p->off += (uint32_t)k;
	p->held_len[i] = (uint32_t)cvmm_virtq_rw_done(&w);
	return 0;
}

/* Pop a receive chain into held[@i]. @return 1; 0 when the guest has none
 * (notifications armed, TAP polling stopped); the queue error. */
static int rx_pop(struct net_pair *p, unsigned int i)
{
	int r;

	for (;;) {
		r = cvmm_virtq_pop(p->rxq, &p->held[i]);
		if (r != 0)
			return r;
		r = cvmm_virtq_enable_notification(p->rxq);
		if (r < 0)
			return r;
		if (r == 0) {
			poll_tap(p, false);
			return 0;
		}
	}
}

/* Read the next frame into p->buf, holding chain held[0] already.
 * @return 1 with a frame; 0 when the TAP has none (chain given back). */
static int rx_read(struct net_pair *p)
{
	ssize_t got;

	for (;;) {
		got = read(p->fd, p->buf, NET_BUF_LEN);
		if (got >= (ssize_t)CVMM_NET_HDR_LEN) {
			p->len = (uint32_t)got;
			p->off = CVMM_NET_HDR_LEN;
			p->nheld = 0;
			return 1;
		}
		if (got >= 0 || errno == EINTR)
			continue; /* a runt carries nothing to deliver */
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			/* e.g. EBADFD on a detached queue: polling again
			 * would spin on the same error */
			CVMM_LOG(CVMM_LOG_WARN, VD_CRATE, "tap read: %d", -errno);
			poll_tap(p, false);
		}
		(void)cvmm_virtq_unpop(p->rxq, &p->held[0]);
		return 0;
	}
}

/*
 * Move TAP frames into receive chains until the TAP or the guest runs dry,
 * or the rate limiter says wait. @return 1 when something was pushed, 0
 * when not, a negative errno when the queue broke.
 */
static int rx_pair(struct net_pair *p)
{
	struct cvmm_net *n = p->n;
	bool mrg = n->features & CVMM_VIRTIO_NET_F_MRG_RXBUF;
	bool limited = !cvmm_rate_limiter_unlimited(&n->rx_rl);
	int pushed = 0;
	int r;

	while (!p->rx_throttled) {
		if (p->len == 0 || p->nheld == 0) {
			/* Hold a chain before taking a frame off the TAP. */
			r = rx_pop(p, 0);
			if (r <= 0)
				return r < 0 ? r : pushed;
		}
		if (p->len == 0) {
			if (rx_read(p) == 0)
				break;
			if (limited && !cvmm_rate_limiter_consume(&n->rx_rl, 1, p->len)) {
				/* The frame waits for tokens, the chain goes back. */
				(void)cvmm_virtq_unpop(p->rxq, &p->held[0]);
				p->rx_throttled = true;
				poll_tap(p, false);
				arm_timer(n, &n->rx_rl, p->len);
				break;
			}
		}
		if (p->nheld == 0) {
			r = fill_chain(p, 0, true);
			if (r < 0)
				return r;
			p->nheld = 1;
			if (!mrg && p->off < p->len) {
				/* A non-mergeable buffer too small for the frame:
				 * drop the frame, keep the buffer for the next. */
				(void)cvmm_virtq_unpop(p->rxq, &p->held[0]);
				n->st.rx_dropped++;
				drop_pending(p);
				continue;
			}
		}
		while (p->off < p->len) {
			if (p->nheld >= n->qsize)
				return -E2BIG;
			r = rx_pop(p, p->nheld);
			if (r < 0)
				return r;
			if (r == 0)
				return pushed; /* the frame waits for buffers */
			r = fill_chain(p, p->nheld, false);
			if (r < 0)
				return r;
			p->nheld++;
		}
		/* The TAP leaves num_buffers alone: it is ours to set. */
		p->buf[10] = (uint8_t)p->nheld;
		p->buf[11] = (uint8_t)(p->nheld >> 8);
		if (cvmm_virtq_writer_write(&p->hdr_w, p->buf, CVMM_NET_HDR_LEN) !=
		    CVMM_NET_HDR_LEN)
			return -EINVAL;
		for (unsigned int i = 0; i < p->nheld; i++) {
			r = cvmm_virtq_push(p->rxq, &p->held[i], p->held_len[i]);
			if (r < 0)
				return r;
		}
		n->st.rx_frames++;
		n->st.rx_bytes += p->len - CVMM_NET_HDR_LEN;
		drop_pending(p);
		pushed = 1;
	}
	return pushed;
}

static void rx(struct net_pair *p)
{
	int r;

	if (!p->n->active || p->n->broken || !p->enabled || !p->rxq)
		return;
	r = rx_pair(p);
	if (r < 0) {
		net_broken(p->n);
		return;
	}
	if (r > 0 && cvmm_virtq_needs_notification(p->rxq))
		cvmm_virtio_device_signal_used(&p->n->dev, pair_rxq(p));
}

static void tap_cb(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	rx(opaque);
}

/* Send one validated frame: our copy of the header, then the guest's bytes. */
static void tx_frame(struct net_pair *p, struct cvmm_virtq_rw *rd,
		     struct cvmm_virtio_net_hdr *h, uint32_t flen)
{
	struct cvmm_net *n = p->n;
	struct iovec iov[NET_TX_IOV + 1];
	uint64_t spanned = 0;
	ssize_t w;
	int k;

	h->num_buffers = 0;
	iov[0].iov_base = h;
	iov[0].iov_len = CVMM_NET_HDR_LEN;
	k = cvmm_virtq_rw_iovec(rd, flen, iov + 1, NET_TX_IOV);
	for (int i = 0; i < k; i++)
		spanned += iov[1 + i].iov_len;
	if (k < 0 || spanned < flen) {
		/* more spans than iovecs: gather into one buffer */
		if (cvmm_virtq_reader_read(rd, p->txbuf, flen) != (ssize_t)flen) {
			n->st.tx_dropped++;
			return;
		}
		iov[1].iov_base = p->txbuf;
		iov[1].iov_len = flen;
		k = 1;
	}
	do
		w = writev(p->fd, iov, k + 1);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		/* A full or down TAP drops, as a wire would. */
		n->st.tx_dropped++;
		return;
	}
	n->st.tx_frames++;
	n->st.tx_bytes += flen;
}

static int tx_pair(struct net_pair *p)
{
	struct cvmm_net *n = p->n;
	bool limited = !cvmm_rate_limiter_unlimited(&n->tx_rl);
	struct cvmm_virtio_net_hdr h;
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_rw rd;
	uint64_t total;
	uint32_t flen;
	int pushed = 0;
	int r;

	if (p->tx_throttled)
		return 0;
	for (;;) {
		while ((r = cvmm_virtq_pop(p->txq, &c)) > 0) {
			r = cvmm_virtq_reader_init(&rd, &c);
			if (r < 0)
				return r;
			total = cvmm_virtq_rw_remaining(&rd);
			if (total < CVMM_NET_HDR_LEN ||
			    total - CVMM_NET_HDR_LEN > CVMM_NET_MAX_FRAME)
				return -EMSGSIZE;
			flen = (uint32_t)(total - CVMM_NET_HDR_LEN);
			if (limited && !cvmm_rate_limiter_consume(&n->tx_rl, 1, flen)) {
				(void)cvmm_virtq_unpop(p->txq, &c);
				p->tx_throttled = true;
				arm_timer(n, &n->tx_rl, flen);
				return pushed;
			}
			/* A copy, so the guest cannot change it after the check. */
			if (cvmm_virtq_reader_read(&rd, &h, sizeof(h)) != (ssize_t)sizeof(h))
				return -EINVAL;
			if (flen == 0 || cvmm_net_tx_hdr_check(&h, flen, n->features) < 0)
				n->st.tx_dropped++;
			else
				tx_frame(p, &rd, &h, flen);
			r = cvmm_virtq_push(p->txq, &c, 0);
			if (r < 0)
				return r;
			pushed = 1;
		}
		if (r < 0)
			return r;
		r = cvmm_virtq_enable_notification(p->txq);
		if (r < 0)
			return r;
		if (r == 0)
			break;
	}
	return pushed;
}

static void tx(struct net_pair *p)
{
	int r;

	if (!p->n->active || p->n->broken || !p->enabled || !p->txq)
		return;
	r = tx_pair(p);
	if (r < 0) {
		net_broken(p->n);
		return;
	}
	if (r > 0 && cvmm_virtq_needs_notification(p->txq))
		cvmm_virtio_device_signal_used(&p->n->dev, pair_rxq(p) + 1);
}

static void set_pair_enabled(struct net_pair *p, bool on)
{
	if (on == p->enabled)
		return;
	p->enabled = on;
	/* A detached queue gets no flows steered to it by the kernel. */
	if (p->n->npairs > 1)
		(void)cvmm_net_tap_attach(p->fd, on);
	if (!on) {
		poll_tap(p, false);
		return;
	}
	if (p->rxq && !p->rx_throttled)
		poll_tap(p, true);
	rx(p);
	tx(p);
}

static uint8_t ctrl_command(struct cvmm_net *n, uint8_t cls, uint8_t cmd,
			    struct cvmm_virtq_rw *rd)
{
	uint8_t v[2];

	if (cls == CVMM_VIRTIO_NET_CTRL_MQ && cmd == CVMM_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET &&
	    (n->features & CVMM_VIRTIO_NET_F_MQ)) {
		uint16_t pairs;

		if (cvmm_virtq_reader_read(rd, v, 2) != 2)
			return CVMM_VIRTIO_NET_ERR;
		pairs = (uint16_t)(v[0] | v[1] << 8);
		if (pairs < 1 || pairs > n->npairs)
			return CVMM_VIRTIO_NET_ERR;
		n->st.active_pairs = pairs;
		for (unsigned int i = 0; i < n->npairs && !n->broken; i++)
			set_pair_enabled(&n->pairs[i], i < pairs);
		return CVMM_VIRTIO_NET_OK;
	}
	return CVMM_VIRTIO_NET_ERR;
}

static int ctrl_process(struct cvmm_net *n)
{
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_rw rd, wr;
	uint8_t hdr[2], ack;
	int pushed = 0;
	int r;

	for (;;) {
		while ((r = cvmm_virtq_pop(n->ctrlq, &c)) > 0) {
			r = cvmm_virtq_reader_init(&rd, &c);
			if (r < 0)
				return r;
			r = cvmm_virtq_writer_init(&wr, &c);
			if (r < 0)
				return r;
			if (cvmm_virtq_rw_remaining(&rd) < 2 || cvmm_virtq_rw_remaining(&wr) < 1)
				return -EINVAL;
			if (cvmm_virtq_reader_read(&rd, hdr, 2) != 2)
				return -EINVAL;
			ack = ctrl_command(n, hdr[0], hdr[1], &rd);
			if (n->broken)
				return 0;
			if (cvmm_virtq_writer_write(&wr, &ack, 1) != 1)
				return -EINVAL;
			r = cvmm_virtq_push(n->ctrlq, &c, 1);
			if (r < 0)
				return r;
			pushed = 1;
		}
		if (r < 0)
			return r;
		r = cvmm_virtq_enable_notification(n->ctrlq);
		if (r < 0)
			return r;
		if (r == 0)
			break;
	}
	return pushed;
}

static void net_queue_event(struct cvmm_virtio_device *dev, unsigned int q)
{
	struct cvmm_net *n = to_net(dev);
	struct net_pair *p;
	int r;

	if (!n->active || n->broken)
		return;
	if (n->ctrlq && q == 2 * n->npairs) {
		r = ctrl_process(n);
		if (r < 0)
			net_broken(n);
		else if (r > 0 && cvmm_virtq_needs_notification(n->ctrlq))
			cvmm_virtio_device_signal_used(dev, q);
		return;
	}
	if (q / 2 >= n->npairs)
		return;
	p = &n->pairs[q / 2];
	if (q % 2 == 0) {
		/* New receive buffers: a pending frame may complete now. */
		if (p->enabled && p->rxq && !p->rx_throttled)
			poll_tap(p, true);
		rx(p);
	} else {
		tx(p);
	}
}

static void timer_cb(struct cvmm_event_manager *em, struct cvmm_event_timer *t,
		     uint64_t exp, void *opaque)
{
	struct cvmm_net *n = opaque;

	n->timer_armed = false;
	for (unsigned int i = 0; i < n->npairs; i++) {
		struct net_pair *p = &n->pairs[i];

		if (p->rx_throttled) {
			uint32_t bytes = p->len;

			if (cvmm_rate_limiter_consume(&n->rx_rl, 1, bytes)) {
				p->rx_throttled = false;
				if (p->enabled && p->rxq)
					poll_tap(p, true);
			} else {
				arm_timer(n, &n->rx_rl, bytes);
			}
		}
		p->tx_throttled = false;
	}
	for (unsigned int i = 0; i < n->npairs; i++) {
		rx(&n->pairs[i]);
		tx(&n->pairs[i]);
	}
}

static int check_features(uint64_t f)
{
	/* virtio 1.2, 5.1.3.1: the dependencies a driver must respect. */
	if ((f & CVMM_VIRTIO_NET_F_MQ) && !(f & CVMM_VIRTIO_NET_F_CTRL_VQ))
		return -EINVAL;
	if ((f & (CVMM_VIRTIO_NET_F_HOST_TSO4 | CVMM_VIRTIO_NET_F_HOST_TSO6)) &&
	    !(f & CVMM_VIRTIO_NET_F_CSUM))
		return -EINVAL;
	if ((f & CVMM_VIRTIO_NET_F_HOST_ECN) &&
	    !(f & (CVMM_VIRTIO_NET_F_HOST_TSO4 | CVMM_VIRTIO_NET_F_HOST_TSO6)))
		return -EINVAL;
	if ((f & (CVMM_VIRTIO_NET_F_GUEST_TSO4 | CVMM_VIRTIO_NET_F_GUEST_TSO6)) &&
	    !(f & CVMM_VIRTIO_NET_F_GUEST_CSUM))
		return -EINVAL;
	if ((f & CVMM_VIRTIO_NET_F_GUEST_ECN) &&
	    !(f & (CVMM_VIRTIO_NET_F_GUEST_TSO4 | CVMM_VIRTIO_NET_F_GUEST_TSO6)))
		return -EINVAL;
	return 0;
}

static void net_reset(struct cvmm_virtio_device *dev)
{
	struct cvmm_net *n = to_net(dev);

	for (unsigned int i = 0; i < n->npairs; i++) {
		struct net_pair *p = &n->pairs[i];

		poll_tap(p, false);
		drop_pending(p);
		p->rx_throttled = p->tx_throttled = false;
		p->enabled = false;
		p->rxq = p->txq = NULL;
	}
	if (n->timer) {
		cvmm_event_manager_timer_remove(n->em, n->timer);
		n->timer = NULL;
	}
	n->timer_armed = false;
	n->ctrlq = NULL;
	n->active = false;
	n->broken = false;
	n->features = 0;
	n->restored_pairs = 0;
}

static int net_activate(struct cvmm_virtio_device *dev, struct cvmm_guest_mem *mem,
			struct cvmm_virtq *queues, unsigned int nq, uint64_t features)
{
	struct cvmm_net *n = to_net(dev);
	uint32_t tun = 0;
	int r;

	if (nq < n->dev.num_queues)
		return -EINVAL;
	r = check_features(features);
	if (r < 0)
		return r;
	n->features = features;
	for (unsigned int i = 0; i < n->npairs; i++) {
		r = cvmm_net_tap_set_offload(n->pairs[i].fd, features, &tun);
		if (r < 0)
			return r;
	}
	n->st.tap_offload = tun;
	r = cvmm_event_manager_timer_add(n->em, 0, 0, timer_cb, n, &n->timer);
	if (r < 0)
		return r;
	n->ctrlq = NULL;
	if (n->npairs > 1 && (features & CVMM_VIRTIO_NET_F_CTRL_VQ) &&
	    cvmm_virtq_active(&queues[2 * n->npairs]))
		n->ctrlq = &queues[2 * n->npairs];
	n->active = true;
	n->broken = false;
	/* Only pair 0 until VQ_PAIRS_SET, unless a restore says otherwise. */
	n->st.active_pairs = 1;
	if (n->restored_pairs && (features & CVMM_VIRTIO_NET_F_MQ))
		n->st.active_pairs = n->restored_pairs;
	n->restored_pairs = 0;
	for (unsigned int i = 0; i < n->npairs; i++) {
		struct net_pair *p = &n->pairs[i];

		p->rxq = cvmm_virtq_active(&queues[2 * i]) ? &queues[2 * i] : NULL;
		p->txq = cvmm_virtq_active(&queues[2 * i + 1]) ? &queues[2 * i + 1] : NULL;
		drop_pending(p);
		/* from a known attach state */
		p->enabled = i >= n->st.active_pairs;
		set_pair_enabled(p, i < n->st.active_pairs);
	}
	__atomic_store_n(&n->st.activations, n->st.activations + 1, __ATOMIC_RELEASE);
	return 0;
}

/*
 * Quiesce: a frame half-way into mergeable buffers is completed as it is
 * (num_buffers = the buffers it holds; the guest's stack drops the short
 * frame), so no popped chain is left out of the saved queue state. A frame
 * still waiting for tokens lives only in host memory and is dropped, as a
 * wire would drop it.
 */
static int net_save(struct cvmm_virtio_device *dev, void *buf, size_t len)
{
	struct cvmm_net *n = to_net(dev);

	if (!buf)
		return NET_STATE_LEN;
	if (len < NET_STATE_LEN)
		return -ENOSPC;
	for (unsigned int i = 0; i < n->npairs && n->active && !n->broken; i++) {
		struct net_pair *p = &n->pairs[i];
		bool pushed = false;

		if (p->nheld) {
			p->buf[10] = (uint8_t)p->nheld;
			p->buf[11] = (uint8_t)(p->nheld >> 8);
			if (cvmm_virtq_writer_write(&p->hdr_w, p->buf, CVMM_NET_HDR_LEN) !=
			    CVMM_NET_HDR_LEN)
				return -EIO;
			for (unsigned int k = 0; k < p->nheld; k++)
				if (cvmm_virtq_push(p->rxq, &p->held[k], p->held_len[k]) < 0)
					return -EIO;
			pushed = true;
		}
		if (p->len)
			n->st.rx_dropped++;
		drop_pending(p);
		if (p->rx_throttled) {
			p->rx_throttled = false;
			if (p->enabled && p->rxq)
				poll_tap(p, true);
		}
		if (pushed && cvmm_virtq_needs_notification(p->rxq))
			cvmm_virtio_device_signal_used(dev, 2 * i);
	}
	vd_put_le32(buf, NET_STATE_VERSION);
	vd_put_le32((uint8_t *)buf + 4, n->active ? n->st.active_pairs : 1);
	return NET_STATE_LEN;
}

static int net_restore(struct cvmm_virtio_device *dev, const void *buf, size_t len)
{
	struct cvmm_net *n = to_net(dev);
	uint32_t pairs;

	if (!buf || len != NET_STATE_LEN || vd_get_le32(buf) != NET_STATE_VERSION)
		return -EINVAL;
	pairs = vd_get_le32((const uint8_t *)buf + 4);
	if (pairs < 1 || pairs > n->npairs)
		return -EINVAL;
	n->restored_pairs = pairs;
	return 0;
}

static const struct cvmm_virtio_device_ops net_ops = {
	.config_read = net_config_read,
	.activate = net_activate,
	.queue_event = net_queue_event,
	.reset = net_reset,
	.save = net_save,
	.restore = net_restore,
};

static void free_pairs(struct cvmm_net *n)
{
	for (unsigned int i = 0; i < CVMM_NET_MAX_PAIRS; i++) {
		struct net_pair *p = &n->pairs[i];

		if (n->own_fds && p->fd >= 0)
			close(p->fd);
		free(p->buf);
		free(p->txbuf);
		free(p->held);
		free(p->held_len);
	}
}

int cvmm_net_create(const struct cvmm_net_opts *o, struct cvmm_net **out)
{
	int fds[CVMM_NET_MAX_PAIRS];
	struct cvmm_net *n;
	unsigned int np, i;
	uint64_t feat;
	int r;

	if (!o || !out || o->sz < sizeof(*o) || !o->em)
		return -EINVAL;
	if (!!o->tap_name == !!o->tap_fds)
		return -EINVAL;
	np = o->num_queue_pairs ? o->num_queue_pairs : 1;
	if (np > CVMM_NET_MAX_PAIRS)
		return -EINVAL;
	if (o->has_mac && (o->mac[0] & 1))
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (i = 0; i < CVMM_NET_MAX_PAIRS; i++)
		n->pairs[i].fd = -1;
	n->em = o->em;
	n->npairs = np;
	n->qsize = o->queue_size ? o->queue_size : 256;
	if (n->qsize > CVMM_VIRTQ_MAX_SIZE) {
		r = -EINVAL;
		goto fail;
	}
	if (o->tap_name) {
		r = cvmm_net_tap_open(o->tap_name, np, fds, NULL);
		if (r < 0)
			goto fail;
		n->own_fds = true;
	} else {
		memcpy(fds, o->tap_fds, np * sizeof(int));
	}
	for (i = 0; i < np; i++) {
		struct net_pair *p = &n->pairs[i];

		p->n = n;
		p->fd = fds[i];
		r = cvmm_net_tap_prepare(p->fd, CVMM_NET_HDR_LEN);
		if (r < 0)
			goto fail;
		/* A source still running on the TAP keeps what its guest set. */
		r = o->tap_live ? 0 : cvmm_net_tap_set_offload(p->fd, 0, NULL);
		if (r < 0)
			goto fail;
		p->buf = malloc(NET_BUF_LEN);
		p->txbuf = malloc(CVMM_NET_MAX_FRAME);
		p->held = calloc(n->qsize, sizeof(*p->held));
		p->held_len = calloc(n->qsize, sizeof(*p->held_len));
		if (!p->buf || !p->txbuf || !p->held || !p->held_len) {
			r = -ENOMEM;
			goto fail;
		}
	}
	r = cvmm_rate_limiter_init(&n->rx_rl, o->rx_rate);
	if (r == 0)
		r = cvmm_rate_limiter_init(&n->tx_rl, o->tx_rate);
	if (r < 0)
		goto fail;
	feat = CVMM_VIRTIO_NET_F_CSUM | CVMM_VIRTIO_NET_F_GUEST_CSUM |
	       CVMM_VIRTIO_NET_F_GUEST_TSO4 | CVMM_VIRTIO_NET_F_GUEST_TSO6 |
	       CVMM_VIRTIO_NET_F_GUEST_ECN | CVMM_VIRTIO_NET_F_HOST_TSO4 |
	       CVMM_VIRTIO_NET_F_HOST_TSO6 | CVMM_VIRTIO_NET_F_HOST_ECN |
	       CVMM_VIRTIO_NET_F_MRG_RXBUF | CVMM_VIRTIO_NET_F_STATUS;
	if (o->has_mac) {
		feat |= CVMM_VIRTIO_NET_F_MAC;
		memcpy(n->config, o->mac, 6);
	}
	n->config[6] = NET_S_LINK_UP;
	n->config[8] = (uint8_t)np;
	n->dev.num_queues = (uint16_t)(2 * np);
	if (np > 1) {
		feat |= CVMM_VIRTIO_NET_F_CTRL_VQ | CVMM_VIRTIO_NET_F_MQ;
		n->dev.num_queues++;
	}
	n->dev.ops = &net_ops;
	n->dev.device_id = CVMM_VIRTIO_ID_NET;
	n->dev.config_size = NET_CFG_SIZE;
	n->dev.features = feat;
	for (i = 0; i < n->dev.num_queues; i++)
		n->dev.queue_max_size[i] = n->qsize;
	*out = n;
	return 0;
fail:
	free_pairs(n);
	free(n);
	return r;
}

void cvmm_net_destroy(struct cvmm_net *n)
{
	if (!n)
		return;
	free_pairs(n);
	free(n);
}

struct cvmm_virtio_device *cvmm_net_device(struct cvmm_net *n)
{
	return &n->dev;
}

int cvmm_net_tap_fd(const struct cvmm_net *n, unsigned int pair)
{
	if (!n || pair >= n->npairs)
		return -EINVAL;
	return n->pairs[pair].fd;
}

void cvmm_net_get_stats(const struct cvmm_net *n, struct cvmm_net_stats *s)
{
	*s = n->st;
}
