/*
 * crypto.h - JWS algorithms and keys over OpenSSL 3 (EVP only)
 *
 * Only crypto.c and keys.c include OpenSSL headers; everything else sees
 * keys as opaque handles.
 */
#ifndef JWT_CRYPTO_H
#define JWT_CRYPTO_H

#include "jwt_error.h"

typedef enum JwtAlg
{
	JWT_ALG_HS256,
	JWT_ALG_HS384,
	JWT_ALG_HS512,
	JWT_ALG_RS256,
	JWT_ALG_RS384,
	JWT_ALG_RS512,
	JWT_ALG_PS256,
	JWT_ALG_PS384,
	JWT_ALG_PS512,
	JWT_ALG_ES256,
	JWT_ALG_ES384,
	JWT_ALG_ES512,
	JWT_ALG_EDDSA,
	JWT_ALG_ED25519,			/* fully-specified EdDSA names, RFC 9864 */
	JWT_ALG_ED448,
	JWT_ALG_COUNT,
	JWT_ALG_NONE = -1			/* no algorithm: never a valid choice */
} JwtAlg;

typedef enum JwtKeyType
{
	JWT_KEY_HMAC,
	JWT_KEY_RSA,
	JWT_KEY_EC,
	JWT_KEY_OKP
} JwtKeyType;

/* Bit set of JwtAlg values. */
typedef unsigned int JwtAlgSet;
#define JWT_ALG_BIT(a) (1u << (a))

typedef struct JwtKey
{
	JwtKeyType	type;
	struct evp_pkey_st *pkey;	/* RSA, EC, OKP */
	unsigned char *secret;		/* HMAC */
	int			secret_len;
	struct evp_mac_ctx_st *mac[3];	/* keyed HMAC contexts: SHA-256/384/512 */
	struct evp_pkey_ctx_st *verify_ctx[JWT_ALG_COUNT];	/* RSA and ECDSA, per algorithm */
	struct evp_pkey_ctx_st *sign_ctx[JWT_ALG_COUNT];	/* the same, for signing */
	bool		has_private;	/* can sign */
	int			bits;			/* RSA modulus bits */
	JwtAlg		curve_alg;		/* EC and OKP: the one algorithm of the curve */
	JwtAlg		okp_alg;		/* OKP: also its fully-specified name (Ed25519, Ed448) */
	JwtAlg		jwk_alg;		/* a JWK's "alg" pins the algorithm */
	int			key_ops;		/* a JWK's "key_ops": JWT_KEYOP_* bits, 0 if absent */
	bool		check_pending;	/* keys.c, while parsing: OpenSSL's checks still to run */
	bool		check_pair;		/* ... including the private/public pairwise check */
	char	   *kid;			/* a JWK's "kid" */
	uint64		serial;			/* this key object, never reused in a backend (token cache) */
} JwtKey;

/* JwtKey.key_ops: "key_ops" was present, and what it lists of ours */
#define JWT_KEYOP_LISTED 1
#define JWT_KEYOP_SIGN 2
#define JWT_KEYOP_VERIFY 4

/* A key, or the keys of a JWKS. */
typedef struct JwtKeySet
{
	int			nkeys;
	bool		is_jwks;
	JwtKey	   *keys;
} JwtKeySet;

/* Algorithm table */
extern JwtAlg jwt_alg_from_name(const char *name, size_t len);
extern const char *jwt_alg_name(JwtAlg alg);
extern JwtAlgSet jwt_key_admitted_algs(const JwtKey *key);
extern JwtAlg jwt_key_default_alg(const JwtKey *key);
extern JwtStatus jwt_key_check_alg(const JwtKey *key, JwtAlg alg, JwtError *err);
extern int	jwt_hmac_min_secret(JwtAlg alg);
extern const char *jwt_key_type_name(const JwtKey *key);
extern bool jwt_equal_const_time(const void *a, const void *b, size_t len);
/* SHA-256 of data into out[32]; false if OpenSSL failed. */
extern bool jwt_sha256(const void *data, size_t len, unsigned char *out);

/* Signatures: sig has room for jwt_signature_max_len(key) bytes. */
extern int	jwt_signature_max_len(const JwtKey *key);
extern JwtStatus jwt_sign_input(JwtKey *key, JwtAlg alg,
								const char *input, size_t len,
								unsigned char *sig, size_t *siglen, JwtError *err);
extern JwtStatus jwt_verify_input(JwtKey *key, JwtAlg alg,
								  const char *input, size_t len,
								  const unsigned char *sig, size_t siglen, JwtError *err);

/*
 * Keys (keys.c).  text is a PEM key, a JWK, a JWKS or (when is_secret, or
 * when it is neither PEM nor JSON) an HMAC secret.  set is zeroed by the
 * caller; its long-lived parts are allocated in keep_cxt, temporary work in
 * CurrentMemoryContext.  On failure jwt_keyset_free(set) releases what was made.
 */
extern JwtStatus jwt_keyset_parse(const char *text, size_t len, bool is_secret,
								  MemoryContext keep_cxt, JwtKeySet *set, JwtError *err);
extern void jwt_keyset_free(JwtKeySet *set);
extern void jwt_key_init(JwtKey *key);
extern void jwt_key_set_hmac_secret(JwtKey *key, const unsigned char *secret, size_t len,
									MemoryContext keep);
extern JwtStatus jwt_keyset_select(const JwtKeySet *set, JwtAlg alg, const char *kid,
								   JwtKey **key, JwtError *err);

#endif
