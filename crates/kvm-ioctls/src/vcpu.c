/* SPDX-License-Identifier: Apache-2.0 */
/* vCPU lifecycle, KVM_RUN with a typed exit, and the kick. */
#include "internal.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int cvmm_kvm_vcpu_create(struct cvmm_kvm_vm *vm, uint32_t id,
			 struct cvmm_kvm_vcpu **out)
{
	struct cvmm_kvm_vcpu *vcpu;
	void *run;
	int r;

	if (!vm || !out)
		return -EINVAL;
	*out = NULL;
	if (id > INT32_MAX)
		return -EINVAL;
	vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu)
		return -ENOMEM;
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->run_size = (size_t)vm->kvm->mmap_size;
	/* Under the lock so enable_dirty_ring() cannot slip in between. */
	pthread_mutex_lock(&vm->lock);
	r = KVM_IOCTL_VAL(vm->fd, KVM_CREATE_VCPU, id);
	if (r < 0)
		goto unlock;
	vcpu->fd = r;
	/* The kernel counts the vCPU from here on, even if mapping fails below. */
	vm->nr_vcpus++;
	run = mmap(NULL, vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED) {
		r = -errno;
		goto close_fd;
	}
	vcpu->run = run;
	r = cvmm__kvm_vcpu_map_ring(vcpu, vm->ring_bytes);
	if (r < 0)
		goto unmap;
	/* The coalesced ring is a page of the run mapping when the VM has one. */
	if ((size_t)(KVM_COALESCED_MMIO_PAGE_OFFSET + 1) * cvmm_page_size() <= vcpu->run_size &&
	    KVM_IOCTL_VAL(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO) > 0)
		vcpu->coalesced = (void *)((char *)run + (size_t)KVM_COALESCED_MMIO_PAGE_OFFSET *
						      cvmm_page_size());
	pthread_mutex_unlock(&vm->lock);
	*out = vcpu;
	return 0;
unmap:
	munmap(vcpu->run, vcpu->run_size);
close_fd:
	close(vcpu->fd);
unlock:
	pthread_mutex_unlock(&vm->lock);
	free(vcpu);
	return r;
}

void cvmm_kvm_vcpu_destroy(struct cvmm_kvm_vcpu *vcpu)
{
	if (!vcpu)
		return;
	if (vcpu->ring)
		munmap(vcpu->ring, (size_t)vcpu->ring_entries * sizeof(struct kvm_dirty_gfn));
	munmap(vcpu->run, vcpu->run_size);
	cvmm_close(vcpu->fd);
	/* The kernel keeps the vCPU until the VM goes; the count stays too. */
	free(vcpu);
}

int cvmm_kvm_vcpu_fd(const struct cvmm_kvm_vcpu *vcpu)
{
	return vcpu->fd;
}

uint32_t cvmm_kvm_vcpu_id(const struct cvmm_kvm_vcpu *vcpu)
{
	return vcpu->id;
}

struct cvmm_kvm_vm *cvmm_kvm_vcpu_vm(const struct cvmm_kvm_vcpu *vcpu)
{
	return vcpu->vm;
}

struct kvm_run *cvmm_kvm_vcpu_run_page(struct cvmm_kvm_vcpu *vcpu)
{
	return vcpu->run;
}

static int decode_io(const struct cvmm_kvm_vcpu *vcpu, struct cvmm_kvm_exit *x)
{
	struct kvm_run *run = vcpu->run;
	uint64_t bytes = (uint64_t)run->io.size * run->io.count;

	if ((run->io.size != 1 && run->io.size != 2 && run->io.size != 4) ||
	    !cvmm_range_ok(run->io.data_offset, bytes, vcpu->run_size))
		return -EFAULT;
	x->io.port = run->io.port;
	x->io.size = run->io.size;
	x->io.is_write = run->io.direction == KVM_EXIT_IO_OUT;
	x->io.count = run->io.count;
	x->io.data = (uint8_t *)run + run->io.data_offset;
	return 0;
}

static int decode(const struct cvmm_kvm_vcpu *vcpu, struct cvmm_kvm_exit *x)
{
	struct kvm_run *run = vcpu->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		x->reason = CVMM_KVM_EXIT_IO;
		return decode_io(vcpu, x);
	case KVM_EXIT_MMIO:
		if (run->mmio.len == 0 || run->mmio.len > sizeof(run->mmio.data))
			return -EFAULT;
		x->reason = CVMM_KVM_EXIT_MMIO;
		x->mmio.addr = run->mmio.phys_addr;
		x->mmio.len = run->mmio.len;
		x->mmio.is_write = run->mmio.is_write != 0;
		x->mmio.data = run->mmio.data;
		return 0;
	case KVM_EXIT_HLT:
		x->reason = CVMM_KVM_EXIT_HLT;
		return 0;
	case KVM_EXIT_SHUTDOWN:
		x->reason = CVMM_KVM_EXIT_SHUTDOWN;
		return 0;
	case KVM_EXIT_FAIL_ENTRY:
		x->reason = CVMM_KVM_EXIT_FAIL_ENTRY;
		x->fail_entry.hardware_entry_failure_reason =
			run->fail_entry.hardware_entry_failure_reason;
		x->fail_entry.cpu = run->fail_entry.cpu;
		return 0;
	case KVM_EXIT_INTERNAL_ERROR:
		x->reason = CVMM_KVM_EXIT_INTERNAL_ERROR;
		x->internal.suberror = run->internal.suberror;
		x->internal.ndata = CVMM_MIN(run->internal.ndata,
					     (uint32_t)CVMM_ARRAY_SIZE(run->internal.data));
		x->internal.data = run->internal.data;
		return 0;
	case KVM_EXIT_SYSTEM_EVENT:
		x->reason = CVMM_KVM_EXIT_SYSTEM_EVENT;
		x->system_event.type = run->system_event.type;
		x->system_event.ndata = CVMM_MIN(run->system_event.ndata,
			(uint32_t)CVMM_ARRAY_SIZE(run->system_event.data));
		x->system_event.data = run->system_event.data;
		return 0;
	case KVM_EXIT_DEBUG:
		x->reason = CVMM_KVM_EXIT_DEBUG;
		x->debug.exception = run->debug.arch.exception;
		x->debug.pc = run->debug.arch.pc;
		x->debug.dr6 = run->debug.arch.dr6;
		x->debug.dr7 = run->debug.arch.dr7;
		return 0;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		x->reason = CVMM_KVM_EXIT_IRQ_WINDOW_OPEN;
		return 0;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		x->reason = run->exit_reason == KVM_EXIT_X86_RDMSR ? CVMM_KVM_EXIT_RDMSR
								     : CVMM_KVM_EXIT_WRMSR;
		x->msr.index = run->msr.index;
		x->msr.reason = run->msr.reason;
		x->msr.data = run->msr.data;
		x->msr.data_out = &run->msr.data;
		x->msr.error_out = &run->msr.error;
		return 0;
	case KVM_EXIT_DIRTY_RING_FULL:
		x->reason = CVMM_KVM_EXIT_DIRTY_RING_FULL;
		return 0;
	case KVM_EXIT_INTR:
		x->reason = CVMM_KVM_EXIT_INTR;
		return 0;
	case KVM_EXIT_HYPERCALL:
		x->reason = CVMM_KVM_EXIT_HYPERCALL;
		x->hypercall.nr = run->hypercall.nr;
		for (size_t i = 0; i < CVMM_ARRAY_SIZE(x->hypercall.args); i++)
			x->hypercall.args[i] = run->hypercall.args[i];
		x->hypercall.ret = &run->hypercall.ret;
		return 0;
	case KVM_EXIT_EXCEPTION:
		x->reason = CVMM_KVM_EXIT_EXCEPTION;
		x->exception.exception = run->ex.exception;
		x->exception.error_code = run->ex.error_code;
		return 0;
	case KVM_EXIT_NMI:
		x->reason = CVMM_KVM_EXIT_NMI;
		return 0;
	case KVM_EXIT_X86_BUS_LOCK:
		x->reason = CVMM_KVM_EXIT_BUS_LOCK;
		return 0;
	case KVM_EXIT_NOTIFY:
		x->reason = CVMM_KVM_EXIT_NOTIFY;
		return 0;
	case KVM_EXIT_IOAPIC_EOI:
		x->reason = CVMM_KVM_EXIT_IOAPIC_EOI;
		x->eoi_vector = run->eoi.vector;
		return 0;
	default:
		x->reason = CVMM_KVM_EXIT_UNKNOWN;
		return 0;
	}
}

int cvmm_kvm_vcpu_run(struct cvmm_kvm_vcpu *vcpu, struct cvmm_kvm_exit *exit)
{
	unsigned long self = (unsigned long)pthread_self();
	int r;

	if (atomic_load_explicit(&vcpu->thread, memory_order_relaxed) != self)
		atomic_store_explicit(&vcpu->thread, self, memory_order_release);
	/*
	 * EAGAIN: an application processor waiting for SIPI in the kernel was
	 * woken by another event (an INIT, say) and is ready to be run again;
	 * nothing for the caller to do.
	 */
	do
		r = KVM_IOCTL_VAL(vcpu->fd, KVM_RUN, 0);
	while (r == -EAGAIN);
	if (r < 0) {
		if (r != -EINTR)
			return r;
		/*
		 * A kick (or a stray signal) ended the run. Only now is the
		 * kick consumed: clearing immediate_exit after any other exit
		 * could drop a kick that arrived while we were outside KVM_RUN.
		 */
		__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_RELEASE);
		exit->reason = CVMM_KVM_EXIT_INTR;
		exit->kvm_reason = KVM_EXIT_INTR;
		return 0;
	}
	exit->kvm_reason = vcpu->run->exit_reason;
	return decode(vcpu, exit);
}

int cvmm_kvm_vcpu_kick(struct cvmm_kvm_vcpu *vcpu)
{
	unsigned long t;

	/*
	 * Flag first, signal second: if the vCPU is inside KVM_RUN the signal
	 * throws it out; if it is about to enter, the kernel sees the flag at
	 * entry; if it is in user space, the flag waits for its next run.
	 */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	t = atomic_load_explicit(&vcpu->thread, memory_order_acquire);
	if (!t)
		return 0;
	return cvmm_kick_thread(t);
}

bool cvmm_kvm_vcpu_kick_pending(const struct cvmm_kvm_vcpu *vcpu)
{
	return __atomic_load_n(&vcpu->run->immediate_exit, __ATOMIC_ACQUIRE) != 0;
}

int cvmm_kvm_vcpu_coalesced_mmio_drain(struct cvmm_kvm_vcpu *vcpu,
				       void (*fn)(const struct kvm_coalesced_mmio *e,
						  void *opaque),
				       void *opaque)
{
	struct kvm_coalesced_mmio_ring *ring = vcpu->coalesced;
	uint32_t max, first, last;
	int n = 0;

	if (!ring)
		return -EOPNOTSUPP;
	max = (uint32_t)((cvmm_page_size() - sizeof(*ring)) / sizeof(ring->coalesced_mmio[0]));
	first = __atomic_load_n(&ring->first, __ATOMIC_RELAXED);
	last = __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE);
	/* The kernel owns "last" but a corrupted index must not walk off the page. */
	if (first >= max || last >= max)
		return -EIO;
	while (first != last) {
		const struct kvm_coalesced_mmio *e = &ring->coalesced_mmio[first];

		if (e->len <= sizeof(e->data) && fn)
			fn(e, opaque);
		first = (first + 1) % max;
		__atomic_store_n(&ring->first, first, __ATOMIC_RELEASE);
		n++;
	}
	return n;
}
