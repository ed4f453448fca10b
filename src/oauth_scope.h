/*
 * oauth_scope.h - what the OAuth validator (oauth.c) asks of a token's claims
 */
#ifndef JWT_OAUTH_SCOPE_H
#define JWT_OAUTH_SCOPE_H

#include "json_strict.h"

/*
 * Whether the token's "scope" claim (a space-separated string, RFC 9068)
 * grants every scope in required (space-separated, as pg_hba.conf's scope=);
 * when not, *missing points at the first scope lacking (NUL-terminated copy).
 */
extern bool jwt_oauth_scopes_granted(const JsonDoc *claims, const char *required,
									 char **missing);

#endif
