/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hello-kvm's built-in allow-lists: the main thread (waits for the VM's
 * end, joins, reports dirty pages, tears down) and the vCPU threads
 * (KVM_RUN, the test-guest ports, dirty harvest at sync-port writes).
 * VM, memory, vCPUs and their registers are set up before any filter.
 */
#include <linux/kvm.h>

#include "seccomp-rules.h"

/* Dirty tracking (--dirty-log), from either thread type. */
#define DIRTY_RULES                       \
	IOCTL(KVM_GET_DIRTY_LOG),         \
	IOCTL(KVM_CLEAR_DIRTY_LOG),       \
	IOCTL(KVM_RESET_DIRTY_RINGS)

static const struct cvmm_seccomp_rule hello_main[] = {
	COMMON_RULES,
	DIRTY_RULES,
	CVMM_SECCOMP_RULE("close"),
	CVMM_SECCOMP_RULE("munmap"),
	CVMM_SECCOMP_RULE("brk"),
};

static const struct cvmm_seccomp_rule hello_vcpu[] = {
	COMMON_RULES,
	DIRTY_RULES,
	IOCTL(KVM_RUN),
	IOCTL(KVM_GET_REGS),
};

static const struct cvmm_sandbox_table tables[] = {
	TABLE("hello-kvm", "main", hello_main),
	TABLE("hello-kvm", "vcpu", hello_vcpu),
};

const struct cvmm_sandbox_program cvmm_sandbox_hello_kvm = { tables, CVMM_ARRAY_SIZE(tables) };
