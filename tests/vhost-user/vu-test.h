/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the vhost-user-blk tests: images, daemons, and a
 * write/read/flush workload checked against a mirror and the file. */
#ifndef VU_TEST_H
#define VU_TEST_H

#include "../../examples/virtio-user/virtio-user.h"

#include <stdint.h>
#include <sys/types.h>

/* A fresh temp dir with disk.img of @size random bytes and a socket path. */
struct vut_env {
	char dir[256], img[300], sock[300], log[300];
	uint64_t size;
};

void vut_env_init(struct vut_env *e, const char *name, uint64_t size);
void vut_env_fini(struct vut_env *e);

/* Start a program (argv[0] a path); stderr goes to e->log. Returns pid.
 * @env: NULL or "NAME=VALUE" added to the environment. */
pid_t vut_spawn(struct vut_env *e, char *const argv[], const char *env);
/* Start cvmm-vhost-user-blk on e with extra flags (NULL-terminated). */
pid_t vut_start_blk(struct vut_env *e, const char *env, ...);
/* SIGTERM and reap; returns the exit status word. */
int vut_stop(pid_t pid);

/* Connect virtio-user with @nq queues (retries for 5 s). */
struct cvmm_virtio_user *vut_connect(struct vut_env *e, unsigned int nq);

/* Random writes of 512 B..64 KiB on every queue at depth up to 16, each
 * followed by a read-back compare; then FLUSH; then the file must equal
 * the mirror (which starts as the file's content). @rounds per queue. */
void vut_rw_check(struct vut_env *e, struct cvmm_virtio_user *vu, unsigned int nq,
		  unsigned int rounds, uint64_t seed);

/* One synchronous request; returns the status byte. */
uint8_t vut_io(struct cvmm_virtio_user *vu, unsigned int q, uint32_t type, uint64_t sector,
	       uint32_t len);

/* Whole file content (malloc'ed, e->size bytes). */
uint8_t *vut_read_file(struct vut_env *e);

#endif
