/*
 * json_strict.c - strict JSON object parsing on PostgreSQL's JSON parser
 *
 * PostgreSQL's parser (common/jsonapi.h) is strict RFC 8259 and, with
 * need_escapes, refuses \u0000 and lone surrogates.  What it does not do, and
 * a token parser must: refuse invalid UTF-8, duplicate member names at any
 * level (also when spelled with escapes, since names are compared de-escaped),
 * non-object documents and deep nesting.  The callbacks below add those and
 * collect the top-level members, which is all the header and claim rules read.
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#ifndef FRONTEND
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#endif

#include "json_strict.h"

/* Callback signatures changed in PostgreSQL 16: they now return a status. */
#if PG_VERSION_NUM >= 160000
#define JSON_CB_TYPE JsonParseErrorType
#define JSON_CB_OK return JSON_SUCCESS
#define JSON_CB_FAIL(st, r) do { (st)->result = (r); return JSON_SEM_ACTION_FAILED; } while (0)
#else
#define JSON_CB_TYPE void
#define JSON_CB_OK return
#define JSON_CB_FAIL(st, r) do { if ((st)->result == JSON_STRICT_OK) (st)->result = (r); return; } while (0)
#endif

/*
 * Before PostgreSQL 16 a callback cannot stop the parser: after a failure
 * the remaining callbacks must do nothing.
 */
#define JSON_CB_SKIP_AFTER_FAILURE(st) do { if ((st)->result != JSON_STRICT_OK) JSON_CB_OK; } while (0)

typedef struct KeyFrame
{
	int			nkeys;
	int			maxkeys;
	const char **keys;
} KeyFrame;

typedef struct ParseState
{
	JsonLexContext *lex;
	JsonDoc    *doc;
	int			maxmembers;
	int			maxelems;		/* capacity of the current member's elems */
	int			depth;			/* containers open around the parser */
	bool		in_array[JSON_STRICT_MAX_DEPTH + 2];
	KeyFrame	frames[JSON_STRICT_MAX_DEPTH + 2];
	JsonValue  *open_value;		/* depth-2 or depth-3 container being spanned */
	JsonStrictResult result;
#ifndef FRONTEND
	bool		build_jsonb;	/* also build the document as jsonb */
	JsonbParseState *jb_state;
	JsonbValue *jb_result;
#endif
} ParseState;

/* The member whose value is being parsed at the top level. */
static inline JsonMember *
current_member(ParseState *st)
{
	return &st->doc->members[st->doc->nmembers - 1];
}

static inline bool
in_top_level_array(ParseState *st)
{
	return st->depth == 2 && st->in_array[2];
}

static JsonValue *
append_element(ParseState *st)
{
	JsonValue  *arr = &current_member(st)->value;

	if (arr->nelems == st->maxelems)
	{
		st->maxelems = st->maxelems ? st->maxelems * 2 : 4;
		arr->elems = arr->elems
			? repalloc(arr->elems, sizeof(JsonValue) * st->maxelems)
			: palloc(sizeof(JsonValue) * st->maxelems);
	}
	memset(&arr->elems[arr->nelems], 0, sizeof(JsonValue));
	return &arr->elems[arr->nelems++];
}

/*
 * A JSON number written as a plain integer of at most 18 digits, whose value
 * every int64 holds: NumericDates take this path instead of strtod/numeric_in.
 */
bool
json_number_as_int(const char *s, size_t len, int64_t *value)
{
	const char *p = s,
			   *end = s + len;
	bool		negative = false;
	int64_t		v = 0;

	if (p < end && *p == '-')
	{
		negative = true;
		p++;
	}
	if (p == end || end - p > 18)
		return false;
	for (; p < end; p++)
	{
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	*value = negative ? -v : v;
	return true;
}

/*
 * Whether numeric_in (and so jsonb) can hold a JSON number.  Checked on the
 * text, before anything converts it, so that an absurd number in a token is
 * refused as malformed claims (22J06) rather than by numeric's own 22003:
 * the exponent within +-1000 (PostgreSQL 13 and 14 refuse more), at most
 * 131,000 digits before the point and 16,383 after it, once the exponent
 * has moved it (numeric's weight and display-scale limits).  The text is a
 * valid RFC 8259 number.
 */
bool
json_number_in_range(const char *s, size_t len)
{
	const char *p = s,
			   *end = s + len;
	long		int_digits = 0,
				frac_digits = 0,
				exponent = 0;
	bool		leading = true;
	bool		exp_negative = false;

	if (p < end && *p == '-')
		p++;
	for (; p < end && *p >= '0' && *p <= '9'; p++)
	{
		/* leading zeros add no weight */
		if (leading && *p == '0')
			continue;
		leading = false;
		int_digits++;
	}
	if (p < end && *p == '.')
		for (p++; p < end && *p >= '0' && *p <= '9'; p++)
			frac_digits++;
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			exp_negative = *p++ == '-';
		for (; p < end && *p >= '0' && *p <= '9'; p++)
		{
			exponent = exponent * 10 + (*p - '0');
			if (exponent > 1000)
				return false;
		}
		if (exp_negative)
			exponent = -exponent;
	}
	return int_digits + exponent <= 131000 && frac_digits - exponent <= 16383;
}

static JsonKind
token_kind(JsonTokenType type)
{
	switch (type)
	{
		case JSON_TOKEN_STRING:
			return JK_STRING;
		case JSON_TOKEN_NUMBER:
			return JK_NUMBER;
		case JSON_TOKEN_TRUE:
			return JK_TRUE;
		case JSON_TOKEN_FALSE:
			return JK_FALSE;
		default:
			return JK_NULL;
	}
}

static void
set_scalar(JsonValue *v, char *token, JsonTokenType type)
{
	v->kind = token_kind(type);
	v->str = token;
	v->len = token ? strlen(token) : 0;
	v->is_int = v->kind == JK_NUMBER && json_number_as_int(v->str, v->len, &v->ival);
}

#ifndef FRONTEND
/*
 * The jsonb is built from the same parse, as jsonb_in would build it from a
 * second one: the claims are parsed once per verification.
 */
static void
jb_push(ParseState *st, JsonbIteratorToken tok, JsonbValue *v)
{
	st->jb_result = pushJsonbValue(&st->jb_state, tok, v);
}

/*
 * A JSON number as numeric, as numeric_in makes it.  Plain integers (the
 * NumericDates of every token) take a shorter path to the same value.
 */
static Numeric
json_number(const char *token, size_t len)
{
#if PG_VERSION_NUM >= 140000
	int64_t		ival;

	if (json_number_as_int(token, len, &ival))
		return int64_to_numeric(ival);
#else
	(void) len;
#endif
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(token),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/* A scalar as jsonb makes it; str is NUL-terminated. */
static void
jsonb_scalar(JsonbValue *v, JsonKind kind, const char *str, size_t len)
{
	switch (kind)
	{
		case JK_STRING:
			if (len > JENTRY_OFFLENMASK)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("string too long to represent as jsonb string")));
			v->type = jbvString;
			v->val.string.val = unconstify(char *, str);
			v->val.string.len = (int) len;
			break;
		case JK_NUMBER:
			v->type = jbvNumeric;
			v->val.numeric = json_number(str, len);
			break;
		case JK_TRUE:
		case JK_FALSE:
			v->type = jbvBool;
			v->val.boolean = kind == JK_TRUE;
			break;
		default:
			v->type = jbvNull;
			break;
	}
}

/* A value the fast path read, which knows its integers already. */
static void
jsonb_value(JsonbValue *v, const JsonValue *jv)
{
#if PG_VERSION_NUM >= 140000
	if (jv->kind == JK_NUMBER && jv->is_int)
	{
		v->type = jbvNumeric;
		v->val.numeric = int64_to_numeric(jv->ival);
		return;
	}
#endif
	jsonb_scalar(v, jv->kind, jv->str, jv->len);
}

static void
jb_scalar(ParseState *st, char *token, JsonTokenType type, bool is_key)
{
	JsonbValue	v;

	jsonb_scalar(&v, token_kind(type), token, token ? strlen(token) : 0);
	jb_push(st, is_key ? WJB_KEY : (st->in_array[st->depth] ? WJB_ELEM : WJB_VALUE), &v);
}
#define JB_PUSH(st, tok) do { if ((st)->build_jsonb) jb_push((st), (tok), NULL); } while (0)
#define JB_SCALAR(st, token, type, is_key) do { if ((st)->build_jsonb) jb_scalar((st), (token), (type), (is_key)); } while (0)
#else
#define JB_PUSH(st, tok) ((void) 0)
#define JB_SCALAR(st, token, type, is_key) ((void) 0)
#endif

static JSON_CB_TYPE
container_start(ParseState *st, bool is_array)
{
	JSON_CB_SKIP_AFTER_FAILURE(st);
	if (st->depth == 0 && is_array)
		JSON_CB_FAIL(st, JSON_STRICT_NOT_OBJECT);
	if (st->depth >= JSON_STRICT_MAX_DEPTH)
		JSON_CB_FAIL(st, JSON_STRICT_TOO_DEEP);
	JB_PUSH(st, is_array ? WJB_BEGIN_ARRAY : WJB_BEGIN_OBJECT);
	st->depth++;
	st->in_array[st->depth] = is_array;
	if (!is_array)
		st->frames[st->depth].nkeys = 0;

	/* Top-level member values and their array elements keep their span. */
	if (st->depth == 2)
	{
		JsonValue  *v = &current_member(st)->value;

		v->kind = is_array ? JK_ARRAY : JK_OBJECT;
		v->str = st->lex->token_start;
		st->open_value = v;
		st->maxelems = 0;
	}
	else if (st->depth == 3 && st->in_array[2])
	{
		JsonValue  *v = append_element(st);

		v->kind = is_array ? JK_ARRAY : JK_OBJECT;
		v->str = st->lex->token_start;
		st->open_value = v;
	}
	JSON_CB_OK;
}

static int
compare_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static JSON_CB_TYPE
container_end(ParseState *st)
{
	JSON_CB_SKIP_AFTER_FAILURE(st);
	if (!st->in_array[st->depth])
	{
		KeyFrame   *f = &st->frames[st->depth];

		/* Sorting makes duplicate detection O(n log n) even for huge objects. */
		if (f->nkeys > 1)
		{
			qsort(f->keys, f->nkeys, sizeof(char *), compare_keys);
			for (int i = 1; i < f->nkeys; i++)
				if (strcmp(f->keys[i - 1], f->keys[i]) == 0)
					JSON_CB_FAIL(st, JSON_STRICT_DUPLICATE);
		}
	}
	if (st->depth == 2 || (st->depth == 3 && st->in_array[2]))
	{
		JsonValue  *v = st->open_value;

		/* The closing bracket has been consumed: it ends at prev_token_terminator. */
		v->len = st->lex->prev_token_terminator - v->str;
		if (st->depth == 3)
			st->open_value = &current_member(st)->value;
	}
	JB_PUSH(st, st->in_array[st->depth] ? WJB_END_ARRAY : WJB_END_OBJECT);
	st->depth--;
	JSON_CB_OK;
}

static JSON_CB_TYPE
object_start_cb(void *state)
{
	return container_start((ParseState *) state, false);
}

static JSON_CB_TYPE
array_start_cb(void *state)
{
	return container_start((ParseState *) state, true);
}

static JSON_CB_TYPE
container_end_cb(void *state)
{
	return container_end((ParseState *) state);
}

static JSON_CB_TYPE
field_start_cb(void *state, char *fname, bool isnull)
{
	ParseState *st = (ParseState *) state;
	KeyFrame   *f;

	(void) isnull;
	JSON_CB_SKIP_AFTER_FAILURE(st);
	f = &st->frames[st->depth];
	if (f->nkeys == f->maxkeys)
	{
		f->maxkeys = f->maxkeys ? f->maxkeys * 2 : 8;
		f->keys = f->keys
			? repalloc(f->keys, sizeof(char *) * f->maxkeys)
			: palloc(sizeof(char *) * f->maxkeys);
	}
	f->keys[f->nkeys++] = fname;
	JB_SCALAR(st, fname, JSON_TOKEN_STRING, true);

	if (st->depth == 1)
	{
		JsonDoc    *doc = st->doc;

		if (doc->nmembers == st->maxmembers)
		{
			st->maxmembers = st->maxmembers ? st->maxmembers * 2 : 8;
			doc->members = doc->members
				? repalloc(doc->members, sizeof(JsonMember) * st->maxmembers)
				: palloc(sizeof(JsonMember) * st->maxmembers);
		}
		memset(&doc->members[doc->nmembers], 0, sizeof(JsonMember));
		doc->members[doc->nmembers].name = fname;
		doc->members[doc->nmembers++].name_len = strlen(fname);
	}
	JSON_CB_OK;
}

static JSON_CB_TYPE
scalar_cb(void *state, char *token, JsonTokenType type)
{
	ParseState *st = (ParseState *) state;

	JSON_CB_SKIP_AFTER_FAILURE(st);
	if (st->depth == 0)
		JSON_CB_FAIL(st, JSON_STRICT_NOT_OBJECT);
	if (type == JSON_TOKEN_NUMBER && !json_number_in_range(token, strlen(token)))
	{
		st->doc->out_of_range = current_member(st)->name;
		JSON_CB_FAIL(st, JSON_STRICT_NUMBER_RANGE);
	}
	if (st->depth == 1)
		set_scalar(&current_member(st)->value, token, type);
	else if (in_top_level_array(st))
		set_scalar(append_element(st), token, type);
	JB_SCALAR(st, token, type, false);
	JSON_CB_OK;
}

/*
 * Bound the nesting before PostgreSQL's recursive-descent parser sees the
 * text, so a token of '[' characters cannot exhaust the stack.
 */
static bool
nesting_within_limit(const char *text, size_t len)
{
	int			depth = 0;
	bool		in_string = false;

	for (size_t i = 0; i < len; i++)
	{
		char		c = text[i];

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if (c == '{' || c == '[')
		{
			if (++depth > JSON_STRICT_MAX_DEPTH)
				return false;
		}
		else if (c == '}' || c == ']')
			depth--;
	}
	return true;
}

/*
 * The fast path.  PostgreSQL 15's lexer copies strings a byte at a time and
 * calls back per token, which made up most of a claims parse.  Headers and
 * claims are nearly always flat objects: plain strings, numbers and literals,
 * and arrays of them ("aud").  The scanner below reads exactly those and
 * gives up (returns false) at anything else: an escape, a control character,
 * a nested object or array, a duplicate name, more than FLAT_MAX_MEMBERS
 * members, or anything that is not valid JSON.  PostgreSQL's parser then
 * decides, so the scanner only ever accepts a document the full parser
 * accepts, and produces the same members (fuzz/fuzz_json.c compares them).
 * The text has passed the UTF-8 check before either runs.
 */
#define FLAT_MAX_MEMBERS 16

typedef struct FlatScan
{
	const char *p;
	const char *end;
	char	   *copy;			/* NUL-terminated copies of strings and numbers */
} FlatScan;

static inline void
flat_skip_space(FlatScan *fs)
{
	while (fs->p < fs->end &&
		   (*fs->p == ' ' || *fs->p == '\t' || *fs->p == '\n' || *fs->p == '\r'))
		fs->p++;
}

static inline const char *
flat_copy(FlatScan *fs, const char *s, size_t len)
{
	char	   *c = fs->copy;

	memcpy(c, s, len);
	c[len] = '\0';
	fs->copy += len + 1;
	return c;
}

/* A string without escapes or control characters; fs->p is at its quote. */
static bool
flat_string(FlatScan *fs, const char **str, size_t *len)
{
	const char *s = fs->p + 1,
			   *q = s;

	for (; q < fs->end && *q != '"'; q++)
		if ((unsigned char) *q < 0x20 || *q == '\\')
			return false;
	if (q == fs->end)
		return false;
	*len = q - s;
	*str = flat_copy(fs, s, *len);
	fs->p = q + 1;
	return true;
}

static inline bool
flat_digits(FlatScan *fs)
{
	const char *start = fs->p;

	while (fs->p < fs->end && *fs->p >= '0' && *fs->p <= '9')
		fs->p++;
	return fs->p > start;
}

/* RFC 8259's number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool
flat_number(FlatScan *fs, JsonValue *v)
{
	const char *s = fs->p;

	if (fs->p < fs->end && *fs->p == '-')
		fs->p++;
	if (fs->p < fs->end && *fs->p == '0')
		fs->p++;
	else if (fs->p == fs->end || *fs->p < '1' || *fs->p > '9' || !flat_digits(fs))
		return false;
	if (fs->p < fs->end && *fs->p == '.')
	{
		fs->p++;
		if (!flat_digits(fs))
			return false;
	}
	if (fs->p < fs->end && (*fs->p == 'e' || *fs->p == 'E'))
	{
		fs->p++;
		if (fs->p < fs->end && (*fs->p == '+' || *fs->p == '-'))
			fs->p++;
		if (!flat_digits(fs))
			return false;
	}
	/* the full parser says which member is out of range */
	if (!json_number_in_range(s, fs->p - s))
		return false;
	v->kind = JK_NUMBER;
	v->len = fs->p - s;
	v->str = flat_copy(fs, s, v->len);
	v->is_int = json_number_as_int(v->str, v->len, &v->ival);
	return true;
}

static bool
flat_literal(FlatScan *fs, const char *word, JsonKind kind, JsonValue *v)
{
	size_t		len = strlen(word);

	if ((size_t) (fs->end - fs->p) < len || memcmp(fs->p, word, len) != 0)
		return false;
	fs->p += len;
	v->kind = kind;
	v->str = word;
	v->len = len;
	return true;
}

/*
 * A string, number or literal.  What follows it must end the token, as the
 * full parser's lexer requires: "truex" or "1a" are single bad tokens there.
 */
static bool
flat_scalar(FlatScan *fs, JsonValue *v)
{
	bool		ok;
	size_t		len;

	memset(v, 0, sizeof(*v));
	if (fs->p == fs->end)
		return false;
	switch (*fs->p)
	{
		case '"':
			v->kind = JK_STRING;
			ok = flat_string(fs, &v->str, &len);
			v->len = (int) len;
			break;
		case 't':
			ok = flat_literal(fs, "true", JK_TRUE, v);
			break;
		case 'f':
			ok = flat_literal(fs, "false", JK_FALSE, v);
			break;
		case 'n':
			ok = flat_literal(fs, "null", JK_NULL, v);
			break;
		default:
			ok = flat_number(fs, v);
			break;
	}
	if (!ok)
		return false;
	flat_skip_space(fs);
	return fs->p < fs->end && (*fs->p == ',' || *fs->p == '}' || *fs->p == ']');
}

/* An array of scalars; fs->p is at its '['. */
static bool
flat_array(FlatScan *fs, JsonValue *v)
{
	int			cap = 0;

	memset(v, 0, sizeof(*v));
	v->kind = JK_ARRAY;
	v->str = fs->p;
	fs->p++;
	flat_skip_space(fs);
	if (fs->p < fs->end && *fs->p == ']')
		fs->p++;
	else
	{
		for (;;)
		{
			if (v->nelems == cap)
			{
				cap = cap ? cap * 2 : 4;
				v->elems = v->elems ? repalloc(v->elems, sizeof(JsonValue) * cap)
					: palloc(sizeof(JsonValue) * cap);
			}
			if (!flat_scalar(fs, &v->elems[v->nelems++]))
				return false;
			if (*fs->p++ == ']')
				break;
			if (fs->p[-1] != ',')
				return false;
			flat_skip_space(fs);
		}
	}
	v->len = fs->p - v->str;
	flat_skip_space(fs);
	return fs->p < fs->end && (*fs->p == ',' || *fs->p == '}');
}

static bool
flat_object(const char *text, size_t len, JsonDoc *doc)
{
	FlatScan	fs;
	JsonMember	members[FLAT_MAX_MEMBERS];
	int			n = 0;

	fs.p = text;
	fs.end = text + len;
	/* every copy is shorter than its quoted or delimited original */
	fs.copy = palloc(len + 1);

	flat_skip_space(&fs);
	if (fs.p == fs.end || *fs.p++ != '{')
		return false;
	flat_skip_space(&fs);
	if (fs.p < fs.end && *fs.p == '}')
		fs.p++;
	else
	{
		for (;;)
		{
			JsonMember *m = &members[n];

			if (n == FLAT_MAX_MEMBERS || fs.p == fs.end || *fs.p != '"' ||
				!flat_string(&fs, &m->name, &m->name_len))
				return false;
			/* names hold no escapes, so equal bytes are equal names */
			for (int i = 0; i < n; i++)
				if (members[i].name_len == m->name_len &&
					memcmp(members[i].name, m->name, m->name_len) == 0)
					return false;
			flat_skip_space(&fs);
			if (fs.p == fs.end || *fs.p++ != ':')
				return false;
			flat_skip_space(&fs);
			if (fs.p < fs.end && *fs.p == '[')
			{
				if (!flat_array(&fs, &m->value))
					return false;
			}
			else if (!flat_scalar(&fs, &m->value) || *fs.p == ']')
				return false;
			n++;
			if (*fs.p++ == '}')
				break;
			flat_skip_space(&fs);
		}
	}
	flat_skip_space(&fs);
	if (fs.p != fs.end)
		return false;

	doc->nmembers = n;
	doc->members = palloc(sizeof(JsonMember) * Max(n, 1));
	memcpy(doc->members, members, sizeof(JsonMember) * n);
	return true;
}

#ifndef FRONTEND
/*
 * jsonb's order of object keys, which its binary search relies on: shorter
 * names first, then bytewise (jsonb_util.c's lengthCompareJsonbStringValue).
 */
static inline bool
jsonb_key_before(const JsonbValue *a, const JsonbValue *b)
{
	if (a->val.string.len != b->val.string.len)
		return a->val.string.len < b->val.string.len;
	return memcmp(a->val.string.val, b->val.string.val, a->val.string.len) < 0;
}

/*
 * The jsonb of a document the fast path read, built as a JsonbValue tree:
 * its names are unique already, so only jsonb's key order is left to do
 * (an insertion sort of at most FLAT_MAX_MEMBERS), not pushJsonbValue's
 * general machinery.
 */
static Jsonb *
flat_object_jsonb(const JsonDoc *doc)
{
	JsonbValue	object;
	JsonbPair  *pairs = palloc(sizeof(JsonbPair) * Max(doc->nmembers, 1));

	for (int i = 0; i < doc->nmembers; i++)
	{
		const JsonMember *m = &doc->members[i];
		JsonbPair	pair;
		int			j;

		jsonb_scalar(&pair.key, JK_STRING, m->name, m->name_len);
		if (m->value.kind == JK_ARRAY)
		{
			JsonbValue *elems = palloc(sizeof(JsonbValue) * Max(m->value.nelems, 1));

			for (int e = 0; e < m->value.nelems; e++)
				jsonb_value(&elems[e], &m->value.elems[e]);
			pair.value.type = jbvArray;
			pair.value.val.array.nElems = m->value.nelems;
			pair.value.val.array.elems = elems;
			pair.value.val.array.rawScalar = false;
		}
		else
			jsonb_value(&pair.value, &m->value);
		pair.order = i;

		for (j = i; j > 0 && jsonb_key_before(&pair.key, &pairs[j - 1].key); j--)
			pairs[j] = pairs[j - 1];
		pairs[j] = pair;
	}
	object.type = jbvObject;
	object.val.object.nPairs = doc->nmembers;
	object.val.object.pairs = pairs;
	return JsonbValueToJsonb(&object);
}
#endif

#ifndef FRONTEND
/*
 * Whether the text has a \u escape of a character past ASCII.  PostgreSQL's
 * JSON lexer turns such escapes into the database encoding, while the other
 * characters of a token stay UTF-8: in a LATIN1 database "\u00c3\u00a9"
 * ("Ã©") would come out as the bytes of UTF-8 "é" (and SQL_ASCII cannot
 * take them at all).  Outside strings JSON has no backslash, so every one
 * starts an escape.
 */
static bool
has_non_ascii_escape(const char *text, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
	{
		if (text[i] != '\\')
			continue;
		if (text[i + 1] == 'u' && i + 5 < len)
		{
			unsigned int code = 0;

			for (int k = 2; k < 6; k++)
			{
				char		c = text[i + k];

				code = code * 16 + (c >= '0' && c <= '9' ? c - '0'
									: c >= 'a' && c <= 'f' ? c - 'a' + 10
									: c >= 'A' && c <= 'F' ? c - 'A' + 10 : 0);
			}
			if (code >= 0x80)
				return true;
		}
		i++;					/* the escaped character */
	}
	return false;
}
#endif

/* Both parses: the strict checks, and optionally the jsonb. */
static JsonStrictResult
parse_document(const char *text, size_t len, JsonDoc *doc, bool build_jsonb, void **jsonb,
			   bool fast_path)
{
	ParseState	st;
	JsonSemAction sem;
	JsonLexContext *lex;
	JsonParseErrorType err;

	memset(doc, 0, sizeof(*doc));
	if (len > PG_INT32_MAX / 2)
		return JSON_STRICT_SYNTAX;
#if PG_VERSION_NUM >= 140000
	if (pg_encoding_verifymbstr(PG_UTF8, text, (int) len) != (int) len)
#else
	if (!pg_verify_mbstr(PG_UTF8, text, (int) len, true))
#endif
		return JSON_STRICT_BAD_UTF8;
#ifndef FRONTEND
	if (GetDatabaseEncoding() != PG_UTF8 && has_non_ascii_escape(text, len))
		return JSON_STRICT_ESCAPE_ENCODING;
#endif
	if (fast_path)
	{
		if (flat_object(text, len, doc))
		{
#ifndef FRONTEND
			if (build_jsonb)
				*jsonb = flat_object_jsonb(doc);
#endif
			return JSON_STRICT_OK;
		}
		memset(doc, 0, sizeof(*doc));
	}
	if (!nesting_within_limit(text, len))
		return JSON_STRICT_TOO_DEEP;
	for (size_t i = 0; i < len; i++)
	{
		if (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')
			continue;
		if (text[i] != '{')
			return JSON_STRICT_NOT_OBJECT;
		break;
	}

	memset(&st, 0, sizeof(st));
	st.doc = doc;
	st.result = JSON_STRICT_OK;
#ifndef FRONTEND
	st.build_jsonb = build_jsonb;
#else
	Assert(!build_jsonb);
#endif

	memset(&sem, 0, sizeof(sem));
	sem.semstate = &st;
	sem.object_start = object_start_cb;
	sem.object_end = container_end_cb;
	sem.array_start = array_start_cb;
	sem.array_end = container_end_cb;
	sem.object_field_start = field_start_cb;
	sem.scalar = scalar_cb;

#if PG_VERSION_NUM >= 170000
	lex = makeJsonLexContextCstringLen(NULL, text, len, PG_UTF8, true);
#else
	lex = makeJsonLexContextCstringLen(unconstify(char *, text), (int) len, PG_UTF8, true);
#endif
	st.lex = lex;
	err = pg_parse_json(lex, &sem);
#if PG_VERSION_NUM >= 170000
	freeJsonLexContext(lex);
#endif

	if (st.result != JSON_STRICT_OK)
		return st.result;
	if (err != JSON_SUCCESS)
		return JSON_STRICT_SYNTAX;
#ifndef FRONTEND
	if (build_jsonb)
		*jsonb = JsonbValueToJsonb(st.jb_result);
#else
	(void) jsonb;
#endif
	return JSON_STRICT_OK;
}

/*
 * Parse text as one JSON object.  On success doc holds its top-level members;
 * everything is allocated in CurrentMemoryContext and may point into text.
 */
JsonStrictResult
json_strict_parse(const char *text, size_t len, JsonDoc *doc)
{
	return parse_document(text, len, doc, false, NULL, true);
}

JsonStrictResult
json_strict_parse_full(const char *text, size_t len, JsonDoc *doc)
{
	return parse_document(text, len, doc, false, NULL, false);
}

#ifndef FRONTEND
/*
 * The same, and *jsonb gets the document as jsonb.  The strings are taken as
 * they are: the caller makes sure the database encoding is UTF-8.
 */
JsonStrictResult
json_strict_parse_jsonb(const char *text, size_t len, JsonDoc *doc, Jsonb **jsonb)
{
	Assert(GetDatabaseEncoding() == PG_UTF8);
	return parse_document(text, len, doc, true, (void **) jsonb, true);
}
#endif

const char *
json_strict_result_text(JsonStrictResult r)
{
	switch (r)
	{
		case JSON_STRICT_OK:
			return "valid";
		case JSON_STRICT_BAD_UTF8:
			return "it is not valid UTF-8";
		case JSON_STRICT_SYNTAX:
			return "it is not valid JSON";
		case JSON_STRICT_NOT_OBJECT:
			return "it is not a JSON object";
		case JSON_STRICT_DUPLICATE:
			return "it has duplicate member names";
		case JSON_STRICT_TOO_DEEP:
			return "it is nested too deeply";
		case JSON_STRICT_NUMBER_RANGE:
			return "it has a number out of range";
		case JSON_STRICT_ESCAPE_ENCODING:
			return "it escapes a character past ASCII (\\uXXXX), which a database not encoded in UTF-8 cannot read unambiguously";
	}
	return "unknown";
}
