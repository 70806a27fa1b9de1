/* SPDX-License-Identifier: Apache-2.0 */
/* vhost-user framing: header + payload with SCM_RIGHTS fds, and the
 * per-request size / fd rules every received message is held to. */
#include "internal.h"

#include <poll.h>
#include <string.h>
#include <unistd.h>

#define PF(x) CVMM_VHOST_PF_##x

static const struct vhost_req_rule rules[CVMM_VHOST_REQ_MAX] = {
	[CVMM_VHOST_GET_FEATURES] = { "GET_FEATURES", 0, FD_NONE, -1, true },
	[CVMM_VHOST_SET_FEATURES] = { "SET_FEATURES", 8, FD_NONE, -1, false },
	[CVMM_VHOST_SET_OWNER] = { "SET_OWNER", 0, FD_NONE, -1, false },
	[CVMM_VHOST_RESET_OWNER] = { "RESET_OWNER", 0, FD_NONE, -1, false },
	[CVMM_VHOST_SET_MEM_TABLE] = { "SET_MEM_TABLE", -1, FD_REGIONS, -1, false },
	/* The reply exists only with LOG_SHMFD; backend.c decides. */
	[CVMM_VHOST_SET_LOG_BASE] = { "SET_LOG_BASE", 16, FD_OPT, -1, false },
	[CVMM_VHOST_SET_LOG_FD] = { "SET_LOG_FD", 0, FD_ONE, PF(LOG_SHMFD), false },
	[CVMM_VHOST_SET_VRING_NUM] = { "SET_VRING_NUM", 8, FD_NONE, -1, false },
	[CVMM_VHOST_SET_VRING_ADDR] = { "SET_VRING_ADDR", 40, FD_NONE, -1, false },
	[CVMM_VHOST_SET_VRING_BASE] = { "SET_VRING_BASE", 8, FD_NONE, -1, false },
	[CVMM_VHOST_GET_VRING_BASE] = { "GET_VRING_BASE", 8, FD_NONE, -1, true },
	[CVMM_VHOST_SET_VRING_KICK] = { "SET_VRING_KICK", 8, FD_VRING, -1, false },
	[CVMM_VHOST_SET_VRING_CALL] = { "SET_VRING_CALL", 8, FD_VRING, -1, false },
	[CVMM_VHOST_SET_VRING_ERR] = { "SET_VRING_ERR", 8, FD_VRING, -1, false },
	[CVMM_VHOST_GET_PROTOCOL_FEATURES] = { "GET_PROTOCOL_FEATURES", 0, FD_NONE, -1, true },
	[CVMM_VHOST_SET_PROTOCOL_FEATURES] = { "SET_PROTOCOL_FEATURES", 8, FD_NONE, -1, false },
	[CVMM_VHOST_GET_QUEUE_NUM] = { "GET_QUEUE_NUM", 0, FD_NONE, PF(MQ), true },
	[CVMM_VHOST_SET_VRING_ENABLE] = { "SET_VRING_ENABLE", 8, FD_NONE, -1, false },
	/* Needs ACCESS_PLATFORM acked (backend.c); always answered. */
	[CVMM_VHOST_IOTLB_MSG] = { "IOTLB_MSG", 32, FD_NONE, -1, false },
	[CVMM_VHOST_SET_BACKEND_REQ_FD] = { "SET_BACKEND_REQ_FD", 0, FD_ONE, PF(BACKEND_REQ), false },
	[CVMM_VHOST_GET_CONFIG] = { "GET_CONFIG", -1, FD_NONE, PF(CONFIG), true },
	[CVMM_VHOST_SET_CONFIG] = { "SET_CONFIG", -1, FD_NONE, PF(CONFIG), false },
	[CVMM_VHOST_POSTCOPY_ADVISE] = { "POSTCOPY_ADVISE", 0, FD_NONE, PF(PAGEFAULT), true },
	[CVMM_VHOST_POSTCOPY_LISTEN] = { "POSTCOPY_LISTEN", 0, FD_NONE, PF(PAGEFAULT), false },
	[CVMM_VHOST_POSTCOPY_END] = { "POSTCOPY_END", 0, FD_NONE, PF(PAGEFAULT), true },
	[CVMM_VHOST_GET_INFLIGHT_FD] = { "GET_INFLIGHT_FD", 24, FD_NONE, PF(INFLIGHT_SHMFD), true },
	[CVMM_VHOST_SET_INFLIGHT_FD] = { "SET_INFLIGHT_FD", 24, FD_ONE, PF(INFLIGHT_SHMFD), false },
	[CVMM_VHOST_RESET_DEVICE] = { "RESET_DEVICE", 0, FD_NONE, PF(RESET_DEVICE), false },
	[CVMM_VHOST_GET_MAX_MEM_SLOTS] = { "GET_MAX_MEM_SLOTS", 0, FD_NONE, PF(CONFIGURE_MEM_SLOTS), true },
	[CVMM_VHOST_ADD_MEM_REG] = { "ADD_MEM_REG", 40, FD_ONE, PF(CONFIGURE_MEM_SLOTS), false },
	/* The spec lets a backend accept (and close) one stray fd here. */
	[CVMM_VHOST_REM_MEM_REG] = { "REM_MEM_REG", 40, FD_OPT, PF(CONFIGURE_MEM_SLOTS), false },
	[CVMM_VHOST_SET_STATUS] = { "SET_STATUS", 8, FD_NONE, PF(STATUS), false },
	[CVMM_VHOST_GET_STATUS] = { "GET_STATUS", 0, FD_NONE, PF(STATUS), true },
	[CVMM_VHOST_SET_DEVICE_STATE_FD] = { "SET_DEVICE_STATE_FD", 8, FD_ONE, PF(DEVICE_STATE), true },
	[CVMM_VHOST_CHECK_DEVICE_STATE] = { "CHECK_DEVICE_STATE", 0, FD_NONE, PF(DEVICE_STATE), true },
};

const struct vhost_req_rule *cvmm_vhost_req_rule(uint32_t request)
{
	if (request >= CVMM_VHOST_REQ_MAX || !rules[request].name)
		return NULL;
	return &rules[request];
}

const char *cvmm_vhost_req_name(uint32_t request)
{
	const struct vhost_req_rule *r = cvmm_vhost_req_rule(request);

	return r ? r->name : "UNKNOWN";
}

void cvmm_vhost_msg_close_fds(struct cvmm_vhost_msg *msg)
{
	for (unsigned int i = 0; i < msg->nfds && i < CVMM_VHOST_MAX_FDS; i++) {
		cvmm_close(msg->fds[i]);
		msg->fds[i] = -1;
	}
	msg->nfds = 0;
}

int cvmm_vhost_msg_send(int sock, const struct cvmm_vhost_msg *msg)
{
	uint8_t buf[CVMM_VHOST_HDR_SIZE + sizeof(union cvmm_vhost_payload)];
	ssize_t n;

	if (msg->hdr.size > CVMM_VHOST_MAX_PAYLOAD || msg->nfds > CVMM_VHOST_MAX_FDS)
		return -EINVAL;
	memcpy(buf, &msg->hdr, CVMM_VHOST_HDR_SIZE);
	memcpy(buf + CVMM_VHOST_HDR_SIZE, &msg->payload, msg->hdr.size);
	n = cvmm_sock_send_fds(sock, buf, CVMM_VHOST_HDR_SIZE + msg->hdr.size,
			       msg->fds, msg->nfds);
	return n < 0 ? (int)n : 0;
}

/*
 * The rest of a message whose first bytes are already consumed: on a
 * nonblocking socket "nothing yet" must wait, not fail, or the stream
 * would lose its place.
 */
static int read_rest(int sock, void *buf, size_t len)
{
	for (;;) {
		int r = cvmm_read_full(sock, buf, len);
		struct pollfd p = { .fd = sock, .events = POLLIN };

		if (r != -EAGAIN)
			return r;
		/* read_full consumed nothing when it says EAGAIN. */
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return -errno;
	}
}

int cvmm_vhost_msg_recv(int sock, struct cvmm_vhost_msg *msg)
{
	/* Room for what sys-util accepts, so a peer's 9th..32nd fd is seen
	 * and closed here rather than breaking the stream. */
	int fds[CVMM_MAX_FDS];
	size_t nfds = 0;
	ssize_t n;
	int r;

	msg->nfds = 0;
	n = cvmm_sock_recv_fds(sock, &msg->hdr, CVMM_VHOST_HDR_SIZE, fds,
			       CVMM_MAX_FDS, &nfds);
	if (n == -EMSGSIZE)
		return -EPROTO; /* bytes were consumed: the stream is lost */
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -EPIPE;
	if ((size_t)n < CVMM_VHOST_HDR_SIZE) {
		r = read_rest(sock, (uint8_t *)&msg->hdr + n, CVMM_VHOST_HDR_SIZE - (size_t)n);
		if (r < 0)
			goto drop;
	}
	if ((msg->hdr.flags & CVMM_VHOST_VERSION_MASK) != CVMM_VHOST_VERSION ||
	    msg->hdr.size > CVMM_VHOST_MAX_PAYLOAD) {
		r = -EPROTO;
		goto drop;
	}
	r = read_rest(sock, &msg->payload, msg->hdr.size);
	if (r < 0)
		goto drop;
	if (nfds > CVMM_VHOST_MAX_FDS) {
		/* The message is whole, so the stream survives; the fds go. */
		r = -E2BIG;
		goto drop;
	}
	for (size_t i = 0; i < nfds; i++)
		msg->fds[i] = fds[i];
	msg->nfds = (unsigned int)nfds;
	return 0;
drop:
	for (size_t i = 0; i < nfds; i++)
		cvmm_close(fds[i]);
	/* Past the first byte every failure leaves the stream out of step. */
	return r == -EPIPE || r == -E2BIG ? r : -EPROTO;
}

int cvmm_vhost_msg_recv_reply(int sock, uint32_t request, struct cvmm_vhost_msg *m,
			      unsigned int max_fds)
{
	int r = cvmm_vhost_msg_recv(sock, m);

	if (r == -E2BIG)
		return -EPROTO;
	if (r < 0)
		return r;
	if (m->hdr.request != request || !(m->hdr.flags & CVMM_VHOST_FLAG_REPLY)) {
		cvmm_vhost_msg_close_fds(m);
		return -EPROTO;
	}
	while (m->nfds > max_fds)
		cvmm_close(m->fds[--m->nfds]);
	return 0;
}

static int check_fds(const struct cvmm_vhost_msg *msg, enum vhost_fd_rule rule)
{
	switch (rule) {
	case FD_NONE:
		return msg->nfds == 0 ? 0 : -EINVAL;
	case FD_ONE:
		return msg->nfds == 1 ? 0 : -EINVAL;
	case FD_OPT:
		return msg->nfds <= 1 ? 0 : -EINVAL;
	case FD_VRING:
		if (msg->payload.u64 & ~(CVMM_VHOST_VRING_IDX_MASK | CVMM_VHOST_VRING_NOFD_MASK))
			return -EINVAL;
		if (msg->payload.u64 & CVMM_VHOST_VRING_NOFD_MASK)
			return msg->nfds == 0 ? 0 : -EINVAL;
		return msg->nfds == 1 ? 0 : -EINVAL;
	case FD_REGIONS:
		return msg->nfds == msg->payload.memory.nregions ? 0 : -EINVAL;
	}
	return -EINVAL;
}

int cvmm_vhost_msg_check_frontend(const struct cvmm_vhost_msg *msg)
{
	const struct vhost_req_rule *rule = cvmm_vhost_req_rule(msg->hdr.request);
	uint32_t size = msg->hdr.size;

	if (!rule)
		return -EOPNOTSUPP;
	if (size > CVMM_VHOST_MAX_PAYLOAD || msg->nfds > CVMM_VHOST_MAX_FDS)
		return -EINVAL;
	if (rule->size >= 0) {
		if (size != (uint32_t)rule->size)
			return -EINVAL;
	} else if (msg->hdr.request == CVMM_VHOST_SET_MEM_TABLE) {
		uint32_t n;

		if (size < 8)
			return -EINVAL;
		n = msg->payload.memory.nregions;
		if (n == 0 || n > CVMM_VHOST_BASELINE_NREGIONS)
			return -EINVAL;
		if (size != 8 + n * (uint32_t)sizeof(struct cvmm_vhost_mem_region))
			return -EINVAL;
	} else { /* GET_CONFIG, SET_CONFIG */
		const struct cvmm_vhost_config *c = &msg->payload.config;

		if (size < CVMM_VHOST_CONFIG_HDR_SIZE)
			return -EINVAL;
		if (c->size == 0 || c->size > CVMM_VHOST_MAX_CONFIG_SIZE ||
		    size != CVMM_VHOST_CONFIG_HDR_SIZE + c->size ||
		    !cvmm_range_ok(c->offset, c->size, CVMM_VHOST_MAX_CONFIG_SIZE))
			return -EINVAL;
	}
	return check_fds(msg, rule->fds);
}

uint32_t cvmm_vhost_packed_base_encode(const struct cvmm_vhost_packed_base *p)
{
	return (uint32_t)(p->avail_idx & 0x7fffu) | (uint32_t)p->avail_wrap << 15 |
	       (uint32_t)(p->used_idx & 0x7fffu) << 16 | (uint32_t)p->used_wrap << 31;
}

int cvmm_vhost_packed_base_decode(uint32_t base, unsigned int num,
				  struct cvmm_vhost_packed_base *p)
{
	struct cvmm_vhost_packed_base d = {
		.avail_idx = base & 0x7fffu,
		.avail_wrap = (base >> 15) & 1u,
		.used_idx = (base >> 16) & 0x7fffu,
		.used_wrap = base >> 31,
	};

	if (num && (d.avail_idx >= num || d.used_idx >= num))
		return -EINVAL;
	*p = d;
	return 0;
}
