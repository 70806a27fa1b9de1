/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-pci (modern, virtio 1.2 4.1): a register map over the transport
 * core (transport.c). What is PCI's own lives here: the configuration
 * space and its virtio capabilities (pci crate), BAR 0's layout (common,
 * ISR, device, notify, MSI-X table and PBA), the MSI-X vector of config
 * and of each queue, an eventfd per vector, INTx when MSI-X is off (level
 * semantics through KVM's resample eventfd), and the VIRTIO_PCI_CAP_PCI_CFG
 * window.
 *
 * Locks: the core's (registers), this file's vec_lock (the vector
 * numbers; read by the device thread in trigger), the MSI-X object's.
 * Configuration-space hooks run under the PCI segment's lock and may take
 * the others; nothing here takes the segment's lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <cvmm/virtio-devices/pci.h>

#include "internal.h"

#define NO_VECTOR CVMM_VIRTIO_PCI_NO_VECTOR
#define PCICFG_DATA 16u   /* pci_cfg_data within the PCI_CFG capability */

struct cvmm_virtio_pci {
	struct cvmm_virtio_transport *core;
	struct cvmm_virtio_interrupt irq;
	struct cvmm_virtio_device *dev;
	struct cvmm_pci_config *cfg;
	struct cvmm_pci_msix *msix;
	unsigned int nvec;
	int vec_fd[CVMM_VIRTIO_MAX_QUEUES + 1];
	int intx_fd;
	int resample_fd;            /* KVM: the guest EOIed the INTx line */
	struct cvmm_event_manager *em;
	pthread_mutex_t vec_lock;
	uint16_t config_vector;
	uint16_t queue_vector[CVMM_VIRTIO_MAX_QUEUES];
	uint32_t pcicfg_cap;
	uint32_t isr_always;        /* CVMM_VIRTIO_ISR_USED with used_irq_direct */
	void (*msix_update)(void *opaque, unsigned int vector,
			    const struct cvmm_pci_msi_msg *msg, bool usable);
	void *opaque;
};

/* ------------------------------------------------------------------------ */
/* Interrupts                                                                */
/* ------------------------------------------------------------------------ */

static uint16_t vector_of(struct cvmm_virtio_pci *t, enum cvmm_virtio_irq_type type,
			  unsigned int queue)
{
	uint16_t v;

	pthread_mutex_lock(&t->vec_lock);
	v = type == CVMM_VIRTIO_IRQ_CONFIG ? t->config_vector : t->queue_vector[queue];
	pthread_mutex_unlock(&t->vec_lock);
	return v;
}

static void intx(struct cvmm_virtio_pci *t, uint32_t isr)
{
	int r;

	cvmm_virtio_transport_isr_raise(t->core, isr);
	r = cvmm_eventfd_write(t->intx_fd, 1);
	if (r < 0)
		CVMM_LOG(CVMM_LOG_WARN, VD_CRATE, "virtio-pci INTx eventfd write: %d", r);
}

/*
 * INTx is a level: KVM holds the line from the irqfd write until the
 * guest's EOI, then drops it and signals here. While the ISR still has a
 * bit the driver has not read, the level is still up: assert again, or a
 * completion raised between the driver's ISR read and its EOI would be
 * lost (and on a line shared by several slots, so would another device's).
 * A vhost-user backend writes the irqfd without the ISR; nothing to redo.
 */
static void intx_resample(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct cvmm_virtio_pci *t = opaque;
	uint64_t v;

	(void)em;
	(void)events;
	if (cvmm_eventfd_read(fd, &v) < 0)
		return;
	if (!cvmm_pci_msix_enable_bit(t->msix) && cvmm_virtio_transport_isr(t->core))
		(void)cvmm_eventfd_write(t->intx_fd, 1);
}

static void vpci_trigger(struct cvmm_virtio_interrupt *irq, enum cvmm_virtio_irq_type type,
			 unsigned int queue)
{
	struct cvmm_virtio_pci *t = CVMM_CONTAINER_OF(irq, struct cvmm_virtio_pci, irq);
	uint32_t isr = type == CVMM_VIRTIO_IRQ_QUEUE ? CVMM_VIRTIO_ISR_USED
						     : CVMM_VIRTIO_ISR_CONFIG;
	uint16_t v;

	if (type == CVMM_VIRTIO_IRQ_QUEUE && queue >= t->dev->num_queues)
		return;
	/* The config bit is set with MSI-X too (virtio 1.2, 4.1.5.3). */
	if (type == CVMM_VIRTIO_IRQ_CONFIG)
		cvmm_virtio_transport_isr_raise(t->core, CVMM_VIRTIO_ISR_CONFIG);
	if (!cvmm_pci_msix_enable_bit(t->msix)) {
		intx(t, isr);
		return;
	}
	v = vector_of(t, type, queue);
	if (v >= t->nvec)
		return;     /* NO_VECTOR: the driver wants no interrupt */
	if (cvmm_pci_msix_signal(t->msix, v) == -ENOENT)
		intx(t, isr);   /* MSI-X turned off in between */
}

static int vpci_notifier_fd(struct cvmm_virtio_interrupt *irq, enum cvmm_virtio_irq_type type,
			    unsigned int queue)
{
	struct cvmm_virtio_pci *t = CVMM_CONTAINER_OF(irq, struct cvmm_virtio_pci, irq);
	uint16_t v;

	if (type == CVMM_VIRTIO_IRQ_QUEUE && queue >= t->dev->num_queues)
		return -EINVAL;
	if (!cvmm_pci_msix_enable_bit(t->msix))
		return t->intx_fd;
	v = vector_of(t, type, queue);
	return v < t->nvec ? t->vec_fd[v] : -ENOENT;
}

static const struct cvmm_virtio_interrupt_ops vpci_irq_ops = {
	.trigger = vpci_trigger,
	.notifier_fd = vpci_notifier_fd,
};

static void msix_update(void *opaque, unsigned int vector, const struct cvmm_pci_msi_msg *msg,
			bool usable)
{
	struct cvmm_virtio_pci *t = opaque;

	if (t->msix_update)
		t->msix_update(t->opaque, vector, msg, usable);
}

static void msix_deliver(void *opaque, unsigned int vector, const struct cvmm_pci_msi_msg *msg)
{
	struct cvmm_virtio_pci *t = opaque;
	int r;

	(void)msg;
	r = cvmm_eventfd_write(t->vec_fd[vector], 1);
	if (r < 0)
		CVMM_LOG(CVMM_LOG_WARN, VD_CRATE, "virtio-pci vector %u eventfd write: %d",
			 vector, r);
}

static const struct cvmm_pci_msix_ops vpci_msix_ops = {
	.update = msix_update,
	.deliver = msix_deliver,
};

/* ------------------------------------------------------------------------ */
/* Common configuration                                                      */
/* ------------------------------------------------------------------------ */

struct common_field {
	uint8_t off, width;
	int reg;                 /* enum cvmm_virtio_reg; -1: PCI's own */
	bool ro;
};

static const struct common_field common_fields[] = {
	{ 0x00, 4, CVMM_VIRTIO_REG_DEVICE_FEATURES_SEL, false },
	{ 0x04, 4, CVMM_VIRTIO_REG_DEVICE_FEATURES, true },
	{ 0x08, 4, CVMM_VIRTIO_REG_DRIVER_FEATURES_SEL, false },
	{ 0x0c, 4, CVMM_VIRTIO_REG_DRIVER_FEATURES, false },
	{ 0x10, 2, -1, false },                                   /* config_msix_vector */
	{ 0x12, 2, CVMM_VIRTIO_REG_NUM_QUEUES, true },
	{ 0x14, 1, CVMM_VIRTIO_REG_STATUS, false },
	{ 0x15, 1, CVMM_VIRTIO_REG_CONFIG_GENERATION, true },
	{ 0x16, 2, CVMM_VIRTIO_REG_QUEUE_SEL, false },
	{ 0x18, 2, CVMM_VIRTIO_REG_QUEUE_NUM, false },
	{ 0x1a, 2, -1, false },                                   /* queue_msix_vector */
	{ 0x1c, 2, CVMM_VIRTIO_REG_QUEUE_READY, false },
	{ 0x1e, 2, -1, true },                                    /* queue_notify_off */
	{ 0x20, 4, CVMM_VIRTIO_REG_QUEUE_DESC_LOW, false },
	{ 0x24, 4, CVMM_VIRTIO_REG_QUEUE_DESC_HIGH, false },
	{ 0x28, 4, CVMM_VIRTIO_REG_QUEUE_DRIVER_LOW, false },
	{ 0x2c, 4, CVMM_VIRTIO_REG_QUEUE_DRIVER_HIGH, false },
	{ 0x30, 4, CVMM_VIRTIO_REG_QUEUE_DEVICE_LOW, false },
	{ 0x34, 4, CVMM_VIRTIO_REG_QUEUE_DEVICE_HIGH, false },
};

static const struct common_field *common_field(uint32_t off)
{
	size_t i;

	for (i = 0; i < sizeof(common_fields) / sizeof(common_fields[0]); i++)
		if (common_fields[i].off == off)
			return &common_fields[i];
	return NULL;
}

/* The queue selected in the core, or -1 when the device lacks it. */
static int selected_queue(struct cvmm_virtio_pci *t)
{
	uint32_t q = cvmm_virtio_transport_reg_read(t->core, CVMM_VIRTIO_REG_QUEUE_SEL);

	return q < t->dev->num_queues ? (int)q : -1;
}

static uint32_t common_read32(struct cvmm_virtio_pci *t, const struct common_field *f)
{
	int q;

	if (f->reg >= 0)
		return cvmm_virtio_transport_reg_read(t->core, (enum cvmm_virtio_reg)f->reg);
	switch (f->off) {
	case CVMM_VIRTIO_PCI_CONFIG_MSIX_VECTOR:
		return vector_of(t, CVMM_VIRTIO_IRQ_CONFIG, 0);
	case CVMM_VIRTIO_PCI_QUEUE_MSIX_VECTOR:
		q = selected_queue(t);
		return q < 0 ? NO_VECTOR : vector_of(t, CVMM_VIRTIO_IRQ_QUEUE, (unsigned int)q);
	default: /* queue_notify_off */
		q = selected_queue(t);
		return q < 0 ? 0 : (uint32_t)q;
	}
}

static void reset_vectors(struct cvmm_virtio_pci *t)
{
	unsigned int i;

	pthread_mutex_lock(&t->vec_lock);
	t->config_vector = NO_VECTOR;
	for (i = 0; i < CVMM_VIRTIO_MAX_QUEUES; i++)
		t->queue_vector[i] = NO_VECTOR;
	pthread_mutex_unlock(&t->vec_lock);
}

static void common_write32(struct cvmm_virtio_pci *t, const struct common_field *f,
			   uint32_t val)
{
	uint16_t v = (uint16_t)val;
	int q;

	if (f->ro)
		return;
	if (f->reg >= 0) {
		cvmm_virtio_transport_reg_write(t->core, (enum cvmm_virtio_reg)f->reg, val);
		/* A reset returns the vectors to NO_VECTOR (4.1.4.3). */
		if (f->reg == CVMM_VIRTIO_REG_STATUS && val == 0)
			reset_vectors(t);
		return;
	}
	/* A vector the table does not have reads back NO_VECTOR, which is how
	 * a driver learns the mapping failed. */
	if (v >= t->nvec)
		v = NO_VECTOR;
	pthread_mutex_lock(&t->vec_lock);
	if (f->off == CVMM_VIRTIO_PCI_CONFIG_MSIX_VECTOR) {
		t->config_vector = v;
	} else {
		q = selected_queue(t);
		if (q >= 0)
			t->queue_vector[q] = v;
	}
	pthread_mutex_unlock(&t->vec_lock);
}

static void common_access(struct cvmm_virtio_pci *t, uint32_t off, uint8_t *data,
			  unsigned int len, bool is_write)
{
	const struct common_field *f = common_field(off);
	uint64_t v = 0;

	/* A 64-bit field as one 8-byte access: its two halves. */
	if (len == 8 && f && f->width == 4 && off >= CVMM_VIRTIO_PCI_QUEUE_DESC && !(off & 7)) {
		const struct common_field *hi = common_field(off + 4);

		if (is_write) {
			memcpy(&v, data, 8);
			common_write32(t, f, (uint32_t)v);
			common_write32(t, hi, (uint32_t)(v >> 32));
		} else {
			v = common_read32(t, f) | (uint64_t)common_read32(t, hi) << 32;
			memcpy(data, &v, 8);
		}
		return;
	}
	if (!f || f->width != len) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (is_write) {
		memcpy(&v, data, len);
		common_write32(t, f, (uint32_t)v);
	} else {
		v = common_read32(t, f);
		memcpy(data, &v, len);
	}
}

/* ------------------------------------------------------------------------ */
/* BAR 0                                                                     */
/* ------------------------------------------------------------------------ */

int cvmm_virtio_pci_bar_access(struct cvmm_virtio_pci *t, uint64_t offset, void *data,
			       unsigned int len, bool is_write)
{
	uint8_t *d = data;
	uint64_t rel;
	int r;

	if (!t || !data || (len != 1 && len != 2 && len != 4 && len != 8))
		return -EINVAL;
	r = cvmm_pci_msix_bar_access(t->msix, CVMM_VIRTIO_PCI_BAR, offset, data, len, is_write);
	if (r != 0)
		return r < 0 ? r : 0;
	if (offset < CVMM_VIRTIO_PCI_COMMON_SIZE) {
		common_access(t, (uint32_t)offset, d, len, is_write);
		return 0;
	}
	if (offset == CVMM_VIRTIO_PCI_ISR_OFFSET && len == 1) {
		/* Reading clears (and would deassert a level INTx). */
		if (!is_write)
			d[0] = (uint8_t)(cvmm_virtio_transport_isr_take(t->core) | t->isr_always);
		return 0;
	}
	if (offset >= CVMM_VIRTIO_PCI_DEVICE_OFFSET &&
	    offset < CVMM_VIRTIO_PCI_DEVICE_OFFSET + 0x1000)
		return cvmm_virtio_transport_config_access(
			t->core, offset - CVMM_VIRTIO_PCI_DEVICE_OFFSET, data, len, is_write);
	if (offset >= CVMM_VIRTIO_PCI_NOTIFY_OFFSET &&
	    offset < CVMM_VIRTIO_PCI_NOTIFY_OFFSET +
			     (uint64_t)t->dev->num_queues * CVMM_VIRTIO_PCI_NOTIFY_MULTIPLIER) {
		/* Normally a KVM ioeventfd; the address names the queue. */
		rel = offset - CVMM_VIRTIO_PCI_NOTIFY_OFFSET;
		if (is_write)
			cvmm_virtio_transport_notify(t->core,
						     (uint32_t)(rel / CVMM_VIRTIO_PCI_NOTIFY_MULTIPLIER));
		else
			memset(data, 0, len);
		return 0;
	}
	if (!is_write)
		memset(data, 0, len);
	return 0;
}

/* The PCI_CFG window: the driver puts bar/offset/length in the capability
 * and accesses BAR 0 through pci_cfg_data. Runs under the segment lock. */
static void pcicfg_access(struct cvmm_virtio_pci *t, struct cvmm_pci_config *c, bool is_write)
{
	uint32_t cap = t->pcicfg_cap;
	uint8_t bar = cvmm_pci_config_get8(c, cap + 4);
	uint32_t off = cvmm_pci_config_get32(c, cap + 8);
	uint32_t len = cvmm_pci_config_get32(c, cap + 12);
	uint8_t buf[4] = { 0 };

	if (bar != CVMM_VIRTIO_PCI_BAR || (len != 1 && len != 2 && len != 4) || (off & (len - 1)) ||
	    off >= CVMM_VIRTIO_PCI_BAR_SIZE)
		return;
	if (is_write) {
		cvmm_pci_config_get(c, cap + PCICFG_DATA, buf, len);
		cvmm_virtio_pci_bar_access(t, off, buf, len, true);
	} else {
		cvmm_virtio_pci_bar_access(t, off, buf, len, false);
		cvmm_pci_config_set(c, cap + PCICFG_DATA, buf, 4);
	}
}

static void pcicfg_write(struct cvmm_pci_config *c, uint32_t off, unsigned int len, void *o)
{
	struct cvmm_virtio_pci *t = o;

	/* Only a write of the data field is an access. */
	if (off + len > t->pcicfg_cap + PCICFG_DATA)
		pcicfg_access(t, c, true);
}

static void pcicfg_read(struct cvmm_pci_config *c, uint32_t off, unsigned int len, void *o)
{
	struct cvmm_virtio_pci *t = o;

	if (off + len > t->pcicfg_cap + PCICFG_DATA)
		pcicfg_access(t, c, false);
}

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                  */
/* ------------------------------------------------------------------------ */

static uint32_t class_of(uint32_t device_id)
{
	switch (device_id) {
	case CVMM_VIRTIO_ID_NET: return 0x020000;      /* Ethernet */
	case CVMM_VIRTIO_ID_BLOCK: return 0x018000;    /* other mass storage */
	case CVMM_VIRTIO_ID_CONSOLE: return 0x078000;  /* other communication */
	default: return 0xff0000;
	}
}

/* A struct virtio_pci_cap (16 bytes) or virtio_pci_notify_cap (20). */
static int add_vcap(struct cvmm_pci_config *c, uint8_t type, uint32_t offset, uint32_t length,
		    size_t caplen, uint32_t extra)
{
	uint8_t b[20] = { 0 };

	b[2] = (uint8_t)caplen;
	b[3] = type;
	b[4] = CVMM_VIRTIO_PCI_BAR;
	memcpy(b + 8, &offset, 4);
	memcpy(b + 12, &length, 4);
	memcpy(b + 16, &extra, 4);
	return cvmm_pci_config_add_cap(c, CVMM_PCI_CAP_ID_VNDR, b, caplen);
}

static int build_config(struct cvmm_virtio_pci *t, const struct cvmm_virtio_pci_opts *o)
{
	struct cvmm_pci_config_opts co = {
		.sz = sizeof(co), .vendor_id = CVMM_VIRTIO_PCI_VENDOR_ID,
		.device_id = (uint16_t)(CVMM_VIRTIO_PCI_DEVICE_ID_BASE + o->dev->device_id),
		.revision_id = 1, .class_code = class_of(o->dev->device_id),
		.subsystem_vendor_id = CVMM_VIRTIO_PCI_VENDOR_ID, .subsystem_id = 0x40,
		.interrupt_pin = 1,
	};
	struct cvmm_pci_bar_opts bo = {
		.sz = sizeof(bo), .index = CVMM_VIRTIO_PCI_BAR,
		.type = o->bar_64bit ? CVMM_PCI_BAR_MEM64 : CVMM_PCI_BAR_MEM32,
		.size = CVMM_VIRTIO_PCI_BAR_SIZE,
	};
	struct cvmm_pci_msix_opts mo = {
		.sz = sizeof(mo), .num_vectors = t->nvec, .table_bar = CVMM_VIRTIO_PCI_BAR,
		.table_offset = CVMM_VIRTIO_PCI_MSIX_TABLE_OFFSET, .pba_bar = CVMM_VIRTIO_PCI_BAR,
		.pba_offset = CVMM_VIRTIO_PCI_MSIX_PBA_OFFSET, .ops = &vpci_msix_ops, .opaque = t,
	};
	static const uint8_t rw[16] = { [4] = 0xff, [8] = 0xff, [9] = 0xff, [10] = 0xff,
					[11] = 0xff, [12] = 0xff, [13] = 0xff, [14] = 0xff,
					[15] = 0xff };
	static const uint8_t rw_data[4] = { 0xff, 0xff, 0xff, 0xff };
	struct cvmm_pci_config_hook h = { 0 };
	int r;

	r = cvmm_pci_config_create(&co, &t->cfg);
	if (r < 0)
		return r;
	r = cvmm_pci_config_add_bar(t->cfg, &bo);
	if (r < 0)
		return r;
	r = add_vcap(t->cfg, CVMM_VIRTIO_PCI_CAP_COMMON_CFG, CVMM_VIRTIO_PCI_COMMON_OFFSET,
		     CVMM_VIRTIO_PCI_COMMON_SIZE, 16, 0);
	if (r >= 0)
		r = add_vcap(t->cfg, CVMM_VIRTIO_PCI_CAP_NOTIFY_CFG, CVMM_VIRTIO_PCI_NOTIFY_OFFSET,
			     o->dev->num_queues * CVMM_VIRTIO_PCI_NOTIFY_MULTIPLIER, 20,
			     CVMM_VIRTIO_PCI_NOTIFY_MULTIPLIER);
	if (r >= 0)
		r = add_vcap(t->cfg, CVMM_VIRTIO_PCI_CAP_ISR_CFG, CVMM_VIRTIO_PCI_ISR_OFFSET, 1,
			     16, 0);
	if (r >= 0 && o->dev->config_size)
		r = add_vcap(t->cfg, CVMM_VIRTIO_PCI_CAP_DEVICE_CFG, CVMM_VIRTIO_PCI_DEVICE_OFFSET,
			     o->dev->config_size, 16, 0);
	if (r >= 0)
		r = add_vcap(t->cfg, CVMM_VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 20, 0);
	if (r < 0)
		return r;
	/* The PCI_CFG window: bar, offset, length and data are the driver's. */
	t->pcicfg_cap = (uint32_t)r;
	r = cvmm_pci_config_set_masks(t->cfg, t->pcicfg_cap, rw, NULL, sizeof(rw));
	if (r >= 0)
		r = cvmm_pci_config_set_masks(t->cfg, t->pcicfg_cap + PCICFG_DATA, rw_data, NULL,
					      4);
	if (r < 0)
		return r;
	h.off = t->pcicfg_cap + PCICFG_DATA;
	h.len = 4;
	h.write = pcicfg_write;
	h.read = pcicfg_read;
	h.opaque = t;
	r = cvmm_pci_config_add_hook(t->cfg, &h);
	if (r < 0)
		return r;
	mo.cfg = t->cfg;
	return cvmm_pci_msix_create(&mo, &t->msix);
}

static void free_parts(struct cvmm_virtio_pci *t)
{
	unsigned int i;

	cvmm_pci_msix_destroy(t->msix);
	cvmm_pci_config_destroy(t->cfg);
	for (i = 0; i < t->nvec; i++)
		cvmm_close(t->vec_fd[i]);
	cvmm_close(t->intx_fd);
	cvmm_close(t->resample_fd);
	pthread_mutex_destroy(&t->vec_lock);
	free(t);
}

int cvmm_virtio_pci_create(const struct cvmm_virtio_pci_opts *o, struct cvmm_virtio_pci **out)
{
	struct cvmm_virtio_transport_opts co = { .sz = sizeof(co) };
	struct cvmm_virtio_pci *t;
	unsigned int i;
	int r;

	if (!o || !out || o->sz < sizeof(*o) || !o->dev || !o->mem || !o->em ||
	    o->dev->config_size > 0x1000 || !o->dev->num_queues ||
	    o->dev->num_queues > CVMM_VIRTIO_MAX_QUEUES)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->vec_lock, NULL);
	t->dev = o->dev;
	t->nvec = o->dev->num_queues + 1u;
	t->intx_fd = t->resample_fd = -1;
	t->em = o->em;
	for (i = 0; i < t->nvec; i++)
		t->vec_fd[i] = -1;
	t->msix_update = o->msix_update;
	t->opaque = o->opaque;
	t->isr_always = o->used_irq_direct ? CVMM_VIRTIO_ISR_USED : 0;
	t->irq.ops = &vpci_irq_ops;
	reset_vectors(t);
	r = t->intx_fd = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	if (r >= 0)
		r = t->resample_fd = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	for (i = 0; r >= 0 && i < t->nvec; i++)
		r = t->vec_fd[i] = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	if (r >= 0)
		r = build_config(t, o);
	if (r < 0)
		goto fail;
	co.dev = o->dev;
	co.mem = o->mem;
	co.em = o->em;
	co.irq = &t->irq;
	co.dma = o->dma;
	r = cvmm_virtio_transport_create(&co, &t->core);
	if (r < 0)
		goto fail;
	r = cvmm_event_manager_add(t->em, t->resample_fd, EPOLLIN, intx_resample, t);
	if (r < 0) {
		cvmm_virtio_transport_destroy(t->core);
		goto fail;
	}
	*out = t;
	return 0;
fail:
	free_parts(t);
	return r;
}

void cvmm_virtio_pci_destroy(struct cvmm_virtio_pci *t)
{
	if (!t)
		return;
	/* The device may still signal while it is reset: interrupts last. */
	cvmm_virtio_transport_destroy(t->core);
	cvmm_event_manager_remove(t->em, t->resample_fd);
	free_parts(t);
}

struct cvmm_pci_config *cvmm_virtio_pci_config(const struct cvmm_virtio_pci *t)
{
	return t ? t->cfg : NULL;
}

struct cvmm_pci_msix *cvmm_virtio_pci_msix(const struct cvmm_virtio_pci *t)
{
	return t ? t->msix : NULL;
}

struct cvmm_virtio_transport *cvmm_virtio_pci_transport(const struct cvmm_virtio_pci *t)
{
	return t ? t->core : NULL;
}

int64_t cvmm_virtio_pci_notify_offset(const struct cvmm_virtio_pci *t, unsigned int q)
{
	if (!t || q >= t->dev->num_queues)
		return -EINVAL;
	return CVMM_VIRTIO_PCI_NOTIFY_OFFSET + (int64_t)q * CVMM_VIRTIO_PCI_NOTIFY_MULTIPLIER;
}

int cvmm_virtio_pci_notify_fd(const struct cvmm_virtio_pci *t, unsigned int q)
{
	return t ? cvmm_virtio_transport_notify_fd(t->core, q) : -EINVAL;
}

int cvmm_virtio_pci_vector_fd(const struct cvmm_virtio_pci *t, unsigned int v)
{
	return t && v < t->nvec ? t->vec_fd[v] : -EINVAL;
}

unsigned int cvmm_virtio_pci_num_vectors(const struct cvmm_virtio_pci *t)
{
	return t ? t->nvec : 0;
}

int cvmm_virtio_pci_intx_fd(const struct cvmm_virtio_pci *t)
{
	return t ? t->intx_fd : -EINVAL;
}

int cvmm_virtio_pci_intx_resample_fd(const struct cvmm_virtio_pci *t)
{
	return t ? t->resample_fd : -EINVAL;
}

uint16_t cvmm_virtio_pci_config_vector(struct cvmm_virtio_pci *t)
{
	return t ? vector_of(t, CVMM_VIRTIO_IRQ_CONFIG, 0) : NO_VECTOR;
}

uint16_t cvmm_virtio_pci_queue_vector(struct cvmm_virtio_pci *t, unsigned int q)
{
	return t && q < t->dev->num_queues ? vector_of(t, CVMM_VIRTIO_IRQ_QUEUE, q) : NO_VECTOR;
}

/* ------------------------------------------------------------------------ */
/* State                                                                     */
/* ------------------------------------------------------------------------ */

int cvmm_virtio_pci_save(struct cvmm_virtio_pci *t, struct cvmm_virtio_pci_state *s,
			 void *dev_buf, size_t dev_len)
{
	unsigned int i;
	int n;

	if (!t || !s)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	n = cvmm_virtio_transport_save(t->core, &s->core, dev_buf, dev_len);
	if (n < 0)
		return n;
	s->version = CVMM_VIRTIO_PCI_STATE_VERSION;
	s->num_vectors = t->nvec;
	pthread_mutex_lock(&t->vec_lock);
	s->config_vector = t->config_vector;
	for (i = 0; i < CVMM_VIRTIO_MAX_QUEUES; i++)
		s->queue_vector[i] = t->queue_vector[i];
	pthread_mutex_unlock(&t->vec_lock);
	cvmm_pci_msix_save(t->msix, &s->msix);
	cvmm_pci_config_save(t->cfg, &s->cfg);
	return n;
}

static int refuse(char *err, size_t errlen, const char *fmt, ...) CVMM_PRINTF(3, 4);
static int refuse(char *err, size_t errlen, const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (err && errlen)
		snprintf(err, errlen, "%s", buf);
	CVMM_LOG(CVMM_LOG_WARN, VD_CRATE, "virtio-pci state refused: %s", buf);
	return -EINVAL;
}

int cvmm_virtio_pci_restore(struct cvmm_virtio_pci *t, const struct cvmm_virtio_pci_state *s,
			    const void *dev_buf, size_t dev_len, char *err, size_t errlen)
{
	struct cvmm_pci_config_state *old_cfg = NULL;
	struct cvmm_pci_msix_state old_msix;
	unsigned int i;
	int r;

	if (!t || !s)
		return refuse(err, errlen, "state: NULL");
	if (s->version != CVMM_VIRTIO_PCI_STATE_VERSION)
		return refuse(err, errlen, "version: %u, this build reads %u", s->version,
			      CVMM_VIRTIO_PCI_STATE_VERSION);
	if (s->num_vectors != t->nvec)
		return refuse(err, errlen, "num_vectors: %u in the state, %u here",
			      s->num_vectors, t->nvec);
	if (s->config_vector != NO_VECTOR && s->config_vector >= t->nvec)
		return refuse(err, errlen, "config_vector: 0x%x, the table has %u vectors",
			      s->config_vector, t->nvec);
	for (i = 0; i < CVMM_VIRTIO_MAX_QUEUES; i++) {
		uint16_t v = s->queue_vector[i];

		if (v == NO_VECTOR)
			continue;
		if (i >= t->dev->num_queues)
			return refuse(err, errlen, "queue_vector[%u]: set, the device has %u queues",
				      i, t->dev->num_queues);
		if (v >= t->nvec)
			return refuse(err, errlen, "queue_vector[%u]: 0x%x, the table has %u vectors",
				      i, v, t->nvec);
	}
	old_cfg = malloc(sizeof(*old_cfg));
	if (!old_cfg)
		return -ENOMEM;
	cvmm_pci_config_save(t->cfg, old_cfg);
	cvmm_pci_msix_save(t->msix, &old_msix);
	r = cvmm_pci_config_restore(t->cfg, &s->cfg, err, errlen);
	if (r < 0)
		goto out;
	r = cvmm_pci_msix_restore(t->msix, &s->msix, err, errlen);
	if (r < 0) {
		cvmm_pci_config_restore(t->cfg, old_cfg, NULL, 0);
		goto out;
	}
	/* Vectors before the core: activation may signal at once. */
	pthread_mutex_lock(&t->vec_lock);
	t->config_vector = s->config_vector;
	for (i = 0; i < CVMM_VIRTIO_MAX_QUEUES; i++)
		t->queue_vector[i] = s->queue_vector[i];
	pthread_mutex_unlock(&t->vec_lock);
	r = cvmm_virtio_transport_restore(t->core, &s->core, dev_buf, dev_len, err, errlen);
	if (r < 0) {
		reset_vectors(t);
		cvmm_pci_config_restore(t->cfg, old_cfg, NULL, 0);
		cvmm_pci_msix_restore(t->msix, &old_msix, NULL, 0);
	}
out:
	free(old_cfg);
	return r;
}
