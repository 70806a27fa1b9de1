/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Triple-faults on purpose, at CPL3. The VMM enters with an empty IDT
 * (limit 0), so the #UD below cannot be delivered: #UD -> #GP -> #DF ->
 * shutdown (KVM_EXIT_SHUTDOWN).
 */
#include "guest.h"

int guest_main(unsigned int cpu)
{
	if (cpu != 0)
		for (;;)
			cpu_relax();
	guest_printf("fault guest: about to triple-fault at CPL%u\n", current_cpl());
	__asm__ volatile("ud2");
	return 0x55; /* not reached: the VM is dead */
}
