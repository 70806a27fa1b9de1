/* SPDX-License-Identifier: Apache-2.0 */
/* ACPI tables, the kernel and initrd, and every vCPU in the state the boot
 * protocol wants. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cvmm/acpi-tables.h>
#include <cvmm/linux-loader.h>
#include <cvmm/linux-loader/x86-boot.h>
#include <cvmm/pci.h>

#include "internal.h"

/* More than the interrupt lines the allocator has for virtio-mmio. */
#define VIRTIO_MAX 64

unsigned int cvmm_vi_boot_reserved(const struct cvmm_vmm *v, struct cvmm_mem_range *out)
{
	struct cvmm_vmm_pci_info pi;
	unsigned int n = 0;

	out[n++] = (struct cvmm_mem_range){ 0x9fc00, 0x100000 - 0x9fc00, CVMM_E820_RESERVED };
	/* Linux takes MMCONFIG only where the firmware reserved it. */
	if (!cvmm_vmm_pci_info(v, &pi))
		out[n++] = (struct cvmm_mem_range){ pi.ecam_base,
			(uint64_t)(pi.bus_end - pi.bus_start + 1) * CVMM_PCI_ECAM_BUS_SIZE,
			CVMM_E820_RESERVED };
	out[n++] = (struct cvmm_mem_range){ CVMM_VMM_IOAPIC_ADDR,
					    CVMM_X86_MMIO_HOLE_END - CVMM_VMM_IOAPIC_ADDR,
					    CVMM_E820_RESERVED };
	return n;
}

/*
 * ACPI tables in the BIOS area where a guest scanning for the RSDP finds
 * them; the loader also passes the address in boot_params/start_info.
 */
#define ACPI_TABLES_GPA 0xe0000ull

int cvmm_vmm_acpi_setup(struct cvmm_vmm *v, uint64_t *rsdp)
{
	static const struct cvmm_acpi_irq_override isa_timer = { .source = 0, .gsi = 2 };
	struct cvmm_acpi_virtio_mmio virtio[VIRTIO_MAX];
	struct cvmm_acpi_config c = {
		.sz = sizeof(c),
		.gpa = ACPI_TABLES_GPA,
		.num_cpus = v->ncpus,
		.lapic_addr = CVMM_VMM_LAPIC_ADDR,
		.ioapic_addr = CVMM_VMM_IOAPIC_ADDR,
		.pcat_compat = true,  /* KVM's in-kernel irqchip has the 8259 pair */
		.overrides = &isa_timer,
		.num_overrides = 1,
		.serial = true,
		.serial_port = CVMM_VMM_SERIAL_PORT,
		.serial_irq = CVMM_VMM_SERIAL_IRQ,
		.i8042 = true,
		.rtc = true,
		.sleep_control = { .space_id = CVMM_ACPI_GAS_IO, .bit_width = 8,
				   .address = CVMM_VMM_SLEEP_PORT },
		.sleep_status = { .space_id = CVMM_ACPI_GAS_IO, .bit_width = 8,
				  .address = CVMM_VMM_SLEEP_PORT + 1 },
		/* Reset through the i8042's pulse-reset command. */
		.reset_reg = { .space_id = CVMM_ACPI_GAS_IO, .bit_width = 8,
			       .address = CVMM_VMM_I8042_PORT + 4 },
		.reset_value = 0xfe,
	};
	struct cvmm_acpi_tables t;
	int ret;

	struct cvmm_acpi_pci_irq pci_irqs[32];
	struct cvmm_acpi_pci pci;

	struct cvmm_acpi_ged ged;
	struct cvmm_acpi_viot_endpoint viot_eps[CVMM_ACPI_VIOT_MAX_RANGES];
	struct cvmm_acpi_viot viot;

	if (cvmm_vi_pci_acpi(v, &pci, pci_irqs)) {
		c.pci = &pci;
		if (cvmm_vi_pci_viot(v, &viot, viot_eps))
			c.viot = &viot;
	}
	if (cvmm_vi_ged_acpi(v, &ged))
		c.ged = &ged;
	ret = cvmm_vmm_virtio_mmio_list(v, virtio, VIRTIO_MAX);
	if (ret < 0)
		return ret;
	if (ret > (int)VIRTIO_MAX)
		return -E2BIG;
	c.num_virtio = (unsigned int)ret;
	c.virtio = virtio;
	ret = cvmm_acpi_build(&c, &t);

	if (ret)
		return ret;
	ret = cvmm_acpi_tables_write(&t, v->mem);
	*rsdp = t.rsdp_gpa;
	cvmm_acpi_tables_fini(&t);
	return ret;
}

static const char *loader_error(int err)
{
	switch (-err) {
	case ENOEXEC: return "not an ELF vmlinux or bzImage";
	case EBADMSG: return "malformed image (a header points outside the file or is inconsistent)";
	case EOPNOTSUPP: return "unsupported image (needs a 64-bit kernel, boot protocol 2.12 or newer)";
	case ENOSPC: return "does not fit in guest memory (give the VM more memory)";
	case E2BIG: return "command line too long for this kernel";
	case EFAULT: return "places data outside guest RAM";
	default: return strerror(-err);
	}
}

static int setup_vcpu_cpuid(struct cvmm_vmm *v, unsigned int id)
{
	struct kvm_cpuid2 *c;
	struct cvmm_x86_cpuid_opts o = {
		.sz = sizeof(o),
		.apic_id = id,
		.nr_vcpus = v->ncpus,
		.flags = CVMM_X86_CPUID_F_HV_LEAVES | CVMM_X86_CPUID_F_KVM_FEATURES,
		.hv_signature = "KVMKVMKVM\0\0",
		.hv_features = CVMM_KVM_FEATURES_DEFAULT,
	};
	int ret = cvmm_kvm_get_supported_cpuid(v->kvm, &c);

	if (ret < 0)
		return ret;
	/*
	 * kvmclock and the TSC frequency, as QEMU gives them: without them a
	 * stock kernel calibrates the TSC against the PIT, fails on a slow or
	 * loaded host, marks the TSC unstable and stalls.
	 */
	ret = cvmm_kvm_vcpu_get_tsc_khz(v->vcpu[id].kvm);
	if (ret > 0)
		o.tsc_khz = (uint32_t)ret;
	/* The helper adds the hypervisor leaves; leave it room. */
	ret = cvmm_x86_boot_cpuid(c, c->nent, &o);
	if (ret == -ENOSPC) {
		struct kvm_cpuid2 *big = cvmm_kvm_cpuid2_alloc(c->nent + 8);

		if (!big) {
			free(c);
			return -ENOMEM;
		}
		memcpy(big->entries, c->entries, c->nent * sizeof(c->entries[0]));
		big->nent = c->nent;
		free(c);
		c = big;
		ret = cvmm_x86_boot_cpuid(c, c->nent + 8, &o);
	}
	if (!ret)
		ret = cvmm_kvm_vcpu_set_cpuid2(v->vcpu[id].kvm, c);
	free(c);
	return ret;
}

static int setup_vcpu_common(struct cvmm_vmm *v, unsigned int id)
{
	struct kvm_lapic_state lapic;
	struct kvm_fpu fpu;
	struct kvm_msrs *msrs;
	int ret, n;

	if ((ret = setup_vcpu_cpuid(v, id)))
		return ret;
	msrs = cvmm_kvm_msrs_alloc(CVMM_X86_BOOT_NR_MSRS);
	if (!msrs)
		return -ENOMEM;
	n = cvmm_x86_boot_msrs(msrs->entries, CVMM_X86_BOOT_NR_MSRS);
	if (n >= 0) {
		msrs->nmsrs = (uint32_t)n;
		n = cvmm_kvm_vcpu_set_msrs(v->vcpu[id].kvm, msrs);
	}
	free(msrs);
	if (n < 0)
		return n;
	cvmm_x86_boot_setup_fpu(&fpu);
	if ((ret = cvmm_kvm_vcpu_set_fpu(v->vcpu[id].kvm, &fpu)))
		return ret;
	if ((ret = cvmm_kvm_vcpu_get_lapic(v->vcpu[id].kvm, &lapic)))
		return ret;
	cvmm_x86_boot_setup_lapic(&lapic);
	return cvmm_kvm_vcpu_set_lapic(v->vcpu[id].kvm, &lapic);
}

/* True when @s holds the parameter "acpi=off" (quoted text skipped, as the
 * kernel's own parser does). */
static bool cmdline_acpi_off(const char *s)
{
	while (*s) {
		const char *t;
		bool quoted = false;

		while (*s == ' ')
			s++;
		for (t = s; *t && (quoted || *t != ' '); t++)
			if (*t == '"')
				quoted = !quoted;
		if (t - s == 8 && !strncmp(s, "acpi=off", 8))
			return true;
		s = t;
	}
	return false;
}

/*
 * The user's command line, plus one virtio_mmio.device= per virtio device
 * when it turns ACPI off: otherwise the DSDT is the one registration (a
 * kernel that found each device twice logged "can't request region" for
 * the second).
 */
static int add_virtio_mmio(const struct cvmm_vmm *v, struct cvmm_cmdline *c)
{
	struct cvmm_acpi_virtio_mmio d[VIRTIO_MAX];
	int n = cvmm_vmm_virtio_mmio_list(v, d, VIRTIO_MAX);

	for (int i = 0; i < n && i < (int)VIRTIO_MAX; i++) {
		int ret = cvmm_cmdline_add_virtio_mmio(c, d[i].size, d[i].base, d[i].gsi);

		if (ret)
			return ret;
	}
	return n < 0 ? n : 0;
}

static int build_cmdline(const struct cvmm_vmm *v, const char *base, struct cvmm_cmdline **out)
{
	int ret = cvmm_cmdline_create(CVMM_LOADER_ELF_CMDLINE_MAX - 1, out);

	if (ret)
		return ret;
	if ((*base && (ret = cvmm_cmdline_append(*out, base))) ||
	    (cmdline_acpi_off(base) && (ret = add_virtio_mmio(v, *out)))) {
		cvmm_cmdline_destroy(*out);
		*out = NULL;
	}
	return ret;
}

int cvmm_vmm_boot_linux(struct cvmm_vmm *v, const struct cvmm_vmm_boot_opts *o, char *err,
			size_t errlen)
{
	struct cvmm_mem_range reserved[CVMM_VI_BOOT_RESERVED_MAX];
	struct cvmm_loader_opts lo = {
		.sz = sizeof(lo),
		.initrd_fd = -1,
		.reserved = reserved,
	};
	struct cvmm_x86_boot_opts bo = { .sz = sizeof(bo) };
	struct cvmm_cmdline *cmdline = NULL;
	struct cvmm_loader_result res;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int ret;

	if (!v || !o || o->sz < sizeof(*o) || o->kernel_fd < 0) {
		snprintf(err, errlen, "boot: bad options");
		return -EINVAL;
	}
	lo.n_reserved = cvmm_vi_boot_reserved(v, reserved);
	lo.kernel_fd = o->kernel_fd;
	lo.initrd_fd = o->initrd_fd;
	lo.cmdline = o->cmdline ? o->cmdline : "";
	ret = cvmm_vmm_acpi_setup(v, &lo.rsdp_gpa);
	if (ret) {
		snprintf(err, errlen, "ACPI tables: %s", strerror(-ret));
		return ret;
	}
	ret = build_cmdline(v, lo.cmdline, &cmdline);
	if (ret) {
		snprintf(err, errlen, "cmdline: %s", ret == -E2BIG ?
			 "too long with the virtio_mmio.device= entries" :
			 "not printable ASCII with balanced quotes");
		return ret;
	}
	lo.cmdline = cvmm_cmdline_str(cmdline);
	ret = cvmm_linux_loader_load(v->mem, &lo, &res);
	cvmm_cmdline_destroy(cmdline);
	if (ret) {
		snprintf(err, errlen, "kernel: '%s': %s", o->kernel_name ? o->kernel_name : "",
			 loader_error(ret));
		return ret;
	}

	for (unsigned int i = 0; i < v->ncpus; i++) {
		ret = setup_vcpu_common(v, i);
		if (ret) {
			snprintf(err, errlen, "vCPU %u setup: %s", i, strerror(-ret));
			return ret;
		}
	}
	/* Only the boot processor starts at the kernel's entry; the others wait
	 * in the in-kernel LAPIC for the INIT/SIPI the kernel sends them. */
	if ((ret = cvmm_kvm_vcpu_get_sregs(v->vcpu[0].kvm, &sregs)) ||
	    (ret = cvmm_x86_boot_setup_sregs(v->mem, &res, &bo, &sregs)) ||
	    (ret = cvmm_kvm_vcpu_set_sregs(v->vcpu[0].kvm, &sregs))) {
		snprintf(err, errlen, "boot vCPU: %s", strerror(-ret));
		return ret;
	}
	cvmm_x86_boot_setup_regs(&res, 0, 0, &regs);
	if ((ret = cvmm_kvm_vcpu_set_regs(v->vcpu[0].kvm, &regs))) {
		snprintf(err, errlen, "boot vCPU registers: %s", strerror(-ret));
		return ret;
	}
	cvmm_log(CVMM_LOG_INFO, VMM_CRATE, "%s kernel, %s entry at %#llx",
		 res.format == CVMM_KERNEL_ELF ? "ELF" : "bzImage",
		 res.mode == CVMM_BOOT_PVH32 ? "PVH" : "64-bit", (unsigned long long)res.entry);
	return 0;
}
