/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio-net driver at CPL3: ARP for the host's address over the TAP and
 * wait for the host kernel's reply, which proves both directions (transmit
 * queue -> TAP -> host stack -> TAP -> receive queue).
 * args: 0 host IPv4 (e.g. 0x0a000201 for 10.0.2.1), 1 our IPv4.
 * Negotiates VIRTIO_NET_F_MAC (uses the device's MAC) and nothing else, so
 * each receive buffer holds the 12-byte header and a whole frame.
 * Exit 0 with "virtio-net: ARP reply from ..." printed; 0x50 + step otherwise.
 * args[2] non-zero: after the reply, stay up (the API tests pause, resume
 * and inspect the VM), re-checking a memory pattern; 0xbad if it changed.
 */
#include "guest.h"
#include "virtio.h"

#define F_MAC (1ull << 5)
#define HDR 12u
#define NRX 16u
#define RXLEN 2048u

static uint64_t area[8192] __attribute__((aligned(4096)));

static int stay_up(void)
{
	for (unsigned int i = 0; i < 8192; i++)
		area[i] = i * 0x9e3779b97f4a7c15ull;
	for (;;)
		for (unsigned int i = 0; i < 8192; i++)
			if (((volatile uint64_t *)area)[i] != i * 0x9e3779b97f4a7c15ull) {
				guest_printf("virtio-net: memory changed at word %u\n", i);
				return 0xbad;
			}
}

static int fail(int step, const char *what)
{
	guest_printf("virtio-net: FAIL %s\n", what);
	return 0x50 + step;
}

static void put_ip(uint8_t *p, uint32_t ip)
{
	p[0] = (uint8_t)(ip >> 24);
	p[1] = (uint8_t)(ip >> 16);
	p[2] = (uint8_t)(ip >> 8);
	p[3] = (uint8_t)ip;
}

static uint32_t get_ip(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int guest_main(unsigned int cpu)
{
	uint32_t host_ip = (uint32_t)guest_arg(0), my_ip = (uint32_t)guest_arg(1);
	struct virtio_dev dev;
	struct vq rx = { .desc = NULL }, tx = { .desc = NULL };
	uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x99 };
	uint8_t *rxbuf[NRX], *txbuf, *f;
	uint32_t id, len;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	if (!host_ip || !my_ip)
		return fail(0, "args 0 and 1 must be the host's and our IPv4 address");
	if (virtio_find(VIRTIO_ID_NET, 0, &dev))
		return fail(1, "no virtio-net device");
	if (virtio_init(&dev, F_MAC) || vq_setup(&dev, 0, &rx) || vq_setup(&dev, 1, &tx))
		return fail(2, "set-up");
	if (dev.features & F_MAC)
		for (int i = 0; i < 6; i++)
			mac[i] = (uint8_t)virtio_config_read(&dev, (uint32_t)i, 1);
	virtio_driver_ok(&dev);
	for (unsigned int i = 0; i < NRX; i++) {
		struct vbuf b = { 0, RXLEN, true };

		rxbuf[i] = virtio_alloc(RXLEN);
		b.addr = (uint64_t)rxbuf[i];
		/* One descriptor each: head i (vq_submit hands them out in order). */
		vq_submit(&rx, &b, 1);
	}
	guest_printf("virtio-net: mac %x:%x:%x:%x:%x:%x\n", mac[0], mac[1], mac[2], mac[3], mac[4],
		     mac[5]);

	txbuf = virtio_alloc(4096);
	f = txbuf + HDR;        /* the header stays zero: no offloads */
	memset(f, 0xff, 6);     /* broadcast */
	memcpy(f + 6, mac, 6);
	f[12] = 0x08; f[13] = 0x06;              /* ARP */
	f[14] = 0; f[15] = 1;                    /* Ethernet */
	f[16] = 0x08; f[17] = 0;                 /* IPv4 */
	f[18] = 6; f[19] = 4;
	f[20] = 0; f[21] = 1;                    /* request */
	memcpy(f + 22, mac, 6);
	put_ip(f + 28, my_ip);
	memset(f + 32, 0, 6);
	put_ip(f + 38, host_ip);

	for (int attempt = 0; attempt < 5; attempt++) {
		struct vbuf b = { (uint64_t)txbuf, HDR + 60, false };
		uint64_t t0 = rdtsc();

		vq_submit(&tx, &b, 1);
		if (vq_wait(&tx, &id, &len, VIRTIO_SPINS))
			return fail(3, "transmit buffer not used");
		/* About a second per attempt at a few GHz. */
		while (rdtsc() - t0 < 3000000000ull) {
			const uint8_t *r;

			if (vq_wait(&rx, &id, &len, 1000))
				continue;
			if (id >= NRX || len < HDR + 42 || len > RXLEN)
				return fail(4, "bad used element");
			r = rxbuf[id] + HDR;
			if (r[12] == 0x08 && r[13] == 0x06 && r[20] == 0 && r[21] == 2 &&
			    get_ip(r + 28) == host_ip && get_ip(r + 38) == my_ip &&
			    !memcmp(r, mac, 6)) {
				guest_printf("virtio-net: ARP reply from %x:%x:%x:%x:%x:%x after %d request(s)\n",
					     r[22], r[23], r[24], r[25], r[26], r[27], attempt + 1);
				return guest_arg(2) ? stay_up() : 0;
			}
			/* Something else (IPv6 chatter): give the buffer back. */
			{
				struct vbuf back = { (uint64_t)rxbuf[id], RXLEN, true };

				vq_desc(&rx)[id].addr = back.addr;
				vq_desc(&rx)[id].len = back.len;
				vq_desc(&rx)[id].flags = VRING_DESC_F_WRITE;
				vq_publish(&rx, (uint16_t)id);
			}
		}
	}
	return fail(5, "no ARP reply");
}
