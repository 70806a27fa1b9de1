/* SPDX-License-Identifier: Apache-2.0 */
/* hello-kvm's VMM: VM setup, vCPU threads, the test-guest ports, dirty harvest. */
#include "vm.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cvmm/sys-util.h>

#define MIB (1ull << 20)
#define PAGE 4096ull
#define MAX_SLOTS 3

struct hk_slot {
	uint32_t id;
	uint64_t gpa, size;
	size_t bitmap_bytes;
	uint64_t *bitmap; /* KVM_GET_DIRTY_LOG target */
	uint64_t *accum;  /* pages found and not yet reported */
	/* Ring mode: the accum words that became non-zero, so reporting costs
	 * O(dirty pages) instead of a scan of the whole bitmap. */
	size_t *touched;
	size_t ntouched;
};

struct hk_vm {
	struct hk_vm_opts o;
	struct cvmm_kvm *kvm;
	struct cvmm_kvm_vm *vm;
	struct cvmm_guest_mem *mem;
	struct cvmm_kvm_vcpu **vcpus;
	struct hk_slot slots[MAX_SLOTS];
	unsigned int nslots;
	struct cvmm_guest_layout layout;
	bool loaded;

	pthread_mutex_t lock;       /* result, serial */
	pthread_cond_t done;        /* signalled when the result is set */
	pthread_mutex_t dirty_lock; /* harvest state */
	atomic_bool stopping;
	bool have_result;
	struct hk_result res;
	_Atomic uint64_t marker_ns;
};

int hk_dirty_mode_parse(const char *s, enum hk_dirty_mode *out)
{
	if (!strcmp(s, "log"))
		*out = HK_DIRTY_LOG;
	else if (!strcmp(s, "clear"))
		*out = HK_DIRTY_CLEAR;
	else if (!strcmp(s, "ring"))
		*out = HK_DIRTY_RING;
	else
		return -EINVAL;
	return 0;
}

struct cvmm_guest_mem *hk_vm_mem(struct hk_vm *vm) { return vm->mem; }
struct cvmm_kvm_vm *hk_vm_kvm(struct hk_vm *vm) { return vm->vm; }
const struct cvmm_guest_layout *hk_vm_layout(const struct hk_vm *vm) { return &vm->layout; }

static int add_ram(struct hk_vm *vm, uint64_t gpa, uint64_t size)
{
	struct cvmm_mem_region_opts ro = {
		.sz = sizeof(ro),
		.gpa = gpa,
		.size = size,
		.backing = CVMM_MEM_ANON,
		.flags = CVMM_MEM_F_NORESERVE,
		.fd = -1,
	};
	const struct cvmm_mem_region *r;
	struct kvm_userspace_memory_region kr;
	struct hk_slot *s = &vm->slots[vm->nslots];
	int ret;

	ret = cvmm_guest_mem_add_region(vm->mem, &ro);
	if (ret)
		return ret;
	r = cvmm_guest_mem_find(vm->mem, gpa);
	if (!r)
		return -EFAULT;
	s->id = vm->nslots;
	s->gpa = gpa;
	s->size = size;
	memset(&kr, 0, sizeof(kr));
	kr.slot = s->id;
	kr.flags = vm->o.dirty != HK_DIRTY_NONE ? KVM_MEM_LOG_DIRTY_PAGES : 0;
	kr.guest_phys_addr = gpa;
	kr.memory_size = size;
	kr.userspace_addr = (uint64_t)(uintptr_t)r->host;
	ret = cvmm_kvm_vm_set_memory(vm->vm, &kr);
	if (ret)
		return ret;
	if (vm->o.dirty != HK_DIRTY_NONE) {
		s->bitmap_bytes = cvmm_kvm_dirty_bitmap_bytes(size);
		s->bitmap = calloc(1, s->bitmap_bytes);
		s->accum = calloc(1, s->bitmap_bytes);
		if (vm->o.dirty == HK_DIRTY_RING)
			s->touched = calloc(s->bitmap_bytes / 8, sizeof(*s->touched));
		if (!s->bitmap || !s->accum ||
		    (vm->o.dirty == HK_DIRTY_RING && !s->touched))
			return -ENOMEM;
	}
	vm->nslots++;
	return 0;
}

int hk_vm_create(const struct hk_vm_opts *o, struct hk_vm **out)
{
	uint64_t low, ring;
	struct hk_vm *vm;
	int ret;

	if (!o || o->sz < sizeof(*o) || o->ncpus == 0 || o->ncpus > CVMM_GUEST_MAX_CPUS ||
	    o->mem_size < 16 * MIB || !CVMM_IS_ALIGNED(o->mem_size, 2 * MIB) ||
	    o->dirty > HK_DIRTY_RING || !CVMM_IS_ALIGNED(o->split_gpa, 2 * MIB))
		return -EINVAL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->o = *o;
	pthread_condattr_t ca;

	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->dirty_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->done, &ca);
	pthread_condattr_destroy(&ca);
	vm->vcpus = calloc(o->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = cvmm_kvm_create(NULL, &vm->kvm);
	if (ret)
		goto fail;
	ret = cvmm_kvm_vm_create(vm->kvm, NULL, &vm->vm);
	if (ret)
		goto fail;
	if (o->dirty == HK_DIRTY_CLEAR) {
		ret = cvmm_kvm_vm_enable_manual_dirty_protect(
			vm->vm, KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE);
		if (ret)
			goto fail;
	} else if (o->dirty == HK_DIRTY_RING) {
		ring = o->ring_bytes ? o->ring_bytes : 64 * 1024;
		ret = cvmm_kvm_vm_enable_dirty_ring(vm->vm, (uint32_t)ring);
		if (ret)
			goto fail;
	}
	ret = cvmm_guest_mem_create(&vm->mem);
	if (ret)
		goto fail;
	low = CVMM_MIN(o->mem_size, CVMM_X86_MMIO_HOLE_START);
	if (o->split_gpa && o->split_gpa < low) {
		ret = add_ram(vm, 0, o->split_gpa);
		if (!ret)
			ret = add_ram(vm, o->split_gpa, low - o->split_gpa);
	} else {
		ret = add_ram(vm, 0, low);
	}
	if (!ret && o->mem_size > low)
		ret = add_ram(vm, CVMM_X86_MMIO_HOLE_END, o->mem_size - low);
	if (ret)
		goto fail;
	/*
	 * The irqchip after the slots: measured here, a first memory slot
	 * added after KVM_CREATE_IRQCHIP often waits several ms (an SRCU grace
	 * period), in this order it rarely does (docs/benchmarks.md).
	 */
	ret = cvmm_kvm_vm_create_irqchip(vm->vm);
	if (ret)
		goto fail;
	for (uint32_t i = 0; i < o->ncpus; i++) {
		ret = cvmm_kvm_vcpu_create(vm->vm, i, &vm->vcpus[i]);
		if (ret)
			goto fail;
	}
	*out = vm;
	return 0;
fail:
	hk_vm_destroy(vm);
	return ret;
}

void hk_vm_destroy(struct hk_vm *vm)
{
	if (!vm)
		return;
	for (uint32_t i = 0; vm->vcpus && i < vm->o.ncpus; i++)
		cvmm_kvm_vcpu_destroy(vm->vcpus[i]);
	cvmm_kvm_vm_destroy(vm->vm);
	cvmm_kvm_destroy(vm->kvm);
	cvmm_guest_mem_destroy(vm->mem);
	for (unsigned int i = 0; i < vm->nslots; i++) {
		free(vm->slots[i].bitmap);
		free(vm->slots[i].accum);
		free(vm->slots[i].touched);
	}
	pthread_mutex_destroy(&vm->lock);
	pthread_mutex_destroy(&vm->dirty_lock);
	pthread_cond_destroy(&vm->done);
	free(vm->vcpus);
	free(vm);
}

int hk_vm_load(struct hk_vm *vm, const char *path)
{
	struct cvmm_guest_load_opts lo = { .sz = sizeof(lo), .ncpus = vm->o.ncpus };
	int ret;

	memcpy(lo.args, vm->o.args, sizeof(lo.args));
	ret = cvmm_guest_load_file(vm->mem, path, &lo, &vm->layout);
	if (!ret)
		vm->loaded = true;
	return ret;
}

/* First caller decides the outcome; everyone then stops. */
static void finish(struct hk_vm *vm, uint32_t self, const struct hk_result *r)
{
	pthread_mutex_lock(&vm->lock);
	if (!vm->have_result) {
		vm->res = *r;
		vm->res.exit_ns = cvmm_now_ns();
		vm->have_result = true;
		pthread_cond_broadcast(&vm->done);
	}
	atomic_store(&vm->stopping, true);
	pthread_mutex_unlock(&vm->lock);
	for (uint32_t i = 0; i < vm->o.ncpus; i++)
		if (i != self)
			cvmm_kvm_vcpu_kick(vm->vcpus[i]);
}

void hk_vm_stop(struct hk_vm *vm, uint32_t code)
{
	struct hk_result r = { .outcome = HK_EXITED, .code = code };

	finish(vm, UINT32_MAX, &r);
}

static void fail(struct hk_vm *vm, uint32_t cpu, int err, const char *what)
{
	struct hk_result r = { .outcome = HK_ERROR, .cpu = cpu, .error = err };

	snprintf(r.what, sizeof(r.what), "%s", what);
	finish(vm, cpu, &r);
}

/* --- dirty tracking --------------------------------------------------------- */

static struct hk_slot *slot_by_id(struct hk_vm *vm, uint32_t id)
{
	for (unsigned int i = 0; i < vm->nslots; i++)
		if (vm->slots[i].id == id)
			return &vm->slots[i];
	return NULL;
}

static int ring_entry(uint32_t slot, uint64_t offset, void *opaque)
{
	struct hk_slot *s = slot_by_id(opaque, slot);

	/* The kernel's ring is shared memory: check before using its values. */
	if (!s || offset >= s->size / PAGE)
		return 0;
	if (!s->accum[offset / 64])
		s->touched[s->ntouched++] = offset / 64; /* at most one per word */
	s->accum[offset / 64] |= 1ull << (offset % 64);
	return 0;
}

/* Move every dirty page KVM knows of into the accum bitmaps. dirty_lock held. */
static int harvest_locked(struct hk_vm *vm)
{
	int ret;

	if (vm->o.dirty == HK_DIRTY_RING) {
		for (uint32_t i = 0; i < vm->o.ncpus; i++) {
			ret = cvmm_kvm_vcpu_dirty_ring_harvest_cb(vm->vcpus[i], ring_entry, vm);
			if (ret < 0)
				return ret;
		}
		ret = cvmm_kvm_vm_reset_dirty_rings(vm->vm);
		return ret < 0 ? ret : 0;
	}
	for (unsigned int i = 0; i < vm->nslots; i++) {
		struct hk_slot *s = &vm->slots[i];

		ret = cvmm_kvm_vm_get_dirty_log(vm->vm, s->id, s->bitmap, s->bitmap_bytes);
		if (ret)
			return ret;
		if (vm->o.dirty == HK_DIRTY_CLEAR) {
			ret = cvmm_kvm_vm_clear_dirty_log_chunked(vm->vm, s->id, s->bitmap,
								  s->bitmap_bytes, 0);
			if (ret < 0)
				return ret;
		}
		for (size_t w = 0; w < s->bitmap_bytes / 8; w++)
			s->accum[w] |= s->bitmap[w];
	}
	return 0;
}

/* Report and clear accum word @w of @s. */
static long report_word(struct hk_slot *s, size_t w, hk_dirty_fn fn, void *opaque)
{
	uint64_t bits = s->accum[w];
	long n = 0;

	s->accum[w] = 0;
	while (bits) {
		unsigned int b = (unsigned int)__builtin_ctzll(bits);

		bits &= bits - 1;
		n++;
		if (fn)
			fn(s->gpa + (w * 64 + b) * PAGE, opaque);
	}
	return n;
}

long hk_vm_dirty_collect(struct hk_vm *vm, hk_dirty_fn fn, void *opaque)
{
	long n = 0;
	int ret;

	if (vm->o.dirty == HK_DIRTY_NONE)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&vm->dirty_lock);
	ret = harvest_locked(vm);
	for (unsigned int i = 0; !ret && i < vm->nslots; i++) {
		struct hk_slot *s = &vm->slots[i];

		if (s->touched) {
			for (size_t t = 0; t < s->ntouched; t++)
				n += report_word(s, s->touched[t], fn, opaque);
			s->ntouched = 0;
			continue;
		}
		for (size_t w = 0; w < s->bitmap_bytes / 8; w++)
			if (s->accum[w])
				n += report_word(s, w, fn, opaque);
	}
	pthread_mutex_unlock(&vm->dirty_lock);
	return ret ? ret : n;
}

/* --- vCPU threads ------------------------------------------------------------ */

struct vcpu_arg {
	struct hk_vm *vm;
	uint32_t cpu;
};

static int handle_io(struct hk_vm *vm, uint32_t cpu, struct cvmm_kvm_exit *e)
{
	uint16_t port = e->io.port;

	if (e->io.is_write && e->io.count == 1) {
		if (port == CVMM_GUEST_PORT_EXIT && e->io.size == 4) {
			uint32_t code;
			struct hk_result r = { .outcome = HK_EXITED, .cpu = cpu };

			memcpy(&code, e->io.data, 4);
			r.code = code;
			finish(vm, cpu, &r);
			return 0;
		}
		if (port == CVMM_GUEST_PORT_COM1) {
			if (vm->o.serial) {
				pthread_mutex_lock(&vm->lock);
				fputc(e->io.data[0], vm->o.serial);
				pthread_mutex_unlock(&vm->lock);
			}
			return 0;
		}
		if (port == CVMM_GUEST_PORT_MARKER) {
			uint64_t zero = 0;

			atomic_compare_exchange_strong(&vm->marker_ns, &zero, cvmm_now_ns());
			return 0;
		}
		if (port == CVMM_GUEST_PORT_SYNC)
			return vm->o.on_sync ? vm->o.on_sync(vm, cpu, e->io.data[0], vm->o.opaque) : 0;
	}
	if (vm->o.on_io)
		return vm->o.on_io(vm, cpu, e, vm->o.opaque);
	if (!e->io.is_write) {
		/* 16550 LSR: transmitter empty, so polling guests make progress. */
		if (port == CVMM_GUEST_PORT_COM1 + 5 && e->io.size == 1)
			e->io.data[0] = 0x60;
		else
			memset(e->io.data, 0xff, (size_t)e->io.size * e->io.count);
	}
	return 0;
}

static void *vcpu_thread(void *p)
{
	struct vcpu_arg *a = p;
	struct hk_vm *vm = a->vm;
	uint32_t cpu = a->cpu;
	struct cvmm_kvm_vcpu *vcpu = vm->vcpus[cpu];
	struct cvmm_kvm_exit e;
	char name[16];
	int ret;

	snprintf(name, sizeof(name), "vcpu%u", cpu);
	cvmm_thread_set_name(name);
	ret = cvmm_guest_vcpu_setup(&vm->layout, vcpu, cpu);
	if (ret) {
		fail(vm, cpu, ret, "vCPU setup");
		return NULL;
	}
	if (vm->o.on_thread_start) {
		ret = vm->o.on_thread_start(vm, cpu, vm->o.opaque);
		if (ret) {
			fail(vm, cpu, ret, "vCPU thread start hook");
			return NULL;
		}
	}
	while (!atomic_load(&vm->stopping)) {
		ret = cvmm_kvm_vcpu_run(vcpu, &e);
		if (ret) {
			fail(vm, cpu, ret, "KVM_RUN");
			break;
		}
		switch (e.reason) {
		case CVMM_KVM_EXIT_IO:
			ret = handle_io(vm, cpu, &e);
			break;
		case CVMM_KVM_EXIT_MMIO:
			if (vm->o.on_io)
				ret = vm->o.on_io(vm, cpu, &e, vm->o.opaque);
			else if (!e.mmio.is_write)
				memset(e.mmio.data, 0xff, e.mmio.len);
			break;
		case CVMM_KVM_EXIT_INTR:
			break;
		case CVMM_KVM_EXIT_DIRTY_RING_FULL:
			pthread_mutex_lock(&vm->dirty_lock);
			ret = harvest_locked(vm);
			pthread_mutex_unlock(&vm->dirty_lock);
			break;
		case CVMM_KVM_EXIT_SHUTDOWN: {
			struct hk_result r = { .outcome = HK_SHUTDOWN, .cpu = cpu };
			struct kvm_regs regs;

			if (!cvmm_kvm_vcpu_get_regs(vcpu, &regs))
				r.rip = regs.rip;
			finish(vm, cpu, &r);
			break;
		}
		case CVMM_KVM_EXIT_INTERNAL_ERROR: {
			char what[96];

			snprintf(what, sizeof(what), "KVM internal error, suberror %u",
				 e.internal.suberror);
			fail(vm, cpu, -EIO, what);
			break;
		}
		case CVMM_KVM_EXIT_FAIL_ENTRY: {
			char what[96];

			snprintf(what, sizeof(what), "VM entry failed, reason 0x%llx",
				 (unsigned long long)e.fail_entry.hardware_entry_failure_reason);
			fail(vm, cpu, -EIO, what);
			break;
		}
		default: {
			char what[96];

			snprintf(what, sizeof(what), "unexpected exit %u", e.kvm_reason);
			fail(vm, cpu, -EIO, what);
			break;
		}
		}
		if (ret) {
			fail(vm, cpu, ret, "exit handler");
			break;
		}
	}
	return NULL;
}

int hk_vm_run(struct hk_vm *vm, struct hk_result *res)
{
	struct vcpu_arg *args;
	pthread_t *threads;
	uint32_t started = 0;
	int ret;

	if (!vm->loaded)
		return -EINVAL;
	ret = cvmm_kick_init();
	if (ret)
		return ret;
	args = calloc(vm->o.ncpus, sizeof(*args));
	threads = calloc(vm->o.ncpus, sizeof(*threads));
	if (!args || !threads) {
		free(args);
		free(threads);
		return -ENOMEM;
	}
	for (; started < vm->o.ncpus; started++) {
		args[started] = (struct vcpu_arg){ vm, started };
		ret = -pthread_create(&threads[started], NULL, vcpu_thread, &args[started]);
		if (ret) {
			fail(vm, started, ret, "pthread_create");
			break;
		}
	}
	if (vm->o.on_thread_start && started == vm->o.ncpus) {
		ret = vm->o.on_thread_start(vm, HK_MAIN_THREAD, vm->o.opaque);
		if (ret)
			fail(vm, HK_MAIN_THREAD, ret, "main thread start hook");
	}
	if (vm->o.timeout_ms) {
		struct timespec until;
		int err = 0;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += vm->o.timeout_ms / 1000;
		until.tv_nsec += (long)(vm->o.timeout_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&vm->lock);
		while (!vm->have_result && err != ETIMEDOUT)
			err = pthread_cond_timedwait(&vm->done, &vm->lock, &until);
		pthread_mutex_unlock(&vm->lock);
		if (err == ETIMEDOUT) {
			struct hk_result r = { .outcome = HK_TIMEOUT };

			snprintf(r.what, sizeof(r.what), "no exit within %u ms", vm->o.timeout_ms);
			finish(vm, UINT32_MAX, &r);
		}
	}
	for (uint32_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(args);
	free(threads);
	if (vm->o.serial)
		fflush(vm->o.serial);
	*res = vm->res;
	res->marker_ns = atomic_load(&vm->marker_ns);
	return 0;
}
