/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk throughput: the virtio-queue driver helper keeps @qd requests
 * in flight against a cvmm_blk device behind the real virtio-mmio transport;
 * the device runs on its own event-manager thread, completions come back
 * through the irq eventfd (what KVM's irqfd would see).
 *
 *   bench-blk FILE MODE ENGINE QD SECONDS
 *     MODE   randread4k | seqread128k | seqwrite128k | randwrite4k
 *     ENGINE uring | sync
 * Prints: MODE ENGINE qd=QD iops=N mbps=N cpu_us=N
 * cpu_us is the CPU time (user + system, every thread of the process: the
 * driver, the device thread, io_uring's workers) per request; it moves far
 * less than the rates when the machine is shared.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/blk.h>
#include <cvmm/virtio-queue/driver.h>

#define QSIZE 256u
#define DESC 0x10000ull
#define AVAIL 0x14000ull
#define USED 0x18000ull
#define HDRS 0x20000ull
#define DATA 0x100000ull
#define MEM (80ull << 20)

static struct cvmm_event_manager *em;

static void *loop_main(void *arg)
{
	(void)arg;
	(void)cvmm_event_manager_run(em);
	return NULL;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench-blk: %s: %s\n", what, strerror(-r));
	exit(1);
}

static void reg(struct cvmm_virtio_mmio *t, uint32_t off, uint32_t v)
{
	cvmm_virtio_mmio_access(t, off, &v, 4, true);
}

static uint32_t rd(struct cvmm_virtio_mmio *t, uint32_t off)
{
	uint32_t v = 0;

	cvmm_virtio_mmio_access(t, off, &v, 4, false);
	return v;
}

static uint64_t cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int main(int argc, char **argv)
{
	struct cvmm_mem_region_opts ro = { .sz = sizeof(ro), .size = MEM,
					   .backing = CVMM_MEM_ANON, .fd = -1 };
	struct cvmm_blk_opts bo = { .sz = sizeof(bo), .queue_size = QSIZE };
	struct cvmm_virtio_mmio_opts mo = { .sz = sizeof(mo) };
	struct cvmm_virtq_driver_opts dopt = {
		.sz = sizeof(dopt), .size = QSIZE, .desc_gpa = DESC,
		.avail_gpa = AVAIL, .used_gpa = USED,
		.features = CVMM_VIRTIO_F_VERSION_1 | CVMM_VIRTIO_F_EVENT_IDX,
	};
	struct cvmm_guest_mem *mem;
	struct cvmm_blk *blk;
	struct cvmm_virtio_mmio *t;
	struct cvmm_virtq_driver *drv;
	struct pollfd p;
	pthread_t thr;
	const char *mode, *engine;
	uint64_t bs, cap, seq = 0, seed = 0x9e3779b97f4a7c15ull, done = 0, t0, t1, end, c0, c1;
	uint32_t type, qd, secs, st;
	bool rand;
	int r;

	if (argc != 6) {
		fprintf(stderr, "usage: bench-blk FILE MODE ENGINE QD SECONDS\n");
		return 2;
	}
	mode = argv[2];
	engine = argv[3];
	qd = (uint32_t)atoi(argv[4]);
	secs = (uint32_t)atoi(argv[5]);
	if (qd < 1 || qd > 64 || secs < 1)
		return 2;
	bs = strstr(mode, "128k") ? 131072 : 4096;
	rand = strncmp(mode, "rand", 4) == 0;
	type = strstr(mode, "write") ? CVMM_VIRTIO_BLK_T_OUT : CVMM_VIRTIO_BLK_T_IN;

	if ((r = cvmm_guest_mem_create(&mem)) || (r = cvmm_guest_mem_add_region(mem, &ro)))
		die("guest memory", r);
	if ((r = cvmm_event_manager_create(NULL, &em)))
		die("event manager", r);
	bo.em = em;
	bo.backend.sz = sizeof(bo.backend);
	bo.backend.path = argv[1];
	bo.backend.fd = -1;
	bo.backend.engine = strcmp(engine, "sync") ? CVMM_BLK_ENGINE_URING : CVMM_BLK_ENGINE_SYNC;
	if ((r = cvmm_blk_create(&bo, &blk)))
		die("blk", r);
	cap = cvmm_blk_backend_capacity(cvmm_blk_backend(blk)) * 512;
	mo.dev = cvmm_blk_device(blk);
	mo.mem = mem;
	mo.em = em;
	if ((r = cvmm_virtio_mmio_create(&mo, &t)))
		die("transport", r);
	pthread_create(&thr, NULL, loop_main, NULL);

	/* the driver's side of the bring-up */
	reg(t, CVMM_VIRTIO_MMIO_STATUS, 1);
	reg(t, CVMM_VIRTIO_MMIO_STATUS, 3);
	reg(t, CVMM_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg(t, CVMM_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)dopt.features);
	reg(t, CVMM_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg(t, CVMM_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(dopt.features >> 32));
	reg(t, CVMM_VIRTIO_MMIO_STATUS, 11);
	reg(t, CVMM_VIRTIO_MMIO_QUEUE_SEL, 0);
	reg(t, CVMM_VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	reg(t, CVMM_VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)DESC);
	reg(t, CVMM_VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)AVAIL);
	reg(t, CVMM_VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)USED);
	reg(t, CVMM_VIRTIO_MMIO_QUEUE_READY, 1);
	reg(t, CVMM_VIRTIO_MMIO_STATUS, 15);
	while (!cvmm_virtio_mmio_settled(t))
		;
	if (rd(t, CVMM_VIRTIO_MMIO_STATUS) != 15)
		die("bring-up", -EIO);
	dopt.mem = mem;
	if ((r = cvmm_virtq_driver_create(&dopt, &drv)))
		die("driver", r);

	p.fd = cvmm_virtio_mmio_irq_fd(t);
	p.events = POLLIN;
	c0 = cpu_us();
	t0 = cvmm_now_ns();
	end = t0 + (uint64_t)secs * 1000000000ull;
	for (uint32_t slot = 0;; ) {
		uint64_t tok, v;
		uint32_t len;

		/* keep qd requests in flight */
		while (cvmm_virtq_driver_in_flight(drv) < qd && cvmm_now_ns() < end) {
			uint64_t off = rand ? (rnd(&seed) % (cap / bs)) * bs : seq;
			uint64_t h = HDRS + 32ull * slot;
			struct cvmm_virtq_buf hb = { h, 16 }, db = { DATA + bs * slot, (uint32_t)bs };
			struct cvmm_virtq_buf sb = { h + 16, 1 };
			struct cvmm_virtq_buf out[2] = { hb, db }, in[2] = { db, sb };
			uint64_t sector = off / 512;

			seq = (seq + bs) % (cap - cap % bs);
			cvmm_guest_mem_write(mem, h, &type, 4);
			cvmm_guest_mem_write(mem, h + 8, &sector, 8);
			if (type == CVMM_VIRTIO_BLK_T_OUT)
				r = cvmm_virtq_driver_add(drv, out, 2, &sb, 1, false, slot);
			else
				r = cvmm_virtq_driver_add(drv, &hb, 1, in, 2, false, slot);
			if (r)
				die("add", r);
			slot = (slot + 1) % 64;
		}
		if (cvmm_virtq_driver_kick_needed(drv))
			reg(t, CVMM_VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		if (!cvmm_virtq_driver_in_flight(drv))
			break;
		if (poll(&p, 1, 1000) == 1)
			(void)cvmm_eventfd_read(p.fd, &v);
		v = rd(t, CVMM_VIRTIO_MMIO_INTERRUPT_STATUS);
		reg(t, CVMM_VIRTIO_MMIO_INTERRUPT_ACK, (uint32_t)v);
		while ((r = cvmm_virtq_driver_get_used(drv, &tok, &len)) == 1) {
			cvmm_guest_mem_read(mem, HDRS + 32 * tok + 16, &st, 1);
			if ((st & 0xff) != CVMM_VIRTIO_BLK_S_OK)
				die("request status", -EIO);
			done++;
		}
		if (r < 0)
			die("get_used", r);
		(void)cvmm_virtq_driver_enable_cb(drv);
	}
	t1 = cvmm_now_ns();
	c1 = cpu_us();
	printf("%s %s qd=%u iops=%.0f mbps=%.1f cpu_us=%.2f\n", mode, engine, qd,
	       done * 1e9 / (double)(t1 - t0),
	       done * (double)bs * 1e9 / (double)(t1 - t0) / 1e6,
	       done ? (double)(c1 - c0) / (double)done : 0.0);
	cvmm_event_manager_stop(em);
	pthread_join(thr, NULL);
	cvmm_virtq_driver_destroy(drv);
	cvmm_virtio_mmio_destroy(t);
	cvmm_blk_destroy(blk);
	cvmm_event_manager_destroy(em);
	cvmm_guest_mem_destroy(mem);
	return 0;
}
