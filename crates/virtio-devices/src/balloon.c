/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-balloon (virtio 1.2, 5.5): queue 0 inflate, 1 deflate, then the
 * stats queue (VIRTIO_BALLOON_F_STATS_VQ) and the reporting queue
 * (VIRTIO_BALLOON_F_PAGE_REPORTING), each at the next index when
 * negotiated (as Linux and Cloud Hypervisor number them: Linux skips the
 * queues of features it did not take). Inflated and reported
 * pages are released in the host mapping; a page number or range the guest
 * has no business naming is counted and skipped
 * (include/cvmm/virtio-devices/balloon.h has the threat model).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cvmm/sys-util.h>
#include <cvmm/vm-memory.h>
#include <cvmm/virtio-devices/balloon.h>

#include "internal.h"

#define Q_INFLATE 0u
#define Q_DEFLATE 1u
#define Q_STATS 2u
#define Q_REPORT 3u /* our slot in q[]; the transport index is b->report_qi */
#define PFN_CHUNK 256u
#define STATE_MAGIC 0x4e4c4c42u /* "BLLN" */

struct cvmm_balloon {
	struct cvmm_virtio_device dev;
	struct cvmm_guest_mem *mem;
	struct cvmm_virtq *q[4];
	unsigned int report_qi;        /* transport index of the reporting queue (0: none) */
	bool active;
	pthread_mutex_t lock;          /* num_pages, actual, counters, stats */
	uint32_t num_pages, actual;
	uint64_t inflated, deflated, refused;
	uint64_t reported, report_refused; /* pages released; ranges refused */
	unsigned int nstats;
	uint16_t stat_tag[CVMM_BALLOON_STAT_MAX];
	uint64_t stat_val[CVMM_BALLOON_STAT_MAX];
	bool stats_held;               /* the driver's stats buffer is kept ... */
	struct cvmm_virtq_chain held;  /* ... this one (device thread) */
	uint64_t reports;
	struct cvmm_event_manager *em;
	int req_fd;                    /* stats requests (eventfd), or -1 */
	bool req_on;                   /* on the loop */
};

/* Saved state: magic, num_pages, actual, then inflated, deflated, refused,
 * reported, report_refused (le). 36-byte states (before free page
 * reporting) restore too. */
#define STATE_LEN_V1 36u
#define STATE_LEN 52u

static struct cvmm_balloon *to_b(struct cvmm_virtio_device *dev)
{
	return CVMM_CONTAINER_OF(dev, struct cvmm_balloon, dev);
}

static void balloon_config_read(struct cvmm_virtio_device *dev, uint32_t off, void *data,
				uint32_t len)
{
	struct cvmm_balloon *b = to_b(dev);
	uint8_t cfg[8];

	pthread_mutex_lock(&b->lock);
	vd_put_le32(cfg, b->num_pages);
	vd_put_le32(cfg + 4, b->actual);
	pthread_mutex_unlock(&b->lock);
	memcpy(data, cfg + off, len);
}

/* The driver writes "actual" (bytes 4..7); num_pages is the device's. */
static void balloon_config_write(struct cvmm_virtio_device *dev, uint32_t off, const void *data,
				 uint32_t len)
{
	struct cvmm_balloon *b = to_b(dev);
	uint8_t cfg[8] = { 0 };

	pthread_mutex_lock(&b->lock);
	vd_put_le32(cfg + 4, b->actual);
	for (uint32_t i = 0; i < len; i++)
		if (off + i >= 4)
			cfg[off + i] = ((const uint8_t *)data)[i];
	b->actual = vd_get_le32(cfg + 4);
	pthread_mutex_unlock(&b->lock);
}

/*
 * Release @n pages from @gpa, all in one region (checked by the caller).
 * Shared memory (memfd, a shared file) keeps its pages in the page cache
 * after MADV_DONTNEED: MADV_REMOVE frees them there.
 */
static int release(struct cvmm_balloon *b, const struct cvmm_mem_region *r, uint64_t gpa,
		   uint64_t n)
{
	uint8_t *host = r->host + (gpa - r->gpa);
	size_t len = (size_t)n * CVMM_BALLOON_PAGE_SIZE;
	bool shared = (r->flags & CVMM_MEM_F_SHARED) || r->backing == CVMM_MEM_MEMFD;

	if (madvise(host, len, shared ? MADV_REMOVE : MADV_DONTNEED))
		return -errno;
	/* The pages read as zeros now: a migration must send them again. */
	cvmm_guest_mem_mark_dirty(b->mem, gpa, len);
	return 0;
}

/* The region that may give back the page at @gpa, or NULL. */
static const struct cvmm_mem_region *page_region(struct cvmm_balloon *b, uint64_t gpa)
{
	const struct cvmm_mem_region *r = cvmm_guest_mem_find(b->mem, gpa);

	if (!r || (r->flags & CVMM_MEM_F_READONLY) || r->backing == CVMM_MEM_HUGETLBFS ||
	    gpa + CVMM_BALLOON_PAGE_SIZE > r->gpa + r->size)
		return NULL;
	return r;
}

/* Shell sort: no qsort, whose glibc version calls sysinfo (not in the
 * device thread's seccomp filter); 256 entries at most. */
static void sort_gpas(uint64_t *a, size_t n)
{
	static const size_t gaps[] = { 57, 23, 10, 4, 1 };

	for (size_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++)
		for (size_t i = gaps[g]; i < n; i++) {
			uint64_t v = a[i];
			size_t j = i;

			for (; j >= gaps[g] && a[j - gaps[g]] > v; j -= gaps[g])
				a[j] = a[j - gaps[g]];
			a[j] = v;
		}
}

/*
 * One inflate or deflate buffer: le32 page frame numbers. An inflate
 * sorts each chunk's pages and releases runs of consecutive pages with one
 * madvise each; a page already inside the current run (a repeated number)
 * costs nothing, so a buffer repeating or alternating a few numbers cannot
 * make the device thread do a system call per 4 bytes.
 */
static int pfns(struct cvmm_balloon *b, struct cvmm_virtq_chain *c, bool inflate)
{
	uint64_t ok = 0, bad = 0, run_gpa = 0, run_n = 0;
	const struct cvmm_mem_region *run_r = NULL;
	struct cvmm_virtq_rw rd;
	uint8_t buf[PFN_CHUNK * 4];
	uint64_t gpas[PFN_CHUNK];
	ssize_t got;
	int e = cvmm_virtq_reader_init(&rd, c);

	if (e < 0)
		return e;
	while ((got = cvmm_virtq_reader_read(&rd, buf, sizeof(buf))) > 0) {
		size_t n = 0;

		for (size_t i = 0; i < (size_t)got / 4; i++) {
			uint64_t gpa = (uint64_t)vd_get_le32(buf + 4 * i) * CVMM_BALLOON_PAGE_SIZE;

			if (!page_region(b, gpa)) {
				bad++;
				continue;
			}
			ok++;
			if (inflate)
				gpas[n++] = gpa;
		}
		sort_gpas(gpas, n);
		for (size_t i = 0; i < n; i++) {
			uint64_t gpa = gpas[i], end = run_gpa + run_n * CVMM_BALLOON_PAGE_SIZE;
			const struct cvmm_mem_region *r = page_region(b, gpa);

			if (run_n && r == run_r && gpa >= run_gpa && gpa < end)
				continue;       /* a repeat: released with its run */
			if (run_n && r == run_r && gpa == end) {
				run_n++;
				continue;
			}
			if (run_n && release(b, run_r, run_gpa, run_n))
				bad += run_n, ok -= run_n;
			run_r = r, run_gpa = gpa, run_n = 1;
		}
	}
	if (got < 0)
		return (int)got;
	if (run_n && release(b, run_r, run_gpa, run_n))
		bad += run_n, ok -= run_n;
	pthread_mutex_lock(&b->lock);
	if (inflate)
		b->inflated += ok;
	else
		b->deflated += ok;
	b->refused += bad;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

/*
 * One reporting buffer (virtio 1.2, 5.5.6.7): each descriptor is a range of
 * free guest pages (Linux reports 2 MiB and larger blocks) the host may
 * drop; they read as zeros afterwards. The buffer goes back unwritten. A
 * range that is empty, not whole 4 KiB pages, or not all inside one
 * writable, non-huge-page RAM region is refused on its own: the rest of
 * the buffer still counts.
 */
static int report(struct cvmm_balloon *b, struct cvmm_virtq_chain *c)
{
	uint64_t ok = 0, bad = 0;
	struct cvmm_virtq_desc d;
	int e;

	while ((e = cvmm_virtq_chain_next(c, &d)) > 0) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_find(b->mem, d.addr);

		if (!d.len || (d.addr | d.len) & (CVMM_BALLOON_PAGE_SIZE - 1) || !r ||
		    (r->flags & CVMM_MEM_F_READONLY) || r->backing == CVMM_MEM_HUGETLBFS ||
		    d.len > r->gpa + r->size - d.addr ||
		    release(b, r, d.addr, d.len / CVMM_BALLOON_PAGE_SIZE)) {
			bad++;
			continue;
		}
		ok += d.len / CVMM_BALLOON_PAGE_SIZE;
	}
	if (e < 0)
		return e;
	pthread_mutex_lock(&b->lock);
	b->reported += ok;
	b->report_refused += bad;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

/* A stats buffer: (le16 tag, le64 val) records, 10 bytes each. */
static int stats(struct cvmm_balloon *b, struct cvmm_virtq_chain *c)
{
	struct cvmm_virtq_rw rd;
	uint8_t rec[10];
	unsigned int n = 0;
	ssize_t got;
	int e = cvmm_virtq_reader_init(&rd, c);

	if (e < 0)
		return e;
	pthread_mutex_lock(&b->lock);
	while (n < CVMM_BALLOON_STAT_MAX && (got = cvmm_virtq_reader_read(&rd, rec, 10)) == 10) {
		b->stat_tag[n] = (uint16_t)(rec[0] | rec[1] << 8);
		b->stat_val[n] = vd_get_le64(rec + 2);
		n++;
	}
	b->nstats = n;
	b->reports++;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static void balloon_queue_event(struct cvmm_virtio_device *dev, unsigned int qi)
{
	struct cvmm_balloon *b = to_b(dev);
	struct cvmm_virtq_chain c;
	struct cvmm_virtq *q;
	bool pushed = false;
	int e;

	if (!b->active)
		return;
	if (b->report_qi && qi == b->report_qi)
		qi = Q_REPORT;
	else if (qi >= Q_REPORT)
		return;
	if (!(q = b->q[qi]))
		return;
	for (;;) {
		while ((e = cvmm_virtq_pop(q, &c)) > 0) {
			if (qi == Q_STATS) {
				/* Kept: giving it back asks for the next report
				 * (the driver answers at once, so only on request). */
				if (b->stats_held) {
					/* a second buffer: give the older one back */
					e = cvmm_virtq_push(q, &b->held, 0);
					if (e < 0)
						break;
					pushed = true;
					b->stats_held = false;
				}
				e = stats(b, &c);
				if (e < 0)
					break;
				b->held = c;
				b->stats_held = true;
				continue;
			}
			e = qi == Q_REPORT ? report(b, &c) : pfns(b, &c, qi == Q_INFLATE);
			if (e < 0)
				break;
			e = cvmm_virtq_push(q, &c, 0);
			if (e < 0)
				break;
			pushed = true;
		}
		if (e < 0)
			break;
		e = cvmm_virtq_enable_notification(q);
		if (e <= 0)
			break;
	}
	if (e < 0)
		cvmm_virtio_device_set_needs_reset(dev);
	if (pushed && cvmm_virtq_needs_notification(q))
		cvmm_virtio_device_signal_used(dev, qi == Q_REPORT ? b->report_qi : qi);
}

/* A stats request (cvmm_balloon_stats_request): the held buffer goes back. */
static void req_cb(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct cvmm_balloon *b = opaque;
	uint64_t v;

	(void)em;
	(void)events;
	if (read(fd, &v, sizeof(v)) != sizeof(v) || !b->active || !b->stats_held || !b->q[Q_STATS])
		return;
	b->stats_held = false;
	if (cvmm_virtq_push(b->q[Q_STATS], &b->held, 0) < 0) {
		cvmm_virtio_device_set_needs_reset(&b->dev);
		return;
	}
	if (cvmm_virtq_needs_notification(b->q[Q_STATS]))
		cvmm_virtio_device_signal_used(&b->dev, Q_STATS);
}

static int balloon_activate(struct cvmm_virtio_device *dev, struct cvmm_guest_mem *mem,
			    struct cvmm_virtq *queues, unsigned int nq, uint64_t features)
{
	struct cvmm_balloon *b = to_b(dev);

	if (nq < 2 || !cvmm_virtq_active(&queues[Q_INFLATE]) ||
	    !cvmm_virtq_active(&queues[Q_DEFLATE]))
		return -EINVAL;
	b->mem = mem;
	b->q[Q_INFLATE] = &queues[Q_INFLATE];
	b->q[Q_DEFLATE] = &queues[Q_DEFLATE];
	b->q[Q_STATS] = (features & CVMM_VIRTIO_BALLOON_F_STATS_VQ) && nq > Q_STATS &&
			cvmm_virtq_active(&queues[Q_STATS]) ? &queues[Q_STATS] : NULL;
	b->report_qi = 0;
	if (features & CVMM_VIRTIO_BALLOON_F_PAGE_REPORTING) {
		unsigned int qi = features & CVMM_VIRTIO_BALLOON_F_STATS_VQ ? 3 : 2;

		if (nq > qi && cvmm_virtq_active(&queues[qi])) {
			b->report_qi = qi;
			b->q[Q_REPORT] = &queues[qi];
		}
	}
	b->stats_held = false;
	b->active = true;
	if (b->q[Q_STATS] && b->req_fd >= 0 && !b->req_on)
		b->req_on = !cvmm_event_manager_add(b->em, b->req_fd, EPOLLIN, req_cb, b);
	return 0;
}

static void balloon_reset(struct cvmm_virtio_device *dev)
{
	struct cvmm_balloon *b = to_b(dev);

	b->active = false;
	memset(b->q, 0, sizeof(b->q));
	b->report_qi = 0;
	b->stats_held = false;
	if (b->req_on)
		cvmm_event_manager_remove(b->em, b->req_fd);
	b->req_on = false;
	pthread_mutex_lock(&b->lock);
	b->actual = 0; /* a new driver starts with an empty balloon */
	pthread_mutex_unlock(&b->lock);
}

static int balloon_save(struct cvmm_virtio_device *dev, void *buf, size_t len)
{
	struct cvmm_balloon *b = to_b(dev);
	uint8_t *p = buf;

	if (!buf)
		return (int)STATE_LEN;
	if (len < STATE_LEN)
		return -ENOSPC;
	pthread_mutex_lock(&b->lock);
	vd_put_le32(p, STATE_MAGIC);
	vd_put_le32(p + 4, b->num_pages);
	vd_put_le32(p + 8, b->actual);
	vd_put_le64(p + 12, b->inflated);
	vd_put_le64(p + 20, b->deflated);
	vd_put_le64(p + 28, b->refused);
	vd_put_le64(p + 36, b->reported);
	vd_put_le64(p + 44, b->report_refused);
	pthread_mutex_unlock(&b->lock);
	return (int)STATE_LEN;
}

static int balloon_restore(struct cvmm_virtio_device *dev, const void *buf, size_t len)
{
	struct cvmm_balloon *b = to_b(dev);
	const uint8_t *p = buf;

	if (!buf || (len != STATE_LEN && len != STATE_LEN_V1) || vd_get_le32(p) != STATE_MAGIC)
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	b->num_pages = vd_get_le32(p + 4);
	b->actual = vd_get_le32(p + 8);
	b->inflated = vd_get_le64(p + 12);
	b->deflated = vd_get_le64(p + 20);
	b->refused = vd_get_le64(p + 28);
	b->reported = len == STATE_LEN ? vd_get_le64(p + 36) : 0;
	b->report_refused = len == STATE_LEN ? vd_get_le64(p + 44) : 0;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static const struct cvmm_virtio_device_ops balloon_ops = {
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.activate = balloon_activate,
	.queue_event = balloon_queue_event,
	.reset = balloon_reset,
	.save = balloon_save,
	.restore = balloon_restore,
};

int cvmm_balloon_create(const struct cvmm_balloon_opts *o, struct cvmm_balloon **out)
{
	struct cvmm_balloon *b;
	uint16_t qs;

	if (!o || !out || o->sz < sizeof(*o))
		return -EINVAL;
	qs = o->queue_size ? o->queue_size : 128;
	if (qs & (qs - 1) || qs > 32768)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	pthread_mutex_init(&b->lock, NULL);
	b->req_fd = -1;
	if (o->em && o->stats) {
		b->em = o->em;
		b->req_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (b->req_fd < 0) {
			int e = -errno;

			pthread_mutex_destroy(&b->lock);
			free(b);
			return e;
		}
	}
	b->num_pages = o->num_pages;
	b->dev.ops = &balloon_ops;
	b->dev.device_id = CVMM_VIRTIO_ID_BALLOON;
	b->dev.config_size = 8;
	b->dev.features = (o->deflate_on_oom ? CVMM_VIRTIO_BALLOON_F_DEFLATE_ON_OOM : 0) |
			  (o->stats ? CVMM_VIRTIO_BALLOON_F_STATS_VQ : 0) |
			  (o->free_page_reporting ? CVMM_VIRTIO_BALLOON_F_PAGE_REPORTING : 0);
	b->dev.num_queues = (o->stats ? 3 : 2) + (o->free_page_reporting ? 1 : 0);
	for (unsigned int i = 0; i < b->dev.num_queues; i++)
		b->dev.queue_max_size[i] = qs;
	*out = b;
	return 0;
}

void cvmm_balloon_destroy(struct cvmm_balloon *b)
{
	if (!b)
		return;
	/* the transport is gone (its reset took the fd off the loop) */
	if (b->req_on)
		cvmm_event_manager_remove(b->em, b->req_fd);
	if (b->req_fd >= 0)
		close(b->req_fd);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

struct cvmm_virtio_device *cvmm_balloon_device(struct cvmm_balloon *b)
{
	return &b->dev;
}

int cvmm_balloon_set_target(struct cvmm_balloon *b, uint32_t num_pages)
{
	if (!b)
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	b->num_pages = num_pages;
	pthread_mutex_unlock(&b->lock);
	cvmm_virtio_device_config_changed(&b->dev);
	return 0;
}

int cvmm_balloon_stats_request(struct cvmm_balloon *b)
{
	uint64_t one = 1;

	if (!b)
		return -EINVAL;
	if (b->req_fd < 0)
		return -ENOTSUP;
	return write(b->req_fd, &one, sizeof(one)) == sizeof(one) || errno == EAGAIN ? 0 : -errno;
}

void cvmm_balloon_get_counters(struct cvmm_balloon *b, struct cvmm_balloon_counters *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&b->lock);
	out->inflated = b->inflated;
	out->deflated = b->deflated;
	out->refused = b->refused;
	out->reported = b->reported;
	out->report_refused = b->report_refused;
	out->actual = b->actual;
	out->num_pages = b->num_pages;
	out->stats_reports = b->reports;
	out->nstats = b->nstats;
	for (unsigned int i = 0; i < b->nstats; i++) {
		out->stats[i].tag = b->stat_tag[i];
		out->stats[i].val = b->stat_val[i];
	}
	pthread_mutex_unlock(&b->lock);
}
