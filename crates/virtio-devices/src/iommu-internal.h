/* SPDX-License-Identifier: Apache-2.0 */
/* The virtio-iommu's insides, shared by its table (iommu-table.c) and its
 * request queue (iommu.c); never installed. */
#ifndef CVMM_VD_IOMMU_INTERNAL_H
#define CVMM_VD_IOMMU_INTERNAL_H

#include <pthread.h>

#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/iommu.h>

/* One mapping: [start, end] (inclusive) -> phys, CVMM_DMA_READ/WRITE. */
struct vd_iommu_map {
	uint64_t start;
	uint64_t end;
	uint64_t phys;
	uint32_t perm;
};

/* A domain: its mappings sorted by start, never overlapping. */
struct vd_iommu_domain {
	uint32_t id;
	uint32_t nmaps;
	uint32_t cap;
	uint32_t refs;              /* endpoints attached */
	struct vd_iommu_map *maps;
};

struct vd_iommu_ep {
	uint32_t id;
	struct vd_iommu_domain *dom; /* NULL: attached to nothing, reaches nothing */
	struct cvmm_iommu *io;
	struct cvmm_dma_xlate xlate;
	/* the cvmm_dma_xlate watcher (under the lock; called without it) */
	void (*watch_fn)(void *arg, uint64_t iova, uint64_t last);
	void *watch_arg;
};

struct cvmm_iommu {
	struct cvmm_virtio_device dev;
	pthread_rwlock_t lock;       /* the tables below */
	uint64_t generation;         /* moves when a translation is withdrawn */
	struct vd_iommu_ep ep[CVMM_IOMMU_MAX_ENDPOINTS];
	unsigned int nep;
	/* at most one domain per endpoint: domains without endpoints go */
	struct vd_iommu_domain *dom[CVMM_IOMMU_MAX_ENDPOINTS];
	unsigned int ndom;
	uint32_t nmaps;              /* across all domains */
	uint64_t msi_start, msi_end;
	/* the request queue (device thread) */
	struct cvmm_virtq *rq;
	bool active;
	uint64_t requests, requests_failed;
	uint8_t config[40];
	/* watchers run outside the lock but before the change returns;
	 * this serialises them against removal */
	pthread_mutex_t watch_lock;
};

#endif
