/* SPDX-License-Identifier: Apache-2.0 */
/* vCPU register, MSR, CPUID, LAPIC, event and debug state. */
#include "internal.h"

#include <stdlib.h>

#define VCPU_GET(name, cmd, type)                                             \
	int cvmm_kvm_vcpu_get_##name(struct cvmm_kvm_vcpu *vcpu, type *arg)   \
	{                                                                     \
		return KVM_IOCTL(vcpu->fd, cmd, arg);                         \
	}
#define VCPU_SET(name, cmd, type)                                             \
	int cvmm_kvm_vcpu_set_##name(struct cvmm_kvm_vcpu *vcpu,              \
				     const type *arg)                         \
	{                                                                     \
		return KVM_IOCTL(vcpu->fd, cmd, arg);                         \
	}

VCPU_GET(regs, KVM_GET_REGS, struct kvm_regs)
VCPU_SET(regs, KVM_SET_REGS, struct kvm_regs)
VCPU_GET(sregs, KVM_GET_SREGS, struct kvm_sregs)
VCPU_SET(sregs, KVM_SET_SREGS, struct kvm_sregs)
VCPU_GET(fpu, KVM_GET_FPU, struct kvm_fpu)
VCPU_SET(fpu, KVM_SET_FPU, struct kvm_fpu)
VCPU_GET(xcrs, KVM_GET_XCRS, struct kvm_xcrs)
VCPU_SET(xcrs, KVM_SET_XCRS, struct kvm_xcrs)
VCPU_GET(lapic, KVM_GET_LAPIC, struct kvm_lapic_state)
VCPU_SET(lapic, KVM_SET_LAPIC, struct kvm_lapic_state)
VCPU_GET(events, KVM_GET_VCPU_EVENTS, struct kvm_vcpu_events)
VCPU_SET(events, KVM_SET_VCPU_EVENTS, struct kvm_vcpu_events)
VCPU_GET(mp_state, KVM_GET_MP_STATE, struct kvm_mp_state)
VCPU_SET(mp_state, KVM_SET_MP_STATE, struct kvm_mp_state)
VCPU_GET(debugregs, KVM_GET_DEBUGREGS, struct kvm_debugregs)
VCPU_SET(debugregs, KVM_SET_DEBUGREGS, struct kvm_debugregs)
VCPU_SET(guest_debug, KVM_SET_GUEST_DEBUG, struct kvm_guest_debug)

static bool have_sregs2(struct cvmm_kvm_vcpu *vcpu)
{
	return cvmm_kvm_vm_check_extension(vcpu->vm, KVM_CAP_SREGS2) > 0;
}

int cvmm_kvm_vcpu_get_sregs2(struct cvmm_kvm_vcpu *vcpu, struct kvm_sregs2 *sregs)
{
	if (!have_sregs2(vcpu))
		return -EOPNOTSUPP;
	return KVM_IOCTL(vcpu->fd, KVM_GET_SREGS2, sregs);
}

int cvmm_kvm_vcpu_set_sregs2(struct cvmm_kvm_vcpu *vcpu, const struct kvm_sregs2 *sregs)
{
	if (!have_sregs2(vcpu))
		return -EOPNOTSUPP;
	return KVM_IOCTL(vcpu->fd, KVM_SET_SREGS2, sregs);
}

int cvmm_kvm_vcpu_get_xsave(struct cvmm_kvm_vcpu *vcpu, struct kvm_xsave *xsave,
			    size_t bytes)
{
	size_t need = cvmm_kvm_vm_xsave_size(vcpu->vm);

	if (!xsave || bytes < need)
		return -ENOSPC;
	/* XSAVE2 writes the full (possibly > 4 KiB) area; plain XSAVE 4 KiB. */
	if (cvmm_kvm_vm_check_extension(vcpu->vm, KVM_CAP_XSAVE2) > 0)
		return KVM_IOCTL(vcpu->fd, KVM_GET_XSAVE2, xsave);
	return KVM_IOCTL(vcpu->fd, KVM_GET_XSAVE, xsave);
}

int cvmm_kvm_vcpu_set_xsave(struct cvmm_kvm_vcpu *vcpu, const struct kvm_xsave *xsave,
			    size_t bytes)
{
	if (!xsave || bytes < cvmm_kvm_vm_xsave_size(vcpu->vm))
		return -ENOSPC;
	return KVM_IOCTL(vcpu->fd, KVM_SET_XSAVE, xsave);
}

int cvmm_kvm_vcpu_get_msrs(struct cvmm_kvm_vcpu *vcpu, struct kvm_msrs *msrs)
{
	return KVM_IOCTL(vcpu->fd, KVM_GET_MSRS, msrs);
}

int cvmm_kvm_vcpu_set_msrs(struct cvmm_kvm_vcpu *vcpu, const struct kvm_msrs *msrs)
{
	return KVM_IOCTL(vcpu->fd, KVM_SET_MSRS, msrs);
}

int cvmm_kvm_vcpu_set_cpuid2(struct cvmm_kvm_vcpu *vcpu, const struct kvm_cpuid2 *cpuid)
{
	return KVM_IOCTL(vcpu->fd, KVM_SET_CPUID2, cpuid);
}

int cvmm_kvm_vcpu_get_cpuid2(struct cvmm_kvm_vcpu *vcpu, struct kvm_cpuid2 **out)
{
	_Static_assert(_IOC_SIZE(KVM_GET_CPUID2) == sizeof(struct kvm_cpuid2),
		       "ioctl argument size mismatch for KVM_GET_CPUID2");
	return cvmm__kvm_cpuid_query(vcpu->fd, KVM_GET_CPUID2, out);
}

int cvmm_kvm_vcpu_get_tsc_khz(struct cvmm_kvm_vcpu *vcpu)
{
	return KVM_IOCTL_VAL(vcpu->fd, KVM_GET_TSC_KHZ, 0);
}

int cvmm_kvm_vcpu_set_tsc_khz(struct cvmm_kvm_vcpu *vcpu, uint32_t khz)
{
	if (khz == 0)
		return -EINVAL;
	return KVM_IOCTL_VAL(vcpu->fd, KVM_SET_TSC_KHZ, khz);
}

int cvmm_kvm_vcpu_nmi(struct cvmm_kvm_vcpu *vcpu)
{
	return KVM_IOCTL_VAL(vcpu->fd, KVM_NMI, 0);
}

int cvmm_kvm_vcpu_interrupt(struct cvmm_kvm_vcpu *vcpu, uint32_t irq)
{
	struct kvm_interrupt i = { .irq = irq };

	if (irq > 255)
		return -EINVAL;
	return KVM_IOCTL(vcpu->fd, KVM_INTERRUPT, &i);
}

int cvmm_kvm_vcpu_enable_cap(struct cvmm_kvm_vcpu *vcpu, const struct kvm_enable_cap *cap)
{
	return KVM_IOCTL(vcpu->fd, KVM_ENABLE_CAP, cap);
}
