/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The source side of a live migration: pre-copy passes over dirty pages,
 * auto-converge, stop-and-copy, local migration by memfd, and the rule
 * that a failure before the destination's verdict leaves this VM running.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cvmm/snapshot.h>

#include "migrate.h"

#define PAGE 4096ull
/* Auto-converge time slice: the vCPUs are held for throttle% of each. */
#define SLICE_NS 20000000ull
/* How long the source waits for the destination's verdict. */
#define VERDICT_MS 60000

enum { LC_PAUSE, LC_RESUME, LC_SAVE, LC_DIRTY_START, LC_DIRTY_STOP };

struct sender {
	struct cvmm_vmm *vmm;
	struct migration *m;
	const struct cvmm_vmm_migrate_opts *o;
	int fd;
	struct cvmm_vmm_mig_progress p;
	struct mig_dirty dirty;
	bool held;                 /* we paused the VM (throttle or stop-and-copy) */
	bool write_failed;         /* the link is gone: no ABANDON */
	bool switched;             /* post-copy: the destination runs the guest */
	bool can_switch;           /* pre-copy may switch to post-copy (ACCEPTed) */
	_Atomic uint64_t requests; /* post-copy: pages asked for and sent */
	uint64_t slice_start;
	uint64_t pass_bytes;
	int pagemap;               /* /proc/self/pagemap, or -1 */
	bool cand[CVMM_MIG_MAX_BATCH];
	char *err;
	size_t errlen;
};

struct lc_call {
	struct sender *s;
	int op;
	struct cvmm_snap_writer *w;
	int ret;
};

static int lc_fn(struct cvmm_event_manager *em, void *arg)
{
	struct lc_call *c = arg;
	struct cvmm_vmm *vmm = c->s->vmm;

	(void)em;
	switch (c->op) {
	case LC_PAUSE:
		return cvmm_vmm_pause(vmm);
	case LC_RESUME:
		return cvmm_vmm_resume(vmm);
	case LC_SAVE:
		return cvmm_vmm_save(vmm, c->w, 0, c->s->err, c->s->errlen);
	case LC_DIRTY_START:
		return cvmm_vi_mig_dirty_start(vmm, &c->s->dirty, c->s->err, c->s->errlen);
	case LC_DIRTY_STOP:
		cvmm_vi_mig_dirty_stop(vmm, &c->s->dirty);
		return 0;
	}
	return -EINVAL;
}

/* Run a lifecycle step on the control thread (inline, or on its loop). */
static int lc(struct sender *s, int op, struct cvmm_snap_writer *w)
{
	struct lc_call c = { .s = s, .op = op, .w = w };

	if (s->o->via_loop)
		return cvmm_event_manager_call(s->vmm->em, lc_fn, &c, true);
	return lc_fn(NULL, &c);
}

static int hold(struct sender *s, bool on)
{
	int ret;

	if (s->held == on)
		return 0;
	ret = lc(s, on ? LC_PAUSE : LC_RESUME, NULL);
	if (!ret)
		s->held = on;
	return ret;
}

static void publish(struct sender *s)
{
	s->p.total_ms = (cvmm_now_ns() - s->m->t0) / 1000000;
	cvmm_vi_mig_publish(s->vmm, &s->p, s->o->progress, s->o->opaque);
}

/* Auto-converge: hold the vCPUs for throttle% of every slice while we send. */
static int throttle_tick(struct sender *s)
{
	uint64_t now;

	if (!s->p.throttle_pct || s->p.state != CVMM_VMM_MIG_PRECOPY)
		return 0;
	now = cvmm_now_ns();
	if (now - s->slice_start >= SLICE_NS)
		s->slice_start = now;
	return hold(s, now - s->slice_start < SLICE_NS * s->p.throttle_pct / 100);
}

static int check_cancel(struct sender *s)
{
	/* After the switch-over the guest runs over there: too late. */
	if (!s->switched && atomic_load(&s->m->cancel)) {
		snprintf(s->err, s->errlen, "migration cancelled");
		return -ECANCELED;
	}
	return 0;
}

static int send_run(struct sender *s, uint64_t gpa, const uint8_t *host, uint32_t n, bool zero)
{
	long w = cvmm_mig_send_pages(s->fd, gpa, n, zero ? NULL : host);

	if (w < 0) {
		s->write_failed = true;
		snprintf(s->err, s->errlen, "migration: sending pages at %#" PRIx64 ": %s", gpa,
			 strerror((int)-w));
		return (int)w;
	}
	s->p.bytes_sent += (uint64_t)w;
	s->pass_bytes += (uint64_t)w;
	if (zero)
		s->p.zero_pages += n;
	else
		s->p.pages_sent += n;
	return 0;
}

/*
 * Mark in s->cand which of the @n pages at @host may hold data, without
 * touching them: reading a page the guest never touched would fault in a
 * page per page (most of an idle guest). Private anonymous RAM: pagemap
 * (present or swapped); a memfd: SEEK_DATA (whoever wrote it, a vhost-user
 * backend included). Anything else (a snapshot's file under the RAM):
 * every page is a candidate.
 */
static void candidates(struct sender *s, const struct cvmm_mem_region *r, const uint8_t *host,
		       uint32_t n)
{
	uint64_t pm[CVMM_MIG_MAX_BATCH];

	memset(s->cand, 1, n);
	if (r->fd >= 0 && (r->flags & CVMM_MEM_F_SHARED)) {
		off_t start = (off_t)(r->fd_offset + (uint64_t)(host - r->host));
		off_t end = start + (off_t)n * (off_t)PAGE, pos = start;

		memset(s->cand, 0, n);
		while (pos < end) {
			off_t d = lseek(r->fd, pos, SEEK_DATA), h;

			if (d < 0 && errno != ENXIO) {
				memset(s->cand, 1, n); /* no SEEK_DATA: read them all */
				return;
			}
			if (d < 0 || d >= end)
				break;
			h = lseek(r->fd, d, SEEK_HOLE);
			if (h < 0 || h > end)
				h = end;
			for (off_t p = d & ~(off_t)(PAGE - 1); p < h; p += (off_t)PAGE)
				s->cand[(p - start) / (off_t)PAGE] = true;
			pos = h;
		}
		return;
	}
	if (r->backing != CVMM_MEM_ANON || s->vmm->snap || s->pagemap < 0 ||
	    pread(s->pagemap, pm, n * sizeof(pm[0]),
		  (off_t)((uintptr_t)host / PAGE * sizeof(pm[0]))) != (ssize_t)(n * sizeof(pm[0])))
		return;
	for (uint32_t i = 0; i < n; i++)
		s->cand[i] = (pm[i] >> 62) & 3; /* bit 63 present, bit 62 swapped */
}

static bool page_zero(struct sender *s, const uint8_t *p, uint32_t i)
{
	return !s->cand[i] || cvmm_mig_is_zero(p, PAGE);
}

/* Send @npages (<= CVMM_MIG_MAX_BATCH) pages from @gpa as runs of zero and
 * data pages. */
static int send_pages(struct sender *s, uint64_t gpa, uint64_t npages)
{
	uint64_t len = npages * PAGE;
	const uint8_t *host = cvmm_guest_mem_ptr(s->vmm->mem, gpa, len);
	const struct cvmm_mem_region *r = cvmm_guest_mem_find(s->vmm->mem, gpa);
	uint64_t i = 0;

	if (!host || !r || npages > CVMM_MIG_MAX_BATCH) {
		snprintf(s->err, s->errlen, "migration: [%#" PRIx64 ", +%#" PRIx64
			 ") is not guest RAM", gpa, len);
		return -EFAULT;
	}
	candidates(s, r, host, (uint32_t)npages);
	while (i < npages) {
		bool zero = page_zero(s, host + i * PAGE, (uint32_t)i);
		uint32_t n = 1;
		int ret;

		while (i + n < npages && n < CVMM_MIG_MAX_BATCH &&
		       page_zero(s, host + (i + n) * PAGE, (uint32_t)(i + n)) == zero)
			n++;
		ret = send_run(s, gpa + i * PAGE, host + i * PAGE, n, zero);
		if (ret)
			return ret;
		i += n;
		if (s->p.bytes_remaining >= n * PAGE)
			s->p.bytes_remaining -= n * PAGE;
		if ((ret = check_cancel(s)) || (ret = throttle_tick(s)))
			return ret;
		publish(s);
	}
	return 0;
}

/* Send every page whose bit is set in the slots' bitmaps. */
static int send_dirty(struct sender *s)
{
	for (unsigned int i = 0; i < s->dirty.n; i++) {
		struct mig_dirty_slot *sl = &s->dirty.s[i];
		uint64_t pages = sl->size / PAGE, p = 0;

		while (p < pages) {
			uint64_t run = 0;
			int ret;

			if (!(sl->bm[p / 64] >> (p % 64) & 1)) {
				/* Skip clean words whole. */
				if (!(p % 64) && !sl->bm[p / 64])
					p += 64;
				else
					p++;
				continue;
			}
			while (p + run < pages && run < CVMM_MIG_MAX_BATCH &&
			       (sl->bm[(p + run) / 64] >> ((p + run) % 64) & 1))
				run++;
			ret = send_pages(s, sl->gpa + p * PAGE, run);
			if (ret)
				return ret;
			for (uint64_t q = p; q < p + run; q++)
				sl->bm[q / 64] &= ~(1ull << (q % 64));
			p += run;
		}
	}
	return 0;
}

static int send_all(struct sender *s)
{
	struct cvmm_mig_range r[CVMM_MIG_MAX_RANGES];
	unsigned int n = cvmm_vi_mig_ranges(s->vmm, r);

	for (unsigned int i = 0; i < n; i++) {
		for (uint64_t off = 0; off < r[i].size; off += CVMM_MIG_MAX_BATCH * PAGE) {
			uint64_t len = r[i].size - off;
			int ret;

			if (len > CVMM_MIG_MAX_BATCH * PAGE)
				len = CVMM_MIG_MAX_BATCH * PAGE;
			ret = send_pages(s, r[i].gpa + off, len / PAGE);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int wire(struct sender *s, int ret, const char *what)
{
	if (ret) {
		s->write_failed = true;
		snprintf(s->err, s->errlen, "migration: sending %s: %s", what, strerror(-ret));
	}
	return ret;
}

static int send_start(struct sender *s, uint32_t flags)
{
	struct cvmm_mig_range r[CVMM_MIG_MAX_RANGES];
	unsigned int n = cvmm_vi_mig_ranges(s->vmm, r);

	return wire(s, cvmm_mig_send_start(s->fd, flags, s->vmm->ncpus, r, n, s->o->config,
					   s->o->config_len), "START");
}

/* A START that offered the switch to post-copy: the destination's answer,
 * ACCEPT (or a RESULT error when it refused the migration at once). */
static int await_accept(struct sender *s)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	struct cvmm_mig_msg *msg = calloc(1, sizeof(*msg));
	void *buf = NULL;
	size_t cap = 0;
	char e[300] = "";
	int ret;

	if (!msg)
		return -ENOMEM;
	ret = poll(&pfd, 1, VERDICT_MS);
	if (ret <= 0) {
		ret = ret ? -errno : -ETIMEDOUT;
		snprintf(e, sizeof(e), "%s", ret == -ETIMEDOUT ? "timed out" : strerror(-ret));
	} else {
		ret = cvmm_mig_recv(s->fd, &buf, &cap, NULL, msg, NULL, e, sizeof(e));
	}
	if (!ret && msg->type == CVMM_MIG_RESULT && msg->u.text.error) {
		snprintf(s->err, s->errlen, "migration: the destination refused: %s",
			 msg->u.text.reason);
		ret = msg->u.text.error;
		s->write_failed = true; /* it gave up already: no ABANDON */
	} else if (!ret && msg->type != CVMM_MIG_ACCEPT) {
		snprintf(s->err, s->errlen, "migration: a %s instead of ACCEPT",
			 cvmm_mig_type_name(msg->type));
		ret = -EPROTO;
	} else if (ret) {
		snprintf(s->err, s->errlen, "migration: no answer to START: %s", e);
	} else {
		s->can_switch = msg->u.accept.flags & CVMM_MIG_F_SWITCH;
	}
	free(buf);
	free(msg);
	return ret;
}

/* The pre-copy passes, until the estimate fits the downtime. */
/* @return 0: stop-and-copy; 1: switch to post-copy; negative errno. */
static int precopy(struct sender *s)
{
	uint64_t downtime = s->o->downtime_ms ? s->o->downtime_ms : 300;
	uint32_t max_passes = s->o->max_passes ? s->o->max_passes : 30;
	uint32_t after = s->o->postcopy_after ? s->o->postcopy_after : 5;
	uint64_t t;
	long dirty;
	int ret;

	/* Logging on before the first pass: what it misses, the next finds. */
	if ((ret = hold(s, true)) || (ret = lc(s, LC_DIRTY_START, NULL)) || (ret = hold(s, false)))
		return ret;
	s->p.state = CVMM_VMM_MIG_PRECOPY;
	s->p.dirty_ring = s->dirty.ring;
	s->p.bytes_remaining = cvmm_guest_mem_total_size(s->vmm->mem);
	for (;;) {
		t = cvmm_now_ns();
		s->pass_bytes = 0;
		s->slice_start = t;
		ret = wire(s, cvmm_mig_send_pass(s->fd, s->p.pass, s->p.bytes_remaining / PAGE),
			   "PASS");
		if (ret)
			return ret;
		ret = s->p.pass == 0 ? send_all(s) : send_dirty(s);
		if (ret)
			return ret;
		if ((ret = hold(s, false)))
			return ret;
		t = cvmm_now_ns() - t;
		if (!t)
			t = 1;
		s->p.bandwidth = s->pass_bytes * 1000000000ull / t;
		if (!s->p.bandwidth)
			s->p.bandwidth = 1;
		dirty = cvmm_vi_mig_dirty_collect(s->vmm, &s->dirty);
		if (dirty < 0) {
			snprintf(s->err, s->errlen, "migration: dirty log: %s", strerror((int)-dirty));
			return (int)dirty;
		}
		s->p.dirty_rate = (uint64_t)dirty * 1000000000ull / t;
		s->p.bytes_remaining = (uint64_t)dirty * PAGE;
		s->p.expected_downtime_ms = s->p.bytes_remaining * 1000 / s->p.bandwidth;
		/* Auto-converge as QEMU does: the guest dirtied more than half
		 * of what the pass carried: hold it 20% more, then 10% steps. */
		if (!s->o->no_auto_converge && s->p.pass >= 1 &&
		    s->p.bytes_remaining > s->pass_bytes / 2 && s->p.throttle_pct < 90)
			s->p.throttle_pct += s->p.throttle_pct ? 10 : 20;
		s->p.pass++;
		publish(s);
		if (s->p.expected_downtime_ms <= downtime)
			return 0;
		/* Not converging: passes spent, or the throttle at its most. */
		if (s->can_switch && (s->p.pass >= after || s->p.pass >= max_passes ||
				      s->p.throttle_pct >= 90))
			return 1;
		if (s->p.pass >= max_passes)
			return 0;
	}
}

/* Wait for the destination's RESULT. */
static int verdict(struct sender *s)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	struct cvmm_mig_msg *msg = calloc(1, sizeof(*msg));
	void *buf = NULL;
	size_t cap = 0;
	char e[300];
	int ret;

	if (!msg)
		return -ENOMEM;
	ret = poll(&pfd, 1, VERDICT_MS);
	if (ret <= 0) {
		ret = ret ? -errno : -ETIMEDOUT;
	} else {
		ret = cvmm_mig_recv(s->fd, &buf, &cap, NULL, msg, NULL, e, sizeof(e));
		if (!ret && msg->type != CVMM_MIG_RESULT)
			ret = -EPROTO, snprintf(e, sizeof(e), "a %s instead of RESULT",
						cvmm_mig_type_name(msg->type));
		if (!ret && msg->u.text.error) {
			snprintf(s->err, s->errlen, "migration: the destination refused: %s",
				 msg->u.text.reason);
			ret = msg->u.text.error;
			free(buf);
			free(msg);
			return ret;
		}
	}
	if (ret)
		snprintf(s->err, s->errlen, "migration: no verdict from the destination: %s",
			 ret == -ETIMEDOUT ? "timed out" : e);
	free(buf);
	free(msg);
	return ret ? -ENOTCONN : 0;
}

static int send_state(struct sender *s)
{
	struct cvmm_snap_writer *w;
	const void *p;
	size_t len;
	int ret = cvmm_snap_writer_create(NULL, &w);

	if (ret)
		return ret;
	ret = lc(s, LC_SAVE, w);
	if (!ret)
		ret = cvmm_snap_writer_finish(w);
	if (!ret)
		ret = cvmm_snap_writer_buffer(w, &p, &len);
	if (!ret)
		ret = wire(s, cvmm_mig_send_state(s->fd, p, len), "the device state");
	else if (!s->err[0])
		snprintf(s->err, s->errlen, "migration: saving the device state: %s",
			 strerror(-ret));
	if (!ret)
		s->p.bytes_sent += CVMM_MIG_HDR_SIZE + len;
	cvmm_snap_writer_destroy(w);
	return ret;
}

static int send_memfds(struct sender *s)
{
	for (unsigned int i = 0; i < cvmm_guest_mem_num_regions(s->vmm->mem); i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(s->vmm->mem, i);
		int ret = cvmm_mig_send_memfd(s->fd, r->fd, r->gpa, r->size, r->fd_offset);

		if (ret)
			return wire(s, ret, "a memfd");
		s->p.bytes_sent += CVMM_MIG_HDR_SIZE + 24;
	}
	return 0;
}

static bool local_ok(struct cvmm_vmm *vmm)
{
	for (unsigned int i = 0; i < cvmm_guest_mem_num_regions(vmm->mem); i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(vmm->mem, i);

		if (r->fd < 0 || !(r->flags & CVMM_MEM_F_SHARED))
			return false;
	}
	return true;
}

/* Post-copy: answer page requests on their own connection. Guest RAM is
 * not changing (the VM is paused), so a page can be read at any time. */
static void *requests_main(void *arg)
{
	struct sender *s = arg;
	struct cvmm_mig_range r[CVMM_MIG_MAX_RANGES];
	struct cvmm_mig_map map = { r, cvmm_vi_mig_ranges(s->vmm, r) };
	struct cvmm_mig_msg *m = calloc(1, sizeof(*m));
	void *buf = NULL;
	size_t cap = 0;
	char e[300];

	cvmm_thread_set_name("cvmm-mig-req");
	while (m) {
		const uint8_t *host;
		uint64_t len;

		/* The destination's requests are hostile too: checked against our map. */
		if (cvmm_mig_recv(s->o->request_fd, &buf, &cap, &map, m, NULL, e, sizeof(e)) ||
		    m->type != CVMM_MIG_PAGE_REQUEST)
			break;
		len = (uint64_t)m->u.pages.hdr.count * PAGE;
		host = cvmm_guest_mem_ptr(s->vmm->mem, m->u.pages.hdr.gpa, len);
		if (!host || cvmm_mig_send_pages(s->o->request_fd, m->u.pages.hdr.gpa,
						 m->u.pages.hdr.count, host) < 0)
			break;
		atomic_fetch_add(&s->requests, m->u.pages.hdr.count);
	}
	free(buf);
	free(m);
	return NULL;
}

static int postcopy_rest(struct sender *s, uint64_t t_pause, bool all);

/* Post-copy: state first, the destination runs, then every page. */
static int postcopy(struct sender *s)
{
	uint64_t t_pause;
	int ret;

	if (s->o->request_fd < 0) {
		snprintf(s->err, s->errlen, "migration: post-copy needs a page-request connection");
		return -EINVAL;
	}
	if ((ret = send_start(s, CVMM_MIG_F_POSTCOPY)) || (ret = hold(s, true)))
		return ret;
	t_pause = cvmm_now_ns();
	s->p.state = CVMM_VMM_MIG_STOPCOPY;
	publish(s);
	if ((ret = check_cancel(s)) || (ret = send_state(s)))
		return ret;
	return postcopy_rest(s, t_pause, true);
}

/* Tell the destination which pages it holds are stale: those dirtied since
 * the pass that carried them (bits still set in the slots' bitmaps). */
static int send_discards(struct sender *s)
{
	for (unsigned int i = 0; i < s->dirty.n; i++) {
		struct mig_dirty_slot *sl = &s->dirty.s[i];
		uint64_t pages = sl->size / PAGE, p = 0;

		while (p < pages) {
			uint64_t run = 0;
			int ret;

			if (!(sl->bm[p / 64] >> (p % 64) & 1)) {
				p += !(p % 64) && !sl->bm[p / 64] ? 64 : 1;
				continue;
			}
			while (p + run < pages && run < CVMM_MIG_MAX_BATCH &&
			       (sl->bm[(p + run) / 64] >> ((p + run) % 64) & 1))
				run++;
			ret = wire(s, cvmm_mig_send_discard(s->fd, sl->gpa + p * PAGE, (uint32_t)run),
				   "DISCARD");
			if (ret)
				return ret;
			s->p.bytes_sent += CVMM_MIG_HDR_SIZE + 16;
			p += run;
		}
	}
	return 0;
}

/* Pre-copy did not converge: pause, name the stale pages, send the state;
 * the destination runs and the dirty pages follow on demand and pushed. */
static int switch_over(struct sender *s)
{
	uint64_t t_pause;
	long dirty;
	int ret;

	if ((ret = hold(s, true)))
		return ret;
	t_pause = cvmm_now_ns();
	s->p.state = CVMM_VMM_MIG_STOPCOPY;
	publish(s);
	dirty = cvmm_vi_mig_dirty_collect(s->vmm, &s->dirty);
	if (dirty < 0) {
		snprintf(s->err, s->errlen, "migration: dirty log: %s", strerror((int)-dirty));
		return (int)dirty;
	}
	s->p.bytes_remaining = (uint64_t)dirty * PAGE;
	if ((ret = wire(s, cvmm_mig_send_switch(s->fd, (uint64_t)dirty), "SWITCH")) ||
	    (ret = send_discards(s)) || (ret = check_cancel(s)) || (ret = send_state(s)))
		return ret;
	return postcopy_rest(s, t_pause, false);
}

static int postcopy_rest(struct sender *s, uint64_t t_pause, bool all)
{
	pthread_t t;
	int ret;

	/* The destination's word that it runs: from here this VM never does. */
	if ((ret = verdict(s)))
		return ret;
	s->switched = true;
	s->p.switched = !all;
	s->p.downtime_ms = (cvmm_now_ns() - t_pause) / 1000000;
	s->p.state = CVMM_VMM_MIG_POSTCOPY;
	if (all)
		s->p.bytes_remaining = cvmm_guest_mem_total_size(s->vmm->mem);
	publish(s);
	if ((ret = -pthread_create(&t, NULL, requests_main, s)))
		return ret;
	ret = wire(s, cvmm_mig_send_pass(s->fd, s->p.pass, s->p.bytes_remaining / PAGE), "PASS");
	if (!ret)
		ret = all ? send_all(s) : send_dirty(s);
	if (!ret)
		ret = wire(s, cvmm_mig_send_complete(s->fd, s->p.pages_sent + s->p.zero_pages),
			   "COMPLETE");
	if (!ret)
		ret = verdict(s);
	/* The destination has every page (or never will): no more requests. */
	shutdown(s->o->request_fd, SHUT_RDWR);
	pthread_join(t, NULL);
	s->p.page_requests = atomic_load(&s->requests);
	return ret;
}

static int migrate(struct sender *s)
{
	uint64_t t_pause;
	int ret;

	if (s->o->postcopy)
		return postcopy(s);
	if (s->o->local) {
		if ((ret = send_start(s, CVMM_MIG_F_LOCAL)) || (ret = send_memfds(s)))
			return ret;
	} else {
		bool offer = s->o->postcopy_switch && s->o->request_fd >= 0;

		if ((ret = send_start(s, offer ? CVMM_MIG_F_SWITCH : 0)) ||
		    (offer && (ret = await_accept(s))))
			return ret;
		ret = precopy(s);
		if (ret == 1)
			return switch_over(s);
		if (ret)
			return ret;
	}
	/* Stop-and-copy: from here the guest is down until the verdict. */
	if ((ret = hold(s, true)))
		return ret;
	t_pause = cvmm_now_ns();
	s->p.state = CVMM_VMM_MIG_STOPCOPY;
	publish(s);
	if (!s->o->local) {
		long dirty = cvmm_vi_mig_dirty_collect(s->vmm, &s->dirty);

		if (dirty < 0)
			return (int)dirty;
		s->p.bytes_remaining = (uint64_t)dirty * PAGE;
		if ((ret = wire(s, cvmm_mig_send_pass(s->fd, s->p.pass, (uint64_t)dirty), "PASS")) ||
		    (ret = send_dirty(s)))
			return ret;
	}
	if ((ret = check_cancel(s)) || (ret = send_state(s)))
		return ret;
	ret = wire(s, cvmm_mig_send_complete(s->fd, s->p.pages_sent + s->p.zero_pages),
		   "COMPLETE");
	if (ret)
		return -ENOTCONN; /* the state may have arrived: outcome unknown */
	ret = verdict(s);
	s->p.downtime_ms = (cvmm_now_ns() - t_pause) / 1000000;
	return ret;
}

int cvmm_vmm_migrate_send(struct cvmm_vmm *vmm, int fd, const struct cvmm_vmm_migrate_opts *o,
			  char *err, size_t errlen)
{
	char dummy[8];
	struct sender s = { .vmm = vmm, .o = o, .fd = fd, .err = err ? err : dummy,
			    .errlen = err ? errlen : sizeof(dummy), .pagemap = -1 };
	bool expected = false;
	int ret;

	if (!vmm || !o || o->sz < sizeof(*o) || fd < 0)
		return -EINVAL;
	s.err[0] = 0;
	if (cvmm_vmm_state(vmm) != CVMM_VMM_RUNNING) {
		snprintf(s.err, s.errlen, "migration: the VM is %s, not running",
			 cvmm_vmm_state_name(cvmm_vmm_state(vmm)));
		return -EBUSY;
	}
	if (o->local && !local_ok(vmm)) {
		snprintf(s.err, s.errlen, "migration: local migration needs shared guest RAM "
			 "(memfd backing)");
		return -EINVAL;
	}
	s.m = cvmm_vi_mig_get(vmm);
	if (!s.m)
		return -ENOMEM;
	if (!atomic_compare_exchange_strong(&s.m->sending, &expected, true)) {
		snprintf(s.err, s.errlen, "migration: one is running already");
		return -EBUSY;
	}
	atomic_store(&s.m->cancel, false);
	s.m->t0 = cvmm_now_ns();
	s.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	s.p.state = CVMM_VMM_MIG_SETUP;
	publish(&s);

	ret = migrate(&s);

	if (ret && s.switched) {
		/* Post-copy after the switch-over: the guest runs over there
		 * on what it got; this copy, complete, stays paused. */
		snprintf(s.p.error, sizeof(s.p.error), "%s", s.err);
		lc(&s, LC_DIRTY_STOP, NULL);
		s.p.state = CVMM_VMM_MIG_FAILED;
	} else if (ret == -ENOTCONN) {
		/* The state went out and the verdict did not come back: the
		 * guest may run over there. Keep it paused here: never two. */
		if (!s.err[0])
			snprintf(s.err, s.errlen, "migration: the link failed after the state "
				 "was sent; the outcome is unknown, the VM stays paused");
		lc(&s, LC_DIRTY_STOP, NULL);
		s.p.state = CVMM_VMM_MIG_FAILED;
	} else if (ret) {
		if (!s.write_failed)
			cvmm_mig_send_abandon(fd, s.err);
		/* Logging off with the guest held (the VMM bitmap wants quiet
		 * writers), then it runs again: nothing lost. */
		if (!hold(&s, true)) {
			lc(&s, LC_DIRTY_STOP, NULL);
			hold(&s, false);
		}
		s.p.state = ret == -ECANCELED ? CVMM_VMM_MIG_CANCELLED : CVMM_VMM_MIG_FAILED;
	} else {
		lc(&s, LC_DIRTY_STOP, NULL);
		s.p.state = CVMM_VMM_MIG_COMPLETED;
		s.p.bytes_remaining = 0;
	}
	if (ret && !s.err[0])
		snprintf(s.err, s.errlen, "migration: %s", strerror(-ret));
	snprintf(s.p.error, sizeof(s.p.error), "%s", ret ? s.err : "");
	publish(&s);
	if (s.pagemap >= 0)
		close(s.pagemap);
	atomic_store(&s.m->sending, false);
	return ret;
}
