/* SPDX-License-Identifier: Apache-2.0 */
/* Snapshots on disk, shared by snapshot.c (writing) and
 * snapshot-restore.c (opening, restoring, the OnDemand fill). */
#ifndef CVMM_VMM_SNAPSHOT_INTERNAL_H
#define CVMM_VMM_SNAPSHOT_INTERNAL_H

#include <stdint.h>

#include "internal.h"

#define SNAP_MANIFEST_MAGIC "CVMMSNAP"
#define SNAP_MANIFEST_VERSION 1u
#define SNAP_MAX_REGIONS 64u
#define SNAP_PAGE 4096ull
/* A diff: "snapshot/dirty" lists the pages the memory file holds; the
 * others are unchanged since the previous snapshot. */
#define SNAP_F_DIFF 0x1u

/* Section "snapshot" of the manifest: plain data, little endian. */
struct snap_manifest {
	char magic[8];          /* SNAP_MANIFEST_MAGIC */
	uint32_t version;       /* SNAP_MANIFEST_VERSION */
	uint32_t nregions;      /* entries in "snapshot/regions" */
	uint64_t mem_size;      /* bytes of RAM = size of the memory file */
	uint64_t data_bytes;    /* bytes written as data (the rest are holes) */
	uint64_t state_len;     /* bytes of the state file */
	uint64_t config_len;    /* bytes of config.json */
	uint32_t config_crc;    /* CRC32C of config.json */
	uint32_t flags;         /* SNAP_F_* (was reserved, 0, in the first snapshots) */
	uint64_t created_ns;    /* CLOCK_REALTIME at the snapshot */
};

/* Section "snapshot/regions": one per RAM region, in GPA order. */
struct snap_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset;        /* in the memory file */
};

/* A restore's reference to the memory file it mapped or fills from
 * (Shared, OnDemand): a later snapshot reads pages the VM never touched
 * from it. */
struct snap_extent {
	uint64_t off;           /* in the memory file, page aligned */
	uint64_t len;           /* whole pages */
};

struct snap_source {
	int fd;
	unsigned int nregions;
	struct snap_region region[SNAP_MAX_REGIONS];
	uint64_t *data;         /* one bit per page of the file: data (1) or hole */
	uint64_t npages;
	/* The same as a list, in file order: what a restore walks, so its
	 * cost follows the data, not the guest's size. */
	struct snap_extent *ext;
	size_t next;
};

static inline bool snap_source_data(const struct snap_source *src, uint64_t page)
{
	return page < src->npages && (src->data[page / 64] >> (page % 64)) & 1;
}

/* Dirty tracking for diff snapshots (snapshot-diff.c): when it is on,
 * fetch and clear what was written since the last call as one bit per
 * page of the memory file (*@bm, calloc'ed, @npages bits).
 * @return 1 (tracking on, *@bm set), 0 (off), negative errno. */
int cvmm_vi_snap_dirty_collect(struct cvmm_vmm *vmm, uint64_t **bm, uint64_t npages);

/* Drop every page region @r holds (present or swapped), walking only the
 * page tables that exist where the kernel can (resident.c): afterwards
 * the whole region is absent (reads as zero; userfaultfd MISSING fires).
 * @return 0 or negative errno of madvise. */
int cvmm_vi_mem_drop_resident(const struct cvmm_mem_region *r);

/* The memory file a restore mapped or fills from, or NULL. */
struct snap_source *cvmm_vi_snap_source(const struct cvmm_vmm *vmm);

#endif
