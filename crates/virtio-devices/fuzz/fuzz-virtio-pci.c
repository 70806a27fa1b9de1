/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: hostile traffic on a virtio-pci transport (rng behind
 * it) in slot 1 of a PCI segment: BAR 0 accesses (common configuration,
 * ISR, notify, MSI-X table and PBA, gaps), configuration-space accesses
 * through ECAM (the PCI_CFG window, MSI-X control, BARs), device-thread
 * turns and device interrupts, in any order and width. Each 8-byte record:
 *
 *   byte 0      op: 0-3 BAR access, 4-5 ECAM access, 6 run the loop,
 *               7 signal queue 0 / config change, 8 hostile restore
 *   byte 1      bit 0 write, bits 1-2 width (1, 2, 4, 8)
 *   bytes 2-3   offset (little endian)
 *   bytes 4-7   value
 *
 * Invariants after each record: FEATURES_OK never stands without
 * VERSION_1; config and queue vectors read back NO_VECTOR or a vector the
 * table has; the PBA has no bit past the last vector. The hostile restore
 * saves the state (when settled), flips one byte and restores it into a
 * fresh transport: taken, or refused with a message.
 */
#include <cvmm/pci.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/console.h>
#include <cvmm/virtio-devices/pci.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RAM_SIZE 0x40000ull
#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cvmm_guest_mem *mem;
static struct cvmm_event_manager *em;
static struct cvmm_virtio_pci_state st;

static void setup(void)
{
	struct cvmm_mem_region_opts o = {
		.sz = sizeof(o), .gpa = 0, .size = RAM_SIZE, .backing = CVMM_MEM_ANON, .fd = -1,
	};

	if (cvmm_guest_mem_create(&mem) || cvmm_guest_mem_add_region(mem, &o) ||
	    cvmm_event_manager_create(NULL, &em))
		abort();
}

static struct cvmm_virtio_pci *make(struct cvmm_rng **rng)
{
	struct cvmm_rng_opts ro = { .sz = sizeof(ro), .queue_size = 64,
				    .max_bytes_per_request = 256 };
	struct cvmm_virtio_pci_opts po = { .sz = sizeof(po), .mem = mem, .em = em };
	struct cvmm_virtio_pci *t;

	CHECK(cvmm_rng_create(&ro, rng) == 0);
	po.dev = cvmm_rng_device(*rng);
	CHECK(cvmm_virtio_pci_create(&po, &t) == 0);
	return t;
}

static void drain(void)
{
	for (int i = 0; i < 64 && cvmm_event_manager_run_once(em, 0) > 0; i++)
		;
}

static void check(struct cvmm_virtio_pci *t)
{
	struct cvmm_virtio_transport *c = cvmm_virtio_pci_transport(t);
	unsigned int nvec = cvmm_virtio_pci_num_vectors(t);
	uint64_t pba = 0;
	uint16_t v;

	if (cvmm_virtio_transport_status(c) & CVMM_VIRTIO_S_FEATURES_OK) {
		cvmm_virtio_transport_reg_write(c, CVMM_VIRTIO_REG_DRIVER_FEATURES_SEL, 1);
		CHECK(cvmm_virtio_transport_reg_read(c, CVMM_VIRTIO_REG_DRIVER_FEATURES) & 1);
	}
	v = cvmm_virtio_pci_config_vector(t);
	CHECK(v == CVMM_VIRTIO_PCI_NO_VECTOR || v < nvec);
	v = cvmm_virtio_pci_queue_vector(t, 0);
	CHECK(v == CVMM_VIRTIO_PCI_NO_VECTOR || v < nvec);
	CHECK(cvmm_virtio_pci_bar_access(t, CVMM_VIRTIO_PCI_MSIX_PBA_OFFSET, &pba, 8, false) == 0);
	CHECK(!(pba >> nvec));
}

static void hostile_restore(struct cvmm_virtio_pci *t, uint32_t off, uint8_t x)
{
	struct cvmm_virtio_pci *t2;
	struct cvmm_rng *rng2;
	char err[256];

	if (!cvmm_virtio_transport_settled(cvmm_virtio_pci_transport(t)) ||
	    cvmm_virtio_pci_save(t, &st, NULL, 0) < 0)
		return;
	((uint8_t *)&st)[off % sizeof(st)] ^= x;
	t2 = make(&rng2);
	err[0] = 0;
	if (cvmm_virtio_pci_restore(t2, &st, NULL, 0, err, sizeof(err)) < 0)
		CHECK(err[0]);
	else
		check(t2);
	drain();
	cvmm_virtio_pci_destroy(t2);
	cvmm_rng_destroy(rng2);
	drain();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmm_pci_segment_opts so = { .sz = sizeof(so), .ecam_base = 0xe0000000 };
	struct cvmm_pci_segment *seg;
	struct cvmm_virtio_pci *t;
	struct cvmm_rng *rng;

	if (!mem)
		setup();
	so.mem = mem;
	CHECK(cvmm_pci_segment_create(&so, &seg) == 0);
	t = make(&rng);
	CHECK(cvmm_pci_segment_add(seg, 1, cvmm_virtio_pci_config(t), NULL, NULL) == 1);
	for (size_t i = 0; i + 8 <= size; i += 8) {
		const uint8_t *r = data + i;
		unsigned int len = 1u << ((r[1] >> 1) & 3);
		uint32_t off = (uint32_t)(r[2] | r[3] << 8);
		uint64_t val = (uint64_t)r[4] | (uint64_t)r[5] << 8 | (uint64_t)r[6] << 16 |
			       (uint64_t)r[7] << 24;
		bool w = r[1] & 1;

		val |= val << 32;
		switch (r[0] % 9) {
		case 0: case 1: case 2: case 3:
			/* Mostly the common configuration and the MSI-X pages. */
			if (r[0] & 0x10)
				off %= 0x40;
			else if (r[0] & 0x20)
				off = CVMM_VIRTIO_PCI_MSIX_TABLE_OFFSET + off % 0x1100;
			CHECK(cvmm_virtio_pci_bar_access(t, off % (CVMM_VIRTIO_PCI_BAR_SIZE + 0x100),
							 &val, len, w) == 0);
			break;
		case 4: case 5:
			cvmm_pci_segment_ecam(seg, 1u << 15 | (off & 0xfff), &val, len > 4 ? 4 : len,
					      w);
			break;
		case 6:
			drain();
			break;
		case 7:
			if (r[1] & 8)
				cvmm_virtio_device_config_changed(cvmm_rng_device(rng));
			else
				cvmm_virtio_device_signal_used(cvmm_rng_device(rng), r[2] & 1);
			break;
		case 8:
			hostile_restore(t, off | (uint32_t)r[4] << 16, r[5] ? r[5] : 1);
			break;
		}
		check(t);
	}
	cvmm_pci_segment_remove(seg, 1);
	drain();
	cvmm_virtio_pci_destroy(t);
	cvmm_rng_destroy(rng);
	drain();
	cvmm_pci_segment_destroy(seg);
	return 0;
}
