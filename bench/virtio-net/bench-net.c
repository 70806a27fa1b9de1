/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net transmit throughput: the virtio-queue driver helper (the
 * "guest") keeps a full transmit queue of frames in flight against a
 * cvmm_net device behind the real virtio-mmio transport; the device runs on
 * its own event-manager thread and writes every frame into a real TAP.
 * The process first moves into a private network namespace; the TAP is up
 * without addresses and the frames (UDP/IPv4 to a foreign MAC) are dropped
 * by the kernel right after the TAP's receive path, so the figure is the
 * device + TAP cost, not the host stack's.
 *
 *   bench-net SECONDS FRAME_BYTES...     (needs root and /dev/net/tun)
 * Prints one line per size: frame=N pps=N gbps=N sent=N kernel_rx=N dropped=N
 * (sent: frames the guest queued, the last QSIZE still in flight at the
 * end; kernel_rx: the TAP's rx_packets counter, frames the kernel took).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cvmm/sys-util.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/net.h>
#include <cvmm/virtio-queue/driver.h>

#define QSIZE 256u
#define DESC 0x10000ull
#define AVAIL 0x14000ull
#define USED 0x18000ull
#define DATA 0x100000ull
#define MEM (16ull << 20)

static struct cvmm_event_manager *em;

static void *loop_main(void *arg)
{
	(void)arg;
	(void)cvmm_event_manager_run(em);
	return NULL;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench-net: %s: %s\n", what, strerror(r < 0 ? -r : r));
	exit(1);
}

static void reg(struct cvmm_virtio_mmio *t, uint32_t off, uint32_t v)
{
	cvmm_virtio_mmio_access(t, off, &v, 4, true);
}

static uint32_t rd(struct cvmm_virtio_mmio *t, uint32_t off)
{
	uint32_t v = 0;

	cvmm_virtio_mmio_access(t, off, &v, 4, false);
	return v;
}

/* The TAP's rx_packets from /proc/net/dev (per network namespace, unlike
 * /sys/class/net, which shows the namespace sysfs was mounted in). */
static unsigned long long tap_rx_packets(const char *ifname)
{
	unsigned long long bytes, pkts = 0;
	char line[512], name[32];
	FILE *f = fopen("/proc/net/dev", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %31[^:]: %llu %llu", name, &bytes, &pkts) == 3 &&
		    strcmp(name, ifname) == 0)
			break;
		pkts = 0;
	}
	fclose(f);
	return pkts;
}

static void run(struct cvmm_guest_mem *mem, struct cvmm_virtio_mmio *t,
		struct cvmm_net *net, const char *ifname, unsigned int secs, uint32_t frame)
{
	uint64_t feat = CVMM_VIRTIO_F_VERSION_1 | CVMM_VIRTIO_F_EVENT_IDX;
	struct cvmm_virtq_driver_opts d = {
		.sz = sizeof(d), .mem = mem, .size = QSIZE, .features = feat,
		.desc_gpa = DESC, .avail_gpa = AVAIL, .used_gpa = USED,
	};
	struct pollfd p = { .fd = cvmm_virtio_mmio_irq_fd(t), .events = POLLIN };
	struct cvmm_virtq_driver *drv;
	unsigned long long rx0, done = 0;
	uint64_t t0, t1, tok, v;
	uint32_t len;
	int r;

	/* driver bring-up: queue 1 (transmitq) only, receiveq left off */
	reg(t, CVMM_VIRTIO_MMIO_STATUS, 0);
	while (!cvmm_virtio_mmio_settled(t))
		usleep(100);
	reg(t, CVMM_VIRTIO_MMIO_STATUS, CVMM_VIRTIO_S_ACKNOWLEDGE | CVMM_VIRTIO_S_DRIVER);
	reg(t, CVMM_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg(t, CVMM_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)feat);
	reg(t, CVMM_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg(t, CVMM_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(feat >> 32));
	reg(t, CVMM_VIRTIO_MMIO_STATUS, CVMM_VIRTIO_S_ACKNOWLEDGE | CVMM_VIRTIO_S_DRIVER |
	    CVMM_VIRTIO_S_FEATURES_OK);
	reg(t, CVMM_VIRTIO_MMIO_QUEUE_SEL, 1);
	reg(t, CVMM_VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	reg(t, CVMM_VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)DESC);
	reg(t, CVMM_VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)AVAIL);
	reg(t, CVMM_VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)USED);
	reg(t, CVMM_VIRTIO_MMIO_QUEUE_READY, 1);
	r = cvmm_virtq_driver_create(&d, &drv);
	if (r < 0)
		die("driver", r);
	reg(t, CVMM_VIRTIO_MMIO_STATUS, CVMM_VIRTIO_S_ACKNOWLEDGE | CVMM_VIRTIO_S_DRIVER |
	    CVMM_VIRTIO_S_FEATURES_OK | CVMM_VIRTIO_S_DRIVER_OK);
	while (!cvmm_virtio_mmio_settled(t))
		usleep(100);
	usleep(20000);
	if (rd(t, CVMM_VIRTIO_MMIO_STATUS) & CVMM_VIRTIO_S_NEEDS_RESET)
		die("device needs reset", EIO);

	/* QSIZE frames: zero vnet header, Ethernet to a foreign unicast MAC */
	for (unsigned int i = 0; i < QSIZE; i++) {
		uint64_t g = DATA + (uint64_t)i * 2048;
		uint8_t *b = cvmm_guest_mem_ptr(mem, g, CVMM_NET_HDR_LEN + frame);

		memset(b, 0, CVMM_NET_HDR_LEN + frame);
		b += CVMM_NET_HDR_LEN;
		memcpy(b, "\x02\x00\x00\x00\x00\x99\x02\x00\x00\x00\x00\x02\x08\x00", 14);
		b[14] = 0x45;
		b[16] = (uint8_t)((frame - 14) >> 8);
		b[17] = (uint8_t)(frame - 14);
		b[22] = 64;
		b[23] = 17;
	}
	rx0 = tap_rx_packets(ifname);
	t0 = cvmm_now_ns();
	for (unsigned int i = 0; i < QSIZE; i++) {
		struct cvmm_virtq_buf b = { DATA + (uint64_t)i * 2048, CVMM_NET_HDR_LEN + frame };

		if (cvmm_virtq_driver_add(drv, &b, 1, NULL, 0, false, i) < 0)
			die("add", EIO);
	}
	if (cvmm_virtq_driver_kick_needed(drv))
		reg(t, CVMM_VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	for (;;) {
		unsigned int n = 0;

		while ((r = cvmm_virtq_driver_get_used(drv, &tok, &len)) == 1) {
			struct cvmm_virtq_buf b = { DATA + tok * 2048, CVMM_NET_HDR_LEN + frame };

			done++;
			n++;
			if (cvmm_virtq_driver_add(drv, &b, 1, NULL, 0, false, tok) < 0)
				die("re-add", EIO);
		}
		if (r < 0)
			die("used ring", r);
		if (n && cvmm_virtq_driver_kick_needed(drv))
			reg(t, CVMM_VIRTIO_MMIO_QUEUE_NOTIFY, 1);
		t1 = cvmm_now_ns();
		if (t1 - t0 >= (uint64_t)secs * 1000000000ull)
			break;
		if (n == 0 && !cvmm_virtq_driver_enable_cb(drv)) {
			if (poll(&p, 1, 100) == 1)
				(void)cvmm_eventfd_read(p.fd, &v);
		}
		cvmm_virtq_driver_disable_cb(drv);
	}
	{
		double s = (double)(t1 - t0) / 1e9;
		struct cvmm_net_stats st;

		/* wait for the device to drain what is in flight */
		usleep(100000);
		cvmm_net_get_stats(net, &st);
		printf("frame=%u pps=%.0f gbps=%.3f sent=%llu kernel_rx=%llu dropped=%llu\n",
		       frame, (double)done / s, (double)done * frame * 8 / s / 1e9,
		       done + QSIZE, tap_rx_packets(ifname) - rx0,
		       (unsigned long long)st.tx_dropped);
	}
	cvmm_virtq_driver_destroy(drv);
}

int main(int argc, char **argv)
{
	struct cvmm_mem_region_opts ro = {
		.sz = sizeof(ro), .gpa = 0, .size = MEM, .backing = CVMM_MEM_ANON, .fd = -1,
	};
	struct cvmm_net_opts no = { .sz = sizeof(no), .queue_size = QSIZE };
	struct cvmm_virtio_mmio_opts mo = { .sz = sizeof(mo) };
	struct cvmm_guest_mem *mem;
	struct cvmm_virtio_mmio *t;
	struct cvmm_net *net;
	char ifname[16], cmd[96];
	pthread_t thr;
	unsigned int secs;
	int fd, r;

	if (argc < 3) {
		fprintf(stderr, "usage: bench-net SECONDS FRAME_BYTES...\n");
		return 2;
	}
	secs = (unsigned int)atoi(argv[1]);
	if (unshare(CLONE_NEWNET) < 0)
		die("unshare(CLONE_NEWNET) (run as root)", errno);
	r = cvmm_net_tap_open("cvbench%d", 1, &fd, ifname);
	if (r < 0)
		die("TAP", r);
	snprintf(cmd, sizeof(cmd), "ip link set dev %s up", ifname);
	if (system(cmd) != 0)
		die("ip link", EIO);
	if ((r = cvmm_guest_mem_create(&mem)) < 0 || (r = cvmm_guest_mem_add_region(mem, &ro)) < 0)
		die("guest memory", r);
	if ((r = cvmm_event_manager_create(NULL, &em)) < 0)
		die("event manager", r);
	no.em = em;
	no.tap_fds = &fd;
	if ((r = cvmm_net_create(&no, &net)) < 0)
		die("net", r);
	mo.dev = cvmm_net_device(net);
	mo.mem = mem;
	mo.em = em;
	if ((r = cvmm_virtio_mmio_create(&mo, &t)) < 0)
		die("transport", r);
	if (pthread_create(&thr, NULL, loop_main, NULL))
		die("thread", EAGAIN);
	for (int i = 2; i < argc; i++) {
		uint32_t frame = (uint32_t)atoi(argv[i]);

		if (frame < 60 || frame > 2000)
			die("frame size (60..2000)", EINVAL);
		run(mem, t, net, ifname, secs, frame);
	}
	cvmm_event_manager_stop(em);
	pthread_join(thr, NULL);
	cvmm_virtio_mmio_destroy(t);
	cvmm_net_destroy(net);
	close(fd);
	cvmm_event_manager_destroy(em);
	cvmm_guest_mem_destroy(mem);
	return 0;
}
