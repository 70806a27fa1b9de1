/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Round-trip cost of vhost-user requests over a socketpair, backend on its
 * own thread: GET_FEATURES (data reply), SET_VRING_BASE with REPLY_ACK, and
 * SET_VRING_CALL carrying an fd with REPLY_ACK.
 *   make crates/vhost/bench/bench-vhost-rtt && ./crates/vhost/bench/bench-vhost-rtt [iters]
 */
#include <cvmm/vhost.h>
#include <cvmm/sys-util.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

static int get_features(void *o, uint64_t *f)
{
	(void)o;
	*f = CVMM_VHOST_F_PROTOCOL_FEATURES;
	return 0;
}
static int set_base(void *o, unsigned int i, unsigned int b)
{
	(void)o;
	(void)i;
	(void)b;
	return 0;
}
static int set_call(void *o, unsigned int i, int fd)
{
	(void)o;
	(void)i;
	cvmm_close(fd);
	return 0;
}

static const struct cvmm_vhost_backend_ops ops = {
	.sz = sizeof(ops),
	.get_features = get_features,
	.set_vring_base = set_base,
	.set_vring_call = set_call,
};

static void *serve(void *arg)
{
	while (cvmm_vhost_backend_process_one(arg) != -EPIPE)
		;
	return NULL;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 100000;
	struct cvmm_vhost_backend *be;
	struct cvmm_vhost_frontend *fe;
	uint64_t f, t0;
	pthread_t th;
	int sv[2], ev;

	if (iters <= 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	struct cvmm_vhost_backend_opts o = { .sz = sizeof(o), .sock = sv[1], .num_queues = 1,
					     .ops = &ops };
	if (cvmm_vhost_backend_create(&o, &be) < 0 || cvmm_vhost_frontend_create(sv[0], &fe) < 0)
		return 1;
	pthread_create(&th, NULL, serve, be);
	if (cvmm_vhost_frontend_set_protocol_features(
		    fe, CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_REPLY_ACK)) < 0)
		return 1;
	ev = cvmm_eventfd_create(0);

	t0 = cvmm_now_ns();
	for (long i = 0; i < iters; i++)
		if (cvmm_vhost_frontend_get_features(fe, &f) < 0)
			return 1;
	printf("GET_FEATURES round trip:           %6.2f us\n",
	       (double)(cvmm_now_ns() - t0) / 1e3 / (double)iters);
	t0 = cvmm_now_ns();
	for (long i = 0; i < iters; i++)
		if (cvmm_vhost_frontend_set_vring_base(fe, 0, (unsigned int)i) < 0)
			return 1;
	printf("SET_VRING_BASE + REPLY_ACK:        %6.2f us\n",
	       (double)(cvmm_now_ns() - t0) / 1e3 / (double)iters);
	t0 = cvmm_now_ns();
	for (long i = 0; i < iters; i++)
		if (cvmm_vhost_frontend_set_vring_call(fe, 0, ev) < 0)
			return 1;
	printf("SET_VRING_CALL (1 fd) + REPLY_ACK: %6.2f us\n",
	       (double)(cvmm_now_ns() - t0) / 1e3 / (double)iters);

	cvmm_vhost_frontend_destroy(fe);
	pthread_join(th, NULL);
	cvmm_vhost_backend_destroy(be);
	cvmm_close(ev);
	return 0;
}
