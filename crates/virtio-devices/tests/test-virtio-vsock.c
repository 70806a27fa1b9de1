/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock (hybrid) through the real virtio-mmio transport on real guest
 * memory; the guest's AF_VSOCK stack is played with virtio-queue's driver
 * helper, the host side is real unix sockets in a private temp directory.
 */
#include <check.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices/vsock.h>

#include "cvmm-test.h"
#include "vd-fixture.h"

#define CID 3u
#define RXBUF (4096u + CVMM_VSOCK_HDR_LEN)

struct vt {
	struct vdf f;
	struct cvmm_vsock *vs;
	char dir[40];
	char path[80];
};

static void vt_create(struct vt *t, uint32_t buf_alloc)
{
	struct cvmm_vsock_opts o = { .sz = sizeof(o), .guest_cid = CID, .buf_alloc = buf_alloc };
	struct cvmm_vsock_stats st;
	uint64_t end;

	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/cvmm-vsock-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/v.sock", t->dir);
	vdf_init(&t->f, 0);
	o.em = t->f.em;
	o.uds_path = t->path;
	ck_assert_int_eq(cvmm_vsock_create(&o, &t->vs), 0);
	vdf_attach(&t->f, cvmm_vsock_device(t->vs));
	vdf_start(&t->f);
	vdf_bring_up(&t->f, 0, 3, 256);
	/* settled() may run ahead of activate() on the device thread */
	end = cvmm_now_ns() + 5000000000ull;
	do {
		cvmm_vsock_get_stats(t->vs, &st);
		ck_assert(cvmm_now_ns() < end);
	} while (__atomic_load_n(&st.activations, __ATOMIC_ACQUIRE) == 0 && usleep(200) == 0);
	for (int i = 0; i < 32; i++) {
		uint64_t g = vdf_alloc(&t->f, RXBUF, 64);
		struct cvmm_virtq_buf b = { g, RXBUF };

		ck_assert_int_eq(cvmm_virtq_driver_add(t->f.drv[0], NULL, 0, &b, 1, false, g), 0);
	}
	vdf_kick(&t->f, 0);
}

static void vt_destroy(struct vt *t)
{
	char p[160];

	vdf_detach(&t->f);
	cvmm_vsock_destroy(t->vs);
	vdf_fini(&t->f);
	/* stray host listeners of the test */
	for (int port = 0; port < 8; port++) {
		snprintf(p, sizeof(p), "%s_%d", t->path, 1234 + port);
		unlink(p);
	}
	ck_assert_int_eq(access(t->path, F_OK), -1); /* destroy unlinks it */
	ck_assert_int_eq(rmdir(t->dir), 0);
}

static uint32_t status(struct vt *t)
{
	return vdf_rd(&t->f, CVMM_VIRTIO_MMIO_STATUS);
}

static void hdr(struct cvmm_vsock_hdr *h, uint32_t gport, uint32_t hport, uint16_t op,
		uint32_t len)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = CID;
	h->dst_cid = CVMM_VSOCK_HOST_CID;
	h->src_port = gport;
	h->dst_port = hport;
	h->type = CVMM_VSOCK_TYPE_STREAM;
	h->op = op;
	h->len = len;
	h->buf_alloc = 65536;
}

/* Put one packet on the transmit queue: header (as given), then @dlen bytes
 * of @data in the same buffer; @buflen overrides the buffer length. */
static void g_send_raw(struct vt *t, const struct cvmm_vsock_hdr *h, const void *data,
		       uint32_t dlen, uint32_t buflen)
{
	uint64_t g = vdf_alloc(&t->f, CVMM_VSOCK_HDR_LEN + dlen + 64, 64), tok;
	struct cvmm_virtq_buf b = { g, buflen };
	uint32_t len;

	cvmm_vsock_hdr_encode(h, vdf_host(&t->f, g));
	if (dlen)
		memcpy(vdf_host(&t->f, g + CVMM_VSOCK_HDR_LEN), data, dlen);
	ck_assert_int_eq(cvmm_virtq_driver_add(t->f.drv[1], &b, 1, NULL, 0, false, g), 0);
	vdf_kick(&t->f, 1);
	ck_assert_int_eq(vdf_wait_used(&t->f, 1, &tok, &len, 2000), 1);
	ck_assert_uint_eq(tok, g);
}

static void g_send(struct vt *t, const struct cvmm_vsock_hdr *h, const void *data)
{
	g_send_raw(t, h, data, h->len, CVMM_VSOCK_HDR_LEN + h->len);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Next packet from the device within @ms: @return 1 (decoded into @h, its
 * payload into @data) or 0. The buffer is posted again. */
static int g_recv(struct vt *t, struct cvmm_vsock_hdr *h, uint8_t *data, int ms)
{
	uint64_t tok;
	uint32_t len;
	uint8_t *p;

	if (vdf_wait_used(&t->f, 0, &tok, &len, ms) != 1)
		return 0;
	ck_assert_uint_ge(len, CVMM_VSOCK_HDR_LEN);
	p = vdf_host(&t->f, tok);
	h->src_cid = le32(p) | (uint64_t)le32(p + 4) << 32;
	h->dst_cid = le32(p + 8) | (uint64_t)le32(p + 12) << 32;
	h->src_port = le32(p + 16);
	h->dst_port = le32(p + 20);
	h->len = le32(p + 24);
	h->type = (uint16_t)(p[28] | p[29] << 8);
	h->op = (uint16_t)(p[30] | p[31] << 8);
	h->flags = le32(p + 32);
	h->buf_alloc = le32(p + 36);
	h->fwd_cnt = le32(p + 40);
	ck_assert_uint_eq(len, CVMM_VSOCK_HDR_LEN + h->len);
	ck_assert_uint_eq(h->src_cid, CVMM_VSOCK_HOST_CID);
	ck_assert_uint_eq(h->dst_cid, CID);
	ck_assert_uint_eq(h->type, CVMM_VSOCK_TYPE_STREAM);
	if (data)
		memcpy(data, p + CVMM_VSOCK_HDR_LEN, h->len);
	{
		struct cvmm_virtq_buf b = { tok, RXBUF };

		ck_assert_int_eq(cvmm_virtq_driver_add(t->f.drv[0], NULL, 0, &b, 1, false, tok), 0);
		vdf_kick(&t->f, 0);
	}
	return 1;
}

static void expect(struct vt *t, struct cvmm_vsock_hdr *h, uint16_t op, uint32_t gport,
		   uint32_t hport)
{
	ck_assert_int_eq(g_recv(t, h, NULL, 2000), 1);
	ck_assert_uint_eq(h->op, op);
	ck_assert_uint_eq(h->dst_port, gport);
	ck_assert_uint_eq(h->src_port, hport);
}

static int host_listen(struct vt *t, uint32_t port)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s_%u", t->path, port);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s, 4), 0);
	return s;
}

static ssize_t read_timeout(int fd, void *buf, size_t len, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return -ETIMEDOUT;
	return recv(fd, buf, len, MSG_DONTWAIT);
}

/* The peer closed: EOF, or ECONNRESET when it left our bytes unread. */
static bool closed_by_peer(int fd)
{
	char b[64];
	ssize_t n = read_timeout(fd, b, sizeof(b), 2000);

	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static uint32_t conns(struct vt *t)
{
	struct cvmm_vsock_stats st;

	cvmm_vsock_get_stats(t->vs, &st);
	return st.conns;
}

/* ---- parser -------------------------------------------------------- */

START_TEST(hdr_parse)
{
	struct cvmm_vsock_hdr h, d;
	uint8_t raw[CVMM_VSOCK_HDR_LEN];

	memset(&d, 0, sizeof(d)); /* padding, for the memory compare */
	hdr(&h, 5000, 1234, CVMM_VSOCK_OP_RW, 100);
	h.flags = 0;
	h.fwd_cnt = 77;
	cvmm_vsock_hdr_encode(&h, raw);
	ck_assert_int_eq(cvmm_vsock_hdr_parse(raw, sizeof(raw), 100, CID, &d), 0);
	ck_assert_mem_eq(&d, &h, sizeof(h));
	ck_assert_int_eq(cvmm_vsock_hdr_parse(raw, 43, 100, CID, &d), -EMSGSIZE);
	ck_assert_int_eq(cvmm_vsock_hdr_parse(raw, sizeof(raw), 99, CID, &d), -EMSGSIZE);
	ck_assert_int_eq(cvmm_vsock_hdr_parse(raw, sizeof(raw), 100, CID + 1, &d), -EACCES);
	h.len = CVMM_VSOCK_MAX_PKT + 1;
	cvmm_vsock_hdr_encode(&h, raw);
	ck_assert_int_eq(cvmm_vsock_hdr_parse(raw, sizeof(raw), 1u << 20, CID, &d), -EMSGSIZE);
	h.len = 0;
	h.dst_cid = 7;
	cvmm_vsock_hdr_encode(&h, raw);
	ck_assert_int_eq(cvmm_vsock_hdr_parse(raw, sizeof(raw), 0, CID, &d), -EHOSTUNREACH);
	h.dst_cid = CVMM_VSOCK_HOST_CID;
	h.type = 2; /* SEQPACKET: not offered */
	cvmm_vsock_hdr_encode(&h, raw);
	ck_assert_int_eq(cvmm_vsock_hdr_parse(raw, sizeof(raw), 0, CID, &d), -EPROTOTYPE);
	h.type = CVMM_VSOCK_TYPE_STREAM;
	h.op = 0;
	cvmm_vsock_hdr_encode(&h, raw);
	ck_assert_int_eq(cvmm_vsock_hdr_parse(raw, sizeof(raw), 0, CID, &d), -EOPNOTSUPP);
	h.op = 8;
	cvmm_vsock_hdr_encode(&h, raw);
	ck_assert_int_eq(cvmm_vsock_hdr_parse(raw, sizeof(raw), 0, CID, &d), -EOPNOTSUPP);
	h.op = CVMM_VSOCK_OP_REQUEST;
	h.len = 4; /* control packets carry no payload */
	cvmm_vsock_hdr_encode(&h, raw);
	ck_assert_int_eq(cvmm_vsock_hdr_parse(raw, sizeof(raw), 4, CID, &d), -EMSGSIZE);
	/* the 64-bit CID is compared whole */
	h.len = 0;
	h.src_cid = CID | (1ull << 32);
	cvmm_vsock_hdr_encode(&h, raw);
	ck_assert_int_eq(cvmm_vsock_hdr_parse(raw, sizeof(raw), 0, CID, &d), -EACCES);
}
END_TEST

START_TEST(create_errors)
{
	struct cvmm_event_manager *em;
	struct cvmm_vsock_opts o = { .sz = sizeof(o), .guest_cid = 3 };
	struct cvmm_vsock *v = NULL;
	char dir[] = "/tmp/cvmm-vsock-XXXXXX", p[160];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(cvmm_event_manager_create(NULL, &em), 0);
	ck_assert_int_eq(cvmm_vsock_create(&o, &v), -EINVAL); /* no em */
	o.em = em;
	ck_assert_int_eq(cvmm_vsock_create(&o, &v), -EINVAL); /* no path */
	snprintf(p, sizeof(p), "%s/s", dir);
	o.uds_path = p;
	o.guest_cid = 2;
	ck_assert_int_eq(cvmm_vsock_create(&o, &v), -EINVAL);
	o.guest_cid = 0xffffffffull;
	ck_assert_int_eq(cvmm_vsock_create(&o, &v), -EINVAL);
	o.guest_cid = 3;
	o.uds_path = "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	ck_assert_int_eq(cvmm_vsock_create(&o, &v), -EINVAL);
	o.uds_path = p;
	ck_assert_int_eq(cvmm_vsock_create(&o, &v), 0);
	{
		struct cvmm_vsock *v2 = NULL;

		ck_assert_int_eq(cvmm_vsock_create(&o, &v2), -EADDRINUSE);
	}
	ck_assert_uint_eq(cvmm_vsock_device(v)->device_id, CVMM_VIRTIO_ID_VSOCK);
	cvmm_vsock_destroy(v);
	cvmm_vsock_destroy(NULL);
	ck_assert_int_eq(access(p, F_OK), -1);
	cvmm_event_manager_destroy(em);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/*
 * A local migration's destination inherits the source's listener: the fd
 * is checked (a listening unix stream socket on the path, else -ENOTSOCK
 * and the fd closed); the path is not the device's until it is told so,
 * and a device that gave it up leaves it at destroy.
 */
START_TEST(inherited_listener)
{
	struct cvmm_event_manager *em;
	struct cvmm_vsock_opts o = { .sz = sizeof(o), .guest_cid = 3 };
	struct cvmm_vsock *src = NULL, *dst = NULL;
	char dir[] = "/tmp/cvmm-vsock-XXXXXX", p[160];
	int pp[2], fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(cvmm_event_manager_create(NULL, &em), 0);
	snprintf(p, sizeof(p), "%s/s", dir);
	o.em = em;
	o.uds_path = p;
	ck_assert_int_eq(cvmm_vsock_create(&o, &src), 0);
	/* not a socket: refused, the fd closed */
	ck_assert_int_eq(pipe(pp), 0);
	o.inherit_listener = true;
	o.listener_fd = pp[0];
	ck_assert_int_eq(cvmm_vsock_create(&o, &dst), -ENOTSOCK);
	ck_assert_int_eq(fcntl(pp[0], F_GETFD), -1);
	close(pp[1]);
	/* the source's listener, as a local migration passes it */
	fd = fcntl(cvmm_vsock_listener_fd(src), F_DUPFD_CLOEXEC, 3);
	ck_assert_int_ge(fd, 0);
	o.listener_fd = fd;
	ck_assert_int_eq(cvmm_vsock_create(&o, &dst), 0);
	ck_assert_int_eq(cvmm_vsock_listener_fd(dst), fd);
	/* a destination that fails goes without touching the path */
	cvmm_vsock_destroy(dst);
	ck_assert_int_eq(access(p, F_OK), 0);
	/* one that went: the source gives the path up, the destination owns it */
	fd = fcntl(cvmm_vsock_listener_fd(src), F_DUPFD_CLOEXEC, 3);
	o.listener_fd = fd;
	ck_assert_int_eq(cvmm_vsock_create(&o, &dst), 0);
	cvmm_vsock_set_path_owner(dst, true);
	cvmm_vsock_set_path_owner(src, false);
	cvmm_vsock_destroy(src);
	ck_assert_int_eq(access(p, F_OK), 0);
	cvmm_vsock_destroy(dst);
	ck_assert_int_eq(access(p, F_OK), -1);
	cvmm_event_manager_destroy(em);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* ---- device --------------------------------------------------------- */

START_TEST(guest_to_host)
{
	struct cvmm_vsock_hdr h, r;
	uint8_t buf[8192];
	uint64_t cfg = 0;
	struct vt t;
	int l, c;

	vt_create(&t, 0);
	ck_assert_int_eq(cvmm_virtio_mmio_access(t.f.t, CVMM_VIRTIO_MMIO_CONFIG, &cfg, 8, false), 0);
	ck_assert_uint_eq(cfg, CID);
	l = host_listen(&t, 1234);
	hdr(&h, 5000, 1234, CVMM_VSOCK_OP_REQUEST, 0);
	h.buf_alloc = 1000; /* the guest's receive credit */
	g_send(&t, &h, NULL);
	expect(&t, &r, CVMM_VSOCK_OP_RESPONSE, 5000, 1234);
	ck_assert_uint_eq(r.buf_alloc, 256u * 1024u);
	c = accept(l, NULL, NULL);
	ck_assert_int_ge(c, 0);
	/* guest -> host */
	hdr(&h, 5000, 1234, CVMM_VSOCK_OP_RW, 5);
	h.buf_alloc = 1000;
	g_send(&t, &h, "hello");
	ck_assert_int_eq(read_timeout(c, buf, sizeof(buf), 2000), 5);
	ck_assert_mem_eq(buf, "hello", 5);
	/* credit request: the answer reports the 5 bytes forwarded */
	hdr(&h, 5000, 1234, CVMM_VSOCK_OP_CREDIT_REQUEST, 0);
	h.buf_alloc = 1000;
	g_send(&t, &h, NULL);
	expect(&t, &r, CVMM_VSOCK_OP_CREDIT_UPDATE, 5000, 1234);
	ck_assert_uint_eq(r.fwd_cnt, 5);
	/* host -> guest: 3000 bytes against a credit of 1000 */
	for (int i = 0; i < 3000; i++)
		buf[i] = (uint8_t)(i * 31);
	ck_assert_int_eq(write(c, buf, 3000), 3000);
	{
		uint8_t got[3000], d[4096];
		uint32_t n = 0;

		while (n < 1000) {
			ck_assert_int_eq(g_recv(&t, &r, d, 2000), 1);
			ck_assert_uint_eq(r.op, CVMM_VSOCK_OP_RW);
			memcpy(got + n, d, r.len);
			n += r.len;
		}
		ck_assert_uint_eq(n, 1000);
		/* no credit left: nothing more arrives */
		ck_assert_int_eq(g_recv(&t, &r, d, 200), 0);
		hdr(&h, 5000, 1234, CVMM_VSOCK_OP_CREDIT_UPDATE, 0);
		h.buf_alloc = 1000;
		h.fwd_cnt = 1000;
		g_send(&t, &h, NULL);
		while (n < 2000) {
			ck_assert_int_eq(g_recv(&t, &r, d, 2000), 1);
			ck_assert_uint_eq(r.op, CVMM_VSOCK_OP_RW);
			memcpy(got + n, d, r.len);
			n += r.len;
		}
		ck_assert_uint_eq(n, 2000);
		ck_assert_int_eq(g_recv(&t, &r, d, 200), 0);
		hdr(&h, 5000, 1234, CVMM_VSOCK_OP_CREDIT_UPDATE, 0);
		h.buf_alloc = 4096;
		h.fwd_cnt = 2000;
		g_send(&t, &h, NULL);
		while (n < 3000) {
			ck_assert_int_eq(g_recv(&t, &r, d, 2000), 1);
			memcpy(got + n, d, r.len);
			n += r.len;
		}
		ck_assert_mem_eq(got, buf, 3000);
	}
	/* the guest closes both ways: RST back, the host sees EOF */
	hdr(&h, 5000, 1234, CVMM_VSOCK_OP_SHUTDOWN, 0);
	h.flags = CVMM_VSOCK_SHUTDOWN_RCV | CVMM_VSOCK_SHUTDOWN_SEND;
	g_send(&t, &h, NULL);
	expect(&t, &r, CVMM_VSOCK_OP_RST, 5000, 1234);
	ck_assert_int_eq(read_timeout(c, buf, sizeof(buf), 2000), 0);
	ck_assert_uint_eq(conns(&t), 0);
	ck_assert_uint_eq(status(&t) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
	close(c);
	close(l);
	vt_destroy(&t);
}
END_TEST

static int host_connect(struct vt *t)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(a.sun_path, t->path);
	ck_assert_int_eq(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
	return s;
}

START_TEST(host_to_guest)
{
	struct cvmm_vsock_hdr h, r;
	uint8_t d[4096];
	char line[64];
	uint32_t hport;
	struct vt t;
	ssize_t n;
	int s;

	vt_create(&t, 0);
	s = host_connect(&t);
	/* data right behind the line stays stream data */
	ck_assert_int_eq(write(s, "CONNECT 7000\nearly", 18), 18);
	ck_assert_int_eq(g_recv(&t, &r, NULL, 2000), 1);
	ck_assert_uint_eq(r.op, CVMM_VSOCK_OP_REQUEST);
	ck_assert_uint_eq(r.dst_port, 7000);
	hport = r.src_port;
	ck_assert_uint_ge(hport, 1u << 30);
	hdr(&h, 7000, hport, CVMM_VSOCK_OP_RESPONSE, 0);
	g_send(&t, &h, NULL);
	n = read_timeout(s, line, sizeof(line) - 1, 2000);
	ck_assert_int_gt(n, 0);
	line[n] = 0;
	{
		char want[32];

		snprintf(want, sizeof(want), "OK %u\n", hport);
		ck_assert_str_eq(line, want);
	}
	ck_assert_int_eq(g_recv(&t, &r, d, 2000), 1);
	ck_assert_uint_eq(r.op, CVMM_VSOCK_OP_RW);
	ck_assert_uint_eq(r.len, 5);
	ck_assert_mem_eq(d, "early", 5);
	hdr(&h, 7000, hport, CVMM_VSOCK_OP_RW, 3);
	g_send(&t, &h, "abc");
	ck_assert_int_eq(read_timeout(s, line, sizeof(line), 2000), 3);
	ck_assert_mem_eq(line, "abc", 3);
	/* the host closes: SHUTDOWN to the guest, whose RST ends it */
	close(s);
	ck_assert_int_eq(g_recv(&t, &r, NULL, 2000), 1);
	ck_assert_uint_eq(r.op, CVMM_VSOCK_OP_SHUTDOWN);
	ck_assert_uint_eq(r.flags, 3);
	hdr(&h, 7000, hport, CVMM_VSOCK_OP_RST, 0);
	g_send(&t, &h, NULL);
	ck_assert_uint_eq(conns(&t), 0);
	/* a guest that refuses: RST closes the host socket */
	s = host_connect(&t);
	ck_assert_int_eq(write(s, "CONNECT 7001\n", 13), 13);
	ck_assert_int_eq(g_recv(&t, &r, NULL, 2000), 1);
	ck_assert_uint_eq(r.op, CVMM_VSOCK_OP_REQUEST);
	hdr(&h, 7001, r.src_port, CVMM_VSOCK_OP_RST, 0);
	g_send(&t, &h, NULL);
	ck_assert_int_eq(read_timeout(s, line, sizeof(line), 2000), 0);
	close(s);
	/* malformed handshakes are closed without bothering the guest */
	{
		const char *bad[] = { "CONNECT\n", "CONNECT x\n", "CONNECT 99999999999\n",
				      "HELLO 1\n", "CONNECT 1 2\n",
				      "CONNECT 1111111111111111111111111111111111" };

		for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			s = host_connect(&t);
			ck_assert_int_eq(write(s, bad[i], strlen(bad[i])),
					 (ssize_t)strlen(bad[i]));
			ck_assert(closed_by_peer(s));
			close(s);
		}
		ck_assert_int_eq(g_recv(&t, &r, NULL, 100), 0);
	}
	ck_assert_uint_eq(status(&t) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
	vt_destroy(&t);
}
END_TEST

START_TEST(unknown_ports)
{
	struct cvmm_vsock_hdr h, r;
	struct vt t;

	vt_create(&t, 0);
	hdr(&h, 5001, 9999, CVMM_VSOCK_OP_REQUEST, 0); /* nobody listens */
	g_send(&t, &h, NULL);
	expect(&t, &r, CVMM_VSOCK_OP_RST, 5001, 9999);
	hdr(&h, 5001, 9999, CVMM_VSOCK_OP_RW, 2);
	g_send(&t, &h, "xx");
	expect(&t, &r, CVMM_VSOCK_OP_RST, 5001, 9999);
	hdr(&h, 5001, 9999, CVMM_VSOCK_OP_RST, 0); /* never an RST to an RST */
	g_send(&t, &h, NULL);
	ck_assert_int_eq(g_recv(&t, &r, NULL, 200), 0);
	ck_assert_uint_eq(conns(&t), 0);
	vt_destroy(&t);
}
END_TEST

START_TEST(hostile_packets)
{
	struct cvmm_vsock_hdr h, r;
	struct cvmm_vsock_stats st;
	uint8_t buf[64];
	struct vt t;
	int l, c;

	vt_create(&t, 0);
	l = host_listen(&t, 1235);
	/* len beyond the buffer: dropped, no answer */
	hdr(&h, 5002, 1235, CVMM_VSOCK_OP_RW, 1000);
	g_send_raw(&t, &h, "abc", 3, CVMM_VSOCK_HDR_LEN + 3);
	/* header cut short */
	hdr(&h, 5002, 1235, CVMM_VSOCK_OP_REQUEST, 0);
	g_send_raw(&t, &h, NULL, 0, 20);
	/* forged source CID */
	hdr(&h, 5002, 1235, CVMM_VSOCK_OP_REQUEST, 0);
	h.src_cid = 4;
	g_send(&t, &h, NULL);
	ck_assert_int_eq(g_recv(&t, &r, NULL, 200), 0);
	cvmm_vsock_get_stats(t.vs, &st);
	ck_assert_uint_eq(st.tx_dropped, 3);
	/* unknown op, wrong destination CID, datagram type: RST */
	hdr(&h, 5002, 1235, 99, 0);
	g_send(&t, &h, NULL);
	expect(&t, &r, CVMM_VSOCK_OP_RST, 5002, 1235);
	hdr(&h, 5002, 1235, CVMM_VSOCK_OP_REQUEST, 0);
	h.dst_cid = 1;
	g_send(&t, &h, NULL);
	expect(&t, &r, CVMM_VSOCK_OP_RST, 5002, 1235);
	hdr(&h, 5002, 1235, CVMM_VSOCK_OP_REQUEST, 0);
	h.type = 3;
	g_send(&t, &h, NULL);
	expect(&t, &r, CVMM_VSOCK_OP_RST, 5002, 1235);
	ck_assert_uint_eq(conns(&t), 0);
	/* none of it opened a connection; a real one still works */
	hdr(&h, 5002, 1235, CVMM_VSOCK_OP_REQUEST, 0);
	g_send(&t, &h, NULL);
	expect(&t, &r, CVMM_VSOCK_OP_RESPONSE, 5002, 1235);
	c = accept(l, NULL, NULL);
	/* a second REQUEST on the open connection: protocol error, RST */
	g_send(&t, &h, NULL);
	expect(&t, &r, CVMM_VSOCK_OP_RST, 5002, 1235);
	ck_assert_int_eq(read_timeout(c, buf, sizeof(buf), 2000), 0);
	close(c);
	ck_assert_uint_eq(status(&t) & CVMM_VIRTIO_S_NEEDS_RESET, 0);
	close(l);
	vt_destroy(&t);
}
END_TEST

/* The guest sends more than the credit it was given: RST. */
START_TEST(credit_violation)
{
	struct cvmm_vsock_hdr h, r;
	uint8_t data[3000];
	struct vt t;
	int l, c;

	vt_create(&t, 4096);
	l = host_listen(&t, 1236);
	hdr(&h, 5003, 1236, CVMM_VSOCK_OP_REQUEST, 0);
	g_send(&t, &h, NULL);
	expect(&t, &r, CVMM_VSOCK_OP_RESPONSE, 5003, 1236);
	ck_assert_uint_eq(r.buf_alloc, 4096);
	c = accept(l, NULL, NULL);
	/* fill the host socket (never read) so bytes pile up in the device */
	{
		int small = 4096;

		ck_assert_int_eq(setsockopt(c, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	}
	memset(data, 0x42, sizeof(data));
	for (int i = 0; i < 400; i++) {
		hdr(&h, 5003, 1236, CVMM_VSOCK_OP_RW, sizeof(data));
		g_send(&t, &h, data);
		if (conns(&t) == 0)
			break;
	}
	ck_assert_uint_eq(conns(&t), 0);
	for (;;) { /* RST after any credit updates */
		ck_assert_int_eq(g_recv(&t, &r, NULL, 2000), 1);
		if (r.op == CVMM_VSOCK_OP_RST)
			break;
		ck_assert_uint_eq(r.op, CVMM_VSOCK_OP_CREDIT_UPDATE);
	}
	close(c);
	close(l);
	vt_destroy(&t);
}
END_TEST

struct bulk_reader {
	int fd;
	size_t want;
	size_t got;
	bool pattern_ok;
};

static void *bulk_read(void *arg)
{
	struct bulk_reader *b = arg;
	uint8_t buf[8192];

	/* start late, so the device socket fills and the backlog is used */
	usleep(300000);
	b->pattern_ok = true;
	while (b->got < b->want) {
		ssize_t n = read_timeout(b->fd, buf, sizeof(buf), 5000);

		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != (uint8_t)((b->got + (size_t)i) * 7))
				b->pattern_ok = false;
		b->got += (size_t)n;
	}
	return NULL;
}

/* 2 MiB guest -> host through a 16 KiB credit window, the host reading
 * late: the socket fills, the device keeps the rest (EPOLLOUT flush) and
 * the guest advances only on the credit updates it receives. */
START_TEST(bulk_with_credit)
{
	const uint32_t window = 16384, chunk = 4096;
	const size_t total = 2u << 20;
	struct bulk_reader br = { .want = total };
	struct cvmm_vsock_hdr h, r;
	uint8_t data[4096];
	uint32_t peer_fwd = 0, peer_alloc = 0;
	size_t sent = 0;
	pthread_t thr;
	struct vt t;
	int l;

	vt_create(&t, window);
	l = host_listen(&t, 1237);
	hdr(&h, 5005, 1237, CVMM_VSOCK_OP_REQUEST, 0);
	g_send(&t, &h, NULL);
	expect(&t, &r, CVMM_VSOCK_OP_RESPONSE, 5005, 1237);
	peer_alloc = r.buf_alloc;
	ck_assert_uint_eq(peer_alloc, window);
	br.fd = accept(l, NULL, NULL);
	ck_assert_int_ge(br.fd, 0);
	ck_assert_int_eq(pthread_create(&thr, NULL, bulk_read, &br), 0);
	while (sent < total) {
		if ((uint32_t)sent - peer_fwd + chunk <= peer_alloc) {
			for (uint32_t i = 0; i < chunk; i++)
				data[i] = (uint8_t)((sent + i) * 7);
			hdr(&h, 5005, 1237, CVMM_VSOCK_OP_RW, chunk);
			g_send(&t, &h, data);
			sent += chunk;
			continue;
		}
		/* out of credit: only a credit update can move us on */
		ck_assert_msg(g_recv(&t, &r, NULL, 5000) == 1, "stalled at %zu", sent);
		ck_assert_uint_eq(r.op, CVMM_VSOCK_OP_CREDIT_UPDATE);
		peer_fwd = r.fwd_cnt;
		peer_alloc = r.buf_alloc;
	}
	pthread_join(thr, NULL);
	ck_assert_uint_eq(br.got, total);
	ck_assert(br.pattern_ok);
	ck_assert_uint_eq(conns(&t), 1);
	close(br.fd);
	close(l);
	vt_destroy(&t);
}
END_TEST

/* Ring-level damage: NEEDS_RESET, and after a reset the device works. */
/* Connections cannot travel with a snapshot: a device restored from saved
 * state puts a TRANSPORT_RESET event (id 0) on the event queue, and the
 * old host peer sees the connection closed, not hang. */
START_TEST(restore_sends_transport_reset)
{
	struct cvmm_vsock_opts o = { .sz = sizeof(o), .guest_cid = CID };
	struct cvmm_virtio_transport_state s;
	struct cvmm_vsock_hdr h, r;
	uint64_t ev, tok;
	uint32_t len;
	uint8_t buf[16];
	struct vt t;
	int l, c;

	vt_create(&t, 0);
	ev = vdf_alloc(&t.f, 4, 4);
	{
		struct cvmm_virtq_buf b = { ev, 4 };

		memset(vdf_host(&t.f, ev), 0xff, 4);
		ck_assert_int_eq(cvmm_virtq_driver_add(t.f.drv[2], NULL, 0, &b, 1, false, ev), 0);
		vdf_kick(&t.f, 2);
	}
	l = host_listen(&t, 1234);
	hdr(&h, 5000, 1234, CVMM_VSOCK_OP_REQUEST, 0);
	g_send(&t, &h, NULL);
	expect(&t, &r, CVMM_VSOCK_OP_RESPONSE, 5000, 1234);
	c = accept(l, NULL, NULL);
	ck_assert_int_ge(c, 0);
	/* no event while running */
	ck_assert_int_eq(vdf_wait_used(&t.f, 2, &tok, &len, 50), 0);

	vdf_stop(&t.f);
	ck_assert_int_eq(cvmm_virtio_mmio_save(t.f.t, &s, NULL, 0), 0);
	/* the old process goes: its connection closes */
	vdf_detach(&t.f);
	cvmm_vsock_destroy(t.vs);
	ck_assert_int_eq(read_timeout(c, buf, sizeof(buf), 2000), 0);
	close(c);
	close(l);
	/* a new device restored from the saved state; device bytes it never
	 * wrote are refused */
	o.em = t.f.em;
	o.uds_path = t.path;
	ck_assert_int_eq(cvmm_vsock_create(&o, &t.vs), 0);
	vdf_attach(&t.f, cvmm_vsock_device(t.vs));
	ck_assert_int_eq(cvmm_virtio_mmio_restore(t.f.t, &s, "x", 1, NULL, 0), -EINVAL);
	cvmm_virtio_mmio_destroy(t.f.t);
	vdf_attach(&t.f, cvmm_vsock_device(t.vs));
	ck_assert_int_eq(cvmm_virtio_mmio_restore(t.f.t, &s, NULL, 0, NULL, 0), 0);
	vdf_start(&t.f);
	ck_assert_int_eq(vdf_wait_used(&t.f, 2, &tok, &len, 2000), 1);
	ck_assert_uint_eq(tok, ev);
	ck_assert_uint_eq(len, 4);
	ck_assert_uint_eq(le32(vdf_host(&t.f, ev)), 0); /* VIRTIO_VSOCK_EVENT_TRANSPORT_RESET */
	vt_destroy(&t);
}
END_TEST

START_TEST(broken_queue)
{
	struct cvmm_vsock_hdr h, r;
	struct vt t;

	int l = -1, c = -1;

	vt_create(&t, 0);
	if (_i == 0) {
		struct cvmm_virtq_buf b = { t.f.mem_size + 4096, 64 };

		/* an open connection ends with the broken ring */
		l = host_listen(&t, 1238);
		hdr(&h, 5006, 1238, CVMM_VSOCK_OP_REQUEST, 0);
		g_send(&t, &h, NULL);
		expect(&t, &r, CVMM_VSOCK_OP_RESPONSE, 5006, 1238);
		c = accept(l, NULL, NULL);
		ck_assert_int_ge(c, 0);
		ck_assert_int_eq(cvmm_virtq_driver_add(t.f.drv[1], &b, 1, NULL, 0, false, 1), 0);
		vdf_kick(&t.f, 1);
	} else {
		/* a receive buffer too small for a header, then a packet
		 * that makes the device answer */
		struct cvmm_virtq_driver_opts d;
		struct cvmm_virtq_buf b = { vdf_alloc(&t.f, 16, 8), 16 };

		(void)d;
		vdf_wr(&t.f, CVMM_VIRTIO_MMIO_STATUS, 0);
		vdf_wait_settled(&t.f);
		vdf_bring_up(&t.f, 0, 3, 256); /* fresh rings, no buffers */
		usleep(20000); /* activation may trail settled() */
		ck_assert_int_eq(cvmm_virtq_driver_add(t.f.drv[0], NULL, 0, &b, 1, false, 1), 0);
		vdf_kick(&t.f, 0);
		hdr(&h, 1, 9999, CVMM_VSOCK_OP_REQUEST, 0);
		g_send(&t, &h, NULL);
	}
	{
		uint64_t end = cvmm_now_ns() + 2000000000ull;

		while (!(status(&t) & CVMM_VIRTIO_S_NEEDS_RESET)) {
			ck_assert(cvmm_now_ns() < end);
			usleep(500);
		}
	}
	if (c >= 0) {
		ck_assert(closed_by_peer(c));
		close(c);
		close(l);
	}
	vdf_wr(&t.f, CVMM_VIRTIO_MMIO_STATUS, 0);
	vdf_wait_settled(&t.f);
	vdf_bring_up(&t.f, 0, 3, 256);
	usleep(20000); /* activation may trail settled() */
	{
		uint64_t g = vdf_alloc(&t.f, RXBUF, 64);
		struct cvmm_virtq_buf b = { g, RXBUF };

		ck_assert_int_eq(cvmm_virtq_driver_add(t.f.drv[0], NULL, 0, &b, 1, false, g), 0);
		vdf_kick(&t.f, 0);
	}
	hdr(&h, 5004, 9999, CVMM_VSOCK_OP_REQUEST, 0);
	g_send(&t, &h, NULL);
	expect(&t, &r, CVMM_VSOCK_OP_RST, 5004, 9999);
	vt_destroy(&t);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("virtio-vsock");
	TCase *t = tcase_create("vsock");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, hdr_parse);
	tcase_add_test(t, create_errors);
	tcase_add_test(t, inherited_listener);
	tcase_add_test(t, guest_to_host);
	tcase_add_test(t, host_to_guest);
	tcase_add_test(t, unknown_ports);
	tcase_add_test(t, hostile_packets);
	tcase_add_test(t, credit_violation);
	tcase_add_test(t, bulk_with_credit);
	tcase_add_loop_test(t, broken_queue, 0, 2);
	tcase_add_test(t, restore_sends_transport_reset);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	Suite *s[] = { suite(), NULL };

	return cvmm_test_run(s);
}
