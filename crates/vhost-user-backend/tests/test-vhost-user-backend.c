/* SPDX-License-Identifier: Apache-2.0 */
/* The framework with a toy "fill" device, driven in-process by the vhost
 * crate's frontend and virtio-queue's driver over a memfd: data path,
 * EVENT_IDX signalling, vring stop/restart, multiqueue, the inflight
 * region (hostile content, bad geometry), dirty logging into the shared
 * log, shutdown, argument checks, and the thread_start hook. */
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
#define QSIZE 64u
#define MEM (4ull << 20)
#define NQ 2u


/* ---- fixture: daemon thread + in-process frontend/driver ---- */

struct fx {
	char dir[128], sock[160];
	struct cvmm_vub *d;
	pthread_t th;
	int serve_ret;
	struct cvmm_vhost_frontend *fe;
	struct cvmm_guest_mem *mem;
	struct cvmm_virtq_driver *drv[NQ];
	int kick[NQ], call[NQ];
	uint64_t features;
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
static uint64_t buf_gpa(unsigned int q, unsigned int slot) { return 0x100000ull + 0x80000ull * q + 0x1000ull * slot; }

static unsigned int fx_workers; /* 0: one per queue */

static void fx_start(struct fx *f, uint64_t extra_pf)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	uint64_t pf;
	int sock = -1;

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "%s/cvmm-vub-XXXXXX", tmp);
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/s", f->dir);
	struct cvmm_vub_opts o = { .sz = sizeof(o), .socket_path = f->sock, .listen_fd = -1,
				   .num_queues = NQ, .num_workers = fx_workers,
				   .ops = &fill_ops };
	ck_assert_int_eq(cvmm_vub_create(&o, &f->d), 0);
	ck_assert_int_eq(pthread_create(&f->th, NULL, serve_main, f), 0);
	sock = cvmm_unix_connect(f->sock);
	ck_assert_int_ge(sock, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_create(sock, &f->fe), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_owner(f->fe), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_features(f->fe, &f->features), 0);
	ck_assert_uint_eq(f->features & CVMM_VUB_FRAMEWORK_FEATURES, CVMM_VUB_FRAMEWORK_FEATURES);
	ck_assert_int_eq(cvmm_vhost_frontend_get_protocol_features(f->fe, &pf), 0);
	ck_assert(pf & PF(INFLIGHT_SHMFD));
	ck_assert(pf & PF(LOG_SHMFD));
	ck_assert(!(pf & PF(CONFIG))); /* the toy device has no config space */
	ck_assert_int_eq(cvmm_vhost_frontend_set_protocol_features(f->fe,
				pf & (PF(MQ) | PF(REPLY_ACK) | extra_pf)), 0);
	f->features &= CVMM_VIRTIO_F_VERSION_1 | CVMM_VIRTIO_F_EVENT_IDX |
		       CVMM_VHOST_F_PROTOCOL_FEATURES;
	ck_assert_int_eq(cvmm_vhost_frontend_set_features(f->fe, f->features), 0);
	ck_assert_int_eq(cvmm_guest_mem_create(&f->mem), 0);
	struct cvmm_mem_region_opts ro = { .sz = sizeof(ro), .size = MEM,
					   .backing = CVMM_MEM_MEMFD, .flags = CVMM_MEM_F_SHARED,
					   .fd = -1 };
	ck_assert_int_eq(cvmm_guest_mem_add_region(f->mem, &ro), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_mem_table(f->fe, f->mem), 0);
	for (unsigned int q = 0; q < NQ; q++) {
		struct cvmm_virtq_driver_opts d = { .sz = sizeof(d), .mem = f->mem, .size = QSIZE,
						    .features = f->features, .desc_gpa = q_desc(q),
						    .avail_gpa = q_avail(q), .used_gpa = q_used(q) };

		ck_assert_int_eq(cvmm_virtq_driver_create(&d, &f->drv[q]), 0);
		f->kick[q] = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
		f->call[q] = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
		ck_assert_int_ge(f->kick[q], 0);
		ck_assert_int_ge(f->call[q], 0);
	}
}

static void *h(struct fx *f, uint64_t gpa)
{
	return cvmm_guest_mem_ptr(f->mem, gpa, 1);
}

static void fx_vring(struct fx *f, unsigned int q, unsigned int base)
{
	struct cvmm_vhost_vring_addr_wire a = {
		.index = q, .desc_user_addr = (uintptr_t)h(f, q_desc(q)),
		.avail_user_addr = (uintptr_t)h(f, q_avail(q)),
		.used_user_addr = (uintptr_t)h(f, q_used(q)),
		.log_guest_addr = q_used(q),
	};

	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_num(f->fe, q, QSIZE), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_base(f->fe, q, base), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_addr(f->fe, &a), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_kick(f->fe, q, f->kick[q]), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_call(f->fe, q, f->call[q]), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_enable(f->fe, q, true), 0);
}

static void fx_stop(struct fx *f)
{
	cvmm_vhost_frontend_destroy(f->fe);
	ck_assert_int_eq(cvmm_vub_stop(f->d), 0);
	pthread_join(f->th, NULL);
	ck_assert_int_eq(f->serve_ret, 0);
	cvmm_vub_destroy(f->d);
	/* the socket file goes with the daemon */
	ck_assert_int_ne(access(f->sock, F_OK), 0);
	for (unsigned int q = 0; q < NQ; q++) {
		cvmm_virtq_driver_destroy(f->drv[q]);
		cvmm_close(f->kick[q]);
		cvmm_close(f->call[q]);
	}
	cvmm_guest_mem_destroy(f->mem);
	rmdir(f->dir);
}

/* Submit @n requests (depth up to 8) on @q and check every byte. */
static void fx_io(struct fx *f, unsigned int q, unsigned int n, uint32_t len)
{
	unsigned int sent = 0, done = 0;

	while (done < n) {
		while (sent < n && cvmm_virtq_driver_in_flight(f->drv[q]) < 8) {
			unsigned int slot = sent % 8;
			uint64_t g = buf_gpa(q, slot);
			struct cvmm_virtq_buf out = { g, 1 }, in = { g + 16, len };

			ck_assert_int_eq(cvmm_guest_mem_write_u8(f->mem, g, (uint8_t)sent), 0);
			ck_assert_int_eq(cvmm_guest_mem_fill(f->mem, g + 16, 0, len), 0);
			ck_assert_int_eq(cvmm_virtq_driver_add(f->drv[q], &out, 1, &in, 1, false, sent), 0);
			sent++;
		}
		if (cvmm_virtq_driver_kick_needed(f->drv[q]))
			ck_assert_int_eq(cvmm_eventfd_write(f->kick[q], 1), 0);
		uint64_t tok;
		uint32_t ulen;
		int r = cvmm_virtq_driver_get_used(f->drv[q], &tok, &ulen);

		ck_assert_int_ge(r, 0);
		if (r == 0) {
			if (cvmm_virtq_driver_enable_cb(f->drv[q]))
				continue;
			struct pollfd p = { .fd = f->call[q], .events = POLLIN };

			ck_assert_int_eq(poll(&p, 1, 5000), 1);
			uint64_t v;
			(void)cvmm_eventfd_read(f->call[q], &v);
			continue;
		}
		ck_assert_uint_eq(ulen, len);
		uint8_t *b = h(f, buf_gpa(q, tok % 8) + 16);

		for (uint32_t i = 0; i < len; i++)
			ck_assert_uint_eq(b[i], (uint8_t)(tok + i));
		done++;
	}
}

START_TEST(data_path_and_multiqueue)
{
	struct fx f;

	fx_start(&f, 0);
	ck_assert(f.features & CVMM_VIRTIO_F_EVENT_IDX);
	fx_vring(&f, 0, 0);
	fx_vring(&f, 1, 0);
	fx_io(&f, 0, 200, 300);
	fx_io(&f, 1, 100, 4000);
	fx_io(&f, 0, 50, 1);
	ck_assert_uint_eq(cvmm_vub_connections(f.d), 1);
	fx_stop(&f);
}
END_TEST

/* Both vrings on one worker thread (one epoll loop serving two queues). */
START_TEST(two_queues_one_worker)
{
	struct fx f;

	fx_workers = 1;
	fx_start(&f, 0);
	fx_vring(&f, 0, 0);
	fx_vring(&f, 1, 0);
	for (int i = 0; i < 10; i++) {
		fx_io(&f, 0, 20, 100);
		fx_io(&f, 1, 20, 200);
	}
	fx_stop(&f);
	fx_workers = 0;
}
END_TEST

START_TEST(get_vring_base_stops_and_restart_resumes)
{
	struct fx f;
	unsigned int base = 0;

	fx_start(&f, 0);
	fx_vring(&f, 0, 0);
	fx_io(&f, 0, 37, 64);
	ck_assert_int_eq(cvmm_vhost_frontend_get_vring_base(f.fe, 0, &base), 0);
	ck_assert_uint_eq(base, 37);
	/* stopped: a kick is not served */
	uint64_t g = buf_gpa(0, 0);
	struct cvmm_virtq_buf out = { g, 1 }, in = { g + 16, 8 };
	ck_assert_int_eq(cvmm_virtq_driver_add(f.drv[0], &out, 1, &in, 1, false, 37), 0);
	ck_assert_int_eq(cvmm_eventfd_write(f.kick[0], 1), 0);
	usleep(100000);
	uint64_t tok;
	uint32_t len;
	ck_assert_int_eq(cvmm_virtq_driver_get_used(f.drv[0], &tok, &len), 0);
	/* restarted at the base: the pending request is served, then more */
	fx_vring(&f, 0, base);
	struct pollfd p = { .fd = f.call[0], .events = POLLIN };
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	ck_assert_int_eq(cvmm_virtq_driver_get_used(f.drv[0], &tok, &len), 1);
	ck_assert_uint_eq(tok, 37);
	fx_io(&f, 0, 20, 64);
	/* a new kick fd on the live ring keeps its position */
	int nk = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	ck_assert_int_ge(nk, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_kick(f.fe, 0, nk), 0);
	cvmm_close(f.kick[0]);
	f.kick[0] = nk;
	fx_io(&f, 0, 20, 64);
	ck_assert_int_eq(cvmm_vhost_frontend_get_vring_base(f.fe, 0, &base), 0);
	ck_assert_uint_eq(base, 37 + 1 + 20 + 20);
	fx_stop(&f);
}
END_TEST

START_TEST(inflight_bad_geometry_refused)
{
	struct fx f;
	int fd = -1;
	uint64_t size, off;

	fx_start(&f, PF(INFLIGHT_SHMFD));
	/* more queues than the device has, size not a power of two */
	ck_assert_int_lt(cvmm_vhost_frontend_get_inflight_fd(f.fe, NQ + 1, QSIZE, &fd, &size, &off), 0);
	ck_assert_int_lt(cvmm_vhost_frontend_get_inflight_fd(f.fe, NQ, 48, &fd, &size, &off), 0);
	/* QEMU asks for its queue-size property (128 by default) while the
	 * guest may pick a bigger ring (virtio-mmio offers 1024): a region for
	 * 16 entries must still track this 64-entry ring. */
	ck_assert_int_eq(cvmm_vhost_frontend_get_inflight_fd(f.fe, NQ, 16, &fd, &size, &off), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_ge(size, NQ * (16 + 16 * QSIZE));
	/* a region claimed larger than its fd */
	ck_assert_int_lt(cvmm_vhost_frontend_set_inflight_fd(f.fe, fd, size * 4, 0, NQ, 16), 0);
	ck_assert_int_lt(cvmm_vhost_frontend_set_inflight_fd(f.fe, fd, size, 100, NQ, 16), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_inflight_fd(f.fe, fd, size, off, NQ, 16), 0);
	fx_vring(&f, 0, 0);
	fx_io(&f, 0, 30, 100);
	/* the region records the progress: used_idx follows the ring */
	uint8_t *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	uint16_t used_idx;
	memcpy(&used_idx, m + 14, 2);
	ck_assert_uint_eq(used_idx, 30);
	for (unsigned int i = 0; i < QSIZE; i++)
		ck_assert_uint_eq(m[16 + 16 * i], 0); /* nothing left in flight */
	munmap(m, size);
	close(fd);
	fx_stop(&f);
}
END_TEST

/* A region too small for the ring: tracking is off for it (nothing is
 * written past the region), the ring still works. */
START_TEST(inflight_region_smaller_than_ring_not_used)
{
	struct fx f;
	int fd = memfd_create("small", MFD_CLOEXEC);
	uint64_t size = 4096;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	fx_start(&f, PF(INFLIGHT_SHMFD));
	/* 1024 bytes for 2 queues: a 512-byte stride holds 31 entries < 64 */
	ck_assert_int_eq(cvmm_vhost_frontend_set_inflight_fd(f.fe, fd, 1024, 0, NQ, 16), 0);
	fx_vring(&f, 0, 0);
	fx_io(&f, 0, 20, 8);
	uint8_t *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	for (uint64_t i = 0; i < size; i++)
		ck_assert_uint_eq(m[i], 0);
	munmap(m, size);
	close(fd);
	fx_stop(&f);
}
END_TEST

/* A frontend hands back an inflight region full of junk: flags that are
 * not 1, a last_batch_head out of range, a stale used_idx. The daemon
 * resubmits nothing it cannot trust and serves the ring normally. */
START_TEST(inflight_garbage_is_not_trusted)
{
	struct fx f;
	int fd = memfd_create("junk", MFD_CLOEXEC);
	uint64_t qb = (16 + 16 * QSIZE + 63) & ~63u, size = qb * NQ;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	uint8_t *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	memset(m, 0xa7, size);
	uint16_t v = 1, n = QSIZE;
	memcpy(m + 8, &v, 2);  /* version */
	memcpy(m + 10, &n, 2); /* desc_num */
	fx_start(&f, PF(INFLIGHT_SHMFD));
	ck_assert_int_eq(cvmm_vhost_frontend_set_inflight_fd(f.fe, fd, size, 0, NQ, QSIZE), 0);
	fx_vring(&f, 0, 0);
	fx_vring(&f, 1, 0);
	fx_io(&f, 0, 40, 32);
	fx_io(&f, 1, 40, 32);
	ck_assert_uint_eq(cvmm_vub_resubmitted(f.d), 0);
	munmap(m, size);
	close(fd);
	fx_stop(&f);
}
END_TEST

START_TEST(dirty_log_records_device_writes)
{
	struct fx f;
	uint64_t log_size = MEM / 4096 / 8;
	int lfd = memfd_create("log", MFD_CLOEXEC);

	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(ftruncate(lfd, (off_t)log_size), 0);
	fx_start(&f, PF(LOG_SHMFD));
	ck_assert_int_eq(cvmm_vhost_frontend_set_log_base(f.fe, lfd, log_size, 0), 0);
	fx_vring(&f, 0, 0);
	fx_io(&f, 0, 8, 4096 - 16);
	uint8_t *log = mmap(NULL, log_size, PROT_READ, MAP_SHARED, lfd, 0);
	ck_assert_ptr_ne(log, MAP_FAILED);
#define BIT(gpa) ((log[((gpa) >> 12) / 8] >> (((gpa) >> 12) % 8)) & 1)
	for (unsigned int s = 0; s < 8; s++) {
		ck_assert_uint_eq(BIT(buf_gpa(0, s) + 16), 1);
		ck_assert_uint_eq(BIT(buf_gpa(0, s) + 4095), 1);
	}
	ck_assert_uint_eq(BIT(q_used(0)), 1);
	/* pages the device never wrote */
	ck_assert_uint_eq(BIT(q_desc(0)), 0);
	ck_assert_uint_eq(BIT(buf_gpa(0, 9)), 0);
	ck_assert_uint_eq(BIT(buf_gpa(1, 0)), 0);
#undef BIT
	munmap(log, log_size);
	close(lfd);
	fx_stop(&f);
}
END_TEST

START_TEST(reconnect_after_frontend_vanishes)
{
	struct fx f;

	fx_start(&f, 0);
	fx_vring(&f, 0, 0);
	fx_io(&f, 0, 10, 16);
	cvmm_vhost_frontend_destroy(f.fe);
	f.fe = NULL;
	/* a second frontend, fresh rings */
	int sock = cvmm_unix_connect(f.sock);
	ck_assert_int_ge(sock, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_create(sock, &f.fe), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_features(f.fe, f.features), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_mem_table(f.fe, f.mem), 0);
	cvmm_virtq_driver_destroy(f.drv[0]);
	struct cvmm_virtq_driver_opts d = { .sz = sizeof(d), .mem = f.mem, .size = QSIZE,
					    .features = f.features, .desc_gpa = q_desc(0),
					    .avail_gpa = q_avail(0), .used_gpa = q_used(0) };
	ck_assert_int_eq(cvmm_virtq_driver_create(&d, &f.drv[0]), 0);
	fx_vring(&f, 0, 0);
	fx_io(&f, 0, 10, 16);
	ck_assert_uint_eq(cvmm_vub_connections(f.d), 2);
	fx_stop(&f);
}
END_TEST

/* A descriptor pointing outside guest memory breaks that vring only: the
 * other vring keeps working, and after a reconnect everything works. */
START_TEST(hostile_descriptor_breaks_one_vring)
{
	struct fx f;
	struct cvmm_virtq_buf out = { MEM - 8, 64 }, in = { buf_gpa(0, 0), 16 };
	uint64_t tok;
	uint32_t len;

	fx_start(&f, 0);
	fx_vring(&f, 0, 0);
	fx_vring(&f, 1, 0);
	ck_assert_int_eq(cvmm_virtq_driver_add(f.drv[0], &out, 1, &in, 1, false, 1), 0);
	ck_assert_int_eq(cvmm_eventfd_write(f.kick[0], 1), 0);
	usleep(100000);
	ck_assert_int_eq(cvmm_virtq_driver_get_used(f.drv[0], &tok, &len), 0);
	fx_io(&f, 1, 30, 64);
	cvmm_vhost_frontend_destroy(f.fe);
	int sock = cvmm_unix_connect(f.sock);
	ck_assert_int_ge(sock, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_create(sock, &f.fe), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_features(f.fe, f.features), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_mem_table(f.fe, f.mem), 0);
	cvmm_virtq_driver_destroy(f.drv[0]);
	struct cvmm_virtq_driver_opts d = { .sz = sizeof(d), .mem = f.mem, .size = QSIZE,
					    .features = f.features, .desc_gpa = q_desc(0),
					    .avail_gpa = q_avail(0), .used_gpa = q_used(0) };
	ck_assert_int_eq(cvmm_virtq_driver_create(&d, &f.drv[0]), 0);
	fx_vring(&f, 0, 0);
	fx_io(&f, 0, 10, 16);
	fx_stop(&f);
}
END_TEST

/* A frontend that stalls in the middle of a message: the connection is
 * dropped after the I/O timeout and a stop request is honoured. */
START_TEST(stalled_partial_message_does_not_pin_the_daemon)
{
	struct fx f;
	uint8_t partial[6] = { 1, 0, 0, 0, 1, 0 };

	fx_start(&f, 0);
	int raw = cvmm_unix_connect(f.sock);
	/* the first frontend is still connected: this one waits in the
	 * backlog; drop the first so the raw one is served */
	cvmm_vhost_frontend_destroy(f.fe);
	f.fe = NULL;
	ck_assert_int_ge(raw, 0);
	ck_assert_int_eq(write(raw, partial, sizeof(partial)), (ssize_t)sizeof(partial));
	usleep(200000);
	uint64_t t0 = cvmm_now_ns();
	ck_assert_int_eq(cvmm_vub_stop(f.d), 0);
	pthread_join(f.th, NULL);
	ck_assert_int_eq(f.serve_ret, 0);
	ck_assert_uint_lt(cvmm_now_ns() - t0, 8000000000ull);
	ck_assert_uint_eq(cvmm_vub_connections(f.d), 2);
	close(raw);
	cvmm_vub_destroy(f.d);
	for (unsigned int q = 0; q < NQ; q++) {
		cvmm_virtq_driver_destroy(f.drv[q]);
		cvmm_close(f.kick[q]);
		cvmm_close(f.call[q]);
	}
	cvmm_guest_mem_destroy(f.mem);
	rmdir(f.dir);
}
END_TEST

START_TEST(create_checks_arguments)
{
	struct cvmm_vub *d = NULL;
	struct cvmm_vub_device_ops no_kick = { .sz = sizeof(no_kick) };
	struct cvmm_vub_opts o = { .sz = sizeof(o), .socket_path = "/nonexistent/x",
				   .listen_fd = -1, .num_queues = 1, .ops = &fill_ops };

	o.num_queues = 0;
	ck_assert_int_eq(cvmm_vub_create(&o, &d), -EINVAL);
	o.num_queues = 257;
	ck_assert_int_eq(cvmm_vub_create(&o, &d), -EINVAL);
	o.num_queues = 1;
	o.ops = &no_kick;
	ck_assert_int_eq(cvmm_vub_create(&o, &d), -EINVAL);
	o.ops = &fill_ops;
	o.socket_path = NULL;
	ck_assert_int_eq(cvmm_vub_create(&o, &d), -EINVAL);
	o.socket_path = "/nonexistent/x";
	o.flags = 0x80;
	ck_assert_int_eq(cvmm_vub_create(&o, &d), -EINVAL);
	o.flags = 0;
	o.sz = 8;
	ck_assert_int_eq(cvmm_vub_create(&o, &d), -EINVAL);
	o.sz = sizeof(o);
	ck_assert_int_lt(cvmm_vub_create(&o, &d), 0); /* no such directory */
	ck_assert_ptr_null(d);
	cvmm_vub_destroy(NULL);
}
END_TEST

/* ---- thread_start: once per framework thread, on that thread ---- */

static pthread_mutex_t ts_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ts_cond = PTHREAD_COND_INITIALIZER;
static unsigned int ts_calls, ts_worker_mask, ts_signals;
static bool ts_wrong_thread;

static void ts_hook(void *arg, enum cvmm_vub_thread type, unsigned int idx)
{
	char name[16] = "", want[16];

	if (pthread_getname_np(pthread_self(), name, sizeof(name)) != 0)
		name[0] = '\0';
	if (type == CVMM_VUB_THREAD_WORKER)
		snprintf(want, sizeof(want), "vub-worker%u", idx);
	else
		snprintf(want, sizeof(want), "vub-signals");
	pthread_mutex_lock(&ts_lock);
	if (pthread_equal(pthread_self(), *(pthread_t *)arg) || strcmp(name, want))
		ts_wrong_thread = true;
	if (type == CVMM_VUB_THREAD_WORKER)
		ts_worker_mask |= 1u << idx;
	else
		ts_signals++;
	ts_calls++;
	pthread_cond_broadcast(&ts_cond);
	pthread_mutex_unlock(&ts_lock);
}

START_TEST(thread_start_runs_on_each_framework_thread)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	pthread_t self = pthread_self();
	char dir[256], sock[300];
	struct cvmm_vub *d;

	snprintf(dir, sizeof(dir), "%s/cvmm-vub-XXXXXX", tmp);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/s", dir);
	struct cvmm_vub_opts o = { .sz = sizeof(o), .socket_path = sock, .listen_fd = -1,
				   .flags = CVMM_VUB_F_SIGNALS, .num_queues = 3,
				   .ops = &fill_ops, .thread_start = ts_hook,
				   .thread_arg = &self };
	ck_assert_int_eq(cvmm_vub_create(&o, &d), 0);
	/* The threads run the hook at their own pace: wait for all four. */
	pthread_mutex_lock(&ts_lock);
	while (ts_calls < 4)
		pthread_cond_wait(&ts_cond, &ts_lock);
	pthread_mutex_unlock(&ts_lock);
	cvmm_vub_destroy(d);
	rmdir(dir);
	ck_assert_uint_eq(ts_calls, 4);
	ck_assert_uint_eq(ts_worker_mask, 0x7);
	ck_assert_uint_eq(ts_signals, 1);
	ck_assert(!ts_wrong_thread);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vhost-user-backend");
	TCase *t = tcase_create("framework");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, data_path_and_multiqueue);
	tcase_add_test(t, two_queues_one_worker);
	tcase_add_test(t, get_vring_base_stops_and_restart_resumes);
	tcase_add_test(t, inflight_bad_geometry_refused);
	tcase_add_test(t, inflight_region_smaller_than_ring_not_used);
	tcase_add_test(t, inflight_garbage_is_not_trusted);
	tcase_add_test(t, dirty_log_records_device_writes);
	tcase_add_test(t, reconnect_after_frontend_vanishes);
	tcase_add_test(t, hostile_descriptor_breaks_one_vring);
	tcase_add_test(t, stalled_partial_message_does_not_pin_the_daemon);
	tcase_add_test(t, create_checks_arguments);
	tcase_add_test(t, thread_start_runs_on_each_framework_thread);
	suite_add_tcase(s, t);
	Suite *all[] = { s, NULL };
	return cvmm_test_run(all);
}
