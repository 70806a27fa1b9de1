/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dirty tracking for diff snapshots: the live-migration code's tracker
 * (migrate.c: KVM's dirty log per slot, the VMM's bitmap of device
 * writes, the devices' hooks), harvested at each snapshot into one bit per
 * page of the memory file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"
#include "snapshot.h"

struct snap_track {
	struct mig_dirty d;
};

int cvmm_vmm_snapshot_track(struct cvmm_vmm *vmm, bool on, char *err, size_t errlen)
{
	struct snap_track *t;
	int ret;

	if (err && errlen)
		err[0] = 0;
	if (!vmm)
		return -EINVAL;
	if (cvmm_vmm_state(vmm) != CVMM_VMM_PAUSED) {
		if (err && errlen)
			snprintf(err, errlen, "dirty tracking: the VM is %s, not paused",
				 cvmm_vmm_state_name(cvmm_vmm_state(vmm)));
		return -EBUSY;
	}
	if (on == !!vmm->snap_track)
		return -EALREADY;
	if (!on) {
		cvmm_vi_mig_dirty_stop(vmm, &vmm->snap_track->d);
		free(vmm->snap_track);
		vmm->snap_track = NULL;
		return 0;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	ret = cvmm_vi_mig_dirty_start(vmm, &t->d, err, err ? errlen : 0);
	if (ret) {
		free(t);
		return ret;
	}
	vmm->snap_track = t;
	return 0;
}

void cvmm_vi_snap_track_fini(struct cvmm_vmm *vmm)
{
	if (!vmm->snap_track)
		return;
	cvmm_vi_mig_dirty_stop(vmm, &vmm->snap_track->d);
	free(vmm->snap_track);
	vmm->snap_track = NULL;
}

/* The memory-file page of guest page @gpa (regions in GPA order, one after
 * the other), or UINT64_MAX outside RAM. */
static uint64_t file_page(struct cvmm_vmm *vmm, uint64_t gpa)
{
	uint64_t off = 0;

	for (unsigned int i = 0; i < cvmm_guest_mem_num_regions(vmm->mem); i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(vmm->mem, i);

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return (off + gpa - r->gpa) / SNAP_PAGE;
		off += r->size;
	}
	return UINT64_MAX;
}

int cvmm_vi_snap_dirty_collect(struct cvmm_vmm *vmm, uint64_t **bm, uint64_t npages)
{
	struct mig_dirty *d;
	uint64_t *out;
	long n;

	*bm = NULL;
	if (!vmm->snap_track)
		return 0;
	d = &vmm->snap_track->d;
	n = cvmm_vi_mig_dirty_collect(vmm, d);
	if (n < 0)
		return (int)n;
	out = calloc((size_t)(npages + 63) / 64, sizeof(uint64_t));
	if (!out)
		return -ENOMEM;
	for (unsigned int i = 0; i < d->n; i++) {
		struct mig_dirty_slot *s = &d->s[i];
		uint64_t pages = s->size / SNAP_PAGE;

		for (uint64_t w = 0; w < (pages + 63) / 64; w++) {
			uint64_t bits = s->bm[w];

			while (bits) {
				uint64_t p = w * 64 + (uint64_t)__builtin_ctzll(bits), f;

				bits &= bits - 1;
				f = file_page(vmm, s->gpa + p * SNAP_PAGE);
				if (f < npages)
					out[f / 64] |= 1ull << (f % 64);
			}
		}
		memset(s->bm, 0, s->bm_bytes);
	}
	*bm = out;
	return 1;
}
