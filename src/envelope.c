/*
 * envelope.c - AES-256-GCM sealing of the keyring's private material
 *
 * When jwt.key_encryption_key holds a 256-bit key (64 hex digits), private
 * keys and HMAC secrets are stored as
 *     "JWTKEK2:" || nonce (12) || ciphertext || tag (16)
 * with the row's identity as additional data: its kid, alg, kty and
 * created_at, each length-prefixed.  A sealed value therefore opens only in
 * the row it was sealed for: not in another row, and not in a newer row that
 * reuses the kid (a rollback to an older key).  A dump holds only ciphertext.
 *
 * Version 1 ("JWTKEK1:", written before 0.2.0) bound the kid alone; such
 * values still open, and jwt_seal_keys() rewrites them as version 2.
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "lib/stringinfo.h"

#include "envelope.h"

#define NONCE_LEN 12
#define TAG_LEN 16

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A key-encryption key is exactly 64 hex digits. */
bool
envelope_kek_valid(const char *hex)
{
	if (hex == NULL || strlen(hex) != 64)
		return false;
	for (int i = 0; i < 64; i++)
		if (hex_value(hex[i]) < 0)
			return false;
	return true;
}

/* The format version of sealed material, 0 if it is not sealed. */
int
envelope_version(const char *data, size_t len)
{
	if (len < ENVELOPE_MAGIC_LEN)
		return 0;
	if (memcmp(data, ENVELOPE_MAGIC_V2, ENVELOPE_MAGIC_LEN) == 0)
		return 2;
	if (memcmp(data, ENVELOPE_MAGIC_V1, ENVELOPE_MAGIC_LEN) == 0)
		return 1;
	return 0;
}

static void
append_field(StringInfo aad, const char *s)
{
	uint32		len = s ? (uint32) strlen(s) : 0;
	unsigned char be[4] = {len >> 24, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff};

	appendBinaryStringInfo(aad, (const char *) be, 4);
	appendBinaryStringInfo(aad, s ? s : "", len);
}

/* The additional data of a version 2 envelope: the row's identity, unambiguously encoded. */
static void
row_aad(StringInfo aad, const EnvelopeRow *row)
{
	uint64		t = (uint64) row->created_at;

	initStringInfo(aad);
	appendBinaryStringInfo(aad, ENVELOPE_MAGIC_V2, ENVELOPE_MAGIC_LEN);
	append_field(aad, row->kid);
	append_field(aad, row->alg);
	append_field(aad, row->kty);
	for (int shift = 56; shift >= 0; shift -= 8)
		appendStringInfoChar(aad, (char) ((t >> shift) & 0xff));
}

static void
kek_bytes(const char *hex, unsigned char *key)
{
	for (int i = 0; i < 32; i++)
		key[i] = (hex_value(hex[2 * i]) << 4) | hex_value(hex[2 * i + 1]);
}

/* Run AES-256-GCM one way or the other; false on any failure (a wrong tag included). */
static bool
gcm(bool seal, const unsigned char *key, const unsigned char *nonce,
	const char *aad, int aadlen, const unsigned char *in, int inlen, unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int			len;
	bool		ok;

	ok = ctx != NULL &&
		EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, seal) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
		EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, seal) == 1 &&
		EVP_CipherUpdate(ctx, NULL, &len, (const unsigned char *) aad, aadlen) == 1 &&
		EVP_CipherUpdate(ctx, out, &len, in, inlen) == 1 &&
		(seal || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1) &&
		EVP_CipherFinal_ex(ctx, out + len, &len) == 1 &&
		(!seal || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1);
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* Seal plain under magic with the additional data aad; palloc'd result. */
static char *
seal(const char *kek_hex, const char *magic, const char *aad, int aadlen,
	 const char *plain, size_t len, size_t *outlen)
{
	unsigned char key[32];
	size_t		total = ENVELOPE_MAGIC_LEN + NONCE_LEN + len + TAG_LEN;
	unsigned char *out = palloc(total);
	unsigned char *nonce = out + ENVELOPE_MAGIC_LEN;
	bool		ok;

	memcpy(out, magic, ENVELOPE_MAGIC_LEN);
	kek_bytes(kek_hex, key);
	ok = RAND_bytes(nonce, NONCE_LEN) == 1 &&
		gcm(true, key, nonce, aad, aadlen, (const unsigned char *) plain, (int) len,
			nonce + NONCE_LEN, nonce + NONCE_LEN + len);
	OPENSSL_cleanse(key, sizeof(key));
	if (!ok)
		elog(ERROR, "could not encrypt the key material");
	*outlen = total;
	return (char *) out;
}

/* Seal plain for the jwt_keys row; palloc'd result. */
char *
envelope_seal(const char *kek_hex, const EnvelopeRow *row, const char *plain, size_t len, size_t *outlen)
{
	StringInfoData aad;
	char	   *out;

	row_aad(&aad, row);
	out = seal(kek_hex, ENVELOPE_MAGIC_V2, aad.data, aad.len, plain, len, outlen);
	pfree(aad.data);
	return out;
}

/*
 * Seal plain bound to the kid only (version 1): for the 0.1.0 SQL functions,
 * which a new library serves until ALTER EXTENSION UPDATE, and which do not
 * tell the row's creation time.
 */
char *
envelope_seal_v1(const char *kek_hex, const char *kid, const char *plain, size_t len, size_t *outlen)
{
	return seal(kek_hex, ENVELOPE_MAGIC_V1, kid, (int) strlen(kid), plain, len, outlen);
}

/* Open sealed material of the row; NULL if the KEK or the row is wrong. */
char *
envelope_open(const char *kek_hex, const EnvelopeRow *row, const char *sealed, size_t len, size_t *outlen)
{
	unsigned char key[32];
	const unsigned char *nonce = (const unsigned char *) sealed + ENVELOPE_MAGIC_LEN;
	int			version = envelope_version(sealed, len);
	StringInfoData aad;
	size_t		clen;
	unsigned char *out;
	unsigned char tag[TAG_LEN];
	bool		ok;

	if (version == 0 || len < ENVELOPE_MAGIC_LEN + NONCE_LEN + TAG_LEN)
		return NULL;
	if (version == 2)
		row_aad(&aad, row);
	else
	{
		initStringInfo(&aad);
		appendStringInfoString(&aad, row->kid);
	}
	clen = len - ENVELOPE_MAGIC_LEN - NONCE_LEN - TAG_LEN;
	out = palloc(clen + 1);
	memcpy(tag, nonce + NONCE_LEN + clen, TAG_LEN);
	kek_bytes(kek_hex, key);
	ok = gcm(false, key, nonce, aad.data, aad.len, nonce + NONCE_LEN, (int) clen, out, tag);
	OPENSSL_cleanse(key, sizeof(key));
	pfree(aad.data);
	if (!ok)
	{
		OPENSSL_cleanse(out, clen);
		pfree(out);
		return NULL;
	}
	out[clen] = '\0';
	*outlen = clen;
	return (char *) out;
}
