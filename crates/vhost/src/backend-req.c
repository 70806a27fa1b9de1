/* SPDX-License-Identifier: Apache-2.0 */
/* Backend-to-frontend messages on the SET_BACKEND_REQ_FD channel. */
#include "backend-internal.h"

#include <fcntl.h>
#include <sys/socket.h>

void cvmm_vhost_backend_set_req_fd(struct cvmm_vhost_backend *b, int fd)
{
	int old;

	pthread_mutex_lock(&b->fd_lock);
	old = b->req_fd;
	b->req_fd = fd;
	b->req_gen++;
	/* A sender blocked on the old channel (its own dup) wakes with EOF. */
	if (old >= 0)
		shutdown(old, SHUT_RDWR);
	pthread_mutex_unlock(&b->fd_lock);
	cvmm_close(old);
}

static int send_req(struct cvmm_vhost_backend *b, uint32_t req, int need_pf,
		    bool has_index, unsigned int idx)
{
	bool ack = vhost_pf_acked(b, CVMM_VHOST_PF_REPLY_ACK);
	struct cvmm_vhost_msg m;
	unsigned int gen;
	int fd, r;

	if (need_pf >= 0 && !vhost_pf_acked(b, need_pf))
		return -EOPNOTSUPP;
	if (has_index && idx >= b->num_queues)
		return -EINVAL;
	vhost_msg_init(&m, req, ack ? CVMM_VHOST_FLAG_NEED_REPLY : 0,
		       has_index ? sizeof(m.payload.state) : 0);
	if (has_index) {
		m.payload.state.index = idx;
		m.payload.state.num = 0;
	}

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
	r = cvmm_vhost_msg_send(fd, &m);
	if (r == 0 && ack) {
		r = cvmm_vhost_msg_recv_reply(fd, req, &m, 0);
		if (r == 0)
			r = m.hdr.size == sizeof(uint64_t) ? vhost_ack_to_errno(m.payload.u64)
							   : -EIO;
	}
	if (r == -EPIPE || r == -EPROTO || r == -ECONNRESET) {
		/* Out of step or gone: drop it, unless it was replaced meanwhile. */
		pthread_mutex_lock(&b->fd_lock);
		if (b->req_gen == gen) {
			cvmm_close(b->req_fd);
			b->req_fd = -1;
			b->req_gen++;
		}
		pthread_mutex_unlock(&b->fd_lock);
		r = -EPIPE;
	}
	cvmm_close(fd);
	pthread_mutex_unlock(&b->req_lock);
	return r;
}

int cvmm_vhost_backend_send_config_change(struct cvmm_vhost_backend *b)
{
	return send_req(b, CVMM_VHOST_BACKEND_CONFIG_CHANGE_MSG, CVMM_VHOST_PF_CONFIG,
			false, 0);
}

int cvmm_vhost_backend_send_vring_call(struct cvmm_vhost_backend *b, unsigned int idx)
{
	return send_req(b, CVMM_VHOST_BACKEND_VRING_CALL,
			CVMM_VHOST_PF_INBAND_NOTIFICATIONS, true, idx);
}

int cvmm_vhost_backend_send_vring_err(struct cvmm_vhost_backend *b, unsigned int idx)
{
	return send_req(b, CVMM_VHOST_BACKEND_VRING_ERR,
			CVMM_VHOST_PF_INBAND_NOTIFICATIONS, true, idx);
}
