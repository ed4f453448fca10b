/*
 * issuers.c - SQL entry points for identity providers: roles where they put
 * them (src/roleclaim.c) and the keyring's key-encryption key rotation
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "identity.h"
#include "roleclaim.h"

/*
 * _jwt_token_role(claims jsonb) RETURNS text: the role jwt.role_claim names
 * in claims (NULL when the setting is empty, or the claims name none).  The
 * setting is read here, after the library loaded: a session's placeholder
 * never stands in for it.
 */
PG_FUNCTION_INFO_V1(jwt_token_role);
Datum
jwt_token_role(PG_FUNCTION_ARGS)
{
	const char *path = jwt_identity_role_claim();
	char	   *role;

	if (PG_ARGISNULL(0) || path == NULL)
		PG_RETURN_NULL();
	role = jwt_role_claim_value(PG_GETARG_JSONB_P(0), path);
	if (role == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(role));
}
