/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm-vhost-user-net's built-in allow-lists, one per thread type the
 * vhost-user-backend framework runs (examples/common/vub-daemon.c):
 *   main     the protocol thread (VUB_MAIN_RULES in seccomp-rules.h), plus
 *            the TAP's header size and offloads at SET_FEATURES;
 *   worker   a vring worker's loop: frames between the TAP and the rings;
 *   signals  reads SIGTERM/SIGINT from a signalfd and stops the daemon.
 * The TAP queues are opened, the socket created and the threads started
 * before any filter: no open, no socket, no clone, no execve in any list.
 */
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include "seccomp-rules.h"

static const struct cvmm_seccomp_rule net_main[] = {
	VUB_MAIN_RULES,
	IOCTL(TUNSETVNETHDRSZ),
	IOCTL(TUNSETOFFLOAD),
};

static const struct cvmm_seccomp_rule net_worker[] = {
	VUB_WORKER_RULES,
	CVMM_SECCOMP_RULE("writev"),                /* transmit: header + guest buffers */
	IOCTL(TUNSETQUEUE),                         /* multi-queue: attach/detach a pair */
};

static const struct cvmm_seccomp_rule net_signals[] = {
	VUB_SIGNALS_RULES,
};

static const struct cvmm_sandbox_table tables[] = {
	TABLE("vhost-user-net", "main", net_main),
	TABLE("vhost-user-net", "worker", net_worker),
	TABLE("vhost-user-net", "signals", net_signals),
};

const struct cvmm_sandbox_program cvmm_sandbox_vhost_user_net = { tables, CVMM_ARRAY_SIZE(tables) };
