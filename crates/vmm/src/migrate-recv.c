/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The destination side of a live migration. The stream is hostile: every
 * message is decoded against this VM's own memory map (never the ranges
 * the source announced), the order is checked, the state goes through
 * cvmm_vmm_restore()'s checks, and the page count in COMPLETE must match
 * what arrived. Success is reported only once the state is restored; any
 * failure is reported to the source and leaves a VM that refuses to start.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cvmm/snapshot.h>

#include "migrate.h"

#define PAGE 4096ull

struct cvmm_vmm_incoming {
	int fd;
	struct cvmm_mig_start start;
	struct cvmm_mig_range ranges[CVMM_MIG_MAX_RANGES];
	char *config;
	uint64_t bytes;
};

int cvmm_vmm_migrate_accept(int fd, struct cvmm_vmm_incoming **out, char *err, size_t errlen)
{
	struct cvmm_mig_msg *m = calloc(1, sizeof(*m));
	struct cvmm_vmm_incoming *in = calloc(1, sizeof(*in));
	void *buf = NULL;
	size_t cap = 0;
	int ret;

	if (!m || !in) {
		ret = -ENOMEM;
		goto out;
	}
	ret = cvmm_mig_recv(fd, &buf, &cap, NULL, m, NULL, err, errlen);
	if (!ret && m->type != CVMM_MIG_START) {
		snprintf(err, errlen, "migration: the stream begins with %s, not START",
			 cvmm_mig_type_name(m->type));
		ret = -EPROTO;
	}
	if (ret)
		goto out;
	in->fd = fd;
	in->start = m->u.start.hdr;
	memcpy(in->ranges, m->u.start.ranges, in->start.nranges * sizeof(in->ranges[0]));
	in->config = malloc(in->start.config_len + 1);
	if (!in->config) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(in->config, m->u.start.config, in->start.config_len);
	in->config[in->start.config_len] = 0;
	in->bytes = CVMM_MIG_HDR_SIZE + cap;
	*out = in;
	in = NULL;
out:
	cvmm_vmm_incoming_free(in);
	free(buf);
	free(m);
	return ret;
}

const char *cvmm_vmm_incoming_config(const struct cvmm_vmm_incoming *in, size_t *len)
{
	if (len)
		*len = in->start.config_len;
	return in->config;
}

uint64_t cvmm_vmm_incoming_mem_size(const struct cvmm_vmm_incoming *in)
{
	return in->start.mem_size;
}

unsigned int cvmm_vmm_incoming_ncpus(const struct cvmm_vmm_incoming *in)
{
	return in->start.ncpus;
}

bool cvmm_vmm_incoming_local(const struct cvmm_vmm_incoming *in)
{
	return in->start.flags & CVMM_MIG_F_LOCAL;
}

void cvmm_vmm_incoming_free(struct cvmm_vmm_incoming *in)
{
	if (!in)
		return;
	free(in->config);
	free(in);
}

struct receiver {
	struct cvmm_vmm *vmm;
	struct cvmm_vmm_incoming *in;
	const struct cvmm_vmm_receive_opts *o;
	struct cvmm_mig_range ranges[CVMM_MIG_MAX_RANGES];
	struct cvmm_mig_map map;
	struct cvmm_mig_rx rx;
	struct cvmm_vmm_mig_progress p;
	uint64_t *touched[CVMM_MIG_MAX_RANGES]; /* pages written here so far */
	uint64_t t0;
	char *err;
	size_t errlen;
};

static int same_layout(struct receiver *r)
{
	unsigned int n = cvmm_vi_mig_ranges(r->vmm, r->ranges);

	r->map = (struct cvmm_mig_map){ r->ranges, n };
	if (n != r->in->start.nranges) {
		snprintf(r->err, r->errlen, "migration: the source has %" PRIu32
			 " RAM ranges, this VM %u", r->in->start.nranges, n);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < n; i++)
		if (r->ranges[i].gpa != r->in->ranges[i].gpa ||
		    r->ranges[i].size != r->in->ranges[i].size) {
			snprintf(r->err, r->errlen, "migration: RAM range %u is [%#" PRIx64 ", +%#"
				 PRIx64 ") at the source, [%#" PRIx64 ", +%#" PRIx64 ") here", i,
				 r->in->ranges[i].gpa, r->in->ranges[i].size, r->ranges[i].gpa,
				 r->ranges[i].size);
			return -EINVAL;
		}
	if (r->in->start.ncpus != r->vmm->ncpus) {
		snprintf(r->err, r->errlen, "migration: the source has %" PRIu32 " vCPUs, this VM %u",
			 r->in->start.ncpus, r->vmm->ncpus);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < n; i++) {
		r->touched[i] = calloc((r->ranges[i].size / PAGE + 63) / 64, 8);
		if (!r->touched[i])
			return -ENOMEM;
	}
	return 0;
}

static int on_pages(struct receiver *r, const struct cvmm_mig_msg *m)
{
	const struct cvmm_mig_pages *h = &m->u.pages.hdr;
	uint64_t len = (uint64_t)h->count * PAGE;
	uint8_t *host = cvmm_guest_mem_ptr(r->vmm->mem, h->gpa, len);
	unsigned int ri = 0;

	/* The decoder checked the map; this VM's memory is the map. */
	if (!host)
		return -EFAULT;
	while (ri < r->map.nranges &&
	       !(h->gpa >= r->ranges[ri].gpa && h->gpa - r->ranges[ri].gpa < r->ranges[ri].size))
		ri++;
	if (ri == r->map.nranges)
		return -EFAULT;
	if (m->u.pages.data) {
		memcpy(host, m->u.pages.data, len);
		r->p.pages_sent += h->count;
	} else {
		r->p.zero_pages += h->count;
	}
	for (uint32_t i = 0; i < h->count; i++) {
		uint64_t pg = (h->gpa - r->ranges[ri].gpa) / PAGE + i;
		uint64_t bit = 1ull << (pg % 64);

		/* A zero page over one never written here is zero already:
		 * leave it untouched (no memory is allocated for it). */
		if (!m->u.pages.data && (r->touched[ri][pg / 64] & bit))
			memset(host + i * PAGE, 0, PAGE);
		r->touched[ri][pg / 64] |= bit;
	}
	return 0;
}

static int on_memfd(struct receiver *r, const struct cvmm_mig_msg *m, int memfd)
{
	struct cvmm_mem_region_opts ro = {
		.sz = sizeof(ro),
		.gpa = m->u.memfd.gpa,
		.size = m->u.memfd.size,
		.backing = CVMM_MEM_MEMFD,
		.flags = CVMM_MEM_F_SHARED,
		.fd = memfd,
		.fd_offset = m->u.memfd.fd_offset,
	};
	int ret;

	if (memfd < 0) {
		snprintf(r->err, r->errlen, "migration message 'MEMFD': no fd came with it");
		return -EPROTO;
	}
	/* Our fresh RAM goes; the source's memfd takes its place (the map
	 * keeps a dup). Only before start: nothing points into it yet. */
	ret = cvmm_vmm_memory_remove(r->vmm, ro.gpa);
	if (!ret)
		ret = cvmm_vmm_memory_add(r->vmm, &ro);
	if (ret)
		snprintf(r->err, r->errlen, "migration message 'MEMFD': cannot map [%#" PRIx64
			 ", +%#" PRIx64 ") from the fd: %s", ro.gpa, ro.size, strerror(-ret));
	return ret;
}

static int on_state(struct receiver *r, const struct cvmm_mig_msg *m)
{
	struct cvmm_snap_reader *sr;
	struct cvmm_snap_error e;
	int ret = cvmm_snap_reader_open(m->u.state.data, m->u.state.len, &sr, &e);

	if (ret) {
		char line[CVMM_SNAP_ERROR_LINE];

		snprintf(r->err, r->errlen, "migration: device state: %s",
			 cvmm_snap_error_format(&e, line, sizeof(line)));
		return ret;
	}
	ret = cvmm_vmm_restore(r->vmm, sr, CVMM_VMM_RESTORE_CLOCK_REALTIME, r->err, r->errlen);
	cvmm_snap_reader_destroy(sr);
	return ret;
}

static void publish(struct receiver *r)
{
	r->p.bytes_sent = r->rx.bytes;
	r->p.total_ms = (cvmm_now_ns() - r->t0) / 1000000;
	cvmm_vi_mig_publish(r->vmm, &r->p, r->o ? r->o->progress : NULL, r->o ? r->o->opaque : NULL);
}

/* Payload bytes of a decoded message, for the progress figures. */
static uint64_t wire_len(const struct cvmm_mig_msg *m)
{
	switch (m->type) {
	case CVMM_MIG_PAGES:
		return 16 + (m->u.pages.data ? (uint64_t)m->u.pages.hdr.count * PAGE : 0);
	case CVMM_MIG_STATE:
		return m->u.state.len;
	case CVMM_MIG_MEMFD:
		return sizeof(struct cvmm_mig_memfd);
	default:
		return 16;
	}
}

static int receive(struct receiver *r)
{
	struct cvmm_mig_msg *m = calloc(1, sizeof(*m));
	void *buf = NULL;
	size_t cap = 0;
	uint64_t t_state = 0;
	int ret, fd = -1;

	if (!m)
		return -ENOMEM;
	if ((ret = same_layout(r)))
		goto out;
	r->rx.started = true;
	r->rx.flags = r->in->start.flags;
	r->p.state = CVMM_VMM_MIG_PRECOPY;
	for (;;) {
		bool local = r->rx.flags & CVMM_MIG_F_LOCAL;

		ret = cvmm_mig_recv(r->in->fd, &buf, &cap, &r->map, m, local ? &fd : NULL, r->err,
				    r->errlen);
		if (!ret)
			ret = cvmm_mig_rx_accept(&r->rx, m, r->err, r->errlen);
		if (ret) {
			if (ret == -ECONNRESET)
				snprintf(r->err, r->errlen, "migration: the source closed the "
					 "connection before COMPLETE");
			ret = ret == -ECONNRESET ? -EPIPE : ret;
			goto out;
		}
		r->rx.bytes += CVMM_MIG_HDR_SIZE + wire_len(m);
		switch (m->type) {
		case CVMM_MIG_PASS:
			r->p.pass = (uint32_t)m->u.pass.pass;
			r->p.bytes_remaining = m->u.pass.pages * PAGE;
			break;
		case CVMM_MIG_PAGES:
			ret = on_pages(r, m);
			break;
		case CVMM_MIG_MEMFD:
			ret = on_memfd(r, m, fd);
			break;
		case CVMM_MIG_STATE:
			t_state = cvmm_now_ns();
			r->p.state = CVMM_VMM_MIG_STOPCOPY;
			ret = on_state(r, m);
			break;
		case CVMM_MIG_COMPLETE:
			if (m->u.complete_pages != r->rx.pages) {
				snprintf(r->err, r->errlen, "migration message 'COMPLETE' field "
					 "'pages': %" PRIu64 ", %" PRIu64 " arrived",
					 m->u.complete_pages, r->rx.pages);
				ret = -EPROTO;
				goto out;
			}
			r->p.downtime_ms = (cvmm_now_ns() - t_state) / 1000000;
			ret = 0;
			goto out;
		case CVMM_MIG_ABANDON:
			snprintf(r->err, r->errlen, "migration: the source abandoned it: %s",
				 m->u.text.reason);
			ret = -ECANCELED;
			goto out;
		default:
			break;
		}
		if (fd >= 0)
			close(fd);
		fd = -1;
		if (ret)
			goto out;
		publish(r);
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(m);
	return ret;
}

int cvmm_vmm_migrate_receive(struct cvmm_vmm *vmm, struct cvmm_vmm_incoming *in,
			     const struct cvmm_vmm_receive_opts *o, char *err, size_t errlen)
{
	char dummy[8];
	struct receiver *r;
	int ret;

	if (!vmm || !in || (o && o->sz < sizeof(*o)))
		return -EINVAL;
	if (err && errlen)
		err[0] = 0;
	if (cvmm_vmm_state(vmm) != CVMM_VMM_CREATED || vmm->restored) {
		if (err && errlen)
			snprintf(err, errlen, "migration: the destination VM must be new");
		return -EBUSY;
	}
	r = calloc(1, sizeof(*r));
	if (!r || !cvmm_vi_mig_get(vmm)) {
		free(r);
		return -ENOMEM;
	}
	r->vmm = vmm;
	r->in = in;
	r->o = o;
	r->err = err ? err : dummy;
	r->errlen = err ? errlen : sizeof(dummy);
	r->t0 = vmm->mig->t0 = cvmm_now_ns();
	r->p.state = CVMM_VMM_MIG_SETUP;
	publish(r);
	ret = receive(r);
	if (ret) {
		if (!r->err[0])
			snprintf(r->err, r->errlen, "migration: %s", strerror(-ret));
		/* Whatever arrived, this VM never runs it. */
		vmm->broken = true;
		if (ret != -EPIPE && ret != -ECONNRESET)
			cvmm_mig_send_result(in->fd, ret, r->err);
		r->p.state = ret == -ECANCELED ? CVMM_VMM_MIG_CANCELLED : CVMM_VMM_MIG_FAILED;
		snprintf(r->p.error, sizeof(r->p.error), "%s", r->err);
	} else {
		ret = cvmm_mig_send_result(in->fd, 0, "");
		if (ret) {
			/* The source never learns that we would run: it keeps
			 * its copy paused. Run nowhere rather than risk two. */
			snprintf(r->err, r->errlen, "migration: sending the verdict: %s",
				 strerror(-ret));
			vmm->broken = true;
			r->p.state = CVMM_VMM_MIG_FAILED;
			snprintf(r->p.error, sizeof(r->p.error), "%s", r->err);
		} else {
			r->p.state = CVMM_VMM_MIG_COMPLETED;
		}
	}
	r->p.bytes_remaining = 0;
	publish(r);
	for (unsigned int i = 0; i < CVMM_MIG_MAX_RANGES; i++)
		free(r->touched[i]);
	free(r);
	return ret;
}
