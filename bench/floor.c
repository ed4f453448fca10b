/*
 * bench/floor.c -- the bare C + OpenSSL cost of signing and verifying a JWT.
 *
 * For each algorithm this program generates a key, then measures, with the
 * key already loaded, the least work a JWT library must do per operation:
 *
 *   verify: split the compact token at its dots, base64url-decode the three
 *           parts, scan the header for "alg" and the payload for "exp", and
 *           check the signature (HMAC through a cached, keyed EVP_MAC_CTX
 *           re-initialised per operation + CRYPTO_memcmp; RSA, RSA-PSS,
 *           ECDSA (raw R||S converted to DER) and EdDSA through
 *           EVP_DigestVerify*).
 *   sign:   base64url-encode the header and payload JSON, sign, and encode
 *           the signature (ECDSA: DER converted to raw R||S).
 *
 * The figures are the "floor" that bench/run.sh compares the SQL functions
 * with. The keys and a set of distinct tokens are written to OUTDIR so that
 * the SQL side works with the very same keys and tokens:
 *
 *   OUTDIR/keys.tsv        alg \t private key \t public key   (COPY text format:
 *                          PEM newlines escaped as \n; HMAC: the secret twice)
 *   OUTDIR/ALG.tokens      one token per line, distinct payloads, exp in 2100
 *   OUTDIR/floor.tsv       alg \t sign ns/op \t verify ns/op \t tokens \t sign rows
 *                          \t sign wall ns/op \t verify wall ns/op
 *
 * Each figure is the best of 8 slices. "ns/op" is on-CPU time (CLOCK_THREAD_CPUTIME_ID),
 * which other work on a busy machine does not inflate by descheduling this thread;
 * "wall" is CLOCK_MONOTONIC time. On an idle machine the two agree.
 *
 * Usage: floor [-m] OUTDIR [ALG...]  (default: the algorithms in DEFAULT_ALGS)
 *        -m: measure only (fresh keys, 1024 tokens), write nothing, print
 *            "alg \t sign ns/op \t verify ns/op \t sign wall ns/op \t verify wall ns/op"
 * Environment: FLOOR_SECONDS  time per figure (default 0.6), the best of 8 slices counts
 *              FLOOR_SQL_SECONDS  rough SQL time to size the row counts for (default 0.6)
 *
 * Build: gcc -O2 -o floor floor.c -lcrypto
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

enum kind { K_HMAC, K_RSA, K_PSS, K_EC, K_ED };

struct alg {
	const char *name;
	enum kind	kind;
	const char *md;			/* digest name (NULL for EdDSA) */
	const char *curve;		/* EC curve / RSA bits as text */
	int			coord;		/* ECDSA: bytes per coordinate */
	/* sizing of the SQL runs */
	int			max_tokens;
	int			max_sign_rows;
};

static const struct alg ALGS[] = {
	{"HS256", K_HMAC, "SHA256", NULL, 0, 200000, 200000},
	{"HS384", K_HMAC, "SHA384", NULL, 0, 200000, 200000},
	{"HS512", K_HMAC, "SHA512", NULL, 0, 200000, 200000},
	{"RS256", K_RSA, "SHA256", "2048", 0, 50000, 50000},
	{"RS384", K_RSA, "SHA384", "2048", 0, 50000, 50000},
	{"RS512", K_RSA, "SHA512", "2048", 0, 50000, 50000},
	{"PS256", K_PSS, "SHA256", "2048", 0, 50000, 50000},
	{"ES256", K_EC, "SHA256", "P-256", 32, 50000, 100000},
	{"ES384", K_EC, "SHA384", "P-384", 48, 50000, 100000},
	{"ES512", K_EC, "SHA512", "P-521", 66, 50000, 100000},
	{"EdDSA", K_ED, NULL, "ED25519", 0, 50000, 100000},
};
#define NALGS (sizeof(ALGS) / sizeof(ALGS[0]))
static const char *DEFAULT_ALGS[] = {"HS256", "HS384", "HS512", "RS256", "PS256",
"ES256", "ES384", "EdDSA"};

/* exp of every token: 2100-01-01; iat: 2023-11-14 */
#define EXP_VALUE 4102444800LL
#define IAT_VALUE 1700000000LL
#define NOW_VALUE 1900000000LL	/* the "now" the floor checks exp against (2030) */

#define NPAYLOADS 1024			/* distinct payloads cycled through while signing */
#define MAXTOK 2048
#define SLICES 8				/* a figure is the best of this many slices */

static void
die(const char *what)
{
	fprintf(stderr, "floor: %s failed\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* on-CPU time of this thread: unlike wall time, not inflated while descheduled */
static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- base64url */

static const char B64URL[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static signed char B64DEC[256];

static void
b64_init(void)
{
	memset(B64DEC, -1, sizeof(B64DEC));
	for (int i = 0; i < 64; i++)
		B64DEC[(unsigned char) B64URL[i]] = (signed char) i;
}

/* returns the number of characters written (no padding, no NUL) */
static size_t
b64url_encode(const unsigned char *in, size_t n, char *out)
{
	char	   *o = out;
	size_t		i = 0;

	for (; i + 3 <= n; i += 3)
	{
		uint32_t	v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];

		*o++ = B64URL[v >> 18];
		*o++ = B64URL[(v >> 12) & 63];
		*o++ = B64URL[(v >> 6) & 63];
		*o++ = B64URL[v & 63];
	}
	if (n - i == 1)
	{
		uint32_t	v = (uint32_t) in[i] << 16;

		*o++ = B64URL[v >> 18];
		*o++ = B64URL[(v >> 12) & 63];
	}
	else if (n - i == 2)
	{
		uint32_t	v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;

		*o++ = B64URL[v >> 18];
		*o++ = B64URL[(v >> 12) & 63];
		*o++ = B64URL[(v >> 6) & 63];
	}
	return o - out;
}

/* returns decoded length, or -1 on a bad character / impossible length */
static long
b64url_decode(const char *in, size_t n, unsigned char *out)
{
	unsigned char *o = out;
	size_t		i = 0;

	if (n % 4 == 1)
		return -1;
	for (; i + 4 <= n; i += 4)
	{
		int			a = B64DEC[(unsigned char) in[i]],
					b = B64DEC[(unsigned char) in[i + 1]],
					c = B64DEC[(unsigned char) in[i + 2]],
					d = B64DEC[(unsigned char) in[i + 3]];

		if ((a | b | c | d) < 0)
			return -1;
		uint32_t	v = (uint32_t) a << 18 | (uint32_t) b << 12 | (uint32_t) c << 6 | (uint32_t) d;

		*o++ = v >> 16;
		*o++ = (v >> 8) & 0xff;
		*o++ = v & 0xff;
	}
	if (n - i >= 2)
	{
		int			a = B64DEC[(unsigned char) in[i]],
					b = B64DEC[(unsigned char) in[i + 1]],
					c = n - i == 3 ? B64DEC[(unsigned char) in[i + 2]] : 0;

		if ((a | b | c) < 0)
			return -1;
		uint32_t	v = (uint32_t) a << 18 | (uint32_t) b << 12 | (uint32_t) c << 6;

		*o++ = v >> 16;
		if (n - i == 3)
			*o++ = (v >> 8) & 0xff;
	}
	return o - out;
}

/* ------------------------------------------------------ ECDSA sig conversion */

/* raw R||S (2*coord bytes) -> DER ECDSA-Sig-Value; returns DER length */
static size_t
raw_to_der(const unsigned char *raw, int coord, unsigned char *der)
{
	unsigned char ints[2][80];
	size_t		ilen[2];

	for (int k = 0; k < 2; k++)
	{
		const unsigned char *p = raw + k * coord;
		int			n = coord;

		while (n > 1 && *p == 0)
			p++, n--;
		size_t		l = 0;

		if (*p & 0x80)
			ints[k][l++] = 0;
		memcpy(ints[k] + l, p, n);
		ilen[k] = l + n;
	}
	size_t		body = 2 + ilen[0] + 2 + ilen[1];	/* each INTEGER < 128 bytes */
	size_t		o = 0;

	der[o++] = 0x30;
	if (body >= 128)
		der[o++] = 0x81;
	der[o++] = (unsigned char) body;
	for (int k = 0; k < 2; k++)
	{
		der[o++] = 0x02;
		der[o++] = (unsigned char) ilen[k];
		memcpy(der + o, ints[k], ilen[k]);
		o += ilen[k];
	}
	return o;
}

/* DER ECDSA-Sig-Value -> raw R||S; returns 0 on success */
static int
der_to_raw(const unsigned char *der, size_t len, int coord, unsigned char *raw)
{
	size_t		o = 0;

	if (len < 8 || der[o++] != 0x30)
		return -1;
	if (der[o] == 0x81)
		o++;
	o++;
	for (int k = 0; k < 2; k++)
	{
		if (o + 2 > len || der[o++] != 0x02)
			return -1;
		size_t		l = der[o++];

		if (o + l > len)
			return -1;
		const unsigned char *p = der + o;
		size_t		n = l;

		while (n > 0 && *p == 0)
			p++, n--;
		if (n > (size_t) coord)
			return -1;
		memset(raw + k * coord, 0, coord - n);
		memcpy(raw + k * coord + coord - n, p, n);
		o += l;
	}
	return 0;
}

/* ------------------------------------------------------------------ context */

struct ctx {
	const struct alg *a;
	/* HMAC */
	unsigned char secret[64];
	EVP_MAC_CTX *mac;
	/* asymmetric */
	EVP_PKEY   *pkey;		/* private (sign) */
	EVP_PKEY   *pub;		/* public only, re-read from the exported PEM (verify) */
	EVP_MD_CTX *mdctx;
	const EVP_MD *md;
	/* the JSON the signer encodes */
	char		header[64];
	size_t		header_len;
	char	   *payloads[NPAYLOADS];
	size_t		payload_len[NPAYLOADS];
};

static void
make_payload(long i, char *buf, size_t *len)
{
	*len = (size_t) sprintf(buf,
							"{\"sub\":\"user-%07ld\",\"iat\":%lld,\"exp\":%lld,\"jti\":\"%08lx%08lx\"}",
							i, IAT_VALUE + i % 100000, EXP_VALUE, (unsigned long) i * 2654435761UL,
							(unsigned long) i);
}

static void
ctx_init(struct ctx *c, const struct alg *a)
{
	memset(c, 0, sizeof(*c));
	c->a = a;
	c->header_len = (size_t) sprintf(c->header, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", a->name);
	for (int i = 0; i < NPAYLOADS; i++)
	{
		c->payloads[i] = malloc(160);
		make_payload(1000000 + i, c->payloads[i], &c->payload_len[i]);
	}

	if (a->kind == K_HMAC)
	{
		/* printable secret: usable as a text key and as a bytea key alike */
		static const char alnum[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
		unsigned char rnd[64];

		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			die("RAND_bytes");
		for (int i = 0; i < 64; i++)
			c->secret[i] = alnum[rnd[i] % 62];

		EVP_MAC   *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);

		if (!mac)
			die("EVP_MAC_fetch");
		c->mac = EVP_MAC_CTX_new(mac);
		EVP_MAC_free(mac);
		OSSL_PARAM	params[2];

		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) a->md, 0);
		params[1] = OSSL_PARAM_construct_end();
		if (!c->mac || EVP_MAC_init(c->mac, c->secret, sizeof(c->secret), params) != 1)
			die("EVP_MAC_init");
		return;
	}

	switch (a->kind)
	{
		case K_RSA:
		case K_PSS:
			c->pkey = EVP_RSA_gen(2048);
			break;
		case K_EC:
			c->pkey = EVP_EC_gen(a->curve);
			break;
		case K_ED:
			c->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
			break;
		default:
			break;
	}
	if (!c->pkey)
		die("key generation");

	/*
	 * Use the keys as a reader of the exported PEM gets them: the signer
	 * the PKCS#8 private key, the verifier the SPKI public key.  (A key
	 * fresh from generation can behave differently.)
	 */
	BIO		   *bio = BIO_new(BIO_s_mem());
	EVP_PKEY   *gen = c->pkey;

	if (!bio || PEM_write_bio_PUBKEY(bio, gen) != 1)
		die("PEM_write_bio_PUBKEY");
	c->pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (!c->pub)
		die("PEM_read_bio_PUBKEY");
	BIO_free(bio);
	bio = BIO_new(BIO_s_mem());
	if (!bio || PEM_write_bio_PrivateKey(bio, gen, NULL, NULL, 0, NULL, NULL) != 1)
		die("PEM_write_bio_PrivateKey");
	c->pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (!c->pkey)
		die("PEM_read_bio_PrivateKey");
	BIO_free(bio);
	EVP_PKEY_free(gen);

	c->mdctx = EVP_MD_CTX_new();
	if (a->md)
	{
		c->md = EVP_MD_fetch(NULL, a->md, NULL);
		if (!c->md)
			die("EVP_MD_fetch");
	}
}

/* sign with the already-loaded key; writes the token into out, returns its length */
static size_t
jwt_sign_floor(struct ctx *c, const char *payload, size_t plen, char *out)
{
	const struct alg *a = c->a;
	size_t		n = b64url_encode((const unsigned char *) c->header, c->header_len, out);

	out[n++] = '.';
	n += b64url_encode((const unsigned char *) payload, plen, out + n);

	unsigned char sig[600];
	size_t		siglen = sizeof(sig);

	if (a->kind == K_HMAC)
	{
		if (EVP_MAC_init(c->mac, NULL, 0, NULL) != 1 ||
			EVP_MAC_update(c->mac, (unsigned char *) out, n) != 1 ||
			EVP_MAC_final(c->mac, sig, &siglen, sizeof(sig)) != 1)
			die("HMAC sign");
	}
	else
	{
		EVP_PKEY_CTX *pctx = NULL;

		if (EVP_DigestSignInit(c->mdctx, &pctx, c->md, NULL, c->pkey) != 1)
			die("EVP_DigestSignInit");
		if (a->kind == K_PSS &&
			(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
			 EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
			die("PSS parameters");
		if (EVP_DigestSign(c->mdctx, sig, &siglen, (unsigned char *) out, n) != 1)
			die("EVP_DigestSign");
		if (a->kind == K_EC)
		{
			unsigned char raw[140];

			if (der_to_raw(sig, siglen, a->coord, raw) != 0)
				die("DER to raw");
			memcpy(sig, raw, 2 * a->coord);
			siglen = 2 * a->coord;
		}
	}
	out[n++] = '.';
	n += b64url_encode(sig, siglen, out + n);
	out[n] = '\0';
	return n;
}

/* find "name": in JSON text and return a pointer to the value, or NULL */
static const char *
json_member(const char *json, size_t len, const char *name, size_t nlen)
{
	const char *p = json,
			   *end = json + len;

	while ((p = memmem(p, end - p, name, nlen)) != NULL)
	{
		const char *q = p + nlen;

		if (p > json && p[-1] == '"' && q < end && *q == '"')
		{
			q++;
			while (q < end && (*q == ' ' || *q == ':'))
				q++;
			return q;
		}
		p = q;
	}
	return NULL;
}

/* verify with the already-loaded key: 1 valid, 0 invalid */
static int
jwt_verify_floor(struct ctx *c, const char *tok, size_t len)
{
	const struct alg *a = c->a;
	const char *d1 = memchr(tok, '.', len);

	if (!d1)
		return 0;
	const char *d2 = memchr(d1 + 1, '.', tok + len - d1 - 1);

	if (!d2 || memchr(d2 + 1, '.', tok + len - d2 - 1))
		return 0;

	unsigned char hdr[256],
				pay[1536],
				sig[600];
	size_t		hl = d1 - tok,
				pl = d2 - d1 - 1,
				sl = tok + len - d2 - 1;

	if (hl / 4 * 3 + 3 > sizeof(hdr) || pl / 4 * 3 + 3 > sizeof(pay) || sl / 4 * 3 + 3 > sizeof(sig))
		return 0;
	long		hn = b64url_decode(tok, hl, hdr);
	long		pn = b64url_decode(d1 + 1, pl, pay);
	long		sn = b64url_decode(d2 + 1, sl, sig);

	if (hn < 0 || pn < 0 || sn < 0)
		return 0;

	/* header: "alg" must name this algorithm */
	const char *v = json_member((char *) hdr, hn, "alg", 3);
	size_t		al = strlen(a->name);

	if (!v || v + al + 2 > (char *) hdr + hn || *v != '"' ||
		memcmp(v + 1, a->name, al) != 0 || v[al + 1] != '"')
		return 0;
	/* payload: "exp" must be a number in the future */
	v = json_member((char *) pay, pn, "exp", 3);
	if (!v)
		return 0;
	long long	exp = 0;
	const char *pend = (char *) pay + pn;

	if (v >= pend || *v < '0' || *v > '9')
		return 0;
	while (v < pend && *v >= '0' && *v <= '9')
		exp = exp * 10 + (*v++ - '0');
	if (exp <= NOW_VALUE)
		return 0;

	size_t		signed_len = d2 - tok;

	if (a->kind == K_HMAC)
	{
		unsigned char mac[64];
		size_t		ml = sizeof(mac);

		if (EVP_MAC_init(c->mac, NULL, 0, NULL) != 1 ||
			EVP_MAC_update(c->mac, (const unsigned char *) tok, signed_len) != 1 ||
			EVP_MAC_final(c->mac, mac, &ml, sizeof(mac)) != 1)
			die("HMAC verify");
		return (size_t) sn == ml && CRYPTO_memcmp(mac, sig, ml) == 0;
	}

	const unsigned char *s = sig;
	size_t		slen = sn;
	unsigned char der[160];

	if (a->kind == K_EC)
	{
		if (sn != 2 * a->coord)
			return 0;
		slen = raw_to_der(sig, a->coord, der);
		s = der;
	}
	EVP_PKEY_CTX *pctx = NULL;

	if (EVP_DigestVerifyInit(c->mdctx, &pctx, c->md, NULL, c->pub) != 1)
		die("EVP_DigestVerifyInit");
	if (a->kind == K_PSS &&
		(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		 EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		die("PSS parameters");
	int			ok = EVP_DigestVerify(c->mdctx, s, slen, (const unsigned char *) tok, signed_len);

	ERR_clear_error();
	return ok == 1;
}

/* ------------------------------------------------------------------- output */

static void
write_pem_escaped(FILE *f, EVP_PKEY *k, int private)
{
	BIO		   *bio = BIO_new(BIO_s_mem());
	char	   *data;
	long		n;

	if (private ? PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) != 1
		: PEM_write_bio_PUBKEY(bio, k) != 1)
		die("PEM export");
	n = BIO_get_mem_data(bio, &data);
	while (n > 0 && data[n - 1] == '\n')
		n--;
	for (long i = 0; i < n; i++)
	{
		if (data[i] == '\n')
			fputs("\\n", f);
		else
			fputc(data[i], f);
	}
	BIO_free(bio);
}

int
main(int argc, char **argv)
{
	const char *outdir;
	double		secs = 0.6,
				sql_secs = 0.6;
	const char **names = DEFAULT_ALGS;
	int			nnames = sizeof(DEFAULT_ALGS) / sizeof(DEFAULT_ALGS[0]);
	char		path[4096];

	int			measure_only = 0;

	if (argc > 1 && strcmp(argv[1], "-m") == 0)
	{
		measure_only = 1;
		argv++, argc--;
	}
	if (argc < 2)
	{
		fprintf(stderr, "usage: %s [-m] OUTDIR [ALG...]\n"
				"  -m: measure only, write nothing to OUTDIR; print\n"
				"      \"alg sign_ns verify_ns sign_wall_ns verify_wall_ns\" (tab-separated)\n",
				argv[0]);
		return 2;
	}
	outdir = argv[1];
	if (argc > 2)
	{
		names = (const char **) argv + 2;
		nnames = argc - 2;
	}
	if (getenv("FLOOR_SECONDS"))
		secs = atof(getenv("FLOOR_SECONDS"));
	if (getenv("FLOOR_SQL_SECONDS"))
		sql_secs = atof(getenv("FLOOR_SQL_SECONDS"));
	b64_init();

	snprintf(path, sizeof(path), "%s/keys.tsv", outdir);
	FILE	   *keys = fopen(measure_only ? "/dev/null" : path, "w");

	snprintf(path, sizeof(path), "%s/floor.tsv", outdir);
	FILE	   *summary = fopen(measure_only ? "/dev/null" : path, "w");

	if (!keys || !summary)
	{
		fprintf(stderr, "floor: cannot write to %s: %s\n", outdir, strerror(errno));
		return 1;
	}

	if (!measure_only)
		printf("%-6s %12s %12s %12s %12s %9s %9s   (on-CPU time)\n", "alg", "sign ns/op", "sign ops/s",
		   "verify ns/op", "verify ops/s", "tokens", "sign rows");
	for (int ni = 0; ni < nnames; ni++)
	{
		const struct alg *a = NULL;

		for (size_t i = 0; i < NALGS; i++)
			if (strcmp(ALGS[i].name, names[ni]) == 0)
				a = &ALGS[i];
		if (!a)
		{
			fprintf(stderr, "floor: unknown algorithm %s\n", names[ni]);
			return 2;
		}

		struct ctx	c;

		ctx_init(&c, a);

		/* self-check: a token signed here verifies, a tampered one does not */
		char		tok[MAXTOK];
		size_t		tl = jwt_sign_floor(&c, c.payloads[0], c.payload_len[0], tok);

		if (!jwt_verify_floor(&c, tok, tl))
		{
			fprintf(stderr, "floor: %s self-check: own token does not verify\n", a->name);
			return 1;
		}
		tok[tl - 5] = tok[tl - 5] == 'A' ? 'B' : 'A';
		if (jwt_verify_floor(&c, tok, tl))
		{
			fprintf(stderr, "floor: %s self-check: tampered token verifies\n", a->name);
			return 1;
		}
		if (a->kind == K_HMAC)
		{
			/* the cached keyed context gives the same MAC as one-shot HMAC */
			unsigned char m1[64],
						m2[64];
			unsigned int l2;
			size_t		l1;

			l1 = jwt_sign_floor(&c, c.payloads[1], c.payload_len[1], tok);
			char	   *d2 = strrchr(tok, '.');

			HMAC(EVP_get_digestbyname(a->md), c.secret, sizeof(c.secret),
				 (unsigned char *) tok, d2 - tok, m2, &l2);
			if (b64url_decode(d2 + 1, tok + l1 - d2 - 1, m1) != (long) l2 || memcmp(m1, m2, l2) != 0)
			{
				fprintf(stderr, "floor: %s self-check: MAC differs from HMAC()\n", a->name);
				return 1;
			}
		}

		/*
		 * Each figure is the best of SLICES slices of secs/SLICES: the machine
		 * may be busy with other work, which only ever adds time.
		 */
		int			batch = a->kind == K_HMAC ? 16 : 1;
		long		nops = 0;
		double		t0,
					t1,
					c0,
					sign_ns = 1e30,		/* on-CPU time */
					sign_wall = 1e30;	/* wall-clock time */

		/* sign: cycle through NPAYLOADS distinct payloads */
		for (int sl = 0; sl < SLICES; sl++)
		{
			long		n0 = nops;

			t0 = now_s();
			c0 = cpu_s();
			do
			{
				for (int i = 0; i < batch; i++, nops++)
					jwt_sign_floor(&c, c.payloads[nops % NPAYLOADS], c.payload_len[nops % NPAYLOADS], tok);
				t1 = now_s();
			} while (t1 - t0 < secs / SLICES);
			double		cns = (cpu_s() - c0) * 1e9 / (nops - n0),
						wns = (t1 - t0) * 1e9 / (nops - n0);

			if (cns < sign_ns)
				sign_ns = cns;
			if (wns < sign_wall)
				sign_wall = wns;
		}

		/* a first estimate of the verify cost, over NPAYLOADS distinct tokens */
		char	   *toks = malloc((size_t) NPAYLOADS * 1024);

		for (int i = 0; i < NPAYLOADS; i++)
			jwt_sign_floor(&c, c.payloads[i], c.payload_len[i], toks + (size_t) i * 1024);
		nops = 0;
		t0 = now_s();
		do
		{
			for (int i = 0; i < 4; i++, nops++)
			{
				char	   *t = toks + (size_t) (nops % NPAYLOADS) * 1024;

				jwt_verify_floor(&c, t, strlen(t));
			}
			t1 = now_s();
		} while (t1 - t0 < secs / 5);
		double		verify_est = (t1 - t0) * 1e9 / nops;

		free(toks);

		/*
		 * Size the SQL runs: about sql_secs of floor time each (plus 1 us per
		 * row for the executor), and at most ~4 s of signing here to make
		 * the tokens.
		 */
		long		nsign = (long) (sql_secs * 1e9 / (sign_ns + 1000.0));
		long		ntok = (long) (sql_secs * 1e9 / (verify_est + 1000.0));
		long		cap = (long) (4e9 / sign_ns);

		if (nsign > a->max_sign_rows)
			nsign = a->max_sign_rows;
		if (nsign < 200)
			nsign = 200;
		if (ntok > a->max_tokens)
			ntok = a->max_tokens;
		if (ntok > cap)
			ntok = cap;
		if (ntok < 500)
			ntok = 500;
		if (measure_only)
			ntok = NPAYLOADS;

		/* the tokens: distinct payloads, written for the SQL side too */
		toks = malloc((size_t) ntok * 1024);
		size_t	   *toff = malloc(sizeof(size_t) * ntok);
		size_t	   *tlen = malloc(sizeof(size_t) * ntok);
		size_t		used = 0;

		snprintf(path, sizeof(path), "%s/%s.tokens", outdir, a->name);
		FILE	   *tf = fopen(measure_only ? "/dev/null" : path, "w");

		if (!tf || !toks)
			die("token file");
		for (long i = 0; i < ntok; i++)
		{
			char		pl[160];
			size_t		pll;

			make_payload(i + 1, pl, &pll);
			toff[i] = used;
			tlen[i] = jwt_sign_floor(&c, pl, pll, toks + used);
			fwrite(toks + used, 1, tlen[i], tf);
			fputc('\n', tf);
			used += tlen[i] + 1;
		}
		fclose(tf);

		/* verify: cycle through the distinct tokens */
		nops = 0;
		long		valid = 0;
		double		verify_ns = 1e30,
					verify_wall = 1e30;

		for (int sl = 0; sl < SLICES; sl++)
		{
			long		n0 = nops;

			t0 = now_s();
			c0 = cpu_s();
			do
			{
				for (int i = 0; i < batch; i++, nops++)
				{
					long		k = nops % ntok;

					valid += jwt_verify_floor(&c, toks + toff[k], tlen[k]);
				}
				t1 = now_s();
			} while (t1 - t0 < secs / SLICES);
			double		cns = (cpu_s() - c0) * 1e9 / (nops - n0),
						wns = (t1 - t0) * 1e9 / (nops - n0);

			if (cns < verify_ns)
				verify_ns = cns;
			if (wns < verify_wall)
				verify_wall = wns;
		}

		if (valid != nops)
		{
			fprintf(stderr, "floor: %s: %ld of %ld tokens failed to verify\n", a->name,
					nops - valid, nops);
			return 1;
		}

		/* keys */
		fprintf(keys, "%s\t", a->name);
		if (a->kind == K_HMAC)
			fprintf(keys, "%.64s\t%.64s\n", (char *) c.secret, (char *) c.secret);
		else
		{
			write_pem_escaped(keys, c.pkey, 1);
			fputc('\t', keys);
			write_pem_escaped(keys, c.pkey, 0);
			fputc('\n', keys);
		}

		if (measure_only)
			printf("%s\t%.1f\t%.1f\t%.1f\t%.1f\n", a->name, sign_ns, verify_ns, sign_wall, verify_wall);
		else
			printf("%-6s %12.0f %12.0f %12.0f %12.0f %9ld %9ld\n", a->name, sign_ns, 1e9 / sign_ns,
			   verify_ns, 1e9 / verify_ns, ntok, nsign);
		fflush(stdout);
		fprintf(summary, "%s\t%.1f\t%.1f\t%ld\t%ld\t%.1f\t%.1f\n", a->name, sign_ns, verify_ns,
				ntok, nsign, sign_wall, verify_wall);

		free(toks);
		free(toff);
		free(tlen);
		for (int i = 0; i < NPAYLOADS; i++)
			free(c.payloads[i]);
		EVP_MAC_CTX_free(c.mac);
		EVP_PKEY_free(c.pkey);
		EVP_PKEY_free(c.pub);
		EVP_MD_CTX_free(c.mdctx);
		EVP_MD_free((EVP_MD *) c.md);
	}
	fclose(keys);
	fclose(summary);
	return 0;
}
