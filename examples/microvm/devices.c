/* SPDX-License-Identifier: Apache-2.0 */
/* The legacy platform on the port bus: COM1, i8042, CMOS RTC, the
 * debug-exit port of the test guests and the ACPI sleep register. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm.h"

static void serial_out(void *opaque, const uint8_t *buf, size_t len)
{
	struct vmm *v = opaque;

	/* A full pipe stalls this vCPU, like a slow UART would; nothing is dropped. */
	if (v->serial_out >= 0)
		cvmm_write_full(v->serial_out, buf, len);
}

static void serial_irq(void *opaque)
{
	struct vmm *v = opaque;

	cvmm_eventfd_write(v->serial_irqfd, 1);
}

static void serial_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vmm *v = opaque;

	if (len != 1)
		return;
	pthread_mutex_lock(&v->serial.lock);
	if (is_write)
		cvmm_serial_write(v->serial.dev, off, data[0]);
	else
		cvmm_serial_read(v->serial.dev, off, data);
	pthread_mutex_unlock(&v->serial.lock);
}

size_t vmm_serial_input(struct vmm *v, const uint8_t *buf, size_t len)
{
	size_t n;

	pthread_mutex_lock(&v->serial.lock);
	n = cvmm_serial_enqueue_input(v->serial.dev, buf, len);
	pthread_mutex_unlock(&v->serial.lock);
	return n;
}

static void i8042_reset(void *opaque)
{
	vmm_request_stop(opaque, VM_STOP_RESET, 0);
}

static void i8042_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vmm *v = opaque;

	/* Ports 0x60 (data) and 0x64 (status/command) of the 5-port window. */
	if (len != 1 || (off != 0 && off != 4))
		return;
	pthread_mutex_lock(&v->i8042.lock);
	if (is_write)
		cvmm_i8042_write(v->i8042.dev, off, data[0]);
	else
		cvmm_i8042_read(v->i8042.dev, off, data);
	pthread_mutex_unlock(&v->i8042.lock);
}

static void rtc_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vmm *v = opaque;

	if (len != 1)
		return;
	pthread_mutex_lock(&v->rtc.lock);
	if (is_write)
		cvmm_rtc_write(v->rtc.dev, off, data[0]);
	else
		cvmm_rtc_read(v->rtc.dev, off, data);
	pthread_mutex_unlock(&v->rtc.lock);
}

static void debug_exit_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	uint32_t code = 0;

	if (!is_write)
		return;
	memcpy(&code, data, len < 4 ? len : 4);
	vmm_request_stop(opaque, VM_STOP_DEBUG_EXIT, (int)(code & 0xff));
}

/*
 * ACPI hardware-reduced sleep control register: SLP_EN (bit 5) with
 * SLP_TYPx (bits 2-4) = 5, the S5 value the DSDT's _S5_ names, powers off.
 */
#define SLEEP_CTRL_SLP_EN 0x20
#define SLEEP_CTRL_TYP_SHIFT 2
#define SLEEP_TYPE_S5 5

static void sleep_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (off == 0 && (data[0] & SLEEP_CTRL_SLP_EN) &&
	    ((data[0] >> SLEEP_CTRL_TYP_SHIFT) & 7) == SLEEP_TYPE_S5)
		vmm_request_stop(opaque, VM_STOP_POWEROFF, 0);
}

/*
 * The boot timer (like Firecracker's): each POST code the guest writes is
 * reported with the time since the process started, so start-up can be
 * measured from inside the guest's own progress.
 */
static void boot_timer_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vmm *v = opaque;
	uint64_t ns = cvmm_now_ns() - v->t0_ns;

	if (is_write)
		fprintf(stderr, "cvmm-microvm: boot-timer: post code 0x%02x at %llu.%03llu ms\n",
			data[0], (unsigned long long)(ns / 1000000),
			(unsigned long long)(ns / 1000 % 1000));
}

static int open_serial_output(struct vmm *v, char *err, size_t errlen)
{
	switch (v->cfg->serial) {
	case SERIAL_STDIO:
		v->serial_out = STDOUT_FILENO;
		return 0;
	case SERIAL_OFF:
		v->serial_out = -1;
		return 0;
	case SERIAL_FILE:
		v->serial_out = open(v->cfg->serial_path,
				     O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0644);
		if (v->serial_out < 0) {
			snprintf(err, errlen, "--serial: cannot open '%s': %s", v->cfg->serial_path,
				 strerror(errno));
			return -errno;
		}
		return 0;
	}
	return -EINVAL;
}

int vmm_devices_init(struct vmm *v, char *err, size_t errlen)
{
	struct cvmm_serial_opts so = { .sz = sizeof(so), .trigger = serial_irq,
				       .write = serial_out, .opaque = v };
	struct cvmm_i8042_opts io = { .sz = sizeof(io), .reset = i8042_reset, .opaque = v };
	struct cvmm_rtc_opts ro = { .sz = sizeof(ro) };
	uint64_t below = 0, above = 0;
	int ret;

	pthread_mutex_init(&v->serial.lock, NULL);
	pthread_mutex_init(&v->i8042.lock, NULL);
	pthread_mutex_init(&v->rtc.lock, NULL);

	/* virtio first: a bad --disk fails before a --serial file is created. */
	ret = vmm_virtio_init(v, err, errlen);
	if (ret)
		return ret;

	ret = open_serial_output(v, err, errlen);
	if (ret)
		return ret;
	v->serial_irqfd = cvmm_eventfd_create(0);
	if (v->serial_irqfd < 0)
		return v->serial_irqfd;
	ret = cvmm_kvm_vm_register_irqfd(v->vm, v->serial_irqfd, MICROVM_SERIAL_IRQ, -1);
	if (ret) {
		snprintf(err, errlen, "KVM_IRQFD for the serial port: %s", strerror(-ret));
		return ret;
	}
	if ((ret = cvmm_serial_create(&so, (struct cvmm_serial **)&v->serial.dev)) ||
	    (ret = cvmm_i8042_create(&io, (struct cvmm_i8042 **)&v->i8042.dev)) ||
	    (ret = cvmm_rtc_create(&ro, (struct cvmm_rtc **)&v->rtc.dev))) {
		snprintf(err, errlen, "legacy devices: %s", strerror(-ret));
		return ret;
	}
	for (unsigned int i = 0; i < cvmm_guest_mem_num_regions(v->mem); i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(v->mem, i);

		if (r->gpa < CVMM_X86_MMIO_HOLE_END)
			below += r->size;
		else
			above += r->size;
	}
	cvmm_rtc_set_memory(v->rtc.dev, below, above);

	if ((ret = bus_add(&v->pio, MICROVM_SERIAL_PORT, 8, serial_io, v, "serial")) ||
	    (ret = bus_add(&v->pio, MICROVM_I8042_PORT, 5, i8042_io, v, "i8042")) ||
	    (ret = bus_add(&v->pio, MICROVM_RTC_PORT, 2, rtc_io, v, "rtc")) ||
	    (ret = bus_add(&v->pio, MICROVM_DEBUG_EXIT_PORT, 4, debug_exit_io, v, "debug-exit")) ||
	    (ret = bus_add(&v->pio, MICROVM_SLEEP_PORT, 2, sleep_io, v, "acpi-sleep")) ||
	    (v->cfg->boot_timer &&
	     (ret = bus_add(&v->pio, MICROVM_POST_PORT, 1, boot_timer_io, v, "boot-timer")))) {
		snprintf(err, errlen, "port bus: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

void vmm_devices_fini(struct vmm *v)
{
	vmm_virtio_fini(v);
	cvmm_serial_destroy(v->serial.dev);
	cvmm_i8042_destroy(v->i8042.dev);
	cvmm_rtc_destroy(v->rtc.dev);
	v->serial.dev = v->i8042.dev = v->rtc.dev = NULL;
	cvmm_close(v->serial_irqfd);
	if (v->serial_out > STDERR_FILENO)
		cvmm_close(v->serial_out);
	v->serial_irqfd = v->serial_out = -1;
}
