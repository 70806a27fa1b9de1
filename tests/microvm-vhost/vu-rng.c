/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vu-rng SOCKET: a vhost-user virtio-rng backend (device id 4, one queue)
 * for the tests, on the vhost-user-backend framework: every writable byte
 * of a request gets getrandom()'s bytes. It lets the virtio-rng test guest,
 * which checks that the used-buffer interrupt reaches its I/O APIC pin with
 * the used bit in InterruptStatus, run against a backend that signals the
 * guest's irqfd itself. Serves until SIGTERM.
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <cvmm/vhost-user-backend.h>
#include <cvmm/virtio-queue.h>

/* The writable part of each chain gets random bytes. */
static int rng_chain(void *opaque, struct cvmm_vub_vring *vr, struct cvmm_virtq_chain *c)
{
	struct cvmm_virtq_rw wr;
	uint8_t buf[256];
	uint64_t n;
	int r;

	(void)opaque;
	if ((r = cvmm_virtq_writer_init(&wr, c)) < 0)
		return r;
	n = cvmm_virtq_rw_remaining(&wr);
	for (uint64_t off = 0; off < n; off += sizeof(buf)) {
		size_t k = n - off < sizeof(buf) ? n - off : sizeof(buf);

		if (getrandom(buf, k, 0) != (ssize_t)k)
			memset(buf, 0, k);
		(void)cvmm_virtq_writer_write(&wr, buf, k);
	}
	return cvmm_vub_vring_push(vr, c, (uint32_t)cvmm_virtq_rw_done(&wr));
}

static void rng_kick(void *opaque, struct cvmm_vub_vring *vr)
{
	(void)cvmm_vub_vring_drain(vr, rng_chain, opaque);
}

static const struct cvmm_vub_device_ops rng_ops = {
	.sz = sizeof(struct cvmm_vub_device_ops),
	.queue_kick = rng_kick,
};

int main(int argc, char **argv)
{
	struct cvmm_vub_opts o = {
		.sz = sizeof(o),
		.listen_fd = -1,
		.flags = CVMM_VUB_F_SIGNALS,
		.num_queues = 1,
		.ops = &rng_ops,
	};
	struct cvmm_vub *d;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: vu-rng SOCKET\n");
		return 2;
	}
	o.socket_path = argv[1];
	r = cvmm_vub_create(&o, &d);
	if (r < 0) {
		fprintf(stderr, "vu-rng: socket: '%s': %s\n", argv[1], strerror(-r));
		return 1;
	}
	r = cvmm_vub_serve(d);
	cvmm_vub_destroy(d);
	return r < 0;
}
