/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-mem (virtio 1.2, 5.15; device id 24): a region of guest physical
 * memory, cut in blocks, that the guest plugs and unplugs on the host's
 * request. The host sets requested_size (cvmm_virtio_mem_set_requested());
 * the driver plugs blocks until plugged_size reaches it, or unplugs them
 * when it shrinks. Unplugged blocks are released in the host mapping
 * (MADV_DONTNEED on private memory, MADV_REMOVE on shared memfd/file
 * memory), so the VMM's RSS follows the guest's plugged size. One queue
 * (requests); no optional feature offered (no ACPI PXM, and unplugged
 * memory stays mapped: VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE is not
 * offered, as in Cloud Hypervisor).
 *
 * The region itself is the caller's: a guest memory region covering
 * [addr, addr + region_size) must be in the map the transport gives at
 * activation (the VMM registers it as a KVM memory slot, outside the
 * firmware memory map: the guest learns of it only from this device).
 *
 * Threat model: requests come from the guest. An address not block
 * aligned, no blocks, a range outside the region, plugging a plugged
 * block or unplugging an unplugged one answers VIRTIO_MEM_RESP_ERROR;
 * plugging past requested_size answers VIRTIO_MEM_RESP_NACK; a request
 * shorter than its 24 bytes answers ERROR, and one without room for the
 * 10-byte response is returned unanswered (used length 0). Nothing is
 * released outside the blocks named, all inside the region; every refusal
 * is counted. A broken chain sets DEVICE_NEEDS_RESET. What the guest may
 * still do: touch unplugged blocks (they read zeros; a write costs host
 * memory until the next unplug of that block or unplug_all), up to the
 * region size.
 */
#ifndef CVMM_VIRTIO_DEVICES_MEM_H
#define CVMM_VIRTIO_DEVICES_MEM_H

#include <stdint.h>

#include <cvmm/virtio-devices.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CVMM_VIRTIO_ID_MEM 24u
#define CVMM_VIRTIO_MEM_CONFIG_SIZE 56u
#define CVMM_VIRTIO_MEM_DEFAULT_BLOCK (2ull << 20)

/* Requests and responses (virtio 1.2, 5.15.6). */
#define CVMM_VIRTIO_MEM_REQ_PLUG 0u
#define CVMM_VIRTIO_MEM_REQ_UNPLUG 1u
#define CVMM_VIRTIO_MEM_REQ_UNPLUG_ALL 2u
#define CVMM_VIRTIO_MEM_REQ_STATE 3u
#define CVMM_VIRTIO_MEM_RESP_ACK 0u
#define CVMM_VIRTIO_MEM_RESP_NACK 1u
#define CVMM_VIRTIO_MEM_RESP_BUSY 2u
#define CVMM_VIRTIO_MEM_RESP_ERROR 3u
#define CVMM_VIRTIO_MEM_STATE_PLUGGED 0u
#define CVMM_VIRTIO_MEM_STATE_UNPLUGGED 1u
#define CVMM_VIRTIO_MEM_STATE_MIXED 2u

struct cvmm_virtio_mem;

struct cvmm_virtio_mem_opts {
	size_t sz;               /* sizeof(struct cvmm_virtio_mem_opts) */
	uint64_t addr;           /* guest physical base, block aligned */
	uint64_t region_size;    /* bytes, whole blocks, > 0 */
	uint64_t block_size;     /* a power of two, 4 KiB or more; 0: 2 MiB */
	uint64_t requested_size; /* the first target, whole blocks, <= region_size */
	uint16_t node_id;
	uint16_t queue_size;     /* 0: 128 */
};

struct cvmm_virtio_mem_counters {
	uint64_t block_size, region_size;
	uint64_t requested_size; /* the host's target */
	uint64_t plugged_size;   /* blocks plugged * block_size */
	uint64_t plugs, unplugs; /* blocks plugged and unplugged by requests */
	uint64_t unplug_alls;    /* UNPLUG_ALL requests */
	uint64_t nacks;          /* plugs refused: past requested_size */
	uint64_t errors;         /* requests refused (hostile, malformed) */
};

/**
 * Create a virtio-mem device. @return 0 and *@out; -EINVAL (a size not in
 * whole blocks, addr not block aligned, region past 2^64, requested_size
 * above region_size, a bad block or queue size, @o->sz too small);
 * -ENOMEM.
 * Thread safety: any thread.
 */
int cvmm_virtio_mem_create(const struct cvmm_virtio_mem_opts *o, struct cvmm_virtio_mem **out);
/** Free (destroy the transport first). NULL does nothing. */
void cvmm_virtio_mem_destroy(struct cvmm_virtio_mem *m);
/** The device interface, for a transport. Thread-safe. */
struct cvmm_virtio_device *cvmm_virtio_mem_device(struct cvmm_virtio_mem *m);

/**
 * Set requested_size and tell the driver (configuration change
 * interrupt). Shrinking below plugged_size asks the driver to unplug; the
 * device never takes plugged memory back by itself.
 * @return 0; -EINVAL (NULL, not whole blocks, above the region).
 * Thread safety: any thread.
 */
int cvmm_virtio_mem_set_requested(struct cvmm_virtio_mem *m, uint64_t bytes);

/** Sizes and counters. Thread safety: any thread. */
void cvmm_virtio_mem_get_counters(struct cvmm_virtio_mem *m,
				  struct cvmm_virtio_mem_counters *out);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VIRTIO_DEVICES_MEM_H */
