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

/* jwt.key_encryption_key, registered over this variable by _PG_init */
extern char *jwt_key_encryption_key;

/* The key-encryption key (64 hex digits), NULL when unset; raises if malformed */
extern const char *jwt_kek(void);

#endif
