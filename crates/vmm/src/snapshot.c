/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing a snapshot directory (cvmm/vmm.h, docs/snapshot.md): the
 * program's config, the state stream, guest memory as a sparse file and a
 * manifest, built under a temporary name and renamed when complete, so a
 * crash or a full disk never leaves something that looks like a snapshot.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cvmm/snapshot.h>

#include "snapshot.h"

/* Pages looked at per batch: 32 MiB of guest RAM, 8 KiB of pagemap. */
#define SCAN_PAGES 8192u
/* Longest single write of a run of data pages. */
#define RUN_MAX (8u << 20)

static int failf(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int failf(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

struct snap_writer {
	const char *dir;        /* the final name, for messages */
	char tmp[PATH_MAX];
	int dfd;                /* the temporary directory */
	char *err;
	size_t errlen;
	cvmm_vmm_progress_fn progress;
	void *opaque;
	uint64_t done, total;
	int pagemap;            /* /proc/self/pagemap, or -1 (then every page is looked at) */
};

static int create_file(struct snap_writer *sw, const char *name, int *fd)
{
	*fd = openat(sw->dfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (*fd < 0)
		return failf(sw->err, sw->errlen, -errno, "snapshot '%s': cannot create '%s': %s",
			     sw->dir, name, strerror(errno));
	return 0;
}

static int write_fail(struct snap_writer *sw, const char *name, int ret)
{
	return failf(sw->err, sw->errlen, ret, "snapshot '%s': writing '%s': %s", sw->dir, name,
		     strerror(-ret));
}

static int finish_file(struct snap_writer *sw, const char *name, int fd)
{
	int ret = 0;

	if (fsync(fd))
		ret = write_fail(sw, name, -errno);
	if (close(fd) && !ret)
		ret = write_fail(sw, name, -errno);
	return ret;
}

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)p;

	for (size_t i = 0; i < SNAP_PAGE / 8; i += 8)
		if (q[i] | q[i + 1] | q[i + 2] | q[i + 3] | q[i + 4] | q[i + 5] | q[i + 6] | q[i + 7])
			return false;
	return true;
}

/*
 * Mark in @cand which of the @n pages from @host (file offset @foff in the
 * memory file, region @r) may hold data: pages the kernel has for this
 * mapping (pagemap: present or swapped; for a shared fd: SEEK_DATA), and
 * the data pages of a file a restore mapped or fills from.
 */
static void candidates(struct snap_writer *sw, const struct cvmm_mem_region *r,
		       const uint8_t *host, uint64_t foff, unsigned int n,
		       const struct snap_source *src, bool *cand)
{
	uint64_t pm[SCAN_PAGES];

	if (r->fd >= 0) {
		/* The memfd says where its data is, whoever wrote it. */
		off_t start = (off_t)(r->fd_offset + (uint64_t)(host - r->host));
		off_t end = start + (off_t)n * (off_t)SNAP_PAGE, pos = start;

		memset(cand, 0, n);
		while (pos < end) {
			off_t d = lseek(r->fd, pos, SEEK_DATA), h;

			if (d < 0 || d >= end)
				break;
			h = lseek(r->fd, d, SEEK_HOLE);
			if (h < 0 || h > end)
				h = end;
			for (off_t p = d & ~(off_t)(SNAP_PAGE - 1); p < h; p += (off_t)SNAP_PAGE)
				cand[(p - start) / (off_t)SNAP_PAGE] = true;
			pos = h;
		}
		return;
	}
	if (sw->pagemap < 0 ||
	    pread(sw->pagemap, pm, n * sizeof(pm[0]),
		  (off_t)((uintptr_t)host / SNAP_PAGE * sizeof(pm[0]))) != (ssize_t)(n * sizeof(pm[0]))) {
		memset(cand, 1, n);
		return;
	}
	for (unsigned int i = 0; i < n; i++)
		cand[i] = (pm[i] >> 62) & 3; /* bit 63 present, bit 62 swapped */
	if (src)
		for (unsigned int i = 0; i < n; i++)
			cand[i] |= snap_source_data(src, foff / SNAP_PAGE + i);
}

static int write_run(struct snap_writer *sw, int fd, const uint8_t *p, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t w = pwrite(fd, p, len > RUN_MAX ? RUN_MAX : (size_t)len, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return write_fail(sw, CVMM_VMM_SNAPSHOT_MEMORY, w < 0 ? -errno : -EIO);
		p += w;
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

/* Guest RAM into the sparse memory file; fills @regions. */
static int write_memory(struct snap_writer *sw, struct cvmm_vmm *vmm, struct snap_region *regions,
			unsigned int *nregions, uint64_t *data_bytes, const uint64_t *diff)
{
	const struct snap_source *src = cvmm_vi_snap_source(vmm);
	unsigned int nr = cvmm_guest_mem_num_regions(vmm->mem);
	uint64_t foff = 0;
	bool cand[SCAN_PAGES];
	int fd, ret;

	if (nr > SNAP_MAX_REGIONS)
		return failf(sw->err, sw->errlen, -E2BIG, "snapshot: %u RAM regions, at most %u",
			     nr, SNAP_MAX_REGIONS);
	if ((ret = create_file(sw, CVMM_VMM_SNAPSHOT_MEMORY, &fd)))
		return ret;
	/* The size first: what is never written stays a hole. */
	if (ftruncate(fd, (off_t)cvmm_guest_mem_total_size(vmm->mem))) {
		ret = write_fail(sw, CVMM_VMM_SNAPSHOT_MEMORY, -errno);
		goto out;
	}
	sw->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	sw->total = cvmm_guest_mem_total_size(vmm->mem);
	*data_bytes = 0;
	for (unsigned int i = 0; i < nr; i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(vmm->mem, i);
		uint64_t pages = r->size / SNAP_PAGE;

		regions[i] = (struct snap_region){ .gpa = r->gpa, .size = r->size, .offset = foff };
		for (uint64_t pg = 0; pg < pages; pg += SCAN_PAGES) {
			unsigned int n = (unsigned int)(pages - pg < SCAN_PAGES ? pages - pg : SCAN_PAGES);
			const uint8_t *base = r->host + pg * SNAP_PAGE;
			uint64_t run = 0, run_start = 0;

			if (diff) {
				/* a diff holds every page written since the last
				 * snapshot, zero or not: the bitmap says which */
				for (unsigned int k = 0; k < n; k++) {
					uint64_t f = (foff + (pg + k) * SNAP_PAGE) / SNAP_PAGE;

					cand[k] = (diff[f / 64] >> (f % 64)) & 1;
				}
			} else {
				candidates(sw, r, base, foff + pg * SNAP_PAGE, n, src, cand);
			}
			for (unsigned int k = 0; k <= n; k++) {
				bool data = k < n && cand[k] &&
					    (diff || !page_is_zero(base + k * SNAP_PAGE));

				if (data) {
					if (!run)
						run_start = k;
					run++;
					continue;
				}
				if (run) {
					ret = write_run(sw, fd, base + run_start * SNAP_PAGE,
							run * SNAP_PAGE,
							foff + (pg + run_start) * SNAP_PAGE);
					if (ret)
						goto out;
					*data_bytes += run * SNAP_PAGE;
					run = 0;
				}
			}
			sw->done += (uint64_t)n * SNAP_PAGE;
			if (sw->progress)
				sw->progress(sw->opaque, "memory", sw->done, sw->total);
		}
		foff += r->size;
	}
	*nregions = nr;
	ret = finish_file(sw, CVMM_VMM_SNAPSHOT_MEMORY, fd);
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	cvmm_close(sw->pagemap);
	sw->pagemap = -1;
	return ret;
}

static int write_state(struct snap_writer *sw, struct cvmm_vmm *vmm, uint64_t *len)
{
	struct cvmm_snap_writer_opts wo = { .sz = sizeof(wo) };
	struct cvmm_snap_writer *w;
	struct stat st;
	char why[400];
	int fd, ret;

	if ((ret = create_file(sw, CVMM_VMM_SNAPSHOT_STATE, &fd)))
		return ret;
	wo.fd = fd;
	ret = cvmm_snap_writer_create(&wo, &w);
	if (!ret) {
		why[0] = 0;
		ret = cvmm_vmm_save(vmm, w, 0, why, sizeof(why));
		if (ret && why[0]) {
			failf(sw->err, sw->errlen, ret, "snapshot '%s': state: %s", sw->dir, why);
			cvmm_snap_writer_destroy(w);
			close(fd);
			return ret;
		}
		if (!ret)
			ret = cvmm_snap_writer_finish(w);
		cvmm_snap_writer_destroy(w);
	}
	if (ret) {
		close(fd);
		return write_fail(sw, CVMM_VMM_SNAPSHOT_STATE, ret);
	}
	if (fstat(fd, &st)) {
		ret = write_fail(sw, CVMM_VMM_SNAPSHOT_STATE, -errno);
		close(fd);
		return ret;
	}
	*len = (uint64_t)st.st_size;
	return finish_file(sw, CVMM_VMM_SNAPSHOT_STATE, fd);
}

static int write_blob(struct snap_writer *sw, const char *name, const void *p, size_t len)
{
	int fd, ret;

	if ((ret = create_file(sw, name, &fd)))
		return ret;
	ret = cvmm_write_full(fd, p, len);
	if (ret) {
		close(fd);
		return write_fail(sw, name, ret);
	}
	return finish_file(sw, name, fd);
}

static int write_manifest(struct snap_writer *sw, const struct snap_manifest *m,
			  const struct snap_region *regions, const uint64_t *dirty)
{
	struct cvmm_snap_writer *w;
	const void *p;
	size_t len;
	int ret;

	if ((ret = cvmm_snap_writer_create(NULL, &w)))
		return write_fail(sw, CVMM_VMM_SNAPSHOT_MANIFEST, ret);
	if (!(ret = cvmm_snap_write(w, "snapshot", SNAP_MANIFEST_VERSION, m, sizeof(*m))) &&
	    !(ret = cvmm_snap_write(w, "snapshot/regions", SNAP_MANIFEST_VERSION, regions,
				    m->nregions * sizeof(*regions))) &&
	    (!dirty || !(ret = cvmm_snap_write(w, "snapshot/dirty", SNAP_MANIFEST_VERSION, dirty,
					       (size_t)(m->mem_size / SNAP_PAGE + 63) / 64 * 8))) &&
	    !(ret = cvmm_snap_writer_finish(w)) && !(ret = cvmm_snap_writer_buffer(w, &p, &len)))
		ret = write_blob(sw, CVMM_VMM_SNAPSHOT_MANIFEST, p, len);
	else
		ret = write_fail(sw, CVMM_VMM_SNAPSHOT_MANIFEST, ret);
	cvmm_snap_writer_destroy(w);
	return ret;
}

/* Remove the temporary directory and whatever is in it (only our names). */
static void remove_tmp(struct snap_writer *sw)
{
	static const char *const names[] = { CVMM_VMM_SNAPSHOT_CONFIG, CVMM_VMM_SNAPSHOT_STATE,
					     CVMM_VMM_SNAPSHOT_MEMORY, CVMM_VMM_SNAPSHOT_MANIFEST };

	for (size_t i = 0; i < CVMM_ARRAY_SIZE(names); i++)
		unlinkat(sw->dfd, names[i], 0);
	close(sw->dfd);
	sw->dfd = -1;
	rmdir(sw->tmp);
}

/* fsync the directory holding @path (so a rename in it is durable). */
static void sync_parent(const char *path)
{
	char parent[PATH_MAX];
	char *slash;
	int fd;

	snprintf(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = 0;
	else if (slash)
		*slash = 0;
	else
		snprintf(parent, sizeof(parent), ".");
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int cvmm_vmm_snapshot(struct cvmm_vmm *vmm, const char *dir,
		      const struct cvmm_vmm_snapshot_opts *o, char *err, size_t errlen)
{
	struct snap_writer sw = { .dir = dir, .dfd = -1, .pagemap = -1, .err = err,
				  .errlen = errlen };
	struct snap_region regions[SNAP_MAX_REGIONS];
	struct snap_manifest m = { .magic = SNAP_MANIFEST_MAGIC, .version = SNAP_MANIFEST_VERSION };
	struct timespec now;
	struct stat st;
	uint64_t *dirty = NULL;
	size_t dlen;
	int ret;

	if (err && errlen)
		err[0] = 0;
	if (!vmm || !dir || !*dir || (o && o->sz < sizeof(*o)) ||
	    (o && o->config_len && !o->config))
		return failf(err, errlen, -EINVAL, "snapshot: bad arguments");
	if (cvmm_vmm_state(vmm) != CVMM_VMM_PAUSED)
		return failf(err, errlen, -EBUSY, "snapshot: the VM is %s, not paused",
			     cvmm_vmm_state_name(cvmm_vmm_state(vmm)));
	dlen = strlen(dir);
	while (dlen > 1 && dir[dlen - 1] == '/')
		dlen--;
	if (snprintf(sw.tmp, sizeof(sw.tmp), "%.*s.tmp-%d", (int)dlen, dir, (int)getpid()) >=
	    (int)sizeof(sw.tmp))
		return failf(err, errlen, -ENAMETOOLONG, "snapshot '%s': path too long", dir);
	if (!stat(dir, &st)) {
		/* rename() replaces an empty directory, and nothing else. */
		if (!S_ISDIR(st.st_mode) || rmdir(dir))
			return failf(err, errlen, -EEXIST,
				     "snapshot '%s': exists and is not an empty directory", dir);
	}
	if (o) {
		sw.progress = o->progress;
		sw.opaque = o->opaque;
	}
	if (mkdir(sw.tmp, 0700) ||
	    (sw.dfd = open(sw.tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		ret = -errno;
		rmdir(sw.tmp);
		return failf(err, errlen, ret, "snapshot '%s': cannot create '%s': %s", dir, sw.tmp,
			     strerror(-ret));
	}
	m.config_len = o ? o->config_len : 0;
	m.config_crc = cvmm_snap_crc32c(0, o && o->config ? o->config : "", m.config_len);
	clock_gettime(CLOCK_REALTIME, &now);
	m.created_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	m.mem_size = cvmm_guest_mem_total_size(vmm->mem);
	/* The state first: saving it settles the devices, and a device that
	 * finishes in-flight requests then writes guest memory (the data of
	 * a read, the used ring) that the memory file must hold. Written
	 * after the memory, the state said "done" of requests whose results
	 * the memory lacked: the restored guest waited for ever for them
	 * (tests/microvm/snapshot-blk.sh). */
	if ((ret = write_state(&sw, vmm, &m.state_len)))
		goto fail;
	/* With tracking on every snapshot starts a new interval; a diff holds
	 * the last one, the devices' writes while settling included. (A
	 * failed snapshot loses the interval: take a full one next.) */
	ret = cvmm_vi_snap_dirty_collect(vmm, &dirty, m.mem_size / SNAP_PAGE);
	if (ret < 0) {
		failf(err, errlen, ret, "snapshot '%s': dirty log: %s", dir, strerror(-ret));
		goto fail;
	}
	if (o && o->diff && !dirty) {
		ret = failf(err, errlen, -EINVAL,
			    "snapshot '%s': a diff snapshot needs dirty tracking on", dir);
		goto fail;
	}
	if (o && o->diff)
		m.flags |= SNAP_F_DIFF;
	if ((ret = write_memory(&sw, vmm, regions, &m.nregions, &m.data_bytes,
				o && o->diff ? dirty : NULL)) ||
	    (ret = write_blob(&sw, CVMM_VMM_SNAPSHOT_CONFIG, o && o->config ? o->config : "",
			      m.config_len)) ||
	    (ret = write_manifest(&sw, &m, regions, o && o->diff ? dirty : NULL)))
		goto fail;
	if (fsync(sw.dfd)) {
		ret = failf(err, errlen, -errno, "snapshot '%s': fsync of '%s': %s", dir, sw.tmp,
			    strerror(errno));
		goto fail;
	}
	if (rename(sw.tmp, dir)) {
		ret = failf(err, errlen, -errno, "snapshot '%s': cannot rename '%s' to it: %s", dir,
			    sw.tmp, strerror(errno));
		goto fail;
	}
	close(sw.dfd);
	sync_parent(dir);
	free(dirty);
	CVMM_LOG(CVMM_LOG_INFO, VMM_CRATE,
		 "snapshot '%s': %" PRIu64 " bytes of RAM, %" PRIu64 " of them data", dir,
		 m.mem_size, m.data_bytes);
	return 0;
fail:
	free(dirty);
	remove_tmp(&sw);
	return ret;
}
