/*
 * jws.h - JWS compact serialization: strict parsing, signing, verification
 */
#ifndef JWT_JWS_H
#define JWT_JWS_H

#include "crypto.h"
#include "json_strict.h"

typedef struct JwsToken
{
	const char *text;
	size_t		signing_input_len;	/* header64 '.' payload64 */
	char	   *header_json;
	size_t		header_len;
	char	   *payload;
	size_t		payload_len;
	unsigned char *sig;
	size_t		sig_len;
	JsonDoc		header;
	bool		header_checked; /* the header passed jws_check_header() before */
	/* from the header, once jws_check_header() has passed */
	JwtAlg		alg;
	const char *kid;
	const char *typ;
	uint64		sig_verified_by;	/* out: the serial of the key object whose check the signature passed */
	uint64		sig_cached_by;	/* in, set by the token cache on a hit only: that serial, from before */
} JwsToken;

extern JwtStatus jws_parse(const char *token, size_t len, size_t max_len,
						   JwsToken *tok, JwtError *err);
extern JwtStatus jws_check_header(JwsToken *tok, JwtError *err);
extern JwtStatus jws_verify(JwsToken *tok, const JwtKeySet *keys, JwtAlgSet allowed,
							JwtError *err);
extern JwtStatus jws_check_algorithm(JwsToken *tok, JwtAlgSet allowed, JwtError *err);
extern JwtStatus jws_verify_key(JwsToken *tok, JwtKey *key, JwtAlgSet allowed, JwtError *err);
extern JwtStatus jws_check_typ(const JwsToken *tok, const char *expected, JwtError *err);
extern char *jws_sign(JwtKey *key, JwtAlg alg,
					  const char *header_json, size_t header_len,
					  const char *payload, size_t payload_len, JwtError *err);

#endif
