/*
 * stats.h - counters of verifications, authentications, failures and caches
 *
 * Each counting site is one call: jwt_stats_count(JWT_STAT_...), or
 * jwt_stats_verified(status) around a verification.  The counters live in
 * shared memory when the library is in shared_preload_libraries, else in
 * this backend (see stats.c).
 */
#ifndef JWT_STATS_H
#define JWT_STATS_H

#include "datatype/timestamp.h"

#include "jwt_error.h"
#include "jws.h"
#include "json_strict.h"

typedef enum JwtStatCounter
{
	JWT_STAT_VERIFY_OK,			/* a verification that accepted the token */
	JWT_STAT_VERIFY_FAIL,		/* one that refused it (counted by SQLSTATE too) */
	JWT_STAT_AUTH_OK,			/* jwt_authenticate() set an identity */
	JWT_STAT_AUTH_FAIL,			/* jwt_authenticate() raised */
	JWT_STAT_REVOKED,			/* a revocation check found the token revoked */
	JWT_STAT_KEYCACHE_HIT,		/* an explicit key found parsed */
	JWT_STAT_KEYCACHE_MISS,		/* an explicit key parsed (and cached if small) */
	JWT_STAT_KEYRING_LOAD,		/* the keyring read into this backend */
	JWT_STAT_REVCACHE_HIT,		/* a revocation check the cache answered */
	JWT_STAT_REVCACHE_MISS,		/* one that looked in the tables */
	JWT_STAT_REVCACHE_LOAD,		/* the revocation lists loaded into the cache */
	JWT_STAT_NCOUNTERS
} JwtStatCounter;

/* What jwt_authenticate() is doing, for its counters and its log line. */
typedef struct JwtAuthEvent
{
	const JwsToken *tok;		/* parsed by the verification, or zeroed */
	const JsonDoc *claims;		/* filled once the signature verified, or zeroed */
	bool		done;			/* counted and logged */
	ErrorContextCallback callback;	/* counts and logs a failure as it is raised */
} JwtAuthEvent;

extern void jwt_stats_init(void);
extern void jwt_stats_count(JwtStatCounter c);

/* Count c and pass st on: for counting on a return line. */
static inline JwtStatus
jwt_stats_counted(JwtStatCounter c, JwtStatus st)
{
	jwt_stats_count(c);
	return st;
}
extern JwtStatus jwt_stats_verified(JwtStatus st);
extern void jwt_stats_failure(int sqlerrcode);
extern void jwt_stats_auth_begin(JwtAuthEvent *ev, JwsToken *tok, JsonDoc *claims);
extern void jwt_stats_auth_end(JwtAuthEvent *ev);

/* Reading and resetting, for the SQL layer (stats.c). */
typedef struct JwtStatsRow
{
	Oid			dbid;			/* InvalidOid: the databases beyond the slots */
	uint64		counters[JWT_STAT_NCOUNTERS];
	int			nfailures;
	const char *failure_codes[40];
	uint64		failures[40];
} JwtStatsRow;

extern bool jwt_stats_shared(void);
extern int	jwt_stats_max_rows(void);
extern int	jwt_stats_read(JwtStatsRow *rows, int max);
extern TimestampTz jwt_stats_reset_time(void);
extern void jwt_stats_reset_all(void);

#endif
