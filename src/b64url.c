/*
 * b64url.c - strict, canonical base64url
 *
 * Tokens must have exactly one spelling: no padding, no '+' or '/', no
 * whitespace, no length that leaves a lone sextet, and no non-zero spare bits
 * in the last character.  PostgreSQL's pg_b64_* is padded standard base64, so
 * this small codec is our own.  No allocation: callers size the buffers.
 */
#include "b64url.h"

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* -1 marks bytes outside the alphabet. */
static const signed char b64url_value[256] = {
	['A'] = 0, ['B'] = 1, ['C'] = 2, ['D'] = 3, ['E'] = 4, ['F'] = 5, ['G'] = 6,
	['H'] = 7, ['I'] = 8, ['J'] = 9, ['K'] = 10, ['L'] = 11, ['M'] = 12,
	['N'] = 13, ['O'] = 14, ['P'] = 15, ['Q'] = 16, ['R'] = 17, ['S'] = 18,
	['T'] = 19, ['U'] = 20, ['V'] = 21, ['W'] = 22, ['X'] = 23, ['Y'] = 24,
	['Z'] = 25, ['a'] = 26, ['b'] = 27, ['c'] = 28, ['d'] = 29, ['e'] = 30,
	['f'] = 31, ['g'] = 32, ['h'] = 33, ['i'] = 34, ['j'] = 35, ['k'] = 36,
	['l'] = 37, ['m'] = 38, ['n'] = 39, ['o'] = 40, ['p'] = 41, ['q'] = 42,
	['r'] = 43, ['s'] = 44, ['t'] = 45, ['u'] = 46, ['v'] = 47, ['w'] = 48,
	['x'] = 49, ['y'] = 50, ['z'] = 51, ['0'] = 52, ['1'] = 53, ['2'] = 54,
	['3'] = 55, ['4'] = 56, ['5'] = 57, ['6'] = 58, ['7'] = 59, ['8'] = 60,
	['9'] = 61, ['-'] = 62, ['_'] = 63,
};

/* Encode len bytes into dst (B64URL_ENCODED_LEN(len) bytes, not terminated). */
size_t
b64url_encode(const unsigned char *src, size_t len, char *dst)
{
	char	   *p = dst;
	size_t		i = 0;

	for (; i + 3 <= len; i += 3)
	{
		unsigned int v = (src[i] << 16) | (src[i + 1] << 8) | src[i + 2];

		*p++ = b64url_alphabet[(v >> 18) & 63];
		*p++ = b64url_alphabet[(v >> 12) & 63];
		*p++ = b64url_alphabet[(v >> 6) & 63];
		*p++ = b64url_alphabet[v & 63];
	}
	if (len - i == 1)
	{
		unsigned int v = src[i] << 16;

		*p++ = b64url_alphabet[(v >> 18) & 63];
		*p++ = b64url_alphabet[(v >> 12) & 63];
	}
	else if (len - i == 2)
	{
		unsigned int v = (src[i] << 16) | (src[i + 1] << 8);

		*p++ = b64url_alphabet[(v >> 18) & 63];
		*p++ = b64url_alphabet[(v >> 12) & 63];
		*p++ = b64url_alphabet[(v >> 6) & 63];
	}
	return p - dst;
}

static inline int
b64url_char_value(unsigned char c)
{
	/* 'A' has value 0, so the table's zero fill needs this check. */
	if (c == 'A')
		return 0;
	return b64url_value[c] ? b64url_value[c] : -1;
}

/*
 * Decode len characters into dst (B64URL_DECODED_MAX(len) bytes).
 * Returns false for any non-canonical input.
 */
bool
b64url_decode(const char *src, size_t len, unsigned char *dst, size_t *outlen)
{
	unsigned char *p = dst;
	size_t		i = 0;
	int			v[4];

	if (len % 4 == 1)
		return false;

	for (; i + 4 <= len; i += 4)
	{
		for (int j = 0; j < 4; j++)
			if ((v[j] = b64url_char_value((unsigned char) src[i + j])) < 0)
				return false;
		*p++ = (v[0] << 2) | (v[1] >> 4);
		*p++ = ((v[1] & 15) << 4) | (v[2] >> 2);
		*p++ = ((v[2] & 3) << 6) | v[3];
	}
	if (len - i >= 2)
	{
		size_t		rest = len - i;

		for (size_t j = 0; j < rest; j++)
			if ((v[j] = b64url_char_value((unsigned char) src[i + j])) < 0)
				return false;
		*p++ = (v[0] << 2) | (v[1] >> 4);
		if (rest == 2)
		{
			if (v[1] & 15)
				return false;	/* spare bits must be zero */
		}
		else
		{
			*p++ = ((v[1] & 15) << 4) | (v[2] >> 2);
			if (v[2] & 3)
				return false;
		}
	}
	*outlen = p - dst;
	return true;
}
