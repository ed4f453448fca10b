/*
 * keycache.h - parsed keys cached per backend
 */
#ifndef JWT_KEYCACHE_H
#define JWT_KEYCACHE_H

#include "crypto.h"

extern JwtStatus jwt_keycache_get(const char *data, size_t len, bool is_secret,
								  JwtKeySet **set, JwtError *err);

#endif
