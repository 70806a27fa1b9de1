/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio transport core: what every transport (virtio-mmio, later
 * virtio-pci) shares. Register state lives under one mutex that is only
 * ever held for register bookkeeping; device work (activate, reset, queue
 * processing) runs on the event-manager loop, woken through a control
 * eventfd, so a vCPU never waits for I/O. Interrupts leave through the
 * transport's struct cvmm_virtio_interrupt, one trigger per queue or for
 * the config change.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <cvmm/virtio-devices.h>

#include "internal.h"

#define TRANSPORT_FEATURES                                                      \
	(CVMM_VIRTIO_F_VERSION_1 | CVMM_VIRTIO_F_EVENT_IDX |                    \
	 CVMM_VIRTIO_F_INDIRECT_DESC | CVMM_VIRTIO_F_RING_PACKED)

#define STATUS_KNOWN                                                            \
	(CVMM_VIRTIO_S_ACKNOWLEDGE | CVMM_VIRTIO_S_DRIVER |                     \
	 CVMM_VIRTIO_S_FEATURES_OK | CVMM_VIRTIO_S_DRIVER_OK |                  \
	 CVMM_VIRTIO_S_NEEDS_RESET | CVMM_VIRTIO_S_FAILED)

struct vt_qctx {
	struct cvmm_virtio_transport *t;
	unsigned int idx;
};

struct cvmm_virtio_transport {
	struct cvmm_virtio_device *dev;
	struct cvmm_guest_mem *mem;
	struct cvmm_event_manager *em;
	struct cvmm_virtio_interrupt *irq;
	uint64_t offered;
	const struct cvmm_dma_xlate *dma; /* behind an IOMMU, or NULL */
	unsigned int nq;

	pthread_mutex_t lock;
	/* registers: under lock */
	uint32_t status;
	uint32_t shown_status;      /* what Status reads while a reset is pending */
	uint32_t dev_features_sel;
	uint32_t drv_features_sel;
	uint32_t queue_sel;
	uint64_t driver_features;
	struct cvmm_virtio_queue_regs regs[CVMM_VIRTIO_MAX_QUEUES];
	bool reset_pending;         /* the device thread must reset the device */
	bool activate_pending;      /* the device thread must activate it */
	bool activating;            /* the device thread is inside activate() */
	bool dev_active;            /* written by the device thread, under lock */
	/* lock-free */
	uint32_t isr;               /* atomic */
	uint32_t config_generation; /* atomic */

	/* device thread */
	struct cvmm_virtq queues[CVMM_VIRTIO_MAX_QUEUES];
	struct vt_qctx qctx[CVMM_VIRTIO_MAX_QUEUES];
	int notify_fd[CVMM_VIRTIO_MAX_QUEUES];
	int ctl_fd;
};

/* ------------------------------------------------------------------------ */
/* Interrupts                                                                */
/* ------------------------------------------------------------------------ */

void cvmm_virtio_interrupt_trigger(struct cvmm_virtio_interrupt *irq,
				   enum cvmm_virtio_irq_type type, unsigned int queue)
{
	if (irq && irq->ops && irq->ops->trigger)
		irq->ops->trigger(irq, type, queue);
}

int cvmm_virtio_interrupt_notifier_fd(struct cvmm_virtio_interrupt *irq,
				      enum cvmm_virtio_irq_type type, unsigned int queue)
{
	if (!irq || !irq->ops || !irq->ops->notifier_fd)
		return -EINVAL;
	return irq->ops->notifier_fd(irq, type, queue);
}

/* ------------------------------------------------------------------------ */
/* Device -> transport                                                       */
/* ------------------------------------------------------------------------ */

static void vt_signal(struct cvmm_virtio_device *dev, enum cvmm_virtio_irq_type type,
		      unsigned int queue)
{
	struct cvmm_virtio_transport *t = dev->transport;

	if (type == CVMM_VIRTIO_IRQ_QUEUE) {
		if (queue >= t->nq) {
			CVMM_LOG(CVMM_LOG_WARN, VD_CRATE,
				 "device %u signalled queue %u of %u: ignored",
				 dev->device_id, queue, t->nq);
			return;
		}
	} else {
		/* The generation moves before the interrupt, so a driver
		 * that reads config space in its handler sees the new one. */
		__atomic_fetch_add(&t->config_generation, 1, __ATOMIC_SEQ_CST);
		queue = 0;
	}
	cvmm_virtio_interrupt_trigger(t->irq, type, queue);
}

static void vt_broken(struct cvmm_virtio_device *dev)
{
	struct cvmm_virtio_transport *t = dev->transport;
	bool raise = false;

	pthread_mutex_lock(&t->lock);
	if (t->status != 0 && !t->reset_pending &&
	    !(t->status & CVMM_VIRTIO_S_NEEDS_RESET)) {
		t->status |= CVMM_VIRTIO_S_NEEDS_RESET;
		raise = true;
	}
	pthread_mutex_unlock(&t->lock);
	if (raise) {
		CVMM_LOG(CVMM_LOG_WARN, VD_CRATE, "device %u needs reset",
			 dev->device_id);
		vt_signal(dev, CVMM_VIRTIO_IRQ_CONFIG, 0);
	}
}

void cvmm_virtio_device_signal_used(struct cvmm_virtio_device *dev, unsigned int queue)
{
	if (dev->signal)
		dev->signal(dev, CVMM_VIRTIO_IRQ_QUEUE, queue);
}

void cvmm_virtio_device_config_changed(struct cvmm_virtio_device *dev)
{
	if (dev->signal)
		dev->signal(dev, CVMM_VIRTIO_IRQ_CONFIG, 0);
}

void cvmm_virtio_device_set_needs_reset(struct cvmm_virtio_device *dev)
{
	if (dev->broken)
		dev->broken(dev);
}

/* ------------------------------------------------------------------------ */
/* Device thread                                                             */
/* ------------------------------------------------------------------------ */

static bool features_acceptable(const struct cvmm_virtio_transport *t, uint64_t f)
{
	/* Behind an IOMMU the driver must know that addresses are IOVAs
	 * (ACCESS_PLATFORM, virtio 1.2, 6.1); elsewhere it may not ask. */
	bool platform = (f & CVMM_VIRTIO_F_ACCESS_PLATFORM) != 0;

	return (f & CVMM_VIRTIO_F_VERSION_1) && platform == (t->dma != NULL) &&
	       (f & ~t->offered) == 0;
}

static bool queue_num_ok(const struct cvmm_virtio_transport *t, unsigned int q,
			 uint32_t num, uint64_t features)
{
	if (num == 0 || num > t->dev->queue_max_size[q])
		return false;
	return (features & CVMM_VIRTIO_F_RING_PACKED) || CVMM_IS_POW2(num);
}

static void queues_reset(struct cvmm_virtio_transport *t)
{
	for (unsigned int i = 0; i < t->nq; i++)
		cvmm_virtq_reset(&t->queues[i]);
}

/* Bring the queues the driver enabled live and activate the device. */
static int vt_activate(struct cvmm_virtio_transport *t, uint64_t features,
		       const struct cvmm_virtio_queue_regs *regs)
{
	int r;

	for (unsigned int i = 0; i < t->nq; i++) {
		struct cvmm_virtq *q = &t->queues[i];

		cvmm_virtq_reset(q);
		if (!regs[i].ready)
			continue;
		cvmm_virtq_set_size(q, regs[i].num);
		cvmm_virtq_set_addrs(q, regs[i].desc, regs[i].driver, regs[i].device);
		cvmm_virtq_set_features(q, features);
		r = cvmm_virtq_activate(q);
		if (r < 0) {
			CVMM_LOG(CVMM_LOG_WARN, VD_CRATE,
				 "device %u queue %u: rings at desc %#llx driver %#llx "
				 "device %#llx (size %u) refused: %d",
				 t->dev->device_id, i, (unsigned long long)regs[i].desc,
				 (unsigned long long)regs[i].driver,
				 (unsigned long long)regs[i].device, regs[i].num, r);
			queues_reset(t);
			return r;
		}
	}
	r = t->dev->ops->activate(t->dev, t->mem, t->queues, t->nq, features);
	if (r < 0) {
		CVMM_LOG(CVMM_LOG_WARN, VD_CRATE, "device %u activate: %d",
			 t->dev->device_id, r);
		queues_reset(t);
	}
	return r;
}

/* Catch up with the status changes the driver made. */
static void vt_control(struct cvmm_virtio_transport *t)
{
	struct cvmm_virtio_queue_regs regs[CVMM_VIRTIO_MAX_QUEUES];
	uint64_t features;
	bool was_active;
	int r;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		if (t->reset_pending) {
			was_active = t->dev_active;
			t->dev_active = false;
			pthread_mutex_unlock(&t->lock);
			if (was_active)
				t->dev->ops->reset(t->dev);
			queues_reset(t);
			pthread_mutex_lock(&t->lock);
			t->reset_pending = false;
			continue;
		}
		if (!t->activate_pending)
			break;
		t->activate_pending = false;
		/* Still "not settled" until activate() has returned; a reset
		 * written meanwhile is pending and undoes it on the next turn. */
		t->activating = true;
		features = t->driver_features;
		memcpy(regs, t->regs, sizeof(regs));
		pthread_mutex_unlock(&t->lock);
		r = vt_activate(t, features, regs);
		pthread_mutex_lock(&t->lock);
		t->activating = false;
		if (r == 0) {
			t->dev_active = true;
			/* A kick that raced ahead of the activation was dropped
			 * by notify_cb(): look at every queue once. */
			for (unsigned int i = 0; i < t->nq; i++)
				(void)cvmm_eventfd_write(t->notify_fd[i], 1);
		} else if (!t->reset_pending) {
			pthread_mutex_unlock(&t->lock);
			vt_broken(t->dev);
			pthread_mutex_lock(&t->lock);
		}
	}
	pthread_mutex_unlock(&t->lock);
}

static void ctl_cb(struct cvmm_event_manager *em, int fd, uint32_t events,
		   void *opaque)
{
	struct cvmm_virtio_transport *t = opaque;
	uint64_t v;

	(void)em;
	(void)events;
	(void)cvmm_eventfd_read(fd, &v);
	vt_control(t);
}

static void notify_cb(struct cvmm_event_manager *em, int fd, uint32_t events,
		      void *opaque)
{
	struct vt_qctx *qc = opaque;
	struct cvmm_virtio_transport *t = qc->t;
	uint64_t v;
	bool run;

	(void)em;
	(void)events;
	(void)cvmm_eventfd_read(fd, &v);
	pthread_mutex_lock(&t->lock);
	run = t->dev_active && !t->reset_pending &&
	      !(t->status & CVMM_VIRTIO_S_NEEDS_RESET);
	pthread_mutex_unlock(&t->lock);
	if (run)
		t->dev->ops->queue_event(t->dev, qc->idx);
}

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                  */
/* ------------------------------------------------------------------------ */

static void regs_init(struct cvmm_virtio_transport *t)
{
	t->status = 0;
	t->dev_features_sel = 0;
	t->drv_features_sel = 0;
	t->queue_sel = 0;
	t->driver_features = 0;
	memset(t->regs, 0, sizeof(t->regs));
	for (unsigned int i = 0; i < t->nq; i++)
		t->regs[i].num = t->dev->queue_max_size[i];
	__atomic_store_n(&t->isr, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&t->dev->driver_features, 0, __ATOMIC_RELEASE);
}

static int check_device(const struct cvmm_virtio_device *d)
{
	if (!d->ops || !d->ops->config_read || !d->ops->activate ||
	    !d->ops->queue_event || !d->ops->reset)
		return -EINVAL;
	if (d->num_queues == 0 || d->num_queues > CVMM_VIRTIO_MAX_QUEUES)
		return -EINVAL;
	for (unsigned int i = 0; i < d->num_queues; i++)
		if (d->queue_max_size[i] == 0 || d->queue_max_size[i] > CVMM_VIRTQ_MAX_SIZE)
			return -EINVAL;
	return 0;
}

int cvmm_virtio_transport_create(const struct cvmm_virtio_transport_opts *o,
				 struct cvmm_virtio_transport **out)
{
	struct cvmm_virtio_transport *t;
	unsigned int i;
	int r;

	if (!o || !out || o->sz < offsetof(struct cvmm_virtio_transport_opts, irq) +
				   sizeof(o->irq) ||
	    !o->dev || !o->mem || !o->em || !o->irq || !o->irq->ops ||
	    !o->irq->ops->trigger || !o->irq->ops->notifier_fd)
		return -EINVAL;
	r = check_device(o->dev);
	if (r < 0)
		return r;
	if (o->dev->transport)
		return -EBUSY;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->dev = o->dev;
	t->mem = o->mem;
	t->em = o->em;
	t->irq = o->irq;
	t->nq = o->dev->num_queues;
	t->offered = (o->dev->features & ~CVMM_VIRTIO_F_ACCESS_PLATFORM) |
		     TRANSPORT_FEATURES;
	t->dma = o->dma;
	if (t->dma)
		t->offered |= CVMM_VIRTIO_F_ACCESS_PLATFORM;
	t->ctl_fd = -1;
	for (i = 0; i < CVMM_VIRTIO_MAX_QUEUES; i++)
		t->notify_fd[i] = -1;
	pthread_mutex_init(&t->lock, NULL);
	for (i = 0; i < t->nq; i++) {
		r = cvmm_virtq_init(&t->queues[i], t->mem, o->dev->queue_max_size[i]);
		if (r < 0)
			goto fail;
		cvmm_virtq_set_dma(&t->queues[i], t->dma);
	}
	regs_init(t);

	r = t->ctl_fd = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	if (r < 0)
		goto fail;
	for (i = 0; i < t->nq; i++) {
		r = t->notify_fd[i] = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
		if (r < 0)
			goto fail;
	}
	r = cvmm_event_manager_add(t->em, t->ctl_fd, EPOLLIN, ctl_cb, t);
	if (r < 0)
		goto fail;
	for (i = 0; i < t->nq; i++) {
		t->qctx[i].t = t;
		t->qctx[i].idx = i;
		r = cvmm_event_manager_add(t->em, t->notify_fd[i], EPOLLIN, notify_cb,
					   &t->qctx[i]);
		if (r < 0) {
			while (i-- > 0)
				cvmm_event_manager_remove(t->em, t->notify_fd[i]);
			cvmm_event_manager_remove(t->em, t->ctl_fd);
			goto fail;
		}
	}
	o->dev->transport = t;
	o->dev->signal = vt_signal;
	o->dev->broken = vt_broken;
	*out = t;
	return 0;
fail:
	for (i = 0; i < CVMM_VIRTIO_MAX_QUEUES; i++)
		cvmm_close(t->notify_fd[i]);
	cvmm_close(t->ctl_fd);
	for (i = 0; i < t->nq; i++)
		cvmm_virtq_fini(&t->queues[i]);
	pthread_mutex_destroy(&t->lock);
	free(t);
	return r;
}

void cvmm_virtio_transport_destroy(struct cvmm_virtio_transport *t)
{
	if (!t)
		return;
	if (t->dev_active)
		t->dev->ops->reset(t->dev);
	for (unsigned int i = 0; i < t->nq; i++) {
		cvmm_event_manager_remove(t->em, t->notify_fd[i]);
		cvmm_close(t->notify_fd[i]);
		cvmm_virtq_fini(&t->queues[i]);
	}
	cvmm_event_manager_remove(t->em, t->ctl_fd);
	cvmm_close(t->ctl_fd);
	t->dev->transport = NULL;
	t->dev->signal = NULL;
	t->dev->broken = NULL;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

struct cvmm_virtio_device *cvmm_virtio_transport_device(const struct cvmm_virtio_transport *t)
{
	return t ? t->dev : NULL;
}

struct cvmm_virtio_interrupt *cvmm_virtio_transport_interrupt(const struct cvmm_virtio_transport *t)
{
	return t ? t->irq : NULL;
}

uint64_t cvmm_virtio_transport_offered(const struct cvmm_virtio_transport *t)
{
	return t->offered;
}

int cvmm_virtio_transport_notify_fd(const struct cvmm_virtio_transport *t, unsigned int q)
{
	if (!t || q >= t->nq)
		return -EINVAL;
	return t->notify_fd[q];
}

void cvmm_virtio_transport_notify(struct cvmm_virtio_transport *t, uint32_t q)
{
	if (q < t->nq)
		(void)cvmm_eventfd_write(t->notify_fd[q], 1);
}

uint32_t cvmm_virtio_transport_status(struct cvmm_virtio_transport *t)
{
	uint32_t s;

	pthread_mutex_lock(&t->lock);
	s = t->reset_pending ? t->shown_status : t->status;
	pthread_mutex_unlock(&t->lock);
	return s;
}

bool cvmm_virtio_transport_settled(struct cvmm_virtio_transport *t)
{
	bool s;

	pthread_mutex_lock(&t->lock);
	s = !t->reset_pending && !t->activate_pending && !t->activating;
	pthread_mutex_unlock(&t->lock);
	return s;
}

int cvmm_virtio_transport_remap(struct cvmm_virtio_transport *t)
{
	int broken = 0;

	if (!t)
		return -EINVAL;
	for (unsigned int i = 0; i < t->nq; i++)
		if (cvmm_virtq_active(&t->queues[i]) && cvmm_virtq_remap(&t->queues[i]) < 0)
			broken++;
	return broken;
}

uint32_t cvmm_virtio_transport_isr(struct cvmm_virtio_transport *t)
{
	return __atomic_load_n(&t->isr, __ATOMIC_SEQ_CST);
}

void cvmm_virtio_transport_isr_raise(struct cvmm_virtio_transport *t, uint32_t bits)
{
	__atomic_fetch_or(&t->isr, bits, __ATOMIC_SEQ_CST);
}

void cvmm_virtio_transport_isr_ack(struct cvmm_virtio_transport *t, uint32_t bits)
{
	__atomic_fetch_and(&t->isr, ~bits, __ATOMIC_SEQ_CST);
}

uint32_t cvmm_virtio_transport_isr_take(struct cvmm_virtio_transport *t)
{
	return __atomic_exchange_n(&t->isr, 0, __ATOMIC_SEQ_CST);
}

int cvmm_virtio_transport_config_access(struct cvmm_virtio_transport *t, uint64_t offset,
					void *data, unsigned int len, bool is_write)
{
	if (!t || !data || len == 0 || len > 8)
		return -EINVAL;
	if (!cvmm_range_ok(offset, len, t->dev->config_size)) {
		if (!is_write)
			memset(data, 0, len);
		return 0;
	}
	if (!is_write)
		t->dev->ops->config_read(t->dev, (uint32_t)offset, data, len);
	else if (t->dev->ops->config_write)
		t->dev->ops->config_write(t->dev, (uint32_t)offset, data, len);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Registers (vCPU thread)                                                   */
/* ------------------------------------------------------------------------ */

static void kick_control(struct cvmm_virtio_transport *t)
{
	int r = cvmm_eventfd_write(t->ctl_fd, 1);

	if (r < 0)
		CVMM_LOG(CVMM_LOG_WARN, VD_CRATE, "control eventfd write: %d", r);
}

/* Called with the lock held. */
static void write_status(struct cvmm_virtio_transport *t, uint32_t val)
{
	uint32_t old, nw, added;

	if (val == 0) {
		/* A device the loop is activating right now counts as busy:
		 * the reset then follows the activation there. */
		bool busy = t->dev_active || t->activate_pending || t->activating ||
			    t->reset_pending;

		if (!t->reset_pending)
			t->shown_status = t->status;
		regs_init(t);
		t->activate_pending = false;
		if (busy) {
			t->reset_pending = true;
			kick_control(t);
		}
		return;
	}
	if (t->reset_pending)
		return;
	old = t->status & ~CVMM_VIRTIO_S_NEEDS_RESET;
	nw = val & STATUS_KNOWN & ~CVMM_VIRTIO_S_NEEDS_RESET;
	if ((nw & old) != old)
		return; /* a driver may not clear status bits (only reset) */
	added = nw & ~old;
	if ((added & CVMM_VIRTIO_S_DRIVER) && !(nw & CVMM_VIRTIO_S_ACKNOWLEDGE))
		nw &= ~CVMM_VIRTIO_S_DRIVER;
	if ((added & CVMM_VIRTIO_S_FEATURES_OK) &&
	    (!(nw & CVMM_VIRTIO_S_DRIVER) ||
	     !features_acceptable(t, t->driver_features))) {
		CVMM_LOG(CVMM_LOG_INFO, VD_CRATE, "FEATURES_OK refused (features %#llx)",
			 (unsigned long long)t->driver_features);
		nw &= ~CVMM_VIRTIO_S_FEATURES_OK;
	}
	if ((added & CVMM_VIRTIO_S_DRIVER_OK) && !(nw & CVMM_VIRTIO_S_FEATURES_OK))
		nw &= ~CVMM_VIRTIO_S_DRIVER_OK;
	if ((nw & CVMM_VIRTIO_S_FEATURES_OK) && !(old & CVMM_VIRTIO_S_FEATURES_OK))
		__atomic_store_n(&t->dev->driver_features, t->driver_features,
				 __ATOMIC_RELEASE);
	if ((nw & CVMM_VIRTIO_S_DRIVER_OK) && !(old & CVMM_VIRTIO_S_DRIVER_OK)) {
		t->activate_pending = true;
		kick_control(t);
	}
	t->status = nw | (t->status & CVMM_VIRTIO_S_NEEDS_RESET);
}

static struct cvmm_virtio_queue_regs *sel_queue(struct cvmm_virtio_transport *t)
{
	return t->queue_sel < t->nq ? &t->regs[t->queue_sel] : NULL;
}

/* Queue setup is writable between FEATURES_OK and DRIVER_OK. */
static bool queue_setup_open(const struct cvmm_virtio_transport *t)
{
	return !t->reset_pending && !(t->status & CVMM_VIRTIO_S_DRIVER_OK) &&
	       (t->status & CVMM_VIRTIO_S_FEATURES_OK);
}

/* ... and only while the selected queue is not ready. */
static struct cvmm_virtio_queue_regs *writable_queue(struct cvmm_virtio_transport *t)
{
	struct cvmm_virtio_queue_regs *q = sel_queue(t);

	if (!q || !queue_setup_open(t) || q->ready)
		return NULL;
	return q;
}

static void set_half(uint64_t *v, bool high, uint32_t val)
{
	if (high)
		*v = (*v & 0xffffffffull) | (uint64_t)val << 32;
	else
		*v = (*v & ~0xffffffffull) | val;
}

static uint32_t read_reg(struct cvmm_virtio_transport *t, enum cvmm_virtio_reg reg)
{
	struct cvmm_virtio_queue_regs *q = sel_queue(t);

	switch (reg) {
	case CVMM_VIRTIO_REG_DEVICE_FEATURES_SEL:
		return t->dev_features_sel;
	case CVMM_VIRTIO_REG_DEVICE_FEATURES:
		if (t->dev_features_sel > 1)
			return 0;
		return (uint32_t)(t->offered >> (32 * t->dev_features_sel));
	case CVMM_VIRTIO_REG_DRIVER_FEATURES_SEL:
		return t->drv_features_sel;
	case CVMM_VIRTIO_REG_DRIVER_FEATURES:
		if (t->drv_features_sel > 1)
			return 0;
		return (uint32_t)(t->driver_features >> (32 * t->drv_features_sel));
	case CVMM_VIRTIO_REG_QUEUE_SEL:
		return t->queue_sel;
	case CVMM_VIRTIO_REG_QUEUE_NUM_MAX:
		return q ? t->dev->queue_max_size[t->queue_sel] : 0;
	case CVMM_VIRTIO_REG_QUEUE_NUM:
		return q ? q->num : 0;
	case CVMM_VIRTIO_REG_QUEUE_READY:
		return q ? q->ready : 0;
	case CVMM_VIRTIO_REG_QUEUE_DESC_LOW:
		return q ? (uint32_t)q->desc : 0;
	case CVMM_VIRTIO_REG_QUEUE_DESC_HIGH:
		return q ? (uint32_t)(q->desc >> 32) : 0;
	case CVMM_VIRTIO_REG_QUEUE_DRIVER_LOW:
		return q ? (uint32_t)q->driver : 0;
	case CVMM_VIRTIO_REG_QUEUE_DRIVER_HIGH:
		return q ? (uint32_t)(q->driver >> 32) : 0;
	case CVMM_VIRTIO_REG_QUEUE_DEVICE_LOW:
		return q ? (uint32_t)q->device : 0;
	case CVMM_VIRTIO_REG_QUEUE_DEVICE_HIGH:
		return q ? (uint32_t)(q->device >> 32) : 0;
	case CVMM_VIRTIO_REG_STATUS:
		return t->reset_pending ? t->shown_status : t->status;
	case CVMM_VIRTIO_REG_CONFIG_GENERATION:
		return __atomic_load_n(&t->config_generation, __ATOMIC_SEQ_CST);
	case CVMM_VIRTIO_REG_NUM_QUEUES:
		return t->nq;
	case CVMM_VIRTIO_REG_DEVICE_ID:
		return t->dev->device_id;
	}
	return 0;
}

static void write_reg(struct cvmm_virtio_transport *t, enum cvmm_virtio_reg reg,
		      uint32_t val)
{
	struct cvmm_virtio_queue_regs *q;

	switch (reg) {
	case CVMM_VIRTIO_REG_DEVICE_FEATURES_SEL:
		t->dev_features_sel = val;
		break;
	case CVMM_VIRTIO_REG_DRIVER_FEATURES:
		if (t->reset_pending || !(t->status & CVMM_VIRTIO_S_DRIVER) ||
		    (t->status & CVMM_VIRTIO_S_FEATURES_OK) || t->drv_features_sel > 1)
			break;
		set_half(&t->driver_features, t->drv_features_sel == 1, val);
		break;
	case CVMM_VIRTIO_REG_DRIVER_FEATURES_SEL:
		t->drv_features_sel = val;
		break;
	case CVMM_VIRTIO_REG_QUEUE_SEL:
		t->queue_sel = val;
		break;
	case CVMM_VIRTIO_REG_QUEUE_NUM:
		q = writable_queue(t);
		if (q && val != 0 && val <= t->dev->queue_max_size[t->queue_sel])
			q->num = (uint16_t)val;
		break;
	case CVMM_VIRTIO_REG_QUEUE_READY:
		/* The ring addresses are checked against guest RAM when the
		 * device thread activates the queue (DRIVER_OK): a bad one
		 * then sets DEVICE_NEEDS_RESET. */
		q = sel_queue(t);
		if (!q || !queue_setup_open(t))
			break;
		if (val == 0)
			q->ready = 0;
		else if (val == 1 &&
			 queue_num_ok(t, t->queue_sel, q->num, t->driver_features))
			q->ready = 1;
		break;
	case CVMM_VIRTIO_REG_QUEUE_DESC_LOW:
	case CVMM_VIRTIO_REG_QUEUE_DESC_HIGH:
		q = writable_queue(t);
		if (q)
			set_half(&q->desc, reg == CVMM_VIRTIO_REG_QUEUE_DESC_HIGH, val);
		break;
	case CVMM_VIRTIO_REG_QUEUE_DRIVER_LOW:
	case CVMM_VIRTIO_REG_QUEUE_DRIVER_HIGH:
		q = writable_queue(t);
		if (q)
			set_half(&q->driver, reg == CVMM_VIRTIO_REG_QUEUE_DRIVER_HIGH, val);
		break;
	case CVMM_VIRTIO_REG_QUEUE_DEVICE_LOW:
	case CVMM_VIRTIO_REG_QUEUE_DEVICE_HIGH:
		q = writable_queue(t);
		if (q)
			set_half(&q->device, reg == CVMM_VIRTIO_REG_QUEUE_DEVICE_HIGH, val);
		break;
	case CVMM_VIRTIO_REG_STATUS:
		write_status(t, val);
		break;
	case CVMM_VIRTIO_REG_DEVICE_FEATURES:
	case CVMM_VIRTIO_REG_QUEUE_NUM_MAX:
	case CVMM_VIRTIO_REG_CONFIG_GENERATION:
	case CVMM_VIRTIO_REG_NUM_QUEUES:
	case CVMM_VIRTIO_REG_DEVICE_ID:
		break; /* read-only */
	}
}

uint32_t cvmm_virtio_transport_reg_read(struct cvmm_virtio_transport *t,
					enum cvmm_virtio_reg reg)
{
	uint32_t v;

	pthread_mutex_lock(&t->lock);
	v = read_reg(t, reg);
	pthread_mutex_unlock(&t->lock);
	return v;
}

void cvmm_virtio_transport_reg_write(struct cvmm_virtio_transport *t,
				     enum cvmm_virtio_reg reg, uint32_t val)
{
	pthread_mutex_lock(&t->lock);
	write_reg(t, reg, val);
	pthread_mutex_unlock(&t->lock);
}

/* ------------------------------------------------------------------------ */
/* Save / restore                                                            */
/* ------------------------------------------------------------------------ */

int cvmm_virtio_transport_save(struct cvmm_virtio_transport *t,
			       struct cvmm_virtio_transport_state *s, void *dev_buf,
			       size_t dev_len)
{
	bool active;
	int n = 0;

	if (!t || !s)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	if (t->reset_pending || t->activate_pending || t->activating) {
		pthread_mutex_unlock(&t->lock);
		return -EBUSY;
	}
	active = t->dev_active;
	pthread_mutex_unlock(&t->lock);

	/* The device quiesces first: completing its in-flight requests moves
	 * the queues, which are captured after. */
	if (t->dev->ops->save) {
		n = t->dev->ops->save(t->dev, NULL, 0);
		if (n < 0)
			return n;
		if ((size_t)n > dev_len || (n > 0 && !dev_buf))
			return -ENOSPC;
		if (n > 0) {
			n = t->dev->ops->save(t->dev, dev_buf, dev_len);
			if (n < 0)
				return n;
		}
	}

	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&t->lock);
	s->version = CVMM_VIRTIO_TRANSPORT_STATE_VERSION;
	s->device_id = t->dev->device_id;
	s->status = t->status;
	s->isr = __atomic_load_n(&t->isr, __ATOMIC_SEQ_CST);
	s->config_generation = __atomic_load_n(&t->config_generation, __ATOMIC_SEQ_CST);
	s->device_features_sel = t->dev_features_sel;
	s->driver_features_sel = t->drv_features_sel;
	s->queue_sel = t->queue_sel;
	s->driver_features = t->driver_features;
	s->num_queues = t->nq;
	s->device_active = active;
	memcpy(s->regs, t->regs, sizeof(s->regs));
	pthread_mutex_unlock(&t->lock);
	for (unsigned int i = 0; i < t->nq; i++)
		cvmm_virtq_state_save(&t->queues[i], &s->queues[i]);
	return n;
}

/* Refuse: the message goes to the caller's buffer and the log. */
__attribute__((format(printf, 4, 5)))
static int refuse(int err, char *buf, size_t len, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (buf && len)
		snprintf(buf, len, "%s", msg);
	CVMM_LOG(CVMM_LOG_WARN, VD_CRATE, "transport state refused: %s", msg);
	return err;
}

#define REFUSE(...) refuse(-EINVAL, err, errlen, __VA_ARGS__)

static int check_state(const struct cvmm_virtio_transport *t,
		       const struct cvmm_virtio_transport_state *s, char *err,
		       size_t errlen)
{
	static const struct cvmm_virtio_queue_regs zero_regs;
	uint32_t st = s->status;
	uint64_t f = s->driver_features;

	if (s->version != CVMM_VIRTIO_TRANSPORT_STATE_VERSION)
		return REFUSE("version: %u, this build reads %u", s->version,
			      CVMM_VIRTIO_TRANSPORT_STATE_VERSION);
	if (s->device_id != t->dev->device_id)
		return REFUSE("device_id: %u, the device is %u", s->device_id,
			      t->dev->device_id);
	if (s->num_queues != t->nq)
		return REFUSE("num_queues: %u, the device has %u", s->num_queues, t->nq);
	if (st & ~STATUS_KNOWN)
		return REFUSE("status: %#x has unknown bits %#x", st, st & ~STATUS_KNOWN);
	if ((st & CVMM_VIRTIO_S_DRIVER) && !(st & CVMM_VIRTIO_S_ACKNOWLEDGE))
		return REFUSE("status: %#x has DRIVER without ACKNOWLEDGE", st);
	if ((st & CVMM_VIRTIO_S_FEATURES_OK) && !(st & CVMM_VIRTIO_S_DRIVER))
		return REFUSE("status: %#x has FEATURES_OK without DRIVER", st);
	if ((st & CVMM_VIRTIO_S_DRIVER_OK) && !(st & CVMM_VIRTIO_S_FEATURES_OK))
		return REFUSE("status: %#x has DRIVER_OK without FEATURES_OK", st);
	if (s->isr & ~(CVMM_VIRTIO_ISR_USED | CVMM_VIRTIO_ISR_CONFIG))
		return REFUSE("isr: %#x has bits other than used (1) and config (2)",
			      s->isr);
	if (f & ~t->offered)
		return REFUSE("driver_features: %#llx acks %#llx, never offered",
			      (unsigned long long)f, (unsigned long long)(f & ~t->offered));
	if ((st & CVMM_VIRTIO_S_FEATURES_OK) && !(f & CVMM_VIRTIO_F_VERSION_1))
		return REFUSE("driver_features: %#llx without VERSION_1 under FEATURES_OK",
			      (unsigned long long)f);
	if ((st & CVMM_VIRTIO_S_FEATURES_OK) && !(f & CVMM_VIRTIO_F_ACCESS_PLATFORM) != !t->dma)
		return REFUSE("driver_features: ACCESS_PLATFORM %s for a device %s an IOMMU",
			      t->dma ? "missing" : "acked", t->dma ? "behind" : "not behind");
	if (s->device_active > 1)
		return REFUSE("device_active: %u is not 0 or 1", s->device_active);
	if (s->device_active && !(st & CVMM_VIRTIO_S_DRIVER_OK))
		return REFUSE("device_active: 1 with status %#x (no DRIVER_OK)", st);
	for (unsigned int i = 0; i < CVMM_VIRTIO_MAX_QUEUES; i++) {
		const struct cvmm_virtio_queue_regs *r = &s->regs[i];
		const struct cvmm_virtq_state *q = &s->queues[i];

		if (i >= t->nq) {
			if (memcmp(r, &zero_regs, sizeof(zero_regs)))
				return REFUSE("regs[%u]: set for queue %u, the device has %u queue%s",
					      i, i, t->nq, t->nq == 1 ? "" : "s");
			continue;
		}
		if (r->ready > 1)
			return REFUSE("regs[%u].ready: %u is not 0 or 1", i, r->ready);
		if (r->num == 0 || r->num > t->dev->queue_max_size[i])
			return REFUSE("regs[%u].num: %u outside 1..%u", i, r->num,
				      t->dev->queue_max_size[i]);
		if (r->ready && !queue_num_ok(t, i, r->num, f))
			return REFUSE("regs[%u].num: %u is not a power of two on a split ring",
				      i, r->num);
		if (q->active && !s->device_active)
			return REFUSE("queues[%u].active: 1 on a device that is not active", i);
		if (q->active && !r->ready)
			return REFUSE("queues[%u].active: 1 but regs[%u].ready is 0", i, i);
		if (q->active && q->size != r->num)
			return REFUSE("queues[%u].size: %u, regs[%u].num says %u", i,
				      q->size, i, r->num);
		if (q->active && q->features != f)
			return REFUSE("queues[%u].features: %#llx, driver_features says %#llx",
				      i, (unsigned long long)q->features,
				      (unsigned long long)f);
	}
	return 0;
}

int cvmm_virtio_transport_restore(struct cvmm_virtio_transport *t,
				  const struct cvmm_virtio_transport_state *s,
				  const void *dev_buf, size_t dev_len, char *err,
				  size_t errlen)
{
	unsigned int i;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (!t || !s)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	r = (t->status || t->dev_active || t->reset_pending || t->activate_pending ||
	     t->activating)
		    ? -EBUSY : 0;
	pthread_mutex_unlock(&t->lock);
	if (r < 0)
		return refuse(r, err, errlen, "the transport is in use (restore needs a fresh one)");
	r = check_state(t, s, err, errlen);
	if (r < 0)
		return r;
	for (i = 0; i < t->nq; i++) {
		r = cvmm_virtq_state_restore(&t->queues[i], &s->queues[i]);
		if (r < 0) {
			refuse(r, err, errlen, "queues[%u]: refused by virtio-queue (%s)", i,
			       strerror(-r));
			goto fail;
		}
	}
	if (t->dev->ops->restore) {
		r = t->dev->ops->restore(t->dev, dev_buf, dev_len);
		if (r < 0) {
			refuse(r, err, errlen, "device state: %zu bytes refused by device %u (%s)",
			       dev_len, t->dev->device_id, strerror(-r));
			goto fail;
		}
	} else if (dev_len) {
		r = refuse(-EINVAL, err, errlen,
			   "device state: %zu bytes for device %u, which has none", dev_len,
			   t->dev->device_id);
		goto fail;
	}
	if (s->device_active) {
		r = t->dev->ops->activate(t->dev, t->mem, t->queues, t->nq,
					  s->driver_features);
		if (r < 0) {
			refuse(r, err, errlen, "device_active: device %u activate failed (%s)",
			       t->dev->device_id, strerror(-r));
			goto fail;
		}
	}
	pthread_mutex_lock(&t->lock);
	t->status = s->status;
	t->dev_features_sel = s->device_features_sel;
	t->drv_features_sel = s->driver_features_sel;
	t->queue_sel = s->queue_sel;
	t->driver_features = s->driver_features;
	if (s->status & CVMM_VIRTIO_S_FEATURES_OK)
		__atomic_store_n(&t->dev->driver_features, s->driver_features,
				 __ATOMIC_RELEASE);
	memcpy(t->regs, s->regs, sizeof(t->regs));
	t->dev_active = s->device_active;
	__atomic_store_n(&t->isr, s->isr, __ATOMIC_SEQ_CST);
	__atomic_store_n(&t->config_generation, s->config_generation, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&t->lock);
	/* Buffers the guest made available while the VM was being moved. */
	if (s->device_active && !(s->status & CVMM_VIRTIO_S_NEEDS_RESET))
		for (i = 0; i < t->nq; i++)
			(void)cvmm_eventfd_write(t->notify_fd[i], 1);
	return 0;
fail:
	queues_reset(t);
	return r;
}
