/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-mmio version 2 transport. Register state lives under one mutex
 * that is only ever held for register bookkeeping; device work (activate,
 * reset, queue processing) runs on the event-manager loop, woken through a
 * control eventfd, so a vCPU never waits for I/O.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
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

struct vmmio_qctx {
	struct cvmm_virtio_mmio *t;
	unsigned int idx;
};

struct cvmm_virtio_mmio {
	struct cvmm_virtio_device *dev;
	struct cvmm_guest_mem *mem;
	struct cvmm_event_manager *em;
	uint64_t offered;
	unsigned int nq;
	uint32_t isr_always;        /* CVMM_VIRTIO_ISR_USED with used_irq_direct */

	pthread_mutex_t lock;
	/* registers: under lock */
	uint32_t status;
	uint32_t shown_status;      /* what Status reads while a reset is pending */
	uint32_t dev_features_sel;
	uint32_t drv_features_sel;
	uint32_t queue_sel;
	uint32_t shm_sel;
	uint64_t driver_features;
	struct cvmm_virtio_mmio_queue_regs regs[CVMM_VIRTIO_MAX_QUEUES];
	bool reset_pending;         /* the device thread must reset the device */
	bool activate_pending;      /* the device thread must activate it */
	bool activating;            /* the device thread is inside activate() */
	bool dev_active;            /* written by the device thread, under lock */
	/* lock-free */
	uint32_t isr;               /* atomic */
	uint32_t config_generation; /* atomic */

	/* device thread */
	struct cvmm_virtq queues[CVMM_VIRTIO_MAX_QUEUES];
	struct vmmio_qctx qctx[CVMM_VIRTIO_MAX_QUEUES];
	int notify_fd[CVMM_VIRTIO_MAX_QUEUES];
	int irq_fd;
	int ctl_fd;
};

/* ------------------------------------------------------------------------ */
/* Device -> transport                                                       */
/* ------------------------------------------------------------------------ */

static void vmmio_raise(struct cvmm_virtio_device *dev, uint32_t bits)
{
	struct cvmm_virtio_mmio *t = dev->transport;
	int r;

	__atomic_fetch_or(&t->isr, bits, __ATOMIC_SEQ_CST);
	r = cvmm_eventfd_write(t->irq_fd, 1);
	if (r < 0)
		CVMM_LOG(CVMM_LOG_WARN, VD_CRATE, "irq eventfd write: %d", r);
}

static void vmmio_broken(struct cvmm_virtio_device *dev)
{
	struct cvmm_virtio_mmio *t = dev->transport;
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
		__atomic_fetch_add(&t->config_generation, 1, __ATOMIC_SEQ_CST);
		vmmio_raise(dev, CVMM_VIRTIO_ISR_CONFIG);
	}
}

void cvmm_virtio_device_signal_used(struct cvmm_virtio_device *dev)
{
	if (dev->raise)
		dev->raise(dev, CVMM_VIRTIO_ISR_USED);
}

void cvmm_virtio_device_config_changed(struct cvmm_virtio_device *dev)
{
	struct cvmm_virtio_mmio *t = dev->transport;

	if (!dev->raise)
		return;
	if (t)
		__atomic_fetch_add(&t->config_generation, 1, __ATOMIC_SEQ_CST);
	dev->raise(dev, CVMM_VIRTIO_ISR_CONFIG);
}

void cvmm_virtio_device_set_needs_reset(struct cvmm_virtio_device *dev)
{
	if (dev->broken)
		dev->broken(dev);
}

/* ------------------------------------------------------------------------ */
/* Device thread                                                             */
/* ------------------------------------------------------------------------ */

static bool features_acceptable(const struct cvmm_virtio_mmio *t, uint64_t f)
{
	return (f & CVMM_VIRTIO_F_VERSION_1) && !(f & CVMM_VIRTIO_F_ACCESS_PLATFORM) &&
	       (f & ~t->offered) == 0;
}

static bool queue_num_ok(const struct cvmm_virtio_mmio *t, unsigned int q,
			 uint32_t num, uint64_t features)
{
	if (num == 0 || num > t->dev->queue_max_size[q])
		return false;
	return (features & CVMM_VIRTIO_F_RING_PACKED) || CVMM_IS_POW2(num);
}

static void queues_reset(struct cvmm_virtio_mmio *t)
{
	for (unsigned int i = 0; i < t->nq; i++)
		cvmm_virtq_reset(&t->queues[i]);
}

/* Bring the queues the driver enabled live and activate the device. */
static int vmmio_activate(struct cvmm_virtio_mmio *t, uint64_t features,
			  const struct cvmm_virtio_mmio_queue_regs *regs)
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
			CVMM_LOG(CVMM_LOG_WARN, VD_CRATE, "queue %u activate: %d", i, r);
			queues_reset(t);
			return r;
		}
	}
	r = t->dev->ops->activate(t->dev, t->mem, t->queues, t->nq, features);
	if (r < 0) {
		CVMM_LOG(CVMM_LOG_WARN, VD_CRATE, "device activate: %d", r);
		queues_reset(t);
	}
	return r;
}

/* Catch up with the status changes the driver made. */
static void vmmio_control(struct cvmm_virtio_mmio *t)
{
	struct cvmm_virtio_mmio_queue_regs regs[CVMM_VIRTIO_MAX_QUEUES];
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
		/* Still "not settled" until activate() has returned. */
		t->activating = true;
		features = t->driver_features;
		memcpy(regs, t->regs, sizeof(regs));
		pthread_mutex_unlock(&t->lock);
		r = vmmio_activate(t, features, regs);
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
			vmmio_broken(t->dev);
			pthread_mutex_lock(&t->lock);
		}
	}
	pthread_mutex_unlock(&t->lock);
}

static void ctl_cb(struct cvmm_event_manager *em, int fd, uint32_t events,
		   void *opaque)
{
	struct cvmm_virtio_mmio *t = opaque;
	uint64_t v;

	(void)cvmm_eventfd_read(fd, &v);
	vmmio_control(t);
}

static void notify_cb(struct cvmm_event_manager *em, int fd, uint32_t events,
		      void *opaque)
{
	struct vmmio_qctx *qc = opaque;
	struct cvmm_virtio_mmio *t = qc->t;
	uint64_t v;
	bool run;

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

static void regs_init(struct cvmm_virtio_mmio *t)
{
	t->status = 0;
	t->dev_features_sel = 0;
	t->drv_features_sel = 0;
	t->queue_sel = 0;
	t->shm_sel = 0;
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
	if (d->config_size > CVMM_VIRTIO_MMIO_SIZE - CVMM_VIRTIO_MMIO_CONFIG)
		return -EINVAL;
	for (unsigned int i = 0; i < d->num_queues; i++)
		if (d->queue_max_size[i] == 0 || d->queue_max_size[i] > CVMM_VIRTQ_MAX_SIZE)
			return -EINVAL;
	return 0;
}

int cvmm_virtio_mmio_create(const struct cvmm_virtio_mmio_opts *o,
			    struct cvmm_virtio_mmio **out)
{
	struct cvmm_virtio_mmio *t;
	unsigned int i;
	int r;

	if (!o || !out || o->sz < offsetof(struct cvmm_virtio_mmio_opts, used_irq_direct) ||
	    !o->dev || !o->mem || !o->em)
		return -EINVAL;
	r = check_device(o->dev);
	if (r < 0)
		return r;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->dev = o->dev;
	t->mem = o->mem;
	t->em = o->em;
	t->nq = o->dev->num_queues;
	t->offered = (o->dev->features & ~CVMM_VIRTIO_F_ACCESS_PLATFORM) |
		     TRANSPORT_FEATURES;
	if (o->sz >= offsetof(struct cvmm_virtio_mmio_opts, used_irq_direct) +
			     sizeof(o->used_irq_direct) && o->used_irq_direct)
		t->isr_always = CVMM_VIRTIO_ISR_USED;
	t->irq_fd = t->ctl_fd = -1;
	for (i = 0; i < CVMM_VIRTIO_MAX_QUEUES; i++)
		t->notify_fd[i] = -1;
	pthread_mutex_init(&t->lock, NULL);
	for (i = 0; i < t->nq; i++) {
		r = cvmm_virtq_init(&t->queues[i], t->mem, o->dev->queue_max_size[i]);
		if (r < 0)
			goto fail;
	}
	regs_init(t);

	r = t->irq_fd = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	if (r < 0)
		goto fail;
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
	o->dev->raise = vmmio_raise;
	o->dev->broken = vmmio_broken;
	*out = t;
	return 0;
fail:
	for (i = 0; i < CVMM_VIRTIO_MAX_QUEUES; i++)
		cvmm_close(t->notify_fd[i]);
	cvmm_close(t->irq_fd);
	cvmm_close(t->ctl_fd);
	pthread_mutex_destroy(&t->lock);
	free(t);
	return r;
}

void cvmm_virtio_mmio_destroy(struct cvmm_virtio_mmio *t)
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
	cvmm_close(t->irq_fd);
	t->dev->transport = NULL;
	t->dev->raise = NULL;
	t->dev->broken = NULL;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int cvmm_virtio_mmio_notify_fd(const struct cvmm_virtio_mmio *t, unsigned int q)
{
	if (!t || q >= t->nq)
		return -EINVAL;
	return t->notify_fd[q];
}

int cvmm_virtio_mmio_irq_fd(const struct cvmm_virtio_mmio *t)
{
	return t ? t->irq_fd : -EINVAL;
}

uint32_t cvmm_virtio_mmio_status(struct cvmm_virtio_mmio *t)
{
	uint32_t s;

	pthread_mutex_lock(&t->lock);
	s = t->reset_pending ? t->shown_status : t->status;
	pthread_mutex_unlock(&t->lock);
	return s;
}

bool cvmm_virtio_mmio_settled(struct cvmm_virtio_mmio *t)
{
	bool s;

	pthread_mutex_lock(&t->lock);
	s = !t->reset_pending && !t->activate_pending && !t->activating;
	pthread_mutex_unlock(&t->lock);
	return s;
}

/* ------------------------------------------------------------------------ */
/* Registers (vCPU thread)                                                   */
/* ------------------------------------------------------------------------ */

static void kick_control(struct cvmm_virtio_mmio *t)
{
	int r = cvmm_eventfd_write(t->ctl_fd, 1);

	if (r < 0)
		CVMM_LOG(CVMM_LOG_WARN, VD_CRATE, "control eventfd write: %d", r);
}

/* Called with the lock held. */
static void write_status(struct cvmm_virtio_mmio *t, uint32_t val)
{
	uint32_t old, nw, added;

	if (val == 0) {
		bool busy = t->dev_active || t->activate_pending || t->reset_pending;

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

static struct cvmm_virtio_mmio_queue_regs *sel_queue(struct cvmm_virtio_mmio *t)
{
	return t->queue_sel < t->nq ? &t->regs[t->queue_sel] : NULL;
}

/* Queue registers are writable between FEATURES_OK and DRIVER_OK, while the
 * selected queue is not ready. */
static struct cvmm_virtio_mmio_queue_regs *writable_queue(struct cvmm_virtio_mmio *t)
{
	struct cvmm_virtio_mmio_queue_regs *q = sel_queue(t);

	if (!q || t->reset_pending || (t->status & CVMM_VIRTIO_S_DRIVER_OK) ||
	    !(t->status & CVMM_VIRTIO_S_FEATURES_OK) || q->ready)
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

static uint32_t read_reg(struct cvmm_virtio_mmio *t, uint32_t off)
{
	struct cvmm_virtio_mmio_queue_regs *q;

	switch (off) {
	case CVMM_VIRTIO_MMIO_MAGIC:
		return CVMM_VIRTIO_MMIO_MAGIC_VALUE;
	case CVMM_VIRTIO_MMIO_VERSION:
		return 2;
	case CVMM_VIRTIO_MMIO_DEVICE_ID:
		return t->dev->device_id;
	case CVMM_VIRTIO_MMIO_VENDOR_ID:
		return CVMM_VIRTIO_MMIO_VENDOR_VALUE;
	case CVMM_VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->dev_features_sel > 1)
			return 0;
		return (uint32_t)(t->offered >> (32 * t->dev_features_sel));
	case CVMM_VIRTIO_MMIO_QUEUE_NUM_MAX:
		return t->queue_sel < t->nq ? t->dev->queue_max_size[t->queue_sel] : 0;
	case CVMM_VIRTIO_MMIO_QUEUE_NUM:
		q = sel_queue(t);
		return q ? q->num : 0;
	case CVMM_VIRTIO_MMIO_QUEUE_READY:
		q = sel_queue(t);
		return q ? q->ready : 0;
	case CVMM_VIRTIO_MMIO_INTERRUPT_STATUS:
		return __atomic_load_n(&t->isr, __ATOMIC_SEQ_CST) | t->isr_always;
	case CVMM_VIRTIO_MMIO_STATUS:
		return t->reset_pending ? t->shown_status : t->status;
	case CVMM_VIRTIO_MMIO_QUEUE_DESC_LOW:
	case CVMM_VIRTIO_MMIO_QUEUE_DESC_HIGH:
		q = sel_queue(t);
		return q ? (uint32_t)(q->desc >> (off & 4 ? 32 : 0)) : 0;
	case CVMM_VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case CVMM_VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		q = sel_queue(t);
		return q ? (uint32_t)(q->driver >> (off & 4 ? 32 : 0)) : 0;
	case CVMM_VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case CVMM_VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		q = sel_queue(t);
		return q ? (uint32_t)(q->device >> (off & 4 ? 32 : 0)) : 0;
	case CVMM_VIRTIO_MMIO_SHM_LEN_LOW:
	case CVMM_VIRTIO_MMIO_SHM_LEN_HIGH:
	case CVMM_VIRTIO_MMIO_SHM_BASE_LOW:
	case CVMM_VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffffu; /* no shared memory regions */
	case CVMM_VIRTIO_MMIO_CONFIG_GENERATION:
		return __atomic_load_n(&t->config_generation, __ATOMIC_SEQ_CST);
	default:
		return 0;
	}
}

static void write_reg(struct cvmm_virtio_mmio *t, uint32_t off, uint32_t val)
{
	struct cvmm_virtio_mmio_queue_regs *q;

	switch (off) {
	case CVMM_VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->dev_features_sel = val;
		break;
	case CVMM_VIRTIO_MMIO_DRIVER_FEATURES:
		if (t->reset_pending || !(t->status & CVMM_VIRTIO_S_DRIVER) ||
		    (t->status & CVMM_VIRTIO_S_FEATURES_OK) || t->drv_features_sel > 1)
			break;
		set_half(&t->driver_features, t->drv_features_sel == 1, val);
		break;
	case CVMM_VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->drv_features_sel = val;
		break;
	case CVMM_VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = val;
		break;
	case CVMM_VIRTIO_MMIO_QUEUE_NUM:
		q = writable_queue(t);
		if (q && val != 0 && val <= t->dev->queue_max_size[t->queue_sel])
			q->num = (uint16_t)val;
		break;
	case CVMM_VIRTIO_MMIO_QUEUE_READY:
		q = sel_queue(t);
		if (!q || t->reset_pending || (t->status & CVMM_VIRTIO_S_DRIVER_OK) ||
		    !(t->status & CVMM_VIRTIO_S_FEATURES_OK))
			break;
		if (val == 0)
			q->ready = 0;
		else if (val == 1 &&
			 queue_num_ok(t, t->queue_sel, q->num, t->driver_features))
			q->ready = 1;
		break;
	case CVMM_VIRTIO_MMIO_QUEUE_NOTIFY:
		if (val < t->nq)
			(void)cvmm_eventfd_write(t->notify_fd[val], 1);
		break;
	case CVMM_VIRTIO_MMIO_INTERRUPT_ACK:
		__atomic_fetch_and(&t->isr, ~val, __ATOMIC_SEQ_CST);
		break;
	case CVMM_VIRTIO_MMIO_STATUS:
		write_status(t, val);
		break;
	case CVMM_VIRTIO_MMIO_QUEUE_DESC_LOW:
	case CVMM_VIRTIO_MMIO_QUEUE_DESC_HIGH:
		q = writable_queue(t);
		if (q)
			set_half(&q->desc, off & 4, val);
		break;
	case CVMM_VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case CVMM_VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		q = writable_queue(t);
		if (q)
			set_half(&q->driver, off & 4, val);
		break;
	case CVMM_VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case CVMM_VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		q = writable_queue(t);
		if (q)
			set_half(&q->device, off & 4, val);
		break;
	case CVMM_VIRTIO_MMIO_SHM_SEL:
		t->shm_sel = val;
		break;
	default:
		break; /* read-only or unknown: ignored */
	}
}

int cvmm_virtio_mmio_access(struct cvmm_virtio_mmio *t, uint64_t offset,
			    void *data, unsigned int len, bool is_write)
{
	uint32_t v = 0;

	if (!t || !data || (len != 1 && len != 2 && len != 4 && len != 8))
		return -EINVAL;
	if (offset >= CVMM_VIRTIO_MMIO_CONFIG) {
		uint64_t off = offset - CVMM_VIRTIO_MMIO_CONFIG;

		if (!cvmm_range_ok(off, len, t->dev->config_size)) {
			if (!is_write)
				memset(data, 0, len);
			return 0;
		}
		if (!is_write)
			t->dev->ops->config_read(t->dev, (uint32_t)off, data, len);
		else if (t->dev->ops->config_write)
			t->dev->ops->config_write(t->dev, (uint32_t)off, data, len);
		return 0;
	}
	if (len != 4 || (offset & 3)) {
		if (!is_write)
			memset(data, 0, len);
		return 0;
	}
	pthread_mutex_lock(&t->lock);
	if (is_write) {
		memcpy(&v, data, 4);
		write_reg(t, (uint32_t)offset, v);
	} else {
		v = read_reg(t, (uint32_t)offset);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&t->lock);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Save / restore                                                            */
/* ------------------------------------------------------------------------ */

int cvmm_virtio_mmio_save(struct cvmm_virtio_mmio *t,
			  struct cvmm_virtio_mmio_state *s, void *dev_buf,
			  size_t dev_len)
{
	bool active;
	int n = 0;

	if (!t || !s)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	if (t->reset_pending || t->activate_pending) {
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
	s->version = CVMM_VIRTIO_MMIO_STATE_VERSION;
	s->device_id = t->dev->device_id;
	s->status = t->status;
	/* As the guest reads it: a transport restored without the option
	 * still shows the used bit an interrupt may be pending for. */
	s->isr = __atomic_load_n(&t->isr, __ATOMIC_SEQ_CST) | t->isr_always;
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

static int check_state(const struct cvmm_virtio_mmio *t,
		       const struct cvmm_virtio_mmio_state *s)
{
	uint32_t st = s->status;

	if (s->version != CVMM_VIRTIO_MMIO_STATE_VERSION ||
	    s->device_id != t->dev->device_id || s->num_queues != t->nq)
		return -EINVAL;
	if ((st & ~STATUS_KNOWN) || (s->isr & ~3u))
		return -EINVAL;
	if ((st & CVMM_VIRTIO_S_DRIVER) && !(st & CVMM_VIRTIO_S_ACKNOWLEDGE))
		return -EINVAL;
	if ((st & CVMM_VIRTIO_S_FEATURES_OK) && !(st & CVMM_VIRTIO_S_DRIVER))
		return -EINVAL;
	if ((st & CVMM_VIRTIO_S_DRIVER_OK) && !(st & CVMM_VIRTIO_S_FEATURES_OK))
		return -EINVAL;
	if ((st & CVMM_VIRTIO_S_FEATURES_OK) &&
	    !features_acceptable(t, s->driver_features))
		return -EINVAL;
	if (s->driver_features & ~t->offered)
		return -EINVAL;
	if (s->device_active > 1 ||
	    (s->device_active && !(st & CVMM_VIRTIO_S_DRIVER_OK)))
		return -EINVAL;
	for (unsigned int i = 0; i < CVMM_VIRTIO_MAX_QUEUES; i++) {
		const struct cvmm_virtio_mmio_queue_regs *r = &s->regs[i];

		if (i >= t->nq) {
			static const struct cvmm_virtio_mmio_queue_regs zero;

			if (memcmp(r, &zero, sizeof(zero)))
				return -EINVAL;
			continue;
		}
		if (r->ready > 1 || r->num == 0 || r->num > t->dev->queue_max_size[i])
			return -EINVAL;
		if (r->ready && !queue_num_ok(t, i, r->num, s->driver_features))
			return -EINVAL;
		if (s->queues[i].active &&
		    (!s->device_active || !r->ready || s->queues[i].size != r->num ||
		     s->queues[i].features != s->driver_features))
			return -EINVAL;
	}
	return 0;
}

int cvmm_virtio_mmio_restore(struct cvmm_virtio_mmio *t,
			     const struct cvmm_virtio_mmio_state *s,
			     const void *dev_buf, size_t dev_len)
{
	unsigned int i;
	int r;

	if (!t || !s)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	r = (t->status || t->dev_active || t->reset_pending || t->activate_pending ||
	     t->activating)
		    ? -EBUSY : 0;
	pthread_mutex_unlock(&t->lock);
	if (r < 0)
		return r;
	r = check_state(t, s);
	if (r < 0)
		return r;
	for (i = 0; i < t->nq; i++) {
		r = cvmm_virtq_state_restore(&t->queues[i], &s->queues[i]);
		if (r < 0)
			goto fail;
	}
	if (t->dev->ops->restore) {
		r = t->dev->ops->restore(t->dev, dev_buf, dev_len);
		if (r < 0)
			goto fail;
	} else if (dev_len) {
		r = -EINVAL;
		goto fail;
	}
	if (s->device_active) {
		r = t->dev->ops->activate(t->dev, t->mem, t->queues, t->nq,
					  s->driver_features);
		if (r < 0)
			goto fail;
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
