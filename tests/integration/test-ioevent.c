/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ioeventfd delivery: the "ioevent" guest writes a matching value N times
 * and a non-matching one once, to a port and to an MMIO address. The
 * matching writes must land on the eventfds (never in user space), the
 * others must come to user space as ordinary exits.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <cvmm/sys-util.h>

#include "itest.h"

#define PORT 0x510
#define MMIO_GPA 0xd0000000ull
#define MATCH 0x5a5a1234u

struct io_ctx {
	unsigned int pio_exits, mmio_exits, other;
	uint32_t pio_value, mmio_value;
};

static int on_io(struct hk_vm *vm, uint32_t cpu, const struct cvmm_kvm_exit *e, void *opaque)
{
	struct io_ctx *c = opaque;

	if (e->reason == CVMM_KVM_EXIT_IO && e->io.port == PORT && e->io.is_write &&
	    e->io.size == 4) {
		c->pio_exits++;
		memcpy(&c->pio_value, e->io.data, 4);
	} else if (e->reason == CVMM_KVM_EXIT_MMIO && e->mmio.addr == MMIO_GPA &&
		   e->mmio.is_write && e->mmio.len == 4) {
		c->mmio_exits++;
		memcpy(&c->mmio_value, e->mmio.data, 4);
	} else {
		c->other++;
	}
	return 0;
}

static void run_ioevent(uint64_t count, bool use_pio, bool use_mmio, bool match)
{
	struct io_ctx c = { 0 };
	struct hk_vm_opts o = {
		.on_io = on_io,
		.opaque = &c,
		.args = { use_pio ? PORT : 0, use_mmio ? MMIO_GPA : 0, MATCH, count },
	};
	uint64_t dm = MATCH, n;
	struct hk_result r;
	struct hk_vm *vm;
	int pfd, mfd, ret;

	vm = itest_vm(&o, GUEST("ioevent"));
	pfd = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	mfd = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	ck_assert_int_ge(pfd, 0);
	ck_assert_int_ge(mfd, 0);
	ret = cvmm_kvm_vm_register_ioeventfd(hk_vm_kvm(vm), pfd, CVMM_KVM_IO_PIO, PORT, 4,
					     match ? &dm : NULL);
	ck_assert_int_eq(ret, 0);
	ret = cvmm_kvm_vm_register_ioeventfd(hk_vm_kvm(vm), mfd, CVMM_KVM_IO_MMIO, MMIO_GPA,
					     4, match ? &dm : NULL);
	ck_assert_int_eq(ret, 0);
	ck_assert_int_eq(hk_vm_run(vm, &r), 0);
	itest_expect_exit(&r, 0);
	ck_assert_uint_eq(c.other, 0);

	/* With datamatch: count signals, one exit each with the odd value.
	 * Without: every write (count + 1) signals and none exits. */
	n = 0;
	ret = cvmm_eventfd_read(pfd, &n);
	if (use_pio) {
		ck_assert_int_eq(ret, 0);
		ck_assert_uint_eq(n, match ? count : count + 1);
		ck_assert_uint_eq(c.pio_exits, match ? 1 : 0);
		if (match)
			ck_assert_uint_eq(c.pio_value, MATCH + 1);
	} else {
		ck_assert_int_eq(ret, -EAGAIN);
		ck_assert_uint_eq(c.pio_exits, 0);
	}
	n = 0;
	ret = cvmm_eventfd_read(mfd, &n);
	if (use_mmio) {
		ck_assert_int_eq(ret, 0);
		ck_assert_uint_eq(n, match ? count : count + 1);
		ck_assert_uint_eq(c.mmio_exits, match ? 1 : 0);
		if (match)
			ck_assert_uint_eq(c.mmio_value, MATCH + 1);
	} else {
		ck_assert_int_eq(ret, -EAGAIN);
		ck_assert_uint_eq(c.mmio_exits, 0);
	}
	close(pfd);
	close(mfd);
	hk_vm_destroy(vm);
}

START_TEST(ioeventfd_pio_and_mmio_datamatch) { run_ioevent(7, true, true, true); }
END_TEST
START_TEST(ioeventfd_pio_only) { run_ioevent(3, true, false, true); }
END_TEST
START_TEST(ioeventfd_mmio_only) { run_ioevent(5, false, true, true); }
END_TEST
START_TEST(ioeventfd_any_value) { run_ioevent(4, true, true, false); }
END_TEST
START_TEST(ioeventfd_many) { run_ioevent(2000, true, true, true); }
END_TEST

static Suite *ioevent_suite(void)
{
	Suite *s = suite_create("ioeventfd");
	TCase *tc = tcase_create("delivery");

	tcase_set_timeout(tc, ITEST_TIMEOUT);
	tcase_add_test(tc, ioeventfd_pio_and_mmio_datamatch);
	tcase_add_test(tc, ioeventfd_pio_only);
	tcase_add_test(tc, ioeventfd_mmio_only);
	tcase_add_test(tc, ioeventfd_any_value);
	tcase_add_test(tc, ioeventfd_many);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	Suite *suites[] = { ioevent_suite(), NULL };

	cvmm_test_require_kvm();
	return cvmm_test_run(suites);
}
