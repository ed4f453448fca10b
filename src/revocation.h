/*
 * revocation.h - revoked token ids and subject cut-offs
 */
#ifndef JWT_REVOCATION_H
#define JWT_REVOCATION_H

#include "datatype/timestamp.h"

#include "jwt_error.h"
#include "json_strict.h"

/*
 * Longest jti or sub (in bytes) a token may carry where revocation applies:
 * the lists' keys are indexed, and a B-tree entry must fit in a third of a
 * page.  jwt_sign and the revoking functions refuse longer ones.
 */
#define JWT_REVOCABLE_MAX 1024

extern void jwt_revocation_init(void);
extern JwtStatus jwt_check_revocation(const JsonDoc *claims, const char *payload, size_t payload_len,
									   JwtError *err);
extern char *jwt_revocation_digest_id(const char *payload, size_t payload_len);
extern TimestampTz jwt_revocation_issue_time(const char *sub, size_t sub_len, bool *exact);
/* The cut-off jwt_revoke_subject sets when given no time (after every iat this statement handed out) */
extern TimestampTz jwt_revocation_next_cutoff(void);

#endif
