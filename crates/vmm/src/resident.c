/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dropping the pages a RAM region holds, at a cost that follows the pages
 * held rather than the region's size (snapshot.h). A restore needs guest
 * RAM to read as zero (Copy, OnDemand holes) or to be absent (userfaultfd
 * MISSING faults). MADV_DONTNEED over a whole region is simple but not
 * cheap on a large one: KVM's MMU notifier walks every page of the range
 * (1.1 ms for 13 GiB on this PVM host, even when nothing is mapped).
 * PAGEMAP_SCAN (Linux 6.7) lists the present and swapped pages by walking
 * only the page tables that exist, so a fresh 16 GiB VM costs one ioctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "snapshot.h"

/* Debian 12's headers predate the pagemap ioctl (linux/fs.h, 6.7). */
#ifndef PAGEMAP_SCAN
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
struct page_region {
	uint64_t start, end, categories;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#endif

#define SCAN_VEC 64

/* MADV_DONTNEED the present or swapped ranges of [@start, @end); -errno
 * when the kernel has no PAGEMAP_SCAN (the caller then drops it all). */
static int drop_scanned(int pm, uint64_t start, uint64_t end)
{
	struct page_region vec[SCAN_VEC];

	while (start < end) {
		struct pm_scan_arg a = {
			.size = sizeof(a), .start = start, .end = end, .vec = (uintptr_t)vec,
			.vec_len = SCAN_VEC, .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		};
		long n = ioctl(pm, PAGEMAP_SCAN, &a);

		if (n < 0)
			return -errno;
		for (long i = 0; i < n; i++)
			if (madvise((void *)(uintptr_t)vec[i].start, vec[i].end - vec[i].start,
				    MADV_DONTNEED))
				return -errno;
		/* walk_end is where the walk stopped (the vector filled). */
		if (a.walk_end <= start)
			return -EIO;
		start = a.walk_end;
	}
	return 0;
}

int cvmm_vi_mem_drop_resident(const struct cvmm_mem_region *r)
{
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), ret = -ENOENT;

	if (pm >= 0) {
		ret = drop_scanned(pm, (uintptr_t)r->host, (uintptr_t)r->host + r->size);
		close(pm);
	}
	if (ret && madvise(r->host, r->size, MADV_DONTNEED))
		return -errno;
	return 0;
}
