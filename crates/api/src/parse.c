/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One HTTP request at a time, incrementally: http-parser does the
 * protocol, the callbacks here enforce the limits as bytes arrive (a
 * 16 MiB body is refused at its Content-Length, a header that never ends
 * at the header limit), and the finished body goes through json-c with a
 * depth limit and UTF-8 validation. Used by the server and, without a
 * socket, by cvmm_api_parse_one() (the fuzzer's entry).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static struct cvmm_api_parser *of(http_parser *p)
{
	return p->data;
}

int cvmm_api_refuse(struct cvmm_api_parser *rp, int status, const char *fmt, ...)
{
	va_list ap;

	if (rp->status)
		return 1;
	rp->status = status;
	va_start(ap, fmt);
	vsnprintf(rp->err, sizeof(rp->err), fmt, ap);
	va_end(ap);
	return 1;
}

static int header_bytes(struct cvmm_api_parser *rp, size_t len)
{
	rp->header_bytes += len;
	if (rp->header_bytes > rp->lim.max_header)
		return cvmm_api_refuse(rp, 413, "request line and headers larger than %zu bytes",
				       rp->lim.max_header);
	return 0;
}

static int on_begin(http_parser *p)
{
	struct cvmm_api_parser *rp = of(p);

	rp->in_message = true;
	rp->header_bytes = 0;
	rp->url_len = 0;
	rp->body_len = 0;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct cvmm_api_parser *rp = of(p);

	if (header_bytes(rp, len))
		return 1;
	/* header_bytes bounds url_len by max_header, the size of url. */
	memcpy(rp->url + rp->url_len, at, len);
	rp->url_len += len;
	rp->url[rp->url_len] = '\0';
	return 0;
}

static int on_header(http_parser *p, const char *at, size_t len)
{
	(void)at;
	return header_bytes(of(p), len);
}

static int on_headers_complete(http_parser *p)
{
	struct cvmm_api_parser *rp = of(p);

	if (p->content_length != ULLONG_MAX && p->content_length > rp->lim.max_body)
		return cvmm_api_refuse(rp, 413, "body of %llu bytes is larger than %zu bytes",
				       (unsigned long long)p->content_length, rp->lim.max_body);
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct cvmm_api_parser *rp = of(p);

	if (len > rp->lim.max_body - rp->body_len)
		return cvmm_api_refuse(rp, 413, "body larger than %zu bytes", rp->lim.max_body);
	if (rp->body_len + len + 1 > rp->body_cap) {
		size_t cap = rp->body_cap ? rp->body_cap : 4096;
		char *b;

		while (cap < rp->body_len + len + 1)
			cap *= 2;
		b = realloc(rp->body, cap);
		if (!b)
			return cvmm_api_refuse(rp, 500, "out of memory for the body");
		rp->body = b;
		rp->body_cap = cap;
	}
	memcpy(rp->body + rp->body_len, at, len);
	rp->body_len += len;
	return 0;
}

static int on_complete(http_parser *p)
{
	struct cvmm_api_parser *rp = of(p);

	rp->complete = true;
	rp->in_message = false;
	/* One request at a time: the rest of the buffer waits for the answer. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_begin,
	.on_url = on_url,
	.on_header_field = on_header,
	.on_header_value = on_header,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_complete,
};

void cvmm_api_limits(const struct cvmm_api_opts *o, struct cvmm_api_limits *l)
{
	l->max_header = o->max_header ? o->max_header : 8192;
	l->max_body = o->max_body ? o->max_body : (1u << 20);
	l->max_conns = o->max_conns ? o->max_conns : 64;
	l->read_timeout_ms = o->read_timeout_ms ? o->read_timeout_ms : 5000;
	l->idle_timeout_ms = o->idle_timeout_ms ? o->idle_timeout_ms : 60000;
	l->max_depth = o->max_depth > 0 ? o->max_depth : 32;
}

int cvmm_api_parser_init(struct cvmm_api_parser *rp, const struct cvmm_api_limits *l)
{
	memset(rp, 0, sizeof(*rp));
	rp->lim = *l;
	rp->url = malloc(l->max_header + 1);
	if (!rp->url)
		return -ENOMEM;
	rp->url[0] = '\0';
	http_parser_init(&rp->p, HTTP_REQUEST);
	rp->p.data = rp;
	return 0;
}

void cvmm_api_parser_fini(struct cvmm_api_parser *rp)
{
	free(rp->url);
	free(rp->body);
	rp->url = NULL;
	rp->body = NULL;
}

/* Ready for the next request on the same connection. */
void cvmm_api_parser_next(struct cvmm_api_parser *rp)
{
	rp->complete = false;
	rp->body_len = 0;
	rp->url_len = 0;
	rp->header_bytes = 0;
	http_parser_pause(&rp->p, 0);
}

size_t cvmm_api_parser_feed(struct cvmm_api_parser *rp, const char *buf, size_t len)
{
	size_t n;
	enum http_errno e;

	if (rp->status || rp->complete)
		return 0;
	n = http_parser_execute(&rp->p, &settings, buf, len);
	e = HTTP_PARSER_ERRNO(&rp->p);
	if (e == HPE_PAUSED)
		return n;  /* a request is complete; n counts its last byte */
	if (e != HPE_OK)
		cvmm_api_refuse(rp, 400, "malformed HTTP request: %s", http_errno_description(e));
	else if (n != len && !rp->complete)
		cvmm_api_refuse(rp, 400, "malformed HTTP request");
	return n;
}

int cvmm_api_parse_body(struct cvmm_api_parser *rp, struct json_object **out)
{
	struct json_tokener *tok;
	struct json_object *j;
	enum json_tokener_error e;
	size_t off;

	*out = NULL;
	if (!rp->body_len)
		return 0;
	if (memchr(rp->body, '\0', rp->body_len))
		return cvmm_api_refuse(rp, 400, "body contains a NUL byte"), -EINVAL;
	if (rp->body_len > INT32_MAX)
		return cvmm_api_refuse(rp, 413, "body too large"), -EINVAL;
	rp->body[rp->body_len] = '\0';
	tok = json_tokener_new_ex(rp->lim.max_depth);
	if (!tok)
		return cvmm_api_refuse(rp, 500, "out of memory for the JSON parser"), -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	j = json_tokener_parse_ex(tok, rp->body, (int)rp->body_len);
	e = json_tokener_get_error(tok);
	off = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!j || e != json_tokener_success) {
		json_object_put(j);
		if (e == json_tokener_error_depth)
			cvmm_api_refuse(rp, 400, "JSON body nested deeper than %d levels",
					rp->lim.max_depth);
		else if (e == json_tokener_error_parse_utf8_string)
			cvmm_api_refuse(rp, 400, "JSON body is not valid UTF-8");
		else if (e == json_tokener_continue)
			cvmm_api_refuse(rp, 400, "JSON body is truncated");
		else
			cvmm_api_refuse(rp, 400, "JSON body is malformed: %s",
					json_tokener_error_desc(e));
		return -EINVAL;
	}
	while (off < rp->body_len && strchr(" \t\r\n", rp->body[off]))
		off++;
	if (off != rp->body_len) {
		json_object_put(j);
		cvmm_api_refuse(rp, 400, "JSON body has trailing data at byte %zu", off);
		return -EINVAL;
	}
	*out = j;
	return 0;
}

int cvmm_api_parse_one(const struct cvmm_api_opts *o, const uint8_t *buf, size_t len,
		       int *status, char *err, size_t errlen, struct json_object **json)
{
	struct cvmm_api_limits l;
	struct cvmm_api_parser rp;
	struct json_object *j = NULL;
	int ret = -EINVAL;

	if (json)
		*json = NULL;
	cvmm_api_limits(o, &l);
	if (cvmm_api_parser_init(&rp, &l))
		return -ENOMEM;
	cvmm_api_parser_feed(&rp, (const char *)buf, len);
	if (!rp.status && !rp.complete)
		cvmm_api_refuse(&rp, 408, "request incomplete");
	if (!rp.status && !cvmm_api_parse_body(&rp, &j))
		ret = 0;
	*status = rp.status;
	snprintf(err, errlen, "%s", rp.err);
	if (json)
		*json = j;
	else
		json_object_put(j);
	cvmm_api_parser_fini(&rp);
	return ret;
}
