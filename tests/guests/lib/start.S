/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Entry and interrupt stubs: the only code of libguest that may run at CPL0
 * (emulated at ~0.3 MIPS on this machine, so every instruction counts).
 * Boot ABI: RDI = vCPU index, RSI = boot info GPA, RSP = stack top.
 */
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23

	.section .text.entry, "ax"
	.code64
	/* The header's entry point: this stub, unless the guest defines its
	 * own cvmm_guest_start (a first instruction of its own, which then
	 * jumps here). */
	.weak cvmm_guest_start
	.set cvmm_guest_start, cvmm_guest_entry
	.globl cvmm_guest_entry
cvmm_guest_entry:
	mov %rdi, %r12
	mov %rsi, %r13
	mov %cs, %eax
	test $3, %al
	jnz 1f
	/* CPL0: load the runtime's IDT (filled in later at CPL3: lidt only
	 * records the address) and iretq to CPL3 on the same stack. */
	lidt cvmm_guest_idtr
	mov %rsp, %rax
	pushq $SEL_UDATA
	pushq %rax
	pushq $0x3202  /* IOPL 3, IF: interrupts reach the IDT */
	pushq $SEL_UCODE
	pushq $1f
	iretq
1:	xor %ebp, %ebp
	and $-16, %rsp
	mov %r12, %rdi
	mov %r13, %rsi
	call cvmm_guest_cstart
2:	ud2
	jmp 2b

/* One stub per vector: push a dummy error code where the CPU pushes none,
 * then the vector, and share the save/restore path. */
	.macro isr vec
	.balign 16
isr_\vec:
	.if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0
	.endif
	pushq $\vec
	jmp isr_common
	.endm

	.balign 16
	.globl cvmm_guest_isr_stubs
cvmm_guest_isr_stubs:
	.altmacro
	.set vec, 0
	.rept 256
	isr %vec
	.set vec, vec + 1
	.endr

isr_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	cld
	call cvmm_guest_isr
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp
	iretq

	.section .note.GNU-stack, "", @progbits
