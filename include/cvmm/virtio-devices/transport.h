/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/virtio-devices/transport.h
 * @brief The virtio transport core (what virtio-mmio, and later virtio-pci,
 *        share) and the per-queue interrupt interface.
 *
 * A transport is two parts:
 *
 *  - the core (struct cvmm_virtio_transport, this header): feature
 *    negotiation with the transport feature policy, the device status state
 *    machine, per-queue setup (size, ring addresses, enable; validated),
 *    activation and reset handed to the device thread through a control
 *    eventfd, DEVICE_NEEDS_RESET, the config generation, the ISR bits, a
 *    notify eventfd per queue, and save/restore of all of it as one
 *    plain-data versioned struct (struct cvmm_virtio_transport_state);
 *  - a register map (virtio-mmio: src/mmio.c; virtio-pci's common/notify/
 *    ISR/device capabilities later): decodes the guest's accesses into the
 *    core's common registers (cvmm_virtio_transport_reg_read/_write), the
 *    notify, ISR and config-space calls, and supplies the interrupt
 *    implementation (struct cvmm_virtio_interrupt).
 *
 * Interrupts are per queue: a device signals "queue i has used buffers"
 * (cvmm_virtio_device_signal_used(dev, i)) or "configuration changed";
 * the core turns those into trigger(QUEUE, i) / trigger(CONFIG) on the
 * transport's interrupt. virtio-mmio implements it with one line: every
 * queue and the config change share one irq eventfd, told apart by the ISR
 * bits. An MSI-X implementation gives each vector its own eventfd (a KVM
 * irqfd per vector), and notifier_fd(QUEUE, i) is what a vhost-user
 * backend gets as queue i's call fd.
 *
 * Threading (unchanged from the virtio-mmio transport it was split from):
 * vCPU threads call only the register functions (short critical sections
 * under one mutex, never device work); a status write that needs device
 * work (DRIVER_OK, a reset of an active device) kicks the control eventfd
 * and the device thread (the event-manager loop given at create) calls
 * ops->activate / ops->reset. Until a reset is finished there, Status
 * still reads the old value (virtio 1.2, 4.2.2.2). Queue notify eventfds
 * are handled on the loop too (ops->queue_event).
 *
 * All functions return 0 (or a non-negative count) or a negative errno;
 * none prints, exits or aborts.
 */
#ifndef CVMM_VIRTIO_DEVICES_TRANSPORT_H
#define CVMM_VIRTIO_DEVICES_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/event-manager.h>
#include <cvmm/virtio-queue.h>
#include <cvmm/vm-memory.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Device status bits (virtio 1.2, 2.1). */
#define CVMM_VIRTIO_S_ACKNOWLEDGE 0x01u
#define CVMM_VIRTIO_S_DRIVER 0x02u
#define CVMM_VIRTIO_S_DRIVER_OK 0x04u
#define CVMM_VIRTIO_S_FEATURES_OK 0x08u
#define CVMM_VIRTIO_S_NEEDS_RESET 0x40u
#define CVMM_VIRTIO_S_FAILED 0x80u

/* Transport feature bits not in virtio-queue.h. */
#define CVMM_VIRTIO_F_ACCESS_PLATFORM (1ull << 33)

/* Interrupt status bits (virtio-mmio InterruptStatus, virtio-pci ISR). */
#define CVMM_VIRTIO_ISR_USED 0x1u
#define CVMM_VIRTIO_ISR_CONFIG 0x2u

/** Most queues one device may have (net multiqueue fits; plain data state). */
#define CVMM_VIRTIO_MAX_QUEUES 16u

struct cvmm_virtio_device;
struct cvmm_virtio_transport;

/* ------------------------------------------------------------------------ */
/* Interrupt interface                                                       */
/* ------------------------------------------------------------------------ */

/** What an interrupt is for. */
enum cvmm_virtio_irq_type {
	CVMM_VIRTIO_IRQ_CONFIG = 0, /* configuration change (queue ignored) */
	CVMM_VIRTIO_IRQ_QUEUE = 1,  /* used buffers on one queue */
};

struct cvmm_virtio_interrupt;

/**
 * A transport's interrupt implementation. Both ops are called from any
 * thread (the device thread mostly; config changes from anywhere) and must
 * be thread-safe.
 */
struct cvmm_virtio_interrupt_ops {
	/**
	 * Interrupt the guest for @type (@queue: the queue index for
	 * CVMM_VIRTIO_IRQ_QUEUE, 0 otherwise). Set whatever status the
	 * transport shows the guest (virtio-mmio: the ISR bit, through
	 * cvmm_virtio_transport_isr_raise()) before writing the eventfd.
	 * Cannot fail (a failing eventfd write is logged).
	 */
	void (*trigger)(struct cvmm_virtio_interrupt *irq, enum cvmm_virtio_irq_type type,
			unsigned int queue);
	/**
	 * The eventfd whose write raises exactly the interrupt for @type /
	 * @queue (for a KVM irqfd, or a vhost-user backend's call fd). Several
	 * (type, queue) may share one fd (virtio-mmio: all of them). Writing it
	 * directly bypasses trigger(), so no ISR bit is set. @return the fd
	 * (owned by the implementation); -EINVAL (@queue out of range);
	 * -ENOENT (no fd for it, e.g. an MSI-X vector the driver did not set).
	 */
	int (*notifier_fd)(struct cvmm_virtio_interrupt *irq, enum cvmm_virtio_irq_type type,
			   unsigned int queue);
};

/** Embedded by the transport's register map (use CVMM_CONTAINER_OF). */
struct cvmm_virtio_interrupt {
	const struct cvmm_virtio_interrupt_ops *ops;
};

/** @irq->ops->trigger(). Thread-safe. */
void cvmm_virtio_interrupt_trigger(struct cvmm_virtio_interrupt *irq,
				   enum cvmm_virtio_irq_type type, unsigned int queue);

/** @irq->ops->notifier_fd(). @return the fd; -EINVAL (@irq NULL); errors of
 * the op. Thread-safe. */
int cvmm_virtio_interrupt_notifier_fd(struct cvmm_virtio_interrupt *irq,
				      enum cvmm_virtio_irq_type type, unsigned int queue);

/* ------------------------------------------------------------------------ */
/* Transport core                                                            */
/* ------------------------------------------------------------------------ */

/**
 * The registers every virtio transport has (virtio-mmio 4.2.2 and the
 * virtio-pci common configuration 4.1.4.3 both have them under their own
 * offsets and widths). Selector semantics are those of the specification:
 * DEVICE_FEATURES reads 32 bits of the offered features at
 * DEVICE_FEATURES_SEL, QUEUE_* act on the queue at QUEUE_SEL.
 */
enum cvmm_virtio_reg {
	CVMM_VIRTIO_REG_DEVICE_FEATURES_SEL,
	CVMM_VIRTIO_REG_DEVICE_FEATURES,    /* read-only */
	CVMM_VIRTIO_REG_DRIVER_FEATURES_SEL,
	CVMM_VIRTIO_REG_DRIVER_FEATURES,    /* writable while DRIVER && !FEATURES_OK */
	CVMM_VIRTIO_REG_QUEUE_SEL,
	CVMM_VIRTIO_REG_QUEUE_NUM_MAX,      /* read-only; 0 for a missing queue */
	CVMM_VIRTIO_REG_QUEUE_NUM,          /* 1..max; writable while not ready */
	CVMM_VIRTIO_REG_QUEUE_READY,        /* 0/1; 1 only with a usable size */
	CVMM_VIRTIO_REG_QUEUE_DESC_LOW,
	CVMM_VIRTIO_REG_QUEUE_DESC_HIGH,
	CVMM_VIRTIO_REG_QUEUE_DRIVER_LOW,
	CVMM_VIRTIO_REG_QUEUE_DRIVER_HIGH,
	CVMM_VIRTIO_REG_QUEUE_DEVICE_LOW,
	CVMM_VIRTIO_REG_QUEUE_DEVICE_HIGH,
	CVMM_VIRTIO_REG_STATUS,
	CVMM_VIRTIO_REG_CONFIG_GENERATION,  /* read-only */
	CVMM_VIRTIO_REG_NUM_QUEUES,         /* read-only */
	CVMM_VIRTIO_REG_DEVICE_ID,          /* read-only */
};

struct cvmm_virtio_transport_opts {
	size_t sz;                        /* sizeof(struct cvmm_virtio_transport_opts) */
	struct cvmm_virtio_device *dev;   /* filled-in device, outlives the core */
	struct cvmm_guest_mem *mem;       /* guest RAM the queues live in */
	struct cvmm_event_manager *em;    /* the device thread's loop */
	struct cvmm_virtio_interrupt *irq; /* the transport's interrupts; outlives the core */
	/* Behind an IOMMU: every queue translates through it
	 * (cvmm_virtq_set_dma()), ACCESS_PLATFORM is offered and FEATURES_OK
	 * needs it acked (no bypass). NULL: addresses are guest physical and
	 * ACCESS_PLATFORM is never offered. Outlives the core. */
	const struct cvmm_dma_xlate *dma;
};

/**
 * Create the core for @o->dev: initial register state, one struct
 * cvmm_virtq per device queue, a notify eventfd per queue and a control
 * eventfd, both subscribed to @o->em; attach the device (dev->transport
 * and its signal hooks are set).
 * @return 0 and *@out; -EINVAL (NULL fields, sz too small, irq without
 * ops, device without ops/config_read/activate/queue_event/reset,
 * num_queues 0 or above CVMM_VIRTIO_MAX_QUEUES, a queue_max_size 0 or
 * above CVMM_VIRTQ_MAX_SIZE); -EBUSY (the device is attached to another
 * transport); -ENOMEM; -EMFILE; errors of cvmm_event_manager_add().
 * Thread safety: as cvmm_event_manager_add() (setup before the loop runs,
 * or on the loop thread).
 */
int cvmm_virtio_transport_create(const struct cvmm_virtio_transport_opts *o,
				 struct cvmm_virtio_transport **out);

/**
 * Reset the device if active, unsubscribe and close the fds, detach the
 * device, free. NULL does nothing.
 * Thread safety: the loop thread, or while the loop does not run; no vCPU
 * may still call the register functions.
 */
void cvmm_virtio_transport_destroy(struct cvmm_virtio_transport *t);

/** The attached device. Thread-safe. */
struct cvmm_virtio_device *cvmm_virtio_transport_device(const struct cvmm_virtio_transport *t);

/** The interrupt given at create (for notifier fds). Thread-safe. */
struct cvmm_virtio_interrupt *cvmm_virtio_transport_interrupt(const struct cvmm_virtio_transport *t);

/** Device features plus the transport's: what the driver is offered
 * (INDIRECT_DESC, EVENT_IDX, RING_PACKED, VERSION_1 added, ACCESS_PLATFORM
 * exactly when behind an IOMMU). Thread-safe (constant). */
uint64_t cvmm_virtio_transport_offered(const struct cvmm_virtio_transport *t);

/**
 * Read a common register as the driver sees it.
 * @return the value; 0 for @reg unknown (and for queue registers of a
 * queue the device does not have).
 * Thread safety: any vCPU thread, concurrently with the device thread.
 */
uint32_t cvmm_virtio_transport_reg_read(struct cvmm_virtio_transport *t,
					enum cvmm_virtio_reg reg);

/**
 * A driver write of a common register. Guest mistakes (writes out of
 * order, sizes not allowed, bits that may not be cleared) are ignored as
 * hardware would; a status write that needs device work kicks the device
 * thread. Read-only or unknown @reg: ignored.
 * Thread safety: any vCPU thread, concurrently with the device thread.
 */
void cvmm_virtio_transport_reg_write(struct cvmm_virtio_transport *t,
				     enum cvmm_virtio_reg reg, uint32_t val);

/**
 * A driver notification of queue @q (for transports or programs that did
 * not register the notify fd as a KVM ioeventfd): writes its notify
 * eventfd. @q out of range: ignored. Thread safety: any thread.
 */
void cvmm_virtio_transport_notify(struct cvmm_virtio_transport *t, uint32_t q);

/** The notify eventfd of queue @q (register as KVM ioeventfd, or hand to
 * a vhost-user backend as its kick fd). @return the fd; -EINVAL (@q out of
 * range). Thread-safe. */
int cvmm_virtio_transport_notify_fd(const struct cvmm_virtio_transport *t, unsigned int q);

/**
 * A driver access to device config space at @offset (@len 1..8): bounds
 * checked against the device's config_size (outside: reads 0, writes
 * ignored), then ops->config_read / config_write.
 * @return 0; -EINVAL (@data NULL, @len 0 or above 8).
 * Thread safety: any vCPU thread.
 */
int cvmm_virtio_transport_config_access(struct cvmm_virtio_transport *t, uint64_t offset,
					void *data, unsigned int len, bool is_write);

/** The ISR bits (CVMM_VIRTIO_ISR_*) as set by the interrupts. Thread-safe. */
uint32_t cvmm_virtio_transport_isr(struct cvmm_virtio_transport *t);
/** Set ISR bits (for the interrupt implementation's trigger). Thread-safe. */
void cvmm_virtio_transport_isr_raise(struct cvmm_virtio_transport *t, uint32_t bits);
/** Clear ISR bits (virtio-mmio InterruptACK). Thread-safe. */
void cvmm_virtio_transport_isr_ack(struct cvmm_virtio_transport *t, uint32_t bits);
/** Read and clear all ISR bits at once (the virtio-pci ISR read). Thread-safe. */
uint32_t cvmm_virtio_transport_isr_take(struct cvmm_virtio_transport *t);

/** Current Status (as the driver reads it: the old value while a reset is
 * not finished by the device thread). Thread-safe. */
uint32_t cvmm_virtio_transport_status(struct cvmm_virtio_transport *t);

/**
 * The guest memory map changed (a region added or removed): re-translate
 * every active queue's rings (cvmm_virtq_remap()). A queue whose ring is no
 * longer in guest RAM is broken, and the device sets DEVICE_NEEDS_RESET on
 * its next event. @return the number of queues broken; -EINVAL.
 * Thread safety: while the device thread does not run (VM paused).
 */
int cvmm_virtio_transport_remap(struct cvmm_virtio_transport *t);

/** True when the device thread has caught up with every status change
 * (activation or reset done). For tests and save(). Thread-safe. */
bool cvmm_virtio_transport_settled(struct cvmm_virtio_transport *t);

/* ------------------------------------------------------------------------ */
/* State                                                                     */
/* ------------------------------------------------------------------------ */

/* Layout-compatible with the virtio-mmio transport's state version 1. */
#define CVMM_VIRTIO_TRANSPORT_STATE_VERSION 1u

/** One queue's setup as the driver programmed it. */
struct cvmm_virtio_queue_regs {
	uint64_t desc;
	uint64_t driver;
	uint64_t device;
	uint16_t num;
	uint8_t ready;
	uint8_t rsvd[5];
};

/** Everything of the core and its queues; plain little-endian data, the
 * same for every transport (transport-specific state, such as MSI-X
 * vectors, is saved by that transport beside it). */
struct cvmm_virtio_transport_state {
	uint32_t version;             /* CVMM_VIRTIO_TRANSPORT_STATE_VERSION */
	uint32_t device_id;
	uint32_t status;
	uint32_t isr;
	uint32_t config_generation;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint64_t driver_features;
	uint32_t num_queues;
	uint32_t device_active;       /* the device was activated */
	struct cvmm_virtio_queue_regs regs[CVMM_VIRTIO_MAX_QUEUES];
	struct cvmm_virtq_state queues[CVMM_VIRTIO_MAX_QUEUES];
};

/**
 * Save the core, its queues and (through ops->save, which quiesces the
 * device and completes its in-flight requests first) the device's state
 * into @dev_buf/@dev_len (NULL/0 when the device has none).
 * @return bytes of device state written; -EINVAL (NULL); -EBUSY (a status
 * change is not yet handled by the device thread: run the loop first);
 * -ENOSPC (@dev_len too small); errors of ops->save.
 * Thread safety: the loop thread, or while the loop is stopped; vCPUs paused.
 */
int cvmm_virtio_transport_save(struct cvmm_virtio_transport *t,
			       struct cvmm_virtio_transport_state *s, void *dev_buf,
			       size_t dev_len);

/**
 * Restore into a fresh core (Status 0, device never activated): validate
 * @s as hostile (version, device id, queue count, status bits and their
 * order, features acked a subset of offered and the FEATURES_OK rules,
 * queue sizes and ready flags, queue state against the registers, ISR
 * bits), load the queues, ops->restore() the device state and, when the
 * device was active, ops->activate() it again.
 * On a refusal a one-line message naming the field and why ("regs[1]: set
 * for queue 1, the device has 1 queue") goes to @err (@errlen bytes,
 * NUL-terminated; NULL/0: none) and to the log.
 * @return 0; -EINVAL (a check, device state given to a device without
 * state); -EBUSY (the core is not fresh); errors of
 * cvmm_virtq_state_restore(), ops->restore and ops->activate. On failure
 * the core is back in its initial state.
 * Thread safety: as save.
 */
int cvmm_virtio_transport_restore(struct cvmm_virtio_transport *t,
				  const struct cvmm_virtio_transport_state *s,
				  const void *dev_buf, size_t dev_len, char *err,
				  size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VIRTIO_DEVICES_TRANSPORT_H */
