/* SPDX-License-Identifier: Apache-2.0 */
#include <cvmm/seccomp.h>

#include "child.h"
#include "cvmm-test.h"

static Suite *json_suite(void)
{
	return suite_create("seccomp-json");
}

int main(void)
{
	Suite *suites[] = { json_suite(), NULL };

	return cvmm_test_run(suites);
}
