/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm-virtio-user-bench: drive a vhost-user-blk backend from this process
 * through virtio-user and report IOPS and bandwidth.
 *
 *   cvmm-virtio-user-bench --socket PATH [--rw randread|randwrite|read|write]
 *       [--bs BYTES] [--qd N] [--seconds S] [--size BYTES]
 *
 * Prints one line: "ios=N secs=S iops=I mbps=M".
 */
#include "virtio-user.h"

#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices/blk.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int parse_u64(const char *opt, const char *s, uint64_t *v)
{
	if (cvmm_parse_size(s, v) < 0 || *v == 0) {
		fprintf(stderr, "cvmm-virtio-user-bench: %s: bad value '%s'\n", opt, s);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "rw", required_argument, NULL, 'w' },
		{ "bs", required_argument, NULL, 'b' },
		{ "qd", required_argument, NULL, 'q' },
		{ "seconds", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 'z' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *rw = "randread";
	uint64_t bs = 4096, qd = 1, secs = 5, size = 0, ios = 0, seq = 0;
	struct cvmm_virtio_user *vu;
	bool rnd, wr;
	int opt, ret;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 's': sock = optarg; break;
		case 'w': rw = optarg; break;
		case 'b': if (parse_u64("--bs", optarg, &bs)) return 2; break;
		case 'q': if (parse_u64("--qd", optarg, &qd)) return 2; break;
		case 't': if (parse_u64("--seconds", optarg, &secs)) return 2; break;
		case 'z': if (parse_u64("--size", optarg, &size)) return 2; break;
		default:
			fprintf(stderr, "cvmm-virtio-user-bench: bad option '%s'\n", argv[optind - 1]);
			return 2;
		}
	}
	if (!sock || optind < argc) {
		fprintf(stderr, "cvmm-virtio-user-bench: --socket PATH is required\n");
		return 2;
	}
	rnd = !strncmp(rw, "rand", 4);
	wr = !strcmp(rw + (rnd ? 4 : 0), "write");
	if (!wr && strcmp(rw + (rnd ? 4 : 0), "read")) {
		fprintf(stderr, "cvmm-virtio-user-bench: --rw: randread, randwrite, read or write\n");
		return 2;
	}
	if (bs % 512 || bs > (1u << 20) || qd > 256) {
		fprintf(stderr, "cvmm-virtio-user-bench: --bs must be a multiple of 512 up to 1M, --qd up to 256\n");
		return 2;
	}
	struct cvmm_virtio_user_opts o = { .sz = sizeof(o), .socket = sock, .queue_size = 256,
					   .max_io = (uint32_t)bs, .connect_timeout_ms = 5000 };
	ret = cvmm_virtio_user_create(&o, &vu);
	if (ret < 0) {
		fprintf(stderr, "cvmm-virtio-user-bench: %s: %s\n", sock, strerror(-ret));
		return 1;
	}
	uint64_t blocks = (size ? size / 512 : cvmm_virtio_user_capacity(vu)) / (bs / 512);
	if (blocks == 0) {
		fprintf(stderr, "cvmm-virtio-user-bench: disk smaller than one block\n");
		return 1;
	}
	for (unsigned int s = 0; s < qd; s++)
		memset(cvmm_virtio_user_buf(vu, 0, s), 0x5a, bs);
	uint64_t t0 = cvmm_now_ns(), end = t0 + secs * 1000000000ull, now = t0;
	unsigned int slots[256];
	uint8_t st[256];

	for (unsigned int s = 0; s < qd; s++) {
		uint64_t b = rnd ? next_rand() % blocks : seq++ % blocks;

		ret = cvmm_virtio_user_submit(vu, 0, s, wr ? CVMM_VIRTIO_BLK_T_OUT : CVMM_VIRTIO_BLK_T_IN,
					      b * (bs / 512), (uint32_t)bs);
		if (ret < 0)
			goto err;
	}
	cvmm_virtio_user_kick(vu, 0);
	while (cvmm_virtio_user_in_flight(vu, 0)) {
		int n = cvmm_virtio_user_reap(vu, 0, slots, st, 256, 5000);

		if (n <= 0) {
			ret = n ? n : -ETIMEDOUT;
			goto err;
		}
		now = cvmm_now_ns();
		for (int i = 0; i < n; i++) {
			if (st[i] != CVMM_VIRTIO_BLK_S_OK) {
				ret = -EIO;
				goto err;
			}
			ios++;
			if (now >= end)
				continue;
			uint64_t b = rnd ? next_rand() % blocks : seq++ % blocks;

			ret = cvmm_virtio_user_submit(vu, 0, slots[i],
						      wr ? CVMM_VIRTIO_BLK_T_OUT : CVMM_VIRTIO_BLK_T_IN,
						      b * (bs / 512), (uint32_t)bs);
			if (ret < 0)
				goto err;
		}
		cvmm_virtio_user_kick(vu, 0);
	}
	double el = (double)(now - t0) / 1e9;
	printf("ios=%llu secs=%.3f iops=%.0f mbps=%.1f\n", (unsigned long long)ios, el,
	       ios / el, ios * (double)bs / el / 1e6);
	cvmm_virtio_user_destroy(vu);
	return 0;
err:
	fprintf(stderr, "cvmm-virtio-user-bench: I/O failed: %s\n", strerror(-ret));
	cvmm_virtio_user_destroy(vu);
	return 1;
}
