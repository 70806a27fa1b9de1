/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One block implementation, seen from outside: cvmm-vhost-user-blk and the
 * in-VMM virtio-blk present the same config space for the same image and
 * negotiated features (split and packed rings, with and without indirect
 * descriptors) and offer the same device features.
 *
 * virtio-devices' vhost-user frontend device against cvmm-vhost-user-blk,
 * under the virtio-mmio transport with a driver in this process: I/O, pause
 * and resume, save and restore into a new transport over a new connection
 * (the rings continue where the backend stopped, not where the VMM's stale
 * queue copy says), and the dirty log (the pages the backend wrote reach
 * guest memory's dirty bitmap).
 */
#include "cvmm-test.h"
#include "vu-test.h"
#include "../../crates/virtio-devices/tests/vd-fixture.h"

#include <cvmm/event-manager.h>
#include <cvmm/sys-util.h>
#include <cvmm/vhost.h>
#include <cvmm/virtio-devices/blk.h>
#include <cvmm/virtio-devices/vhost-user.h>
#include <cvmm/vm-memory.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>
#include <unistd.h>

#define DISK (4ull << 20)
#define QSIZE 64

/* Ring feature sets a driver may take; VERSION_1 and EVENT_IDX always. */
static const uint64_t RING_SETS[] = {
	0,
	CVMM_VIRTIO_F_INDIRECT_DESC,
	CVMM_VIRTIO_F_RING_PACKED,
	CVMM_VIRTIO_F_RING_PACKED | CVMM_VIRTIO_F_INDIRECT_DESC,
};

static int connect_retry(const char *path)
{
	for (int i = 0; i < 500; i++) {
		int s = cvmm_unix_connect(path);

		if (s >= 0)
			return s;
		usleep(10000);
	}
	ck_abort_msg("cannot connect to %s", path);
	return -1;
}

/* The daemon's config space after the frontend acked @feat. */
static void daemon_config(const char *sock, uint64_t feat, uint8_t *cfg, uint64_t *dev_feat)
{
	struct cvmm_vhost_frontend *fe;
	uint64_t bf, pf;

	ck_assert_int_eq(cvmm_vhost_frontend_create(connect_retry(sock), &fe), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_owner(fe), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_features(fe, &bf), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_protocol_features(fe, &pf), 0);
	ck_assert(pf & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIG));
	ck_assert_int_eq(cvmm_vhost_frontend_set_protocol_features(
				 fe, pf & (CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIG) |
					   CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_REPLY_ACK))),
			 0);
	ck_assert_uint_eq(feat & ~bf, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_features(fe, feat | CVMM_VHOST_F_PROTOCOL_FEATURES),
			 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_config(fe, 0, cfg, CVMM_VIRTIO_BLK_CFG_SIZE), 0);
	*dev_feat = bf & 0xffffffull; /* device-type bits */
	cvmm_vhost_frontend_destroy(fe);
}

/* The in-VMM device's config space as a driver that took @ring sees it
 * through the transport. Its image is a twin of the daemon's (same size):
 * the daemon holds the write lock on its own while it serves. */
static void vmm_config(struct vut_env *e, uint64_t ring, uint8_t *cfg, uint64_t *dev_feat,
		       uint64_t *acked)
{
	struct vdf f;
	struct cvmm_blk *blk;
	char twin[sizeof(e->img) + 8];
	struct stat st;
	struct cvmm_blk_opts o = {
		.sz = sizeof(o),
		.backend = { .sz = sizeof(o.backend), .path = twin, .fd = -1 },
		.queue_size = QSIZE,
	};

	snprintf(twin, sizeof(twin), "%s.vmm", e->img);
	ck_assert_int_eq(stat(e->img, &st), 0);
	{
		int fd = open(twin, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(ftruncate(fd, st.st_size), 0);
		close(fd);
	}
	vdf_init(&f, 0);
	o.em = f.em;
	ck_assert_int_eq(cvmm_blk_create(&o, &blk), 0);
	vdf_attach(&f, cvmm_blk_device(blk));
	vdf_start(&f);
	vdf_bring_up(&f, ring | CVMM_VIRTIO_F_EVENT_IDX, 1, QSIZE);
	ck_assert_uint_eq(f.features & (CVMM_VIRTIO_F_RING_PACKED | CVMM_VIRTIO_F_INDIRECT_DESC),
			  ring);
	for (uint32_t off = 0; off < CVMM_VIRTIO_BLK_CFG_SIZE; off++)
		ck_assert_int_eq(cvmm_virtio_mmio_access(f.t, 0x100 + off, cfg + off, 1, false), 0);
	*dev_feat = cvmm_blk_device(blk)->features & 0xffffffull;
	*acked = f.features;
	vdf_fini(&f);
	cvmm_blk_destroy(blk);
	unlink(twin);
}

START_TEST(config_space_identical)
{
	struct vut_env e;
	pid_t pid;

	vut_env_init(&e, "vu-cfg", DISK + 304); /* a partial last sector too */
	pid = vut_start_blk(&e, NULL, NULL);
	for (unsigned int i = 0; i < CVMM_ARRAY_SIZE(RING_SETS); i++) {
		uint8_t a[CVMM_VIRTIO_BLK_CFG_SIZE], b[CVMM_VIRTIO_BLK_CFG_SIZE];
		uint64_t fa, fb, acked;
		uint32_t seg_max;

		vmm_config(&e, RING_SETS[i], a, &fa, &acked);
		daemon_config(e.sock, acked, b, &fb);
		for (uint32_t off = 0; off < sizeof(a); off++)
			ck_assert_msg(a[off] == b[off],
				      "ring features %#llx: config byte %u: in-VMM %#x, daemon %#x",
				      (unsigned long long)RING_SETS[i], off, a[off], b[off]);
		ck_assert_uint_eq(fa, fb);
		memcpy(&seg_max, a + CVMM_VIRTIO_BLK_CFG_SEG_MAX, 4);
		if (RING_SETS[i] == CVMM_VIRTIO_F_RING_PACKED)
			ck_assert_uint_eq(seg_max, CVMM_VIRTQ_PACKED_MAX_CHAIN - 2);
		else
			ck_assert_uint_eq(seg_max, CVMM_BLK_SEG_MAX);
		ck_assert_uint_eq(a[CVMM_VIRTIO_BLK_CFG_CAPACITY], (DISK / 512) & 0xff);
	}
	ck_assert_int_eq(vut_stop(pid), 0);
	vut_env_fini(&e);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The frontend device against cvmm-vhost-user-blk                           */
/* ------------------------------------------------------------------------ */

static struct vdf F;
static struct cvmm_vhost_user_dev *VU;
static uint64_t HDR, ST, DATA;
static uint64_t TOKEN = 1;

static void vu_attach(struct vut_env *e)
{
	struct cvmm_vhost_user_dev_opts o = {
		.sz = sizeof(o), .socket = e->sock, .device_id = CVMM_VIRTIO_ID_BLOCK,
		.queue_size = QSIZE, .em = F.em,
	};
	char err[320];
	int ret = -ECONNREFUSED;

	for (int i = 0; i < 500 && ret == -ECONNREFUSED; i++) {
		cvmm_vhost_user_dev_destroy(VU);
		VU = NULL;
		ret = cvmm_vhost_user_dev_create(&o, &VU, err, sizeof(err));
		if (ret == -ECONNREFUSED || ret == -ENOENT) {
			ret = -ECONNREFUSED;
			usleep(10000);
		}
	}
	ck_assert_msg(ret == 0, "%s", err);
	vdf_attach_opts(&F, cvmm_vhost_user_dev_device(VU), true);
}

/* One request through the driver; returns the status byte. */
static uint8_t io(uint32_t type, uint64_t sector, uint32_t len)
{
	struct cvmm_virtq_buf out[2] = { { HDR, 16 }, { DATA, len } };
	struct cvmm_virtq_buf in[2] = { { DATA, len }, { ST, 1 } };
	uint8_t *h = vdf_host(&F, HDR);
	uint64_t tok, want = TOKEN++;
	uint32_t ulen;

	memset(h, 0, 16);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	*vdf_host(&F, ST) = 0xee;
	if (type == CVMM_VIRTIO_BLK_T_OUT)
		ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], out, 2, &in[1], 1, false, want), 0);
	else
		ck_assert_int_eq(cvmm_virtq_driver_add(F.drv[0], out, 1, in, 2, false, want), 0);
	vdf_kick(&F, 0);
	ck_assert_int_eq(vdf_wait_used(&F, 0, &tok, &ulen, 5000), 1);
	ck_assert_uint_eq(tok, want);
	return *vdf_host(&F, ST);
}

/* Write sector @s with a pattern of @seed, read it back, compare. */
static void write_read(uint64_t s, uint8_t seed)
{
	uint8_t *d = vdf_host(&F, DATA);

	for (int i = 0; i < 512; i++)
		d[i] = (uint8_t)(seed + i * 7);
	ck_assert_uint_eq(io(CVMM_VIRTIO_BLK_T_OUT, s, 512), CVMM_VIRTIO_BLK_S_OK);
	memset(d, 0, 512);
	ck_assert_uint_eq(io(CVMM_VIRTIO_BLK_T_IN, s, 512), CVMM_VIRTIO_BLK_S_OK);
	for (int i = 0; i < 512; i++)
		ck_assert_uint_eq(d[i], (uint8_t)(seed + i * 7));
}

static void check_file(struct vut_env *e, uint64_t s, uint8_t seed)
{
	uint8_t *img = vut_read_file(e);

	for (int i = 0; i < 512; i++)
		ck_assert_uint_eq(img[s * 512 + i], (uint8_t)(seed + i * 7));
	free(img);
}

static void up(struct vut_env *e, uint64_t ring, pid_t *pid)
{
	vut_env_init(e, "vu-fe", DISK);
	*pid = vut_start_blk(e, NULL, NULL);
	vdf_init_shared(&F, 0);
	vu_attach(e);
	vdf_start(&F);
	vdf_bring_up(&F, ring | CVMM_VIRTIO_F_EVENT_IDX, 1, QSIZE);
	ck_assert_uint_eq(F.features & (CVMM_VIRTIO_F_RING_PACKED | CVMM_VIRTIO_F_INDIRECT_DESC),
			  ring);
	HDR = vdf_alloc(&F, 16, 16);
	ST = vdf_alloc(&F, 1, 1);
	DATA = vdf_alloc(&F, 4096, 4096);
	TOKEN = 1;
}

static void down(struct vut_env *e, pid_t pid)
{
	vdf_stop(&F);
	cvmm_vhost_user_dev_detach(VU);
	vdf_detach(&F);
	/* before the event manager goes (vdf_fini) */
	cvmm_vhost_user_dev_destroy(VU);
	VU = NULL;
	vdf_fini(&F);
	ck_assert_int_eq(vut_stop(pid), 0);
	vut_env_fini(e);
}

START_TEST(pause_resume)
{
	struct vut_env e;
	pid_t pid;

	up(&e, RING_SETS[_i], &pid);
	write_read(3, 1);
	vdf_stop(&F); /* the test thread is the device thread now */
	ck_assert_int_eq(cvmm_vhost_user_dev_pause(VU), 0);
	ck_assert_int_eq(cvmm_vhost_user_dev_pause(VU), 0); /* twice: nothing */
	ck_assert_int_eq(cvmm_vhost_user_dev_resume(VU), 0);
	vdf_start(&F);
	write_read(4, 2);
	check_file(&e, 3, 1);
	check_file(&e, 4, 2);
	down(&e, pid);
}
END_TEST

/* Save a running device, tear the transport and connection down, restore
 * into new ones: the backend continues at the saved ring positions. */
START_TEST(save_restore_new_connection)
{
	struct cvmm_virtio_transport_state s;
	uint8_t dev[1024];
	struct vut_env e;
	pid_t pid;
	int n;

	up(&e, RING_SETS[_i], &pid);
	for (int i = 0; i < 5; i++)
		write_read(10 + i, (uint8_t)(10 + i));
	/* the last request a write: a backend restarted at a stale ring
	 * position would replay it with what the buffer holds by then */
	for (int i = 0; i < 512; i++)
		vdf_host(&F, DATA)[i] = (uint8_t)(30 + i * 7);
	ck_assert_uint_eq(io(CVMM_VIRTIO_BLK_T_OUT, 30, 512), CVMM_VIRTIO_BLK_S_OK);
	vdf_stop(&F);
	n = cvmm_virtio_mmio_save(F.t, &s, dev, sizeof(dev));
	ck_assert_int_gt(n, 0);
	/* the old transport and connection go away */
	cvmm_vhost_user_dev_detach(VU);
	cvmm_virtio_mmio_destroy(F.t);
	F.t = NULL;
	cvmm_vhost_user_dev_destroy(VU);
	VU = NULL;
	memset(vdf_host(&F, DATA), 0x5a, 512);
	/* a new connection (the daemon serves the next frontend) */
	vu_attach(&e);
	ck_assert_int_eq(cvmm_virtio_mmio_restore(F.t, &s, dev, (size_t)n, NULL, 0), 0);
	vdf_start(&F);
	for (int i = 0; i < 5; i++)
		write_read(20 + i, (uint8_t)(20 + i));
	for (int i = 0; i < 5; i++) {
		check_file(&e, 10 + i, (uint8_t)(10 + i));
		check_file(&e, 20 + i, (uint8_t)(20 + i));
	}
	check_file(&e, 30, 30);
	down(&e, pid);
}
END_TEST

/* A forged state is refused, naming nothing half-restored. */
START_TEST(restore_refuses_forged_state)
{
	struct cvmm_virtio_device *d;
	uint8_t buf[1024];
	struct vut_env e;
	pid_t pid;
	int n;

	up(&e, 0, &pid);
	vdf_stop(&F);
	d = cvmm_vhost_user_dev_device(VU);
	n = d->ops->save(d, NULL, 0);
	ck_assert_int_gt(n, 0);
	ck_assert_int_le(n, (int)sizeof(buf));
	ck_assert_int_eq(d->ops->save(d, buf, (size_t)n), n);
	ck_assert_int_eq(d->ops->restore(d, buf, (size_t)n - 1), -EINVAL);
	buf[0] ^= 1; /* magic */
	ck_assert_int_eq(d->ops->restore(d, buf, (size_t)n), -EINVAL);
	buf[0] ^= 1;
	buf[8] ^= 1; /* device id */
	ck_assert_int_eq(d->ops->restore(d, buf, (size_t)n), -EINVAL);
	buf[8] ^= 1;
	buf[12] = 7; /* queue count */
	ck_assert_int_eq(d->ops->restore(d, buf, (size_t)n), -EINVAL);
	ck_assert_int_eq(cvmm_vhost_user_dev_resume(VU), 0);
	vdf_start(&F);
	write_read(1, 9);
	down(&e, pid);
}
END_TEST

static bool page_dirty(uint64_t gpa)
{
	uint64_t bm[1] = { 0 };
	uint64_t pg = gpa & ~(uint64_t)(CVMM_GUEST_PAGE_SIZE - 1);

	ck_assert_int_ge(cvmm_guest_mem_dirty_get_and_clear(F.mem, pg, CVMM_GUEST_PAGE_SIZE, bm), 0);
	return bm[0] & 1;
}

START_TEST(dirty_log_harvest)
{
	struct vut_env e;
	uint64_t used_pg;
	pid_t pid;
	long n;

	up(&e, RING_SETS[_i], &pid);
	ck_assert_int_eq(cvmm_vhost_user_dev_log_harvest(VU), -EINVAL);
	ck_assert_int_eq(cvmm_guest_mem_dirty_log_enable(F.mem, true), 0);
	vdf_stop(&F);
	ck_assert_int_eq(cvmm_vhost_user_dev_log_start(VU), 0);
	ck_assert_int_eq(cvmm_vhost_user_dev_log_start(VU), -EALREADY);
	vdf_start(&F);
	/* The test's own (VMM-side) writes are in the bitmap too: only the
	 * backend writes the data buffer of a read. */
	ck_assert_uint_eq(io(CVMM_VIRTIO_BLK_T_IN, 0, 512), CVMM_VIRTIO_BLK_S_OK);
	(void)page_dirty(DATA);
	ck_assert(!page_dirty(DATA));
	n = cvmm_vhost_user_dev_log_harvest(VU);
	ck_assert_int_ge(n, 1);
	ck_assert(page_dirty(DATA));
	/* the used ring, written by the backend, was logged as well */
	used_pg = 0x10000ull + 0x8000ull; /* vd-fixture: queue 0's used ring */
	if (RING_SETS[_i] & CVMM_VIRTIO_F_RING_PACKED)
		used_pg = 0x10000ull; /* packed: used descriptors are written in the ring */
	ck_assert(page_dirty(used_pg));
	/* harvested bits are gone */
	ck_assert_int_eq(cvmm_vhost_user_dev_log_harvest(VU), 0);
	vdf_stop(&F);
	ck_assert_int_eq(cvmm_vhost_user_dev_log_stop(VU), 0);
	ck_assert_int_eq(cvmm_vhost_user_dev_log_stop(VU), -EINVAL);
	vdf_start(&F);
	write_read(2, 5);
	down(&e, pid);
}
END_TEST

/* Logging asked for before the driver starts the device (a migration
 * that begins while the guest is still booting): the rings the driver
 * starts later log from their first write. */
START_TEST(dirty_log_before_activate)
{
	struct vut_env e;
	uint64_t used_pg;
	pid_t pid;

	vut_env_init(&e, "vu-fe", DISK);
	pid = vut_start_blk(&e, NULL, NULL);
	vdf_init_shared(&F, 0);
	vu_attach(&e);
	ck_assert_int_eq(cvmm_guest_mem_dirty_log_enable(F.mem, true), 0);
	ck_assert_int_eq(cvmm_vhost_user_dev_log_start(VU), 0);
	ck_assert_int_eq(cvmm_vhost_user_dev_log_start(VU), -EALREADY);
	ck_assert_int_eq(cvmm_vhost_user_dev_log_harvest(VU), 0); /* nothing yet */
	vdf_start(&F);
	vdf_bring_up(&F, RING_SETS[_i] | CVMM_VIRTIO_F_EVENT_IDX, 1, QSIZE);
	HDR = vdf_alloc(&F, 16, 16);
	ST = vdf_alloc(&F, 1, 1);
	DATA = vdf_alloc(&F, 4096, 4096);
	TOKEN = 1;
	ck_assert_uint_eq(io(CVMM_VIRTIO_BLK_T_IN, 0, 512), CVMM_VIRTIO_BLK_S_OK);
	(void)page_dirty(DATA);
	used_pg = 0x10000ull + 0x8000ull; /* vd-fixture: queue 0's used ring */
	if (RING_SETS[_i] & CVMM_VIRTIO_F_RING_PACKED)
		used_pg = 0x10000ull;
	(void)page_dirty(used_pg);
	ck_assert_int_ge(cvmm_vhost_user_dev_log_harvest(VU), 1);
	ck_assert(page_dirty(DATA));
	ck_assert(page_dirty(used_pg));
	vdf_stop(&F);
	ck_assert_int_eq(cvmm_vhost_user_dev_log_stop(VU), 0);
	ck_assert_int_eq(cvmm_vhost_user_dev_log_stop(VU), -EINVAL);
	vdf_start(&F);
	write_read(2, 5);
	down(&e, pid);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vhost-user-frontend");
	TCase *t = tcase_create("one-blk");
	TCase *f = tcase_create("frontend");

	tcase_set_timeout(t, 120);
	tcase_add_test(t, config_space_identical);
	suite_add_tcase(s, t);
	tcase_set_timeout(f, 120);
	tcase_add_loop_test(f, pause_resume, 0, CVMM_ARRAY_SIZE(RING_SETS));
	tcase_add_loop_test(f, save_restore_new_connection, 0, CVMM_ARRAY_SIZE(RING_SETS));
	tcase_add_test(f, restore_refuses_forged_state);
	tcase_add_loop_test(f, dirty_log_harvest, 0, CVMM_ARRAY_SIZE(RING_SETS));
	tcase_add_loop_test(f, dirty_log_before_activate, 0, CVMM_ARRAY_SIZE(RING_SETS));
	suite_add_tcase(s, f);
	Suite *all[] = { s, NULL };
	return cvmm_test_run(all);
}
