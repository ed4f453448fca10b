/*
 * envelope.c - AES-256-GCM sealing of the keyring's private material
 *
 * When jwt.key_encryption_key holds a 256-bit key (64 hex digits), private
 * keys and HMAC secrets are stored as
 *     "JWTKEK1:" || nonce (12) || ciphertext || tag (16)
 * with the row's kid as additional data, so a sealed value cannot be moved
 * to another row.  A dump then holds only ciphertext.
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

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

bool
envelope_is_sealed(const char *data, size_t len)
{
	return len >= ENVELOPE_MAGIC_LEN && memcmp(data, ENVELOPE_MAGIC, ENVELOPE_MAGIC_LEN) == 0;
}

static void
kek_bytes(const char *hex, unsigned char *key)
{
	for (int i = 0; i < 32; i++)
		key[i] = (hex_value(hex[2 * i]) << 4) | hex_value(hex[2 * i + 1]);
}

/* Run AES-256-GCM one way or the other; false on any failure (a wrong tag included). */
static bool
gcm(bool seal, const unsigned char *key, const unsigned char *nonce, const char *aad,
	const unsigned char *in, int inlen, unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int			len;
	bool		ok;

	ok = ctx != NULL &&
		EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, seal) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
		EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, seal) == 1 &&
		EVP_CipherUpdate(ctx, NULL, &len, (const unsigned char *) aad, (int) strlen(aad)) == 1 &&
		EVP_CipherUpdate(ctx, out, &len, in, inlen) == 1 &&
		(seal || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1) &&
		EVP_CipherFinal_ex(ctx, out + len, &len) == 1 &&
		(!seal || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1);
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* Seal plain for the row kid; palloc'd result. */
char *
envelope_seal(const char *kek_hex, const char *kid, const char *plain, size_t len, size_t *outlen)
{
	unsigned char key[32];
	size_t		total = ENVELOPE_MAGIC_LEN + NONCE_LEN + len + TAG_LEN;
	unsigned char *out = palloc(total);
	unsigned char *nonce = out + ENVELOPE_MAGIC_LEN;
	bool		ok;

	memcpy(out, ENVELOPE_MAGIC, ENVELOPE_MAGIC_LEN);
	kek_bytes(kek_hex, key);
	ok = RAND_bytes(nonce, NONCE_LEN) == 1 &&
		gcm(true, key, nonce, kid, (const unsigned char *) plain, (int) len,
			nonce + NONCE_LEN, nonce + NONCE_LEN + len);
	OPENSSL_cleanse(key, sizeof(key));
	if (!ok)
		elog(ERROR, "could not encrypt the key material");
	*outlen = total;
	return (char *) out;
}

/* Open sealed material of the row kid; NULL if the KEK or the kid is wrong. */
char *
envelope_open(const char *kek_hex, const char *kid, const char *sealed, size_t len, size_t *outlen)
{
	unsigned char key[32];
	const unsigned char *nonce = (const unsigned char *) sealed + ENVELOPE_MAGIC_LEN;
	size_t		clen;
	unsigned char *out;
	unsigned char tag[TAG_LEN];
	bool		ok;

	if (len < ENVELOPE_MAGIC_LEN + NONCE_LEN + TAG_LEN)
		return NULL;
	clen = len - ENVELOPE_MAGIC_LEN - NONCE_LEN - TAG_LEN;
	out = palloc(clen + 1);
	memcpy(tag, nonce + NONCE_LEN + clen, TAG_LEN);
	kek_bytes(kek_hex, key);
	ok = gcm(false, key, nonce, kid, nonce + NONCE_LEN, (int) clen, out, tag);
	OPENSSL_cleanse(key, sizeof(key));
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
