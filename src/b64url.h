/*
 * b64url.h - strict, canonical base64url (RFC 4648 section 5, no padding)
 */
#ifndef JWT_B64URL_H
#define JWT_B64URL_H

#include <stddef.h>
#include <stdbool.h>

/* Length of the unpadded encoding of n bytes. */
#define B64URL_ENCODED_LEN(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))
/* Upper bound of the decoded length of n characters. */
#define B64URL_DECODED_MAX(n) (((n) / 4) * 3 + 2)

extern size_t b64url_encode(const unsigned char *src, size_t len, char *dst);
extern bool b64url_decode(const char *src, size_t len, unsigned char *dst, size_t *outlen);

#endif
