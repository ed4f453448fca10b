/*
 * jwt_sql.h - what the SQL layer's files (jwt.c, keyring.c, revocation.c,
 * identity.c) share: jwt.c's argument and encoding helpers and its token
 * verification, which the other concerns' entry points reuse.  Not for src/.
 */
#ifndef JWT_SQL_H
#define JWT_SQL_H

#include "fmgr.h"
#include "utils/jsonb.h"

#include "claims.h"
#include "dpop_replay.h"
#include "jws.h"

/* jwt.max_token_length (jwt.c) */
extern int	jwt_max_token_length;

/* What to verify a token against. */
typedef struct VerifyRequest
{
	text	   *token;
	JwtKeySet  *keys;			/* NULL: the keyring */
	JwtAlgSet	allowed;		/* 0: what the key admits */
	bool		is_jwt;			/* claims rules apply */
	JwtClaimRules rules;
	const char *typ;
	bool		check_revoked;
	Jsonb	  **claims_jsonb;	/* where to put the claims as jsonb, or NULL */
	JwtAuthScheme scheme;		/* jwt_authentication_request: the token's scheme */
	bool		no_token_cache;	/* keep no copy of the token (a login that wipes its copies) */
} VerifyRequest;

/* jwt.c */
extern JwtAlg jwt_algorithm_argument(text *name);
extern const char *jwt_server_cstring_to_utf8(const char *s, const char *what);
extern char *jwt_utf8_to_server_cstring(const char *s);
extern JwtStatus jwt_verify_request(VerifyRequest *req, JwsToken *tok, JsonDoc *claims, JwtError *err);
extern void jwt_authentication_request(VerifyRequest *req, text *arg);
extern Datum jwt_json_text_to_jsonb(const char *json, size_t len);

/* revocation.c: the callback of jwt_transport_check for a bearer token's VerifyRequest */
extern bool jwt_revoke_exposed_token(void *arg);

#endif
