/* SPDX-License-Identifier: Apache-2.0 */
/* The backend's view of guest memory: the region table a frontend sent,
 * checked, mapped into vm-memory, and used to translate ring addresses. */
#include "internal.h"

#include <cvmm/vm-memory.h>

#include <sys/stat.h>

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	/* Both ranges are known not to wrap. */
	return a < b + blen && b < a + alen;
}

int cvmm_vhost_fd_covers(int fd, uint64_t off, uint64_t size)
{
	struct stat st;
	uint64_t end;

	if (cvmm_add_overflow(off, size, &end) || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t)st.st_size < end)
		return -EINVAL;
	return 0;
}

static int region_check(const struct cvmm_vhost_mem_region *r, int fd)
{
	uint64_t end;
	struct stat st;

	if (r->memory_size == 0 ||
	    !CVMM_IS_ALIGNED(r->guest_phys_addr, CVMM_GUEST_PAGE_SIZE) ||
	    !CVMM_IS_ALIGNED(r->memory_size, CVMM_GUEST_PAGE_SIZE) ||
	    !CVMM_IS_ALIGNED(r->mmap_offset, CVMM_GUEST_PAGE_SIZE))
		return -EINVAL;
	/* "end" must be representable: the last byte is end - 1. */
	if (cvmm_add_overflow(r->guest_phys_addr, r->memory_size, &end) ||
	    cvmm_add_overflow(r->userspace_addr, r->memory_size, &end) ||
	    cvmm_add_overflow(r->mmap_offset, r->memory_size, &end) ||
	    end > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0)
		return -EINVAL;
	/* Mapping past EOF would SIGBUS us at first touch; a non-file (a
	 * socket, a pipe) cannot be mapped at all. */
	if (!S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t)st.st_size < end)
		return -EINVAL;
	return 0;
}

int cvmm_vhost_mem_regions_check(const struct cvmm_vhost_mem_region *r,
				 const int *fds, unsigned int n, unsigned int max)
{
	if (n > max)
		return -E2BIG;
	if (n == 0 || !r)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		int ret = region_check(&r[i], fds ? fds[i] : -1);

		if (ret < 0)
			return ret;
		for (unsigned int j = 0; j < i; j++) {
			if (ranges_overlap(r[i].guest_phys_addr, r[i].memory_size,
					   r[j].guest_phys_addr, r[j].memory_size) ||
			    ranges_overlap(r[i].userspace_addr, r[i].memory_size,
					   r[j].userspace_addr, r[j].memory_size))
				return -EINVAL;
		}
	}
	return 0;
}

int cvmm_vhost_mem_map(const struct cvmm_vhost_mem_region *r, const int *fds,
		       unsigned int n, struct cvmm_guest_mem **out)
{
	struct cvmm_guest_mem *m;
	int ret;

	if (!out || !fds)
		return -EINVAL;
	*out = NULL;
	ret = cvmm_vhost_mem_regions_check(r, fds, n, CVMM_VHOST_MAX_MEM_SLOTS);
	if (ret < 0)
		return ret;
	ret = cvmm_guest_mem_create(&m);
	if (ret < 0)
		return ret;
	for (unsigned int i = 0; i < n; i++) {
		struct cvmm_mem_region_opts o = {
			.sz = sizeof(o),
			.gpa = r[i].guest_phys_addr,
			.size = r[i].memory_size,
			.backing = CVMM_MEM_FILE,
			.flags = CVMM_MEM_F_SHARED,
			.fd = fds[i],
			.fd_offset = r[i].mmap_offset,
		};

		ret = cvmm_guest_mem_add_region(m, &o);
		if (ret < 0) {
			cvmm_guest_mem_destroy(m);
			return ret;
		}
	}
	*out = m;
	return 0;
}

int cvmm_vhost_uva_to_gpa(const struct cvmm_vhost_mem_region *r, unsigned int n,
			  uint64_t uva, uint64_t len, uint64_t *gpa)
{
	uint64_t end;

	if (!r || !gpa || cvmm_add_overflow(uva, len, &end))
		return -EFAULT;
	for (unsigned int i = 0; i < n; i++) {
		const struct cvmm_vhost_mem_region *x = &r[i];

		if (uva >= x->userspace_addr &&
		    end - x->userspace_addr <= x->memory_size &&
		    uva - x->userspace_addr < x->memory_size) {
			*gpa = x->guest_phys_addr + (uva - x->userspace_addr);
			return 0;
		}
	}
	return -EFAULT;
}
