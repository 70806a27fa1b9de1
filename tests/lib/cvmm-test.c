/* SPDX-License-Identifier: Apache-2.0 */
#include "cvmm-test.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int cvmm_test_run(Suite **suites)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

	for (Suite **s = suites; *s; s++)
		srunner_add_suite(sr, *s);
	/* TAP goes to stdout for automake's tap-driver; Check's own report is silenced. */
	if (!getenv("CK_TAP_LOG_FILE_NAME"))
		srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

bool cvmm_test_have_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

void cvmm_test_require_kvm(void)
{
	if (cvmm_test_have_kvm())
		return;
	printf("1..0 # SKIP /dev/kvm is not available on this machine\n");
	exit(EXIT_SUCCESS);
}

int cvmm_test_tmpfile(char *path, unsigned long long size)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, PATH_MAX, "%s/cvmm-test-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (size && ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}
