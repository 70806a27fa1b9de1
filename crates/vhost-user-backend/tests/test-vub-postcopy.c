/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Post-copy through the protocol's POSTCOPY messages (PAGEFAULT): the
 * framework with the toy "fill" device, driven in-process by the vhost
 * crate's frontend, which plays the destination VMM: it takes the
 * daemon's userfaultfd (ADVISE), listens, learns the daemon's mapping
 * from SET_MEM_TABLE's answer, and serves the daemon's faults the way
 * crates/vmm does (place the page through its own mapping with
 * UFFDIO_COPY on its own userfaultfd, then UFFDIO_WAKE the daemon's
 * thread). Also the messages out of order, refused with an error.
 */
#include "cvmm-test.h"

#include <cvmm/sys-util.h>
#include <cvmm/vhost-user-backend.h>
#include <cvmm/vhost.h>
#include <cvmm/virtio-queue/driver.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fill-dev.h"

#define PF(b) CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_##b)
#define QSIZE 64u
#define MEM (4ull << 20)
#define PAGE 4096ull
#define DESC 0x10000ull
#define AVAIL 0x12000ull
#define USED 0x14000ull
/* Request buffers: "not yet migrated" pages, the seed page and the
 * output pages of request i at OUT(i) and IN(i). */
#define OUT(i) (0x100000ull + 0x10000ull * (i))
#define IN(i) (OUT(i) + PAGE)
#define INLEN (2 * PAGE)

struct fx {
	char dir[128], sock[160];
	struct cvmm_vub *d;
	pthread_t th;
	int serve_ret;
	struct cvmm_vhost_frontend *fe;
	struct cvmm_guest_mem *mem;
	struct cvmm_virtq_driver *drv;
	int kick, call;
};

static void *serve_main(void *arg)
{
	struct fx *f = arg;

	f->serve_ret = cvmm_vub_serve(f->d);
	return NULL;
}

/* userfaultfd for this user (root, or vm.unprivileged_userfaultfd=1). */
static bool have_uffd(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void fx_start(struct fx *f, uint64_t extra_pf)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	uint64_t pf, features;
	int sock;

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "%s/cvmm-vubpc-XXXXXX", tmp);
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/s", f->dir);
	struct cvmm_vub_opts o = { .sz = sizeof(o), .socket_path = f->sock, .listen_fd = -1,
				   .num_queues = 1, .ops = &fill_ops };
	ck_assert_int_eq(cvmm_vub_create(&o, &f->d), 0);
	ck_assert_int_eq(pthread_create(&f->th, NULL, serve_main, f), 0);
	sock = cvmm_unix_connect(f->sock);
	ck_assert_int_ge(sock, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_create(sock, &f->fe), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_owner(f->fe), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_features(f->fe, &features), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_protocol_features(f->fe, &pf), 0);
	ck_assert(pf & PF(PAGEFAULT));
	ck_assert_int_eq(cvmm_vhost_frontend_set_protocol_features(
				 f->fe, pf & (PF(REPLY_ACK) | PF(CONFIGURE_MEM_SLOTS) | extra_pf)),
			 0);
	features &= CVMM_VIRTIO_F_VERSION_1 | CVMM_VHOST_F_PROTOCOL_FEATURES;
	ck_assert_int_eq(cvmm_vhost_frontend_set_features(f->fe, features), 0);
	ck_assert_int_eq(cvmm_guest_mem_create(&f->mem), 0);
	struct cvmm_mem_region_opts ro = { .sz = sizeof(ro), .size = MEM,
					   .backing = CVMM_MEM_MEMFD, .flags = CVMM_MEM_F_SHARED,
					   .fd = -1 };
	ck_assert_int_eq(cvmm_guest_mem_add_region(f->mem, &ro), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_mem_table(f->fe, f->mem), 0);
	struct cvmm_virtq_driver_opts d = { .sz = sizeof(d), .mem = f->mem, .size = QSIZE,
					    .features = features, .desc_gpa = DESC,
					    .avail_gpa = AVAIL, .used_gpa = USED };
	ck_assert_int_eq(cvmm_virtq_driver_create(&d, &f->drv), 0);
	/* The rings' pages are here (the state brought them). */
	ck_assert_int_eq(cvmm_guest_mem_fill(f->mem, DESC, 0, 16 * QSIZE), 0);
	f->kick = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	f->call = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	ck_assert_int_ge(f->kick, 0);
	ck_assert_int_ge(f->call, 0);
}

static void *h(struct fx *f, uint64_t gpa)
{
	return cvmm_guest_mem_ptr(f->mem, gpa, 1);
}

static void fx_vring(struct fx *f)
{
	struct cvmm_vhost_vring_addr_wire a = {
		.index = 0, .desc_user_addr = (uintptr_t)h(f, DESC),
		.avail_user_addr = (uintptr_t)h(f, AVAIL), .used_user_addr = (uintptr_t)h(f, USED),
	};

	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_num(f->fe, 0, QSIZE), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_base(f->fe, 0, 0), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_addr(f->fe, &a), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_kick(f->fe, 0, f->kick), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_call(f->fe, 0, f->call), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_enable(f->fe, 0, true), 0);
}

static void fx_stop(struct fx *f)
{
	cvmm_vhost_frontend_destroy(f->fe);
	ck_assert_int_eq(cvmm_vub_stop(f->d), 0);
	pthread_join(f->th, NULL);
	ck_assert_int_eq(f->serve_ret, 0);
	cvmm_vub_destroy(f->d);
	cvmm_virtq_driver_destroy(f->drv);
	cvmm_close(f->kick);
	cvmm_close(f->call);
	cvmm_guest_mem_destroy(f->mem);
	rmdir(f->dir);
}

/* One request: seed byte at OUT(i), INLEN bytes written at IN(i). */
static void fx_request(struct fx *f, unsigned int i, uint8_t seed)
{
	struct cvmm_virtq_buf out = { OUT(i), 1 }, in = { IN(i), INLEN };
	uint64_t tok, v;
	uint32_t len;
	int r;

	(void)seed;
	ck_assert_int_eq(cvmm_virtq_driver_add(f->drv, &out, 1, &in, 1, false, i), 0);
	ck_assert_int_eq(cvmm_eventfd_write(f->kick, 1), 0);
	for (;;) {
		struct pollfd p = { .fd = f->call, .events = POLLIN };

		r = cvmm_virtq_driver_get_used(f->drv, &tok, &len);
		ck_assert_int_ge(r, 0);
		if (r > 0)
			break;
		ck_assert_int_eq(poll(&p, 1, 10000), 1);
		(void)cvmm_eventfd_read(f->call, &v);
	}
	ck_assert_uint_eq(tok, i);
	ck_assert_uint_eq(len, INLEN);
}

static void check_output(struct fx *f, unsigned int i, uint8_t seed)
{
	const uint8_t *b = h(f, IN(i));

	for (uint64_t k = 0; k < INLEN; k++)
		ck_assert_uint_eq(b[k], (uint8_t)(seed + k));
}

/* ---- the destination's fault service, as crates/vmm does it ---- */

struct pc_server {
	struct fx *f;
	int dev_ufd;      /* the daemon's, from ADVISE */
	int own_ufd;      /* ours, over our mapping of guest RAM */
	uint64_t base;    /* the daemon's mapping of the one region */
	int stop_efd;
	pthread_t th;
	_Atomic unsigned int faults, bad;
	uint64_t fault_gpa[64];
};

/* The "source's" copy of a page not yet migrated: the seed at OUT(i)
 * is i + 1; everything else zero. */
static void source_page(uint64_t gpa, uint8_t *buf)
{
	memset(buf, 0, PAGE);
	for (unsigned int i = 0; i < 8; i++)
		if (gpa == OUT(i))
			buf[0] = (uint8_t)(i + 1);
}

static void *pc_main(void *arg)
{
	struct pc_server *s = arg;
	static uint8_t buf[PAGE] __attribute__((aligned(4096)));
	const struct cvmm_mem_region *r = cvmm_guest_mem_region(s->f->mem, 0);

	for (;;) {
		struct pollfd p[2] = { { .fd = s->dev_ufd, .events = POLLIN },
				       { .fd = s->stop_efd, .events = POLLIN } };
		struct uffd_msg m;

		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents)
			break;
		if (read(s->dev_ufd, &m, sizeof(m)) != sizeof(m) ||
		    m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		uint64_t addr = m.arg.pagefault.address & ~(PAGE - 1);

		if (addr < s->base || addr - s->base >= r->size) {
			atomic_fetch_add(&s->bad, 1);
			continue;
		}
		uint64_t gpa = r->gpa + (addr - s->base);
		unsigned int n = atomic_fetch_add(&s->faults, 1);

		if (n < 64)
			s->fault_gpa[n] = gpa;
		source_page(gpa, buf);
		struct uffdio_copy c = { .dst = (uintptr_t)r->host + (gpa - r->gpa),
					 .src = (uintptr_t)buf, .len = PAGE };

		/* Shared memory: the page placed through our mapping is the
		 * daemon's page too; its thread still sleeps on its fd. */
		if (ioctl(s->own_ufd, UFFDIO_COPY, &c) && errno != EEXIST)
			atomic_fetch_add(&s->bad, 1);
		struct uffdio_range w = { .start = addr, .len = PAGE };

		if (ioctl(s->dev_ufd, UFFDIO_WAKE, &w))
			atomic_fetch_add(&s->bad, 1);
	}
	return NULL;
}

static bool saw_fault(struct pc_server *s, uint64_t gpa)
{
	unsigned int n = atomic_load(&s->faults);

	for (unsigned int i = 0; i < n && i < 64; i++)
		if (s->fault_gpa[i] == gpa)
			return true;
	return false;
}

START_TEST(faults_served_through_the_frontend)
{
	struct pc_server s = { 0 };
	struct uffdio_api api = { .api = UFFD_API };
	struct fx f;
	uint64_t bases[1];

	if (!have_uffd()) {
		printf("# skipped: no userfaultfd for this user\n");
		return;
	}
	fx_start(&f, PF(PAGEFAULT));
	s.f = &f;
	/* The rings exist before post-copy (the state brought them); the
	 * request pages do not. */
	fx_vring(&f);
	const struct cvmm_mem_region *r = cvmm_guest_mem_region(f.mem, 0);

	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_advise(f.fe, &s.dev_ufd), 0);
	ck_assert_int_ge(s.dev_ufd, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_listen(f.fe), 0);
	/* Our side: our mapping registered too (the VMM's post-copy). */
	s.own_ufd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	ck_assert_int_ge(s.own_ufd, 0);
	ck_assert_int_eq(ioctl(s.own_ufd, UFFDIO_API, &api), 0);
	struct uffdio_register reg = { .range = { .start = (uintptr_t)r->host, .len = r->size },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	ck_assert_int_eq(ioctl(s.own_ufd, UFFDIO_REGISTER, &reg), 0);
	/* The daemon's bases, then the fault service runs. */
	ck_assert_int_eq(cvmm_vhost_frontend_set_mem_table_postcopy(f.fe, f.mem, bases), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_mem_ack(f.fe, 0), 0);
	ck_assert_uint_ne(bases[0], 0);
	ck_assert_uint_ne(bases[0], (uintptr_t)r->host); /* another process' view */
	s.base = bases[0];
	s.stop_efd = cvmm_eventfd_create(0);
	ck_assert_int_eq(pthread_create(&s.th, NULL, pc_main, &s), 0);
	/* The mapping changed under the ring: it resumes on the new one. */
	for (unsigned int i = 0; i < 4; i++) {
		fx_request(&f, i, (uint8_t)(i + 1));
		/* the seed came from the "source" through a fault */
		check_output(&f, i, (uint8_t)(i + 1));
		ck_assert(saw_fault(&s, OUT(i)));
		ck_assert(saw_fault(&s, IN(i)));
		ck_assert(saw_fault(&s, IN(i) + PAGE));
	}
	ck_assert_uint_eq(atomic_load(&s.bad), 0);
	ck_assert_uint_ge(atomic_load(&s.faults), 12);
	/* Every page is here: END unregisters; later pages never fault. */
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_end(f.fe), 0);
	close(s.own_ufd); /* our post-copy ends too */
	unsigned int before = atomic_load(&s.faults);

	ck_assert_int_eq(cvmm_guest_mem_write_u8(f.mem, OUT(6), 7), 0);
	fx_request(&f, 6, 7);
	check_output(&f, 6, 7);
	ck_assert_uint_eq(atomic_load(&s.faults), before);
	/* A second post-copy on the same connection. */
	int ufd2;

	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_advise(f.fe, &ufd2), 0);
	close(ufd2);
	cvmm_eventfd_write(s.stop_efd, 1);
	pthread_join(s.th, NULL);
	close(s.stop_efd);
	close(s.dev_ufd);
	fx_stop(&f);
}
END_TEST

/* Messages out of order or repeated get an error; the daemon stays up and
 * the connection goes on. */
START_TEST(postcopy_messages_out_of_order_refused)
{
	struct fx f;
	uint64_t bases[1];
	int ufd = -1, ufd2 = -1;

	if (!have_uffd()) {
		printf("# skipped: no userfaultfd for this user\n");
		return;
	}
	fx_start(&f, PF(PAGEFAULT));
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_listen(f.fe), -EINVAL); /* no ADVISE */
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_end(f.fe), -EINVAL);   /* no LISTEN */
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_advise(f.fe, &ufd), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_advise(f.fe, &ufd2), -EIO); /* twice */
	ck_assert_int_eq(ufd2, -1);
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_end(f.fe), -EINVAL); /* still no LISTEN */
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_listen(f.fe), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_listen(f.fe), -EBUSY); /* twice */
	/* The region table cannot change piecewise while listening. */
	struct cvmm_vhost_mem_region rr = { .guest_phys_addr = 1ull << 30, .memory_size = PAGE,
					    .userspace_addr = 1ull << 40 };
	int memfd = cvmm_guest_mem_region(f.mem, 0)->fd;

	ck_assert_int_eq(cvmm_vhost_frontend_add_mem_reg(f.fe, &rr, memfd), -EBUSY);
	/* A plain SET_MEM_TABLE now gets the bases answer, not an ack: the
	 * post-copy form reads it. */
	ck_assert_int_eq(cvmm_vhost_frontend_set_mem_table_postcopy(f.fe, f.mem, bases), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_mem_ack(f.fe, 0), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_end(f.fe), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_end(f.fe), -EINVAL); /* twice */
	/* the connection still works: a plain table is acked again */
	ck_assert_int_eq(cvmm_vhost_frontend_set_mem_table(f.fe, f.mem), 0);
	fx_stop(&f);
	close(ufd);

	fx_start(&f, 0); /* PAGEFAULT not negotiated */
	ck_assert_int_eq(cvmm_vhost_frontend_postcopy_advise(f.fe, &ufd), -EOPNOTSUPP);
	fx_vring(&f);
	ck_assert_int_eq(cvmm_guest_mem_write_u8(f.mem, OUT(0), 9), 0);
	fx_request(&f, 0, 9);
	check_output(&f, 0, 9);
	fx_stop(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vhost-user-backend-postcopy");
	TCase *t = tcase_create("postcopy");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, faults_served_through_the_frontend);
	tcase_add_test(t, postcopy_messages_out_of_order_refused);
	suite_add_tcase(s, t);
	Suite *all[] = { s, NULL };
	return cvmm_test_run(all);
}
