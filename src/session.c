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

#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
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
	/* the caller forgets its record of this end once committed: durably */
	if (synchronous_commit < SYNCHRONOUS_COMMIT_LOCAL_FLUSH)
		SetConfigOption("synchronous_commit", "local", PGC_SUSET, PGC_S_OVERRIDE);
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

/*
 * Pending revocations: families whose reuse was detected but whose
 * revocation the worker could not commit.  A file each, written durably
 * outside any transaction (the caller's error rolls its transaction back),
 * named by database and a hash of the sid; removed once a transaction that
 * revoked the family has committed.
 */
#define PENDING_DIR "pg_jwt_pending"

typedef struct PendingFile
{
	SubTransactionId subid;		/* the subtransaction that revoked it */
	char		path[MAXPGPATH];
} PendingFile;

static List *pending_unlink = NIL;	/* PendingFiles to remove at commit, in TopMemoryContext */
static bool pending_callback_registered = false;

/* A subtransaction rolled back: what it revoked (or its children did) is pending again. */
static void
pending_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	(void) parentSubid;
	(void) arg;
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	foreach(lc, pending_unlink)
	{
		PendingFile *f = lfirst(lc);

		if (f->subid >= mySubid)
		{
			pending_unlink = foreach_delete_current(pending_unlink, lc);
			pfree(f);
		}
	}
}

static void
pending_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;

	(void) arg;
	/* a prepared transaction may yet roll back: its records stay */
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT && event != XACT_EVENT_PREPARE &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT)
		return;
	if ((event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT) &&
		pending_unlink != NIL)
	{
		/* the end must be durable before its record goes (synchronous_commit off) */
		if (XactLastCommitEnd != InvalidXLogRecPtr)
			XLogFlush(XactLastCommitEnd);
		foreach(lc, pending_unlink)
			(void) unlink(((PendingFile *) lfirst(lc))->path);
	}
	list_free_deep(pending_unlink);
	pending_unlink = NIL;
}

/* The record of family sid of this database. */
static void
pending_path(const char *sid, char *path)
{
	snprintf(path, MAXPGPATH, PENDING_DIR "/%u.%016llx", MyDatabaseId,
			 (unsigned long long) hash_bytes_extended((const unsigned char *) sid, (int) strlen(sid), 0));
}

bool
jwt_session_pending_record(const char *sid)
{
	char		path[MAXPGPATH];
	char		tmp[MAXPGPATH];
	int			fd;
	size_t		len = strlen(sid);

	if (MakePGDirectory(PENDING_DIR) < 0 && errno != EEXIST)
		return false;
	pending_path(sid, path);
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, MyProcPid);
	fd = OpenTransientFile(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (fd < 0)
		return false;
	if (write(fd, sid, len) != (ssize_t) len || pg_fsync(fd) != 0)
	{
		CloseTransientFile(fd);
		(void) unlink(tmp);
		return false;
	}
	if (CloseTransientFile(fd) != 0)
	{
		(void) unlink(tmp);
		return false;
	}
	/* durable_rename fsyncs the file and the directory; errors at LOG, not ERROR */
	if (durable_rename(tmp, path, LOG) != 0)
	{
		(void) unlink(tmp);
		return false;
	}
	return true;
}

void
jwt_session_pending_forget(const char *sid)
{
	char		path[MAXPGPATH];

	pending_path(sid, path);
	(void) unlink(path);
}

List *
jwt_session_pending_take(void)
{
	DIR		   *dir;
	struct dirent *de;
	char		prefix[32];
	List	   *sids = NIL;

	dir = AllocateDir(PENDING_DIR);
	if (dir == NULL)
	{
		if (errno == ENOENT)
			return NIL;
		/* unreadable: refuse rather than rotate past a reuse not yet recorded */
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read the pending session revocations in \"%s\": %m", PENDING_DIR)));
	}
	snprintf(prefix, sizeof(prefix), "%u.", MyDatabaseId);
	while ((de = ReadDir(dir, PENDING_DIR)) != NULL)
	{
		char		path[MAXPGPATH];
		char		sid[1025];
		int			fd;
		ssize_t		n;
		PendingFile *f;

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 || strstr(de->d_name, ".tmp") != NULL)
			continue;
		snprintf(path, sizeof(path), PENDING_DIR "/%s", de->d_name);
		fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
		if (fd < 0)
		{
			if (errno == ENOENT)
				continue;		/* applied by another session meanwhile */
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open the pending session revocation \"%s\": %m", path)));
		}
		n = read(fd, sid, sizeof(sid) - 1);
		CloseTransientFile(fd);
		if (n <= 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read the pending session revocation \"%s\"", path)));
		sid[n] = '\0';
		sids = lappend(sids, pstrdup(sid));
		if (!pending_callback_registered)
		{
			RegisterXactCallback(pending_xact_callback, NULL);
			RegisterSubXactCallback(pending_subxact_callback, NULL);
			pending_callback_registered = true;
		}
		f = MemoryContextAlloc(TopMemoryContext, sizeof(PendingFile));
		f->subid = GetCurrentSubTransactionId();
		snprintf(f->path, sizeof(f->path), "%s", path);
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			pending_unlink = lappend(pending_unlink, f);
			MemoryContextSwitchTo(old);
		}
	}
	FreeDir(dir);
	return sids;
}
