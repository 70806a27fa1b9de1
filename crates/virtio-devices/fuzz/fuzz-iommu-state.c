/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the virtio-iommu's saved tables, which reach a VMM in
 * a snapshot file or a migration stream (hostile input). Two endpoints
 * are behind the IOMMU, as in a VM that restores them.
 *
 * Invariants: a refused state leaves the tables as they were (the known
 * mapping still translates to the same address); an accepted one saves
 * back to the same bytes.
 */
#include <cvmm/virtio-devices/iommu.h>
#include <cvmm/vm-memory.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmm_iommu_opts o = { .sz = sizeof(o) };
	const struct cvmm_dma_xlate *x;
	struct cvmm_iommu *io;
	uint64_t gpa;
	int ret;

	if (cvmm_iommu_create(&o, &io))
		abort();
	if (cvmm_iommu_endpoint_add(io, 0x08, &x) || cvmm_iommu_endpoint_add(io, 0x10, &x) ||
	    cvmm_iommu_attach(io, 1, 0x08) ||
	    cvmm_iommu_map(io, 1, 0x100000, 0x100fff, 0x200000, CVMM_VIRTIO_IOMMU_MAP_F_READ))
		abort();
	ret = cvmm_iommu_state_restore(io, data, size);
	if (ret == -ENOMEM) {
		cvmm_iommu_destroy(io);
		return 0;
	}
	if (ret) {
		/* refused whole: the tables are untouched */
		if (cvmm_iommu_translate(io, 0x08, 0x100010, 16, CVMM_DMA_READ, &gpa) || gpa != 0x200010)
			abort();
	} else {
		int n = cvmm_iommu_state_save(io, NULL, 0);
		uint8_t *back;

		if (n < 0 || (size_t)n != size || !(back = malloc((size_t)n)))
			abort();
		if (cvmm_iommu_state_save(io, back, (size_t)n) != n || memcmp(back, data, size))
			abort();
		free(back);
	}
	cvmm_iommu_destroy(io);
	return 0;
}
