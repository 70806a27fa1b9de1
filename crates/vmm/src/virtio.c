/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio devices on the VM: one device thread runs an event-manager loop
 * for every device model and transport; a device joins through
 * cvmm_vmm_virtio_mmio_add(), which takes an MMIO window and an interrupt
 * line from the allocator, puts the transport's registers on the MMIO bus,
 * and wires queue notifications (KVM ioeventfds) and the interrupt (KVM
 * irqfd) so a vCPU thread only ever does register accesses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include <cvmm/acpi-tables.h>
#include <cvmm/snapshot.h>
#include <cvmm/virtio-devices.h>

#include "internal.h"

struct vdev {
	struct vdev_common c;         /* first: the shared ops take it */
	struct cvmm_virtio_mmio *t;
	uint64_t base;
	uint32_t gsi;
	bool on_bus;
};

/*
 * The device thread: the loop runs until a pause stops it, then the thread
 * parks until a resume lets it run again or the VM ends. A resume thus
 * creates no thread: the thread that resumes (cvmm-microvm's main thread
 * after a snapshot with then=resume, SIGUSR2 after a pause) may be under a
 * filter without clone, and was killed by it when the pause had ended the
 * thread (tests/linux-guest/boot.sh found it).
 */
static void *device_thread(void *arg)
{
	struct cvmm_vmm *vmm = arg;
	bool leave;
	int ret;

	cvmm_thread_set_name("virtio");
	if (vmm->opts.thread_start && vmm->opts.thread_start(vmm->opts.opaque, "virtio", 0)) {
		CVMM_LOG(CVMM_LOG_ERROR, VMM_CRATE, "virtio device thread: set-up (seccomp) failed");
		cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_HOST_ERROR, 3);
		pthread_mutex_lock(&vmm->dev_mu);
		vmm->dev_failed = true;
		pthread_cond_broadcast(&vmm->dev_cv);
		while (!vmm->dev_exit)
			pthread_cond_wait(&vmm->dev_cv, &vmm->dev_mu);
		pthread_mutex_unlock(&vmm->dev_mu);
		return NULL;
	}
	do {
		ret = cvmm_event_manager_run(vmm->dev_em);
		if (ret) {
			CVMM_LOG(CVMM_LOG_ERROR, VMM_CRATE, "virtio device loop: %s", strerror(-ret));
			cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_HOST_ERROR, 3);
		}
		pthread_mutex_lock(&vmm->dev_mu);
		vmm->dev_parked = true;
		vmm->dev_parks++;
		pthread_cond_broadcast(&vmm->dev_cv);
		while (!vmm->dev_go && !vmm->dev_exit)
			pthread_cond_wait(&vmm->dev_cv, &vmm->dev_mu);
		leave = vmm->dev_exit;
		vmm->dev_go = false;
		vmm->dev_parked = false;
		pthread_mutex_unlock(&vmm->dev_mu);
	} while (!leave);
	return NULL;
}

struct cvmm_event_manager *cvmm_vmm_device_loop(struct cvmm_vmm *vmm)
{
	if (!vmm)
		return NULL;
	if (!vmm->dev_em && cvmm_event_manager_create(NULL, &vmm->dev_em))
		vmm->dev_em = NULL;
	return vmm->dev_em;
}

int cvmm_vi_device_thread_start(struct cvmm_vmm *vmm)
{
	int ret;

	if (!vmm->dev_em || vmm->dev_thread_running)
		return 0;
	if (vmm->dev_thread_exists) {
		/* parked by a pause: run again */
		pthread_mutex_lock(&vmm->dev_mu);
		vmm->dev_go = true;
		pthread_cond_broadcast(&vmm->dev_cv);
		pthread_mutex_unlock(&vmm->dev_mu);
		vmm->dev_thread_running = true;
		return 0;
	}
	ret = -pthread_create(&vmm->dev_thread, NULL, device_thread, vmm);
	if (!ret)
		vmm->dev_thread_exists = vmm->dev_thread_running = true;
	return ret;
}

void cvmm_vi_device_thread_stop(struct cvmm_vmm *vmm)
{
	uint64_t parks;

	if (!vmm->dev_thread_running)
		return;
	pthread_mutex_lock(&vmm->dev_mu);
	parks = vmm->dev_parks;
	pthread_mutex_unlock(&vmm->dev_mu);
	/* its loop returns and it parks: nothing of it runs after this */
	cvmm_event_manager_stop(vmm->dev_em);
	pthread_mutex_lock(&vmm->dev_mu);
	while (vmm->dev_parks == parks && !vmm->dev_failed)
		pthread_cond_wait(&vmm->dev_cv, &vmm->dev_mu);
	pthread_mutex_unlock(&vmm->dev_mu);
	vmm->dev_thread_running = false;
}

void cvmm_vi_device_thread_exit(struct cvmm_vmm *vmm)
{
	cvmm_vi_device_thread_stop(vmm);
	if (!vmm->dev_thread_exists)
		return;
	pthread_mutex_lock(&vmm->dev_mu);
	vmm->dev_exit = true;
	pthread_cond_broadcast(&vmm->dev_cv);
	pthread_mutex_unlock(&vmm->dev_mu);
	pthread_join(vmm->dev_thread, NULL);
	vmm->dev_thread_exists = false;
	vmm->dev_exit = vmm->dev_go = vmm->dev_parked = false;
}

static void mmio_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct vdev *d = opaque;

	if (cvmm_virtio_mmio_access(d->t, offset, data, len, is_write) && !is_write)
		memset(data, 0xff, len);
}

static void vdev_destroy(void *dev)
{
	struct vdev *d = dev;

	if (d->on_bus)
		cvmm_vmm_bus_remove(d->c.vmm, CVMM_VMM_MMIO, d->base);
	/* The ioeventfds and irqfd stay registered when the whole VM goes:
	 * KVM drops them with it (holding its own eventfd references), so
	 * teardown needs no KVM ioctl from a thread under seccomp. */
	if (!d->c.vmm->tearing_down && d->t) {
		for (unsigned int q = 0; q < d->c.o.dev->num_queues; q++) {
			uint64_t match = q;

			cvmm_kvm_vm_unregister_ioeventfd(d->c.vmm->vm, cvmm_virtio_mmio_notify_fd(d->t, q),
							 CVMM_KVM_IO_MMIO,
							 d->base + CVMM_VIRTIO_MMIO_QUEUE_NOTIFY, 4,
							 &match);
		}
		cvmm_kvm_vm_unregister_irqfd(d->c.vmm->vm, cvmm_virtio_mmio_irq_fd(d->t), d->gsi);
	}
	if (d->c.o.detach)
		d->c.o.detach(d->c.o.model);
	cvmm_virtio_mmio_destroy(d->t);
	if (d->c.o.destroy)
		d->c.o.destroy(d->c.o.model);
	free(d);
}

/* Paused vCPUs write no more registers; wait until the device thread has
 * acted on the last status change, so the transport can be saved. */
/* A model hook runs on the device thread, where the model lives (or here,
 * when that thread does not run). */
struct model_call {
	struct vdev_common *d;
	int (*fn)(void *model);
	int (*fn_on)(void *model, bool on);
	bool on;
};

static int model_call_fn(struct cvmm_event_manager *em, void *arg)
{
	struct model_call *c = arg;

	(void)em;
	return c->fn ? c->fn(c->d->o.model) : c->fn_on(c->d->o.model, c->on);
}

static int on_device_thread(struct vdev_common *d, struct model_call *c)
{
	if (d->vmm->dev_thread_running)
		return cvmm_event_manager_call(d->vmm->dev_em, model_call_fn, c, true);
	return model_call_fn(NULL, c);
}

/* Paused vCPUs write no more registers; wait until the device thread has
 * acted on the last status change, so the transport can be saved; then
 * the model's own pause (a vhost-user backend stops its rings). */
int cvmm_vi_vdev_pause(void *dev)
{
	struct vdev_common *d = dev;
	struct model_call c = { .d = d, .fn = d->o.pause };

	for (unsigned int i = 0; i < 2000 && !cvmm_virtio_transport_settled(d->core); i++) {
		struct timespec ts = { 0, 500000 };

		nanosleep(&ts, NULL);
	}
	if (!cvmm_virtio_transport_settled(d->core))
		return -ETIMEDOUT;
	return d->o.pause ? on_device_thread(d, &c) : 0;
}

int cvmm_vi_vdev_resume(void *dev)
{
	struct vdev_common *d = dev;
	struct model_call c = { .d = d, .fn = d->o.resume };

	return d->o.resume ? on_device_thread(d, &c) : 0;
}

int cvmm_vi_vdev_dirty_log(void *dev, bool on)
{
	struct vdev_common *d = dev;
	struct model_call c = { .d = d, .fn_on = d->o.dirty_log, .on = on };

	return d->o.dirty_log ? on_device_thread(d, &c) : 0;
}

long cvmm_vi_vdev_dirty_harvest(void *dev)
{
	struct vdev_common *d = dev;

	return d->o.dirty_harvest ? d->o.dirty_harvest(d->o.model) : 0;
}

/* Post-copy (vhost-user: the backend's mapping of guest RAM). A device
 * without the hooks maps no RAM elsewhere: nothing to do. */
int cvmm_vi_vdev_postcopy_begin(void *dev, int *ufd)
{
	struct vdev_common *d = dev;

	*ufd = -1;
	return d->o.postcopy_begin ? d->o.postcopy_begin(d->o.model, ufd) : 0;
}

unsigned int cvmm_vi_vdev_postcopy_regions(void *dev, struct cvmm_vmm_pc_region *out,
					   unsigned int max)
{
	struct vdev_common *d = dev;

	return d->o.postcopy_regions ? d->o.postcopy_regions(d->o.model, out, max) : 0;
}

int cvmm_vi_vdev_postcopy_end(void *dev)
{
	struct vdev_common *d = dev;
	struct model_call c = { .d = d, .fn = d->o.postcopy_end };

	/* The device thread talks to the backend too. */
	return d->o.postcopy_end ? on_device_thread(d, &c) : 0;
}

/* A queue whose ring left guest RAM is broken; the device resets on its
 * next event, as for any hostile ring. */
int cvmm_vi_vdev_memory_changed(void *dev)
{
	struct vdev_common *d = dev;
	int broken = cvmm_virtio_transport_remap(d->core);

	if (broken > 0)
		CVMM_LOG(CVMM_LOG_WARN, VMM_CRATE,
			 "device '%s': %d queue(s) outside guest RAM after a memory change", d->id,
			 broken);
	return broken < 0 ? broken : 0;
}

int cvmm_vi_vdev_save(void *dev, const struct vdev_transport_io *io, struct cvmm_snap_writer *w,
		      const char *id)
{
	char sec[CVMM_SNAP_ID_SIZE];
	void *state = malloc(io->len), *buf = NULL;
	size_t cap = 4096;
	int n = -ENOMEM, ret;

	if (!state)
		return -ENOMEM;
	/* The device's own state has no size query: grow until it fits. */
	for (;;) {
		void *nb = realloc(buf, cap);

		if (!nb) {
			n = -ENOMEM;
			break;
		}
		buf = nb;
		n = io->save(dev, state, buf, cap);
		if (n != -ENOSPC || cap >= (16u << 20))
			break;
		cap *= 4;
	}
	ret = n < 0 ? n : 0;
	if (!ret && !(ret = cvmm_snap_id_fmt(sec, "dev/%s/%s", id, io->section)))
		ret = cvmm_snap_write(w, sec, io->version, state, io->len);
	if (!ret && !(ret = cvmm_snap_id_fmt(sec, "dev/%s/device", id)))
		ret = cvmm_snap_write(w, sec, 1, buf, (uint64_t)n);
	free(buf);
	free(state);
	return ret;
}

/*
 * After a restore every queue is looked at once, as if the guest had just
 * kicked it: a snapshot taken after the guest published requests but
 * before the device thread read the kick carries the requests in the ring
 * and not the kick (an eventfd is no state), and a guest that polls the
 * used ring would wait for ever (tests/microvm/snapshot-blk.sh saw it).
 * A kick with nothing new costs a look at the ring; the device thread
 * handles them once it runs.
 */
int cvmm_vi_vdev_restore(void *dev, const struct vdev_transport_io *io, struct cvmm_snap_reader *r,
			 const char *id, char *err, size_t errlen)
{
	struct vdev_common *d = dev;
	struct cvmm_snap_section ss, ds;
	struct cvmm_snap_error e = { .section = "" };
	char sec[CVMM_SNAP_ID_SIZE], dsec[CVMM_SNAP_ID_SIZE], why[256];
	void *state;
	int ret;

	if ((ret = cvmm_snap_id_fmt(sec, "dev/%s/%s", id, io->section)) ||
	    (ret = cvmm_snap_id_fmt(dsec, "dev/%s/device", id)) ||
	    (ret = cvmm_snap_reader_require(r, sec, io->version, &ss, &e)) ||
	    (ret = cvmm_snap_expect_len(&e, sec, NULL, ss.len, io->len)) ||
	    (ret = cvmm_snap_reader_require(r, dsec, 1, &ds, &e))) {
		char line[CVMM_SNAP_ERROR_LINE];

		snprintf(err, errlen, "%s", cvmm_snap_error_format(&e, line, sizeof(line)));
		return ret;
	}
	/* the section's bytes need not be aligned for the state's type */
	state = malloc(io->len);
	if (!state)
		return -ENOMEM;
	memcpy(state, ss.data, io->len);
	ret = io->restore(dev, state, ds.len ? ds.data : NULL, ds.len, why, sizeof(why));
	free(state);
	if (ret) {
		snprintf(err, errlen, "state section '%s': %s", sec, why);
		return ret;
	}
	for (unsigned int q = 0; q < d->o.dev->num_queues; q++) {
		int fd = io->notify_fd(dev, q);

		if (fd >= 0)
			cvmm_eventfd_write(fd, 1);
	}
	return 0;
}

static int mmio_save(void *dev, void *state, void *buf, size_t cap)
{
	return cvmm_virtio_mmio_save(((struct vdev *)dev)->t, state, buf, cap);
}

static int mmio_restore(void *dev, const void *state, const void *buf, size_t len, char *why,
			size_t whylen)
{
	return cvmm_virtio_mmio_restore(((struct vdev *)dev)->t, state, buf, len, why, whylen);
}

static int mmio_notify_fd(void *dev, unsigned int q)
{
	return cvmm_virtio_mmio_notify_fd(((struct vdev *)dev)->t, q);
}

static const struct vdev_transport_io mmio_tio = {
	.section = "transport",
	.version = CVMM_VIRTIO_TRANSPORT_STATE_VERSION,
	.len = sizeof(struct cvmm_virtio_transport_state),
	.save = mmio_save,
	.restore = mmio_restore,
	.notify_fd = mmio_notify_fd,
};

static int vdev_save(void *dev, struct cvmm_snap_writer *w, const char *id)
{
	return cvmm_vi_vdev_save(dev, &mmio_tio, w, id);
}

static int vdev_restore(void *dev, struct cvmm_snap_reader *r, const char *id, char *err,
			size_t errlen)
{
	return cvmm_vi_vdev_restore(dev, &mmio_tio, r, id, err, errlen);
}

static const struct cvmm_vmm_device_ops vdev_ops = {
	.pause = cvmm_vi_vdev_pause,
	.resume = cvmm_vi_vdev_resume,
	.dirty_log = cvmm_vi_vdev_dirty_log,
	.dirty_harvest = cvmm_vi_vdev_dirty_harvest,
	.memory_changed = cvmm_vi_vdev_memory_changed,
	.postcopy_begin = cvmm_vi_vdev_postcopy_begin,
	.postcopy_regions = cvmm_vi_vdev_postcopy_regions,
	.postcopy_end = cvmm_vi_vdev_postcopy_end,
	.save = vdev_save,
	.restore = vdev_restore,
	.destroy = vdev_destroy,
};

int cvmm_vmm_virtio_mmio_add(struct cvmm_vmm *vmm, const struct cvmm_vmm_virtio_opts *o,
			     char out_id[CVMM_VMM_ID_MAX], char *err, size_t errlen)
{
	struct cvmm_virtio_mmio_opts mo = { .sz = sizeof(mo) };
	uint64_t gsi;
	struct vdev *d;
	int ret;

	if (!vmm || !o || o->sz < sizeof(*o) || !o->dev || !o->kind || (!o->id && !o->prefix)) {
		snprintf(err, errlen, "virtio device: bad options");
		return -EINVAL;
	}
	if (o->dma) {
		snprintf(err, errlen, "%s: iommu=on needs transport=pci (the virtio-iommu "
			 "serves PCI endpoints)", o->kind);
		return -EINVAL;
	}
	if (!cvmm_vmm_device_loop(vmm))
		return -ENOMEM;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->c.vmm = vmm;
	d->c.o = *o;
	if (o->id)
		snprintf(d->c.id, sizeof(d->c.id), "%s", o->id);
	else if ((ret = cvmm_vmm_device_next_id(vmm, o->prefix, d->c.id)))
		goto fail_free;
	if (cvmm_vmm_device_find(vmm, d->c.id)) {
		snprintf(err, errlen, "%s: id '%s' is already in use", o->kind, d->c.id);
		ret = -EEXIST;
		goto fail_free;
	}
	ret = cvmm_vmm_alloc(vmm, CVMM_VMM_RES_MMIO32, CVMM_VMM_VIRTIO_MMIO_STRIDE,
			     CVMM_VMM_VIRTIO_MMIO_STRIDE, d->c.id, &d->base);
	if (!ret)
		ret = cvmm_vmm_alloc(vmm, CVMM_VMM_RES_GSI, 1, 0, d->c.id, &gsi);
	if (ret) {
		snprintf(err, errlen, "%s: no %s left for another device", o->kind,
			 ret == -ENOSPC ? "interrupt line or MMIO window" : "resource");
		goto fail_res;
	}
	d->gsi = (uint32_t)gsi;
	mo.dev = o->dev;
	mo.mem = vmm->mem;
	mo.em = vmm->dev_em;
	mo.used_irq_direct = o->used_irq_direct;
	ret = cvmm_virtio_mmio_create(&mo, &d->t);
	if (!ret)
		d->c.core = cvmm_virtio_mmio_transport(d->t);
	if (ret) {
		snprintf(err, errlen, "%s: virtio-mmio transport: %s", o->kind, strerror(-ret));
		goto fail_res;
	}
	ret = cvmm_vmm_bus_add(vmm, CVMM_VMM_MMIO, d->base, CVMM_VIRTIO_MMIO_SIZE, mmio_io, d,
			       o->kind);
	if (ret) {
		snprintf(err, errlen, "%s: MMIO bus: %s", o->kind, strerror(-ret));
		goto fail_t;
	}
	d->on_bus = true;
	for (unsigned int q = 0; q < o->dev->num_queues; q++) {
		uint64_t match = q;

		ret = cvmm_kvm_vm_register_ioeventfd(vmm->vm, cvmm_virtio_mmio_notify_fd(d->t, q),
						     CVMM_KVM_IO_MMIO,
						     d->base + CVMM_VIRTIO_MMIO_QUEUE_NOTIFY, 4, &match);
		if (ret) {
			snprintf(err, errlen, "%s: KVM_IOEVENTFD: %s", o->kind, strerror(-ret));
			goto fail_t;
		}
	}
	ret = cvmm_kvm_vm_register_irqfd(vmm->vm, cvmm_virtio_mmio_irq_fd(d->t), d->gsi, -1);
	if (ret) {
		snprintf(err, errlen, "%s: KVM_IRQFD on GSI %u: %s", o->kind, d->gsi, strerror(-ret));
		goto fail_t;
	}
	ret = cvmm_vmm_device_add(vmm, d->c.id, NULL, o->kind, &vdev_ops, d, out_id);
	if (ret) {
		snprintf(err, errlen, "%s: device table: %s", o->kind, strerror(-ret));
		goto fail_t;
	}
	return 0;
fail_t:
	/* Undo exactly what was done; the model stays the caller's. */
	d->c.o.destroy = NULL;
	d->c.o.detach = NULL;
	cvmm_vmm_alloc_free_owner(vmm, d->c.id);
	vdev_destroy(d);
	return ret;
fail_res:
	cvmm_vmm_alloc_free_owner(vmm, d->c.id);
fail_free:
	free(d);
	return ret;
}

int cvmm_vmm_virtio_mmio_list(const struct cvmm_vmm *vmm, struct cvmm_acpi_virtio_mmio *out,
			      unsigned int max)
{
	unsigned int n = 0;

	if (!vmm || (max && !out))
		return -EINVAL;
	for (unsigned int i = 0; i < vmm->ndev; i++) {
		const struct vdev *d = vmm->dev[i].dev;

		if (vmm->dev[i].ops != &vdev_ops)
			continue;
		if (n < max)
			out[n] = (struct cvmm_acpi_virtio_mmio){ .base = d->base,
								.size = CVMM_VIRTIO_MMIO_SIZE,
								.gsi = d->gsi };
		n++;
	}
	return (int)n;
}
