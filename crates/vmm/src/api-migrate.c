/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API's live migration (docs/migration.md): the sockets and the send
 * run on a "migration" thread of their own; the receive and every
 * lifecycle step on the control loop, where the VM lives.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmm/sys-util.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <poll.h>

#include <cvmm/migration-tls.h>
#include <cvmm/virtio-devices/net.h>
#include <cvmm/virtio-devices/vsock.h>

#include "api-internal.h"
#include "vm-internal.h"

/* Refuse a body member other than @known (NULL-terminated). */
bool only_known(struct json_object *j, const char *const *known, const char *what,
		       struct cvmm_api_response *r)
{
	json_object_object_foreach(j, k, v) {
		bool ok = false;

		(void)v;
		for (const char *const *n = known; *n; n++)
			ok |= !strcmp(k, *n);
		if (!ok) {
			cvmm_api_error(r, 400, "%s: unknown field '%s'", what, k);
			return false;
		}
	}
	return true;
}

/* "unix:PATH" or "tcp:IPV4:PORT" into @sa. @return its length, or 0 with @err. */
static socklen_t mig_addr(const char *url, struct sockaddr_storage *sa, char *err, size_t errlen)
{
	memset(sa, 0, sizeof(*sa));
	if (!strncmp(url, "unix:", 5)) {
		struct sockaddr_un *u = (struct sockaddr_un *)sa;
		size_t n = strlen(url + 5);

		if (!n || n >= sizeof(u->sun_path)) {
			snprintf(err, errlen, "'%s': the socket path is empty or longer than %zu bytes",
				 url, sizeof(u->sun_path) - 1);
			return 0;
		}
		u->sun_family = AF_UNIX;
		memcpy(u->sun_path, url + 5, n);
		return (socklen_t)sizeof(*u);
	}
	if (!strncmp(url, "tcp:", 4)) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;
		char host[64];
		const char *colon = strrchr(url + 4, ':');
		char *end;
		long port = colon ? strtol(colon + 1, &end, 10) : -1;

		if (!colon || colon == url + 4 || (size_t)(colon - url - 4) >= sizeof(host) ||
		    !colon[1] || *end || port < 1 || port > 65535) {
			snprintf(err, errlen, "'%s': needs tcp:IPV4:PORT", url);
			return 0;
		}
		memcpy(host, url + 4, (size_t)(colon - url - 4));
		host[colon - url - 4] = '\0';
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1) {
			snprintf(err, errlen, "'%s': '%s' is not an IPv4 address", url, host);
			return 0;
		}
		return (socklen_t)sizeof(*in);
	}
	snprintf(err, errlen, "'%s': needs unix:PATH or tcp:IPV4:PORT", url);
	return 0;
}

/* The migration thread's set-up outcome, handed to the handler waiting for it. */
static void mig_setup_done(struct mig *g, int ret)
{
	pthread_mutex_lock(&g->mu);
	g->setup = ret ? ret : 1;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

/* A failure with no VM to hold its figures (the destination before a VM). */
static void mig_fail(struct mig *g, const char *fmt, const char *detail)
{
	char line[1024];

	snprintf(line, sizeof(line), fmt, detail);
	pthread_mutex_lock(&g->mu);
	g->own.state = CVMM_VMM_MIG_FAILED;
	snprintf(g->own.error, sizeof(g->own.error), "%.255s", line);
	pthread_mutex_unlock(&g->mu);
}

void mig_close_fds(struct api *a)
{
	struct mig *g = &a->mig;

	for (unsigned int i = 0; i < g->nfds; i++)
		cvmm_close(g->fds[i]);
	g->nfds = 0;
}

/* Keep @fd with the migration (closed with its VM). */
static int mig_keep(struct mig *g, int fd)
{
	if (g->nfds < CVMM_ARRAY_SIZE(g->fds))
		g->fds[g->nfds++] = fd;
	return fd;
}

/*
 * A TCP peer that vanishes (a cable pulled, a host gone, a namespace's
 * link down) leaves a blocked write waiting for TCP's own retransmission
 * limit, many minutes; with unacknowledged data older than this the
 * socket fails instead, so the sender fails or pauses its post-copy soon,
 * as the receiver does after its silence timeout.
 */
#define MIG_TCP_USER_TIMEOUT_MS 30000
#define MIG_IDLE_MS 60000 /* the receiver's default (receive opts.idle_ms) */

/* The request's link_timeout_s, when it gave one, replaces both: the
 * socket's timeout and the receiver's silence (opts.idle_ms). */
static void mig_tcp_tune(const struct mig *g, int fd, const struct sockaddr_storage *sa)
{
	unsigned int ms = g->link_timeout_ms ? g->link_timeout_ms : MIG_TCP_USER_TIMEOUT_MS;

	if (fd >= 0 && (sa->ss_family == AF_INET || sa->ss_family == AF_INET6))
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
}

/*
 * A receiver's stream (not the request connection, silent whenever no page
 * is missing) fails a read after the same silence: the receive's poll
 * guards only each message's start, and a link that went down while a
 * message was half read (a post-copy push's page run) blocked the read for
 * ever: a receiver has nothing unacknowledged, TCP's timeout never fires.
 */
static void mig_rcv_timeout(const struct mig *g, int fd, const struct sockaddr_storage *sa)
{
	unsigned int ms = g->link_timeout_ms ? g->link_timeout_ms : MIG_IDLE_MS;
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	if (fd >= 0 && (sa->ss_family == AF_INET || sa->ss_family == AF_INET6))
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* TLS on a fresh TCP connection when the request named a tls_dir: @fd is
 * replaced by the plain end (the session owns the socket). @return 0, or
 * -errno with the line in g->err / @err. */
static int mig_tls(struct api *a, int *fd, bool server, const struct sockaddr_storage *sa,
		   char *err, size_t errlen)
{
	struct mig *g = &a->mig;
	char host[INET_ADDRSTRLEN] = "";
	/* A source's connections after the main one: the destination accepts
	 * them only once START came, so their handshake cannot wait here. */
	struct cvmm_mig_tls_opts o = { .sz = sizeof(o), .dir = g->tls_dir, .server = server,
				       .defer = !server && g->nfds > 0 };
	int out, ret;

	if (!g->tls_dir[0])
		return 0;
	if (!server && sa->ss_family == AF_INET &&
	    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof(host)))
		o.hostname = host;
	ret = a->o->tls_wrap(*fd, &o, &out, err, errlen);
	if (ret)
		return ret;
	*fd = out;
	return 0;
}

/* The source's connections after the main one: post-copy's requests, then
 * the extra memory connections; each through TLS when asked. */
static int send_connect(struct api *a, const struct sockaddr_storage *sa, socklen_t len,
			int *fd)
{
	struct mig *g = &a->mig;
	int ret;

	*fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0 || connect(*fd, (const struct sockaddr *)sa, len)) {
		ret = -errno;
		snprintf(g->err, sizeof(g->err), "cannot connect to '%s': %s", g->url, strerror(-ret));
		cvmm_close(*fd);
		*fd = -1;
		return ret;
	}
	mig_tcp_tune(g, *fd, sa);
	ret = mig_tls(a, fd, false, sa, g->err, sizeof(g->err));
	if (ret) {
		cvmm_close(*fd);
		*fd = -1;
	}
	return ret;
}

/* After a local migration went: the vsock path is the destination's now,
 * this VMM's destroy must not unlink it. */
static void release_paths(struct api *a)
{
	for (unsigned int i = 0; i < a->vm.nmodels; i++)
		if (!strcmp(a->vm.models[i].kind, "virtio-vsock"))
			cvmm_vsock_set_path_owner(a->vm.models[i].model, !a->mig.o.local);
}

/* The source after a migration that went: the guest runs on the
 * destination, this VMM ends (status 0), as Cloud Hypervisor's does. */
static int source_done(struct cvmm_event_manager *em, void *arg)
{
	struct api *a = arg;

	emit(a, "vm", "migrated", NULL);
	release_paths(a);
	if (a->vm.vmm && !stopped(a)) {
		a->api_stop = true;
		cvmm_vmm_request_stop(a->vm.vmm, CVMM_VMM_STOP_REQUEST, 0);
	}
	a->quit = true;
	a->status = 0;
	cvmm_event_manager_stop(em);
	return 0;
}

/* First on a migration thread: the program's hook (its seccomp filter),
 * then the URL. @return the address length, or 0 (the handler is told). */
static socklen_t mig_thread_setup(struct api *a, struct sockaddr_storage *sa)
{
	struct mig *g = &a->mig;
	socklen_t len;

	if (a->vm.thread_start && a->vm.thread_start(a->vm.opaque, "migration", 0)) {
		snprintf(g->err, sizeof(g->err), "cannot install the migration thread's seccomp filter");
		mig_setup_done(g, -EPERM);
		return 0;
	}
	len = mig_addr(g->url, sa, g->err, sizeof(g->err));
	if (!len)
		mig_setup_done(g, -EINVAL);
	return len;
}

static void send_progress(void *opaque, const struct cvmm_vmm_mig_progress *p)
{
	struct api *a = opaque;

	(void)p;
	__atomic_store_n(&a->mig.live, true, __ATOMIC_RELEASE);
}

/* A writable disk image is the source's until the guest stops there for
 * good, then the destination's (the OFD locks move with the VM). */
static int images_handover(void *opaque, bool hold)
{
	struct api *a = opaque;

	return cvmm_vm_images_lock(&a->vm, hold);
}

static int images_takeover(void *opaque)
{
	struct api *a = opaque;

	return cvmm_vm_images_lock(&a->vm, true);
}

static void *send_main(void *arg)
{
	struct api *a = arg;
	struct mig *g = &a->mig;
	struct sockaddr_storage sa;
	socklen_t len;
	char err[300] = "";
	int fd = -1, ret;

	mig_close_fds(a);
	len = mig_thread_setup(a, &sa);
	if (!len)
		goto out;
	/* Main, then post-copy's requests, then the memory connections: the
	 * order the destination accepts them in. */
	if ((ret = send_connect(a, &sa, len, &fd))) {
		mig_setup_done(g, ret);
		goto out;
	}
	mig_keep(g, fd);
	if (g->o.postcopy || g->o.postcopy_switch) {
		if ((ret = send_connect(a, &sa, len, &g->o.request_fd))) {
			mig_setup_done(g, ret);
			goto out;
		}
		mig_keep(g, g->o.request_fd);
	}
	for (unsigned int i = 0; i + 1 < g->connections; i++) {
		if ((ret = send_connect(a, &sa, len, &g->mem_fds[i]))) {
			mig_setup_done(g, ret);
			goto out;
		}
		mig_keep(g, g->mem_fds[i]);
	}
	g->o.mem_fds = g->mem_fds;
	g->o.nmem_fds = g->connections ? g->connections - 1 : 0;
	g->o.progress = send_progress;
	g->o.handover = images_handover;
	g->o.opaque = a;
	mig_setup_done(g, 0);
	ret = cvmm_vmm_migrate_send(a->vm.vmm, fd, &g->o, err, sizeof(err));
	if (ret) {
		CVMM_LOG(CVMM_LOG_WARN, "microvm", "send-migration: %s", err[0] ? err : strerror(-ret));
		/* Refused before it published a figure: without this the
		 * progress said "setup" for ever (a resume's set-up). */
		if (!__atomic_load_n(&g->live, __ATOMIC_ACQUIRE))
			mig_fail(g, "%s", err[0] ? err : strerror(-ret));
	} else {
		struct cvmm_vmm_mig_progress p;

		/* This VMM ends now, and its vm.migration-progress with it:
		 * the final figures go to the log (bench/migration reads them). */
		if (cvmm_vmm_migrate_progress(a->vm.vmm, &p))
			CVMM_LOG(CVMM_LOG_INFO, "microvm", "send-migration: completed: total %llu ms, "
				 "downtime %llu ms, %llu bytes sent, pass %u",
				 (unsigned long long)p.total_ms, (unsigned long long)p.downtime_ms,
				 (unsigned long long)p.bytes_sent, p.pass);
		cvmm_event_manager_call(a->em, source_done, a, false);
	}
out:
	mig_close_fds(a);
	for (unsigned int i = 0; i < g->ndevfds; i++)
		cvmm_close(g->devfds[i].fd);
	g->ndevfds = 0;
	__atomic_store_n(&g->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * A local migration's source: copies of what the destination cannot open
 * while this VMM holds it, each TAP queue of every virtio-net card and the
 * vsock listener (docs/migration.md). Vhost-user devices have none: the
 * destination connects to their daemons itself.
 */
static int collect_devfds(struct api *a, char *err, size_t errlen)
{
	struct mig *g = &a->mig;

	for (unsigned int i = 0; i < a->vm.nmodels; i++) {
		const struct cvmm_vm_model *md = &a->vm.models[i];
		bool net = !strcmp(md->kind, "virtio-net");
		int fd;

		if (!net && strcmp(md->kind, "virtio-vsock"))
			continue;
		for (unsigned int q = 0; q < (net ? CVMM_NET_MAX_PAIRS : 1); q++) {
			fd = net ? cvmm_net_tap_fd(md->model, q) : cvmm_vsock_listener_fd(md->model);
			if (fd < 0)
				break;
			if (g->ndevfds == CVMM_VMM_MAX_DEVFDS) {
				snprintf(err, errlen, "more than %u device fds", CVMM_VMM_MAX_DEVFDS);
				return -E2BIG;
			}
			fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
			if (fd < 0) {
				snprintf(err, errlen, "%s: %s", md->id, strerror(errno));
				return -errno;
			}
			g->devfds[g->ndevfds] = (struct cvmm_vmm_devfd){
				.fd = fd, .index = q,
				.kind = net ? CVMM_MIG_DEVFD_TAP : CVMM_MIG_DEVFD_VSOCK };
			snprintf(g->devfds[g->ndevfds].id, sizeof(g->devfds[0].id), "%s", md->id);
			g->ndevfds++;
		}
	}
	return 0;
}

/* On the loop: the VM of the config the stream carries, received and started. */
/*
 * A VM that cannot be built from the source's START (its config refused, a
 * TAP another process holds, ...): the source hears why as the RESULT it
 * waits for. Without it the source saw only the connection close after it
 * had sent its state (a local migration sends everything at once) and,
 * not knowing whether the guest ran here, kept its VM paused for good.
 */
static void refuse_source(struct mig *g, int error, const char *why)
{
	if (g->nfds)
		cvmm_mig_send_result(g->fds[0], error < 0 ? error : -EIO,
				     why[0] ? why : strerror(-error));
}

static int receive_on_loop(struct cvmm_event_manager *em, void *arg)
{
	struct api *a = arg;
	struct mig *g = &a->mig;
	struct cvmm_vm_config c = *a->flags;
	struct cvmm_vmm_receive_opts ro = { .sz = sizeof(ro), .request_fd = -1,
					    .takeover = images_takeover, .opaque = a,
					    .idle_ms = g->link_timeout_ms };
	struct json_object *cj;
	unsigned int extra = cvmm_vmm_incoming_connections(g->in);
	char err[512] = "";
	int ret;

	(void)em;
	if (a->quit)
		return -ECANCELED;
	if (a->have_cfg) {
		mig_fail(g, "%s", "a VM was created meanwhile (vm.delete first)");
		refuse_source(g, -EEXIST, g->own.error);
		return -EEXIST;
	}
	cj = json_tokener_parse(cvmm_vmm_incoming_config(g->in, NULL));
	if (!cj || cvmm_vm_config_from_json(cj, &c, err, sizeof(err))) {
		json_object_put(cj);
		mig_fail(g, "the source's VM config: %s", cj ? err : "not JSON");
		refuse_source(g, -EPROTO, g->own.error);
		return -EPROTO;
	}
	/* The source's guest memory is its RAM and its virtio-mem region. */
	if (c.memory + (c.dev.vmem ? c.dev.vmem_size : 0) != cvmm_vmm_incoming_mem_size(g->in) ||
	    c.cpus != cvmm_vmm_incoming_ncpus(g->in)) {
		json_object_put(cj);
		mig_fail(g, "%s", "the source's VM config does not match its memory size or vCPUs");
		refuse_source(g, -EPROTO, g->own.error);
		return -EPROTO;
	}
	/* A local migration's TAPs and vsock listener: the source's, passed
	 * along (it holds them: opening them by name would fail). */
	if (cvmm_vmm_incoming_local(g->in)) {
		struct cvmm_vmm_devfd *fds;
		unsigned int n = cvmm_vmm_incoming_devfds(g->in, &fds);

		ret = cvmm_vm_devices_adopt_fds(&c.dev, fds, n, err, sizeof(err));
		if (ret) {
			json_object_put(cj);
			mig_fail(g, "%s", err);
			refuse_source(g, ret, g->own.error);
			return ret;
		}
	}
	adopt_cfg(a, &c, cj);
	a->vm.incoming = true;
	a->api_stop = false;
	emit(a, "vm", "receiving", NULL);
	ret = cvmm_vm_build(&a->vm, err, sizeof(err));
	a->vm.incoming = false;
	/* fds[0] main, then the request connection if the source wants one,
	 * then the memory connections (receive_main accepted them). */
	if (cvmm_vmm_incoming_wants_requests(g->in) && g->postcopy)
		ro.request_fd = g->fds[1];
	ro.mem_fds = g->fds + g->nfds - extra;
	ro.nmem_fds = extra;
	if (!ret)
		ret = cvmm_vmm_migrate_receive(a->vm.vmm, g->in, &ro, err, sizeof(err));
	else
		refuse_source(g, ret, err);
	if (!ret && (ret = cvmm_vmm_start(a->vm.vmm)))
		snprintf(err, sizeof(err), "cannot start the vCPU threads: %s", strerror(-ret));
	if (ret) {
		a->api_stop = true;
		drop_vm(a);
		drop_cfg(a);
		mig_fail(g, "%s", err[0] ? err : strerror(-ret));
		return ret;
	}
	/* The vsock path is this VMM's now (a local migration's source leaves it). */
	for (unsigned int i = 0; i < a->vm.nmodels; i++)
		if (!strcmp(a->vm.models[i].kind, "virtio-vsock"))
			cvmm_vsock_set_path_owner(a->vm.models[i].model, true);
	emit(a, "vm", "received", NULL);
	return 0;
}

/* On the loop: post-copy recovery into the VM whose post-copy is paused.
 * A refusal leaves it paused (its figures say why). */
static int resume_on_loop(struct cvmm_event_manager *em, void *arg)
{
	struct api *a = arg;
	struct mig *g = &a->mig;
	struct cvmm_vmm_receive_opts ro = { .sz = sizeof(ro), .request_fd = -1,
					    .idle_ms = g->link_timeout_ms };
	char err[512] = "";
	int ret;

	(void)em;
	if (a->quit || !a->vm.vmm)
		return -ECANCELED;
	if (cvmm_vmm_incoming_wants_requests(g->in) && g->nfds > 1)
		ro.request_fd = g->fds[1];
	ret = cvmm_vmm_migrate_receive(a->vm.vmm, g->in, &ro, err, sizeof(err));
	if (ret) {
		CVMM_LOG(CVMM_LOG_WARN, "microvm", "receive-migration resume: %s",
			 err[0] ? err : strerror(-ret));
		mig_close_fds(a);
	}
	return ret;
}

/* The next connection of the migration on the listener (a bounded wait:
 * a source that announced it and never connects fails it), through TLS
 * when asked. @return the fd (kept with the migration) or -1. */
static int receive_next(struct api *a, const struct sockaddr_storage *sa, const char *what)
{
	struct mig *g = &a->mig;
	struct pollfd pf = { .fd = g->lfd, .events = POLLIN };
	char err[300] = "";
	int fd, ret;

	if (poll(&pf, 1, 10000) != 1) {
		mig_fail(g, "no %s connection from the source within 10 s", what);
		return -1;
	}
	fd = accept4(g->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		mig_fail(g, "accept: %s", strerror(errno));
		return -1;
	}
	mig_tcp_tune(g, fd, sa);
	ret = mig_tls(a, &fd, true, sa, err, sizeof(err));
	if (ret) {
		close(fd);
		mig_fail(g, "%s", err);
		return -1;
	}
	if (strcmp(what, "page-request"))
		mig_rcv_timeout(g, fd, sa);
	return mig_keep(g, fd);
}

static void *receive_main(void *arg)
{
	struct api *a = arg;
	struct mig *g = &a->mig;
	struct sockaddr_storage sa = { 0 };
	socklen_t len;
	char err[300] = "";
	int fd = -1, ret, one = 1;

	mig_close_fds(a);
	len = mig_thread_setup(a, &sa);
	if (!len)
		goto out;
	g->lfd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g->lfd >= 0 && sa.ss_family == AF_INET)
		setsockopt(g->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Room for every connection a source makes: main, requests, memory. */
	if (g->lfd < 0 || bind(g->lfd, (struct sockaddr *)&sa, len) ||
	    listen(g->lfd, 2 + CVMM_MIG_MAX_CONNECTIONS)) {
		ret = -errno;
		snprintf(g->err, sizeof(g->err), "cannot listen on '%s': %s", g->url, strerror(-ret));
		mig_setup_done(g, ret);
		goto out;
	}
	mig_setup_done(g, 0);
	fd = accept4(g->lfd, NULL, NULL, SOCK_CLOEXEC);
	__atomic_store_n(&g->cfd, fd, __ATOMIC_RELEASE);
	if (fd < 0 && __atomic_load_n(&g->cancel, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&g->mu);
		g->own.state = CVMM_VMM_MIG_CANCELLED;
		pthread_mutex_unlock(&g->mu);
		goto out;
	}
	if (fd < 0) {
		mig_fail(g, "accept: %s", strerror(errno));
		goto out;
	}
	mig_tcp_tune(g, fd, &sa);
	ret = mig_tls(a, &fd, true, &sa, err, sizeof(err));
	if (ret) {
		mig_fail(g, "%s", err);
		goto out;
	}
	mig_rcv_timeout(g, fd, &sa);
	__atomic_store_n(&g->cfd, fd, __ATOMIC_RELEASE);
	mig_keep(g, fd);
	ret = cvmm_vmm_migrate_accept(fd, &g->in, err, sizeof(err));
	fd = -1; /* kept: closed with the VM */
	if (ret) {
		mig_fail(g, "%s", err[0] ? err : strerror(-ret));
		goto out;
	}
	if (cvmm_vmm_incoming_wants_requests(g->in) && receive_next(a, &sa, "page-request") < 0)
		goto out;
	for (unsigned int i = 0; i < cvmm_vmm_incoming_connections(g->in); i++)
		if (receive_next(a, &sa, "memory") < 0)
			goto out;
	cvmm_event_manager_call(a->em, g->resume ? resume_on_loop : receive_on_loop, a, true);
out:
	cvmm_vmm_incoming_free(g->in);
	g->in = NULL;
	__atomic_store_n(&g->cfd, -1, __ATOMIC_RELEASE);
	cvmm_close(fd);
	/* Nothing runs on these connections unless a VM came (it keeps them). */
	if (!a->vm.vmm)
		mig_close_fds(a);
	if (sa.ss_family == AF_UNIX && g->lfd >= 0)
		unlink(((struct sockaddr_un *)&sa)->sun_path);
	__atomic_store_n(&g->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* Join the last migration thread; a running one is cancelled first (the
 * loop keeps turning meanwhile: the send pauses and resumes through it). */
void mig_join(struct api *a, bool cancel)
{
	struct mig *g = &a->mig;

	if (!g->thread)
		return;
	if (cancel) {
		if (a->vm.vmm)
			cvmm_vmm_migrate_cancel(a->vm.vmm);
		int cfd = __atomic_load_n(&g->cfd, __ATOMIC_ACQUIRE);

		if (g->lfd >= 0)
			shutdown(g->lfd, SHUT_RDWR); /* wakes accept() */
		if (cfd >= 0)
			shutdown(cfd, SHUT_RDWR);    /* ... or a silent peer's START */
	}
	while (!__atomic_load_n(&g->done, __ATOMIC_ACQUIRE))
		cvmm_event_manager_run_once(a->em, 10);
	pthread_join(g->t, NULL);
	cvmm_close(g->lfd);
	g->lfd = -1;
	g->thread = false;
}

/* Start @fn on the migration thread and wait for its set-up (connect or
 * listen). @return 0, or the set-up's error in @r. */
static int mig_start(struct api *a, void *(*fn)(void *), const char *url, const char *what,
		     struct cvmm_api_response *r)
{
	struct mig *g = &a->mig;
	int ret;

	if (g->thread && !__atomic_load_n(&g->done, __ATOMIC_ACQUIRE)) {
		cvmm_api_error(r, 409, "%s: a migration runs already", what);
		return -EBUSY;
	}
	mig_join(a, false);
	snprintf(g->url, sizeof(g->url), "%s", url);
	g->err[0] = '\0';
	g->setup = 0;
	g->done = false;
	g->cancel = false;
	g->live = false;
	memset(&g->own, 0, sizeof(g->own));
	g->own.state = CVMM_VMM_MIG_SETUP;
	ret = -pthread_create(&g->t, NULL, fn, a);
	if (ret) {
		cvmm_api_error(r, 500, "%s: cannot start the migration thread: %s", what, strerror(-ret));
		return ret;
	}
	g->thread = true;
	pthread_mutex_lock(&g->mu);
	while (!g->setup)
		pthread_cond_wait(&g->cv, &g->mu);
	ret = g->setup < 0 ? g->setup : 0;
	pthread_mutex_unlock(&g->mu);
	if (ret) {
		mig_join(a, false);
		mig_fail(g, "%s", g->err);
		cvmm_api_error(r, ret == -EINVAL ? 400 : 500, "%s: %s", what, g->err);
	}
	return ret;
}

static const char *url_of(struct json_object *j, const char *key, const char *what,
			  struct cvmm_api_response *r)
{
	struct json_object *v;

	if (!json_object_object_get_ex(j, key, &v) || !json_object_is_type(v, json_type_string)) {
		cvmm_api_error(r, 400, "%s: '%s' (a string) is required", what, key);
		return NULL;
	}
	return json_object_get_string(v);
}

/* memory_mode, tls_dir and link_timeout_s, which both sides take. @return 0,
 * or 400 in @r. */
static int mig_common(struct api *a, struct cvmm_api_request *q, const char *url,
		      const char *what, struct cvmm_api_response *r)
{
	struct mig *g = &a->mig;
	struct json_object *v;

	g->postcopy = false;
	g->tls_dir[0] = '\0';
	g->link_timeout_ms = 0;
	if (json_object_object_get_ex(q->json, "link_timeout_s", &v)) {
		int64_t t = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || t < 1 || t > 3600) {
			cvmm_api_error(r, 400, "%s: 'link_timeout_s' must be an integer from 1 to 3600",
				       what);
			return -EINVAL;
		}
		g->link_timeout_ms = (unsigned int)t * 1000;
	}
	if (json_object_object_get_ex(q->json, "memory_mode", &v)) {
		const char *m = json_object_get_string(v);

		if (!json_object_is_type(v, json_type_string) ||
		    (strcmp(m, "Precopy") && strcmp(m, "Postcopy"))) {
			cvmm_api_error(r, 400, "%s: 'memory_mode' must be \"Precopy\" or \"Postcopy\"",
				       what);
			return -EINVAL;
		}
		g->postcopy = !strcmp(m, "Postcopy");
	}
	if (json_object_object_get_ex(q->json, "tls_dir", &v)) {
		const char *d = json_object_get_string(v);

		if (!json_object_is_type(v, json_type_string) || !d[0] ||
		    strlen(d) >= sizeof(g->tls_dir)) {
			cvmm_api_error(r, 400, "%s: 'tls_dir' must be a directory path", what);
			return -EINVAL;
		}
		if (strncmp(url, "tcp:", 4)) {
			cvmm_api_error(r, 400, "%s: 'tls_dir' is for tcp: URLs", what);
			return -EINVAL;
		}
		if (!a->o->tls_wrap) {
			cvmm_api_error(r, 400, "%s: 'tls_dir': this cvmm-microvm was built without TLS "
				       "(static programs have no GnuTLS: configure "
				       "--disable-static-programs)", what);
			return -EINVAL;
		}
		snprintf(g->tls_dir, sizeof(g->tls_dir), "%s", d);
	}
	return 0;
}

/* The request's "resume" (post-copy recovery), checked against this side's
 * migration: only a post-copy that lost its link on this side (@source)
 * resumes. @return 0, or 400/409 in @r. */
static int mig_resume(struct api *a, struct cvmm_api_request *q, const char *what, bool source,
		      bool *resume, struct cvmm_api_response *r)
{
	struct cvmm_vmm_mig_progress p = { 0 };
	struct json_object *v;

	*resume = false;
	if (!json_object_object_get_ex(q->json, "resume", &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		cvmm_api_error(r, 400, "%s: 'resume' must be a boolean", what);
		return -EINVAL;
	}
	if (!(*resume = json_object_get_boolean(v)))
		return 0;
	if (a->mig.thread && !__atomic_load_n(&a->mig.done, __ATOMIC_ACQUIRE)) {
		cvmm_api_error(r, 409, "%s: a migration runs already", what);
		return -EBUSY;
	}
	if (a->vm.vmm)
		cvmm_vmm_migrate_progress(a->vm.vmm, &p);
	if (p.state != CVMM_VMM_MIG_POSTCOPY_PAUSED || a->mig.sending != source) {
		cvmm_api_error(r, 409, "%s: 'resume' needs the %s of a post-copy that lost its "
			       "link (this VMM's migration is %s%s)", what,
			       source ? "source" : "destination", cvmm_vmm_mig_state_name(p.state),
			       p.state == CVMM_VMM_MIG_POSTCOPY_PAUSED ?
			       (source ? ", as the destination" : ", as the source") : "");
		return -EBUSY;
	}
	if (json_object_object_get_ex(q->json, "memory_mode", &v) && !a->mig.postcopy) {
		cvmm_api_error(r, 400, "%s: 'resume' is post-copy (memory_mode Postcopy)", what);
		return -EINVAL;
	}
	return 0;
}

/* vm.receive-migration {"receiver_url": URL} on an empty VMM: 204 once it
 * listens; the VM appears (Running) when the migration completes. */
void vm_receive_migration(struct api *a, struct cvmm_api_request *q,
				 struct cvmm_api_response *r)
{
	static const char *const known[] = { "receiver_url", "memory_mode", "tls_dir", "resume",
					     "link_timeout_s", NULL };
	const char *url;
	bool resume;

	if (!only_known(q->json, known, "vm.receive-migration", r) ||
	    !(url = url_of(q->json, "receiver_url", "vm.receive-migration", r)) ||
	    mig_common(a, q, url, "vm.receive-migration", r) ||
	    mig_resume(a, q, "vm.receive-migration", false, &resume, r))
		return;
	if (a->have_cfg && !resume)
		return cvmm_api_error(r, 409, "vm.receive-migration: a VM exists already "
				      "(vm.delete first)");
	a->mig.resume = resume;
	a->mig.postcopy |= resume;
	a->mig.sending = false;
	if (!mig_start(a, receive_main, url, "vm.receive-migration", r))
		r->status = 204;
}

/* vm.send-migration {"destination_url", "local", "downtime_ms"} on a
 * running VM: 204 once connected; vm.migration-progress follows it. */
void vm_send_migration(struct api *a, struct cvmm_api_request *q,
			      struct cvmm_api_response *r)
{
	static const char *const known[] = { "destination_url", "local", "downtime_ms",
					     "memory_mode", "connections", "tls_dir",
					     "postcopy_switch", "resume", "link_timeout_s", NULL };
	struct mig *g = &a->mig;
	struct json_object *v;
	const char *url;
	int64_t dt = 0;
	bool resume;

	if (!only_known(q->json, known, "vm.send-migration", r) ||
	    !(url = url_of(q->json, "destination_url", "vm.send-migration", r)) ||
	    mig_common(a, q, url, "vm.send-migration", r) ||
	    mig_resume(a, q, "vm.send-migration", true, &resume, r))
		return;
	if (resume) {
		static const char *const rknown[] = { "destination_url", "memory_mode", "tls_dir",
						      "resume", "link_timeout_s", NULL };

		if (!only_known(q->json, rknown, "vm.send-migration with 'resume'", r))
			return;
		g->o = (struct cvmm_vmm_migrate_opts){ .sz = sizeof(g->o), .via_loop = true,
						       .request_fd = -1, .postcopy = true,
						       .resume = true };
		g->connections = 1;
		g->resume = true;
		if (!mig_start(a, send_main, url, "vm.send-migration", r))
			r->status = 204;
		return;
	}
	g->resume = false;
	if (!need(a, r, "Running", "vm.send-migration"))
		return;
	{
		struct cvmm_vmm_mig_progress p;

		if (cvmm_vmm_migrate_progress(a->vm.vmm, &p) && p.state == CVMM_VMM_MIG_POSTCOPY &&
		    !g->sending)
			return cvmm_api_error(r, 409, "vm.send-migration: post-copy still brings this "
					      "VM's pages in");
	}
	g->o = (struct cvmm_vmm_migrate_opts){ .sz = sizeof(g->o), .via_loop = true,
					       .request_fd = -1 };
	if (json_object_object_get_ex(q->json, "local", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return cvmm_api_error(r, 400, "vm.send-migration: 'local' must be a boolean");
		g->o.local = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(q->json, "downtime_ms", &v)) {
		dt = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || dt < 1 || dt > 60000)
			return cvmm_api_error(r, 400, "vm.send-migration: 'downtime_ms' must be an "
					      "integer of 1 to 60000");
		g->o.downtime_ms = (uint32_t)dt;
	}
	g->o.postcopy = g->postcopy;
	g->connections = 1;
	if (json_object_object_get_ex(q->json, "connections", &v)) {
		int64_t n = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || n < 1 ||
		    n > 1 + (int64_t)CVMM_MIG_MAX_CONNECTIONS)
			return cvmm_api_error(r, 400, "vm.send-migration: 'connections' must be an "
					      "integer of 1 to %u", 1 + CVMM_MIG_MAX_CONNECTIONS);
		g->connections = (unsigned int)n;
	}
	if (json_object_object_get_ex(q->json, "postcopy_switch", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return cvmm_api_error(r, 400, "vm.send-migration: 'postcopy_switch' must be "
					      "a boolean");
		g->o.postcopy_switch = json_object_get_boolean(v);
	}
	if (g->o.local && (g->o.postcopy || g->o.postcopy_switch || g->connections > 1))
		return cvmm_api_error(r, 400, "vm.send-migration: 'local' moves no pages: no "
				      "Postcopy, postcopy_switch or connections with it");
	if (g->o.postcopy && g->connections > 1)
		return cvmm_api_error(r, 400, "vm.send-migration: Postcopy pushes pages on one "
				      "connection ('connections' is for Precopy)");
	if (g->o.local && strncmp(url, "unix:", 5))
		return cvmm_api_error(r, 400, "vm.send-migration: 'local' needs a unix: URL");
	/* cvmm's vhost-user daemons serve one frontend after the other: the
	 * destination's handshake would wait for this VMM to let go, this VMM
	 * for the destination's verdict, and the guest stay paused for good. */
	if (g->o.local && a->cfg.dev.nvhost)
		return cvmm_api_error(r, 400, "vm.send-migration: 'local' with the vhost-user "
				      "device '%s': its daemon would have to serve this VMM and "
				      "the destination at once", a->cfg.dev.vhost[0].id);
	if (g->o.local && !a->cfg.mem_shared)
		return cvmm_api_error(r, 400, "vm.send-migration: 'local' needs shared memory "
				      "(memory shared=on)");
	if (g->thread && !__atomic_load_n(&g->done, __ATOMIC_ACQUIRE))
		return cvmm_api_error(r, 409, "vm.send-migration: a migration runs already");
	for (unsigned int i = 0; i < g->ndevfds; i++)
		cvmm_close(g->devfds[i].fd);
	g->ndevfds = 0;
	if (g->o.local) {
		char why[200];

		if (collect_devfds(a, why, sizeof(why))) {
			for (unsigned int i = 0; i < g->ndevfds; i++)
				cvmm_close(g->devfds[i].fd);
			g->ndevfds = 0;
			return cvmm_api_error(r, 500, "vm.send-migration: the devices' fds: %s", why);
		}
		g->o.devfds = g->devfds;
		g->o.ndevfds = g->ndevfds;
	}
	free(g->config);
	{
		struct json_object *cj = cvmm_vm_config_to_json(&a->cfg);

		g->config = cj ? strdup(json_object_to_json_string_ext(cj, JSON_C_TO_STRING_PLAIN))
			       : NULL;
		json_object_put(cj);
	}
	if (!g->config)
		return cvmm_api_error(r, 500, "vm.send-migration: cannot write the VM config");
	g->o.config = g->config;
	g->o.config_len = strlen(g->config);
	g->sending = true;
	if (!mig_start(a, send_main, url, "vm.send-migration", r))
		r->status = 204;
}

void vm_migration_progress(struct api *a, struct cvmm_api_request *q,
				  struct cvmm_api_response *r)
{
	struct cvmm_vmm_mig_progress p;
	struct json_object *o;

	(void)q;
	pthread_mutex_lock(&a->mig.mu);
	p = a->mig.own;
	pthread_mutex_unlock(&a->mig.mu);
	/* the VM's figures once it has them (either side); a send's only
	 * once it published them (before, the VM's are its last migration's) */
	struct cvmm_vmm_mig_progress vp;

	if (a->vm.vmm && cvmm_vmm_migrate_progress(a->vm.vmm, &vp) &&
	    vp.state == CVMM_VMM_MIG_POSTCOPY_PAUSED && p.state != CVMM_VMM_MIG_SETUP) {
		/* a failed resume's set-up leaves it paused; the error is
		 * the resume's when it failed before the VM's figures moved */
		if (p.state == CVMM_VMM_MIG_FAILED && p.error[0])
			snprintf(vp.error, sizeof(vp.error), "%s", p.error);
		p = vp;
	} else if (a->mig.sending && !__atomic_load_n(&a->mig.live, __ATOMIC_ACQUIRE) &&
	    p.state != CVMM_VMM_MIG_FAILED)
		;
	else if (a->vm.vmm && p.state != CVMM_VMM_MIG_FAILED)
		cvmm_vmm_migrate_progress(a->vm.vmm, &p);
	else if (a->vm.vmm && a->mig.sending)
		cvmm_vmm_migrate_progress(a->vm.vmm, &p);
	o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string(cvmm_vmm_mig_state_name(p.state)));
	json_object_object_add(o, "pass", json_object_new_int64(p.pass));
	counter(o, "bytes_sent", p.bytes_sent);
	counter(o, "bytes_remaining", p.bytes_remaining);
	counter(o, "pages_sent", p.pages_sent);
	counter(o, "zero_pages", p.zero_pages);
	counter(o, "dirty_rate", p.dirty_rate);
	counter(o, "bandwidth", p.bandwidth);
	counter(o, "expected_downtime_ms", p.expected_downtime_ms);
	counter(o, "throttle_pct", p.throttle_pct);
	counter(o, "page_requests", p.page_requests);
	json_object_object_add(o, "dirty_ring", json_object_new_boolean(p.dirty_ring));
	counter(o, "total_ms", p.total_ms);
	counter(o, "downtime_ms", p.downtime_ms);
	json_object_object_add(o, "switched", json_object_new_boolean(p.switched));
	counter(o, "connections", p.connections);
	if (p.fault_median_us || p.fault_p99_us) {
		counter(o, "fault_median_us", p.fault_median_us);
		counter(o, "fault_p99_us", p.fault_p99_us);
	}
	if (p.error[0])
		json_object_object_add(o, "error", json_object_new_string(p.error));
	r->json = o;
	r->status = 200;
}

void vm_migration_cancel(struct api *a, struct cvmm_api_request *q,
				struct cvmm_api_response *r)
{
	(void)q;
	if (!a->mig.thread || __atomic_load_n(&a->mig.done, __ATOMIC_ACQUIRE))
		return cvmm_api_error(r, 409, "vm.migration-cancel: no migration runs");
	if (a->mig.sending) {
		if (cvmm_vmm_migrate_cancel(a->vm.vmm))
			return cvmm_api_error(r, 409, "vm.migration-cancel: too late (the state went)");
	} else if (a->mig.lfd >= 0) {
		__atomic_store_n(&a->mig.cancel, true, __ATOMIC_RELEASE);
		shutdown(a->mig.lfd, SHUT_RDWR);
	}
	r->status = 204;
}

