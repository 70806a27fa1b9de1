/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/vmm/config.h
 * @brief A VM's configuration as plain data, and the ways into it: Cloud
 *        Hypervisor's option strings for devices (`path=FILE,readonly=on`)
 *        and its VmConfig JSON (vm.create, --config), and back to JSON.
 *
 * Cloud Hypervisor keeps the same layer in its `vmm` crate (config.rs):
 * the program parses its flags, hands each device option's value to a
 * parser here, and the VM builder (cvmm/vmm/vm.h) turns the result into a
 * VM. Every parser checks each field before anything is opened and writes
 * one line naming the option (or JSON field) and what is wrong to @err.
 *
 * Devices are placed in this order: disks and network cards, each as
 * given, the vhost-user devices as given, vsock, console, rng, balloon (what
 * can fail on a host resource comes before a console file is created);
 * virtio-mmio device i sits at 0xd0000000 + i * 4 KiB on the next free I/O
 * APIC line from 5, skipping the legacy ones: at most CVMM_VM_VIRTIO_MAX.
 *
 * Errors: every parser returns 0 or -EINVAL (-ENOMEM as -EINVAL with "out
 * of memory" in @err); other errors are listed at each function.
 *
 * Thread safety: none inside; a configuration belongs to one thread at a
 * time (the API's handlers use it on the control loop only).
 */
#ifndef CVMM_VMM_CONFIG_H
#define CVMM_VMM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/vmm.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Device slots for virtio-mmio (I/O APIC lines 5..23 less the legacy ones). */
#define CVMM_VM_VIRTIO_MAX 18u
#define CVMM_VM_MAX_DISKS 16u
#define CVMM_VM_DISK_PATH_MAX 4096u
#define CVMM_VM_MAX_NETS 4u
/** sockaddr_un's sun_path is 108 bytes; "_<port>" is appended for guest connects. */
#define CVMM_VM_VSOCK_PATH_MAX 96u
#define CVMM_VM_MAX_VHOST 8u
#define CVMM_VM_VIRTIO_ID_FS 26u
#define CVMM_VM_MAX_CPUS 64
#define CVMM_VM_DEFAULT_MEMORY (128ull << 20)
#define CVMM_VM_VMEM_BLOCK (2ull << 20) /* virtio-mem block size */
/** No clock hints: the guest gets kvmclock and the TSC frequency in CPUID. */
#define CVMM_VM_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1"

/*
 * A device's transport (transport=pci|mmio): unset (CVMM_VM_TR_DEFAULT)
 * follows the VM-wide default, cvmm_vm_devices.transport (--transport,
 * VmConfig platform.transport), and when that is unset too, virtio-pci as
 * in Cloud Hypervisor. A PCI device's slot is fixed when it joins the
 * configuration (cvmm_vm_pci_assign), so vm.add-* can answer its address.
 */
enum cvmm_vm_transport { CVMM_VM_TR_DEFAULT, CVMM_VM_TR_MMIO, CVMM_VM_TR_PCI };

struct cvmm_vm_tr {
	enum cvmm_vm_transport kind;
	unsigned int slot;      /* PCI: 1..31 once assigned; 0: not yet */
	bool iommu;             /* iommu=on: behind the virtio-iommu (PCI only) */
};

struct cvmm_vm_disk {
	char path[CVMM_VM_DISK_PATH_MAX];
	bool read_only;
	bool direct;
	uint64_t ops_per_sec;   /* 0: unlimited */
	uint64_t bytes_per_sec; /* 0: unlimited */
	unsigned int queue_size; /* 0: the device's default */
	char id[CVMM_VMM_ID_MAX]; /* "": the VM core names it (_diskN) */
	struct cvmm_vm_tr tr;
};

struct cvmm_vm_net {
	char tap[16];           /* IFNAMSIZ */
	bool has_mac;
	uint8_t mac[6];
	unsigned int queues;    /* queue pairs, 1 .. 7 */
	unsigned int queue_size; /* 0: the device's default */
	int fds[7];             /* TAP fds a client passed (vm.add-net), one a pair */
	unsigned int nfds;      /* 0: open @tap by name */
	char id[CVMM_VMM_ID_MAX];
	struct cvmm_vm_tr tr;
};

/* A vhost-user device (--disk/--net vhost_user=on, --fs, --vhost-user). */
struct cvmm_vm_vhost {
	const char *opt;          /* the option, for messages */
	uint32_t type;            /* virtio device id */
	char socket[108];         /* sockaddr_un's sun_path */
	unsigned int queues;      /* 0: the type's default or the backend's count */
	unsigned int reconnect;   /* seconds between retries; 0: DEVICE_NEEDS_RESET */
	char tag[37];             /* --fs: the mount tag */
	char id[CVMM_VMM_ID_MAX];
	struct cvmm_vm_tr tr;
};

enum cvmm_vm_console_mode { CVMM_VM_CONSOLE_NONE, CVMM_VM_CONSOLE_STDIO, CVMM_VM_CONSOLE_FILE };

/*
 * The devices of a VM. The arrays come last and are read only up to their
 * counts (console_path with CVMM_VM_CONSOLE_FILE): cvmm_vm_config_init()
 * leaves them alone, so their ~90 KiB stay untouched (not resident).
 */
struct cvmm_vm_devices {
	unsigned int ndisks;
	enum cvmm_vm_console_mode console;
	struct cvmm_vm_tr console_tr;
	bool rng;
	struct cvmm_vm_tr rng_tr;
	unsigned int nnets;
	bool vsock;
	uint64_t vsock_cid;
	char vsock_path[CVMM_VM_VSOCK_PATH_MAX];
	char vsock_id[CVMM_VMM_ID_MAX];
	struct cvmm_vm_tr vsock_tr;
	/* A local migration's listener on vsock_path (the source's, the path
	 * exists): the device uses it instead of binding. Closed with the
	 * other fds of the configuration. */
	bool vsock_has_fd;
	int vsock_fd;
	unsigned int nvhost;
	uint64_t guest_args[4];    /* --guest-arg: boot info args[] of a test guest */
	bool pci;                  /* --pci: a PCI segment even with no device on it */
	/* --transport / platform.transport: the default of every device
	 * whose own is unset; CVMM_VM_TR_DEFAULT (zeroed config) is PCI */
	enum cvmm_vm_transport transport;
	bool balloon;              /* --balloon */
	uint64_t balloon_size;     /* bytes to take from the guest at start */
	bool balloon_oom;          /* deflate_on_oom=on */
	bool balloon_fpr;          /* free_page_reporting=on */
	struct cvmm_vm_tr balloon_tr;
	/* the virtio-iommu's slot: there is one when a device has iommu=on */
	struct cvmm_vm_tr iommu_tr;
	/* virtio-mem (memory hotplug_method virtio-mem): a hotplug region of
	 * vmem_size bytes after RAM; vmem_requested of it plugged (Cloud
	 * Hypervisor's hotplugged_size; vm.resize desired_ram less memory) */
	bool vmem;
	uint64_t vmem_size;
	uint64_t vmem_requested;
	struct cvmm_vm_tr vmem_tr;
	/* ---- read up to the counts only ---- */
	struct cvmm_vm_disk disk[CVMM_VM_MAX_DISKS];
	struct cvmm_vm_net net[CVMM_VM_MAX_NETS];
	struct cvmm_vm_vhost vhost[CVMM_VM_MAX_VHOST];
	char console_path[CVMM_VM_DISK_PATH_MAX]; /* CVMM_VM_CONSOLE_FILE */
};

enum cvmm_vm_serial_mode { CVMM_VM_SERIAL_STDIO, CVMM_VM_SERIAL_FILE, CVMM_VM_SERIAL_OFF };

/* One VM: payload, vCPUs, memory, serial port and devices. */
struct cvmm_vm_config {
	const char *kernel;
	const char *initrd;
	const char *cmdline;     /* NULL: CVMM_VM_DEFAULT_CMDLINE */
	unsigned int cpus;
	uint64_t memory;         /* bytes */
	enum cvmm_vm_serial_mode serial;
	const char *serial_path; /* CVMM_VM_SERIAL_FILE */
	bool boot_timer;         /* report guest writes to port 0x80 with a timestamp */
	struct cvmm_vm_devices dev;
	bool mem_shared;         /* VmConfig memory.shared: a memfd */
	bool hugepages;          /* VmConfig memory.hugepages (2 MiB) */
	bool prefault;           /* VmConfig memory.prefault */
};

/** The defaults: 1 vCPU, 128 MiB, serial on stdio, no devices. */
void cvmm_vm_config_init(struct cvmm_vm_config *c);
/** No devices (the arrays untouched: see struct cvmm_vm_devices). */
void cvmm_vm_devices_clear(struct cvmm_vm_devices *d);

/* ---- option strings (config-args.c) ------------------------------------ */

/*
 * Parsers for one option's value, each appending to @d; the option names
 * (--disk, ...) are the ones in messages. @return 0; -EINVAL with @err.
 */
/** --disk path=FILE[,readonly=on][,direct=on][,rate=OPS][,bandwidth=SIZE][,transport=T];
 *  with vhost_user=... it is cvmm_vm_parse_vhost()'s. */
int cvmm_vm_parse_disk(struct cvmm_vm_devices *d, const char *arg, char *err, size_t errlen);
/** --console stdio|file=PATH[,transport=T]. */
int cvmm_vm_parse_console(struct cvmm_vm_devices *d, const char *arg, char *err, size_t errlen);
/** --balloon size=SIZE[,deflate_on_oom=on][,transport=T]. */
int cvmm_vm_parse_balloon(struct cvmm_vm_devices *d, const char *arg, char *err, size_t errlen);
/** --rng's optional value: "[transport=pci|mmio][,iommu=on]" (NULL: none). */
int cvmm_vm_parse_rng(struct cvmm_vm_devices *d, const char *arg, char *err, size_t errlen);
/** --net tap=NAME[,mac=MAC][,queues=N][,transport=T] (or vhost_user=on,...). */
int cvmm_vm_parse_net(struct cvmm_vm_devices *d, const char *arg, char *err, size_t errlen);
/** --vsock cid=N,socket=PATH[,transport=T]. */
int cvmm_vm_parse_vsock(struct cvmm_vm_devices *d, const char *arg, char *err, size_t errlen);
/** --disk/--net with vhost_user=on come here too; @type is the device id
 *  implied by @opt (0 for --vhost-user, which names it with type=). */
int cvmm_vm_parse_vhost(struct cvmm_vm_devices *d, const char *opt, uint32_t type,
			const char *arg, char *err, size_t errlen);
/** --transport pci|mmio: the default of every device without its own
 *  transport= (@err: "--transport: 'X' is not pci or mmio"). */
int cvmm_vm_parse_transport(struct cvmm_vm_devices *d, const char *arg, char *err,
			    size_t errlen);
/** --guest-arg I=VALUE. */
int cvmm_vm_parse_guest_arg(struct cvmm_vm_devices *d, const char *arg, char *err, size_t errlen);
/** --cpus N (1..CVMM_VM_MAX_CPUS) into @c. */
int cvmm_vm_parse_cpus(struct cvmm_vm_config *c, const char *arg, char *err, size_t errlen);
/**
 * --memory SIZE (at least 16M, whole pages; 512M, 2G) into @c, or Cloud
 * Hypervisor's form size=SIZE[,hotplug_method=virtio-mem,hotplug_size=SIZE
 * [,hotplugged_size=SIZE]][,transport=pci|mmio] (a virtio-mem region of
 * whole 2 MiB blocks; transport: the virtio-mem device's).
 */
int cvmm_vm_parse_memory(struct cvmm_vm_config *c, const char *arg, char *err, size_t errlen);
/** --serial stdio|off|file=PATH into @c. */
int cvmm_vm_parse_serial(struct cvmm_vm_config *c, const char *arg, char *err, size_t errlen);
/** "PATH", "path=PATH" or "fd=N" (a bare PATH only with @bare): --api-socket,
 *  --event-monitor. *@path points into @arg; *@fd is -1 for a path. */
int cvmm_vm_parse_path_or_fd(const char *opt, const char *arg, bool bare, const char **path,
			     int *fd, char *err, size_t errlen);
/** True when some device has iommu=on (the VM gets a virtio-iommu). */
bool cvmm_vm_iommu_wanted(const struct cvmm_vm_devices *d);

/**
 * What every VM configuration must hold once its options are in: PCI
 * slots for the devices on PCI (the virtio-iommu's first), a balloon no
 * larger than memory, iommu=on only on PCI devices.
 * @return 0; -EINVAL with @err.
 */
int cvmm_vm_config_finish(struct cvmm_vm_config *c, char *err, size_t errlen);

/* ---- devices (config.c) ------------------------------------------------ */

/** Device slots the configuration uses. */
unsigned int cvmm_vm_virtio_count(const struct cvmm_vm_devices *d);
/** Does device transport @t go on PCI in @d? */
bool cvmm_vm_tr_is_pci(const struct cvmm_vm_devices *d, const struct cvmm_vm_tr *t);
/** Does any device of @d (or pci) need the PCI segment? */
bool cvmm_vm_pci_wanted(const struct cvmm_vm_devices *d);
/** Give every PCI device of @d without a slot the lowest one free (1..31),
 *  in the order devices are attached. @return 0; -ENOSPC. */
int cvmm_vm_pci_assign(struct cvmm_vm_devices *d);
/** Refuse iommu=on off PCI (@err names the device); give the virtio-iommu
 * its place when a device wants it. Call before cvmm_vm_pci_assign().
 * @return 0; -EINVAL. */
int cvmm_vm_iommu_check(struct cvmm_vm_devices *d, char *err, size_t errlen);
/** The PCI slot of device @id in @d, or 0 (not on PCI, not found). */
unsigned int cvmm_vm_pci_slot_of(const struct cvmm_vm_devices *d, const char *id);
/** Name every device of @d that has no id yet as Cloud Hypervisor would
 *  (_disk0, _net1, ...: one counter for them all, ids in use skipped). */
void cvmm_vm_devices_name(struct cvmm_vm_devices *d, unsigned int *counter);
/** Remove the device @id from @d (closing fds it holds). @return 0; -ENOENT. */
int cvmm_vm_devices_remove(struct cvmm_vm_devices *d, const char *id);
/** Close the TAP fds (and a vsock listener) @d holds. */
void cvmm_vm_devices_close_fds(struct cvmm_vm_devices *d);

/**
 * A local migration's destination: the source's device fds (@fds, from
 * cvmm_vmm_incoming_devfds(); hostile) become the TAP fds of each network
 * card of @d (one a queue pair) and the vsock listener, instead of the
 * names the configuration gives (which the source still holds). Every
 * card and the vsock device must get exactly their fds and no fd may be
 * left over; each fd is checked itself: a TAP (TUNGETIFF) of the card's
 * interface name, a listening unix stream socket bound to the vsock path.
 * Nothing is taken unless all pass; then the taken entries of @fds are -1
 * and @d owns them (cvmm_vm_devices_close_fds()).
 * @return 0; -EINVAL (a count that does not match, a missing fd, an fd of
 * the wrong kind or name) with one line naming the device.
 * Thread safety: reentrant (on distinct @d).
 */
int cvmm_vm_devices_adopt_fds(struct cvmm_vm_devices *d, struct cvmm_vmm_devfd *fds,
			      unsigned int n, char *err, size_t errlen);

/*
 * The files the VM reads, looked at before anything is created: kernel
 * (with @kernel) and initrd are regular files, each disk image a regular
 * file or block device of at least one sector, given once, not locked by
 * another process (the block device takes the lock itself).
 * @return 0; -EINVAL with a one-line message naming the flag and the file.
 */
int cvmm_vm_config_check_files(const struct cvmm_vm_config *c, bool kernel, char *err,
			       size_t errlen);

/*
 * The --serial, --console and --event-monitor files a run creates. A VM
 * that fails to start removes the ones that did not exist before it began
 * (cvmm_vm_outputs_note), so that a mistake leaves nothing behind; a file
 * that existed is left alone. @event_monitor: a path or NULL.
 */
struct cvmm_vm_outputs {
	const char *path[3];
	bool created[3];
};

void cvmm_vm_outputs_note(struct cvmm_vm_outputs *o, const struct cvmm_vm_config *c,
			  const char *event_monitor);
void cvmm_vm_outputs_remove(const struct cvmm_vm_outputs *o);

/* ---- Cloud Hypervisor's VmConfig JSON (config-json.c) ------------------ */

struct json_object;

/*
 * Fill the VM part of @c (payload, cpus, memory, devices, serial) from
 * @j, keeping guest_args, pci and boot_timer. Strings point into @j: keep it while
 * @c is used. Every field cvmm lacks is refused unless it holds the
 * default; one line in @err names the field. @return 0; -EINVAL.
 */
int cvmm_vm_config_from_json(struct json_object *j, struct cvmm_vm_config *c, char *err,
			     size_t errlen);
/* The devices' own objects (vm.add-disk ...): append one to @d. @kind:
 * "disk", "net", "fs", "vsock", "generic_vhost_user". Net entries get the
 * @fds a client passed. @return 0; -EINVAL. */
int cvmm_vm_config_add_json(struct json_object *j, const char *kind,
			    struct cvmm_vm_devices *d, const int *fds, unsigned int nfds,
			    char *err, size_t errlen);
/**
 * A VmConfig file (--config FILE.json) into @c as cvmm_vm_config_from_json()
 * does; *@json gets the parsed object, which @c's strings point into (put
 * it when done). @return 0; -EINVAL with "@opt: 'FILE': why" in @err.
 */
int cvmm_vm_config_from_file(const char *path, const char *opt, struct cvmm_vm_config *c,
			     struct json_object **json, char *err, size_t errlen);
/** @c as VmConfig (vm.info's config). @return a new object or NULL. */
struct json_object *cvmm_vm_config_to_json(const struct cvmm_vm_config *c);

#ifdef __cplusplus
}
#endif

#endif
