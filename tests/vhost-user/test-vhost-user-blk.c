/* SPDX-License-Identifier: Apache-2.0 */
/* cvmm-vhost-user-blk driven by virtio-user: data checked against the
 * image file, multiqueue, read-only, bad input, frontends vanishing
 * mid-I/O, and a daemon killed and restarted with requests in flight. */
#include "cvmm-test.h"
#include "vu-test.h"

#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices/blk.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DISK (8ull << 20)

static bool alive(pid_t pid)
{
	int st;

	return waitpid(pid, &st, WNOHANG) == 0;
}

static bool log_has(struct vut_env *e, const char *needle)
{
	FILE *f = fopen(e->log, "r");
	char line[512];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

START_TEST(rw_flush_single_queue)
{
	struct vut_env e;
	struct cvmm_virtio_user *vu;
	pid_t pid;

	vut_env_init(&e, "vub-rw", DISK);
	pid = vut_start_blk(&e, NULL, NULL);
	vu = vut_connect(&e, 1);
	ck_assert(cvmm_virtio_user_features(vu) & CVMM_VIRTIO_BLK_F_FLUSH);
	vut_rw_check(&e, vu, 1, 20, 1);
	cvmm_virtio_user_destroy(vu);
	ck_assert_int_eq(vut_stop(pid), 0);
	vut_env_fini(&e);
}
END_TEST

START_TEST(bad_requests_leave_disk_untouched)
{
	struct vut_env e;
	struct cvmm_virtio_user *vu;
	uint8_t *before, *after;
	pid_t pid;

	vut_env_init(&e, "vub-bad", DISK);
	pid = vut_start_blk(&e, NULL, NULL);
	vu = vut_connect(&e, 1);
	before = vut_read_file(&e);
	memset(cvmm_virtio_user_buf(vu, 0, 0), 0xee, 8192);
	/* crosses the end of the disk: refused before any byte is written */
	ck_assert_uint_eq(vut_io(vu, 0, CVMM_VIRTIO_BLK_T_OUT, DISK / 512 - 1, 4096),
			  CVMM_VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(vut_io(vu, 0, CVMM_VIRTIO_BLK_T_OUT, UINT64_MAX - 3, 4096),
			  CVMM_VIRTIO_BLK_S_IOERR);
	/* not a multiple of 512 */
	ck_assert_uint_eq(vut_io(vu, 0, CVMM_VIRTIO_BLK_T_OUT, 0, 1000),
			  CVMM_VIRTIO_BLK_S_IOERR);
	/* unknown type */
	ck_assert_uint_eq(vut_io(vu, 0, 77, 0, 512), CVMM_VIRTIO_BLK_S_UNSUPP);
	/* read at the very end still works */
	ck_assert_uint_eq(vut_io(vu, 0, CVMM_VIRTIO_BLK_T_IN, DISK / 512 - 8, 4096),
			  CVMM_VIRTIO_BLK_S_OK);
	ck_assert_int_eq(memcmp(cvmm_virtio_user_buf(vu, 0, 0), before + DISK - 4096, 4096), 0);
	after = vut_read_file(&e);
	ck_assert_int_eq(memcmp(before, after, DISK), 0);
	free(before);
	free(after);
	cvmm_virtio_user_destroy(vu);
	ck_assert_int_eq(vut_stop(pid), 0);
	vut_env_fini(&e);
}
END_TEST

START_TEST(multiqueue_four_queues)
{
	struct vut_env e;
	struct cvmm_virtio_user *vu;
	pid_t pid;

	vut_env_init(&e, "vub-mq", DISK);
	pid = vut_start_blk(&e, NULL, "--queues", "4", NULL);
	vu = vut_connect(&e, 4);
	vut_rw_check(&e, vu, 4, 10, 2);
	cvmm_virtio_user_destroy(vu);
	ck_assert_int_eq(vut_stop(pid), 0);
	vut_env_fini(&e);
}
END_TEST

START_TEST(readonly_refuses_writes)
{
	struct vut_env e;
	struct cvmm_virtio_user *vu;
	uint8_t *before, *after;
	pid_t pid;

	vut_env_init(&e, "vub-ro", DISK);
	pid = vut_start_blk(&e, NULL, "--readonly", NULL);
	vu = vut_connect(&e, 1);
	ck_assert(cvmm_virtio_user_features(vu) & CVMM_VIRTIO_BLK_F_RO);
	before = vut_read_file(&e);
	memset(cvmm_virtio_user_buf(vu, 0, 0), 0x11, 4096);
	ck_assert_uint_eq(vut_io(vu, 0, CVMM_VIRTIO_BLK_T_OUT, 0, 4096), CVMM_VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(vut_io(vu, 0, CVMM_VIRTIO_BLK_T_IN, 8, 4096), CVMM_VIRTIO_BLK_S_OK);
	ck_assert_int_eq(memcmp(cvmm_virtio_user_buf(vu, 0, 0), before + 4096, 4096), 0);
	after = vut_read_file(&e);
	ck_assert_int_eq(memcmp(before, after, DISK), 0);
	free(before);
	free(after);
	cvmm_virtio_user_destroy(vu);
	ck_assert_int_eq(vut_stop(pid), 0);
	vut_env_fini(&e);
}
END_TEST

/* A frontend that vanishes with requests in flight must leave the daemon
 * ready for the next one. */
START_TEST(disconnect_mid_io_then_new_frontend)
{
	struct vut_env e;
	pid_t pid;

	vut_env_init(&e, "vub-disc", DISK);
	pid = vut_start_blk(&e, NULL, "--queues", "2", NULL);
	for (int round = 0; round < 5; round++) {
		struct cvmm_virtio_user *vu = vut_connect(&e, 2);

		for (unsigned int q = 0; q < 2; q++) {
			for (unsigned int s = 0; s < 64; s++) {
				memset(cvmm_virtio_user_buf(vu, q, s), s, 65536);
				ck_assert_int_eq(cvmm_virtio_user_submit(vu, q, s,
					s % 2 ? CVMM_VIRTIO_BLK_T_IN : CVMM_VIRTIO_BLK_T_OUT,
					(uint64_t)s * 128, 65536), 0);
			}
			ck_assert_int_eq(cvmm_virtio_user_kick(vu, q), 0);
		}
		if (round % 2)
			usleep(1000);
		cvmm_virtio_user_destroy(vu);
		ck_assert(alive(pid));
	}
	/* still serving, with correct data */
	struct cvmm_virtio_user *vu = vut_connect(&e, 2);

	vut_rw_check(&e, vu, 2, 5, 3);
	cvmm_virtio_user_destroy(vu);
	ck_assert_int_eq(vut_stop(pid), 0);
	vut_env_fini(&e);
}
END_TEST

/* Requests popped by a daemon that then hangs and is killed -9: the new
 * daemon finds them in the inflight region, resubmits them, and the data
 * on disk is right. */
START_TEST(kill_restart_resubmits_inflight)
{
	struct vut_env e;
	struct cvmm_virtio_user *vu;
	uint8_t *mirror, *file;
	unsigned int slots[64], done = 0;
	uint8_t st[64];
	pid_t pid;

	vut_env_init(&e, "vub-kill", DISK);
	pid = vut_start_blk(&e, "CVMM_VHOST_USER_BLK_TEST_STALL=1", NULL);
	vu = vut_connect(&e, 1);
	mirror = vut_read_file(&e);
	for (unsigned int s = 0; s < 32; s++) {
		uint8_t *b = cvmm_virtio_user_buf(vu, 0, s);

		for (unsigned int k = 0; k < 8192; k++)
			b[k] = (uint8_t)(s * 31 + k * 7 + 1);
		memcpy(mirror + (uint64_t)s * 3 * 8192, b, 8192);
		ck_assert_int_eq(cvmm_virtio_user_submit(vu, 0, s, CVMM_VIRTIO_BLK_T_OUT,
							 (uint64_t)s * 3 * 16, 8192), 0);
	}
	ck_assert_int_eq(cvmm_virtio_user_kick(vu, 0), 0);
	/* nothing completes: the daemon holds them */
	ck_assert_int_eq(cvmm_virtio_user_reap(vu, 0, slots, st, 64, 300), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	pid = vut_start_blk(&e, "CVMM_VHOST_USER_BLK_LOG=info", NULL);
	ck_assert_int_eq(cvmm_virtio_user_reconnect(vu, 5000), 0);
	while (done < 32) {
		int n = cvmm_virtio_user_reap(vu, 0, slots, st, 64, 10000);

		ck_assert_int_gt(n, 0);
		for (int i = 0; i < n; i++)
			ck_assert_uint_eq(st[i], CVMM_VIRTIO_BLK_S_OK);
		done += (unsigned int)n;
	}
	ck_assert_uint_eq(cvmm_virtio_user_in_flight(vu, 0), 0);
	ck_assert_uint_eq(vut_io(vu, 0, CVMM_VIRTIO_BLK_T_FLUSH, 0, 0), CVMM_VIRTIO_BLK_S_OK);
	file = vut_read_file(&e);
	ck_assert_int_eq(memcmp(file, mirror, DISK), 0);
	/* they came back through the inflight region, not the avail ring */
	ck_assert(log_has(&e, "resubmitting 32 requests"));
	free(file);
	free(mirror);
	cvmm_virtio_user_destroy(vu);
	ck_assert_int_eq(vut_stop(pid), 0);
	vut_env_fini(&e);
}
END_TEST

/* A daemon killed at an arbitrary moment of a depth-32 write stream: after
 * restart every request completes OK and every block holds its data. */
START_TEST(kill_restart_random_moment)
{
	struct vut_env e;
	struct cvmm_virtio_user *vu;
	uint8_t *mirror, *file;
	unsigned int slots[64], next = 0, total = 1024;
	uint8_t st[64];
	bool killed = false;
	pid_t pid;

	vut_env_init(&e, "vub-kill2", DISK);
	pid = vut_start_blk(&e, NULL, NULL);
	vu = vut_connect(&e, 1);
	mirror = vut_read_file(&e);
	/* block k (4 KiB) is written once, by request k */
	for (; next < 32; next++) {
		uint8_t *b = cvmm_virtio_user_buf(vu, 0, next);

		memset(b, (int)(next * 13 + 5), 4096);
		memcpy(mirror + (uint64_t)next * 8192, b, 4096);
		ck_assert_int_eq(cvmm_virtio_user_submit(vu, 0, next, CVMM_VIRTIO_BLK_T_OUT,
							 (uint64_t)next * 16, 4096), 0);
	}
	ck_assert_int_eq(cvmm_virtio_user_kick(vu, 0), 0);
	uint64_t kill_at = 100 + (cvmm_now_ns() / 1000) % 400;
	unsigned int completed = 0;

	while (cvmm_virtio_user_in_flight(vu, 0)) {
		if (!killed && completed >= kill_at) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			killed = true;
			pid = vut_start_blk(&e, NULL, NULL);
			ck_assert_int_eq(cvmm_virtio_user_reconnect(vu, 5000), 0);
		}
		int n = cvmm_virtio_user_reap(vu, 0, slots, st, 64, 10000);

		ck_assert_int_gt(n, 0);
		for (int i = 0; i < n; i++) {
			ck_assert_uint_eq(st[i], CVMM_VIRTIO_BLK_S_OK);
			completed++;
			if (next >= total)
				continue;
			uint8_t *b = cvmm_virtio_user_buf(vu, 0, slots[i]);

			memset(b, (int)(next * 13 + 5), 4096);
			memcpy(mirror + (uint64_t)next * 8192, b, 4096);
			ck_assert_int_eq(cvmm_virtio_user_submit(vu, 0, slots[i],
				CVMM_VIRTIO_BLK_T_OUT, (uint64_t)next * 16, 4096), 0);
			next++;
		}
		ck_assert_int_eq(cvmm_virtio_user_kick(vu, 0), 0);
	}
	ck_assert(killed);
	ck_assert_uint_eq(completed, total);
	file = vut_read_file(&e);
	ck_assert_int_eq(memcmp(file, mirror, DISK), 0);
	free(file);
	free(mirror);
	cvmm_virtio_user_destroy(vu);
	ck_assert_int_eq(vut_stop(pid), 0);
	vut_env_fini(&e);
}
END_TEST

/* SIGTERM while a frontend stalls in the middle of a message: the daemon
 * still exits 0 promptly. */
START_TEST(sigterm_with_stalled_frontend)
{
	struct vut_env e;
	struct cvmm_virtio_user *vu;
	uint8_t partial[6] = { 1, 0, 0, 0, 1, 0 };
	pid_t pid;

	vut_env_init(&e, "vub-term", DISK);
	pid = vut_start_blk(&e, NULL, NULL);
	vu = vut_connect(&e, 1); /* waits for the socket */
	cvmm_virtio_user_destroy(vu);
	int raw = cvmm_unix_connect(e.sock);

	ck_assert_int_ge(raw, 0);
	ck_assert_int_eq(write(raw, partial, sizeof(partial)), (ssize_t)sizeof(partial));
	usleep(200000);
	uint64_t t0 = cvmm_now_ns();
	ck_assert_int_eq(vut_stop(pid), 0);
	ck_assert_uint_lt(cvmm_now_ns() - t0, 5000000000ull);
	close(raw);
	vut_env_fini(&e);
}
END_TEST

START_TEST(bad_flags_one_line_errors)
{
	struct vut_env e;
	const char *cases[][4] = {
		{ "--queues", "0", NULL, NULL },
		{ "--queues", "x", NULL, NULL },
		{ "--bogus", NULL, NULL, NULL },
	};

	vut_env_init(&e, "vub-flags", 1 << 20);
	for (unsigned int i = 0; i < 3; i++) {
		int st;
		pid_t pid = vut_start_blk(&e, NULL, cases[i][0], cases[i][1], NULL);

		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	}
	/* a missing disk: exit 1, no socket left behind */
	char *argv[] = { NULL };
	(void)argv;
	unlink(e.img);
	int st;
	pid_t pid = vut_start_blk(&e, NULL, NULL);

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	ck_assert_int_ne(access(e.sock, F_OK), 0);
	/* each failure said one line */
	FILE *f = fopen(e.log, "r");
	char line[512];
	int lines = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		ck_assert_ptr_nonnull(strstr(line, "cvmm-vhost-user-blk: "));
		lines++;
	}
	fclose(f);
	ck_assert_int_eq(lines, 4);
	vut_env_fini(&e);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vhost-user-blk");
	TCase *t = tcase_create("daemon");

	tcase_set_timeout(t, 120);
	tcase_add_test(t, rw_flush_single_queue);
	tcase_add_test(t, bad_requests_leave_disk_untouched);
	tcase_add_test(t, multiqueue_four_queues);
	tcase_add_test(t, readonly_refuses_writes);
	tcase_add_test(t, disconnect_mid_io_then_new_frontend);
	tcase_add_test(t, kill_restart_resubmits_inflight);
	tcase_add_test(t, kill_restart_random_moment);
	tcase_add_test(t, sigterm_with_stalled_frontend);
	tcase_add_test(t, bad_flags_one_line_errors);
	suite_add_tcase(s, t);
	Suite *all[] = { s, NULL };
	return cvmm_test_run(all);
}
