/* SPDX-License-Identifier: Apache-2.0 */
/* VM creation, the vCPU threads and how a VM stops. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm.h"

#define LOG "microvm"

static int memory_register(struct vmm *v)
{
	for (unsigned int i = 0; i < cvmm_guest_mem_num_regions(v->mem); i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(v->mem, i);
		struct kvm_userspace_memory_region kr = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->host,
		};
		int ret = cvmm_kvm_vm_set_memory(v->vm, &kr);

		if (ret)
			return ret;
	}
	return 0;
}

int vmm_create(struct vmm *v, const struct microvm_config *cfg, char *err, size_t errlen)
{
	struct cvmm_kvm_opts ko = { .sz = sizeof(ko) };
	struct cvmm_kvm_vm_opts vo = { .sz = sizeof(vo) };
	struct cvmm_x86_ram_opts mo = {
		.sz = sizeof(mo),
		.size = cfg->memory,
		.backing = CVMM_MEM_ANON,
		.flags = CVMM_MEM_F_NORESERVE,
	};
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int ret;

	memset(v, 0, sizeof(*v));
	v->cfg = cfg;
	v->ncpus = cfg->cpus;
	v->serial_irqfd = v->serial_out = v->stop_efd = -1;

	v->stop_efd = cvmm_eventfd_create(0);
	if (v->stop_efd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(-v->stop_efd));
		return v->stop_efd;
	}
	ret = cvmm_kvm_create(&ko, &v->kvm);
	if (ret) {
		snprintf(err, errlen, "/dev/kvm: %s", strerror(-ret));
		return ret;
	}
	ret = cvmm_kvm_vm_create(v->kvm, &vo, &v->vm);
	if (ret) {
		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(-ret));
		return ret;
	}
	/* vhost-user backends map guest RAM themselves: share it as a memfd. */
	if (cfg->dev.nvhost)
		mo.backing = CVMM_MEM_MEMFD;
	ret = cvmm_guest_mem_create_x86(&mo, &v->mem);
	if (ret) {
		snprintf(err, errlen, "--memory: cannot map %" PRIu64 " bytes of guest RAM: %s",
			 cfg->memory, strerror(-ret));
		return ret;
	}
	/* Memory slots before the irqchip: once the irqchip exists, each slot
	 * change waits for a kernel grace period (milliseconds of start-up). */
	ret = memory_register(v);
	if (ret) {
		snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION: %s", strerror(-ret));
		return ret;
	}
	/* The TSS and identity-map pages sit just below the BIOS area in the
	 * MMIO hole, where no RAM or device is. */
	if ((ret = cvmm_kvm_vm_set_tss_addr(v->vm, MICROVM_TSS_ADDR)) ||
	    (ret = cvmm_kvm_vm_set_identity_map_addr(v->vm, MICROVM_IDENTITY_MAP_ADDR)) ||
	    (ret = cvmm_kvm_vm_create_irqchip(v->vm)) ||
	    (ret = cvmm_kvm_vm_create_pit2(v->vm, &pit))) {
		snprintf(err, errlen, "irqchip setup: %s", strerror(-ret));
		return ret;
	}
	for (unsigned int i = 0; i < v->ncpus; i++) {
		ret = cvmm_kvm_vcpu_create(v->vm, i, &v->vcpu[i]);
		if (ret) {
			snprintf(err, errlen, "--cpus: cannot create vCPU %u: %s", i, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void vmm_destroy(struct vmm *v)
{
	for (unsigned int i = 0; i < v->ncpus; i++)
		cvmm_kvm_vcpu_destroy(v->vcpu[i]);
	vmm_devices_fini(v);
	cvmm_kvm_vm_destroy(v->vm);
	cvmm_kvm_destroy(v->kvm);
	cvmm_guest_mem_destroy(v->mem);
	cvmm_close(v->stop_efd);
}

void vmm_request_stop(struct vmm *v, enum vm_stop why, int code)
{
	int expected = VM_RUNNING;

	if (!atomic_compare_exchange_strong(&v->stop, &expected, (int)why))
		return;
	atomic_store(&v->exit_code, code);
	for (unsigned int i = 0; i < v->ncpus; i++)
		if (v->vcpu[i])
			cvmm_kvm_vcpu_kick(v->vcpu[i]);
	cvmm_eventfd_write(v->stop_efd, 1);
}

static void dump_registers(struct vmm *v, unsigned int id, const char *what)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (cvmm_kvm_vcpu_get_regs(v->vcpu[id], &r) || cvmm_kvm_vcpu_get_sregs(v->vcpu[id], &s)) {
		fprintf(stderr, "cvmm-microvm: vCPU %u: %s (registers unavailable)\n", id, what);
		return;
	}
	/* One block, written at once, so vCPUs crashing together do not interleave. */
	fprintf(stderr,
		"cvmm-microvm: vCPU %u: %s\n"
		"  rip %016llx rsp %016llx rflags %016llx\n"
		"  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
		"  rsi %016llx rdi %016llx rbp %016llx\n"
		"  r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
		"  r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n"
		"  cs %04x ss %04x cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %llx\n",
		id, what, r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi,
		r.rbp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, s.cs.selector,
		s.ss.selector, s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
}

static void handle_io(struct vmm *v, struct cvmm_kvm_exit *e)
{
	uint8_t *p = e->io.data;

	/* String I/O (rep outsb/insb) arrives as count elements back to back. */
	for (uint32_t i = 0; i < e->io.count; i++, p += e->io.size)
		bus_access(&v->pio, e->io.port, p, e->io.size, e->io.is_write);
}

struct vcpu_arg {
	struct vmm *v;
	unsigned int id;
};

static void *vcpu_thread(void *arg)
{
	struct vcpu_arg a = *(struct vcpu_arg *)arg;
	struct vmm *v = a.v;
	struct cvmm_kvm_vcpu *vcpu = v->vcpu[a.id];
	struct cvmm_kvm_exit e;
	char name[16];

	free(arg);
	snprintf(name, sizeof(name), "vcpu%u", a.id);
	cvmm_thread_set_name(name);
	/* Fail closed: a vCPU that cannot be confined never runs the guest. */
	if (cvmm_sandbox_install(v->sandbox, "vcpu")) {
		cvmm_log(CVMM_LOG_ERROR, LOG, "vCPU %u: cannot install the seccomp filter", a.id);
		vmm_request_stop(v, VM_STOP_HOST_ERROR, 3);
		return NULL;
	}

	while (atomic_load_explicit(&v->stop, memory_order_relaxed) == VM_RUNNING) {
		int ret = cvmm_kvm_vcpu_run(vcpu, &e);

		if (ret) {
			cvmm_log(CVMM_LOG_ERROR, LOG, "vCPU %u: KVM_RUN: %s", a.id, strerror(-ret));
			vmm_request_stop(v, VM_STOP_HOST_ERROR, 3);
			break;
		}
		switch (e.reason) {
		case CVMM_KVM_EXIT_IO:
			handle_io(v, &e);
			break;
		case CVMM_KVM_EXIT_MMIO:
			bus_access(&v->mmio, e.mmio.addr, e.mmio.data, e.mmio.len, e.mmio.is_write);
			break;
		case CVMM_KVM_EXIT_INTR:
			break;
		case CVMM_KVM_EXIT_HLT:
			/* Only without an in-kernel LAPIC, which we always have. */
			break;
		case CVMM_KVM_EXIT_SHUTDOWN:
			dump_registers(v, a.id, "triple fault (KVM_EXIT_SHUTDOWN)");
			vmm_request_stop(v, VM_STOP_CRASH, 2);
			break;
		case CVMM_KVM_EXIT_INTERNAL_ERROR: {
			char what[64];

			snprintf(what, sizeof(what), "KVM internal error, suberror %u", e.internal.suberror);
			dump_registers(v, a.id, what);
			vmm_request_stop(v, VM_STOP_CRASH, 2);
			break;
		}
		case CVMM_KVM_EXIT_FAIL_ENTRY:
			dump_registers(v, a.id, "VM entry failed");
			vmm_request_stop(v, VM_STOP_CRASH, 2);
			break;
		case CVMM_KVM_EXIT_SYSTEM_EVENT:
			if (e.system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
				vmm_request_stop(v, VM_STOP_POWEROFF, 0);
			else if (e.system_event.type == KVM_SYSTEM_EVENT_RESET)
				vmm_request_stop(v, VM_STOP_RESET, 0);
			else {
				dump_registers(v, a.id, "system event (crash)");
				vmm_request_stop(v, VM_STOP_CRASH, 2);
			}
			break;
		default:
			cvmm_log(CVMM_LOG_ERROR, LOG, "vCPU %u: unexpected exit %u", a.id, e.kvm_reason);
			dump_registers(v, a.id, "unexpected exit");
			vmm_request_stop(v, VM_STOP_CRASH, 2);
			break;
		}
	}
	return NULL;
}

int vmm_start(struct vmm *v)
{
	int ret = cvmm_kick_init();

	if (ret)
		return ret;
	for (unsigned int i = 0; i < v->ncpus; i++) {
		struct vcpu_arg *a = malloc(sizeof(*a));

		if (!a)
			return -ENOMEM;
		*a = (struct vcpu_arg){ v, i };
		ret = -pthread_create(&v->thread[i], NULL, vcpu_thread, a);
		if (ret) {
			free(a);
			vmm_request_stop(v, VM_STOP_HOST_ERROR, 3);
			return ret;
		}
		v->nthreads++;
	}
	return 0;
}

void vmm_join(struct vmm *v)
{
	for (unsigned int i = 0; i < v->nthreads; i++)
		pthread_join(v->thread[i], NULL);
	v->nthreads = 0;
}

int vmm_exit_status(const struct vmm *v)
{
	switch (atomic_load(&v->stop)) {
	case VM_STOP_POWEROFF:
	case VM_STOP_RESET:
		return 0;
	case VM_STOP_DEBUG_EXIT:
	case VM_STOP_CRASH:
	case VM_STOP_HOST_ERROR:
	case VM_STOP_SIGNAL:
		return atomic_load(&v->exit_code);
	default:
		return 3;
	}
}
