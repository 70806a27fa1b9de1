/* SPDX-License-Identifier: Apache-2.0 */
/*
 * i8042 keyboard controller with just enough of a PS/2 keyboard behind it
 * that a guest's probe completes quickly, and the CPU reset line, which is
 * what most guests use to reboot. Every command completes synchronously:
 * IBF is never set, so a guest polling the status register cannot wedge.
 */
#include <cvmm/vm-superio.h>
#include <cvmm/sys-util.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Controller commands (port 0x64). */
#define CMD_READ_CTR 0x20
#define CMD_WRITE_CTR 0x60
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE 0xa8
#define CMD_AUX_TEST 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_READ_INPUT 0xc0
#define CMD_READ_OUTPORT 0xd0
#define CMD_WRITE_OUTPORT 0xd1
#define CMD_WRITE_KBD_OUT 0xd2
#define CMD_WRITE_AUX_OUT 0xd3
#define CMD_WRITE_AUX 0xd4

/* Keyboard commands and replies (port 0x60). */
#define KBD_SET_LEDS 0xed
#define KBD_ECHO 0xee
#define KBD_SCAN_SET 0xf0
#define KBD_GET_ID 0xf2
#define KBD_TYPEMATIC 0xf3
#define KBD_RESET 0xff
#define KBD_ACK 0xfa
#define KBD_RESEND 0xfe
#define KBD_BAT_OK 0xaa

#define OUTPORT_RESET 0x01 /* active low: 0 holds the CPU in reset */
#define OUTPORT_A20 0x02
#define CTR_RESERVED 0x88

struct cvmm_i8042 {
	cvmm_superio_trigger_fn reset, kbd_trigger, aux_trigger;
	void *opaque;

	uint8_t ctr, status_flags, pending_cmd, kbd_pending, outport, last_data, scan_set;
	uint8_t queue[CVMM_I8042_QUEUE_SIZE];
	unsigned int queue_len;
	uint16_t queue_aux;
	bool kbd_line, aux_line;
};

static void line_levels(const struct cvmm_i8042 *d, bool *kbd, bool *aux)
{
	bool from_aux = d->queue_len && (d->queue_aux & 1);

	*kbd = d->queue_len && !from_aux && (d->ctr & CVMM_I8042_CTR_KBDINT);
	*aux = d->queue_len && from_aux && (d->ctr & CVMM_I8042_CTR_AUXINT);
}

static void update_irq(struct cvmm_i8042 *d)
{
	bool kbd, aux;

	line_levels(d, &kbd, &aux);
	if (kbd && !d->kbd_line && d->kbd_trigger)
		d->kbd_trigger(d->opaque);
	if (aux && !d->aux_line && d->aux_trigger)
		d->aux_trigger(d->opaque);
	d->kbd_line = kbd;
	d->aux_line = aux;
}

static bool push(struct cvmm_i8042 *d, uint8_t b, bool aux)
{
	if (d->queue_len >= CVMM_I8042_QUEUE_SIZE)
		return false;
	d->queue[d->queue_len] = b;
	if (aux)
		d->queue_aux |= (uint16_t)(1u << d->queue_len);
	d->queue_len++;
	return true;
}

static uint8_t pop(struct cvmm_i8042 *d)
{
	uint8_t b;

	if (!d->queue_len)
		return d->last_data;
	b = d->queue[0];
	memmove(d->queue, d->queue + 1, d->queue_len - 1);
	d->queue_len--;
	d->queue[d->queue_len] = 0;
	d->queue_aux >>= 1;
	d->last_data = b;
	return b;
}

static void pulse_reset(struct cvmm_i8042 *d)
{
	if (d->reset)
		d->reset(d->opaque);
}

int cvmm_i8042_create(const struct cvmm_i8042_opts *o, struct cvmm_i8042 **out)
{
	struct cvmm_i8042 *d;

	if (!o || !out || o->sz < sizeof(*o))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->reset = o->reset;
	d->kbd_trigger = o->kbd_trigger;
	d->aux_trigger = o->aux_trigger;
	d->opaque = o->opaque;
	d->ctr = CVMM_I8042_CTR_KBDINT | CVMM_I8042_CTR_SYS | CVMM_I8042_CTR_XLATE;
	d->status_flags = CVMM_I8042_STR_SYS;
	d->outport = OUTPORT_RESET | OUTPORT_A20;
	d->scan_set = 2;
	*out = d;
	return 0;
}

void cvmm_i8042_destroy(struct cvmm_i8042 *d)
{
	free(d);
}

static void kbd_command(struct cvmm_i8042 *d, uint8_t val)
{
	uint8_t arg_cmd = d->kbd_pending;

	d->kbd_pending = 0;
	if (arg_cmd) {
		push(d, KBD_ACK, false);
		if (arg_cmd == KBD_SCAN_SET) {
			if (val == 0)
				push(d, d->scan_set, false);
			else if (val <= 3)
				d->scan_set = val;
		}
		return;
	}
	switch (val) {
	case KBD_SET_LEDS:
	case KBD_SCAN_SET:
	case KBD_TYPEMATIC:
		d->kbd_pending = val;
		push(d, KBD_ACK, false);
		break;
	case KBD_ECHO:
		push(d, KBD_ECHO, false);
		break;
	case KBD_GET_ID:
		push(d, KBD_ACK, false);
		push(d, 0xab, false);
		/* The controller translates the MF2 ID byte like a scan code. */
		push(d, (d->ctr & CVMM_I8042_CTR_XLATE) ? 0x41 : 0x83, false);
		break;
	case KBD_RESET:
		d->scan_set = 2;
		push(d, KBD_ACK, false);
		push(d, KBD_BAT_OK, false);
		break;
	default:
		push(d, KBD_ACK, false);
		break;
	}
}

static void data_write(struct cvmm_i8042 *d, uint8_t val)
{
	uint8_t cmd = d->pending_cmd;

	d->pending_cmd = 0;
	d->status_flags &= (uint8_t)~CVMM_I8042_STR_CMD;
	switch (cmd) {
	case CMD_WRITE_CTR:
		d->ctr = val & (uint8_t)~CTR_RESERVED;
		d->status_flags = (uint8_t)((d->status_flags & ~CVMM_I8042_STR_SYS) |
					    (val & CVMM_I8042_CTR_SYS));
		break;
	case CMD_WRITE_OUTPORT:
		d->outport = val | OUTPORT_RESET;
		if (!(val & OUTPORT_RESET))
			pulse_reset(d);
		break;
	case CMD_WRITE_KBD_OUT:
		push(d, val, false);
		break;
	case CMD_WRITE_AUX_OUT:
		push(d, val, true);
		break;
	case CMD_WRITE_AUX:
		/* No mouse: "resend" makes psmouse give up at once. */
		push(d, KBD_RESEND, true);
		break;
	default:
		kbd_command(d, val);
		break;
	}
}

static void controller_command(struct cvmm_i8042 *d, uint8_t cmd)
{
	d->pending_cmd = 0;
	d->status_flags |= CVMM_I8042_STR_CMD;
	switch (cmd) {
	case CMD_READ_CTR:
		push(d, d->ctr, false);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPORT:
	case CMD_WRITE_KBD_OUT:
	case CMD_WRITE_AUX_OUT:
	case CMD_WRITE_AUX:
		d->pending_cmd = cmd;
		break;
	case CMD_AUX_DISABLE:
		d->ctr |= CVMM_I8042_CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		d->ctr &= (uint8_t)~CVMM_I8042_CTR_AUXDIS;
		break;
	case CMD_AUX_TEST:
	case CMD_KBD_TEST:
		push(d, 0x00, false); /* interface OK */
		break;
	case CMD_SELF_TEST:
		d->status_flags |= CVMM_I8042_STR_SYS;
		push(d, 0x55, false);
		break;
	case CMD_KBD_DISABLE:
		d->ctr |= CVMM_I8042_CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		d->ctr &= (uint8_t)~CVMM_I8042_CTR_KBDDIS;
		break;
	case CMD_READ_INPUT:
		push(d, 0x80, false); /* keyboard not inhibited */
		break;
	case CMD_READ_OUTPORT:
		push(d, d->outport, false);
		break;
	default:
		/* 0xf0-0xff pulse output-port bits low; bit 0 is CPU reset. */
		if ((cmd & 0xf0) == 0xf0 && !(cmd & OUTPORT_RESET))
			pulse_reset(d);
		break;
	}
}

int cvmm_i8042_write(struct cvmm_i8042 *d, uint64_t offset, uint8_t val)
{
	if (offset == CVMM_I8042_DATA)
		data_write(d, val);
	else if (offset == CVMM_I8042_STATUS)
		controller_command(d, val);
	else
		return -EINVAL;
	update_irq(d);
	return 0;
}

int cvmm_i8042_read(struct cvmm_i8042 *d, uint64_t offset, uint8_t *val)
{
	if (offset == CVMM_I8042_DATA) {
		*val = pop(d);
		/* The output buffer emptied: a following byte is a new edge. */
		d->kbd_line = d->aux_line = false;
		update_irq(d);
		return 0;
	}
	if (offset == CVMM_I8042_STATUS) {
		uint8_t v = d->status_flags | CVMM_I8042_STR_UNLOCK;

		if (d->queue_len) {
			v |= CVMM_I8042_STR_OBF;
			if (d->queue_aux & 1)
				v |= CVMM_I8042_STR_AUXDATA;
		}
		*val = v;
		return 0;
	}
	*val = 0xff;
	return -EINVAL;
}

size_t cvmm_i8042_push_kbd(struct cvmm_i8042 *d, const uint8_t *codes, size_t len)
{
	size_t n = 0;

	while (n < len && push(d, codes[n], false))
		n++;
	update_irq(d);
	return n;
}

bool cvmm_i8042_irq_pending(const struct cvmm_i8042 *d)
{
	bool kbd, aux;

	line_levels(d, &kbd, &aux);
	return kbd || aux;
}

int cvmm_i8042_save(const struct cvmm_i8042 *d, struct cvmm_i8042_state *st)
{
	memset(st, 0, sizeof(*st));
	st->version = CVMM_I8042_STATE_VERSION;
	st->ctr = d->ctr;
	st->status_flags = d->status_flags;
	st->pending_cmd = d->pending_cmd;
	st->kbd_pending = d->kbd_pending;
	st->outport = d->outport;
	st->last_data = d->last_data;
	st->scan_set = d->scan_set;
	st->queue_len = (uint8_t)d->queue_len;
	st->queue_aux = d->queue_aux;
	memcpy(st->queue, d->queue, sizeof(st->queue));
	return 0;
}

static bool state_valid(const struct cvmm_i8042_state *st)
{
	if (st->version != CVMM_I8042_STATE_VERSION || st->reserved)
		return false;
	if ((st->ctr & CTR_RESERVED) ||
	    (st->status_flags & ~(CVMM_I8042_STR_SYS | CVMM_I8042_STR_CMD)))
		return false;
	switch (st->pending_cmd) {
	case 0: case CMD_WRITE_CTR: case CMD_WRITE_OUTPORT: case CMD_WRITE_KBD_OUT:
	case CMD_WRITE_AUX_OUT: case CMD_WRITE_AUX:
		break;
	default:
		return false;
	}
	switch (st->kbd_pending) {
	case 0: case KBD_SET_LEDS: case KBD_SCAN_SET: case KBD_TYPEMATIC:
		break;
	default:
		return false;
	}
	if (!(st->outport & OUTPORT_RESET) || st->scan_set < 1 || st->scan_set > 3)
		return false;
	if (st->queue_len > CVMM_I8042_QUEUE_SIZE)
		return false;
	if (st->queue_len < 16 && (st->queue_aux >> st->queue_len))
		return false;
	for (unsigned int i = st->queue_len; i < CVMM_I8042_QUEUE_SIZE; i++)
		if (st->queue[i])
			return false;
	return true;
}

int cvmm_i8042_restore(struct cvmm_i8042 *d, const struct cvmm_i8042_state *st)
{
	if (!st || !state_valid(st))
		return -EINVAL;
	d->ctr = st->ctr;
	d->status_flags = st->status_flags;
	d->pending_cmd = st->pending_cmd;
	d->kbd_pending = st->kbd_pending;
	d->outport = st->outport;
	d->last_data = st->last_data;
	d->scan_set = st->scan_set;
	d->queue_len = st->queue_len;
	d->queue_aux = st->queue_aux;
	memcpy(d->queue, st->queue, sizeof(d->queue));
	line_levels(d, &d->kbd_line, &d->aux_line);
	return 0;
}
