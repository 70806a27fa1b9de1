/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the acpi-tables sources; not installed. */
#ifndef CVMM_ACPI_INTERNAL_H
#define CVMM_ACPI_INTERNAL_H

#include <cvmm/acpi-tables.h>

#define ACPI_HEADER_LEN 36

/* Record @err unless an error is already recorded; return the sticky one. */
int cvmm_acpi_priv_fail(struct cvmm_acpi_buf *b, int err);
int cvmm_acpi_priv_reserve(struct cvmm_acpi_buf *b, size_t n);
int cvmm_acpi_priv_insert(struct cvmm_acpi_buf *b, size_t pos, const void *p, size_t n);
void cvmm_acpi_priv_put_le(uint8_t *p, uint64_t v, unsigned int n);

#endif
