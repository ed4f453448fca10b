/*
 * envelope.h - private keyring material sealed with a key-encryption key
 */
#ifndef JWT_ENVELOPE_H
#define JWT_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>

/* Sealed material starts with this; plain PEM or secrets never do. */
#define ENVELOPE_MAGIC "JWTKEK1:"
#define ENVELOPE_MAGIC_LEN 8

extern bool envelope_kek_valid(const char *hex);
extern bool envelope_is_sealed(const char *data, size_t len);
extern char *envelope_seal(const char *kek_hex, const char *kid,
						   const char *plain, size_t len, size_t *outlen);
extern char *envelope_open(const char *kek_hex, const char *kid,
						   const char *sealed, size_t len, size_t *outlen);

#endif
