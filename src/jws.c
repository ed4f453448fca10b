/*
 * jws.c - JWS compact serialization (RFC 7515) parsed strictly
 *
 * A token has exactly one accepted spelling: three segments of canonical
 * base64url, a header that is a strict JSON object naming a known algorithm,
 * and no header parameter this implementation would have to understand
 * (crit, b64, zip, enc).  Embedded keys (jwk, jku, x5u, x5c) are never read:
 * the caller supplies the key.
 */
#include "postgres.h"

#include "b64url.h"
#include "jws.h"

/* Decode one segment into a palloc'd, NUL-terminated buffer. */
static bool
decode_segment(const char *s, size_t len, char **out, size_t *outlen)
{
	unsigned char *buf = palloc(B64URL_DECODED_MAX(len) + 1);

	if (!b64url_decode(s, len, buf, outlen))
		return false;
	buf[*outlen] = '\0';
	*out = (char *) buf;
	return true;
}

#ifndef FRONTEND
#include "utils/memutils.h"

/*
 * Tokens from one issuer share their header segment byte for byte, so the
 * last few headers that parsed are kept per backend, decoded and parsed: a
 * verification then decodes and parses only the claims.  Each entry lives in
 * a memory context of its own.  A token's header points into its entry, which
 * a later miss may evict: tokens do not outlive the call that parsed them.
 * The cached parse is read, never written.
 */
#define HEADER_CACHE_SIZE 4
#define HEADER_CACHE_MAX_SEGMENT 256

typedef struct HeaderCacheEntry
{
	MemoryContext cxt;			/* NULL: empty slot */
	uint64		last_used;
	size_t		seglen;
	char		segment[HEADER_CACHE_MAX_SEGMENT];
	char	   *header_json;
	size_t		header_len;
	JsonDoc		header;
	/* jws_check_header()'s findings, when the header passed it */
	bool		checked;
	JwtAlg		alg;
	const char *kid;
	const char *typ;
} HeaderCacheEntry;

static HeaderCacheEntry header_cache[HEADER_CACHE_SIZE];
static uint64 header_cache_clock = 0;

static HeaderCacheEntry *
header_cache_lookup(const char *seg, size_t len)
{
	if (len > HEADER_CACHE_MAX_SEGMENT)
		return NULL;
	for (int i = 0; i < HEADER_CACHE_SIZE; i++)
	{
		HeaderCacheEntry *e = &header_cache[i];

		if (e->cxt != NULL && e->seglen == len && memcmp(e->segment, seg, len) == 0)
		{
			e->last_used = ++header_cache_clock;
			return e;
		}
	}
	return NULL;
}

/*
 * Decode and parse a header segment into a new entry.  The parse happens in
 * a context below the caller's, adopted by TopMemoryContext only once it
 * succeeded, so an error on the way leaks nothing.  NULL if the header does
 * not decode or parse (the caller parses it again for the error).
 */
static HeaderCacheEntry *
header_cache_add(const char *seg, size_t len)
{
	MemoryContext cxt,
				old;
	HeaderCacheEntry *victim = &header_cache[0];
	char	   *json;
	size_t		json_len;
	JsonDoc		doc;
	bool		ok;

	if (len > HEADER_CACHE_MAX_SEGMENT)
		return NULL;
	cxt = AllocSetContextCreate(CurrentMemoryContext, "jwt header cache entry", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	json = palloc(B64URL_DECODED_MAX(len) + 1);
	ok = b64url_decode(seg, len, (unsigned char *) json, &json_len);
	if (ok)
	{
		json[json_len] = '\0';
		ok = json_strict_parse(json, json_len, &doc) == JSON_STRICT_OK;
	}
	MemoryContextSwitchTo(old);
	if (!ok)
	{
		MemoryContextDelete(cxt);
		return NULL;
	}

	for (int i = 0; i < HEADER_CACHE_SIZE; i++)
	{
		if (header_cache[i].cxt == NULL)
		{
			victim = &header_cache[i];
			break;
		}
		if (header_cache[i].last_used < victim->last_used)
			victim = &header_cache[i];
	}
	if (victim->cxt != NULL)
		MemoryContextDelete(victim->cxt);
	MemoryContextSetParent(cxt, TopMemoryContext);
	victim->cxt = cxt;
	victim->last_used = ++header_cache_clock;
	victim->seglen = len;
	memcpy(victim->segment, seg, len);
	victim->header_json = json;
	victim->header_len = json_len;
	victim->header = doc;
	{
		/* the header's own rules are checked once, here */
		JwsToken	t;
		JwtError	err;

		memset(&t, 0, sizeof(t));
		t.header = doc;
		victim->checked = jws_check_header(&t, &err) == JWT_OK;
		victim->alg = t.alg;
		victim->kid = t.kid;
		victim->typ = t.typ;
	}
	return victim;
}
#endif

/* Split, decode and parse the header of a compact JWS; the payload stays opaque. */
JwtStatus
jws_parse(const char *token, size_t len, size_t max_len, JwsToken *tok, JwtError *err)
{
	const char *dot1 = NULL,
			   *dot2 = NULL;
	int			ndots = 0;
	char	   *sig;
	JsonStrictResult jr;

	memset(tok, 0, sizeof(*tok));
	tok->alg = JWT_ALG_NONE;
	tok->text = token;

	if (len > max_len)
	{
		jwt_fail(err, JWT_ERR_TOO_LONG, "token is too long");
		jwt_fail_detail(err, "The token has %zu bytes; jwt.max_token_length is %zu.", len, max_len);
		return JWT_ERR_TOO_LONG;
	}
	if (len > 0 && token[0] == '{')
		return jwt_fail(err, JWT_ERR_STRUCTURE, "JWS JSON serialization is not supported");
	/* memchr: a byte loop over the token was a tenth of an HS256 verification */
	dot1 = memchr(token, '.', len);
	if (dot1 != NULL)
		dot2 = memchr(dot1 + 1, '.', token + len - dot1 - 1);
	if (dot2 != NULL && memchr(dot2 + 1, '.', token + len - dot2 - 1) == NULL)
		ndots = 2;
	else
		for (size_t i = 0; i < len; i++)
			ndots += token[i] == '.';
	if (ndots == 4)
		return jwt_fail(err, JWT_ERR_STRUCTURE, "JWE tokens are not supported");
	if (ndots != 2)
	{
		jwt_fail(err, JWT_ERR_STRUCTURE, "token is not a JWS compact serialization");
		jwt_fail_detail(err, "A token has three segments separated by two dots; this one has %d dots.", ndots);
		return JWT_ERR_STRUCTURE;
	}
	if (dot1 == token || dot2 + 1 == token + len)
		return jwt_fail(err, JWT_ERR_STRUCTURE, "token has an empty header or signature");

#ifndef FRONTEND
	{
		HeaderCacheEntry *e = header_cache_lookup(token, dot1 - token);

		if (e == NULL)
			e = header_cache_add(token, dot1 - token);
		if (e != NULL)
		{
			if (!decode_segment(dot1 + 1, dot2 - dot1 - 1, &tok->payload, &tok->payload_len) ||
				!decode_segment(dot2 + 1, token + len - dot2 - 1, &sig, &tok->sig_len))
				return jwt_fail(err, JWT_ERR_BASE64, "token is not valid base64url");
			tok->sig = (unsigned char *) sig;
			tok->signing_input_len = dot2 - token;
			tok->header_json = e->header_json;
			tok->header_len = e->header_len;
			tok->header = e->header;
			if (e->checked)
			{
				tok->header_checked = true;
				tok->alg = e->alg;
				tok->kid = e->kid;
				tok->typ = e->typ;
			}
			return JWT_OK;
		}
	}
#endif
	if (!decode_segment(token, dot1 - token, &tok->header_json, &tok->header_len) ||
		!decode_segment(dot1 + 1, dot2 - dot1 - 1, &tok->payload, &tok->payload_len) ||
		!decode_segment(dot2 + 1, token + len - dot2 - 1, &sig, &tok->sig_len))
		return jwt_fail(err, JWT_ERR_BASE64, "token is not valid base64url");
	tok->sig = (unsigned char *) sig;
	tok->signing_input_len = dot2 - token;

	if ((jr = json_strict_parse(tok->header_json, tok->header_len, &tok->header)) != JSON_STRICT_OK)
	{
		jwt_fail(err, JWT_ERR_JSON, "token header is not valid");
		jwt_fail_detail(err, "The header must be a JSON object, but %s.", json_strict_result_text(jr));
		return JWT_ERR_JSON;
	}
	return JWT_OK;
}

/* A header member that must be a string when present. */
static JwtStatus
header_string(JwsToken *tok, const char *name, const char **value, JwtError *err)
{
	const JsonMember *m = json_doc_get(&tok->header, name);

	*value = NULL;
	if (m == NULL)
		return JWT_OK;
	if (m->value.kind != JK_STRING)
		return jwt_fail(err, JWT_ERR_HEADER, "token header member \"%s\" must be a string", name);
	*value = m->value.str;
	return JWT_OK;
}

/* Header rules shared by every verification. */
JwtStatus
jws_check_header(JwsToken *tok, JwtError *err)
{
	static const char *const unsupported[] = {"b64", "zip", "enc"};
	const JsonMember *crit,
			   *alg;
	char		buf[40];
	JwtStatus	st;

	if (tok->header_checked)
		return JWT_OK;
	crit = json_doc_get(&tok->header, "crit");
	alg = json_doc_get(&tok->header, "alg");
	if (crit != NULL)
	{
		const JsonValue *v = &crit->value;

		if (v->kind != JK_ARRAY || v->nelems == 0)
			return jwt_fail(err, JWT_ERR_HEADER, "token header member \"crit\" is malformed");
		for (int i = 0; i < v->nelems; i++)
			if (v->elems[i].kind != JK_STRING)
				return jwt_fail(err, JWT_ERR_HEADER, "token header member \"crit\" is malformed");
		/* no extension is understood here, so any critical one is refused */
		return jwt_fail(err, JWT_ERR_HEADER, "unsupported critical header parameter \"%s\"",
						jwt_printable(v->elems[0].str, buf, sizeof(buf)));
	}
	for (size_t i = 0; i < lengthof(unsupported); i++)
		if (json_doc_get(&tok->header, unsupported[i]) != NULL)
			return jwt_fail(err, JWT_ERR_HEADER, "token header member \"%s\" is not supported",
							unsupported[i]);

	if (alg == NULL)
		return jwt_fail(err, JWT_ERR_HEADER, "token header has no \"alg\"");
	if (alg->value.kind != JK_STRING)
		return jwt_fail(err, JWT_ERR_HEADER, "token header member \"alg\" must be a string");
	tok->alg = jwt_alg_from_name(alg->value.str, alg->value.len);
	if (tok->alg == JWT_ALG_NONE)
		return jwt_fail(err, JWT_ERR_ALGORITHM, "algorithm \"%s\" is not supported",
						jwt_printable(alg->value.str, buf, sizeof(buf)));

	if ((st = header_string(tok, "kid", &tok->kid, err)) != JWT_OK ||
		(st = header_string(tok, "typ", &tok->typ, err)) != JWT_OK)
		return st;
	return JWT_OK;
}

/*
 * Verify the signature.  allowed is the caller's allowlist, or 0 for the
 * algorithms the key's type admits.
 */
JwtStatus
jws_verify(JwsToken *tok, const JwtKeySet *keys, JwtAlgSet allowed, JwtError *err)
{
	JwtKey	   *key;
	JwtStatus	st;

	if ((st = jws_check_algorithm(tok, allowed, err)) != JWT_OK)
		return st;
	if ((st = jwt_keyset_select(keys, tok->alg, tok->kid, &key, err)) != JWT_OK)
		return st;
	return jws_verify_key(tok, key, allowed, err);
}

/*
 * The header rules and allowlist: everything that can be decided before a
 * key is chosen.  allowed is the caller's allowlist or 0.
 */
JwtStatus
jws_check_algorithm(JwsToken *tok, JwtAlgSet allowed, JwtError *err)
{
	JwtStatus	st;

	if ((st = jws_check_header(tok, err)) != JWT_OK)
		return st;
	if (allowed != 0 && !(allowed & JWT_ALG_BIT(tok->alg)))
		return jwt_fail(err, JWT_ERR_ALGORITHM, "algorithm \"%s\" is not allowed",
						jwt_alg_name(tok->alg));
	return JWT_OK;
}

/* Verify the signature with a chosen key, after jws_check_algorithm(). */
JwtStatus
jws_verify_key(JwsToken *tok, JwtKey *key, JwtAlgSet allowed, JwtError *err)
{
	JwtStatus	st;

	if (allowed == 0 && !(jwt_key_admitted_algs(key) & JWT_ALG_BIT(tok->alg)))
		return jwt_fail(err, JWT_ERR_ALGORITHM, "algorithm \"%s\" is not allowed for this key",
						jwt_alg_name(tok->alg));
	if ((st = jwt_key_check_alg(key, tok->alg, err)) != JWT_OK)
		return st;
	/*
	 * A token cache hit: these exact bytes passed this very key object's
	 * check.  Only the cache sets sig_cached_by; a token merely verified
	 * before (and changed since, by whoever holds the struct) is checked again.
	 */
	if (tok->sig_cached_by != 0 && tok->sig_cached_by == key->serial)
	{
		tok->sig_verified_by = key->serial;
		return JWT_OK;
	}
	if ((st = jwt_verify_input(key, tok->alg, tok->text, tok->signing_input_len,
							   tok->sig, tok->sig_len, err)) != JWT_OK)
		return st;
	tok->sig_verified_by = key->serial;
	return JWT_OK;
}

/* "typ" compares case-insensitively, with or without "application/" (RFC 7515 4.1.9). */
static const char *
media_type_name(const char *t)
{
	return pg_strncasecmp(t, "application/", 12) == 0 ? t + 12 : t;
}

JwtStatus
jws_check_typ(const JwsToken *tok, const char *expected, JwtError *err)
{
	if (expected == NULL)
		return JWT_OK;
	if (tok->typ == NULL ||
		pg_strcasecmp(media_type_name(tok->typ), media_type_name(expected)) != 0)
	{
		jwt_fail(err, JWT_ERR_TYPE, "token type does not match");
		jwt_fail_detail(err, "Expected typ \"%s\".", expected);
		return JWT_ERR_TYPE;
	}
	return JWT_OK;
}

/* Sign header and payload (raw JSON or bytes) into a palloc'd compact JWS. */
char *
jws_sign(JwtKey *key, JwtAlg alg, const char *header_json, size_t header_len,
		 const char *payload, size_t payload_len, JwtError *err)
{
	size_t		h64 = B64URL_ENCODED_LEN(header_len);
	size_t		p64 = B64URL_ENCODED_LEN(payload_len);
	int			sigmax = jwt_signature_max_len(key);
	unsigned char *sig = palloc(sigmax);
	size_t		siglen;
	char	   *out;
	size_t		pos;

	out = palloc(h64 + 1 + p64 + 1 + B64URL_ENCODED_LEN(sigmax) + 1);
	pos = b64url_encode((const unsigned char *) header_json, header_len, out);
	out[pos++] = '.';
	pos += b64url_encode((const unsigned char *) payload, payload_len, out + pos);
	if (jwt_sign_input(key, alg, out, pos, sig, &siglen, err) != JWT_OK)
		return NULL;
	out[pos++] = '.';
	pos += b64url_encode(sig, siglen, out + pos);
	out[pos] = '\0';
	pfree(sig);
	return out;
}
