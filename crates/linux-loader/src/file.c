/* SPDX-License-Identifier: Apache-2.0 */
/* Reading an untrusted image: pread with bounds checks, never mmap. */
#include "internal.h"

#include <cvmm/vm-memory.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int cvmm_ll_file_open(int fd, struct cvmm_ll_file *f)
{
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -EINVAL;
	/* A pipe or device has no size to check offsets against. */
	if (!S_ISREG(st.st_mode) || st.st_size < 0)
		return -EINVAL;
	f->fd = fd;
	f->size = (uint64_t)st.st_size;
	return 0;
}

int cvmm_ll_file_read(const struct cvmm_ll_file *f, void *buf, size_t len, uint64_t off)
{
	uint64_t end;
	size_t done = 0;

	if (__builtin_add_overflow(off, (uint64_t)len, &end) || end > f->size)
		return -EBADMSG;
	while (done < len) {
		ssize_t n = pread(f->fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int cvmm_ll_file_to_guest(const struct cvmm_ll_file *f, uint64_t off, uint64_t len,
			  struct cvmm_guest_mem *m, uint64_t gpa)
{
	const size_t chunk = 1u << 20;
	uint8_t *buf;
	int r = 0;

	if (!len)
		return 0;
	buf = malloc(len < chunk ? (size_t)len : chunk);
	if (!buf)
		return -ENOMEM;
	while (len && !r) {
		size_t n = len < chunk ? (size_t)len : chunk;

		r = cvmm_ll_file_read(f, buf, n, off);
		if (r == -EBADMSG)
			r = -EIO; /* validated earlier: the file shrank */
		if (!r)
			r = cvmm_guest_mem_write(m, gpa, buf, n);
		off += n;
		gpa += n;
		len -= n;
	}
	free(buf);
	return r;
}
