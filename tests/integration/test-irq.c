/* SPDX-License-Identifier: Apache-2.0 */
/*
 * irqfd delivery: the "irq" guest routes an I/O APIC pin (or nothing, when
 * the GSI is routed as an MSI) to a vector, tells us it is ready through the
 * sync port, and exits with 0x100 | vector once the interrupt reached its
 * IDT handler (0x200 | vector if it only saw it pending in the LAPIC IRR).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <cvmm/sys-util.h>

#include "itest.h"

struct irq_ctx {
	int efd;
	unsigned int syncs;
};

static int on_sync(struct hk_vm *vm, uint32_t cpu, uint8_t value, void *opaque)
{
	struct irq_ctx *c = opaque;

	c->syncs++;
	return cvmm_eventfd_write(c->efd, 1);
}

static struct hk_result run_irq(uint32_t gsi, uint64_t pin, unsigned int vector,
				bool msi, bool poll)
{
	struct irq_ctx c = { 0 };
	struct hk_vm_opts o = {
		.on_sync = on_sync,
		.opaque = &c,
		.args = { pin, vector, poll ? 1 : 0 },
	};
	struct hk_result r;
	struct hk_vm *vm;
	int ret;

	vm = itest_vm(&o, GUEST("irq"));
	c.efd = cvmm_eventfd_create(0);
	ck_assert_int_ge(c.efd, 0);
	if (msi) {
		/* Replace the default routing with one MSI route for this GSI,
		 * straight to vector @vector of APIC 0. */
		struct kvm_irq_routing_entry e = {
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = 0xfee00000, .data = vector },
		};

		ret = cvmm_kvm_vm_set_gsi_routing(hk_vm_kvm(vm), &e, 1);
		ck_assert_int_eq(ret, 0);
	}
	ret = cvmm_kvm_vm_register_irqfd(hk_vm_kvm(vm), c.efd, gsi, -1);
	ck_assert_int_eq(ret, 0);
	ret = hk_vm_run(vm, &r);
	ck_assert_int_eq(ret, 0);
	ck_assert_uint_eq(c.syncs, 1);
	cvmm_kvm_vm_unregister_irqfd(hk_vm_kvm(vm), c.efd, gsi);
	close(c.efd);
	hk_vm_destroy(vm);
	return r;
}

static void expect_delivered(const struct hk_result *r, unsigned int vector)
{
	ck_assert_msg(r->outcome == HK_EXITED, "outcome %d %s rip 0x%llx", r->outcome,
		      r->what, (unsigned long long)r->rip);
	ck_assert_msg(r->code == (0x100u | vector) || r->code == (0x200u | vector),
		      "exit code 0x%x: vector 0x%x not delivered", r->code, vector);
}

START_TEST(irqfd_ioapic_pin)
{
	struct hk_result r = run_irq(5, 5, 0x41, false, false);

	expect_delivered(&r, 0x41);
	ck_assert_msg(r.code == (0x100u | 0x41), "not through the IDT: 0x%x", r.code);
}
END_TEST

START_TEST(irqfd_ioapic_pin_other_vector)
{
	/* A different pin and vector: the code must follow both. */
	struct hk_result r = run_irq(10, 10, 0x7e, false, false);

	expect_delivered(&r, 0x7e);
}
END_TEST

START_TEST(irqfd_msi_route)
{
	struct hk_result r = run_irq(24, ~0ull, 0x52, true, false);

	expect_delivered(&r, 0x52);
}
END_TEST

START_TEST(irqfd_msi_route_polled)
{
	/* IF stays on in the guest, so the IDT may win the race: either proves
	 * the interrupt arrived at the right vector. */
	struct hk_result r = run_irq(24, ~0ull, 0x63, true, true);

	expect_delivered(&r, 0x63);
}
END_TEST

static Suite *irq_suite(void)
{
	Suite *s = suite_create("irqfd");
	TCase *tc = tcase_create("delivery");

	tcase_set_timeout(tc, ITEST_TIMEOUT);
	tcase_add_test(tc, irqfd_ioapic_pin);
	tcase_add_test(tc, irqfd_ioapic_pin_other_vector);
	tcase_add_test(tc, irqfd_msi_route);
	tcase_add_test(tc, irqfd_msi_route_polled);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	Suite *suites[] = { irq_suite(), NULL };

	cvmm_test_require_kvm();
	return cvmm_test_run(suites);
}
