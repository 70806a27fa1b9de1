/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes the fuzzer's seed streams into the directory given: small valid
 * streams shaped like a VM's state (vCPUs, irqchip, devices with queues),
 * streamed and in-memory variants. Test-only; the seeds are committed under
 * fuzz/corpus/fuzz-snapshot/, this program is how they were made.
 */
#include <cvmm/snapshot.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int seed(const char *dir, int n, int fd_mode, int sections)
{
	char path[4096], id[CVMM_SNAP_ID_SIZE];
	struct cvmm_snap_writer *w;
	uint8_t data[64];
	int fd, r;

	snprintf(path, sizeof(path), "%s/seed-%02d", dir, n);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	r = cvmm_snap_writer_create(&(struct cvmm_snap_writer_opts){
		.sz = sizeof(struct cvmm_snap_writer_opts), .fd = fd_mode ? fd : -1 }, &w);
	for (int i = 0; !r && i < sections; i++) {
		size_t len = (size_t)(i * 5 + n) % sizeof(data);

		for (size_t k = 0; k < len; k++)
			data[k] = (uint8_t)(k * 13 + i);
		switch (i % 4) {
		case 0: cvmm_snap_id_fmt(id, "vcpu/%d", i / 4); break;
		case 1: cvmm_snap_id_fmt(id, "irqchip/%s%d", i % 8 == 1 ? "ioapic" : "pic", i / 4); break;
		case 2: cvmm_snap_id_fmt(id, "dev/_disk%d/queue/%d", i / 4, i % 3); break;
		default: cvmm_snap_id_fmt(id, "dev/_net%d", i / 4); break;
		}
		r = cvmm_snap_write(w, id, (uint32_t)(i % 3 + 1), data, len);
	}
	if (!r)
		r = cvmm_snap_writer_finish(w);
	if (!r && !fd_mode) {
		const void *p;
		size_t len;

		cvmm_snap_writer_buffer(w, &p, &len);
		r = write(fd, p, len) == (ssize_t)len ? 0 : -1;
	}
	cvmm_snap_writer_destroy(w);
	close(fd);
	return r;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (int n = 0; n < 8; n++)
		if (seed(argv[1], n, n & 1, 1 + n * 2)) {
			fprintf(stderr, "seed %d failed\n", n);
			return 1;
		}
	return 0;
}
