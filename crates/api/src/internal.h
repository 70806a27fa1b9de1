/* SPDX-License-Identifier: Apache-2.0 */
/* The API server's insides: the request parser shared by the server and
 * cvmm_api_parse_one(). */
#ifndef CVMM_API_INTERNAL_H
#define CVMM_API_INTERNAL_H

#include <http_parser.h>

#include <cvmm/api.h>

struct cvmm_api_limits {
	size_t max_header;
	size_t max_body;
	unsigned int max_conns;
	unsigned int read_timeout_ms;
	unsigned int idle_timeout_ms;
	int max_depth;
};

struct cvmm_api_parser {
	http_parser p;
	struct cvmm_api_limits lim;
	size_t header_bytes;     /* request line and headers so far */
	char *url;               /* max_header + 1 bytes */
	size_t url_len;
	char *body;
	size_t body_len, body_cap;
	bool in_message;         /* a request has begun */
	bool complete;           /* ... and ended: answer it */
	int status;              /* a refusal: its status, and err */
	char err[256];
};

void cvmm_api_limits(const struct cvmm_api_opts *o, struct cvmm_api_limits *l);
int cvmm_api_parser_init(struct cvmm_api_parser *rp, const struct cvmm_api_limits *l);
void cvmm_api_parser_fini(struct cvmm_api_parser *rp);
void cvmm_api_parser_next(struct cvmm_api_parser *rp);
/* Feed bytes; @return how many were taken (less than @len once a request
 * is complete or refused). */
size_t cvmm_api_parser_feed(struct cvmm_api_parser *rp, const char *buf, size_t len);
/* The complete body as JSON (*out NULL when empty); refusal on error. */
int cvmm_api_parse_body(struct cvmm_api_parser *rp, struct json_object **out);
/* Record a refusal (the first wins). @return 1, for http-parser callbacks. */
int cvmm_api_refuse(struct cvmm_api_parser *rp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
