/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hostile whole-VM state into cvmm_vmm_restore(). Raw byte mutations of a
 * stream would nearly all die at the framing's CRCs, so the input is a
 * list of edits applied to a real stream (a small VM: 1 vCPU, 2 MiB, the
 * platform and a virtio-rng, saved once while halted), which is then
 * framed again with correct CRCs: every edit reaches the section's own
 * checks. Restore must refuse with a message or succeed; it must never
 * crash, leak or touch memory outside the VM. Needs /dev/kvm: without it
 * every input is skipped.
 *
 * Input: a sequence of 4-byte edits {section, op, offset (u8, scaled),
 * value}: op 0-3 xor a payload byte, 4 truncate the payload there, 5 set the
 * section's version, 6 drop the section, 7 duplicate it under an id with
 * one character changed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmm/snapshot.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/console.h>
#include <cvmm/vmm.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MEM (2ull << 20)
#define MAX_SECTIONS 64

struct section {
	char id[CVMM_SNAP_ID_SIZE];
	uint32_t version;
	uint8_t *data;
	size_t len;
	bool dropped;
};

static struct section base[MAX_SECTIONS];
static size_t nbase;
static bool have_kvm;

static void rng_destroy(void *p) { cvmm_rng_destroy(p); }

static struct cvmm_vmm *make_vm(void)
{
	struct cvmm_vmm_opts o = { .sz = sizeof(o), .mem_size = MEM, .ncpus = 1 };
	struct cvmm_vmm_platform_opts po = { .sz = sizeof(po), .serial_out_fd = -1 };
	struct cvmm_rng_opts ro = { .sz = sizeof(ro) };
	struct cvmm_vmm_virtio_opts vo = { .sz = sizeof(vo), .prefix = "__rng",
					   .kind = "virtio-rng", .destroy = rng_destroy };
	struct cvmm_vmm *vmm;
	struct cvmm_rng *rng;
	char err[256];

	if (cvmm_vmm_create(&o, &vmm, err, sizeof(err)))
		return NULL;
	if (cvmm_vmm_platform_add(vmm, &po, err, sizeof(err)) || !cvmm_vmm_device_loop(vmm) ||
	    cvmm_rng_create(&ro, &rng)) {
		cvmm_vmm_destroy(vmm);
		return NULL;
	}
	vo.dev = cvmm_rng_device(rng);
	vo.model = rng;
	if (cvmm_vmm_virtio_mmio_add(vmm, &vo, NULL, err, sizeof(err))) {
		cvmm_rng_destroy(rng);
		cvmm_vmm_destroy(vmm);
		return NULL;
	}
	return vmm;
}

/* The base stream: the VM halted in real mode (hlt; jmp $-1 at 0x1000,
 * interrupts off), paused and saved. */
static int make_base(void)
{
	static const uint8_t code[] = { 0xf4, 0xeb, 0xfd };
	struct cvmm_vmm *vmm = make_vm();
	struct cvmm_snap_writer *w = NULL;
	struct cvmm_snap_reader *r = NULL;
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };
	const void *p;
	size_t len;
	char err[256];
	int ret = -1;

	if (!vmm)
		return -1;
	if (cvmm_guest_mem_write(cvmm_vmm_mem(vmm), 0x1000, code, sizeof(code)) ||
	    cvmm_kvm_vcpu_get_sregs(cvmm_vmm_vcpu(vmm, 0), &sregs))
		goto out;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (cvmm_kvm_vcpu_set_sregs(cvmm_vmm_vcpu(vmm, 0), &sregs) ||
	    cvmm_kvm_vcpu_set_regs(cvmm_vmm_vcpu(vmm, 0), &regs) || cvmm_vmm_start(vmm) ||
	    cvmm_vmm_pause(vmm) || cvmm_snap_writer_create(NULL, &w) ||
	    cvmm_vmm_save(vmm, w, 0, err, sizeof(err)) || cvmm_snap_writer_finish(w) ||
	    cvmm_snap_writer_buffer(w, &p, &len) || cvmm_snap_reader_open(p, len, &r, NULL))
		goto out;
	for (size_t i = 0; i < cvmm_snap_reader_count(r) && nbase < MAX_SECTIONS; i++) {
		struct cvmm_snap_section s;

		if (cvmm_snap_reader_at(r, i, &s))
			goto out;
		snprintf(base[nbase].id, sizeof(base[nbase].id), "%s", s.id);
		base[nbase].version = s.version;
		base[nbase].len = s.len;
		base[nbase].data = malloc(s.len ? s.len : 1);
		if (!base[nbase].data)
			goto out;
		memcpy(base[nbase].data, s.data, s.len);
		nbase++;
	}
	ret = 0;
out:
	cvmm_snap_reader_destroy(r);
	cvmm_snap_writer_destroy(w);
	if (cvmm_vmm_state(vmm) != CVMM_VMM_CREATED) {
		cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_REQUEST, 0);
		cvmm_vmm_run(vmm);
	}
	cvmm_vmm_destroy(vmm);
	return ret;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	have_kvm = make_base() == 0 && nbase > 0;
	if (!have_kvm)
		fprintf(stderr, "fuzz-vmm-restore: no usable /dev/kvm: every input is skipped\n");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct section s[MAX_SECTIONS * 2];
	size_t n = nbase;
	struct cvmm_snap_writer *w = NULL;
	struct cvmm_snap_reader *r = NULL;
	struct cvmm_vmm *vmm;
	const void *p;
	size_t len;
	char err[400];
	int ret;

	if (!have_kvm || size > 4 * 64)
		return 0;
	memcpy(s, base, nbase * sizeof(s[0]));
	for (size_t i = 0; i < n; i++) {
		s[i].data = malloc(s[i].len ? s[i].len : 1);
		if (!s[i].data)
			abort();
		memcpy(s[i].data, base[i].data, s[i].len);
	}
	for (size_t k = 0; k + 4 <= size; k += 4) {
		struct section *t = &s[data[k] % n];
		uint8_t op = data[k + 1] % 8, v = data[k + 3];
		size_t off = t->len ? (size_t)data[k + 2] * t->len / 256 : 0;

		switch (op) {
		case 0: case 1: case 2: case 3:
			if (t->len)
				t->data[off] ^= v ? v : 1;
			break;
		case 4:
			t->len = off;
			break;
		case 5:
			t->version = v;
			break;
		case 6:
			t->dropped = true;
			break;
		case 7:
			if (n < MAX_SECTIONS * 2) {
				s[n] = *t;
				s[n].data = malloc(t->len ? t->len : 1);
				if (!s[n].data)
					abort();
				memcpy(s[n].data, t->data, t->len);
				s[n].id[data[k + 2] % (strlen(t->id) ? strlen(t->id) : 1)] = (char)('a' + v % 26);
				n++;
			}
			break;
		}
	}
	if (cvmm_snap_writer_create(NULL, &w))
		abort();
	for (size_t i = 0; i < n; i++)
		if (!s[i].dropped)
			cvmm_snap_write(w, s[i].id, s[i].version, s[i].data, s[i].len);
	vmm = make_vm();
	if (vmm && !cvmm_snap_writer_finish(w) && !cvmm_snap_writer_buffer(w, &p, &len) &&
	    !cvmm_snap_reader_open(p, len, &r, NULL)) {
		err[0] = 0;
		ret = cvmm_vmm_restore(vmm, r, 0, err, sizeof(err));
		/* a refusal always says why */
		if (ret && !err[0])
			abort();
	}
	cvmm_snap_reader_destroy(r);
	cvmm_snap_writer_destroy(w);
	cvmm_vmm_destroy(vmm);
	for (size_t i = 0; i < n; i++)
		free(s[i].data);
	return 0;
}
