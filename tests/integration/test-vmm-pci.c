/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PCI on a VM built with the vmm crate: a virtio-rng on virtio-pci in a
 * slot of segment 0, and the virtio-pci test guest, which enumerates the
 * bus through 0xCF8 and ECAM, sizes and places BAR 0, walks the
 * capabilities, reads the device id and runs two rng requests with the
 * queue on an MSI-X vector (one delivered at once, one held masked in the
 * PBA and delivered on unmask). The VMM moves the queue's ioeventfd with
 * the BAR and turns the guest's MSI-X table into KVM MSI routes and irqfds.
 * Also: the host's view of the same configuration space, a device added
 * without PCI refused with a message, 20 add/remove rounds with BAR moves,
 * and the whole VM saved and restored into a new one mid-way, where the
 * guest goes on (notify, BAR, MSI-X routes came along).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cvmm/pci.h>
#include <cvmm/snapshot.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/console.h>
#include <cvmm/vmm.h>

#include "cvmm-test.h"
#include "vmm-itest.h"
#include "guest-loader.h"

#ifndef CVMM_GUESTS_DIR
#error "build with -DCVMM_GUESTS_DIR=<builddir>/tests/guests"
#endif

/* Stops a guest that hangs (the VM ends with HOST_ERROR, code 0x7d). */
static void hang_stop(void *vmm)
{
	cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_HOST_ERROR, 0x7d);
}

static void rng_destroy(void *m)
{
	cvmm_rng_destroy(m);
}

START_TEST(no_pci_refused)
{
	struct cvmm_vmm_opts o = { .sz = sizeof(o), .mem_size = 16 << 20, .ncpus = 1 };
	struct cvmm_rng_opts ro = { .sz = sizeof(ro) };
	struct cvmm_vmm *vmm;
	struct cvmm_rng *rng;
	char err[256], id[CVMM_VMM_ID_MAX];
	struct cvmm_vmm_virtio_opts vo = { .sz = sizeof(vo), .prefix = "__rng",
					   .kind = "virtio-rng" };

	ck_assert_msg(cvmm_vmm_create(&o, &vmm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_rng_create(&ro, &rng), 0);
	vo.dev = cvmm_rng_device(rng);
	vo.model = rng;
	vo.destroy = rng_destroy;
	err[0] = 0;
	ck_assert_int_eq(cvmm_vmm_virtio_pci_add(vmm, &vo, id, NULL, err, sizeof(err)), -ENODEV);
	ck_assert_ptr_nonnull(strstr(err, "transport=pci"));
	ck_assert_int_eq(cvmm_vmm_pci_segment(vmm) == NULL, 1);
	ck_assert_int_eq(cvmm_vmm_pci_add(vmm, err, sizeof(err)), 0);
	ck_assert_int_eq(cvmm_vmm_pci_add(vmm, err, sizeof(err)), -EEXIST);
	cvmm_rng_destroy(rng);
	cvmm_vmm_destroy(vmm);
}
END_TEST

START_TEST(guest_enumerates_and_uses_msix)
{
	struct cvmm_vmm_opts o = { .sz = sizeof(o), .mem_size = 64 << 20, .ncpus = 1 };
	struct cvmm_vmm_platform_opts po = { .sz = sizeof(po), .serial_out_fd = 2,
					     .debug_exit = true };
	struct cvmm_guest_load_opts lo = { .sz = sizeof(lo), .ncpus = 1 };
	struct cvmm_rng_opts ro = { .sz = sizeof(ro) };
	struct cvmm_vmm_virtio_opts vo = { .sz = sizeof(vo), .prefix = "__rng",
					   .kind = "virtio-rng" };
	struct cvmm_vmm_pci_info pi;
	struct cvmm_guest_layout l;
	struct cvmm_vmm *vmm;
	struct cvmm_rng *rng;
	char err[256], path[512], id[CVMM_VMM_ID_MAX];
	unsigned int slot = 0;
	uint8_t cfg[4];
	uint64_t bar;
	int code;

	cvmm_test_require_kvm();
	ck_assert_msg(cvmm_vmm_create(&o, &vmm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(cvmm_vmm_platform_add(vmm, &po, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(cvmm_vmm_pci_add(vmm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_vmm_pci_info(vmm, &pi), 0);
	ck_assert_int_eq(cvmm_rng_create(&ro, &rng), 0);
	vo.dev = cvmm_rng_device(rng);
	vo.model = rng;
	vo.destroy = rng_destroy;
	ck_assert_msg(cvmm_vmm_virtio_pci_add(vmm, &vo, id, &slot, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_uint_eq(slot, 1);
	printf("# %s at 0000:00:%02x.0, ECAM 0x%llx, BAR window 0x%llx\n", id, slot,
	       (unsigned long long)pi.ecam_base, (unsigned long long)pi.mmio32_base);
	/* The host sees the same configuration space through the bus. */
	ck_assert(cvmm_vmm_bus_access(vmm, CVMM_VMM_MMIO, pi.ecam_base + (slot << 15), cfg, 4,
				      false));
	ck_assert_uint_eq(cfg[0] | cfg[1] << 8, 0x1af4);
	ck_assert_uint_eq(cfg[2] | cfg[3] << 8, 0x1044);

	bar = pi.mmio32_base + 0x100000;
	lo.args[0] = pi.ecam_base;
	lo.args[1] = bar;
	snprintf(path, sizeof(path), "%s/virtio-pci.img", CVMM_GUESTS_DIR);
	ck_assert_int_eq(cvmm_guest_load_file(cvmm_vmm_mem(vmm), path, &lo, &l), 0);
	ck_assert_int_eq(cvmm_guest_vcpu_setup(&l, cvmm_vmm_vcpu(vmm, 0), 0), 0);
	ck_assert_int_eq(cvmm_vmm_start(vmm), 0);
	cvmm_test_watchdog_start(90, hang_stop, vmm);
	ck_assert_int_eq(cvmm_vmm_run(vmm), 0);
	cvmm_test_watchdog_stop();
	ck_assert_msg(cvmm_vmm_stop_reason(vmm, &code) == CVMM_VMM_STOP_GUEST_EXIT,
		      "stopped for %d (code 0x%x)", (int)cvmm_vmm_stop_reason(vmm, &code), code);
	ck_assert_msg(code == 0, "guest exit 0x%x (0x50 + step, see its serial output)", code);
	/* Where the guest put BAR 0 is where the segment maps it. */
	{
		uint64_t a = 0;

		ck_assert_int_eq(cvmm_pci_segment_bar_addr(cvmm_vmm_pci_segment(vmm), slot, 0, &a),
				 0);
		ck_assert_uint_eq(a, bar);
	}
	cvmm_vmm_destroy(vmm);
}
END_TEST

/* The guest's handshake port for the snapshot case: it writes 1 when
 * ready, polls for 2. */
#define PORT_CTL 0x510
static _Atomic int phase;

static _Atomic bool auto_resume;      /* answer the handshake at once */
static uint64_t marks[6];               /* when marks 0x10..0x15 arrived */

static void ctl_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque, (void)off, (void)len;
	if (!is_write) {
		data[0] = (uint8_t)atomic_load(&phase);
		return;
	}
	if (data[0] >= 0x10 && data[0] <= 0x15) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		marks[data[0] - 0x10] = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		return;
	}
	atomic_store(&phase, data[0] == 1 && atomic_load(&auto_resume) ? 2 : data[0]);
}

static struct cvmm_vmm *make_vm(bool load, struct cvmm_vmm_pci_info *pi, uint64_t bench)
{
	struct cvmm_vmm_opts o = { .sz = sizeof(o), .mem_size = 64 << 20, .ncpus = 1 };
	struct cvmm_vmm_platform_opts po = { .sz = sizeof(po), .serial_out_fd = 2,
					     .debug_exit = true };
	struct cvmm_guest_load_opts lo = { .sz = sizeof(lo), .ncpus = 1 };
	struct cvmm_rng_opts ro = { .sz = sizeof(ro) };
	struct cvmm_vmm_virtio_opts vo = { .sz = sizeof(vo), .id = "rng0", .kind = "virtio-rng",
					   .destroy = rng_destroy };
	struct cvmm_guest_layout l;
	struct cvmm_vmm *vmm;
	struct cvmm_rng *rng;
	char err[256], path[512];

	ck_assert_msg(cvmm_vmm_create(&o, &vmm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(cvmm_vmm_platform_add(vmm, &po, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(cvmm_vmm_pci_add(vmm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_vmm_pci_info(vmm, pi), 0);
	ck_assert_int_eq(cvmm_rng_create(&ro, &rng), 0);
	vo.dev = cvmm_rng_device(rng);
	vo.model = rng;
	ck_assert_msg(cvmm_vmm_virtio_pci_add(vmm, &vo, NULL, NULL, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_int_eq(cvmm_vmm_bus_add(vmm, CVMM_VMM_PIO, PORT_CTL, 1, ctl_io, NULL, "ctl"), 0);
	if (load) {
		lo.args[0] = pi->ecam_base;
		lo.args[1] = pi->mmio32_base + 0x200000;
		lo.args[2] = PORT_CTL;
		lo.args[3] = bench;
		snprintf(path, sizeof(path), "%s/virtio-pci.img", CVMM_GUESTS_DIR);
		ck_assert_int_eq(cvmm_guest_load_file(cvmm_vmm_mem(vmm), path, &lo, &l), 0);
		ck_assert_int_eq(cvmm_guest_vcpu_setup(&l, cvmm_vmm_vcpu(vmm, 0), 0), 0);
	}
	return vmm;
}

/* The guest set up BAR 0 and MSI-X and took interrupts; the VM is saved
 * (with RAM) and restored into a new VM, where the guest makes one more
 * request: configuration space, BAR placement, MSI-X table and routes,
 * queue state and the notify ioeventfd all came along. */
START_TEST(save_restore_with_pci)
{
	struct cvmm_vmm_pci_info pi, pi2;
	struct cvmm_vmm *vmm;
	struct cvmm_snap_reader *r;
	struct cvmm_snap_error e;
	size_t len;
	void *copy;
	char err[256];
	uint32_t v = 0;
	uint64_t a = 0;
	int code;

	cvmm_test_require_kvm();
	vmm = make_vm(true, &pi, 0);
	vmm_itest_start_until_handshake(vmm, &phase);
	copy = vmm_itest_save_and_destroy(vmm, &len);

	vmm = make_vm(false, &pi2, 0);
	ck_assert_uint_eq(pi2.ecam_base, pi.ecam_base);
	ck_assert_int_eq(cvmm_snap_reader_open(copy, len, &r, &e), 0);
	ck_assert_msg(cvmm_vmm_restore(vmm, r, CVMM_VMM_RESTORE_MEMORY, err, sizeof(err)) == 0,
		      "%s", err);
	cvmm_snap_reader_destroy(r);
	free(copy);
	/* The host sees BAR 0 where the guest put it, decoding. */
	ck_assert_int_eq(cvmm_pci_segment_bar_addr(cvmm_vmm_pci_segment(vmm), 1, 0, &a), 0);
	ck_assert_uint_eq(a, pi.mmio32_base + 0x200000);
	ck_assert(cvmm_vmm_bus_access(vmm, CVMM_VMM_MMIO, a + 0x12, (uint8_t *)&v, 2, false));
	ck_assert_uint_eq(v, 1);
	atomic_store(&phase, 2);
	ck_assert_int_eq(cvmm_vmm_start(vmm), 0);
	ck_assert_int_eq(cvmm_vmm_run(vmm), 0);
	ck_assert_msg(cvmm_vmm_stop_reason(vmm, &code) == CVMM_VMM_STOP_GUEST_EXIT &&
		      code == 0, "guest exit 0x%x after the restore", code);
	cvmm_vmm_destroy(vmm);
}
END_TEST

static int add_rng_pci(struct cvmm_vmm *vmm, char id[CVMM_VMM_ID_MAX], unsigned int *slot,
		       char *err, size_t errlen)
{
	struct cvmm_rng_opts ro = { .sz = sizeof(ro) };
	struct cvmm_vmm_virtio_opts vo = { .sz = sizeof(vo), .prefix = "__rng",
					   .kind = "virtio-rng", .destroy = rng_destroy };
	struct cvmm_rng *rng;
	int ret;

	ck_assert_int_eq(cvmm_rng_create(&ro, &rng), 0);
	vo.dev = cvmm_rng_device(rng);
	vo.model = rng;
	ret = cvmm_vmm_virtio_pci_add(vmm, &vo, id, slot, err, errlen);
	if (ret)
		cvmm_rng_destroy(rng);
	return ret;
}

static uint32_t bus_rd(struct cvmm_vmm *vmm, uint64_t a, unsigned int len)
{
	uint32_t v = 0;

	cvmm_vmm_bus_access(vmm, CVMM_VMM_MMIO, a, (uint8_t *)&v, len, false);
	return v;
}

static void bus_wr(struct cvmm_vmm *vmm, uint64_t a, uint32_t v, unsigned int len)
{
	ck_assert(cvmm_vmm_bus_access(vmm, CVMM_VMM_MMIO, a, (uint8_t *)&v, len, true));
}

/* What a guest access costs (wall time per access, from the host's
 * timestamps of the guest's marks; printed, never judged). */
START_TEST(access_costs)
{
	static const char *what[] = { "0xCF8/0xCFC dword (2 exits)", "ECAM dword",
				      "BAR 0 common cfg word", "MSI-X table dword",
				      "BAR window, no device (an MMIO exit alone)" };
	enum { N = 2000 };
	struct cvmm_vmm_pci_info pi;
	struct cvmm_vmm *vmm;
	int code;

	cvmm_test_require_kvm();
	atomic_store(&phase, 0);
	atomic_store(&auto_resume, true);
	memset(marks, 0, sizeof(marks));
	vmm = make_vm(true, &pi, N);
	ck_assert_int_eq(cvmm_vmm_start(vmm), 0);
	ck_assert_int_eq(cvmm_vmm_run(vmm), 0);
	atomic_store(&auto_resume, false);
	ck_assert_msg(cvmm_vmm_stop_reason(vmm, &code) == CVMM_VMM_STOP_GUEST_EXIT && code == 0,
		      "guest exit 0x%x", code);
	for (unsigned int i = 0; i < 5; i++) {
		ck_assert(marks[i] && marks[i + 1] >= marks[i]);
		printf("# %s: %.2f us per access (%d accesses)\n", what[i],
		       (marks[i + 1] - marks[i]) / 1e3 / N, N);
	}
	cvmm_vmm_destroy(vmm);
}
END_TEST

static uint64_t le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* The VM's ACPI tables describe the segment: MCFG (found through the
 * RSDP and XSDT in guest memory) with the ECAM base, and a DSDT with
 * PCI0, MBRD and a _PRT entry for the device's slot. */
START_TEST(acpi_describes_pci)
{
	struct cvmm_vmm_opts o = { .sz = sizeof(o), .mem_size = 16 << 20, .ncpus = 1 };
	struct cvmm_vmm_pci_info pi;
	struct cvmm_vmm *vmm;
	char err[256], id[CVMM_VMM_ID_MAX];
	uint8_t hdr[36], *dsdt = NULL;
	uint64_t rsdp, xsdt, mcfg = 0, dsdt_gpa = 0;
	unsigned int slot, n;

	cvmm_test_require_kvm();
	ck_assert_msg(cvmm_vmm_create(&o, &vmm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(cvmm_vmm_pci_add(vmm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_vmm_pci_info(vmm, &pi), 0);
	ck_assert_ptr_nonnull(cvmm_vmm_device_loop(vmm));
	ck_assert_msg(add_rng_pci(vmm, id, &slot, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_vmm_acpi_setup(vmm, &rsdp), 0);
	ck_assert_int_eq(cvmm_guest_mem_read(cvmm_vmm_mem(vmm), rsdp, hdr, 36), 0);
	ck_assert_int_eq(memcmp(hdr, "RSD PTR ", 8), 0);
	xsdt = le(hdr + 24, 8);
	ck_assert_int_eq(cvmm_guest_mem_read(cvmm_vmm_mem(vmm), xsdt, hdr, 36), 0);
	n = (unsigned int)(le(hdr + 4, 4) - 36) / 8;
	ck_assert_uint_eq(n, 3);
	for (unsigned int i = 0; i < n; i++) {
		uint8_t e[8], t[44];
		uint64_t a;

		ck_assert_int_eq(cvmm_guest_mem_read(cvmm_vmm_mem(vmm), xsdt + 36 + 8 * i, e, 8), 0);
		a = le(e, 8);
		ck_assert_int_eq(cvmm_guest_mem_read(cvmm_vmm_mem(vmm), a, t, 44), 0);
		if (!memcmp(t, "MCFG", 4))
			mcfg = a;
		if (!memcmp(t, "FACP", 4)) {
			uint8_t f[148];

			ck_assert_int_eq(cvmm_guest_mem_read(cvmm_vmm_mem(vmm), a, f, sizeof(f)), 0);
			dsdt_gpa = le(f + 140, 8);
		}
	}
	ck_assert_uint_ne(mcfg, 0);
	{
		uint8_t m[60];

		ck_assert_int_eq(cvmm_guest_mem_read(cvmm_vmm_mem(vmm), mcfg, m, sizeof(m)), 0);
		ck_assert_uint_eq(le(m + 4, 4), 60);
		ck_assert_uint_eq(le(m + 44, 8), pi.ecam_base);
	}
	ck_assert_uint_ne(dsdt_gpa, 0);
	ck_assert_int_eq(cvmm_guest_mem_read(cvmm_vmm_mem(vmm), dsdt_gpa, hdr, 36), 0);
	dsdt = malloc(le(hdr + 4, 4));
	ck_assert_ptr_nonnull(dsdt);
	ck_assert_int_eq(cvmm_guest_mem_read(cvmm_vmm_mem(vmm), dsdt_gpa, dsdt, le(hdr + 4, 4)), 0);
	ck_assert_ptr_nonnull(memmem(dsdt, le(hdr + 4, 4), "PCI0", 4));
	ck_assert_ptr_nonnull(memmem(dsdt, le(hdr + 4, 4), "_PRT", 4));
	ck_assert_ptr_nonnull(memmem(dsdt, le(hdr + 4, 4), "MBRD", 4));
	{
		/* A _PRT entry for every slot, empty ones too (a hotplugged
		 * device needs its line in the table the guest already has):
		 * Package { DWord slot << 16 | 0xFFFF, Zero (INTA), Zero,
		 * Byte GSI }; four lines shared round the slots. */
		unsigned int gsi[32] = { 0 };
		uint64_t cfg = pi.ecam_base + ((uint64_t)slot << 15);

		for (unsigned int s = 1; s < 32; s++) {
			uint8_t want[8] = { 0x0c, 0xff, 0xff, (uint8_t)s, 0, 0x00, 0x00, 0x0a };
			const uint8_t *e = memmem(dsdt, le(hdr + 4, 4), want, 8);

			ck_assert_msg(e != NULL, "no _PRT entry for slot %u", s);
			gsi[s] = e[8];
			ck_assert_uint_ge(gsi[s], 5);
			ck_assert_uint_lt(gsi[s], 24);
			if (s > 4)
				ck_assert_uint_eq(gsi[s], gsi[s - 4]);
			if (s > 1)
				ck_assert_uint_ne(gsi[s], gsi[s - 1]);
		}
		/* Interrupt Line says what the _PRT says. */
		ck_assert_uint_eq(bus_rd(vmm, cfg + 0x3c, 1), gsi[slot]);
	}
	free(dsdt);
	cvmm_vmm_destroy(vmm);
}
END_TEST

/* Devices come and go before boot: slot, lines, GSIs and fds come back;
 * BAR 0 is reached where the host (playing the guest) puts it, and only
 * inside a window; the slots run out with a message. */
START_TEST(add_remove_and_bar_moves)
{
	struct cvmm_vmm_opts o = { .sz = sizeof(o), .mem_size = 16 << 20, .ncpus = 1 };
	struct cvmm_vmm_resource res[64];
	struct cvmm_vmm_pci_info pi;
	struct cvmm_vmm *vmm;
	char err[256], id[CVMM_VMM_ID_MAX];
	unsigned int slot;
	int fds = -1, nres = -1, n = 0;

	cvmm_test_require_kvm();
	ck_assert_msg(cvmm_vmm_create(&o, &vmm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(cvmm_vmm_pci_add(vmm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_vmm_pci_info(vmm, &pi), 0);
	ck_assert_ptr_nonnull(cvmm_vmm_device_loop(vmm));
	for (int round = 0; round < 20; round++) {
		uint64_t cfg, bar = pi.mmio32_base + 0x10000 * (uint64_t)(round + 1);

		if (round == 1) {
			fds = cvmm_test_count_fds();
			nres = cvmm_vmm_alloc_list(vmm, res, 64);
		}
		if (round > 1) {
			ck_assert_int_eq(cvmm_test_count_fds(), fds);
			ck_assert_int_eq(cvmm_vmm_alloc_list(vmm, res, 64), nres);
		}
		ck_assert_msg(add_rng_pci(vmm, id, &slot, err, sizeof(err)) == 0, "%s", err);
		ck_assert_uint_eq(slot, 1);
		cfg = pi.ecam_base + ((uint64_t)slot << 15);
		ck_assert_uint_eq(bus_rd(vmm, cfg, 4), 0x10441af4);
		/* BAR 0 placed and decoding: the common configuration answers. */
		bus_wr(vmm, cfg + 0x10, (uint32_t)bar, 4);
		bus_wr(vmm, cfg + 4, 0x6, 2);
		ck_assert_uint_eq(bus_rd(vmm, bar + 0x12, 2), 1);          /* num_queues */
		/* Moved: the old place is empty, the new one answers. */
		bus_wr(vmm, cfg + 0x10, (uint32_t)bar + 0x8000, 4);
		ck_assert_uint_eq(bus_rd(vmm, bar + 0x12, 2), 0xffff);
		ck_assert_uint_eq(bus_rd(vmm, bar + 0x8000 + 0x12, 2), 1);
		/* Outside the windows (over the virtio-mmio area): unreachable. */
		bus_wr(vmm, cfg + 0x10, 0xd8000000u, 4);
		ck_assert_uint_eq(bus_rd(vmm, bar + 0x8000 + 0x12, 2), 0xffff);
		ck_assert_int_eq(cvmm_vmm_device_remove(vmm, id), 0);
		ck_assert_uint_eq(bus_rd(vmm, cfg, 4), 0xffffffff);
	}
	/* The slots share 4 INTx lines: every slot fills (it was 18, one
	 * line each); the 32nd add fails for want of a slot. */
	while (add_rng_pci(vmm, id, &slot, err, sizeof(err)) == 0)
		n++;
	ck_assert_int_eq(n, 31);
	ck_assert_ptr_nonnull(strstr(err, "all 31 slots are taken"));
	cvmm_vmm_destroy(vmm);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vmm-pci");
	TCase *tc = tcase_create("vmm-pci");

	tcase_set_timeout(tc, 150);
	tcase_add_test(tc, no_pci_refused);
	tcase_add_test(tc, guest_enumerates_and_uses_msix);
	tcase_add_test(tc, add_remove_and_bar_moves);
	tcase_add_test(tc, save_restore_with_pci);
	tcase_add_test(tc, acpi_describes_pci);
	tcase_add_test(tc, access_costs);
	suite_add_tcase(s, tc);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
