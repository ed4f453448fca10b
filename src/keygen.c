/*
 * keygen.c - making keys and writing them out: generation, public JWKs,
 * RFC 7638 thumbprints and PKCS#8 PEM for the keyring
 */
#include "postgres.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "lib/stringinfo.h"

#include "b64url.h"
#include "crypto.h"
#include "keygen.h"

static void
append_b64url_member(StringInfo out, const char *name, const unsigned char *data, size_t len)
{
	char	   *enc = palloc(B64URL_ENCODED_LEN(len) + 1);
	size_t		n = b64url_encode(data, len, enc);

	appendStringInfo(out, "\"%s\":\"%.*s\"", name, (int) n, enc);
	pfree(enc);
}

/* A big-number parameter as base64url of its minimal (or padded to pad) big-endian bytes. */
static bool
append_bn_member(StringInfo out, const EVP_PKEY *pkey, const char *param, const char *name, int pad)
{
	BIGNUM	   *bn = NULL;
	unsigned char *buf;
	int			len;

	if (!EVP_PKEY_get_bn_param(pkey, param, &bn))
		return false;
	len = Max(pad, BN_num_bytes(bn));
	buf = palloc(Max(len, 1));
	BN_bn2binpad(bn, buf, len);
	BN_free(bn);
	append_b64url_member(out, name, buf, len);
	pfree(buf);
	return true;
}

/*
 * The public JWK of a key with exactly the members RFC 7638 hashes, in its
 * lexicographic order, so that the text is also the thumbprint's input.
 * For an HMAC key this is {"k":…,"kty":"oct"}: it contains the secret.
 */
char *
jwt_key_canonical_jwk(const JwtKey *key)
{
	StringInfoData out;
	bool		ok = true;

	initStringInfo(&out);
	switch (key->type)
	{
		case JWT_KEY_HMAC:
			appendStringInfoChar(&out, '{');
			append_b64url_member(&out, "k", key->secret, key->secret_len);
			appendStringInfoString(&out, ",\"kty\":\"oct\"}");
			break;
		case JWT_KEY_RSA:
			appendStringInfoChar(&out, '{');
			ok = append_bn_member(&out, key->pkey, OSSL_PKEY_PARAM_RSA_E, "e", 0);
			appendStringInfoString(&out, ",\"kty\":\"RSA\",");
			ok = ok && append_bn_member(&out, key->pkey, OSSL_PKEY_PARAM_RSA_N, "n", 0);
			appendStringInfoChar(&out, '}');
			break;
		case JWT_KEY_EC:
			{
				const char *crv = key->curve_alg == JWT_ALG_ES256 ? "P-256"
					: key->curve_alg == JWT_ALG_ES384 ? "P-384" : "P-521";
				int			coord = key->curve_alg == JWT_ALG_ES256 ? 32
					: key->curve_alg == JWT_ALG_ES384 ? 48 : 66;

				appendStringInfo(&out, "{\"crv\":\"%s\",\"kty\":\"EC\",", crv);
				ok = append_bn_member(&out, key->pkey, OSSL_PKEY_PARAM_EC_PUB_X, "x", coord);
				appendStringInfoChar(&out, ',');
				ok = ok && append_bn_member(&out, key->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, "y", coord);
				appendStringInfoChar(&out, '}');
				break;
			}
		case JWT_KEY_OKP:
			{
				unsigned char pub[57];
				size_t		publen = sizeof(pub);

				ok = EVP_PKEY_get_raw_public_key(key->pkey, pub, &publen) == 1;
				appendStringInfo(&out, "{\"crv\":\"%s\",\"kty\":\"OKP\",",
								 publen == 32 ? "Ed25519" : "Ed448");
				append_b64url_member(&out, "x", pub, publen);
				appendStringInfoChar(&out, '}');
				break;
			}
	}
	ERR_clear_error();
	if (!ok)
		elog(ERROR, "could not export the public key");
	return out.data;
}

/* RFC 7638: base64url(SHA-256(canonical JWK)). */
char *
jwt_key_thumbprint(const JwtKey *key)
{
	char	   *jwk = jwt_key_canonical_jwk(key);
	unsigned char digest[32];
	unsigned int dlen = 0;
	char	   *out = palloc(B64URL_ENCODED_LEN(32) + 1);
	bool		ok = EVP_Digest(jwk, strlen(jwk), digest, &dlen, EVP_sha256(), NULL) == 1;

	OPENSSL_cleanse(jwk, strlen(jwk));
	pfree(jwk);
	ERR_clear_error();
	if (!ok || dlen != 32)
		elog(ERROR, "could not compute the key thumbprint");
	out[b64url_encode(digest, 32, out)] = '\0';
	return out;
}

/*
 * A random kid (256 bits, base64url): for HMAC secrets, whose thumbprint is an
 * unsalted hash of the secret that every role could test guesses against.
 */
char *
jwt_key_random_kid(void)
{
	unsigned char bytes[32];
	char	   *out = palloc(B64URL_ENCODED_LEN(sizeof(bytes)) + 1);

	if (RAND_bytes(bytes, sizeof(bytes)) != 1)
	{
		ERR_clear_error();
		elog(ERROR, "could not generate a random kid");
	}
	out[b64url_encode(bytes, sizeof(bytes), out)] = '\0';
	return out;
}

/* A private key as PKCS#8 PEM text (palloc'd); the caller wipes it. */
char *
jwt_key_private_pem(const JwtKey *key)
{
	BIO		   *bio = BIO_new(BIO_s_mem());
	char	   *data;
	long		len;
	char	   *out = NULL;

	if (bio != NULL && PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL) == 1 &&
		(len = BIO_get_mem_data(bio, &data)) > 0)
	{
		out = palloc(len + 1);
		memcpy(out, data, len);
		out[len] = '\0';
	}
	BIO_free_all(bio);			/* a memory BIO is cleared when freed */
	ERR_clear_error();
	if (out == NULL)
		elog(ERROR, "could not export the private key");
	return out;
}

/*
 * A new key for alg: *pem is PKCS#8 PEM text for asymmetric algorithms,
 * *secret random bytes (the hash size) for HMAC.
 */
void
jwt_key_generate(JwtAlg alg, char **pem, unsigned char **secret, int *secret_len)
{
	EVP_PKEY   *volatile pkey = NULL;	/* freed after PG_TRY */
	JwtKey		tmp;

	*pem = NULL;
	*secret = NULL;
	*secret_len = 0;
	ERR_clear_error();
	switch (alg)
	{
		case JWT_ALG_HS256:
		case JWT_ALG_HS384:
		case JWT_ALG_HS512:
			*secret_len = jwt_hmac_min_secret(alg);
			*secret = palloc(*secret_len);
			if (RAND_bytes(*secret, *secret_len) != 1)
				elog(ERROR, "could not generate random bytes");
			return;
		case JWT_ALG_RS256:
		case JWT_ALG_RS384:
		case JWT_ALG_RS512:
		case JWT_ALG_PS256:
		case JWT_ALG_PS384:
		case JWT_ALG_PS512:
			pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
			break;
		case JWT_ALG_ES256:
			pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
			break;
		case JWT_ALG_ES384:
			pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
			break;
		case JWT_ALG_ES512:
			pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
			break;
		case JWT_ALG_ED448:
			pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
			break;
		default:				/* EdDSA, Ed25519 */
			pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
			break;
	}
	if (pkey == NULL)
	{
		ERR_clear_error();
		elog(ERROR, "could not generate a key for %s", jwt_alg_name(alg));
	}
	memset(&tmp, 0, sizeof(tmp));
	tmp.pkey = pkey;
	/* exporting allocates with palloc, which may throw: free the key either way */
	PG_TRY();
	{
		*pem = jwt_key_private_pem(&tmp);
	}
	PG_FINALLY();
	{
		EVP_PKEY_free(pkey);
	}
	PG_END_TRY();
}
