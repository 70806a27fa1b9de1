/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vCPU state flattened into one versioned byte string and read back
 * from a hostile one. Everything a count or size in the header implies is
 * checked against the limits and the buffer length before anything is
 * allocated or copied; register contents are the kernel's to check at
 * restore (it refuses bad CR0/EFER/segment combinations with -EINVAL).
 */
#include "internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct packed_hdr {
	uint32_t version;
	uint32_t valid;
	uint32_t tsc_khz;
	uint32_t nmsrs;
	uint32_t ncpuid;
	uint32_t xsave_size;
	uint32_t flags;
	uint32_t reserved;
};

#define PACKED_CPUID 0x1u /* a CPUID table follows */
#define PACKED_MSRS 0x2u  /* an MSR list follows (possibly of 0 entries) */
#define VALID_ALL (CVMM_KVM_STATE_LAPIC | CVMM_KVM_STATE_XSAVE | CVMM_KVM_STATE_XCRS | \
		   CVMM_KVM_STATE_DEBUGREGS | CVMM_KVM_STATE_TSC_KHZ)
#define A8(x) CVMM_ALIGN_UP((size_t)(x), (size_t)8)

CVMM_BUILD_BUG_ON(sizeof(struct packed_hdr) != 32);

/* The fixed part, in order. */
static size_t fixed_size(void)
{
	return sizeof(struct packed_hdr) + A8(sizeof(struct kvm_regs)) +
	       A8(sizeof(struct kvm_sregs)) + A8(sizeof(struct kvm_fpu)) +
	       A8(sizeof(struct kvm_xcrs)) + A8(sizeof(struct kvm_lapic_state)) +
	       A8(sizeof(struct kvm_vcpu_events)) + A8(sizeof(struct kvm_mp_state)) +
	       A8(sizeof(struct kvm_debugregs));
}

/* Total for the given counts; all bounded by the limits, so no overflow. */
static size_t total_size(uint32_t nmsrs, uint32_t ncpuid, uint32_t xsave_size)
{
	return fixed_size() + A8((size_t)nmsrs * sizeof(struct kvm_msr_entry)) +
	       A8((size_t)ncpuid * sizeof(struct kvm_cpuid_entry2)) + A8(xsave_size);
}

static bool xsave_in(const struct cvmm_kvm_vcpu_state *st)
{
	return (st->valid & CVMM_KVM_STATE_XSAVE) != 0;
}

size_t cvmm_kvm_vcpu_state_packed_size(const struct cvmm_kvm_vcpu_state *st)
{
	if (!st)
		return 0;
	return total_size(st->msrs ? st->msrs->nmsrs : 0, st->cpuid ? st->cpuid->nent : 0,
			  xsave_in(st) ? (uint32_t)st->xsave_size : 0);
}

static uint8_t *put(uint8_t *p, const void *src, size_t n)
{
	memcpy(p, src, n);
	memset(p + n, 0, A8(n) - n);
	return p + A8(n);
}

int cvmm_kvm_vcpu_state_pack(const struct cvmm_kvm_vcpu_state *st, void *buf, size_t len)
{
	struct packed_hdr h = { 0 };
	uint8_t *p = buf;
	size_t need;

	if (!st || !buf)
		return -EINVAL;
	if (xsave_in(st) && (!st->xsave || st->xsave_size < sizeof(struct kvm_xsave) ||
			     st->xsave_size > CVMM_KVM_VCPU_STATE_MAX_XSAVE))
		return -EINVAL;
	if ((st->msrs && st->msrs->nmsrs > CVMM_KVM_VCPU_STATE_MAX_MSRS) ||
	    (st->cpuid && st->cpuid->nent > CVMM_KVM_VCPU_STATE_MAX_CPUID) ||
	    (st->valid & ~VALID_ALL))
		return -EINVAL;
	need = cvmm_kvm_vcpu_state_packed_size(st);
	if (len < need)
		return -ENOSPC;
	h.version = CVMM_KVM_VCPU_STATE_VERSION;
	h.valid = st->valid;
	h.tsc_khz = (st->valid & CVMM_KVM_STATE_TSC_KHZ) ? st->tsc_khz : 0;
	h.nmsrs = st->msrs ? st->msrs->nmsrs : 0;
	h.ncpuid = st->cpuid ? st->cpuid->nent : 0;
	h.xsave_size = xsave_in(st) ? (uint32_t)st->xsave_size : 0;
	h.flags = (st->cpuid ? PACKED_CPUID : 0) | (st->msrs ? PACKED_MSRS : 0);
	p = put(p, &h, sizeof(h));
	p = put(p, &st->regs, sizeof(st->regs));
	p = put(p, &st->sregs, sizeof(st->sregs));
	p = put(p, &st->fpu, sizeof(st->fpu));
	p = put(p, &st->xcrs, sizeof(st->xcrs));
	p = put(p, &st->lapic, sizeof(st->lapic));
	p = put(p, &st->events, sizeof(st->events));
	p = put(p, &st->mp_state, sizeof(st->mp_state));
	p = put(p, &st->debugregs, sizeof(st->debugregs));
	p = put(p, h.nmsrs ? (const void *)st->msrs->entries : (const void *)&h,
		(size_t)h.nmsrs * sizeof(struct kvm_msr_entry));
	p = put(p, h.ncpuid ? (const void *)st->cpuid->entries : (const void *)&h,
		(size_t)h.ncpuid * sizeof(struct kvm_cpuid_entry2));
	p = put(p, h.xsave_size ? (const void *)st->xsave : (const void *)&h, h.xsave_size);
	return (int)((size_t)(p - (uint8_t *)buf));
}

static int CVMM_PRINTF(4, 5) refuse(struct cvmm_kvm_state_error *why, int ret, const char *field,
				    const char *fmt, ...)
{
	va_list ap;

	if (!why)
		return ret;
	snprintf(why->field, sizeof(why->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(why->msg, sizeof(why->msg), fmt, ap);
	va_end(ap);
	return ret;
}

static const uint8_t *get(const uint8_t *p, void *dst, size_t n)
{
	memcpy(dst, p, n);
	return p + A8(n);
}

static int header_check(const struct packed_hdr *h, size_t len, struct cvmm_kvm_state_error *why)
{
	size_t want;

	if (h->version > CVMM_KVM_VCPU_STATE_VERSION)
		return refuse(why, -EPROTONOSUPPORT, "version",
			      "version %" PRIu32 " is newer than this cvmm (%u)", h->version,
			      CVMM_KVM_VCPU_STATE_VERSION);
	if (!h->version)
		return refuse(why, -EINVAL, "version", "version 0");
	if (h->valid & ~VALID_ALL)
		return refuse(why, -EINVAL, "valid", "unknown bits %#" PRIx32, h->valid & ~VALID_ALL);
	if (h->flags & ~(PACKED_CPUID | PACKED_MSRS))
		return refuse(why, -EINVAL, "flags", "unknown bits %#" PRIx32,
			      h->flags & ~(PACKED_CPUID | PACKED_MSRS));
	if (h->reserved)
		return refuse(why, -EINVAL, "reserved", "%#" PRIx32 ", expected 0", h->reserved);
	if (h->nmsrs > CVMM_KVM_VCPU_STATE_MAX_MSRS)
		return refuse(why, -ERANGE, "nmsrs", "%" PRIu32 " MSRs, at most %u", h->nmsrs,
			      CVMM_KVM_VCPU_STATE_MAX_MSRS);
	if (h->ncpuid > CVMM_KVM_VCPU_STATE_MAX_CPUID)
		return refuse(why, -ERANGE, "ncpuid", "%" PRIu32 " CPUID entries, at most %u",
			      h->ncpuid, CVMM_KVM_VCPU_STATE_MAX_CPUID);
	if ((h->nmsrs && !(h->flags & PACKED_MSRS)) || (h->ncpuid && !(h->flags & PACKED_CPUID)))
		return refuse(why, -EINVAL, "flags", "entries counted for an absent table");
	if (h->xsave_size > CVMM_KVM_VCPU_STATE_MAX_XSAVE)
		return refuse(why, -ERANGE, "xsave_size", "%" PRIu32 " bytes, at most %u",
			      h->xsave_size, CVMM_KVM_VCPU_STATE_MAX_XSAVE);
	if ((h->valid & CVMM_KVM_STATE_XSAVE) ? h->xsave_size < sizeof(struct kvm_xsave)
					      : h->xsave_size != 0)
		return refuse(why, -EINVAL, "xsave_size", "%" PRIu32 " bytes with XSAVE %s",
			      h->xsave_size,
			      (h->valid & CVMM_KVM_STATE_XSAVE) ? "valid (at least 4096)" : "absent");
	if ((h->valid & CVMM_KVM_STATE_TSC_KHZ) ? !h->tsc_khz : h->tsc_khz != 0)
		return refuse(why, -EINVAL, "tsc_khz", "%" PRIu32 " kHz with the rate %s",
			      h->tsc_khz, (h->valid & CVMM_KVM_STATE_TSC_KHZ) ? "valid" : "absent");
	want = total_size(h->nmsrs, h->ncpuid, h->xsave_size);
	if (len != want)
		return refuse(why, -EINVAL, "length", "length %zu, expected %zu", len, want);
	return 0;
}

int cvmm_kvm_vcpu_state_unpack(const void *buf, size_t len, struct cvmm_kvm_vcpu_state *st,
			       struct cvmm_kvm_state_error *why)
{
	const uint8_t *p = buf;
	struct packed_hdr h;
	int r;

	if (!st)
		return refuse(why, -EINVAL, "", "no state to fill");
	memset(st, 0, sizeof(*st));
	if (!buf || len < fixed_size())
		return refuse(why, -EINVAL, "length", "length %zu, expected at least %zu", len,
			      fixed_size());
	p = get(p, &h, sizeof(h));
	r = header_check(&h, len, why);
	if (r < 0)
		return r;
	st->valid = h.valid;
	st->tsc_khz = h.tsc_khz;
	p = get(p, &st->regs, sizeof(st->regs));
	p = get(p, &st->sregs, sizeof(st->sregs));
	p = get(p, &st->fpu, sizeof(st->fpu));
	p = get(p, &st->xcrs, sizeof(st->xcrs));
	p = get(p, &st->lapic, sizeof(st->lapic));
	p = get(p, &st->events, sizeof(st->events));
	p = get(p, &st->mp_state, sizeof(st->mp_state));
	p = get(p, &st->debugregs, sizeof(st->debugregs));
	if (st->mp_state.mp_state > KVM_MP_STATE_SUSPENDED) {
		r = refuse(why, -ERANGE, "mp_state", "value %" PRIu32 " out of range [0, %d]",
			   st->mp_state.mp_state, KVM_MP_STATE_SUSPENDED);
		goto fail;
	}
	r = -ENOMEM;
	if (h.flags & PACKED_MSRS) {
		st->msrs = cvmm_kvm_msrs_alloc(h.nmsrs);
		if (!st->msrs)
			goto nomem;
		memcpy(st->msrs->entries, p, (size_t)h.nmsrs * sizeof(struct kvm_msr_entry));
	}
	p += A8((size_t)h.nmsrs * sizeof(struct kvm_msr_entry));
	if (h.flags & PACKED_CPUID) {
		st->cpuid = cvmm_kvm_cpuid2_alloc(h.ncpuid);
		if (!st->cpuid)
			goto nomem;
		memcpy(st->cpuid->entries, p, (size_t)h.ncpuid * sizeof(struct kvm_cpuid_entry2));
	}
	p += A8((size_t)h.ncpuid * sizeof(struct kvm_cpuid_entry2));
	if (h.xsave_size) {
		st->xsave = calloc(1, h.xsave_size);
		if (!st->xsave)
			goto nomem;
		memcpy(st->xsave, p, h.xsave_size);
		st->xsave_size = h.xsave_size;
	}
	return 0;
nomem:
	r = refuse(why, -ENOMEM, "", "out of memory");
fail:
	cvmm_kvm_vcpu_state_fini(st);
	return r;
}
