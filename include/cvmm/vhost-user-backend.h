/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/vhost-user-backend.h
 * @brief Framework for vhost-user device daemons.
 *
 * A device daemon supplies its device logic (struct cvmm_vub_device_ops);
 * the framework does the rest: listening on (or connecting to) a unix
 * socket, the vhost-user protocol (through cvmm/vhost.h), mapping the
 * frontend's memory table, split or packed vrings (VIRTIO_F_RING_PACKED,
 * offered unless CVMM_VUB_F_SPLIT_ONLY) on cvmm/virtio-queue.h with
 * EVENT_IDX and indirect descriptors, kick and call eventfds, config space,
 * multiqueue served by worker threads (each with its own epoll loop, an
 * event manager, serving the vrings i with i % num_workers == its index),
 * the inflight region (INFLIGHT_SHMFD, split-ring format of vhost-user.rst;
 * packed rings do not use it: accepted with a warning, since QEMU stops a
 * device whose GET_INFLIGHT_FD is refused) so that a restarted daemon
 * resubmits the requests a split ring had in flight,
 * dirty logging into the frontend's shared log (LOG_SHMFD), the device
 * status (STATUS: with it, rings run only while DRIVER_OK is set; a
 * status without DRIVER_OK stops them, keeping their positions) and
 * RESET_DEVICE (every ring stopped and forgotten, the inflight region
 * dropped, status 0, features unacked: the frontend negotiates again).
 *
 * Vring callbacks run on the vring's worker thread; a vring is driven by
 * that thread only. The protocol runs on the thread inside
 * cvmm_vub_serve(); vring start/stop reach the worker as remote calls that
 * wait, so a device never sees a vring change under it.
 *
 * The frontend is untrusted: every message is checked by the vhost crate,
 * ring content by virtio-queue, and the inflight region handed back by a
 * frontend is bounds-checked before use (a corrupt one is ignored).
 *
 * The prefix is cvmm_vub_ (vhost-user-backend).
 */
#ifndef CVMM_VHOST_USER_BACKEND_H
#define CVMM_VHOST_USER_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/virtio-queue.h>
#include <cvmm/vm-memory.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cvmm_event_manager;
struct cvmm_vub;
struct cvmm_vub_vring;

/** Virtio feature bit VHOST_F_LOG_ALL (dirty logging may be switched on). */
#define CVMM_VUB_F_LOG_ALL (1ull << 26)
/* VIRTIO_F_ACCESS_PLATFORM: behind the guest's IOMMU, ring and buffer
 * addresses are IOVAs translated through the device IOTLB the frontend
 * fills (IOTLB_MSG; misses on the backend channel). */
#define CVMM_VUB_F_ACCESS_PLATFORM (1ull << 33)

/** Features the framework adds to the device's own (RING_PACKED unless
 * CVMM_VUB_F_SPLIT_ONLY). */
#define CVMM_VUB_FRAMEWORK_FEATURES                                       \
	(CVMM_VIRTIO_F_VERSION_1 | CVMM_VIRTIO_F_EVENT_IDX |              \
	 CVMM_VIRTIO_F_INDIRECT_DESC | (1ull << 30) /* PROTOCOL_FEATURES */ | \
	 CVMM_VUB_F_LOG_ALL | CVMM_VIRTIO_F_RING_PACKED |                \
	 CVMM_VUB_F_ACCESS_PLATFORM)

/**
 * The device logic. Every callback except queue_kick is optional.
 * Vring callbacks (queue_*) run on the vring's worker thread.
 */
struct cvmm_vub_device_ops {
	size_t sz; /* sizeof(struct cvmm_vub_device_ops) */
	/* Read config space [offset, offset + len) (inside 256 bytes).
	 * NULL: CONFIG is not offered. */
	int (*get_config)(void *opaque, uint32_t offset, void *buf, uint32_t len);
	int (*set_config)(void *opaque, uint32_t offset, const void *buf, uint32_t len);
	/* The features the frontend acked (framework bits included). */
	int (*set_features)(void *opaque, uint64_t features);
	/* A vring goes live: set up per-queue state (cvmm_vub_vring_set_priv),
	 * register fds on cvmm_vub_vring_em(). A negative return leaves the
	 * vring stopped. */
	int (*queue_start)(void *opaque, struct cvmm_vub_vring *vr);
	/* A vring stops (GET_VRING_BASE, disconnect, memory table change, exit):
	 * finish every request popped (push it) before returning. */
	void (*queue_stop)(void *opaque, struct cvmm_vub_vring *vr);
	/* Buffers may be available (a kick, or requests to resubmit after a
	 * restart): pop with cvmm_vub_vring_pop() until it returns 0, then
	 * cvmm_vub_vring_signal(). */
	void (*queue_kick)(void *opaque, struct cvmm_vub_vring *vr);
};

/* opts.flags */
/** Block SIGTERM and SIGINT in the calling thread (before the workers start,
 * so they inherit the mask); a thread reading them from a signalfd calls
 * cvmm_vub_stop(). */
#define CVMM_VUB_F_SIGNALS 0x1u
/** Connect to @socket_path (the frontend listens) instead of listening. */
#define CVMM_VUB_F_CONNECT 0x2u
/** Do not offer VIRTIO_F_RING_PACKED: for device logic that reads or
 * writes ring structures itself instead of going through chains. */
#define CVMM_VUB_F_SPLIT_ONLY 0x4u

/** The threads the framework starts itself (the protocol runs on the
 * caller of cvmm_vub_serve()). */
enum cvmm_vub_thread {
	CVMM_VUB_THREAD_WORKER = 0,  /* "vub-workerN": a worker's vring loop */
	CVMM_VUB_THREAD_SIGNALS,     /* "vub-signals": CVMM_VUB_F_SIGNALS' reader */
};

/**
 * Called first on each thread the framework starts, before it does any
 * work (a worker before its loop, so before any vring callback), with the
 * thread's type and index (the worker's index; 0 for the signal thread).
 * For per-thread set-up such as installing a seccomp filter. It cannot
 * fail: a program that cannot set a thread up ends the process (fail
 * closed). Runs concurrently with the caller of cvmm_vub_create().
 */
typedef void (*cvmm_vub_thread_start_fn)(void *arg, enum cvmm_vub_thread type,
					 unsigned int idx);

struct cvmm_vub_opts {
	size_t sz;                 /* sizeof(struct cvmm_vub_opts) */
	const char *socket_path;   /* unix socket to listen on (or connect to) */
	int listen_fd;             /* or an already listening socket (owned), -1 */
	uint32_t flags;            /* CVMM_VUB_F_* */
	unsigned int num_queues;   /* 1..CVMM_VHOST_MAX_QUEUES (256) */
	unsigned int num_workers;  /* 0: one per queue; capped at num_queues */
	uint64_t features;         /* device feature bits (framework ones added) */
	const struct cvmm_vub_device_ops *ops;
	void *opaque;
	cvmm_vub_thread_start_fn thread_start; /* optional */
	void *thread_arg;          /* its first argument */
};

/**
 * Create the daemon: check the options, listen on the socket (replacing a
 * stale socket file) unless listen_fd or CONNECT is given, and start the
 * worker threads (idle until a frontend sets up vrings).
 * @return 0 and *@out; -EINVAL (bad sz, num_queues, no socket, ops without
 * queue_kick); -EEXIST (a non-socket file at the path); -ENOMEM; socket and
 * thread errors.
 * Thread safety: any thread; with CVMM_VUB_F_SIGNALS, the thread that will
 * call serve().
 */
int cvmm_vub_create(const struct cvmm_vub_opts *o, struct cvmm_vub **out);

/**
 * Serve frontends one after the other: accept a connection (or connect
 * once with CVMM_VUB_F_CONNECT), run the protocol until the frontend goes
 * away (its vrings are stopped, in-flight requests finished, the memory
 * unmapped), then accept the next. A protocol error of one message is
 * answered and the connection kept; a broken stream drops it.
 * @return 0 after cvmm_vub_stop(), SIGTERM/SIGINT (CVMM_VUB_F_SIGNALS), or
 * the end of the one connection in CONNECT mode; negative errno when the
 * listening socket fails (-ECONNREFUSED ... for CONNECT).
 * Thread safety: one thread per daemon.
 */
int cvmm_vub_serve(struct cvmm_vub *d);

/**
 * Ask serve() to return: the current connection's socket is shut down (also
 * when serve() waits for the rest of a stalled message), its vrings are
 * stopped with their in-flight requests finished, and serve() returns 0.
 * Permanent: a later serve() returns at once.
 * @return 0; negative errno from the eventfd write.
 * Thread safety: any thread (takes a mutex: not from a signal handler; use
 * CVMM_VUB_F_SIGNALS for signals).
 */
int cvmm_vub_stop(struct cvmm_vub *d);

/**
 * Stop the workers, close everything, free. NULL is a no-op.
 * Ordering: not while serve() runs.
 * Thread safety: the thread that created @d.
 */
void cvmm_vub_destroy(struct cvmm_vub *d);

/** Connections accepted so far. Thread safety: any thread (approximate). */
uint64_t cvmm_vub_connections(const struct cvmm_vub *d);

/* ------------------------------------------------------------------------ */
/* Vrings, for the device's queue_* callbacks (worker thread only)           */
/* ------------------------------------------------------------------------ */

/** Index of the vring. Thread safety: any thread. */
unsigned int cvmm_vub_vring_index(const struct cvmm_vub_vring *vr);
/** The worker's event manager (register completion fds here). */
struct cvmm_event_manager *cvmm_vub_vring_em(const struct cvmm_vub_vring *vr);
/** Guest memory of the current connection (valid while started). */
struct cvmm_guest_mem *cvmm_vub_vring_mem(const struct cvmm_vub_vring *vr);
/** The queue size the frontend set. */
uint16_t cvmm_vub_vring_size(const struct cvmm_vub_vring *vr);
/** Features acked by the frontend. */
uint64_t cvmm_vub_vring_features(const struct cvmm_vub_vring *vr);
/** Device per-queue state. Thread safety: the worker thread. */
void cvmm_vub_vring_set_priv(struct cvmm_vub_vring *vr, void *priv);
void *cvmm_vub_vring_priv(const struct cvmm_vub_vring *vr);

/**
 * Take the next chain: first the requests a previous daemon had in flight
 * (from the inflight region, oldest first), then the available ring. The
 * chain's head is recorded as in flight in the inflight region.
 * @return 1 with @c filled; 0 none; the queue error (queue broken: stop
 * using it; the device may log). -ENODEV when the vring is stopped.
 * Thread safety: the worker thread.
 */
int cvmm_vub_vring_pop(struct cvmm_vub_vring *vr, struct cvmm_virtq_chain *c);

/**
 * Bracket a completion a device writes itself (e.g. through
 * cvmm_blk_request_complete(), which pushes to the chain's queue):
 * begin(@id) before the push, end(@id) after it, so a crash between them is
 * repaired on restart. @id is the chain's id.
 * Thread safety: the worker thread.
 */
void cvmm_vub_vring_push_begin(struct cvmm_vub_vring *vr, uint16_t id);
void cvmm_vub_vring_push_end(struct cvmm_vub_vring *vr, uint16_t id);

/**
 * Push @c with @len bytes written (begin, cvmm_virtq_push, end).
 * @return 0; the errors of cvmm_virtq_push().
 * Thread safety: the worker thread.
 */
int cvmm_vub_vring_push(struct cvmm_vub_vring *vr, const struct cvmm_virtq_chain *c,
			uint32_t len);

/**
 * After a batch of pushes: copy the pages written into the frontend's
 * dirty log (when logging), then notify the call eventfd if the driver
 * wants it (EVENT_IDX / NO_INTERRUPT). @return 0; negative errno from the
 * eventfd write.
 * Thread safety: the worker thread.
 */
int cvmm_vub_vring_signal(struct cvmm_vub_vring *vr);

/**
 * Re-arm kicks after draining: @return 1 when more buffers arrived (drain
 * again), 0 when armed, negative queue error.
 * Thread safety: the worker thread.
 */
int cvmm_vub_vring_enable_notification(struct cvmm_vub_vring *vr);
/** Tell the driver kicks are not needed while draining. */
void cvmm_vub_vring_disable_notification(struct cvmm_vub_vring *vr);

/**
 * One chain of a drain: complete it (cvmm_vub_vring_push(), now or later).
 * @return 0 to go on; a negative errno stops the drain and is returned
 * by it (the device decides whether the queue is broken).
 */
typedef int (*cvmm_vub_chain_fn)(void *opaque, struct cvmm_vub_vring *vr,
				 struct cvmm_virtq_chain *c);

/**
 * The loop every queue_kick needs, with the lost-wakeup re-check: kicks
 * off, pop and hand each chain to @fn until the ring is empty, kicks on
 * and drain again if buffers arrived meanwhile; then one
 * cvmm_vub_vring_signal(). A device with work between batches (reaping
 * asynchronous completions) writes the loop itself.
 * @return 0; the queue error of pop or enable (queue broken); what @fn
 * returned. The signal is sent in every case.
 * Thread safety: the worker thread.
 */
int cvmm_vub_vring_drain(struct cvmm_vub_vring *vr, cvmm_vub_chain_fn fn, void *opaque);

/** Requests resubmitted from the inflight region since create (tests). */
uint64_t cvmm_vub_resubmitted(const struct cvmm_vub *d);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VHOST_USER_BACKEND_H */
