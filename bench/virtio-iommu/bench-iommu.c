/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the virtio-iommu costs a device: the same drain as
 * bench/virtio-queue/bench-virtq (pop a chain, walk its descriptors, push
 * it back, one notification decision per batch), with the queue behind a
 * virtio-iommu endpoint or not. Behind it, every ring and buffer address
 * goes through the endpoint's translation (shared lock, binary search in
 * the domain's mappings) and pop walks each chain once more to refuse
 * unmapped buffers. Guest memory is mapped one to one (IOVA = GPA) as one
 * mapping, plus MAPS - 1 more mappings above it so the search has depth.
 *
 *   bench-iommu MODE MAPS [CHAINS [BATCH]]
 *   MODE: split-1 split-3 split-ind; MAPS: 0 = no IOMMU, else mappings
 *
 * run.sh counts bench_device_drain()'s instructions under callgrind and
 * also prints chains per second (wall clock, no callgrind).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cvmm/virtio-devices/iommu.h>
#include <cvmm/virtio-queue.h>
#include <cvmm/virtio-queue/driver.h>

#include "virtq-drain.h"

#define RAM (4ull << 20)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "split-1";
	unsigned long maps = argc > 2 ? strtoul(argv[2], NULL, 0) : 0;
	unsigned long chains = argc > 3 ? strtoul(argv[3], NULL, 0) : 100000;
	unsigned long batch = argc > 4 ? strtoul(argv[4], NULL, 0) : 32;
	bool indirect = strstr(mode, "-ind") != NULL;
	unsigned int nparts = strstr(mode, "-1") ? 1 : 3;
	struct cvmm_mem_region_opts ro = {
		.sz = sizeof(ro), .gpa = 0, .size = RAM, .backing = CVMM_MEM_ANON, .fd = -1,
	};
	uint64_t features = CVMM_VIRTIO_F_VERSION_1 | CVMM_VIRTIO_F_EVENT_IDX |
			    CVMM_VIRTIO_F_INDIRECT_DESC;
	struct cvmm_virtq_driver_opts o = {
		.sz = sizeof(o), .size = 256, .features = features,
		.desc_gpa = 0x10000, .avail_gpa = 0x20000, .used_gpa = 0x30000,
		.indirect_gpa = 0x100000, .indirect_max = 4,
	};
	struct cvmm_virtq_buf out[2] = { { 0x200000, 16 }, { 0x201000, 4096 } };
	struct cvmm_virtq_buf in[1] = { { 0x202000, 1 } };
	struct cvmm_iommu_opts io_o = { .sz = sizeof(io_o) };
	const struct cvmm_dma_xlate *x = NULL;
	struct cvmm_guest_mem *mem;
	struct cvmm_virtq_driver *drv;
	struct cvmm_iommu *io = NULL;
	struct cvmm_virtq q;
	uint64_t sum = 0, tok;
	uint32_t len;
	double t0;

	if (cvmm_guest_mem_create(&mem) || cvmm_guest_mem_add_region(mem, &ro)) {
		fprintf(stderr, "bench-iommu: guest memory setup failed\n");
		return 1;
	}
	if (maps) {
		if (cvmm_iommu_create(&io_o, &io) || cvmm_iommu_endpoint_add(io, 8, &x) ||
		    cvmm_iommu_attach(io, 1, 8) ||
		    cvmm_iommu_map(io, 1, 0, RAM - 1, 0, CVMM_VIRTIO_IOMMU_MAP_F_READ |
						       CVMM_VIRTIO_IOMMU_MAP_F_WRITE)) {
			fprintf(stderr, "bench-iommu: IOMMU setup failed\n");
			return 1;
		}
		for (unsigned long i = 1; i < maps; i++)
			if (cvmm_iommu_map(io, 1, RAM + i * 0x2000, RAM + i * 0x2000 + 0xfff,
					   0, CVMM_VIRTIO_IOMMU_MAP_F_READ)) {
				fprintf(stderr, "bench-iommu: mapping %lu failed\n", i);
				return 1;
			}
	}
	o.mem = mem;
	if (cvmm_virtq_driver_create(&o, &drv) || cvmm_virtq_init(&q, mem, 256)) {
		fprintf(stderr, "bench-iommu: queue setup failed\n");
		return 1;
	}
	cvmm_virtq_set_dma(&q, x);
	cvmm_virtq_set_size(&q, 256);
	cvmm_virtq_set_addrs(&q, o.desc_gpa, o.avail_gpa, o.used_gpa);
	cvmm_virtq_set_features(&q, features);
	if (cvmm_virtq_activate(&q)) {
		fprintf(stderr, "bench-iommu: activate failed\n");
		return 1;
	}
	if (batch == 0 || batch > 256 || (!indirect && nparts * batch > 256) || chains % batch) {
		fprintf(stderr, "bench-iommu: bad batch size %lu\n", batch);
		return 1;
	}
	cvmm_virtq_driver_enable_cb(drv);
	t0 = now();
	for (unsigned long i = 0; i < chains; i += batch) {
		for (unsigned long k = i; k < i + batch; k++) {
			int r = nparts == 1 ? cvmm_virtq_driver_add(drv, out, 1, NULL, 0, false, k)
					    : cvmm_virtq_driver_add(drv, out, 2, in, 1, indirect, k);

			if (r) {
				fprintf(stderr, "bench-iommu: add failed: %d\n", r);
				return 1;
			}
		}
		sum += bench_device_drain(&q);
		for (unsigned long k = i; k < i + batch; k++)
			if (cvmm_virtq_driver_get_used(drv, &tok, &len) != 1 || tok != k ||
			    len == 0) {
				fprintf(stderr, "bench-iommu: chain %lu went wrong\n", k);
				return 1;
			}
		cvmm_virtq_driver_enable_cb(drv);
	}
	t0 = now() - t0;
	if (cvmm_virtq_broken(&q) || q.dma_faults) {
		fprintf(stderr, "bench-iommu: queue broken or DMA refused\n");
		return 1;
	}
	printf("%s maps=%lu chains=%lu batch=%lu checksum=%llu chains_per_s=%.0f\n", mode, maps,
	       chains, batch, (unsigned long long)sum, chains / t0);
	cvmm_virtq_fini(&q);
	cvmm_virtq_driver_destroy(drv);
	cvmm_iommu_destroy(io);
	cvmm_guest_mem_destroy(mem);
	return 0;
}
