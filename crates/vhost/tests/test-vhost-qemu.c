/* SPDX-License-Identifier: Apache-2.0 */
/* Interop: our backend against QEMU's vhost-user-blk frontend. QEMU is
 * started paused (-S) with no guest: realizing the device is enough for it
 * to connect and run its start-up sequence (features, protocol features,
 * queue count, owner, config space). Skipped when QEMU is absent. */
#include "cvmm-test.h"

#include <cvmm/vhost.h>
#include <cvmm/sys-util.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define QEMU "/usr/bin/qemu-system-x86_64"
#define NQ 2
#define CAPACITY 2048ull /* sectors */
#define VIRTIO_F_VERSION_1 (1ull << 32)
#define VIRTIO_BLK_F_SEG_MAX (1ull << 2)

struct blk {
	uint64_t features;
	uint64_t pf;
	int owner;
	unsigned int config_reads, last_config_len;
	int fds_taken;
};

static int get_features(void *o, uint64_t *f)
{
	(void)o;
	*f = VIRTIO_F_VERSION_1 | CVMM_VHOST_F_PROTOCOL_FEATURES | VIRTIO_BLK_F_SEG_MAX;
	return 0;
}
static int set_features(void *o, uint64_t f)
{
	((struct blk *)o)->features = f;
	return 0;
}
static int get_pf(void *o, uint64_t *f)
{
	(void)o;
	*f = CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_MQ) | CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIG) |
	     CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_REPLY_ACK) |
	     CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIGURE_MEM_SLOTS) |
	     CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_RESET_DEVICE);
	return 0;
}
static int set_pf(void *o, uint64_t f)
{
	((struct blk *)o)->pf = f;
	return 0;
}
static int set_owner(void *o)
{
	((struct blk *)o)->owner++;
	return 0;
}
static int get_config(void *o, uint32_t off, void *buf, uint32_t len)
{
	struct blk *b = o;
	uint8_t cfg[CVMM_VHOST_MAX_CONFIG_SIZE] = { 0 };
	uint64_t cap = CAPACITY;
	uint32_t seg_max = 126;
	uint16_t nq = NQ;

	/* struct virtio_blk_config: capacity @0, seg_max @12, num_queues @34. */
	memcpy(cfg, &cap, 8);
	memcpy(cfg + 12, &seg_max, 4);
	memcpy(cfg + 34, &nq, 2);
	memcpy(buf, cfg + off, len);
	b->config_reads++;
	b->last_config_len = len;
	return 0;
}
static int take_fd(void *o, unsigned int i, int fd)
{
	(void)i;
	((struct blk *)o)->fds_taken++;
	cvmm_close(fd);
	return 0;
}
static int vring_enable(void *o, unsigned int i, bool e)
{
	(void)o;
	(void)i;
	(void)e;
	return 0;
}

static const struct cvmm_vhost_backend_ops blk_ops = {
	.sz = sizeof(blk_ops),
	.get_features = get_features,
	.set_features = set_features,
	.get_protocol_features = get_pf,
	.set_protocol_features = set_pf,
	.set_owner = set_owner,
	.get_config = get_config,
	.set_vring_call = take_fd,
	.set_vring_kick = take_fd,
	.set_vring_err = take_fd,
	.set_vring_enable = vring_enable,
};

/* Every request the backend saw, by name, from the trace log. */
static char seen[4096];

static void sink(enum cvmm_log_level l, const char *crate, const char *msg, void *o)
{
	(void)l;
	(void)crate;
	(void)o;
	if (strlen(seen) + strlen(msg) + 2 < sizeof(seen)) {
		strcat(seen, msg);
		strcat(seen, "\n");
	}
}

static bool saw(const char *name)
{
	char key[64];

	snprintf(key, sizeof(key), "%s (", name);
	for (const char *p = seen; (p = strstr(p, key)); p++)
		if (p == seen || p[-1] == '\n')
			return true;
	return false;
}

START_TEST(qemu_blk_startup)
{
	char dir[PATH_MAX], sock[PATH_MAX + 16], chardev[PATH_MAX + 64];
	char device[] = "vhost-user-blk-pci,chardev=c0,num-queues=2";
	char *argv[] = { (char *)QEMU, (char *)"-M", (char *)"pc,accel=tcg",
			 (char *)"-nodefaults", (char *)"-display", (char *)"none",
			 (char *)"-S", (char *)"-m", (char *)"64M",
			 (char *)"-object",
			 (char *)"memory-backend-memfd,id=mem,size=64M,share=on",
			 (char *)"-machine", (char *)"memory-backend=mem",
			 (char *)"-chardev", chardev, (char *)"-device", device, NULL };
	struct cvmm_vhost_backend *be;
	struct blk blk = { 0 };
	struct pollfd pfd;
	int lfd, conn, refused = 0, handled = 0, r;
	pid_t pid;

	cvmm_log_set_sink(sink, NULL);
	cvmm_log_set_level(CVMM_LOG_TRACE);
	snprintf(dir, sizeof(dir), "%s/cvmm-vhost-qemu-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/blk.sock", dir);
	snprintf(chardev, sizeof(chardev), "socket,id=c0,path=%s", sock);
	lfd = cvmm_unix_listen(sock, 1);
	ck_assert_int_ge(lfd, 0);

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execve(QEMU, argv, environ);
		_exit(127);
	}
	pfd = (struct pollfd){ .fd = lfd, .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 20000), 1);
	conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(conn, 0);
	struct cvmm_vhost_backend_opts o = { .sz = sizeof(o), .sock = conn, .num_queues = NQ,
					     .ops = &blk_ops, .opaque = &blk };
	ck_assert_int_eq(cvmm_vhost_backend_create(&o, &be), 0);

	/* QEMU's start-up ends with GET_CONFIG; then it waits for a guest. */
	while (blk.config_reads == 0) {
		pfd = (struct pollfd){ .fd = cvmm_vhost_backend_fd(be), .events = POLLIN };
		ck_assert_int_eq(poll(&pfd, 1, 20000), 1);
		r = cvmm_vhost_backend_process_one(be);
		ck_assert_msg(cvmm_vhost_backend_connected(be), "connection died: %d", r);
		if (r < 0)
			refused++;
		else
			handled++;
	}
	ck_assert_int_eq(refused, 0);
	ck_assert_int_ge(handled, 5);
	ck_assert(blk.pf & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIG));
	ck_assert(blk.pf & CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_REPLY_ACK));
	ck_assert_uint_eq(cvmm_vhost_backend_protocol_features(be), blk.pf);
	ck_assert_int_ge(blk.owner, 1);
	ck_assert_msg(saw("GET_FEATURES") && saw("GET_PROTOCOL_FEATURES") &&
			      saw("SET_PROTOCOL_FEATURES") && saw("GET_QUEUE_NUM") &&
			      saw("SET_OWNER") && saw("GET_CONFIG"),
		      "requests seen:\n%s", seen);
	if (getenv("VHOST_TEST_VERBOSE"))
		fprintf(stderr, "%s", seen);
	/* QEMU reads the whole struct virtio_blk_config it knows. */
	ck_assert_uint_ge(blk.last_config_len, 36);

	/* QEMU goes away: the backend sees the end of the stream. */
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	for (int i = 0; i < 64 && cvmm_vhost_backend_connected(be); i++) {
		r = cvmm_vhost_backend_process_one(be);
		if (r < 0 && r != -EPIPE)
			refused++;
	}
	ck_assert(!cvmm_vhost_backend_connected(be));
	ck_assert_int_eq(refused, 0);
	cvmm_vhost_backend_destroy(be);
	cvmm_close(lfd);
	unlink(sock);
	rmdir(dir);
}
END_TEST

int main(void)
{
	if (access(QEMU, X_OK) != 0) {
		printf("1..0 # SKIP %s not found (package qemu-system-x86)\n", QEMU);
		return 0;
	}
	Suite *s = suite_create("vhost-qemu");
	TCase *t = tcase_create("qemu-frontend");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, qemu_blk_startup);
	suite_add_tcase(s, t);
	Suite *all[] = { s, NULL };
	return cvmm_test_run(all);
}
