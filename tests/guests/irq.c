/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Waits for one interrupt injected through irqfd and exits with
 * 0x100 | vector when its IDT handler ran (0x200 | vector when it was only
 * seen pending in the LAPIC IRR), proving which vector arrived.
 *   args[0]: I/O APIC pin to route (the irqfd's GSI), or ~0 when the VMM
 *            routes the GSI as an MSI itself;
 *   args[1]: the vector to expect (32..255);
 *   args[2]: 1 = also poll the LAPIC IRR (MMIO reads) while waiting.
 * The runtime drops to CPL3 with IF=1 and its IDT loaded (the image enters
 * at CPL0); STI/CLI at CPL3 are not usable under PVM (see docs).
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
	legacy_pic_mask();
	lapic_enable();
	if (pin != ~0ull)
		ioapic_route((unsigned int)pin, vector, lapic_id());
	guest_set_irq_handler(on_irq);
	outb(CVMM_GUEST_PORT_SYNC, 1);
	for (uint64_t i = 0; i < (1ull << 32); i++) {
		if (got_vector)
			return 0x100 | (int)got_vector;
		if (poll && lapic_irr_pending(vector))
			return 0x200 | (int)vector;
		cpu_relax();
	}
	return 0xdead;
}
