/* SPDX-License-Identifier: Apache-2.0 */
/* Real guests: typed exits (IO, MMIO, HLT, SHUTDOWN, INTR), the kick, ioeventfd, irqfd. */
#include "kvm-test-util.h"
#include "cvmm-test.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct tvm_opts real_mode = { .mode = TVM_REAL };
static const struct tvm_opts cpl3 = { .mode = TVM_LONG_CPL3 };
/* On this machine's PVM backend "out dx" from CPL3 faults; CPL0 is emulated. */
static const struct tvm_opts cpl0 = { .mode = TVM_LONG_CPL0 };

START_TEST(real_mode_io_then_hlt)
{
	/* mov al, 0x5a; out 0x10, al; hlt */
	static const uint8_t code[] = { 0xb0, 0x5a, 0xe6, 0x10, 0xf4 };
	struct tvm t;
	struct cvmm_kvm_exit x;
	struct kvm_regs r;

	tvm_setup(&t, &real_mode);
	tvm_load(&t, code, sizeof(code));
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO);
	ck_assert_uint_eq(x.kvm_reason, KVM_EXIT_IO);
	ck_assert_uint_eq(x.io.port, 0x10);
	ck_assert_uint_eq(x.io.size, 1);
	ck_assert(x.io.is_write);
	ck_assert_uint_eq(x.io.count, 1);
	ck_assert_uint_eq(x.io.data[0], 0x5a);
	/* The data pointer lies inside the vCPU's run mapping. */
	ck_assert((uintptr_t)x.io.data > (uintptr_t)cvmm_kvm_vcpu_run_page(t.vcpu));
	/* Without an in-kernel LAPIC, HLT comes to user space. */
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_HLT);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_regs(t.vcpu, &r), 0);
	ck_assert_uint_eq(r.rip, sizeof(code)); /* real mode: CS base is TVM_CODE */
	tvm_teardown(&t);
}
END_TEST

START_TEST(io_in_delivers_data)
{
	/* in al, 0x11; out 0x10, al  (user mode, IOPL 3) */
	static const uint8_t code[] = { 0xe4, 0x11, 0xe6, 0x10, 0xeb, 0xfe };
	struct tvm t;
	struct cvmm_kvm_exit x;

	tvm_setup(&t, &cpl3);
	tvm_load(&t, code, sizeof(code));
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO);
	ck_assert_uint_eq(x.io.port, 0x11);
	ck_assert(!x.io.is_write);
	x.io.data[0] = 0xa7;
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO);
	ck_assert_uint_eq(x.io.port, 0x10);
	ck_assert(x.io.is_write);
	ck_assert_uint_eq(x.io.data[0], 0xa7);
	tvm_teardown(&t);
}
END_TEST

START_TEST(io_string_and_word)
{
	/* mov dx, 0x3f8; mov ax, 0xbeef; out dx, ax; mov rsi, rbx; mov rcx, 3; rep outsb */
	static const uint8_t code[] = {
		0x66, 0xba, 0xf8, 0x03, 0x66, 0xb8, 0xef, 0xbe, 0x66, 0xef,
		0x48, 0x89, 0xde, 0x48, 0xc7, 0xc1, 0x03, 0x00, 0x00, 0x00,
		0xf3, 0x6e, 0xeb, 0xfe,
	};
	struct tvm t;
	struct cvmm_kvm_exit x;

	tvm_setup(&t, &cpl0);
	tvm_load(&t, code, sizeof(code));
	memcpy(t.mem + TVM_DATA, "abc", 3);
	TVM_SET(t.vcpu, rbx, TVM_DATA);
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO);
	ck_assert_uint_eq(x.io.port, 0x3f8);
	ck_assert_uint_eq(x.io.size, 2);
	ck_assert_uint_eq(x.io.data[0] | x.io.data[1] << 8, 0xbeef);
	/* rep outsb: KVM may batch the string; collect until 3 bytes seen. */
	{
		char got[4] = { 0 };
		unsigned n = 0;

		while (n < 3) {
			x = tvm_run(&t);
			ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO);
			ck_assert_uint_eq(x.io.port, 0x3f8);
			ck_assert_uint_eq(x.io.size, 1);
			ck_assert_uint_ge(x.io.count, 1);
			ck_assert_uint_le(n + x.io.count, 3);
			memcpy(got + n, x.io.data, x.io.count);
			n += x.io.count;
		}
		ck_assert_str_eq(got, "abc");
	}
	tvm_teardown(&t);
}
END_TEST

START_TEST(mmio_write_and_read)
{
	/* mov [rbx], al; mov eax, [rbx]; out 0x10, al */
	static const uint8_t code[] = { 0x88, 0x03, 0x8b, 0x03, 0xe6, 0x10, 0xeb, 0xfe };
	struct tvm t;
	struct cvmm_kvm_exit x;

	tvm_setup(&t, &cpl3);
	tvm_load(&t, code, sizeof(code));
	TVM_SET(t.vcpu, rbx, TVM_MMIO + 0x24);
	TVM_SET(t.vcpu, rax, 0x99);
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_MMIO);
	ck_assert_uint_eq(x.mmio.addr, TVM_MMIO + 0x24);
	ck_assert_uint_eq(x.mmio.len, 1);
	ck_assert(x.mmio.is_write);
	ck_assert_uint_eq(x.mmio.data[0], 0x99);
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_MMIO);
	ck_assert_uint_eq(x.mmio.addr, TVM_MMIO + 0x24);
	ck_assert_uint_eq(x.mmio.len, 4);
	ck_assert(!x.mmio.is_write);
	memcpy(x.mmio.data, "\x3c\x00\x00\x00", 4);
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO);
	ck_assert_uint_eq(x.io.data[0], 0x3c);
	tvm_teardown(&t);
}
END_TEST

START_TEST(triple_fault_is_shutdown)
{
	static const uint8_t ud2[] = { 0x0f, 0x0b };
	struct tvm t;
	struct cvmm_kvm_exit x;

	tvm_setup(&t, &cpl3);
	tvm_load(&t, ud2, sizeof(ud2));
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_SHUTDOWN);
	ck_assert_uint_eq(x.kvm_reason, KVM_EXIT_SHUTDOWN);
	tvm_teardown(&t);
}
END_TEST

START_TEST(user_space_msr_exits)
{
	/* mov ecx, 0x4b564dfe; rdmsr; out 0x10, al; mov eax, 0x77; wrmsr; out 0x11, al */
	static const uint8_t code[] = {
		0xb9, 0xfe, 0x4d, 0x56, 0x4b, 0x0f, 0x32, 0xe6, 0x10,
		0xb8, 0x77, 0x00, 0x00, 0x00, 0x0f, 0x30, 0xe6, 0x11, 0xeb, 0xfe,
	};
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X86_USER_SPACE_MSR, .args = { KVM_MSR_EXIT_REASON_UNKNOWN },
	};
	struct tvm t;
	struct cvmm_kvm_exit x;

	tvm_setup(&t, &cpl0); /* RDMSR/WRMSR are CPL0 instructions */
	if (cvmm_kvm_vm_check_extension(t.vm, KVM_CAP_X86_USER_SPACE_MSR) <= 0) {
		printf("# SKIP KVM_CAP_X86_USER_SPACE_MSR not offered\n");
		tvm_teardown(&t);
		return;
	}
	ck_assert_int_eq(cvmm_kvm_vm_enable_cap(t.vm, &cap), 0);
	tvm_load(&t, code, sizeof(code));
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_RDMSR);
	ck_assert_uint_eq(x.msr.index, 0x4b564dfe);
	ck_assert_uint_eq(x.msr.reason, KVM_MSR_EXIT_REASON_UNKNOWN);
	*x.msr.data_out = 0x5d;
	*x.msr.error_out = 0;
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO);
	ck_assert_uint_eq(x.io.data[0], 0x5d); /* the value we supplied */
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_WRMSR);
	ck_assert_uint_eq(x.msr.index, 0x4b564dfe);
	ck_assert_uint_eq(x.msr.data & 0xffffffff, 0x77);
	/* Refuse it: the guest takes #GP, which with no IDT is a triple fault. */
	*x.msr.error_out = 1;
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_SHUTDOWN);
	tvm_teardown(&t);
}
END_TEST

START_TEST(irq_window_open)
{
	static const uint8_t jmp_self[] = { 0xeb, 0xfe };
	struct tvm t;
	struct cvmm_kvm_exit x;

	tvm_setup(&t, &cpl3);
	tvm_load(&t, jmp_self, sizeof(jmp_self));
	TVM_SET(t.vcpu, rflags, 0x3202); /* IF=1 */
	cvmm_kvm_vcpu_run_page(t.vcpu)->request_interrupt_window = 1;
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IRQ_WINDOW_OPEN);
	ck_assert(cvmm_kvm_vcpu_run_page(t.vcpu)->ready_for_interrupt_injection);
	tvm_teardown(&t);
}
END_TEST

START_TEST(fetch_from_mmio_is_internal_error)
{
	/* jmp rbx, with rbx in no memory slot */
	static const uint8_t code[] = { 0xff, 0xe3 };
	struct tvm t;
	struct cvmm_kvm_exit x;

	tvm_setup(&t, &cpl0);
	tvm_load(&t, code, sizeof(code));
	TVM_SET(t.vcpu, rbx, TVM_MMIO);
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_INTERNAL_ERROR);
	ck_assert_uint_le(x.internal.ndata, 16);
	ck_assert_uint_ge(x.internal.suberror, 1);
	tvm_teardown(&t);
}
END_TEST

/* --- the kick ------------------------------------------------------------ */

struct spinner {
	struct tvm t;
	pthread_t thread;
	volatile int phase; /* set by the vCPU thread */
	struct cvmm_kvm_exit exits[2];
	int rc[2];
	uint64_t ns;
};

static void *spin_thread(void *arg)
{
	struct spinner *s = arg;

	for (int i = 0; i < 2; i++) {
		uint64_t t0 = cvmm_now_ns();

		__atomic_store_n(&s->phase, 2 * i + 1, __ATOMIC_SEQ_CST);
		s->rc[i] = cvmm_kvm_vcpu_run(s->t.vcpu, &s->exits[i]);
		s->ns = cvmm_now_ns() - t0;
		__atomic_store_n(&s->phase, 2 * i + 2, __ATOMIC_SEQ_CST);
		if (s->rc[i] || s->exits[i].reason != CVMM_KVM_EXIT_INTR)
			break;
	}
	return NULL;
}

static void wait_phase(struct spinner *s, int phase)
{
	for (int i = 0; i < 5000 && __atomic_load_n(&s->phase, __ATOMIC_SEQ_CST) < phase; i++)
		usleep(1000);
	ck_assert_int_ge(s->phase, phase);
}

static void kick_spinning_guest(enum tvm_mode mode)
{
	static const uint8_t jmp_self[] = { 0xeb, 0xfe };
	struct tvm_opts o = { .mode = mode };
	struct spinner s = { .phase = 0 };

	ck_assert_int_eq(cvmm_kick_init(), 0);
	tvm_setup(&s.t, &o);
	tvm_load(&s.t, jmp_self, sizeof(jmp_self));
	ck_assert_int_eq(pthread_create(&s.thread, NULL, spin_thread, &s), 0);
	for (int i = 0; i < 2; i++) {
		wait_phase(&s, 2 * i + 1);
		/* Let it get well inside KVM_RUN: the guest loops forever. */
		usleep(50000);
		ck_assert_int_eq(s.phase, 2 * i + 1);
		ck_assert_int_eq(cvmm_kvm_vcpu_kick(s.t.vcpu), 0);
		wait_phase(&s, 2 * i + 2);
		ck_assert_int_eq(s.rc[i], 0);
		ck_assert_int_eq(s.exits[i].reason, CVMM_KVM_EXIT_INTR);
		/* The run consumed the kick, so the next run spins again. */
		ck_assert(!cvmm_kvm_vcpu_kick_pending(s.t.vcpu));
	}
	ck_assert_int_eq(pthread_join(s.thread, NULL), 0);
	tvm_teardown(&s.t);
}

START_TEST(kick_interrupts_user_mode_loop)
{
	kick_spinning_guest(TVM_LONG_CPL3);
}
END_TEST

START_TEST(kick_interrupts_emulated_real_mode_loop)
{
	kick_spinning_guest(TVM_REAL);
}
END_TEST

START_TEST(kick_before_run_is_not_lost)
{
	static const uint8_t jmp_self[] = { 0xeb, 0xfe };
	struct tvm t;
	struct cvmm_kvm_exit x;

	ck_assert_int_eq(cvmm_kick_init(), 0);
	tvm_setup(&t, &cpl3);
	tvm_load(&t, jmp_self, sizeof(jmp_self));
	/* No thread has run it yet: only the flag can carry the kick. */
	ck_assert_int_eq(cvmm_kvm_vcpu_kick(t.vcpu), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_kick(t.vcpu), 0);
	ck_assert(cvmm_kvm_vcpu_kick_pending(t.vcpu));
	ck_assert_int_eq(cvmm_kvm_vcpu_run(t.vcpu, &x), 0);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_INTR);
	ck_assert(!cvmm_kvm_vcpu_kick_pending(t.vcpu));
	tvm_teardown(&t);
}
END_TEST

START_TEST(kick_after_other_exit_survives)
{
	/* out 0x10, al; jmp $ */
	static const uint8_t code[] = { 0xe6, 0x10, 0xeb, 0xfe };
	struct tvm t;
	struct cvmm_kvm_exit x;
	struct kvm_regs r;

	ck_assert_int_eq(cvmm_kick_init(), 0);
	tvm_setup(&t, &cpl3);
	tvm_load(&t, code, sizeof(code));
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO);
	/* A kick landing while the vCPU handles an exit in user space. */
	ck_assert_int_eq(cvmm_kvm_vcpu_kick(t.vcpu), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_run(t.vcpu, &x), 0);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_INTR);
	/* The pending OUT was completed by that run: RIP moved past it. */
	ck_assert_int_eq(cvmm_kvm_vcpu_get_regs(t.vcpu, &r), 0);
	ck_assert_uint_eq(r.rip, TVM_CODE + 2);
	tvm_teardown(&t);
}
END_TEST

/* --- ioeventfd and irqfd --------------------------------------------------- */

START_TEST(ioeventfd_pio_swallows_exit)
{
	/* out 0x20, al; out 0x30, al; out 0x10, al */
	static const uint8_t code[] = { 0xe6, 0x20, 0xe6, 0x30, 0xe6, 0x10, 0xeb, 0xfe };
	struct tvm t;
	struct cvmm_kvm_exit x;
	uint64_t v, match = 0x55;
	int any = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	int dm = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);

	ck_assert_int_ge(any, 0);
	ck_assert_int_ge(dm, 0);
	tvm_setup(&t, &cpl3);
	tvm_load(&t, code, sizeof(code));
	TVM_SET(t.vcpu, rax, 0x54);
	ck_assert_int_eq(cvmm_kvm_vm_register_ioeventfd(t.vm, any, CVMM_KVM_IO_PIO, 0x20, 1, NULL), 0);
	ck_assert_int_eq(cvmm_kvm_vm_register_ioeventfd(t.vm, dm, CVMM_KVM_IO_PIO, 0x30, 1, &match), 0);
	/* The same registration twice is refused. */
	ck_assert_int_eq(cvmm_kvm_vm_register_ioeventfd(t.vm, any, CVMM_KVM_IO_PIO, 0x20, 1, NULL), -EEXIST);
	/* Port 0x20 never exits; 0x30 with 0x54 != 0x55 does. */
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO);
	ck_assert_uint_eq(x.io.port, 0x30);
	ck_assert_uint_eq(x.io.data[0], 0x54);
	ck_assert_int_eq(cvmm_eventfd_read(any, &v), 0);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(cvmm_eventfd_read(dm, &v), -EAGAIN);
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO);
	ck_assert_uint_eq(x.io.port, 0x10);
	/* Matching data: signalled, no exit. */
	TVM_SET(t.vcpu, rax, 0x55);
	tvm_load(&t, code + 2, sizeof(code) - 2);
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO);
	ck_assert_uint_eq(x.io.port, 0x10);
	ck_assert_int_eq(cvmm_eventfd_read(dm, &v), 0);
	ck_assert_uint_eq(v, 1);
	/* After unregistering, port 0x20 exits again. */
	ck_assert_int_eq(cvmm_kvm_vm_unregister_ioeventfd(t.vm, any, CVMM_KVM_IO_PIO, 0x20, 1, NULL), 0);
	ck_assert_int_eq(cvmm_kvm_vm_unregister_ioeventfd(t.vm, any, CVMM_KVM_IO_PIO, 0x20, 1, NULL), -ENOENT);
	tvm_load(&t, code, sizeof(code));
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO);
	ck_assert_uint_eq(x.io.port, 0x20);
	tvm_teardown(&t);
	cvmm_close(any);
	cvmm_close(dm);
}
END_TEST

START_TEST(ioeventfd_mmio)
{
	/* mov [rbx], eax; mov [rbx+8], eax; out 0x10, al */
	static const uint8_t code[] = { 0x89, 0x03, 0x89, 0x43, 0x08, 0xe6, 0x10, 0xeb, 0xfe };
	struct tvm t;
	struct cvmm_kvm_exit x;
	uint64_t v, match = 0x1234;
	int any = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	int dm = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);

	tvm_setup(&t, &cpl3);
	tvm_load(&t, code, sizeof(code));
	TVM_SET(t.vcpu, rbx, TVM_MMIO);
	TVM_SET(t.vcpu, rax, 0x1234);
	/* Length 0 matches any width; datamatch needs a width. */
	ck_assert_int_eq(cvmm_kvm_vm_register_ioeventfd(t.vm, any, CVMM_KVM_IO_MMIO, TVM_MMIO, 0, &match), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_register_ioeventfd(t.vm, any, CVMM_KVM_IO_MMIO, TVM_MMIO, 0, NULL), 0);
	ck_assert_int_eq(cvmm_kvm_vm_register_ioeventfd(t.vm, dm, CVMM_KVM_IO_MMIO, TVM_MMIO + 8, 4, &match), 0);
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO);
	ck_assert_uint_eq(x.io.port, 0x10);
	ck_assert_int_eq(cvmm_eventfd_read(any, &v), 0);
	ck_assert_int_eq(cvmm_eventfd_read(dm, &v), 0);
	tvm_teardown(&t);
	cvmm_close(any);
	cvmm_close(dm);
}
END_TEST

START_TEST(ioeventfd_bad_args)
{
	struct tvm t;
	int fd = cvmm_eventfd_create(0);

	tvm_setup(&t, &cpl3);
	ck_assert_int_eq(cvmm_kvm_vm_register_ioeventfd(t.vm, fd, CVMM_KVM_IO_PIO, 0x20, 3, NULL), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_register_ioeventfd(t.vm, fd, CVMM_KVM_IO_PIO, 0xffff, 2, NULL), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_register_ioeventfd(t.vm, fd, CVMM_KVM_IO_PIO, 0x20, 0, NULL), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_register_ioeventfd(t.vm, fd, CVMM_KVM_IO_MMIO, UINT64_MAX - 1, 4, NULL), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_register_ioeventfd(t.vm, fd, (enum cvmm_kvm_io_space)7, 0x20, 1, NULL), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_register_ioeventfd(t.vm, -1, CVMM_KVM_IO_PIO, 0x20, 1, NULL), -EBADF);
	/* Not an eventfd: the kernel refuses. */
	ck_assert_int_lt(cvmm_kvm_vm_register_ioeventfd(t.vm, cvmm_kvm_vm_fd(t.vm), CVMM_KVM_IO_PIO, 0x20, 1, NULL), 0);
	tvm_teardown(&t);
	cvmm_close(fd);
}
END_TEST

static bool pic_irr(struct cvmm_kvm_vm *vm, unsigned bit)
{
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_PIC_MASTER };

	ck_assert_int_eq(cvmm_kvm_vm_get_irqchip(vm, &chip), 0);
	return chip.chip.pic.irr & (1u << bit);
}

START_TEST(irqfd_injects_into_pic)
{
	struct tvm_opts o = { .mode = TVM_LONG_CPL3, .irqchip = true };
	struct tvm t;
	int fd = cvmm_eventfd_create(0), rs = cvmm_eventfd_create(0);
	bool seen = false;

	tvm_setup(&t, &o);
	ck_assert(!pic_irr(t.vm, 5));
	ck_assert_int_eq(cvmm_kvm_vm_register_irqfd(t.vm, fd, 5, -1), 0);
	ck_assert_int_eq(cvmm_kvm_vm_register_irqfd(t.vm, fd, 5, -1), -EBUSY);
	ck_assert_int_eq(cvmm_eventfd_write(fd, 1), 0);
	/* Injection runs from a kernel work item: give it a moment. */
	for (int i = 0; i < 1000 && !seen; i++) {
		seen = pic_irr(t.vm, 5);
		if (!seen)
			usleep(1000);
	}
	ck_assert(seen);
	ck_assert_int_eq(cvmm_kvm_vm_unregister_irqfd(t.vm, fd, 5), 0);
	/* Level-triggered with a resample fd. */
	ck_assert_int_eq(cvmm_kvm_vm_register_irqfd(t.vm, fd, 6, rs), 0);
	ck_assert_int_eq(cvmm_kvm_vm_unregister_irqfd(t.vm, fd, 6), 0);
	ck_assert_int_eq(cvmm_kvm_vm_register_irqfd(t.vm, -1, 6, -1), -EBADF);
	tvm_teardown(&t);
	cvmm_close(fd);
	cvmm_close(rs);
}
END_TEST

START_TEST(irqfd_needs_irqchip)
{
	struct tvm t;
	int fd = cvmm_eventfd_create(0);

	tvm_setup(&t, &cpl3);
	ck_assert_int_eq(cvmm_kvm_vm_register_irqfd(t.vm, fd, 5, -1), -EINVAL);
	tvm_teardown(&t);
	cvmm_close(fd);
}
END_TEST

START_TEST(hlt_with_irqchip_blocks_until_kicked)
{
	/* CPL0 long mode: hlt with IF=0 sleeps inside KVM_RUN for good. */
	static const uint8_t hlt[] = { 0xf4, 0xeb, 0xfd };
	struct tvm_opts o = { .mode = TVM_LONG_CPL0, .irqchip = true };
	struct spinner s = { .phase = 0 };

	ck_assert_int_eq(cvmm_kick_init(), 0);
	tvm_setup(&s.t, &o);
	tvm_load(&s.t, hlt, sizeof(hlt));
	ck_assert_int_eq(pthread_create(&s.thread, NULL, spin_thread, &s), 0);
	wait_phase(&s, 1);
	usleep(100000);
	ck_assert_int_eq(s.phase, 1); /* still inside KVM_RUN */
	ck_assert_int_eq(cvmm_kvm_vcpu_kick(s.t.vcpu), 0);
	wait_phase(&s, 2);
	ck_assert_int_eq(s.exits[0].reason, CVMM_KVM_EXIT_INTR);
	/* Stop the second iteration as well. */
	wait_phase(&s, 3);
	usleep(20000);
	ck_assert_int_eq(cvmm_kvm_vcpu_kick(s.t.vcpu), 0);
	ck_assert_int_eq(pthread_join(s.thread, NULL), 0);
	tvm_teardown(&s.t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kvm-run");
	TCase *exits = tcase_create("exits");
	TCase *kick = tcase_create("kick");
	TCase *fds = tcase_create("eventfds");

	cvmm_test_require_kvm();
	tcase_set_timeout(exits, 60);
	tcase_set_timeout(kick, 60);
	tcase_set_timeout(fds, 60);
	tcase_add_test(exits, real_mode_io_then_hlt);
	tcase_add_test(exits, io_in_delivers_data);
	tcase_add_test(exits, io_string_and_word);
	tcase_add_test(exits, mmio_write_and_read);
	tcase_add_test(exits, triple_fault_is_shutdown);
	tcase_add_test(exits, user_space_msr_exits);
	tcase_add_test(exits, irq_window_open);
	tcase_add_test(exits, fetch_from_mmio_is_internal_error);
	tcase_add_test(kick, kick_interrupts_user_mode_loop);
	tcase_add_test(kick, kick_interrupts_emulated_real_mode_loop);
	tcase_add_test(kick, kick_before_run_is_not_lost);
	tcase_add_test(kick, kick_after_other_exit_survives);
	tcase_add_test(kick, hlt_with_irqchip_blocks_until_kicked);
	tcase_add_test(fds, ioeventfd_pio_swallows_exit);
	tcase_add_test(fds, ioeventfd_mmio);
	tcase_add_test(fds, ioeventfd_bad_args);
	tcase_add_test(fds, irqfd_injects_into_pic);
	tcase_add_test(fds, irqfd_needs_irqchip);
	suite_add_tcase(s, exits);
	suite_add_tcase(s, kick);
	suite_add_tcase(s, fds);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
