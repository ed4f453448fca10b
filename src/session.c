/*
 * session.c - the core of session families (sessions.c has the SQL entry
 * points, the install script the tables and the SQL that reads them)
 *
 * A refresh token is 256 random bits in base64url; the database keeps only
 * its SHA-256.  Presenting a used refresh token again is reuse: the family is
 * revoked, and the caller raises an error.  That error rolls back the
 * caller's transaction, so the revocation is committed by a background worker
 * in a transaction of its own, before the error is raised.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "b64url.h"
#include "crypto.h"
#include "keyring.h"
#include "session.h"

/* What the worker is asked to end: a family in a database. */
typedef struct SessionToEnd
{
	Oid			database;
	bool		done;			/* set by the worker once committed */
	char		sid[1025];
	char		reason[64];
} SessionToEnd;

PGDLLEXPORT void jwt_session_revoke_main(Datum arg);

char *
jwt_session_random_text(int nbytes)
{
	unsigned char buf[64];
	char	   *out;

	Assert(nbytes <= (int) sizeof(buf));
	if (!pg_strong_random(buf, nbytes))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random bytes")));
	out = palloc(B64URL_ENCODED_LEN(nbytes) + 1);
	out[b64url_encode(buf, nbytes, out)] = '\0';
	explicit_bzero(buf, sizeof(buf));
	return out;
}

bool
jwt_session_token_digest(const char *token, size_t len, unsigned char *digest)
{
	if (len != JWT_REFRESH_TOKEN_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		char		c = token[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '-' || c == '_'))
			return false;
	}
	if (!jwt_sha256(token, len, digest))
		elog(ERROR, "could not compute a refresh token digest");
	return true;
}

bool
jwt_session_revoke_detached(const char *sid, const char *reason)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	dsm_segment *seg;
	SessionToEnd *t;
	pid_t		pid;
	bool		done;

	if (strlen(sid) >= sizeof(t->sid) || strlen(reason) >= sizeof(t->reason))
		elog(ERROR, "session id or reason too long");
	/* a standby cannot write (and the session functions refuse to run there) */
	if (RecoveryInProgress())
		return false;
	seg = dsm_create(sizeof(SessionToEnd), 0);
	t = dsm_segment_address(seg);
	memset(t, 0, sizeof(*t));
	t->database = MyDatabaseId;
	memcpy(t->sid, sid, strlen(sid) + 1);
	memcpy(t->reason, reason, strlen(reason) + 1);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "jwt");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "jwt_session_revoke_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "jwt end session");
	snprintf(worker.bgw_type, BGW_MAXLEN, "jwt end session");
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle) ||
		WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
		done = false;
	else
	{
		(void) WaitForBackgroundWorkerShutdown(handle);
		done = t->done;
	}
	dsm_detach(seg);
	if (!done)
		ereport(WARNING,
				(errmsg("session \"%s\" could not be revoked", sid),
				 errhint("Check max_worker_processes, or call jwt_revoke_session() by hand.")));
	return done;
}

/* The worker: end the family through _jwt_session_revoke(), as a superuser, and commit. */
void
jwt_session_revoke_main(Datum arg)
{
	dsm_segment *seg;
	SessionToEnd *t;
	char	   *sql;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	BackgroundWorkerUnblockSignals();
	seg = dsm_attach(DatumGetUInt32(arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("jwt: the session to end is gone")));
	t = dsm_segment_address(seg);
	BackgroundWorkerInitializeConnectionByOid(t->database, InvalidOid, 0);

	/* the caller waits for this worker: never wait long on its locks */
	SetConfigOption("lock_timeout", "5s", PGC_SUSET, PGC_S_OVERRIDE);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "jwt: ending a session");

	sql = psprintf("SELECT %s._jwt_session_revoke($1, $2)",
				   quote_identifier(get_namespace_name(jwt_extension_schema())));
	values[0] = CStringGetTextDatum(t->sid);
	values[1] = CStringGetTextDatum(t->reason);
	if (SPI_execute_with_args(sql, 2, types, values, NULL, false, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("jwt: could not end a session")));

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	t->done = true;
	pgstat_report_activity(STATE_IDLE, NULL);
	dsm_detach(seg);
	proc_exit(0);
}
