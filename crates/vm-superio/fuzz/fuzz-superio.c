/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the guest's side of all three devices. The input is an
 * optional snapshot to restore (hostile restore input) followed by a stream
 * of 3-byte port accesses; after each one the devices must still produce
 * snapshots that restore into fresh devices, and the UART register
 * invariants must hold.
 */
#include <cvmm/vm-superio.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static int64_t now_ns;
static size_t tx_bytes;

static int64_t fake_clock(void *o) { (void)o; return now_ns; }
static void tx(void *o, const uint8_t *b, size_t n) { (void)o; (void)b; tx_bytes += n; }

static void check_serial(struct cvmm_serial *s, struct cvmm_serial *scratch)
{
	struct cvmm_serial_state st;
	uint8_t iir, lsr;

	CHECK(cvmm_serial_save(s, &st) == 0);
	CHECK(cvmm_serial_restore(scratch, &st) == 0);
	CHECK(cvmm_serial_read(scratch, CVMM_SERIAL_IIR_FCR, &iir) == 0);
	CHECK(cvmm_serial_read(scratch, CVMM_SERIAL_LSR, &lsr) == 0);
	CHECK((lsr & 0x60) == 0x60);
	CHECK((iir & 0x0f) <= 6 && (iir & 0x09) != 0x08 && !(iir & 0x30));
	CHECK(cvmm_serial_irq_pending(s) == ((iir & 1) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmm_serial_opts so = { .sz = sizeof(so), .write = tx };
	struct cvmm_i8042_opts ko = { .sz = sizeof(ko) };
	struct cvmm_rtc_opts ro = { .sz = sizeof(ro), .clock = fake_clock };
	struct cvmm_serial *s, *s2;
	struct cvmm_i8042 *k, *k2;
	struct cvmm_rtc *r, *r2;
	struct cvmm_i8042_state kst;
	struct cvmm_rtc_state rst;

	if (!size)
		return 0;
	now_ns = 1700000000ll * 1000000000ll;
	CHECK(cvmm_serial_create(&so, &s) == 0 && cvmm_serial_create(&so, &s2) == 0);
	CHECK(cvmm_i8042_create(&ko, &k) == 0 && cvmm_i8042_create(&ko, &k2) == 0);
	CHECK(cvmm_rtc_create(&ro, &r) == 0 && cvmm_rtc_create(&ro, &r2) == 0);

	/* Mode byte: which snapshots to take from the input first. */
	{
		uint8_t mode = *data++;

		size--;
		if ((mode & 1) && size >= sizeof(struct cvmm_serial_state)) {
			struct cvmm_serial_state st;

			memcpy(&st, data, sizeof(st));
			cvmm_serial_restore(s, &st);
			data += sizeof(st);
			size -= sizeof(st);
		}
		if ((mode & 2) && size >= sizeof(kst)) {
			memcpy(&kst, data, sizeof(kst));
			cvmm_i8042_restore(k, &kst);
			data += sizeof(kst);
			size -= sizeof(kst);
		}
		if ((mode & 4) && size >= sizeof(rst)) {
			memcpy(&rst, data, sizeof(rst));
			cvmm_rtc_restore(r, &rst);
			data += sizeof(rst);
			size -= sizeof(rst);
		}
	}

	for (; size >= 3; data += 3, size -= 3) {
		uint8_t op = data[0], off = data[1], val = data[2], v;

		switch (op % 8) {
		case 0:
			cvmm_serial_write(s, off % 9, val);
			break;
		case 1:
			cvmm_serial_read(s, off % 9, &v);
			break;
		case 2:
			cvmm_serial_enqueue_input(s, data + 1, val % 3);
			break;
		case 3:
			cvmm_i8042_write(k, off % 6, val);
			break;
		case 4:
			cvmm_i8042_read(k, off % 6, &v);
			break;
		case 5:
			cvmm_rtc_write(r, off % 3, val);
			break;
		case 6:
			cvmm_rtc_read(r, off % 3, &v);
			break;
		default:
			now_ns += (int64_t)val * (off & 0x80 ? 1000000000ll : 4000000ll);
			cvmm_rtc_poll(r);
			break;
		}
		check_serial(s, s2);
		CHECK(cvmm_i8042_save(k, &kst) == 0 && cvmm_i8042_restore(k2, &kst) == 0);
		CHECK(cvmm_rtc_save(r, &rst) == 0 && cvmm_rtc_restore(r2, &rst) == 0);
	}
	cvmm_serial_destroy(s);
	cvmm_serial_destroy(s2);
	cvmm_i8042_destroy(k);
	cvmm_i8042_destroy(k2);
	cvmm_rtc_destroy(r);
	cvmm_rtc_destroy(r2);
	return 0;
}
