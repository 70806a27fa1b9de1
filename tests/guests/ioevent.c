/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exercises ioeventfd: writes the matching value args[2] to port args[0]
 * and to MMIO address args[1], args[3] times each, with one non-matching
 * write (args[2] + 1) before each burst that the VMM must see as an
 * ordinary exit. A zero port or address skips that half. Exits 0.
 */
#include "guest.h"

int guest_main(unsigned int cpu)
{
	uint16_t port = (uint16_t)guest_arg(0);
	uint64_t mmio = guest_arg(1);
	uint32_t match = (uint32_t)guest_arg(2);
	uint64_t count = guest_arg(3);

	if (cpu != 0)
		for (;;)
			cpu_relax();
	if (port) {
		outl(port, match + 1);
		for (uint64_t i = 0; i < count; i++)
			outl(port, match);
	}
	if (mmio) {
		mmio_write32(mmio, match + 1);
		for (uint64_t i = 0; i < count; i++)
			mmio_write32(mmio, match);
	}
	return 0;
}
