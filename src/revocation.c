/*
 * revocation.c - is a verified token revoked?
 *
 * Two tables of the extension: jwt_revoked_tokens (by jti) and
 * jwt_revoked_subjects (every token of a subject issued before a time).
 * They are ordinary WAL-logged rows, so revocations survive crashes and
 * replicate to standbys.  Lookups go through the primary-key indexes directly,
 * with the latest snapshot, so a revocation committed by another session
 * counts at once; nothing is written.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_collation.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "keyring.h"
#include "revocation.h"

/*
 * The row of table whose text primary key (declared COLLATE "C", as the scan
 * key below assumes) equals value; the value of column want_col is put in
 * *want (when not NULL).  False when there is no such row.
 */
static bool
lookup_by_key(const char *table, const char *value, const char *want_col, Datum *want, bool *want_null)
{
	Oid			relid = get_relname_relid(table, jwt_extension_schema());
	Relation	rel;
	Oid			index;
	ScanKeyData key;
	SysScanDesc scan;
	Snapshot	snapshot;
	HeapTuple	tuple;
	bool		found = false;

	if (!OidIsValid(relid))
		elog(ERROR, "table %s of extension jwt is missing", table);
	rel = table_open(relid, AccessShareLock);
#if PG_VERSION_NUM >= 170000
	index = RelationGetPrimaryKeyIndex(rel, false);
#else
	index = RelationGetPrimaryKeyIndex(rel);
#endif
	if (!OidIsValid(index))
		elog(ERROR, "table %s has no primary key", table);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(value));
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = systable_beginscan(rel, index, true, snapshot, 1, &key);
	if (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		found = true;
		if (want != NULL)
		{
			TupleDesc	desc = RelationGetDescr(rel);

			for (int i = 0; i < desc->natts; i++)
				if (strcmp(NameStr(TupleDescAttr(desc, i)->attname), want_col) == 0)
					*want = heap_getattr(tuple, i + 1, desc, want_null);
		}
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return found;
}

static const char *
string_claim(const JsonDoc *claims, const char *name)
{
	const JsonMember *m = json_doc_get(claims, name);

	return (m != NULL && m->value.kind == JK_STRING) ? m->value.str : NULL;
}

/* Called after the signature and the claim rules have passed. */
JwtStatus
jwt_check_revocation(const JsonDoc *claims, JwtError *err)
{
	const char *jti = string_claim(claims, "jti");
	const char *sub = string_claim(claims, "sub");
	Datum		before;
	bool		before_null = true;

	if (jti != NULL && lookup_by_key("jwt_revoked_tokens", jti, NULL, NULL, NULL))
		return jwt_fail(err, JWT_ERR_REVOKED, "token has been revoked");
	if (sub != NULL &&
		lookup_by_key("jwt_revoked_subjects", sub, "revoked_before", &before, &before_null) &&
		!before_null)
	{
		const JsonMember *iat = json_doc_get(claims, "iat");
		double		cutoff = (double) DatumGetTimestampTz(before) / USECS_PER_SEC +
			(double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;

		/* without iat the token cannot show it came after the cut-off */
		if (iat == NULL || iat->value.kind != JK_NUMBER || strtod(iat->value.str, NULL) < cutoff)
		{
			jwt_fail(err, JWT_ERR_REVOKED, "token has been revoked");
			jwt_fail_detail(err, "Every token of its subject issued before a cut-off is revoked.");
			return JWT_ERR_REVOKED;
		}
	}
	return JWT_OK;
}
