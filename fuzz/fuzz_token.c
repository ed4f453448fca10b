/*
 * fuzz/fuzz_token.c - compact JWS tokens through the whole verification path
 *
 * The input is a token, or (when its first byte is 0) the raw header,
 * payload and signature bytes separated by 0 bytes, which the target
 * base64url-encodes into a token: that lets the fuzzer mutate the JSON inside
 * the segments directly instead of through their base64url.  It is parsed (jws_parse, jws_check_header), checked
 * against fixed keys (an HMAC secret, a P-256 public key and a JWKS of
 * RSA/EC/OKP public keys with kids), and its claims are parsed and checked
 * against fixed rules.  The claims are checked even when the signature does
 * not verify: the server would not, but a fuzzer cannot forge signatures and
 * the claim code would otherwise see only the seeds.
 *
 * Invariants: failures carry a status and a message, and a message carries
 * no byte the token chose that is not printable; and whatever header and
 * payload parse, re-signing them with a key of the header's algorithm gives a
 * token that parses to the same header and payload and verifies, and that no
 * longer verifies once one bit of its signature changes.
 */
#include "fuzz_common.h"

#include "claims.h"
#include "b64url.h"
#include "crypto.h"
#include "fuzz_keys.h"
#include "jws.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int			LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_TOKEN_LENGTH 65536

static const char hmac_secret[] =
	"fuzz-hmac-secret-0123456789abcdef-0123456789abcdef-0123456789abcd";

static MemoryContext keys_cxt;
static bool verbose;			/* FUZZ_VERBOSE=1: print each input's outcome */
static JwtKeySet hmac_set,		/* verifies and signs HS* */
			ec256_pub_set,		/* P-256 public key (PEM) */
			jwks_set,			/* public JWKS with kids */
			rsa_set,			/* signers */
			ec256_set,
			ec384_set,
			ec521_set,
			ed25519_set,
			ed448_set;

static const JwtClaimRules strict_rules = {
	.now = 1900000000,			/* 2030-03-17 */
	.leeway = 30,
	.require_exp = true,
	.audience = "fuzz-aud",
	.issuer = "fuzz-iss",
	.subject = NULL,
	.required = (const char *const[]) {"sub", "jti"},
	.nrequired = 2,
	.max_age = 3600,
	.max_lifetime = 86400,
};

static const JwtClaimRules loose_rules = {
	.now = 1700000000,
	.leeway = 0,
	.require_exp = false,
	.audience = NULL,
	.issuer = NULL,
	.subject = "alice",
	.required = NULL,
	.nrequired = 0,
	.max_age = -1,
	.max_lifetime = 0,
};

static void
load_keyset(JwtKeySet *set, const char *text, bool is_secret)
{
	JwtError	err;

	fuzz_input_begin();
	memset(set, 0, sizeof(*set));
	if (jwt_keyset_parse(text, strlen(text), is_secret, keys_cxt, set, &err) != JWT_OK)
	{
		fprintf(stderr, "fuzz_token: cannot load a test key: %s %s\n", err.message, err.detail);
		abort();
	}
	fuzz_input_end();
}

/* A JWK with a "kid" member added in front. */
static char *
with_kid(const char *jwk, const char *kid)
{
	size_t		len = strlen(jwk) + strlen(kid) + 16;
	char	   *s = MemoryContextAlloc(keys_cxt, len);

	snprintf(s, len, "{\"kid\":\"%s\",%s", kid, jwk + 1);
	return s;
}

static void
free_keys(void)
{
	jwt_keyset_free(&hmac_set);
	jwt_keyset_free(&ec256_pub_set);
	jwt_keyset_free(&jwks_set);
	jwt_keyset_free(&rsa_set);
	jwt_keyset_free(&ec256_set);
	jwt_keyset_free(&ec384_set);
	jwt_keyset_free(&ec521_set);
	jwt_keyset_free(&ed25519_set);
	jwt_keyset_free(&ed448_set);
	fuzz_arena_delete(keys_cxt);
	if (fuzz_input_cxt)
		fuzz_arena_delete(fuzz_input_cxt);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	   *jwks;
	size_t		len;

	(void) argc;
	(void) argv;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	keys_cxt = fuzz_arena_create("keys");
	load_keyset(&hmac_set, hmac_secret, true);
	load_keyset(&ec256_pub_set, fuzz_key_ec_p256_pub, false);
	load_keyset(&rsa_set, fuzz_key_rsa, false);
	load_keyset(&ec256_set, fuzz_key_ec_p256, false);
	load_keyset(&ec384_set, fuzz_key_ec_p384, false);
	load_keyset(&ec521_set, fuzz_key_ec_p521, false);
	load_keyset(&ed25519_set, fuzz_key_ed25519, false);
	load_keyset(&ed448_set, fuzz_key_ed448, false);

	len = strlen(fuzz_key_rsa_pub_jwk) + strlen(fuzz_key_ec256_pub_jwk) +
		strlen(fuzz_key_ed25519_pub_jwk) + strlen(fuzz_key_ed448_pub_jwk) +
		strlen(fuzz_key_ec521_pub_jwk) + 256;
	jwks = MemoryContextAlloc(keys_cxt, len);
	snprintf(jwks, len, "{\"keys\":[%s,%s,%s,%s,%s]}",
			 with_kid(fuzz_key_rsa_pub_jwk, "rsa"),
			 with_kid(fuzz_key_ec256_pub_jwk, "ec256"),
			 with_kid(fuzz_key_ed25519_pub_jwk, "ed25519"),
			 with_kid(fuzz_key_ed448_pub_jwk, "ed448"),
			 with_kid(fuzz_key_ec521_pub_jwk, "ec521"));
	load_keyset(&jwks_set, jwks, false);
	if (jwks_set.nkeys != 5)
		abort();
	atexit(free_keys);
	return 0;
}

/* A failure: well formed, and nothing unprintable from the token in it. */
static void
check_failure(const JwtError *err, JwtStatus st)
{
	fuzz_check_error(err, st);
	FUZZ_CHECK(fuzz_printable(err->message), "unprintable byte in message \"%s\"", err->message);
	FUZZ_CHECK(fuzz_printable(err->detail), "unprintable byte in detail \"%s\"", err->detail);
}

static JwtKeySet *
signer_for(JwtAlg alg)
{
	switch (alg)
	{
		case JWT_ALG_HS256:
		case JWT_ALG_HS384:
		case JWT_ALG_HS512:
			return &hmac_set;
		case JWT_ALG_ES256:
			return &ec256_set;
		case JWT_ALG_ES384:
			return &ec384_set;
		case JWT_ALG_ES512:
			return &ec521_set;
		case JWT_ALG_EDDSA:
		case JWT_ALG_ED25519:
			return &ed25519_set;
		case JWT_ALG_ED448:
			return &ed448_set;
		default:
			return &rsa_set;
	}
}

/* Re-sign header and payload with a key of the header's algorithm. */
static void
resign(const JwsToken *tok)
{
	JwtKeySet  *set = signer_for(tok->alg);
	JwtError	err;
	JwsToken	tok2;
	JwtStatus	st;
	char	   *token;

	token = jws_sign(&set->keys[0], tok->alg, tok->header_json, tok->header_len,
					 tok->payload, tok->payload_len, &err);
	FUZZ_CHECK(token != NULL, "jws_sign(%s) failed: %s", jwt_alg_name(tok->alg), err.message);
	st = jws_parse(token, strlen(token), SIZE_MAX, &tok2, &err);
	FUZZ_CHECK(st == JWT_OK, "re-signed token does not parse: %s", err.message);
	FUZZ_CHECK(tok2.header_len == tok->header_len &&
			   memcmp(tok2.header_json, tok->header_json, tok->header_len) == 0,
			   "re-signed header differs");
	FUZZ_CHECK(tok2.payload_len == tok->payload_len &&
			   memcmp(tok2.payload, tok->payload, tok->payload_len) == 0,
			   "re-signed payload differs");
	st = jws_verify(&tok2, set, 0, &err);
	FUZZ_CHECK(st == JWT_OK, "re-signed %s token does not verify: %s",
			   jwt_alg_name(tok->alg), err.message);
	FUZZ_CHECK(tok2.alg == tok->alg, "alg changed");
	/* the allowlist admits exactly its algorithms */
	st = jws_verify(&tok2, set, JWT_ALG_BIT(tok->alg), &err);
	FUZZ_CHECK(st == JWT_OK, "allowlisted %s does not verify: %s", jwt_alg_name(tok->alg), err.message);
	st = jws_verify(&tok2, set, ~JWT_ALG_BIT(tok->alg) & (JWT_ALG_BIT(JWT_ALG_COUNT) - 1), &err);
	FUZZ_CHECK(st == JWT_ERR_ALGORITHM, "%s outside the allowlist gave %d", jwt_alg_name(tok->alg), (int) st);

	FUZZ_CHECK(tok2.sig_len > 0, "empty signature");
	tok2.sig[tok2.sig_len / 2] ^= 0x10;
	st = jws_verify(&tok2, set, 0, &err);
	FUZZ_CHECK(st == JWT_ERR_SIGNATURE, "%s token with a changed signature gave %d",
			   jwt_alg_name(tok->alg), (int) st);
	check_failure(&err, st);
}

static void
check_claims(const JwsToken *tok)
{
	JsonDoc		claims;
	JwtError	err;
	JwtStatus	st;

	if (json_strict_parse(tok->payload, tok->payload_len, &claims) != JSON_STRICT_OK)
		return;
	st = jwt_check_claims(&claims, &strict_rules, &err);
	if (verbose)
		fprintf(stderr, "  claims (strict rules): %s %s\n", st == JWT_OK ? "ok" : err.message, st == JWT_OK ? "" : err.detail);
	if (st != JWT_OK)
	{
		check_failure(&err, st);
		FUZZ_CHECK(jwt_status_is_token_failure(st), "claims gave status %d", (int) st);
	}
	st = jwt_check_claims(&claims, &loose_rules, &err);
	if (st != JWT_OK)
	{
		check_failure(&err, st);
		FUZZ_CHECK(jwt_status_is_token_failure(st), "claims gave status %d", (int) st);
	}
}

/* Structured input: 0, then segments separated by 0 bytes, made into a token. */
static char *
encode_segments(const uint8_t *data, size_t size, size_t *len)
{
	char	   *out = palloc(B64URL_ENCODED_LEN(size) + size + 1);
	size_t		pos = 0,
				start = 1;

	for (size_t i = 1; i <= size; i++)
	{
		if (i < size && data[i] != 0)
			continue;
		if (start > 1)
			out[pos++] = '.';
		pos += b64url_encode(data + start, i - start, out + pos);
		start = i + 1;
	}
	out[pos] = '\0';
	*len = pos;
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const JwtKeySet *const verify_sets[] = {&hmac_set, &ec256_pub_set, &jwks_set};
	const char *text = (const char *) data;
	JwsToken	tok;
	JwtError	err;
	JwtStatus	st;

	fuzz_input_begin();
	if (size > 0 && data[0] == 0)
		text = encode_segments(data, size, &size);
	if (size > 0)
	{
		st = jws_parse(text, size, size - 1, &tok, &err);
		FUZZ_CHECK(st == JWT_ERR_TOO_LONG, "a token over the limit gave %d", (int) st);
		check_failure(&err, st);
	}
	st = jws_parse(text, size, MAX_TOKEN_LENGTH, &tok, &err);
	if (verbose)
		fprintf(stderr, "token of %zu bytes: parse %s\n", size, st == JWT_OK ? "ok" : err.message);
	if (st != JWT_OK)
	{
		check_failure(&err, st);
		FUZZ_CHECK(jwt_status_is_token_failure(st), "parse gave status %d", (int) st);
		goto done;
	}
	FUZZ_CHECK(tok.header_json[tok.header_len] == '\0' && tok.payload[tok.payload_len] == '\0',
			   "segments not terminated");
	FUZZ_CHECK(tok.signing_input_len < size && text[tok.signing_input_len] == '.',
			   "signing input of %zu bytes in %zu", tok.signing_input_len, size);

	st = jws_check_header(&tok, &err);
	if (verbose)
		fprintf(stderr, "  header: %s\n", st == JWT_OK ? "ok" : err.message);
	if (st != JWT_OK)
	{
		check_failure(&err, st);
		FUZZ_CHECK(jwt_status_is_token_failure(st), "header gave status %d", (int) st);
	}
	else
	{
		FUZZ_CHECK(tok.alg >= 0 && tok.alg < JWT_ALG_COUNT, "alg %d", (int) tok.alg);

		for (size_t i = 0; i < lengthof(verify_sets); i++)
		{
			st = jws_verify(&tok, verify_sets[i], 0, &err);
			if (verbose)
				fprintf(stderr, "  verify with key set %zu: %s\n", i, st == JWT_OK ? "ok" : err.message);
			if (st != JWT_OK)
				check_failure(&err, st);
			st = jws_verify(&tok, verify_sets[i], JWT_ALG_BIT(JWT_ALG_COUNT) - 1, &err);
			if (st != JWT_OK)
				check_failure(&err, st);
		}
		st = jws_check_typ(&tok, "JWT", &err);
		if (st != JWT_OK)
			check_failure(&err, st);
		st = jws_check_typ(&tok, "application/at+jwt", &err);
		if (st != JWT_OK)
			check_failure(&err, st);

		resign(&tok);
	}
	check_claims(&tok);

done:
	fuzz_input_end();
	return 0;
}
