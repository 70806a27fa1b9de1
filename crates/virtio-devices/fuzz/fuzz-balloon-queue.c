/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: what a guest sends a virtio-balloon on its queues
 * (inflate, deflate, statistics, free page reporting) through the real
 * virtio-mmio transport and virtqueues in a fuzz-owned guest memory:
 * hostile page numbers, buffer lengths, reported ranges, chains that lie
 * (fuzz-vq.h has the harness and the input format; header bit 3 leaves the
 * statistics queue out, so reporting moves to queue 2).
 *
 * Invariants, per KICK whose chains did not lie and left the queue whole:
 *  - every inflate/deflate/reporting buffer comes back, with used length 0;
 *    the statistics queue keeps at most one;
 *  - the counters move exactly as the buffers say: one page number per 4
 *    bytes readable, inflated/deflated when inside RAM, refused otherwise;
 *    a reported range adds its pages when whole 4 KiB pages inside RAM,
 *    else one refusal;
 *  - in the canary area (fuzz-vq.h), a page reads zero afterwards exactly
 *    when an inflated page number or a reported range named it.
 * Always: nothing outside guest RAM is touched (guard pages, ASan).
 */
#include <cvmm/virtio-devices/balloon.h>

#include <stdlib.h>
#include <string.h>

#include "fuzz-vq.h"

#define PG 4096u
#define CANARY 0xa5
#define NCAN ((FVQ_RAM - FVQ_CANARY) / PG)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fvq F;
static struct cvmm_balloon *B;
static unsigned int report_q;    /* transport index of the reporting queue */
static bool stats_q;

/* What the KICK about to happen should do. */
static struct cvmm_balloon_counters before;
static uint64_t exp_inf, exp_def, exp_ref, exp_rep, exp_rep_ref;
static bool named[NCAN];
/* A page released under the device's feet (rings, indirect tables, a
 * buffer of this batch) changes what it reads next: no exact model then. */
static bool self_release;
static bool holds[FVQ_RAM / PG];

static void name_page(uint64_t gpa, bool inflate)
{
	if (gpa < 0x20000 || (inflate && holds[gpa / PG]))
		self_release = true;
	if (gpa >= FVQ_CANARY && gpa < FVQ_RAM)
		named[(gpa - FVQ_CANARY) / PG] = true;
}

static void before_kick(struct fvq *f, unsigned int q)
{
	const struct fvq_chain *pend[FVQ_QSIZE];
	static uint8_t buf[6 * 65536];
	unsigned int n = fvq_pending(f, q, pend);

	cvmm_balloon_get_counters(B, &before);
	exp_inf = exp_def = exp_ref = exp_rep = exp_rep_ref = 0;
	memset(named, 0, sizeof(named));
	memset(holds, 0, sizeof(holds));
	self_release = false;
	for (unsigned int i = 0; i < n; i++)
		for (unsigned int k = 0; k < pend[i]->nout + pend[i]->nin; k++) {
			uint64_t a = pend[i]->buf[k].gpa, l = pend[i]->buf[k].len;

			for (uint64_t p = a & ~(uint64_t)(PG - 1); p < a + l && p < FVQ_RAM; p += PG)
				holds[p / PG] = true;
		}
	for (unsigned int i = 0; i < n; i++) {
		const struct fvq_chain *c = pend[i];

		if (q == report_q && report_q) {
			for (unsigned int k = 0; k < c->nout + c->nin; k++) {
				uint64_t a = c->buf[k].gpa, l = c->buf[k].len;

				if (!l || (a | l) % PG || a >= FVQ_RAM || l > FVQ_RAM - a) {
					exp_rep_ref++;
					continue;
				}
				exp_rep += l / PG;
				for (uint64_t p = a; p < a + l; p += PG)
					name_page(p, false);
			}
		} else if (q < 2) {
			size_t got = fvq_readable(f, c, buf, sizeof(buf));

			for (size_t k = 0; k + 4 <= got; k += 4) {
				uint64_t pfn = buf[k] | buf[k + 1] << 8 | buf[k + 2] << 16 |
					       (uint64_t)buf[k + 3] << 24;

				if (pfn * PG >= FVQ_RAM) {
					exp_ref++;
					continue;
				}
				if (q == 0) {
					exp_inf++;
					name_page(pfn * PG, true);
				} else {
					exp_def++;
				}
			}
		}
	}
	/* The guest releases its own rings or buffers: from now on what the
	 * driver helper believes is no longer what is there. */
	if (self_release)
		f->lied = true;
}

static void used(struct fvq *f, const struct fvq_chain *c, uint32_t len)
{
	(void)f;
	if (len != 0)
		abort(); /* the balloon writes nothing into a buffer */
	(void)c;
}

static void after_kick(struct fvq *f, unsigned int q)
{
	struct cvmm_balloon_counters now;


	if (fvq_needs_reset(f) || f->lied)
		goto refill; /* a chain broke the queue: the device stopped there */
	if (stats_q && q == 2) {
		if (fvq_in_flight(f, q) > 1)
			abort(); /* it keeps one statistics buffer, not more */
		goto refill;
	}
	if (fvq_in_flight(f, q))
		abort(); /* a buffer was not given back */
	cvmm_balloon_get_counters(B, &now);
	if (now.inflated - before.inflated != exp_inf || now.deflated - before.deflated != exp_def ||
	    now.refused - before.refused != exp_ref || now.reported - before.reported != exp_rep ||
	    now.report_refused - before.report_refused != exp_rep_ref)
		abort();
	for (unsigned int p = 0; p < NCAN; p++) {
		const uint8_t *h = f->ram + FVQ_CANARY + (uint64_t)p * PG;
		bool zero = !h[0] && !memcmp(h, h + 1, PG - 1);

		/* nothing else writes there (payloads go to the data area) */
		if (named[p] != zero)
			abort(); /* named yet still there, or released unnamed */
	}
refill:
	memset(f->ram + FVQ_CANARY, CANARY, FVQ_RAM - FVQ_CANARY);
}

static void dev_op(struct fvq *f)
{
	uint8_t k = fvq_u8(f);

	if (k & 1)
		cvmm_balloon_set_target(B, fvq_u32(f));
	else
		(void)cvmm_balloon_stats_request(B);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct fvq_hooks h = { dev_op, used, before_kick, after_kick };
	struct cvmm_balloon_opts o = { .sz = sizeof(o), .num_pages = 16, .deflate_on_oom = true,
				       .stats = true, .free_page_reporting = true, .queue_size = 64 };

	if (!F.mem)
		fvq_setup(&F, NULL);
	if (!size)
		return 0;
	o.em = F.em;
	if (cvmm_balloon_create(&o, &B))
		abort();
	F.in = data;
	F.left = size;
	/* header bit 3: the statistics queue is left out (fvq_start drops
	 * the lowest wanted feature, STATS_VQ) */
	stats_q = !(data[0] & 8);
	report_q = stats_q ? 3 : 2;
	if (!fvq_start(&F, cvmm_balloon_device(B), stats_q ? 4 : 3,
		       CVMM_VIRTIO_BALLOON_F_STATS_VQ | CVMM_VIRTIO_BALLOON_F_DEFLATE_ON_OOM |
			       CVMM_VIRTIO_BALLOON_F_PAGE_REPORTING, CANARY))
		abort();
	fvq_run(&F, &h);
	fvq_stop(&F);
	cvmm_balloon_destroy(B);
	return 0;
}
