/* SPDX-License-Identifier: Apache-2.0 */
/* The API's vm.info (the configuration as VmConfig, the state, the device
 * tree with resources and PCI addresses) and vm.counters (each device
 * model's figures). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices/balloon.h>
#include <cvmm/virtio-devices/iommu.h>
#include <cvmm/virtio-devices/mem.h>
#include <cvmm/virtio-devices/net.h>
#include <cvmm/virtio-devices/vsock.h>

#include "api-internal.h"

static struct json_object *resource(const struct cvmm_vmm_resource *res)
{
	struct json_object *o = json_object_new_object(), *v;

	switch (res->kind) {
	case CVMM_VMM_RES_GSI:
		json_object_object_add(o, "LegacyIrq", json_object_new_int64((int64_t)res->base));
		return o;
	case CVMM_VMM_RES_MSI:
		json_object_object_add(o, "MsiIrq", json_object_new_int64((int64_t)res->base));
		return o;
	default:
		v = json_object_new_object();
		json_object_object_add(v, "base", json_object_new_int64((int64_t)res->base));
		json_object_object_add(v, "size", json_object_new_int64((int64_t)res->len));
		json_object_object_add(o, res->kind == CVMM_VMM_RES_PIO ? "PioAddressRange" :
					  "MmioAddressRange", v);
		return o;
	}
}

/* Cloud Hypervisor's PCI address form: segment 0, bus 0, function 0. */
struct json_object *bdf_json(unsigned int slot)
{
	char b[16];

	snprintf(b, sizeof(b), "0000:00:%02x.0", slot & 0x1f);
	return json_object_new_string(b);
}

static struct json_object *device_tree(struct api *a)
{
	struct cvmm_vmm_device_info devs[64];
	struct cvmm_vmm_resource res[256];
	struct json_object *t = json_object_new_object();
	int n, nr;

	if (!a->vm.vmm || cvmm_vmm_state(a->vm.vmm) == CVMM_VMM_SHUTDOWN)
		return t;
	n = cvmm_vmm_device_list(a->vm.vmm, devs, 64);
	nr = cvmm_vmm_alloc_list(a->vm.vmm, res, 256);
	for (int i = 0; i < n && i < 64; i++) {
		struct json_object *d = json_object_new_object(), *rs = json_object_new_array();

		for (int k = 0; k < nr && k < 256; k++)
			if (!strcmp(res[k].owner, devs[i].id))
				json_object_array_add(rs, resource(&res[k]));
		json_object_object_add(d, "id", json_object_new_string(devs[i].id));
		json_object_object_add(d, "kind", json_object_new_string(devs[i].kind ? devs[i].kind : ""));
		json_object_object_add(d, "resources", rs);
		json_object_object_add(d, "children", json_object_new_array());
		json_object_object_add(d, "pci_bdf", NULL);
		for (unsigned int k = 0; k < a->vm.nmodels; k++)
			if (a->vm.models[k].pci_slot && !strcmp(a->vm.models[k].id, devs[i].id))
				json_object_object_add(d, "pci_bdf",
						       bdf_json(a->vm.models[k].pci_slot));
		json_object_object_add(t, devs[i].id, d);
	}
	return t;
}

/* What the balloon holds (its driver's "actual"): Cloud Hypervisor's
 * memory_actual_size leaves it out. */
static uint64_t balloon_bytes(struct api *a)
{
	struct cvmm_balloon_counters c;

	for (unsigned int i = 0; a->vm.vmm && i < a->vm.nmodels; i++) {
		if (strcmp(a->vm.models[i].kind, "virtio-balloon") ||
		    cvmm_vmm_state(a->vm.vmm) == CVMM_VMM_SHUTDOWN)
			continue;
		cvmm_balloon_get_counters(a->vm.models[i].model, &c);
		return CVMM_MIN((uint64_t)c.actual * CVMM_BALLOON_PAGE_SIZE, a->cfg.memory);
	}
	return 0;
}

/* What virtio-mem has plugged (Cloud Hypervisor's memory_actual_size
 * counts it in). */
static uint64_t plugged_bytes(struct api *a)
{
	struct cvmm_virtio_mem_counters c;

	for (unsigned int i = 0; a->vm.vmm && i < a->vm.nmodels; i++) {
		if (strcmp(a->vm.models[i].kind, "virtio-mem") ||
		    cvmm_vmm_state(a->vm.vmm) == CVMM_VMM_SHUTDOWN)
			continue;
		cvmm_virtio_mem_get_counters(a->vm.models[i].model, &c);
		return c.plugged_size;
	}
	return 0;
}

void vm_info(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	(void)q;
	if (!a->have_cfg)
		return cvmm_api_error(r, 404, "vm.info: the VM is not created (vm.create first)");
	r->json = json_object_new_object();
	json_object_object_add(r->json, "config", cvmm_vm_config_to_json(&a->cfg));
	json_object_object_add(r->json, "state", json_object_new_string(state_name(a)));
	json_object_object_add(r->json, "memory_actual_size",
			       json_object_new_int64((int64_t)(a->cfg.memory + plugged_bytes(a) -
							       balloon_bytes(a))));
	json_object_object_add(r->json, "device_tree", device_tree(a));
	r->status = 200;
}

void counter(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

void vm_counters(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
{
	(void)q;
	if (!need(a, r, "Running|Paused|Shutdown", "vm.counters"))
		return;
	r->json = json_object_new_object();
	for (unsigned int i = 0; a->vm.vmm && i < a->vm.nmodels; i++) {
		const struct cvmm_vm_model *md = &a->vm.models[i];
		struct json_object *c = json_object_new_object();

		if (!strcmp(md->kind, "virtio-net")) {
			struct cvmm_net_stats s;

			cvmm_net_get_stats(md->model, &s);
			counter(c, "rx_bytes", s.rx_bytes);
			counter(c, "rx_frames", s.rx_frames);
			counter(c, "rx_dropped", s.rx_dropped);
			counter(c, "tx_bytes", s.tx_bytes);
			counter(c, "tx_frames", s.tx_frames);
			counter(c, "tx_dropped", s.tx_dropped);
		} else if (!strcmp(md->kind, "virtio-vsock")) {
			struct cvmm_vsock_stats s;

			cvmm_vsock_get_stats(md->model, &s);
			counter(c, "rx_packets", s.rx_pkts);
			counter(c, "tx_packets", s.tx_pkts);
			counter(c, "tx_dropped", s.tx_dropped);
			counter(c, "rst_sent", s.rst_sent);
			counter(c, "connections", s.conns);
		} else if (!strcmp(md->kind, "virtio-mem")) {
			struct cvmm_virtio_mem_counters s;

			cvmm_virtio_mem_get_counters(md->model, &s);
			counter(c, "plugged_size", s.plugged_size);
			counter(c, "requested_size", s.requested_size);
			counter(c, "region_size", s.region_size);
			counter(c, "block_size", s.block_size);
			counter(c, "plugged_blocks", s.plugs);
			counter(c, "unplugged_blocks", s.unplugs);
			counter(c, "unplug_all_requests", s.unplug_alls);
			counter(c, "nacks", s.nacks);
			counter(c, "refused_requests", s.errors);
		} else if (!strcmp(md->kind, "virtio-iommu")) {
			struct cvmm_iommu_stats s;

			cvmm_iommu_get_stats(md->model, &s);
			counter(c, "domains", s.domains);
			counter(c, "mappings", s.mappings);
			counter(c, "requests", s.requests);
			counter(c, "failed_requests", s.requests_failed);
		} else if (!strcmp(md->kind, "virtio-balloon")) {
			struct cvmm_balloon_counters s;

			cvmm_balloon_get_counters(md->model, &s);
			counter(c, "inflated_pages", s.inflated);
			counter(c, "deflated_pages", s.deflated);
			counter(c, "refused_pages", s.refused);
			counter(c, "reported_pages", s.reported);
			counter(c, "report_refused", s.report_refused);
			counter(c, "target_pages", s.num_pages);
			counter(c, "actual_pages", s.actual);
			counter(c, "stats_reports", s.stats_reports);
			/* the driver's last report (virtio 1.2, 5.5.6.3), and a
			 * request for the next one, which the next call shows */
			for (unsigned int k = 0; k < s.nstats; k++) {
				static const char *const tag[] = {
					"swap_in", "swap_out", "major_faults", "minor_faults",
					"free_memory", "total_memory", "available_memory",
					"disk_caches", "hugetlb_allocations", "hugetlb_failures",
				};
				char name[32];

				if (s.stats[k].tag < CVMM_ARRAY_SIZE(tag))
					snprintf(name, sizeof(name), "guest_%s", tag[s.stats[k].tag]);
				else
					snprintf(name, sizeof(name), "guest_stat_%u", s.stats[k].tag);
				counter(c, name, s.stats[k].val);
			}
			cvmm_balloon_stats_request(md->model);
		}
		json_object_object_add(r->json, md->id, c);
	}
	r->status = 200;
}

