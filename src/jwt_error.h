/*
 * jwt_error.h - failure codes of the core
 *
 * The core never raises: it returns a status and fills a JwtError, and the
 * SQL layer maps the status to one SQLSTATE.  That keeps the core linkable
 * into a fuzz target and lets jwt_is_valid() turn token failures into false.
 * Messages never contain a key, a secret or the token.
 */
#ifndef JWT_ERROR_H
#define JWT_ERROR_H

typedef enum JwtStatus
{
	JWT_OK = 0,

	/* the token is not a well-formed JWS: SQLSTATE class 22 */
	JWT_ERR_STRUCTURE,			/* 22J01 */
	JWT_ERR_BASE64,				/* 22J02 */
	JWT_ERR_JSON,				/* 22J03 */
	JWT_ERR_HEADER,				/* 22J04 */
	JWT_ERR_TOO_LONG,			/* 22J05 */
	JWT_ERR_CLAIM_FORMAT,		/* 22J06 */

	/* the token is well-formed but refused: SQLSTATE class 28 */
	JWT_ERR_EXPIRED,			/* 28J01 */
	JWT_ERR_NOT_YET_VALID,		/* 28J02 */
	JWT_ERR_SIGNATURE,			/* 28J03 */
	JWT_ERR_REVOKED,			/* 28J04 */
	JWT_ERR_AUDIENCE,			/* 28J05 */
	JWT_ERR_ISSUER,				/* 28J06 */
	JWT_ERR_ALGORITHM,			/* 28J07 */
	JWT_ERR_MISSING_CLAIM,		/* 28J08 */
	JWT_ERR_ISSUED_IN_FUTURE,	/* 28J09 */
	JWT_ERR_TOO_OLD,			/* 28J0A */
	JWT_ERR_SUBJECT,			/* 28J0B */
	JWT_ERR_TYPE,				/* 28J0C */
	JWT_ERR_NO_KEY,				/* 28J0D */

	/* a DPoP proof (RFC 9449) or a token's binding to one is refused: 28JDx */
	JWT_ERR_DPOP_MALFORMED,		/* 28JD1 */
	JWT_ERR_DPOP_TYPE,			/* 28JD2 */
	JWT_ERR_DPOP_ALGORITHM,		/* 28JD3 */
	JWT_ERR_DPOP_KEY,			/* 28JD4 */
	JWT_ERR_DPOP_SIGNATURE,		/* 28JD5 */
	JWT_ERR_DPOP_METHOD,		/* 28JD6 */
	JWT_ERR_DPOP_URL,			/* 28JD7 */
	JWT_ERR_DPOP_TIME,			/* 28JD8 */
	JWT_ERR_DPOP_REPLAY,		/* 28JD9 */
	JWT_ERR_DPOP_ATH,			/* 28JDA */
	JWT_ERR_DPOP_NONCE,			/* 28JDB */
	JWT_ERR_DPOP_BINDING,		/* 28JDC */
	JWT_ERR_DPOP_SCHEME,		/* 28JDD */
	JWT_ERR_DPOP_REQUIRED,		/* 28JDE */

	/* the caller's key or option is wrong: 22023 */
	JWT_ERR_KEY,
	JWT_ERR_OPTION,

	/* a keyring key is sealed and the key-encryption key does not open it: 55J01 */
	JWT_ERR_KEY_SEALED,
	/* a key set larger than the extension handles: 54000 */
	JWT_ERR_LIMIT,

	/* JWKS URLs: a fetch from an identity provider failed */
	JWT_ERR_FETCH_CONNECT,		/* 58JF1 */
	JWT_ERR_FETCH_TIMEOUT,		/* 58JF2 */
	JWT_ERR_FETCH_TLS,			/* 58JF3 */
	JWT_ERR_FETCH_STATUS,		/* 58JF4 */
	JWT_ERR_FETCH_REDIRECT,		/* 58JF5 */
	JWT_ERR_FETCH_TOO_LARGE,	/* 58JF6 */
	JWT_ERR_FETCH_CONTENT_TYPE, /* 22JF1 */
	JWT_ERR_FETCH_JSON,			/* 22JF2 */
	JWT_ERR_FETCH_NOT_JWKS,		/* 22JF3 */
	JWT_ERR_FETCH_URL,			/* 22JF4 */
	JWT_ERR_FETCH_ISSUER,		/* 28JF1 */

	/* OpenSSL failed where it should not: XX000 */
	JWT_ERR_INTERNAL
} JwtStatus;

typedef struct JwtError
{
	JwtStatus	status;
	char		message[160];
	char		detail[256];
} JwtError;

/* Record a failure and return its status; the format is printf-like. */
extern JwtStatus jwt_fail(JwtError *err, JwtStatus status, const char *fmt,...) pg_attribute_printf(3, 4);
/* Add a detail sentence to the last failure. */
extern void jwt_fail_detail(JwtError *err, const char *fmt,...) pg_attribute_printf(2, 3);

/* Untrusted text made safe for a message. */
extern const char *jwt_printable(const char *s, char *buf, size_t size);

#ifndef FRONTEND
/* The SQLSTATE of a failure, and the failure raised as an error with it. */
extern int	jwt_status_sqlstate(JwtStatus s);
extern void jwt_raise(const JwtError *err);
#endif

/* Token failures (malformed or refused), as opposed to caller mistakes. */
static inline bool
jwt_status_is_token_failure(JwtStatus s)
{
	return s >= JWT_ERR_STRUCTURE && s <= JWT_ERR_DPOP_REQUIRED;
}

#endif
