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
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cvmm/snapshot.h>

#include "migrate.h"
#include "uffd.h"
#include "uffd-peers.h"

#define PAGE 4096ull
/* A source silent for this long is gone: fail rather than wait for ever. */
#define IDLE_MS 60000

struct cvmm_vmm_incoming {
	int fd;
	struct cvmm_mig_start start;
	struct cvmm_mig_range ranges[CVMM_MIG_MAX_RANGES];
	char *config;
	uint64_t bytes;
	struct cvmm_vmm_devfd devfds[CVMM_MIG_MAX_DEVFDS];
	unsigned int ndevfds;
};

/* A local migration's DEVFDs, right after START: each with exactly one fd,
 * as many as START announced (the order rules: cvmm_mig_rx_accept()). */
static int accept_devfds(int fd, struct cvmm_vmm_incoming *in, struct cvmm_mig_msg *m,
			 void **buf, size_t *cap, char *err, size_t errlen)
{
	struct cvmm_mig_rx rx = { 0 };
	int ret;

	m->type = CVMM_MIG_START;
	m->u.start.hdr = in->start;
	if ((ret = cvmm_mig_rx_accept(&rx, m, err, errlen)))
		return ret;
	while (in->ndevfds < in->start.devfds) {
		struct cvmm_vmm_devfd *d;
		int got = -1;

		ret = cvmm_mig_recv(fd, buf, cap, NULL, m, &got, err, errlen);
		if (!ret)
			ret = cvmm_mig_rx_accept(&rx, m, err, errlen);
		if (!ret && m->type != CVMM_MIG_DEVFD) {
			snprintf(err, errlen, "migration: a %s instead of the device fds START "
				 "announced", cvmm_mig_type_name(m->type));
			ret = -EPROTO;
		}
		if (!ret && got < 0) {
			snprintf(err, errlen, "migration message 'DEVFD' for %s: carries no fd",
				 m->u.devfd.id);
			ret = -EPROTO;
		}
		if (ret) {
			if (got >= 0)
				close(got);
			return ret;
		}
		d = &in->devfds[in->ndevfds++];
		d->fd = got;
		d->kind = m->u.devfd.kind;
		d->index = m->u.devfd.index;
		snprintf(d->id, sizeof(d->id), "%s", m->u.devfd.id);
		in->bytes += CVMM_MIG_HDR_SIZE + sizeof(struct cvmm_mig_devfd);
	}
	return 0;
}

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
	if (in->start.devfds && (ret = accept_devfds(fd, in, m, &buf, &cap, err, errlen)))
		goto out;
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

bool cvmm_vmm_incoming_resume(const struct cvmm_vmm_incoming *in)
{
	return in->start.flags & CVMM_MIG_F_RESUME;
}

bool cvmm_vmm_incoming_wants_requests(const struct cvmm_vmm_incoming *in)
{
	return in->start.flags & (CVMM_MIG_F_POSTCOPY | CVMM_MIG_F_SWITCH);
}

unsigned int cvmm_vmm_incoming_connections(const struct cvmm_vmm_incoming *in)
{
	return in->start.connections;
}

unsigned int cvmm_vmm_incoming_devfds(struct cvmm_vmm_incoming *in, struct cvmm_vmm_devfd **out)
{
	if (out)
		*out = in ? in->devfds : NULL;
	return in ? in->ndevfds : 0;
}

void cvmm_vmm_incoming_free(struct cvmm_vmm_incoming *in)
{
	if (!in)
		return;
	for (unsigned int i = 0; i < in->ndevfds; i++)
		if (in->devfds[i].fd >= 0)
			close(in->devfds[i].fd);
	free(in->config);
	free(in);
}

struct receiver;

/* An extra memory connection: PASS, PAGES ..., COMPLETE, read by a thread. */
struct mconn {
	struct receiver *r;
	unsigned int index;           /* 1.. (0 is the main connection) */
	int fd;
	pthread_t t;
	bool running;
	int ret;
	uint64_t pages, bytes;
	char err[300];
};

struct receiver {
	struct cvmm_vmm *vmm;
	struct cvmm_vmm_incoming *in;
	const struct cvmm_vmm_receive_opts *o;
	struct cvmm_mig_range ranges[CVMM_MIG_MAX_RANGES];
	struct cvmm_mig_map map;
	struct cvmm_mig_rx rx;
	struct cvmm_vmm_mig_progress p;
	uint64_t t_state;
	uint64_t *touched[CVMM_MIG_MAX_RANGES]; /* pages written here so far */
	uint64_t t0;
	char *err;
	size_t errlen;
	int fd;                       /* the source's stream */
	int idle_ms;                  /* silence allowed (opts.idle_ms) */
	/* Post-copy */
	int req_fd;                   /* page requests out, replies in */
	struct vi_uffd *uffd;
	struct vi_peers *peers;       /* vhost-user backends' mappings (uffd-peers.h) */
	pthread_mutex_t req_lock;
	pthread_t bulk_thread, reply_thread;
	bool bulk_running, reply_running;
	_Atomic bool lost;            /* the link went: requests wait for a resume */
	_Atomic bool paused;          /* POSTCOPY_PAUSED: the bulk thread ended */
	_Atomic bool stopping;        /* the VM goes: no more events */
	_Atomic uint64_t requests;
	/* Fault service times (under req_lock): requests in flight, and the
	 * latencies of those answered. */
	struct { uint64_t gpa, t; } pend[256];
	unsigned int npend;
	uint32_t *lat_us;
	size_t nlat, lat_cap;
	char own_err[300];            /* r->err once the caller's buffer is gone */
	/* Extra memory connections and the per-pass barrier they share with
	 * the main one: a connection that reads PASS k waits until every
	 * connection finished pass k - 1 (read its PASS k, or ended). */
	struct mconn mc[CVMM_MIG_MAX_CONNECTIONS + 1];
	unsigned int nmc;             /* extras: mc[1..nmc] */
	bool mc_joined;
	pthread_mutex_t bar_lock;
	pthread_cond_t bar_cv;
	uint64_t reached[CVMM_MIG_MAX_CONNECTIONS + 1];
	bool ended[CVMM_MIG_MAX_CONNECTIONS + 1];
	bool mc_failed;
	unsigned int first_fail;      /* the connection that failed first (0: none) */
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

static int range_of(const struct receiver *r, uint64_t gpa)
{
	for (unsigned int i = 0; i < r->map.nranges; i++)
		if (gpa >= r->ranges[i].gpa && gpa - r->ranges[i].gpa < r->ranges[i].size)
			return (int)i;
	return -1;
}

static int on_pages(struct receiver *r, const struct cvmm_mig_msg *m)
{
	const struct cvmm_mig_pages *h = &m->u.pages.hdr;
	uint64_t len = (uint64_t)h->count * PAGE;
	uint8_t *host = cvmm_guest_mem_ptr(r->vmm->mem, h->gpa, len);
	int ri = range_of(r, h->gpa), ret = 0;

	/* The decoder checked the map; this VM's memory is the map. */
	if (!host || ri < 0)
		return -EFAULT;
	if (r->uffd && m->u.pages.data)
		/* Post-copy: fill missing pages; the kernel wakes whoever waits.
		 * Zero runs are only marked: a fault on one maps the zero page,
		 * and once every page came userfaultfd goes and the rest are
		 * plain zero-fill memory (no ioctl per zero page of a big guest). */
		ret = cvmm_vi_uffd_copy(r->uffd, host, m->u.pages.data, len);
	else if (!r->uffd && m->u.pages.data)
		memcpy(host, m->u.pages.data, len);
	if (ret) {
		snprintf(r->err, r->errlen, "migration: filling [%#" PRIx64 ", +%#" PRIx64
			 "): %s", h->gpa, len, strerror(-ret));
		return ret;
	}
	/* Several connections apply pages at once. */
	__atomic_fetch_add(m->u.pages.data ? &r->p.pages_sent : &r->p.zero_pages, h->count,
			   __ATOMIC_RELAXED);
	for (uint32_t i = 0; i < h->count; i++) {
		uint64_t pg = (h->gpa - r->ranges[ri].gpa) / PAGE + i;
		uint64_t bit = 1ull << (pg % 64);
		uint64_t was = __atomic_fetch_or(&r->touched[ri][pg / 64], bit, __ATOMIC_ACQ_REL);

		/* A zero page over one never written here is zero already:
		 * leave it untouched (no memory is allocated for it). */
		if (!r->uffd && !m->u.pages.data && (was & bit))
			memset(host + i * PAGE, 0, PAGE);
	}
	if (r->uffd) /* a backend's thread may sleep on these pages */
		cvmm_vi_peers_wake(r->peers, h->gpa, len);
	return 0;
}

/* Post-copy: the guest (or a device) touched a page that has not come. */
static int post_fault(void *opaque, uint64_t page, void *buf)
{
	struct receiver *r = opaque;
	int ret = -EFAULT;

	(void)buf;
	for (unsigned int i = 0; i < cvmm_guest_mem_num_regions(r->vmm->mem); i++) {
		const struct cvmm_mem_region *g = cvmm_guest_mem_region(r->vmm->mem, i);
		uint64_t pg;

		if (page < (uintptr_t)g->host || page - (uintptr_t)g->host >= g->size)
			continue;
		pg = (page - (uintptr_t)g->host) / PAGE;
		if (__atomic_load_n(&r->touched[i][pg / 64], __ATOMIC_ACQUIRE) >> (pg % 64) & 1) {
			/* It came meanwhile, or it is a zero page (marked, not
			 * filled): the zero page, unless the data is there. */
			ret = cvmm_vi_uffd_zero(r->uffd, (uint8_t *)(uintptr_t)page, PAGE);
			cvmm_vi_uffd_wake(r->uffd, page);
			return ret;
		}
		/* While the link is lost the request waits in pend[] (a
		 * resume sends it again) and the thread sleeps on the page. */
		pthread_mutex_lock(&r->req_lock);
		ret = atomic_load(&r->lost) ? 0 :
		      cvmm_mig_send_page_request(r->req_fd, g->gpa + pg * PAGE, 1);
		if (r->npend < CVMM_ARRAY_SIZE(r->pend))
			r->pend[r->npend++] = (typeof(r->pend[0])){ g->gpa + pg * PAGE, cvmm_now_ns() };
		if (ret)
			atomic_store(&r->lost, true);
		pthread_mutex_unlock(&r->req_lock);
		atomic_fetch_add(&r->requests, 1);
		return 0; /* the reply's UFFDIO_COPY wakes the thread */
	}
	return ret;
}

/* Post-copy: a vhost-user backend touched guest page @gpa through its own
 * mapping. Fetched like a vCPU fault (into our mapping of the same shared
 * memory); whoever places it wakes the backend (on_pages), and if it is
 * here already (placed before the fault was read, or a zero run) we do. */
static int peer_fault(void *opaque, uint64_t gpa)
{
	struct receiver *r = opaque;
	uint8_t *host = cvmm_guest_mem_ptr(r->vmm->mem, gpa, PAGE);
	int ri = range_of(r, gpa), ret;
	uint64_t pg;

	if (!host || ri < 0)
		return -EFAULT;
	ret = post_fault(r, (uint64_t)(uintptr_t)host, NULL);
	pg = (gpa - r->ranges[ri].gpa) / PAGE;
	if (__atomic_load_n(&r->touched[ri][pg / 64], __ATOMIC_ACQUIRE) >> (pg % 64) & 1)
		cvmm_vi_peers_wake(r->peers, gpa, PAGE);
	return ret;
}

/* The page at @gpa is in place: how long since it was asked for. */
static void note_latency(struct receiver *r, uint64_t gpa)
{
	uint64_t now;

	pthread_mutex_lock(&r->req_lock);
	now = cvmm_now_ns();
	for (unsigned int i = 0; i < r->npend; i++) {
		if (r->pend[i].gpa != gpa || r->pend[i].t > now)
			continue;
		if (r->nlat == r->lat_cap && r->lat_cap < (1u << 20)) {
			size_t ncap = r->lat_cap ? r->lat_cap * 2 : 1024;
			uint32_t *n = realloc(r->lat_us, ncap * sizeof(*n));

			if (n) {
				r->lat_us = n;
				r->lat_cap = ncap;
			}
		}
		if (r->nlat < r->lat_cap)
			r->lat_us[r->nlat++] = (uint32_t)((now - r->pend[i].t) / 1000);
		r->pend[i] = r->pend[--r->npend];
		break;
	}
	pthread_mutex_unlock(&r->req_lock);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void latency_figures(struct receiver *r)
{
	pthread_mutex_lock(&r->req_lock);
	if (r->nlat) {
		qsort(r->lat_us, r->nlat, sizeof(r->lat_us[0]), cmp_u32);
		r->p.fault_median_us = r->lat_us[r->nlat / 2];
		r->p.fault_p99_us = r->lat_us[r->nlat * 99 / 100];
	}
	pthread_mutex_unlock(&r->req_lock);
}

/* Post-copy: replies to our requests, on a connection of their own. */
static void *reply_main(void *arg)
{
	struct receiver *r = arg;
	struct cvmm_mig_msg *m = calloc(1, sizeof(*m));
	void *buf = NULL;
	size_t cap = 0;
	char e[300];

	cvmm_thread_set_name("cvmm-mig-reply");
	if (cvmm_vi_mig_thread_start(r->vmm, 0)) {
		atomic_store(&r->lost, true); /* requests would never be answered */
		free(m);
		return NULL;
	}
	while (m) {
		if (cvmm_mig_recv(r->req_fd, &buf, &cap, &r->map, m, NULL, e, sizeof(e)) ||
		    m->type != CVMM_MIG_PAGES || on_pages(r, m))
			break;
		note_latency(r, m->u.pages.hdr.gpa);
	}
	free(buf);
	free(m);
	return NULL;
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
	 * keeps a dup). Only before start: nothing points into it yet. A
	 * virtio-mem region stays one (out of the firmware map). */
	{
		const struct cvmm_mem_region *old = cvmm_guest_mem_find(cvmm_vmm_mem(r->vmm), ro.gpa);

		if (old && old->gpa == ro.gpa)
			ro.flags |= old->flags & CVMM_MEM_F_HOTPLUG;
	}
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

/* Connection @idx reached PASS @pass: wait until every connection finished
 * the pass before (a page of an earlier pass arriving late on another
 * connection must not overwrite this pass's copy). @return 0; -EPIPE when
 * a connection failed meanwhile. */
static int pass_barrier(struct receiver *r, unsigned int idx, uint64_t pass)
{
	bool wait = true;

	pthread_mutex_lock(&r->bar_lock);
	r->reached[idx] = pass;
	pthread_cond_broadcast(&r->bar_cv);
	while (wait && !r->mc_failed) {
		wait = false;
		for (unsigned int i = 0; i <= r->nmc; i++)
			if (!r->ended[i] && r->reached[i] < pass)
				wait = true;
		if (wait)
			pthread_cond_wait(&r->bar_cv, &r->bar_lock);
	}
	wait = r->mc_failed;
	pthread_mutex_unlock(&r->bar_lock);
	return wait ? -EPIPE : 0;
}

static void mconn_end(struct mconn *c, int ret)
{
	struct receiver *r = c->r;

	pthread_mutex_lock(&r->bar_lock);
	c->ret = ret;
	r->ended[c->index] = true;
	if (ret && !r->mc_failed) {
		r->mc_failed = true;
		r->first_fail = c->index; /* the cause, not the stops it leads to */
	}
	pthread_cond_broadcast(&r->bar_cv);
	pthread_mutex_unlock(&r->bar_lock);
}

static void *mconn_main(void *arg)
{
	struct mconn *c = arg;
	struct receiver *r = c->r;
	struct cvmm_mig_msg *m = calloc(1, sizeof(*m));
	void *buf = NULL;
	size_t cap = 0;
	bool in_pass = false;
	uint64_t last = 0;
	int ret = m ? 0 : -ENOMEM;

	cvmm_thread_set_name("cvmm-mig-conn");
	if (!ret && cvmm_vi_mig_thread_start(r->vmm, c->index)) {
		snprintf(c->err, sizeof(c->err), "migration: memory connection %u: the thread's "
			 "hook (seccomp filter) failed", c->index);
		ret = -EPERM;
	}
	while (!ret) {
		ret = cvmm_mig_recv(c->fd, &buf, &cap, &r->map, m, NULL, c->err, sizeof(c->err));
		if (ret) {
			if (ret == -ECONNRESET)
				snprintf(c->err, sizeof(c->err), "migration: memory connection %u "
					 "closed before COMPLETE", c->index);
			ret = ret == -ECONNRESET ? -EPIPE : ret;
			break;
		}
		c->bytes += CVMM_MIG_HDR_SIZE + wire_len(m);
		switch (m->type) {
		case CVMM_MIG_PASS:
			if (in_pass && m->u.pass.pass <= last) {
				snprintf(c->err, sizeof(c->err), "migration: memory connection %u: "
					 "PASS %" PRIu64 " after %" PRIu64, c->index,
					 m->u.pass.pass, last);
				ret = -EPROTO;
				break;
			}
			in_pass = true;
			last = m->u.pass.pass;
			ret = pass_barrier(r, c->index, last);
			break;
		case CVMM_MIG_PAGES:
			if (!in_pass) {
				snprintf(c->err, sizeof(c->err), "migration: memory connection %u: "
					 "PAGES before any PASS", c->index);
				ret = -EPROTO;
				break;
			}
			ret = on_pages(r, m);
			if (ret)
				snprintf(c->err, sizeof(c->err), "migration: memory connection %u: "
					 "pages at %#" PRIx64 ": %s", c->index,
					 m->u.pages.hdr.gpa, strerror(-ret));
			c->pages += m->u.pages.hdr.count;
			break;
		case CVMM_MIG_COMPLETE:
			if (m->u.complete_pages != c->pages) {
				snprintf(c->err, sizeof(c->err), "migration: memory connection %u: "
					 "COMPLETE says %" PRIu64 " pages, %" PRIu64 " arrived",
					 c->index, m->u.complete_pages, c->pages);
				ret = -EPROTO;
			}
			goto out;
		default:
			snprintf(c->err, sizeof(c->err), "migration: memory connection %u: "
				 "a %s (only PASS, PAGES, COMPLETE)", c->index,
				 cvmm_mig_type_name(m->type));
			ret = -EPROTO;
			break;
		}
	}
out:
	mconn_end(c, ret);
	free(buf);
	free(m);
	return NULL;
}

static int mconns_start(struct receiver *r, const struct cvmm_vmm_receive_opts *o)
{
	unsigned int want = r->in->start.connections;

	if (want && (!o || o->nmem_fds != want || !o->mem_fds)) {
		snprintf(r->err, r->errlen, "migration: the source sends memory on %u more "
			 "connections, %u were accepted", want, o ? o->nmem_fds : 0);
		return -EINVAL;
	}
	for (unsigned int i = 1; i <= want; i++) {
		struct mconn *c = &r->mc[i];
		int ret;

		*c = (struct mconn){ .r = r, .index = i, .fd = o->mem_fds[i - 1] };
		r->nmc = i;
		ret = -pthread_create(&c->t, NULL, mconn_main, c);
		if (ret) {
			r->nmc = i - 1;
			snprintf(r->err, r->errlen, "migration: connection thread: %s",
				 strerror(-ret));
			return ret;
		}
		c->running = true;
	}
	r->p.connections = 1 + want;
	return 0;
}

/* Every extra connection ended (COMPLETE read) or one failed: stop and
 * join them and account for what they carried. A connection that neither
 * ends nor fails within idle_ms fails the migration. @return 0 or the
 * first failure (its line in r->err). */
static void mconns_stop(struct receiver *r);

static int mconns_join(struct receiver *r)
{
	struct timespec dl;
	unsigned int late = 0;
	int ret = 0;

	if (r->mc_joined || !r->nmc)
		return 0;
	r->mc_joined = true;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += r->idle_ms / 1000;
	dl.tv_nsec += (long)(r->idle_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&r->bar_lock);
	for (;;) {
		late = 0;
		for (unsigned int i = 1; i <= r->nmc; i++)
			if (!r->ended[i])
				late = i;
		if (!late || r->first_fail ||
		    pthread_cond_timedwait(&r->bar_cv, &r->bar_lock, &dl) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&r->bar_lock);
	mconns_stop(r);
	if (r->first_fail) {
		snprintf(r->err, r->errlen, "%s", r->mc[r->first_fail].err);
		ret = r->mc[r->first_fail].ret;
	} else if (late) {
		snprintf(r->err, r->errlen, "migration: memory connection %u did not end (no "
			 "COMPLETE) before the device state", late);
		ret = -EPROTO;
	}
	for (unsigned int i = 1; i <= r->nmc; i++) {
		r->rx.pages += r->mc[i].pages;
		r->rx.bytes += r->mc[i].bytes;
	}
	return ret;
}

/* After a failure: wake and stop the extra connections' threads. */
static void mconns_stop(struct receiver *r)
{
	pthread_mutex_lock(&r->bar_lock);
	if (!r->first_fail)
		r->mc_failed = true; /* stops, not a failure of theirs */
	pthread_cond_broadcast(&r->bar_cv);
	pthread_mutex_unlock(&r->bar_lock);
	for (unsigned int i = 1; i <= r->nmc; i++)
		if (r->mc[i].running) {
			shutdown(r->mc[i].fd, SHUT_RDWR);
			pthread_join(r->mc[i].t, NULL);
			r->mc[i].running = false;
		}
}

/* From here missing pages are asked for: userfaultfd over guest RAM (with
 * @keep the pages that came in pre-copy stay) and the reply thread. */
static int postcopy_begin(struct receiver *r, bool keep)
{
	struct vi_uffd_opts o = { .keep = keep, .thread_start = r->vmm->opts.thread_start,
				  .thread_opaque = r->vmm->opts.opaque,
				  .thread_type = "migration" };
	int ret = cvmm_vi_uffd_start(&r->uffd, r->vmm->mem, &o, post_fault, r, "post-copy",
				     r->err, r->errlen);

	if (!ret)
		ret = cvmm_vi_uffd_started(r->uffd, "post-copy", r->err, r->errlen);
	/* vhost-user backends map guest RAM too: their faults come to us */
	if (!ret)
		ret = cvmm_vi_peers_start(&r->peers, r->vmm, peer_fault, r, r->err, r->errlen);
	if (ret)
		return ret;
	if ((ret = -pthread_create(&r->reply_thread, NULL, reply_main, r)))
		return ret;
	r->reply_running = true;
	return 0;
}

/* After SWITCH: pages this side holds from an earlier pass that the guest
 * wrote since. Dropped (and unmarked), they fault and are asked for. */
static int on_discard(struct receiver *r, const struct cvmm_mig_msg *m)
{
	const struct cvmm_mig_pages *h = &m->u.pages.hdr;
	uint64_t len = (uint64_t)h->count * PAGE;
	uint8_t *host = cvmm_guest_mem_ptr(r->vmm->mem, h->gpa, len);
	const struct cvmm_mem_region *g = cvmm_guest_mem_find(r->vmm->mem, h->gpa);
	int ri = range_of(r, h->gpa), ret;

	if (!host || !g || ri < 0)
		return -EFAULT;
	for (uint32_t i = 0; i < h->count; i++) {
		uint64_t pg = (h->gpa - r->ranges[ri].gpa) / PAGE + i;

		__atomic_fetch_and(&r->touched[ri][pg / 64], ~(1ull << (pg % 64)), __ATOMIC_ACQ_REL);
	}
	/* Shared memory keeps its pages in the file: punch them out too. */
	if (g->fd >= 0 && (g->flags & CVMM_MEM_F_SHARED))
		ret = fallocate(g->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)(g->fd_offset + (uint64_t)(host - g->host)), (off_t)len) ?
		      -errno : 0;
	else
		ret = madvise(host, len, MADV_DONTNEED) ? -errno : 0;
	if (ret)
		snprintf(r->err, r->errlen, "migration message 'DISCARD': dropping [%#" PRIx64
			 ", +%#" PRIx64 "): %s", h->gpa, len, strerror(-ret));
	return ret;
}

/* The source handed its images over with the state: ours before we say we run. */
static int take_over(struct receiver *r)
{
	int ret;

	if (!r->o || !r->o->takeover || !(ret = r->o->takeover(r->o->opaque)))
		return 0;
	snprintf(r->err, r->errlen, "migration: taking over the disk images: %s",
		 ret == -EBUSY ? "another process still holds an image's lock" : strerror(-ret));
	return ret;
}

/* Read and apply messages until COMPLETE (0), a post-copy switch-over
 * (1: the state is restored, the rest comes in the background), or a
 * failure (negative errno). */
static int receive_loop(struct receiver *r)
{
	struct cvmm_mig_msg *m = calloc(1, sizeof(*m));
	void *buf = NULL;
	size_t cap = 0;
	int ret, fd = -1;

	if (!m)
		return -ENOMEM;
	for (;;) {
		bool local = r->rx.flags & CVMM_MIG_F_LOCAL;

		struct pollfd pf = { .fd = r->fd, .events = POLLIN };

		ret = poll(&pf, 1, r->idle_ms);
		if (ret <= 0) {
			ret = ret ? -errno : -ETIMEDOUT;
			if (ret == -EINTR)
				continue;
			snprintf(r->err, r->errlen, "migration: nothing from the source for %d ms",
				 r->idle_ms);
			goto out;
		}
		ret = cvmm_mig_recv(r->fd, &buf, &cap, &r->map, m, local ? &fd : NULL, r->err,
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
		/* The memory connections end before the state or a switch. */
		if ((m->type == CVMM_MIG_SWITCH || m->type == CVMM_MIG_STATE ||
		     m->type == CVMM_MIG_COMPLETE) && (ret = mconns_join(r)))
			goto out;
		switch (m->type) {
		case CVMM_MIG_PASS:
			r->p.pass = (uint32_t)m->u.pass.pass;
			r->p.bytes_remaining = m->u.pass.pages * PAGE;
			if (r->nmc && !r->mc_joined) {
				ret = pass_barrier(r, 0, m->u.pass.pass);
				if (ret)
					ret = mconns_join(r);
			}
			break;
		case CVMM_MIG_PAGES:
			ret = on_pages(r, m);
			break;
		case CVMM_MIG_MEMFD:
			ret = on_memfd(r, m, fd);
			break;
		case CVMM_MIG_SWITCH:
			/* Pre-copy did not converge: post-copy from here. What
			 * came stays; the stale pages are named next. */
			r->p.switched = true;
			ret = postcopy_begin(r, true);
			break;
		case CVMM_MIG_DISCARD:
			ret = on_discard(r, m);
			break;
		case CVMM_MIG_STATE:
			r->t_state = cvmm_now_ns();
			r->p.state = CVMM_VMM_MIG_STOPCOPY;
			ret = on_state(r, m);
			if (!ret && r->uffd && !(ret = take_over(r))) {
				/* Switch-over: the source stops for good, we run. */
				ret = cvmm_mig_send_result(r->fd, 0, "running");
				if (!ret) {
					r->p.downtime_ms = (cvmm_now_ns() - r->t_state) / 1000000;
					r->p.state = CVMM_VMM_MIG_POSTCOPY;
					ret = 1;
					goto out;
				}
			}
			break;
		case CVMM_MIG_COMPLETE:
			if (m->u.complete_pages != r->rx.pages) {
				snprintf(r->err, r->errlen, "migration message 'COMPLETE' field "
					 "'pages': %" PRIu64 ", %" PRIu64 " arrived",
					 m->u.complete_pages, r->rx.pages);
				ret = -EPROTO;
				goto out;
			}
			if (!r->uffd)
				r->p.downtime_ms = (cvmm_now_ns() - r->t_state) / 1000000;
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

static int receive(struct receiver *r, const struct cvmm_vmm_receive_opts *o)
{
	int ret = same_layout(r);

	if (ret)
		return ret;
	r->rx.started = true;
	r->rx.flags = r->in->start.flags;
	/* The DEVFDs came with START (cvmm_vmm_migrate_accept()): no more. */
	r->rx.devfds_max = r->rx.devfds = r->in->start.devfds;
	r->p.state = CVMM_VMM_MIG_PRECOPY;
	if (r->rx.flags & (CVMM_MIG_F_POSTCOPY | CVMM_MIG_F_SWITCH) && o && o->request_fd >= 0)
		r->req_fd = o->request_fd;
	if (r->rx.flags & CVMM_MIG_F_SWITCH) {
		/* The source may switch to post-copy: only with a request
		 * connection here. Without, SWITCH is refused as out of order. */
		if (r->req_fd < 0)
			r->rx.flags &= ~CVMM_MIG_F_SWITCH;
		ret = cvmm_mig_send_accept(r->fd, r->rx.flags & CVMM_MIG_F_SWITCH);
		if (ret) {
			snprintf(r->err, r->errlen, "migration: sending ACCEPT: %s", strerror(-ret));
			return ret;
		}
	}
	if ((ret = mconns_start(r, o)))
		return ret;
	if (r->rx.flags & CVMM_MIG_F_POSTCOPY) {
		if (r->req_fd < 0) {
			snprintf(r->err, r->errlen, "migration: post-copy needs a page-request "
				 "connection");
			return -EINVAL;
		}
		/* Before anything arrives or runs: every missing page faults to us. */
		if ((ret = postcopy_begin(r, false)))
			return ret;
	}
	return receive_loop(r);
}

/* Post-copy, after the switch-over: the pushed rest, until COMPLETE. */
static void *bulk_main(void *arg)
{
	struct receiver *r = arg;
	int ret;

	cvmm_thread_set_name("cvmm-mig-bulk");
	r->err = r->own_err;
	r->errlen = sizeof(r->own_err);
	r->err[0] = 0;
	if (cvmm_vi_mig_thread_start(r->vmm, 0)) {
		snprintf(r->err, r->errlen, "the thread's hook (seccomp filter) failed");
		ret = -EPERM;
	} else {
		ret = receive_loop(r);
	}
	if (!ret)
		ret = cvmm_mig_send_result(r->fd, 0, "");
	if (!ret) {
		/* Every page came (zero runs as marks): requests are over, and
		 * with userfaultfd gone what is still missing is zero-fill. */
		shutdown(r->req_fd, SHUT_RDWR);
		pthread_join(r->reply_thread, NULL);
		r->reply_running = false;
		latency_figures(r);
		cvmm_vi_peers_end(r->peers); /* POSTCOPY_END to the backends */
		cvmm_vi_uffd_stop(r->uffd);
		r->uffd = NULL;
	}
	r->p.page_requests = atomic_load(&r->requests);
	if (ret) {
		/* Requests stop (their connection goes with the link); the
		 * threads that touch a missing page sleep until a resume. */
		pthread_mutex_lock(&r->req_lock);
		atomic_store(&r->lost, true);
		pthread_mutex_unlock(&r->req_lock);
		shutdown(r->req_fd, SHUT_RDWR);
		pthread_join(r->reply_thread, NULL);
		r->reply_running = false;
		/* A stream that went wrong (not a link that went) is told why;
		 * either way this connection is over. */
		if (ret != -EPIPE && ret != -ECONNRESET && ret != -ETIMEDOUT)
			cvmm_mig_send_result(r->fd, ret, r->err);
		shutdown(r->fd, SHUT_RDWR);
		r->p.state = CVMM_VMM_MIG_POSTCOPY_PAUSED;
		snprintf(r->p.error, sizeof(r->p.error), "post-copy paused: %s; the pages not yet "
			 "here wait for a resume (the source keeps its paused copy)",
			 r->err[0] ? r->err : strerror(-ret));
	} else {
		r->p.state = CVMM_VMM_MIG_COMPLETED;
		r->p.bytes_remaining = 0;
	}
	if (r->uffd)
		latency_figures(r);
	publish(r);
	if (ret) {
		struct cvmm_vmm_event ev = { .type = CVMM_VMM_EV_POSTCOPY_PAUSED, .vcpu = -1,
					     .detail = r->p.error };

		atomic_store(&r->paused, true);
		if (!atomic_load(&r->stopping))
			cvmm_vi_emit(r->vmm, &ev);
	}
	return NULL;
}

static void receiver_free(struct receiver *r)
{
	mconns_stop(r);
	pthread_mutex_destroy(&r->bar_lock);
	pthread_cond_destroy(&r->bar_cv);
	if (r->reply_running) {
		shutdown(r->req_fd, SHUT_RDWR);
		pthread_join(r->reply_thread, NULL);
	}
	cvmm_vi_peers_free(r->peers);
	cvmm_vi_uffd_stop(r->uffd);
	pthread_mutex_destroy(&r->req_lock);
	free(r->lat_us);
	for (unsigned int i = 0; i < CVMM_MIG_MAX_RANGES; i++)
		free(r->touched[i]);
	free(r);
}

void cvmm_vi_mig_postcopy_peers_end(struct cvmm_vmm *vmm)
{
	struct receiver *r = vmm->mig ? vmm->mig->post : NULL;

	if (r)
		cvmm_vi_peers_end(r->peers);
}

bool cvmm_vi_mig_receiving_paused(struct cvmm_vmm *vmm)
{
	struct receiver *r = vmm->mig ? vmm->mig->post : NULL;

	return r && atomic_load(&r->paused);
}

void cvmm_vi_mig_postcopy_fini(struct cvmm_vmm *vmm)
{
	struct receiver *r = vmm->mig ? vmm->mig->post : NULL;

	if (!r)
		return;
	atomic_store(&r->stopping, true);
	if (r->bulk_running) {
		/* A paused one's thread ended (and its fd may be closed). */
		if (!atomic_load(&r->paused))
			shutdown(r->fd, SHUT_RDWR);
		pthread_join(r->bulk_thread, NULL);
	}
	receiver_free(r);
	vmm->mig->post = NULL;
}

/* Post-copy recovery: tell the source which pages are here (RECEIVED
 * bitmaps, then ACCEPT). @return 0 or -errno with the line in @err. */
static int send_received(struct receiver *r, char *err, size_t errlen)
{
	uint8_t bits[CVMM_MIG_MAX_BITMAP / 8];
	int ret = 0;

	for (unsigned int i = 0; !ret && i < r->map.nranges; i++) {
		uint64_t pages = r->ranges[i].size / PAGE;

		for (uint64_t start = 0; !ret && start < pages; start += CVMM_MIG_MAX_BITMAP) {
			uint32_t cnt = (uint32_t)(pages - start < CVMM_MIG_MAX_BITMAP ?
						  pages - start : CVMM_MIG_MAX_BITMAP);

			memset(bits, 0, (cnt + 7) / 8);
			for (uint32_t k = 0; k < cnt; k++) {
				uint64_t pg = start + k;

				if (__atomic_load_n(&r->touched[i][pg / 64], __ATOMIC_ACQUIRE) >>
				    (pg % 64) & 1)
					bits[k / 8] |= (uint8_t)(1u << (k % 8));
			}
			ret = cvmm_mig_send_received(r->fd, r->ranges[i].gpa + start * PAGE, cnt, bits);
		}
	}
	if (!ret)
		ret = cvmm_mig_send_accept(r->fd, CVMM_MIG_F_RESUME);
	if (ret)
		snprintf(err, errlen, "migration: resume: sending the pages held here: %s",
			 strerror(-ret));
	return ret;
}

/* The resuming START must describe this VM as the first one did. */
static int resume_layout(const struct receiver *r, const struct cvmm_vmm_incoming *in,
			 char *err, size_t errlen)
{
	bool same = in->start.nranges == r->map.nranges && in->start.ncpus == r->vmm->ncpus;

	for (unsigned int i = 0; same && i < r->map.nranges; i++)
		same = in->ranges[i].gpa == r->ranges[i].gpa && in->ranges[i].size == r->ranges[i].size;
	if (!same)
		snprintf(err, errlen, "migration: the resuming source describes another VM (RAM "
			 "ranges or vCPUs differ from the post-copy paused here)");
	return same ? 0 : -EINVAL;
}

int cvmm_vi_mig_resume_receive(struct cvmm_vmm *vmm, struct cvmm_vmm_incoming *in,
			       const struct cvmm_vmm_receive_opts *o, char *err, size_t errlen)
{
	struct receiver *r = vmm->mig ? vmm->mig->post : NULL;
	int ret = 0;

	if (!r || !atomic_load(&r->paused)) {
		snprintf(err, errlen, "migration: a resume, and no post-copy is paused here");
		ret = -EBUSY;
	} else if (!(in->start.flags & CVMM_MIG_F_RESUME)) {
		/* Paused, and the source begins anew: refused, still paused. */
		snprintf(err, errlen, "migration: a post-copy is paused here: the source must "
			 "resume it, not begin a new migration");
		cvmm_mig_send_result(in->fd, -EBUSY, err);
		ret = -EBUSY;
		goto fail;
	} else if (!o || o->sz < sizeof(*o) || o->request_fd < 0) {
		snprintf(err, errlen, "migration: a resume needs a page-request connection");
		ret = -EINVAL;
	}
	if (ret) {
		cvmm_mig_send_result(in->fd, ret, err);
		return ret;
	}
	r->idle_ms = o->idle_ms ? (int)CVMM_MIN(o->idle_ms, (uint32_t)INT_MAX) : IDLE_MS;
	/* Paused: the bulk thread ended, the reply thread was joined. */
	if (r->bulk_running) {
		pthread_join(r->bulk_thread, NULL);
		r->bulk_running = false;
	}
	if ((ret = resume_layout(r, in, err, errlen))) {
		cvmm_mig_send_result(in->fd, ret, err);
		goto fail;
	}
	r->fd = in->fd;
	if ((ret = send_received(r, err, errlen)))
		goto fail;
	/* New requests on the new connection, and those the loss left
	 * unanswered (or never sent) again. */
	pthread_mutex_lock(&r->req_lock);
	r->req_fd = o->request_fd;
	atomic_store(&r->lost, false);
	for (unsigned int i = 0; i < r->npend; i++)
		if (cvmm_mig_send_page_request(r->req_fd, r->pend[i].gpa, 1))
			atomic_store(&r->lost, true);
	pthread_mutex_unlock(&r->req_lock);
	if ((ret = -pthread_create(&r->reply_thread, NULL, reply_main, r))) {
		snprintf(err, errlen, "migration: resume: the reply thread: %s", strerror(-ret));
		goto fail_lost;
	}
	r->reply_running = true;
	/* A new stream: its passes and pages count afresh. */
	r->rx.pages = 0;
	r->rx.last_pass = 0;
	r->rx.done = false;
	r->p.state = CVMM_VMM_MIG_POSTCOPY;
	r->p.error[0] = 0;
	atomic_store(&r->paused, false);
	publish(r);
	cvmm_vi_emit_type(vmm, CVMM_VMM_EV_POSTCOPY_RESUMED, NULL);
	if ((ret = -pthread_create(&r->bulk_thread, NULL, bulk_main, r))) {
		/* No reader: the reply thread stops too, paused again. */
		snprintf(err, errlen, "migration: resume: the receive thread: %s", strerror(-ret));
		pthread_mutex_lock(&r->req_lock);
		atomic_store(&r->lost, true);
		pthread_mutex_unlock(&r->req_lock);
		shutdown(r->req_fd, SHUT_RDWR);
		pthread_join(r->reply_thread, NULL);
		r->reply_running = false;
		goto fail;
	}
	r->bulk_running = true;
	return 0;
fail_lost:
	pthread_mutex_lock(&r->req_lock);
	atomic_store(&r->lost, true);
	pthread_mutex_unlock(&r->req_lock);
fail:
	/* Still paused: another resume may come. */
	r->p.state = CVMM_VMM_MIG_POSTCOPY_PAUSED;
	snprintf(r->p.error, sizeof(r->p.error), "post-copy paused; a resume failed: %s", err);
	atomic_store(&r->paused, true);
	publish(r);
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
	if ((in->start.flags & CVMM_MIG_F_RESUME) || cvmm_vi_mig_receiving_paused(vmm))
		return cvmm_vi_mig_resume_receive(vmm, in, o, err ? err : dummy,
						  err ? errlen : sizeof(dummy));
	if (cvmm_vmm_state(vmm) != CVMM_VMM_CREATED || vmm->restored ||
	    (vmm->mig && vmm->mig->post)) {
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
	r->fd = in->fd;
	r->idle_ms = o && o->idle_ms ? (int)CVMM_MIN(o->idle_ms, (uint32_t)INT_MAX) : IDLE_MS;
	r->req_fd = -1;
	pthread_mutex_init(&r->req_lock, NULL);
	pthread_mutex_init(&r->bar_lock, NULL);
	pthread_cond_init(&r->bar_cv, NULL);
	r->err = err ? err : dummy;
	r->errlen = err ? errlen : sizeof(dummy);
	r->t0 = vmm->mig->t0 = cvmm_now_ns();
	r->p.state = CVMM_VMM_MIG_SETUP;
	publish(r);
	ret = receive(r, o);
	if (!ret)
		ret = take_over(r);
	if (ret == 1) {
		/* Switched over: the VM may start; the rest comes meanwhile. */
		r->in = NULL;
		r->o = NULL;
		publish(r);
		vmm->mig->post = r;
		if ((ret = -pthread_create(&r->bulk_thread, NULL, bulk_main, r))) {
			atomic_store(&r->lost, true);
			snprintf(r->err, r->errlen, "post-copy: cannot start the receive thread");
			vmm->broken = true;
			return ret;
		}
		r->bulk_running = true;
		return 0;
	}
	if (ret) {
		if (!r->err[0])
			snprintf(r->err, r->errlen, "migration: %s", strerror(-ret));
		/* Whatever arrived, this VM never runs it. */
		vmm->broken = true;
		mconns_stop(r);
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
	r->o = NULL;
	receiver_free(r);
	return ret;
}
