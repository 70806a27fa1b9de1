/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/vmm/api.h
 * @brief Cloud Hypervisor's REST API (docs/api.md) over the api crate's
 *        server: vm.create/boot/pause/resume/shutdown/reboot/delete,
 *        vm.info/counters, vm.add-*, vm.remove-device, vm.resize,
 *        vm.snapshot/restore, live migration, vmm.ping/shutdown.
 *
 * The server thread parses requests; every handler that touches the VM
 * runs on the control loop (cvmm_event_manager_call), where the VM lives,
 * so the VM sees one caller at a time and a slow client only ever delays
 * other clients. As in Cloud Hypervisor, vm.create only records the
 * configuration (and vm.add-* edit it) and vm.boot builds the VM from it
 * (cvmm_vm_build); a VM that was shut down through the API stays for
 * vm.info until vm.boot builds a new one or vm.delete drops it. A guest
 * that powers off, resets or crashes ends the run with the exit status of
 * cvmm_vm_exit_status().
 *
 * Thread safety: cvmm_vm_api_main() runs on the calling thread (the control
 * loop) and starts the server's and the migrations' threads itself.
 */
#ifndef CVMM_VMM_API_H
#define CVMM_VMM_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/vmm/config.h>
#include <cvmm/vmm/snap.h>
#include <cvmm/vmm/vm.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cvmm_mig_tls_opts;

struct cvmm_vm_api_opts {
	size_t sz;                   /* sizeof(struct cvmm_vm_api_opts) */
	const char *path;            /* the unix socket to serve on ... */
	int listen_fd;               /* ... or a listening socket (-1: none) */
	/* The command line's VM: the base every vm.create starts from (for
	 * what VmConfig lacks, e.g. guest_args, pci). */
	const struct cvmm_vm_config *base;
	bool boot;                   /* boot @base before serving (the flags name a kernel) */
	/* The hooks and t0_ns every VM is built with (cfg, em, snap ignored);
	 * its thread_start also runs first on the server ("api") and the
	 * migration ("migration") threads. */
	const struct cvmm_vm *tmpl;
	const struct cvmm_vm_snap_spec *snap_spec; /* how vm.restore re-parses stored arguments */
	int signal_fd;               /* a signalfd: each signal N stops the VM, status 128 + N (-1: none) */
	int event_fd;                /* the event monitor (-1: none) */
	const char *version;         /* vmmping's build_version */
	/* TLS for tcp: migrations (the request's tls_dir): the program's
	 * cvmm_mig_tls_wrap() (libcvmm-migration-tls, cvmm/migration-tls.h),
	 * or NULL: a tls_dir is refused in one line. A hook, so the VM core
	 * does not link GnuTLS. */
	int (*tls_wrap)(int fd, const struct cvmm_mig_tls_opts *o, int *out, char *err,
			size_t errlen);
	/* The flags' --restore (its source set): restored before serving
	 * instead of booted, as vm.restore would (Running with resume=on,
	 * else Paused until vm.resume); NULL: none. Kept by the caller until
	 * cvmm_vm_api_main() returns. */
	struct cvmm_vm_snap *restore;
};

/**
 * Serve the API until vmm.shutdown, a signal, a migration that went, or
 * the guest ending its VM; with o->restore the base VM is restored first,
 * else with o->boot it boots first, so the first vm.info already sees it.
 * @return the exit status (0, a guest's or a signal's), or 1 (or a negative
 * errno) with one line in @err when the start failed (boot, socket).
 */
int cvmm_vm_api_main(const struct cvmm_vm_api_opts *o, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
