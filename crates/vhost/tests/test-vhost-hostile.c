/* SPDX-License-Identifier: Apache-2.0 */
/* A hostile frontend writing raw bytes at the backend: each bad message is
 * refused (with an error reply when one is due) and the backend stays
 * usable, or the connection is declared dead when the stream is broken.
 * Never a crash, never a leaked fd. */
#include "cvmm-test.h"
#include "vhost-test-dev.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static struct tdev dev;
static struct cvmm_vhost_backend *be;
static int peer; /* our raw end */
static int fds_at_start;

/* sendmsg with any number of fds (sys-util caps at 32; a hostile peer
 * does not). */
static void raw_send(const void *buf, size_t len, const int *fds, unsigned int nfds)
{
	char ctl[CMSG_SPACE(64 * sizeof(int))];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	ck_assert_uint_le(nfds, 64);
	if (nfds) {
		struct cmsghdr *c;

		memset(ctl, 0, sizeof(ctl));
		m.msg_control = ctl;
		m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	ck_assert_int_eq(sendmsg(peer, &m, MSG_NOSIGNAL), (ssize_t)len);
}

static void send_msg(uint32_t req, uint32_t flags, const void *payload, uint32_t size,
		     const int *fds, unsigned int nfds)
{
	uint8_t buf[4096];
	struct cvmm_vhost_hdr h = { req, CVMM_VHOST_VERSION | flags, size };

	ck_assert_uint_le(size + 12, sizeof(buf));
	memcpy(buf, &h, 12);
	if (size)
		memcpy(buf + 12, payload, size);
	raw_send(buf, 12 + size, fds, nfds);
}

/* The reply, if any, without blocking. Returns false when none is queued. */
static bool get_reply(struct cvmm_vhost_msg *m)
{
	int fl = fcntl(peer, F_GETFL);
	int r;

	fcntl(peer, F_SETFL, fl | O_NONBLOCK);
	r = cvmm_vhost_msg_recv(peer, m);
	fcntl(peer, F_SETFL, fl);
	if (r == -EAGAIN)
		return false;
	ck_assert_int_eq(r, 0);
	ck_assert(m->hdr.flags & CVMM_VHOST_FLAG_REPLY);
	return true;
}

/* Expect an ack carrying @err (as positive errno). */
static void expect_ack(uint32_t req, int err)
{
	struct cvmm_vhost_msg m;

	ck_assert(get_reply(&m));
	ck_assert_uint_eq(m.hdr.request, req);
	ck_assert_uint_eq(m.hdr.size, 8);
	ck_assert_uint_eq(m.payload.u64, (uint64_t)-err);
	cvmm_vhost_msg_close_fds(&m);
}

static void expect_no_reply(void)
{
	struct cvmm_vhost_msg m;

	ck_assert(!get_reply(&m));
}

static uint64_t u64(uint64_t v)
{
	return v;
}

/* Process one message; it must give @want. */
#define PROCESS(want) ck_assert_int_eq(cvmm_vhost_backend_process_one(be), (want))

/* The backend still answers. */
static void still_alive(void)
{
	struct cvmm_vhost_msg m;

	ck_assert(cvmm_vhost_backend_connected(be));
	send_msg(CVMM_VHOST_GET_FEATURES, 0, NULL, 0, NULL, 0);
	PROCESS(0);
	ck_assert(get_reply(&m));
	ck_assert_uint_eq(m.hdr.request, CVMM_VHOST_GET_FEATURES);
	ck_assert_uint_eq(m.payload.u64, TDEV_FEATURES);
}

static void setup(void)
{
	int sv[2];
	uint64_t pf = CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_REPLY_ACK) |
		      CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIGURE_MEM_SLOTS) |
		      CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_MQ);

	fds_at_start = tdev_count_fds();
	tdev_init(&dev);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	peer = sv[0];
	struct cvmm_vhost_backend_opts o = {
		.sz = sizeof(o), .sock = sv[1], .num_queues = TDEV_QUEUES,
		.max_mem_slots = 4, .ops = &tdev_ops, .opaque = &dev,
	};
	ck_assert_int_eq(cvmm_vhost_backend_create(&o, &be), 0);
	send_msg(CVMM_VHOST_SET_PROTOCOL_FEATURES, 0, &pf, 8, NULL, 0);
	PROCESS(0);
	expect_no_reply();
}

static void teardown(void)
{
	cvmm_vhost_backend_destroy(be);
	cvmm_close(peer);
	tdev_fini(&dev);
	ck_assert_int_eq(tdev_count_fds(), fds_at_start);
}

/* A memfd of @size bytes. */
static int memfd(uint64_t size)
{
	int fd = memfd_create("vhost-test", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* Fake frontend addresses: the backend never dereferences them. */
#define UVA0 0x7f0000000000ull

static void send_table(const struct cvmm_vhost_mem_region *r, uint32_t n, uint32_t nregions,
		       const int *fds, unsigned int nfds)
{
	/* Room for 9 regions: a peer may send more than the struct holds. */
	uint8_t buf[8 + 9 * sizeof(*r)] = { 0 };

	ck_assert_uint_le(n, 9);
	memcpy(buf, &nregions, 4);
	memcpy(buf + 8, r, n * sizeof(*r));
	send_msg(CVMM_VHOST_SET_MEM_TABLE, CVMM_VHOST_FLAG_NEED_REPLY, buf, 8 + n * 32, fds,
		 nfds);
}

static void table_case(const struct cvmm_vhost_mem_region *r, unsigned int n, uint64_t fdsize,
		       int want)
{
	int fds[8];

	for (unsigned int i = 0; i < n; i++)
		fds[i] = memfd(fdsize);
	send_table(r, n, n, fds, n);
	for (unsigned int i = 0; i < n; i++)
		cvmm_close(fds[i]);
	PROCESS(want);
	expect_ack(CVMM_VHOST_SET_MEM_TABLE, want);
}

/* ---- IOTLB (behind an IOMMU) ---------------------------------------------- */

static void state_msg(uint32_t req, uint32_t idx, uint32_t num, int want);

static void iotlb_send(uint64_t iova, uint64_t size, uint64_t uaddr, uint8_t perm, uint8_t type,
		       uint32_t flags)
{
	struct cvmm_vhost_iotlb_msg t = { iova, size, uaddr, perm, type, { 0 } };

	send_msg(CVMM_VHOST_IOTLB_MSG, flags, &t, sizeof(t), NULL, 0);
}

/* Hostile IOTLB_MSGs: each refused with its status (always answered, with
 * or without NEED_REPLY), nothing reaches the device, the backend goes on. */
START_TEST(iotlb_hostile)
{
	const uint64_t S = 1 << 16;
	struct cvmm_vhost_mem_region r[1] = { { 0, S, UVA0, 0 } };
	uint64_t f = TDEV_SPLIT;
	struct cvmm_vhost_vring_addr_wire a = { .index = 1, .desc_user_addr = 0x40000000,
						.avail_user_addr = 0x40001000,
						.used_user_addr = 0x40002000 };

	ck_assert_uint_eq(sizeof(struct cvmm_vhost_iotlb_msg), CVMM_VHOST_IOTLB_MSG_SIZE);
	table_case(r, 1, S, 0);
	/* Without ACCESS_PLATFORM acked there is no IOTLB. */
	iotlb_send(0x40000000, 0x1000, UVA0, 3, CVMM_VHOST_IOTLB_UPDATE, 0);
	PROCESS(-EOPNOTSUPP);
	expect_ack(CVMM_VHOST_IOTLB_MSG, -EOPNOTSUPP);
	f |= CVMM_VHOST_VIRTIO_F_ACCESS_PLATFORM;
	send_msg(CVMM_VHOST_SET_FEATURES, CVMM_VHOST_FLAG_NEED_REPLY, &f, 8, NULL, 0);
	PROCESS(0);
	expect_ack(CVMM_VHOST_SET_FEATURES, 0);

	/* A good UPDATE: the device gets the guest address of uaddr. */
	iotlb_send(0x40000000, 0x1000, UVA0 + 0x3000, 3, CVMM_VHOST_IOTLB_UPDATE,
		   CVMM_VHOST_FLAG_NEED_REPLY);
	PROCESS(0);
	expect_ack(CVMM_VHOST_IOTLB_MSG, 0);
	ck_assert_int_eq(dev.iotlb_calls, 1);
	ck_assert_uint_eq(dev.iotlb_gpa, 0x3000);
	ck_assert_uint_eq(dev.iotlb.perm, 3);

	struct {
		uint64_t iova, size, uaddr;
		uint8_t perm, type;
		int want;
	} bad[] = {
		{ 0x1000, 0, UVA0, 3, CVMM_VHOST_IOTLB_UPDATE, -EINVAL },           /* empty */
		{ 0x1000, 0, 0, 0, CVMM_VHOST_IOTLB_INVALIDATE, -EINVAL },          /* empty */
		{ ~0xfffull, 0x2000, UVA0, 3, CVMM_VHOST_IOTLB_UPDATE, -EINVAL },   /* iova wraps */
		{ ~0xfffull, 0x2000, 0, 0, CVMM_VHOST_IOTLB_INVALIDATE, -EINVAL },  /* iova wraps */
		{ 0x1000, 0x1000, UVA0, 3, 9, -EINVAL },                            /* unknown type */
		{ 0x1000, 0x1000, UVA0, 3, 0, -EINVAL },
		{ 0x1000, 0x1000, UVA0, 3, CVMM_VHOST_IOTLB_MISS, -EINVAL },        /* backend's */
		{ 0x1000, 0x1000, UVA0, 3, CVMM_VHOST_IOTLB_ACCESS_FAIL, -EINVAL },
		{ 0x1000, 0x1000, UVA0, 0, CVMM_VHOST_IOTLB_UPDATE, -EINVAL },      /* no perm */
		{ 0x1000, 0x1000, UVA0, 4, CVMM_VHOST_IOTLB_UPDATE, -EINVAL },      /* unknown perm */
		{ 0x1000, 0x1000, UVA0, 0xff, CVMM_VHOST_IOTLB_UPDATE, -EINVAL },
		{ 0x1000, 0x1000, UVA0 - 0x1000, 3, CVMM_VHOST_IOTLB_UPDATE, -EFAULT }, /* before */
		{ 0x1000, 0x2000, UVA0 + S - 0x1000, 3, CVMM_VHOST_IOTLB_UPDATE, -EFAULT }, /* crosses */
		{ 0x1000, 0x1000, ~0xfffull, 3, CVMM_VHOST_IOTLB_UPDATE, -EFAULT }, /* uaddr wraps */
		{ 0, ~0ull, UVA0, 3, CVMM_VHOST_IOTLB_UPDATE, -EFAULT },            /* huge */
	};
	for (unsigned int i = 0; i < CVMM_ARRAY_SIZE(bad); i++) {
		/* answered whether asked or not: the protocol always replies */
		iotlb_send(bad[i].iova, bad[i].size, bad[i].uaddr, bad[i].perm, bad[i].type,
			   i & 1 ? CVMM_VHOST_FLAG_NEED_REPLY : 0);
		PROCESS(bad[i].want);
		expect_ack(CVMM_VHOST_IOTLB_MSG, bad[i].want);
	}
	ck_assert_int_eq(dev.iotlb_calls, 1);
	/* Wrong sizes: the payload is exactly 32 bytes. */
	for (uint32_t sz = 24; sz <= 40; sz += 8) {
		uint8_t buf[40] = { 0 };

		if (sz == 32)
			continue;
		send_msg(CVMM_VHOST_IOTLB_MSG, CVMM_VHOST_FLAG_NEED_REPLY, buf, sz, NULL, 0);
		PROCESS(-EINVAL);
		expect_ack(CVMM_VHOST_IOTLB_MSG, -EINVAL);
	}
	/* The whole space but its last byte (size is 64 bits), then that byte. */
	iotlb_send(0, ~0ull, 0, 0, CVMM_VHOST_IOTLB_INVALIDATE, 0);
	PROCESS(0);
	expect_ack(CVMM_VHOST_IOTLB_MSG, 0);
	iotlb_send(~0ull, 1, 0, 0, CVMM_VHOST_IOTLB_INVALIDATE, 0);
	PROCESS(0);
	expect_ack(CVMM_VHOST_IOTLB_MSG, 0);
	ck_assert_int_eq(dev.iotlb_calls, 3);
	/* A callback's refusal travels back. */
	dev.fail_next = -ENOSPC;
	iotlb_send(0x2000, 0x1000, UVA0, 1, CVMM_VHOST_IOTLB_UPDATE, 0);
	PROCESS(-ENOSPC);
	expect_ack(CVMM_VHOST_IOTLB_MSG, -ENOSPC);

	/* Ring addresses are IOVAs now: not in the table, still accepted;
	 * ends that wrap are not. */
	state_msg(CVMM_VHOST_SET_VRING_NUM, 1, 256, 0);
	send_msg(CVMM_VHOST_SET_VRING_ADDR, CVMM_VHOST_FLAG_NEED_REPLY, &a, 40, NULL, 0);
	PROCESS(0);
	expect_ack(CVMM_VHOST_SET_VRING_ADDR, 0);
	ck_assert_uint_eq(dev.addr[1].desc_gpa, 0x40000000);
	ck_assert_uint_eq(dev.addr[1].used_gpa, 0x40002000);
	a.used_user_addr = ~0x3ull;
	send_msg(CVMM_VHOST_SET_VRING_ADDR, CVMM_VHOST_FLAG_NEED_REPLY, &a, 40, NULL, 0);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_VRING_ADDR, -EINVAL);
	still_alive();
}
END_TEST

/* ---- framing ------------------------------------------------------------ */

START_TEST(truncated_header)
{
	uint8_t half[6] = { 1, 0, 0, 0, 1, 0 };

	raw_send(half, sizeof(half), NULL, 0);
	shutdown(peer, SHUT_WR);
	PROCESS(-EPIPE);
	ck_assert(!cvmm_vhost_backend_connected(be));
	PROCESS(-ENOTCONN);
}
END_TEST

START_TEST(truncated_payload)
{
	struct cvmm_vhost_hdr h = { CVMM_VHOST_SET_FEATURES, 1, 8 };

	raw_send(&h, 12, NULL, 0);
	raw_send("abc", 3, NULL, 0);
	shutdown(peer, SHUT_WR);
	PROCESS(-EPIPE);
	PROCESS(-ENOTCONN);
}
END_TEST

static void *late_writer(void *arg)
{
	usleep(50000);
	raw_send(arg, 4, NULL, 0);
	return NULL;
}

START_TEST(nonblocking_socket)
{
	int bfd = cvmm_vhost_backend_fd(be);
	uint64_t f = TDEV_SPLIT;
	uint8_t buf[20];
	pthread_t th;

	ck_assert_int_eq(fcntl(bfd, F_SETFL, fcntl(bfd, F_GETFL) | O_NONBLOCK), 0);
	PROCESS(-EAGAIN);
	ck_assert(cvmm_vhost_backend_connected(be));
	/* A message whose tail arrives later: waited for, never half-read. */
	struct cvmm_vhost_hdr h = { CVMM_VHOST_SET_FEATURES, 1 | CVMM_VHOST_FLAG_NEED_REPLY, 8 };
	memcpy(buf, &h, 12);
	memcpy(buf + 12, &f, 8);
	raw_send(buf, 16, NULL, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, late_writer, buf + 16), 0);
	PROCESS(0);
	pthread_join(th, NULL);
	expect_ack(CVMM_VHOST_SET_FEATURES, 0);
	ck_assert_uint_eq(dev.acked_features, TDEV_SPLIT);
	PROCESS(-EAGAIN);
	still_alive();
}
END_TEST

START_TEST(size_above_max)
{
	int ev = cvmm_eventfd_create(0);

	send_msg(CVMM_VHOST_SET_FEATURES, 0, NULL, 0, NULL, 0);
	PROCESS(-EINVAL); /* size 0 for an 8-byte request: refused, alive */
	/* A header announcing more than any request carries: stream broken. */
	struct cvmm_vhost_hdr h = { CVMM_VHOST_SET_FEATURES, 1, CVMM_VHOST_MAX_PAYLOAD + 1 };
	raw_send(&h, 12, &ev, 1);
	cvmm_close(ev);
	PROCESS(-EPROTO);
	PROCESS(-ENOTCONN);
}
END_TEST

START_TEST(bad_version)
{
	struct cvmm_vhost_hdr h = { CVMM_VHOST_GET_FEATURES, 2, 0 };

	raw_send(&h, 12, NULL, 0);
	PROCESS(-EPROTO);
	ck_assert(!cvmm_vhost_backend_connected(be));
}
END_TEST

START_TEST(size_mismatch)
{
	uint8_t junk[64] = { 0 };

	send_msg(CVMM_VHOST_SET_FEATURES, CVMM_VHOST_FLAG_NEED_REPLY, junk, 4, NULL, 0);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_FEATURES, -EINVAL);
	send_msg(CVMM_VHOST_SET_VRING_ADDR, CVMM_VHOST_FLAG_NEED_REPLY, junk, 48, NULL, 0);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_VRING_ADDR, -EINVAL);
	/* A GET with a payload: answered with a zero-size reply. */
	send_msg(CVMM_VHOST_GET_FEATURES, 0, junk, 8, NULL, 0);
	PROCESS(-EINVAL);
	struct cvmm_vhost_msg m;
	ck_assert(get_reply(&m));
	ck_assert_uint_eq(m.hdr.request, CVMM_VHOST_GET_FEATURES);
	ck_assert_uint_eq(m.hdr.size, 0);
	still_alive();
}
END_TEST

START_TEST(unknown_requests)
{
	int ev = cvmm_eventfd_create(0);
	uint8_t junk[16] = { 0 };

	send_msg(999, CVMM_VHOST_FLAG_NEED_REPLY, junk, 16, &ev, 1);
	PROCESS(-EOPNOTSUPP);
	expect_ack(999, -EOPNOTSUPP);
	send_msg(0, 0, NULL, 0, NULL, 0);
	PROCESS(-EOPNOTSUPP);
	expect_no_reply();
	send_msg(CVMM_VHOST_SEND_RARP, 0, junk, 8, NULL, 0);
	PROCESS(-EOPNOTSUPP);
	send_msg(CVMM_VHOST_REQ_MAX, 0, NULL, 0, NULL, 0);
	PROCESS(-EOPNOTSUPP);
	/* A known request whose protocol feature was not negotiated. */
	send_msg(CVMM_VHOST_GET_STATUS, 0, NULL, 0, NULL, 0);
	PROCESS(-EOPNOTSUPP);
	struct cvmm_vhost_msg m;
	ck_assert(get_reply(&m));
	ck_assert_uint_eq(m.hdr.size, 0);
	/* Protocol features outside the offer. */
	uint64_t pf = CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_STATUS);
	send_msg(CVMM_VHOST_SET_PROTOCOL_FEATURES, 0, &pf, 8, NULL, 0);
	PROCESS(-EINVAL);
	cvmm_close(ev);
	still_alive();
}
END_TEST

START_TEST(fds_where_none_belong)
{
	int ev[12];
	uint64_t f = TDEV_FEATURES;
	int before;

	for (int i = 0; i < 12; i++)
		ev[i] = cvmm_eventfd_create(0);
	before = tdev_count_fds();
	send_msg(CVMM_VHOST_SET_FEATURES, CVMM_VHOST_FLAG_NEED_REPLY, &f, 8, ev, 2);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_FEATURES, -EINVAL);
	/* 12 fds: more than any message may carry, but the message is whole. */
	send_msg(CVMM_VHOST_SET_FEATURES, CVMM_VHOST_FLAG_NEED_REPLY, &f, 8, ev, 12);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_FEATURES, -EINVAL);
	ck_assert_int_eq(tdev_count_fds(), before);
	still_alive();
	for (int i = 0; i < 12; i++)
		cvmm_close(ev[i]);
}
END_TEST

START_TEST(fd_flood)
{
	int ev[40];
	uint64_t f = TDEV_FEATURES;
	int before;

	for (int i = 0; i < 40; i++)
		ev[i] = cvmm_eventfd_create(0);
	before = tdev_count_fds();
	/* Beyond what the receive path takes: framing is lost, connection dead. */
	send_msg(CVMM_VHOST_SET_FEATURES, 0, &f, 8, ev, 40);
	PROCESS(-EPROTO);
	ck_assert_int_eq(tdev_count_fds(), before);
	for (int i = 0; i < 40; i++)
		cvmm_close(ev[i]);
}
END_TEST

/* ---- memory table --------------------------------------------------------- */

START_TEST(mem_table_counts)
{
	struct cvmm_vhost_mem_region r[9];
	int fds[9];

	for (int i = 0; i < 9; i++) {
		r[i] = (struct cvmm_vhost_mem_region){ (uint64_t)i << 20, 1 << 16,
						       UVA0 + ((uint64_t)i << 20), 0 };
		fds[i] = memfd(1 << 16);
	}
	/* Zero regions. */
	send_table(r, 0, 0, NULL, 0);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_MEM_TABLE, -EINVAL);
	/* nregions 9 in a message sized for 8. */
	send_table(r, 8, 9, fds, 8);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_MEM_TABLE, -EINVAL);
	/* 8 regions is the limit and works. */
	send_table(r, 8, 8, fds, 8);
	PROCESS(0);
	expect_ack(CVMM_VHOST_SET_MEM_TABLE, 0);
	ck_assert_uint_eq(dev.nregions, 8);
	/* More fds than regions: refused, the extras closed. */
	int before = tdev_count_fds();
	send_table(r, 2, 2, fds, 3);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_MEM_TABLE, -EINVAL);
	/* Fewer. */
	send_table(r, 2, 2, fds, 1);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_MEM_TABLE, -EINVAL);
	ck_assert_int_eq(tdev_count_fds(), before);
	ck_assert_uint_eq(dev.nregions, 8); /* the old table stays */
	still_alive();
	/* 9 regions: 296 payload bytes exceed every request: stream broken. */
	send_table(r, 9, 9, fds, 0);
	PROCESS(-EPROTO);
	for (int i = 0; i < 9; i++)
		cvmm_close(fds[i]);
}
END_TEST

START_TEST(mem_table_hostile_regions)
{
	const uint64_t S = 1 << 16;
	struct cvmm_vhost_mem_region ov_gpa[2] = { { 0, S, UVA0, 0 }, { S / 2 * 0 + 0x8000, S, UVA0 + S, 0 } };
	struct cvmm_vhost_mem_region ov_uva[2] = { { 0, S, UVA0, 0 }, { 1 << 20, S, UVA0 + S - 4096, 0 } };
	struct cvmm_vhost_mem_region wrap[1] = { { 0xfffffffffffff000ull, 0x2000, UVA0, 0 } };
	struct cvmm_vhost_mem_region wrap_uva[1] = { { 0, 0x2000, 0xfffffffffffff000ull, 0 } };
	struct cvmm_vhost_mem_region off[1] = { { 0, S, UVA0, S } };
	struct cvmm_vhost_mem_region off_wrap[1] = { { 0, S, UVA0, 0xfffffffffffff000ull } };
	struct cvmm_vhost_mem_region unaligned[1] = { { 0x800, S, UVA0, 0 } };
	struct cvmm_vhost_mem_region empty[1] = { { 0, 0, UVA0, 0 } };
	struct cvmm_vhost_mem_region good[1] = { { 0, S, UVA0, 0 } };

	ov_gpa[1].guest_phys_addr = 0x8000;
	table_case(ov_gpa, 2, S, -EINVAL);
	table_case(ov_uva, 2, S, -EINVAL);
	table_case(wrap, 1, 0x2000, -EINVAL);
	table_case(wrap_uva, 1, 0x2000, -EINVAL);
	table_case(off, 1, S, -EINVAL);      /* mmap_offset + size beyond the fd */
	table_case(off_wrap, 1, S, -EINVAL);
	table_case(unaligned, 1, S, -EINVAL);
	table_case(empty, 1, S, -EINVAL);
	ck_assert_uint_eq(dev.mem_table_calls, 0);
	/* An fd that is not a file. */
	int ev = cvmm_eventfd_create(0);
	send_table(good, 1, 1, &ev, 1);
	cvmm_close(ev);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_MEM_TABLE, -EINVAL);
	table_case(good, 1, S, 0);
	ck_assert_uint_eq(dev.mem_table_calls, 1);
	still_alive();
}
END_TEST

START_TEST(add_rem_hostile)
{
	const uint64_t S = 1 << 16;
	struct cvmm_vhost_single_mem_region one = { 0, { 0, S, UVA0, 0 } };
	int fd = memfd(S);

	/* No fd. */
	send_msg(CVMM_VHOST_ADD_MEM_REG, CVMM_VHOST_FLAG_NEED_REPLY, &one, 40, NULL, 0);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_ADD_MEM_REG, -EINVAL);
	for (int i = 0; i < 4; i++) {
		one.region.guest_phys_addr = (uint64_t)i << 20;
		one.region.userspace_addr = UVA0 + ((uint64_t)i << 20);
		send_msg(CVMM_VHOST_ADD_MEM_REG, CVMM_VHOST_FLAG_NEED_REPLY, &one, 40, &fd, 1);
		PROCESS(0);
		expect_ack(CVMM_VHOST_ADD_MEM_REG, 0);
	}
	/* The fifth exceeds max_mem_slots. */
	one.region.guest_phys_addr = 8 << 20;
	one.region.userspace_addr = UVA0 + (8ull << 20);
	send_msg(CVMM_VHOST_ADD_MEM_REG, CVMM_VHOST_FLAG_NEED_REPLY, &one, 40, &fd, 1);
	PROCESS(-E2BIG);
	expect_ack(CVMM_VHOST_ADD_MEM_REG, -E2BIG);
	/* Removing one that is not there. */
	send_msg(CVMM_VHOST_REM_MEM_REG, CVMM_VHOST_FLAG_NEED_REPLY, &one, 40, NULL, 0);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_REM_MEM_REG, -EINVAL);
	/* Removing with a stray fd (tolerated by the spec, and closed). */
	one.region.guest_phys_addr = 1 << 20;
	one.region.userspace_addr = UVA0 + (1ull << 20);
	int before = tdev_count_fds();
	send_msg(CVMM_VHOST_REM_MEM_REG, CVMM_VHOST_FLAG_NEED_REPLY, &one, 40, &fd, 1);
	PROCESS(0);
	expect_ack(CVMM_VHOST_REM_MEM_REG, 0);
	ck_assert_int_lt(tdev_count_fds(), before); /* the region's fd went too */
	ck_assert_uint_eq(dev.nregions, 3);
	/* The same region again (QEMU sends one per vhost device sharing the
	 * connection): counted, not mapped twice, and the first REM_MEM_REG
	 * only drops that count. */
	before = tdev_count_fds();
	one.region.guest_phys_addr = 2 << 20;
	one.region.userspace_addr = UVA0 + (2ull << 20);
	send_msg(CVMM_VHOST_ADD_MEM_REG, CVMM_VHOST_FLAG_NEED_REPLY, &one, 40, &fd, 1);
	PROCESS(0);
	expect_ack(CVMM_VHOST_ADD_MEM_REG, 0);
	ck_assert_uint_eq(dev.nregions, 3);
	ck_assert_int_eq(tdev_count_fds(), before); /* the duplicate's fd was closed */
	send_msg(CVMM_VHOST_REM_MEM_REG, CVMM_VHOST_FLAG_NEED_REPLY, &one, 40, NULL, 0);
	PROCESS(0);
	expect_ack(CVMM_VHOST_REM_MEM_REG, 0);
	ck_assert_uint_eq(dev.nregions, 3);
	send_msg(CVMM_VHOST_REM_MEM_REG, CVMM_VHOST_FLAG_NEED_REPLY, &one, 40, NULL, 0);
	PROCESS(0);
	expect_ack(CVMM_VHOST_REM_MEM_REG, 0);
	ck_assert_uint_eq(dev.nregions, 2);
	send_msg(CVMM_VHOST_REM_MEM_REG, CVMM_VHOST_FLAG_NEED_REPLY, &one, 40, NULL, 0);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_REM_MEM_REG, -EINVAL);
	one.region.userspace_addr = UVA0 + (1ull << 20);
	/* An overlapping add. */
	one.region.guest_phys_addr = 3 << 20; /* region 3 is still mapped */
	send_msg(CVMM_VHOST_ADD_MEM_REG, CVMM_VHOST_FLAG_NEED_REPLY, &one, 40, &fd, 1);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_ADD_MEM_REG, -EINVAL);
	cvmm_close(fd);
	still_alive();
}
END_TEST

/* ---- vrings ---------------------------------------------------------------- */

static void state_msg(uint32_t req, uint32_t idx, uint32_t num, int want)
{
	struct cvmm_vhost_vring_state s = { idx, num };

	send_msg(req, CVMM_VHOST_FLAG_NEED_REPLY, &s, 8, NULL, 0);
	PROCESS(want);
	if (req == CVMM_VHOST_GET_VRING_BASE) {
		struct cvmm_vhost_msg m;

		ck_assert(get_reply(&m));
		ck_assert_uint_eq(m.hdr.size, want < 0 ? 0 : 8);
	} else {
		expect_ack(req, want);
	}
}

START_TEST(vring_index_and_num)
{
	state_msg(CVMM_VHOST_SET_VRING_NUM, TDEV_QUEUES, 64, -EINVAL);
	state_msg(CVMM_VHOST_SET_VRING_NUM, 0xffffffff, 64, -EINVAL);
	state_msg(CVMM_VHOST_SET_VRING_NUM, 0, 0, -EINVAL);
	state_msg(CVMM_VHOST_SET_VRING_NUM, 0, 3, -EINVAL);
	state_msg(CVMM_VHOST_SET_VRING_NUM, 0, 65536, -EINVAL);
	state_msg(CVMM_VHOST_SET_VRING_NUM, 0, 32768, 0);
	state_msg(CVMM_VHOST_SET_VRING_BASE, TDEV_QUEUES, 0, -EINVAL);
	state_msg(CVMM_VHOST_GET_VRING_BASE, TDEV_QUEUES, 0, -EINVAL);
	state_msg(CVMM_VHOST_GET_VRING_BASE, 0, 0, 0);
	state_msg(CVMM_VHOST_SET_VRING_ENABLE, TDEV_QUEUES, 1, -EINVAL);
	state_msg(CVMM_VHOST_SET_VRING_ENABLE, 0, 2, -EINVAL);

	int ev = cvmm_eventfd_create(0);
	uint64_t v = TDEV_QUEUES;
	send_msg(CVMM_VHOST_SET_VRING_KICK, CVMM_VHOST_FLAG_NEED_REPLY, &v, 8, &ev, 1);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_VRING_KICK, -EINVAL);
	v = 1 | CVMM_VHOST_VRING_NOFD_MASK; /* "no fd" yet an fd */
	send_msg(CVMM_VHOST_SET_VRING_CALL, CVMM_VHOST_FLAG_NEED_REPLY, &v, 8, &ev, 1);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_VRING_CALL, -EINVAL);
	v = 1; /* an fd promised, none sent */
	send_msg(CVMM_VHOST_SET_VRING_ERR, CVMM_VHOST_FLAG_NEED_REPLY, &v, 8, NULL, 0);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_VRING_ERR, -EINVAL);
	v = 1 | (1ull << 40); /* undefined bits */
	send_msg(CVMM_VHOST_SET_VRING_KICK, CVMM_VHOST_FLAG_NEED_REPLY, &v, 8, &ev, 1);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_VRING_KICK, -EINVAL);
	v = 1;
	send_msg(CVMM_VHOST_SET_VRING_KICK, CVMM_VHOST_FLAG_NEED_REPLY, &v, 8, &ev, 1);
	PROCESS(0);
	expect_ack(CVMM_VHOST_SET_VRING_KICK, 0);
	ck_assert_int_ge(dev.kick[1], 0);
	cvmm_close(ev);
	ck_assert_int_eq(dev.kick[0], -1);
	still_alive();
}
END_TEST

START_TEST(vring_addr_outside)
{
	const uint64_t S = 1 << 16;
	struct cvmm_vhost_mem_region good[2] = { { 0, S, UVA0, 0 }, { 1 << 20, S, UVA0 + (4 << 20), 0 } };
	struct cvmm_vhost_vring_addr_wire a = { .index = 1, .desc_user_addr = UVA0,
						.avail_user_addr = UVA0 + 0x1000,
						.used_user_addr = UVA0 + 0x2000 };

	/* Before SET_VRING_NUM the ring sizes are unknown. */
	send_msg(CVMM_VHOST_SET_VRING_ADDR, CVMM_VHOST_FLAG_NEED_REPLY, &a, 40, NULL, 0);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_VRING_ADDR, -EINVAL);
	state_msg(CVMM_VHOST_SET_VRING_NUM, 1, 256, 0);
	/* No memory table yet: nothing is inside. */
	send_msg(CVMM_VHOST_SET_VRING_ADDR, CVMM_VHOST_FLAG_NEED_REPLY, &a, 40, NULL, 0);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_VRING_ADDR, -EINVAL);
	table_case(good, 2, S, 0);
	send_msg(CVMM_VHOST_SET_VRING_ADDR, CVMM_VHOST_FLAG_NEED_REPLY, &a, 40, NULL, 0);
	PROCESS(0);
	expect_ack(CVMM_VHOST_SET_VRING_ADDR, 0);
	ck_assert_uint_eq(dev.addr[1].avail_gpa, 0x1000);

	struct cvmm_vhost_vring_addr_wire bad[] = {
		{ 1, 0, UVA0 - 0x1000, UVA0 + 0x2000, UVA0 + 0x1000, 0 },     /* desc before */
		{ 1, 0, UVA0 + S - 0x800, UVA0 + 0x2000, UVA0 + 0x1000, 0 }, /* desc crosses end */
		{ 1, 0, UVA0, UVA0 + S, UVA0 + 0x1000, 0 },                  /* used just past */
		{ 1, 0, UVA0, UVA0 + 0x2000, UVA0 + (2 << 20), 0 },           /* avail in a hole */
		{ 1, 0, UVA0, UVA0 + 0x2000, 0xfffffffffffffff0ull, 0 },      /* avail wraps */
		{ 1, 0, UVA0 + 8, UVA0 + 0x2000, UVA0 + 0x1000, 0 },          /* misaligned desc */
		{ 1, 0x2, UVA0, UVA0 + 0x2000, UVA0 + 0x1000, 0 },            /* unknown flag */
		{ TDEV_QUEUES, 0, UVA0, UVA0 + 0x2000, UVA0 + 0x1000, 0 },    /* index */
		/* Spanning two regions that are adjacent in neither space. */
		{ 1, 0, UVA0 + (4 << 20) - 0x800, UVA0 + 0x2000, UVA0 + 0x1000, 0 },
	};
	for (unsigned int i = 0; i < CVMM_ARRAY_SIZE(bad); i++) {
		send_msg(CVMM_VHOST_SET_VRING_ADDR, CVMM_VHOST_FLAG_NEED_REPLY, &bad[i], 40,
			 NULL, 0);
		PROCESS(-EINVAL);
		expect_ack(CVMM_VHOST_SET_VRING_ADDR, -EINVAL);
	}
	/* The second region works too, translated to its own GPA. */
	a.desc_user_addr = UVA0 + (4 << 20) + 0x100 * 16;
	send_msg(CVMM_VHOST_SET_VRING_ADDR, CVMM_VHOST_FLAG_NEED_REPLY, &a, 40, NULL, 0);
	PROCESS(0);
	expect_ack(CVMM_VHOST_SET_VRING_ADDR, 0);
	ck_assert_uint_eq(dev.addr[1].desc_gpa, (1 << 20) + 0x1000);
	(void)u64;
	still_alive();
}
END_TEST

START_TEST(packed_ring_sizes)
{
	const uint64_t S = 1 << 16;
	struct cvmm_vhost_mem_region good[1] = { { 0, S, UVA0, 0 } };
	uint64_t f = TDEV_SPLIT | TDEV_F_RING_PACKED; /* packed, no IOMMU */

	table_case(good, 1, S, 0);
	/* Split: 100 is not a power of two; packed: fine. */
	state_msg(CVMM_VHOST_SET_VRING_NUM, 0, 100, -EINVAL);
	send_msg(CVMM_VHOST_SET_FEATURES, CVMM_VHOST_FLAG_NEED_REPLY, &f, 8, NULL, 0);
	PROCESS(0);
	expect_ack(CVMM_VHOST_SET_FEATURES, 0);
	state_msg(CVMM_VHOST_SET_VRING_NUM, 0, 100, 0);
	state_msg(CVMM_VHOST_SET_VRING_NUM, 0, 32769, -EINVAL);
	/* Packed event areas are 4 bytes: the last word of the region fits. */
	struct cvmm_vhost_vring_addr_wire a = { 0, 0, UVA0, UVA0 + S - 4, UVA0 + S - 8, 0 };
	send_msg(CVMM_VHOST_SET_VRING_ADDR, CVMM_VHOST_FLAG_NEED_REPLY, &a, 40, NULL, 0);
	PROCESS(0);
	expect_ack(CVMM_VHOST_SET_VRING_ADDR, 0);
	ck_assert_uint_eq(dev.addr[0].used_gpa, S - 4);
	a.used_user_addr = UVA0 + S - 2;
	send_msg(CVMM_VHOST_SET_VRING_ADDR, CVMM_VHOST_FLAG_NEED_REPLY, &a, 40, NULL, 0);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_VRING_ADDR, -EINVAL);
	/* The descriptor ring still needs 16 * num bytes. */
	a.used_user_addr = UVA0 + S - 4;
	a.desc_user_addr = UVA0 + S - 16 * 99;
	send_msg(CVMM_VHOST_SET_VRING_ADDR, CVMM_VHOST_FLAG_NEED_REPLY, &a, 40, NULL, 0);
	PROCESS(-EINVAL);
	expect_ack(CVMM_VHOST_SET_VRING_ADDR, -EINVAL);
}
END_TEST

START_TEST(config_hostile)
{
	struct cvmm_vhost_config c = { .offset = 0, .size = 4 };
	uint64_t pf = CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_REPLY_ACK);
	struct cvmm_vhost_msg m;

	/* Not negotiated. */
	send_msg(CVMM_VHOST_GET_CONFIG, 0, &c, 16, NULL, 0);
	PROCESS(-EOPNOTSUPP);
	ck_assert(get_reply(&m));
	ck_assert_uint_eq(m.hdr.size, 0);
	(void)pf;
}
END_TEST

START_TEST(checker_config_rules)
{
	/* The size rules of GET/SET_CONFIG, straight on the checker. */
	struct cvmm_vhost_msg m = { .hdr = { CVMM_VHOST_SET_CONFIG, 1, 16 } };

	m.payload.config.size = 4;
	ck_assert_int_eq(cvmm_vhost_msg_check_frontend(&m), 0);
	m.hdr.size = 17;
	ck_assert_int_eq(cvmm_vhost_msg_check_frontend(&m), -EINVAL);
	m.hdr.size = 12;
	m.payload.config.size = 0;
	ck_assert_int_eq(cvmm_vhost_msg_check_frontend(&m), -EINVAL);
	m.hdr.size = 12 + 256;
	m.payload.config.size = 256;
	ck_assert_int_eq(cvmm_vhost_msg_check_frontend(&m), 0);
	m.payload.config.offset = 1;
	ck_assert_int_eq(cvmm_vhost_msg_check_frontend(&m), -EINVAL);
	m.payload.config.offset = 0xffffffff;
	m.payload.config.size = 4;
	m.hdr.size = 16;
	ck_assert_int_eq(cvmm_vhost_msg_check_frontend(&m), -EINVAL);
	m.hdr.size = 8;
	ck_assert_int_eq(cvmm_vhost_msg_check_frontend(&m), -EINVAL);
	m.hdr.request = CVMM_VHOST_GET_FEATURES;
	ck_assert_int_eq(cvmm_vhost_msg_check_frontend(&m), -EINVAL);
	m.hdr.size = 0;
	ck_assert_int_eq(cvmm_vhost_msg_check_frontend(&m), 0);
	m.nfds = 1;
	ck_assert_int_eq(cvmm_vhost_msg_check_frontend(&m), -EINVAL);
	ck_assert_str_eq(cvmm_vhost_req_name(CVMM_VHOST_SET_MEM_TABLE), "SET_MEM_TABLE");
	ck_assert_str_eq(cvmm_vhost_req_name(12345), "UNKNOWN");
}
END_TEST

START_TEST(regions_check_direct)
{
	struct cvmm_vhost_mem_region r[2] = { { 0, 4096, 0x10000, 0 }, { 4096, 4096, 0x11000, 0 } };
	uint64_t gpa;

	ck_assert_int_eq(cvmm_vhost_mem_regions_check(r, NULL, 2, 8), 0);
	ck_assert_int_eq(cvmm_vhost_mem_regions_check(r, NULL, 2, 1), -E2BIG);
	ck_assert_int_eq(cvmm_vhost_mem_regions_check(r, NULL, 0, 8), -EINVAL);
	ck_assert_int_eq(cvmm_vhost_uva_to_gpa(r, 2, 0x11000, 4096, &gpa), 0);
	ck_assert_uint_eq(gpa, 4096);
	ck_assert_int_eq(cvmm_vhost_uva_to_gpa(r, 2, 0x10800, 4096, &gpa), -EFAULT);
	ck_assert_int_eq(cvmm_vhost_uva_to_gpa(r, 2, 0x12000, 0, &gpa), -EFAULT);
	ck_assert_int_eq(cvmm_vhost_uva_to_gpa(r, 2, UINT64_MAX, 2, &gpa), -EFAULT);
	ck_assert_int_eq(cvmm_vhost_uva_to_gpa(r, 2, 0x10fff, 1, &gpa), 0);
	ck_assert_uint_eq(gpa, 0xfff);
}
END_TEST

/* ---- a hostile backend: replies written before the frontend asks ---------- */

static struct cvmm_vhost_frontend *fe;

static void fe_setup(void)
{
	int sv[2];

	fds_at_start = tdev_count_fds();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	peer = sv[0];
	ck_assert_int_eq(cvmm_vhost_frontend_create(sv[1], &fe), 0);
}

static void fe_teardown(void)
{
	cvmm_vhost_frontend_destroy(fe);
	cvmm_close(peer);
	ck_assert_int_eq(tdev_count_fds(), fds_at_start);
}

static void reply(uint32_t req, const void *payload, uint32_t size, const int *fds,
		  unsigned int nfds)
{
	send_msg(req, CVMM_VHOST_FLAG_REPLY, payload, size, fds, nfds);
}

/* Read and drop what the frontend sent, closing any fds. */
static void drop_request(void)
{
	struct cvmm_vhost_msg m;

	ck_assert_int_eq(cvmm_vhost_msg_recv(peer, &m), 0);
	cvmm_vhost_msg_close_fds(&m);
}

START_TEST(fe_bad_replies)
{
	uint64_t v = 7, f;
	int ev = cvmm_eventfd_create(0);

	reply(CVMM_VHOST_GET_PROTOCOL_FEATURES, &v, 8, NULL, 0); /* another request */
	ck_assert_int_eq(cvmm_vhost_frontend_get_features(fe, &f), -EPROTO);
	drop_request();
	reply(CVMM_VHOST_GET_FEATURES, &v, 4, NULL, 0); /* short */
	ck_assert_int_eq(cvmm_vhost_frontend_get_features(fe, &f), -EPROTO);
	drop_request();
	reply(CVMM_VHOST_GET_FEATURES, NULL, 0, NULL, 0); /* a refusal */
	ck_assert_int_eq(cvmm_vhost_frontend_get_features(fe, &f), -EIO);
	drop_request();
	send_msg(CVMM_VHOST_GET_FEATURES, 0, &v, 8, NULL, 0); /* REPLY flag missing */
	ck_assert_int_eq(cvmm_vhost_frontend_get_features(fe, &f), -EPROTO);
	drop_request();
	reply(CVMM_VHOST_GET_FEATURES, &v, 8, &ev, 1); /* an fd nobody asked for: closed */
	ck_assert_int_eq(cvmm_vhost_frontend_get_features(fe, &f), 0);
	ck_assert_uint_eq(f, 7);
	drop_request();
	struct cvmm_vhost_vring_state st = { 3, 9 };
	reply(CVMM_VHOST_GET_VRING_BASE, &st, 8, NULL, 0); /* for another ring */
	unsigned int base;
	ck_assert_int_eq(cvmm_vhost_frontend_get_vring_base(fe, 1, &base), -EPROTO);
	drop_request();
	/* Status above a byte. */
	v = 0x1ff;
	reply(CVMM_VHOST_GET_STATUS, &v, 8, NULL, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_protocol_features(fe, CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_STATUS)), 0);
	drop_request();
	uint8_t s8;
	ck_assert_int_eq(cvmm_vhost_frontend_get_status(fe, &s8), -EPROTO);
	drop_request();
	/* The backend hangs up. */
	shutdown(peer, SHUT_WR);
	ck_assert_int_eq(cvmm_vhost_frontend_get_features(fe, &f), -EPIPE);
	cvmm_close(ev);
}
END_TEST

/* GET_VRING_BASE replies must fit the ring format the frontend acked; a
 * base that does not fit is not sent at all. No REPLY_ACK here: set-up
 * requests have no reply. */
START_TEST(fe_vring_base_encoding)
{
	struct cvmm_vhost_vring_state st = { 1, 0x10000 };
	unsigned int base;

	/* split: 16 bits */
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_base(fe, 1, 0x10000), -EINVAL);
	reply(CVMM_VHOST_GET_VRING_BASE, &st, 8, NULL, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_vring_base(fe, 1, &base), -EPROTO);
	drop_request();
	/* packed: both slots below the ring size */
	ck_assert_int_eq(cvmm_vhost_frontend_set_features(fe, CVMM_VHOST_VIRTIO_F_RING_PACKED), 0);
	drop_request();
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_num(fe, 1, 100), 0);
	drop_request();
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_base(fe, 1, 100), -EINVAL);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_base(fe, 1, 100u << 16), -EINVAL);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_base(fe, 1, 0x00638063u), 0); /* 99 both, wraps 1, 0 */
	drop_request();
	st.num = 0x80008000u | 100u << 16;
	reply(CVMM_VHOST_GET_VRING_BASE, &st, 8, NULL, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_vring_base(fe, 1, &base), -EPROTO);
	drop_request();
	st.num = 0x80638063u;
	reply(CVMM_VHOST_GET_VRING_BASE, &st, 8, NULL, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_vring_base(fe, 1, &base), 0);
	ck_assert_uint_eq(base, 0x80638063u);
	drop_request();
	/* after RESET_DEVICE the frontend is back to split */
	uint64_t pf = CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_RESET_DEVICE);
	ck_assert_int_eq(cvmm_vhost_frontend_set_protocol_features(fe, pf), 0);
	drop_request();
	ck_assert_int_eq(cvmm_vhost_frontend_reset_device(fe), 0);
	drop_request();
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_base(fe, 1, 0x80638063u), -EINVAL);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_base(fe, 1, 0xffff), 0);
	drop_request();
}
END_TEST

START_TEST(fe_bad_acks_and_fd_replies)
{
	uint64_t pf = CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_REPLY_ACK) |
		      CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_INFLIGHT_SHMFD) |
		      CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_DEVICE_STATE) |
		      CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIG);
	uint64_t v;
	int ev = cvmm_eventfd_create(0), fd, rfd;
	uint64_t size, off;

	ck_assert_int_eq(cvmm_vhost_frontend_set_protocol_features(fe, pf), 0);
	drop_request();
	v = 5000; /* not an errno */
	reply(CVMM_VHOST_SET_OWNER, &v, 8, NULL, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_owner(fe), -EIO);
	drop_request();
	v = EBUSY;
	reply(CVMM_VHOST_SET_OWNER, &v, 8, NULL, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_owner(fe), -EBUSY);
	drop_request();
	reply(CVMM_VHOST_SET_OWNER, &v, 2, NULL, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_owner(fe), -EPROTO);
	drop_request();
	/* GET_INFLIGHT_FD without the fd. */
	struct cvmm_vhost_inflight in = { 4096, 0, 1, 64, 0 };
	reply(CVMM_VHOST_GET_INFLIGHT_FD, &in, 24, NULL, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_inflight_fd(fe, 1, 64, &fd, &size, &off), -EPROTO);
	ck_assert_int_eq(fd, -1);
	drop_request();
	/* With two fds: one kept, one closed. */
	int shm = memfd(4096);
	int two[2] = { shm, ev };
	reply(CVMM_VHOST_GET_INFLIGHT_FD, &in, 24, two, 2);
	ck_assert_int_eq(cvmm_vhost_frontend_get_inflight_fd(fe, 1, 64, &fd, &size, &off), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_eq(size, 4096);
	cvmm_close(fd);
	drop_request();
	/* Regression (review 2026-11-22): an area the fd does not back (the
	 * caller's first touch of the mapping would SIGBUS the VMM), or a fd
	 * that cannot be mapped at all, is refused and the fd closed. */
	in.mmap_size = 8192;
	reply(CVMM_VHOST_GET_INFLIGHT_FD, &in, 24, &shm, 1);
	ck_assert_int_eq(cvmm_vhost_frontend_get_inflight_fd(fe, 1, 64, &fd, &size, &off), -EPROTO);
	ck_assert_int_eq(fd, -1);
	drop_request();
	in.mmap_size = 4096;
	in.mmap_offset = 4096;
	reply(CVMM_VHOST_GET_INFLIGHT_FD, &in, 24, &shm, 1);
	ck_assert_int_eq(cvmm_vhost_frontend_get_inflight_fd(fe, 1, 64, &fd, &size, &off), -EPROTO);
	drop_request();
	in.mmap_offset = 0;
	reply(CVMM_VHOST_GET_INFLIGHT_FD, &in, 24, &ev, 1);
	ck_assert_int_eq(cvmm_vhost_frontend_get_inflight_fd(fe, 1, 64, &fd, &size, &off), -EPROTO);
	drop_request();
	in.mmap_size = 0;
	reply(CVMM_VHOST_GET_INFLIGHT_FD, &in, 24, &shm, 1);
	ck_assert_int_eq(cvmm_vhost_frontend_get_inflight_fd(fe, 1, 64, &fd, &size, &off), -EPROTO);
	drop_request();
	cvmm_close(shm);
	/* Device state: "no fd" flag contradicted by an fd, and the reverse. */
	v = 0;
	reply(CVMM_VHOST_SET_DEVICE_STATE_FD, &v, 8, &ev, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_device_state_fd(fe, 0, 0, ev, &rfd), -EPROTO);
	drop_request();
	v = CVMM_VHOST_VRING_NOFD_MASK;
	reply(CVMM_VHOST_SET_DEVICE_STATE_FD, &v, 8, &ev, 1);
	ck_assert_int_eq(cvmm_vhost_frontend_set_device_state_fd(fe, 0, 0, ev, &rfd), -EPROTO);
	ck_assert_int_eq(rfd, -1);
	drop_request();
	v = CVMM_VHOST_VRING_NOFD_MASK | EINVAL;
	reply(CVMM_VHOST_SET_DEVICE_STATE_FD, &v, 8, NULL, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_device_state_fd(fe, 0, 0, ev, &rfd), -EINVAL);
	drop_request();
	/* GET_CONFIG answered for another window. */
	struct cvmm_vhost_config c = { .offset = 4, .size = 4 };
	uint8_t buf[4];
	reply(CVMM_VHOST_GET_CONFIG, &c, 16, NULL, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_config(fe, 0, buf, 4), -EPROTO);
	drop_request();
	/* Arguments checked before anything is sent. */
	ck_assert_int_eq(cvmm_vhost_frontend_get_config(fe, 250, buf, 8), -EINVAL);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_kick(fe, 256, ev), -EINVAL);
	ck_assert_int_eq(cvmm_vhost_frontend_get_queue_num(fe, &v), -EOPNOTSUPP);
	cvmm_close(ev);
}
END_TEST

START_TEST(fe_backend_channel_hostile)
{
	struct cvmm_vhost_backend_event e;
	uint64_t pf = CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_BACKEND_REQ);
	struct cvmm_vhost_msg m;
	int ch, ev = cvmm_eventfd_create(0);
	struct cvmm_vhost_vring_state st = { 300, 0 };

	ck_assert_int_eq(cvmm_vhost_frontend_set_protocol_features(fe, pf), 0);
	drop_request();
	ck_assert_int_eq(cvmm_vhost_frontend_open_backend_channel(fe), 0);
	ck_assert_int_eq(cvmm_vhost_msg_recv(peer, &m), 0);
	ck_assert_uint_eq(m.nfds, 1);
	ch = m.fds[0];
	/* Index beyond any queue, with NEED_REPLY: refused and acked. */
	struct cvmm_vhost_hdr h = { CVMM_VHOST_BACKEND_VRING_CALL, 1 | CVMM_VHOST_FLAG_NEED_REPLY, 8 };
	uint8_t buf[20];
	memcpy(buf, &h, 12);
	memcpy(buf + 12, &st, 8);
	ck_assert_int_eq(cvmm_sock_send_fds(ch, buf, 20, NULL, 0), 20);
	ck_assert_int_eq(cvmm_vhost_frontend_recv_backend_req(fe, &e), -EINVAL);
	ck_assert_int_eq(cvmm_vhost_msg_recv(ch, &m), 0);
	ck_assert_uint_eq(m.payload.u64, EINVAL);
	/* A request with an fd where none belongs: refused, fd closed. */
	h = (struct cvmm_vhost_hdr){ CVMM_VHOST_BACKEND_IOTLB_MSG, 1, 0 };
	ck_assert_int_eq(cvmm_sock_send_fds(ch, &h, 12, &ev, 1), 12);
	ck_assert_int_eq(cvmm_vhost_frontend_recv_backend_req(fe, &e), -EINVAL);
	/* IOTLB misses: only after ACCESS_PLATFORM, exactly 32 bytes, a MISS
	 * or ACCESS_FAIL with RO/WO/RW; refusals acked with the errno. */
	{
		struct cvmm_vhost_iotlb_msg t = { .iova = 0x1000, .perm = 1,
						  .type = CVMM_VHOST_IOTLB_MISS };
		uint8_t b[12 + 40];
		struct {
			uint32_t size;
			uint8_t perm, type;
			int want;
		} cases[] = {
			{ 32, 1, CVMM_VHOST_IOTLB_MISS, -EOPNOTSUPP }, /* before ACCESS_PLATFORM */
			{ 32, 1, CVMM_VHOST_IOTLB_MISS, 0 },
			{ 24, 1, CVMM_VHOST_IOTLB_MISS, -EINVAL },
			{ 40, 1, CVMM_VHOST_IOTLB_MISS, -EINVAL },
			{ 32, 1, CVMM_VHOST_IOTLB_UPDATE, -EINVAL },     /* the frontend's */
			{ 32, 1, CVMM_VHOST_IOTLB_INVALIDATE, -EINVAL },
			{ 32, 1, 77, -EINVAL },
			{ 32, 0, CVMM_VHOST_IOTLB_MISS, -EINVAL },
			{ 32, 8, CVMM_VHOST_IOTLB_MISS, -EINVAL },
			{ 32, 3, CVMM_VHOST_IOTLB_ACCESS_FAIL, 0 },
		};

		for (unsigned int i = 0; i < CVMM_ARRAY_SIZE(cases); i++) {
			if (i == 1) {
				ck_assert_int_eq(cvmm_vhost_frontend_set_features(
							 fe, CVMM_VHOST_VIRTIO_F_ACCESS_PLATFORM), 0);
				drop_request();
			}
			t.perm = cases[i].perm;
			t.type = cases[i].type;
			h = (struct cvmm_vhost_hdr){ CVMM_VHOST_BACKEND_IOTLB_MSG,
						     1 | CVMM_VHOST_FLAG_NEED_REPLY, cases[i].size };
			memset(b, 0, sizeof(b));
			memcpy(b, &h, 12);
			memcpy(b + 12, &t, sizeof(t));
			ck_assert_int_eq(cvmm_sock_send_fds(ch, b, 12 + cases[i].size, NULL, 0),
					 12 + (int)cases[i].size);
			ck_assert_int_eq(cvmm_vhost_frontend_recv_backend_req(fe, &e), cases[i].want);
			if (cases[i].want == 0) {
				/* the caller acks, once it answered */
				ck_assert(e.ack_due);
				ck_assert_uint_eq(e.iotlb.iova, 0x1000);
				ck_assert_int_eq(cvmm_vhost_frontend_backend_req_ack(
							 fe, e.request, -EFAULT), 0);
				ck_assert_int_eq(cvmm_vhost_msg_recv(ch, &m), 0);
				ck_assert_uint_eq(m.payload.u64, EFAULT);
			} else {
				ck_assert_int_eq(cvmm_vhost_msg_recv(ch, &m), 0);
				ck_assert_uint_eq(m.payload.u64, (uint64_t)-cases[i].want);
			}
		}
	}
	h = (struct cvmm_vhost_hdr){ 77, 1, 0 };
	ck_assert_int_eq(cvmm_sock_send_fds(ch, &h, 12, NULL, 0), 12);
	ck_assert_int_eq(cvmm_vhost_frontend_recv_backend_req(fe, &e), -EOPNOTSUPP);
	/* CONFIG_CHANGE with a payload. */
	h = (struct cvmm_vhost_hdr){ CVMM_VHOST_BACKEND_CONFIG_CHANGE_MSG, 1, 8 };
	memcpy(buf, &h, 12);
	ck_assert_int_eq(cvmm_sock_send_fds(ch, buf, 20, NULL, 0), 20);
	ck_assert_int_eq(cvmm_vhost_frontend_recv_backend_req(fe, &e), -EINVAL);
	/* Garbage framing kills the channel only. */
	h = (struct cvmm_vhost_hdr){ CVMM_VHOST_BACKEND_CONFIG_CHANGE_MSG, 1, 100000 };
	ck_assert_int_eq(cvmm_sock_send_fds(ch, &h, 12, NULL, 0), 12);
	ck_assert_int_eq(cvmm_vhost_frontend_recv_backend_req(fe, &e), -EPROTO);
	ck_assert_int_eq(cvmm_vhost_frontend_backend_channel_fd(fe), -1);
	ck_assert_int_eq(cvmm_vhost_frontend_recv_backend_req(fe, &e), -ENOTCONN);
	cvmm_close(ch);
	cvmm_close(ev);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vhost-hostile");
	TCase *t = tcase_create("backend");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, truncated_header);
	tcase_add_test(t, truncated_payload);
	tcase_add_test(t, nonblocking_socket);
	tcase_add_test(t, size_above_max);
	tcase_add_test(t, bad_version);
	tcase_add_test(t, size_mismatch);
	tcase_add_test(t, unknown_requests);
	tcase_add_test(t, fds_where_none_belong);
	tcase_add_test(t, fd_flood);
	tcase_add_test(t, mem_table_counts);
	tcase_add_test(t, mem_table_hostile_regions);
	tcase_add_test(t, add_rem_hostile);
	tcase_add_test(t, vring_index_and_num);
	tcase_add_test(t, vring_addr_outside);
	tcase_add_test(t, iotlb_hostile);
	tcase_add_test(t, packed_ring_sizes);
	tcase_add_test(t, config_hostile);
	suite_add_tcase(s, t);
	TCase *u = tcase_create("checker");
	tcase_add_test(u, checker_config_rules);
	tcase_add_test(u, regions_check_direct);
	suite_add_tcase(s, u);
	TCase *w = tcase_create("frontend");
	tcase_add_checked_fixture(w, fe_setup, fe_teardown);
	tcase_add_test(w, fe_bad_replies);
	tcase_add_test(w, fe_bad_acks_and_fd_replies);
	tcase_add_test(w, fe_vring_base_encoding);
	tcase_add_test(w, fe_backend_channel_hostile);
	suite_add_tcase(s, w);
	Suite *all[] = { s, NULL };
	return cvmm_test_run(all);
}
