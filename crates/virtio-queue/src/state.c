/* SPDX-License-Identifier: Apache-2.0 */
/* Queue state save/restore for snapshots and live migration. */
#include "vq-internal.h"

void cvmm_virtq_state_save(const struct cvmm_virtq *q, struct cvmm_virtq_state *s)
{
	memset(s, 0, sizeof(*s));
	s->version = CVMM_VIRTQ_STATE_VERSION;
	s->error = q->error;
	s->features = q->features;
	s->desc_gpa = q->desc_gpa;
	s->avail_gpa = q->avail_gpa;
	s->used_gpa = q->used_gpa;
	s->size = q->active ? q->size : q->cfg_size;
	s->next_avail = q->next_avail;
	s->next_used = q->next_used;
	s->signalled_used = q->signalled_used;
	/* any count of 0x8000 or more means "notify" */
	s->used_since_signal = (uint16_t)CVMM_MIN(q->used_since_signal, 0xffffu);
	s->avail_wrap = q->avail_wrap;
	s->used_wrap = q->used_wrap;
	s->signalled_valid = q->signalled_valid;
	s->active = q->active;
}

int cvmm_virtq_state_restore(struct cvmm_virtq *q, const struct cvmm_virtq_state *s)
{
	bool packed = (s->features & CVMM_VIRTIO_F_RING_PACKED) != 0;
	struct cvmm_virtq t;
	int ret;

	/* The state may come from another host: check it like guest input. */
	if (s->version != CVMM_VIRTQ_STATE_VERSION || s->size > q->max_size ||
	    s->avail_wrap > 1 || s->used_wrap > 1 || s->signalled_valid > 1 ||
	    s->active > 1 || s->error > 0)
		return -EINVAL;
	if (packed && s->active && (s->next_avail >= s->size || s->next_used >= s->size))
		return -EINVAL;
	/* Build the new queue aside: a refused state (rings outside guest RAM,
	 * say) must leave @q exactly as it was, not reset and broken. */
	t = *q;
	cvmm_virtq_reset(&t);
	cvmm_virtq_set_size(&t, s->size);
	cvmm_virtq_set_addrs(&t, s->desc_gpa, s->avail_gpa, s->used_gpa);
	cvmm_virtq_set_features(&t, s->features);
	if (s->active) {
		ret = cvmm_virtq_activate(&t);
		if (ret)
			return ret;
		t.next_avail = s->next_avail;
		t.shadow_avail = s->next_avail;	/* re-read avail->idx on the next pop */
		t.next_used = s->next_used;
		t.signalled_used = s->signalled_used;
		t.used_since_signal = s->used_since_signal;
		cvmm_vq_set_avail_wrap(&t, s->avail_wrap);
		cvmm_vq_set_used_wrap(&t, s->used_wrap);
		t.signalled_valid = s->signalled_valid;
	}
	if (s->error) {
		t.error = s->error;
		t.status = s->error;
	}
	*q = t;
	return 0;
}
