/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm-jailer: start a VMM confined the way Firecracker's jailer does it.
 * Builds <base>/<exec name>/<id>/root holding only the VMM binary, its
 * shared libraries, the files given with --file and the /dev/kvm and
 * /dev/net/tun nodes; then new mount, PID and IPC namespaces (and a network
 * namespace with --netns), pivot_root into the jail, rlimits, the given
 * uid/gid with no capabilities and no inherited fds, and exec. With
 * --cgroup or --parent-cgroup the VMM also runs in a cgroup v2 of its own
 * (cgroup.c). Every step fails closed with one line naming it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jailer.h"

#define die cvmm_jailer_die
#define MAX_FILES 16
#define MAX_LIMITS 8

struct jail {
	const char *id, *exec_file, *base, *netns;
	int mount_proc;     /* --mount-proc: the jail's own /proc (sanitizer builds need it) */
	long uid, gid;
	const char *files[MAX_FILES];
	int nfiles;
	int lim_res[MAX_LIMITS];
	rlim_t lim_val[MAX_LIMITS];
	int nlimits;
	struct cvmm_jailer_cgroup cgroup;
	char root[PATH_MAX];
	char **vmm_argv;
};

void cvmm_jailer_die(const char *fmt, ...)
{
	va_list ap;

	fputs("cvmm-jailer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static long parse_id(const char *flag, const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v > 0x7fffffff)
		die("%s: '%s' is not a number from 0 to 2147483647", flag, s);
	return v;
}

static void parse_limit(struct jail *j, const char *s)
{
	static const struct { const char *name; int res; } names[] = {
		{ "no-file", RLIMIT_NOFILE }, { "fsize", RLIMIT_FSIZE }, { "as", RLIMIT_AS },
	};
	const char *eq = strchr(s, '=');
	char *end;
	unsigned long long v;

	if (j->nlimits == MAX_LIMITS)
		die("--resource-limit: at most %d", MAX_LIMITS);
	for (size_t i = 0; eq && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strncmp(s, names[i].name, (size_t)(eq - s)) || names[i].name[eq - s])
			continue;
		errno = 0;
		v = strtoull(eq + 1, &end, 10);
		if (!eq[1] || *end || errno || eq[1] == '-')
			die("--resource-limit: '%s' does not have a number after '='", s);
		j->lim_res[j->nlimits] = names[i].res;
		j->lim_val[j->nlimits++] = (rlim_t)v;
		return;
	}
	die("--resource-limit: '%s' is not no-file=N, fsize=N or as=N", s);
}

static void parse(struct jail *j, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "exec-file", required_argument, NULL, 'e' },
		{ "uid", required_argument, NULL, 'u' },
		{ "gid", required_argument, NULL, 'g' },
		{ "chroot-base-dir", required_argument, NULL, 'c' },
		{ "netns", required_argument, NULL, 'n' },
		{ "resource-limit", required_argument, NULL, 'r' },
		{ "file", required_argument, NULL, 'f' },
		{ "mount-proc", no_argument, NULL, 'p' },
		{ "cgroup", required_argument, NULL, 'C' },
		{ "parent-cgroup", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct stat st;
	int o;

	*j = (struct jail){ .uid = -1, .gid = -1, .base = "/srv/jailer" };
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (o) {
		case 'i': j->id = optarg; break;
		case 'e': j->exec_file = optarg; break;
		case 'u': j->uid = parse_id("--uid", optarg); break;
		case 'g': j->gid = parse_id("--gid", optarg); break;
		case 'c': j->base = optarg; break;
		case 'n': j->netns = optarg; break;
		case 'r': parse_limit(j, optarg); break;
		case 'p': j->mount_proc = 1; break;
		case 'C': cvmm_jailer_cgroup_add(&j->cgroup, optarg); break;
		case 'P': cvmm_jailer_cgroup_parent(&j->cgroup, optarg); break;
		case 'f':
			if (j->nfiles == MAX_FILES)
				die("--file: at most %d", MAX_FILES);
			j->files[j->nfiles++] = optarg;
			break;
		default:
			if (optopt)
				die("%s: needs a value", argv[optind - 1]);
			die("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!j->id)
		die("--id: missing");
	if (!*j->id || strlen(j->id) > 64 || strspn(j->id, "abcdefghijklmnopqrstuvwxyz"
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != strlen(j->id))
		die("--id: '%s' is not 1-64 letters, digits or '-'", j->id);
	if (!j->exec_file)
		die("--exec-file: missing");
	if (stat(j->exec_file, &st) || !S_ISREG(st.st_mode) || access(j->exec_file, X_OK))
		die("--exec-file: '%s' is not an executable file", j->exec_file);
	if (j->uid < 0)
		die("--uid: missing");
	if (j->gid < 0)
		die("--gid: missing");
	if (j->base[0] != '/')
		die("--chroot-base-dir: '%s' is not an absolute path", j->base);
	if (optind < argc && strcmp(argv[optind - 1], "--"))
		die("unexpected argument '%s' (the VMM's arguments go after --)", argv[optind]);
	j->vmm_argv = argv + optind;
}

static void mkdirs(const char *path)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
		die("path too long: %s", path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) && errno != EEXIST)
			die("mkdir %s: %s", p, strerror(errno));
		*s = '/';
	}
	if (mkdir(p, 0755) && errno != EEXIST)
		die("mkdir %s: %s", p, strerror(errno));
}

/*
 * Put @src at <root>/@dst, creating parent directories: a copy (same mode)
 * owned by the jail's uid/gid, or with @may_link a hard link when @src is on
 * the jail's filesystem and already owned by that uid/gid (a big disk image
 * is then not duplicated, and the guest writes to it).
 */
static void copy_in(const struct jail *j, const char *src, const char *dst, int may_link)
{
	char to[PATH_MAX], buf[65536];
	struct stat st;
	int in, out;
	ssize_t n;

	if (snprintf(to, sizeof(to), "%s/%s", j->root, dst[0] == '/' ? dst + 1 : dst) >= (int)sizeof(to))
		die("path too long: %s", dst);
	*strrchr(to, '/') = '\0';
	mkdirs(to);
	to[strlen(to)] = '/';
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) || !S_ISREG(st.st_mode))
		die("--file: cannot read '%s': %s", src, in < 0 ? strerror(errno) : "not a regular file");
	/*
	 * Only a file the jail's user owns already: a link cannot be chowned
	 * without changing the host's file, and a root-owned file (libc, say)
	 * linked into a jail whose uid is 0 would be writable from there.
	 * Linking the open file rather than the path follows the same symlinks
	 * the copy would. Any failure (EXDEV: another filesystem) means a copy.
	 */
	if (may_link && st.st_uid == (uid_t)j->uid && st.st_gid == (gid_t)j->gid &&
	    !linkat(in, "", AT_FDCWD, to, AT_EMPTY_PATH)) {
		close(in);
		return;
	}
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0777);
	if (out < 0)
		die("cannot create %s: %s", to, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			die("writing %s: %s", to, strerror(errno));
	if (n < 0 || close(out))
		die("copying %s: %s", src, strerror(errno));
	close(in);
	if (chown(to, (uid_t)j->uid, (gid_t)j->gid))
		die("chown %s: %s", to, strerror(errno));
}

/* The VMM's shared libraries, as ldd lists them (absolute paths only). */
static void copy_libraries(const struct jail *j)
{
	char cmd[PATH_MAX + 16], line[PATH_MAX + 64];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ldd '%s' 2>/dev/null", j->exec_file);
	p = strchr(j->exec_file, '\'') ? NULL : popen(cmd, "r");
	if (!p)
		die("--exec-file: cannot list the shared libraries of '%s'", j->exec_file);
	while (fgets(line, sizeof(line), p)) {
		char *path = strchr(line, '/'), *end;

		if (!path)
			continue;
		end = path + strcspn(path, " \n");
		*end = '\0';
		copy_in(j, path, path, 0);
	}
	pclose(p);
}

static void make_node(const struct jail *j, const char *path, unsigned int maj, unsigned int min)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof(p), "%s%s", j->root, path) >= (int)sizeof(p))
		die("--chroot-base-dir: path too long");
	if (mknod(p, S_IFCHR | 0600, makedev(maj, min)) || chown(p, (uid_t)j->uid, (gid_t)j->gid))
		die("mknod %s: %s", path, strerror(errno));
}

static const char *exec_name(const struct jail *j)
{
	return strrchr(j->exec_file, '/') ? strrchr(j->exec_file, '/') + 1 : j->exec_file;
}

/* The jail's path; dies if it exists (checked before the cgroup is made). */
static void jail_path(struct jail *j)
{
	struct stat st;

	if (snprintf(j->root, sizeof(j->root), "%s/%s/%s/root", j->base, exec_name(j), j->id) >=
	    (int)sizeof(j->root))
		die("--chroot-base-dir: path too long");
	if (!lstat(j->root, &st))
		die("--id: jail %s exists already (one jail per id)", j->root);
}

static void build_root(struct jail *j)
{
	char dev[PATH_MAX];
	const char *name = exec_name(j);

	mkdirs(j->root);
	copy_in(j, j->exec_file, name, 0);
	copy_libraries(j);
	for (int i = 0; i < j->nfiles; i++) {
		const char *b = strrchr(j->files[i], '/');

		copy_in(j, j->files[i], b ? b + 1 : j->files[i], 1);
	}
	if (snprintf(dev, sizeof(dev), "%s/dev/net", j->root) >= (int)sizeof(dev))
		die("--chroot-base-dir: path too long");
	mkdirs(dev);
	make_node(j, "/dev/kvm", 10, 232);
	make_node(j, "/dev/net/tun", 10, 200);
}

static void enter_root(const struct jail *j)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		die("making / private: %s", strerror(errno));
	if (mount(j->root, j->root, NULL, MS_BIND | MS_REC, NULL))
		die("bind-mounting the jail: %s", strerror(errno));
	if (chdir(j->root) || mkdir("old", 0700) ||
	    syscall(SYS_pivot_root, ".", "old") || chdir("/"))
		die("pivot_root into %s: %s", j->root, strerror(errno));
	if (umount2("/old", MNT_DETACH) || rmdir("/old"))
		die("detaching the old root: %s", strerror(errno));
	/* Only the jail's PID namespace shows there. */
	if (j->mount_proc && (mkdir("/proc", 0555) ||
			      mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)))
		die("--mount-proc: %s", strerror(errno));
}

static void drop_privileges(const struct jail *j)
{
	for (int i = 0; i < j->nlimits; i++) {
		struct rlimit r = { j->lim_val[i], j->lim_val[i] };

		if (setrlimit(j->lim_res[i], &r))
			die("--resource-limit: %s", strerror(errno));
	}
	/* Inherited fds other than stdio must not leak host files into the jail. */
	if (syscall(SYS_close_range, 3U, ~0U, 0U))
		die("closing inherited fds: %s", strerror(errno));
	for (int c = 0; c <= 63; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && errno != EINVAL)
			die("dropping capability %d: %s", c, strerror(errno));
	if (setgroups(0, NULL) || setresgid((gid_t)j->gid, (gid_t)j->gid, (gid_t)j->gid) ||
	    setresuid((uid_t)j->uid, (uid_t)j->uid, (uid_t)j->uid))
		die("switching to uid %ld gid %ld: %s", j->uid, j->gid, strerror(errno));
	/* A setuid to non-zero clears the permitted and effective sets; check. */
	if (j->uid != 0 && !setuid(0))
		die("capabilities were not dropped");
}

/* The VMM's status as ours: its exit code, or 128 + the signal. */
static int wait_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
	struct jail j;
	const char *name;
	char exe[PATH_MAX];
	pid_t pid;
	int ns, rc;

	parse(&j, argc, argv);
	if (geteuid())
		die("must run as root (it creates namespaces, device nodes and a jail)");
	jail_path(&j);
	/* Before the jail: a refused limit then leaves nothing behind. */
	cvmm_jailer_cgroup_create(&j.cgroup, j.id, exec_name(&j));
	build_root(&j);
	if (j.netns) {
		ns = open(j.netns, O_RDONLY | O_CLOEXEC);
		if (ns < 0 || setns(ns, CLONE_NEWNET))
			die("--netns: cannot join '%s': %s", j.netns, strerror(errno));
		close(ns);
	}
	/*
	 * The jailer itself stays outside the new PID namespace: a middle
	 * process unshares and forks the VMM as PID 1 there, then passes its
	 * status up with _exit (no atexit work in a process whose namespace
	 * may already be gone).
	 */
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid) {
		rc = wait_status(pid);
		cvmm_jailer_cgroup_remove();
		return rc;
	}
	cvmm_jailer_cgroup_disown();
	if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC))
		die("new mount, PID and IPC namespaces: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid)
		_exit(wait_status(pid));
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* Before exec, so all the VMM allocates (guest RAM) is charged there. */
	cvmm_jailer_cgroup_enter(&j.cgroup);
	enter_root(&j);
	drop_privileges(&j);
	name = exec_name(&j);
	snprintf(exe, sizeof(exe), "/%s", name);
	j.vmm_argv[-1] = exe;
	execv(exe, j.vmm_argv - 1);
	die("exec %s: %s", exe, strerror(errno));
}
