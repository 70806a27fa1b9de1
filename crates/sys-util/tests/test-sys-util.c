/* SPDX-License-Identifier: Apache-2.0 */
#include <cvmm/sys-util.h>
#include "cvmm-test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static char last_msg[512];
static void capture(enum cvmm_log_level l, const char *c, const char *m, void *o)
{
	(void)l; (void)c; (void)o;
	snprintf(last_msg, sizeof(last_msg), "%s", m);
}

START_TEST(log_levels)
{
	enum cvmm_log_level l;

	ck_assert_int_eq(cvmm_log_level_parse("DEBUG", &l), 0);
	ck_assert_int_eq(l, CVMM_LOG_DEBUG);
	ck_assert_int_eq(cvmm_log_level_parse("loud", &l), -EINVAL);
	cvmm_log_set_sink(capture, NULL);
	cvmm_log_set_level(CVMM_LOG_WARN);
	last_msg[0] = 0;
	cvmm_log(CVMM_LOG_INFO, "t", "dropped");
	ck_assert_str_eq(last_msg, "");
	cvmm_log(CVMM_LOG_ERROR, "t", "kept %d", 7);
	ck_assert_str_eq(last_msg, "kept 7");
	cvmm_log_set_sink(NULL, NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sys-util");
	TCase *tc = tcase_create("log");

	tcase_add_test(tc, log_levels);
	suite_add_tcase(s, tc);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
