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

static void
set_scalar(JsonValue *v, char *token, JsonTokenType type)
{
	switch (type)
	{
		case JSON_TOKEN_STRING:
			v->kind = JK_STRING;
			break;
		case JSON_TOKEN_NUMBER:
			v->kind = JK_NUMBER;
			break;
		case JSON_TOKEN_TRUE:
			v->kind = JK_TRUE;
			break;
		case JSON_TOKEN_FALSE:
			v->kind = JK_FALSE;
			break;
		default:
			v->kind = JK_NULL;
			break;
	}
	v->str = token;
	v->len = token ? strlen(token) : 0;
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
json_number(const char *token)
{
#if PG_VERSION_NUM >= 140000
	const char *digits = token[0] == '-' ? token + 1 : token;
	size_t		ndigits = strspn(digits, "0123456789");

	if (ndigits > 0 && ndigits <= 18 && digits[ndigits] == '\0')
		return int64_to_numeric(strtoll(token, NULL, 10));
#endif
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(token),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

static void
jb_scalar(ParseState *st, char *token, JsonTokenType type, bool is_key)
{
	JsonbValue	v;

	switch (type)
	{
		case JSON_TOKEN_STRING:
			if (strlen(token) > JENTRY_OFFLENMASK)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("string too long to represent as jsonb string")));
			v.type = jbvString;
			v.val.string.val = token;
			v.val.string.len = strlen(token);
			break;
		case JSON_TOKEN_NUMBER:
			v.type = jbvNumeric;
			v.val.numeric = json_number(token);
			break;
		case JSON_TOKEN_TRUE:
			v.type = jbvBool;
			v.val.boolean = true;
			break;
		case JSON_TOKEN_FALSE:
			v.type = jbvBool;
			v.val.boolean = false;
			break;
		default:
			v.type = jbvNull;
			break;
	}
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
		doc->members[doc->nmembers++].name = fname;
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

/* Both parses: the strict checks, and optionally the jsonb. */
static JsonStrictResult
parse_document(const char *text, size_t len, JsonDoc *doc, bool build_jsonb, void **jsonb)
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
	return parse_document(text, len, doc, false, NULL);
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
	return parse_document(text, len, doc, true, (void **) jsonb);
}
#endif

/* The member called name, or NULL. */
const JsonMember *
json_doc_get(const JsonDoc *doc, const char *name)
{
	for (int i = 0; i < doc->nmembers; i++)
		if (strcmp(doc->members[i].name, name) == 0)
			return &doc->members[i];
	return NULL;
}

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
	}
	return "unknown";
}
