/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Triple-faults at CPL0: the image enters at CPL0 and its own first
 * instructions load an empty IDT and execute UD2, before the runtime would
 * load its IDT and drop to CPL3.
 */
#include "guest.h"

GUEST_IMAGE_FLAGS(CVMM_GUEST_F_ENTER_CPL0);

__asm__(".section .text.first, \"ax\"\n"
	".globl cvmm_guest_start\n"
	"cvmm_guest_start:\n"
	"	lidt fault_empty_idtr\n"
	"	ud2\n"
	"	jmp cvmm_guest_entry\n" /* keeps the runtime linked; not reached */
	".previous\n");

struct idtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));
extern const struct idtr fault_empty_idtr;
const struct idtr fault_empty_idtr = { 0, 0 };

int guest_main(unsigned int cpu)
{
	return 0x55; /* not reached */
}
