/*
 * roleclaim.h - the role a token's claims name, through jwt.role_claim's path
 */
#ifndef JWT_ROLECLAIM_H
#define JWT_ROLECLAIM_H

#include "utils/jsonb.h"

/*
 * The string the path (a jwt.role_claim value) leads to in claims, palloc'd
 * in the server encoding; NULL when it leads nowhere or to a value that is
 * not a string.  Raises 22023 for a path that does not parse.
 */
extern char *jwt_role_claim_value(Jsonb *claims, const char *path);
/* For the setting's check hook: NULL if the path parses, else why not. */
extern const char *jwt_role_claim_check(const char *path);

#endif
