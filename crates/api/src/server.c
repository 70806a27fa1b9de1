/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server thread: one epoll set holding the listening socket, a stop
 * eventfd and every connection. Connections are read with recvmsg so that
 * SCM_RIGHTS fds arrive with the bytes they came with; each has a deadline
 * (read timeout once a request has begun, idle timeout between requests)
 * checked on every wake-up. Handlers run on this thread, one at a time,
 * but for the routes marked slow: one of those at a time runs on a worker
 * thread while its connection is parked (out of the epoll set, no
 * deadline) and this thread goes on answering the others, so a progress
 * route can be asked while a snapshot is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define READ_CHUNK 16384u

struct conn {
	int fd;
	struct cvmm_api_parser rp;
	char *in;                 /* bytes read and not yet parsed */
	size_t in_len;
	int fds[CVMM_API_MAX_FDS]; /* fds received for the request under way */
	unsigned int nfds;
	bool fds_lost;            /* more than CVMM_API_MAX_FDS, or truncated */
	uint64_t deadline_ns;
	bool eof;
	bool parked;              /* its slow request runs on the worker */
};

/* The slow request on the worker, and its answer. */
struct job {
	struct conn *c;
	const struct cvmm_api_route *r;
	struct cvmm_api_request req;
	struct cvmm_api_response resp;
	bool keep;
};

enum { JOB_IDLE, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct cvmm_api_server {
	struct cvmm_api_opts o;
	struct cvmm_api_limits lim;
	int lfd, efd, stop_fd;
	bool own_path;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct conn **conns;      /* lim.max_conns slots */
	unsigned int nconns;
	pthread_t thread;
	bool started;
	volatile bool stopping;
	/* the worker for slow routes */
	pthread_t worker;
	bool worker_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int job_state;            /* JOB_*, under mu */
	struct job job;
	int done_fd;              /* the worker says a job is done */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *cvmm_api_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

void cvmm_api_error(struct cvmm_api_response *resp, int status, const char *fmt, ...)
{
	va_list ap;

	resp->status = status;
	va_start(ap, fmt);
	vsnprintf(resp->error, sizeof(resp->error), fmt, ap);
	va_end(ap);
}

/* Write all of @buf; a client that does not read gets SO_SNDTIMEO. */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int respond(int fd, int status, const char *body, bool close_after)
{
	char head[256];
	size_t blen = body ? strlen(body) : 0;
	int n;

	if (status == 204)
		n = snprintf(head, sizeof(head), "HTTP/1.1 204 No Content\r\nServer: cvmm\r\n%s\r\n",
			     close_after ? "Connection: close\r\n" : "");
	else
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %d %s\r\nServer: cvmm\r\nContent-Type: application/json\r\n"
			     "Content-Length: %zu\r\n%s\r\n",
			     status, cvmm_api_status_text(status), blen,
			     close_after ? "Connection: close\r\n" : "");
	if (send_all(fd, head, (size_t)n))
		return -1;
	return blen ? send_all(fd, body, blen) : 0;
}

static int respond_error(int fd, int status, const char *msg, bool close_after)
{
	struct json_object *o = json_object_new_object();
	int ret;

	if (!o)
		return respond(fd, status, "{\"error\":\"out of memory\"}", true);
	json_object_object_add(o, "error", json_object_new_string(msg));
	ret = respond(fd, status, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		      close_after);
	json_object_put(o);
	return ret;
}

static void close_fds(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void conn_free(struct cvmm_api_server *s, unsigned int i)
{
	struct conn *c = s->conns[i];

	epoll_ctl(s->efd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	close_fds(c->fds, c->nfds);
	cvmm_api_parser_fini(&c->rp);
	free(c->in);
	free(c);
	s->conns[i] = s->conns[--s->nconns];
}

static const char *method_name(enum cvmm_api_method m)
{
	switch (m) {
	case CVMM_API_GET: return "GET";
	case CVMM_API_PUT: return "PUT";
	case CVMM_API_POST: return "POST";
	case CVMM_API_PATCH: return "PATCH";
	case CVMM_API_DELETE: return "DELETE";
	}
	return "?";
}

static enum cvmm_api_method method_of(unsigned int m)
{
	switch (m) {
	case HTTP_GET: return CVMM_API_GET;
	case HTTP_PUT: return CVMM_API_PUT;
	case HTTP_POST: return CVMM_API_POST;
	case HTTP_PATCH: return CVMM_API_PATCH;
	case HTTP_DELETE: return CVMM_API_DELETE;
	default: return 0;
	}
}

/* Route a complete request and answer it. @return 0 to keep the
 * connection, -1 to close it. */
static int answer(struct conn *c, struct cvmm_api_request *req, struct cvmm_api_response *resp,
		  bool keep);

/* Answer one complete request. @return 0; 1: parked (its slow handler
 * runs on the worker); -1: close the connection. */
static int dispatch(struct cvmm_api_server *s, struct conn *c)
{
	struct cvmm_api_parser *rp = &c->rp;
	struct cvmm_api_request req = { .body = "", .nfds = 0 };
	struct cvmm_api_response resp = { .status = 0 };
	const struct cvmm_api_route *r = NULL;
	bool keep = http_should_keep_alive(&rp->p);
	bool path_known = false;
	char *q;
	int ret;

	memcpy(req.fds, c->fds, sizeof(c->fds[0]) * c->nfds);
	req.nfds = c->nfds;
	c->nfds = 0;
	q = strchr(rp->url, '?');
	if (q)
		*q = '\0';
	req.path = rp->url;
	req.method = method_of(rp->p.method);
	for (unsigned int i = 0; i < s->o.nroutes; i++) {
		if (strcmp(s->o.routes[i].path, req.path))
			continue;
		path_known = true;
		if (s->o.routes[i].methods & req.method) {
			r = &s->o.routes[i];
			break;
		}
	}
	if (c->fds_lost)
		cvmm_api_refuse(rp, 400, "more than %u file descriptors with one request",
				CVMM_API_MAX_FDS);
	else if (!path_known)
		cvmm_api_refuse(rp, 404, "no endpoint %s", req.path);
	else if (!r)
		cvmm_api_refuse(rp, 405, "%s does not take %s", req.path,
				req.method ? method_name(req.method) : http_method_str(rp->p.method));
	else if (!cvmm_api_parse_body(rp, &req.json) && r->body && !req.json)
		cvmm_api_refuse(rp, 400, "%s needs a JSON body", req.path);
	c->fds_lost = false;
	if (rp->status) {
		close_fds(req.fds, req.nfds);
		json_object_put(req.json);
		ret = respond_error(c->fd, rp->status, rp->err, !keep);
		rp->status = 0;
		return ret || !keep ? -1 : 0;
	}
	if (rp->body)
		rp->body[rp->body_len] = '\0';
	req.body = rp->body ? rp->body : "";
	req.body_len = rp->body_len;
	if (r->slow && s->worker_started) {
		pthread_mutex_lock(&s->mu);
		if (s->job_state == JOB_IDLE) {
			s->job = (struct job){ .c = c, .r = r, .req = req, .keep = keep };
			s->job_state = JOB_QUEUED;
			pthread_cond_signal(&s->cv);
			pthread_mutex_unlock(&s->mu);
			/* parked: nothing read or expired until the answer */
			epoll_ctl(s->efd, EPOLL_CTL_DEL, c->fd, NULL);
			c->parked = true;
			return 1;
		}
		pthread_mutex_unlock(&s->mu);
		/* the worker is busy: this one waits here, as any handler */
	}
	r->fn(s->o.opaque, &req, &resp);
	return answer(c, &req, &resp, keep);
}

/* Send the handler's @resp for @req. @return 0; -1: close the connection. */
static int answer(struct conn *c, struct cvmm_api_request *req, struct cvmm_api_response *resp,
		  bool keep)
{
	int ret;

	close_fds(req->fds, req->nfds);
	json_object_put(req->json);
	if (!resp->status)
		cvmm_api_error(resp, 500, "the handler gave no answer");
	if (resp->status >= 400) {
		json_object_put(resp->json);
		ret = respond_error(c->fd, resp->status, resp->error, !keep);
	} else if (resp->status == 204 || !resp->json) {
		json_object_put(resp->json);
		ret = respond(c->fd, resp->status == 200 && !resp->json ? 204 : resp->status, NULL, !keep);
	} else {
		ret = respond(c->fd, resp->status,
			      json_object_to_json_string_ext(resp->json, JSON_C_TO_STRING_PLAIN), !keep);
		json_object_put(resp->json);
	}
	return ret || !keep ? -1 : 0;
}

/* Parse what the connection holds; answer each complete request. */
static int process(struct cvmm_api_server *s, struct conn *c)
{
	int ret;

	while (c->in_len && !s->stopping) {
		size_t n = cvmm_api_parser_feed(&c->rp, c->in, c->in_len);

		memmove(c->in, c->in + n, c->in_len - n);
		c->in_len -= n;
		if (c->rp.status && !c->rp.complete) {
			respond_error(c->fd, c->rp.status, c->rp.err, true);
			return -1;
		}
		if (!c->rp.complete)
			break;
		ret = dispatch(s, c);
		if (ret == 1)
			return 0;
		if (ret)
			return -1;
		cvmm_api_parser_next(&c->rp);
		c->deadline_ns = now_ns() + s->lim.idle_timeout_ms * 1000000ull;
	}
	if (c->rp.in_message && !c->rp.complete && c->deadline_ns > now_ns() +
	    s->lim.read_timeout_ms * 1000000ull)
		c->deadline_ns = now_ns() + s->lim.read_timeout_ms * 1000000ull;
	if (c->eof) {
		if (c->rp.in_message) {
			/* Tell http-parser the stream ended: a body without a
			 * length may now be complete. */
			respond_error(c->fd, 400, "request truncated by the end of the stream", true);
		}
		return -1;
	}
	return 0;
}

static int conn_read(struct cvmm_api_server *s, struct conn *c)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * CVMM_API_MAX_FDS)];
	} cbuf;
	struct iovec iov = { .iov_base = c->in + c->in_len, .iov_len = READ_CHUNK - c->in_len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
	};
	ssize_t n;

	if (!iov.iov_len)
		return process(s, c);
	n = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
		size_t k;

		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			if (c->nfds < CVMM_API_MAX_FDS) {
				c->fds[c->nfds++] = fd;
			} else {
				close(fd);
				c->fds_lost = true;
			}
		}
	}
	if (msg.msg_flags & MSG_CTRUNC)
		c->fds_lost = true;
	if (n == 0)
		c->eof = true;
	c->in_len += (size_t)n;
	if (!c->rp.in_message && n > 0)
		c->deadline_ns = now_ns() + s->lim.read_timeout_ms * 1000000ull;
	return process(s, c);
}

static void accept_one(struct cvmm_api_server *s)
{
	struct timeval tv = { .tv_sec = 1 };
	struct epoll_event ev = { .events = EPOLLIN };
	struct conn *c;
	int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* A client that does not read its answer holds the thread 1 s at most. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (s->nconns == s->lim.max_conns) {
		respond_error(fd, 503, "too many connections", true);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->in = malloc(READ_CHUNK)) || cvmm_api_parser_init(&c->rp, &s->lim)) {
		if (c)
			free(c->in);
		free(c);
		respond_error(fd, 503, "out of memory", true);
		close(fd);
		return;
	}
	c->fd = fd;
	c->deadline_ns = now_ns() + s->lim.idle_timeout_ms * 1000000ull;
	ev.data.ptr = c;
	if (epoll_ctl(s->efd, EPOLL_CTL_ADD, fd, &ev)) {
		cvmm_api_parser_fini(&c->rp);
		free(c->in);
		free(c);
		close(fd);
		return;
	}
	s->conns[s->nconns++] = c;
}

static unsigned int conn_index(struct cvmm_api_server *s, struct conn *c)
{
	for (unsigned int i = 0; i < s->nconns; i++)
		if (s->conns[i] == c)
			return i;
	return s->nconns;
}

static void expire(struct cvmm_api_server *s)
{
	uint64_t now = now_ns();

	for (unsigned int i = 0; i < s->nconns;) {
		struct conn *c = s->conns[i];

		if (c->parked || c->deadline_ns > now) {
			i++;
			continue;
		}
		if (c->rp.in_message || c->in_len)
			respond_error(c->fd, 408, "request not complete within the read timeout", true);
		conn_free(s, i);
	}
}

static int next_timeout_ms(struct cvmm_api_server *s)
{
	uint64_t now = now_ns(), min = UINT64_MAX;

	for (unsigned int i = 0; i < s->nconns; i++)
		if (!s->conns[i]->parked && s->conns[i]->deadline_ns < min)
			min = s->conns[i]->deadline_ns;
	if (min == UINT64_MAX)
		return -1;
	return min <= now ? 0 : (int)((min - now) / 1000000ull + 1);
}

/* The worker: one slow handler at a time, handed over under s->mu. */
static void *worker_main(void *arg)
{
	struct cvmm_api_server *s = arg;
	uint64_t one = 1;

	if (s->o.thread_start && s->o.thread_start(s->o.thread_opaque, "api"))
		return NULL;  /* slow routes then wait on the server thread */
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stopping && s->job_state != JOB_QUEUED)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->stopping)
			break;
		s->job_state = JOB_RUNNING;
		pthread_mutex_unlock(&s->mu);
		s->job.r->fn(s->o.opaque, &s->job.req, &s->job.resp);
		pthread_mutex_lock(&s->mu);
		s->job_state = JOB_DONE;
		if (write(s->done_fd, &one, sizeof(one)) < 0) {
			/* the counter is full: a wake-up is pending already */
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* The worker's answer goes out; the connection reads on. */
static void job_done(struct cvmm_api_server *s)
{
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t v;
	struct job j;
	unsigned int k;
	int ret;

	if (read(s->done_fd, &v, sizeof(v)) < 0) {
		/* nothing to read: spurious */
	}
	pthread_mutex_lock(&s->mu);
	if (s->job_state != JOB_DONE) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	j = s->job;
	s->job_state = JOB_IDLE;
	pthread_mutex_unlock(&s->mu);
	k = conn_index(s, j.c);
	ret = answer(j.c, &j.req, &j.resp, j.keep);
	j.c->parked = false;
	if (!ret) {
		cvmm_api_parser_next(&j.c->rp);
		j.c->deadline_ns = now_ns() + s->lim.idle_timeout_ms * 1000000ull;
		ev.data.ptr = j.c;
		ret = epoll_ctl(s->efd, EPOLL_CTL_ADD, j.c->fd, &ev) ? -1 : process(s, j.c);
	}
	if (ret && k < s->nconns)
		conn_free(s, k);
}

static void *server_main(void *arg)
{
	struct cvmm_api_server *s = arg;
	struct epoll_event evs[16];

	if (s->o.thread_start && s->o.thread_start(s->o.thread_opaque, "api"))
		return NULL;
	while (!s->stopping) {
		int n = epoll_wait(s->efd, evs, 16, next_timeout_ms(s));

		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n && !s->stopping; i++) {
			void *p = evs[i].data.ptr;
			unsigned int k;

			if (p == &s->lfd) {
				accept_one(s);
				continue;
			}
			if (p == &s->stop_fd)
				break;
			if (p == &s->done_fd) {
				job_done(s);
				continue;
			}
			k = conn_index(s, p);
			if (k < s->nconns && conn_read(s, p))
				conn_free(s, k);
		}
		expire(s);
	}
	return NULL;
}

static int listen_on(struct cvmm_api_server *s)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;

	if (!s->o.path) {
		if (s->o.listen_fd < 0)
			return -EINVAL;
		s->lfd = s->o.listen_fd;
		/* Already listening is fine; a bound socket starts now. */
		if (listen(s->lfd, 128) && errno != EINVAL)
			return -errno;
		return 0;
	}
	if (!*s->o.path || strlen(s->o.path) >= sizeof(a.sun_path))
		return -EINVAL;
	strcpy(a.sun_path, s->o.path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		return -errno;
	/* Replace a stale socket file (as Cloud Hypervisor does), nothing else. */
	if (!lstat(s->o.path, &st) && S_ISSOCK(st.st_mode))
		unlink(s->o.path);
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) || listen(s->lfd, 128)) {
		int e = -errno;

		close(s->lfd);
		s->lfd = -1;
		return e;
	}
	s->own_path = true;
	strcpy(s->path, s->o.path);
	return 0;
}

int cvmm_api_server_create(const struct cvmm_api_opts *o, struct cvmm_api_server **out)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct cvmm_api_server *s;
	int ret;

	if (!o || !out || o->sz < offsetof(struct cvmm_api_opts, thread_start) || !o->routes ||
	    !o->nroutes)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	memcpy(&s->o, o, o->sz < sizeof(s->o) ? o->sz : sizeof(s->o));
	s->o.sz = sizeof(s->o);
	cvmm_api_limits(&s->o, &s->lim);
	s->lfd = s->efd = s->stop_fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->done_fd < 0) {
		ret = -errno;
		goto fail;
	}
	s->conns = calloc(s->lim.max_conns, sizeof(*s->conns));
	if (!s->conns) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = listen_on(s);
	if (ret)
		goto fail;
	s->efd = epoll_create1(EPOLL_CLOEXEC);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->efd < 0 || s->stop_fd < 0) {
		ret = -errno;
		goto fail;
	}
	ev.data.ptr = &s->lfd;
	if (epoll_ctl(s->efd, EPOLL_CTL_ADD, s->lfd, &ev)) {
		ret = -errno;
		goto fail;
	}
	ev.data.ptr = &s->stop_fd;
	if (epoll_ctl(s->efd, EPOLL_CTL_ADD, s->stop_fd, &ev)) {
		ret = -errno;
		goto fail;
	}
	ev.data.ptr = &s->done_fd;
	if (epoll_ctl(s->efd, EPOLL_CTL_ADD, s->done_fd, &ev)) {
		ret = -errno;
		goto fail;
	}
	/* The worker only when a route is slow (before the server thread:
	 * nothing is dispatched before it waits). */
	for (unsigned int i = 0; i < s->o.nroutes; i++)
		if (s->o.routes[i].slow && !s->worker_started) {
			ret = -pthread_create(&s->worker, NULL, worker_main, s);
			if (ret)
				goto fail;
			pthread_setname_np(s->worker, "api-slow");
			s->worker_started = true;
		}
	ret = -pthread_create(&s->thread, NULL, server_main, s);
	if (ret)
		goto fail;
	/* Named from here: the thread's own filter may not allow prctl. */
	pthread_setname_np(s->thread, "api");
	s->started = true;
	*out = s;
	return 0;
fail:
	if (!s->own_path)
		s->lfd = -1;  /* the caller's, still */
	cvmm_api_server_destroy(s);
	return ret;
}

void cvmm_api_server_stop(struct cvmm_api_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (write(s->stop_fd, &one, sizeof(one)) < 0) {
		/* the counter is full: a wake-up is pending already */
	}
}

void cvmm_api_server_destroy(struct cvmm_api_server *s)
{
	if (!s)
		return;
	if (s->started) {
		cvmm_api_server_stop(s);
		pthread_join(s->thread, NULL);
	}
	if (s->worker_started) {
		/* a slow handler that runs is finished first */
		cvmm_api_server_stop(s);
		pthread_join(s->worker, NULL);
	}
	if (s->job_state != JOB_IDLE) {
		struct cvmm_api_request *q = &s->job.req;

		close_fds(q->fds, q->nfds);
		json_object_put(q->json);
		json_object_put(s->job.resp.json);
	}
	while (s->nconns)
		conn_free(s, 0);
	if (s->done_fd >= 0)
		close(s->done_fd);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->conns);
	if (s->efd >= 0)
		close(s->efd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	/* A listen_fd given is the server's once it started. */
	if (s->lfd >= 0 && (s->own_path || s->started))
		close(s->lfd);
	if (s->own_path)
		unlink(s->path);
	free(s);
}
