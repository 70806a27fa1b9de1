/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshots on disk (cvmm_vmm_snapshot / _open / _restore): a guest that
 * keeps checking its own memory (tests/guests/state.c) is paused and
 * snapshotted to a directory, its VM destroyed, and restored in a new
 * process in each memory mode (Copy, OnDemand, Shared); it goes on and
 * finds every byte. Five Shared clones of one snapshot at once. The
 * memory file is sparse. Hostile directories (truncated, missing or short
 * memory file, flipped bytes in state, config or manifest, another RAM
 * size) are refused naming the file. Faults: a full file system (a small
 * tmpfs) fails the snapshot and the VM resumes; a snapshot killed
 * mid-way leaves no directory under the name; an OnDemand restore whose
 * memory file is deleted after open keeps running.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
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
static char base[64];


/* A running guest, paused. */
static struct cvmm_vmm *paused_guest(void)
{
	struct cvmm_vmm *vmm = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .load = true });

	atomic_store(&sg_finish, 0);
	ck_assert_int_eq(cvmm_vmm_start(vmm), 0);
	sg_nap(100);
	ck_assert_int_eq(cvmm_vmm_pause(vmm), 0);
	return vmm;
}

static const char cfg_json[] = "{\"test\": \"vmm-snapshot\"}";

/* Snapshot a running guest to @dir; the source is gone afterwards. */
static void make_snapshot(const char *dir)
{
	struct cvmm_vmm *vmm = paused_guest();
	struct cvmm_vmm_snapshot_opts so = { .sz = sizeof(so), .config = cfg_json,
					     .config_len = sizeof(cfg_json) - 1 };
	char err[400];

	ck_assert_msg(cvmm_vmm_snapshot(vmm, dir, &so, err, sizeof(err)) == 0, "%s", err);
	cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_REQUEST, 0);
	cvmm_vmm_run(vmm);
	cvmm_vmm_destroy(vmm);
}

/* A program's hook that refuses the OnDemand fault thread (as a failed
 * seccomp install would); every other thread starts. */
static int refuse_uffd(void *opaque, const char *type, unsigned int index)
{
	(void)opaque;
	(void)index;
	return strcmp(type, "uffd") ? 0 : -EPERM;
}

static int hook_types;

static int count_hooks(void *opaque, const char *type, unsigned int index)
{
	(void)opaque;
	(void)index;
	if (!strcmp(type, "uffd"))
		hook_types |= 1;
	else if (!strcmp(type, "fill"))
		hook_types |= 2;
	return 0;
}

/* In a child: restore @dir in @mode and run; its exit status says how it
 * went. @extra: "unlink" (the memory file deleted after open), "refuse"
 * (the hook refuses the fault thread: the start must fail, 0x70),
 * "hooks" (both OnDemand threads called the hook, else 0x71), or the
 * directory of a diff to restore on top. */
static int child_restore(const char *dir, const char *mode, const char *extra, uint64_t mem)
{
	bool unlink_mem = extra && !strcmp(extra, "unlink");
	bool refuse = extra && !strcmp(extra, "refuse"), hooks = extra && !strcmp(extra, "hooks");
	const char *diff = extra && extra[0] == '/' ? extra : NULL;
	struct cvmm_vmm_restore_opts ro = { .sz = sizeof(ro) };
	struct cvmm_vmm_snapshot *s;
	struct cvmm_vmm *vmm;
	char err[400] = "", path[4200];
	int ret;

	atomic_store(&sg_finish, 0);
	if (cvmm_vmm_mem_restore_parse(mode, &ro.mode))
		return 104;
	ret = cvmm_vmm_snapshot_open(dir, &s, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s\n", err);
		return 102;
	}
	if (unlink_mem) {
		snprintf(path, sizeof(path), "%s/memory", dir);
		if (unlink(path))
			return 105;
	}
	if (diff && cvmm_vmm_snapshot_add_diff(s, diff, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 109;
	}
	vmm = sg_make_vm(&(struct sg_vm_opts){
		.mem = mem, .thread_start = refuse ? refuse_uffd : hooks ? count_hooks : NULL });
	ret = cvmm_vmm_snapshot_restore(vmm, s, &ro, err, sizeof(err));
	cvmm_vmm_snapshot_close(s);
	if (ret) {
		fprintf(stderr, "%s\n", err);
		cvmm_vmm_destroy(vmm);
		return 106;
	}
	if (refuse) {
		/* fail closed: the guest never runs */
		ret = cvmm_vmm_start(vmm);
		cvmm_vmm_destroy(vmm);
		return ret == -EPERM ? 0x70 : 110;
	}
	if (cvmm_vmm_start(vmm))
		return 107;
	if (hooks && hook_types != 3)
		return 0x71;
	ret = sg_finish_guest(vmm);
	cvmm_vmm_destroy(vmm);
	return ret < 0 ? 108 : ret;
}

static pid_t spawn(const char *dir, const char *mode, const char *extra)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execl(self, self, "--restore", dir, mode, extra, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int wait_code(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void rm_snapshot(const char *dir)
{
	static const char *const f[] = { "config.json", "state", "memory", "manifest" };
	char p[4200];

	for (size_t i = 0; i < CVMM_ARRAY_SIZE(f); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, f[i]);
		unlink(p);
	}
	rmdir(dir);
}

static void snap_path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", base, name);
}

START_TEST(snapshot_is_sparse_and_vm_resumes)
{
	struct cvmm_vmm *vmm = paused_guest();
	struct cvmm_vmm_snapshot_opts so = { .sz = sizeof(so), .config = cfg_json,
					     .config_len = sizeof(cfg_json) - 1 };
	char dir[200], p[300], err[400];
	struct stat st;

	snap_path(dir, sizeof(dir), "sparse");
	ck_assert_msg(cvmm_vmm_snapshot(vmm, dir, &so, err, sizeof(err)) == 0, "%s", err);
	/* a second snapshot may not overwrite the first */
	ck_assert_int_eq(cvmm_vmm_snapshot(vmm, dir, &so, err, sizeof(err)), -EEXIST);
	printf("# existing directory: %s\n", err);
	snprintf(p, sizeof(p), "%s/memory", dir);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, MEM);
	printf("# memory file: %llu bytes, %llu on disk\n", (unsigned long long)st.st_size,
	       (unsigned long long)st.st_blocks * 512);
	ck_assert_uint_lt((uint64_t)st.st_blocks * 512, 8ull << 20);
	snprintf(p, sizeof(p), "%s.tmp-%d", dir, (int)getpid());
	ck_assert_int_ne(access(p, F_OK), 0);
	/* the source goes on after its snapshot */
	ck_assert_int_eq(cvmm_vmm_resume(vmm), 0);
	ck_assert_int_eq(sg_finish_guest(vmm), 0x5a);
	cvmm_vmm_destroy(vmm);
	rm_snapshot(dir);
}
END_TEST

START_TEST(restore_each_mode_new_process)
{
	static const char *const modes[] = { "Copy", "OnDemand", "Shared" };
	char dir[200];

	snap_path(dir, sizeof(dir), "modes");
	make_snapshot(dir);
	for (size_t i = 0; i < CVMM_ARRAY_SIZE(modes); i++) {
		int code = wait_code(spawn(dir, modes[i], NULL));

		ck_assert_msg(code == 0x5a, "%s: child exit %#x (0xb1 memory, 0xb2 counter)",
			      modes[i], code);
	}
	/* a restored VM snapshotted again (pages it never touched come from the file) */
	rm_snapshot(dir);
}
END_TEST

START_TEST(five_shared_clones)
{
	char dir[200];
	pid_t pid[5];

	snap_path(dir, sizeof(dir), "clones");
	make_snapshot(dir);
	for (int i = 0; i < 5; i++)
		pid[i] = spawn(dir, i % 2 ? "OnDemand" : "Shared", NULL);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(wait_code(pid[i]), 0x5a);
	rm_snapshot(dir);
}
END_TEST

START_TEST(on_demand_memory_file_deleted)
{
	char dir[200];

	snap_path(dir, sizeof(dir), "deleted");
	make_snapshot(dir);
	ck_assert_int_eq(wait_code(spawn(dir, "OnDemand", "unlink")), 0x5a);
	rm_snapshot(dir);
}
END_TEST

/* Apply @fn to a fresh snapshot, then expect open or restore to refuse it
 * with a message holding @needle. */
static void expect_refusal(const char *what, void (*fn)(const char *dir), const char *needle,
			   uint64_t mem)
{
	struct cvmm_vmm_restore_opts ro = { .sz = sizeof(ro) };
	struct cvmm_vmm_snapshot *s;
	struct cvmm_vmm *vmm;
	char dir[200], err[400] = "";
	int ret;

	snap_path(dir, sizeof(dir), "hostile");
	make_snapshot(dir);
	fn(dir);
	ret = cvmm_vmm_snapshot_open(dir, &s, err, sizeof(err));
	if (!ret) {
		vmm = sg_make_vm(&(struct sg_vm_opts){ .mem = mem });
		ret = cvmm_vmm_snapshot_restore(vmm, s, &ro, err, sizeof(err));
		if (!ret)
			ret = 1;
		/* a VM whose restore failed never starts */
		ck_assert_int_ne(cvmm_vmm_start(vmm), 0);
		cvmm_vmm_destroy(vmm);
		cvmm_vmm_snapshot_close(s);
	}
	ck_assert_msg(ret < 0, "%s: accepted", what);
	ck_assert_msg(strstr(err, needle), "%s: '%s' does not name '%s'", what, err, needle);
	printf("# %s: %s\n", what, err);
	rm_snapshot(dir);
}

static void edit_file(const char *dir, const char *name, long off, int flip, long truncate_to)
{
	char p[300];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_RDWR);
	ck_assert_int_ge(fd, 0);
	if (flip) {
		uint8_t b;
		off_t at = off >= 0 ? off : lseek(fd, 0, SEEK_END) + off;

		ck_assert_int_eq(pread(fd, &b, 1, at), 1);
		b ^= (uint8_t)flip;
		ck_assert_int_eq(pwrite(fd, &b, 1, at), 1);
	}
	if (truncate_to >= 0)
		ck_assert_int_eq(ftruncate(fd, truncate_to), 0);
	close(fd);
}

static void mem_truncated(const char *d) { edit_file(d, "memory", 0, 0, (long)(MEM / 2)); }
static void mem_missing(const char *d)
{
	char p[300];

	snprintf(p, sizeof(p), "%s/memory", d);
	ck_assert_int_eq(unlink(p), 0);
}
static void state_flipped(const char *d) { edit_file(d, "state", 500, 0x10, -1); }
static void state_truncated(const char *d) { edit_file(d, "state", 0, 0, 300); }
static void config_flipped(const char *d) { edit_file(d, "config.json", 3, 1, -1); }
static void manifest_flipped(const char *d) { edit_file(d, "manifest", 100, 4, -1); }
static void nothing(const char *d) { (void)d; }

START_TEST(hostile_snapshots)
{
	expect_refusal("memory file truncated", mem_truncated, "memory file", MEM);
	expect_refusal("memory file missing", mem_missing, "memory", MEM);
	expect_refusal("state byte flipped", state_flipped, "state", MEM);
	expect_refusal("state truncated", state_truncated, "state", MEM);
	expect_refusal("config byte flipped", config_flipped, "config", MEM);
	expect_refusal("manifest byte flipped", manifest_flipped, "manifest", MEM);
	expect_refusal("VM with other RAM", nothing, "does not match", MEM * 2);
}
END_TEST

START_TEST(full_filesystem)
{
	struct cvmm_vmm *vmm;
	char mnt[200], dir[260], err[400] = "";
	int ret;

	snap_path(mnt, sizeof(mnt), "tmpfs");
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	if (mount("cvmm-test", mnt, "tmpfs", 0, "size=64k")) {
		printf("# skip: cannot mount a tmpfs: %s\n", strerror(errno));
		rmdir(mnt);
		return;
	}
	snprintf(dir, sizeof(dir), "%s/snap", mnt);
	vmm = paused_guest();
	ret = cvmm_vmm_snapshot(vmm, dir, NULL, err, sizeof(err));
	printf("# full tmpfs: %s\n", err);
	ck_assert_int_eq(ret, -ENOSPC);
	ck_assert_ptr_nonnull(strstr(err, "memory"));
	/* nothing left behind: no directory, no temporary one */
	{
		char p[300];

		ck_assert_int_ne(access(dir, F_OK), 0);
		snprintf(p, sizeof(p), "%s.tmp-%d", dir, (int)getpid());
		ck_assert_int_ne(access(p, F_OK), 0);
	}
	ck_assert_int_eq(cvmm_vmm_resume(vmm), 0);
	ck_assert_int_eq(sg_finish_guest(vmm), 0x5a);
	cvmm_vmm_destroy(vmm);
	umount(mnt);
	rmdir(mnt);
}
END_TEST

static void die_midway(void *opaque, const char *what, uint64_t done, uint64_t total)
{
	(void)opaque, (void)what;
	if (done > total / 4)
		_exit(9); /* as a SIGKILL would: no clean-up runs */
}

START_TEST(killed_midway)
{
	char dir[200];
	pid_t pid;

	snap_path(dir, sizeof(dir), "killed");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct cvmm_vmm_snapshot_opts so = { .sz = sizeof(so), .progress = die_midway };
		struct cvmm_vmm *vmm;
		char err[400];

		sg_in_child = true;
		vmm = sg_make_vm(&(struct sg_vm_opts){ .mem = MEM, .load = true });
		SG_CHECK(cvmm_vmm_start(vmm) == 0);
		sg_nap(50);
		SG_CHECK(cvmm_vmm_pause(vmm) == 0);
		cvmm_vmm_snapshot(vmm, dir, &so, err, sizeof(err));
		_exit(1);
	}
	ck_assert_int_eq(wait_code(pid), 9);
	ck_assert_msg(access(dir, F_OK) != 0, "a directory named %s exists", dir);
	{
		char tmp[300];
		struct cvmm_vmm_snapshot *s;
		char err[400];

		snprintf(tmp, sizeof(tmp), "%s.tmp-%d", dir, (int)pid);
		/* the leftover is not a snapshot either */
		ck_assert_int_ne(cvmm_vmm_snapshot_open(tmp, &s, err, sizeof(err)), 0);
		printf("# leftover of a killed snapshot: %s\n", err);
		rm_snapshot(tmp);
	}
}
END_TEST

/* Diff snapshots: with dirty tracking on, a full snapshot, the guest runs
 * on, a diff holds only what it wrote since; the diff alone is refused,
 * merged onto (a copy of) its base it restores to where the diff was. */
START_TEST(diff_snapshot_merged)
{
	struct cvmm_vmm *vmm = paused_guest();
	struct cvmm_vmm_snapshot_opts so = { .sz = sizeof(so), .config = cfg_json,
					     .config_len = sizeof(cfg_json) - 1 };
	struct cvmm_vmm_snapshot *s;
	char full[200], diff[200], p[300], err[400];
	struct stat st_full, st_diff;

	snap_path(full, sizeof(full), "full");
	snap_path(diff, sizeof(diff), "diff");
	so.diff = true;
	ck_assert_int_eq(cvmm_vmm_snapshot(vmm, diff, &so, err, sizeof(err)), -EINVAL);
	printf("# diff without tracking: %s\n", err);
	so.diff = false;
	ck_assert_msg(cvmm_vmm_snapshot_track(vmm, true, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_vmm_snapshot_track(vmm, true, err, sizeof(err)), -EALREADY);
	ck_assert_msg(cvmm_vmm_snapshot(vmm, full, &so, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_vmm_resume(vmm), 0);
	sg_nap(100);
	ck_assert_int_eq(cvmm_vmm_pause(vmm), 0);
	so.diff = true;
	ck_assert_msg(cvmm_vmm_snapshot(vmm, diff, &so, err, sizeof(err)) == 0, "%s", err);
	cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_REQUEST, 0);
	cvmm_vmm_run(vmm);
	cvmm_vmm_destroy(vmm);

	snprintf(p, sizeof(p), "%s/memory", full);
	ck_assert_int_eq(stat(p, &st_full), 0);
	snprintf(p, sizeof(p), "%s/memory", diff);
	ck_assert_int_eq(stat(p, &st_diff), 0);
	printf("# full: %lld bytes on disk, diff: %lld\n", (long long)st_full.st_blocks * 512,
	       (long long)st_diff.st_blocks * 512);
	/* Only what the guest wrote in between (its 64 KiB areas, stack and
	 * counters), not RAM: comparing with the full one depended on how far
	 * the guest had got before it (a loaded machine: not one round). */
	ck_assert_int_lt(st_diff.st_blocks * 512, 1 << 20);
	ck_assert_int_lt(st_diff.st_blocks * 512, MEM / 16);
	/* the diff alone is no snapshot */
	ck_assert_int_eq(cvmm_vmm_snapshot_open(diff, &s, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "diff"));
	printf("# diff opened alone: %s\n", err);
	/* restored as a chain without changing either directory */
	ck_assert_int_eq(cvmm_vmm_snapshot_open(full, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(cvmm_vmm_snapshot_add_diff(s, full, err, sizeof(err)), -EINVAL);
	printf("# a full snapshot as a diff on top: %s\n", err);
	cvmm_vmm_snapshot_close(s);
	ck_assert_int_eq(wait_code(spawn(full, "Copy", diff)), 0x5a);
	ck_assert_int_eq(wait_code(spawn(full, "OnDemand", diff)), 0x5a);
	ck_assert_int_eq(wait_code(spawn(full, "Shared", diff)), 0x5a);
	/* merging a full snapshot as if a diff is refused, the base untouched */
	ck_assert_int_eq(cvmm_vmm_snapshot_merge(full, full, err, sizeof(err)), -EINVAL);
	printf("# full as a diff: %s\n", err);
	ck_assert_msg(cvmm_vmm_snapshot_merge(full, diff, err, sizeof(err)) == 0, "%s", err);
	snprintf(p, sizeof(p), "%s/manifest.merging", full);
	ck_assert_int_ne(access(p, F_OK), 0);
	/* the merged base goes on from the diff's point and finds every byte */
	ck_assert_int_eq(wait_code(spawn(full, "Copy", NULL)), 0x5a);
	ck_assert_int_eq(wait_code(spawn(full, "OnDemand", NULL)), 0x5a);
	rm_snapshot(full);
	rm_snapshot(diff);
}
END_TEST

/* OnDemand's fault and fill threads call the program's hook; a refusal
 * keeps the guest from running (cvmm_vmm_start() fails). */
START_TEST(on_demand_thread_hooks)
{
	char dir[200];

	snap_path(dir, sizeof(dir), "hooks");
	make_snapshot(dir);
	ck_assert_int_eq(wait_code(spawn(dir, "OnDemand", "hooks")), 0x5a);
	ck_assert_int_eq(wait_code(spawn(dir, "OnDemand", "refuse")), 0x70);
	rm_snapshot(dir);
}
END_TEST

int main(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	Suite *s, *all[2];
	TCase *t;
	int ret;

	self[n > 0 ? n : 0] = 0;
	/* The restoring child makes no Check objects (LeakSanitizer would
	 * count them against its exit). */
	if (argc >= 4 && !strcmp(argv[1], "--restore")) {
		sg_in_child = true;
		return child_restore(argv[2], argv[3], argc > 4 ? argv[4] : NULL, MEM);
	}
	s = suite_create("vmm-snapshot");
	t = tcase_create("snapshot");
	all[0] = s;
	all[1] = NULL;
	cvmm_test_require_kvm();
	snprintf(base, sizeof(base), "/tmp/cvmm-snap-XXXXXX");
	if (!mkdtemp(base))
		return 99;
	tcase_set_timeout(t, 120);
	tcase_add_test(t, snapshot_is_sparse_and_vm_resumes);
	tcase_add_test(t, restore_each_mode_new_process);
	tcase_add_test(t, five_shared_clones);
	tcase_add_test(t, on_demand_memory_file_deleted);
	tcase_add_test(t, hostile_snapshots);
	tcase_add_test(t, full_filesystem);
	tcase_add_test(t, killed_midway);
	tcase_add_test(t, diff_snapshot_merged);
	tcase_add_test(t, on_demand_thread_hooks);
	suite_add_tcase(s, t);
	ret = cvmm_test_run(all);
	rmdir(base);
	return ret;
}
