/* SPDX-License-Identifier: Apache-2.0 */
#ifndef MICROVM_INPUT_H
#define MICROVM_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/vmm.h>

/* Host input waiting for room in the UART's FIFO. */
struct microvm_input {
	struct cvmm_vmm *vmm;
	struct cvmm_event_timer *retry;
	bool stdin_on;
	bool stdin_file;      /* a regular file: read on the timer */
	bool stdin_paused;    /* not watched while the FIFO is full */
	uint8_t buf[256];
	size_t len, off;
	/* SIGUSR1/SIGUSR2 when the signalfd carries them (set after init) */
	void (*user_signal)(void *opaque, int signo);
	void *user_opaque;
};

/* Subscribe the signalfd @sfd (SIGTERM/SIGINT stop the VM with 128 + the
 * signal) and, with @serial_stdin, stdin to the VM's control loop.
 * @return 0 or negative errno. */
int microvm_input_init(struct microvm_input *in, struct cvmm_vmm *vmm, int sfd,
		       bool serial_stdin);

#endif
