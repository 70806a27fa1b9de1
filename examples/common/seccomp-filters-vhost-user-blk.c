/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm-vhost-user-blk's built-in allow-lists, one per thread type the
 * vhost-user-backend framework runs (examples/common/vub-daemon.c):
 *   main     the protocol thread (VUB_MAIN_RULES in seccomp-rules.h);
 *   worker   a vring worker's loop: kicks, the queue's io_uring (set up at
 *            start-up by the main thread), completions, calls;
 *   signals  reads SIGTERM/SIGINT from a signalfd and stops the daemon.
 * The image and the per-queue io_urings are opened, the socket created and
 * the threads started before any filter: no open, no socket, no clone, no
 * execve, no io_uring_setup in any list.
 */
#include "seccomp-rules.h"

static const struct cvmm_seccomp_rule blk_main[] = {
	VUB_MAIN_RULES,
};

static const struct cvmm_seccomp_rule blk_worker[] = {
	VUB_WORKER_RULES,
	CVMM_SECCOMP_RULE("io_uring_enter"),
	/* the synchronous engine, where io_uring is unavailable */
	CVMM_SECCOMP_RULE("preadv"),
	CVMM_SECCOMP_RULE("pwritev"),
	CVMM_SECCOMP_RULE("fdatasync"),
	CVMM_SECCOMP_RULE("fallocate"),             /* discard, write zeroes */
};

static const struct cvmm_seccomp_rule blk_signals[] = {
	VUB_SIGNALS_RULES,
};

static const struct cvmm_sandbox_table tables[] = {
	TABLE("vhost-user-blk", "main", blk_main),
	TABLE("vhost-user-blk", "worker", blk_worker),
	TABLE("vhost-user-blk", "signals", blk_signals),
};

const struct cvmm_sandbox_program cvmm_sandbox_vhost_user_blk = { tables, CVMM_ARRAY_SIZE(tables) };
