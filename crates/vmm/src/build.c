/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One VM from a struct cvmm_vm_config: the VM core, the virtio devices,
 * the legacy platform and the boot state, ready for cvmm_vmm_start().
 * Used by a program's flags path and by the API (vm.boot), which builds
 * a new VM this way for every boot.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cvmm/virtio-devices/blk.h>
#include <cvmm/virtio-devices/iommu.h>
#include <cvmm/vmm/snap.h>
#include <cvmm/vmm/vm.h>

#include "vm-internal.h"

static void on_event(void *opaque, const struct cvmm_vmm_event *ev)
{
	struct cvmm_vm *m = opaque;

	if (m->on_event)
		m->on_event(m->opaque, ev);
	if (m->observer)
		m->observer(m->observer_opaque, ev);
}

static int thread_start(void *opaque, const char *type, unsigned int index)
{
	struct cvmm_vm *m = opaque;

	return m->thread_start ? m->thread_start(m->opaque, type, index) : 0;
}

static void post_code(void *opaque, uint8_t code, uint64_t ns)
{
	struct cvmm_vm *m = opaque;

	if (m->post_code)
		m->post_code(m->opaque, code, ns);
}

static int open_serial_output(struct cvmm_vm *m, char *err, size_t errlen)
{
	m->serial_out = -1;
	if (m->cfg->serial == CVMM_VM_SERIAL_STDIO)
		m->serial_out = STDOUT_FILENO;
	if (m->cfg->serial != CVMM_VM_SERIAL_FILE)
		return 0;
	m->serial_out = open(m->cfg->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND,
			     0644);
	if (m->serial_out < 0) {
		snprintf(err, errlen, "--serial: cannot open '%s': %s", m->cfg->serial_path,
			 strerror(errno));
		return -errno;
	}
	return 0;
}

static int open_image(const char *flag, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		snprintf(err, errlen, "%s: cannot open '%s': %s", flag, path, strerror(errno));
	return fd < 0 ? -errno : fd;
}

static int boot(struct cvmm_vm *m, char *err, size_t errlen)
{
	struct cvmm_vmm_boot_opts bo = {
		.sz = sizeof(bo),
		.initrd_fd = -1,
		.cmdline = m->cfg->cmdline ? m->cfg->cmdline : CVMM_VM_DEFAULT_CMDLINE,
		.kernel_name = m->cfg->kernel,
	};
	char why[480];
	int ret;

	/* A restore replaces the boot: memory and registers come from the snapshot. */
	if (m->snap && m->snap->source)
		return cvmm_vm_snap_restore(m->snap, m->vmm, err, errlen);
	/* An incoming migration brings memory and registers: guest RAM must
	 * stay as made (a zero page marked over an untouched page is skipped). */
	if (m->incoming)
		return 0;
	ret = m->boot_image ? m->boot_image(m->opaque, m, err, errlen) : 1;
	if (ret <= 0)
		return ret;
	bo.kernel_fd = open_image("--kernel", m->cfg->kernel, err, errlen);
	if (bo.kernel_fd < 0)
		return bo.kernel_fd;
	if (m->cfg->initrd) {
		bo.initrd_fd = open_image("--initrd", m->cfg->initrd, err, errlen);
		if (bo.initrd_fd < 0) {
			close(bo.kernel_fd);
			return bo.initrd_fd;
		}
	}
	ret = cvmm_vmm_boot_linux(m->vmm, &bo, why, sizeof(why));
	close(bo.kernel_fd);
	cvmm_close(bo.initrd_fd);
	/* The core names the field; the flag is ours. */
	if (ret)
		snprintf(err, errlen, "%s%s",
			 !strncmp(why, "kernel:", 7) || !strncmp(why, "cmdline:", 8) ? "--" : "", why);
	return ret;
}

int cvmm_vm_exit_status(struct cvmm_vmm *vmm)
{
	int code;

	switch (cvmm_vmm_stop_reason(vmm, &code)) {
	case CVMM_VMM_STOP_POWEROFF:
	case CVMM_VMM_STOP_RESET:
		return 0;
	case CVMM_VMM_STOP_NONE:
		return 3;
	default:
		return code;
	}
}

int cvmm_vm_build(struct cvmm_vm *m, char *err, size_t errlen)
{
	const struct cvmm_vm_config *cfg = m->cfg;
	struct cvmm_vmm_opts vo = {
		.sz = sizeof(vo),
		.mem_size = cfg->memory,
		.ncpus = cfg->cpus,
		/* vhost-user backends map guest RAM themselves. */
		.backing = cfg->hugepages ? CVMM_VMM_MEM_HUGETLB :
			   cfg->dev.nvhost || cfg->mem_shared ? CVMM_VMM_MEM_SHARED : CVMM_VMM_MEM_ANON,
		.prefault = cfg->prefault,
		.event = on_event,
		.thread_start = thread_start,
		.opaque = m,
		.em = m->em,
	};
	struct cvmm_vmm_platform_opts po = {
		.sz = sizeof(po),
		.debug_exit = true,
		.post_code = cfg->boot_timer ? post_code : NULL,
		.opaque = m,
		.t0_ns = m->t0_ns,
	};
	int ret;

	ret = cvmm_vmm_create(&vo, &m->vmm, err, errlen);
	if (ret) {
		/* The core names the field; the flag is ours. */
		if (!strncmp(err, "memory:", 7) || !strncmp(err, "cpus:", 5)) {
			char why[512];

			snprintf(why, sizeof(why), "--%s", err);
			snprintf(err, errlen, "%s", why);
		}
		return ret;
	}
	CVMM_LOG(CVMM_LOG_DEBUG, "microvm", "VM, memory and vCPUs ready at %.3f ms",
		 (cvmm_now_ns() - m->t0_ns) / 1e6);
	/* virtio first: a bad --disk fails before a --serial file is created. */
	if ((ret = cvmm_vm_devices_attach(m, err, errlen)) ||
	    (ret = open_serial_output(m, err, errlen)))
		return ret;
	po.serial_out_fd = m->serial_out;
	if ((ret = cvmm_vmm_platform_add(m->vmm, &po, err, errlen)) || (ret = boot(m, err, errlen)))
		return ret;
	if (m->serial_stdin && cfg->serial == CVMM_VM_SERIAL_STDIO &&
	    (ret = cvmm_vm_input_create(m->vmm, STDIN_FILENO, &m->input)))
		return cvmm_vm_errf(err, errlen, ret, "--serial: stdin: %s", strerror(-ret));
	CVMM_LOG(CVMM_LOG_DEBUG, "microvm", "devices and boot state ready at %.3f ms",
		 (cvmm_now_ns() - m->t0_ns) / 1e6);
	return 0;
}

int cvmm_vm_images_lock(struct cvmm_vm *m, bool hold)
{
	int first = 0;

	for (unsigned int i = 0; i < m->nmodels; i++) {
		int ret;

		if (strcmp(m->models[i].kind, "virtio-blk"))
			continue;
		ret = cvmm_blk_image_lock(m->models[i].model, hold);
		if (ret && !first)
			first = ret;
	}
	return first;
}

void cvmm_vm_init(struct cvmm_vm *m)
{
	*m = (struct cvmm_vm){ .serial_out = -1, .con_out = -1 };
}

void cvmm_vm_teardown(struct cvmm_vm *m)
{
	cvmm_vm_input_destroy(m->input);
	m->input = NULL;
	cvmm_vmm_destroy(m->vmm);
	m->vmm = NULL;
	cvmm_iommu_destroy(m->iommu);
	m->iommu = NULL;
	if (m->serial_out > STDERR_FILENO)
		cvmm_close(m->serial_out);
	cvmm_close(m->con_out);
	m->serial_out = m->con_out = -1;
}

