/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest side of the snapshot tests (tests/microvm/snapshot.sh): each
 * vCPU (up to 8) owns a slice of [32 MiB, 32 MiB + args[0] MiB) (default
 * 8 MiB) and forever checks that its slice holds the previous round's
 * pattern, then writes the next one. A snapshot and restore that lost,
 * mixed up or zeroed a page, or a vCPU's registers, is caught at the next
 * round: "MISMATCH" on COM1 and exit 0xb1. vCPU 0 prints "round N" every
 * 16 rounds, so the host sees the guest go on after a restore (N keeps
 * counting from where it was). With args[1] = H, only the first H MiB
 * (split between the vCPUs as well) keep changing; the rest keeps round
 * 0's pattern and is only read (so clones restored Shared can share it).
 * args[2] = P prints every P rounds instead of 16 (benchmarks time the
 * guest's next line after a restore).
 */
#include "guest.h"

#define BASE (32ull << 20)

static uint64_t pattern(unsigned int cpu, uint64_t round, uint64_t i)
{
	return (round << 32) ^ ((uint64_t)cpu << 24) ^ (i * 0x9e3779b97f4a7c15ull);
}

int guest_main(unsigned int cpu)
{
	uint64_t mib = guest_arg(0) ? guest_arg(0) : 8;
	unsigned int n = guest_ncpus() < 8 ? guest_ncpus() : 8;
	uint64_t words = (mib << 20) / 8 / n;
	uint64_t hot = guest_arg(1) ? (guest_arg(1) << 20) / 8 / n : words;
	uint64_t every = guest_arg(2) ? guest_arg(2) : 16;
	volatile uint64_t *mine = (volatile uint64_t *)(BASE + cpu * words * 8);

	if (cpu >= 8)
		for (;;)
			cpu_relax();
	for (uint64_t i = 0; i < words; i++)
		mine[i] = pattern(cpu, 0, i);
	for (uint64_t r = 0;; r++) {
		if (hot > words)
			hot = words;
		for (uint64_t i = 0; i < words; i++)
			if (mine[i] != pattern(cpu, i < hot ? r : 0, i)) {
				guest_printf("MISMATCH cpu %u round %lu word %lu\n", cpu, r, i);
				return 0xb1;
			}
		for (uint64_t i = 0; i < hot; i++)
			mine[i] = pattern(cpu, r + 1, i);
		if (cpu == 0 && r % every == 0)
			guest_printf("round %lu\n", r);
	}
}
