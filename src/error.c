/*
 * error.c - recording core failures
 */
#include "postgres.h"

#include "jwt_error.h"

JwtStatus
jwt_fail(JwtError *err, JwtStatus status, const char *fmt,...)
{
	va_list		args;

	err->status = status;
	va_start(args, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, args);
	va_end(args);
	err->detail[0] = '\0';
	return status;
}

void
jwt_fail_detail(JwtError *err, const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, args);
	va_end(args);
}

/*
 * Copy untrusted text (an alg name, a kid) for a message: printable ASCII
 * only, cut to fit, so a token cannot put bytes of its choice into a log line.
 */
const char *
jwt_printable(const char *s, char *buf, size_t size)
{
	size_t		i = 0;

	for (; s[i] != '\0' && i + 4 < size; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] != '\0')
	{
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

#ifndef FRONTEND
/* The SQLSTATE of a failure: 22J0x for malformed tokens, 28J0x for refused ones. */
int
jwt_status_sqlstate(JwtStatus s)
{
	switch (s)
	{
		case JWT_ERR_STRUCTURE:
			return MAKE_SQLSTATE('2', '2', 'J', '0', '1');
		case JWT_ERR_BASE64:
			return MAKE_SQLSTATE('2', '2', 'J', '0', '2');
		case JWT_ERR_JSON:
			return MAKE_SQLSTATE('2', '2', 'J', '0', '3');
		case JWT_ERR_HEADER:
			return MAKE_SQLSTATE('2', '2', 'J', '0', '4');
		case JWT_ERR_TOO_LONG:
			return MAKE_SQLSTATE('2', '2', 'J', '0', '5');
		case JWT_ERR_CLAIM_FORMAT:
			return MAKE_SQLSTATE('2', '2', 'J', '0', '6');
		case JWT_ERR_EXPIRED:
			return MAKE_SQLSTATE('2', '8', 'J', '0', '1');
		case JWT_ERR_NOT_YET_VALID:
			return MAKE_SQLSTATE('2', '8', 'J', '0', '2');
		case JWT_ERR_SIGNATURE:
			return MAKE_SQLSTATE('2', '8', 'J', '0', '3');
		case JWT_ERR_REVOKED:
			return MAKE_SQLSTATE('2', '8', 'J', '0', '4');
		case JWT_ERR_AUDIENCE:
			return MAKE_SQLSTATE('2', '8', 'J', '0', '5');
		case JWT_ERR_ISSUER:
			return MAKE_SQLSTATE('2', '8', 'J', '0', '6');
		case JWT_ERR_ALGORITHM:
			return MAKE_SQLSTATE('2', '8', 'J', '0', '7');
		case JWT_ERR_MISSING_CLAIM:
			return MAKE_SQLSTATE('2', '8', 'J', '0', '8');
		case JWT_ERR_ISSUED_IN_FUTURE:
			return MAKE_SQLSTATE('2', '8', 'J', '0', '9');
		case JWT_ERR_TOO_OLD:
			return MAKE_SQLSTATE('2', '8', 'J', '0', 'A');
		case JWT_ERR_SUBJECT:
			return MAKE_SQLSTATE('2', '8', 'J', '0', 'B');
		case JWT_ERR_TYPE:
			return MAKE_SQLSTATE('2', '8', 'J', '0', 'C');
		case JWT_ERR_NO_KEY:
			return MAKE_SQLSTATE('2', '8', 'J', '0', 'D');
		case JWT_ERR_DPOP_MALFORMED:
			return MAKE_SQLSTATE('2', '8', 'J', 'D', '1');
		case JWT_ERR_DPOP_TYPE:
			return MAKE_SQLSTATE('2', '8', 'J', 'D', '2');
		case JWT_ERR_DPOP_ALGORITHM:
			return MAKE_SQLSTATE('2', '8', 'J', 'D', '3');
		case JWT_ERR_DPOP_KEY:
			return MAKE_SQLSTATE('2', '8', 'J', 'D', '4');
		case JWT_ERR_DPOP_SIGNATURE:
			return MAKE_SQLSTATE('2', '8', 'J', 'D', '5');
		case JWT_ERR_DPOP_METHOD:
			return MAKE_SQLSTATE('2', '8', 'J', 'D', '6');
		case JWT_ERR_DPOP_URL:
			return MAKE_SQLSTATE('2', '8', 'J', 'D', '7');
		case JWT_ERR_DPOP_TIME:
			return MAKE_SQLSTATE('2', '8', 'J', 'D', '8');
		case JWT_ERR_DPOP_REPLAY:
			return MAKE_SQLSTATE('2', '8', 'J', 'D', '9');
		case JWT_ERR_DPOP_ATH:
			return MAKE_SQLSTATE('2', '8', 'J', 'D', 'A');
		case JWT_ERR_DPOP_NONCE:
			return MAKE_SQLSTATE('2', '8', 'J', 'D', 'B');
		case JWT_ERR_DPOP_BINDING:
			return MAKE_SQLSTATE('2', '8', 'J', 'D', 'C');
		case JWT_ERR_DPOP_SCHEME:
			return MAKE_SQLSTATE('2', '8', 'J', 'D', 'D');
		case JWT_ERR_DPOP_REQUIRED:
			return MAKE_SQLSTATE('2', '8', 'J', 'D', 'E');
		case JWT_ERR_KEY:
		case JWT_ERR_OPTION:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		case JWT_ERR_KEY_SEALED:
			return MAKE_SQLSTATE('5', '5', 'J', '0', '1');
		case JWT_ERR_LIMIT:
			return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			/* JWKS URLs: 58JFx the fetch, 22JFx the response, 28JF1 its issuer */
		case JWT_ERR_FETCH_CONNECT:
			return MAKE_SQLSTATE('5', '8', 'J', 'F', '1');
		case JWT_ERR_FETCH_TIMEOUT:
			return MAKE_SQLSTATE('5', '8', 'J', 'F', '2');
		case JWT_ERR_FETCH_TLS:
			return MAKE_SQLSTATE('5', '8', 'J', 'F', '3');
		case JWT_ERR_FETCH_STATUS:
			return MAKE_SQLSTATE('5', '8', 'J', 'F', '4');
		case JWT_ERR_FETCH_REDIRECT:
			return MAKE_SQLSTATE('5', '8', 'J', 'F', '5');
		case JWT_ERR_FETCH_TOO_LARGE:
			return MAKE_SQLSTATE('5', '8', 'J', 'F', '6');
		case JWT_ERR_FETCH_CONTENT_TYPE:
			return MAKE_SQLSTATE('2', '2', 'J', 'F', '1');
		case JWT_ERR_FETCH_JSON:
			return MAKE_SQLSTATE('2', '2', 'J', 'F', '2');
		case JWT_ERR_FETCH_NOT_JWKS:
			return MAKE_SQLSTATE('2', '2', 'J', 'F', '3');
		case JWT_ERR_FETCH_URL:
			return MAKE_SQLSTATE('2', '2', 'J', 'F', '4');
		case JWT_ERR_FETCH_ISSUER:
			return MAKE_SQLSTATE('2', '8', 'J', 'F', '1');
		default:
			return ERRCODE_INTERNAL_ERROR;
	}
}

/* Raise a recorded failure as an error with its SQLSTATE. */
void
jwt_raise(const JwtError *err)
{
	/* a refused token's statement holds the token: keep it out of the server log */
	ereport(ERROR,
			(errcode(jwt_status_sqlstate(err->status)),
			 errmsg("%s", err->message),
			 err->detail[0] ? errdetail("%s", err->detail) : 0,
			 errhidestmt(jwt_status_is_token_failure(err->status))));
}
#endif
