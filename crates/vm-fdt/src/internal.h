/* SPDX-License-Identifier: Apache-2.0 */
/* Private to vm-fdt: the builder's state and the helpers its files share. */
#ifndef CVMM_VM_FDT_INTERNAL_H
#define CVMM_VM_FDT_INTERNAL_H

#include <cvmm/vm-fdt.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Names already used in one open node, for the duplicate check. */
struct cvmm_fdt_level {
	char **names; /* "p:" + property or "n:" + child node name */
	size_t n, cap;
};

struct cvmm_fdt_rsv {
	uint64_t addr, size;
};

struct cvmm_fdt {
	void *buf;            /* libfdt sequential-write state */
	size_t size, max;
	unsigned int depth;
	bool root_seen;
	bool finished;
	int err;              /* first error, sticky */
	uint32_t next_phandle;
	uint32_t boot_cpuid;
	struct cvmm_fdt_level levels[CVMM_FDT_MAX_DEPTH];
	struct cvmm_fdt_rsv rsv[CVMM_FDT_MAX_RSV];
	unsigned int n_rsv;
	void *out;            /* finished blob */
	size_t out_len;
};

bool cvmm_fdt_node_name_valid(const char *name);
bool cvmm_fdt_prop_name_valid(const char *name);
int cvmm_fdt_errno(int fdt_err);

#endif
