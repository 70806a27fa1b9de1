/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio-mem driver at CPL3 (virtio-mmio, or PCI with arg 2 = a BAR
 * window as the balloon guest): read the config (block size, region,
 * requested size), send hostile requests first (a plug past requested_size,
 * an unaligned plug, one past the region, an unplug of unplugged blocks:
 * NACK and ERROR, nothing plugged), say so; wait for requested_size to
 * reach arg 0 bytes (default 64 MiB: the host's vm.resize desired_ram),
 * plug that much 8 blocks a request, write and read back every page of it,
 * say so; wait for requested_size 0, check every page still holds what was
 * written (a snapshot or migration in between must keep it), unplug the
 * first half block by block
 * and the rest with UNPLUG_ALL, check the state, say so; wait for a
 * requested_size again (the host's "measured" signal) and exit 0.
 * The boot page tables map the region (they cover every region).
 * Exit 0; 0x70 + step otherwise.
 */
#include "guest.h"
#include "virtio.h"

#define VIRTIO_ID_MEM 24u
enum { PLUG, UNPLUG, UNPLUG_ALL, STATE };
enum { ACK, NACK, BUSY, ERROR };
enum { PLUGGED, UNPLUGGED, MIXED };

static struct virtio_dev dev;
static struct vq q = { .desc = NULL };
static uint8_t *req, *resp;

static int fail(int step, const char *what)
{
	guest_printf("virtio-mem: FAIL %s\n", what);
	return 0x70 + step;
}

static uint64_t cfg(uint32_t off)
{
	return virtio_config_read(&dev, off, 8);
}

/* One request; @return the response type (0xff: no answer), *@state. */
static unsigned int request(unsigned int type, uint64_t addr, uint16_t n, unsigned int *state)
{
	struct vbuf b[2] = { { (uint64_t)req, 24, false }, { (uint64_t)resp, 10, true } };
	uint32_t id, len;

	memset(req, 0, 24);
	memset(resp, 0xff, 10);
	req[0] = (uint8_t)type;
	memcpy(req + 8, &addr, 8);
	memcpy(req + 16, &n, 2);
	vq_submit(&q, b, 2);
	if (vq_wait(&q, &id, &len, VIRTIO_SPINS) || len != 10)
		return 0xff;
	if (state)
		*state = resp[8] | resp[9] << 8;
	return resp[0] | resp[1] << 8;
}

int guest_main(unsigned int cpu)
{
	uint64_t want = guest_arg(0) ? guest_arg(0) : 64ull << 20;
	uint64_t bs, base, size, nb;
	unsigned int st = 0xffff;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	if (guest_arg(2) ? virtio_find_pci(VIRTIO_ID_MEM, 0, guest_arg(2), &dev) :
			   virtio_find(VIRTIO_ID_MEM, 0, &dev))
		return fail(1, "no virtio-mem device");
	if (virtio_init(&dev, 0) || vq_setup(&dev, 0, &q))
		return fail(2, "set-up");
	virtio_driver_ok(&dev);
	req = virtio_alloc(4096);
	resp = req + 2048;
	bs = cfg(0);
	base = cfg(16);
	size = cfg(24);
	guest_printf("virtio-mem: block %lu KiB, region 0x%lx +%lu MiB, usable %lu MiB, "
		     "plugged %lu, requested %lu\n", (unsigned long)(bs >> 10),
		     (unsigned long)base, (unsigned long)(size >> 20),
		     (unsigned long)(cfg(32) >> 20), (unsigned long)cfg(40),
		     (unsigned long)cfg(48));
	if (!bs || bs & (bs - 1) || base % bs || size % bs || want % bs || want > size ||
	    cfg(40) != 0 || base < (4ull << 30))
		return fail(3, "config space");
	nb = want / bs;

	/* Hostile requests: refused, nothing plugged. */
	if (request(PLUG, base, (uint16_t)(size / bs + 1 > 0xffff ? 0xffff : size / bs + 1), NULL) !=
	    ERROR ||
	    request(PLUG, base + 4096, 1, NULL) != ERROR ||
	    request(PLUG, base + size, 1, NULL) != ERROR ||
	    request(PLUG, base - bs, 1, NULL) != ERROR ||
	    request(UNPLUG, base, 1, NULL) != ERROR ||
	    (cfg(48) == 0 && request(PLUG, base, 1, NULL) != NACK) ||
	    request(STATE, base, (uint16_t)(size / bs > 0xffff ? 0xffff : size / bs), &st) != ACK ||
	    st != UNPLUGGED || cfg(40) != 0)
		return fail(4, "a hostile request was not refused");
	guest_printf("virtio-mem: hostile requests refused\n");

	while (cfg(48) < want)
		cpu_relax();
	for (uint64_t b = 0; b < nb; b += 8) {
		uint16_t k = (uint16_t)(nb - b < 8 ? nb - b : 8);

		if (request(PLUG, base + b * bs, k, NULL) != ACK)
			return fail(5, "plug refused");
	}
	if (cfg(40) != want || request(STATE, base, (uint16_t)nb, &st) != ACK || st != PLUGGED)
		return fail(5, "plugged_size or state after plugging");
	if (cfg(48) == want && request(PLUG, base + want, 1, NULL) != NACK && want < size)
		return fail(5, "a plug past requested_size was not refused");
	for (uint64_t o = 0; o < want; o += 4096)
		*(volatile uint64_t *)(base + o) = 0x6d656d0000000000ull + o;
	for (uint64_t o = 0; o < want; o += 4096)
		if (*(volatile uint64_t *)(base + o) != 0x6d656d0000000000ull + o)
			return fail(6, "plugged memory does not keep what was written");
	guest_printf("virtio-mem: plugged %lu MiB, written and read back\n",
		     (unsigned long)(want >> 20));

	while (cfg(48) != 0)
		cpu_relax();
	/* (a snapshot or a migration may have happened meanwhile) */
	for (uint64_t o = 0; o < want; o += 4096)
		if (*(volatile uint64_t *)(base + o) != 0x6d656d0000000000ull + o)
			return fail(7, "plugged memory lost what was written");
	for (uint64_t b = 0; b < nb / 2; b++)
		if (request(UNPLUG, base + b * bs, 1, NULL) != ACK)
			return fail(7, "unplug refused");
	if (request(UNPLUG, base, 1, NULL) != ERROR)
		return fail(7, "an unplug of an unplugged block was not refused");
	if (nb > 1 && (request(STATE, base, (uint16_t)nb, &st) != ACK || st != MIXED))
		return fail(7, "state after half the unplugs");
	if (request(UNPLUG_ALL, 0, 0, NULL) != ACK || cfg(40) != 0 ||
	    request(STATE, base, (uint16_t)nb, &st) != ACK || st != UNPLUGGED)
		return fail(8, "unplug_all");
	guest_printf("virtio-mem: unplugged all\n");
	while (cfg(48) == 0)
		cpu_relax();
	return 0;
}
