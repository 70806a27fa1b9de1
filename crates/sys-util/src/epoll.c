/* SPDX-License-Identifier: Apache-2.0 */
/* epoll wrappers that turn errno into return values and absorb kicks. */
#include <cvmm/sys-util.h>

#include <errno.h>
#include <sys/epoll.h>

int cvmm_epoll_create(void)
{
	int fd = epoll_create1(EPOLL_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int ctl(int epfd, int op, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(epfd, op, fd, &ev) < 0 ? -errno : 0;
}

int cvmm_epoll_add(int epfd, int fd, uint32_t events, uint64_t data)
{
	return ctl(epfd, EPOLL_CTL_ADD, fd, events, data);
}

int cvmm_epoll_mod(int epfd, int fd, uint32_t events, uint64_t data)
{
	return ctl(epfd, EPOLL_CTL_MOD, fd, events, data);
}

int cvmm_epoll_del(int epfd, int fd)
{
	/* Kernels before 2.6.9 wanted a non-NULL event even for DEL. */
	return ctl(epfd, EPOLL_CTL_DEL, fd, 0, 0);
}

int cvmm_epoll_wait(int epfd, void *events, int max, int timeout_ms)
{
	uint64_t deadline = 0;
	int n;

	if (!events || max <= 0)
		return -EINVAL;
	if (timeout_ms > 0)
		deadline = cvmm_now_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		n = epoll_wait(epfd, events, max, timeout_ms);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
		/* A kick interrupted us: wait out the rest of the caller's
		 * timeout rather than returning early with nothing. */
		if (timeout_ms > 0) {
			uint64_t now = cvmm_now_ns();

			if (now >= deadline)
				return 0;
			/* Round up so we never wake before the deadline. */
			timeout_ms = (int)((deadline - now + 999999u) / 1000000u);
		} else if (timeout_ms == 0) {
			return 0;
		}
	}
}
