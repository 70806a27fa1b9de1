/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --kernel with a cvmm test-guest image (tests/guests): the virtio drivers
 * the integration tests need run at CPL3, where this machine's KVM runs
 * guest code natively, so they are booted through hello-kvm's loader
 * rather than as a kernel. Everything else of the platform (buses, legacy
 * devices, virtio, ACPI) is the same as for Linux.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest-loader.h"
#include "microvm.h"

static const char *guest_error(int err)
{
	switch (-err) {
	case ENOEXEC: return "not a test guest image";
	case EOPNOTSUPP: return "unsupported image version or flags";
	case EINVAL: return "malformed header";
	case EFAULT: return "does not fit in guest RAM (try a larger --memory)";
	case EFBIG: return "file too large";
	default: return strerror(-err);
	}
}

static bool is_test_guest(const char *path)
{
	char magic[CVMM_GUEST_MAGIC_LEN];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool yes;

	if (fd < 0)
		return false;  /* the kernel loader reports the open error */
	yes = read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
	      !memcmp(magic, CVMM_GUEST_MAGIC, sizeof(magic));
	close(fd);
	return yes;
}

int microvm_boot_test_guest(void *opaque, struct cvmm_vm *m, char *err, size_t errlen)
{
	unsigned int ncpus = cvmm_vmm_ncpus(m->vmm);
	struct cvmm_guest_load_opts o = { .sz = sizeof(o), .ncpus = ncpus };
	struct cvmm_guest_layout l;
	uint64_t rsdp;
	int ret;

	(void)opaque;
	if (!is_test_guest(m->cfg->kernel))
		return 1;
	/* The platform a kernel would see: some guests read the DSDT. */
	ret = cvmm_vmm_acpi_setup(m->vmm, &rsdp);
	if (ret) {
		snprintf(err, errlen, "ACPI tables: %s", strerror(-ret));
		return ret;
	}
	memcpy(o.args, m->cfg->dev.guest_args, sizeof(o.args));
	ret = cvmm_guest_load_file(cvmm_vmm_mem(m->vmm), m->cfg->kernel, &o, &l);
	if (ret) {
		snprintf(err, errlen, "--kernel: '%s': %s", m->cfg->kernel, guest_error(ret));
		return ret;
	}
	/* Every vCPU starts at the entry (the loader makes the APs runnable). */
	for (unsigned int i = 0; i < ncpus; i++) {
		ret = cvmm_guest_vcpu_setup(&l, cvmm_vmm_vcpu(m->vmm, i), i);
		if (ret) {
			snprintf(err, errlen, "vCPU %u setup: %s", i, strerror(-ret));
			return ret;
		}
	}
	cvmm_log(CVMM_LOG_INFO, "microvm", "test guest, entry at %#llx (CPL%u)",
		 (unsigned long long)l.img.entry, l.img.flags & CVMM_GUEST_F_ENTER_CPL0 ? 0 : 3);
	return 0;
}
