/* SPDX-License-Identifier: Apache-2.0 */
/* Serial output and a printf small enough to read in one sitting. */
#include "guest.h"

static struct spinlock serial_lock = SPINLOCK_INIT;

void serial_putc(char c)
{
	outb(CVMM_GUEST_PORT_COM1, (uint8_t)c);
}

void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

struct out {
	char *buf;
	size_t size;
	size_t len; /* would-be length, like snprintf */
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, uint64_t v, unsigned int base, bool neg,
		    bool upper, unsigned int width, char pad, bool left)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	unsigned int n = 0, len;
	char tmp[24];

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	len = n + neg;
	if (left)
		pad = ' ';
	if (neg && pad == '0')
		put(o, '-');
	for (unsigned int i = len; !left && i < width; i++)
		put(o, pad);
	if (neg && pad != '0')
		put(o, '-');
	while (n)
		put(o, tmp[--n]);
	for (unsigned int i = len; left && i < width; i++)
		put(o, ' ');
}

int guest_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };

	for (; *fmt; fmt++) {
		unsigned int width = 0, lng = 0;
		bool left = false;
		char pad = ' ';

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '0')
				pad = '0';
			else if (*fmt == '-')
				left = true;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (unsigned int)(*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			size_t len;

			if (!s)
				s = "(null)";
			len = strlen(s);
			for (size_t i = len; !left && i < width; i++)
				put(&o, ' ');
			while (*s)
				put(&o, *s++);
			for (size_t i = len; left && i < width; i++)
				put(&o, ' ');
			break;
		}
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);

			put_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0,
				false, width, pad, left);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);

			put_num(&o, v, *fmt == 'u' ? 10 : 16, false, *fmt == 'X',
				width, pad, left);
			break;
		}
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (uintptr_t)va_arg(ap, void *), 16, false, false, 0, ' ',
				false);
			break;
		case '%':
			put(&o, '%');
			break;
		case '\0':
			fmt--; /* a lone '%' at the end: stop at the terminator */
			break;
		default:
			put(&o, '%');
			put(&o, *fmt);
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int guest_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = guest_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int guest_printf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = guest_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	spin_lock(&serial_lock);
	serial_puts(buf);
	spin_unlock(&serial_lock);
	return n;
}
