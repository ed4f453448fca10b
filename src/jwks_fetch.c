/*
 * jwks_fetch.c - an issuer's JWKS fetched from its URL or found by discovery
 *
 * A fetched document is checked before anything is stored: strict JSON (no
 * duplicate members), a "keys" array of 1 to JWT_JWKS_MAX_KEYS objects with at
 * least one signing key, and public keys only (a provider never publishes a
 * private or symmetric key; one that does is broken or hostile).  An empty or
 * broken set is an error, never "no keys": a bad response must not remove the
 * issuer's working keys.
 */
#include "postgres.h"

#include "json_strict.h"
#include "jwks_fetch.h"

#define DISCOVERY_PATH "/.well-known/openid-configuration"

/* The top-level member name of doc, or NULL. */
static const JsonValue *
member(const JsonDoc *doc, const char *name)
{
	int			i;
	size_t		n = strlen(name);

	for (i = 0; i < doc->nmembers; i++)
		if (doc->members[i].name_len == n && memcmp(doc->members[i].name, name, n) == 0)
			return &doc->members[i].value;
	return NULL;
}

/* Strictly parse a fetched JSON object. */
static JwtStatus
parse_response(const HttpResponse *resp, const char *what, JsonDoc *doc, JwtError *err)
{
	JsonStrictResult r = json_strict_parse(resp->body, resp->len, doc);

	if (r == JSON_STRICT_OK)
		return JWT_OK;
	jwt_fail(err, JWT_ERR_FETCH_JSON, "%s is not a well-formed JSON object", what);
	switch (r)
	{
		case JSON_STRICT_DUPLICATE:
			jwt_fail_detail(err, "A member name appears twice.");
			break;
		case JSON_STRICT_BAD_UTF8:
			jwt_fail_detail(err, "It is not valid UTF-8.");
			break;
		case JSON_STRICT_TOO_DEEP:
			jwt_fail_detail(err, "It is nested deeper than %d levels.", JSON_STRICT_MAX_DEPTH);
			break;
		default:
			break;
	}
	return err->status;
}

/* The jwks_uri of issuer's discovery document, whose issuer must equal it exactly. */
static JwtStatus
discover(const char *issuer, const HttpFetchLimits *limits, char **jwks_url, JwtError *err)
{
	HttpResponse resp;
	JsonDoc		doc;
	const JsonValue *v;
	size_t		n = strlen(issuer);
	char	   *url = NULL;

	/* OpenID Connect Discovery 1.0, section 4: drop a trailing slash, then the path */
	if (n > 0 && issuer[n - 1] == '/')
		n--;
	url = psprintf("%.*s%s", (int) n, issuer, DISCOVERY_PATH);
	if (jwt_http_get_json(url, limits, &resp, err) != JWT_OK)
		return err->status;
	if (parse_response(&resp, "discovery document", &doc, err) != JWT_OK)
		return err->status;
	v = member(&doc, "issuer");
	if (v == NULL || v->kind != JK_STRING)
		return jwt_fail(err, JWT_ERR_FETCH_NOT_JWKS, "discovery document has no \"issuer\"");
	if ((size_t) v->len != strlen(issuer) || memcmp(v->str, issuer, v->len) != 0)
	{
		jwt_fail(err, JWT_ERR_FETCH_ISSUER, "discovery document names another issuer");
		jwt_fail_detail(err, "Its \"issuer\" must equal the issuer added, byte for byte (OpenID Connect Discovery 1.0, section 4.3).");
		return err->status;
	}
	v = member(&doc, "jwks_uri");
	if (v == NULL || v->kind != JK_STRING)
		return jwt_fail(err, JWT_ERR_FETCH_NOT_JWKS, "discovery document has no \"jwks_uri\"");
	*jwks_url = pnstrdup(v->str, v->len);
	if (strlen(*jwks_url) != (size_t) v->len)
		return jwt_fail(err, JWT_ERR_FETCH_URL, "jwks_uri is not a URL");
	if (jwt_http_check_url(*jwks_url, limits->allow_loopback_http, err) != JWT_OK)
	{
		jwt_fail_detail(err, "The discovery document's jwks_uri was refused.");
		return err->status;
	}
	return JWT_OK;
}

/* Members that only a private or symmetric JWK has. */
static bool
has_secret_member(const JsonDoc *k)
{
	static const char *const secret[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
	int			i;

	for (i = 0; i < (int) lengthof(secret); i++)
		if (member(k, secret[i]) != NULL)
			return true;
	return false;
}

/* Check a fetched JWKS; count its signing keys. */
static JwtStatus
check_jwks(const HttpResponse *resp, int *nkeys, JwtError *err)
{
	JsonDoc		doc;
	const JsonValue *keys;
	int			i,
				nsig = 0;

	if (parse_response(resp, "JWKS", &doc, err) != JWT_OK)
		return err->status;
	keys = member(&doc, "keys");
	if (keys == NULL || keys->kind != JK_ARRAY)
		return jwt_fail(err, JWT_ERR_FETCH_NOT_JWKS, "response is not a JWKS (no \"keys\" array)");
	if (keys->nelems > JWT_JWKS_MAX_KEYS)
		return jwt_fail(err, JWT_ERR_FETCH_NOT_JWKS, "JWKS has more than %d keys", JWT_JWKS_MAX_KEYS);
	for (i = 0; i < keys->nelems; i++)
	{
		const JsonValue *e = &keys->elems[i];
		JsonDoc		k;
		const JsonValue *use;

		if (e->kind != JK_OBJECT || json_strict_parse(e->str, e->len, &k) != JSON_STRICT_OK)
			return jwt_fail(err, JWT_ERR_FETCH_NOT_JWKS, "JWKS key %d is not a JSON object", i + 1);
		if (has_secret_member(&k))
		{
			jwt_fail(err, JWT_ERR_FETCH_NOT_JWKS, "JWKS key %d is private or symmetric", i + 1);
			jwt_fail_detail(err, "A JWKS fetched from a URL must hold public keys only.");
			return err->status;
		}
		use = member(&k, "use");
		if (use == NULL || (use->kind == JK_STRING && use->len == 3 && memcmp(use->str, "sig", 3) == 0))
			nsig++;
	}
	if (nsig == 0)
	{
		jwt_fail(err, JWT_ERR_FETCH_NOT_JWKS, "JWKS has no signing key");
		jwt_fail_detail(err, "An empty key set is refused, so that the issuer's keys stay as they are.");
		return err->status;
	}
	*nkeys = nsig;
	return JWT_OK;
}

/*
 * Fetch issuer's JWKS from jwks_url, or with jwks_url NULL from the jwks_uri
 * of issuer's OpenID Connect discovery document (whose issuer must equal it).
 */
JwtStatus
jwt_fetch_issuer_jwks(const char *issuer, const char *jwks_url,
					  const HttpFetchLimits *limits, IssuerJwks *out, JwtError *err)
{
	HttpResponse resp;
	char	   *url = NULL;

	if (jwks_url == NULL)
	{
		if (discover(issuer, limits, &url, err) != JWT_OK)
			return err->status;
	}
	else
		url = pstrdup(jwks_url);
	if (jwt_http_get_json(url, limits, &resp, err) != JWT_OK)
		return err->status;
	if (check_jwks(&resp, &out->nkeys, err) != JWT_OK)
		return err->status;
	out->jwks = resp.body;
	out->jwks_len = resp.len;
	out->jwks_url = url;
	out->max_age = resp.max_age;
	return JWT_OK;
}
