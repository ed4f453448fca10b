/*
 * jwks_fetch.c - SQL entry points of JWKS URLs (src/jwks_fetch.c, src/http_fetch.c)
 *
 * The tables and the refresh logic are SQL (jwt_add_issuer, jwt_refresh_issuer
 * in the issuers section of the update script); this file only fetches.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "issuer_refresh.h"
#include "jwks_fetch.h"

/*
 * _jwt_fetch_jwks(issuer text, jwks_url text, OUT jwks jsonb, OUT jwks_url text,
 * OUT max_age integer, OUT keys integer): the issuer's JWKS, fetched from
 * jwks_url or (NULL) found by OpenID Connect discovery, checked, not stored.
 * Only the issuer functions call it (REVOKEd from PUBLIC).
 */
PG_FUNCTION_INFO_V1(jwt_fetch_jwks_sql);
Datum
jwt_fetch_jwks_sql(PG_FUNCTION_ARGS)
{
	char	   *issuer;
	char	   *url = NULL;
	HttpFetchLimits limits;
	IssuerJwks	got;
	JwtError	err;
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("issuer must not be NULL")));
	issuer = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(1))
		url = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "_jwt_fetch_jwks must return a record");

	jwt_http_limits(&limits);
	memset(&err, 0, sizeof(err));
	if (jwt_fetch_issuer_jwks(issuer, url, &limits, &got, &err) != JWT_OK)
		jwt_raise(&err);

	values[0] = DirectFunctionCall1(jsonb_in, CStringGetDatum(got.jwks));
	values[1] = CStringGetTextDatum(got.jwks_url);
	values[2] = Int32GetDatum(got.max_age);
	nulls[2] = got.max_age < 0;
	values[3] = Int32GetDatum(got.nkeys);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/*
 * _jwt_check_fetch_url(url text) RETURNS void: refuse (22JF4) a URL jwt
 * would not fetch, before anything is stored.
 */
PG_FUNCTION_INFO_V1(jwt_check_fetch_url);
Datum
jwt_check_fetch_url(PG_FUNCTION_ARGS)
{
	HttpFetchLimits limits;
	JwtError	err;

	jwt_http_limits(&limits);
	memset(&err, 0, sizeof(err));
	if (jwt_http_check_url(text_to_cstring(PG_GETARG_TEXT_PP(0)),
						   limits.allow_loopback_http, &err) != JWT_OK)
		jwt_raise(&err);
	PG_RETURN_VOID();
}
