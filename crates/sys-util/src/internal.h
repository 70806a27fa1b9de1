/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by sys-util's own files; not installed. */
#ifndef CVMM_SYS_UTIL_INTERNAL_H
#define CVMM_SYS_UTIL_INTERNAL_H

/*
 * Block until @fd is ready for @events (POLLIN/POLLOUT). Used after a partial
 * transfer on a nonblocking fd: giving up there would lose the bytes already
 * moved, so the rest is finished in blocking fashion.
 * @return 0; negative errno from poll (EINTR is retried).
 */
int cvmm_sys_util_wait_fd(int fd, short events);

#endif
