/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/virtio-devices/net.h
 * @brief virtio-net on a TAP device: vnet header offloads, mergeable
 *        receive buffers, multiqueue with a control queue.
 *
 * Queues: receiveq N = 2N, transmitq N = 2N + 1 for each queue pair N, and
 * the control queue last (2 * pairs) when more than one pair is configured.
 * Every pair has its own TAP fd (IFF_MULTI_QUEUE when pairs > 1), opened
 * with IFF_VNET_HDR and set to a 12-byte header (struct virtio_net_hdr with
 * num_buffers, the VERSION_1 layout) so frames pass to the kernel with their
 * checksum/GSO metadata unchanged. The guest's receive offloads
 * (GUEST_CSUM, GUEST_TSO4/6, GUEST_ECN) are applied to the TAP with
 * TUNSETOFFLOAD when the device is activated.
 *
 * Data flow, all on the event-manager loop given at creation:
 *   transmitq kick -> header checked (cvmm_net_tx_hdr_check) -> writev(tap)
 *   tap EPOLLIN    -> frame read into a bounce buffer -> receive chains
 *                     (several with MRG_RXBUF; num_buffers set) -> interrupt
 * The TAP fd is polled only while the guest has receive buffers; a
 * receiveq kick resumes polling. A frame that needs more mergeable buffers
 * than are available waits (it is not dropped) until the guest adds some.
 *
 * Hostile guests: a transmit chain whose readable part is shorter than the
 * header or longer than CVMM_NET_MAX_FRAME plus the header, a receive chain
 * without room for the header, a control chain without its class/command
 * or ack byte, and any ring error set DEVICE_NEEDS_RESET. A well-formed
 * chain with an inconsistent header (offsets beyond the frame, GSO that was
 * not negotiated, unknown flags) only drops that frame.
 */
#ifndef CVMM_VIRTIO_DEVICES_NET_H
#define CVMM_VIRTIO_DEVICES_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/virtio-devices.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Feature bits (virtio 1.2, 5.1.3). */
#define CVMM_VIRTIO_NET_F_CSUM (1ull << 0)
#define CVMM_VIRTIO_NET_F_GUEST_CSUM (1ull << 1)
#define CVMM_VIRTIO_NET_F_MAC (1ull << 5)
#define CVMM_VIRTIO_NET_F_GUEST_TSO4 (1ull << 7)
#define CVMM_VIRTIO_NET_F_GUEST_TSO6 (1ull << 8)
#define CVMM_VIRTIO_NET_F_GUEST_ECN (1ull << 9)
#define CVMM_VIRTIO_NET_F_HOST_TSO4 (1ull << 11)
#define CVMM_VIRTIO_NET_F_HOST_TSO6 (1ull << 12)
#define CVMM_VIRTIO_NET_F_HOST_ECN (1ull << 13)
#define CVMM_VIRTIO_NET_F_MRG_RXBUF (1ull << 15)
#define CVMM_VIRTIO_NET_F_STATUS (1ull << 16)
#define CVMM_VIRTIO_NET_F_CTRL_VQ (1ull << 17)
#define CVMM_VIRTIO_NET_F_MQ (1ull << 22)

/* struct virtio_net_hdr fields. */
#define CVMM_VIRTIO_NET_HDR_F_NEEDS_CSUM 1u
#define CVMM_VIRTIO_NET_HDR_F_DATA_VALID 2u
#define CVMM_VIRTIO_NET_HDR_GSO_NONE 0u
#define CVMM_VIRTIO_NET_HDR_GSO_TCPV4 1u
#define CVMM_VIRTIO_NET_HDR_GSO_UDP 3u
#define CVMM_VIRTIO_NET_HDR_GSO_TCPV6 4u
#define CVMM_VIRTIO_NET_HDR_GSO_ECN 0x80u

/* Control queue (virtio 1.2, 5.1.6.5). */
#define CVMM_VIRTIO_NET_CTRL_MQ 4u
#define CVMM_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0u
#define CVMM_VIRTIO_NET_OK 0u
#define CVMM_VIRTIO_NET_ERR 1u

/** Bytes of the header on the wire (VERSION_1: num_buffers included). */
#define CVMM_NET_HDR_LEN 12u
/** Largest frame (without the header): 64 KiB of GSO payload + L2 header. */
#define CVMM_NET_MAX_FRAME (65535u + 14u + 4u)
/** Most queue pairs (2 * pairs + 1 queues must fit CVMM_VIRTIO_MAX_QUEUES). */
#define CVMM_NET_MAX_PAIRS 7u

/** The 12-byte header, little-endian fields. */
struct cvmm_virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};

/**
 * Check a transmit header the guest wrote for a frame of @frame_len bytes
 * under the negotiated @features: only NEEDS_CSUM/DATA_VALID flags;
 * NEEDS_CSUM only with CSUM, its checksum field inside the frame; GSO types
 * only when the matching HOST_TSO4/6 (ECN bit: HOST_ECN) was negotiated,
 * with a non-zero gso_size, NEEDS_CSUM set and hdr_len not beyond the frame.
 * Pure function over plain data.
 * @return 0 when the frame may go to the TAP; -EINVAL (inconsistent header);
 * -EMSGSIZE (@frame_len 0 or above CVMM_NET_MAX_FRAME).
 * Thread safety: any thread.
 */
int cvmm_net_tx_hdr_check(const struct cvmm_virtio_net_hdr *h, uint32_t frame_len,
			  uint64_t features);

/**
 * Open the TAP device @name (may be "" or a "%d" pattern: the kernel picks a
 * name) with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, and IFF_MULTI_QUEUE when
 * @nfds > 1: one fd per queue. The fds are non-blocking and close-on-exec.
 * @ifname (IFNAMSIZ bytes, may be NULL) receives the actual name.
 * @return 0; -EINVAL (@nfds 0 or above CVMM_NET_MAX_PAIRS, name too long);
 * -EOPNOTSUPP (the kernel has no vnet header support); errors of open and
 * TUNSETIFF (-EPERM without CAP_NET_ADMIN, -EBUSY a single-queue TAP of that
 * name is in use). On failure no fd stays open.
 * Thread safety: any thread.
 */
int cvmm_net_tap_open(const char *name, unsigned int nfds, int *fds, char *ifname);

struct cvmm_net;

struct cvmm_net_opts {
	size_t sz;                      /* sizeof(struct cvmm_net_opts) */
	struct cvmm_event_manager *em;  /* the device thread's loop */
	/* Either a TAP name (opened by the device, closed by destroy) ... */
	const char *tap_name;
	/* ... or num_queue_pairs fds the caller opened (IFF_TAP, IFF_NO_PI,
	 * IFF_VNET_HDR, IFF_MULTI_QUEUE for several). They stay the caller's:
	 * destroy does not close them; they are made non-blocking. */
	const int *tap_fds;
	uint16_t num_queue_pairs;       /* 0: 1; at most CVMM_NET_MAX_PAIRS */
	uint16_t queue_size;            /* 0: 256 */
	bool has_mac;                   /* offer VIRTIO_NET_F_MAC with @mac */
	uint8_t mac[6];
	/* Rate limits (NULL: none), applied per device across all queues. */
	const struct cvmm_rate_limiter_opts *rx_rate;
	const struct cvmm_rate_limiter_opts *tx_rate;
	/* The @tap_fds serve a running guest in another process (a local
	 * migration's source, paused or about to be): their offloads are left
	 * as they are, the restore's activation sets the same again. */
	bool tap_live;
};

/**
 * Create a virtio-net device on a TAP. Sets the vnet header size of every
 * TAP fd to CVMM_NET_HDR_LEN and clears its offloads (the guest's are
 * applied at activation; not with @tap_live).
 * @return 0 and *@out; -EINVAL (bad opts: no em, both or neither of
 * tap_name/tap_fds, too many pairs, a multicast MAC, an fd without
 * IFF_VNET_HDR); -ENOMEM; errors of cvmm_net_tap_open() and the TAP ioctls.
 * Thread safety: any thread.
 */
int cvmm_net_create(const struct cvmm_net_opts *o, struct cvmm_net **out);

/**
 * Free the device and close the TAP fds it opened itself (caller fds stay
 * open). Destroy the transport first. NULL does nothing.
 * Thread safety: while the loop does not run the device.
 */
void cvmm_net_destroy(struct cvmm_net *n);

/**
 * The device interface, for cvmm_virtio_mmio_create().
 * @return a pointer into @n (never NULL).
 * Thread safety: any thread.
 */
struct cvmm_virtio_device *cvmm_net_device(struct cvmm_net *n);

/**
 * The TAP fd of queue pair @pair (still owned as the opts said).
 * @return the fd; -EINVAL (@n NULL or @pair out of range).
 * Thread safety: any thread.
 */
int cvmm_net_tap_fd(const struct cvmm_net *n, unsigned int pair);

/** Counters, for tests and statistics. */
struct cvmm_net_stats {
	uint64_t tx_frames;
	uint64_t tx_bytes;
	uint64_t tx_dropped;   /* bad header or TAP write error */
	uint64_t rx_frames;
	uint64_t rx_bytes;
	uint64_t rx_dropped;   /* frame larger than a non-mergeable buffer */
	uint32_t active_pairs; /* as set by the control queue (1 at activation) */
	uint32_t tap_offload;  /* TUN_F_* bits last applied with TUNSETOFFLOAD */
	uint32_t activations;  /* successful activate() calls */
};

/**
 * Copy the counters into @s. @return nothing (cannot fail).
 * Thread safety: the device thread, or while the loop is stopped (elsewhere
 * values may be torn; activations is stored with release semantics).
 */
void cvmm_net_get_stats(const struct cvmm_net *n, struct cvmm_net_stats *s);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VIRTIO_DEVICES_NET_H */
