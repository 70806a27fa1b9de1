/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-vsock packet header decoding and checks (pure, fuzzed). */
#include <errno.h>

#include <cvmm/virtio-devices/vsock.h>

#include "internal.h"

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

int cvmm_vsock_hdr_parse(const void *raw, size_t raw_len, uint64_t payload,
			 uint64_t guest_cid, struct cvmm_vsock_hdr *h)
{
	const uint8_t *p = raw;

	if (raw_len < CVMM_VSOCK_HDR_LEN)
		return -EMSGSIZE;
	h->src_cid = vd_get_le64(p);
	h->dst_cid = vd_get_le64(p + 8);
	h->src_port = vd_get_le32(p + 16);
	h->dst_port = vd_get_le32(p + 20);
	h->len = vd_get_le32(p + 24);
	h->type = get_le16(p + 28);
	h->op = get_le16(p + 30);
	h->flags = vd_get_le32(p + 32);
	h->buf_alloc = vd_get_le32(p + 36);
	h->fwd_cnt = vd_get_le32(p + 40);
	if (h->len > payload || h->len > CVMM_VSOCK_MAX_PKT)
		return -EMSGSIZE;
	/* The guest speaks only for its own CID; anything else is forged. */
	if (h->src_cid != guest_cid)
		return -EACCES;
	if (h->dst_cid != CVMM_VSOCK_HOST_CID)
		return -EHOSTUNREACH;
	if (h->type != CVMM_VSOCK_TYPE_STREAM)
		return -EPROTOTYPE;
	if (h->op < CVMM_VSOCK_OP_REQUEST || h->op > CVMM_VSOCK_OP_CREDIT_REQUEST)
		return -EOPNOTSUPP;
	if (h->op != CVMM_VSOCK_OP_RW && h->len != 0)
		return -EMSGSIZE;
	return 0;
}

void cvmm_vsock_hdr_encode(const struct cvmm_vsock_hdr *h, void *raw)
{
	uint8_t *p = raw;

	vd_put_le64(p, h->src_cid);
	vd_put_le64(p + 8, h->dst_cid);
	vd_put_le32(p + 16, h->src_port);
	vd_put_le32(p + 20, h->dst_port);
	vd_put_le32(p + 24, h->len);
	put_le16(p + 28, h->type);
	put_le16(p + 30, h->op);
	vd_put_le32(p + 32, h->flags);
	vd_put_le32(p + 36, h->buf_alloc);
	vd_put_le32(p + 40, h->fwd_cnt);
}
