/* SPDX-License-Identifier: Apache-2.0 */
/* Shared bits of the KVM integration tests: where the guests are, and a VM
 * built the way every test wants it (hello-kvm's VMM, examples/hello-kvm/vm.h). */
#ifndef CVMM_ITEST_H
#define CVMM_ITEST_H

#include <check.h>
#include <stdio.h>

#include "cvmm-test.h"
#include "vm.h"

#ifndef CVMM_GUESTS_DIR
#error "build with -DCVMM_GUESTS_DIR=<builddir>/tests/guests"
#endif
#define GUEST(name) CVMM_GUESTS_DIR "/" name ".img"

/* Per-test timeout: guests are quick, but a first write to a page costs
 * tens of microseconds on this machine's KVM. */
#define ITEST_TIMEOUT 120

static inline struct hk_vm *itest_vm(struct hk_vm_opts *o, const char *image)
{
	struct hk_vm *vm = NULL;
	int ret;

	o->sz = sizeof(*o);
	if (!o->mem_size)
		o->mem_size = 64ull << 20;
	if (!o->ncpus)
		o->ncpus = 1;
	if (!o->timeout_ms)
		o->timeout_ms = 60 * 1000; /* a hung guest fails the test, not CI */
	ret = hk_vm_create(o, &vm);
	ck_assert_msg(ret == 0, "hk_vm_create: %d", ret);
	ret = hk_vm_load(vm, image);
	ck_assert_msg(ret == 0, "hk_vm_load(%s): %d", image, ret);
	return vm;
}

static inline void itest_expect_exit(const struct hk_result *r, uint32_t code)
{
	ck_assert_msg(r->outcome == HK_EXITED,
		      "guest did not exit: outcome %d cpu %u rip 0x%llx error %d %s",
		      r->outcome, r->cpu, (unsigned long long)r->rip, r->error, r->what);
	ck_assert_msg(r->code == code, "exit code 0x%x, expected 0x%x", r->code, code);
}

#endif
