/* SPDX-License-Identifier: Apache-2.0 */
/* timerfd on CLOCK_MONOTONIC (wall-clock jumps must not fire device timers). */
#include <cvmm/sys-util.h>

#include <errno.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define NSEC_PER_SEC 1000000000ull

int cvmm_timerfd_create(void)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static struct timespec ns_to_ts(uint64_t ns)
{
	/* time_t is 64-bit on x86_64, so every uint64_t of ns fits. */
	return (struct timespec){ .tv_sec = (time_t)(ns / NSEC_PER_SEC),
				  .tv_nsec = (long)(ns % NSEC_PER_SEC) };
}

int cvmm_timerfd_set(int fd, uint64_t initial_ns, uint64_t interval_ns)
{
	struct itimerspec its = { .it_value = ns_to_ts(initial_ns),
				  .it_interval = ns_to_ts(initial_ns ? interval_ns : 0) };

	return timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
}

int cvmm_timerfd_read(int fd, uint64_t *count)
{
	ssize_t n;

	do
		n = read(fd, count, sizeof(*count));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == sizeof(*count) ? 0 : -EINVAL;
}

uint64_t cvmm_now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}
