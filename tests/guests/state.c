/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest side of the whole-VM state tests (tests/integration/
 * test-vmm-state): each vCPU keeps a 64 KiB area holding a pattern of its
 * round number, and at every round first checks that the area still holds
 * the previous round's pattern, then writes the next. A save and restore
 * that lost or mixed up a page, or a vCPU's registers, is caught at the
 * next round. It also prints its rounds on COM1 (the serial model's state
 * travels too) and runs until the host's port says finish.
 * Exit (debug-exit port, one byte): 0x5a ok, 0xb1 memory, 0xb2 counter.
 */
#include "guest.h"

#define PORT_CTL 0x510
#define WORDS (64 * 1024 / 8)

static uint64_t area[8][WORDS] __attribute__((aligned(4096)));
static uint64_t rounds[8];
static uint32_t done;

static uint64_t pattern(unsigned int cpu, uint64_t round, unsigned int i)
{
	return (round << 32) ^ ((uint64_t)cpu << 24) ^ (i * 0x9e3779b97f4a7c15ull);
}

int guest_main(unsigned int cpu)
{
	volatile uint64_t *mine = area[cpu % 8];
	unsigned int n = guest_ncpus() < 8 ? guest_ncpus() : 8;

	if (cpu >= 8)
		for (;;)
			cpu_relax();
	for (unsigned int i = 0; i < WORDS; i++)
		mine[i] = pattern(cpu, 0, i);
	while (inb(PORT_CTL) == 0) {
		uint64_t r = rounds[cpu];

		for (unsigned int i = 0; i < WORDS; i++)
			if (mine[i] != pattern(cpu, r, i))
				return 0xb1;
		for (unsigned int i = 0; i < WORDS; i++)
			mine[i] = pattern(cpu, r + 1, i);
		if (rounds[cpu] != r)
			return 0xb2;
		rounds[cpu] = r + 1;
		if (cpu == 0 && (r & 0xff) == 0)
			guest_printf("round %lu\n", r);
	}
	atomic_inc(&done);
	if (cpu != 0)
		for (;;)
			cpu_relax();
	while (atomic_load(&done) < n)
		cpu_relax();
	guest_printf("rounds %lu\n", rounds[0]);
	return 0x5a;
}
