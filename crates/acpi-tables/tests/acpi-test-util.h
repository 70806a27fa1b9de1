/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the acpi-tables test programs: an independent PkgLength decoder
 * and a representative configuration. */
#ifndef ACPI_TEST_UTIL_H
#define ACPI_TEST_UTIL_H

#include <cvmm/acpi-tables.h>
#include <stdint.h>
#include <string.h>

/* Decode a PkgLength at @p (ACPI 6.4, 20.2.4); *@n gets its byte count. */
static inline uint32_t test_pkglen_decode(const uint8_t *p, unsigned int *n)
{
	unsigned int follow = p[0] >> 6;
	uint32_t v;

	*n = follow + 1;
	if (!follow)
		return p[0] & 0x3f;
	v = p[0] & 0x0f;
	for (unsigned int i = 0; i < follow; i++)
		v |= (uint32_t)p[1 + i] << (4 + 8 * i);
	return v;
}

static inline uint64_t test_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static const struct cvmm_acpi_virtio_mmio test_virtio[] = {
	{ .base = 0xd0000000, .size = 0x200, .gsi = 5 },
	{ .base = 0xd0001000, .size = 0x200, .gsi = 6, .level = true },
	{ .base = 0x100000000ull, .size = 0x1000, .gsi = 23 },
};

static const struct cvmm_acpi_irq_override test_isos[] = {
	{ .source = 0, .gsi = 2, .flags = 0 },
	{ .source = 9, .gsi = 9, .flags = CVMM_ACPI_MPS_ACTIVE_HIGH | CVMM_ACPI_MPS_LEVEL },
};

static inline void test_config(struct cvmm_acpi_config *c)
{
	memset(c, 0, sizeof(*c));
	c->sz = sizeof(*c);
	c->gpa = 0xe0000;
	c->num_cpus = 4;
	c->ioapic_id = 4;
	c->overrides = test_isos;
	c->num_overrides = 2;
	c->serial = true;
	c->serial_port = 0x3f8;
	c->serial_irq = 4;
	c->i8042 = true;
	c->rtc = true;
	c->virtio = test_virtio;
	c->num_virtio = 3;
	c->sleep_control = (struct cvmm_acpi_gas){ .space_id = CVMM_ACPI_GAS_IO, .address = 0x600 };
	c->sleep_status = (struct cvmm_acpi_gas){ .space_id = CVMM_ACPI_GAS_IO, .address = 0x601 };
	c->reset_reg = (struct cvmm_acpi_gas){ .space_id = CVMM_ACPI_GAS_IO, .address = 0x602 };
	c->reset_value = 0x0f;
}

/* The table whose header is at guest address @gpa, as a pointer into @t. */
static inline const uint8_t *test_table_at(const struct cvmm_acpi_tables *t, uint64_t gpa)
{
	if (gpa < t->gpa || gpa - t->gpa + 36 > t->len)
		return NULL;
	if (test_le(t->data + (gpa - t->gpa) + 4, 4) > t->len - (gpa - t->gpa))
		return NULL;
	return t->data + (gpa - t->gpa);
}

#endif
