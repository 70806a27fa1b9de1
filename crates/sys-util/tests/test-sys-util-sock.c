/* SPDX-License-Identifier: Apache-2.0 */
/* sys-util: SCM_RIGHTS fd passing, whole-buffer I/O and unix sockets. */
#include <cvmm/sys-util.h>
#include "cvmm-test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return !fstat(a, &sa) && !fstat(b, &sb) && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static void pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

/* Send @n fds with a raw sendmsg, bypassing cvmm's own CVMM_MAX_FDS limit,
 * to play a hostile peer. */
static void raw_send_fds(int sock, const int *fds, size_t n)
{
	char ctl[CMSG_SPACE(64 * sizeof(int))];
	char byte = 'h';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			      .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	struct cmsghdr *c;

	ck_assert_uint_le(n, 64);
	memset(ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	ck_assert_int_eq(sendmsg(sock, &msg, 0), 1);
}

static void send_recv_n(size_t n)
{
	int sv[2], src[CVMM_MAX_FDS], got[CVMM_MAX_FDS];
	char out[] = "hello", in[16] = { 0 };
	size_t nfds = 99;
	int before;

	pair(sv);
	for (size_t i = 0; i < n; i++)
		src[i] = i % 2 ? cvmm_eventfd_create(0) : cvmm_timerfd_create();
	before = count_fds();
	ck_assert_int_eq(cvmm_sock_send_fds(sv[0], out, sizeof(out), src, n), sizeof(out));
	ck_assert_int_eq(cvmm_sock_recv_fds(sv[1], in, sizeof(in), got, CVMM_MAX_FDS, &nfds),
			 sizeof(out));
	ck_assert_str_eq(in, "hello");
	ck_assert_uint_eq(nfds, n);
	ck_assert_int_eq(count_fds(), before + (int)n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_ne(got[i], src[i]);
		ck_assert(same_file(got[i], src[i]));
		ck_assert_int_ne(fcntl(got[i], F_GETFD) & FD_CLOEXEC, 0);
		close(got[i]);
		close(src[i]);
	}
	close(sv[0]);
	close(sv[1]);
}

START_TEST(fds_zero) { send_recv_n(0); }
END_TEST
START_TEST(fds_one) { send_recv_n(1); }
END_TEST
START_TEST(fds_max) { send_recv_n(CVMM_MAX_FDS); }
END_TEST

START_TEST(send_bad_args)
{
	int sv[2], fds[CVMM_MAX_FDS + 1];

	pair(sv);
	for (size_t i = 0; i < CVMM_ARRAY_SIZE(fds); i++)
		fds[i] = sv[0];
	ck_assert_int_eq(cvmm_sock_send_fds(sv[0], "x", 1, fds, CVMM_MAX_FDS + 1), -EINVAL);
	ck_assert_int_eq(cvmm_sock_send_fds(sv[0], "x", 1, NULL, 1), -EINVAL);
	ck_assert_int_eq(cvmm_sock_send_fds(sv[0], "", 0, fds, 1), -EINVAL);
	ck_assert_int_eq(cvmm_sock_send_fds(sv[0], "", 0, NULL, 0), 0);
	fds[0] = -1;
	ck_assert_int_eq(cvmm_sock_send_fds(sv[0], "x", 1, fds, 1), -EBADF);
	ck_assert_int_eq(cvmm_sock_send_fds(-1, "x", 1, NULL, 0), -EBADF);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

static void too_many(size_t sent, size_t max)
{
	int sv[2], src[64], got[CVMM_MAX_FDS];
	char in[4];
	size_t nfds = 77;
	int before;

	pair(sv);
	for (size_t i = 0; i < sent; i++)
		src[i] = cvmm_eventfd_create(0);
	raw_send_fds(sv[0], src, sent);
	before = count_fds();
	ck_assert_int_eq(cvmm_sock_recv_fds(sv[1], in, sizeof(in), max ? got : NULL, max, &nfds),
			 -EMSGSIZE);
	ck_assert_uint_eq(nfds, 0);
	ck_assert_int_eq(count_fds(), before);
	for (size_t i = 0; i < sent; i++)
		close(src[i]);
	close(sv[0]);
	close(sv[1]);
}

START_TEST(fds_too_many_for_caller) { too_many(4, 2); }
END_TEST
START_TEST(fds_none_wanted) { too_many(1, 0); }
END_TEST
START_TEST(fds_beyond_cvmm_max) { too_many(40, CVMM_MAX_FDS); }
END_TEST

START_TEST(recv_eof)
{
	int sv[2], got[2];
	char in[4];
	size_t nfds = 5;

	pair(sv);
	close(sv[0]);
	ck_assert_int_eq(cvmm_sock_recv_fds(sv[1], in, sizeof(in), got, 2, &nfds), 0);
	ck_assert_uint_eq(nfds, 0);
	ck_assert_int_eq(cvmm_sock_recv_fds(sv[1], in, sizeof(in), got, 2, NULL), -EINVAL);
	close(sv[1]);
}
END_TEST

START_TEST(send_to_closed_peer)
{
	int sv[2];

	/* MSG_NOSIGNAL: without it this test dies of SIGPIPE. */
	pair(sv);
	close(sv[1]);
	ck_assert_int_eq(cvmm_sock_send_fds(sv[0], "abc", 3, NULL, 0), -EPIPE);
	close(sv[0]);
}
END_TEST

#define BIG (4u << 20)

struct sink {
	int sock;
	size_t got;
	size_t nfds;
	int fd;
	unsigned char *buf;
	bool bad;
};

static void *slow_reader(void *arg)
{
	struct sink *s = arg;

	while (s->got < BIG) {
		size_t n = 0;
		int fds[CVMM_MAX_FDS];
		ssize_t r = cvmm_sock_recv_fds(s->sock, s->buf + s->got,
					       CVMM_MIN((size_t)7777, BIG - s->got), fds,
					       CVMM_MAX_FDS, &n);

		if (r <= 0) {
			s->bad = true;
			break;
		}
		if (n) {
			/* fds must come with the very first byte. */
			if (s->got != 0 || n != 1)
				s->bad = true;
			s->fd = fds[0];
			s->nfds += n;
		}
		s->got += (size_t)r;
	}
	return NULL;
}

static void partial_writes(bool nonblock)
{
	struct sink s = { .fd = -1 };
	unsigned char *data = malloc(BIG);
	int sv[2], efd = cvmm_eventfd_create(0), small = 4096;
	pthread_t t;

	ck_assert_ptr_nonnull(data);
	s.buf = malloc(BIG);
	ck_assert_ptr_nonnull(s.buf);
	for (size_t i = 0; i < BIG; i++)
		data[i] = (unsigned char)(i * 2654435761u >> 13);
	pair(sv);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (nonblock)
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
	s.sock = sv[1];
	ck_assert_int_eq(pthread_create(&t, NULL, slow_reader, &s), 0);
	ck_assert_int_eq(cvmm_sock_send_fds(sv[0], data, BIG, &efd, 1), (ssize_t)BIG);
	pthread_join(t, NULL);
	ck_assert(!s.bad);
	ck_assert_uint_eq(s.got, BIG);
	ck_assert_uint_eq(s.nfds, 1);
	ck_assert(same_file(s.fd, efd));
	ck_assert_int_eq(memcmp(data, s.buf, BIG), 0);
	close(s.fd);
	close(efd);
	close(sv[0]);
	close(sv[1]);
	free(data);
	free(s.buf);
}

START_TEST(send_partial_blocking) { partial_writes(false); }
END_TEST
START_TEST(send_partial_nonblocking) { partial_writes(true); }
END_TEST

/* ---- read_full / write_full --------------------------------------------- */

struct dribble {
	int fd;
	const char *data;
	size_t len;
	bool close_early;
};

static void *dribbler(void *arg)
{
	struct dribble *d = arg;

	for (size_t i = 0; i < d->len; i += 3) {
		usleep(1000);
		if (write(d->fd, d->data + i, CVMM_MIN((size_t)3, d->len - i)) < 0)
			break;
	}
	if (d->close_early)
		close(d->fd);
	return NULL;
}

START_TEST(read_full_pieces)
{
	static const char msg[] = "the quick brown fox jumps over the lazy dog";
	char buf[sizeof(msg)] = { 0 };
	struct dribble d = { .data = msg, .len = sizeof(msg) };
	pthread_t t;
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	d.fd = p[1];
	ck_assert_int_eq(pthread_create(&t, NULL, dribbler, &d), 0);
	ck_assert_int_eq(cvmm_read_full(p[0], buf, sizeof(buf)), 0);
	pthread_join(t, NULL);
	ck_assert_str_eq(buf, msg);
	ck_assert_int_eq(cvmm_read_full(p[0], buf, 0), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(read_full_nonblocking)
{
	static const char msg[] = "0123456789abcdefghij";
	char buf[sizeof(msg)] = { 0 };
	struct dribble d = { .data = msg + 1, .len = sizeof(msg) - 1 };
	pthread_t t;
	int p[2];

	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	ck_assert_int_eq(cvmm_read_full(p[0], buf, sizeof(buf)), -EAGAIN);
	/* Once one byte is in, the rest is waited for, not dropped. */
	ck_assert_int_eq(write(p[1], msg, 1), 1);
	d.fd = p[1];
	ck_assert_int_eq(pthread_create(&t, NULL, dribbler, &d), 0);
	ck_assert_int_eq(cvmm_read_full(p[0], buf, sizeof(buf)), 0);
	pthread_join(t, NULL);
	ck_assert_str_eq(buf, msg);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* A blocking socket whose SO_RCVTIMEO runs out mid-buffer: -ETIMEDOUT
 * (waiting on for ever hid a migration link gone silent mid-message). */
START_TEST(read_full_rcvtimeo)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
	char buf[64];
	int p[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
	ck_assert_int_eq(setsockopt(p[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	ck_assert_int_eq(cvmm_read_full(p[0], buf, sizeof(buf)), -ETIMEDOUT);
	ck_assert_int_eq(write(p[1], "half", 4), 4);
	ck_assert_int_eq(cvmm_read_full(p[0], buf, sizeof(buf)), -ETIMEDOUT);
	ck_assert_int_eq(write(p[1], "whole", 5), 5);
	ck_assert_int_eq(cvmm_read_full(p[0], buf, 5), 0);
	ck_assert_int_eq(memcmp(buf, "whole", 5), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(read_full_eof)
{
	char buf[64];
	struct dribble d = { .data = "short", .len = 5, .close_early = true };
	pthread_t t;
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	d.fd = p[1];
	ck_assert_int_eq(pthread_create(&t, NULL, dribbler, &d), 0);
	ck_assert_int_eq(cvmm_read_full(p[0], buf, sizeof(buf)), -EPIPE);
	pthread_join(t, NULL);
	ck_assert_int_eq(memcmp(buf, "short", 5), 0);
	ck_assert_int_eq(cvmm_read_full(-1, buf, 1), -EBADF);
	close(p[0]);
}
END_TEST

static void *drain(void *arg)
{
	int fd = *(int *)arg;
	char buf[1000];
	size_t *total = malloc(sizeof(*total));
	ssize_t n;

	*total = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		*total += (size_t)n;
		usleep(50);
	}
	return total;
}

START_TEST(write_full_big)
{
	char *data = calloc(1, BIG);
	pthread_t t;
	void *total;
	int p[2];

	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	/* Only the write end stays nonblocking: that is the path under test. */
	fcntl(p[0], F_SETFL, 0);
	ck_assert_int_eq(pthread_create(&t, NULL, drain, &p[0]), 0);
	ck_assert_int_eq(cvmm_write_full(p[1], data, BIG), 0);
	close(p[1]);
	pthread_join(t, &total);
	ck_assert_uint_eq(*(size_t *)total, BIG);
	free(total);
	free(data);
	close(p[0]);
}
END_TEST

START_TEST(write_full_broken_pipe)
{
	int p[2];

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(pipe(p), 0);
	close(p[0]);
	ck_assert_int_eq(cvmm_write_full(p[1], "x", 1), -EPIPE);
	close(p[1]);
}
END_TEST

/* ---- unix_listen / unix_connect ----------------------------------------- */

static char sock_dir[64];

static void make_dir(void)
{
	snprintf(sock_dir, sizeof(sock_dir), "/tmp/cvmm-sock-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sock_dir));
}

static void remove_dir(const char *path)
{
	unlink(path);
	rmdir(sock_dir);
}

START_TEST(listen_connect)
{
	char path[PATH_MAX];
	int l, c, a;
	char b = 0;

	make_dir();
	snprintf(path, sizeof(path), "%s/s", sock_dir);
	l = cvmm_unix_listen(path, 4);
	ck_assert_int_ge(l, 0);
	ck_assert_int_ne(fcntl(l, F_GETFD) & FD_CLOEXEC, 0);
	c = cvmm_unix_connect(path);
	ck_assert_int_ge(c, 0);
	a = accept(l, NULL, NULL);
	ck_assert_int_ge(a, 0);
	ck_assert_int_eq(cvmm_write_full(c, "q", 1), 0);
	ck_assert_int_eq(cvmm_read_full(a, &b, 1), 0);
	ck_assert_int_eq(b, 'q');
	/* Someone is listening: the socket is not stale and must survive. */
	ck_assert_int_eq(cvmm_unix_listen(path, 4), -EADDRINUSE);
	close(a);
	close(c);
	close(l);
	remove_dir(path);
}
END_TEST

START_TEST(listen_replaces_stale)
{
	char path[PATH_MAX];
	int l, c;

	make_dir();
	snprintf(path, sizeof(path), "%s/stale", sock_dir);
	l = cvmm_unix_listen(path, 1);
	ck_assert_int_ge(l, 0);
	close(l); /* leaves the socket file behind, like a crashed daemon */
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(cvmm_unix_connect(path), -ECONNREFUSED);
	l = cvmm_unix_listen(path, 1);
	ck_assert_int_ge(l, 0);
	c = cvmm_unix_connect(path);
	ck_assert_int_ge(c, 0);
	close(c);
	close(l);
	remove_dir(path);
}
END_TEST

START_TEST(listen_refuses_regular_file)
{
	char path[PATH_MAX], buf[8] = { 0 };
	int f;

	make_dir();
	snprintf(path, sizeof(path), "%s/data", sock_dir);
	f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ck_assert_int_eq(write(f, "precious", 8), 8);
	close(f);
	ck_assert_int_eq(cvmm_unix_listen(path, 1), -EEXIST);
	f = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(read(f, buf, 8), 8);
	ck_assert_int_eq(memcmp(buf, "precious", 8), 0);
	close(f);
	remove_dir(path);
}
END_TEST

START_TEST(unix_bad_paths)
{
	char path[200];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = 0;
	ck_assert_int_eq(cvmm_unix_listen(path, 1), -ENAMETOOLONG);
	ck_assert_int_eq(cvmm_unix_connect(path), -ENAMETOOLONG);
	/* sun_path is 108 bytes: 107 characters plus the NUL is the limit. */
	path[sizeof(((struct sockaddr_un *)0)->sun_path)] = 0;
	ck_assert_int_eq(cvmm_unix_connect(path), -ENAMETOOLONG);
	ck_assert_int_eq(cvmm_unix_listen("", 1), -EINVAL);
	ck_assert_int_eq(cvmm_unix_listen(NULL, 1), -EINVAL);
	ck_assert_int_eq(cvmm_unix_connect("/nonexistent-cvmm/sock"), -ENOENT);
	ck_assert_int_eq(cvmm_unix_listen("/nonexistent-cvmm/sock", 1), -ENOENT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sys-util-sock");
	TCase *tc = tcase_create("fds");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, fds_zero);
	tcase_add_test(tc, fds_one);
	tcase_add_test(tc, fds_max);
	tcase_add_test(tc, send_bad_args);
	tcase_add_test(tc, fds_too_many_for_caller);
	tcase_add_test(tc, fds_none_wanted);
	tcase_add_test(tc, fds_beyond_cvmm_max);
	tcase_add_test(tc, recv_eof);
	tcase_add_test(tc, send_to_closed_peer);
	tcase_add_test(tc, send_partial_blocking);
	tcase_add_test(tc, send_partial_nonblocking);
	suite_add_tcase(s, tc);

	tc = tcase_create("io");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, read_full_pieces);
	tcase_add_test(tc, read_full_nonblocking);
	tcase_add_test(tc, read_full_eof);
	tcase_add_test(tc, read_full_rcvtimeo);
	tcase_add_test(tc, write_full_big);
	tcase_add_test(tc, write_full_broken_pipe);
	suite_add_tcase(s, tc);

	tc = tcase_create("unix");
	tcase_add_test(tc, listen_connect);
	tcase_add_test(tc, listen_replaces_stale);
	tcase_add_test(tc, listen_refuses_regular_file);
	tcase_add_test(tc, unix_bad_paths);
	suite_add_tcase(s, tc);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
