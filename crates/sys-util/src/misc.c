/* SPDX-License-Identifier: Apache-2.0 */
/* Small process helpers: close, page size, thread names, temp files. */
#include <cvmm/sys-util.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cvmm_close(int fd)
{
	int saved = errno;

	/* Linux releases the fd even when close() fails (EINTR included), so
	 * retrying could close an fd another thread just got. */
	if (fd >= 0)
		close(fd);
	errno = saved;
}

size_t cvmm_page_size(void)
{
	static size_t cached;
	size_t ps = __atomic_load_n(&cached, __ATOMIC_RELAXED);

	if (!ps) {
		long v = sysconf(_SC_PAGESIZE);

		ps = v > 0 ? (size_t)v : 4096;
		__atomic_store_n(&cached, ps, __ATOMIC_RELAXED);
	}
	return ps;
}

int cvmm_thread_set_name(const char *name)
{
	char buf[16];

	if (!name)
		return -EINVAL;
	/* The kernel keeps 15 bytes; pthread_setname_np refuses longer
	 * names with ERANGE instead of truncating. */
	snprintf(buf, sizeof(buf), "%s", name);
	return -pthread_setname_np(pthread_self(), buf);
}

int cvmm_tempfile(uint64_t size, char *path_out)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	int fd, n, r;

	if (size > (uint64_t)INT64_MAX)
		return -EFBIG;
	if (!dir || !*dir)
		dir = "/tmp";
	n = snprintf(path, sizeof(path), "%s/cvmm-XXXXXX", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (size && ftruncate(fd, (off_t)size) < 0) {
		r = -errno;
		unlink(path);
		cvmm_close(fd);
		return r;
	}
	if (path_out)
		memcpy(path_out, path, (size_t)n + 1);
	else
		unlink(path);
	return fd;
}
