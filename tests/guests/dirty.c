/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes a known set of pages (cvmm-dirty-pattern.h) in rounds. After each
 * round every vCPU meets at a barrier and vCPU 0 writes the round number to
 * the sync port, so the VMM can harvest the dirty log and compare it with
 * exactly that round's pages. The work of a round is split over the vCPUs.
 * Exit code 0; 0xbad for unusable arguments.
 */
#include "cvmm-dirty-pattern.h"
#include "guest.h"

static uint32_t barrier_count;
static uint32_t barrier_gen;

static void cpu_barrier(unsigned int n)
{
	uint32_t gen = atomic_load(&barrier_gen);

	if (atomic_inc(&barrier_count) == n) {
		atomic_store(&barrier_count, 0);
		atomic_inc(&barrier_gen);
	} else {
		while (atomic_load(&barrier_gen) == gen)
			cpu_relax();
	}
}

int guest_main(unsigned int cpu)
{
	uint64_t base = guest_arg(CVMM_DIRTY_ARG_BASE);
	uint64_t span = guest_arg(CVMM_DIRTY_ARG_SPAN);
	uint64_t count = guest_arg(CVMM_DIRTY_ARG_COUNT) & 0xffffffffu;
	uint64_t rounds = guest_arg(CVMM_DIRTY_ARG_COUNT) >> 32;
	uint64_t seed = guest_arg(CVMM_DIRTY_ARG_SEED);
	unsigned int n = guest_ncpus();

	if (!rounds)
		rounds = 1;
	if (!span || span > CVMM_DIRTY_MAX_SPAN || count > span || (base & 4095))
		return 0xbad;
	for (uint64_t r = 0; r < rounds; r++) {
		struct cvmm_dirty_round d = cvmm_dirty_round_init(seed, r, span);

		for (uint64_t i = cpu; i < count; i += n) {
			volatile uint64_t *p =
				(volatile uint64_t *)(base + cvmm_dirty_page(&d, i) * 4096);

			*p = cvmm_dirty_value(seed, r, i);
		}
		cpu_barrier(n);
		if (cpu == 0)
			outb(CVMM_GUEST_PORT_SYNC, (uint8_t)r);
		cpu_barrier(n);
	}
	if (cpu != 0)
		for (;;)
			cpu_relax();
	return 0;
}
