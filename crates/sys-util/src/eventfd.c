/* SPDX-License-Identifier: Apache-2.0 */
/* eventfd: the doorbell between threads (and between KVM and the VMM). */
#include <cvmm/sys-util.h>

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

int cvmm_eventfd_create(unsigned int flags)
{
	int efd_flags = EFD_CLOEXEC;
	int fd;

	if (flags & ~(CVMM_EVENTFD_NONBLOCK | CVMM_EVENTFD_SEMAPHORE))
		return -EINVAL;
	if (flags & CVMM_EVENTFD_NONBLOCK)
		efd_flags |= EFD_NONBLOCK;
	if (flags & CVMM_EVENTFD_SEMAPHORE)
		efd_flags |= EFD_SEMAPHORE;
	fd = eventfd(0, efd_flags);
	return fd < 0 ? -errno : fd;
}

int cvmm_eventfd_write(int fd, uint64_t value)
{
	ssize_t n;

	do
		n = write(fd, &value, sizeof(value));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* An eventfd transfers exactly 8 bytes or fails; anything else means
	 * @fd is not an eventfd. */
	return n == sizeof(value) ? 0 : -EINVAL;
}

int cvmm_eventfd_read(int fd, uint64_t *value)
{
	ssize_t n;

	do
		n = read(fd, value, sizeof(*value));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == sizeof(*value) ? 0 : -EINVAL;
}
