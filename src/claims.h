/*
 * claims.h - JWT claim rules (RFC 7519 section 4.1, RFC 8725)
 */
#ifndef JWT_CLAIMS_H
#define JWT_CLAIMS_H

#include "jwt_error.h"
#include "json_strict.h"

typedef struct JwtClaimRules
{
	double		now;			/* seconds since the epoch */
	double		leeway;			/* seconds of clock skew tolerated */
	bool		require_exp;
	/*
	 * audience and issuer: a comma-separated list (a setting, any item
	 * matches; spaces around items ignored), or with *_exact one value (an
	 * argument).  naudiences > 0: the audiences array instead (any matches;
	 * sorted by strcmp, as is issuers).
	 */
	const char *audience;		/* NULL: the token must carry no aud */
	bool		audience_exact;
	const char *const *audiences;
	int			naudiences;
	const char *issuer;			/* NULL: iss is not checked */
	bool		issuer_exact;
	const char *const *issuers;
	int			nissuers;
	/*
	 * The issuer the verifying key is bound to (a keyring key): iss must be
	 * it, and then issuer applies only when given as an argument (_exact or
	 * issuers), not as the jwt.issuer setting, which is for unbound keys.
	 */
	const char *key_issuer;
	/*
	 * For a key of this database (key_issuer NULL) from the keyring: whether
	 * iss is the issuer of keys bound to it there.  Such a token is refused:
	 * a provider's issuer is verified by the provider's keys only.
	 */
	bool		(*issuer_bound_elsewhere) (const char *iss);
	const char *subject;		/* NULL: sub is not checked */
	const char *const *required;	/* claims that must be present */
	int			nrequired;
	double		max_age;		/* < 0: none; else now - iat must not exceed it */
	double		max_lifetime;	/* <= 0: none; else exp - iat must not exceed it */
} JwtClaimRules;

/* Latest NumericDate accepted: 9999-12-31T23:59:59Z. */
#define JWT_NUMERICDATE_MAX 253402300799.0

extern JwtStatus jwt_claims_parse_failure(JsonStrictResult jr, const JsonDoc *claims,
										  JwtError *err);
extern JwtStatus jwt_check_lifetime(bool has_exp, double exp, bool has_iat, double iat,
									double now, double max_lifetime, double leeway,
									JwtError *err);
extern JwtStatus jwt_check_claims(const JsonDoc *claims, const JwtClaimRules *rules,
								  JwtError *err);

#endif
