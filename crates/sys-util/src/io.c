/* SPDX-License-Identifier: Apache-2.0 */
/* Whole-buffer read/write: short transfers are continued, never reported. */
#include <cvmm/sys-util.h>
#include "internal.h"

#include <errno.h>
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
		if (n == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) && done) {
			int r = cvmm_sys_util_wait_fd(fd, POLLIN);

			if (r < 0)
				return r;
			continue;
		}
		return -errno;
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
		if (n == 0)
			return -EIO;
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) && done) {
			int r = cvmm_sys_util_wait_fd(fd, POLLOUT);

			if (r < 0)
				return r;
			continue;
		}
		return -errno;
	}
	return 0;
}
