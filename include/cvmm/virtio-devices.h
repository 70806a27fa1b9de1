/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/virtio-devices.h
 * @brief The virtio device interface, the virtio-mmio (version 2) transport
 *        and a token-bucket rate limiter.
 *
 * A device model (blk, console, rng, net, vsock) embeds a struct
 * cvmm_virtio_device and fills in its ops. A transport is the transport
 * core (cvmm/virtio-devices/transport.h: register state shared by every
 * transport, negotiated features, the struct cvmm_virtq objects, the
 * device thread hand-off, save/restore) under a thin register map
 * (virtio-mmio below; virtio-pci later), and drives the device through
 * the ops:
 *
 *   vCPU thread                       device thread (event-manager loop)
 *   -----------                       ----------------------------------
 *   cvmm_virtio_mmio_access()         control eventfd: activate / reset
 *     register work only, under a       the device (ops->activate/reset)
 *     short lock; a status write      queue notify eventfd (KVM ioeventfd):
 *     that needs device work kicks      ops->queue_event(q)
 *     the control eventfd             device raises interrupts through
 *                                       cvmm_virtio_device_signal_used(q):
 *                                       the transport's interrupt
 *                                       trigger(QUEUE, q) (virtio-mmio:
 *                                       ISR bit + write to the one irq
 *                                       eventfd, a KVM irqfd)
 *
 * So the vCPU thread never carries I/O, and a device reset is finished by
 * the device thread: until it is, the Status register still reads the old
 * value (virtio 1.2, 4.2.2.2: the driver waits for Status to read 0).
 *
 * Feature policy of the transport core: VERSION_1 is required (a driver
 * that does not accept it never gets FEATURES_OK), ACCESS_PLATFORM is never
 * offered and refused if acked, INDIRECT_DESC, EVENT_IDX and RING_PACKED
 * are offered on top of the device's own bits.
 *
 * Everything the guest writes is hostile: a broken queue or request makes
 * the device call cvmm_virtio_device_set_needs_reset(), which sets
 * DEVICE_NEEDS_RESET (0x40) in Status, raises a configuration-change
 * interrupt and stops queue processing until the driver resets the device.
 *
 * All functions return 0 (or a non-negative count) or a negative errno;
 * none prints, exits or aborts.
 */
#ifndef CVMM_VIRTIO_DEVICES_H
#define CVMM_VIRTIO_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/event-manager.h>
#include <cvmm/virtio-devices/transport.h>
#include <cvmm/virtio-queue.h>
#include <cvmm/vm-memory.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Device ids (virtio 1.2, 5). */
#define CVMM_VIRTIO_ID_NET 1u
#define CVMM_VIRTIO_ID_BLOCK 2u
#define CVMM_VIRTIO_ID_CONSOLE 3u
#define CVMM_VIRTIO_ID_RNG 4u
#define CVMM_VIRTIO_ID_VSOCK 19u

/* virtio-mmio version 2 register offsets (virtio 1.2, 4.2.2). */
#define CVMM_VIRTIO_MMIO_MAGIC 0x000u
#define CVMM_VIRTIO_MMIO_VERSION 0x004u
#define CVMM_VIRTIO_MMIO_DEVICE_ID 0x008u
#define CVMM_VIRTIO_MMIO_VENDOR_ID 0x00cu
#define CVMM_VIRTIO_MMIO_DEVICE_FEATURES 0x010u
#define CVMM_VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014u
#define CVMM_VIRTIO_MMIO_DRIVER_FEATURES 0x020u
#define CVMM_VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024u
#define CVMM_VIRTIO_MMIO_QUEUE_SEL 0x030u
#define CVMM_VIRTIO_MMIO_QUEUE_NUM_MAX 0x034u
#define CVMM_VIRTIO_MMIO_QUEUE_NUM 0x038u
#define CVMM_VIRTIO_MMIO_QUEUE_READY 0x044u
#define CVMM_VIRTIO_MMIO_QUEUE_NOTIFY 0x050u
#define CVMM_VIRTIO_MMIO_INTERRUPT_STATUS 0x060u
#define CVMM_VIRTIO_MMIO_INTERRUPT_ACK 0x064u
#define CVMM_VIRTIO_MMIO_STATUS 0x070u
#define CVMM_VIRTIO_MMIO_QUEUE_DESC_LOW 0x080u
#define CVMM_VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084u
#define CVMM_VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090u
#define CVMM_VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094u
#define CVMM_VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0u
#define CVMM_VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4u
#define CVMM_VIRTIO_MMIO_SHM_SEL 0x0acu
#define CVMM_VIRTIO_MMIO_SHM_LEN_LOW 0x0b0u
#define CVMM_VIRTIO_MMIO_SHM_LEN_HIGH 0x0b4u
#define CVMM_VIRTIO_MMIO_SHM_BASE_LOW 0x0b8u
#define CVMM_VIRTIO_MMIO_SHM_BASE_HIGH 0x0bcu
#define CVMM_VIRTIO_MMIO_CONFIG_GENERATION 0x0fcu
#define CVMM_VIRTIO_MMIO_CONFIG 0x100u

#define CVMM_VIRTIO_MMIO_MAGIC_VALUE 0x74726976u /* "virt" */
#define CVMM_VIRTIO_MMIO_VENDOR_VALUE 0x4d4d5643u /* "CVMM" */
/** Bytes of MMIO space one device occupies (registers + config space). */
#define CVMM_VIRTIO_MMIO_SIZE 0x200u

/* ------------------------------------------------------------------------ */
/* The device interface                                                      */
/* ------------------------------------------------------------------------ */

struct cvmm_virtio_device;

/**
 * What a device model implements. The transport calls every op except
 * config_read/config_write on the device thread (the event-manager loop that
 * the transport was attached to) or, for save/restore, while that loop is
 * stopped; config_read/config_write come from vCPU threads, concurrently
 * with the others, so a device whose config space changes must protect it
 * itself.
 */
struct cvmm_virtio_device_ops {
	/**
	 * Copy @len bytes of config space at @offset to @data. The transport
	 * has checked that [offset, offset + len) lies inside config_size.
	 */
	void (*config_read)(struct cvmm_virtio_device *dev, uint32_t offset,
			    void *data, uint32_t len);
	/** A driver write to config space (bounds checked). NULL: ignored. */
	void (*config_write)(struct cvmm_virtio_device *dev, uint32_t offset,
			     const void *data, uint32_t len);
	/**
	 * The driver set DRIVER_OK. @queues[0..@num_queues) belong to the
	 * transport; those the driver enabled are active (the others report
	 * -ENODEV). @features is what was negotiated. Register fds on the loop
	 * here. @return 0; a negative errno sets DEVICE_NEEDS_RESET.
	 */
	int (*activate)(struct cvmm_virtio_device *dev, struct cvmm_guest_mem *mem,
			struct cvmm_virtq *queues, unsigned int num_queues,
			uint64_t features);
	/** Queue @q was notified (its ioeventfd fired); process it. */
	void (*queue_event)(struct cvmm_virtio_device *dev, unsigned int q);
	/**
	 * Back to the state before activate: forget in-flight requests (wait
	 * for host I/O already started, never complete it to the guest), remove
	 * fds from the loop. Called only after a successful activate or
	 * restore. The transport resets the queues afterwards.
	 */
	void (*reset)(struct cvmm_virtio_device *dev);
	/**
	 * Quiesce (finish and complete in-flight requests to the guest) and
	 * write the device's own state to @buf (@len bytes). @buf NULL: only
	 * return the size needed. @return bytes written or needed; -ENOSPC.
	 * NULL op: the device has no state of its own.
	 */
	int (*save)(struct cvmm_virtio_device *dev, void *buf, size_t len);
	/**
	 * Validate and load state written by save() (before activate() is
	 * called again with the restored queues). @return 0; -EINVAL.
	 */
	int (*restore)(struct cvmm_virtio_device *dev, const void *buf, size_t len);
};

/**
 * The part of every device model the transport sees. The device fills the
 * first block before the transport is created (cvmm_virtio_mmio_create());
 * the transport core fills the second.
 */
struct cvmm_virtio_device {
	const struct cvmm_virtio_device_ops *ops;
	uint32_t device_id;          /* CVMM_VIRTIO_ID_* */
	uint32_t config_size;        /* bytes of device config space */
	uint64_t features;           /* device-specific feature bits offered */
	uint16_t num_queues;         /* 1..CVMM_VIRTIO_MAX_QUEUES */
	uint16_t queue_max_size[CVMM_VIRTIO_MAX_QUEUES]; /* QueueNumMax each */
	/* set by the transport core when the device is attached (NULL
	 * otherwise) */
	struct cvmm_virtio_transport *transport;
	/* the features the driver acked, from FEATURES_OK on (0 before and
	 * after a reset); config_read may use it (atomic load) */
	uint64_t driver_features;
	/* Where the three calls below go: set by the transport core; a
	 * harness that drives a device without a transport (a fuzzer) may
	 * set its own. NULL: the call does nothing. */
	void (*signal)(struct cvmm_virtio_device *dev, enum cvmm_virtio_irq_type type,
		       unsigned int queue);
	void (*broken)(struct cvmm_virtio_device *dev);
};

/**
 * Used-buffer notification for queue @queue (the index in the queues
 * array given to activate): the transport's interrupt for that queue
 * (virtio-mmio: ISR "used" bit and its one line; MSI-X: the queue's
 * vector). Call after cvmm_virtq_needs_notification() said so.
 * A @queue the device does not have is ignored.
 * Thread safety: the device thread.
 */
void cvmm_virtio_device_signal_used(struct cvmm_virtio_device *dev, unsigned int queue);

/**
 * Configuration-change notification (ConfigGeneration moves, then the
 * config interrupt: virtio-mmio ISR bit 1).
 * Thread safety: any thread.
 */
void cvmm_virtio_device_config_changed(struct cvmm_virtio_device *dev);

/**
 * The guest broke a queue or sent a request the device cannot answer: set
 * DEVICE_NEEDS_RESET, raise a configuration-change interrupt, and stop
 * dispatching queue events until the driver resets the device.
 * Thread safety: the device thread.
 */
void cvmm_virtio_device_set_needs_reset(struct cvmm_virtio_device *dev);

/* ------------------------------------------------------------------------ */
/* virtio-mmio transport                                                     */
/* ------------------------------------------------------------------------ */

struct cvmm_virtio_mmio;

struct cvmm_virtio_mmio_opts {
	size_t sz;                     /* sizeof(struct cvmm_virtio_mmio_opts) */
	struct cvmm_virtio_device *dev;  /* filled-in device, outlives the transport */
	struct cvmm_guest_mem *mem;      /* guest RAM the queues live in */
	struct cvmm_event_manager *em;   /* the device thread's loop */
	/*
	 * Used-buffer interrupts bypass the transport: someone else writes
	 * the irq fd directly (a vhost-user backend given it as its vring
	 * call fd, so the guest's interrupt needs no VMM thread). The
	 * transport cannot set InterruptStatus for those, so it always
	 * reports the used-buffer bit (1) instead: a driver that looks at
	 * the register (Linux's vm_interrupt()) then walks its rings on every
	 * interrupt. The config-change bit (2) is set and acknowledged as
	 * without the option. Costs: an interrupt raised for a configuration
	 * change also walks the rings, and an interrupt whose buffers an
	 * earlier walk already consumed finds nothing (a driver's "not mine",
	 * harmless unless nearly every interrupt is one). Sound only with an
	 * edge-triggered line (an irqfd without a resamplefd, as
	 * cvmm-microvm registers it): a level-triggered line re-asserted
	 * while InterruptStatus is not 0 would never drop. Save records the
	 * bit as the guest reads it. Requires @sz to cover this field;
	 * false (the default) when it does not.
	 */
	bool used_irq_direct;
};

/**
 * Create a virtio-mmio transport for @o->dev: a transport core (one struct
 * cvmm_virtq per device queue, a notify eventfd per queue, an internal
 * control eventfd, subscribed to @o->em) and the one irq eventfd every
 * interrupt of the device goes through.
 * @return 0 and *@out; -EINVAL (NULL fields, sz not covering the fields
 * up to em, device without
 * ops/activate/queue_event/reset, num_queues 0 or above
 * CVMM_VIRTIO_MAX_QUEUES, a queue_max_size 0 or above CVMM_VIRTQ_MAX_SIZE,
 * config space beyond the MMIO window); -ENOMEM; -EMFILE; errors of
 * cvmm_event_manager_add().
 * Thread safety: as cvmm_event_manager_add() (setup before the loop runs,
 * or on the loop thread).
 */
int cvmm_virtio_mmio_create(const struct cvmm_virtio_mmio_opts *o,
			    struct cvmm_virtio_mmio **out);

/**
 * Destroy the core (reset the device if active, unsubscribe the fds from
 * the loop, close them), close the irq fd and free. The device itself is
 * not destroyed. NULL does nothing.
 * Thread safety: the loop thread, or while the loop does not run; no vCPU
 * may still call cvmm_virtio_mmio_access().
 */
void cvmm_virtio_mmio_destroy(struct cvmm_virtio_mmio *t);

/**
 * A guest access to the device's MMIO window. @offset is relative to the
 * window base; @len 1, 2, 4 or 8. Registers below 0x100 take only aligned
 * 4-byte accesses (others read 0 and are ignored); config space takes any
 * width inside config_size (outside: reads 0, writes ignored). Writes to
 * QueueNotify are turned into a write to that queue's notify eventfd (for
 * programs that did not register it as an ioeventfd). The device is never
 * called here except for config_read/config_write.
 * @return 0; -EINVAL (@data NULL, @len not 1/2/4/8). Guest mistakes are not
 * errors: they are ignored as hardware would.
 * Thread safety: any vCPU thread, concurrently with the device thread.
 */
int cvmm_virtio_mmio_access(struct cvmm_virtio_mmio *t, uint64_t offset,
			    void *data, unsigned int len, bool is_write);

/** The eventfd to register as KVM ioeventfd at base + 0x50 with datamatch
 * @q (4 bytes). @return the fd; -EINVAL (@q out of range). Thread-safe. */
int cvmm_virtio_mmio_notify_fd(const struct cvmm_virtio_mmio *t, unsigned int q);

/** The eventfd to register as KVM irqfd for the device's interrupt line
 * (edge: one write per interrupt). With used_irq_direct it may be handed
 * out (a vhost-user backend's vring call fd); the transport keeps it open
 * until destroyed. It is also what the transport's interrupt gives as
 * notifier fd for every queue and for config changes. Thread-safe. */
int cvmm_virtio_mmio_irq_fd(const struct cvmm_virtio_mmio *t);

/** The transport core under the register map (for code that works on any
 * transport: notifier fds, notify fds, state). Thread-safe. */
struct cvmm_virtio_transport *cvmm_virtio_mmio_transport(const struct cvmm_virtio_mmio *t);

/** Current Status register value (as the driver would read it). Thread-safe. */
uint32_t cvmm_virtio_mmio_status(struct cvmm_virtio_mmio *t);

/**
 * True when the device thread has caught up with every status change the
 * driver made (activation or reset done). For tests and save(). Thread-safe.
 */
bool cvmm_virtio_mmio_settled(struct cvmm_virtio_mmio *t);

/* The transport's state is the core's (cvmm/virtio-devices/transport.h);
 * virtio-mmio adds nothing. */
#define CVMM_VIRTIO_MMIO_STATE_VERSION CVMM_VIRTIO_TRANSPORT_STATE_VERSION

/**
 * Save the transport, its queues and (through ops->save, which quiesces the
 * device and completes its in-flight requests first) the device's state:
 * cvmm_virtio_transport_save() with the InterruptStatus bits as the guest
 * reads them (used_irq_direct's used bit included).
 * @dev_buf/@dev_len receive the device state (NULL/0 when the device has
 * none). @return bytes of device state written; -EBUSY (a status change
 * is not yet handled by the device thread: run the loop first); -ENOSPC
 * (@dev_len too small); errors of ops->save.
 * Thread safety: the loop thread, or while the loop is stopped; vCPUs paused.
 */
int cvmm_virtio_mmio_save(struct cvmm_virtio_mmio *t,
			  struct cvmm_virtio_transport_state *s, void *dev_buf,
			  size_t dev_len);

/**
 * Restore into a freshly created transport: cvmm_virtio_transport_restore()
 * (every check, the message naming the field in @err/@errlen, the same
 * errors). On failure the transport is back in its initial state.
 * Thread safety: as save.
 */
int cvmm_virtio_mmio_restore(struct cvmm_virtio_mmio *t,
			     const struct cvmm_virtio_transport_state *s,
			     const void *dev_buf, size_t dev_len, char *err,
			     size_t errlen);

/* ------------------------------------------------------------------------ */
/* Token-bucket rate limiter                                                 */
/* ------------------------------------------------------------------------ */

/** A clock returning nanoseconds (monotonic). */
typedef uint64_t (*cvmm_rate_clock_fn)(void *opaque);

/** One bucket: @rate tokens per second, holding at most @capacity. */
struct cvmm_token_bucket {
	uint64_t rate;          /* tokens per second; 0: unlimited */
	uint64_t capacity;      /* burst size in tokens */
	unsigned __int128 budget_nt; /* tokens * 1e9 (exact refill arithmetic) */
	uint64_t last_ns;
};

struct cvmm_rate_limiter_opts {
	size_t sz;              /* sizeof(struct cvmm_rate_limiter_opts) */
	uint64_t bytes_per_sec; /* 0: no byte limit */
	uint64_t bytes_burst;   /* bucket size; 0: one second's worth */
	uint64_t ops_per_sec;   /* 0: no operation limit */
	uint64_t ops_burst;     /* 0: one second's worth */
	cvmm_rate_clock_fn clock; /* NULL: cvmm_now_ns() */
	void *clock_opaque;
};

/** Two buckets consumed together. Plain data, embedded by the device. */
struct cvmm_rate_limiter {
	struct cvmm_token_bucket bytes;
	struct cvmm_token_bucket ops;
	cvmm_rate_clock_fn clock;
	void *clock_opaque;
};

/**
 * Set up @rl from @o (NULL: unlimited); the buckets start full.
 * @return 0; -EINVAL (@o->sz too small, a burst given without a rate).
 * Thread safety: @rl is not shared yet.
 */
int cvmm_rate_limiter_init(struct cvmm_rate_limiter *rl,
			   const struct cvmm_rate_limiter_opts *o);

/** True when neither bucket has a rate (nothing is ever throttled).
 * Thread safety: the owner's thread. */
bool cvmm_rate_limiter_unlimited(const struct cvmm_rate_limiter *rl);

/**
 * Take @ops operations and @bytes bytes from the buckets, both or neither.
 * A cost larger than a bucket's capacity passes only when that bucket is
 * full (and empties it), so a large request is slowed, never starved.
 * @return true when the tokens were taken.
 * Thread safety: the device thread (one owner).
 */
bool cvmm_rate_limiter_consume(struct cvmm_rate_limiter *rl, uint64_t ops,
			       uint64_t bytes);

/**
 * Nanoseconds until cvmm_rate_limiter_consume(@ops, @bytes) would succeed
 * (0: now; saturates at UINT64_MAX). Use it to arm a timer after a
 * refused consume. Refills the buckets as consume() does.
 * Thread safety: the device thread (one owner).
 */
uint64_t cvmm_rate_limiter_wait_ns(struct cvmm_rate_limiter *rl, uint64_t ops,
				   uint64_t bytes);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VIRTIO_DEVICES_H */
