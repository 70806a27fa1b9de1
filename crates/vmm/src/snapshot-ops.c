/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshots as a program and the API take them: --snapshot says where a
 * snapshot goes (the VM core's cvmm_vmm_snapshot(), with the program's
 * arguments stored as its configuration); --restore re-creates the VM from
 * a snapshot's stored arguments with the command line's overrides and
 * restores it instead of booting; vm.snapshot and vm.restore do the same
 * from a request body.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include <cvmm/vmm/snap.h>
#include <cvmm/vmm/vm.h>

#include "vm-internal.h"

#define fail cvmm_vm_errf

static bool in_list(const char *const *l, const char *name)
{
	for (; l && *l; l++)
		if (!strcmp(name, *l))
			return true;
	return false;
}

struct arg {
	char *name;  /* without "--" */
	char *value; /* NULL for a flag without one */
};

struct args {
	struct arg *a;
	size_t n, cap;
};

static int args_push(struct args *l, const char *name, size_t nlen, const char *value)
{
	struct arg *a;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;

		a = realloc(l->a, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		l->a = a;
		l->cap = cap;
	}
	a = &l->a[l->n];
	a->name = strndup(name, nlen);
	a->value = value ? strdup(value) : NULL;
	if (!a->name || (value && !a->value))
		return -ENOMEM;
	l->n++;
	return 0;
}

static void args_free(struct args *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->a[i].name);
		free(l->a[i].value);
	}
	free(l->a);
	*l = (struct args){ 0 };
}

/* Split "--name value" / "--name=value" pairs; anything else is kept as a
 * nameless value for the parser to refuse. */
static int args_split(const struct cvmm_vm_snap_spec *spec, struct args *l, int argc,
		      char *const *argv)
{
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i], *eq;
		int ret;

		if (strncmp(s, "--", 2) || !s[2]) {
			ret = args_push(l, "", 0, s);
		} else if ((eq = strchr(s + 2, '='))) {
			ret = args_push(l, s + 2, (size_t)(eq - s - 2), eq + 1);
		} else if ((spec && in_list(spec->no_value, s + 2)) || i + 1 >= argc) {
			ret = args_push(l, s + 2, strlen(s + 2), NULL);
		} else {
			ret = args_push(l, s + 2, strlen(s + 2), argv[i + 1]);
			i++;
		}
		if (ret)
			return ret;
	}
	return 0;
}

/* The end of the "k=v" item at @s: the next comma outside brackets, or NULL. */
static const char *item_end(const char *s)
{
	int depth = 0;

	for (; *s; s++) {
		if (*s == '[')
			depth++;
		else if (*s == ']' && depth)
			depth--;
		else if (*s == ',' && !depth)
			return s;
	}
	return NULL;
}

/* The value of option @key in "k=v,k=v" @s, copied to @out; false when absent. */
static bool opt_get(const char *s, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);

	while (s && *s) {
		const char *end = item_end(s);
		size_t len = end ? (size_t)(end - s) : strlen(s);

		if (len > klen && !strncmp(s, key, klen) && s[klen] == '=') {
			snprintf(out, outlen, "%.*s", (int)(len - klen - 1), s + klen + 1);
			return true;
		}
		s = end ? end + 1 : NULL;
	}
	return false;
}

/* Only the keys we know: a typo must not be ignored. */
static int opt_check(const char *flag, const char *s, const char *const *keys, char *err,
		     size_t errlen)
{
	while (s && *s) {
		const char *end = item_end(s), *eq = strchr(s, '=');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		bool known = false;

		if (!eq || (end && eq > end))
			return fail(err, errlen, -EINVAL, "%s: '%.*s' is not key=value", flag, (int)len, s);
		for (size_t i = 0; keys[i]; i++)
			if ((size_t)(eq - s) == strlen(keys[i]) && !strncmp(s, keys[i], (size_t)(eq - s)))
				known = true;
		if (!known)
			return fail(err, errlen, -EINVAL, "%s: unknown option '%.*s'", flag,
				    (int)(eq - s), s);
		s = end ? end + 1 : NULL;
	}
	return 0;
}

static int on_off(const char *flag, const char *key, const char *v, bool *out, char *err,
		  size_t errlen)
{
	if (!strcmp(v, "on") || !strcmp(v, "true"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "false"))
		*out = false;
	else
		return fail(err, errlen, -EINVAL, "%s: %s='%s' is not on or off", flag, key, v);
	return 0;
}

static int url_path(const char *flag, const char *key, const char *url, const char **out,
		    char *err, size_t errlen)
{
	if (strncmp(url, "file://", 7) || url[7] != '/' || !url[8])
		return fail(err, errlen, -EINVAL, "%s: %s='%s' is not file:///DIR", flag, key, url);
	*out = url + 7;
	return 0;
}

static int parse_snapshot(struct cvmm_vm_snap *s, const char *v, char *err, size_t errlen)
{
	static const char *const keys[] = { "destination_url", "snapshot_type", "then", NULL };
	static char url[4096];
	char then[16], type[16];
	int ret;

	if ((ret = opt_check("--snapshot", v, keys, err, errlen)))
		return ret;
	if (!opt_get(v, "destination_url", url, sizeof(url)))
		return fail(err, errlen, -EINVAL, "--snapshot: destination_url=file:///DIR missing");
	if ((ret = url_path("--snapshot", "destination_url", url, &s->dest, err, errlen)))
		return ret;
	if (opt_get(v, "snapshot_type", type, sizeof(type))) {
		if (strcmp(type, "Full") && strcmp(type, "Diff"))
			return fail(err, errlen, -EINVAL,
				    "--snapshot: snapshot_type='%s' is not Full or Diff", type);
		s->chain = !strcmp(type, "Diff");
	}
	s->then = CVMM_VM_SNAP_THEN_PAUSE;
	if (opt_get(v, "then", then, sizeof(then))) {
		if (!strcmp(then, "resume"))
			s->then = CVMM_VM_SNAP_THEN_RESUME;
		else if (!strcmp(then, "exit"))
			s->then = CVMM_VM_SNAP_THEN_EXIT;
		else if (strcmp(then, "pause"))
			return fail(err, errlen, -EINVAL,
				    "--snapshot: then='%s' is not pause, resume or exit", then);
	}
	return 0;
}

static int parse_restore(struct cvmm_vm_snap *s, const char *v, char *err, size_t errlen)
{
	static const char *const keys[] = { "source_url", "memory_restore_mode", "resume",
					    "prefault", "clock", "diff_urls", NULL };
	static char url[4096];
	char val[32];
	int ret;

	s->ro = (struct cvmm_vmm_restore_opts){ .sz = sizeof(s->ro) };
	if ((ret = opt_check("--restore", v, keys, err, errlen)))
		return ret;
	if (!opt_get(v, "source_url", url, sizeof(url)))
		return fail(err, errlen, -EINVAL, "--restore: source_url=file:///DIR missing");
	if ((ret = url_path("--restore", "source_url", url, &s->source, err, errlen)))
		return ret;
	if (opt_get(v, "memory_restore_mode", val, sizeof(val)) &&
	    cvmm_vmm_mem_restore_parse(val, &s->ro.mode))
		return fail(err, errlen, -EINVAL,
			    "--restore: memory_restore_mode='%s' is not Copy, OnDemand or Shared", val);
	if (opt_get(v, "resume", val, sizeof(val)) &&
	    (ret = on_off("--restore", "resume", val, &s->resume, err, errlen)))
		return ret;
	if (opt_get(v, "prefault", val, sizeof(val)) &&
	    (ret = on_off("--restore", "prefault", val, &s->ro.prefault, err, errlen)))
		return ret;
	if (opt_get(v, "clock", val, sizeof(val))) {
		if (!strcmp(val, "realtime"))
			s->ro.flags |= CVMM_VMM_RESTORE_CLOCK_REALTIME;
		else if (strcmp(val, "continue"))
			return fail(err, errlen, -EINVAL,
				    "--restore: clock='%s' is not continue or realtime", val);
	}
	return 0;
}

/* --restore's diff_urls=[file:///D1,...] (or one URL): each diff onto the
 * opened snapshot, oldest first. */
static int add_diffs(struct cvmm_vm_snap *s, const char *v, char *err, size_t errlen)
{
	static char list[8192];
	char *p, *tok, *save = NULL;
	size_t len;

	if (!opt_get(v, "diff_urls", list, sizeof(list)))
		return 0;
	p = list;
	len = strlen(p);
	if (p[0] == '[') {
		if (len < 2 || p[len - 1] != ']')
			return fail(err, errlen, -EINVAL,
				    "--restore: diff_urls='%s' is not [file:///D1,...]", list);
		p[len - 1] = '\0';
		p++;
	}
	for (tok = strtok_r(p, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const char *dir;
		char why[400];
		int ret;

		if ((ret = url_path("--restore", "diff_urls", tok, &dir, err, errlen)))
			return ret;
		if ((ret = cvmm_vmm_snapshot_add_diff(s->snap, dir, why, sizeof(why))))
			return fail(err, errlen, ret, "--restore: diff_urls: %s", why);
	}
	return 0;
}

/* The arguments as a JSON array (what "<args_key>"."args" stores). */
static char *args_json(const struct args *l)
{
	json_object *arr = json_object_new_array();
	char *out;

	for (size_t i = 0; i < l->n; i++) {
		char *flag;

		if (!l->a[i].name[0]) {
			json_object_array_add(arr, json_object_new_string(l->a[i].value));
			continue;
		}
		if (asprintf(&flag, "--%s", l->a[i].name) < 0)
			continue;
		json_object_array_add(arr, json_object_new_string(flag));
		free(flag);
		if (l->a[i].value)
			json_object_array_add(arr, json_object_new_string(l->a[i].value));
	}
	out = strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
	json_object_put(arr);
	return out;
}

char *cvmm_vm_snap_config(const struct cvmm_vm_snap *s, const struct cvmm_vm_config *cfg,
			  const char *args)
{
	json_object *root = cvmm_vm_config_to_json(cfg);
	char *out;

	if (!root)
		return NULL;
	if (args && s->spec) {
		json_object *o = json_object_new_object(), *arr = json_tokener_parse(args);

		json_object_object_add(o, "version", json_object_new_int(1));
		json_object_object_add(o, "args", arr);
		json_object_object_add(root, s->spec->args_key, o);
	}
	out = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
	json_object_put(root);
	return out;
}

/* The stored arguments of the snapshot's configuration into @l. */
static int stored_args(struct cvmm_vm_snap *s, struct args *l, char *err, size_t errlen)
{
	size_t len;
	const char *cfg = cvmm_vmm_snapshot_config(s->snap, &len);
	json_tokener *tok = json_tokener_new_ex(16);
	json_object *root = NULL, *o, *arr, *v;
	int ret = -EINVAL;

	if (tok)
		root = json_tokener_parse_ex(tok, cfg, (int)len);
	if (!root) {
		fail(err, errlen, -EINVAL, "'%s/config.json' is not JSON", s->source);
		goto out;
	}
	if (!s->spec || !json_object_object_get_ex(root, s->spec->args_key, &o) ||
	    !json_object_object_get_ex(o, "args", &arr) || !json_object_is_type(arr, json_type_array)) {
		fail(err, errlen, -EINVAL,
		     "'%s/config.json' holds no %s arguments (\"%s\".\"args\"): a snapshot made "
		     "through the API is restored with vm.restore",
		     s->source, s->spec ? s->spec->args_key : "program", s->spec ? s->spec->args_key : "");
		goto out;
	}
	{
		size_t n = json_object_array_length(arr);
		char **argv = calloc(n + 1, sizeof(*argv));

		if (!argv) {
			ret = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			v = json_object_array_get_idx(arr, i);
			if (!json_object_is_type(v, json_type_string)) {
				free(argv);
				fail(err, errlen, -EINVAL,
				     "--restore: '%s/config.json': args[%zu] is not a string", s->source, i);
				goto out;
			}
			argv[i] = (char *)json_object_get_string(v);
		}
		ret = args_split(s->spec, l, (int)n, argv);
		free(argv);
	}
out:
	json_object_put(root);
	if (tok)
		json_tokener_free(tok);
	return ret;
}

/* Apply the command line's @over to the stored @l into @out. */
static int merge(const struct cvmm_vm_snap_spec *spec, const struct args *l, const struct args *over, struct args *out, char *err,
		 size_t errlen)
{
	bool *used = calloc(over->n + 1, sizeof(*used));
	int ret = 0;

	if (!used)
		return -ENOMEM;
	for (size_t i = 0; i < l->n && !ret; i++) {
		const struct arg *a = &l->a[i];
		const struct arg *rep = NULL;

		if (a->name[0] && in_list(spec->positional, a->name)) {
			/* the k-th stored --disk takes the k-th given --disk */
			size_t k = 0, j;

			for (size_t p = 0; p < i; p++)
				k += !strcmp(l->a[p].name, a->name);
			for (j = 0; j < over->n; j++)
				if (!strcmp(over->a[j].name, a->name) && k-- == 0)
					break;
			if (j < over->n) {
				rep = &over->a[j];
				used[j] = true;
			}
		} else if (a->name[0]) {
			/* a flag given again replaces the stored one (appended below) */
			bool given = false;

			for (size_t j = 0; j < over->n; j++)
				if (!strcmp(over->a[j].name, a->name)) {
					given = true;
					if (!a->value)
						used[j] = true;
				}
			if (given && a->value)
				continue;
		}
		if (rep)
			ret = args_push(out, rep->name, strlen(rep->name), rep->value);
		else
			ret = args_push(out, a->name, strlen(a->name), a->value);
	}
	for (size_t j = 0; j < over->n && !ret; j++) {
		if (used[j])
			continue;
		if (in_list(spec->positional, over->a[j].name)) {
			ret = fail(err, errlen, -EINVAL,
				   "--restore: --%s '%s' replaces no device of the snapshot (it has "
				   "fewer --%s)",
				   over->a[j].name, over->a[j].value ? over->a[j].value : "",
				   over->a[j].name);
			break;
		}
		ret = args_push(out, over->a[j].name, strlen(over->a[j].name), over->a[j].value);
	}
	free(used);
	return ret;
}

static int build_argv(struct cvmm_vm_snap *s, const char *argv0, const struct args *l)
{
	s->argv = calloc(2 * l->n + 2, sizeof(char *));
	if (!s->argv)
		return -ENOMEM;
	s->argc = 0;
	s->argv[s->argc++] = strdup(argv0);
	for (size_t i = 0; i < l->n; i++) {
		if (l->a[i].name[0]) {
			if (asprintf(&s->argv[s->argc++], "--%s", l->a[i].name) < 0)
				return -ENOMEM;
		}
		if (l->a[i].value)
			s->argv[s->argc++] = strdup(l->a[i].value);
	}
	return 0;
}

int cvmm_vm_snap_args(struct cvmm_vm_snap *s, const struct cvmm_vm_snap_spec *spec, int argc,
		      char **argv, char *err, size_t errlen)
{
	struct args all = { 0 }, rest = { 0 }, stored = { 0 }, merged = { 0 };
	const char *snap_v = NULL, *restore_v = NULL;
	int ret;

	*s = (struct cvmm_vm_snap){ .spec = spec, .started = true, .evfd = -1 };
	if ((ret = args_split(spec, &all, argc - 1, argv + 1)))
		goto out;
	for (size_t i = 0; i < all.n && !ret; i++) {
		const struct arg *a = &all.a[i];

		if (!strcmp(a->name, "snapshot") || !strcmp(a->name, "restore")) {
			if (!a->value) {
				ret = fail(err, errlen, -EINVAL, "--%s: needs a value", a->name);
				break;
			}
			if (!strcmp(a->name, "snapshot"))
				snap_v = a->value;
			else
				restore_v = a->value;
			continue;
		}
		ret = args_push(&rest, a->name, strlen(a->name), a->value);
	}
	if (ret)
		goto out;
	/* the option strings must outlive @all: @s owns the copies */
	if (snap_v && !(snap_v = s->opt_copy[0] = strdup(snap_v)))
		ret = -ENOMEM;
	if (restore_v && !(restore_v = s->opt_copy[1] = strdup(restore_v)))
		ret = -ENOMEM;
	if (!ret && snap_v)
		ret = parse_snapshot(s, snap_v, err, errlen);
	if (!ret && restore_v)
		ret = parse_restore(s, restore_v, err, errlen);
	if (ret)
		goto out;
	if (s->source) {
		ret = cvmm_vmm_snapshot_open(s->source, &s->snap, err, errlen);
		if (ret || (ret = add_diffs(s, restore_v, err, errlen)))
			goto out;
		if ((ret = stored_args(s, &stored, err, errlen)) ||
		    (ret = merge(spec, &stored, &rest, &merged, err, errlen)))
			goto out;
		s->started = s->resume;
		ret = build_argv(s, argv[0], &merged);
		/* a snapshot of this clone stores what it runs with */
		s->config = args_json(&merged);
	} else {
		ret = build_argv(s, argv[0], &rest);
		s->config = args_json(&rest);
	}
	if (!ret && !s->config)
		ret = -ENOMEM;
out:
	args_free(&all);
	args_free(&rest);
	args_free(&stored);
	args_free(&merged);
	if (ret == -ENOMEM && !err[0])
		fail(err, errlen, ret, "out of memory");
	return ret;
}

void cvmm_vm_snap_fini(struct cvmm_vm_snap *s)
{
	for (int i = 0; s->argv && i < s->argc; i++)
		free(s->argv[i]);
	free(s->argv);
	free(s->config);
	free(s->source_copy);
	free(s->ovr_serial);
	s->ovr_serial = NULL;
	free(s->opt_copy[0]);
	free(s->opt_copy[1]);
	s->opt_copy[0] = s->opt_copy[1] = NULL;
	cvmm_vmm_snapshot_close(s->snap);
	s->argv = NULL;
	s->argc = 0;
	s->config = NULL;
	s->source_copy = NULL;
	s->snap = NULL;
}

/* Progress of a snapshot or restore: a debug log line, and on the event
 * monitor one line per tenth done ({"what", "bytes_done", "bytes_total"}). */
static void progress(void *opaque, const char *what, uint64_t done, uint64_t total)
{
	struct cvmm_vm_snap *s = opaque;
	char d[24], t[24];
	const char *kv[] = { "what", what, "bytes_done", d, "bytes_total", t, NULL };
	int tenth;

	CVMM_LOG(CVMM_LOG_DEBUG, "microvm", "%s: %llu of %llu bytes", what,
		 (unsigned long long)done, (unsigned long long)total);
	if (s && s->live) {
		__atomic_store_n(&s->live->stream, strcmp(what, "memory") != 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->live->total, total, __ATOMIC_RELAXED);
		__atomic_store_n(&s->live->done, done, __ATOMIC_RELEASE);
	}
	if (!s || s->evfd < 0 || !total)
		return;
	tenth = (int)(done * 10 / total);
	if (tenth == s->prog_last)
		return;
	s->prog_last = tenth;
	snprintf(d, sizeof(d), "%llu", (unsigned long long)done);
	snprintf(t, sizeof(t), "%llu", (unsigned long long)total);
	cvmm_vm_event_monitor_write_props(s->evfd, s->t0_ns, "vm", s->prog_event, kv);
}

int cvmm_vm_snap_restore(struct cvmm_vm_snap *s, struct cvmm_vmm *vmm, char *err, size_t errlen)
{
	uint64_t t0 = cvmm_now_ns();
	int ret;

	s->ro.progress = progress;
	s->ro.opaque = s;
	s->prog_event = "restore-progress";
	s->prog_last = -1;
	ret = cvmm_vmm_snapshot_restore(vmm, s->snap, &s->ro, err, errlen);
	if (!ret)
		CVMM_LOG(CVMM_LOG_INFO, "microvm", "restored '%s' in %.3f ms", s->source,
			 (cvmm_now_ns() - t0) / 1e6);
	/* The VM keeps its own reference to the memory file. */
	cvmm_vmm_snapshot_close(s->snap);
	s->snap = NULL;
	return ret;
}

int cvmm_vm_snap_write(struct cvmm_vm_snap *s, struct cvmm_vmm *vmm,
		       const struct cvmm_vm_config *cfg, const char *args, const char *dir,
		       char *err, size_t errlen)
{
	struct cvmm_vmm_snapshot_opts so = { .sz = sizeof(so), .progress = progress, .opaque = s,
					     .diff = s->diff };
	char *config = cvmm_vm_snap_config(s, cfg, args);
	int ret;

	if (!config)
		return fail(err, errlen, -ENOMEM, "snapshot: out of memory");
	s->prog_event = "snapshot-progress";
	s->prog_last = -1;
	so.config = config;
	so.config_len = strlen(config);
	ret = cvmm_vmm_snapshot(vmm, dir, &so, err, errlen);
	free(config);
	return ret;
}

int cvmm_vm_snap_take(struct cvmm_vm_snap *s, struct cvmm_vmm *vmm,
		      const struct cvmm_vm_config *cfg, char *msg, size_t msglen)
{
	uint64_t t0 = cvmm_now_ns();
	char err[512] = "", dir[4200];
	int ret;

	if (cvmm_vmm_state(vmm) == CVMM_VMM_RUNNING && (ret = cvmm_vmm_pause(vmm)))
		return fail(msg, msglen, ret, "snapshot: cannot pause the VM: %s", strerror(-ret));
	snprintf(dir, sizeof(dir), "%s", s->dest);
	s->diff = false;
	if (s->chain && s->taken) {
		snprintf(dir, sizeof(dir), "%s.%u", s->dest, s->taken);
		s->diff = !s->full_next;
	}
	if (s->chain && !s->diff) {
		/* the base: from here on every write is tracked for the diffs */
		ret = cvmm_vmm_snapshot_track(vmm, true, err, sizeof(err));
		if (ret && ret != -EALREADY)
			return fail(msg, msglen, ret, "snapshot: dirty tracking: %s; the VM stays "
				    "paused (SIGUSR2 resumes it)", err[0] ? err : strerror(-ret));
	}
	ret = cvmm_vm_snap_write(s, vmm, cfg, s->config, dir, err, sizeof(err));
	if (ret) {
		s->diff = false;
		s->full_next = s->chain;
		return fail(msg, msglen, ret, "%s; the VM stays paused (SIGUSR2 resumes it)%s",
			    err[0] ? err : strerror(-ret),
			    s->chain ? "; the next snapshot is a full one" : "");
	}
	fail(msg, msglen, 0, "%s written to '%s' in %.3f ms", s->diff ? "diff snapshot" : "snapshot",
	     dir, (cvmm_now_ns() - t0) / 1e6);
	s->diff = s->full_next = false;
	s->taken++;
	if (s->then == CVMM_VM_SNAP_THEN_RESUME)
		cvmm_vmm_resume(vmm);
	else if (s->then == CVMM_VM_SNAP_THEN_EXIT)
		cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_REQUEST, 0);
	return 0;
}

/* ---- the API's vm.snapshot and vm.restore (api.c) ------------------------ */

static int body_str(struct json_object *body, const char *key, const char **out)
{
	struct json_object *v;

	*out = NULL;
	if (!body || !json_object_object_get_ex(body, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	*out = json_object_get_string(v);
	return 0;
}

static int body_bool(struct json_object *body, const char *key, bool *out)
{
	struct json_object *v;

	if (!body || !json_object_object_get_ex(body, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return -EINVAL;
	*out = json_object_get_boolean(v);
	return 0;
}

/* Only the keys we serve: an unknown one is refused, never ignored. */
static int body_keys(struct json_object *body, const char *const *keys, char *err, size_t errlen)
{
	if (!body || !json_object_is_type(body, json_type_object))
		return fail(err, errlen, -EINVAL, "the body must be a JSON object");
	json_object_object_foreach(body, k, v) {
		bool known = false;

		(void)v;
		for (size_t i = 0; keys[i]; i++)
			known |= !strcmp(k, keys[i]);
		if (!known)
			return fail(err, errlen, -EINVAL, "unknown field '%s'", k);
	}
	return 0;
}

int cvmm_vm_snap_api_snapshot(struct cvmm_vm_snap *s, struct cvmm_vmm *vmm,
			      const struct cvmm_vm_config *cfg, struct json_object *body, char *err,
			      size_t errlen)
{
	static const char *const keys[] = { "destination_url", "snapshot_type", NULL };
	const char *url, *dir, *type;
	char why[256] = "";
	int ret;

	if ((ret = body_keys(body, keys, err, errlen)))
		return ret;
	if (body_str(body, "destination_url", &url) || !url)
		return fail(err, errlen, -EINVAL, "destination_url: a string file:///DIR is required");
	if ((ret = url_path("vm.snapshot", "destination_url", url, &dir, err, errlen)))
		return ret;
	if (body_str(body, "snapshot_type", &type) ||
	    (type && strcmp(type, "Full") && strcmp(type, "Diff")))
		return fail(err, errlen, -EINVAL, "snapshot_type: not \"Full\" or \"Diff\"");
	s->diff = type && !strcmp(type, "Diff");
	if (type) {
		/* Firecracker's field: naming it keeps dirty tracking on from
		 * this snapshot, so the next Diff holds what changed after it. */
		ret = cvmm_vmm_snapshot_track(vmm, true, why, sizeof(why));
		if (!ret && s->diff) {
			cvmm_vmm_snapshot_track(vmm, false, NULL, 0);
			return fail(err, errlen, -EINVAL,
				    "snapshot_type \"Diff\" needs a base: take a snapshot with "
				    "snapshot_type \"Full\" first (it turns dirty tracking on)");
		}
		if (ret && ret != -EALREADY)
			return fail(err, errlen, ret, "snapshot_type: dirty tracking: %s",
				    why[0] ? why : strerror(-ret));
	}
	ret = cvmm_vm_snap_write(s, vmm, cfg, NULL, dir, err, errlen);
	s->diff = false;
	return ret;
}

int cvmm_vm_snap_api_restore_open(struct cvmm_vm_snap *s, struct json_object *body,
				  struct cvmm_vm_config *cfg, struct json_object **cfg_json,
				  char *err, size_t errlen)
{
	static const char *const keys[] = { "source_url", "memory_restore_mode", "prefault",
					    "resume", "diff_urls", "clock_realtime", "net_fds",
					    "network_overrides", "vsock_override", "disk_overrides",
					    "serial", "console", NULL };
	struct json_object *root = NULL, *o, *diffs = NULL;
	const char *url, *mode;
	bool realtime = false;
	char why[400];
	size_t len;
	int ret;

	*s = (struct cvmm_vm_snap){ .spec = s->spec, .started = false, .evfd = s->evfd,
				    .t0_ns = s->t0_ns, .live = s->live };
	s->ro = (struct cvmm_vmm_restore_opts){ .sz = sizeof(s->ro) };
	if ((ret = body_keys(body, keys, err, errlen)))
		return ret;
	if (body_str(body, "source_url", &url) || !url)
		return fail(err, errlen, -EINVAL, "source_url: a string file:///DIR is required");
	if (body_str(body, "memory_restore_mode", &mode) ||
	    (mode && cvmm_vmm_mem_restore_parse(mode, &s->ro.mode)))
		return fail(err, errlen, -EINVAL,
			    "memory_restore_mode: not \"Copy\", \"OnDemand\", \"Shared\" or "
			    "\"CopyOnWrite\"");
	if (body_bool(body, "prefault", &s->ro.prefault) || body_bool(body, "resume", &s->resume) ||
	    body_bool(body, "clock_realtime", &realtime))
		return fail(err, errlen, -EINVAL, "prefault, resume, clock_realtime: true or false");
	/* Firecracker's: the guest clock moves on by the time the VM was away */
	if (realtime)
		s->ro.flags |= CVMM_VMM_RESTORE_CLOCK_REALTIME;
	if ((ret = url_path("vm.restore", "source_url", url, &s->source, err, errlen)))
		return ret;
	s->source_copy = strdup(s->source);
	if (!s->source_copy)
		return -ENOMEM;
	s->source = s->source_copy;
	if (json_object_object_get_ex(body, "diff_urls", &diffs) &&
	    !json_object_is_type(diffs, json_type_array))
		return fail(err, errlen, -EINVAL, "diff_urls: an array of file:///DIR strings");
	if ((ret = cvmm_vmm_snapshot_open(s->source, &s->snap, err, errlen)))
		return ret;
	/* a chain: each diff's pages over the base, the last one's state */
	for (size_t i = 0; diffs && i < json_object_array_length(diffs); i++) {
		struct json_object *v = json_object_array_get_idx(diffs, i);
		const char *dir;

		if (!json_object_is_type(v, json_type_string))
			return fail(err, errlen, -EINVAL, "diff_urls[%zu]: not a string", i);
		if ((ret = url_path("vm.restore", "diff_urls", json_object_get_string(v), &dir, err,
				    errlen)) ||
		    (ret = cvmm_vmm_snapshot_add_diff(s->snap, dir, err, errlen)))
			return ret;
	}
	root = json_tokener_parse(cvmm_vmm_snapshot_config(s->snap, &len));
	if (!root || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return fail(err, errlen, -EINVAL, "'%s/config.json' is not a JSON object", s->source);
	}
	if (s->spec && json_object_object_get_ex(root, s->spec->args_key, &o)) {
		/* Written by the flags path: its arguments are the truth (the
		 * test guests' --guest-arg is no VmConfig field). */
		struct args stored = { 0 };

		ret = stored_args(s, &stored, err, errlen);
		if (!ret)
			ret = build_argv(s, s->spec->args_key, &stored);
		args_free(&stored);
		json_object_put(root);
		if (ret)
			return ret;
		if (s->spec->parse_args(s->spec->opaque, s->argc, s->argv, cfg, why, sizeof(why)))
			return fail(err, errlen, -EINVAL, "'%s/config.json': %s", s->source, why);
		*cfg_json = NULL;
		return 0;
	}
	/* A card that ran on a caller's TAP fds has no TAP name in the
	 * snapshot: one that net_fds or network_overrides names gets its TAP
	 * after the parse (cvmm_vm_snap_api_restore_overrides()); until then
	 * a placeholder name that is never opened. */
	{
		struct json_object *nets, *id, *e;

		for (size_t i = 0; json_object_object_get_ex(root, "net", &nets) &&
				   json_object_is_type(nets, json_type_array) &&
				   i < json_object_array_length(nets); i++) {
			e = json_object_array_get_idx(nets, i);
			if (json_object_is_type(e, json_type_object) &&
			    !json_object_object_get_ex(e, "tap", NULL) &&
			    json_object_object_get_ex(e, "id", &id) &&
			    cvmm_vm_snap_body_names_net(body, json_object_get_string(id)))
				json_object_object_add(e, "tap", json_object_new_string("net_fds"));
		}
	}
	if (cvmm_vm_config_from_json(root, cfg, why, sizeof(why))) {
		json_object_put(root);
		return fail(err, errlen, -EINVAL, "'%s/config.json': %s", s->source, why);
	}
	*cfg_json = root;
	return 0;
}

/* ---- progress for other threads ------------------------------------------ */

void cvmm_vm_snap_live_begin(struct cvmm_vm_snap_live *live, enum cvmm_vm_snap_op op)
{
	if (!live)
		return;
	__atomic_store_n(&live->done, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&live->total, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&live->stream, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&live->t0_ns, cvmm_now_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(&live->end_ns, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&live->op, (uint32_t)op, __ATOMIC_RELAXED);
	__atomic_store_n(&live->state, (uint32_t)CVMM_VM_SNAP_RUNNING, __ATOMIC_RELEASE);
}

void cvmm_vm_snap_live_end(struct cvmm_vm_snap_live *live, int ret)
{
	if (!live)
		return;
	__atomic_store_n(&live->end_ns, cvmm_now_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(&live->state, (uint32_t)(ret ? CVMM_VM_SNAP_FAILED : CVMM_VM_SNAP_COMPLETED),
			 __ATOMIC_RELEASE);
}

struct json_object *cvmm_vm_snap_live_json(const struct cvmm_vm_snap_live *live)
{
	static const char *const ops[] = { "none", "snapshot", "restore" };
	static const char *const states[] = { "none", "running", "completed", "failed" };
	uint32_t state = __atomic_load_n(&live->state, __ATOMIC_ACQUIRE);
	uint32_t op = __atomic_load_n(&live->op, __ATOMIC_RELAXED);
	uint64_t t0 = __atomic_load_n(&live->t0_ns, __ATOMIC_RELAXED);
	uint64_t end = __atomic_load_n(&live->end_ns, __ATOMIC_RELAXED);
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "operation", json_object_new_string(ops[op < 3 ? op : 0]));
	json_object_object_add(o, "state", json_object_new_string(states[state < 4 ? state : 0]));
	json_object_object_add(o, "what", json_object_new_string(
		__atomic_load_n(&live->stream, __ATOMIC_RELAXED) ? "stream" : "memory"));
	json_object_object_add(o, "bytes_done",
			       json_object_new_int64((int64_t)__atomic_load_n(&live->done, __ATOMIC_ACQUIRE)));
	json_object_object_add(o, "bytes_total",
			       json_object_new_int64((int64_t)__atomic_load_n(&live->total, __ATOMIC_RELAXED)));
	json_object_object_add(o, "elapsed_ms", json_object_new_int64(
		t0 ? (int64_t)(((end ? end : cvmm_now_ns()) - t0) / 1000000) : 0));
	return o;
}
