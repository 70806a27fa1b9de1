/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-console, one port. Host input is polled only while the guest has
 * receive buffers (so a chatty input cannot spin the loop), and only until
 * it reaches end of file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cvmm/virtio-devices/console.h>

#include "internal.h"

#define CONS_RXQ 0u
#define CONS_TXQ 1u
#define CONS_CFG_SIZE 12u

struct cvmm_console {
	struct cvmm_virtio_device dev;
	struct cvmm_event_manager *em;
	struct cvmm_virtq *rxq;
	struct cvmm_virtq *txq;
	int in_fd;
	int out_fd;
	bool active;
	bool in_polled;
	bool in_eof;
	uint8_t config[CONS_CFG_SIZE];
};

static struct cvmm_console *to_cons(struct cvmm_virtio_device *dev)
{
	return CVMM_CONTAINER_OF(dev, struct cvmm_console, dev);
}

static void cons_config_read(struct cvmm_virtio_device *dev, uint32_t off,
			     void *data, uint32_t len)
{
	struct cvmm_console *c = to_cons(dev);

	vd_config_copy(c->config, sizeof(c->config), off, data, len);
}

static void in_cb(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque);

static void poll_input(struct cvmm_console *c, bool on)
{
	if (c->in_fd < 0 || on == c->in_polled || (on && c->in_eof))
		return;
	if (on) {
		if (cvmm_event_manager_add(c->em, c->in_fd, EPOLLIN, in_cb, c) == 0)
			c->in_polled = true;
	} else {
		cvmm_event_manager_remove(c->em, c->in_fd);
		c->in_polled = false;
	}
}

static void broken(struct cvmm_console *c)
{
	poll_input(c, false);
	cvmm_virtio_device_set_needs_reset(&c->dev);
}

/* Move host input into receive buffers until one side runs dry. */
static void rx(struct cvmm_console *c)
{
	struct cvmm_virtq_chain ch;
	struct cvmm_virtq_rw w;
	struct iovec iov[16];
	bool pushed = false;
	ssize_t n;
	int r;

	while (c->active && !c->in_eof) {
		r = cvmm_virtq_pop(c->rxq, &ch);
		if (r == 0) {
			/* No buffer: stop polling until the guest adds some. */
			if (cvmm_virtq_enable_notification(c->rxq) == 0) {
				poll_input(c, false);
				break;
			}
			continue;
		}
		if (r < 0)
			goto fail;
		r = cvmm_virtq_writer_init(&w, &ch);
		if (r < 0)
			goto fail;
		r = cvmm_virtq_rw_iovec(&w, 65536, iov, CVMM_ARRAY_SIZE(iov));
		if (r < 0)
			goto fail;
		if (r == 0) { /* a receive buffer without room: return it empty */
			if (cvmm_virtq_push(c->rxq, &ch, 0) < 0)
				goto fail;
			pushed = true;
			continue;
		}
		n = readv(c->in_fd, iov, r);
		if (n < 0 && errno == EINTR)
			n = readv(c->in_fd, iov, r);
		if (n <= 0) {
			(void)cvmm_virtq_unpop(c->rxq, &ch);
			if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
				c->in_eof = true;
				poll_input(c, false);
			}
			break;
		}
		(void)cvmm_virtq_rw_advance(&w, (size_t)n);
		if (cvmm_virtq_push(c->rxq, &ch, (uint32_t)n) < 0)
			goto fail;
		pushed = true;
	}
	if (pushed && cvmm_virtq_needs_notification(c->rxq))
		cvmm_virtio_device_signal_used(&c->dev, CONS_RXQ);
	return;
fail:
	broken(c);
}

static void in_cb(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	rx(opaque);
}

static void tx(struct cvmm_console *c)
{
	struct cvmm_virtq_chain ch;
	struct cvmm_virtq_rw rd;
	uint8_t buf[4096];
	bool pushed = false;
	ssize_t n;
	int r;

	for (;;) {
		while ((r = cvmm_virtq_pop(c->txq, &ch)) > 0) {
			r = cvmm_virtq_reader_init(&rd, &ch);
			if (r < 0)
				goto fail;
			while ((n = cvmm_virtq_reader_read(&rd, buf, sizeof(buf))) > 0) {
				/* Output errors (a closed socket) drop the bytes:
				 * the guest's console must not stall on the host. */
				if (c->out_fd >= 0 && cvmm_write_full(c->out_fd, buf, (size_t)n) < 0)
					CVMM_LOG(CVMM_LOG_DEBUG, VD_CRATE, "console output lost");
			}
			if (n < 0)
				goto fail;
			if (cvmm_virtq_push(c->txq, &ch, 0) < 0)
				goto fail;
			pushed = true;
		}
		if (r < 0)
			goto fail;
		r = cvmm_virtq_enable_notification(c->txq);
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
	}
	if (pushed && cvmm_virtq_needs_notification(c->txq))
		cvmm_virtio_device_signal_used(&c->dev, CONS_TXQ);
	return;
fail:
	broken(c);
}

static void cons_queue_event(struct cvmm_virtio_device *dev, unsigned int q)
{
	struct cvmm_console *c = to_cons(dev);

	if (!c->active)
		return;
	if (q == CONS_RXQ && c->rxq) {
		poll_input(c, true);
		rx(c);
	} else if (q == CONS_TXQ && c->txq) {
		tx(c);
	}
}

static int cons_activate(struct cvmm_virtio_device *dev, struct cvmm_guest_mem *mem,
			 struct cvmm_virtq *queues, unsigned int nq, uint64_t features)
{
	struct cvmm_console *c = to_cons(dev);

	if (nq < 2)
		return -EINVAL;
	c->rxq = cvmm_virtq_active(&queues[CONS_RXQ]) ? &queues[CONS_RXQ] : NULL;
	c->txq = cvmm_virtq_active(&queues[CONS_TXQ]) ? &queues[CONS_TXQ] : NULL;
	c->active = true;
	if (c->rxq)
		poll_input(c, true);
	return 0;
}

static void cons_reset(struct cvmm_virtio_device *dev)
{
	struct cvmm_console *c = to_cons(dev);

	poll_input(c, false);
	c->active = false;
	c->rxq = c->txq = NULL;
}

static const struct cvmm_virtio_device_ops cons_ops = {
	.config_read = cons_config_read,
	.activate = cons_activate,
	.queue_event = cons_queue_event,
	.reset = cons_reset,
};

int cvmm_console_create(const struct cvmm_console_opts *o, struct cvmm_console **out)
{
	struct cvmm_console *c;
	uint16_t qs;
	int fl;

	if (!o || !out || o->sz < sizeof(*o) || !o->em)
		return -EINVAL;
	if (o->in_fd >= 0) {
		fl = fcntl(o->in_fd, F_GETFL);
		if (fl < 0 || fcntl(o->in_fd, F_SETFL, fl | O_NONBLOCK) < 0)
			return -errno;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->em = o->em;
	c->in_fd = o->in_fd;
	c->out_fd = o->out_fd;
	qs = o->queue_size ? o->queue_size : 256;
	vd_put_le32(c->config + 4, 1); /* cols 0, rows 0, max_nr_ports 1 */
	c->dev.ops = &cons_ops;
	c->dev.device_id = CVMM_VIRTIO_ID_CONSOLE;
	c->dev.config_size = CONS_CFG_SIZE;
	c->dev.num_queues = 2;
	c->dev.queue_max_size[CONS_RXQ] = qs;
	c->dev.queue_max_size[CONS_TXQ] = qs;
	*out = c;
	return 0;
}

void cvmm_console_destroy(struct cvmm_console *c)
{
	free(c);
}

struct cvmm_virtio_device *cvmm_console_device(struct cvmm_console *c)
{
	return &c->dev;
}
