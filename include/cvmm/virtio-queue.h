/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/virtio-queue.h
 * @brief Device side of virtio split and packed virtqueues (virtio 1.2, 2.7-2.8).
 *
 * A struct cvmm_virtq is a hot, fixed-layout object that a device model
 * embeds and sets up with cvmm_virtq_init(). The transport stores what the
 * driver programs (size, ring addresses, negotiated features), then calls
 * cvmm_virtq_activate(), which validates the layout and translates the rings
 * to host pointers once. From then on:
 *
 *     while ((r = cvmm_virtq_pop(q, &chain)) > 0) {
 *             ... cvmm_virtq_chain_next() or a reader/writer ...
 *             cvmm_virtq_push(q, &chain, bytes_written);
 *     }
 *     if (r < 0) -> set DEVICE_NEEDS_RESET
 *     if (cvmm_virtq_needs_notification(q)) -> interrupt the guest
 *
 * Everything read from the rings is guest-controlled and hostile. Any
 * malformed value (a descriptor loop, a chain longer than the queue, a nested
 * or malformed indirect table, a buffer outside guest RAM, an available index
 * that jumps by more than the queue size, ...) marks the queue broken: the
 * call returns a negative errno, and every later pop/next/push returns the
 * same error until cvmm_virtq_reset(). The device then sets
 * VIRTIO_CONFIG_S_NEEDS_RESET; the VMM keeps running and no byte outside guest
 * RAM is ever read or written.
 *
 * Errors used throughout: -EINVAL malformed ring content or configuration;
 * -EFAULT an address outside guest RAM (or not contiguous where it must be);
 * -ELOOP a descriptor loop or a chain longer than the queue allows;
 * -E2BIG a chain that exceeds a device limit (see CVMM_VIRTQ_PACKED_MAX_CHAIN);
 * -ENODEV the queue is not activated.
 *
 * Thread safety: one queue is driven by one thread at a time (the device's
 * worker); the guest runs concurrently and the memory ordering against it is
 * handled here. Different queues are independent.
 */
#ifndef CVMM_VIRTIO_QUEUE_H
#define CVMM_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cvmm/vm-memory.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Feature bits (virtio 1.2, 6) that change the ring format. */
#define CVMM_VIRTIO_F_INDIRECT_DESC (1ull << 28)
#define CVMM_VIRTIO_F_EVENT_IDX (1ull << 29)
#define CVMM_VIRTIO_F_VERSION_1 (1ull << 32)
#define CVMM_VIRTIO_F_RING_PACKED (1ull << 34)

/* Descriptor flags (shared by split and packed). */
#define CVMM_VIRTQ_DESC_F_NEXT 0x1u
#define CVMM_VIRTQ_DESC_F_WRITE 0x2u
#define CVMM_VIRTQ_DESC_F_INDIRECT 0x4u
#define CVMM_VIRTQ_DESC_F_AVAIL (1u << 7)  /* packed only */
#define CVMM_VIRTQ_DESC_F_USED (1u << 15)  /* packed only */

/* Split ring flags. */
#define CVMM_VIRTQ_AVAIL_F_NO_INTERRUPT 0x1u
#define CVMM_VIRTQ_USED_F_NO_NOTIFY 0x1u

/* Packed ring event suppression flags. */
#define CVMM_VIRTQ_EVENT_F_ENABLE 0x0u
#define CVMM_VIRTQ_EVENT_F_DISABLE 0x1u
#define CVMM_VIRTQ_EVENT_F_DESC 0x2u

/** Largest queue size either format allows. */
#define CVMM_VIRTQ_MAX_SIZE 32768u
/** Most descriptors an indirect table may hold. */
#define CVMM_VIRTQ_MAX_INDIRECT 32768u
/**
 * Most in-ring descriptors one packed-ring chain may use (a device limit the
 * spec permits, 2.8.5). Packed chains are copied at pop time because a used
 * descriptor written for another chain may overwrite their ring slots; longer
 * lists must use an indirect table. Devices should advertise limits (e.g.
 * virtio-blk seg_max) that keep drivers within it. Not every device can:
 * Linux's virtio_balloon refuses INDIRECT_DESC and reports up to 32 free
 * ranges (PAGE_REPORTING_CAPACITY) in one in-ring chain, so 32 it is.
 */
#define CVMM_VIRTQ_PACKED_MAX_CHAIN 32u

/** One descriptor of a chain, as chain iteration yields it. */
struct cvmm_virtq_desc {
	uint64_t addr;  /* guest physical address, [addr, addr + len) is guest RAM */
	uint32_t len;
	uint16_t flags; /* CVMM_VIRTQ_DESC_F_WRITE or 0 */
};

/* Raw 16-byte descriptor as the guest wrote it (split or packed layout). */
struct cvmm_virtq_raw_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t a;     /* split: flags, packed: id */
	uint16_t b;     /* split: next, packed: flags */
};

/* Iteration position inside a chain (internal; copied freely). */
struct cvmm_virtq_cursor {
	const uint8_t *table; /* current descriptor table (NULL: the chain's copy) */
	uint16_t table_len;   /* entries in table */
	uint16_t idx;         /* next entry to read */
	uint16_t visited;     /* entries read from table (loop guard) */
	uint8_t mode;         /* internal CVMM_VQ_MODE_* */
	uint8_t state;        /* internal CVMM_VQ_CUR_* bits */
};

/**
 * A popped descriptor chain. Plain data: a device may copy it and complete
 * it later (out of order is fine). It refers to its queue by pointer.
 */
struct cvmm_virtq_chain {
	struct cvmm_virtq *q;
	uint16_t id;          /* split: head index; packed: buffer id */
	uint16_t ring_slots;  /* ring descriptors the chain occupies (packed) */
	uint16_t prev_avail;  /* queue position before this pop (unpop) */
	uint8_t prev_wrap;
	uint8_t refused;      /* behind an IOMMU: a buffer did not translate,
			       * the chain walks as empty (cvmm_virtq_set_dma) */
	struct cvmm_virtq_cursor cur;
	/* packed: the in-ring descriptors, copied at pop time */
	struct cvmm_virtq_raw_desc ring[CVMM_VIRTQ_PACKED_MAX_CHAIN];
};

/**
 * The device side of one virtqueue. Fields are public so that the object can
 * be embedded, but only the functions below may change them.
 */
struct cvmm_virtq {
	/* hot: ring pointers and indexes */
	uint8_t *desc;          /* descriptor table / packed descriptor ring */
	uint8_t *avail;         /* split: available ring; packed: driver event area */
	uint8_t *used;          /* split: used ring; packed: device event area */
	uint16_t size;
	uint16_t next_avail;    /* split: free-running index; packed: ring slot */
	uint16_t shadow_avail;  /* split: last avail->idx read */
	uint16_t next_used;     /* split: free-running index; packed: ring slot */
	uint16_t signalled_used;
	uint8_t avail_wrap;     /* packed wrap counters */
	uint8_t used_wrap;
	uint8_t signalled_valid;
	uint8_t packed;
	uint8_t event_idx;
	uint8_t indirect;
	uint8_t active;
	uint8_t rsvd;
	uint16_t avail_want;    /* packed: AVAIL/USED bits of an available descriptor (internal) */
	int status;             /* 0 split / 1 packed ready; -ENODEV inactive, else the error */
	int error;              /* 0 or the negative errno that broke the queue */
	uint32_t used_since_signal; /* ring entries used since the last notification check */
	/* region holding the descriptors: buffers inside it are checked inline */
	uint64_t fast_gpa;
	uint64_t fast_end;
	uint64_t fast_size;
	uint8_t *fast_host;
	const struct cvmm_mem_region *fast_region;
	const struct cvmm_mem_region *used_region; /* holds the used ring */
	struct cvmm_guest_mem *mem;
	/* configuration as programmed by the driver */
	uint16_t max_size;
	uint16_t cfg_size;
	uint16_t used_flags;    /* packed: AVAIL/USED bits of a used descriptor (internal;
				 * here because the hot block above has no room) */
	uint64_t features;
	uint64_t desc_gpa;      /* packed: descriptor ring */
	uint64_t avail_gpa;     /* packed: driver event suppression area */
	uint64_t used_gpa;      /* packed: device event suppression area */
	/* the guest memory map generation the ring pointers were taken at
	 * (cvmm_virtq_remap() re-translates when the map moved on) */
	const uint64_t *mem_gen;
	uint64_t gen_seen;
	/* behind an IOMMU (cvmm_virtq_set_dma()): ring and buffer addresses
	 * are IOVAs, translated by @dma; NULL: guest physical addresses */
	const struct cvmm_dma_xlate *dma;
	uint64_t dma_gen_seen;  /* dma->generation the ring pointers were taken at */
	uint64_t desc_phys;     /* guest physical address of the descriptor ring */
	uint64_t used_phys;     /* ... and of the device (used) area */
	uint64_t dma_faults;    /* chains refused for an untranslatable address */
	struct cvmm_dma_span dma_tlb; /* the last window translated (one-entry IOTLB) */
	uint64_t dma_tlb_gen;   /* dma->generation when it was */
};

/* ------------------------------------------------------------------------ */
/* Setup                                                                     */
/* ------------------------------------------------------------------------ */

/**
 * Initialise @q for guest memory @mem with the largest size the device
 * offers, @max_size (1..CVMM_VIRTQ_MAX_SIZE; the transport's QueueNumMax).
 * The configured size starts at @max_size. @return 0; -EINVAL.
 * Thread safety: @q is not shared yet.
 */
int cvmm_virtq_init(struct cvmm_virtq *q, struct cvmm_guest_mem *mem,
		    uint16_t max_size);

/**
 * Release @q (it holds no resources today; call it for symmetry).
 * Thread safety: the queue's thread, after the device stopped using it.
 */
void cvmm_virtq_fini(struct cvmm_virtq *q);

/**
 * Back to the state after init (a device reset): inactive, not broken,
 * indexes zero, configuration cleared. Thread safety: the queue's thread.
 */
void cvmm_virtq_reset(struct cvmm_virtq *q);

/**
 * Set the queue size the driver chose. Checked by activate().
 * Thread safety: the transport's thread, before activate().
 */
void cvmm_virtq_set_size(struct cvmm_virtq *q, uint16_t size);
/**
 * Set the descriptor, driver (avail) and device (used) area addresses.
 * Thread safety: the transport's thread, before activate().
 */
void cvmm_virtq_set_addrs(struct cvmm_virtq *q, uint64_t desc_gpa,
			  uint64_t avail_gpa, uint64_t used_gpa);
/**
 * Set the negotiated features (only the ring-format bits matter here).
 * Thread safety: the transport's thread, before activate().
 */
void cvmm_virtq_set_features(struct cvmm_virtq *q, uint64_t features);

/**
 * Place the queue behind an IOMMU: from the next activate() on, every ring
 * address and every buffer and indirect-table address the driver gives is
 * an IOVA that @dma translates (and checks: reads need CVMM_DMA_READ,
 * writes CVMM_DMA_WRITE). A chain with a buffer that does not translate is
 * refused, not the queue: pop() returns it to the driver at once as used
 * with length 0 (counted in dma_faults) and takes the next one. A ring
 * that does not translate at activate(), or no longer does when the
 * mapping generation moved (checked at every pop()), breaks the queue
 * (-EFAULT). @dma NULL: addresses are guest physical again. Survives
 * cvmm_virtq_reset(). Limitation: each descriptor (and each ring part)
 * must be contiguous in guest physical memory, as virtio drivers map them.
 * Thread safety: the transport's thread, before activate().
 */
void cvmm_virtq_set_dma(struct cvmm_virtq *q, const struct cvmm_dma_xlate *dma);

/**
 * Validate the configuration and go live (the driver wrote QueueReady=1).
 * Checks: size non-zero, at most max_size, a power of two for split rings;
 * ring alignment (split: desc 16, avail 2, used 4; packed: ring 16, event
 * areas 4); each ring part lies in one guest RAM region. Caches the host
 * pointers so no ring access translates again.
 * @return 0; -EINVAL (size, alignment); -EFAULT (a ring outside guest RAM).
 * A failure marks the queue broken.
 * Ordering: after set_size/set_addrs/set_features; before pop.
 * Thread safety: the queue's thread, before the device starts using it.
 */
int cvmm_virtq_activate(struct cvmm_virtq *q);

/**
 * Re-translate an active queue's rings after a guest memory map change
 * (cvmm_guest_mem_add_region()/remove_region()): host pointers and the
 * cached region, indexes kept. A no-op when the map's generation did not
 * move. The pop/push hot paths never check the map themselves, so a VMM
 * that changes the map must call this for every active queue before the
 * queue is used again (the VM core does it through its devices'
 * memory_changed hook, with the VM paused).
 * @return the queue's status (0 split, 1 packed); -ENODEV (not active);
 * -EFAULT (a ring is no longer in guest RAM: the queue is broken).
 * Thread safety: the queue's thread, or while it does not run.
 */
int cvmm_virtq_remap(struct cvmm_virtq *q);

/**
 * True once activate() succeeded (and no reset since).
 * Thread safety: a plain read; exact on the queue's thread.
 */
bool cvmm_virtq_active(const struct cvmm_virtq *q);

/**
 * True when the queue has been marked broken by hostile ring content.
 * Thread safety: a plain read; exact on the queue's thread.
 */
bool cvmm_virtq_broken(const struct cvmm_virtq *q);

/**
 * The negative errno that broke the queue, or 0.
 * Thread safety: a plain read; exact on the queue's thread.
 */
int cvmm_virtq_error(const struct cvmm_virtq *q);

/* ------------------------------------------------------------------------ */
/* Available buffers                                                         */
/* ------------------------------------------------------------------------ */

/**
 * Take the next available chain.
 * @return 1 and fills @c; 0 when no buffer is available; -ENODEV when not
 * active; the queue error when broken (-EINVAL avail index jumped or head out
 * of range, -ELOOP/-E2BIG packed chain longer than allowed).
 * Ordering: the available index (split) or the head descriptor's flags
 * (packed) are read with acquire semantics before any ring entry.
 * Thread safety: the queue's thread.
 */
int cvmm_virtq_pop(struct cvmm_virtq *q, struct cvmm_virtq_chain *c);

/**
 * Give back the chain most recently popped (the device cannot handle it
 * now, e.g. no room for a received packet): the next pop returns it again.
 * @return 0; -EINVAL when @c is not the last chain popped from @q.
 * Thread safety: the queue's thread.
 */
int cvmm_virtq_unpop(struct cvmm_virtq *q, const struct cvmm_virtq_chain *c);

/**
 * Next descriptor of the chain, following NEXT links and indirect tables.
 * Every descriptor returned describes guest RAM ([addr, addr + len) is
 * checked; len may be 0), and writable descriptors never precede readable
 * ones. Descriptors are read from guest memory as they are reached (no copy),
 * except packed in-ring descriptors, which pop() copied (and, when the copy
 * passed every check, already validated: chain_next() then hands them out
 * inline).
 * (cvmm_virtq_chain_next_slow() is the out-of-line body: call chain_next.)
 * @return 1 and fills @d; 0 at the end of the chain; a negative errno that
 * also marks the queue broken: -ELOOP (loop / longer than the queue or table),
 * -EINVAL (next index out of range, readable after writable, nested or
 * malformed indirect table, INDIRECT without the feature), -EFAULT (buffer
 * or indirect table outside guest RAM, or address + length overflows).
 * Thread safety: the queue's thread.
 */
int cvmm_virtq_chain_next_slow(struct cvmm_virtq_chain *c, struct cvmm_virtq_desc *d);

/* Cursor state bits (internal): another descriptor follows; the chain's
 * copied ring descriptors were validated by pop (packed). */
#define CVMM_VIRTQ_CUR_MORE 0x1u
#define CVMM_VIRTQ_CUR_FLAT 0x8u

/*
 * Inline so that the end of a chain, and a descriptor that pop already
 * validated (packed), cost no call. The first test sends the common
 * split case (MORE alone) straight to the out-of-line walk.
 */
static inline int cvmm_virtq_chain_next(struct cvmm_virtq_chain *c,
					struct cvmm_virtq_desc *d)
{
	unsigned int state = c->cur.state;

	if (!(state & CVMM_VIRTQ_CUR_MORE))
		return c->q->error;
	if ((state & CVMM_VIRTQ_CUR_FLAT) && c->q->status >= 0) {
		const struct cvmm_virtq_raw_desc *rd = &c->ring[c->cur.idx];

		d->addr = rd->addr;
		d->len = rd->len;
		d->flags = rd->b & CVMM_VIRTQ_DESC_F_WRITE;
		if (++c->cur.idx == c->cur.table_len)
			c->cur.state = (uint8_t)(state & ~CVMM_VIRTQ_CUR_MORE);
		return 1;
	}
	return cvmm_virtq_chain_next_slow(c, d);
}

/**
 * Restart iteration of @c at its first descriptor.
 * Thread safety: the queue's thread (the chain is plain data).
 */
void cvmm_virtq_chain_rewind(struct cvmm_virtq_chain *c);

/**
 * Walk the whole chain (validating it) and sum its device-readable and
 * device-writable bytes. Does not move @c's iteration position.
 * @return 0; the errors of chain_next().
 * Thread safety: the queue's thread.
 */
int cvmm_virtq_chain_lengths(struct cvmm_virtq_chain *c, uint64_t *readable,
			     uint64_t *writable);

/* ------------------------------------------------------------------------ */
/* Used buffers                                                              */
/* ------------------------------------------------------------------------ */

/**
 * Return chain @c to the driver with @len bytes written into it. The used
 * element (split) or used descriptor (packed) is written, then published
 * with a release store of the used index (split) or descriptor flags
 * (packed); the pages touched are marked dirty. Chains may be pushed in any
 * order. @return 0; -ENODEV; the queue error when broken; -EINVAL when @c
 * belongs to another queue, or is a packed chain popped before a reset that
 * no longer fits the ring (the queue is left unchanged).
 * Thread safety: the queue's thread.
 */
int cvmm_virtq_push(struct cvmm_virtq *q, const struct cvmm_virtq_chain *c,
		    uint32_t len);

/**
 * The same by id: @id is the chain's id, @ring_slots its ring_slots (1 for
 * split). For devices that keep only the id of an in-flight request.
 * @return 0; -EINVAL (@ring_slots 0 or above the size; a split id >= size);
 * -ENODEV; the queue error.
 * Thread safety: the queue's thread.
 */
int cvmm_virtq_push_id(struct cvmm_virtq *q, uint16_t id, uint16_t ring_slots,
		       uint32_t len);

/**
 * Whether the driver wants a used-buffer notification (an interrupt) for
 * what was pushed since the last call. Honours VIRTQ_AVAIL_F_NO_INTERRUPT,
 * or used_event with EVENT_IDX (split); the driver event suppression
 * structure (packed). Call once after a batch of pushes.
 * Ordering: a full barrier separates the used-index publication from the
 * read of the driver's suppression field.
 * @return true when the device should notify. False when nothing was pushed.
 * Thread safety: the queue's thread.
 */
bool cvmm_virtq_needs_notification(struct cvmm_virtq *q);

/**
 * Ask the driver for available-buffer notifications again (split: clear
 * NO_NOTIFY or publish avail_event = next position; packed: device event
 * flags ENABLE or DESC), then, after a full barrier, look again for buffers
 * that arrived while notifications were off. The caller must drain again
 * when this returns 1, or a kick can be lost:
 *
 *     for (;;) { disable; drain; if (enable() == 0) break; }
 *
 * @return 1 when buffers are available; 0 when empty (notifications armed);
 * -ENODEV; the queue error (including -EINVAL for an index jump).
 * Thread safety: the queue's thread.
 */
int cvmm_virtq_enable_notification(struct cvmm_virtq *q);

/**
 * Tell the driver that kicks are not needed (the device is polling). With
 * EVENT_IDX on a split ring this is a no-op: the driver only kicks when it
 * crosses avail_event, which stays behind until enable.
 * Thread safety: the queue's thread.
 */
void cvmm_virtq_disable_notification(struct cvmm_virtq *q);

/* ------------------------------------------------------------------------ */
/* Reader and writer over a chain                                            */
/* ------------------------------------------------------------------------ */

/**
 * A byte stream over a chain's device-readable part (reader) or
 * device-writable part (writer). Plain data, embedded by the caller.
 */
struct cvmm_virtq_rw {
	struct cvmm_virtq_chain *c;
	struct cvmm_virtq_cursor cur;
	uint64_t gpa;       /* position in the current descriptor */
	uint32_t left;      /* bytes left in the current descriptor */
	uint8_t writer;
	uint8_t ended;
	uint16_t rsvd;
	uint64_t total;     /* bytes in the part at init time */
	uint64_t done;      /* bytes consumed so far */
};

/**
 * Start reading @c's readable part (or writing its writable part). Walks and
 * validates the whole chain once. Independent of @c's own iteration.
 * @return 0; the errors of chain_next() (queue broken).
 * Thread safety: the queue's thread; @rw must not outlive @c.
 */
int cvmm_virtq_reader_init(struct cvmm_virtq_rw *rw, struct cvmm_virtq_chain *c);
int cvmm_virtq_writer_init(struct cvmm_virtq_rw *rw, struct cvmm_virtq_chain *c);

/**
 * Bytes left (as of init, minus consumed).
 * Thread safety: any thread that owns @rw.
 */
uint64_t cvmm_virtq_rw_remaining(const struct cvmm_virtq_rw *rw);
/**
 * Bytes consumed so far: for a writer, the length to pass to push().
 * Thread safety: any thread that owns @rw.
 */
uint64_t cvmm_virtq_rw_done(const struct cvmm_virtq_rw *rw);

/**
 * Copy up to @len bytes from the chain into @buf, across descriptors.
 * @return bytes copied (short at the end of the readable part); -EBADF on a
 * writer; the queue error.
 * Thread safety: the queue's thread.
 */
ssize_t cvmm_virtq_reader_read(struct cvmm_virtq_rw *rw, void *buf, size_t len);

/**
 * Copy up to @len bytes from @buf into the chain's writable part and mark
 * the pages dirty. @return bytes copied (short when the part is full);
 * -EBADF on a reader; the queue error.
 * Thread safety: the queue's thread.
 */
ssize_t cvmm_virtq_writer_write(struct cvmm_virtq_rw *rw, const void *buf,
				size_t len);

/**
 * Fill @iov (at most @max_iov entries) with host spans for the next bytes of
 * the stream, at most @max_bytes, without consuming them; for preadv/writev.
 * The spans point into guest RAM. @return number of entries (0 at the end);
 * the queue error. Consume with cvmm_virtq_rw_advance() afterwards.
 * Thread safety: the queue's thread; the spans stay valid while guest memory is mapped.
 */
int cvmm_virtq_rw_iovec(const struct cvmm_virtq_rw *rw, size_t max_bytes,
			struct iovec *iov, unsigned int max_iov);

/**
 * Consume @len bytes (after I/O through rw_iovec). A writer marks the bytes
 * dirty. @return bytes consumed (short at the end); the queue error.
 * Thread safety: the queue's thread.
 */
ssize_t cvmm_virtq_rw_advance(struct cvmm_virtq_rw *rw, size_t len);

/* ------------------------------------------------------------------------ */
/* State save/restore                                                        */
/* ------------------------------------------------------------------------ */

#define CVMM_VIRTQ_STATE_VERSION 1u

/** Everything needed to resume a queue elsewhere; plain little-endian data. */
struct cvmm_virtq_state {
	uint32_t version;       /* CVMM_VIRTQ_STATE_VERSION */
	int32_t error;          /* the queue error, 0 when healthy */
	uint64_t features;
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	uint16_t size;
	uint16_t next_avail;
	uint16_t next_used;
	uint16_t signalled_used;
	uint16_t used_since_signal;
	uint8_t avail_wrap;
	uint8_t used_wrap;
	uint8_t signalled_valid;
	uint8_t active;
	uint8_t rsvd[6];
};

/**
 * Capture @q's state. Chains popped but not pushed are not part of it: the
 * device saves its in-flight requests itself (or unpops/completes them
 * before saving). Thread safety: while the queue's thread is stopped.
 */
void cvmm_virtq_state_save(const struct cvmm_virtq *q, struct cvmm_virtq_state *s);

/**
 * Restore @s into @q (initialised with the destination's guest memory).
 * When the state is active the rings are validated again as by activate().
 * @return 0; -EINVAL (unknown version, size above max_size, packed index
 * out of range, wrap counter not 0/1); activate()'s errors. On any error
 * @q is left exactly as it was.
 * Thread safety: while the queue's thread is stopped.
 */
int cvmm_virtq_state_restore(struct cvmm_virtq *q, const struct cvmm_virtq_state *s);

/* ------------------------------------------------------------------------ */
/* Ring geometry                                                             */
/* ------------------------------------------------------------------------ */

/**
 * Bytes of each ring part for @size entries and @features (EVENT_IDX adds
 * the trailing event fields of a split ring; RING_PACKED selects the packed
 * layout): @desc, @avail (driver area), @used (device area).
 * Thread safety: pure function.
 */
void cvmm_virtq_ring_bytes(uint16_t size, uint64_t features, uint64_t *desc,
			   uint64_t *avail, uint64_t *used);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VIRTIO_QUEUE_H */
