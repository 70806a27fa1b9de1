/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small virtio-mmio (version 2) driver for test guests, at CPL3: find a
 * device by id in the VMM's slots, negotiate features, set up split queues
 * in guest memory, put descriptor chains on them and poll the used ring.
 * No interrupts: the guests poll, which at CPL3 runs at native speed.
 *
 * The rings and everything a queue points at are plain guest memory, so a
 * hostile guest can also write any descriptor it likes (vq_desc()).
 */
#ifndef CVMM_GUEST_VIRTIO_H
#define CVMM_GUEST_VIRTIO_H

#include "guest.h"

/* Where cvmm-microvm puts its devices (include/cvmm/vmm/config.h). */
#define VIRTIO_MMIO_BASE 0xd0000000ull
#define VIRTIO_MMIO_STRIDE 0x1000ull
#define VIRTIO_MMIO_SLOTS 18u

/* Registers (virtio 1.2, 4.2.2). */
#define VIRTIO_MMIO_MAGIC 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MMIO_MAGIC_VALUE 0x74726976u

#define VIRTIO_S_ACKNOWLEDGE 0x01u
#define VIRTIO_S_DRIVER 0x02u
#define VIRTIO_S_DRIVER_OK 0x04u
#define VIRTIO_S_FEATURES_OK 0x08u
#define VIRTIO_S_NEEDS_RESET 0x40u
#define VIRTIO_S_FAILED 0x80u

#define VIRTIO_F_VERSION_1 (1ull << 32)

#define VIRTIO_ID_NET 1u
#define VIRTIO_ID_BLOCK 2u
#define VIRTIO_ID_CONSOLE 3u
#define VIRTIO_ID_RNG 4u

#define VRING_DESC_F_NEXT 1u
#define VRING_DESC_F_WRITE 2u

/* Queue size the library uses (the rings fit one page each). */
#define VQ_SIZE 64u

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[VQ_SIZE];
	uint16_t used_event;
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[VQ_SIZE];
	uint16_t avail_event;
};

struct vq {
	struct virtio_dev *dev;
	unsigned int index;
	uint16_t size;
	struct vring_desc *desc;
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
	uint16_t avail_idx;      /* next avail index the driver publishes */
	uint16_t last_used;      /* used entries consumed so far */
	uint16_t next_free;      /* descriptors are handed out round robin */
	uint64_t notify_at;      /* virtio-pci: the queue's notify address; 0 on mmio */
};

struct virtio_dev {
	uint64_t base;
	uint32_t device_id;
	uint64_t features;       /* negotiated */
	/* virtio-pci (virtio_find_pci): the capabilities' addresses in BAR 0;
	 * common == 0 means virtio-mmio at @base. */
	uint64_t common, notify, isr, devcfg;
	uint32_t notify_mult;
	unsigned int slot;       /* virtio-pci: the function's slot on bus 0 */
	uint32_t msix_cap;       /* virtio-pci: MSI-X capability offset; 0 without */
	uint64_t msix_table;     /* virtio-pci: the MSI-X table's address in BAR 0 */
};

/* One buffer of a chain: device-readable unless @writable. */
struct vbuf {
	uint64_t addr;
	uint32_t len;
	bool writable;
};

/* Register access in virtio-mmio offsets; on virtio-pci the library
 * translates them to the common configuration, ISR and notify structures
 * (virtio 1.2, 4.1.4), so the drivers are the same on both. */
uint32_t virtio_read(const struct virtio_dev *d, uint32_t reg);
void virtio_write(const struct virtio_dev *d, uint32_t reg, uint32_t v);

static inline uint32_t virtio_status(const struct virtio_dev *d)
{
	return virtio_read(d, VIRTIO_MMIO_STATUS);
}

/*
 * Find the @nth (0-based) device with @device_id in the slots.
 * @return 0 and *@d; -1 when there is no such device.
 */
int virtio_find(uint32_t device_id, unsigned int nth, struct virtio_dev *d);
/*
 * The same on PCI bus 0 (0xCF8/0xCFC): the @nth function with the modern
 * virtio device id, its BAR 0 placed at @bar_window + slot * 64 KiB (a
 * window of the VMM's PCI segment), memory decoding and bus mastering on,
 * the virtio capabilities found. Interrupts stay INTx (MSI-X off); the
 * drivers poll. @return 0; -1 (no such function, a capability missing).
 */
int virtio_find_pci(uint32_t device_id, unsigned int nth, uint64_t bar_window,
		    struct virtio_dev *d);

/*
 * virtio-pci: enable MSI-X on the function and point table entry @entry
 * at @vector on the local APIC @apic_id, unmasked (fixed delivery, edge).
 * @return 0; -1 without MSI-X or with @entry past the table.
 */
int virtio_pci_msix_entry(struct virtio_dev *d, unsigned int entry, unsigned int vector,
			  uint32_t apic_id);

/* virtio-pci: give queue @q (or the configuration, @q = -1) MSI-X table
 * entry @entry. @return 0; -1 when the device did not take it. */
int virtio_pci_msix_vector(struct virtio_dev *d, int q, uint16_t entry);

/* Bytes of config space at @off (1, 2, 4 or 8 wide reads). */
uint64_t virtio_config_read(const struct virtio_dev *d, uint32_t off, unsigned int width);

/*
 * Reset (wait for Status to read 0), ACKNOWLEDGE|DRIVER, accept
 * VERSION_1 plus @wanted & offered, FEATURES_OK. @return 0; -1 when the
 * device refused FEATURES_OK or a reset did not finish.
 */
int virtio_init(struct virtio_dev *d, uint64_t wanted);

/* Write 0 to Status and wait until it reads 0. @return 0; -1 on timeout. */
int virtio_reset(struct virtio_dev *d);

/* Program queue @index (size VQ_SIZE, rings from the library's pool) and
 * enable it. @return 0; -1 (queue absent or too small). */
int vq_setup(struct virtio_dev *d, unsigned int index, struct vq *vq);

/* Set DRIVER_OK. */
void virtio_driver_ok(struct virtio_dev *d);

/* A page-aligned, zeroed block of @size bytes from a bump allocator over
 * the guest's bss; never freed. NULL when the pool is used up. */
void *virtio_alloc(uint64_t size);

/* Put the chain @b[0..@n) on the queue and notify. @return the head. */
uint16_t vq_submit(struct vq *vq, const struct vbuf *b, unsigned int n);

/* Publish head @head without writing descriptors (for hand-made ones), notify. */
void vq_publish(struct vq *vq, uint16_t head);

/* The descriptor table, for hand-made (hostile) chains. */
static inline struct vring_desc *vq_desc(struct vq *vq) { return vq->desc; }

/*
 * Wait (polling) for the next used element, up to @spins polls.
 * @return 0 with *@id and *@len; -1 on timeout.
 */
int vq_wait(struct vq *vq, uint32_t *id, uint32_t *len, uint64_t spins);

/* Poll the Status register until @bits are all set. @return 0; -1 on timeout. */
int virtio_wait_status(struct virtio_dev *d, uint32_t bits, uint64_t spins);

/* Polls that amount to seconds at native speed: what the guests wait. */
#define VIRTIO_SPINS 200000000ull

#endif
