/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dirty-page harvest cost against guest size: the "dirty" guest writes the
 * same 1,000 pages (same addresses, 64 MiB..192 MiB) in each of ROUNDS
 * rounds; at each round's sync exit we time one harvest -- fetch every
 * dirty page the kernel knows of and re-arm tracking -- with the dirty log
 * (KVM_GET_DIRTY_LOG per slot), the manual-clear log (GET + CLEAR) and the
 * dirty ring (collect every vCPU's ring + KVM_RESET_DIRTY_RINGS).
 *
 * Usage: bench-dirty GUESTS-DIR [SIZES-GIB...]   (default 1 4 16 64)
 * Output: a Markdown table on stdout. Timing only, never pass/fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmm/sys-util.h>

#include "vm.h"

#define PAGES 1000
#define ROUNDS 15
#define AREA_GPA (64ull << 20)
#define AREA_PAGES (32768ull) /* 128 MiB */

struct ctx {
	unsigned int round;
	double us[ROUNDS];
	long pages[ROUNDS];
	int error;
};

static int on_sync(struct hk_vm *vm, uint32_t cpu, uint8_t value, void *opaque)
{
	struct ctx *c = opaque;
	uint64_t t0 = cvmm_now_ns();
	long n = hk_vm_dirty_collect(vm, NULL, NULL);
	uint64_t t1 = cvmm_now_ns();

	if (n < 0) {
		c->error = (int)n;
		return (int)n;
	}
	if (c->round < ROUNDS) {
		c->us[c->round] = (double)(t1 - t0) / 1e3;
		c->pages[c->round] = n;
	}
	c->round++;
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int measure(const char *image, uint64_t gib, enum hk_dirty_mode mode,
		   double *median, long *pages)
{
	struct ctx c = { 0 };
	struct hk_vm_opts o = {
		.sz = sizeof(o),
		.ncpus = 1,
		.mem_size = gib << 30,
		.dirty = mode,
		.on_sync = on_sync,
		.opaque = &c,
		.args = { AREA_GPA, AREA_PAGES, PAGES | (uint64_t)ROUNDS << 32, 42 },
	};
	struct hk_result r;
	struct hk_vm *vm;
	double sorted[ROUNDS];
	int ret;

	ret = hk_vm_create(&o, &vm);
	if (!ret)
		ret = hk_vm_load(vm, image);
	if (!ret)
		ret = hk_vm_run(vm, &r);
	if (!ret && (r.outcome != HK_EXITED || r.code != 0 || c.error || c.round != ROUNDS))
		ret = -1;
	hk_vm_destroy(vm);
	if (ret)
		return ret;
	memcpy(sorted, c.us, sizeof(sorted));
	qsort(sorted, ROUNDS, sizeof(double), cmp);
	*median = sorted[ROUNDS / 2];
	*pages = c.pages[ROUNDS / 2];
	return 0;
}

int main(int argc, char **argv)
{
	static const uint64_t def_sizes[] = { 1, 4, 16, 64 };
	static const struct { enum hk_dirty_mode m; const char *name; } modes[] = {
		{ HK_DIRTY_LOG, "dirty log" },
		{ HK_DIRTY_CLEAR, "dirty log + manual clear" },
		{ HK_DIRTY_RING, "dirty ring" },
	};
	uint64_t sizes[16];
	size_t nsizes = 0;
	char image[4096];

	if (argc < 2) {
		fprintf(stderr, "usage: bench-dirty GUESTS-DIR [SIZES-GIB...]\n");
		return 1;
	}
	snprintf(image, sizeof(image), "%s/dirty.img", argv[1]);
	for (int i = 2; i < argc && nsizes < 16; i++)
		sizes[nsizes++] = strtoull(argv[i], NULL, 0);
	if (!nsizes)
		for (; nsizes < CVMM_ARRAY_SIZE(def_sizes); nsizes++)
			sizes[nsizes] = def_sizes[nsizes];

	printf("| harvest of %d dirty pages (median of %d rounds, us) |", PAGES, ROUNDS);
	for (size_t s = 0; s < nsizes; s++)
		printf(" %llu GiB |", (unsigned long long)sizes[s]);
	printf("\n|---|");
	for (size_t s = 0; s < nsizes; s++)
		printf("---:|");
	printf("\n");
	for (size_t m = 0; m < CVMM_ARRAY_SIZE(modes); m++) {
		printf("| %s |", modes[m].name);
		fflush(stdout);
		for (size_t s = 0; s < nsizes; s++) {
			double us;
			long pages;

			if (measure(image, sizes[s], modes[m].m, &us, &pages))
				printf(" failed |");
			else
				printf(" %.0f (%ld pages) |", us, pages);
			fflush(stdout);
		}
		printf("\n");
	}
	return 0;
}
