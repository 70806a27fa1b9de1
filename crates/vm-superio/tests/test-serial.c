/* SPDX-License-Identifier: Apache-2.0 */
#include <cvmm/vm-superio.h>
#include "cvmm-test.h"
#include "superio-tests.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct uart {
	struct cvmm_serial *s;
	unsigned int triggers;
	unsigned int room_calls;
	uint8_t out[8192];
	size_t out_len;
};

static void on_trigger(void *opaque)
{
	((struct uart *)opaque)->triggers++;
}

static void on_room(void *opaque)
{
	((struct uart *)opaque)->room_calls++;
}

static void on_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct uart *u = opaque;

	for (size_t i = 0; i < len && u->out_len < sizeof(u->out); i++)
		u->out[u->out_len++] = buf[i];
}

static void uart_init(struct uart *u)
{
	struct cvmm_serial_opts o = {
		.sz = sizeof(o), .trigger = on_trigger, .write = on_write,
		.input_room = on_room, .opaque = u,
	};

	memset(u, 0, sizeof(*u));
	ck_assert_int_eq(cvmm_serial_create(&o, &u->s), 0);
}

static uint8_t rd(struct uart *u, unsigned int off)
{
	uint8_t v = 0x5a;

	ck_assert_int_eq(cvmm_serial_read(u->s, off, &v), 0);
	return v;
}

static void wr(struct uart *u, unsigned int off, uint8_t v)
{
	ck_assert_int_eq(cvmm_serial_write(u->s, off, v), 0);
}

START_TEST(serial_power_on)
{
	struct uart u;
	struct cvmm_serial_opts bad = { .sz = sizeof(bad) - 1 };
	struct cvmm_serial *s;
	uint8_t v;

	ck_assert_int_eq(cvmm_serial_create(&bad, &s), -EINVAL);
	ck_assert_int_eq(cvmm_serial_create(NULL, &s), -EINVAL);
	uart_init(&u);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_LSR), CVMM_SERIAL_LSR_THRE | CVMM_SERIAL_LSR_TEMT);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR), CVMM_SERIAL_IIR_NONE);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_MSR), 0xb0);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IER), 0);
	ck_assert(!cvmm_serial_irq_pending(u.s));
	ck_assert_int_eq(cvmm_serial_read(u.s, 8, &v), -EINVAL);
	ck_assert_uint_eq(v, 0xff);
	ck_assert_int_eq(cvmm_serial_write(u.s, 8, 0), -EINVAL);
	ck_assert_int_eq(cvmm_serial_write(u.s, UINT64_MAX, 0), -EINVAL);
	ck_assert_uint_eq(u.triggers, 0);
	cvmm_serial_destroy(u.s);
	cvmm_serial_destroy(NULL);
}
END_TEST

START_TEST(serial_dlab)
{
	struct uart u;

	uart_init(&u);
	wr(&u, CVMM_SERIAL_LCR, 0x83);
	wr(&u, CVMM_SERIAL_DLL, 0x01);
	wr(&u, CVMM_SERIAL_DLM, 0xa5);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_DLL), 0x01);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_DLM), 0xa5);
	ck_assert_uint_eq(u.out_len, 0); /* divisor writes are not data */
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IER), 0xa5);
	wr(&u, CVMM_SERIAL_LCR, 0x03);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IER), 0); /* IER untouched by DLM */
	wr(&u, CVMM_SERIAL_IER, 0xff);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IER), 0x0f);
	wr(&u, CVMM_SERIAL_IER, 0);
	wr(&u, CVMM_SERIAL_RBR_THR, 'x');
	ck_assert_uint_eq(u.out_len, 1);
	ck_assert_uint_eq(u.out[0], 'x');
	wr(&u, CVMM_SERIAL_LCR, 0x80);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_DLL), 0x01);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_DLM), 0xa5);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_LCR), 0x80);
	wr(&u, CVMM_SERIAL_SCR, 0x3c);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_SCR), 0x3c);
	cvmm_serial_destroy(u.s);
}
END_TEST

START_TEST(serial_thre)
{
	struct uart u;

	uart_init(&u);
	wr(&u, CVMM_SERIAL_IER, CVMM_SERIAL_IER_THRE);
	/* Enabling THRE with an empty transmitter raises it at once. */
	ck_assert_uint_eq(u.triggers, 1);
	ck_assert(cvmm_serial_irq_pending(u.s));
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR), CVMM_SERIAL_IIR_THRE);
	/* Reading IIR that reported THRE clears it. */
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR), CVMM_SERIAL_IIR_NONE);
	ck_assert(!cvmm_serial_irq_pending(u.s));
	wr(&u, CVMM_SERIAL_RBR_THR, 'a');
	ck_assert_uint_eq(u.triggers, 2);
	/* A THR write with THRE still pending is still a fresh edge. */
	wr(&u, CVMM_SERIAL_RBR_THR, 'b');
	ck_assert_uint_eq(u.triggers, 3);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR), CVMM_SERIAL_IIR_THRE);
	/* Re-writing IER with THRE already enabled does not re-raise. */
	wr(&u, CVMM_SERIAL_IER, CVMM_SERIAL_IER_THRE);
	ck_assert_uint_eq(u.triggers, 3);
	ck_assert(!cvmm_serial_irq_pending(u.s));
	/* Disabling drops a pending THRE without a trigger. */
	wr(&u, CVMM_SERIAL_RBR_THR, 'c');
	ck_assert_uint_eq(u.triggers, 4);
	wr(&u, CVMM_SERIAL_IER, 0);
	ck_assert(!cvmm_serial_irq_pending(u.s));
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR), CVMM_SERIAL_IIR_NONE);
	ck_assert_uint_eq(u.out_len, 3);
	ck_assert_mem_eq(u.out, "abc", 3);
	cvmm_serial_destroy(u.s);
}
END_TEST

START_TEST(serial_iir_priority)
{
	struct uart u;

	uart_init(&u);
	wr(&u, CVMM_SERIAL_IIR_FCR, CVMM_SERIAL_FCR_ENABLE);
	/* Loopback: 65 bytes into a 64-byte FIFO -> overrun (RLS), data (RDA),
	 * THRE from the transmitter and MSR deltas from the MCR change. */
	wr(&u, CVMM_SERIAL_MCR, CVMM_SERIAL_MCR_LOOP | CVMM_SERIAL_MCR_RTS);
	for (unsigned int i = 0; i <= CVMM_SERIAL_FIFO_SIZE; i++)
		wr(&u, CVMM_SERIAL_RBR_THR, (uint8_t)i);
	ck_assert_uint_eq(u.triggers, 0); /* nothing enabled yet */
	wr(&u, CVMM_SERIAL_IER, 0x0f);
	ck_assert_uint_eq(u.triggers, 1);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR), 0xc0 | CVMM_SERIAL_IIR_RLS);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR), 0xc0 | CVMM_SERIAL_IIR_RLS);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_LSR) & (CVMM_SERIAL_LSR_OE | CVMM_SERIAL_LSR_DR),
			  CVMM_SERIAL_LSR_OE | CVMM_SERIAL_LSR_DR);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR), 0xc0 | CVMM_SERIAL_IIR_RDA);
	for (unsigned int i = 0; i < CVMM_SERIAL_FIFO_SIZE; i++)
		ck_assert_uint_eq(rd(&u, CVMM_SERIAL_RBR_THR), i);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_LSR) & CVMM_SERIAL_LSR_DR, 0);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR), 0xc0 | CVMM_SERIAL_IIR_THRE);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR), 0xc0 | CVMM_SERIAL_IIR_MSR);
	/* CTS stayed up (RTS looped to it); DSR and DCD dropped. */
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_MSR), CVMM_SERIAL_MSR_CTS | CVMM_SERIAL_MSR_DDSR |
			  CVMM_SERIAL_MSR_DDCD);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR), 0xc0 | CVMM_SERIAL_IIR_NONE);
	ck_assert(!cvmm_serial_irq_pending(u.s));
	ck_assert_uint_eq(u.out_len, 0); /* loopback never reaches the host */
	cvmm_serial_destroy(u.s);
}
END_TEST

START_TEST(serial_loopback_modem)
{
	struct uart u;
	static const struct { uint8_t mcr, msr_in; } map[] = {
		{ CVMM_SERIAL_MCR_RTS, CVMM_SERIAL_MSR_CTS },
		{ CVMM_SERIAL_MCR_DTR, CVMM_SERIAL_MSR_DSR },
		{ CVMM_SERIAL_MCR_OUT1, CVMM_SERIAL_MSR_RI },
		{ CVMM_SERIAL_MCR_OUT2, CVMM_SERIAL_MSR_DCD },
		{ 0x0f, 0xf0 },
		{ 0, 0 },
	};
	uint8_t b = 'q';

	uart_init(&u);
	wr(&u, CVMM_SERIAL_MCR, CVMM_SERIAL_MCR_LOOP);
	rd(&u, CVMM_SERIAL_MSR);
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		wr(&u, CVMM_SERIAL_MCR, CVMM_SERIAL_MCR_LOOP | map[i].mcr);
		ck_assert_uint_eq(rd(&u, CVMM_SERIAL_MCR), CVMM_SERIAL_MCR_LOOP | map[i].mcr);
		ck_assert_uint_eq(rd(&u, CVMM_SERIAL_MSR) & 0xf0, map[i].msr_in);
	}
	/* RI's trailing edge: OUT1 1 -> 0 sets TERI, 0 -> 1 does not. */
	wr(&u, CVMM_SERIAL_MCR, CVMM_SERIAL_MCR_LOOP | CVMM_SERIAL_MCR_OUT1);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_MSR) & CVMM_SERIAL_MSR_TERI, 0);
	wr(&u, CVMM_SERIAL_MCR, CVMM_SERIAL_MCR_LOOP);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_MSR) & 0x0f, CVMM_SERIAL_MSR_TERI);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_MSR) & 0x0f, 0); /* deltas clear on read */
	/* Host input is refused while the receiver is looped back. */
	ck_assert_uint_eq(cvmm_serial_input_room(u.s), 0);
	ck_assert_uint_eq(cvmm_serial_enqueue_input(u.s, &b, 1), 0);
	wr(&u, CVMM_SERIAL_RBR_THR, 'L');
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_LSR) & CVMM_SERIAL_LSR_DR, CVMM_SERIAL_LSR_DR);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_RBR_THR), 'L');
	ck_assert_uint_eq(u.room_calls, 0);
	/* Leaving loopback: the refused host gets its "room" call. */
	wr(&u, CVMM_SERIAL_MCR, 0);
	ck_assert_uint_eq(u.room_calls, 1);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_MSR), 0xb0 | CVMM_SERIAL_MSR_DCTS |
			  CVMM_SERIAL_MSR_DDSR | CVMM_SERIAL_MSR_DDCD);
	ck_assert_uint_eq(cvmm_serial_enqueue_input(u.s, &b, 1), 1);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_RBR_THR), 'q');
	ck_assert_uint_eq(u.out_len, 0);
	cvmm_serial_destroy(u.s);
}
END_TEST

START_TEST(serial_fifo_overrun_and_fcr)
{
	struct uart u;

	uart_init(&u);
	/* FIFO off: one byte of buffering; the second loopback byte overruns. */
	wr(&u, CVMM_SERIAL_MCR, CVMM_SERIAL_MCR_LOOP);
	wr(&u, CVMM_SERIAL_RBR_THR, 1);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_LSR) & CVMM_SERIAL_LSR_OE, 0);
	wr(&u, CVMM_SERIAL_RBR_THR, 2);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_LSR) & (CVMM_SERIAL_LSR_OE | CVMM_SERIAL_LSR_DR),
			  CVMM_SERIAL_LSR_OE | CVMM_SERIAL_LSR_DR);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_LSR) & CVMM_SERIAL_LSR_OE, 0); /* read clears */
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_RBR_THR), 1);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR) & 0xc0, 0);
	/* Enabling the FIFO resets it and sets IIR's FIFO bits. */
	wr(&u, CVMM_SERIAL_RBR_THR, 3);
	wr(&u, CVMM_SERIAL_IIR_FCR, CVMM_SERIAL_FCR_ENABLE | 0xc0);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_LSR) & CVMM_SERIAL_LSR_DR, 0);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR) & 0xc0, 0xc0);
	for (unsigned int i = 0; i < 10; i++)
		wr(&u, CVMM_SERIAL_RBR_THR, (uint8_t)i);
	/* FCR bit 1 clears the receive FIFO and keeps FIFO mode. */
	wr(&u, CVMM_SERIAL_IIR_FCR, CVMM_SERIAL_FCR_ENABLE | CVMM_SERIAL_FCR_CLEAR_RX);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_LSR) & CVMM_SERIAL_LSR_DR, 0);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR) & 0xc0, 0xc0);
	wr(&u, CVMM_SERIAL_RBR_THR, 7);
	/* Clear bits without bit 0 disable the FIFO (and reset it). */
	wr(&u, CVMM_SERIAL_IIR_FCR, CVMM_SERIAL_FCR_CLEAR_RX);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_LSR) & CVMM_SERIAL_LSR_DR, 0);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR) & 0xc0, 0);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_RBR_THR), 0); /* empty reads 0 */
	cvmm_serial_destroy(u.s);
}
END_TEST

START_TEST(serial_rx_trigger_and_backpressure)
{
	struct uart u;
	uint8_t in[200];

	for (unsigned int i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 1);
	uart_init(&u);
	wr(&u, CVMM_SERIAL_IIR_FCR, CVMM_SERIAL_FCR_ENABLE);
	wr(&u, CVMM_SERIAL_IER, CVMM_SERIAL_IER_RDA);
	ck_assert_uint_eq(u.triggers, 0);
	ck_assert_uint_eq(cvmm_serial_enqueue_input(u.s, in, 10), 10);
	ck_assert_uint_eq(u.triggers, 1);
	ck_assert_uint_eq(cvmm_serial_enqueue_input(u.s, in + 10, 190), CVMM_SERIAL_FIFO_SIZE - 10);
	ck_assert_uint_eq(u.triggers, 1); /* RDA already pending: no new edge */
	ck_assert_uint_eq(cvmm_serial_input_room(u.s), 0);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_LSR) & CVMM_SERIAL_LSR_OE, 0); /* host input never overruns */
	ck_assert_uint_eq(u.room_calls, 0);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR), 0xc4);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_RBR_THR), in[0]);
	ck_assert_uint_eq(u.room_calls, 1);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_RBR_THR), in[1]);
	ck_assert_uint_eq(u.room_calls, 1); /* once per short enqueue */
	for (unsigned int i = 2; i < CVMM_SERIAL_FIFO_SIZE; i++)
		ck_assert_uint_eq(rd(&u, CVMM_SERIAL_RBR_THR), in[i]);
	ck_assert(!cvmm_serial_irq_pending(u.s));
	ck_assert_uint_eq(cvmm_serial_enqueue_input(u.s, in + 64, 1), 1);
	ck_assert_uint_eq(u.triggers, 2);
	ck_assert_uint_eq(cvmm_serial_enqueue_input(u.s, in, 0), 0);
	cvmm_serial_destroy(u.s);
}
END_TEST

/* The probe sequence of Linux's 8250 autoconfig(): the model must come out
 * as a plain 16550A (not a 16450, 16650, NS16550A, XScale or 16750). */
START_TEST(serial_linux_autoconfig)
{
	struct uart u;
	uint8_t save, s1, s2;

	uart_init(&u);
	/* Scratch-free IER test. */
	save = rd(&u, CVMM_SERIAL_IER);
	wr(&u, CVMM_SERIAL_IER, 0);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IER) & 0x0f, 0);
	wr(&u, CVMM_SERIAL_IER, 0x0f);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IER) & 0x0f, 0x0f);
	wr(&u, CVMM_SERIAL_IER, save);
	/* Loopback test: OUT2|RTS must read back as DCD|CTS. */
	save = rd(&u, CVMM_SERIAL_MCR);
	wr(&u, CVMM_SERIAL_MCR, CVMM_SERIAL_MCR_LOOP | 0x0a);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_MSR) & 0xf0, 0x90);
	wr(&u, CVMM_SERIAL_MCR, save);
	/* FIFO probe: IIR bits 7-6 = 3 means 16550A. */
	wr(&u, CVMM_SERIAL_IIR_FCR, CVMM_SERIAL_FCR_ENABLE);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR) >> 6, 3);
	/* No EFR behind DLAB (16650 probes read 0 there). */
	wr(&u, CVMM_SERIAL_LCR, 0x80);
	ck_assert_uint_ne(rd(&u, CVMM_SERIAL_IIR_FCR), 0);
	wr(&u, CVMM_SERIAL_LCR, 0xbf);
	ck_assert_uint_ne(rd(&u, CVMM_SERIAL_IIR_FCR), 0);
	/* No NS16550A EXCR1: the loop bit must not show through IIR. */
	wr(&u, CVMM_SERIAL_LCR, 0);
	s1 = rd(&u, CVMM_SERIAL_MCR);
	wr(&u, CVMM_SERIAL_LCR, 0xe0);
	s2 = rd(&u, CVMM_SERIAL_IIR_FCR);
	ck_assert_uint_eq((s1 ^ s2) & CVMM_SERIAL_MCR_LOOP, 0);
	wr(&u, CVMM_SERIAL_LCR, 0);
	wr(&u, CVMM_SERIAL_MCR, s1 ^ CVMM_SERIAL_MCR_LOOP);
	wr(&u, CVMM_SERIAL_LCR, 0xe0);
	s2 = rd(&u, CVMM_SERIAL_IIR_FCR);
	wr(&u, CVMM_SERIAL_LCR, 0);
	wr(&u, CVMM_SERIAL_MCR, s1);
	ck_assert_uint_eq((s1 ^ s2) & CVMM_SERIAL_MCR_LOOP, 0);
	/* No XScale UUE bit in IER. */
	wr(&u, CVMM_SERIAL_IER, 0x40);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IER) & 0x40, 0);
	wr(&u, CVMM_SERIAL_IER, 0);
	/* No 16750 64-byte FIFO bit (IIR bit 5), without and with DLAB. */
	wr(&u, CVMM_SERIAL_LCR, 0);
	wr(&u, CVMM_SERIAL_IIR_FCR, CVMM_SERIAL_FCR_ENABLE | 0x20);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR) >> 5, 6);
	wr(&u, CVMM_SERIAL_IIR_FCR, CVMM_SERIAL_FCR_ENABLE);
	wr(&u, CVMM_SERIAL_LCR, 0x80);
	wr(&u, CVMM_SERIAL_IIR_FCR, CVMM_SERIAL_FCR_ENABLE | 0x20);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_IIR_FCR) >> 5, 6);
	wr(&u, CVMM_SERIAL_IIR_FCR, CVMM_SERIAL_FCR_ENABLE);
	wr(&u, CVMM_SERIAL_LCR, 0);
	/* Startup's THRE test: THRE is reported when enabled, clears on IIR
	 * read, and comes back when re-enabled (else Linux sets UART_BUG_THRE). */
	wr(&u, CVMM_SERIAL_IER, CVMM_SERIAL_IER_THRE);
	s1 = rd(&u, CVMM_SERIAL_IIR_FCR);
	wr(&u, CVMM_SERIAL_IER, 0);
	wr(&u, CVMM_SERIAL_IER, CVMM_SERIAL_IER_THRE);
	s2 = rd(&u, CVMM_SERIAL_IIR_FCR);
	wr(&u, CVMM_SERIAL_IER, 0);
	ck_assert_uint_eq(s1 & 1, 0);
	ck_assert_uint_eq(s2 & 1, 0);
	ck_assert_uint_eq(u.out_len, 0);
	cvmm_serial_destroy(u.s);
}
END_TEST

/* A guest-like driver: interrupt-driven RX, polled TX; the host pumps an
 * input stream with backpressure. */
START_TEST(serial_stream_round_trip)
{
	struct uart u;
	uint8_t in[5000], got[5000];
	size_t sent = 0, recvd = 0;
	uint64_t seed = 42;
	unsigned int rounds = 0;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)test_rand(&seed);
	uart_init(&u);
	wr(&u, CVMM_SERIAL_IIR_FCR, CVMM_SERIAL_FCR_ENABLE | CVMM_SERIAL_FCR_CLEAR_RX);
	wr(&u, CVMM_SERIAL_IER, CVMM_SERIAL_IER_RDA | CVMM_SERIAL_IER_RLS);
	while (recvd < sizeof(in)) {
		size_t chunk = (size_t)(test_rand(&seed) % 100);

		ck_assert_uint_lt(++rounds, 100000);
		chunk = chunk > sizeof(in) - sent ? sizeof(in) - sent : chunk;
		sent += cvmm_serial_enqueue_input(u.s, in + sent, chunk);
		/* The guest reads a random number of bytes per interrupt. */
		for (unsigned int n = (unsigned int)(test_rand(&seed) % 80); n; n--) {
			uint8_t iir = rd(&u, CVMM_SERIAL_IIR_FCR);

			if ((iir & 0x0f) == CVMM_SERIAL_IIR_NONE)
				break;
			ck_assert_uint_eq(iir & 0x0f, CVMM_SERIAL_IIR_RDA);
			ck_assert(rd(&u, CVMM_SERIAL_LSR) & CVMM_SERIAL_LSR_DR);
			got[recvd] = rd(&u, CVMM_SERIAL_RBR_THR);
			/* Echo it back out as a terminal would. */
			wr(&u, CVMM_SERIAL_RBR_THR, got[recvd]);
			recvd++;
		}
	}
	ck_assert_mem_eq(got, in, sizeof(in));
	ck_assert_uint_eq(u.out_len, sizeof(in));
	ck_assert_mem_eq(u.out, in, sizeof(in));
	cvmm_serial_destroy(u.s);
}
END_TEST

/* Apply the same scripted operation to a device; returns what was observed. */
static uint32_t apply_op(struct uart *u, uint64_t r)
{
	unsigned int off = (unsigned int)(r % 8);
	uint8_t val = (uint8_t)(r >> 8), b = (uint8_t)(r >> 16);

	switch ((r >> 24) % 4) {
	case 0:
		return (uint32_t)cvmm_serial_enqueue_input(u->s, &b, 1) << 8;
	case 1:
		if (off == CVMM_SERIAL_MCR)
			val &= 0x0f; /* keep most of the run out of loopback */
		if (off == CVMM_SERIAL_LCR)
			val &= 0x7f;
		wr(u, off, val);
		return 0x10000;
	default:
		return rd(u, off);
	}
}

START_TEST(serial_save_restore_mid_stream)
{
	struct uart a, b;
	struct cvmm_serial_state st, st2;
	uint64_t seed = 7;
	uint8_t in[40];

	uart_init(&a);
	uart_init(&b);
	wr(&a, CVMM_SERIAL_IIR_FCR, CVMM_SERIAL_FCR_ENABLE | 0x80);
	wr(&a, CVMM_SERIAL_IER, 0x0f);
	wr(&a, CVMM_SERIAL_SCR, 0x99);
	for (unsigned int i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(0x30 + i);
	ck_assert_uint_eq(cvmm_serial_enqueue_input(a.s, in, sizeof(in)), sizeof(in));
	for (unsigned int i = 0; i < 13; i++)
		rd(&a, CVMM_SERIAL_RBR_THR); /* FIFO head is now mid-ring */
	wr(&a, CVMM_SERIAL_LCR, 0x83);
	wr(&a, CVMM_SERIAL_DLL, 3);
	wr(&a, CVMM_SERIAL_LCR, 0x03);
	ck_assert_int_eq(cvmm_serial_save(a.s, &st), 0);
	ck_assert_uint_eq(st.version, CVMM_SERIAL_STATE_VERSION);
	ck_assert_uint_eq(st.rx_len, sizeof(in) - 13);
	ck_assert_uint_eq(st.rx[0], 0x30 + 13);
	ck_assert_int_eq(cvmm_serial_restore(b.s, &st), 0);
	ck_assert_int_eq(cvmm_serial_save(b.s, &st2), 0);
	ck_assert_mem_eq(&st, &st2, sizeof(st));
	a.triggers = b.triggers = 0;
	for (unsigned int i = 0; i < 5000; i++) {
		uint64_t r = test_rand(&seed);

		ck_assert_uint_eq(apply_op(&a, r), apply_op(&b, r));
		ck_assert_uint_eq(a.triggers, b.triggers);
		ck_assert_int_eq(cvmm_serial_irq_pending(a.s), cvmm_serial_irq_pending(b.s));
	}
	ck_assert_uint_eq(a.out_len, b.out_len);
	ck_assert_mem_eq(a.out, b.out, a.out_len);
	cvmm_serial_destroy(a.s);
	cvmm_serial_destroy(b.s);
}
END_TEST

START_TEST(serial_restore_rejects)
{
	struct uart u;
	struct cvmm_serial_state good, bad, after;

	uart_init(&u);
	wr(&u, CVMM_SERIAL_SCR, 0x42);
	ck_assert_int_eq(cvmm_serial_save(u.s, &good), 0);
#define REJECT(stmt)                                                      \
	do {                                                              \
		bad = good;                                               \
		stmt;                                                     \
		ck_assert_int_eq(cvmm_serial_restore(u.s, &bad), -EINVAL); \
		ck_assert_int_eq(cvmm_serial_save(u.s, &after), 0);       \
		ck_assert_mem_eq(&after, &good, sizeof(good));            \
	} while (0)
	REJECT(bad.version = 2);
	REJECT(bad.version = 0);
	REJECT(bad.ier = 0x10);
	REJECT(bad.mcr = 0x20);
	REJECT(bad.lsr_err = CVMM_SERIAL_LSR_DR);
	REJECT(bad.lsr_err = 0x80);
	REJECT(bad.fcr = CVMM_SERIAL_FCR_CLEAR_RX | 1);
	REJECT(bad.thre_pending = 2);
	REJECT(bad.rx_len = 2);               /* FIFO off: depth 1 */
	REJECT(bad.fcr = 1; bad.rx_len = 65);
	REJECT(bad.fcr = 1; bad.rx_len = 255);
	REJECT(bad.rx[5] = 1);                /* garbage past rx_len */
	REJECT(bad.msr = 0x00);               /* inputs must match MCR */
	REJECT(bad.mcr = CVMM_SERIAL_MCR_LOOP); /* looped: inputs would be 0 */
	REJECT(bad.reserved = 1);
#undef REJECT
	ck_assert_int_eq(cvmm_serial_restore(u.s, NULL), -EINVAL);
	bad = good;
	bad.fcr = 1;
	bad.rx_len = 64;
	memset(bad.rx, 0xee, sizeof(bad.rx));
	ck_assert_int_eq(cvmm_serial_restore(u.s, &bad), 0);
	ck_assert_uint_eq(rd(&u, CVMM_SERIAL_RBR_THR), 0xee);
	cvmm_serial_destroy(u.s);
}
END_TEST

static void check_invariants(struct uart *u)
{
	struct cvmm_serial_state st;
	struct cvmm_serial *fresh;
	struct cvmm_serial_opts o = { .sz = sizeof(o) };
	uint8_t iir, id;

	/* Every reachable state is a valid snapshot. */
	ck_assert_int_eq(cvmm_serial_save(u->s, &st), 0);
	ck_assert_int_eq(cvmm_serial_create(&o, &fresh), 0);
	ck_assert_int_eq(cvmm_serial_restore(fresh, &st), 0);
	cvmm_serial_destroy(fresh);
	ck_assert_uint_le(st.rx_len, (st.fcr & 1) ? CVMM_SERIAL_FIFO_SIZE : 1);
	ck_assert_uint_le(cvmm_serial_input_room(u->s), CVMM_SERIAL_FIFO_SIZE - st.rx_len);
	/* IIR is side-effect free to inspect through a restored copy. */
	ck_assert_int_eq(cvmm_serial_create(&o, &fresh), 0);
	ck_assert_int_eq(cvmm_serial_restore(fresh, &st), 0);
	ck_assert_int_eq(cvmm_serial_read(fresh, CVMM_SERIAL_IIR_FCR, &iir), 0);
	cvmm_serial_destroy(fresh);
	id = iir & 0x0f;
	ck_assert(id == 0 || id == 1 || id == 2 || id == 4 || id == 6);
	ck_assert_uint_eq(iir & 0x30, 0);
	ck_assert_uint_eq(iir & 0xc0, (st.fcr & 1) ? 0xc0 : 0);
	ck_assert_int_eq(cvmm_serial_irq_pending(u->s), id != CVMM_SERIAL_IIR_NONE);
}

START_TEST(serial_hostile_exhaustive)
{
	struct uart u;
	unsigned int perm[8 * 256];
	uint64_t seed = 0x5eed + (uint64_t)_i;

	uart_init(&u);
	test_shuffle(perm, 8 * 256, &seed);
	for (unsigned int i = 0; i < 8 * 256; i++) {
		unsigned int off = perm[i] / 256;
		uint8_t val = (uint8_t)perm[i], v, lsr;
		uint8_t junk[3] = { val, (uint8_t)~val, 0 };

		wr(&u, off, val);
		/* Interleave reads of a random register and host input. */
		ck_assert_int_eq(cvmm_serial_read(u.s, test_rand(&seed) % 8, &v), 0);
		cvmm_serial_enqueue_input(u.s, junk, test_rand(&seed) % 4);
		lsr = rd(&u, CVMM_SERIAL_LSR);
		ck_assert_uint_eq(lsr & 0x60, 0x60); /* transmitter always empty */
		ck_assert_uint_eq(lsr & 0x80, 0);
		check_invariants(&u);
	}
	ck_assert_uint_le(u.out_len, 8 * 256);
	cvmm_serial_destroy(u.s);
}
END_TEST

Suite *serial_suite(void)
{
	Suite *s = suite_create("serial");
	TCase *tc = tcase_create("registers");

	tcase_add_test(tc, serial_power_on);
	tcase_add_test(tc, serial_dlab);
	tcase_add_test(tc, serial_thre);
	tcase_add_test(tc, serial_iir_priority);
	tcase_add_test(tc, serial_loopback_modem);
	tcase_add_test(tc, serial_fifo_overrun_and_fcr);
	tcase_add_test(tc, serial_rx_trigger_and_backpressure);
	tcase_add_test(tc, serial_linux_autoconfig);
	suite_add_tcase(s, tc);
	tc = tcase_create("stream");
	tcase_add_test(tc, serial_stream_round_trip);
	tcase_add_test(tc, serial_save_restore_mid_stream);
	tcase_add_test(tc, serial_restore_rejects);
	suite_add_tcase(s, tc);
	tc = tcase_create("hostile");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, serial_hostile_exhaustive, 0, 4);
	suite_add_tcase(s, tc);
	return s;
}
