/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the JSON loader: any byte string must load or fail
 * with an error message, never crash or leak; what loads must survive a
 * round trip through cvmm_seccomp_to_json() and compile.
 */
#include <cvmm/seccomp.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmm_seccomp_error err;
	struct cvmm_seccomp_json_opts o = {
		.sz = sizeof(o), .buf = (const char *)data, .len = size, .name = "fuzz.json",
		.err = &err,
	};
	struct cvmm_seccomp_set *set = NULL, *again = NULL;
	char *json = NULL, *json2 = NULL;
	int rc;

	rc = cvmm_seccomp_load_json_all(&o, &set);
	if (rc) {
		/* Every failure explains itself. */
		if (!err.msg[0] || strnlen(err.msg, sizeof(err.msg)) == sizeof(err.msg))
			abort();
		return 0;
	}
	if (cvmm_seccomp_set_to_json(set, &json))
		abort();
	o.buf = json;
	o.len = strlen(json);
	if (cvmm_seccomp_load_json_all(&o, &again))
		abort();
	if (cvmm_seccomp_set_to_json(again, &json2) || strcmp(json, json2) != 0)
		abort();
	/* Compiling exercises libseccomp on every accepted rule shape. */
	if (cvmm_seccomp_set_count(set) <= 4)
		(void)cvmm_seccomp_set_compile(set);
	free(json);
	free(json2);
	cvmm_seccomp_set_destroy(set);
	cvmm_seccomp_set_destroy(again);
	return 0;
}
