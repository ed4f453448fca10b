/*
 * session.h - session families: refresh tokens, their digests, and ending a
 * family in a transaction of its own
 */
#ifndef JWT_SESSION_H
#define JWT_SESSION_H

#include "nodes/pg_list.h"

/* SQLSTATEs of the session functions (class 28: refused) */
#define JWT_SQLSTATE_REFRESH_REUSED	MAKE_SQLSTATE('2', '8', 'J', 'S', '1')
#define JWT_SQLSTATE_REFRESH_EXPIRED	MAKE_SQLSTATE('2', '8', 'J', 'S', '2')
#define JWT_SQLSTATE_REFRESH_UNKNOWN	MAKE_SQLSTATE('2', '8', 'J', 'S', '3')
#define JWT_SQLSTATE_SESSION_ENDED	MAKE_SQLSTATE('2', '8', 'J', 'S', '4')
#define JWT_SQLSTATE_TOKEN_CONSUMED	MAKE_SQLSTATE('2', '8', 'J', 'S', '5')
#define JWT_SQLSTATE_REFRESH_DPOP_BOUND	MAKE_SQLSTATE('2', '8', 'J', 'S', '6')

/* Random bytes (256 bits for a refresh token) as base64url */
#define JWT_REFRESH_TOKEN_BYTES 32
#define JWT_REFRESH_TOKEN_LEN 43
#define JWT_SESSION_ID_BYTES 16

/* n strong random bytes as base64url, NUL-terminated, palloc'd. */
extern char *jwt_session_random_text(int nbytes);

/*
 * The SHA-256 of a refresh token into digest; false when the text is not
 * of a refresh token's shape (43 base64url characters), which no stored
 * digest can match.
 */
extern bool jwt_session_token_digest(const char *token, size_t len, unsigned char *digest);

/*
 * End family sid through _jwt_session_revoke(sid, reason), committed by a
 * background worker while the caller waits: the caller is about to raise an
 * error, whose rollback must not undo it.  false (with a WARNING) when it
 * could not be done.
 */
extern bool jwt_session_revoke_detached(const char *sid, const char *reason);

/*
 * Record family sid as to be revoked, durably and outside the transaction
 * (a file in the data directory), before asking the worker: a worker that
 * cannot start or commit, a cancel or a crash meanwhile leave the record;
 * false if even that failed.
 */
extern bool jwt_session_pending_record(const char *sid);

/* Remove that record: the family's end has been committed. */
extern void jwt_session_pending_forget(const char *sid);

/*
 * The families of this database still to be revoked (a List of sid
 * strings): the caller revokes them in its own transaction, whose commit
 * removes their records; an abort keeps them.
 */
extern List *jwt_session_pending_take(void);

#endif
