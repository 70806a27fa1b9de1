/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Filters back to JSON, in the canonical spelling the loader reads, so that
 * a filter built from C tables can be reviewed or edited as a file.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* json-c reports failed allocations as NULL from constructors or -1 from adds. */
static int add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int append(struct json_object *a, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_array_add(a, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *action_json(struct cvmm_seccomp_action a)
{
	struct json_object *o;

	if (a.kind != CVMM_SECCOMP_ACT_ERRNO && a.kind != CVMM_SECCOMP_ACT_TRACE)
		return json_object_new_string(cvmm_seccomp_i_action_name(a.kind));
	o = json_object_new_object();
	if (o && add(o, cvmm_seccomp_i_action_name(a.kind), json_object_new_uint64(a.data))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *cond_json(const struct cvmm_seccomp_cond *c)
{
	struct json_object *o = json_object_new_object(), *op;
	int rc;

	if (!o)
		return NULL;
	if (c->op == CVMM_SECCOMP_OP_MASKED_EQ) {
		op = json_object_new_object();
		if (op && add(op, "masked_eq", json_object_new_uint64(c->mask))) {
			json_object_put(op);
			op = NULL;
		}
	} else {
		op = json_object_new_string(cvmm_seccomp_i_op_name(c->op));
	}
	rc = add(o, "index", json_object_new_uint64(c->index));
	rc = rc ? rc : add(o, "type", json_object_new_string(c->width == CVMM_SECCOMP_QWORD ?
								 "qword" : "dword"));
	if (rc) {
		json_object_put(op);
		op = NULL;
	}
	rc = rc ? rc : add(o, "op", op);
	rc = rc ? rc : add(o, "val", json_object_new_uint64(c->val));
	if (!rc && c->comment)
		rc = add(o, "comment", json_object_new_string(c->comment));
	if (rc) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *rule_json(const struct cvmm_seccomp_rule *r)
{
	struct json_object *o = json_object_new_object(), *args;
	int rc;

	if (!o)
		return NULL;
	rc = add(o, "syscall", r->syscall ? json_object_new_string(r->syscall)
					   : json_object_new_int(r->nr));
	if (!rc && r->comment)
		rc = add(o, "comment", json_object_new_string(r->comment));
	if (!rc && r->ncond) {
		args = json_object_new_array();
		for (size_t i = 0; args && !rc && i < r->ncond; i++)
			rc = append(args, cond_json(&r->conds[i]));
		if (rc) {
			json_object_put(args);
			args = NULL;
		}
		rc = add(o, "args", args);
	}
	if (rc) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *filter_json(const struct cvmm_seccomp_filter *f)
{
	struct json_object *o = json_object_new_object(), *rules;
	int rc;

	if (!o)
		return NULL;
	rc = add(o, "default_action", action_json(cvmm_seccomp_filter_default_action(f)));
	rc = rc ? rc : add(o, "filter_action", action_json(cvmm_seccomp_filter_filter_action(f)));
	rules = rc ? NULL : json_object_new_array();
	for (size_t i = 0; rules && !rc && i < cvmm_seccomp_filter_rule_count(f); i++) {
		struct cvmm_seccomp_rule r;

		cvmm_seccomp_filter_get_rule(f, i, &r);
		rc = append(rules, rule_json(&r));
	}
	if (rc) {
		json_object_put(rules);
		rules = NULL;
	}
	if (rc || add(o, "filter", rules)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int cvmm_seccomp_to_json(const struct cvmm_seccomp_filter *const *filters, size_t n, char **out)
{
	struct json_object *root;
	const char *s;
	int rc = 0;

	if (!out || (n && !filters))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!filters[i])
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (strcmp(cvmm_seccomp_filter_thread_name(filters[i]),
				   cvmm_seccomp_filter_thread_name(filters[j])) == 0)
				return -EINVAL;
	}
	root = json_object_new_object();
	if (!root)
		return -ENOMEM;
	for (size_t i = 0; !rc && i < n; i++)
		rc = add(root, cvmm_seccomp_filter_thread_name(filters[i]), filter_json(filters[i]));
	if (!rc) {
		s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
						   JSON_C_TO_STRING_SPACED |
						   JSON_C_TO_STRING_NOSLASHESCAPE);
		*out = s ? strdup(s) : NULL;
		if (!*out)
			rc = -ENOMEM;
	}
	json_object_put(root);
	return rc;
}
