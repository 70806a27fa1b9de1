/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio-vsock driver at CPL3: connect to the host (CID 2) on port arg 0,
 * send "hello from the vsock guest\n", and print what the host program
 * sends back up to a newline ("virtio-vsock: got: ..."), then shut down.
 * With arg 1 = 1 it listens instead: it accepts the host's connection to
 * its port arg 0, reads a line and answers "echo: LINE".
 * Exit 0; 0x60 + step otherwise (0x63: the host refused, RST).
 */
#include "guest.h"
#include "virtio.h"
#include "vsock-wire.h"

#define NRX 8u
#define RXLEN 4096u
#define MY_PORT 40000u

static struct virtio_dev dev;
static struct vq rx = { .desc = NULL }, tx = { .desc = NULL }, ev = { .desc = NULL };
static uint8_t *rxbuf[NRX], *txbuf;
static uint64_t cid;
static uint32_t port, fwd_cnt;

static int fail(int step, const char *what)
{
	guest_printf("virtio-vsock: FAIL %s\n", what);
	return 0x60 + step;
}

static uint32_t peer_port;

static int send(uint16_t op, uint32_t flags, const char *data, uint32_t len)
{
	struct vsock_hdr *h = (struct vsock_hdr *)txbuf;
	struct vbuf b = { (uint64_t)txbuf, VSOCK_HDR_LEN + len, false };
	uint32_t id, l;

	memset(h, 0, VSOCK_HDR_LEN);
	h->src_cid = cid;
	h->dst_cid = 2;
	h->src_port = peer_port ? port : MY_PORT;
	h->dst_port = peer_port ? peer_port : port;
	h->len = len;
	h->type = 1;
	h->op = op;
	h->flags = flags;
	h->buf_alloc = BUF_ALLOC;
	h->fwd_cnt = fwd_cnt;
	memcpy(txbuf + VSOCK_HDR_LEN, data, len);
	vq_submit(&tx, &b, 1);
	return vq_wait(&tx, &id, &l, VIRTIO_SPINS);
}

/* The next packet for us; its buffer index in *@idx (give it back with repost). */
static const struct vsock_hdr *receive(unsigned int *idx)
{
	uint32_t id, len;

	if (vq_wait(&rx, &id, &len, VIRTIO_SPINS) || id >= NRX || len < VSOCK_HDR_LEN || len > RXLEN)
		return NULL;
	*idx = id;
	return (const struct vsock_hdr *)rxbuf[id];
}

static void repost(unsigned int id)
{
	vq_desc(&rx)[id].addr = (uint64_t)rxbuf[id];
	vq_desc(&rx)[id].len = RXLEN;
	vq_desc(&rx)[id].flags = VRING_DESC_F_WRITE;
	vq_publish(&rx, (uint16_t)id);
}

/* Accept one connection to our port, read a line, answer "echo: LINE". */
static int listen_and_echo(void)
{
	char line[256];
	uint32_t got = 0;
	const struct vsock_hdr *h;
	unsigned int id;

	guest_printf("virtio-vsock: guest CID %lu, listening on port %u\n", (unsigned long)cid, port);
	for (;;) {
		h = receive(&id);
		if (!h)
			return fail(11, "no connection request");
		if (h->op == OP_REQUEST && h->dst_port == port)
			break;
		repost(id);
	}
	peer_port = h->src_port;
	repost(id);
	if (send(OP_RESPONSE, 0, "", 0))
		return fail(12, "response not sent");
	while (got < sizeof(line) - 7 && (got == 0 || line[got - 1] != '\n')) {
		uint32_t n;

		h = receive(&id);
		if (!h)
			return fail(13, "no data from the host");
		if (h->op == OP_RW) {
			n = h->len;
			if (n > RXLEN - VSOCK_HDR_LEN)
				return fail(8, "packet longer than its buffer");
			if (n > sizeof(line) - 7 - got)
				n = (uint32_t)(sizeof(line) - 7 - got);
			memcpy(line + got, rxbuf[id] + VSOCK_HDR_LEN, n);
			got += n;
			fwd_cnt += h->len;
		} else if (h->op == OP_RST || h->op == OP_SHUTDOWN) {
			return fail(14, "the host closed before a whole line");
		}
		repost(id);
	}
	line[got] = '\0';
	guest_printf("virtio-vsock: accepted from host port %u, got: %s", peer_port, line);
	memmove(line + 6, line, got);
	memcpy(line, "echo: ", 6);
	if (send(OP_RW, 0, line, got + 6))
		return fail(15, "answer not sent");
	/* Stay until the host has read it and closes. */
	for (;;) {
		h = receive(&id);
		if (!h || h->op == OP_RST || h->op == OP_SHUTDOWN)
			return 0;
		repost(id);
	}
}

int guest_main(unsigned int cpu)
{
	static const char msg[] = "hello from the vsock guest\n";
	char line[256];
	uint32_t got = 0;
	const struct vsock_hdr *h;
	unsigned int id;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	port = (uint32_t)guest_arg(0);
	if (virtio_find(VIRTIO_ID_VSOCK, 0, &dev))
		return fail(0, "no virtio-vsock device");
	if (virtio_init(&dev, 0) || vq_setup(&dev, 0, &rx) || vq_setup(&dev, 1, &tx) ||
	    vq_setup(&dev, 2, &ev))
		return fail(1, "set-up");
	cid = virtio_config_read(&dev, 0, 8);
	virtio_driver_ok(&dev);
	for (unsigned int i = 0; i < NRX; i++) {
		struct vbuf b = { 0, RXLEN, true };

		rxbuf[i] = virtio_alloc(RXLEN);
		b.addr = (uint64_t)rxbuf[i];
		vq_submit(&rx, &b, 1);
	}
	txbuf = virtio_alloc(4096);
	if (guest_arg(1) == 1)
		return listen_and_echo();
	guest_printf("virtio-vsock: guest CID %lu, connecting to port %u\n", (unsigned long)cid, port);

	if (send(OP_REQUEST, 0, "", 0))
		return fail(2, "request not sent");
	h = receive(&id);
	if (!h)
		return fail(4, "no answer to the request");
	if (h->op == OP_RST)
		return fail(3, "connection refused (RST)");
	if (h->op != OP_RESPONSE || h->dst_port != MY_PORT || h->src_port != port)
		return fail(5, "not a RESPONSE for our connection");
	repost(id);
	if (send(OP_RW, 0, msg, sizeof(msg) - 1))
		return fail(6, "data not sent");
	while (got < sizeof(line) - 1 && (got == 0 || line[got - 1] != '\n')) {
		h = receive(&id);
		if (!h)
			return fail(7, "no data from the host");
		if (h->op == OP_RW) {
			uint32_t n = h->len;

			if (n > RXLEN - VSOCK_HDR_LEN)
				return fail(8, "packet longer than its buffer");
			if (n > sizeof(line) - 1 - got)
				n = (uint32_t)(sizeof(line) - 1 - got);
			memcpy(line + got, rxbuf[id] + VSOCK_HDR_LEN, n);
			got += n;
			fwd_cnt += h->len;
		} else if (h->op == OP_RST || h->op == OP_SHUTDOWN) {
			if (!got)
				return fail(9, "the host closed without data");
			repost(id);
			break;
		} else if (h->op == OP_CREDIT_REQUEST) {
			repost(id);
			if (send(OP_CREDIT_UPDATE, 0, "", 0))
				return fail(10, "credit update not sent");
			continue;
		}
		repost(id);
	}
	line[got] = '\0';
	guest_printf("virtio-vsock: got: %s", line);
	if (got && line[got - 1] != '\n')
		guest_printf("\n");
	send(OP_SHUTDOWN, 3, "", 0);
	return 0;
}
