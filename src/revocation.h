/*
 * revocation.h - revoked token ids and subject cut-offs
 */
#ifndef JWT_REVOCATION_H
#define JWT_REVOCATION_H

#include "jwt_error.h"
#include "json_strict.h"

extern void jwt_revocation_init(void);
extern JwtStatus jwt_check_revocation(const JsonDoc *claims, const char *payload, size_t payload_len,
									   JwtError *err);

#endif
