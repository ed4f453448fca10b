/*
 * revocation.c - SQL entry points of revocation (src/revocation.c) and the
 * revocation of a token exposed over an unencrypted connection
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/timestamp.h"

#include "json_strict.h"
#include "jws.h"
#include "revocation.h"
#include "transport.h"
#include "jwt_sql.h"

/* jwt_is_revoked(token text) RETURNS boolean: by its jti or its subject's cut-off, signature unchecked */
PG_FUNCTION_INFO_V1(jwt_is_revoked);
Datum
jwt_is_revoked(PG_FUNCTION_ARGS)
{
	text	   *token = PG_GETARG_TEXT_PP(0);
	JwsToken	tok;
	JsonDoc		claims;
	JwtError	err;
	JsonStrictResult jr;
	JwtStatus	st;

	if (jws_parse(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token),
				  (size_t) jwt_max_token_length, &tok, &err) != JWT_OK)
		jwt_raise(&err);
	if ((jr = json_strict_parse(tok.payload, tok.payload_len, &claims)) != JSON_STRICT_OK)
	{
		jwt_claims_parse_failure(jr, &claims, &err);
		jwt_raise(&err);
	}
	st = jwt_check_revocation(&claims, tok.payload, tok.payload_len, &err);
	/* a jti or sub too long to be revoked is not "not revoked" */
	if (st != JWT_OK && st != JWT_ERR_REVOKED)
		jwt_raise(&err);
	PG_RETURN_BOOL(st == JWT_ERR_REVOKED);
}

/*
 * A token refused for its transport has been seen in clear: revoke it, by
 * jti or else by digest, if it is one of ours (its signature verifies:
 * a forged token revokes nothing and so cannot fill the list).
 */
bool
jwt_revoke_exposed_token(void *arg)
{
	VerifyRequest quiet = *(VerifyRequest *) arg;
	JwsToken	tok;
	JsonDoc		claims;
	JwtError	err;
	const JsonMember *jti,
			   *exp;

	quiet.check_revoked = true;	/* revoked already: nothing to do, and no worker to start */
	if (jwt_verify_request(&quiet, &tok, &claims, &err) != JWT_OK)
		return false;
	jti = json_doc_get(&claims, "jti");
	exp = json_doc_get(&claims, "exp");
	/* an empty jti cannot be revoked (jwt_revoke_jti refuses it): say so, start nothing */
	if (jti != NULL && jti->value.kind == JK_STRING && jti->value.len == 0)
		return false;
	return jwt_transport_revoke_exposed(jti != NULL && jti->value.kind == JK_STRING
										? jwt_utf8_to_server_cstring(jti->value.str)
										: jwt_revocation_digest_id(tok.payload, tok.payload_len),
										exp != NULL && exp->value.kind == JK_NUMBER
										? json_number_double(&exp->value) : -1);
}

/*
 * _jwt_revoke_exposed(token text) RETURNS boolean: the PostgREST helper's
 * way to revoke a token that came over plain HTTP, when
 * jwt.revoke_exposed_tokens is on; true if it revoked the token.
 */
PG_FUNCTION_INFO_V1(jwt_revoke_exposed);
Datum
jwt_revoke_exposed(PG_FUNCTION_ARGS)
{
	VerifyRequest req;

	if (PG_ARGISNULL(0) || !jwt_transport_revoke_exposed_enabled())
		PG_RETURN_BOOL(false);
	jwt_authentication_request(&req, PG_GETARG_TEXT_PP(0));
	PG_RETURN_BOOL(jwt_revoke_exposed_token(&req));
}

/* jwt_revocation_cutoff() RETURNS timestamptz: see jwt_revocation_next_cutoff */
PG_FUNCTION_INFO_V1(jwt_revocation_cutoff);
Datum
jwt_revocation_cutoff(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(jwt_revocation_next_cutoff());
}
