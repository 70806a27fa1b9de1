/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: random sequences of AML builder calls with arbitrary
 * names, values and (mis)nested marks, into a small capped buffer. The
 * builder must never write past its cap, must keep its first error, and a
 * construct closed without error must carry a PkgLength that covers exactly
 * its body.
 */
#include <cvmm/acpi-tables.h>

#include <stdint.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static uint32_t pkglen_at(const uint8_t *p, unsigned int *n)
{
	unsigned int follow = p[0] >> 6;
	uint32_t v = follow ? p[0] & 0x0f : p[0] & 0x3f;

	for (unsigned int i = 0; i < follow; i++)
		v |= (uint32_t)p[1 + i] << (4 + 8 * i);
	*n = follow + 1;
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmm_acpi_buf b;
	size_t marks[16];
	unsigned int depth = 0;
	size_t cap;
	int first_err = 0;

	if (size < 2)
		return 0;
	cap = 64 + (size_t)data[0] * 64;
	cvmm_acpi_buf_init(&b, cap);
	data++;
	size--;
	while (size >= 6) {
		uint8_t op = data[0];
		char name[6];
		uint64_t v;
		size_t before = b.len;
		int r = 0;

		memcpy(name, data + 1, 5);
		name[5] = 0;
		memcpy(&v, data, sizeof(v) <= size ? sizeof(v) : 0);
		if (size < sizeof(v))
			v = data[1];
		switch (op % 14) {
		case 0: r = cvmm_aml_name_string(&b, name); break;
		case 1: r = cvmm_aml_integer(&b, v); break;
		case 2: r = cvmm_aml_string(&b, name); break;
		case 3: r = cvmm_aml_eisaid(&b, name); break;
		case 4: r = cvmm_aml_buffer(&b, data, data[1] % 6); break;
		case 5:
			if (depth < 16)
				marks[depth++] = cvmm_aml_device_begin(&b, name);
			r = cvmm_acpi_buf_error(&b); /* begins report through the buffer */
			break;
		case 6:
			if (depth < 16)
				marks[depth++] = cvmm_aml_method_begin(&b, name, data[5] % 9, data[5] & 0x10);
			r = cvmm_acpi_buf_error(&b);
			break;
		case 7:
			r = cvmm_acpi_buf_error(&b);
			if (depth) {
				size_t m = marks[--depth];

				r = cvmm_aml_end(&b, m);
				if (!r && !first_err) {
					unsigned int n;

					CHECK(pkglen_at(b.data + m, &n) == b.len - m);
				}
			}
			break;
		case 8: {
			size_t m = cvmm_aml_package_begin(&b);

			cvmm_aml_integer(&b, v);
			r = cvmm_aml_package_end(&b, m, data[5] % 3 ? 1 : 300);
			break;
		}
		case 9: {
			size_t m = cvmm_aml_restemplate_begin(&b);

			cvmm_aml_res_io(&b, (uint16_t)v, (uint16_t)(v >> 16), data[4], data[5]);
			cvmm_aml_res_irq_noflags(&b, data[5] % 20);
			cvmm_aml_res_interrupt(&b, data[4] & 0x3f, (uint32_t)v);
			cvmm_aml_res_qword_memory(&b, v & 1, v & 2, v, data[5] ? (uint64_t)-1 / data[5] : 0);
			r = cvmm_aml_restemplate_end(&b, m);
			break;
		}
		case 10: r = cvmm_aml_end(&b, (size_t)v); break; /* a bogus mark */
		case 11: r = cvmm_aml_name(&b, name); break;
		case 12: {
			size_t t = cvmm_acpi_table_begin(&b, name, data[5], NULL, NULL);

			r = cvmm_acpi_table_end(&b, t);
			if (!r && !first_err)
				CHECK(cvmm_acpi_sum(b.data + t, b.len - t) == 0);
			break;
		}
		default: r = cvmm_acpi_buf_append(&b, data, data[5] % 7); break;
		}
		(void)before;
		CHECK(b.len <= cap && b.cap <= cap);
		if (first_err)
			CHECK(b.err == first_err && r == first_err);
		else if (b.err)
			first_err = b.err;
		data += 6;
		size -= 6;
	}
	cvmm_acpi_buf_fini(&b);
	return 0;
}
