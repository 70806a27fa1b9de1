/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the device IOTLB (src/iotlb.c) under a hostile frontend's
 * UPDATE / INVALIDATE stream and the device's lookups.
 *
 * Input: records of 26 bytes {op, perm, iova u64, size u64, gpa u64}; op
 * bit 7 picks raw 64-bit values (overflow, wrap, huge windows), else they
 * are folded into 64 pages so the page model below can say what every
 * lookup must answer. After each record the table must be sorted,
 * disjoint, within its capacity, and agree with the model (when the model
 * is still exact: a full table may drop everything, which only makes
 * lookups fail, never succeed wrongly; a raw UPDATE that reaches into the
 * model's 64 pages maps what the model cannot follow, so from then on only
 * the table's own invariants are checked).
 */
#include "../src/internal.h"

#include <stdlib.h>
#include <string.h>

#define NP 64
#define CAP 16

static void check_table(struct vub_iotlb *t)
{
	if (t->n > t->cap)
		abort();
	for (unsigned int i = 0; i < t->n; i++) {
		const struct vub_iotlb_entry *e = &t->e[i];

		if (e->last < e->iova || e->perm == 0 || (e->perm & ~3u) ||
		    e->gpa + (e->last - e->iova) < e->gpa)
			abort();
		if (i && t->e[i - 1].last >= e->iova)
			abort();
	}
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vub_iotlb t;
	static bool init;
	int64_t gpage[NP];
	uint8_t perm[NP];
	bool exact = true;

	if (!init) {
		if (cvmm_vub_iotlb_init(&t, CAP) < 0)
			abort();
		init = true;
	}
	cvmm_vub_iotlb_flush(&t);
	for (int i = 0; i < NP; i++)
		gpage[i] = -1;
	memset(perm, 0, sizeof(perm));
	for (; size >= 26; data += 26, size -= 26) {
		uint8_t op = data[0], pm = data[1];
		uint64_t iova = get64(data + 2), len = get64(data + 10), gpa = get64(data + 18);
		bool raw = op & 0x80;
		uint64_t hole, g;
		int r;

		if (!raw) {
			iova = (iova % NP) << 12;
			len = ((len % 4) + 1) << 12;
			if ((iova >> 12) + (len >> 12) > NP)
				len = (NP - (iova >> 12)) << 12;
			gpa = (gpa % 32) << 12;
		}
		switch (op & 3) {
		case 0:
			r = cvmm_vub_iotlb_update(&t, iova, len, gpa, pm);
			if (!raw && r == 0)
				for (uint64_t p = iova >> 12; p < (iova + len) >> 12; p++) {
					gpage[p] = (int64_t)((gpa >> 12) + (p - (iova >> 12)));
					perm[p] = pm;
				}
			if (!raw && r != 0 && pm >= 1 && pm <= 3)
				abort();
			if (raw && r == 0 && iova < (uint64_t)NP << 12)
				exact = false;
			break;
		case 1:
			r = cvmm_vub_iotlb_invalidate(&t, iova, len);
			if (!raw)
				for (uint64_t p = iova >> 12; p < (iova + len) >> 12; p++)
					gpage[p] = -1;
			break;
		default: {
			unsigned int acc = 1 + pm % 3;

			r = cvmm_vub_iotlb_lookup(&t, iova, len, acc, &g, NULL, &hole);
			if (r == 0 && !raw && exact) {
				/* what the table says must hold in the model */
				for (uint64_t p = iova >> 12; p < (iova + len) >> 12; p++)
					if (gpage[p] < 0 || (perm[p] & acc) != acc ||
					    gpage[p] != gpage[iova >> 12] + (int64_t)(p - (iova >> 12)))
						abort();
				if (g != ((uint64_t)gpage[iova >> 12] << 12))
					abort();
			}
			if (r == 0 && (len == 0 || iova + len - 1 < iova))
				abort();
			break;
		}
		}
		check_table(&t);
	}
	return 0;
}
