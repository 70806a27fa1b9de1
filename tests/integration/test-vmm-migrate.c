/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Live migration in the VM core: a guest that keeps checking its own
 * memory (tests/guests/state.c) is migrated while it runs — pre-copy over
 * a unix socket and over TCP loopback, locally by memfd — and goes on at
 * the destination finding every byte. Faults: the link cut mid-way (the
 * source keeps running, the destination fails and refuses to start), the
 * destination killed with SIGKILL (a process of its own), a cancel; and
 * hostile streams (pages outside RAM, overflowing lengths, truncated and
 * corrupt state) refused with one line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cvmm/migration.h>
#include <cvmm/snapshot.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/console.h>
#include <cvmm/vmm.h>

#ifdef CVMM_TEST_TLS
#include <cvmm/migration-tls.h>
#endif

#include "cvmm-test.h"
#include "guest-loader.h"
#include "state-guest.h"

#define MEM (64ull << 20)

static char self[4096];
static uint32_t ring_bytes; /* the next source VM's dirty ring */
/* Extra memory connections of the next migration (source and destination ends). */
static int extra_src[4], extra_dst[4];
static unsigned int nextra;
/* The next send's downtime limit and most passes (0: defaults). */
static uint32_t downtime, passes;

static void drop(struct cvmm_vmm *vmm)
{
	cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_REQUEST, 0);
	cvmm_vmm_run(vmm);
	cvmm_vmm_destroy(vmm);
}

struct send_job {
	struct cvmm_vmm *vmm;
	int fd;
	struct cvmm_vmm_migrate_opts o;
	int ret;
	char err[300];
	pthread_t t;
	_Atomic uint64_t sent;       /* bytes, from the progress callback */
	int kill_pid;                /* SIGKILL this pid once kill_at bytes went */
	uint64_t kill_at;
};

static void on_progress(void *opaque, const struct cvmm_vmm_mig_progress *p)
{
	struct send_job *j = opaque;

	atomic_store(&j->sent, p->bytes_sent);
	if (j->kill_pid > 0 && p->bytes_sent >= j->kill_at) {
		kill(j->kill_pid, SIGKILL);
		j->kill_pid = 0;
	}
}

static void *send_thread(void *arg)
{
	struct send_job *j = arg;

	j->ret = cvmm_vmm_migrate_send(j->vmm, j->fd, &j->o, j->err, sizeof(j->err));
	return NULL;
}

static void send_start(struct send_job *j, struct cvmm_vmm *vmm, int fd, bool local)
{
	j->vmm = vmm;
	j->fd = fd;
	j->o = (struct cvmm_vmm_migrate_opts){ .sz = sizeof(j->o), .local = local,
					       .config = "{\"test\":1}", .config_len = 10,
					       .progress = on_progress, .opaque = j,
					       .mem_fds = extra_src, .nmem_fds = nextra,
					       .downtime_ms = downtime, .max_passes = passes };
	ck_assert_int_eq(pthread_create(&j->t, NULL, send_thread, j), 0);
}

/* Receive on @fd into a new VM; @return the receive's result. */
static int receive_into(int fd, struct cvmm_vmm **out, char *err, size_t errlen)
{
	struct cvmm_vmm_incoming *in;
	struct cvmm_vmm_receive_opts ro = { .sz = sizeof(ro), .request_fd = -1,
					    .mem_fds = extra_dst, .nmem_fds = nextra };
	struct cvmm_vmm *vmm;
	int ret = cvmm_vmm_migrate_accept(fd, &in, err, errlen);

	*out = NULL;
	if (ret)
		return ret;
	SG_CHECK(cvmm_vmm_incoming_ncpus(in) == SG_NCPUS && cvmm_vmm_incoming_mem_size(in) == MEM);
	SG_CHECK(!strcmp(cvmm_vmm_incoming_config(in, NULL), "{\"test\":1}"));
	SG_CHECK(cvmm_vmm_incoming_connections(in) == nextra);
	vmm = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .backing = CVMM_VMM_MEM_ANON });
	ret = cvmm_vmm_migrate_receive(vmm, in, &ro, err, errlen);
	cvmm_vmm_incoming_free(in);
	*out = vmm;
	return ret;
}

static void migrate_and_check(int sfd, int dfd, bool local)
{
	struct cvmm_vmm *src = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .backing = local ? CVMM_VMM_MEM_SHARED : CVMM_VMM_MEM_ANON, .dirty_ring_bytes = ring_bytes, .load = true });
	struct cvmm_vmm *dst;
	struct send_job j = { 0 };
	struct cvmm_vmm_mig_progress sp, dp;
	char err[300] = "";
	int ret;

	ck_assert_int_eq(cvmm_vmm_start(src), 0);
	sg_nap(100);
	send_start(&j, src, sfd, local);
	ret = receive_into(dfd, &dst, err, sizeof(err));
	pthread_join(j.t, NULL);
	ck_assert_msg(ret == 0, "receive: %s", err);
	ck_assert_msg(j.ret == 0, "send: %s", j.err);
	ck_assert_int_eq(cvmm_vmm_state(src), CVMM_VMM_PAUSED);
	ck_assert(cvmm_vmm_migrate_progress(src, &sp));
	ck_assert(cvmm_vmm_migrate_progress(dst, &dp));
	ck_assert_int_eq(sp.state, CVMM_VMM_MIG_COMPLETED);
	ck_assert_int_eq(dp.state, CVMM_VMM_MIG_COMPLETED);
	if (ring_bytes)
		ck_assert(sp.dirty_ring);
	ck_assert_uint_eq(sp.connections, 1 + nextra);
	ck_assert_uint_eq(dp.connections, 1 + nextra);
	if (passes)
		ck_assert_uint_le(sp.pass, passes);
	printf("# %s%s: %u passes, %llu bytes sent, %llu data pages, %llu zero pages, "
	       "total %llu ms, downtime %llu ms\n", local ? "local" : "pre-copy",
	       sp.dirty_ring ? " (dirty ring)" : "", sp.pass,
	       (unsigned long long)sp.bytes_sent, (unsigned long long)sp.pages_sent,
	       (unsigned long long)sp.zero_pages, (unsigned long long)sp.total_ms,
	       (unsigned long long)sp.downtime_ms);
	if (!local) {
		ck_assert_uint_ge(sp.pass, 1);
		ck_assert_uint_gt(sp.zero_pages, 0);
		/* Zero pages travel as markers: far less than the RAM on the wire. */
		ck_assert_uint_lt(sp.bytes_sent, MEM / 2);
	}
	drop(src);
	ck_assert_int_eq(cvmm_vmm_start(dst), 0);
	ret = sg_finish_guest(dst);
	ck_assert_msg(ret == 0x5a, "guest exit %#x (0xb1 memory, 0xb2 counter)", ret);
	cvmm_vmm_destroy(dst);
}

START_TEST(precopy_unix)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	migrate_and_check(sv[0], sv[1], false);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* The dirty pages come from the per-vCPU KVM dirty rings (a small ring:
 * it fills, and the vCPUs harvest their own on KVM_EXIT_DIRTY_RING_FULL). */
START_TEST(precopy_ring)
{
	int sv[2];

	ring_bytes = 4096; /* 256 entries */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	migrate_and_check(sv[0], sv[1], false);
	ring_bytes = 0;
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(precopy_tcp)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c, d;

	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	d = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(d, 0);
	migrate_and_check(c, d, false);
	close(c);
	close(d);
	close(l);
}
END_TEST

static void extras(unsigned int n, bool tcp)
{
	nextra = n;
	for (unsigned int i = 0; i < n; i++) {
		int sv[2];

		if (tcp) {
			struct sockaddr_in a = { .sin_family = AF_INET,
						 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
			socklen_t alen = sizeof(a);
			int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

			ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
			ck_assert_int_eq(listen(l, 1), 0);
			ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
			sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			ck_assert_int_eq(connect(sv[0], (struct sockaddr *)&a, sizeof(a)), 0);
			sv[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
			close(l);
		} else {
			ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		}
		extra_src[i] = sv[0];
		extra_dst[i] = sv[1];
	}
}

static void extras_close(void)
{
	for (unsigned int i = 0; i < nextra; i++)
		close(extra_src[i]), close(extra_dst[i]);
	nextra = 0;
}

/* Page batches spread over 4 connections, passes kept in order at the
 * destination by the per-pass barrier: every byte found. */
START_TEST(precopy_connections)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	extras(3, true);
	/* A limit it never meets: 6 passes, each spread, then stop-and-copy. */
	downtime = 1;
	passes = 6;
	migrate_and_check(sv[0], sv[1], false);
	downtime = passes = 0;
	extras_close();
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A memory connection that sends pages before any PASS, or a type that has
 * no place there: the receive fails with one line naming it. */
START_TEST(connections_hostile)
{
	struct cvmm_mig_range r = { 0, MEM };
	static uint8_t b[64];
	struct cvmm_vmm *dst;
	uint64_t gpa = 0;
	uint32_t count = 1, flags = CVMM_MIG_PAGES_ZERO;
	char err[300];
	int sv[2];

	for (int c = 0; c < 2; c++) {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		extras(1, false);
		ck_assert_int_eq(cvmm_mig_send_start_conns(sv[0], 0, SG_NCPUS, 1, &r, 1,
							   "{\"test\":1}", 10), 0);
		ck_assert_int_eq(cvmm_mig_send_pass(sv[0], 0, 1), 0);
		if (c == 0) {
			cvmm_mig_encode_header(b, CVMM_MIG_PAGES, 16);
			memcpy(b + 16, &gpa, 8), memcpy(b + 24, &count, 4), memcpy(b + 28, &flags, 4);
			ck_assert_int_eq(cvmm_write_full(extra_src[0], b, 32), 0);
		} else {
			ck_assert_int_eq(cvmm_mig_send_pass(extra_src[0], 0, 0), 0);
			ck_assert_int_eq(cvmm_mig_send_state(extra_src[0], "x", 1), 0);
		}
		/* The main stream goes on to its next pass: the barrier sees the failure. */
		ck_assert_int_eq(cvmm_mig_send_pass(sv[0], 1, 1), 0);
		ck_assert_int_ne(receive_into(sv[1], &dst, err, sizeof(err)), 0);
		printf("# refused: %s\n", err);
		ck_assert_ptr_nonnull(strstr(err, "memory connection 1"));
		ck_assert_ptr_nonnull(strstr(err, c == 0 ? "PAGES before any PASS" : "a STATE"));
		ck_assert_int_eq(cvmm_vmm_start(dst), -EIO);
		cvmm_vmm_destroy(dst);
		extras_close();
		close(sv[0]);
		close(sv[1]);
	}
}
END_TEST

/* A page of pass 0 on a memory connection is written to its socket after
 * pass 1's copy of the same page on the main one: the barrier still applies
 * pass 0's first, so the page holds pass 1's data. */
START_TEST(connections_pass_order)
{
	struct cvmm_mig_range r = { 0, MEM };
	static uint8_t a[4096], b[4096];
	struct cvmm_vmm *dst;
	const uint8_t *host;
	char err[300];
	int sv[2];

	memset(a, 0xaa, sizeof(a));
	memset(b, 0xbb, sizeof(b));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	extras(1, false);
	ck_assert_int_eq(cvmm_mig_send_start_conns(sv[0], 0, SG_NCPUS, 1, &r, 1, "{\"test\":1}", 10), 0);
	ck_assert_int_eq(cvmm_mig_send_pass(sv[0], 0, 1), 0);
	ck_assert_int_eq(cvmm_mig_send_pass(sv[0], 1, 1), 0);
	ck_assert_int_gt(cvmm_mig_send_pages(sv[0], 0x100000, 1, b), 0);
	ck_assert_int_eq(cvmm_mig_send_pass(extra_src[0], 0, 0), 0);
	ck_assert_int_gt(cvmm_mig_send_pages(extra_src[0], 0x100000, 1, a), 0);
	ck_assert_int_eq(cvmm_mig_send_pass(extra_src[0], 1, 0), 0);
	ck_assert_int_eq(cvmm_mig_send_complete(extra_src[0], 1), 0);
	shutdown(sv[0], SHUT_WR); /* the stream ends there: the receive fails, RAM stays */
	ck_assert_int_ne(receive_into(sv[1], &dst, err, sizeof(err)), 0);
	host = cvmm_guest_mem_ptr(cvmm_vmm_mem(dst), 0x100000, 4096);
	ck_assert_ptr_nonnull(host);
	ck_assert_msg(host[0] == 0xbb && host[4095] == 0xbb, "pass 0's copy overwrote pass 1's");
	cvmm_vmm_destroy(dst);
	extras_close();
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(local_memfd)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	migrate_and_check(sv[0], sv[1], true);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A link that carries @limit bytes from a to b (slowly when @slow), then is cut. */
struct link {
	int a, b;
	uint64_t limit;
	bool slow;
	pthread_t t;
};

static void small_buffers(int fd)
{
	int v = 4096;

	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

static void *link_thread(void *arg)
{
	struct link *l = arg;
	static __thread char buf[4096];
	uint64_t moved = 0;

	while (moved < l->limit) {
		size_t want = sizeof(buf) < l->limit - moved ? sizeof(buf) : l->limit - moved;
		ssize_t n = read(l->a, buf, want);

		if (n <= 0 || cvmm_write_full(l->b, buf, (size_t)n))
			break;
		moved += (uint64_t)n;
		if (l->slow)
			sg_nap(3);
	}
	shutdown(l->a, SHUT_RDWR);
	shutdown(l->b, SHUT_RDWR);
	return NULL;
}

/* The source keeps running and its guest still finds every byte. */
static void source_survives(struct cvmm_vmm *src)
{
	int code;

	ck_assert_int_eq(cvmm_vmm_state(src), CVMM_VMM_RUNNING);
	code = sg_finish_guest(src);
	ck_assert_msg(code == 0x5a, "source guest exit %#x", code);
	cvmm_vmm_destroy(src);
}

static void faulty_link(uint64_t limit, bool slow, bool cancel)
{
	struct cvmm_vmm *src = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .backing = CVMM_VMM_MEM_ANON, .dirty_ring_bytes = ring_bytes, .load = true }), *dst;
	int s1[2], s2[2];
	struct link l;
	struct send_job j = { 0 };
	struct cvmm_vmm_mig_progress p;
	char err[300] = "";
	int ret;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s1), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s2), 0);
	l = (struct link){ .a = s1[1], .b = s2[0], .limit = limit, .slow = slow };
	ck_assert_int_eq(pthread_create(&l.t, NULL, link_thread, &l), 0);
	/* Small buffers: the source cannot run far ahead of the link. */
	small_buffers(s1[0]);
	small_buffers(s1[1]);
	ck_assert_int_eq(cvmm_vmm_start(src), 0);
	sg_nap(50);
	send_start(&j, src, s1[0], false);
	if (cancel) {
		while (atomic_load(&j.sent) < (32 << 10))
			sg_nap(1);
		ck_assert_int_eq(cvmm_vmm_migrate_cancel(src), 0);
	}
	ret = receive_into(s2[1], &dst, err, sizeof(err));
	pthread_join(j.t, NULL);
	shutdown(s1[0], SHUT_RDWR); /* the link thread sees the end */
	pthread_join(l.t, NULL);
	printf("# source: %s\n# destination: %s\n", j.err, err);
	ck_assert_int_ne(j.ret, 0);
	ck_assert_int_ne(ret, 0);
	ck_assert_ptr_null(strchr(err, '\n'));
	ck_assert(cvmm_vmm_migrate_progress(src, &p));
	if (cancel) {
		ck_assert_int_eq(j.ret, -ECANCELED);
		ck_assert_int_eq(p.state, CVMM_VMM_MIG_CANCELLED);
		ck_assert_int_eq(ret, -ECANCELED);
		ck_assert_ptr_nonnull(strstr(err, "abandoned"));
	} else {
		ck_assert_int_eq(p.state, CVMM_VMM_MIG_FAILED);
		ck_assert_int_eq(ret, -EPIPE);
	}
	/* The destination never reports success and never runs. */
	ck_assert(cvmm_vmm_migrate_progress(dst, &p));
	ck_assert_int_ne(p.state, CVMM_VMM_MIG_COMPLETED);
	ck_assert_int_eq(cvmm_vmm_start(dst), -EIO);
	cvmm_vmm_destroy(dst);
	source_survives(src);
	close(s1[0]), close(s1[1]), close(s2[0]), close(s2[1]);
}

/*
 * A post-copy run, shared by the tests that end in post-copy: the pushed
 * stream crawls through a slow link, so the guest runs ahead of it and
 * asks for its pages on the request connection.
 */
struct pc_run {
	struct cvmm_vmm *src, *dst;
	struct send_job j;
	struct cvmm_vmm_mig_progress sp, dp;
	int sv[2], lk[2], rq[2];
	struct link fwd, back;
	struct cvmm_vmm_incoming *in;
};

/* Start the source and its send with @o, accept on the destination. */
static void pc_begin(struct pc_run *r, const struct cvmm_vmm_migrate_opts *o)
{
	char err[300] = "";

	bool fresh = !r->src; /* else the caller's VM, running */

	if (fresh)
		r->src = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .backing = CVMM_VMM_MEM_ANON,
							  .dirty_ring_bytes = ring_bytes,
							  .load = true });
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r->sv), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r->lk), 0);
	small_buffers(r->sv[0]);
	small_buffers(r->sv[1]);
	r->fwd = (struct link){ .a = r->sv[1], .b = r->lk[0], .limit = UINT64_MAX, .slow = true };
	r->back = (struct link){ .a = r->lk[0], .b = r->sv[1], .limit = UINT64_MAX };
	ck_assert_int_eq(pthread_create(&r->fwd.t, NULL, link_thread, &r->fwd), 0);
	ck_assert_int_eq(pthread_create(&r->back.t, NULL, link_thread, &r->back), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r->rq), 0);
	if (fresh) {
		ck_assert_int_eq(cvmm_vmm_start(r->src), 0);
		sg_nap(100);
	}
	r->j.vmm = r->src;
	r->j.fd = r->sv[0];
	r->j.o = *o;
	r->j.o.request_fd = r->rq[0];
	r->j.o.config = "{\"test\":1}";
	r->j.o.config_len = 10;
	r->j.o.progress = on_progress;
	r->j.o.opaque = &r->j;
	ck_assert_int_eq(pthread_create(&r->j.t, NULL, send_thread, &r->j), 0);
	ck_assert_msg(cvmm_vmm_migrate_accept(r->lk[1], &r->in, err, sizeof(err)) == 0, "%s", err);
}

static void pc_close(struct pc_run *r)
{
	shutdown(r->sv[0], SHUT_RDWR), shutdown(r->lk[1], SHUT_RDWR);
	pthread_join(r->fwd.t, NULL), pthread_join(r->back.t, NULL);
	close(r->sv[0]), close(r->sv[1]), close(r->lk[0]), close(r->lk[1]);
	close(r->rq[0]), close(r->rq[1]);
}

/* Receive, run the destination at once and wait until both sides say
 * completed. @return false when this user has no userfaultfd (skipped). */
static bool pc_receive(struct pc_run *r, const char *what)
{
	struct cvmm_vmm_receive_opts ro = { .sz = sizeof(ro), .request_fd = r->rq[1] };
	char err[300] = "";
	int ret;

	r->dst = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .backing = CVMM_VMM_MEM_ANON });
	ret = cvmm_vmm_migrate_receive(r->dst, r->in, &ro, err, sizeof(err));
	cvmm_vmm_incoming_free(r->in);
	if (ret == -EPERM || ret == -ENOSYS) {
		printf("# %s skipped: %s\n", what, err);
		pthread_join(r->j.t, NULL);
		cvmm_vmm_destroy(r->dst);
		drop(r->src);
		pc_close(r);
		return false;
	}
	ck_assert_msg(ret == 0, "receive: %s", err);
	ck_assert_int_eq(cvmm_vmm_start(r->dst), 0);
	pthread_join(r->j.t, NULL);
	ck_assert_msg(r->j.ret == 0, "send: %s", r->j.err);
	for (int i = 0; i < 1000; i++) {
		ck_assert(cvmm_vmm_migrate_progress(r->dst, &r->dp));
		if (r->dp.state != CVMM_VMM_MIG_POSTCOPY)
			break;
		sg_nap(10);
	}
	ck_assert_msg(r->dp.state == CVMM_VMM_MIG_COMPLETED, "destination: %s: %s",
		      cvmm_vmm_mig_state_name(r->dp.state), r->dp.error);
	ck_assert(cvmm_vmm_migrate_progress(r->src, &r->sp));
	ck_assert_int_eq(r->sp.state, CVMM_VMM_MIG_COMPLETED);
	return true;
}

/* The source stays paused; the guest finds every byte on the destination. */
static void pc_finish(struct pc_run *r)
{
	int ret;

	ck_assert_int_eq(cvmm_vmm_state(r->src), CVMM_VMM_PAUSED);
	drop(r->src);
	ret = sg_finish_guest(r->dst);
	ck_assert_msg(ret == 0x5a, "guest exit %#x (0xb1 memory, 0xb2 counter)", ret);
	cvmm_vmm_destroy(r->dst);
	pc_close(r);
}

START_TEST(postcopy)
{
	struct pc_run r = { 0 };

	pc_begin(&r, &(struct cvmm_vmm_migrate_opts){ .sz = sizeof(r.j.o), .postcopy = true });
	if (!pc_receive(&r, "post-copy"))
		return;
	printf("# post-copy: switch-over after %llu ms, %llu pages requested on demand, "
	       "%llu data + %llu zero pages pushed, total %llu ms\n",
	       (unsigned long long)r.sp.downtime_ms, (unsigned long long)r.sp.page_requests,
	       (unsigned long long)r.sp.pages_sent, (unsigned long long)r.sp.zero_pages,
	       (unsigned long long)r.sp.total_ms);
	ck_assert_uint_gt(r.sp.page_requests, 0);
	pc_finish(&r);
}
END_TEST

static void *resume_thread(void *arg)
{
	struct send_job *j = arg;

	j->ret = cvmm_vmm_migrate_send(j->vmm, j->fd, &j->o, j->err, sizeof(j->err));
	if (j->ret) /* the destination's accept hears the end, never hangs */
		shutdown(j->fd, SHUT_RDWR);
	return NULL;
}

static void wait_mig_state(struct cvmm_vmm *vmm, enum cvmm_vmm_mig_state want,
			   struct cvmm_vmm_mig_progress *p, const char *who)
{
	for (int i = 0; i < 2000; i++) {
		ck_assert(cvmm_vmm_migrate_progress(vmm, p));
		if (p->state == want)
			return;
		sg_nap(10);
	}
	ck_abort_msg("%s: %s, not %s: %s", who, cvmm_vmm_mig_state_name(p->state),
		     cvmm_vmm_mig_state_name(want), p->error);
}

/*
 * Post-copy recovery from a VM that came by post-copy itself (the chain
 * of tests/api/migrate-all.sh: B -> A, then A -> B): A -> B completes; B
 * sends post-copy on to C through a slow link, cut once C runs the guest:
 * both pause (postcopy-paused), B keeping its copy. A resume over new
 * connections brings the rest: B's completed receive of the first move
 * does not make it "the destination", C completes and the guest finds
 * every byte.
 */
START_TEST(postcopy_resume_chain)
{
	struct pc_run r1 = { 0 }, r2 = { 0 };
	struct cvmm_vmm_receive_opts ro;
	struct cvmm_vmm_incoming *in;
	struct cvmm_vmm_mig_progress p;
	struct send_job j = { 0 };
	char err[300] = "";
	int sv[2], rq[2], ret;

	pc_begin(&r1, &(struct cvmm_vmm_migrate_opts){ .sz = sizeof(r1.j.o), .postcopy = true });
	if (!pc_receive(&r1, "post-copy resume"))
		return;
	drop(r1.src);
	pc_close(&r1);

	/* B -> C, cut mid-push */
	r2.src = r1.dst;
	pc_begin(&r2, &(struct cvmm_vmm_migrate_opts){ .sz = sizeof(r2.j.o), .postcopy = true });
	r2.dst = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .backing = CVMM_VMM_MEM_ANON });
	ro = (struct cvmm_vmm_receive_opts){ .sz = sizeof(ro), .request_fd = r2.rq[1] };
	ret = cvmm_vmm_migrate_receive(r2.dst, r2.in, &ro, err, sizeof(err));
	cvmm_vmm_incoming_free(r2.in);
	ck_assert_msg(ret == 0, "receive: %s", err);
	ck_assert_int_eq(cvmm_vmm_start(r2.dst), 0);
	wait_mig_state(r2.dst, CVMM_VMM_MIG_POSTCOPY, &p, "C");
	shutdown(r2.sv[0], SHUT_RDWR), shutdown(r2.lk[1], SHUT_RDWR);
	shutdown(r2.rq[0], SHUT_RDWR), shutdown(r2.rq[1], SHUT_RDWR);
	pthread_join(r2.j.t, NULL);
	printf("# cut: the source: %s\n", r2.j.err);
	ck_assert_int_ne(r2.j.ret, 0);
	wait_mig_state(r2.src, CVMM_VMM_MIG_POSTCOPY_PAUSED, &p, "B");
	ck_assert_int_eq(cvmm_vmm_state(r2.src), CVMM_VMM_PAUSED);
	wait_mig_state(r2.dst, CVMM_VMM_MIG_POSTCOPY_PAUSED, &p, "C");
	printf("# cut: the destination: %s\n", p.error);

	/* the resume, over new connections */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, rq), 0);
	j.vmm = r2.src;
	j.fd = sv[0];
	j.o = (struct cvmm_vmm_migrate_opts){ .sz = sizeof(j.o), .postcopy = true, .resume = true,
					      .request_fd = rq[0] };
	ck_assert_int_eq(pthread_create(&j.t, NULL, resume_thread, &j), 0);
	ret = cvmm_vmm_migrate_accept(sv[1], &in, err, sizeof(err));
	if (ret) {
		pthread_join(j.t, NULL);
		ck_abort_msg("resume: the source: %s; the destination: %s", j.err, err);
	}
	ck_assert(cvmm_vmm_incoming_resume(in));
	ro = (struct cvmm_vmm_receive_opts){ .sz = sizeof(ro), .request_fd = rq[1] };
	ret = cvmm_vmm_migrate_receive(r2.dst, in, &ro, err, sizeof(err));
	cvmm_vmm_incoming_free(in);
	pthread_join(j.t, NULL);
	ck_assert_msg(ret == 0, "resume: the destination: %s", err);
	ck_assert_msg(j.ret == 0, "resume: the source: %s", j.err);
	ck_assert(cvmm_vmm_migrate_progress(r2.src, &p));
	ck_assert_int_eq(p.state, CVMM_VMM_MIG_COMPLETED);
	wait_mig_state(r2.dst, CVMM_VMM_MIG_COMPLETED, &p, "C");
	printf("# resumed: %llu requests, %llu data pages in all\n",
	       (unsigned long long)p.page_requests, (unsigned long long)p.pages_sent);
	r2.j.ret = 0;
	pc_finish(&r2);
	close(sv[0]), close(sv[1]), close(rq[0]), close(rq[1]);
}
END_TEST

/* Pre-copy through a link slower than the guest dirties its pages, with a
 * downtime limit it can never meet: after postcopy_after passes the source
 * switches to post-copy (the destination accepted it in answer to START),
 * the pages dirtied since their pass come on demand and pushed, and the
 * guest finds every byte. */
START_TEST(precopy_switch)
{
	struct pc_run r = { 0 };

	pc_begin(&r, &(struct cvmm_vmm_migrate_opts){ .sz = sizeof(r.j.o), .postcopy_switch = true,
						      .postcopy_after = 3, .downtime_ms = 1 });
	ck_assert(cvmm_vmm_incoming_wants_requests(r.in));
	if (!pc_receive(&r, "switch to post-copy"))
		return;
	printf("# pre-copy -> post-copy: switched after %u passes (throttle %u%%), downtime %llu ms, "
	       "%llu pages on demand, total %llu ms, %llu bytes\n", r.sp.pass, r.sp.throttle_pct,
	       (unsigned long long)r.sp.downtime_ms, (unsigned long long)r.sp.page_requests,
	       (unsigned long long)r.sp.total_ms, (unsigned long long)r.sp.bytes_sent);
	ck_assert(r.sp.switched);
	ck_assert(r.dp.switched);
	ck_assert_uint_ge(r.sp.pass, 3);
	pc_finish(&r);
}
END_TEST

/* The same offer to a destination without a request connection: it
 * declines in ACCEPT and the migration stays pre-copy (stop-and-copy). */
START_TEST(precopy_switch_declined)
{
	struct cvmm_vmm *src = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .backing = CVMM_VMM_MEM_ANON, .load = true }), *dst;
	struct cvmm_vmm_mig_progress sp;
	struct send_job j = { 0 };
	char err[300] = "";
	int sv[2], rq[2], ret;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, rq), 0);
	ck_assert_int_eq(cvmm_vmm_start(src), 0);
	sg_nap(50);
	j.vmm = src;
	j.fd = sv[0];
	j.o = (struct cvmm_vmm_migrate_opts){ .sz = sizeof(j.o), .postcopy_switch = true,
					      .request_fd = rq[0], .max_passes = 3,
					      .downtime_ms = 1, .config = "{\"test\":1}",
					      .config_len = 10 };
	ck_assert_int_eq(pthread_create(&j.t, NULL, send_thread, &j), 0);
	ret = receive_into(sv[1], &dst, err, sizeof(err));
	pthread_join(j.t, NULL);
	ck_assert_msg(ret == 0, "receive: %s", err);
	ck_assert_msg(j.ret == 0, "send: %s", j.err);
	ck_assert(cvmm_vmm_migrate_progress(src, &sp));
	ck_assert(!sp.switched);
	drop(src);
	ck_assert_int_eq(cvmm_vmm_start(dst), 0);
	ret = sg_finish_guest(dst);
	ck_assert_msg(ret == 0x5a, "guest exit %#x", ret);
	cvmm_vmm_destroy(dst);
	close(sv[0]), close(sv[1]), close(rq[0]), close(rq[1]);
}
END_TEST

#ifdef CVMM_TEST_TLS
/* A tls_dir made by mig-certs.sh under a fresh temporary directory. */
static char tls_base[64];

static bool tls_certs(void)
{
	char cmd[512];
	int rc;

	snprintf(tls_base, sizeof(tls_base), "/tmp/cvmm-mig-tls-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tls_base));
	snprintf(cmd, sizeof(cmd), "sh %s/tests/integration/mig-certs.sh %s/good && "
		 "sh %s/tests/integration/mig-certs.sh %s/rogue rogue",
		 getenv("top_srcdir") ? getenv("top_srcdir") : "..", tls_base,
		 getenv("top_srcdir") ? getenv("top_srcdir") : "..", tls_base);
	rc = system(cmd);
	if (rc && WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
		printf("# TLS skipped: certtool (gnutls-bin) missing\n");
		return false;
	}
	ck_assert_msg(rc == 0, "%s failed", cmd);
	return true;
}

static void tls_clean(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tls_base);
	ck_assert_int_eq(system(cmd), 0);
}

struct tls_side {
	int fd, out, ret;
	struct cvmm_mig_tls_opts o;
	char dir[128], err[300];
	pthread_t t;
};

static void *tls_server_thread(void *arg)
{
	struct tls_side *sd = arg;

	sd->ret = cvmm_mig_tls_wrap(sd->fd, &sd->o, &sd->out, sd->err, sizeof(sd->err));
	return NULL;
}

/* Handshake both ends of a fresh TCP loopback pair: the client with
 * @client_dir, the server with @server_dir. */
static void tls_pair(const char *client_dir, const char *server_dir, struct tls_side *c,
		     struct tls_side *sv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	sv->fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	close(l);
	snprintf(c->dir, sizeof(c->dir), "%s", client_dir);
	snprintf(sv->dir, sizeof(sv->dir), "%s", server_dir);
	c->o = (struct cvmm_mig_tls_opts){ .sz = sizeof(c->o), .dir = c->dir,
					   .hostname = "127.0.0.1" };
	sv->o = (struct cvmm_mig_tls_opts){ .sz = sizeof(sv->o), .dir = sv->dir, .server = true };
	c->out = sv->out = -1;
	ck_assert_int_eq(pthread_create(&sv->t, NULL, tls_server_thread, sv), 0);
	c->ret = cvmm_mig_tls_wrap(c->fd, &c->o, &c->out, c->err, sizeof(c->err));
	if (c->ret)
		shutdown(c->fd, SHUT_RDWR); /* the server's handshake ends too */
	pthread_join(sv->t, NULL);
}

/* Pre-copy through TLS with mutual authentication, on a main connection
 * and a memory connection whose client handshake is deferred to its pump
 * (the server side handshakes it only afterwards): every byte found. */
START_TEST(precopy_tls)
{
	struct tls_side c, sv;
	char good[128];
	char err[300];

	if (!tls_certs())
		return;
	snprintf(good, sizeof(good), "%s/good", tls_base);
	tls_pair(good, good, &c, &sv);
	ck_assert_msg(c.ret == 0, "client: %s", c.err);
	ck_assert_msg(sv.ret == 0, "server: %s", sv.err);
	extras(1, true);
	{
		struct cvmm_mig_tls_opts co = { .sz = sizeof(co), .dir = good,
						.hostname = "127.0.0.1", .defer = true };
		struct cvmm_mig_tls_opts so = { .sz = sizeof(so), .dir = good, .server = true };

		ck_assert_msg(cvmm_mig_tls_wrap(extra_src[0], &co, &extra_src[0], err,
						sizeof(err)) == 0, "deferred client: %s", err);
		ck_assert_msg(cvmm_mig_tls_wrap(extra_dst[0], &so, &extra_dst[0], err,
						sizeof(err)) == 0, "server: %s", err);
	}
	migrate_and_check(c.out, sv.out, false);
	extras_close();
	close(c.out);
	close(sv.out);
	tls_clean();
}
END_TEST

/* A source whose certificate comes from another CA: the destination
 * refuses it with a line saying why, the source's handshake fails, and the
 * source VM, never touched, runs on and finds every byte. A missing file
 * in the directory is named. */
START_TEST(tls_refused)
{
	struct cvmm_vmm *src = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .backing = CVMM_VMM_MEM_ANON, .load = true });
	struct tls_side c, sv;
	char good[128], rogue[128];
	int fd;

	if (!tls_certs()) {
		cvmm_vmm_destroy(src);
		return;
	}
	ck_assert_int_eq(cvmm_vmm_start(src), 0);
	snprintf(good, sizeof(good), "%s/good", tls_base);
	snprintf(rogue, sizeof(rogue), "%s/rogue", tls_base);
	tls_pair(rogue, good, &c, &sv);
	printf("# source: %s\n# destination: %s\n", c.err, sv.err);
	ck_assert_msg(c.ret == -EACCES && sv.ret == -EACCES, "client %d: %s; server %d: %s",
		      c.ret, c.err, sv.ret, sv.err);
	ck_assert_ptr_nonnull(strstr(sv.err, "the source's certificate is refused"));
	ck_assert_ptr_null(strchr(sv.err, '\n'));
	ck_assert_ptr_null(strchr(c.err, '\n'));
	close(c.fd);
	close(sv.fd);
	/* A server that does not trust the client's CA either way: the
	 * client was refused; now a missing key file. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	{
		struct cvmm_mig_tls_opts o = { .sz = sizeof(o), .dir = "/nonexistent" };
		char err[300];
		int out;

		ck_assert_int_eq(cvmm_mig_tls_wrap(fd, &o, &out, err, sizeof(err)), -ENOENT);
		ck_assert_ptr_nonnull(strstr(err, "/nonexistent/ca-cert.pem"));
	}
	close(fd);
	source_survives(src);
	tls_clean();
}
END_TEST
#endif

START_TEST(link_cut)
{
	faulty_link(100 << 10, false, false);
}
END_TEST

START_TEST(cancel_midway)
{
	faulty_link(UINT64_MAX, true, true);
}
END_TEST

/*
 * The lock race: a third process takes a writable image's OFD lock between
 * the source's release (handover, the guest paused for good) and the
 * destination's take (takeover, before its verdict). The destination
 * refuses with one line; the source retakes its lock (the third let go)
 * and runs again; the destination never starts.
 */
struct lock_race {
	char path[64];
	int src_fd, third_fd, dst_fd;
	int retake;                  /* the source's handover(true): 0 or -errno */
	bool released;
};
/* handover() gets the options' opaque, which the progress callback owns. */
static struct lock_race *lock_race_now;

static int ofd_lock(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };

	return fcntl(fd, F_OFD_SETLK, &fl) ? -errno : 0;
}

static int race_handover(void *opaque, bool hold)
{
	struct lock_race *lr = lock_race_now;

	(void)opaque;
	if (hold)
		return lr->retake = ofd_lock(lr->src_fd, F_WRLCK);
	ck_assert_int_eq(ofd_lock(lr->src_fd, F_UNLCK), 0);
	lr->released = true;
	/* the third process, in the gap */
	lr->third_fd = open(lr->path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(lr->third_fd, 0);
	ck_assert_int_eq(ofd_lock(lr->third_fd, F_WRLCK), 0);
	return 0;
}

static int race_takeover(void *opaque)
{
	struct lock_race *lr = opaque;
	int ret;

	lr->dst_fd = open(lr->path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(lr->dst_fd, 0);
	ret = ofd_lock(lr->dst_fd, F_WRLCK);
	/* the third process is done with it: the source may take it back */
	close(lr->third_fd);
	lr->third_fd = -1;
	return ret == -EAGAIN || ret == -EACCES ? -EBUSY : ret;
}

START_TEST(lock_race)
{
	struct cvmm_vmm *src = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .load = true });
	struct lock_race lr = { .path = "/tmp/cvmm-lock-race-XXXXXX", .third_fd = -1, .dst_fd = -1,
				.retake = 1 };
	struct cvmm_vmm_receive_opts ro = { .sz = sizeof(ro), .request_fd = -1,
					    .takeover = race_takeover, .opaque = &lr };
	struct cvmm_vmm_incoming *in;
	struct cvmm_vmm_mig_progress p;
	struct cvmm_vmm *dst;
	struct send_job j = { 0 };
	char err[300] = "";
	int sv[2], ret, probe;

	lr.src_fd = mkstemp(lr.path);
	ck_assert_int_ge(lr.src_fd, 0);
	ck_assert_int_eq(ofd_lock(lr.src_fd, F_WRLCK), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(cvmm_vmm_start(src), 0);
	sg_nap(50);
	j.vmm = src;
	j.fd = sv[0];
	j.o = (struct cvmm_vmm_migrate_opts){ .sz = sizeof(j.o), .config = "{\"test\":1}",
					      .config_len = 10, .progress = on_progress, .opaque = &j,
					      .handover = race_handover };
	lock_race_now = &lr;
	ck_assert_int_eq(pthread_create(&j.t, NULL, send_thread, &j), 0);
	ck_assert_int_eq(cvmm_vmm_migrate_accept(sv[1], &in, err, sizeof(err)), 0);
	dst = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .backing = CVMM_VMM_MEM_ANON });
	ret = cvmm_vmm_migrate_receive(dst, in, &ro, err, sizeof(err));
	cvmm_vmm_incoming_free(in);
	pthread_join(j.t, NULL);
	printf("# destination: %s\n# source: %s\n", err, j.err);
	ck_assert(lr.released);
	ck_assert_int_eq(ret, -EBUSY);
	ck_assert_ptr_nonnull(strstr(err, "another process still holds an image's lock"));
	ck_assert_ptr_null(strchr(err, '\n'));
	ck_assert_int_eq(j.ret, -EBUSY);
	ck_assert_ptr_nonnull(strstr(j.err, "the destination refused"));
	/* the source took its lock back and runs again */
	ck_assert_int_eq(lr.retake, 0);
	ck_assert_int_eq(cvmm_vmm_state(src), CVMM_VMM_RUNNING);
	ck_assert(cvmm_vmm_migrate_progress(src, &p));
	ck_assert_int_eq(p.state, CVMM_VMM_MIG_FAILED);
	probe = open(lr.path, O_RDWR | O_CLOEXEC);
	ck_assert_int_eq(ofd_lock(probe, F_WRLCK), -EAGAIN);
	close(probe);
	/* the destination never runs */
	ck_assert_int_eq(cvmm_vmm_start(dst), -EIO);
	cvmm_vmm_destroy(dst);
	drop(src);
	lock_race_now = NULL;
	close(lr.src_fd);
	close(lr.dst_fd);
	unlink(lr.path);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(destination_killed)
{
	struct cvmm_vmm *src = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .backing = CVMM_VMM_MEM_ANON, .dirty_ring_bytes = ring_bytes, .load = true });
	struct send_job j = { 0 };
	char arg[16];
	int sv[2], status;
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		snprintf(arg, sizeof(arg), "%d", sv[1]);
		execl(self, self, "--receive", arg, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	ck_assert_int_eq(cvmm_vmm_start(src), 0);
	sg_nap(50);
	j.kill_pid = pid;
	j.kill_at = 64 << 10;
	small_buffers(sv[0]);
	send_start(&j, src, sv[0], false);
	pthread_join(j.t, NULL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	printf("# source after SIGKILL of the destination: %s\n", j.err);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ck_assert_int_ne(j.ret, 0);
	source_survives(src);
	close(sv[0]);
}
END_TEST

/* A hand-made stream: START for this shape, then @tail. */
static int hostile(const void *tail, size_t len, char *err, size_t errlen)
{
	struct cvmm_mig_range r = { 0, MEM };
	struct cvmm_vmm *dst;
	int sv[2], ret;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(cvmm_mig_send_start(sv[0], 0, SG_NCPUS, &r, 1, "{\"test\":1}", 10), 0);
	ck_assert_int_eq(cvmm_write_full(sv[0], tail, len), 0);
	shutdown(sv[0], SHUT_WR);
	ret = receive_into(sv[1], &dst, err, errlen);
	ck_assert_ptr_nonnull(dst);
	ck_assert_int_eq(cvmm_vmm_start(dst), -EIO);
	cvmm_vmm_destroy(dst);
	close(sv[0]);
	close(sv[1]);
	ck_assert_ptr_null(strchr(err, '\n'));
	printf("# refused: %s\n", err);
	return ret;
}

START_TEST(hostile_streams)
{
	static uint8_t b[64 + 4096];
	uint64_t gpa = MEM;   /* one page past RAM */
	uint32_t count = 1, flags = CVMM_MIG_PAGES_ZERO;
	char err[300];

	cvmm_mig_encode_header(b, CVMM_MIG_PAGES, 16);
	memcpy(b + 16, &gpa, 8);
	memcpy(b + 24, &count, 4);
	memcpy(b + 28, &flags, 4);
	ck_assert_int_eq(hostile(b, 32, err, sizeof(err)), -ERANGE);
	ck_assert_ptr_nonnull(strstr(err, "not inside guest RAM"));
	/* A length that would overflow. */
	cvmm_mig_encode_header(b, CVMM_MIG_STATE, UINT64_MAX - 8);
	ck_assert_int_eq(hostile(b, 16, err, sizeof(err)), -EMSGSIZE);
	/* Truncated state: the stream ends inside it. */
	cvmm_mig_encode_header(b, CVMM_MIG_STATE, 4096);
	ck_assert_int_eq(hostile(b, 16 + 100, err, sizeof(err)), -EPIPE);
	ck_assert_ptr_nonnull(strstr(err, "truncated"));
	/* A whole state message that is not a state stream. */
	cvmm_mig_encode_header(b, CVMM_MIG_STATE, 64);
	memset(b + 16, 0x41, 64);
	ck_assert_int_eq(hostile(b, 16 + 64, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "device state"));
	/* COMPLETE with no state. */
	cvmm_mig_encode_header(b, CVMM_MIG_COMPLETE, 8);
	memset(b + 16, 0, 8);
	ck_assert_int_eq(hostile(b, 24, err, sizeof(err)), -EPROTO);
	/* The source's shape differs from this VM's. */
	{
		struct cvmm_mig_range r = { 0, MEM / 2 };
		struct cvmm_vmm_incoming *in;
		struct cvmm_vmm *dst = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .backing = CVMM_VMM_MEM_ANON });
		int sv[2];

		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		ck_assert_int_eq(cvmm_mig_send_start(sv[0], 0, SG_NCPUS, &r, 1, NULL, 0), 0);
		ck_assert_int_eq(cvmm_vmm_migrate_accept(sv[1], &in, err, sizeof(err)), 0);
		ck_assert_int_eq(cvmm_vmm_migrate_receive(dst, in, NULL, err, sizeof(err)), -EINVAL);
		printf("# refused: %s\n", err);
		ck_assert_ptr_nonnull(strstr(err, "RAM range 0"));
		cvmm_vmm_incoming_free(in);
		cvmm_vmm_destroy(dst);
		close(sv[0]);
		close(sv[1]);
	}
}
END_TEST

/* --tcp-send / --tcp-receive HOST PORT MODE: one side of a migration over
 * TCP, for tests/integration/test-migrate-netns.sh (two network
 * namespaces joined by a veth pair). Post-copy opens a second connection
 * for page requests. Exit 0: migrated (source) / the guest found every
 * byte (destination). */
static int tcp_connect_retry(const char *host, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return -EINVAL;
	for (int i = 0; i < 200; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -errno;
		if (!connect(fd, (struct sockaddr *)&a, sizeof(a)))
			return fd;
		close(fd);
		sg_nap(50);
	}
	return -ETIMEDOUT;
}

static int tcp_send_main(const char *host, int port, bool post)
{
	struct cvmm_vmm *src;
	struct cvmm_vmm_migrate_opts o = { .sz = sizeof(o), .postcopy = post, .request_fd = -1,
					   .config = "{\"test\":1}", .config_len = 10 };
	char err[300];
	int fd = tcp_connect_retry(host, port), ret;

	if (fd < 0 || (post && (o.request_fd = tcp_connect_retry(host, port)) < 0)) {
		fprintf(stderr, "send: connect %s:%d failed\n", host, port);
		return 1;
	}
	src = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .backing = CVMM_VMM_MEM_ANON, .dirty_ring_bytes = ring_bytes, .load = true });
	if (cvmm_vmm_start(src))
		return 1;
	sg_nap(100);
	ret = cvmm_vmm_migrate_send(src, fd, &o, err, sizeof(err));
	if (ret)
		fprintf(stderr, "send: %s\n", err);
	drop(src);
	return ret ? 1 : 0;
}

static int tcp_receive_main(const char *host, int port, bool post)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct cvmm_vmm_incoming *in;
	struct cvmm_vmm_receive_opts ro = { .sz = sizeof(ro), .request_fd = -1 };
	struct cvmm_vmm *dst;
	char err[300];
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, fd, ret;

	if (l < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
	    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 2)) {
		fprintf(stderr, "receive: cannot listen on %s:%d: %s\n", host, port, strerror(errno));
		return 2;
	}
	fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (post)
		ro.request_fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0 || (post && ro.request_fd < 0))
		return 2;
	if ((ret = cvmm_vmm_migrate_accept(fd, &in, err, sizeof(err)))) {
		fprintf(stderr, "receive: %s\n", err);
		return 2;
	}
	dst = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .backing = CVMM_VMM_MEM_ANON });
	ret = cvmm_vmm_migrate_receive(dst, in, &ro, err, sizeof(err));
	cvmm_vmm_incoming_free(in);
	if (ret) {
		fprintf(stderr, "receive: %s\n", err);
		cvmm_vmm_destroy(dst);
		return 2;
	}
	ret = cvmm_vmm_start(dst);
	if (!ret && post) {
		struct cvmm_vmm_mig_progress p;

		for (int i = 0; i < 3000 && cvmm_vmm_migrate_progress(dst, &p) &&
				p.state == CVMM_VMM_MIG_POSTCOPY; i++)
			sg_nap(10);
		fprintf(stderr, "receive: post-copy %s, %llu pages on demand\n",
			cvmm_vmm_mig_state_name(p.state), (unsigned long long)p.page_requests);
	}
	if (!ret)
		ret = sg_finish_guest(dst);
	cvmm_vmm_destroy(dst);
	fprintf(stderr, "receive: guest exit %#x\n", ret);
	return ret == 0x5a ? 0 : 3;
}

/* The destination process of destination_killed: receive and run. */
static int receive_main(int fd)
{
	struct cvmm_vmm *dst;
	char err[300];
	int ret = receive_into(fd, &dst, err, sizeof(err));

	if (!ret)
		ret = cvmm_vmm_start(dst);
	if (!ret)
		ret = sg_finish_guest(dst);
	cvmm_vmm_destroy(dst);
	return ret == 0x5a ? 0 : 1;
}

int main(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	Suite *s;
	TCase *t;

	self[n > 0 ? n : 0] = 0;
	signal(SIGPIPE, SIG_IGN);
	/* Before any Check object exists: the child leaks none of them. */
	if (argc == 3 && !strcmp(argv[1], "--receive")) {
		sg_in_child = true;
		return receive_main(atoi(argv[2]));
	}
	if (argc == 5 && (!strcmp(argv[1], "--tcp-send") || !strcmp(argv[1], "--tcp-receive"))) {
		bool post = !strcmp(argv[4], "postcopy");

		sg_in_child = true;
		if (!cvmm_test_have_kvm())
			return 77;
		return !strcmp(argv[1], "--tcp-send") ? tcp_send_main(argv[2], atoi(argv[3]), post)
						      : tcp_receive_main(argv[2], atoi(argv[3]), post);
	}
	s = suite_create("vmm-migrate");
	t = tcase_create("migrate");
	cvmm_test_require_kvm();
	tcase_set_timeout(t, 60);
	tcase_add_test(t, precopy_unix);
	tcase_add_test(t, precopy_ring);
	tcase_add_test(t, precopy_tcp);
	tcase_add_test(t, local_memfd);
	tcase_add_test(t, precopy_connections);
	tcase_add_test(t, connections_hostile);
	tcase_add_test(t, connections_pass_order);
#ifdef CVMM_TEST_TLS
	tcase_add_test(t, precopy_tls);
	tcase_add_test(t, tls_refused);
#endif
	tcase_add_test(t, postcopy);
	tcase_add_test(t, postcopy_resume_chain);
	tcase_add_test(t, precopy_switch);
	tcase_add_test(t, precopy_switch_declined);
	tcase_add_test(t, link_cut);
	tcase_add_test(t, cancel_midway);
	tcase_add_test(t, destination_killed);
	tcase_add_test(t, lock_race);
	tcase_add_test(t, hostile_streams);
	suite_add_tcase(s, t);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
