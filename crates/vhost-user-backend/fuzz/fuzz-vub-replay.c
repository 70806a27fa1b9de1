/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A frontend hands the framework a hostile inflight region and hostile
 * rings: the input is a mode byte (bit 0: packed ring), the vring base
 * (2 bytes; 4 for a packed ring), the used index, the descriptor table
 * (packed: descriptor ring), the avail ring (packed: its first 4 bytes are
 * the driver event suppression area) and queue 0's inflight record (which
 * a packed ring must leave alone). The framework
 * (with a small device that fills each chain's writable part) starts the
 * vring, resubmits whatever the region claims is in flight, serves the
 * ring, and stops it on GET_VRING_BASE. Nothing may crash, hang or touch
 * memory outside the mappings.
 */
#include <cvmm/sys-util.h>
#include <cvmm/vhost-user-backend.h>
#include <cvmm/vhost.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../tests/fill-dev.h"

#define QSIZE 64u
#define MEM (1ull << 20)
#define DESC 0x1000ull
#define AVAIL 0x2000ull
#define USED 0x3000ull
#define PF(b) CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_##b)


static struct cvmm_vub *vub;
static char sock_path[128];
static int mem_fd = -1, inflight_fd = -1, kick_fd = -1, call_fd = -1;
static uint8_t *mem;
static uint64_t inflight_size;

static void *serve_main(void *arg)
{
	(void)arg;
	(void)cvmm_vub_serve(vub);
	return NULL;
}

static void setup_once(void)
{
	pthread_t th;

	snprintf(sock_path, sizeof(sock_path), "/tmp/cvmm-fuzz-vub-%d.sock", (int)getpid());
	struct cvmm_vub_opts o = { .sz = sizeof(o), .socket_path = sock_path, .listen_fd = -1,
				   .num_queues = 1, .ops = &fill_ops };
	if (cvmm_vub_create(&o, &vub) < 0 || pthread_create(&th, NULL, serve_main, NULL))
		abort();
	mem_fd = memfd_create("fuzz-mem", MFD_CLOEXEC);
	if (mem_fd < 0 || ftruncate(mem_fd, MEM) < 0)
		abort();
	mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd, 0);
	kick_fd = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	call_fd = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	inflight_size = (16 + 16 * QSIZE + 63) & ~63ull;
	inflight_fd = memfd_create("fuzz-inflight", MFD_CLOEXEC);
	if (mem == MAP_FAILED || kick_fd < 0 || call_fd < 0 || inflight_fd < 0 ||
	    ftruncate(inflight_fd, (off_t)inflight_size) < 0)
		abort();
}

static void take(const uint8_t **d, size_t *n, void *dst, size_t len)
{
	size_t k = *n < len ? *n : len;

	memset(dst, 0, len);
	memcpy(dst, *d, k);
	*d += k;
	*n -= k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmm_vhost_frontend *fe;
	struct cvmm_vhost_mem_region r = { .guest_phys_addr = 0, .memory_size = MEM };
	uint16_t used_idx;
	uint32_t base = 0;
	uint8_t mode;
	bool packed;
	unsigned int got;
	uint64_t f;
	uint8_t rec[(16 + 16 * QSIZE + 63) & ~63u];
	int sock;

	if (!vub)
		setup_once();
	memset(mem, 0, 0x4000);
	take(&data, &size, &mode, 1);
	packed = mode & 1;
	take(&data, &size, &base, packed ? 4 : 2);
	take(&data, &size, &used_idx, 2);
	take(&data, &size, mem + DESC, 16 * QSIZE);
	take(&data, &size, mem + AVAIL, 4 + 2 * QSIZE);
	memcpy(mem + USED + 2, &used_idx, 2);
	take(&data, &size, rec, sizeof(rec));
	/* Mostly a well-formed header, so the fuzzer spends its time on the
	 * flags, counters and heads (base bit 15 leaves the header alone). */
	if (!(base & 0x8000)) {
		uint16_t v = 1, n = QSIZE;

		memcpy(rec + 8, &v, 2);
		memcpy(rec + 10, &n, 2);
	}
	if (pwrite(inflight_fd, rec, sizeof(rec), 0) != (ssize_t)sizeof(rec))
		abort();

	sock = cvmm_unix_connect(sock_path);
	if (sock < 0 || cvmm_vhost_frontend_create(sock, &fe) < 0)
		abort();
	r.userspace_addr = (uintptr_t)mem;
	struct cvmm_vhost_vring_addr_wire a = {
		.index = 0, .desc_user_addr = (uintptr_t)mem + DESC,
		.avail_user_addr = (uintptr_t)mem + AVAIL, .used_user_addr = (uintptr_t)mem + USED,
	};
	if (cvmm_vhost_frontend_get_features(fe, &f) == 0 &&
	    cvmm_vhost_frontend_set_protocol_features(fe, PF(INFLIGHT_SHMFD) | PF(REPLY_ACK)) == 0 &&
	    cvmm_vhost_frontend_set_features(fe, f & (CVMM_VIRTIO_F_VERSION_1 |
						      CVMM_VIRTIO_F_EVENT_IDX |
						      CVMM_VIRTIO_F_INDIRECT_DESC |
						      (packed ? CVMM_VIRTIO_F_RING_PACKED : 0) |
						      CVMM_VHOST_F_PROTOCOL_FEATURES)) == 0 &&
	    cvmm_vhost_frontend_set_mem_table_raw(fe, &r, &mem_fd, 1) == 0 &&
	    /* accepted, and unused by a packed ring */
	    cvmm_vhost_frontend_set_inflight_fd(fe, inflight_fd, inflight_size, 0, 1, QSIZE) == 0 &&
	    cvmm_vhost_frontend_set_vring_num(fe, 0, QSIZE) == 0 &&
	    cvmm_vhost_frontend_set_vring_base(fe, 0, base) == 0 &&
	    cvmm_vhost_frontend_set_vring_addr(fe, &a) == 0 &&
	    cvmm_vhost_frontend_set_vring_kick(fe, 0, kick_fd) == 0 &&
	    cvmm_vhost_frontend_set_vring_call(fe, 0, call_fd) == 0 &&
	    cvmm_vhost_frontend_set_vring_enable(fe, 0, true) == 0) {
		(void)cvmm_eventfd_write(kick_fd, 1);
		/* stops the ring on its worker: everything started is done */
		(void)cvmm_vhost_frontend_get_vring_base(fe, 0, &got);
	}
	cvmm_vhost_frontend_destroy(fe);
	return 0;
}
