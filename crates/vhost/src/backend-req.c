/* SPDX-License-Identifier: Apache-2.0 */
/* Backend-to-frontend messages on the SET_BACKEND_REQ_FD channel. */
#include "backend-internal.h"

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

void cvmm_vhost_backend_set_req_fd(struct cvmm_vhost_backend *b, int fd)
{
	int old;

	pthread_mutex_lock(&b->fd_lock);
	old = b->req_fd;
	b->req_fd = fd;
	b->req_gen++;
	__atomic_store_n(&b->req_owed, 0, __ATOMIC_RELAXED);
	/* A sender blocked on the old channel (its own dup) wakes with EOF. */
	if (old >= 0)
		shutdown(old, SHUT_RDWR);
	pthread_mutex_unlock(&b->fd_lock);
	cvmm_close(old);
}

/* Wait up to @timeout_ms (-1: for ever) for input on @fd. */
static int wait_input(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

/* Read the ack of @req, skipping the late acks of timed-out misses (the
 * frontend answers in order, so they come first). */
static int recv_ack(struct cvmm_vhost_backend *b, int fd, uint32_t req, int timeout_ms)
{
	struct cvmm_vhost_msg m;
	int r;

	for (;;) {
		r = wait_input(fd, timeout_ms);
		if (r < 0)
			return r;
		r = cvmm_vhost_msg_recv(fd, &m);
		if (r == -E2BIG)
			return -EPROTO;
		if (r < 0)
			return r;
		cvmm_vhost_msg_close_fds(&m);
		if (!(m.hdr.flags & CVMM_VHOST_FLAG_REPLY))
			return -EPROTO;
		if (m.hdr.request == CVMM_VHOST_BACKEND_IOTLB_MSG &&
		    __atomic_load_n(&b->req_owed, __ATOMIC_RELAXED) > 0) {
			__atomic_sub_fetch(&b->req_owed, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (m.hdr.request != req)
			return -EPROTO;
		return m.hdr.size == sizeof(uint64_t) ? vhost_ack_to_errno(m.payload.u64) : -EIO;
	}
}

static int send_req(struct cvmm_vhost_backend *b, struct cvmm_vhost_msg *m, int need_pf,
		    int timeout_ms)
{
	bool ack = vhost_pf_acked(b, CVMM_VHOST_PF_REPLY_ACK);
	uint32_t req = m->hdr.request;
	unsigned int gen;
	int fd, r;

	if (need_pf >= 0 && !vhost_pf_acked(b, need_pf))
		return -EOPNOTSUPP;
	if (ack)
		m->hdr.flags |= CVMM_VHOST_FLAG_NEED_REPLY;

	pthread_mutex_lock(&b->req_lock);
	pthread_mutex_lock(&b->fd_lock);
	gen = b->req_gen;
	fd = b->req_fd < 0 ? -ENOTCONN : fcntl(b->req_fd, F_DUPFD_CLOEXEC, 0);
	if (fd == -1)
		fd = -errno;
	pthread_mutex_unlock(&b->fd_lock);
	if (fd < 0) {
		pthread_mutex_unlock(&b->req_lock);
		return fd;
	}
	r = cvmm_vhost_msg_send(fd, m);
	if (r == 0 && ack) {
		r = recv_ack(b, fd, req, timeout_ms);
		if (r == -ETIMEDOUT) {
			/* Still owed: whoever reads next skips it. */
			pthread_mutex_lock(&b->fd_lock);
			if (b->req_gen == gen)
				__atomic_add_fetch(&b->req_owed, 1, __ATOMIC_RELAXED);
			pthread_mutex_unlock(&b->fd_lock);
		}
	}
	if (r == -EPIPE || r == -EPROTO || r == -ECONNRESET) {
		/* Out of step or gone: drop it, unless it was replaced meanwhile. */
		pthread_mutex_lock(&b->fd_lock);
		if (b->req_gen == gen) {
			cvmm_close(b->req_fd);
			b->req_fd = -1;
			b->req_gen++;
			__atomic_store_n(&b->req_owed, 0, __ATOMIC_RELAXED);
		}
		pthread_mutex_unlock(&b->fd_lock);
		r = -EPIPE;
	}
	cvmm_close(fd);
	pthread_mutex_unlock(&b->req_lock);
	return r;
}

static int send_simple(struct cvmm_vhost_backend *b, uint32_t req, int need_pf,
		       bool has_index, unsigned int idx)
{
	struct cvmm_vhost_msg m;

	if (has_index && idx >= b->num_queues)
		return -EINVAL;
	vhost_msg_init(&m, req, 0, has_index ? sizeof(m.payload.state) : 0);
	if (has_index) {
		m.payload.state.index = idx;
		m.payload.state.num = 0;
	}
	return send_req(b, &m, need_pf, -1);
}

int cvmm_vhost_backend_send_iotlb_msg(struct cvmm_vhost_backend *b, uint8_t type,
				      uint64_t iova, uint8_t perm, int timeout_ms)
{
	struct cvmm_vhost_msg m;

	if (!b || (type != CVMM_VHOST_IOTLB_MISS && type != CVMM_VHOST_IOTLB_ACCESS_FAIL) ||
	    perm == 0 || (perm & ~CVMM_VHOST_ACCESS_RW))
		return -EINVAL;
	if (!(b->features & CVMM_VHOST_VIRTIO_F_ACCESS_PLATFORM))
		return -EOPNOTSUPP;
	memset(&m, 0, sizeof(m));
	vhost_msg_init(&m, CVMM_VHOST_BACKEND_IOTLB_MSG, 0, CVMM_VHOST_IOTLB_MSG_SIZE);
	m.payload.iotlb.iova = iova;
	m.payload.iotlb.size = 1;
	m.payload.iotlb.perm = perm;
	m.payload.iotlb.type = type;
	return send_req(b, &m, CVMM_VHOST_PF_BACKEND_REQ, timeout_ms);
}

int cvmm_vhost_backend_send_config_change(struct cvmm_vhost_backend *b)
{
	return send_simple(b, CVMM_VHOST_BACKEND_CONFIG_CHANGE_MSG, CVMM_VHOST_PF_CONFIG,
			false, 0);
}

int cvmm_vhost_backend_send_vring_call(struct cvmm_vhost_backend *b, unsigned int idx)
{
	return send_simple(b, CVMM_VHOST_BACKEND_VRING_CALL,
			CVMM_VHOST_PF_INBAND_NOTIFICATIONS, true, idx);
}

int cvmm_vhost_backend_send_vring_err(struct cvmm_vhost_backend *b, unsigned int idx)
{
	return send_simple(b, CVMM_VHOST_BACKEND_VRING_ERR,
			CVMM_VHOST_PF_INBAND_NOTIFICATIONS, true, idx);
}
