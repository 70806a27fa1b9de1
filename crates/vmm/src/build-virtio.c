/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio devices of a configuration: each option (--disk, --net, the vhost-user
 * devices, --vsock, --console, --rng) becomes a device model on the VM's
 * device loop, attached on virtio-pci (the default) or virtio-mmio
 * (transport=mmio) by the VM core, which owns it from then on. Within a transport, host
 * resources come first, so a bad disk or TAP fails before a console file
 * is created (a failed start removes it anyway).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/balloon.h>
#include <cvmm/virtio-devices/blk.h>
#include <cvmm/virtio-devices/console.h>
#include <cvmm/virtio-devices/iommu.h>
#include <cvmm/virtio-devices/mem.h>
#include <cvmm/virtio-devices/net.h>
#include <cvmm/virtio-devices/vhost-user.h>
#include <cvmm/virtio-devices/vsock.h>

#include <cvmm/vmm/vm.h>

#include "vm-internal.h"

static int vhost_pause(void *p) { return cvmm_vhost_user_dev_pause(p); }
static int vhost_resume(void *p) { return cvmm_vhost_user_dev_resume(p); }
static long vhost_dirty_harvest(void *p) { return cvmm_vhost_user_dev_log_harvest(p); }

static int vhost_dirty_log(void *p, bool on)
{
	return on ? cvmm_vhost_user_dev_log_start(p) : cvmm_vhost_user_dev_log_stop(p);
}

static int vhost_pc_begin(void *p, int *ufd) { return cvmm_vhost_user_dev_postcopy_begin(p, ufd); }
static int vhost_pc_end(void *p) { return cvmm_vhost_user_dev_postcopy_end(p); }

static unsigned int vhost_pc_regions(void *p, struct cvmm_vmm_pc_region *out, unsigned int max)
{
	struct cvmm_vhost_user_pc_region r[8]; /* the protocol's table size */
	unsigned int n = cvmm_vhost_user_dev_postcopy_regions(p, r, CVMM_ARRAY_SIZE(r));

	n = n < max ? n : max;
	for (unsigned int i = 0; i < n; i++)
		out[i] = (struct cvmm_vmm_pc_region){ r[i].gpa, r[i].size, r[i].addr };
	return n;
}

/* Hand @dev to the VM; on failure the model is destroyed here. */
static int attach(struct cvmm_vm *m, const struct cvmm_vm_tr *tr, struct cvmm_virtio_device *dev,
		  const char *id, const char *prefix, const char *kind, const char *opt, void *model,
		  void (*destroy)(void *), void (*detach)(void *), char *err, size_t errlen)
{
	struct cvmm_vmm_virtio_opts o = {
		.sz = sizeof(o), .id = id && *id ? id : NULL, .prefix = prefix, .kind = kind, .dev = dev, .model = model,
		.destroy = destroy, .detach = detach, .used_irq_direct = detach != NULL,
	};
	bool pci = cvmm_vm_tr_is_pci(&m->cfg->dev, tr);
	unsigned int slot = 0;
	char why[400], out[CVMM_VMM_ID_MAX];
	int ret;

	/* Behind the virtio-iommu: the endpoint is the slot's BDF. */
	if (tr->iommu) {
		if (m->only_id) {
			snprintf(err, errlen, "%s: iommu=on: a device behind the virtio-iommu cannot "
				 "be hotplugged (the VIOT is built at boot)", opt);
			ret = -EOPNOTSUPP;
		} else if (!m->iommu || !pci) {
			snprintf(err, errlen, "%s: iommu=on needs transport=pci", opt);
			ret = -EINVAL;
		} else {
			ret = cvmm_iommu_endpoint_add(m->iommu, tr->slot << 3, &o.dma);
			if (ret)
				snprintf(err, errlen, "%s: iommu=on: endpoint 0x%x: %s", opt,
					 tr->slot << 3, strerror(-ret));
		}
		if (ret) {
			destroy(model);
			return ret;
		}
	}

	/* A vhost-user backend owns the rings: the VM stops and starts them
	 * and reads its dirty log. */
	if (detach) {
		o.pause = vhost_pause;
		o.resume = vhost_resume;
		o.dirty_log = vhost_dirty_log;
		o.dirty_harvest = vhost_dirty_harvest;
		o.postcopy_begin = vhost_pc_begin;
		o.postcopy_regions = vhost_pc_regions;
		o.postcopy_end = vhost_pc_end;
	}
	if (pci) {
		/* The slot cvmm_vm_pci_assign() gave it (vm.add-* answered it). */
		o.pci_slot = tr->slot;
		ret = cvmm_vmm_virtio_pci_add(m->vmm, &o, out, &slot, why, sizeof(why));
	} else {
		ret = cvmm_vmm_virtio_mmio_add(m->vmm, &o, out, why, sizeof(why));
	}

	if (!ret && m->nmodels < CVMM_VM_VIRTIO_MAX) {
		struct cvmm_vm_model *r = &m->models[m->nmodels++];

		strcpy(r->id, out);
		r->kind = kind;
		r->model = model;
		r->pci_slot = slot;
	}
	if (ret) {
		snprintf(err, errlen, "%s: %s", opt, why);
		if (detach)
			detach(model);
		destroy(model);
	}
	return ret;
}

static void blk_destroy(void *p) { cvmm_blk_destroy(p); }
static void net_destroy(void *p) { cvmm_net_destroy(p); }
static void vsock_destroy(void *p) { cvmm_vsock_destroy(p); }
static void console_destroy(void *p) { cvmm_console_destroy(p); }
static void rng_destroy(void *p) { cvmm_rng_destroy(p); }
static void vhost_destroy(void *p) { cvmm_vhost_user_dev_destroy(p); }
static void vhost_detach(void *p) { cvmm_vhost_user_dev_detach(p); }

/* A hotplug adds one device of the configuration: the others are there. */
static bool skip(const struct cvmm_vm *m, const char *id)
{
	return m->only_id && (!id || strcmp(id, m->only_id));
}

static int add_disks(struct cvmm_vm *m, struct cvmm_event_manager *em, bool pci, char *err,
		      size_t errlen)
{
	const struct cvmm_vm_devices *d = &m->cfg->dev;

	for (unsigned int i = 0; i < d->ndisks; i++) {
		const struct cvmm_vm_disk *k = &d->disk[i];

		if (cvmm_vm_tr_is_pci(d, &k->tr) != pci || skip(m, k->id))
			continue;
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
				/* the source holds it until it hands it over */
				.lock_later = m->incoming,
			},
			.em = em,
			.rate = (k->ops_per_sec || k->bytes_per_sec) ? &rate : NULL,
			.queue_size = (uint16_t)k->queue_size,
		};
		struct cvmm_blk *blk;
		int ret = cvmm_blk_create(&o, &blk);

		if (ret) {
			if (ret == -EBUSY)
				snprintf(err, errlen, "--disk: path: '%s' is in use by another process (locked)",
					 k->path);
			else if (ret == -EINVAL && k->direct)
				snprintf(err, errlen, "--disk: direct: '%s' does not support O_DIRECT",
					 k->path);
			else
				snprintf(err, errlen, "--disk: path: cannot open '%s'%s: %s", k->path,
					 k->read_only ? " read-only" : "", strerror(-ret));
			return ret;
		}
		ret = attach(m, &k->tr, cvmm_blk_device(blk), k->id, "_disk", "virtio-blk", "--disk", blk,
			     blk_destroy, NULL, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

static int add_nets(struct cvmm_vm *m, struct cvmm_event_manager *em, bool pci, char *err,
		      size_t errlen)
{
	const struct cvmm_vm_devices *d = &m->cfg->dev;

	for (unsigned int i = 0; i < d->nnets; i++) {
		const struct cvmm_vm_net *k = &d->net[i];

		if (cvmm_vm_tr_is_pci(d, &k->tr) != pci || skip(m, k->id))
			continue;
		struct cvmm_net_opts o = {
			.sz = sizeof(o),
			.em = em,
			.tap_name = k->nfds ? NULL : k->tap,
			.tap_fds = k->nfds ? k->fds : NULL,
			.num_queue_pairs = (uint16_t)k->queues,
			.queue_size = (uint16_t)k->queue_size,
			.has_mac = k->has_mac,
			/* a local migration's TAP: the source's guest runs on it */
			.tap_live = k->nfds && m->incoming,
		};
		struct cvmm_net *net;
		int ret;

		memcpy(o.mac, k->mac, sizeof(o.mac));
		ret = cvmm_net_create(&o, &net);
		if (ret) {
			if (k->nfds)
				snprintf(err, errlen, "--net: fds: cannot use the %u TAP fds given: %s",
					 k->nfds, strerror(-ret));
			else
			snprintf(err, errlen, "--net: tap: cannot open '%s'%s: %s", k->tap,
				 k->queues > 1 ? " with several queues" : "",
				 ret == -EPERM ? "Operation not permitted (needs CAP_NET_ADMIN)" :
				 strerror(-ret));
			return ret;
		}
		ret = attach(m, &k->tr, cvmm_net_device(net), k->id, "_net", "virtio-net", "--net", net, net_destroy,
			     NULL, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

static int add_vhost(struct cvmm_vm *m, struct cvmm_event_manager *em, bool pci, char *err,
		      size_t errlen)
{
	const struct cvmm_vm_devices *d = &m->cfg->dev;

	for (unsigned int i = 0; i < d->nvhost; i++) {
		const struct cvmm_vm_vhost *c = &d->vhost[i];

		if (cvmm_vm_tr_is_pci(d, &c->tr) != pci || skip(m, c->id))
			continue;
		struct cvmm_vhost_user_dev_opts o = {
			.sz = sizeof(o), .socket = c->socket, .device_id = c->type,
			.queues = c->queues, .reconnect = c->reconnect, .fs_tag = c->tag,
			.em = em, .iommu = c->tr.iommu,
		};
		struct cvmm_vhost_user_dev *vu;
		char why[320];
		int ret = cvmm_vhost_user_dev_create(&o, &vu, why, sizeof(why));

		if (ret) {
			snprintf(err, errlen, "%s: %s", c->opt, why);
			return ret;
		}
		/* The backend signals the guest itself: its call fd is the
		 * transport's irqfd (used_irq_direct). */
		ret = attach(m, &c->tr, cvmm_vhost_user_dev_device(vu), c->id,
			     c->type == CVMM_VIRTIO_ID_BLOCK ? "_disk" :
			     c->type == CVMM_VIRTIO_ID_NET ? "_net" :
			     c->type == CVMM_VM_VIRTIO_ID_FS ? "_fs" : "_vhost_user",
			     "vhost-user", c->opt, vu, vhost_destroy, vhost_detach, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

static int add_vsock(struct cvmm_vm *m, struct cvmm_event_manager *em, bool pci, char *err,
		      size_t errlen)
{
	const struct cvmm_vm_devices *d = &m->cfg->dev;
	struct cvmm_vsock_opts o = {
		.sz = sizeof(o),
		.em = em,
		.guest_cid = d->vsock_cid,
		.uds_path = d->vsock_path,
	};
	struct cvmm_vsock *vs;
	int ret;

	if (!d->vsock || cvmm_vm_tr_is_pci(d, &d->vsock_tr) != pci || skip(m, d->vsock_id))
		return 0;
	/* A local migration's listener: the device takes a copy of its own
	 * (the configuration keeps one and closes it with its other fds). */
	if (d->vsock_has_fd) {
		o.inherit_listener = true;
		o.listener_fd = fcntl(d->vsock_fd, F_DUPFD_CLOEXEC, 3);
		if (o.listener_fd < 0) {
			ret = -errno;
			snprintf(err, errlen, "--vsock: the listener passed for '%s': %s",
				 d->vsock_path, strerror(-ret));
			return ret;
		}
	}
	ret = cvmm_vsock_create(&o, &vs);
	if (ret) {
		if (ret == -EADDRINUSE)
			snprintf(err, errlen, "--vsock: socket: '%s' already exists", d->vsock_path);
		else
			snprintf(err, errlen, "--vsock: socket: cannot listen on '%s': %s",
				 d->vsock_path, strerror(-ret));
		return ret;
	}
	return attach(m, &d->vsock_tr, cvmm_vsock_device(vs), d->vsock_id, "_vsock", "virtio-vsock", "--vsock", vs,
		      vsock_destroy, NULL, err, errlen);
}

static int add_console(struct cvmm_vm *m, struct cvmm_event_manager *em, bool pci, char *err,
		       size_t errlen)
{
	const struct cvmm_vm_devices *d = &m->cfg->dev;
	struct cvmm_console_opts o = { .sz = sizeof(o), .em = em, .in_fd = -1, .out_fd = -1 };
	struct cvmm_console *con;
	struct stat st;
	int ret;

	if (d->console == CVMM_VM_CONSOLE_NONE || cvmm_vm_tr_is_pci(d, &d->console_tr) != pci)
		return 0;
	if (d->console == CVMM_VM_CONSOLE_FILE) {
		m->con_out = open(d->console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (m->con_out < 0) {
			ret = -errno;
			snprintf(err, errlen, "--console: file: cannot open '%s': %s", d->console_path,
				 strerror(errno));
			return ret;
		}
		o.out_fd = m->con_out;
	} else {
		o.out_fd = STDOUT_FILENO;
		/* The serial port owns stdin when it is on stdio; a regular
		 * file cannot be polled, so it feeds nobody. */
		if (m->cfg->serial != CVMM_VM_SERIAL_STDIO && !fstat(STDIN_FILENO, &st) &&
		    !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			o.in_fd = STDIN_FILENO;
	}
	ret = cvmm_console_create(&o, &con);
	if (ret) {
		snprintf(err, errlen, "--console: %s", strerror(-ret));
		return ret;
	}
	return attach(m, &d->console_tr, cvmm_console_device(con), NULL, "__console", "virtio-console", "--console", con,
		      console_destroy, NULL, err, errlen);
}

static int add_rng(struct cvmm_vm *m, bool pci, char *err, size_t errlen)
{
	struct cvmm_rng_opts o = { .sz = sizeof(o) };
	struct cvmm_rng *rng;
	int ret;

	if (!m->cfg->dev.rng || cvmm_vm_tr_is_pci(&m->cfg->dev, &m->cfg->dev.rng_tr) != pci)
		return 0;
	ret = cvmm_rng_create(&o, &rng);
	if (ret) {
		snprintf(err, errlen, "--rng: %s", strerror(-ret));
		return ret;
	}
	return attach(m, &m->cfg->dev.rng_tr, cvmm_rng_device(rng), NULL, "__rng", "virtio-rng", "--rng", rng, rng_destroy,
		      NULL, err, errlen);
}

/* The PCI segment (PCI is the default transport; with --transport mmio
 * when a device or --pci asks for it): its ECAM and BAR
 * windows come after the virtio-mmio windows in the 32-bit hole. */
static int add_pci(struct cvmm_vm *m, char *err, size_t errlen)
{
	struct cvmm_vmm_pci_info pi;
	char why[300];
	int ret;

	if (!cvmm_vm_pci_wanted(&m->cfg->dev))
		return 0;
	ret = cvmm_vmm_pci_add(m->vmm, why, sizeof(why));
	if (ret) {
		snprintf(err, errlen, "PCI segment: %s", why);
		return ret;
	}
	if (!cvmm_vmm_pci_info(m->vmm, &pi))
		cvmm_log(CVMM_LOG_INFO, "microvm",
			 "pci: segment 0, ECAM at %#llx, 32-bit BAR window %#llx (%llu MiB), "
			 "64-bit %#llx (%llu MiB)", (unsigned long long)pi.ecam_base,
			 (unsigned long long)pi.mmio32_base,
			 (unsigned long long)(pi.mmio32_size >> 20),
			 (unsigned long long)pi.mmio64_base,
			 (unsigned long long)(pi.mmio64_size >> 20));
	return 0;
}

/* The virtio-iommu ahead of the devices behind it. The VM (not the VM
 * core) owns it: it is freed after every device (cvmm_vm_teardown). */
static void iommu_keep(void *p) { (void)p; }

static int add_iommu(struct cvmm_vm *m, char *err, size_t errlen)
{
	struct cvmm_iommu_opts o = { .sz = sizeof(o) };
	int ret;

	if (!cvmm_vm_iommu_wanted(&m->cfg->dev) || m->only_id)
		return 0;
	ret = cvmm_iommu_create(&o, &m->iommu);
	if (ret) {
		snprintf(err, errlen, "virtio-iommu: %s", strerror(-ret));
		return ret;
	}
	return attach(m, &m->cfg->dev.iommu_tr, cvmm_iommu_device(m->iommu), NULL, "__iommu",
		      "virtio-iommu", "iommu=on", m->iommu, iommu_keep, NULL, err, errlen);
}

static void balloon_destroy(void *p) { cvmm_balloon_destroy(p); }

static int add_balloon(struct cvmm_vm *m, struct cvmm_event_manager *em, bool pci, char *err,
		       size_t errlen)
{
	const struct cvmm_vm_devices *d = &m->cfg->dev;
	struct cvmm_balloon_opts o = {
		.sz = sizeof(o), .num_pages = (uint32_t)(d->balloon_size / CVMM_BALLOON_PAGE_SIZE),
		.deflate_on_oom = d->balloon_oom, .stats = true, .em = em,
		.free_page_reporting = d->balloon_fpr,
	};
	struct cvmm_balloon *b;
	int ret;

	if (!d->balloon || cvmm_vm_tr_is_pci(d, &d->balloon_tr) != pci || skip(m, NULL))
		return 0;
	ret = cvmm_balloon_create(&o, &b);
	if (ret) {
		snprintf(err, errlen, "--balloon: %s", strerror(-ret));
		return ret;
	}
	return attach(m, &d->balloon_tr, cvmm_balloon_device(b), NULL, "__balloon", "virtio-balloon",
		      "--balloon", b, balloon_destroy, NULL, err, errlen);
}

static void vmem_destroy(void *p) { cvmm_virtio_mem_destroy(p); }

/*
 * virtio-mem: its region in the 64-bit area after RAM (the allocator's,
 * 1 GiB aligned, so Linux's 128 MiB memory blocks line up), mapped like
 * RAM (a memfd with shared memory, so vhost-user backends get it too) but
 * flagged HOTPLUG: a KVM memory slot the dirty log covers, yet no e820
 * entry: the guest learns of it from the device alone. Untouched memory
 * costs nothing (NORESERVE); unplugged blocks go back to the host.
 */
static int add_vmem(struct cvmm_vm *m, bool pci, char *err, size_t errlen)
{
	const struct cvmm_vm_config *c = m->cfg;
	const struct cvmm_vm_devices *d = &c->dev;
	struct cvmm_mem_region_opts ro = {
		.sz = sizeof(ro), .size = d->vmem_size, .fd = -1,
		.backing = c->mem_shared ? CVMM_MEM_MEMFD : CVMM_MEM_ANON,
		.flags = CVMM_MEM_F_NORESERVE | CVMM_MEM_F_HOTPLUG |
			 (c->mem_shared ? CVMM_MEM_F_SHARED : 0),
	};
	struct cvmm_virtio_mem_opts o = {
		.sz = sizeof(o), .region_size = d->vmem_size, .block_size = CVMM_VM_VMEM_BLOCK,
		.requested_size = d->vmem_requested,
	};
	struct cvmm_virtio_mem *vm;
	int ret;

	if (!d->vmem || cvmm_vm_tr_is_pci(d, &d->vmem_tr) != pci || skip(m, NULL))
		return 0;
	ret = cvmm_vmm_alloc(m->vmm, CVMM_VMM_RES_MMIO64, d->vmem_size, 1ull << 30, "__vmem",
			     &ro.gpa);
	if (ret) {
		snprintf(err, errlen, "--memory: hotplug_size: no room for %llu bytes above RAM: %s",
			 (unsigned long long)d->vmem_size, strerror(-ret));
		return ret;
	}
	ret = cvmm_vmm_memory_add(m->vmm, &ro);
	if (ret) {
		snprintf(err, errlen, "--memory: hotplug_size: cannot map %llu bytes at %#llx: %s",
			 (unsigned long long)d->vmem_size, (unsigned long long)ro.gpa,
			 strerror(-ret));
		return ret;
	}
	o.addr = ro.gpa;
	ret = cvmm_virtio_mem_create(&o, &vm);
	if (ret) {
		snprintf(err, errlen, "--memory: virtio-mem: %s", strerror(-ret));
		return ret;
	}
	cvmm_log(CVMM_LOG_INFO, "microvm", "virtio-mem region [%#llx, +%llu MiB), %llu MiB plugged",
		 (unsigned long long)ro.gpa, (unsigned long long)(d->vmem_size >> 20),
		 (unsigned long long)(d->vmem_requested >> 20));
	return attach(m, &d->vmem_tr, cvmm_virtio_mem_device(vm), NULL, "__vmem", "virtio-mem",
		      "--memory", vm, vmem_destroy, NULL, err, errlen);
}

/*
 * The ACPI GED (power button, PCI hotplug) after the virtio-mmio devices,
 * whose windows and lines stay where they were; with every line taken by
 * them the VM goes without (logged).
 */
static int add_ged(struct cvmm_vm *m, char *err, size_t errlen)
{
	char why[300];
	int ret = cvmm_vmm_ged_add(m->vmm, why, sizeof(why));

	if (ret == -ENOSPC) {
		cvmm_log(CVMM_LOG_WARN, "microvm", "%s: no power button, no PCI hotplug", why);
		return 0;
	}
	if (ret)
		snprintf(err, errlen, "%s", why);
	return ret;
}

int cvmm_vm_devices_attach(struct cvmm_vm *m, char *err, size_t errlen)
{
	struct cvmm_event_manager *em;
	int ret;

	m->nmodels = 0;
	if (cvmm_vm_virtio_count(&m->cfg->dev) == 0)
		return (ret = add_ged(m, err, errlen)) ? ret : add_pci(m, err, errlen);
	/* PCI devices have their slots (cvmm_vm_pci_assign, when the
	 * configuration was parsed or the API added them). */
	if (cvmm_vm_virtio_count(&m->cfg->dev) > CVMM_VM_VIRTIO_MAX) {
		snprintf(err, errlen, "--disk: too many devices (at most %u in all)",
			 CVMM_VM_VIRTIO_MAX);
		return -E2BIG;
	}
	em = cvmm_vmm_device_loop(m->vmm);
	if (!em) {
		snprintf(err, errlen, "virtio event loop: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	/* virtio-mmio devices first, then PCI and its devices: the mmio
	 * windows keep their places (0xd0000000 + i * 4 KiB) with --pci. */
	for (int pass = 0; pass < 2; pass++) {
		bool pci = pass == 1;

		if (pci && ((ret = add_ged(m, err, errlen)) || (ret = add_pci(m, err, errlen)) ||
			    (ret = add_iommu(m, err, errlen))))
			return ret;
		if ((ret = add_disks(m, em, pci, err, errlen)) ||
		    (ret = add_nets(m, em, pci, err, errlen)) ||
		    (ret = add_vhost(m, em, pci, err, errlen)) ||
		    (ret = add_vsock(m, em, pci, err, errlen)) ||
		    (ret = add_console(m, em, pci, err, errlen)) ||
		    (ret = add_rng(m, pci, err, errlen)) ||
		    (ret = add_balloon(m, em, pci, err, errlen)) ||
		    (ret = add_vmem(m, pci, err, errlen)))
			return ret;
	}
	return 0;
}

int cvmm_vm_device_hotplug(struct cvmm_vm *m, const char *id, char *err, size_t errlen)
{
	struct cvmm_event_manager *em;
	unsigned int n0;
	int ret, r2;

	if (!m || !m->vmm || !id)
		return -EINVAL;
	em = cvmm_vmm_device_loop(m->vmm);
	n0 = m->nmodels;
	if (!em) {
		snprintf(err, errlen, "virtio event loop: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	if (!cvmm_vmm_pci_segment(m->vmm)) {
		snprintf(err, errlen, "the VM has no PCI segment (it booted with --transport "
			 "mmio: add --pci or a device on transport=pci)");
		return -EOPNOTSUPP;
	}
	if (cvmm_vmm_ged_info(m->vmm, NULL, NULL)) {
		snprintf(err, errlen, "the VM has no ACPI GED (virtio-mmio devices took every "
			 "interrupt line)");
		return -EOPNOTSUPP;
	}
	ret = cvmm_vmm_hotplug_begin(m->vmm);
	if (ret) {
		snprintf(err, errlen, "hotplug: %s", strerror(-ret));
		return ret;
	}
	m->only_id = id;
	if (!(ret = add_disks(m, em, true, err, errlen)) &&
	    !(ret = add_nets(m, em, true, err, errlen)) &&
	    !(ret = add_vhost(m, em, true, err, errlen)))
		ret = add_vsock(m, em, true, err, errlen);
	m->only_id = NULL;
	r2 = cvmm_vmm_hotplug_end(m->vmm);
	if (!ret && m->nmodels == n0) {
		snprintf(err, errlen, "no PCI device '%s' in the configuration", id);
		ret = -ENOENT;
	}
	if (!ret && r2)
		cvmm_log(CVMM_LOG_WARN, "microvm", "hotplug of '%s': resume: %s", id, strerror(-r2));
	return ret;
}

void cvmm_vm_model_forget(struct cvmm_vm *m, const char *id)
{
	for (unsigned int i = 0; i < m->nmodels; i++)
		if (!strcmp(m->models[i].id, id)) {
			memmove(&m->models[i], &m->models[i + 1],
				(m->nmodels - i - 1) * sizeof(m->models[0]));
			m->nmodels--;
			return;
		}
}
