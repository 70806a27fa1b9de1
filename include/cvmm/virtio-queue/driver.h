/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/virtio-queue/driver.h
 * @brief The guest's half of a virtqueue, for tests and benchmarks.
 *
 * A minimal virtio driver that lays out split or packed rings in a
 * struct cvmm_guest_mem, adds buffers, decides whether to kick, and reaps
 * used entries. It speaks the ring format only, so it can drive any device
 * model (cvmm's own struct cvmm_virtq, or a vhost-user backend sharing the
 * memory). It trusts nothing the device writes: a used id that is not in
 * flight, or a used index that runs ahead, is reported as -EIO.
 *
 * Thread safety: one thread per driver object; the device may run
 * concurrently on another thread.
 */
#ifndef CVMM_VIRTIO_QUEUE_DRIVER_H
#define CVMM_VIRTIO_QUEUE_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/vm-memory.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cvmm_virtq_driver;

struct cvmm_virtq_driver_opts {
	size_t sz;                  /* sizeof(struct cvmm_virtq_driver_opts) */
	struct cvmm_guest_mem *mem;
	uint16_t size;              /* queue size (power of two for split) */
	uint64_t features;          /* CVMM_VIRTIO_F_RING_PACKED, _EVENT_IDX, _INDIRECT_DESC */
	uint64_t desc_gpa;          /* ring parts; sizes from cvmm_virtq_ring_bytes() */
	uint64_t avail_gpa;
	uint64_t used_gpa;
	/* Indirect tables: size * indirect_max * 16 bytes at indirect_gpa
	 * (one table slot per buffer id). 0/0 when unused. */
	uint64_t indirect_gpa;
	uint16_t indirect_max;
};

/** One guest buffer. */
struct cvmm_virtq_buf {
	uint64_t gpa;
	uint32_t len;
};

/**
 * Create a driver and zero its rings in guest memory (the state of a queue
 * the guest has just set up). @return 0; -EINVAL (bad opts, size, alignment);
 * -EFAULT (a ring part outside guest RAM); -ENOMEM.
 * Thread safety: the driver's thread (one per driver object).
 */
int cvmm_virtq_driver_create(const struct cvmm_virtq_driver_opts *o,
			     struct cvmm_virtq_driver **out);

/**
 * Free the driver (guest memory is left as is). NULL is a no-op.
 * Thread safety: the driver's thread (one per driver object).
 */
void cvmm_virtq_driver_destroy(struct cvmm_virtq_driver *d);

/**
 * Make a buffer available: @n_out device-readable parts then @n_in
 * device-writable parts, as a chain of ring descriptors or, with @indirect,
 * one indirect table. @token comes back from get_used().
 * @return 0; -ENOSPC (not enough free descriptors or ids); -EINVAL (no parts,
 * indirect without a table area or more parts than indirect_max).
 * Thread safety: the driver's thread (one per driver object).
 */
int cvmm_virtq_driver_add(struct cvmm_virtq_driver *d,
			  const struct cvmm_virtq_buf *out, unsigned int n_out,
			  const struct cvmm_virtq_buf *in, unsigned int n_in,
			  bool indirect, uint64_t token);

/**
 * Whether the device wants an available-buffer notification for what was
 * added since the last call (NO_NOTIFY / avail_event / device event area),
 * after a full barrier. Resets the "added since last kick" count.
 * Thread safety: the driver's thread (one per driver object).
 */
bool cvmm_virtq_driver_kick_needed(struct cvmm_virtq_driver *d);

/**
 * Reap one used buffer. @return 1 with *@token and *@len; 0 when none;
 * -EIO when the device wrote something impossible.
 * Thread safety: the driver's thread (one per driver object).
 */
int cvmm_virtq_driver_get_used(struct cvmm_virtq_driver *d, uint64_t *token,
			       uint32_t *len);

/**
 * Ask for used-buffer notifications (clear NO_INTERRUPT or publish used_event
 * / driver event area), then re-check. @return true when used buffers are
 * already pending.
 * Thread safety: the driver's thread (one per driver object).
 */
bool cvmm_virtq_driver_enable_cb(struct cvmm_virtq_driver *d);
/**
 * Ask the device not to interrupt.
 * Thread safety: the driver's thread (one per driver object).
 */
void cvmm_virtq_driver_disable_cb(struct cvmm_virtq_driver *d);

/**
 * Free ring descriptors (split) or ring slots (packed).
 * Thread safety: the driver's thread (one per driver object).
 */
unsigned int cvmm_virtq_driver_num_free(const struct cvmm_virtq_driver *d);

/**
 * Buffers added and not yet reaped.
 * Thread safety: the driver's thread (one per driver object).
 */
unsigned int cvmm_virtq_driver_in_flight(const struct cvmm_virtq_driver *d);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VIRTIO_QUEUE_DRIVER_H */
