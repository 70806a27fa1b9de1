/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: a hostile API client's bytes the whole way to a VM
 * configuration: the api crate's request parser (HTTP and JSON with the
 * server's limits), then the vmm crate's VmConfig mapping (cvmm/vmm/config.h) (vm.create's and
 * vm.add-*'s), then the config echoed back as vm.info does. The first byte
 * picks the endpoint, so device bodies are reached without a wrapper.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include <cvmm/api.h>

#include <cvmm/vmm/config.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kinds[] = { "disk", "net", "fs", "vsock", "generic_vhost_user" };
	static const struct cvmm_api_route none[] = { { "/", CVMM_API_PUT, NULL, true } };
	struct cvmm_api_opts o = { .sz = sizeof(o), .routes = none, .nroutes = 1,
				   .max_header = 1024, .max_body = 65536 };
	struct cvmm_vm_config c = { .cpus = 1 };
	struct json_object *j = NULL, *echo;
	char err[512];
	int status, which;

	if (!size)
		return 0;
	which = data[0] % 6;
	if (cvmm_api_parse_one(&o, data + 1, size - 1, &status, err, sizeof(err), &j) || !j)
		return 0;
	if (which == 5) {
		if (!cvmm_vm_config_from_json(j, &c, err, sizeof(err))) {
			unsigned int counter = 0;

			cvmm_vm_devices_name(&c.dev, &counter);
			echo = cvmm_vm_config_to_json(&c);
			(void)json_object_to_json_string(echo);
			json_object_put(echo);
			cvmm_vm_devices_remove(&c.dev, "_disk0");
		}
	} else if (!cvmm_vm_config_add_json(j, kinds[which], &c.dev, NULL, 0, err,
						sizeof(err))) {
		echo = cvmm_vm_config_to_json(&c);
		json_object_put(echo);
	}
	json_object_put(j);
	return 0;
}
