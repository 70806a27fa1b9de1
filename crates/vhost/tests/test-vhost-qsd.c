/* SPDX-License-Identifier: Apache-2.0 */
/* Interop: our frontend against a real backend, qemu-storage-daemon's
 * vhost-user-blk export (libvhost-user). Skipped when the daemon is absent. */
#include "cvmm-test.h"

#include <cvmm/vhost.h>
#include <cvmm/vm-memory.h>
#include <cvmm/sys-util.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define QSD "/usr/bin/qemu-storage-daemon"
#define DISK_SIZE (8ull << 20)
#define VIRTIO_BLK_F_CONFIG_WCE (1ull << 11)

static pid_t qsd_pid = -1;
static char dir[PATH_MAX], sock_path[PATH_MAX + 16], img_path[PATH_MAX + 16];

static void start_qsd(void)
{
	char blockdev[PATH_MAX + 64], export[PATH_MAX + 128];
	char *argv[] = { (char *)QSD, (char *)"--blockdev", blockdev, (char *)"--export",
			 export, NULL };
	int fd;

	snprintf(dir, sizeof(dir), "%s/cvmm-vhost-qsd-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/blk.sock", dir);
	snprintf(img_path, sizeof(img_path), "%s/disk.img", dir);
	fd = open(img_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, DISK_SIZE), 0);
	close(fd);
	snprintf(blockdev, sizeof(blockdev), "driver=file,node-name=disk,filename=%s", img_path);
	snprintf(export, sizeof(export),
		 "type=vhost-user-blk,id=exp0,node-name=disk,addr.type=unix,addr.path=%s,"
		 "writable=on", sock_path);
	qsd_pid = fork();
	ck_assert_int_ge(qsd_pid, 0);
	if (qsd_pid == 0) {
		/* A failing test exits without stop_qsd(): take the daemon along. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execve(QSD, argv, environ);
		_exit(127);
	}
}

static void stop_qsd(void)
{
	if (qsd_pid > 0) {
		kill(qsd_pid, SIGTERM);
		waitpid(qsd_pid, NULL, 0);
		qsd_pid = -1;
	}
	unlink(sock_path);
	unlink(img_path);
	rmdir(dir);
}

static int connect_retry(void)
{
	for (int i = 0; i < 100; i++) {
		int fd = cvmm_unix_connect(sock_path);

		if (fd >= 0)
			return fd;
		usleep(50000);
	}
	return -1;
}

START_TEST(blk_features_config_memtable)
{
	struct cvmm_vhost_frontend *fe;
	struct cvmm_guest_mem *g;
	uint64_t f, pf, qn, capacity;
	int sock;

	start_qsd();
	sock = connect_retry();
	ck_assert_int_ge(sock, 0);
	ck_assert_int_eq(cvmm_vhost_frontend_create(sock, &fe), 0);

	ck_assert_int_eq(cvmm_vhost_frontend_get_features(fe, &f), 0);
	ck_assert(f & CVMM_VHOST_F_PROTOCOL_FEATURES);
	ck_assert_int_eq(cvmm_vhost_frontend_get_protocol_features(fe, &pf), 0);
	ck_assert(pf & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIG));
	pf &= CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIG) | CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_MQ) |
	      CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_REPLY_ACK);
	ck_assert_int_eq(cvmm_vhost_frontend_set_protocol_features(fe, pf), 0);
	if (pf & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_MQ)) {
		ck_assert_int_eq(cvmm_vhost_frontend_get_queue_num(fe, &qn), 0);
		ck_assert_uint_ge(qn, 1);
	}
	ck_assert_int_eq(cvmm_vhost_frontend_set_owner(fe), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_features(fe, f & ~VIRTIO_BLK_F_CONFIG_WCE), 0);

	/* virtio_blk_config starts with the capacity in 512-byte sectors. */
	ck_assert_int_eq(cvmm_vhost_frontend_get_config(fe, 0, &capacity, 8), 0);
	ck_assert_uint_eq(capacity, DISK_SIZE / 512);

	/* A memfd-backed memory table: libvhost-user maps it (REPLY_ACK
	 * confirms when negotiated; the GET below orders it otherwise). */
	ck_assert_int_eq(cvmm_guest_mem_create(&g), 0);
	struct cvmm_mem_region_opts o = { .sz = sizeof(o), .gpa = 0, .size = 1 << 20,
					  .backing = CVMM_MEM_MEMFD,
					  .flags = CVMM_MEM_F_SHARED, .fd = -1 };
	ck_assert_int_eq(cvmm_guest_mem_add_region(g, &o), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_mem_table(fe, g), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_set_vring_num(fe, 0, 128), 0);
	ck_assert_int_eq(cvmm_vhost_frontend_get_features(fe, &f), 0);

	cvmm_vhost_frontend_destroy(fe);
	cvmm_guest_mem_destroy(g);
	stop_qsd();
}
END_TEST

int main(void)
{
	if (access(QSD, X_OK) != 0) {
		printf("1..0 # SKIP %s not found (package qemu-system-common)\n", QSD);
		return 0;
	}
	Suite *s = suite_create("vhost-qsd");
	TCase *t = tcase_create("qemu-storage-daemon");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, blk_features_config_memtable);
	suite_add_tcase(s, t);
	Suite *all[] = { s, NULL };
	return cvmm_test_run(all);
}
