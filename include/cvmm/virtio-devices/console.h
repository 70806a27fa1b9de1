/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/virtio-devices/console.h
 * @brief virtio-console with one port (no MULTIPORT) and virtio-rng.
 *
 * The console moves bytes between the guest and two host fds the program
 * opens: stdin/stdout, a file (output only), or one connected unix socket
 * used for both directions. Queue 0 (receiveq) is filled from @in_fd when it
 * is readable and the guest has buffers; queue 1 (transmitq) is written to
 * @out_fd. The rng fills every device-writable buffer from getrandom().
 */
#ifndef CVMM_VIRTIO_DEVICES_CONSOLE_H
#define CVMM_VIRTIO_DEVICES_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include <cvmm/virtio-devices.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cvmm_console;

struct cvmm_console_opts {
	size_t sz;                      /* sizeof(struct cvmm_console_opts) */
	struct cvmm_event_manager *em;  /* the device thread's loop */
	int in_fd;    /* pollable fd the guest reads from (made non-blocking), -1: none */
	int out_fd;   /* fd guest output is written to (blocking writes), -1: dropped */
	uint16_t queue_size;            /* 0: 256 */
};

/**
 * Create a console. The fds stay the caller's (not closed by destroy).
 * @return 0 and *@out; -EINVAL (bad opts, no em); -ENOMEM; fcntl errors.
 * Thread safety: any thread.
 */
int cvmm_console_create(const struct cvmm_console_opts *o, struct cvmm_console **out);
/** Free (destroy the transport first). NULL does nothing.
 * Thread safety: while the device thread does not use it. */
void cvmm_console_destroy(struct cvmm_console *c);
/** The device interface, for cvmm_virtio_mmio_create(). Thread-safe. */
struct cvmm_virtio_device *cvmm_console_device(struct cvmm_console *c);

struct cvmm_rng;

struct cvmm_rng_opts {
	size_t sz;           /* sizeof(struct cvmm_rng_opts) */
	uint16_t queue_size; /* 0: 256 */
	uint32_t max_bytes_per_request; /* 0: 64 KiB; longer buffers are filled partly */
};

/**
 * Create a virtio-rng device. @return 0 and *@out; -EINVAL; -ENOMEM.
 * Thread safety: any thread.
 */
int cvmm_rng_create(const struct cvmm_rng_opts *o, struct cvmm_rng **out);
/** Free (destroy the transport first). NULL does nothing.
 * Thread safety: while the device thread does not use it. */
void cvmm_rng_destroy(struct cvmm_rng *r);
/** The device interface, for cvmm_virtio_mmio_create(). Thread-safe. */
struct cvmm_virtio_device *cvmm_rng_device(struct cvmm_rng *r);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VIRTIO_DEVICES_CONSOLE_H */
