/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Restoring a snapshot directory (cvmm/vmm.h, docs/snapshot.md): every
 * file checked as hostile input before the VM is touched, then guest
 * memory in one of three modes (Copy, OnDemand through a userfaultfd
 * served by threads of our own, Shared through a MAP_PRIVATE mapping of
 * the memory file), then the state stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cvmm/snapshot.h>

#include "snapshot.h"
#include "uffd.h"

/* Largest config and state files accepted (hostile sizes stop here). */
#define CONFIG_MAX (1u << 20)
#define STATE_MAX (256u << 20)
/* The background fill copies this much per UFFDIO_COPY. */
#define FILL_CHUNK (256u << 10)

/* A diff applied on top when the snapshot is restored (add_diff). */
struct snap_overlay {
	int fd;                 /* its memory file */
	uint64_t *dirty;        /* the pages it holds, one bit per page */
};

#define SNAP_MAX_DIFFS 64u

struct cvmm_vmm_snapshot {
	char dir[PATH_MAX];
	struct snap_overlay ov[SNAP_MAX_DIFFS];
	unsigned int nov;
	struct snap_manifest m;
	struct snap_region region[SNAP_MAX_REGIONS];
	uint64_t *dirty;        /* a diff's "snapshot/dirty", else NULL */
	char *config;           /* NUL-terminated */
	void *state;
	size_t state_len;
	int mem_fd;
};

struct snap_restore {
	struct snap_source src;
	struct vi_uffd *uffd;   /* OnDemand (uffd.c, shared with post-copy), else NULL */
	int stop_efd;           /* stops the fill thread */
	pthread_t fill_thread;
	bool fill_running;
	_Atomic bool filling;
	uint64_t total;
	cvmm_vmm_progress_fn progress;
	void *opaque;
	struct cvmm_guest_mem *mem;
	uint64_t fault_errors;
	struct vi_uffd_opts uffd_opts;  /* the fault thread's hook */
	cvmm_vmm_thread_fn thread_start; /* the program's hook, run first on the fill thread */
	void *thread_opaque;
	sem_t started;
	int hook_ret;
	bool hooks_checked;     /* cvmm_vi_snap_restore_started() asked */
};

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

int cvmm_vmm_mem_restore_parse(const char *s, enum cvmm_vmm_mem_restore *out)
{
	if (!s || !out)
		return -EINVAL;
	if (!strcmp(s, "Copy"))
		*out = CVMM_VMM_MEM_RESTORE_COPY;
	else if (!strcmp(s, "OnDemand"))
		*out = CVMM_VMM_MEM_RESTORE_ON_DEMAND;
	else if (!strcmp(s, "Shared") || !strcmp(s, "CopyOnWrite"))
		*out = CVMM_VMM_MEM_RESTORE_SHARED;
	else
		return -EINVAL;
	return 0;
}

/* ---- opening ------------------------------------------------------------ */

/* Read all of @name (at most @max bytes) into a fresh buffer with a NUL after it. */
static int read_file(struct cvmm_vmm_snapshot *s, const char *name, size_t max, void **out,
		     size_t *len, char *err, size_t errlen)
{
	char path[PATH_MAX + 32];
	struct stat st;
	char *buf;
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return failf(err, errlen, -errno, "snapshot '%s': cannot open '%s': %s", s->dir,
			     path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		ret = failf(err, errlen, -EINVAL,
			    "snapshot '%s': '%s' is not a regular file of at most %zu bytes", s->dir,
			    path, max);
		close(fd);
		return ret;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return failf(err, errlen, -ENOMEM, "snapshot '%s': out of memory", s->dir);
	}
	ret = cvmm_read_full(fd, buf, (size_t)st.st_size);
	close(fd);
	if (ret) {
		free(buf);
		return failf(err, errlen, ret == -EPIPE || ret == -EIO ? -EINVAL : ret,
			     "snapshot '%s': reading '%s': %s", s->dir, path,
			     ret == -EPIPE ? "shorter than its size" : strerror(-ret));
	}
	buf[st.st_size] = 0;
	*out = buf;
	*len = (size_t)st.st_size;
	return 0;
}

static int manifest_fail(struct cvmm_vmm_snapshot *s, char *err, size_t errlen, const char *fmt,
			 ...) __attribute__((format(printf, 4, 5)));
static int manifest_fail(struct cvmm_vmm_snapshot *s, char *err, size_t errlen, const char *fmt,
			 ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return failf(err, errlen, -EINVAL, "snapshot '%s': manifest '%s/%s': %s", s->dir, s->dir,
		     CVMM_VMM_SNAPSHOT_MANIFEST, why);
}

static int load_manifest(struct cvmm_vmm_snapshot *s, bool allow_diff, char *err, size_t errlen)
{
	struct cvmm_snap_reader *r = NULL;
	struct cvmm_snap_section sec;
	struct cvmm_snap_error e;
	char line[CVMM_SNAP_ERROR_LINE];
	uint64_t off = 0;
	void *buf;
	size_t len;
	int ret;

	if ((ret = read_file(s, CVMM_VMM_SNAPSHOT_MANIFEST, 1u << 16, &buf, &len, err, errlen)))
		return ret;
	ret = cvmm_snap_reader_open(buf, len, &r, &e);
	if (ret) {
		ret = manifest_fail(s, err, errlen, "%s", cvmm_snap_error_format(&e, line, sizeof(line)));
		goto out;
	}
	if (cvmm_snap_reader_find(r, "snapshot", &sec) || sec.len != sizeof(s->m)) {
		ret = manifest_fail(s, err, errlen, "no 'snapshot' section of %zu bytes", sizeof(s->m));
		goto out;
	}
	memcpy(&s->m, sec.data, sizeof(s->m));
	if (memcmp(s->m.magic, SNAP_MANIFEST_MAGIC, 8) || sec.version != SNAP_MANIFEST_VERSION ||
	    s->m.version != SNAP_MANIFEST_VERSION) {
		ret = manifest_fail(s, err, errlen, "not a version %u cvmm snapshot",
				    SNAP_MANIFEST_VERSION);
		goto out;
	}
	if (!s->m.nregions || s->m.nregions > SNAP_MAX_REGIONS ||
	    cvmm_snap_reader_find(r, "snapshot/regions", &sec) ||
	    sec.len != s->m.nregions * sizeof(struct snap_region)) {
		ret = manifest_fail(s, err, errlen, "field 'nregions': %u regions without a matching "
				    "'snapshot/regions' section", s->m.nregions);
		goto out;
	}
	memcpy(s->region, sec.data, sec.len);
	for (unsigned int i = 0; i < s->m.nregions; i++) {
		const struct snap_region *g = &s->region[i];

		if (g->offset != off || !g->size || g->size % SNAP_PAGE || g->gpa % SNAP_PAGE ||
		    g->gpa + g->size < g->gpa || (i && g->gpa < s->region[i - 1].gpa + s->region[i - 1].size)) {
			ret = manifest_fail(s, err, errlen,
					    "region %u (gpa %#" PRIx64 ", %" PRIu64 " bytes at %" PRIu64
					    ") is not the next page-aligned part of the memory file",
					    i, g->gpa, g->size, g->offset);
			goto out;
		}
		off += g->size;
	}
	if (off != s->m.mem_size || s->m.config_len > CONFIG_MAX || s->m.state_len > STATE_MAX ||
	    s->m.data_bytes > s->m.mem_size) {
		ret = manifest_fail(s, err, errlen, "sizes do not add up (RAM %" PRIu64
				    ", regions %" PRIu64 ", config %" PRIu64 ", state %" PRIu64 ")",
				    s->m.mem_size, off, s->m.config_len, s->m.state_len);
		goto out;
	}
	if (s->m.flags & ~SNAP_F_DIFF) {
		ret = manifest_fail(s, err, errlen, "field 'flags': unknown bits %#x", s->m.flags);
		goto out;
	}
	if (s->m.flags & SNAP_F_DIFF) {
		size_t bytes = (size_t)(s->m.mem_size / SNAP_PAGE + 63) / 64 * 8;

		if (!allow_diff) {
			ret = manifest_fail(s, err, errlen,
					    "a diff snapshot (the pages written since the one before): "
					    "merge it onto its base first");
			goto out;
		}
		if (cvmm_snap_reader_find(r, "snapshot/dirty", &sec) || sec.len != bytes) {
			ret = manifest_fail(s, err, errlen, "a diff without a 'snapshot/dirty' "
					    "section of %zu bytes", bytes);
			goto out;
		}
		s->dirty = malloc(bytes);
		if (!s->dirty) {
			ret = -ENOMEM;
			goto out;
		}
		memcpy(s->dirty, sec.data, bytes);
	}
	ret = 0;
out:
	cvmm_snap_reader_destroy(r);
	free(buf);
	return ret;
}

static int open_memory(struct cvmm_vmm_snapshot *s, char *err, size_t errlen)
{
	char path[PATH_MAX + 32];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", s->dir, CVMM_VMM_SNAPSHOT_MEMORY);
	s->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->mem_fd < 0)
		return failf(err, errlen, -errno, "snapshot '%s': memory file '%s': %s", s->dir, path,
			     strerror(errno));
	if (fstat(s->mem_fd, &st) || !S_ISREG(st.st_mode))
		return failf(err, errlen, -EINVAL, "snapshot '%s': memory file '%s': not a regular file",
			     s->dir, path);
	if ((uint64_t)st.st_size != s->m.mem_size)
		return failf(err, errlen, -EINVAL,
			     "snapshot '%s': memory file '%s': %" PRIu64
			     " bytes, the snapshot's RAM needs %" PRIu64,
			     s->dir, path, (uint64_t)st.st_size, s->m.mem_size);
	return 0;
}

int cvmm_vmm_snapshot_open(const char *dir, struct cvmm_vmm_snapshot **out, char *err,
			   size_t errlen)
{
	struct cvmm_vmm_snapshot *s;
	struct cvmm_snap_reader *r;
	struct cvmm_snap_error e;
	char line[CVMM_SNAP_ERROR_LINE];
	size_t len;
	int ret;

	if (err && errlen)
		err[0] = 0;
	if (!dir || !*dir || !out)
		return failf(err, errlen, -EINVAL, "snapshot: no directory given");
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->mem_fd = -1;
	if (snprintf(s->dir, sizeof(s->dir), "%s", dir) >= (int)sizeof(s->dir)) {
		ret = failf(err, errlen, -ENAMETOOLONG, "snapshot: path too long");
		goto fail;
	}
	if ((ret = load_manifest(s, false, err, errlen)) ||
	    (ret = read_file(s, CVMM_VMM_SNAPSHOT_CONFIG, CONFIG_MAX, (void **)&s->config, &len, err,
			     errlen)))
		goto fail;
	if (len != s->m.config_len || cvmm_snap_crc32c(0, s->config, len) != s->m.config_crc) {
		ret = failf(err, errlen, -EINVAL,
			    "snapshot '%s': config '%s/%s': %zu bytes with CRC %#x, the manifest says "
			    "%" PRIu64 " bytes with CRC %#x",
			    dir, dir, CVMM_VMM_SNAPSHOT_CONFIG, len,
			    cvmm_snap_crc32c(0, s->config, len), s->m.config_len, s->m.config_crc);
		goto fail;
	}
	if ((ret = read_file(s, CVMM_VMM_SNAPSHOT_STATE, STATE_MAX, &s->state, &s->state_len, err,
			     errlen)))
		goto fail;
	if (s->state_len != s->m.state_len) {
		ret = failf(err, errlen, -EINVAL,
			    "snapshot '%s': state '%s/%s': %zu bytes, the manifest says %" PRIu64,
			    dir, dir, CVMM_VMM_SNAPSHOT_STATE, s->state_len, s->m.state_len);
		goto fail;
	}
	/* The whole framing and every CRC now, before a VM is made for it. */
	ret = cvmm_snap_reader_open(s->state, s->state_len, &r, &e);
	if (ret) {
		ret = failf(err, errlen, -EINVAL, "snapshot '%s': state '%s/%s': %s", dir, dir,
			    CVMM_VMM_SNAPSHOT_STATE, cvmm_snap_error_format(&e, line, sizeof(line)));
		goto fail;
	}
	cvmm_snap_reader_destroy(r);
	if ((ret = open_memory(s, err, errlen)))
		goto fail;
	*out = s;
	return 0;
fail:
	cvmm_vmm_snapshot_close(s);
	return ret;
}

const char *cvmm_vmm_snapshot_config(const struct cvmm_vmm_snapshot *s, size_t *len)
{
	if (len)
		*len = s ? (size_t)s->m.config_len : 0;
	return s ? s->config : NULL;
}

uint64_t cvmm_vmm_snapshot_mem_size(const struct cvmm_vmm_snapshot *s)
{
	return s ? s->m.mem_size : 0;
}

void cvmm_vmm_snapshot_close(struct cvmm_vmm_snapshot *s)
{
	if (!s)
		return;
	cvmm_close(s->mem_fd);
	free(s->config);
	free(s->state);
	free(s->dirty);
	for (unsigned int i = 0; i < s->nov; i++) {
		cvmm_close(s->ov[i].fd);
		free(s->ov[i].dirty);
	}
	free(s);
}

int cvmm_vmm_snapshot_add_diff(struct cvmm_vmm_snapshot *s, const char *dir, char *err,
			       size_t errlen)
{
	struct cvmm_vmm_snapshot *d;
	struct cvmm_snap_reader *r;
	struct cvmm_snap_error e;
	char line[CVMM_SNAP_ERROR_LINE];
	size_t len;
	int ret;

	if (err && errlen)
		err[0] = 0;
	if (!s || !dir || !*dir)
		return failf(err, errlen, -EINVAL, "diff: no directory given");
	if (s->nov == SNAP_MAX_DIFFS)
		return failf(err, errlen, -E2BIG, "diff '%s': at most %u diffs on one base", dir,
			     SNAP_MAX_DIFFS);
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->mem_fd = -1;
	snprintf(d->dir, sizeof(d->dir), "%s", dir);
	/* Everything open checks, and that it is a diff of the same RAM. */
	if ((ret = load_manifest(d, true, err, errlen)) ||
	    (ret = read_file(d, CVMM_VMM_SNAPSHOT_CONFIG, CONFIG_MAX, (void **)&d->config, &len, err,
			     errlen)))
		goto out;
	if (!d->dirty) {
		ret = failf(err, errlen, -EINVAL, "diff '%s': a full snapshot, not a diff", dir);
		goto out;
	}
	if (len != d->m.config_len || cvmm_snap_crc32c(0, d->config, len) != d->m.config_crc) {
		ret = failf(err, errlen, -EINVAL, "snapshot '%s': config '%s/%s': size or CRC is not "
			    "the manifest's", dir, dir, CVMM_VMM_SNAPSHOT_CONFIG);
		goto out;
	}
	if ((ret = read_file(d, CVMM_VMM_SNAPSHOT_STATE, STATE_MAX, &d->state, &d->state_len, err,
			     errlen)))
		goto out;
	if (d->state_len != d->m.state_len || cvmm_snap_reader_open(d->state, d->state_len, &r, &e)) {
		ret = failf(err, errlen, -EINVAL, "snapshot '%s': state '%s/%s': %s", dir, dir,
			    CVMM_VMM_SNAPSHOT_STATE, d->state_len != d->m.state_len ?
			    "not the manifest's size" : cvmm_snap_error_format(&e, line, sizeof(line)));
		goto out;
	}
	cvmm_snap_reader_destroy(r);
	if ((ret = open_memory(d, err, errlen)))
		goto out;
	if (d->m.mem_size != s->m.mem_size || d->m.nregions != s->m.nregions ||
	    memcmp(d->region, s->region, s->m.nregions * sizeof(s->region[0]))) {
		ret = failf(err, errlen, -EINVAL, "diff '%s' and its base '%s' have different RAM "
			    "layouts", dir, s->dir);
		goto out;
	}
	if (d->m.created_ns < s->m.created_ns) {
		ret = failf(err, errlen, -EINVAL, "diff '%s' is older than what it is applied on "
			    "('%s'): diffs go oldest first", dir, s->dir);
		goto out;
	}
	/* The newest diff's state and config are the VM's. */
	s->ov[s->nov++] = (struct snap_overlay){ d->mem_fd, d->dirty };
	d->mem_fd = -1;
	d->dirty = NULL;
	free(s->config);
	free(s->state);
	s->config = d->config;
	s->state = d->state;
	s->state_len = d->state_len;
	s->m.config_len = d->m.config_len;
	s->m.config_crc = d->m.config_crc;
	s->m.state_len = d->m.state_len;
	s->m.created_ns = d->m.created_ns;
	d->config = NULL;
	d->state = NULL;
	ret = 0;
out:
	cvmm_vmm_snapshot_close(d);
	return ret;
}

/* The pages each diff holds, oldest first, written over the restored
 * base through the VMM's mapping (OnDemand: a missing page faults in
 * from the base first; Shared: copied on write). */
static int apply_overlays(struct cvmm_vmm *vmm, const struct cvmm_vmm_snapshot *s)
{
	for (unsigned int k = 0; k < s->nov; k++) {
		const struct snap_overlay *ov = &s->ov[k];

		for (unsigned int i = 0; i < s->m.nregions; i++) {
			const struct snap_region *g = &s->region[i];
			uint8_t *host = cvmm_guest_mem_region(vmm->mem, i)->host;
			uint64_t first = g->offset / SNAP_PAGE, n = g->size / SNAP_PAGE;

			for (uint64_t p = 0; p < n;) {
				uint64_t f = first + p, q = p;

				if (!((ov->dirty[f / 64] >> (f % 64)) & 1)) {
					/* a whole empty word at a time */
					p = !(f % 64) && !ov->dirty[f / 64] ? p + 64 : p + 1;
					continue;
				}
				while (q < n && q - p < 2048 &&
				       ((ov->dirty[(first + q) / 64] >> ((first + q) % 64)) & 1))
					q++;
				{
					size_t len = (size_t)((q - p) * SNAP_PAGE);
					uint8_t *dst = host + p * SNAP_PAGE;
					off_t off = (off_t)(f * SNAP_PAGE);

					while (len) {
						ssize_t rd = pread(ov->fd, dst, len, off);

						if (rd < 0 && errno == EINTR)
							continue;
						if (rd <= 0)
							return rd < 0 ? -errno : -EIO;
						dst += rd;
						off += rd;
						len -= (size_t)rd;
					}
				}
				p = q;
			}
		}
	}
	return 0;
}

/* ---- the memory file's data map ----------------------------------------- */

/* The file's data extents (SEEK_DATA/SEEK_HOLE), as a list and as one bit
 * per page; the bitmap is calloc'ed (pages of it never set are never
 * touched), so both cost what the data costs, not the file's size. */
static int build_data_map(struct snap_source *src, uint64_t size, uint64_t *data_bytes)
{
	off_t pos = 0, end = (off_t)size;
	size_t cap = 0;

	src->npages = size / SNAP_PAGE;
	src->data = calloc((size_t)(src->npages + 63) / 64, sizeof(uint64_t));
	if (!src->data)
		return -ENOMEM;
	*data_bytes = 0;
	while (pos < end) {
		off_t d = lseek(src->fd, pos, SEEK_DATA), h;
		uint64_t first, last;

		if (d < 0) {
			if (errno == ENXIO)
				break;
			return -errno;
		}
		h = lseek(src->fd, d, SEEK_HOLE);
		if (h < 0 || h > end)
			h = end;
		first = (uint64_t)d / SNAP_PAGE;
		last = ((uint64_t)h + SNAP_PAGE - 1) / SNAP_PAGE;
		for (uint64_t p = first; p < last; p++)
			src->data[p / 64] |= 1ull << (p % 64);
		if (src->next == cap) {
			struct snap_extent *n = realloc(src->ext, (cap ? cap * 2 : 64) * sizeof(*n));

			if (!n)
				return -ENOMEM;
			src->ext = n;
			cap = cap ? cap * 2 : 64;
		}
		src->ext[src->next++] = (struct snap_extent){ first * SNAP_PAGE, (last - first) * SNAP_PAGE };
		*data_bytes += (uint64_t)(h - d);
		pos = h;
	}
	return 0;
}

/* Call @fn for each part of a data extent inside one RAM region, in file
 * order (an extent may run over a region's end into the next). */
typedef int (*piece_fn)(void *ctx, unsigned int region, uint64_t off, uint64_t len);

static int for_each_piece(const struct snap_source *src, piece_fn fn, void *ctx)
{
	size_t e = 0;
	int ret;

	for (unsigned int i = 0; i < src->nregions; i++) {
		uint64_t rs = src->region[i].offset, re = rs + src->region[i].size;

		while (e < src->next && src->ext[e].off + src->ext[e].len <= rs)
			e++;
		for (size_t k = e; k < src->next && src->ext[k].off < re; k++) {
			uint64_t a = src->ext[k].off > rs ? src->ext[k].off : rs;
			uint64_t b = src->ext[k].off + src->ext[k].len < re ?
					     src->ext[k].off + src->ext[k].len : re;

			if ((ret = fn(ctx, i, a, b - a)))
				return ret;
		}
	}
	return 0;
}

/* ---- Copy ----------------------------------------------------------------- */

struct copy_ctx {
	struct cvmm_vmm *vmm;
	const struct cvmm_vmm_restore_opts *o;
	const struct snap_source *src;
	uint64_t done, total;
};

static int copy_piece(void *arg, unsigned int region, uint64_t off, uint64_t len)
{
	struct copy_ctx *c = arg;
	const struct cvmm_mem_region *r = cvmm_guest_mem_region(c->vmm->mem, region);
	uint8_t *dst = r->host + (off - c->src->region[region].offset);

	while (len) {
		/* 8 MiB a call: progress between them */
		size_t n = len > (8u << 20) ? (8u << 20) : (size_t)len;
		ssize_t rd = pread(c->src->fd, dst, n, (off_t)off);

		if (rd < 0 && errno == EINTR)
			continue;
		if (rd <= 0)
			return rd < 0 ? -errno : -EIO;
		dst += rd;
		off += (uint64_t)rd;
		len -= (uint64_t)rd;
		c->done += (uint64_t)rd;
		if (c->o->progress)
			c->o->progress(c->o->opaque, "memory", c->done, c->total);
	}
	return 0;
}

static int restore_copy(struct cvmm_vmm *vmm, const struct cvmm_vmm_restore_opts *o,
			struct snap_source *src, uint64_t total)
{
	struct copy_ctx c = { .vmm = vmm, .o = o, .src = src, .total = total };
	int ret;

	/* Fresh RAM reads as zero: holes need nothing once what the VM may
	 * hold already is gone. */
	for (unsigned int i = 0; i < src->nregions; i++)
		if ((ret = cvmm_vi_mem_drop_resident(cvmm_guest_mem_region(vmm->mem, i))))
			return ret;
	return for_each_piece(src, copy_piece, &c);
}

/* ---- OnDemand ------------------------------------------------------------- */

/* The file offset of host address @a, or UINT64_MAX. */
static uint64_t host_to_file(const struct snap_restore *sr, uint64_t a)
{
	for (unsigned int i = 0; i < sr->src.nregions; i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(sr->mem, i);

		if (a >= (uintptr_t)r->host && a - (uintptr_t)r->host < r->size)
			return sr->src.region[i].offset + (a - (uintptr_t)r->host);
	}
	return UINT64_MAX;
}

/* Copy @len bytes of file data at @off into the missing pages at @dst.
 * Pages already there (the other thread won) are skipped. */
static int fill(struct snap_restore *sr, uint8_t *dst, uint64_t off, uint64_t len, void *buf)
{
	if (pread(sr->src.fd, buf, len, (off_t)off) != (ssize_t)len)
		return -EIO;
	return cvmm_vi_uffd_copy(sr->uffd, dst, buf, len);
}

/* The fault thread's callback: the page from the file, a hole as the zero
 * page without a read. */
static int serve_fault(void *opaque, uint64_t page, void *buf)
{
	struct snap_restore *sr = opaque;
	uint64_t off = host_to_file(sr, page);
	int ret;

	if (off != UINT64_MAX && snap_source_data(&sr->src, off / SNAP_PAGE))
		ret = fill(sr, (uint8_t *)(uintptr_t)page, off, SNAP_PAGE, buf);
	else
		ret = cvmm_vi_uffd_zero(sr->uffd, (uint8_t *)(uintptr_t)page, SNAP_PAGE);
	if (!ret)
		cvmm_vi_uffd_wake(sr->uffd, page);
	return ret;
}

struct fill_ctx {
	struct snap_restore *sr;
	void *buf;
};

/* One data piece, a chunk at a time; -ECANCELED when the VM goes away. */
static int fill_piece(void *arg, unsigned int region, uint64_t off, uint64_t len)
{
	struct fill_ctx *c = arg;
	struct snap_restore *sr = c->sr;
	uint8_t *dst = cvmm_guest_mem_region(sr->mem, region)->host + (off - sr->src.region[region].offset);

	for (uint64_t pos = 0; pos < len; pos += FILL_CHUNK) {
		struct pollfd pf = { .fd = sr->stop_efd, .events = POLLIN };
		uint64_t n = len - pos < FILL_CHUNK ? len - pos : FILL_CHUNK;

		if (poll(&pf, 1, 0) > 0)
			return -ECANCELED;
		if (fill(sr, dst + pos, off + pos, n, c->buf))
			sr->fault_errors++;
		if (sr->progress)
			sr->progress(sr->opaque, "stream", atomic_load(&sr->uffd->done), sr->total);
	}
	return 0;
}

static void *fill_main(void *arg)
{
	struct snap_restore *sr = arg;
	struct fill_ctx c = { .sr = sr };

	cvmm_thread_set_name("cvmm-fill");
	if (!cvmm_vi_thread_hook_run(sr->thread_start, sr->thread_opaque, "fill", &sr->hook_ret,
				     &sr->started)) {
		c.buf = aligned_alloc(SNAP_PAGE, FILL_CHUNK);
		if (c.buf)
			for_each_piece(&sr->src, fill_piece, &c);
		free(c.buf);
	}
	atomic_store(&sr->filling, false);
	return NULL;
}

/* Guest RAM to register: the data pieces, those of one region less than
 * MERGE_GAP apart joined (a hole inside faults to a zero page), so that a
 * fragmented file cannot split the mapping into too many VMAs. Pages
 * outside read as zero without a fault to us: the kernel's own. */
#define MERGE_GAP (2ull << 20)
#define RANGES_MAX 4096u

struct range_ctx {
	struct snap_restore *sr;
	struct vi_uffd_range *r;
	size_t n;
	unsigned int last_region;
};

static int range_piece(void *arg, unsigned int region, uint64_t off, uint64_t len)
{
	struct range_ctx *c = arg;
	uint8_t *host = cvmm_guest_mem_region(c->sr->mem, region)->host +
			(off - c->sr->src.region[region].offset);
	struct vi_uffd_range *prev = c->n ? &c->r[c->n - 1] : NULL;

	if (prev && c->last_region == region && host - (prev->host + prev->len) < (ptrdiff_t)MERGE_GAP) {
		prev->len = (uint64_t)(host + len - prev->host);
		return 0;
	}
	if (c->n == RANGES_MAX)
		return -E2BIG;
	c->r[c->n++] = (struct vi_uffd_range){ host, len };
	c->last_region = region;
	return 0;
}

static int restore_on_demand(struct cvmm_vmm *vmm, struct snap_restore *sr, char *err,
			     size_t errlen)
{
	struct range_ctx rc = { .sr = sr };
	struct vi_uffd_opts *uo = &sr->uffd_opts;
	int ret;

	/* Absent pages fault (registered ranges) or read as zero (the rest). */
	for (unsigned int i = 0; i < sr->src.nregions; i++)
		if ((ret = cvmm_vi_mem_drop_resident(cvmm_guest_mem_region(vmm->mem, i))))
			return failf(err, errlen, ret, "OnDemand restore: madvise: %s", strerror(-ret));
	rc.r = malloc(RANGES_MAX * sizeof(*rc.r));
	if (!rc.r)
		return -ENOMEM;
	ret = for_each_piece(&sr->src, range_piece, &rc);
	if (ret == -E2BIG) {
		/* Too fragmented to register piece by piece: whole regions. */
		rc.n = 0;
		for (unsigned int i = 0; i < sr->src.nregions; i++) {
			const struct cvmm_mem_region *r = cvmm_guest_mem_region(vmm->mem, i);

			rc.r[rc.n++] = (struct vi_uffd_range){ r->host, r->size };
		}
	}
	*uo = (struct vi_uffd_opts){
		.ranges = rc.r, .nranges = rc.n, .thread_start = vmm->opts.thread_start,
		.thread_opaque = vmm->opts.opaque, .thread_type = "uffd",
	};
	ret = cvmm_vi_uffd_start(&sr->uffd, vmm->mem, uo, serve_fault, sr, "OnDemand restore", err,
				 errlen);
	free(rc.r);
	uo->ranges = NULL;
	if (ret)
		return ret;
	sr->stop_efd = cvmm_eventfd_create(0);
	if (sr->stop_efd < 0)
		return failf(err, errlen, sr->stop_efd, "OnDemand restore: eventfd: %s",
			     strerror(-sr->stop_efd));
	sr->thread_start = vmm->opts.thread_start;
	sr->thread_opaque = vmm->opts.opaque;
	if (sem_init(&sr->started, 0, 0))
		return failf(err, errlen, -errno, "OnDemand restore: sem_init: %s", strerror(errno));
	atomic_store(&sr->filling, true);
	if ((ret = -pthread_create(&sr->fill_thread, NULL, fill_main, sr))) {
		atomic_store(&sr->filling, false);
		return failf(err, errlen, ret, "OnDemand restore: fill thread: %s", strerror(-ret));
	}
	sr->fill_running = true;
	return 0;
}

/* Both threads ran the program's hook (their seccomp filters are in)
 * before the guest may run: cvmm_vmm_start() asks, so that their start
 * overlaps the state restore and the rest of the program's set-up. */
int cvmm_vi_snap_restore_started(struct cvmm_vmm *vmm)
{
	struct snap_restore *sr = vmm->snap;
	int ret;

	if (!sr || !sr->uffd || sr->hooks_checked)
		return 0;
	ret = cvmm_vi_uffd_started(sr->uffd, "OnDemand restore", NULL, 0);
	if (!ret) {
		cvmm_vi_thread_hook_wait(&sr->started);
		sem_post(&sr->started);
		ret = sr->hook_ret > 0 ? -EPERM : sr->hook_ret;
	}
	if (ret)
		CVMM_LOG(CVMM_LOG_ERROR, VMM_CRATE,
			 "OnDemand restore: a fault or fill thread's start hook failed: %s",
			 strerror(-ret));
	sr->hooks_checked = true;
	return ret;
}

void cvmm_vi_snap_restore_fini(struct cvmm_vmm *vmm)
{
	struct snap_restore *sr = vmm->snap;

	if (!sr)
		return;
	if (sr->stop_efd >= 0)
		cvmm_eventfd_write(sr->stop_efd, 1);
	if (sr->fill_running)
		pthread_join(sr->fill_thread, NULL);
	cvmm_vi_uffd_stop(sr->uffd);
	cvmm_close(sr->stop_efd);
	cvmm_close(sr->src.fd);
	free(sr->src.data);
	free(sr->src.ext);
	free(sr);
	vmm->snap = NULL;
}

struct snap_source *cvmm_vi_snap_source(const struct cvmm_vmm *vmm)
{
	return vmm->snap ? &vmm->snap->src : NULL;
}

bool cvmm_vmm_restore_progress(const struct cvmm_vmm *vmm, uint64_t *done, uint64_t *total)
{
	const struct snap_restore *sr = vmm ? vmm->snap : NULL;

	if (done)
		*done = sr ? (sr->uffd ? atomic_load(&sr->uffd->done) : 0) : 0;
	if (total)
		*total = sr ? sr->total : 0;
	return sr && atomic_load(&sr->filling);
}

/* ---- restore -------------------------------------------------------------- */

static int check_layout(struct cvmm_vmm *vmm, const struct cvmm_vmm_snapshot *s, char *err,
			size_t errlen)
{
	unsigned int n = cvmm_guest_mem_num_regions(vmm->mem);

	if (cvmm_guest_mem_total_size(vmm->mem) != s->m.mem_size || n != s->m.nregions)
		goto mismatch;
	for (unsigned int i = 0; i < n; i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(vmm->mem, i);

		if (r->gpa != s->region[i].gpa || r->size != s->region[i].size)
			goto mismatch;
	}
	return 0;
mismatch:
	return failf(err, errlen, -EINVAL,
		     "snapshot '%s': its RAM (%" PRIu64 " bytes in %u regions) does not match this "
		     "VM's (%" PRIu64 " bytes in %u)",
		     s->dir, s->m.mem_size, s->m.nregions, cvmm_guest_mem_total_size(vmm->mem), n);
}

int cvmm_vmm_snapshot_restore(struct cvmm_vmm *vmm, struct cvmm_vmm_snapshot *s,
			      const struct cvmm_vmm_restore_opts *o, char *err, size_t errlen)
{
	struct cvmm_vmm_restore_opts def = { .sz = sizeof(def) };
	struct cvmm_snap_reader *r;
	struct cvmm_snap_error e;
	struct snap_restore *sr;
	char line[CVMM_SNAP_ERROR_LINE];
	uint64_t data_bytes = 0;
	bool private_ram = true;
	int ret;

	if (err && errlen)
		err[0] = 0;
	if (!o)
		o = &def;
	if (!vmm || !s || o->sz < sizeof(*o) || o->mode > CVMM_VMM_MEM_RESTORE_SHARED)
		return failf(err, errlen, -EINVAL, "restore: bad arguments");
	if (cvmm_vmm_state(vmm) != CVMM_VMM_CREATED || vmm->restored || vmm->snap)
		return failf(err, errlen, -EBUSY, "restore: the VM ran or was restored already");
	/* A VM restore refused stays unstartable whatever the reason: it
	 * was made for this snapshot and holds no guest. */
	if ((ret = check_layout(vmm, s, err, errlen)))
		goto broken;
	for (unsigned int i = 0; i < cvmm_guest_mem_num_regions(vmm->mem); i++)
		if (cvmm_guest_mem_region(vmm->mem, i)->fd >= 0)
			private_ram = false;
	if (!private_ram && o->mode != CVMM_VMM_MEM_RESTORE_COPY) {
		ret = failf(err, errlen, -EINVAL,
			     "restore: memory_restore_mode %s needs private guest RAM; this VM shares "
			     "it (vhost-user devices): use Copy",
			     o->mode == CVMM_VMM_MEM_RESTORE_SHARED ? "Shared" : "OnDemand");
		goto broken;
	}
	sr = calloc(1, sizeof(*sr));
	if (!sr)
		return -ENOMEM;
	sr->stop_efd = -1;
	sr->mem = vmm->mem;
	sr->progress = o->progress;
	sr->opaque = o->opaque;
	sr->src.nregions = s->m.nregions;
	memcpy(sr->src.region, s->region, sizeof(s->region));
	sr->src.fd = fcntl(s->mem_fd, F_DUPFD_CLOEXEC, 3);
	if (sr->src.fd < 0) {
		free(sr);
		return failf(err, errlen, -errno, "restore: dup: %s", strerror(errno));
	}
	vmm->snap = sr;
	/* From here a failure leaves the VM unstartable. */
	ret = build_data_map(&sr->src, s->m.mem_size, &data_bytes);
	if (ret) {
		failf(err, errlen, ret, "snapshot '%s': memory file: %s", s->dir, strerror(-ret));
		goto broken;
	}
	sr->total = data_bytes;
	switch (o->mode) {
	case CVMM_VMM_MEM_RESTORE_COPY:
		ret = restore_copy(vmm, o, &sr->src, data_bytes);
		if (ret)
			failf(err, errlen, ret, "snapshot '%s': reading memory file '%s/%s': %s", s->dir,
			      s->dir, CVMM_VMM_SNAPSHOT_MEMORY, strerror(-ret));
		/* Nothing refers to the file any more. */
		cvmm_vi_snap_restore_fini(vmm);
		break;
	case CVMM_VMM_MEM_RESTORE_SHARED:
		for (unsigned int i = 0; i < s->m.nregions && !ret; i++)
			ret = cvmm_guest_mem_region_map_private(vmm->mem, i, sr->src.fd,
								s->region[i].offset, o->prefault);
		if (ret)
			failf(err, errlen, ret, "snapshot '%s': mapping memory file: %s", s->dir,
			      strerror(-ret));
		break;
	case CVMM_VMM_MEM_RESTORE_ON_DEMAND:
		ret = restore_on_demand(vmm, sr, err, errlen);
		break;
	}
	if (!ret && s->nov && (ret = apply_overlays(vmm, s)))
		failf(err, errlen, ret, "snapshot '%s': applying its diffs: %s", s->dir,
		      strerror(-ret));
	if (ret)
		goto broken;
	ret = cvmm_snap_reader_open(s->state, s->state_len, &r, &e);
	if (ret) {
		failf(err, errlen, ret, "snapshot '%s': state: %s", s->dir,
		      cvmm_snap_error_format(&e, line, sizeof(line)));
		goto broken;
	}
	{
		char why[400] = "";

		ret = cvmm_vmm_restore(vmm, r, o->flags & CVMM_VMM_RESTORE_CLOCK_REALTIME, why,
				       sizeof(why));
		if (ret)
			failf(err, errlen, ret, "snapshot '%s': state '%s/%s': %s", s->dir, s->dir,
			      CVMM_VMM_SNAPSHOT_STATE, why[0] ? why : strerror(-ret));
	}
	cvmm_snap_reader_destroy(r);
	if (ret)
		goto broken;
	if (o->prefault && o->mode == CVMM_VMM_MEM_RESTORE_ON_DEMAND && vmm->snap) {
		pthread_join(vmm->snap->fill_thread, NULL);
		vmm->snap->fill_running = false;
	}
	return 0;
broken:
	vmm->broken = true;
	return ret;
}

/* ---- merging a diff onto its base -------------------------------------- */

/* Replace @base/@name by a copy of @diff/@name (through a temporary name). */
static int replace_file(const char *base, const char *diff, const char *name, char *err,
			size_t errlen)
{
	char src[PATH_MAX + 32], tmp[PATH_MAX + 48], dst[PATH_MAX + 32];
	char buf[65536];
	int in, out, ret = 0;
	ssize_t n;

	snprintf(src, sizeof(src), "%s/%s", diff, name);
	snprintf(dst, sizeof(dst), "%s/%s", base, name);
	snprintf(tmp, sizeof(tmp), "%s/%s.merging", base, name);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return failf(err, errlen, -errno, "merge: cannot open '%s': %s", src, strerror(errno));
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		ret = failf(err, errlen, -errno, "merge: cannot create '%s': %s", tmp, strerror(errno));
		close(in);
		return ret;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if ((ret = cvmm_write_full(out, buf, (size_t)n)))
			break;
	if (n < 0)
		ret = -errno;
	if (!ret && fsync(out))
		ret = -errno;
	close(in);
	if (close(out) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, dst))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return failf(err, errlen, ret, "merge: writing '%s': %s", dst, strerror(-ret));
	}
	return 0;
}

static int write_merged_manifest(const char *base, const struct cvmm_vmm_snapshot *d,
				 uint64_t data_bytes, char *err, size_t errlen)
{
	struct snap_manifest m = d->m;
	struct cvmm_snap_writer *w;
	char path[PATH_MAX + 32];
	const void *p;
	size_t len;
	int fd, ret;

	m.flags &= ~SNAP_F_DIFF;
	m.data_bytes = data_bytes;
	if ((ret = cvmm_snap_writer_create(NULL, &w)))
		return ret;
	if (!(ret = cvmm_snap_write(w, "snapshot", SNAP_MANIFEST_VERSION, &m, sizeof(m))) &&
	    !(ret = cvmm_snap_write(w, "snapshot/regions", SNAP_MANIFEST_VERSION, d->region,
				    m.nregions * sizeof(d->region[0]))) &&
	    !(ret = cvmm_snap_writer_finish(w)) && !(ret = cvmm_snap_writer_buffer(w, &p, &len))) {
		snprintf(path, sizeof(path), "%s/%s.new", base, CVMM_VMM_SNAPSHOT_MANIFEST);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			ret = -errno;
		} else {
			ret = cvmm_write_full(fd, p, len);
			if (!ret && fsync(fd))
				ret = -errno;
			close(fd);
		}
		if (!ret) {
			char dst[PATH_MAX + 32];

			snprintf(dst, sizeof(dst), "%s/%s", base, CVMM_VMM_SNAPSHOT_MANIFEST);
			if (rename(path, dst))
				ret = -errno;
		}
		if (ret)
			unlink(path);
	}
	cvmm_snap_writer_destroy(w);
	if (ret)
		failf(err, errlen, ret, "merge: writing '%s/%s': %s", base,
		      CVMM_VMM_SNAPSHOT_MANIFEST, strerror(-ret));
	return ret;
}

int cvmm_vmm_snapshot_merge(const char *base, const char *diff, char *err, size_t errlen)
{
	struct cvmm_vmm_snapshot *b = NULL, *d = NULL;
	char path[PATH_MAX + 32], held[PATH_MAX + 48];
	uint8_t page[SNAP_PAGE];
	uint64_t data_bytes = 0;
	int bfd = -1, ret;

	if (err && errlen)
		err[0] = 0;
	if (!base || !diff)
		return -EINVAL;
	/* Both whole and consistent before anything changes. */
	ret = cvmm_vmm_snapshot_open(base, &b, err, errlen);
	if (ret)
		return ret;
	d = calloc(1, sizeof(*d));
	if (!d) {
		ret = -ENOMEM;
		goto out;
	}
	d->mem_fd = -1;
	snprintf(d->dir, sizeof(d->dir), "%s", diff);
	if ((ret = load_manifest(d, true, err, errlen)) || (ret = open_memory(d, err, errlen)))
		goto out;
	if (!d->dirty) {
		ret = failf(err, errlen, -EINVAL, "merge: '%s' is a full snapshot, not a diff", diff);
		goto out;
	}
	{
		struct cvmm_snap_reader *r;
		void *state;
		size_t len;

		/* the diff's state must be whole too: it becomes the base's */
		if ((ret = read_file(d, CVMM_VMM_SNAPSHOT_STATE, STATE_MAX, &state, &len, err, errlen)))
			goto out;
		ret = cvmm_snap_reader_open(state, len, &r, NULL) || len != d->m.state_len ?
			      -EINVAL : 0;
		if (!ret)
			cvmm_snap_reader_destroy(r);
		free(state);
		if (ret) {
			failf(err, errlen, ret, "merge: state '%s/%s' is not whole", diff,
			      CVMM_VMM_SNAPSHOT_STATE);
			goto out;
		}
	}
	if (d->m.mem_size != b->m.mem_size || d->m.nregions != b->m.nregions ||
	    memcmp(d->region, b->region, d->m.nregions * sizeof(d->region[0]))) {
		ret = failf(err, errlen, -EINVAL,
			    "merge: '%s' and '%s' have different RAM layouts", base, diff);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", base, CVMM_VMM_SNAPSHOT_MEMORY);
	bfd = open(path, O_RDWR | O_CLOEXEC);
	if (bfd < 0) {
		ret = failf(err, errlen, -errno, "merge: cannot open '%s': %s", path, strerror(errno));
		goto out;
	}
	/* From here the base is not a snapshot until the new manifest is in. */
	snprintf(path, sizeof(path), "%s/%s", base, CVMM_VMM_SNAPSHOT_MANIFEST);
	snprintf(held, sizeof(held), "%s/%s.merging", base, CVMM_VMM_SNAPSHOT_MANIFEST);
	if (rename(path, held)) {
		ret = failf(err, errlen, -errno, "merge: cannot set '%s' aside: %s", path,
			    strerror(errno));
		goto out;
	}
	for (uint64_t p = 0; p < d->m.mem_size / SNAP_PAGE; p++) {
		off_t off = (off_t)(p * SNAP_PAGE);
		bool zero = true;

		if (!((d->dirty[p / 64] >> (p % 64)) & 1))
			continue;
		if (pread(d->mem_fd, page, sizeof(page), off) != (ssize_t)sizeof(page)) {
			ret = failf(err, errlen, -EIO, "merge: reading '%s/%s' at %lld", diff,
				    CVMM_VMM_SNAPSHOT_MEMORY, (long long)off);
			goto out;
		}
		for (size_t i = 0; i < sizeof(page) && zero; i++)
			zero = !page[i];
		if (zero ? fallocate(bfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
				     (off_t)SNAP_PAGE) :
			   pwrite(bfd, page, sizeof(page), off) != (ssize_t)sizeof(page)) {
			ret = failf(err, errlen, -errno, "merge: writing '%s/%s': %s", base,
				    CVMM_VMM_SNAPSHOT_MEMORY, strerror(errno));
			goto out;
		}
	}
	if (fsync(bfd)) {
		ret = failf(err, errlen, -errno, "merge: fsync of '%s/%s': %s", base,
			    CVMM_VMM_SNAPSHOT_MEMORY, strerror(errno));
		goto out;
	}
	{
		off_t pos = 0, end = (off_t)b->m.mem_size;

		while (pos < end) {
			off_t dd = lseek(bfd, pos, SEEK_DATA), h;

			if (dd < 0)
				break;
			h = lseek(bfd, dd, SEEK_HOLE);
			if (h < 0 || h > end)
				h = end;
			data_bytes += (uint64_t)(h - dd);
			pos = h;
		}
	}
	if ((ret = replace_file(base, diff, CVMM_VMM_SNAPSHOT_STATE, err, errlen)) ||
	    (ret = replace_file(base, diff, CVMM_VMM_SNAPSHOT_CONFIG, err, errlen)) ||
	    (ret = write_merged_manifest(base, d, data_bytes, err, errlen)))
		goto out;
	unlink(held);
	{
		int dfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	ret = 0;
out:
	cvmm_close(bfd);
	cvmm_vmm_snapshot_close(b);
	cvmm_vmm_snapshot_close(d);
	return ret;
}
