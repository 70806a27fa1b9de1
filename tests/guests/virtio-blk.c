/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio-blk driver at CPL3 over the first disk (virtio-blk-pattern.h).
 * args: 0 mode, 1 first sector, 2 sectors, 3 pattern seed.
 *   arg 0 above 0xff: bits 8 and up are a PCI BAR window (from the VMM's
 *   "pci: segment 0" line): the disk is looked for on PCI bus 0 instead
 *   (virtio_find_pci), the mode is the low byte
 *   mode 1 read:  read the sectors (8 per request), compare with the pattern
 *   mode 2 write: write the pattern to them, read back and compare
 *   mode 3 ro:    the device offers VIRTIO_BLK_F_RO; a write gets IOERR,
 *                 a read still works
 *   mode 4 count: N one-sector reads of the first sector, one at a time
 *                 (the host times them against a rate limit)
 *   mode 5 until: mode 2 one sector at a time, round and round the sectors
 *                 until a byte arrives on the serial port (after one pass at
 *                 least), so a test can stop the guest at a moment of its
 *                 choosing (the backend died and came back) however fast
 *                 it runs
 * Exit 0 on success; 0x10 + step on a failure (printed).
 */
#include "guest.h"
#include "virtio.h"
#include "virtio-blk.h"
#include "virtio-blk-pattern.h"

#define F_RO (1ull << 5)
#define PER_REQ 8u

static struct virtio_dev dev;
static struct vq vq;
static struct blk_hdr *hdr;
static uint8_t *data;
static volatile uint8_t *status;

static int fail(int step, const char *what)
{
	guest_printf("virtio-blk: FAIL %s\n", what);
	return 0x10 + step;
}

static unsigned int request(uint32_t type, uint64_t sector, uint32_t nsec)
{
	return blk_request(&vq, hdr, data, status, type, sector, nsec);
}

static bool check(uint64_t sector, uint32_t nsec, uint64_t seed)
{
	for (uint32_t s = 0; s < nsec; s++)
		for (uint32_t i = 0; i < 512; i++)
			if (data[s * 512 + i] != vblk_pattern(sector + s, i, seed)) {
				guest_printf("virtio-blk: sector %lu byte %u is %x, expected %x\n",
					     (unsigned long)(sector + s), i, data[s * 512 + i],
					     vblk_pattern(sector + s, i, seed));
				return false;
			}
	return true;
}

int guest_main(unsigned int cpu)
{
	uint64_t mode = guest_arg(0) & 0xff, first = guest_arg(1), count = guest_arg(2);
	uint64_t pci_window = guest_arg(0) & ~0xffull;
	uint64_t seed = guest_arg(3), cap;
	unsigned int st;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	if (pci_window ? virtio_find_pci(VIRTIO_ID_BLOCK, 0, pci_window, &dev) :
			 virtio_find(VIRTIO_ID_BLOCK, 0, &dev))
		return fail(0, "no virtio-blk device");
	if (pci_window)
		guest_printf("virtio-blk: on PCI, BAR 0 at %lx\n", (unsigned long)dev.base);
	if (virtio_init(&dev, F_RO))
		return fail(1, "feature negotiation");
	if (vq_setup(&dev, 0, &vq))
		return fail(2, "queue setup");
	virtio_driver_ok(&dev);
	hdr = virtio_alloc(4096);
	status = virtio_alloc(4096);
	data = virtio_alloc(PER_REQ * 512);
	cap = virtio_config_read(&dev, 0, 8);
	guest_printf("virtio-blk: capacity %lu sectors%s\n", (unsigned long)cap,
		     dev.features & F_RO ? ", read-only" : "");
	if (mode != 4 && (first > cap || count > cap - first))
		return fail(3, "sectors beyond the capacity");

	switch (mode) {
	case 1:
	case 2:
		for (uint64_t s = first; s < first + count; s += PER_REQ) {
			uint32_t n = (uint32_t)(first + count - s < PER_REQ ? first + count - s : PER_REQ);

			if (mode == 2) {
				for (uint32_t k = 0; k < n * 512; k++)
					data[k] = vblk_pattern(s + k / 512, k % 512, seed);
				if (request(T_OUT, s, n) != S_OK)
					return fail(4, "write");
				memset(data, 0, n * 512);
			}
			if (request(T_IN, s, n) != S_OK)
				return fail(5, "read");
			if (!check(s, n, seed))
				return fail(6, "content");
		}
		guest_printf("virtio-blk: %s %lu sectors ok\n", mode == 1 ? "read" : "wrote",
			     (unsigned long)count);
		return 0;
	case 3:
		if (!(dev.features & F_RO))
			return fail(7, "VIRTIO_BLK_F_RO not offered");
		memset(data, 'W', 512);
		st = request(T_OUT, first, 1);
		if (st != S_IOERR)
			return fail(8, "a write to a read-only disk did not get IOERR");
		if (request(T_IN, first, 1) != S_OK || !check(first, 1, seed))
			return fail(9, "read from the read-only disk");
		guest_printf("virtio-blk: read-only honoured\n");
		return 0;
	case 4:
		for (uint64_t i = 0; i < count; i++)
			if (request(T_IN, first, 1) != S_OK)
				return fail(10, "read");
		guest_printf("virtio-blk: %lu requests done\n", (unsigned long)count);
		return 0;
	case 5:
		if (!count || first > cap || count > cap - first)
			return fail(3, "sectors beyond the capacity");
		guest_printf("virtio-blk: writing until serial input\n");
		for (uint64_t i = 1;; i++) {
			uint64_t s = first + (i - 1) % count;

			for (uint32_t k = 0; k < 512; k++)
				data[k] = vblk_pattern(s, k, seed);
			if (request(T_OUT, s, 1) != S_OK)
				return fail(4, "write");
			memset(data, 0, 512);
			if (request(T_IN, s, 1) != S_OK)
				return fail(5, "read");
			if (!check(s, 1, seed))
				return fail(6, "content");
			/* Polling the LSR is a port exit; once in 64 rounds is plenty.
			 * At least one pass over the sectors, so the host can check
			 * every one of them. */
			if (i >= count && !(i % 64) && (inb(0x3f8 + 5) & 1)) {
				(void)inb(0x3f8);
				guest_printf("virtio-blk: %lu sectors written and read back, "
					     "stopped by the host\n", (unsigned long)i);
				return 0;
			}
		}
	default:
		return fail(11, "unknown mode (arg 0)");
	}
}
