/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A VM configuration's devices as a whole: counts, transports and PCI
 * slots, ids, removal; the files a VM reads, checked before anything is
 * created; and the output files a failed start removes again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cvmm/virtio-devices.h>
#include <cvmm/vmm/config.h>

#include "vm-internal.h"

#define fail(err, errlen, ...) cvmm_vm_errf(err, errlen, -EINVAL, __VA_ARGS__)

void cvmm_vm_devices_clear(struct cvmm_vm_devices *d)
{
	memset(d, 0, offsetof(struct cvmm_vm_devices, disk));
}

void cvmm_vm_config_init(struct cvmm_vm_config *c)
{
	c->kernel = c->initrd = c->cmdline = c->serial_path = NULL;
	c->cpus = 1;
	c->memory = CVMM_VM_DEFAULT_MEMORY;
	c->serial = CVMM_VM_SERIAL_STDIO;
	c->boot_timer = c->mem_shared = c->hugepages = c->prefault = false;
	cvmm_vm_devices_clear(&c->dev);
}

unsigned int cvmm_vm_virtio_count(const struct cvmm_vm_devices *d)
{
	return d->ndisks + (d->console != CVMM_VM_CONSOLE_NONE) + d->rng + d->nnets + d->vsock +
	       d->nvhost + d->balloon + cvmm_vm_iommu_wanted(d) + d->vmem;
}

/* What a device of kind @k gets in @d: its own, else the VM's, else the
 * toolkit's default. */
static enum cvmm_vm_transport effective(const struct cvmm_vm_devices *d,
					enum cvmm_vm_transport k)
{
	if (k == CVMM_VM_TR_DEFAULT)
		k = d->transport;
	if (k == CVMM_VM_TR_DEFAULT)
		k = CVMM_VM_TR_PCI; /* as Cloud Hypervisor */
	return k;
}

bool cvmm_vm_tr_is_pci(const struct cvmm_vm_devices *d, const struct cvmm_vm_tr *t)
{
	return effective(d, t->kind) == CVMM_VM_TR_PCI;
}

/* Every device's transport, in the order virtio.c attaches them (NULL for
 * a device the configuration does not have); @ids gets their ids. */
static unsigned int transports(struct cvmm_vm_devices *d, struct cvmm_vm_tr **t,
			       const char **ids)
{
	unsigned int n = 0;

	/* The virtio-iommu first: it exists only with an iommu=on device. */
	for (unsigned int i = 0; i < d->ndisks; i++)
		if (d->disk[i].tr.iommu)
			goto iommu;
	for (unsigned int i = 0; i < d->nnets; i++)
		if (d->net[i].tr.iommu)
			goto iommu;
	for (unsigned int i = 0; i < d->nvhost; i++)
		if (d->vhost[i].tr.iommu)
			goto iommu;
	if (!((d->vsock && d->vsock_tr.iommu) || (d->rng && d->rng_tr.iommu)))
		goto rest;
iommu:
	d->iommu_tr.kind = CVMM_VM_TR_PCI;
	t[n] = &d->iommu_tr, ids[n++] = "__iommu";
rest:
	for (unsigned int i = 0; i < d->ndisks; i++, n++)
		t[n] = &d->disk[i].tr, ids[n] = d->disk[i].id;
	for (unsigned int i = 0; i < d->nnets; i++, n++)
		t[n] = &d->net[i].tr, ids[n] = d->net[i].id;
	for (unsigned int i = 0; i < d->nvhost; i++, n++)
		t[n] = &d->vhost[i].tr, ids[n] = d->vhost[i].id;
	if (d->vsock)
		t[n] = &d->vsock_tr, ids[n++] = d->vsock_id;
	if (d->console != CVMM_VM_CONSOLE_NONE)
		t[n] = &d->console_tr, ids[n++] = "__console";
	if (d->rng)
		t[n] = &d->rng_tr, ids[n++] = "__rng";
	if (d->balloon)
		t[n] = &d->balloon_tr, ids[n++] = "__balloon";
	if (d->vmem)
		t[n] = &d->vmem_tr, ids[n++] = "__vmem";
	return n;
}

#define ALL_DEVICES (CVMM_VM_MAX_DISKS + CVMM_VM_MAX_NETS + CVMM_VM_MAX_VHOST + 6)

bool cvmm_vm_iommu_wanted(const struct cvmm_vm_devices *d)
{
	struct cvmm_vm_tr *t[ALL_DEVICES];
	const char *ids[ALL_DEVICES];
	unsigned int n = transports((struct cvmm_vm_devices *)d, t, ids);

	for (unsigned int i = 0; i < n; i++)
		if (t[i]->iommu)
			return true;
	return false;
}

/* iommu=on devices must be on PCI; the virtio-iommu then takes a slot. */
int cvmm_vm_iommu_check(struct cvmm_vm_devices *d, char *err, size_t errlen)
{
	const char *opt = NULL;

	for (unsigned int i = 0; i < d->ndisks && !opt; i++)
		if (d->disk[i].tr.iommu && !cvmm_vm_tr_is_pci(d, &d->disk[i].tr))
			opt = "--disk";
	for (unsigned int i = 0; i < d->nnets && !opt; i++)
		if (d->net[i].tr.iommu && !cvmm_vm_tr_is_pci(d, &d->net[i].tr))
			opt = "--net";
	for (unsigned int i = 0; i < d->nvhost && !opt; i++)
		if (d->vhost[i].tr.iommu && !cvmm_vm_tr_is_pci(d, &d->vhost[i].tr))
			opt = d->vhost[i].opt;
	if (!opt && d->vsock && d->vsock_tr.iommu && !cvmm_vm_tr_is_pci(d, &d->vsock_tr))
		opt = "--vsock";
	if (!opt && d->rng && d->rng_tr.iommu && !cvmm_vm_tr_is_pci(d, &d->rng_tr))
		opt = "--rng";
	if (opt)
		return fail(err, errlen, "%s: iommu=on needs transport=pci (not mmio): the "
			    "virtio-iommu serves PCI devices", opt);
	d->iommu_tr.kind = CVMM_VM_TR_PCI;
	if (!cvmm_vm_iommu_wanted(d))
		d->iommu_tr.slot = 0;
	return 0;
}

bool cvmm_vm_pci_wanted(const struct cvmm_vm_devices *d)
{
	struct cvmm_vm_tr *t[ALL_DEVICES];
	const char *ids[ALL_DEVICES];
	unsigned int n = transports((struct cvmm_vm_devices *)d, t, ids);

	for (unsigned int i = 0; i < n; i++)
		if (cvmm_vm_tr_is_pci(d, t[i]))
			return true;
	/* A VM whose devices default to PCI has the segment from the start:
	 * vm.add-* can then plug a device into the running guest. */
	return d->pci || effective(d, CVMM_VM_TR_DEFAULT) == CVMM_VM_TR_PCI;
}

int cvmm_vm_pci_assign(struct cvmm_vm_devices *d)
{
	struct cvmm_vm_tr *t[ALL_DEVICES];
	const char *ids[ALL_DEVICES];
	unsigned int n = transports(d, t, ids);
	uint32_t used = 1; /* 00.0: the host bridge */

	for (unsigned int i = 0; i < n; i++) {
		if (!cvmm_vm_tr_is_pci(d, t[i]))
			t[i]->slot = 0; /* the default may have changed (a new VmConfig) */
		else if (t[i]->slot)
			used |= 1u << t[i]->slot;
	}
	for (unsigned int i = 0; i < n; i++) {
		unsigned int s = 1;

		if (!cvmm_vm_tr_is_pci(d, t[i]) || t[i]->slot)
			continue;
		while (s < 32 && (used & (1u << s)))
			s++;
		if (s == 32)
			return -ENOSPC;
		t[i]->slot = s;
		used |= 1u << s;
	}
	return 0;
}

unsigned int cvmm_vm_pci_slot_of(const struct cvmm_vm_devices *d, const char *id)
{
	struct cvmm_vm_tr *t[ALL_DEVICES];
	const char *ids[ALL_DEVICES];
	unsigned int n = transports((struct cvmm_vm_devices *)d, t, ids);

	for (unsigned int i = 0; i < n; i++)
		if (ids[i] && !strcmp(ids[i], id) && cvmm_vm_tr_is_pci(d, t[i]))
			return t[i]->slot;
	return 0;
}

/*
 * One image file: it opens for reading (a FIFO would block: O_NONBLOCK) and
 * is a regular file, or with @blk_ok a block device. An open failure is
 * left to the code that opens the image for real, which names it the
 * same way; *st gets the file's status when the check passed.
 */
static int check_image(const char *flag, const char *path, bool blk_ok, struct stat *st,
		       int *fdp, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	*fdp = -1;
	if (fd < 0)
		return fail(err, errlen, "%s: cannot open '%s': %s", flag, path, strerror(errno));
	if (fstat(fd, st)) {
		int e = errno;

		close(fd);
		return fail(err, errlen, "%s: cannot open '%s': %s", flag, path, strerror(e));
	}
	if (S_ISDIR(st->st_mode)) {
		close(fd);
		return fail(err, errlen, "%s: '%s' is a directory", flag, path);
	}
	if (!S_ISREG(st->st_mode) && !(blk_ok && S_ISBLK(st->st_mode))) {
		close(fd);
		return fail(err, errlen, "%s: '%s' is not a regular file%s", flag, path,
			    blk_ok ? " or block device" : "");
	}
	*fdp = fd;
	return 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	if (S_ISBLK(a->st_mode) && S_ISBLK(b->st_mode))
		return a->st_rdev == b->st_rdev;
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

int cvmm_vm_config_check_files(const struct cvmm_vm_config *c, bool kernel, char *err,
			       size_t errlen)
{
	const struct cvmm_vm_devices *d = &c->dev;
	struct stat st[CVMM_VM_MAX_DISKS];
	struct stat ks;
	int fd;

	if (kernel && c->kernel) {
		if (check_image("--kernel", c->kernel, false, &ks, &fd, err, errlen))
			return -EINVAL;
		close(fd);
	}
	if (c->initrd) {
		if (check_image("--initrd", c->initrd, false, &ks, &fd, err, errlen))
			return -EINVAL;
		close(fd);
	}
	for (unsigned int i = 0; i < d->ndisks; i++) {
		const struct cvmm_vm_disk *k = &d->disk[i];
		struct flock lk = { .l_type = k->read_only ? F_RDLCK : F_WRLCK,
				    .l_whence = SEEK_SET };
		off_t size;

		if (check_image("--disk: path", k->path, true, &st[i], &fd, err, errlen))
			return -EINVAL;
		size = S_ISBLK(st[i].st_mode) ? lseek(fd, 0, SEEK_END) : st[i].st_size;
		/* The lock the block device will take (blk-backend.c): who
		 * holds a conflicting one is another VMM or daemon using it. */
		if (fcntl(fd, F_OFD_GETLK, &lk) == 0 && lk.l_type != F_UNLCK) {
			close(fd);
			return fail(err, errlen,
				    "--disk: path: '%s' is in use by another process (it holds a lock on it)",
				    k->path);
		}
		close(fd);
		if (size < 512)
			return fail(err, errlen,
				    "--disk: path: '%s' is smaller than one 512-byte sector (%lld bytes)",
				    k->path, (long long)size);
		for (unsigned int j = 0; j < i; j++)
			if (same_file(&st[i], &st[j]))
				return fail(err, errlen,
					    "--disk: path: '%s' is the image '%s' given already; one disk per image",
					    k->path, d->disk[j].path);
	}
	return 0;
}

void cvmm_vm_outputs_note(struct cvmm_vm_outputs *o, const struct cvmm_vm_config *c,
			  const char *event_monitor)
{
	struct stat st;

	o->path[0] = c->serial == CVMM_VM_SERIAL_FILE ? c->serial_path : NULL;
	o->path[1] = c->dev.console == CVMM_VM_CONSOLE_FILE ? c->dev.console_path : NULL;
	o->path[2] = event_monitor;
	for (int i = 0; i < 3; i++)
		o->created[i] = o->path[i] && lstat(o->path[i], &st) && errno == ENOENT;
}

void cvmm_vm_outputs_remove(const struct cvmm_vm_outputs *o)
{
	for (int i = 0; i < 3; i++)
		if (o->created[i])
			unlink(o->path[i]);
}


/* ------------------------------------------------------------------------ */
/* ids and removal                                                          */
/* ------------------------------------------------------------------------ */

static bool id_used(const struct cvmm_vm_devices *d, const char *id)
{
	for (unsigned int i = 0; i < d->ndisks; i++)
		if (!strcmp(d->disk[i].id, id))
			return true;
	for (unsigned int i = 0; i < d->nnets; i++)
		if (!strcmp(d->net[i].id, id))
			return true;
	for (unsigned int i = 0; i < d->nvhost; i++)
		if (!strcmp(d->vhost[i].id, id))
			return true;
	return d->vsock && !strcmp(d->vsock_id, id);
}

static void name(struct cvmm_vm_devices *d, char *id, const char *prefix, unsigned int *counter)
{
	char next[CVMM_VMM_ID_MAX];

	if (*id)
		return;
	do
		snprintf(next, sizeof(next), "%s%u", prefix, (*counter)++);
	while (id_used(d, next));
	strcpy(id, next);
}

void cvmm_vm_devices_name(struct cvmm_vm_devices *d, unsigned int *counter)
{
	for (unsigned int i = 0; i < d->ndisks; i++)
		name(d, d->disk[i].id, "_disk", counter);
	for (unsigned int i = 0; i < d->nnets; i++)
		name(d, d->net[i].id, "_net", counter);
	for (unsigned int i = 0; i < d->nvhost; i++) {
		uint32_t t = d->vhost[i].type;

		name(d, d->vhost[i].id,
		     t == CVMM_VIRTIO_ID_BLOCK ? "_disk" : t == CVMM_VIRTIO_ID_NET ? "_net" :
		     t == CVMM_VM_VIRTIO_ID_FS ? "_fs" : "_vhost_user", counter);
	}
	if (d->vsock)
		name(d, d->vsock_id, "_vsock", counter);
}

static void close_net(struct cvmm_vm_net *n)
{
	for (unsigned int i = 0; i < n->nfds; i++)
		if (n->fds[i] >= 0)
			close(n->fds[i]);
	n->nfds = 0;
}

void cvmm_vm_devices_close_fds(struct cvmm_vm_devices *d)
{
	for (unsigned int i = 0; i < d->nnets; i++)
		close_net(&d->net[i]);
	if (d->vsock_has_fd)
		close(d->vsock_fd);
	d->vsock_has_fd = false;
}

int cvmm_vm_devices_remove(struct cvmm_vm_devices *d, const char *id)
{
	for (unsigned int i = 0; i < d->ndisks; i++)
		if (!strcmp(d->disk[i].id, id)) {
			memmove(&d->disk[i], &d->disk[i + 1], (d->ndisks - i - 1) * sizeof(d->disk[0]));
			d->ndisks--;
			return 0;
		}
	for (unsigned int i = 0; i < d->nnets; i++)
		if (!strcmp(d->net[i].id, id)) {
			close_net(&d->net[i]);
			memmove(&d->net[i], &d->net[i + 1], (d->nnets - i - 1) * sizeof(d->net[0]));
			d->nnets--;
			return 0;
		}
	for (unsigned int i = 0; i < d->nvhost; i++)
		if (!strcmp(d->vhost[i].id, id)) {
			memmove(&d->vhost[i], &d->vhost[i + 1], (d->nvhost - i - 1) * sizeof(d->vhost[0]));
			d->nvhost--;
			return 0;
		}
	if (d->vsock && !strcmp(d->vsock_id, id)) {
		if (d->vsock_has_fd)
			close(d->vsock_fd);
		d->vsock_has_fd = false;
		d->vsock = false;
		d->vsock_id[0] = '\0';
		return 0;
	}
	return -ENOENT;
}


int cvmm_vm_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}
