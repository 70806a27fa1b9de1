/* SPDX-License-Identifier: Apache-2.0 */
/* Dirty logging (LOG_SHMFD): the pages the daemon writes are recorded by
 * vm-memory's dirty bitmap (virtio-queue and the devices mark them); after
 * each batch they are OR-ed into the frontend's shared log, one bit per
 * 4 KiB guest page, as vhost-user.rst lays it out. */
#include "internal.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

static void log_drop(struct cvmm_vub *d)
{
	if (d->log_map)
		munmap(d->log_map, d->log_map_len);
	d->log_map = NULL;
	d->log = NULL;
	d->log_map_len = d->log_len = 0;
}

void cvmm_vub_log_unmap(struct cvmm_vub *d)
{
	/* What an operator (and tests/api/migrate-vhost-net.sh) reads to see
	 * that this daemon's writes went into a migration. */
	if (d->log_map)
		VUB_LOG(CVMM_LOG_INFO, "dirty log: %llu pages logged, log released",
			(unsigned long long)__atomic_load_n(&d->log_pages, __ATOMIC_RELAXED));
	__atomic_store_n(&d->log_pages, 0, __ATOMIC_RELAXED);
	log_drop(d);
}

int cvmm_vub_log_set(struct cvmm_vub *d, int fd, uint64_t size, uint64_t off)
{
	uint64_t pg = cvmm_page_size(), start = off & ~(pg - 1), len;
	void *p;

	if (fd < 0 || size == 0 || cvmm_add_overflow(size, off - start, &len) ||
	    len > (1ull << 40))
		return -EINVAL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)start);
	if (p == MAP_FAILED)
		return -errno;
	close(fd);
	/* a new log for the same migration (the frontend restarted its
	 * rings): the count goes on */
	log_drop(d);
	d->log_map = p;
	d->log_map_len = len;
	d->log_len = size;
	VUB_LOG(CVMM_LOG_INFO, "dirty log: SET_LOG_BASE, %llu bytes shared", (unsigned long long)size);
	__atomic_store_n(&d->log, (uint8_t *)p + (off - start), __ATOMIC_RELEASE);
	return 0;
}

void cvmm_vub_log_sync(struct cvmm_vub *d, struct cvmm_guest_mem *mem)
{
	uint64_t bm[64];
	const uint64_t chunk = 64 * 64 * CVMM_GUEST_PAGE_SIZE;

	for (unsigned int i = 0; i < cvmm_guest_mem_num_regions(mem); i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(mem, i);

		for (uint64_t o = 0; o < r->size; o += chunk) {
			uint64_t len = r->size - o < chunk ? r->size - o : chunk;
			uint64_t first = (r->gpa + o) >> CVMM_GUEST_PAGE_SHIFT;
			long n = cvmm_guest_mem_dirty_get_and_clear(mem, r->gpa + o, len, bm);

			if (n <= 0)
				continue;
			for (uint64_t pg = 0; pg < len >> CVMM_GUEST_PAGE_SHIFT; pg++) {
				uint64_t bit = first + pg;

				if (!(bm[pg / 64] & (1ull << (pg % 64))) || bit / 8 >= d->log_len)
					continue;
				if (!(__atomic_fetch_or(&d->log[bit / 8], (uint8_t)(1u << (bit % 8)),
							__ATOMIC_RELAXED) & (1u << (bit % 8))))
					__atomic_fetch_add(&d->log_pages, 1, __ATOMIC_RELAXED);
			}
		}
	}
}
