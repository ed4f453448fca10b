/*
 * dpop_replay.h - DPoP settings and the store of proofs already seen
 */
#ifndef JWT_DPOP_REPLAY_H
#define JWT_DPOP_REPLAY_H

#include "dpop.h"

extern void jwt_dpop_init(void);
/* jwt.require_dpop */
extern bool jwt_dpop_required(void);
/* jwt.dpop_base_url, or NULL when unset */
extern const char *jwt_dpop_base_url(void);

/*
 * Check a proof against a request with the jwt.dpop_* settings, then record
 * it as seen (refusing a replay).  Raises when replay cannot be checked.
 */
extern JwtStatus jwt_dpop_verify_request(const char *proof, size_t proof_len, const char *method,
										 const char *url, const char *access_token,
										 size_t access_token_len, const char *nonce,
										 const char *expected_jkt, DpopProof *result,
										 JwtError *err);
/* The same for a request with a refresh token (no access token): "ath" refused. */
extern JwtStatus jwt_dpop_verify_token_request(const char *proof, size_t proof_len,
											   const char *method, const char *url,
											   const char *expected_jkt, DpopProof *result,
											   JwtError *err);

/* How the token came: "Authorization: Bearer", "Authorization: DPoP", or bare. */
typedef enum JwtAuthScheme
{
	JWT_AUTH_SCHEME_NONE,
	JWT_AUTH_SCHEME_BEARER,
	JWT_AUTH_SCHEME_DPOP
} JwtAuthScheme;

/* The DPoP binding rules for a verified token's claims (see dpop_replay.c). */
extern JwtStatus jwt_dpop_check_binding(const JsonDoc *claims, const char *token, size_t token_len,
										JwtAuthScheme scheme, const char *proof,
										const char *method, const char *url, JwtError *err);

#endif
