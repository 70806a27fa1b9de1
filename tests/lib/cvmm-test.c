/* SPDX-License-Identifier: Apache-2.0 */
#include "cvmm-test.h"

#include <fcntl.h>
#include <pthread.h>
#include <time.h>
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

int cvmm_test_count_fds(void)
{
	char path[64];
	int n = 0;

	for (int fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += access(path, F_OK) == 0;
	}
	return n;
}

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t t;
	bool done;
	unsigned int seconds;
	void (*fire)(void *arg);
	void *arg;
} wd = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };

static void *watchdog(void *unused)
{
	struct timespec ts;
	int r = 0;

	(void)unused;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += wd.seconds;
	pthread_mutex_lock(&wd.lock);
	while (!wd.done && r == 0)
		r = pthread_cond_timedwait(&wd.cond, &wd.lock, &ts);
	pthread_mutex_unlock(&wd.lock);
	if (!wd.done)
		wd.fire(wd.arg);
	return NULL;
}

void cvmm_test_watchdog_start(unsigned int seconds, void (*fire)(void *arg), void *arg)
{
	wd.done = false;
	wd.seconds = seconds;
	wd.fire = fire;
	wd.arg = arg;
	ck_assert_int_eq(pthread_create(&wd.t, NULL, watchdog, NULL), 0);
}

void cvmm_test_watchdog_stop(void)
{
	pthread_mutex_lock(&wd.lock);
	wd.done = true;
	pthread_cond_signal(&wd.cond);
	pthread_mutex_unlock(&wd.lock);
	pthread_join(wd.t, NULL);
}
