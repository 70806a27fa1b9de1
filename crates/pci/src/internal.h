/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside the pci crate only. */
#ifndef CVMM_PCI_INTERNAL_H
#define CVMM_PCI_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/pci.h>
#include <cvmm/sys-util.h>

#define PCI_CRATE "pci"

/* One refusal message to @err (if any) and the log. */
void cvmm_pci_refuse(char *err, size_t errlen, const char *fmt, ...) CVMM_PRINTF(3, 4);

#endif
