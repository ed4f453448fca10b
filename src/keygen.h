/*
 * keygen.h - generating keys, public JWKs, thumbprints, PKCS#8 export
 */
#ifndef JWT_KEYGEN_H
#define JWT_KEYGEN_H

#include "crypto.h"

extern char *jwt_key_canonical_jwk(const JwtKey *key);
extern char *jwt_key_thumbprint(const JwtKey *key);
extern char *jwt_key_random_kid(void);
extern char *jwt_key_private_pem(const JwtKey *key);
extern void jwt_key_generate(JwtAlg alg, char **pem, unsigned char **secret, int *secret_len);

#endif
