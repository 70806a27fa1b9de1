/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm-microvm's virtio-mmio devices: the --disk/--console/--rng options
 * (devargs.c), and the devices themselves (virtio.c): one device thread
 * runs an event-manager loop for all of them; queue notifications arrive
 * through KVM ioeventfds and interrupts leave through irqfds, so a vCPU
 * thread only ever does register accesses.
 */
#ifndef MICROVM_VIRTIO_H
#define MICROVM_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/acpi-tables.h>
#include <cvmm/linux-loader.h>
#include <cvmm/vmm.h>

/*
 * The VM core places device i (in the order disks and network cards, each
 * as given, the vhost-user devices as given, vsock, console, rng: what can
 * fail on a host resource comes before the console file is created) at
 * 0xd0000000 + i * 4 KiB on the next free I/O APIC line from 5, skipping
 * the legacy ones (0/2 timer, 1 i8042, 4 serial, 8 RTC): 18 lines.
 */
#define MICROVM_VIRTIO_MAX 18u
#define MICROVM_MAX_DISKS 16u

#define MICROVM_DISK_PATH_MAX 4096u

/*
 * A device's transport (transport=pci|mmio): unset follows --pci (PCI with
 * it, virtio-mmio without). A PCI device's slot is fixed when it joins the
 * configuration (microvm_pci_assign), so vm.add-* can answer its address.
 */
enum microvm_transport { MICROVM_TR_DEFAULT, MICROVM_TR_MMIO, MICROVM_TR_PCI };

struct microvm_tr {
	enum microvm_transport kind;
	unsigned int slot;      /* PCI: 1..31 once assigned; 0: not yet */
};

struct microvm_disk {
	char path[MICROVM_DISK_PATH_MAX];
	bool read_only;
	bool direct;
	uint64_t ops_per_sec;   /* 0: unlimited */
	uint64_t bytes_per_sec; /* 0: unlimited */
	unsigned int queue_size; /* 0: the device's default */
	char id[CVMM_VMM_ID_MAX]; /* "": the VM core names it (_diskN) */
	struct microvm_tr tr;
};

#define MICROVM_MAX_NETS 4u

struct microvm_net {
	char tap[16];           /* IFNAMSIZ */
	bool has_mac;
	uint8_t mac[6];
	unsigned int queues;    /* queue pairs, 1 .. 7 */
	unsigned int queue_size; /* 0: the device's default */
	int fds[7];             /* TAP fds a client passed (vm.add-net), one a pair */
	unsigned int nfds;      /* 0: open @tap by name */
	char id[CVMM_VMM_ID_MAX];
	struct microvm_tr tr;
};

/* sockaddr_un's sun_path is 108 bytes; "_<port>" is appended for guest connects. */
#define MICROVM_VSOCK_PATH_MAX 96u

#define MICROVM_MAX_VHOST 8u
#define MICROVM_VIRTIO_ID_FS 26u

/* A vhost-user device (--disk/--net vhost_user=on, --fs, --vhost-user). */
struct microvm_vhost {
	const char *opt;          /* the option, for messages */
	uint32_t type;            /* virtio device id */
	char socket[108];         /* sockaddr_un's sun_path */
	unsigned int queues;      /* 0: the type's default or the backend's count */
	unsigned int reconnect;   /* seconds between retries; 0: DEVICE_NEEDS_RESET */
	char tag[37];             /* --fs: the mount tag */
	char id[CVMM_VMM_ID_MAX];
	struct microvm_tr tr;
};

enum microvm_console_mode { CONSOLE_NONE, CONSOLE_STDIO, CONSOLE_FILE };

/* The devices the command line asked for. */
struct microvm_devices {
	struct microvm_disk disk[MICROVM_MAX_DISKS];
	unsigned int ndisks;
	enum microvm_console_mode console;
	char console_path[MICROVM_DISK_PATH_MAX]; /* CONSOLE_FILE */
	struct microvm_tr console_tr;
	bool rng;
	struct microvm_tr rng_tr;
	struct microvm_net net[MICROVM_MAX_NETS];
	unsigned int nnets;
	bool vsock;
	uint64_t vsock_cid;
	char vsock_path[MICROVM_VSOCK_PATH_MAX];
	char vsock_id[CVMM_VMM_ID_MAX];
	struct microvm_tr vsock_tr;
	struct microvm_vhost vhost[MICROVM_MAX_VHOST];
	unsigned int nvhost;
	uint64_t guest_args[4];    /* --guest-arg: boot info args[] of a test guest */
	bool pci;                  /* --pci: a PCI segment, the default transport */
	bool balloon;              /* --balloon */
	uint64_t balloon_size;     /* bytes to take from the guest at start */
	bool balloon_oom;          /* deflate_on_oom=on */
	struct microvm_tr balloon_tr;
};

/* Parsers for one option's value; each writes one line naming the option
 * and field to @err and returns -EINVAL on a mistake. */
int microvm_parse_disk(struct microvm_devices *d, const char *arg, char *err, size_t errlen);
int microvm_parse_console(struct microvm_devices *d, const char *arg, char *err, size_t errlen);
/* --balloon size=SIZE[,deflate_on_oom=on][,transport=...]. */
int microvm_parse_balloon(struct microvm_devices *d, const char *arg, char *err, size_t errlen);
/* --rng's optional value: "transport=pci|mmio" (NULL: none). */
int microvm_parse_rng(struct microvm_devices *d, const char *arg, char *err, size_t errlen);
int microvm_parse_net(struct microvm_devices *d, const char *arg, char *err, size_t errlen);
int microvm_parse_vsock(struct microvm_devices *d, const char *arg, char *err, size_t errlen);
/* --disk/--net with vhost_user=on come here too; @type is the device id
 * implied by @opt (0 for --vhost-user, which names it with type=). */
int microvm_parse_vhost(struct microvm_devices *d, const char *opt, uint32_t type,
			const char *arg, char *err, size_t errlen);
int microvm_parse_guest_arg(struct microvm_devices *d, const char *arg, char *err, size_t errlen);

/* Device slots the configuration uses. */
unsigned int microvm_virtio_count(const struct microvm_devices *d);

/* Does device transport @t go on PCI in @d? */
bool microvm_tr_is_pci(const struct microvm_devices *d, const struct microvm_tr *t);
/* Does any device of @d (or --pci) need the PCI segment? */
bool microvm_pci_wanted(const struct microvm_devices *d);
/* Give every PCI device of @d without a slot the lowest one free (1..31),
 * in the order devices are attached. @return 0; -ENOSPC. */
int microvm_pci_assign(struct microvm_devices *d);
/* The PCI slot of device @id in @d, or 0 (not on PCI, not found). */
unsigned int microvm_pci_slot_of(const struct microvm_devices *d, const char *id);

#endif
