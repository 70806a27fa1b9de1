/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-balloon (virtio 1.2, 5.5): the host asks the guest to give back
 * memory (num_pages), the guest hands over page frame numbers on the
 * inflate queue and takes them back on the deflate queue; inflated pages
 * are released in the host (MADV_DONTNEED on private mappings; MADV_REMOVE
 * on shared memfd/file memory, whose pages would otherwise stay in the
 * page cache), so the VMM's RSS follows. Optional statistics queue,
 * VIRTIO_BALLOON_F_DEFLATE_ON_OOM and free page reporting
 * (VIRTIO_BALLOON_F_PAGE_REPORTING, virtio 1.2 5.5.6.7: the driver hands
 * over ranges of free pages on the reporting queue, the host drops them
 * and gives the buffers back; the guest gets zero pages when it next
 * touches them).
 *
 * Threat model: page numbers come from the guest. A page outside guest
 * RAM, in a read-only region or in a huge-page region (a 4 KiB release
 * cannot be done there) is refused and counted, never touched; a buffer of
 * any length is walked in bounded chunks; a broken chain sets
 * DEVICE_NEEDS_RESET. Nothing outside the page named is released. A
 * reported range must be whole 4 KiB pages inside one such region (the
 * queue has already refused descriptors outside guest RAM, so device MMIO
 * is never named); any other range is refused on its own and counted
 * (report_refused), the others of its buffer are released.
 */
#ifndef CVMM_VIRTIO_DEVICES_BALLOON_H
#define CVMM_VIRTIO_DEVICES_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include <cvmm/event-manager.h>
#include <cvmm/virtio-devices.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CVMM_VIRTIO_ID_BALLOON 5u

#define CVMM_VIRTIO_BALLOON_F_MUST_TELL_HOST (1ull << 0)
#define CVMM_VIRTIO_BALLOON_F_STATS_VQ (1ull << 1)
#define CVMM_VIRTIO_BALLOON_F_DEFLATE_ON_OOM (1ull << 2)
#define CVMM_VIRTIO_BALLOON_F_PAGE_REPORTING (1ull << 5)

#define CVMM_BALLOON_PAGE_SIZE 4096u
/* Statistics tags (virtio 1.2, 5.5.6.3). */
#define CVMM_BALLOON_STAT_MAX 16u

struct cvmm_balloon;

struct cvmm_balloon_opts {
	size_t sz;               /* sizeof(struct cvmm_balloon_opts) */
	uint32_t num_pages;      /* the initial target, in 4 KiB pages */
	bool deflate_on_oom;     /* offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
	bool stats;              /* offer the statistics queue */
	/* Offer free page reporting: its queue is the next after the
	 * statistics queue (index 3 with stats negotiated, 2 without). */
	bool free_page_reporting;
	/* The device loop, for cvmm_balloon_stats_request() (NULL: the
	 * driver's first report is all there is). */
	struct cvmm_event_manager *em;
	uint16_t queue_size;     /* 0: 128 */
};

struct cvmm_balloon_counters {
	uint64_t inflated;       /* pages released to the host */
	uint64_t deflated;       /* pages the guest took back */
	uint64_t refused;        /* page numbers refused (outside RAM, ...) */
	uint64_t reported;       /* 4 KiB pages released by free page reporting */
	uint64_t report_refused; /* reported ranges refused (unaligned, outside RAM, ...) */
	uint32_t actual;         /* the driver's config "actual" */
	uint32_t num_pages;      /* the target */
	uint64_t stats_reports;  /* statistics buffers the driver sent */
	/* The last statistics the driver sent (tag, value), nstats of them. */
	unsigned int nstats;
	struct { uint16_t tag; uint64_t val; } stats[CVMM_BALLOON_STAT_MAX];
};

/**
 * Create a balloon device. @return 0 and *@out; -EINVAL; -ENOMEM.
 * Thread safety: any thread.
 */
int cvmm_balloon_create(const struct cvmm_balloon_opts *o, struct cvmm_balloon **out);
/** Free (destroy the transport first). NULL does nothing. */
void cvmm_balloon_destroy(struct cvmm_balloon *b);
/** The device interface, for a transport. Thread-safe. */
struct cvmm_virtio_device *cvmm_balloon_device(struct cvmm_balloon *b);

/**
 * Set the target (config num_pages) and tell the driver (configuration
 * change interrupt). @return 0; -EINVAL (NULL).
 * Thread safety: any thread.
 */
int cvmm_balloon_set_target(struct cvmm_balloon *b, uint32_t num_pages);

/**
 * Ask the driver for fresh statistics: the buffer it sent last goes back
 * (on the device thread, woken through an eventfd); its next report
 * replaces the stored one. Nothing happens while the driver holds no
 * buffer with the device. @return 0; -ENOTSUP (no @em, or no stats
 * queue); -EINVAL.
 * Thread safety: any thread.
 */
int cvmm_balloon_stats_request(struct cvmm_balloon *b);

/** The counters and the last statistics. Thread safety: any thread. */
void cvmm_balloon_get_counters(struct cvmm_balloon *b, struct cvmm_balloon_counters *out);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VIRTIO_DEVICES_BALLOON_H */
