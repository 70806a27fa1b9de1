/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest side of the pause/resume tests (tests/integration/test-vmm-pause):
 * every running vCPU loops over its own page (write a pattern, read it
 * back), an MMIO read whose value it checks and a port read that tells it
 * whether the host wants it to finish, so a pause lands at any of these
 * points, mid-exit included. Built twice: pause.img runs guest_main on
 * every vCPU; pause-hlt.img (-DPAUSE_HLT) parks the application processors
 * in HLT at CPL0 with interrupts on (no interrupt ever comes: they sit in
 * the kernel inside KVM_RUN) while the boot processor loops.
 * Exit 0x600d when every check held; 0xbad1 memory, 0xbad2 MMIO value.
 */
#include "guest.h"

#define PORT_CTL 0x510          /* read: 1 once the host wants us to finish */
#define MMIO_DEV 0xd0000000ull  /* reads return 0xc0de0000 | offset */
#define WORDS 512

#ifdef PAUSE_HLT
GUEST_IMAGE_FLAGS(CVMM_GUEST_F_ENTER_CPL0);
__asm__(".text\n"
	".globl cvmm_guest_start\n"
	"cvmm_guest_start:\n"
	"	test %rdi, %rdi\n"
	"	jz cvmm_guest_entry\n"
	"1:	sti\n"
	"	hlt\n"
	"	jmp 1b\n");
#endif

static uint64_t area[64][WORDS] __attribute__((aligned(4096)));
static uint32_t done;

int guest_main(unsigned int cpu)
{
	volatile uint64_t *mine = area[cpu % 64];
	unsigned int active = guest_ncpus();
	uint64_t iters = 0;

#ifdef PAUSE_HLT
	active = 1;
#endif
	while (inb(PORT_CTL) == 0) {
		uint32_t off = (uint32_t)(iters & 0xff) * 4;

		for (unsigned int i = 0; i < WORDS; i++)
			mine[i] = iters * WORDS + i + cpu;
		for (unsigned int i = 0; i < WORDS; i++)
			if (mine[i] != iters * WORDS + i + cpu)
				return 0xbad1;
		if (mmio_read32(MMIO_DEV + off) != (0xc0de0000u | off))
			return 0xbad2;
		iters++;
	}
	atomic_inc(&done);
	if (cpu != 0)
		for (;;)
			cpu_relax();
	while (atomic_load(&done) < active)
		cpu_relax();
	return 0x600d;
}
