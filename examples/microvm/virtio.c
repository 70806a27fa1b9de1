/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-mmio devices of cvmm-microvm. Every device model and transport
 * runs on one device thread (an event-manager loop); vCPU threads reach a
 * transport only through its registers (cvmm_virtio_mmio_access), and KVM
 * turns QueueNotify writes and interrupts into eventfd signals, so no vCPU
 * ever waits for disk or console I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cvmm/event-manager.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/blk.h>
#include <cvmm/virtio-devices/console.h>
#include <cvmm/virtio-devices/net.h>
#include <cvmm/virtio-devices/vsock.h>

#include <cvmm/virtio-devices/vhost-user.h>
#include "virtio.h"
#include "vmm.h"

struct vslot {
	struct vmm *v;
	struct cvmm_virtio_mmio *t;
	const char *name;
	uint64_t base;
	uint32_t gsi;
	unsigned int nq;
};

struct vmm_virtio {
	struct vmm *v;
	struct cvmm_event_manager *em;
	pthread_t thread;
	bool running;
	struct cvmm_blk *blk[MICROVM_MAX_DISKS];
	unsigned int nblk;
	struct cvmm_console *con;
	int con_out;             /* opened here for file=PATH, else -1 */
	struct cvmm_rng *rng;
	struct cvmm_net *net[MICROVM_MAX_NETS];
	unsigned int nnet;
	struct cvmm_vsock *vsock;
	struct cvmm_vhost_user_dev *vu[MICROVM_MAX_VHOST];
	unsigned int nvu;
	struct vslot slot[MICROVM_VIRTIO_MAX];
	unsigned int n;
};

static void mmio_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct vslot *s = opaque;

	if (cvmm_virtio_mmio_access(s->t, offset, data, len, is_write) && !is_write)
		memset(data, 0xff, len);
}

static void *device_thread(void *arg)
{
	struct vmm_virtio *vv = arg;
	int ret;

	cvmm_thread_set_name("virtio");
	if (cvmm_sandbox_install(vv->v->sandbox, "virtio")) {
		cvmm_log(CVMM_LOG_ERROR, "microvm", "virtio device thread: cannot install the seccomp filter");
		vmm_request_stop(vv->v, VM_STOP_HOST_ERROR, 3);
		return NULL;
	}
	ret = cvmm_event_manager_run(vv->em);
	if (ret)
		cvmm_log(CVMM_LOG_ERROR, "microvm", "virtio device loop: %s", strerror(-ret));
	return NULL;
}

/* Attach @dev to the next slot: transport, MMIO bus range, ioeventfds, irqfd.
 * @direct: someone outside the VMM writes the irqfd (a vhost-user backend). */
static int attach_irq(struct vmm *v, struct cvmm_virtio_device *dev, const char *name,
		      const char *opt, bool direct, char *err, size_t errlen)
{
	struct vmm_virtio *vv = v->virtio;
	struct vslot *s = &vv->slot[vv->n];
	struct cvmm_virtio_mmio_opts o = {
		.sz = sizeof(o), .dev = dev, .mem = v->mem, .em = vv->em, .used_irq_direct = direct,
	};
	int ret;

	*s = (struct vslot){
		.v = v,
		.name = name,
		.base = MICROVM_VIRTIO_BASE + vv->n * MICROVM_VIRTIO_STRIDE,
		.gsi = microvm_virtio_gsi(vv->n),
		.nq = dev->num_queues,
	};
	ret = cvmm_virtio_mmio_create(&o, &s->t);
	if (ret) {
		snprintf(err, errlen, "%s: virtio-mmio transport: %s", opt, strerror(-ret));
		return ret;
	}
	vv->n++;
	ret = bus_add(&v->mmio, s->base, CVMM_VIRTIO_MMIO_SIZE, mmio_io, s, name);
	if (ret) {
		snprintf(err, errlen, "%s: MMIO bus: %s", opt, strerror(-ret));
		return ret;
	}
	for (unsigned int q = 0; q < s->nq; q++) {
		uint64_t match = q;

		ret = cvmm_kvm_vm_register_ioeventfd(v->vm, cvmm_virtio_mmio_notify_fd(s->t, q),
						     CVMM_KVM_IO_MMIO,
						     s->base + CVMM_VIRTIO_MMIO_QUEUE_NOTIFY, 4, &match);
		if (ret) {
			snprintf(err, errlen, "%s: KVM_IOEVENTFD: %s", opt, strerror(-ret));
			return ret;
		}
	}
	ret = cvmm_kvm_vm_register_irqfd(v->vm, cvmm_virtio_mmio_irq_fd(s->t), s->gsi, -1);
	if (ret) {
		snprintf(err, errlen, "%s: KVM_IRQFD on GSI %u: %s", opt, s->gsi, strerror(-ret));
		return ret;
	}
	return 0;
}

static int attach(struct vmm *v, struct cvmm_virtio_device *dev, const char *name,
		  const char *opt, char *err, size_t errlen)
{
	return attach_irq(v, dev, name, opt, false, err, errlen);
}

static int add_disks(struct vmm *v, char *err, size_t errlen)
{
	const struct microvm_devices *d = &v->cfg->dev;
	struct vmm_virtio *vv = v->virtio;

	for (unsigned int i = 0; i < d->ndisks; i++) {
		const struct microvm_disk *k = &d->disk[i];
		struct cvmm_rate_limiter_opts rate = {
			.sz = sizeof(rate),
			.ops_per_sec = k->ops_per_sec,
			/* A tenth of a second's worth of burst: the limit shows
			 * after a few requests, not after a second's worth. */
			.ops_burst = k->ops_per_sec ? (k->ops_per_sec + 9) / 10 : 0,
			.bytes_per_sec = k->bytes_per_sec,
			.bytes_burst = k->bytes_per_sec ? (k->bytes_per_sec + 9) / 10 : 0,
		};
		struct cvmm_blk_opts o = {
			.sz = sizeof(o),
			.backend = {
				.sz = sizeof(o.backend),
				.path = k->path,
				.fd = -1,
				.read_only = k->read_only,
				.direct = k->direct,
			},
			.em = vv->em,
			.rate = (k->ops_per_sec || k->bytes_per_sec) ? &rate : NULL,
		};
		int ret = cvmm_blk_create(&o, &vv->blk[vv->nblk]);

		if (ret) {
			if (ret == -EINVAL && k->direct)
				snprintf(err, errlen, "--disk: direct: '%s' does not support O_DIRECT",
					 k->path);
			else
				snprintf(err, errlen, "--disk: path: cannot open '%s'%s: %s", k->path,
					 k->read_only ? " read-only" : "", strerror(-ret));
			return ret;
		}
		vv->nblk++;
		ret = attach(v, cvmm_blk_device(vv->blk[vv->nblk - 1]), "virtio-blk", "--disk", err,
			     errlen);
		if (ret)
			return ret;
	}
	return 0;
}

static int add_nets(struct vmm *v, char *err, size_t errlen)
{
	const struct microvm_devices *d = &v->cfg->dev;
	struct vmm_virtio *vv = v->virtio;

	for (unsigned int i = 0; i < d->nnets; i++) {
		const struct microvm_net *k = &d->net[i];
		struct cvmm_net_opts o = {
			.sz = sizeof(o),
			.em = vv->em,
			.tap_name = k->tap,
			.num_queue_pairs = (uint16_t)k->queues,
			.has_mac = k->has_mac,
		};
		int ret;

		memcpy(o.mac, k->mac, sizeof(o.mac));
		ret = cvmm_net_create(&o, &vv->net[vv->nnet]);
		if (ret) {
			snprintf(err, errlen, "--net: tap: cannot open '%s'%s: %s", k->tap,
				 k->queues > 1 ? " with several queues" : "",
				 ret == -EPERM ? "Operation not permitted (needs CAP_NET_ADMIN)" :
				 strerror(-ret));
			return ret;
		}
		vv->nnet++;
		ret = attach(v, cvmm_net_device(vv->net[vv->nnet - 1]), "virtio-net", "--net", err,
			     errlen);
		if (ret)
			return ret;
	}
	return 0;
}

static int add_vhost(struct vmm *v, char *err, size_t errlen)
{
	const struct microvm_devices *d = &v->cfg->dev;
	struct vmm_virtio *vv = v->virtio;

	for (unsigned int i = 0; i < d->nvhost; i++) {
		const struct microvm_vhost *c = &d->vhost[i];
		struct cvmm_vhost_user_dev_opts o = {
			.sz = sizeof(o), .socket = c->socket, .device_id = c->type,
			.queues = c->queues, .reconnect = c->reconnect, .fs_tag = c->tag,
			.em = vv->em,
		};
		char why[320];
		int ret = cvmm_vhost_user_dev_create(&o, &vv->vu[vv->nvu], why, sizeof(why));

		vv->nvu++;
		if (ret) {
			snprintf(err, errlen, "%s: %s", c->opt, why);
			return ret;
		}
		ret = attach_irq(v, cvmm_vhost_user_dev_device(vv->vu[vv->nvu - 1]), "vhost-user",
				 c->opt, true, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

static int add_vsock(struct vmm *v, char *err, size_t errlen)
{
	const struct microvm_devices *d = &v->cfg->dev;
	struct vmm_virtio *vv = v->virtio;
	struct cvmm_vsock_opts o = {
		.sz = sizeof(o),
		.em = vv->em,
		.guest_cid = d->vsock_cid,
		.uds_path = d->vsock_path,
	};
	int ret;

	if (!d->vsock)
		return 0;
	ret = cvmm_vsock_create(&o, &vv->vsock);
	if (ret) {
		if (ret == -EADDRINUSE)
			snprintf(err, errlen, "--vsock: socket: '%s' already exists", d->vsock_path);
		else
			snprintf(err, errlen, "--vsock: socket: cannot listen on '%s': %s",
				 d->vsock_path, strerror(-ret));
		return ret;
	}
	return attach(v, cvmm_vsock_device(vv->vsock), "virtio-vsock", "--vsock", err, errlen);
}

static int add_console(struct vmm *v, char *err, size_t errlen)
{
	const struct microvm_devices *d = &v->cfg->dev;
	struct vmm_virtio *vv = v->virtio;
	struct cvmm_console_opts o = { .sz = sizeof(o), .em = vv->em, .in_fd = -1, .out_fd = -1 };
	struct stat st;
	int ret;

	if (d->console == CONSOLE_NONE)
		return 0;
	if (d->console == CONSOLE_FILE) {
		vv->con_out = open(d->console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (vv->con_out < 0) {
			ret = -errno;
			snprintf(err, errlen, "--console: file: cannot open '%s': %s", d->console_path,
				 strerror(errno));
			return ret;
		}
		o.out_fd = vv->con_out;
	} else {
		o.out_fd = STDOUT_FILENO;
		/* The serial port owns stdin when it is on stdio; a regular
		 * file cannot be polled, so it feeds nobody. */
		if (v->cfg->serial != SERIAL_STDIO && !fstat(STDIN_FILENO, &st) &&
		    !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			o.in_fd = STDIN_FILENO;
	}
	ret = cvmm_console_create(&o, &vv->con);
	if (ret) {
		snprintf(err, errlen, "--console: %s", strerror(-ret));
		return ret;
	}
	return attach(v, cvmm_console_device(vv->con), "virtio-console", "--console", err, errlen);
}

static int add_rng(struct vmm *v, char *err, size_t errlen)
{
	struct vmm_virtio *vv = v->virtio;
	struct cvmm_rng_opts o = { .sz = sizeof(o) };
	int ret;

	if (!v->cfg->dev.rng)
		return 0;
	ret = cvmm_rng_create(&o, &vv->rng);
	if (ret) {
		snprintf(err, errlen, "--rng: %s", strerror(-ret));
		return ret;
	}
	return attach(v, cvmm_rng_device(vv->rng), "virtio-rng", "--rng", err, errlen);
}

int vmm_virtio_init(struct vmm *v, char *err, size_t errlen)
{
	struct vmm_virtio *vv;
	int ret;

	if (microvm_virtio_count(&v->cfg->dev) == 0)
		return 0;
	if (microvm_virtio_count(&v->cfg->dev) > MICROVM_VIRTIO_MAX) {
		snprintf(err, errlen, "--disk: too many devices (at most %u in all)",
			 MICROVM_VIRTIO_MAX);
		return -E2BIG;
	}
	vv = calloc(1, sizeof(*vv));
	if (!vv)
		return -ENOMEM;
	vv->con_out = -1;
	vv->v = v;
	v->virtio = vv;
	ret = cvmm_event_manager_create(NULL, &vv->em);
	if (ret) {
		snprintf(err, errlen, "virtio event loop: %s", strerror(-ret));
		return ret;
	}
	/* Host resources first: a bad disk or TAP must fail before a console
	 * file is created. */
	if ((ret = add_disks(v, err, errlen)) || (ret = add_nets(v, err, errlen)) ||
	    (ret = add_vhost(v, err, errlen)) ||
	    (ret = add_vsock(v, err, errlen)) || (ret = add_console(v, err, errlen)) ||
	    (ret = add_rng(v, err, errlen)))
		return ret;
	ret = -pthread_create(&vv->thread, NULL, device_thread, vv);
	if (ret) {
		snprintf(err, errlen, "virtio device thread: %s", strerror(-ret));
		return ret;
	}
	vv->running = true;
	return 0;
}

void vmm_virtio_fini(struct vmm *v)
{
	struct vmm_virtio *vv = v->virtio;

	if (!vv)
		return;
	if (vv->running) {
		cvmm_event_manager_stop(vv->em);
		pthread_join(vv->thread, NULL);
	}
	/* The ioeventfds and irqfds stay registered: the VM is destroyed next
	 * and KVM drops them with it (holding its own eventfd references), so
	 * teardown needs no KVM ioctl from a thread under seccomp. */
	for (unsigned int i = 0; i < vv->nvu; i++)
		cvmm_vhost_user_dev_detach(vv->vu[i]);
	for (unsigned int i = 0; i < vv->n; i++)
		cvmm_virtio_mmio_destroy(vv->slot[i].t);
	for (unsigned int i = 0; i < vv->nblk; i++)
		cvmm_blk_destroy(vv->blk[i]);
	cvmm_console_destroy(vv->con);
	cvmm_rng_destroy(vv->rng);
	for (unsigned int i = 0; i < vv->nnet; i++)
		cvmm_net_destroy(vv->net[i]);
	cvmm_vsock_destroy(vv->vsock);
	for (unsigned int i = 0; i < vv->nvu; i++)
		cvmm_vhost_user_dev_destroy(vv->vu[i]);
	cvmm_event_manager_destroy(vv->em);
	cvmm_close(vv->con_out);
	free(vv);
	v->virtio = NULL;
}

unsigned int vmm_virtio_acpi(const struct vmm *v, struct cvmm_acpi_virtio_mmio *out)
{
	const struct vmm_virtio *vv = v->virtio;

	if (!vv)
		return 0;
	for (unsigned int i = 0; i < vv->n; i++)
		out[i] = (struct cvmm_acpi_virtio_mmio){
			.base = vv->slot[i].base,
			.size = CVMM_VIRTIO_MMIO_SIZE,
			.gsi = vv->slot[i].gsi,
			.level = false,
		};
	return vv->n;
}

int vmm_virtio_cmdline(const struct vmm *v, struct cvmm_cmdline *c)
{
	const struct vmm_virtio *vv = v->virtio;

	for (unsigned int i = 0; vv && i < vv->n; i++) {
		int ret = cvmm_cmdline_add_virtio_mmio(c, CVMM_VIRTIO_MMIO_SIZE, vv->slot[i].base,
						       vv->slot[i].gsi);

		if (ret)
			return ret;
	}
	return 0;
}
