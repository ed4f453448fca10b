/*
 * dpop.c - DPoP proofs of possession (RFC 9449) and JWK thumbprints (RFC 7638)
 *
 * A proof is a JWS whose header carries the client's public key; it is
 * checked here against the request (method, URL, time, access token, nonce)
 * with the same strict JWS and JWK code as tokens: jws.c parses it, keys.c
 * parses the key.  Replay (a jti seen before) needs the database and is
 * checked in dpop_replay.c.  No server calls: the core stays fuzzable.
 */
#include "postgres.h"

#include <math.h>

#include "b64url.h"
#include "dpop.h"
#include "keycache.h"

/* JWK members that make a key private (RFC 7518 sections 6.2.2, 6.3.2, 6.4; RFC 8037). */
static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

/*
 * The members RFC 7638 section 3.2 hashes, per key type, in lexicographic
 * order: that order is the canonical JSON's.
 */
static const char *const rsa_members[] = {"e", "kty", "n", NULL};
static const char *const ec_members[] = {"crv", "kty", "x", "y", NULL};
static const char *const okp_members[] = {"crv", "kty", "x", NULL};

/*
 * A JWK that may be thumbprinted or carry a proof: a single public
 * asymmetric key, parsed and checked by keys.c through the per-backend key
 * cache (a client signs its proofs with one key, so it is parsed once; the
 * cache frees it, also when an error or a cancel ends the parse).  On
 * success *set holds the key, valid until the next key cache lookup, and
 * *members the thumbprint's member list.  code is the status of a refusal.
 */
static JwtStatus
public_jwk(const char *json, size_t len, JwtStatus code, JsonDoc *doc, JwtKeySet **set,
		   const char *const **members, JwtError *err)
{
	const JsonMember *kty;
	JsonStrictResult jr;
	JwtStatus	st;

	*set = NULL;
	if ((jr = json_strict_parse(json, len, doc)) != JSON_STRICT_OK)
	{
		jwt_fail(err, code, "JWK is not valid");
		jwt_fail_detail(err, "A JWK must be a JSON object, but %s.", json_strict_result_text(jr));
		return code;
	}
	if (json_doc_get(doc, "keys") != NULL)
		return jwt_fail(err, code, "a JWK set is not a JWK");
	for (size_t i = 0; i < lengthof(private_members); i++)
		if (json_doc_get(doc, private_members[i]) != NULL)
		{
			/* refused before parsing: no key material is even decoded */
			jwt_fail(err, code, "JWK holds private key material");
			jwt_fail_detail(err, "Member \"%s\" is private; only the public key may be given.",
							private_members[i]);
			return code;
		}
	kty = json_doc_get(doc, "kty");
	if (kty == NULL || kty->value.kind != JK_STRING)
		return jwt_fail(err, code, "JWK has no \"kty\"");
	if (strcmp(kty->value.str, "RSA") == 0)
	{
		const JsonMember *n = json_doc_get(doc, "n");

		/*
		 * A proof's key comes with the request, unauthenticated, and a fresh
		 * one is checked by OpenSSL (a primality test of n: 130 ms at 8192
		 * bits): bounded before that work, by the length of n's base64url.
		 */
		if (code == JWT_ERR_DPOP_KEY && n != NULL && n->value.kind == JK_STRING &&
			n->value.len > DPOP_MAX_RSA_N_B64)
		{
			jwt_fail(err, code, "DPoP proof key is too large");
			jwt_fail_detail(err, "An RSA proof key may have at most %d bits.", DPOP_MAX_RSA_BITS);
			return code;
		}
		*members = rsa_members;
	}
	else if (strcmp(kty->value.str, "EC") == 0)
		*members = ec_members;
	else if (strcmp(kty->value.str, "OKP") == 0)
		*members = okp_members;
	else
	{
		jwt_fail(err, code, "JWK is not an asymmetric key");
		jwt_fail_detail(err, "\"kty\" must be \"RSA\", \"EC\" or \"OKP\".");
		return code;
	}
	/* the strict parser of every other key: a key it refuses is no proof key */
	if ((st = jwt_keycache_get(json, len, false, set, err)) != JWT_OK)
	{
		err->status = code;
		return code;
	}
	if ((*set)->nkeys != 1 || (*set)->is_jwks || (*set)->keys[0].has_private ||
		(*set)->keys[0].type == JWT_KEY_HMAC)
		return jwt_fail(err, code, "JWK is not a single public key");
	return JWT_OK;
}

/*
 * RFC 7638: SHA-256 over the required members, in order, without white
 * space.  Their values are key parameters that keys.c accepted (base64url,
 * curve and type names), so no value needs escaping; one that would is
 * refused rather than escaped differently from the client.
 */
static JwtStatus
thumbprint_of(const JsonDoc *doc, const char *const *members, JwtStatus code, char *jkt,
			  JwtError *err)
{
	size_t		cap = 16;
	char	   *buf;
	size_t		pos = 0;
	unsigned char digest[32];

	for (int i = 0; members[i] != NULL; i++)
	{
		const JsonMember *m = json_doc_get(doc, members[i]);

		if (m == NULL || m->value.kind != JK_STRING)
			return jwt_fail(err, code, "JWK is missing \"%s\"", members[i]);
		cap += strlen(members[i]) + m->value.len + 8;
	}
	buf = palloc(cap);
	buf[pos++] = '{';
	for (int i = 0; members[i] != NULL; i++)
	{
		const JsonMember *m = json_doc_get(doc, members[i]);

		for (int j = 0; j < m->value.len; j++)
		{
			unsigned char c = (unsigned char) m->value.str[j];

			if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
				return jwt_fail(err, code, "JWK member \"%s\" is not a key parameter", members[i]);
		}
		pos += sprintf(buf + pos, "%s\"%s\":\"", i > 0 ? "," : "", members[i]);
		memcpy(buf + pos, m->value.str, m->value.len);
		pos += m->value.len;
		buf[pos++] = '"';
	}
	buf[pos++] = '}';
	if (!jwt_sha256(buf, pos, digest))
		return jwt_fail(err, JWT_ERR_INTERNAL, "could not hash the JWK");
	jkt[b64url_encode(digest, sizeof(digest), jkt)] = '\0';
	pfree(buf);
	return JWT_OK;
}

JwtStatus
jwt_jwk_thumbprint(const char *json, size_t len, char *jkt, JwtError *err)
{
	JsonDoc		doc;
	JwtKeySet  *set;
	const char *const *members;
	JwtStatus	st;

	if ((st = public_jwk(json, len, JWT_ERR_KEY, &doc, &set, &members, err)) != JWT_OK)
		return st;
	return thumbprint_of(&doc, members, JWT_ERR_KEY, jkt, err);
}

bool
jwt_dpop_ath(const char *token, size_t len, char *out)
{
	unsigned char digest[32];

	if (!jwt_sha256(token, len, digest))
		return false;
	out[b64url_encode(digest, sizeof(digest), out)] = '\0';
	return true;
}

/* ---------- URLs: RFC 9449 section 4.3, RFC 3986 sections 6.2.2 and 6.2.3 ---------- */

static bool
is_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool
is_sub_delim(unsigned char c)
{
	return strchr("!$&'()*+,;=", c) != NULL && c != '\0';
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char) tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Copy s[0..len) to out with percent-encoding normalized: hex digits upper
 * case, octets of unreserved characters decoded; lower case too when fold.
 * extra lists the characters allowed besides unreserved and sub-delims.
 */
static bool
copy_component(const char *s, size_t len, const char *extra, bool fold, char *out,
			   size_t *outlen, const char **why)
{
	size_t		o = 0;

	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '%')
		{
			int			hi,
						lo;

			if (i + 2 >= len)
			{
				*why = "a percent sign is not followed by two hex digits";
				return false;
			}
			hi = hex_value((unsigned char) s[i + 1]);
			lo = hex_value((unsigned char) s[i + 2]);
			if (hi < 0 || lo < 0)
			{
				*why = "a percent sign is not followed by two hex digits";
				return false;
			}
			c = (unsigned char) (hi * 16 + lo);
			i += 2;
			if (is_unreserved(c))
				out[o++] = fold ? (char) tolower(c) : (char) c;
			else
			{
				out[o++] = '%';
				out[o++] = "0123456789ABCDEF"[hi];
				out[o++] = "0123456789ABCDEF"[lo];
			}
		}
		else if (is_unreserved(c) || is_sub_delim(c) || (c != '\0' && strchr(extra, c) != NULL))
			out[o++] = fold ? (char) tolower(c) : (char) c;
		else
		{
			*why = "it holds a character a URL cannot hold unencoded";
			return false;
		}
	}
	*outlen = o;
	return true;
}

/* RFC 3986 section 5.2.4 over a path that starts with "/", in place. */
static size_t
remove_dot_segments(char *path, size_t len)
{
	char	   *in = pnstrdup(path, len);
	size_t		o = 0;
	size_t		i = 1;

	path[o++] = '/';
	while (i <= len)
	{
		size_t		start = i;
		size_t		seglen;
		bool		last;

		while (i < len && in[i] != '/')
			i++;
		seglen = i - start;
		last = i >= len;
		if (seglen == 1 && in[start] == '.')
		{
			/* "." stays out; a final one leaves the directory's slash */
		}
		else if (seglen == 2 && in[start] == '.' && in[start + 1] == '.')
		{
			/* ".." removes the last output segment (none: nothing) */
			if (o > 1)
			{
				o--;			/* the slash after the segment */
				while (o > 1 && path[o - 1] != '/')
					o--;
			}
		}
		else
		{
			memcpy(path + o, in + start, seglen);
			o += seglen;
			if (!last)
				path[o++] = '/';
		}
		i++;
	}
	pfree(in);
	return o;
}

bool
jwt_dpop_normalize_url(const char *url, size_t len, char **normalized, const char **why)
{
	char	   *out;
	size_t		o = 0,
				n;
	size_t		i,
				auth_start,
				auth_end,
				host_end;
	bool		https;
	long		port = -1;

	*normalized = NULL;
	if (len > DPOP_MAX_URL_LEN)
	{
		*why = "it is too long";
		return false;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char) url[i] <= 0x20 || (unsigned char) url[i] >= 0x7f)
		{
			*why = "it holds white space, a control character or a character past ASCII";
			return false;
		}
	/* scheme, case-insensitive: http or https only */
	if (len >= 7 && pg_strncasecmp(url, "http://", 7) == 0)
	{
		https = false;
		auth_start = 7;
	}
	else if (len >= 8 && pg_strncasecmp(url, "https://", 8) == 0)
	{
		https = true;
		auth_start = 8;
	}
	else
	{
		*why = "it is not an absolute http or https URL";
		return false;
	}
	auth_end = auth_start;
	while (auth_end < len && url[auth_end] != '/' && url[auth_end] != '?' && url[auth_end] != '#')
		auth_end++;
	if (memchr(url + auth_start, '@', auth_end - auth_start) != NULL)
	{
		*why = "it holds user information";
		return false;
	}

	out = palloc(len + 16);
	memcpy(out, https ? "https://" : "http://", https ? 8 : 7);
	o = https ? 8 : 7;

	/* host: an IP literal in brackets, or a registered name; lower case */
	if (auth_start < auth_end && url[auth_start] == '[')
	{
		host_end = auth_start + 1;
		while (host_end < auth_end && url[host_end] != ']')
		{
			if (!isxdigit((unsigned char) url[host_end]) && url[host_end] != ':' && url[host_end] != '.')
			{
				*why = "its IP literal is malformed";
				return false;
			}
			host_end++;
		}
		if (host_end >= auth_end)
		{
			*why = "its IP literal is malformed";
			return false;
		}
		host_end++;
		for (i = auth_start; i < host_end; i++)
			out[o++] = (char) tolower((unsigned char) url[i]);
	}
	else
	{
		host_end = auth_start;
		while (host_end < auth_end && url[host_end] != ':')
			host_end++;
		if (!copy_component(url + auth_start, host_end - auth_start, "", true, out + o, &n, why))
			return false;
		o += n;
	}
	if (host_end == auth_start || (host_end == auth_start + 2 && url[auth_start] == '['))
	{
		*why = "it has no host";
		return false;
	}
	/* port: digits; empty or the scheme's default is left out (RFC 3986 6.2.3) */
	if (host_end < auth_end)
	{
		if (url[host_end] != ':')
		{
			*why = "its authority is malformed";
			return false;
		}
		for (i = host_end + 1; i < auth_end; i++)
		{
			if (!isdigit((unsigned char) url[i]))
			{
				*why = "its port is not a number";
				return false;
			}
			port = (port < 0 ? 0 : port) * 10 + (url[i] - '0');
			if (port > 65535)
			{
				*why = "its port is out of range";
				return false;
			}
		}
	}
	if (port >= 0 && port != (https ? 443 : 80))
		o += sprintf(out + o, ":%ld", port);

	/* path up to the query or fragment, which are ignored */
	i = auth_end;
	while (i < len && url[i] != '?' && url[i] != '#')
		i++;
	if (i == auth_end)
		out[o++] = '/';
	else
	{
		if (!copy_component(url + auth_end, i - auth_end, ":@/", false, out + o, &n, why))
			return false;
		o += remove_dot_segments(out + o, n);
	}
	out[o] = '\0';
	*normalized = out;
	return true;
}

/* ---------- proofs ---------- */

/* Algorithms a proof may use: asymmetric ones only (RFC 9449 section 4.2). */
static const JwtAlgSet dpop_algs =
	JWT_ALG_BIT(JWT_ALG_RS256) | JWT_ALG_BIT(JWT_ALG_RS384) | JWT_ALG_BIT(JWT_ALG_RS512) |
	JWT_ALG_BIT(JWT_ALG_PS256) | JWT_ALG_BIT(JWT_ALG_PS384) | JWT_ALG_BIT(JWT_ALG_PS512) |
	JWT_ALG_BIT(JWT_ALG_ES256) | JWT_ALG_BIT(JWT_ALG_ES384) | JWT_ALG_BIT(JWT_ALG_ES512) |
	JWT_ALG_BIT(JWT_ALG_EDDSA) | JWT_ALG_BIT(JWT_ALG_ED25519) | JWT_ALG_BIT(JWT_ALG_ED448);

/* A claim that must be a string of 1..max bytes; NULL when absent and optional. */
static JwtStatus
proof_string(const JsonDoc *claims, const char *name, bool required, int max,
			 const char **value, int *len, JwtError *err)
{
	const JsonMember *m = json_doc_get(claims, name);

	*value = NULL;
	if (m == NULL)
		return required ? jwt_fail(err, JWT_ERR_DPOP_MALFORMED, "DPoP proof has no \"%s\" claim", name)
			: JWT_OK;
	if (m->value.kind != JK_STRING || m->value.len == 0)
		return jwt_fail(err, JWT_ERR_DPOP_MALFORMED, "DPoP proof claim \"%s\" must be a non-empty string", name);
	if (m->value.len > max)
	{
		jwt_fail(err, JWT_ERR_DPOP_MALFORMED, "DPoP proof claim \"%s\" is too long", name);
		jwt_fail_detail(err, "It may have at most %d bytes.", max);
		return JWT_ERR_DPOP_MALFORMED;
	}
	*value = m->value.str;
	if (len)
		*len = m->value.len;
	return JWT_OK;
}

/* Constant-time string equality (ath and nonce are compared without early exit). */
static bool
equal_strings(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && jwt_equal_const_time(a, b, alen);
}

/* An HTTP method: an RFC 9110 token. */
static bool
is_method(const char *m)
{
	size_t		len = strlen(m);

	if (len == 0 || len > DPOP_MAX_METHOD_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char) m[i]) && strchr("!#$%&'*+-.^_`|~", m[i]) == NULL)
			return false;
	return true;
}

/*
 * Every check of RFC 9449 section 4.3 but replay, in an order that looks at
 * nothing in the claims before the signature verified.  Failures of the
 * request (a malformed method or URL argument) are JWT_ERR_OPTION.
 */
JwtStatus
jwt_dpop_check(const DpopCheck *req, DpopProof *proof, JwtError *err)
{
	JwsToken   *tok = &proof->tok;
	const JsonMember *jwk;
	JsonDoc		jwkdoc;
	JwtKeySet  *set;
	const char *const *members;
	const char *htm,
			   *htu,
			   *ath,
			   *nonce,
			   *why;
	char	   *want_url,
			   *got_url;
	int			athlen,
				noncelen;
	const JsonMember *iat;
	JsonStrictResult jr;
	JwtStatus	st;

	memset(proof, 0, sizeof(*proof));
	if (!is_method(req->method))
		return jwt_fail(err, JWT_ERR_OPTION, "method is not an HTTP method");
	if (!jwt_dpop_normalize_url(req->url, strlen(req->url), &want_url, &why))
	{
		jwt_fail(err, JWT_ERR_OPTION, "url is not a valid http or https URL");
		jwt_fail_detail(err, "The URL is refused: %s.", why);
		return JWT_ERR_OPTION;
	}

	/* the JWS: any structural fault is a malformed proof */
	if (req->proof_len > DPOP_MAX_PROOF_LEN)
	{
		jwt_fail(err, JWT_ERR_DPOP_MALFORMED, "DPoP proof is too long");
		jwt_fail_detail(err, "A proof may have at most %d bytes.", DPOP_MAX_PROOF_LEN);
		return JWT_ERR_DPOP_MALFORMED;
	}
	if ((st = jws_parse(req->proof, req->proof_len, DPOP_MAX_PROOF_LEN, tok, err)) != JWT_OK ||
		(st = jws_check_header(tok, err)) != JWT_OK)
	{
		if (st == JWT_ERR_ALGORITHM)
			err->status = JWT_ERR_DPOP_ALGORITHM;
		else
		{
			jwt_fail_detail(err, "%s.", err->message);
			snprintf(err->message, sizeof(err->message), "DPoP proof is malformed");
			err->status = JWT_ERR_DPOP_MALFORMED;
		}
		return err->status;
	}
	if (tok->typ == NULL || pg_strcasecmp(tok->typ, "dpop+jwt") != 0)
	{
		jwt_fail(err, JWT_ERR_DPOP_TYPE, "DPoP proof type is not \"dpop+jwt\"");
		return JWT_ERR_DPOP_TYPE;
	}
	if (!(dpop_algs & JWT_ALG_BIT(tok->alg)))
	{
		jwt_fail(err, JWT_ERR_DPOP_ALGORITHM, "DPoP proof algorithm \"%s\" is not allowed",
				 jwt_alg_name(tok->alg));
		jwt_fail_detail(err, "A proof is signed with an asymmetric key.");
		return JWT_ERR_DPOP_ALGORITHM;
	}

	/* the key: a public JWK in the header, parsed by keys.c */
	jwk = json_doc_get(&tok->header, "jwk");
	if (jwk == NULL || jwk->value.kind != JK_OBJECT)
		return jwt_fail(err, JWT_ERR_DPOP_KEY, "DPoP proof header has no \"jwk\" object");
	if ((st = public_jwk(jwk->value.str, jwk->value.len, JWT_ERR_DPOP_KEY, &jwkdoc, &set,
						 &members, err)) != JWT_OK)
		return st;
	st = jws_verify_key(tok, &set->keys[0], dpop_algs, err);
	if (st == JWT_ERR_ALGORITHM)
		return err->status = JWT_ERR_DPOP_ALGORITHM;
	if (st == JWT_ERR_SIGNATURE)
	{
		jwt_fail(err, JWT_ERR_DPOP_SIGNATURE, "DPoP proof signature is invalid");
		return JWT_ERR_DPOP_SIGNATURE;
	}
	if (st != JWT_OK)
		return st;
	if ((st = thumbprint_of(&jwkdoc, members, JWT_ERR_DPOP_KEY, proof->jkt, err)) != JWT_OK)
		return st;

	/* the claims, now that the key signed them */
	if ((jr = json_strict_parse(tok->payload, tok->payload_len, &proof->claims)) != JSON_STRICT_OK)
	{
		jwt_fail(err, JWT_ERR_DPOP_MALFORMED, "DPoP proof claims are not valid");
		jwt_fail_detail(err, "The claims must be a JSON object, but %s.", json_strict_result_text(jr));
		return JWT_ERR_DPOP_MALFORMED;
	}
	if ((st = proof_string(&proof->claims, "jti", true, DPOP_MAX_JTI_LEN, &proof->jti, NULL, err)) != JWT_OK ||
		(st = proof_string(&proof->claims, "htm", true, DPOP_MAX_METHOD_LEN, &htm, NULL, err)) != JWT_OK ||
		(st = proof_string(&proof->claims, "htu", true, DPOP_MAX_URL_LEN, &htu, NULL, err)) != JWT_OK ||
		(st = proof_string(&proof->claims, "ath", false, DPOP_JKT_LEN, &ath, &athlen, err)) != JWT_OK ||
		(st = proof_string(&proof->claims, "nonce", false, DPOP_MAX_NONCE_LEN, &nonce, &noncelen, err)) != JWT_OK)
		return st;
	iat = json_doc_get(&proof->claims, "iat");
	if (iat == NULL)
		return jwt_fail(err, JWT_ERR_DPOP_MALFORMED, "DPoP proof has no \"iat\" claim");
	if (iat->value.kind != JK_NUMBER || !isfinite(json_number_double(&iat->value)))
		return jwt_fail(err, JWT_ERR_DPOP_MALFORMED, "DPoP proof claim \"iat\" must be a number");
	proof->iat = json_number_double(&iat->value);

	if (strcmp(htm, req->method) != 0)
	{
		jwt_fail(err, JWT_ERR_DPOP_METHOD, "DPoP proof is for another HTTP method");
		jwt_fail_detail(err, "The request's method is %s.", req->method);
		return JWT_ERR_DPOP_METHOD;
	}
	if (!jwt_dpop_normalize_url(htu, strlen(htu), &got_url, &why))
	{
		jwt_fail(err, JWT_ERR_DPOP_URL, "DPoP proof \"htu\" is not a valid http or https URL");
		jwt_fail_detail(err, "The URL is refused: %s.", why);
		return JWT_ERR_DPOP_URL;
	}
	if (strcmp(got_url, want_url) != 0)
		return jwt_fail(err, JWT_ERR_DPOP_URL, "DPoP proof is for another URL");

	if (proof->iat > req->now + req->clock_skew)
	{
		jwt_fail(err, JWT_ERR_DPOP_TIME, "DPoP proof was issued in the future");
		jwt_fail_detail(err, "jwt.dpop_clock_skew is %d s.", req->clock_skew);
		return JWT_ERR_DPOP_TIME;
	}
	if (proof->iat < req->now - req->max_age - req->clock_skew)
	{
		jwt_fail(err, JWT_ERR_DPOP_TIME, "DPoP proof is too old");
		jwt_fail_detail(err, "jwt.dpop_max_age is %d s and jwt.dpop_clock_skew %d s.",
						req->max_age, req->clock_skew);
		return JWT_ERR_DPOP_TIME;
	}

	/*
	 * A proof for a request with a refresh token carries no "ath" (RFC 9449
	 * section 4.2); one that does was made for an API call with an access
	 * token, and must not pass for a refresh even where htm and htu match.
	 */
	if (req->token_request && ath != NULL)
		return jwt_fail(err, JWT_ERR_DPOP_ATH, "DPoP proof is for a request with an access token");
	if (req->access_token != NULL)
	{
		char		want_ath[DPOP_JKT_LEN + 1];

		if (!jwt_dpop_ath(req->access_token, req->access_token_len, want_ath))
			return jwt_fail(err, JWT_ERR_INTERNAL, "could not hash the access token");
		if (ath == NULL)
			return jwt_fail(err, JWT_ERR_DPOP_ATH, "DPoP proof has no \"ath\" claim for the access token");
		if (!equal_strings(ath, athlen, want_ath, DPOP_JKT_LEN))
			return jwt_fail(err, JWT_ERR_DPOP_ATH, "DPoP proof is for another access token");
	}
	if (req->nonce != NULL)
	{
		if (nonce == NULL)
			return jwt_fail(err, JWT_ERR_DPOP_NONCE, "DPoP proof has no \"nonce\" claim");
		if (!equal_strings(nonce, noncelen, req->nonce, strlen(req->nonce)))
			return jwt_fail(err, JWT_ERR_DPOP_NONCE, "DPoP proof nonce does not match");
	}
	return JWT_OK;
}
