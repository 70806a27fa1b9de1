/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The legacy x86 platform of a microVM on the port bus, each piece a
 * member of the device table: COM1 (16550A), the i8042 (its pulse-reset
 * command resets the VM), the CMOS RTC, the ACPI hardware-reduced sleep
 * register (S5 powers off), and optionally the test guests' debug-exit
 * port and the POST-code boot timer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmm/snapshot.h>
#include <cvmm/vm-superio.h>

#include "internal.h"

struct platform {
	struct cvmm_vmm *vmm;
	struct cvmm_vmm_platform_opts o;
	pthread_mutex_t lock;      /* the superio models have no lock of their own */
	struct cvmm_serial *serial;
	struct cvmm_i8042 *i8042;
	struct cvmm_rtc *rtc;
	int serial_irqfd;          /* eventfd wired to GSI 4 */
};

static void serial_out(void *opaque, const uint8_t *buf, size_t len)
{
	struct platform *p = opaque;

	/* A full pipe stalls this vCPU, like a slow UART would; nothing is dropped. */
	if (p->o.serial_out_fd >= 0)
		cvmm_write_full(p->o.serial_out_fd, buf, len);
}

static void serial_irq(void *opaque)
{
	struct platform *p = opaque;

	cvmm_eventfd_write(p->serial_irqfd, 1);
}

static void serial_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct platform *p = opaque;

	if (len != 1)
		return;
	pthread_mutex_lock(&p->lock);
	if (is_write)
		cvmm_serial_write(p->serial, off, data[0]);
	else
		cvmm_serial_read(p->serial, off, data);
	pthread_mutex_unlock(&p->lock);
}

static void i8042_reset(void *opaque)
{
	struct platform *p = opaque;

	cvmm_vmm_request_stop(p->vmm, CVMM_VMM_STOP_RESET, 0);
}

static void i8042_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct platform *p = opaque;

	/* Ports 0x60 (data) and 0x64 (status/command) of the 5-port window. */
	if (len != 1 || (off != 0 && off != 4))
		return;
	pthread_mutex_lock(&p->lock);
	if (is_write)
		cvmm_i8042_write(p->i8042, off, data[0]);
	else
		cvmm_i8042_read(p->i8042, off, data);
	pthread_mutex_unlock(&p->lock);
}

static void rtc_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct platform *p = opaque;

	if (len != 1)
		return;
	pthread_mutex_lock(&p->lock);
	if (is_write)
		cvmm_rtc_write(p->rtc, off, data[0]);
	else
		cvmm_rtc_read(p->rtc, off, data);
	pthread_mutex_unlock(&p->lock);
}

static void debug_exit_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct platform *p = opaque;
	uint32_t code = 0;

	(void)off;
	if (!is_write)
		return;
	memcpy(&code, data, len < 4 ? len : 4);
	cvmm_vmm_request_stop(p->vmm, CVMM_VMM_STOP_GUEST_EXIT, (int)(code & 0xff));
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
	struct platform *p = opaque;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (off == 0 && (data[0] & SLEEP_CTRL_SLP_EN) &&
	    ((data[0] >> SLEEP_CTRL_TYP_SHIFT) & 7) == SLEEP_TYPE_S5)
		cvmm_vmm_request_stop(p->vmm, CVMM_VMM_STOP_POWEROFF, 0);
}

/* The boot timer (like Firecracker's): each POST code the guest writes is
 * handed to the program with the time since it started. */
static void boot_timer_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct platform *p = opaque;

	(void)off;
	(void)len;
	if (is_write)
		p->o.post_code(p->o.opaque, data[0], cvmm_now_ns() - p->o.t0_ns);
}

size_t cvmm_vmm_serial_input(struct cvmm_vmm *vmm, const uint8_t *buf, size_t len)
{
	struct platform *p = vmm ? vmm->platform : NULL;
	size_t n;

	if (!p || !buf)
		return 0;
	pthread_mutex_lock(&p->lock);
	n = cvmm_serial_enqueue_input(p->serial, buf, len);
	pthread_mutex_unlock(&p->lock);
	return n;
}

static void platform_destroy(void *dev)
{
	struct platform *p = dev;

	if (!p)
		return;
	if (p->vmm->platform == p) {
		/* Off the bus before the models go (no vCPU may still be inside). */
		for (unsigned int i = 0; i < CVMM_ARRAY_SIZE(p->vmm->platform_ports); i++)
			if (p->vmm->platform_ports[i])
				cvmm_vmm_bus_remove(p->vmm, CVMM_VMM_PIO, p->vmm->platform_ports[i]);
		memset(p->vmm->platform_ports, 0, sizeof(p->vmm->platform_ports));
		p->vmm->platform = NULL;
	}
	cvmm_serial_destroy(p->serial);
	cvmm_i8042_destroy(p->i8042);
	cvmm_rtc_destroy(p->rtc);
	cvmm_close(p->serial_irqfd);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Each model's plain state struct as a section of its own. */
static int platform_save(void *dev, struct cvmm_snap_writer *w, const char *id)
{
	struct platform *p = dev;
	struct cvmm_serial_state ss;
	struct cvmm_i8042_state is;
	struct cvmm_rtc_state rs;
	char sec[CVMM_SNAP_ID_SIZE];
	int ret;

	pthread_mutex_lock(&p->lock);
	ret = cvmm_serial_save(p->serial, &ss);
	if (!ret)
		ret = cvmm_i8042_save(p->i8042, &is);
	if (!ret)
		ret = cvmm_rtc_save(p->rtc, &rs);
	pthread_mutex_unlock(&p->lock);
	if (ret)
		return ret;
	if ((ret = cvmm_snap_id_fmt(sec, "dev/%s/serial", id)) ||
	    (ret = cvmm_snap_write(w, sec, ss.version, &ss, sizeof(ss))) ||
	    (ret = cvmm_snap_id_fmt(sec, "dev/%s/i8042", id)) ||
	    (ret = cvmm_snap_write(w, sec, is.version, &is, sizeof(is))) ||
	    (ret = cvmm_snap_id_fmt(sec, "dev/%s/rtc", id)) ||
	    (ret = cvmm_snap_write(w, sec, rs.version, &rs, sizeof(rs))))
		return ret;
	return 0;
}

/* Find @part of @id, exactly @len bytes, into @out. */
static int section(struct cvmm_snap_reader *r, const char *id, const char *part, void *out,
		   size_t len, char sec[CVMM_SNAP_ID_SIZE], struct cvmm_snap_error *e)
{
	struct cvmm_snap_section s;
	int ret = cvmm_snap_id_fmt(sec, "dev/%s/%s", id, part);

	if (!ret)
		ret = cvmm_snap_reader_require(r, sec, UINT32_MAX, &s, e);
	if (!ret)
		ret = cvmm_snap_expect_len(e, sec, NULL, s.len, len);
	if (!ret)
		memcpy(out, s.data, len);
	return ret;
}

static int platform_restore(void *dev, struct cvmm_snap_reader *r, const char *id, char *err,
			    size_t errlen)
{
	struct platform *p = dev;
	struct cvmm_serial_state ss;
	struct cvmm_i8042_state is;
	struct cvmm_rtc_state rs;
	char sec[3][CVMM_SNAP_ID_SIZE];
	struct cvmm_snap_error e = { .section = "" };
	const char *refused = NULL;
	int ret;

	if ((ret = section(r, id, "serial", &ss, sizeof(ss), sec[0], &e)) ||
	    (ret = section(r, id, "i8042", &is, sizeof(is), sec[1], &e)) ||
	    (ret = section(r, id, "rtc", &rs, sizeof(rs), sec[2], &e))) {
		char line[CVMM_SNAP_ERROR_LINE];

		snprintf(err, errlen, "%s", cvmm_snap_error_format(&e, line, sizeof(line)));
		return ret;
	}
	/* Each model validates every field and changes nothing on refusal. */
	pthread_mutex_lock(&p->lock);
	if ((ret = cvmm_serial_restore(p->serial, &ss)))
		refused = sec[0];
	else if ((ret = cvmm_i8042_restore(p->i8042, &is)))
		refused = sec[1];
	else if ((ret = cvmm_rtc_restore(p->rtc, &rs)))
		refused = sec[2];
	pthread_mutex_unlock(&p->lock);
	if (refused)
		snprintf(err, errlen, "state section '%s': the device model refused it (%s)", refused,
			 strerror(-ret));
	return ret;
}

static const struct cvmm_vmm_device_ops platform_ops = {
	.save = platform_save,
	.restore = platform_restore,
	.destroy = platform_destroy,
};

struct port {
	uint16_t base, len;
	cvmm_vmm_io_fn fn;
	const char *name;
};

int cvmm_vmm_platform_add(struct cvmm_vmm *vmm, const struct cvmm_vmm_platform_opts *o,
			  char *err, size_t errlen)
{
	struct cvmm_serial_opts so = { .sz = sizeof(so), .trigger = serial_irq, .write = serial_out };
	struct cvmm_i8042_opts io = { .sz = sizeof(io), .reset = i8042_reset };
	struct cvmm_rtc_opts ro = { .sz = sizeof(ro) };
	const struct port ports[] = {
		{ CVMM_VMM_SERIAL_PORT, 8, serial_io, "serial" },
		{ CVMM_VMM_I8042_PORT, 5, i8042_io, "i8042" },
		{ CVMM_VMM_RTC_PORT, 2, rtc_io, "rtc" },
		{ CVMM_VMM_SLEEP_PORT, 2, sleep_io, "acpi-sleep" },
		{ CVMM_VMM_DEBUG_EXIT_PORT, 4, o && o->debug_exit ? debug_exit_io : NULL, "debug-exit" },
		{ CVMM_VMM_POST_PORT, 1, o && o->post_code ? boot_timer_io : NULL, "boot-timer" },
	};
	uint64_t below = 0, above = 0;
	struct platform *p;
	unsigned int np = 0;
	int ret;

	if (!vmm || !o || o->sz < sizeof(*o))
		return -EINVAL;
	if (vmm->platform)
		return -EEXIST;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->vmm = vmm;
	p->o = *o;
	p->serial_irqfd = -1;
	pthread_mutex_init(&p->lock, NULL);
	so.opaque = io.opaque = p;
	if ((ret = p->serial_irqfd = cvmm_eventfd_create(0)) < 0 ||
	    (ret = cvmm_kvm_vm_register_irqfd(vmm->vm, p->serial_irqfd, CVMM_VMM_SERIAL_IRQ, -1))) {
		snprintf(err, errlen, "serial port interrupt (KVM_IRQFD): %s", strerror(-ret));
		goto fail;
	}
	if ((ret = cvmm_serial_create(&so, &p->serial)) || (ret = cvmm_i8042_create(&io, &p->i8042)) ||
	    (ret = cvmm_rtc_create(&ro, &p->rtc))) {
		snprintf(err, errlen, "legacy devices: %s", strerror(-ret));
		goto fail;
	}
	for (unsigned int i = 0; i < cvmm_guest_mem_num_regions(vmm->mem); i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(vmm->mem, i);

		if (r->gpa < CVMM_X86_MMIO_HOLE_END)
			below += r->size;
		else
			above += r->size;
	}
	cvmm_rtc_set_memory(p->rtc, below, above);
	for (unsigned int i = 0; i < CVMM_ARRAY_SIZE(ports); i++) {
		if (!ports[i].fn)
			continue;
		ret = cvmm_vmm_bus_add(vmm, CVMM_VMM_PIO, ports[i].base, ports[i].len, ports[i].fn, p,
				       ports[i].name);
		if (ret) {
			snprintf(err, errlen, "port bus: %s at %#x: %s", ports[i].name, ports[i].base,
				 strerror(-ret));
			goto fail;
		}
		vmm->platform_ports[np++] = ports[i].base;
	}
	vmm->platform = p;
	ret = cvmm_vmm_device_add(vmm, "__platform", NULL, "platform", &platform_ops, p, NULL);
	if (ret) {
		snprintf(err, errlen, "device table: %s", strerror(-ret));
		platform_destroy(p);
	}
	return ret;
fail:
	for (unsigned int i = 0; i < np; i++)
		cvmm_vmm_bus_remove(vmm, CVMM_VMM_PIO, vmm->platform_ports[i]);
	memset(vmm->platform_ports, 0, sizeof(vmm->platform_ports));
	vmm->platform = p;
	platform_destroy(p);
	return ret;
}
