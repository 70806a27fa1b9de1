/* SPDX-License-Identifier: Apache-2.0 */
/* sys-util: eventfd, timerfd, epoll and the kick signal. */
#include <cvmm/sys-util.h>
#include "cvmm-test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000ull

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* ---- eventfd ------------------------------------------------------------ */

START_TEST(eventfd_counter)
{
	int fd = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	uint64_t v = 99;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(cvmm_eventfd_read(fd, &v), -EAGAIN);
	ck_assert_uint_eq(v, 99);
	ck_assert_int_eq(cvmm_eventfd_write(fd, 3), 0);
	ck_assert_int_eq(cvmm_eventfd_write(fd, 4), 0);
	ck_assert_int_eq(cvmm_eventfd_read(fd, &v), 0);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(cvmm_eventfd_read(fd, &v), -EAGAIN);
	close(fd);
}
END_TEST

START_TEST(eventfd_semaphore)
{
	int fd = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK | CVMM_EVENTFD_SEMAPHORE);
	uint64_t v;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cvmm_eventfd_write(fd, 3), 0);
	for (int i = 0; i < 3; i++) {
		v = 0;
		ck_assert_int_eq(cvmm_eventfd_read(fd, &v), 0);
		ck_assert_uint_eq(v, 1);
	}
	ck_assert_int_eq(cvmm_eventfd_read(fd, &v), -EAGAIN);
	close(fd);
}
END_TEST

START_TEST(eventfd_overflow_and_bad_args)
{
	int fd = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	int p[2];
	uint64_t v;

	ck_assert_int_eq(cvmm_eventfd_create(0x80), -EINVAL);
	/* The counter saturates at UINT64_MAX - 1; one more would block. */
	ck_assert_int_eq(cvmm_eventfd_write(fd, UINT64_MAX - 1), 0);
	ck_assert_int_eq(cvmm_eventfd_write(fd, 1), -EAGAIN);
	ck_assert_int_eq(cvmm_eventfd_write(fd, UINT64_MAX), -EINVAL);
	ck_assert_int_eq(cvmm_eventfd_read(fd, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX - 1);
	close(fd);
	ck_assert_int_eq(cvmm_eventfd_write(fd, 1), -EBADF);
	ck_assert_int_eq(cvmm_eventfd_read(fd, &v), -EBADF);

	/* A short read means the fd was not an eventfd. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "abc", 3), 3);
	ck_assert_int_eq(cvmm_eventfd_read(p[0], &v), -EINVAL);
	close(p[0]);
	close(p[1]);
}
END_TEST

static void *write_later(void *arg)
{
	sleep_ns(20 * MS);
	cvmm_eventfd_write(*(int *)arg, 5);
	return NULL;
}

START_TEST(eventfd_blocking_read)
{
	int fd = cvmm_eventfd_create(0);
	pthread_t t;
	uint64_t v = 0, t0 = cvmm_now_ns();

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_eq(pthread_create(&t, NULL, write_later, &fd), 0);
	ck_assert_int_eq(cvmm_eventfd_read(fd, &v), 0);
	ck_assert_uint_eq(v, 5);
	ck_assert_uint_ge(cvmm_now_ns() - t0, 20 * MS);
	pthread_join(t, NULL);
	close(fd);
}
END_TEST

/* ---- timerfd ------------------------------------------------------------ */

START_TEST(timerfd_one_shot)
{
	int fd = cvmm_timerfd_create();
	uint64_t n = 0, t0;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(cvmm_timerfd_read(fd, &n), -EAGAIN);
	t0 = cvmm_now_ns();
	ck_assert_int_eq(cvmm_timerfd_set(fd, 30 * MS, 0), 0);
	ck_assert_int_eq(cvmm_timerfd_read(fd, &n), -EAGAIN);
	ck_assert(readable(fd, 2000));
	ck_assert_uint_ge(cvmm_now_ns() - t0, 30 * MS);
	ck_assert_int_eq(cvmm_timerfd_read(fd, &n), 0);
	ck_assert_uint_eq(n, 1);
	/* One-shot: nothing more, however long we wait. */
	ck_assert(!readable(fd, 60));
	ck_assert_int_eq(cvmm_timerfd_read(fd, &n), -EAGAIN);
	close(fd);
}
END_TEST

START_TEST(timerfd_periodic)
{
	int fd = cvmm_timerfd_create();
	uint64_t n = 0, t0, elapsed;

	t0 = cvmm_now_ns();
	ck_assert_int_eq(cvmm_timerfd_set(fd, 10 * MS, 10 * MS), 0);
	sleep_ns(55 * MS);
	ck_assert_int_eq(cvmm_timerfd_read(fd, &n), 0);
	elapsed = cvmm_now_ns() - t0;
	/* Expiries at 10, 20, ... ms: at least 5 happened in 55 ms, and no
	 * more than the elapsed time allows. */
	ck_assert_uint_ge(n, 5);
	ck_assert_uint_le(n, elapsed / (10 * MS));
	ck_assert(readable(fd, 2000));
	ck_assert_int_eq(cvmm_timerfd_read(fd, &n), 0);
	ck_assert_uint_ge(n, 1);
	close(fd);
}
END_TEST

START_TEST(timerfd_disarm)
{
	int fd = cvmm_timerfd_create();
	uint64_t n;

	ck_assert_int_eq(cvmm_timerfd_set(fd, 20 * MS, 5 * MS), 0);
	ck_assert_int_eq(cvmm_timerfd_set(fd, 0, 5 * MS), 0);
	ck_assert(!readable(fd, 60));
	ck_assert_int_eq(cvmm_timerfd_read(fd, &n), -EAGAIN);
	/* Disarming also drops expirations that already accumulated. */
	ck_assert_int_eq(cvmm_timerfd_set(fd, 1 * MS, 0), 0);
	sleep_ns(10 * MS);
	ck_assert_int_eq(cvmm_timerfd_set(fd, 0, 0), 0);
	ck_assert_int_eq(cvmm_timerfd_read(fd, &n), -EAGAIN);
	/* Long intervals do not overflow the timespec conversion. */
	ck_assert_int_eq(cvmm_timerfd_set(fd, 3600ull * 1000000000ull + 5, 1), 0);
	ck_assert_int_eq(cvmm_timerfd_set(-1, 1, 0), -EBADF);
	close(fd);
}
END_TEST

START_TEST(now_monotonic)
{
	uint64_t a = cvmm_now_ns(), b;

	sleep_ns(5 * MS);
	b = cvmm_now_ns();
	ck_assert_uint_ge(b - a, 5 * MS);
	ck_assert_uint_lt(b - a, 5000 * MS);
}
END_TEST

/* ---- epoll -------------------------------------------------------------- */

START_TEST(epoll_ctl_errors)
{
	int ep = cvmm_epoll_create();
	int efd = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	int other = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	char path[PATH_MAX];
	int file = cvmm_test_tmpfile(path, 0);

	ck_assert_int_ge(ep, 0);
	ck_assert_int_ne(fcntl(ep, F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(cvmm_epoll_add(ep, efd, EPOLLIN, 1), 0);
	ck_assert_int_eq(cvmm_epoll_add(ep, efd, EPOLLIN, 1), -EEXIST);
	ck_assert_int_eq(cvmm_epoll_mod(ep, other, EPOLLIN, 2), -ENOENT);
	ck_assert_int_eq(cvmm_epoll_del(ep, other), -ENOENT);
	ck_assert_int_eq(cvmm_epoll_add(ep, -1, EPOLLIN, 0), -EBADF);
	ck_assert_int_eq(cvmm_epoll_add(ep, ep, EPOLLIN, 0), -EINVAL);
	ck_assert_int_eq(cvmm_epoll_add(ep, file, EPOLLIN, 0), -EPERM);
	ck_assert_int_eq(cvmm_epoll_add(efd, other, EPOLLIN, 0), -EINVAL);
	ck_assert_int_eq(cvmm_epoll_mod(ep, efd, EPOLLIN, 7), 0);
	ck_assert_int_eq(cvmm_epoll_del(ep, efd), 0);
	ck_assert_int_eq(cvmm_epoll_del(ep, efd), -ENOENT);
	unlink(path);
	close(file);
	close(other);
	close(efd);
	close(ep);
}
END_TEST

START_TEST(epoll_wait_events)
{
	int ep = cvmm_epoll_create();
	int a = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	int b = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	struct epoll_event ev[4];
	uint64_t t0;

	ck_assert_int_eq(cvmm_epoll_add(ep, a, EPOLLIN, 0xa), 0);
	ck_assert_int_eq(cvmm_epoll_add(ep, b, EPOLLIN, 0xb), 0);
	ck_assert_int_eq(cvmm_epoll_wait(ep, ev, 4, 0), 0);
	ck_assert_int_eq(cvmm_epoll_wait(ep, ev, 0, 0), -EINVAL);
	ck_assert_int_eq(cvmm_epoll_wait(ep, NULL, 4, 0), -EINVAL);
	t0 = cvmm_now_ns();
	ck_assert_int_eq(cvmm_epoll_wait(ep, ev, 4, 30), 0);
	ck_assert_uint_ge(cvmm_now_ns() - t0, 29 * MS);

	cvmm_eventfd_write(b, 1);
	ck_assert_int_eq(cvmm_epoll_wait(ep, ev, 4, 1000), 1);
	ck_assert_uint_eq(ev[0].data.u64, 0xb);
	ck_assert_uint_eq(ev[0].events, EPOLLIN);
	/* mod changes the cookie the next wait reports. */
	ck_assert_int_eq(cvmm_epoll_mod(ep, b, EPOLLIN, 0xbb), 0);
	ck_assert_int_eq(cvmm_epoll_wait(ep, ev, 4, 1000), 1);
	ck_assert_uint_eq(ev[0].data.u64, 0xbb);
	cvmm_eventfd_write(a, 1);
	ck_assert_int_eq(cvmm_epoll_wait(ep, ev, 4, 1000), 2);
	ck_assert_int_eq(cvmm_epoll_del(ep, b), 0);
	ck_assert_int_eq(cvmm_epoll_wait(ep, ev, 4, 0), 1);
	ck_assert_uint_eq(ev[0].data.u64, 0xa);
	close(a);
	close(b);
	close(ep);
}
END_TEST

/* ---- kick --------------------------------------------------------------- */

START_TEST(kick_signal_choice)
{
	ck_assert_int_eq(cvmm_kick_signal(), SIGRTMIN);
	ck_assert_int_eq(cvmm_kick_signal_set(SIGINT), -EINVAL);
	ck_assert_int_eq(cvmm_kick_signal_set(SIGRTMAX + 1), -EINVAL);
	ck_assert_int_eq(cvmm_kick_signal_set(SIGRTMIN + 2), 0);
	ck_assert_int_eq(cvmm_kick_signal(), SIGRTMIN + 2);
	ck_assert_int_eq(cvmm_kick_signal_set(SIGRTMIN), 0);
	ck_assert_int_eq(cvmm_signal_block(0), -EINVAL);
	ck_assert_int_eq(cvmm_signal_block(_NSIG + 5), -EINVAL);
}
END_TEST

struct reader {
	int fd;
	bool block_kick;
	volatile int started;
	volatile int done;
	ssize_t ret;
	int err;
	char byte;
	uint64_t epoll_ns;
	int epoll_ret;
	int ep;
};

static void *blocked_reader(void *arg)
{
	struct reader *r = arg;

	if (r->block_kick)
		cvmm_signal_block(cvmm_kick_signal());
	__atomic_store_n(&r->started, 1, __ATOMIC_RELEASE);
	r->ret = read(r->fd, &r->byte, 1);
	r->err = errno;
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(kick_interrupts_blocking_read)
{
	struct reader r = { 0 };
	pthread_t t;
	int p[2], kicks = 0;

	ck_assert_int_eq(cvmm_kick_init(), 0);
	ck_assert_int_eq(cvmm_kick_init(), 0); /* idempotent */
	ck_assert_int_eq(pipe(p), 0);
	r.fd = p[0];
	ck_assert_int_eq(pthread_create(&t, NULL, blocked_reader, &r), 0);
	/* A kick that lands before the thread enters read() is lost (the
	 * handler runs, nothing is interrupted), so kick until it returns. */
	while (!__atomic_load_n(&r.done, __ATOMIC_ACQUIRE) && kicks < 2000) {
		ck_assert_int_eq(cvmm_kick_thread((unsigned long)t), 0);
		kicks++;
		sleep_ns(2 * MS);
	}
	pthread_join(t, NULL);
	ck_assert_msg(r.done, "reader never interrupted after %d kicks", kicks);
	ck_assert_int_eq(r.ret, -1);
	ck_assert_int_eq(r.err, EINTR);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(blocked_kick_does_not_interrupt)
{
	struct reader r = { .block_kick = true };
	pthread_t t;
	int p[2];

	ck_assert_int_eq(cvmm_kick_init(), 0);
	ck_assert_int_eq(pipe(p), 0);
	r.fd = p[0];
	ck_assert_int_eq(pthread_create(&t, NULL, blocked_reader, &r), 0);
	while (!__atomic_load_n(&r.started, __ATOMIC_ACQUIRE))
		sleep_ns(1 * MS);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(cvmm_kick_thread((unsigned long)t), 0);
		sleep_ns(2 * MS);
	}
	ck_assert(!__atomic_load_n(&r.done, __ATOMIC_ACQUIRE));
	ck_assert_int_eq(write(p[1], "z", 1), 1);
	pthread_join(t, NULL);
	ck_assert_int_eq(r.ret, 1);
	ck_assert_int_eq(r.byte, 'z');
	close(p[0]);
	close(p[1]);
}
END_TEST

static void *kicked_epoll(void *arg)
{
	struct reader *r = arg;
	struct epoll_event ev;
	uint64_t t0 = cvmm_now_ns();

	__atomic_store_n(&r->started, 1, __ATOMIC_RELEASE);
	r->epoll_ret = cvmm_epoll_wait(r->ep, &ev, 1, 150);
	r->epoll_ns = cvmm_now_ns() - t0;
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(epoll_wait_survives_kicks)
{
	struct reader r = { 0 };
	pthread_t t;

	ck_assert_int_eq(cvmm_kick_init(), 0);
	r.ep = cvmm_epoll_create();
	ck_assert_int_eq(pthread_create(&t, NULL, kicked_epoll, &r), 0);
	while (!__atomic_load_n(&r.done, __ATOMIC_ACQUIRE)) {
		cvmm_kick_thread((unsigned long)t);
		sleep_ns(5 * MS);
	}
	pthread_join(t, NULL);
	ck_assert_int_eq(r.epoll_ret, 0);
	ck_assert_uint_ge(r.epoll_ns, 150 * MS);
	close(r.ep);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sys-util-fd");
	TCase *tc = tcase_create("eventfd");

	tcase_add_test(tc, eventfd_counter);
	tcase_add_test(tc, eventfd_semaphore);
	tcase_add_test(tc, eventfd_overflow_and_bad_args);
	tcase_add_test(tc, eventfd_blocking_read);
	suite_add_tcase(s, tc);

	tc = tcase_create("timerfd");
	tcase_add_test(tc, timerfd_one_shot);
	tcase_add_test(tc, timerfd_periodic);
	tcase_add_test(tc, timerfd_disarm);
	tcase_add_test(tc, now_monotonic);
	suite_add_tcase(s, tc);

	tc = tcase_create("epoll");
	tcase_add_test(tc, epoll_ctl_errors);
	tcase_add_test(tc, epoll_wait_events);
	suite_add_tcase(s, tc);

	tc = tcase_create("kick");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, kick_signal_choice);
	tcase_add_test(tc, kick_interrupts_blocking_read);
	tcase_add_test(tc, blocked_kick_does_not_interrupt);
	tcase_add_test(tc, epoll_wait_survives_kicks);
	suite_add_tcase(s, tc);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
