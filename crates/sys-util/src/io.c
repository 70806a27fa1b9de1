/* SPDX-License-Identifier: Apache-2.0 */
/* Whole-buffer read/write: short transfers are continued, never reported. */
#include <cvmm/sys-util.h>
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

int cvmm_sys_util_wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	do
		n = poll(&p, 1, -1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* HUP/ERR are left for the following read/write to report. */
	return 0;
}

int cvmm_sys_util_io_retry(int fd, ssize_t n, size_t done, short events, int eof_err)
{
	int r;

	if (n == 0)
		return eof_err;
	if (errno == EINTR)
		return 1;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		/* A blocking fd says EAGAIN only when its SO_RCVTIMEO or
		 * SO_SNDTIMEO ran out: the caller's limit, reported (waiting
		 * on would make it no limit, as for a half-read message on a
		 * link gone silent). */
		int fl = fcntl(fd, F_GETFL);

		if (fl >= 0 && !(fl & O_NONBLOCK))
			return -ETIMEDOUT;
		errno = EAGAIN;
	}
	if ((errno == EAGAIN || errno == EWOULDBLOCK) && done) {
		r = cvmm_sys_util_wait_fd(fd, events);
		return r < 0 ? r : 1;
	}
	return -errno;
}

int cvmm_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, p + done, len - done);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		n = cvmm_sys_util_io_retry(fd, n, done, POLLIN, -EPIPE);
		if (n < 0)
			return (int)n;
	}
	return 0;
}

int cvmm_write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		/* write() returning 0 for a nonzero length would loop forever. */
		n = cvmm_sys_util_io_retry(fd, n, done, POLLOUT, -EIO);
		if (n < 0)
			return (int)n;
	}
	return 0;
}
