/*
 * dpop.h - DPoP proofs of possession (RFC 9449) and JWK thumbprints (RFC 7638)
 */
#ifndef JWT_DPOP_H
#define JWT_DPOP_H

#include "jws.h"

/* Bounds on what a proof may carry: a proof is a small, fresh object. */
#define DPOP_MAX_PROOF_LEN 8192
#define DPOP_MAX_JTI_LEN 256
#define DPOP_MAX_URL_LEN 2048
#define DPOP_MAX_METHOD_LEN 32
#define DPOP_MAX_NONCE_LEN 1024
/* An RSA proof key's bits, and its modulus's base64url length (a leading zero byte allowed) */
#define DPOP_MAX_RSA_BITS 4096
#define DPOP_MAX_RSA_N_B64 ((DPOP_MAX_RSA_BITS / 8 + 1) * 4 / 3 + 2)
/* base64url of a SHA-256 digest */
#define DPOP_JKT_LEN 43

/* What a proof must match. */
typedef struct DpopCheck
{
	const char *proof;
	size_t		proof_len;
	const char *method;			/* the request's HTTP method */
	const char *url;			/* the request's URL (query and fragment ignored) */
	const char *access_token;	/* NULL: no "ath" check */
	size_t		access_token_len;
	bool		token_request;	/* for a refresh token: "ath" refused */
	const char *nonce;			/* NULL: no "nonce" check */
	double		now;			/* Unix seconds */
	int			max_age;		/* seconds an "iat" may lie in the past */
	int			clock_skew;		/* seconds tolerated either way */
} DpopCheck;

/* A proof that passed every check but replay. */
typedef struct DpopProof
{
	JwsToken	tok;
	JsonDoc		claims;
	char		jkt[DPOP_JKT_LEN + 1];	/* the header key's RFC 7638 thumbprint */
	const char *jti;
	double		iat;
} DpopProof;

/* The thumbprint of a public JWK given as JSON text (refuses private members). */
extern JwtStatus jwt_jwk_thumbprint(const char *json, size_t len, char *jkt, JwtError *err);
/* Whether url is an http(s) URL; *normalized: RFC 3986 6.2.2/6.2.3, no query or fragment. */
extern bool jwt_dpop_normalize_url(const char *url, size_t len, char **normalized,
								   const char **why);
/* Check a proof against a request, all but replay (see jwt_dpop_record_jti). */
extern JwtStatus jwt_dpop_check(const DpopCheck *req, DpopProof *proof, JwtError *err);
/* "ath": base64url of the SHA-256 of an access token, into out[DPOP_JKT_LEN + 1]. */
extern bool jwt_dpop_ath(const char *token, size_t len, char *out);

#endif
