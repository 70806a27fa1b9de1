/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The content the virtio-blk guests expect in (and write to) a disk:
 * printable, so the host tests generate it with awk and compare with cmp.
 * Byte i of sector s with seed k is VBLK_ALPHABET[(s * 7 + i + k) % 64].
 */
#ifndef CVMM_VBLK_PATTERN_H
#define CVMM_VBLK_PATTERN_H

#include <stdint.h>

#define VBLK_ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

static inline uint8_t vblk_pattern(uint64_t sector, uint32_t i, uint64_t seed)
{
	return (uint8_t)VBLK_ALPHABET[(sector * 7 + i + seed) % 64];
}

#endif
