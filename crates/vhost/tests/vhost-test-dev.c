/* SPDX-License-Identifier: Apache-2.0 */
#include "vhost-test-dev.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define D ((struct tdev *)o)
#define FAIL_HOOK()                                \
	do {                                       \
		if (D->fail_next) {                \
			int f_ = D->fail_next;     \
			D->fail_next = 0;          \
			return f_;                 \
		}                                  \
	} while (0)

static int get_features(void *o, uint64_t *f)
{
	(void)o;
	*f = TDEV_FEATURES;
	return 0;
}
static int set_features(void *o, uint64_t f)
{
	FAIL_HOOK();
	D->acked_features = f;
	return 0;
}
static int set_protocol_features(void *o, uint64_t f)
{
	D->acked_pf = f;
	return 0;
}
static int set_owner(void *o)
{
	D->owner++;
	return 0;
}
static int reset_owner(void *o)
{
	D->reset_owner++;
	return 0;
}
static int set_mem_table(void *o, const struct cvmm_vhost_mem_region *r, const int *fds,
			 unsigned int n)
{
	struct cvmm_guest_mem *m = NULL;
	int ret;

	FAIL_HOOK();
	if (n) {
		ret = cvmm_vhost_mem_map(r, fds, n, &m);
		if (ret < 0)
			return ret;
	}
	cvmm_guest_mem_destroy(D->gmem);
	D->gmem = m;
	D->nregions = n;
	D->mem_table_calls++;
	return 0;
}
static int set_vring_num(void *o, unsigned int i, unsigned int n)
{
	FAIL_HOOK();
	D->num[i] = n;
	return 0;
}
static int set_vring_addr(void *o, const struct cvmm_vhost_vring_addr *a)
{
	D->addr[a->index] = *a;
	return 0;
}
static int set_vring_base(void *o, unsigned int i, unsigned int b)
{
	FAIL_HOOK();
	D->base[i] = b;
	return 0;
}
static int get_vring_base(void *o, unsigned int i, unsigned int *b)
{
	FAIL_HOOK();
	*b = D->base[i] + 1000; /* distinct from what was set: proves the path */
	return 0;
}
static int set_fd(int *slot, int fd)
{
	cvmm_close(*slot);
	*slot = fd;
	return 0;
}
static int set_vring_kick(void *o, unsigned int i, int fd)
{
	FAIL_HOOK();
	return set_fd(&D->kick[i], fd);
}
static int set_vring_call(void *o, unsigned int i, int fd)
{
	return set_fd(&D->call[i], fd);
}
static int set_vring_err(void *o, unsigned int i, int fd)
{
	return set_fd(&D->err[i], fd);
}
static int set_vring_enable(void *o, unsigned int i, bool en)
{
	D->enabled[i] = en;
	return 0;
}
static int get_config(void *o, uint32_t off, void *buf, uint32_t len)
{
	FAIL_HOOK();
	memcpy(buf, D->config + off, len);
	return 0;
}
static int set_config(void *o, uint32_t off, const void *buf, uint32_t len, uint32_t flags)
{
	memcpy(D->config + off, buf, len);
	D->config_flags = flags;
	return 0;
}
static int set_status(void *o, uint8_t s)
{
	D->status = s;
	return 0;
}
static int get_status(void *o, uint8_t *s)
{
	*s = D->status;
	return 0;
}
static int reset_device(void *o)
{
	D->resets++;
	D->status = 0;
	return 0;
}
static int set_log_base(void *o, int fd, uint64_t size, uint64_t off)
{
	set_fd(&D->log_fd, fd);
	D->log_size = size;
	D->log_off = off;
	return 0;
}
static int set_log_fd(void *o, int fd)
{
	return set_fd(&D->log_fd, fd);
}
static int get_inflight_fd(void *o, uint16_t nq, uint16_t qs, int *fd, uint64_t *size,
			   uint64_t *off)
{
	uint64_t sz = (uint64_t)nq * qs * 16;
	int f;

	FAIL_HOOK();
	f = cvmm_tempfile(CVMM_ALIGN_UP(sz, 4096), NULL);
	if (f < 0)
		return f;
	*fd = f;
	*size = sz;
	*off = 0;
	D->inflight_nq = nq;
	D->inflight_qs = qs;
	return 0;
}
static int set_inflight_fd(void *o, int fd, uint64_t size, uint64_t off, uint16_t nq,
			   uint16_t qs)
{
	(void)off;
	set_fd(&D->inflight_fd, fd);
	D->inflight_size = size;
	D->inflight_nq = nq;
	D->inflight_qs = qs;
	return 0;
}
static void backend_req_changed(void *o, bool c)
{
	(void)c;
	D->req_changes++;
}
static int postcopy_advise(void *o, int *ufd)
{
	FAIL_HOOK();
	*ufd = fcntl(D->ufd_given, F_DUPFD_CLOEXEC, 0);
	return *ufd < 0 ? -errno : 0;
}
static int postcopy_listen(void *o)
{
	D->listened++;
	return 0;
}
static int postcopy_end(void *o)
{
	FAIL_HOOK();
	D->ended++;
	return 0;
}
static int set_device_state_fd(void *o, uint32_t dir, uint32_t phase, int fd, int *reply_fd)
{
	(void)phase;
	FAIL_HOOK();
	set_fd(&D->state_fd, fd);
	D->state_dir = dir;
	if (D->state_reply_own_fd)
		*reply_fd = fcntl(D->ufd_given, F_DUPFD_CLOEXEC, 0);
	return 0;
}
static int check_device_state(void *o)
{
	FAIL_HOOK();
	D->checked++;
	return 0;
}

static int iotlb_msg(void *o, const struct cvmm_vhost_iotlb_msg *m, uint64_t gpa)
{
	FAIL_HOOK();
	D->iotlb = *m;
	D->iotlb_gpa = gpa;
	D->iotlb_calls++;
	return 0;
}

const struct cvmm_vhost_backend_ops tdev_ops = {
	.sz = sizeof(struct cvmm_vhost_backend_ops),
	.get_features = get_features,
	.set_features = set_features,
	.set_protocol_features = set_protocol_features,
	.set_owner = set_owner,
	.reset_owner = reset_owner,
	.set_mem_table = set_mem_table,
	.set_vring_num = set_vring_num,
	.set_vring_addr = set_vring_addr,
	.set_vring_base = set_vring_base,
	.get_vring_base = get_vring_base,
	.set_vring_kick = set_vring_kick,
	.set_vring_call = set_vring_call,
	.set_vring_err = set_vring_err,
	.set_vring_enable = set_vring_enable,
	.get_config = get_config,
	.set_config = set_config,
	.set_status = set_status,
	.get_status = get_status,
	.reset_device = reset_device,
	.set_log_base = set_log_base,
	.set_log_fd = set_log_fd,
	.get_inflight_fd = get_inflight_fd,
	.set_inflight_fd = set_inflight_fd,
	.backend_req_changed = backend_req_changed,
	.postcopy_advise = postcopy_advise,
	.postcopy_listen = postcopy_listen,
	.postcopy_end = postcopy_end,
	.set_device_state_fd = set_device_state_fd,
	.check_device_state = check_device_state,
	.iotlb_msg = iotlb_msg,
};

void tdev_init(struct tdev *d)
{
	memset(d, 0, sizeof(*d));
	for (int i = 0; i < TDEV_QUEUES; i++)
		d->kick[i] = d->call[i] = d->err[i] = -1;
	d->log_fd = d->inflight_fd = d->state_fd = -1;
	d->ufd_given = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	ck_assert_int_ge(d->ufd_given, 0);
}

void tdev_fini(struct tdev *d)
{
	for (int i = 0; i < TDEV_QUEUES; i++) {
		cvmm_close(d->kick[i]);
		cvmm_close(d->call[i]);
		cvmm_close(d->err[i]);
	}
	cvmm_close(d->log_fd);
	cvmm_close(d->inflight_fd);
	cvmm_close(d->state_fd);
	cvmm_close(d->ufd_given);
	cvmm_guest_mem_destroy(d->gmem);
	d->gmem = NULL;
}

int tdev_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

struct cvmm_guest_mem *tdev_make_gmem(unsigned int n, uint64_t size)
{
	struct cvmm_guest_mem *m;

	ck_assert_int_eq(cvmm_guest_mem_create(&m), 0);
	for (unsigned int i = 0; i < n; i++) {
		struct cvmm_mem_region_opts o = {
			.sz = sizeof(o), .gpa = (uint64_t)i << 20, .size = size,
			.backing = CVMM_MEM_MEMFD, .flags = CVMM_MEM_F_SHARED, .fd = -1,
		};
		ck_assert_int_eq(cvmm_guest_mem_add_region(m, &o), 0);
	}
	return m;
}
