/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VM start-up time: run hello-kvm on the "startup" guest (whose first
 * instruction writes the marker port) RUNS times and report the median time
 * from just before execve() to (a) main(), (b) VM created, (c) guest loaded,
 * (d) the guest's first instruction, (e) the VM stopped. The timestamp is
 * CLOCK_MONOTONIC taken in the forked child right before execve and passed
 * in CVMM_T0_NS; hello-kvm reports the rest on stderr.
 *
 * Usage: bench-startup HELLO-KVM GUEST.img [RUNS [CPUS [MEMORY]]]
 * Output: a Markdown table row set on stdout. Timing only, never pass/fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NPHASE 5
static const char *const phase[NPHASE] = {
	"main", "vm-created", "loaded", "first-instruction", "exit",
};

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One run: fills v[] with microseconds per phase. */
static int run_once(char **argv, double *v)
{
	char line[256], t0[32];
	int pipefd[2], status;
	FILE *f;
	pid_t pid;

	if (pipe(pipefd))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(pipefd[1], 2);
		dup2(devnull, 1);
		close(pipefd[0]);
		snprintf(t0, sizeof(t0), "%llu", now_ns());
		setenv("CVMM_T0_NS", t0, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	for (int i = 0; i < NPHASE; i++)
		v[i] = -1;
	f = fdopen(pipefd[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		for (int i = 0; i < NPHASE; i++) {
			char key[64];
			size_t kl = (size_t)snprintf(key, sizeof(key), "timing: %s-us ", phase[i]);

			if (!strncmp(line, key, kl))
				v[i] = strtod(line + kl, NULL);
		}
	}
	if (f)
		fclose(f);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return -EIO;
	for (int i = 0; i < NPHASE; i++)
		if (v[i] < 0)
			return -EPROTO;
	return 0;
}

int main(int argc, char **argv)
{
	int runs = argc > 3 ? atoi(argv[3]) : 20;
	const char *cpus = argc > 4 ? argv[4] : "1";
	const char *mem = argc > 5 ? argv[5] : "128M";
	char *child[] = { argv[1], "--cpus", (char *)cpus, "--memory", (char *)mem,
			  argv[2], NULL };
	double *v;

	if (argc < 3 || runs < 1) {
		fprintf(stderr, "usage: bench-startup HELLO-KVM GUEST.img [RUNS [CPUS [MEMORY]]]\n");
		return 1;
	}
	v = calloc((size_t)runs * NPHASE, sizeof(*v));
	for (int r = 0; r < runs; r++) {
		int ret = run_once(child, v + (size_t)r * NPHASE);

		if (ret) {
			fprintf(stderr, "bench-startup: run %d failed: %s\n", r, strerror(-ret));
			return 1;
		}
	}
	printf("| phase (%d runs, %s vCPU, %s) | median ms | min ms | max ms |\n", runs, cpus, mem);
	printf("|---|---:|---:|---:|\n");
	for (int i = 0; i < NPHASE; i++) {
		double *col = calloc((size_t)runs, sizeof(*col));

		for (int r = 0; r < runs; r++)
			col[r] = v[(size_t)r * NPHASE + i] / 1e3;
		qsort(col, (size_t)runs, sizeof(*col), cmp);
		printf("| exec to %s | %.2f | %.2f | %.2f |\n", phase[i],
		       runs % 2 ? col[runs / 2] : (col[runs / 2 - 1] + col[runs / 2]) / 2,
		       col[0], col[runs - 1]);
		free(col);
	}
	free(v);
	return 0;
}
