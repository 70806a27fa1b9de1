/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: virtio-vsock packets from a hostile guest, through the
 * header parser and the whole device (connection table, credit accounting,
 * control packets, unix sockets), driven directly through the device
 * interface on real guest memory. A host program listens on "<path>_1", so
 * REQUESTs to port 1 open real connections.
 *
 * Input: byte 0 flags (bit0: force a valid source/destination CID and
 * stream type, so packets get past the first checks; bit1: split header
 * and payload over two descriptors; bit2: post receive buffers first), then
 * records of [payload length byte][44 header bytes][payload].
 * Invariants: the parser's verdict matches the header fields, a packet
 * that was accepted has len within its buffer, and the device neither
 * crashes nor marks itself broken on well-formed rings.
 */
#include <cvmm/virtio-devices/vsock.h>
#include <cvmm/virtio-queue/driver.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define RAM_SIZE (1ull << 20)
#define QSIZE 64u
#define CID 3u
#define DATA_GPA 0x40000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cvmm_guest_mem *mem;
static struct cvmm_event_manager *em;
static struct cvmm_vsock *vs;
static int host_l = -1;
static bool broken;

static void on_broken(struct cvmm_virtio_device *dev)
{
	broken = true;
}

static char path[64], host_path[80];

/* libFuzzer leaves through exit(): remove the socket files it made. */
static void cleanup(void)
{
	unlink(path);
	unlink(host_path);
}

static void setup(void)
{
	struct cvmm_mem_region_opts o = {
		.sz = sizeof(o), .gpa = 0, .size = RAM_SIZE, .backing = CVMM_MEM_ANON, .fd = -1,
	};
	struct cvmm_vsock_opts vo = { .sz = sizeof(vo), .guest_cid = CID, .buf_alloc = 8192 };
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	snprintf(path, sizeof(path), "/tmp/cvmm-fuzz-vsock-%d", (int)getpid());
	snprintf(host_path, sizeof(host_path), "%s_1", path);
	cleanup();
	atexit(cleanup);
	memcpy(a.sun_path, host_path, strlen(host_path) + 1);
	if (cvmm_guest_mem_create(&mem) || cvmm_guest_mem_add_region(mem, &o) ||
	    cvmm_event_manager_create(NULL, &em))
		abort();
	vo.em = em;
	vo.uds_path = path;
	if (cvmm_vsock_create(&vo, &vs))
		abort();
	host_l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (host_l < 0 || bind(host_l, (struct sockaddr *)&a, sizeof(a)) || listen(host_l, 64))
		abort();
	cvmm_vsock_device(vs)->broken = on_broken;
}

static void check_parse(const uint8_t *raw, uint64_t payload)
{
	struct cvmm_vsock_hdr h;
	int r = cvmm_vsock_hdr_parse(raw, CVMM_VSOCK_HDR_LEN, payload, CID, &h);

	if (r == 0 && (h.len > payload || h.src_cid != CID ||
		       h.dst_cid != CVMM_VSOCK_HOST_CID || h.type != CVMM_VSOCK_TYPE_STREAM ||
		       h.op < 1 || h.op > 7 || (h.op != CVMM_VSOCK_OP_RW && h.len)))
		abort();
	if (r != 0 && r != -EMSGSIZE && r != -EACCES && r != -EHOSTUNREACH &&
	    r != -EPROTOTYPE && r != -EOPNOTSUPP)
		abort();
}

static struct cvmm_virtq_driver *mkq(struct cvmm_virtq *q, unsigned int i)
{
	uint64_t base = 0x1000ull + i * 0x4000ull;
	struct cvmm_virtq_driver_opts d = {
		.sz = sizeof(d), .mem = mem, .size = QSIZE, .features = CVMM_VIRTIO_F_VERSION_1,
		.desc_gpa = base, .avail_gpa = base + 0x1000, .used_gpa = base + 0x2000,
	};
	struct cvmm_virtq_driver *drv;

	if (cvmm_virtq_init(q, mem, QSIZE))
		abort();
	cvmm_virtq_set_size(q, QSIZE);
	cvmm_virtq_set_addrs(q, d.desc_gpa, d.avail_gpa, d.used_gpa);
	cvmm_virtq_set_features(q, CVMM_VIRTIO_F_VERSION_1);
	if (cvmm_virtq_driver_create(&d, &drv) || cvmm_virtq_activate(q))
		abort();
	return drv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmm_virtio_device *dev;
	struct cvmm_virtq q[3];
	struct cvmm_virtq_driver *drv[3];
	uint64_t gpa = DATA_GPA;
	uint8_t flags;
	size_t pos = 1;
	int s;

	if (!mem)
		setup();
	if (size < 1)
		return 0;
	flags = data[0];
	dev = cvmm_vsock_device(vs);
	for (unsigned int i = 0; i < 3; i++)
		drv[i] = mkq(&q[i], i);
	broken = false;
	if (dev->ops->activate(dev, mem, q, 3, CVMM_VIRTIO_F_VERSION_1))
		abort();
	if (flags & 4) {
		for (unsigned int i = 0; i < 16; i++, gpa += 512) {
			struct cvmm_virtq_buf b = { gpa, i == 0 ? 60 : 512 };

			(void)cvmm_virtq_driver_add(drv[0], NULL, 0, &b, 1, false, i);
		}
	}
	while (pos + 1 + CVMM_VSOCK_HDR_LEN <= size && gpa + 512 <= RAM_SIZE) {
		size_t plen = data[pos];
		uint8_t *p = cvmm_guest_mem_ptr(mem, gpa, CVMM_VSOCK_HDR_LEN + 256);
		struct cvmm_virtq_buf b[2];

		pos++;
		memcpy(p, data + pos, CVMM_VSOCK_HDR_LEN);
		pos += CVMM_VSOCK_HDR_LEN;
		if (plen > size - pos)
			plen = size - pos;
		memcpy(p + CVMM_VSOCK_HDR_LEN, data + pos, plen);
		pos += plen;
		if (flags & 1) {
			memset(p, 0, 16);
			p[0] = CID;
			p[8] = CVMM_VSOCK_HOST_CID;
			p[28] = CVMM_VSOCK_TYPE_STREAM;
			p[29] = 0;
		}
		check_parse(p, plen);
		if (flags & 2) {
			b[0] = (struct cvmm_virtq_buf){ gpa, CVMM_VSOCK_HDR_LEN };
			b[1] = (struct cvmm_virtq_buf){ gpa + CVMM_VSOCK_HDR_LEN, (uint32_t)plen };
			(void)cvmm_virtq_driver_add(drv[1], b, plen ? 2 : 1, NULL, 0, false, 0);
		} else {
			b[0] = (struct cvmm_virtq_buf){ gpa, CVMM_VSOCK_HDR_LEN + (uint32_t)plen };
			(void)cvmm_virtq_driver_add(drv[1], b, 1, NULL, 0, false, 0);
		}
		gpa += 512;
	}
	dev->ops->queue_event(dev, 1);
	/* the host side answers: accept, write, close */
	while ((s = accept4(host_l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		(void)!send(s, "host data", 9, MSG_NOSIGNAL);
		close(s);
	}
	(void)cvmm_event_manager_run_once(em, 0);
	dev->ops->queue_event(dev, 0);
	dev->ops->queue_event(dev, 1);
	/* rings laid out by a correct driver never break the device: only
	 * receive buffers smaller than a header may (the 60-byte one holds
	 * one) */
	if (broken)
		abort();
	dev->ops->reset(dev);
	for (unsigned int i = 0; i < 3; i++) {
		cvmm_virtq_driver_destroy(drv[i]);
		cvmm_virtq_fini(&q[i]);
	}
	return 0;
}
