/*
 * stats.c - SQL entry points of the statistics (src/stats.c)
 *
 * _jwt_stats() returns one row per database slot, under the view jwt_stats;
 * jwt_stats_reset() zeroes the counters.  Reading is open to everyone, as
 * pg_stat_database is; resetting is for superusers and the roles granted
 * EXECUTE on jwt_stats_reset() (the SQL script revokes it from PUBLIC).
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "stats.h"

#define STATS_COLUMNS 15

/* The failures of a row as a JSON object {"SQLSTATE": count}, the counted ones only. */
static Datum
failures_jsonb(const JwtStatsRow *row)
{
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int f = 0; f < row->nfailures; f++)
	{
		if (row->failures[f] == 0)
			continue;
		appendStringInfo(&buf, "%s\"%s\": " UINT64_FORMAT, first ? "" : ", ",
						 row->failure_codes[f], row->failures[f]);
		first = false;
	}
	appendStringInfoChar(&buf, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
}

/*
 * _jwt_stats(OUT scope text, OUT datid oid, OUT verifications bigint, ...)
 * RETURNS SETOF record
 */
PG_FUNCTION_INFO_V1(jwt_stats_rows);
Datum
jwt_stats_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			max = jwt_stats_max_rows();
	JwtStatsRow *rows = palloc(sizeof(JwtStatsRow) * max);
	int			n = jwt_stats_read(rows, max);
	TimestampTz reset = jwt_stats_reset_time();
	const char *scope = jwt_stats_shared() ? "cluster" : "backend";

#if PG_VERSION_NUM >= 150000
	InitMaterializedSRF(fcinfo, 0);
#else
	{
		TupleDesc	tupdesc;
		MemoryContext old;

		if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
			!(rsinfo->allowedModes & SFRM_Materialize))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("set-valued function called in context that cannot accept a set")));
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
		rsinfo->returnMode = SFRM_Materialize;
		rsinfo->setResult = tuplestore_begin_heap(true, false, work_mem);
		rsinfo->setDesc = CreateTupleDescCopy(tupdesc);
		MemoryContextSwitchTo(old);
	}
#endif

	for (int i = 0; i < n; i++)
	{
		const JwtStatsRow *r = &rows[i];
		const uint64 *c = r->counters;
		Datum		values[STATS_COLUMNS];
		bool		nulls[STATS_COLUMNS] = {0};
		int			k = 0;

		values[k++] = CStringGetTextDatum(scope);
		nulls[k] = !OidIsValid(r->dbid);
		values[k++] = ObjectIdGetDatum(r->dbid);
		values[k++] = Int64GetDatum((int64) (c[JWT_STAT_VERIFY_OK] + c[JWT_STAT_VERIFY_FAIL]));
		values[k++] = Int64GetDatum((int64) c[JWT_STAT_VERIFY_FAIL]);
		values[k++] = Int64GetDatum((int64) (c[JWT_STAT_AUTH_OK] + c[JWT_STAT_AUTH_FAIL]));
		values[k++] = Int64GetDatum((int64) c[JWT_STAT_AUTH_FAIL]);
		values[k++] = Int64GetDatum((int64) c[JWT_STAT_REVOKED]);
		values[k++] = Int64GetDatum((int64) c[JWT_STAT_KEYCACHE_HIT]);
		values[k++] = Int64GetDatum((int64) c[JWT_STAT_KEYCACHE_MISS]);
		values[k++] = Int64GetDatum((int64) c[JWT_STAT_KEYRING_LOAD]);
		values[k++] = Int64GetDatum((int64) c[JWT_STAT_REVCACHE_HIT]);
		values[k++] = Int64GetDatum((int64) c[JWT_STAT_REVCACHE_MISS]);
		values[k++] = Int64GetDatum((int64) c[JWT_STAT_REVCACHE_LOAD]);
		values[k++] = failures_jsonb(r);
		values[k++] = TimestampTzGetDatum(reset);
		Assert(k == STATS_COLUMNS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* jwt_stats_reset() RETURNS void: zero every counter (EXECUTE is granted, not public) */
PG_FUNCTION_INFO_V1(jwt_stats_reset);
Datum
jwt_stats_reset(PG_FUNCTION_ARGS)
{
	jwt_stats_reset_all();
	PG_RETURN_VOID();
}
