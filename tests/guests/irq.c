/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Waits for one interrupt injected through irqfd and exits with
 * 0x100 | vector, proving which vector arrived.
 *   args[0]: I/O APIC pin to route (the irqfd's GSI), or ~0 when the VMM
 *            routes the GSI as an MSI itself;
 *   args[1]: the vector to expect (32..255);
 *   args[2]: 0 = take the interrupt through the IDT (CPL0 stub, IF=1 at
 *            CPL3), 1 = keep IF=0 and poll the LAPIC IRR.
 * When ready, vCPU 0 writes 1 to the sync port: the VMM fires the irqfd then.
 * Exit 0xdead when nothing arrives within ~2^32 polls.
 */
#include "guest.h"

GUEST_IMAGE_FLAGS(CVMM_GUEST_F_ENTER_CPL0);

static volatile uint32_t got_vector;

static void on_irq(unsigned int vector)
{
	got_vector = vector;
}

int guest_main(unsigned int cpu)
{
	uint64_t pin = guest_arg(0);
	unsigned int vector = (unsigned int)guest_arg(1);
	bool poll = guest_arg(2) == 1;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	if (vector < 32 || vector > 255)
		return 0xbad;
	lapic_enable();
	if (pin != ~0ull)
		ioapic_route((unsigned int)pin, vector, lapic_id());
	guest_set_irq_handler(on_irq);
	if (!poll)
		irq_enable();
	outb(CVMM_GUEST_PORT_SYNC, 1);
	for (uint64_t i = 0; i < (1ull << 32); i++) {
		if (poll) {
			if (lapic_irr_pending(vector))
				return 0x100 | (int)vector;
		} else if (got_vector) {
			return 0x100 | (int)got_vector;
		}
		cpu_relax();
	}
	return 0xdead;
}
