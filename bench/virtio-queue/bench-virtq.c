/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Virtqueue processing cost: the device side drains the queue the way a
 * device does after a kick: pop a chain, walk all its descriptors, push it
 * back, and after the batch decide once whether to interrupt. The measured
 * work is bench_device_drain() alone (run-bench.sh gives it to callgrind
 * with --toggle-collect), so the driver-side helper that refills the ring
 * costs nothing in the figure.
 *
 *   bench-virtq MODE [CHAINS [BATCH]]
 *   MODE: split-1 split-3 split-ind packed-1 packed-3 packed-ind
 *   BATCH: chains the driver adds per kick (default 32, at most 256)
 *
 * Prints the checksum of what the device saw, so the work cannot be
 * optimised away and a wrong walk shows up.
 */
#include <cvmm/virtio-queue.h>
#include <cvmm/virtio-queue/driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtq-drain.h"

#define RAM (4ull << 20)

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "split-1";
	unsigned long chains = argc > 2 ? strtoul(argv[2], NULL, 0) : 100000;
	unsigned long batch = argc > 3 ? strtoul(argv[3], NULL, 0) : 32;
	bool packed = strncmp(mode, "packed", 6) == 0;
	bool indirect = strstr(mode, "-ind") != NULL;
	unsigned int nparts = strstr(mode, "-1") ? 1 : 3;
	struct cvmm_mem_region_opts ro = {
		.sz = sizeof(ro), .gpa = 0, .size = RAM, .backing = CVMM_MEM_ANON, .fd = -1,
	};
	uint64_t features = CVMM_VIRTIO_F_VERSION_1 | CVMM_VIRTIO_F_EVENT_IDX |
			    CVMM_VIRTIO_F_INDIRECT_DESC | (packed ? CVMM_VIRTIO_F_RING_PACKED : 0);
	struct cvmm_virtq_driver_opts o = {
		.sz = sizeof(o), .size = 256, .features = features,
		.desc_gpa = 0x10000, .avail_gpa = 0x20000, .used_gpa = 0x30000,
		.indirect_gpa = 0x100000, .indirect_max = 4,
	};
	struct cvmm_virtq_buf out[2] = { { 0x200000, 16 }, { 0x201000, 4096 } };
	struct cvmm_virtq_buf in[1] = { { 0x202000, 1 } };
	struct cvmm_guest_mem *mem;
	struct cvmm_virtq_driver *drv;
	struct cvmm_virtq q;
	uint64_t sum = 0, tok;
	uint32_t len;

	if (cvmm_guest_mem_create(&mem) || cvmm_guest_mem_add_region(mem, &ro)) {
		fprintf(stderr, "bench-virtq: guest memory setup failed\n");
		return 1;
	}
	o.mem = mem;
	if (cvmm_virtq_driver_create(&o, &drv) || cvmm_virtq_init(&q, mem, 256)) {
		fprintf(stderr, "bench-virtq: queue setup failed\n");
		return 1;
	}
	cvmm_virtq_set_size(&q, 256);
	cvmm_virtq_set_addrs(&q, o.desc_gpa, o.avail_gpa, o.used_gpa);
	cvmm_virtq_set_features(&q, features);
	if (cvmm_virtq_activate(&q)) {
		fprintf(stderr, "bench-virtq: activate failed\n");
		return 1;
	}
	if (batch == 0 || batch > 256 || (!indirect && nparts * batch > 256) || chains % batch) {
		fprintf(stderr, "bench-virtq: bad batch size %lu\n", batch);
		return 1;
	}
	cvmm_virtq_driver_enable_cb(drv);
	for (unsigned long i = 0; i < chains; i += batch) {
		for (unsigned long k = i; k < i + batch; k++) {
			int r = nparts == 1 ? cvmm_virtq_driver_add(drv, out, 1, NULL, 0, false, k)
					    : cvmm_virtq_driver_add(drv, out, 2, in, 1, indirect, k);

			if (r) {
				fprintf(stderr, "bench-virtq: add failed: %d\n", r);
				return 1;
			}
		}
		sum += bench_device_drain(&q);
		for (unsigned long k = i; k < i + batch; k++) {
			if (cvmm_virtq_driver_get_used(drv, &tok, &len) != 1 || tok != k) {
				fprintf(stderr, "bench-virtq: chain %lu went wrong\n", k);
				return 1;
			}
		}
		cvmm_virtq_driver_enable_cb(drv);
	}
	if (cvmm_virtq_broken(&q)) {
		fprintf(stderr, "bench-virtq: queue broken\n");
		return 1;
	}
#ifdef __OPTIMIZE__
	const int optimized = 1;
#else
	const int optimized = 0;
#endif
	/* instruction counts only mean something for an optimised build */
	printf("%s chains=%lu batch=%lu checksum=%llu optimized=%d\n", mode, chains, batch,
	       (unsigned long long)sum, optimized);
	cvmm_virtq_fini(&q);
	cvmm_virtq_driver_destroy(drv);
	cvmm_guest_mem_destroy(mem);
	return 0;
}
