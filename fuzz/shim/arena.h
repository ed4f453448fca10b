/*
 * fuzz/shim/arena.h - memory contexts for the fuzz targets
 */
#ifndef JWT_FUZZ_ARENA_H
#define JWT_FUZZ_ARENA_H

#include "postgres.h"

/* A new, empty arena. */
extern MemoryContext fuzz_arena_create(const char *name);
/* Free every chunk still allocated in the arena (MemoryContextReset). */
extern void fuzz_arena_reset(MemoryContext cxt);
/* Reset and free the arena itself. */
extern void fuzz_arena_delete(MemoryContext cxt);
/* Chunks currently allocated in the arena. */
extern size_t fuzz_arena_chunks(MemoryContext cxt);

#endif
