/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file virtio-user.h
 * @brief A virtio-blk driver on the host: frontend and guest driver at once.
 *
 * Acts as a vhost-user frontend (cvmm/vhost.h) and as the guest driver
 * (cvmm/virtio-queue/driver.h) over a memfd that plays guest memory, so
 * any vhost-user-blk backend can be exercised from a host process (what
 * DPDK's virtio_user and libblkio do). Used by the tests and benchmarks;
 * a noinst library (libvirtio-user.a), not a crate: it needs vhost's
 * frontend side, virtio-queue's driver helper and vm-memory, a mix no crate
 * may depend on (see docs/vhost-user-blk.md). What it shares with the
 * network driver (memory, rings, the vhost-user session) is vu-core.h
 * (libvirtio-user-core.a, linked through CVMM_VIRTIO_USER_LIBS).
 *
 * Each queue has queue_size request slots; slot i owns a header, a status
 * byte and a data buffer of max_io bytes. Requests use indirect descriptors
 * when the backend offers them (one ring entry per request), otherwise
 * three ring descriptors.
 *
 * Thread safety: one thread per object (queues are not independent).
 */
#ifndef CVMM_EXAMPLES_VIRTIO_USER_H
#define CVMM_EXAMPLES_VIRTIO_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cvmm_virtio_user;

struct cvmm_virtio_user_opts {
	size_t sz;               /* sizeof(struct cvmm_virtio_user_opts) */
	const char *socket;      /* the backend's unix socket */
	unsigned int num_queues; /* 0: 1 */
	uint16_t queue_size;     /* power of two, 0: 128 */
	uint32_t max_io;         /* bytes per slot (multiple of 512), 0: 128 KiB */
	bool no_event_idx;       /* do not negotiate EVENT_IDX */
	bool no_inflight;        /* do not negotiate INFLIGHT_SHMFD */
	int connect_timeout_ms;  /* retry connecting this long, 0: once */
};

/**
 * Connect, negotiate (VERSION_1 required), read the config, share the
 * memory and start every queue.
 * @return 0 and *@out; -EINVAL (bad opts); -ENOTSUP (backend lacks
 * VERSION_1, CONFIG or enough queues); socket and protocol errors.
 */
int cvmm_virtio_user_create(const struct cvmm_virtio_user_opts *o,
			    struct cvmm_virtio_user **out);

/** Disconnect (abruptly: requests in flight are abandoned) and free. */
void cvmm_virtio_user_destroy(struct cvmm_virtio_user *vu);

/**
 * Drop the connection and set everything up again on a new one (a backend
 * that restarted): same memory, same rings, the inflight fd handed back,
 * each vring's base set to the used index in memory. Requests in flight
 * stay in flight and complete through reap().
 * @return 0; as create.
 */
int cvmm_virtio_user_reconnect(struct cvmm_virtio_user *vu, int timeout_ms);

/** Disk size in 512-byte sectors, from the config space. */
uint64_t cvmm_virtio_user_capacity(const struct cvmm_virtio_user *vu);
/** Features acked. */
uint64_t cvmm_virtio_user_features(const struct cvmm_virtio_user *vu);
/** Queue size and max_io in use. */
uint16_t cvmm_virtio_user_queue_size(const struct cvmm_virtio_user *vu);
uint32_t cvmm_virtio_user_max_io(const struct cvmm_virtio_user *vu);

/** Host pointer to @slot's data buffer on queue @q (max_io bytes). */
void *cvmm_virtio_user_buf(struct cvmm_virtio_user *vu, unsigned int q, unsigned int slot);

/**
 * Queue a block request from @slot (free) on @q: @type
 * CVMM_VIRTIO_BLK_T_*, @len data bytes (0 for FLUSH) from/to the slot's
 * buffer. Not kicked yet. @return 0; -EINVAL (bad q/slot/len); -EBUSY slot
 * in flight; -ENOSPC ring full.
 */
int cvmm_virtio_user_submit(struct cvmm_virtio_user *vu, unsigned int q, unsigned int slot,
			    uint32_t type, uint64_t sector, uint32_t len);

/** Notify the backend if the ring asks for it. @return 0; negative errno. */
int cvmm_virtio_user_kick(struct cvmm_virtio_user *vu, unsigned int q);

/**
 * Collect up to @max finished requests of @q: their slots and status
 * bytes. Waits up to @timeout_ms (-1 forever) for the first one.
 * @return count (0 on timeout); -EIO (the backend wrote an impossible used
 * entry); negative errno from poll.
 */
int cvmm_virtio_user_reap(struct cvmm_virtio_user *vu, unsigned int q, unsigned int *slots,
			  uint8_t *status, unsigned int max, int timeout_ms);

/** Requests in flight on @q. */
unsigned int cvmm_virtio_user_in_flight(const struct cvmm_virtio_user *vu, unsigned int q);

#endif
