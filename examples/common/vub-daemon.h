/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the two vhost-user daemons (cvmm-vhost-user-blk, -net) share around
 * the vhost-user-backend framework: the config-space helpers, and the run
 * of the daemon with its seccomp filters, one per thread type:
 *   "main"    the protocol thread (the caller of cvmm_vub_serve()),
 *   "worker"  each vring worker ("vub-workerN", its epoll loop),
 *   "signals" the SIGTERM/SIGINT reader ("vub-signals").
 */
#ifndef CVMM_EXAMPLES_VUB_DAEMON_H
#define CVMM_EXAMPLES_VUB_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include <cvmm/vhost-user-backend.h>

#include "sandbox.h"

/** Store the low @n bytes of @v little-endian at @p (config-space fields). */
void cvmm_vubd_put_le(uint8_t *p, uint64_t v, unsigned int n);

/**
 * A get_config answer from the device's config image @cfg (@size bytes):
 * [off, off + len) of it, zero past its end.
 * @return 0. Thread safety: reentrant (@cfg is only read).
 */
int cvmm_vubd_config_read(const uint8_t *cfg, size_t size, uint32_t off, void *buf,
			  uint32_t len);

/**
 * Run the daemon: compile @program's filters (built-in, or @filter_path)
 * for the main, worker and signals threads, create the daemon from @o (its
 * thread_start is taken over: each framework thread installs its filter
 * first), install the main thread's filter, serve until SIGTERM/SIGINT,
 * destroy. Errors are printed as one line prefixed "@prog: ".
 * @return the exit status: 0; 1 (socket, filter file or serve error).
 * Thread safety: once, from the main thread, before any other thread.
 */
int cvmm_vubd_run(const char *prog, const char *program, struct cvmm_vub_opts *o,
		  enum cvmm_sandbox_mode mode, const char *filter_path);

#endif
