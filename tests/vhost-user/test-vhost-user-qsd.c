/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-user against qemu-storage-daemon's vhost-user-blk export
 * (libvhost-user): the same checked workload as against our daemon.
 * Skipped when qemu-storage-daemon is absent (package qemu-system-common). */
#include "cvmm-test.h"
#include "vu-test.h"

#include <cvmm/virtio-devices/blk.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QSD "/usr/bin/qemu-storage-daemon"
#define DISK (8ull << 20)

static pid_t start_qsd(struct vut_env *e, unsigned int nq)
{
	static char blockdev[PATH_MAX + 64], export[PATH_MAX + 160];
	char *argv[] = { (char *)QSD, (char *)"--blockdev", blockdev, (char *)"--export", export,
			 NULL };

	snprintf(blockdev, sizeof(blockdev), "driver=file,node-name=f,filename=%s", e->img);
	snprintf(export, sizeof(export),
		 "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=%s,"
		 "writable=on,num-queues=%u", e->sock, nq);
	return vut_spawn(e, argv, NULL);
}

START_TEST(qsd_rw_flush)
{
	struct vut_env e;
	struct cvmm_virtio_user *vu;
	pid_t pid;

	vut_env_init(&e, "vub-qsd", DISK);
	pid = start_qsd(&e, 1);
	vu = vut_connect(&e, 1);
	vut_rw_check(&e, vu, 1, 20, 11);
	cvmm_virtio_user_destroy(vu);
	vut_stop(pid);
	vut_env_fini(&e);
}
END_TEST

START_TEST(qsd_multiqueue)
{
	struct vut_env e;
	struct cvmm_virtio_user *vu;
	pid_t pid;

	vut_env_init(&e, "vub-qsdmq", DISK);
	pid = start_qsd(&e, 2);
	vu = vut_connect(&e, 2);
	vut_rw_check(&e, vu, 2, 10, 12);
	/* out of range: the same verdict as ours */
	ck_assert_uint_eq(vut_io(vu, 0, CVMM_VIRTIO_BLK_T_OUT, DISK / 512 - 1, 4096),
			  CVMM_VIRTIO_BLK_S_IOERR);
	cvmm_virtio_user_destroy(vu);
	vut_stop(pid);
	vut_env_fini(&e);
}
END_TEST

int main(void)
{
	if (access(QSD, X_OK) != 0) {
		printf("1..0 # SKIP %s not found (package qemu-system-common)\n", QSD);
		return 0;
	}
	Suite *s = suite_create("vhost-user-qsd");
	TCase *t = tcase_create("qemu-storage-daemon");

	tcase_set_timeout(t, 120);
	tcase_add_test(t, qsd_rw_flush);
	tcase_add_test(t, qsd_multiqueue);
	suite_add_tcase(s, t);
	Suite *all[] = { s, NULL };
	return cvmm_test_run(all);
}
