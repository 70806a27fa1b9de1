/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: a hostile API client's bytes the whole way to a VM
 * configuration: the api crate's request parser (HTTP and JSON with the
 * server's limits), then cvmm-microvm's VmConfig mapping (vm.create's and
 * vm.add-*'s), then the config echoed back as vm.info does. The first byte
 * picks the endpoint, so device bodies are reached without a wrapper.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cvmm/api.h>

#include "../config.h"  /* microvm's, not autoconf's */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kinds[] = { "disk", "net", "fs", "vsock", "generic_vhost_user" };
	static const struct cvmm_api_route none[] = { { "/", CVMM_API_PUT, NULL, true } };
	struct cvmm_api_opts o = { .sz = sizeof(o), .routes = none, .nroutes = 1,
				   .max_header = 1024, .max_body = 65536 };
	struct microvm_config c = { .cpus = 1, .api_fd = -1, .event_monitor_fd = -1 };
	struct json_object *j = NULL, *echo;
	char err[512];
	int status, which;

	if (!size)
		return 0;
	which = data[0] % 6;
	if (cvmm_api_parse_one(&o, data + 1, size - 1, &status, err, sizeof(err), &j) || !j)
		return 0;
	if (which == 5) {
		if (!microvm_vmconfig_parse(j, &c, err, sizeof(err))) {
			unsigned int counter = 0;

			microvm_vmconfig_name_devices(&c.dev, &counter);
			echo = microvm_vmconfig_to_json(&c);
			(void)json_object_to_json_string(echo);
			json_object_put(echo);
			microvm_vmconfig_remove_device(&c.dev, "_disk0");
		}
	} else if (!microvm_vmconfig_add_device(j, kinds[which], &c.dev, NULL, 0, err,
						sizeof(err))) {
		echo = microvm_vmconfig_to_json(&c);
		json_object_put(echo);
	}
	json_object_put(j);
	return 0;
}
