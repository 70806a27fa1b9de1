/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net through the real virtio-mmio transport on real guest memory,
 * the guest played by virtio-queue's driver helper, the host side a real
 * TAP device. The test process moves into its own network namespace first,
 * so the TAP, its 192.0.2.0/30 (TEST-NET-1) address and every frame stay
 * private to this run (parallel runs do not collide, nothing leaves).
 * Without root or /dev/net/tun only the header checks run.
 */
#include <arpa/inet.h>
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices/net.h>

#include "cvmm-test.h"
#include "vd-fixture.h"

#define HOST_IP "192.0.2.1"
#define GUEST_IP "192.0.2.2"
#define NQMAX 8

static const uint8_t guest_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

struct nt {
	struct vdf f;
	struct cvmm_net *net;
	struct cvmm_virtq_driver *drv[NQMAX];
	unsigned int nq;
	char ifname[IFNAMSIZ];
	uint8_t tap_mac[6];
	int fds[CVMM_NET_MAX_PAIRS];
	unsigned int nfds;
	uint64_t features;
};

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

/* A TAP with @pairs queues, up, 192.0.2.1/30, the guest's MAC as a static
 * neighbour (so host packets to the guest need no ARP), IPv6 off (no
 * router solicitations in the receive queue). */
static void tap_up(struct nt *t, unsigned int pairs)
{
	char path[128];
	struct ifreq ifr;
	int s, fd;

	t->nfds = pairs;
	ck_assert_int_eq(cvmm_net_tap_open("cvnet%d", pairs, t->fds, t->ifname), 0);
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", t->ifname);
	fd = open(path, O_WRONLY);
	if (fd >= 0) {
		ck_assert_int_eq(write(fd, "1", 1), 1);
		close(fd);
	}
	sh("ip link set dev %s up && ip addr add " HOST_IP "/30 dev %s && "
	   "ip neigh replace " GUEST_IP " lladdr 02:00:00:00:00:02 dev %s nud permanent",
	   t->ifname, t->ifname, t->ifname);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s, 0);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->ifname, IFNAMSIZ);
	ck_assert_int_eq(ioctl(s, SIOCGIFHWADDR, &ifr), 0);
	memcpy(t->tap_mac, ifr.ifr_hwaddr.sa_data, 6);
	close(s);
}

static void nt_create_rl(struct nt *t, unsigned int pairs, uint16_t qsize,
			 const struct cvmm_rate_limiter_opts *tx_rate,
			 const struct cvmm_rate_limiter_opts *rx_rate)
{
	struct cvmm_net_opts o = {
		.sz = sizeof(o), .num_queue_pairs = (uint16_t)pairs, .queue_size = qsize,
		.has_mac = true, .tx_rate = tx_rate, .rx_rate = rx_rate,
	};

	memset(t, 0, sizeof(*t));
	tap_up(t, pairs);
	vdf_init(&t->f, 32ull << 20);
	o.em = t->f.em;
	o.tap_fds = t->fds;
	memcpy(o.mac, guest_mac, 6);
	ck_assert_int_eq(cvmm_net_create(&o, &t->net), 0);
	vdf_attach(&t->f, cvmm_net_device(t->net));
	vdf_start(&t->f);
}

static void nt_create(struct nt *t, unsigned int pairs, uint16_t qsize,
		      const struct cvmm_rate_limiter_opts *tx_rate)
{
	nt_create_rl(t, pairs, qsize, tx_rate, NULL);
}

static void nt_destroy(struct nt *t)
{
	vdf_detach(&t->f);
	for (unsigned int i = 0; i < NQMAX; i++)
		cvmm_virtq_driver_destroy(t->drv[i]);
	cvmm_net_destroy(t->net);
	vdf_fini(&t->f);
	for (unsigned int i = 0; i < t->nfds; i++)
		close(t->fds[i]);
}

/* The driver's initialisation through the registers, for any queue count. */
static void nt_bring_up(struct nt *t, uint64_t want, unsigned int nq, uint16_t size)
{
	struct vdf *f = &t->f;
	struct cvmm_net_stats st;
	uint64_t offered, feat, end;
	uint32_t before;

	vdf_wr(f, CVMM_VIRTIO_MMIO_STATUS, 0);
	vdf_wait_settled(f);
	cvmm_net_get_stats(t->net, &st);
	before = st.activations;
	vdf_wr(f, CVMM_VIRTIO_MMIO_STATUS, CVMM_VIRTIO_S_ACKNOWLEDGE);
	vdf_wr(f, CVMM_VIRTIO_MMIO_STATUS, CVMM_VIRTIO_S_ACKNOWLEDGE | CVMM_VIRTIO_S_DRIVER);
	vdf_wr(f, CVMM_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	offered = vdf_rd(f, CVMM_VIRTIO_MMIO_DEVICE_FEATURES);
	vdf_wr(f, CVMM_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	offered |= (uint64_t)vdf_rd(f, CVMM_VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	feat = (offered & want) | CVMM_VIRTIO_F_VERSION_1;
	t->features = feat;
	vdf_wr(f, CVMM_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vdf_wr(f, CVMM_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)feat);
	vdf_wr(f, CVMM_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdf_wr(f, CVMM_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(feat >> 32));
	vdf_wr(f, CVMM_VIRTIO_MMIO_STATUS, CVMM_VIRTIO_S_ACKNOWLEDGE |
	       CVMM_VIRTIO_S_DRIVER | CVMM_VIRTIO_S_FEATURES_OK);
	t->nq = nq;
	for (unsigned int q = 0; q < nq; q++) {
		uint64_t base = 0x10000ull + q * 0x10000ull;
		struct cvmm_virtq_driver_opts d = {
			.sz = sizeof(d), .mem = f->mem, .size = size, .features = feat,
			.desc_gpa = base, .avail_gpa = base + 0x4000, .used_gpa = base + 0x8000,
		};

		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_SEL, q);
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_NUM, size);
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)d.desc_gpa);
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)d.avail_gpa);
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)d.used_gpa);
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_READY, 1);
		cvmm_virtq_driver_destroy(t->drv[q]);
		t->drv[q] = NULL;
		ck_assert_int_eq(cvmm_virtq_driver_create(&d, &t->drv[q]), 0);
	}
	vdf_wr(f, CVMM_VIRTIO_MMIO_STATUS, CVMM_VIRTIO_S_ACKNOWLEDGE |
	       CVMM_VIRTIO_S_DRIVER | CVMM_VIRTIO_S_FEATURES_OK | CVMM_VIRTIO_S_DRIVER_OK);
	vdf_wait_settled(f);
	/* settled() can turn true while activate() still runs on the device
	 * thread: wait for its outcome (activated, or NEEDS_RESET). */
	end = cvmm_now_ns() + 5000000000ull;
	for (;;) {
		cvmm_net_get_stats(t->net, &st);
		if (st.activations != before ||
		    (vdf_rd(f, CVMM_VIRTIO_MMIO_STATUS) & CVMM_VIRTIO_S_NEEDS_RESET))
			break;
		ck_assert_msg(cvmm_now_ns() < end, "device never activated");
		usleep(200);
	}
}

static uint32_t status(struct nt *t)
{
	return vdf_rd(&t->f, CVMM_VIRTIO_MMIO_STATUS);
}

static void kick(struct nt *t, unsigned int q)
{
	if (cvmm_virtq_driver_kick_needed(t->drv[q]))
		vdf_wr(&t->f, CVMM_VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

static int wait_used(struct nt *t, unsigned int q, uint64_t *tok, uint32_t *len, int ms)
{
	uint64_t end = cvmm_now_ns() + (uint64_t)ms * 1000000ull;
	int r;

	for (;;) {
		r = cvmm_virtq_driver_get_used(t->drv[q], tok, len);
		ck_assert_int_ge(r, 0);
		if (r == 1 || cvmm_now_ns() >= end)
			return r;
		usleep(200);
	}
}

static bool wait_status(struct nt *t, uint32_t bit, int ms)
{
	uint64_t end = cvmm_now_ns() + (uint64_t)ms * 1000000ull;

	while (!(status(t) & bit)) {
		if (cvmm_now_ns() >= end)
			return false;
		usleep(500);
	}
	return true;
}

static uint16_t ip_csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Ethernet + IPv4 + UDP from the guest to the host, @plen payload bytes of
 * a pattern seeded by @seed. @return the frame length. */
static size_t udp_frame(struct nt *t, uint8_t *fr, uint16_t dport, size_t plen, uint8_t seed)
{
	uint8_t *ip = fr + 14, *udp = ip + 20;
	uint32_t src = inet_addr(GUEST_IP), dst = inet_addr(HOST_IP);
	uint16_t tot = (uint16_t)(20 + 8 + plen);

	memcpy(fr, t->tap_mac, 6);
	memcpy(fr + 6, guest_mac, 6);
	fr[12] = 0x08, fr[13] = 0x00;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
	ip[8] = 64, ip[9] = 17;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	uint16_t c = ip_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
	udp[0] = 0x30, udp[1] = 0x39; /* source port 12345 */
	udp[2] = (uint8_t)(dport >> 8), udp[3] = (uint8_t)dport;
	udp[4] = (uint8_t)((8 + plen) >> 8), udp[5] = (uint8_t)(8 + plen);
	udp[6] = udp[7] = 0; /* no checksum (IPv4 allows it) */
	for (size_t i = 0; i < plen; i++)
		udp[8 + i] = (uint8_t)(seed + i * 7);
	return 14 + 20 + 8 + plen;
}

static int udp_sock(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(s, 0);
	a.sin_addr.s_addr = inet_addr(HOST_IP);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	return s;
}

static ssize_t recv_timeout(int s, void *buf, size_t len, int ms)
{
	struct pollfd p = { .fd = s, .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return -ETIMEDOUT;
	return recv(s, buf, len, MSG_DONTWAIT);
}

/* Put a frame (header + data) on transmitq @q as @nseg readable parts. */
static void guest_send(struct nt *t, unsigned int q, const struct cvmm_virtio_net_hdr *h,
		       const uint8_t *fr, size_t len)
{
	uint64_t g = vdf_alloc(&t->f, CVMM_NET_HDR_LEN + len, 64);
	struct cvmm_virtq_buf b[2] = {
		{ g, CVMM_NET_HDR_LEN }, { g + CVMM_NET_HDR_LEN, (uint32_t)len },
	};
	struct cvmm_virtio_net_hdr z = { 0 };

	memcpy(vdf_host(&t->f, g), h ? h : &z, CVMM_NET_HDR_LEN);
	memcpy(vdf_host(&t->f, g + CVMM_NET_HDR_LEN), fr, len);
	ck_assert_int_eq(cvmm_virtq_driver_add(t->drv[q], b, 2, NULL, 0, false, g), 0);
	kick(t, q);
}

static bool have_tap(void)
{
	return geteuid() == 0 && access("/dev/net/tun", R_OK | W_OK) == 0;
}

/* ---- header checks (no TAP needed) ---------------------------------- */

START_TEST(hdr_check)
{
	const uint64_t all = CVMM_VIRTIO_NET_F_CSUM | CVMM_VIRTIO_NET_F_HOST_TSO4 |
			     CVMM_VIRTIO_NET_F_HOST_TSO6 | CVMM_VIRTIO_NET_F_HOST_ECN;
	struct cvmm_virtio_net_hdr h = { 0 };

	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 60, 0), 0);
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 0, 0), -EMSGSIZE);
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, CVMM_NET_MAX_FRAME, 0), 0);
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, CVMM_NET_MAX_FRAME + 1, 0), -EMSGSIZE);
	h.flags = CVMM_VIRTIO_NET_HDR_F_DATA_VALID;
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 60, all), -EINVAL);
	h.flags = 0x80;
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 60, all), -EINVAL);
	/* partial checksum: needs CSUM, field inside the frame */
	h.flags = CVMM_VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = htole16(34);
	h.csum_offset = htole16(6);
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 60, 0), -EINVAL);
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 60, all), 0);
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 42, all), 0);
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 41, all), -EINVAL);
	h.csum_start = htole16(0xffff);
	h.csum_offset = htole16(0xffff);
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, CVMM_NET_MAX_FRAME, all), -EINVAL);
	/* GSO: negotiated type, size, NEEDS_CSUM, hdr_len in the frame */
	h.csum_start = htole16(34);
	h.csum_offset = htole16(16);
	h.gso_type = CVMM_VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = htole16(1448);
	h.hdr_len = htole16(66);
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 3000, all), 0);
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 3000, CVMM_VIRTIO_NET_F_CSUM), -EINVAL);
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 60, all), -EINVAL); /* hdr_len */
	h.gso_size = 0;
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 3000, all), -EINVAL);
	h.gso_size = htole16(1448);
	h.flags = 0;
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 3000, all), -EINVAL);
	h.flags = CVMM_VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = CVMM_VIRTIO_NET_HDR_GSO_TCPV6 | CVMM_VIRTIO_NET_HDR_GSO_ECN;
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 3000, all), 0);
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 3000, all & ~CVMM_VIRTIO_NET_F_HOST_ECN),
			 -EINVAL);
	h.gso_type = CVMM_VIRTIO_NET_HDR_GSO_UDP;
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 3000, all), -EINVAL);
	h.gso_type = 7;
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 3000, all), -EINVAL);
	h.gso_type = CVMM_VIRTIO_NET_HDR_GSO_ECN; /* ECN without a GSO type */
	ck_assert_int_eq(cvmm_net_tx_hdr_check(&h, 3000, all), -EINVAL);
}
END_TEST

START_TEST(create_errors)
{
	struct cvmm_event_manager *em;
	struct cvmm_net_opts o = { .sz = sizeof(o) };
	struct cvmm_net *n = NULL;
	int fds[2] = { -1, -1 }, pipefd[2];

	ck_assert_int_eq(cvmm_event_manager_create(NULL, &em), 0);
	ck_assert_int_eq(cvmm_net_create(&o, &n), -EINVAL); /* no em */
	o.em = em;
	ck_assert_int_eq(cvmm_net_create(&o, &n), -EINVAL); /* no TAP */
	o.tap_name = "x";
	o.tap_fds = fds;
	ck_assert_int_eq(cvmm_net_create(&o, &n), -EINVAL); /* both */
	o.tap_name = NULL;
	o.num_queue_pairs = CVMM_NET_MAX_PAIRS + 1;
	ck_assert_int_eq(cvmm_net_create(&o, &n), -EINVAL);
	o.num_queue_pairs = 1;
	o.has_mac = true;
	o.mac[0] = 0x01; /* multicast */
	ck_assert_int_eq(cvmm_net_create(&o, &n), -EINVAL);
	o.has_mac = false;
	ck_assert_int_eq(pipe(pipefd), 0);
	o.tap_fds = pipefd; /* not a TAP */
	ck_assert_int_eq(cvmm_net_create(&o, &n), -EINVAL);
	o.sz = 8;
	ck_assert_int_eq(cvmm_net_create(&o, &n), -EINVAL);
	ck_assert_ptr_null(n);
	ck_assert_int_eq(cvmm_net_tap_open("x", 0, fds, NULL), -EINVAL);
	ck_assert_int_eq(cvmm_net_tap_open("a-name-far-too-long-for-ifnamsiz", 1, fds, NULL),
			 -EINVAL);
	cvmm_net_destroy(NULL);
	close(pipefd[0]);
	close(pipefd[1]);
	cvmm_event_manager_destroy(em);
}
END_TEST

/* ---- TAP tests -------------------------------------------------------- */

START_TEST(guest_to_host)
{
	struct nt t;
	uint8_t fr[2048], got[2048];
	struct cvmm_net_stats st;
	uint64_t tok;
	uint32_t len;
	int s;

	nt_create(&t, 1, 256, NULL);
	nt_bring_up(&t, ~0ull, 2, 256);
	s = udp_sock(4000);
	for (int i = 0; i < 3; i++) {
		size_t plen = i == 0 ? 18 : 1400, flen = udp_frame(&t, fr, 4000, plen, (uint8_t)i);

		guest_send(&t, 1, NULL, fr, flen);
		ck_assert_int_eq(wait_used(&t, 1, &tok, &len, 2000), 1);
		ck_assert_int_eq(recv_timeout(s, got, sizeof(got), 2000), (ssize_t)plen);
		ck_assert_mem_eq(got, fr + 42, plen);
	}
	cvmm_net_get_stats(t.net, &st);
	ck_assert_uint_eq(st.tx_frames, 3);
	ck_assert_uint_eq(st.tx_dropped, 0);
	ck_assert_uint_eq(status(&t) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
	close(s);
	nt_destroy(&t);
}
END_TEST

/* Host sends UDP to the guest's address; it must come out of an RX chain.
 * @return payload bytes placed in @pl (other frames are skipped). */
static size_t guest_recv_udp(struct nt *t, uint16_t dport, uint8_t *pl, size_t max,
			     uint32_t bufsz, unsigned int *nbufs_out)
{
	uint64_t end = cvmm_now_ns() + 3000000000ull;

	for (;;) {
		uint8_t frame[70000];
		size_t flen = 0;
		unsigned int nb = 0, want = 1;
		uint64_t tok;
		uint32_t len;

		do {
			ck_assert_msg(cvmm_now_ns() < end, "no frame in the RX queue");
			if (wait_used(t, 0, &tok, &len, 3000) != 1)
				continue;
			ck_assert_uint_le(len, bufsz);
			ck_assert_uint_le(flen + len, sizeof(frame));
			memcpy(frame + flen, vdf_host(&t->f, tok), len);
			if (nb == 0) {
				ck_assert_uint_ge(len, CVMM_NET_HDR_LEN);
				want = frame[10] | frame[11] << 8;
				ck_assert_uint_ge(want, 1);
			}
			flen += len;
			nb++;
			/* the buffer goes straight back to the guest's ring */
			{
				struct cvmm_virtq_buf b = { tok, bufsz };

				ck_assert_int_eq(cvmm_virtq_driver_add(t->drv[0], NULL, 0, &b, 1,
								       false, tok), 0);
				kick(t, 0);
			}
		} while (nb < want);
		uint8_t *eth = frame + CVMM_NET_HDR_LEN;
		if (flen >= CVMM_NET_HDR_LEN + 42 && eth[12] == 0x08 && eth[13] == 0 &&
		    eth[14 + 9] == 17 && (eth[36] << 8 | eth[37]) == dport) {
			size_t plen = (size_t)(eth[38] << 8 | eth[39]) - 8;

			ck_assert_uint_eq(flen, CVMM_NET_HDR_LEN + 42 + plen);
			ck_assert_mem_eq(eth, guest_mac, 6);
			ck_assert_uint_le(plen, max);
			memcpy(pl, eth + 42, plen);
			if (nbufs_out)
				*nbufs_out = nb;
			return plen;
		}
	}
}

static void post_rx(struct nt *t, unsigned int q, unsigned int n, uint32_t bufsz)
{
	for (unsigned int i = 0; i < n; i++) {
		uint64_t g = vdf_alloc(&t->f, bufsz, 64);
		struct cvmm_virtq_buf b = { g, bufsz };

		ck_assert_int_eq(cvmm_virtq_driver_add(t->drv[q], NULL, 0, &b, 1, false, g), 0);
	}
	kick(t, q);
}

static void host_send(uint16_t dport, const uint8_t *p, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(dport) };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(s, 0);
	a.sin_addr.s_addr = inet_addr(GUEST_IP);
	ck_assert_int_eq(sendto(s, p, len, 0, (struct sockaddr *)&a, sizeof(a)), (ssize_t)len);
	close(s);
}

START_TEST(host_to_guest)
{
	/* _i: 0 big buffers without MRG_RXBUF, 1 small mergeable buffers */
	uint32_t bufsz = _i ? 256 : 2048;
	uint8_t p[1400], got[2000];
	struct cvmm_net_stats st;
	unsigned int nb = 0;
	struct nt t;

	nt_create(&t, 1, 256, NULL);
	nt_bring_up(&t, _i ? CVMM_VIRTIO_NET_F_MRG_RXBUF : 0, 2, 256);
	ck_assert_uint_eq(!!(t.features & CVMM_VIRTIO_NET_F_MRG_RXBUF), _i);
	post_rx(&t, 0, 64, bufsz);
	for (size_t i = 0; i < sizeof(p); i++)
		p[i] = (uint8_t)(i * 13 + 1);
	host_send(5000, p, sizeof(p));
	ck_assert_uint_eq(guest_recv_udp(&t, 5000, got, sizeof(got), bufsz, &nb), sizeof(p));
	ck_assert_mem_eq(got, p, sizeof(p));
	/* 12 + 1442 bytes: one buffer, or ceil(1454 / 256) = 6 merged */
	ck_assert_uint_eq(nb, _i ? 6 : 1);
	host_send(5000, p, 10);
	ck_assert_uint_eq(guest_recv_udp(&t, 5000, got, sizeof(got), bufsz, &nb), 10);
	ck_assert_mem_eq(got, p, 10);
	ck_assert_uint_eq(nb, 1);
	cvmm_net_get_stats(t.net, &st);
	ck_assert_uint_ge(st.rx_frames, 2);
	ck_assert_uint_eq(status(&t) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
	nt_destroy(&t);
}
END_TEST

/* With no receive buffers the frame waits in the TAP queue, and arrives
 * once the guest posts buffers (the device stops polling meanwhile). */
START_TEST(rx_waits_for_buffers)
{
	uint8_t p[64] = "late", got[128];
	struct nt t;

	nt_create(&t, 1, 256, NULL);
	nt_bring_up(&t, CVMM_VIRTIO_NET_F_MRG_RXBUF, 2, 256);
	host_send(5001, p, sizeof(p));
	usleep(100000);
	post_rx(&t, 0, 8, 1024);
	ck_assert_uint_eq(guest_recv_udp(&t, 5001, got, sizeof(got), 1024, NULL), sizeof(p));
	ck_assert_mem_eq(got, p, sizeof(p));
	/* a frame that needs 3 buffers while only 1 is posted: it waits */
	nt_destroy(&t);
	nt_create(&t, 1, 256, NULL);
	nt_bring_up(&t, CVMM_VIRTIO_NET_F_MRG_RXBUF, 2, 256);
	{
		uint8_t big[1200], rb[1300];

		memset(big, 0x5a, sizeof(big));
		post_rx(&t, 0, 1, 512);
		host_send(5002, big, sizeof(big));
		usleep(100000);
		post_rx(&t, 0, 16, 512);
		ck_assert_uint_eq(guest_recv_udp(&t, 5002, rb, sizeof(rb), 512, NULL),
				  sizeof(big));
		ck_assert_mem_eq(rb, big, sizeof(big));
	}
	nt_destroy(&t);
}
END_TEST

/* Without MRG_RXBUF a frame larger than the posted buffer is dropped (the
 * guest asked for small buffers), the buffer is reused for the next frame. */
START_TEST(rx_too_big_non_mergeable)
{
	uint8_t p[1400], got[300];
	struct cvmm_net_stats st;
	struct nt t;

	nt_create(&t, 1, 256, NULL);
	nt_bring_up(&t, 0, 2, 256);
	post_rx(&t, 0, 4, 256);
	memset(p, 0x77, sizeof(p));
	host_send(5020, p, sizeof(p));
	host_send(5021, p, 100);
	ck_assert_uint_eq(guest_recv_udp(&t, 5021, got, sizeof(got), 256, NULL), 100);
	cvmm_net_get_stats(t.net, &st);
	ck_assert_uint_ge(st.rx_dropped, 1);
	ck_assert_uint_eq(status(&t) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
	nt_destroy(&t);
}
END_TEST

static int ethtool_get(const char *ifname, uint32_t cmd)
{
	struct ethtool_value ev = { .cmd = cmd };
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, IFNAMSIZ);
	ifr.ifr_data = (void *)&ev;
	r = ioctl(s, SIOCETHTOOL, &ifr);
	close(s);
	ck_assert_int_eq(r, 0);
	return (int)ev.data;
}

START_TEST(offloads)
{
	struct cvmm_net_stats st;
	struct nt t;
	int hsz = 0;

	nt_create(&t, 1, 256, NULL);
	ck_assert_int_eq(ioctl(t.fds[0], TUNGETVNETHDRSZ, &hsz), 0);
	ck_assert_int_eq(hsz, CVMM_NET_HDR_LEN);
	ck_assert_int_eq(ethtool_get(t.ifname, ETHTOOL_GTSO), 0);
	nt_bring_up(&t, CVMM_VIRTIO_NET_F_GUEST_CSUM | CVMM_VIRTIO_NET_F_GUEST_TSO4 |
		    CVMM_VIRTIO_NET_F_GUEST_TSO6, 2, 256);
	cvmm_net_get_stats(t.net, &st);
	ck_assert_msg(t.features & CVMM_VIRTIO_NET_F_GUEST_TSO6, "features %llx",
		      (unsigned long long)t.features);
	ck_assert_uint_eq(st.tap_offload, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
	ck_assert_int_eq(ethtool_get(t.ifname, ETHTOOL_GTSO), 1);
	ck_assert_int_eq(ethtool_get(t.ifname, ETHTOOL_GTXCSUM), 1);
	/* renegotiated without: the TAP must stop producing partial frames */
	nt_bring_up(&t, CVMM_VIRTIO_NET_F_MRG_RXBUF, 2, 256);
	cvmm_net_get_stats(t.net, &st);
	ck_assert_uint_eq(st.tap_offload, 0);
	ck_assert_int_eq(ethtool_get(t.ifname, ETHTOOL_GTSO), 0);
	ck_assert_int_eq(ethtool_get(t.ifname, ETHTOOL_GTXCSUM), 0);
	/* TSO without GUEST_CSUM breaks the dependency rule: NEEDS_RESET */
	nt_bring_up(&t, CVMM_VIRTIO_NET_F_GUEST_TSO4, 2, 256);
	ck_assert(wait_status(&t, CVMM_VIRTIO_S_NEEDS_RESET, 2000));
	ck_assert_int_eq(ioctl(t.fds[0], TUNGETVNETHDRSZ, &hsz), 0);
	ck_assert_int_eq(hsz, CVMM_NET_HDR_LEN);
	nt_destroy(&t);
}
END_TEST

/* Guest TSO: a 4000-byte UDP... TCP needs a handshake, so use a partial
 * checksum on a UDP frame: the kernel must fill it in. */
START_TEST(tx_partial_csum)
{
	uint8_t fr[2048], got[2048];
	struct cvmm_virtio_net_hdr h = { 0 };
	struct nt t;
	uint64_t tok;
	uint32_t len;
	size_t flen;
	int s;

	nt_create(&t, 1, 256, NULL);
	nt_bring_up(&t, CVMM_VIRTIO_NET_F_CSUM, 2, 256);
	s = udp_sock(4001);
	flen = udp_frame(&t, fr, 4001, 100, 9);
	/* pseudo-header sum in the checksum field, NEEDS_CSUM at offset 34+6 */
	{
		uint32_t sum = 0;
		uint8_t *ip = fr + 14;

		for (int i = 12; i < 20; i += 2)
			sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
		sum += 17 + 108;
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		fr[40] = (uint8_t)(sum >> 8), fr[41] = (uint8_t)sum;
	}
	h.flags = CVMM_VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = htole16(34);
	h.csum_offset = htole16(6);
	guest_send(&t, 1, &h, fr, flen);
	ck_assert_int_eq(wait_used(&t, 1, &tok, &len, 2000), 1);
	ck_assert_int_eq(recv_timeout(s, got, sizeof(got), 2000), 100);
	ck_assert_mem_eq(got, fr + 42, 100);
	/* the same header without CSUM negotiated: dropped, no reset */
	nt_bring_up(&t, 0, 2, 256);
	guest_send(&t, 1, &h, fr, flen);
	ck_assert_int_eq(wait_used(&t, 1, &tok, &len, 2000), 1);
	ck_assert_int_eq(recv_timeout(s, got, sizeof(got), 200), -ETIMEDOUT);
	{
		struct cvmm_net_stats st;

		cvmm_net_get_stats(t.net, &st);
		ck_assert_uint_eq(st.tx_dropped, 1);
	}
	ck_assert_uint_eq(status(&t) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
	close(s);
	nt_destroy(&t);
}
END_TEST

static uint8_t ctrl(struct nt *t, unsigned int q, uint8_t cls, uint8_t cmd,
		    const void *data, uint32_t dlen)
{
	uint64_t g = vdf_alloc(&t->f, 64, 8), tok;
	struct cvmm_virtq_buf out[2] = { { g, 2 }, { g + 8, dlen } }, in = { g + 32, 1 };
	uint8_t *h = vdf_host(&t->f, g);
	uint32_t len;

	h[0] = cls, h[1] = cmd;
	memcpy(h + 8, data, dlen);
	h[32] = 0xee;
	ck_assert_int_eq(cvmm_virtq_driver_add(t->drv[q], out, dlen ? 2 : 1, &in, 1, false, g), 0);
	kick(t, q);
	ck_assert_int_eq(wait_used(t, q, &tok, &len, 2000), 1);
	ck_assert_uint_eq(tok, g);
	ck_assert_uint_eq(len, 1);
	return h[32];
}

START_TEST(multiqueue)
{
	uint8_t fr[256], got[256];
	struct cvmm_net_stats st;
	uint16_t v;
	struct nt t;
	uint64_t tok;
	uint32_t len;
	int s;

	nt_create(&t, 2, 128, NULL);
	v = 0;
	ck_assert_int_eq(cvmm_virtio_mmio_access(t.f.t, CVMM_VIRTIO_MMIO_CONFIG + 8, &v, 2,
						 false), 0);
	ck_assert_uint_eq(le16toh(v), 2);
	nt_bring_up(&t, CVMM_VIRTIO_NET_F_MQ | CVMM_VIRTIO_NET_F_CTRL_VQ, 5, 128);
	ck_assert(t.features & CVMM_VIRTIO_NET_F_MQ);
	cvmm_net_get_stats(t.net, &st);
	ck_assert_uint_eq(st.active_pairs, 1);
	v = htole16(0);
	ck_assert_uint_eq(ctrl(&t, 4, CVMM_VIRTIO_NET_CTRL_MQ, 0, &v, 2), CVMM_VIRTIO_NET_ERR);
	v = htole16(3);
	ck_assert_uint_eq(ctrl(&t, 4, CVMM_VIRTIO_NET_CTRL_MQ, 0, &v, 2), CVMM_VIRTIO_NET_ERR);
	ck_assert_uint_eq(ctrl(&t, 4, 0, 0, &v, 1), CVMM_VIRTIO_NET_ERR); /* RX mode: no */
	ck_assert_uint_eq(ctrl(&t, 4, CVMM_VIRTIO_NET_CTRL_MQ, 0, &v, 1), CVMM_VIRTIO_NET_ERR);
	v = htole16(2);
	ck_assert_uint_eq(ctrl(&t, 4, CVMM_VIRTIO_NET_CTRL_MQ, 0, &v, 2), CVMM_VIRTIO_NET_OK);
	cvmm_net_get_stats(t.net, &st);
	ck_assert_uint_eq(st.active_pairs, 2);
	s = udp_sock(4002);
	for (unsigned int pair = 0; pair < 2; pair++) {
		size_t flen = udp_frame(&t, fr, 4002, 32, (uint8_t)pair);

		guest_send(&t, 2 * pair + 1, NULL, fr, flen);
		ck_assert_int_eq(wait_used(&t, 2 * pair + 1, &tok, &len, 2000), 1);
		ck_assert_int_eq(recv_timeout(s, got, sizeof(got), 2000), 32);
		ck_assert_mem_eq(got, fr + 42, 32);
	}
	/* receive: flows spread over both TAP queues; every frame arrives on
	 * one of the receive queues */
	post_rx(&t, 0, 32, 2048);
	post_rx(&t, 2, 32, 2048);
	for (int i = 0; i < 16; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(6000) };
		int c = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		a.sin_addr.s_addr = inet_addr(GUEST_IP);
		ck_assert_int_eq(sendto(c, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)), 1);
		close(c);
	}
	{
		unsigned int seen[2] = { 0, 0 };
		uint64_t end = cvmm_now_ns() + 3000000000ull;

		while (seen[0] + seen[1] < 16 && cvmm_now_ns() < end) {
			for (unsigned int q = 0; q < 2; q++)
				while (cvmm_virtq_driver_get_used(t.drv[2 * q], &tok, &len) == 1) {
					uint8_t *e = vdf_host(&t.f, tok) + CVMM_NET_HDR_LEN;

					if (len == CVMM_NET_HDR_LEN + 43 && e[12] == 8 &&
					    (e[36] << 8 | e[37]) == 6000)
						seen[q]++;
				}
			usleep(1000);
		}
		ck_assert_uint_eq(seen[0] + seen[1], 16);
	}
	/* back to one pair: pair 1 is detached and ignores its queues */
	v = htole16(1);
	ck_assert_uint_eq(ctrl(&t, 4, CVMM_VIRTIO_NET_CTRL_MQ, 0, &v, 2), CVMM_VIRTIO_NET_OK);
	guest_send(&t, 3, NULL, fr, udp_frame(&t, fr, 4002, 32, 7));
	ck_assert_int_eq(wait_used(&t, 3, &tok, &len, 200), 0);
	ck_assert_uint_eq(status(&t) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
	close(s);
	nt_destroy(&t);
}
END_TEST

/* Save with 2 active pairs and a half-delivered mergeable frame; restore
 * into a new device and transport on the same TAP: pairs stay 2, the
 * held buffers came back to the guest, traffic flows on both pairs. */
START_TEST(save_restore)
{
	struct cvmm_virtio_transport_state *ms = calloc(1, sizeof(*ms));
	struct cvmm_net_opts o = { .sz = sizeof(o), .num_queue_pairs = 2, .queue_size = 128 };
	uint8_t dev_state[64], fr[256], got[256], big[1200];
	struct cvmm_net_stats st;
	struct cvmm_net *old;
	uint64_t tok;
	uint32_t len;
	uint16_t v;
	struct nt t;
	int r, s;

	ck_assert_ptr_nonnull(ms);
	nt_create(&t, 2, 128, NULL);
	nt_bring_up(&t, CVMM_VIRTIO_NET_F_MQ | CVMM_VIRTIO_NET_F_CTRL_VQ |
		    CVMM_VIRTIO_NET_F_MRG_RXBUF, 5, 128);
	v = htole16(2);
	ck_assert_uint_eq(ctrl(&t, 4, CVMM_VIRTIO_NET_CTRL_MQ, 0, &v, 2), CVMM_VIRTIO_NET_OK);
	/* one 512-byte buffer on each receive queue, a frame needing 3 */
	post_rx(&t, 0, 1, 512);
	post_rx(&t, 2, 1, 512);
	memset(big, 0x33, sizeof(big));
	host_send(5004, big, sizeof(big));
	usleep(200000);
	vdf_stop(&t.f);
	r = cvmm_virtio_mmio_save(t.f.t, ms, dev_state, sizeof(dev_state));
	ck_assert_int_eq(r, 8);
	/* the held buffer was completed into the saved used ring */
	ck_assert_int_eq(cvmm_virtq_driver_get_used(t.drv[0], &tok, &len) +
			 cvmm_virtq_driver_get_used(t.drv[2], &tok, &len), 1);
	cvmm_virtio_mmio_destroy(t.f.t);
	t.f.t = NULL;
	old = t.net;
	o.em = t.f.em;
	o.tap_fds = t.fds;
	ck_assert_int_eq(cvmm_net_create(&o, &t.net), 0);
	cvmm_net_destroy(old);
	vdf_attach(&t.f, cvmm_net_device(t.net));
	/* a corrupt device state is refused */
	dev_state[4] = 9;
	ck_assert_int_eq(cvmm_virtio_mmio_restore(t.f.t, ms, dev_state, 8, NULL, 0), -EINVAL);
	dev_state[4] = 2;
	ck_assert_int_eq(cvmm_virtio_mmio_restore(t.f.t, ms, dev_state, 8, NULL, 0), 0);
	vdf_start(&t.f);
	cvmm_net_get_stats(t.net, &st);
	ck_assert_uint_eq(st.active_pairs, 2);
	s = udp_sock(4005);
	for (unsigned int pair = 0; pair < 2; pair++) {
		guest_send(&t, 2 * pair + 1, NULL, fr, udp_frame(&t, fr, 4005, 24, (uint8_t)pair));
		ck_assert_int_eq(wait_used(&t, 2 * pair + 1, &tok, &len, 2000), 1);
		ck_assert_int_eq(recv_timeout(s, got, sizeof(got), 2000), 24);
	}
	ck_assert_uint_eq(status(&t) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
	close(s);
	free(ms);
	nt_destroy(&t);
}
END_TEST

/* Hostile transmit chains set NEEDS_RESET; after a reset the device works. */
START_TEST(hostile_tx)
{
	uint8_t fr[128], got[128];
	struct nt t;
	uint64_t tok, g;
	uint32_t len;
	int s;

	nt_create(&t, 1, 256, NULL);
	nt_bring_up(&t, ~0ull, 2, 256);
	switch (_i) {
	case 0: { /* shorter than the header */
		struct cvmm_virtq_buf b = { vdf_alloc(&t.f, 8, 8), 8 };

		ck_assert_int_eq(cvmm_virtq_driver_add(t.drv[1], &b, 1, NULL, 0, false, 1), 0);
		break;
	}
	case 1: { /* frame above 64 KiB */
		struct cvmm_virtq_buf b = { vdf_alloc(&t.f, 80000, 8), 80000 };

		ck_assert_int_eq(cvmm_virtq_driver_add(t.drv[1], &b, 1, NULL, 0, false, 1), 0);
		break;
	}
	case 2: { /* data descriptor outside guest memory */
		struct cvmm_virtq_buf b[2] = {
			{ vdf_alloc(&t.f, 12, 8), 12 }, { t.f.mem_size + 0x1000, 64 },
		};

		ck_assert_int_eq(cvmm_virtq_driver_add(t.drv[1], b, 2, NULL, 0, false, 1), 0);
		break;
	}
	case 3: { /* descriptor straddling the end of guest memory */
		struct cvmm_virtq_buf b = { t.f.mem_size - 16, 64 };

		ck_assert_int_eq(cvmm_virtq_driver_add(t.drv[1], &b, 1, NULL, 0, false, 1), 0);
		break;
	}
	case 4: { /* a writable descriptor in a transmit chain: no readable data */
		struct cvmm_virtq_buf b = { vdf_alloc(&t.f, 64, 8), 64 };

		ck_assert_int_eq(cvmm_virtq_driver_add(t.drv[1], NULL, 0, &b, 1, false, 1), 0);
		break;
	}
	}
	kick(&t, 1);
	ck_assert(wait_status(&t, CVMM_VIRTIO_S_NEEDS_RESET, 2000));
	/* the driver resets and starts over: traffic flows again */
	nt_bring_up(&t, ~0ull, 2, 256);
	ck_assert_uint_eq(status(&t) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
	s = udp_sock(4003);
	guest_send(&t, 1, NULL, fr, udp_frame(&t, fr, 4003, 20, 3));
	ck_assert_int_eq(wait_used(&t, 1, &tok, &len, 2000), 1);
	ck_assert_int_eq(recv_timeout(s, got, sizeof(got), 2000), 20);
	(void)g;
	close(s);
	nt_destroy(&t);
}
END_TEST

/* A mergeable receive buffer without room for the header: NEEDS_RESET. */
START_TEST(hostile_rx)
{
	struct cvmm_virtq_buf b;
	struct nt t;

	nt_create(&t, 1, 256, NULL);
	nt_bring_up(&t, CVMM_VIRTIO_NET_F_MRG_RXBUF, 2, 256);
	b.gpa = vdf_alloc(&t.f, 64, 8);
	b.len = _i ? 4 : 64;
	if (_i == 0)
		b.gpa = t.f.mem_size - 8; /* straddles the end of RAM */
	ck_assert_int_eq(cvmm_virtq_driver_add(t.drv[0], NULL, 0, &b, 1, false, 1), 0);
	kick(&t, 0);
	host_send(5003, (const uint8_t *)"x", 1);
	ck_assert(wait_status(&t, CVMM_VIRTIO_S_NEEDS_RESET, 2000));
	nt_destroy(&t);
}
END_TEST

START_TEST(tx_rate_limited)
{
	struct cvmm_rate_limiter_opts rl = {
		.sz = sizeof(rl), .ops_per_sec = 20, .ops_burst = 1,
	};
	uint8_t fr[128], got[128];
	uint64_t t0, tok;
	uint32_t len;
	struct nt t;
	int s;

	nt_create(&t, 1, 256, &rl);
	nt_bring_up(&t, 0, 2, 256);
	s = udp_sock(4004);
	t0 = cvmm_now_ns();
	for (int i = 0; i < 5; i++)
		guest_send(&t, 1, NULL, fr, udp_frame(&t, fr, 4004, 16, (uint8_t)i));
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(recv_timeout(s, got, sizeof(got), 3000), 16);
		ck_assert_int_eq(wait_used(&t, 1, &tok, &len, 2000), 1);
	}
	/* one burst token, then 20/s: four more frames need >= 150 ms */
	ck_assert_uint_ge(cvmm_now_ns() - t0, 150000000ull);
	close(s);
	nt_destroy(&t);
}
END_TEST

START_TEST(rx_rate_limited)
{
	struct cvmm_rate_limiter_opts rl = {
		.sz = sizeof(rl), .ops_per_sec = 20, .ops_burst = 1,
	};
	uint8_t got[64];
	struct nt t;
	uint64_t t0;

	nt_create_rl(&t, 1, 256, NULL, &rl);
	nt_bring_up(&t, CVMM_VIRTIO_NET_F_MRG_RXBUF, 2, 256);
	post_rx(&t, 0, 32, 2048);
	t0 = cvmm_now_ns();
	for (int i = 0; i < 5; i++)
		host_send((uint16_t)(5010 + i), (const uint8_t *)"rate", 4);
	/* every frame arrives (none lost while throttled), in order */
	for (int i = 0; i < 5; i++)
		ck_assert_uint_eq(guest_recv_udp(&t, (uint16_t)(5010 + i), got, sizeof(got),
						 2048, NULL), 4);
	ck_assert_uint_ge(cvmm_now_ns() - t0, 150000000ull);
	nt_destroy(&t);
}
END_TEST

/* A TAP opened by name is the device's: configured, and gone at destroy. */
START_TEST(tap_by_name)
{
	struct cvmm_net_opts o = { .sz = sizeof(o), .tap_name = "cvname%d" };
	struct cvmm_event_manager *em;
	struct cvmm_net *n;
	struct ifreq ifr;
	int fd, hsz = 0;

	ck_assert_int_eq(cvmm_event_manager_create(NULL, &em), 0);
	o.em = em;
	ck_assert_int_eq(cvmm_net_create(&o, &n), 0);
	fd = cvmm_net_tap_fd(n, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cvmm_net_tap_fd(n, 1), -EINVAL);
	ck_assert_int_eq(ioctl(fd, TUNGETVNETHDRSZ, &hsz), 0);
	ck_assert_int_eq(hsz, CVMM_NET_HDR_LEN);
	memset(&ifr, 0, sizeof(ifr));
	ck_assert_int_eq(ioctl(fd, TUNGETIFF, &ifr), 0);
	ck_assert_int_eq(strncmp(ifr.ifr_name, "cvname", 6), 0);
	ck_assert_uint_ne(if_nametoindex(ifr.ifr_name), 0);
	ck_assert_int_eq(ifr.ifr_flags & (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR),
			 IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
	/* no features: no MAC, no MQ */
	ck_assert_uint_eq(cvmm_net_device(n)->features & CVMM_VIRTIO_NET_F_MAC, 0);
	ck_assert_uint_eq(cvmm_net_device(n)->num_queues, 2);
	cvmm_net_destroy(n);
	ck_assert_uint_eq(if_nametoindex(ifr.ifr_name), 0);
	cvmm_event_manager_destroy(em);
}
END_TEST

static Suite *suite(bool tap)
{
	Suite *s = suite_create("virtio-net");
	TCase *u = tcase_create("header");
	TCase *t = tcase_create("tap");

	tcase_add_test(u, hdr_check);
	tcase_add_test(u, create_errors);
	suite_add_tcase(s, u);
	if (!tap)
		return s;
	tcase_set_timeout(t, 60);
	tcase_add_test(t, guest_to_host);
	tcase_add_loop_test(t, host_to_guest, 0, 2);
	tcase_add_test(t, rx_waits_for_buffers);
	tcase_add_test(t, rx_too_big_non_mergeable);
	tcase_add_test(t, offloads);
	tcase_add_test(t, tx_partial_csum);
	tcase_add_test(t, multiqueue);
	tcase_add_test(t, save_restore);
	tcase_add_loop_test(t, hostile_tx, 0, 5);
	tcase_add_loop_test(t, hostile_rx, 0, 2);
	tcase_add_test(t, tx_rate_limited);
	tcase_add_test(t, rx_rate_limited);
	tcase_add_test(t, tap_by_name);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	bool tap = have_tap() && unshare(CLONE_NEWNET) == 0;
	Suite *s[2];

	if (!tap)
		printf("# SKIP TAP tests: need root, /dev/net/tun and a new network namespace\n");
	s[0] = suite(tap);
	s[1] = NULL;
	return cvmm_test_run(s);
}
