/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock, hybrid form: every guest stream connection is a host unix
 * stream socket. One loop thread runs the queues and all sockets.
 *
 * Device-to-guest traffic has two sources: control packets (RESPONSE, RST,
 * SHUTDOWN, CREDIT_UPDATE, REQUEST) queued in a bounded ring, and data read
 * from sockets. A socket is read only when the guest has credit for it and
 * a receive buffer is at hand; otherwise its EPOLLIN interest is dropped, so
 * a host peer can never make the loop spin or make the device buffer data
 * for the guest. Guest-to-host data goes straight to the socket; what the
 * socket does not take is kept (at most buf_alloc bytes, the credit the
 * guest was given) and written on EPOLLOUT.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cvmm/virtio-devices/vsock.h>

#include "internal.h"

#define VS_RXQ 0u
#define VS_TXQ 1u
#define VS_EVQ 2u
#define VS_CFG_SIZE 8u
#define VS_CTL_MAX 1024u
#define VS_LINE_MAX 32u
/* Host-side ports of host-initiated connections (as Firecracker: high,
 * away from the ports host programs listen on). */
#define VS_LOCAL_PORT_BASE (1u << 30)

enum vs_state {
	VS_HANDSHAKE,  /* accepted on the listener, waiting for "CONNECT N\n" */
	VS_CONNECTING, /* REQUEST sent to the guest, waiting for RESPONSE */
	VS_ESTABLISHED,
};

struct cvmm_vsock;

struct vs_conn {
	struct vs_conn *next;
	struct cvmm_vsock *v;
	int fd;
	bool polled;
	uint32_t events;      /* current epoll mask */
	enum vs_state state;
	uint32_t host_port;
	uint32_t guest_port;
	bool rd_want;         /* the socket was readable and is not drained */
	bool host_eof;        /* the host peer stopped sending: SHUTDOWN sent */
	bool guest_shut_send;
	bool guest_shut_rcv;
	uint32_t peer_buf_alloc; /* the guest's receive credit */
	uint32_t peer_fwd_cnt;
	uint32_t rx_cnt;      /* bytes given to the guest */
	uint32_t fwd_cnt;     /* guest bytes written to the socket */
	uint32_t fwd_cnt_sent;
	uint8_t *backlog;     /* guest bytes the socket did not take yet */
	uint32_t bl_len;
};

struct cvmm_vsock {
	struct cvmm_virtio_device dev;
	struct cvmm_event_manager *em;
	uint64_t guest_cid;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int lfd;
	bool listening;
	bool path_owner;       /* destroy unlinks the path */
	uint32_t buf_alloc;
	uint32_t max_conns;
	bool active;
	bool broken;
	struct cvmm_virtq *rxq;
	struct cvmm_virtq *txq;
	struct cvmm_virtq *evq;
	bool reset_pending;   /* restored: tell the guest its connections are gone */
	struct vs_conn *conns;
	uint32_t next_port;
	struct cvmm_vsock_hdr ctl[VS_CTL_MAX];
	unsigned int ctl_head;
	unsigned int ctl_n;
	uint8_t *buf;         /* socket data on its way to a receive chain */
	struct cvmm_vsock_stats st;
	uint8_t config[VS_CFG_SIZE];
};

static struct cvmm_vsock *to_vs(struct cvmm_virtio_device *dev)
{
	return CVMM_CONTAINER_OF(dev, struct cvmm_vsock, dev);
}

static void vs_config_read(struct cvmm_virtio_device *dev, uint32_t off, void *data,
			   uint32_t len)
{
	vd_config_copy(to_vs(dev)->config, VS_CFG_SIZE, off, data, len);
}

/* ---- control packets ------------------------------------------------ */

static void ctl_queue(struct cvmm_vsock *v, uint32_t host_port, uint32_t guest_port,
		      uint16_t op, uint32_t flags, struct vs_conn *c)
{
	struct cvmm_vsock_hdr *h;

	if (v->ctl_n == VS_CTL_MAX) {
		/* Only a guest that never posts receive buffers while it
		 * floods us gets here; it loses control packets. */
		CVMM_LOG(CVMM_LOG_DEBUG, VD_CRATE, "vsock: control ring full");
		return;
	}
	h = &v->ctl[(v->ctl_head + v->ctl_n) % VS_CTL_MAX];
	v->ctl_n++;
	memset(h, 0, sizeof(*h));
	h->src_cid = CVMM_VSOCK_HOST_CID;
	h->dst_cid = v->guest_cid;
	h->src_port = host_port;
	h->dst_port = guest_port;
	h->type = CVMM_VSOCK_TYPE_STREAM;
	h->op = op;
	h->flags = flags;
	h->buf_alloc = v->buf_alloc;
	if (c) {
		h->fwd_cnt = c->fwd_cnt;
		c->fwd_cnt_sent = c->fwd_cnt;
	}
	if (op == CVMM_VSOCK_OP_RST)
		v->st.rst_sent++;
}

static void ctl_conn(struct vs_conn *c, uint16_t op, uint32_t flags)
{
	ctl_queue(c->v, c->host_port, c->guest_port, op, flags, c);
}

/* ---- connections ---------------------------------------------------- */

static void conn_cb(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque);

static uint32_t peer_credit(const struct vs_conn *c)
{
	uint32_t in_flight = c->rx_cnt - c->peer_fwd_cnt;

	/* A guest reporting more consumed than it was sent gets no credit
	 * beyond its buf_alloc: the subtraction is modulo 2^32 by design. */
	if (in_flight > c->peer_buf_alloc)
		return 0;
	return c->peer_buf_alloc - in_flight;
}

static void conn_set_events(struct vs_conn *c)
{
	uint32_t ev = 0;

	if (!c->polled)
		return;
	if (c->state == VS_HANDSHAKE)
		ev = EPOLLIN;
	else if (c->state == VS_ESTABLISHED && !c->rd_want && !c->host_eof &&
		 !c->guest_shut_rcv && peer_credit(c) > 0)
		ev = EPOLLIN;
	if (c->bl_len)
		ev |= EPOLLOUT;
	if (ev != c->events && cvmm_event_manager_modify(c->v->em, c->fd, ev) == 0)
		c->events = ev;
}

static struct vs_conn *conn_new(struct cvmm_vsock *v, int fd, enum vs_state st)
{
	struct vs_conn *c;

	if (v->st.conns >= v->max_conns)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->backlog = malloc(v->buf_alloc);
	if (!c->backlog) {
		free(c);
		return NULL;
	}
	c->v = v;
	c->fd = fd;
	c->state = st;
	c->events = st == VS_HANDSHAKE ? EPOLLIN : 0;
	if (cvmm_event_manager_add(v->em, fd, c->events, conn_cb, c) < 0) {
		free(c->backlog);
		free(c);
		return NULL;
	}
	c->polled = true;
	c->next = v->conns;
	v->conns = c;
	v->st.conns++;
	return c;
}

static void conn_close(struct vs_conn *c)
{
	struct cvmm_vsock *v = c->v;

	for (struct vs_conn **pp = &v->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->polled)
		cvmm_event_manager_remove(v->em, c->fd);
	close(c->fd);
	free(c->backlog);
	free(c);
	v->st.conns--;
}

static void conn_reset(struct vs_conn *c)
{
	if (c->state != VS_HANDSHAKE)
		ctl_conn(c, CVMM_VSOCK_OP_RST, 0);
	conn_close(c);
}

static struct vs_conn *conn_find(struct cvmm_vsock *v, uint32_t host_port,
				 uint32_t guest_port)
{
	for (struct vs_conn *c = v->conns; c; c = c->next)
		if (c->state != VS_HANDSHAKE && c->host_port == host_port &&
		    c->guest_port == guest_port)
			return c;
	return NULL;
}

/* Write the backlog to the socket. @return 0; -1 after a reset. */
static int conn_flush(struct vs_conn *c)
{
	ssize_t w;

	while (c->bl_len) {
		w = send(c->fd, c->backlog, c->bl_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0) {
			conn_reset(c);
			return -1;
		}
		memmove(c->backlog, c->backlog + w, c->bl_len - (size_t)w);
		c->bl_len -= (uint32_t)w;
		c->fwd_cnt += (uint32_t)w;
	}
	if (c->bl_len == 0 && c->guest_shut_send)
		(void)shutdown(c->fd, SHUT_WR);
	/* The guest may be waiting for credit: tell it about the room. */
	if (c->fwd_cnt != c->fwd_cnt_sent)
		ctl_conn(c, CVMM_VSOCK_OP_CREDIT_UPDATE, 0);
	conn_set_events(c);
	return 0;
}

/* ---- device to guest ------------------------------------------------ */

static void close_all(struct cvmm_vsock *v);

/* The guest broke a ring: its connections end now (the host peers see
 * EOF), and nothing is accepted until the driver resets the device. */
static void vs_broken(struct cvmm_vsock *v)
{
	v->broken = true;
	close_all(v);
	if (v->listening) {
		cvmm_event_manager_remove(v->em, v->lfd);
		v->listening = false;
	}
	cvmm_virtio_device_set_needs_reset(&v->dev);
}

/* Pop a receive chain. @return 1; 0 when none (notifications armed); the
 * queue error. */
static int rx_pop(struct cvmm_vsock *v, struct cvmm_virtq_chain *ch)
{
	int r;

	for (;;) {
		r = cvmm_virtq_pop(v->rxq, ch);
		if (r != 0)
			return r;
		r = cvmm_virtq_enable_notification(v->rxq);
		if (r <= 0)
			return r;
	}
}

static struct vs_conn *next_reader(struct cvmm_vsock *v)
{
	for (struct vs_conn *c = v->conns; c; c = c->next)
		if (c->state == VS_ESTABLISHED && c->rd_want && !c->host_eof &&
		    !c->guest_shut_rcv && peer_credit(c) > 0)
			return c;
	return NULL;
}

/* Read socket data for @c into chain @ch. @return 1 pushed; 0 nothing
 * (chain given back); negative: the queue broke. */
static int rx_data(struct cvmm_vsock *v, struct vs_conn *c, struct cvmm_virtq_chain *ch,
		   struct cvmm_virtq_rw *w)
{
	uint64_t room = cvmm_virtq_rw_remaining(w) - CVMM_VSOCK_HDR_LEN;
	uint32_t n = peer_credit(c);
	uint8_t raw[CVMM_VSOCK_HDR_LEN];
	struct cvmm_vsock_hdr h;
	ssize_t got;
	int r;

	if (room < n)
		n = (uint32_t)room;
	if (n > CVMM_VSOCK_MAX_PKT)
		n = CVMM_VSOCK_MAX_PKT;
	do
		got = recv(c->fd, v->buf, n, MSG_DONTWAIT);
	while (got < 0 && errno == EINTR);
	if (got <= 0) {
		(void)cvmm_virtq_unpop(v->rxq, ch);
		c->rd_want = false;
		if (got == 0) {
			/* The host peer closed: the guest finishes the close
			 * with an RST (or its own SHUTDOWN). */
			c->host_eof = true;
			ctl_conn(c, CVMM_VSOCK_OP_SHUTDOWN,
				 CVMM_VSOCK_SHUTDOWN_RCV | CVMM_VSOCK_SHUTDOWN_SEND);
		} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			conn_reset(c);
			return 0;
		}
		conn_set_events(c);
		return 0;
	}
	memset(&h, 0, sizeof(h));
	h.src_cid = CVMM_VSOCK_HOST_CID;
	h.dst_cid = v->guest_cid;
	h.src_port = c->host_port;
	h.dst_port = c->guest_port;
	h.len = (uint32_t)got;
	h.type = CVMM_VSOCK_TYPE_STREAM;
	h.op = CVMM_VSOCK_OP_RW;
	h.buf_alloc = v->buf_alloc;
	h.fwd_cnt = c->fwd_cnt;
	c->fwd_cnt_sent = c->fwd_cnt;
	cvmm_vsock_hdr_encode(&h, raw);
	if (cvmm_virtq_writer_write(w, raw, sizeof(raw)) != (ssize_t)sizeof(raw) ||
	    cvmm_virtq_writer_write(w, v->buf, (size_t)got) != got)
		return -EINVAL;
	c->rx_cnt += (uint32_t)got;
	r = cvmm_virtq_push(v->rxq, ch, CVMM_VSOCK_HDR_LEN + (uint32_t)got);
	return r < 0 ? r : 1;
}

static void rx_process(struct cvmm_vsock *v)
{
	struct cvmm_virtq_chain ch;
	struct cvmm_virtq_rw w;
	uint8_t raw[CVMM_VSOCK_HDR_LEN];
	bool pushed = false;
	struct vs_conn *c;
	int r;

	if (!v->active || v->broken || !v->rxq)
		return;
	for (;;) {
		c = NULL;
		if (v->ctl_n == 0) {
			c = next_reader(v);
			if (!c)
				break;
		}
		r = rx_pop(v, &ch);
		if (r == 0)
			break; /* a receiveq kick brings us back */
		if (r < 0)
			goto fail;
		r = cvmm_virtq_writer_init(&w, &ch);
		if (r < 0)
			goto fail;
		/* Every receive buffer must hold a header (5.10.6.3). */
		if (cvmm_virtq_rw_remaining(&w) < CVMM_VSOCK_HDR_LEN)
			goto fail;
		if (!c) {
			cvmm_vsock_hdr_encode(&v->ctl[v->ctl_head], raw);
			v->ctl_head = (v->ctl_head + 1) % VS_CTL_MAX;
			v->ctl_n--;
			if (cvmm_virtq_writer_write(&w, raw, sizeof(raw)) != (ssize_t)sizeof(raw))
				goto fail;
			if (cvmm_virtq_push(v->rxq, &ch, CVMM_VSOCK_HDR_LEN) < 0)
				goto fail;
			v->st.rx_pkts++;
			pushed = true;
			continue;
		}
		if (cvmm_virtq_rw_remaining(&w) == CVMM_VSOCK_HDR_LEN) {
			/* no room for data in a header-sized buffer: answer it
			 * with a credit update instead of leaving it idle */
			(void)cvmm_virtq_unpop(v->rxq, &ch);
			ctl_conn(c, CVMM_VSOCK_OP_CREDIT_UPDATE, 0);
			continue;
		}
		r = rx_data(v, c, &ch, &w);
		if (r < 0)
			goto fail;
		if (r > 0) {
			v->st.rx_pkts++;
			pushed = true;
		}
	}
	if (pushed && cvmm_virtq_needs_notification(v->rxq))
		cvmm_virtio_device_signal_used(&v->dev, VS_RXQ);
	return;
fail:
	vs_broken(v);
}

static void conn_cb(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque);

/* "CONNECT <port>\n" from a host peer; bytes after the newline stay in the
 * socket as stream data. @return 0 waiting or done; -1 closed. */
static int conn_handshake(struct vs_conn *c)
{
	struct cvmm_vsock *v = c->v;
	char line[VS_LINE_MAX + 1];
	char *nl, *end;
	unsigned long port;
	ssize_t got;

	got = recv(c->fd, line, VS_LINE_MAX, MSG_PEEK | MSG_DONTWAIT);
	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (got <= 0)
		goto bad;
	line[got] = 0;
	nl = memchr(line, '\n', (size_t)got);
	if (!nl) {
		if (got < (ssize_t)VS_LINE_MAX)
			return 0; /* the rest of the line is still coming */
		goto bad;
	}
	if (recv(c->fd, line, (size_t)(nl - line + 1), MSG_DONTWAIT) != nl - line + 1)
		goto bad;
	*nl = 0;
	if (strncmp(line, "CONNECT ", 8) != 0 || line[8] < '0' || line[8] > '9')
		goto bad;
	errno = 0;
	port = strtoul(line + 8, &end, 10);
	if (errno || *end || port > UINT32_MAX)
		goto bad;
	c->guest_port = (uint32_t)port;
	/* A host port no other connection to this guest port uses. */
	do {
		if (v->next_port < VS_LOCAL_PORT_BASE)
			v->next_port = VS_LOCAL_PORT_BASE;
		c->host_port = v->next_port++;
	} while (conn_find(v, c->host_port, c->guest_port));
	c->state = VS_CONNECTING;
	ctl_conn(c, CVMM_VSOCK_OP_REQUEST, 0);
	conn_set_events(c);
	return 0;
bad:
	conn_close(c);
	return -1;
}

static void conn_cb(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct vs_conn *c = opaque;
	struct cvmm_vsock *v = c->v;

	if (c->state == VS_HANDSHAKE) {
		if (conn_handshake(c) == 0)
			rx_process(v);
		return;
	}
	if (events & EPOLLOUT) {
		if (conn_flush(c) < 0) {
			rx_process(v);
			return;
		}
	}
	if (events & (EPOLLHUP | EPOLLERR)) {
		/* Reported whatever the mask: stop watching, let the reads
		 * (when credit allows) find the end of the stream. */
		cvmm_event_manager_remove(em, fd);
		c->polled = false;
		if (c->state == VS_CONNECTING) {
			conn_reset(c);
			rx_process(v);
			return;
		}
		c->rd_want = true;
	}
	if (events & EPOLLIN) {
		c->rd_want = true;
		conn_set_events(c);
	}
	rx_process(v);
}

static void listen_cb(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct cvmm_vsock *v = opaque;
	int s;

	while ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (!conn_new(v, s, VS_HANDSHAKE))
			close(s);
	}
}

/* ---- guest to device ------------------------------------------------ */

static void guest_connect(struct cvmm_vsock *v, const struct cvmm_vsock_hdr *h)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct vs_conn *c;
	int s, n;

	n = snprintf(a.sun_path, sizeof(a.sun_path), "%s_%" PRIu32, v->path, h->dst_port);
	if (n < 0 || (size_t)n >= sizeof(a.sun_path))
		goto rst;
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		goto rst;
	/* Non-blocking: a listener with a full backlog refuses (EAGAIN)
	 * instead of stalling the device thread. */
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(s);
		goto rst;
	}
	c = conn_new(v, s, VS_ESTABLISHED);
	if (!c) {
		close(s);
		goto rst;
	}
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	ctl_conn(c, CVMM_VSOCK_OP_RESPONSE, 0);
	conn_set_events(c);
	return;
rst:
	ctl_queue(v, h->dst_port, h->src_port, CVMM_VSOCK_OP_RST, 0, NULL);
}

/* Guest data for @c: to the socket, the rest into the backlog. */
static void guest_data(struct vs_conn *c, struct cvmm_virtq_rw *rd, uint32_t len)
{
	struct iovec iov[16];
	ssize_t w = 0;
	int k;

	if (c->state != VS_ESTABLISHED || c->guest_shut_send ||
	    len > c->v->buf_alloc - c->bl_len) {
		/* Data before the handshake, after SHUTDOWN, or beyond the
		 * credit the guest was given. */
		conn_reset(c);
		return;
	}
	if (c->bl_len == 0) {
		k = cvmm_virtq_rw_iovec(rd, len, iov, CVMM_ARRAY_SIZE(iov));
		if (k > 0) {
			struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)k };

			do
				w = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
			while (w < 0 && errno == EINTR);
			if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
				conn_reset(c);
				return;
			}
			if (w < 0)
				w = 0;
			(void)cvmm_virtq_rw_advance(rd, (size_t)w);
			c->fwd_cnt += (uint32_t)w;
		}
	}
	if ((uint32_t)w < len) {
		ssize_t got = cvmm_virtq_reader_read(rd, c->backlog + c->bl_len, len - (size_t)w);

		if (got > 0)
			c->bl_len += (uint32_t)got;
	}
	/* Tell the guest about freed room before it runs out of credit. */
	if (c->fwd_cnt - c->fwd_cnt_sent >= c->v->buf_alloc / 2)
		ctl_conn(c, CVMM_VSOCK_OP_CREDIT_UPDATE, 0);
	conn_set_events(c);
}

static void guest_pkt(struct cvmm_vsock *v, const struct cvmm_vsock_hdr *h,
		      struct cvmm_virtq_rw *rd)
{
	struct vs_conn *c = conn_find(v, h->dst_port, h->src_port);
	char ok[32];
	int n;

	if (!c) {
		if (h->op == CVMM_VSOCK_OP_REQUEST)
			guest_connect(v, h);
		else if (h->op != CVMM_VSOCK_OP_RST)
			ctl_queue(v, h->dst_port, h->src_port, CVMM_VSOCK_OP_RST, 0, NULL);
		return;
	}
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case CVMM_VSOCK_OP_RESPONSE:
		if (c->state != VS_CONNECTING) {
			conn_reset(c);
			return;
		}
		n = snprintf(ok, sizeof(ok), "OK %" PRIu32 "\n", c->host_port);
		if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
			conn_reset(c);
			return;
		}
		c->state = VS_ESTABLISHED;
		break;
	case CVMM_VSOCK_OP_RST:
		conn_close(c);
		return;
	case CVMM_VSOCK_OP_SHUTDOWN:
		if (h->flags & CVMM_VSOCK_SHUTDOWN_RCV)
			c->guest_shut_rcv = true;
		if (h->flags & CVMM_VSOCK_SHUTDOWN_SEND) {
			c->guest_shut_send = true;
			if (c->bl_len == 0)
				(void)shutdown(c->fd, SHUT_WR);
		}
		if (c->guest_shut_rcv && c->guest_shut_send) {
			/* Both ways closed: what the socket takes now is all
			 * it gets; the RST completes the guest's close. */
			if (c->bl_len)
				(void)send(c->fd, c->backlog, c->bl_len, MSG_NOSIGNAL | MSG_DONTWAIT);
			conn_reset(c);
			return;
		}
		break;
	case CVMM_VSOCK_OP_RW:
		guest_data(c, rd, h->len);
		return;
	case CVMM_VSOCK_OP_CREDIT_UPDATE:
		break;
	case CVMM_VSOCK_OP_CREDIT_REQUEST:
		ctl_conn(c, CVMM_VSOCK_OP_CREDIT_UPDATE, 0);
		break;
	default: /* REQUEST on an open connection */
		conn_reset(c);
		return;
	}
	conn_set_events(c);
}

static int tx_process(struct cvmm_vsock *v)
{
	uint8_t raw[CVMM_VSOCK_HDR_LEN];
	struct cvmm_virtq_chain ch;
	struct cvmm_virtq_rw rd;
	struct cvmm_vsock_hdr h;
	bool pushed = false;
	uint64_t total;
	ssize_t got;
	int r;

	for (;;) {
		while ((r = cvmm_virtq_pop(v->txq, &ch)) > 0) {
			r = cvmm_virtq_reader_init(&rd, &ch);
			if (r < 0)
				return r;
			total = cvmm_virtq_rw_remaining(&rd);
			got = cvmm_virtq_reader_read(&rd, raw, sizeof(raw));
			if (got < 0)
				return (int)got;
			v->st.tx_pkts++;
			memset(&h, 0, sizeof(h));
			r = cvmm_vsock_hdr_parse(raw, (size_t)got,
						 total - (uint64_t)got, v->guest_cid, &h);
			if (r == 0) {
				guest_pkt(v, &h, &rd);
			} else {
				v->st.tx_dropped++;
				if (r != -EMSGSIZE && r != -EACCES && h.op != CVMM_VSOCK_OP_RST)
					ctl_queue(v, h.dst_port, h.src_port, CVMM_VSOCK_OP_RST, 0,
						  NULL);
			}
			if (v->broken)
				return 0;
			r = cvmm_virtq_push(v->txq, &ch, 0);
			if (r < 0)
				return r;
			pushed = true;
		}
		if (r < 0)
			return r;
		r = cvmm_virtq_enable_notification(v->txq);
		if (r < 0)
			return r;
		if (r == 0)
			break;
	}
	return pushed;
}

static void vs_queue_event(struct cvmm_virtio_device *dev, unsigned int q)
{
	struct cvmm_vsock *v = to_vs(dev);
	int r;

	if (!v->active || v->broken)
		return;
	if (q == VS_TXQ && v->txq) {
		r = tx_process(v);
		if (r < 0) {
			vs_broken(v);
			return;
		}
		if (r > 0 && cvmm_virtq_needs_notification(v->txq))
			cvmm_virtio_device_signal_used(dev, VS_TXQ);
		rx_process(v);
	} else if (q == VS_RXQ) {
		rx_process(v);
	}
	/* event queue buffers are kept for transport events we never send */
}

static void close_all(struct cvmm_vsock *v)
{
	while (v->conns)
		conn_close(v->conns);
	v->ctl_head = v->ctl_n = 0;
}

static void vs_reset(struct cvmm_virtio_device *dev)
{
	struct cvmm_vsock *v = to_vs(dev);

	close_all(v);
	if (v->listening) {
		cvmm_event_manager_remove(v->em, v->lfd);
		v->listening = false;
	}
	v->active = false;
	v->broken = false;
	v->rxq = v->txq = v->evq = NULL;
}

static void send_transport_reset(struct cvmm_vsock *v);

static int vs_activate(struct cvmm_virtio_device *dev, struct cvmm_guest_mem *mem,
		       struct cvmm_virtq *queues, unsigned int nq, uint64_t features)
{
	struct cvmm_vsock *v = to_vs(dev);
	int r;

	if (nq < 3)
		return -EINVAL;
	v->rxq = cvmm_virtq_active(&queues[VS_RXQ]) ? &queues[VS_RXQ] : NULL;
	v->txq = cvmm_virtq_active(&queues[VS_TXQ]) ? &queues[VS_TXQ] : NULL;
	v->evq = cvmm_virtq_active(&queues[VS_EVQ]) ? &queues[VS_EVQ] : NULL;
	r = cvmm_event_manager_add(v->em, v->lfd, EPOLLIN, listen_cb, v);
	if (r < 0)
		return r;
	v->listening = true;
	v->active = true;
	v->broken = false;
	if (v->reset_pending)
		send_transport_reset(v);
	__atomic_store_n(&v->st.activations, v->st.activations + 1, __ATOMIC_RELEASE);
	return 0;
}

/*
 * Host connections never survive a save and restore (their sockets belong
 * to the old process): like Firecracker, tell the guest with a
 * VIRTIO_VSOCK_EVENT_TRANSPORT_RESET on the event queue, and it drops its
 * connections and re-reads the CID. Without an event buffer the guest
 * gets nothing (it posted none).
 */
static void send_transport_reset(struct cvmm_vsock *v)
{
	struct cvmm_virtq_chain ch;
	struct cvmm_virtq_rw w;
	uint8_t ev[4] = { 0 }; /* le32 id 0: TRANSPORT_RESET */

	if (!v->evq || cvmm_virtq_pop(v->evq, &ch) <= 0)
		return;
	if (cvmm_virtq_writer_init(&w, &ch) || cvmm_virtq_writer_write(&w, ev, sizeof(ev)) != sizeof(ev))
		return;
	if (cvmm_virtq_push(v->evq, &ch, sizeof(ev)) < 0)
		return;
	v->reset_pending = false;
	cvmm_virtio_device_signal_used(&v->dev, VS_EVQ);
}

/* No state of its own (connections cannot travel); a restore only arms
 * the transport reset sent at the activation that follows. */
static int vs_restore(struct cvmm_virtio_device *dev, const void *buf, size_t len)
{
	(void)buf;
	if (len)
		return -EINVAL;
	to_vs(dev)->reset_pending = true;
	return 0;
}

static const struct cvmm_virtio_device_ops vs_ops = {
	.config_read = vs_config_read,
	.activate = vs_activate,
	.queue_event = vs_queue_event,
	.reset = vs_reset,
	.restore = vs_restore,
};

/* An inherited listener: a listening unix stream socket bound to @path
 * (the peer that passed it is not trusted to have sent one). */
static int check_listener(int fd, const char *path)
{
	struct sockaddr_un a;
	socklen_t len = sizeof(a);
	int v = 0;
	socklen_t vl = sizeof(v);

	memset(&a, 0, sizeof(a));
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0 ||
	    a.sun_family != AF_UNIX || len <= offsetof(struct sockaddr_un, sun_path) ||
	    strncmp(a.sun_path, path, sizeof(a.sun_path)) ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vl) < 0 || v != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) < 0 || !v)
		return -ENOTSOCK;
	return 0;
}

int cvmm_vsock_create(const struct cvmm_vsock_opts *o, struct cvmm_vsock **out)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct cvmm_vsock *v;
	uint16_t qs;
	int r;

	if (!o || !out || o->sz < sizeof(*o) || !o->em || !o->uds_path || !*o->uds_path) {
		if (o && o->sz >= sizeof(*o) && o->inherit_listener && o->listener_fd >= 0)
			close(o->listener_fd);
		return -EINVAL;
	}
	if (o->inherit_listener) {
		r = check_listener(o->listener_fd, o->uds_path);
		if (r < 0) {
			if (o->listener_fd >= 0)
				close(o->listener_fd);
			return r;
		}
	}
	/* 0-2 are reserved, 2^32-1 is VMADDR_CID_ANY; the guest CID field
	 * is 64 bits but Linux uses 32. */
	/* room for "_4294967295" after the path */
	if (o->guest_cid < 3 || o->guest_cid >= 0xffffffffull ||
	    strlen(o->uds_path) + 12 > sizeof(a.sun_path)) {
		r = -EINVAL;
		goto fail_early;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		r = -ENOMEM;
		goto fail_early;
	}
	v->buf = malloc(CVMM_VSOCK_MAX_PKT);
	if (!v->buf) {
		free(v);
		r = -ENOMEM;
		goto fail_early;
	}
	v->em = o->em;
	v->guest_cid = o->guest_cid;
	v->buf_alloc = o->buf_alloc ? o->buf_alloc : 256u * 1024u;
	v->max_conns = o->max_conns ? o->max_conns : 1024u;
	v->next_port = VS_LOCAL_PORT_BASE;
	strcpy(v->path, o->uds_path);
	strcpy(a.sun_path, o->uds_path);
	if (o->inherit_listener) {
		/* Non-blocking already: the file description is the source's. */
		v->lfd = o->listener_fd;
	} else {
		v->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (v->lfd < 0) {
			r = -errno;
			goto fail;
		}
		if (bind(v->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(v->lfd, 128) < 0) {
			r = -errno;
			close(v->lfd);
			goto fail;
		}
		v->path_owner = true;
	}
	vd_put_le64(v->config, v->guest_cid);
	qs = o->queue_size ? o->queue_size : 256;
	v->dev.ops = &vs_ops;
	v->dev.device_id = CVMM_VIRTIO_ID_VSOCK;
	v->dev.config_size = VS_CFG_SIZE;
	v->dev.num_queues = 3;
	for (unsigned int i = 0; i < 3; i++)
		v->dev.queue_max_size[i] = qs;
	*out = v;
	return 0;
fail:
	free(v->buf);
	free(v);
	return r;
fail_early:
	if (o->inherit_listener)
		close(o->listener_fd);
	return r;
}

int cvmm_vsock_listener_fd(const struct cvmm_vsock *v)
{
	return v ? v->lfd : -EINVAL;
}

void cvmm_vsock_set_path_owner(struct cvmm_vsock *v, bool owner)
{
	if (v)
		v->path_owner = owner;
}

void cvmm_vsock_destroy(struct cvmm_vsock *v)
{
	if (!v)
		return;
	close_all(v);
	if (v->listening)
		cvmm_event_manager_remove(v->em, v->lfd);
	close(v->lfd);
	/* A path another VMM listens on now (a local migration) stays. */
	if (v->path_owner)
		unlink(v->path);
	free(v->buf);
	free(v);
}

struct cvmm_virtio_device *cvmm_vsock_device(struct cvmm_vsock *v)
{
	return &v->dev;
}

void cvmm_vsock_get_stats(const struct cvmm_vsock *v, struct cvmm_vsock_stats *s)
{
	*s = v->st;
}
