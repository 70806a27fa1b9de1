/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 16550A UART model. Transmission is instantaneous (the transmitter is
 * always empty), so the interesting state is the receive FIFO and the
 * interrupt sources. The interrupt sources are kept as independent
 * conditions and IIR is derived from them by priority, which makes the
 * "edge" trigger a simple set difference between two evaluations.
 */
#include <cvmm/vm-superio.h>
#include <cvmm/sys-util.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SRC_RLS 0x1u
#define SRC_RDA 0x2u
#define SRC_THRE 0x4u
#define SRC_MSR 0x8u

#define LSR_ERR_MASK (CVMM_SERIAL_LSR_OE | CVMM_SERIAL_LSR_PE | CVMM_SERIAL_LSR_FE | \
		      CVMM_SERIAL_LSR_BI)
#define MSR_INPUTS 0xf0u
#define MSR_DELTAS 0x0fu
/* With no modem attached the lines a terminal expects are asserted. */
#define MSR_DEFAULT_INPUTS (CVMM_SERIAL_MSR_CTS | CVMM_SERIAL_MSR_DSR | CVMM_SERIAL_MSR_DCD)

struct cvmm_serial {
	cvmm_superio_trigger_fn trigger;
	cvmm_serial_write_fn write;
	cvmm_superio_trigger_fn input_room;
	void *opaque;

	uint8_t dll, dlm, ier, lcr, mcr, lsr_err, msr, scr, fcr;
	bool thre_pending;
	uint8_t rx[CVMM_SERIAL_FIFO_SIZE];
	unsigned int rx_head, rx_len;

	unsigned int active;   /* sources pending at the last evaluation */
	bool host_waiting;     /* a short enqueue armed input_room */
};

static bool loopback(const struct cvmm_serial *s)
{
	return s->mcr & CVMM_SERIAL_MCR_LOOP;
}

static unsigned int fifo_depth(uint8_t fcr)
{
	return (fcr & CVMM_SERIAL_FCR_ENABLE) ? CVMM_SERIAL_FIFO_SIZE : 1;
}

static uint8_t msr_inputs_for(uint8_t mcr)
{
	uint8_t in = 0;

	if (!(mcr & CVMM_SERIAL_MCR_LOOP))
		return MSR_DEFAULT_INPUTS;
	/* Loopback wires the modem-control outputs to the status inputs. */
	if (mcr & CVMM_SERIAL_MCR_RTS)
		in |= CVMM_SERIAL_MSR_CTS;
	if (mcr & CVMM_SERIAL_MCR_DTR)
		in |= CVMM_SERIAL_MSR_DSR;
	if (mcr & CVMM_SERIAL_MCR_OUT1)
		in |= CVMM_SERIAL_MSR_RI;
	if (mcr & CVMM_SERIAL_MCR_OUT2)
		in |= CVMM_SERIAL_MSR_DCD;
	return in;
}

static unsigned int sources(const struct cvmm_serial *s)
{
	unsigned int src = 0;

	if ((s->ier & CVMM_SERIAL_IER_RLS) && (s->lsr_err & LSR_ERR_MASK))
		src |= SRC_RLS;
	if ((s->ier & CVMM_SERIAL_IER_RDA) && s->rx_len)
		src |= SRC_RDA;
	if ((s->ier & CVMM_SERIAL_IER_THRE) && s->thre_pending)
		src |= SRC_THRE;
	if ((s->ier & CVMM_SERIAL_IER_MSR) && (s->msr & MSR_DELTAS))
		src |= SRC_MSR;
	return src;
}

static uint8_t iir_value(const struct cvmm_serial *s)
{
	unsigned int src = sources(s);
	uint8_t fifo = (s->fcr & CVMM_SERIAL_FCR_ENABLE) ? CVMM_SERIAL_IIR_FIFO : 0;

	if (src & SRC_RLS)
		return fifo | CVMM_SERIAL_IIR_RLS;
	if (src & SRC_RDA)
		return fifo | CVMM_SERIAL_IIR_RDA;
	if (src & SRC_THRE)
		return fifo | CVMM_SERIAL_IIR_THRE;
	if (src & SRC_MSR)
		return fifo | CVMM_SERIAL_IIR_MSR;
	return fifo | CVMM_SERIAL_IIR_NONE;
}

/* Fire the trigger for every source that was not pending before. */
static void update_irq(struct cvmm_serial *s)
{
	unsigned int now = sources(s);
	unsigned int fresh = now & ~s->active;

	s->active = now;
	if (fresh && s->trigger)
		s->trigger(s->opaque);
}

static void notify_room(struct cvmm_serial *s)
{
	if (!s->host_waiting || cvmm_serial_input_room(s) == 0)
		return;
	s->host_waiting = false;
	if (s->input_room)
		s->input_room(s->opaque);
}

static void rx_clear(struct cvmm_serial *s)
{
	memset(s->rx, 0, sizeof(s->rx));
	s->rx_head = 0;
	s->rx_len = 0;
}

/* Returns false (and drops @b) when the FIFO is full. */
static bool rx_push(struct cvmm_serial *s, uint8_t b)
{
	if (s->rx_len >= fifo_depth(s->fcr))
		return false;
	s->rx[(s->rx_head + s->rx_len) % CVMM_SERIAL_FIFO_SIZE] = b;
	s->rx_len++;
	return true;
}

static uint8_t rx_pop(struct cvmm_serial *s)
{
	uint8_t b;

	if (!s->rx_len)
		return 0;
	b = s->rx[s->rx_head];
	s->rx[s->rx_head] = 0;
	s->rx_head = (s->rx_head + 1) % CVMM_SERIAL_FIFO_SIZE;
	s->rx_len--;
	return b;
}

static void reset_state(struct cvmm_serial *s)
{
	s->dll = 12; /* 115200 / 12 = 9600 baud, the usual power-on divisor */
	s->dlm = 0;
	s->ier = 0;
	s->lcr = 0x03; /* 8N1 */
	s->mcr = 0;
	s->lsr_err = 0;
	s->msr = MSR_DEFAULT_INPUTS;
	s->scr = 0;
	s->fcr = 0;
	s->thre_pending = false;
	rx_clear(s);
	s->active = 0;
	s->host_waiting = false;
}

int cvmm_serial_create(const struct cvmm_serial_opts *o, struct cvmm_serial **out)
{
	struct cvmm_serial *s;

	if (!o || !out || o->sz < sizeof(*o))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->trigger = o->trigger;
	s->write = o->write;
	s->input_room = o->input_room;
	s->opaque = o->opaque;
	reset_state(s);
	*out = s;
	return 0;
}

void cvmm_serial_destroy(struct cvmm_serial *s)
{
	free(s);
}

static void set_mcr(struct cvmm_serial *s, uint8_t val)
{
	bool was_loop = loopback(s);
	uint8_t old_in = s->msr & MSR_INPUTS, new_in;
	uint8_t delta = 0;

	s->mcr = val & 0x1f;
	new_in = msr_inputs_for(s->mcr);
	if ((old_in ^ new_in) & CVMM_SERIAL_MSR_CTS)
		delta |= CVMM_SERIAL_MSR_DCTS;
	if ((old_in ^ new_in) & CVMM_SERIAL_MSR_DSR)
		delta |= CVMM_SERIAL_MSR_DDSR;
	/* TERI reports only the trailing edge of RI. */
	if ((old_in & CVMM_SERIAL_MSR_RI) && !(new_in & CVMM_SERIAL_MSR_RI))
		delta |= CVMM_SERIAL_MSR_TERI;
	if ((old_in ^ new_in) & CVMM_SERIAL_MSR_DCD)
		delta |= CVMM_SERIAL_MSR_DDCD;
	s->msr = new_in | (s->msr & MSR_DELTAS) | delta;
	if (was_loop && !loopback(s))
		notify_room(s);
}

static void set_fcr(struct cvmm_serial *s, uint8_t val)
{
	/* Changing the FIFO mode resets both FIFOs (16550A datasheet). */
	if ((val ^ s->fcr) & CVMM_SERIAL_FCR_ENABLE)
		rx_clear(s);
	if (!(val & CVMM_SERIAL_FCR_ENABLE)) {
		/* The other bits are only programmed together with bit 0. */
		s->fcr = 0;
	} else {
		s->fcr = val & (CVMM_SERIAL_FCR_ENABLE | CVMM_SERIAL_FCR_TRIGGER_MASK);
		if (val & CVMM_SERIAL_FCR_CLEAR_RX)
			rx_clear(s);
	}
	notify_room(s);
}

static void transmit(struct cvmm_serial *s, uint8_t val)
{
	/* Writing THR clears a THRE interrupt; evaluate so the immediate
	 * re-raise below counts as a new edge. */
	s->thre_pending = false;
	update_irq(s);
	if (loopback(s)) {
		if (!rx_push(s, val))
			s->lsr_err |= CVMM_SERIAL_LSR_OE;
	} else if (s->write) {
		s->write(s->opaque, &val, 1);
	}
	s->thre_pending = true;
}

int cvmm_serial_write(struct cvmm_serial *s, uint64_t offset, uint8_t val)
{
	bool dlab = s->lcr & CVMM_SERIAL_LCR_DLAB;

	switch (offset) {
	case CVMM_SERIAL_RBR_THR:
		if (dlab)
			s->dll = val;
		else
			transmit(s, val);
		break;
	case CVMM_SERIAL_IER:
		if (dlab) {
			s->dlm = val;
		} else {
			uint8_t old = s->ier;

			s->ier = val & 0x0f;
			/* Enabling THRE with an empty transmitter interrupts at
			 * once; Linux probes for exactly this. */
			if ((s->ier & ~old) & CVMM_SERIAL_IER_THRE)
				s->thre_pending = true;
			else if (!(s->ier & CVMM_SERIAL_IER_THRE))
				s->thre_pending = false;
		}
		break;
	case CVMM_SERIAL_IIR_FCR:
		set_fcr(s, val);
		break;
	case CVMM_SERIAL_LCR:
		s->lcr = val;
		break;
	case CVMM_SERIAL_MCR:
		set_mcr(s, val);
		break;
	case CVMM_SERIAL_LSR:
	case CVMM_SERIAL_MSR:
		break;
	case CVMM_SERIAL_SCR:
		s->scr = val;
		break;
	default:
		return -EINVAL;
	}
	update_irq(s);
	return 0;
}

int cvmm_serial_read(struct cvmm_serial *s, uint64_t offset, uint8_t *val)
{
	bool dlab = s->lcr & CVMM_SERIAL_LCR_DLAB;
	uint8_t v;

	switch (offset) {
	case CVMM_SERIAL_RBR_THR:
		if (dlab) {
			v = s->dll;
		} else {
			v = rx_pop(s);
			notify_room(s);
		}
		break;
	case CVMM_SERIAL_IER:
		v = dlab ? s->dlm : s->ier;
		break;
	case CVMM_SERIAL_IIR_FCR:
		v = iir_value(s);
		if ((v & 0x0f) == CVMM_SERIAL_IIR_THRE)
			s->thre_pending = false;
		break;
	case CVMM_SERIAL_LCR:
		v = s->lcr;
		break;
	case CVMM_SERIAL_MCR:
		v = s->mcr;
		break;
	case CVMM_SERIAL_LSR:
		v = s->lsr_err | CVMM_SERIAL_LSR_THRE | CVMM_SERIAL_LSR_TEMT;
		if (s->rx_len)
			v |= CVMM_SERIAL_LSR_DR;
		s->lsr_err = 0;
		break;
	case CVMM_SERIAL_MSR:
		v = s->msr;
		s->msr &= MSR_INPUTS;
		break;
	case CVMM_SERIAL_SCR:
		v = s->scr;
		break;
	default:
		*val = 0xff;
		return -EINVAL;
	}
	*val = v;
	update_irq(s);
	return 0;
}

size_t cvmm_serial_input_room(const struct cvmm_serial *s)
{
	if (loopback(s))
		return 0;
	return fifo_depth(s->fcr) - s->rx_len;
}

size_t cvmm_serial_enqueue_input(struct cvmm_serial *s, const uint8_t *buf, size_t len)
{
	size_t n = CVMM_MIN(len, cvmm_serial_input_room(s));

	for (size_t i = 0; i < n; i++)
		rx_push(s, buf[i]);
	if (n < len)
		s->host_waiting = true;
	update_irq(s);
	return n;
}

bool cvmm_serial_irq_pending(const struct cvmm_serial *s)
{
	return sources(s) != 0;
}

int cvmm_serial_save(const struct cvmm_serial *s, struct cvmm_serial_state *st)
{
	memset(st, 0, sizeof(*st));
	st->version = CVMM_SERIAL_STATE_VERSION;
	st->dll = s->dll;
	st->dlm = s->dlm;
	st->ier = s->ier;
	st->lcr = s->lcr;
	st->mcr = s->mcr;
	st->lsr_err = s->lsr_err;
	st->msr = s->msr;
	st->scr = s->scr;
	st->fcr = s->fcr;
	st->thre_pending = s->thre_pending;
	st->rx_len = (uint8_t)s->rx_len;
	for (unsigned int i = 0; i < s->rx_len; i++)
		st->rx[i] = s->rx[(s->rx_head + i) % CVMM_SERIAL_FIFO_SIZE];
	return 0;
}

static bool state_valid(const struct cvmm_serial_state *st)
{
	if (st->version != CVMM_SERIAL_STATE_VERSION || st->reserved)
		return false;
	if ((st->ier & ~0x0f) || (st->mcr & ~0x1f) || (st->lsr_err & ~LSR_ERR_MASK))
		return false;
	if (st->fcr & ~(CVMM_SERIAL_FCR_ENABLE | CVMM_SERIAL_FCR_TRIGGER_MASK))
		return false;
	if (st->thre_pending > 1 || st->rx_len > fifo_depth(st->fcr))
		return false;
	if ((st->msr & MSR_INPUTS) != msr_inputs_for(st->mcr))
		return false;
	for (unsigned int i = st->rx_len; i < CVMM_SERIAL_FIFO_SIZE; i++)
		if (st->rx[i])
			return false;
	return true;
}

int cvmm_serial_restore(struct cvmm_serial *s, const struct cvmm_serial_state *st)
{
	if (!st || !state_valid(st))
		return -EINVAL;
	s->dll = st->dll;
	s->dlm = st->dlm;
	s->ier = st->ier;
	s->lcr = st->lcr;
	s->mcr = st->mcr;
	s->lsr_err = st->lsr_err;
	s->msr = st->msr;
	s->scr = st->scr;
	s->fcr = st->fcr;
	s->thre_pending = st->thre_pending;
	rx_clear(s);
	memcpy(s->rx, st->rx, st->rx_len);
	s->rx_len = st->rx_len;
	s->active = sources(s);
	/* The program's input pump restarts from scratch after a restore. */
	s->host_waiting = false;
	return 0;
}
