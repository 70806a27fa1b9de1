/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A self-describing sector of the snapshot-blk guest: word 0 a magic,
 * word 1 the pass that wrote it, word 2 its own number, the rest derived
 * from both. Pass 0 is the file's initial zeros. tests/microvm/snapshot-blk.sh
 * checks the host file with the same rule.
 */
#ifndef GUEST_SNAPSHOT_BLK_H
#define GUEST_SNAPSHOT_BLK_H

#include <stdint.h>

#define SNAPBLK_SECTOR 512u
#define SNAPBLK_WORDS (SNAPBLK_SECTOR / 8)
#define SNAPBLK_MAGIC 0x4b4c4250414e5343ull /* "CSNAPBLK" */

static inline uint64_t snapblk_word(uint64_t pass, uint64_t sector, unsigned int i)
{
	if (!pass)
		return 0;
	if (i == 0)
		return SNAPBLK_MAGIC;
	if (i == 1)
		return pass;
	if (i == 2)
		return sector;
	return (pass << 40) ^ (sector << 20) ^ (i * 0x9e3779b97f4a7c15ull);
}

static inline void snapblk_fill(uint64_t *w, uint64_t pass, uint64_t sector)
{
	for (unsigned int i = 0; i < SNAPBLK_WORDS; i++)
		w[i] = snapblk_word(pass, sector, i);
}

/* @return -1 when @w is the sector as @pass wrote it, else the first wrong word. */
static inline int snapblk_check(const uint64_t *w, uint64_t pass, uint64_t sector)
{
	for (unsigned int i = 0; i < SNAPBLK_WORDS; i++)
		if (w[i] != snapblk_word(pass, sector, i))
			return (int)i;
	return -1;
}

#endif
