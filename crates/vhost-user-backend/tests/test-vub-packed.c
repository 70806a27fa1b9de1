/* SPDX-License-Identifier: Apache-2.0 */
/* The framework's packed vrings, STATUS and RESET_DEVICE, driven in-process
 * by the vhost crate's frontend and virtio-queue's driver over a memfd:
 * requests both ways with and without EVENT_IDX, far more than the ring
 * holds (wrap-around, ring size not a power of two, indirect tables),
 * GET_VRING_BASE's packed encoding and resuming from it, hostile bases,
 * the status byte gating the rings, an inflight region left alone by
 * packed rings, and a full renegotiation after RESET_DEVICE. */
#include "cvmm-test.h"

#include <cvmm/sys-util.h>
#include <cvmm/vhost-user-backend.h>
#include <cvmm/vhost.h>
#include <cvmm/virtio-queue/driver.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fill-dev.h"

#define PF(b) CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_##b)
#define QSIZE 50u /* packed rings may have any size */
#define SPLIT_QSIZE 64u
#define MEM (4ull << 20)
#define NQ 2u
#define IND_MAX 4u
#define DEPTH 8u
#define STATUS_ALL 0x0fu /* ACKNOWLEDGE | DRIVER | DRIVER_OK | FEATURES_OK */


/* ---- fixture: daemon thread + in-process frontend/driver ---- */

struct fx {
	char dir[128], sock[160];
	struct cvmm_vub *d;
	pthread_t th;
	int serve_ret;
	struct cvmm_vhost_frontend *fe;
	int raw; /* a second descriptor of the frontend's socket: hostile messages */
	struct cvmm_guest_mem *mem;
	struct cvmm_virtq_driver *drv[NQ];
	int kick[NQ], call[NQ];
	uint64_t offered, features, pf;
	uint16_t qsize;
	uint64_t sent[NQ]; /* requests submitted per queue (tokens) */
};

static void *serve_main(void *arg)
{
	struct fx *f = arg;

	f->serve_ret = cvmm_vub_serve(f->d);
	return NULL;
}

static uint64_t q_desc(unsigned int q) { return 0x10000ull * (q + 1); }
static uint64_t q_avail(unsigned int q) { return q_desc(q) + 0x2000; }
static uint64_t q_used(unsigned int q) { return q_desc(q) + 0x4000; }
static uint64_t q_ind(unsigned int q) { return q_desc(q) + 0x8000; }
static uint64_t buf_gpa(unsigned int q, unsigned int slot) { return 0x100000ull + 0x80000ull * q + 0x1000ull * slot; }

static void *h(struct fx *f, uint64_t gpa)
{
	return cvmm_guest_mem_ptr(f->mem, gpa, 1);
}

/* Fresh drivers (zeroed rings) for @features with ring size @qsize. */
static void fx_drivers(struct fx *f, uint64_t features, uint16_t qsize)
{
	f->qsize = qsize;
	for (unsigned int q = 0; q < NQ; q++) {
		struct cvmm_virtq_driver_opts d = {
			.sz = sizeof(d), .mem = f->mem, .size = qsize, .features = features,
			.desc_gpa = q_desc(q), .avail_gpa = q_avail(q), .used_gpa = q_used(q),
			.indirect_gpa = q_ind(q), .indirect_max = IND_MAX,
		};

		cvmm_virtq_driver_destroy(f->drv[q]);
		ck_assert_int_eq(cvmm_virtq_driver_create(&d, &f->drv[q]), 0);
		f->sent[q] = 0;
	}
}

/* Features, protocol features @pf (of those offered), memory table. */
static void fx_negotiate(struct fx *f, uint64_t ring_features, uint64_t pf)
{
	uint64_t offered_pf;

	ck_assert_int_eq(cvmm_vhost_frontend_get_features(f->fe, &f->offered), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_protocol_features(f->fe, &offered_pf), 0);
	ck_assert_uint_eq(offered_pf & (PF(STATUS) | PF(RESET_DEVICE)), PF(STATUS) | PF(RESET_DEVICE));
	f->pf = offered_pf & (PF(MQ) | PF(REPLY_ACK) | pf);
	ck_assert_int_eq(cvmm_vhost_frontend_set_protocol_features(f->fe, f->pf), 0);
	f->features = f->offered & (CVMM_VIRTIO_F_VERSION_1 | CVMM_VHOST_F_PROTOCOL_FEATURES |
				    CVMM_VIRTIO_F_INDIRECT_DESC | ring_features);
	ck_assert_uint_eq(f->features & ring_features, ring_features);
	ck_assert_int_eq(cvmm_vhost_frontend_set_features(f->fe, f->features), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_mem_table(f->fe, f->mem), 0);
	fx_drivers(f, f->features, ring_features & CVMM_VIRTIO_F_RING_PACKED ? QSIZE : SPLIT_QSIZE);
}

static void fx_start(struct fx *f, uint32_t flags, uint64_t ring_features, uint64_t pf)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int sock;

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "%s/cvmm-vubp-XXXXXX", tmp);
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/s", f->dir);
	struct cvmm_vub_opts o = { .sz = sizeof(o), .socket_path = f->sock, .listen_fd = -1,
				   .flags = flags, .num_queues = NQ, .ops = &fill_ops };
	ck_assert_int_eq(cvmm_vub_create(&o, &f->d), 0);
	ck_assert_int_eq(pthread_create(&f->th, NULL, serve_main, f), 0);
	sock = cvmm_unix_connect(f->sock);
	ck_assert_int_ge(sock, 0);
	f->raw = dup(sock);
	ck_assert_int_ge(f->raw, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_create(sock, &f->fe), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_owner(f->fe), 0);
	ck_assert_int_eq(cvmm_guest_mem_create(&f->mem), 0);
	struct cvmm_mem_region_opts ro = { .sz = sizeof(ro), .size = MEM,
					   .backing = CVMM_MEM_MEMFD, .flags = CVMM_MEM_F_SHARED,
					   .fd = -1 };
	ck_assert_int_eq(cvmm_guest_mem_add_region(f->mem, &ro), 0);
	for (unsigned int q = 0; q < NQ; q++) {
		f->kick[q] = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
		f->call[q] = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
		ck_assert_int_ge(f->kick[q], 0);
		ck_assert_int_ge(f->call[q], 0);
	}
	fx_negotiate(f, ring_features, pf);
}

static void fx_vring(struct fx *f, unsigned int q, unsigned int base)
{
	struct cvmm_vhost_vring_addr_wire a = {
		.index = q, .desc_user_addr = (uintptr_t)h(f, q_desc(q)),
		.avail_user_addr = (uintptr_t)h(f, q_avail(q)),
		.used_user_addr = (uintptr_t)h(f, q_used(q)),
	};

	ck_assert_int_eq(cvmm_vhost_frontend_start_vring(f->fe, &a, f->qsize, base, f->kick[q],
							 f->call[q], true), 0);
}

static void fx_stop(struct fx *f)
{
	cvmm_vhost_frontend_destroy(f->fe);
	cvmm_close(f->raw);
	ck_assert_int_eq(cvmm_vub_stop(f->d), 0);
	pthread_join(f->th, NULL);
	ck_assert_int_eq(f->serve_ret, 0);
	cvmm_vub_destroy(f->d);
	for (unsigned int q = 0; q < NQ; q++) {
		cvmm_virtq_driver_destroy(f->drv[q]);
		cvmm_close(f->kick[q]);
		cvmm_close(f->call[q]);
	}
	cvmm_guest_mem_destroy(f->mem);
	rmdir(f->dir);
}

/* Ring slots request @tok takes: every third one is an indirect table. */
static unsigned int req_slots(uint64_t tok)
{
	return tok % 3 == 2 ? 1 : 2;
}

static void fx_add(struct fx *f, unsigned int q, uint32_t len)
{
	uint64_t tok = f->sent[q]++;
	uint64_t g = buf_gpa(q, (unsigned int)(tok % DEPTH));
	struct cvmm_virtq_buf out = { g, 1 }, in = { g + 16, len };

	ck_assert_int_eq(cvmm_guest_mem_write_u8(f->mem, g, (uint8_t)tok), 0);
	ck_assert_int_eq(cvmm_guest_mem_fill(f->mem, g + 16, 0, len), 0);
	ck_assert_int_eq(cvmm_virtq_driver_add(f->drv[q], &out, 1, &in, 1, req_slots(tok) == 1,
					       tok), 0);
}

static void fx_kick(struct fx *f, unsigned int q)
{
	if (cvmm_virtq_driver_kick_needed(f->drv[q]))
		ck_assert_int_eq(cvmm_eventfd_write(f->kick[q], 1), 0);
}

static void fx_check(struct fx *f, unsigned int q, uint64_t tok, uint32_t ulen, uint32_t len)
{
	uint8_t *b = h(f, buf_gpa(q, (unsigned int)(tok % DEPTH)) + 16);
	uint32_t bad = len;

	ck_assert_uint_eq(ulen, len);
	/* one check per request, not per byte: thousands of requests */
	for (uint32_t i = 0; i < len && bad == len; i++)
		if (b[i] != (uint8_t)(tok + i))
			bad = i;
	ck_assert_msg(bad == len, "request %llu: byte %u wrong", (unsigned long long)tok, bad);
}

/* Reap one completion, waiting up to 5 s for the call eventfd. */
static uint64_t fx_reap(struct fx *f, unsigned int q, uint32_t len)
{
	for (;;) {
		uint64_t tok, v;
		uint32_t ulen;
		int r = cvmm_virtq_driver_get_used(f->drv[q], &tok, &ulen);

		ck_assert_int_ge(r, 0);
		if (r == 1) {
			fx_check(f, q, tok, ulen, len);
			return tok;
		}
		if (cvmm_virtq_driver_enable_cb(f->drv[q]))
			continue;
		struct pollfd p = { .fd = f->call[q], .events = POLLIN };

		ck_assert_int_eq(poll(&p, 1, 5000), 1);
		(void)cvmm_eventfd_read(f->call[q], &v);
	}
}

/* Submit @n requests (up to DEPTH in flight) on @q and check every byte,
 * and that they come back in order. */
static void fx_io(struct fx *f, unsigned int q, unsigned int n, uint32_t len)
{
	uint64_t first = f->sent[q], want = first;

	while (want < first + n) {
		while (f->sent[q] < first + n && cvmm_virtq_driver_in_flight(f->drv[q]) < DEPTH)
			fx_add(f, q, len);
		fx_kick(f, q);
		ck_assert_uint_eq(fx_reap(f, q, len), want);
		want++;
	}
}

/* Ring slot and wrap counter after @n requests from a fresh packed ring. */
static void expect_pos(uint64_t n, uint16_t size, uint16_t *slot, bool *wrap)
{
	uint64_t slots = 0;

	for (uint64_t t = 0; t < n; t++)
		slots += req_slots(t);
	*slot = (uint16_t)(slots % size);
	*wrap = ((slots / size) & 1) == 0; /* starts at 1, flips per lap */
}

/* Nothing completes on @q for a moment (an absence can only be watched
 * for a while; a ring that wrongly runs completes within microseconds). */
static void assert_quiet(struct fx *f, unsigned int q)
{
	struct pollfd p = { .fd = f->call[q], .events = POLLIN };
	uint64_t tok, v;
	uint32_t len;

	(void)cvmm_eventfd_read(f->call[q], &v); /* signals of earlier completions */
	(void)poll(&p, 1, 100);
	ck_assert_int_eq(cvmm_virtq_driver_get_used(f->drv[q], &tok, &len), 0);
}

/* Send a raw request on the frontend's socket and return the REPLY_ACK. */
static int raw_acked(struct fx *f, uint32_t req, const void *payload, uint32_t size)
{
	struct cvmm_vhost_msg m = { 0 }, rep;

	ck_assert(f->pf & PF(REPLY_ACK));
	m.hdr.request = req;
	m.hdr.flags = CVMM_VHOST_VERSION | CVMM_VHOST_FLAG_NEED_REPLY;
	m.hdr.size = size;
	memcpy(&m.payload, payload, size);
	ck_assert_int_eq(cvmm_vhost_msg_send(f->raw, &m), 0);
	ck_assert_int_eq(cvmm_vhost_msg_recv(f->raw, &rep), 0);
	ck_assert_uint_eq(rep.hdr.request, req);
	ck_assert_uint_eq(rep.hdr.size, 8);
	return -(int)rep.payload.u64;
}

/* ------------------------------------------------------------------------ */

static void packed_io(uint64_t event_idx)
{
	struct fx f;

	fx_start(&f, 0, CVMM_VIRTIO_F_RING_PACKED | event_idx, 0);
	ck_assert(f.offered & CVMM_VIRTIO_F_RING_PACKED);
	fx_vring(&f, 0, CVMM_VHOST_PACKED_BASE_INIT);
	fx_vring(&f, 1, CVMM_VHOST_PACKED_BASE_INIT);
	/* Far more than the 50-slot ring: dozens of laps, wrap counter flips. */
	fx_io(&f, 0, 1000, 300);
	fx_io(&f, 1, 600, 4000);
	fx_io(&f, 0, 77, 1);
	fx_stop(&f);
}

START_TEST(packed_requests_event_idx)
{
	packed_io(CVMM_VIRTIO_F_EVENT_IDX);
}
END_TEST

START_TEST(packed_requests_no_event_idx)
{
	packed_io(0);
}
END_TEST

START_TEST(split_only_flag_hides_packed)
{
	struct fx f;

	fx_start(&f, CVMM_VUB_F_SPLIT_ONLY, CVMM_VIRTIO_F_EVENT_IDX, 0);
	ck_assert(!(f.offered & CVMM_VIRTIO_F_RING_PACKED));
	/* acking it anyway is refused */
	ck_assert_int_eq(cvmm_vhost_frontend_set_features(f.fe, f.features |
							  CVMM_VIRTIO_F_RING_PACKED), -EINVAL);
	fx_vring(&f, 0, 0);
	fx_io(&f, 0, 200, 64);
	fx_stop(&f);
}
END_TEST

START_TEST(packed_get_base_and_resume)
{
	struct fx f;
	struct cvmm_vhost_packed_base pb;
	unsigned int base = 0;
	uint16_t slot;
	bool wrap;

	fx_start(&f, 0, CVMM_VIRTIO_F_RING_PACKED | CVMM_VIRTIO_F_EVENT_IDX, 0);
	fx_vring(&f, 0, CVMM_VHOST_PACKED_BASE_INIT);
	fx_io(&f, 0, 137, 64);
	ck_assert_int_eq(cvmm_vhost_frontend_get_vring_base(f.fe, 0, &base), 0);
	ck_assert_int_eq(cvmm_vhost_packed_base_decode(base, QSIZE, &pb), 0);
	expect_pos(137, QSIZE, &slot, &wrap);
	ck_assert_uint_eq(pb.avail_idx, slot);
	ck_assert_uint_eq(pb.used_idx, slot);
	ck_assert_int_eq(pb.avail_wrap, wrap);
	ck_assert_int_eq(pb.used_wrap, wrap);
	ck_assert_uint_eq(base, cvmm_vhost_packed_base_encode(&pb));

	/* Stopped: requests made now wait for the restart. */
	fx_add(&f, 0, 64);
	fx_add(&f, 0, 64);
	ck_assert_int_eq(cvmm_eventfd_write(f.kick[0], 1), 0);
	assert_quiet(&f, 0);
	/* A second SET_VRING_BASE with the value read resumes without loss. */
	fx_vring(&f, 0, base);
	ck_assert_uint_eq(fx_reap(&f, 0, 64), 137);
	ck_assert_uint_eq(fx_reap(&f, 0, 64), 138);
	fx_io(&f, 0, 300, 64);
	ck_assert_int_eq(cvmm_vhost_frontend_get_vring_base(f.fe, 0, &base), 0);
	ck_assert_int_eq(cvmm_vhost_packed_base_decode(base, QSIZE, &pb), 0);
	expect_pos(439, QSIZE, &slot, &wrap);
	ck_assert_uint_eq(pb.avail_idx, slot);
	ck_assert_int_eq(pb.avail_wrap, wrap);
	ck_assert_uint_eq(pb.used_idx, slot);
	ck_assert_int_eq(pb.used_wrap, wrap);
	/* A frontend that sends only the avail half (used half 0) resumes too:
	 * the used side follows avail. */
	if (pb.avail_idx || pb.avail_wrap) {
		fx_vring(&f, 0, base & 0xffffu);
		fx_io(&f, 0, 40, 64);
	}
	/* A new kick fd on the live ring keeps its position. */
	int nk = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	ck_assert_int_ge(nk, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_kick(f.fe, 0, nk), 0);
	cvmm_close(f.kick[0]);
	f.kick[0] = nk;
	fx_io(&f, 0, 60, 64);
	fx_stop(&f);
}
END_TEST

START_TEST(hostile_bases_refused)
{
	struct fx f;
	struct cvmm_vhost_vring_state st = { 0, 0 };

	fx_start(&f, 0, CVMM_VIRTIO_F_RING_PACKED, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_num(f.fe, 0, QSIZE), 0);
	/* The frontend API checks before sending. */
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_base(f.fe, 0, QSIZE), -EINVAL);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_base(f.fe, 0, (uint32_t)QSIZE << 16), -EINVAL);
	/* The backend checks what arrives: either half at or above the size. */
	st.num = QSIZE | 0x8000u;
	ck_assert_int_eq(raw_acked(&f, CVMM_VHOST_SET_VRING_BASE, &st, sizeof(st)), -EINVAL);
	st.num = 0x8000u | (uint32_t)(QSIZE + 5) << 16;
	ck_assert_int_eq(raw_acked(&f, CVMM_VHOST_SET_VRING_BASE, &st, sizeof(st)), -EINVAL);
	st.num = 0x7fffu | 0x7fffu << 16;
	ck_assert_int_eq(raw_acked(&f, CVMM_VHOST_SET_VRING_BASE, &st, sizeof(st)), -EINVAL);
	st.num = 49u | 0x8000u | (49u | 0x8000u) << 16;
	ck_assert_int_eq(raw_acked(&f, CVMM_VHOST_SET_VRING_BASE, &st, sizeof(st)), 0);
	/* A base sent before the size is checked when the ring starts: 40 is
	 * beyond a 32-slot ring, which therefore stays stopped. */
	st.index = 1;
	st.num = 40u | 0x8000u | (40u | 0x8000u) << 16;
	ck_assert_int_eq(raw_acked(&f, CVMM_VHOST_SET_VRING_BASE, &st, sizeof(st)), 0);
	struct cvmm_vhost_vring_state num = { 1, 32 };
	ck_assert_int_eq(raw_acked(&f, CVMM_VHOST_SET_VRING_NUM, &num, sizeof(num)), 0);
	struct cvmm_vhost_vring_addr_wire a = {
		.index = 1, .desc_user_addr = (uintptr_t)h(&f, q_desc(1)),
		.avail_user_addr = (uintptr_t)h(&f, q_avail(1)),
		.used_user_addr = (uintptr_t)h(&f, q_used(1)),
	};
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_addr(f.fe, &a), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_call(f.fe, 1, f.call[1]), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_kick(f.fe, 1, f.kick[1]), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_enable(f.fe, 1, true), 0);
	struct cvmm_virtq_driver_opts dopts = {
		.sz = sizeof(dopts), .mem = f.mem, .size = 32, .features = f.features,
		.desc_gpa = q_desc(1), .avail_gpa = q_avail(1), .used_gpa = q_used(1),
		.indirect_gpa = q_ind(1), .indirect_max = IND_MAX,
	};
	cvmm_virtq_driver_destroy(f.drv[1]);
	ck_assert_int_eq(cvmm_virtq_driver_create(&dopts, &f.drv[1]), 0);
	fx_add(&f, 1, 16);
	ck_assert_int_eq(cvmm_eventfd_write(f.kick[1], 1), 0);
	assert_quiet(&f, 1);
	/* With a good base it starts and serves the waiting request. */
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_base(f.fe, 1, CVMM_VHOST_PACKED_BASE_INIT), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_kick(f.fe, 1, f.kick[1]), 0);
	ck_assert_uint_eq(fx_reap(&f, 1, 16), 0);
	fx_io(&f, 1, 100, 16);
	/* The connection survived every refusal; queue 0 still works. */
	fx_vring(&f, 0, CVMM_VHOST_PACKED_BASE_INIT);
	fx_io(&f, 0, 100, 16);
	fx_stop(&f);
}
END_TEST

START_TEST(split_base_above_16_bits_refused)
{
	struct fx f;
	struct cvmm_vhost_vring_state st = { 0, 0x10000 };

	fx_start(&f, 0, CVMM_VIRTIO_F_EVENT_IDX, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_base(f.fe, 0, 0x10000), -EINVAL);
	ck_assert_int_eq(raw_acked(&f, CVMM_VHOST_SET_VRING_BASE, &st, sizeof(st)), -EINVAL);
	fx_vring(&f, 0, 0);
	fx_io(&f, 0, 100, 16);
	fx_stop(&f);
}
END_TEST

START_TEST(status_gates_rings)
{
	struct fx f;
	uint8_t st = 0xff;
	unsigned int base = 0;
	struct cvmm_vhost_packed_base pb;
	uint16_t slot;
	bool wrap;

	fx_start(&f, 0, CVMM_VIRTIO_F_RING_PACKED | CVMM_VIRTIO_F_EVENT_IDX, PF(STATUS));
	ck_assert_int_eq(cvmm_vhost_frontend_get_status(f.fe, &st), 0);
	ck_assert_uint_eq(st, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_status(f.fe, 0x0b), 0); /* FEATURES_OK, no DRIVER_OK */
	fx_vring(&f, 0, CVMM_VHOST_PACKED_BASE_INIT);
	/* Set up and kicked, but the driver is not ready: nothing runs. */
	fx_add(&f, 0, 32);
	ck_assert_int_eq(cvmm_eventfd_write(f.kick[0], 1), 0);
	assert_quiet(&f, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_status(f.fe, STATUS_ALL), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_status(f.fe, &st), 0);
	ck_assert_uint_eq(st, STATUS_ALL);
	ck_assert_uint_eq(fx_reap(&f, 0, 32), 0);
	fx_io(&f, 0, 120, 32);
	/* Status 0 (QEMU sends it when it stops the device, before
	 * GET_VRING_BASE): rings stop, positions are kept. */
	ck_assert_int_eq(cvmm_vhost_frontend_set_status(f.fe, 0), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_status(f.fe, &st), 0);
	ck_assert_uint_eq(st, 0);
	fx_add(&f, 0, 32);
	ck_assert_int_eq(cvmm_eventfd_write(f.kick[0], 1), 0);
	assert_quiet(&f, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_vring_base(f.fe, 0, &base), 0);
	ck_assert_int_eq(cvmm_vhost_packed_base_decode(base, QSIZE, &pb), 0);
	expect_pos(121, QSIZE, &slot, &wrap);
	ck_assert_uint_eq(pb.avail_idx, slot);
	ck_assert_int_eq(pb.avail_wrap, wrap);
	/* Restart as QEMU does: rings, then DRIVER_OK. */
	fx_vring(&f, 0, base);
	assert_quiet(&f, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_status(f.fe, STATUS_ALL), 0);
	ck_assert_uint_eq(fx_reap(&f, 0, 32), 121);
	fx_io(&f, 0, 100, 32);
	fx_stop(&f);
}
END_TEST

START_TEST(reset_device_then_renegotiate)
{
	struct fx f;
	uint8_t st;
	int fd = -1;
	uint64_t size, off;

	fx_start(&f, 0, CVMM_VIRTIO_F_RING_PACKED,
		 PF(STATUS) | PF(RESET_DEVICE) | PF(INFLIGHT_SHMFD));
	/* Inflight tracking is split-only: with packed acked the region is
	 * handed out (QEMU gives up on a refusal) but packed rings leave it
	 * alone. */
	ck_assert_int_eq(cvmm_vhost_frontend_get_inflight_fd(f.fe, NQ, 64, &fd, &size, &off), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_inflight_fd(f.fe, fd, size, off, NQ, 64), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_status(f.fe, STATUS_ALL), 0);
	fx_vring(&f, 0, CVMM_VHOST_PACKED_BASE_INIT);
	fx_vring(&f, 1, CVMM_VHOST_PACKED_BASE_INIT);
	fx_io(&f, 0, 300, 100);
	fx_io(&f, 1, 30, 100);
	uint8_t *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, (off_t)off);
	ck_assert_ptr_ne(m, MAP_FAILED);
	for (uint64_t i = 0; i < size; i++)
		if (i % (size / NQ) >= 16) /* past each queue's header */
			ck_assert_uint_eq(m[i], 0);
	munmap(m, size);
	cvmm_close(fd);

	ck_assert_int_eq(cvmm_vhost_frontend_reset_device(f.fe), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_status(f.fe, &st), 0);
	ck_assert_uint_eq(st, 0);
	/* The rings are gone: the old kick fd reaches nobody. */
	fx_add(&f, 0, 100);
	ck_assert_int_eq(cvmm_eventfd_write(f.kick[0], 1), 0);
	assert_quiet(&f, 0);
	/* A vring message that needs the ring size is refused until the
	 * frontend sets it again. */
	struct cvmm_vhost_vring_addr_wire a = {
		.index = 0, .desc_user_addr = (uintptr_t)h(&f, q_desc(0)),
		.avail_user_addr = (uintptr_t)h(&f, q_avail(0)),
		.used_user_addr = (uintptr_t)h(&f, q_used(0)),
	};
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_addr(f.fe, &a), -EINVAL);

	/* Renegotiate from scratch, split this time, with inflight tracking. */
	fx_negotiate(&f, CVMM_VIRTIO_F_EVENT_IDX, PF(STATUS) | PF(RESET_DEVICE) | PF(INFLIGHT_SHMFD));
	ck_assert_int_eq(cvmm_vhost_frontend_get_inflight_fd(f.fe, NQ, SPLIT_QSIZE, &fd, &size, &off),
			 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_inflight_fd(f.fe, fd, size, off, NQ, SPLIT_QSIZE),
			 0);
	cvmm_close(fd);
	fx_vring(&f, 0, 0);
	fx_vring(&f, 1, 0);
	fx_add(&f, 0, 100);
	ck_assert_int_eq(cvmm_eventfd_write(f.kick[0], 1), 0);
	assert_quiet(&f, 0); /* no DRIVER_OK yet: the reset cleared it */
	ck_assert_int_eq(cvmm_vhost_frontend_set_status(f.fe, STATUS_ALL), 0);
	ck_assert_uint_eq(fx_reap(&f, 0, 100), 0);
	fx_io(&f, 0, 200, 100);
	fx_io(&f, 1, 200, 100);

	/* And back to packed after a second reset. */
	ck_assert_int_eq(cvmm_vhost_frontend_reset_device(f.fe), 0);
	fx_negotiate(&f, CVMM_VIRTIO_F_RING_PACKED | CVMM_VIRTIO_F_EVENT_IDX,
		     PF(STATUS) | PF(RESET_DEVICE));
	ck_assert_int_eq(cvmm_vhost_frontend_set_status(f.fe, STATUS_ALL), 0);
	fx_vring(&f, 0, CVMM_VHOST_PACKED_BASE_INIT);
	fx_io(&f, 0, 150, 10);
	ck_assert_uint_eq(cvmm_vub_connections(f.d), 1);
	fx_stop(&f);
}
END_TEST

START_TEST(base_encoding)
{
	struct cvmm_vhost_packed_base pb = { .avail_idx = 0x1234, .used_idx = 0x7ffe,
					     .avail_wrap = true, .used_wrap = false };
	struct cvmm_vhost_packed_base d;

	ck_assert_uint_eq(cvmm_vhost_packed_base_encode(&pb), 0x7ffe9234u);
	ck_assert_int_eq(cvmm_vhost_packed_base_decode(0x7ffe9234u, 0, &d), 0);
	ck_assert_uint_eq(d.avail_idx, 0x1234);
	ck_assert_uint_eq(d.used_idx, 0x7ffe);
	ck_assert(d.avail_wrap && !d.used_wrap);
	ck_assert_int_eq(cvmm_vhost_packed_base_decode(0x7ffe9234u, 0x7fff, &d), 0);
	ck_assert_int_eq(cvmm_vhost_packed_base_decode(0x7ffe9234u, 0x7ffe, &d), -EINVAL);
	ck_assert_int_eq(cvmm_vhost_packed_base_decode(0x80018001u, 2, &d), 0);
	ck_assert_int_eq(cvmm_vhost_packed_base_decode(0x80018001u, 1, &d), -EINVAL);
	ck_assert_int_eq(cvmm_vhost_packed_base_decode(CVMM_VHOST_PACKED_BASE_INIT, 1, &d), 0);
	ck_assert(d.avail_idx == 0 && d.used_idx == 0 && d.avail_wrap && d.used_wrap);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vhost-user-backend-packed");

	cvmm_log_stderr_from_env("CVMM_TEST_LOG", CVMM_LOG_ERROR);
	TCase *t = tcase_create("packed");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, base_encoding);
	tcase_add_test(t, packed_requests_event_idx);
	tcase_add_test(t, packed_requests_no_event_idx);
	tcase_add_test(t, split_only_flag_hides_packed);
	tcase_add_test(t, packed_get_base_and_resume);
	tcase_add_test(t, hostile_bases_refused);
	tcase_add_test(t, split_base_above_16_bits_refused);
	tcase_add_test(t, status_gates_rings);
	tcase_add_test(t, reset_device_then_renegotiate);
	suite_add_tcase(s, t);
	Suite *all[] = { s, NULL };
	return cvmm_test_run(all);
}
