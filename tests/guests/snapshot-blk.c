/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest of tests/microvm/snapshot-blk.sh: virtio-blk I/O that never
 * stops, so a snapshot catches requests in flight. Over the first args[0]
 * sectors (default 64) of the first disk, pass after pass, QD requests at a
 * time (all submitted before any is waited for): read a batch and check it
 * holds the previous pass (zeros before the first), write this pass, read
 * it back and check it. Each sector describes itself (snapshot-blk.h), so
 * the host can check the file too. "blk pass N" every 16 passes on COM1;
 * "MISMATCH ..." and exit 0xb1 on a wrong sector, exit 0x10 + step on a
 * failed request. A byte on the serial port stops it after the pass it is
 * in: "blk stopped after pass N", exit 0 (the file then holds pass N
 * everywhere).
 */
#include "guest.h"
#include "virtio.h"
#include "virtio-blk.h"
#include "snapshot-blk.h"

#define QD 4u

static struct virtio_dev dev;
static struct vq vq;
static struct blk_hdr *hdr[QD];
static volatile uint8_t *status[QD];
static uint64_t *buf[QD];

/* @n requests of one sector from @sector on, all in flight at once. */
static int batch(uint32_t type, uint64_t sector, unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		struct vbuf b[3] = {
			{ (uint64_t)hdr[k], sizeof(*hdr[k]), false },
			{ (uint64_t)buf[k], SNAPBLK_SECTOR, type == T_IN },
			{ (uint64_t)status[k], 1, true },
		};

		hdr[k]->type = type;
		hdr[k]->reserved = 0;
		hdr[k]->sector = sector + k;
		*status[k] = 0xff;
		vq_submit(&vq, b, 3);
	}
	for (unsigned int k = 0; k < n; k++) {
		uint32_t id, len;

		if (vq_wait(&vq, &id, &len, VIRTIO_SPINS))
			return -1;
	}
	for (unsigned int k = 0; k < n; k++)
		if (*status[k] != S_OK)
			return -1;
	return 0;
}

static bool check(uint64_t pass, uint64_t sector, unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		int w = snapblk_check(buf[k], pass, sector + k);

		if (w >= 0) {
			guest_printf("MISMATCH pass %lu sector %lu word %d: %lx\n", (unsigned long)pass,
				     (unsigned long)(sector + k), w, (unsigned long)buf[k][w]);
			return false;
		}
	}
	return true;
}

int guest_main(unsigned int cpu)
{
	uint64_t sectors = guest_arg(0) ? guest_arg(0) : 64;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	if (virtio_find(VIRTIO_ID_BLOCK, 0, &dev) || virtio_init(&dev, 0) || vq_setup(&dev, 0, &vq))
		return 0x10;
	virtio_driver_ok(&dev);
	for (unsigned int k = 0; k < QD; k++) {
		hdr[k] = virtio_alloc(4096);
		status[k] = virtio_alloc(4096);
		buf[k] = virtio_alloc(4096);
	}
	if (virtio_config_read(&dev, 0, 8) < sectors)
		return 0x11;
	guest_printf("blk: %lu sectors, %u requests at a time\n", (unsigned long)sectors, QD);
	for (uint64_t pass = 1;; pass++) {
		for (uint64_t s = 0; s < sectors; s += QD) {
			unsigned int n = sectors - s < QD ? (unsigned int)(sectors - s) : QD;

			if (batch(T_IN, s, n))
				return 0x12;
			if (!check(pass - 1, s, n))
				return 0xb1;
			for (unsigned int k = 0; k < n; k++)
				snapblk_fill(buf[k], pass, s + k);
			if (batch(T_OUT, s, n))
				return 0x13;
			for (unsigned int k = 0; k < n; k++)
				for (unsigned int i = 0; i < SNAPBLK_WORDS; i++)
					buf[k][i] = 0;
			if (batch(T_IN, s, n))
				return 0x14;
			if (!check(pass, s, n))
				return 0xb1;
		}
		if (pass % 16 == 0)
			guest_printf("blk pass %lu\n", (unsigned long)pass);
		if (inb(0x3f8 + 5) & 1) {
			(void)inb(0x3f8);
			guest_printf("blk stopped after pass %lu\n", (unsigned long)pass);
			return 0;
		}
	}
}
