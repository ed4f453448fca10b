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
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "keyring.h"
#include "revocation.h"

/*
 * The two tables and their primary-key indexes, found once per backend:
 * looking them up by name on every verification cost more than the index
 * lookups themselves.  Any relcache invalidation of them (DROP EXTENSION,
 * a rewrite) or a full reset forgets them.
 */
enum
{
	REVOKED_TOKENS,
	REVOKED_SUBJECTS
};
static const char *const revocation_tables[] = {"jwt_revoked_tokens", "jwt_revoked_subjects"};
static Oid	revocation_relid[2];
static Oid	revocation_index[2];

static void
revocation_relcache_callback(Datum arg, Oid relid)
{
	(void) arg;
	if (relid == InvalidOid || relid == revocation_relid[0] || relid == revocation_relid[1])
		memset(revocation_relid, 0, sizeof(revocation_relid));
}

void
jwt_revocation_init(void)
{
	CacheRegisterRelcacheCallback(revocation_relcache_callback, (Datum) 0);
}

/*
 * The row of a revocation table whose text primary key (declared COLLATE
 * "C", as the scan key below assumes) equals value; the value of column
 * want_col is put in *want (when not NULL).  False when there is no such row.
 */
static bool
lookup_by_key(int which, const char *value, const char *want_col, Datum *want, bool *want_null)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	Snapshot	snapshot;
	HeapTuple	tuple;
	bool		found = false;

	if (!OidIsValid(revocation_relid[which]))
	{
		Oid			schema = jwt_extension_schema();

		for (int i = 0; i < 2; i++)
		{
			Oid			relid = get_relname_relid(revocation_tables[i], schema);

			if (!OidIsValid(relid))
				elog(ERROR, "table %s of extension jwt is missing", revocation_tables[i]);
			rel = table_open(relid, AccessShareLock);
#if PG_VERSION_NUM >= 170000
			revocation_index[i] = RelationGetPrimaryKeyIndex(rel, false);
#else
			revocation_index[i] = RelationGetPrimaryKeyIndex(rel);
#endif
			table_close(rel, AccessShareLock);
			if (!OidIsValid(revocation_index[i]))
				elog(ERROR, "table %s has no primary key", revocation_tables[i]);
			revocation_relid[i] = relid;
		}
	}
	rel = table_open(revocation_relid[which], AccessShareLock);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(value));
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = systable_beginscan(rel, revocation_index[which], true, snapshot, 1, &key);
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

	if (jti != NULL && lookup_by_key(REVOKED_TOKENS, jti, NULL, NULL, NULL))
		return jwt_fail(err, JWT_ERR_REVOKED, "token has been revoked");
	if (sub != NULL &&
		lookup_by_key(REVOKED_SUBJECTS, sub, "revoked_before", &before, &before_null) &&
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
