/*
 * sessions.c - SQL entry points of sessions and single-use tokens
 *
 * jwt_session_start, jwt_session_refresh and jwt_session_end check who calls
 * and what is presented, make the random values and digests (src/session.c),
 * and call the install script's internal SECURITY DEFINER functions directly,
 * through the function manager: PUBLIC has no EXECUTE on them, so SQL cannot
 * reach them, and they never see a refresh token, only its SHA-256.
 * A session started with dpop_jkt is refreshed only with a DPoP proof by that
 * key (src/dpop_replay.c checks it).  jwt_consume verifies as jwt_verify does
 * with the keyring, then records the token's jti as used.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xlog.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "b64url.h"
#include "dpop_replay.h"
#include "jwt_sql.h"
#include "keyring.h"
#include "session.h"
#include "transport.h"

/* jwt.c's verification, whose options jwt_consume shares */
extern PGDLLEXPORT Datum jwt_verify_text(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum jwt_is_valid_text(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum jwt_verify_lists_text(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum jwt_is_valid_lists_text(PG_FUNCTION_ARGS);

/* pg_proc_aclcheck became object_aclcheck in PostgreSQL 16. */
#if PG_VERSION_NUM >= 160000
#define object_aclcheck_compat(oid, role) object_aclcheck(ProcedureRelationId, (oid), (role), ACL_EXECUTE)
#else
#define object_aclcheck_compat(oid, role) pg_proc_aclcheck((oid), (role), ACL_EXECUTE)
#endif

/* A function of the extension's schema by name and argument types. */
static Oid
extension_function(const char *name, int nargs, const Oid *types)
{
	List	   *qualified = list_make2(makeString(get_namespace_name(jwt_extension_schema())),
									   makeString(pstrdup(name)));

	return LookupFuncName(qualified, nargs, types, false);
}

/*
 * The internal functions' OIDs, looked up once per backend: finding the
 * extension's schema and the function by name on every call cost more than
 * a refresh's own statements.  Any change to pg_proc (DROP EXTENSION, an
 * update) forgets them.
 */
#define INTERNAL_CACHE_SIZE 8
static struct
{
	const char *name;			/* a string constant */
	Oid			oid;
}			internal_cache[INTERNAL_CACHE_SIZE];
static int	internal_cached = 0;
static bool internal_callback_registered = false;

static void
internal_cache_reset(Datum arg, int cacheid, uint32 hashvalue)
{
	(void) arg;
	(void) cacheid;
	(void) hashvalue;
	internal_cached = 0;
}

static Oid
internal_function(const char *name, int nargs, const Oid *types)
{
	Oid			oid;

	if (!internal_callback_registered)
	{
		CacheRegisterSyscacheCallback(PROCOID, internal_cache_reset, (Datum) 0);
		internal_callback_registered = true;
	}
	/* a change committed by another session since this backend looked */
	AcceptInvalidationMessages();
	for (int i = 0; i < internal_cached; i++)
		if (strcmp(internal_cache[i].name, name) == 0)
			return internal_cache[i].oid;
	oid = extension_function(name, nargs, types);
	if (internal_cached < INTERNAL_CACHE_SIZE)
	{
		internal_cache[internal_cached].name = name;
		internal_cache[internal_cached].oid = oid;
		internal_cached++;
	}
	return oid;
}

/*
 * Call an internal function of the install script directly (its own
 * SECURITY DEFINER and search_path apply; EXECUTE is not checked, which is
 * the point: the caller was checked here).  At most 7 arguments.
 */
static Datum
call_internal(const char *name, int nargs, const Oid *types, const Datum *values,
			  const bool *nulls, bool *isnull)
{
	FmgrInfo	flinfo;
	LOCAL_FCINFO(fcinfo, 7);
	Datum		result;

	Assert(nargs <= 7);
	fmgr_info(internal_function(name, nargs, types), &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, nargs, InvalidOid, NULL, NULL);
	for (int i = 0; i < nargs; i++)
	{
		fcinfo->args[i].value = values[i];
		fcinfo->args[i].isnull = nulls != NULL && nulls[i];
	}
	result = FunctionCallInvoke(fcinfo);
	*isnull = fcinfo->isnull;
	return result;
}

/* A string member of a jsonb object as a C string, or NULL. */
static char *
jsonb_member(Jsonb *jb, const char *name)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&jb->root, name, strlen(name), NULL);

	return (v != NULL && v->type == jbvString) ? pnstrdup(v->val.string.val, v->val.string.len) : NULL;
}

/* Sessions write: refuse at once on a standby, with a hint, rather than at the first write. */
static void
check_writable(const char *what)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s on a standby", what),
				 errhint("Call it on the primary; access tokens are verified on standbys too.")));
}

/* A lifetime argument in microseconds: positive, no months (their length varies). */
static int64
lifetime_argument(Interval *iv, const char *name)
{
	int64		us;

	if (iv->month != 0 ||
		pg_mul_s64_overflow((int64) iv->day, USECS_PER_DAY, &us) ||
		pg_add_s64_overflow(us, iv->time, &us) || us <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a positive interval of days, hours, minutes or seconds", name)));
	return us;
}

/* The row jwt_session_start and jwt_session_refresh return, from the internal function's jsonb. */
static Datum
session_row(FunctionCallInfo fcinfo, Jsonb *r, const char *refresh_token)
{
	TupleDesc	desc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	const char *names[] = {"access_token", NULL, "session_id", "access_expires_at", "refresh_expires_at"};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE || desc->natts != 5)
		elog(ERROR, "return type must be a row of five columns");
	desc = BlessTupleDesc(desc);
	for (int i = 0; i < 5; i++)
	{
		char	   *s = i == 1 ? pstrdup(refresh_token) : jsonb_member(r, names[i]);

		if (s == NULL)
			elog(ERROR, "session row without %s", names[i]);
		if (i >= 3)
			values[i] = DirectFunctionCall3(timestamptz_in, CStringGetDatum(s),
											ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		else
			values[i] = CStringGetTextDatum(s);
	}
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* Raise the refusal an internal function reported (status other than "ok"). */
static void
raise_refusal(const char *status, const char *sid)
{
	if (strcmp(status, "unknown") == 0)
		ereport(ERROR,
				(errcode(JWT_SQLSTATE_REFRESH_UNKNOWN),
				 errmsg("refresh token is unknown"),
				 errdetail("It was never issued by this database, or its session has been purged."),
				 errhidestmt(true)));
	if (strcmp(status, "expired") == 0)
		ereport(ERROR,
				(errcode(JWT_SQLSTATE_REFRESH_EXPIRED),
				 errmsg("refresh token has expired"),
				 errdetail("A session ends refresh_lifetime after it started; refreshing does not extend it."),
				 errhint("Start a new session."),
				 errhidestmt(true)));
	if (strcmp(status, "ended") == 0)
		ereport(ERROR,
				(errcode(JWT_SQLSTATE_SESSION_ENDED),
				 errmsg("session has ended"),
				 errdetail("Session \"%s\" was logged out or revoked.", sid ? sid : "?"),
				 errhidestmt(true)));
	if (strcmp(status, "subject") == 0)
		ereport(ERROR,
				(errcode(JWT_SQLSTATE_SESSION_ENDED),
				 errmsg("session has ended"),
				 errdetail("Its subject's tokens were revoked after the session started (jwt_revoke_subject)."),
				 errhidestmt(true)));
	if (strcmp(status, "dpop_required") == 0)
		ereport(ERROR,
				(errcode(JWT_SQLSTATE_REFRESH_DPOP_BOUND),
				 errmsg("refresh token is bound to a DPoP key"),
				 errdetail("The session was started with dpop_jkt: refreshing or ending it needs a DPoP proof by that key (RFC 9449 section 5). Nothing was changed."),
				 errhint("Call jwt_session_refresh or jwt_session_end with dpop_proof, method and url."),
				 errhidestmt(true)));
	if (strcmp(status, "dpop_mismatch") == 0)
		ereport(ERROR,
				(errcode(jwt_status_sqlstate(JWT_ERR_DPOP_BINDING)),
				 errmsg("DPoP proof key is not the key the refresh token is bound to"),
				 errdetail("Nothing was changed."),
				 errhidestmt(true)));
	if (strcmp(status, "dpop_unbound") == 0)
		ereport(ERROR,
				(errcode(jwt_status_sqlstate(JWT_ERR_DPOP_BINDING)),
				 errmsg("refresh token is not bound to a DPoP key"),
				 errdetail("The session was started without dpop_jkt; a proof would neither be checked nor bind it. Nothing was changed."),
				 errhint("Refresh it without a proof, or start a session with dpop_jkt."),
				 errhidestmt(true)));
	elog(ERROR, "unexpected session status \"%s\"", status);
}

/*
 * Run body, keeping the statement out of the server log if it fails: the
 * statement holds a bearer credential (a refresh token lives for days), and
 * any error (a lock or statement timeout, a read-only transaction) would
 * otherwise log it with log_min_error_statement.  Nor does any report body
 * raises without failing (a WARNING, a LOG or DEBUG line of PostgreSQL's own)
 * carry it, whatever level log_min_error_statement is set to: the statement
 * is hidden from the log while body runs.  Pass tokens as parameters: an
 * error before the function runs (a missing grant) logs the statement.
 */
static Datum
hiding_statement(PGFunction body, FunctionCallInfo fcinfo)
{
	MemoryContext cxt = CurrentMemoryContext;
	const char *statement = debug_query_string;
	Datum		result = (Datum) 0;

	debug_query_string = NULL;
	PG_TRY();
	{
		result = body(fcinfo);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		debug_query_string = statement;
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		edata->hide_stmt = true;
		ReThrowError(edata);
	}
	PG_END_TRY();
	debug_query_string = statement;
	return result;
}

/*
 * The family of a refresh token's digest, its key and why it may no longer be
 * refreshed ({"session_id", "dpop_jkt", "refusal"}); NULL: unknown.
 */
static Jsonb *
session_binding(bytea *digest)
{
	Oid			types[1] = {BYTEAOID};
	Datum		values[1] = {PointerGetDatum(digest)};
	bool		isnull;
	Datum		b = call_internal("_jwt_session_binding", 1, types, values, NULL, &isnull);

	return isnull ? NULL : DatumGetJsonbP(b);
}

/* A refresh or logout refused for its transport: its refresh token's digest and its arguments. */
typedef struct ExposedSession
{
	bytea	   *digest;			/* NULL: malformed */
	FunctionCallInfo fcinfo;
} ExposedSession;

static JwtStatus check_session_proof(FunctionCallInfo fcinfo, const char *jkt, JwtError *err);

/*
 * Whether the DPoP proof of a refresh or logout refused for its transport
 * would have been accepted for the family bound to key jkt: then the token
 * and a usable proof crossed in clear together.  Checking it records the
 * proof, in a transaction about to fail (src/dpop_replay.c).
 */
static bool
exposed_proof_usable(FunctionCallInfo fcinfo, const char *jkt)
{
	JwtError	err;

	if (PG_NARGS() < 4 || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		return false;
	return check_session_proof(fcinfo, jkt, &err) == JWT_OK;
}

/*
 * A refresh token refused for its transport has been seen in clear: end its
 * session (jwt.revoke_exposed_tokens), in a transaction of its own.  A family
 * bound to a key only if a proof by that key, good for this request, came
 * along: the refresh token alone is useless without the key, and ending the
 * family would let whoever holds a copy end it from a connection without TLS.
 * A family refused already (ended, expired) is left as it is, its proof
 * unchecked (session_proof says why).
 */
static bool
end_exposed_session(void *arg)
{
	ExposedSession *x = (ExposedSession *) arg;
	Jsonb	   *binding;
	char	   *jkt;
	char	   *sid;

	if (x->digest == NULL || (binding = session_binding(x->digest)) == NULL ||
		jsonb_member(binding, "refusal") != NULL)
		return false;
	jkt = jsonb_member(binding, "dpop_jkt");
	if (jkt != NULL && !exposed_proof_usable(x->fcinfo, jkt))
		return false;
	sid = jsonb_member(binding, "session_id");
	if (sid == NULL)
		return false;
	if (!jwt_session_pending_record(sid))
		return jwt_session_revoke_detached(sid, "exposed in clear");
	if (!jwt_session_revoke_detached(sid, "exposed in clear"))
		return false;
	jwt_session_pending_forget(sid);
	return true;
}

/*
 * Revoke, in this transaction, the families whose revocation a worker could
 * not commit (jwt_session_pending_record): before any refresh, so that a
 * refresh of such a family is refused (28JS4) until one commits.
 */
static void
apply_pending_revocations(void)
{
	List	   *sids = jwt_session_pending_take();
	ListCell   *lc;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	bool		isnull;

	foreach(lc, sids)
	{
		values[0] = CStringGetTextDatum((char *) lfirst(lc));
		values[1] = CStringGetTextDatum("refresh token reuse");
		(void) call_internal("_jwt_session_revoke", 2, types, values, NULL, &isnull);
	}
	list_free_deep(sids);
}

/* The digest of a refresh token argument, or NULL when it is malformed. */
static bytea *
digest_or_null(text *token)
{
	bytea	   *digest = palloc(VARHDRSZ + 32);

	SET_VARSIZE(digest, VARHDRSZ + 32);
	if (!jwt_session_token_digest(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token),
								  (unsigned char *) VARDATA(digest)))
		return NULL;
	return digest;
}

/*
 * The refresh token argument of a refresh or logout, as its digest, after
 * the checks both make in this order: present, on a primary, the transport
 * (a token refused for it may end its session), well formed; then the
 * families whose end a worker could not commit are ended.
 */
static bytea *
presented_refresh_token(FunctionCallInfo fcinfo, const char *what)
{
	ExposedSession exposed;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(JWT_SQLSTATE_REFRESH_UNKNOWN),
				 errmsg("no refresh token")));
	check_writable(what);
	exposed.digest = digest_or_null(PG_GETARG_TEXT_PP(0));
	exposed.fcinfo = fcinfo;
	jwt_transport_check(end_exposed_session, &exposed);
	if (exposed.digest == NULL)
		ereport(ERROR,
				(errcode(JWT_SQLSTATE_REFRESH_UNKNOWN),
				 errmsg("refresh token is unknown"),
				 errdetail("A refresh token is 43 base64url characters."),
				 errhidestmt(true)));
	apply_pending_revocations();
	return exposed.digest;
}

/*
 * jwt_session_start(claims jsonb, access_lifetime interval, refresh_lifetime
 * interval, dpop_jkt text) RETURNS (access_token, refresh_token, session_id,
 * access_expires_at, refresh_expires_at)
 * Needs EXECUTE on jwt_keyring_signer(), as signing with the keyring does:
 * a session mints keyring-signed tokens until it ends.
 */
PG_FUNCTION_INFO_V1(jwt_session_start);
Datum
jwt_session_start(PG_FUNCTION_ARGS)
{
	static const char *const reserved[] = {"sid", "jti", "exp", "iat", "nbf", "cnf"};
	Oid			marker = internal_function("jwt_keyring_signer", 0, NULL);
	Jsonb	   *claims;
	int64		access_us,
				refresh_us;
	char	   *refresh_token;
	bytea	   *digest;
	Oid			types[7] = {JSONBOID, INTERVALOID, INTERVALOID, TEXTOID, TEXTOID, TEXTOID, BYTEAOID};
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};
	bool		isnull;
	Jsonb	   *r;

	if (object_aclcheck_compat(marker, GetUserId()) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to start a session"),
				 errdetail("A session signs its access tokens with the jwt keyring."),
				 errhint("GRANT EXECUTE ON FUNCTION jwt_keyring_signer() TO the roles that issue tokens.")));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("claims, access_lifetime and refresh_lifetime must not be NULL")));
	claims = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_OBJECT(claims) || JB_ROOT_IS_SCALAR(claims))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("claims must be a JSON object")));
	for (size_t i = 0; i < lengthof(reserved); i++)
		if (getKeyJsonValueFromContainer(&claims->root, reserved[i], strlen(reserved[i]), NULL) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("claim \"%s\" is set by the session", reserved[i]),
					 errdetail("Each access token gets sid, a fresh jti, iat and exp (and cnf from dpop_jkt).")));
	access_us = lifetime_argument(PG_GETARG_INTERVAL_P(1), "access_lifetime");
	refresh_us = lifetime_argument(PG_GETARG_INTERVAL_P(2), "refresh_lifetime");
	if (access_us > refresh_us)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("access_lifetime must not exceed refresh_lifetime")));
	if (!PG_ARGISNULL(3))
	{
		text	   *jkt = PG_GETARG_TEXT_PP(3);
		unsigned char raw[33];
		size_t		rawlen;

		/* an RFC 7638 SHA-256 thumbprint: 32 bytes, 43 base64url characters */
		if (VARSIZE_ANY_EXHDR(jkt) != 43 ||
			!b64url_decode(VARDATA_ANY(jkt), 43, raw, &rawlen) || rawlen != 32)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("dpop_jkt must be a SHA-256 JWK thumbprint"),
					 errdetail("A thumbprint is 43 base64url characters (RFC 7638), as jwt_thumbprint() returns.")));
	}
	check_writable("start a session");
	/* the tokens come back over this connection: not in clear, when the policy says so */
	jwt_transport_check(NULL, NULL);

	refresh_token = jwt_session_random_text(JWT_REFRESH_TOKEN_BYTES);
	digest = palloc(VARHDRSZ + 32);
	SET_VARSIZE(digest, VARHDRSZ + 32);
	if (!jwt_session_token_digest(refresh_token, strlen(refresh_token), (unsigned char *) VARDATA(digest)))
		elog(ERROR, "a new refresh token is malformed");
	values[0] = JsonbPGetDatum(claims);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = PG_GETARG_DATUM(2);
	values[3] = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	nulls[3] = PG_ARGISNULL(3);
	values[4] = CStringGetTextDatum(jwt_session_random_text(JWT_SESSION_ID_BYTES));
	values[5] = CStringGetTextDatum(jwt_session_random_text(16));
	values[6] = PointerGetDatum(digest);
	r = DatumGetJsonbP(call_internal("_jwt_session_create", 7, types, values, nulls, &isnull));
	return session_row(fcinfo, r, refresh_token);
}

/* A text argument as UTF-8, or NULL when NULL. */
static const char *
utf8_argument_or_null(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return jwt_server_cstring_to_utf8(text_to_cstring(PG_GETARG_TEXT_PP(argno)), what);
}

/*
 * Check the DPoP proof (argument 1, with method and url) that came with a
 * refresh token against the key its family is bound to, and return that
 * key's thumbprint, before anything is written: a proof by another key, a
 * replayed or stale one, or one for another request neither rotates the
 * token nor ends the family.  The proof's jti is recorded only once its key
 * matched (src/dpop_replay.c), and only for a family still open: a family
 * that ended (or expired) is refused first, or its refresh tokens, kept
 * until purged, would let their holder fill the shared store with proofs
 * that no rollback erases.  A proof for an unbound family is refused: it
 * would bind nothing, and a client that sends one expects a bound session.
 */
static char *
session_proof(FunctionCallInfo fcinfo, Jsonb *binding)
{
	char	   *jkt = jsonb_member(binding, "dpop_jkt");
	char	   *refusal = jsonb_member(binding, "refusal");
	JwtError	err;

	Assert(!PG_ARGISNULL(1));
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a DPoP proof needs the request's method and url"),
				 errhidestmt(true)));
	if (refusal != NULL)
		raise_refusal(refusal, jsonb_member(binding, "session_id"));
	if (jkt == NULL)
		raise_refusal("dpop_unbound", NULL);
	if (check_session_proof(fcinfo, jkt, &err) != JWT_OK)
		jwt_raise(&err);
	return jkt;
}

/*
 * Check the proof (arguments 1-3, none NULL) by key jkt for this request.
 * A refresh or logout sends no access token, so a proof with "ath" (RFC 9449
 * section 4.2: made for a request with an access token) is refused: an API
 * call's proof never passes for a refresh, whatever method and url the
 * caller passes.
 */
static JwtStatus
check_session_proof(FunctionCallInfo fcinfo, const char *jkt, JwtError *err)
{
	const char *proof = utf8_argument_or_null(fcinfo, 1, "dpop_proof");
	const char *method = utf8_argument_or_null(fcinfo, 2, "method");
	const char *url = utf8_argument_or_null(fcinfo, 3, "url");
	DpopProof	result;

	return jwt_dpop_verify_token_request(proof, strlen(proof), method, url, jkt, &result, err);
}

/*
 * jwt_session_refresh(refresh_token text) RETURNS the row of jwt_session_start
 * jwt_session_refresh(refresh_token text, dpop_proof text, method text, url text)
 * EXECUTE is granted (PUBLIC has none): the refresh token is the credential,
 * with a proof by the session's key when it was started with dpop_jkt.
 */
static Datum
session_refresh(PG_FUNCTION_ARGS)
{
	bytea	   *digest;
	bytea	   *new_digest;
	char	   *new_token;
	char	   *proven_jkt = NULL;
	Oid			types[4] = {BYTEAOID, BYTEAOID, TEXTOID, TEXTOID};
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	bool		isnull;
	Jsonb	   *r;
	char	   *status;
	char	   *sid;

	digest = presented_refresh_token(fcinfo, "refresh a session");
	if (PG_NARGS() > 1 && !PG_ARGISNULL(1))
	{
		Jsonb	   *binding = session_binding(digest);

		if (binding == NULL)
			raise_refusal("unknown", NULL);
		proven_jkt = session_proof(fcinfo, binding);
	}

	new_token = jwt_session_random_text(JWT_REFRESH_TOKEN_BYTES);
	new_digest = palloc(VARHDRSZ + 32);
	SET_VARSIZE(new_digest, VARHDRSZ + 32);
	if (!jwt_session_token_digest(new_token, strlen(new_token), (unsigned char *) VARDATA(new_digest)))
		elog(ERROR, "a new refresh token is malformed");
	values[0] = PointerGetDatum(digest);
	values[1] = PointerGetDatum(new_digest);
	values[2] = CStringGetTextDatum(jwt_session_random_text(16));
	values[3] = proven_jkt != NULL ? CStringGetTextDatum(proven_jkt) : (Datum) 0;
	nulls[3] = proven_jkt == NULL;
	r = DatumGetJsonbP(call_internal("_jwt_session_rotate", 4, types, values, nulls, &isnull));
	status = jsonb_member(r, "status");
	sid = jsonb_member(r, "session_id");
	if (status == NULL)
		elog(ERROR, "session refresh without status");
	if (strcmp(status, "ok") == 0)
		return session_row(fcinfo, r, new_token);
	if (strcmp(status, "reused") == 0)
	{
		/*
		 * This error rolls back the caller's transaction: the family's end is
		 * recorded outside it first, so that no refresh of the family
		 * succeeds until a transaction commits that end, then committed by a
		 * worker.  Without a worker (no free slot, a lock held by this very
		 * transaction) or if this wait is cancelled, the record stays.
		 */
		bool		recorded = jwt_session_pending_record(sid);
		bool		revoked = jwt_session_revoke_detached(sid, "refresh token reuse");

		if (revoked && recorded)
			jwt_session_pending_forget(sid);
		if (!revoked && recorded)
			ereport(ERROR,
					(errcode(JWT_SQLSTATE_REFRESH_REUSED),
					 errmsg("refresh token reuse detected; session revoked"),
					 errdetail("The refresh token had been used already: session \"%s\" is refused from now on; its access tokens are revoked when the next refresh or logout commits.", sid),
					 errhint("The user must sign in again."),
					 errhidestmt(true)));

		ereport(ERROR,
				(errcode(JWT_SQLSTATE_REFRESH_REUSED),
				 errmsg("refresh token reuse detected; session revoked"),
				 revoked
				 ? errdetail("The refresh token had been used already: every token of session \"%s\" is revoked.", sid)
				 : errdetail("The refresh token had been used already, but session \"%s\" could not be revoked.", sid),
				 errhint("The user must sign in again."),
				 errhidestmt(true)));
	}
	raise_refusal(status, sid);
	PG_RETURN_NULL();			/* not reached */
}

/*
 * jwt_session_end(refresh_token text) RETURNS boolean: logout.  Any refresh
 * token of the family, used or not, ends it: presenting an old one is what
 * reuse does anyway.  True if this call ended it.
 * jwt_session_end(refresh_token text, dpop_proof text, method text, url text):
 * a family bound to a key is ended only with a proof by that key, as it is
 * refreshed: a thief holding one of its refresh tokens but not the key must
 * not be able to log its user out either.
 */
static Datum
session_end(PG_FUNCTION_ARGS)
{
	bytea	   *digest;
	Jsonb	   *binding;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	bool		isnull;
	char	   *sid;

	digest = presented_refresh_token(fcinfo, "end a session");
	binding = session_binding(digest);
	if (binding == NULL)
		raise_refusal("unknown", NULL);
	sid = jsonb_member(binding, "session_id");
	if (sid == NULL)
		elog(ERROR, "session binding without session_id");
	/*
	 * A family that may no longer be refreshed (ended, expired, its subject
	 * revoked) is ended without a proof: that takes nothing from its user, and
	 * a proof checked would be recorded for nothing (session_proof).
	 */
	if (jsonb_member(binding, "refusal") == NULL)
	{
		if (PG_NARGS() > 1 && !PG_ARGISNULL(1))
			(void) session_proof(fcinfo, binding);
		else if (jsonb_member(binding, "dpop_jkt") != NULL)
			raise_refusal("dpop_required", sid);
	}
	values[0] = CStringGetTextDatum(sid);
	values[1] = CStringGetTextDatum("logout");
	PG_RETURN_DATUM(call_internal("_jwt_session_revoke", 2, types, values, NULL, &isnull));
}

/* ---------- single-use tokens ---------- */

/* Arguments of jwt_consume, and the jwt_verify argument each becomes. */
enum
{
	CONSUME_TOKEN,
	CONSUME_KEY,				/* must be NULL: the keyring */
	CONSUME_ALGORITHMS,
	CONSUME_AUDIENCE,
	CONSUME_ISSUER,
	CONSUME_LEEWAY,
	CONSUME_REQUIRED,
	CONSUME_MAX_AGE,
	CONSUME_TYP,
	CONSUME_SUBJECT,
	CONSUME_NARGS
};
#define VERIFY_NARGS 12

/*
 * jwt_consume's two forms, as jwt_verify's: audience and issuer text, or the
 * list form (token, audiences text[], key, algorithms, issuers text[], ...),
 * whose positions are those of jwt_verify's list form.
 */
typedef struct ConsumeForm
{
	int			key;			/* position of key */
	PGFunction	verify;
	PGFunction	is_valid;
} ConsumeForm;

static const ConsumeForm consume_text_form = {CONSUME_KEY, jwt_verify_text, jwt_is_valid_text};
static const ConsumeForm consume_lists_form = {2, jwt_verify_lists_text, jwt_is_valid_lists_text};

typedef struct ConsumeCall
{
	FunctionCallInfo fcinfo;
	const ConsumeForm *form;
} ConsumeCall;

/* Call jwt_verify (or jwt_is_valid) with the keyring and jwt_consume's options. */
static Datum
verify_for_consume(FunctionCallInfo outer, PGFunction fn, bool *isnull)
{
	LOCAL_FCINFO(fcinfo, VERIFY_NARGS);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, outer->flinfo, VERIFY_NARGS, outer->fncollation, NULL, NULL);
	for (int i = 0; i < VERIFY_NARGS; i++)
	{
		fcinfo->args[i].value = (Datum) 0;
		fcinfo->args[i].isnull = true;	/* key, now, check_revoked: the keyring's defaults */
	}
	for (int i = 0; i < CONSUME_NARGS; i++)
	{
		/* the same positions as jwt_verify's */
		fcinfo->args[i].value = outer->args[i].value;
		fcinfo->args[i].isnull = outer->args[i].isnull;
	}
	result = fn(fcinfo);
	*isnull = fcinfo->isnull;
	return result;
}

/*
 * A single-use token refused for its transport has been seen in clear: if it
 * verifies, revoke it (jwt.revoke_exposed_tokens), so that whoever saw it
 * cannot consume it later.
 */
static bool
revoke_exposed_single_use(void *arg)
{
	ConsumeCall *call = (ConsumeCall *) arg;
	bool		isnull;
	Jsonb	   *claims;
	char	   *jti;
	JsonbValue *exp;

	if (!DatumGetBool(verify_for_consume(call->fcinfo, call->form->is_valid, &isnull)) || isnull)
		return false;
	claims = DatumGetJsonbP(verify_for_consume(call->fcinfo, call->form->verify, &isnull));
	jti = jsonb_member(claims, "jti");
	if (jti == NULL || jti[0] == '\0')
		return false;
	exp = getKeyJsonValueFromContainer(&claims->root, "exp", 3, NULL);
	return jwt_transport_revoke_exposed(jti, exp != NULL && exp->type == jbvNumeric
										? DatumGetFloat8(DirectFunctionCall1(numeric_float8,
																			 NumericGetDatum(exp->val.numeric)))
										: -1);
}

/*
 * jwt_consume(token text, key text, algorithms text[], audience text, issuer text,
 * leeway interval, required text[], max_age interval, typ text, subject text)
 * RETURNS jsonb
 * jwt_verify with the keyring (no key, no now, revocation always checked),
 * then the jti recorded as used in the same transaction: the unique key makes
 * a concurrent second use wait for the first, and then fail.
 */
static Datum
consume(FunctionCallInfo fcinfo, const ConsumeForm *form)
{
	ConsumeCall call = {fcinfo, form};
	Jsonb	   *claims;
	char	   *jti;
	JsonbValue *exp;
	bool		isnull;
	Oid			types[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		values[2] = {(Datum) 0, (Datum) 0};
	bool		nulls[2] = {false, false};

	if (PG_ARGISNULL(CONSUME_TOKEN))
		ereport(ERROR,
				(errcode(MAKE_SQLSTATE('2', '2', 'J', '0', '1')),
				 errmsg("no token to consume")));
	if (!PG_ARGISNULL(form->key))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("jwt_consume verifies with the keyring only"),
				 errdetail("A token anyone holding the key could mint again is not single-use."),
				 errhint("Sign single-use tokens with the keyring and pass key => NULL.")));
	if (!PG_ARGISNULL(CONSUME_LEEWAY))
	{
		Interval   *iv = PG_GETARG_INTERVAL_P(CONSUME_LEEWAY);
		Interval	day;

		memset(&day, 0, sizeof(day));
		day.time = USECS_PER_DAY;
		/* consumed ids are purged a day after exp: a longer leeway could consume one again */
		if (DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(iv),
											  IntervalPGetDatum(&day))) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("leeway must not exceed 1 day"),
					 errdetail("A consumed token id is kept until a day after the token's exp.")));
	}
	check_writable("consume a token");
	jwt_transport_check(revoke_exposed_single_use, &call);

	claims = DatumGetJsonbP(verify_for_consume(fcinfo, form->verify, &isnull));
	if (isnull)
		elog(ERROR, "jwt_verify returned NULL");

	/*
	 * A token bound to a key (cnf) is accepted only with a proof of
	 * possession (RFC 9449 section 7.1), which jwt_consume cannot check: a
	 * thief holding such a token must not get a use out of it here.
	 */
	if (getKeyJsonValueFromContainer(&claims->root, "cnf", 3, NULL) != NULL)
		ereport(ERROR,
				(errcode(MAKE_SQLSTATE('2', '8', 'J', 'D', 'D')),
				 errmsg("a token bound to a key cannot be consumed"),
				 errdetail("Its claim \"cnf\" binds it to a key; jwt_consume checks no proof of possession."),
				 errhidestmt(true)));
	jti = jsonb_member(claims, "jti");
	if (jti == NULL || jti[0] == '\0')
		ereport(ERROR,
				(errcode(MAKE_SQLSTATE('2', '8', 'J', '0', '8')),
				 errmsg("token has no \"jti\" claim"),
				 errdetail("A single-use token needs a jti: its id is what is recorded as used."),
				 errhidestmt(true)));
	exp = getKeyJsonValueFromContainer(&claims->root, "exp", 3, NULL);
	values[0] = CStringGetTextDatum(jti);
	if (exp != NULL && exp->type == jbvNumeric)
	{
		double		e = ceil(DatumGetFloat8(DirectFunctionCall1(numeric_float8,
																NumericGetDatum(exp->val.numeric))));

		values[1] = DirectFunctionCall1(float8_timestamptz, Float8GetDatum(e));
	}
	else
		nulls[1] = true;		/* no exp (jwt.require_exp off): kept for ever */
	if (!DatumGetBool(call_internal("_jwt_consume_record", 2, types, values, nulls, &isnull)))
		ereport(ERROR,
				(errcode(JWT_SQLSTATE_TOKEN_CONSUMED),
				 errmsg("token has already been used"),
				 errdetail("A single-use token is accepted once."),
				 errhidestmt(true)));
	PG_RETURN_JSONB_P(claims);
}

/*
 * The entry points that take a bearer credential: their statement stays out
 * of the server log whatever fails (hiding_statement).
 */
PG_FUNCTION_INFO_V1(jwt_session_refresh);
Datum
jwt_session_refresh(PG_FUNCTION_ARGS)
{
	return hiding_statement(session_refresh, fcinfo);
}

PG_FUNCTION_INFO_V1(jwt_session_end);
Datum
jwt_session_end(PG_FUNCTION_ARGS)
{
	return hiding_statement(session_end, fcinfo);
}

static Datum
consume_text(PG_FUNCTION_ARGS)
{
	return consume(fcinfo, &consume_text_form);
}

static Datum
consume_lists(PG_FUNCTION_ARGS)
{
	return consume(fcinfo, &consume_lists_form);
}

PG_FUNCTION_INFO_V1(jwt_consume);
Datum
jwt_consume(PG_FUNCTION_ARGS)
{
	return hiding_statement(consume_text, fcinfo);
}

/* jwt_consume(token text, audiences text[], key text, algorithms text[], issuers text[], ...) */
PG_FUNCTION_INFO_V1(jwt_consume_lists);
Datum
jwt_consume_lists(PG_FUNCTION_ARGS)
{
	return hiding_statement(consume_lists, fcinfo);
}
