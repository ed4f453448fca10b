/*
 * fuzz/fuzz_common.h - shared by the libFuzzer targets
 *
 * Each input runs with CurrentMemoryContext set to a per-input arena that is
 * reset afterwards, as a server memory context would be; long-lived keys are
 * parsed once into their own arena.  An invariant that fails aborts, which
 * libFuzzer reports as a crash with the input that caused it.
 */
#ifndef JWT_FUZZ_COMMON_H
#define JWT_FUZZ_COMMON_H

#include "postgres.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "arena.h"
#include "jwt_error.h"

static MemoryContext fuzz_input_cxt;

/* Start an input: palloc goes to the per-input arena. */
static inline void
fuzz_input_begin(void)
{
	if (fuzz_input_cxt == NULL)
		fuzz_input_cxt = fuzz_arena_create("input");
	CurrentMemoryContext = fuzz_input_cxt;
}

/* End an input: free everything it palloc'd. */
static inline void
fuzz_input_end(void)
{
	fuzz_arena_reset(fuzz_input_cxt);
}

#define FUZZ_CHECK(cond, ...) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "\nfuzz invariant failed at %s:%d: %s\n  ", \
					__FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
			abort(); \
		} \
	} while (0)

/* A JwtError after a failure: a known status and terminated strings. */
static inline void
fuzz_check_error(const JwtError *err, JwtStatus st)
{
	FUZZ_CHECK(st > JWT_OK && st <= JWT_ERR_INTERNAL, "status %d", (int) st);
	FUZZ_CHECK(err->status == st, "err.status %d, returned %d", (int) err->status, (int) st);
	FUZZ_CHECK(memchr(err->message, '\0', sizeof(err->message)) != NULL, "message not terminated");
	FUZZ_CHECK(memchr(err->detail, '\0', sizeof(err->detail)) != NULL, "detail not terminated");
	FUZZ_CHECK(err->message[0] != '\0', "failure %d without a message", (int) st);
}

/* Text that a token put in a message must have gone through jwt_printable(). */
static inline bool
fuzz_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s < 0x20 || (unsigned char) *s >= 0x7f)
			return false;
	return true;
}

#endif
