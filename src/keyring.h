/*
 * keyring.h - the keys stored in the jwt_keys table, cached per backend
 */
#ifndef JWT_KEYRING_H
#define JWT_KEYRING_H

#include "crypto.h"

extern void jwt_keyring_init(void);
extern Oid	jwt_extension_schema(void);
extern JwtStatus jwt_keyring_verify_key(JwtAlg alg, const char *kid, JwtKey **key, JwtError *err);
extern JwtKey *jwt_keyring_signing_key(const char *kid);

/* jwt.c: the key-encryption key setting, NULL when unset */
extern const char *jwt_kek(void);

#endif
