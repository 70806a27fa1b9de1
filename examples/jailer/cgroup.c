/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm-jailer's cgroup v2 step: <cgroup2 mount>/<parent>/<id> with the
 * controllers its limits need enabled down the path, the limits written,
 * the VMM moved in before it execs (so the guest's memory is charged
 * there) and the cgroup removed once the VMM has exited.
 */
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jailer.h"

#define die cvmm_jailer_die

static const char name_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.";

/* The cgroup this process created and must remove; "" when none. */
static char owned[PATH_MAX];

void cvmm_jailer_cgroup_add(struct cvmm_jailer_cgroup *cg, const char *arg)
{
	const char *eq = strchr(arg, '='), *dot = strchr(arg, '.');
	size_t klen = eq ? (size_t)(eq - arg) : 0;

	if (cg->n == CVMM_JAILER_MAX_CGROUP)
		die("--cgroup: at most %d", CVMM_JAILER_MAX_CGROUP);
	/*
	 * The key becomes a file name in the cgroup directory: only
	 * CONTROLLER.FILE of plain characters, so nothing can reach outside.
	 */
	if (!eq || !dot || dot == arg || dot > eq || dot + 1 == eq || klen > 64 ||
	    strspn(arg, name_chars) < klen || arg[klen - 1] == '.' || !eq[1])
		die("--cgroup: '%s' is not CONTROLLER.FILE=VALUE (e.g. memory.max=256M)", arg);
	snprintf(cg->key[cg->n], sizeof(cg->key[0]), "%.*s", (int)klen, arg);
	if (strstr(cg->key[cg->n], ".."))
		die("--cgroup: '%s' is not CONTROLLER.FILE=VALUE (e.g. memory.max=256M)", arg);
	/* cgroup.procs, cgroup.subtree_control...: the jailer's own business. */
	if (!strncmp(arg, "cgroup.", 7))
		die("--cgroup: '%.*s' is a cgroup core file, which the jailer manages itself",
		    (int)klen, arg);
	cg->value[cg->n++] = eq + 1;
	cg->wanted = 1;
}

void cvmm_jailer_cgroup_parent(struct cvmm_jailer_cgroup *cg, const char *arg)
{
	size_t len = strlen(arg);
	int ok = len && len < 256;

	/* Relative, no empty, "." or ".." component: it must stay below the mount. */
	for (const char *c = arg; ok && *c; ) {
		size_t n = strspn(c, name_chars);

		if (!n || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			ok = 0;
		else if (c[n] == '/' && c[n + 1])
			c += n + 1;
		else if (c[n])
			ok = 0;
		else
			c += n;
	}
	if (!ok)
		die("--parent-cgroup: '%s' is not a relative path of names of [A-Za-z0-9_.-]", arg);
	cg->parent = arg;
	cg->wanted = 1;
}

/* The first cgroup2 mount; dies if there is none. */
static void find_mount(char *out, size_t size)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent *m;

	if (!f)
		die("--cgroup: cannot read /proc/self/mounts: %s", strerror(errno));
	while ((m = getmntent(f)) && strcmp(m->mnt_type, "cgroup2"))
		;
	if (m && snprintf(out, size, "%s", m->mnt_dir) >= (int)size)
		m = NULL;
	endmntent(f);
	if (!m)
		die("--cgroup: no cgroup v2 hierarchy is mounted (cgroup v1 is not supported)");
}

/* Read a small cgroup file into @buf (NUL-terminated); dies on failure. */
static void read_file(const char *dir, const char *file, char *buf, size_t size)
{
	char p[PATH_MAX];
	ssize_t n = -1;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, size - 1);
		close(fd);
	}
	if (n < 0)
		die("--cgroup: cannot read %s: %s", p, strerror(errno));
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* Is the word @w (length @len) in the space-separated list @list? */
static int has_word(const char *list, const char *w, size_t len)
{
	for (const char *s = list; *s; ) {
		size_t n = strcspn(s, " ");

		if (n == len && !strncmp(s, w, len))
			return 1;
		s += n;
		s += strspn(s, " ");
	}
	return 0;
}

/* Write @val to @dir/@file; 0 or -errno. */
static int write_file(const char *dir, const char *file, const char *val)
{
	char p[PATH_MAX];
	size_t len = strlen(val);
	int fd, err = 0;

	if (snprintf(p, sizeof(p), "%s/%s", dir, file) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != (ssize_t)len)
		err = errno ? -errno : -EIO;
	close(fd);
	return err;
}

/* Enable @ctrl (length @len) for the children of @dir unless it already is. */
static void enable(const char *dir, const char *ctrl, size_t len)
{
	char now[1024], cmd[80];
	int err;

	read_file(dir, "cgroup.subtree_control", now, sizeof(now));
	if (has_word(now, ctrl, len))
		return;
	snprintf(cmd, sizeof(cmd), "+%.*s", (int)len, ctrl);
	err = write_file(dir, "cgroup.subtree_control", cmd);
	if (err)
		die("--cgroup: cannot enable controller %.*s in %s/cgroup.subtree_control: %s",
		    (int)len, ctrl, dir, strerror(-err));
}

static void remove_at_exit(void)
{
	cvmm_jailer_cgroup_remove();
}

void cvmm_jailer_cgroup_create(struct cvmm_jailer_cgroup *cg, const char *id, const char *exec_name)
{
	char mnt[PATH_MAX], avail[1024], dir[PATH_MAX];
	char *slash;
	int err;

	if (!cg->wanted)
		return;
	find_mount(mnt, sizeof(mnt));
	read_file(mnt, "cgroup.controllers", avail, sizeof(avail));
	for (int i = 0; i < cg->n; i++) {
		size_t len = strcspn(cg->key[i], ".");

		if (!has_word(avail, cg->key[i], len))
			die("--cgroup: controller '%.*s' is not available in the cgroup v2 hierarchy at %s "
			    "(it offers: %s)", (int)len, cg->key[i], mnt, *avail ? avail : "none");
	}
	if (snprintf(cg->path, sizeof(cg->path), "%s/%s/%s", mnt, cg->parent ? cg->parent : exec_name,
		     id) >= (int)sizeof(cg->path))
		die("--cgroup: path too long");
	/* Create the parents, enabling the controllers top-down on the way. */
	snprintf(dir, sizeof(dir), "%s", mnt);
	for (const char *rest = cg->path + strlen(mnt) + 1; ; ) {
		for (int i = 0; i < cg->n; i++)
			enable(dir, cg->key[i], strcspn(cg->key[i], "."));
		slash = strchr(rest, '/');
		if (!slash)
			break;
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - cg->path), cg->path);
		if (mkdir(dir, 0755) && errno != EEXIST)
			die("--cgroup: cannot create %s: %s", dir, strerror(errno));
		rest = slash + 1;
	}
	if (mkdir(cg->path, 0755)) {
		if (errno == EEXIST)
			die("--cgroup: %s exists already (one cgroup per id)", cg->path);
		die("--cgroup: cannot create %s: %s", cg->path, strerror(errno));
	}
	snprintf(owned, sizeof(owned), "%s", cg->path);
	atexit(remove_at_exit);
	for (int i = 0; i < cg->n; i++) {
		err = write_file(cg->path, cg->key[i], cg->value[i]);
		if (err == -ENOENT)
			die("--cgroup: %s: no such file in the cgroup", cg->key[i]);
		if (err)
			die("--cgroup: %s: the kernel refuses '%s' (%s)", cg->key[i], cg->value[i],
			    strerror(-err));
	}
}

void cvmm_jailer_cgroup_disown(void)
{
	owned[0] = '\0';
}

void cvmm_jailer_cgroup_enter(const struct cvmm_jailer_cgroup *cg)
{
	int err;

	if (!cg->wanted)
		return;
	err = write_file(cg->path, "cgroup.procs", "0");
	if (err)
		die("--cgroup: cannot move the VMM into %s: %s", cg->path, strerror(-err));
}

int cvmm_jailer_cgroup_remove(void)
{
	/* A task that has just been reaped can keep the cgroup busy a moment. */
	struct timespec ms = { 0, 1000000 };
	int err = 0;

	if (!owned[0])
		return 0;
	for (int i = 0; i < 5000; i++) {
		err = rmdir(owned) ? -errno : 0;
		if (err != -EBUSY)
			break;
		nanosleep(&ms, NULL);
	}
	if (err && err != -ENOENT)
		fprintf(stderr, "cvmm-jailer: --cgroup: cannot remove %s: %s\n", owned, strerror(-err));
	owned[0] = '\0';
	return err == -ENOENT ? 0 : err;
}
