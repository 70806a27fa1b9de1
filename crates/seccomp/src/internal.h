/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the seccomp crate. Names still carry the cvmm_seccomp_i_
 * prefix: a static archive shares one symbol namespace with its program.
 */
#ifndef CVMM_SECCOMP_INTERNAL_H
#define CVMM_SECCOMP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cvmm/seccomp.h"

#define CVMM_SECCOMP_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Checks a condition as add_rule would; on failure *why says what is wrong. */
int cvmm_seccomp_i_cond_check(const struct cvmm_seccomp_cond *c, const char **why);
/* Checks an action; on failure *why says what is wrong. */
int cvmm_seccomp_i_action_check(const struct cvmm_seccomp_action *a, const char **why);
/* 0 when @name is a valid thread-type name. */
int cvmm_seccomp_i_name_check(const char *name);

/* Names used by the JSON format (NULL when out of range). */
const char *cvmm_seccomp_i_op_name(enum cvmm_seccomp_op op);
enum cvmm_seccomp_op cvmm_seccomp_i_op_parse(const char *s);
const char *cvmm_seccomp_i_action_name(enum cvmm_seccomp_action_kind k);
enum cvmm_seccomp_action_kind cvmm_seccomp_i_action_parse(const char *s);

/* Thread-type name the SIGSYS handler reports (see sigsys.c). */
void cvmm_seccomp_i_note_thread(const char *name, int tsync);

/*
 * Position index of a JSON text: for each value its line and byte span, and
 * its children in text order (object members or array elements). The
 * scanner is also the strict RFC 8259 syntax check that runs before json-c,
 * which is more lenient (single quotes, NaN) and reports no lines.
 */
struct cvmm_seccomp_i_jpos {
	unsigned int line;
	size_t start, end;               /* [start, end) of the value */
	size_t nkids, cap;
	struct cvmm_seccomp_i_jpos **kids;
};

/*
 * Scan @len bytes. On success *out is the root (an object). On a syntax
 * error returns -EINVAL with *err_line and a static description in *why.
 */
int cvmm_seccomp_i_jpos_scan(const char *text, size_t len,
			     struct cvmm_seccomp_i_jpos **out,
			     unsigned int *err_line, const char **why);
void cvmm_seccomp_i_jpos_free(struct cvmm_seccomp_i_jpos *p);

/* Line of byte @off in @text (1-based). */
unsigned int cvmm_seccomp_i_line_of(const char *text, size_t len, size_t off);

#endif
