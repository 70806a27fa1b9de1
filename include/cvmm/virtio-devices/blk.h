/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/virtio-devices/blk.h
 * @brief virtio-blk: a request parser, an I/O backend (io_uring or
 *        synchronous) over a raw image file, and the device model.
 *
 * The layers are independent so that a vhost-user-blk daemon runs the
 * same block code over its own vrings:
 *
 *   cvmm_blk_config_build(cfg, ...)           the config space, once
 *   cvmm_blk_request_parse(req, chain, disk)  validates one chain
 *   cvmm_blk_backend_submit(b, req)           runs it (sync or io_uring)
 *   cvmm_blk_backend_reap(b, done, n)         collects async completions
 *   cvmm_blk_request_complete(req)            status byte + used ring push
 *   struct cvmm_blk_queue                     the drain loop over one queue:
 *                                             pop, parse, submit, reap,
 *                                             complete, notify
 *
 * The in-VMM device (cvmm_blk_create()) and cvmm-vhost-user-blk are both a
 * cvmm_blk_queue per virtqueue; they differ only in who owns the queue (the
 * transport, or the vhost-user-backend framework through ops).
 *
 * Request policy (every value comes from the guest):
 * - a chain the device cannot even answer (no writable status byte at its
 *   end, a header shorter than 16 bytes or not device-readable) is
 *   "unanswerable": parse returns -EINVAL; the device pushes it with length
 *   0 and sets DEVICE_NEEDS_RESET.
 * - a request that can be answered but is wrong gets a status byte:
 *   VIRTIO_BLK_S_IOERR for a sector range that passes the end of the disk
 *   (checked before any I/O: nothing is read or written), a data length
 *   that is not a multiple of 512, data in the wrong direction (e.g. write
 *   data in a device-writable descriptor), too many segments, a write to a
 *   read-only disk; VIRTIO_BLK_S_UNSUPP for an unknown type, a feature that
 *   was not negotiated, or reserved flag bits in discard/write-zeroes.
 * The host file is only ever accessed inside [0, capacity * 512).
 */
#ifndef CVMM_VIRTIO_DEVICES_BLK_H
#define CVMM_VIRTIO_DEVICES_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <cvmm/virtio-devices.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Request types (virtio 1.2, 5.2.6). */
#define CVMM_VIRTIO_BLK_T_IN 0u
#define CVMM_VIRTIO_BLK_T_OUT 1u
#define CVMM_VIRTIO_BLK_T_FLUSH 4u
#define CVMM_VIRTIO_BLK_T_GET_ID 8u
#define CVMM_VIRTIO_BLK_T_DISCARD 11u
#define CVMM_VIRTIO_BLK_T_WRITE_ZEROES 13u

/* Status byte values. */
#define CVMM_VIRTIO_BLK_S_OK 0u
#define CVMM_VIRTIO_BLK_S_IOERR 1u
#define CVMM_VIRTIO_BLK_S_UNSUPP 2u

/* Feature bits. */
#define CVMM_VIRTIO_BLK_F_SEG_MAX (1ull << 2)
#define CVMM_VIRTIO_BLK_F_RO (1ull << 5)
#define CVMM_VIRTIO_BLK_F_BLK_SIZE (1ull << 6)
#define CVMM_VIRTIO_BLK_F_FLUSH (1ull << 9)
#define CVMM_VIRTIO_BLK_F_MQ (1ull << 12)
#define CVMM_VIRTIO_BLK_F_DISCARD (1ull << 13)
#define CVMM_VIRTIO_BLK_F_WRITE_ZEROES (1ull << 14)

/* discard/write-zeroes segment flag */
#define CVMM_VIRTIO_BLK_WZ_F_UNMAP 0x1u

#define CVMM_BLK_SECTOR_SIZE 512u
#define CVMM_BLK_ID_BYTES 20u
/** Data segments per request (advertised as seg_max). */
#define CVMM_BLK_SEG_MAX 126u
/** Segments per discard / write-zeroes request. */
#define CVMM_BLK_MAX_DISCARD_SEG 16u
/** Sectors per discard / write-zeroes segment (1 GiB). */
#define CVMM_BLK_MAX_DISCARD_SECTORS (1u << 21)

/** Offsets in struct virtio_blk_config (virtio 1.2, 5.2.4). */
#define CVMM_VIRTIO_BLK_CFG_CAPACITY 0u
#define CVMM_VIRTIO_BLK_CFG_SEG_MAX 12u
#define CVMM_VIRTIO_BLK_CFG_BLK_SIZE 20u
#define CVMM_VIRTIO_BLK_CFG_NUM_QUEUES 34u
#define CVMM_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36u
#define CVMM_VIRTIO_BLK_CFG_MAX_DISCARD_SEG 40u
#define CVMM_VIRTIO_BLK_CFG_DISCARD_ALIGN 44u
#define CVMM_VIRTIO_BLK_CFG_MAX_WZ_SECTORS 48u
#define CVMM_VIRTIO_BLK_CFG_MAX_WZ_SEG 52u
#define CVMM_VIRTIO_BLK_CFG_WZ_MAY_UNMAP 56u
#define CVMM_VIRTIO_BLK_CFG_SIZE 60u

/** What the parser needs to know of the disk. */
struct cvmm_blk_disk_info {
	uint64_t capacity;   /* in 512-byte sectors */
	uint64_t features;   /* negotiated (DISCARD, WRITE_ZEROES, FLUSH ...) */
	bool read_only;
};

/** One discard / write-zeroes segment, validated. */
struct cvmm_blk_seg {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/**
 * A parsed request. It keeps a copy of its chain and a writer over it, so
 * it must stay at one address from parse until complete (do not copy it).
 */
struct cvmm_blk_request {
	struct cvmm_virtq_chain chain;
	struct cvmm_virtq_rw data;   /* IN: writer over the data; OUT: reader */
	uint32_t type;
	uint8_t status;             /* CVMM_VIRTIO_BLK_S_*: the verdict so far */
	uint8_t executable;         /* 1: needs I/O; 0: complete with status */
	uint16_t nsegs;             /* discard/write-zeroes segments */
	uint64_t sector;
	uint64_t data_len;          /* bytes of data (IN/OUT/GET_ID) */
	uint64_t status_gpa;        /* the status byte */
	uint64_t done_len;          /* bytes the device wrote into the chain */
	struct cvmm_guest_mem *mem;
	unsigned int niov;
	struct iovec iov[CVMM_BLK_SEG_MAX + 2];
	struct cvmm_blk_seg segs[CVMM_BLK_MAX_DISCARD_SEG];
	uint64_t user;              /* free for the caller (e.g. a slot index) */
};

/**
 * Parse and validate the chain @c (popped from a queue over @mem) against
 * @disk into @req (see the policy above). @req->executable tells whether it
 * needs I/O; otherwise @req->status holds the answer.
 * @return 0; -EINVAL (unanswerable chain: the caller pushes it with length
 * 0 and sets NEEDS_RESET); the queue error (-EFAULT, -ELOOP, -EINVAL) when
 * walking the chain broke the queue.
 * Thread safety: the queue's thread.
 */
int cvmm_blk_request_parse(struct cvmm_blk_request *req,
			   const struct cvmm_virtq_chain *c,
			   struct cvmm_guest_mem *mem,
			   const struct cvmm_blk_disk_info *disk);

/**
 * Write the status byte, mark the data pages written dirty and push the
 * chain to its queue (used length: data bytes written + 1).
 * @return 0; the errors of cvmm_virtq_push() (queue broken or inactive).
 * Thread safety: the queue's thread.
 */
int cvmm_blk_request_complete(struct cvmm_blk_request *req);

/* ------------------------------------------------------------------------ */
/* Backend                                                                   */
/* ------------------------------------------------------------------------ */

enum cvmm_blk_engine {
	CVMM_BLK_ENGINE_AUTO = 0,  /* io_uring, or sync if it cannot be set up */
	CVMM_BLK_ENGINE_URING,
	CVMM_BLK_ENGINE_SYNC,
};

struct cvmm_blk_backend_opts {
	size_t sz;                /* sizeof(struct cvmm_blk_backend_opts) */
	const char *path;         /* raw image; or: */
	int fd;                   /* an open image fd (dup'ed), -1 when path is used */
	bool read_only;
	bool direct;              /* O_DIRECT (guest buffers must be 512-aligned) */
	enum cvmm_blk_engine engine;
	unsigned int queue_depth; /* io_uring entries, 0: 128 */
	const char *serial;       /* GET_ID answer (at most 20 bytes), NULL: "cvmm" */
	/* Open without the lock: an incoming migration's image, still the
	 * source's until cvmm_blk_backend_lock() takes it. */
	bool lock_later;
};

struct cvmm_blk_backend;

/**
 * Open the image and set up the engine. Capacity is the file size rounded
 * down to whole sectors (a trailing partial sector is never accessed).
 * The image gets an advisory OFD lock, as QEMU takes one: shared when
 * read_only, exclusive otherwise, held while the backend is open (by
 * path: on a second open of the image, released by close at once); with
 * @fd the lock is on the caller's open file description (so that backends
 * opened from one fd share it, and it lasts as long as that fd).
 * @return 0 and *@out; -EINVAL (bad opts, both or neither of path and fd,
 * O_DIRECT unsupported by the file system, serial longer than 20, neither
 * a regular file nor a block device); -EISDIR (a directory); -EBUSY
 * (another open file description holds a conflicting lock: another VMM or
 * daemon uses the image); -ESTALE (the path named another file by the
 * second open); -ENOENT, -EACCES, -EROFS ... from open; io_uring
 * set-up errors with ENGINE_URING; -ENOMEM.
 * Thread safety: any thread.
 */
int cvmm_blk_backend_open(const struct cvmm_blk_backend_opts *o,
			  struct cvmm_blk_backend **out);

/**
 * Take (@hold) or let go of the image's advisory lock, so that a migration
 * hands a writable image from one VMM to the other (QEMU's inactivate and
 * activate): the source lets go once its guest is paused for good, the
 * destination takes it before it runs the guest. No I/O may be in flight
 * while the lock is let go.
 * @return 0; -EBUSY (another open file description holds a conflicting
 * lock); fcntl errors (a file system without locks: 0 with a warning).
 * Thread safety: any thread; not concurrently with itself.
 */
int cvmm_blk_backend_lock(struct cvmm_blk_backend *b, bool hold);

/** Wait for in-flight I/O, close and free. NULL does nothing.
 * Thread safety: the backend's thread, once nobody else uses it. */
void cvmm_blk_backend_close(struct cvmm_blk_backend *b);

/* Accessors. Thread safety: any thread (fixed after open), except
 * in_flight: the backend's thread. */
/** Capacity in sectors. */
uint64_t cvmm_blk_backend_capacity(const struct cvmm_blk_backend *b);
/** True when opened read-only. */
bool cvmm_blk_backend_read_only(const struct cvmm_blk_backend *b);
/** The engine in use (URING or SYNC, never AUTO). */
enum cvmm_blk_engine cvmm_blk_backend_engine(const struct cvmm_blk_backend *b);
/** An eventfd that becomes readable when async completions are ready
 * (-1 for the sync engine). Read it (clear) before reaping. */
int cvmm_blk_backend_completion_fd(const struct cvmm_blk_backend *b);
/** Requests submitted and not yet reaped. */
unsigned int cvmm_blk_backend_in_flight(const struct cvmm_blk_backend *b);

/**
 * Execute @req (parsed, executable). The sync engine, and every request
 * the io_uring engine does not run asynchronously (GET_ID, DISCARD,
 * WRITE_ZEROES), complete at once: @req->status is set and 1 is returned.
 * READ, WRITE and FLUSH on io_uring are queued (0); call
 * cvmm_blk_backend_kick() after a batch, then reap.
 * @return 1 done; 0 queued; -EAGAIN no room (reap first); -EINVAL (@req not
 * executable).
 * Thread safety: one thread per backend.
 */
int cvmm_blk_backend_submit(struct cvmm_blk_backend *b, struct cvmm_blk_request *req);

/**
 * Submit what was queued since the last kick. Completions the kernel posts
 * during the submission itself do not signal the completion eventfd: call
 * cvmm_blk_backend_reap() (without waiting) right after a kick.
 * @return 0; negative errno from io_uring_submit().
 * Thread safety: the backend's thread.
 */
int cvmm_blk_backend_kick(struct cvmm_blk_backend *b);

/**
 * Collect up to @max finished requests into @done (their status is set).
 * With @wait, block until at least one is done when any is in flight.
 * @return count; negative errno from io_uring; -EINVAL (NULL arguments).
 * Thread safety: the backend's thread.
 */
int cvmm_blk_backend_reap(struct cvmm_blk_backend *b, struct cvmm_blk_request **done,
			  unsigned int max, bool wait);

/* ------------------------------------------------------------------------ */
/* Config space                                                              */
/* ------------------------------------------------------------------------ */

/**
 * Build struct virtio_blk_config (CVMM_VIRTIO_BLK_CFG_SIZE bytes at @cfg)
 * for a disk of @capacity sectors with @num_queues request queues, as the
 * driver sees it under @features (the negotiated ones; 0 before
 * FEATURES_OK): capacity, seg_max, blk_size 512, num_queues, the discard
 * and write-zeroes limits. seg_max is CVMM_BLK_SEG_MAX, except on a packed
 * ring without INDIRECT_DESC, whose chains hold at most
 * CVMM_VIRTQ_PACKED_MAX_CHAIN descriptors (header and status take two).
 * Every program that presents a virtio-blk device calls this, so they all
 * present the same bytes.
 * Thread safety: reentrant.
 */
void cvmm_blk_config_build(uint8_t *cfg, uint64_t capacity, uint64_t features,
			   uint16_t num_queues);

/* ------------------------------------------------------------------------ */
/* Queue worker: the drain loop over one request queue                       */
/* ------------------------------------------------------------------------ */

struct cvmm_blk_queue;
struct cvmm_rate_limiter;

/**
 * A queue someone else owns (a vhost-user-backend vring, whose pop replays
 * a restarted daemon's in-flight requests first). @ctx is the opts' ctx.
 * pop/disable/enable are required; chains are pushed to their own queue
 * (chain.q) between push_begin and push_end.
 */
struct cvmm_blk_queue_ops {
	size_t sz;        /* sizeof(struct cvmm_blk_queue_ops) */
	/* 1 with @c; 0 empty; negative: the queue broke */
	int (*pop)(void *ctx, struct cvmm_virtq_chain *c);
	void (*disable_notification)(void *ctx);
	/* 1: more arrived (drain again); 0 armed; negative: broken */
	int (*enable_notification)(void *ctx);
	/* optional: give the last chain back (NULL: when the backend has no
	 * room the worker waits for a completion instead) */
	int (*unpop)(void *ctx, const struct cvmm_virtq_chain *c);
	/* optional: bracket every push (crash-safe inflight records) */
	void (*push_begin)(void *ctx, uint16_t id);
	void (*push_end)(void *ctx, uint16_t id);
};

struct cvmm_blk_queue_opts {
	size_t sz;                        /* sizeof(struct cvmm_blk_queue_opts) */
	struct cvmm_blk_backend *backend; /* runs the I/O; not owned; one queue
					   * per backend at a time */
	struct cvmm_guest_mem *mem;       /* the queue's guest memory */
	struct cvmm_virtq *q;             /* a plain virtqueue; or: */
	const struct cvmm_blk_queue_ops *ops; /* a queue behind ops (q NULL) */
	uint16_t slots;                   /* requests in flight at most
					   * (1..CVMM_VIRTQ_MAX_SIZE): the queue size */
	uint64_t features;                /* negotiated */
	bool read_only;
	struct cvmm_rate_limiter *rl;     /* NULL: unlimited; needs q or ops->unpop */
	void *ctx;                        /* for every callback */
	/*
	 * Used buffers were pushed. With @q: called only when
	 * cvmm_virtq_needs_notification() says the driver wants one. With
	 * @ops: after every batch that pushed (the owner checks, e.g.
	 * cvmm_vub_vring_signal()). Required.
	 */
	void (*notify)(void *ctx);
	/*
	 * Optional. Something went wrong: an unanswerable chain (@err -EINVAL,
	 * @queue_broken false: it was pushed with length 0), or the queue
	 * broke (@queue_broken: its error, or -EIO when a push or the backend
	 * failed). Return true to stop the queue (broken until destroyed); a
	 * broken queue stops whatever is returned. NULL: stop.
	 */
	bool (*error)(void *ctx, int err, bool queue_broken);
	/* Optional: the rate limiter refused @bytes (the chain went back):
	 * arm a timer that calls cvmm_blk_queue_process(). */
	void (*throttled)(void *ctx, uint64_t bytes);
	/* Optional, for tests: true keeps a parsed request forever (never
	 * executed nor pushed: simulated hung I/O). */
	bool (*hold)(void *ctx, const struct cvmm_blk_request *req);
};

/**
 * A worker over one request queue (not started: call process() on a kick).
 * @return 0 and *@out; -EINVAL (neither or both of q and ops, ops without
 * pop/enable/disable, slots 0, no notify, a rate limiter without a way to
 * give chains back); -ENOMEM.
 * Thread safety: any thread; the worker is then used by one thread.
 */
int cvmm_blk_queue_create(const struct cvmm_blk_queue_opts *o, struct cvmm_blk_queue **out);

/**
 * Wait for the requests in flight (with @push, complete them to the queue
 * and notify; without, drop them: a reset driver never sees them) and
 * free. Held requests are dropped. NULL does nothing.
 * Thread safety: the worker's thread.
 */
void cvmm_blk_queue_destroy(struct cvmm_blk_queue *w, bool push);

/**
 * Drain the queue: notifications off, pop, parse, submit or complete until
 * it is empty, notifications on and again if buffers arrived meanwhile
 * (no lost wake-up); submit the I/O batch, harvest what finished during
 * submission, notify once. Stops early when every slot is in flight, the
 * backend is full or the rate limiter refuses (notifications stay off;
 * cvmm_blk_queue_complete() or the throttle timer drains again).
 * Thread safety: the worker's thread.
 */
void cvmm_blk_queue_process(struct cvmm_blk_queue *w);

/**
 * The backend's completion eventfd became readable: clear it, complete
 * what finished, notify, and drain again when a drain had stopped for
 * lack of room.
 * Thread safety: the worker's thread.
 */
void cvmm_blk_queue_complete(struct cvmm_blk_queue *w);

/**
 * Wait until nothing is in flight, completing every request to the queue
 * and notifying (save, a vring stop). Held requests stay held.
 * Thread safety: the worker's thread.
 */
void cvmm_blk_queue_quiesce(struct cvmm_blk_queue *w);

/** Change the negotiated features (a restore). Thread safety: the worker's
 * thread. */
void cvmm_blk_queue_set_features(struct cvmm_blk_queue *w, uint64_t features);

/** True once the queue stopped (see opts.error). Thread safety: the
 * worker's thread. */
bool cvmm_blk_queue_broken(const struct cvmm_blk_queue *w);

/* ------------------------------------------------------------------------ */
/* Device                                                                    */
/* ------------------------------------------------------------------------ */

struct cvmm_blk;

struct cvmm_blk_opts {
	size_t sz;                          /* sizeof(struct cvmm_blk_opts) */
	struct cvmm_blk_backend_opts backend;
	struct cvmm_event_manager *em;      /* the device thread's loop */
	uint16_t queue_size;                /* QueueNumMax, 0: 256 */
	const struct cvmm_rate_limiter_opts *rate; /* NULL: unlimited */
};

/**
 * Create a virtio-blk device (one request queue) over a backend.
 * Requests in flight at once are bounded by the queue depth.
 * @return 0 and *@out; -EINVAL (bad opts, no em); cvmm_blk_backend_open()
 * and cvmm_rate_limiter_init() errors; -ENOMEM.
 * Thread safety: any thread.
 */
int cvmm_blk_create(const struct cvmm_blk_opts *o, struct cvmm_blk **out);

/** cvmm_blk_backend_lock() on the device's image (see there). */
int cvmm_blk_image_lock(struct cvmm_blk *b, bool hold);

/** Free (the transport must be destroyed first). NULL does nothing.
 * Thread safety: while the device thread does not use it. */
void cvmm_blk_destroy(struct cvmm_blk *blk);

/** The device interface, for cvmm_virtio_mmio_create(). Thread-safe. */
struct cvmm_virtio_device *cvmm_blk_device(struct cvmm_blk *blk);

/** The backend (read-only use: capacity, engine). Thread-safe. */
struct cvmm_blk_backend *cvmm_blk_backend(struct cvmm_blk *blk);

/** Requests refused by the rate limiter so far (each retried later).
 * Thread safety: the device thread (a racy read elsewhere is harmless). */
uint64_t cvmm_blk_throttled(const struct cvmm_blk *blk);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VIRTIO_DEVICES_BLK_H */
