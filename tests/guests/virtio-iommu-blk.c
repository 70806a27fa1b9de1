/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio-blk behind the virtio-iommu, at CPL3 (arg 0: the PCI BAR window;
 * arg 1: the sector to use, default 8). The same sequence serves the
 * in-VMM disk and a vhost-user-blk backend (whose translations come from
 * IOTLB messages): it attaches the disk's endpoint, maps the rings and a
 * page for request headers and status bytes at IOVAs, then
 *   1. a read into a data IOVA never mapped: refused (used length 0, the
 *      status byte not written), guest memory untouched;
 *   2. the data page mapped read-write: a write then a read of the sector
 *      at the IOVA succeed and the data comes back;
 *   3. unmapped again: a read and a write are refused, memory untouched;
 *   4. mapped read-only: a write (the device reads) succeeds, a read (the
 *      device writes) is refused, memory untouched;
 *   5. the data page's guest physical address as an IOVA: refused;
 * and no device needs a reset. Exit 0; 0x50 + step on failure.
 */
#include "guest.h"
#include "virtio.h"
#include "virtio-iommu.h"

#define BLK_T_IN 0u
#define BLK_T_OUT 1u
#define BLK_S_OK 0

#define DOMAIN 9u
#define IOVA_RING 0x40000000ull
#define IOVA_HDR 0x60000000ull
#define IOVA_BUF 0x80000000ull

static struct viommu iommu;
static struct virtio_dev blk;
static struct vq vq;
static uint8_t *hdrpage;

static int fail(int step, const char *what)
{
	guest_printf("virtio-iommu-blk: FAIL %s\n", what);
	return 0x50 + step;
}

static int map(uint64_t iova, uint64_t len, uint64_t phys, uint32_t flags)
{
	return viommu_map(&iommu, DOMAIN, iova, len, phys, flags);
}

static int unmap(uint64_t iova, uint64_t len)
{
	return viommu_unmap(&iommu, DOMAIN, iova, len);
}

/*
 * One 512-byte request with its data at device address @data: header at
 * IOVA_HDR, status at IOVA_HDR + 64 (the header page, mapped read-write).
 * @return the status byte (0xff: not written), -1 when it never completed;
 * *@used gets the used length (0: the device refused the chain).
 */
static int blk_io(uint32_t type, uint64_t sector, uint64_t data, uint32_t *used)
{
	struct vbuf b[3] = {
		{ IOVA_HDR, 16, false },
		{ data, 512, type == BLK_T_IN },
		{ IOVA_HDR + 64, 1, true },
	};
	volatile uint8_t *status = hdrpage + 64;
	uint32_t id;

	viommu_put32(hdrpage, type);
	viommu_put32(hdrpage + 4, 0);
	viommu_put64(hdrpage + 8, sector);
	*status = 0xff;
	vq_submit(&vq, b, 3);
	if (vq_wait(&vq, &id, used, VIRTIO_SPINS))
		return -1;
	return *status;
}

static bool all(const uint8_t *p, uint64_t n, uint8_t v)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void pattern(uint8_t *p, uint8_t seed)
{
	for (int i = 0; i < 512; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

static bool is_pattern(const uint8_t *p, uint8_t seed)
{
	for (int i = 0; i < 512; i++)
		if (p[i] != (uint8_t)(seed + i * 13))
			return false;
	return true;
}

/* A refused request: used length 0, status not written. */
static bool refused(uint32_t type, uint64_t sector, uint64_t data)
{
	uint32_t used = 99;
	int st = blk_io(type, sector, data, &used);

	return st == 0xff && used == 0;
}

int guest_main(unsigned int cpu)
{
	uint64_t window = guest_arg(0), sector = guest_arg(1) ? guest_arg(1) : 8;
	uint8_t *buf, *around;
	uint32_t ep, used;
	int st;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	if (!window)
		return fail(0, "arg 0: the PCI BAR window");
	if (virtio_find_pci(VIRTIO_ID_BLOCK, 0, window, &blk))
		return fail(1, "no virtio-blk on bus 0");
	ep = (uint32_t)((blk.base - window) >> 16) << 3;	/* its BDF: slot << 3 */
	if (viommu_init(&iommu, window, VIOMMU_F_MAP_UNMAP))
		return fail(2, "virtio-iommu: not on bus 0, features or request queue");

	if (virtio_init(&blk, 0) == 0)
		return fail(3, "virtio-blk accepted a driver without ACCESS_PLATFORM");
	if (virtio_init(&blk, VIRTIO_F_ACCESS_PLATFORM))
		return fail(3, "virtio-blk refused ACCESS_PLATFORM");
	if (viommu_attach(&iommu, DOMAIN, ep) != VIOMMU_S_OK)
		return fail(4, "ATTACH");
	hdrpage = virtio_alloc(4096);
	if (viommu_queue_at(&iommu, DOMAIN, &blk, &vq, IOVA_RING) ||
	    map(IOVA_HDR, 4096, (uint64_t)hdrpage, 3) != VIOMMU_S_OK)
		return fail(4, "MAP of the rings and the header page");
	virtio_driver_ok(&blk);
	guest_printf("virtio-iommu-blk: iommu and disk (endpoint 0x%x) found; the disk needs "
		     "ACCESS_PLATFORM\n", ep);

	around = virtio_alloc(3 * 4096);
	buf = around + 4096;
	memset(around, 0x5a, 3 * 4096);

	/* 1. never mapped */
	if (!refused(BLK_T_IN, sector, IOVA_BUF))
		return fail(5, "a read into an unmapped IOVA was not refused");
	if (!all(around, 3 * 4096, 0x5a))
		return fail(5, "a read into an unmapped IOVA wrote guest memory");
	/* 2. mapped read-write: write, read back */
	if (map(IOVA_BUF, 4096, (uint64_t)buf, 3) != VIOMMU_S_OK)
		return fail(6, "MAP of the data page");
	pattern(buf, 0x21);
	if ((st = blk_io(BLK_T_OUT, sector, IOVA_BUF, &used)) != BLK_S_OK)
		return fail(6, "a write from a mapped IOVA failed");
	memset(buf, 0, 512);
	if ((st = blk_io(BLK_T_IN, sector, IOVA_BUF, &used)) != BLK_S_OK || used != 513)
		return fail(6, "a read into a mapped IOVA failed");
	if (!is_pattern(buf, 0x21) || !all(buf + 512, 4096 - 512, 0x5a) ||
	    !all(around, 4096, 0x5a) || !all(buf + 4096, 4096, 0x5a))
		return fail(6, "the read did not land exactly at the mapped page");
	guest_printf("virtio-iommu-blk: unmapped IOVA refused; mapped, sector %lu written "
		     "and read back through IOVA 0x%lx\n", (unsigned long)sector,
		     (unsigned long)IOVA_BUF);
	/* 3. unmapped again */
	if (unmap(IOVA_BUF, 4096) != VIOMMU_S_OK)
		return fail(7, "UNMAP");
	memset(around, 0x5a, 3 * 4096);
	if (!refused(BLK_T_IN, sector, IOVA_BUF) || !refused(BLK_T_OUT, sector + 1, IOVA_BUF))
		return fail(7, "I/O after UNMAP was not refused");
	if (!all(around, 3 * 4096, 0x5a))
		return fail(7, "I/O after UNMAP touched guest memory");
	/* 4. read-only: the device may read it, not write it */
	if (map(IOVA_BUF, 4096, (uint64_t)buf, 1) != VIOMMU_S_OK)
		return fail(8, "read-only MAP");
	pattern(buf, 0x37);
	if ((st = blk_io(BLK_T_OUT, sector + 2, IOVA_BUF, &used)) != BLK_S_OK)
		return fail(8, "a write from a read-only IOVA failed");
	memset(buf, 0x5a, 512);
	if (!refused(BLK_T_IN, sector + 2, IOVA_BUF))
		return fail(8, "a read into a read-only IOVA was not refused");
	if (!all(around, 3 * 4096, 0x5a))
		return fail(8, "a refused read wrote guest memory");
	/* 5. a guest physical address is no IOVA */
	if (!refused(BLK_T_IN, sector, (uint64_t)buf))
		return fail(9, "a read into a guest physical address was not refused");
	if (!all(around, 3 * 4096, 0x5a))
		return fail(9, "a refused read wrote guest memory");
	if ((virtio_status(&blk) | virtio_status(&iommu.dev)) & VIRTIO_S_NEEDS_RESET)
		return fail(10, "a device needs a reset");
	guest_printf("virtio-iommu-blk: after UNMAP refused, read-only refused for device "
		     "writes, GPA-as-IOVA refused; memory untouched; no device needs a reset\n");
	return 0;
}
