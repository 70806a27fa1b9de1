/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: a virtqueue whose rings and buffers come from the fuzz
 * input. Input = 16-byte header + a guest memory image (up to 64 KiB).
 *
 *   byte 0      mode: bit0 packed, bit1 EVENT_IDX, bit2 INDIRECT_DESC,
 *               bit3 "prefill": the driver helper first lays out valid
 *               chains and the image is XORed over them (so small inputs
 *               mutate well-formed rings instead of starting from zero)
 *   bytes 1-2   queue size
 *   bytes 3-8   desc/avail/used offsets (u16 each) into the image
 *   bytes 9-15  per-chain operation selectors
 *
 * The device side then pops, iterates, reads, writes, pushes, unpops and
 * saves/restores until the queue is empty or broken. Guest RAM is the one
 * 64 KiB region at 0x10000; ASan and the region's guard pages catch any
 * access outside it.
 */
#include <cvmm/virtio-queue.h>
#include <cvmm/virtio-queue/driver.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RAM_GPA 0x10000ull
#define RAM_SIZE 0x10000ull
#define HDR 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cvmm_guest_mem *mem;
static uint8_t *ram;

static void setup(void)
{
	struct cvmm_mem_region_opts o = {
		.sz = sizeof(o), .gpa = RAM_GPA, .size = RAM_SIZE, .backing = CVMM_MEM_ANON,
		.flags = CVMM_MEM_F_GUARD | CVMM_MEM_F_DIRTY_LOG, .fd = -1,
	};
	uint64_t len = RAM_SIZE;

	if (cvmm_guest_mem_create(&mem) || cvmm_guest_mem_add_region(mem, &o))
		abort();
	cvmm_guest_mem_dirty_log_enable(mem, true);
	ram = cvmm_guest_mem_translate(mem, RAM_GPA, &len);
	if (!ram || len != RAM_SIZE)
		abort();
}

static void prefill(uint64_t features, uint16_t qsize, uint64_t desc, uint64_t avail,
		    uint64_t used)
{
	struct cvmm_virtq_driver_opts o = {
		.sz = sizeof(o), .mem = mem, .size = qsize, .features = features,
		.desc_gpa = desc, .avail_gpa = avail, .used_gpa = used,
		.indirect_gpa = RAM_GPA + 0xc000, .indirect_max = 4,
	};
	struct cvmm_virtq_driver *d;
	struct cvmm_virtq_buf out[2] = { { RAM_GPA + 0x8000, 64 }, { RAM_GPA + 0x8100, 16 } };
	struct cvmm_virtq_buf in[2] = { { RAM_GPA + 0x9000, 128 }, { RAM_GPA + 0x9100, 8 } };

	if ((uint64_t)qsize * 4 * 16 > 0x4000)
		o.indirect_max = 0;
	if (cvmm_virtq_driver_create(&o, &d))
		return;
	for (unsigned int i = 0; i < 6; i++)
		cvmm_virtq_driver_add(d, out, i % 3, in, 1 + i % 2,
				      o.indirect_max && (i & 1), i);
	cvmm_virtq_driver_destroy(d);
}

/* Ring positions a packed queue keeps must stay inside its ring: the next
 * pop reads, and the next push writes, at them. */
static void check_positions(const struct cvmm_virtq *q)
{
	if (q->active && q->packed && (q->next_avail >= q->size || q->next_used >= q->size))
		abort();
}

static void process(struct cvmm_virtq *q, const uint8_t *ops, struct cvmm_virtq_chain *held)
{
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_desc d;
	struct cvmm_virtq_rw r, w;
	struct iovec iov[8];
	uint8_t buf[512];
	bool unpopped = false;
	int ret;

	for (unsigned int n = 0; n < 128; n++) {
		uint8_t op = ops[n % 7];

		ret = cvmm_virtq_pop(q, &c);
		if (ret <= 0)
			break;
		switch (op & 3) {
		case 0:
			while (cvmm_virtq_chain_next(&c, &d) > 0)
				;
			cvmm_virtq_chain_rewind(&c);
			cvmm_virtq_chain_next(&c, &d);
			break;
		case 1:
			if (cvmm_virtq_reader_init(&r, &c) == 0)
				cvmm_virtq_reader_read(&r, buf, (size_t)(op >> 2) * 8);
			if (cvmm_virtq_writer_init(&w, &c) == 0) {
				memset(buf, op, sizeof(buf));
				cvmm_virtq_writer_write(&w, buf, sizeof(buf));
			}
			break;
		case 2:
			if (cvmm_virtq_writer_init(&w, &c) == 0) {
				int k = cvmm_virtq_rw_iovec(&w, 1000, iov, 8);

				for (int i = 0; i < k; i++)
					memset(iov[i].iov_base, 0xee, iov[i].iov_len);
				cvmm_virtq_rw_advance(&w, 1000);
			}
			break;
		default:
			cvmm_virtq_chain_lengths(&c, NULL, NULL);
			if (!unpopped && cvmm_virtq_unpop(q, &c) == 0) {
				unpopped = true;
				continue;
			}
			break;
		}
		if (held)
			*held = c;	/* a copy, as a device keeps one in flight */
		cvmm_virtq_push(q, &c, (uint32_t)(op * 3));
		check_positions(q);
		if (op & 0x80)
			cvmm_virtq_needs_notification(q);
	}
	cvmm_virtq_needs_notification(q);
	if (cvmm_virtq_enable_notification(q) > 0)
		cvmm_virtq_disable_notification(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmm_virtq q, q2;
	struct cvmm_virtq_state s;
	struct cvmm_virtq_chain held = { 0 };
	uint64_t features = CVMM_VIRTIO_F_VERSION_1;
	uint16_t qsize;
	uint64_t desc, avail, used;
	size_t img;

	if (!mem)
		setup();
	if (size < HDR)
		return 0;
	if (data[0] & 1)
		features |= CVMM_VIRTIO_F_RING_PACKED;
	if (data[0] & 2)
		features |= CVMM_VIRTIO_F_EVENT_IDX;
	if (data[0] & 4)
		features |= CVMM_VIRTIO_F_INDIRECT_DESC;
	qsize = (uint16_t)(data[1] | data[2] << 8);
	desc = RAM_GPA + (uint16_t)(data[3] | data[4] << 8);
	avail = RAM_GPA + (uint16_t)(data[5] | data[6] << 8);
	used = RAM_GPA + (uint16_t)(data[7] | data[8] << 8);

	memset(ram, 0, RAM_SIZE);
	if (data[0] & 8)
		prefill(features, qsize, desc, avail, used);
	img = size - HDR < RAM_SIZE ? size - HDR : RAM_SIZE;
	for (size_t i = 0; i < img; i++)
		ram[i] ^= data[HDR + i];

	if (cvmm_virtq_init(&q, mem, 1024))
		return 0;
	cvmm_virtq_set_size(&q, qsize);
	cvmm_virtq_set_addrs(&q, desc, avail, used);
	cvmm_virtq_set_features(&q, features);
	if (cvmm_virtq_activate(&q) == 0) {
		process(&q, data + 9, &held);
		/* migrate mid-stream and carry on */
		cvmm_virtq_state_save(&q, &s);
		if (cvmm_virtq_init(&q2, mem, 1024) == 0 && cvmm_virtq_state_restore(&q2, &s) == 0)
			process(&q2, data + 9, NULL);
		/* A device completing (or giving back) a chain after the driver
		 * reset the queue and set it up again with a smaller ring. */
		if (held.q == &q) {
			cvmm_virtq_reset(&q);
			cvmm_virtq_set_size(&q, (uint16_t)(qsize >> (1 + (data[15] & 3))));
			cvmm_virtq_set_addrs(&q, desc, avail, used);
			cvmm_virtq_set_features(&q, features);
			if (cvmm_virtq_activate(&q) == 0) {
				cvmm_virtq_unpop(&q, &held);
				check_positions(&q);
				cvmm_virtq_push(&q, &held, 1);
				check_positions(&q);
				process(&q, data + 9, NULL);
			}
		}
	}
	cvmm_virtq_fini(&q);
	return 0;
}
