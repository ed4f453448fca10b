/*
 * jwks_fetch.h - an issuer's JWKS fetched from its URL or found by discovery
 */
#ifndef JWT_JWKS_FETCH_H
#define JWT_JWKS_FETCH_H

#include "http_fetch.h"

/* More keys than this in one fetched set is refused (providers publish 2 to 4). */
#define JWT_JWKS_MAX_KEYS 100

typedef struct IssuerJwks
{
	char	   *jwks;			/* the JWKS text, strictly parsed and checked */
	int			jwks_len;
	char	   *jwks_url;		/* where it came from */
	int			max_age;		/* the JWKS response's Cache-Control max-age, or -1 */
	int			nkeys;			/* its signing keys */
} IssuerJwks;

/*
 * Fetch issuer's JWKS from jwks_url, or with jwks_url NULL from the jwks_uri
 * of issuer's OpenID Connect discovery document (whose issuer must equal it).
 */
extern JwtStatus jwt_fetch_issuer_jwks(const char *issuer, const char *jwks_url,
									   const HttpFetchLimits *limits,
									   IssuerJwks *out, JwtError *err);

#endif
