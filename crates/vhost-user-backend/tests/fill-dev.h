/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The toy device of the framework's tests and fuzz target: the first
 * readable byte of a chain is a seed, and its writable part becomes
 * seed, seed + 1, ... so the driver side can check every byte it gets.
 */
#ifndef CVMM_VUB_TEST_FILL_DEV_H
#define CVMM_VUB_TEST_FILL_DEV_H

#include <cvmm/vhost-user-backend.h>
#include <cvmm/virtio-queue.h>

static inline int fill_chain(void *opaque, struct cvmm_vub_vring *vr, struct cvmm_virtq_chain *c)
{
	struct cvmm_virtq_rw rd, wr;
	uint8_t seed = 0, buf[256];
	uint64_t n;
	int r;

	(void)opaque;
	if ((r = cvmm_virtq_reader_init(&rd, c)) < 0 || (r = cvmm_virtq_writer_init(&wr, c)) < 0)
		return r;
	(void)cvmm_virtq_reader_read(&rd, &seed, 1);
	n = cvmm_virtq_rw_remaining(&wr);
	for (uint64_t off = 0; off < n; off += sizeof(buf)) {
		size_t k = n - off < sizeof(buf) ? n - off : sizeof(buf);

		for (size_t i = 0; i < k; i++)
			buf[i] = (uint8_t)(seed + off + i);
		(void)cvmm_virtq_writer_write(&wr, buf, k);
	}
	return cvmm_vub_vring_push(vr, c, (uint32_t)cvmm_virtq_rw_done(&wr));
}

static inline void fill_kick(void *opaque, struct cvmm_vub_vring *vr)
{
	(void)cvmm_vub_vring_drain(vr, fill_chain, opaque);
}

static const struct cvmm_vub_device_ops fill_ops = {
	.sz = sizeof(struct cvmm_vub_device_ops),
	.queue_kick = fill_kick,
};

#endif
