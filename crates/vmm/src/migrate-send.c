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

struct sender;

/* One connection that carries pages: the main one (index 0, on the
 * migrating thread) or an extra memory connection with a thread of its own. */
struct conn {
	struct sender *s;
	unsigned int index;
	int fd;
	pthread_t t;
	int ret;
	uint64_t pages;            /* carried on this connection */
	bool cand[CVMM_MIG_MAX_BATCH];
	char err[300];
};

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
	bool pc_state_sent;        /* post-copy's state went: never resume here */
	bool can_switch;           /* pre-copy may switch to post-copy (ACCEPTed) */
	bool handed_over;          /* o->handover(false) done: retake before resuming */
	_Atomic uint64_t requests; /* post-copy: pages asked for and sent */
	uint64_t slice_start;
	uint64_t pass_bytes;
	int pagemap;               /* /proc/self/pagemap, or -1 */
	/* Connections that carry pages, and the pass's cursor they share. */
	struct conn conn[1 + CVMM_MIG_MAX_CONNECTIONS];
	unsigned int nconn, threads;
	pthread_mutex_t cur_lock;
	bool cur_all;
	unsigned int cur_slot;
	uint64_t cur_page;
	struct cvmm_mig_range ranges[CVMM_MIG_MAX_RANGES];
	unsigned int nranges;
	_Atomic bool abort;        /* a connection failed: everyone stops */
	pthread_mutex_t pool_lock; /* gen, done, quit */
	pthread_cond_t pool_cv, done_cv;
	uint64_t gen;
	unsigned int done;
	bool quit, quit_abort;
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

/* Counters that every connection's thread adds to. */
static void add(uint64_t *v, uint64_t n)
{
	__atomic_fetch_add(v, n, __ATOMIC_RELAXED);
}

static void sub_sat(uint64_t *v, uint64_t n)
{
	uint64_t old = __atomic_load_n(v, __ATOMIC_RELAXED);

	while (!__atomic_compare_exchange_n(v, &old, old >= n ? old - n : 0, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* A failure on connection @c: its message, first one wins. */
static int conn_fail(struct conn *c, int ret, const char *fmt, uint64_t gpa)
{
	struct sender *s = c->s;

	c->ret = ret;
	if (c->index == 0) {
		snprintf(s->err, s->errlen, fmt, gpa, strerror(-ret));
	} else {
		snprintf(c->err, sizeof(c->err), fmt, gpa, strerror(-ret));
		snprintf(c->err + strlen(c->err), sizeof(c->err) - strlen(c->err),
			 " (connection %u)", c->index);
	}
	return ret;
}

static int send_run(struct conn *c, uint64_t gpa, const uint8_t *host, uint32_t n, bool zero)
{
	struct sender *s = c->s;
	long w = cvmm_mig_send_pages(c->fd, gpa, n, zero ? NULL : host);

	if (w < 0) {
		if (c->index == 0)
			s->write_failed = true; /* the main link is gone: no ABANDON */
		return conn_fail(c, (int)w, "migration: sending pages at %#" PRIx64 ": %s", gpa);
	}
	add(&s->p.bytes_sent, (uint64_t)w);
	add(&s->pass_bytes, (uint64_t)w);
	add(zero ? &s->p.zero_pages : &s->p.pages_sent, n);
	c->pages += n;
	return 0;
}

/*
 * Mark in c->cand which of the @n pages at @host may hold data, without
 * touching them: reading a page the guest never touched would fault in a
 * page per page (most of an idle guest). Private anonymous RAM: pagemap
 * (present or swapped); a memfd: SEEK_DATA (whoever wrote it, a vhost-user
 * backend included). Anything else (a snapshot's file under the RAM):
 * every page is a candidate.
 */
static void candidates(struct conn *c, const struct cvmm_mem_region *r, const uint8_t *host,
		       uint32_t n)
{
	struct sender *s = c->s;
	uint64_t pm[CVMM_MIG_MAX_BATCH];

	memset(c->cand, 1, n);
	if (r->fd >= 0 && (r->flags & CVMM_MEM_F_SHARED)) {
		off_t start = (off_t)(r->fd_offset + (uint64_t)(host - r->host));
		off_t end = start + (off_t)n * (off_t)PAGE, pos = start;

		memset(c->cand, 0, n);
		while (pos < end) {
			off_t d = lseek(r->fd, pos, SEEK_DATA), h;

			if (d < 0 && errno != ENXIO) {
				memset(c->cand, 1, n); /* no SEEK_DATA: read them all */
				return;
			}
			if (d < 0 || d >= end)
				break;
			h = lseek(r->fd, d, SEEK_HOLE);
			if (h < 0 || h > end)
				h = end;
			for (off_t p = d & ~(off_t)(PAGE - 1); p < h; p += (off_t)PAGE)
				c->cand[(p - start) / (off_t)PAGE] = true;
			pos = h;
		}
		return;
	}
	if (r->backing != CVMM_MEM_ANON || s->vmm->snap || s->pagemap < 0 ||
	    pread(s->pagemap, pm, n * sizeof(pm[0]),
		  (off_t)((uintptr_t)host / PAGE * sizeof(pm[0]))) != (ssize_t)(n * sizeof(pm[0])))
		return;
	for (uint32_t i = 0; i < n; i++)
		c->cand[i] = (pm[i] >> 62) & 3; /* bit 63 present, bit 62 swapped */
}

static bool page_zero(struct conn *c, const uint8_t *p, uint32_t i)
{
	return !c->cand[i] || cvmm_mig_is_zero(p, PAGE);
}

/* Send @npages (<= CVMM_MIG_MAX_BATCH) pages from @gpa as runs of zero and
 * data pages on connection @c. The main connection (0) also ticks the
 * throttle and publishes progress. */
static int send_pages(struct conn *c, uint64_t gpa, uint64_t npages)
{
	struct sender *s = c->s;
	uint64_t len = npages * PAGE;
	const uint8_t *host = cvmm_guest_mem_ptr(s->vmm->mem, gpa, len);
	const struct cvmm_mem_region *r = cvmm_guest_mem_find(s->vmm->mem, gpa);
	uint64_t i = 0;

	if (!host || !r || npages > CVMM_MIG_MAX_BATCH)
		return conn_fail(c, -EFAULT, "migration: %#" PRIx64 ": %s: not guest RAM", gpa);
	candidates(c, r, host, (uint32_t)npages);
	while (i < npages) {
		bool zero = page_zero(c, host + i * PAGE, (uint32_t)i);
		uint32_t n = 1;
		int ret;

		while (i + n < npages && n < CVMM_MIG_MAX_BATCH &&
		       page_zero(c, host + (i + n) * PAGE, (uint32_t)(i + n)) == zero)
			n++;
		ret = send_run(c, gpa + i * PAGE, host + i * PAGE, n, zero);
		if (ret)
			return ret;
		i += n;
		sub_sat(&s->p.bytes_remaining, n * PAGE);
		if (c->index == 0) {
			if ((ret = check_cancel(s)) || (ret = throttle_tick(s)))
				return c->ret = ret;
			publish(s);
		} else if (atomic_load(&s->m->cancel) && !s->switched) {
			return c->ret = -ECANCELED;
		}
	}
	return 0;
}

/*
 * The next run of pages of the pass (every page of RAM in batches, or the
 * dirty pages), taken under the cursor's lock by whichever connection is
 * free. Dirty bits are cleared as the run is taken: a write after this is
 * caught by the next harvest. @return false when the pass is done.
 */
static bool next_run(struct sender *s, uint64_t *gpa, uint64_t *n)
{
	bool found = false;

	pthread_mutex_lock(&s->cur_lock);
	if (s->cur_all) {
		while (!found && s->cur_slot < s->nranges) {
			const struct cvmm_mig_range *r = &s->ranges[s->cur_slot];
			uint64_t pages = r->size / PAGE;

			if (s->cur_page >= pages) {
				s->cur_slot++, s->cur_page = 0;
				continue;
			}
			*gpa = r->gpa + s->cur_page * PAGE;
			*n = pages - s->cur_page < CVMM_MIG_MAX_BATCH ? pages - s->cur_page
								       : CVMM_MIG_MAX_BATCH;
			s->cur_page += *n;
			found = true;
		}
	} else {
		while (!found && s->cur_slot < s->dirty.n) {
			struct mig_dirty_slot *sl = &s->dirty.s[s->cur_slot];
			uint64_t pages = sl->size / PAGE, p = s->cur_page, run = 0;

			while (p < pages && !(sl->bm[p / 64] >> (p % 64) & 1))
				p += !(p % 64) && !sl->bm[p / 64] ? 64 : 1; /* clean words whole */
			if (p >= pages) {
				s->cur_slot++, s->cur_page = 0;
				continue;
			}
			while (p + run < pages && run < CVMM_MIG_MAX_BATCH &&
			       (sl->bm[(p + run) / 64] >> ((p + run) % 64) & 1)) {
				sl->bm[(p + run) / 64] &= ~(1ull << ((p + run) % 64));
				run++;
			}
			*gpa = sl->gpa + p * PAGE;
			*n = run;
			s->cur_page = p + run;
			found = true;
		}
	}
	pthread_mutex_unlock(&s->cur_lock);
	return found;
}

/* One connection's share of the pass: runs until none is left or someone failed. */
static int conn_pass(struct conn *c)
{
	struct sender *s = c->s;
	uint64_t gpa, n;

	while (!atomic_load(&s->abort) && next_run(s, &gpa, &n)) {
		int ret = send_pages(c, gpa, n);

		if (ret) {
			atomic_store(&s->abort, true);
			return ret;
		}
	}
	return 0;
}

/* An extra memory connection's thread: each pass, PASS then its share;
 * at the end, COMPLETE with the pages it carried. */
static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct sender *s = c->s;
	uint64_t gen = 0;

	cvmm_thread_set_name("cvmm-mig-conn");
	pthread_mutex_lock(&s->pool_lock);
	for (;;) {
		while (s->gen == gen && !s->quit)
			pthread_cond_wait(&s->pool_cv, &s->pool_lock);
		if (s->gen == gen)
			break; /* quit */
		gen = s->gen;
		pthread_mutex_unlock(&s->pool_lock);
		if (!c->ret) {
			int ret = cvmm_mig_send_pass(c->fd, s->p.pass, 0);

			if (ret) {
				conn_fail(c, ret, "migration: sending PASS %#" PRIx64 ": %s", s->p.pass);
				atomic_store(&s->abort, true);
			} else {
				conn_pass(c);
			}
		}
		pthread_mutex_lock(&s->pool_lock);
		s->done++;
		pthread_cond_broadcast(&s->done_cv);
	}
	pthread_mutex_unlock(&s->pool_lock);
	if (!c->ret && !s->quit_abort) {
		int ret = cvmm_mig_send_complete(c->fd, c->pages);

		if (ret)
			conn_fail(c, ret, "migration: sending COMPLETE %#" PRIx64 ": %s", c->pages);
	}
	return NULL;
}

/* The first failure among the extra connections (their message to s->err). */
static int conns_error(struct sender *s)
{
	for (unsigned int i = 1; i < s->nconn; i++)
		if (s->conn[i].ret) {
			snprintf(s->err, s->errlen, "%s", s->conn[i].err);
			return s->conn[i].ret;
		}
	return 0;
}

/*
 * Send the pass's pages (@all: every page of RAM; else the dirty ones),
 * spread over every connection when @spread (pre-copy passes and the
 * stop-and-copy pass), else on the main one only (post-copy's push).
 */
static int send_pass_pages(struct sender *s, bool all, bool spread)
{
	int ret;

	s->cur_all = all;
	s->cur_slot = 0;
	s->cur_page = 0;
	if (all)
		s->nranges = cvmm_vi_mig_ranges(s->vmm, s->ranges);
	if (!spread || s->nconn == 1)
		return conn_pass(&s->conn[0]);
	pthread_mutex_lock(&s->pool_lock);
	s->done = 0;
	s->gen++;
	pthread_cond_broadcast(&s->pool_cv);
	pthread_mutex_unlock(&s->pool_lock);
	ret = conn_pass(&s->conn[0]);
	/* Every connection done with this pass before the next one starts:
	 * the destination's barrier relies on it. */
	pthread_mutex_lock(&s->pool_lock);
	while (s->done < s->nconn - 1)
		pthread_cond_wait(&s->done_cv, &s->pool_lock);
	pthread_mutex_unlock(&s->pool_lock);
	return ret ? ret : conns_error(s);
}

static int send_dirty(struct sender *s)
{
	return send_pass_pages(s, false, true);
}

static int send_all(struct sender *s)
{
	return send_pass_pages(s, true, true);
}

/* The extra connections end: COMPLETE on each (unless @abort), threads joined. */
static int conns_end(struct sender *s, bool abort)
{
	if (s->nconn == 1 || !s->threads)
		return 0;
	pthread_mutex_lock(&s->pool_lock);
	s->quit = true;
	s->quit_abort = abort;
	pthread_cond_broadcast(&s->pool_cv);
	pthread_mutex_unlock(&s->pool_lock);
	atomic_store(&s->abort, abort);
	for (unsigned int i = 1; i < s->threads; i++) {
		/* A thread blocked on a peer that stopped reading wakes up. */
		if (abort)
			shutdown(s->conn[i].fd, SHUT_RDWR);
		pthread_join(s->conn[i].t, NULL);
	}
	s->threads = 0;
	return abort ? 0 : conns_error(s);
}

static int conns_start(struct sender *s)
{
	s->nconn = 1 + (s->o->postcopy || s->o->resume || s->o->local ? 0 : s->o->nmem_fds);
	s->p.connections = s->nconn;
	s->conn[0] = (struct conn){ .s = s, .fd = s->fd, .index = 0 };
	s->threads = 1;
	for (unsigned int i = 1; i < s->nconn; i++) {
		int ret;

		s->conn[i] = (struct conn){ .s = s, .fd = s->o->mem_fds[i - 1], .index = i };
		ret = -pthread_create(&s->conn[i].t, NULL, conn_main, &s->conn[i]);
		if (ret) {
			snprintf(s->err, s->errlen, "migration: connection thread: %s", strerror(-ret));
			conns_end(s, true);
			return ret;
		}
		s->threads++;
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

	if (flags & CVMM_MIG_F_LOCAL)
		return wire(s, cvmm_mig_send_start_devfds(s->fd, flags, s->vmm->ncpus,
							  s->o->ndevfds, r, n, s->o->config,
							  s->o->config_len), "START");
	return wire(s, cvmm_mig_send_start_conns(s->fd, flags, s->vmm->ncpus, s->nconn - 1, r, n,
						 s->o->config, s->o->config_len), "START");
}

/* A local migration's device fds (a TAP queue, a vsock listener): copies
 * go, this VM keeps its own and goes on using them until it pauses. */
static int send_devfds(struct sender *s)
{
	for (unsigned int i = 0; i < s->o->ndevfds; i++) {
		const struct cvmm_vmm_devfd *d = &s->o->devfds[i];
		int ret = cvmm_mig_send_devfd(s->fd, d->fd, d->kind, d->index, d->id);

		if (ret == -EINVAL) {
			snprintf(s->err, s->errlen, "migration: device fd %u (%s) cannot be sent",
				 i, d->id);
			return ret;
		}
		if (ret)
			return wire(s, ret, "a device fd");
		s->p.bytes_sent += CVMM_MIG_HDR_SIZE + sizeof(struct cvmm_mig_devfd);
	}
	return 0;
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

/*
 * Under the downtime limit already, one more pass still pays while it is
 * expected to leave a clearly smaller dirty set: the guest dirties
 * dirty_rate while the pass carries bytes_remaining at the bandwidth.
 * Stopping at the first estimate under the limit carried a whole hot set
 * (128 MiB of a 2 GiB guest) into the stop-and-copy: 46 ms of downtime
 * where QEMU, passing on, had 31 (bench/migration/dirty-side-by-side.py).
 * Below a tenth of the limit the pause is short enough.
 */
static bool worth_another_pass(const struct sender *s, uint64_t downtime, uint32_t max_passes)
{
	double next;

	if (s->p.pass >= max_passes || s->p.expected_downtime_ms * 10 <= downtime ||
	    !s->p.bandwidth)
		return false;
	/* bytes the guest dirties (dirty_rate: pages/s) while the next pass
	 * sends what is dirty now */
	next = (double)s->p.bytes_remaining / (double)s->p.bandwidth * (double)s->p.dirty_rate * PAGE;
	return next * 4 < (double)s->p.bytes_remaining * 3;
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
		if (s->p.expected_downtime_ms <= downtime && !worth_another_pass(s, downtime, max_passes))
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

/*
 * Saving the state finishes the devices' in-flight requests (a virtio-blk
 * read lands in guest memory, its used entry in the ring): save before the
 * last dirty harvest so those pages travel, send after the pages.
 */
static int save_state(struct sender *s, struct cvmm_snap_writer **out)
{
	struct cvmm_snap_writer *w;
	int ret = cvmm_snap_writer_create(NULL, &w);

	*out = NULL;
	if (ret)
		return ret;
	ret = lc(s, LC_SAVE, w);
	if (!ret)
		ret = cvmm_snap_writer_finish(w);
	if (ret) {
		if (!s->err[0])
			snprintf(s->err, s->errlen, "migration: saving the device state: %s",
				 strerror(-ret));
		cvmm_snap_writer_destroy(w);
		return ret;
	}
	*out = w;
	return 0;
}

/* The guest is paused for good and its state saved: let go of what the
 * destination must take before it runs the guest. */
static int hand_over(struct sender *s)
{
	int ret;

	if (!s->o->handover)
		return 0;
	ret = s->o->handover(s->o->opaque, false);
	if (ret) {
		snprintf(s->err, s->errlen, "migration: handing over the disk images: %s",
			 strerror(-ret));
		s->o->handover(s->o->opaque, true);
		return ret;
	}
	s->handed_over = true;
	return 0;
}

/* Send what save_state() made, and free it. */
static int send_saved(struct sender *s, struct cvmm_snap_writer *w)
{
	const void *p;
	size_t len;
	int ret = cvmm_snap_writer_buffer(w, &p, &len);

	if (!ret)
		ret = wire(s, cvmm_mig_send_state(s->fd, p, len), "the device state");
	if (!ret)
		s->p.bytes_sent += CVMM_MIG_HDR_SIZE + len;
	cvmm_snap_writer_destroy(w);
	return ret;
}

/* The guest stops here for good: pause, say so, save its state (which
 * finishes the devices' in-flight requests) before the last harvest. */
static int stop_and_save(struct sender *s, uint64_t *t_pause, struct cvmm_snap_writer **w)
{
	int ret = hold(s, true);

	*w = NULL;
	if (ret)
		return ret;
	*t_pause = cvmm_now_ns();
	s->p.state = CVMM_VMM_MIG_STOPCOPY;
	publish(s);
	return save_state(s, w);
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
	/* (made on the migrating thread: its filter came along already) */
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
	struct cvmm_snap_writer *w;
	uint64_t t_pause;
	int ret;

	if (s->o->request_fd < 0) {
		snprintf(s->err, s->errlen, "migration: post-copy needs a page-request connection");
		return -EINVAL;
	}
	if ((ret = send_start(s, CVMM_MIG_F_POSTCOPY)) || (ret = stop_and_save(s, &t_pause, &w)))
		return ret;
	if ((ret = check_cancel(s)) || (ret = hand_over(s))) {
		cvmm_snap_writer_destroy(w);
		return ret;
	}
	if ((ret = send_saved(s, w)))
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
	struct cvmm_snap_writer *w;
	uint64_t t_pause;
	long dirty;
	int ret;

	if ((ret = stop_and_save(s, &t_pause, &w)))
		return ret;
	dirty = cvmm_vi_mig_dirty_collect(s->vmm, &s->dirty);
	if (dirty < 0) {
		snprintf(s->err, s->errlen, "migration: dirty log: %s", strerror((int)-dirty));
		cvmm_snap_writer_destroy(w);
		return (int)dirty;
	}
	s->p.bytes_remaining = (uint64_t)dirty * PAGE;
	if ((ret = conns_end(s, false)) ||
	    (ret = wire(s, cvmm_mig_send_switch(s->fd, (uint64_t)dirty), "SWITCH")) ||
	    (ret = send_discards(s)) || (ret = check_cancel(s)) || (ret = hand_over(s))) {
		cvmm_snap_writer_destroy(w);
		return ret;
	}
	if ((ret = send_saved(s, w)))
		return ret;
	return postcopy_rest(s, t_pause, false);
}

/* Post-copy: answer page requests on their own thread from now on. */
static int requests_start(struct sender *s, pthread_t *t)
{
	int ret = -pthread_create(t, NULL, requests_main, s);

	if (ret)
		snprintf(s->err, s->errlen, "migration: the page-request thread: %s", strerror(-ret));
	return ret;
}

/* ... and stop it: the destination has every page, or never will. */
static void requests_stop(struct sender *s, pthread_t t)
{
	shutdown(s->o->request_fd, SHUT_RDWR);
	pthread_join(t, NULL);
	s->p.page_requests = atomic_load(&s->requests);
}

/* Post-copy after the switch-over, requests answered meanwhile: every
 * page (@all) or the dirty ones pushed; COMPLETE counts the pages of this
 * connection (sent since @base), then the destination's verdict. */
static int push_rest(struct sender *s, bool all, uint64_t base)
{
	int ret = wire(s, cvmm_mig_send_pass(s->fd, s->p.pass, s->p.bytes_remaining / PAGE), "PASS");

	if (!ret)
		ret = send_pass_pages(s, all, false);
	if (!ret)
		ret = wire(s, cvmm_mig_send_complete(s->fd, s->p.pages_sent + s->p.zero_pages - base),
			   "COMPLETE");
	if (!ret)
		ret = verdict(s);
	return ret;
}

static int postcopy_rest(struct sender *s, uint64_t t_pause, bool all)
{
	pthread_t t;
	int ret;

	/* Requests are served before the verdict: restoring the state may
	 * touch guest RAM the destination does not have yet (a device
	 * looking at its rings) and waits for those pages. */
	if ((ret = requests_start(s, &t)))
		return ret;
	/* The destination's word that it runs: from here this VM never does.
	 * Without the word it may run all the same: a resume will tell. */
	s->pc_state_sent = true;
	if ((ret = verdict(s))) {
		requests_stop(s, t);
		return ret;
	}
	s->switched = true;
	s->p.switched = !all;
	s->p.downtime_ms = (cvmm_now_ns() - t_pause) / 1000000;
	s->p.state = CVMM_VMM_MIG_POSTCOPY;
	if (all)
		s->p.bytes_remaining = cvmm_guest_mem_total_size(s->vmm->mem);
	publish(s);
	ret = push_rest(s, all, 0);
	requests_stop(s, t);
	return ret;
}

/* Post-copy recovery: the destination's RECEIVED bitmaps until its ACCEPT.
 * Every page it lacks stays set in s->dirty's slots (made here, freed by
 * resume()). @return the pages it lacks, or negative errno. */
static long resume_wanted(struct sender *s)
{
	struct cvmm_mig_range r[CVMM_MIG_MAX_RANGES];
	struct cvmm_mig_map map = { r, cvmm_vi_mig_ranges(s->vmm, r) };
	struct cvmm_mig_msg *m = calloc(1, sizeof(*m));
	void *buf = NULL;
	size_t cap = 0;
	char e[300] = "";
	long want = 0;
	int ret = 0;

	s->dirty.s = calloc(map.nranges, sizeof(*s->dirty.s));
	if (!m || !s->dirty.s) {
		free(m);
		return -ENOMEM;
	}
	s->dirty.n = map.nranges;
	for (unsigned int i = 0; i < map.nranges; i++) {
		struct mig_dirty_slot *sl = &s->dirty.s[i];

		sl->gpa = r[i].gpa;
		sl->size = r[i].size;
		sl->bm_bytes = (r[i].size / PAGE + 63) / 64 * 8;
		if (!(sl->bm = malloc(sl->bm_bytes)))
			ret = -ENOMEM;
		else
			memset(sl->bm, 0xff, sl->bm_bytes);
	}
	while (!ret) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN };

		ret = poll(&pfd, 1, VERDICT_MS);
		if (ret <= 0) {
			ret = ret ? -errno : -ETIMEDOUT;
			snprintf(s->err, s->errlen, "migration: resume: no answer from the "
				 "destination: %s", ret == -ETIMEDOUT ? "timed out" : strerror(-ret));
			break;
		}
		ret = cvmm_mig_recv(s->fd, &buf, &cap, &map, m, NULL, e, sizeof(e));
		if (ret) {
			snprintf(s->err, s->errlen, "migration: resume: %s", e);
		} else if (m->type == CVMM_MIG_RESULT && m->u.text.error) {
			snprintf(s->err, s->errlen, "migration: the destination refused the resume: %s",
				 m->u.text.reason);
			ret = m->u.text.error;
		} else if (m->type == CVMM_MIG_ACCEPT && m->u.accept.flags == CVMM_MIG_F_RESUME) {
			break;
		} else if (m->type != CVMM_MIG_RECEIVED) {
			snprintf(s->err, s->errlen, "migration: resume: a %s instead of RECEIVED or "
				 "ACCEPT", cvmm_mig_type_name(m->type));
			ret = -EPROTO;
		} else {
			const struct cvmm_mig_received *h = &m->u.received.hdr;

			/* The decoder put it inside one range of our map. */
			for (unsigned int i = 0; i < s->dirty.n; i++) {
				struct mig_dirty_slot *sl = &s->dirty.s[i];

				if (h->gpa < sl->gpa || h->gpa - sl->gpa >= sl->size)
					continue;
				for (uint32_t k = 0; k < h->count; k++) {
					uint64_t pg = (h->gpa - sl->gpa) / PAGE + k;

					if (m->u.received.bits[k / 8] >> (k % 8) & 1)
						sl->bm[pg / 64] &= ~(1ull << (pg % 64));
				}
			}
		}
	}
	for (unsigned int i = 0; !ret && i < s->dirty.n; i++)
		for (uint64_t p = 0; p < s->dirty.s[i].size / PAGE; p++)
			want += s->dirty.s[i].bm[p / 64] >> (p % 64) & 1;
	free(buf);
	free(m);
	return ret ? ret : want;
}

/* Post-copy recovery over new connections: START(RESUME), the pages the
 * destination lacks, pushed while its requests are answered. */
static int resume(struct sender *s)
{
	uint64_t base = s->p.pages_sent + s->p.zero_pages;
	long want;
	int ret = send_start(s, CVMM_MIG_F_POSTCOPY | CVMM_MIG_F_RESUME);

	if (!ret) {
		want = resume_wanted(s);
		ret = want < 0 ? (int)want : 0;
	}
	if (!ret) {
		s->p.bytes_remaining = (uint64_t)want * PAGE;
		s->p.state = CVMM_VMM_MIG_POSTCOPY;
		s->p.error[0] = 0;
		s->p.pass++;
		publish(s);
		cvmm_vi_emit_type(s->vmm, CVMM_VMM_EV_POSTCOPY_RESUMED, NULL);
		pthread_t t;

		if (!(ret = requests_start(s, &t))) {
			ret = push_rest(s, false, base);
			requests_stop(s, t);
		}
	}
	for (unsigned int i = 0; i < s->dirty.n; i++)
		free(s->dirty.s[i].bm);
	free(s->dirty.s);
	memset(&s->dirty, 0, sizeof(s->dirty));
	return ret;
}

/*
 * A write failed: a destination that refused (its VM could not be built,
 * a device fd did not pass its checks) sent its RESULT and closed while
 * this side was still writing; the reason waits in the socket and is what
 * the user wants to hear, rather than "Broken pipe".
 */
static int heard_refusal(struct sender *s)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	struct cvmm_mig_msg *msg;
	void *buf = NULL;
	size_t cap = 0;
	char e[300];
	int ret = 0;

	if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN) || !(msg = calloc(1, sizeof(*msg))))
		return 0;
	if (!cvmm_mig_recv(s->fd, &buf, &cap, NULL, msg, NULL, e, sizeof(e)) &&
	    msg->type == CVMM_MIG_RESULT && msg->u.text.error) {
		snprintf(s->err, s->errlen, "migration: the destination refused: %s",
			 msg->u.text.reason);
		ret = msg->u.text.error;
	}
	free(buf);
	free(msg);
	return ret;
}

static int migrate(struct sender *s)
{
	struct cvmm_snap_writer *w;
	uint64_t t_pause;
	int ret;

	if (s->o->resume)
		return resume(s);
	if (s->o->postcopy)
		return postcopy(s);
	if (s->o->local) {
		if ((ret = send_start(s, CVMM_MIG_F_LOCAL)) || (ret = send_devfds(s)) ||
		    (ret = send_memfds(s)))
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
	if ((ret = stop_and_save(s, &t_pause, &w)))
		return ret;
	if (!s->o->local) {
		long dirty = cvmm_vi_mig_dirty_collect(s->vmm, &s->dirty);

		ret = (int)dirty;
		if (dirty >= 0) {
			s->p.bytes_remaining = (uint64_t)dirty * PAGE;
			ret = wire(s, cvmm_mig_send_pass(s->fd, s->p.pass, (uint64_t)dirty), "PASS");
		}
		if (!ret)
			ret = send_dirty(s);
	}
	/* The memory connections are done before the state goes. */
	if (ret || (ret = conns_end(s, false)) || (ret = check_cancel(s)) ||
	    (ret = hand_over(s))) {
		cvmm_snap_writer_destroy(w);
		return ret;
	}
	if ((ret = send_saved(s, w)))
		return ret;
	ret = wire(s, cvmm_mig_send_complete(s->fd, s->p.pages_sent + s->p.zero_pages),
		   "COMPLETE");
	if (ret) {
		/* the state may have arrived: outcome unknown, unless the
		 * destination had refused already */
		int refused = heard_refusal(s);

		return refused ? refused : -ENOTCONN;
	}
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
	if (o->resume) {
		struct cvmm_vmm_mig_progress p = { 0 };

		/* The destination of a paused post-copy says postcopy-paused
		 * too; a VM that came by a post-copy that completed (its
		 * receiver kept) and was then sent on is a source. */
		cvmm_vmm_migrate_progress(vmm, &p);
		if (p.state != CVMM_VMM_MIG_POSTCOPY_PAUSED || cvmm_vi_mig_receiving_paused(vmm) ||
		    cvmm_vmm_state(vmm) != CVMM_VMM_PAUSED) {
			snprintf(s.err, s.errlen, "migration: nothing to resume: the last migration "
				 "is %s (a resume needs the source of a postcopy-paused one)",
				 cvmm_vmm_mig_state_name(p.state));
			return -EBUSY;
		}
		if (o->request_fd < 0) {
			snprintf(s.err, s.errlen, "migration: a resume needs a page-request "
				 "connection");
			return -EINVAL;
		}
	} else if (cvmm_vmm_state(vmm) != CVMM_VMM_RUNNING) {
		snprintf(s.err, s.errlen, "migration: the VM is %s, not running",
			 cvmm_vmm_state_name(cvmm_vmm_state(vmm)));
		return -EBUSY;
	}
	if (o->nmem_fds > CVMM_MIG_MAX_CONNECTIONS || (o->nmem_fds && !o->mem_fds)) {
		snprintf(s.err, s.errlen, "migration: %u memory connections, at most %u",
			 o->nmem_fds, CVMM_MIG_MAX_CONNECTIONS);
		return -EINVAL;
	}
	if (o->ndevfds > CVMM_VMM_MAX_DEVFDS || (o->ndevfds && (!o->devfds || !o->local))) {
		snprintf(s.err, s.errlen, "migration: %u device fds (at most %u, and only in a "
			 "local migration)", o->ndevfds, CVMM_VMM_MAX_DEVFDS);
		return -EINVAL;
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
	s.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (o->resume) {
		/* The figures go on from where the link was lost. */
		pthread_mutex_lock(&s.m->lock);
		s.p = s.m->p;
		pthread_mutex_unlock(&s.m->lock);
		s.switched = s.held = true;
		s.requests = s.p.page_requests;
		s.p.state = CVMM_VMM_MIG_SETUP; /* the handshake; paused again if it fails */
		s.p.error[0] = 0;
	} else {
		s.m->t0 = cvmm_now_ns();
		s.p.state = CVMM_VMM_MIG_SETUP;
	}
	pthread_mutex_init(&s.cur_lock, NULL);
	pthread_mutex_init(&s.pool_lock, NULL);
	pthread_cond_init(&s.pool_cv, NULL);
	pthread_cond_init(&s.done_cv, NULL);
	publish(&s);

	ret = conns_start(&s);
	if (!ret)
		ret = migrate(&s);

	if (ret && (s.switched || s.pc_state_sent)) {
		/* Post-copy after the switch-over (or with the destination's
		 * word lost): the guest runs over there on what it got; this
		 * copy, complete, stays paused until a resume brings the rest. */
		lc(&s, LC_DIRTY_STOP, NULL);
		s.p.state = CVMM_VMM_MIG_POSTCOPY_PAUSED;
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
		else
			(void)heard_refusal(&s);
		/* Logging off with the guest held (the VMM bitmap wants quiet
		 * writers), then it runs again: nothing lost. The destination
		 * never ran the guest, so the images come back first. */
		if (s.handed_over && s.o->handover(s.o->opaque, true))
			CVMM_LOG(CVMM_LOG_ERROR, VMM_CRATE,
				 "migration failed and a disk image's lock could not be taken back: "
				 "another process holds it");
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
	/* After a failure (ABANDON went on the main connection first): the
	 * extra connections stop without COMPLETE. */
	conns_end(&s, true);
	if (ret && !s.err[0])
		snprintf(s.err, s.errlen, "migration: %s", strerror(-ret));
	snprintf(s.p.error, sizeof(s.p.error), "%s", ret ? s.err : "");
	publish(&s);
	if (s.pagemap >= 0)
		close(s.pagemap);
	pthread_mutex_destroy(&s.cur_lock);
	pthread_mutex_destroy(&s.pool_lock);
	pthread_cond_destroy(&s.pool_cv);
	pthread_cond_destroy(&s.done_cv);
	atomic_store(&s.m->sending, false);
	if (s.p.state == CVMM_VMM_MIG_POSTCOPY_PAUSED) {
		struct cvmm_vmm_event ev = { .type = CVMM_VMM_EV_POSTCOPY_PAUSED, .vcpu = -1,
					     .detail = s.err };

		cvmm_vi_emit(vmm, &ev);
	}
	return ret;
}
