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
	bool help;
	bool version;
};

#define MICROVM_MAX_CPUS 64
#define MICROVM_DEFAULT_MEMORY (128ull << 20)
#define MICROVM_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1 tsc_early_khz=2500000 lpj=10000000 no_timer_check"

/*
 * Parse argv into @c. On a malformed argument, write a one-line message
 * naming the flag and what is wrong into @err and return -EINVAL.
 */
int microvm_config_parse(int argc, char **argv, struct microvm_config *c,
			 char *err, size_t errlen);

void microvm_usage(FILE *f, const char *argv0);

#endif
