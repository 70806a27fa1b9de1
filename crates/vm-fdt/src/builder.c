/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The builder core: libfdt's sequential-write API in a buffer that doubles
 * on -FDT_ERR_NOSPACE, plus the nesting and naming rules libfdt leaves to
 * its caller.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_SIZE 4096u

/* Record the first error; every later call reports it again. */
static int fail(struct cvmm_fdt *f, int err)
{
	if (!f->err)
		f->err = err;
	return f->err;
}

int cvmm_fdt_create(const struct cvmm_fdt_opts *o, struct cvmm_fdt **out)
{
	size_t init = INITIAL_SIZE, max = CVMM_FDT_DEFAULT_MAX_SIZE;
	struct cvmm_fdt *f;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (o) {
		if (o->sz < offsetof(struct cvmm_fdt_opts, boot_cpuid) + sizeof(o->boot_cpuid) ||
		    o->sz > sizeof(*o))
			return -EINVAL;
		if (o->max_size)
			max = o->max_size;
		if (o->initial_size)
			init = o->initial_size;
	}
	/* libfdt sizes are ints; the header alone needs ~100 bytes. */
	if (max > CVMM_FDT_HARD_MAX_SIZE || init > max || init < 256)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->buf = malloc(init);
	if (!f->buf) {
		free(f);
		return -ENOMEM;
	}
	f->size = init;
	f->max = max;
	f->next_phandle = 1;
	f->boot_cpuid = o ? o->boot_cpuid : 0;
	r = fdt_create(f->buf, (int)init);
	if (!r)
		r = fdt_finish_reservemap(f->buf);
	if (r) {
		cvmm_fdt_destroy(f);
		return cvmm_fdt_errno(r);
	}
	*out = f;
	return 0;
}

static void level_clear(struct cvmm_fdt_level *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	memset(l, 0, sizeof(*l));
}

void cvmm_fdt_destroy(struct cvmm_fdt *f)
{
	if (!f)
		return;
	for (unsigned int i = 0; i < CVMM_FDT_MAX_DEPTH; i++)
		level_clear(&f->levels[i]);
	free(f->buf);
	free(f->out);
	free(f);
}

unsigned int cvmm_fdt_depth(const struct cvmm_fdt *f)
{
	return f ? f->depth : 0;
}

/* Double the buffer (up to max); libfdt moves its own state with fdt_resize. */
static int grow(struct cvmm_fdt *f)
{
	size_t nsize;
	void *nbuf;
	int r;

	if (f->size >= f->max)
		return -E2BIG;
	nsize = f->size > f->max / 2 ? f->max : f->size * 2;
	nbuf = malloc(nsize);
	if (!nbuf)
		return -ENOMEM;
	r = fdt_resize(f->buf, nbuf, (int)nsize);
	if (r) {
		free(nbuf);
		return cvmm_fdt_errno(r);
	}
	free(f->buf);
	f->buf = nbuf;
	f->size = nsize;
	return 0;
}

/* Common entry check: not broken, not finished. */
static int usable(struct cvmm_fdt *f)
{
	if (!f)
		return -EINVAL;
	if (f->err)
		return f->err;
	/* Not sticky: the finished blob stays valid. */
	if (f->finished)
		return -EINVAL;
	return 0;
}

/* Remember @name (with @kind prefix) in the innermost node; -EEXIST if seen. */
static int claim_name(struct cvmm_fdt *f, unsigned int depth, char kind, const char *name)
{
	struct cvmm_fdt_level *l = &f->levels[depth];
	size_t len = strlen(name);
	char *copy;

	for (size_t i = 0; i < l->n; i++)
		if (l->names[i][0] == kind && strcmp(l->names[i] + 1, name) == 0)
			return -EEXIST;
	if (l->n >= CVMM_FDT_MAX_NODE_ENTRIES)
		return -E2BIG;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 8;
		char **nn = realloc(l->names, ncap * sizeof(*nn));

		if (!nn)
			return -ENOMEM;
		l->names = nn;
		l->cap = ncap;
	}
	copy = malloc(len + 2);
	if (!copy)
		return -ENOMEM;
	copy[0] = kind;
	memcpy(copy + 1, name, len + 1);
	l->names[l->n++] = copy;
	return 0;
}

int cvmm_fdt_begin_node(struct cvmm_fdt *f, const char *name)
{
	int r = usable(f);

	if (r)
		return r;
	if (!name)
		return fail(f, -EINVAL);
	if (f->depth == 0) {
		/* Exactly one root, named "". */
		if (f->root_seen || name[0] != '\0')
			return fail(f, -EINVAL);
	} else {
		if (!cvmm_fdt_node_name_valid(name) || f->depth >= CVMM_FDT_MAX_DEPTH)
			return fail(f, -EINVAL);
		r = claim_name(f, f->depth - 1, 'n', name);
		if (r)
			return fail(f, r);
	}
	while ((r = fdt_begin_node(f->buf, name)) == -FDT_ERR_NOSPACE) {
		r = grow(f);
		if (r)
			return fail(f, r);
	}
	if (r)
		return fail(f, cvmm_fdt_errno(r));
	f->root_seen = true;
	f->depth++;
	return 0;
}

int cvmm_fdt_end_node(struct cvmm_fdt *f)
{
	int r = usable(f);

	if (r)
		return r;
	if (f->depth == 0)
		return fail(f, -EINVAL);
	while ((r = fdt_end_node(f->buf)) == -FDT_ERR_NOSPACE) {
		r = grow(f);
		if (r)
			return fail(f, r);
	}
	if (r)
		return fail(f, cvmm_fdt_errno(r));
	f->depth--;
	level_clear(&f->levels[f->depth]);
	return 0;
}

/*
 * Reserve @len bytes of value for property @name and return where they go.
 * The pointer is valid until the next builder call.
 */
static int prop_space(struct cvmm_fdt *f, const char *name, size_t len, void **val)
{
	int r = usable(f);

	if (r)
		return r;
	if (f->depth == 0 || !cvmm_fdt_prop_name_valid(name))
		return fail(f, -EINVAL);
	if (len > f->max)
		return fail(f, -E2BIG);
	r = claim_name(f, f->depth - 1, 'p', name);
	if (r)
		return fail(f, r);
	while ((r = fdt_property_placeholder(f->buf, name, (int)len, val)) == -FDT_ERR_NOSPACE) {
		r = grow(f);
		if (r)
			return fail(f, r);
	}
	if (r)
		return fail(f, cvmm_fdt_errno(r));
	return 0;
}

int cvmm_fdt_prop_bytes(struct cvmm_fdt *f, const char *name, const void *data, size_t len)
{
	void *val;
	int r;

	if (f && !f->err && len && !data)
		return fail(f, -EINVAL);
	r = prop_space(f, name, len, &val);
	if (!r && len)
		memcpy(val, data, len);
	return r;
}

int cvmm_fdt_prop_empty(struct cvmm_fdt *f, const char *name)
{
	return cvmm_fdt_prop_bytes(f, name, NULL, 0);
}

/* Room for an array property of @n cells of @width bytes from @v. */
static int array_space(struct cvmm_fdt *f, const char *name, const void *v, size_t n,
		       size_t width, void **val)
{
	if (f && !f->err && n && !v)
		return fail(f, -EINVAL);
	if (f && !f->err && n > f->max / width)
		return fail(f, -E2BIG);
	return prop_space(f, name, n * width, val);
}

int cvmm_fdt_prop_u32_array(struct cvmm_fdt *f, const char *name, const uint32_t *v, size_t n)
{
	void *val;
	int r = array_space(f, name, v, n, sizeof(*v), &val);

	if (r)
		return r;
	for (size_t i = 0; i < n; i++) {
		fdt32_t be = cpu_to_fdt32(v[i]);

		memcpy((char *)val + i * sizeof(be), &be, sizeof(be));
	}
	return 0;
}

int cvmm_fdt_prop_u64_array(struct cvmm_fdt *f, const char *name, const uint64_t *v, size_t n)
{
	void *val;
	int r = array_space(f, name, v, n, sizeof(*v), &val);

	if (r)
		return r;
	for (size_t i = 0; i < n; i++) {
		fdt64_t be = cpu_to_fdt64(v[i]);

		memcpy((char *)val + i * sizeof(be), &be, sizeof(be));
	}
	return 0;
}

int cvmm_fdt_prop_u32(struct cvmm_fdt *f, const char *name, uint32_t v)
{
	return cvmm_fdt_prop_u32_array(f, name, &v, 1);
}

int cvmm_fdt_prop_u64(struct cvmm_fdt *f, const char *name, uint64_t v)
{
	return cvmm_fdt_prop_u64_array(f, name, &v, 1);
}

int cvmm_fdt_prop_string(struct cvmm_fdt *f, const char *name, const char *s)
{
	if (f && !f->err && !s)
		return fail(f, -EINVAL);
	return cvmm_fdt_prop_string_list(f, name, &s, 1);
}

int cvmm_fdt_prop_string_list(struct cvmm_fdt *f, const char *name,
			      const char *const *strs, size_t n)
{
	size_t total = 0;
	char *val;
	int r;

	if (!f)
		return -EINVAL;
	if (f->err)
		return f->err;
	if (n && !strs)
		return fail(f, -EINVAL);
	for (size_t i = 0; i < n; i++) {
		if (!strs[i])
			return fail(f, -EINVAL);
		/* strnlen bounds the scan: a string longer than the blob can hold fails anyway. */
		size_t l = strnlen(strs[i], f->max);

		if (l >= f->max || __builtin_add_overflow(total, l + 1, &total) || total > f->max)
			return fail(f, -E2BIG);
	}
	r = prop_space(f, name, total, (void **)&val);
	if (r)
		return r;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(strs[i]) + 1;

		memcpy(val, strs[i], l);
		val += l;
	}
	return 0;
}

int cvmm_fdt_phandle_alloc(struct cvmm_fdt *f, uint32_t *out)
{
	int r = usable(f);

	if (r)
		return r;
	if (!out)
		return fail(f, -EINVAL);
	if (f->next_phandle == 0 || f->next_phandle >= FDT_MAX_PHANDLE)
		return -ENOSPC;
	*out = f->next_phandle++;
	return 0;
}

int cvmm_fdt_prop_phandle(struct cvmm_fdt *f, uint32_t ph)
{
	int r = usable(f);

	if (r)
		return r;
	if (ph == 0 || ph >= f->next_phandle)
		return fail(f, -EINVAL);
	return cvmm_fdt_prop_u32(f, "phandle", ph);
}

int cvmm_fdt_add_mem_rsv(struct cvmm_fdt *f, uint64_t addr, uint64_t size)
{
	uint64_t end;
	int r = usable(f);

	if (r)
		return r;
	if (size == 0 || __builtin_add_overflow(addr, size, &end))
		return fail(f, -EINVAL);
	if (f->n_rsv >= CVMM_FDT_MAX_RSV)
		return fail(f, -E2BIG);
	f->rsv[f->n_rsv].addr = addr;
	f->rsv[f->n_rsv].size = size;
	f->n_rsv++;
	return 0;
}

/*
 * The sequential-write API closes the reservation map before the first node,
 * so the entries are inserted afterwards through the read-write API on a copy
 * with room for them.
 */
static int finish_blob(struct cvmm_fdt *f)
{
	size_t need, total;
	void *out;
	int r;

	while ((r = fdt_finish(f->buf)) == -FDT_ERR_NOSPACE) {
		r = grow(f);
		if (r)
			return r;
	}
	if (r)
		return cvmm_fdt_errno(r);
	total = fdt_totalsize(f->buf);
	need = total + (size_t)(f->n_rsv + 1) * sizeof(struct fdt_reserve_entry);
	if (need > f->max)
		return -E2BIG;
	out = malloc(need);
	if (!out)
		return -ENOMEM;
	r = fdt_open_into(f->buf, out, (int)need);
	for (unsigned int i = 0; !r && i < f->n_rsv; i++)
		r = fdt_add_mem_rsv(out, f->rsv[i].addr, f->rsv[i].size);
	if (!r) {
		fdt_set_boot_cpuid_phys(out, f->boot_cpuid);
		r = fdt_pack(out);
	}
	if (!r)
		r = fdt_check_full(out, fdt_totalsize(out));
	if (r) {
		free(out);
		return r == -FDT_ERR_NOSPACE ? -E2BIG : cvmm_fdt_errno(r);
	}
	f->out = out;
	f->out_len = fdt_totalsize(out);
	return 0;
}

int cvmm_fdt_finish(struct cvmm_fdt *f, const void **blob, size_t *len)
{
	int r;

	if (!f || !blob || !len)
		return -EINVAL;
	if (f->err)
		return f->err;
	if (!f->finished) {
		if (!f->root_seen || f->depth != 0)
			return fail(f, -EINVAL);
		r = finish_blob(f);
		if (r)
			return fail(f, r);
		f->finished = true;
		/* The sequential-write buffer is no longer needed. */
		free(f->buf);
		f->buf = NULL;
	}
	*blob = f->out;
	*len = f->out_len;
	return 0;
}
