/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM core's vCPU manager against real guests: pause and resume 1, 2
 * and 8 vCPUs many times while the test guest spins over its memory, does
 * MMIO and port I/O, or sits in HLT with interrupts on; while paused, save
 * and restore every vCPU's whole state on its own thread. The guest checks
 * every value it reads and must notice nothing but time (exit 0x600d).
 * Pause latency (request until every vCPU is out of KVM_RUN) is printed as
 * TAP diagnostics; no pass/fail depends on timing.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cvmm/vmm.h>

#include "cvmm-test.h"
#include "guest-loader.h"

#ifndef CVMM_GUESTS_DIR
#error "build with -DCVMM_GUESTS_DIR=<builddir>/tests/guests"
#endif

#define PORT_CTL 0x510
#define MMIO_DEV 0xd0000000ull
#define ROUNDS 40

static _Atomic int finish;
static _Atomic unsigned long mmio_reads;

static void ctl_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque, (void)off, (void)len;
	if (!is_write)
		data[0] = (uint8_t)atomic_load(&finish);
}

static void dev_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	uint32_t v = 0xc0de0000u | (uint32_t)off;

	(void)opaque;
	if (!is_write) {
		memcpy(data, &v, len < 4 ? len : 4);
		atomic_fetch_add(&mmio_reads, 1);
	}
}

static void exit_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	uint32_t code = 0;

	(void)off;
	if (!is_write)
		return;
	memcpy(&code, data, len < 4 ? len : 4);
	cvmm_vmm_request_stop(opaque, CVMM_VMM_STOP_GUEST_EXIT, (int)code);
}

static void drop_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque, (void)off, (void)data, (void)len, (void)is_write;
}

static int save_restore(void *arg, struct cvmm_kvm_vcpu *vcpu)
{
	struct cvmm_kvm_vcpu_state st;
	int ret;

	(void)arg;
	ret = cvmm_kvm_vcpu_state_save(vcpu, &st);
	if (!ret)
		ret = cvmm_kvm_vcpu_state_restore(vcpu, &st);
	cvmm_kvm_vcpu_state_fini(&st);
	return ret;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static unsigned int events_paused;

static void on_event(void *opaque, const struct cvmm_vmm_event *ev)
{
	(void)opaque;
	if (ev->type == CVMM_VMM_EV_PAUSED)
		events_paused++;
}

static void run_case(const char *image, unsigned int ncpus)
{
	struct cvmm_vmm_opts o = { .sz = sizeof(o), .mem_size = 64 << 20, .ncpus = ncpus,
				   .event = on_event };
	struct cvmm_guest_load_opts lo = { .sz = sizeof(lo), .ncpus = ncpus };
	struct timespec gap = { 0, 3 * 1000 * 1000 };
	uint64_t lat[ROUNDS];
	struct cvmm_guest_layout l;
	struct cvmm_vmm *vmm;
	char err[256], path[512];
	int code;

	atomic_store(&finish, 0);
	atomic_store(&mmio_reads, 0);
	events_paused = 0;
	snprintf(path, sizeof(path), "%s/%s", CVMM_GUESTS_DIR, image);
	ck_assert_msg(cvmm_vmm_create(&o, &vmm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_guest_load_file(cvmm_vmm_mem(vmm), path, &lo, &l), 0);
	for (unsigned int i = 0; i < ncpus; i++)
		ck_assert_int_eq(cvmm_guest_vcpu_setup(&l, cvmm_vmm_vcpu(vmm, i), i), 0);
	ck_assert_int_eq(cvmm_vmm_bus_add(vmm, CVMM_VMM_PIO, PORT_CTL, 1, ctl_io, NULL, "ctl"), 0);
	ck_assert_int_eq(cvmm_vmm_bus_add(vmm, CVMM_VMM_PIO, CVMM_GUEST_PORT_EXIT, 4, exit_io, vmm,
					  "exit"), 0);
	ck_assert_int_eq(cvmm_vmm_bus_add(vmm, CVMM_VMM_PIO, CVMM_GUEST_PORT_COM1, 8, drop_io, NULL,
					  "serial"), 0);
	ck_assert_int_eq(cvmm_vmm_bus_add(vmm, CVMM_VMM_MMIO, MMIO_DEV, 0x1000, dev_io, NULL, "dev"),
			 0);
	/* Calls run on the caller while no vCPU thread exists. */
	ck_assert_int_eq(cvmm_vmm_vcpu_call(vmm, 0, save_restore, NULL), 0);
	ck_assert_int_eq(cvmm_vmm_start(vmm), 0);
	ck_assert_int_eq(cvmm_vmm_vcpu_call(vmm, 0, save_restore, NULL), -EBUSY);
	ck_assert_int_eq(cvmm_vmm_memory_remove(vmm, 0), -EBUSY);

	for (unsigned int r = 0; r < ROUNDS; r++) {
		unsigned long before;

		nanosleep(&gap, NULL);
		ck_assert_int_eq(cvmm_vmm_pause(vmm), 0);
		lat[r] = cvmm_vmm_last_pause_ns(vmm);
		ck_assert_int_eq(cvmm_vmm_state(vmm), CVMM_VMM_PAUSED);
		ck_assert_int_eq(cvmm_vmm_pause(vmm), -EBUSY);
		/* Paused means paused: no access reaches a device. */
		before = atomic_load(&mmio_reads);
		nanosleep(&gap, NULL);
		ck_assert_uint_eq(atomic_load(&mmio_reads), before);
		if (r % 4 == 0)
			for (unsigned int i = 0; i < ncpus; i++)
				ck_assert_int_eq(cvmm_vmm_vcpu_call(vmm, i, save_restore, NULL), 0);
		/* Memory changes shape only while paused. */
		if (r == 1) {
			struct cvmm_mem_region_opts mo = { .sz = sizeof(mo), .gpa = 0x300000000ull,
							   .size = 1 << 20, .backing = CVMM_MEM_ANON,
							   .fd = -1 };

			ck_assert_int_eq(cvmm_vmm_memory_add(vmm, &mo), 0);
		} else if (r == 2) {
			ck_assert_int_eq(cvmm_vmm_memory_remove(vmm, 0x300000000ull), 0);
		}
		/* Buses change while paused as while running. */
		ck_assert_int_eq(cvmm_vmm_bus_add(vmm, CVMM_VMM_MMIO, 0xd0100000ull + r * 0x1000ull,
						  0x1000, dev_io, NULL, "extra"), 0);
		ck_assert_int_eq(cvmm_vmm_resume(vmm), 0);
		ck_assert_int_eq(cvmm_vmm_resume(vmm), -EBUSY);
	}
	ck_assert_uint_gt(atomic_load(&mmio_reads), 0);
	ck_assert_uint_eq(events_paused, ROUNDS);
	atomic_store(&finish, 1);
	ck_assert_int_eq(cvmm_vmm_run(vmm), 0);
	ck_assert_int_eq(cvmm_vmm_stop_reason(vmm, &code), CVMM_VMM_STOP_GUEST_EXIT);
	ck_assert_msg(code == 0x600d, "guest exit 0x%x (0xbad1 memory, 0xbad2 MMIO)", code);
	qsort(lat, ROUNDS, sizeof(lat[0]), cmp_u64);
	printf("# %s, %u vCPUs: pause latency median %.1f us, max %.1f us (%d rounds)\n", image,
	       ncpus, lat[ROUNDS / 2] / 1e3, lat[ROUNDS - 1] / 1e3, ROUNDS);
	cvmm_vmm_destroy(vmm);
}

START_TEST(pause_spin)
{
	static const unsigned int n[] = { 1, 2, 8 };

	run_case("pause.img", n[_i]);
}
END_TEST

START_TEST(pause_hlt)
{
	static const unsigned int n[] = { 2, 8 };

	run_case("pause-hlt.img", n[_i]);
}
END_TEST

/* A stop while paused ends the VM: parked vCPUs leave, the loop returns. */
START_TEST(stop_while_paused)
{
	struct cvmm_vmm_opts o = { .sz = sizeof(o), .mem_size = 64 << 20, .ncpus = 2 };
	struct cvmm_guest_load_opts lo = { .sz = sizeof(lo), .ncpus = 2 };
	struct cvmm_guest_layout l;
	struct cvmm_vmm *vmm;
	char err[256];
	int code;

	atomic_store(&finish, 0);
	ck_assert_msg(cvmm_vmm_create(&o, &vmm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_guest_load_file(cvmm_vmm_mem(vmm), CVMM_GUESTS_DIR "/pause.img", &lo,
					      &l), 0);
	for (unsigned int i = 0; i < 2; i++)
		ck_assert_int_eq(cvmm_guest_vcpu_setup(&l, cvmm_vmm_vcpu(vmm, i), i), 0);
	ck_assert_int_eq(cvmm_vmm_bus_add(vmm, CVMM_VMM_PIO, PORT_CTL, 1, ctl_io, NULL, "ctl"), 0);
	ck_assert_int_eq(cvmm_vmm_bus_add(vmm, CVMM_VMM_MMIO, MMIO_DEV, 0x1000, dev_io, NULL, "dev"),
			 0);
	ck_assert_int_eq(cvmm_vmm_start(vmm), 0);
	ck_assert_int_eq(cvmm_vmm_pause(vmm), 0);
	cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_REQUEST, 143);
	ck_assert_int_eq(cvmm_vmm_run(vmm), 0);
	ck_assert_int_eq(cvmm_vmm_stop_reason(vmm, &code), CVMM_VMM_STOP_REQUEST);
	ck_assert_int_eq(code, 143);
	ck_assert_int_eq(cvmm_vmm_vcpu_call(vmm, 0, save_restore, NULL), -ESHUTDOWN);
	cvmm_vmm_destroy(vmm);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vmm-pause");
	TCase *t = tcase_create("pause");
	Suite *all[] = { s, NULL };

	cvmm_test_require_kvm();
	tcase_set_timeout(t, 120);
	tcase_add_loop_test(t, pause_spin, 0, 3);
	tcase_add_loop_test(t, pause_hlt, 0, 2);
	tcase_add_test(t, stop_while_paused);
	suite_add_tcase(s, t);
	return cvmm_test_run(all);
}
