/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: arbitrary bytes as a test-guest image, parsed and
 * loaded into a small guest (16 MiB, plus 1 GiB above 4 GiB so ranges can
 * straddle the hole). A successful load must stay inside guest RAM and
 * produce registers inside the layout.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest-loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cvmm_guest_mem *mem;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmm_guest_load_opts o = { .sz = sizeof(o), .ncpus = 1 };
	struct cvmm_guest_layout l;
	struct cvmm_guest_image img;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (!mem) {
		struct cvmm_mem_region_opts lo = {
			.sz = sizeof(lo), .gpa = 0, .size = 16u << 20,
			.backing = CVMM_MEM_ANON, .flags = CVMM_MEM_F_NORESERVE, .fd = -1,
		};
		struct cvmm_mem_region_opts hi = lo;

		hi.gpa = 1ull << 32;
		hi.size = 1ull << 30;
		if (cvmm_guest_mem_create(&mem) || cvmm_guest_mem_add_region(mem, &lo) ||
		    cvmm_guest_mem_add_region(mem, &hi))
			abort();
	}
	if (size)
		o.ncpus = 1 + data[size - 1] % 8;
	(void)cvmm_guest_image_parse(data, size, &img);
	if (cvmm_guest_load(mem, data, size, &o, &l))
		return 0;
	if (!cvmm_guest_mem_range_valid(mem, l.img.load_gpa, l.free_gpa - l.img.load_gpa))
		abort();
	memset(&sregs, 0, sizeof(sregs));
	for (uint32_t c = 0; c < o.ncpus; c++) {
		if (cvmm_guest_vcpu_regs(&l, c, &regs, &sregs))
			abort();
		if (regs.rsp <= l.stacks_gpa || regs.rsp > l.gdt_gpa ||
		    regs.rip < l.img.load_gpa || regs.rip >= l.img.load_gpa + l.img.file_size)
			abort();
	}
	return 0;
}
