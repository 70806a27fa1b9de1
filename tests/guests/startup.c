/* SPDX-License-Identifier: Apache-2.0 */
/*
 * For start-up timing: the very first instruction writes the marker port
 * (the VMM timestamps that exit), then the runtime starts and vCPU 0 exits
 * with 0 at once.
 */
#include "guest.h"

__asm__(".section .text.first, \"ax\"\n"
	".globl cvmm_guest_start\n"
	"cvmm_guest_start:\n"
	"	outb %al, $0xf8\n"
	"	jmp cvmm_guest_entry\n"
	".previous\n");
_Static_assert(CVMM_GUEST_PORT_MARKER == 0xf8, "marker port in the entry stub");

int guest_main(unsigned int cpu)
{
	if (cpu != 0)
		for (;;)
			cpu_relax();
	return 0;
}
