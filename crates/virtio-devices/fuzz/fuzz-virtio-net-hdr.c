/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the virtio-net transmit header check.
 * Input: 8 bytes negotiated features (le64), 4 bytes frame length (le32),
 * 12 bytes struct virtio_net_hdr as the guest wrote it.
 * Invariants: an accepted header never points the host outside the frame,
 * never asks for an offload that was not negotiated, and the frame length
 * is within CVMM_NET_MAX_FRAME.
 */
#include <cvmm/virtio-devices/net.h>

#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmm_virtio_net_hdr h;
	uint64_t f;
	uint32_t len;
	uint8_t gso;

	if (size < 24)
		return 0;
	memcpy(&f, data, 8);
	memcpy(&len, data + 8, 4);
	memcpy(&h, data + 12, 12);
	f = le64toh(f);
	len = le32toh(len);
	/* keep many lengths small enough to hit the offset checks */
	if (data[0] & 0x80)
		len &= 0xffff;
	if (cvmm_net_tx_hdr_check(&h, len, f) != 0)
		return 0;
	if (len == 0 || len > CVMM_NET_MAX_FRAME)
		abort();
	if (h.flags & ~CVMM_VIRTIO_NET_HDR_F_NEEDS_CSUM)
		abort();
	if ((h.flags & CVMM_VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (!(f & CVMM_VIRTIO_NET_F_CSUM) ||
	     (uint32_t)le16toh(h.csum_start) + le16toh(h.csum_offset) + 2 > len))
		abort();
	gso = h.gso_type & (uint8_t)~CVMM_VIRTIO_NET_HDR_GSO_ECN;
	if (gso == CVMM_VIRTIO_NET_HDR_GSO_NONE) {
		if (h.gso_type)
			abort();
		return 0;
	}
	if (gso == CVMM_VIRTIO_NET_HDR_GSO_TCPV4 && !(f & CVMM_VIRTIO_NET_F_HOST_TSO4))
		abort();
	if (gso == CVMM_VIRTIO_NET_HDR_GSO_TCPV6 && !(f & CVMM_VIRTIO_NET_F_HOST_TSO6))
		abort();
	if (gso != CVMM_VIRTIO_NET_HDR_GSO_TCPV4 && gso != CVMM_VIRTIO_NET_HDR_GSO_TCPV6)
		abort();
	if ((h.gso_type & CVMM_VIRTIO_NET_HDR_GSO_ECN) && !(f & CVMM_VIRTIO_NET_F_HOST_ECN))
		abort();
	if (!(h.flags & CVMM_VIRTIO_NET_HDR_F_NEEDS_CSUM) || h.gso_size == 0 ||
	    le16toh(h.hdr_len) > len)
		abort();
	return 0;
}
