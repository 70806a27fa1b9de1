/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loader for Firecracker's seccompiler JSON format. Two passes: jpos.c checks
 * strict syntax and records positions; json-c decodes; then the walk below
 * checks the schema field by field, so every complaint names a line and a
 * field. Unknown fields are errors (a typo must not silently drop a check).
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define JSON_MAX_BYTES (16u << 20)

typedef struct cvmm_seccomp_i_jpos jpos;

struct cvmm_seccomp_set {
	size_t n, cap;
	struct cvmm_seccomp_filter **f;
};

struct ctx {
	const char *text;
	size_t len;
	const char *fname;
	struct cvmm_seccomp_error *err;
	char where[128]; /* "rule 3 of thread "vcpu"" */
};

/* A hostile string made printable and short enough for a message. */
static const char *shown(const char *s, char *buf, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; s[i] && o + 5 < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i >= 40) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

static int report(struct ctx *c, int rc, unsigned int line, const char *field,
		  const char *fmt, ...) CVMM_SECCOMP_PRINTF(5, 6);

static int report(struct ctx *c, int rc, unsigned int line, const char *field,
		  const char *fmt, ...)
{
	char detail[160], head[200], full[640];
	va_list ap;
	size_t n;

	if (!c->err)
		return rc;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(head, sizeof(head), "%s:%u: ", c->fname, line);
	else
		snprintf(head, sizeof(head), "%s: ", c->fname);
	c->err->line = line;
	snprintf(c->err->field, sizeof(c->err->field), "%s", field ? field : "");
	/* Compose in a roomy buffer, then cut to the public size. */
	if (field)
		snprintf(full, sizeof(full), "%s%s%sfield \"%s\": %s", head, c->where,
			 c->where[0] ? ": " : "", field, detail);
	else
		snprintf(full, sizeof(full), "%s%s%s%s", head, c->where, c->where[0] ? ": " : "",
			 detail);
	n = strnlen(full, sizeof(c->err->msg) - 1);
	memcpy(c->err->msg, full, n);
	c->err->msg[n] = '\0';
	return rc;
}

static jpos *kid_at(jpos *p, size_t i)
{
	return i < p->nkids ? p->kids[i] : p;
}

/* Object members in text order match json-c's (insertion order, no dups). */
static int check_object(struct ctx *c, struct json_object *o, jpos *p, const char *field)
{
	if (!json_object_is_type(o, json_type_object))
		return report(c, -EINVAL, p->line, field, "must be an object");
	if ((size_t)json_object_object_length(o) != p->nkids)
		return report(c, -EINVAL, p->line, field, "an object has a duplicate key");
	return 0;
}

/* Reject members not in @allowed (NULL-terminated). */
static int check_keys(struct ctx *c, struct json_object *o, jpos *p, const char *const *allowed)
{
	struct json_object_iterator it = json_object_iter_begin(o);
	struct json_object_iterator end = json_object_iter_end(o);
	char b[200];

	for (size_t i = 0; !json_object_iter_equal(&it, &end); i++, json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		const char *const *a;

		for (a = allowed; *a && strcmp(*a, k) != 0; a++)
			;
		if (!*a) {
			char list[160];
			size_t n = 0;

			for (a = allowed; *a && n < sizeof(list); a++)
				n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
						      a == allowed ? "" : ", ", *a);
			return report(c, -EINVAL, kid_at(p, i)->line, shown(k, b, sizeof(b)),
				      "unknown field (expected one of: %s)", list);
		}
	}
	return 0;
}

static struct json_object *member(struct json_object *o, jpos *p, const char *key, jpos **pos)
{
	struct json_object_iterator it = json_object_iter_begin(o);
	struct json_object_iterator end = json_object_iter_end(o);

	for (size_t i = 0; !json_object_iter_equal(&it, &end); i++, json_object_iter_next(&it)) {
		if (strcmp(json_object_iter_peek_name(&it), key) == 0) {
			*pos = kid_at(p, i);
			return json_object_iter_peek_value(&it);
		}
	}
	return NULL;
}

static const char *type_name(struct json_object *v)
{
	return json_type_to_name(json_object_get_type(v));
}

static int get_string(struct ctx *c, struct json_object *v, jpos *p, const char *field,
		      const char **out)
{
	if (!json_object_is_type(v, json_type_string))
		return report(c, -EINVAL, p->line, field, "must be a string, not %s", type_name(v));
	*out = json_object_get_string(v);
	return 0;
}

/* json-c clamps big numbers; read the digits from the text instead. */
static int get_u64(struct ctx *c, struct json_object *v, jpos *p, const char *field,
		   uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (!json_object_is_type(v, json_type_int))
		return report(c, -EINVAL, p->line, field, "must be an integer, not %s",
			      json_object_is_type(v, json_type_double) ? "a fraction" : type_name(v));
	if (p->start < p->end && c->text[p->start] == '-')
		return report(c, -EINVAL, p->line, field, "must not be negative");
	for (size_t i = p->start; i < p->end; i++) {
		unsigned int d = (unsigned int)(c->text[i] - '0');

		if (d > 9 || x > (UINT64_MAX - d) / 10)
			return report(c, -EINVAL, p->line, field, "out of range");
		x = x * 10 + d;
	}
	if (x > max)
		return report(c, -EINVAL, p->line, field, "%llu is out of range (at most %llu)",
			      (unsigned long long)x, (unsigned long long)max);
	*out = x;
	return 0;
}

static int parse_action(struct ctx *c, struct json_object *v, jpos *p, const char *field,
			struct cvmm_seccomp_action *a)
{
	char b[200];
	int rc;

	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);

		a->kind = cvmm_seccomp_i_action_parse(s);
		a->data = 0;
		if (a->kind == CVMM_SECCOMP_ACT_ERRNO || a->kind == CVMM_SECCOMP_ACT_TRACE)
			return report(c, -EINVAL, p->line, field,
				      "action \"%s\" needs a value: {\"%s\": N}", s, s);
		if (a->kind == CVMM_SECCOMP_ACT_UNSET)
			return report(c, -EINVAL, p->line, field, "unknown action \"%s\"",
				      shown(s, b, sizeof(b)));
		return 0;
	}
	if (json_object_is_type(v, json_type_object)) {
		struct json_object *n;
		jpos *np;
		uint64_t x;

		rc = check_object(c, v, p, field);
		if (rc)
			return rc;
		if (json_object_object_length(v) == 1) {
			if ((n = member(v, p, "errno", &np))) {
				a->kind = CVMM_SECCOMP_ACT_ERRNO;
				rc = get_u64(c, n, np, field, 4094, &x);
			} else if ((n = member(v, p, "trace", &np))) {
				a->kind = CVMM_SECCOMP_ACT_TRACE;
				rc = get_u64(c, n, np, field, 0xffff, &x);
			} else {
				return report(c, -EINVAL, p->line, field,
					      "unknown action: expected {\"errno\": N} or {\"trace\": N}");
			}
			a->data = (uint32_t)x;
			return rc;
		}
		return report(c, -EINVAL, p->line, field,
			      "expected {\"errno\": N} or {\"trace\": N}");
	}
	return report(c, -EINVAL, p->line, field, "must be an action string or object, not %s",
		      type_name(v));
}

/* An optional field under two spellings (Firecracker renamed arg_index -> index). */
static struct json_object *member2(struct ctx *c, struct json_object *o, jpos *p,
				   const char *name, const char *old, jpos **pos, int *rc)
{
	struct json_object *a = member(o, p, name, pos), *b;
	jpos *pb;

	*rc = 0;
	b = member(o, p, old, &pb);
	if (a && b)
		*rc = report(c, -EINVAL, pb->line, old, "given twice (also as \"%s\")", name);
	if (!a && b) {
		*pos = pb;
		return b;
	}
	return a;
}

static int parse_cond(struct ctx *c, struct json_object *o, jpos *p, unsigned int *seen,
		      struct cvmm_seccomp_cond *cond)
{
	static const char *const keys[] = { "index", "arg_index", "type", "arg_type", "op",
					    "val", "comment", NULL };
	struct json_object *v;
	const char *s;
	uint64_t x;
	jpos *vp;
	char b[200];
	int rc;

	if ((rc = check_object(c, o, p, NULL)) || (rc = check_keys(c, o, p, keys)))
		return rc;
	memset(cond, 0, sizeof(*cond));

	v = member2(c, o, p, "index", "arg_index", &vp, &rc);
	if (rc)
		return rc;
	if (!v)
		return report(c, -EINVAL, p->line, "index", "missing");
	if ((rc = get_u64(c, v, vp, "index", CVMM_SECCOMP_ARG_MAX - 1, &x)))
		return rc;
	if (*seen & (1u << x))
		return report(c, -EINVAL, vp->line, "index",
			      "argument %llu is already checked in this rule (libseccomp "
			      "compares each argument once per rule)", (unsigned long long)x);
	*seen |= 1u << x;
	cond->index = (unsigned int)x;

	v = member2(c, o, p, "type", "arg_type", &vp, &rc);
	if (rc)
		return rc;
	if (!v)
		return report(c, -EINVAL, p->line, "type", "missing");
	if ((rc = get_string(c, v, vp, "type", &s)))
		return rc;
	if (strcmp(s, "dword") == 0)
		cond->width = CVMM_SECCOMP_DWORD;
	else if (strcmp(s, "qword") == 0)
		cond->width = CVMM_SECCOMP_QWORD;
	else
		return report(c, -EINVAL, vp->line, "type",
			      "unknown argument type \"%s\" (dword or qword)", shown(s, b, sizeof(b)));

	if (!(v = member(o, p, "op", &vp)))
		return report(c, -EINVAL, p->line, "op", "missing");
	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		cond->op = cvmm_seccomp_i_op_parse(s);
		if (cond->op == CVMM_SECCOMP_OP_MASKED_EQ)
			return report(c, -EINVAL, vp->line, "op",
				      "masked_eq needs its mask: {\"masked_eq\": MASK}");
		if (cond->op == CVMM_SECCOMP_OP_INVALID)
			return report(c, -EINVAL, vp->line, "op", "unknown operator \"%s\"",
				      shown(s, b, sizeof(b)));
	} else if (json_object_is_type(v, json_type_object)) {
		struct json_object *m;
		jpos *mp;

		if ((rc = check_object(c, v, vp, "op")))
			return rc;
		if (json_object_object_length(v) != 1 || !(m = member(v, vp, "masked_eq", &mp)))
			return report(c, -EINVAL, vp->line, "op",
				      "expected an operator name or {\"masked_eq\": MASK}");
		if ((rc = get_u64(c, m, mp, "op", cond->width == CVMM_SECCOMP_DWORD ?
					UINT32_MAX : UINT64_MAX, &cond->mask)))
			return rc;
		cond->op = CVMM_SECCOMP_OP_MASKED_EQ;
	} else {
		return report(c, -EINVAL, vp->line, "op", "must be a string or object, not %s",
			      type_name(v));
	}

	if (!(v = member(o, p, "val", &vp)))
		return report(c, -EINVAL, p->line, "val", "missing");
	if ((rc = get_u64(c, v, vp, "val",
			  cond->width == CVMM_SECCOMP_DWORD ? UINT32_MAX : UINT64_MAX, &cond->val)))
		return rc;
	if (cond->op == CVMM_SECCOMP_OP_MASKED_EQ && (cond->val & ~cond->mask))
		return report(c, -EINVAL, vp->line, "val",
			      "has bits outside the mask, so it can never match");

	if ((v = member(o, p, "comment", &vp))) {
		if ((rc = get_string(c, v, vp, "comment", &cond->comment)))
			return rc;
	}
	return 0;
}

static int parse_rule(struct ctx *c, struct cvmm_seccomp_filter *f, struct json_object *o,
		      jpos *p)
{
	static const char *const keys[] = { "syscall", "args", "comment", NULL };
	struct cvmm_seccomp_cond conds[CVMM_SECCOMP_ARG_MAX];
	struct cvmm_seccomp_rule r = { 0 };
	struct json_object *v, *sys;
	unsigned int seen = 0;
	jpos *vp, *sp;
	char b[200];
	int rc;

	if ((rc = check_object(c, o, p, NULL)) || (rc = check_keys(c, o, p, keys)))
		return rc;
	if (!(sys = member(o, p, "syscall", &sp)))
		return report(c, -EINVAL, p->line, "syscall", "missing");
	if (json_object_is_type(sys, json_type_string)) {
		r.syscall = json_object_get_string(sys);
		if (cvmm_seccomp_syscall_nr(r.syscall) < 0)
			return report(c, -ENOENT, sp->line, "syscall",
				      "unknown syscall \"%s\" on this architecture",
				      shown(r.syscall, b, sizeof(b)));
	} else {
		uint64_t nr;

		/* Numbers are an extension, for syscalls newer than libseccomp. */
		if ((rc = get_u64(c, sys, sp, "syscall", 4095, &nr)))
			return rc;
		r.nr = (int)nr;
	}
	if ((v = member(o, p, "comment", &vp)) && (rc = get_string(c, v, vp, "comment", &r.comment)))
		return rc;
	if ((v = member(o, p, "args", &vp))) {
		size_t n;

		if (!json_object_is_type(v, json_type_array))
			return report(c, -EINVAL, vp->line, "args", "must be an array, not %s",
				      type_name(v));
		n = json_object_array_length(v);
		if (n > CVMM_SECCOMP_ARG_MAX || n != vp->nkids)
			return report(c, -EINVAL, vp->line, "args",
				      "at most %d conditions (one per argument)", CVMM_SECCOMP_ARG_MAX);
		for (size_t i = 0; i < n; i++) {
			size_t wl = strlen(c->where);

			snprintf(c->where + wl, sizeof(c->where) - wl, ", condition %zu", i + 1);
			rc = parse_cond(c, json_object_array_get_idx(v, i), kid_at(vp, i), &seen,
					&conds[i]);
			c->where[wl] = '\0';
			if (rc)
				return rc;
		}
		r.conds = conds;
		r.ncond = n;
	}
	rc = cvmm_seccomp_filter_add_rule(f, &r);
	if (rc == -ENOMEM)
		return report(c, rc, p->line, NULL, "out of memory");
	if (rc < 0)
		return report(c, rc, p->line, NULL, "rule rejected: %s", strerror(-rc));
	return 0;
}

static int parse_thread(struct ctx *c, const char *name, struct json_object *o, jpos *p,
			struct cvmm_seccomp_filter **out)
{
	static const char *const keys[] = { "default_action", "filter_action", "filter", NULL };
	struct cvmm_seccomp_filter_opts fo = { .sz = sizeof(fo), .thread_name = name };
	struct cvmm_seccomp_filter *f;
	struct json_object *v, *rules;
	jpos *vp, *rp;
	int rc;

	if ((rc = check_object(c, o, p, NULL)) || (rc = check_keys(c, o, p, keys)))
		return rc;
	if (!(v = member(o, p, "default_action", &vp)))
		return report(c, -EINVAL, p->line, "default_action", "missing");
	if ((rc = parse_action(c, v, vp, "default_action", &fo.default_action)))
		return rc;
	if (!(v = member(o, p, "filter_action", &vp)))
		return report(c, -EINVAL, p->line, "filter_action", "missing");
	if ((rc = parse_action(c, v, vp, "filter_action", &fo.filter_action)))
		return rc;
	if (fo.default_action.kind == fo.filter_action.kind &&
	    fo.default_action.data == fo.filter_action.data)
		return report(c, -EINVAL, vp->line, "filter_action",
			      "is the same as default_action: the filter would do nothing");
	if (!(rules = member(o, p, "filter", &rp)))
		return report(c, -EINVAL, p->line, "filter", "missing");
	if (!json_object_is_type(rules, json_type_array))
		return report(c, -EINVAL, rp->line, "filter", "must be an array, not %s",
			      type_name(rules));
	if (json_object_array_length(rules) != rp->nkids)
		return report(c, -EINVAL, rp->line, "filter", "internal position mismatch");

	rc = cvmm_seccomp_filter_create(&fo, &f);
	if (rc)
		return report(c, rc, p->line, NULL, "cannot create the filter: %s", strerror(-rc));
	for (size_t i = 0; i < rp->nkids; i++) {
		snprintf(c->where, sizeof(c->where), "rule %zu of thread \"%s\"", i + 1, name);
		rc = parse_rule(c, f, json_object_array_get_idx(rules, i), rp->kids[i]);
		if (rc) {
			cvmm_seccomp_filter_destroy(f);
			return rc;
		}
	}
	*out = f;
	return 0;
}

static int set_push(struct cvmm_seccomp_set *s, struct cvmm_seccomp_filter *f)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 4;
		struct cvmm_seccomp_filter **nf = reallocarray(s->f, ncap, sizeof(*nf));

		if (!nf)
			return -ENOMEM;
		s->f = nf;
		s->cap = ncap;
	}
	s->f[s->n++] = f;
	return 0;
}

static int parse_doc(struct ctx *c, struct cvmm_seccomp_set *set)
{
	struct json_tokener *tok;
	struct json_object *root;
	struct json_object_iterator it, end;
	const char *why = NULL;
	unsigned int line = 0;
	jpos *pr;
	int rc;

	rc = cvmm_seccomp_i_jpos_scan(c->text, c->len, &pr, &line, &why);
	if (rc)
		return report(c, rc, line, NULL, "syntax error: %s", why);
	tok = json_tokener_new_ex(64);
	if (!tok) {
		cvmm_seccomp_i_jpos_free(pr);
		return report(c, -ENOMEM, 0, NULL, "out of memory");
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, c->text, (int)c->len);
	if (!root) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		rc = report(c, -EINVAL,
			    cvmm_seccomp_i_line_of(c->text, c->len, json_tokener_get_parse_end(tok)),
			    NULL, "syntax error: %s", json_tokener_error_desc(e));
		goto out;
	}
	if ((rc = check_object(c, root, pr, NULL)))
		goto out;
	it = json_object_iter_begin(root);
	end = json_object_iter_end(root);
	for (size_t i = 0; !json_object_iter_equal(&it, &end); i++, json_object_iter_next(&it)) {
		const char *name = json_object_iter_peek_name(&it);
		struct cvmm_seccomp_filter *f = NULL;
		char b[200];

		c->where[0] = '\0';
		if (cvmm_seccomp_i_name_check(name)) {
			rc = report(c, -EINVAL, kid_at(pr, i)->line, NULL,
				    "invalid thread name \"%s\" (1-63 printable characters, no "
				    "quote or backslash)", shown(name, b, sizeof(b)));
			goto out;
		}
		snprintf(c->where, sizeof(c->where), "thread \"%s\"", name);
		rc = parse_thread(c, name, json_object_iter_peek_value(&it), kid_at(pr, i), &f);
		if (rc)
			goto out;
		if ((rc = set_push(set, f))) {
			cvmm_seccomp_filter_destroy(f);
			c->where[0] = '\0';
			rc = report(c, rc, 0, NULL, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	json_object_put(root);
	json_tokener_free(tok);
	cvmm_seccomp_i_jpos_free(pr);
	return rc;
}

static int read_file(struct ctx *c, const char *path, char **out, size_t *len)
{
	size_t cap = 0, n = 0;
	char *buf = NULL;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		return report(c, rc, 0, NULL, "cannot open: %s", strerror(-rc));
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap > JSON_MAX_BYTES) {
				rc = report(c, -EFBIG, 0, NULL, "larger than %u bytes", JSON_MAX_BYTES);
				goto err;
			}
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = report(c, -ENOMEM, 0, NULL, "out of memory");
				goto err;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			report(c, rc, 0, NULL, "cannot read: %s", strerror(-rc));
			goto err;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > JSON_MAX_BYTES) {
		free(buf);
		return report(c, -EFBIG, 0, NULL, "larger than %u bytes", JSON_MAX_BYTES);
	}
	*out = buf;
	*len = n;
	return 0;
err:
	close(fd);
	free(buf);
	return rc;
}

int cvmm_seccomp_load_json_all(const struct cvmm_seccomp_json_opts *o,
			       struct cvmm_seccomp_set **out)
{
	struct ctx c = { 0 };
	struct cvmm_seccomp_set *set;
	char *owned = NULL;
	int rc;

	if (!o || !out || o->sz < sizeof(*o) || (!o->path && !o->buf && o->len))
		return -EINVAL;
	c.err = o->err;
	c.fname = o->name ? o->name : o->path ? o->path : "<buffer>";
	if (c.err)
		memset(c.err, 0, sizeof(*c.err));
	if (o->path) {
		rc = read_file(&c, o->path, &owned, &c.len);
		if (rc)
			return rc;
		c.text = owned;
	} else {
		if (o->len > JSON_MAX_BYTES)
			return report(&c, -EFBIG, 0, NULL, "larger than %u bytes", JSON_MAX_BYTES);
		c.text = o->buf ? o->buf : "";
		c.len = o->len;
	}
	set = calloc(1, sizeof(*set));
	if (!set) {
		free(owned);
		return report(&c, -ENOMEM, 0, NULL, "out of memory");
	}
	rc = parse_doc(&c, set);
	free(owned);
	if (rc) {
		cvmm_seccomp_set_destroy(set);
		return rc;
	}
	*out = set;
	return 0;
}

int cvmm_seccomp_load_json(const struct cvmm_seccomp_json_opts *o, const char *thread_name,
			   struct cvmm_seccomp_filter **out)
{
	struct cvmm_seccomp_set *set;
	int rc;

	if (!thread_name || !out)
		return -EINVAL;
	rc = cvmm_seccomp_load_json_all(o, &set);
	if (rc)
		return rc;
	rc = cvmm_seccomp_set_take(set, thread_name, out);
	cvmm_seccomp_set_destroy(set);
	if (rc && o->err) {
		struct ctx c = { .err = o->err };
		char b[200];

		c.fname = o->name ? o->name : o->path ? o->path : "<buffer>";
		report(&c, rc, 0, NULL, "no filter for thread \"%s\"",
		       shown(thread_name, b, sizeof(b)));
	}
	return rc;
}

void cvmm_seccomp_set_destroy(struct cvmm_seccomp_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		cvmm_seccomp_filter_destroy(s->f[i]);
	free(s->f);
	free(s);
}

size_t cvmm_seccomp_set_count(const struct cvmm_seccomp_set *s)
{
	return s ? s->n : 0;
}

struct cvmm_seccomp_filter *cvmm_seccomp_set_get(const struct cvmm_seccomp_set *s, size_t i)
{
	return s && i < s->n ? s->f[i] : NULL;
}

struct cvmm_seccomp_filter *cvmm_seccomp_set_find(const struct cvmm_seccomp_set *s,
						  const char *thread_name)
{
	if (!s || !thread_name)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(cvmm_seccomp_filter_thread_name(s->f[i]), thread_name) == 0)
			return s->f[i];
	return NULL;
}

int cvmm_seccomp_set_take(struct cvmm_seccomp_set *s, const char *thread_name,
			  struct cvmm_seccomp_filter **out)
{
	if (!s || !thread_name || !out)
		return -EINVAL;
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(cvmm_seccomp_filter_thread_name(s->f[i]), thread_name) == 0) {
			*out = s->f[i];
			memmove(&s->f[i], &s->f[i + 1], (s->n - i - 1) * sizeof(s->f[0]));
			s->n--;
			return 0;
		}
	}
	return -ENOENT;
}

int cvmm_seccomp_set_compile(struct cvmm_seccomp_set *s)
{
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < s->n; i++) {
		int rc = cvmm_seccomp_filter_compile(s->f[i]);

		if (rc)
			return rc;
	}
	return 0;
}

int cvmm_seccomp_set_to_json(const struct cvmm_seccomp_set *s, char **out)
{
	if (!s)
		return -EINVAL;
	return cvmm_seccomp_to_json((const struct cvmm_seccomp_filter *const *)s->f, s->n, out);
}
