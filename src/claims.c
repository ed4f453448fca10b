/*
 * claims.c - JWT claim rules
 *
 * Runs only after the signature has verified.  Registered claims must have
 * their registered types: a NumericDate that is a string, a boolean, negative
 * or beyond year 9999 is a malformed token, not a date to guess at.
 */
#include "postgres.h"

#include <math.h>

#include "claims.h"

/* The registered claims of a token, found in one pass over its members. */
enum
{
	RC_EXP,
	RC_NBF,
	RC_IAT,
	RC_ISS,
	RC_SUB,
	RC_JTI,
	RC_AUD,
	RC_COUNT
};
static const char registered_names[RC_COUNT][4] = {"exp", "nbf", "iat", "iss", "sub", "jti", "aud"};

/* rc[RC_*]: the member, or NULL */
static void
find_registered_claims(const JsonDoc *claims, const JsonMember *rc[RC_COUNT])
{
	memset(rc, 0, sizeof(rc[0]) * RC_COUNT);
	for (int i = 0; i < claims->nmembers; i++)
	{
		const JsonMember *m = &claims->members[i];

		if (m->name_len != 3)
			continue;
		for (int k = 0; k < RC_COUNT; k++)
			if (memcmp(m->name, registered_names[k], 3) == 0)
			{
				rc[k] = m;
				break;
			}
	}
}

/* Read a NumericDate claim m (NULL: absent); *present says whether it exists. */
static JwtStatus
numeric_date(const JsonMember *m, const char *name, bool *present, double *value,
			 JwtError *err)
{
	*present = m != NULL;
	if (m == NULL)
		return JWT_OK;
	if (m->value.kind != JK_NUMBER)
	{
		jwt_fail(err, JWT_ERR_CLAIM_FORMAT, "claim \"%s\" must be a number", name);
		jwt_fail_detail(err, "A NumericDate is a JSON number of seconds since 1970-01-01T00:00:00Z.");
		return JWT_ERR_CLAIM_FORMAT;
	}
	*value = json_number_double(&m->value);
	if (!isfinite(*value) || *value < 0 || *value > JWT_NUMERICDATE_MAX)
	{
		jwt_fail(err, JWT_ERR_CLAIM_FORMAT, "claim \"%s\" is out of range", name);
		jwt_fail_detail(err, "A NumericDate must lie between 1970 and the end of year 9999.");
		return JWT_ERR_CLAIM_FORMAT;
	}
	return JWT_OK;
}

/* A claim that must be a string when present (iss, sub, jti). */
static JwtStatus
string_claim(const JsonMember *m, const char *name, const char **value, JwtError *err)
{
	*value = NULL;
	if (m == NULL)
		return JWT_OK;
	if (m->value.kind != JK_STRING)
		return jwt_fail(err, JWT_ERR_CLAIM_FORMAT, "claim \"%s\" must be a string", name);
	*value = m->value.str;
	return JWT_OK;
}

/* Is value one of the expected names: a comma-separated list, one exact value, or an array? */
static bool
name_matches(const char *value, const char *expected, bool exact,
			 const char *const *names, int nnames)
{
	size_t		vlen = strlen(value);

	if (nnames > 0)
	{
		/* names is sorted (an argument of many names against an aud array of many) */
		int			lo = 0,
					hi = nnames - 1;

		while (lo <= hi)
		{
			int			mid = lo + (hi - lo) / 2;
			int			c = strcmp(value, names[mid]);

			if (c == 0)
				return true;
			if (c < 0)
				hi = mid - 1;
			else
				lo = mid + 1;
		}
		return false;
	}
	if (expected == NULL)
		return false;
	if (exact)
		return strcmp(value, expected) == 0;
	for (const char *p = expected;;)
	{
		const char *end = strchr(p, ',');
		const char *stop = end ? end : p + strlen(p);

		while (p < stop && (*p == ' ' || *p == '\t'))
			p++;
		while (stop > p && (stop[-1] == ' ' || stop[-1] == '\t'))
			stop--;
		if ((size_t) (stop - p) == vlen && vlen > 0 && memcmp(p, value, vlen) == 0)
			return true;
		if (end == NULL)
			return false;
		p = end + 1;
	}
}

/* RFC 7519 4.1.3: aud is a string or an array of strings. */
static JwtStatus
check_audience(const JsonMember *m, const JwtClaimRules *r, JwtError *err)
{
	char		buf[128];
	bool		matched = false;
	const char *expected = r->naudiences > 0 ? r->audiences[0] : r->audience;

	if (m != NULL)
	{
		const JsonValue *v = &m->value;

		if (v->kind == JK_STRING)
			matched = name_matches(v->str, r->audience, r->audience_exact, r->audiences, r->naudiences);
		else if (v->kind == JK_ARRAY)
		{
			for (int i = 0; i < v->nelems; i++)
			{
				if (v->elems[i].kind != JK_STRING)
					return jwt_fail(err, JWT_ERR_CLAIM_FORMAT,
									"claim \"aud\" must be a string or an array of strings");
				if (name_matches(v->elems[i].str, r->audience, r->audience_exact, r->audiences, r->naudiences))
					matched = true;
			}
		}
		else
			return jwt_fail(err, JWT_ERR_CLAIM_FORMAT,
							"claim \"aud\" must be a string or an array of strings");
	}

	if (expected == NULL && m != NULL)
	{
		jwt_fail(err, JWT_ERR_AUDIENCE, "token has an audience but none was expected");
		jwt_fail_detail(err, "Pass audience (or set jwt.audience) to accept tokens that carry \"aud\".");
		return JWT_ERR_AUDIENCE;
	}
	if (expected != NULL && m == NULL)
		return jwt_fail(err, JWT_ERR_AUDIENCE, "token has no audience");
	if (expected != NULL && !matched)
	{
		jwt_fail(err, JWT_ERR_AUDIENCE, "token audience does not match");
		jwt_fail_detail(err, r->naudiences > 1 || (!r->audience_exact && strchr(expected, ','))
						? "Expected one of the audiences \"%s\"..." : "Expected audience \"%s\".",
						jwt_printable(expected, buf, sizeof(buf)));
		return JWT_ERR_AUDIENCE;
	}
	return JWT_OK;
}

/*
 * The failure of a claims parse: a number no NumericDate (and no numeric)
 * can hold is a malformed claim, like an "exp" past the year 9999; anything
 * else is malformed JSON.
 */
JwtStatus
jwt_claims_parse_failure(JsonStrictResult jr, const JsonDoc *claims, JwtError *err)
{
	char		name[64];

	if (jr == JSON_STRICT_NUMBER_RANGE)
	{
		jwt_fail(err, JWT_ERR_CLAIM_FORMAT, "claim \"%s\" is out of range",
				 jwt_printable(claims->out_of_range ? claims->out_of_range : "", name, sizeof(name)));
		jwt_fail_detail(err, "It holds a number beyond what PostgreSQL's numeric type can represent.");
		return JWT_ERR_CLAIM_FORMAT;
	}
	jwt_fail(err, JWT_ERR_JSON, "token claims are not valid");
	jwt_fail_detail(err, "The claims must be a JSON object, but %s.", json_strict_result_text(jr));
	return JWT_ERR_JSON;
}

/*
 * The rules on a token's lifetime that hold whenever it is checked, so that
 * jwt_sign refuses to make what verification would refuse: exp never before
 * iat, and exp - iat (or exp - now without iat) within max_lifetime.
 */
JwtStatus
jwt_check_lifetime(bool has_exp, double exp, bool has_iat, double iat, double now,
				   double max_lifetime, double leeway, JwtError *err)
{
	if (has_exp && has_iat && exp < iat)
	{
		jwt_fail(err, JWT_ERR_CLAIM_FORMAT, "claim \"exp\" is before \"iat\"");
		jwt_fail_detail(err, "A token cannot expire before it is issued.");
		return JWT_ERR_CLAIM_FORMAT;
	}
	if (max_lifetime > 0 && has_exp && exp - (has_iat ? iat : now) > max_lifetime + leeway)
	{
		jwt_fail(err, JWT_ERR_TOO_OLD, "token lifetime is too long");
		jwt_fail_detail(err, "jwt.max_lifetime is %.0f seconds.", max_lifetime);
		return JWT_ERR_TOO_OLD;
	}
	return JWT_OK;
}

JwtStatus
jwt_check_claims(const JsonDoc *claims, const JwtClaimRules *r, JwtError *err)
{
	bool		has_exp,
				has_nbf,
				has_iat;
	double		exp = 0,
				nbf = 0,
				iat = 0;
	const char *iss,
			   *sub,
			   *jti;
	JwtStatus	st;
	const JsonMember *rc[RC_COUNT];
	char		buf[128];

	find_registered_claims(claims, rc);
	/* types first, so that a malformed token is reported as such */
	if ((st = numeric_date(rc[RC_EXP], "exp", &has_exp, &exp, err)) != JWT_OK ||
		(st = numeric_date(rc[RC_NBF], "nbf", &has_nbf, &nbf, err)) != JWT_OK ||
		(st = numeric_date(rc[RC_IAT], "iat", &has_iat, &iat, err)) != JWT_OK ||
		(st = string_claim(rc[RC_ISS], "iss", &iss, err)) != JWT_OK ||
		(st = string_claim(rc[RC_SUB], "sub", &sub, err)) != JWT_OK ||
		(st = string_claim(rc[RC_JTI], "jti", &jti, err)) != JWT_OK)
		return st;

	if ((st = jwt_check_lifetime(has_exp, exp, has_iat, iat, r->now, r->max_lifetime,
								 r->leeway, err)) != JWT_OK)
		return st;
	if (!has_exp && r->require_exp)
	{
		jwt_fail(err, JWT_ERR_MISSING_CLAIM, "token has no \"exp\" claim");
		jwt_fail_detail(err, "Tokens must expire; set jwt.require_exp = off to accept tokens without \"exp\".");
		return JWT_ERR_MISSING_CLAIM;
	}
	for (int i = 0; i < r->nrequired; i++)
		if (json_doc_get(claims, r->required[i]) == NULL)
			return jwt_fail(err, JWT_ERR_MISSING_CLAIM, "token has no \"%s\" claim", r->required[i]);

	/* RFC 7519 4.1.4: the current time must be before exp */
	if (has_exp && r->now >= exp + r->leeway)
		return jwt_fail(err, JWT_ERR_EXPIRED, "token has expired");
	if (has_nbf && r->now + r->leeway < nbf)
		return jwt_fail(err, JWT_ERR_NOT_YET_VALID, "token is not valid yet");
	if (has_iat && r->now + r->leeway < iat)
		return jwt_fail(err, JWT_ERR_ISSUED_IN_FUTURE, "token was issued in the future");
	if (r->max_age >= 0)
	{
		if (!has_iat)
		{
			jwt_fail(err, JWT_ERR_MISSING_CLAIM, "token has no \"iat\" claim");
			jwt_fail_detail(err, "max_age needs the token's issue time.");
			return JWT_ERR_MISSING_CLAIM;
		}
		if (r->now - iat > r->max_age + r->leeway)
			return jwt_fail(err, JWT_ERR_TOO_OLD, "token is too old");
	}

	/* a key bound to an issuer verifies only that issuer's tokens */
	if (r->key_issuer != NULL && (iss == NULL || strcmp(iss, r->key_issuer) != 0))
	{
		jwt_fail(err, JWT_ERR_ISSUER, iss == NULL ? "token has no issuer, and its key belongs to one"
				 : "token issuer is not the issuer of its key");
		jwt_fail_detail(err, "The key verifies only tokens whose \"iss\" is \"%s\".",
						jwt_printable(r->key_issuer, buf, sizeof(buf)));
		return JWT_ERR_ISSUER;
	}
	if (r->key_issuer == NULL && iss != NULL && r->issuer_bound_elsewhere != NULL &&
		r->issuer_bound_elsewhere(iss))
	{
		jwt_fail(err, JWT_ERR_ISSUER, "token issuer is not the issuer of its key");
		jwt_fail_detail(err, "Tokens of issuer \"%s\" are verified by that issuer's keys only.",
						jwt_printable(iss, buf, sizeof(buf)));
		return JWT_ERR_ISSUER;
	}
	if ((r->issuer != NULL || r->nissuers > 0) &&
		(r->key_issuer == NULL || r->issuer_exact || r->nissuers > 0) &&
		(iss == NULL || !name_matches(iss, r->issuer, r->issuer_exact, r->issuers, r->nissuers)))
	{
		const char *expected = r->nissuers > 0 ? r->issuers[0] : r->issuer;

		jwt_fail(err, JWT_ERR_ISSUER, "token issuer does not match");
		jwt_fail_detail(err, r->nissuers > 1 || (!r->issuer_exact && strchr(expected, ','))
						? "Expected one of the issuers \"%s\"..." : "Expected issuer \"%s\".",
						jwt_printable(expected, buf, sizeof(buf)));
		return JWT_ERR_ISSUER;
	}
	if (r->subject != NULL && (sub == NULL || strcmp(sub, r->subject) != 0))
	{
		jwt_fail(err, JWT_ERR_SUBJECT, "token subject does not match");
		jwt_fail_detail(err, "Expected subject \"%s\".", jwt_printable(r->subject, buf, sizeof(buf)));
		return JWT_ERR_SUBJECT;
	}
	return check_audience(rc[RC_AUD], r, err);
}
