/*
 * stats.c - counters of verifications, authentications, failures and caches,
 * and the authentication log line
 *
 * With the library in shared_preload_libraries the counters are in shared
 * memory, one slot of 64-bit atomics per database: jwt.stats_databases
 * slots (64 by default), claimed by the first count of a database and kept until the server
 * stops (a dropped database's counts stay until then), and one more that
 * counts every database beyond them.  Otherwise (the library loaded by a
 * backend when first used) there is no shared memory to ask for: the
 * counters are this backend's own, in the same layout, and the view says
 * so (scope 'backend').
 *
 * Failures are counted by SQLSTATE: one counter per code that a
 * verification or jwt_authenticate() raises (failure_codes below), and one
 * for any other.  A code added to src/jwt_error.h belongs in that table.
 *
 * A counting site costs a test of jwt.track_stats and an increment of a
 * backend-local counter: the counts are added to the slot (one atomic add
 * each) when the transaction ends, as PostgreSQL's own statistics are, and
 * before this backend reads the view.  A locked add per count cost 2% of an
 * HS256 verification.
 */
#include "postgres.h"

#include "access/xact.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "stats.h"

/* The SQLSTATEs counted one by one; index JWT_STAT_NFAILURES - 1 is "other". */
static const char *const failure_codes[] = {
	"22J01", "22J02", "22J03", "22J04", "22J05", "22J06",
	"28J01", "28J02", "28J03", "28J04", "28J05", "28J06", "28J07",
	"28J08", "28J09", "28J0A", "28J0B", "28J0C", "28J0D",
	"28JR1", "28JT1",
	"22023", "54000", "55J01", "XX000",
	"other"
};
#define JWT_STAT_NFAILURES lengthof(failure_codes)

typedef struct JwtStatsSlot
{
	pg_atomic_uint32 dbid;		/* 0: free */
	pg_atomic_uint64 counters[JWT_STAT_NCOUNTERS];
	pg_atomic_uint64 failures[JWT_STAT_NFAILURES];
} JwtStatsSlot;

typedef struct JwtStatsShared
{
	pg_atomic_uint64 reset_time;	/* TimestampTz of the last reset (or start) */
	int			ndatabases;		/* jwt.stats_databases at start */
	JwtStatsSlot slots[FLEXIBLE_ARRAY_MEMBER];	/* ndatabases + 1: the last, other databases */
} JwtStatsShared;

static JwtStatsShared *stats_shared = NULL;
static JwtStatsSlot local_slot;
static TimestampTz local_reset_time = 0;
static JwtStatsSlot *my_slot = NULL;	/* found at this backend's first flush */
static int	failure_sqlstates[JWT_STAT_NFAILURES];
static int	pending_failure = 0;	/* the SQLSTATE jwt_stats_verified() just counted */

/* Counts of this backend not yet added to its slot. */
static uint64 pending_counters[JWT_STAT_NCOUNTERS];
static uint64 pending_failures[JWT_STAT_NFAILURES];
static bool pending = false;

static bool track_stats = true;
static bool log_authentications = false;
static int	stats_databases = 64;

/* Shared memory for n database slots and the one of the others. */
static Size
stats_shmem_size(int n)
{
	return add_size(offsetof(JwtStatsShared, slots), mul_size(n + 1, sizeof(JwtStatsSlot)));
}

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

#if PG_VERSION_NUM >= 150000
static void
stats_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(stats_shmem_size(stats_databases));
}
#endif

/* Create or attach the shared counters (postmaster, and EXEC_BACKEND children). */
static void
stats_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	stats_shared = ShmemInitStruct("jwt statistics", stats_shmem_size(stats_databases), &found);
	if (!found)
	{
		pg_atomic_init_u64(&stats_shared->reset_time, (uint64) GetCurrentTimestamp());
		stats_shared->ndatabases = stats_databases;
		for (int i = 0; i <= stats_databases; i++)
		{
			JwtStatsSlot *s = &stats_shared->slots[i];

			pg_atomic_init_u32(&s->dbid, 0);
			for (int c = 0; c < JWT_STAT_NCOUNTERS; c++)
				pg_atomic_init_u64(&s->counters[c], 0);
			for (int f = 0; f < (int) JWT_STAT_NFAILURES; f++)
				pg_atomic_init_u64(&s->failures[f], 0);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

static JwtStatsSlot *find_slot(void);

/* Add this backend's pending counts to its slot. */
static void
stats_flush(void)
{
	if (!pending)
		return;
	if (my_slot == NULL)
		my_slot = find_slot();
	for (int c = 0; c < JWT_STAT_NCOUNTERS; c++)
		if (pending_counters[c] != 0)
		{
			if (stats_shared != NULL)
				pg_atomic_fetch_add_u64(&my_slot->counters[c], pending_counters[c]);
			else				/* this backend's own: no other writer */
				pg_atomic_write_u64(&my_slot->counters[c],
									pg_atomic_read_u64(&my_slot->counters[c]) + pending_counters[c]);
			pending_counters[c] = 0;
		}
	for (int f = 0; f < (int) JWT_STAT_NFAILURES; f++)
		if (pending_failures[f] != 0)
		{
			if (stats_shared != NULL)
				pg_atomic_fetch_add_u64(&my_slot->failures[f], pending_failures[f]);
			else
				pg_atomic_write_u64(&my_slot->failures[f],
									pg_atomic_read_u64(&my_slot->failures[f]) + pending_failures[f]);
			pending_failures[f] = 0;
		}
	pending = false;
}

/* At the end of every transaction (committed or not), and of parallel workers' */
static void
stats_xact_callback(XactEvent event, void *arg)
{
	(void) event;
	(void) arg;
	stats_flush();
}

void
jwt_stats_init(void)
{
	for (int f = 0; f < (int) JWT_STAT_NFAILURES - 1; f++)
	{
		const char *c = failure_codes[f];

		failure_sqlstates[f] = MAKE_SQLSTATE(c[0], c[1], c[2], c[3], c[4]);
	}
	failure_sqlstates[JWT_STAT_NFAILURES - 1] = -1;
	pg_atomic_init_u32(&local_slot.dbid, 0);
	for (int c = 0; c < JWT_STAT_NCOUNTERS; c++)
		pg_atomic_init_u64(&local_slot.counters[c], 0);
	for (int f = 0; f < (int) JWT_STAT_NFAILURES; f++)
		pg_atomic_init_u64(&local_slot.failures[f], 0);
	local_reset_time = GetCurrentTimestamp();
	RegisterXactCallback(stats_xact_callback, NULL);

	/* superuser-only: a session must not hide its own failures from the counts */
	DefineCustomBoolVariable("jwt.track_stats",
							 "Count verifications, authentications, failures and cache use in jwt_stats.",
							 NULL, &track_stats, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	/* superuser-only: nor silence the log of its authentications */
	DefineCustomBoolVariable("jwt.log_authentications",
							 "Log one line per jwt_authenticate() call: sub, iss, kid, jti, sid, outcome and SQLSTATE.",
							 "Never the token or a key; strings from the token are escaped and truncated.",
							 &log_authentications, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	/* shared memory is sized at start: only a preloaded library can define it */
	DefineCustomIntVariable("jwt.stats_databases",
							"Databases counted each in a row of jwt_stats; the others share one more.",
							"Shared memory, sized at server start; with jwt in shared_preload_libraries only.",
							&stats_databases, 64, 1, 10000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = stats_shmem_request;
#else
	RequestAddinShmemSpace(stats_shmem_size(stats_databases));
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = stats_shmem_startup;
}

/* Whether the counters are the cluster's (preloaded) or this backend's. */
bool
jwt_stats_shared(void)
{
	return stats_shared != NULL;
}

/* How many rows jwt_stats_read() may return. */
int
jwt_stats_max_rows(void)
{
	return stats_shared != NULL ? stats_shared->ndatabases + 1 : 1;
}

/*
 * This backend's slot: its database's, claimed on first use, or the last
 * one when all are taken (or when no database is connected).
 */
static JwtStatsSlot *
find_slot(void)
{
	uint32		db = (uint32) MyDatabaseId;

	if (stats_shared == NULL)
	{
		pg_atomic_write_u32(&local_slot.dbid, db);
		return &local_slot;
	}
	if (db == 0)
		return &stats_shared->slots[stats_shared->ndatabases];
	for (int i = 0; i < stats_shared->ndatabases; i++)
	{
		JwtStatsSlot *s = &stats_shared->slots[i];
		uint32		cur = pg_atomic_read_u32(&s->dbid);

		if (cur == 0)
		{
			uint32		expected = 0;

			if (pg_atomic_compare_exchange_u32(&s->dbid, &expected, db))
				return s;
			cur = expected;		/* another backend claimed it first */
		}
		if (cur == db)
			return s;
	}
	return &stats_shared->slots[stats_shared->ndatabases];
}

void
jwt_stats_count(JwtStatCounter c)
{
	if (!track_stats)
		return;
	pending_counters[c]++;
	pending = true;
}

/* Count a failure by its SQLSTATE. */
void
jwt_stats_failure(int sqlerrcode)
{
	int			f = JWT_STAT_NFAILURES - 1;

	if (!track_stats)
		return;
	for (int i = 0; i < (int) JWT_STAT_NFAILURES - 1; i++)
		if (failure_sqlstates[i] == sqlerrcode)
		{
			f = i;
			break;
		}
	pending_failures[f]++;
	pending = true;
}

/* Count a verification's outcome; returns it, so that it wraps the call. */
JwtStatus
jwt_stats_verified(JwtStatus st)
{
	if (st == JWT_OK)
	{
		jwt_stats_count(JWT_STAT_VERIFY_OK);
		return st;
	}
	jwt_stats_count(JWT_STAT_VERIFY_FAIL);
	pending_failure = jwt_status_sqlstate(st);
	jwt_stats_failure(pending_failure);
	return st;
}

/*
 * A string from the token, made safe for one log line: quoted, printable
 * ASCII only (every other byte as \xNN, so no newline or control character
 * can start a line of its own), " and \ escaped, cut at 64 bytes.
 */
static void
append_value(StringInfo buf, const char *name, const char *s, int len)
{
	appendStringInfo(buf, " %s=", name);
	if (s == NULL)
	{
		appendStringInfoChar(buf, '-');
		return;
	}
	appendStringInfoChar(buf, '"');
	for (int i = 0; i < len && i < 64; i++)
	{
		unsigned char ch = (unsigned char) s[i];

		if (ch == '"' || ch == '\\')
			appendStringInfo(buf, "\\%c", ch);
		else if (ch >= 0x20 && ch < 0x7f)
			appendStringInfoChar(buf, (char) ch);
		else
			appendStringInfo(buf, "\\x%02x", ch);
	}
	appendStringInfoChar(buf, '"');
	if (len > 64)
		appendStringInfo(buf, "...(%d bytes)", len);
}

/* A string claim, when the claims were parsed (their signature verified). */
static void
append_claim(StringInfo buf, const JsonDoc *claims, const char *name)
{
	const JsonMember *m = claims->nmembers > 0 ? json_doc_get(claims, name) : NULL;

	if (m != NULL && m->value.kind == JK_STRING)
		append_value(buf, name, m->value.str, m->value.len);
	else
		append_value(buf, name, NULL, 0);
}

/*
 * The log line of an authentication: what the token says about whom, and
 * the outcome.  The claims only once its signature verified (a forged
 * token's claims are the forger's); the header's kid in any case.
 */
static void
log_authentication(const JwtAuthEvent *ev, int sqlerrcode)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "jwt authentication %s: sqlstate=%s",
					 sqlerrcode == 0 ? "succeeded" : "failed",
					 sqlerrcode == 0 ? "00000" : unpack_sql_state(sqlerrcode));
	append_claim(&buf, ev->claims, "sub");
	append_claim(&buf, ev->claims, "iss");
	append_value(&buf, "kid", ev->tok->kid, ev->tok->kid ? (int) strlen(ev->tok->kid) : 0);
	append_claim(&buf, ev->claims, "jti");
	append_claim(&buf, ev->claims, "sid");
	/* the statement and its context may hold the token */
	ereport(LOG,
			(errmsg_internal("%s", buf.data),
			 errhidestmt(true),
			 errhidecontext(true)));
	pfree(buf.data);
}

/*
 * Called for every report raised while jwt_authenticate() runs: an error
 * (class 03 and above; 00-02 are notices and warnings) is its failure,
 * counted by its SQLSTATE unless the verification counted it already, and
 * logged.  It runs before the error unwinds the stack, so the token and
 * claims are still there.
 */
static void
auth_error_callback(void *arg)
{
	JwtAuthEvent *ev = (JwtAuthEvent *) arg;
	int			code = geterrcode();

	/*
	 * Whatever is reported, the statement holds the token, and a refusal
	 * after its verification (no role claim, a role it cannot use, a timeout
	 * in the revocation check) would log a valid one.
	 */
	errhidestmt(true);
	if (ev->done || (PGUNSIXBIT(code) == '0' && PGUNSIXBIT(code >> 6) <= '2'))
		return;
	ev->done = true;
	jwt_stats_count(JWT_STAT_AUTH_FAIL);
	if (code != pending_failure)
		jwt_stats_failure(code);
	if (log_authentications)
		log_authentication(ev, code);
}

/*
 * Start watching a jwt_authenticate() call.  tok and claims are filled by
 * its verification; they are zeroed here so that the log can tell what was
 * reached.
 */
void
jwt_stats_auth_begin(JwtAuthEvent *ev, JwsToken *tok, JsonDoc *claims)
{
	memset(tok, 0, sizeof(*tok));
	memset(claims, 0, sizeof(*claims));
	ev->tok = tok;
	ev->claims = claims;
	ev->done = false;
	pending_failure = 0;
	ev->callback.callback = auth_error_callback;
	ev->callback.arg = ev;
	ev->callback.previous = error_context_stack;
	error_context_stack = &ev->callback;
}

/*
 * The call succeeded: count, log, and warn when the identity will not
 * outlive the statement.
 */
void
jwt_stats_auth_end(JwtAuthEvent *ev)
{
	const char *session_scope;

	error_context_stack = ev->callback.previous;
	ev->done = true;
	jwt_stats_count(JWT_STAT_AUTH_OK);
	if (log_authentications)
		log_authentication(ev, 0);
	if (IsTransactionBlock())
		return;
	session_scope = GetConfigOption("jwt.session_identity", true, false);
	if (session_scope == NULL || strcmp(session_scope, "on") != 0)
		ereport(WARNING,
				(errmsg("jwt_authenticate() outside a transaction block: the identity lasts only this statement"),
				 errhint("Call it after BEGIN, in the transaction that uses the identity."),
				 /* the statement holds the token, and so may the context (dynamic SQL) */
				 errhidestmt(true), errhidecontext(true)));
}

/* ---------- reading and resetting (the SQL layer's jwt_stats, jwt_stats_reset) ---------- */

static void
read_slot(JwtStatsSlot *s, JwtStatsRow *row)
{
	row->dbid = (Oid) pg_atomic_read_u32(&s->dbid);
	for (int c = 0; c < JWT_STAT_NCOUNTERS; c++)
		row->counters[c] = pg_atomic_read_u64(&s->counters[c]);
	StaticAssertStmt(JWT_STAT_NFAILURES <= lengthof(row->failures), "JwtStatsRow too small");
	row->nfailures = JWT_STAT_NFAILURES;
	for (int f = 0; f < (int) JWT_STAT_NFAILURES; f++)
	{
		row->failure_codes[f] = failure_codes[f];
		row->failures[f] = pg_atomic_read_u64(&s->failures[f]);
	}
}

/* The rows of the database slots in use (the last: other databases), at most max. */
int
jwt_stats_read(JwtStatsRow *rows, int max)
{
	int			n = 0;

	stats_flush();				/* this backend's own counts, at once */
	if (stats_shared == NULL)
	{
		if (my_slot == NULL)
			my_slot = find_slot();
		read_slot(&local_slot, &rows[n++]);
		return n;
	}
	for (int i = 0; i <= stats_shared->ndatabases && n < max; i++)
	{
		JwtStatsSlot *s = &stats_shared->slots[i];

		if (i < stats_shared->ndatabases && pg_atomic_read_u32(&s->dbid) == 0)
			continue;
		read_slot(s, &rows[n]);
		if (i == stats_shared->ndatabases)
			rows[n].dbid = InvalidOid;
		n++;
	}
	return n;
}

TimestampTz
jwt_stats_reset_time(void)
{
	if (stats_shared == NULL)
		return local_reset_time;
	return (TimestampTz) pg_atomic_read_u64(&stats_shared->reset_time);
}

static void
reset_slot(JwtStatsSlot *s)
{
	for (int c = 0; c < JWT_STAT_NCOUNTERS; c++)
		pg_atomic_write_u64(&s->counters[c], 0);
	for (int f = 0; f < (int) JWT_STAT_NFAILURES; f++)
		pg_atomic_write_u64(&s->failures[f], 0);
}

/*
 * Zero every counter.  Slots stay with their databases: backends keep a
 * pointer to theirs.
 */
void
jwt_stats_reset_all(void)
{
	stats_flush();
	if (stats_shared == NULL)
	{
		reset_slot(&local_slot);
		local_reset_time = GetCurrentTimestamp();
		return;
	}
	for (int i = 0; i <= stats_shared->ndatabases; i++)
		reset_slot(&stats_shared->slots[i]);
	pg_atomic_write_u64(&stats_shared->reset_time, (uint64) GetCurrentTimestamp());
}
