/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio-rng driver at CPL3: two requests of arg 0 bytes (default 64,
 * at most 4096); each must come back filled (used length = the size asked),
 * not all zero, and the two must differ. Exit 0; 0x30 + step otherwise.
 * With arg 1 = an I/O APIC pin, that pin is routed to vector 0x41 first
 * and the used-buffer interrupt (the VMM's irqfd) must show up there: in
 * the LAPIC IRR (IF stays 0 at CPL3, so it stays pending) and as the used
 * bit of InterruptStatus; 0x37 when it does not.
 */
#include "guest.h"
#include "virtio.h"

static int fail(int step, const char *what)
{
	guest_printf("virtio-rng: FAIL %s\n", what);
	return 0x30 + step;
}

int guest_main(unsigned int cpu)
{
	uint64_t n = guest_arg(0) ? guest_arg(0) : 64;
	struct virtio_dev dev;
	struct vq vq = { .desc = NULL };
	uint64_t pin = guest_arg(1);
	uint8_t *buf[2];
	uint32_t id, len;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	if (n > 4096)
		return fail(0, "arg 0 above 4096");
	if (virtio_find(VIRTIO_ID_RNG, 0, &dev))
		return fail(1, "no virtio-rng device");
	if (virtio_init(&dev, 0) || vq_setup(&dev, 0, &vq))
		return fail(2, "set-up");
	if (pin) {
		if (pin > 23)
			return fail(0, "arg 1 is not an I/O APIC pin");
		legacy_pic_mask();
		lapic_enable();
		ioapic_route((unsigned int)pin, 0x41, lapic_id());
	}
	virtio_driver_ok(&dev);
	for (int r = 0; r < 2; r++) {
		struct vbuf b = { 0, (uint32_t)n, true };
		bool nonzero = false;

		buf[r] = virtio_alloc(4096);
		b.addr = (uint64_t)buf[r];
		vq_submit(&vq, &b, 1);
		if (vq_wait(&vq, &id, &len, VIRTIO_SPINS))
			return fail(3, "no answer");
		if (len != n)
			return fail(4, "short answer");
		for (uint64_t i = 0; i < n; i++)
			nonzero |= buf[r][i] != 0;
		if (!nonzero)
			return fail(5, "all zero");
		if (pin && r == 0) {
			uint32_t isr = 0;
			bool seen = false;

			for (int i = 0; i < 200000 && !seen; i++) {
				seen = lapic_irr_pending(0x41);
				cpu_relax();
			}
			isr = virtio_read(&dev, VIRTIO_MMIO_INTERRUPT_STATUS);
			if (!seen || !(isr & 1))
				return fail(7, "no used-buffer interrupt on that pin");
			virtio_write(&dev, VIRTIO_MMIO_INTERRUPT_ACK, isr);
			guest_printf("virtio-rng: interrupt on pin %lu (vector 0x41 pending, ISR %x)\n",
				     (unsigned long)pin, isr);
		}
	}
	if (n >= 8 && !memcmp(buf[0], buf[1], n))
		return fail(6, "two reads gave the same bytes");
	guest_printf("virtio-rng: %lu random bytes twice: %x %x %x %x ...\n", (unsigned long)n,
		     buf[0][0], buf[0][1], buf[0][2], buf[0][3]);
	return 0;
}
