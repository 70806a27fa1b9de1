/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict JSON scanner that records where each value is. json-c decodes the
 * document but keeps no positions and accepts some non-JSON (single quotes,
 * NaN, raw control characters in strings); this pass rejects those with a
 * line number and gives the loader a line for every field it complains about.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Deeper than the format needs (7 levels), shallow enough for recursion. */
#define MAX_DEPTH 32
/* Bounds the index (about 64 bytes a value); real filters have thousands. */
#define MAX_VALUES (1u << 18)

struct scan {
	const char *s;
	size_t len, pos;
	unsigned int line;
	const char *why;
	unsigned int err_line;
	size_t nvalues;
	int rc;        /* what the first failure returns */
};

typedef struct cvmm_seccomp_i_jpos jpos;

unsigned int cvmm_seccomp_i_line_of(const char *text, size_t len, size_t off)
{
	unsigned int line = 1;

	for (size_t i = 0; i < off && i < len; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

static int fail_rc(struct scan *sc, const char *why, int rc)
{
	if (!sc->why) {
		sc->why = why;
		sc->err_line = sc->line;
		sc->rc = rc;
	}
	return -EINVAL;
}

static int fail(struct scan *sc, const char *why)
{
	return fail_rc(sc, why, -EINVAL);
}

static int peek(const struct scan *sc)
{
	return sc->pos < sc->len ? (unsigned char)sc->s[sc->pos] : -1;
}

static void skip_ws(struct scan *sc)
{
	while (sc->pos < sc->len) {
		char c = sc->s[sc->pos];

		if (c == '\n')
			sc->line++;
		else if (c != ' ' && c != '\t' && c != '\r')
			return;
		sc->pos++;
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int scan_string(struct scan *sc)
{
	sc->pos++; /* opening quote */
	for (;;) {
		int c = peek(sc);

		if (c < 0)
			return fail(sc, "unterminated string");
		sc->pos++;
		if (c == '"')
			return 0;
		if (c < 0x20)
			return fail(sc, "control character in string");
		if (c != '\\')
			continue;
		c = peek(sc);
		sc->pos++;
		switch (c) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			break;
		case 'u': {
			unsigned int v = 0;

			for (int i = 0; i < 4; i++) {
				int h = hexval(peek(sc));

				if (h < 0)
					return fail(sc, "bad \\u escape in string");
				v = v * 16 + (unsigned int)h;
				sc->pos++;
			}
			/* json-c would cut the C string there: refuse the ambiguity. */
			if (v == 0)
				return fail(sc, "\\u0000 in string");
			break;
		}
		default:
			return fail(sc, "bad escape in string");
		}
	}
}

static int digits(struct scan *sc)
{
	size_t start = sc->pos;

	while (peek(sc) >= '0' && peek(sc) <= '9')
		sc->pos++;
	return sc->pos > start ? 0 : fail(sc, "digit expected in number");
}

static int scan_number(struct scan *sc)
{
	if (peek(sc) == '-')
		sc->pos++;
	if (peek(sc) == '0') {
		sc->pos++;
		if (peek(sc) >= '0' && peek(sc) <= '9')
			return fail(sc, "leading zero in number");
	} else if (digits(sc)) {
		return -EINVAL;
	}
	if (peek(sc) == '.') {
		sc->pos++;
		if (digits(sc))
			return -EINVAL;
	}
	if (peek(sc) == 'e' || peek(sc) == 'E') {
		sc->pos++;
		if (peek(sc) == '+' || peek(sc) == '-')
			sc->pos++;
		if (digits(sc))
			return -EINVAL;
	}
	return 0;
}

static int scan_word(struct scan *sc, const char *w)
{
	size_t n = strlen(w);

	if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, w, n) != 0)
		return fail(sc, "unexpected character");
	sc->pos += n;
	return 0;
}

static int add_kid(struct scan *sc, jpos *p, jpos *kid)
{
	if (p->nkids == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 4;
		jpos **k = reallocarray(p->kids, ncap, sizeof(*k));

		if (!k) {
			cvmm_seccomp_i_jpos_free(kid);
			return fail_rc(sc, "out of memory", -ENOMEM);
		}
		p->kids = k;
		p->cap = ncap;
	}
	p->kids[p->nkids++] = kid;
	return 0;
}

static int scan_value(struct scan *sc, int depth, jpos **out);

static int scan_container(struct scan *sc, int depth, jpos *p, int is_obj)
{
	char close = is_obj ? '}' : ']';

	sc->pos++;
	skip_ws(sc);
	if (peek(sc) == close) {
		sc->pos++;
		return 0;
	}
	for (;;) {
		jpos *kid;

		skip_ws(sc);
		if (is_obj) {
			if (peek(sc) != '"')
				return fail(sc, "string key expected");
			if (scan_string(sc))
				return -EINVAL;
			skip_ws(sc);
			if (peek(sc) != ':')
				return fail(sc, "':' expected after key");
			sc->pos++;
			skip_ws(sc);
		}
		if (scan_value(sc, depth + 1, &kid))
			return -EINVAL;
		if (add_kid(sc, p, kid))
			return -EINVAL;
		skip_ws(sc);
		if (peek(sc) == ',') {
			sc->pos++;
			skip_ws(sc);
			if (peek(sc) == close)
				return fail(sc, "trailing comma");
			continue;
		}
		if (peek(sc) == close) {
			sc->pos++;
			return 0;
		}
		return fail(sc, is_obj ? "',' or '}' expected" : "',' or ']' expected");
	}
}

static int scan_value(struct scan *sc, int depth, jpos **out)
{
	jpos *p;
	int c = peek(sc), rc;

	if (depth > MAX_DEPTH)
		return fail(sc, "nesting too deep");
	if (++sc->nvalues > MAX_VALUES)
		return fail_rc(sc, "too many values", -EFBIG);
	if (c < 0)
		return fail(sc, "unexpected end of input");
	p = calloc(1, sizeof(*p));
	if (!p)
		return fail_rc(sc, "out of memory", -ENOMEM);
	p->line = sc->line;
	p->start = sc->pos;
	switch (c) {
	case '{': rc = scan_container(sc, depth, p, 1); break;
	case '[': rc = scan_container(sc, depth, p, 0); break;
	case '"': rc = scan_string(sc); break;
	case 't': rc = scan_word(sc, "true"); break;
	case 'f': rc = scan_word(sc, "false"); break;
	case 'n': rc = scan_word(sc, "null"); break;
	default:
		rc = (c == '-' || (c >= '0' && c <= '9')) ? scan_number(sc)
							  : fail(sc, "unexpected character");
	}
	if (rc) {
		cvmm_seccomp_i_jpos_free(p);
		return -EINVAL;
	}
	p->end = sc->pos;
	*out = p;
	return 0;
}

int cvmm_seccomp_i_jpos_scan(const char *text, size_t len, jpos **out,
			     unsigned int *err_line, const char **why)
{
	struct scan sc = { .s = text, .len = len, .line = 1 };
	jpos *root;

	skip_ws(&sc);
	if (peek(&sc) != '{') {
		fail(&sc, peek(&sc) < 0 ? "empty document" : "the top level must be an object");
		goto err;
	}
	if (scan_value(&sc, 1, &root))
		goto err;
	skip_ws(&sc);
	if (sc.pos != sc.len) {
		cvmm_seccomp_i_jpos_free(root);
		fail(&sc, "data after the top-level object");
		goto err;
	}
	*out = root;
	return 0;
err:
	*err_line = sc.err_line;
	*why = sc.why;
	return sc.rc;
}

void cvmm_seccomp_i_jpos_free(jpos *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nkids; i++)
		cvmm_seccomp_i_jpos_free(p->kids[i]);
	free(p->kids);
	free(p);
}
