/* SPDX-License-Identifier: Apache-2.0 */
/* The API server: routing, limits, refusals, fds with a request, keep-alive,
 * a slow route on the worker while other requests are answered. */
#include <cvmm/api.h>
#include "cvmm-test.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int seen_fds;

static void h_ping(void *opaque, struct cvmm_api_request *req, struct cvmm_api_response *resp)
{
	(void)opaque;
	(void)req;
	resp->status = 200;
	resp->json = json_object_new_object();
	json_object_object_add(resp->json, "version", json_object_new_string("test"));
}

static void h_put(void *opaque, struct cvmm_api_request *req, struct cvmm_api_response *resp)
{
	(void)opaque;
	seen_fds = (int)req->nfds;
	if (!json_object_is_type(req->json, json_type_object))
		return cvmm_api_error(resp, 400, "not an object");
	resp->status = 204;
}

static const struct cvmm_api_route routes[] = {
	{ "/api/v1/vmm.ping", CVMM_API_GET, h_ping, false },
	{ "/api/v1/vm.create", CVMM_API_PUT, h_put, true },
};

static int status_of(const char *req, size_t len)
{
	struct cvmm_api_opts o = { .sz = sizeof(o), .routes = routes, .nroutes = 2,
				   .max_body = 1024, .max_depth = 8 };
	char err[256];
	int st = -1;

	cvmm_api_parse_one(&o, (const uint8_t *)req, len, &st, err, sizeof(err), NULL);
	return st;
}

#define S(x) x, sizeof(x) - 1

START_TEST(parse_limits)
{
	char big[300];

	ck_assert_int_eq(status_of(S("GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\n\r\n")), 0);
	ck_assert_int_eq(status_of(S("PUT /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")), 0);
	ck_assert_int_eq(status_of(S("PUT /x HTTP/1.1\r\nContent-Length: 9999\r\n\r\n{}")), 413);
	ck_assert_int_eq(status_of(S("PUT /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n{\"a")), 408);
	ck_assert_int_eq(status_of(S("PUT /x HTTP/1.1\r\nContent-Length: 3\r\n\r\n{\"a\r\n")), 400);
	ck_assert_int_eq(status_of(S("PUT /x HTTP/1.1\r\nContent-Length: 4\r\n\r\n\"\xff\xfe\"")), 400);
	ck_assert_int_eq(status_of(S("PUT /x HTTP/1.1\r\nContent-Length: 20\r\n\r\n[[[[[[[[[[]]]]]]]]]]")), 400);
	ck_assert_int_eq(status_of(S("PUT /x HTTP/1.1\r\nContent-Length: 4\r\n\r\n{}{}")), 400);
	ck_assert_int_eq(status_of(S("GARBAGE\r\n\r\n")), 400);
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	ck_assert_int_eq(status_of(big, sizeof(big)), 408);
}
END_TEST

static int connect_to(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(a.sun_path, path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static int send_with_fd(int fd, const char *req, int pass)
{
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } c;
	struct iovec iov = { .iov_base = (void *)req, .iov_len = strlen(req) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (pass >= 0) {
		m.msg_control = c.b;
		m.msg_controllen = sizeof(c.b);
		CMSG_FIRSTHDR(&m)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&m)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&m)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&m)), &pass, sizeof(int));
	}
	return (int)sendmsg(fd, &m, 0);
}

/* Read one response; return its status. */
static int read_status(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;
	int st = -1;

	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0) {
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") && (strstr(buf, " 204 ") ||
		    (strchr(buf, '}') && strrchr(buf, '}') > strstr(buf, "\r\n\r\n"))))
			break;
	}
	buf[got] = '\0';
	sscanf(buf, "HTTP/1.1 %d", &st);
	return st;
}

START_TEST(server_round_trips)
{
	char path[] = "/tmp/cvmm-api-test-XXXXXX";
	char sock[64], buf[4096];
	struct cvmm_api_opts o = { .sz = sizeof(o), .routes = routes, .nroutes = 2,
				   .read_timeout_ms = 200, .max_conns = 2 };
	struct cvmm_api_server *s;
	int fd, fd2, fd3, p[2];

	ck_assert_ptr_nonnull(mkdtemp(path));
	snprintf(sock, sizeof(sock), "%s/api.sock", path);
	o.path = sock;
	o.listen_fd = -1;
	ck_assert_int_eq(cvmm_api_server_create(&o, &s), 0);
	fd = connect_to(sock);
	/* keep-alive: two requests on one connection */
	send_with_fd(fd, "GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\n\r\n", -1);
	ck_assert_int_eq(read_status(fd, buf, sizeof(buf)), 200);
	ck_assert_ptr_nonnull(strstr(buf, "\"version\":\"test\""));
	ck_assert_int_eq(pipe(p), 0);
	send_with_fd(fd, "PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", p[0]);
	ck_assert_int_eq(read_status(fd, buf, sizeof(buf)), 204);
	ck_assert_int_eq(seen_fds, 1);
	send_with_fd(fd, "GET /api/v1/vm.create HTTP/1.1\r\n\r\n", -1);
	ck_assert_int_eq(read_status(fd, buf, sizeof(buf)), 405);
	send_with_fd(fd, "GET /api/v1/nope HTTP/1.1\r\n\r\n", -1);
	ck_assert_int_eq(read_status(fd, buf, sizeof(buf)), 404);
	send_with_fd(fd, "PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]", -1);
	ck_assert_int_eq(read_status(fd, buf, sizeof(buf)), 400);
	send_with_fd(fd, "PUT /api/v1/vm.create HTTP/1.1\r\n\r\n", -1);
	ck_assert_int_eq(read_status(fd, buf, sizeof(buf)), 400);
	/* the cap: a third connection gets 503 */
	fd2 = connect_to(sock);
	fd3 = connect_to(sock);
	ck_assert_int_eq(read_status(fd3, buf, sizeof(buf)), 503);
	/* half a header, then nothing: 408 after the read timeout */
	send_with_fd(fd2, "GET /api/v1/vmm.pi", -1);
	ck_assert_int_eq(read_status(fd2, buf, sizeof(buf)), 408);
	close(fd2);
	close(fd3);
	send_with_fd(fd, "GET /api/v1/vmm.ping HTTP/1.1\r\n\r\n", -1);
	ck_assert_int_eq(read_status(fd, buf, sizeof(buf)), 200);
	close(fd);
	close(p[0]);
	close(p[1]);
	cvmm_api_server_destroy(s);
	ck_assert_int_eq(access(sock, F_OK), -1);
	rmdir(path);
}
END_TEST

/* The slow handler waits until the test lets it go (a pipe byte). */
static int slow_gate = -1;
static atomic_int slow_runs;

static void h_slow(void *opaque, struct cvmm_api_request *req, struct cvmm_api_response *resp)
{
	struct pollfd pf = { .fd = slow_gate, .events = POLLIN };
	char c;

	(void)opaque;
	(void)req;
	atomic_fetch_add(&slow_runs, 1);
	if (poll(&pf, 1, 10000) == 1 && read(slow_gate, &c, 1) == 1)
		resp->status = 204;
	else
		cvmm_api_error(resp, 500, "not let go");
}

static const struct cvmm_api_route slow_routes[] = {
	{ "/api/v1/vmm.ping", CVMM_API_GET, h_ping, false },
	{ "/api/v1/vm.snapshot", CVMM_API_PUT, h_slow, false, true },
};

START_TEST(slow_route_on_worker)
{
	char path[] = "/tmp/cvmm-api-test-XXXXXX";
	char sock[64], buf[4096];
	struct cvmm_api_opts o = { .sz = sizeof(o), .routes = slow_routes, .nroutes = 2,
				   .read_timeout_ms = 200 };
	struct cvmm_api_server *s;
	int fd, fd2, fd3, gate[2];

	ck_assert_ptr_nonnull(mkdtemp(path));
	snprintf(sock, sizeof(sock), "%s/api.sock", path);
	o.path = sock;
	o.listen_fd = -1;
	ck_assert_int_eq(pipe(gate), 0);
	slow_gate = gate[0];
	ck_assert_int_eq(cvmm_api_server_create(&o, &s), 0);
	fd = connect_to(sock);
	buf[0] = '\0';
	/* the slow request, then a ping pipelined behind it on its connection */
	send_with_fd(fd, "PUT /api/v1/vm.snapshot HTTP/1.1\r\n\r\n"
		     "GET /api/v1/vmm.ping HTTP/1.1\r\n\r\n", -1);
	while (!atomic_load(&slow_runs))
		usleep(1000);
	/* while it runs (parked past the read timeout): another client is answered */
	fd2 = connect_to(sock);
	send_with_fd(fd2, "GET /api/v1/vmm.ping HTTP/1.1\r\n\r\n", -1);
	ck_assert_int_eq(read_status(fd2, buf, sizeof(buf)), 200);
	usleep(400000);
	/* a second slow request waits on the server thread (the worker is busy) */
	fd3 = connect_to(sock);
	send_with_fd(fd3, "PUT /api/v1/vm.snapshot HTTP/1.1\r\n\r\n", -1);
	ck_assert_int_eq(write(gate[1], "xx", 2), 2);
	ck_assert_int_eq(read_status(fd3, buf, sizeof(buf)), 204);
	/* the first is answered, then what its connection held (both may
	 * come in one read) */
	{
		size_t got = 0;
		ssize_t n;

		buf[0] = '\0';
		while (got < sizeof(buf) - 1 && !strstr(buf, "\"version\":\"test\"") &&
		       (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
			got += (size_t)n;
			buf[got] = '\0';
		}
		ck_assert_ptr_nonnull(strstr(buf, "HTTP/1.1 204 "));
		ck_assert_ptr_nonnull(strstr(buf, "HTTP/1.1 200 "));
		ck_assert(strstr(buf, "HTTP/1.1 204 ") < strstr(buf, "HTTP/1.1 200 "));
	}
	ck_assert_int_eq(atomic_load(&slow_runs), 2);
	close(fd);
	close(fd2);
	close(fd3);
	/* destroy while a slow request runs: it finishes first */
	fd = connect_to(sock);
	send_with_fd(fd, "PUT /api/v1/vm.snapshot HTTP/1.1\r\n\r\n", -1);
	while (atomic_load(&slow_runs) < 3)
		usleep(1000);
	ck_assert_int_eq(write(gate[1], "x", 1), 1);
	cvmm_api_server_destroy(s);
	close(fd);
	close(gate[0]);
	close(gate[1]);
	rmdir(path);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, parse_limits);
	tcase_add_test(tc, server_round_trips);
	tcase_add_test(tc, slow_route_on_worker);
	suite_add_tcase(s, tc);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
