/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token buckets kept in nano-tokens (tokens * 1e9) so that refill is exact
 * integer arithmetic: elapsed_ns * rate nano-tokens, no rounding drift.
 */
#include <errno.h>
#include <string.h>

#include <cvmm/virtio-devices.h>

#include "internal.h"

#define NS_PER_SEC 1000000000ull

static uint64_t default_clock(void *opaque)
{
	(void)opaque;
	return cvmm_now_ns();
}

static void bucket_init(struct cvmm_token_bucket *b, uint64_t rate, uint64_t burst,
			uint64_t now)
{
	b->rate = rate;
	b->capacity = burst ? burst : rate;
	b->budget_nt = (unsigned __int128)b->capacity * NS_PER_SEC;
	b->last_ns = now;
}

int cvmm_rate_limiter_init(struct cvmm_rate_limiter *rl,
			   const struct cvmm_rate_limiter_opts *o)
{
	uint64_t now;

	if (!rl)
		return -EINVAL;
	memset(rl, 0, sizeof(*rl));
	rl->clock = default_clock;
	if (!o)
		return 0;
	if (o->sz < sizeof(*o))
		return -EINVAL;
	if ((o->bytes_burst && !o->bytes_per_sec) || (o->ops_burst && !o->ops_per_sec))
		return -EINVAL;
	if (o->clock) {
		rl->clock = o->clock;
		rl->clock_opaque = o->clock_opaque;
	}
	now = rl->clock(rl->clock_opaque);
	bucket_init(&rl->bytes, o->bytes_per_sec, o->bytes_burst, now);
	bucket_init(&rl->ops, o->ops_per_sec, o->ops_burst, now);
	return 0;
}

bool cvmm_rate_limiter_unlimited(const struct cvmm_rate_limiter *rl)
{
	return rl->bytes.rate == 0 && rl->ops.rate == 0;
}

static void refill(struct cvmm_token_bucket *b, uint64_t now)
{
	unsigned __int128 cap = (unsigned __int128)b->capacity * NS_PER_SEC;

	/* A clock that steps back (an injected one) just adds nothing. */
	if (now > b->last_ns) {
		b->budget_nt += (unsigned __int128)(now - b->last_ns) * b->rate;
		if (b->budget_nt > cap)
			b->budget_nt = cap;
	}
	b->last_ns = now;
}

/* Nano-tokens this bucket must hold for @cost to pass. */
static unsigned __int128 need(const struct cvmm_token_bucket *b, uint64_t cost)
{
	uint64_t c = cost > b->capacity ? b->capacity : cost;

	return (unsigned __int128)c * NS_PER_SEC;
}

static void take(struct cvmm_token_bucket *b, uint64_t cost)
{
	unsigned __int128 n = (unsigned __int128)cost * NS_PER_SEC;

	b->budget_nt = n >= b->budget_nt ? 0 : b->budget_nt - n;
}

bool cvmm_rate_limiter_consume(struct cvmm_rate_limiter *rl, uint64_t ops,
			       uint64_t bytes)
{
	uint64_t now = rl->clock(rl->clock_opaque);

	if (rl->ops.rate)
		refill(&rl->ops, now);
	if (rl->bytes.rate)
		refill(&rl->bytes, now);
	if (rl->ops.rate && rl->ops.budget_nt < need(&rl->ops, ops))
		return false;
	if (rl->bytes.rate && rl->bytes.budget_nt < need(&rl->bytes, bytes))
		return false;
	if (rl->ops.rate)
		take(&rl->ops, ops);
	if (rl->bytes.rate)
		take(&rl->bytes, bytes);
	return true;
}

static uint64_t bucket_wait(struct cvmm_token_bucket *b, uint64_t cost)
{
	unsigned __int128 n = need(b, cost), missing, ns;

	if (!b->rate || b->budget_nt >= n)
		return 0;
	missing = n - b->budget_nt;
	ns = (missing + b->rate - 1) / b->rate;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

uint64_t cvmm_rate_limiter_wait_ns(struct cvmm_rate_limiter *rl, uint64_t ops,
				   uint64_t bytes)
{
	uint64_t now = rl->clock(rl->clock_opaque), a, b;

	if (rl->ops.rate)
		refill(&rl->ops, now);
	if (rl->bytes.rate)
		refill(&rl->bytes, now);
	a = bucket_wait(&rl->ops, ops);
	b = bucket_wait(&rl->bytes, bytes);
	return a > b ? a : b;
}
