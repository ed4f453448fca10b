/*
 * identity.c - the claims of a verified token as the current identity
 *
 * The claims live in the setting jwt.claims, which is PGC_SUSET: no SET,
 * set_config or ALTER ROLE ... SET by a non-superuser can change it, and only
 * jwt_authenticate() and jwt_impersonate() (which set it from C) do.  Being
 * a setting, it reaches parallel workers, is undone when its transaction ends
 * (the default, safe behind transaction poolers) and is cleared by RESET ALL
 * and DISCARD ALL.
 * Policies read it many times per query, so the parsed jsonb is cached until
 * the setting changes.
 *
 * jwt.impersonated_by, set with it and in the same way, names the role that
 * made the identity with jwt_impersonate() ("" when a token did): it is as
 * unforgeable as the claims, and every change of identity sets both.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "identity.h"
#include "roleclaim.h"

static char *claims_setting = NULL;
static char *impersonator_setting = NULL;
static bool session_scope = false;
static char *role_claim = NULL;
static char *anonymous_role = NULL;
static bool trust_postgrest = false;

static uint64 claims_generation = 1;
static uint64 cached_generation = 0;
static char *cached_postgrest = NULL;	/* the request.jwt.claims text cached */
static MemoryContext identity_cxt = NULL;
static Jsonb *cached_claims = NULL;

static void
claims_assign(const char *newval, void *extra)
{
	(void) newval;
	(void) extra;
	claims_generation++;
}

/* jwt.role_claim: a claim name or a PostgREST JSPath, refused at SET when it does not parse */
static bool
role_claim_check(char **newval, void **extra, GucSource source)
{
	const char *error;

	(void) extra;
	(void) source;
	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if ((error = jwt_role_claim_check(*newval)) != NULL)
	{
		GUC_check_errdetail("%s", error);
		return false;
	}
	return true;
}

void
jwt_identity_init(void)
{
	DefineCustomStringVariable("jwt.claims",
							   "Claims of the token verified by jwt_authenticate(); read them with jwt_claims().",
							   NULL, &claims_setting, "",
							   PGC_SUSET, GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							   NULL, claims_assign, NULL);
	DefineCustomStringVariable("jwt.impersonated_by",
							   "Role that set the identity with jwt_impersonate(); empty when a token did.",
							   NULL, &impersonator_setting, "",
							   PGC_SUSET, GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							   NULL, NULL, NULL);
	DefineCustomBoolVariable("jwt.session_identity",
							 "jwt_authenticate() sets the identity for the session, not the transaction.",
							 "Unsafe behind transaction poolers, which share sessions between clients.",
							 &session_scope, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("jwt.role_claim",
							   "Claim naming the role jwt_authenticate() switches to; empty switches none.",
							   "A claim name, or a path in PostgREST's jwt-role-claim-key syntax such as .realm_access.roles[0].",
							   &role_claim, "",
							   PGC_SUSET, 0, role_claim_check, NULL, NULL);
	/* read by jwt_postgrest_pre_request(): superuser-only so no client can name it */
	DefineCustomStringVariable("jwt.anonymous_role",
							   "PostgREST's anonymous role (db-anon-role), for jwt_postgrest_pre_request().",
							   "A request without a token, or with a verified token naming no role, must run as this role; empty: only as the session user.",
							   &anonymous_role, "",
							   PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("jwt.trust_postgrest_claims",
							 "jwt_claims() falls back to request.jwt.claims, which any role can set.",
							 "Only for deployments where PostgREST verifies tokens and clients cannot run SQL.",
							 &trust_postgrest, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);
}

/*
 * A role named by a verified token that this session cannot become is the
 * token's fault, not the server's: refuse it as a token (28JR1), before the
 * role setting would raise 42501 or 22023, which a caller such as the
 * PostgREST helper would take for a server error.  The name is the token's:
 * it is not repeated.
 */
static void
check_token_role(const char *role)
{
	Oid			roleid = get_role_oid(role, true);
	bool		usable;

	if (!OidIsValid(roleid))
		usable = false;
	else if (superuser_arg(GetSessionUserId()))
		usable = true;
	else
#if PG_VERSION_NUM >= 160000
		usable = member_can_set_role(GetSessionUserId(), roleid);
#else
		usable = is_member_of_role(GetSessionUserId(), roleid);
#endif
	if (!usable)
		ereport(ERROR,
				(errcode(MAKE_SQLSTATE('2', '8', 'J', 'R', '1')),
				 errmsg("token names a role this session cannot use"),
				 errdetail("The role named by the claim jwt.role_claim names does not exist, or the session user is not a member of it.")));
}

/*
 * Make claims_json (and role, when not NULL) the current identity, set by
 * impersonator ("" for a verified token).  The marker is set first and with
 * the same action, so the claims never stand with another identity's marker.
 */
static void
identity_set(const char *claims_json, const char *role, const char *impersonator)
{
	GucAction	action = session_scope ? GUC_ACTION_SET : GUC_ACTION_LOCAL;

	/* PGC_SUSET: our own C code may set them whoever the user is */
	(void) set_config_option("jwt.impersonated_by", impersonator, PGC_SUSET, PGC_S_SESSION,
							 action, true, 0, false);
	(void) set_config_option("jwt.claims", claims_json, PGC_SUSET, PGC_S_SESSION,
							 action, true, 0, false);
	/* the role GUC checks that the session user may become that role */
	if (role != NULL)
		(void) set_config_option("role", role, PGC_USERSET, PGC_S_SESSION,
								 action, true, 0, false);
}

/* The identity of a verified token: never marked as impersonated. */
void
jwt_identity_set(const char *claims_json, const char *role)
{
	if (role != NULL)
		check_token_role(role);
	identity_set(claims_json, role, "");
}

/*
 * The identity of the token the session logged in with (PostgreSQL 18's
 * OAuth login): for the whole session, whatever jwt.session_identity says,
 * since the session is the token holder's.  It switches no role: the login
 * role is already the one the token was allowed.
 */
void
jwt_identity_set_login(const char *claims_json)
{
	(void) set_config_option("jwt.impersonated_by", "", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SET, true, 0, false);
	(void) set_config_option("jwt.claims", claims_json, PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SET, true, 0, false);
}

/* An identity that impersonator (a role name, not empty) set without a token. */
void
jwt_identity_impersonate(const char *claims_json, const char *role, const char *impersonator)
{
	Assert(impersonator != NULL && impersonator[0] != '\0');
	identity_set(claims_json, role, impersonator);
}

void
jwt_identity_reset(void)
{
	(void) set_config_option("jwt.impersonated_by", "", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SET, true, 0, false);
	(void) set_config_option("jwt.claims", "", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SET, true, 0, false);
}

/* The role that impersonated the current identity, or NULL when none did. */
const char *
jwt_identity_impersonator(void)
{
	if (claims_setting == NULL || claims_setting[0] == '\0' ||
		impersonator_setting == NULL || impersonator_setting[0] == '\0')
		return NULL;
	return impersonator_setting;
}

/* Whether the identity is one that jwt_authenticate() or jwt_impersonate() set. */
bool
jwt_identity_is_set(void)
{
	return claims_setting != NULL && claims_setting[0] != '\0';
}

const char *
jwt_identity_role_claim(void)
{
	return (role_claim != NULL && role_claim[0] != '\0') ? role_claim : NULL;
}

/*
 * A number that changes whenever the identity may have changed, for callers
 * that cache what they derived from it; 0 means "do not cache" (the
 * request.jwt.claims fallback has no change hook).
 */
uint64
jwt_identity_version(void)
{
	if ((claims_setting == NULL || claims_setting[0] == '\0') && trust_postgrest)
		return 0;
	return claims_generation;
}

/* The current verified claims (cached, do not modify), or NULL. */
Jsonb *
jwt_identity_claims(void)
{
	const char *source = claims_setting;
	bool		from_postgrest = false;

	if ((source == NULL || source[0] == '\0') && trust_postgrest)
	{
		source = GetConfigOption("request.jwt.claims", true, false);
		from_postgrest = true;
	}
	if (source == NULL || source[0] == '\0')
		return NULL;

	if (cached_generation == claims_generation && cached_claims != NULL &&
		(from_postgrest ? (cached_postgrest != NULL && strcmp(cached_postgrest, source) == 0)
		 : cached_postgrest == NULL))
		return cached_claims;

	if (identity_cxt == NULL)
		identity_cxt = AllocSetContextCreate(TopMemoryContext, "jwt identity", ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(identity_cxt);
	cached_claims = NULL;
	cached_postgrest = NULL;
	{
		MemoryContext old = MemoryContextSwitchTo(identity_cxt);

		cached_claims = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(source)));
		if (from_postgrest)
			cached_postgrest = pstrdup(source);
		MemoryContextSwitchTo(old);
	}
	cached_generation = claims_generation;
	return cached_claims;
}
