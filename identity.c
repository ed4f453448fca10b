/*
 * identity.c - SQL entry points of the identity (src/identity.c):
 * jwt_authenticate() sets it from a bearer token, jwt_reset() forgets it,
 * jwt_claims() and jwt_claim*() read it
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "identity.h"
#include "jsonb_text.h"
#include "roleclaim.h"
#include "stats.h"
#include "transport.h"
#include "jwt_sql.h"

/* A text argument of jwt_authenticate as UTF-8, or NULL when absent or NULL. */
static const char *
optional_utf8_argument(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	return jwt_server_cstring_to_utf8(text_to_cstring(PG_GETARG_TEXT_PP(argno)), what);
}

/*
 * jwt_authenticate(token text) RETURNS jsonb
 * jwt_authenticate(token text, dpop_proof text, method text, url text) RETURNS jsonb
 * Verify with the keyring, the policy settings and revocation, and the token's
 * DPoP binding (src/dpop_replay.c), then make the claims the identity that
 * jwt_claims() returns (and switch role when jwt.role_claim names a claim).
 */
PG_FUNCTION_INFO_V1(jwt_authenticate);
Datum
jwt_authenticate(PG_FUNCTION_ARGS)
{
	VerifyRequest req;
	JwsToken	tok;
	JsonDoc		claims;
	JwtError	err;
	Datum		result;
	const char *role = NULL;
	const char *role_claim = jwt_identity_role_claim();
	JwtAuthEvent ev;

	jwt_stats_auth_begin(&ev, &tok, &claims);
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(MAKE_SQLSTATE('2', '2', 'J', '0', '1')),
				 errmsg("no token to authenticate")));
	jwt_authentication_request(&req, PG_GETARG_TEXT_PP(0));
	jwt_transport_check(jwt_revoke_exposed_token, &req);
	if (jwt_stats_verified(jwt_verify_request(&req, &tok, &claims, &err)) != JWT_OK ||
		jwt_dpop_check_binding(&claims, VARDATA_ANY(req.token), VARSIZE_ANY_EXHDR(req.token),
							   req.scheme, optional_utf8_argument(fcinfo, 1, "dpop_proof"),
							   optional_utf8_argument(fcinfo, 2, "method"),
							   optional_utf8_argument(fcinfo, 3, "url"), &err) != JWT_OK)
		jwt_raise(&err);

	result = jwt_json_text_to_jsonb(tok.payload, tok.payload_len);
	/* a claim name or a PostgREST JSPath (.realm_access.roles[0]), on the verified claims */
	if (role_claim != NULL &&
		(role = jwt_role_claim_value(DatumGetJsonbP(result), role_claim)) == NULL)
		ereport(ERROR,
				(errcode(MAKE_SQLSTATE('2', '8', 'J', '0', '8')),
				 errmsg("token has no claim naming a role"),
				 errdetail("jwt.role_claim is \"%s\".", role_claim)));
	jwt_identity_set(JsonbToCString(NULL, &DatumGetJsonbP(result)->root, VARSIZE(DatumGetJsonbP(result))), role);
	jwt_stats_auth_end(&ev);
	PG_RETURN_DATUM(result);
}

/* jwt_reset() RETURNS void: forget the identity (and nothing else) */
PG_FUNCTION_INFO_V1(jwt_reset);
Datum
jwt_reset(PG_FUNCTION_ARGS)
{
	jwt_identity_reset();
	PG_RETURN_VOID();
}

/* jwt_claims() RETURNS jsonb: the verified claims, or NULL when not authenticated */
PG_FUNCTION_INFO_V1(jwt_claims);
Datum
jwt_claims(PG_FUNCTION_ARGS)
{
	Jsonb	   *claims = jwt_identity_claims();

	if (claims == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P((Jsonb *) PG_DETOAST_DATUM_COPY(PointerGetDatum(claims)));
}

/* The claim called name, or NULL when unauthenticated or absent (or JSON null). */
static JsonbValue *
claim_value(text *name)
{
	Jsonb	   *claims = jwt_identity_claims();
	JsonbValue *v;

	if (claims == NULL)
		return NULL;
	v = getKeyJsonValueFromContainer(&claims->root, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name), NULL);
	return (v == NULL || v->type == jbvNull) ? NULL : v;
}

static void
claim_type_error(text *name, const char *type)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("claim \"%s\" is not %s", text_to_cstring(name), type)));
}

/* A claim as text: strings as they are, other values as JSON text. */
static Datum
claim_text(JsonbValue *v)
{
	StringInfoData buf;

	switch (v->type)
	{
		case jbvString:
			return PointerGetDatum(cstring_to_text_with_len(v->val.string.val, v->val.string.len));
		case jbvNumeric:
			return PointerGetDatum(cstring_to_text(DatumGetCString(DirectFunctionCall1(numeric_out,
																					   NumericGetDatum(v->val.numeric)))));
		case jbvBool:
			return PointerGetDatum(cstring_to_text(v->val.boolean ? "true" : "false"));
		default:
			initStringInfo(&buf);
			jsonb_append_compact(&buf, v->val.binary.data);
			return PointerGetDatum(cstring_to_text_with_len(buf.data, buf.len));
	}
}

/*
 * One call site's last answer.  A policy evaluates jwt_claim('sub') once per
 * row with the same name and the same identity, so the answer is kept in the
 * call site's fn_extra until the identity changes: per row it then costs a
 * comparison, not a lookup and a copy.
 */
typedef struct ClaimCallCache
{
	uint64		version;
	text	   *name;
	bool		isnull;
	Datum		value;
} ClaimCallCache;

/* jwt_claim(name text) RETURNS text */
PG_FUNCTION_INFO_V1(jwt_claim);
Datum
jwt_claim(PG_FUNCTION_ARGS)
{
	text	   *name = PG_GETARG_TEXT_PP(0);
	ClaimCallCache *cache = (ClaimCallCache *) fcinfo->flinfo->fn_extra;
	uint64		version = jwt_identity_version();
	JsonbValue *v;
	MemoryContext old;

	if (cache != NULL && version != 0 && cache->version == version &&
		VARSIZE_ANY_EXHDR(cache->name) == VARSIZE_ANY_EXHDR(name) &&
		memcmp(VARDATA_ANY(cache->name), VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name)) == 0)
	{
		if (cache->isnull)
			PG_RETURN_NULL();
		/* callers do not modify their arguments or results in place */
		return cache->value;
	}

	v = claim_value(name);
	if (version == 0)
	{
		if (v == NULL)
			PG_RETURN_NULL();
		return claim_text(v);
	}
	/* an older answer is not freed: an earlier row's result may still point at it */
	if (cache == NULL)
		cache = fcinfo->flinfo->fn_extra =
			MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ClaimCallCache));
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	cache->name = (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(name));
	cache->isnull = v == NULL;
	cache->value = v == NULL ? (Datum) 0 : claim_text(v);
	cache->version = version;
	MemoryContextSwitchTo(old);
	if (cache->isnull)
		PG_RETURN_NULL();
	return cache->value;
}

/* jwt_claim_uuid(name text) RETURNS uuid: a string claim that is a UUID */
PG_FUNCTION_INFO_V1(jwt_claim_uuid);
Datum
jwt_claim_uuid(PG_FUNCTION_ARGS)
{
	JsonbValue *v = claim_value(PG_GETARG_TEXT_PP(0));

	if (v == NULL)
		PG_RETURN_NULL();
	if (v->type != jbvString)
		claim_type_error(PG_GETARG_TEXT_PP(0), "a string holding a UUID");
	return DirectFunctionCall1(uuid_in, CStringGetDatum(pnstrdup(v->val.string.val, v->val.string.len)));
}

/* jwt_claim_bigint(name text) RETURNS bigint: a number claim that is an integer */
PG_FUNCTION_INFO_V1(jwt_claim_bigint);
Datum
jwt_claim_bigint(PG_FUNCTION_ARGS)
{
	JsonbValue *v = claim_value(PG_GETARG_TEXT_PP(0));
	char	   *digits;

	if (v == NULL)
		PG_RETURN_NULL();
	if (v->type != jbvNumeric)
		claim_type_error(PG_GETARG_TEXT_PP(0), "a number");
	/* int8in refuses fractions and out-of-range values rather than rounding */
	digits = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	return DirectFunctionCall1(int8in, CStringGetDatum(digits));
}

/* jwt_claim_boolean(name text) RETURNS boolean: a true or false claim */
PG_FUNCTION_INFO_V1(jwt_claim_boolean);
Datum
jwt_claim_boolean(PG_FUNCTION_ARGS)
{
	JsonbValue *v = claim_value(PG_GETARG_TEXT_PP(0));

	if (v == NULL)
		PG_RETURN_NULL();
	if (v->type != jbvBool)
		claim_type_error(PG_GETARG_TEXT_PP(0), "a boolean");
	PG_RETURN_BOOL(v->val.boolean);
}

/* jwt_claim_array(name text) RETURNS text[]: an array claim of strings (e.g. roles, groups) */
PG_FUNCTION_INFO_V1(jwt_claim_array);
Datum
jwt_claim_array(PG_FUNCTION_ARGS)
{
	JsonbValue *v = claim_value(PG_GETARG_TEXT_PP(0));
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken r;
	ArrayBuildState *astate = NULL;

	if (v == NULL)
		PG_RETURN_NULL();
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		claim_type_error(PG_GETARG_TEXT_PP(0), "an array of strings");
	astate = initArrayResult(TEXTOID, CurrentMemoryContext, false);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((r = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		if (r != WJB_ELEM)
			continue;
		if (elem.type != jbvString)
			claim_type_error(PG_GETARG_TEXT_PP(0), "an array of strings");
		astate = accumArrayResult(astate,
								  PointerGetDatum(cstring_to_text_with_len(elem.val.string.val, elem.val.string.len)),
								  false, TEXTOID, CurrentMemoryContext);
	}
	PG_RETURN_DATUM(makeArrayResult(astate, CurrentMemoryContext));
}

