/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the virtio-blk request parser and the synchronous
 * executor over a guest memory image taken from the fuzz input.
 * Input = 8-byte header + a guest memory image (up to 64 KiB):
 *
 *   byte 0      bit0 packed ring, bit1 INDIRECT_DESC, bit2 read-only disk,
 *               bit3 DISCARD+WRITE_ZEROES negotiated, bit4 "prefill": the
 *               driver helper first lays out well-formed blk requests and
 *               the image is XORed over them
 *   bytes 1-2   queue size
 *   bytes 3-7   request types / sectors used by the prefill
 *
 * Guest RAM is one 64 KiB region with guard pages at 0x10000; the disk is a
 * 32 KiB memfd. Invariants checked: the disk never changes size and a
 * read-only disk never changes content.
 */
#include <cvmm/virtio-devices/blk.h>
#include <cvmm/virtio-queue/driver.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define RAM_GPA 0x10000ull
#define RAM_SIZE 0x10000ull
#define DESC (RAM_GPA)
#define AVAIL (RAM_GPA + 0x1000)
#define USED (RAM_GPA + 0x2000)
#define IND (RAM_GPA + 0x3000)
#define HDR 8
#define DISK 32768

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cvmm_guest_mem *mem;
static uint8_t *ram;
static int disk_fd;
static struct cvmm_blk_backend *be_rw, *be_ro;
static uint8_t golden[DISK];

static void setup(void)
{
	struct cvmm_mem_region_opts o = {
		.sz = sizeof(o), .gpa = RAM_GPA, .size = RAM_SIZE, .backing = CVMM_MEM_ANON,
		.flags = CVMM_MEM_F_GUARD, .fd = -1,
	};
	struct cvmm_blk_backend_opts b = {
		.sz = sizeof(b), .engine = CVMM_BLK_ENGINE_SYNC,
	};
	uint64_t len = RAM_SIZE;

	if (cvmm_guest_mem_create(&mem) || cvmm_guest_mem_add_region(mem, &o))
		abort();
	ram = cvmm_guest_mem_translate(mem, RAM_GPA, &len);
	if (!ram || len != RAM_SIZE)
		abort();
	disk_fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
	for (unsigned int i = 0; i < DISK; i++)
		golden[i] = (uint8_t)(i * 13 + 1);
	if (disk_fd < 0 || pwrite(disk_fd, golden, DISK, 0) != DISK)
		abort();
	b.fd = disk_fd;
	if (cvmm_blk_backend_open(&b, &be_rw))
		abort();
	b.read_only = true;
	if (cvmm_blk_backend_open(&b, &be_ro))
		abort();
}

static void prefill(uint64_t features, uint16_t qsize, const uint8_t *h)
{
	struct cvmm_virtq_driver_opts o = {
		.sz = sizeof(o), .mem = mem, .size = qsize, .features = features,
		.desc_gpa = DESC, .avail_gpa = AVAIL, .used_gpa = USED,
		.indirect_gpa = IND, .indirect_max = 4,
	};
	static const uint32_t types[8] = { 0, 1, 4, 8, 11, 13, 0, 1 };
	struct cvmm_virtq_driver *d;

	if ((uint64_t)qsize * 4 * 16 > 0x5000)
		o.indirect_max = 0;
	if (cvmm_virtq_driver_create(&o, &d))
		return;
	for (unsigned int i = 0; i < 5; i++) {
		uint64_t hdr = RAM_GPA + 0x8000 + 16 * i;
		uint32_t type = types[(h[i] >> 5) & 7];
		uint64_t sector = h[i] & 0x3f;
		struct cvmm_virtq_buf out[2] = { { hdr, 16 }, { RAM_GPA + 0x9000, 1024 } };
		struct cvmm_virtq_buf in[2] = { { RAM_GPA + 0xa000, 1024 },
						{ RAM_GPA + 0xb000 + i, 1 } };

		memcpy(ram + (hdr - RAM_GPA), &type, 4);
		memset(ram + (hdr - RAM_GPA) + 4, 0, 4);
		memcpy(ram + (hdr - RAM_GPA) + 8, &sector, 8);
		if (type == 1 || type == 11 || type == 13)
			cvmm_virtq_driver_add(d, out, 2, &in[1], 1,
					      o.indirect_max && (i & 1), i);
		else
			cvmm_virtq_driver_add(d, out, 1, in, 2, o.indirect_max && (i & 1), i);
	}
	cvmm_virtq_driver_destroy(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmm_blk_disk_info disk;
	struct cvmm_blk_backend *be;
	static struct cvmm_blk_request req;
	struct cvmm_virtq_chain c;
	struct cvmm_virtq q;
	uint64_t features = CVMM_VIRTIO_F_VERSION_1;
	uint16_t qsize;
	struct stat st;
	bool ro;
	int r;

	if (!mem)
		setup();
	if (size < HDR)
		return 0;
	ro = data[0] & 4;
	be = ro ? be_ro : be_rw;
	if (data[0] & 1)
		features |= CVMM_VIRTIO_F_RING_PACKED;
	if (data[0] & 2)
		features |= CVMM_VIRTIO_F_INDIRECT_DESC;
	if (data[0] & 8)
		features |= CVMM_VIRTIO_BLK_F_DISCARD | CVMM_VIRTIO_BLK_F_WRITE_ZEROES;
	qsize = (uint16_t)(data[1] | data[2] << 8) % 257;

	memset(ram, 0, RAM_SIZE);
	if (data[0] & 0x10)
		prefill(features, qsize, data + 3);
	for (size_t i = 0; i < size - HDR && i < RAM_SIZE; i++)
		ram[i] ^= data[HDR + i];

	if (cvmm_virtq_init(&q, mem, 256))
		abort();
	cvmm_virtq_set_size(&q, qsize);
	cvmm_virtq_set_addrs(&q, DESC, AVAIL, USED);
	cvmm_virtq_set_features(&q, features);
	if (cvmm_virtq_activate(&q) == 0) {
		disk.capacity = cvmm_blk_backend_capacity(be);
		disk.features = features;
		disk.read_only = ro;
		for (unsigned int n = 0; n < 600; n++) {
			r = cvmm_virtq_pop(&q, &c);
			if (r <= 0)
				break;
			r = cvmm_blk_request_parse(&req, &c, mem, &disk);
			if (r < 0) {
				if (!cvmm_virtq_broken(&q))
					cvmm_virtq_push(&q, &c, 0);
				break;
			}
			if (req.executable && cvmm_blk_backend_submit(be, &req) != 1)
				abort(); /* the sync engine always completes */
			if (cvmm_blk_request_complete(&req) < 0)
				break;
		}
		(void)cvmm_virtq_needs_notification(&q);
	}
	cvmm_virtq_fini(&q);

	if (fstat(disk_fd, &st) || st.st_size != DISK)
		abort();
	if (ro) {
		static uint8_t now[DISK];

		if (pread(disk_fd, now, DISK, 0) != DISK || memcmp(now, golden, DISK))
			abort();
	} else {
		/* restore the golden image so read-only runs can compare */
		if (pwrite(disk_fd, golden, DISK, 0) != DISK)
			abort();
	}
	return 0;
}
