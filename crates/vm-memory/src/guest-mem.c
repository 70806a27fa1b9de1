/* SPDX-License-Identifier: Apache-2.0 */
/* The region set: creation, validation of new regions, lookups. */
#include "gm-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cvmm_guest_mem_create(struct cvmm_guest_mem **out)
{
	struct cvmm_guest_mem *m;

	if (!out)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	*out = m;
	return 0;
}

void cvmm_guest_mem_destroy(struct cvmm_guest_mem *m)
{
	if (!m)
		return;
	for (unsigned int i = 0; i < m->n; i++)
		cvmm_gm_unmap_region(&m->slot[i]);
	free(m);
}

/*
 * Copy the caller's options into a zero-filled current-version struct.
 * A caller built against a newer header may pass a larger struct: that is
 * fine as long as the fields we do not know are zero.
 */
static int opts_import(const struct cvmm_mem_region_opts *o,
		       struct cvmm_mem_region_opts *cur)
{
	if (!o || o->sz < sizeof(*cur))
		return -EINVAL;
	for (size_t i = sizeof(*cur); i < o->sz; i++)
		if (((const unsigned char *)o)[i])
			return -EINVAL;
	memcpy(cur, o, sizeof(*cur));
	cur->sz = sizeof(*cur);
	return 0;
}

static int opts_check(const struct cvmm_mem_region_opts *o)
{
	const uint32_t known = CVMM_MEM_F_SHARED | CVMM_MEM_F_NORESERVE |
			       CVMM_MEM_F_GUARD | CVMM_MEM_F_READONLY |
			       CVMM_MEM_F_DIRTY_LOG | CVMM_MEM_F_HOTPLUG;
	uint64_t end;

	if (o->flags & ~known)
		return -EINVAL;
	if (o->size == 0 || !CVMM_IS_ALIGNED(o->size, CVMM_GUEST_PAGE_SIZE) ||
	    !CVMM_IS_ALIGNED(o->gpa, CVMM_GUEST_PAGE_SIZE) ||
	    !CVMM_IS_ALIGNED(o->fd_offset, CVMM_GUEST_PAGE_SIZE))
		return -EINVAL;
	/* The region may not reach 2^64: end stays representable, which is
	 * what every later bounds check relies on. */
	if (cvmm_add_overflow(o->gpa, o->size, &end))
		return -EINVAL;
	if (cvmm_add_overflow(o->fd_offset, o->size, &end) || end > (uint64_t)INT64_MAX)
		return -EINVAL;
	/* A host mapping must fit in a size_t (and the address space). */
	if (o->size > (uint64_t)SIZE_MAX / 2)
		return -EINVAL;

	switch (o->backing) {
	case CVMM_MEM_ANON:
		if (o->fd != -1 || o->path || o->fd_offset)
			return -EINVAL;
		break;
	case CVMM_MEM_MEMFD:
		if (o->path || o->fd < -1)
			return -EINVAL;
		break;
	case CVMM_MEM_FILE:
		/* Exactly one of path and fd. */
		if ((o->path != NULL) == (o->fd >= 0) || o->fd < -1)
			return -EINVAL;
		break;
	case CVMM_MEM_HUGETLBFS: {
		uint64_t hp = o->hugepage_size ? o->hugepage_size : 2ull << 20;

		if (hp != (2ull << 20) && hp != (1ull << 30))
			return -EINVAL;
		if (!CVMM_IS_ALIGNED(o->size, hp) || !CVMM_IS_ALIGNED(o->fd_offset, hp))
			return -EINVAL;
		if ((o->path != NULL) && o->fd >= 0)
			return -EINVAL;
		if (o->fd < -1)
			return -EINVAL;
		break;
	}
	default:
		return -EINVAL;
	}
	return 0;
}

/* Index of the first slot whose gpa is > @gpa (where a new region goes). */
static unsigned int upper_bound(const struct cvmm_guest_mem *m, uint64_t gpa)
{
	unsigned int lo = 0, hi = m->n;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (m->slot[mid].gpa <= gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int cvmm_guest_mem_add_region(struct cvmm_guest_mem *m,
			      const struct cvmm_mem_region_opts *opts)
{
	struct cvmm_mem_region_opts o;
	struct cvmm_gm_slot s;
	unsigned int at;
	int r;

	if (!m)
		return -EINVAL;
	r = opts_import(opts, &o);
	if (r)
		return r;
	r = opts_check(&o);
	if (r)
		return r;
	if (m->n >= CVMM_GUEST_MEM_MAX_REGIONS)
		return -E2BIG;

	at = upper_bound(m, o.gpa);
	if (at > 0 && m->slot[at - 1].end > o.gpa)
		return -EEXIST;
	if (at < m->n && m->slot[at].gpa < o.gpa + o.size)
		return -EEXIST;

	memset(&s, 0, sizeof(s));
	s.gpa = o.gpa;
	s.end = o.gpa + o.size;
	s.flags = o.flags;
	if (o.backing == CVMM_MEM_MEMFD || o.backing == CVMM_MEM_HUGETLBFS)
		s.flags |= CVMM_MEM_F_SHARED;
	r = cvmm_gm_map_region(&o, &s);
	if (r)
		return r;
	if (s.flags & CVMM_MEM_F_DIRTY_LOG) {
		r = cvmm_gm_dirty_alloc(&s);
		if (r) {
			cvmm_gm_unmap_region(&s);
			return r;
		}
	}
	s.view.gpa = s.gpa;
	s.view.size = o.size;
	s.view.host = s.host;
	s.view.backing = o.backing;
	s.view.flags = s.flags;

	memmove(&m->slot[at + 1], &m->slot[at], (m->n - at) * sizeof(m->slot[0]));
	m->slot[at] = s;
	m->n++;
	m->total += o.size;
	__atomic_add_fetch(&m->generation, 1, __ATOMIC_RELEASE);
	return 0;
}

int cvmm_guest_mem_remove_region(struct cvmm_guest_mem *m, uint64_t gpa)
{
	unsigned int i;

	if (!m)
		return -EINVAL;
	for (i = 0; i < m->n; i++)
		if (m->slot[i].gpa == gpa)
			break;
	if (i == m->n)
		return -ENOENT;
	m->total -= m->slot[i].end - m->slot[i].gpa;
	cvmm_gm_unmap_region(&m->slot[i]);
	memmove(&m->slot[i], &m->slot[i + 1], (m->n - i - 1) * sizeof(m->slot[0]));
	m->n--;
	__atomic_add_fetch(&m->generation, 1, __ATOMIC_RELEASE);
	return 0;
}

const uint64_t *cvmm_guest_mem_generation(const struct cvmm_guest_mem *m)
{
	return m ? &m->generation : NULL;
}

unsigned int cvmm_guest_mem_num_regions(const struct cvmm_guest_mem *m)
{
	return m ? m->n : 0;
}

const struct cvmm_mem_region *cvmm_guest_mem_region(const struct cvmm_guest_mem *m,
						    unsigned int idx)
{
	if (!m || idx >= m->n)
		return NULL;
	return &m->slot[idx].view;
}

const struct cvmm_mem_region *cvmm_guest_mem_find(const struct cvmm_guest_mem *m,
						  uint64_t gpa)
{
	const struct cvmm_gm_slot *s;

	if (!m)
		return NULL;
	s = cvmm_gm_lookup(m, gpa);
	return s ? &s->view : NULL;
}

uint64_t cvmm_guest_mem_total_size(const struct cvmm_guest_mem *m)
{
	return m ? m->total : 0;
}

uint64_t cvmm_guest_mem_end(const struct cvmm_guest_mem *m)
{
	return m && m->n ? m->slot[m->n - 1].end : 0;
}
