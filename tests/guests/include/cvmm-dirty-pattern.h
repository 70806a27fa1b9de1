/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The page set the "dirty" guest writes, computed identically by the guest
 * and by the tests and benchmarks that check the dirty log against it.
 *
 * Round r with seed s writes @count distinct pages of an area of @span pages:
 * page(i) = (start + i * stride) mod span, stride coprime to span, so the
 * pages are distinct for count <= span. Each written page gets the 64-bit
 * value cvmm_dirty_value(s, r, i) at its first byte.
 */
#ifndef CVMM_DIRTY_PATTERN_H
#define CVMM_DIRTY_PATTERN_H

#include <stdint.h>

static inline uint64_t cvmm_dirty_mix(uint64_t x)
{
	/* splitmix64 finaliser: cheap, well spread, no tables */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline uint64_t cvmm_dirty_gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

struct cvmm_dirty_round {
	uint64_t span;
	uint64_t start;
	uint64_t stride;
};

#define CVMM_DIRTY_MAX_SPAN (1ull << 31) /* pages: 8 TiB */

/* @span must be in [1, CVMM_DIRTY_MAX_SPAN]. */
static inline struct cvmm_dirty_round cvmm_dirty_round_init(uint64_t seed, uint64_t round,
							    uint64_t span)
{
	struct cvmm_dirty_round d;
	uint64_t h = cvmm_dirty_mix(seed ^ cvmm_dirty_mix(round));

	d.span = span;
	d.start = h % span;
	d.stride = span > 1 ? 1 + cvmm_dirty_mix(h) % (span - 1) : 1;
	while (cvmm_dirty_gcd(d.stride, span) != 1)
		d.stride = d.stride + 1 < span ? d.stride + 1 : 1;
	return d;
}

/* Page index (0 .. span-1) of the @i-th write; i < span <= CVMM_DIRTY_MAX_SPAN
 * keeps i * stride + start below 2^64 (no 128-bit division in the guest). */
static inline uint64_t cvmm_dirty_page(const struct cvmm_dirty_round *d, uint64_t i)
{
	return (i * d->stride + d->start) % d->span;
}

static inline uint64_t cvmm_dirty_value(uint64_t seed, uint64_t round, uint64_t i)
{
	return cvmm_dirty_mix(seed + round * 0x100000001ull + i) | 1;
}

/* The guest's arguments (boot info args[]). */
#define CVMM_DIRTY_ARG_BASE 0  /* GPA of the area, page aligned */
#define CVMM_DIRTY_ARG_SPAN 1  /* pages in the area */
#define CVMM_DIRTY_ARG_COUNT 2 /* low 32 bits: pages per round; high 32: rounds (0 = 1) */
#define CVMM_DIRTY_ARG_SEED 3

#endif /* CVMM_DIRTY_PATTERN_H */
