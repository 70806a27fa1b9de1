/* SPDX-License-Identifier: Apache-2.0 */
/* The e820 / PVH memory map from the vm-memory layout and reserved ranges. */
#include "internal.h"

#include <cvmm/vm-memory.h>

#include <errno.h>
#include <stdlib.h>

static int cmp_range(const void *a, const void *b)
{
	const struct cvmm_mem_range *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int cvmm_linux_loader_memmap(const struct cvmm_guest_mem *m,
			     const struct cvmm_mem_range *reserved, unsigned int n_reserved,
			     struct cvmm_mem_range *out, unsigned int max)
{
	unsigned int nreg, n = 0, cap;
	struct cvmm_mem_range *w;
	uint64_t end;
	int r;

	if (!m || !out || (n_reserved && !reserved))
		return -EINVAL;
	nreg = cvmm_guest_mem_num_regions(m);
	if (nreg == 0)
		return -EINVAL;
	for (unsigned int i = 0; i < n_reserved; i++) {
		const struct cvmm_mem_range *a = &reserved[i];

		if (a->size == 0 || a->type == CVMM_E820_RAM ||
		    __builtin_add_overflow(a->addr, a->size, &end))
			return -EINVAL;
		for (unsigned int j = 0; j < i; j++)
			if (cvmm_ll_overlap(a->addr, a->size, reserved[j].addr, reserved[j].size))
				return -EINVAL;
	}
	/* Each carve splits at most one piece in two. The caller's ranges win
	 * over ROM regions as well as RAM. */
	cap = nreg + 2 * n_reserved;
	w = calloc(cap, sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (unsigned int i = 0; i < nreg; i++) {
		const struct cvmm_mem_region *rg = cvmm_guest_mem_region(m, i);

		uint32_t type;

		if (!rg)
			break;
		/* The guest learns of hotplug memory from its device only. */
		if (rg->flags & CVMM_MEM_F_HOTPLUG)
			continue;
		/* A read-only region is firmware ROM, not RAM for the kernel. */
		type = rg->flags & CVMM_MEM_F_READONLY ? CVMM_E820_RESERVED : CVMM_E820_RAM;
		if (n && w[n - 1].type == type && w[n - 1].addr + w[n - 1].size == rg->gpa) {
			w[n - 1].size += rg->size;
			continue;
		}
		w[n].addr = rg->gpa;
		w[n].size = rg->size;
		w[n].type = type;
		n++;
	}
	for (unsigned int i = 0; i < n_reserved; i++) {
		uint64_t rs = reserved[i].addr, re = rs + reserved[i].size;

		for (unsigned int j = 0; j < n; j++) {
			uint64_t s = w[j].addr, e = s + w[j].size;

			if (re <= s || rs >= e)
				continue;
			if (rs > s && re < e) {
				/* Hole in the middle: the tail becomes a new piece. */
				w[n].addr = re;
				w[n].size = e - re;
				w[n].type = w[j].type;
				n++;
				w[j].size = rs - s;
			} else if (rs <= s && re >= e) {
				w[j].size = 0;
			} else if (rs <= s) {
				w[j].addr = re;
				w[j].size = e - re;
			} else {
				w[j].size = rs - s;
			}
		}
	}
	for (unsigned int i = 0; i < n_reserved; i++)
		w[n++] = reserved[i];
	qsort(w, n, sizeof(*w), cmp_range);
	r = 0;
	for (unsigned int i = 0; i < n; i++) {
		if (w[i].size == 0)
			continue;
		if ((unsigned int)r >= max) {
			r = -E2BIG;
			break;
		}
		out[r++] = w[i];
	}
	free(w);
	return r;
}

bool cvmm_ll_ram_writable(const struct cvmm_guest_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(gpa, len, &end))
		return false;
	/* A ROM region is guest memory the loader must not plan to write. */
	while (gpa < end) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_find(m, gpa);

		if (!r || (r->flags & CVMM_MEM_F_READONLY))
			return false;
		gpa = r->gpa + r->size;
	}
	return true;
}
