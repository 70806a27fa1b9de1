/* SPDX-License-Identifier: Apache-2.0 */
/* Private to the snapshot crate: the on-stream layout and little-endian access. */
#ifndef CVMM_SNAPSHOT_INTERNAL_H
#define CVMM_SNAPSHOT_INTERNAL_H

#include <cvmm/snapshot.h>
#include <cvmm/sys-util.h>

#include <stdint.h>
#include <string.h>

/* Header offsets. */
#define SNAP_H_MAGIC 0
#define SNAP_H_VERSION 8
#define SNAP_H_FLAGS 12
#define SNAP_H_COUNT 16
#define SNAP_H_CRC 20

/* Section header offsets. */
#define SNAP_S_ID 0
#define SNAP_S_VERSION 48
#define SNAP_S_RESERVED 52
#define SNAP_S_LENGTH 56
#define SNAP_S_DATA_CRC 64
#define SNAP_S_CRC 68

/* End marker offsets. */
#define SNAP_E_MAGIC 0
#define SNAP_E_COUNT 8
#define SNAP_E_HEADERS_CRC 12
#define SNAP_E_RESERVED 16
#define SNAP_E_CRC 20

/* No header flag is defined in format version 1. */
#define SNAP_FLAGS_KNOWN 0u

CVMM_BUILD_BUG_ON(CVMM_SNAP_HEADER_SIZE != SNAP_H_CRC + 4);
CVMM_BUILD_BUG_ON(CVMM_SNAP_SECTION_HEADER_SIZE != SNAP_S_CRC + 4);
CVMM_BUILD_BUG_ON(CVMM_SNAP_END_SIZE != SNAP_E_CRC + 4);
CVMM_BUILD_BUG_ON(CVMM_SNAP_HEADER_SIZE % CVMM_SNAP_ALIGN != 0);
CVMM_BUILD_BUG_ON(CVMM_SNAP_SECTION_HEADER_SIZE % CVMM_SNAP_ALIGN != 0);
CVMM_BUILD_BUG_ON(CVMM_SNAP_END_SIZE % CVMM_SNAP_ALIGN != 0);

/* memcpy keeps these free of alignment assumptions; x86 compiles them to one load. */
static inline uint32_t snap_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t snap_get64(const uint8_t *p)
{
	return (uint64_t)snap_get32(p) | (uint64_t)snap_get32(p + 4) << 32;
}

static inline void snap_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void snap_put64(uint8_t *p, uint64_t v)
{
	snap_put32(p, (uint32_t)v);
	snap_put32(p + 4, (uint32_t)(v >> 32));
}

/* 1 when @c may appear in an id. */
static inline int snap_id_char_ok(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != '\'' && c != '"' && c != '\\';
}

/* Fill a section header (id already validated) including its own CRC. */
void cvmm_snap_section_header_fill(uint8_t h[CVMM_SNAP_SECTION_HEADER_SIZE], const char *id,
				   uint32_t version, uint64_t len, uint32_t data_crc);

#endif
