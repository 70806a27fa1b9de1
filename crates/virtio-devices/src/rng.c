/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-rng: every device-writable byte offered is filled from getrandom(). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <cvmm/virtio-devices/console.h>

#include "internal.h"

struct cvmm_rng {
	struct cvmm_virtio_device dev;
	struct cvmm_virtq *q;
	uint32_t max_bytes;
	bool active;
};

static struct cvmm_rng *to_rng(struct cvmm_virtio_device *dev)
{
	return CVMM_CONTAINER_OF(dev, struct cvmm_rng, dev);
}

static void rng_config_read(struct cvmm_virtio_device *dev, uint32_t off,
			    void *data, uint32_t len)
{
	memset(data, 0, len); /* no config space */
}

/* Fill @len bytes at @p; getrandom() returns at most 32 MiB per call and
 * may be interrupted. */
static int fill_random(void *p, size_t len)
{
	uint8_t *b = p;

	while (len) {
		ssize_t n = getrandom(b, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static int rng_one(struct cvmm_rng *r, struct cvmm_virtq_chain *c, uint32_t *used)
{
	struct cvmm_virtq_rw w;
	struct iovec iov[64];
	uint64_t want;
	int n, e;

	*used = 0;
	e = cvmm_virtq_writer_init(&w, c);
	if (e < 0)
		return e;
	want = CVMM_MIN(cvmm_virtq_rw_remaining(&w), (uint64_t)r->max_bytes);
	while (want) {
		uint64_t chunk = 0;

		n = cvmm_virtq_rw_iovec(&w, want, iov, CVMM_ARRAY_SIZE(iov));
		if (n <= 0)
			return n;
		for (int i = 0; i < n; i++) {
			e = fill_random(iov[i].iov_base, iov[i].iov_len);
			if (e < 0)
				return e;
			chunk += iov[i].iov_len;
		}
		if (cvmm_virtq_rw_advance(&w, chunk) < 0)
			return cvmm_virtq_error(c->q);
		want -= chunk;
		*used += (uint32_t)chunk;
	}
	return 0;
}

static void rng_queue_event(struct cvmm_virtio_device *dev, unsigned int qi)
{
	struct cvmm_rng *r = to_rng(dev);
	struct cvmm_virtq_chain c;
	bool pushed = false;
	uint32_t used;
	int e;

	if (!r->active || qi != 0)
		return;
	for (;;) {
		while ((e = cvmm_virtq_pop(r->q, &c)) > 0) {
			e = rng_one(r, &c, &used);
			if (e < 0 && cvmm_virtq_broken(r->q))
				break;
			/* getrandom failing leaves the buffer unused, not broken */
			e = cvmm_virtq_push(r->q, &c, e < 0 ? 0 : used);
			if (e < 0)
				break;
			pushed = true;
		}
		if (e < 0)
			break;
		e = cvmm_virtq_enable_notification(r->q);
		if (e <= 0)
			break;
	}
	if (e < 0)
		cvmm_virtio_device_set_needs_reset(dev);
	if (pushed && cvmm_virtq_needs_notification(r->q))
		cvmm_virtio_device_signal_used(dev, 0);
}

static int rng_activate(struct cvmm_virtio_device *dev, struct cvmm_guest_mem *mem,
			struct cvmm_virtq *queues, unsigned int nq, uint64_t features)
{
	struct cvmm_rng *r = to_rng(dev);

	if (nq < 1 || !cvmm_virtq_active(&queues[0]))
		return -EINVAL;
	r->q = &queues[0];
	r->active = true;
	return 0;
}

static void rng_reset(struct cvmm_virtio_device *dev)
{
	struct cvmm_rng *r = to_rng(dev);

	r->active = false;
	r->q = NULL;
}

static const struct cvmm_virtio_device_ops rng_ops = {
	.config_read = rng_config_read,
	.activate = rng_activate,
	.queue_event = rng_queue_event,
	.reset = rng_reset,
};

int cvmm_rng_create(const struct cvmm_rng_opts *o, struct cvmm_rng **out)
{
	struct cvmm_rng *r;

	if (!o || !out || o->sz < sizeof(*o))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->max_bytes = o->max_bytes_per_request ? o->max_bytes_per_request : 65536;
	r->dev.ops = &rng_ops;
	r->dev.device_id = CVMM_VIRTIO_ID_RNG;
	r->dev.num_queues = 1;
	r->dev.queue_max_size[0] = o->queue_size ? o->queue_size : 256;
	*out = r;
	return 0;
}

void cvmm_rng_destroy(struct cvmm_rng *r)
{
	free(r);
}

struct cvmm_virtio_device *cvmm_rng_device(struct cvmm_rng *r)
{
	return &r->dev;
}
