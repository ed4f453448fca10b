/*
 * http_fetch.c - one bounded HTTPS GET (libcurl), for JWKS and discovery
 *
 * Only an explicit refresh or the issuer worker calls this, never a
 * verification.  The fetch is bounded every way a provider (or whoever sits
 * in its place) could stretch it: https only, TLS verified, no redirects at
 * all, a total and a connect timeout, a body size limit, a JSON Content-Type,
 * no cookies, no proxies, no credentials in the URL.  curl runs with
 * NOSIGNAL and a progress callback that aborts on a pending cancel or
 * termination, so a backend can always be stopped.  Nothing here raises: the
 * caller maps the status to a SQLSTATE after curl has been cleaned up.
 * No string from a token ever reaches this file: URLs come from the
 * superuser-managed jwt_issuer_sources table or a discovery document.
 */
#include "postgres.h"

#include <curl/curl.h>

#include "miscadmin.h"

#include "http_fetch.h"

#define JWT_HTTP_USER_AGENT "jwt-postgresql/0.2 (JWKS refresh)"
#define JWT_HTTP_MAX_URL 2048

static bool curl_ready = false;

/* What the callbacks fill: a buffer allocated before the transfer (no palloc inside curl). */
typedef struct FetchState
{
	char	   *buf;
	int			len;
	int			max;
	bool		too_large;
	bool		interrupted;
	int			max_age;
} FetchState;

/* Body bytes: copied while they fit; past the limit, abort the transfer. */
static size_t
write_body(char *data, size_t size, size_t nmemb, void *arg)
{
	FetchState *st = (FetchState *) arg;
	size_t		n = size * nmemb;

	if (n > (size_t) (st->max - st->len))
	{
		st->too_large = true;
		return 0;
	}
	memcpy(st->buf + st->len, data, n);
	st->len += (int) n;
	return n;
}

/* Header lines: only Cache-Control's max-age is read (the last one wins). */
static size_t
read_header(char *data, size_t size, size_t nmemb, void *arg)
{
	FetchState *st = (FetchState *) arg;
	size_t		n = size * nmemb;
	const char *name = "cache-control:";
	size_t		i;

	if (n > strlen(name) && pg_strncasecmp(data, name, strlen(name)) == 0)
	{
		for (i = strlen(name); i + 8 < n; i++)
		{
			if (pg_strncasecmp(data + i, "max-age=", 8) == 0 &&
				(i == strlen(name) || data[i - 1] == ' ' || data[i - 1] == ','))
			{
				size_t		j = i + 8;
				int64		v = 0;

				if (j >= n || data[j] < '0' || data[j] > '9')
					break;
				while (j < n && data[j] >= '0' && data[j] <= '9')
				{
					v = v * 10 + (data[j] - '0');
					if (v > INT_MAX)
						v = INT_MAX;	/* saturate: bounded later */
					j++;
				}
				st->max_age = (int) v;
				break;
			}
		}
	}
	return n;
}

/* Progress: abort when the backend is asked to cancel or terminate. */
static int
check_interrupts(void *arg, curl_off_t dltotal, curl_off_t dlnow,
				 curl_off_t ultotal, curl_off_t ulnow)
{
	FetchState *st = (FetchState *) arg;

	(void) dltotal;
	(void) dlnow;
	(void) ultotal;
	(void) ulnow;
	/* only a cancel or a termination: other interrupts are served after the fetch */
	if (QueryCancelPending || ProcDiePending)
	{
		st->interrupted = true;
		return 1;
	}
	return 0;
}

/* Whether a host, as curl spells it, is a loopback address literal. */
static bool
host_is_loopback(const char *host)
{
	return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0;
}

/* Whether url is one jwt may fetch: https (or plain http to loopback if allowed). */
JwtStatus
jwt_http_check_url(const char *url, bool allow_loopback_http, JwtError *err)
{
	CURLU	   *u;
	char	   *scheme = NULL,
			   *host = NULL,
			   *user = NULL,
			   *password = NULL,
			   *fragment = NULL;
	JwtStatus	st = JWT_OK;

	if (strlen(url) > JWT_HTTP_MAX_URL)
		return jwt_fail(err, JWT_ERR_FETCH_URL, "URL is longer than %d bytes", JWT_HTTP_MAX_URL);
	u = curl_url();
	if (u == NULL)
		return jwt_fail(err, JWT_ERR_INTERNAL, "out of memory in libcurl");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		st = jwt_fail(err, JWT_ERR_FETCH_URL, "not an absolute URL");
	else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
			 curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK)
		st = jwt_fail(err, JWT_ERR_FETCH_URL, "a URL must not carry credentials");
	else if (curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) == CURLUE_OK)
		st = jwt_fail(err, JWT_ERR_FETCH_URL, "a URL must not have a fragment");
	else if (strcmp(scheme, "https") == 0)
		st = JWT_OK;
	else if (strcmp(scheme, "http") == 0 && allow_loopback_http && host_is_loopback(host))
		st = JWT_OK;
	else if (strcmp(scheme, "http") == 0)
	{
		st = jwt_fail(err, JWT_ERR_FETCH_URL, "only https URLs are fetched");
		jwt_fail_detail(err, "Plain http is allowed only to 127.0.0.1 or [::1], and only with jwt.http_allow_loopback_http (for tests).");
	}
	else
		st = jwt_fail(err, JWT_ERR_FETCH_URL, "only https URLs are fetched");
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(password);
	curl_free(fragment);
	curl_url_cleanup(u);
	return st;
}

/* Whether a Content-Type names JSON (a JWKS's own type included), parameters allowed. */
static bool
json_content_type(const char *ct)
{
	static const char *const types[] = {"application/json", "application/jwk-set+json"};
	int			i;

	if (ct == NULL)
		return false;
	for (i = 0; i < (int) lengthof(types); i++)
	{
		size_t		n = strlen(types[i]);

		if (pg_strncasecmp(ct, types[i], n) == 0 &&
			(ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
			return true;
	}
	return false;
}

/* The failure of a transfer that curl reports. */
static JwtStatus
transfer_failure(CURLcode rc, const FetchState *st, const char *curlmsg, JwtError *err)
{
	char		buf[200];

	if (st->too_large || rc == CURLE_FILESIZE_EXCEEDED)
		return jwt_fail(err, JWT_ERR_FETCH_TOO_LARGE,
						"response is larger than jwt.http_max_bytes (%d bytes)", st->max);
	switch (rc)
	{
		case CURLE_OPERATION_TIMEDOUT:
			jwt_fail(err, JWT_ERR_FETCH_TIMEOUT, "fetch timed out");
			break;
		case CURLE_PEER_FAILED_VERIFICATION:
#if LIBCURL_VERSION_NUM < 0x073e00
		case CURLE_SSL_CACERT:
#endif
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_ISSUER_ERROR:
			jwt_fail(err, JWT_ERR_FETCH_TLS, "TLS handshake or certificate verification failed");
			break;
		case CURLE_UNSUPPORTED_PROTOCOL:
			return jwt_fail(err, JWT_ERR_FETCH_URL, "only https URLs are fetched");
		default:
			jwt_fail(err, JWT_ERR_FETCH_CONNECT, "fetch failed");
			break;
	}
	jwt_fail_detail(err, "%s", jwt_printable(curlmsg[0] ? curlmsg : curl_easy_strerror(rc),
											 buf, sizeof(buf)));
	return err->status;
}

/* GET url; a 200 response with a JSON Content-Type, within the limits. */
JwtStatus
jwt_http_get_json(const char *url, const HttpFetchLimits *limits,
				  HttpResponse *resp, JwtError *err)
{
	CURL	   *h;
	struct curl_slist *headers = NULL;
	FetchState	st;
	char		curlmsg[CURL_ERROR_SIZE];
	CURLcode	rc;
	long		status = 0;
	char	   *ct = NULL;
	bool		is_http;
	JwtStatus	result;

	if (jwt_http_check_url(url, limits->allow_loopback_http, err) != JWT_OK)
		return err->status;
	is_http = pg_strncasecmp(url, "http:", 5) == 0;

	if (!curl_ready)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return jwt_fail(err, JWT_ERR_INTERNAL, "libcurl could not be initialised");
		curl_ready = true;
	}

	memset(&st, 0, sizeof(st));
	st.max = limits->max_bytes;
	st.buf = palloc(st.max + 1);
	st.max_age = -1;
	curlmsg[0] = '\0';

	h = curl_easy_init();
	if (h == NULL)
		return jwt_fail(err, JWT_ERR_INTERNAL, "libcurl could not be initialised");
	headers = curl_slist_append(headers, "Accept: application/jwk-set+json, application/json");

	curl_easy_setopt(h, CURLOPT_URL, url);
	/* exactly the URL's own protocol, no other (and no redirects to any) */
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, is_http ? "http" : "https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, is_http ? CURLPROTO_HTTP : CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long) limits->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long) limits->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) limits->max_bytes);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
	if (limits->ca_file && limits->ca_file[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, limits->ca_file);
	/* the postmaster's environment must not route key fetches through a proxy */
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_USERAGENT, JWT_HTTP_USER_AGENT);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, read_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &st);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, check_interrupts);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &st);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curlmsg);

	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
	{
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
	}

	if (st.interrupted)
		result = jwt_fail(err, JWT_ERR_FETCH_CONNECT, "fetch interrupted");
	else if (rc != CURLE_OK)
		result = transfer_failure(rc, &st, curlmsg, err);
	else if (status >= 300 && status < 400)
	{
		result = jwt_fail(err, JWT_ERR_FETCH_REDIRECT, "redirect refused (HTTP %ld)", status);
		jwt_fail_detail(err, "jwt follows no redirects: configure the final URL.");
	}
	else if (status != 200)
		result = jwt_fail(err, JWT_ERR_FETCH_STATUS, "HTTP status %ld", status);
	else if (!json_content_type(ct))
	{
		char		buf[80];

		result = jwt_fail(err, JWT_ERR_FETCH_CONTENT_TYPE, "response is not JSON");
		jwt_fail_detail(err, "Content-Type: %s", ct ? jwt_printable(ct, buf, sizeof(buf)) : "(none)");
	}
	else
		result = JWT_OK;

	curl_easy_cleanup(h);
	curl_slist_free_all(headers);

	/* curl is cleaned up: now a pending cancel or termination may raise */
	CHECK_FOR_INTERRUPTS();

	if (result != JWT_OK)
	{
		pfree(st.buf);
		return result;
	}
	st.buf[st.len] = '\0';
	resp->body = st.buf;
	resp->len = st.len;
	resp->max_age = st.max_age;
	return JWT_OK;
}
