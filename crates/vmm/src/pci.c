/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PCI on the VM: one segment (pci crate) reached through ports 0xCF8..0xCFF
 * and an ECAM window, two BAR windows (one below 4 GiB, one above RAM) from
 * the allocator, and virtio-pci devices in its slots.
 *
 * BARs move while vCPUs run, from the vCPU thread that wrote configuration
 * space; the buses cannot change from a vCPU thread (a change waits for
 * every vCPU to leave its handler), so each window is one bus range whose
 * handler finds the device by address in a table of its own, updated by
 * the segment's bar_event under a rwlock. The queues' KVM ioeventfds move
 * with the BAR.
 *
 * MSI-X: each vector of each device gets a GSI from the MSI pool at add
 * time; a vector's message becomes a KVM MSI route (the whole routing
 * table, the default I/O APIC and PIC entries included, is rewritten under
 * route_lock) and its eventfd a KVM irqfd on that GSI while the vector is
 * usable; a masked vector's irqfd is deassigned, and KVM injects whatever a
 * direct writer signalled meanwhile when it is assigned again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/kvm.h>

#include <cvmm/acpi-tables.h>
#include <cvmm/kvm-ioctls.h>
#include <cvmm/pci.h>
#include <cvmm/snapshot.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/pci.h>

#include "internal.h"

#define VIRTIO_ID_IOMMU 23u /* cvmm/virtio-devices/iommu.h */

#define PCI_OWNER "__pci"
#define WIN32_SIZE (64ull << 20)
#define WIN64_SIZE (1ull << 30)
#define MAX_VEC (CVMM_VIRTIO_MAX_QUEUES + 1u)
/* INTx lines the slots share, slot s on line s % PCI_INTX_LINES (the _PRT
 * says so for every slot from boot, hotplugged ones included). */
#define PCI_INTX_LINES 4u

struct vpdev;

struct win {
	struct vmm_pci *pci;
	uint64_t base, len;
};

struct vmm_pci {
	struct cvmm_vmm *vmm;
	struct cvmm_pci_segment *seg;
	uint64_t ecam;
	struct win w32, w64;
	pthread_rwlock_t map_lock;        /* slots[].bar_addr as the windows see it */
	pthread_mutex_t route_lock;       /* the KVM routing table */
	uint64_t intx_gsi;                /* first of PCI_INTX_LINES */
	struct vpdev *slots[CVMM_PCI_SLOTS];
};

struct vpdev {
	struct vdev_common c;              /* first: the shared ops take it */
	struct vmm_pci *pci;
	struct cvmm_virtio_pci *t;
	int slot;                          /* -1: not in the segment */
	uint64_t bar_addr;                 /* CVMM_PCI_BAR_ADDR_NONE: unmapped */
	bool ioeventfds;                   /* registered at bar_addr */
	bool intx_on;                      /* on its slot's line: slot_gsi() */
	uint32_t msi_gsi;                  /* first of nvec */
	unsigned int nvec;
	bool route_set[MAX_VEC];
	struct cvmm_pci_msi_msg msg[MAX_VEC];
	bool irqfd_on[MAX_VEC];
};

/* ------------------------------------------------------------------------ */
/* Configuration access and BAR windows (vCPU threads)                       */
/* ------------------------------------------------------------------------ */

static void cf8_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vmm_pci *p = opaque;

	if (cvmm_pci_segment_pio(p->seg, (uint16_t)(CVMM_PCI_CONFIG_ADDRESS + off), data, len,
				 is_write) && !is_write)
		memset(data, 0xff, len);
}

static void ecam_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vmm_pci *p = opaque;

	if (cvmm_pci_segment_ecam(p->seg, off, data, len, is_write) && !is_write)
		memset(data, 0xff, len);
}

static void win_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct win *w = opaque;
	struct vmm_pci *p = w->pci;
	uint64_t addr = w->base + off;
	bool done = false;

	pthread_rwlock_rdlock(&p->map_lock);
	for (unsigned int i = 0; i < CVMM_PCI_SLOTS && !done; i++) {
		struct vpdev *d = p->slots[i];

		if (!d || d->bar_addr == CVMM_PCI_BAR_ADDR_NONE || addr < d->bar_addr ||
		    addr - d->bar_addr >= CVMM_VIRTIO_PCI_BAR_SIZE)
			continue;
		done = cvmm_virtio_pci_bar_access(d->t, addr - d->bar_addr, data, len,
						  is_write) == 0;
	}
	pthread_rwlock_unlock(&p->map_lock);
	if (!done && !is_write)
		memset(data, 0xff, len);
}

/* ------------------------------------------------------------------------ */
/* MSI routes                                                                */
/* ------------------------------------------------------------------------ */

/* The default routes KVM set up with the irqchip (GSI 0-15: PIC and I/O
 * APIC, 16-23: I/O APIC) plus every programmed MSI vector. Under route_lock. */
static int routes_write(struct vmm_pci *p)
{
	struct kvm_irq_routing_entry *e;
	unsigned int n = 0, cap = 24 + 16 + CVMM_PCI_SLOTS * MAX_VEC;
	int ret;

	e = calloc(cap, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (uint32_t gsi = 0; gsi < 24; gsi++) {
		e[n].gsi = gsi;
		e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		e[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e[n++].u.irqchip.pin = gsi;
		if (gsi < 16) {
			e[n].gsi = gsi;
			e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
			e[n].u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
							 : KVM_IRQCHIP_PIC_SLAVE;
			e[n++].u.irqchip.pin = gsi % 8;
		}
	}
	for (unsigned int s = 0; s < CVMM_PCI_SLOTS; s++) {
		struct vpdev *d = p->slots[s];

		for (unsigned int v = 0; d && v < d->nvec; v++) {
			if (!d->route_set[v])
				continue;
			e[n].gsi = d->msi_gsi + v;
			e[n].type = KVM_IRQ_ROUTING_MSI;
			e[n].u.msi.address_lo = (uint32_t)d->msg[v].addr;
			e[n].u.msi.address_hi = (uint32_t)(d->msg[v].addr >> 32);
			e[n++].u.msi.data = d->msg[v].data;
		}
	}
	ret = cvmm_kvm_vm_set_gsi_routing(p->vmm->vm, e, n);
	free(e);
	return ret;
}

/* MSI-X told us a vector's (message, usable) changed: on a vCPU thread,
 * under the segment's and the MSI-X object's locks. */
static void msix_update(void *opaque, unsigned int v, const struct cvmm_pci_msi_msg *msg,
			bool usable)
{
	struct vpdev *d = opaque;
	struct vmm_pci *p = d->pci;
	int fd = cvmm_virtio_pci_vector_fd(d->t, v), ret = 0;

	if (v >= d->nvec || fd < 0)
		return;
	pthread_mutex_lock(&p->route_lock);
	if (usable && (!d->route_set[v] || d->msg[v].addr != msg->addr ||
		       d->msg[v].data != msg->data)) {
		d->route_set[v] = true;
		d->msg[v] = *msg;
		ret = routes_write(p);
	}
	if (!ret && usable && !d->irqfd_on[v]) {
		ret = cvmm_kvm_vm_register_irqfd(p->vmm->vm, fd, d->msi_gsi + v, -1);
		d->irqfd_on[v] = !ret;
	} else if (!usable && d->irqfd_on[v]) {
		cvmm_kvm_vm_unregister_irqfd(p->vmm->vm, fd, d->msi_gsi + v);
		d->irqfd_on[v] = false;
	}
	pthread_mutex_unlock(&p->route_lock);
	if (ret)
		CVMM_LOG(CVMM_LOG_WARN, VMM_CRATE, "device '%s': MSI-X vector %u (GSI %u): %s",
			 d->c.id, v, d->msi_gsi + v, strerror(-ret));
}

/* ------------------------------------------------------------------------ */
/* BAR moves                                                                 */
/* ------------------------------------------------------------------------ */

static void ioeventfds(struct vpdev *d, bool on)
{
	for (unsigned int q = 0; q < d->c.o.dev->num_queues; q++) {
		uint64_t addr = d->bar_addr + (uint64_t)cvmm_virtio_pci_notify_offset(d->t, q);
		int fd = cvmm_virtio_pci_notify_fd(d->t, q), ret;

		if (on)
			ret = cvmm_kvm_vm_register_ioeventfd(d->c.vmm->vm, fd, CVMM_KVM_IO_MMIO, addr,
							     2, NULL);
		else
			ret = cvmm_kvm_vm_unregister_ioeventfd(d->c.vmm->vm, fd, CVMM_KVM_IO_MMIO,
							       addr, 2, NULL);
		if (ret)
			CVMM_LOG(CVMM_LOG_WARN, VMM_CRATE, "device '%s': queue %u ioeventfd at 0x%llx: %s",
				 d->c.id, q, (unsigned long long)addr, strerror(-ret));
	}
}

static bool in_window(const struct win *w, uint64_t a, uint64_t len)
{
	return w->len && a >= w->base && a - w->base <= w->len - len;
}

static void bar_event(void *opaque, const struct cvmm_pci_bar_event *ev)
{
	struct vpdev *d = opaque;
	struct vmm_pci *p = d->pci;
	uint64_t a = ev->new_addr;

	if (ev->bar != CVMM_VIRTIO_PCI_BAR)
		return;
	if (a != CVMM_PCI_BAR_ADDR_NONE && !in_window(&p->w32, a, ev->size) &&
	    !in_window(&p->w64, a, ev->size)) {
		CVMM_LOG(CVMM_LOG_WARN, VMM_CRATE,
			 "device '%s': BAR 0 at 0x%llx is outside the PCI windows: not reachable",
			 d->c.id, (unsigned long long)a);
		a = CVMM_PCI_BAR_ADDR_NONE;
	}
	pthread_rwlock_wrlock(&p->map_lock);
	if (d->ioeventfds && !d->c.vmm->tearing_down)
		ioeventfds(d, false);
	d->ioeventfds = false;
	d->bar_addr = a;
	if (a != CVMM_PCI_BAR_ADDR_NONE && !d->c.vmm->tearing_down) {
		ioeventfds(d, true);
		d->ioeventfds = true;
	}
	pthread_rwlock_unlock(&p->map_lock);
}

static const struct cvmm_pci_dev_ops pci_dev_ops = { .bar_event = bar_event };

/* ------------------------------------------------------------------------ */
/* The segment                                                               */
/* ------------------------------------------------------------------------ */

int cvmm_vmm_pci_add(struct cvmm_vmm *vmm, char *err, size_t errlen)
{
	const struct cvmm_pci_range res[] = {
		{ .base = CVMM_VMM_IOAPIC_ADDR, .size = 0x1000 },
		{ .base = CVMM_VMM_LAPIC_ADDR, .size = 0x100000 },
	};
	struct cvmm_pci_segment_opts so = { .sz = sizeof(so), .reserved = res,
					    .num_reserved = 2 };
	struct vmm_pci *p;
	int ret;

	if (!vmm)
		return -EINVAL;
	if (vmm->pci) {
		snprintf(err, errlen, "pci: already added");
		return -EEXIST;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->vmm = vmm;
	pthread_rwlock_init(&p->map_lock, NULL);
	pthread_mutex_init(&p->route_lock, NULL);
	p->w32.pci = p->w64.pci = p;
	ret = cvmm_vmm_alloc(vmm, CVMM_VMM_RES_MMIO32, CVMM_PCI_ECAM_BUS_SIZE,
			     CVMM_PCI_ECAM_BUS_SIZE, PCI_OWNER, &p->ecam);
	if (!ret)
		ret = cvmm_vmm_alloc(vmm, CVMM_VMM_RES_MMIO32, WIN32_SIZE, WIN32_SIZE, PCI_OWNER,
				     &p->w32.base);
	if (!ret)
		ret = cvmm_vmm_alloc(vmm, CVMM_VMM_RES_MMIO64, WIN64_SIZE, WIN64_SIZE, PCI_OWNER,
				     &p->w64.base);
	if (ret) {
		snprintf(err, errlen, "pci: no room for the ECAM and BAR windows: %s",
			 strerror(-ret));
		goto fail;
	}
	ret = cvmm_vmm_alloc(vmm, CVMM_VMM_RES_GSI, PCI_INTX_LINES, 0, PCI_OWNER, &p->intx_gsi);
	if (ret) {
		snprintf(err, errlen, "pci: no %u interrupt lines left for INTx", PCI_INTX_LINES);
		goto fail;
	}
	p->w32.len = WIN32_SIZE;
	p->w64.len = WIN64_SIZE;
	so.ecam_base = p->ecam;
	so.mem = vmm->mem;
	ret = cvmm_pci_segment_create(&so, &p->seg);
	if (ret) {
		snprintf(err, errlen, "pci: segment: %s", strerror(-ret));
		goto fail;
	}
	if ((ret = cvmm_vmm_bus_add(vmm, CVMM_VMM_PIO, CVMM_PCI_CONFIG_ADDRESS, 8, cf8_io, p,
				    "pci-config")) ||
	    (ret = cvmm_vmm_bus_add(vmm, CVMM_VMM_MMIO, p->ecam, CVMM_PCI_ECAM_BUS_SIZE, ecam_io, p,
				    "pci-ecam")) ||
	    (ret = cvmm_vmm_bus_add(vmm, CVMM_VMM_MMIO, p->w32.base, p->w32.len, win_io, &p->w32,
				    "pci-mmio32")) ||
	    (ret = cvmm_vmm_bus_add(vmm, CVMM_VMM_MMIO, p->w64.base, p->w64.len, win_io, &p->w64,
				    "pci-mmio64"))) {
		snprintf(err, errlen, "pci: bus: %s", strerror(-ret));
		cvmm_vmm_bus_remove(vmm, CVMM_VMM_PIO, CVMM_PCI_CONFIG_ADDRESS);
		cvmm_vmm_bus_remove(vmm, CVMM_VMM_MMIO, p->ecam);
		cvmm_vmm_bus_remove(vmm, CVMM_VMM_MMIO, p->w32.base);
		goto fail;
	}
	vmm->pci = p;
	return 0;
fail:
	cvmm_pci_segment_destroy(p->seg);
	cvmm_vmm_alloc_free_owner(vmm, PCI_OWNER);
	pthread_rwlock_destroy(&p->map_lock);
	pthread_mutex_destroy(&p->route_lock);
	free(p);
	return ret;
}

void cvmm_vi_pci_fini(struct cvmm_vmm *vmm)
{
	struct vmm_pci *p = vmm->pci;

	if (!p)
		return;
	/* The devices are gone (destroyed before); the buses go with the VM. */
	cvmm_pci_segment_destroy(p->seg);
	pthread_rwlock_destroy(&p->map_lock);
	pthread_mutex_destroy(&p->route_lock);
	free(p);
	vmm->pci = NULL;
}

int cvmm_vmm_pci_info(const struct cvmm_vmm *vmm, struct cvmm_vmm_pci_info *out)
{
	const struct vmm_pci *p;

	if (!vmm || !out)
		return -EINVAL;
	p = vmm->pci;
	if (!p)
		return -ENOENT;
	*out = (struct cvmm_vmm_pci_info){
		.segment = 0, .bus_start = 0, .bus_end = 0, .ecam_base = p->ecam,
		.mmio32_base = p->w32.base, .mmio32_size = p->w32.len,
		.mmio64_base = p->w64.base, .mmio64_size = p->w64.len,
	};
	return 0;
}

static uint32_t slot_gsi(const struct vmm_pci *p, unsigned int slot)
{
	return (uint32_t)p->intx_gsi + slot % PCI_INTX_LINES;
}

bool cvmm_vi_pci_acpi(const struct cvmm_vmm *vmm, struct cvmm_acpi_pci *out,
		      struct cvmm_acpi_pci_irq *irqs)
{
	const struct vmm_pci *p = vmm->pci;
	unsigned int n = 0;

	if (!p)
		return false;
	/* Every slot but the host bridge's, empty ones too: a device
	 * hotplugged later finds its line in the table the guest has. */
	for (unsigned int s = 1; s < CVMM_PCI_SLOTS; s++)
		irqs[n++] = (struct cvmm_acpi_pci_irq){ .slot = (uint8_t)s,
							.gsi = slot_gsi(p, s) };
	*out = (struct cvmm_acpi_pci){
		.segment = 0, .bus_start = 0, .bus_end = 0, .ecam_base = p->ecam,
		.mmio32_base = p->w32.base, .mmio32_size = p->w32.len,
		.mmio64_base = p->w64.base, .mmio64_size = p->w64.len,
		.irqs = irqs, .num_irqs = n,
	};
	return true;
}

bool cvmm_vi_pci_viot(const struct cvmm_vmm *vmm, struct cvmm_acpi_viot *out,
		      struct cvmm_acpi_viot_endpoint *ranges)
{
	const struct vmm_pci *p = vmm->pci;
	unsigned int n = 0;
	int iommu = -1;

	if (!p)
		return false;
	for (unsigned int s = 0; s < CVMM_PCI_SLOTS; s++) {
		const struct vpdev *d = p->slots[s];

		if (!d)
			continue;
		if (d->c.o.dev->device_id == VIRTIO_ID_IOMMU)
			iommu = (int)s;
		else if (d->c.o.dma && n < CVMM_ACPI_VIOT_MAX_RANGES)
			/* The endpoint id is the BDF (bus 0, function 0). */
			ranges[n++] = (struct cvmm_acpi_viot_endpoint){
				.bdf_start = (uint16_t)(s << 3), .bdf_end = (uint16_t)(s << 3),
				.endpoint_start = s << 3,
			};
	}
	if (iommu < 0 || !n)
		return false;
	*out = (struct cvmm_acpi_viot){ .iommu_bdf = (uint16_t)(iommu << 3), .ranges = ranges,
					.num_ranges = n };
	return true;
}

struct cvmm_pci_segment *cvmm_vmm_pci_segment(const struct cvmm_vmm *vmm)
{
	return vmm && vmm->pci ? vmm->pci->seg : NULL;
}

/* The slot table changes only on the control thread (add, remove); these
 * run there too. */
int cvmm_vi_pci_id_at(const struct cvmm_vmm *vmm, unsigned int slot, char id[CVMM_VMM_ID_MAX])
{
	const struct vmm_pci *p = vmm->pci;

	if (!p || slot >= CVMM_PCI_SLOTS || !p->slots[slot])
		return -ENOENT;
	snprintf(id, CVMM_VMM_ID_MAX, "%s", p->slots[slot]->c.id);
	return 0;
}

int cvmm_vi_pci_slot_of(const struct cvmm_vmm *vmm, const char *id)
{
	const struct vmm_pci *p = vmm->pci;

	for (unsigned int s = 1; p && s < CVMM_PCI_SLOTS; s++)
		if (p->slots[s] && !strcmp(p->slots[s]->c.id, id))
			return (int)s;
	return -1;
}

uint32_t cvmm_vi_pci_slots_used(const struct cvmm_vmm *vmm)
{
	const struct vmm_pci *p = vmm->pci;
	uint32_t m = 0;

	for (unsigned int s = 1; p && s < CVMM_PCI_SLOTS; s++)
		if (p->slots[s])
			m |= 1u << s;
	return m;
}

/* ------------------------------------------------------------------------ */
/* virtio-pci devices                                                        */
/* ------------------------------------------------------------------------ */

static void vpdev_destroy(void *dev)
{
	struct vpdev *d = dev;
	struct vmm_pci *p = d->pci;

	/* Out of the segment first: its BAR is unmapped (bar_event). */
	if (d->slot > 0)
		cvmm_pci_segment_remove(p->seg, (unsigned int)d->slot);
	pthread_rwlock_wrlock(&p->map_lock);
	if (d->slot > 0 && p->slots[d->slot] == d)
		p->slots[d->slot] = NULL;
	pthread_rwlock_unlock(&p->map_lock);
	if (d->slot > 0)
		cvmm_vi_ged_slot_gone(d->c.vmm, (unsigned int)d->slot);
	/* As virtio-mmio: a VM being torn down drops its irqfds itself. */
	if (!d->c.vmm->tearing_down && d->t) {
		for (unsigned int v = 0; v < d->nvec; v++)
			if (d->irqfd_on[v])
				cvmm_kvm_vm_unregister_irqfd(d->c.vmm->vm,
							     cvmm_virtio_pci_vector_fd(d->t, v),
							     d->msi_gsi + v);
		if (d->intx_on)
			cvmm_kvm_vm_unregister_irqfd(d->c.vmm->vm, cvmm_virtio_pci_intx_fd(d->t),
						     slot_gsi(p, (unsigned int)d->slot));
		pthread_mutex_lock(&p->route_lock);
		memset(d->route_set, 0, sizeof(d->route_set));
		routes_write(p);
		pthread_mutex_unlock(&p->route_lock);
	}
	if (d->c.o.detach)
		d->c.o.detach(d->c.o.model);
	cvmm_virtio_pci_destroy(d->t);
	if (d->c.o.destroy)
		d->c.o.destroy(d->c.o.model);
	cvmm_vmm_alloc_free_owner(d->c.vmm, d->c.id);
	free(d);
}

static int vp_save(void *dev, void *state, void *buf, size_t cap)
{
	return cvmm_virtio_pci_save(((struct vpdev *)dev)->t, state, buf, cap);
}

/* BAR 0 goes where the state has it (bar_event moves the ioeventfds). */
static int vp_restore(void *dev, const void *state, const void *buf, size_t len, char *why,
		      size_t whylen)
{
	struct vpdev *d = dev;
	int ret = cvmm_virtio_pci_restore(d->t, state, buf, len, why, whylen);

	if (!ret)
		cvmm_pci_segment_update(d->pci->seg);
	return ret;
}

static int vp_notify_fd(void *dev, unsigned int q)
{
	return cvmm_virtio_pci_notify_fd(((struct vpdev *)dev)->t, q);
}

static const struct vdev_transport_io pci_tio = {
	.section = "virtio-pci",
	.version = CVMM_VIRTIO_PCI_STATE_VERSION,
	.len = sizeof(struct cvmm_virtio_pci_state),
	.save = vp_save,
	.restore = vp_restore,
	.notify_fd = vp_notify_fd,
};

static int vpdev_save(void *dev, struct cvmm_snap_writer *w, const char *id)
{
	return cvmm_vi_vdev_save(dev, &pci_tio, w, id);
}

static int vpdev_restore(void *dev, struct cvmm_snap_reader *r, const char *id, char *err,
			 size_t errlen)
{
	return cvmm_vi_vdev_restore(dev, &pci_tio, r, id, err, errlen);
}

static const struct cvmm_vmm_device_ops vpdev_ops = {
	.pause = cvmm_vi_vdev_pause,
	.resume = cvmm_vi_vdev_resume,
	.dirty_log = cvmm_vi_vdev_dirty_log,
	.dirty_harvest = cvmm_vi_vdev_dirty_harvest,
	.memory_changed = cvmm_vi_vdev_memory_changed,
	.postcopy_begin = cvmm_vi_vdev_postcopy_begin,
	.postcopy_regions = cvmm_vi_vdev_postcopy_regions,
	.postcopy_end = cvmm_vi_vdev_postcopy_end,
	.save = vpdev_save,
	.restore = vpdev_restore,
	.destroy = vpdev_destroy,
};

int cvmm_vmm_virtio_pci_add(struct cvmm_vmm *vmm, const struct cvmm_vmm_virtio_opts *o,
			    char out_id[CVMM_VMM_ID_MAX], unsigned int *out_slot, char *err,
			    size_t errlen)
{
	struct cvmm_virtio_pci_opts po = { .sz = sizeof(po) };
	struct vmm_pci *p;
	struct vpdev *d;
	uint64_t msi;
	uint32_t gsi;
	uint8_t line;
	int ret;

	if (!vmm || !o || o->sz < sizeof(*o) || !o->dev || !o->kind || (!o->id && !o->prefix) ||
	    o->pci_slot > 31) {
		snprintf(err, errlen, "virtio device: bad options");
		return -EINVAL;
	}
	p = vmm->pci;
	if (!p) {
		snprintf(err, errlen, "%s: transport=pci needs PCI on the VM (cvmm_vmm_pci_add)",
			 o->kind);
		return -ENODEV;
	}
	if (!cvmm_vi_hotplug_check(vmm, o->kind, err, errlen, &ret))
		return ret;
	if (!cvmm_vmm_device_loop(vmm))
		return -ENOMEM;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->c.vmm = vmm;
	d->pci = p;
	d->c.o = *o;
	d->slot = -1;
	d->bar_addr = CVMM_PCI_BAR_ADDR_NONE;
	d->nvec = o->dev->num_queues + 1u;
	if (o->id)
		snprintf(d->c.id, sizeof(d->c.id), "%s", o->id);
	else if ((ret = cvmm_vmm_device_next_id(vmm, o->prefix, d->c.id)))
		goto fail_free;
	if (cvmm_vmm_device_find(vmm, d->c.id)) {
		snprintf(err, errlen, "%s: id '%s' is already in use", o->kind, d->c.id);
		ret = -EEXIST;
		goto fail_free;
	}
	ret = cvmm_vmm_alloc(vmm, CVMM_VMM_RES_MSI, d->nvec, 0, d->c.id, &msi);
	if (ret) {
		snprintf(err, errlen, "%s: no MSI GSIs left for another device", o->kind);
		goto fail_res;
	}
	d->msi_gsi = (uint32_t)msi;
	po.dev = o->dev;
	po.mem = vmm->mem;
	po.em = vmm->dev_em;
	po.bar_64bit = false;
	po.used_irq_direct = o->used_irq_direct;
	po.dma = o->dma;
	po.msix_update = msix_update;
	po.opaque = d;
	ret = cvmm_virtio_pci_create(&po, &d->t);
	if (ret) {
		snprintf(err, errlen, "%s: virtio-pci transport: %s", o->kind, strerror(-ret));
		goto fail_res;
	}
	d->c.core = cvmm_virtio_pci_transport(d->t);
	ret = cvmm_pci_segment_add(p->seg, o->pci_slot ? (int)o->pci_slot : -1,
				   cvmm_virtio_pci_config(d->t), &pci_dev_ops, d);
	if (ret < 0) {
		if (ret == -EBUSY)
			snprintf(err, errlen, "%s: PCI slot %u is taken", o->kind, o->pci_slot);
		else
			snprintf(err, errlen, "%s: PCI slot: %s", o->kind,
				 ret == -ENOSPC ? "all 31 slots are taken" : strerror(-ret));
		goto fail_t;
	}
	d->slot = ret;
	/* The slot's line as the _PRT has it, and what firmware would write
	 * in Interrupt Line. The guest learns of a hotplugged slot only at
	 * cvmm_vmm_hotplug_end(), a booting one only once the vCPUs run.
	 * With the resample fd the line is a level, as PCI's INTx is (shared
	 * by four slots, it must be). */
	gsi = slot_gsi(p, (unsigned int)d->slot);
	line = (uint8_t)gsi;
	cvmm_pci_config_set(cvmm_virtio_pci_config(d->t), CVMM_PCI_INTERRUPT_LINE, &line, 1);
	ret = cvmm_kvm_vm_register_irqfd(vmm->vm, cvmm_virtio_pci_intx_fd(d->t), gsi,
					 cvmm_virtio_pci_intx_resample_fd(d->t));
	if (ret) {
		snprintf(err, errlen, "%s: KVM_IRQFD on GSI %u: %s", o->kind, gsi,
			 strerror(-ret));
		goto fail_t;
	}
	d->intx_on = true;
	pthread_rwlock_wrlock(&p->map_lock);
	p->slots[d->slot] = d;
	pthread_rwlock_unlock(&p->map_lock);
	ret = cvmm_vmm_device_add(vmm, d->c.id, NULL, o->kind, &vpdev_ops, d, out_id);
	if (ret) {
		snprintf(err, errlen, "%s: device table: %s", o->kind, strerror(-ret));
		goto fail_t;
	}
	if (out_slot)
		*out_slot = (unsigned int)d->slot;
	/* Into a booted VM: the guest hears of it at cvmm_vmm_hotplug_end(). */
	if (vmm->hp_active)
		vmm->hp_added |= 1u << d->slot;
	return 0;
fail_t:
	/* Undo exactly what was done; the model stays the caller's. */
	d->c.o.destroy = NULL;
	d->c.o.detach = NULL;
	vpdev_destroy(d);
	return ret;
fail_res:
	cvmm_vmm_alloc_free_owner(vmm, d->c.id);
fail_free:
	free(d);
	return ret;
}
