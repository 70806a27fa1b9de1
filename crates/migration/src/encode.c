/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The encoder (blocking writes; page data goes out with writev straight
 * from guest RAM, never copied) and the receive loop, which reads a header,
 * checks it, and only then allocates and reads the payload.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cvmm/migration.h>
#include <cvmm/sys-util.h>

#include "internal.h"

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

void cvmm_mig_encode_header(void *buf, uint32_t type, uint64_t len)
{
	uint8_t *p = buf;

	put32(p, type);
	put32(p + 4, 0);
	put64(p + 8, len);
}

/* writev until every byte left; @iov is consumed. */
static int writev_full(int fd, struct iovec *iov, int n)
{
	bool sock = true;

	while (n > 0) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)(n > IOV_MAX ? IOV_MAX : n) };
		/* MSG_NOSIGNAL: a peer that went away is -EPIPE, not SIGPIPE. */
		ssize_t w = sock ? sendmsg(fd, &mh, MSG_NOSIGNAL) : writev(fd, iov, (int)mh.msg_iovlen);

		if (w < 0 && errno == ENOTSOCK && sock) {
			sock = false;
			continue;
		}
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++, n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Header + up to two payload pieces in one writev. */
static int send_msg(int fd, uint32_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	uint8_t hdr[CVMM_MIG_HDR_SIZE];
	struct iovec iov[3] = {
		{ hdr, sizeof(hdr) },
		{ (void *)a, alen },
		{ (void *)b, blen },
	};

	cvmm_mig_encode_header(hdr, type, (uint64_t)alen + blen);
	return writev_full(fd, iov, blen ? 3 : alen ? 2 : 1);
}

int cvmm_mig_send_start(int fd, uint32_t flags, uint32_t ncpus,
			const struct cvmm_mig_range *ranges, unsigned int nranges,
			const void *config, size_t config_len)
{
	return cvmm_mig_send_start_conns(fd, flags, ncpus, 0, ranges, nranges, config, config_len);
}

static int send_start(int fd, uint32_t flags, uint32_t ncpus, uint32_t connections,
		      uint32_t devfds, const struct cvmm_mig_range *ranges, unsigned int nranges,
		      const void *config, size_t config_len)
{
	uint8_t *buf;
	size_t len;
	uint64_t sum = 0;
	int ret;

	if (!ranges || !nranges || nranges > CVMM_MIG_MAX_RANGES || (flags & ~CVMM_MIG_F_ALL) ||
	    config_len > CVMM_MIG_MAX_CONFIG || (config_len && !config) || !ncpus ||
	    connections > CVMM_MIG_MAX_CONNECTIONS || devfds > CVMM_MIG_MAX_DEVFDS ||
	    (devfds && !(flags & CVMM_MIG_F_LOCAL)))
		return -EINVAL;
	len = sizeof(struct cvmm_mig_start) + nranges * sizeof(struct cvmm_mig_range);
	buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, CVMM_MIG_MAGIC, 8);
	put32(buf + 8, CVMM_MIG_VERSION);
	put32(buf + 12, flags);
	put32(buf + 16, ncpus);
	put32(buf + 20, nranges);
	for (unsigned int i = 0; i < nranges; i++) {
		put64(buf + 56 + i * 16, ranges[i].gpa);
		put64(buf + 56 + i * 16 + 8, ranges[i].size);
		sum += ranges[i].size;
	}
	put64(buf + 24, sum);
	put64(buf + 32, config_len);
	put32(buf + 40, connections);
	put32(buf + 44, devfds);
	ret = send_msg(fd, CVMM_MIG_START, buf, len, config, config_len);
	free(buf);
	return ret;
}

int cvmm_mig_send_start_conns(int fd, uint32_t flags, uint32_t ncpus, uint32_t connections,
			      const struct cvmm_mig_range *ranges, unsigned int nranges,
			      const void *config, size_t config_len)
{
	return send_start(fd, flags, ncpus, connections, 0, ranges, nranges, config, config_len);
}

int cvmm_mig_send_start_devfds(int fd, uint32_t flags, uint32_t ncpus, uint32_t devfds,
			       const struct cvmm_mig_range *ranges, unsigned int nranges,
			       const void *config, size_t config_len)
{
	return send_start(fd, flags, ncpus, 0, devfds, ranges, nranges, config, config_len);
}

int cvmm_mig_send_pass(int fd, uint64_t pass, uint64_t pages)
{
	uint8_t p[16];

	put64(p, pass);
	put64(p + 8, pages);
	return send_msg(fd, CVMM_MIG_PASS, p, sizeof(p), NULL, 0);
}

static void pages_hdr(uint8_t p[16], uint64_t gpa, uint32_t count, uint32_t flags)
{
	put64(p, gpa);
	put32(p + 8, count);
	put32(p + 12, flags);
}

long cvmm_mig_send_pages(int fd, uint64_t gpa, uint32_t count, const void *data)
{
	uint8_t p[16];
	size_t dlen = data ? (size_t)count * CVMM_MIG_PAGE_SIZE : 0;
	int ret;

	if (!count || count > CVMM_MIG_MAX_BATCH || (gpa & (CVMM_MIG_PAGE_SIZE - 1)))
		return -EINVAL;
	pages_hdr(p, gpa, count, data ? 0 : CVMM_MIG_PAGES_ZERO);
	ret = send_msg(fd, CVMM_MIG_PAGES, p, sizeof(p), data, dlen);
	return ret ? ret : (long)(CVMM_MIG_HDR_SIZE + sizeof(p) + dlen);
}

int cvmm_mig_send_page_request(int fd, uint64_t gpa, uint32_t count)
{
	uint8_t p[16];

	if (!count || count > CVMM_MIG_MAX_BATCH || (gpa & (CVMM_MIG_PAGE_SIZE - 1)))
		return -EINVAL;
	pages_hdr(p, gpa, count, 0);
	return send_msg(fd, CVMM_MIG_PAGE_REQUEST, p, sizeof(p), NULL, 0);
}

int cvmm_mig_send_accept(int fd, uint32_t flags)
{
	uint8_t p[8];

	put32(p, flags);
	put32(p + 4, 0);
	return send_msg(fd, CVMM_MIG_ACCEPT, p, sizeof(p), NULL, 0);
}

int cvmm_mig_send_switch(int fd, uint64_t pages)
{
	uint8_t p[8];

	put64(p, pages);
	return send_msg(fd, CVMM_MIG_SWITCH, p, sizeof(p), NULL, 0);
}

int cvmm_mig_send_discard(int fd, uint64_t gpa, uint32_t count)
{
	uint8_t p[16];

	if (!count || count > CVMM_MIG_MAX_BATCH || (gpa & (CVMM_MIG_PAGE_SIZE - 1)))
		return -EINVAL;
	pages_hdr(p, gpa, count, 0);
	return send_msg(fd, CVMM_MIG_DISCARD, p, sizeof(p), NULL, 0);
}

int cvmm_mig_send_received(int fd, uint64_t gpa, uint32_t count, const uint8_t *bits)
{
	uint8_t p[16];

	if (!bits || !count || count > CVMM_MIG_MAX_BITMAP || (gpa & (CVMM_MIG_PAGE_SIZE - 1)))
		return -EINVAL;
	put64(p, gpa);
	put32(p + 8, count);
	put32(p + 12, 0);
	return send_msg(fd, CVMM_MIG_RECEIVED, p, sizeof(p), bits, (count + 7u) / 8u);
}

int cvmm_mig_send_state(int fd, const void *data, size_t len)
{
	if (!data || !len || len > CVMM_MIG_MAX_STATE)
		return -EINVAL;
	return send_msg(fd, CVMM_MIG_STATE, data, len, NULL, 0);
}

int cvmm_mig_send_complete(int fd, uint64_t pages)
{
	uint8_t p[8];

	put64(p, pages);
	return send_msg(fd, CVMM_MIG_COMPLETE, p, sizeof(p), NULL, 0);
}

int cvmm_mig_send_abandon(int fd, const char *reason)
{
	size_t n = reason ? strnlen(reason, CVMM_MIG_MAX_REASON) : 0;

	return send_msg(fd, CVMM_MIG_ABANDON, reason, n, NULL, 0);
}

int cvmm_mig_send_result(int fd, int error, const char *reason)
{
	uint8_t p[8];
	size_t n = reason ? strnlen(reason, CVMM_MIG_MAX_REASON) : 0;

	if (error > 0 || error < -4095)
		return -EINVAL;
	put32(p, (uint32_t)error);
	put32(p + 4, 0);
	return send_msg(fd, CVMM_MIG_RESULT, p, sizeof(p), reason, n);
}

int cvmm_mig_send_memfd(int fd, int memfd, uint64_t gpa, uint64_t size, uint64_t fd_offset)
{
	uint8_t msg[CVMM_MIG_HDR_SIZE + 24];
	ssize_t n;

	if (memfd < 0)
		return -EINVAL;
	cvmm_mig_encode_header(msg, CVMM_MIG_MEMFD, 24);
	put64(msg + 16, gpa);
	put64(msg + 24, size);
	put64(msg + 32, fd_offset);
	/* One sendmsg: the fd rides with the message's first byte. */
	n = cvmm_sock_send_fds(fd, msg, sizeof(msg), &memfd, 1);
	if (n < 0)
		return (int)n;
	if ((size_t)n < sizeof(msg))
		return cvmm_write_full(fd, msg + n, sizeof(msg) - (size_t)n);
	return 0;
}

int cvmm_mig_send_devfd(int fd, int devfd, uint32_t kind, uint32_t index, const char *id)
{
	uint8_t msg[CVMM_MIG_HDR_SIZE + sizeof(struct cvmm_mig_devfd)] = { 0 };
	size_t n = id ? strnlen(id, CVMM_MIG_DEVFD_ID_MAX) : 0;
	ssize_t w;

	if (devfd < 0 || !n || n >= CVMM_MIG_DEVFD_ID_MAX ||
	    (kind != CVMM_MIG_DEVFD_TAP && kind != CVMM_MIG_DEVFD_VSOCK) ||
	    index >= (kind == CVMM_MIG_DEVFD_TAP ? 16u : 1u))
		return -EINVAL;
	cvmm_mig_encode_header(msg, CVMM_MIG_DEVFD, sizeof(struct cvmm_mig_devfd));
	put32(msg + 16, kind);
	put32(msg + 20, index);
	memcpy(msg + 24, id, n);
	/* One sendmsg: the fd rides with the message's first byte. */
	w = cvmm_sock_send_fds(fd, msg, sizeof(msg), &devfd, 1);
	if (w < 0)
		return (int)w;
	if ((size_t)w < sizeof(msg))
		return cvmm_write_full(fd, msg + w, sizeof(msg) - (size_t)w);
	return 0;
}

bool cvmm_mig_is_zero(const void *p, size_t len)
{
	const uint64_t *w = p;
	size_t i;

	/* Pages are 8-byte aligned; a tail shorter than a word is bytewise. */
	for (i = 0; i + 32 <= len; i += 32, w += 4)
		if (w[0] | w[1] | w[2] | w[3])
			return false;
	for (; i < len; i++)
		if (((const uint8_t *)p)[i])
			return false;
	return true;
}

static int recv_header(int fd, uint8_t *hdr, int *fds)
{
	size_t got = 0;

	if (fds) {
		size_t nfds = 0;
		ssize_t n = cvmm_sock_recv_fds(fd, hdr, CVMM_MIG_HDR_SIZE, fds, 1, &nfds);

		if (n < 0)
			return (int)n;
		if (!nfds)
			*fds = -1;
		if (n == 0)
			return -ECONNRESET;
		got = (size_t)n;
	}
	while (got < CVMM_MIG_HDR_SIZE) {
		ssize_t n = read(fd, hdr + got, CVMM_MIG_HDR_SIZE - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return got ? -EPIPE : -ECONNRESET;
		got += (size_t)n;
	}
	return 0;
}

int cvmm_mig_recv(int fd, void **buf, size_t *cap, const struct cvmm_mig_map *map,
		  struct cvmm_mig_msg *out, int *fds, char *err, size_t errlen)
{
	uint8_t hdr[CVMM_MIG_HDR_SIZE];
	struct cvmm_mig_hdr h;
	int ret;

	if (!buf || !cap || !out)
		return -EINVAL;
	if (fds)
		*fds = -1;
	ret = recv_header(fd, hdr, fds);
	if (ret == -EPIPE)
		return cvmm_mig__fail(err, errlen, ret, 0, NULL,
				      "stream truncated inside a message header");
	if (ret == -ECONNRESET) {
		if (err && errlen)
			snprintf(err, errlen, "migration stream: the peer closed the connection");
		return ret;
	}
	if (ret) {
		if (err && errlen)
			snprintf(err, errlen, "migration stream: %s", strerror(-ret));
		return ret;
	}
	ret = cvmm_mig_decode_header(hdr, &h, err, errlen);
	if (ret)
		goto drop_fd;
	if (h.len > *cap) {
		void *n = realloc(*buf, (size_t)h.len);

		if (!n) {
			ret = -ENOMEM;
			goto drop_fd;
		}
		*buf = n;
		*cap = (size_t)h.len;
	}
	ret = cvmm_read_full(fd, *buf, (size_t)h.len);
	if (ret) {
		cvmm_mig__fail(err, errlen, ret, h.type, NULL, "%s", ret == -EPIPE ?
			       "stream truncated inside the payload" : strerror(-ret));
		goto drop_fd;
	}
	ret = cvmm_mig_decode(&h, *buf, map, out, err, errlen);
	if (ret)
		goto drop_fd;
	if (fds && *fds >= 0 && h.type != CVMM_MIG_MEMFD && h.type != CVMM_MIG_DEVFD) {
		ret = cvmm_mig__fail(err, errlen, -EPROTO, h.type, NULL, "carries an fd");
		goto drop_fd;
	}
	return 0;
drop_fd:
	if (fds && *fds >= 0) {
		close(*fds);
		*fds = -1;
	}
	return ret;
}
