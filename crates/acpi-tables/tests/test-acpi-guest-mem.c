/* SPDX-License-Identifier: Apache-2.0 */
/* cvmm_acpi_tables_write() against real vm-memory guest RAM. */
#include <cvmm/acpi-tables.h>
#include <cvmm/vm-memory.h>
#include "cvmm-test.h"
#include "acpi-test-util.h"

#include <errno.h>
#include <stdlib.h>

START_TEST(write_into_guest_ram)
{
	struct cvmm_x86_ram_opts ro = { .sz = sizeof(ro), .size = 2u << 20,
					.backing = CVMM_MEM_ANON, .flags = CVMM_MEM_F_NORESERVE };
	struct cvmm_guest_mem *m;
	struct cvmm_acpi_config cfg;
	struct cvmm_acpi_tables t;
	uint8_t *back, rsdp[36];
	uint64_t xsdt;

	ck_assert_int_eq(cvmm_guest_mem_create_x86(&ro, &m), 0);
	test_config(&cfg);
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), 0);
	ck_assert_int_eq(cvmm_acpi_tables_write(&t, m), 0);
	back = malloc(t.len);
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(cvmm_guest_mem_read(m, 0xe0000, back, t.len), 0);
	ck_assert_mem_eq(back, t.data, t.len);
	/* Follow the pointers the way a guest would, through guest memory. */
	ck_assert_int_eq(cvmm_guest_mem_read(m, 0xe0000, rsdp, sizeof(rsdp)), 0);
	ck_assert_uint_eq(cvmm_acpi_sum(rsdp, 36), 0);
	xsdt = test_le(rsdp + 24, 8);
	{
		uint8_t hdr[36];

		ck_assert_int_eq(cvmm_guest_mem_read(m, xsdt, hdr, sizeof(hdr)), 0);
		ck_assert_mem_eq(hdr, "XSDT", 4);
	}
	free(back);
	cvmm_acpi_tables_fini(&t);

	/* A placement outside guest RAM fails with -EFAULT. */
	cfg.gpa = 0x40000000;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), 0);
	ck_assert_int_eq(cvmm_acpi_tables_write(&t, m), -EFAULT);
	cvmm_acpi_tables_fini(&t);
	/* Straddling the end of RAM: nothing is written. */
	cfg.gpa = (2u << 20) - 64;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), 0);
	ck_assert_int_eq(cvmm_acpi_tables_write(&t, m), -EFAULT);
	{
		uint8_t z[64], zero[64] = { 0 };

		ck_assert_int_eq(cvmm_guest_mem_read(m, cfg.gpa, z, sizeof(z)), 0);
		ck_assert_mem_eq(z, zero, sizeof(z));
	}
	ck_assert_int_eq(cvmm_acpi_tables_write(NULL, m), -EINVAL);
	cvmm_acpi_tables_fini(&t);
	ck_assert_int_eq(cvmm_acpi_tables_write(&t, m), -EINVAL);
	cvmm_guest_mem_destroy(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acpi-guest-mem");
	TCase *tc = tcase_create("write");

	tcase_add_test(tc, write_into_guest_ram);
	suite_add_tcase(s, tc);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
