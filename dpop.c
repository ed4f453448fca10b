/*
 * dpop.c - SQL entry points for DPoP (RFC 9449) and JWK thumbprints (RFC 7638)
 *
 * The checks are in src/dpop.c (the proof) and src/dpop_replay.c (settings,
 * replay); jwt_authenticate applies the token binding through the latter.
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "dpop.h"
#include "dpop_replay.h"

/* A text argument as a NUL-terminated UTF-8 string. */
static char *
utf8_argument(text *t)
{
	char	   *s = text_to_cstring(t);

	return (char *) pg_do_encoding_conversion((unsigned char *) s, strlen(s),
											  GetDatabaseEncoding(), PG_UTF8);
}

/* jwt_thumbprint(jwk jsonb) RETURNS text: the RFC 7638 SHA-256 thumbprint of a public JWK */
PG_FUNCTION_INFO_V1(jwt_thumbprint);
Datum
jwt_thumbprint(PG_FUNCTION_ARGS)
{
	Jsonb	   *jwk = PG_GETARG_JSONB_P(0);
	char	   *json;
	char		jkt[DPOP_JKT_LEN + 1];
	JwtError	err;

	if (!JB_ROOT_IS_OBJECT(jwk) || JB_ROOT_IS_SCALAR(jwk))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a JWK must be a JSON object")));
	json = JsonbToCString(NULL, &jwk->root, VARSIZE(jwk));
	json = (char *) pg_do_encoding_conversion((unsigned char *) json, strlen(json),
											  GetDatabaseEncoding(), PG_UTF8);
	if (jwt_jwk_thumbprint(json, strlen(json), jkt, &err) != JWT_OK)
		jwt_raise(&err);
	PG_RETURN_TEXT_P(cstring_to_text(jkt));
}

/*
 * jwt_dpop_verify(proof text, method text, url text, access_token text
 * DEFAULT NULL, nonce text DEFAULT NULL) RETURNS jsonb: checks a DPoP proof
 * for a request and records it as used; returns {"jkt": thumbprint,
 * "claims": the proof's claims}.
 */
PG_FUNCTION_INFO_V1(jwt_dpop_verify);
Datum
jwt_dpop_verify(PG_FUNCTION_ARGS)
{
	text	   *proof;
	char	   *method,
			   *url,
			   *token = NULL,
			   *nonce = NULL;
	DpopProof	result;
	JwtError	err;
	StringInfoData buf;
	char	   *claims;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(MAKE_SQLSTATE('2', '8', 'J', 'D', '1')),
				 errmsg("no DPoP proof")));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a DPoP proof needs the request's method and url")));
	proof = PG_GETARG_TEXT_PP(0);
	method = utf8_argument(PG_GETARG_TEXT_PP(1));
	url = utf8_argument(PG_GETARG_TEXT_PP(2));
	if (!PG_ARGISNULL(3))
		token = text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (!PG_ARGISNULL(4))
		nonce = utf8_argument(PG_GETARG_TEXT_PP(4));

	if (jwt_dpop_verify_request(VARDATA_ANY(proof), VARSIZE_ANY_EXHDR(proof), method, url,
								token, token ? strlen(token) : 0, nonce, NULL, &result,
								&err) != JWT_OK)
		jwt_raise(&err);

	/* the claims are verified, valid UTF-8 JSON; jsonb_in reads the server encoding */
	claims = pg_any_to_server(result.tok.payload, (int) result.tok.payload_len, PG_UTF8);
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"jkt\": \"%s\", \"claims\": %s}", result.jkt, claims);
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
}
