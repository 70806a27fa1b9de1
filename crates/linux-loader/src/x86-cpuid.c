/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A vCPU's CPUID table from KVM's supported list: topology (leaves 1, 4,
 * 0xB, 0x1F) for one socket of nr_vcpus logical CPUs with flat APIC IDs,
 * the hypervisor bit, and optionally the hypervisor leaves (signature,
 * KVM features, the TSC/APIC-bus timing leaf).
 */
#include "internal.h"

#include <cvmm/linux-loader/x86-boot.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HV_BASE 0x40000000u
#define HV_TIMING (HV_BASE + 0x10)
/* KVM's LAPIC timer ticks once a nanosecond: a 1 GHz "bus". */
#define APIC_BUS_KHZ 1000000u
#define MAX_VCPUS 4096u

static unsigned int order(uint32_t n)
{
	unsigned int s = 0;

	while ((1ull << s) < n)
		s++;
	return s;
}

/* Drop every entry of @function. */
static void drop(struct kvm_cpuid2 *c, uint32_t function)
{
	uint32_t w = 0;

	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function != function)
			c->entries[w++] = c->entries[i];
	c->nent = w;
}

static bool listed(const struct kvm_cpuid2 *c, uint32_t function)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == function)
			return true;
	return false;
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid2 *c, uint32_t function)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == function)
			return &c->entries[i];
	return NULL;
}

static void add(struct kvm_cpuid2 *c, uint32_t function, uint32_t index, uint32_t flags,
		uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	struct kvm_cpuid_entry2 *e = &c->entries[c->nent++];

	memset(e, 0, sizeof(*e));
	e->function = function;
	e->index = index;
	e->flags = flags;
	e->eax = eax;
	e->ebx = ebx;
	e->ecx = ecx;
	e->edx = edx;
}

/* Extended topology (0xB / 0x1F): SMT level, core level, terminator. */
static void add_topology(struct kvm_cpuid2 *c, uint32_t leaf, uint32_t apic_id,
			 uint32_t threads, unsigned int smt_shift, uint32_t nr,
			 unsigned int pkg_shift)
{
	drop(c, leaf);
	add(c, leaf, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, smt_shift, threads, 0 | (1u << 8), apic_id);
	add(c, leaf, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, pkg_shift, nr, 1 | (2u << 8), apic_id);
	add(c, leaf, 2, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0, 0, 2, apic_id);
}

int cvmm_x86_boot_cpuid(struct kvm_cpuid2 *c, uint32_t capacity,
			const struct cvmm_x86_cpuid_opts *o)
{
	uint32_t threads, cores, need;
	unsigned int smt_shift, pkg_shift;
	bool topo_b, topo_1f, hv;
	struct kvm_cpuid_entry2 *e;
	uint32_t tsc_khz = 0, features;

	if (!c || !o || o->sz < offsetof(struct cvmm_x86_cpuid_opts, hv_features) +
	    sizeof(o->hv_features) || o->sz > sizeof(*o))
		return -EINVAL;
	threads = o->threads_per_core ? o->threads_per_core : 1;
	if (c->nent > capacity || o->nr_vcpus == 0 || o->nr_vcpus > MAX_VCPUS ||
	    o->apic_id >= o->nr_vcpus || threads > 8 || (threads & (threads - 1)) ||
	    (o->flags & ~(CVMM_X86_CPUID_F_HV_LEAVES | CVMM_X86_CPUID_F_NO_PMU |
			  CVMM_X86_CPUID_F_KVM_FEATURES)))
		return -EINVAL;
	if (o->sz >= offsetof(struct cvmm_x86_cpuid_opts, tsc_khz) + sizeof(o->tsc_khz))
		tsc_khz = o->tsc_khz;
	cores = (o->nr_vcpus + threads - 1) / threads;
	smt_shift = order(threads);
	pkg_shift = smt_shift + order(cores);

	/* Work out the room needed first so that a failure changes nothing. */
	topo_b = listed(c, 0xb);
	topo_1f = listed(c, 0x1f);
	hv = o->flags & CVMM_X86_CPUID_F_HV_LEAVES;
	need = c->nent;
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == 0xb || c->entries[i].function == 0x1f)
			need--;
	need += (topo_b ? 3 : 0) + (topo_1f ? 3 : 0);
	if (hv)
		need += !listed(c, HV_BASE) + !listed(c, HV_BASE + 1) +
			(tsc_khz && !listed(c, HV_TIMING));
	if (need > capacity)
		return -ENOSPC;

	e = find(c, 1);
	if (e) {
		uint32_t logical = 1u << pkg_shift;

		e->ebx = (e->ebx & 0x0000ffffu) | ((o->apic_id & 0xff) << 24) |
			 ((logical > 255 ? 255 : logical) << 16);
		if (o->nr_vcpus > 1)
			e->edx |= 1u << 28; /* HTT: the logical count is valid */
		else
			e->edx &= ~(1u << 28);
		e->ecx |= 1u << 31;         /* running under a hypervisor */
	}
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *x = &c->entries[i];
		uint32_t level, sharing, per_pkg;

		if (x->function != 4 || (x->eax & 0x1f) == 0)
			continue;
		level = (x->eax >> 5) & 7;
		sharing = level >= 3 ? (1u << pkg_shift) : threads;
		per_pkg = 1u << (pkg_shift - smt_shift);
		x->eax &= 0x3fff;
		x->eax |= ((sharing - 1 > 0xfff ? 0xfff : sharing - 1) << 14) |
			  ((per_pkg - 1 > 63 ? 63 : per_pkg - 1) << 26);
	}
	if (topo_b)
		add_topology(c, 0xb, o->apic_id, threads, smt_shift, o->nr_vcpus, pkg_shift);
	if (topo_1f)
		add_topology(c, 0x1f, o->apic_id, threads, smt_shift, o->nr_vcpus, pkg_shift);
	if (o->flags & CVMM_X86_CPUID_F_NO_PMU) {
		e = find(c, 0xa);
		if (e)
			e->eax = e->ebx = e->ecx = e->edx = 0;
	}
	if (hv) {
		uint32_t sig[3];

		features = o->hv_features;
		if (o->flags & CVMM_X86_CPUID_F_KVM_FEATURES) {
			e = find(c, HV_BASE + 1);
			features &= e ? e->eax : 0;
		}
		memcpy(sig, o->hv_signature, sizeof(sig));
		drop(c, HV_BASE);
		drop(c, HV_BASE + 1);
		drop(c, HV_TIMING);
		add(c, HV_BASE, 0, 0, tsc_khz ? HV_TIMING : HV_BASE + 1, sig[0], sig[1], sig[2]);
		add(c, HV_BASE + 1, 0, 0, features, 0, 0, 0);
		if (tsc_khz)
			add(c, HV_TIMING, 0, 0, tsc_khz, APIC_BUS_KHZ, 0, 0);
	}
	return 0;
}
