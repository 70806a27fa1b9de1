/* SPDX-License-Identifier: Apache-2.0 */
#include "vu-test.h"

#include "cvmm-test.h"

#include <cvmm/virtio-devices/blk.h>

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

void vut_env_init(struct vut_env *e, const char *name, uint64_t size)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	uint64_t s = 0x9e3779b97f4a7c15ull ^ size;
	uint8_t *buf;
	int fd;

	snprintf(e->dir, sizeof(e->dir), "%s/cvmm-%s-XXXXXX", tmp, name);
	ck_assert_ptr_nonnull(mkdtemp(e->dir));
	snprintf(e->img, sizeof(e->img), "%s/disk.img", e->dir);
	snprintf(e->sock, sizeof(e->sock), "%s/blk.sock", e->dir);
	snprintf(e->log, sizeof(e->log), "%s/daemon.log", e->dir);
	e->size = size;
	buf = malloc(size);
	ck_assert_ptr_nonnull(buf);
	for (uint64_t i = 0; i < size; i += 8) {
		uint64_t v = xs(&s);

		memcpy(buf + i, &v, 8);
	}
	fd = open(e->img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cvmm_write_full(fd, buf, size), 0);
	close(fd);
	free(buf);
}

void vut_env_fini(struct vut_env *e)
{
	unlink(e->img);
	unlink(e->sock);
	unlink(e->log);
	rmdir(e->dir);
}

pid_t vut_spawn(struct vut_env *e, char *const argv[], const char *env)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(e->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		/* A failing test exits early: take the daemon along. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0)
			dup2(fd, 2);
		if (env)
			putenv((char *)env);
		execve(argv[0], argv, environ);
		_exit(127);
	}
	return pid;
}

pid_t vut_start_blk(struct vut_env *e, const char *env, ...)
{
	static char bin[PATH_MAX];
	const char *top = getenv("top_builddir") ? getenv("top_builddir") : ".";
	char *argv[16] = { bin, (char *)"--socket", e->sock, (char *)"--disk", e->img };
	unsigned int n = 5;
	va_list ap;
	char *a;

	snprintf(bin, sizeof(bin), "%s/examples/vhost-user-blk/cvmm-vhost-user-blk", top);
	va_start(ap, env);
	while ((a = va_arg(ap, char *)) && n < 15)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return vut_spawn(e, argv, env);
}

int vut_stop(pid_t pid)
{
	int st = 0;

	kill(pid, SIGTERM);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

struct cvmm_virtio_user *vut_connect(struct vut_env *e, unsigned int nq)
{
	struct cvmm_virtio_user_opts o = { .sz = sizeof(o), .socket = e->sock, .num_queues = nq,
					   .queue_size = 64, .max_io = 64 << 10,
					   .connect_timeout_ms = 5000 };
	struct cvmm_virtio_user *vu = NULL;
	int ret = cvmm_virtio_user_create(&o, &vu);

	ck_assert_msg(ret == 0, "virtio-user connect: %s", strerror(-ret));
	return vu;
}

uint8_t *vut_read_file(struct vut_env *e)
{
	uint8_t *b = malloc(e->size);
	int fd = open(e->img, O_RDONLY | O_CLOEXEC);

	ck_assert_ptr_nonnull(b);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cvmm_read_full(fd, b, e->size), 0);
	close(fd);
	return b;
}

uint8_t vut_io(struct cvmm_virtio_user *vu, unsigned int q, uint32_t type, uint64_t sector,
	       uint32_t len)
{
	unsigned int slot;
	uint8_t st;

	ck_assert_int_eq(cvmm_virtio_user_submit(vu, q, 0, type, sector, len), 0);
	ck_assert_int_eq(cvmm_virtio_user_kick(vu, q), 0);
	ck_assert_int_eq(cvmm_virtio_user_reap(vu, q, &slot, &st, 1, 10000), 1);
	ck_assert_uint_eq(slot, 0);
	return st;
}

struct op {
	uint64_t sector;
	uint32_t len;
	bool write;
};

void vut_rw_check(struct vut_env *e, struct cvmm_virtio_user *vu, unsigned int nq,
		  unsigned int rounds, uint64_t seed)
{
	uint8_t *mirror = vut_read_file(e), *file;
	uint64_t sectors = e->size / 512, s = seed | 1;
	/* Each queue works in its own stripe, so concurrent queues never
	 * touch the same sector and the mirror stays exact. */
	uint64_t stripe = sectors / nq;

	ck_assert_uint_eq(cvmm_virtio_user_capacity(vu), sectors);
	for (unsigned int r = 0; r < rounds; r++) {
		struct op ops[16][16];
		unsigned int depth = 1 + (unsigned int)(xs(&s) % 16);

		/* writes at depth @depth on every queue, to distinct ranges */
		for (unsigned int q = 0; q < nq; q++) {
			uint64_t base = stripe * q, span = stripe / depth;

			for (unsigned int i = 0; i < depth; i++) {
				uint32_t nsec = 1 + (uint32_t)(xs(&s) % 128);
				struct op *o = &ops[q % 16][i];
				uint8_t *buf = cvmm_virtio_user_buf(vu, q, i);

				if (nsec > span)
					nsec = (uint32_t)span;
				o->sector = base + span * i + xs(&s) % (span - nsec + 1);
				o->len = nsec * 512;
				for (uint32_t k = 0; k < o->len; k++)
					buf[k] = (uint8_t)xs(&s);
				memcpy(mirror + o->sector * 512, buf, o->len);
				ck_assert_int_eq(cvmm_virtio_user_submit(vu, q, i, CVMM_VIRTIO_BLK_T_OUT,
									 o->sector, o->len), 0);
			}
			ck_assert_int_eq(cvmm_virtio_user_kick(vu, q), 0);
		}
		for (unsigned int q = 0; q < nq; q++) {
			unsigned int got = 0, slots[16];
			uint8_t st[16];

			while (got < depth) {
				int n = cvmm_virtio_user_reap(vu, q, slots, st, 16, 10000);

				ck_assert_int_gt(n, 0);
				for (int k = 0; k < n; k++)
					ck_assert_uint_eq(st[k], CVMM_VIRTIO_BLK_S_OK);
				got += (unsigned int)n;
			}
		}
		/* read every range back through the device */
		for (unsigned int q = 0; q < nq; q++) {
			for (unsigned int i = 0; i < depth; i++) {
				struct op *o = &ops[q % 16][i];

				memset(cvmm_virtio_user_buf(vu, q, 0), 0, o->len);
				ck_assert_int_eq(vut_io(vu, q, CVMM_VIRTIO_BLK_T_IN, o->sector, o->len),
						 CVMM_VIRTIO_BLK_S_OK);
				ck_assert_int_eq(memcmp(cvmm_virtio_user_buf(vu, q, 0),
							mirror + o->sector * 512, o->len), 0);
			}
		}
	}
	ck_assert_int_eq(vut_io(vu, 0, CVMM_VIRTIO_BLK_T_FLUSH, 0, 0), CVMM_VIRTIO_BLK_S_OK);
	file = vut_read_file(e);
	ck_assert_int_eq(memcmp(file, mirror, e->size), 0);
	free(file);
	free(mirror);
}
