/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SNAPSHOT_TESTS_H
#define SNAPSHOT_TESTS_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

Suite *snapshot_suite(void);
Suite *snapshot_hostile_suite(void);

/* A finished memory stream of @n sections "sec/<i>" with payloads of i*7 bytes. */
void snap_test_stream(unsigned int n, uint8_t **buf, size_t *len);

#endif
