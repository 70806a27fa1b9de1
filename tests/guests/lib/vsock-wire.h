/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-vsock wire format (virtio 1.2, 5.10.6) as the vsock test
 * guests drive it: the packet header and its ops. Freestanding like every
 * guest header (the host's struct cvmm_vsock_hdr is in host byte order and
 * not packed; the guests build packets byte for byte).
 */
#ifndef CVMM_GUEST_VSOCK_WIRE_H
#define CVMM_GUEST_VSOCK_WIRE_H

#include <stdint.h>

#define VIRTIO_ID_VSOCK 19u
#define VSOCK_HDR_LEN 44u
#define OP_REQUEST 1u
#define OP_RESPONSE 2u
#define OP_RST 3u
#define OP_SHUTDOWN 4u
#define OP_RW 5u
#define OP_CREDIT_UPDATE 6u
#define OP_CREDIT_REQUEST 7u
#define BUF_ALLOC 65536u

struct vsock_hdr {
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
} __attribute__((packed));

_Static_assert(sizeof(struct vsock_hdr) == VSOCK_HDR_LEN, "virtio_vsock_hdr is 44 bytes");

#endif
