/*
 * issuers.c - SQL entry points for identity providers: roles where they put
 * them (src/roleclaim.c) and the keyring's key-encryption key rotation
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

#include "identity.h"
#include "issuers.h"
#include "roleclaim.h"

static char *token_cookie = NULL;

/* A cookie name (RFC 6265 token): no separators, no controls. */
static bool
token_cookie_check(char **newval, void **extra, GucSource source)
{
	(void) extra;
	(void) source;
	for (const char *p = *newval; p != NULL && *p; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", *p) != NULL)
		{
			GUC_check_errdetail("A cookie name is letters, digits and !#$%%&'*+-.^_`|~ only.");
			return false;
		}
	return true;
}

/* The settings of this concern; called from _PG_init. */
void
jwt_issuers_init(void)
{
	/* superuser-only: a client must not move the token to where it chooses */
	DefineCustomStringVariable("jwt.token_cookie",
							   "Cookie that jwt_postgrest_pre_request() takes the token from when there is no Authorization header; empty: none.",
							   NULL, &token_cookie, "",
							   PGC_SUSET, 0, token_cookie_check, NULL, NULL);
}

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
