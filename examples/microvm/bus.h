/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The port-I/O and MMIO buses of cvmm-microvm: address ranges mapped to
 * device handlers. The set is fixed before the vCPUs start, so lookups from
 * vCPU threads take no lock; each device serialises its own state.
 */
#ifndef MICROVM_BUS_H
#define MICROVM_BUS_H

#include <stdbool.h>
#include <stdint.h>

/* @offset is relative to the range base; @data holds @len bytes (1-8). */
typedef void (*bus_io_fn)(void *opaque, uint64_t offset, uint8_t *data,
			  uint32_t len, bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_io_fn fn;
	void *opaque;
	const char *name;
};

#define BUS_MAX_RANGES 64

struct bus {
	struct bus_range r[BUS_MAX_RANGES];
	unsigned int n;
};

/* @return 0; -EEXIST when it overlaps a range already there; -ENOSPC; -EINVAL. */
int bus_add(struct bus *b, uint64_t base, uint64_t len, bus_io_fn fn, void *opaque,
	    const char *name);

/*
 * Dispatch an access. Reads of unclaimed addresses return all ones, writes
 * to them are dropped, as on a real bus. @return true when a device claimed it.
 */
bool bus_access(const struct bus *b, uint64_t addr, uint8_t *data, uint32_t len,
		bool is_write);

#endif
