/* SPDX-License-Identifier: Apache-2.0 */
#include <cvmm/vm-superio.h>
#include "cvmm-test.h"
#include "superio-tests.h"

#include <errno.h>
#include <string.h>

struct kbc {
	struct cvmm_i8042 *d;
	unsigned int resets, kbd_irqs, aux_irqs;
};

static void on_reset(void *o) { ((struct kbc *)o)->resets++; }
static void on_kbd(void *o) { ((struct kbc *)o)->kbd_irqs++; }
static void on_aux(void *o) { ((struct kbc *)o)->aux_irqs++; }

static void kbc_init(struct kbc *k)
{
	struct cvmm_i8042_opts o = {
		.sz = sizeof(o), .reset = on_reset, .kbd_trigger = on_kbd,
		.aux_trigger = on_aux, .opaque = k,
	};

	memset(k, 0, sizeof(*k));
	ck_assert_int_eq(cvmm_i8042_create(&o, &k->d), 0);
}

static uint8_t status(struct kbc *k)
{
	uint8_t v;

	ck_assert_int_eq(cvmm_i8042_read(k->d, CVMM_I8042_STATUS, &v), 0);
	return v;
}

static void cmd(struct kbc *k, uint8_t c)
{
	ck_assert_int_eq(cvmm_i8042_write(k->d, CVMM_I8042_STATUS, c), 0);
	ck_assert_uint_eq(status(k) & CVMM_I8042_STR_IBF, 0);
}

static void data(struct kbc *k, uint8_t v)
{
	ck_assert_int_eq(cvmm_i8042_write(k->d, CVMM_I8042_DATA, v), 0);
}

/* Linux's i8042_wait_read + read: the byte must be there already. */
static uint8_t reply(struct kbc *k)
{
	uint8_t v;

	ck_assert_uint_eq(status(k) & CVMM_I8042_STR_OBF, CVMM_I8042_STR_OBF);
	ck_assert_int_eq(cvmm_i8042_read(k->d, CVMM_I8042_DATA, &v), 0);
	return v;
}

static bool obf(struct kbc *k)
{
	return status(k) & CVMM_I8042_STR_OBF;
}

START_TEST(i8042_reset_pulse)
{
	struct kbc k;

	kbc_init(&k);
	cmd(&k, 0xff); /* pulse nothing (bit 0 set) */
	cmd(&k, 0xf1);
	ck_assert_uint_eq(k.resets, 0);
	cmd(&k, 0xfe);
	ck_assert_uint_eq(k.resets, 1);
	cmd(&k, 0xf0); /* pulses bits 0-3 including reset */
	ck_assert_uint_eq(k.resets, 2);
	/* Output port write with the reset bit low. */
	cmd(&k, 0xd1);
	data(&k, 0x03);
	ck_assert_uint_eq(k.resets, 2);
	cmd(&k, 0xd0);
	ck_assert_uint_eq(reply(&k), 0x03);
	cmd(&k, 0xd1);
	data(&k, 0x02);
	ck_assert_uint_eq(k.resets, 3);
	ck_assert(!obf(&k));
	cvmm_i8042_destroy(k.d);
	cvmm_i8042_destroy(NULL);
}
END_TEST

START_TEST(i8042_linux_probe)
{
	struct kbc k;
	uint8_t v, ctr;

	kbc_init(&k);
	v = status(&k);
	ck_assert_uint_ne(v, 0xff); /* 0xff means "no controller" to Linux */
	ck_assert_uint_eq(v & CVMM_I8042_STR_OBF, 0);
	ck_assert_int_eq(cvmm_i8042_read(k.d, 1, &v), -EINVAL);
	ck_assert_int_eq(cvmm_i8042_write(k.d, 2, 0), -EINVAL);
	cmd(&k, 0xaa);
	ck_assert_uint_eq(reply(&k), 0x55);
	ck_assert(!obf(&k));
	ck_assert_uint_eq(status(&k) & CVMM_I8042_STR_SYS, CVMM_I8042_STR_SYS);
	cmd(&k, 0x20);
	ctr = reply(&k);
	ck_assert_uint_eq(ctr & CVMM_I8042_CTR_KBDINT, CVMM_I8042_CTR_KBDINT);
	ck_assert_uint_eq(status(&k) & CVMM_I8042_STR_CMD, CVMM_I8042_STR_CMD);
	/* Linux writes the CTR with interrupts off, then reads it back. */
	cmd(&k, 0x60);
	data(&k, 0x74);
	ck_assert_uint_eq(status(&k) & CVMM_I8042_STR_CMD, 0);
	cmd(&k, 0x20);
	ck_assert_uint_eq(reply(&k), 0x74);
	cmd(&k, 0xab);
	ck_assert_uint_eq(reply(&k), 0x00);
	cmd(&k, 0xa9);
	ck_assert_uint_eq(reply(&k), 0x00);
	/* AUX loopback: the byte comes back flagged as aux data. */
	cmd(&k, 0xd3);
	data(&k, 0x5a);
	ck_assert_uint_eq(status(&k) & CVMM_I8042_STR_AUXDATA, CVMM_I8042_STR_AUXDATA);
	ck_assert_uint_eq(reply(&k), 0x5a);
	ck_assert_uint_eq(status(&k) & CVMM_I8042_STR_AUXDATA, 0);
	cmd(&k, 0xa8);
	cmd(&k, 0x20);
	ck_assert_uint_eq(reply(&k) & CVMM_I8042_CTR_AUXDIS, 0);
	cmd(&k, 0xa7);
	cmd(&k, 0x20);
	ck_assert_uint_eq(reply(&k) & CVMM_I8042_CTR_AUXDIS, CVMM_I8042_CTR_AUXDIS);
	cmd(&k, 0xad);
	cmd(&k, 0x20);
	ck_assert_uint_eq(reply(&k) & CVMM_I8042_CTR_KBDDIS, CVMM_I8042_CTR_KBDDIS);
	cmd(&k, 0xae);
	cmd(&k, 0x20);
	ck_assert_uint_eq(reply(&k) & CVMM_I8042_CTR_KBDDIS, 0);
	/* Mouse commands get "resend": no device, and no hang. */
	cmd(&k, 0xd4);
	data(&k, 0xf2);
	ck_assert_uint_eq(reply(&k), 0xfe);
	/* Unknown commands leave nothing pending: next data goes to the keyboard. */
	cmd(&k, 0x12);
	ck_assert(!obf(&k));
	/* atkbd: reset, identify (translated), LEDs, scan set query, echo. */
	data(&k, 0xff);
	ck_assert_uint_eq(reply(&k), 0xfa);
	ck_assert_uint_eq(reply(&k), 0xaa);
	cmd(&k, 0x60);
	data(&k, 0x45);
	data(&k, 0xf2);
	ck_assert_uint_eq(reply(&k), 0xfa);
	ck_assert_uint_eq(reply(&k), 0xab);
	ck_assert_uint_eq(reply(&k), 0x41);
	data(&k, 0xed);
	ck_assert_uint_eq(reply(&k), 0xfa);
	data(&k, 0x07);
	ck_assert_uint_eq(reply(&k), 0xfa);
	data(&k, 0xf0);
	ck_assert_uint_eq(reply(&k), 0xfa);
	data(&k, 0x00);
	ck_assert_uint_eq(reply(&k), 0xfa);
	ck_assert_uint_eq(reply(&k), 0x02);
	data(&k, 0xee);
	ck_assert_uint_eq(reply(&k), 0xee);
	ck_assert(!obf(&k));
	/* An empty data port repeats the last byte. */
	ck_assert_int_eq(cvmm_i8042_read(k.d, CVMM_I8042_DATA, &v), 0);
	ck_assert_uint_eq(v, 0xee);
	ck_assert_uint_eq(k.resets, 0);
	cvmm_i8042_destroy(k.d);
}
END_TEST

START_TEST(i8042_irqs)
{
	struct kbc k;
	static const uint8_t cad[] = { 0x1d, 0x38, 0xe0, 0x53 };

	kbc_init(&k);
	ck_assert_uint_eq(cvmm_i8042_push_kbd(k.d, cad, sizeof(cad)), sizeof(cad));
	ck_assert_uint_eq(k.kbd_irqs, 1);
	ck_assert(cvmm_i8042_irq_pending(k.d));
	for (size_t i = 0; i < sizeof(cad); i++) {
		ck_assert_uint_eq(reply(&k), cad[i]);
		/* Each following byte entering the output buffer is an edge. */
		ck_assert_uint_eq(k.kbd_irqs, i + 1 < sizeof(cad) ? i + 2 : sizeof(cad));
	}
	ck_assert(!cvmm_i8042_irq_pending(k.d));
	/* Interrupts off in the CTR: no trigger, no pending level. */
	cmd(&k, 0x60);
	data(&k, 0x44);
	cmd(&k, 0xaa);
	ck_assert_uint_eq(k.kbd_irqs, sizeof(cad));
	ck_assert(!cvmm_i8042_irq_pending(k.d));
	ck_assert_uint_eq(reply(&k), 0x55);
	/* Aux data raises IRQ 12 only with AUXINT. */
	cmd(&k, 0xd3);
	data(&k, 1);
	ck_assert_uint_eq(k.aux_irqs, 0);
	reply(&k);
	cmd(&k, 0x60);
	data(&k, 0x47);
	cmd(&k, 0xd3);
	data(&k, 2);
	ck_assert_uint_eq(k.aux_irqs, 1);
	ck_assert_uint_eq(k.kbd_irqs, sizeof(cad));
	ck_assert_uint_eq(reply(&k), 2);
	/* A full queue refuses more bytes instead of overwriting. */
	for (unsigned int i = 0; i < CVMM_I8042_QUEUE_SIZE + 4; i++)
		cmd(&k, 0xaa);
	ck_assert_uint_eq(cvmm_i8042_push_kbd(k.d, cad, 1), 0);
	for (unsigned int i = 0; i < CVMM_I8042_QUEUE_SIZE; i++)
		ck_assert_uint_eq(reply(&k), 0x55);
	ck_assert(!obf(&k));
	cvmm_i8042_destroy(k.d);
}
END_TEST

START_TEST(i8042_save_restore)
{
	struct kbc a, b;
	struct cvmm_i8042_state st, bad, after;

	kbc_init(&a);
	kbc_init(&b);
	cmd(&a, 0xd3);
	data(&a, 0x33);
	cmd(&a, 0xaa);
	cmd(&a, 0x60); /* mid-command: the CTR byte is still to come */
	ck_assert_int_eq(cvmm_i8042_save(a.d, &st), 0);
	ck_assert_uint_eq(st.queue_len, 2);
	ck_assert_uint_eq(st.queue_aux, 1);
	ck_assert_int_eq(cvmm_i8042_restore(b.d, &st), 0);
	data(&a, 0x65);
	data(&b, 0x65);
	for (int i = 0; i < 3; i++) {
		uint8_t va = reply(&a), vb;

		if (i == 0)
			ck_assert_uint_eq(status(&b) & CVMM_I8042_STR_AUXDATA, CVMM_I8042_STR_AUXDATA);
		vb = reply(&b);
		ck_assert_uint_eq(va, vb);
		if (i == 1)
			cmd(&a, 0x20), cmd(&b, 0x20);
	}
	ck_assert(!obf(&a) && !obf(&b));

	ck_assert_int_eq(cvmm_i8042_save(b.d, &st), 0);
#define REJECT(stmt)                                                      \
	do {                                                              \
		bad = st;                                                 \
		stmt;                                                     \
		ck_assert_int_eq(cvmm_i8042_restore(b.d, &bad), -EINVAL); \
		ck_assert_int_eq(cvmm_i8042_save(b.d, &after), 0);        \
		ck_assert_mem_eq(&after, &st, sizeof(st));                \
	} while (0)
	REJECT(bad.version = 99);
	REJECT(bad.ctr = 0x80);
	REJECT(bad.status_flags = CVMM_I8042_STR_OBF);
	REJECT(bad.pending_cmd = 0xaa);
	REJECT(bad.kbd_pending = 0xff);
	REJECT(bad.outport = 0x02);
	REJECT(bad.scan_set = 0);
	REJECT(bad.scan_set = 4);
	REJECT(bad.queue_len = CVMM_I8042_QUEUE_SIZE + 1);
	REJECT(bad.queue_aux = 1);          /* aux bit past queue_len (0) */
	REJECT(bad.queue[3] = 9);
	REJECT(bad.reserved = 1);
#undef REJECT
	bad = st;
	bad.queue_len = CVMM_I8042_QUEUE_SIZE;
	bad.queue_aux = 0x8000;
	memset(bad.queue, 0x11, sizeof(bad.queue));
	ck_assert_int_eq(cvmm_i8042_restore(b.d, &bad), 0);
	for (int i = 0; i < CVMM_I8042_QUEUE_SIZE - 1; i++)
		ck_assert_uint_eq(reply(&b), 0x11);
	ck_assert_uint_eq(status(&b) & CVMM_I8042_STR_AUXDATA, CVMM_I8042_STR_AUXDATA);
	ck_assert_int_eq(cvmm_i8042_restore(b.d, NULL), -EINVAL);
	cvmm_i8042_destroy(a.d);
	cvmm_i8042_destroy(b.d);
}
END_TEST

START_TEST(i8042_hostile_exhaustive)
{
	struct kbc k;
	unsigned int perm[2 * 256];
	uint64_t seed = 0xbeef + (uint64_t)_i;
	struct cvmm_i8042_opts o = { .sz = sizeof(o) };

	kbc_init(&k);
	test_shuffle(perm, 2 * 256, &seed);
	for (unsigned int i = 0; i < 2 * 256; i++) {
		uint64_t port = (perm[i] / 256) ? CVMM_I8042_STATUS : CVMM_I8042_DATA;
		uint8_t val = (uint8_t)perm[i], v;
		struct cvmm_i8042_state st;
		struct cvmm_i8042 *fresh;
		unsigned int n;

		ck_assert_int_eq(cvmm_i8042_write(k.d, port, val), 0);
		v = status(&k);
		ck_assert_uint_eq(v & CVMM_I8042_STR_IBF, 0);
		ck_assert_int_eq(cvmm_i8042_save(k.d, &st), 0);
		ck_assert_int_eq(cvmm_i8042_create(&o, &fresh), 0);
		ck_assert_int_eq(cvmm_i8042_restore(fresh, &st), 0);
		cvmm_i8042_destroy(fresh);
		ck_assert_int_eq(cvmm_i8042_irq_pending(k.d),
				 st.queue_len && ((st.queue_aux & 1) ? (st.ctr & 2) : (st.ctr & 1)));
		/* Sometimes drain: the queue always empties in bounded reads. */
		if (test_rand(&seed) % 3 == 0) {
			for (n = 0; obf(&k); n++) {
				ck_assert_uint_le(n, CVMM_I8042_QUEUE_SIZE);
				ck_assert_int_eq(cvmm_i8042_read(k.d, CVMM_I8042_DATA, &v), 0);
			}
		}
	}
	/* Whatever happened, the controller still answers a self-test. */
	cmd(&k, 0x60);
	data(&k, 0x45);
	while (obf(&k))
		reply(&k);
	cmd(&k, 0xaa);
	ck_assert_uint_eq(reply(&k), 0x55);
	cvmm_i8042_destroy(k.d);
}
END_TEST

Suite *i8042_suite(void)
{
	Suite *s = suite_create("i8042");
	TCase *tc = tcase_create("controller");

	tcase_add_test(tc, i8042_reset_pulse);
	tcase_add_test(tc, i8042_linux_probe);
	tcase_add_test(tc, i8042_irqs);
	tcase_add_test(tc, i8042_save_restore);
	tcase_add_loop_test(tc, i8042_hostile_exhaustive, 0, 8);
	suite_add_tcase(s, tc);
	return s;
}
