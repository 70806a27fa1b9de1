/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prints a greeting on the serial port and exits 0. With args[0] non-zero
 * it stays up instead (the API tests drive it): it fills a buffer with a
 * pattern and re-checks it for ever; a changed byte prints a line and
 * exits 0xbad.
 */
#include "guest.h"

static uint64_t area[8192] __attribute__((aligned(4096)));

static int guest_stay_up(void)
{
	for (unsigned int i = 0; i < 8192; i++)
		area[i] = i * 0x9e3779b97f4a7c15ull;
	guest_printf("guest: staying up, checking memory\n");
	for (;;)
		for (unsigned int i = 0; i < 8192; i++)
			if (((volatile uint64_t *)area)[i] != i * 0x9e3779b97f4a7c15ull) {
				guest_printf("guest: memory changed at word %u\n", i);
				return 0xbad;
			}
}

int guest_main(unsigned int cpu)
{
	if (cpu != 0)
		for (;;)
			cpu_relax();
	guest_printf("Hello from a cvmm test guest: cpu %u of %u, CPL%u\n", cpu,
		     guest_ncpus(), current_cpl());
	if (guest_arg(0))
		return guest_stay_up();
	return 0;
}
