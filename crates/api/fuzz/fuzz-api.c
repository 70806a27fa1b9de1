/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: bytes from a hostile API client through the request parser
 * (http-parser with the server's limits) and the JSON body parser. */
#include <stddef.h>
#include <stdint.h>

#include <cvmm/api.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cvmm_api_route none[] = { { "/", CVMM_API_GET, NULL, false } };
	struct cvmm_api_opts o = { .sz = sizeof(o), .routes = none, .nroutes = 1,
				   .max_header = 1024, .max_body = 4096, .max_depth = 16 };
	struct json_object *j = NULL;
	char err[256];
	int status;

	if (!cvmm_api_parse_one(&o, data, size, &status, err, sizeof(err), &j) && j)
		(void)json_object_to_json_string(j);
	json_object_put(j);
	return 0;
}
