/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM configuration layer on its own (cvmm/vmm/config.h): option
 * strings, VmConfig JSON both ways, device ids and removal, and the PCI
 * slots. No KVM needed. End-to-end checks of the same through
 * cvmm-microvm are tests/microvm/cli.sh and tests/api/config.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include <cvmm/migration.h>
#include <cvmm/sys-util.h>
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

static struct cvmm_vmm_devfd devfd(int fd, uint32_t kind, uint32_t index, const char *id)
{
	struct cvmm_vmm_devfd d = { .fd = fd, .kind = kind, .index = index };

	snprintf(d.id, sizeof(d.id), "%s", id);
	return d;
}

/* One card from --net @arg, its id set to "net0". */
static void net0(struct cvmm_vm_devices *d, const char *arg)
{
	ck_assert_msg(cvmm_vm_parse_net(d, arg, err, sizeof(err)) == 0, "%s", err);
	snprintf(d->net[d->nnets - 1].id, sizeof(d->net[0].id), "net0");
}

/* A unix stream socket listening on @path (or only bound, @listening false). */
static int listener(const char *path, bool listening)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (listening)
		ck_assert_int_eq(listen(fd, 4), 0);
	return fd;
}

/* A TAP named after @pattern, or -1 where this process may not make one. */
static int tap(const char *pattern, char name[IFNAMSIZ])
{
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", pattern);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	return fd;
}

/*
 * A local migration's device fds are hostile: the count must match the
 * devices, each device must find its own, and each fd must be what it
 * claims (a TAP of the card's name, a listener on the vsock path).
 * Nothing is taken unless all pass.
 */
START_TEST(local_migration_devfds)
{
	char dir[] = "/tmp/cvmm-devfd-XXXXXX", path[128], other[128], name[IFNAMSIZ];
	struct cvmm_vmm_devfd f[3];
	int p[2], l, lo, t;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vsock", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	ck_assert_int_eq(pipe(p), 0);
	net0(&c.dev, "tap=tap0");

	/* fewer fds than the devices take */
	ck_assert_int_eq(cvmm_vm_devices_adopt_fds(&c.dev, f, 0, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "passed 0 device fds, this VM's devices take 1"), "%s", err);
	/* an fd that is not a TAP */
	f[0] = devfd(p[0], CVMM_MIG_DEVFD_TAP, 0, "net0");
	ck_assert_int_eq(cvmm_vm_devices_adopt_fds(&c.dev, f, 1, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "the fd for net0 queue pair 0 is not a TAP"), "%s", err);
	ck_assert_int_eq(f[0].fd, p[0]); /* not taken */
	ck_assert_int_eq(c.dev.net[0].nfds, 0u);
	/* an fd for another device, another pair */
	f[0] = devfd(p[0], CVMM_MIG_DEVFD_TAP, 0, "net1");
	ck_assert_int_eq(cvmm_vm_devices_adopt_fds(&c.dev, f, 1, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "no TAP fd for net0 queue pair 0"), "%s", err);
	f[0] = devfd(p[0], CVMM_MIG_DEVFD_TAP, 1, "net0");
	ck_assert_int_eq(cvmm_vm_devices_adopt_fds(&c.dev, f, 1, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "no TAP fd for net0 queue pair 0"), "%s", err);
	/* more than the devices take */
	f[0] = devfd(p[0], CVMM_MIG_DEVFD_TAP, 0, "net0");
	f[1] = devfd(p[1], CVMM_MIG_DEVFD_TAP, 0, "net0");
	ck_assert_int_eq(cvmm_vm_devices_adopt_fds(&c.dev, f, 2, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "passed 2 device fds, this VM's devices take 1"), "%s", err);

	/* the vsock listener: bound elsewhere, not listening, a pipe */
	setup();
	{
		char opt[200];
		unsigned int n = 0;

		snprintf(opt, sizeof(opt), "cid=3,socket=%s", path);
		ck_assert_int_eq(cvmm_vm_parse_vsock(&c.dev, opt, err, sizeof(err)), 0);
		cvmm_vm_devices_name(&c.dev, &n);
	}
	lo = listener(other, true);
	f[0] = devfd(lo, CVMM_MIG_DEVFD_VSOCK, 0, c.dev.vsock_id);
	ck_assert_int_eq(cvmm_vm_devices_adopt_fds(&c.dev, f, 1, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "listens on"), "%s", err);
	close(lo);
	l = listener(path, false);
	f[0] = devfd(l, CVMM_MIG_DEVFD_VSOCK, 0, c.dev.vsock_id);
	ck_assert_int_eq(cvmm_vm_devices_adopt_fds(&c.dev, f, 1, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "not a listening unix stream socket"), "%s", err);
	f[0].fd = p[0];
	ck_assert_int_eq(cvmm_vm_devices_adopt_fds(&c.dev, f, 1, err, sizeof(err)), -EINVAL);
	/* a TAP fd for the vsock device */
	f[0].kind = CVMM_MIG_DEVFD_TAP;
	ck_assert_int_eq(cvmm_vm_devices_adopt_fds(&c.dev, f, 1, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "no listener fd for"), "%s", err);
	/* the right one is taken */
	ck_assert_int_eq(listen(l, 4), 0);
	f[0] = devfd(l, CVMM_MIG_DEVFD_VSOCK, 0, c.dev.vsock_id);
	ck_assert_int_eq(cvmm_vm_devices_adopt_fds(&c.dev, f, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(f[0].fd, -1);
	ck_assert(c.dev.vsock_has_fd);
	ck_assert_int_eq(c.dev.vsock_fd, l);
	cvmm_vm_devices_close_fds(&c.dev);
	ck_assert(!c.dev.vsock_has_fd);
	ck_assert_int_eq(fcntl(l, F_GETFD), -1); /* closed with the configuration */

	/* a real TAP (where this process may make one): its name is checked */
	t = tap("cvmmt%d", name);
	if (t >= 0) {
		char opt[64];

		setup();
		snprintf(opt, sizeof(opt), "tap=%s", name);
		net0(&c.dev, "tap=tap0");
		f[0] = devfd(t, CVMM_MIG_DEVFD_TAP, 0, "net0");
		ck_assert_int_eq(cvmm_vm_devices_adopt_fds(&c.dev, f, 1, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, "not 'tap0'"), "%s", err);
		setup();
		net0(&c.dev, opt);
		ck_assert_int_eq(cvmm_vm_devices_adopt_fds(&c.dev, f, 1, err, sizeof(err)), 0);
		ck_assert_int_eq(c.dev.net[0].nfds, 1u);
		ck_assert_int_eq(c.dev.net[0].fds[0], t);
		ck_assert_int_eq(f[0].fd, -1);
		cvmm_vm_devices_close_fds(&c.dev);
	}
	close(p[0]);
	close(p[1]);
	unlink(path);
	unlink(other);
	rmdir(dir);
}
END_TEST

/*
 * The destination reads the DEVFDs with START (cvmm_vmm_migrate_accept):
 * fewer than START announced, or one without its fd, fails the accept
 * with one line and leaves no fd open.
 */
START_TEST(local_migration_accept)
{
	struct cvmm_mig_range r = { 0, 1 << 20 };
	struct cvmm_vmm_incoming *in = NULL;
	struct cvmm_vmm_devfd *fds;
	int sv[2], p[2];
	uint8_t msg[CVMM_MIG_HDR_SIZE + sizeof(struct cvmm_mig_devfd)] = { 0 };

	ck_assert_int_eq(pipe(p), 0);
	/* two announced, one comes, then another message */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(cvmm_mig_send_start_devfds(sv[0], CVMM_MIG_F_LOCAL, 1, 2, &r, 1, "{}", 2),
			 0);
	ck_assert_int_eq(cvmm_mig_send_devfd(sv[0], p[0], CVMM_MIG_DEVFD_TAP, 0, "net0"), 0);
	ck_assert_int_eq(cvmm_mig_send_pass(sv[0], 0, 0), 0);
	ck_assert_int_eq(cvmm_vmm_migrate_accept(sv[1], &in, err, sizeof(err)), -EPROTO);
	ck_assert_msg(strstr(err, "only 1 of the 2 device fds"), "%s", err);
	close(sv[0]);
	close(sv[1]);
	/* a DEVFD without its fd */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(cvmm_mig_send_start_devfds(sv[0], CVMM_MIG_F_LOCAL, 1, 1, &r, 1, "{}", 2),
			 0);
	cvmm_mig_encode_header(msg, CVMM_MIG_DEVFD, sizeof(struct cvmm_mig_devfd));
	msg[16] = CVMM_MIG_DEVFD_TAP;
	memcpy(msg + 24, "net0", 4);
	ck_assert_int_eq(cvmm_write_full(sv[0], msg, sizeof(msg)), 0);
	ck_assert_int_eq(cvmm_vmm_migrate_accept(sv[1], &in, err, sizeof(err)), -EPROTO);
	ck_assert_msg(strstr(err, "'DEVFD' for net0: carries no fd"), "%s", err);
	close(sv[0]);
	close(sv[1]);
	/* all there: the fds wait in the incoming for the program's checks */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(cvmm_mig_send_start_devfds(sv[0], CVMM_MIG_F_LOCAL, 1, 2, &r, 1, "{}", 2),
			 0);
	ck_assert_int_eq(cvmm_mig_send_devfd(sv[0], p[0], CVMM_MIG_DEVFD_TAP, 0, "net0"), 0);
	ck_assert_int_eq(cvmm_mig_send_devfd(sv[0], p[1], CVMM_MIG_DEVFD_VSOCK, 0, "vs"), 0);
	ck_assert_msg(cvmm_vmm_migrate_accept(sv[1], &in, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_vmm_incoming_devfds(in, &fds), 2u);
	ck_assert_str_eq(fds[1].id, "vs");
	ck_assert_int_eq(fds[1].kind, CVMM_MIG_DEVFD_VSOCK);
	ck_assert_int_ge(fds[0].fd, 0);
	cvmm_vmm_incoming_free(in);
	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
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
	tcase_add_test(t, local_migration_devfds);
	tcase_add_test(t, local_migration_accept);
	suite_add_tcase(s, t);
	return cvmm_test_run(all);
}
