/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by the vm-memory test programs. */
#ifndef GM_TEST_H
#define GM_TEST_H

#include <cvmm/vm-memory.h>
#include "cvmm-test.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define PAGE CVMM_GUEST_PAGE_SIZE

static inline struct cvmm_mem_region_opts gm_opts(uint64_t gpa, uint64_t size,
						  enum cvmm_mem_backing b, uint32_t flags)
{
	return (struct cvmm_mem_region_opts){
		.sz = sizeof(struct cvmm_mem_region_opts),
		.gpa = gpa, .size = size, .backing = b, .flags = flags, .fd = -1,
	};
}

static inline struct cvmm_guest_mem *gm_new(void)
{
	struct cvmm_guest_mem *m = NULL;

	ck_assert_int_eq(cvmm_guest_mem_create(&m), 0);
	ck_assert_ptr_nonnull(m);
	return m;
}

/* Add an anonymous region, asserting success. */
static inline void gm_add(struct cvmm_guest_mem *m, uint64_t gpa, uint64_t size,
			  uint32_t flags)
{
	struct cvmm_mem_region_opts o = gm_opts(gpa, size, CVMM_MEM_ANON, flags);

	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), 0);
}

/* Deterministic byte pattern that differs per position and per @seed. */
static inline void gm_pattern(void *buf, size_t len, unsigned int seed)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)((i * 131u + seed * 7u + (i >> 8)) ^ 0x5a);
}

/* Resident set size of this process in bytes, from /proc/self/statm. */
static inline uint64_t gm_rss_bytes(void)
{
	unsigned long long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%llu %llu", &size, &rss), 2);
	fclose(f);
	return rss * PAGE;
}

/*
 * Huge pages for a test: grow the pool by @n 2 MiB pages (root only).
 * Test programs may run in parallel, so the whole reserve ... restore span
 * holds a lock; gm_hugepages_restore() puts the old size back and unlocks.
 * Returns false (nothing changed) when the pool cannot be changed.
 */
struct gm_hugepages {
	int lock;
	long old;
};

static inline long gm_nr_hugepages(long set)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r+");
	long old = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &old) != 1)
		old = -1;
	if (set >= 0 && old >= 0) {
		rewind(f);
		fprintf(f, "%ld\n", set);
	}
	if (fclose(f) != 0)
		return -1;
	return old;
}

static inline bool gm_hugepages_reserve(struct gm_hugepages *h, long n)
{
	h->old = -1;
	h->lock = open("/tmp/cvmm-test-hugepages.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (h->lock < 0)
		return false;
	flock(h->lock, LOCK_EX);
	h->old = gm_nr_hugepages(-1);
	if (h->old < 0 || gm_nr_hugepages(h->old + n) < 0) {
		h->old = -1;
		return false;
	}
	return true;
}

static inline void gm_hugepages_restore(struct gm_hugepages *h)
{
	if (h->old >= 0)
		gm_nr_hugepages(h->old);
	h->old = -1;
	if (h->lock >= 0)
		close(h->lock);
	h->lock = -1;
}

#endif
