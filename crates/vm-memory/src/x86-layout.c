/* SPDX-License-Identifier: Apache-2.0 */
/* The x86 guest physical layout: RAM below the 32-bit MMIO hole, rest above 4 GiB. */
#include "gm-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

/* One fd for all of RAM, so a vhost-user backend gets a single file. */
static int shared_fd(const struct cvmm_x86_ram_opts *o, uint64_t hp)
{
	unsigned int fl = MFD_CLOEXEC;
	int fd;

	if (o->backing == CVMM_MEM_HUGETLBFS)
		fl |= MFD_HUGETLB | (hp == (1ull << 30) ? MFD_HUGE_1GB : MFD_HUGE_2MB);
	fd = memfd_create("cvmm-guest-ram", fl);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)o->size) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

int cvmm_guest_mem_create_x86(const struct cvmm_x86_ram_opts *opts,
			      struct cvmm_guest_mem **out)
{
	const uint64_t hole = CVMM_X86_MMIO_HOLE_END - CVMM_X86_MMIO_HOLE_START;
	struct cvmm_x86_ram_opts o = { 0 };
	struct cvmm_guest_mem *m;
	uint64_t low, high, hp = 0, top;
	int fd = -1, r;

	if (!opts || !out || opts->sz < sizeof(o))
		return -EINVAL;
	for (size_t i = sizeof(o); i < opts->sz; i++)
		if (((const unsigned char *)opts)[i])
			return -EINVAL;
	o = *opts;
	if (o.size == 0 || !CVMM_IS_ALIGNED(o.size, CVMM_GUEST_PAGE_SIZE))
		return -EINVAL;
	/* The part above 4 GiB must not run off the end of the space. */
	if (o.size > CVMM_X86_MMIO_HOLE_START &&
	    cvmm_add_overflow(o.size, hole, &top))
		return -EINVAL;
	switch (o.backing) {
	case CVMM_MEM_ANON:
		break;
	case CVMM_MEM_MEMFD:
		break;
	case CVMM_MEM_HUGETLBFS:
		hp = o.hugepage_size ? o.hugepage_size : 2ull << 20;
		if ((hp != (2ull << 20) && hp != (1ull << 30)) || !CVMM_IS_ALIGNED(o.size, hp))
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}

	r = cvmm_guest_mem_create(&m);
	if (r)
		return r;
	if (o.backing != CVMM_MEM_ANON) {
		fd = shared_fd(&o, hp);
		if (fd < 0) {
			r = fd;
			goto err;
		}
	}

	low = CVMM_MIN(o.size, CVMM_X86_MMIO_HOLE_START);
	high = o.size - low;
	r = cvmm_guest_mem_add_region(m, &(struct cvmm_mem_region_opts){
		.sz = sizeof(struct cvmm_mem_region_opts),
		.gpa = 0, .size = low, .backing = o.backing, .flags = o.flags,
		.fd = fd, .fd_offset = 0, .hugepage_size = hp,
	});
	if (r)
		goto err;
	if (high) {
		r = cvmm_guest_mem_add_region(m, &(struct cvmm_mem_region_opts){
			.sz = sizeof(struct cvmm_mem_region_opts),
			.gpa = CVMM_X86_MMIO_HOLE_END, .size = high,
			.backing = o.backing, .flags = o.flags,
			/* Anonymous memory has no file offset to share. */
			.fd = fd, .fd_offset = fd >= 0 ? low : 0, .hugepage_size = hp,
		});
		if (r)
			goto err;
	}
	if (fd >= 0)
		close(fd);
	*out = m;
	return 0;
err:
	if (fd >= 0)
		close(fd);
	cvmm_guest_mem_destroy(m);
	return r;
}
