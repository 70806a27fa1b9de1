/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM-wide state KVM keeps (PIC pair, IOAPIC, PIT, kvmclock) as one plain
 * struct, and the checks a restore runs on it first. The checks accept
 * exactly what a guest can drive KVM's models into (each bound below is the
 * one KVM's own register-write code enforces) and refuse the rest, because
 * KVM_SET_IRQCHIP and KVM_SET_PIT2 copy the structs in unchecked: a hostile
 * snapshot could otherwise move the IOAPIC window, widen the ELCR mask or
 * load a PIT mode the model never expects.
 */
#include "internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* No padding: the struct is stored as it is. */
CVMM_BUILD_BUG_ON(sizeof(struct kvm_pic_state) != 16);
CVMM_BUILD_BUG_ON(offsetof(struct cvmm_kvm_vm_state, ioapic) != 40);
CVMM_BUILD_BUG_ON(offsetof(struct cvmm_kvm_vm_state, pit) !=
		  40 + sizeof(struct kvm_ioapic_state));
CVMM_BUILD_BUG_ON(offsetof(struct cvmm_kvm_vm_state, clock) !=
		  40 + sizeof(struct kvm_ioapic_state) + sizeof(struct kvm_pit_state2));
CVMM_BUILD_BUG_ON(sizeof(struct cvmm_kvm_vm_state) !=
		  40 + sizeof(struct kvm_ioapic_state) + sizeof(struct kvm_pit_state2) +
			  sizeof(struct kvm_clock_data));

/* KVM's ELCR masks (i8259.c): IRQ 0-2 and 8, 13 are always edge-triggered. */
#define PIC_MASTER_ELCR_MASK 0xf8
#define PIC_SLAVE_ELCR_MASK 0xde
/* KVM's PIT read/write states run from RW_STATE_LSB (1) to RW_STATE_WORD1 (4). */
#define PIT_RW_STATE_MAX 4
/* A channel never programmed since reset has mode 0xff (kvm_pit_reset). */
#define PIT_MODE_UNSET 0xff
#define CLOCK_FLAGS_KNOWN (KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC)
#define PIT_FLAGS_KNOWN (KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON)

static int CVMM_PRINTF(4, 5) why_set(struct cvmm_kvm_state_error *why, int ret, const char *field,
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

/* @value <= @max, or -ERANGE naming "<prefix><name>". */
static int range(struct cvmm_kvm_state_error *why, const char *prefix, const char *name,
		 uint64_t value, uint64_t max)
{
	char f[128];

	if (value <= max)
		return 0;
	snprintf(f, sizeof(f), "%s%s", prefix, name);
	return why_set(why, -ERANGE, f, "value %" PRIu64 " out of range [0, %" PRIu64 "]", value,
		       max);
}

static int pic_check(const struct kvm_pic_state *p, bool slave, const char *prefix,
		     struct cvmm_kvm_state_error *why)
{
	uint8_t mask = slave ? PIC_SLAVE_ELCR_MASK : PIC_MASTER_ELCR_MASK;
	char f[128];
	int r;

	if (p->irq_base & 7) {
		snprintf(f, sizeof(f), "%sirq_base", prefix);
		return why_set(why, -EINVAL, f, "vector base %#x is not a multiple of 8", p->irq_base);
	}
	if (p->elcr_mask != mask) {
		snprintf(f, sizeof(f), "%selcr_mask", prefix);
		return why_set(why, -EINVAL, f, "%#04x, KVM's is %#04x", p->elcr_mask, mask);
	}
	if (p->elcr & ~mask) {
		snprintf(f, sizeof(f), "%selcr", prefix);
		return why_set(why, -EINVAL, f, "%#04x sets bits outside the mask %#04x", p->elcr,
			       mask);
	}
	if ((r = range(why, prefix, "priority_add", p->priority_add, 7)) ||
	    (r = range(why, prefix, "init_state", p->init_state, 3)) ||
	    (r = range(why, prefix, "read_reg_select", p->read_reg_select, 1)) ||
	    (r = range(why, prefix, "poll", p->poll, 1)) ||
	    (r = range(why, prefix, "special_mask", p->special_mask, 1)) ||
	    (r = range(why, prefix, "auto_eoi", p->auto_eoi, 1)) ||
	    (r = range(why, prefix, "rotate_on_auto_eoi", p->rotate_on_auto_eoi, 1)) ||
	    (r = range(why, prefix, "special_fully_nested_mode", p->special_fully_nested_mode, 1)) ||
	    (r = range(why, prefix, "init4", p->init4, 1)))
		return r;
	return 0;
}

int cvmm_kvm_pic_state_check(const struct kvm_pic_state *pic, bool slave,
			     struct cvmm_kvm_state_error *why)
{
	if (!pic)
		return why_set(why, -EINVAL, "", "no state");
	return pic_check(pic, slave, "", why);
}

static int ioapic_check(const struct kvm_ioapic_state *io, const char *prefix,
			struct cvmm_kvm_state_error *why)
{
	char f[128];
	int r;

	if (io->base_address != CVMM_KVM_IOAPIC_BASE) {
		snprintf(f, sizeof(f), "%sbase_address", prefix);
		return why_set(why, -EINVAL, f, "%#" PRIx64 ", KVM's IOAPIC is at %#llx",
			       (uint64_t)io->base_address, CVMM_KVM_IOAPIC_BASE);
	}
	/* ioapic_mmio_write keeps 8 bits of the select, 4 of the id. */
	if ((r = range(why, prefix, "ioregsel", io->ioregsel, 0xff)) ||
	    (r = range(why, prefix, "id", io->id, 0xf)))
		return r;
	if (io->irr >> KVM_IOAPIC_NUM_PINS) {
		snprintf(f, sizeof(f), "%sirr", prefix);
		return why_set(why, -EINVAL, f, "%#" PRIx32 " has bits above pin %d", io->irr,
			       KVM_IOAPIC_NUM_PINS - 1);
	}
	/* Redirection entries: the guest may write any bits, KVM keeps them all. */
	return 0;
}

int cvmm_kvm_ioapic_state_check(const struct kvm_ioapic_state *io,
				struct cvmm_kvm_state_error *why)
{
	if (!io)
		return why_set(why, -EINVAL, "", "no state");
	return ioapic_check(io, "", why);
}

static int pit_check(const struct kvm_pit_state2 *pit, const char *prefix,
		     struct cvmm_kvm_state_error *why)
{
	char f[128], p[48];
	int r;

	for (int i = 0; i < 3; i++) {
		const struct kvm_pit_channel_state *c = &pit->channels[i];

		snprintf(p, sizeof(p), "%schannels[%d].", prefix, i);
		/* pit_load_count turns 0 into 0x10000; mode 6/7 are stored as 2/3. */
		if ((r = range(why, p, "count", c->count, 0x10000)) ||
		    (r = range(why, p, "count_latched", c->count_latched, PIT_RW_STATE_MAX)) ||
		    (r = range(why, p, "status_latched", c->status_latched, 1)) ||
		    (r = range(why, p, "read_state", c->read_state, PIT_RW_STATE_MAX)) ||
		    (r = range(why, p, "write_state", c->write_state, PIT_RW_STATE_MAX)) ||
		    (r = range(why, p, "rw_mode", c->rw_mode, 3)) ||
		    (r = range(why, p, "bcd", c->bcd, 1)) ||
		    (r = range(why, p, "gate", c->gate, 1)))
			return r;
		if (c->mode > 5 && c->mode != PIT_MODE_UNSET) {
			snprintf(f, sizeof(f), "%smode", p);
			return why_set(why, -ERANGE, f,
				       "value %u out of range [0, 5] (or 255: never programmed)",
				       c->mode);
		}
	}
	if (pit->flags & ~PIT_FLAGS_KNOWN) {
		snprintf(f, sizeof(f), "%sflags", prefix);
		return why_set(why, -EINVAL, f, "unknown bits %#" PRIx32,
			       pit->flags & ~(uint32_t)PIT_FLAGS_KNOWN);
	}
	for (size_t i = 0; i < CVMM_ARRAY_SIZE(pit->reserved); i++)
		if (pit->reserved[i]) {
			snprintf(f, sizeof(f), "%sreserved[%zu]", prefix, i);
			return why_set(why, -EINVAL, f, "%#" PRIx32 ", expected 0", pit->reserved[i]);
		}
	return 0;
}

int cvmm_kvm_pit_state_check(const struct kvm_pit_state2 *pit, struct cvmm_kvm_state_error *why)
{
	if (!pit)
		return why_set(why, -EINVAL, "", "no state");
	return pit_check(pit, "", why);
}

static int clock_check(const struct kvm_clock_data *c, const char *prefix,
		       struct cvmm_kvm_state_error *why)
{
	char f[128];

	if (c->flags & ~CLOCK_FLAGS_KNOWN) {
		snprintf(f, sizeof(f), "%sflags", prefix);
		return why_set(why, -EINVAL, f, "unknown bits %#" PRIx32,
			       c->flags & ~(uint32_t)CLOCK_FLAGS_KNOWN);
	}
	if (c->pad0) {
		snprintf(f, sizeof(f), "%spad0", prefix);
		return why_set(why, -EINVAL, f, "%#" PRIx32 ", expected 0", c->pad0);
	}
	for (size_t i = 0; i < CVMM_ARRAY_SIZE(c->pad); i++)
		if (c->pad[i]) {
			snprintf(f, sizeof(f), "%spad[%zu]", prefix, i);
			return why_set(why, -EINVAL, f, "%#" PRIx32 ", expected 0", c->pad[i]);
		}
	return 0;
}

int cvmm_kvm_clock_state_check(const struct kvm_clock_data *clk, struct cvmm_kvm_state_error *why)
{
	if (!clk)
		return why_set(why, -EINVAL, "", "no state");
	return clock_check(clk, "", why);
}

int cvmm_kvm_vm_state_check(const struct cvmm_kvm_vm_state *st, struct cvmm_kvm_state_error *why)
{
	int r;

	if (!st)
		return why_set(why, -EINVAL, "", "no state");
	if (st->version > CVMM_KVM_VM_STATE_VERSION)
		return why_set(why, -EPROTONOSUPPORT, "version",
			       "version %" PRIu32 " is newer than this cvmm (%u)", st->version,
			       CVMM_KVM_VM_STATE_VERSION);
	if (!st->version)
		return why_set(why, -EINVAL, "version", "version 0");
	if (st->valid & ~CVMM_KVM_VM_STATE_ALL)
		return why_set(why, -EINVAL, "valid", "unknown bits %#" PRIx32,
			       st->valid & ~CVMM_KVM_VM_STATE_ALL);
	if (st->valid & CVMM_KVM_VM_STATE_PIC) {
		if ((r = pic_check(&st->pic[0], false, "pic[0].", why)) ||
		    (r = pic_check(&st->pic[1], true, "pic[1].", why)))
			return r;
	}
	if ((st->valid & CVMM_KVM_VM_STATE_IOAPIC) && (r = ioapic_check(&st->ioapic, "ioapic.", why)))
		return r;
	if ((st->valid & CVMM_KVM_VM_STATE_PIT) && (r = pit_check(&st->pit, "pit.", why)))
		return r;
	if ((st->valid & CVMM_KVM_VM_STATE_CLOCK) && (r = clock_check(&st->clock, "clock.", why)))
		return r;
	return 0;
}

int cvmm_kvm_vm_state_save(struct cvmm_kvm_vm *vm, struct cvmm_kvm_vm_state *st)
{
	struct kvm_irqchip chip;
	int r;

	if (!vm || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->version = CVMM_KVM_VM_STATE_VERSION;

	/* The PIC pair and the IOAPIC exist together (KVM_CREATE_IRQCHIP) or not at all. */
	for (uint32_t id = KVM_IRQCHIP_PIC_MASTER; id <= KVM_IRQCHIP_IOAPIC; id++) {
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = id;
		r = cvmm_kvm_vm_get_irqchip(vm, &chip);
		if (r == -ENXIO)
			break; /* no full irqchip (none, or a split one) */
		if (r < 0)
			goto fail;
		if (id == KVM_IRQCHIP_IOAPIC) {
			st->ioapic = chip.chip.ioapic;
			st->valid |= CVMM_KVM_VM_STATE_PIC | CVMM_KVM_VM_STATE_IOAPIC;
		} else {
			st->pic[id] = chip.chip.pic;
		}
	}
	r = cvmm_kvm_vm_get_pit2(vm, &st->pit);
	if (!r)
		st->valid |= CVMM_KVM_VM_STATE_PIT;
	else if (r != -ENXIO)
		goto fail;
	else
		memset(&st->pit, 0, sizeof(st->pit));
	r = cvmm_kvm_vm_get_clock(vm, &st->clock);
	if (r < 0)
		goto fail;
	st->clock.flags &= ~(uint32_t)KVM_CLOCK_TSC_STABLE;
	st->valid |= CVMM_KVM_VM_STATE_CLOCK;
	return 0;
fail:
	memset(st, 0, sizeof(*st));
	return r;
}

static int set_chip(struct cvmm_kvm_vm *vm, uint32_t id, const void *part, size_t len,
		    const char *name, struct cvmm_kvm_state_error *why)
{
	struct kvm_irqchip chip = { .chip_id = id };
	int r;

	memcpy(&chip.chip, part, len);
	r = cvmm_kvm_vm_set_irqchip(vm, &chip);
	if (r < 0)
		return why_set(why, r, name, "KVM_SET_IRQCHIP: %s%s", strerror(-r),
			       r == -ENXIO ? " (the VM has no in-kernel irqchip)" : "");
	return 0;
}

int cvmm_kvm_vm_state_restore(struct cvmm_kvm_vm *vm, const struct cvmm_kvm_vm_state *st,
			      unsigned int flags, struct cvmm_kvm_state_error *why)
{
	struct kvm_clock_data clk;
	int r;

	if (!vm || !st)
		return why_set(why, -EINVAL, "", "no VM or no state");
	if (flags & ~CVMM_KVM_VM_RESTORE_CLOCK_REALTIME)
		return why_set(why, -EINVAL, "", "unknown restore flags %#x", flags);
	r = cvmm_kvm_vm_state_check(st, why);
	if (r < 0)
		return r;
	if (st->valid & CVMM_KVM_VM_STATE_PIC) {
		if ((r = set_chip(vm, KVM_IRQCHIP_PIC_MASTER, &st->pic[0], sizeof(st->pic[0]), "pic[0]", why)) ||
		    (r = set_chip(vm, KVM_IRQCHIP_PIC_SLAVE, &st->pic[1], sizeof(st->pic[1]), "pic[1]", why)))
			return r;
	}
	if (st->valid & CVMM_KVM_VM_STATE_IOAPIC) {
		r = set_chip(vm, KVM_IRQCHIP_IOAPIC, &st->ioapic, sizeof(st->ioapic), "ioapic", why);
		if (r)
			return r;
	}
	if (st->valid & CVMM_KVM_VM_STATE_PIT) {
		r = cvmm_kvm_vm_set_pit2(vm, &st->pit);
		if (r < 0)
			return why_set(why, r, "pit", "KVM_SET_PIT2: %s%s", strerror(-r),
				       r == -ENXIO ? " (the VM has no PIT)" : "");
	}
	if (st->valid & CVMM_KVM_VM_STATE_CLOCK) {
		clk = st->clock;
		/* HOST_TSC and TSC_STABLE describe the saving host; KVM only reads REALTIME. */
		clk.flags &= (flags & CVMM_KVM_VM_RESTORE_CLOCK_REALTIME) ? KVM_CLOCK_REALTIME : 0;
		r = cvmm_kvm_vm_set_clock(vm, &clk);
		if (r < 0)
			return why_set(why, r, "clock", "KVM_SET_CLOCK: %s", strerror(-r));
	}
	return 0;
}
