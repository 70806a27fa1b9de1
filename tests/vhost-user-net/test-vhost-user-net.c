/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm-vhost-user-net end to end: virtio-user-net (frontend + guest driver
 * in this process) <-> the daemon <-> a TAP device with 192.0.2.1/24 in a
 * private network namespace <-> UDP sockets of this process.
 * Needs root and /dev/net/tun; skips otherwise.
 */
#include "../../examples/virtio-user/virtio-user-net.h"
#include "cvmm-test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define TAP "vunet0"
#define HOST_IP "192.0.2.1"
#define GUEST_IP "192.0.2.2"
static const uint8_t tap_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t guest_mac[6] = { 0x52, 0x54, 0, 0, 0, 0x02 };

struct env {
	char dir[256], sock[300], log[300];
	pid_t pid;
};

static void env_init(struct env *e)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(e->dir, sizeof(e->dir), "%s/vunet-XXXXXX", tmp);
	ck_assert_ptr_nonnull(mkdtemp(e->dir));
	snprintf(e->sock, sizeof(e->sock), "%s/sock", e->dir);
	snprintf(e->log, sizeof(e->log), "%s/log", e->dir);
}

static pid_t spawn(struct env *e, char *const argv[])
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(e->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0)
			dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static const char *daemon_bin(void)
{
	static char bin[PATH_MAX];
	const char *top = getenv("top_builddir") ? getenv("top_builddir") : ".";

	snprintf(bin, sizeof(bin), "%s/examples/vhost-user-net/cvmm-vhost-user-net", top);
	return bin;
}

/* Start the daemon on TAP with extra flags (NULL-terminated). */
static void start(struct env *e, ...)
{
	char *argv[16] = { (char *)daemon_bin(), (char *)"--socket", e->sock, (char *)"--tap",
			   (char *)TAP };
	unsigned int n = 5;
	va_list ap;
	char *a;

	va_start(ap, e);
	while ((a = va_arg(ap, char *)) && n < 15)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	e->pid = spawn(e, argv);
}

static int run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The TAP exists once the daemon listens (it opens the TAP first). */
static void tap_up(void)
{
	ck_assert_int_eq(run("echo 1 > /proc/sys/net/ipv6/conf/" TAP "/disable_ipv6 2>/dev/null;"
			     "ip link set " TAP " address 02:00:00:00:00:01 && "
			     "ip addr add " HOST_IP "/24 dev " TAP " && "
			     "ip link set " TAP " up && "
			     "ip neigh replace " GUEST_IP " lladdr 52:54:00:00:00:02 dev " TAP
			     " nud permanent"),
			 0);
}

static struct cvmm_virtio_user_net *connect_vu(struct env *e, unsigned int pairs,
					       uint32_t buf_size, uint64_t features)
{
	struct cvmm_virtio_user_net_opts o = {
		.sz = sizeof(o), .socket = e->sock, .pairs = pairs, .queue_size = 64,
		.buf_size = buf_size, .features = features, .connect_timeout_ms = 5000,
	};
	struct cvmm_virtio_user_net *vu = NULL;
	int ret = cvmm_virtio_user_net_create(&o, &vu);

	ck_assert_msg(ret == 0, "virtio-user-net connect: %s", strerror(-ret));
	return vu;
}

static int stop(struct env *e)
{
	int st = 0;

	kill(e->pid, SIGTERM);
	ck_assert_int_eq(waitpid(e->pid, &st, 0), e->pid);
	unlink(e->sock);
	unlink(e->log);
	rmdir(e->dir);
	return st;
}

static void stop_clean(struct env *e)
{
	int st = stop(e);

	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "daemon exit status %#x", st);
}

static uint16_t ip_csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Ethernet + IPv4 + UDP (checksum 0) from the guest to the host. */
static size_t udp_frame(uint8_t *f, uint16_t sport, uint16_t dport, const void *pl, size_t n)
{
	uint8_t *ip = f + 14, *udp = ip + 20;
	uint16_t tot = (uint16_t)(20 + 8 + n), ul = (uint16_t)(8 + n), c;
	struct in_addr s, d;

	memcpy(f, tap_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[8] = 64;
	ip[9] = 17;
	inet_pton(AF_INET, GUEST_IP, &s);
	inet_pton(AF_INET, HOST_IP, &d);
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	c = ip_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[2] = (uint8_t)(dport >> 8);
	udp[3] = (uint8_t)dport;
	udp[4] = (uint8_t)(ul >> 8);
	udp[5] = (uint8_t)ul;
	udp[6] = udp[7] = 0;
	memcpy(udp + 8, pl, n);
	return 14 + 28 + n;
}

static int host_sock(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 3 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	inet_pton(AF_INET, HOST_IP, &a.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

static void host_send(int fd, uint16_t dport, const void *pl, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(dport) };

	inet_pton(AF_INET, GUEST_IP, &a.sin_addr);
	ck_assert_int_eq(sendto(fd, pl, n, 0, (struct sockaddr *)&a, sizeof(a)), (ssize_t)n);
}

/* Guest -> host: one datagram from @pair arrives at a host socket intact. */
static void guest_to_host(struct cvmm_virtio_user_net *vu, unsigned int pair, int hs,
			  uint16_t port, const char *msg)
{
	uint8_t f[2048], got[2048];
	size_t n = udp_frame(f, 4000, port, msg, strlen(msg));

	ck_assert_int_eq(cvmm_virtio_user_net_send(vu, pair, NULL, f, (uint32_t)n, false), 0);
	ssize_t r = recv(hs, got, sizeof(got), 0);

	ck_assert_msg(r == (ssize_t)strlen(msg), "host recv %zd (%s)", r, strerror(errno));
	ck_assert(memcmp(got, msg, strlen(msg)) == 0);
	ck_assert_int_ge(cvmm_virtio_user_net_tx_reap(vu, pair, 1000), 0);
}

/* Host -> guest: wait on @pairs receiveqs for the UDP frame to @dport with
 * @pl; other traffic (ARP, ...) is skipped. Returns buffers used. */
static unsigned int host_to_guest_hdr(struct cvmm_virtio_user_net *vu, unsigned int pairs,
				      uint16_t dport, const uint8_t *pl, size_t n,
				      unsigned int *pair_out, struct cvmm_virtio_net_hdr *hout)
{
	static uint8_t f[70000];
	uint64_t end = cvmm_now_ns() + 3000000000ull;

	while (cvmm_now_ns() < end) {
		for (unsigned int p = 0; p < pairs; p++) {
			unsigned int nb = 0;
			struct cvmm_virtio_net_hdr h;
			int len = cvmm_virtio_user_net_recv(vu, p, f, sizeof(f), &h, &nb, 50);

			ck_assert_int_ge(len, 0);
			if (len < 42 || f[12] != 0x08 || f[13] != 0 || f[23] != 17)
				continue;
			if ((f[36] << 8 | f[37]) != dport)
				continue;
			ck_assert_int_eq(len, (int)(42 + n));
			ck_assert(memcmp(f, guest_mac, 6) == 0);
			ck_assert(memcmp(f + 42, pl, n) == 0);
			if (pair_out)
				*pair_out = p;
			if (hout)
				*hout = h;
			return nb;
		}
	}
	ck_abort_msg("frame to port %u never reached the guest", dport);
	return 0;
}

static unsigned int host_to_guest_wait(struct cvmm_virtio_user_net *vu, unsigned int pairs,
				       uint16_t dport, const uint8_t *pl, size_t n,
				       unsigned int *pair_out)
{
	return host_to_guest_hdr(vu, pairs, dport, pl, n, pair_out, NULL);
}

static void fill_all(struct cvmm_virtio_user_net *vu, unsigned int pairs)
{
	for (unsigned int p = 0; p < pairs; p++)
		ck_assert_int_gt(cvmm_virtio_user_net_rx_fill(vu, p), 0);
}

START_TEST(test_tx_udp)
{
	struct env e;
	struct cvmm_virtio_user_net *vu;
	int hs;

	env_init(&e);
	start(&e, NULL);
	vu = connect_vu(&e, 1, 0, 0);
	tap_up();
	hs = host_sock(5000);
	ck_assert(cvmm_virtio_user_net_features(vu) & CVMM_VIRTIO_F_VERSION_1);
	for (int i = 0; i < 20; i++)
		guest_to_host(vu, 0, hs, 5000, i % 2 ? "hello from the guest" : "x");
	close(hs);
	cvmm_virtio_user_net_destroy(vu);
	stop_clean(&e);
}
END_TEST

START_TEST(test_rx_udp)
{
	struct env e;
	struct cvmm_virtio_user_net *vu;
	uint8_t pl[1000];
	int hs;

	env_init(&e);
	start(&e, NULL);
	vu = connect_vu(&e, 1, 2048, 0);
	ck_assert(!(cvmm_virtio_user_net_features(vu) & CVMM_VIRTIO_NET_F_MRG_RXBUF));
	tap_up();
	fill_all(vu, 1);
	hs = host_sock(5000);
	for (unsigned int i = 0; i < sizeof(pl); i++)
		pl[i] = (uint8_t)(i * 7 + 3);
	for (int i = 0; i < 10; i++) {
		host_send(hs, (uint16_t)(6000 + i), pl, sizeof(pl) - (size_t)i * 50);
		ck_assert_uint_eq(host_to_guest_wait(vu, 1, (uint16_t)(6000 + i), pl,
						     sizeof(pl) - (size_t)i * 50, NULL),
				  1);
	}
	close(hs);
	cvmm_virtio_user_net_destroy(vu);
	stop_clean(&e);
}
END_TEST

/* Without MRG_RXBUF a frame larger than a buffer is dropped, and the
 * buffer it was offered serves the next frame. */
START_TEST(test_rx_too_big)
{
	struct env e;
	struct cvmm_virtio_user_net *vu;
	uint8_t pl[1000];
	int hs;

	env_init(&e);
	start(&e, NULL);
	vu = connect_vu(&e, 1, 256, 0);
	tap_up();
	fill_all(vu, 1);
	hs = host_sock(5000);
	memset(pl, 0x77, sizeof(pl));
	for (int i = 0; i < 100; i++)
		host_send(hs, 9800, pl, sizeof(pl));
	host_send(hs, 9801, pl, 100);
	/* 54 + 100 bytes fit a 256-byte buffer; the 1000-byte ones never do. */
	ck_assert_uint_eq(host_to_guest_wait(vu, 1, 9801, pl, 100, NULL), 1);
	guest_to_host(vu, 0, hs, 5000, "still fine");
	close(hs);
	cvmm_virtio_user_net_destroy(vu);
	stop_clean(&e);
}
END_TEST

START_TEST(test_mergeable)
{
	struct env e;
	struct cvmm_virtio_user_net *vu;
	uint8_t pl[1400];
	unsigned int nb;
	int hs;

	env_init(&e);
	start(&e, NULL);
	/* 256-byte buffers: a 1442-byte frame (+ header) needs 6. */
	vu = connect_vu(&e, 1, 256, CVMM_VIRTIO_NET_F_MRG_RXBUF);
	ck_assert(cvmm_virtio_user_net_features(vu) & CVMM_VIRTIO_NET_F_MRG_RXBUF);
	tap_up();
	fill_all(vu, 1);
	hs = host_sock(5000);
	for (unsigned int i = 0; i < sizeof(pl); i++)
		pl[i] = (uint8_t)(i ^ 0x5a);
	for (int i = 0; i < 30; i++) {
		size_t n = 1 + (size_t)i * 48;

		host_send(hs, 7000, pl, n);
		nb = host_to_guest_wait(vu, 1, 7000, pl, n, NULL);
		ck_assert_uint_eq(nb, (12 + 42 + n + 255) / 256);
	}
	/* Guest -> host still works with the 12-byte header. */
	guest_to_host(vu, 0, hs, 5000, "merged");
	close(hs);
	cvmm_virtio_user_net_destroy(vu);
	stop_clean(&e);
}
END_TEST

START_TEST(test_two_pairs)
{
	struct env e;
	struct cvmm_virtio_user_net *vu;
	unsigned int seen[2] = { 0, 0 }, p;
	uint8_t cfg[12];
	int hs;

	env_init(&e);
	start(&e, "--queues", "2", "--mac", "52:54:00:00:00:02", NULL);
	vu = connect_vu(&e, 2, 2048, CVMM_VIRTIO_NET_F_MAC);
	ck_assert(cvmm_virtio_user_net_features(vu) & CVMM_VIRTIO_NET_F_MQ);
	ck_assert(cvmm_virtio_user_net_features(vu) & CVMM_VIRTIO_NET_F_MAC);
	ck_assert_int_eq(cvmm_virtio_user_net_config(vu, 0, cfg, sizeof(cfg)), 0);
	ck_assert(memcmp(cfg, guest_mac, 6) == 0);
	ck_assert_uint_eq(cfg[8] | cfg[9] << 8, 2);
	tap_up();
	fill_all(vu, 2);
	hs = host_sock(5000);
	guest_to_host(vu, 0, hs, 5000, "pair 0");
	guest_to_host(vu, 1, hs, 5000, "pair 1");
	/* Many flows: the TAP spreads them over its queues; all must arrive. */
	for (uint16_t i = 0; i < 32; i++) {
		uint8_t pl[64];
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(20000 + i) };

		inet_pton(AF_INET, HOST_IP, &a.sin_addr);
		ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
		memset(pl, i, sizeof(pl));
		host_send(s, (uint16_t)(8000 + i), pl, sizeof(pl));
		host_to_guest_wait(vu, 2, (uint16_t)(8000 + i), pl, sizeof(pl), &p);
		seen[p]++;
		close(s);
	}
	ck_assert_uint_eq(seen[0] + seen[1], 32);
	close(hs);
	cvmm_virtio_user_net_destroy(vu);
	stop_clean(&e);
}
END_TEST

static unsigned long cpu_ticks(pid_t pid);

/* Whether the daemon's stderr so far contains @what. */
static bool log_has(struct env *e, const char *what)
{
	char buf[4096];
	int fd = open(e->log, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return strstr(buf, what) != NULL;
}

static bool alive(pid_t pid)
{
	int st;

	return waitpid(pid, &st, WNOHANG) == 0;
}

START_TEST(test_hostile_tx)
{
	struct env e;
	struct cvmm_virtio_user_net *vu;
	struct cvmm_virtio_net_hdr h;
	uint8_t f[256];
	size_t n;
	int hs;

	env_init(&e);
	start(&e, NULL);
	vu = connect_vu(&e, 1, 0, CVMM_VIRTIO_NET_F_CSUM);
	tap_up();
	hs = host_sock(5000);
	/* An inconsistent header (GSO never negotiated) drops only its frame. */
	memset(&h, 0, sizeof(h));
	h.gso_type = CVMM_VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 100;
	h.flags = CVMM_VIRTIO_NET_HDR_F_NEEDS_CSUM;
	n = udp_frame(f, 1, 5000, "bad-gso", 7);
	ck_assert_int_eq(cvmm_virtio_user_net_send(vu, 0, &h, f, (uint32_t)n, false), 0);
	/* Checksum offset beyond the frame: dropped too. */
	memset(&h, 0, sizeof(h));
	h.flags = CVMM_VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = 2000;
	ck_assert_int_eq(cvmm_virtio_user_net_send(vu, 0, &h, f, (uint32_t)n, false), 0);
	guest_to_host(vu, 0, hs, 5000, "good after bad headers");
	/* A descriptor outside guest memory breaks the queue, not the daemon. */
	struct cvmm_virtq_buf b = { cvmm_virtio_user_net_mem_size(vu) + 4096, 100 };
	ck_assert_int_eq(cvmm_virtio_user_net_send_raw(vu, 0, &b, 1), 0);
	usleep(200000);
	ck_assert(alive(e.pid));
	ck_assert(log_has(&e, "queue 1 broken: transmit chain"));
	ck_assert(!log_has(&e, "queue 0 broken"));
	cvmm_virtio_user_net_destroy(vu);

	/* A new connection is served; then a chain shorter than the header. */
	vu = connect_vu(&e, 1, 0, 0);
	guest_to_host(vu, 0, hs, 5000, "new connection");
	struct cvmm_virtq_buf s = { 0, 4 };
	ck_assert_int_eq(cvmm_virtio_user_net_send_raw(vu, 0, &s, 1), 0);
	usleep(200000);
	ck_assert(alive(e.pid));
	ck_assert(log_has(&e, "Message too long"));
	cvmm_virtio_user_net_destroy(vu);
	vu = connect_vu(&e, 1, 0, 0);
	guest_to_host(vu, 0, hs, 5000, "third connection");
	cvmm_virtio_user_net_destroy(vu);
	close(hs);
	ck_assert(alive(e.pid));
	stop_clean(&e);
}
END_TEST

/* A receive buffer without room for the header breaks the receiveq only:
 * no spinning on the readable TAP, transmit still works, and the next
 * connection receives again. */
START_TEST(test_hostile_rx)
{
	struct env e;
	struct cvmm_virtio_user_net *vu;
	struct cvmm_virtq_buf b = { 0, 4 };
	uint8_t pl[64];
	unsigned long t0, t1;
	int hs;

	env_init(&e);
	start(&e, NULL);
	vu = connect_vu(&e, 1, 2048, 0);
	tap_up();
	hs = host_sock(5000);
	ck_assert_int_eq(cvmm_virtio_user_net_rx_add_raw(vu, 0, &b, 1), 0);
	memset(pl, 0x42, sizeof(pl));
	for (int i = 0; i < 20; i++)
		host_send(hs, 9600, pl, sizeof(pl));
	usleep(200000);
	ck_assert(log_has(&e, "queue 0 broken: receive chain"));
	t0 = cpu_ticks(e.pid);
	usleep(500000);
	t1 = cpu_ticks(e.pid);
	ck_assert_msg(t1 - t0 < 10, "broken receiveq burnt %lu ticks", t1 - t0);
	guest_to_host(vu, 0, hs, 5000, "tx after rx broke");
	cvmm_virtio_user_net_destroy(vu);
	vu = connect_vu(&e, 1, 2048, 0);
	fill_all(vu, 1);
	host_send(hs, 9601, pl, sizeof(pl));
	host_to_guest_wait(vu, 1, 9601, pl, sizeof(pl), NULL);
	close(hs);
	cvmm_virtio_user_net_destroy(vu);
	stop_clean(&e);
}
END_TEST

/* A 2-pair daemon driven with 1 pair: every flow reaches pair 0. */
START_TEST(test_fewer_pairs)
{
	struct env e;
	struct cvmm_virtio_user_net *vu;
	int hs;

	env_init(&e);
	start(&e, "--queues", "4", NULL);
	vu = connect_vu(&e, 1, 2048, 0);
	tap_up();
	fill_all(vu, 1);
	hs = host_sock(5000);
	for (uint16_t i = 0; i < 16; i++) {
		uint8_t pl[32];
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(21000 + i) };

		inet_pton(AF_INET, HOST_IP, &a.sin_addr);
		ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
		memset(pl, i, sizeof(pl));
		host_send(s, (uint16_t)(8100 + i), pl, sizeof(pl));
		host_to_guest_wait(vu, 1, (uint16_t)(8100 + i), pl, sizeof(pl), NULL);
		close(s);
	}
	guest_to_host(vu, 0, hs, 5000, "one of four pairs");
	close(hs);
	cvmm_virtio_user_net_destroy(vu);
	stop_clean(&e);
}
END_TEST

/* GUEST_CSUM is applied to the TAP (TUNSETOFFLOAD) per connection: with it
 * the host's UDP checksums arrive unfinished (NEEDS_CSUM, csum_start at the
 * UDP header); without it the kernel finishes them (flags 0). */
START_TEST(test_offload_csum)
{
	struct env e;
	struct cvmm_virtio_user_net *vu;
	struct cvmm_virtio_net_hdr h;
	uint8_t pl[200];
	int hs;

	env_init(&e);
	start(&e, NULL);
	vu = connect_vu(&e, 1, 2048, CVMM_VIRTIO_NET_F_GUEST_CSUM);
	ck_assert(cvmm_virtio_user_net_features(vu) & CVMM_VIRTIO_NET_F_GUEST_CSUM);
	tap_up();
	fill_all(vu, 1);
	hs = host_sock(5000);
	memset(pl, 0x3c, sizeof(pl));
	host_send(hs, 9700, pl, sizeof(pl));
	host_to_guest_hdr(vu, 1, 9700, pl, sizeof(pl), NULL, &h);
	ck_assert_uint_eq(h.flags, CVMM_VIRTIO_NET_HDR_F_NEEDS_CSUM);
	ck_assert_uint_eq(h.csum_start, 14 + 20);
	ck_assert_uint_eq(h.csum_offset, 6);
	ck_assert_uint_eq(h.gso_type, CVMM_VIRTIO_NET_HDR_GSO_NONE);
	cvmm_virtio_user_net_destroy(vu);

	vu = connect_vu(&e, 1, 2048, 0);
	fill_all(vu, 1);
	host_send(hs, 9701, pl, sizeof(pl));
	host_to_guest_hdr(vu, 1, 9701, pl, sizeof(pl), NULL, &h);
	ck_assert_uint_eq(h.flags, 0);
	close(hs);
	cvmm_virtio_user_net_destroy(vu);
	stop_clean(&e);
}
END_TEST

START_TEST(test_reconnect)
{
	struct env e;
	struct cvmm_virtio_user_net *vu;
	uint8_t pl[300];
	int hs;

	env_init(&e);
	start(&e, NULL);
	vu = connect_vu(&e, 1, 2048, 0);
	tap_up();
	fill_all(vu, 1);
	hs = host_sock(5000);
	memset(pl, 0xab, sizeof(pl));
	for (int round = 0; round < 3; round++) {
		guest_to_host(vu, 0, hs, 5000, "before/after reconnect");
		host_send(hs, (uint16_t)(9000 + round), pl, sizeof(pl));
		host_to_guest_wait(vu, 1, (uint16_t)(9000 + round), pl, sizeof(pl), NULL);
		ck_assert_int_eq(cvmm_virtio_user_net_reconnect(vu, 5000), 0);
	}
	guest_to_host(vu, 0, hs, 5000, "final");
	close(hs);
	cvmm_virtio_user_net_destroy(vu);
	stop_clean(&e);
}
END_TEST

static unsigned long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	/* after ")": state(3) ... utime(14) stime(15) */
	ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
				&st),
			 2);
	return ut + st;
}

START_TEST(test_no_rx_buffers_idle)
{
	struct env e;
	struct cvmm_virtio_user_net *vu;
	uint8_t pl[100];
	unsigned long t0, t1;
	int hs;

	env_init(&e);
	start(&e, NULL);
	vu = connect_vu(&e, 1, 2048, 0);
	tap_up();
	hs = host_sock(5000);
	memset(pl, 0x11, sizeof(pl));
	/* Frames pile up in the TAP while the guest posts no buffers. */
	for (int i = 0; i < 50; i++)
		host_send(hs, 9500, pl, sizeof(pl));
	usleep(100000);
	t0 = cpu_ticks(e.pid);
	usleep(1000000);
	t1 = cpu_ticks(e.pid);
	ck_assert_msg(t1 - t0 < 20, "daemon burnt %lu ticks in 1 s without RX buffers", t1 - t0);
	/* Buffers arrive: the kick resumes the waiting frames. */
	fill_all(vu, 1);
	host_to_guest_wait(vu, 1, 9500, pl, sizeof(pl), NULL);
	close(hs);
	cvmm_virtio_user_net_destroy(vu);
	stop_clean(&e);
}
END_TEST

/* Bad flags: exit 2 with exactly one line on stderr. */
static void bad_flags(const char *a1, const char *a2, const char *a3, const char *a4,
		      const char *want)
{
	struct env e;
	char *argv[8] = { (char *)daemon_bin() }, buf[512];
	unsigned int n = 1;
	int st, fd;
	ssize_t len;

	env_init(&e);
	for (const char *const *a = (const char *const[]){ a1, a2, a3, a4, NULL }; *a; a++)
		argv[n++] = (char *)*a;
	argv[n] = NULL;
	e.pid = spawn(&e, argv);
	ck_assert_int_eq(waitpid(e.pid, &st, 0), e.pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	fd = open(e.log, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_gt(len, 0);
	buf[len] = 0;
	ck_assert_msg(strchr(buf, '\n') == buf + len - 1, "not one line: %s", buf);
	ck_assert_msg(strstr(buf, want), "'%s' lacks '%s'", buf, want);
	unlink(e.log);
	rmdir(e.dir);
}

START_TEST(test_bad_flags)
{
	bad_flags("--socket", "/tmp/x.sock", NULL, NULL, "--tap");
	bad_flags("--socket", "/tmp/x.sock", "--tap", "", "--tap");
	bad_flags("--tap", "t0", "--queues", "0", "--queues");
	bad_flags("--tap", "t0", "--queues", "8", "--queues");
	bad_flags("--tap", "t0", "--queues", "2x", "--queues");
	bad_flags("--tap", "t0", "--mac", "52:54:00:00:00", "--mac");
	bad_flags("--tap", "t0", "--mac", "01:00:5e:00:00:01", "--mac");
	bad_flags("--tap", "t0", "--mac", "52:54:00:00:00:0g", "--mac");
	bad_flags("--tap", "t0", "--bogus", NULL, "bad option");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("vhost-user-net");
	TCase *tc = tcase_create("tap");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bad_flags);
	tcase_add_test(tc, test_tx_udp);
	tcase_add_test(tc, test_rx_udp);
	tcase_add_test(tc, test_rx_too_big);
	tcase_add_test(tc, test_mergeable);
	tcase_add_test(tc, test_two_pairs);
	tcase_add_test(tc, test_hostile_tx);
	tcase_add_test(tc, test_hostile_rx);
	tcase_add_test(tc, test_fewer_pairs);
	tcase_add_test(tc, test_offload_csum);
	tcase_add_test(tc, test_reconnect);
	tcase_add_test(tc, test_no_rx_buffers_idle);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	Suite *s[] = { suite(), NULL };

	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
		printf("1..0 # SKIP needs root and /dev/net/tun\n");
		return 0;
	}
	/* Everything (daemons, TAPs, sockets) lives in a private namespace. */
	if (unshare(CLONE_NEWNET) != 0) {
		printf("1..0 # SKIP cannot create a network namespace: %s\n", strerror(errno));
		return 0;
	}
	if (run("ip link set lo up") != 0) {
		printf("1..0 # SKIP the ip tool is missing\n");
		return 0;
	}
	return cvmm_test_run(s);
}
