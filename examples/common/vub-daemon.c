/* SPDX-License-Identifier: Apache-2.0 */
/* The vhost-user daemons' shared run: config space, filters per thread. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vub-daemon.h"

void cvmm_vubd_put_le(uint8_t *p, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int cvmm_vubd_config_read(const uint8_t *cfg, size_t size, uint32_t off, void *buf,
			  uint32_t len)
{
	memset(buf, 0, len);
	if (off < size)
		memcpy(buf, cfg + off, len < size - off ? len : size - off);
	return 0;
}

static const char *const threads[] = { "main", "worker", "signals" };

struct run {
	const char *prog;
	struct cvmm_sandbox sb;
};

/* First thing on each framework thread. Fail closed: a thread that cannot
 * be confined would serve the frontend unconfined, so the daemon ends. */
static void thread_start(void *arg, enum cvmm_vub_thread type, unsigned int idx)
{
	struct run *r = arg;
	const char *t = type == CVMM_VUB_THREAD_WORKER ? "worker" : "signals";

	if (cvmm_sandbox_install(&r->sb, t)) {
		fprintf(stderr, "%s: cannot install the seccomp filter of %s thread %u\n",
			r->prog, t, idx);
		_exit(1);
	}
}

int cvmm_vubd_run(const char *prog, const char *program, struct cvmm_vub_opts *o,
		  enum cvmm_sandbox_mode mode, const char *filter_path)
{
	struct run r = { .prog = prog };
	struct cvmm_vub *d;
	char err[512] = "";
	int ret;

	/* Compiled before the framework starts its threads. */
	if (cvmm_sandbox_prepare(&r.sb, program, threads, 3, mode, filter_path, err,
				 sizeof(err))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 1;
	}
	o->thread_start = thread_start;
	o->thread_arg = &r;
	ret = cvmm_vub_create(o, &d);
	if (ret < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, o->socket_path, strerror(-ret));
		cvmm_sandbox_fini(&r.sb);
		return 1;
	}
	/* The protocol thread confines itself once the socket listens and the
	 * workers run: what is left is accept, messages, mappings, teardown. */
	if (cvmm_sandbox_install(&r.sb, "main")) {
		fprintf(stderr, "%s: cannot install the seccomp filter of the main thread\n", prog);
		cvmm_vub_destroy(d);
		cvmm_sandbox_fini(&r.sb);
		return 1;
	}
	ret = cvmm_vub_serve(d);
	cvmm_vub_destroy(d);
	cvmm_sandbox_fini(&r.sb);
	if (ret < 0) {
		fprintf(stderr, "%s: %s\n", prog, strerror(-ret));
		return 1;
	}
	return 0;
}
