/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Throughput of the state format's hot parts: CRC32C alone, writing a
 * stream of 64 MiB in 1 MiB sections to memory, and opening (validating)
 * it. Built on demand (make crates/snapshot/tests/snapshot-bench); prints
 * MB/s, best of five. Not a test: timing never decides anything here.
 */
#include <cvmm/snapshot.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOTAL (64u << 20)
#define CHUNK (1u << 20)

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void)
{
	uint8_t *buf = malloc(TOTAL);
	double best_crc = 1e9, best_w = 1e9, best_r = 1e9;
	volatile uint32_t sink = 0;

	if (!buf)
		return 1;
	for (size_t i = 0; i < TOTAL; i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	for (int rep = 0; rep < 5; rep++) {
		struct cvmm_snap_writer *w;
		struct cvmm_snap_reader *r;
		const void *p;
		size_t len;
		char id[CVMM_SNAP_ID_SIZE];
		double t0 = now();

		sink ^= cvmm_snap_crc32c(0, buf, TOTAL);
		double t1 = now();

		if (cvmm_snap_writer_create(NULL, &w))
			return 1;
		for (unsigned int i = 0; i < TOTAL / CHUNK; i++) {
			cvmm_snap_id_fmt(id, "mem/%u", i);
			if (cvmm_snap_write(w, id, 1, buf + (size_t)i * CHUNK, CHUNK))
				return 1;
		}
		if (cvmm_snap_writer_finish(w) || cvmm_snap_writer_buffer(w, &p, &len))
			return 1;
		double t2 = now();

		if (cvmm_snap_reader_open(p, len, &r, NULL))
			return 1;
		double t3 = now();

		cvmm_snap_reader_destroy(r);
		cvmm_snap_writer_destroy(w);
		if (t1 - t0 < best_crc)
			best_crc = t1 - t0;
		if (t2 - t1 < best_w)
			best_w = t2 - t1;
		if (t3 - t2 < best_r)
			best_r = t3 - t2;
	}
	printf("crc32c (slice-by-8)          %7.0f MB/s\n", TOTAL / best_crc / 1e6);
	printf("write 64 x 1 MiB to memory   %7.0f MB/s\n", TOTAL / best_w / 1e6);
	printf("open (validate) that stream  %7.0f MB/s\n", TOTAL / best_r / 1e6);
	free(buf);
	return (int)(sink & 0);
}
