/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "bus.h"

int bus_add(struct bus *b, uint64_t base, uint64_t len, bus_io_fn fn, void *opaque,
	    const char *name)
{
	unsigned int i;

	if (!len || base + len < base || !fn)
		return -EINVAL;
	if (b->n == BUS_MAX_RANGES)
		return -ENOSPC;
	for (i = 0; i < b->n; i++)
		if (base < b->r[i].base + b->r[i].len && b->r[i].base < base + len)
			return -EEXIST;
	/* Keep the ranges sorted so bus_access can binary-search. */
	for (i = b->n; i > 0 && b->r[i - 1].base > base; i--)
		b->r[i] = b->r[i - 1];
	b->r[i] = (struct bus_range){ base, len, fn, opaque, name };
	b->n++;
	return 0;
}

bool bus_access(const struct bus *b, uint64_t addr, uint8_t *data, uint32_t len,
		bool is_write)
{
	unsigned int lo = 0, hi = b->n;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;
		const struct bus_range *r = &b->r[mid];

		if (addr < r->base) {
			hi = mid;
		} else if (addr - r->base >= r->len) {
			lo = mid + 1;
		} else {
			/* An access straddling the end of a range is the guest's
			 * mistake; the device sees only what lies inside. */
			if (!is_write)
				memset(data, 0xff, len);
			if (len > r->len - (addr - r->base))
				len = (uint32_t)(r->len - (addr - r->base));
			r->fn(r->opaque, addr - r->base, data, len, is_write);
			return true;
		}
	}
	if (!is_write)
		memset(data, 0xff, len);
	return false;
}
