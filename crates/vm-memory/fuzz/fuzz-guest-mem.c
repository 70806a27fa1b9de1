/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for vm-memory: a small fuzz-chosen layout (2-3 regions
 * with guard pages, one near the top of the address space), then a list of
 * fuzz-chosen operations with arbitrary 64-bit addresses and lengths. Each
 * result is checked against a simple linear model of the layout; guard
 * pages turn any stray host access into a crash the fuzzer reports.
 */
#include <cvmm/vm-memory.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PAGE CVMM_GUEST_PAGE_SIZE
#define MAX_PAGES 16u
#define BUF_MAX (4 * MAX_PAGES * PAGE)

#define CHECK(c)                                                                   \
	do {                                                                       \
		if (!(c)) {                                                        \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
				__LINE__, #c);                                     \
			abort();                                                   \
		}                                                                  \
	} while (0)

struct cursor {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct cursor *c, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes && c->n; i++, c->n--)
		v |= (uint64_t)*c->p++ << (8 * i);
	return v;
}

/* The model: region bounds and which pages the library should report dirty. */
struct mregion {
	uint64_t gpa, size;
	uint8_t *host;
	bool log;
	uint8_t dirty[MAX_PAGES];
};

static struct mregion mr[3];
static unsigned int nmr;

static struct mregion *model_find(uint64_t gpa)
{
	for (unsigned int i = 0; i < nmr; i++)
		if (gpa >= mr[i].gpa && gpa - mr[i].gpa < mr[i].size)
			return &mr[i];
	return NULL;
}

/* gpa + len does not fit in 64 bits (ending exactly at 2^64 counts). */
static bool wraps(uint64_t gpa, uint64_t len)
{
	return len && gpa + len <= gpa;
}

/* 0, -EINVAL (wraps) or -EFAULT (some byte not RAM), walking region by region. */
static int model_range(uint64_t gpa, uint64_t len)
{
	uint64_t end = gpa + len;

	if (wraps(gpa, len))
		return -EINVAL;
	while (gpa < end) {
		struct mregion *r = model_find(gpa);

		if (!r)
			return -EFAULT;
		gpa = r->gpa + r->size;
	}
	return 0;
}

static void model_mark(uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < nmr; i++) {
		uint64_t a, z, end = gpa + len < gpa ? UINT64_MAX : gpa + len;

		if (!mr[i].log || !len)
			continue;
		a = gpa > mr[i].gpa ? gpa : mr[i].gpa;
		z = end < mr[i].gpa + mr[i].size ? end : mr[i].gpa + mr[i].size;
		for (uint64_t p = a; p < z; p = (p | (PAGE - 1)) + 1)
			mr[i].dirty[(p - mr[i].gpa) / PAGE] = 1;
	}
}

static uint64_t pick_gpa(struct cursor *c)
{
	unsigned int mode = (unsigned int)take(c, 1);
	struct mregion *r = &mr[(mode >> 2) % nmr];
	int16_t delta = (int16_t)take(c, 2);

	switch (mode & 3) {
	case 0:
		return take(c, 8);
	case 1:
		return r->gpa + (uint64_t)(int64_t)delta;
	case 2:
		return r->gpa + r->size + (uint64_t)(int64_t)delta;
	default:
		return UINT64_MAX - (uint16_t)delta;
	}
}

static uint64_t pick_len(struct cursor *c, uint64_t gpa)
{
	unsigned int mode = (unsigned int)take(c, 1);

	switch (mode & 3) {
	case 0:
		return take(c, 8);
	case 1:
		return take(c, 2);
	case 2: /* around the wrap point */
		return (UINT64_MAX - gpa) + (uint64_t)(int64_t)(int8_t)take(c, 1);
	default:
		return (take(c, 1) % 5) * PAGE;
	}
}

static uint8_t buf[BUF_MAX], ref[BUF_MAX];

/* Read the model's view of [gpa, gpa+len) straight from the region mappings. */
static void model_read(uint64_t gpa, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		struct mregion *r = model_find(gpa + i);

		CHECK(r);
		out[i] = r->host[gpa + i - r->gpa];
	}
}

static void check_translate(const struct cvmm_guest_mem *m, uint64_t gpa, uint64_t want,
			    bool w)
{
	struct mregion *r = model_find(gpa);
	uint64_t len = want;
	uint8_t *p = w ? cvmm_guest_mem_translate_write(m, gpa, &len)
		       : cvmm_guest_mem_translate(m, gpa, &len);

	if (!r) {
		CHECK(!p && len == 0);
		return;
	}
	CHECK(p == r->host + (gpa - r->gpa));
	CHECK(len <= want);
	CHECK(len <= r->size - (gpa - r->gpa));   /* stays inside the mapping */
	CHECK(want == 0 || len > 0);
	CHECK(len == want || len == r->size - (gpa - r->gpa));
	if (len)
		(void)*(volatile uint8_t *)(p + len - 1);
}

static void run_op(struct cvmm_guest_mem *m, struct cursor *c)
{
	unsigned int op = (unsigned int)take(c, 1) % 12;
	uint64_t gpa = pick_gpa(c), len = pick_len(c, gpa);
	int expect = model_range(gpa, len), r;

	switch (op) {
	case 0:
		check_translate(m, gpa, len, false);
		break;
	case 1:
		check_translate(m, gpa, len, true);
		break;
	case 2: {
		struct mregion *mm = model_find(gpa);
		uint8_t *p = cvmm_guest_mem_ptr(m, gpa, len);
		bool fits = mm && len <= mm->size - (gpa - mm->gpa);

		CHECK((p != NULL) == fits);
		if (p)
			CHECK(p == mm->host + (gpa - mm->gpa));
		CHECK(cvmm_guest_mem_range_valid(m, gpa, len) == (expect == 0));
		break;
	}
	case 3: /* read */
		if (len > BUF_MAX && expect == 0)
			len = BUF_MAX;
		if (len > BUF_MAX)
			break;
		expect = model_range(gpa, len);
		memset(buf, 0xa5, len);
		r = cvmm_guest_mem_read(m, gpa, buf, len);
		CHECK(r == expect);
		if (!r) {
			model_read(gpa, ref, len);
			CHECK(memcmp(buf, ref, len) == 0);
		} else {
			for (size_t i = 0; i < len; i++)
				CHECK(buf[i] == 0xa5);  /* nothing copied on failure */
		}
		break;
	case 4:   /* write */
	case 5: { /* fill */
		uint8_t v = (uint8_t)take(c, 1);

		if (len > BUF_MAX && expect == 0)
			len = BUF_MAX;
		if (len > BUF_MAX)
			break;
		expect = model_range(gpa, len);
		if (expect == 0 && len)
			model_read(gpa, ref, len);
		memset(buf, v, len);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)(buf[i] + i);
		r = op == 4 ? cvmm_guest_mem_write(m, gpa, buf, len)
			    : cvmm_guest_mem_fill(m, gpa, v, len);
		CHECK(r == expect);
		if (r == 0 && len) {
			if (op == 5)
				memset(buf, v, len);
			model_read(gpa, ref, len);
			CHECK(memcmp(buf, ref, len) == 0);
			model_mark(gpa, len);
		}
		break;
	}
	case 6: { /* iovec */
		struct iovec iov[4];
		unsigned int max = (unsigned int)take(c, 1) % 5;
		uint64_t at = gpa, total = 0;

		r = cvmm_guest_mem_iovec(m, gpa, len, iov, max);
		if (expect) {
			CHECK(r == expect);
			break;
		}
		if (r == -ENOBUFS)
			break;
		CHECK(r >= 0 && (unsigned int)r <= max);
		for (int i = 0; i < r; i++) {
			struct mregion *mm = model_find(at);

			CHECK(mm && iov[i].iov_len > 0);
			CHECK((uint8_t *)iov[i].iov_base == mm->host + (at - mm->gpa));
			CHECK(iov[i].iov_len <= mm->size - (at - mm->gpa));
			at += iov[i].iov_len;
			total += iov[i].iov_len;
		}
		CHECK(total == len);
		break;
	}
	case 7: { /* typed read of 1, 2, 4, 8 bytes */
		unsigned int sz = 1u << (take(c, 1) & 3);
		uint64_t v = 0, w = 0;

		expect = model_range(gpa, sz);
		switch (sz) {
		case 1: { uint8_t x; r = cvmm_guest_mem_read_u8(m, gpa, &x); v = x; break; }
		case 2: { uint16_t x; r = cvmm_guest_mem_read_u16(m, gpa, &x); v = x; break; }
		case 4: { uint32_t x; r = cvmm_guest_mem_read_u32(m, gpa, &x); v = x; break; }
		default: r = cvmm_guest_mem_read_u64(m, gpa, &v); break;
		}
		CHECK(r == (expect ? -EFAULT : 0));
		if (!r) {
			model_read(gpa, (uint8_t *)&w, sz);
			CHECK(v == w);
		}
		break;
	}
	case 8: { /* typed write */
		unsigned int sz = 1u << (take(c, 1) & 3);
		uint64_t v = take(c, 8), w = 0;

		expect = model_range(gpa, sz);
		switch (sz) {
		case 1: r = cvmm_guest_mem_write_u8(m, gpa, (uint8_t)v); break;
		case 2: r = cvmm_guest_mem_write_u16(m, gpa, (uint16_t)v); break;
		case 4: r = cvmm_guest_mem_write_u32(m, gpa, (uint32_t)v); break;
		default: r = cvmm_guest_mem_write_u64(m, gpa, v); break;
		}
		CHECK(r == (expect ? -EFAULT : 0));
		if (!r) {
			model_read(gpa, (uint8_t *)&w, sz);
			CHECK(memcmp(&w, &v, sz) == 0);
			model_mark(gpa, sz);
		}
		break;
	}
	case 9:
		cvmm_guest_mem_mark_dirty(m, gpa, len);
		model_mark(gpa, len);
		break;
	case 10:
	case 11: { /* get_and_clear */
		uint64_t bm[3] = { 0, ~0ull, ~0ull };
		struct mregion *mm = model_find(gpa);
		long want = 0, got;

		if (!len || (gpa | len) & (PAGE - 1) || wraps(gpa, len))
			want = -EINVAL;
		else if (!mm || len > mm->size - (gpa - mm->gpa))
			want = -EFAULT;
		else if (!mm->log)
			want = -ENODATA;
		got = cvmm_guest_mem_dirty_get_and_clear(m, gpa, len, bm);
		if (want) {
			CHECK(got == want);
			break;
		}
		CHECK(bm[1] == ~0ull);    /* one word at most for 16 pages */
		for (uint64_t i = 0; i < len / PAGE; i++) {
			uint64_t pg = (gpa - mm->gpa) / PAGE + i;

			CHECK(((bm[0] >> i) & 1) == mm->dirty[pg]);
			want += mm->dirty[pg];
			mm->dirty[pg] = 0;
		}
		CHECK(got == want);
		break;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t c_base[] = { 0xFFFFFFFFFFFE0000ull, 0x100000000ull,
					   0xC0000000ull - MAX_PAGES * PAGE, 0x8000000000000000ull };
	struct cursor c = { data, size };
	struct cvmm_guest_mem *m;
	unsigned int shape = (unsigned int)take(&c, 1);
	uint64_t sizes = take(&c, 2);

	if (cvmm_guest_mem_create(&m))
		return 0;
	memset(mr, 0, sizeof(mr));
	nmr = 2 + (shape & 1);
	mr[0].gpa = 0;
	mr[0].size = (1 + (sizes & 15)) * PAGE;
	mr[0].log = true;
	/* B directly after A (a crossing) or after a one-page hole. */
	mr[1].gpa = mr[0].size + ((shape & 2) ? PAGE : 0);
	mr[1].size = (1 + ((sizes >> 4) & 15)) * PAGE;
	mr[2].gpa = c_base[(shape >> 2) & 3];
	mr[2].size = (1 + ((sizes >> 8) & 15)) * PAGE;
	mr[2].log = true;
	for (unsigned int i = 0; i < nmr; i++) {
		struct cvmm_mem_region_opts o = {
			.sz = sizeof(o), .gpa = mr[i].gpa, .size = mr[i].size,
			.backing = i == 1 ? CVMM_MEM_MEMFD : CVMM_MEM_ANON,
			.flags = CVMM_MEM_F_GUARD | (mr[i].log ? CVMM_MEM_F_DIRTY_LOG : 0),
			.fd = -1,
		};

		if (cvmm_guest_mem_add_region(m, &o)) {
			cvmm_guest_mem_destroy(m);
			return 0;
		}
		mr[i].host = cvmm_guest_mem_find(m, mr[i].gpa)->host;
	}
	CHECK(cvmm_guest_mem_num_regions(m) == nmr);
	for (int i = 0; i < 64 && c.n; i++)
		run_op(m, &c);
	cvmm_guest_mem_destroy(m);
	return 0;
}
