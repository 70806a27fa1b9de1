/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The whole VM as one state stream (crates/snapshot): the VM's shape, the
 * in-kernel irqchip, PIT and clock, every vCPU (saved and restored on its
 * own thread), the allocator, the device table and each device's own
 * sections, and optionally guest RAM. Restore treats the stream as
 * hostile: everything is parsed and checked before the VM is touched, a
 * section no part of this VM claims is refused, and a refusal names the
 * section and field.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmm/snapshot.h>

#include "internal.h"

#define VM_SECTION "vm"
#define VM_VERSION 1u
#define KVM_SECTION "vm/kvm"
#define ALLOC_SECTION "vm/alloc"
#define DEVICES_SECTION "vm/devices"
#define VCPU_VERSION CVMM_KVM_VCPU_STATE_VERSION

struct vm_shape {
	uint32_t version;
	uint32_t ncpus;
	uint64_t mem_size;
	uint32_t ndevices;
	uint32_t nalloc;
};

struct device_record {
	char id[CVMM_VMM_ID_MAX];
	char kind[32];
};

static int to_err(const struct cvmm_snap_error *e, int ret, char *err, size_t errlen)
{
	char line[CVMM_SNAP_ERROR_LINE];

	if (err && errlen)
		snprintf(err, errlen, "%s", cvmm_snap_error_format(e, line, sizeof(line)));
	return ret;
}

/* ---- vCPUs ----------------------------------------------------------------- */

struct vcpu_io {
	struct cvmm_snap_writer *w;
	const struct cvmm_snap_section *sec;
	struct cvmm_kvm_vcpu_state st;
	int ret;
};

/* Each vCPU's whole state, taken on its own thread, in kvm-ioctls'
 * packed form (plain data, versioned). */
static int vcpu_save(void *arg, struct cvmm_kvm_vcpu *vcpu)
{
	struct vcpu_io *io = arg;
	struct cvmm_kvm_vcpu_state st;
	char id[CVMM_SNAP_ID_SIZE];
	void *buf = NULL;
	size_t len;
	int ret = cvmm_kvm_vcpu_state_save(vcpu, &st);

	if (ret)
		return ret;
	len = cvmm_kvm_vcpu_state_packed_size(&st);
	buf = malloc(len);
	ret = buf ? cvmm_kvm_vcpu_state_pack(&st, buf, len) : -ENOMEM;
	if (ret >= 0)
		ret = cvmm_snap_id_fmt(id, "vcpu/%u", cvmm_kvm_vcpu_id(vcpu));
	if (ret >= 0)
		ret = cvmm_snap_write(io->w, id, VCPU_VERSION, buf, len);
	free(buf);
	cvmm_kvm_vcpu_state_fini(&st);
	return ret < 0 ? ret : 0;
}

/* Parse a "vcpu/N" payload into @st (allocating its variable parts). */
static int vcpu_parse(const struct cvmm_snap_section *s, struct cvmm_kvm_vcpu_state *st,
		      struct cvmm_snap_error *e)
{
	struct cvmm_kvm_state_error why = { .field = "" };
	int ret = cvmm_kvm_vcpu_state_unpack(s->data, s->len, st, &why);

	if (ret)
		cvmm_snap_fail(e, s->id, why.field, "%s", why.msg);
	return ret;
}

static int vcpu_restore(void *arg, struct cvmm_kvm_vcpu *vcpu)
{
	struct vcpu_io *io = arg;

	return cvmm_kvm_vcpu_state_restore(vcpu, &io->st);
}

/* ---- saving ------------------------------------------------------------------ */

int cvmm_vmm_save(struct cvmm_vmm *vmm, struct cvmm_snap_writer *w, unsigned int flags,
		  char *err, size_t errlen)
{
	struct cvmm_vmm_resource *res = NULL;
	struct device_record *recs = NULL;
	struct cvmm_kvm_vm_state ks;
	struct vm_shape shape;
	int nres, ret;

	if (err && errlen)
		err[0] = 0;
	if (!vmm || !w || (flags & ~CVMM_VMM_SAVE_MEMORY))
		return -EINVAL;
	if (cvmm_vmm_state(vmm) != CVMM_VMM_PAUSED) {
		snprintf(err, errlen, "the VM must be paused to save it (it is %s)",
			 cvmm_vmm_state_name(cvmm_vmm_state(vmm)));
		return -EBUSY;
	}
	nres = cvmm_vmm_alloc_list(vmm, NULL, 0);
	res = calloc((size_t)nres + 1, sizeof(*res));
	recs = calloc((size_t)vmm->ndev + 1, sizeof(*recs));
	if (!res || !recs) {
		ret = -ENOMEM;
		goto out;
	}
	cvmm_vmm_alloc_list(vmm, res, (unsigned int)nres);
	for (unsigned int i = 0; i < vmm->ndev; i++) {
		snprintf(recs[i].id, sizeof(recs[i].id), "%s", vmm->dev[i].id);
		snprintf(recs[i].kind, sizeof(recs[i].kind), "%s", vmm->dev[i].kind);
	}
	shape = (struct vm_shape){ VM_VERSION, vmm->ncpus, vmm->opts.mem_size, vmm->ndev,
				   (uint32_t)nres };
	ret = cvmm_kvm_vm_state_save(vmm->vm, &ks);
	if (ret) {
		snprintf(err, errlen, "irqchip, PIT and clock: %s", strerror(-ret));
		goto out;
	}
	if ((ret = cvmm_snap_write(w, VM_SECTION, VM_VERSION, &shape, sizeof(shape))) ||
	    (ret = cvmm_snap_write(w, KVM_SECTION, CVMM_KVM_VM_STATE_VERSION, &ks, sizeof(ks))) ||
	    (ret = cvmm_snap_write(w, ALLOC_SECTION, VM_VERSION, res, (uint64_t)nres * sizeof(*res))) ||
	    (ret = cvmm_snap_write(w, DEVICES_SECTION, VM_VERSION, recs,
				   (uint64_t)vmm->ndev * sizeof(*recs))))
		goto write_err;
	for (unsigned int i = 0; i < vmm->ncpus; i++) {
		struct vcpu_io io = { .w = w };

		ret = cvmm_vmm_vcpu_call(vmm, i, vcpu_save, &io);
		if (ret) {
			snprintf(err, errlen, "vCPU %u: %s", i, strerror(-ret));
			goto out;
		}
	}
	for (unsigned int i = 0; i < vmm->ndev; i++) {
		const struct device_entry *d = &vmm->dev[i];

		if (!d->ops->save)
			continue;
		ret = d->ops->save(d->dev, w, d->id);
		if (ret) {
			snprintf(err, errlen, "device '%s': cannot save its state: %s", d->id,
				 strerror(-ret));
			goto out;
		}
	}
	if (flags & CVMM_VMM_SAVE_MEMORY) {
		for (unsigned int i = 0; i < cvmm_guest_mem_num_regions(vmm->mem); i++) {
			const struct cvmm_mem_region *r = cvmm_guest_mem_region(vmm->mem, i);
			char id[CVMM_SNAP_ID_SIZE];

			cvmm_snap_id_fmt(id, "mem/%u", i);
			if ((ret = cvmm_snap_write(w, id, VM_VERSION, r->host, r->size)))
				goto write_err;
		}
	}
	ret = 0;
	goto out;
write_err:
	snprintf(err, errlen, "writing the state: %s", strerror(-ret));
out:
	free(res);
	free(recs);
	return ret;
}

/* ---- restoring ---------------------------------------------------------------- */

static bool device_owns(const struct cvmm_vmm *vmm, const char *id)
{
	for (unsigned int i = 0; i < vmm->ndev; i++) {
		size_t n = strlen(vmm->dev[i].id);

		if (!strncmp(id, "dev/", 4) && !strncmp(id + 4, vmm->dev[i].id, n) && id[4 + n] == '/')
			return true;
	}
	return false;
}

/* Everything before the VM is touched: the shape, the device table, who
 * owns each section, the KVM state and every vCPU section. */
static int check_stream(struct cvmm_vmm *vmm, struct cvmm_snap_reader *r, unsigned int flags,
			struct cvmm_kvm_vm_state *ks, struct cvmm_kvm_vcpu_state *vst,
			struct cvmm_snap_error *e)
{
	struct cvmm_snap_section s;
	struct cvmm_kvm_state_error why;
	struct vm_shape shape;
	const struct device_record *recs;
	unsigned int nmem = 0;
	int ret;

	if ((ret = cvmm_snap_reader_require(r, VM_SECTION, VM_VERSION, &s, e)) ||
	    (ret = cvmm_snap_expect_len(e, s.id, NULL, s.len, sizeof(shape))))
		return ret;
	memcpy(&shape, s.data, sizeof(shape));
	if (shape.ncpus != vmm->ncpus)
		return cvmm_snap_fail(e, s.id, "ncpus", "%u vCPUs saved, this VM has %u", shape.ncpus,
				      vmm->ncpus);
	if (shape.mem_size != vmm->opts.mem_size)
		return cvmm_snap_fail(e, s.id, "mem_size", "%llu bytes saved, this VM has %llu",
				      (unsigned long long)shape.mem_size,
				      (unsigned long long)vmm->opts.mem_size);
	if ((ret = cvmm_snap_reader_require(r, DEVICES_SECTION, VM_VERSION, &s, e)))
		return ret;
	if (s.len != (uint64_t)shape.ndevices * sizeof(*recs))
		return cvmm_snap_expect_len(e, s.id, NULL, s.len,
					    (uint64_t)shape.ndevices * sizeof(*recs));
	recs = s.data;
	for (unsigned int i = 0; i < shape.ndevices; i++) {
		char field[48];
		int found = -1;

		snprintf(field, sizeof(field), "[%u].id", i);
		if (!memchr(recs[i].id, 0, sizeof(recs[i].id)) || !memchr(recs[i].kind, 0, sizeof(recs[i].kind)))
			return cvmm_snap_fail(e, s.id, field, "not NUL-terminated");
		for (unsigned int j = 0; j < vmm->ndev; j++)
			if (!strcmp(vmm->dev[j].id, recs[i].id))
				found = (int)j;
		if (found < 0)
			return cvmm_snap_fail(e, s.id, field, "device '%s' (%s) is not in this VM",
					      recs[i].id, recs[i].kind);
		if (strcmp(vmm->dev[found].kind, recs[i].kind))
			return cvmm_snap_fail(e, s.id, field, "device '%s' was a %s, here it is a %s",
					      recs[i].id, recs[i].kind, vmm->dev[found].kind);
	}
	if (shape.ndevices != vmm->ndev)
		return cvmm_snap_fail(e, s.id, "count", "%u devices saved, this VM has %u",
				      shape.ndevices, vmm->ndev);
	if ((ret = cvmm_snap_reader_require(r, ALLOC_SECTION, VM_VERSION, &s, e)))
		return ret;
	if (s.len != (uint64_t)shape.nalloc * sizeof(struct cvmm_vmm_resource))
		return cvmm_snap_expect_len(e, s.id, NULL, s.len,
					    (uint64_t)shape.nalloc * sizeof(struct cvmm_vmm_resource));
	/* The layout the devices got here must be the saved one: the guest's
	 * drivers know the devices by address and line. */
	{
		int n = cvmm_vmm_alloc_list(vmm, NULL, 0);
		struct cvmm_vmm_resource *cur = calloc((size_t)n + 1, sizeof(*cur));
		const struct cvmm_vmm_resource *saved = s.data;

		if (!cur)
			return -ENOMEM;
		cvmm_vmm_alloc_list(vmm, cur, (unsigned int)n);
		ret = 0;
		for (unsigned int i = 0; i < shape.nalloc && !ret; i++) {
			char field[48];

			snprintf(field, sizeof(field), "[%u]", i);
			if (i >= (unsigned int)n || cur[i].kind != saved[i].kind ||
			    cur[i].base != saved[i].base || cur[i].len != saved[i].len ||
			    strncmp(cur[i].owner, saved[i].owner, sizeof(cur[i].owner)))
				ret = cvmm_snap_fail(e, s.id, field,
						     "'%.47s' had %#llx+%#llx, this VM places it otherwise",
						     saved[i].owner, (unsigned long long)saved[i].base,
						     (unsigned long long)saved[i].len);
		}
		if (!ret && (unsigned int)n != shape.nalloc)
			ret = cvmm_snap_fail(e, s.id, "count", "%u allocations saved, this VM has %d",
					     shape.nalloc, n);
		free(cur);
		if (ret)
			return ret;
	}
	if ((ret = cvmm_snap_reader_require(r, KVM_SECTION, CVMM_KVM_VM_STATE_VERSION, &s, e)) ||
	    (ret = cvmm_snap_expect_len(e, s.id, NULL, s.len, sizeof(*ks))))
		return ret;
	memcpy(ks, s.data, sizeof(*ks));
	if ((ret = cvmm_kvm_vm_state_check(ks, &why)))
		return cvmm_snap_fail(e, KVM_SECTION, why.field, "%s", why.msg), ret;
	for (unsigned int i = 0; i < vmm->ncpus; i++) {
		char id[CVMM_SNAP_ID_SIZE];

		cvmm_snap_id_fmt(id, "vcpu/%u", i);
		if ((ret = cvmm_snap_reader_require(r, id, VCPU_VERSION, &s, e)) ||
		    (ret = vcpu_parse(&s, &vst[i], e)))
			return ret;
	}
	/* Every other section must belong to someone here. */
	for (size_t i = 0; i < cvmm_snap_reader_count(r); i++) {
		cvmm_snap_reader_at(r, i, &s);
		if (!strncmp(s.id, "mem/", 4)) {
			nmem++;
			continue;
		}
		if (!cvmm_snap_reader_claimed(r, i) && !device_owns(vmm, s.id))
			return cvmm_snap_fail(e, s.id, NULL, "no part of this VM restores it");
	}
	if ((flags & CVMM_VMM_RESTORE_MEMORY) && nmem != cvmm_guest_mem_num_regions(vmm->mem))
		return cvmm_snap_fail(e, "mem/0", NULL, "%u memory regions saved, this VM has %u",
				      nmem, cvmm_guest_mem_num_regions(vmm->mem));
	for (unsigned int i = 0; (flags & CVMM_VMM_RESTORE_MEMORY) && i < nmem; i++) {
		const struct cvmm_mem_region *reg = cvmm_guest_mem_region(vmm->mem, i);
		char id[CVMM_SNAP_ID_SIZE];

		cvmm_snap_id_fmt(id, "mem/%u", i);
		if ((ret = cvmm_snap_reader_require(r, id, VM_VERSION, &s, e)) ||
		    (ret = cvmm_snap_expect_len(e, id, NULL, s.len, reg->size)))
			return ret;
	}
	return 0;
}

int cvmm_vmm_restore(struct cvmm_vmm *vmm, struct cvmm_snap_reader *r, unsigned int flags,
		     char *err, size_t errlen)
{
	struct cvmm_kvm_vcpu_state *vst;
	struct cvmm_kvm_state_error why;
	struct cvmm_kvm_vm_state ks;
	struct cvmm_snap_error e;
	int ret;

	if (err && errlen)
		err[0] = 0;
	memset(&e, 0, sizeof(e));
	if (!vmm || !r || (flags & ~(CVMM_VMM_RESTORE_MEMORY | CVMM_VMM_RESTORE_CLOCK_REALTIME)))
		return -EINVAL;
	if (cvmm_vmm_state(vmm) != CVMM_VMM_CREATED || vmm->restored) {
		snprintf(err, errlen, "restore needs a VM that never ran");
		return -EBUSY;
	}
	vst = calloc(vmm->ncpus, sizeof(*vst));
	if (!vst)
		return -ENOMEM;
	ret = check_stream(vmm, r, flags, &ks, vst, &e);
	if (ret) {
		to_err(&e, ret, err, errlen);
		goto out;
	}
	/* From here on the VM changes; a failure leaves it unable to start. */
	vmm->restored = true;
	vmm->broken = true;
	for (unsigned int i = 0; (flags & CVMM_VMM_RESTORE_MEMORY) &&
	     i < cvmm_guest_mem_num_regions(vmm->mem); i++) {
		const struct cvmm_mem_region *reg = cvmm_guest_mem_region(vmm->mem, i);
		struct cvmm_snap_section s;
		char id[CVMM_SNAP_ID_SIZE];

		cvmm_snap_id_fmt(id, "mem/%u", i);
		cvmm_snap_reader_find(r, id, &s);
		memcpy(reg->host, s.data, reg->size);
	}
	ret = cvmm_kvm_vm_state_restore(vmm->vm, &ks,
					flags & CVMM_VMM_RESTORE_CLOCK_REALTIME ?
					CVMM_KVM_VM_RESTORE_CLOCK_REALTIME : 0, &why);
	if (ret) {
		snprintf(err, errlen, "state section '%s' field '%s': %s", KVM_SECTION, why.field,
			 why.msg);
		goto out;
	}
	for (unsigned int i = 0; i < vmm->ncpus; i++) {
		struct vcpu_io io = { .st = vst[i] };

		ret = cvmm_vmm_vcpu_call(vmm, i, vcpu_restore, &io);
		if (ret) {
			snprintf(err, errlen, "state section 'vcpu/%u': KVM refused the state: %s", i,
				 strerror(-ret));
			goto out;
		}
	}
	for (unsigned int i = 0; i < vmm->ndev; i++) {
		const struct device_entry *d = &vmm->dev[i];

		if (!d->ops->restore)
			continue;
		ret = d->ops->restore(d->dev, r, d->id, err, errlen);
		if (ret)
			goto out;
	}
	/* Memory the caller did not ask for is not an unknown section. */
	for (unsigned int i = 0; !(flags & CVMM_VMM_RESTORE_MEMORY); i++) {
		struct cvmm_snap_section s;
		char id[CVMM_SNAP_ID_SIZE];

		cvmm_snap_id_fmt(id, "mem/%u", i);
		if (cvmm_snap_reader_find(r, id, &s))
			break;
	}
	ret = cvmm_snap_reader_unclaimed(r, &e);
	if (ret) {
		to_err(&e, ret, err, errlen);
		goto out;
	}
	vmm->broken = false;
out:
	for (unsigned int i = 0; i < vmm->ncpus; i++)
		cvmm_kvm_vcpu_state_fini(&vst[i]);
	free(vst);
	return ret;
}
