/*
 * fuzz/fuzz_b64url.c - strict base64url: decode(x) succeeds only for the one
 * canonical spelling, so encode(decode(x)) == x; and decode(encode(x)) == x
 * for any bytes.
 */
#include "fuzz_common.h"

#include "b64url.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exact-size heap buffers, so that ASan sees any overrun */
	unsigned char *dec = malloc(B64URL_DECODED_MAX(size));
	size_t		declen = (size_t) -1;
	char	   *enc = malloc(B64URL_ENCODED_LEN(size) + 1);
	size_t		enclen;

	/* 1. the bytes as base64url text */
	if (b64url_decode((const char *) data, size, dec, &declen))
	{
		char	   *re = malloc(B64URL_ENCODED_LEN(declen) + 1);
		size_t		relen;

		FUZZ_CHECK(declen <= B64URL_DECODED_MAX(size), "decoded %zu from %zu", declen, size);
		FUZZ_CHECK(declen == size / 4 * 3 + (size % 4 ? size % 4 - 1 : 0),
				   "decoded length %zu from %zu characters", declen, size);
		relen = b64url_encode(dec, declen, re);
		FUZZ_CHECK(relen == B64URL_ENCODED_LEN(declen), "encoded %zu, expected %zu",
				   relen, (size_t) B64URL_ENCODED_LEN(declen));
		FUZZ_CHECK(relen == size && memcmp(re, data, size) == 0,
				   "accepted a non-canonical encoding (%zu characters, re-encoded as %zu)",
				   size, relen);
		free(re);
	}

	/* 2. the bytes as data */
	enclen = b64url_encode(data, size, enc);
	FUZZ_CHECK(enclen == B64URL_ENCODED_LEN(size), "encoded %zu, expected %zu",
			   enclen, (size_t) B64URL_ENCODED_LEN(size));
	for (size_t i = 0; i < enclen; i++)
		FUZZ_CHECK((enc[i] >= 'A' && enc[i] <= 'Z') || (enc[i] >= 'a' && enc[i] <= 'z') ||
				   (enc[i] >= '0' && enc[i] <= '9') || enc[i] == '-' || enc[i] == '_',
				   "encoder wrote 0x%02x", (unsigned char) enc[i]);
	{
		unsigned char *back = malloc(B64URL_DECODED_MAX(enclen));
		size_t		backlen = (size_t) -1;

		FUZZ_CHECK(b64url_decode(enc, enclen, back, &backlen),
				   "refused its own encoding of %zu bytes", size);
		FUZZ_CHECK(backlen == size && memcmp(back, data, size) == 0,
				   "round trip of %zu bytes gave %zu", size, backlen);
		free(back);
	}

	free(enc);
	free(dec);
	return 0;
}
