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

/* The alphabet as X(character, value) */
#define B64URL_ALPHABET(X) \
	X('A', 0) X('B', 1) X('C', 2) X('D', 3) X('E', 4) X('F', 5) X('G', 6) \
	X('H', 7) X('I', 8) X('J', 9) X('K', 10) X('L', 11) X('M', 12) X('N', 13) \
	X('O', 14) X('P', 15) X('Q', 16) X('R', 17) X('S', 18) X('T', 19) X('U', 20) \
	X('V', 21) X('W', 22) X('X', 23) X('Y', 24) X('Z', 25) X('a', 26) X('b', 27) \
	X('c', 28) X('d', 29) X('e', 30) X('f', 31) X('g', 32) X('h', 33) X('i', 34) \
	X('j', 35) X('k', 36) X('l', 37) X('m', 38) X('n', 39) X('o', 40) X('p', 41) \
	X('q', 42) X('r', 43) X('s', 44) X('t', 45) X('u', 46) X('v', 47) X('w', 48) \
	X('x', 49) X('y', 50) X('z', 51) X('0', 52) X('1', 53) X('2', 54) X('3', 55) \
	X('4', 56) X('5', 57) X('6', 58) X('7', 59) X('8', 60) X('9', 61) X('-', 62) \
	X('_', 63)

/*
 * Each character's value plus one: the zero fill marks bytes outside the
 * alphabet.
 */
#define VALUE1(c, v) [c] = (v) + 1,
static const unsigned char b64url_value1[256] = {B64URL_ALPHABET(VALUE1)};

/*
 * For whole quanta: each character's value already shifted to its place in
 * the 24 bits, with bit 24 set for the alphabet, so one AND of four entries
 * tells whether all four are valid and one OR assembles the three bytes.
 */
#define B64URL_VALID 0x1000000u
#define SHIFTED18(c, v) [c] = ((unsigned int) (v) << 18) | B64URL_VALID,
#define SHIFTED12(c, v) [c] = ((unsigned int) (v) << 12) | B64URL_VALID,
#define SHIFTED6(c, v) [c] = ((unsigned int) (v) << 6) | B64URL_VALID,
#define SHIFTED0(c, v) [c] = (unsigned int) (v) | B64URL_VALID,
static const unsigned int b64url_shifted[4][256] = {
	{B64URL_ALPHABET(SHIFTED18)},
	{B64URL_ALPHABET(SHIFTED12)},
	{B64URL_ALPHABET(SHIFTED6)},
	{B64URL_ALPHABET(SHIFTED0)},
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
		unsigned int a = b64url_shifted[0][in[i]],
					b = b64url_shifted[1][in[i + 1]],
					c = b64url_shifted[2][in[i + 2]],
					d = b64url_shifted[3][in[i + 3]];
		unsigned int v = a | b | c | d;

		if (!(a & b & c & d & B64URL_VALID))
			return false;
		p[0] = (v >> 16) & 0xff;
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
