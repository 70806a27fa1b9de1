/* SPDX-License-Identifier: Apache-2.0 */
/* Prints a greeting on the serial port and exits 0. */
#include "guest.h"

int guest_main(unsigned int cpu)
{
	if (cpu != 0)
		for (;;)
			cpu_relax();
	guest_printf("Hello from a cvmm test guest: cpu %u of %u, CPL%u\n", cpu,
		     guest_ncpus(), current_cpl());
	return 0;
}
