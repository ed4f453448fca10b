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

/*
 * Each character's value plus one: the zero fill marks bytes outside the
 * alphabet, so one test covers a whole quantum.
 */
static const unsigned char b64url_value1[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18,
	['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
	['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,
	['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
	['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54,
	['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60,
	['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64,
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

/*
 * Decode len characters into dst (B64URL_DECODED_MAX(len) bytes).
 * Returns false for any non-canonical input.
 */
bool
b64url_decode(const char *src, size_t len, unsigned char *dst, size_t *outlen)
{
	const unsigned char *in = (const unsigned char *) src;
	unsigned char *p = dst;
	size_t		i = 0;
	unsigned int v[4];

	if (len % 4 == 1)
		return false;

	for (; i + 4 <= len; i += 4)
	{
		/* outside the alphabet, value1 - 1 wraps around: one test per quantum */
		unsigned int a = b64url_value1[in[i]] - 1u,
					b = b64url_value1[in[i + 1]] - 1u,
					c = b64url_value1[in[i + 2]] - 1u,
					d = b64url_value1[in[i + 3]] - 1u;
		unsigned int v;

		if ((a | b | c | d) > 63)
			return false;
		v = (a << 18) | (b << 12) | (c << 6) | d;
		p[0] = v >> 16;
		p[1] = (v >> 8) & 0xff;
		p[2] = v & 0xff;
		p += 3;
	}
	if (len - i >= 2)
	{
		size_t		rest = len - i;

		for (size_t j = 0; j < rest; j++)
		{
			if ((v[j] = b64url_value1[in[i + j]]) == 0)
				return false;
			v[j]--;
		}
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
