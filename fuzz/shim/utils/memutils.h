/*
 * fuzz/shim/utils/memutils.h - the server's memutils.h, as far as the core
 * needs it outside the server: the MemoryContext functions are declared in
 * the shim postgres.h.
 */
#ifndef JWT_FUZZ_SHIM_MEMUTILS_H
#define JWT_FUZZ_SHIM_MEMUTILS_H

#include "postgres.h"

#endif
