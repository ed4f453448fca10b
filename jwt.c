/*
 * jwt.c - the SQL-callable layer of the jwt extension
 *
 * Each function unpacks its arguments, calls the core in src/, and turns a
 * core failure into one ereport with the failure's SQLSTATE.  No OpenSSL here.
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
#include "storage/fd.h"
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
#include "envelope.h"
#include "identity.h"
#include "jsonb_text.h"
#include "jws.h"
#include "keycache.h"
#include "keygen.h"
#include "keyring.h"
#include "revocation.h"
#include "token_cache.h"
#include "transport.h"
#include "b64url.h"
#include "pgjwt_compat.h"

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
static int	jwt_max_token_length = 65536;
static int	jwt_max_lifetime = 0;
static int	jwt_default_lifetime = 3600;
static bool jwt_add_jti = true;
char	   *jwt_key_encryption_key = NULL;
static bool jwt_preloaded = false;

void		_PG_init(void);

void
_PG_init(void)
{
	jwt_preloaded = process_shared_preload_libraries_in_progress;

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
	 * into the log, so the format is checked where the key is used.
	 */
	DefineCustomStringVariable("jwt.key_encryption_key",
							   "Key (64 hex digits) that seals the keyring's private material with AES-256-GCM.",
							   NULL, &jwt_key_encryption_key, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
	jwt_keyring_init();
	jwt_identity_init();
	jwt_revocation_init();
	jwt_transport_init();
	jwt_token_cache_init();
	pgjwt_compat_init();
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

static JwtAlg
algorithm_argument(text *name)
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
static const char *
server_cstring_to_utf8(const char *s, const char *what)
{
	return s == NULL ? NULL : server_text_to_utf8(s, strlen(s), what);
}

/* A token's UTF-8 text (a kid, a role) in the database encoding; raises if it has no equivalent. */
static char *
utf8_to_server_cstring(const char *s)
{
	return pg_any_to_server(s, (int) strlen(s), PG_UTF8);
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
	alg = PG_ARGISNULL(2) ? jwt_key_default_alg(key) : algorithm_argument(PG_GETARG_TEXT_PP(2));
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
	ARG_CHECK_REVOKED
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
		set |= JWT_ALG_BIT(algorithm_argument(DatumGetTextPP(elems[i])));
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

static void
claim_rules_from_arguments(FunctionCallInfo fcinfo, JwtClaimRules *r)
{
	memset(r, 0, sizeof(*r));
	r->now = unix_seconds(PG_ARGISNULL(ARG_NOW) ? GetCurrentStatementStartTimestamp()
						  : PG_GETARG_TIMESTAMPTZ(ARG_NOW));
	r->leeway = PG_ARGISNULL(ARG_LEEWAY) ? jwt_leeway
		: interval_argument(PG_GETARG_INTERVAL_P(ARG_LEEWAY), "leeway");
	r->require_exp = jwt_require_exp;
	r->audience = server_cstring_to_utf8(string_option(fcinfo, ARG_AUDIENCE, jwt_audience), "audience");
	r->issuer = server_cstring_to_utf8(string_option(fcinfo, ARG_ISSUER, jwt_issuer), "issuer");
	r->subject = server_cstring_to_utf8(string_option(fcinfo, ARG_SUBJECT, NULL), "subject");
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
			names[i] = server_cstring_to_utf8(TextDatumGetCString(elems[i]), "a required claim name");
		}
		r->required = names;
		r->nrequired = n;
	}
}

/* What to verify a token against. */
typedef struct VerifyRequest
{
	text	   *token;
	JwtKeySet  *keys;			/* NULL: the keyring */
	JwtAlgSet	allowed;		/* 0: what the key admits */
	bool		is_jwt;			/* claims rules apply */
	JwtClaimRules rules;
	const char *typ;
	bool		check_revoked;
	Jsonb	  **claims_jsonb;	/* where to put the claims as jsonb, or NULL */
} VerifyRequest;

/*
 * Verify a token.  Token failures come back as a status (for jwt_is_valid);
 * mistakes in the key or options raise at once.
 */
static JwtStatus
verify_request(VerifyRequest *req, JwsToken *tok, JsonDoc *claims, JwtError *err)
{
	JsonStrictResult jr;
	JwtStatus	st;
	JwtKey	   *key;
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
	if (len <= (size_t) jwt_max_token_length)
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
			 (st = jwt_keyring_verify_key(tok->alg, tok->kid ? utf8_to_server_cstring(tok->kid) : NULL,
										  &key, err)) == JWT_OK)
		st = jws_verify_key(tok, key, req->allowed, err);
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
verify_token(FunctionCallInfo fcinfo, bool is_secret, bool is_jwt, JwsToken *tok,
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
		claim_rules_from_arguments(fcinfo, &req.rules);
		req.typ = server_cstring_to_utf8(string_option(fcinfo, ARG_TYP, NULL), "typ");
		/* the keyring always consults revocation; an explicit key when asked */
		req.check_revoked = PG_ARGISNULL(ARG_CHECK_REVOKED) ? req.keys == NULL
			: PG_GETARG_BOOL(ARG_CHECK_REVOKED);
		if (req.keys == NULL && !req.check_revoked)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("check_revoked => false is not allowed with the keyring"),
					 errdetail("Verification with the keyring always consults revocation.")));
	}
	return verify_request(&req, tok, claims, err);
}

/* jsonb from the verified, valid UTF-8 JSON text of a token. */
static Datum
json_text_to_jsonb(const char *json, size_t len)
{
	char	   *server = pg_any_to_server(json, (int) len, PG_UTF8);

	return DirectFunctionCall1(jsonb_in, CStringGetDatum(server));
}

static Datum
jwt_verify_common(FunctionCallInfo fcinfo, bool is_secret)
{
	JwsToken	tok;
	JsonDoc		claims;
	Jsonb	   *claims_jsonb = NULL;
	JwtError	err;

	if (PG_ARGISNULL(ARG_TOKEN) || (is_secret && PG_ARGISNULL(ARG_KEY)))
		PG_RETURN_NULL();
	if (verify_token(fcinfo, is_secret, true, &tok, &claims, &claims_jsonb, &err) != JWT_OK)
		jwt_raise(&err);
	if (claims_jsonb != NULL)
		PG_RETURN_JSONB_P(claims_jsonb);
	return json_text_to_jsonb(tok.payload, tok.payload_len);
}

/* jwt_verify(token text, key text, ...) RETURNS jsonb */
PG_FUNCTION_INFO_V1(jwt_verify_text);
Datum
jwt_verify_text(PG_FUNCTION_ARGS)
{
	return jwt_verify_common(fcinfo, false);
}

/* jwt_verify(token text, key bytea, ...) RETURNS jsonb */
PG_FUNCTION_INFO_V1(jwt_verify_bytea);
Datum
jwt_verify_bytea(PG_FUNCTION_ARGS)
{
	return jwt_verify_common(fcinfo, true);
}

static Datum
jwt_is_valid_common(FunctionCallInfo fcinfo, bool is_secret)
{
	JwsToken	tok;
	JsonDoc		claims;
	JwtError	err;
	JwtStatus	st;

	if (PG_ARGISNULL(ARG_TOKEN) || (is_secret && PG_ARGISNULL(ARG_KEY)))
		PG_RETURN_NULL();
	st = verify_token(fcinfo, is_secret, true, &tok, &claims, NULL, &err);
	if (st != JWT_OK && !jwt_status_is_token_failure(st))
		jwt_raise(&err);
	PG_RETURN_BOOL(st == JWT_OK);
}

/* jwt_is_valid(token text, key text, ...) RETURNS boolean */
PG_FUNCTION_INFO_V1(jwt_is_valid_text);
Datum
jwt_is_valid_text(PG_FUNCTION_ARGS)
{
	return jwt_is_valid_common(fcinfo, false);
}

/* jwt_is_valid(token text, key bytea, ...) RETURNS boolean */
PG_FUNCTION_INFO_V1(jwt_is_valid_bytea);
Datum
jwt_is_valid_bytea(PG_FUNCTION_ARGS)
{
	return jwt_is_valid_common(fcinfo, true);
}

static Datum
jws_verify_common(FunctionCallInfo fcinfo, bool is_secret)
{
	JwsToken	tok;
	JwtError	err;
	bytea	   *result;

	if (PG_ARGISNULL(ARG_TOKEN) || (is_secret && PG_ARGISNULL(ARG_KEY)))
		PG_RETURN_NULL();
	if (verify_token(fcinfo, is_secret, false, &tok, NULL, NULL, &err) != JWT_OK)
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

	values[0] = json_text_to_jsonb(tok.header_json, tok.header_len);
	values[1] = json_text_to_jsonb(tok.payload, tok.payload_len);
	sig = palloc(VARHDRSZ + tok.sig_len);
	SET_VARSIZE(sig, VARHDRSZ + tok.sig_len);
	memcpy(VARDATA(sig), tok.sig, tok.sig_len);
	values[2] = PointerGetDatum(sig);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/* ---------- keyring administration (called by the SQL functions) ---------- */

/*
 * The key-encryption key (64 hex digits), or NULL when none is set; raises if
 * it is malformed.  "file:PATH" reads it from a file, which keeps the key out
 * of the server log: PostgreSQL logs the new value of a setting changed by a
 * reload.
 */
const char *
jwt_kek(void)
{
	static char kek[65];
	const char *value = jwt_key_encryption_key;

	if (value == NULL || value[0] == '\0')
		return NULL;

	/*
	 * Until the library is loaded a setting from the configuration files is a
	 * placeholder that any role can SHOW; only preloading hides it from the start.
	 */
	if (!jwt_preloaded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("jwt.key_encryption_key needs jwt in shared_preload_libraries"),
				 errdetail("Otherwise sessions that have not loaded jwt show the setting to every role.")));
	if (strncmp(value, "file:", 5) == 0)
	{
		FILE	   *f = AllocateFile(value + 5, "r");
		char		buf[256];
		size_t		n,
					got;
		bool		failed,
					junk;

		if (f == NULL)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open the jwt key-encryption key file \"%s\": %m", value + 5)));
		/* the whole file: the key and trailing whitespace, nothing else */
		n = 0;
		junk = false;
		while (!junk && (got = fread(buf, 1, sizeof(buf), f)) > 0)
		{
			for (size_t i = 0; i < got && !junk; i++, n++)
			{
				if (n < 64)
					kek[n] = buf[i];
				else
					junk = !isspace((unsigned char) buf[i]);
			}
		}
		failed = ferror(f) != 0;
		FreeFile(f);
		explicit_bzero(buf, sizeof(buf));
		if (failed)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read the jwt key-encryption key file \"%s\"", value + 5)));
		/* a short file, or a NUL or a space among the 64 bytes, fails the hex check */
		kek[n >= 64 && !junk ? 64 : 0] = '\0';
		if (!envelope_kek_valid(kek))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("jwt.key_encryption_key must be 64 hexadecimal digits, or file: and the path of a file holding them"),
					 errdetail("The file \"%s\" holds something else: only whitespace may follow the key.",
							   value + 5)));
		value = kek;
	}
	if (!envelope_kek_valid(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("jwt.key_encryption_key must be 64 hexadecimal digits, or file: and the path of a file holding them")));
	return value;
}

static bytea *
bytes_to_bytea(const void *data, size_t len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), data, len);
	return b;
}

/*
 * Fill the describe row for a parsed key.  With natts 6 the row carries the
 * created_at the material is sealed for (the caller inserts it); the 0.1.0
 * SQL has 5 columns, and gets a kid-bound (version 1) envelope.
 */
static void
describe_key(FunctionCallInfo fcinfo, JwtKey *key, Datum *values, bool *nulls, int natts)
{
	TimestampTz created_at = GetCurrentTimestamp();
	JwtAlg		alg = key->jwk_alg;
	JwtError	err;

	if (!PG_ARGISNULL(2))
	{
		alg = algorithm_argument(PG_GETARG_TEXT_PP(2));
		if (jwt_key_check_alg(key, alg, &err) != JWT_OK)
		{
			err.status = JWT_ERR_KEY;
			jwt_raise(&err);
		}
	}
	if (!PG_ARGISNULL(3))
		values[0] = PointerGetDatum(PG_GETARG_TEXT_PP(3));
	else if (key->kid != NULL)
		values[0] = CStringGetTextDatum(key->kid);
	else if (key->type == JWT_KEY_HMAC)
		values[0] = CStringGetTextDatum(jwt_key_random_kid());	/* a thumbprint is a hash of the secret */
	else
		values[0] = CStringGetTextDatum(jwt_key_thumbprint(key));
	nulls[1] = alg == JWT_ALG_NONE;
	values[1] = nulls[1] ? (Datum) 0 : CStringGetTextDatum(jwt_alg_name(alg));
	values[2] = CStringGetTextDatum(jwt_key_type_name(key));
	nulls[3] = key->type == JWT_KEY_HMAC;
	if (!nulls[3])
		values[3] = DirectFunctionCall1(jsonb_in, CStringGetDatum(jwt_key_canonical_jwk(key)));
	nulls[4] = !key->has_private;
	if (key->has_private)
	{
		char	   *plain = key->type == JWT_KEY_HMAC ? (char *) key->secret : jwt_key_private_pem(key);
		size_t		len = key->type == JWT_KEY_HMAC ? (size_t) key->secret_len : strlen(plain);
		const char *kek = jwt_kek();

		if (kek != NULL)
		{
			EnvelopeRow row = {TextDatumGetCString(values[0]),
				nulls[1] ? NULL : jwt_alg_name(alg), jwt_key_type_name(key), created_at};
			size_t		sealed_len;
			char	   *sealed = natts >= 6
				? envelope_seal(kek, &row, plain, len, &sealed_len)
				: envelope_seal_v1(kek, row.kid, plain, len, &sealed_len);

			values[4] = PointerGetDatum(bytes_to_bytea(sealed, sealed_len));
		}
		else
			values[4] = PointerGetDatum(bytes_to_bytea(plain, len));
		if (key->type != JWT_KEY_HMAC)
			memset(plain, 0, len);
	}
	if (natts >= 6)
		values[5] = TimestampTzGetDatum(created_at);
}

/*
 * jwt_key_describe_internal(material bytea, is_secret boolean, alg text, kid text,
 *     OUT kid text, OUT alg text, OUT kty text, OUT public_jwk jsonb, OUT private_key bytea)
 * One key, parsed and checked, as a jwt_keys row.  Not for PUBLIC: it
 * returns private material.
 */
PG_FUNCTION_INFO_V1(jwt_key_describe_internal);
Datum
jwt_key_describe_internal(PG_FUNCTION_ARGS)
{
	bytea	   *material;
	bool		is_secret;
	JwtKeySet	set;
	JwtError	err;
	JwtStatus	st;
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key material must not be null")));
	material = PG_GETARG_BYTEA_PP(0);
	is_secret = PG_GETARG_BOOL(1);
	memset(&set, 0, sizeof(set));
	PG_TRY();
	{
		st = jwt_keyset_parse(VARDATA_ANY(material), VARSIZE_ANY_EXHDR(material), is_secret,
							  CurrentMemoryContext, &set, &err);
		if (st != JWT_OK)
			jwt_raise(&err);
		if (set.is_jwks)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a key set cannot be added as one key"),
					 errhint("Use jwt_import_jwks() for a JWKS.")));
		/* the keyring verifies with every key and signs with its private ones */
		if ((set.keys[0].key_ops & JWT_KEYOP_LISTED) &&
			(!(set.keys[0].key_ops & JWT_KEYOP_VERIFY) ||
			 (set.keys[0].has_private && !(set.keys[0].key_ops & JWT_KEYOP_SIGN))))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a keyring key must allow \"verify\", and \"sign\" when it is private"),
					 errdetail("The JWK's \"key_ops\" limits it to fewer operations than the keyring uses it for.")));
		describe_key(fcinfo, &set.keys[0], values, nulls, Min(tupdesc->natts, 6));
	}
	PG_FINALLY();
	{
		jwt_keyset_free(&set);
	}
	PG_END_TRY();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/*
 * jwt_key_generate_internal(alg text) RETURNS bytea
 * New key material for alg: PKCS#8 PEM, or an HMAC secret.  Not for PUBLIC.
 */
PG_FUNCTION_INFO_V1(jwt_key_generate_internal);
Datum
jwt_key_generate_internal(PG_FUNCTION_ARGS)
{
	JwtAlg		alg = algorithm_argument(PG_GETARG_TEXT_PP(0));
	char	   *pem;
	unsigned char *secret;
	int			secret_len;
	bytea	   *out;

	jwt_key_generate(alg, &pem, &secret, &secret_len);
	if (pem != NULL)
	{
		out = bytes_to_bytea(pem, strlen(pem));
		memset(pem, 0, strlen(pem));
	}
	else
	{
		out = bytes_to_bytea(secret, secret_len);
		memset(secret, 0, secret_len);
	}
	PG_RETURN_BYTEA_P(out);
}

/* ---------- revocation and identity ---------- */

/* jwt_is_revoked(token text) RETURNS boolean: by its jti or its subject's cut-off, signature unchecked */
PG_FUNCTION_INFO_V1(jwt_is_revoked);
Datum
jwt_is_revoked(PG_FUNCTION_ARGS)
{
	text	   *token = PG_GETARG_TEXT_PP(0);
	JwsToken	tok;
	JsonDoc		claims;
	JwtError	err;
	JsonStrictResult jr;
	JwtStatus	st;

	if (jws_parse(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token),
				  (size_t) jwt_max_token_length, &tok, &err) != JWT_OK)
		jwt_raise(&err);
	if ((jr = json_strict_parse(tok.payload, tok.payload_len, &claims)) != JSON_STRICT_OK)
	{
		jwt_claims_parse_failure(jr, &claims, &err);
		jwt_raise(&err);
	}
	st = jwt_check_revocation(&claims, tok.payload, tok.payload_len, &err);
	/* a jti or sub too long to be revoked is not "not revoked" */
	if (st != JWT_OK && st != JWT_ERR_REVOKED)
		jwt_raise(&err);
	PG_RETURN_BOOL(st == JWT_ERR_REVOKED);
}

/*
 * A token refused for its transport has been seen in clear: revoke it, by
 * jti or else by digest, if it is one of ours (its signature verifies:
 * a forged token revokes nothing and so cannot fill the list).
 */
static bool
revoke_exposed_token(void *arg)
{
	VerifyRequest quiet = *(VerifyRequest *) arg;
	JwsToken	tok;
	JsonDoc		claims;
	JwtError	err;
	const JsonMember *jti,
			   *exp;

	quiet.check_revoked = true;	/* revoked already: nothing to do, and no worker to start */
	if (verify_request(&quiet, &tok, &claims, &err) != JWT_OK)
		return false;
	jti = json_doc_get(&claims, "jti");
	exp = json_doc_get(&claims, "exp");
	/* an empty jti cannot be revoked (jwt_revoke_jti refuses it): say so, start nothing */
	if (jti != NULL && jti->value.kind == JK_STRING && jti->value.len == 0)
		return false;
	return jwt_transport_revoke_exposed(jti != NULL && jti->value.kind == JK_STRING
										? utf8_to_server_cstring(jti->value.str)
										: jwt_revocation_digest_id(tok.payload, tok.payload_len),
										exp != NULL && exp->value.kind == JK_NUMBER
										? json_number_double(&exp->value) : -1);
}

/* "Bearer <token>" or a bare token, without surrounding white space. */
static text *
bearer_token(text *arg)
{
	char	   *s = text_to_cstring(arg);
	char	   *end;

	while (isspace((unsigned char) *s))
		s++;
	if (pg_strncasecmp(s, "bearer", 6) == 0 && isspace((unsigned char) s[6]))
	{
		s += 6;
		while (isspace((unsigned char) *s))
			s++;
	}
	end = s + strlen(s);
	while (end > s && isspace((unsigned char) end[-1]))
		end--;
	return cstring_to_text_with_len(s, end - s);
}

/*
 * jwt_authenticate(token text) RETURNS jsonb
 * Verify with the keyring, the policy settings and revocation, then make the
 * claims the identity that jwt_claims() returns (and switch role when
 * jwt.role_claim names a claim).
 */
/* What jwt_authenticate() verifies a bearer token against: the keyring and the settings. */
static void
authentication_request(VerifyRequest *req, text *arg)
{
	memset(req, 0, sizeof(*req));
	req->token = bearer_token(arg);
	req->is_jwt = true;
	req->check_revoked = true;
	req->rules.now = unix_seconds(GetCurrentStatementStartTimestamp());
	req->rules.leeway = jwt_leeway;
	req->rules.require_exp = jwt_require_exp;
	req->rules.audience = jwt_audience[0] ? server_cstring_to_utf8(jwt_audience, "jwt.audience") : NULL;
	req->rules.issuer = jwt_issuer[0] ? server_cstring_to_utf8(jwt_issuer, "jwt.issuer") : NULL;
	req->rules.max_age = -1;
	req->rules.max_lifetime = jwt_max_lifetime;
}

PG_FUNCTION_INFO_V1(jwt_authenticate);
Datum
jwt_authenticate(PG_FUNCTION_ARGS)
{
	VerifyRequest req;
	JwsToken	tok;
	JsonDoc		claims;
	JwtError	err;
	Datum		result;
	const char *role = NULL;
	const char *role_claim = jwt_identity_role_claim();

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(MAKE_SQLSTATE('2', '2', 'J', '0', '1')),
				 errmsg("no token to authenticate")));
	authentication_request(&req, PG_GETARG_TEXT_PP(0));
	jwt_transport_check(revoke_exposed_token, &req);
	if (verify_request(&req, &tok, &claims, &err) != JWT_OK)
		jwt_raise(&err);

	if (role_claim != NULL)
	{
		const JsonMember *m = json_doc_get(&claims, server_cstring_to_utf8(role_claim, "jwt.role_claim"));

		if (m == NULL || m->value.kind != JK_STRING)
			ereport(ERROR,
					(errcode(MAKE_SQLSTATE('2', '8', 'J', '0', '8')),
					 errmsg("token has no claim naming a role"),
					 errdetail("jwt.role_claim names the claim \"%s\".", role_claim)));
		role = utf8_to_server_cstring(m->value.str);
	}
	result = json_text_to_jsonb(tok.payload, tok.payload_len);
	jwt_identity_set(JsonbToCString(NULL, &DatumGetJsonbP(result)->root, VARSIZE(DatumGetJsonbP(result))), role);
	PG_RETURN_DATUM(result);
}

/*
 * _jwt_revoke_exposed(token text) RETURNS boolean: the PostgREST helper's
 * way to revoke a token that came over plain HTTP, when
 * jwt.revoke_exposed_tokens is on; true if it revoked the token.
 */
PG_FUNCTION_INFO_V1(jwt_revoke_exposed);
Datum
jwt_revoke_exposed(PG_FUNCTION_ARGS)
{
	VerifyRequest req;

	if (PG_ARGISNULL(0) || !jwt_transport_revoke_exposed_enabled())
		PG_RETURN_BOOL(false);
	authentication_request(&req, PG_GETARG_TEXT_PP(0));
	PG_RETURN_BOOL(revoke_exposed_token(&req));
}

/* jwt_reset() RETURNS void: forget the identity (and nothing else) */
PG_FUNCTION_INFO_V1(jwt_reset);
Datum
jwt_reset(PG_FUNCTION_ARGS)
{
	jwt_identity_reset();
	PG_RETURN_VOID();
}

/* jwt_claims() RETURNS jsonb: the verified claims, or NULL when not authenticated */
PG_FUNCTION_INFO_V1(jwt_claims);
Datum
jwt_claims(PG_FUNCTION_ARGS)
{
	Jsonb	   *claims = jwt_identity_claims();

	if (claims == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P((Jsonb *) PG_DETOAST_DATUM_COPY(PointerGetDatum(claims)));
}

/* The claim called name, or NULL when unauthenticated or absent (or JSON null). */
static JsonbValue *
claim_value(text *name)
{
	Jsonb	   *claims = jwt_identity_claims();
	JsonbValue *v;

	if (claims == NULL)
		return NULL;
	v = getKeyJsonValueFromContainer(&claims->root, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name), NULL);
	return (v == NULL || v->type == jbvNull) ? NULL : v;
}

static void
claim_type_error(text *name, const char *type)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("claim \"%s\" is not %s", text_to_cstring(name), type)));
}

/* A claim as text: strings as they are, other values as JSON text. */
static Datum
claim_text(JsonbValue *v)
{
	StringInfoData buf;

	switch (v->type)
	{
		case jbvString:
			return PointerGetDatum(cstring_to_text_with_len(v->val.string.val, v->val.string.len));
		case jbvNumeric:
			return PointerGetDatum(cstring_to_text(DatumGetCString(DirectFunctionCall1(numeric_out,
																					   NumericGetDatum(v->val.numeric)))));
		case jbvBool:
			return PointerGetDatum(cstring_to_text(v->val.boolean ? "true" : "false"));
		default:
			initStringInfo(&buf);
			jsonb_append_compact(&buf, v->val.binary.data);
			return PointerGetDatum(cstring_to_text_with_len(buf.data, buf.len));
	}
}

/*
 * One call site's last answer.  A policy evaluates jwt_claim('sub') once per
 * row with the same name and the same identity, so the answer is kept in the
 * call site's fn_extra until the identity changes: per row it then costs a
 * comparison, not a lookup and a copy.
 */
typedef struct ClaimCallCache
{
	uint64		version;
	text	   *name;
	bool		isnull;
	Datum		value;
} ClaimCallCache;

/* jwt_claim(name text) RETURNS text */
PG_FUNCTION_INFO_V1(jwt_claim);
Datum
jwt_claim(PG_FUNCTION_ARGS)
{
	text	   *name = PG_GETARG_TEXT_PP(0);
	ClaimCallCache *cache = (ClaimCallCache *) fcinfo->flinfo->fn_extra;
	uint64		version = jwt_identity_version();
	JsonbValue *v;
	MemoryContext old;

	if (cache != NULL && version != 0 && cache->version == version &&
		VARSIZE_ANY_EXHDR(cache->name) == VARSIZE_ANY_EXHDR(name) &&
		memcmp(VARDATA_ANY(cache->name), VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name)) == 0)
	{
		if (cache->isnull)
			PG_RETURN_NULL();
		/* callers do not modify their arguments or results in place */
		return cache->value;
	}

	v = claim_value(name);
	if (version == 0)
	{
		if (v == NULL)
			PG_RETURN_NULL();
		return claim_text(v);
	}
	/* an older answer is not freed: an earlier row's result may still point at it */
	if (cache == NULL)
		cache = fcinfo->flinfo->fn_extra =
			MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ClaimCallCache));
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	cache->name = (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(name));
	cache->isnull = v == NULL;
	cache->value = v == NULL ? (Datum) 0 : claim_text(v);
	cache->version = version;
	MemoryContextSwitchTo(old);
	if (cache->isnull)
		PG_RETURN_NULL();
	return cache->value;
}

/* jwt_claim_uuid(name text) RETURNS uuid: a string claim that is a UUID */
PG_FUNCTION_INFO_V1(jwt_claim_uuid);
Datum
jwt_claim_uuid(PG_FUNCTION_ARGS)
{
	JsonbValue *v = claim_value(PG_GETARG_TEXT_PP(0));

	if (v == NULL)
		PG_RETURN_NULL();
	if (v->type != jbvString)
		claim_type_error(PG_GETARG_TEXT_PP(0), "a string holding a UUID");
	return DirectFunctionCall1(uuid_in, CStringGetDatum(pnstrdup(v->val.string.val, v->val.string.len)));
}

/* jwt_claim_bigint(name text) RETURNS bigint: a number claim that is an integer */
PG_FUNCTION_INFO_V1(jwt_claim_bigint);
Datum
jwt_claim_bigint(PG_FUNCTION_ARGS)
{
	JsonbValue *v = claim_value(PG_GETARG_TEXT_PP(0));
	char	   *digits;

	if (v == NULL)
		PG_RETURN_NULL();
	if (v->type != jbvNumeric)
		claim_type_error(PG_GETARG_TEXT_PP(0), "a number");
	/* int8in refuses fractions and out-of-range values rather than rounding */
	digits = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	return DirectFunctionCall1(int8in, CStringGetDatum(digits));
}

/* jwt_claim_boolean(name text) RETURNS boolean: a true or false claim */
PG_FUNCTION_INFO_V1(jwt_claim_boolean);
Datum
jwt_claim_boolean(PG_FUNCTION_ARGS)
{
	JsonbValue *v = claim_value(PG_GETARG_TEXT_PP(0));

	if (v == NULL)
		PG_RETURN_NULL();
	if (v->type != jbvBool)
		claim_type_error(PG_GETARG_TEXT_PP(0), "a boolean");
	PG_RETURN_BOOL(v->val.boolean);
}

/* jwt_claim_array(name text) RETURNS text[]: an array claim of strings (e.g. roles, groups) */
PG_FUNCTION_INFO_V1(jwt_claim_array);
Datum
jwt_claim_array(PG_FUNCTION_ARGS)
{
	JsonbValue *v = claim_value(PG_GETARG_TEXT_PP(0));
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken r;
	ArrayBuildState *astate = NULL;

	if (v == NULL)
		PG_RETURN_NULL();
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		claim_type_error(PG_GETARG_TEXT_PP(0), "an array of strings");
	astate = initArrayResult(TEXTOID, CurrentMemoryContext, false);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((r = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		if (r != WJB_ELEM)
			continue;
		if (elem.type != jbvString)
			claim_type_error(PG_GETARG_TEXT_PP(0), "an array of strings");
		astate = accumArrayResult(astate,
								  PointerGetDatum(cstring_to_text_with_len(elem.val.string.val, elem.val.string.len)),
								  false, TEXTOID, CurrentMemoryContext);
	}
	PG_RETURN_DATUM(makeArrayResult(astate, CurrentMemoryContext));
}
