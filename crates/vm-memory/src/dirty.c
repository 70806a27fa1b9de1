/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM-side dirty bitmap: one bit per 4 KiB guest page per region.
 *
 * Ordering: a writer copies data into guest memory and then sets the bit
 * with a release RMW; the harvester takes the bit with an acquire RMW and
 * only then reads the page. So a harvested bit always comes with the data
 * that set it, and a bit set after the harvest stays for the next round.
 * (A writer must not skip the RMW when it sees the bit already set: its
 * data might not be visible yet when the harvester clears that bit.)
 */
#include "gm-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t slot_pages(const struct cvmm_gm_slot *s)
{
	return (s->end - s->gpa) >> CVMM_GUEST_PAGE_SHIFT;
}

static uint64_t slot_words(const struct cvmm_gm_slot *s)
{
	return (slot_pages(s) + 63) / 64;
}

static uint64_t low_bits(unsigned int n)
{
	return n >= 64 ? ~0ull : (1ull << n) - 1;
}

int cvmm_gm_dirty_alloc(struct cvmm_gm_slot *s)
{
	uint64_t *b = calloc((size_t)slot_words(s), sizeof(uint64_t));

	if (!b)
		return -ENOMEM;
	__atomic_store_n(&s->dirty, b, __ATOMIC_RELEASE);
	s->flags |= CVMM_MEM_F_DIRTY_LOG;
	s->view.flags = s->flags;
	return 0;
}

void cvmm_gm_dirty_free(struct cvmm_gm_slot *s)
{
	uint64_t *b = s->dirty;

	__atomic_store_n(&s->dirty, NULL, __ATOMIC_RELEASE);
	free(b);
	s->flags &= ~CVMM_MEM_F_DIRTY_LOG;
	s->view.flags = s->flags;
}

/* Set bits [first, last] (inclusive) of @b. */
static void set_bits(uint64_t *b, uint64_t first, uint64_t last)
{
	uint64_t w = first / 64, wl = last / 64;

	if (w == wl) {
		uint64_t mask = low_bits((unsigned int)(last - first + 1)) << (first % 64);

		__atomic_fetch_or(&b[w], mask, __ATOMIC_RELEASE);
		return;
	}
	__atomic_fetch_or(&b[w], ~0ull << (first % 64), __ATOMIC_RELEASE);
	for (w++; w < wl; w++)
		__atomic_fetch_or(&b[w], ~0ull, __ATOMIC_RELEASE);
	__atomic_fetch_or(&b[wl], low_bits((unsigned int)(last % 64 + 1)), __ATOMIC_RELEASE);
}

void cvmm_gm_dirty_mark_slot(const struct cvmm_gm_slot *s, uint64_t gpa, uint64_t len)
{
	uint64_t *b = __atomic_load_n(&s->dirty, __ATOMIC_ACQUIRE);

	if (!b)
		return;
	set_bits(b, (gpa - s->gpa) >> CVMM_GUEST_PAGE_SHIFT,
		 (gpa + len - 1 - s->gpa) >> CVMM_GUEST_PAGE_SHIFT);
}

int cvmm_guest_mem_dirty_log_enable(struct cvmm_guest_mem *m, bool on)
{
	bool fresh[CVMM_GUEST_MEM_MAX_REGIONS] = { false };

	if (!m)
		return -EINVAL;
	if (!on) {
		for (unsigned int i = 0; i < m->n; i++)
			cvmm_gm_dirty_free(&m->slot[i]);
		return 0;
	}
	for (unsigned int i = 0; i < m->n; i++) {
		struct cvmm_gm_slot *s = &m->slot[i];

		if (s->dirty) {
			memset(s->dirty, 0, (size_t)slot_words(s) * sizeof(uint64_t));
			continue;
		}
		if (cvmm_gm_dirty_alloc(s)) {
			/* All or nothing: drop what this call allocated. */
			for (unsigned int j = 0; j < i; j++)
				if (fresh[j])
					cvmm_gm_dirty_free(&m->slot[j]);
			return -ENOMEM;
		}
		fresh[i] = true;
	}
	return 0;
}

void cvmm_guest_mem_mark_dirty(struct cvmm_guest_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t end;
	unsigned int lo, hi;

	if (!m || len == 0)
		return;
	/* Nothing is mapped at the last byte of the space (regions never
	 * reach 2^64), so clamping a wrapping range loses nothing. */
	if (cvmm_add_overflow(gpa, len, &end))
		end = UINT64_MAX;
	/* First slot that ends after @gpa. */
	lo = 0;
	hi = m->n;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (m->slot[mid].end <= gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < m->n && m->slot[lo].gpa < end; lo++) {
		const struct cvmm_gm_slot *s = &m->slot[lo];
		uint64_t a = CVMM_MAX(gpa, s->gpa), z = CVMM_MIN(end, s->end);

		cvmm_gm_dirty_mark_slot(s, a, z - a);
	}
}

/* Take and clear @n (1..64) bits of @b starting at bit @pos. */
static uint64_t take_bits(uint64_t *b, uint64_t pos, unsigned int n)
{
	uint64_t w = pos / 64;
	unsigned int sh = (unsigned int)(pos % 64), n1, n2;
	uint64_t mask, v;

	if (sh == 0 && n == 64) {
		/* A word seen empty needs no RMW: a bit set after this load
		 * simply waits for the next harvest. */
		if (!__atomic_load_n(&b[w], __ATOMIC_RELAXED))
			return 0;
		return __atomic_exchange_n(&b[w], 0, __ATOMIC_ACQ_REL);
	}
	n1 = CVMM_MIN(n, 64 - sh);
	mask = low_bits(n1) << sh;
	v = (__atomic_fetch_and(&b[w], ~mask, __ATOMIC_ACQ_REL) & mask) >> sh;
	if (n > n1) {
		n2 = n - n1;
		mask = low_bits(n2);
		v |= (__atomic_fetch_and(&b[w + 1], ~mask, __ATOMIC_ACQ_REL) & mask) << n1;
	}
	return v;
}

long cvmm_guest_mem_dirty_get_and_clear(struct cvmm_guest_mem *m, uint64_t gpa,
					uint64_t len, uint64_t *bitmap)
{
	const struct cvmm_gm_slot *s;
	uint64_t *b, first, npages, end;
	long count = 0;

	if (!m || !bitmap || len == 0 || !CVMM_IS_ALIGNED(gpa, CVMM_GUEST_PAGE_SIZE) ||
	    !CVMM_IS_ALIGNED(len, CVMM_GUEST_PAGE_SIZE) || cvmm_add_overflow(gpa, len, &end))
		return -EINVAL;
	s = cvmm_gm_lookup(m, gpa);
	if (!s || end > s->end)
		return -EFAULT;
	b = __atomic_load_n(&s->dirty, __ATOMIC_ACQUIRE);
	if (!b)
		return -ENODATA;
	first = (gpa - s->gpa) >> CVMM_GUEST_PAGE_SHIFT;
	npages = len >> CVMM_GUEST_PAGE_SHIFT;
	for (uint64_t i = 0; i < npages; i += 64) {
		uint64_t v = take_bits(b, first + i, (unsigned int)CVMM_MIN(64, npages - i));

		bitmap[i / 64] = v;
		count += __builtin_popcountll(v);
	}
	return count;
}
