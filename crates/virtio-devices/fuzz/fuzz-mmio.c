/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: hostile register traffic on the virtio-mmio transport
 * (with an rng device behind it) interleaved with device-thread work.
 * Input = 1-byte op count N, N ops of 8 bytes, then a guest memory image
 * (up to 64 KiB at GPA 0, the rest of RAM is zero):
 *
 *   op byte 0     bit0 write, bits1-2 width (1, 2, 4, 8), bit3 run the loop,
 *                 bit4 also flip state byte (offset) by XOR with byte 3
 *   op bytes 1-2  offset (little endian, any value up to 0x3ff)
 *   op bytes 3-6  value
 *   op byte 7     low bits: repeat count for QueueNotify spam
 *
 * Invariants: FEATURES_OK only ever stands with VERSION_1 and without
 * ACCESS_PLATFORM; a reset (Status 0) followed by the device thread catching
 * up returns the whole transport to its initial saved state. The transport
 * core's restore gets the state the ops left, with the bit-4 flips: it
 * either takes it (and the device then runs from it) or refuses it with a
 * message.
 */
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/console.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RAM_SIZE 0x40000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cvmm_guest_mem *mem;
static uint8_t *ram;
static struct cvmm_event_manager *em;
static struct cvmm_virtio_transport_state initial;

static void setup(void)
{
	struct cvmm_mem_region_opts o = {
		.sz = sizeof(o), .gpa = 0, .size = RAM_SIZE, .backing = CVMM_MEM_ANON,
		.flags = CVMM_MEM_F_GUARD, .fd = -1,
	};
	uint64_t len = RAM_SIZE;

	if (cvmm_guest_mem_create(&mem) || cvmm_guest_mem_add_region(mem, &o) ||
	    cvmm_event_manager_create(NULL, &em))
		abort();
	ram = cvmm_guest_mem_translate(mem, 0, &len);
	if (!ram || len != RAM_SIZE)
		abort();
}

static void check_features(struct cvmm_virtio_mmio *t)
{
	struct cvmm_virtio_transport_state s;

	if (!cvmm_virtio_mmio_settled(t))
		return;
	if (cvmm_virtio_mmio_save(t, &s, NULL, 0) < 0)
		abort();
	if ((s.status & CVMM_VIRTIO_S_FEATURES_OK) &&
	    (!(s.driver_features & CVMM_VIRTIO_F_VERSION_1) ||
	     (s.driver_features & CVMM_VIRTIO_F_ACCESS_PLATFORM)))
		abort();
}

/* The transport's state with the flips of the ops, restored into a fresh
 * transport: taken, or refused with a message. */
static void hostile_restore(struct cvmm_virtio_mmio *t, const uint8_t *data, size_t nops)
{
	struct cvmm_rng_opts ro = { .sz = sizeof(ro), .queue_size = 64,
				    .max_bytes_per_request = 256 };
	struct cvmm_virtio_mmio_opts mo = { .sz = sizeof(mo), .mem = mem, .em = em };
	struct cvmm_virtio_transport_state s;
	struct cvmm_virtio_mmio *t2;
	struct cvmm_rng *rng;
	char err[256];
	uint8_t *b = (uint8_t *)&s;
	int r;

	if (!cvmm_virtio_mmio_settled(t) || cvmm_virtio_mmio_save(t, &s, NULL, 0) < 0)
		return;
	for (size_t i = 0; i < nops; i++) {
		const uint8_t *op = data + 1 + 8 * i;

		if (op[0] & 0x10)
			b[(size_t)(op[1] | op[2] << 8) % sizeof(s)] ^= op[3];
	}
	if (cvmm_rng_create(&ro, &rng))
		abort();
	mo.dev = cvmm_rng_device(rng);
	if (cvmm_virtio_mmio_create(&mo, &t2))
		abort();
	err[0] = 'x';
	r = cvmm_virtio_mmio_restore(t2, &s, NULL, 0, err, sizeof(err));
	if (r == 0 && err[0] != '\0')
		abort();
	if (r < 0 && (err[0] == '\0' || !memchr(err, '\0', sizeof(err))))
		abort();
	if (r == 0)
		while (cvmm_event_manager_run_once(em, 0) > 0)
			;
	cvmm_virtio_mmio_destroy(t2);
	cvmm_rng_destroy(rng);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmm_rng_opts ro = { .sz = sizeof(ro), .queue_size = 64,
				    .max_bytes_per_request = 256 };
	struct cvmm_virtio_mmio_opts mo = { .sz = sizeof(mo) };
	struct cvmm_virtio_transport_state end;
	struct cvmm_virtio_mmio *t;
	struct cvmm_rng *rng;
	size_t nops, img;
	uint32_t zero = 0;

	if (!mem)
		setup();
	if (size < 1)
		return 0;
	nops = data[0];
	if (size < 1 + nops * 8)
		nops = (size - 1) / 8;
	img = size - 1 - nops * 8;
	memset(ram, 0, RAM_SIZE);
	memcpy(ram, data + 1 + nops * 8, img < RAM_SIZE ? img : RAM_SIZE);

	if (cvmm_rng_create(&ro, &rng))
		abort();
	mo.dev = cvmm_rng_device(rng);
	mo.mem = mem;
	mo.em = em;
	if (cvmm_virtio_mmio_create(&mo, &t))
		abort();
	if (initial.version == 0 && cvmm_virtio_mmio_save(t, &initial, NULL, 0) < 0)
		abort();

	for (size_t i = 0; i < nops; i++) {
		const uint8_t *op = data + 1 + 8 * i;
		unsigned int width = 1u << ((op[0] >> 1) & 3);
		uint64_t off = (uint64_t)(op[1] | op[2] << 8) & 0x3ff;
		uint64_t val = 0;

		memcpy(&val, op + 3, 4);
		if (op[0] & 1) {
			unsigned int rep = off == CVMM_VIRTIO_MMIO_QUEUE_NOTIFY ? (op[7] & 7) + 1 : 1;

			for (unsigned int r = 0; r < rep; r++)
				cvmm_virtio_mmio_access(t, off, &val, width, true);
		} else {
			cvmm_virtio_mmio_access(t, off, &val, width, false);
		}
		if (op[0] & 8)
			while (cvmm_event_manager_run_once(em, 0) > 0)
				;
		check_features(t);
	}
	while (cvmm_event_manager_run_once(em, 0) > 0)
		;
	check_features(t);

	hostile_restore(t, data, nops);

	/* reset: everything but the config generation is as created */
	cvmm_virtio_mmio_access(t, CVMM_VIRTIO_MMIO_STATUS, &zero, 4, true);
	while (!cvmm_virtio_mmio_settled(t))
		cvmm_event_manager_run_once(em, 0);
	if (cvmm_virtio_mmio_save(t, &end, NULL, 0) < 0)
		abort();
	end.config_generation = initial.config_generation;
	if (memcmp(&end, &initial, sizeof(end)))
		abort();

	cvmm_virtio_mmio_destroy(t);
	cvmm_rng_destroy(rng);
	return 0;
}
