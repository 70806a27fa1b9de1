/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACPI GED and PCI hotplug on a running VM, against the hotplug test guest
 * (which finds the GED, ECAM and the BAR window in the ACPI tables):
 *  - the power button: the guest takes the GED interrupt and sees the bit;
 *  - 20 rounds of: the host adds a virtio-rng over PCI while the guest
 *    runs, the guest sees the slot in PCIU, enumerates it through ECAM,
 *    reads random bytes with the interrupt on its MSI-X vector; the host
 *    asks for removal, the guest sees PCID, ejects (plus a stray and a
 *    repeated eject), the host removes the device; fds, allocations and the
 *    device table come back each round; refusals (outside a hotplug window,
 *    a second request) on the way;
 *  - save with RAM after a hotplug and restore into a new VM built with
 *    the device in the same slot: the guest's next request is answered;
 *  - INTx of two hotplugged functions on the line the _PRT gives their
 *    slots (shared), level-triggered: delivered again after each EOI
 *    while the ISR is unread, not after.
 * Host work runs on the VM's control loop, reached from the guest's port
 * handler (a vCPU thread may not quiesce the VM it runs in).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cvmm/event-manager.h>
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

#define PORT_CTL 0x510
#define ROUNDS 20

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Stops a guest that hangs (the VM ends with HOST_ERROR, code 0x7d). */
static void hang_stop(void *vmm)
{
	cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_HOST_ERROR, 0x7d);
}

static void run_watched(struct cvmm_vmm *vmm)
{
	cvmm_test_watchdog_start(240, hang_stop, vmm);
	ck_assert_int_eq(cvmm_vmm_run(vmm), 0);
	cvmm_test_watchdog_stop();
}

static void rng_destroy(void *m)
{
	cvmm_rng_destroy(m);
}

/* ---- what the control loop does for the guest --------------------------- */

struct hp {
	struct cvmm_vmm *vmm;
	char id[CVMM_VMM_ID_MAX];
	unsigned int slot;
	int adds, removes, failures;
	char why[256];
	int base_fds, base_allocs, base_devs;
	uint64_t t_add, t_rm;
	uint64_t add_ns[ROUNDS], rm_ns[ROUNDS], begin_end_ns[ROUNDS];
	uint64_t begin_sum, attach_sum, end_sum; /* the parts of begin..end */
	_Atomic int phase;      /* what the guest reads on the port */
	_Atomic bool want_save;
};

static struct hp hp;

static void failed(const char *fmt, const char *arg)
{
	if (!hp.failures++)
		snprintf(hp.why, sizeof(hp.why), fmt, arg);
	cvmm_vmm_request_stop(hp.vmm, CVMM_VMM_STOP_HOST_ERROR, 0x7e);
}

static int add_rng(struct cvmm_vmm *vmm, const char *id, unsigned int slot, char out[CVMM_VMM_ID_MAX],
		   unsigned int *out_slot, char *err, size_t errlen)
{
	struct cvmm_rng_opts ro = { .sz = sizeof(ro) };
	struct cvmm_vmm_virtio_opts vo = { .sz = sizeof(vo), .id = id, .prefix = "__rng",
					   .kind = "virtio-rng", .destroy = rng_destroy,
					   .pci_slot = slot };
	struct cvmm_rng *rng;
	int ret;

	if (!cvmm_vmm_device_loop(vmm))
		return -ENOMEM;
	ret = cvmm_rng_create(&ro, &rng);
	if (ret)
		return ret;
	vo.dev = cvmm_rng_device(rng);
	vo.model = rng;
	ret = cvmm_vmm_virtio_pci_add(vmm, &vo, out, out_slot, err, errlen);
	if (ret)
		cvmm_rng_destroy(rng);
	return ret;
}

static int do_add(struct cvmm_event_manager *em, void *arg)
{
	struct cvmm_vmm *vmm = arg;
	int fds = cvmm_test_count_fds(), allocs = cvmm_vmm_alloc_list(vmm, NULL, 0);
	int devs = cvmm_vmm_device_list(vmm, NULL, 0);
	char err[256] = "";
	uint64_t t0;
	int ret;

	(void)em;
	if (hp.adds == 0) {
		hp.base_fds = fds;
		hp.base_allocs = allocs;
		hp.base_devs = devs;
		/* Outside a window a running VM refuses a device. */
		ret = add_rng(vmm, NULL, 0, hp.id, &hp.slot, err, sizeof(err));
		if (ret != -EBUSY || !strstr(err, "hotplug_begin")) {
			failed("add outside a hotplug window: %s", err);
			return 0;
		}
		if (cvmm_vmm_hotplug_end(vmm) != -EBUSY) {
			failed("%s", "hotplug_end without begin accepted");
			return 0;
		}
	} else if (fds != hp.base_fds || allocs != hp.base_allocs || devs != hp.base_devs) {
		char what[128];

		snprintf(what, sizeof(what), "round %d: fds %d (was %d), allocations %d (%d), "
			 "devices %d (%d)", hp.adds, fds, hp.base_fds, allocs, hp.base_allocs, devs,
			 hp.base_devs);
		failed("leak: %s", what);
		return 0;
	}
	t0 = now_ns();
	hp.t_add = t0;
	ret = cvmm_vmm_hotplug_begin(vmm);
	if (!ret) {
		uint64_t t1 = now_ns(), t2;

		hp.begin_sum += t1 - t0;
		if (cvmm_vmm_hotplug_begin(vmm) != -EBUSY)
			failed("%s", "a second hotplug_begin accepted");
		ret = add_rng(vmm, NULL, 0, hp.id, &hp.slot, err, sizeof(err));
		t2 = now_ns();
		hp.attach_sum += t2 - t1;
		cvmm_vmm_hotplug_end(vmm);
		hp.end_sum += now_ns() - t2;
	}
	if (hp.adds < ROUNDS)
		hp.begin_end_ns[hp.adds] = now_ns() - t0;
	if (ret) {
		failed("hotplug add: %s", err[0] ? err : strerror(-ret));
		return 0;
	}
	hp.adds++;
	return 0;
}

/* A second rng four slots after the first: the INTx line they share. */
static int do_add_shared(struct cvmm_event_manager *em, void *arg)
{
	struct cvmm_vmm *vmm = arg;
	char err[256] = "", id[CVMM_VMM_ID_MAX];
	int ret;

	(void)em;
	ret = cvmm_vmm_hotplug_begin(vmm);
	if (!ret) {
		ret = add_rng(vmm, NULL, hp.slot + 4, id, NULL, err, sizeof(err));
		cvmm_vmm_hotplug_end(vmm);
	}
	if (ret)
		failed("hotplug add in slot A + 4: %s", err[0] ? err : strerror(-ret));
	return 0;
}

static int do_remove(struct cvmm_event_manager *em, void *arg)
{
	struct cvmm_vmm *vmm = arg;
	char err[256] = "";
	int ret;

	(void)em;
	if (hp.adds && hp.adds <= ROUNDS)
		hp.add_ns[hp.adds - 1] = now_ns() - hp.t_add;
	hp.t_rm = now_ns();
	ret = cvmm_vmm_device_unplug(vmm, hp.id, err, sizeof(err));
	if (ret) {
		failed("unplug: %s", err);
		return 0;
	}
	if (!cvmm_vmm_device_unplug_pending(vmm, hp.id) ||
	    cvmm_vmm_device_unplug(vmm, hp.id, err, sizeof(err)) != -EALREADY ||
	    !cvmm_vmm_device_find(vmm, hp.id))
		failed("second unplug: %s", err);
	return 0;
}

static int do_button(struct cvmm_event_manager *em, void *arg)
{
	(void)em;
	if (cvmm_vmm_power_button(arg))
		failed("%s", "power button refused");
	return 0;
}

static void on_event(void *opaque, const struct cvmm_vmm_event *ev)
{
	(void)opaque;
	if (ev->type != CVMM_VMM_EV_DEVICE_REMOVED || strcmp(ev->id, hp.id))
		return;
	if (hp.removes < ROUNDS)
		hp.rm_ns[hp.removes] = now_ns() - hp.t_rm;
	hp.removes++;
}

static void ctl_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct cvmm_vmm *vmm = opaque;
	struct cvmm_event_manager *em = cvmm_vmm_event_manager(vmm);

	(void)off, (void)len;
	if (!is_write) {
		data[0] = (uint8_t)atomic_load(&hp.phase);
		return;
	}
	switch (data[0]) {
	case 1:
		cvmm_event_manager_call(em, do_add, vmm, false);
		break;
	case 2:
		cvmm_event_manager_call(em, do_remove, vmm, false);
		break;
	case 3:
		cvmm_event_manager_call(em, do_button, vmm, false);
		break;
	case 4:
		atomic_store(&hp.want_save, true);
		break;
	case 5:
		cvmm_event_manager_call(em, do_add_shared, vmm, false);
		break;
	}
}

static struct cvmm_vmm *make_vm(uint64_t mode, bool load, bool with_ged)
{
	struct cvmm_vmm_opts o = { .sz = sizeof(o), .mem_size = 64 << 20, .ncpus = 1,
				   .event = on_event };
	struct cvmm_vmm_platform_opts po = { .sz = sizeof(po), .serial_out_fd = 2,
					     .debug_exit = true };
	struct cvmm_guest_load_opts lo = { .sz = sizeof(lo), .ncpus = 1 };
	struct cvmm_guest_layout l;
	struct cvmm_vmm *vmm;
	char err[256], path[512];
	uint64_t rsdp;

	ck_assert_msg(cvmm_vmm_create(&o, &vmm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(cvmm_vmm_platform_add(vmm, &po, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(cvmm_vmm_pci_add(vmm, err, sizeof(err)) == 0, "%s", err);
	if (with_ged)
		ck_assert_msg(cvmm_vmm_ged_add(vmm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_vmm_bus_add(vmm, CVMM_VMM_PIO, PORT_CTL, 1, ctl_io, vmm, "ctl"), 0);
	/* The device loop's own fds exist from here, not from the first add. */
	ck_assert_ptr_nonnull(cvmm_vmm_device_loop(vmm));
	if (load) {
		ck_assert_int_eq(cvmm_vmm_acpi_setup(vmm, &rsdp), 0);
		lo.args[0] = mode;
		lo.args[1] = ROUNDS;
		snprintf(path, sizeof(path), "%s/hotplug.img", CVMM_GUESTS_DIR);
		ck_assert_int_eq(cvmm_guest_load_file(cvmm_vmm_mem(vmm), path, &lo, &l), 0);
		ck_assert_int_eq(cvmm_guest_vcpu_setup(&l, cvmm_vmm_vcpu(vmm, 0), 0), 0);
	}
	memset(&hp, 0, sizeof(hp));
	hp.vmm = vmm;
	return vmm;
}

static void expect_exit(struct cvmm_vmm *vmm, int want)
{
	int code;
	enum cvmm_vmm_stop why = cvmm_vmm_stop_reason(vmm, &code);

	ck_assert_msg(!hp.failures, "host side: %s", hp.why);
	ck_assert_msg(why == CVMM_VMM_STOP_GUEST_EXIT && code == want,
		      "stopped for %d, code 0x%x (want guest exit 0x%x; see its serial output)",
		      (int)why, code, want);
}

START_TEST(power_button)
{
	struct cvmm_vmm *vmm;
	char err[256];

	cvmm_test_require_kvm();
	/* No GED: refused; a GED before start: refused until the VM runs. */
	vmm = make_vm(1, false, false);
	ck_assert_int_eq(cvmm_vmm_power_button(vmm), -ENODEV);
	ck_assert_int_eq(cvmm_vmm_power_button(NULL), -EINVAL);
	ck_assert_int_eq(cvmm_vmm_ged_info(vmm, NULL, NULL), -ENODEV);
	cvmm_vmm_destroy(vmm);
	vmm = make_vm(1, true, true);
	ck_assert_int_eq(cvmm_vmm_power_button(vmm), -ENODEV);
	ck_assert_int_eq(cvmm_vmm_ged_add(vmm, err, sizeof(err)), -EEXIST);
	ck_assert_int_eq(cvmm_vmm_start(vmm), 0);
	ck_assert_int_eq(cvmm_vmm_ged_add(vmm, err, sizeof(err)), -EEXIST);
	/* The guest writes 3 when its GED line is routed; the loop presses. */
	run_watched(vmm);
	expect_exit(vmm, 0x48);
	cvmm_vmm_destroy(vmm);
}
END_TEST

START_TEST(add_use_remove_rounds)
{
	struct cvmm_vmm *vmm;
	uint64_t sum_add = 0, sum_rm = 0, sum_be = 0, max_add = 0, max_rm = 0;

	cvmm_test_require_kvm();
	vmm = make_vm(2, true, true);
	ck_assert_int_eq(cvmm_vmm_start(vmm), 0);
	run_watched(vmm);
	expect_exit(vmm, 0);
	ck_assert_int_eq(hp.adds, ROUNDS);
	ck_assert_int_eq(hp.removes, ROUNDS);
	ck_assert_ptr_null(cvmm_vmm_device_find(vmm, hp.id));
	ck_assert_int_eq(cvmm_vmm_alloc_list(vmm, NULL, 0), hp.base_allocs);
	ck_assert_int_eq(cvmm_vmm_device_list(vmm, NULL, 0), hp.base_devs);
	for (int i = 0; i < ROUNDS; i++) {
		sum_add += hp.add_ns[i];
		sum_rm += hp.rm_ns[i];
		sum_be += hp.begin_end_ns[i];
		max_add = hp.add_ns[i] > max_add ? hp.add_ns[i] : max_add;
		max_rm = hp.rm_ns[i] > max_rm ? hp.rm_ns[i] : max_rm;
	}
	printf("# hotplug, %d rounds: add (begin..end, VM quiesced) mean %.3f ms (begin %.3f, "
	       "model + virtio_pci_add %.3f, end %.3f); add to the guest having used the device "
	       "mean %.3f ms (max %.3f); removal request to device gone mean %.3f ms (max %.3f)\n",
	       ROUNDS, sum_be / 1e6 / ROUNDS, hp.begin_sum / 1e6 / ROUNDS,
	       hp.attach_sum / 1e6 / ROUNDS, hp.end_sum / 1e6 / ROUNDS, sum_add / 1e6 / ROUNDS,
	       max_add / 1e6, sum_rm / 1e6 / ROUNDS, max_rm / 1e6);
	cvmm_vmm_destroy(vmm);
}
END_TEST

START_TEST(save_restore_after_hotplug)
{
	struct cvmm_vmm *vmm;
	struct cvmm_snap_reader *r;
	struct cvmm_snap_error e;
	char err[256], id[CVMM_VMM_ID_MAX];
	unsigned int slot;
	size_t len;
	void *copy;
	int i;

	cvmm_test_require_kvm();
	vmm = make_vm(4, true, true);
	ck_assert_int_eq(cvmm_vmm_start(vmm), 0);
	/* The control loop runs here while the guest gets to its handshake. */
	for (i = 0; i < 60000 && !atomic_load(&hp.want_save) &&
		    cvmm_vmm_state(vmm) != CVMM_VMM_SHUTDOWN; i++)
		cvmm_event_manager_run_once(cvmm_vmm_event_manager(vmm), 1);
	ck_assert_msg(atomic_load(&hp.want_save), "the guest did not get to its handshake (%s)",
		      hp.why);
	ck_assert_int_eq(hp.adds, 1);
	snprintf(id, sizeof(id), "%s", hp.id);
	slot = hp.slot;
	copy = vmm_itest_save_and_destroy(vmm, &len);

	/* The new VM has the device from the start, in the same slot. */
	vmm = make_vm(4, false, true);
	ck_assert_msg(add_rng(vmm, id, slot, NULL, NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_snap_reader_open(copy, len, &r, &e), 0);
	ck_assert_msg(cvmm_vmm_restore(vmm, r, CVMM_VMM_RESTORE_MEMORY, err, sizeof(err)) == 0,
		      "%s", err);
	cvmm_snap_reader_destroy(r);
	free(copy);
	atomic_store(&hp.phase, 4);
	ck_assert_int_eq(cvmm_vmm_start(vmm), 0);
	run_watched(vmm);
	expect_exit(vmm, 0);
	cvmm_vmm_destroy(vmm);
}
END_TEST

/* INTx on hotplugged slots: the _PRT's line, shared, level-triggered. */
START_TEST(intx_shared_level)
{
	struct cvmm_vmm *vmm;

	cvmm_test_require_kvm();
	vmm = make_vm(5, true, true);
	ck_assert_int_eq(cvmm_vmm_start(vmm), 0);
	run_watched(vmm);
	expect_exit(vmm, 0);
	cvmm_vmm_destroy(vmm);
}
END_TEST

/* Unplug on VMs that have not booted, and of what cannot leave at runtime. */
START_TEST(unplug_refusals)
{
	struct cvmm_vmm *vmm;
	char err[256], id[CVMM_VMM_ID_MAX];

	cvmm_test_require_kvm();
	vmm = make_vm(0, true, false);    /* the guest idles */
	ck_assert_int_eq(cvmm_vmm_hotplug_begin(vmm), -EBUSY);   /* not booted */
	ck_assert_msg(add_rng(vmm, NULL, 0, id, NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_vmm_device_unplug(vmm, "nope", err, sizeof(err)), -ENOENT);
	ck_assert_int_eq(cvmm_vmm_device_unplug(vmm, id, err, sizeof(err)), 0);
	ck_assert_ptr_null(cvmm_vmm_device_find(vmm, id));
	ck_assert_msg(add_rng(vmm, NULL, 0, id, NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_vmm_start(vmm), 0);
	/* No GED: a booted VM can neither take nor give back a device. */
	ck_assert_int_eq(cvmm_vmm_device_unplug(vmm, id, err, sizeof(err)), -EOPNOTSUPP);
	ck_assert_int_eq(cvmm_vmm_device_unplug(vmm, "__platform", err, sizeof(err)), -EOPNOTSUPP);
	ck_assert_ptr_nonnull(strstr(err, "only a PCI device"));
	ck_assert_int_eq(cvmm_vmm_hotplug_begin(vmm), 0);
	ck_assert_int_eq(add_rng(vmm, NULL, 0, NULL, NULL, err, sizeof(err)), -EOPNOTSUPP);
	ck_assert_ptr_nonnull(strstr(err, "cvmm_vmm_ged_add"));
	ck_assert_int_eq(cvmm_vmm_hotplug_end(vmm), 0);
	ck_assert_int_eq(cvmm_vmm_state(vmm), CVMM_VMM_RUNNING);
	cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_REQUEST, 0);
	cvmm_vmm_run(vmm);
	ck_assert_int_eq(cvmm_vmm_device_unplug(vmm, id, err, sizeof(err)), 0);
	cvmm_vmm_destroy(vmm);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vmm-hotplug");
	TCase *tc = tcase_create("hotplug");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, power_button);
	tcase_add_test(tc, unplug_refusals);
	tcase_add_test(tc, add_use_remove_rounds);
	tcase_add_test(tc, save_restore_after_hotplug);
	tcase_add_test(tc, intx_shared_level);
	suite_add_tcase(s, tc);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
