/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM configuration layer on its own (cvmm/vmm/config.h): option
 * strings, VmConfig JSON both ways, device ids and removal, and the PCI
 * slots. No KVM needed. End-to-end checks of the same through
 * cvmm-microvm are tests/microvm/cli.sh and tests/api/config.sh.
 */
#include <errno.h>
#include <string.h>

#include <json-c/json.h>

#include <cvmm/vmm/config.h>

#include "cvmm-test.h"

/* What a device that names no transport gets on a VM that names none. */
#define DEFAULT_IS_PCI true

static struct cvmm_vm_config c;
static char err[512];

static void setup(void)
{
	memset(&c, 0, sizeof(c));
	cvmm_vm_config_init(&c);
	err[0] = '\0';
}

START_TEST(option_strings)
{
	ck_assert_int_eq(cvmm_vm_parse_disk(&c.dev, "path=/a,readonly=on,rate=100", err,
					    sizeof(err)), 0);
	ck_assert(c.dev.disk[0].read_only);
	ck_assert_uint_eq(c.dev.disk[0].ops_per_sec, 100);
	ck_assert_int_eq(cvmm_vm_parse_disk(&c.dev, "path=/b,readonly=maybe", err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "--disk: readonly: 'maybe' is not on or off");
	ck_assert_int_eq(cvmm_vm_parse_disk(&c.dev, "path=/b,,readonly=on", err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(cvmm_vm_parse_disk(&c.dev, "readonly=on", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "--disk: path: missing (path=FILE)");
	ck_assert_uint_eq(c.dev.ndisks, 1);
	ck_assert_int_eq(cvmm_vm_parse_net(&c.dev, "tap=tap0,mac=02:00:00:00:00:01", err,
					   sizeof(err)), 0);
	ck_assert_int_eq(cvmm_vm_parse_net(&c.dev, "tap=tap1,mac=01:00:00:00:00:01", err,
					   sizeof(err)), -EINVAL);
	ck_assert_int_eq(cvmm_vm_parse_net(&c.dev, "vhost_user=on,socket=/s", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.dev.nvhost, 1);
	ck_assert_uint_eq(c.dev.vhost[0].type, 1);
	ck_assert_int_eq(cvmm_vm_parse_vsock(&c.dev, "cid=2,socket=/v", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(cvmm_vm_parse_cpus(&c, "0", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(cvmm_vm_parse_cpus(&c, "4", err, sizeof(err)), 0);
	ck_assert_int_eq(cvmm_vm_parse_memory(&c, "1M", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(cvmm_vm_parse_memory(&c, "64M", err, sizeof(err)), 0);
	/* Cloud Hypervisor's form with virtio-mem */
	ck_assert_int_eq(cvmm_vm_parse_memory(&c, "size=64M,hotplug_method=acpi,hotplug_size=1G",
					      err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(cvmm_vm_parse_memory(&c, "size=64M,hotplug_size=1G", err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "--memory: hotplug_size: needs hotplug_method=virtio-mem");
	ck_assert_int_eq(cvmm_vm_parse_memory(&c, "size=64M,hotplug_method=virtio-mem,hotplug_size=3M",
					      err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(cvmm_vm_parse_memory(&c, "size=64M,hotplug_method=virtio-mem", err,
					      sizeof(err)), -EINVAL);
	ck_assert_int_eq(cvmm_vm_parse_memory(&c, "hotplug_method=virtio-mem,hotplug_size=1G", err,
					      sizeof(err)), -EINVAL);
	ck_assert_int_eq(cvmm_vm_parse_memory(&c, "size=64M,hotplug_method=virtio-mem,"
					      "hotplug_size=64M,hotplugged_size=66M", err,
					      sizeof(err)), -EINVAL);
	ck_assert(!c.dev.vmem);
	ck_assert_int_eq(cvmm_vm_parse_memory(&c, "size=64M,hotplug_method=virtio-mem,"
					      "hotplug_size=1G,hotplugged_size=32M", err,
					      sizeof(err)), 0);
	ck_assert(c.dev.vmem);
	ck_assert_uint_eq(c.memory, 64ull << 20);
	ck_assert_uint_eq(c.dev.vmem_size, 1ull << 30);
	ck_assert_uint_eq(c.dev.vmem_requested, 32ull << 20);
	ck_assert_int_eq(cvmm_vm_parse_balloon(&c.dev, "size=128M,free_page_reporting=maybe", err,
					       sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "--balloon: free_page_reporting: 'maybe' is not on or off");
	ck_assert_int_eq(cvmm_vm_parse_balloon(&c.dev, "size=128M,free_page_reporting=on", err,
					       sizeof(err)), 0);
	ck_assert(c.dev.balloon_fpr);
	ck_assert_int_eq(cvmm_vm_config_finish(&c, err, sizeof(err)), -EINVAL);
	ck_assert_uint_eq(cvmm_vm_virtio_count(&c.dev), 5);
}
END_TEST

START_TEST(pci_slots_and_ids)
{
	unsigned int counter = 0;

	c.dev.transport = CVMM_VM_TR_MMIO;  /* --transport mmio: /b stays off PCI */

	ck_assert_int_eq(cvmm_vm_parse_disk(&c.dev, "path=/a,transport=pci", err, sizeof(err)), 0);
	ck_assert_int_eq(cvmm_vm_parse_disk(&c.dev, "path=/b", err, sizeof(err)), 0);
	ck_assert_int_eq(cvmm_vm_parse_rng(&c.dev, "transport=pci", err, sizeof(err)), 0);
	ck_assert_int_eq(cvmm_vm_config_finish(&c, err, sizeof(err)), 0);
	ck_assert(cvmm_vm_pci_wanted(&c.dev));
	ck_assert_uint_eq(c.dev.disk[0].tr.slot, 1);
	ck_assert_uint_eq(c.dev.disk[1].tr.slot, 0);
	ck_assert_uint_eq(c.dev.rng_tr.slot, 2);
	strcpy(c.dev.disk[1].id, "_disk0");  /* taken: the naming skips it */
	cvmm_vm_devices_name(&c.dev, &counter);
	ck_assert_str_eq(c.dev.disk[0].id, "_disk1");
	ck_assert_uint_eq(cvmm_vm_pci_slot_of(&c.dev, "_disk1"), 1);
	ck_assert_int_eq(cvmm_vm_devices_remove(&c.dev, "_disk1"), 0);
	ck_assert_int_eq(cvmm_vm_devices_remove(&c.dev, "_disk1"), -ENOENT);
	ck_assert_uint_eq(c.dev.ndisks, 1);
}
END_TEST

/* iommu=on: PCI only; the virtio-iommu takes the first slot; one line
 * for each mistake; VmConfig's per-device "iommu" both ways. */
START_TEST(iommu_option)
{
	struct json_object *j, *out, *d, *v;

	c.dev.transport = CVMM_VM_TR_MMIO;
	ck_assert_int_eq(cvmm_vm_parse_disk(&c.dev, "path=/a,iommu=on", err, sizeof(err)), 0);
	ck_assert(!cvmm_vm_iommu_wanted(&(struct cvmm_vm_devices){ 0 }));
	ck_assert(cvmm_vm_iommu_wanted(&c.dev));
	ck_assert_int_eq(cvmm_vm_config_finish(&c, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "--disk: iommu=on needs transport=pci (not mmio): the virtio-iommu "
			 "serves PCI devices");
	ck_assert_int_eq(cvmm_vm_parse_disk(&c.dev, "path=/b,iommu=yes", err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "--disk: iommu: 'yes' is not on or off");
	ck_assert_int_eq(cvmm_vm_parse_rng(&c.dev, "transport=pci,iommu=on,x=1", err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "--rng: unknown field 'x' (transport, iommu)");
	ck_assert_int_eq(cvmm_vm_parse_rng(&c.dev, "iommu=on", err, sizeof(err)), 0);
	c.dev.transport = CVMM_VM_TR_PCI;
	ck_assert_int_eq(cvmm_vm_parse_net(&c.dev, "tap=t0", err, sizeof(err)), 0);
	ck_assert_int_eq(cvmm_vm_config_finish(&c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.dev.iommu_tr.slot, 1);
	ck_assert_uint_eq(c.dev.disk[0].tr.slot, 2);
	ck_assert_uint_eq(c.dev.net[0].tr.slot, 3);
	ck_assert_uint_eq(c.dev.rng_tr.slot, 4);
	ck_assert_uint_eq(cvmm_vm_virtio_count(&c.dev), 4);
	out = cvmm_vm_config_to_json(&c);
	ck_assert(json_object_object_get_ex(out, "disks", &d));
	ck_assert(json_object_object_get_ex(json_object_array_get_idx(d, 0), "iommu", &v));
	ck_assert(json_object_get_boolean(v));
	ck_assert(json_object_object_get_ex(out, "net", &d));
	ck_assert(!json_object_object_get_ex(json_object_array_get_idx(d, 0), "iommu", &v));
	json_object_put(out);
	j = json_tokener_parse("{\"path\": \"/d\", \"iommu\": true}");
	ck_assert_int_eq(cvmm_vm_config_add_json(j, "disk", &c.dev, NULL, 0, err, sizeof(err)), 0);
	ck_assert(c.dev.disk[c.dev.ndisks - 1].tr.iommu);
	json_object_put(j);
	j = json_tokener_parse("{\"path\": \"/d\", \"iommu\": 3}");
	ck_assert_int_eq(cvmm_vm_config_add_json(j, "disk", &c.dev, NULL, 0, err, sizeof(err)),
			 -EINVAL);
	json_object_put(j);
}
END_TEST

START_TEST(vmconfig_round_trip)
{
	static const char *const in =
		"{\"payload\": {\"kernel\": \"/k\", \"cmdline\": \"x\"},"
		" \"cpus\": {\"boot_vcpus\": 2, \"max_vcpus\": 2},"
		" \"memory\": {\"size\": 268435456, \"shared\": true,"
		"             \"hotplug_method\": \"VirtioMem\", \"hotplug_size\": 1073741824,"
		"             \"hotplugged_size\": 4194304},"
		" \"disks\": [{\"path\": \"/d\", \"readonly\": true, \"id\": \"root\"}],"
		" \"vsock\": {\"cid\": 3, \"socket\": \"/v\"}, \"rng\": {\"src\": \"/dev/urandom\"},"
		" \"balloon\": {\"size\": 0, \"free_page_reporting\": true},"
		" \"iommu\": false}";
	struct json_object *j = json_tokener_parse(in), *out, *d, *back;
	struct cvmm_vm_config c2;

	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(cvmm_vm_config_from_json(j, &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.cpus, 2);
	ck_assert(c.mem_shared && c.dev.rng && c.dev.vsock);
	ck_assert(c.dev.balloon && c.dev.balloon_fpr);
	ck_assert(c.dev.vmem);
	ck_assert_uint_eq(c.dev.vmem_size, 1ull << 30);
	ck_assert_uint_eq(c.dev.vmem_requested, 4ull << 20);
	ck_assert_str_eq(c.dev.disk[0].id, "root");
	out = cvmm_vm_config_to_json(&c);
	ck_assert(json_object_object_get_ex(out, "disks", &d));
	ck_assert_int_eq(json_object_array_length(d), 1);
	/* what vm.info shows is a VmConfig vm.create takes again */
	back = json_tokener_parse(json_object_to_json_string(out));
	memset(&c2, 0, sizeof(c2));
	cvmm_vm_config_init(&c2);
	ck_assert_int_eq(cvmm_vm_config_from_json(back, &c2, err, sizeof(err)), 0);
	ck_assert_uint_eq(c2.memory, c.memory);
	ck_assert_uint_eq(c2.dev.ndisks, 1);
	ck_assert(c2.dev.balloon_fpr);
	ck_assert(c2.dev.vmem && c2.dev.vmem_size == 1ull << 30 && c2.dev.vmem_requested == 4ull << 20);
	json_object_put(back);
	json_object_put(out);
	/* ACPI (DIMM) hotplug is not cvmm's */
	{
		struct json_object *mem;

		ck_assert(json_object_object_get_ex(j, "memory", &mem));
		json_object_object_add(mem, "hotplug_method", json_object_new_string("Acpi"));
		ck_assert_int_eq(cvmm_vm_config_from_json(j, &c, err, sizeof(err)), -EINVAL);
		ck_assert_str_eq(err, "memory.hotplug_size: ACPI memory hotplug is not supported by "
				      "cvmm (hotplug_method VirtioMem is)");
		json_object_object_add(mem, "hotplug_method", json_object_new_string("VirtioMem"));
		json_object_object_add(mem, "hotplug_size", json_object_new_int64(3 << 20));
		ck_assert_int_eq(cvmm_vm_config_from_json(j, &c, err, sizeof(err)), -EINVAL);
		json_object_object_add(mem, "hotplug_size", json_object_new_int64(1 << 30));
	}
	/* a field cvmm lacks, set to something other than its default */
	json_object_object_add(j, "iommu", json_object_new_boolean(1));
	ck_assert_int_eq(cvmm_vm_config_from_json(j, &c, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "VmConfig.iommu: not supported by cvmm (only its default)");
	json_object_put(j);
	j = json_object_new_object();  /* a disk without a path */
	ck_assert_int_eq(cvmm_vm_config_add_json(j, "disk", &c.dev, NULL, 0, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "disk.path: missing");
	json_object_put(j);
}
END_TEST

/* The VM-wide default (--transport, platform.transport) and each
 * device's own transport= over it, both ways; PCI when nothing says. */
START_TEST(transport_default)
{
	struct json_object *j, *out, *p, *v;
	struct cvmm_vm_config c2;

	ck_assert_int_eq(cvmm_vm_parse_disk(&c.dev, "path=/a", err, sizeof(err)), 0);
	ck_assert_int_eq(cvmm_vm_config_finish(&c, err, sizeof(err)), 0);
	ck_assert(cvmm_vm_tr_is_pci(&c.dev, &c.dev.disk[0].tr) == DEFAULT_IS_PCI);
	ck_assert(cvmm_vm_pci_wanted(&c.dev) == DEFAULT_IS_PCI);

	ck_assert_int_eq(cvmm_vm_parse_transport(&c.dev, "usb", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "--transport: 'usb' is not pci or mmio");
	ck_assert_int_eq(cvmm_vm_parse_transport(&c.dev, "", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "--transport: '' is not pci or mmio");

	/* --transport mmio, a device on pci: only that one is, and it adds
	 * the segment */
	ck_assert_int_eq(cvmm_vm_parse_transport(&c.dev, "mmio", err, sizeof(err)), 0);
	ck_assert_int_eq(cvmm_vm_config_finish(&c, err, sizeof(err)), 0);
	ck_assert(!cvmm_vm_tr_is_pci(&c.dev, &c.dev.disk[0].tr));
	ck_assert(!cvmm_vm_pci_wanted(&c.dev));
	ck_assert_int_eq(cvmm_vm_parse_disk(&c.dev, "path=/b,transport=pci", err, sizeof(err)), 0);
	ck_assert_int_eq(cvmm_vm_config_finish(&c, err, sizeof(err)), 0);
	ck_assert(!cvmm_vm_tr_is_pci(&c.dev, &c.dev.disk[0].tr));
	ck_assert(cvmm_vm_tr_is_pci(&c.dev, &c.dev.disk[1].tr));
	ck_assert_uint_eq(c.dev.disk[0].tr.slot, 0);
	ck_assert_uint_eq(c.dev.disk[1].tr.slot, 1);
	ck_assert(cvmm_vm_pci_wanted(&c.dev));

	/* --transport pci, a device on mmio */
	ck_assert_int_eq(cvmm_vm_parse_transport(&c.dev, "pci", err, sizeof(err)), 0);
	ck_assert_int_eq(cvmm_vm_parse_rng(&c.dev, "transport=mmio", err, sizeof(err)), 0);
	ck_assert_int_eq(cvmm_vm_config_finish(&c, err, sizeof(err)), 0);
	ck_assert(cvmm_vm_tr_is_pci(&c.dev, &c.dev.disk[0].tr));
	ck_assert(!cvmm_vm_tr_is_pci(&c.dev, &c.dev.rng_tr));
	ck_assert_uint_eq(c.dev.rng_tr.slot, 0);

	/* VmConfig: platform.transport; vm.info shows it and vm.create takes
	 * it back; without platform the command line's default stays */
	j = json_tokener_parse("{\"payload\": {\"kernel\": \"/k\"},"
			       " \"disks\": [{\"path\": \"/d\"}],"
			       " \"platform\": {\"transport\": \"mmio\", \"num_pci_segments\": 1}}");
	ck_assert_int_eq(cvmm_vm_config_from_json(j, &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.dev.transport, CVMM_VM_TR_MMIO);
	ck_assert(!cvmm_vm_tr_is_pci(&c.dev, &c.dev.disk[0].tr));
	out = cvmm_vm_config_to_json(&c);
	ck_assert(json_object_object_get_ex(out, "platform", &p));
	ck_assert(json_object_object_get_ex(p, "transport", &v));
	ck_assert_str_eq(json_object_get_string(v), "mmio");
	memset(&c2, 0, sizeof(c2));
	cvmm_vm_config_init(&c2);
	ck_assert_int_eq(cvmm_vm_config_from_json(out, &c2, err, sizeof(err)), 0);
	ck_assert_int_eq(c2.dev.transport, CVMM_VM_TR_MMIO);
	json_object_put(out);
	json_object_object_del(j, "platform");
	c2.dev.transport = CVMM_VM_TR_PCI;  /* --transport pci */
	ck_assert_int_eq(cvmm_vm_config_from_json(j, &c2, err, sizeof(err)), 0);
	ck_assert(cvmm_vm_tr_is_pci(&c2.dev, &c2.dev.disk[0].tr));
	json_object_put(j);

	/* a device's own "transport" over platform's, both ways, and back
	 * through vm.info's JSON */
	j = json_tokener_parse("{\"payload\": {\"kernel\": \"/k\"},"
			       " \"disks\": [{\"path\": \"/d\", \"transport\": \"pci\"},"
			       "             {\"path\": \"/e\"}],"
			       " \"vsock\": {\"cid\": 3, \"socket\": \"/v\", \"transport\": \"pci\"},"
			       " \"platform\": {\"transport\": \"mmio\"}}");
	ck_assert_int_eq(cvmm_vm_config_from_json(j, &c, err, sizeof(err)), 0);
	ck_assert(cvmm_vm_tr_is_pci(&c.dev, &c.dev.disk[0].tr));
	ck_assert(!cvmm_vm_tr_is_pci(&c.dev, &c.dev.disk[1].tr));
	ck_assert(cvmm_vm_tr_is_pci(&c.dev, &c.dev.vsock_tr));
	ck_assert_uint_eq(c.dev.disk[0].tr.slot, 1);
	ck_assert_uint_eq(c.dev.vsock_tr.slot, 2);
	p = json_tokener_parse("{\"path\": \"/f\", \"transport\": \"mmio\"}");
	c.dev.transport = CVMM_VM_TR_PCI;
	ck_assert_int_eq(cvmm_vm_config_add_json(p, "disk", &c.dev, NULL, 0, err, sizeof(err)), 0);
	ck_assert(!cvmm_vm_tr_is_pci(&c.dev, &c.dev.disk[2].tr));
	ck_assert(cvmm_vm_tr_is_pci(&c.dev, &c.dev.disk[1].tr));
	json_object_put(p);
	out = cvmm_vm_config_to_json(&c);  /* c's payload strings point into j */
	json_object_put(j);
	memset(&c2, 0, sizeof(c2));
	cvmm_vm_config_init(&c2);
	c2.dev.transport = CVMM_VM_TR_MMIO;  /* the receiver's flag: platform wins */
	ck_assert_int_eq(cvmm_vm_config_from_json(out, &c2, err, sizeof(err)), 0);
	ck_assert(cvmm_vm_tr_is_pci(&c2.dev, &c2.dev.disk[0].tr));
	ck_assert(cvmm_vm_tr_is_pci(&c2.dev, &c2.dev.disk[1].tr));
	ck_assert(!cvmm_vm_tr_is_pci(&c2.dev, &c2.dev.disk[2].tr));
	ck_assert(cvmm_vm_tr_is_pci(&c2.dev, &c2.dev.vsock_tr));
	json_object_put(out);
	j = json_tokener_parse("{\"path\": \"/f\", \"transport\": \"isa\"}");
	ck_assert_int_eq(cvmm_vm_config_add_json(j, "disk", &c.dev, NULL, 0, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "disk.transport: 'isa' is not pci or mmio");
	json_object_put(j);

	/* refused: a bad value, an unknown field, a Cloud Hypervisor field
	 * off its default; one line naming it */
	j = json_tokener_parse("{\"payload\": {\"kernel\": \"/k\"},"
			       " \"platform\": {\"transport\": \"usb\"}}");
	ck_assert_int_eq(cvmm_vm_config_from_json(j, &c, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "platform.transport: 'usb' is not pci or mmio");
	json_object_put(j);
	j = json_tokener_parse("{\"payload\": {\"kernel\": \"/k\"},"
			       " \"platform\": {\"transprt\": \"pci\"}}");
	ck_assert_int_eq(cvmm_vm_config_from_json(j, &c, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "platform.transprt: unknown field");
	json_object_put(j);
	j = json_tokener_parse("{\"payload\": {\"kernel\": \"/k\"},"
			       " \"platform\": {\"num_pci_segments\": 2}}");
	ck_assert_int_eq(cvmm_vm_config_from_json(j, &c, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "platform.num_pci_segments: not supported by cvmm (only its default 1)");
	json_object_put(j);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vmm-config");
	TCase *t = tcase_create("config");
	Suite *all[] = { s, NULL };

	tcase_add_checked_fixture(t, setup, NULL);
	tcase_add_test(t, option_strings);
	tcase_add_test(t, pci_slots_and_ids);
	tcase_add_test(t, vmconfig_round_trip);
	tcase_add_test(t, iommu_option);
	tcase_add_test(t, transport_default);
	suite_add_tcase(s, t);
	return cvmm_test_run(all);
}
