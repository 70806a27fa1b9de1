/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio-balloon driver at CPL3 (virtio-mmio): touch arg 0 pages
 * (default 8192: 32 MiB) from GPA arg 1 (default 32 MiB), say so, and wait
 * for the host to ask for at least that many (config num_pages, set by
 * vm.resize desired_balloon); hand exactly those pages over on the inflate
 * queue, 1024 page numbers a buffer, set actual, say so; wait for the
 * target to drop to 0, deflate them, set actual 0, write and check them
 * again. With arg 2 = a PCI BAR window, the balloon is looked for on PCI
 * (virtio_find_pci). With bit 0 of arg 3, VIRTIO_BALLOON_F_STATS_VQ too: one
 * report (free_memory 12345, total_memory = RAM seen) on queue 2 first.
 * With bit 1 of arg 3, free page reporting instead of inflating
 * (VIRTIO_BALLOON_F_PAGE_REPORTING, its queue after the stats queue): once
 * the target is 1 page or more (the host's "RSS measured" signal) the
 * touched pages go to the host as 2 MiB ranges, say so; at a target of 2
 * pages or more, check they read as zeros, write and check them again.
 * Exit 0; 0x60 + step otherwise.
 */
#include "guest.h"
#include "virtio.h"

#define VIRTIO_ID_BALLOON 5u
#define PER_BUF 1024u
#define F_STATS_VQ (1ull << 1)
#define F_PAGE_REPORTING (1ull << 5)
#define REPORT_CHUNK (2ull << 20)

static int fail(int step, const char *what)
{
	guest_printf("balloon: FAIL %s\n", what);
	return 0x60 + step;
}

static uint32_t target(struct virtio_dev *d)
{
	return (uint32_t)virtio_config_read(d, 0, 4);
}

/* Send pages [first, first + n) on @vq, PER_BUF numbers a buffer. */
static int send(struct vq *vq, uint32_t *pfns, uint64_t first, uint64_t n)
{
	uint32_t id, len;

	for (uint64_t done = 0; done < n;) {
		uint64_t k = n - done < PER_BUF ? n - done : PER_BUF;
		struct vbuf b = { (uint64_t)pfns, (uint32_t)(k * 4), false };

		for (uint64_t i = 0; i < k; i++)
			pfns[i] = (uint32_t)(first + done + i);
		vq_submit(vq, &b, 1);
		if (vq_wait(vq, &id, &len, VIRTIO_SPINS))
			return -1;
		done += k;
	}
	return 0;
}

/* Free page reporting: [base, base + n pages) in 2 MiB ranges (what Linux
 * reports), up to 16 a buffer of device-writable descriptors. */
static int report_pages(struct virtio_dev *dev, struct vq *rq, uint64_t base, uint64_t n)
{
	uint64_t end = base + n * 4096;
	struct vbuf b[16];
	uint32_t id, len;

	while (target(dev) < 1)
		cpu_relax();
	for (uint64_t a = base; a < end;) {
		unsigned int k = 0;

		for (; k < 16 && a < end; k++, a += REPORT_CHUNK)
			b[k] = (struct vbuf){ a, (uint32_t)(end - a < REPORT_CHUNK ? end - a :
							     REPORT_CHUNK), true };
		vq_submit(rq, b, k);
		if (vq_wait(rq, &id, &len, VIRTIO_SPINS))
			return fail(3, "reporting buffer not returned");
	}
	guest_printf("balloon: reported %lu pages\n", (unsigned long)n);
	while (target(dev) < 2)
		cpu_relax();
	for (uint64_t i = 0; i < n * 4096; i += 8)
		if (*(volatile uint64_t *)(base + i))
			return fail(4, "a reported page does not read as zeros");
	for (uint64_t i = 0; i < n * 4096; i += 4096)
		*(volatile uint64_t *)(base + i) = 0xa5a50000ull + i;
	for (uint64_t i = 0; i < n * 4096; i += 4096)
		if (*(volatile uint64_t *)(base + i) != 0xa5a50000ull + i)
			return fail(5, "a reported page does not keep what was written");
	guest_printf("balloon: reported pages written and read back\n");
	return 0;
}

int guest_main(unsigned int cpu)
{
	uint64_t n = guest_arg(0) ? guest_arg(0) : 8192;
	uint64_t base = guest_arg(1) ? guest_arg(1) : 32ull << 20;
	struct vq inflate = { .desc = NULL }, deflate = { .desc = NULL }, statq = { .desc = NULL };
	struct vq reportq = { .desc = NULL };
	struct virtio_dev dev;
	uint32_t *pfns;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	if (base & 4095)
		return fail(0, "arg 1 is not page aligned");
	if (guest_arg(2) ? virtio_find_pci(VIRTIO_ID_BALLOON, 0, guest_arg(2), &dev) :
			   virtio_find(VIRTIO_ID_BALLOON, 0, &dev))
		return fail(1, "no virtio-balloon device");
	if (virtio_init(&dev, ((guest_arg(3) & 1) ? F_STATS_VQ : 0) |
			      ((guest_arg(3) & 2) ? F_PAGE_REPORTING : 0)) ||
	    vq_setup(&dev, 0, &inflate) ||
	    vq_setup(&dev, 1, &deflate))
		return fail(2, "set-up");
	if ((guest_arg(3) & 1) && (!(dev.features & F_STATS_VQ) || vq_setup(&dev, 2, &statq)))
		return fail(2, "statistics queue");
	if ((guest_arg(3) & 2) && (!(dev.features & F_PAGE_REPORTING) ||
			     vq_setup(&dev, (guest_arg(3) & 1) ? 3 : 2, &reportq)))
		return fail(2, "reporting queue (free_page_reporting=on?)");
	virtio_driver_ok(&dev);
	if (guest_arg(3) & 1) {
		/* (le16 tag, le64 value) records, packed */
		uint8_t *rec = virtio_alloc(4096);
		uint64_t v = 12345;
		struct vbuf b = { (uint64_t)rec, 20, false };

		rec[0] = 4;                                  /* free_memory */
		memcpy(rec + 2, &v, 8);
		v = 128ull << 20;
		rec[10] = 5;                                 /* total_memory */
		memcpy(rec + 12, &v, 8);
		vq_submit(&statq, &b, 1);
	}
	pfns = virtio_alloc(PER_BUF * 4);
	if (!pfns)
		return fail(2, "no memory for page numbers");

	for (uint64_t i = 0; i < n * 4096; i += 4096)
		*(volatile uint64_t *)(base + i) = 0x5a5a0000ull + i;
	guest_printf("balloon: touched %lu pages\n", (unsigned long)n);
	if (guest_arg(3) & 2)
		return report_pages(&dev, &reportq, base, n);
	while (target(&dev) < n)
		cpu_relax();
	guest_printf("balloon: target %u pages\n", target(&dev));
	if (send(&inflate, pfns, base / 4096, n))
		return fail(3, "inflate buffer not returned");
	virtio_write(&dev, VIRTIO_MMIO_CONFIG + 4, (uint32_t)n);
	if (virtio_config_read(&dev, 4, 4) != n)
		return fail(3, "actual not taken");
	guest_printf("balloon: inflated %lu pages, actual %lu\n", (unsigned long)n,
		     (unsigned long)n);

	while (target(&dev) != 0)
		cpu_relax();
	if (send(&deflate, pfns, base / 4096, n))
		return fail(4, "deflate buffer not returned");
	virtio_write(&dev, VIRTIO_MMIO_CONFIG + 4, 0);
	for (uint64_t i = 0; i < n * 4096; i += 4096)
		*(volatile uint64_t *)(base + i) = 0xa5a50000ull + i;
	for (uint64_t i = 0; i < n * 4096; i += 4096)
		if (*(volatile uint64_t *)(base + i) != 0xa5a50000ull + i)
			return fail(5, "a deflated page does not keep what was written");
	guest_printf("balloon: deflated %lu pages, written and read back\n", (unsigned long)n);
	return 0;
}
