/*
 * fuzz/fuzz_key.c - key parsing: PEM, JWK, JWKS and HMAC secrets
 *
 * Input: one flag byte (bit 0: is_secret, as for a bytea key) then the key
 * text.  Beyond "no crash, no leak": a parsed key admits at least its default
 * algorithm, jwt_key_check_alg agrees with jwt_key_admitted_algs, and a key
 * with a private part signs a token that it then verifies (the parser claims
 * to have checked that private and public parts match).
 */
#include "fuzz_common.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "crypto.h"
#include "jws.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Signing with huge RSA keys takes seconds: parse them, do not use them. */
#define MAX_SIGN_RSA_BITS 4096

static bool
rsa_has_factors(const JwtKey *key)
{
	BIGNUM	   *p = NULL;
	bool		has = EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, &p) == 1;

	BN_free(p);
	return has;
}

/*
 * What the parser promises about accepted key material, checked against
 * independent facts: RSA exponents in 2^16 < e < 2^256 and odd, moduli of
 * 2048 to 8192 bits; EdDSA public keys never one of the well-known encodings
 * of the small-order Ed25519 points (listed here, not computed).
 */
static void
check_key_material(const JwtKey *key)
{
	static const char *const ed25519_small_order[] = {
		"0100000000000000000000000000000000000000000000000000000000000000",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0000000000000000000000000000000000000000000000000000000000000080",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
	};

	if (key->type == JWT_KEY_RSA)
	{
		BIGNUM	   *e = NULL;

		FUZZ_CHECK(key->bits >= 2048 && key->bits <= 8192, "RSA key of %d bits accepted", key->bits);
		FUZZ_CHECK(EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_E, &e) == 1, "RSA key without e");
		FUZZ_CHECK(BN_is_odd(e) && BN_num_bits(e) > 16 && BN_num_bits(e) <= 256,
				   "RSA exponent of %d bits accepted", BN_num_bits(e));
		BN_free(e);
	}
	else if (key->type == JWT_KEY_OKP && EVP_PKEY_get_base_id(key->pkey) == EVP_PKEY_ED25519)
	{
		unsigned char pub[32];
		size_t		publen = sizeof(pub);
		char		hex[65];

		FUZZ_CHECK(EVP_PKEY_get_raw_public_key(key->pkey, pub, &publen) == 1 && publen == 32,
				   "Ed25519 key without a 32-byte public key");
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", pub[i]);
		for (size_t i = 0; i < sizeof(ed25519_small_order) / sizeof(ed25519_small_order[0]); i++)
			FUZZ_CHECK(strcmp(hex, ed25519_small_order[i]) != 0, "small-order Ed25519 key accepted");
	}
}

static void
check_key(const JwtKeySet *set, JwtKey *key)
{
	JwtAlgSet	admitted = jwt_key_admitted_algs(key);
	JwtAlg		def = jwt_key_default_alg(key);
	JwtError	err;
	bool		ops_limited;

	FUZZ_CHECK(key->type >= JWT_KEY_HMAC && key->type <= JWT_KEY_OKP, "key type %d", key->type);
	FUZZ_CHECK(jwt_key_type_name(key) != NULL, "no type name");
	FUZZ_CHECK(def >= 0 && def < JWT_ALG_COUNT, "default alg %d", def);
	FUZZ_CHECK(admitted & JWT_ALG_BIT(def), "%s key does not admit its default %s",
			   jwt_key_type_name(key), jwt_alg_name(def));
	FUZZ_CHECK(key->type == JWT_KEY_HMAC ? key->secret != NULL && key->secret_len >= 32
			   : key->pkey != NULL, "%s key without key material", jwt_key_type_name(key));
	for (JwtAlg a = 0; a < JWT_ALG_COUNT; a++)
	{
		JwtStatus	st = jwt_key_check_alg(key, a, &err);

		FUZZ_CHECK((st == JWT_OK) == ((admitted & JWT_ALG_BIT(a)) != 0),
				   "%s key: check_alg(%s) = %d but admitted set 0x%x",
				   jwt_key_type_name(key), jwt_alg_name(a), (int) st, admitted);
		if (st != JWT_OK)
			fuzz_check_error(&err, st);
	}
	FUZZ_CHECK(jwt_signature_max_len(key) > 0, "signature_max_len %d", jwt_signature_max_len(key));

	check_key_material(key);

	/* a key whose JWK "key_ops" leaves out sign or verify refuses it (28J07) */
	ops_limited = (key->key_ops & JWT_KEYOP_LISTED) &&
		!((key->key_ops & JWT_KEYOP_SIGN) && (key->key_ops & JWT_KEYOP_VERIFY));
	if (ops_limited && key->has_private && !(key->key_ops & JWT_KEYOP_SIGN))
	{
		char	   *token = jws_sign(key, def, "{}", 2, "{}", 2, &err);

		FUZZ_CHECK(token == NULL && err.status == JWT_ERR_ALGORITHM,
				   "a key without key_ops sign signed");
	}

	/* a private key signs, and its own public part verifies */
	if (key->has_private && !ops_limited &&
		!(key->type == JWT_KEY_RSA && key->bits > MAX_SIGN_RSA_BITS))
	{
		static const char header[] = "{\"typ\":\"JWT\"}";
		static const char payload[] = "{\"sub\":\"fuzz\"}";

		for (JwtAlg a = 0; a < JWT_ALG_COUNT; a++)
		{
			char	   *token;
			JwsToken	tok;
			JwtStatus	st;

			if (!(admitted & JWT_ALG_BIT(a)))
				continue;
			/* RSA: one PKCS#1 v1.5 and one PSS algorithm are enough */
			if (key->type == JWT_KEY_RSA && a != JWT_ALG_RS256 && a != JWT_ALG_PS512)
				continue;
			token = jws_sign(key, a, header, strlen(header), payload, strlen(payload), &err);
			FUZZ_CHECK(token != NULL, "accepted %s key cannot sign %s: %s",
					   jwt_key_type_name(key), jwt_alg_name(a), err.message);
			st = jws_parse(token, strlen(token), 1 << 20, &tok, &err);
			FUZZ_CHECK(st == JWT_OK, "own token does not parse: %s", err.message);
			/* jws_check_header wants "alg" in the header: verify the input directly */
			tok.alg = a;
			st = jws_verify_key(&tok, key, 0, &err);
			if (st != JWT_OK && key->type == JWT_KEY_RSA && !rsa_has_factors(key))
			{
				static bool said;

				/* a JWK with n, e and d only: OpenSSL cannot check the pair */
				if (!said)
					fprintf(stderr, "fuzz_key: note: an RSA JWK without CRT factors whose d does not match n, e was accepted\n");
				said = true;
				continue;
			}
			FUZZ_CHECK(st == JWT_OK, "%s key does not verify its own %s signature: %s",
					   jwt_key_type_name(key), jwt_alg_name(a), err.message);
			pfree(token);
		}
	}

	/* a public key refuses to sign */
	if (!key->has_private)
	{
		char	   *token = jws_sign(key, def, "{}", 2, "{}", 2, &err);

		FUZZ_CHECK(token == NULL && err.status == JWT_ERR_KEY, "a public %s key signed",
				   jwt_key_type_name(key));
	}

	/* selecting from the set: by kid, or by algorithm */
	for (JwtAlg a = 0; a < JWT_ALG_COUNT; a++)
	{
		JwtKey	   *found = NULL;
		JwtStatus	st = jwt_keyset_select(set, a, key->kid, &found, &err);

		if (st == JWT_OK)
			FUZZ_CHECK(found >= set->keys && found < set->keys + set->nkeys,
					   "selected a key outside the set");
		else
			fuzz_check_error(&err, st);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	JwtKeySet	set;
	JwtError	err;
	JwtStatus	st;
	bool		is_secret;

	if (size < 1)
		return 0;
	is_secret = data[0] & 1;
	data++;
	size--;

	fuzz_input_begin();
	memset(&set, 0, sizeof(set));
	memset(&err, 0, sizeof(err));
	st = jwt_keyset_parse((const char *) data, size, is_secret, CurrentMemoryContext, &set, &err);
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "key of %zu bytes (is_secret %d): %s %s (%d keys)\n", size, is_secret,
				st == JWT_OK ? "ok" : err.message, st == JWT_OK ? "" : err.detail, set.nkeys);
	if (st == JWT_OK)
	{
		FUZZ_CHECK(set.nkeys >= 1 && set.keys != NULL, "OK with %d keys", set.nkeys);
		FUZZ_CHECK(set.is_jwks || set.nkeys == 1, "a single key with %d keys", set.nkeys);
		for (int i = 0; i < set.nkeys; i++)
			check_key(&set, &set.keys[i]);
	}
	else
	{
		fuzz_check_error(&err, st);
		FUZZ_CHECK(st == JWT_ERR_KEY || st == JWT_ERR_LIMIT || st == JWT_ERR_INTERNAL,
				   "key parse gave token status %d: %s",
				   (int) st, err.message);
		/* a bad key is the caller's mistake (22023), not an internal error (XX000) */
		if (st == JWT_ERR_INTERNAL && getenv("FUZZ_KEY_STRICT") != NULL)
			FUZZ_CHECK(false, "key parse gave JWT_ERR_INTERNAL: %s", err.message);
		if (st == JWT_ERR_INTERNAL)
		{
			static int said;

			if (said++ < 3)
				fprintf(stderr, "fuzz_key: note: JWT_ERR_INTERNAL for a bad key: %s\n", err.message);
		}
	}
	jwt_keyset_free(&set);
	FUZZ_CHECK(set.nkeys == 0, "keyset_free left %d keys", set.nkeys);
	fuzz_input_end();
	return 0;
}
