/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio-console driver at CPL3: sends arg 0 lines (default 1)
 * "virtio-console line N from the guest\n" on the transmit queue (queue 1)
 * and waits for each to be used. With arg 1 = 1 it then waits for input
 * on the receive queue (queue 0) and sends it back as "echo: INPUT".
 * Exit 0; 0x40 + step otherwise.
 */
#include "guest.h"
#include "virtio.h"

static int fail(int step, const char *what)
{
	guest_printf("virtio-console: FAIL %s\n", what);
	return 0x40 + step;
}

int guest_main(unsigned int cpu)
{
	uint64_t lines = guest_arg(0) ? guest_arg(0) : 1;
	struct virtio_dev dev;
	struct vq rx = { .desc = NULL }, tx = { .desc = NULL };
	char *buf;
	uint32_t id, len;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	if (virtio_find(VIRTIO_ID_CONSOLE, 0, &dev))
		return fail(0, "no virtio-console device");
	if (virtio_init(&dev, 0) || vq_setup(&dev, 0, &rx) || vq_setup(&dev, 1, &tx))
		return fail(1, "set-up");
	virtio_driver_ok(&dev);
	buf = virtio_alloc(4096);
	for (uint64_t i = 0; i < lines; i++) {
		int n = guest_snprintf(buf, 4096, "virtio-console line %lu from the guest\n",
				       (unsigned long)i);
		struct vbuf b = { (uint64_t)buf, (uint32_t)n, false };

		vq_submit(&tx, &b, 1);
		if (vq_wait(&tx, &id, &len, VIRTIO_SPINS))
			return fail(2, "transmit buffer not used");
	}
	guest_printf("virtio-console: %lu lines sent\n", (unsigned long)lines);
	if (guest_arg(1) == 1) {
		char *in = virtio_alloc(4096);
		struct vbuf r = { (uint64_t)in, 256, true };
		struct vbuf b = { (uint64_t)buf, 0, false };

		vq_submit(&rx, &r, 1);
		if (vq_wait(&rx, &id, &len, VIRTIO_SPINS * 4))
			return fail(3, "no input");
		if (len == 0 || len > 256)
			return fail(4, "bad input length");
		memcpy(buf, "echo: ", 6);
		memcpy(buf + 6, in, len);
		b.len = 6 + len;
		vq_submit(&tx, &b, 1);
		if (vq_wait(&tx, &id, &len, VIRTIO_SPINS))
			return fail(2, "transmit buffer not used");
	}
	return 0;
}
