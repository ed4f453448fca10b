/*
 * impersonate.c - SQL entry points of impersonation (src/identity.c)
 *
 * jwt_impersonate(claims) makes claims the identity without a token, for
 * tests of row-level security: through the same core as jwt_authenticate(),
 * role switching included, so that policies see what they would see in
 * production.  Only superusers and the roles granted EXECUTE on
 * jwt_impersonator() may; each use is logged; jwt_identity() tells an
 * impersonated identity from an authenticated one.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "identity.h"
#include "keyring.h"

/* pg_proc_aclcheck became object_aclcheck in PostgreSQL 16. */
#if PG_VERSION_NUM >= 160000
#define object_aclcheck_compat(oid, role) object_aclcheck(ProcedureRelationId, (oid), (role), ACL_EXECUTE)
#else
#define object_aclcheck_compat(oid, role) pg_proc_aclcheck((oid), (role), ACL_EXECUTE)
#endif

/*
 * Impersonating anyone reads every row that anyone may read: superusers, and
 * the roles granted EXECUTE on jwt_impersonator(), which PUBLIC does not have.
 */
static void
check_impersonator(void)
{
	Oid			nsp;
	List	   *name;
	Oid			marker;

	if (superuser())
		return;
	nsp = jwt_extension_schema();
	name = list_make2(makeString(get_namespace_name(nsp)), makeString("jwt_impersonator"));
	marker = LookupFuncName(name, 0, NULL, false);
	if (object_aclcheck_compat(marker, GetUserId()) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to impersonate a jwt identity"),
				 errhint("GRANT EXECUTE ON FUNCTION jwt_impersonator() TO the roles that run tests.")));
}

/*
 * The "sub" claim for the log, as JSON text: quoted and escaped, so that
 * no value can start a line of its own in the log.
 */
static char *
sub_for_log(Jsonb *claims)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&claims->root, "sub", 3, NULL);
	StringInfoData buf;

	if (v == NULL)
		return "(none)";
	initStringInfo(&buf);
	switch (v->type)
	{
		case jbvString:
			escape_json(&buf, pnstrdup(v->val.string.val, v->val.string.len));
			break;
		case jbvNull:
			appendStringInfoString(&buf, "null");
			break;
		case jbvBool:
			appendStringInfoString(&buf, v->val.boolean ? "true" : "false");
			break;
		case jbvNumeric:
			appendStringInfoString(&buf, DatumGetCString(DirectFunctionCall1(numeric_out,
																			 NumericGetDatum(v->val.numeric))));
			break;
		default:
			appendStringInfoString(&buf, "(not a scalar)");
			break;
	}
	return buf.data;
}

/*
 * jwt_impersonate(claims jsonb) RETURNS jsonb
 * Make claims the current identity, as jwt_authenticate() would with a token
 * holding them (the same scope, the same role switch through jwt.role_claim),
 * marked as impersonated by the current role.
 */
PG_FUNCTION_INFO_V1(jwt_impersonate);
Datum
jwt_impersonate(PG_FUNCTION_ARGS)
{
	Jsonb	   *claims;
	const char *role_claim = jwt_identity_role_claim();
	const char *role = NULL;
	Oid			impersonator_id = GetUserId();
	char	   *impersonator;

	check_impersonator();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("no claims to impersonate")));
	claims = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_OBJECT(claims))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("claims to impersonate must be a JSON object")));

	/* the same refusal as jwt_authenticate's for a token naming no role */
	if (role_claim != NULL)
	{
		JsonbValue *v = getKeyJsonValueFromContainer(&claims->root, role_claim, strlen(role_claim), NULL);

		if (v == NULL || v->type != jbvString)
			ereport(ERROR,
					(errcode(MAKE_SQLSTATE('2', '8', 'J', '0', '8')),
					 errmsg("claims have no \"%s\" claim naming a role", role_claim)));
		role = pnstrdup(v->val.string.val, v->val.string.len);
	}

	/* the name before any role switch: the role that asked */
	impersonator = GetUserNameFromId(impersonator_id, false);
	jwt_identity_impersonate(JsonbToCString(NULL, &claims->root, VARSIZE(claims)), role, impersonator);
	/* the statement holds all the claims: the log gets the sub only */
	if (GetSessionUserId() != impersonator_id)
		ereport(LOG,
				(errmsg("jwt: role \"%s\" (session user \"%s\") impersonates sub %s%s%s",
						impersonator, GetUserNameFromId(GetSessionUserId(), false),
						sub_for_log(claims), role ? " as role " : "", role ? quote_identifier(role) : ""),
				 errhidestmt(true)));
	else
		ereport(LOG,
				(errmsg("jwt: role \"%s\" impersonates sub %s%s%s", impersonator, sub_for_log(claims),
						role ? " as role " : "", role ? quote_identifier(role) : ""),
				 errhidestmt(true)));
	PG_RETURN_JSONB_P(claims);
}

/*
 * jwt_identity(OUT authenticated boolean, OUT impersonated boolean,
 *              OUT impersonated_by text, OUT claims jsonb)
 * Where the current identity comes from: a verified token, an impersonation,
 * or (authenticated and impersonated both false, claims not NULL) the
 * request.jwt.claims fallback of jwt.trust_postgrest_claims.
 */
PG_FUNCTION_INFO_V1(jwt_identity);
Datum
jwt_identity(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	Jsonb	   *claims = jwt_identity_claims();
	const char *impersonator = jwt_identity_impersonator();
	bool		is_set = jwt_identity_is_set();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "jwt_identity must return a record");
	tupdesc = BlessTupleDesc(tupdesc);

	values[0] = BoolGetDatum(is_set && impersonator == NULL);
	values[1] = BoolGetDatum(impersonator != NULL);
	if (impersonator != NULL)
		values[2] = CStringGetTextDatum(impersonator);
	else
		nulls[2] = true;
	if (claims != NULL)
		values[3] = PointerGetDatum(PG_DETOAST_DATUM_COPY(PointerGetDatum(claims)));
	else
		nulls[3] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
