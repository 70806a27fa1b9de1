/* SPDX-License-Identifier: Apache-2.0 */
/* Daemon lifetime: the socket, the worker threads, the accept loop. */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

static void *worker_main(void *arg)
{
	struct vub_worker *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "vub-worker%u", w->idx);
	(void)cvmm_thread_set_name(name);
	if (w->d->o.thread_start)
		w->d->o.thread_start(w->d->o.thread_arg, CVMM_VUB_THREAD_WORKER, w->idx);
	(void)cvmm_event_manager_run(w->em);
	return NULL;
}

static int start_workers(struct cvmm_vub *d)
{
	d->workers = calloc(d->nworkers, sizeof(*d->workers));
	if (!d->workers)
		return -ENOMEM;
	for (unsigned int i = 0; i < d->nworkers; i++) {
		struct vub_worker *w = &d->workers[i];
		int ret;

		w->d = d;
		w->idx = i;
		ret = cvmm_event_manager_create(NULL, &w->em);
		if (ret < 0)
			return ret;
		ret = -pthread_create(&w->thread, NULL, worker_main, w);
		if (ret < 0)
			return ret;
		w->thread_ok = true;
	}
	return 0;
}

static void stop_workers(struct cvmm_vub *d)
{
	if (!d->workers)
		return;
	for (unsigned int i = 0; i < d->nworkers; i++) {
		struct vub_worker *w = &d->workers[i];

		if (w->thread_ok) {
			(void)cvmm_event_manager_stop(w->em);
			pthread_join(w->thread, NULL);
		}
		cvmm_event_manager_destroy(w->em);
	}
	free(d->workers);
	d->workers = NULL;
}

static void *signal_main(void *arg);

static int setup_signals(struct cvmm_vub *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -EINVAL;
	d->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return d->sig_fd < 0 ? -errno : 0;
}

int cvmm_vub_create(const struct cvmm_vub_opts *o, struct cvmm_vub **out)
{
	struct cvmm_vub *d;
	int ret;

	if (!o || !out || o->sz < sizeof(*o) || !o->ops || o->ops->sz < sizeof(size_t) ||
	    o->ops->sz > sizeof(struct cvmm_vub_device_ops) || o->num_queues == 0 ||
	    o->num_queues > CVMM_VHOST_MAX_QUEUES ||
	    (!o->socket_path && o->listen_fd < 0) ||
	    ((o->flags & CVMM_VUB_F_CONNECT) && !o->socket_path) ||
	    (o->flags & ~(CVMM_VUB_F_SIGNALS | CVMM_VUB_F_CONNECT | CVMM_VUB_F_SPLIT_ONLY)))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->o = *o;
	memcpy(&d->ops, o->ops, o->ops->sz);
	d->ops.sz = sizeof(d->ops);
	if (!d->ops.queue_kick) {
		free(d);
		return -EINVAL;
	}
	d->listen_fd = o->listen_fd;
	d->exit_fd = -1;
	d->sig_fd = -1;
	d->conn_sock = -1;
	d->pc_ufd = -1;
	if (cvmm_vub_iotlb_init(&d->iotlb, 0) < 0) {
		free(d);
		return -ENOMEM;
	}
	pthread_mutex_init(&d->lock, NULL);
	d->nworkers = o->num_workers ? o->num_workers : o->num_queues;
	if (d->nworkers > o->num_queues)
		d->nworkers = o->num_queues;
	d->vrings = calloc(o->num_queues, sizeof(*d->vrings));
	d->path = o->socket_path ? strdup(o->socket_path) : NULL;
	if (!d->vrings || (o->socket_path && !d->path)) {
		ret = -ENOMEM;
		goto fail;
	}
	d->o.socket_path = d->path;
	d->exit_fd = cvmm_eventfd_create(0);
	if (d->exit_fd < 0) {
		ret = d->exit_fd;
		goto fail;
	}
	if (o->flags & CVMM_VUB_F_SIGNALS) {
		ret = setup_signals(d);
		if (ret < 0)
			goto fail;
	}
	if (d->listen_fd < 0 && !(o->flags & CVMM_VUB_F_CONNECT)) {
		d->listen_fd = cvmm_unix_listen(d->path, 1);
		if (d->listen_fd < 0) {
			ret = d->listen_fd;
			goto fail;
		}
	}
	ret = start_workers(d);
	if (ret < 0)
		goto fail;
	if (d->sig_fd >= 0) {
		ret = -pthread_create(&d->sig_thread, NULL, signal_main, d);
		if (ret < 0)
			goto fail;
		d->sig_thread_ok = true;
	}
	for (unsigned int i = 0; i < o->num_queues; i++) {
		struct cvmm_vub_vring *vr = &d->vrings[i];

		vr->d = d;
		vr->idx = i;
		vr->w = &d->workers[i % d->nworkers];
		vr->kick_fd = vr->call_fd = vr->err_fd = -1;
	}
	*out = d;
	return 0;
fail:
	cvmm_vub_destroy(d);
	return ret;
}

void cvmm_vub_destroy(struct cvmm_vub *d)
{
	if (!d)
		return;
	if (d->sig_thread_ok) {
		(void)cvmm_vub_stop(d);
		pthread_join(d->sig_thread, NULL);
	}
	if (d->be) {
		cvmm_vub_conn_reset(d);
		cvmm_vhost_backend_destroy(d->be);
	}
	stop_workers(d);
	cvmm_close(d->listen_fd);
	if (d->path && !(d->o.flags & CVMM_VUB_F_CONNECT) && d->o.listen_fd < 0)
		unlink(d->path);
	cvmm_close(d->exit_fd);
	cvmm_close(d->sig_fd);
	pthread_mutex_destroy(&d->lock);
	cvmm_vub_iotlb_fini(&d->iotlb);
	free(d->vrings);
	free(d->path);
	free(d);
}

int cvmm_vub_stop(struct cvmm_vub *d)
{
	uint64_t one = 1;
	int ret = write(d->exit_fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;

	__atomic_store_n(&d->stopping, true, __ATOMIC_RELEASE);
	pthread_mutex_lock(&d->lock);
	if (d->conn_sock >= 0)
		shutdown(d->conn_sock, SHUT_RDWR);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

/* SIGTERM/SIGINT arrive on a signalfd read by this thread, so they are
 * honoured even while the protocol thread waits inside a message. */
static void *signal_main(void *arg)
{
	struct cvmm_vub *d = arg;

	(void)cvmm_thread_set_name("vub-signals");
	if (d->o.thread_start)
		d->o.thread_start(d->o.thread_arg, CVMM_VUB_THREAD_SIGNALS, 0);
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = d->exit_fd, .events = POLLIN },
			{ .fd = d->sig_fd, .events = POLLIN },
		};
		struct signalfd_siginfo si;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (p[0].revents)
			return NULL;
		if (read(d->sig_fd, &si, sizeof(si)) == sizeof(si)) {
			VUB_LOG(CVMM_LOG_INFO, "signal %u: shutting down", si.ssi_signo);
			(void)cvmm_vub_stop(d);
			return NULL;
		}
	}
}

uint64_t cvmm_vub_connections(const struct cvmm_vub *d)
{
	return __atomic_load_n(&d->connections, __ATOMIC_RELAXED);
}

uint64_t cvmm_vub_resubmitted(const struct cvmm_vub *d)
{
	return __atomic_load_n(&d->resubmitted, __ATOMIC_RELAXED);
}

/* Wait for @fd (or -1) to become readable, or for an exit request.
 * @return 1 fd ready; 0 exit requested. */
static int wait_fd(struct cvmm_vub *d, int fd)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = d->exit_fd, .events = POLLIN },
			{ .fd = fd, .events = POLLIN },
		};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[0].revents)
			return 0;
		if (p[1].revents)
			return 1;
	}
}

static int serve_conn(struct cvmm_vub *d, int sock)
{
	struct cvmm_vhost_backend_opts bo = {
		.sz = sizeof(bo), .sock = sock, .num_queues = d->o.num_queues,
		.ops = &cvmm_vub_backend_ops, .opaque = d,
	};
	int ret;

	ret = cvmm_vhost_backend_create(&bo, &d->be);
	if (ret < 0)
		return ret;
	/* stop() shuts this socket down: a frontend that stalls in the
	 * middle of a message must not pin the protocol thread (the message
	 * layer waits for the rest of a message). */
	pthread_mutex_lock(&d->lock);
	d->conn_sock = sock;
	pthread_mutex_unlock(&d->lock);
	if (__atomic_load_n(&d->stopping, __ATOMIC_ACQUIRE))
		shutdown(sock, SHUT_RDWR);
	__atomic_fetch_add(&d->connections, 1, __ATOMIC_RELAXED);
	for (;;) {
		ret = wait_fd(d, cvmm_vhost_backend_fd(d->be));
		if (ret <= 0)
			break;
		ret = cvmm_vhost_backend_process_one(d->be);
		if (ret == -EPIPE || ret == -EPROTO || ret == -ENOTCONN || ret == -EAGAIN ||
		    !cvmm_vhost_backend_connected(d->be)) {
			VUB_LOG(CVMM_LOG_INFO, "frontend gone (%s)", strerror(-ret));
			ret = 1;
			break;
		}
		if (ret < 0)
			VUB_LOG(CVMM_LOG_DEBUG, "request refused: %s", strerror(-ret));
	}
	pthread_mutex_lock(&d->lock);
	d->conn_sock = -1;
	pthread_mutex_unlock(&d->lock);
	cvmm_vub_conn_reset(d);
	cvmm_vhost_backend_destroy(d->be);
	d->be = NULL;
	return ret;
}

int cvmm_vub_serve(struct cvmm_vub *d)
{
	for (;;) {
		int sock, ret;

		if (d->o.flags & CVMM_VUB_F_CONNECT) {
			sock = cvmm_unix_connect(d->path);
			if (sock < 0)
				return sock;
		} else {
			ret = wait_fd(d, d->listen_fd);
			if (ret <= 0)
				return ret;
			sock = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (sock < 0) {
				if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
					continue;
				return -errno;
			}
		}
		ret = serve_conn(d, sock);
		if (ret <= 0 || (d->o.flags & CVMM_VUB_F_CONNECT))
			return ret < 0 ? ret : 0;
	}
}
