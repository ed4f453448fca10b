/*
 * identity.h - the verified claims of the current transaction or session
 */
#ifndef JWT_IDENTITY_H
#define JWT_IDENTITY_H

#include "utils/jsonb.h"

extern void jwt_identity_init(void);
extern void jwt_identity_set(const char *claims_json, const char *role);
extern void jwt_identity_set_login(const char *claims_json);
extern void jwt_identity_impersonate(const char *claims_json, const char *role,
									 const char *impersonator);
extern void jwt_identity_reset(void);
extern bool jwt_identity_is_set(void);
extern const char *jwt_identity_impersonator(void);
extern Jsonb *jwt_identity_claims(void);
extern uint64 jwt_identity_version(void);
extern const char *jwt_identity_role_claim(void);

#endif
