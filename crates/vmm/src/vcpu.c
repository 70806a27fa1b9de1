/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vCPU threads: KVM_RUN, exits dispatched to the buses, and a request
 * slot plus kick through which the control thread parks them (pause), runs
 * calls on them (state save/restore wants the vCPU's own thread) and stops
 * them. A request is only acted on after an INTR exit: the kick's
 * immediate_exit makes KVM complete an in-flight port or MMIO access first,
 * so a parked vCPU's saved state is never half an instruction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void format_registers(struct cvmm_kvm_vcpu *v, char *buf, size_t len)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (cvmm_kvm_vcpu_get_regs(v, &r) || cvmm_kvm_vcpu_get_sregs(v, &s)) {
		snprintf(buf, len, "(registers unavailable)");
		return;
	}
	snprintf(buf, len,
		 "  rip %016llx rsp %016llx rflags %016llx\n"
		 "  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
		 "  rsi %016llx rdi %016llx rbp %016llx\n"
		 "  r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
		 "  r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n"
		 "  cs %04x ss %04x cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %llx",
		 r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.r8,
		 r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, s.cs.selector, s.ss.selector,
		 s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
}

static void crash(struct vcpu *vc, const char *what)
{
	char regs[1024], detail[1200];
	struct cvmm_vmm_event ev = { .type = CVMM_VMM_EV_VCPU_CRASH, .vcpu = (int)vc->index,
				     .detail = detail };

	format_registers(vc->kvm, regs, sizeof(regs));
	snprintf(detail, sizeof(detail), "%s\n%s", what, regs);
	cvmm_vi_emit(vc->vmm, &ev);
	cvmm_vmm_request_stop(vc->vmm, CVMM_VMM_STOP_CRASH, 2);
}

/* Park until the request is lifted, running calls posted meanwhile.
 * @return false when the vCPU must exit. */
static bool park(struct vcpu *vc)
{
	struct cvmm_vmm *vmm = vc->vmm;
	int ret;

	pthread_mutex_lock(&vmm->vcpu_lock);
	vc->state = VCPU_PAUSED;
	vmm->parked++;
	pthread_cond_broadcast(&vmm->vcpu_cond);
	while (atomic_load(&vc->request) == VCPU_REQ_PAUSE) {
		if (vc->call_pending) {
			/* KVM ioctls can be slow (every MSR): not under the lock. */
			pthread_mutex_unlock(&vmm->vcpu_lock);
			ret = vc->call_fn(vc->call_arg, vc->kvm);
			pthread_mutex_lock(&vmm->vcpu_lock);
			vc->call_ret = ret;
			vc->call_pending = false;
			pthread_cond_broadcast(&vmm->vcpu_cond);
			continue;
		}
		pthread_cond_wait(&vmm->vcpu_cond, &vmm->vcpu_lock);
	}
	if (atomic_load(&vc->request) == VCPU_REQ_STOP) {
		pthread_mutex_unlock(&vmm->vcpu_lock);
		return false;
	}
	vc->state = VCPU_RUNNING;
	vmm->parked--;
	pthread_mutex_unlock(&vmm->vcpu_lock);
	return true;
}

static void run_loop(struct vcpu *vc)
{
	struct cvmm_vmm *vmm = vc->vmm;
	struct cvmm_kvm_exit e;

	for (;;) {
		int ret = cvmm_kvm_vcpu_run(vc->kvm, &e);

		if (ret) {
			CVMM_LOG(CVMM_LOG_ERROR, VMM_CRATE, "vCPU %u: KVM_RUN: %s", vc->index,
				 strerror(-ret));
			cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_HOST_ERROR, 3);
			return;
		}
		switch (e.reason) {
		case CVMM_KVM_EXIT_INTR:
			switch (atomic_load(&vc->request)) {
			case VCPU_REQ_PAUSE:
				if (!park(vc))
					return;
				break;
			case VCPU_REQ_STOP:
				return;
			default:
				break;
			}
			break;
		case CVMM_KVM_EXIT_IO: {
			uint8_t *p = e.io.data;

			/* String I/O (rep outsb/insb) arrives as count elements. */
			for (uint32_t i = 0; i < e.io.count; i++, p += e.io.size)
				cvmm_vi_bus_dispatch(&vmm->bus[CVMM_VMM_PIO], vc->index, e.io.port, p,
					     e.io.size, e.io.is_write);
			break;
		}
		case CVMM_KVM_EXIT_MMIO:
			cvmm_vi_bus_dispatch(&vmm->bus[CVMM_VMM_MMIO], vc->index, e.mmio.addr, e.mmio.data,
				     e.mmio.len, e.mmio.is_write);
			break;
		case CVMM_KVM_EXIT_HLT:
			/* Only without an in-kernel LAPIC, which we always have. */
			break;
		case CVMM_KVM_EXIT_SHUTDOWN:
			crash(vc, "triple fault (KVM_EXIT_SHUTDOWN)");
			break;
		case CVMM_KVM_EXIT_INTERNAL_ERROR: {
			char what[64];

			snprintf(what, sizeof(what), "KVM internal error, suberror %u",
				 e.internal.suberror);
			crash(vc, what);
			break;
		}
		case CVMM_KVM_EXIT_DIRTY_RING_FULL:
			/* Harvest (into a running migration) and recycle, then go on. */
			cvmm_vi_mig_ring_full(vmm, vc->index);
			break;
		case CVMM_KVM_EXIT_FAIL_ENTRY:
			crash(vc, "VM entry failed");
			break;
		case CVMM_KVM_EXIT_SYSTEM_EVENT:
			if (e.system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
				cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_POWEROFF, 0);
			else if (e.system_event.type == KVM_SYSTEM_EVENT_RESET)
				cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_RESET, 0);
			else
				crash(vc, "system event (crash)");
			break;
		default: {
			char what[64];

			snprintf(what, sizeof(what), "unexpected exit %u", e.kvm_reason);
			crash(vc, what);
			break;
		}
		}
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vc = arg;
	struct cvmm_vmm *vmm = vc->vmm;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%u", vc->index);
	cvmm_thread_set_name(name);
	/* Fail closed: a vCPU that cannot be confined never runs the guest. */
	if (vmm->opts.thread_start && vmm->opts.thread_start(vmm->opts.opaque, "vcpu", vc->index)) {
		CVMM_LOG(CVMM_LOG_ERROR, VMM_CRATE, "vCPU %u: thread set-up (seccomp) failed",
			 vc->index);
		cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_HOST_ERROR, 3);
	} else {
		run_loop(vc);
	}
	pthread_mutex_lock(&vmm->vcpu_lock);
	if (vc->state != VCPU_PAUSED)
		vmm->parked++;
	vc->state = VCPU_EXITED;
	pthread_cond_broadcast(&vmm->vcpu_cond);
	pthread_mutex_unlock(&vmm->vcpu_lock);
	return NULL;
}

int cvmm_vi_vcpus_start(struct cvmm_vmm *vmm)
{
	int ret = cvmm_kick_init();

	if (ret)
		return ret;
	for (unsigned int i = 0; i < vmm->ncpus; i++) {
		struct vcpu *vc = &vmm->vcpu[i];

		vc->state = VCPU_RUNNING;
		ret = -pthread_create(&vc->thread, NULL, vcpu_thread, vc);
		if (ret) {
			vc->state = VCPU_CREATED;
			return ret;
		}
		vc->started = true;
	}
	return 0;
}

static void set_requests(struct cvmm_vmm *vmm, int req, bool kick)
{
	pthread_mutex_lock(&vmm->vcpu_lock);
	for (unsigned int i = 0; i < vmm->ncpus; i++)
		if (vmm->vcpu[i].started && atomic_load(&vmm->vcpu[i].request) != VCPU_REQ_STOP)
			atomic_store(&vmm->vcpu[i].request, req);
	pthread_cond_broadcast(&vmm->vcpu_cond);
	pthread_mutex_unlock(&vmm->vcpu_lock);
	/* The request is visible before the kick: the vCPU reads it on INTR. */
	for (unsigned int i = 0; kick && i < vmm->ncpus; i++)
		if (vmm->vcpu[i].started)
			cvmm_kvm_vcpu_kick(vmm->vcpu[i].kvm);
}

void cvmm_vi_vcpus_kick_stop(struct cvmm_vmm *vmm)
{
	set_requests(vmm, VCPU_REQ_STOP, true);
}

void cvmm_vi_vcpus_stop_and_join(struct cvmm_vmm *vmm)
{
	cvmm_vi_vcpus_kick_stop(vmm);
	for (unsigned int i = 0; i < vmm->ncpus; i++)
		if (vmm->vcpu[i].started) {
			pthread_join(vmm->vcpu[i].thread, NULL);
			vmm->vcpu[i].started = false;
		}
}

static unsigned int started(const struct cvmm_vmm *vmm)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < vmm->ncpus; i++)
		n += vmm->vcpu[i].started;
	return n;
}

int cvmm_vi_vcpus_pause(struct cvmm_vmm *vmm)
{
	uint64_t t0 = cvmm_now_ns();
	unsigned int n = started(vmm);

	set_requests(vmm, VCPU_REQ_PAUSE, true);
	pthread_mutex_lock(&vmm->vcpu_lock);
	while (vmm->parked < n)
		pthread_cond_wait(&vmm->vcpu_cond, &vmm->vcpu_lock);
	pthread_mutex_unlock(&vmm->vcpu_lock);
	vmm->last_pause_ns = cvmm_now_ns() - t0;
	return cvmm_vmm_stop_reason(vmm, NULL) != CVMM_VMM_STOP_NONE ? -ESHUTDOWN : 0;
}

void cvmm_vi_vcpus_resume(struct cvmm_vmm *vmm)
{
	set_requests(vmm, VCPU_REQ_NONE, false);
}

int cvmm_vmm_vcpu_call(struct cvmm_vmm *vmm, unsigned int i,
		       int (*fn)(void *arg, struct cvmm_kvm_vcpu *vcpu), void *arg)
{
	struct vcpu *vc;
	int ret;

	if (!vmm || !fn || i >= vmm->ncpus)
		return -EINVAL;
	vc = &vmm->vcpu[i];
	if (!vc->started)
		return cvmm_vmm_state(vmm) == CVMM_VMM_CREATED ? fn(arg, vc->kvm) : -ESHUTDOWN;
	pthread_mutex_lock(&vmm->vcpu_lock);
	if (vc->state == VCPU_EXITED) {
		ret = -ESHUTDOWN;
	} else if (vc->state != VCPU_PAUSED || atomic_load(&vc->request) != VCPU_REQ_PAUSE) {
		ret = -EBUSY;
	} else {
		vc->call_fn = fn;
		vc->call_arg = arg;
		vc->call_pending = true;
		pthread_cond_broadcast(&vmm->vcpu_cond);
		while (vc->call_pending && vc->state == VCPU_PAUSED)
			pthread_cond_wait(&vmm->vcpu_cond, &vmm->vcpu_lock);
		ret = vc->call_pending ? -ESHUTDOWN : vc->call_ret;
		vc->call_pending = false;
	}
	pthread_mutex_unlock(&vmm->vcpu_lock);
	return ret;
}

uint64_t cvmm_vmm_last_pause_ns(const struct cvmm_vmm *vmm)
{
	return vmm ? vmm->last_pause_ns : 0;
}
