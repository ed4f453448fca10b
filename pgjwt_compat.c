/*
 * pgjwt_compat.c - the SQL-callable layer of the pgjwt drop-in
 *
 * The extension pgjwt (pgjwt.control, pgjwt--0.2.0.sql) offers pgjwt 0.2.0's
 * functions with its signatures, defaults, results and errors, over the core:
 * HMAC through crypto.c (keys from src/pgjwt.c), base64url from b64url.c.
 *
 * pgjwt's results come from PostgreSQL's own functions: decode(..., 'base64'),
 * convert_from(), the json type, ->>, the float cast, to_timestamp() and
 * tstzrange.  The fast paths below take the inputs whose result they know for
 * certain (canonical base64url, valid UTF-8, JSON that the parser accepts);
 * anything else goes to those very functions, so that results and error
 * messages are theirs by construction.
 *
 * verify() is a SQL function whose body has the shape of pgjwt's, over four
 * functions of this file with the volatility of the builtins they stand for
 * (pgjwt--0.2.0.sql says why).  Two small memos let the columns of one token
 * share the work of parsing its header and payload.
 *
 * With jwt.pgjwt_strict on (superuser-only), the core's rules apply on top:
 * HMAC secrets at least as long as the hash, NumericDate claims, exp required.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rangetypes.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#if PG_VERSION_NUM >= 160000
#include "nodes/miscnodes.h"
#endif

#include "b64url.h"
#include "crypto.h"
#include "json_strict.h"
#include "pgjwt.h"
#include "pgjwt_compat.h"

PG_FUNCTION_INFO_V1(pgjwt_url_encode);
PG_FUNCTION_INFO_V1(pgjwt_url_decode);
PG_FUNCTION_INFO_V1(pgjwt_algorithm_sign);
PG_FUNCTION_INFO_V1(pgjwt_sign);
PG_FUNCTION_INFO_V1(pgjwt_try_cast_double);
PG_FUNCTION_INFO_V1(pgjwt_url_decode_part);
PG_FUNCTION_INFO_V1(pgjwt_header_json);
PG_FUNCTION_INFO_V1(pgjwt_payload_json);
PG_FUNCTION_INFO_V1(pgjwt_signature_ok);
PG_FUNCTION_INFO_V1(pgjwt_times_ok);

/* The largest HMAC (SHA-512). */
#define HMAC_MAX_LEN 64

/* Header and payload parts longer than this are not memoized. */
#define MEMO_MAX_PART 8192

static bool pgjwt_strict = false;

void
pgjwt_compat_init(void)
{
	/* superuser-only, as every policy setting: a session cannot relax it */
	DefineCustomBoolVariable("jwt.pgjwt_strict",
							 "The pgjwt compatibility functions apply the core's rules: HMAC secrets "
							 "at least as long as the hash, NumericDate claims, exp required.",
							 NULL, &pgjwt_strict, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);
}

/* ---------- errors ---------- */

/*
 * A core failure as an error: token failures (token_failure) with the core's
 * SQLSTATE, the caller's input 22023, an OpenSSL failure XX000.
 */
static void
raise_failure(const JwtError *err, bool token_failure)
{
	if (token_failure || err->status == JWT_ERR_INTERNAL)
		jwt_raise(err);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s", err->message),
			 err->detail[0] ? errdetail("%s", err->detail) : 0));
}

/* ---------- algorithm, key, signature ---------- */

/*
 * pgjwt maps exactly HS256, HS384 and HS512 to a digest; anything else
 * (NULL too) becomes the empty digest name, which pgcrypto's hmac() refuses
 * with this error.
 */
static JwtAlg
hmac_algorithm(FunctionCallInfo fcinfo, int argno)
{
	if (!PG_ARGISNULL(argno))
	{
		text	   *name = PG_GETARG_TEXT_PP(argno);
		JwtAlg		alg = jwt_alg_from_name(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));

		if (alg == JWT_ALG_HS256 || alg == JWT_ALG_HS384 || alg == JWT_ALG_HS512)
			return alg;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("Cannot use \"\": No such hash algorithm")));
}

/* The HMAC key of a secret; in strict mode the core refuses one shorter than the hash. */
static JwtKey *
hmac_key(text *secret, JwtAlg alg)
{
	JwtKey	   *key = pgjwt_secret_key(VARDATA_ANY(secret), VARSIZE_ANY_EXHDR(secret));
	JwtError	err;

	if (pgjwt_strict && jwt_key_check_alg(key, alg, &err) != JWT_OK)
		raise_failure(&err, false);
	return key;
}

/* url_encode(hmac(input, secret, alg)) written at dst; returns its length. */
static int
encode_signature(JwtKey *key, JwtAlg alg, const char *input, size_t len, char *dst)
{
	unsigned char mac[HMAC_MAX_LEN];
	size_t		maclen;
	JwtError	err;

	if (jwt_signature_max_len(key) > HMAC_MAX_LEN)
		elog(ERROR, "unexpected HMAC length");
	if (jwt_sign_input(key, alg, input, len, mac, &maclen, &err) != JWT_OK)
		raise_failure(&err, false);
	return (int) b64url_encode(mac, maclen, dst);
}

/* ---------- tokens ---------- */

/*
 * regexp_split_to_array(token, '\.'), as far as a caller needs it: the first
 * `want` parts (at most 3), and the number of parts, counted up to want + 1
 * (count > want means "more than want").
 */
typedef struct TokenParts
{
	int			count;			/* 0 for a NULL token */
	const char *data[3];
	int			len[3];
} TokenParts;

static void
split_token(text *token, TokenParts *tp, int want)
{
	const char *p = VARDATA_ANY(token);
	const char *end = p + VARSIZE_ANY_EXHDR(token);

	Assert(want >= 1 && want <= 3);
	tp->count = 0;
	for (;;)
	{
		const char *dot = memchr(p, '.', end - p);
		const char *stop = dot != NULL ? dot : end;

		tp->data[tp->count] = p;
		tp->len[tp->count] = (int) (stop - p);
		tp->count++;
		if (dot == NULL)
			break;
		if (tp->count == want)
		{
			tp->count++;		/* there is at least one more */
			break;
		}
		p = dot + 1;
	}
}

/*
 * part 3 = algorithm_sign(part 1 || '.' || part 2, ...), which are texts.  An
 * equal text is the canonical base64url of the MAC: decode it strictly and
 * let the core compare in constant time.
 */
static bool
signature_matches(JwtKey *key, JwtAlg alg, const TokenParts *tp)
{
	unsigned char sig[HMAC_MAX_LEN];
	size_t		siglen;
	int			maclen = jwt_hmac_min_secret(alg);	/* the hash length */
	JwtError	err;
	JwtStatus	st;

	if (tp->len[2] != (int) B64URL_ENCODED_LEN(maclen) ||
		!b64url_decode(tp->data[2], tp->len[2], sig, &siglen))
		return false;
	st = jwt_verify_input(key, alg, tp->data[0], tp->len[0] + 1 + tp->len[1], sig, siglen, &err);
	if (st == JWT_ERR_SIGNATURE)
		return false;
	if (st != JWT_OK)
		raise_failure(&err, false);
	return true;
}

/* ---------- decode(), convert_from(), json ---------- */

/* decode(translate(s, '-_', '+/') || '=' padding to 4 characters, 'base64'), through that function. */
static bytea *
url_decode_builtin(const char *s, int len)
{
	int			nchars = pg_mbstrlen_with_len(s, len);
	int			pad = nchars % 4 ? 4 - nchars % 4 : 0;
	text	   *padded = palloc(VARHDRSZ + len + pad);
	char	   *p = VARDATA(padded);
	bytea	   *result;

	/* '-' and '_' are ASCII, which no server encoding uses inside a character */
	for (int i = 0; i < len; i++)
		p[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	memset(p + len, '=', pad);
	SET_VARSIZE(padded, VARHDRSZ + len + pad);
	result = DatumGetByteaPP(DirectFunctionCall2(binary_decode, PointerGetDatum(padded),
												 CStringGetTextDatum("base64")));
	pfree(padded);
	return result;
}

/* url_decode(): canonical base64url here, anything else through decode(). */
static bytea *
url_decode_bytes(const char *s, int len)
{
	bytea	   *out = palloc(VARHDRSZ + B64URL_DECODED_MAX(len));
	size_t		n;

	if (b64url_decode(s, len, (unsigned char *) VARDATA(out), &n))
	{
		SET_VARSIZE(out, VARHDRSZ + n);
		return out;
	}
	pfree(out);
	return url_decode_builtin(s, len);
}

/* convert_from(raw, 'utf8'): valid UTF-8 in a UTF-8 database is itself; the rest, the builtin. */
static text *
convert_from_utf8(bytea *raw)
{
	NameData	utf8;

	if (GetDatabaseEncoding() == PG_UTF8 &&
		pg_verify_mbstr(PG_UTF8, VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw), true))
		return (text *) raw;
	namestrcpy(&utf8, "utf8");
	return DatumGetTextPP(DirectFunctionCall2(pg_convert_from, PointerGetDatum(raw),
											  NameGetDatum(&utf8)));
}

/* convert_to(t, 'utf8'): the builtin, in a database that is not UTF-8. */
static text *
convert_to_utf8(text *t)
{
	NameData	utf8;

	namestrcpy(&utf8, "utf8");
	return DatumGetTextPP(DirectFunctionCall2(pg_convert_to, PointerGetDatum(t),
											  NameGetDatum(&utf8)));
}

/* t::json, through json_in. */
static text *
json_from_text(text *t)
{
	return DatumGetTextPP(DirectFunctionCall1(json_in, CStringGetDatum(text_to_cstring(t))));
}

/* json ->> name, through json_object_field_text; NULL when it gives NULL. */
static char *
json_field_text(text *json, const char *name)
{
	LOCAL_FCINFO(fcinfo, 2);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 2, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = PointerGetDatum(json);
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = CStringGetTextDatum(name);
	fcinfo->args[1].isnull = false;
	result = json_object_field_text(fcinfo);
	return fcinfo->isnull ? NULL : text_to_cstring(DatumGetTextPP(result));
}

/* try_cast_double(s): the float cast, NULL where it would raise. */
static bool
cast_double(char *s, double *result)
{
#if PG_VERSION_NUM >= 160000
	ErrorSaveContext escontext = {.type = T_ErrorSaveContext};

	*result = float8in_internal(s, NULL, "double precision", s, (Node *) &escontext);
	return !escontext.error_occurred;
#else
	bool		have_error = false;

	*result = float8in_internal_opt_error(s, NULL, "double precision", s, &have_error);
	return !have_error;
#endif
}

/*
 * to_timestamp(try_cast_double(s)): false for no bound; to_timestamp's own
 * errors.  Up to 15 decimal digits (a NumericDate as issuers write it) are an
 * integer below 2^53, which the float cast gives exactly: no need to ask it.
 */
static bool
field_timestamp(char *s, TimestampTz *ts)
{
	double		d = 0;
	int			i = 0;

	if (s == NULL)
		return false;
	while (i < 15 && s[i] >= '0' && s[i] <= '9')
		d = d * 10 + (s[i++] - '0');
	if ((i == 0 || s[i] != '\0') && !cast_double(s, &d))
		return false;
	*ts = DatumGetTimestampTz(DirectFunctionCall1(float8_timestamptz, Float8GetDatum(d)));
	return true;
}

/*
 * tstzrange(lo, hi) @> CURRENT_TIMESTAMP: [lo, hi) with NULL for no bound.
 * For lo > hi, tstzrange raises: build the range to get its very error.
 */
static bool
range_contains_now(bool has_lo, TimestampTz lo, bool has_hi, TimestampTz hi)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (has_lo && has_hi && lo > hi)
	{
		TypeCacheEntry *typcache = lookup_type_cache(TSTZRANGEOID, TYPECACHE_RANGE_INFO);
		RangeBound	lower = {.val = TimestampTzGetDatum(lo), .inclusive = true, .lower = true};
		RangeBound	upper = {.val = TimestampTzGetDatum(hi)};

#if PG_VERSION_NUM >= 160000
		(void) make_range(typcache, &lower, &upper, false, NULL);
#else
		(void) make_range(typcache, &lower, &upper, false);
#endif
		elog(ERROR, "tstzrange accepted a lower bound above its upper bound");
	}
	/* timestamps compare as integers, the infinities included; [lo, lo) is empty */
	return (!has_lo || lo <= now) && (!has_hi || now < hi);
}

/* ---------- the memos ---------- */

/*
 * The last header and the last payload decoded (their bytes), with their
 * json value and, once read, the payload's nbf and exp: the columns of one
 * token parse each part once.  Only successes are kept, and the result is a
 * function of the bytes alone.
 */
typedef struct PartMemo
{
	char	   *buf;			/* TopMemoryContext: what the fields below point to */
	Size		cap;
	bool		valid;
	char	   *bytes;
	int			len;
	text	   *json;
	bool		times_known;
	PgjwtField	nbf;
	PgjwtField	exp;
} PartMemo;

static PartMemo header_memo;
static PartMemo payload_memo;

static bool
memo_lookup(const PartMemo *m, const char *bytes, int len)
{
	return m->valid && m->len == len && memcmp(m->bytes, bytes, len) == 0;
}

/* Copy a field's text to *p (advanced past it). */
static void
memo_copy_field(char **p, PgjwtField *dst, const PgjwtField *src)
{
	*dst = *src;
	if (src->present)
	{
		dst->text = *p;
		memcpy(*p, src->text, src->len + 1);
		*p += src->len + 1;
	}
}

static void
memo_store(PartMemo *m, const char *bytes, int len, text *json,
		   const PgjwtField *nbf, const PgjwtField *exp)
{
	Size		jsonsize = VARSIZE_ANY(json);
	Size		need = MAXALIGN(jsonsize) + len + 2;
	char	   *p;

	if (len > MEMO_MAX_PART)
		return;
	if (nbf != NULL)
		need += (nbf->present ? nbf->len : 0) + (exp->present ? exp->len : 0);
	m->valid = false;
	if (m->cap < need)
	{
		/* forget the old buffer first: an out-of-memory error must not leave it dangling */
		char	   *old = m->buf;

		m->buf = NULL;
		m->cap = 0;
		if (old != NULL)
			pfree(old);
		m->buf = MemoryContextAlloc(TopMemoryContext, need);
		m->cap = need;
	}
	/* the json first: a varlena wants alignment */
	m->json = (text *) m->buf;
	memcpy(m->json, json, jsonsize);
	p = m->buf + MAXALIGN(jsonsize);
	m->bytes = p;
	memcpy(p, bytes, len);
	p += len;
	m->len = len;
	m->times_known = nbf != NULL;
	if (nbf != NULL)
	{
		memo_copy_field(&p, &m->nbf, nbf);
		memo_copy_field(&p, &m->exp, exp);
	}
	m->valid = true;
}

/* A part decoded: its json value and, when read, the payload's nbf and exp. */
typedef struct Part
{
	text	   *json;
	bool		times_known;
	PgjwtField	nbf;
	PgjwtField	exp;
} Part;

/* A field in the caller's memory. */
static void
field_dup(PgjwtField *dst, const PgjwtField *src)
{
	*dst = *src;
	if (src->present)
		dst->text = pstrdup(src->text);
}

/*
 * convert_from(raw, 'utf8')::json, errors included, in the caller's memory.
 * With read_times (the payload), the one parse that reads nbf and exp also
 * stands for json_in's; only in a UTF-8 database, where it cannot raise
 * (elsewhere ->> may raise conversion errors that the json type does not).
 */
static void
part_json(bytea *raw, PartMemo *memo, bool read_times, Part *out)
{
	const char *bytes = VARDATA_ANY(raw);
	int			len = VARSIZE_ANY_EXHDR(raw);
	text	   *t;

	if (memo_lookup(memo, bytes, len))
	{
		Size		size = VARSIZE_ANY(memo->json);

		out->json = palloc(size);
		memcpy(out->json, memo->json, size);
		out->times_known = memo->times_known;
		if (memo->times_known)
		{
			field_dup(&out->nbf, &memo->nbf);
			field_dup(&out->exp, &memo->exp);
		}
		return;
	}
	t = convert_from_utf8(raw);
	out->times_known = read_times && GetDatabaseEncoding() == PG_UTF8 &&
		pgjwt_read_times(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &out->nbf, &out->exp);
	out->json = out->times_known ? t : json_from_text(t);
	memo_store(memo, bytes, len, out->json,
			   out->times_known ? &out->nbf : NULL, out->times_known ? &out->exp : NULL);
}

/* ---------- url_encode, url_decode, algorithm_sign, sign, try_cast_double ---------- */

/* url_encode(data bytea) RETURNS text */
Datum
pgjwt_url_encode(PG_FUNCTION_ARGS)
{
	bytea	   *data;
	size_t		n;
	text	   *out;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	data = PG_GETARG_BYTEA_PP(0);
	n = VARSIZE_ANY_EXHDR(data);
	out = palloc(VARHDRSZ + B64URL_ENCODED_LEN(n));
	SET_VARSIZE(out, VARHDRSZ + b64url_encode((const unsigned char *) VARDATA_ANY(data), n,
											  VARDATA(out)));
	PG_FREE_IF_COPY(data, 0);
	PG_RETURN_TEXT_P(out);
}

/* url_decode(data text) RETURNS bytea */
Datum
pgjwt_url_decode(PG_FUNCTION_ARGS)
{
	text	   *data;
	bytea	   *out;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	data = PG_GETARG_TEXT_PP(0);
	out = url_decode_bytes(VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data));
	PG_FREE_IF_COPY(data, 0);
	PG_RETURN_BYTEA_P(out);
}

/* algorithm_sign(signables text, secret text, algorithm text) RETURNS text */
Datum
pgjwt_algorithm_sign(PG_FUNCTION_ARGS)
{
	text	   *signables;
	JwtAlg		alg;
	JwtKey	   *key;
	text	   *out;

	/* hmac() is strict: a NULL text or secret gives NULL before the digest is looked up */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	alg = hmac_algorithm(fcinfo, 2);
	key = hmac_key(PG_GETARG_TEXT_PP(1), alg);
	signables = PG_GETARG_TEXT_PP(0);
	out = palloc(VARHDRSZ + B64URL_ENCODED_LEN(HMAC_MAX_LEN));
	SET_VARSIZE(out, VARHDRSZ + encode_signature(key, alg, VARDATA_ANY(signables),
												 VARSIZE_ANY_EXHDR(signables), VARDATA(out)));
	PG_RETURN_TEXT_P(out);
}

/* Strict mode: the payload a JSON object with NumericDate claims (22023: the caller's input). */
static void
strict_check_payload(const char *payload, size_t len)
{
	JsonDoc		doc;
	JsonStrictResult jr = json_strict_parse(payload, len, &doc);
	JwtError	err;

	if (jr != JSON_STRICT_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token claims are not valid"),
				 errdetail("The claims must be a JSON object, but %s.", json_strict_result_text(jr))));
	if (pgjwt_check_numeric_dates(&doc, &err) != JWT_OK)
		raise_failure(&err, false);
}

/* sign(payload json, secret text, algorithm text DEFAULT 'HS256') RETURNS text */
Datum
pgjwt_sign(PG_FUNCTION_ARGS)
{
	static const char *const headers[] = {
		[JWT_ALG_HS256] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
		[JWT_ALG_HS384] = "{\"alg\":\"HS384\",\"typ\":\"JWT\"}",
		[JWT_ALG_HS512] = "{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
	};
	text	   *payload;
	JwtAlg		alg;
	JwtKey	   *key;
	const char *header;
	size_t		hlen,
				plen;
	text	   *out;
	char	   *p;

	/* a NULL anywhere makes the signing input or the secret NULL, and hmac() is strict */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	payload = PG_GETARG_TEXT_PP(0);

	/*
	 * Header and payload go to UTF-8 before the digest is looked up; only in
	 * another database encoding can that change (or refuse) anything.
	 */
	if (GetDatabaseEncoding() != PG_UTF8)
	{
		text	   *alg_text = PG_GETARG_TEXT_PP(2);
		StringInfoData h;

		initStringInfo(&h);
		appendStringInfoString(&h, "{\"alg\":\"");
		appendBinaryStringInfo(&h, VARDATA_ANY(alg_text), VARSIZE_ANY_EXHDR(alg_text));
		appendStringInfoString(&h, "\",\"typ\":\"JWT\"}");
		(void) convert_to_utf8(cstring_to_text_with_len(h.data, h.len));
		payload = convert_to_utf8(payload);
	}
	alg = hmac_algorithm(fcinfo, 2);
	key = hmac_key(PG_GETARG_TEXT_PP(1), alg);
	if (pgjwt_strict)
		strict_check_payload(VARDATA_ANY(payload), VARSIZE_ANY_EXHDR(payload));

	/* the header pgjwt builds, '{"alg":"' || algorithm || '","typ":"JWT"}', for a known algorithm */
	header = headers[alg];
	hlen = strlen(header);
	plen = VARSIZE_ANY_EXHDR(payload);
	out = palloc(VARHDRSZ + B64URL_ENCODED_LEN(hlen) + 1 + B64URL_ENCODED_LEN(plen) + 1 +
				 B64URL_ENCODED_LEN(HMAC_MAX_LEN));
	p = VARDATA(out);
	p += b64url_encode((const unsigned char *) header, hlen, p);
	*p++ = '.';
	p += b64url_encode((const unsigned char *) VARDATA_ANY(payload), plen, p);
	*p = '.';
	p += 1 + encode_signature(key, alg, VARDATA(out), p - VARDATA(out), p + 1);
	SET_VARSIZE(out, p - (char *) out);
	PG_RETURN_TEXT_P(out);
}

/* try_cast_double(inp text) RETURNS double precision */
Datum
pgjwt_try_cast_double(PG_FUNCTION_ARGS)
{
	double		d;

	if (PG_ARGISNULL(0) || !cast_double(text_to_cstring(PG_GETARG_TEXT_PP(0)), &d))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(d);
}

/* ---------- verify(): the functions of its body ---------- */

/*
 * The last decoding of parts 1 and 2: verify() decodes part 2 twice per token
 * (for the payload column and for the time check), and part 1 is the same in
 * most tokens.
 */
typedef struct DecodeMemo
{
	char	   *seg;			/* the part's text */
	int			seglen;			/* -1: nothing kept */
	Size		segcap;
	bytea	   *raw;			/* its decoding */
	Size		rawcap;
} DecodeMemo;

static DecodeMemo decode_memo[2] = {{.seglen = -1}, {.seglen = -1}};

/*
 * Grow a TopMemoryContext buffer to at least need bytes (its old content is
 * lost).  *buf and *cap never describe freed memory, even when the
 * allocation fails with an error.
 */
static void
memo_buffer(void **buf, Size *cap, Size need)
{
	void	   *old = *buf;

	if (*cap >= need)
		return;
	*buf = NULL;
	*cap = 0;
	if (old != NULL)
		pfree(old);
	*buf = MemoryContextAlloc(TopMemoryContext, need);
	*cap = need;
}

static void
decode_memo_store(DecodeMemo *m, const char *seg, int len, const bytea *raw)
{
	Size		rawsize = VARSIZE_ANY(raw);

	if (len > MEMO_MAX_PART)
		return;
	m->seglen = -1;				/* until both copies are made */
	memo_buffer((void **) &m->seg, &m->segcap, Max(len, 1));
	memo_buffer((void **) &m->raw, &m->rawcap, rawsize);
	memcpy(m->seg, seg, len);
	memcpy(m->raw, raw, rawsize);
	m->seglen = len;
}

/*
 * _url_decode_part(token text, n integer) RETURNS bytea, IMMUTABLE:
 * url_decode((regexp_split_to_array(token, '\.'))[n]); NULL without part n.
 */
Datum
pgjwt_url_decode_part(PG_FUNCTION_ARGS)
{
	TokenParts	tp;
	int32		n = PG_GETARG_INT32(1);
	DecodeMemo *m;
	const char *seg;
	int			len;
	bytea	   *raw;

	if (n < 1 || n > 3)
		PG_RETURN_NULL();
	split_token(PG_GETARG_TEXT_PP(0), &tp, n);
	if (n > tp.count)
		PG_RETURN_NULL();
	seg = tp.data[n - 1];
	len = tp.len[n - 1];
	m = n <= 2 ? &decode_memo[n - 1] : NULL;
	if (m != NULL && m->seglen == len && memcmp(m->seg, seg, len) == 0)
	{
		raw = palloc(VARSIZE_ANY(m->raw));
		memcpy(raw, m->raw, VARSIZE_ANY(m->raw));
		PG_RETURN_BYTEA_P(raw);
	}
	raw = url_decode_bytes(seg, len);
	if (m != NULL)
		decode_memo_store(m, seg, len, raw);
	PG_RETURN_BYTEA_P(raw);
}

/*
 * _header_json(part bytea) and _payload_json(part bytea) RETURNS json, STABLE
 * as convert_from(): convert_from(part, 'utf8')::json.  The same function for
 * parts 1 and 2, each with its memo; the payload's also reads nbf and exp,
 * for the valid column of the same token.
 */
Datum
pgjwt_header_json(PG_FUNCTION_ARGS)
{
	Part		part;

	part_json(PG_GETARG_BYTEA_PP(0), &header_memo, false, &part);
	PG_RETURN_TEXT_P(part.json);
}

Datum
pgjwt_payload_json(PG_FUNCTION_ARGS)
{
	Part		part;

	part_json(PG_GETARG_BYTEA_PP(0), &payload_memo, true, &part);
	PG_RETURN_TEXT_P(part.json);
}

/*
 * Strict mode: the algorithm and the secret are checked first, whatever the
 * token; a token without exactly three parts or with a wrong signature is not
 * valid: false, never NULL.
 */
static bool
strict_signature_ok(FunctionCallInfo fcinfo, const TokenParts *tp)
{
	JwtAlg		alg;
	JwtKey	   *key;

	if (PG_ARGISNULL(1))
		return false;
	alg = hmac_algorithm(fcinfo, 2);
	key = hmac_key(PG_GETARG_TEXT_PP(1), alg);
	return tp->count == 3 && signature_matches(key, alg, tp);
}

/*
 * _signature_ok(token text, secret text, algorithm text) RETURNS boolean,
 * IMMUTABLE: part 3 = algorithm_sign(part 1 || '.' || part 2, secret,
 * algorithm), compared in constant time.  NULL without a part 3; NULL without
 * a part 2 or a secret, and then the algorithm is not even looked at.
 */
Datum
pgjwt_signature_ok(PG_FUNCTION_ARGS)
{
	TokenParts	tp;
	JwtAlg		alg;
	JwtKey	   *key;

	tp.count = 0;
	/* parts 1 to 3; count 4 stands for "more than three" (strict mode refuses those) */
	if (!PG_ARGISNULL(0))
		split_token(PG_GETARG_TEXT_PP(0), &tp, 3);
	if (pgjwt_strict)
		PG_RETURN_BOOL(strict_signature_ok(fcinfo, &tp));
	if (tp.count < 2 || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	alg = hmac_algorithm(fcinfo, 2);
	key = hmac_key(PG_GETARG_TEXT_PP(1), alg);
	if (tp.count < 3)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(signature_matches(key, alg, &tp));
}

/*
 * Strict mode, reached only when the signature verified (verify's valid is
 * _signature_ok AND _times_ok): the claims must be a JSON object with
 * NumericDate exp, nbf and iat, and an exp, or this raises, with the core's
 * SQLSTATEs; that token was signed with the application's own secret, so the
 * error points at its issuer.
 */
static void
strict_check_claims(bytea *raw)
{
	JsonDoc		claims;
	JsonStrictResult jr;
	JwtError	err;

	jr = json_strict_parse(VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw), &claims);
	if (jr != JSON_STRICT_OK)
	{
		jwt_fail(&err, JWT_ERR_JSON, "token claims are not valid");
		jwt_fail_detail(&err, "The claims must be a JSON object, but %s.", json_strict_result_text(jr));
		raise_failure(&err, true);
	}
	if (pgjwt_check_numeric_dates(&claims, &err) != JWT_OK)
		raise_failure(&err, true);
	if (json_doc_get(&claims, "exp") == NULL)
	{
		jwt_fail(&err, JWT_ERR_MISSING_CLAIM, "token has no \"exp\" claim");
		jwt_fail_detail(&err, "With jwt.pgjwt_strict on, tokens must expire.");
		raise_failure(&err, true);
	}
}

/*
 * _times_ok(payload bytea) RETURNS boolean, STABLE (it reads the transaction
 * timestamp):
 *   tstzrange(to_timestamp(try_cast_double(convert_from(payload, 'utf8')::json ->> 'nbf')),
 *             to_timestamp(try_cast_double(convert_from(payload, 'utf8')::json ->> 'exp')))
 *   @> CURRENT_TIMESTAMP
 * Without a payload the range is unbounded: true.
 */
Datum
pgjwt_times_ok(PG_FUNCTION_ARGS)
{
	TimestampTz lo = 0,
				hi = 0;
	bool		has_lo = false,
				has_hi = false;
	bytea	   *raw;
	Part		payload;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(!pgjwt_strict);
	raw = PG_GETARG_BYTEA_PP(0);
	if (!pgjwt_strict && memo_lookup(&payload_memo, VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw)) &&
		payload_memo.times_known)
	{
		/* the payload column of this token read them */
		has_lo = field_timestamp(payload_memo.nbf.text, &lo);
		has_hi = field_timestamp(payload_memo.exp.text, &hi);
		PG_RETURN_BOOL(range_contains_now(has_lo, lo, has_hi, hi));
	}
	part_json(raw, &payload_memo, true, &payload);
	if (pgjwt_strict)
		strict_check_claims(raw);
	if (payload.times_known)
	{
		has_lo = field_timestamp(payload.nbf.text, &lo);
		has_hi = field_timestamp(payload.exp.text, &hi);
	}
	else
	{
		/* the parse refused it: ->> itself, which raises what it raises */
		has_lo = field_timestamp(json_field_text(payload.json, "nbf"), &lo);
		has_hi = field_timestamp(json_field_text(payload.json, "exp"), &hi);
	}
	PG_RETURN_BOOL(range_contains_now(has_lo, lo, has_hi, hi));
}
