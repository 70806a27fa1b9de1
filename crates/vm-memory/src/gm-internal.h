/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vm-memory internals shared by the files of the crate; never installed.
 * Helpers shared between files carry the cvmm_gm_ prefix so the archive
 * exports nothing outside the cvmm_ namespace.
 */
#ifndef CVMM_GM_INTERNAL_H
#define CVMM_GM_INTERNAL_H

#include <sys/mman.h>

/* memfd flags older libc headers lack. */
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004u
#endif
#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT 26
#endif
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21u << MFD_HUGE_SHIFT)
#endif
#ifndef MFD_HUGE_1GB
#define MFD_HUGE_1GB (30u << MFD_HUGE_SHIFT)
#endif

#include <cvmm/vm-memory.h>
#include <cvmm/sys-util.h>

#define CVMM_GM_HIDDEN __attribute__((visibility("hidden")))

/*
 * One region. The fields translation needs come first and are duplicated
 * from the public view so a lookup touches one cache line per probe.
 */
struct cvmm_gm_slot {
	uint64_t gpa;
	uint64_t end;          /* gpa + size; never wraps (checked at add) */
	uint8_t *host;
	uint64_t *dirty;       /* one bit per guest page; NULL: logging off */
	uint32_t flags;
	void *resv;            /* whole reservation, guard pages included */
	size_t resv_len;
	struct cvmm_mem_region view;
};

struct cvmm_guest_mem {
	unsigned int n;
	uint64_t total;
	/* Bumped by every map change (add/remove region): whoever cached a
	 * region pointer or a host pointer derived from one re-translates. */
	uint64_t generation;
	/* Sorted by gpa, non-overlapping. A fixed array: lookups never chase
	 * a pointer that add_region() could reallocate under them. */
	struct cvmm_gm_slot slot[CVMM_GUEST_MEM_MAX_REGIONS];
};

/* The slot containing @gpa, or NULL. The hot path of every access. */
static inline const struct cvmm_gm_slot *
cvmm_gm_lookup(const struct cvmm_guest_mem *m, uint64_t gpa)
{
	const struct cvmm_gm_slot *s = m->slot;
	unsigned int lo, hi;

	/* Most guests have one or two regions (below and above the hole). */
	if (CVMM_LIKELY(m->n <= 2)) {
		if (m->n > 0 && gpa - s[0].gpa < s[0].end - s[0].gpa)
			return &s[0];
		if (m->n > 1 && gpa - s[1].gpa < s[1].end - s[1].gpa)
			return &s[1];
		return NULL;
	}
	/* Last slot whose gpa <= @gpa. */
	lo = 0;
	hi = m->n;
	while (hi - lo > 1) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (s[mid].gpa <= gpa)
			lo = mid;
		else
			hi = mid;
	}
	if (gpa - s[lo].gpa < s[lo].end - s[lo].gpa)
		return &s[lo];
	return NULL;
}

/*
 * Map the backing of a region described by validated options into @s
 * (host, resv, resv_len, view.fd, view.fd_offset). @return 0 or -errno;
 * on failure nothing is left mapped or open.
 */
CVMM_GM_HIDDEN int cvmm_gm_map_region(const struct cvmm_mem_region_opts *o,
				      struct cvmm_gm_slot *s);
/* Undo cvmm_gm_map_region() and free the dirty bitmap. */
CVMM_GM_HIDDEN void cvmm_gm_unmap_region(struct cvmm_gm_slot *s);

/* Dirty bitmap of one slot: allocate (zeroed) or free. */
CVMM_GM_HIDDEN int cvmm_gm_dirty_alloc(struct cvmm_gm_slot *s);
CVMM_GM_HIDDEN void cvmm_gm_dirty_free(struct cvmm_gm_slot *s);

/* Set the dirty bits of [@gpa, @gpa + @len), which lies inside @s (len > 0). */
CVMM_GM_HIDDEN void cvmm_gm_dirty_mark_slot(const struct cvmm_gm_slot *s,
					    uint64_t gpa, uint64_t len);

/* Record a VMM write of [@gpa, @gpa + @len) inside @s if @s logs. */
static inline void cvmm_gm_note_write(const struct cvmm_gm_slot *s, uint64_t gpa,
				      uint64_t len)
{
	if (__atomic_load_n(&s->dirty, __ATOMIC_RELAXED))
		cvmm_gm_dirty_mark_slot(s, gpa, len);
}

#endif
