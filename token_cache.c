/*
 * token_cache.c - SQL entry points of the verified-token cache (src/token_cache.c)
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"

#include "token_cache.h"

/*
 * jwt_token_cache_stats(OUT entries integer, OUT bytes bigint, OUT hits bigint,
 * OUT misses bigint, OUT stores bigint, OUT evictions bigint, OUT flushes bigint)
 * RETURNS record: this backend's cache, for tests and benchmarks
 */
PG_FUNCTION_INFO_V1(jwt_token_cache_stats_sql);
Datum
jwt_token_cache_stats_sql(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	TokenCacheStats st;
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	jwt_token_cache_stats(&st);
	values[0] = Int32GetDatum(st.entries);
	values[1] = Int64GetDatum((int64) st.bytes);
	values[2] = Int64GetDatum((int64) st.hits);
	values[3] = Int64GetDatum((int64) st.misses);
	values[4] = Int64GetDatum((int64) st.stores);
	values[5] = Int64GetDatum((int64) st.evictions);
	values[6] = Int64GetDatum((int64) st.flushes);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
