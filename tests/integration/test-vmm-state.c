/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The whole VM as one state stream: a guest that keeps checking its own
 * memory runs, is paused and saved (vCPUs, irqchip, PIT, clock, platform
 * devices, a virtio device, RAM), its VM destroyed, and is restored into a
 * new VM in this process and in a new process; it goes on and finds every
 * byte. Then hostile streams: truncated, a section from a future version,
 * a device this VM lacks, a vCPU section with an absurd count, a queue
 * whose ring lies outside guest RAM, an unknown section — each refused
 * with a message naming section and field, and a VM whose restore failed
 * half-way refuses to start.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cvmm/snapshot.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/console.h>
#include <cvmm/vmm.h>

#include "cvmm-test.h"
#include "guest-loader.h"
#include "state-guest.h"

#define MEM (64ull << 20)

static char self[4096];

/* Run a guest for a while, pause, save it with its memory; the VM is gone after. */
static void *save_running(size_t *len)
{
	struct cvmm_vmm *vmm = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .load = true });
	struct cvmm_snap_writer *w;
	const void *p;
	void *copy;
	char err[256];
	uint64_t t0;

	atomic_store(&sg_finish, 0);
	ck_assert_int_eq(cvmm_vmm_start(vmm), 0);
	sg_nap(100);
	ck_assert_int_eq(cvmm_vmm_pause(vmm), 0);
	/* The state alone first, timed: what a snapshot writes beside memory. */
	ck_assert_int_eq(cvmm_snap_writer_create(NULL, &w), 0);
	t0 = cvmm_now_ns();
	ck_assert_msg(cvmm_vmm_save(vmm, w, 0, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_snap_writer_finish(w), 0);
	printf("# state without RAM: %llu bytes, saved in %.2f ms (2 vCPUs, platform, virtio-rng)\n",
	       (unsigned long long)cvmm_snap_writer_bytes(w), (cvmm_now_ns() - t0) / 1e6);
	cvmm_snap_writer_destroy(w);
	ck_assert_int_eq(cvmm_snap_writer_create(NULL, &w), 0);
	ck_assert_msg(cvmm_vmm_save(vmm, w, CVMM_VMM_SAVE_MEMORY, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_snap_writer_finish(w), 0);
	ck_assert_int_eq(cvmm_snap_writer_buffer(w, &p, len), 0);
	copy = malloc(*len);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, p, *len);
	cvmm_snap_writer_destroy(w);
	/* The source is gone for good: nothing of it can leak into the clone. */
	cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_REQUEST, 0);
	cvmm_vmm_run(vmm);
	cvmm_vmm_destroy(vmm);
	return copy;
}

/* Restore @buf into a fresh VM, let it run, then finish: the guest's exit
 * code (0x5a when it found every byte). */
static int restore_and_run(const void *buf, size_t len, char *err, size_t errlen)
{
	struct cvmm_vmm *vmm = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM });
	struct cvmm_snap_reader *r;
	struct cvmm_snap_error e;
	int code = -1, ret;
	uint64_t t0;

	atomic_store(&sg_finish, 0);
	ret = cvmm_snap_reader_open(buf, len, &r, &e);
	if (ret) {
		cvmm_snap_error_format(&e, err, errlen);
		cvmm_vmm_destroy(vmm);
		return ret;
	}
	t0 = cvmm_now_ns();
	ret = cvmm_vmm_restore(vmm, r, CVMM_VMM_RESTORE_MEMORY, err, errlen);
	if (!ret && !sg_in_child)
		printf("# restore with 64 MiB RAM inline: %.2f ms\n", (cvmm_now_ns() - t0) / 1e6);
	cvmm_snap_reader_destroy(r);
	if (!ret)
		ret = cvmm_vmm_start(vmm);
	if (!ret) {
		sg_nap(100);
		atomic_store(&sg_finish, 1);
		cvmm_vmm_run(vmm);
		ret = cvmm_vmm_stop_reason(vmm, &code) == CVMM_VMM_STOP_GUEST_EXIT ? code : -EIO;
	}
	cvmm_vmm_destroy(vmm);
	return ret;
}

START_TEST(save_restore_same_process)
{
	size_t len;
	void *buf = save_running(&len);
	char err[300] = "";
	int code = restore_and_run(buf, len, err, sizeof(err));

	ck_assert_msg(code == 0x5a, "guest exit %#x (0xb1 memory, 0xb2 counter): %s", code, err);
	printf("# whole-VM state with 64 MiB RAM, 2 vCPUs, platform, virtio-rng: %zu bytes\n", len);
	free(buf);
}
END_TEST

START_TEST(save_restore_new_process)
{
	char path[] = "/tmp/cvmm-state-XXXXXX";
	size_t len;
	void *buf = save_running(&len);
	int fd = mkstemp(path), status;
	pid_t pid;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cvmm_write_full(fd, buf, len), 0);
	close(fd);
	free(buf);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execl(self, self, "--restore", path, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (!getenv("CVMM_KEEP_STATE"))
		unlink(path);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0x5a,
		      "restoring process: status %#x", status);
}
END_TEST

/* Rewrite @buf with section @victim replaced by @patch (or dropped when
 * @patch is NULL and @plen 0), and @extra added. */
static void *rewrite(const void *buf, size_t len, const char *victim, uint32_t version,
		     const void *patch, size_t plen, const char *extra, size_t *out_len)
{
	struct cvmm_snap_reader *r;
	struct cvmm_snap_writer *w;
	struct cvmm_snap_section s;
	const void *p;
	void *copy;

	ck_assert_int_eq(cvmm_snap_reader_open(buf, len, &r, NULL), 0);
	ck_assert_int_eq(cvmm_snap_writer_create(NULL, &w), 0);
	for (size_t i = 0; i < cvmm_snap_reader_count(r); i++) {
		ck_assert_int_eq(cvmm_snap_reader_at(r, i, &s), 0);
		if (victim && !strcmp(s.id, victim))
			ck_assert_int_eq(cvmm_snap_write(w, s.id, version, patch, plen), 0);
		else
			ck_assert_int_eq(cvmm_snap_write(w, s.id, s.version, s.data, s.len), 0);
	}
	if (extra)
		ck_assert_int_eq(cvmm_snap_write(w, extra, 1, "x", 1), 0);
	ck_assert_int_eq(cvmm_snap_writer_finish(w), 0);
	ck_assert_int_eq(cvmm_snap_writer_buffer(w, &p, out_len), 0);
	copy = malloc(*out_len);
	memcpy(copy, p, *out_len);
	cvmm_snap_writer_destroy(w);
	cvmm_snap_reader_destroy(r);
	return copy;
}

static const void *section_of(const void *buf, size_t len, const char *id, size_t *slen)
{
	struct cvmm_snap_reader *r;
	struct cvmm_snap_section s;
	static char copy[1 << 20];

	ck_assert_int_eq(cvmm_snap_reader_open(buf, len, &r, NULL), 0);
	ck_assert_int_eq(cvmm_snap_reader_find(r, id, &s), 0);
	ck_assert_uint_le(s.len, sizeof(copy));
	memcpy(copy, s.data, s.len);
	*slen = s.len;
	cvmm_snap_reader_destroy(r);
	return copy;
}

static void expect_refusal(const void *buf, size_t len, const char *what, const char *needle)
{
	char err[300] = "";
	int ret = restore_and_run(buf, len, err, sizeof(err));

	ck_assert_msg(ret < 0, "%s: accepted (%d)", what, ret);
	ck_assert_msg(strstr(err, needle), "%s: message '%s' does not name '%s'", what, err, needle);
	printf("# %s: %s\n", what, err);
}

START_TEST(hostile_streams)
{
	size_t len, n, sl;
	void *good = save_running(&len), *bad;
	const uint8_t *sec;
	uint8_t *patched;

	/* Truncated anywhere: the reader refuses before any VM is touched. */
	for (size_t cut = 0; cut < len; cut += len / 7 + 1)
		expect_refusal(good, cut, "truncated", "state ");
	/* A section from a future layout. */
	sec = section_of(good, len, "vm", &sl);
	bad = rewrite(good, len, "vm", 99, sec, sl, NULL, &n);
	expect_refusal(bad, n, "future version", "'vm' field 'version'");
	free(bad);
	/* Shape that does not match. */
	patched = malloc(sl);
	memcpy(patched, sec, sl);
	patched[4] = 7; /* ncpus */
	bad = rewrite(good, len, "vm", 1, patched, sl, NULL, &n);
	expect_refusal(bad, n, "wrong vCPU count", "'vm' field 'ncpus'");
	free(bad);
	free(patched);
	/* A vCPU section with state bits no cvmm writes. */
	sec = section_of(good, len, "vcpu/1", &sl);
	patched = malloc(sl);
	memcpy(patched, sec, sl);
	patched[7] = 0x80; /* the header's valid bits, after the version */
	bad = rewrite(good, len, "vcpu/1", 1, patched, sl, NULL, &n);
	expect_refusal(bad, n, "unknown vCPU state bits", "'vcpu/1' field 'valid'");
	free(bad);
	free(patched);
	/* A device this VM does not have. */
	bad = rewrite(good, len, NULL, 0, NULL, 0, "dev/_disk7/transport", &n);
	expect_refusal(bad, n, "unknown section", "dev/_disk7/transport");
	free(bad);
	/* A queue whose ring lies outside guest RAM, on an active device. */
	sec = section_of(good, len, "dev/__rng0/transport", &sl);
	{
		struct cvmm_virtio_transport_state ts;

		ck_assert_uint_eq(sl, sizeof(ts));
		memcpy(&ts, sec, sizeof(ts));
		ts.status = CVMM_VIRTIO_S_ACKNOWLEDGE | CVMM_VIRTIO_S_DRIVER |
			    CVMM_VIRTIO_S_FEATURES_OK | CVMM_VIRTIO_S_DRIVER_OK;
		ts.driver_features = CVMM_VIRTIO_F_VERSION_1;
		ts.device_active = 1;
		ts.regs[0].num = 16;
		ts.regs[0].ready = 1;
		ts.regs[0].desc = 0xfff00000000ull;
		ts.regs[0].driver = 0x100000;
		ts.regs[0].device = 0x101000;
		bad = rewrite(good, len, "dev/__rng0/transport", ts.version, &ts, sizeof(ts), NULL, &n);
		expect_refusal(bad, n, "ring outside RAM", "dev/__rng0/transport");
		free(bad);
	}
	free(good);
}
END_TEST

/* A stream naming a device this program does not have. */
START_TEST(device_missing)
{
	size_t len;
	void *good = save_running(&len);
	struct cvmm_vmm *vmm = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .no_rng = true });
	struct cvmm_snap_reader *r;
	char err[300];

	ck_assert_int_eq(cvmm_snap_reader_open(good, len, &r, NULL), 0);
	ck_assert_int_ne(cvmm_vmm_restore(vmm, r, CVMM_VMM_RESTORE_MEMORY, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "'vm/devices'") && strstr(err, "__rng0"), "%s", err);
	printf("# device missing: %s\n", err);
	cvmm_snap_reader_destroy(r);
	cvmm_vmm_destroy(vmm);
	free(good);
}
END_TEST

static int restore_main(const char *path)
{
	char err[300] = "";
	size_t len = 0, cap = 1 << 20;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY), code;
	ssize_t n;

	if (fd < 0 || !buf)
		return 100;
	while ((n = read(fd, buf + len, cap - len)) > 0) {
		len += (size_t)n;
		if (len == cap && !(buf = realloc(buf, cap *= 2)))
			return 101;
	}
	close(fd);
	code = restore_and_run(buf, len, err, sizeof(err));
	if (code < 0)
		fprintf(stderr, "restore: %s\n", err);
	free(buf);
	return code < 0 ? 102 : code;
}

int main(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	Suite *s, *all[2];
	TCase *t;

	self[n > 0 ? n : 0] = 0;
	/* The restoring child makes no Check objects (LeakSanitizer would
	 * count them against its exit). */
	if (argc == 3 && !strcmp(argv[1], "--restore")) {
		sg_in_child = true;
		return restore_main(argv[2]);
	}
	cvmm_test_require_kvm();
	s = suite_create("vmm-state");
	t = tcase_create("state");
	all[0] = s;
	all[1] = NULL;
	tcase_set_timeout(t, 120);
	tcase_add_test(t, save_restore_same_process);
	tcase_add_test(t, save_restore_new_process);
	tcase_add_test(t, hostile_streams);
	tcase_add_test(t, device_missing);
	suite_add_tcase(s, t);
	return cvmm_test_run(all);
}
