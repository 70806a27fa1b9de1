/* SPDX-License-Identifier: Apache-2.0 */
/* Save and restore everything KVM keeps for a vCPU (snapshots, migration). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/*
 * Read every MSR of the system index list that this vCPU can read. The
 * kernel stops at the first MSR it refuses and returns how many it read, so
 * the refused one is dropped and the read repeated.
 */
static int save_msrs(struct cvmm_kvm_vcpu *vcpu, struct kvm_msrs **out)
{
	struct kvm_msr_list *list;
	struct kvm_msrs *m;
	int n = cvmm_kvm_get_msr_index_list(vcpu->vm->kvm, &list);

	*out = NULL;
	if (n < 0)
		return n;
	m = cvmm_kvm_msrs_alloc((uint32_t)n);
	if (!m) {
		free(list);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++)
		m->entries[i].index = list->indices[i];
	free(list);
	for (;;) {
		int r = cvmm_kvm_vcpu_get_msrs(vcpu, m);

		if (r < 0) {
			free(m);
			return r;
		}
		if ((uint32_t)r >= m->nmsrs)
			break;
		memmove(&m->entries[r], &m->entries[r + 1],
			(m->nmsrs - (uint32_t)r - 1) * sizeof(m->entries[0]));
		m->nmsrs--;
	}
	*out = m;
	return 0;
}

void cvmm_kvm_vcpu_state_fini(struct cvmm_kvm_vcpu_state *st)
{
	if (!st)
		return;
	free(st->xsave);
	free(st->msrs);
	free(st->cpuid);
	memset(st, 0, sizeof(*st));
}

static bool has(struct cvmm_kvm_vcpu *vcpu, long cap)
{
	return cvmm_kvm_vm_check_extension(vcpu->vm, cap) > 0;
}

int cvmm_kvm_vcpu_state_save(struct cvmm_kvm_vcpu *vcpu, struct cvmm_kvm_vcpu_state *st)
{
	int r;

	memset(st, 0, sizeof(*st));
	r = cvmm_kvm_vcpu_get_mp_state(vcpu, &st->mp_state);
	if (!r)
		r = cvmm_kvm_vcpu_get_regs(vcpu, &st->regs);
	if (!r)
		r = cvmm_kvm_vcpu_get_sregs(vcpu, &st->sregs);
	if (!r)
		r = cvmm_kvm_vcpu_get_fpu(vcpu, &st->fpu);
	if (!r && has(vcpu, KVM_CAP_XSAVE)) {
		st->xsave_size = cvmm_kvm_vm_xsave_size(vcpu->vm);
		st->xsave = calloc(1, st->xsave_size);
		r = st->xsave ? cvmm_kvm_vcpu_get_xsave(vcpu, st->xsave, st->xsave_size)
			      : -ENOMEM;
		if (!r)
			st->valid |= CVMM_KVM_STATE_XSAVE;
	}
	if (!r && has(vcpu, KVM_CAP_XCRS)) {
		r = cvmm_kvm_vcpu_get_xcrs(vcpu, &st->xcrs);
		if (!r)
			st->valid |= CVMM_KVM_STATE_XCRS;
	}
	if (!r && has(vcpu, KVM_CAP_DEBUGREGS)) {
		r = cvmm_kvm_vcpu_get_debugregs(vcpu, &st->debugregs);
		if (!r)
			st->valid |= CVMM_KVM_STATE_DEBUGREGS;
	}
	if (!r) {
		r = cvmm_kvm_vcpu_get_lapic(vcpu, &st->lapic);
		if (!r)
			st->valid |= CVMM_KVM_STATE_LAPIC;
		else if (r == -EINVAL || r == -ENXIO) /* no in-kernel LAPIC */
			r = 0;
	}
	if (!r && has(vcpu, KVM_CAP_GET_TSC_KHZ)) {
		r = cvmm_kvm_vcpu_get_tsc_khz(vcpu);
		if (r > 0) {
			st->tsc_khz = (uint32_t)r;
			st->valid |= CVMM_KVM_STATE_TSC_KHZ;
		}
		r = r < 0 ? r : 0;
	}
	if (!r) {
		r = cvmm_kvm_vcpu_get_cpuid2(vcpu, &st->cpuid);
		r = r < 0 ? r : 0;
	}
	if (!r)
		r = save_msrs(vcpu, &st->msrs);
	/* Events last: reading MSRs must not be what leaves an event pending. */
	if (!r)
		r = cvmm_kvm_vcpu_get_events(vcpu, &st->events);
	if (r)
		cvmm_kvm_vcpu_state_fini(st);
	return r;
}

/*
 * KVM_SET_MSRS stops at the first MSR it refuses. Some MSRs are readable but
 * not writable in every configuration (the async-PF vector without an
 * in-kernel LAPIC); a refusal is harmless when the MSR already holds the
 * saved value, so skip those and carry on; anything else is -EIO.
 */
static int restore_msrs(struct cvmm_kvm_vcpu *vcpu, const struct kvm_msrs *saved)
{
	struct kvm_msrs *m = cvmm_kvm_msrs_alloc(saved->nmsrs);
	struct kvm_msrs *one = cvmm_kvm_msrs_alloc(1);
	uint32_t i = 0;
	int r = 0;

	if (!m || !one) {
		r = -ENOMEM;
		goto out;
	}
	while (i < saved->nmsrs) {
		m->nmsrs = saved->nmsrs - i;
		memcpy(m->entries, &saved->entries[i], m->nmsrs * sizeof(m->entries[0]));
		r = cvmm_kvm_vcpu_set_msrs(vcpu, m);
		if (r < 0)
			goto out;
		i += (uint32_t)r;
		if (i == saved->nmsrs)
			break;
		one->entries[0].index = saved->entries[i].index;
		r = cvmm_kvm_vcpu_get_msrs(vcpu, one);
		if (r != 1 || one->entries[0].data != saved->entries[i].data) {
			r = -EIO;
			goto out;
		}
		i++;
	}
	r = 0;
out:
	free(m);
	free(one);
	return r;
}

static int restore_tsc(struct cvmm_kvm_vcpu *vcpu, uint32_t khz)
{
	int cur = cvmm_kvm_vcpu_get_tsc_khz(vcpu);

	/* Without TSC scaling only the host rate is accepted; skip a no-op. */
	if (cur > 0 && (uint32_t)cur == khz)
		return 0;
	return cvmm_kvm_vcpu_set_tsc_khz(vcpu, khz);
}

int cvmm_kvm_vcpu_state_restore(struct cvmm_kvm_vcpu *vcpu,
				const struct cvmm_kvm_vcpu_state *st)
{
	int r = 0;

	if (st->cpuid)
		r = cvmm_kvm_vcpu_set_cpuid2(vcpu, st->cpuid);
	if (!r && (st->valid & CVMM_KVM_STATE_TSC_KHZ))
		r = restore_tsc(vcpu, st->tsc_khz);
	if (!r)
		r = cvmm_kvm_vcpu_set_mp_state(vcpu, &st->mp_state);
	if (!r)
		r = cvmm_kvm_vcpu_set_regs(vcpu, &st->regs);
	if (!r)
		r = cvmm_kvm_vcpu_set_sregs(vcpu, &st->sregs);
	if (!r) {
		if ((st->valid & CVMM_KVM_STATE_XSAVE) && st->xsave)
			r = cvmm_kvm_vcpu_set_xsave(vcpu, st->xsave, st->xsave_size);
		else
			r = cvmm_kvm_vcpu_set_fpu(vcpu, &st->fpu);
	}
	if (!r && (st->valid & CVMM_KVM_STATE_XCRS))
		r = cvmm_kvm_vcpu_set_xcrs(vcpu, &st->xcrs);
	if (!r && (st->valid & CVMM_KVM_STATE_DEBUGREGS))
		r = cvmm_kvm_vcpu_set_debugregs(vcpu, &st->debugregs);
	if (!r && (st->valid & CVMM_KVM_STATE_LAPIC))
		r = cvmm_kvm_vcpu_set_lapic(vcpu, &st->lapic);
	if (!r && st->msrs)
		r = restore_msrs(vcpu, st->msrs);
	if (!r)
		r = cvmm_kvm_vcpu_set_events(vcpu, &st->events);
	/* Again last: setting LAPIC/events can move a halted vCPU to runnable. */
	if (!r)
		r = cvmm_kvm_vcpu_set_mp_state(vcpu, &st->mp_state);
	return r;
}
