/* SPDX-License-Identifier: Apache-2.0 */
/* The logging sink: libraries format into a stack buffer and hand the line
 * to whatever the program installed; by default nothing is printed. */
#include <cvmm/sys-util.h>

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

static cvmm_log_fn log_sink;
static void *log_opaque;
static int log_level = CVMM_LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };

void cvmm_log_set_sink(cvmm_log_fn fn, void *opaque)
{
	log_opaque = opaque;
	__atomic_store_n(&log_sink, fn, __ATOMIC_RELEASE);
}

void cvmm_log_set_level(enum cvmm_log_level level)
{
	__atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

enum cvmm_log_level cvmm_log_get_level(void)
{
	return (enum cvmm_log_level)__atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

bool cvmm_log_enabled(enum cvmm_log_level level)
{
	return __atomic_load_n(&log_sink, __ATOMIC_ACQUIRE) &&
	       (int)level <= __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

int cvmm_log_level_parse(const char *s, enum cvmm_log_level *out)
{
	for (size_t i = 0; s && i < CVMM_ARRAY_SIZE(level_names); i++) {
		if (!strcasecmp(s, level_names[i])) {
			*out = (enum cvmm_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *cvmm_log_level_name(enum cvmm_log_level level)
{
	return (unsigned)level < CVMM_ARRAY_SIZE(level_names) ? level_names[level] : "?";
}

void cvmm_vlog(enum cvmm_log_level level, const char *crate, const char *fmt, va_list ap)
{
	cvmm_log_fn sink = __atomic_load_n(&log_sink, __ATOMIC_ACQUIRE);
	char msg[512];

	if (!sink || (int)level > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	sink(level, crate, msg, log_opaque);
}

void cvmm_log(enum cvmm_log_level level, const char *crate, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cvmm_vlog(level, crate, fmt, ap);
	va_end(ap);
}

void cvmm_log_stderr_from_env(const char *var, enum cvmm_log_level def)
{
	const char *name = var ? getenv(var) : NULL;
	enum cvmm_log_level level = def;

	if (name && cvmm_log_level_parse(name, &level) < 0)
		level = def;
	cvmm_log_set_level(level);
	cvmm_log_set_sink(cvmm_log_stderr_sink, NULL);
}

void cvmm_log_stderr_sink(enum cvmm_log_level level, const char *crate,
			  const char *msg, void *opaque)
{
	(void)opaque;
	/* One fprintf per line: stdio locks the stream, so lines from
	 * different threads do not interleave. */
	fprintf(stderr, "%s %s: %s\n", cvmm_log_level_name(level), crate, msg);
}
