/*
 * keyring.h - the keys stored in the jwt_keys table, cached per backend
 */
#ifndef JWT_KEYRING_H
#define JWT_KEYRING_H

#include "crypto.h"
#include "envelope.h"

extern void jwt_keyring_init(void);
extern Oid	jwt_extension_schema(void);
extern JwtStatus jwt_keyring_verify_key(JwtAlg alg, const char *kid,
										const char *payload, size_t payload_len,
										JwtKey **key, const char **key_issuer, JwtError *err);

/*
 * Called (when set) when a token's kid names no key of its issuer: the issuer
 * refresher sets it to refresh that issuer early.  It must not block or do
 * I/O; iss and kid are UTF-8 / server strings valid for the call only.
 */
/* Is iss the issuer of a key bound to it?  (For the claims check of a key of this database.) */
extern bool jwt_keyring_issuer_is_bound(const char *iss);

typedef void (*jwt_keyring_kid_miss_hook_type) (const char *iss, const char *kid);
extern jwt_keyring_kid_miss_hook_type jwt_keyring_kid_miss_hook;
extern JwtKey *jwt_keyring_signing_key(const char *kid);

/* jwt.key_encryption_key, registered over this variable by _PG_init */
extern char *jwt_key_encryption_key;

/* The key-encryption key (64 hex digits), NULL when unset; raises if malformed */
extern const char *jwt_kek(void);
/* jwt.previous_key_encryption_key (a KEK rotation), registered by _PG_init; NULL when unset */
extern char *jwt_previous_key_encryption_key;
extern const char *jwt_previous_kek(void);

/* A row's material sealed (again) under the current KEK; NULL: keep it as it is */
extern char *jwt_keyring_seal_row(const EnvelopeRow *row, const char *material, size_t len,
								  size_t *sealed_len);

#endif
