/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest side of tests/api/snapshot-clones.sh: a server on virtio-net
 * and virtio-vsock at once, polling both for ever, so that each clone
 * restored from one snapshot of it answers on its own TAP and vsock socket.
 *  - network: ARP requests for our IPv4 (args[0], e.g. 0x0a00020f) and
 *    ICMP echo requests to it are answered ("net: echo N" on COM1);
 *  - vsock: a connection from the host to port args[1] (default 5000) is
 *    accepted; each line it sends is answered "echo: LINE" ("vsock: LINE");
 *    a TRANSPORT_RESET event (a restored device sends one) drops the
 *    connection, as a snapshot cannot carry it.
 * "server: up" once both devices are ready. Exit 0x70 + step on a failure.
 */
#include "guest.h"
#include "virtio.h"
#include "vsock-wire.h"

/* migrate-all.c, which runs this server on one vCPU beside others, starts
 * their device set-up only once this one's is done (the ring pool and the
 * PCI config ports are not shared safely). */
#ifndef SNAPNET_READY
#define SNAPNET_READY() ((void)0)
#endif

#define F_MAC (1ull << 5)
#define NHDR 12u          /* virtio_net_hdr with VERSION_1 */
#define NRX 16u
#define RXLEN 2048u
#define NEV 4u

struct ring {
	struct vq q;
	uint8_t *buf[NRX];
	uint32_t len;
};

static struct virtio_dev net, vs;
static struct ring nrx, vrx, vev;
static struct vq ntx = { .desc = NULL }, vtx = { .desc = NULL };
static uint8_t mac[6], *ntxbuf, *vtxbuf;
static uint32_t my_ip, port;
static uint64_t cid;
/* the one vsock connection: the host's port, 0 when none */
static uint32_t peer, fwd_cnt, got;
static char line[256];
static unsigned long pings;

static int fail(int step, const char *what)
{
	guest_printf("server: FAIL %s\n", what);
	return 0x70 + step;
}

static void ring_fill(struct ring *r, unsigned int n, uint32_t len)
{
	r->len = len;
	for (unsigned int i = 0; i < n; i++) {
		struct vbuf b = { 0, len, true };

		r->buf[i] = virtio_alloc(4096);
		b.addr = (uint64_t)r->buf[i];
		vq_submit(&r->q, &b, 1);   /* head i: handed out in order */
	}
}

static void ring_repost(struct ring *r, uint32_t id)
{
	vq_desc(&r->q)[id].addr = (uint64_t)r->buf[id];
	vq_desc(&r->q)[id].len = r->len;
	vq_desc(&r->q)[id].flags = VRING_DESC_F_WRITE;
	vq_publish(&r->q, (uint16_t)id);
}

static uint16_t csum(const uint8_t *p, uint32_t len)
{
	uint32_t s = 0;

	for (uint32_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t get_ip(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int net_send(uint32_t flen)
{
	struct vbuf b = { (uint64_t)ntxbuf, NHDR + flen, false };
	uint32_t id, len;

	vq_submit(&ntx, &b, 1);
	return vq_wait(&ntx, &id, &len, VIRTIO_SPINS);
}

/* An ARP request for us or an ICMP echo request to us: answer it. */
static int net_frame(const uint8_t *f, uint32_t flen)
{
	uint8_t *o = ntxbuf + NHDR;

	if (flen > RXLEN - NHDR)
		return 0;
	memset(ntxbuf, 0, NHDR);
	if (flen >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 1 && get_ip(f + 38) == my_ip) {
		memcpy(o, f + 6, 6);
		memcpy(o + 6, mac, 6);
		memcpy(o + 12, f + 12, 8);
		o[20] = 0; o[21] = 2;                   /* reply */
		memcpy(o + 22, mac, 6);
		memcpy(o + 28, f + 38, 4);
		memcpy(o + 32, f + 22, 10);             /* their MAC and IPv4 */
		return net_send(60);
	}
	if (flen >= 34 && f[12] == 0x08 && f[13] == 0x00 && (f[14] >> 4) == 4) {
		uint32_t ihl = (f[14] & 15u) * 4, tot = (uint32_t)f[16] << 8 | f[17];

		if (ihl < 20 || tot < ihl + 8 || 14 + tot > flen || f[23] != 1 ||
		    get_ip(f + 30) != my_ip || f[14 + ihl] != 8)
			return 0;
		memcpy(o, f + 6, 6);
		memcpy(o + 6, mac, 6);
		memcpy(o + 12, f + 12, 14 + tot - 12);
		memcpy(o + 26, f + 30, 4);              /* swap the addresses */
		memcpy(o + 30, f + 26, 4);
		o[22] = 64;                             /* TTL */
		o[24] = o[25] = 0;
		{
			uint16_t c = csum(o + 14, ihl);

			o[24] = (uint8_t)(c >> 8); o[25] = (uint8_t)c;
		}
		o[14 + ihl] = 0;                        /* echo reply */
		o[14 + ihl + 2] = o[14 + ihl + 3] = 0;
		{
			uint16_t c = csum(o + 14 + ihl, tot - ihl);

			o[14 + ihl + 2] = (uint8_t)(c >> 8); o[14 + ihl + 3] = (uint8_t)c;
		}
		guest_printf("net: echo %lu\n", ++pings);
		return net_send(14 + tot < 60 ? 60 : 14 + tot);
	}
	return 0;
}

static int vsend(uint16_t op, const char *data, uint32_t len)
{
	struct vsock_hdr *h = (struct vsock_hdr *)vtxbuf;
	struct vbuf b = { (uint64_t)vtxbuf, VSOCK_HDR_LEN + len, false };
	uint32_t id, l;

	memset(h, 0, VSOCK_HDR_LEN);
	h->src_cid = cid;
	h->dst_cid = 2;
	h->src_port = port;
	h->dst_port = peer;
	h->len = len;
	h->type = 1;
	h->op = op;
	h->buf_alloc = BUF_ALLOC;
	h->fwd_cnt = fwd_cnt;
	memcpy(vtxbuf + VSOCK_HDR_LEN, data, len);
	vq_submit(&vtx, &b, 1);
	return vq_wait(&vtx, &id, &l, VIRTIO_SPINS);
}

static int vsock_packet(const struct vsock_hdr *h, const uint8_t *data)
{
	if (h->dst_port != port)
		return 0;
	if (h->op == OP_REQUEST) {
		/* one connection at a time: a new one replaces the last */
		peer = h->src_port;
		fwd_cnt = got = 0;
		return vsend(OP_RESPONSE, "", 0);
	}
	if (h->src_port != peer || !peer)
		return 0;
	if (h->op == OP_RST || h->op == OP_SHUTDOWN) {
		if (h->op == OP_SHUTDOWN)
			vsend(OP_RST, "", 0);
		peer = 0;
		return 0;
	}
	if (h->op == OP_CREDIT_REQUEST)
		return vsend(OP_CREDIT_UPDATE, "", 0);
	if (h->op != OP_RW)
		return 0;
	fwd_cnt += h->len;
	for (uint32_t i = 0; i < h->len && i < RXLEN - VSOCK_HDR_LEN; i++) {
		if (got < sizeof(line) - 8)
			line[6 + got++] = (char)data[i];
		if (data[i] != '\n')
			continue;
		memcpy(line, "echo: ", 6);
		line[6 + got] = '\0';
		guest_printf("vsock: %s", line + 6);
		if (vsend(OP_RW, line, got + 6))
			return -1;
		got = 0;
	}
	return 0;
}

int guest_main(unsigned int cpu)
{
	uint32_t id, len;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	my_ip = (uint32_t)guest_arg(0);
	port = guest_arg(1) ? (uint32_t)guest_arg(1) : 5000;
	if (!my_ip)
		return fail(0, "args[0] must be our IPv4 address");
	if (virtio_find(VIRTIO_ID_NET, 0, &net) || virtio_find(VIRTIO_ID_VSOCK, 0, &vs))
		return fail(1, "needs a virtio-net and a virtio-vsock device");
	if (virtio_init(&net, F_MAC) || !(net.features & F_MAC) || vq_setup(&net, 0, &nrx.q) ||
	    vq_setup(&net, 1, &ntx))
		return fail(2, "virtio-net set-up");
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)virtio_config_read(&net, (uint32_t)i, 1);
	virtio_driver_ok(&net);
	if (virtio_init(&vs, 0) || vq_setup(&vs, 0, &vrx.q) || vq_setup(&vs, 1, &vtx) ||
	    vq_setup(&vs, 2, &vev.q))
		return fail(3, "virtio-vsock set-up");
	cid = virtio_config_read(&vs, 0, 8);
	virtio_driver_ok(&vs);
	ring_fill(&nrx, NRX, RXLEN);
	ring_fill(&vrx, NRX, RXLEN);
	ring_fill(&vev, NEV, 4);
	ntxbuf = virtio_alloc(4096);
	vtxbuf = virtio_alloc(4096);
	guest_printf("server: up, CID %lu, port %u\n", (unsigned long)cid, port);
	SNAPNET_READY();
	for (;;) {
		if (!vq_wait(&nrx.q, &id, &len, 1)) {
			if (id >= NRX || len < NHDR || len > RXLEN)
				return fail(4, "bad virtio-net used element");
			if (net_frame(nrx.buf[id] + NHDR, len - NHDR))
				return fail(5, "virtio-net transmit not used");
			ring_repost(&nrx, id);
		}
		if (!vq_wait(&vrx.q, &id, &len, 1)) {
			if (id >= NRX || len < VSOCK_HDR_LEN || len > RXLEN)
				return fail(6, "bad virtio-vsock used element");
			if (vsock_packet((const struct vsock_hdr *)vrx.buf[id], vrx.buf[id] + VSOCK_HDR_LEN))
				return fail(7, "virtio-vsock transmit not used");
			ring_repost(&vrx, id);
		}
		if (!vq_wait(&vev.q, &id, &len, 1)) {
			if (id >= NEV)
				return fail(8, "bad virtio-vsock event");
			/* VIRTIO_VSOCK_EVENT_TRANSPORT_RESET: connections are gone */
			if (*(volatile uint32_t *)vev.buf[id] == 0) {
				guest_printf("vsock: transport reset\n");
				peer = 0;
			}
			ring_repost(&vev, id);
		}
		cpu_relax();
	}
}
