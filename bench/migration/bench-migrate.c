/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Live-migration figures for docs/benchmarks.md: a guest (tests/guests/
 * dirty.c, 2 vCPUs) that keeps writing HOT MiB of its RAM is migrated
 * between two VMs of this process over TCP loopback (pre-copy) and over a
 * unix socket (local, memfds). Prints total time, downtime, bytes on the
 * wire, passes and the auto-converge throttle.
 *
 * usage: bench-migrate GUESTS-DIR [MEM-MIB [HOT-MIB [RING-BYTES [CONNECTIONS [MODES]]]]]
 *        (default 256 32 0 1 all)
 * RING-BYTES > 0: the source has a per-vCPU KVM dirty ring of that size.
 * CONNECTIONS > 1: pre-copy spreads pages over that many TCP connections.
 * MODES: any of "pre", "post", "local" joined by commas (default all).
 * BENCH_TLS_DIR=DIR (environment): every TCP connection through TLS with
 * the certificates of DIR (tests/integration/mig-certs.sh makes one).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cvmm/vmm.h>

#ifdef CVMM_BENCH_TLS
#include <cvmm/migration-tls.h>
#endif

#include "cvmm-dirty-pattern.h"
#include "guest-loader.h"

#define NCPUS 2
#define AREA_GPA (16ull << 20)

static char image[4096];
static uint64_t mem_mib = 256, hot_mib = 32;
static uint32_t ring_bytes;
static unsigned int conns = 1;
static const char *modes = "pre,post,local";

static void die(const char *what, int ret, const char *err)
{
	fprintf(stderr, "bench-migrate: %s: %s %s\n", what, strerror(-ret), err ? err : "");
	exit(1);
}

static struct cvmm_vmm *make_vm(bool load, enum cvmm_vmm_mem_backing backing)
{
	struct cvmm_vmm_opts o = { .sz = sizeof(o), .mem_size = mem_mib << 20, .ncpus = NCPUS,
				   .backing = backing, .dirty_ring_bytes = load ? ring_bytes : 0 };
	struct cvmm_vmm_platform_opts po = { .sz = sizeof(po), .serial_out_fd = -1,
					     .debug_exit = true };
	struct cvmm_vmm *vmm;
	char err[256];
	int ret;

	if ((ret = cvmm_vmm_create(&o, &vmm, err, sizeof(err))))
		die("create", ret, err);
	if ((ret = cvmm_vmm_platform_add(vmm, &po, err, sizeof(err))))
		die("platform", ret, err);
	if (load) {
		uint64_t pages = hot_mib << 8;
		struct cvmm_guest_load_opts lo = {
			.sz = sizeof(lo), .ncpus = NCPUS,
			/* Every page of the hot area, round after round, for ever. */
			.args = { AREA_GPA, pages ? pages : 1, pages | 0xffffffffull << 32, 7 },
		};
		struct cvmm_guest_layout l;

		if ((ret = cvmm_guest_load_file(cvmm_vmm_mem(vmm), image, &lo, &l)))
			die("load", ret, image);
		for (unsigned int i = 0; i < NCPUS; i++)
			if ((ret = cvmm_guest_vcpu_setup(&l, cvmm_vmm_vcpu(vmm, i), i)))
				die("vcpu", ret, NULL);
	}
	return vmm;
}

struct job {
	struct cvmm_vmm *vmm;
	int fd, req_fd;
	int mem_fds[16];
	unsigned int nmem;
	bool local, postcopy;
	int ret;
	char err[300];
};

static void *sender(void *arg)
{
	struct job *j = arg;
	struct cvmm_vmm_migrate_opts o = { .sz = sizeof(o), .local = j->local, .downtime_ms = 300,
					   .postcopy = j->postcopy, .request_fd = j->req_fd,
					   .mem_fds = j->mem_fds, .nmem_fds = j->nmem };

	j->ret = cvmm_vmm_migrate_send(j->vmm, j->fd, &o, j->err, sizeof(j->err));
	return NULL;
}

#ifdef CVMM_BENCH_TLS
struct tls_srv {
	int fd, out, ret;
	char err[300];
};

static void *tls_srv_main(void *arg)
{
	struct tls_srv *t = arg;
	struct cvmm_mig_tls_opts o = { .sz = sizeof(o), .dir = getenv("BENCH_TLS_DIR"),
				       .server = true };

	t->ret = cvmm_mig_tls_wrap(t->fd, &o, &t->out, t->err, sizeof(t->err));
	return NULL;
}

/* Both ends of a TCP pair through TLS (BENCH_TLS_DIR). */
static void tls_wrap_pair(int *c, int *d)
{
	struct tls_srv t = { .fd = *d };
	struct cvmm_mig_tls_opts o = { .sz = sizeof(o), .dir = getenv("BENCH_TLS_DIR"),
				       .hostname = "127.0.0.1" };
	char err[300];
	pthread_t th;
	int ret;

	pthread_create(&th, NULL, tls_srv_main, &t);
	ret = cvmm_mig_tls_wrap(*c, &o, c, err, sizeof(err));
	pthread_join(th, NULL);
	if (ret)
		die("TLS client", ret, err);
	if (t.ret)
		die("TLS server", t.ret, t.err);
	*d = t.out;
}
#endif

static void tcp_pair(int *c, int *d)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &alen))
		die("listen", -errno, NULL);
	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (struct sockaddr *)&a, sizeof(a)))
		die("connect", -errno, NULL);
	*d = accept(l, NULL, NULL);
	close(l);
#ifdef CVMM_BENCH_TLS
	if (getenv("BENCH_TLS_DIR"))
		tls_wrap_pair(c, d);
#endif
}

enum mode { PRECOPY, POSTCOPY, LOCAL };

static void run(enum mode mode)
{
	bool local = mode == LOCAL;
	struct cvmm_vmm *src = make_vm(true, local ? CVMM_VMM_MEM_SHARED : CVMM_VMM_MEM_ANON), *dst;
	struct cvmm_vmm_incoming *in;
	struct cvmm_vmm_receive_opts ro = { .sz = sizeof(ro), .request_fd = -1 };
	int dst_fds[16];
	struct cvmm_vmm_mig_progress p, dp;
	struct timespec ts = { 0, 300000000 };
	struct job j = { .vmm = src, .local = local, .postcopy = mode == POSTCOPY, .req_fd = -1 };
	pthread_t t;
	char err[300];
	int sv[2], rq[2] = { -1, -1 }, ret;

	if (local) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			die("socketpair", -errno, NULL);
	} else {
		tcp_pair(&sv[0], &sv[1]);
		if (mode == POSTCOPY)
			tcp_pair(&rq[0], &rq[1]);
		else
			for (j.nmem = 0; j.nmem + 1 < conns; j.nmem++)
				tcp_pair(&j.mem_fds[j.nmem], &dst_fds[j.nmem]);
	}
	ro.mem_fds = dst_fds;
	ro.nmem_fds = j.nmem;
	j.req_fd = rq[0];
	ro.request_fd = rq[1];
	if ((ret = cvmm_vmm_start(src)))
		die("start", ret, NULL);
	/* The hot area written over and over by now: a first write per page
	 * costs 20-50 us here (shadow paging), so warm up with its size. */
	{
		const char *w = getenv("BENCH_WARM_MS");
		uint64_t ms = w ? strtoull(w, NULL, 0) : 300 + hot_mib * 20;
		struct timespec warm = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

		nanosleep(&warm, NULL);
	}
	j.fd = sv[0];
	pthread_create(&t, NULL, sender, &j);
	if ((ret = cvmm_vmm_migrate_accept(sv[1], &in, err, sizeof(err))))
		die("accept", ret, err);
	dst = make_vm(false, CVMM_VMM_MEM_ANON);
	ret = cvmm_vmm_migrate_receive(dst, in, &ro, err, sizeof(err));
	if (ret)
		die("receive", ret, err);
	if (mode == POSTCOPY && (ret = cvmm_vmm_start(dst)))
		die("start at the destination", ret, NULL);
	pthread_join(t, NULL);
	if (j.ret)
		die("send", j.ret, j.err);
	for (int i = 0; i < 1000; i++) {
		cvmm_vmm_migrate_progress(dst, &dp);
		if (dp.state != CVMM_VMM_MIG_POSTCOPY)
			break;
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	cvmm_vmm_migrate_progress(src, &p);
	if (mode == POSTCOPY)
		printf("post-copy %5llu MiB guest, %3llu MiB hot: switch-over %llu ms, total %llu ms, "
		       "%llu pages on demand, fault service median %llu us, p99 %llu us, "
		       "%.1f MiB sent\n", (unsigned long long)mem_mib, (unsigned long long)hot_mib,
		       (unsigned long long)p.downtime_ms, (unsigned long long)p.total_ms,
		       (unsigned long long)p.page_requests, (unsigned long long)dp.fault_median_us,
		       (unsigned long long)dp.fault_p99_us, p.bytes_sent / 1048576.0);
	else
		printf("%-8s%s %5llu MiB guest, %3llu MiB hot: total %6llu ms, downtime %4llu ms "
		       "(destination: state to running %llu ms), %8.1f MiB sent, %u passes, "
		       "%llu data + %llu zero pages, throttle %u%%, %u connection(s)\n",
		       local ? "local" : "pre-copy", p.dirty_ring ? " (ring)" : "",
		       (unsigned long long)mem_mib, (unsigned long long)hot_mib,
		       (unsigned long long)p.total_ms, (unsigned long long)p.downtime_ms,
		       (unsigned long long)dp.downtime_ms, p.bytes_sent / 1048576.0, p.pass + 1,
		       (unsigned long long)p.pages_sent, (unsigned long long)p.zero_pages,
		       p.throttle_pct, p.connections);
	cvmm_vmm_incoming_free(in);
	cvmm_vmm_request_stop(src, CVMM_VMM_STOP_REQUEST, 0);
	cvmm_vmm_run(src);
	cvmm_vmm_destroy(src);
	if (mode != POSTCOPY && (ret = cvmm_vmm_start(dst)))
		die("start at the destination", ret, NULL);
	nanosleep(&ts, NULL);
	cvmm_vmm_request_stop(dst, CVMM_VMM_STOP_REQUEST, 0);
	cvmm_vmm_run(dst);
	cvmm_vmm_destroy(dst);
	close(sv[0]);
	close(sv[1]);
	if (rq[0] >= 0)
		close(rq[0]), close(rq[1]);
	for (unsigned int i = 0; i < j.nmem; i++)
		close(j.mem_fds[i]), close(dst_fds[i]);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench-migrate GUESTS-DIR [MEM-MIB [HOT-MIB [RING-BYTES]]]\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(image, sizeof(image), "%s/dirty.img", argv[1]);
	if (argc > 2)
		mem_mib = strtoull(argv[2], NULL, 0);
	if (argc > 3)
		hot_mib = strtoull(argv[3], NULL, 0);
	if (argc > 4)
		ring_bytes = (uint32_t)strtoul(argv[4], NULL, 0);
	if (argc > 5)
		conns = (unsigned int)strtoul(argv[5], NULL, 0);
	if (argc > 6)
		modes = argv[6];
	if (!conns || conns > 16) {
		fprintf(stderr, "bench-migrate: CONNECTIONS 1..16\n");
		return 1;
	}
	if (mem_mib < 64 || hot_mib > mem_mib - 32) {
		fprintf(stderr, "bench-migrate: need MEM-MIB >= 64 and HOT-MIB <= MEM-MIB - 32\n");
		return 1;
	}
	if (strstr(modes, "pre"))
		run(PRECOPY);
	if (strstr(modes, "post"))
		run(POSTCOPY);
	if (strstr(modes, "local"))
		run(LOCAL);
	return 0;
}
