/*
 * jwt.c - module init, the settings, and the token functions of the SQL layer
 *
 * Each function unpacks its arguments, calls the core in src/, and turns a
 * core failure into one ereport with the failure's SQLSTATE.  No OpenSSL here.
 * The other concerns' entry points are in keyring.c, revocation.c,
 * identity.c, transport.c and impersonate.c; what they share with the token
 * functions is declared in jwt_sql.h.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "common/int.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "claims.h"
#include "dpop_replay.h"
#include "identity.h"
#include "issuer_refresh.h"
#include "jsonb_text.h"
#include "jws.h"
#include "keycache.h"
#include "issuers.h"
#include "keyring.h"
#include "revocation.h"
#include "stats.h"
#include "token_cache.h"
#include "transport.h"
#include "b64url.h"
#include "jwt_sql.h"
#include "pgjwt_compat.h"
#include "oauth_validator.h"

PG_MODULE_MAGIC;

/* pg_proc_aclcheck became object_aclcheck in PostgreSQL 16. */
#if PG_VERSION_NUM >= 160000
#define object_aclcheck_compat(oid, role) object_aclcheck(ProcedureRelationId, (oid), (role), ACL_EXECUTE)
#else
#define object_aclcheck_compat(oid, role) pg_proc_aclcheck((oid), (role), ACL_EXECUTE)
#endif

/* Settings: defaults for arguments left NULL. */
static int	jwt_leeway = 0;
static char *jwt_audience = NULL;
static char *jwt_issuer = NULL;
static bool jwt_require_exp = true;
int			jwt_max_token_length = 65536;
static int	jwt_max_lifetime = 0;
static int	jwt_default_lifetime = 3600;
static bool jwt_add_jti = true;

void		_PG_init(void);

void
_PG_init(void)
{
	/*
	 * The verification defaults are policy: only superusers set them (in the
	 * configuration, or per database or role), so that a session cannot widen
	 * what jwt_authenticate() accepts.  Explicit arguments still win.
	 */
	DefineCustomIntVariable("jwt.leeway",
							"Clock skew tolerated when checking exp, nbf and iat.",
							NULL, &jwt_leeway, 0, 0, 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomStringVariable("jwt.audience",
							   "Audience that verified tokens must name, when none is passed.",
							   NULL, &jwt_audience, "",
							   PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("jwt.issuer",
							   "Issuer that verified tokens must name, when none is passed.",
							   NULL, &jwt_issuer, "",
							   PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("jwt.require_exp",
							 "Refuse tokens without an \"exp\" claim.",
							 NULL, &jwt_require_exp, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("jwt.max_token_length",
							"Longest token accepted, in bytes.",
							NULL, &jwt_max_token_length, 65536, 64, 1024 * 1024,
							PGC_SUSET, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomIntVariable("jwt.max_lifetime",
							"Refuse tokens whose exp - iat exceeds this; 0 disables.",
							NULL, &jwt_max_lifetime, 0, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("jwt.default_lifetime",
							"Lifetime jwt_sign gives tokens without \"exp\"; 0 adds no iat or exp.",
							NULL, &jwt_default_lifetime, 3600, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomBoolVariable("jwt.add_jti",
							 "jwt_sign adds a random 128-bit \"jti\" to claims without one, so that every token can be revoked.",
							 NULL, &jwt_add_jti, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);

	/*
	 * Server-wide (SIGHUP) so that no session can pick its own; hidden from
	 * non-superusers.  No check hook: PostgreSQL would echo a rejected value
	 * into the log, so the format is checked where the key is used.  The
	 * variable is the keyring's (src/keyring.c), which reads it in jwt_kek().
	 */
	DefineCustomStringVariable("jwt.key_encryption_key",
							   "Key (64 hex digits) that seals the keyring's private material with AES-256-GCM.",
							   NULL, &jwt_key_encryption_key, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
	/* during a KEK rotation: keys sealed under it still open until jwt_reseal_keys() */
	DefineCustomStringVariable("jwt.previous_key_encryption_key",
							   "The key-encryption key before jwt.key_encryption_key, while jwt_reseal_keys() moves the keyring to the new one.",
							   NULL, &jwt_previous_key_encryption_key, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
	jwt_keyring_init();
	jwt_identity_init();
	jwt_issuers_init();
	jwt_revocation_init();
	jwt_transport_init();
	jwt_stats_init();
	jwt_issuer_refresh_init();
	jwt_dpop_init();
	jwt_token_cache_init();
	pgjwt_compat_init();
	jwt_oauth_init();
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("jwt");
#else
	EmitWarningsOnPlaceholders("jwt");
#endif
}

/* The key given as text or as bytea (a raw HMAC secret), parsed or cached. */
static JwtKeySet *
key_argument(FunctionCallInfo fcinfo, int argno, bool is_secret)
{
	text	   *key = PG_GETARG_TEXT_PP(argno);	/* bytea has the same layout */
	JwtKeySet  *set;
	JwtError	err;

	if (jwt_keycache_get(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key), is_secret, &set, &err) != JWT_OK)
		jwt_raise(&err);
	return set;
}

JwtAlg
jwt_algorithm_argument(text *name)
{
	char	   *s = text_to_cstring(name);
	JwtAlg		alg = jwt_alg_from_name(s, strlen(s));
	char		buf[40];

	if (alg == JWT_ALG_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported algorithm \"%s\"", jwt_printable(s, buf, sizeof(buf))),
				 errhint("Algorithms are HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519 and Ed448.")));
	return alg;
}

/* ---------- text between the database encoding and the token's UTF-8 ---------- */

/*
 * Text of the database written into a token, or compared with a token's
 * text, as UTF-8: a token carries UTF-8 (RFC 7519), so in a LATIN1 database
 * "\xc3\xa9" ("Ã©") must not travel as the bytes a verifier reads as "é".
 * SQL_ASCII says nothing of its bytes, so there they must already be UTF-8.
 */
static char *
server_text_to_utf8(const char *s, size_t len, const char *what)
{
	int			enc = GetDatabaseEncoding();

	if (enc == PG_UTF8)
		return unconstify(char *, s);
	if (enc == PG_SQL_ASCII)
	{
		if (!pg_verify_mbstr(PG_UTF8, s, (int) len, true))
			ereport(ERROR,
					(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
					 errmsg("%s must be valid UTF-8", what),
					 errdetail("Tokens carry UTF-8; a SQL_ASCII database must give them UTF-8 text.")));
		return unconstify(char *, s);
	}
	return pg_server_to_any(s, (int) len, PG_UTF8);
}

/* The same for a NUL-terminated string; NULL stays NULL. */
const char *
jwt_server_cstring_to_utf8(const char *s, const char *what)
{
	return s == NULL ? NULL : server_text_to_utf8(s, strlen(s), what);
}

/* A token's UTF-8 text (a kid, a role) in the database encoding; raises if it has no equivalent. */
char *
jwt_utf8_to_server_cstring(const char *s)
{
	return pg_any_to_server(s, (int) strlen(s), PG_UTF8);
}

/*
 * UTF-8 text in the database encoding, or NULL when the encoding cannot
 * represent it, found without raising (the text may come from a forged
 * token's header).  Before PostgreSQL 14 no conversion returns instead of
 * raising: it raises as it always did.
 */
static char *
utf8_to_server_or_null(const char *s)
{
#if PG_VERSION_NUM >= 140000
	int			enc = GetDatabaseEncoding();
	int			len = (int) strlen(s);
	int			destlen;
	unsigned char *dest;
	Oid			proc;

	if (enc == PG_UTF8 || enc == PG_SQL_ASCII ||
		!OidIsValid(proc = FindDefaultConversionProc(PG_UTF8, enc)))
		return jwt_utf8_to_server_cstring(s);
	destlen = len * MAX_CONVERSION_GROWTH + 1;
	dest = palloc(destlen);
	/* the number of bytes converted; the output is NUL-terminated */
	if (pg_do_encoding_conversion_buf(proc, PG_UTF8, enc, (unsigned char *) s, len,
									  dest, destlen, true) != len)
	{
		pfree(dest);
		return NULL;
	}
	return (char *) dest;
#else
	return jwt_utf8_to_server_cstring(s);
#endif
}

/*
 * A token's kid for the keyring lookup, in the database encoding.  A kid the
 * encoding cannot represent names no key: refused as unknown, not raised.
 */
static JwtStatus
keyring_kid(const char *kid, const char **out, JwtError *err)
{
	char		buf[64];

	*out = NULL;
	if (kid == NULL)
		return JWT_OK;
	if ((*out = utf8_to_server_or_null(kid)) == NULL)
		return jwt_fail(err, JWT_ERR_NO_KEY, "no key in the keyring has kid \"%s\"",
						jwt_printable(kid, buf, sizeof(buf)));
	return JWT_OK;
}

/* ---------- signing ---------- */

/* Reject header members that would change how the token is verified. */
static void
check_sign_header(Jsonb *header)
{
	static const char *const refused[] = {"alg", "crit", "b64", "zip", "enc"};

	if (!JB_ROOT_IS_OBJECT(header) || JB_ROOT_IS_SCALAR(header))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("header must be a JSON object")));
	for (size_t i = 0; i < lengthof(refused); i++)
		if (getKeyJsonValueFromContainer(&header->root, refused[i], strlen(refused[i]), NULL) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("header member \"%s\" cannot be set", refused[i]),
					 strcmp(refused[i], "alg") == 0
					 ? errhint("Pass the algorithm as the alg argument.") : 0));
}

/*
 * The keyring's signing key (or the one the header's kid names).  Signing
 * with the keyring mints tokens the database trusts, so it needs EXECUTE on
 * jwt_keyring_signer(), which PUBLIC does not have.
 */
static JwtKey *
keyring_signing_key(Jsonb *header)
{
	Oid			nsp = jwt_extension_schema();
	List	   *name = list_make2(makeString(get_namespace_name(nsp)), makeString("jwt_keyring_signer"));
	Oid			marker = LookupFuncName(name, 0, NULL, false);
	JsonbValue *kid = header ? getKeyJsonValueFromContainer(&header->root, "kid", 3, NULL) : NULL;

	if (object_aclcheck_compat(marker, GetUserId()) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to sign with the jwt keyring"),
				 errhint("GRANT EXECUTE ON FUNCTION jwt_keyring_signer() TO the roles that issue tokens.")));
	if (kid != NULL && kid->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("header member \"kid\" must be a string")));
	return jwt_keyring_signing_key(kid ? pnstrdup(kid->val.string.val, kid->val.string.len) : NULL);
}

/*
 * Sign payload bytes with the key argument; alg and header arguments at
 * argno+1 and argno+2.  jwt_typ is the default "typ" ("JWT") or NULL.
 */
static text *
sign_payload(FunctionCallInfo fcinfo, const char *payload, size_t payload_len,
			 bool is_secret, const char *default_typ)
{
	JwtKey	   *key;
	JwtAlg		alg;
	Jsonb	   *header = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	StringInfoData hdr;
	bool		any = true;
	JwtError	err;
	char	   *token;
	char	   *header_text;

	if (header != NULL)
		check_sign_header(header);
	if (PG_ARGISNULL(1))
		key = keyring_signing_key(header);
	else
	{
		JwtKeySet  *set = key_argument(fcinfo, 1, is_secret);

		if (set->nkeys != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a key set with several keys cannot sign"),
					 errhint("Pass the one key to sign with.")));
		key = &set->keys[0];
	}
	if (!key->has_private)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a public key cannot sign"),
				 errhint("Pass the private key.")));
	alg = PG_ARGISNULL(2) ? jwt_key_default_alg(key) : jwt_algorithm_argument(PG_GETARG_TEXT_PP(2));
	if (jwt_key_check_alg(key, alg, &err) != JWT_OK)
	{
		/* for the signer a mismatch is its own configuration, not a refused token */
		err.status = JWT_ERR_KEY;
		jwt_raise(&err);
	}

	initStringInfo(&hdr);
	appendStringInfoString(&hdr, "{\"alg\":\"");
	appendStringInfoString(&hdr, jwt_alg_name(alg));
	appendStringInfoChar(&hdr, '"');
	if (default_typ != NULL &&
		(header == NULL || getKeyJsonValueFromContainer(&header->root, "typ", 3, NULL) == NULL))
	{
		appendStringInfoString(&hdr, ",\"typ\":\"");
		appendStringInfoString(&hdr, default_typ);
		appendStringInfoChar(&hdr, '"');
	}
	if (key->kid != NULL &&
		(header == NULL || getKeyJsonValueFromContainer(&header->root, "kid", 3, NULL) == NULL))
	{
		appendStringInfoString(&hdr, ",\"kid\":");
		escape_json(&hdr, key->kid);
	}
	if (header != NULL)
		jsonb_append_object_members(&hdr, &header->root, &any);
	appendStringInfoChar(&hdr, '}');
	header_text = server_text_to_utf8(hdr.data, hdr.len, "the header");

	token = jws_sign(key, alg, header_text, strlen(header_text), payload, payload_len, &err);
	if (token == NULL)
		jwt_raise(&err);
	return cstring_to_text(token);
}

static double
unix_seconds(TimestampTz ts)
{
	int64		us;

	/* one rounding, as strtod reads the microseconds jwt_sign writes in iat */
	if (!pg_add_s64_overflow(ts, (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY, &us))
		return (double) us / USECS_PER_SEC;
	return (double) ts / USECS_PER_SEC +
		(double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
}

/*
 * Random token ids come from a per-backend pool of pg_strong_random() bytes,
 * refilled a kilobyte at a time: one call per token cost a quarter of an
 * HS256 signature.  Taken bytes are wiped from the pool.
 */
static void
random_jti_bytes(unsigned char *out, int n)
{
	static unsigned char pool[1024];
	static int	pool_left = 0;

	Assert(n <= (int) sizeof(pool));
	if (pool_left < n)
	{
		if (!pg_strong_random(pool, sizeof(pool)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate a random jti")));
		pool_left = sizeof(pool);
	}
	pool_left -= n;
	memcpy(out, pool + pool_left, n);
	explicit_bzero(pool + pool_left, n);
}

/* ,"name":value (the comma unless first) */
static void
append_int_member(StringInfo buf, const char *name, int64 value, bool *any)
{
	char		digits[MAXINT8LEN + 1];

	if (*any)
		appendStringInfoChar(buf, ',');
	appendStringInfoChar(buf, '"');
	appendStringInfoString(buf, name);
	appendStringInfoString(buf, "\":");
	pg_lltoa(value, digits);
	appendStringInfoString(buf, digits);
	*any = true;
}

/* Registered claims a signer checks, as bits of ClaimsSeen. */
typedef enum
{
	SEEN_EXP = 1 << 0,
	SEEN_NBF = 1 << 1,
	SEEN_IAT = 1 << 2,
	SEEN_ISS = 1 << 3,
	SEEN_SUB = 1 << 4,
	SEEN_JTI = 1 << 5
} ClaimsSeen;

static int
registered_claim(const JsonbValue *key)
{
	static const char *const names[] = {"exp", "nbf", "iat", "iss", "sub", "jti"};

	if (key->val.string.len != 3)
		return 0;
	for (int i = 0; i < (int) lengthof(names); i++)
		if (memcmp(key->val.string.val, names[i], 3) == 0)
			return 1 << i;
	return 0;
}

/*
 * Append a NumericDate claim's value, refusing what a verifier would refuse.
 * The range is checked on the very text the verifier will read.
 */
static double
append_numeric_date(StringInfo buf, const char *name, const JsonbValue *v)
{
	char	   *text;
	int64_t		ival;
	double		d;

	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("claim \"%s\" must be a number", name),
				 errdetail("A NumericDate is a JSON number of seconds since 1970-01-01T00:00:00Z.")));
	text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	d = json_number_as_int(text, strlen(text), &ival) ? (double) ival : strtod(text, NULL);
	if (!isfinite(d) || d < 0 || d > JWT_NUMERICDATE_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("claim \"%s\" is out of range", name)));
	appendStringInfoString(buf, text);
	return d;
}

/* ,"name":seconds.micros of a time after 1970 */
static void
append_time_member(StringInfo buf, const char *name, TimestampTz t, bool *any)
{
	int64		us = t + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;

	append_int_member(buf, name, us / USECS_PER_SEC, any);
	appendStringInfo(buf, ".%06d", (int) (us % USECS_PER_SEC));
}

/*
 * jti and sub no longer than revocation can store (22023; 22J06 at
 * verification).  Returns sub when it is a string, else NULL.
 */
static JsonbValue *
revocable_claims(Jsonb *claims)
{
	static const char *const names[] = {"jti", "sub"};
	JsonbValue *v = NULL;

	for (int i = 0; i < (int) lengthof(names); i++)
	{
		v = getKeyJsonValueFromContainer(&claims->root, names[i], 3, NULL);
		if (v != NULL && v->type == jbvString && v->val.string.len > JWT_REVOCABLE_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("claim \"%s\" is too long", names[i]),
					 errdetail("A token id or subject longer than %d bytes could not be revoked.",
							   JWT_REVOCABLE_MAX)));
	}
	return (v != NULL && v->type == jbvString) ? v : NULL;
}

/*
 * The claims as compact JSON, with iat and exp added per jwt.default_lifetime.
 * iat is the statement's start, the same clock verification reads, so a token
 * verified in the statement that signed it is never "issued in the future";
 * whole seconds, unless its subject was cut off earlier in the second (see
 * jwt_revocation_issue_time).
 * Claims a verifier would refuse (NumericDates and string claims of the wrong
 * type) are refused here, in the one pass that writes the members.
 */
static char *
claims_text(Jsonb *claims, size_t *len)
{
	StringInfoData buf;
	JsonbIterator *it;
	JsonbValue	key,
				v;
	JsonbIteratorToken tok;
	int			seen = 0;
	double		exp = 0,
				iat = 0;
	double		now = floor(unix_seconds(GetCurrentStatementStartTimestamp()));
	JwtError	err;
	JsonbValue *sub;

	if (!JB_ROOT_IS_OBJECT(claims) || JB_ROOT_IS_SCALAR(claims))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("claims must be a JSON object")));
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	it = JsonbIteratorInit(&claims->root);
	tok = JsonbIteratorNext(&it, &v, false);
	Assert(tok == WJB_BEGIN_OBJECT);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		int			claim;

		if (tok != WJB_KEY)
			continue;
		(void) JsonbIteratorNext(&it, &v, true);
		claim = registered_claim(&key);
		seen |= claim;
		if (buf.len > 1)
			appendStringInfoChar(&buf, ',');
		jsonb_append_string(&buf, key.val.string.val, key.val.string.len);
		appendStringInfoChar(&buf, ':');
		if (claim & (SEEN_EXP | SEEN_NBF | SEEN_IAT))
		{
			double		d = append_numeric_date(&buf, pnstrdup(key.val.string.val, 3), &v);

			if (claim == SEEN_EXP)
				exp = d;
			else if (claim == SEEN_IAT)
				iat = d;
		}
		else if ((claim & (SEEN_ISS | SEEN_SUB | SEEN_JTI)) && v.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("claim \"%s\" must be a string", pnstrdup(key.val.string.val, 3))));
		else
			jsonb_append_value(&buf, &v);
	}
	sub = revocable_claims(claims);
	if (jwt_default_lifetime > 0)
	{
		bool		exact = false;
		TimestampTz issued = (seen & SEEN_IAT) ? GetCurrentStatementStartTimestamp()
			: jwt_revocation_issue_time(sub != NULL ? sub->val.string.val : NULL,
										sub != NULL ? sub->val.string.len : 0, &exact);
		int64		issued_s = (issued + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY) /
			USECS_PER_SEC;
		bool		any = buf.len > 1;

		if (!(seen & SEEN_IAT))
		{
			if (exact)
				append_time_member(&buf, "iat", issued, &any);
			else
				append_int_member(&buf, "iat", issued_s, &any);
			iat = exact ? unix_seconds(issued) : (double) issued_s;
			seen |= SEEN_IAT;
		}
		if (!(seen & SEEN_EXP))
		{
			exp = (double) issued_s + jwt_default_lifetime;
			append_int_member(&buf, "exp", (int64) exp, &any);
			seen |= SEEN_EXP;
		}
	}
	/* sign nothing that verification refuses whatever the time: no leeway here */
	if (jwt_check_lifetime((seen & SEEN_EXP) != 0, exp, (seen & SEEN_IAT) != 0, iat, now,
						   jwt_max_lifetime, 0, &err) != JWT_OK)
		jwt_raise(&err);
	if (jwt_add_jti && !(seen & SEEN_JTI))
	{
		unsigned char id[16];
		char		enc[B64URL_ENCODED_LEN(16) + 1];

		random_jti_bytes(id, sizeof(id));
		enc[b64url_encode(id, sizeof(id), enc)] = '\0';
		explicit_bzero(id, sizeof(id));
		appendStringInfoString(&buf, buf.len > 1 ? ",\"jti\":\"" : "\"jti\":\"");
		appendStringInfoString(&buf, enc);
		appendStringInfoChar(&buf, '"');
	}
	appendStringInfoChar(&buf, '}');
	*len = buf.len;
	return buf.data;
}

static Datum
jwt_sign_common(FunctionCallInfo fcinfo, bool is_secret)
{
	size_t		len;
	char	   *payload;

	if (PG_ARGISNULL(0) || (is_secret && PG_ARGISNULL(1)))
		PG_RETURN_NULL();
	payload = claims_text(PG_GETARG_JSONB_P(0), &len);
	payload = server_text_to_utf8(payload, len, "the claims");
	len = strlen(payload);
	PG_RETURN_TEXT_P(sign_payload(fcinfo, payload, len, is_secret, "JWT"));
}

/* jwt_sign(claims jsonb, key text, alg text, header jsonb) RETURNS text */
PG_FUNCTION_INFO_V1(jwt_sign_text);
Datum
jwt_sign_text(PG_FUNCTION_ARGS)
{
	return jwt_sign_common(fcinfo, false);
}

/* jwt_sign(claims jsonb, key bytea, alg text, header jsonb) RETURNS text */
PG_FUNCTION_INFO_V1(jwt_sign_bytea);
Datum
jwt_sign_bytea(PG_FUNCTION_ARGS)
{
	return jwt_sign_common(fcinfo, true);
}

static Datum
jws_sign_common(FunctionCallInfo fcinfo, bool is_secret)
{
	bytea	   *payload;

	if (PG_ARGISNULL(0) || (is_secret && PG_ARGISNULL(1)))
		PG_RETURN_NULL();
	payload = PG_GETARG_BYTEA_PP(0);
	PG_RETURN_TEXT_P(sign_payload(fcinfo, VARDATA_ANY(payload), VARSIZE_ANY_EXHDR(payload),
								  is_secret, NULL));
}

/* jws_sign(payload bytea, key text, alg text, header jsonb) RETURNS text */
PG_FUNCTION_INFO_V1(jws_sign_text);
Datum
jws_sign_text(PG_FUNCTION_ARGS)
{
	return jws_sign_common(fcinfo, false);
}

/* jws_sign(payload bytea, key bytea, alg text, header jsonb) RETURNS text */
PG_FUNCTION_INFO_V1(jws_sign_bytea);
Datum
jws_sign_bytea(PG_FUNCTION_ARGS)
{
	return jws_sign_common(fcinfo, true);
}

/* ---------- verification ---------- */

/* Argument positions of jwt_verify and jwt_is_valid. */
enum
{
	ARG_TOKEN,
	ARG_KEY,
	ARG_ALGORITHMS,
	ARG_AUDIENCE,
	ARG_ISSUER,
	ARG_LEEWAY,
	ARG_REQUIRED,
	ARG_MAX_AGE,
	ARG_TYP,
	ARG_SUBJECT,
	ARG_NOW,
	ARG_CHECK_REVOKED,
	ARG_COUNT
};

static JwtAlgSet
algorithms_argument(ArrayType *arr)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	JwtAlgSet	set = 0;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("algorithms must not be empty")));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("algorithms must not contain NULL")));
		set |= JWT_ALG_BIT(jwt_algorithm_argument(DatumGetTextPP(elems[i])));
	}
	return set;
}

static double
interval_argument(Interval *iv, const char *name)
{
	double		secs = (double) iv->time / USECS_PER_SEC +
		(double) iv->day * SECS_PER_DAY + (double) iv->month * DAYS_PER_MONTH * SECS_PER_DAY;

	if (secs < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", name)));
	return secs;
}

static const char *
string_option(FunctionCallInfo fcinfo, int argno, const char *setting)
{
	if (argno < PG_NARGS() && !PG_ARGISNULL(argno))
		return text_to_cstring(PG_GETARG_TEXT_PP(argno));
	return (setting != NULL && setting[0] != '\0') ? setting : NULL;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * An audiences or issuers argument: one or more names, none NULL, as UTF-8,
 * sorted so that a token's aud array is matched in O(log n) per element.
 */
static const char *const *
names_argument(ArrayType *arr, const char *what, int *count)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	const char **names;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array", what)));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	/* an empty list would accept nothing: a mistake, not a policy */
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what),
				 errhint("Pass NULL to use the setting.")));
	names = palloc(sizeof(char *) * n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain NULL", what)));
		names[i] = jwt_server_cstring_to_utf8(TextDatumGetCString(elems[i]), what);
	}
	qsort(names, n, sizeof(char *), compare_names);
	*count = n;
	return names;
}

/*
 * The claim rules of the arguments.  lists: audience and issuer are text[]
 * (the audiences/issuers forms), any item matches; else each is one value.
 */
static void
claim_rules_from_arguments(FunctionCallInfo fcinfo, JwtClaimRules *r, bool lists)
{
	memset(r, 0, sizeof(*r));
	r->now = unix_seconds(PG_ARGISNULL(ARG_NOW) ? GetCurrentStatementStartTimestamp()
						  : PG_GETARG_TIMESTAMPTZ(ARG_NOW));
	r->leeway = PG_ARGISNULL(ARG_LEEWAY) ? jwt_leeway
		: interval_argument(PG_GETARG_INTERVAL_P(ARG_LEEWAY), "leeway");
	r->require_exp = jwt_require_exp;
	/* a text argument is one value; the settings are comma-separated lists */
	if (lists && !PG_ARGISNULL(ARG_AUDIENCE))
		r->audiences = names_argument(PG_GETARG_ARRAYTYPE_P(ARG_AUDIENCE), "audiences", &r->naudiences);
	else
	{
		r->audience = jwt_server_cstring_to_utf8(string_option(fcinfo, ARG_AUDIENCE, jwt_audience), "audience");
		r->audience_exact = !PG_ARGISNULL(ARG_AUDIENCE);
	}
	if (lists && !PG_ARGISNULL(ARG_ISSUER))
		r->issuers = names_argument(PG_GETARG_ARRAYTYPE_P(ARG_ISSUER), "issuers", &r->nissuers);
	else
	{
		r->issuer = jwt_server_cstring_to_utf8(string_option(fcinfo, ARG_ISSUER, jwt_issuer), "issuer");
		r->issuer_exact = !PG_ARGISNULL(ARG_ISSUER);
	}
	r->subject = jwt_server_cstring_to_utf8(string_option(fcinfo, ARG_SUBJECT, NULL), "subject");
	r->max_age = PG_ARGISNULL(ARG_MAX_AGE) ? -1
		: interval_argument(PG_GETARG_INTERVAL_P(ARG_MAX_AGE), "max_age");
	r->max_lifetime = jwt_max_lifetime;
	if (!PG_ARGISNULL(ARG_REQUIRED))
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		const char **names;

		deconstruct_array(PG_GETARG_ARRAYTYPE_P(ARG_REQUIRED), TEXTOID, -1, false,
						  TYPALIGN_INT, &elems, &nulls, &n);
		names = palloc(sizeof(char *) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("required must not contain NULL")));
			names[i] = jwt_server_cstring_to_utf8(TextDatumGetCString(elems[i]), "a required claim name");
		}
		r->required = names;
		r->nrequired = n;
	}
}

/*
 * Verify a token.  Token failures come back as a status (for jwt_is_valid);
 * mistakes in the key or options raise at once.
 */
JwtStatus
jwt_verify_request(VerifyRequest *req, JwsToken *tok, JsonDoc *claims, JwtError *err)
{
	JsonStrictResult jr;
	JwtStatus	st;
	JwtKey	   *key;
	const char *kid;
	const char *data = VARDATA_ANY(req->token);
	size_t		len = VARSIZE_ANY_EXHDR(req->token);
	TokenCacheProbe probe;
	MemoryContext entry_cxt = NULL,
				old;
	bool		cached = false,
				cached_claims = false;
	Jsonb	   *jsonb = NULL;

	/*
	 * The token cache stands in for the parse and the signature check only: a
	 * hit fills tok (and the claims) as the parse would, and jws_verify_key()
	 * skips the signature only for the key object that checked these bytes
	 * before.  Everything else below runs on a hit as on a miss.
	 */
	memset(&probe, 0, sizeof(probe));
	if (len <= (size_t) jwt_max_token_length && !req->no_token_cache)
		cached = jwt_token_cache_lookup(data, len, &probe, tok, claims, &cached_claims,
										req->claims_jsonb);
	if (!cached)
	{
		if (probe.admit)
			entry_cxt = jwt_token_cache_context();
		old = entry_cxt ? MemoryContextSwitchTo(entry_cxt) : CurrentMemoryContext;
		st = jws_parse(data, len, (size_t) jwt_max_token_length, tok, err);
		MemoryContextSwitchTo(old);
		if (st != JWT_OK)
			return st;
	}
	if (req->keys != NULL)
		st = jws_verify(tok, req->keys, req->allowed, err);
	else if ((st = jws_check_algorithm(tok, req->allowed, err)) == JWT_OK &&
			 (st = keyring_kid(tok->kid, &kid, err)) == JWT_OK &&
			 (st = jwt_keyring_verify_key(tok->alg, kid,
										  req->is_jwt ? tok->payload : NULL, tok->payload_len,
										  &key, &req->rules.key_issuer, err)) == JWT_OK)
	{
		st = jws_verify_key(tok, key, req->allowed, err);
		/* a key of this database never verifies a token of a provider's issuer */
		if (req->rules.key_issuer == NULL)
			req->rules.issuer_bound_elsewhere = jwt_keyring_issuer_is_bound;
	}
	if (st != JWT_OK)
		return st;
	if (cached)
		jwt_token_cache_count(&probe, tok);
	if (!req->is_jwt)
	{
		if (entry_cxt != NULL)
			jwt_token_cache_store(&probe, entry_cxt, data, len, tok, NULL, NULL);
		return JWT_OK;
	}

	/*
	 * Only now, with the signature verified, are the claims looked at.  In a
	 * UTF-8 database the one parse also builds the jsonb to return (and to
	 * cache).
	 */
	if (!cached_claims)
	{
		old = entry_cxt ? MemoryContextSwitchTo(entry_cxt) : CurrentMemoryContext;
		if ((req->claims_jsonb != NULL || entry_cxt != NULL) && GetDatabaseEncoding() == PG_UTF8)
			jr = json_strict_parse_jsonb(tok->payload, tok->payload_len, claims, &jsonb);
		else
			jr = json_strict_parse(tok->payload, tok->payload_len, claims);
		MemoryContextSwitchTo(old);
		if (jr != JSON_STRICT_OK)
			return jwt_claims_parse_failure(jr, claims, err);
		if (req->claims_jsonb != NULL)
			*req->claims_jsonb = jsonb;
	}
	if ((st = jws_check_typ(tok, req->typ, err)) != JWT_OK ||
		(st = jwt_check_claims(claims, &req->rules, err)) != JWT_OK)
		return st;
	if (req->check_revoked &&
		(st = jwt_check_revocation(claims, tok->payload, tok->payload_len, err)) != JWT_OK)
		return st;
	if (entry_cxt != NULL)
	{
		/* the caller gets its own copy of the jsonb: the entry keeps this one */
		if (req->claims_jsonb != NULL && jsonb != NULL)
		{
			*req->claims_jsonb = palloc(VARSIZE(jsonb));
			memcpy(*req->claims_jsonb, jsonb, VARSIZE(jsonb));
		}
		jwt_token_cache_store(&probe, entry_cxt, data, len, tok, claims, jsonb);
	}
	return JWT_OK;
}

/* A request from the arguments of jwt_verify, jwt_is_valid or jws_verify. */
static JwtStatus
verify_token(FunctionCallInfo fcinfo, bool is_secret, bool is_jwt, bool lists, JwsToken *tok,
			 JsonDoc *claims, Jsonb **claims_jsonb, JwtError *err)
{
	VerifyRequest req;

	memset(&req, 0, sizeof(req));
	req.claims_jsonb = claims_jsonb;
	req.token = PG_GETARG_TEXT_PP(ARG_TOKEN);
	req.keys = PG_ARGISNULL(ARG_KEY) ? NULL : key_argument(fcinfo, ARG_KEY, is_secret);
	req.allowed = PG_ARGISNULL(ARG_ALGORITHMS) ? 0
		: algorithms_argument(PG_GETARG_ARRAYTYPE_P(ARG_ALGORITHMS));
	req.is_jwt = is_jwt;
	if (is_jwt)
	{
		claim_rules_from_arguments(fcinfo, &req.rules, lists);
		req.typ = jwt_server_cstring_to_utf8(string_option(fcinfo, ARG_TYP, NULL), "typ");
		/* the keyring always consults revocation; an explicit key when asked */
		req.check_revoked = PG_ARGISNULL(ARG_CHECK_REVOKED) ? req.keys == NULL
			: PG_GETARG_BOOL(ARG_CHECK_REVOKED);
		if (req.keys == NULL && !req.check_revoked)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("check_revoked => false is not allowed with the keyring"),
					 errdetail("Verification with the keyring always consults revocation.")));
		/*
		 * Revoked ids (and ended sessions) are purged a day after their
		 * exp: a longer leeway, or a now further back, would accept one again.
		 */
		if (req.check_revoked &&
			req.rules.leeway + Max(0.0, unix_seconds(GetCurrentStatementStartTimestamp()) - req.rules.now) > SECS_PER_DAY)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("leeway must not exceed 1 day when revocation is checked"),
					 errdetail("Revoked token ids and ended sessions are purged a day after the tokens' exp; leeway plus how far now is in the past must stay within it.")));
	}
	return jwt_stats_verified(jwt_verify_request(&req, tok, claims, err));
}

/*
 * "Bearer <token>", "DPoP <token>" (RFC 9449) or a bare token, without
 * surrounding white space; *scheme says which.
 */
static text *
bearer_token(text *arg, JwtAuthScheme *scheme)
{
	char	   *s = text_to_cstring(arg);
	char	   *end;

	while (isspace((unsigned char) *s))
		s++;
	*scheme = JWT_AUTH_SCHEME_NONE;
	if (pg_strncasecmp(s, "bearer", 6) == 0 && isspace((unsigned char) s[6]))
	{
		*scheme = JWT_AUTH_SCHEME_BEARER;
		s += 6;
	}
	else if (pg_strncasecmp(s, "dpop", 4) == 0 && isspace((unsigned char) s[4]))
	{
		*scheme = JWT_AUTH_SCHEME_DPOP;
		s += 4;
	}
	while (isspace((unsigned char) *s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char) end[-1]))
		end--;
	return cstring_to_text_with_len(s, end - s);
}

/* What jwt_authenticate() verifies a bearer token against: the keyring and the settings. */
void
jwt_authentication_request(VerifyRequest *req, text *arg)
{
	memset(req, 0, sizeof(*req));
	req->token = bearer_token(arg, &req->scheme);
	req->is_jwt = true;
	req->check_revoked = true;
	req->rules.now = unix_seconds(GetCurrentStatementStartTimestamp());
	req->rules.leeway = jwt_leeway;
	req->rules.require_exp = jwt_require_exp;
	req->rules.audience = jwt_audience[0] ? jwt_server_cstring_to_utf8(jwt_audience, "jwt.audience") : NULL;
	req->rules.issuer = jwt_issuer[0] ? jwt_server_cstring_to_utf8(jwt_issuer, "jwt.issuer") : NULL;
	req->rules.max_age = -1;
	req->rules.max_lifetime = jwt_max_lifetime;
}

/* jsonb from the verified, valid UTF-8 JSON text of a token. */
Datum
jwt_json_text_to_jsonb(const char *json, size_t len)
{
	char	   *server = pg_any_to_server(json, (int) len, PG_UTF8);

	return DirectFunctionCall1(jsonb_in, CStringGetDatum(server));
}

static Datum
jwt_verify_common(FunctionCallInfo fcinfo, bool is_secret, bool lists)
{
	JwsToken	tok;
	JsonDoc		claims;
	Jsonb	   *claims_jsonb = NULL;
	JwtError	err;

	if (PG_ARGISNULL(ARG_TOKEN) || (is_secret && PG_ARGISNULL(ARG_KEY)))
		PG_RETURN_NULL();
	if (verify_token(fcinfo, is_secret, true, lists, &tok, &claims, &claims_jsonb, &err) != JWT_OK)
		jwt_raise(&err);
	if (claims_jsonb != NULL)
		PG_RETURN_JSONB_P(claims_jsonb);
	return jwt_json_text_to_jsonb(tok.payload, tok.payload_len);
}

/* jwt_verify(token text, key text, ...) RETURNS jsonb */
PG_FUNCTION_INFO_V1(jwt_verify_text);
Datum
jwt_verify_text(PG_FUNCTION_ARGS)
{
	return jwt_verify_common(fcinfo, false, false);
}

/* jwt_verify(token text, key bytea, ...) RETURNS jsonb */
PG_FUNCTION_INFO_V1(jwt_verify_bytea);
Datum
jwt_verify_bytea(PG_FUNCTION_ARGS)
{
	return jwt_verify_common(fcinfo, true, false);
}

static Datum
jwt_is_valid_common(FunctionCallInfo fcinfo, bool is_secret, bool lists)
{
	JwsToken	tok;
	JsonDoc		claims;
	JwtError	err;
	JwtStatus	st;

	if (PG_ARGISNULL(ARG_TOKEN) || (is_secret && PG_ARGISNULL(ARG_KEY)))
		PG_RETURN_NULL();
	st = verify_token(fcinfo, is_secret, true, lists, &tok, &claims, NULL, &err);
	if (st != JWT_OK && !jwt_status_is_token_failure(st))
		jwt_raise(&err);
	PG_RETURN_BOOL(st == JWT_OK);
}

/* jwt_is_valid(token text, key text, ...) RETURNS boolean */
PG_FUNCTION_INFO_V1(jwt_is_valid_text);
Datum
jwt_is_valid_text(PG_FUNCTION_ARGS)
{
	return jwt_is_valid_common(fcinfo, false, false);
}

/* jwt_is_valid(token text, key bytea, ...) RETURNS boolean */
PG_FUNCTION_INFO_V1(jwt_is_valid_bytea);
Datum
jwt_is_valid_bytea(PG_FUNCTION_ARGS)
{
	return jwt_is_valid_common(fcinfo, true, false);
}

/*
 * The list forms, jwt_verify(token, audiences text[], key, algorithms,
 * issuers text[], leeway, ...) and the same of jwt_is_valid: audiences comes
 * second, without a default, so that no call of the text forms can resolve
 * to them.  Their arguments are put back in jwt_verify's order.
 */
static Datum
call_with_lists(FunctionCallInfo outer, Datum (*common) (FunctionCallInfo, bool, bool),
				bool is_secret)
{
	/* for each argument of jwt_verify, its position in the list form */
	static const int from[ARG_COUNT] = {
		[ARG_TOKEN] = 0,[ARG_AUDIENCE] = 1,[ARG_KEY] = 2,[ARG_ALGORITHMS] = 3,
		[ARG_ISSUER] = 4,[ARG_LEEWAY] = 5,[ARG_REQUIRED] = 6,[ARG_MAX_AGE] = 7,
		[ARG_TYP] = 8,[ARG_SUBJECT] = 9,[ARG_NOW] = 10,[ARG_CHECK_REVOKED] = 11
	};
	LOCAL_FCINFO(fcinfo, ARG_COUNT);
	Datum		result;

	if (outer->nargs != ARG_COUNT)
		elog(ERROR, "the list form of jwt_verify takes %d arguments", ARG_COUNT);
	InitFunctionCallInfoData(*fcinfo, outer->flinfo, ARG_COUNT, outer->fncollation, NULL, NULL);
	for (int i = 0; i < ARG_COUNT; i++)
		fcinfo->args[i] = outer->args[from[i]];
	result = common(fcinfo, is_secret, true);
	outer->isnull = fcinfo->isnull;
	return result;
}

/* jwt_verify(token text, audiences text[], key text, ..., issuers text[], ...) RETURNS jsonb */
PG_FUNCTION_INFO_V1(jwt_verify_lists_text);
Datum
jwt_verify_lists_text(PG_FUNCTION_ARGS)
{
	return call_with_lists(fcinfo, jwt_verify_common, false);
}

/* jwt_verify(token text, audiences text[], key bytea, ..., issuers text[], ...) RETURNS jsonb */
PG_FUNCTION_INFO_V1(jwt_verify_lists_bytea);
Datum
jwt_verify_lists_bytea(PG_FUNCTION_ARGS)
{
	return call_with_lists(fcinfo, jwt_verify_common, true);
}

/* jwt_is_valid(token text, audiences text[], key text, ..., issuers text[], ...) RETURNS boolean */
PG_FUNCTION_INFO_V1(jwt_is_valid_lists_text);
Datum
jwt_is_valid_lists_text(PG_FUNCTION_ARGS)
{
	return call_with_lists(fcinfo, jwt_is_valid_common, false);
}

/* jwt_is_valid(token text, audiences text[], key bytea, ..., issuers text[], ...) RETURNS boolean */
PG_FUNCTION_INFO_V1(jwt_is_valid_lists_bytea);
Datum
jwt_is_valid_lists_bytea(PG_FUNCTION_ARGS)
{
	return call_with_lists(fcinfo, jwt_is_valid_common, true);
}

static Datum
jws_verify_common(FunctionCallInfo fcinfo, bool is_secret)
{
	JwsToken	tok;
	JwtError	err;
	bytea	   *result;

	if (PG_ARGISNULL(ARG_TOKEN) || (is_secret && PG_ARGISNULL(ARG_KEY)))
		PG_RETURN_NULL();
	if (verify_token(fcinfo, is_secret, false, false, &tok, NULL, NULL, &err) != JWT_OK)
		jwt_raise(&err);
	result = palloc(VARHDRSZ + tok.payload_len);
	SET_VARSIZE(result, VARHDRSZ + tok.payload_len);
	memcpy(VARDATA(result), tok.payload, tok.payload_len);
	PG_RETURN_BYTEA_P(result);
}

/* jws_verify(token text, key text, algorithms text[]) RETURNS bytea */
PG_FUNCTION_INFO_V1(jws_verify_text);
Datum
jws_verify_text(PG_FUNCTION_ARGS)
{
	return jws_verify_common(fcinfo, false);
}

/* jws_verify(token text, key bytea, algorithms text[]) RETURNS bytea */
PG_FUNCTION_INFO_V1(jws_verify_bytea);
Datum
jws_verify_bytea(PG_FUNCTION_ARGS)
{
	return jws_verify_common(fcinfo, true);
}

/* jwt_decode(token text, OUT header jsonb, OUT payload jsonb, OUT signature bytea) */
PG_FUNCTION_INFO_V1(jwt_decode);
Datum
jwt_decode(PG_FUNCTION_ARGS)
{
	text	   *token = PG_GETARG_TEXT_PP(0);
	JwsToken	tok;
	JsonDoc		claims;
	JwtError	err;
	JsonStrictResult jr;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	bytea	   *sig;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (jws_parse(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token),
				  (size_t) jwt_max_token_length, &tok, &err) != JWT_OK)
		jwt_raise(&err);
	if ((jr = json_strict_parse(tok.payload, tok.payload_len, &claims)) != JSON_STRICT_OK)
	{
		jwt_claims_parse_failure(jr, &claims, &err);
		jwt_raise(&err);
	}

	values[0] = jwt_json_text_to_jsonb(tok.header_json, tok.header_len);
	values[1] = jwt_json_text_to_jsonb(tok.payload, tok.payload_len);
	sig = palloc(VARHDRSZ + tok.sig_len);
	SET_VARSIZE(sig, VARHDRSZ + tok.sig_len);
	memcpy(VARDATA(sig), tok.sig, tok.sig_len);
	values[2] = PointerGetDatum(sig);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

