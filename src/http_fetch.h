/*
 * http_fetch.h - one bounded HTTPS GET (libcurl), for JWKS and discovery
 */
#ifndef JWT_HTTP_FETCH_H
#define JWT_HTTP_FETCH_H

#include "jwt_error.h"

/* What a fetch may do: from superuser-only settings, passed in by the caller. */
typedef struct HttpFetchLimits
{
	const char *ca_file;		/* NULL or "": the system CA store */
	int			timeout_ms;		/* the whole transfer */
	int			connect_timeout_ms;
	int			max_bytes;		/* largest body accepted */
	bool		allow_loopback_http;	/* plain http to 127.0.0.1/::1 (tests) */
} HttpFetchLimits;

typedef struct HttpResponse
{
	char	   *body;			/* palloc'd, NUL-terminated */
	int			len;
	int			max_age;		/* Cache-Control max-age in seconds, -1 if none */
} HttpResponse;

/* Whether url is one jwt may fetch: https (or plain http to loopback if allowed). */
extern JwtStatus jwt_http_check_url(const char *url, bool allow_loopback_http, JwtError *err);

/* GET url; a 200 response with a JSON Content-Type, within the limits. */
extern JwtStatus jwt_http_get_json(const char *url, const HttpFetchLimits *limits,
								   HttpResponse *resp, JwtError *err);

#endif
