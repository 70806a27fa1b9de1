/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file vu-core.h
 * @brief What the virtio-user drivers (virtio-user.h for block,
 *        virtio-user-net.h for net) share: the memfd that plays guest
 *        memory, the queues' rings and eventfds, and one connection's
 *        worth of vhost-user set-up and teardown.
 *
 * A driver lays out its memory with cvmm_vu_core_init() (each queue: its
 * three rings, then an area of the driver's own), then per connection
 * calls cvmm_vu_core_negotiate() (connect, owner, features, protocol
 * features, queue count, memory table), adds its device-specific messages
 * (config, inflight), and cvmm_vu_core_start() (drivers on the rings, every
 * vring started and kicked). The memory and the rings outlive a
 * connection, so a reconnect resumes where the rings stand.
 *
 * Internal to examples/virtio-user (libvirtio-user-core.a).
 * Thread safety: one thread per object.
 */
#ifndef CVMM_EXAMPLES_VU_CORE_H
#define CVMM_EXAMPLES_VU_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include <cvmm/vhost.h>
#include <cvmm/virtio-queue/driver.h>
#include <cvmm/vm-memory.h>

struct cvmm_vu_queue {
	struct cvmm_virtq_driver *drv; /* NULL until the first start */
	uint64_t desc, avail, used;    /* ring gpas */
	uint64_t area;                 /* gpa of the driver's own area */
	int kick_fd, call_fd;          /* eventfds, nonblocking */
	uint8_t *busy;                 /* per slot (queue_size), for the driver */
};

struct cvmm_vu_core {
	char *path;
	struct cvmm_vhost_frontend *fe; /* NULL between connections */
	struct cvmm_guest_mem *mem;
	uint64_t mem_size;
	uint64_t features, pfeatures; /* acked */
	unsigned int nq;
	uint16_t queue_size;
	struct cvmm_vu_queue *q;
};

/** What cvmm_vu_core_negotiate() asks of the backend. */
struct cvmm_vu_core_want {
	uint64_t features;    /* wanted (ANDed with the offer) */
	uint64_t pfeatures;   /* protocol features wanted (ANDed with the offer) */
	bool need_config;     /* -ENOTSUP without the CONFIG protocol feature */
	unsigned int min_nq;  /* > 0: MQ and GET_QUEUE_NUM >= this, else -ENOTSUP */
};

/**
 * Set up @c (zeroed by the caller) for @nq queues of @queue_size entries:
 * one shared memfd region from gpa 0 holding, per queue, its rings
 * (EVENT_IDX sized, page aligned) and @area_bytes of the driver's own
 * (rounded up to a page); the total is rounded up to 2 MiB. Eventfds and
 * busy arrays are made; no connection yet.
 * @return 0; -ENOMEM; memfd errors. On failure call cvmm_vu_core_fini().
 */
int cvmm_vu_core_init(struct cvmm_vu_core *c, const char *socket, unsigned int nq,
		      uint16_t queue_size, uint64_t area_bytes);

/** Close the connection, free the drivers, eventfds and memory. */
void cvmm_vu_core_fini(struct cvmm_vu_core *c);

/**
 * Connect (retrying up to @timeout_ms), SET_OWNER, negotiate features
 * (VERSION_1 and PROTOCOL_FEATURES required; on a reconnect, @first false,
 * the features acked before must all be offered again and are kept),
 * protocol features and the queue count, SET_FEATURES, SET_MEM_TABLE.
 * @return 0; -ENOTSUP (the backend lacks what @w needs); socket and
 * protocol errors (the connection stays in @c for fini()).
 */
int cvmm_vu_core_negotiate(struct cvmm_vu_core *c, bool first, int timeout_ms,
			   const struct cvmm_vu_core_want *w);

/**
 * Start every vring: on the first start make each queue's driver (with
 * @indirect_max > 0, indirect tables of that many descriptors at the start
 * of the queue's area, 16 bytes each, queue_size of them); each vring's
 * base is the used index in memory (as QEMU after a backend restart), and
 * each is kicked once, for requests queued while the backend was away.
 * @return 0; negative errno.
 */
int cvmm_vu_core_start(struct cvmm_vu_core *c, bool first, unsigned int indirect_max);

/** Drop the connection (the rings and memory stay). */
void cvmm_vu_core_disconnect(struct cvmm_vu_core *c);

/** Host address of guest-physical [@gpa, +@len); NULL outside memory. */
void *cvmm_vu_core_host(struct cvmm_vu_core *c, uint64_t gpa, uint64_t len);

/** Kick @q if its ring asks for it. @return 0; negative errno. */
int cvmm_vu_core_kick(struct cvmm_vu_queue *q);

/**
 * Arm @q's used-buffer notification and wait up to @timeout_ms (-1
 * forever) for a call. @return 1 (more used entries may be there: look
 * again); 0 on timeout; negative errno from poll.
 */
int cvmm_vu_core_wait_call(struct cvmm_vu_queue *q, int timeout_ms);

#endif
