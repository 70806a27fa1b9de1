/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/vm-superio.h
 * @brief Legacy PC devices as pure models: 16550A UART, i8042, CMOS RTC.
 *
 * Each model is a register file and a little logic, nothing else: no
 * threads, no file descriptors, no timers. The program routes guest port
 * I/O to cvmm_<dev>_read()/cvmm_<dev>_write() with the offset from the
 * device's base port, and the model answers through callbacks the program
 * supplies (interrupt trigger, output bytes, reset, wall clock). The same
 * model therefore serves a KVM vCPU loop, a test harness and a fuzzer.
 *
 * Every register offset and value comes from the guest and is treated as
 * hostile: any byte written to any offset leaves the model in a valid
 * state. Snapshots are plain-data structs (struct cvmm_<dev>_state) with a
 * version field; restore() validates every field and rejects bad input
 * with -EINVAL without touching the device.
 *
 * Thread safety (all three models): none inside. A device is owned by one
 * thread at a time (typically the vCPU thread doing the port I/O, or the
 * event loop with a lock around both users). Callbacks run synchronously on
 * the caller's thread, from inside the read/write/enqueue call, and must not
 * call back into the same device.
 */
#ifndef CVMM_VM_SUPERIO_H
#define CVMM_VM_SUPERIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Interrupt trigger: edge semantics, like an eventfd bound to a KVM irqfd.
 * Each model documents exactly when it calls it. A program wanting a level
 * (e.g. for KVM_IRQ_LINE) asks cvmm_<dev>_irq_pending() after each access.
 */
typedef void (*cvmm_superio_trigger_fn)(void *opaque);

/* ======================================================================== */
/* 16550A UART                                                               */
/* ======================================================================== */

/* Register offsets from the base port (0x3f8 for COM1). */
#define CVMM_SERIAL_RBR_THR 0 /* DLAB=0: receive buffer (r) / transmit holding (w) */
#define CVMM_SERIAL_IER 1     /* DLAB=0: interrupt enable */
#define CVMM_SERIAL_DLL 0     /* DLAB=1: divisor latch low */
#define CVMM_SERIAL_DLM 1     /* DLAB=1: divisor latch high */
#define CVMM_SERIAL_IIR_FCR 2 /* interrupt identification (r) / FIFO control (w) */
#define CVMM_SERIAL_LCR 3     /* line control; bit 7 = DLAB */
#define CVMM_SERIAL_MCR 4     /* modem control; bit 4 = loopback */
#define CVMM_SERIAL_LSR 5     /* line status */
#define CVMM_SERIAL_MSR 6     /* modem status */
#define CVMM_SERIAL_SCR 7     /* scratch */
#define CVMM_SERIAL_NUM_REGS 8

/* IER bits */
#define CVMM_SERIAL_IER_RDA 0x01  /* received data available */
#define CVMM_SERIAL_IER_THRE 0x02 /* transmit holding register empty */
#define CVMM_SERIAL_IER_RLS 0x04  /* receiver line status */
#define CVMM_SERIAL_IER_MSR 0x08  /* modem status */
/* IIR values (low nibble) and the FIFO-enabled bits */
#define CVMM_SERIAL_IIR_NONE 0x01
#define CVMM_SERIAL_IIR_MSR 0x00
#define CVMM_SERIAL_IIR_THRE 0x02
#define CVMM_SERIAL_IIR_RDA 0x04
#define CVMM_SERIAL_IIR_RLS 0x06
#define CVMM_SERIAL_IIR_FIFO 0xc0
/* FCR bits */
#define CVMM_SERIAL_FCR_ENABLE 0x01
#define CVMM_SERIAL_FCR_CLEAR_RX 0x02
#define CVMM_SERIAL_FCR_CLEAR_TX 0x04
#define CVMM_SERIAL_FCR_TRIGGER_MASK 0xc0
/* LCR / MCR bits */
#define CVMM_SERIAL_LCR_DLAB 0x80
#define CVMM_SERIAL_MCR_DTR 0x01
#define CVMM_SERIAL_MCR_RTS 0x02
#define CVMM_SERIAL_MCR_OUT1 0x04
#define CVMM_SERIAL_MCR_OUT2 0x08
#define CVMM_SERIAL_MCR_LOOP 0x10
/* LSR bits */
#define CVMM_SERIAL_LSR_DR 0x01
#define CVMM_SERIAL_LSR_OE 0x02
#define CVMM_SERIAL_LSR_PE 0x04
#define CVMM_SERIAL_LSR_FE 0x08
#define CVMM_SERIAL_LSR_BI 0x10
#define CVMM_SERIAL_LSR_THRE 0x20
#define CVMM_SERIAL_LSR_TEMT 0x40
/* MSR bits */
#define CVMM_SERIAL_MSR_DCTS 0x01
#define CVMM_SERIAL_MSR_DDSR 0x02
#define CVMM_SERIAL_MSR_TERI 0x04
#define CVMM_SERIAL_MSR_DDCD 0x08
#define CVMM_SERIAL_MSR_CTS 0x10
#define CVMM_SERIAL_MSR_DSR 0x20
#define CVMM_SERIAL_MSR_RI 0x40
#define CVMM_SERIAL_MSR_DCD 0x80

/**
 * Receive FIFO depth. A real 16550A has 16 bytes; the model keeps 64 (as
 * Firecracker does) so a burst of host input costs fewer guest interrupts.
 * With the FIFO disabled (FCR bit 0 clear) the depth is 1, as on a 16450.
 */
#define CVMM_SERIAL_FIFO_SIZE 64

/** Bytes the guest transmitted (THR writes outside loopback), in order. */
typedef void (*cvmm_serial_write_fn)(void *opaque, const uint8_t *buf, size_t len);

struct cvmm_serial_opts {
	size_t sz;                     /* sizeof(struct cvmm_serial_opts) */
	/*
	 * Called each time an enabled interrupt source becomes pending that
	 * was not pending before (so also while another source is pending: a
	 * guest that services one source per interrupt is still woken). Never
	 * called when sources clear. May be NULL.
	 */
	cvmm_superio_trigger_fn trigger;
	/* Transmitted bytes; NULL discards them. */
	cvmm_serial_write_fn write;
	/*
	 * Called once after cvmm_serial_enqueue_input() accepted fewer bytes
	 * than offered (FIFO full, or loopback) as soon as the FIFO has room
	 * again, so the program can resume reading its input. May be NULL.
	 */
	cvmm_superio_trigger_fn input_room;
	void *opaque;                  /* passed to every callback */
};

struct cvmm_serial;

/**
 * Create a UART in its power-on state (FIFO off, no interrupts enabled,
 * LSR = THRE|TEMT, MSR inputs CTS|DSR|DCD asserted, divisor 12 = 9600 baud).
 * @return 0; -EINVAL (NULL or short opts->sz); -ENOMEM.
 * Thread safety: reentrant.
 */
int cvmm_serial_create(const struct cvmm_serial_opts *o, struct cvmm_serial **out);

/**
 * Free the device. NULL is a no-op.
 * Thread safety: one owner at a time (see the file comment).
 */
void cvmm_serial_destroy(struct cvmm_serial *s);

/**
 * Guest read of register @offset (0-7) into @val. Reading has the 16550A
 * side effects: RBR pops the FIFO, IIR clears a reported THRE interrupt,
 * LSR clears OE/PE/FE/BI, MSR clears the delta bits.
 * @return 0; -EINVAL when @offset > 7 (*@val is then 0xff, like a floating bus).
 * Thread safety: one owner at a time (see the file comment).
 */
int cvmm_serial_read(struct cvmm_serial *s, uint64_t offset, uint8_t *val);

/**
 * Guest write of @val to register @offset (0-7). A THR write hands the byte
 * to opts->write at once (or to the receive FIFO in loopback mode: a full
 * FIFO then drops it and sets LSR.OE), so the transmitter is always empty.
 * Writes to LSR and MSR are ignored (read-only on a real part).
 * @return 0; -EINVAL when @offset > 7 (nothing changes).
 * Thread safety: one owner at a time (see the file comment).
 */
int cvmm_serial_write(struct cvmm_serial *s, uint64_t offset, uint8_t val);

/**
 * Offer host input bytes to the receiver. As many as fit in the FIFO are
 * taken, the rest is left to the caller (never dropped): stop reading the
 * input source while this returns less than @len and resume when
 * opts->input_room fires. In loopback mode the receiver is disconnected
 * from the line and nothing is accepted.
 * @return the number of bytes accepted (0 .. @len).
 * Thread safety: one owner at a time (see the file comment).
 */
size_t cvmm_serial_enqueue_input(struct cvmm_serial *s, const uint8_t *buf, size_t len);

/**
 * Free space in the receive FIFO right now (0 in loopback mode).
 * Thread safety: one owner at a time (see the file comment).
 */
size_t cvmm_serial_input_room(const struct cvmm_serial *s);

/**
 * Level view of the interrupt output: true while IIR reports a source.
 * Thread safety: one owner at a time (see the file comment).
 */
bool cvmm_serial_irq_pending(const struct cvmm_serial *s);

#define CVMM_SERIAL_STATE_VERSION 1u

/**
 * Snapshot of the guest-visible UART state (format version 1). Plain data,
 * host byte order, no pointers: it may be written to a file as is.
 * Derived bits are not stored: LSR.DR follows rx_len, LSR.THRE/TEMT are
 * always set, IIR is recomputed.
 */
struct cvmm_serial_state {
	uint32_t version;  /* CVMM_SERIAL_STATE_VERSION */
	uint8_t dll, dlm;  /* divisor latch */
	uint8_t ier;       /* only bits 0-3 */
	uint8_t lcr;
	uint8_t mcr;       /* only bits 0-4 */
	uint8_t lsr_err;   /* sticky LSR bits: only OE|PE|FE|BI */
	uint8_t msr;       /* inputs must match MCR in loopback, else CTS|DSR|DCD */
	uint8_t scr;
	uint8_t fcr;       /* FIFO enable (bit 0) and trigger level (bits 6-7) only */
	uint8_t thre_pending; /* 0 or 1: a THRE interrupt not yet read from IIR */
	uint8_t rx_len;    /* bytes in rx[], at most the FIFO depth */
	uint8_t reserved;  /* 0 */
	uint8_t rx[CVMM_SERIAL_FIFO_SIZE]; /* oldest first; bytes past rx_len are 0 */
};

/**
 * Fill @st with the device state. @return 0.
 * Thread safety: same as a register access.
 */
int cvmm_serial_save(const struct cvmm_serial *s, struct cvmm_serial_state *st);

/**
 * Load @st into @s after validating every field. The trigger is not called:
 * the interrupt controller's own snapshot holds any interrupt in flight;
 * ask cvmm_serial_irq_pending() to re-assert a level.
 * @return 0; -EINVAL (wrong version or any invalid field: @s is unchanged).
 * Thread safety: one owner at a time (see the file comment).
 */
int cvmm_serial_restore(struct cvmm_serial *s, const struct cvmm_serial_state *st);

/* ======================================================================== */
/* i8042 keyboard controller                                                 */
/* ======================================================================== */

#define CVMM_I8042_DATA 0    /* port 0x60 */
#define CVMM_I8042_STATUS 4  /* port 0x64: status (r) / command (w) */

/* Status register bits */
#define CVMM_I8042_STR_OBF 0x01
#define CVMM_I8042_STR_IBF 0x02
#define CVMM_I8042_STR_SYS 0x04
#define CVMM_I8042_STR_CMD 0x08     /* last write went to the command port */
#define CVMM_I8042_STR_UNLOCK 0x10  /* keyboard not inhibited */
#define CVMM_I8042_STR_AUXDATA 0x20 /* output byte comes from the aux port */
/* Command byte (controller configuration) bits */
#define CVMM_I8042_CTR_KBDINT 0x01
#define CVMM_I8042_CTR_AUXINT 0x02
#define CVMM_I8042_CTR_SYS 0x04
#define CVMM_I8042_CTR_KBDDIS 0x10
#define CVMM_I8042_CTR_AUXDIS 0x20
#define CVMM_I8042_CTR_XLATE 0x40

/** Output queue depth (controller replies plus keyboard replies). */
#define CVMM_I8042_QUEUE_SIZE 16

struct cvmm_i8042_opts {
	size_t sz;                        /* sizeof(struct cvmm_i8042_opts) */
	/*
	 * The guest pulsed the CPU reset line (command 0xFE, any 0xF0-0xFF
	 * pulse with bit 0 clear, or an output-port write with bit 0 clear):
	 * the program ends or restarts the VM. May be NULL.
	 */
	cvmm_superio_trigger_fn reset;
	/* IRQ 1 / IRQ 12: called when a byte enters the empty output buffer
	 * with the matching CTR interrupt bit set. May be NULL. */
	cvmm_superio_trigger_fn kbd_trigger;
	cvmm_superio_trigger_fn aux_trigger;
	void *opaque;
};

struct cvmm_i8042;

/**
 * Create a controller: self-test passed, keyboard enabled and answering the
 * basic PS/2 commands (reset, identify, LEDs, scan set, enable), no mouse
 * (bytes sent to the aux device are answered with 0xFE, "resend", which
 * drivers treat as "no device").
 * @return 0; -EINVAL; -ENOMEM. Thread safety: reentrant.
 */
int cvmm_i8042_create(const struct cvmm_i8042_opts *o, struct cvmm_i8042 **out);
/**
 * Free the controller. NULL is a no-op.
 * Thread safety: one owner at a time (see the file comment).
 */
void cvmm_i8042_destroy(struct cvmm_i8042 *d);

/**
 * Guest read of port 0x60 (@offset 0: pops the output buffer; an empty
 * buffer returns the last byte again) or 0x64 (@offset 4: status).
 * @return 0; -EINVAL for any other offset (*@val = 0xff).
 * Thread safety: one owner at a time (see the file comment).
 */
int cvmm_i8042_read(struct cvmm_i8042 *d, uint64_t offset, uint8_t *val);

/**
 * Guest write of port 0x60 (data: argument of a pending controller command,
 * else a byte for the keyboard) or 0x64 (controller command). Unknown
 * commands are ignored and never leave the controller waiting.
 * @return 0; -EINVAL for any other offset.
 * Thread safety: one owner at a time (see the file comment).
 */
int cvmm_i8042_write(struct cvmm_i8042 *d, uint64_t offset, uint8_t val);

/**
 * Queue keyboard bytes as if typed, exactly as the guest will read them
 * (scan code set 1 while the guest keeps translation on, as Linux does),
 * e.g. Ctrl-Alt-Del to ask the guest to reboot.
 * @return bytes queued (less than @len when the queue is full).
 * Thread safety: one owner at a time (see the file comment).
 */
size_t cvmm_i8042_push_kbd(struct cvmm_i8042 *d, const uint8_t *codes, size_t len);

/**
 * True while the output buffer holds a byte whose interrupt is enabled.
 * Thread safety: one owner at a time (see the file comment).
 */
bool cvmm_i8042_irq_pending(const struct cvmm_i8042 *d);

#define CVMM_I8042_STATE_VERSION 1u

/** Snapshot (format version 1): plain data, host byte order. */
struct cvmm_i8042_state {
	uint32_t version;      /* CVMM_I8042_STATE_VERSION */
	uint8_t ctr;           /* command byte; bits 3 and 7 must be 0 */
	uint8_t status_flags;  /* only SYS and CMD bits */
	uint8_t pending_cmd;   /* 0 or a command waiting for its data byte:
				  0x60, 0xd1, 0xd2, 0xd3, 0xd4 */
	uint8_t kbd_pending;   /* 0 or a keyboard command waiting for its
				  argument: 0xed, 0xf0, 0xf3 */
	uint8_t outport;       /* output port; bit 0 (reset line) must be 1 */
	uint8_t last_data;     /* what an empty data port reads as */
	uint8_t scan_set;      /* 1, 2 or 3 */
	uint8_t queue_len;     /* 0 .. CVMM_I8042_QUEUE_SIZE */
	uint16_t queue_aux;    /* bit i: queue[i] came from the aux port; 0 past queue_len */
	uint16_t reserved;     /* 0 */
	uint8_t queue[CVMM_I8042_QUEUE_SIZE]; /* oldest first; 0 past queue_len */
};

/** Fill @st. @return 0.
 * Thread safety: one owner at a time (see the file comment).
 */
int cvmm_i8042_save(const struct cvmm_i8042 *d, struct cvmm_i8042_state *st);
/**
 * Validate and load @st (no callbacks run). @return 0; -EINVAL (@d unchanged).
 * Thread safety: one owner at a time (see the file comment).
 */
int cvmm_i8042_restore(struct cvmm_i8042 *d, const struct cvmm_i8042_state *st);

/* ======================================================================== */
/* CMOS RTC (MC146818) and CMOS memory                                       */
/* ======================================================================== */

#define CVMM_RTC_INDEX 0 /* port 0x70: index (w); bit 7 is the NMI mask, not part of it */
#define CVMM_RTC_DATA 1  /* port 0x71 */

/* CMOS register numbers */
#define CVMM_RTC_SECONDS 0x00
#define CVMM_RTC_SECONDS_ALARM 0x01
#define CVMM_RTC_MINUTES 0x02
#define CVMM_RTC_MINUTES_ALARM 0x03
#define CVMM_RTC_HOURS 0x04
#define CVMM_RTC_HOURS_ALARM 0x05
#define CVMM_RTC_DAY_OF_WEEK 0x06
#define CVMM_RTC_DAY_OF_MONTH 0x07
#define CVMM_RTC_MONTH 0x08
#define CVMM_RTC_YEAR 0x09
#define CVMM_RTC_REG_A 0x0a
#define CVMM_RTC_REG_B 0x0b
#define CVMM_RTC_REG_C 0x0c
#define CVMM_RTC_REG_D 0x0d
#define CVMM_RTC_CENTURY 0x32
#define CVMM_RTC_NUM_REGS 128

#define CVMM_RTC_A_UIP 0x80
#define CVMM_RTC_B_SET 0x80
#define CVMM_RTC_B_PIE 0x40
#define CVMM_RTC_B_AIE 0x20
#define CVMM_RTC_B_UIE 0x10
#define CVMM_RTC_B_DM_BINARY 0x04
#define CVMM_RTC_B_24H 0x02
#define CVMM_RTC_C_IRQF 0x80
#define CVMM_RTC_C_PF 0x40
#define CVMM_RTC_C_AF 0x20
#define CVMM_RTC_C_UF 0x10
#define CVMM_RTC_D_VRT 0x80

/** Update-in-progress window before each second boundary, as on the MC146818.
 * The guest's seconds tick in phase with the clock's: a time the guest sets
 * takes effect at whole-second resolution. */
#define CVMM_RTC_UIP_NS 244000u

/**
 * Wall clock: nanoseconds since the Unix epoch (UTC). The guest sees this
 * plus the offset it set by writing the time registers.
 */
typedef int64_t (*cvmm_rtc_clock_fn)(void *opaque);

struct cvmm_rtc_opts {
	size_t sz;                /* sizeof(struct cvmm_rtc_opts) */
	cvmm_rtc_clock_fn clock;  /* NULL: CLOCK_REALTIME */
	/* IRQ 8: called by cvmm_rtc_poll() when a newly set C flag is enabled
	 * in register B (C.IRQF goes 0 -> 1). May be NULL. */
	cvmm_superio_trigger_fn trigger;
	void *opaque;
};

struct cvmm_rtc;

/**
 * Create an RTC: 24-hour BCD mode (B = 0x02), A = 0x26, D = VRT, RAM zero.
 * @return 0; -EINVAL; -ENOMEM. Thread safety: reentrant.
 */
int cvmm_rtc_create(const struct cvmm_rtc_opts *o, struct cvmm_rtc **out);
/**
 * Free the RTC. NULL is a no-op.
 * Thread safety: one owner at a time (see the file comment).
 */
void cvmm_rtc_destroy(struct cvmm_rtc *r);

/**
 * Guest read: @offset 0 reads 0xff (the index port is write-only); @offset
 * 1 reads the selected register. Time registers are computed from the
 * clock in the format register B selects; C is cleared by the read.
 * @return 0; -EINVAL for @offset > 1 (*@val = 0xff).
 * Thread safety: one owner at a time (see the file comment).
 */
int cvmm_rtc_read(struct cvmm_rtc *r, uint64_t offset, uint8_t *val);

/**
 * Guest write: @offset 0 selects a register (bit 7, the NMI mask, is kept
 * apart); @offset 1 writes it. Setting B.SET (or holding the divider in
 * reset through A bits 6-4) freezes the time registers so the guest can
 * write them; restarting updates makes the written time current. Bit 7 of
 * A and all of C and D are read-only, as on the MC146818.
 * @return 0; -EINVAL for @offset > 1.
 * Thread safety: one owner at a time (see the file comment).
 */
int cvmm_rtc_write(struct cvmm_rtc *r, uint64_t offset, uint8_t val);

/**
 * Store the guest RAM size where firmware and old kernels look for it:
 * 0x15/0x16 base memory (640 KiB), 0x17/0x18 and 0x30/0x31 KiB of memory
 * above 1 MiB (capped at 0xffff), 0x34/0x35 memory between 16 MiB and
 * 4 GiB in 64 KiB units (capped at 0xffff), 0x5b-0x5d memory above 4 GiB in
 * 64 KiB units (capped at 0xffffff). @below_4g is the RAM from address 0
 * up to the 32-bit hole; @above_4g the RAM from 4 GiB up.
 * Call before the guest runs (the guest may overwrite CMOS RAM later).
 * Thread safety: one owner at a time (see the file comment).
 */
void cvmm_rtc_set_memory(struct cvmm_rtc *r, uint64_t below_4g, uint64_t above_4g);

/**
 * Raise the time-driven flags of register C (UF each time a second passed
 * since the last poll, AF when the alarm time matches, PF when periodic
 * interrupts are on) and call the trigger if they are enabled. The model
 * has no timer of its own: a program that offers RTC interrupts calls this
 * from a timer (every 1/rate s for periodic ones, else about once a second).
 * @return 0.
 * Thread safety: one owner at a time (see the file comment).
 */
int cvmm_rtc_poll(struct cvmm_rtc *r);

/**
 * True while register C has IRQF set (cleared by reading C).
 * Thread safety: one owner at a time (see the file comment).
 */
bool cvmm_rtc_irq_pending(const struct cvmm_rtc *r);

#define CVMM_RTC_STATE_VERSION 1u

/** Snapshot (format version 1): plain data, host byte order. */
struct cvmm_rtc_state {
	uint32_t version;       /* CVMM_RTC_STATE_VERSION */
	uint8_t index;          /* selected register, 0-127 */
	uint8_t nmi_disabled;   /* 0 or 1: bit 7 of the last index write */
	uint16_t reserved;      /* 0 */
	int64_t offset_sec;     /* guest seconds minus clock() seconds; |offset| <= 10^12 */
	int64_t last_poll_sec;  /* guest second seen by the last poll */
	uint8_t cmos[CVMM_RTC_NUM_REGS]; /* A bit 7 = 0, C low nibble = 0, D = 0x80;
					    time registers hold the frozen time while
					    updates are stopped */
};

/** Fill @st. @return 0.
 * Thread safety: one owner at a time (see the file comment).
 */
int cvmm_rtc_save(const struct cvmm_rtc *r, struct cvmm_rtc_state *st);
/**
 * Validate and load @st. @return 0; -EINVAL (@r unchanged).
 * Thread safety: one owner at a time (see the file comment).
 */
int cvmm_rtc_restore(struct cvmm_rtc *r, const struct cvmm_rtc_state *st);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VM_SUPERIO_H */
