/* SPDX-License-Identifier: Apache-2.0 */
/* The virtio-blk request format and one synchronous request, for the
 * guests that drive a disk (virtio-blk.c, virtio-blk-hostile.c). */
#ifndef GUEST_VIRTIO_BLK_H
#define GUEST_VIRTIO_BLK_H

#include "virtio.h"

#define T_IN 0u
#define T_OUT 1u
#define S_OK 0u
#define S_IOERR 1u

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/*
 * Header, @nsec sectors at @data (device-writable for reads), status byte:
 * submit on @vq and wait. @return the status byte, or 0xff when the
 * request never completed.
 */
static inline unsigned int blk_request(struct vq *vq, struct blk_hdr *hdr, uint8_t *data,
				       volatile uint8_t *status, uint32_t type,
				       uint64_t sector, uint32_t nsec)
{
	struct vbuf b[3] = {
		{ (uint64_t)hdr, sizeof(*hdr), false },
		{ (uint64_t)data, nsec * 512u, type == T_IN },
		{ (uint64_t)status, 1, true },
	};
	uint32_t id, len;

	hdr->type = type;
	hdr->reserved = 0;
	hdr->sector = sector;
	*status = 0xff;
	vq_submit(vq, b, 3);
	if (vq_wait(vq, &id, &len, VIRTIO_SPINS))
		return 0xff;
	return *status;
}

#endif
