/* SPDX-License-Identifier: Apache-2.0 */
/* cvmm-microvm's command line: the VM (the vmm crate's configuration) and
 * what only this program has (logging, sandbox, API socket, events). */
#ifndef MICROVM_CONFIG_H
#define MICROVM_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include <cvmm/sys-util.h>
#include <cvmm/vmm/config.h>

#include "sandbox.h"

struct microvm_config {
	enum cvmm_log_level log_level;
	enum cvmm_sandbox_mode seccomp;  /* --seccomp, default on */
	const char *seccomp_filter;      /* --seccomp-filter JSON, or NULL */
	const char *api_socket;  /* --api-socket path=PATH (NULL: none) ... */
	int api_fd;              /* ... or fd=N (-1: none) */
	const char *config_file; /* --config FILE.json: a VmConfig */
	const char *event_monitor; /* --event-monitor path=PATH ... */
	int event_monitor_fd;    /* ... or fd=N (-1: none) */
	bool help;
	bool version;
	struct cvmm_vm_config vm;        /* last: its device arrays stay untouched */
};

/* Parse argv into @c; a malformed argument: -EINVAL with one line in @err. */
int microvm_config_parse(int argc, char **argv, struct microvm_config *c,
			 char *err, size_t errlen);

void microvm_usage(FILE *f, const char *argv0);

#endif
