/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hostile virtio-blk driver: hand-made chains the device must refuse
 * without touching the disk, then proof that the device (and the VMM)
 * still work: reset, set up again, read sector 0 and check the pattern
 * (virtio-blk-pattern.h, seed arg 1). Every bad request is a WRITE of 'E'
 * bytes to sector 0, so if the device ever executed one the host sees it.
 * arg 0 selects the case:
 *   1 descriptor loop (header -> data -> header ...)    NEEDS_RESET
 *   2 header in a device-writable descriptor             NEEDS_RESET
 *   3 sector beyond the end, and a range across the end  IOERR, device fine
 *   4 avail index 1000 ahead of the ring                 NEEDS_RESET
 *   5 head index outside the descriptor table            NEEDS_RESET
 *   6 data buffer outside guest RAM                      IOERR or NEEDS_RESET
 * Exit 0 on the expected outcome; 0x20 + step otherwise.
 */
#include "guest.h"
#include "virtio.h"
#include "virtio-blk.h"
#include "virtio-blk-pattern.h"


static struct virtio_dev dev;
static struct vq vq;
static struct blk_hdr *hdr;
static uint8_t *data;
static volatile uint8_t *status;

static int fail(int step, const char *what)
{
	guest_printf("virtio-blk-hostile: FAIL %s (status %x)\n", what, virtio_status(&dev));
	return 0x20 + step;
}

static int setup(void)
{
	if (virtio_init(&dev, 0) || vq_setup(&dev, 0, &vq))
		return -1;
	virtio_driver_ok(&dev);
	return 0;
}

static void set_desc(unsigned int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc *d = &vq_desc(&vq)[i];

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static unsigned int request(uint32_t type, uint64_t sector, uint32_t nsec)
{
	return blk_request(&vq, hdr, data, status, type, sector, nsec);
}

/* After a NEEDS_RESET: the device must come back to a working state. */
static int recover_and_read(uint64_t seed)
{
	if (virtio_reset(&dev))
		return fail(10, "reset after NEEDS_RESET did not finish");
	if (setup())
		return fail(11, "set-up after reset");
	if (request(T_IN, 0, 1) != S_OK)
		return fail(12, "read after recovery");
	for (uint32_t i = 0; i < 512; i++)
		if (data[i] != vblk_pattern(0, i, seed))
			return fail(13, "sector 0 changed");
	guest_printf("virtio-blk-hostile: device works again, sector 0 intact\n");
	return 0;
}

static int expect_needs_reset(const char *what, uint64_t seed)
{
	if (virtio_wait_status(&dev, VIRTIO_S_NEEDS_RESET, VIRTIO_SPINS))
		return fail(2, what);
	guest_printf("virtio-blk-hostile: %s: DEVICE_NEEDS_RESET\n", what);
	return recover_and_read(seed);
}

int guest_main(unsigned int cpu)
{
	uint64_t which = guest_arg(0), seed = guest_arg(1), cap;
	uint32_t id, len;
	unsigned int st;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	if (virtio_find(VIRTIO_ID_BLOCK, 0, &dev))
		return fail(0, "no virtio-blk device");
	if (setup())
		return fail(1, "set-up");
	hdr = virtio_alloc(4096);
	status = virtio_alloc(4096);
	data = virtio_alloc(4096);
	cap = virtio_config_read(&dev, 0, 8);
	memset(data, 'E', 4096);
	hdr->type = T_OUT;
	hdr->sector = 0;
	*status = 0xff;

	switch (which) {
	case 1:
		set_desc(0, (uint64_t)hdr, sizeof(*hdr), VRING_DESC_F_NEXT, 1);
		set_desc(1, (uint64_t)data, 512, VRING_DESC_F_NEXT, 0);
		vq_publish(&vq, 0);
		return expect_needs_reset("descriptor loop", seed);
	case 2:
		set_desc(0, (uint64_t)hdr, sizeof(*hdr), VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
		set_desc(1, (uint64_t)data, 512, VRING_DESC_F_NEXT, 2);
		set_desc(2, (uint64_t)status, 1, VRING_DESC_F_WRITE, 0);
		vq_publish(&vq, 0);
		return expect_needs_reset("header in a writable descriptor", seed);
	case 3:
		st = request(T_OUT, cap, 1);
		if (st != S_IOERR)
			return fail(3, "a write past the end did not get IOERR");
		st = request(T_OUT, cap - 1, 2);
		if (st != S_IOERR)
			return fail(4, "a write across the end did not get IOERR");
		st = request(T_IN, ~0ull - 1, 4);
		if (st != S_IOERR)
			return fail(5, "a read at sector 2^64-2 did not get IOERR");
		if (virtio_status(&dev) & VIRTIO_S_NEEDS_RESET)
			return fail(6, "answerable requests broke the device");
		guest_printf("virtio-blk-hostile: out-of-range sectors: IOERR\n");
		return request(T_IN, 0, 1) == S_OK ? recover_and_read(seed) : fail(7, "read");
	case 4:
		set_desc(0, (uint64_t)hdr, sizeof(*hdr), VRING_DESC_F_NEXT, 1);
		set_desc(1, (uint64_t)data, 512, VRING_DESC_F_NEXT, 2);
		set_desc(2, (uint64_t)status, 1, VRING_DESC_F_WRITE, 0);
		vq.avail->ring[0] = 0;
		vq.avail->idx = 1000;
		virtio_write(&dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		return expect_needs_reset("avail index ahead of the ring", seed);
	case 5:
		vq_publish(&vq, 200);
		return expect_needs_reset("head outside the table", seed);
	case 6:
		set_desc(0, (uint64_t)hdr, sizeof(*hdr), VRING_DESC_F_NEXT, 1);
		set_desc(1, 0xf0000000ull, 512, VRING_DESC_F_NEXT, 2);
		set_desc(2, (uint64_t)status, 1, VRING_DESC_F_WRITE, 0);
		vq_publish(&vq, 0);
		for (uint64_t i = 0; i < VIRTIO_SPINS; i++) {
			if (virtio_status(&dev) & VIRTIO_S_NEEDS_RESET)
				return expect_needs_reset("data outside RAM", seed);
			if (vq.used->idx != 0)
				break;
			cpu_relax();
		}
		if (vq_wait(&vq, &id, &len, 1) || *status != S_IOERR)
			return fail(8, "data outside RAM: neither IOERR nor NEEDS_RESET");
		guest_printf("virtio-blk-hostile: data outside RAM: IOERR\n");
		return recover_and_read(seed);
	default:
		return fail(9, "unknown case (arg 0)");
	}
}
