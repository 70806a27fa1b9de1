/* SPDX-License-Identifier: Apache-2.0 */
/* cvmm-microvm's configuration: what the command line says, validated. */
#ifndef MICROVM_CONFIG_H
#define MICROVM_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include <cvmm/sys-util.h>

#include "sandbox.h"

#include "virtio.h"

enum serial_mode { SERIAL_STDIO, SERIAL_FILE, SERIAL_OFF };

struct microvm_config {
	const char *kernel;
	const char *initrd;
	const char *cmdline;     /* NULL: the default command line */
	unsigned int cpus;
	uint64_t memory;         /* bytes */
	enum serial_mode serial;
	const char *serial_path; /* SERIAL_FILE */
	enum cvmm_log_level log_level;
	bool boot_timer;         /* report guest writes to port 0x80 with a timestamp */
	struct microvm_devices dev; /* --disk, --console, --rng, --guest-arg */
	enum cvmm_sandbox_mode seccomp;  /* --seccomp, default on */
	const char *seccomp_filter;      /* --seccomp-filter JSON, or NULL */
	bool mem_shared;         /* VmConfig memory.shared: a memfd */
	bool hugepages;          /* VmConfig memory.hugepages (2 MiB) */
	bool prefault;           /* VmConfig memory.prefault */
	const char *api_socket;  /* --api-socket path=PATH (NULL: none) ... */
	int api_fd;              /* ... or fd=N (-1: none) */
	const char *config_file; /* --config FILE.json: a VmConfig */
	const char *event_monitor; /* --event-monitor path=PATH ... */
	int event_monitor_fd;    /* ... or fd=N (-1: none) */
	bool help;
	bool version;
};

#define MICROVM_MAX_CPUS 64
#define MICROVM_DEFAULT_MEMORY (128ull << 20)
/* No clock hints: the guest gets kvmclock and the TSC frequency in CPUID. */
#define MICROVM_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1"

/*
 * Parse argv into @c. On a malformed argument, write a one-line message
 * naming the flag and what is wrong into @err and return -EINVAL.
 */
int microvm_config_parse(int argc, char **argv, struct microvm_config *c,
			 char *err, size_t errlen);

void microvm_usage(FILE *f, const char *argv0);

struct json_object;

/*
 * VmConfig (Cloud Hypervisor's JSON, vmconfig.c): fill the VM part of @c
 * (payload, cpus, memory, devices, serial) from @j, keeping the flags'
 * other settings. Strings point into @j: keep it while @c is used. Every
 * field cvmm lacks is refused unless it holds the default; one line in
 * @err names the field. Net entries get the @fds a client passed.
 * @return 0; -EINVAL.
 */
int microvm_vmconfig_parse(struct json_object *j, struct microvm_config *c, char *err,
			   size_t errlen);
/* The devices' own objects (vm.add-disk ...): append one to @d. @kind:
 * "disk", "net", "fs", "vsock", "generic_vhost_user". */
int microvm_vmconfig_add_device(struct json_object *j, const char *kind,
				struct microvm_devices *d, const int *fds, unsigned int nfds,
				char *err, size_t errlen);
/* @c as VmConfig (vm.info's config). @return a new object or NULL. */
struct json_object *microvm_vmconfig_to_json(const struct microvm_config *c);
/* Name every device of @d that has no id yet as Cloud Hypervisor would
 * (_disk0, _net1, ...: one counter for them all, ids in use skipped). */
void microvm_vmconfig_name_devices(struct microvm_devices *d, unsigned int *counter);
/* Remove the device @id from @d (closing fds it holds). @return 0; -ENOENT. */
int microvm_vmconfig_remove_device(struct microvm_devices *d, const char *id);
/* Close the TAP fds @d holds. */
void microvm_vmconfig_close_fds(struct microvm_devices *d);

/*
 * The files the VM reads, looked at before anything is created: kernel and
 * initrd are regular files, each --disk image a regular file or block
 * device of at least one sector, given once, not locked by another process
 * (blk-backend.c takes the lock itself). -EINVAL with a one-line message
 * naming the flag and the file.
 */
int microvm_config_check_files(const struct microvm_config *c, bool kernel, char *err,
			       size_t errlen);

/*
 * The --serial, --console and --event-monitor files a run creates. A VM
 * that fails to start removes the ones that did not exist before it began
 * (microvm_outputs_note), so that a mistake leaves nothing behind; a file
 * that existed is left alone.
 */
struct microvm_outputs {
	const char *path[3];
	bool created[3];
};

void microvm_outputs_note(struct microvm_outputs *o, const struct microvm_config *c);
void microvm_outputs_remove(const struct microvm_outputs *o);

#endif
