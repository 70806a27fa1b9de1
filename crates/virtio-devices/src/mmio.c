/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-mmio version 2: a register map over the transport core
 * (transport.c). What is virtio-mmio's own: the register offsets, the rule
 * that registers take only aligned 4-byte accesses, the config space
 * window at 0x100, and one interrupt line for everything (every queue and
 * the config change share one irq eventfd; InterruptStatus tells them
 * apart), including used_irq_direct's always-set used bit.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cvmm/virtio-devices.h>

#include "internal.h"

struct cvmm_virtio_mmio {
	struct cvmm_virtio_transport *core;
	struct cvmm_virtio_interrupt irq;
	int irq_fd;
	uint32_t isr_always;        /* CVMM_VIRTIO_ISR_USED with used_irq_direct */
};

/* ------------------------------------------------------------------------ */
/* The interrupt: one line, ISR bits                                         */
/* ------------------------------------------------------------------------ */

static void vmmio_trigger(struct cvmm_virtio_interrupt *irq,
			  enum cvmm_virtio_irq_type type, unsigned int queue)
{
	struct cvmm_virtio_mmio *t = CVMM_CONTAINER_OF(irq, struct cvmm_virtio_mmio, irq);
	int r;

	(void)queue;
	cvmm_virtio_transport_isr_raise(t->core, type == CVMM_VIRTIO_IRQ_QUEUE
							 ? CVMM_VIRTIO_ISR_USED
							 : CVMM_VIRTIO_ISR_CONFIG);
	r = cvmm_eventfd_write(t->irq_fd, 1);
	if (r < 0)
		CVMM_LOG(CVMM_LOG_WARN, VD_CRATE, "irq eventfd write: %d", r);
}

static int vmmio_notifier_fd(struct cvmm_virtio_interrupt *irq,
			     enum cvmm_virtio_irq_type type, unsigned int queue)
{
	struct cvmm_virtio_mmio *t = CVMM_CONTAINER_OF(irq, struct cvmm_virtio_mmio, irq);

	if (type == CVMM_VIRTIO_IRQ_QUEUE &&
	    queue >= cvmm_virtio_transport_device(t->core)->num_queues)
		return -EINVAL;
	return t->irq_fd;
}

static const struct cvmm_virtio_interrupt_ops vmmio_irq_ops = {
	.trigger = vmmio_trigger,
	.notifier_fd = vmmio_notifier_fd,
};

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                  */
/* ------------------------------------------------------------------------ */

int cvmm_virtio_mmio_create(const struct cvmm_virtio_mmio_opts *o,
			    struct cvmm_virtio_mmio **out)
{
	struct cvmm_virtio_transport_opts co = { .sz = sizeof(co) };
	struct cvmm_virtio_mmio *t;
	int r;

	if (!o || !out || o->sz < offsetof(struct cvmm_virtio_mmio_opts, used_irq_direct) ||
	    !o->dev || !o->mem || !o->em)
		return -EINVAL;
	/* The config space window ends with the device's MMIO range. */
	if (o->dev->config_size > CVMM_VIRTIO_MMIO_SIZE - CVMM_VIRTIO_MMIO_CONFIG)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (o->sz >= offsetof(struct cvmm_virtio_mmio_opts, used_irq_direct) +
			     sizeof(o->used_irq_direct) && o->used_irq_direct)
		t->isr_always = CVMM_VIRTIO_ISR_USED;
	t->irq.ops = &vmmio_irq_ops;
	r = t->irq_fd = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	if (r < 0)
		goto fail;
	co.dev = o->dev;
	co.mem = o->mem;
	co.em = o->em;
	co.irq = &t->irq;
	r = cvmm_virtio_transport_create(&co, &t->core);
	if (r < 0)
		goto fail;
	*out = t;
	return 0;
fail:
	cvmm_close(t->irq_fd);
	free(t);
	return r;
}

void cvmm_virtio_mmio_destroy(struct cvmm_virtio_mmio *t)
{
	if (!t)
		return;
	/* The device may still signal while it is reset: the irq fd last. */
	cvmm_virtio_transport_destroy(t->core);
	cvmm_close(t->irq_fd);
	free(t);
}

struct cvmm_virtio_transport *cvmm_virtio_mmio_transport(const struct cvmm_virtio_mmio *t)
{
	return t ? t->core : NULL;
}

int cvmm_virtio_mmio_notify_fd(const struct cvmm_virtio_mmio *t, unsigned int q)
{
	return t ? cvmm_virtio_transport_notify_fd(t->core, q) : -EINVAL;
}

int cvmm_virtio_mmio_irq_fd(const struct cvmm_virtio_mmio *t)
{
	return t ? t->irq_fd : -EINVAL;
}

uint32_t cvmm_virtio_mmio_status(struct cvmm_virtio_mmio *t)
{
	return cvmm_virtio_transport_status(t->core);
}

bool cvmm_virtio_mmio_settled(struct cvmm_virtio_mmio *t)
{
	return cvmm_virtio_transport_settled(t->core);
}

/* ------------------------------------------------------------------------ */
/* Registers (vCPU thread)                                                   */
/* ------------------------------------------------------------------------ */

/* The common register behind a virtio-mmio offset; -1: none. */
static int common_reg(uint32_t off, bool is_write)
{
	switch (off) {
	case CVMM_VIRTIO_MMIO_DEVICE_ID:
		return is_write ? -1 : CVMM_VIRTIO_REG_DEVICE_ID;
	case CVMM_VIRTIO_MMIO_DEVICE_FEATURES:
		return is_write ? -1 : CVMM_VIRTIO_REG_DEVICE_FEATURES;
	case CVMM_VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		return is_write ? CVMM_VIRTIO_REG_DEVICE_FEATURES_SEL : -1;
	case CVMM_VIRTIO_MMIO_DRIVER_FEATURES:
		return is_write ? CVMM_VIRTIO_REG_DRIVER_FEATURES : -1;
	case CVMM_VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		return is_write ? CVMM_VIRTIO_REG_DRIVER_FEATURES_SEL : -1;
	case CVMM_VIRTIO_MMIO_QUEUE_SEL:
		return is_write ? CVMM_VIRTIO_REG_QUEUE_SEL : -1;
	case CVMM_VIRTIO_MMIO_QUEUE_NUM_MAX:
		return is_write ? -1 : CVMM_VIRTIO_REG_QUEUE_NUM_MAX;
	case CVMM_VIRTIO_MMIO_QUEUE_NUM:
		return CVMM_VIRTIO_REG_QUEUE_NUM;
	case CVMM_VIRTIO_MMIO_QUEUE_READY:
		return CVMM_VIRTIO_REG_QUEUE_READY;
	case CVMM_VIRTIO_MMIO_STATUS:
		return CVMM_VIRTIO_REG_STATUS;
	case CVMM_VIRTIO_MMIO_QUEUE_DESC_LOW:
		return CVMM_VIRTIO_REG_QUEUE_DESC_LOW;
	case CVMM_VIRTIO_MMIO_QUEUE_DESC_HIGH:
		return CVMM_VIRTIO_REG_QUEUE_DESC_HIGH;
	case CVMM_VIRTIO_MMIO_QUEUE_DRIVER_LOW:
		return CVMM_VIRTIO_REG_QUEUE_DRIVER_LOW;
	case CVMM_VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		return CVMM_VIRTIO_REG_QUEUE_DRIVER_HIGH;
	case CVMM_VIRTIO_MMIO_QUEUE_DEVICE_LOW:
		return CVMM_VIRTIO_REG_QUEUE_DEVICE_LOW;
	case CVMM_VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		return CVMM_VIRTIO_REG_QUEUE_DEVICE_HIGH;
	case CVMM_VIRTIO_MMIO_CONFIG_GENERATION:
		return is_write ? -1 : CVMM_VIRTIO_REG_CONFIG_GENERATION;
	default:
		return -1;
	}
}

static uint32_t read_reg(struct cvmm_virtio_mmio *t, uint32_t off)
{
	int reg;

	switch (off) {
	case CVMM_VIRTIO_MMIO_MAGIC:
		return CVMM_VIRTIO_MMIO_MAGIC_VALUE;
	case CVMM_VIRTIO_MMIO_VERSION:
		return 2;
	case CVMM_VIRTIO_MMIO_VENDOR_ID:
		return CVMM_VIRTIO_MMIO_VENDOR_VALUE;
	case CVMM_VIRTIO_MMIO_INTERRUPT_STATUS:
		return cvmm_virtio_transport_isr(t->core) | t->isr_always;
	case CVMM_VIRTIO_MMIO_SHM_LEN_LOW:
	case CVMM_VIRTIO_MMIO_SHM_LEN_HIGH:
	case CVMM_VIRTIO_MMIO_SHM_BASE_LOW:
	case CVMM_VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffffu; /* no shared memory regions */
	}
	reg = common_reg(off, false);
	return reg < 0 ? 0 : cvmm_virtio_transport_reg_read(t->core, (enum cvmm_virtio_reg)reg);
}

static void write_reg(struct cvmm_virtio_mmio *t, uint32_t off, uint32_t val)
{
	int reg;

	switch (off) {
	case CVMM_VIRTIO_MMIO_QUEUE_NOTIFY:
		cvmm_virtio_transport_notify(t->core, val);
		return;
	case CVMM_VIRTIO_MMIO_INTERRUPT_ACK:
		cvmm_virtio_transport_isr_ack(t->core, val);
		return;
	}
	/* SHMSel, read-only and unknown registers: ignored. */
	reg = common_reg(off, true);
	if (reg >= 0)
		cvmm_virtio_transport_reg_write(t->core, (enum cvmm_virtio_reg)reg, val);
}

int cvmm_virtio_mmio_access(struct cvmm_virtio_mmio *t, uint64_t offset,
			    void *data, unsigned int len, bool is_write)
{
	uint32_t v = 0;

	if (!t || !data || (len != 1 && len != 2 && len != 4 && len != 8))
		return -EINVAL;
	if (offset >= CVMM_VIRTIO_MMIO_CONFIG)
		return cvmm_virtio_transport_config_access(t->core,
							   offset - CVMM_VIRTIO_MMIO_CONFIG,
							   data, len, is_write);
	if (len != 4 || (offset & 3)) {
		if (!is_write)
			memset(data, 0, len);
		return 0;
	}
	if (is_write) {
		memcpy(&v, data, 4);
		write_reg(t, (uint32_t)offset, v);
	} else {
		v = read_reg(t, (uint32_t)offset);
		memcpy(data, &v, 4);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Save / restore                                                            */
/* ------------------------------------------------------------------------ */

int cvmm_virtio_mmio_save(struct cvmm_virtio_mmio *t,
			  struct cvmm_virtio_transport_state *s, void *dev_buf,
			  size_t dev_len)
{
	int n;

	if (!t || !s)
		return -EINVAL;
	n = cvmm_virtio_transport_save(t->core, s, dev_buf, dev_len);
	/* As the guest reads it: a transport restored without the option
	 * still shows the used bit an interrupt may be pending for. */
	if (n >= 0)
		s->isr |= t->isr_always;
	return n;
}

int cvmm_virtio_mmio_restore(struct cvmm_virtio_mmio *t,
			     const struct cvmm_virtio_transport_state *s,
			     const void *dev_buf, size_t dev_len, char *err,
			     size_t errlen)
{
	if (!t)
		return -EINVAL;
	return cvmm_virtio_transport_restore(t->core, s, dev_buf, dev_len, err, errlen);
}
