/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CVMM_MIGRATION_INTERNAL_H
#define CVMM_MIGRATION_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Write "migration message 'TYPE' field 'FIELD': why" to @err; @return @ret. */
int cvmm_mig__fail(char *err, size_t errlen, int ret, uint32_t type, const char *field,
		   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The largest payload a message of @type may have (0: unknown type). */
uint64_t cvmm_mig__max_len(uint32_t type);

#endif
