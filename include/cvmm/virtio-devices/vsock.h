/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/virtio-devices/vsock.h
 * @brief virtio-vsock in the hybrid (unix socket) form: guest AF_VSOCK
 *        stream connections appear on host unix sockets.
 *
 * Host side, for a device created with uds_path P:
 *  - guest connects to (CID 2, port N): the device connects to the unix
 *    socket "P_N" (a host program listens there). Nothing listening: RST.
 *  - host program connects to the unix socket P (the device listens) and
 *    writes "CONNECT N\n": the device opens a connection to the guest's
 *    port N from a fresh host port H and, once the guest accepts, answers
 *    "OK H\n"; from then on the socket carries the stream. A guest refusal
 *    (RST) closes the socket.
 * Bytes then flow both ways unchanged. Flow control is virtio-vsock's
 * credit scheme: each side advertises buf_alloc and fwd_cnt; the device
 * sends no more than the guest's credit and gives the guest a credit of
 * buf_alloc bytes it buffers when the host socket is slow.
 *
 * Queues: 0 rx (device to guest), 1 tx (guest to device), 2 event (unused:
 * its buffers are kept). Config space: guest_cid (le64).
 *
 * Hostile guests: a packet whose header is short, whose len exceeds its
 * buffer or CVMM_VSOCK_MAX_PKT, or whose source CID is not the guest's is
 * dropped; one naming a connection that does not exist, another CID than
 * the host, an unknown type or op is answered with RST (never an RST to an
 * RST); a guest that exceeds the credit it was given loses the connection
 * (RST). Ring errors set DEVICE_NEEDS_RESET.
 */
#ifndef CVMM_VIRTIO_DEVICES_VSOCK_H
#define CVMM_VIRTIO_DEVICES_VSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/virtio-devices.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CVMM_VSOCK_HOST_CID 2u
#define CVMM_VSOCK_TYPE_STREAM 1u

/* Operations (virtio 1.2, 5.10.6). */
#define CVMM_VSOCK_OP_REQUEST 1u
#define CVMM_VSOCK_OP_RESPONSE 2u
#define CVMM_VSOCK_OP_RST 3u
#define CVMM_VSOCK_OP_SHUTDOWN 4u
#define CVMM_VSOCK_OP_RW 5u
#define CVMM_VSOCK_OP_CREDIT_UPDATE 6u
#define CVMM_VSOCK_OP_CREDIT_REQUEST 7u

#define CVMM_VSOCK_SHUTDOWN_RCV 1u
#define CVMM_VSOCK_SHUTDOWN_SEND 2u

/** Bytes of the packet header on the wire. */
#define CVMM_VSOCK_HDR_LEN 44u
/** Largest payload of one packet (the Linux driver's is 64 KiB). */
#define CVMM_VSOCK_MAX_PKT 65536u

/** struct virtio_vsock_hdr in host byte order. */
struct cvmm_vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
};

/**
 * Decode the first CVMM_VSOCK_HDR_LEN bytes of @raw (@raw_len bytes were
 * read from the guest; @payload bytes follow the header in its buffer)
 * and check them for a device whose guest has @guest_cid.
 * @return 0 valid; -EMSGSIZE (@raw_len short, len beyond @payload or above
 * CVMM_VSOCK_MAX_PKT, a non-RW op with a payload): drop; -EACCES (source
 * CID is not the guest's): drop; -EHOSTUNREACH (destination is not the
 * host), -EPROTOTYPE (not a stream), -EOPNOTSUPP (unknown op): answer RST.
 * @h is filled whenever @raw_len covers a header.
 * Thread safety: pure function.
 */
int cvmm_vsock_hdr_parse(const void *raw, size_t raw_len, uint64_t payload,
			 uint64_t guest_cid, struct cvmm_vsock_hdr *h);

/**
 * Encode @h into CVMM_VSOCK_HDR_LEN little-endian bytes at @raw.
 * @return nothing (cannot fail).
 * Thread safety: pure function.
 */
void cvmm_vsock_hdr_encode(const struct cvmm_vsock_hdr *h, void *raw);

struct cvmm_vsock;

struct cvmm_vsock_opts {
	size_t sz;                     /* sizeof(struct cvmm_vsock_opts) */
	struct cvmm_event_manager *em; /* the device thread's loop */
	uint64_t guest_cid;            /* 3 .. 2^32 - 2 */
	const char *uds_path;          /* must not exist; "<path>_<port>" for guest connects */
	uint16_t queue_size;           /* 0: 256 */
	uint32_t buf_alloc;            /* per-connection credit given to the guest; 0: 256 KiB */
	uint32_t max_conns;            /* 0: 1024; more are refused with RST */
	/* A local migration: the listening unix socket on @uds_path that the
	 * source VMM made, passed to this process; used instead of binding
	 * (the path exists). The device does not own the path until
	 * cvmm_vsock_set_path_owner(true): its destroy leaves it alone. */
	bool inherit_listener;
	int listener_fd;               /* with inherit_listener; the device owns it */
};

/**
 * Create the device and listen on @o->uds_path (accepting only while the
 * device is active).
 * @return 0 and *@out; -EINVAL (bad opts, a CID below 3 or reserved, path
 * too long for sockaddr_un); -EADDRINUSE (the path exists); -ENOMEM;
 * socket errors. With @o->inherit_listener the fd is checked first
 * (-ENOTSOCK: not a listening unix stream socket bound to @o->uds_path)
 * and closed on any failure.
 * Thread safety: any thread, before the loop runs the device.
 */
int cvmm_vsock_create(const struct cvmm_vsock_opts *o, struct cvmm_vsock **out);

/**
 * The listening socket (a local migration passes it to the next VMM).
 * Thread safety: any thread.
 */
int cvmm_vsock_listener_fd(const struct cvmm_vsock *v);

/**
 * Whether the device's destroy unlinks its path: true for a device that
 * bound it, false for one that inherited its listener. A local
 * migration's source sets false once the destination runs (the path is
 * the destination's now), the destination true.
 * Thread safety: while the loop does not destroy the device.
 */
void cvmm_vsock_set_path_owner(struct cvmm_vsock *v, bool owner);

/**
 * Close every connection and the listener, unlink the path (when it owns
 * it: cvmm_vsock_set_path_owner()), free. Destroy
 * the transport first. NULL does nothing.
 * Thread safety: while the loop does not run the device.
 */
void cvmm_vsock_destroy(struct cvmm_vsock *v);

/**
 * The device interface, for cvmm_virtio_mmio_create().
 * @return a pointer into @v (never NULL).
 * Thread safety: any thread.
 */
struct cvmm_virtio_device *cvmm_vsock_device(struct cvmm_vsock *v);

struct cvmm_vsock_stats {
	uint64_t tx_pkts;       /* packets taken from the guest */
	uint64_t tx_dropped;    /* malformed packets dropped */
	uint64_t rst_sent;
	uint64_t rx_pkts;       /* packets given to the guest */
	uint32_t conns;         /* open connections */
	uint32_t activations;   /* successful activate() calls */
};

/**
 * Copy the counters into @s. @return nothing (cannot fail).
 * Thread safety: the device thread or loop stopped (elsewhere values may be
 * torn; activations is stored with release semantics).
 */
void cvmm_vsock_get_stats(const struct cvmm_vsock *v, struct cvmm_vsock_stats *s);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VIRTIO_DEVICES_VSOCK_H */
