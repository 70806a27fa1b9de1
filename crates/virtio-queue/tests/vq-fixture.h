/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test fixture: a real anonymous guest memory with a fixed ring layout, a
 * device-side queue and the driver-side helper driving it.
 *
 *   [0, 1 MiB)            region A: rings at 0x1000.., indirect tables at
 *                         0x20000, buffers from 0x80000
 *   [1 MiB, 1 MiB+64 KiB) region B, adjacent to A (buffers may straddle)
 *   [1 MiB+64 KiB, ...)   nothing: addresses here are outside guest RAM
 */
#ifndef VQ_FIXTURE_H
#define VQ_FIXTURE_H

#include <cvmm/virtio-queue.h>
#include <cvmm/virtio-queue/driver.h>

#include <stdbool.h>
#include <stdint.h>

#define FX_REGION_A 0x100000ull
#define FX_REGION_B_SIZE 0x10000ull
#define FX_RAM_END (FX_REGION_A + FX_REGION_B_SIZE)
#define FX_DESC 0x1000ull
#define FX_AVAIL 0x10000ull
#define FX_USED 0x12000ull
#define FX_IND 0x20000ull
#define FX_IND_MAX 16u
#define FX_BUF 0x80000ull

struct fx {
	struct cvmm_guest_mem *mem;
	struct cvmm_virtq q;
	struct cvmm_virtq_driver *drv;
	uint64_t features;
	uint16_t size;
	bool packed;
};

/* Build memory, activate the device queue and create the driver. */
void fx_setup(struct fx *f, bool packed, uint16_t size, uint64_t extra_features);
void fx_teardown(struct fx *f);

/* Host pointer to guest byte @gpa (test convenience). */
uint8_t *fx_host(struct fx *f, uint64_t gpa);

/* Raw ring writing for hostile cases (bypasses the driver helper). */
void fx_split_desc(struct fx *f, uint64_t table_gpa, uint16_t i, uint64_t addr,
		   uint32_t len, uint16_t flags, uint16_t next);
/* Put @head in the avail ring at index @idx and publish idx + 1. */
void fx_split_avail(struct fx *f, uint16_t idx, uint16_t head);
/* Packed ring slot @slot, AVAIL/USED bits for wrap counter @wrap (+flags). */
void fx_packed_desc(struct fx *f, uint16_t slot, uint64_t addr, uint32_t len,
		    uint16_t id, uint16_t flags, int wrap);
/* Packed indirect table entry. */
void fx_packed_ind(struct fx *f, uint64_t table_gpa, uint16_t i, uint64_t addr,
		   uint32_t len, uint16_t flags);

/* Make a one-part available buffer through the driver. */
void fx_add1(struct fx *f, uint64_t gpa, uint32_t len, bool writable, uint64_t token);

/* Every call after the queue broke must report the error and do nothing. */
void fx_assert_broken(struct fx *f, int err);

#endif
