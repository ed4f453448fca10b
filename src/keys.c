/*
 * keys.c - parsing keys: PEM, JWK, JWKS and HMAC secrets
 *
 * A string that looks like PEM or JSON is parsed as a key or refused: it is
 * never an HMAC secret, which is what stops RS/HS key confusion.  Every key is
 * checked once here (type, curve, size, point on the curve, private part
 * matching public part) so that signing and verifying need not.
 */
#include "postgres.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "utils/memutils.h"

#include "b64url.h"
#include "crypto.h"
#include "json_strict.h"

#define RSA_MIN_BITS 2048
#define HMAC_MIN_SECRET 32

typedef struct CurveInfo
{
	const char *jwk_name;		/* JWK "crv" */
	const char *ossl_name;		/* OpenSSL group or key type name */
	int			coord_len;		/* EC coordinate, or OKP key, length */
	JwtAlg		alg;
} CurveInfo;

static const CurveInfo ec_curves[] = {
	{"P-256", "prime256v1", 32, JWT_ALG_ES256},
	{"P-384", "secp384r1", 48, JWT_ALG_ES384},
	{"P-521", "secp521r1", 66, JWT_ALG_ES512},
};

static const CurveInfo okp_curves[] = {
	{"Ed25519", "ED25519", 32, JWT_ALG_EDDSA},
	{"Ed448", "ED448", 57, JWT_ALG_EDDSA},
};

/* An empty key: no type yet, no algorithm pinned. */
void
jwt_key_init(JwtKey *key)
{
	memset(key, 0, sizeof(*key));
	key->jwk_alg = JWT_ALG_NONE;
	key->curve_alg = JWT_ALG_NONE;
	key->okp_alg = JWT_ALG_NONE;
}

static void
key_free(JwtKey *key)
{
	EVP_PKEY_free(key->pkey);
	key->pkey = NULL;
	for (int i = 0; i < 3; i++)
	{
		EVP_MAC_CTX_free(key->mac[i]);
		key->mac[i] = NULL;
	}
	for (int i = 0; i < JWT_ALG_COUNT; i++)
	{
		EVP_PKEY_CTX_free(key->verify_ctx[i]);
		key->verify_ctx[i] = NULL;
		EVP_PKEY_CTX_free(key->sign_ctx[i]);
		key->sign_ctx[i] = NULL;
	}
	if (key->secret)
	{
		OPENSSL_cleanse(key->secret, key->secret_len);
		pfree(key->secret);
		key->secret = NULL;
	}
}

/* Free the OpenSSL objects and wipe the secrets of a key set. */
void
jwt_keyset_free(JwtKeySet *set)
{
	if (set == NULL)
		return;
	for (int i = 0; i < set->nkeys; i++)
		key_free(&set->keys[i]);
	set->nkeys = 0;
}

static JwtStatus
set_hmac_secret(JwtKey *key, const unsigned char *secret, size_t len,
				MemoryContext keep, JwtError *err)
{
	if (len < HMAC_MIN_SECRET)
	{
		jwt_fail(err, JWT_ERR_KEY, "HMAC key is too short");
		jwt_fail_detail(err, "HMAC secrets need at least %d bytes (RFC 7518 section 3.2); this one has %zu.",
						HMAC_MIN_SECRET, len);
		return JWT_ERR_KEY;
	}
	jwt_key_set_hmac_secret(key, secret, len, keep);
	return JWT_OK;
}

/*
 * Make an initialised key an HMAC key for secret, copied into keep, without
 * the length rule (the pgjwt drop-in accepts any secret, as pgjwt does).
 */
void
jwt_key_set_hmac_secret(JwtKey *key, const unsigned char *secret, size_t len, MemoryContext keep)
{
	key->type = JWT_KEY_HMAC;
	key->secret = MemoryContextAlloc(keep, Max(len, 1));
	memcpy(key->secret, secret, len);
	key->secret_len = (int) len;
	key->has_private = true;
}

/*
 * Record the type of an OpenSSL key, refuse what JWS cannot use or what is
 * too weak, and check that the key is consistent.  Takes ownership of pkey.
 */
static JwtStatus
adopt_pkey(JwtKey *key, EVP_PKEY *pkey, bool has_private, bool check_pair, JwtError *err)
{
	EVP_PKEY_CTX *cctx;
	bool		consistent;

	key->pkey = pkey;
	key->has_private = has_private;
	switch (EVP_PKEY_get_base_id(pkey))
	{
		case EVP_PKEY_RSA:
			key->type = JWT_KEY_RSA;
			key->bits = EVP_PKEY_get_bits(pkey);
			if (key->bits < RSA_MIN_BITS)
			{
				jwt_fail(err, JWT_ERR_KEY, "RSA key is too short");
				jwt_fail_detail(err, "RSA keys need at least %d bits (RFC 7518 section 3.3); this one has %d.",
								RSA_MIN_BITS, key->bits);
				return JWT_ERR_KEY;
			}
			break;
		case EVP_PKEY_EC:
			{
				char		group[64];

				key->type = JWT_KEY_EC;
				if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
													group, sizeof(group), NULL))
					return jwt_fail(err, JWT_ERR_KEY,
									"EC keys with explicit curve parameters are not supported");
				for (size_t i = 0; i < lengthof(ec_curves); i++)
					if (strcmp(group, ec_curves[i].ossl_name) == 0)
						key->curve_alg = ec_curves[i].alg;
				if (key->curve_alg == JWT_ALG_NONE)
				{
					jwt_fail(err, JWT_ERR_KEY, "unsupported elliptic curve \"%s\"", group);
					jwt_fail_detail(err, "JWS uses P-256, P-384 and P-521.");
					return JWT_ERR_KEY;
				}
				break;
			}
		case EVP_PKEY_ED25519:
		case EVP_PKEY_ED448:
			key->type = JWT_KEY_OKP;
			key->curve_alg = JWT_ALG_EDDSA;
			key->okp_alg = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519 ? JWT_ALG_ED25519 : JWT_ALG_ED448;
			break;
		case EVP_PKEY_RSA_PSS:
			return jwt_fail(err, JWT_ERR_KEY,
							"RSA-PSS restricted keys are not supported; use a plain RSA key for PS256/384/512");
		default:
			return jwt_fail(err, JWT_ERR_KEY, "unsupported key type");
	}

	/* On-curve points, sane RSA moduli, and a private part matching the public one. */
	cctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (cctx == NULL)
		return jwt_fail(err, JWT_ERR_INTERNAL, "could not check the key");
	consistent = EVP_PKEY_public_check(cctx) == 1 &&
		(!check_pair || EVP_PKEY_pairwise_check(cctx) == 1);
	EVP_PKEY_CTX_free(cctx);
	ERR_clear_error();
	if (!consistent)
		return jwt_fail(err, JWT_ERR_KEY, "key is invalid");
	return JWT_OK;
}

/* ---------- PEM ---------- */

static const char *
find_bytes(const char *hay, size_t haylen, const char *needle)
{
	size_t		nlen = strlen(needle);

	for (size_t i = 0; i + nlen <= haylen; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, nlen) == 0)
			return hay + i;
	return NULL;
}

static bool
label_is(const char *label, size_t len, const char *name)
{
	return strlen(name) == len && memcmp(label, name, len) == 0;
}

static JwtStatus
parse_pem(const char *text, size_t len, JwtKey *key, JwtError *err)
{
	const char *end = text + len;
	const char *block = text;
	const char *label = NULL;
	size_t		label_len = 0;
	bool		is_private = false;
	bool		is_cert = false;
	EVP_PKEY   *pkey = NULL;

	/* The first key block; "EC PARAMETERS" may precede an EC key. */
	while ((block = find_bytes(block, end - block, "-----BEGIN ")) != NULL)
	{
		const char *stop;

		label = block + strlen("-----BEGIN ");
		stop = find_bytes(label, end - label, "-----");
		if (stop == NULL)
			return jwt_fail(err, JWT_ERR_KEY, "invalid PEM key");
		label_len = stop - label;
		if (!label_is(label, label_len, "EC PARAMETERS"))
			break;
		block = stop;
	}
	if (block == NULL)
		return jwt_fail(err, JWT_ERR_KEY, "invalid PEM key");

	if (label_is(label, label_len, "PRIVATE KEY") ||
		label_is(label, label_len, "RSA PRIVATE KEY") ||
		label_is(label, label_len, "EC PRIVATE KEY"))
		is_private = true;
	else if (label_is(label, label_len, "CERTIFICATE"))
		is_cert = true;
	else if (!label_is(label, label_len, "PUBLIC KEY") &&
			 !label_is(label, label_len, "RSA PUBLIC KEY"))
	{
		if (label_is(label, label_len, "ENCRYPTED PRIVATE KEY"))
			return jwt_fail(err, JWT_ERR_KEY, "encrypted PEM keys are not supported");
	{
		char		name[41];
		char		buf[48];

		memcpy(name, label, Min(label_len, 40));
		name[Min(label_len, 40)] = '\0';
		return jwt_fail(err, JWT_ERR_KEY, "unsupported PEM block \"%s\"",
						jwt_printable(name, buf, sizeof(buf)));
	}
	}
	if (find_bytes(block, end - block, "ENCRYPTED") != NULL)
		return jwt_fail(err, JWT_ERR_KEY, "encrypted PEM keys are not supported");

	ERR_clear_error();
	if (is_cert)
	{
		BIO		   *bio = BIO_new_mem_buf(block, (int) (end - block));
		X509	   *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

		if (cert != NULL)
			pkey = X509_get_pubkey(cert);
		X509_free(cert);
		BIO_free(bio);
	}
	else
	{
		const unsigned char *data = (const unsigned char *) block;
		size_t		datalen = end - block;
		OSSL_DECODER_CTX *dctx;

		dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL,
											 is_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
											 NULL, NULL);
		/* an empty passphrase: never prompt on the server's terminal */
		if (dctx == NULL ||
			!OSSL_DECODER_CTX_set_passphrase(dctx, (const unsigned char *) "", 0) ||
			!OSSL_DECODER_from_data(dctx, &data, &datalen))
		{
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
		OSSL_DECODER_CTX_free(dctx);
	}
	ERR_clear_error();
	if (pkey == NULL)
		return jwt_fail(err, JWT_ERR_KEY, "invalid PEM key");
	return adopt_pkey(key, pkey, is_private, is_private, err);
}

/* ---------- JWK ---------- */

/* A member that must be a string when present. */
static JwtStatus
jwk_string(const JsonDoc *doc, const char *name, bool required, const char **value, JwtError *err)
{
	const JsonMember *m = json_doc_get(doc, name);

	*value = NULL;
	if (m == NULL)
		return required ? jwt_fail(err, JWT_ERR_KEY, "JWK is missing \"%s\"", name) : JWT_OK;
	if (m->value.kind != JK_STRING)
		return jwt_fail(err, JWT_ERR_KEY, "JWK member \"%s\" must be a string", name);
	*value = m->value.str;
	return JWT_OK;
}

/* A base64url member decoded into palloc'd bytes (exact_len > 0: that length). */
static JwtStatus
jwk_bytes(const JsonDoc *doc, const char *name, bool required, int exact_len,
		  unsigned char **out, size_t *outlen, JwtError *err)
{
	const char *s;
	JwtStatus	st;

	*out = NULL;
	*outlen = 0;
	if ((st = jwk_string(doc, name, required, &s, err)) != JWT_OK || s == NULL)
		return st;
	*out = palloc(B64URL_DECODED_MAX(strlen(s)) + 1);
	if (!b64url_decode(s, strlen(s), *out, outlen) || *outlen == 0)
		return jwt_fail(err, JWT_ERR_KEY, "JWK member \"%s\" is not valid base64url", name);
	if (exact_len > 0 && *outlen != (size_t) exact_len)
	{
		unsigned char *padded;

		if (*outlen > (size_t) exact_len)
		{
			jwt_fail(err, JWT_ERR_KEY, "JWK member \"%s\" is too long for its curve", name);
			jwt_fail_detail(err, "It must be %d bytes (RFC 7518 section 6.2.1.2).", exact_len);
			return JWT_ERR_KEY;
		}
		/*
		 * RFC 7518 wants full-length coordinates, but some libraries (PyJWT
		 * among them) drop leading zero bytes; the value is the same number.
		 */
		padded = palloc0(exact_len);
		memcpy(padded + exact_len - *outlen, *out, *outlen);
		OPENSSL_cleanse(*out, *outlen);
		pfree(*out);
		*out = padded;
		*outlen = exact_len;
	}
	return JWT_OK;
}

static void
wipe_bytes(unsigned char *buf, size_t len)
{
	if (buf)
	{
		OPENSSL_cleanse(buf, len);
		pfree(buf);
	}
}

/* Build an EVP_PKEY of type name from parameters; NULL on failure. */
static EVP_PKEY *
pkey_from_params(const char *type, OSSL_PARAM_BLD *bld, bool is_private)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY   *pkey = NULL;

	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
		EVP_PKEY_fromdata(ctx, &pkey, is_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
						  params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static JwtStatus
jwk_rsa(const JsonDoc *doc, JwtKey *key, JwtError *err)
{
	static const char *const names[] = {"n", "e", "d", "p", "q", "dp", "dq", "qi"};
	static const char *const params[] = {
		OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
		OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
		OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
		OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
	unsigned char *bytes[8] = {0};
	size_t		lens[8] = {0};
	BIGNUM	   *bns[8] = {0};
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY   *pkey = NULL;
	JwtStatus	st = JWT_OK;
	int			nfactors = 0;
	bool		is_private;

	if (json_doc_get(doc, "oth") != NULL)
		return jwt_fail(err, JWT_ERR_KEY, "multi-prime RSA keys are not supported");
	for (int i = 0; i < 8 && st == JWT_OK; i++)
		st = jwk_bytes(doc, names[i], i < 2, 0, &bytes[i], &lens[i], err);
	if (st != JWT_OK)
		goto done;
	is_private = bytes[2] != NULL;
	for (int i = 3; i < 8; i++)
		nfactors += bytes[i] != NULL;
	if (nfactors != 0 && (nfactors != 5 || !is_private))
	{
		st = jwt_fail(err, JWT_ERR_KEY, "JWK has some but not all RSA private factors");
		goto done;
	}

	/*
	 * Without p and q nothing can check that d belongs to n and e: such a key
	 * would sign tokens that never verify.  Every real private JWK has them.
	 */
	if (is_private && nfactors == 0)
	{
		st = jwt_fail(err, JWT_ERR_KEY, "private RSA JWK needs its factors p, q, dp, dq and qi");
		goto done;
	}

	bld = OSSL_PARAM_BLD_new();
	for (int i = 0; i < 8; i++)
	{
		if (bytes[i] == NULL)
			continue;
		bns[i] = BN_bin2bn(bytes[i], (int) lens[i], NULL);
		if (bld == NULL || bns[i] == NULL || !OSSL_PARAM_BLD_push_BN(bld, params[i], bns[i]))
		{
			st = jwt_fail(err, JWT_ERR_INTERNAL, "could not build the RSA key");
			goto done;
		}
	}
	pkey = pkey_from_params("RSA", bld, is_private);
	if (pkey == NULL)
		st = jwt_fail(err, JWT_ERR_KEY, "JWK is not a valid RSA key");
	else
		st = adopt_pkey(key, pkey, is_private, is_private, err);

done:
	OSSL_PARAM_BLD_free(bld);
	for (int i = 0; i < 8; i++)
	{
		BN_clear_free(bns[i]);
		wipe_bytes(bytes[i], lens[i]);
	}
	ERR_clear_error();
	return st;
}

static const CurveInfo *
find_curve(const CurveInfo *curves, size_t n, const char *crv)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(curves[i].jwk_name, crv) == 0)
			return &curves[i];
	return NULL;
}

static JwtStatus
jwk_ec(const JsonDoc *doc, JwtKey *key, JwtError *err)
{
	char		pbuf[48];
	const char *crv;
	const CurveInfo *curve;
	unsigned char *x = NULL,
			   *y = NULL,
			   *d = NULL,
			   *point = NULL;
	size_t		xlen,
				ylen,
				dlen = 0;
	BIGNUM	   *dbn = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY   *pkey;
	JwtStatus	st;

	if ((st = jwk_string(doc, "crv", true, &crv, err)) != JWT_OK)
		return st;
	curve = find_curve(ec_curves, lengthof(ec_curves), crv);
	if (curve == NULL)
	{
		jwt_fail(err, JWT_ERR_KEY, "unsupported elliptic curve \"%s\"", jwt_printable(crv, pbuf, sizeof(pbuf)));
		jwt_fail_detail(err, "JWS uses P-256, P-384 and P-521.");
		return JWT_ERR_KEY;
	}
	if ((st = jwk_bytes(doc, "x", true, curve->coord_len, &x, &xlen, err)) != JWT_OK ||
		(st = jwk_bytes(doc, "y", true, curve->coord_len, &y, &ylen, err)) != JWT_OK ||
		(st = jwk_bytes(doc, "d", false, curve->coord_len, &d, &dlen, err)) != JWT_OK)
		goto done;

	/* uncompressed point: 0x04 || x || y */
	point = palloc(1 + 2 * curve->coord_len);
	point[0] = 0x04;
	memcpy(point + 1, x, xlen);
	memcpy(point + 1 + xlen, y, ylen);

	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
		!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve->ossl_name, 0) ||
		!OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * curve->coord_len) ||
		(d != NULL && ((dbn = BN_bin2bn(d, (int) dlen, NULL)) == NULL ||
					   !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, dbn))))
	{
		st = jwt_fail(err, JWT_ERR_INTERNAL, "could not build the EC key");
		goto done;
	}
	pkey = pkey_from_params("EC", bld, d != NULL);
	if (pkey == NULL)
		st = jwt_fail(err, JWT_ERR_KEY, "JWK is not a valid EC key");
	else
		st = adopt_pkey(key, pkey, d != NULL, d != NULL, err);

done:
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(dbn);
	wipe_bytes(d, dlen);
	ERR_clear_error();
	return st;
}

static JwtStatus
jwk_okp(const JsonDoc *doc, JwtKey *key, JwtError *err)
{
	char		pbuf[48];
	const char *crv;
	const CurveInfo *curve;
	unsigned char *x = NULL,
			   *d = NULL;
	size_t		xlen,
				dlen = 0;
	EVP_PKEY   *pkey;
	JwtStatus	st;
	int			type;

	if ((st = jwk_string(doc, "crv", true, &crv, err)) != JWT_OK)
		return st;
	curve = find_curve(okp_curves, lengthof(okp_curves), crv);
	if (curve == NULL)
	{
		jwt_fail(err, JWT_ERR_KEY, "unsupported OKP curve \"%s\"", jwt_printable(crv, pbuf, sizeof(pbuf)));
		jwt_fail_detail(err, "EdDSA uses Ed25519 and Ed448.");
		return JWT_ERR_KEY;
	}
	type = strcmp(curve->ossl_name, "ED25519") == 0 ? EVP_PKEY_ED25519 : EVP_PKEY_ED448;
	if ((st = jwk_bytes(doc, "x", true, curve->coord_len, &x, &xlen, err)) != JWT_OK ||
		(st = jwk_bytes(doc, "d", false, curve->coord_len, &d, &dlen, err)) != JWT_OK)
		goto done;

	ERR_clear_error();
	if (d != NULL)
	{
		unsigned char pub[57];
		size_t		publen = sizeof(pub);

		pkey = EVP_PKEY_new_raw_private_key(type, NULL, d, dlen);
		/* the public key derived from d must be the x the JWK states */
		if (pkey != NULL &&
			(!EVP_PKEY_get_raw_public_key(pkey, pub, &publen) ||
			 publen != xlen || memcmp(pub, x, xlen) != 0))
		{
			EVP_PKEY_free(pkey);
			st = jwt_fail(err, JWT_ERR_KEY, "key is invalid");
			jwt_fail_detail(err, "The JWK's \"x\" is not the public key of its \"d\".");
			goto done;
		}
	}
	else
		pkey = EVP_PKEY_new_raw_public_key(type, NULL, x, xlen);
	if (pkey == NULL)
		st = jwt_fail(err, JWT_ERR_KEY, "JWK is not a valid OKP key");
	else
		st = adopt_pkey(key, pkey, d != NULL, false, err);

done:
	wipe_bytes(d, dlen);
	ERR_clear_error();
	return st;
}

/*
 * One JWK object.  In a JWKS (in_set) keys for encryption are skipped:
 * providers publish them beside signing keys.  *skipped says so.
 */
static JwtStatus
parse_jwk(const JsonDoc *doc, bool in_set, MemoryContext keep, JwtKey *key,
		  bool *skipped, JwtError *err)
{
	char		pbuf[48];
	const char *kty,
			   *use,
			   *alg,
			   *kid;
	JwtStatus	st;

	*skipped = false;
	if ((st = jwk_string(doc, "kty", true, &kty, err)) != JWT_OK ||
		(st = jwk_string(doc, "use", false, &use, err)) != JWT_OK ||
		(st = jwk_string(doc, "alg", false, &alg, err)) != JWT_OK ||
		(st = jwk_string(doc, "kid", false, &kid, err)) != JWT_OK)
		return st;
	if (use != NULL && strcmp(use, "sig") != 0)
	{
		if (in_set)
		{
			*skipped = true;
			return JWT_OK;
		}
		return jwt_fail(err, JWT_ERR_KEY, "JWK \"use\" is not \"sig\"");
	}

	if (strcmp(kty, "oct") == 0)
	{
		unsigned char *k;
		size_t		klen;

		if ((st = jwk_bytes(doc, "k", true, 0, &k, &klen, err)) == JWT_OK)
			st = set_hmac_secret(key, k, klen, keep, err);
		wipe_bytes(k, klen);
	}
	else if (strcmp(kty, "RSA") == 0)
		st = jwk_rsa(doc, key, err);
	else if (strcmp(kty, "EC") == 0)
		st = jwk_ec(doc, key, err);
	else if (strcmp(kty, "OKP") == 0)
		st = jwk_okp(doc, key, err);
	else
		st = jwt_fail(err, JWT_ERR_KEY, "unsupported JWK key type \"%s\"", jwt_printable(kty, pbuf, sizeof(pbuf)));
	if (st != JWT_OK)
		return st;

	if (alg != NULL)
	{
		JwtAlg		a = jwt_alg_from_name(alg, strlen(alg));

		if (a == JWT_ALG_NONE)
			return jwt_fail(err, JWT_ERR_KEY, "JWK \"alg\" \"%s\" is not a supported algorithm", jwt_printable(alg, pbuf, sizeof(pbuf)));
		if ((st = jwt_key_check_alg(key, a, err)) != JWT_OK)
		{
			/* a JWK whose own alg does not fit it is a bad key, not a bad token */
			err->status = JWT_ERR_KEY;
			return JWT_ERR_KEY;
		}
		key->jwk_alg = a;
	}
	if (kid != NULL)
		key->kid = MemoryContextStrdup(keep, kid);
	return JWT_OK;
}

static JwtStatus
parse_json_key(const char *text, size_t len, MemoryContext keep, JwtKeySet *set, JwtError *err)
{
	char		pbuf[72];
	JsonDoc		doc;
	JsonStrictResult jr;
	const JsonMember *keys;
	JwtStatus	st;
	bool		skipped;

	if ((jr = json_strict_parse(text, len, &doc)) != JSON_STRICT_OK)
	{
		jwt_fail(err, JWT_ERR_KEY, "invalid JWK");
		jwt_fail_detail(err, "The key looks like JSON, but %s.", json_strict_result_text(jr));
		return JWT_ERR_KEY;
	}

	keys = json_doc_get(&doc, "keys");
	if (keys == NULL)
	{
		set->keys = MemoryContextAllocZero(keep, sizeof(JwtKey));
		jwt_key_init(&set->keys[0]);
		set->nkeys = 1;
		return parse_jwk(&doc, false, keep, &set->keys[0], &skipped, err);
	}

	/* a JWKS */
	if (keys->value.kind != JK_ARRAY)
		return jwt_fail(err, JWT_ERR_KEY, "JWKS member \"keys\" must be an array");
	set->is_jwks = true;
	set->keys = MemoryContextAllocZero(keep, sizeof(JwtKey) * Max(keys->value.nelems, 1));
	for (int i = 0; i < keys->value.nelems; i++)
	{
		const JsonValue *elem = &keys->value.elems[i];
		JwtKey	   *key = &set->keys[set->nkeys];
		JsonDoc		kdoc;

		if (elem->kind != JK_OBJECT ||
			json_strict_parse(elem->str, elem->len, &kdoc) != JSON_STRICT_OK)
			return jwt_fail(err, JWT_ERR_KEY, "JWKS key %d is not a JSON object", i + 1);
		jwt_key_init(key);
		set->nkeys++;
		if ((st = parse_jwk(&kdoc, true, keep, key, &skipped, err)) != JWT_OK)
		{
			jwt_fail_detail(err, "In JWKS key %d.", i + 1);
			return st;
		}
		if (skipped)
			set->nkeys--;
	}
	if (set->nkeys == 0)
		return jwt_fail(err, JWT_ERR_KEY, "JWKS has no signing keys");

	/* kid must pick one key, and one secret must not stand in for a public key */
	for (int i = 0; i < set->nkeys; i++)
		for (int j = i + 1; j < set->nkeys; j++)
		{
			if ((set->keys[i].type == JWT_KEY_HMAC) != (set->keys[j].type == JWT_KEY_HMAC))
				return jwt_fail(err, JWT_ERR_KEY, "JWKS mixes symmetric and asymmetric keys");
			if (set->keys[i].kid && set->keys[j].kid &&
				strcmp(set->keys[i].kid, set->keys[j].kid) == 0)
				return jwt_fail(err, JWT_ERR_KEY, "JWKS has duplicate kid \"%s\"", jwt_printable(set->keys[i].kid, pbuf, sizeof(pbuf)));
		}
	return JWT_OK;
}

static bool
looks_like_json(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char) text[i]))
			return text[i] == '{';
	return false;
}

JwtStatus
jwt_keyset_parse(const char *text, size_t len, bool is_secret,
				 MemoryContext keep, JwtKeySet *set, JwtError *err)
{
	bool		is_pem = find_bytes(text, len, "-----BEGIN") != NULL;
	bool		is_json = looks_like_json(text, len);
	JwtStatus	st;

	if (is_secret && (is_pem || is_json))
	{
		JsonDoc		doc;

		/*
		 * Raw bytes are refused only when they really are a key: random secrets
		 * start with '{' one time in 256.
		 */
		if (is_pem || json_strict_parse(text, len, &doc) == JSON_STRICT_OK)
			return jwt_fail(err, JWT_ERR_KEY, "a PEM or JSON key cannot be used as an HMAC secret");
		is_pem = is_json = false;
	}
	if (is_pem || is_json)
	{
		if (is_pem)
		{
			set->keys = MemoryContextAllocZero(keep, sizeof(JwtKey));
			jwt_key_init(&set->keys[0]);
			set->nkeys = 1;
			return parse_pem(text, len, &set->keys[0], err);
		}
		return parse_json_key(text, len, keep, set, err);
	}

	set->keys = MemoryContextAllocZero(keep, sizeof(JwtKey));
	jwt_key_init(&set->keys[0]);
	set->nkeys = 1;
	st = set_hmac_secret(&set->keys[0], (const unsigned char *) text, len, keep, err);
	return st;
}

/*
 * The key of a set that verifies a token with this alg and kid.  A JWKS
 * needs the kid to pick, or exactly one key that admits the algorithm.
 */
JwtStatus
jwt_keyset_select(const JwtKeySet *set, JwtAlg alg, const char *kid,
				  JwtKey **key, JwtError *err)
{
	JwtKey	   *found = NULL;

	if (!set->is_jwks)
	{
		found = &set->keys[0];
		if (kid != NULL && found->kid != NULL && strcmp(kid, found->kid) != 0)
			return jwt_fail(err, JWT_ERR_NO_KEY, "no key matches the token's kid");
		*key = found;
		return JWT_OK;
	}
	for (int i = 0; i < set->nkeys; i++)
	{
		JwtKey	   *k = &set->keys[i];

		if (kid != NULL)
		{
			if (k->kid != NULL && strcmp(kid, k->kid) == 0)
			{
				*key = k;
				return JWT_OK;
			}
		}
		else if (jwt_key_admitted_algs(k) & JWT_ALG_BIT(alg))
		{
			if (found != NULL)
				return jwt_fail(err, JWT_ERR_NO_KEY,
								"token has no kid and several keys could verify it");
			found = k;
		}
	}
	if (found == NULL)
		return jwt_fail(err, JWT_ERR_NO_KEY, "no key matches the token's kid");
	*key = found;
	return JWT_OK;
}
