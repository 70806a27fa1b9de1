/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The resource allocator: MMIO windows, ports and interrupt lines handed to
 * devices, each allocation recorded with its owner so that a restore takes
 * back exactly the saved layout instead of re-deriving it from the order
 * of a command line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmm/vm-memory.h>

#include "internal.h"

/*
 * The x86 platform's pools. The 32-bit MMIO pool is the hole below the
 * I/O APIC; GSIs 0-4 and 8 are legacy (timer, i8042, cascade, serial, RTC)
 * and left out by starting at 5 and reserving 8 at creation.
 */
#define MMIO32_START 0xd0000000ull
#define MMIO32_END 0xfec00000ull
#define PIO_START 0x1000ull
#define PIO_END 0x10000ull
#define GSI_START 5ull
#define GSI_END 24ull
#define MSI_START 24ull
#define MSI_END 1024ull
#define MMIO64_SIZE (1ull << 40)

void cvmm_vi_alloc_init(struct allocator *al, uint64_t mmio64_start)
{
	static const uint64_t range[CVMM_VMM_RES_KINDS][2] = {
		[CVMM_VMM_RES_MMIO32] = { MMIO32_START, MMIO32_END },
		[CVMM_VMM_RES_PIO] = { PIO_START, PIO_END },
		[CVMM_VMM_RES_GSI] = { GSI_START, GSI_END },
		[CVMM_VMM_RES_MSI] = { MSI_START, MSI_END },
	};

	memset(al, 0, sizeof(*al));
	for (unsigned int k = 0; k < CVMM_VMM_RES_KINDS; k++) {
		al->pool[k].start = range[k][0];
		al->pool[k].end = range[k][1];
	}
	/*
	 * 64-bit MMIO above RAM, 1 GiB aligned as PCI windows like it, and
	 * never below 4 GiB: with 2-3 GiB of RAM the rounded end of RAM fell
	 * in the 32-bit hole, and the PCI 64-bit window collided with ECAM.
	 */
	mmio64_start = (mmio64_start + (1ull << 30) - 1) & ~((1ull << 30) - 1);
	if (mmio64_start < CVMM_X86_MMIO_HOLE_END)
		mmio64_start = CVMM_X86_MMIO_HOLE_END;
	al->pool[CVMM_VMM_RES_MMIO64].start = mmio64_start;
	al->pool[CVMM_VMM_RES_MMIO64].end = mmio64_start + MMIO64_SIZE;
}

void cvmm_vi_alloc_fini(struct allocator *al)
{
	for (unsigned int k = 0; k < CVMM_VMM_RES_KINDS; k++)
		free(al->pool[k].a);
	memset(al, 0, sizeof(*al));
}

static int insert(struct alloc_pool *p, unsigned int at, uint32_t kind, uint64_t base,
		  uint64_t len, const char *owner)
{
	if (p->n == p->cap) {
		unsigned int cap = p->cap ? p->cap * 2 : 16;
		struct cvmm_vmm_resource *a = realloc(p->a, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		p->a = a;
		p->cap = cap;
	}
	memmove(&p->a[at + 1], &p->a[at], (p->n - at) * sizeof(p->a[0]));
	p->a[at] = (struct cvmm_vmm_resource){ .kind = kind, .base = base, .len = len };
	snprintf(p->a[at].owner, sizeof(p->a[at].owner), "%s", owner ? owner : "");
	p->n++;
	return 0;
}

static bool valid_kind(unsigned int kind)
{
	return kind < CVMM_VMM_RES_KINDS;
}

int cvmm_vmm_alloc(struct cvmm_vmm *vmm, enum cvmm_vmm_res_kind kind, uint64_t len,
		   uint64_t align, const char *owner, uint64_t *base)
{
	struct alloc_pool *p;
	uint64_t cand;
	unsigned int i;

	if (!vmm || !valid_kind(kind) || !len || !base || (align & (align - 1)))
		return -EINVAL;
	if (!align)
		align = 1;
	p = &vmm->alloc.pool[kind];
	cand = p->start;
	for (i = 0; i <= p->n; i++) {
		uint64_t limit = i < p->n ? p->a[i].base : p->end;

		if (cand & (align - 1)) {
			if (cand > UINT64_MAX - align)
				return -ENOSPC;
			cand = (cand + align - 1) & ~(align - 1);
		}
		if (cand <= limit && len <= limit - cand)
			break;
		if (i < p->n)
			cand = p->a[i].base + p->a[i].len;
	}
	if (i > p->n)
		return -ENOSPC;
	*base = cand;
	return insert(p, i, kind, cand, len, owner);
}

int cvmm_vmm_alloc_at(struct cvmm_vmm *vmm, enum cvmm_vmm_res_kind kind, uint64_t base,
		      uint64_t len, const char *owner)
{
	struct alloc_pool *p;
	unsigned int i;

	if (!vmm || !valid_kind(kind) || !len)
		return -EINVAL;
	p = &vmm->alloc.pool[kind];
	if (base < p->start || base > p->end || len > p->end - base)
		return -EINVAL;
	for (i = 0; i < p->n && p->a[i].base < base; i++)
		;
	if ((i > 0 && p->a[i - 1].base + p->a[i - 1].len > base) ||
	    (i < p->n && base + len > p->a[i].base))
		return -EBUSY;
	return insert(p, i, kind, base, len, owner);
}

int cvmm_vmm_alloc_free_owner(struct cvmm_vmm *vmm, const char *owner)
{
	int freed = 0;

	if (!vmm || !owner)
		return -EINVAL;
	for (unsigned int k = 0; k < CVMM_VMM_RES_KINDS; k++) {
		struct alloc_pool *p = &vmm->alloc.pool[k];
		unsigned int j = 0;

		for (unsigned int i = 0; i < p->n; i++) {
			if (!strcmp(p->a[i].owner, owner))
				freed++;
			else
				p->a[j++] = p->a[i];
		}
		p->n = j;
	}
	return freed;
}

int cvmm_vmm_alloc_list(const struct cvmm_vmm *vmm, struct cvmm_vmm_resource *out,
			unsigned int max)
{
	unsigned int n = 0;

	if (!vmm || (max && !out))
		return -EINVAL;
	for (unsigned int k = 0; k < CVMM_VMM_RES_KINDS; k++)
		for (unsigned int i = 0; i < vmm->alloc.pool[k].n; i++, n++)
			if (n < max)
				out[n] = vmm->alloc.pool[k].a[i];
	return (int)n;
}
