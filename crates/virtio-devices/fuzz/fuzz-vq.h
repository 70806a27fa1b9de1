/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the device fuzz targets (fuzz-iommu-queue, fuzz-mem-queue,
 * fuzz-balloon-queue) share: a fuzz-owned guest memory, the device behind
 * the real virtio-mmio transport on a single-threaded event-manager loop,
 * the driver brought up through the registers, and chains built from the
 * fuzz input with virtio-queue's driver helper (which trusts nothing the
 * device writes: a used entry it did not hand out is an abort here).
 *
 * Guest RAM (one region at GPA 0, guard pages on both sides):
 *   0x01000 + q * 0x4000   rings of queue q (desc, +0x1000 avail, +0x2000 used)
 *   0x11000 + q * 0x1000   indirect tables of queue q
 *   0x20000 .. 0x30000     data area: every buffer starts here
 *   0x30000 .. 0x40000     canary area: no buffer starts here (a length may
 *                          run into it), the targets check what happens to it
 *
 * Input: a one-byte header (bit0 packed ring, bit1 INDIRECT_DESC, bit2
 * EVENT_IDX, bits 3-7 offered to the target), then ops until the input ends:
 *   (op byte: bits 0-2 the op, 5-7 meaning CFG; bits 3-4 the queue of a KICK)
 *   0 ADD   chain on a queue (fvq_add()): spec byte, 4 bytes per buffer,
 *           then a count byte and that many payload bytes copied over the
 *           chain's buffers in order
 *   1 KICK  queue notify + the loop runs until idle + reap used entries
 *   2 LIE   XOR a byte of a ring (descriptor, avail or used): from then on
 *           the driver's view is no longer trusted
 *   3 DEV   a target-specific host action (the target decodes it)
 *   4 RESET Status 0, then the driver comes up again
 *   5 CFG   a config space read or write (offset, width, value)
 */
#ifndef FUZZ_VQ_H
#define FUZZ_VQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-queue/driver.h>

#define FVQ_RAM 0x40000ull
#define FVQ_DATA 0x20000ull
#define FVQ_DATA_END 0x30000ull
#define FVQ_CANARY 0x30000ull
#define FVQ_QSIZE 64u
#define FVQ_MAXQ 4u
#define FVQ_MAXBUF 6u

/* One chain the driver put on a queue. */
struct fvq_chain {
	bool busy;
	unsigned int q;
	unsigned int nout, nin;
	struct cvmm_virtq_buf buf[FVQ_MAXBUF]; /* out first, then in */
	uint64_t writable;     /* bytes the device may write */
	bool wild;             /* an address outside the data area */
	uint64_t seq;          /* order of adding */
};

struct fvq {
	struct cvmm_guest_mem *mem;
	uint8_t *ram;
	struct cvmm_event_manager *em;
	struct cvmm_virtio_mmio *t;
	struct cvmm_virtio_device *dev;
	struct cvmm_virtq_driver *drv[FVQ_MAXQ];
	unsigned int nq;
	uint64_t features;     /* negotiated */
	bool up;               /* DRIVER_OK stands */
	bool lied;             /* ring bytes were changed behind the driver */
	uint64_t seq;
	struct fvq_chain ch[FVQ_MAXQ][FVQ_QSIZE]; /* by token (= slot) */
	/* The input cursor. */
	const uint8_t *in;
	size_t left;
};

/* Per-used-entry hook: @c is the chain (still filled), @len what the
 * device said it wrote. */
typedef void (*fvq_used_fn)(struct fvq *f, const struct fvq_chain *c, uint32_t len);

/* Guest memory + event manager, once per process (@extra: a second region
 * the target adds, or NULL). */
void fvq_setup(struct fvq *f, const struct cvmm_mem_region_opts *extra);
/* Fresh RAM (rings zeroed, data area zero, canary filled with @canary),
 * transport for @dev, driver brought up with @nq queues.
 * @want: device features to accept when offered. @return false when the
 * device refused to come up (a target bug: abort). */
bool fvq_start(struct fvq *f, struct cvmm_virtio_device *dev, unsigned int nq,
	       uint64_t want, uint8_t canary);
/* Destroy the transport (the device stays the caller's). */
void fvq_stop(struct fvq *f);

/* Input bytes (0 when none are left). */
uint8_t fvq_u8(struct fvq *f);
uint16_t fvq_u16(struct fvq *f);
uint32_t fvq_u32(struct fvq *f);
uint64_t fvq_u64(struct fvq *f);

/* What a target adds to the ops: @dev_op decodes op 3, @used sees every
 * used entry (not after a LIE), @before_kick (not after a LIE either: it
 * may set f->lied when the batch will clobber rings) / @after_kick (always:
 * it looks at f->lied itself) run around a
 * KICK of queue q (after_kick after the loop went idle and the used
 * entries were reaped). Any may be NULL. */
struct fvq_hooks {
	void (*dev_op)(struct fvq *f);
	fvq_used_fn used;
	void (*before_kick)(struct fvq *f, unsigned int q);
	void (*after_kick)(struct fvq *f, unsigned int q);
};

/* Run the ops of the rest of the input (at most 256). */
void fvq_run(struct fvq *f, const struct fvq_hooks *h);

/* The device asked for a reset (DEVICE_NEEDS_RESET in Status). */
bool fvq_needs_reset(struct fvq *f);
/* Buffers of queue @q not yet given back. */
unsigned int fvq_in_flight(struct fvq *f, unsigned int q);
/* The chains a KICK is about to hand over (busy, not yet used) on @q:
 * pointers into f->ch, in the order they were added; @return count. */
unsigned int fvq_pending(struct fvq *f, unsigned int q, const struct fvq_chain **out);
/* Readable bytes of @c concatenated into @out (up to @max). */
size_t fvq_readable(struct fvq *f, const struct fvq_chain *c, uint8_t *out, size_t max);
/* Host pointer of [@gpa, @gpa + @len) in RAM, or NULL. */
uint8_t *fvq_host(struct fvq *f, uint64_t gpa, uint64_t len);

#endif
