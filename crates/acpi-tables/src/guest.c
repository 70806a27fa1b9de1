/* SPDX-License-Identifier: Apache-2.0 */
/* The one place acpi-tables touches vm-memory: kept apart so a program that
 * copies the blob itself links no vm-memory code. */
#include <cvmm/acpi-tables.h>
#include <cvmm/vm-memory.h>

#include <errno.h>

int cvmm_acpi_tables_write(const struct cvmm_acpi_tables *t, struct cvmm_guest_mem *m)
{
	if (!t || !m || !t->data)
		return -EINVAL;
	return cvmm_guest_mem_write(m, t->gpa, t->data, t->len);
}
