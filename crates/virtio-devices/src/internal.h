/* SPDX-License-Identifier: Apache-2.0 */
/* Internal helpers shared by the virtio-devices sources. */
#ifndef CVMM_VIRTIO_DEVICES_INTERNAL_H
#define CVMM_VIRTIO_DEVICES_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <cvmm/sys-util.h>

#define VD_CRATE "virtio-devices"

/* Copy @len bytes at @off of a little-endian config image @img of @size
 * bytes; the transport has bounds-checked the range already, this guards
 * devices that are called directly. */
static inline void vd_config_copy(const void *img, uint32_t size, uint32_t off,
				  void *data, uint32_t len)
{
	if (!cvmm_range_ok(off, len, size)) {
		memset(data, 0, len);
		return;
	}
	memcpy(data, (const uint8_t *)img + off, len);
}

static inline void vd_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void vd_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t vd_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t vd_get_le64(const uint8_t *p)
{
	return (uint64_t)vd_get_le32(p) | (uint64_t)vd_get_le32(p + 4) << 32;
}

struct io_uring;
struct cvmm_blk_backend;

/* For tests only: the backend's ring (NULL unless the engine is io_uring),
 * and whether it was locked down with io_uring restrictions
 * (blk-backend.c). Not thread safe against the backend's own user. */
struct io_uring *cvmm_vd_blk_backend_ring(struct cvmm_blk_backend *b);
bool cvmm_vd_blk_backend_ring_restricted(const struct cvmm_blk_backend *b);

#endif
