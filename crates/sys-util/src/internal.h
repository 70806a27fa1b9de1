/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by sys-util's own files; not installed. */
#ifndef CVMM_SYS_UTIL_INTERNAL_H
#define CVMM_SYS_UTIL_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Block until @fd is ready for @events (POLLIN/POLLOUT). Used after a partial
 * transfer on a nonblocking fd: giving up there would lose the bytes already
 * moved, so the rest is finished in blocking fashion.
 * @return 0; negative errno from poll (EINTR is retried).
 */
int cvmm_sys_util_wait_fd(int fd, short events);

/*
 * What to do after a read/write-like call on @fd moved nothing (@n <= 0,
 * errno set when @n < 0), @done bytes into the transfer: @eof_err for a
 * zero return, retry (1) after EINTR, wait for @events and retry after
 * EAGAIN once bytes have moved, otherwise the negative errno.
 */
int cvmm_sys_util_io_retry(int fd, ssize_t n, size_t done, short events, int eof_err);

#endif
