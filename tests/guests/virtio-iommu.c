/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio-iommu driver at CPL3 (arg 0: the PCI BAR window). It finds the
 * virtio-iommu and a virtio-rng placed behind it on PCI bus 0, checks that
 * the rng refuses FEATURES_OK without ACCESS_PLATFORM (no bypass), attaches
 * the rng's endpoint (its BDF) to a domain, maps its rings at IOVAs, then:
 *   1. a request into an IOVA never mapped: used length 0, nothing written;
 *   2. the buffer mapped writable: the request fills it (at the IOVA's page);
 *   3. unmapped again: refused, the buffer and its neighbours untouched;
 *   4. the buffer's guest physical address given as if it were an IOVA:
 *      refused (the device does not see guest physical addresses);
 *   5. mapped read-only: refused for a device write;
 *   6. hostile requests: MAP into an unknown domain (NOENT), an UNMAP that
 *      would split a mapping (RANGE), an overlapping MAP (INVAL), a truncated
 *      request (INVAL), an unknown type (UNSUPP), a PROBE naming the MSI range;
 * and neither device needs a reset. Exit 0; 0x50 + step on failure.
 * With arg 1 = a port: after step 2 write 1 there and poll it until it
 * reads 2 (the host saves the VM and restores it into a new one), then
 * DMA through the mapping again: domains, mappings and the queue behind
 * the IOMMU must have come along.
 */
#include "guest.h"
#include "virtio.h"
#include "virtio-iommu.h"

#define DOMAIN 7u
#define IOVA_RING 0x40000000ull
#define IOVA_BUF 0x80000000ull
#define PROBE_SIZE 512u

static struct viommu iommu;
static struct virtio_dev rng;
static struct vq vq;

static int fail(int step, const char *what)
{
	guest_printf("virtio-iommu: FAIL %s\n", what);
	return 0x50 + step;
}

/* One rng request of @len bytes at device address @addr: the used length. */
static int64_t rng_dma(uint64_t addr, uint32_t len)
{
	struct vbuf b = { addr, len, true };
	uint32_t id, used;

	vq_submit(&vq, &b, 1);
	if (vq_wait(&vq, &id, &used, VIRTIO_SPINS))
		return -1;
	return used;
}

static bool all(const uint8_t *p, uint64_t n, uint8_t v)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

int guest_main(unsigned int cpu)
{
	uint64_t window = guest_arg(0);
	uint8_t *buf, *around;
	uint32_t ep;
	int64_t n;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	if (!window)
		return fail(0, "arg 0: the PCI BAR window");
	if (virtio_find_pci(VIRTIO_ID_RNG, 0, window, &rng))
		return fail(1, "no virtio-rng on bus 0");
	ep = (uint32_t)((rng.base - window) >> 16) << 3;	/* its BDF: slot << 3 */
	if (viommu_init(&iommu, window, VIOMMU_F_MAP_UNMAP | VIOMMU_F_PROBE))
		return fail(2, "virtio-iommu: not on bus 0, features or request queue");
	if (virtio_config_read(&iommu.dev, 32, 4) != PROBE_SIZE)
		return fail(2, "virtio-iommu: probe_size");

	/* The rng is behind it: no FEATURES_OK without ACCESS_PLATFORM. */
	if (virtio_init(&rng, 0) == 0)
		return fail(3, "virtio-rng accepted a driver without ACCESS_PLATFORM");
	if (virtio_init(&rng, VIRTIO_F_ACCESS_PLATFORM))
		return fail(3, "virtio-rng refused ACCESS_PLATFORM");
	guest_printf("virtio-iommu: iommu and rng (endpoint 0x%x) found; the rng needs "
		     "ACCESS_PLATFORM\n", ep);

	/* Attach, map the rings at IOVAs, set the queue up with them. */
	if (viommu_attach(&iommu, DOMAIN, ep) != VIOMMU_S_OK)
		return fail(4, "ATTACH");
	if (viommu_queue_at(&iommu, DOMAIN, &rng, &vq, IOVA_RING))
		return fail(4, "MAP of the rings");
	virtio_driver_ok(&rng);

	/* The buffer page with a page on each side, all 0x5a. */
	around = virtio_alloc(3 * 4096);
	buf = around + 4096;
	memset(around, 0x5a, 3 * 4096);

	/* 1. never mapped */
	if ((n = rng_dma(IOVA_BUF + 128, 64)) != 0)
		return fail(5, "DMA to an unmapped IOVA was not refused");
	if (!all(around, 3 * 4096, 0x5a))
		return fail(5, "DMA to an unmapped IOVA wrote guest memory");
	/* 2. mapped writable */
	if (viommu_map(&iommu, DOMAIN, IOVA_BUF, 4096, (uint64_t)buf, 2) != VIOMMU_S_OK)
		return fail(6, "MAP of the buffer");
	if ((n = rng_dma(IOVA_BUF + 128, 64)) != 64)
		return fail(6, "DMA to a mapped IOVA failed");
	if (all(buf + 128, 64, 0x5a) || !all(buf, 128, 0x5a) || !all(buf + 192, 4096 - 192, 0x5a) ||
	    !all(around, 4096, 0x5a) || !all(buf + 4096, 4096, 0x5a))
		return fail(6, "the DMA did not land exactly at the mapped page's offset");
	guest_printf("virtio-iommu: unmapped IOVA refused; mapped, 64 bytes landed at "
		     "IOVA 0x%lx -> GPA %lx\n", (unsigned long)(IOVA_BUF + 128),
		     (unsigned long)(buf + 128));
	if (guest_arg(1)) {
		uint16_t port = (uint16_t)guest_arg(1);

		outb(port, 1);
		while (inb(port) != 2)
			cpu_relax();
		memset(around, 0x5a, 3 * 4096);
		if ((n = rng_dma(IOVA_BUF + 1024, 64)) != 64 || all(buf + 1024, 64, 0x5a) ||
		    !all(buf, 1024, 0x5a) || !all(around, 4096, 0x5a))
			return fail(6, "DMA through the mapping after save and restore");
		guest_printf("virtio-iommu: after save and restore the mapping still works\n");
	}
	/* 3. unmapped again */
	memset(around, 0x5a, 3 * 4096);
	if (viommu_unmap(&iommu, DOMAIN, IOVA_BUF, 4096) != VIOMMU_S_OK)
		return fail(7, "UNMAP");
	if ((n = rng_dma(IOVA_BUF + 128, 64)) != 0)
		return fail(7, "DMA after UNMAP was not refused");
	/* 4. the guest physical address as an IOVA */
	if ((n = rng_dma((uint64_t)buf, 64)) != 0)
		return fail(8, "DMA to a guest physical address was not refused");
	/* 5. read-only mapping, device write */
	if (viommu_map(&iommu, DOMAIN, IOVA_BUF, 4096, (uint64_t)buf, 1) != VIOMMU_S_OK)
		return fail(9, "read-only MAP");
	if ((n = rng_dma(IOVA_BUF, 64)) != 0)
		return fail(9, "a device write through a read-only mapping was not refused");
	if (!all(around, 3 * 4096, 0x5a))
		return fail(9, "a refused DMA wrote guest memory");
	guest_printf("virtio-iommu: after UNMAP refused, GPA-as-IOVA refused, read-only "
		     "refused; memory untouched\n");

	/* 6. hostile requests */
	if (viommu_map(&iommu, DOMAIN + 1, IOVA_BUF + 0x10000, 4096, (uint64_t)buf, 3) !=
	    VIOMMU_S_NOENT)
		return fail(10, "MAP into an unknown domain");
	if (viommu_map(&iommu, DOMAIN, IOVA_BUF + 0x10000, 0x2000, (uint64_t)around, 3) !=
		    VIOMMU_S_OK ||
	    viommu_unmap(&iommu, DOMAIN, IOVA_BUF + 0x10000, 0x1000) != VIOMMU_S_RANGE)
		return fail(10, "UNMAP splitting a mapping");
	if (viommu_map(&iommu, DOMAIN, IOVA_BUF + 0x11000, 0x1000, (uint64_t)around, 3) !=
	    VIOMMU_S_INVAL)
		return fail(10, "overlapping MAP");
	if (viommu_request(&iommu, 10, 4) != VIOMMU_S_INVAL)
		return fail(10, "truncated request");
	iommu.req[0] = 0x99;
	if (viommu_request(&iommu, 36, 4) != VIOMMU_S_UNSUPP)
		return fail(10, "unknown request type");
	memset(iommu.req, 0, 80);
	iommu.req[0] = VIOMMU_T_PROBE;
	viommu_put32(iommu.req + 4, ep);
	if (viommu_request(&iommu, 72, PROBE_SIZE + 4) != VIOMMU_S_OK || iommu.tail[0] != 1 ||
	    iommu.tail[4] != 1 ||
	    *(volatile uint64_t *)(iommu.tail + 8) != 0xfee00000ull)
		return fail(10, "PROBE: reserved MSI region");
	if ((virtio_status(&rng) | virtio_status(&iommu.dev)) & VIRTIO_S_NEEDS_RESET)
		return fail(11, "a device needs a reset");
	guest_printf("virtio-iommu: hostile requests answered (NOENT, RANGE, INVAL, INVAL, "
		     "UNSUPP), PROBE reports the MSI range; no device needs a reset\n");
	return 0;
}
