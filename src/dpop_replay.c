/*
 * dpop_replay.c - DPoP settings and the store of proofs already seen
 *
 * A proof is single-use (RFC 9449 section 11.1): the SHA-256 of its key's
 * thumbprint and its jti goes into jwt_dpop_proofs, whose primary key makes
 * the first INSERT win and every other one find the row, across sessions and
 * atomically.  A row is kept until the proof would be refused as too old
 * anyway; recording purges a few expired rows now and then, and
 * jwt_dpop_purge() deletes all of them.  The table is private:
 * rows are written as its owner (as a SECURITY DEFINER function would),
 * with a fixed statement, so no caller can read or clear it.
 *
 * A row is written in the caller's transaction, so a caller that rolls back
 * (or rolls back to a savepoint) erases it, and could replay the proof
 * within its window.  With the library in shared_preload_libraries a
 * second store closes that: a fixed-size hash table in shared memory
 * (jwt.dpop_replay_entries), outside any transaction, checked and written
 * first under one lock.  A proof found in either store is a replay.  When
 * the shared store is full of proofs that have not expired, a proof is
 * refused (53400): evicting a live record would let it be replayed; once
 * expired records are swept, proofs issued no later than them are refused.
 * jwt_dpop_verify() may fill only half of it, so that anyone allowed to
 * call it with proofs by keys of their own making cannot stop
 * jwt_authenticate(), whose proofs must match a verified token's cnf.jkt.
 *
 * Where nothing can be written (a hot standby) replay cannot be checked:
 * such proofs are refused unless jwt.dpop_on_standby says otherwise; then
 * the standby's own shared store (if preloaded) still catches replays made
 * to it.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "dpop.h"
#include "dpop_replay.h"
#include "keyring.h"

enum
{
	DPOP_STANDBY_REFUSE,
	DPOP_STANDBY_SKIP_REPLAY_CHECK
};

static const struct config_enum_entry dpop_standby_options[] = {
	{"refuse", DPOP_STANDBY_REFUSE, false},
	{"skip_replay_check", DPOP_STANDBY_SKIP_REPLAY_CHECK, false},
	{NULL, 0, false}
};

static int	dpop_max_age = 300;
static int	dpop_clock_skew = 30;
static bool require_dpop = false;
static char *dpop_base_url = NULL;
static int	dpop_on_standby = DPOP_STANDBY_REFUSE;
static int	dpop_replay_entries = 65536;

/* The shared store of proofs seen (preloaded only): a record and the header. */
#define DPOP_DIGEST_LEN 32
#define DPOP_REPLAY_NAME "jwt DPoP proofs"

typedef struct DpopReplayEntry
{
	unsigned char digest[DPOP_DIGEST_LEN];	/* the key: SHA-256(jkt "." jti) */
	int64		expires;		/* Unix seconds; reusable from then on */
	int32		lifetime;		/* expires - ceil(iat), from the settings it was recorded under */
	bool		bound;			/* recorded by jwt_authenticate (cnf.jkt matched) */
} DpopReplayEntry;

typedef struct DpopReplayShared
{
	LWLock	   *lock;			/* guards all below and the hash table */
	int			capacity;		/* jwt.dpop_replay_entries at start */
	int			nentries;
	int			nunbound;		/* of them, recorded by jwt_dpop_verify */
	int64		next_expiry;	/* no record expires before: sweep only then */
	int64		horizon;		/* records of proofs with ceil(iat) up to this may be gone */
} DpopReplayShared;

static DpopReplayShared *replay_shared = NULL;
static HTAB *replay_hash = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif

/* The clock, in whole Unix seconds. */
static int64
unix_now(void)
{
	return (int64) ((GetCurrentTimestamp() - SetEpochTimestamp()) / USECS_PER_SEC);
}

/* Shared memory for the store. */
static Size
replay_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(DpopReplayShared)),
					hash_estimate_size(dpop_replay_entries, sizeof(DpopReplayEntry)));
}

#if PG_VERSION_NUM >= 150000
static void
replay_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(replay_shmem_size());
	RequestNamedLWLockTranche(DPOP_REPLAY_NAME, 1);
}
#endif

/*
 * Create or attach the store (postmaster, and EXEC_BACKEND children).  The
 * postmaster creates it again after a crash, empty: any proof issued up to
 * jwt.dpop_clock_skew ahead of now may have been used before (and rolled
 * back), so none is accepted until that much time has passed.
 */
static void
replay_shmem_startup(void)
{
	static bool made_before = false;
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	replay_shared = ShmemInitStruct(DPOP_REPLAY_NAME " header", sizeof(DpopReplayShared), &found);
	if (!found)
	{
		replay_shared->lock = &(GetNamedLWLockTranche(DPOP_REPLAY_NAME))->lock;
		replay_shared->capacity = dpop_replay_entries;
		replay_shared->nentries = 0;
		replay_shared->nunbound = 0;
		replay_shared->next_expiry = PG_INT64_MAX;
		replay_shared->horizon = made_before ? unix_now() + dpop_clock_skew + 1 : PG_INT64_MIN;
	}
	made_before = true;
	memset(&info, 0, sizeof(info));
	info.keysize = DPOP_DIGEST_LEN;
	info.entrysize = sizeof(DpopReplayEntry);
	/* every record allocated now: the store never takes more shared memory */
	replay_hash = ShmemInitHash(DPOP_REPLAY_NAME, dpop_replay_entries, dpop_replay_entries,
								&info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/* Settings.  Policy: superusers only (PGC_SUSET), read here after the library loaded. */
void
jwt_dpop_init(void)
{
	DefineCustomIntVariable("jwt.dpop_max_age",
							"How long after its iat a DPoP proof is accepted (and its jti remembered).",
							NULL, &dpop_max_age, 300, 1, 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("jwt.dpop_clock_skew",
							"Clock difference tolerated in a DPoP proof's iat, either way.",
							NULL, &dpop_clock_skew, 30, 0, 3600,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomBoolVariable("jwt.require_dpop",
							 "jwt_authenticate refuses tokens that are not bound to a DPoP key (cnf.jkt).",
							 NULL, &require_dpop, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("jwt.dpop_base_url",
							   "External base URL of the API (scheme, host, port, path prefix) that jwt_postgrest_pre_request prefixes to request.path for htu.",
							   NULL, &dpop_base_url, "",
							   PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("jwt.dpop_on_standby",
							 "On a hot standby, where no jti can be recorded: refuse DPoP proofs, or accept them without the replay check.",
							 NULL, &dpop_on_standby, DPOP_STANDBY_REFUSE, dpop_standby_options,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	/* shared memory is sized at start: only a preloaded library can define it */
	DefineCustomIntVariable("jwt.dpop_replay_entries",
							"DPoP proofs remembered in shared memory, across rollbacks, until they expire.",
							"Shared memory, sized at server start; with jwt in shared_preload_libraries only.",
							&dpop_replay_entries, 65536, 16, 64 * 1024 * 1024,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = replay_shmem_request;
#else
	RequestAddinShmemSpace(replay_shmem_size());
	RequestNamedLWLockTranche(DPOP_REPLAY_NAME, 1);
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = replay_shmem_startup;
}

bool
jwt_dpop_required(void)
{
	return require_dpop;
}

const char *
jwt_dpop_base_url(void)
{
	return dpop_base_url != NULL && dpop_base_url[0] != '\0' ? dpop_base_url : NULL;
}

/*
 * Every DPOP_PURGE_EVERY proofs a backend records, it deletes up to
 * DPOP_PURGE_ROWS expired rows (skipping rows another backend is deleting):
 * twice the rows it added, so expired rows cannot pile up while proofs come
 * in, whatever the cron job does.
 */
#define DPOP_PURGE_EVERY 128
#define DPOP_PURGE_ROWS 256
static int	records_since_purge = 0;

/* The owner of a relation. */
static Oid
relation_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

static JwtStatus verify_and_record(DpopCheck *req, const char *expected_jkt, DpopProof *result,
								   JwtError *err);

/* What the shared store says of a proof. */
typedef enum ReplayVerdict
{
	REPLAY_FRESH,				/* not seen: now recorded */
	REPLAY_SEEN,				/* recorded before */
	REPLAY_STALE,				/* past its expiry by the clock: refused as too old */
	REPLAY_FORGOTTEN,			/* issued no later than a record swept or lost: maybe seen */
	REPLAY_FULL					/* not seen, and no room without evicting a live record */
} ReplayVerdict;

/*
 * Remove the expired records; note when the next one expires, and the
 * latest iat whose record went.  Lock held.  A pass over the whole table,
 * but only when the store is full and a record has expired: at most once a
 * second (expiries are whole seconds).
 */
static void
replay_sweep(int64 now)
{
	HASH_SEQ_STATUS scan;
	DpopReplayEntry *e;
	int64		next = PG_INT64_MAX;

	hash_seq_init(&scan, replay_hash);
	while ((e = (DpopReplayEntry *) hash_seq_search(&scan)) != NULL)
	{
		if (e->expires <= now)
		{
			if (e->expires - e->lifetime > replay_shared->horizon)
				replay_shared->horizon = e->expires - e->lifetime;
			if (!e->bound)
				replay_shared->nunbound--;
			replay_shared->nentries--;
			(void) hash_search(replay_hash, e->digest, HASH_REMOVE, NULL);
		}
		else if (e->expires < next)
			next = e->expires;
	}
	replay_shared->next_expiry = next;
}

/*
 * Look a proof up in the shared store and record it there, in one step under
 * the lock, whatever the caller's transaction does next.  A record found is a
 * replay even when past its expiry.  A proof is recorded only while its
 * expiry is ahead of the clock read under the lock: a sweep frees only
 * records behind that clock, so no proof accepted afterwards, even by a
 * statement that began long ago, can be one whose record was swept.
 *
 * That holds for one window; but jwt.dpop_max_age and jwt.dpop_clock_skew
 * may differ between roles and databases, and a record made under a narrow
 * window may be swept while a wider one still accepts its proof.  So a
 * proof issued no later than a swept record (ceil(iat) at most the horizon)
 * is refused: under one window it would be too old anyway.
 */
static ReplayVerdict
replay_shared_record(const unsigned char *digest, int64 issued, int32 lifetime, bool bound)
{
	int64		expires = issued + lifetime;
	DpopReplayEntry *e;
	int64		now;
	bool		found;
	ReplayVerdict verdict = REPLAY_FRESH;

	LWLockAcquire(replay_shared->lock, LW_EXCLUSIVE);
	now = unix_now();
	if (hash_search(replay_hash, digest, HASH_FIND, NULL) != NULL)
		verdict = REPLAY_SEEN;
	else if (expires <= now)
		verdict = REPLAY_STALE;
	else if (issued <= replay_shared->horizon)
		verdict = REPLAY_FORGOTTEN;
	else
	{
		/* jwt_dpop_verify()'s records may take only half of the store */
		bool		room = replay_shared->nentries < replay_shared->capacity &&
			(bound || replay_shared->nunbound < replay_shared->capacity / 2);

		if (!room && replay_shared->next_expiry <= now)
		{
			replay_sweep(now);
			room = replay_shared->nentries < replay_shared->capacity &&
				(bound || replay_shared->nunbound < replay_shared->capacity / 2);
		}
		e = room ? (DpopReplayEntry *) hash_search(replay_hash, digest, HASH_ENTER_NULL, &found) : NULL;
		if (e == NULL)
			verdict = REPLAY_FULL;
		else
		{
			e->expires = expires;
			e->lifetime = lifetime;
			e->bound = bound;
			replay_shared->nentries++;
			if (!bound)
				replay_shared->nunbound++;
			if (expires < replay_shared->next_expiry)
				replay_shared->next_expiry = expires;
		}
	}
	LWLockRelease(replay_shared->lock);
	return verdict;
}

/*
 * Record a proof (its digest) in the shared store, when there is one;
 * raises when the store is full.
 */
static JwtStatus
replay_shared_check(const unsigned char *digest, int64 issued, int32 lifetime, bool bound,
					JwtError *err)
{
	if (replay_shared == NULL)
		return JWT_OK;
	switch (replay_shared_record(digest, issued, lifetime, bound))
	{
		case REPLAY_FRESH:
			return JWT_OK;
		case REPLAY_SEEN:
			return jwt_fail(err, JWT_ERR_DPOP_REPLAY, "DPoP proof has been used before");
		case REPLAY_STALE:
			jwt_fail(err, JWT_ERR_DPOP_TIME, "DPoP proof is too old");
			jwt_fail_detail(err, "It expired while the statement that checks it was running.");
			return JWT_ERR_DPOP_TIME;
		case REPLAY_FORGOTTEN:
			jwt_fail(err, JWT_ERR_DPOP_TIME, "DPoP proof is too old");
			jwt_fail_detail(err, "Proofs issued as early may have been used, and their records are gone (expired under a narrower jwt.dpop_max_age or jwt.dpop_clock_skew, or lost in a crash).");
			return JWT_ERR_DPOP_TIME;
		case REPLAY_FULL:
			break;
	}
	/*
	 * fail closed: a proof that cannot be remembered could be replayed.  The
	 * statement holds the proof (and the token), which the log must not: the
	 * same for every error here.
	 */
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("the store of DPoP proofs seen is full"),
			 errdetail(bound ? "All %d records are of proofs that have not expired yet."
					   : "jwt_dpop_verify() may use half of the %d records, and they are of proofs that have not expired yet.",
					   replay_shared->capacity),
			 errhint("Raise jwt.dpop_replay_entries (a restart), or lower jwt.dpop_max_age."),
			 errhidestmt(true)));
	return JWT_ERR_DPOP_REPLAY;	/* not reached */
}

/*
 * Record a proof issued at iat as seen until ceil(iat) + jwt.dpop_max_age +
 * jwt.dpop_clock_skew + 1 s (Unix seconds), in the shared store
 * first (when preloaded; bound: jwt_authenticate's) and then in the table:
 * a replay when either had it (or a transaction that then commits is
 * recording it in the table).  look_only (a standby): the table is only
 * read, as far as replayed.  The table's prerequisites are checked before
 * the shared store records anything: an unusable table must not burn the
 * proof for nothing.
 *
 * In a read-only transaction on a primary (PostgREST runs GET requests in
 * one) the row is written all the same: it is the extension's bookkeeping,
 * not the caller's data, like a sequence's.  Not in a serializable one,
 * whose read-only promise the serializable snapshot relies on.
 */
static JwtStatus
record_proof(const unsigned char *digest, double iat, bool look_only, bool bound,
			 JwtError *err)
{
	int64		issued = (int64) ceil(iat);
	int32		lifetime = dpop_max_age + dpop_clock_skew + 1;
	Oid			nsp = jwt_extension_schema();
	Oid			relid = get_relname_relid("jwt_dpop_proofs", nsp);
	bytea	   *digest_datum;
	Oid			save_userid;
	int			save_sec;
	int			save_nestlevel;
	bool		save_read_only = XactReadOnly;
	bool		fresh = false;
	char	   *sql;
	Oid			types[2] = {BYTEAOID, TIMESTAMPTZOID};
	Datum		values[2];
	JwtStatus	st;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the jwt extension's DPoP tables are not installed"),
				 errhint("ALTER EXTENSION jwt UPDATE."),
				 errhidestmt(true)));
	if (!look_only && XactReadOnly && IsolationIsSerializable())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("a DPoP proof cannot be checked for replay in a read-only serializable transaction"),
				 errhint("Check the proof in a read-write transaction, or at another isolation level."),
				 errhidestmt(true)));
	/* first the store no rollback erases: a replay is refused at once */
	if ((st = replay_shared_check(digest, issued, lifetime, bound, err)) != JWT_OK)
		return st;

	digest_datum = palloc(VARHDRSZ + DPOP_DIGEST_LEN);
	SET_VARSIZE(digest_datum, VARHDRSZ + DPOP_DIGEST_LEN);
	memcpy(VARDATA(digest_datum), digest, DPOP_DIGEST_LEN);
	values[0] = PointerGetDatum(digest_datum);
	values[1] = TimestampTzGetDatum(time_t_to_timestamptz((pg_time_t) (issued + lifetime)));
	if (look_only)
		sql = psprintf("SELECT 1 FROM %s.jwt_dpop_proofs WHERE digest = $1",
					   quote_identifier(get_namespace_name(nsp)));
	else
		sql = psprintf("INSERT INTO %s.jwt_dpop_proofs (digest, expires_at) VALUES ($1, $2) "
					   "ON CONFLICT (digest) DO NOTHING",
					   quote_identifier(get_namespace_name(nsp)));

	/*
	 * As the table's owner, with the search_path of a SECURITY DEFINER
	 * function: the caller's search_path must not pick the operators and
	 * functions that the owner's statements run.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(relation_owner(relid),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		save_nestlevel = NewGUCNestLevel();
		(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		if (!look_only)
			XactReadOnly = false;
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (look_only)
		{
			if (SPI_execute_with_args(sql, 1, types, values, NULL, true, 1) != SPI_OK_SELECT)
				elog(ERROR, "could not look up a DPoP proof");
			fresh = SPI_processed == 0;
		}
		else
		{
			if (SPI_execute_with_args(sql, 2, types, values, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not record a DPoP proof");
			fresh = SPI_processed == 1;
			/* every so often, a bounded purge: the table keeps itself small */
			if (fresh && ++records_since_purge >= DPOP_PURGE_EVERY)
			{
				records_since_purge = 0;
				if (SPI_execute(psprintf("DELETE FROM %1$s.jwt_dpop_proofs WHERE ctid = ANY (ARRAY("
										 "SELECT ctid FROM %1$s.jwt_dpop_proofs WHERE expires_at < now() "
										 "LIMIT %2$d FOR UPDATE SKIP LOCKED))",
										 quote_identifier(get_namespace_name(nsp)), DPOP_PURGE_ROWS),
								false, 0) != SPI_OK_DELETE)
					elog(ERROR, "could not purge DPoP proofs");
			}
		}
		SPI_finish();
		AtEOXact_GUC(true, save_nestlevel);
	}
	PG_FINALLY();
	{
		XactReadOnly = save_read_only;
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
	return fresh ? JWT_OK : jwt_fail(err, JWT_ERR_DPOP_REPLAY, "DPoP proof has been used before");
}

JwtStatus
jwt_dpop_verify_request(const char *proof, size_t proof_len, const char *method,
						const char *url, const char *access_token, size_t access_token_len,
						const char *nonce, const char *expected_jkt, DpopProof *result,
						JwtError *err)
{
	DpopCheck	req = {.proof = proof, .proof_len = proof_len, .method = method, .url = url,
	.access_token = access_token, .access_token_len = access_token_len, .nonce = nonce};

	return verify_and_record(&req, expected_jkt, result, err);
}

JwtStatus
jwt_dpop_verify_token_request(const char *proof, size_t proof_len, const char *method,
							  const char *url, const char *expected_jkt, DpopProof *result,
							  JwtError *err)
{
	DpopCheck	req = {.proof = proof, .proof_len = proof_len, .method = method, .url = url,
	.token_request = true};

	return verify_and_record(&req, expected_jkt, result, err);
}

/* Check a proof (req: all but the settings) by key expected_jkt, then record it. */
static JwtStatus
verify_and_record(DpopCheck *req, const char *expected_jkt, DpopProof *result, JwtError *err)
{
	JwtStatus	st;
	TimestampTz now = GetCurrentStatementStartTimestamp();
	unsigned char digest[DPOP_DIGEST_LEN];
	char	   *input;

	req->now = (double) (now - SetEpochTimestamp()) / USECS_PER_SEC;
	req->max_age = dpop_max_age;
	req->clock_skew = dpop_clock_skew;
	if ((st = jwt_dpop_check(req, result, err)) != JWT_OK)
		return st;
	/* before the proof is recorded: a proof for another key burns nothing */
	if (expected_jkt != NULL &&
		(strlen(expected_jkt) != DPOP_JKT_LEN ||
		 !jwt_equal_const_time(expected_jkt, result->jkt, DPOP_JKT_LEN)))
		return jwt_fail(err, JWT_ERR_DPOP_BINDING, "DPoP proof key is not the key the token is bound to");

	/* the record's key, the same in both stores */
	input = psprintf("%s.%s", result->jkt, result->jti);
	if (!jwt_sha256(input, strlen(input), digest))
		elog(ERROR, "could not hash a DPoP proof");
	pfree(input);

	if (RecoveryInProgress())
	{
		/*
		 * Proofs recorded on the primary (and replayed here) are still
		 * refused, and so are replays to this standby when it has a shared
		 * store of its own.
		 */
		if (dpop_on_standby == DPOP_STANDBY_SKIP_REPLAY_CHECK)
			return record_proof(digest, result->iat, true, expected_jkt != NULL, err);
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("a DPoP proof cannot be checked for replay on a standby"),
				 errdetail("Proofs are single-use: their jti is recorded, and a standby cannot write."),
				 errhint("Check proofs on the primary, or set jwt.dpop_on_standby = skip_replay_check."),
				 errhidestmt(true)));
	}
	return record_proof(digest, result->iat, false, expected_jkt != NULL, err);
}

/*
 * The DPoP binding of a verified token (RFC 9449 sections 6 and 7): a token
 * whose claims hold cnf.jkt is accepted only with a valid proof by that key,
 * for this token (ath) and request, and never under the Bearer scheme; a
 * token bound by another confirmation method (cnf without jkt, such as mTLS's
 * x5t#S256) is refused, as nothing here can check it; an unbound token is
 * accepted unless jwt.require_dpop is on, and not under the DPoP scheme.
 */
JwtStatus
jwt_dpop_check_binding(const JsonDoc *claims, const char *token, size_t token_len,
					   JwtAuthScheme scheme, const char *proof, const char *method,
					   const char *url, JwtError *err)
{
	const JsonMember *cnf = json_doc_get(claims, "cnf");
	const JsonMember *jkt;
	JsonDoc		cnfdoc;
	DpopProof	result;

	if (cnf == NULL)
	{
		if (scheme == JWT_AUTH_SCHEME_DPOP)
			return jwt_fail(err, JWT_ERR_DPOP_BINDING, "token presented with the DPoP scheme is not bound to a key");
		if (require_dpop)
		{
			jwt_fail(err, JWT_ERR_DPOP_REQUIRED, "token is not bound to a DPoP key");
			jwt_fail_detail(err, "jwt.require_dpop is on: tokens must carry cnf.jkt.");
			return JWT_ERR_DPOP_REQUIRED;
		}
		return JWT_OK;
	}
	if (cnf->value.kind != JK_OBJECT ||
		json_strict_parse(cnf->value.str, cnf->value.len, &cnfdoc) != JSON_STRICT_OK)
		return jwt_fail(err, JWT_ERR_CLAIM_FORMAT, "claim \"cnf\" must be an object");
	jkt = json_doc_get(&cnfdoc, "jkt");
	if (jkt == NULL)
	{
		jwt_fail(err, JWT_ERR_DPOP_BINDING, "token is bound by a confirmation method that is not checked here");
		jwt_fail_detail(err, "Only DPoP bindings (cnf.jkt) are checked; other bindings are refused.");
		return JWT_ERR_DPOP_BINDING;
	}
	if (jkt->value.kind != JK_STRING)
		return jwt_fail(err, JWT_ERR_CLAIM_FORMAT, "claim \"cnf\" member \"jkt\" must be a string");
	if (scheme == JWT_AUTH_SCHEME_BEARER)
	{
		jwt_fail(err, JWT_ERR_DPOP_SCHEME, "a DPoP-bound token cannot be presented as a bearer token");
		jwt_fail_detail(err, "Its scheme is DPoP (RFC 9449 section 7.1).");
		return JWT_ERR_DPOP_SCHEME;
	}
	if (proof == NULL)
		return jwt_fail(err, JWT_ERR_DPOP_BINDING, "token is bound to a DPoP key and no proof came with it");
	if (method == NULL || url == NULL)
		return jwt_fail(err, JWT_ERR_OPTION, "a DPoP proof needs the request's method and url");
	return jwt_dpop_verify_request(proof, strlen(proof), method, url, token, token_len, NULL,
								   jkt->value.str, &result, err);
}
