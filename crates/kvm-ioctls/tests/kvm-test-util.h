/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-only: a VM with one RAM slot at GPA 0 and one vCPU placed in real
 * mode or in 64-bit mode (CPL0 or CPL3) at TVM_CODE, so tests can run a few
 * bytes of machine code. CPL3 code runs natively on this machine's PVM
 * backend; CPL0 and real-mode code is emulated (slow, but fine for a few
 * instructions).
 */
#ifndef KVM_TEST_UTIL_H
#define KVM_TEST_UTIL_H

#include <cvmm/kvm-ioctls.h>
#include <cvmm/sys-util.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define TVM_MEM_SIZE (4u << 20) /* slot 0: [0, 4 MiB) */
#define TVM_CODE 0x10000u       /* where code is loaded and the vCPU starts */
#define TVM_DATA 0x100000u      /* a free page-aligned area for data */
#define TVM_MMIO 0x10000000u    /* mapped by the page tables, in no slot */

enum tvm_mode { TVM_REAL, TVM_LONG_CPL0, TVM_LONG_CPL3 };

struct tvm_opts {
	enum tvm_mode mode;
	bool irqchip;
	uint32_t ring_bytes; /* enable the dirty ring before the vCPU (0: no) */
	uint32_t slot_flags; /* for slot 0, e.g. KVM_MEM_LOG_DIRTY_PAGES */
};

struct tvm {
	enum tvm_mode mode;
	struct cvmm_kvm *kvm;
	struct cvmm_kvm_vm *vm;
	struct cvmm_kvm_vcpu *vcpu;
	uint8_t *mem;
};

/* Build it all; ck_assert()s on failure. */
void tvm_setup(struct tvm *t, const struct tvm_opts *o);
void tvm_teardown(struct tvm *t);
/* Copy @len bytes of code to TVM_CODE and point RIP there. */
void tvm_load(struct tvm *t, const void *code, size_t len);
/* Put the vCPU in @mode at TVM_CODE (for a second vCPU, say). */
void tvm_vcpu_setup(struct tvm *t, struct cvmm_kvm_vcpu *vcpu, enum tvm_mode mode);
void tvm_set_reg(struct cvmm_kvm_vcpu *vcpu, size_t off, uint64_t v);
#define TVM_SET(vcpu, reg, v) tvm_set_reg(vcpu, offsetof(struct kvm_regs, reg), v)
/* Run until an exit other than INTR; returns it. */
struct cvmm_kvm_exit tvm_run(struct tvm *t);

#endif
