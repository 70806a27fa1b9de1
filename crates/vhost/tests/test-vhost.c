/* SPDX-License-Identifier: Apache-2.0 */
/* Frontend and backend on the two ends of a socketpair, the backend served
 * by a thread: every request round-trips with its payload and fds. */
#include "cvmm-test.h"
#include "vhost-test-dev.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct pair {
	struct cvmm_vhost_frontend *fe;
	struct cvmm_vhost_backend *be;
	struct tdev dev;
	pthread_t th;
	int last; /* the result that ended the loop */
	int refused;
};

static struct pair P;
static int fds_at_start;

static void *serve(void *arg)
{
	struct pair *p = arg;
	int r;

	for (;;) {
		r = cvmm_vhost_backend_process_one(p->be);
		if (r == -EPIPE || r == -EPROTO || r == -ENOTCONN)
			break;
		if (r < 0)
			p->refused++;
	}
	p->last = r;
	return NULL;
}

static void pair_up(void)
{
	int sv[2];

	fds_at_start = tdev_count_fds();
	memset(&P, 0, sizeof(P));
	tdev_init(&P.dev);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct cvmm_vhost_backend_opts o = {
		.sz = sizeof(o), .sock = sv[1], .num_queues = TDEV_QUEUES,
		.max_mem_slots = 16, .ops = &tdev_ops, .opaque = &P.dev,
	};
	ck_assert_int_eq(cvmm_vhost_backend_create(&o, &P.be), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_create(sv[0], &P.fe), 0);
	ck_assert_int_eq(pthread_create(&P.th, NULL, serve, &P), 0);
}

static void pair_down(void)
{
	cvmm_vhost_frontend_destroy(P.fe);
	pthread_join(P.th, NULL);
	ck_assert_int_eq(P.last, -EPIPE);
	cvmm_vhost_backend_destroy(P.be);
	tdev_fini(&P.dev);
	ck_assert_int_eq(tdev_count_fds(), fds_at_start);
}

/* Full negotiation with REPLY_ACK and every protocol feature we carry. */
static void negotiate(uint64_t extra_pf)
{
	uint64_t f, pf;

	ck_assert_int_eq(cvmm_vhost_frontend_get_features(P.fe, &f), 0);
	ck_assert_uint_eq(f, TDEV_FEATURES);
	ck_assert_int_eq(cvmm_vhost_frontend_get_protocol_features(P.fe, &pf), 0);
	ck_assert(pf & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_REPLY_ACK));
	ck_assert_uint_eq(pf & ~CVMM_VHOST_PF_SUPPORTED, 0);
	pf = CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_REPLY_ACK) | extra_pf;
	ck_assert_int_eq(cvmm_vhost_frontend_set_protocol_features(P.fe, pf), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_features(P.fe, TDEV_SPLIT), 0);
	ck_assert_uint_eq(P.dev.acked_features, TDEV_SPLIT);
	ck_assert_uint_eq(P.dev.acked_pf, pf);
	ck_assert_uint_eq(cvmm_vhost_backend_protocol_features(P.be), pf);
	ck_assert_uint_eq(cvmm_vhost_backend_features(P.be), TDEV_SPLIT);
}

#define ALL_PF                                                                 \
	(CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_MQ) | CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIG) | \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIGURE_MEM_SLOTS) |                 \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_STATUS) |                              \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_RESET_DEVICE) |                        \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_LOG_SHMFD) |                           \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_INFLIGHT_SHMFD) |                      \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_PAGEFAULT) |                           \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_DEVICE_STATE) |                        \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_BACKEND_REQ) |                         \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_INBAND_NOTIFICATIONS))

/* The test device offers what the library carries (no get_protocol_features
 * callback): MQ and CONFIGURE_MEM_SLOTS only, plus REPLY_ACK. A wider set
 * needs the callback; this one supplies it. */
static int all_pf(void *o, uint64_t *f)
{
	(void)o;
	*f = ALL_PF;
	return 0;
}

static struct cvmm_vhost_backend_ops wide_ops;

static void pair_up_wide(void)
{
	int sv[2];

	fds_at_start = tdev_count_fds();
	memset(&P, 0, sizeof(P));
	tdev_init(&P.dev);
	wide_ops = tdev_ops;
	wide_ops.get_protocol_features = all_pf;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct cvmm_vhost_backend_opts o = {
		.sz = sizeof(o), .sock = sv[1], .num_queues = TDEV_QUEUES,
		.max_mem_slots = 16, .ops = &wide_ops, .opaque = &P.dev,
	};
	ck_assert_int_eq(cvmm_vhost_backend_create(&o, &P.be), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_create(sv[0], &P.fe), 0);
	ck_assert_int_eq(pthread_create(&P.th, NULL, serve, &P), 0);
	negotiate(ALL_PF);
}

START_TEST(features_and_owner)
{
	uint64_t pf;

	pair_up();
	ck_assert_int_eq(cvmm_vhost_frontend_get_protocol_features(P.fe, &pf), 0);
	ck_assert_uint_eq(pf, CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_MQ) |
				      CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIGURE_MEM_SLOTS) |
				      CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_REPLY_ACK));
	negotiate(0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_owner(P.fe), 0);
	ck_assert_int_eq(P.dev.owner, 1);
	ck_assert_int_eq(cvmm_vhost_frontend_reset_owner(P.fe), 0);
	ck_assert_int_eq(P.dev.reset_owner, 1);
	/* A feature the device never offered is refused, with the ack. */
	ck_assert_int_eq(cvmm_vhost_frontend_set_features(P.fe, 1ull << 40), -EINVAL);
	ck_assert_uint_eq(P.dev.acked_features, TDEV_SPLIT);
	/* So is a protocol feature outside the offer. */
	ck_assert_int_eq(cvmm_vhost_frontend_set_protocol_features(
				 P.fe, CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_REPLY_ACK) |
					       CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_STATUS)),
			 -EINVAL);
	/* A callback's error comes back through REPLY_ACK as that errno. */
	P.dev.fail_next = -ENOSPC;
	ck_assert_int_eq(cvmm_vhost_frontend_set_features(P.fe, TDEV_FEATURES), -ENOSPC);
	/* The frontend refuses requests for features it did not negotiate. */
	ck_assert_int_eq(cvmm_vhost_frontend_set_status(P.fe, 1), -EOPNOTSUPP);
	pair_down();
}
END_TEST

START_TEST(without_reply_ack)
{
	uint64_t f;
	unsigned int base;

	pair_up();
	/* No REPLY_ACK: set requests get no answer; a GET orders them. */
	ck_assert_int_eq(cvmm_vhost_frontend_set_features(P.fe, TDEV_SPLIT), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_num(P.fe, 1, 64), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_base(P.fe, 1, 7), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_num(P.fe, 1, 63), 0); /* refused silently */
	ck_assert_int_eq(cvmm_vhost_frontend_get_vring_base(P.fe, 1, &base), 0);
	ck_assert_uint_eq(base, 1007);
	ck_assert_int_eq(cvmm_vhost_frontend_get_features(P.fe, &f), 0);
	ck_assert_uint_eq(P.dev.acked_features, TDEV_SPLIT);
	ck_assert_uint_eq(P.dev.num[1], 64);
	ck_assert_int_eq(P.refused, 1);
	pair_down();
}
END_TEST

START_TEST(mem_table_and_vrings)
{
	struct cvmm_guest_mem *g = tdev_make_gmem(2, 64 << 10);
	const struct cvmm_mem_region *r1;
	uint64_t v, len = 16;
	uint8_t *host;
	int ev[3];

	pair_up();
	negotiate(0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_mem_table(P.fe, g), 0);
	ck_assert_uint_eq(P.dev.nregions, 2);
	/* Write through our mapping, read through the backend's. */
	ck_assert_int_eq(cvmm_guest_mem_write_u64(g, (1 << 20) + 0x100, 0x1122334455667788ull), 0);
	ck_assert_int_eq(cvmm_guest_mem_read_u64(P.dev.gmem, (1 << 20) + 0x100, &v), 0);
	ck_assert_uint_eq(v, 0x1122334455667788ull);
	/* ...and back. */
	ck_assert_int_eq(cvmm_guest_mem_write_u64(P.dev.gmem, 0x40, 42), 0);
	ck_assert_int_eq(cvmm_guest_mem_read_u64(g, 0x40, &v), 0);
	ck_assert_uint_eq(v, 42);

	/* Rings at GPA 1 MiB + {0, 0x1000, 0x2000}, given by our host addresses. */
	r1 = cvmm_guest_mem_region(g, 1);
	host = cvmm_guest_mem_translate(g, 1 << 20, &len);
	ck_assert_ptr_eq(host, r1->host);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_num(P.fe, 2, 256), 0);
	ck_assert_uint_eq(P.dev.num[2], 256);
	struct cvmm_vhost_vring_addr_wire a = {
		.index = 2, .flags = CVMM_VHOST_VRING_F_LOG,
		.desc_user_addr = (uintptr_t)host, .avail_user_addr = (uintptr_t)host + 0x1000,
		.used_user_addr = (uintptr_t)host + 0x2000, .log_guest_addr = 0x12345000,
	};
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_addr(P.fe, &a), 0);
	ck_assert_uint_eq(P.dev.addr[2].desc_gpa, 1 << 20);
	ck_assert_uint_eq(P.dev.addr[2].avail_gpa, (1 << 20) + 0x1000);
	ck_assert_uint_eq(P.dev.addr[2].used_gpa, (1 << 20) + 0x2000);
	ck_assert_uint_eq(P.dev.addr[2].used_user_addr, a.used_user_addr);
	ck_assert_uint_eq(P.dev.addr[2].log_guest_addr, 0x12345000);
	ck_assert_uint_eq(P.dev.addr[2].flags, CVMM_VHOST_VRING_F_LOG);
	/* A ring running past the region's end is refused. */
	a.used_user_addr = (uintptr_t)host + (64 << 10) - 0x100;
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_addr(P.fe, &a), -EINVAL);

	unsigned int base;
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_base(P.fe, 2, 17), 0);
	ck_assert_uint_eq(P.dev.base[2], 17);
	ck_assert_int_eq(cvmm_vhost_frontend_get_vring_base(P.fe, 2, &base), 0);
	ck_assert_uint_eq(base, 1017);
	P.dev.fail_next = -EBUSY; /* a refused GET comes back as -EIO */
	ck_assert_int_eq(cvmm_vhost_frontend_get_vring_base(P.fe, 2, &base), -EIO);

	/* Kick, call, err: the backend's fd is the same eventfd as ours. */
	for (int i = 0; i < 3; i++)
		ev[i] = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_kick(P.fe, 3, ev[0]), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_call(P.fe, 3, ev[1]), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_err(P.fe, 3, ev[2]), 0);
	for (int i = 0; i < 3; i++) {
		int theirs = i == 0 ? P.dev.kick[3] : i == 1 ? P.dev.call[3] : P.dev.err[3];

		ck_assert_int_ge(theirs, 0);
		ck_assert_int_ne(theirs, ev[i]);
		ck_assert_int_eq(cvmm_eventfd_write(ev[i], 5 + i), 0);
		ck_assert_int_eq(cvmm_eventfd_read(theirs, &v), 0);
		ck_assert_uint_eq(v, 5 + i);
		ck_assert_int_eq(cvmm_eventfd_write(theirs, 9), 0); /* the other way */
		ck_assert_int_eq(cvmm_eventfd_read(ev[i], &v), 0);
		ck_assert_uint_eq(v, 9);
		cvmm_close(ev[i]);
	}
	/* "No fd": polling mode. */
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_kick(P.fe, 3, -1), 0);
	ck_assert_int_eq(P.dev.kick[3], -1);
	/* A callback refusing the fd: the library closes it (no leak at pair_down). */
	ev[0] = cvmm_eventfd_create(0);
	P.dev.fail_next = -EBADF;
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_kick(P.fe, 3, ev[0]), -EBADF);
	cvmm_close(ev[0]);

	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_enable(P.fe, 3, true), 0);
	ck_assert(P.dev.enabled[3]);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_enable(P.fe, 3, false), 0);
	ck_assert(!P.dev.enabled[3]);
	/* Index beyond the queues. */
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_enable(P.fe, TDEV_QUEUES, true), -EINVAL);
	ck_assert_int_eq(cvmm_vhost_frontend_get_vring_base(P.fe, TDEV_QUEUES, &base), -EIO);
	pair_down();
	cvmm_guest_mem_destroy(g);
}
END_TEST

START_TEST(mem_slots)
{
	struct cvmm_guest_mem *g = tdev_make_gmem(3, 64 << 10);
	struct cvmm_vhost_mem_region r[3];
	const struct cvmm_vhost_mem_region *br;
	uint64_t slots, v;

	pair_up();
	negotiate(CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIGURE_MEM_SLOTS));
	ck_assert_int_eq(cvmm_vhost_frontend_get_max_mem_slots(P.fe, &slots), 0);
	ck_assert_uint_eq(slots, 16);
	for (unsigned int i = 0; i < 3; i++) {
		const struct cvmm_mem_region *x = cvmm_guest_mem_region(g, i);

		r[i] = (struct cvmm_vhost_mem_region){ x->gpa, x->size, (uintptr_t)x->host,
						       x->fd_offset };
		ck_assert_int_eq(cvmm_vhost_frontend_add_mem_reg(P.fe, &r[i], x->fd), 0);
		ck_assert_uint_eq(P.dev.nregions, i + 1);
		ck_assert_uint_eq(cvmm_vhost_backend_regions(P.be, &br), i + 1);
	}
	ck_assert_int_eq(cvmm_guest_mem_write_u64(g, (2 << 20) + 8, 77), 0);
	ck_assert_int_eq(cvmm_guest_mem_read_u64(P.dev.gmem, (2 << 20) + 8, &v), 0);
	ck_assert_uint_eq(v, 77);
	/* The same region twice is counted (QEMU does this per vhost device on
	 * one connection): the first removal only drops the count. */
	ck_assert_int_eq(cvmm_vhost_frontend_add_mem_reg(P.fe, &r[1],
							 cvmm_guest_mem_region(g, 1)->fd),
			 0);
	ck_assert_uint_eq(cvmm_vhost_backend_regions(P.be, &br), 3);
	ck_assert_int_eq(cvmm_vhost_frontend_rem_mem_reg(P.fe, &r[1]), 0);
	ck_assert_uint_eq(cvmm_vhost_backend_regions(P.be, &br), 3);
	ck_assert_int_eq(cvmm_vhost_frontend_rem_mem_reg(P.fe, &r[1]), 0);
	ck_assert_uint_eq(P.dev.nregions, 2);
	ck_assert_ptr_null(cvmm_guest_mem_find(P.dev.gmem, 1 << 20));
	ck_assert_int_eq(cvmm_guest_mem_read_u64(P.dev.gmem, (2 << 20) + 8, &v), 0);
	ck_assert_uint_eq(v, 77);
	ck_assert_int_eq(cvmm_vhost_frontend_rem_mem_reg(P.fe, &r[1]), -EINVAL);
	ck_assert_int_eq(cvmm_vhost_frontend_rem_mem_reg(P.fe, &r[0]), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_rem_mem_reg(P.fe, &r[2]), 0);
	ck_assert_uint_eq(P.dev.nregions, 0);
	ck_assert_uint_eq(cvmm_vhost_backend_regions(P.be, &br), 0);
	/* SET_MEM_TABLE replaces the whole table. */
	ck_assert_int_eq(cvmm_vhost_frontend_set_mem_table(P.fe, g), 0);
	ck_assert_uint_eq(P.dev.nregions, 3);
	pair_down();
	cvmm_guest_mem_destroy(g);
}
END_TEST

/* The x86 layout: two regions, one memfd, the high one at a 3 GiB offset. */
START_TEST(mem_table_x86_layout)
{
	struct cvmm_x86_ram_opts xo = { .sz = sizeof(xo), .size = CVMM_X86_MMIO_HOLE_START + (16 << 20),
					.backing = CVMM_MEM_MEMFD, .flags = CVMM_MEM_F_NORESERVE };
	const struct cvmm_vhost_mem_region *br;
	struct cvmm_guest_mem *g;
	uint64_t v;

	ck_assert_int_eq(cvmm_guest_mem_create_x86(&xo, &g), 0);
	ck_assert_uint_eq(cvmm_guest_mem_num_regions(g), 2);
	pair_up();
	negotiate(0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_mem_table(P.fe, g), 0);
	ck_assert_uint_eq(cvmm_vhost_backend_regions(P.be, &br), 2);
	ck_assert_uint_eq(br[1].guest_phys_addr, 1ull << 32);
	ck_assert_uint_eq(br[1].mmap_offset, CVMM_X86_MMIO_HOLE_START);
	ck_assert_int_eq(cvmm_guest_mem_write_u64(g, (1ull << 32) + 0x1000, 0xfeedull), 0);
	ck_assert_int_eq(cvmm_guest_mem_read_u64(P.dev.gmem, (1ull << 32) + 0x1000, &v), 0);
	ck_assert_uint_eq(v, 0xfeed);
	ck_assert_int_eq(cvmm_guest_mem_write_u64(g, 0x1000, 0xbeefull), 0);
	ck_assert_int_eq(cvmm_guest_mem_read_u64(P.dev.gmem, 0x1000, &v), 0);
	ck_assert_uint_eq(v, 0xbeef);
	/* Nothing in the hole on the backend side either. */
	ck_assert(!cvmm_guest_mem_range_valid(P.dev.gmem, CVMM_X86_MMIO_HOLE_START, 1));
	pair_down();
	cvmm_guest_mem_destroy(g);
}
END_TEST

/* cvmm_vhost_mem_map() honours mmap_offset and refuses what the check refuses. */
START_TEST(mem_map_direct)
{
	int fd = cvmm_tempfile(3 * 4096, NULL);
	struct cvmm_vhost_mem_region r = { 0x10000, 2 * 4096, 0x7f0000000000ull, 4096 };
	struct cvmm_guest_mem *m = (void *)1;
	uint64_t v = 0x0123456789abcdefull, got;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, &v, 8, 4096 + 8), 8);
	ck_assert_int_eq(cvmm_vhost_mem_map(&r, &fd, 1, &m), 0);
	ck_assert_int_eq(cvmm_guest_mem_read_u64(m, 0x10008, &got), 0);
	ck_assert_uint_eq(got, v);
	ck_assert(!cvmm_guest_mem_range_valid(m, 0x10000, 3 * 4096));
	cvmm_guest_mem_destroy(m);
	r.mmap_offset = 2 * 4096; /* one page short */
	ck_assert_int_eq(cvmm_vhost_mem_map(&r, &fd, 1, &m), -EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(cvmm_vhost_mem_map(&r, NULL, 1, &m), -EINVAL);
	cvmm_close(fd);
}
END_TEST

START_TEST(config_status_reset)
{
	uint8_t in[16], out[16], st;
	uint64_t qn;

	pair_up_wide();
	for (int i = 0; i < 16; i++)
		in[i] = (uint8_t)(0xa0 + i);
	ck_assert_int_eq(cvmm_vhost_frontend_set_config(P.fe, 240, in, 16, 0x1), 0);
	ck_assert_mem_eq(P.dev.config + 240, in, 16);
	ck_assert_uint_eq(P.dev.config_flags, 1);
	ck_assert_int_eq(cvmm_vhost_frontend_get_config(P.fe, 244, out, 12), 0);
	ck_assert_mem_eq(out, in + 4, 12);
	ck_assert_int_eq(cvmm_vhost_frontend_get_config(P.fe, 250, out, 16), -EINVAL);
	P.dev.fail_next = -EIO;
	ck_assert_int_eq(cvmm_vhost_frontend_get_config(P.fe, 0, out, 4), -EIO);

	ck_assert_int_eq(cvmm_vhost_frontend_set_status(P.fe, 0x0f), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_status(P.fe, &st), 0);
	ck_assert_uint_eq(st, 0x0f);
	ck_assert_int_eq(cvmm_vhost_frontend_reset_device(P.fe), 0);
	ck_assert_int_eq(P.dev.resets, 1);
	ck_assert_int_eq(cvmm_vhost_frontend_get_status(P.fe, &st), 0);
	ck_assert_uint_eq(st, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_queue_num(P.fe, &qn), 0);
	ck_assert_uint_eq(qn, TDEV_QUEUES);
	pair_down();
}
END_TEST

START_TEST(log_inflight_postcopy_state)
{
	int logfd, fd, rfd, p[2];
	uint64_t size, off, v;
	char buf[8];

	pair_up_wide();
	logfd = cvmm_tempfile(8192, NULL);
	ck_assert_int_ge(logfd, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_log_base(P.fe, logfd, 8192, 0), 0);
	ck_assert_int_ge(P.dev.log_fd, 0);
	ck_assert_uint_eq(P.dev.log_size, 8192);
	/* A log area beyond the file is refused. */
	ck_assert_int_eq(cvmm_vhost_frontend_set_log_base(P.fe, logfd, 8192, 4096), -EINVAL);
	ck_assert_int_eq(cvmm_vhost_frontend_set_log_fd(P.fe, logfd), 0);
	cvmm_close(logfd);

	ck_assert_int_eq(cvmm_vhost_frontend_get_inflight_fd(P.fe, 2, 128, &fd, &size, &off), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_eq(size, 2 * 128 * 16);
	ck_assert_int_eq(cvmm_vhost_frontend_set_inflight_fd(P.fe, fd, size, off, 2, 128), 0);
	ck_assert_uint_eq(P.dev.inflight_size, size);
	ck_assert_int_eq(cvmm_vhost_frontend_set_inflight_fd(P.fe, fd, size * 4, off, 2, 128),
			 -EINVAL);
	cvmm_close(fd);
	ck_assert_int_eq(cvmm_vhost_frontend_get_inflight_fd(P.fe, TDEV_QUEUES + 1, 128, &fd,
							     &size, &off), -EIO);

	/* The "userfaultfd" is an eventfd here: proves the fd made it over. */
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_advise(P.fe, &fd), 0);
	ck_assert_int_eq(cvmm_eventfd_write(fd, 3), 0);
	ck_assert_int_eq(cvmm_eventfd_read(P.dev.ufd_given, &v), 0);
	ck_assert_uint_eq(v, 3);
	cvmm_close(fd);
	P.dev.fail_next = -ENOMEM;
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_advise(P.fe, &fd), -EIO);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_listen(P.fe), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_end(P.fe), 0);
	ck_assert_int_eq(P.dev.ended, 1);
	P.dev.fail_next = -EAGAIN;
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_end(P.fe), -EAGAIN);

	/* Device state: the backend writes into our pipe. */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_device_state_fd(
				 P.fe, CVMM_VHOST_TRANSFER_STATE_SAVE, 0, p[1], &rfd), 0);
	ck_assert_int_eq(rfd, -1);
	cvmm_close(p[1]);
	ck_assert_int_eq(write(P.dev.state_fd, "state!", 6), 6);
	cvmm_close(P.dev.state_fd);
	P.dev.state_fd = -1;
	ck_assert_int_eq(read(p[0], buf, sizeof(buf)), 6);
	ck_assert_mem_eq(buf, "state!", 6);
	cvmm_close(p[0]);
	ck_assert_int_eq(cvmm_vhost_frontend_check_device_state(P.fe), 0);
	ck_assert_int_eq(P.dev.checked, 1);
	P.dev.fail_next = -EPERM;
	ck_assert_int_eq(cvmm_vhost_frontend_check_device_state(P.fe), -EPERM);
	/* The backend answering with its own fd. */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	P.dev.state_reply_own_fd = true;
	ck_assert_int_eq(cvmm_vhost_frontend_set_device_state_fd(
				 P.fe, CVMM_VHOST_TRANSFER_STATE_LOAD, 0, p[0], &rfd), 0);
	ck_assert_int_ge(rfd, 0);
	ck_assert_int_eq(cvmm_eventfd_write(rfd, 1), 0);
	ck_assert_int_eq(cvmm_eventfd_read(P.dev.ufd_given, &v), 0);
	cvmm_close(rfd);
	/* Bad phase. */
	ck_assert_int_eq(cvmm_vhost_frontend_set_device_state_fd(P.fe, 0, 1, p[0], &rfd), -EINVAL);
	cvmm_close(p[0]);
	cvmm_close(p[1]);
	pair_down();
}
END_TEST

struct sender {
	struct cvmm_vhost_backend *be;
	int results[4];
};

static void *send_all(void *arg)
{
	struct sender *s = arg;

	s->results[0] = cvmm_vhost_backend_send_config_change(s->be);
	s->results[1] = cvmm_vhost_backend_send_vring_call(s->be, 2);
	s->results[2] = cvmm_vhost_backend_send_vring_err(s->be, 3);
	return NULL;
}

START_TEST(backend_channel)
{
	struct cvmm_vhost_backend_event ev;
	struct sender s = { 0 };
	pthread_t th;

	pair_up_wide();
	ck_assert_int_eq(cvmm_vhost_backend_send_config_change(P.be), -ENOTCONN);
	ck_assert_int_eq(cvmm_vhost_frontend_recv_backend_req(P.fe, &ev), -ENOTCONN);
	ck_assert_int_eq(cvmm_vhost_frontend_open_backend_channel(P.fe), 0);
	ck_assert_int_eq(P.dev.req_changes, 1);
	ck_assert_int_ge(cvmm_vhost_frontend_backend_channel_fd(P.fe), 0);
	ck_assert_int_eq(cvmm_vhost_backend_send_vring_call(P.be, TDEV_QUEUES), -EINVAL);

	s.be = P.be;
	ck_assert_int_eq(pthread_create(&th, NULL, send_all, &s), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_recv_backend_req(P.fe, &ev), 0);
	ck_assert_uint_eq(ev.request, CVMM_VHOST_BACKEND_CONFIG_CHANGE_MSG);
	ck_assert_int_eq(cvmm_vhost_frontend_recv_backend_req(P.fe, &ev), 0);
	ck_assert_uint_eq(ev.request, CVMM_VHOST_BACKEND_VRING_CALL);
	ck_assert_uint_eq(ev.index, 2);
	ck_assert_int_eq(cvmm_vhost_frontend_recv_backend_req(P.fe, &ev), 0);
	ck_assert_uint_eq(ev.request, CVMM_VHOST_BACKEND_VRING_ERR);
	ck_assert_uint_eq(ev.index, 3);
	pthread_join(th, NULL);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(s.results[i], 0);
	pair_down();
}
END_TEST

START_TEST(backend_channel_peer_gone)
{
	struct cvmm_vhost_backend_event ev;
	int fd;

	pair_up_wide();
	ck_assert_int_eq(cvmm_vhost_frontend_open_backend_channel(P.fe), 0);
	/* The frontend drops its end: the backend sees -EPIPE and drops too. */
	fd = cvmm_vhost_frontend_backend_channel_fd(P.fe);
	ck_assert_int_eq(shutdown(fd, SHUT_RDWR), 0);
	ck_assert_int_eq(cvmm_vhost_backend_send_config_change(P.be), -EPIPE);
	ck_assert_int_eq(cvmm_vhost_backend_send_config_change(P.be), -ENOTCONN);
	ck_assert_int_eq(cvmm_vhost_frontend_recv_backend_req(P.fe, &ev), -EPIPE);
	ck_assert_int_eq(cvmm_vhost_frontend_backend_channel_fd(P.fe), -1);
	pair_down();
}
END_TEST

static void *send_one(void *arg);

struct misser {
	struct cvmm_vhost_backend *be;
	uint64_t iova;
	int timeout_ms;
	int result;
};

static void *send_miss(void *arg)
{
	struct misser *m = arg;

	m->result = cvmm_vhost_backend_send_iotlb_msg(m->be, CVMM_VHOST_IOTLB_MISS, m->iova,
						      CVMM_VHOST_ACCESS_WO, m->timeout_ms);
	return NULL;
}

/*
 * Behind an IOMMU: UPDATE and INVALIDATE reach the device with the guest
 * address of uaddr; a MISS comes to the frontend, which answers with an
 * UPDATE before it acks, so the backend's sender returns with the update in
 * force. A MISS the frontend answers late times out, and its late ack is
 * not taken for the next sender's.
 */
START_TEST(iotlb_roundtrip)
{
	struct cvmm_vhost_iotlb_msg t = { 0 };
	struct cvmm_vhost_backend_event ev;
	struct misser ms = { 0 };
	struct sender s = { 0 };
	struct cvmm_guest_mem *g = tdev_make_gmem(1, 1 << 16);
	const struct cvmm_mem_region *r = cvmm_guest_mem_region(g, 0);
	pthread_t th;

	pair_up_wide();
	/* Nothing before ACCESS_PLATFORM; arguments checked before sending. */
	t = (struct cvmm_vhost_iotlb_msg){ 0x40000000, 0x1000, (uint64_t)(uintptr_t)r->host, 3,
					   CVMM_VHOST_IOTLB_UPDATE, { 0 } };
	ck_assert_int_eq(cvmm_vhost_frontend_iotlb_msg(P.fe, &t), -EOPNOTSUPP);
	ck_assert_int_eq(cvmm_vhost_backend_send_iotlb_msg(P.be, CVMM_VHOST_IOTLB_MISS, 1, 1, 10),
			 -EOPNOTSUPP);
	ck_assert_int_eq(cvmm_vhost_frontend_set_features(
				 P.fe, TDEV_SPLIT | CVMM_VHOST_VIRTIO_F_ACCESS_PLATFORM), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_mem_table(P.fe, g), 0);
	t.size = 0;
	ck_assert_int_eq(cvmm_vhost_frontend_iotlb_msg(P.fe, &t), -EINVAL);
	t.size = 0x1000;
	t.perm = 4;
	ck_assert_int_eq(cvmm_vhost_frontend_iotlb_msg(P.fe, &t), -EINVAL);
	t.perm = 3;
	t.type = CVMM_VHOST_IOTLB_MISS;
	ck_assert_int_eq(cvmm_vhost_frontend_iotlb_msg(P.fe, &t), -EINVAL);
	t.type = CVMM_VHOST_IOTLB_UPDATE;
	ck_assert_int_eq(cvmm_vhost_backend_send_iotlb_msg(P.be, CVMM_VHOST_IOTLB_UPDATE, 1, 1, 10),
			 -EINVAL);
	ck_assert_int_eq(cvmm_vhost_backend_send_iotlb_msg(P.be, CVMM_VHOST_IOTLB_MISS, 1, 0, 10),
			 -EINVAL);
	/* No channel yet. */
	ck_assert_int_eq(cvmm_vhost_backend_send_iotlb_msg(P.be, CVMM_VHOST_IOTLB_MISS, 1, 1, 10),
			 -ENOTCONN);

	/* UPDATE and INVALIDATE. */
	t.uaddr += 0x2000;
	ck_assert_int_eq(cvmm_vhost_frontend_iotlb_msg(P.fe, &t), 0);
	ck_assert_int_eq(P.dev.iotlb_calls, 1);
	ck_assert_uint_eq(P.dev.iotlb_gpa, r->gpa + 0x2000);
	ck_assert_uint_eq(P.dev.iotlb.iova, 0x40000000);
	t.uaddr = r->host ? (uint64_t)(uintptr_t)r->host + r->size - 0x800 : 0;
	ck_assert_int_eq(cvmm_vhost_frontend_iotlb_msg(P.fe, &t), -EFAULT); /* crosses the end */
	t = (struct cvmm_vhost_iotlb_msg){ .iova = 0x40000000, .size = 0x1000,
					   .type = CVMM_VHOST_IOTLB_INVALIDATE };
	ck_assert_int_eq(cvmm_vhost_frontend_iotlb_msg(P.fe, &t), 0);
	ck_assert_int_eq(P.dev.iotlb_calls, 2);
	ck_assert_uint_eq(P.dev.iotlb.type, CVMM_VHOST_IOTLB_INVALIDATE);

	/* A miss answered: UPDATE first, then the ack. */
	ck_assert_int_eq(cvmm_vhost_frontend_open_backend_channel(P.fe), 0);
	ms = (struct misser){ P.be, 0x40000800, 5000, 1 };
	ck_assert_int_eq(pthread_create(&th, NULL, send_miss, &ms), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_recv_backend_req(P.fe, &ev), 0);
	ck_assert_uint_eq(ev.request, CVMM_VHOST_BACKEND_IOTLB_MSG);
	ck_assert(ev.ack_due);
	ck_assert_uint_eq(ev.iotlb.type, CVMM_VHOST_IOTLB_MISS);
	ck_assert_uint_eq(ev.iotlb.iova, 0x40000800);
	ck_assert_uint_eq(ev.iotlb.perm, CVMM_VHOST_ACCESS_WO);
	t = (struct cvmm_vhost_iotlb_msg){ 0x40000000, 0x1000, (uint64_t)(uintptr_t)r->host, 2,
					   CVMM_VHOST_IOTLB_UPDATE, { 0 } };
	ck_assert_int_eq(cvmm_vhost_frontend_iotlb_msg(P.fe, &t), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_backend_req_ack(P.fe, ev.request, 0), 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(ms.result, 0);
	ck_assert_int_eq(P.dev.iotlb_calls, 3);

	/* A miss storm the frontend does not answer in time: every sender
	 * comes back (-ETIMEDOUT); the late acks are skipped, and the next
	 * request gets its own answer. */
	for (int i = 0; i < 3; i++) {
		ms = (struct misser){ P.be, 0x50000000 + i, 20, 1 };
		ck_assert_int_eq(pthread_create(&th, NULL, send_miss, &ms), 0);
		pthread_join(th, NULL);
		ck_assert_int_eq(ms.result, -ETIMEDOUT);
	}
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(cvmm_vhost_frontend_recv_backend_req(P.fe, &ev), 0);
		ck_assert_uint_eq(ev.iotlb.iova, 0x50000000 + (uint64_t)i);
		ck_assert_int_eq(cvmm_vhost_frontend_backend_req_ack(P.fe, ev.request, -EFAULT), 0);
	}
	s.be = P.be;
	ck_assert_int_eq(pthread_create(&th, NULL, send_one, &s), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_recv_backend_req(P.fe, &ev), 0);
	ck_assert_uint_eq(ev.request, CVMM_VHOST_BACKEND_CONFIG_CHANGE_MSG);
	pthread_join(th, NULL);
	ck_assert_int_eq(s.results[0], 0);
	/* A miss the frontend refuses: the sender learns it. */
	ms = (struct misser){ P.be, 0x60000000, 5000, 1 };
	ck_assert_int_eq(pthread_create(&th, NULL, send_miss, &ms), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_recv_backend_req(P.fe, &ev), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_backend_req_ack(P.fe, ev.request, -EFAULT), 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(ms.result, -EFAULT);
	pair_down();
	cvmm_guest_mem_destroy(g);
}
END_TEST

static void *send_one(void *arg)
{
	struct sender *s = arg;

	s->results[0] = cvmm_vhost_backend_send_config_change(s->be);
	return NULL;
}

/* A sender waits for an ack the frontend never gives; the frontend sets a
 * new channel meanwhile. The backend must take it (no deadlock) and the
 * stuck sender must come back with -EPIPE. */
START_TEST(backend_channel_replaced_under_sender)
{
	struct cvmm_vhost_backend_event ev;
	struct sender s = { .be = NULL, .results = { 1 } };
	pthread_t th;

	pair_up_wide();
	ck_assert_int_eq(cvmm_vhost_frontend_open_backend_channel(P.fe), 0);
	s.be = P.be;
	ck_assert_int_eq(pthread_create(&th, NULL, send_one, &s), 0);
	/* Its message is on the old channel: it has sent and waits for the ack. */
	struct pollfd pfd = { .fd = cvmm_vhost_frontend_backend_channel_fd(P.fe), .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
	ck_assert_int_eq(cvmm_vhost_frontend_open_backend_channel(P.fe), 0);
	ck_assert_int_eq(P.dev.req_changes, 2);
	pthread_join(th, NULL);
	ck_assert_int_eq(s.results[0], -EPIPE);
	/* The new channel works. */
	ck_assert_int_eq(pthread_create(&th, NULL, send_one, &s), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_recv_backend_req(P.fe, &ev), 0);
	ck_assert_uint_eq(ev.request, CVMM_VHOST_BACKEND_CONFIG_CHANGE_MSG);
	pthread_join(th, NULL);
	ck_assert_int_eq(s.results[0], 0);
	pair_down();
}
END_TEST

START_TEST(create_args)
{
	struct cvmm_vhost_backend *b = (void *)1;
	struct cvmm_vhost_frontend *f;
	struct cvmm_vhost_backend_opts o = { .sz = sizeof(o), .sock = -1, .num_queues = 1,
					     .ops = &tdev_ops };
	int sv[2];

	ck_assert_int_eq(cvmm_vhost_backend_create(&o, &b), -EINVAL);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	int before = tdev_count_fds();
	o.sock = sv[0];
	o.num_queues = CVMM_VHOST_MAX_QUEUES + 1;
	ck_assert_int_eq(cvmm_vhost_backend_create(&o, &b), -EINVAL);
	ck_assert_int_eq(tdev_count_fds(), before - 1); /* the socket was taken */
	ck_assert_int_eq(cvmm_vhost_frontend_create(-1, &f), -EINVAL);
	cvmm_vhost_backend_destroy(NULL);
	cvmm_vhost_frontend_destroy(NULL);
	cvmm_close(sv[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vhost");
	TCase *t = tcase_create("roundtrip");

	tcase_set_timeout(t, 30);
	tcase_add_test(t, features_and_owner);
	tcase_add_test(t, without_reply_ack);
	tcase_add_test(t, mem_table_and_vrings);
	tcase_add_test(t, mem_slots);
	tcase_add_test(t, mem_table_x86_layout);
	tcase_add_test(t, mem_map_direct);
	tcase_add_test(t, config_status_reset);
	tcase_add_test(t, log_inflight_postcopy_state);
	tcase_add_test(t, backend_channel);
	tcase_add_test(t, backend_channel_peer_gone);
	tcase_add_test(t, backend_channel_replaced_under_sender);
	tcase_add_test(t, iotlb_roundtrip);
	tcase_add_test(t, create_args);
	suite_add_tcase(s, t);
	Suite *all[] = { s, NULL };
	return cvmm_test_run(all);
}
