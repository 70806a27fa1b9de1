/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Firecracker-format JSON loader: a valid document loads, behaves as
 * written once installed, and round-trips to an equivalent document; every
 * malformed document fails with the line and the field at fault.
 */
#include <cvmm/seccomp.h>

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "cvmm-test.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char valid_doc[] =
	"{\n"
	"  \"vcpu\": {\n"
	"    \"default_action\": \"trap\",\n"
	"    \"filter_action\": \"allow\",\n"
	"    \"filter\": [\n"
	"      { \"syscall\": \"exit_group\", \"comment\": \"leave\" },\n"
	"      { \"syscall\": \"write\" },\n"
	"      {\n"
	"        \"syscall\": \"ioctl\",\n"
	"        \"args\": [\n"
	"          { \"index\": 1, \"type\": \"dword\", \"op\": \"eq\", \"val\": 44672,\n"
	"            \"comment\": \"KVM_RUN\" }\n"
	"        ]\n"
	"      },\n"
	"      {\n"
	"        \"syscall\": \"getppid\",\n"
	"        \"args\": [\n"
	"          { \"index\": 0, \"type\": \"qword\", \"op\": { \"masked_eq\": 240 }, \"val\": 48 },\n"
	"          { \"index\": 5, \"type\": \"qword\", \"op\": \"ge\", \"val\": 18446744073709551615 }\n"
	"        ]\n"
	"      }\n"
	"    ]\n"
	"  },\n"
	"  \"api\": {\n"
	"    \"default_action\": { \"errno\": 1 },\n"
	"    \"filter_action\": \"allow\",\n"
	"    \"filter\": [\n"
	"      { \"syscall\": \"socket\", \"args\": [ { \"index\": 0, \"type\": \"dword\",\n"
	"        \"op\": \"ne\", \"val\": 2 } ] },\n"
	"      { \"syscall\": \"fcntl\", \"args\": [ { \"index\": 1, \"type\": \"dword\",\n"
	"        \"op\": \"lt\", \"val\": 5 }, { \"index\": 2, \"type\": \"qword\", \"op\": \"le\", \"val\": 0 },\n"
	"        { \"index\": 3, \"type\": \"qword\", \"op\": \"gt\", \"val\": 7 } ] }\n"
	"    ]\n"
	"  },\n"
	"  \"log\": { \"default_action\": \"log\", \"filter_action\": { \"trace\": 7 }, \"filter\": [] },\n"
	"  \"k\": { \"default_action\": \"kill_thread\", \"filter_action\": \"kill_process\",\n"
	"         \"filter\": [ { \"syscall\": \"getppid\" } ] }\n"
	"}\n";

static struct cvmm_seccomp_set *load_ok(const char *doc)
{
	struct cvmm_seccomp_error err;
	struct cvmm_seccomp_json_opts o = {
		.sz = sizeof(o), .buf = doc, .len = strlen(doc), .err = &err,
	};
	struct cvmm_seccomp_set *s = NULL;
	int rc = cvmm_seccomp_load_json_all(&o, &s);

	ck_assert_msg(rc == 0, "load failed (%d): %s", rc, err.msg);
	return s;
}

START_TEST(valid_document_loads)
{
	struct cvmm_seccomp_set *s = load_ok(valid_doc);
	struct cvmm_seccomp_filter *f;
	struct cvmm_seccomp_rule r;

	ck_assert_uint_eq(cvmm_seccomp_set_count(s), 4);
	ck_assert_str_eq(cvmm_seccomp_filter_thread_name(cvmm_seccomp_set_get(s, 0)), "vcpu");
	ck_assert_str_eq(cvmm_seccomp_filter_thread_name(cvmm_seccomp_set_get(s, 3)), "k");
	ck_assert_ptr_null(cvmm_seccomp_set_get(s, 4));
	ck_assert_ptr_null(cvmm_seccomp_set_find(s, "nope"));

	f = cvmm_seccomp_set_find(s, "vcpu");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(cvmm_seccomp_filter_rule_count(f), 4);
	ck_assert_int_eq(cvmm_seccomp_filter_default_action(f).kind, CVMM_SECCOMP_ACT_TRAP);
	ck_assert_int_eq(cvmm_seccomp_filter_filter_action(f).kind, CVMM_SECCOMP_ACT_ALLOW);
	ck_assert_int_eq(cvmm_seccomp_filter_get_rule(f, 2, &r), 0);
	ck_assert_str_eq(r.syscall, "ioctl");
	ck_assert_int_eq(r.nr, SYS_ioctl);
	ck_assert_uint_eq(r.ncond, 1);
	ck_assert_uint_eq(r.conds[0].index, 1);
	ck_assert_int_eq(r.conds[0].width, CVMM_SECCOMP_DWORD);
	ck_assert_int_eq(r.conds[0].op, CVMM_SECCOMP_OP_EQ);
	ck_assert_uint_eq(r.conds[0].val, 44672);
	ck_assert_str_eq(r.conds[0].comment, "KVM_RUN");
	ck_assert_int_eq(cvmm_seccomp_filter_get_rule(f, 3, &r), 0);
	ck_assert_int_eq(r.conds[0].op, CVMM_SECCOMP_OP_MASKED_EQ);
	ck_assert_uint_eq(r.conds[0].mask, 240);
	ck_assert_uint_eq(r.conds[0].val, 48);
	ck_assert_uint_eq(r.conds[1].val, UINT64_MAX);

	f = cvmm_seccomp_set_find(s, "api");
	ck_assert_int_eq(cvmm_seccomp_filter_default_action(f).kind, CVMM_SECCOMP_ACT_ERRNO);
	ck_assert_uint_eq(cvmm_seccomp_filter_default_action(f).data, 1);
	f = cvmm_seccomp_set_find(s, "log");
	ck_assert_int_eq(cvmm_seccomp_filter_filter_action(f).kind, CVMM_SECCOMP_ACT_TRACE);
	ck_assert_uint_eq(cvmm_seccomp_filter_filter_action(f).data, 7);
	ck_assert_uint_eq(cvmm_seccomp_filter_rule_count(f), 0);

	ck_assert_int_eq(cvmm_seccomp_set_compile(s), 0);
	ck_assert_uint_gt(cvmm_seccomp_filter_insn_count(cvmm_seccomp_set_find(s, "vcpu")), 0);
	cvmm_seccomp_set_destroy(s);
}
END_TEST

START_TEST(round_trip_is_structurally_equal)
{
	struct cvmm_seccomp_set *s = load_ok(valid_doc), *s2;
	struct json_object *a, *b;
	char *out = NULL, *out2 = NULL;

	ck_assert_int_eq(cvmm_seccomp_set_to_json(s, &out), 0);
	a = json_tokener_parse(valid_doc);
	b = json_tokener_parse(out);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_msg(json_object_equal(a, b), "differs:\n%s", out);
	/* And what we write loads back to the same text. */
	s2 = load_ok(out);
	ck_assert_int_eq(cvmm_seccomp_set_to_json(s2, &out2), 0);
	ck_assert_str_eq(out, out2);
	json_object_put(a);
	json_object_put(b);
	free(out);
	free(out2);
	cvmm_seccomp_set_destroy(s);
	cvmm_seccomp_set_destroy(s2);
}
END_TEST

START_TEST(old_spellings_load_canonically)
{
	static const char doc[] =
		"{ \"t\": { \"default_action\": \"kill\", \"filter_action\": \"allow\", \"filter\": [\n"
		"  { \"syscall\": \"accept4\", \"args\": [ { \"arg_index\": 3, \"arg_type\": \"dword\",\n"
		"    \"op\": \"eq\", \"val\": 1, \"comment\": \"libc::AF_UNIX\" } ] },\n"
		"  { \"syscall\": 39 } ] } }";
	struct cvmm_seccomp_set *s = load_ok(doc);
	struct cvmm_seccomp_filter *f = cvmm_seccomp_set_get(s, 0);
	struct cvmm_seccomp_rule r;
	char *out = NULL;

	ck_assert_int_eq(cvmm_seccomp_filter_default_action(f).kind, CVMM_SECCOMP_ACT_KILL_PROCESS);
	ck_assert_int_eq(cvmm_seccomp_filter_get_rule(f, 0, &r), 0);
	ck_assert_uint_eq(r.conds[0].index, 3);
	ck_assert_int_eq(cvmm_seccomp_filter_get_rule(f, 1, &r), 0);
	ck_assert_int_eq(r.nr, 39);
	ck_assert_int_eq(cvmm_seccomp_set_to_json(s, &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"kill_process\""));
	ck_assert_ptr_nonnull(strstr(out, "\"index\""));
	ck_assert_ptr_null(strstr(out, "arg_index"));
	free(out);
	cvmm_seccomp_set_destroy(s);
}
END_TEST

START_TEST(c_table_to_json_and_back)
{
	const struct cvmm_seccomp_rule rules[] = {
		CVMM_SECCOMP_RULE("read"),
		CVMM_SECCOMP_RULE_COND("mmap", CVMM_SECCOMP_COND_MASKED(2, CVMM_SECCOMP_DWORD, 4, 0)),
	};
	struct cvmm_seccomp_filter_opts o = {
		.sz = sizeof(o), .thread_name = "vmm", .default_action = CVMM_SECCOMP_KILL,
	};
	const struct cvmm_seccomp_filter *list[2];
	struct cvmm_seccomp_filter *f, *g;
	struct cvmm_seccomp_set *s;
	struct cvmm_seccomp_rule r;
	char *out = NULL;

	ck_assert_int_eq(cvmm_seccomp_filter_create(&o, &f), 0);
	ck_assert_int_eq(cvmm_seccomp_filter_add_rules(f, rules, ARRAY_SIZE(rules), NULL), 0);
	list[0] = list[1] = f;
	ck_assert_int_eq(cvmm_seccomp_to_json(list, 2, &out), -EINVAL); /* same name twice */
	ck_assert_int_eq(cvmm_seccomp_to_json(list, 1, &out), 0);
	s = load_ok(out);
	g = cvmm_seccomp_set_find(s, "vmm");
	ck_assert_uint_eq(cvmm_seccomp_filter_rule_count(g), 2);
	ck_assert_int_eq(cvmm_seccomp_filter_get_rule(g, 1, &r), 0);
	ck_assert_str_eq(r.syscall, "mmap");
	ck_assert_int_eq(r.conds[0].op, CVMM_SECCOMP_OP_MASKED_EQ);
	ck_assert_uint_eq(r.conds[0].mask, 4);
	ck_assert_int_eq(r.conds[0].width, CVMM_SECCOMP_DWORD);
	free(out);
	cvmm_seccomp_set_destroy(s);
	cvmm_seccomp_filter_destroy(f);
}
END_TEST

/* A filter loaded from JSON behaves as written. */
static void body_json_filter(void *arg)
{
	struct cvmm_seccomp_filter *f = arg;

	if (cvmm_seccomp_filter_install(f))
		child_exit(10);
	syscall(SYS_getppid, 5);
	child_say("five\n");
	syscall(SYS_getppid, 6);
	child_say("six\n");
}

START_TEST(loaded_filter_enforces)
{
	static const char doc[] =
		"{ \"probe\": { \"default_action\": \"kill_process\", \"filter_action\": \"allow\",\n"
		"  \"filter\": [ { \"syscall\": \"write\" }, { \"syscall\": \"exit_group\" },\n"
		"    { \"syscall\": \"getppid\", \"args\": [ { \"index\": 0, \"type\": \"qword\",\n"
		"      \"op\": \"eq\", \"val\": 5 } ] } ] } }";
	struct cvmm_seccomp_json_opts o = { .sz = sizeof(o), .buf = doc, .len = strlen(doc) };
	struct cvmm_seccomp_filter *f = NULL;
	struct child_result r;

	ck_assert_int_eq(cvmm_seccomp_load_json(&o, "probe", &f), 0);
	ck_assert_int_eq(cvmm_seccomp_filter_compile(f), 0);
	child_run(body_json_filter, f, &r);
	ck_assert(WIFSIGNALED(r.status));
	ck_assert_int_eq(WTERMSIG(r.status), SIGSYS);
	ck_assert_str_eq(r.out, "five\n");
	cvmm_seccomp_filter_destroy(f);
}
END_TEST

START_TEST(load_from_file_and_missing_thread)
{
	struct cvmm_seccomp_error err;
	char path[PATH_MAX], want[PATH_MAX + 64];
	struct cvmm_seccomp_json_opts o = { .sz = sizeof(o), .path = path, .err = &err };
	struct cvmm_seccomp_filter *f = NULL;
	int fd = cvmm_test_tmpfile(path, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, valid_doc, strlen(valid_doc)), (ssize_t)strlen(valid_doc));
	close(fd);
	ck_assert_int_eq(cvmm_seccomp_load_json(&o, "api", &f), 0);
	ck_assert_str_eq(cvmm_seccomp_filter_thread_name(f), "api");
	cvmm_seccomp_filter_destroy(f);
	f = NULL;
	ck_assert_int_eq(cvmm_seccomp_load_json(&o, "net", &f), -ENOENT);
	ck_assert_ptr_null(f);
	snprintf(want, sizeof(want), "%s: no filter for thread \"net\"", path);
	ck_assert_str_eq(err.msg, want);
	unlink(path);

	ck_assert_int_eq(cvmm_seccomp_load_json(&o, "api", &f), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot open"));
	ck_assert_uint_eq(err.line, 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Malformed documents                                                     */
/* ---------------------------------------------------------------------- */

struct bad {
	const char *doc;
	const char *mark;  /* the error is on the line holding this text */
	const char *field; /* expected err.field */
	const char *text;  /* expected in err.msg */
	int rc;
};

#define HEAD "{\n  \"vcpu\": {\n"
#define ACTS "    \"default_action\": \"kill_process\",\n    \"filter_action\": \"allow\",\n"

static const struct bad bad_docs[] = {
	/* Syntax. */
	{ HEAD "    \"default_action\": \"trap\"\n    \"filter_action\": \"allow\",\n",
	  "\"filter_action\"", "", "syntax error: ',' or '}' expected", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ { \"syscall\": \"read\" }, ]\n  }\n}\n",
	  "\"filter\"", "", "syntax error: trailing comma", -EINVAL },
	{ HEAD ACTS "    'filter': []\n  }\n}\n", "'filter'", "", "syntax error", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ { \"syscall\": \"read\", \"comment\": \"a\\u0000b\" } ]\n  }\n}\n",
	  "u0000", "", "\\u0000", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ { \"syscall\": \"re\nad\" } ]\n  }\n}\n", "\"re", "",
	  "syntax error", -EINVAL },
	{ HEAD ACTS "    \"filter\": []\n  }\n}\n\n  extra\n", "extra", "", "data after", -EINVAL },
	{ HEAD ACTS "    \"filter\": [], \"x\": NaN\n  }\n}\n", "NaN", "", "syntax error", -EINVAL },
	{ HEAD ACTS "    \"filter\": [", "\"filter\"", "", "unexpected end", -EINVAL },
	{ "[ 1, 2 ]\n", "[", "", "top level must be an object", -EINVAL },
	{ "\n\n", NULL, "", "empty document", -EINVAL },
	/* Schema. */
	{ HEAD "    \"default_action\": \"explode\",\n    \"filter_action\": \"allow\",\n    \"filter\": []\n  }\n}\n",
	  "explode", "default_action",
	  "field \"default_action\": unknown action \"explode\"", -EINVAL },
	{ HEAD "    \"default_action\": \"errno\",\n    \"filter_action\": \"allow\",\n    \"filter\": []\n  }\n}\n",
	  "\"errno\"", "default_action", "needs a value", -EINVAL },
	{ HEAD "    \"default_action\": { \"errno\": 4095 },\n    \"filter_action\": \"allow\",\n    \"filter\": []\n  }\n}\n",
	  "4095", "default_action", "out of range", -EINVAL },
	{ HEAD "    \"default_action\": \"allow\",\n    \"filter_action\": \"allow\",\n    \"filter\": []\n  }\n}\n",
	  "\"filter_action\"", "filter_action", "same as default_action", -EINVAL },
	{ HEAD "    \"default_action\": \"trap\",\n    \"filter\": []\n  }\n}\n", "\"vcpu\"",
	  "filter_action", "field \"filter_action\": missing", -EINVAL },
	{ HEAD ACTS "    \"filter\": { }\n  }\n}\n", "\"filter\"", "filter", "must be an array", -EINVAL },
	{ HEAD ACTS "    \"filter\": [],\n    \"filters\": []\n  }\n}\n", "\"filters\"", "filters",
	  "thread \"vcpu\": field \"filters\": unknown field (expected one of: default_action, "
	  "filter_action, filter)", -EINVAL },
	{ HEAD ACTS "    \"filter\": [],\n    \"filter\": []\n  }\n}\n", "\"vcpu\"", "",
	  "duplicate key", -EINVAL },
	{ "{\n  \"two words\": {}\n}\n", "two words", "", "invalid thread name", -EINVAL },
	{ HEAD ACTS "    \"filter\": [\n      { \"syscall\": \"read\" },\n      { \"syscall\": \"notasyscall\" }\n    ]\n  }\n}\n",
	  "notasyscall", "syscall",
	  "rule 2 of thread \"vcpu\": field \"syscall\": unknown syscall \"notasyscall\"", -ENOENT },
	{ HEAD ACTS "    \"filter\": [\n      { \"comment\": \"no syscall\" }\n    ]\n  }\n}\n",
	  "no syscall", "syscall", "rule 1 of thread \"vcpu\": field \"syscall\": missing", -EINVAL },
	{ HEAD ACTS "    \"filter\": [\n      { \"syscall\": \"read\",\n        \"args\": [ { \"index\": 6,\n"
	  "          \"type\": \"dword\", \"op\": \"eq\", \"val\": 1 } ] } ]\n  }\n}\n",
	  "\"index\": 6", "index", "rule 1 of thread \"vcpu\", condition 1: field \"index\": 6 is out of range",
	  -EINVAL },
	{ HEAD ACTS "    \"filter\": [\n      { \"syscall\": \"read\" },\n      { \"syscall\": \"read\",\n"
	  "        \"args\": [ { \"index\": 1, \"type\": \"dword\",\n          \"op\": \"equal\", \"val\": 1 } ] } ]\n  }\n}\n",
	  "\"equal\"", "op",
	  ":9: rule 2 of thread \"vcpu\", condition 1: field \"op\": unknown operator \"equal\"", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ { \"syscall\": \"read\", \"args\": [ { \"index\": 1,\n"
	  "      \"type\": \"dword\", \"op\": \"eq\",\n      \"val\": \"12\" } ] } ]\n  }\n}\n",
	  "\"12\"", "val", "field \"val\": must be an integer, not string", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ { \"syscall\": \"read\", \"args\": [ { \"index\": 1,\n"
	  "      \"type\": \"dword\", \"op\": \"eq\",\n      \"val\": 4294967296 } ] } ]\n  }\n}\n",
	  "4294967296", "val", "out of range", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ { \"syscall\": \"read\", \"args\": [ { \"index\": 1,\n"
	  "      \"type\": \"qword\", \"op\": \"eq\",\n      \"val\": 18446744073709551616 } ] } ]\n  }\n}\n",
	  "18446744073709551616", "val", "out of range", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ { \"syscall\": \"read\", \"args\": [ { \"index\": 1,\n"
	  "      \"type\": \"qword\", \"op\": \"eq\",\n      \"val\": -1 } ] } ]\n  }\n}\n",
	  "-1", "val", "must not be negative", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ { \"syscall\": \"read\", \"args\": [ { \"index\": 1,\n"
	  "      \"type\": \"qword\", \"op\": \"eq\",\n      \"val\": 1.5 } ] } ]\n  }\n}\n",
	  "1.5", "val", "not a fraction", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ { \"syscall\": \"read\", \"args\": [ { \"index\": 1,\n"
	  "      \"type\": \"word\", \"op\": \"eq\", \"val\": 1 } ] } ]\n  }\n}\n",
	  "\"word\"", "type", "unknown argument type \"word\"", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ { \"syscall\": \"read\", \"args\": [ { \"index\": 1,\n"
	  "      \"type\": \"dword\", \"op\": \"masked_eq\", \"val\": 1 } ] } ]\n  }\n}\n",
	  "masked_eq", "op", "needs its mask", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ { \"syscall\": \"read\", \"args\": [ { \"index\": 1,\n"
	  "      \"type\": \"dword\", \"op\": { \"masked_eq\": 3 },\n      \"val\": 4 } ] } ]\n  }\n}\n",
	  "\"val\": 4", "val", "bits outside the mask", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ { \"syscall\": \"read\", \"args\": [\n"
	  "      { \"index\": 1, \"type\": \"dword\", \"op\": \"eq\", \"val\": 1 },\n"
	  "      { \"index\": 1, \"type\": \"dword\", \"op\": \"ne\", \"val\": 2 } ] } ]\n  }\n}\n",
	  "\"ne\"", "index", "already checked", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ { \"syscall\": \"read\", \"args\": [ { \"index\": 1,\n"
	  "      \"arg_index\": 1, \"type\": \"dword\", \"op\": \"eq\", \"val\": 1 } ] } ]\n  }\n}\n",
	  "arg_index", "arg_index", "given twice", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ { \"syscall\": \"read\", \"args\": [ { \"index\": 1,\n"
	  "      \"type\": \"dword\", \"val\": 1 } ] } ]\n  }\n}\n",
	  "\"args\"", "op", "field \"op\": missing", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ { \"syscall\": \"read\", \"args\": [ { \"index\": 1,\n"
	  "      \"type\": \"dword\", \"op\": \"eq\", \"value\": 1 } ] } ]\n  }\n}\n",
	  "\"value\"", "value", "condition 1: field \"value\": unknown field", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ { \"syscall\": \"read\",\n      \"args\": [ {}, {}, {}, {}, {}, {}, {} ] } ]\n  }\n}\n",
	  "\"args\"", "args", "at most 6", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ { \"syscall\": true } ]\n  }\n}\n", "true", "syscall",
	  "must be an integer, not boolean", -EINVAL },
	{ HEAD ACTS "    \"filter\": [ 7 ]\n  }\n}\n", "[ 7 ]", "", "must be an object", -EINVAL },
};

static unsigned int line_of(const char *doc, const char *mark)
{
	const char *at = mark ? strstr(doc, mark) : NULL;
	unsigned int line = 1;

	ck_assert_msg(!mark || at, "test bug: mark %s not in doc", mark);
	for (const char *p = doc; at && p < at; p++)
		line += *p == '\n';
	return at ? line : 0;
}

START_TEST(malformed_documents)
{
	const struct bad *b = &bad_docs[_i];
	struct cvmm_seccomp_error err;
	struct cvmm_seccomp_json_opts o = {
		.sz = sizeof(o), .buf = b->doc, .len = strlen(b->doc), .name = "filter.json",
		.err = &err,
	};
	struct cvmm_seccomp_set *s = NULL;
	char prefix[64];
	int rc;

	rc = cvmm_seccomp_load_json_all(&o, &s);
	ck_assert_msg(rc == b->rc, "case %d: rc %d, want %d (%s)", _i, rc, b->rc, err.msg);
	ck_assert_ptr_null(s);
	if (b->mark) {
		ck_assert_msg(err.line == line_of(b->doc, b->mark), "case %d: line %u, want %u: %s",
			      _i, err.line, line_of(b->doc, b->mark), err.msg);
		snprintf(prefix, sizeof(prefix), "filter.json:%u: ", err.line);
		ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0, "case %d: %s", _i,
			      err.msg);
	}
	ck_assert_msg(strcmp(err.field, b->field) == 0, "case %d: field \"%s\", want \"%s\": %s",
		      _i, err.field, b->field, err.msg);
	ck_assert_msg(strstr(err.msg, b->text), "case %d: \"%s\" not in \"%s\"", _i, b->text,
		      err.msg);
}
END_TEST

START_TEST(hostile_inputs)
{
	struct cvmm_seccomp_error err;
	struct cvmm_seccomp_json_opts o = { .sz = sizeof(o), .err = &err };
	struct cvmm_seccomp_set *s = NULL;
	char deep[200], *big;
	size_t n = 0;

	/* Nesting deeper than the scanner allows. */
	n += (size_t)snprintf(deep, sizeof(deep), "{\"a\":");
	for (int i = 0; i < 40; i++)
		deep[n++] = '[';
	deep[n] = '\0';
	o.buf = deep;
	o.len = n;
	ck_assert_int_eq(cvmm_seccomp_load_json_all(&o, &s), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "nesting too deep"));

	/* Bytes after a NUL are not ignored. */
	o.buf = "{}\0{";
	o.len = 4;
	ck_assert_int_eq(cvmm_seccomp_load_json_all(&o, &s), -EINVAL);
	/* An empty object is a valid, empty set. */
	o.len = 2;
	ck_assert_int_eq(cvmm_seccomp_load_json_all(&o, &s), 0);
	ck_assert_uint_eq(cvmm_seccomp_set_count(s), 0);
	cvmm_seccomp_set_destroy(s);
	s = NULL;

	/* Control bytes in names are escaped in the message. */
	o.buf = "{\"\\u0001x\": {}}";
	o.len = strlen(o.buf);
	ck_assert_int_eq(cvmm_seccomp_load_json_all(&o, &s), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "\\x01x"));

	/* Over the size limit. */
	o.buf = "{}";
	o.len = (16u << 20) + 1;
	ck_assert_int_eq(cvmm_seccomp_load_json_all(&o, &s), -EFBIG);

	/* Huge but valid string fields do not overflow the message. */
	big = malloc(100000);
	ck_assert_ptr_nonnull(big);
	n = (size_t)sprintf(big, "{\"t\": {\"default_action\": \"");
	memset(big + n, 'x', 90000);
	n += 90000;
	n += (size_t)sprintf(big + n, "\"}}");
	o.buf = big;
	o.len = n;
	ck_assert_int_eq(cvmm_seccomp_load_json_all(&o, &s), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "unknown action \"xxxx"));
	ck_assert_uint_lt(strlen(err.msg), sizeof(err.msg));
	free(big);

	ck_assert_int_eq(cvmm_seccomp_load_json_all(NULL, &s), -EINVAL);
	o.sz = 1;
	ck_assert_int_eq(cvmm_seccomp_load_json_all(&o, &s), -EINVAL);
}
END_TEST

START_TEST(value_count_limit)
{
	struct cvmm_seccomp_error err;
	struct cvmm_seccomp_json_opts o = { .sz = sizeof(o), .err = &err };
	struct cvmm_seccomp_set *s = NULL;
	size_t n;
	char *big;

	/* The position index takes 2^18 values: the object, the array, zeros. */
	n = (size_t)1 << 18;
	big = malloc(2 * n + 16);
	ck_assert_ptr_nonnull(big);
	for (size_t zeros = n - 1; zeros >= n - 2; zeros--) {
		memcpy(big, "{\"a\":[", 6);
		for (size_t i = 0; i < zeros; i++)
			memcpy(big + 6 + 2 * i, "0,", 2);
		memcpy(big + 6 + 2 * zeros - 1, "]}", 2);
		o.buf = big;
		o.len = 6 + 2 * zeros + 1;
		if (zeros == n - 1) {
			ck_assert_int_eq(cvmm_seccomp_load_json_all(&o, &s), -EFBIG);
			ck_assert_ptr_nonnull(strstr(err.msg, "too many values"));
		} else {
			/* Exactly at the limit: only the schema complains. */
			ck_assert_int_eq(cvmm_seccomp_load_json_all(&o, &s), -EINVAL);
			ck_assert_ptr_nonnull(strstr(err.msg, "thread \"a\": must be an object"));
		}
	}
	free(big);

}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("seccomp-json");
	TCase *tc = tcase_create("json");

	tcase_set_timeout(tc, 60);

	tcase_add_test(tc, valid_document_loads);
	tcase_add_test(tc, round_trip_is_structurally_equal);
	tcase_add_test(tc, old_spellings_load_canonically);
	tcase_add_test(tc, c_table_to_json_and_back);
	tcase_add_test(tc, loaded_filter_enforces);
	tcase_add_test(tc, load_from_file_and_missing_thread);
	tcase_add_loop_test(tc, malformed_documents, 0, (int)ARRAY_SIZE(bad_docs));
	tcase_add_test(tc, hostile_inputs);
	tcase_add_test(tc, value_count_limit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	Suite *suites[] = { json_suite(), NULL };

	return cvmm_test_run(suites);
}
