/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hostile vhost-user peer: sends a message with an arbitrary payload and
 * an arbitrary number of fds (beyond CVMM_MAX_FDS too) to a receiver with an
 * arbitrary fd limit. cvmm_sock_recv_fds must return all the fds or none,
 * and leave no fd open that the caller does not know about.
 *
 * Input: [0] fds to send (0..63), [1] receiver's max_fds (0..CVMM_MAX_FDS),
 * [2] receive buffer length, then the payload.
 */
#include <cvmm/sys-util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void raw_send(int sock, const uint8_t *buf, size_t len, const int *fds, size_t n)
{
	char ctl[CMSG_SPACE(64 * sizeof(int))];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (n) {
		memset(ctl, 0, sizeof(ctl));
		msg.msg_control = ctl;
		msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	if (len && sendmsg(sock, &msg, MSG_NOSIGNAL) != (ssize_t)len)
		abort();
}

/* The lowest free fd number: if a call leaked an fd, it moves up. */
static int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2], src[64], got[CVMM_MAX_FDS];
	uint8_t buf[256];
	size_t nsend, max, buflen, nfds = 0, plen;
	int mark;
	ssize_t r;

	if (size < 3)
		return 0;
	nsend = data[0] % 64;
	max = data[1] % (CVMM_MAX_FDS + 1);
	buflen = data[2] % (sizeof(buf) + 1);
	data += 3;
	size -= 3;
	plen = CVMM_MIN(size, (size_t)4096);
	/* fds need at least one byte to travel on. */
	if (nsend && !plen)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	for (size_t i = 0; i < nsend; i++)
		src[i] = sv[i % 2];
	raw_send(sv[0], data, plen, src, nsend);
	/* An empty message must read as EOF, not block the fuzzer. */
	shutdown(sv[0], SHUT_WR);

	mark = lowest_free_fd();
	r = cvmm_sock_recv_fds(sv[1], buflen ? buf : NULL, buflen, max ? got : NULL, max,
			       &nfds);
	if (nsend > max) {
		if (r != -EMSGSIZE || nfds != 0)
			abort();
	} else if (r < 0 || (size_t)r > buflen || (buflen && r == 0 && plen) || nfds != nsend) {
		abort();
	} else {
		for (size_t i = 0; i < nfds; i++) {
			if (!(fcntl(got[i], F_GETFD) & FD_CLOEXEC))
				abort();
			close(got[i]);
		}
	}
	if (lowest_free_fd() != mark)
		abort();
	close(sv[0]);
	close(sv[1]);
	return 0;
}
