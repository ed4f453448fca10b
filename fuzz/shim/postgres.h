/*
 * fuzz/shim/postgres.h - build the jwt core outside the server
 *
 * The core (src/b64url.c, error.c, json_strict.c, jws.c, claims.c, crypto.c,
 * keys.c) includes "postgres.h" but uses only what PostgreSQL's frontend
 * libraries (libpgcommon, libpgport) also provide, plus memory contexts.
 * This header stands in for the server's postgres.h: it is postgres_fe.h
 * (c.h and the frontend palloc declarations) plus a minimal MemoryContext.
 *
 * A MemoryContext here is an arena (fuzz/shim/arena.c): palloc allocates in
 * CurrentMemoryContext, and the fuzz targets reset the per-input arena after
 * every input, which is what a server memory context does between calls.
 * That keeps LeakSanitizer quiet about palloc'd memory (the server never
 * pfrees it either) while it still reports leaked OpenSSL objects.
 *
 * This directory must come first on the include path.
 */
#ifndef JWT_FUZZ_SHIM_POSTGRES_H
#define JWT_FUZZ_SHIM_POSTGRES_H

#include "postgres_fe.h"

typedef struct FuzzArena *MemoryContext;

extern MemoryContext CurrentMemoryContext;

extern void *MemoryContextAlloc(MemoryContext cxt, Size size);
extern void *MemoryContextAllocZero(MemoryContext cxt, Size size);
extern char *MemoryContextStrdup(MemoryContext cxt, const char *string);

#endif
