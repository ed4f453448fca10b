/*
 * transport.c - no bearer token over an unencrypted client connection
 *
 * A token sent over TCP without TLS has crossed a network in clear: anyone on
 * the path may replay it.  jwt.require_secure_transport refuses such tokens
 * where they enter the database; jwt.revoke_exposed_tokens also revokes them.
 * The revocation must outlive the refusal, whose error rolls back the calling
 * transaction, so a background worker commits it in a transaction of its own.
 */
#include "postgres.h"

#include <netinet/in.h>
#include <arpa/inet.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "libpq/libpq-be.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "keyring.h"
#include "transport.h"

static int	transport_mode = JWT_TRANSPORT_OFF;
static bool revoke_exposed = false;
static bool require_forwarded_https = false;

static const struct config_enum_entry transport_modes[] = {
	{"off", JWT_TRANSPORT_OFF, false},
	{"remote", JWT_TRANSPORT_REMOTE, false},
	{"always", JWT_TRANSPORT_ALWAYS, false},
	{NULL, 0, false}
};

/* What the worker is asked to revoke: a token id and its expiry. */
typedef struct ExposedToken
{
	Oid			database;
	bool		has_exp;
	TimestampTz exp;
	bool		revoked;		/* set by the worker once committed */
	char		jti[FLEXIBLE_ARRAY_MEMBER];
} ExposedToken;

PGDLLEXPORT void jwt_revoke_exposed_main(Datum arg);

void
jwt_transport_init(void)
{
	/* policy: superusers only, so that no session can lower it */
	DefineCustomEnumVariable("jwt.require_secure_transport",
							 "Refuse bearer tokens over client connections without TLS: off, remote (TCP from non-loopback addresses) or always (every TCP connection).",
							 NULL, &transport_mode, JWT_TRANSPORT_OFF, transport_modes,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("jwt.revoke_exposed_tokens",
							 "Revoke a token refused by jwt.require_secure_transport: it has been seen in clear.",
							 NULL, &revoke_exposed, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("jwt.require_forwarded_https",
							 "jwt_postgrest_pre_request() refuses requests whose X-Forwarded-Proto is not https.",
							 NULL, &require_forwarded_https, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);
}

/* 127.0.0.0/8, ::1, and 127.0.0.0/8 mapped into IPv6. */
static bool
is_loopback(const struct sockaddr *addr)
{
	if (addr->sa_family == AF_INET)
	{
		const struct sockaddr_in *in = (const struct sockaddr_in *) addr;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (addr->sa_family == AF_INET6)
	{
		const struct in6_addr *a = &((const struct sockaddr_in6 *) addr)->sin6_addr;

		if (IN6_IS_ADDR_LOOPBACK(a))
			return true;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return false;
}

bool
jwt_transport_allowed(JwtTransportMode mode, bool unix_socket, bool tls,
					  const struct sockaddr *addr)
{
	if (mode == JWT_TRANSPORT_OFF || unix_socket || tls)
		return true;
	if (mode == JWT_TRANSPORT_REMOTE)
		return addr != NULL && is_loopback(addr);
	return false;
}

/* Whether the client connection is encrypted: TLS, or GSSAPI encryption. */
static bool
connection_encrypted(Port *port)
{
#ifdef USE_SSL
	if (port->ssl_in_use)
		return true;
#endif
#ifdef ENABLE_GSS
	if (be_gssapi_get_enc(port))
		return true;
#endif
	(void) port;
	return false;
}

void
jwt_transport_check(bool (*revoke) (void *arg), void *arg)
{
	Port	   *port = MyProcPort;
	const struct sockaddr *addr;
	bool		unix_socket;
	bool		revoked;

	/* background workers and the like have no client connection */
	if (transport_mode == JWT_TRANSPORT_OFF || port == NULL)
		return;
	addr = (const struct sockaddr *) &port->raddr.addr;
	unix_socket = addr->sa_family == AF_UNIX;
	if (jwt_transport_allowed(transport_mode, unix_socket, connection_encrypted(port), addr))
		return;

	revoked = revoke_exposed && revoke != NULL && revoke(arg);
	/* errhidestmt: the statement holds the token, which the log must not */
	ereport(ERROR,
			(errcode(MAKE_SQLSTATE('2', '8', 'J', 'T', '1')),
			 errmsg("bearer token refused: the connection is not encrypted"),
			 errdetail("jwt.require_secure_transport is \"%s\" and this TCP connection%s has no TLS.%s",
					   transport_mode == JWT_TRANSPORT_ALWAYS ? "always" : "remote",
					   transport_mode == JWT_TRANSPORT_REMOTE ? " from a non-loopback address" : "",
					   revoked ? " The token has been revoked: it crossed the network in clear." : ""),
			 errhint("Connect with sslmode=require (and hostssl lines in pg_hba.conf)."),
			 errhidestmt(true)));
}

bool
jwt_transport_revoke_exposed(const char *jti, double exp)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	dsm_segment *seg;
	ExposedToken *t;
	size_t		jti_len = strlen(jti);
	pid_t		pid;
	bool		revoked;

	/* a standby cannot write, and a writer would wait for the end of recovery forever */
	if (RecoveryInProgress())
	{
		ereport(WARNING,
				(errmsg("a token refused for an unencrypted connection cannot be revoked on a standby"),
				 errhint("Revoke it on the primary.")));
		return false;
	}
	seg = dsm_create(offsetof(ExposedToken, jti) + jti_len + 1, 0);
	t = dsm_segment_address(seg);
	t->database = MyDatabaseId;
	t->has_exp = exp >= 0;
	t->exp = t->has_exp ? time_t_to_timestamptz((pg_time_t) exp) : 0;
	t->revoked = false;
	memcpy(t->jti, jti, jti_len + 1);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "jwt");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "jwt_revoke_exposed_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "jwt revoke exposed token");
	snprintf(worker.bgw_type, BGW_MAXLEN, "jwt revoke exposed token");
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle) ||
		WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
		revoked = false;
	else
	{
		(void) WaitForBackgroundWorkerShutdown(handle);
		revoked = t->revoked;
	}
	dsm_detach(seg);
	if (!revoked)
		ereport(WARNING,
				(errmsg("a token refused for an unencrypted connection could not be revoked"),
				 errhint("Check max_worker_processes, or revoke the token by hand.")));
	return revoked;
}

/* The worker: revoke through jwt_revoke_jti(), as a superuser, and commit. */
void
jwt_revoke_exposed_main(Datum arg)
{
	dsm_segment *seg;
	ExposedToken *t;
	char	   *sql;
	Oid			types[3] = {TEXTOID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	BackgroundWorkerUnblockSignals();
	seg = dsm_attach(DatumGetUInt32(arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("jwt: the exposed token to revoke is gone")));
	t = dsm_segment_address(seg);
	BackgroundWorkerInitializeConnectionByOid(t->database, InvalidOid, 0);

	/* the caller waits for this worker: never wait long on its locks */
	SetConfigOption("lock_timeout", "5s", PGC_SUSET, PGC_S_OVERRIDE);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "jwt: revoking a token exposed in clear");

	sql = psprintf("SELECT %s.jwt_revoke_jti($1, $2, $3)",
				   quote_identifier(get_namespace_name(jwt_extension_schema())));
	values[0] = CStringGetTextDatum(t->jti);
	values[1] = TimestampTzGetDatum(t->exp);
	nulls[1] = t->has_exp ? ' ' : 'n';
	values[2] = CStringGetTextDatum("sent over a connection without TLS");
	if (SPI_execute_with_args(sql, 3, types, values, nulls, false, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("jwt: could not revoke an exposed token")));

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	t->revoked = true;
	pgstat_report_activity(STATE_IDLE, NULL);
	dsm_detach(seg);
	proc_exit(0);
}

/* jwt.require_forwarded_https and jwt.revoke_exposed_tokens, for the SQL layer. */
bool
jwt_transport_forwarded_https_required(void)
{
	return require_forwarded_https;
}

bool
jwt_transport_revoke_exposed_enabled(void)
{
	return revoke_exposed;
}

/*
 * Whether an X-Forwarded-Proto value (NULL: absent) says HTTPS on every hop:
 * a proxy appends what it saw, and a client can write what it likes, so one
 * "http" anywhere, or anything that is not "https", fails.
 */
bool
jwt_transport_forwarded_https(const char *value)
{
	const char *p = value;

	if (value == NULL)
		return false;
	for (;;)
	{
		const char *start,
				   *end;

		while (*p == ' ' || *p == '\t')
			p++;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end - start != 5 || pg_strncasecmp(start, "https", 5) != 0)
			return false;
		if (*p == '\0')
			return true;
		p++;
	}
}
