/* SPDX-License-Identifier: Apache-2.0 */
/* Unix-socket messages carrying fds (SCM_RIGHTS), as vhost-user needs. */
#include <cvmm/sys-util.h>
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The kernel's per-message limit (SCM_MAX_FD). Receiving room for that many
 * lets us see, and close, everything a peer sends beyond the caller's limit
 * instead of having the kernel silently drop it behind MSG_CTRUNC. */
#define KERNEL_MAX_FDS 253

ssize_t cvmm_sock_send_fds(int sock, const void *buf, size_t len,
			   const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(CVMM_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	const char *p = buf;
	size_t done = 0;

	if (nfds > CVMM_MAX_FDS || (nfds && !fds) || (len && !buf))
		return -EINVAL;
	/* On a stream socket the fds ride on the first byte: with no byte
	 * there is nothing to carry them. */
	if (nfds && !len)
		return -EINVAL;
	if (len > SSIZE_MAX)
		return -EINVAL;

	while (done < len) {
		struct iovec iov = { .iov_base = (void *)(p + done), .iov_len = len - done };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (!done && nfds) {
			struct cmsghdr *c;

			memset(&ctl, 0, sizeof(ctl));
			msg.msg_control = ctl.buf;
			msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
			c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
			memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
		}
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		/* Nothing sent yet: a nonblocking caller may retry the whole
		 * message. Part sent: the rest must follow or the stream is
		 * corrupt, so the helper waits for room. */
		n = cvmm_sys_util_io_retry(sock, n, done, POLLOUT, -EIO);
		if (n < 0)
			return n;
	}
	return (ssize_t)len;
}

ssize_t cvmm_sock_recv_fds(int sock, void *buf, size_t len, int *fds,
			   size_t max_fds, size_t *nfds)
{
	union {
		char buf[CMSG_SPACE(KERNEL_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	bool overflow = false;
	size_t got = 0;
	ssize_t n;

	if (nfds)
		*nfds = 0;
	if ((max_fds && (!fds || !nfds)) || (len && !buf) || len > SSIZE_MAX)
		return -EINVAL;

	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	if (msg.msg_flags & MSG_CTRUNC)
		overflow = true;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t cnt;
		int *data;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		data = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < cnt; i++) {
			int fd;

			memcpy(&fd, data + i, sizeof(fd));
			if (got < max_fds)
				fds[got++] = fd;
			else {
				overflow = true;
				cvmm_close(fd);
			}
		}
	}
	if (overflow) {
		/* All or nothing: a message missing some of its fds cannot be
		 * interpreted, so the caller gets none of them. */
		for (size_t i = 0; i < got; i++) {
			cvmm_close(fds[i]);
			fds[i] = -1;
		}
		return -EMSGSIZE;
	}
	if (nfds)
		*nfds = got;
	return n;
}
