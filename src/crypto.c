/*
 * crypto.c - JWS signature algorithms over OpenSSL 3 EVP
 *
 * The algorithm comes from the caller or the key, never from the token alone:
 * jwt_key_check_alg() is the single place that decides whether a key may be
 * used with an algorithm.  Every OpenSSL object made here is freed before
 * returning, on every path; the error queue is cleared around each sequence
 * because the backend shares it with its SSL connection.
 */
#include "postgres.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/ec.h>

#include "crypto.h"

typedef struct JwtAlgInfo
{
	const char *name;
	JwtKeyType	keytype;
	const char *digest;			/* NULL for EdDSA */
	int			hash_len;
	bool		pss;
	int			ec_coord_len;	/* ES*: bytes of r and of s */
} JwtAlgInfo;

static const JwtAlgInfo alg_table[JWT_ALG_COUNT] = {
	[JWT_ALG_HS256] = {"HS256", JWT_KEY_HMAC, "SHA256", 32, false, 0},
	[JWT_ALG_HS384] = {"HS384", JWT_KEY_HMAC, "SHA384", 48, false, 0},
	[JWT_ALG_HS512] = {"HS512", JWT_KEY_HMAC, "SHA512", 64, false, 0},
	[JWT_ALG_RS256] = {"RS256", JWT_KEY_RSA, "SHA256", 32, false, 0},
	[JWT_ALG_RS384] = {"RS384", JWT_KEY_RSA, "SHA384", 48, false, 0},
	[JWT_ALG_RS512] = {"RS512", JWT_KEY_RSA, "SHA512", 64, false, 0},
	[JWT_ALG_PS256] = {"PS256", JWT_KEY_RSA, "SHA256", 32, true, 0},
	[JWT_ALG_PS384] = {"PS384", JWT_KEY_RSA, "SHA384", 48, true, 0},
	[JWT_ALG_PS512] = {"PS512", JWT_KEY_RSA, "SHA512", 64, true, 0},
	[JWT_ALG_ES256] = {"ES256", JWT_KEY_EC, "SHA256", 32, false, 32},
	[JWT_ALG_ES384] = {"ES384", JWT_KEY_EC, "SHA384", 48, false, 48},
	[JWT_ALG_ES512] = {"ES512", JWT_KEY_EC, "SHA512", 64, false, 66},
	[JWT_ALG_EDDSA] = {"EdDSA", JWT_KEY_OKP, NULL, 0, false, 0},
	[JWT_ALG_ED25519] = {"Ed25519", JWT_KEY_OKP, NULL, 0, false, 0},
	[JWT_ALG_ED448] = {"Ed448", JWT_KEY_OKP, NULL, 0, false, 0},
};

/* Fetched once per backend: implicit fetches cost a lookup per call. */
static EVP_MD *md_cache[JWT_ALG_COUNT];
static EVP_MAC *hmac_cache;

#define RSA_MIN_BITS 2048

/* Exact, case-sensitive name lookup; "none" and anything unknown give JWT_ALG_NONE. */
JwtAlg
jwt_alg_from_name(const char *name, size_t len)
{
	for (int a = 0; a < JWT_ALG_COUNT; a++)
		if (strlen(alg_table[a].name) == len && memcmp(alg_table[a].name, name, len) == 0)
			return (JwtAlg) a;
	return JWT_ALG_NONE;
}

const char *
jwt_alg_name(JwtAlg alg)
{
	return (alg >= 0 && alg < JWT_ALG_COUNT) ? alg_table[alg].name : "none";
}

/* The JWK "kty" of a key. */
const char *
jwt_key_type_name(const JwtKey *key)
{
	switch (key->type)
	{
		case JWT_KEY_HMAC:
			return "oct";
		case JWT_KEY_RSA:
			return "RSA";
		case JWT_KEY_EC:
			return "EC";
		default:
			return "OKP";
	}
}

/* Equal bytes, compared in time that does not depend on where they differ. */
bool
jwt_equal_const_time(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

int
jwt_hmac_min_secret(JwtAlg alg)
{
	return alg_table[alg].hash_len;
}

/* The algorithms a key's type admits (a JWK "alg" narrows it to one). */
JwtAlgSet
jwt_key_admitted_algs(const JwtKey *key)
{
	JwtAlgSet	set = 0;

	switch (key->type)
	{
		case JWT_KEY_HMAC:
			/* only the HS algorithms the secret is long enough for */
			for (JwtAlg a = JWT_ALG_HS256; a <= JWT_ALG_HS512; a++)
				if (key->secret_len >= alg_table[a].hash_len)
					set |= JWT_ALG_BIT(a);
			break;
		case JWT_KEY_RSA:
			for (JwtAlg a = JWT_ALG_RS256; a <= JWT_ALG_PS512; a++)
				set |= JWT_ALG_BIT(a);
			break;
		case JWT_KEY_EC:
			set = JWT_ALG_BIT(key->curve_alg);
			break;
		case JWT_KEY_OKP:
			/* EdDSA, or the name of the key's own curve (RFC 9864) */
			set = JWT_ALG_BIT(key->curve_alg) | JWT_ALG_BIT(key->okp_alg);
			break;
	}
	if (key->jwk_alg != JWT_ALG_NONE)
		set &= JWT_ALG_BIT(key->jwk_alg);
	return set;
}

JwtAlg
jwt_key_default_alg(const JwtKey *key)
{
	if (key->jwk_alg != JWT_ALG_NONE)
		return key->jwk_alg;
	switch (key->type)
	{
		case JWT_KEY_HMAC:
			return JWT_ALG_HS256;
		case JWT_KEY_RSA:
			return JWT_ALG_RS256;
		default:
			return key->curve_alg;
	}
}

/* May this key be used with this algorithm? */
JwtStatus
jwt_key_check_alg(const JwtKey *key, JwtAlg alg, JwtError *err)
{
	if (alg_table[alg].keytype != key->type)
		return jwt_fail(err, JWT_ERR_ALGORITHM,
						"algorithm \"%s\" is not allowed for this key", jwt_alg_name(alg));
	if (key->type == JWT_KEY_HMAC && key->secret_len < alg_table[alg].hash_len)
	{
		jwt_fail(err, JWT_ERR_KEY, "HMAC key is too short for %s", jwt_alg_name(alg));
		jwt_fail_detail(err, "%s needs a secret of at least %d bytes (RFC 7518 section 3.2).",
						jwt_alg_name(alg), alg_table[alg].hash_len);
		return JWT_ERR_KEY;
	}
	if ((key->type == JWT_KEY_EC && key->curve_alg != alg) ||
		(key->type == JWT_KEY_OKP && key->curve_alg != alg && key->okp_alg != alg))
		return jwt_fail(err, JWT_ERR_ALGORITHM,
						"algorithm \"%s\" is not allowed for this key", jwt_alg_name(alg));
	if (key->jwk_alg != JWT_ALG_NONE && key->jwk_alg != alg)
	{
		jwt_fail(err, JWT_ERR_ALGORITHM,
				 "algorithm \"%s\" is not allowed for this key", jwt_alg_name(alg));
		jwt_fail_detail(err, "The key's JWK \"alg\" is \"%s\".", jwt_alg_name(key->jwk_alg));
		return JWT_ERR_ALGORITHM;
	}
	return JWT_OK;
}

static const EVP_MD *
alg_md(JwtAlg alg)
{
	if (alg_table[alg].digest == NULL)
		return NULL;
	if (md_cache[alg] == NULL)
		md_cache[alg] = EVP_MD_fetch(NULL, alg_table[alg].digest, NULL);
	return md_cache[alg];
}

int
jwt_signature_max_len(const JwtKey *key)
{
	if (key->type == JWT_KEY_HMAC)
		return EVP_MAX_MD_SIZE;
	/* EVP_PKEY_get_size bounds DER ECDSA too, which exceeds raw R||S */
	return EVP_PKEY_get_size(key->pkey);
}

/* The key's cached HMAC context for alg, re-initialised for a new message. */
static EVP_MAC_CTX *
hmac_context(JwtKey *key, JwtAlg alg)
{
	int			slot = alg - JWT_ALG_HS256;
	EVP_MAC_CTX *ctx = key->mac[slot];

	if (ctx == NULL)
	{
		OSSL_PARAM	params[2];

		if (hmac_cache == NULL && (hmac_cache = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
			return NULL;
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
													 unconstify(char *, alg_table[alg].digest), 0);
		params[1] = OSSL_PARAM_construct_end();
		ctx = EVP_MAC_CTX_new(hmac_cache);
		if (ctx == NULL)
			return NULL;
		if (!EVP_MAC_init(ctx, key->secret, key->secret_len, params))
		{
			EVP_MAC_CTX_free(ctx);
			return NULL;
		}
		key->mac[slot] = ctx;
		return ctx;
	}
	/* a NULL key keeps the one set above and restarts the MAC */
	if (!EVP_MAC_init(ctx, NULL, 0, NULL))
		return NULL;
	return ctx;
}

static bool
hmac_compute(JwtKey *key, JwtAlg alg, const char *input, size_t len,
			 unsigned char *mac, size_t *maclen)
{
	EVP_MAC_CTX *ctx = hmac_context(key, alg);

	return ctx != NULL &&
		EVP_MAC_update(ctx, (const unsigned char *) input, len) &&
		EVP_MAC_final(ctx, mac, maclen, EVP_MAX_MD_SIZE);
}

/* An EVP_MD_CTX for EdDSA, which signs the message itself (no digest). */
static EVP_MD_CTX *
eddsa_context(JwtKey *key, bool sign)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();

	if (mctx == NULL)
		return NULL;
	if ((sign
		 ? EVP_DigestSignInit(mctx, NULL, NULL, NULL, key->pkey)
		 : EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, key->pkey)) <= 0)
	{
		EVP_MD_CTX_free(mctx);
		return NULL;
	}
	return mctx;
}

/*
 * The key's cached signing or verification context for alg (RSA and ECDSA).
 * The input is hashed separately and the context signs or verifies the
 * digest: setting up EVP_DigestVerifyInit (fetches, provider contexts,
 * padding) on every call cost more than a tenth of an RS256 verification.
 */
static EVP_PKEY_CTX *
pkey_context(JwtKey *key, JwtAlg alg, bool sign)
{
	EVP_PKEY_CTX **slot = sign ? &key->sign_ctx[alg] : &key->verify_ctx[alg];
	EVP_PKEY_CTX *pctx = *slot;
	const EVP_MD *md = alg_md(alg);
	bool		ok;

	if (pctx != NULL)
		return pctx;
	if (md == NULL || (pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL)) == NULL)
		return NULL;
	ok = (sign ? EVP_PKEY_sign_init(pctx) : EVP_PKEY_verify_init(pctx)) > 0;
	if (ok && key->type == JWT_KEY_RSA)
	{
		if (alg_table[alg].pss)
			ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
				EVP_PKEY_CTX_set_signature_md(pctx, md) > 0 &&
				EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0 &&
				EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0;
		else
			ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0 &&
				EVP_PKEY_CTX_set_signature_md(pctx, md) > 0;
	}
	else if (ok)
		ok = EVP_PKEY_CTX_set_signature_md(pctx, md) > 0;
	if (!ok)
	{
		EVP_PKEY_CTX_free(pctx);
		return NULL;
	}
	*slot = pctx;
	return pctx;
}

/* The digest of the signing input, with one context reused by the backend. */
static bool
digest_input(JwtAlg alg, const char *input, size_t len, unsigned char *dgst, unsigned int *dlen)
{
	static EVP_MD_CTX *dctx = NULL;

	if (dctx == NULL && (dctx = EVP_MD_CTX_new()) == NULL)
		return false;
	return EVP_DigestInit_ex(dctx, alg_md(alg), NULL) &&
		EVP_DigestUpdate(dctx, input, len) &&
		EVP_DigestFinal_ex(dctx, dgst, dlen);
}

/* DER ECDSA-Sig-Value to JWS's fixed-length big-endian r || s. */
static bool
ecdsa_der_to_raw(const unsigned char *der, size_t derlen, int coord_len, unsigned char *raw)
{
	const unsigned char *p = der;
	ECDSA_SIG  *esig = d2i_ECDSA_SIG(NULL, &p, (long) derlen);
	const BIGNUM *r,
			   *s;
	bool		ok;

	if (esig == NULL)
		return false;
	ECDSA_SIG_get0(esig, &r, &s);
	ok = BN_bn2binpad(r, raw, coord_len) == coord_len &&
		BN_bn2binpad(s, raw + coord_len, coord_len) == coord_len;
	ECDSA_SIG_free(esig);
	return ok;
}

/*
 * JWS's r || s to DER.  Zero r or s (the "psychic signature") is refused here;
 * OpenSSL's verify refuses values at or above the group order.
 */
static unsigned char *
ecdsa_raw_to_der(const unsigned char *raw, int coord_len, int *derlen)
{
	ECDSA_SIG  *esig = ECDSA_SIG_new();
	BIGNUM	   *r = BN_bin2bn(raw, coord_len, NULL);
	BIGNUM	   *s = BN_bin2bn(raw + coord_len, coord_len, NULL);
	unsigned char *der = NULL;

	if (esig == NULL || r == NULL || s == NULL || BN_is_zero(r) || BN_is_zero(s) ||
		!ECDSA_SIG_set0(esig, r, s))
	{
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(esig);
		return NULL;
	}
	/* esig owns r and s now */
	*derlen = i2d_ECDSA_SIG(esig, &der);
	ECDSA_SIG_free(esig);
	if (*derlen <= 0)
		return NULL;
	return der;
}

JwtStatus
jwt_sign_input(JwtKey *key, JwtAlg alg, const char *input, size_t len,
			   unsigned char *sig, size_t *siglen, JwtError *err)
{
	EVP_MD_CTX *mctx;
	bool		ok;

	if (!key->has_private)
		return jwt_fail(err, JWT_ERR_KEY, "a public key cannot sign");
	if ((key->key_ops & JWT_KEYOP_LISTED) && !(key->key_ops & JWT_KEYOP_SIGN))
		return jwt_fail(err, JWT_ERR_ALGORITHM, "the key's JWK \"key_ops\" does not allow \"sign\"");

	/*
	 * A successful HMAC leaves no error behind; the queue is cleared after a
	 * failure only (nothing here reads it, and a stale entry must not reach
	 * the backend's SSL code).
	 */
	if (key->type == JWT_KEY_HMAC)
	{
		if (hmac_compute(key, alg, input, len, sig, siglen))
			return JWT_OK;
		ERR_clear_error();
		return jwt_fail(err, JWT_ERR_INTERNAL, "HMAC computation failed");
	}
	ERR_clear_error();

	*siglen = jwt_signature_max_len(key);
	if (key->type == JWT_KEY_RSA || key->type == JWT_KEY_EC)
	{
		EVP_PKEY_CTX *pctx = pkey_context(key, alg, true);
		unsigned char dgst[EVP_MAX_MD_SIZE];
		unsigned int dlen;

		if (pctx == NULL || !digest_input(alg, input, len, dgst, &dlen))
		{
			ERR_clear_error();
			return jwt_fail(err, JWT_ERR_INTERNAL, "could not set up signing for %s", jwt_alg_name(alg));
		}
		ok = EVP_PKEY_sign(pctx, sig, siglen, dgst, dlen) > 0;
	}
	else
	{
		/* EdDSA signs the message itself, not a digest */
		mctx = eddsa_context(key, true);
		if (mctx == NULL)
		{
			ERR_clear_error();
			return jwt_fail(err, JWT_ERR_INTERNAL, "could not set up signing for %s", jwt_alg_name(alg));
		}
		ok = EVP_DigestSign(mctx, sig, siglen, (const unsigned char *) input, len) > 0;
		EVP_MD_CTX_free(mctx);
	}

	if (ok && key->type == JWT_KEY_EC)
	{
		int			coord = alg_table[alg].ec_coord_len;
		unsigned char raw[2 * 66];

		ok = ecdsa_der_to_raw(sig, *siglen, coord, raw);
		if (ok)
		{
			memcpy(sig, raw, 2 * coord);
			*siglen = 2 * coord;
		}
	}
	ERR_clear_error();
	return ok ? JWT_OK : jwt_fail(err, JWT_ERR_INTERNAL, "signing with %s failed", jwt_alg_name(alg));
}

JwtStatus
jwt_verify_input(JwtKey *key, JwtAlg alg, const char *input, size_t len,
				 const unsigned char *sig, size_t siglen, JwtError *err)
{
	EVP_MD_CTX *mctx;
	unsigned char *der = NULL;
	int			derlen = 0;
	bool		ok;

	/* RFC 7517 section 4.3: a key listing its operations does only those */
	if ((key->key_ops & JWT_KEYOP_LISTED) && !(key->key_ops & JWT_KEYOP_VERIFY))
		return jwt_fail(err, JWT_ERR_ALGORITHM, "the key's JWK \"key_ops\" does not allow \"verify\"");

	if (key->type == JWT_KEY_HMAC)
	{
		unsigned char mac[EVP_MAX_MD_SIZE];
		size_t		maclen;

		if (!hmac_compute(key, alg, input, len, mac, &maclen))
		{
			ERR_clear_error();
			return jwt_fail(err, JWT_ERR_INTERNAL, "HMAC computation failed");
		}
		ok = maclen == siglen && CRYPTO_memcmp(mac, sig, maclen) == 0;
		OPENSSL_cleanse(mac, sizeof(mac));
		return ok ? JWT_OK : jwt_fail(err, JWT_ERR_SIGNATURE, "token signature is invalid");
	}
	ERR_clear_error();

	/* Lengths are fixed by the algorithm and key: anything else is forged. */
	if (key->type == JWT_KEY_EC)
	{
		int			coord = alg_table[alg].ec_coord_len;

		if (siglen != (size_t) (2 * coord) ||
			(der = ecdsa_raw_to_der(sig, coord, &derlen)) == NULL)
		{
			ERR_clear_error();
			return jwt_fail(err, JWT_ERR_SIGNATURE, "token signature is invalid");
		}
	}
	else if (key->type == JWT_KEY_RSA && siglen != (size_t) EVP_PKEY_get_size(key->pkey))
		return jwt_fail(err, JWT_ERR_SIGNATURE, "token signature is invalid");

	if (key->type == JWT_KEY_RSA || key->type == JWT_KEY_EC)
	{
		EVP_PKEY_CTX *pctx = pkey_context(key, alg, false);
		unsigned char dgst[EVP_MAX_MD_SIZE];
		unsigned int dlen;

		if (pctx == NULL || !digest_input(alg, input, len, dgst, &dlen))
		{
			OPENSSL_free(der);
			ERR_clear_error();
			return jwt_fail(err, JWT_ERR_INTERNAL, "could not set up verification for %s",
							jwt_alg_name(alg));
		}
		if (der != NULL)
			ok = EVP_PKEY_verify(pctx, der, derlen, dgst, dlen) == 1;
		else
			ok = EVP_PKEY_verify(pctx, sig, siglen, dgst, dlen) == 1;
		OPENSSL_free(der);
		ERR_clear_error();
		return ok ? JWT_OK : jwt_fail(err, JWT_ERR_SIGNATURE, "token signature is invalid");
	}

	/* EdDSA signs the message itself, not a digest */
	mctx = eddsa_context(key, false);
	if (mctx == NULL)
	{
		OPENSSL_free(der);
		ERR_clear_error();
		return jwt_fail(err, JWT_ERR_INTERNAL, "could not set up verification for %s",
						jwt_alg_name(alg));
	}
	ok = EVP_DigestVerify(mctx, sig, siglen, (const unsigned char *) input, len) == 1;
	EVP_MD_CTX_free(mctx);
	OPENSSL_free(der);
	ERR_clear_error();
	return ok ? JWT_OK : jwt_fail(err, JWT_ERR_SIGNATURE, "token signature is invalid");
}

bool
jwt_sha256(const void *data, size_t len, unsigned char *out)
{
	unsigned int out_len = 0;

	return EVP_Digest(data, len, out, &out_len, EVP_sha256(), NULL) == 1 && out_len == 32;
}
