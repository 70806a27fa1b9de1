/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-iommu on a VM built with the vmm crate: a virtio-iommu and a
 * virtio-rng behind it (its endpoint is its BDF) on PCI, and the
 * virtio-iommu test guest, which attaches the rng to a domain, maps its
 * rings and a buffer, and sees DMA land in the mapped page only; after
 * UNMAP, to a guest physical address used as an IOVA, and through a
 * read-only mapping the request is refused (used length 0) and no guest
 * byte changes; hostile requests get their statuses. The VMM stays up and
 * the guest exits 0. The whole VM saved after the guest mapped its buffer
 * and restored into a new one: the mapping still works there. Also: a
 * device behind the IOMMU on virtio-mmio, or a vhost-user one, is refused
 * with a message.
 */
#include <errno.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/console.h>
#include <cvmm/virtio-devices/iommu.h>
#include <cvmm/snapshot.h>
#include <cvmm/vmm.h>

#include "cvmm-test.h"
#include "vmm-itest.h"
#include "guest-loader.h"

#ifndef CVMM_GUESTS_DIR
#error "build with -DCVMM_GUESTS_DIR=<builddir>/tests/guests"
#endif

static void hang_stop(void *vmm)
{
	cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_HOST_ERROR, 0x7d);
}

static void rng_destroy(void *m) { cvmm_rng_destroy(m); }
/* The IOMMU outlives every device behind it: the test frees it last. */
static void keep(void *m) { (void)m; }

static uint64_t le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* The ACPI tables name the IOMMU at 00:01.0 and the rng's BDF behind it. */
static void check_viot(struct cvmm_vmm *vmm)
{
	struct cvmm_guest_mem *m = cvmm_vmm_mem(vmm);
	uint8_t hdr[36], v[48 + 16 + 24];
	uint64_t rsdp, xsdt, viot = 0;
	unsigned int n;

	ck_assert_int_eq(cvmm_vmm_acpi_setup(vmm, &rsdp), 0);
	ck_assert_int_eq(cvmm_guest_mem_read(m, rsdp, hdr, 36), 0);
	xsdt = le(hdr + 24, 8);
	ck_assert_int_eq(cvmm_guest_mem_read(m, xsdt, hdr, 36), 0);
	n = (unsigned int)(le(hdr + 4, 4) - 36) / 8;
	for (unsigned int i = 0; i < n; i++) {
		uint8_t e[8], sig[4];

		ck_assert_int_eq(cvmm_guest_mem_read(m, xsdt + 36 + 8 * i, e, 8), 0);
		ck_assert_int_eq(cvmm_guest_mem_read(m, le(e, 8), sig, 4), 0);
		if (!memcmp(sig, "VIOT", 4))
			viot = le(e, 8);
	}
	ck_assert_uint_ne(viot, 0);
	ck_assert_int_eq(cvmm_guest_mem_read(m, viot, v, sizeof(v)), 0);
	ck_assert_uint_eq(le(v + 4, 4), sizeof(v));
	ck_assert_uint_eq(le(v + 36, 2), 2);           /* the IOMMU, one range */
	ck_assert_uint_eq(v[48], 3);
	ck_assert_uint_eq(le(v + 48 + 6, 2), 1 << 3);  /* the IOMMU's BDF */
	ck_assert_uint_eq(v[64], 1);
	ck_assert_uint_eq(le(v + 64 + 4, 4), 2 << 3);  /* endpoint = the rng's BDF */
	ck_assert_uint_eq(le(v + 64 + 12, 2), 2 << 3);
	ck_assert_uint_eq(le(v + 64 + 16, 2), 48);
}

START_TEST(mmio_refused)
{
	struct cvmm_vmm_opts o = { .sz = sizeof(o), .mem_size = 16 << 20, .ncpus = 1 };
	struct cvmm_rng_opts ro = { .sz = sizeof(ro) };
	struct cvmm_iommu_opts io_o = { .sz = sizeof(io_o) };
	struct cvmm_vmm_virtio_opts vo = { .sz = sizeof(vo), .prefix = "__rng",
					   .kind = "virtio-rng" };
	const struct cvmm_dma_xlate *x;
	struct cvmm_iommu *io;
	struct cvmm_vmm *vmm;
	struct cvmm_rng *rng;
	char err[256], id[CVMM_VMM_ID_MAX];

	ck_assert_msg(cvmm_vmm_create(&o, &vmm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_iommu_create(&io_o, &io), 0);
	ck_assert_int_eq(cvmm_iommu_endpoint_add(io, 0x10, &x), 0);
	ck_assert_int_eq(cvmm_rng_create(&ro, &rng), 0);
	vo.dev = cvmm_rng_device(rng);
	vo.model = rng;
	vo.destroy = rng_destroy;
	vo.dma = x;
	err[0] = 0;
	ck_assert_int_eq(cvmm_vmm_virtio_mmio_add(vmm, &vo, id, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "iommu=on needs transport=pci"));
	/* vhost-user models (detach) may sit behind it now: their backends
	 * translate through an IOTLB (tests/microvm-virtio/iommu-vhost.sh). */
	cvmm_rng_destroy(rng);
	cvmm_vmm_destroy(vmm);
	cvmm_iommu_destroy(io);
}
END_TEST

#define PORT_CTL 0x510
static _Atomic int phase;

static void ctl_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque, (void)off, (void)len;
	if (is_write)
		atomic_store(&phase, data[0]);
	else
		data[0] = (uint8_t)atomic_load(&phase);
}

/* A VM with the virtio-iommu at 00:01.0 and the rng behind it at 00:02.0;
 * the guest loaded with @load (arg 1 = the handshake port with @port). */
static struct cvmm_vmm *make_vm(bool load, bool port, struct cvmm_iommu **iop)
{
	struct cvmm_vmm_opts o = { .sz = sizeof(o), .mem_size = 64 << 20, .ncpus = 1 };
	struct cvmm_vmm_platform_opts po = { .sz = sizeof(po), .serial_out_fd = 2,
					     .debug_exit = true };
	struct cvmm_guest_load_opts lo = { .sz = sizeof(lo), .ncpus = 1 };
	struct cvmm_rng_opts ro = { .sz = sizeof(ro) };
	struct cvmm_iommu_opts io_o = { .sz = sizeof(io_o) };
	struct cvmm_vmm_virtio_opts iv = { .sz = sizeof(iv), .id = "iommu0",
					   .kind = "virtio-iommu", .pci_slot = 1 };
	struct cvmm_vmm_virtio_opts vo = { .sz = sizeof(vo), .id = "rng0",
					   .kind = "virtio-rng", .pci_slot = 2 };
	const struct cvmm_dma_xlate *x;
	struct cvmm_vmm_pci_info pi;
	struct cvmm_guest_layout l;
	struct cvmm_iommu *io;
	struct cvmm_vmm *vmm;
	struct cvmm_rng *rng;
	char err[256], path[512];

	ck_assert_msg(cvmm_vmm_create(&o, &vmm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(cvmm_vmm_platform_add(vmm, &po, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(cvmm_vmm_pci_add(vmm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_vmm_pci_info(vmm, &pi), 0);
	ck_assert_int_eq(cvmm_iommu_create(&io_o, &io), 0);
	iv.dev = cvmm_iommu_device(io);
	iv.model = io;
	iv.destroy = keep;
	ck_assert_msg(cvmm_vmm_virtio_pci_add(vmm, &iv, NULL, NULL, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_int_eq(cvmm_iommu_endpoint_add(io, 2 << 3, &x), 0);
	ck_assert_int_eq(cvmm_rng_create(&ro, &rng), 0);
	vo.dev = cvmm_rng_device(rng);
	vo.model = rng;
	vo.destroy = rng_destroy;
	vo.dma = x;
	ck_assert_msg(cvmm_vmm_virtio_pci_add(vmm, &vo, NULL, NULL, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_int_eq(cvmm_vmm_bus_add(vmm, CVMM_VMM_PIO, PORT_CTL, 1, ctl_io, NULL, "ctl"), 0);
	if (load) {
		check_viot(vmm);
		lo.args[0] = pi.mmio32_base;
		lo.args[1] = port ? PORT_CTL : 0;
		snprintf(path, sizeof(path), "%s/virtio-iommu.img", CVMM_GUESTS_DIR);
		ck_assert_int_eq(cvmm_guest_load_file(cvmm_vmm_mem(vmm), path, &lo, &l), 0);
		ck_assert_int_eq(cvmm_guest_vcpu_setup(&l, cvmm_vmm_vcpu(vmm, 0), 0), 0);
	}
	*iop = io;
	return vmm;
}

START_TEST(guest_map_dma_unmap_refused)
{
	struct cvmm_iommu_stats st;
	struct cvmm_iommu *io;
	struct cvmm_vmm *vmm;
	int code;

	cvmm_test_require_kvm();
	vmm = make_vm(true, false, &io);
	ck_assert_int_eq(cvmm_vmm_start(vmm), 0);
	cvmm_test_watchdog_start(90, hang_stop, vmm);
	ck_assert_int_eq(cvmm_vmm_run(vmm), 0);
	cvmm_test_watchdog_stop();
	ck_assert_msg(cvmm_vmm_stop_reason(vmm, &code) == CVMM_VMM_STOP_GUEST_EXIT,
		      "stopped for %d (code 0x%x)", (int)cvmm_vmm_stop_reason(vmm, &code), code);
	ck_assert_msg(code == 0, "guest exit 0x%x (0x50 + step, see its serial output)", code);
	cvmm_iommu_get_stats(io, &st);
	printf("# iommu: %u domain(s), %u mapping(s), %llu requests, %llu refused\n",
	       st.domains, st.mappings, (unsigned long long)st.requests,
	       (unsigned long long)st.requests_failed);
	ck_assert_uint_eq(st.domains, 1);
	ck_assert_uint_ge(st.requests_failed, 5);
	cvmm_vmm_destroy(vmm);
	cvmm_iommu_destroy(io);
}
END_TEST

/* Saved after the guest mapped its buffer, restored into a new VM (the
 * IOMMU restored before the rng, whose rings translate through it): the
 * DMA through the mapping works there, and the rest of the guest's checks. */
START_TEST(save_restore_keeps_mappings)
{
	struct cvmm_iommu_stats st;
	struct cvmm_snap_reader *r;
	struct cvmm_snap_error e;
	struct cvmm_iommu *io;
	struct cvmm_vmm *vmm;
	char err[256];
	size_t len;
	void *copy;
	int code;

	cvmm_test_require_kvm();
	vmm = make_vm(true, true, &io);
	vmm_itest_start_until_handshake(vmm, &phase);
	copy = vmm_itest_save_and_destroy(vmm, &len);
	cvmm_iommu_destroy(io);

	vmm = make_vm(false, true, &io);
	cvmm_iommu_get_stats(io, &st);
	ck_assert_uint_eq(st.mappings, 0);
	ck_assert_int_eq(cvmm_snap_reader_open(copy, len, &r, &e), 0);
	ck_assert_msg(cvmm_vmm_restore(vmm, r, CVMM_VMM_RESTORE_MEMORY, err, sizeof(err)) == 0,
		      "%s", err);
	cvmm_snap_reader_destroy(r);
	free(copy);
	cvmm_iommu_get_stats(io, &st);
	ck_assert_uint_eq(st.domains, 1);
	ck_assert_uint_eq(st.mappings, 4); /* three ring pages and the buffer */
	atomic_store(&phase, 2);
	ck_assert_int_eq(cvmm_vmm_start(vmm), 0);
	cvmm_test_watchdog_start(90, hang_stop, vmm);
	ck_assert_int_eq(cvmm_vmm_run(vmm), 0);
	cvmm_test_watchdog_stop();
	ck_assert_msg(cvmm_vmm_stop_reason(vmm, &code) == CVMM_VMM_STOP_GUEST_EXIT && code == 0,
		      "guest exit 0x%x after the restore", code);
	cvmm_vmm_destroy(vmm);
	cvmm_iommu_destroy(io);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vmm-iommu");
	TCase *tc = tcase_create("vmm-iommu");

	tcase_set_timeout(tc, 150);
	tcase_add_test(tc, mmio_refused);
	tcase_add_test(tc, guest_map_dma_unmap_refused);
	tcase_add_test(tc, save_restore_keeps_mappings);
	suite_add_tcase(s, tc);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
