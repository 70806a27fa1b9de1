/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel command line builder. The kernel splits arguments at whitespace
 * outside double quotes and cannot escape a quote, so values with spaces
 * are quoted and values with quotes are refused. Bytes >= 0x80 are refused
 * too: the kernel's ctype counts 0xa0 as whitespace.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CMDLINE (1u << 20)

struct cvmm_cmdline {
	char *buf;    /* max_len + 1 bytes */
	size_t len;
	size_t max_len;
};

int cvmm_cmdline_create(size_t max_len, struct cvmm_cmdline **out)
{
	struct cvmm_cmdline *c;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (max_len == 0 || max_len > MAX_CMDLINE)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->buf = calloc(1, max_len + 1);
	if (!c->buf) {
		free(c);
		return -ENOMEM;
	}
	c->max_len = max_len;
	*out = c;
	return 0;
}

void cvmm_cmdline_destroy(struct cvmm_cmdline *c)
{
	if (!c)
		return;
	free(c->buf);
	free(c);
}

const char *cvmm_cmdline_str(const struct cvmm_cmdline *c)
{
	return c ? c->buf : NULL;
}

size_t cvmm_cmdline_len(const struct cvmm_cmdline *c)
{
	return c ? c->len : 0;
}

static bool printable(char ch)
{
	return ch >= 0x20 && ch < 0x7f;
}

/* Append the pieces (with a separating space when not empty) or nothing. */
static int append(struct cvmm_cmdline *c, const char *const *parts, unsigned int n)
{
	size_t need = c->len ? 1 : 0, pos;

	for (unsigned int i = 0; i < n; i++)
		need += strlen(parts[i]);
	if (need > c->max_len - c->len)
		return -E2BIG;
	pos = c->len;
	if (c->len)
		c->buf[pos++] = ' ';
	for (unsigned int i = 0; i < n; i++) {
		size_t l = strlen(parts[i]);

		memcpy(c->buf + pos, parts[i], l);
		pos += l;
	}
	c->buf[pos] = '\0';
	c->len = pos;
	return 0;
}

int cvmm_cmdline_add(struct cvmm_cmdline *c, const char *key, const char *value)
{
	bool space = false;
	const char *parts[5];
	unsigned int n = 0;

	if (!c || !key || !*key)
		return -EINVAL;
	for (const char *k = key; *k; k++)
		if (!printable(*k) || *k == ' ' || *k == '=' || *k == '"')
			return -EINVAL;
	if (value) {
		for (const char *v = value; *v; v++) {
			if (!printable(*v) || *v == '"')
				return -EINVAL;
			if (*v == ' ')
				space = true;
		}
	}
	parts[n++] = key;
	if (value) {
		parts[n++] = space ? "=\"" : "=";
		parts[n++] = value;
		if (space)
			parts[n++] = "\"";
	}
	return append(c, parts, n);
}

int cvmm_cmdline_append(struct cvmm_cmdline *c, const char *text)
{
	bool quoted = false;
	size_t start, end;

	if (!c || !text)
		return -EINVAL;
	for (const char *t = text; *t; t++) {
		if (!printable(*t))
			return -EINVAL;
		if (*t == '"')
			quoted = !quoted;
	}
	if (quoted)
		return -EINVAL;
	/* Outer spaces would only pile up separators. */
	start = strspn(text, " ");
	end = strlen(text);
	while (end > start && text[end - 1] == ' ')
		end--;
	if (end == start)
		return 0;
	{
		char *trimmed = strndup(text + start, end - start);
		const char *parts[1];
		int r;

		if (!trimmed)
			return -ENOMEM;
		parts[0] = trimmed;
		r = append(c, parts, 1);
		free(trimmed);
		return r;
	}
}

/* memparse() accepts K, M, G suffixes: use the largest that divides. */
static void format_size(char *buf, size_t len, uint64_t size)
{
	static const struct {
		unsigned int shift;
		char suffix;
	} units[] = { { 30, 'G' }, { 20, 'M' }, { 10, 'K' } };

	for (unsigned int i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t unit = 1ull << units[i].shift;

		if (size % unit == 0) {
			snprintf(buf, len, "%" PRIu64 "%c", size >> units[i].shift, units[i].suffix);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64, size);
}

int cvmm_cmdline_add_virtio_mmio(struct cvmm_cmdline *c, uint64_t size, uint64_t base,
				 uint32_t irq)
{
	char sz[32], val[96];
	uint64_t end;

	if (!c || size == 0 || __builtin_add_overflow(base, size - 1, &end))
		return -EINVAL;
	format_size(sz, sizeof(sz), size);
	snprintf(val, sizeof(val), "%s@0x%" PRIx64 ":%" PRIu32, sz, base, irq);
	return cvmm_cmdline_add(c, "virtio_mmio.device", val);
}
