/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/virtio-devices/pci.h
 * @brief virtio-pci, modern (virtio 1.2, 4.1): a register map over the
 *        transport core, on the pci crate's configuration space and MSI-X.
 *
 * One memory BAR (BAR 0, 32- or 64-bit, CVMM_VIRTIO_PCI_BAR_SIZE bytes)
 * holds everything the capabilities point at:
 *
 *   0x0000  common configuration (0x38 bytes)   VIRTIO_PCI_CAP_COMMON_CFG
 *   0x1000  ISR status (1 byte, read clears)     VIRTIO_PCI_CAP_ISR_CFG
 *   0x2000  device configuration                 VIRTIO_PCI_CAP_DEVICE_CFG
 *   0x3000  notifications, 4 bytes per queue     VIRTIO_PCI_CAP_NOTIFY_CFG
 *   0x4000  MSI-X table (one vector per queue + one for config)
 *   0x5000  MSI-X PBA
 *
 * plus the VIRTIO_PCI_CAP_PCI_CFG window in configuration space. Queue q's
 * notify address is BAR 0 + 0x3000 + 4 q (queue_notify_off = q,
 * notify_off_multiplier = 4): the VMM registers queue q's notify eventfd
 * there as a KVM ioeventfd and moves it when the guest moves the BAR.
 *
 * Interrupts (struct cvmm_virtio_interrupt): each MSI-X vector has an
 * eventfd of its own (cvmm_virtio_pci_vector_fd(); the VMM registers it as
 * a KVM irqfd with a GSI route for the vector's message, told through
 * opts.msix_update). A queue's or the config change's interrupt goes to
 * the vector the driver wrote in queue_msix_vector / config_msix_vector;
 * a masked vector is remembered in the PBA and delivered on unmask. With
 * MSI-X disabled, INTx: the ISR bit is set and the INTx eventfd written
 * (edge style, as virtio-mmio's line).
 *
 * All functions return 0 (or a non-negative value) or a negative errno.
 */
#ifndef CVMM_VIRTIO_DEVICES_PCI_H
#define CVMM_VIRTIO_DEVICES_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/pci.h>
#include <cvmm/virtio-devices.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CVMM_VIRTIO_PCI_VENDOR_ID 0x1af4u
#define CVMM_VIRTIO_PCI_DEVICE_ID_BASE 0x1040u  /* + virtio device id */
#define CVMM_VIRTIO_PCI_BAR 0u
#define CVMM_VIRTIO_PCI_BAR_SIZE 0x8000u
#define CVMM_VIRTIO_PCI_COMMON_OFFSET 0x0000u
#define CVMM_VIRTIO_PCI_COMMON_SIZE 0x38u
#define CVMM_VIRTIO_PCI_ISR_OFFSET 0x1000u
#define CVMM_VIRTIO_PCI_DEVICE_OFFSET 0x2000u
#define CVMM_VIRTIO_PCI_NOTIFY_OFFSET 0x3000u
#define CVMM_VIRTIO_PCI_NOTIFY_MULTIPLIER 4u
#define CVMM_VIRTIO_PCI_MSIX_TABLE_OFFSET 0x4000u
#define CVMM_VIRTIO_PCI_MSIX_PBA_OFFSET 0x5000u
#define CVMM_VIRTIO_PCI_NO_VECTOR 0xffffu

/* virtio_pci_cap.cfg_type (virtio 1.2, 4.1.4) */
#define CVMM_VIRTIO_PCI_CAP_COMMON_CFG 1u
#define CVMM_VIRTIO_PCI_CAP_NOTIFY_CFG 2u
#define CVMM_VIRTIO_PCI_CAP_ISR_CFG 3u
#define CVMM_VIRTIO_PCI_CAP_DEVICE_CFG 4u
#define CVMM_VIRTIO_PCI_CAP_PCI_CFG 5u

/* Common configuration offsets (struct virtio_pci_common_cfg). */
#define CVMM_VIRTIO_PCI_DEVICE_FEATURE_SELECT 0x00u
#define CVMM_VIRTIO_PCI_DEVICE_FEATURE 0x04u
#define CVMM_VIRTIO_PCI_DRIVER_FEATURE_SELECT 0x08u
#define CVMM_VIRTIO_PCI_DRIVER_FEATURE 0x0cu
#define CVMM_VIRTIO_PCI_CONFIG_MSIX_VECTOR 0x10u
#define CVMM_VIRTIO_PCI_NUM_QUEUES 0x12u
#define CVMM_VIRTIO_PCI_DEVICE_STATUS 0x14u
#define CVMM_VIRTIO_PCI_CONFIG_GENERATION 0x15u
#define CVMM_VIRTIO_PCI_QUEUE_SELECT 0x16u
#define CVMM_VIRTIO_PCI_QUEUE_SIZE 0x18u
#define CVMM_VIRTIO_PCI_QUEUE_MSIX_VECTOR 0x1au
#define CVMM_VIRTIO_PCI_QUEUE_ENABLE 0x1cu
#define CVMM_VIRTIO_PCI_QUEUE_NOTIFY_OFF 0x1eu
#define CVMM_VIRTIO_PCI_QUEUE_DESC 0x20u
#define CVMM_VIRTIO_PCI_QUEUE_DRIVER 0x28u
#define CVMM_VIRTIO_PCI_QUEUE_DEVICE 0x30u

struct cvmm_virtio_pci;

struct cvmm_virtio_pci_opts {
	size_t sz;                       /* sizeof(struct cvmm_virtio_pci_opts) */
	struct cvmm_virtio_device *dev;  /* filled-in device, outlives the transport */
	struct cvmm_guest_mem *mem;      /* guest RAM the queues live in */
	struct cvmm_event_manager *em;   /* the device thread's loop */
	bool bar_64bit;                  /* BAR 0 is a 64-bit memory BAR */
	/**
	 * MSI-X vector @vector's message or usability changed (see
	 * struct cvmm_pci_msix_ops.update): program a GSI route for @msg and
	 * keep cvmm_virtio_pci_vector_fd(@vector) registered as its irqfd
	 * while @usable. Runs on a vCPU thread under the MSI-X lock (and the
	 * PCI segment's): must not call back into the transport or segment.
	 * Optional.
	 */
	void (*msix_update)(void *opaque, unsigned int vector,
			    const struct cvmm_pci_msi_msg *msg, bool usable);
	void *opaque;
	/*
	 * Used-buffer interrupts bypass the transport (a vhost-user backend
	 * writes the vector's or the INTx eventfd itself). With MSI-X that
	 * needs nothing; for INTx the ISR cannot learn of them, so with this
	 * set it always shows the used bit (as virtio-mmio's option).
	 */
	bool used_irq_direct;
	/* Behind a virtio-iommu: see struct cvmm_virtio_transport_opts.dma. */
	const struct cvmm_dma_xlate *dma;
};

/**
 * Create the transport: configuration space (vendor 0x1af4, device 0x1040
 * + device id, revision 1, subsystem 0x1af4/0x40, a class by device type,
 * INTA), BAR 0, the virtio capabilities, MSI-X with num_queues + 1
 * vectors, one eventfd per vector and one for INTx, and the transport core.
 * Put cvmm_virtio_pci_config() in a PCI segment slot next.
 * @return 0 and *@out; -EINVAL (NULL fields, sz, config_size above 4 KiB);
 * -ENOMEM; -EMFILE; errors of cvmm_virtio_transport_create().
 * Thread safety: as cvmm_virtio_transport_create().
 */
int cvmm_virtio_pci_create(const struct cvmm_virtio_pci_opts *o, struct cvmm_virtio_pci **out);

/** Destroy (the core first, it may still signal; then MSI-X, config space,
 * fds). Remove the config space from its segment before. NULL does nothing. */
void cvmm_virtio_pci_destroy(struct cvmm_virtio_pci *t);

/** The configuration space (for cvmm_pci_segment_add()). Thread-safe. */
struct cvmm_pci_config *cvmm_virtio_pci_config(const struct cvmm_virtio_pci *t);
/** The MSI-X object. Thread-safe. */
struct cvmm_pci_msix *cvmm_virtio_pci_msix(const struct cvmm_virtio_pci *t);
/** The transport core. Thread-safe. */
struct cvmm_virtio_transport *cvmm_virtio_pci_transport(const struct cvmm_virtio_pci *t);

/**
 * A guest access at @offset into BAR 0 (@len 1, 2, 4 or 8): common
 * configuration fields at their natural width (64-bit fields also as two
 * 32-bit halves), ISR (read clears), device configuration, notifications
 * (any width; the queue is the one the address belongs to), MSI-X table
 * and PBA. Other widths, gaps and offsets past the BAR read 0 and are
 * ignored.
 * @return 0; -EINVAL (NULL, bad @len).
 * Thread safety: any vCPU thread.
 */
int cvmm_virtio_pci_bar_access(struct cvmm_virtio_pci *t, uint64_t offset, void *data,
			       unsigned int len, bool is_write);

/** Queue @q's notify address as an offset into BAR 0. @return the offset;
 * -EINVAL (@q out of range). Thread-safe. */
int64_t cvmm_virtio_pci_notify_offset(const struct cvmm_virtio_pci *t, unsigned int q);
/** Queue @q's notify eventfd (the KVM ioeventfd at the notify address).
 * @return the fd; -EINVAL. Thread-safe. */
int cvmm_virtio_pci_notify_fd(const struct cvmm_virtio_pci *t, unsigned int q);
/** MSI-X vector @v's eventfd (its KVM irqfd). @return the fd; -EINVAL. */
int cvmm_virtio_pci_vector_fd(const struct cvmm_virtio_pci *t, unsigned int v);
/** Number of MSI-X vectors (num_queues + 1). */
unsigned int cvmm_virtio_pci_num_vectors(const struct cvmm_virtio_pci *t);
/** The INTx eventfd (a KVM irqfd on the slot's legacy GSI). @return the fd. */
int cvmm_virtio_pci_intx_fd(const struct cvmm_virtio_pci *t);
/**
 * The INTx resample eventfd: give it to KVM as the irqfd's resamplefd
 * (KVM_IRQFD_FLAG_RESAMPLE) and INTx is a level, as PCI's is: the transport
 * (on the event manager of its options) asserts the line again after the
 * guest's EOI while the ISR holds a bit the driver has not read, so a line
 * can be shared by several functions. Without it the line is a pulse per
 * interrupt. @return the fd.
 */
int cvmm_virtio_pci_intx_resample_fd(const struct cvmm_virtio_pci *t);

/** The vectors the driver chose: config, and queue @q's.
 * CVMM_VIRTIO_PCI_NO_VECTOR when none (or @q out of range). Thread-safe. */
uint16_t cvmm_virtio_pci_config_vector(struct cvmm_virtio_pci *t);
uint16_t cvmm_virtio_pci_queue_vector(struct cvmm_virtio_pci *t, unsigned int q);

/* State ------------------------------------------------------------------- */

#define CVMM_VIRTIO_PCI_STATE_VERSION 1u

/** Everything: the core's state, configuration space, MSI-X, vectors. */
struct cvmm_virtio_pci_state {
	uint32_t version;                 /* CVMM_VIRTIO_PCI_STATE_VERSION */
	uint32_t num_vectors;
	uint16_t config_vector;
	uint16_t queue_vector[CVMM_VIRTIO_MAX_QUEUES];
	uint8_t rsvd[6];
	struct cvmm_virtio_transport_state core;
	struct cvmm_pci_msix_state msix;
	struct cvmm_pci_config_state cfg;
};

/**
 * Save (see cvmm_virtio_transport_save()).
 * @return bytes of device state written; -EINVAL; errors of the core's save.
 * Thread safety: the loop thread or the loop stopped; vCPUs paused.
 */
int cvmm_virtio_pci_save(struct cvmm_virtio_pci *t, struct cvmm_virtio_pci_state *s,
			 void *dev_buf, size_t dev_len);

/**
 * Restore into a fresh transport: checks version, num_vectors, each vector
 * (NO_VECTOR or below num_vectors; NO_VECTOR for queues the device lacks),
 * then the configuration space, MSI-X and the core (each names its refused
 * field: "queue_vector[2]: 0x9, the table has 3 vectors", "bytes[0x002]
 * (device_id): ...", "msix entries[1].ctrl: ...", "regs[1]: ...").
 * On refusal the transport is unchanged. Afterwards call
 * cvmm_pci_segment_update() so the BARs are mapped where the state says.
 * @return 0; -EINVAL; -EBUSY (not fresh); errors of the core's restore.
 * Thread safety: as save.
 */
int cvmm_virtio_pci_restore(struct cvmm_virtio_pci *t, const struct cvmm_virtio_pci_state *s,
			    const void *dev_buf, size_t dev_len, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VIRTIO_DEVICES_PCI_H */
