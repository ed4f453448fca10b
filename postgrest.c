/*
 * postgrest.c - SQL entry points of the PostgREST pre-request helper
 *
 * jwt_postgrest_pre_request() itself is PL/pgSQL (jwt--0.1.0--0.2.0.sql);
 * what it does once per request and would cost a parse and a plan each time
 * as an SQL function lives here.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/jsonb.h"

/* Registered claims that PostgREST's re-encoding drops when null. */
static const char *const dropped_when_null[] = {
	"iss", "sub", "aud", "exp", "nbf", "iat", "jti"
};

/* Whether the key (not NUL-terminated) equals the C string name. */
static bool
key_is(const JsonbValue *key, const char *name)
{
	size_t		len = strlen(name);

	return (size_t) key->val.string.len == len && memcmp(key->val.string.val, name, len) == 0;
}

/*
 * _jwt_postgrest_claims(claims jsonb) RETURNS jsonb: the claims as PostgREST
 * 11/12 puts them in request.jwt.claims.  It re-encodes them through the
 * jose library's ClaimsSet, which writes a one-element "aud" array as its
 * element and drops registered claims whose value is null; "role" is left
 * out (PostgREST rewrites it to the role it chose).  NULL gives {}.
 */
PG_FUNCTION_INFO_V1(jwt_postgrest_claims);
Datum
jwt_postgrest_claims(PG_FUNCTION_ARGS)
{
	JsonbParseState *state = NULL;
	JsonbValue *result;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	key;
	JsonbValue	value;
	Jsonb	   *claims;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	if (PG_ARGISNULL(0))
		PG_RETURN_POINTER(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));

	claims = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_OBJECT(claims) || JB_ROOT_IS_SCALAR(claims))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("claims must be a JSON object")));

	it = JsonbIteratorInit(&claims->root);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		bool		drop = false;

		/* a claims object of a million keys still honours a cancel */
		CHECK_FOR_INTERRUPTS();
		if (tok != WJB_KEY)
			continue;			/* the object's own begin and end */
		tok = JsonbIteratorNext(&it, &value, true);
		Assert(tok == WJB_VALUE);

		if (key_is(&key, "role"))
			continue;
		if (value.type == jbvNull)
			for (size_t i = 0; i < lengthof(dropped_when_null) && !drop; i++)
				drop = key_is(&key, dropped_when_null[i]);
		if (drop)
			continue;
		if (key_is(&key, "aud") && value.type == jbvBinary &&
			JsonContainerIsArray(value.val.binary.data) &&
			!JsonContainerIsScalar(value.val.binary.data) &&
			JsonContainerSize(value.val.binary.data) == 1)
			value = *getIthJsonbValueFromContainer(value.val.binary.data, 0);

		pushJsonbValue(&state, WJB_KEY, &key);
		pushJsonbValue(&state, WJB_VALUE, &value);
	}
	result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	PG_RETURN_POINTER(JsonbValueToJsonb(result));
}
