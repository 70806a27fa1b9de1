/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transmit header validation. The kernel checks the header again, but only
 * against what the TAP allows; this holds the guest to what it negotiated,
 * so a header never asks the host for an offload the device did not offer.
 */
#include <endian.h>
#include <errno.h>

#include <cvmm/virtio-devices/net.h>

int cvmm_net_tx_hdr_check(const struct cvmm_virtio_net_hdr *h, uint32_t frame_len,
			  uint64_t f)
{
	uint32_t start = le16toh(h->csum_start), off = le16toh(h->csum_offset);
	uint8_t gso = h->gso_type & (uint8_t)~CVMM_VIRTIO_NET_HDR_GSO_ECN;
	bool ecn = h->gso_type & CVMM_VIRTIO_NET_HDR_GSO_ECN;

	if (frame_len == 0 || frame_len > CVMM_NET_MAX_FRAME)
		return -EMSGSIZE;
	/* DATA_VALID is receive-only (virtio 1.2, 5.1.6.2.1). */
	if (h->flags & ~CVMM_VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return -EINVAL;
	if (h->flags & CVMM_VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!(f & CVMM_VIRTIO_NET_F_CSUM))
			return -EINVAL;
		/* 32-bit sum of two 16-bit values cannot overflow. */
		if (start + off + 2u > frame_len)
			return -EINVAL;
	}
	switch (gso) {
	case CVMM_VIRTIO_NET_HDR_GSO_NONE:
		if (ecn)
			return -EINVAL;
		return 0;
	case CVMM_VIRTIO_NET_HDR_GSO_TCPV4:
		if (!(f & CVMM_VIRTIO_NET_F_HOST_TSO4))
			return -EINVAL;
		break;
	case CVMM_VIRTIO_NET_HDR_GSO_TCPV6:
		if (!(f & CVMM_VIRTIO_NET_F_HOST_TSO6))
			return -EINVAL;
		break;
	default: /* UFO and unknown types are never offered */
		return -EINVAL;
	}
	if (ecn && !(f & CVMM_VIRTIO_NET_F_HOST_ECN))
		return -EINVAL;
	if (!(h->flags & CVMM_VIRTIO_NET_HDR_F_NEEDS_CSUM) || le16toh(h->gso_size) == 0 ||
	    le16toh(h->hdr_len) > frame_len)
		return -EINVAL;
	return 0;
}
