/* SPDX-License-Identifier: Apache-2.0 */
/* event-manager: subscribers, removal inside callbacks, timers, the remote
 * endpoint under concurrency, and teardown with calls still queued. */
#include <cvmm/event-manager.h>
#include "cvmm-test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000ull

static struct cvmm_event_manager *new_em(void)
{
	struct cvmm_event_manager *em = NULL;

	ck_assert_int_eq(cvmm_event_manager_create(NULL, &em), 0);
	ck_assert_ptr_nonnull(em);
	return em;
}

static int new_efd(void)
{
	int fd = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);

	ck_assert_int_ge(fd, 0);
	return fd;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- lifetime ----------------------------------------------------------- */

START_TEST(create_opts)
{
	struct cvmm_event_manager_opts o = { .sz = sizeof(o), .max_events = 1 };
	struct cvmm_event_manager *em = NULL;

	ck_assert_int_eq(cvmm_event_manager_create(NULL, NULL), -EINVAL);
	o.sz = 0;
	ck_assert_int_eq(cvmm_event_manager_create(&o, &em), -EINVAL);
	o.sz = sizeof(o);
	o.max_events = 4097;
	ck_assert_int_eq(cvmm_event_manager_create(&o, &em), -EINVAL);
	ck_assert_ptr_null(em);
	o.max_events = 1;
	ck_assert_int_eq(cvmm_event_manager_create(&o, &em), 0);
	cvmm_event_manager_destroy(em);
	/* A shorter (older) struct: max_events is not read. */
	o.sz = sizeof(size_t);
	o.max_events = 99999;
	ck_assert_int_eq(cvmm_event_manager_create(&o, &em), 0);
	cvmm_event_manager_destroy(em);
	cvmm_event_manager_destroy(NULL);
	ck_assert_int_eq(cvmm_event_manager_run_once(NULL, 0), -EINVAL);
	ck_assert_int_eq(cvmm_event_manager_call(NULL, NULL, NULL, true), -EINVAL);
}
END_TEST

/* ---- subscribers -------------------------------------------------------- */

struct hit {
	int count;
	int fd;
	uint32_t events;
	void *opaque;
	unsigned long thread;
};

static void on_hit(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct hit *h = opaque;
	uint64_t v;

	(void)em;
	h->count++;
	h->fd = fd;
	h->events = events;
	h->opaque = opaque;
	h->thread = (unsigned long)pthread_self();
	cvmm_eventfd_read(fd, &v);
}

START_TEST(dispatch_basic)
{
	struct cvmm_event_manager *em = new_em();
	struct hit h = { 0 };
	int fd = new_efd();
	uint64_t t0;

	ck_assert_int_eq(cvmm_event_manager_add(em, fd, EPOLLIN, on_hit, &h), 0);
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 0), 0);
	t0 = cvmm_now_ns();
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 30), 0);
	ck_assert_uint_ge(cvmm_now_ns() - t0, 29 * MS);
	ck_assert_int_eq(h.count, 0);
	cvmm_eventfd_write(fd, 1);
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 1000), 1);
	ck_assert_int_eq(h.count, 1);
	ck_assert_int_eq(h.fd, fd);
	ck_assert_uint_eq(h.events, EPOLLIN);
	ck_assert_ptr_eq(h.opaque, &h);
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 0), 0);
	ck_assert_int_eq(cvmm_event_manager_remove(em, fd), 0);
	cvmm_event_manager_destroy(em);
	/* The manager never closes the caller's fds. */
	ck_assert_int_eq(cvmm_eventfd_write(fd, 1), 0);
	close(fd);
}
END_TEST

START_TEST(add_errors)
{
	struct cvmm_event_manager *em = new_em();
	struct hit h = { 0 };
	int fd = new_efd(), fd2 = new_efd();
	char path[PATH_MAX];
	int file = cvmm_test_tmpfile(path, 0);

	ck_assert_int_eq(cvmm_event_manager_add(em, fd, EPOLLIN, on_hit, &h), 0);
	ck_assert_int_eq(cvmm_event_manager_add(em, fd, EPOLLIN, on_hit, &h), -EEXIST);
	ck_assert_int_eq(cvmm_event_manager_add(em, fd, EPOLLOUT, on_hit, NULL), -EEXIST);
	ck_assert_int_eq(cvmm_event_manager_add(em, -1, EPOLLIN, on_hit, &h), -EINVAL);
	ck_assert_int_eq(cvmm_event_manager_add(em, fd2, EPOLLIN, NULL, &h), -EINVAL);
	ck_assert_int_eq(cvmm_event_manager_add(em, file, EPOLLIN, on_hit, &h), -EPERM);
	ck_assert_int_eq(cvmm_event_manager_add(em, 100000, EPOLLIN, on_hit, &h), -EBADF);
	/* A failed add leaves no trace: the same fd can then be removed
	 * (-ENOENT) and properly added. */
	ck_assert_int_eq(cvmm_event_manager_remove(em, file), -ENOENT);
	ck_assert_int_eq(cvmm_event_manager_remove(em, 100000), -ENOENT);
	ck_assert_int_eq(cvmm_event_manager_modify(em, fd2, EPOLLIN), -ENOENT);
	ck_assert_int_eq(cvmm_event_manager_remove(em, fd2), -ENOENT);
	ck_assert_int_eq(cvmm_event_manager_add(em, fd2, EPOLLIN, on_hit, &h), 0);
	ck_assert_int_eq(cvmm_event_manager_remove(em, fd), 0);
	ck_assert_int_eq(cvmm_event_manager_remove(em, fd), -ENOENT);
	/* Removal outside the loop is immediate: the fd can come back. */
	ck_assert_int_eq(cvmm_event_manager_add(em, fd, EPOLLIN, on_hit, &h), 0);
	cvmm_event_manager_destroy(em);
	unlink(path);
	close(file);
	close(fd);
	close(fd2);
}
END_TEST

START_TEST(many_fds_grow_map)
{
	struct cvmm_event_manager *em = new_em();
	struct hit h = { 0 };
	int fds[300];

	for (size_t i = 0; i < CVMM_ARRAY_SIZE(fds); i++) {
		fds[i] = new_efd();
		ck_assert_int_eq(cvmm_event_manager_add(em, fds[i], EPOLLIN, on_hit, &h), 0);
		cvmm_eventfd_write(fds[i], 1);
	}
	/* 64 per batch by default: all 300 arrive over a few rounds. */
	while (h.count < 300) {
		int n = cvmm_event_manager_run_once(em, 1000);

		ck_assert_int_gt(n, 0);
		ck_assert_int_le(n, 64);
	}
	ck_assert_int_eq(h.count, 300);
	cvmm_event_manager_destroy(em);
	for (size_t i = 0; i < CVMM_ARRAY_SIZE(fds); i++)
		close(fds[i]);
}
END_TEST

static void remove_self(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct hit *h = opaque;

	(void)events;
	h->count++;
	ck_assert_int_eq(cvmm_event_manager_remove(em, fd), 0);
	ck_assert_int_eq(cvmm_event_manager_remove(em, fd), -ENOENT);
	close(fd);
	/* Still running after our own removal: the opaque is ours. */
	h->fd = fd;
}

START_TEST(remove_self_in_callback)
{
	struct cvmm_event_manager *em = new_em();
	struct hit h = { 0 };
	int fd = new_efd();

	ck_assert_int_eq(cvmm_event_manager_add(em, fd, EPOLLIN, remove_self, &h), 0);
	cvmm_eventfd_write(fd, 1);
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 1000), 1);
	ck_assert_int_eq(h.count, 1);
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 20), 0);
	ck_assert_int_eq(h.count, 1);
	cvmm_event_manager_destroy(em);
}
END_TEST

/* Two subscribers, both ready in the same batch, each removing the other:
 * whichever runs first must prevent the second from being dispatched. */
struct pairwise {
	int fd[2];
	int count[2];
	int reuse_fd;
	struct hit reused;
	bool reuse;
};

static void remove_other(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct pairwise *p = opaque;
	int me = fd == p->fd[1], other = p->fd[!me];
	uint64_t v;

	(void)events;
	cvmm_eventfd_read(fd, &v);
	p->count[me]++;
	ck_assert_int_eq(cvmm_event_manager_remove(em, other), 0);
	if (p->reuse) {
		/* Close the other fd and make a new one that takes over its
		 * number: the stale event must not reach the newcomer. */
		int nfd = new_efd();

		ck_assert_int_eq(dup2(nfd, other), other);
		close(nfd);
		p->reuse_fd = other;
		ck_assert_int_eq(cvmm_event_manager_add(em, p->reuse_fd, EPOLLIN | EPOLLOUT,
							 on_hit, &p->reused), 0);
		p->fd[!me] = -1;
	}
}

static void pairwise_case(bool reuse)
{
	struct cvmm_event_manager *em = new_em();
	struct pairwise p = { .reuse = reuse, .reuse_fd = -1 };

	for (int i = 0; i < 2; i++) {
		p.fd[i] = new_efd();
		ck_assert_int_eq(cvmm_event_manager_add(em, p.fd[i], EPOLLIN, remove_other, &p), 0);
		cvmm_eventfd_write(p.fd[i], 1);
	}
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 1000), 1);
	ck_assert_int_eq(p.count[0] + p.count[1], 1);
	ck_assert_int_eq(p.reused.count, 0);
	if (reuse) {
		/* The newcomer (writable eventfd) gets its own events later. */
		ck_assert_int_eq(cvmm_event_manager_run_once(em, 1000), 1);
		ck_assert_int_eq(p.reused.count, 1);
		ck_assert_uint_eq(p.reused.events, EPOLLOUT);
	} else {
		ck_assert_int_eq(cvmm_event_manager_run_once(em, 0), 0);
	}
	cvmm_event_manager_destroy(em);
	for (int i = 0; i < 2; i++)
		if (p.fd[i] >= 0)
			close(p.fd[i]);
	if (p.reuse_fd >= 0)
		close(p.reuse_fd);
}

START_TEST(remove_other_pending) { pairwise_case(false); }
END_TEST
START_TEST(remove_other_pending_fd_reused) { pairwise_case(true); }
END_TEST

struct narrowing {
	int fd[2];
	int count[2];
	uint32_t got[2];
};

static void narrow_other(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct narrowing *n = opaque;
	int me = fd == n->fd[1];

	n->count[me]++;
	n->got[me] = events;
	/* Stop caring about EPOLLOUT on the other one. */
	ck_assert_int_eq(cvmm_event_manager_modify(em, n->fd[!me], EPOLLIN), 0);
}

START_TEST(modify_filters_pending)
{
	struct cvmm_event_manager *em = new_em();
	struct narrowing n = { 0 };
	int before;

	/* Eventfds are always writable: both are ready for EPOLLOUT. */
	for (int i = 0; i < 2; i++) {
		n.fd[i] = new_efd();
		ck_assert_int_eq(cvmm_event_manager_add(em, n.fd[i], EPOLLOUT, narrow_other, &n), 0);
	}
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 1000), 1);
	ck_assert_int_eq(n.count[0] + n.count[1], 1);
	ck_assert_int_eq(n.got[0] | n.got[1], EPOLLOUT);
	/* The one that ran still waits for EPOLLOUT: narrow it too. */
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(cvmm_event_manager_modify(em, n.fd[i], EPOLLIN), 0);
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 0), 0);
	before = n.count[1];
	cvmm_eventfd_write(n.fd[1], 1);
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 1000), 1);
	ck_assert_int_eq(n.count[1], before + 1);
	ck_assert_uint_eq(n.got[1], EPOLLIN);
	cvmm_event_manager_destroy(em);
	close(n.fd[0]);
	close(n.fd[1]);
}
END_TEST

struct adder {
	int new_fd;
	struct hit h;
	int rc_reenter;
};

static void add_from_callback(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct adder *a = opaque;
	uint64_t v;

	(void)events;
	cvmm_eventfd_read(fd, &v);
	a->rc_reenter = cvmm_event_manager_run_once(em, 0);
	a->new_fd = new_efd();
	cvmm_eventfd_write(a->new_fd, 1);
	ck_assert_int_eq(cvmm_event_manager_add(em, a->new_fd, EPOLLIN, on_hit, &a->h), 0);
}

START_TEST(add_in_callback_and_reentry)
{
	struct cvmm_event_manager *em = new_em();
	struct adder a = { .new_fd = -1 };
	int fd = new_efd();

	ck_assert_int_eq(cvmm_event_manager_add(em, fd, EPOLLIN, add_from_callback, &a), 0);
	cvmm_eventfd_write(fd, 1);
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 1000), 1);
	ck_assert_int_eq(a.rc_reenter, -EBUSY);
	ck_assert_int_eq(a.h.count, 0);
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 1000), 1);
	ck_assert_int_eq(a.h.count, 1);
	ck_assert_int_eq(a.h.fd, a.new_fd);
	cvmm_event_manager_destroy(em);
	close(fd);
	close(a.new_fd);
}
END_TEST

/* ---- timers ------------------------------------------------------------- */

struct tick {
	int calls;
	uint64_t expirations;
	uint64_t first_ns;
	uint64_t last_ns;
	int remove_after;
	struct cvmm_event_timer *t;
};

static void on_tick(struct cvmm_event_manager *em, struct cvmm_event_timer *t,
		    uint64_t exp, void *opaque)
{
	struct tick *k = opaque;

	k->last_ns = cvmm_now_ns();
	if (!k->calls)
		k->first_ns = k->last_ns;
	k->calls++;
	k->expirations += exp;
	ck_assert_ptr_eq(t, k->t);
	if (k->remove_after && k->calls == k->remove_after) {
		ck_assert_int_eq(cvmm_event_manager_timer_remove(em, t), 0);
		ck_assert_int_eq(cvmm_event_manager_timer_remove(em, t), -EINVAL);
	}
}

START_TEST(timer_one_shot_not_early)
{
	static const unsigned int delays_ms[] = { 1, 20, 50 };

	for (size_t i = 0; i < CVMM_ARRAY_SIZE(delays_ms); i++) {
		struct cvmm_event_manager *em = new_em();
		struct tick k = { 0 };
		uint64_t t0 = cvmm_now_ns();

		ck_assert_int_eq(cvmm_event_manager_timer_add(em, delays_ms[i] * MS, 0, on_tick,
							       &k, &k.t), 0);
		while (!k.calls)
			ck_assert_int_ge(cvmm_event_manager_run_once(em, 2000), 0);
		ck_assert_uint_ge(k.first_ns - t0, delays_ms[i] * MS);
		/* Sanity, not a latency promise: well under a second late. */
		ck_assert_uint_lt(k.first_ns - t0, delays_ms[i] * MS + 1000 * MS);
		ck_assert_uint_eq(k.expirations, 1);
		ck_assert_int_eq(cvmm_event_manager_run_once(em, 3 * (int)delays_ms[i] + 10), 0);
		ck_assert_int_eq(k.calls, 1);
		/* Still registered: it can be re-armed. */
		ck_assert_int_eq(cvmm_event_manager_timer_set(em, k.t, 1 * MS, 0), 0);
		ck_assert_int_eq(cvmm_event_manager_run_once(em, 2000), 1);
		ck_assert_int_eq(k.calls, 2);
		cvmm_event_manager_destroy(em);
	}
}
END_TEST

START_TEST(timer_periodic_and_self_remove)
{
	struct cvmm_event_manager *em = new_em();
	struct tick k = { .remove_after = 5 };
	uint64_t t0 = cvmm_now_ns();

	ck_assert_int_eq(cvmm_event_manager_timer_add(em, 10 * MS, 10 * MS, on_tick, &k, &k.t), 0);
	while (k.calls < 5)
		ck_assert_int_ge(cvmm_event_manager_run_once(em, 2000), 0);
	/* At least k.expirations periods have passed by the last callback. */
	ck_assert_uint_ge(k.expirations, 5);
	ck_assert_uint_ge(k.last_ns - t0, k.expirations * 10 * MS);
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 50), 0);
	ck_assert_int_eq(k.calls, 5);
	cvmm_event_manager_destroy(em);
}
END_TEST

struct disarmer {
	struct cvmm_event_timer *t;
	int order[2];
	int n;
};

static void disarm_tick(struct cvmm_event_manager *em, struct cvmm_event_timer *t,
			uint64_t exp, void *opaque)
{
	struct disarmer *d = opaque;

	(void)em; (void)t; (void)exp;
	d->order[d->n++] = 't';
}

static void disarm_fd(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct disarmer *d = opaque;
	uint64_t v;

	(void)events;
	cvmm_eventfd_read(fd, &v);
	d->order[d->n++] = 'f';
	ck_assert_int_eq(cvmm_event_manager_timer_set(em, d->t, 0, 0), 0);
}

START_TEST(timer_disarmed_while_pending)
{
	struct cvmm_event_manager *em = new_em();
	struct disarmer d = { 0 };
	int fd = new_efd();

	/* The fd becomes ready before the timer expires, so epoll reports it
	 * first in the batch; its callback disarms the expired timer. */
	ck_assert_int_eq(cvmm_event_manager_add(em, fd, EPOLLIN, disarm_fd, &d), 0);
	cvmm_eventfd_write(fd, 1);
	ck_assert_int_eq(cvmm_event_manager_timer_add(em, 1 * MS, 0, disarm_tick, &d, &d.t), 0);
	sleep_ms(10);
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 1000), 1);
	ck_assert_int_eq(d.n, 1);
	ck_assert_int_eq(d.order[0], 'f');
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 20), 0);
	ck_assert_int_eq(cvmm_event_manager_timer_remove(em, d.t), 0);
	ck_assert_int_eq(cvmm_event_manager_timer_add(em, 0, 0, disarm_tick, &d, NULL), -EINVAL);
	cvmm_event_manager_destroy(em);
	close(fd);
}
END_TEST

/* ---- remote endpoint ---------------------------------------------------- */

struct loop_thread {
	struct cvmm_event_manager *em;
	pthread_t tid;
	int rc;
};

static void *loop_main(void *arg)
{
	struct loop_thread *l = arg;

	l->rc = cvmm_event_manager_run(l->em);
	return NULL;
}

static void start_loop(struct loop_thread *l, struct cvmm_event_manager *em)
{
	l->em = em;
	l->rc = 1;
	ck_assert_int_eq(pthread_create(&l->tid, NULL, loop_main, l), 0);
}

static void stop_loop(struct loop_thread *l)
{
	ck_assert_int_eq(cvmm_event_manager_stop(l->em), 0);
	pthread_join(l->tid, NULL);
	ck_assert_int_eq(l->rc, 0);
}

struct stress {
	pthread_t loop;
	unsigned long long sum;	/* touched only on the loop thread */
	int wrong_thread;
	int runs;
};

struct stress_arg {
	struct stress *s;
	int v;
};

static int stress_fn(struct cvmm_event_manager *em, void *arg)
{
	struct stress *s = ((struct stress_arg *)arg)->s;
	int v = ((struct stress_arg *)arg)->v;

	(void)em;
	if (!pthread_equal(pthread_self(), s->loop))
		s->wrong_thread++;
	s->sum += (unsigned)v;
	s->runs++;
	return v * 3 + 1;
}

struct caller {
	struct cvmm_event_manager *em;
	struct stress *s;
	int base;
	int bad;
};

#define CALLS_PER_THREAD 10000

static void *caller_main(void *arg)
{
	struct caller *c = arg;

	for (int i = 0; i < CALLS_PER_THREAD; i++) {
		struct stress_arg a = { c->s, c->base + i };
		int r = cvmm_event_manager_call(c->em, stress_fn, &a, true);

		if (r != a.v * 3 + 1)
			c->bad++;
	}
	return NULL;
}

START_TEST(remote_stress_4x10000)
{
	struct cvmm_event_manager *em = new_em();
	struct stress s = { 0 };
	struct caller c[4];
	pthread_t t[4];
	struct loop_thread l;
	unsigned long long want = 0;
	uint64_t t0;

	start_loop(&l, em);
	s.loop = l.tid;
	t0 = cvmm_now_ns();
	for (int i = 0; i < 4; i++) {
		c[i] = (struct caller){ .em = em, .s = &s, .base = i * 100000 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, caller_main, &c[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(c[i].bad, 0);
		for (int j = 0; j < CALLS_PER_THREAD; j++)
			want += (unsigned)(i * 100000 + j);
	}
	t0 = cvmm_now_ns() - t0;
	stop_loop(&l);
	ck_assert_int_eq(s.runs, 4 * CALLS_PER_THREAD);
	ck_assert_int_eq(s.wrong_thread, 0);
	ck_assert_uint_eq(s.sum, want);
	ck_assert_uint_eq(cvmm_event_manager_pending_calls(em), 0);
	cvmm_event_manager_destroy(em);
	/* Not asserted: recorded for the report. */
	fprintf(stderr, "# remote_stress: %d waited calls in %.1f ms (%.2f us/call)\n",
	       4 * CALLS_PER_THREAD, t0 / 1e6, t0 / 1e3 / (4 * CALLS_PER_THREAD));
}
END_TEST

struct seq {
	int log[2000];
	int n;
};

struct seq_arg {
	struct seq *s;
	int v;
};

static int record(struct cvmm_event_manager *em, void *arg)
{
	struct seq_arg *a = arg;

	(void)em;
	a->s->log[a->s->n++] = a->v;
	return 0;
}

START_TEST(remote_async_fifo)
{
	struct cvmm_event_manager *em = new_em();
	static struct seq_arg args[1000];
	struct seq s = { .n = 0 };
	int total = 0;

	for (int i = 0; i < 1000; i++) {
		args[i].s = &s;
		args[i].v = i;
		ck_assert_int_eq(cvmm_event_manager_call(em, record, &args[i], false), 0);
	}
	ck_assert_uint_eq(cvmm_event_manager_pending_calls(em), 1000);
	ck_assert_int_eq(s.n, 0); /* nothing runs before the loop does */
	while (total < 1000) {
		int n = cvmm_event_manager_run_once(em, 1000);

		ck_assert_int_gt(n, 0);
		total += n;
	}
	ck_assert_int_eq(total, 1000);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(s.log[i], i);
	ck_assert_uint_eq(cvmm_event_manager_pending_calls(em), 0);
	cvmm_event_manager_destroy(em);
}
END_TEST

static int return_arg(struct cvmm_event_manager *em, void *arg)
{
	(void)em;
	return (int)(intptr_t)arg;
}

static int nested_call(struct cvmm_event_manager *em, void *arg)
{
	/* A remote call is on the loop thread too: waiting runs inline. */
	return cvmm_event_manager_call(em, return_arg, arg, true) + 1;
}

struct inline_cb {
	int rc;
	int pending_before, pending_after;
};

static void call_from_callback(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct inline_cb *ic = opaque;
	uint64_t v;

	(void)events;
	cvmm_eventfd_read(fd, &v);
	ic->pending_before = (int)cvmm_event_manager_pending_calls(em);
	ic->rc = cvmm_event_manager_call(em, return_arg, (void *)(intptr_t)-42, true);
	ic->pending_after = (int)cvmm_event_manager_pending_calls(em);
}

START_TEST(remote_wait_on_loop_thread_runs_inline)
{
	struct cvmm_event_manager *em = new_em();
	struct inline_cb ic = { .rc = 1 };
	struct loop_thread l;
	int fd = new_efd();

	ck_assert_int_eq(cvmm_event_manager_add(em, fd, EPOLLIN, call_from_callback, &ic), 0);
	cvmm_eventfd_write(fd, 1);
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 1000), 1);
	ck_assert_int_eq(ic.rc, -42);
	ck_assert_int_eq(ic.pending_before, 0);
	ck_assert_int_eq(ic.pending_after, 0);
	ck_assert_int_eq(cvmm_event_manager_remove(em, fd), 0);

	start_loop(&l, em);
	ck_assert_int_eq(cvmm_event_manager_call(em, nested_call, (void *)(intptr_t)7, true), 8);
	stop_loop(&l);
	cvmm_event_manager_destroy(em);
	close(fd);
}
END_TEST

struct remover {
	int fd;
	struct hit h;
};

static int remove_remote(struct cvmm_event_manager *em, void *arg)
{
	struct remover *r = arg;

	return cvmm_event_manager_remove(em, r->fd);
}

struct gate {
	int pipe[2];
	int inside;
};

/* Holds the loop thread inside run_once until the test writes the pipe. */
static int block_loop(struct cvmm_event_manager *em, void *arg)
{
	struct gate *g = arg;
	char c;

	(void)em;
	__atomic_store_n(&g->inside, 1, __ATOMIC_RELEASE);
	return (int)read(g->pipe[0], &c, 1);
}

START_TEST(remote_remove_and_eperm)
{
	struct cvmm_event_manager *em = new_em();
	struct remover r = { .fd = new_efd() };
	struct loop_thread l;
	int other = new_efd();
	struct gate g = { .inside = 0 };

	ck_assert_int_eq(cvmm_event_manager_add(em, r.fd, EPOLLIN, on_hit, &r.h), 0);
	start_loop(&l, em);
	/* While another thread is inside run_once, direct changes from
	 * here are refused. Park the loop thread in a call to be sure. */
	ck_assert_int_eq(pipe(g.pipe), 0);
	ck_assert_int_eq(cvmm_event_manager_call(em, block_loop, &g, false), 0);
	while (!__atomic_load_n(&g.inside, __ATOMIC_ACQUIRE))
		sleep_ms(1);
	ck_assert_int_eq(cvmm_event_manager_add(em, other, EPOLLIN, on_hit, &r.h), -EPERM);
	ck_assert_int_eq(cvmm_event_manager_remove(em, r.fd), -EPERM);
	ck_assert_int_eq(cvmm_event_manager_modify(em, r.fd, EPOLLOUT), -EPERM);
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 0), -EBUSY);
	ck_assert_int_eq(write(g.pipe[1], "go", 1), 1);
	/* The remote endpoint is the way in. */
	ck_assert_int_eq(cvmm_event_manager_call(em, remove_remote, &r, true), 0);
	ck_assert_int_eq(cvmm_event_manager_call(em, remove_remote, &r, true), -ENOENT);
	cvmm_eventfd_write(r.fd, 1);
	stop_loop(&l);
	ck_assert_int_eq(r.h.count, 0);
	cvmm_event_manager_destroy(em);
	close(r.fd);
	close(other);
	close(g.pipe[0]);
	close(g.pipe[1]);
}
END_TEST

START_TEST(stop_before_run)
{
	struct cvmm_event_manager *em = new_em();

	ck_assert_int_eq(cvmm_event_manager_stop(em), 0);
	ck_assert_int_eq(cvmm_event_manager_run(em), 0);
	/* The request was consumed: the next round really waits. */
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 20), 0);
	cvmm_event_manager_destroy(em);
}
END_TEST

static void stop_tick(struct cvmm_event_manager *em, struct cvmm_event_timer *t,
		      uint64_t exp, void *opaque)
{
	(void)t; (void)exp;
	*(uint64_t *)opaque = cvmm_now_ns();
	cvmm_event_manager_stop(em);
}

START_TEST(stop_from_callback)
{
	struct cvmm_event_manager *em = new_em();
	struct cvmm_event_timer *t;
	uint64_t t0 = cvmm_now_ns(), fired = 0;

	ck_assert_int_eq(cvmm_event_manager_stop(em), 0);
	ck_assert_int_eq(cvmm_event_manager_run(em), 0);
	ck_assert_int_eq(cvmm_event_manager_timer_add(em, 30 * MS, 0, stop_tick, &fired, &t), 0);
	ck_assert_int_eq(cvmm_event_manager_run(em), 0);
	ck_assert_uint_ge(fired - t0, 30 * MS);
	ck_assert_uint_ge(cvmm_now_ns() - t0, 30 * MS);
	cvmm_event_manager_destroy(em);
}
END_TEST

struct waiter {
	struct cvmm_event_manager *em;
	int rc;
	int ran;
};

static int must_not_run(struct cvmm_event_manager *em, void *arg)
{
	(void)em;
	(*(int *)arg)++;
	return 123;
}

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->rc = cvmm_event_manager_call(w->em, must_not_run, &w->ran, true);
	return NULL;
}

START_TEST(destroy_cancels_pending)
{
	struct cvmm_event_manager *em = new_em();
	struct waiter w[3];
	pthread_t t[3];
	struct cvmm_event_timer *tm;
	int async_ran = 0, fd = new_efd();
	struct hit h = { 0 };
	uint64_t never = 0;

	/* Registrations still present at destroy are freed (ASan/LSan
	 * checks that); the fd stays the caller's. */
	ck_assert_int_eq(cvmm_event_manager_add(em, fd, EPOLLIN, on_hit, &h), 0);
	ck_assert_int_eq(cvmm_event_manager_timer_add(em, 5 * MS, 5 * MS, stop_tick, &never, &tm), 0);
	for (int i = 0; i < 3; i++) {
		w[i] = (struct waiter){ .em = em, .rc = 1 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, waiter_main, &w[i]), 0);
	}
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(cvmm_event_manager_call(em, must_not_run, &async_ran, false), 0);
	/* Nobody runs the loop: wait until all three waiters queued. */
	while (cvmm_event_manager_pending_calls(em) < 8)
		sleep_ms(1);
	cvmm_event_manager_destroy(em);
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].rc, -ECANCELED);
		ck_assert_int_eq(w[i].ran, 0);
	}
	ck_assert_int_eq(async_ran, 0);
	ck_assert_int_eq(h.count, 0);
	ck_assert_uint_eq(never, 0);
	ck_assert_int_eq(cvmm_eventfd_write(fd, 1), 0);
	close(fd);
}
END_TEST

static void destroy_from_callback(struct cvmm_event_manager *em, int fd, uint32_t events,
				  void *opaque)
{
	uint64_t v;

	(void)events;
	cvmm_eventfd_read(fd, &v);
	cvmm_event_manager_destroy(em);
	/* Ignored: the manager is still alive and usable here. */
	*(int *)opaque = cvmm_event_manager_remove(em, fd);
}

START_TEST(destroy_inside_callback_ignored)
{
	struct cvmm_event_manager *em = new_em();
	int fd = new_efd(), rc = 1;

	ck_assert_int_eq(cvmm_event_manager_add(em, fd, EPOLLIN, destroy_from_callback, &rc), 0);
	cvmm_eventfd_write(fd, 1);
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 1000), 1);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 0), 0);
	cvmm_event_manager_destroy(em);
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("event-manager");
	TCase *tc = tcase_create("subscribers");

	tcase_add_test(tc, create_opts);
	tcase_add_test(tc, dispatch_basic);
	tcase_add_test(tc, add_errors);
	tcase_add_test(tc, many_fds_grow_map);
	tcase_add_test(tc, remove_self_in_callback);
	tcase_add_test(tc, remove_other_pending);
	tcase_add_test(tc, remove_other_pending_fd_reused);
	tcase_add_test(tc, modify_filters_pending);
	tcase_add_test(tc, add_in_callback_and_reentry);
	suite_add_tcase(s, tc);

	tc = tcase_create("timers");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, timer_one_shot_not_early);
	tcase_add_test(tc, timer_periodic_and_self_remove);
	tcase_add_test(tc, timer_disarmed_while_pending);
	suite_add_tcase(s, tc);

	tc = tcase_create("remote");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, remote_stress_4x10000);
	tcase_add_test(tc, remote_async_fifo);
	tcase_add_test(tc, remote_wait_on_loop_thread_runs_inline);
	tcase_add_test(tc, remote_remove_and_eperm);
	tcase_add_test(tc, stop_before_run);
	tcase_add_test(tc, stop_from_callback);
	tcase_add_test(tc, destroy_cancels_pending);
	tcase_add_test(tc, destroy_inside_callback_ignored);
	suite_add_tcase(s, tc);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
