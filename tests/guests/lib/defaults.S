/* SPDX-License-Identifier: Apache-2.0 */
/* Header defaults, weak so that GUEST_IMAGE_FLAGS()/GUEST_STACK_SIZE() in a
 * guest override them. In their own file: were they in header.S, the
 * assembler would fold these values into the header before the link. */
	.weak cvmm_guest_flags
	.set cvmm_guest_flags, 0
	.weak cvmm_guest_stack_size
	.set cvmm_guest_stack_size, 0x4000
	.section .note.GNU-stack, "", @progbits
