/* SPDX-License-Identifier: Apache-2.0 */
/* The VM fd: lifecycle, capabilities, irqchip, PIT, clock, fixed addresses. */
#include "internal.h"

#include <stdlib.h>
#include <unistd.h>

int cvmm_kvm_vm_create(struct cvmm_kvm *kvm, const struct cvmm_kvm_vm_opts *o,
		       struct cvmm_kvm_vm **out)
{
	unsigned long type = 0;
	struct cvmm_kvm_vm *vm;
	int fd, r;

	if (!kvm || !out)
		return -EINVAL;
	*out = NULL;
	if (o) {
		if (o->sz < offsetof(struct cvmm_kvm_vm_opts, type) + sizeof(o->type))
			return -EINVAL;
		type = o->type;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	fd = KVM_IOCTL_VAL(kvm->fd, KVM_CREATE_VM, type);
	if (fd < 0) {
		free(vm);
		return fd;
	}
	vm->kvm = kvm;
	vm->fd = fd;
	pthread_mutex_init(&vm->lock, NULL);
	r = KVM_IOCTL_VAL(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	/* The API promises at least 32 slots when the cap is absent. */
	vm->max_slot_id = r > 0 ? (uint32_t)r : 32u;
	if (vm->max_slot_id > 0x10000u)
		vm->max_slot_id = 0x10000u;
	r = KVM_IOCTL_VAL(fd, KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE);
	vm->nr_as = r > 1 ? (uint32_t)CVMM_MIN(r, 0x10000) : 1u;
	*out = vm;
	return 0;
}

void cvmm_kvm_vm_destroy(struct cvmm_kvm_vm *vm)
{
	if (!vm)
		return;
	cvmm_close(vm->fd);
	pthread_mutex_destroy(&vm->lock);
	free(vm->slots);
	free(vm);
}

int cvmm_kvm_vm_fd(const struct cvmm_kvm_vm *vm)
{
	return vm->fd;
}

struct cvmm_kvm *cvmm_kvm_vm_kvm(const struct cvmm_kvm_vm *vm)
{
	return vm->kvm;
}

int cvmm_kvm_vm_check_extension(struct cvmm_kvm_vm *vm, long cap)
{
	return KVM_IOCTL_VAL(vm->fd, KVM_CHECK_EXTENSION, cap);
}

/*
 * Every VM-level KVM_ENABLE_CAP goes through here so this object's view of
 * the modes that change its own behaviour (dirty ring mapping at vCPU
 * creation, manual dirty-log clearing) stays true whoever enables them.
 */
int cvmm_kvm_vm_enable_cap(struct cvmm_kvm_vm *vm, const struct kvm_enable_cap *cap)
{
	bool ring = cap->cap == KVM_CAP_DIRTY_LOG_RING ||
		    cap->cap == KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
	int r;

	pthread_mutex_lock(&vm->lock);
	if (ring && (vm->nr_vcpus || vm->ring_bytes || cap->args[0] > UINT32_MAX)) {
		r = -EBUSY;
		if (cap->args[0] > UINT32_MAX)
			r = -EINVAL;
		goto out;
	}
	r = KVM_IOCTL(vm->fd, KVM_ENABLE_CAP, cap);
	if (r)
		goto out;
	if (ring)
		vm->ring_bytes = (uint32_t)cap->args[0];
	if (cap->cap == KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)
		vm->manual_protect = cap->args[0] & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;
out:
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int cvmm_kvm_vm_create_irqchip(struct cvmm_kvm_vm *vm)
{
	return KVM_IOCTL_VAL(vm->fd, KVM_CREATE_IRQCHIP, 0);
}

int cvmm_kvm_vm_enable_split_irqchip(struct cvmm_kvm_vm *vm, uint32_t nr_ioapic_pins)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_SPLIT_IRQCHIP,
		.args = { nr_ioapic_pins },
	};

	if (cvmm_kvm_vm_check_extension(vm, KVM_CAP_SPLIT_IRQCHIP) <= 0)
		return -EOPNOTSUPP;
	return cvmm_kvm_vm_enable_cap(vm, &cap);
}

int cvmm_kvm_vm_get_irqchip(struct cvmm_kvm_vm *vm, struct kvm_irqchip *chip)
{
	return KVM_IOCTL(vm->fd, KVM_GET_IRQCHIP, chip);
}

int cvmm_kvm_vm_set_irqchip(struct cvmm_kvm_vm *vm, const struct kvm_irqchip *chip)
{
	return KVM_IOCTL(vm->fd, KVM_SET_IRQCHIP, chip);
}

int cvmm_kvm_vm_create_pit2(struct cvmm_kvm_vm *vm, const struct kvm_pit_config *cfg)
{
	return KVM_IOCTL(vm->fd, KVM_CREATE_PIT2, cfg);
}

int cvmm_kvm_vm_get_pit2(struct cvmm_kvm_vm *vm, struct kvm_pit_state2 *st)
{
	return KVM_IOCTL(vm->fd, KVM_GET_PIT2, st);
}

int cvmm_kvm_vm_set_pit2(struct cvmm_kvm_vm *vm, const struct kvm_pit_state2 *st)
{
	return KVM_IOCTL(vm->fd, KVM_SET_PIT2, st);
}

int cvmm_kvm_vm_get_clock(struct cvmm_kvm_vm *vm, struct kvm_clock_data *clk)
{
	return KVM_IOCTL(vm->fd, KVM_GET_CLOCK, clk);
}

int cvmm_kvm_vm_set_clock(struct cvmm_kvm_vm *vm, const struct kvm_clock_data *clk)
{
	return KVM_IOCTL(vm->fd, KVM_SET_CLOCK, clk);
}

int cvmm_kvm_vm_irq_line(struct cvmm_kvm_vm *vm, uint32_t irq, bool level)
{
	struct kvm_irq_level l = { .irq = irq, .level = level ? 1 : 0 };

	return KVM_IOCTL(vm->fd, KVM_IRQ_LINE, &l);
}

int cvmm_kvm_vm_set_tss_addr(struct cvmm_kvm_vm *vm, uint64_t addr)
{
	/* The kernel takes an unsigned int and silently truncates; refuse instead. */
	if (addr > UINT32_MAX)
		return -EINVAL;
	return KVM_IOCTL_VAL(vm->fd, KVM_SET_TSS_ADDR, addr);
}

int cvmm_kvm_vm_set_identity_map_addr(struct cvmm_kvm_vm *vm, uint64_t addr)
{
	__u64 a = addr;

	return KVM_IOCTL(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &a);
}

size_t cvmm_kvm_vm_xsave_size(struct cvmm_kvm_vm *vm)
{
	int r = cvmm_kvm_vm_check_extension(vm, KVM_CAP_XSAVE2);

	if (r > 0 && (size_t)r > sizeof(struct kvm_xsave))
		return (size_t)r;
	return sizeof(struct kvm_xsave);
}
