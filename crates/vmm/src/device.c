/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device table: every device of the VM, whatever its kind or
 * transport, under an id and one ops table, in the order it was added
 * (pause, save and restore walk it in that order; destroy in reverse).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool id_valid(const char *id)
{
	size_t n = strlen(id);

	if (!n || n >= CVMM_VMM_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

static int find(const struct cvmm_vmm *vmm, const char *id)
{
	for (unsigned int i = 0; i < vmm->ndev; i++)
		if (!strcmp(vmm->dev[i].id, id))
			return (int)i;
	return -1;
}

int cvmm_vmm_device_next_id(struct cvmm_vmm *vmm, const char *prefix, char id[CVMM_VMM_ID_MAX])
{
	if (!vmm || !prefix || !id)
		return -EINVAL;
	/* One counter for the whole VM, as Cloud Hypervisor's ids go
	 * (_disk0, _net1, ...); an id the user took is skipped. */
	for (;;) {
		int n = snprintf(id, CVMM_VMM_ID_MAX, "%s%u", prefix, vmm->next_dev_id++);

		if (n < 0 || n >= (int)CVMM_VMM_ID_MAX)
			return -ENAMETOOLONG;
		if (find(vmm, id) < 0)
			return 0;
	}
}

int cvmm_vmm_device_add(struct cvmm_vmm *vmm, const char *id, const char *prefix,
			const char *kind, const struct cvmm_vmm_device_ops *ops, void *dev,
			char out_id[CVMM_VMM_ID_MAX])
{
	char made[CVMM_VMM_ID_MAX];
	struct device_entry *e;
	int ret;

	if (!vmm || !ops || !ops->destroy || !kind || (!id && !prefix))
		return -EINVAL;
	if (!id) {
		ret = cvmm_vmm_device_next_id(vmm, prefix, made);
		if (ret)
			return ret;
		id = made;
	}
	if (!id_valid(id))
		return -EINVAL;
	if (find(vmm, id) >= 0)
		return -EEXIST;
	if (vmm->ndev == vmm->devcap) {
		unsigned int cap = vmm->devcap ? vmm->devcap * 2 : 16;
		struct device_entry *d = realloc(vmm->dev, cap * sizeof(*d));

		if (!d)
			return -ENOMEM;
		vmm->dev = d;
		vmm->devcap = cap;
	}
	/* A device joins in the VM's state: paused unless the VM runs. */
	if (cvmm_vmm_state(vmm) != CVMM_VMM_RUNNING && ops->pause) {
		ret = ops->pause(dev);
		if (ret)
			return ret;
	}
	e = &vmm->dev[vmm->ndev++];
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->kind = kind;
	e->ops = ops;
	e->dev = dev;
	if (out_id)
		snprintf(out_id, CVMM_VMM_ID_MAX, "%s", e->id);
	cvmm_vi_emit_type(vmm, CVMM_VMM_EV_DEVICE_ADDED, e->id);
	return 0;
}

static void destroy_entry(struct cvmm_vmm *vmm, struct device_entry *e)
{
	cvmm_vmm_alloc_free_owner(vmm, e->id);
	e->ops->destroy(e->dev);
}

int cvmm_vmm_device_remove(struct cvmm_vmm *vmm, const char *id)
{
	struct device_entry e;
	int i;

	if (!vmm || !id)
		return -EINVAL;
	i = find(vmm, id);
	if (i < 0)
		return -ENOENT;
	e = vmm->dev[i];
	memmove(&vmm->dev[i], &vmm->dev[i + 1], (vmm->ndev - (unsigned int)i - 1) * sizeof(e));
	vmm->ndev--;
	destroy_entry(vmm, &e);
	cvmm_vi_emit_type(vmm, CVMM_VMM_EV_DEVICE_REMOVED, e.id);
	return 0;
}

void *cvmm_vmm_device_find(const struct cvmm_vmm *vmm, const char *id)
{
	int i = vmm && id ? find(vmm, id) : -1;

	return i < 0 ? NULL : vmm->dev[i].dev;
}

int cvmm_vmm_device_list(const struct cvmm_vmm *vmm, struct cvmm_vmm_device_info *out,
			 unsigned int max)
{
	if (!vmm || (max && !out))
		return -EINVAL;
	for (unsigned int i = 0; i < vmm->ndev && i < max; i++) {
		snprintf(out[i].id, sizeof(out[i].id), "%s", vmm->dev[i].id);
		out[i].kind = vmm->dev[i].kind;
		out[i].dev = vmm->dev[i].dev;
		out[i].ops = vmm->dev[i].ops;
	}
	return (int)vmm->ndev;
}

int cvmm_vi_devices_pause(struct cvmm_vmm *vmm)
{
	for (unsigned int i = 0; i < vmm->ndev; i++) {
		const struct device_entry *e = &vmm->dev[i];
		int ret = e->ops->pause ? e->ops->pause(e->dev) : 0;

		if (ret) {
			CVMM_LOG(CVMM_LOG_ERROR, VMM_CRATE, "device '%s': pause: %s", e->id,
				 strerror(-ret));
			/* Undo: the ones already paused go on again. */
			while (i-- > 0)
				if (vmm->dev[i].ops->resume)
					vmm->dev[i].ops->resume(vmm->dev[i].dev);
			return ret;
		}
	}
	return 0;
}

int cvmm_vi_devices_resume(struct cvmm_vmm *vmm)
{
	int first = 0;

	for (unsigned int i = 0; i < vmm->ndev; i++) {
		const struct device_entry *e = &vmm->dev[i];
		int ret = e->ops->resume ? e->ops->resume(e->dev) : 0;

		if (ret) {
			CVMM_LOG(CVMM_LOG_ERROR, VMM_CRATE, "device '%s': resume: %s", e->id,
				 strerror(-ret));
			if (!first)
				first = ret;
		}
	}
	return first;
}

void cvmm_vi_devices_destroy_all(struct cvmm_vmm *vmm)
{
	while (vmm->ndev) {
		struct device_entry e = vmm->dev[--vmm->ndev];

		destroy_entry(vmm, &e);
	}
	free(vmm->dev);
	vmm->dev = NULL;
	vmm->devcap = 0;
}
