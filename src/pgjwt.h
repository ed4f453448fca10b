/*
 * pgjwt.h - core helpers of the pgjwt compatibility functions
 *
 * pgjwt (0.2.0) signs with any HMAC secret, even an empty one, and reads
 * "nbf" and "exp" the way PostgreSQL's json ->> operator does.  These
 * helpers give the SQL layer (pgjwt_compat.c) a cached HMAC key for any
 * secret, that reading of the two claims in one parse, and the core's
 * NumericDate rule for the strict mode.  Like the rest of the core they
 * report failures through JwtError and never raise.
 */
#ifndef JWT_PGJWT_H
#define JWT_PGJWT_H

#include "crypto.h"
#include "json_strict.h"

/*
 * The HMAC key for these secret bytes, from a small per-backend cache (the
 * keyed HMAC contexts live as long as the entry).  Valid until the next call.
 */
extern JwtKey *pgjwt_secret_key(const char *secret, size_t len);

/*
 * A top-level member's value as json ->> gives it: a string de-escaped, null
 * as absent, anything else as its text in the document.
 */
typedef struct PgjwtField
{
	bool		present;		/* false: ->> gives NULL */
	char	   *text;			/* palloc'd, NUL-terminated */
	int			len;
} PgjwtField;

/*
 * payload ->> 'nbf' and payload ->> 'exp' in one parse of a json text in the
 * database encoding.  False when the parser refuses the text (the caller then
 * asks PostgreSQL's own functions, which raise their errors); true also
 * means that json_in accepts it.  Call only in a UTF-8 database: elsewhere
 * the parser may raise a conversion error itself.
 */
extern bool pgjwt_read_times(char *json, int len, PgjwtField *nbf, PgjwtField *exp);

/* exp, nbf and iat, when present, are numbers between 1970 and year 9999. */
extern JwtStatus pgjwt_check_numeric_dates(const JsonDoc *claims, JwtError *err);

#endif
