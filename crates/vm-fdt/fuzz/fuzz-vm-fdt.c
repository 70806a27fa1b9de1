/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the input is a little program for the builder. Each step is an
 * opcode byte, a length byte and that many bytes of operand (a name, a value
 * or both), so names, values, nesting and sizes are all under the fuzzer's
 * control. Whatever the sequence, calls must fail cleanly, and a tree that
 * finishes must pass libfdt's full check.
 */
#include <cvmm/vm-fdt.h>

#include <libfdt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmm_fdt_opts o = { .sz = sizeof(o), .initial_size = 256, .max_size = 64 * 1024 };
	struct cvmm_fdt *f;
	const void *blob;
	size_t pos = 0, len;
	char name[64];

	if (cvmm_fdt_create(&o, &f))
		abort();
	while (pos + 2 <= size) {
		uint8_t op = data[pos], n = data[pos + 1];
		const uint8_t *arg = data + pos + 2;
		size_t avail = size - pos - 2, nl, vl;
		uint32_t ph;

		if (n > avail)
			n = (uint8_t)avail;
		pos += 2 + (size_t)n;
		/* The operand's first byte splits it into name and value. */
		nl = n ? arg[0] % 40 : 0;
		if (nl + 1 > n)
			nl = n ? n - 1 : 0;
		memcpy(name, n ? arg + 1 : arg, nl);
		name[nl] = '\0';
		vl = n > nl + 1 ? n - nl - 1 : 0;
		const uint8_t *val = arg + 1 + nl;

		switch (op % 12) {
		case 0: cvmm_fdt_begin_node(f, name); break;
		case 1: cvmm_fdt_end_node(f); break;
		case 2: cvmm_fdt_prop_empty(f, name); break;
		case 3: cvmm_fdt_prop_bytes(f, name, vl ? val : NULL, vl); break;
		case 4: {
			uint32_t cells[8];
			size_t nc = vl / 4 > 8 ? 8 : vl / 4;

			memcpy(cells, val, nc * 4);
			cvmm_fdt_prop_u32_array(f, name, nc ? cells : NULL, nc);
			break;
		}
		case 5: cvmm_fdt_prop_u64(f, name, vl); break;
		case 6: {
			const char *strs[2] = { name, "x" };

			cvmm_fdt_prop_string_list(f, name, strs, 1 + (vl & 1));
			break;
		}
		case 7: cvmm_fdt_add_mem_rsv(f, (uint64_t)vl << 12, (uint64_t)nl << 12); break;
		case 8:
			if (!cvmm_fdt_phandle_alloc(f, &ph))
				cvmm_fdt_prop_phandle(f, ph);
			break;
		case 9: cvmm_fdt_prop_bytes(f, name, NULL, (size_t)vl << 10); break;
		case 10: cvmm_fdt_begin_node(f, ""); break;
		default: cvmm_fdt_prop_string(f, name, name); break;
		}
	}
	while (cvmm_fdt_depth(f) && cvmm_fdt_end_node(f) == 0)
		;
	if (cvmm_fdt_finish(f, &blob, &len) == 0 && fdt_check_full(blob, len) != 0)
		abort();
	cvmm_fdt_destroy(f);
	return 0;
}
