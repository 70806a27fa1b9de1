/* SPDX-License-Identifier: Apache-2.0 */
/* irqfd, ioeventfd, MSI, GSI routing, coalesced MMIO zones. */
#include "internal.h"

#include <stdlib.h>

int cvmm_kvm_vm_register_irqfd(struct cvmm_kvm_vm *vm, int fd, uint32_t gsi,
			       int resample_fd)
{
	struct kvm_irqfd a = { .fd = (uint32_t)fd, .gsi = gsi };

	if (fd < 0)
		return -EBADF;
	if (resample_fd >= 0) {
		a.flags = KVM_IRQFD_FLAG_RESAMPLE;
		a.resamplefd = (uint32_t)resample_fd;
	}
	return KVM_IOCTL(vm->fd, KVM_IRQFD, &a);
}

int cvmm_kvm_vm_unregister_irqfd(struct cvmm_kvm_vm *vm, int fd, uint32_t gsi)
{
	struct kvm_irqfd a = { .fd = (uint32_t)fd, .gsi = gsi,
			       .flags = KVM_IRQFD_FLAG_DEASSIGN };

	if (fd < 0)
		return -EBADF;
	return KVM_IOCTL(vm->fd, KVM_IRQFD, &a);
}

static int ioeventfd(struct cvmm_kvm_vm *vm, int fd, enum cvmm_kvm_io_space space,
		     uint64_t addr, uint32_t len, const uint64_t *datamatch,
		     bool deassign)
{
	struct kvm_ioeventfd a = { .addr = addr, .len = len, .fd = fd };

	if (fd < 0)
		return -EBADF;
	if (space != CVMM_KVM_IO_PIO && space != CVMM_KVM_IO_MMIO)
		return -EINVAL;
	if (len != 0 && len != 1 && len != 2 && len != 4 && len != 8)
		return -EINVAL;
	/* A zero-length match means "any width": a value cannot be matched. */
	if (len == 0 && datamatch)
		return -EINVAL;
	if (space == CVMM_KVM_IO_PIO) {
		if (len == 0 || addr > 0xffff || addr + len > 0x10000)
			return -EINVAL;
		a.flags |= KVM_IOEVENTFD_FLAG_PIO;
	} else if (!cvmm_range_ok(addr, len, UINT64_MAX)) {
		return -EINVAL;
	}
	if (datamatch) {
		a.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
		a.datamatch = *datamatch;
	}
	if (deassign)
		a.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	return KVM_IOCTL(vm->fd, KVM_IOEVENTFD, &a);
}

int cvmm_kvm_vm_register_ioeventfd(struct cvmm_kvm_vm *vm, int fd,
				   enum cvmm_kvm_io_space space, uint64_t addr,
				   uint32_t len, const uint64_t *datamatch)
{
	return ioeventfd(vm, fd, space, addr, len, datamatch, false);
}

int cvmm_kvm_vm_unregister_ioeventfd(struct cvmm_kvm_vm *vm, int fd,
				     enum cvmm_kvm_io_space space, uint64_t addr,
				     uint32_t len, const uint64_t *datamatch)
{
	return ioeventfd(vm, fd, space, addr, len, datamatch, true);
}

int cvmm_kvm_vm_signal_msi(struct cvmm_kvm_vm *vm, const struct kvm_msi *msi)
{
	return KVM_IOCTL(vm->fd, KVM_SIGNAL_MSI, msi);
}

int cvmm_kvm_vm_set_gsi_routing(struct cvmm_kvm_vm *vm,
				const struct kvm_irq_routing_entry *entries,
				uint32_t nr)
{
	struct kvm_irq_routing *t;
	size_t bytes;
	int r;

	if (nr && !entries)
		return -EINVAL;
	/* KVM_MAX_IRQ_ROUTES is 4096 on x86; the kernel rejects more with EINVAL. */
	if (nr > 65536)
		return -EINVAL;
	bytes = sizeof(*t) + (size_t)nr * sizeof(t->entries[0]);
	t = calloc(1, bytes);
	if (!t)
		return -ENOMEM;
	t->nr = nr;
	for (uint32_t i = 0; i < nr; i++)
		t->entries[i] = entries[i];
	r = KVM_IOCTL(vm->fd, KVM_SET_GSI_ROUTING, t);
	free(t);
	return r;
}

int cvmm_kvm_vm_register_coalesced_mmio(struct cvmm_kvm_vm *vm,
					const struct kvm_coalesced_mmio_zone *zone)
{
	long cap = zone->pio ? KVM_CAP_COALESCED_PIO : KVM_CAP_COALESCED_MMIO;

	if (cvmm_kvm_vm_check_extension(vm, cap) <= 0)
		return -EOPNOTSUPP;
	return KVM_IOCTL(vm->fd, KVM_REGISTER_COALESCED_MMIO, zone);
}

int cvmm_kvm_vm_unregister_coalesced_mmio(struct cvmm_kvm_vm *vm,
					  const struct kvm_coalesced_mmio_zone *zone)
{
	return KVM_IOCTL(vm->fd, KVM_UNREGISTER_COALESCED_MMIO, zone);
}

int cvmm_kvm_vm_create_device(struct cvmm_kvm_vm *vm, struct kvm_create_device *cd)
{
	return KVM_IOCTL(vm->fd, KVM_CREATE_DEVICE, cd);
}

int cvmm_kvm_device_set_attr(int fd, const struct kvm_device_attr *attr)
{
	return KVM_IOCTL(fd, KVM_SET_DEVICE_ATTR, attr);
}

int cvmm_kvm_device_get_attr(int fd, const struct kvm_device_attr *attr)
{
	return KVM_IOCTL(fd, KVM_GET_DEVICE_ATTR, attr);
}

int cvmm_kvm_device_has_attr(int fd, const struct kvm_device_attr *attr)
{
	int r = KVM_IOCTL(fd, KVM_HAS_DEVICE_ATTR, attr);

	if (r == 0)
		return 1;
	return r == -ENXIO ? 0 : r;
}
