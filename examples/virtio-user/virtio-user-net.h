/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file virtio-user-net.h
 * @brief A virtio-net driver on the host: vhost-user frontend and guest
 *        driver at once (the network sibling of virtio-user.h).
 *
 * Guest memory is a memfd; every queue pair has a receiveq (2i) and a
 * transmitq (2i + 1), each with queue_size buffers of buf_size bytes (the
 * 12-byte virtio_net_hdr included). Used by the vhost-user-net tests and
 * benchmark; built by examples/vhost-user-net/Makemodule.am.
 *
 * Thread safety: one thread per object.
 */
#ifndef CVMM_EXAMPLES_VIRTIO_USER_NET_H
#define CVMM_EXAMPLES_VIRTIO_USER_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/virtio-devices/net.h>
#include <cvmm/virtio-queue/driver.h>

struct cvmm_virtio_user_net;

struct cvmm_virtio_user_net_opts {
	size_t sz;               /* sizeof(struct cvmm_virtio_user_net_opts) */
	const char *socket;      /* the backend's unix socket */
	unsigned int pairs;      /* queue pairs, 0: 1 */
	uint16_t queue_size;     /* power of two, 0: 256 */
	uint32_t buf_size;       /* bytes per buffer, header included; 0: 2048 */
	uint64_t features;       /* CVMM_VIRTIO_NET_F_* wanted (ANDed with the offer) */
	int connect_timeout_ms;  /* retry connecting this long, 0: once */
};

/**
 * Connect, negotiate (VERSION_1 required), share memory, start all queues.
 * @return 0 and *@out; -EINVAL (bad opts); -ENOTSUP (backend lacks
 * VERSION_1 or enough queues); socket and protocol errors.
 */
int cvmm_virtio_user_net_create(const struct cvmm_virtio_user_net_opts *o,
				struct cvmm_virtio_user_net **out);

/** Disconnect and free. NULL is a no-op. */
void cvmm_virtio_user_net_destroy(struct cvmm_virtio_user_net *vu);

/**
 * Drop the connection and set up the same rings on a new one (resuming at
 * the used indexes in memory). @return 0; as create.
 */
int cvmm_virtio_user_net_reconnect(struct cvmm_virtio_user_net *vu, int timeout_ms);

/** Features acked. */
uint64_t cvmm_virtio_user_net_features(const struct cvmm_virtio_user_net *vu);

/** Read the device config space (CONFIG protocol feature). @return 0;
 * -ENOTSUP without CONFIG; protocol errors. */
int cvmm_virtio_user_net_config(struct cvmm_virtio_user_net *vu, uint32_t off, void *buf,
				uint32_t len);

/**
 * Make every free receive buffer of @pair available and kick.
 * @return buffers added; -EINVAL (bad pair); kick errors.
 */
int cvmm_virtio_user_net_rx_fill(struct cvmm_virtio_user_net *vu, unsigned int pair);

/**
 * Send one frame on @pair: @h (NULL: all zero; num_buffers is cleared)
 * then @len bytes of @frame, in one buffer. Finished transmit buffers are
 * reclaimed first. Kicks unless @no_kick.
 * @return 0; -EINVAL (bad pair, @len + 12 above buf_size); -ENOSPC (ring
 * full: reap with tx_reap).
 */
int cvmm_virtio_user_net_send(struct cvmm_virtio_user_net *vu, unsigned int pair,
			      const struct cvmm_virtio_net_hdr *h, const void *frame,
			      uint32_t len, bool no_kick);

/** Kick @pair's transmitq if the ring asks for it. @return 0; negative errno. */
int cvmm_virtio_user_net_tx_kick(struct cvmm_virtio_user_net *vu, unsigned int pair);

/**
 * Queue a raw transmit chain (@n device-readable parts at arbitrary guest
 * addresses; for hostile-input tests) and kick.
 * @return 0; -EINVAL; -ENOSPC.
 */
int cvmm_virtio_user_net_send_raw(struct cvmm_virtio_user_net *vu, unsigned int pair,
				  const struct cvmm_virtq_buf *out, unsigned int n);

/**
 * Queue a raw receive chain (@n device-writable parts at arbitrary guest
 * addresses; hostile-input tests) and kick. Its used entry makes recv()
 * fail with -EIO. @return 0; -EINVAL; -ENOSPC.
 */
int cvmm_virtio_user_net_rx_add_raw(struct cvmm_virtio_user_net *vu, unsigned int pair,
				    const struct cvmm_virtq_buf *in, unsigned int n);

/**
 * Reclaim finished transmit buffers of @pair, waiting up to @timeout_ms
 * (-1 forever) for the first. @return count (0 on timeout); -EIO (an
 * impossible used entry); poll errors.
 */
int cvmm_virtio_user_net_tx_reap(struct cvmm_virtio_user_net *vu, unsigned int pair,
				 int timeout_ms);

/** Transmit buffers of @pair not yet reclaimed. */
unsigned int cvmm_virtio_user_net_tx_in_flight(const struct cvmm_virtio_user_net *vu,
					       unsigned int pair);

/**
 * Receive one frame on @pair, waiting up to @timeout_ms (-1 forever):
 * header into *@h (may be NULL), up to @cap frame bytes into @buf; with
 * MRG_RXBUF the frame spans num_buffers buffers, gathered here. The
 * buffers are made available again (and kicked).
 * @return the frame length (may exceed @cap: truncated copy); 0 on
 * timeout; -EIO (the device wrote an impossible used entry, a length
 * beyond the buffer or a bad num_buffers).
 * @nbufs (may be NULL) receives the number of buffers the frame used.
 */
int cvmm_virtio_user_net_recv(struct cvmm_virtio_user_net *vu, unsigned int pair, void *buf,
			      size_t cap, struct cvmm_virtio_net_hdr *h, unsigned int *nbufs,
			      int timeout_ms);

/** Host address of guest-physical @gpa (for tests: what the device sees). */
void *cvmm_virtio_user_net_host(struct cvmm_virtio_user_net *vu, uint64_t gpa, uint64_t len);
/** Bytes of guest memory (a gpa at or above it is outside guest RAM). */
uint64_t cvmm_virtio_user_net_mem_size(const struct cvmm_virtio_user_net *vu);

#endif
