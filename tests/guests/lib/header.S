/* SPDX-License-Identifier: Apache-2.0 */
/* The image header (struct cvmm_guest_image_hdr, 64 bytes), first in the
 * file; every value comes from the linker script or the guest's overrides. */
	.section .cvmm_header, "a"
	.globl cvmm_guest_header
	.balign 8
cvmm_guest_header:
	.ascii "CVMMGST1"          /* magic */
	.long 1                    /* version */
	.long 64                   /* hdr_size */
	.quad __image_start        /* load_gpa */
	.quad cvmm_guest_start     /* entry */
	.quad __file_size          /* file_size */
	.quad __mem_size           /* mem_size */
	.quad cvmm_guest_stack_size
	.long cvmm_guest_flags
	.long 0                    /* reserved */
	.size cvmm_guest_header, . - cvmm_guest_header
	.section .note.GNU-stack, "", @progbits
