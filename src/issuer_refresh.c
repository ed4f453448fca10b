/*
 * issuer_refresh.c - JWKS URL settings, the refresh worker and its nudge
 *
 * With shared_preload_libraries = 'jwt', one background worker per database
 * named in jwt.issuer_databases refreshes that database's issuers when they
 * are due, through the same SQL function an explicit refresh (or pg_cron)
 * calls, each issuer in a transaction of its own.  It starts only once
 * recovery has finished: a standby receives the keys through WAL.
 *
 * A verification that meets an unknown kid calls jwt_issuer_nudge(): a flag
 * and a SetLatch in shared memory, at most once a minute per database, so
 * verification never does network I/O and never waits for the refresh.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "issuer_refresh.h"
#include "keyring.h"

#define MAX_ISSUER_DATABASES 16
/* A nudge refreshes early at most this often per database. */
#define NUDGE_INTERVAL_MS 60000
/* The longest sleep between two looks at the issuers table. */
#define MAX_SLEEP_MS 60000

static char *http_ca_file = NULL;
static int	http_timeout_ms = 10000;
static int	http_max_bytes = 256 * 1024;
static bool http_allow_loopback_http = false;
static char *issuer_databases = NULL;

/* One worker's slot: its database and latch, and the pending nudge. */
typedef struct IssuerSlot
{
	Oid			database;		/* InvalidOid until the worker has connected */
	Latch	   *latch;
	bool		nudged;
	TimestampTz last_nudge;
} IssuerSlot;

typedef struct IssuerShared
{
	slock_t		mutex;
	int			nslots;
	IssuerSlot	slots[MAX_ISSUER_DATABASES];
} IssuerShared;

static IssuerShared *shared = NULL;
/* The worker's memory for one round, reset at its start. */
static MemoryContext round_cxt = NULL;
static int	ndatabases = 0;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif

PGDLLEXPORT void jwt_issuer_refresh_main(Datum arg);

/* Create or attach the shared slots. */
static void
issuer_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("jwt issuer refresh", sizeof(IssuerShared), &found);
	if (!found)
	{
		memset(shared, 0, sizeof(IssuerShared));
		SpinLockInit(&shared->mutex);
		shared->nslots = ndatabases;
	}
	LWLockRelease(AddinShmemInitLock);
}

#if PG_VERSION_NUM >= 150000
static void
issuer_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(IssuerShared)));
}
#endif

/* Register one refresh worker per database of jwt.issuer_databases. */
static void
register_workers(void)
{
	char	   *list = pstrdup(issuer_databases);
	List	   *names;
	ListCell   *lc;

	if (!SplitIdentifierString(list, ',', &names))
	{
		ereport(WARNING,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("jwt.issuer_databases is not a list of database names: no issuer refresh worker starts")));
		return;
	}
	foreach(lc, names)
	{
		const char *db = (const char *) lfirst(lc);
		BackgroundWorker worker;

		if (ndatabases == MAX_ISSUER_DATABASES)
		{
			ereport(WARNING,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("jwt.issuer_databases names more than %d databases: the rest get no refresh worker",
							MAX_ISSUER_DATABASES)));
			break;
		}
		if (strlen(db) >= BGW_EXTRALEN)
			continue;
		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		/* never on a standby: its keys arrive through WAL */
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = 60;
		snprintf(worker.bgw_library_name, BGW_MAXLEN, "jwt");
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "jwt_issuer_refresh_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "jwt issuer refresh");
		snprintf(worker.bgw_type, BGW_MAXLEN, "jwt issuer refresh");
		worker.bgw_main_arg = Int32GetDatum(ndatabases);
		snprintf(worker.bgw_extra, BGW_EXTRALEN, "%s", db);
		RegisterBackgroundWorker(&worker);
		ndatabases++;
	}
}

/* The keyring met a kid that no key of the token's issuer has. */
static void
kid_miss(const char *iss, const char *kid)
{
	/* iss is unverified: it only triggers the (rate-limited) refresh of known issuers */
	(void) iss;
	(void) kid;
	jwt_issuer_nudge();
}

/* Define the settings; with the library preloaded, the shared memory and workers. */
void
jwt_issuer_refresh_init(void)
{
	DefineCustomStringVariable("jwt.http_ca_file",
							   "CA certificates (PEM file) that identity providers' TLS certificates must chain to; empty: the system store.",
							   NULL, &http_ca_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomIntVariable("jwt.http_timeout",
							"Longest a JWKS or discovery fetch may take, connection included.",
							NULL, &http_timeout_ms, 10000, 100, 120000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("jwt.http_max_bytes",
							"Largest JWKS or discovery response accepted.",
							NULL, &http_max_bytes, 256 * 1024, 1024, 16 * 1024 * 1024,
							PGC_SUSET, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomBoolVariable("jwt.http_allow_loopback_http",
							 "For tests: allow plain http to 127.0.0.1 and [::1] (https is required otherwise).",
							 NULL, &http_allow_loopback_http, false,
							 PGC_SUSET, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	/* read at server start; PGC_POSTMASTER may only be defined while preloading */
	DefineCustomStringVariable("jwt.issuer_databases",
							   "Databases whose issuers a background worker refreshes (needs shared_preload_libraries = 'jwt' and a restart).",
							   NULL, &issuer_databases, "",
							   process_shared_preload_libraries_in_progress ? PGC_POSTMASTER : PGC_SIGHUP,
							   0, NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	register_workers();
	if (ndatabases == 0)
		return;
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = issuer_shmem_request;
#else
	RequestAddinShmemSpace(MAXALIGN(sizeof(IssuerShared)));
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = issuer_shmem_startup;
	jwt_keyring_kid_miss_hook = kid_miss;
}

/* The fetch limits the settings give. */
void
jwt_http_limits(HttpFetchLimits *limits)
{
	limits->ca_file = http_ca_file;
	limits->timeout_ms = http_timeout_ms;
	limits->connect_timeout_ms = Min(http_timeout_ms, 5000);
	limits->max_bytes = http_max_bytes;
	limits->allow_loopback_http = http_allow_loopback_http;
}

/* A token named a kid that no key has: wake this database's worker, once a minute at most. */
void
jwt_issuer_nudge(void)
{
	TimestampTz now;
	Latch	   *latch = NULL;
	int			i;

	if (shared == NULL || !OidIsValid(MyDatabaseId))
		return;
	now = GetCurrentTimestamp();
	SpinLockAcquire(&shared->mutex);
	for (i = 0; i < shared->nslots; i++)
	{
		IssuerSlot *s = &shared->slots[i];

		if (s->database == MyDatabaseId && s->latch != NULL &&
			TimestampDifferenceExceeds(s->last_nudge, now, NUDGE_INTERVAL_MS))
		{
			s->last_nudge = now;
			s->nudged = true;
			latch = s->latch;
		}
	}
	SpinLockRelease(&shared->mutex);
	if (latch)
		SetLatch(latch);
}

/* Forget the worker's latch when it exits. */
static void
slot_detach(int code, Datum arg)
{
	IssuerSlot *s = &shared->slots[DatumGetInt32(arg)];

	(void) code;
	SpinLockAcquire(&shared->mutex);
	s->latch = NULL;
	s->database = InvalidOid;
	SpinLockRelease(&shared->mutex);
}

/* Begin a worker transaction with SPI and a snapshot. */
static void
worker_begin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

static void
worker_end(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * The extension's schema, if jwt is installed here at a version with
 * issuers (NULL otherwise), in the worker's long-lived context.
 */
static char *
issuers_schema(void)
{
	char	   *schema = NULL;

	if (SPI_execute("SELECT quote_ident(n.nspname) FROM pg_catalog.pg_extension e "
					"JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
					"WHERE e.extname = 'jwt' AND pg_catalog.to_regprocedure("
					"pg_catalog.quote_ident(n.nspname) || '._jwt_issuers_due(boolean)') IS NOT NULL",
					true, 1) == SPI_OK_SELECT && SPI_processed == 1)
		schema = MemoryContextStrdup(round_cxt,
									 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	return schema;
}

/*
 * Refresh the issuers that are due (with nudged, also those not tried in the
 * last minute), each in a transaction of its own; return how long to sleep.
 */
static long
refresh_round(bool nudged)
{
	char	   *schema;
	List	   *due = NIL;
	ListCell   *lc;
	long		sleep_ms = MAX_SLEEP_MS;
	uint64		i;

	MemoryContextReset(round_cxt);
	worker_begin("jwt: looking for issuers to refresh");
	schema = issuers_schema();
	if (schema != NULL &&
		SPI_execute(psprintf("SELECT due FROM %s._jwt_issuers_due(%s) AS due", schema,
							 nudged ? "true" : "false"), true, 0) == SPI_OK_SELECT)
	{
		/* the list outlives the transaction */
		MemoryContext old = MemoryContextSwitchTo(round_cxt);

		for (i = 0; i < SPI_processed; i++)
			due = lappend(due, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		MemoryContextSwitchTo(old);
	}
	worker_end();
	if (schema == NULL)
		return sleep_ms;

	foreach(lc, due)
	{
		Oid			types[1] = {TEXTOID};
		Datum		values[1];

		CHECK_FOR_INTERRUPTS();
		worker_begin("jwt: refreshing an issuer's JWKS");
		values[0] = CStringGetTextDatum((char *) lfirst(lc));
		/*
		 * Failures are recorded in jwt_issuers (and logged as a WARNING) by
		 * the function; an issuer dropped since the list was read is skipped
		 * rather than raised (the worker would exit and wait to restart).
		 */
		(void) SPI_execute_with_args(psprintf("SELECT %s.jwt_refresh_issuer(s.issuer) "
											  "FROM %s.jwt_issuer_sources s WHERE s.issuer = $1",
											  schema, schema),
									 1, types, values, NULL, false, 0);
		worker_end();
	}

	worker_begin("jwt: next issuer refresh");
	if (SPI_execute(psprintf("SELECT pg_catalog.ceil(1000 * extract(epoch FROM min(next_refresh) - pg_catalog.clock_timestamp()))::bigint "
							 "FROM %s.jwt_issuer_sources", schema), true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			sleep_ms = (long) Max(Min(DatumGetInt64(d), MAX_SLEEP_MS), 100);
	}
	worker_end();
	return sleep_ms;
}

/* The worker of one database (bgw_extra names it). */
void
jwt_issuer_refresh_main(Datum arg)
{
	int			slot = DatumGetInt32(arg);
	char		dbname[BGW_EXTRALEN];

	/* die, not bgworker_die: a SIGTERM during a fetch ends it at the next interrupt check */
	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	snprintf(dbname, sizeof(dbname), "%s", MyBgworkerEntry->bgw_extra);
	BackgroundWorkerInitializeConnection(dbname, NULL, 0);
	/*
	 * The worker is the bootstrap superuser: its own SQL must resolve in
	 * pg_catalog only, whatever search_path the database (or its owner, or a
	 * schema named after the superuser) would give it.
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);

	if (shared == NULL || slot < 0 || slot >= shared->nslots)
		proc_exit(0);
	SpinLockAcquire(&shared->mutex);
	shared->slots[slot].database = MyDatabaseId;
	shared->slots[slot].latch = MyLatch;
	shared->slots[slot].nudged = false;
	SpinLockRelease(&shared->mutex);
	before_shmem_exit(slot_detach, Int32GetDatum(slot));
	round_cxt = AllocSetContextCreate(TopMemoryContext, "jwt issuer refresh round",
									  ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		bool		nudged;
		long		sleep_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		SpinLockAcquire(&shared->mutex);
		nudged = shared->slots[slot].nudged;
		shared->slots[slot].nudged = false;
		SpinLockRelease(&shared->mutex);

		sleep_ms = refresh_round(nudged);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
