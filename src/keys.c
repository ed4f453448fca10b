/*
 * keys.c - parsing keys: PEM, JWK, JWKS and HMAC secrets
 *
 * A string that looks like PEM or JSON is parsed as a key or refused, and
 * one that spells a key otherwise (OpenSSH, RFC 4716, bare base64 DER) is
 * refused: no key is ever an HMAC secret, which is what stops RS/HS key
 * confusion.  Every key is checked once here (type, curve, size, RSA
 * exponent, ROCA fingerprint, point on the curve and not of small order,
 * private part matching public part) so that signing and verifying need not.
 * No error quotes key text: only fixed labels from known lists.
 */
#include "postgres.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#include "b64url.h"
#include "crypto.h"
#include "json_strict.h"

#define RSA_MIN_BITS 2048
/* larger moduli cost seconds to check and are no one's JWS key */
#define RSA_MAX_BITS 8192
/* public exponents: odd, 2^16 < e < 2^256 (NIST SP 800-56B, 6.2.1) */
#define RSA_MIN_E_BITS 17
#define RSA_MAX_E_BITS 256
#define HMAC_MIN_SECRET 32
/* a JWKS of more keys than this is refused: real ones hold a handful */
#define JWKS_MAX_KEYS 100
/* key text longer than this is not looked at for a base64 DER spelling */
#define DER_SPELLING_MAX_TEXT 65536

typedef struct CurveInfo
{
	const char *jwk_name;		/* JWK "crv" */
	const char *ossl_name;		/* OpenSSL group or key type name */
	int			coord_len;		/* EC coordinate, or OKP key, length */
	JwtAlg		alg;
} CurveInfo;

static const CurveInfo ec_curves[] = {
	{"P-256", "prime256v1", 32, JWT_ALG_ES256},
	{"P-384", "secp384r1", 48, JWT_ALG_ES384},
	{"P-521", "secp521r1", 66, JWT_ALG_ES512},
};

static const CurveInfo okp_curves[] = {
	{"Ed25519", "ED25519", 32, JWT_ALG_EDDSA},
	{"Ed448", "ED448", 57, JWT_ALG_EDDSA},
};

/* Key objects initialised by this backend, the last one's serial. */
static uint64 key_serials = 0;

/* An empty key: no type yet, no algorithm pinned, a serial of its own. */
void
jwt_key_init(JwtKey *key)
{
	memset(key, 0, sizeof(*key));
	key->serial = ++key_serials;
	key->jwk_alg = JWT_ALG_NONE;
	key->curve_alg = JWT_ALG_NONE;
	key->okp_alg = JWT_ALG_NONE;
}

static void
key_free(JwtKey *key)
{
	EVP_PKEY_free(key->pkey);
	key->pkey = NULL;
	for (int i = 0; i < 3; i++)
	{
		EVP_MAC_CTX_free(key->mac[i]);
		key->mac[i] = NULL;
	}
	for (int i = 0; i < JWT_ALG_COUNT; i++)
	{
		EVP_PKEY_CTX_free(key->verify_ctx[i]);
		key->verify_ctx[i] = NULL;
		EVP_PKEY_CTX_free(key->sign_ctx[i]);
		key->sign_ctx[i] = NULL;
	}
	if (key->secret)
	{
		OPENSSL_cleanse(key->secret, key->secret_len);
		pfree(key->secret);
		key->secret = NULL;
	}
}

/* Free the OpenSSL objects and wipe the secrets of a key set. */
void
jwt_keyset_free(JwtKeySet *set)
{
	if (set == NULL)
		return;
	for (int i = 0; i < set->nkeys; i++)
		key_free(&set->keys[i]);
	set->nkeys = 0;
}

/* ---------- key spellings that are not HMAC secrets ---------- */

static const char *
find_bytes(const char *hay, size_t haylen, const char *needle)
{
	size_t		nlen = strlen(needle);

	for (size_t i = 0; i + nlen <= haylen; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, nlen) == 0)
			return hay + i;
	return NULL;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/*
 * Decode the base64 (or base64url) text s into out, at most max bytes; with
 * skip_space, white space between characters is allowed.  Padding ends the
 * text: only padding and white space may follow.  The bytes decoded, or -1
 * for anything else.
 */
static int
b64_decode_text(const char *s, size_t len, bool skip_space, unsigned char *out, size_t max)
{
	uint32		acc = 0;
	int			bits = 0;
	size_t		n = 0,
				i = 0;

	for (; i < len && n < max; i++)
	{
		int			v = b64_value((unsigned char) s[i]);

		if (v < 0)
		{
			if (skip_space && isspace((unsigned char) s[i]))
				continue;
			if (s[i] == '=')
				break;
			return -1;
		}
		acc = (acc << 6) | (uint32) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			out[n++] = (unsigned char) (acc >> bits);
		}
	}
	for (; i < len && n < max; i++)
		if (s[i] != '=' && !(skip_space && isspace((unsigned char) s[i])))
			return -1;
	return (int) n;
}

/*
 * Is this text an OpenSSH public key line ("ssh-ed25519 AAAA...", also with
 * authorized_keys options before it)?  A word naming an SSH key type, then
 * blanks, then the base64 of a blob that starts with a 4-byte length: "AAAA".
 */
static bool
is_openssh_key(const char *s, size_t len)
{
	static const char *const prefixes[] = {"ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-sha2-"};

	for (size_t i = 0; i < len; i++)
	{
		size_t		j;

		/* at the start of a word only */
		if (i > 0 && !isspace((unsigned char) s[i - 1]) && s[i - 1] != ',' && s[i - 1] != '"')
			continue;
		for (size_t k = 0; k < lengthof(prefixes); k++)
		{
			size_t		plen = strlen(prefixes[k]);

			if (len - i < plen || memcmp(s + i, prefixes[k], plen) != 0)
				continue;
			for (j = i + plen; j < len && !isspace((unsigned char) s[j]); j++)
				;
			if (j == i + plen)
				continue;
			while (j < len && (s[j] == ' ' || s[j] == '\t'))
				j++;
			if (j > i + plen && len - j >= 4 && memcmp(s + j, "AAAA", 4) == 0)
				return true;
		}
	}
	return false;
}

/* Do these bytes parse as a DER key (SPKI, PKCS#8, PKCS#1, SEC1) or certificate? */
static bool
der_is_key(const unsigned char *der, size_t n)
{
	EVP_PKEY   *pkey = NULL;
	X509	   *cert;
	const unsigned char *p;
	bool		found = false;

	if (n < 20 || n > DER_SPELLING_MAX_TEXT || der[0] != 0x30)
		return false;
	ERR_clear_error();
	p = der;
	if ((pkey = d2i_PUBKEY(NULL, &p, (long) n)) != NULL)	/* SubjectPublicKeyInfo */
		found = true;
	p = der;
	if (!found && (pkey = d2i_AutoPrivateKey(NULL, &p, (long) n)) != NULL)	/* PKCS#8, PKCS#1, SEC1 */
		found = true;
	p = der;
	if (!found && (pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long) n)) != NULL)	/* PKCS#1 RSAPublicKey */
		found = true;
	EVP_PKEY_free(pkey);
	p = der;
	if (!found && (cert = d2i_X509(NULL, &p, (long) n)) != NULL)
	{
		found = true;
		X509_free(cert);
	}
	ERR_clear_error();
	return found;
}

/*
 * The start of an OpenSSH key blob without its type word ("AAAAB3NzaC1yc2E..."):
 * base64 of a 4-byte length (7 to 64) and a key type name.
 */
static bool
is_openssh_blob(const char *s, size_t len)
{
	unsigned char head[9];
	uint32		namelen;

	while (len > 0 && isspace((unsigned char) *s))
		s++, len--;
	if (len < 16 || memcmp(s, "AAAA", 4) != 0 ||
		b64_decode_text(s, 12, false, head, sizeof(head)) != (int) sizeof(head))
		return false;
	namelen = ((uint32) head[0] << 24) | ((uint32) head[1] << 16) | ((uint32) head[2] << 8) | head[3];
	return namelen >= 7 && namelen <= 64 &&
		(memcmp(head + 4, "ssh-", 4) == 0 || memcmp(head + 4, "ecdsa", 5) == 0 ||
		 memcmp(head + 4, "sk-", 3) == 0);
}

/* Hex of a DER key ("3082010a02820101..."), as some tools print them. */
static bool
is_hex_der_key(const char *s, size_t len)
{
	unsigned char *der;
	size_t		n = 0;
	bool		found;

	while (len > 0 && isspace((unsigned char) s[len - 1]))
		len--;
	while (len > 0 && isspace((unsigned char) *s))
		s++, len--;
	if (len < 80 || len % 2 != 0 || len > DER_SPELLING_MAX_TEXT || s[0] != '3' || s[1] != '0')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char) s[i]))
			return false;
	der = palloc(len / 2);
	for (size_t i = 0; i < len; i += 2)
	{
		char		pair[3] = {s[i], s[i + 1], '\0'};

		der[n++] = (unsigned char) strtoul(pair, NULL, 16);
	}
	found = der_is_key(der, n);
	OPENSSL_cleanse(der, n);
	pfree(der);
	return found;
}

/*
 * Is this text the bare base64 of a DER key or certificate, as identity
 * providers show them (x5c, "public key" fields)?  Only when OpenSSL parses
 * the decoded bytes as one: a random secret that happens to be base64 is
 * still a secret.
 */
static bool
is_base64_der_key(const char *s, size_t len)
{
	unsigned char *der;
	int			n;
	size_t		i = 0;
	bool		found;

	while (i < len && isspace((unsigned char) s[i]))
		i++;
	/* DER starts with a SEQUENCE (0x30), which base64 spells 'M' */
	if (len - i < 40 || len > DER_SPELLING_MAX_TEXT || s[i] != 'M')
		return false;
	der = palloc(len);
	n = b64_decode_text(s + i, len - i, true, der, len);
	found = n > 0 && der_is_key(der, (size_t) n);
	OPENSSL_cleanse(der, len);
	pfree(der);
	return found;
}

/* A "----BEGIN" of any case and at least four dashes: a PEM someone retyped. */
static bool
has_pem_like_line(const char *s, size_t len)
{
	for (size_t i = 0; i + 9 <= len; i++)
		if (memcmp(s + i, "----", 4) == 0 && pg_strncasecmp(s + i + 4, "begin", 5) == 0)
			return true;
	return false;
}

/*
 * What kind of key these bytes spell, or NULL for none: PEM ("-----BEGIN"),
 * JSON (a JWK or JWKS), OpenSSH, RFC 4716, PuTTY, or bare base64 DER.  A key
 * must never become an HMAC secret: verifying with it would accept tokens
 * HMAC'd with the public key (RS/HS confusion, CVE-2022-29217 in PyJWT).
 */
static const char *
key_spelling(const char *s, size_t len)
{
	JsonDoc		doc;
	size_t		i = 0;

	if (find_bytes(s, len, "-----BEGIN") != NULL || has_pem_like_line(s, len))
		return "PEM";
	while (i < len && isspace((unsigned char) s[i]))
		i++;
	/* base64 of a PEM text (as Kubernetes secrets and environment variables hold them) */
	if (len - i >= 14 && memcmp(s + i, "LS0tLS1CRUdJT", 13) == 0)
		return "base64 PEM";
	/* DER bytes themselves (a bytea secret) */
	if (der_is_key((const unsigned char *) s, len))
		return "DER";
	/* random secrets start with '{' one time in 256: JSON only if it parses */
	if (i < len && s[i] == '{' && json_strict_parse(s, len, &doc) == JSON_STRICT_OK)
		return "JSON";
	if (find_bytes(s, len, "---- BEGIN SSH2 ") != NULL)
		return "RFC 4716 SSH";
	if (len - i >= 20 && memcmp(s + i, "PuTTY-User-Key-File-", 20) == 0)
		return "PuTTY";
	if (is_openssh_key(s, len))
		return "OpenSSH";
	if (is_base64_der_key(s, len))
		return "base64 DER";
	if (is_openssh_blob(s, len))
		return "OpenSSH blob";
	if (is_hex_der_key(s, len))
		return "hex DER";
	return NULL;
}

/* Refuse a secret that is really a key: 22023 naming the spelling, never quoting it. */
static JwtStatus
refuse_key_as_secret(const char *spelling, JwtError *err)
{
	if (strcmp(spelling, "PEM") == 0 || strcmp(spelling, "JSON") == 0)
		return jwt_fail(err, JWT_ERR_KEY, "a PEM or JSON key cannot be used as an HMAC secret");
	jwt_fail(err, JWT_ERR_KEY, "a public or private key cannot be used as an HMAC secret");
	jwt_fail_detail(err, "The secret is a key in %s form.", spelling);
	return JWT_ERR_KEY;
}

static JwtStatus
set_hmac_secret(JwtKey *key, const unsigned char *secret, size_t len,
				MemoryContext keep, JwtError *err)
{
	const char *spelling = key_spelling((const char *) secret, len);

	if (spelling != NULL)
		return refuse_key_as_secret(spelling, err);
	if (len < HMAC_MIN_SECRET)
	{
		jwt_fail(err, JWT_ERR_KEY, "HMAC key is too short");
		jwt_fail_detail(err, "HMAC secrets need at least %d bytes (RFC 7518 section 3.2); this one has %zu.",
						HMAC_MIN_SECRET, len);
		return JWT_ERR_KEY;
	}
	jwt_key_set_hmac_secret(key, secret, len, keep);
	return JWT_OK;
}

/*
 * Make an initialised key an HMAC key for secret, copied into keep, without
 * the length rule (the pgjwt drop-in accepts any secret, as pgjwt does).
 */
void
jwt_key_set_hmac_secret(JwtKey *key, const unsigned char *secret, size_t len, MemoryContext keep)
{
	key->type = JWT_KEY_HMAC;
	key->secret = MemoryContextAlloc(keep, Max(len, 1));
	memcpy(key->secret, secret, len);
	key->secret_len = (int) len;
	key->has_private = true;
}

/* ---------- checks OpenSSL does not make ---------- */

/*
 * EdDSA public keys of small order.
 *
 * Ed25519 and Ed448 are twisted Edwards curves a*x^2 + y^2 = 1 + d*x^2*y^2
 * over GF(p): Ed25519 has p = 2^255 - 19, a = -1, d = -121665/121666 and
 * cofactor h = 8; Ed448 has p = 2^448 - 2^224 - 1, a = 1, d = -39081 and
 * h = 4.  RFC 8032 encodes a point as y in little-endian with the sign of x
 * in the top bit of the last byte.  The group is (prime order) x (order h),
 * so a point P has small order exactly when [h]P is the identity (0, 1).
 * With such a key, a signature R = (a small-order point), S = 0 satisfies
 * the verification equation [S]B = R + [k]A for a fraction of messages or,
 * for A = identity and R = identity, for every message: universal forgery.
 *
 * The check works on y alone.  Refuse y >= p (a second spelling of a point,
 * RFC 8032 5.1.3 step 1).  The curve equation gives
 *     u = x^2 = (y^2 - 1) / (d*y^2 - a)
 * (the denominator is never zero: d/a is not a square, y^2 is); u must be a
 * square (else there is no point), and x = 0 must not carry a sign bit.
 * Doubling needs only u = x^2 and v = y^2:
 *     y' = (v - a*u) / (1 - d*u*v)      x'^2 = 4*u*v / (1 + d*u*v)^2
 * (the Edwards addition law is complete here: 1 +- d*u*v is never zero for a
 * point on the curve).  Doubling log2(h) times gives [h]P, whose y is 1 only
 * for the identity.  This refuses the 8 (Ed25519) or 4 (Ed448) torsion
 * points, among them the identity 01 00..00, and their non-canonical
 * spellings y + p.
 */
typedef struct EdwardsCurve
{
	int			len;			/* encoded point, bytes */
	int			a;				/* -1 or 1 */
	int			doublings;		/* log2 of the cofactor */
} EdwardsCurve;

static const EdwardsCurve ed25519_curve = {32, -1, 3};
static const EdwardsCurve ed448_curve = {57, 1, 2};

/* p and d of a curve, in a BN_CTX frame. */
static bool
edwards_params(const EdwardsCurve *c, BIGNUM *p, BIGNUM *d, BN_CTX *ctx)
{
	BIGNUM	   *t = BN_CTX_get(ctx);

	if (t == NULL)
		return false;
	BN_zero(p);
	if (c->len == 32)
	{
		/* p = 2^255 - 19, d = -121665 * 121666^-1 mod p */
		if (!BN_set_bit(p, 255) || !BN_sub_word(p, 19) ||
			!BN_set_word(t, 121666) || BN_mod_inverse(t, t, p, ctx) == NULL ||
			!BN_mul_word(t, 121665) || !BN_mod_sub(d, p, t, p, ctx))
			return false;
	}
	else
	{
		/* p = 2^448 - 2^224 - 1, d = -39081 mod p */
		if (!BN_set_bit(p, 448) || !BN_set_bit(t, 224) || !BN_sub(p, p, t) ||
			!BN_sub_word(p, 1) || !BN_copy(d, p) || !BN_sub_word(d, 39081))
			return false;
	}
	return true;
}

/* NULL if the encoded EdDSA public key is a canonical point of large order, else why not. */
static const char *
edwards_key_problem(const EdwardsCurve *c, const unsigned char *enc, size_t len)
{
	unsigned char buf[57];
	BN_CTX	   *ctx;
	BIGNUM	   *p,
			   *d,
			   *y,
			   *u,
			   *v,
			   *num,
			   *den,
			   *e;
	const char *problem = "The key is not a valid point";
	bool		sign;

	if (len != (size_t) c->len)
		return "The key has the wrong length";
	memcpy(buf, enc, len);
	sign = (buf[len - 1] & 0x80) != 0;
	buf[len - 1] &= 0x7f;

	if ((ctx = BN_CTX_new()) == NULL)
		return problem;
	BN_CTX_start(ctx);
	p = BN_CTX_get(ctx);
	d = BN_CTX_get(ctx);
	y = BN_CTX_get(ctx);
	u = BN_CTX_get(ctx);
	v = BN_CTX_get(ctx);
	num = BN_CTX_get(ctx);
	den = BN_CTX_get(ctx);
	e = BN_CTX_get(ctx);
	if (e == NULL || !edwards_params(c, p, d, ctx) ||
		BN_lebin2bn(buf, (int) len, y) == NULL)
		goto done;
	if (BN_cmp(y, p) >= 0)
	{
		problem = "The key is not in canonical form";
		goto done;
	}

	/* u = (v - 1) / (d*v - a), v = y^2 */
	if (!BN_mod_sqr(v, y, p, ctx) ||
		!BN_copy(num, v) || !BN_sub_word(num, 1) || !BN_nnmod(num, num, p, ctx) ||
		!BN_mod_mul(den, d, v, p, ctx) ||
		!(c->a < 0 ? BN_add_word(den, 1) : BN_sub_word(den, 1)) ||
		!BN_nnmod(den, den, p, ctx) ||
		BN_mod_inverse(den, den, p, ctx) == NULL ||
		!BN_mod_mul(u, num, den, p, ctx))
		goto done;

	/* u must be a square: Euler's criterion u^((p-1)/2) = 1 */
	if (BN_is_zero(u))
	{
		if (sign)
		{
			problem = "The key is not in canonical form";
			goto done;
		}
	}
	else if (!BN_copy(e, p) || !BN_sub_word(e, 1) || !BN_rshift1(e, e) ||
			 !BN_mod_exp(e, u, e, p, ctx) || !BN_is_one(e))
		goto done;

	for (int i = 0; i < c->doublings; i++)
	{
		/* w = d*u*v; y' = (v - a*u) / (1 - w); u' = 4*u*v / (1 + w)^2 */
		if (!BN_mod_mul(e, u, v, p, ctx) ||
			!BN_mod_mul(num, e, d, p, ctx) ||	/* num = w */
			!BN_copy(den, p) || !BN_add_word(den, 1) || !BN_mod_sub(den, den, num, p, ctx) ||	/* 1 - w */
			BN_mod_inverse(den, den, p, ctx) == NULL ||
			!(c->a < 0 ? BN_mod_add(y, v, u, p, ctx) : BN_mod_sub(y, v, u, p, ctx)) ||
			!BN_mod_mul(y, y, den, p, ctx) ||
			!BN_add_word(num, 1) || !BN_nnmod(num, num, p, ctx) ||	/* 1 + w */
			!BN_mod_sqr(num, num, p, ctx) ||
			BN_mod_inverse(num, num, p, ctx) == NULL ||
			!BN_mod_mul(u, u, v, p, ctx) || !BN_mul_word(u, 4) ||
			!BN_mod_mul(u, u, num, p, ctx) ||
			!BN_mod_sqr(v, y, p, ctx))
			goto done;
	}
	problem = BN_is_one(y) ? "The key is a point of small order" : NULL;

done:
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	ERR_clear_error();
	return problem;
}

/*
 * The ROCA fingerprint (CVE-2017-15361; Nemec et al., "The Return of
 * Coppersmith's Attack", CCS 2017).  Infineon's RSALib made primes
 * p = k*M + (65537^a mod M), M a primorial, so for every small prime r
 * dividing M, p mod r and q mod r are powers of 65537 mod r, and so is
 * n mod r: n mod r lies in the subgroup that 65537 generates in (Z/rZ)*.
 * M includes the primes 3..167 for every key size, so a modulus for which
 * this holds at all of them carries the fingerprint (a random modulus passes
 * all with probability about 2^-28, the figure of the published test).
 */
static bool
rsa_has_roca_fingerprint(const BIGNUM *n)
{
	static const int primes[] = {
		3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71,
		73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149,
		151, 157, 163, 167};

	for (size_t i = 0; i < lengthof(primes); i++)
	{
		int			r = primes[i];
		BN_ULONG	residue = BN_mod_word(n, (BN_ULONG) r);
		int			g = 65537 % r;
		int			x = g;
		bool		in_subgroup = false;

		if (residue == (BN_ULONG) -1)
			return false;
		/* walk the powers g, g^2, ... until they come back to 1 */
		for (int k = 0; k < r; k++)
		{
			if ((BN_ULONG) x == residue)
			{
				in_subgroup = true;
				break;
			}
			if (x == 1)
				break;
			x = (x * g) % r;
		}
		if (!in_subgroup)
			return false;
	}
	return true;
}

/* Size, public exponent and ROCA checks of an RSA key, before OpenSSL's own. */
static JwtStatus
check_rsa(JwtKey *key, EVP_PKEY *pkey, JwtError *err)
{
	BIGNUM	   *n = NULL,
			   *e = NULL;
	JwtStatus	st = JWT_OK;

	key->bits = EVP_PKEY_get_bits(pkey);
	if (key->bits < RSA_MIN_BITS)
	{
		jwt_fail(err, JWT_ERR_KEY, "RSA key is too short");
		jwt_fail_detail(err, "RSA keys need at least %d bits (RFC 7518 section 3.3); this one has %d.",
						RSA_MIN_BITS, key->bits);
		return JWT_ERR_KEY;
	}
	if (key->bits > RSA_MAX_BITS)
	{
		jwt_fail(err, JWT_ERR_KEY, "RSA key is too long");
		jwt_fail_detail(err, "RSA keys may have at most %d bits; this one has %d.",
						RSA_MAX_BITS, key->bits);
		return JWT_ERR_KEY;
	}
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
		EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
		st = jwt_fail(err, JWT_ERR_KEY, "key is invalid");
	else if (!BN_is_odd(e) || BN_num_bits(e) < RSA_MIN_E_BITS || BN_num_bits(e) > RSA_MAX_E_BITS)
	{
		/* a huge e makes every verification as slow as a private-key operation */
		st = jwt_fail(err, JWT_ERR_KEY, "RSA public exponent is out of range");
		jwt_fail_detail(err, "The exponent must be odd and between 2^16 and 2^256 (NIST SP 800-56B); 65537 is usual.");
	}
	else if (rsa_has_roca_fingerprint(n))
	{
		st = jwt_fail(err, JWT_ERR_KEY, "RSA key has the ROCA fingerprint (CVE-2017-15361)");
		jwt_fail_detail(err, "Its modulus was made by a vulnerable key generator and can be factored; replace the key.");
	}
	BN_free(n);
	BN_free(e);
	ERR_clear_error();
	return st;
}

/*
 * Record the type of an OpenSSL key, refuse what JWS cannot use or what is
 * too weak, and check that the key is consistent.  Takes ownership of pkey.
 */
static JwtStatus
adopt_pkey(JwtKey *key, EVP_PKEY *pkey, bool has_private, bool check_pair, JwtError *err)
{
	key->pkey = pkey;
	key->has_private = has_private;
	switch (EVP_PKEY_get_base_id(pkey))
	{
		case EVP_PKEY_RSA:
			{
				JwtStatus	st;

				key->type = JWT_KEY_RSA;
				if ((st = check_rsa(key, pkey, err)) != JWT_OK)
					return st;
				break;
			}
		case EVP_PKEY_EC:
			{
				char		group[64];

				key->type = JWT_KEY_EC;
				if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
													group, sizeof(group), NULL))
					return jwt_fail(err, JWT_ERR_KEY,
									"EC keys with explicit curve parameters are not supported");
				for (size_t i = 0; i < lengthof(ec_curves); i++)
					if (strcmp(group, ec_curves[i].ossl_name) == 0)
						key->curve_alg = ec_curves[i].alg;
				if (key->curve_alg == JWT_ALG_NONE)
				{
					jwt_fail(err, JWT_ERR_KEY, "unsupported elliptic curve \"%s\"", group);
					jwt_fail_detail(err, "JWS uses P-256, P-384 and P-521.");
					return JWT_ERR_KEY;
				}
				break;
			}
		case EVP_PKEY_ED25519:
		case EVP_PKEY_ED448:
			{
				bool		is25519 = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519;
				unsigned char pub[57];
				size_t		publen = sizeof(pub);
				const char *problem;

				key->type = JWT_KEY_OKP;
				key->curve_alg = JWT_ALG_EDDSA;
				key->okp_alg = is25519 ? JWT_ALG_ED25519 : JWT_ALG_ED448;
				/* OpenSSL accepts any bytes as an EdDSA public key */
				if (!EVP_PKEY_get_raw_public_key(pkey, pub, &publen))
					problem = "The key is not a valid point";
				else
					problem = edwards_key_problem(is25519 ? &ed25519_curve : &ed448_curve,
												  pub, publen);
				ERR_clear_error();
				if (problem != NULL)
				{
					jwt_fail(err, JWT_ERR_KEY, "%s public key is invalid", is25519 ? "Ed25519" : "Ed448");
					jwt_fail_detail(err, "%s (RFC 8032 section 5.%d.3).", problem, is25519 ? 1 : 2);
					return JWT_ERR_KEY;
				}
				break;
			}
		case EVP_PKEY_RSA_PSS:
			return jwt_fail(err, JWT_ERR_KEY,
							"RSA-PSS restricted keys are not supported; use a plain RSA key for PS256/384/512");
		default:
			return jwt_fail(err, JWT_ERR_KEY, "unsupported key type");
	}

	/* OpenSSL's own checks cost milliseconds: they run last, see check_keys */
	key->check_pending = true;
	key->check_pair = check_pair;
	return JWT_OK;
}

/*
 * OpenSSL's checks of the keys of a set: on-curve points, sane RSA moduli
 * (a primality test of n, 130 ms at 8192 bits), a private part matching the
 * public one.  They run once every cheaper check of every key has passed, so
 * that a set with a malformed key fails before any of this work, and a set
 * stays cancellable between keys.
 */
static JwtStatus
check_keys(JwtKeySet *set, const int *position, JwtError *err)
{
	for (int i = 0; i < set->nkeys; i++)
	{
		JwtKey	   *key = &set->keys[i];
		EVP_PKEY_CTX *cctx;
		bool		consistent;

		if (!key->check_pending)
			continue;
		CHECK_FOR_INTERRUPTS();
		cctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
		if (cctx == NULL)
			return jwt_fail(err, JWT_ERR_INTERNAL, "could not check the key");
		consistent = EVP_PKEY_public_check(cctx) == 1 &&
			(!key->check_pair || EVP_PKEY_pairwise_check(cctx) == 1);
		EVP_PKEY_CTX_free(cctx);
		ERR_clear_error();
		if (!consistent)
		{
			jwt_fail(err, JWT_ERR_KEY, "key is invalid");
			if (position != NULL)
				jwt_fail_detail(err, "In JWKS key %d.", position[i]);
			return JWT_ERR_KEY;
		}
		key->check_pending = false;
	}
	return JWT_OK;
}

/* ---------- PEM ---------- */

static bool
label_is(const char *label, size_t len, const char *name)
{
	return strlen(name) == len && memcmp(label, name, len) == 0;
}

/* PEM labels (RFC 7468 and OpenSSL's) that a refusal may name. */
static const char *const known_pem_labels[] = {
	"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST", "X509 CRL", "TRUSTED CERTIFICATE",
	"ATTRIBUTE CERTIFICATE", "PKCS7", "CMS", "PARAMETERS", "DH PARAMETERS",
	"X9.42 DH PARAMETERS", "DSA PARAMETERS", "DSA PRIVATE KEY", "DSA PUBLIC KEY",
	"OPENSSH PRIVATE KEY", "SSH2 PUBLIC KEY", "SSH2 ENCRYPTED PRIVATE KEY",
	"PGP PUBLIC KEY BLOCK", "PGP PRIVATE KEY BLOCK", "PGP MESSAGE", "PGP SIGNATURE",
	"ANY PRIVATE KEY", "SSL SESSION PARAMETERS", "X509 CERTIFICATE"};

static JwtStatus
parse_pem(const char *text, size_t len, JwtKey *key, JwtError *err)
{
	const char *end = text + len;
	const char *block = text;
	const char *label = NULL;
	size_t		label_len = 0;
	bool		is_private = false;
	bool		is_cert = false;
	EVP_PKEY   *pkey = NULL;

	/* The first key block; "EC PARAMETERS" may precede an EC key. */
	while ((block = find_bytes(block, end - block, "-----BEGIN ")) != NULL)
	{
		const char *stop;
		const char *eol;

		label = block + strlen("-----BEGIN ");
		/* the label ends with dashes on its own line: never read into the body */
		for (eol = label; eol < end && *eol != '\n' && *eol != '\r'; eol++)
			;
		if ((stop = find_bytes(label, eol - label, "-----")) == NULL)
		{
			jwt_fail(err, JWT_ERR_KEY, "invalid PEM key");
			jwt_fail_detail(err, "The BEGIN line does not end with \"-----\".");
			return JWT_ERR_KEY;
		}
		label_len = stop - label;
		if (!label_is(label, label_len, "EC PARAMETERS"))
			break;
		block = stop;
	}
	if (block == NULL)
		return jwt_fail(err, JWT_ERR_KEY, "invalid PEM key");

	if (label_is(label, label_len, "PRIVATE KEY") ||
		label_is(label, label_len, "RSA PRIVATE KEY") ||
		label_is(label, label_len, "EC PRIVATE KEY"))
		is_private = true;
	else if (label_is(label, label_len, "CERTIFICATE"))
		is_cert = true;
	else if (!label_is(label, label_len, "PUBLIC KEY") &&
			 !label_is(label, label_len, "RSA PUBLIC KEY"))
	{
		if (label_is(label, label_len, "ENCRYPTED PRIVATE KEY"))
			return jwt_fail(err, JWT_ERR_KEY, "encrypted PEM keys are not supported");
		/* only a label from this list is named: anything else may be key bytes */
		for (size_t i = 0; i < lengthof(known_pem_labels); i++)
			if (label_is(label, label_len, known_pem_labels[i]))
				return jwt_fail(err, JWT_ERR_KEY, "unsupported PEM block \"%s\"",
								known_pem_labels[i]);
		return jwt_fail(err, JWT_ERR_KEY, "unsupported PEM block");
	}
	if (find_bytes(block, end - block, "ENCRYPTED") != NULL)
		return jwt_fail(err, JWT_ERR_KEY, "encrypted PEM keys are not supported");

	ERR_clear_error();
	if (is_cert)
	{
		BIO		   *bio = BIO_new_mem_buf(block, (int) (end - block));
		X509	   *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

		if (cert != NULL)
			pkey = X509_get_pubkey(cert);
		X509_free(cert);
		BIO_free(bio);
	}
	else
	{
		const unsigned char *data = (const unsigned char *) block;
		size_t		datalen = end - block;
		OSSL_DECODER_CTX *dctx;

		dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL,
											 is_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
											 NULL, NULL);
		/* an empty passphrase: never prompt on the server's terminal */
		if (dctx == NULL ||
			!OSSL_DECODER_CTX_set_passphrase(dctx, (const unsigned char *) "", 0) ||
			!OSSL_DECODER_from_data(dctx, &data, &datalen))
		{
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
		OSSL_DECODER_CTX_free(dctx);
	}
	ERR_clear_error();
	if (pkey == NULL)
		return jwt_fail(err, JWT_ERR_KEY, "invalid PEM key");
	return adopt_pkey(key, pkey, is_private, is_private, err);
}

/* ---------- JWK ---------- */

/* A member that must be a string when present. */
static JwtStatus
jwk_string(const JsonDoc *doc, const char *name, bool required, const char **value, JwtError *err)
{
	const JsonMember *m = json_doc_get(doc, name);

	*value = NULL;
	if (m == NULL)
		return required ? jwt_fail(err, JWT_ERR_KEY, "JWK is missing \"%s\"", name) : JWT_OK;
	if (m->value.kind != JK_STRING)
		return jwt_fail(err, JWT_ERR_KEY, "JWK member \"%s\" must be a string", name);
	*value = m->value.str;
	return JWT_OK;
}

/*
 * A base64url member decoded into palloc'd bytes (exact_len > 0: that length;
 * shorter values are left-padded with zeros only when pad is set).
 */
static JwtStatus
jwk_bytes(const JsonDoc *doc, const char *name, bool required, int exact_len, bool pad,
		  unsigned char **out, size_t *outlen, JwtError *err)
{
	const char *s;
	JwtStatus	st;

	*out = NULL;
	*outlen = 0;
	if ((st = jwk_string(doc, name, required, &s, err)) != JWT_OK || s == NULL)
		return st;
	*out = palloc(B64URL_DECODED_MAX(strlen(s)) + 1);
	if (!b64url_decode(s, strlen(s), *out, outlen) || *outlen == 0)
		return jwt_fail(err, JWT_ERR_KEY, "JWK member \"%s\" is not valid base64url", name);
	if (exact_len > 0 && *outlen != (size_t) exact_len)
	{
		unsigned char *padded;

		if (!pad)
		{
			/* an OKP key is a byte string, not a number: no padding (RFC 8037 section 2) */
			jwt_fail(err, JWT_ERR_KEY, "JWK member \"%s\" has the wrong length for its curve", name);
			jwt_fail_detail(err, "It must be %d bytes (RFC 8037 section 2).", exact_len);
			return JWT_ERR_KEY;
		}
		if (*outlen > (size_t) exact_len)
		{
			jwt_fail(err, JWT_ERR_KEY, "JWK member \"%s\" is too long for its curve", name);
			jwt_fail_detail(err, "It must be %d bytes (RFC 7518 section 6.2.1.2).", exact_len);
			return JWT_ERR_KEY;
		}
		/*
		 * RFC 7518 wants full-length coordinates, but some libraries (PyJWT
		 * among them) drop leading zero bytes; the value is the same number.
		 */
		padded = palloc0(exact_len);
		memcpy(padded + exact_len - *outlen, *out, *outlen);
		OPENSSL_cleanse(*out, *outlen);
		pfree(*out);
		*out = padded;
		*outlen = exact_len;
	}
	return JWT_OK;
}

static void
wipe_bytes(unsigned char *buf, size_t len)
{
	if (buf)
	{
		OPENSSL_cleanse(buf, len);
		pfree(buf);
	}
}

/* Build an EVP_PKEY of type name from parameters; NULL on failure. */
static EVP_PKEY *
pkey_from_params(const char *type, OSSL_PARAM_BLD *bld, bool is_private)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY   *pkey = NULL;

	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
		EVP_PKEY_fromdata(ctx, &pkey, is_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
						  params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

/*
 * Names from the JOSE registries that refusals may quote.  Any other value
 * of "crv", "kty" or "alg" is not repeated: no message quotes what could be
 * a pasted key.
 */
static const char *const known_crv_names[] = {
	"P-192", "P-224", "P-256", "P-384", "P-521", "secp256k1", "P-256K", "X25519", "X448",
	"Ed25519", "Ed448", "brainpoolP256r1", "brainpoolP384r1", "brainpoolP512r1",
	"BP-256", "BP-384", "BP-512"};
static const char *const known_kty_names[] = {"DSA", "AKP", "oct", "RSA", "EC", "OKP"};
static const char *const known_alg_names[] = {
	"none", "ES256K", "RSA1_5", "RSA-OAEP", "RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512",
	"A128KW", "A192KW", "A256KW", "dir", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW",
	"ECDH-ES+A256KW", "A128GCMKW", "A192GCMKW", "A256GCMKW", "PBES2-HS256+A128KW",
	"PBES2-HS384+A192KW", "PBES2-HS512+A256KW", "A128GCM", "A192GCM", "A256GCM",
	"A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512", "ML-DSA-44", "ML-DSA-65", "ML-DSA-87"};

/* The entry of list equal to s, or NULL. */
static const char *
known_name(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return list[i];
	return NULL;
}

static JwtStatus
jwk_rsa(const JsonDoc *doc, JwtKey *key, JwtError *err)
{
	static const char *const names[] = {"n", "e", "d", "p", "q", "dp", "dq", "qi"};
	static const char *const params[] = {
		OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
		OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
		OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
		OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
	unsigned char *bytes[8] = {0};
	size_t		lens[8] = {0};
	BIGNUM	   *bns[8] = {0};
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY   *pkey = NULL;
	JwtStatus	st = JWT_OK;
	int			nfactors = 0;
	bool		is_private;

	if (json_doc_get(doc, "oth") != NULL)
		return jwt_fail(err, JWT_ERR_KEY, "multi-prime RSA keys are not supported");
	for (int i = 0; i < 8 && st == JWT_OK; i++)
		st = jwk_bytes(doc, names[i], i < 2, 0, false, &bytes[i], &lens[i], err);
	if (st != JWT_OK)
		goto done;
	/* before any arithmetic on them: a huge n or e is a CPU sink */
	if (lens[0] > RSA_MAX_BITS / 8 + 1)
	{
		st = jwt_fail(err, JWT_ERR_KEY, "RSA key is too long");
		jwt_fail_detail(err, "RSA keys may have at most %d bits.", RSA_MAX_BITS);
		goto done;
	}
	if (lens[1] > RSA_MAX_E_BITS / 8 + 1)
	{
		st = jwt_fail(err, JWT_ERR_KEY, "RSA public exponent is out of range");
		jwt_fail_detail(err, "The exponent must be odd and between 2^16 and 2^256 (NIST SP 800-56B); 65537 is usual.");
		goto done;
	}
	is_private = bytes[2] != NULL;
	for (int i = 3; i < 8; i++)
		nfactors += bytes[i] != NULL;
	if (nfactors != 0 && (nfactors != 5 || !is_private))
	{
		st = jwt_fail(err, JWT_ERR_KEY, "JWK has some but not all RSA private factors");
		goto done;
	}

	/*
	 * Without p and q nothing can check that d belongs to n and e: such a key
	 * would sign tokens that never verify.  Every real private JWK has them.
	 */
	if (is_private && nfactors == 0)
	{
		st = jwt_fail(err, JWT_ERR_KEY, "private RSA JWK needs its factors p, q, dp, dq and qi");
		goto done;
	}

	bld = OSSL_PARAM_BLD_new();
	for (int i = 0; i < 8; i++)
	{
		if (bytes[i] == NULL)
			continue;
		bns[i] = BN_bin2bn(bytes[i], (int) lens[i], NULL);
		if (bld == NULL || bns[i] == NULL || !OSSL_PARAM_BLD_push_BN(bld, params[i], bns[i]))
		{
			st = jwt_fail(err, JWT_ERR_INTERNAL, "could not build the RSA key");
			goto done;
		}
	}
	pkey = pkey_from_params("RSA", bld, is_private);
	if (pkey == NULL)
		st = jwt_fail(err, JWT_ERR_KEY, "JWK is not a valid RSA key");
	else
		st = adopt_pkey(key, pkey, is_private, is_private, err);

done:
	OSSL_PARAM_BLD_free(bld);
	for (int i = 0; i < 8; i++)
	{
		BN_clear_free(bns[i]);
		wipe_bytes(bytes[i], lens[i]);
	}
	ERR_clear_error();
	return st;
}

static const CurveInfo *
find_curve(const CurveInfo *curves, size_t n, const char *crv)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(curves[i].jwk_name, crv) == 0)
			return &curves[i];
	return NULL;
}

static JwtStatus
jwk_ec(const JsonDoc *doc, JwtKey *key, JwtError *err)
{
	const char *crv;
	const CurveInfo *curve;
	unsigned char *x = NULL,
			   *y = NULL,
			   *d = NULL,
			   *point = NULL;
	size_t		xlen,
				ylen,
				dlen = 0;
	BIGNUM	   *dbn = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY   *pkey;
	JwtStatus	st;

	if ((st = jwk_string(doc, "crv", true, &crv, err)) != JWT_OK)
		return st;
	curve = find_curve(ec_curves, lengthof(ec_curves), crv);
	if (curve == NULL)
	{
		const char *name = known_name(crv, known_crv_names, lengthof(known_crv_names));

		if (name)
			jwt_fail(err, JWT_ERR_KEY, "unsupported elliptic curve \"%s\"", name);
		else
			jwt_fail(err, JWT_ERR_KEY, "unsupported elliptic curve");
		jwt_fail_detail(err, "JWS uses P-256, P-384 and P-521.");
		return JWT_ERR_KEY;
	}
	if ((st = jwk_bytes(doc, "x", true, curve->coord_len, true, &x, &xlen, err)) != JWT_OK ||
		(st = jwk_bytes(doc, "y", true, curve->coord_len, true, &y, &ylen, err)) != JWT_OK ||
		(st = jwk_bytes(doc, "d", false, curve->coord_len, true, &d, &dlen, err)) != JWT_OK)
		goto done;

	/* uncompressed point: 0x04 || x || y */
	point = palloc(1 + 2 * curve->coord_len);
	point[0] = 0x04;
	memcpy(point + 1, x, xlen);
	memcpy(point + 1 + xlen, y, ylen);

	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
		!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve->ossl_name, 0) ||
		!OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * curve->coord_len) ||
		(d != NULL && ((dbn = BN_bin2bn(d, (int) dlen, NULL)) == NULL ||
					   !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, dbn))))
	{
		st = jwt_fail(err, JWT_ERR_INTERNAL, "could not build the EC key");
		goto done;
	}
	pkey = pkey_from_params("EC", bld, d != NULL);
	if (pkey == NULL)
		st = jwt_fail(err, JWT_ERR_KEY, "JWK is not a valid EC key");
	else
		st = adopt_pkey(key, pkey, d != NULL, d != NULL, err);

done:
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(dbn);
	wipe_bytes(d, dlen);
	ERR_clear_error();
	return st;
}

static JwtStatus
jwk_okp(const JsonDoc *doc, JwtKey *key, JwtError *err)
{
	const char *crv;
	const CurveInfo *curve;
	unsigned char *x = NULL,
			   *d = NULL;
	size_t		xlen,
				dlen = 0;
	EVP_PKEY   *pkey;
	JwtStatus	st;
	int			type;

	if ((st = jwk_string(doc, "crv", true, &crv, err)) != JWT_OK)
		return st;
	curve = find_curve(okp_curves, lengthof(okp_curves), crv);
	if (curve == NULL)
	{
		const char *name = known_name(crv, known_crv_names, lengthof(known_crv_names));

		if (name)
			jwt_fail(err, JWT_ERR_KEY, "unsupported OKP curve \"%s\"", name);
		else
			jwt_fail(err, JWT_ERR_KEY, "unsupported OKP curve");
		jwt_fail_detail(err, "EdDSA uses Ed25519 and Ed448.");
		return JWT_ERR_KEY;
	}
	type = strcmp(curve->ossl_name, "ED25519") == 0 ? EVP_PKEY_ED25519 : EVP_PKEY_ED448;
	if ((st = jwk_bytes(doc, "x", true, curve->coord_len, false, &x, &xlen, err)) != JWT_OK ||
		(st = jwk_bytes(doc, "d", false, curve->coord_len, false, &d, &dlen, err)) != JWT_OK)
		goto done;

	ERR_clear_error();
	if (d != NULL)
	{
		unsigned char pub[57];
		size_t		publen = sizeof(pub);

		pkey = EVP_PKEY_new_raw_private_key(type, NULL, d, dlen);
		/* the public key derived from d must be the x the JWK states */
		if (pkey != NULL &&
			(!EVP_PKEY_get_raw_public_key(pkey, pub, &publen) ||
			 publen != xlen || memcmp(pub, x, xlen) != 0))
		{
			EVP_PKEY_free(pkey);
			st = jwt_fail(err, JWT_ERR_KEY, "key is invalid");
			jwt_fail_detail(err, "The JWK's \"x\" is not the public key of its \"d\".");
			goto done;
		}
	}
	else
		pkey = EVP_PKEY_new_raw_public_key(type, NULL, x, xlen);
	if (pkey == NULL)
		st = jwt_fail(err, JWT_ERR_KEY, "JWK is not a valid OKP key");
	else
		st = adopt_pkey(key, pkey, d != NULL, false, err);

done:
	wipe_bytes(d, dlen);
	ERR_clear_error();
	return st;
}

/*
 * A JWK's "key_ops" (RFC 7517 section 4.3) as JWT_KEYOP_* bits: 0 when
 * absent, else JWT_KEYOP_LISTED and a bit for "sign" and for "verify".
 */
static JwtStatus
jwk_key_ops(const JsonDoc *doc, int *ops, JwtError *err)
{
	const JsonMember *m = json_doc_get(doc, "key_ops");

	*ops = 0;
	if (m == NULL)
		return JWT_OK;
	if (m->value.kind != JK_ARRAY)
		return jwt_fail(err, JWT_ERR_KEY, "JWK member \"key_ops\" must be an array");
	*ops = JWT_KEYOP_LISTED;
	for (int i = 0; i < m->value.nelems; i++)
	{
		const JsonValue *op = &m->value.elems[i];

		if (op->kind != JK_STRING)
			return jwt_fail(err, JWT_ERR_KEY, "JWK member \"key_ops\" must be an array of strings");
		for (int j = 0; j < i; j++)
			if (m->value.elems[j].len == op->len && memcmp(m->value.elems[j].str, op->str, op->len) == 0)
				return jwt_fail(err, JWT_ERR_KEY, "JWK member \"key_ops\" has a duplicate value");
		if (strcmp(op->str, "sign") == 0)
			*ops |= JWT_KEYOP_SIGN;
		else if (strcmp(op->str, "verify") == 0)
			*ops |= JWT_KEYOP_VERIFY;
	}
	return JWT_OK;
}

/*
 * One JWK object.  A key is for signatures when its "use" is absent or
 * "sig" and its "key_ops" is absent or lists "sign" or "verify"; which of
 * the two it lists is enforced where the key signs or verifies.  In a JWKS
 * (in_set) other keys are skipped, as providers publish encryption keys
 * beside signing keys: *skipped says so.  Alone, such a key is refused.
 */
static JwtStatus
parse_jwk(const JsonDoc *doc, bool in_set, MemoryContext keep, JwtKey *key,
		  bool *skipped, JwtError *err)
{
	const char *kty,
			   *use,
			   *alg,
			   *kid;
	int			ops;
	JwtStatus	st;

	*skipped = false;
	if ((st = jwk_string(doc, "kty", true, &kty, err)) != JWT_OK ||
		(st = jwk_string(doc, "use", false, &use, err)) != JWT_OK ||
		(st = jwk_string(doc, "alg", false, &alg, err)) != JWT_OK ||
		(st = jwk_string(doc, "kid", false, &kid, err)) != JWT_OK ||
		(st = jwk_key_ops(doc, &ops, err)) != JWT_OK)
		return st;
	if (use != NULL && strcmp(use, "sig") != 0)
	{
		if (in_set)
		{
			*skipped = true;
			return JWT_OK;
		}
		return jwt_fail(err, JWT_ERR_KEY, "JWK \"use\" is not \"sig\"");
	}
	if (ops != 0 && (ops & (JWT_KEYOP_SIGN | JWT_KEYOP_VERIFY)) == 0)
	{
		if (in_set)
		{
			*skipped = true;
			return JWT_OK;
		}
		return jwt_fail(err, JWT_ERR_KEY, "JWK \"key_ops\" lists neither \"sign\" nor \"verify\"");
	}
	key->key_ops = ops;

	if (strcmp(kty, "oct") == 0)
	{
		unsigned char *k;
		size_t		klen;

		if ((st = jwk_bytes(doc, "k", true, 0, false, &k, &klen, err)) == JWT_OK)
			st = set_hmac_secret(key, k, klen, keep, err);
		wipe_bytes(k, klen);
	}
	else if (strcmp(kty, "RSA") == 0)
		st = jwk_rsa(doc, key, err);
	else if (strcmp(kty, "EC") == 0)
		st = jwk_ec(doc, key, err);
	else if (strcmp(kty, "OKP") == 0)
		st = jwk_okp(doc, key, err);
	else
	{
		const char *name = known_name(kty, known_kty_names, lengthof(known_kty_names));

		if (name)
			st = jwt_fail(err, JWT_ERR_KEY, "unsupported JWK key type \"%s\"", name);
		else
			st = jwt_fail(err, JWT_ERR_KEY, "unsupported JWK key type");
	}
	if (st != JWT_OK)
		return st;

	if (alg != NULL)
	{
		JwtAlg		a = jwt_alg_from_name(alg, strlen(alg));

		if (a == JWT_ALG_NONE)
		{
			const char *name = known_name(alg, known_alg_names, lengthof(known_alg_names));

			if (name)
				return jwt_fail(err, JWT_ERR_KEY, "JWK \"alg\" \"%s\" is not a supported algorithm", name);
			return jwt_fail(err, JWT_ERR_KEY, "JWK \"alg\" is not a supported algorithm");
		}
		if ((st = jwt_key_check_alg(key, a, err)) != JWT_OK)
		{
			/* a JWK whose own alg does not fit it is a bad key, not a bad token */
			err->status = JWT_ERR_KEY;
			return JWT_ERR_KEY;
		}
		key->jwk_alg = a;
	}
	if (kid != NULL)
		key->kid = MemoryContextStrdup(keep, kid);
	return JWT_OK;
}

typedef struct KidRef
{
	const char *kid;
	int			index;
} KidRef;

static int
kidref_cmp(const void *a, const void *b)
{
	const KidRef *x = a;
	const KidRef *y = b;
	int			c = strcmp(x->kid, y->kid);

	return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

static JwtStatus
parse_json_key(const char *text, size_t len, MemoryContext keep, JwtKeySet *set, JwtError *err)
{
	JsonDoc		doc;
	JsonStrictResult jr;
	const JsonMember *keys;
	JwtStatus	st;
	bool		skipped;
	int		   *position;		/* of each kept key in the JWKS, from 1 */

	if ((jr = json_strict_parse(text, len, &doc)) != JSON_STRICT_OK)
	{
		jwt_fail(err, JWT_ERR_KEY, "invalid JWK");
		jwt_fail_detail(err, "The key looks like JSON, but %s.", json_strict_result_text(jr));
		return JWT_ERR_KEY;
	}

	keys = json_doc_get(&doc, "keys");
	if (keys == NULL)
	{
		set->keys = MemoryContextAllocZero(keep, sizeof(JwtKey));
		jwt_key_init(&set->keys[0]);
		set->nkeys = 1;
		if ((st = parse_jwk(&doc, false, keep, &set->keys[0], &skipped, err)) != JWT_OK)
			return st;
		return check_keys(set, NULL, err);
	}

	/* a JWKS */
	if (keys->value.kind != JK_ARRAY)
		return jwt_fail(err, JWT_ERR_KEY, "JWKS member \"keys\" must be an array");
	if (keys->value.nelems > JWKS_MAX_KEYS)
	{
		jwt_fail(err, JWT_ERR_LIMIT, "JWKS has too many keys");
		jwt_fail_detail(err, "A JWKS may hold at most %d keys; this one has %d.",
						JWKS_MAX_KEYS, keys->value.nelems);
		return JWT_ERR_LIMIT;
	}
	set->is_jwks = true;
	set->keys = MemoryContextAllocZero(keep, sizeof(JwtKey) * Max(keys->value.nelems, 1));
	position = palloc(sizeof(int) * Max(keys->value.nelems, 1));
	for (int i = 0; i < keys->value.nelems; i++)
	{
		const JsonValue *elem = &keys->value.elems[i];
		JwtKey	   *key = &set->keys[set->nkeys];
		JsonDoc		kdoc;

		/* checking an RSA key takes milliseconds: a set must stay cancellable */
		CHECK_FOR_INTERRUPTS();

		if (elem->kind != JK_OBJECT ||
			json_strict_parse(elem->str, elem->len, &kdoc) != JSON_STRICT_OK)
			return jwt_fail(err, JWT_ERR_KEY, "JWKS key %d is not a JSON object", i + 1);
		jwt_key_init(key);
		set->nkeys++;
		if ((st = parse_jwk(&kdoc, true, keep, key, &skipped, err)) != JWT_OK)
		{
			jwt_fail_detail(err, "In JWKS key %d.", i + 1);
			return st;
		}
		if (skipped)
			set->nkeys--;
		else
			position[set->nkeys - 1] = i + 1;
	}
	if (set->nkeys == 0)
		return jwt_fail(err, JWT_ERR_KEY, "JWKS has no signing keys");

	/*
	 * A set of several keys only verifies (it cannot sign), and checking a
	 * private RSA key costs a primality test of each factor: 100 private
	 * 8192-bit keys held a backend for minutes.  Such a set must be public.
	 */
	if (set->nkeys > 1)
		for (int i = 0; i < set->nkeys; i++)
			if (set->keys[i].has_private && set->keys[i].type != JWT_KEY_HMAC)
			{
				jwt_fail(err, JWT_ERR_KEY, "a JWKS of several keys must hold public keys only");
				jwt_fail_detail(err, "JWKS key %d has private members; a set of several keys only verifies.",
								position[i]);
				return JWT_ERR_KEY;
			}

	/* one secret must not stand in for a public key */
	for (int i = 1; i < set->nkeys; i++)
		if ((set->keys[i].type == JWT_KEY_HMAC) != (set->keys[0].type == JWT_KEY_HMAC))
			return jwt_fail(err, JWT_ERR_KEY, "JWKS mixes symmetric and asymmetric keys");

	/* kid must pick one key: sort the kids, and equal ones are neighbours */
	{
		KidRef	   *kids = palloc(sizeof(KidRef) * set->nkeys);
		int			nkids = 0;

		for (int i = 0; i < set->nkeys; i++)
			if (set->keys[i].kid != NULL)
			{
				kids[nkids].kid = set->keys[i].kid;
				kids[nkids].index = i;
				nkids++;
			}
		qsort(kids, nkids, sizeof(KidRef), kidref_cmp);
		for (int i = 1; i < nkids; i++)
			if (strcmp(kids[i - 1].kid, kids[i].kid) == 0)
			{
				/* the kid itself is not quoted: the positions say which keys */
				jwt_fail(err, JWT_ERR_KEY, "JWKS has duplicate kid");
				jwt_fail_detail(err, "JWKS keys %d and %d have the same \"kid\".",
								position[Min(kids[i - 1].index, kids[i].index)],
								position[Max(kids[i - 1].index, kids[i].index)]);
				pfree(kids);
				return JWT_ERR_KEY;
			}
		pfree(kids);
	}
	return check_keys(set, position, err);
}

static bool
looks_like_json(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char) text[i]))
			return text[i] == '{';
	return false;
}

JwtStatus
jwt_keyset_parse(const char *text, size_t len, bool is_secret,
				 MemoryContext keep, JwtKeySet *set, JwtError *err)
{
	bool		is_pem = find_bytes(text, len, "-----BEGIN") != NULL;
	bool		is_json = looks_like_json(text, len);
	JwtStatus	st;

	/* raw bytes: a key in any spelling is refused (set_hmac_secret checks) */
	if (is_secret)
		is_pem = is_json = false;
	if (is_pem || is_json)
	{
		if (is_pem)
		{
			set->keys = MemoryContextAllocZero(keep, sizeof(JwtKey));
			jwt_key_init(&set->keys[0]);
			set->nkeys = 1;
			if ((st = parse_pem(text, len, &set->keys[0], err)) != JWT_OK)
				return st;
			return check_keys(set, NULL, err);
		}
		return parse_json_key(text, len, keep, set, err);
	}

	set->keys = MemoryContextAllocZero(keep, sizeof(JwtKey));
	jwt_key_init(&set->keys[0]);
	set->nkeys = 1;
	st = set_hmac_secret(&set->keys[0], (const unsigned char *) text, len, keep, err);
	return st;
}

/*
 * The key of a set that verifies a token with this alg and kid.  A JWKS
 * needs the kid to pick, or exactly one key that admits the algorithm.
 */
JwtStatus
jwt_keyset_select(const JwtKeySet *set, JwtAlg alg, const char *kid,
				  JwtKey **key, JwtError *err)
{
	JwtKey	   *found = NULL;

	if (!set->is_jwks)
	{
		found = &set->keys[0];
		if (kid != NULL && found->kid != NULL && strcmp(kid, found->kid) != 0)
			return jwt_fail(err, JWT_ERR_NO_KEY, "no key matches the token's kid");
		*key = found;
		return JWT_OK;
	}
	for (int i = 0; i < set->nkeys; i++)
	{
		JwtKey	   *k = &set->keys[i];

		if (kid != NULL)
		{
			if (k->kid != NULL && strcmp(kid, k->kid) == 0)
			{
				*key = k;
				return JWT_OK;
			}
		}
		else if ((jwt_key_admitted_algs(k) & JWT_ALG_BIT(alg)) &&
				 (!(k->key_ops & JWT_KEYOP_LISTED) || (k->key_ops & JWT_KEYOP_VERIFY)))
		{
			if (found != NULL)
				return jwt_fail(err, JWT_ERR_NO_KEY,
								"token has no kid and several keys could verify it");
			found = k;
		}
	}
	if (found == NULL)
		return jwt_fail(err, JWT_ERR_NO_KEY, "no key matches the token's kid");
	*key = found;
	return JWT_OK;
}
