/* SPDX-License-Identifier: Apache-2.0 */
/* vCPU state wrappers, guest debug, interrupts, and the whole-state save/restore round trip. */
#include "kvm-test-util.h"
#include "cvmm-test.h"

#include <stdlib.h>
#include <string.h>

static const struct tvm_opts cpl3 = { .mode = TVM_LONG_CPL3 };
static const struct tvm_opts cpl3_irqchip = { .mode = TVM_LONG_CPL3, .irqchip = true };

START_TEST(vcpu_create_errors)
{
	struct tvm t;
	struct cvmm_kvm_vcpu *v = (void *)1;

	tvm_setup(&t, &cpl3);
	ck_assert_int_eq(cvmm_kvm_vcpu_create(t.vm, 0, &v), -EEXIST);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(cvmm_kvm_vcpu_create(t.vm, 1u << 31, &v), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vcpu_create(t.vm, 1u << 30, &v), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vcpu_create(t.vm, 1, &v), 0);
	ck_assert_uint_eq(cvmm_kvm_vcpu_id(v), 1);
	ck_assert_ptr_eq(cvmm_kvm_vcpu_vm(v), t.vm);
	ck_assert_int_ge(cvmm_kvm_vcpu_fd(v), 0);
	ck_assert_ptr_nonnull(cvmm_kvm_vcpu_run_page(v));
	cvmm_kvm_vcpu_destroy(v);
	cvmm_kvm_vcpu_destroy(NULL);
	tvm_teardown(&t);
}
END_TEST

START_TEST(regs_sregs_fpu)
{
	struct tvm t;
	struct kvm_regs r, r2;
	struct kvm_sregs s, s2;
	struct kvm_fpu f, f2;

	tvm_setup(&t, &cpl3);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_regs(t.vcpu, &r), 0);
	r.r15 = 0x1122334455667788ull;
	r.rax = 7;
	ck_assert_int_eq(cvmm_kvm_vcpu_set_regs(t.vcpu, &r), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_regs(t.vcpu, &r2), 0);
	ck_assert_int_eq(memcmp(&r, &r2, sizeof(r)), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_sregs(t.vcpu, &s), 0);
	ck_assert_uint_eq(s.efer & 0x500, 0x500);
	ck_assert_uint_eq(s.cs.dpl, 3);
	/* Long mode without paging is an invalid combination. */
	s2 = s;
	s2.cr0 &= ~0x80000000ull;
	ck_assert_int_eq(cvmm_kvm_vcpu_set_sregs(t.vcpu, &s2), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_sregs(t.vcpu, &s2), 0);
	ck_assert_int_eq(memcmp(&s, &s2, sizeof(s)), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_fpu(t.vcpu, &f), 0);
	f.xmm[3][0] = 0xab;
	f.fcw = 0x37f;
	ck_assert_int_eq(cvmm_kvm_vcpu_set_fpu(t.vcpu, &f), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_fpu(t.vcpu, &f2), 0);
	ck_assert_uint_eq(f2.xmm[3][0], 0xab);
	ck_assert_uint_eq(f2.fcw, 0x37f);
	tvm_teardown(&t);
}
END_TEST

START_TEST(sregs2)
{
	struct tvm t;
	struct kvm_sregs2 s, s2;

	tvm_setup(&t, &cpl3);
	if (cvmm_kvm_vm_check_extension(t.vm, KVM_CAP_SREGS2) <= 0) {
		ck_assert_int_eq(cvmm_kvm_vcpu_get_sregs2(t.vcpu, &s), -EOPNOTSUPP);
		tvm_teardown(&t);
		return;
	}
	ck_assert_int_eq(cvmm_kvm_vcpu_get_sregs2(t.vcpu, &s), 0);
	ck_assert_uint_eq(s.cr3, 0x1000);
	s.cr8 = 0;
	ck_assert_int_eq(cvmm_kvm_vcpu_set_sregs2(t.vcpu, &s), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_sregs2(t.vcpu, &s2), 0);
	ck_assert_int_eq(memcmp(&s, &s2, sizeof(s)), 0);
	s2.flags = 0x80000000u;
	ck_assert_int_eq(cvmm_kvm_vcpu_set_sregs2(t.vcpu, &s2), -EINVAL);
	tvm_teardown(&t);
}
END_TEST

START_TEST(xsave_xcrs)
{
	struct tvm t;
	size_t sz;
	struct kvm_xsave *x, *y;
	struct kvm_xcrs c, c2;

	tvm_setup(&t, &cpl3);
	sz = cvmm_kvm_vm_xsave_size(t.vm);
	x = calloc(1, sz);
	y = calloc(1, sz);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_xsave(t.vcpu, x, sz - 1), -ENOSPC);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_xsave(t.vcpu, NULL, sz), -ENOSPC);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_xsave(t.vcpu, x, sz), 0);
	/* XMM3 lives at byte 160 + 3*16 of the legacy area. */
	((uint8_t *)x->region)[160 + 48] = 0x5e;
	((uint8_t *)x->region)[512] |= 0x2; /* XSTATE_BV: SSE state is live */
	ck_assert_int_eq(cvmm_kvm_vcpu_set_xsave(t.vcpu, x, sz), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_set_xsave(t.vcpu, x, sz - 1), -ENOSPC);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_xsave(t.vcpu, y, sz), 0);
	ck_assert_uint_eq(((uint8_t *)y->region)[160 + 48], 0x5e);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_xcrs(t.vcpu, &c), 0);
	ck_assert_uint_ge(c.nr_xcrs, 1);
	ck_assert_uint_eq(c.xcrs[0].xcr, 0);
	ck_assert_uint_eq(c.xcrs[0].value & 1, 1); /* x87 always on */
	ck_assert_int_eq(cvmm_kvm_vcpu_set_xcrs(t.vcpu, &c), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_xcrs(t.vcpu, &c2), 0);
	ck_assert_uint_eq(c2.xcrs[0].value, c.xcrs[0].value);
	/* XCR0 without x87 is invalid. */
	c.xcrs[0].value = 0x2;
	ck_assert_int_eq(cvmm_kvm_vcpu_set_xcrs(t.vcpu, &c), -EINVAL);
	free(x);
	free(y);
	tvm_teardown(&t);
}
END_TEST

START_TEST(lapic_nmi_interrupt)
{
	struct tvm t;
	struct kvm_lapic_state l, l2;
	struct kvm_vcpu_events ev;

	tvm_setup(&t, &cpl3);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_lapic(t.vcpu, &l), -EINVAL);
	/* Without an irqchip the VMM injects interrupts itself. */
	ck_assert_int_eq(cvmm_kvm_vcpu_interrupt(t.vcpu, 0x20), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_events(t.vcpu, &ev), 0);
	ck_assert(ev.interrupt.injected);
	ck_assert_uint_eq(ev.interrupt.nr, 0x20);
	ck_assert_int_eq(cvmm_kvm_vcpu_interrupt(t.vcpu, 256), -EINVAL);
	tvm_teardown(&t);

	tvm_setup(&t, &cpl3_irqchip);
	ck_assert_int_eq(cvmm_kvm_vcpu_interrupt(t.vcpu, 0x20), -ENXIO);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_lapic(t.vcpu, &l), 0);
	/* APIC ID register (0x20) holds id 0 in bits 24+; spurious vector at 0xf0. */
	ck_assert_uint_eq(((uint32_t *)(void *)l.regs)[0x20 / 4] >> 24, 0);
	((uint32_t *)(void *)l.regs)[0xf0 / 4] = 0x1ff; /* enable, vector 0xff */
	ck_assert_int_eq(cvmm_kvm_vcpu_set_lapic(t.vcpu, &l), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_lapic(t.vcpu, &l2), 0);
	ck_assert_uint_eq(((uint32_t *)(void *)l2.regs)[0xf0 / 4], 0x1ff);
	ck_assert_int_eq(cvmm_kvm_vcpu_nmi(t.vcpu), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_events(t.vcpu, &ev), 0);
	ck_assert(ev.nmi.pending || ev.nmi.injected);
	tvm_teardown(&t);
}
END_TEST

START_TEST(msrs)
{
	struct tvm t;
	struct kvm_msrs *m = cvmm_kvm_msrs_alloc(3);

	tvm_setup(&t, &cpl3);
	m->entries[0].index = 0x10;        /* IA32_TSC */
	m->entries[1].index = 0xc0000081;  /* STAR */
	m->entries[2].index = 0x4b564dff;  /* nothing */
	ck_assert_int_eq(cvmm_kvm_vcpu_get_msrs(t.vcpu, m), 2);
	m->nmsrs = 1;
	m->entries[0].index = 0xc0000081;
	m->entries[0].data = 0x0023001000000000ull;
	ck_assert_int_eq(cvmm_kvm_vcpu_set_msrs(t.vcpu, m), 1);
	m->entries[0].data = 0;
	ck_assert_int_eq(cvmm_kvm_vcpu_get_msrs(t.vcpu, m), 1);
	ck_assert_uint_eq(m->entries[0].data, 0x0023001000000000ull);
	/* Writing an MSR that does not exist: zero written. */
	m->entries[0].index = 0x4b564dff;
	ck_assert_int_eq(cvmm_kvm_vcpu_set_msrs(t.vcpu, m), 0);
	free(m);
	tvm_teardown(&t);
}
END_TEST

START_TEST(cpuid2_roundtrip)
{
	struct tvm t;
	struct kvm_cpuid2 *sup, *got;
	int n;

	tvm_setup(&t, &cpl3); /* it already set the supported table */
	ck_assert_int_gt(cvmm_kvm_get_supported_cpuid(t.kvm, &sup), 0);
	n = cvmm_kvm_vcpu_get_cpuid2(t.vcpu, &got);
	/* KVM may drop entries it does not keep per vCPU; every kept one came from us. */
	ck_assert_int_gt(n, 1);
	ck_assert_int_le(n, (int)sup->nent);
	for (int i = 0; i < n; i++) {
		bool found = false;

		for (uint32_t j = 0; j < sup->nent && !found; j++)
			found = got->entries[i].function == sup->entries[j].function &&
				got->entries[i].index == sup->entries[j].index;
		ck_assert_msg(found, "leaf %#x not from the table we set", got->entries[i].function);
	}
	free(got);
	/* Too many entries. */
	{
		struct kvm_cpuid2 *big = cvmm_kvm_cpuid2_alloc(1000);

		ck_assert_int_eq(cvmm_kvm_vcpu_set_cpuid2(t.vcpu, big), -E2BIG);
		free(big);
	}
	free(sup);
	tvm_teardown(&t);
}
END_TEST

START_TEST(events_mpstate_debugregs_tsc)
{
	struct tvm t;
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp;
	struct kvm_debugregs d, d2;
	int khz;

	tvm_setup(&t, &cpl3_irqchip);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_events(t.vcpu, &ev), 0);
	ev.flags = 0x80000000u;
	ck_assert_int_eq(cvmm_kvm_vcpu_set_events(t.vcpu, &ev), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_events(t.vcpu, &ev), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_set_events(t.vcpu, &ev), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_mp_state(t.vcpu, &mp), 0);
	ck_assert_uint_eq(mp.mp_state, KVM_MP_STATE_RUNNABLE);
	mp.mp_state = KVM_MP_STATE_HALTED;
	ck_assert_int_eq(cvmm_kvm_vcpu_set_mp_state(t.vcpu, &mp), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_mp_state(t.vcpu, &mp), 0);
	ck_assert_uint_eq(mp.mp_state, KVM_MP_STATE_HALTED);
	mp.mp_state = 77;
	ck_assert_int_eq(cvmm_kvm_vcpu_set_mp_state(t.vcpu, &mp), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_debugregs(t.vcpu, &d), 0);
	d.db[1] = 0x4000;
	ck_assert_int_eq(cvmm_kvm_vcpu_set_debugregs(t.vcpu, &d), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_debugregs(t.vcpu, &d2), 0);
	ck_assert_uint_eq(d2.db[1], 0x4000);
	d.flags = 1;
	ck_assert_int_eq(cvmm_kvm_vcpu_set_debugregs(t.vcpu, &d), -EINVAL);
	khz = cvmm_kvm_vcpu_get_tsc_khz(t.vcpu);
	ck_assert_int_gt(khz, 100000); /* more than 100 MHz */
	ck_assert_int_eq(cvmm_kvm_vcpu_set_tsc_khz(t.vcpu, (uint32_t)khz), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_set_tsc_khz(t.vcpu, 0), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_tsc_khz(t.vcpu), khz);
	tvm_teardown(&t);
}
END_TEST

START_TEST(guest_debug_single_step)
{
	/* nop; nop; out 0x10, al */
	static const uint8_t code[] = { 0x90, 0x90, 0xe6, 0x10, 0xeb, 0xfe };
	struct kvm_guest_debug dbg = { .control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP };
	struct cvmm_kvm_exit x;
	struct tvm t;
	/* CPL0: PVM runs CPL3 natively and its #DB traps skip KVM's guest debug. */
	struct tvm_opts o = { .mode = TVM_LONG_CPL0 };

	tvm_setup(&t, &o);
	tvm_load(&t, code, sizeof(code));
	ck_assert_int_eq(cvmm_kvm_vcpu_set_guest_debug(t.vcpu, &dbg), 0);
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_DEBUG);
	ck_assert_uint_eq(x.debug.exception, 1); /* #DB */
	ck_assert_uint_eq(x.debug.pc, TVM_CODE + 1);
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_DEBUG);
	ck_assert_uint_eq(x.debug.pc, TVM_CODE + 2);
	dbg.control = 0;
	ck_assert_int_eq(cvmm_kvm_vcpu_set_guest_debug(t.vcpu, &dbg), 0);
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO);
	tvm_teardown(&t);
}
END_TEST

START_TEST(vcpu_enable_cap)
{
	struct tvm t;
	struct kvm_enable_cap c = { .cap = 0x7ffffff0 };

	tvm_setup(&t, &cpl3);
	ck_assert_int_eq(cvmm_kvm_vcpu_enable_cap(t.vcpu, &c), -EINVAL);
	tvm_teardown(&t);
}
END_TEST

/* --- whole-state save/restore -------------------------------------------- */

/*
 * mov rax, 0x1122334455667788; mov r9, rax; out 0x10, al; mov rbx, r9; out 0x11, al
 * The first OUT stops the source vCPU with state worth saving; the copy must
 * carry on from exactly there in another VM.
 */
static const uint8_t state_code[] = {
	0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
	0x49, 0x89, 0xc1, 0xe6, 0x10, 0x4c, 0x89, 0xcb, 0xe6, 0x11, 0xeb, 0xfe,
};

static bool msr_is_clock(uint32_t index)
{
	/* The TSC and what counts with it move between two reads. */
	return index == 0x10 || index == 0x6e0 /* TSC deadline */ ||
	       index == 0x3b /* TSC adjust */ || index == 0xc0000103 /* TSC_AUX ok but keep */;
}

START_TEST(state_save_restore_roundtrip)
{
	struct tvm a, b;
	struct cvmm_kvm_vcpu_state s1, s2;
	struct cvmm_kvm_exit x;
	struct kvm_userspace_memory_region r;
	struct kvm_regs regs;
	uint8_t *b_mem;

	tvm_setup(&a, &cpl3_irqchip);
	tvm_load(&a, state_code, sizeof(state_code));
	x = tvm_run(&a);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO);
	ck_assert_uint_eq(x.io.port, 0x10);
	/* Give the LAPIC and an MSR recognisable values. */
	{
		struct kvm_lapic_state l;
		struct kvm_msrs *m = cvmm_kvm_msrs_alloc(1);

		ck_assert_int_eq(cvmm_kvm_vcpu_get_lapic(a.vcpu, &l), 0);
		((uint32_t *)(void *)l.regs)[0x80 / 4] = 0x30; /* TPR */
		ck_assert_int_eq(cvmm_kvm_vcpu_set_lapic(a.vcpu, &l), 0);
		m->entries[0].index = 0xc0000084; /* SFMASK */
		m->entries[0].data = 0x4700;
		ck_assert_int_eq(cvmm_kvm_vcpu_set_msrs(a.vcpu, m), 1);
		free(m);
	}
	ck_assert_int_eq(cvmm_kvm_vcpu_state_save(a.vcpu, &s1), 0);
	ck_assert_uint_eq(s1.valid & CVMM_KVM_STATE_LAPIC, CVMM_KVM_STATE_LAPIC);
	ck_assert_ptr_nonnull(s1.msrs);
	ck_assert_ptr_nonnull(s1.cpuid);
	ck_assert_uint_gt(s1.msrs->nmsrs, 10);
	ck_assert_uint_eq(s1.regs.r9, 0x1122334455667788ull);

	/* A second VM over the same guest memory, with a fresh vCPU. */
	memset(&b, 0, sizeof(b));
	b.mode = TVM_LONG_CPL3;
	ck_assert_int_eq(cvmm_kvm_create(NULL, &b.kvm), 0);
	ck_assert_int_eq(cvmm_kvm_vm_create(b.kvm, NULL, &b.vm), 0);
	ck_assert_int_eq(cvmm_kvm_vm_create_irqchip(b.vm), 0);
	b_mem = a.mem;
	r = (struct kvm_userspace_memory_region){
		.slot = 0, .memory_size = TVM_MEM_SIZE, .userspace_addr = (uintptr_t)b_mem,
	};
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(b.vm, &r), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_create(b.vm, 0, &b.vcpu), 0);
	/* Through the packed form, as a snapshot section carries it. */
	{
		struct cvmm_kvm_vcpu_state sp;
		struct cvmm_kvm_state_error why = { { 0 } };
		size_t n = cvmm_kvm_vcpu_state_packed_size(&s1);
		uint8_t *buf = malloc(n);

		ck_assert_int_eq(cvmm_kvm_vcpu_state_pack(&s1, buf, n - 1), -ENOSPC);
		ck_assert_int_eq(cvmm_kvm_vcpu_state_pack(&s1, buf, n), (int)n);
		ck_assert_msg(cvmm_kvm_vcpu_state_unpack(buf, n, &sp, &why) == 0, "%s: %s",
			      why.field, why.msg);
		ck_assert_int_eq(cvmm_kvm_vcpu_state_restore(b.vcpu, &sp), 0);
		cvmm_kvm_vcpu_state_fini(&sp);
		free(buf);
	}
	ck_assert_int_eq(cvmm_kvm_vcpu_state_save(b.vcpu, &s2), 0);

	ck_assert_uint_eq(s2.valid, s1.valid);
	ck_assert_int_eq(memcmp(&s1.regs, &s2.regs, sizeof(s1.regs)), 0);
	ck_assert_int_eq(memcmp(&s1.sregs, &s2.sregs, sizeof(s1.sregs)), 0);
	ck_assert_int_eq(memcmp(&s1.xcrs, &s2.xcrs, sizeof(s1.xcrs)), 0);
	ck_assert_int_eq(memcmp(&s1.mp_state, &s2.mp_state, sizeof(s1.mp_state)), 0);
	ck_assert_int_eq(memcmp(&s1.debugregs, &s2.debugregs, sizeof(s1.debugregs)), 0);
	ck_assert_int_eq(memcmp(&s1.events, &s2.events, sizeof(s1.events)), 0);
	ck_assert_int_eq(memcmp(&s1.lapic, &s2.lapic, sizeof(s1.lapic)), 0);
	ck_assert_uint_eq(s1.xsave_size, s2.xsave_size);
	ck_assert_int_eq(memcmp(s1.xsave, s2.xsave, s1.xsave_size), 0);
	ck_assert_uint_eq(s1.tsc_khz, s2.tsc_khz);
	ck_assert_uint_eq(s1.cpuid->nent, s2.cpuid->nent);
	ck_assert_int_eq(memcmp(s1.cpuid->entries, s2.cpuid->entries,
				s1.cpuid->nent * sizeof(s1.cpuid->entries[0])), 0);
	ck_assert_uint_eq(s1.msrs->nmsrs, s2.msrs->nmsrs);
	for (uint32_t i = 0; i < s1.msrs->nmsrs; i++) {
		ck_assert_uint_eq(s1.msrs->entries[i].index, s2.msrs->entries[i].index);
		if (!msr_is_clock(s1.msrs->entries[i].index))
			ck_assert_msg(s1.msrs->entries[i].data == s2.msrs->entries[i].data,
				      "MSR %#x: %#llx != %#llx", s1.msrs->entries[i].index,
				      (unsigned long long)s1.msrs->entries[i].data,
				      (unsigned long long)s2.msrs->entries[i].data);
	}
	/* The copy carries on where the original stopped. */
	x = tvm_run(&b);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO);
	ck_assert_uint_eq(x.io.port, 0x11);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_regs(b.vcpu, &regs), 0);
	ck_assert_uint_eq(regs.rbx, 0x1122334455667788ull);

	cvmm_kvm_vcpu_state_fini(&s1);
	cvmm_kvm_vcpu_state_fini(&s2);
	cvmm_kvm_vcpu_state_fini(NULL);
	ck_assert_ptr_null(s1.msrs);
	b.mem = NULL; /* shared with a */
	tvm_teardown(&b);
	tvm_teardown(&a);
}
END_TEST

START_TEST(state_without_irqchip)
{
	struct tvm a;
	struct cvmm_kvm_vcpu_state s;

	tvm_setup(&a, &cpl3);
	ck_assert_int_eq(cvmm_kvm_vcpu_state_save(a.vcpu, &s), 0);
	ck_assert_uint_eq(s.valid & CVMM_KVM_STATE_LAPIC, 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_state_restore(a.vcpu, &s), 0);
	/* Some MSRs (async-PF vector) cannot be written without a LAPIC; restore
	 * accepts that only because they already hold the saved value. */
	{
		struct kvm_msrs *m = cvmm_kvm_msrs_alloc(1);

		for (uint32_t i = 0; i < s.msrs->nmsrs; i++)
			if (s.msrs->entries[i].index == 0xc0000084) /* SFMASK */
				s.msrs->entries[i].data = 0x300;
		ck_assert_int_eq(cvmm_kvm_vcpu_state_restore(a.vcpu, &s), 0);
		m->entries[0].index = 0xc0000084;
		ck_assert_int_eq(cvmm_kvm_vcpu_get_msrs(a.vcpu, m), 1);
		ck_assert_uint_eq(m->entries[0].data, 0x300);
		free(m);
	}
	/* A corrupted snapshot is refused, not half-applied silently. */
	s.sregs.cr0 &= ~0x80000000ull;
	ck_assert_int_eq(cvmm_kvm_vcpu_state_restore(a.vcpu, &s), -EINVAL);
	cvmm_kvm_vcpu_state_fini(&s);
	tvm_teardown(&a);
}
END_TEST

/* A packed state from a hostile source: refused by field, nothing leaked. */
static void put32_at(uint8_t *b, size_t off, uint32_t v)
{
	memcpy(b + off, &v, 4);
}

START_TEST(state_packed_hostile)
{
	static const struct {
		size_t off;
		uint32_t value;
		int err;
		const char *field;
	} cases[] = {
		{ 0, 2, -EPROTONOSUPPORT, "version" },
		{ 0, 0, -EINVAL, "version" },
		{ 4, 0x100, -EINVAL, "valid" },
		{ 24, 0x4, -EINVAL, "flags" },
		{ 28, 1, -EINVAL, "reserved" },
		{ 12, 0xffffffffu, -ERANGE, "nmsrs" },
		{ 12, CVMM_KVM_VCPU_STATE_MAX_MSRS + 1, -ERANGE, "nmsrs" },
		{ 12, 3, -EINVAL, "length" },
		{ 16, 257, -ERANGE, "ncpuid" },
		{ 20, 0xfffffff0u, -ERANGE, "xsave_size" },
		{ 20, 100, -EINVAL, "xsave_size" },
	};
	struct tvm a;
	struct cvmm_kvm_vcpu_state s, u;
	struct cvmm_kvm_state_error why;
	uint8_t *buf, *bad;
	size_t n;

	tvm_setup(&a, &cpl3_irqchip);
	ck_assert_int_eq(cvmm_kvm_vcpu_state_save(a.vcpu, &s), 0);
	ck_assert_uint_eq(s.valid & CVMM_KVM_STATE_XSAVE, CVMM_KVM_STATE_XSAVE);
	n = cvmm_kvm_vcpu_state_packed_size(&s);
	buf = malloc(n);
	bad = malloc(n + 8);
	ck_assert_int_eq(cvmm_kvm_vcpu_state_pack(&s, buf, n), (int)n);
	for (size_t i = 0; i < CVMM_ARRAY_SIZE(cases); i++) {
		memcpy(bad, buf, n);
		put32_at(bad, cases[i].off, cases[i].value);
		memset(&why, 0, sizeof(why));
		ck_assert_int_eq(cvmm_kvm_vcpu_state_unpack(bad, n, &u, &why), cases[i].err);
		ck_assert_msg(strcmp(why.field, cases[i].field) == 0, "case %zu: field '%s' (%s)", i,
			      why.field, why.msg);
		ck_assert_ptr_null(u.msrs);
		ck_assert_ptr_null(u.xsave);
	}
	/* mp_state out of range, written through pack so the layout stays the library's. */
	{
		struct cvmm_kvm_vcpu_state m = { 0 };

		ck_assert_int_eq(cvmm_kvm_vcpu_state_unpack(buf, n, &m, NULL), 0);
		m.mp_state.mp_state = 11;
		memcpy(bad, buf, n);
		ck_assert_int_eq(cvmm_kvm_vcpu_state_pack(&m, bad, n), (int)n);
		ck_assert_int_eq(cvmm_kvm_vcpu_state_unpack(bad, n, &u, &why), -ERANGE);
		ck_assert_str_eq(why.field, "mp_state");
		cvmm_kvm_vcpu_state_fini(&m);
	}
	/* Every truncation, and one byte too many. */
	for (size_t cut = 0; cut < n; cut += (cut < 64 ? 1 : 61)) {
		ck_assert_int_eq(cvmm_kvm_vcpu_state_unpack(buf, cut, &u, &why), -EINVAL);
		ck_assert_str_eq(why.field, "length");
	}
	memcpy(bad, buf, n);
	bad[n] = 0;
	ck_assert_int_eq(cvmm_kvm_vcpu_state_unpack(bad, n + 8, &u, &why), -EINVAL);
	ck_assert_str_eq(why.field, "length");
	/* A register the kernel refuses is refused at restore, after unpack took it. */
	ck_assert_int_eq(cvmm_kvm_vcpu_state_unpack(buf, n, &u, &why), 0);
	u.sregs.cr0 &= ~0x80000000ull; /* paging off with long mode on */
	ck_assert_int_eq(cvmm_kvm_vcpu_state_restore(a.vcpu, &u), -EINVAL);
	cvmm_kvm_vcpu_state_fini(&u);
	/* pack refuses inconsistent input. */
	s.valid |= 0x40;
	ck_assert_int_eq(cvmm_kvm_vcpu_state_pack(&s, buf, n), -EINVAL);
	s.valid &= ~0x40u;
	ck_assert_int_eq(cvmm_kvm_vcpu_state_pack(NULL, buf, n), -EINVAL);
	cvmm_kvm_vcpu_state_fini(&s);
	free(buf);
	free(bad);
	tvm_teardown(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kvm-vcpu");
	TCase *regs = tcase_create("regs");
	TCase *state = tcase_create("state");

	cvmm_test_require_kvm();
	tcase_set_timeout(regs, 60);
	tcase_set_timeout(state, 60);
	tcase_add_test(regs, vcpu_create_errors);
	tcase_add_test(regs, regs_sregs_fpu);
	tcase_add_test(regs, sregs2);
	tcase_add_test(regs, xsave_xcrs);
	tcase_add_test(regs, lapic_nmi_interrupt);
	tcase_add_test(regs, msrs);
	tcase_add_test(regs, cpuid2_roundtrip);
	tcase_add_test(regs, events_mpstate_debugregs_tsc);
	tcase_add_test(regs, guest_debug_single_step);
	tcase_add_test(regs, vcpu_enable_cap);
	tcase_add_test(state, state_save_restore_roundtrip);
	tcase_add_test(state, state_without_irqchip);
	tcase_add_test(state, state_packed_hostile);
	suite_add_tcase(s, regs);
	suite_add_tcase(s, state);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
