/* SPDX-License-Identifier: Apache-2.0 */
/* What the configuration, builder, API and snapshot layers of the vmm
 * crate share among themselves (not installed). */
#ifndef CVMM_VMM_VM_INTERNAL_H
#define CVMM_VMM_VM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/vmm/vm.h>

/* Format one line into @err; @return @ret. */
int cvmm_vm_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "xx:xx:xx:xx:xx:xx" (hex digits, unicast) into @mac. @return 0; -EINVAL. */
int cvmm_vm_parse_mac(const char *s, uint8_t mac[6]);

/* The virtio devices of vm->cfg, on the VM's device loop, in the order
 * cvmm/vmm/config.h documents (build-virtio.c). @return 0 or negative
 * errno with @err naming the option. */
int cvmm_vm_devices_attach(struct cvmm_vm *m, char *err, size_t errlen);
/* Device @id left the VM: forget its model (vm.counters, vm.info). */
void cvmm_vm_model_forget(struct cvmm_vm *m, const char *id);

struct json_object;

/* Cloud Hypervisor's SerialConfig/ConsoleConfig @o ({"mode": "Off"|"Null"|
 * "Tty"|"File", "file"}): *@mode, and *@file with mode File (NULL
 * otherwise), pointing into @o. @return 0; -EINVAL with @err naming
 * @where (config-json.c). */
int cvmm_vm_console_json(struct json_object *o, const char *where, const char **mode,
			 const char **file, char *err, size_t errlen);

/* Does the vm.restore @body give network card @id a TAP of its own
 * (net_fds or network_overrides)? (snapshot-override.c) */
bool cvmm_vm_snap_body_names_net(struct json_object *body, const char *id);

/* Restore vm->snap into the VM made from its configuration (snapshot-ops.c). */
int cvmm_vm_snap_restore(struct cvmm_vm_snap *s, struct cvmm_vmm *vmm, char *err, size_t errlen);

#endif
