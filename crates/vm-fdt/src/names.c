/* SPDX-License-Identifier: Apache-2.0 */
/* Devicetree spec 0.4, 2.2.1 and 2.2.4: the characters names may use. */
#include "internal.h"

#include <errno.h>
#include <libfdt.h>
#include <string.h>

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool node_char(char c)
{
	return is_alpha(c) || is_digit(c) || strchr(",._+-", c) != NULL;
}

bool cvmm_fdt_node_name_valid(const char *name)
{
	const char *at;
	size_t base_len, len;

	if (!name)
		return false;
	len = strnlen(name, CVMM_FDT_MAX_NAME + 1);
	if (len == 0 || len > CVMM_FDT_MAX_NAME)
		return false;
	at = strchr(name, '@');
	base_len = at ? (size_t)(at - name) : len;
	if (base_len == 0 || base_len > 31 || !is_alpha(name[0]))
		return false;
	for (size_t i = 0; i < base_len; i++)
		if (!node_char(name[i]))
			return false;
	if (!at)
		return true;
	/* A unit address is not empty and has no second '@'. */
	if (at[1] == '\0')
		return false;
	for (const char *p = at + 1; *p; p++)
		if (!node_char(*p))
			return false;
	return true;
}

bool cvmm_fdt_prop_name_valid(const char *name)
{
	size_t len;

	if (!name)
		return false;
	len = strnlen(name, 32);
	if (len == 0 || len > 31)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!(is_alpha(c) || is_digit(c) || strchr(",._+?#-", c)))
			return false;
	}
	return true;
}

int cvmm_fdt_errno(int fdt_err)
{
	switch (fdt_err < 0 ? -fdt_err : fdt_err) {
	case 0:
		return 0;
	case FDT_ERR_NOTFOUND:
		return -ENOENT;
	case FDT_ERR_EXISTS:
		return -EEXIST;
	case FDT_ERR_NOSPACE:
		return -E2BIG;
	case FDT_ERR_NOPHANDLES:
		return -ENOSPC;
	case FDT_ERR_BADOFFSET:
	case FDT_ERR_BADPATH:
	case FDT_ERR_BADPHANDLE:
	case FDT_ERR_BADSTATE:
	case FDT_ERR_BADVALUE:
	case FDT_ERR_BADNCELLS:
	case FDT_ERR_BADFLAGS:
		return -EINVAL;
	case FDT_ERR_TRUNCATED:
	case FDT_ERR_BADMAGIC:
	case FDT_ERR_BADVERSION:
	case FDT_ERR_BADSTRUCTURE:
	case FDT_ERR_BADLAYOUT:
	case FDT_ERR_ALIGNMENT:
		return -EBADMSG;
	default:
		return -EIO;
	}
}
