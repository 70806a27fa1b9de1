/* SPDX-License-Identifier: Apache-2.0 */
#include "cvmm-test.h"
#include "superio-tests.h"

int main(void)
{
	return cvmm_test_run((Suite *[]){ serial_suite(), i8042_suite(), rtc_suite(), NULL });
}
