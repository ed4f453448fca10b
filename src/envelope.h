/*
 * envelope.h - private keyring material sealed with a key-encryption key
 */
#ifndef JWT_ENVELOPE_H
#define JWT_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Sealed material starts with one of these; plain PEM or secrets never do.
 * Version 1 binds the kid only; version 2 binds the whole row's identity.
 */
#define ENVELOPE_MAGIC_V1 "JWTKEK1:"
#define ENVELOPE_MAGIC_V2 "JWTKEK2:"
#define ENVELOPE_MAGIC_LEN 8

/* What a sealed value is bound to: the jwt_keys row it belongs to. */
typedef struct EnvelopeRow
{
	const char *kid;
	const char *alg;			/* NULL when the row has none */
	const char *kty;
	int64		created_at;		/* the row's created_at (TimestampTz) */
} EnvelopeRow;

extern bool envelope_kek_valid(const char *hex);
/* 0: not sealed; else the format version */
extern int	envelope_version(const char *data, size_t len);
extern char *envelope_seal(const char *kek_hex, const EnvelopeRow *row,
						   const char *plain, size_t len, size_t *outlen);
extern char *envelope_seal_v1(const char *kek_hex, const char *kid,
							  const char *plain, size_t len, size_t *outlen);
extern char *envelope_open(const char *kek_hex, const EnvelopeRow *row,
						   const char *sealed, size_t len, size_t *outlen);

#endif
