/*
 * pgjwt.c - core helpers of the pgjwt compatibility functions
 *
 * pgjwt accepts any HMAC secret, so its keys cannot come from keys.c (which
 * refuses secrets shorter than 32 bytes): this file keeps its own small cache
 * of HMAC keys, and signs through crypto.c like the rest of the core.  It
 * also reads "nbf" and "exp" exactly as PostgreSQL's json ->> does (the
 * semantic callbacks below follow jsonfuncs.c's get_worker for a path of one
 * field name), both in one parse.
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "claims.h"
#include "pgjwt.h"

/* ---------- HMAC keys for any secret ---------- */

#define SECRET_CACHE_SIZE 8
/* longer secrets are not kept: a caller must not pin gigabytes in a backend */
#define SECRET_CACHE_MAX_LEN 1024

typedef struct SecretEntry
{
	bool		used;
	uint32		hash;
	uint64		last_used;
	JwtKey		key;			/* key.secret holds the bytes, key.mac the contexts */
} SecretEntry;

static MemoryContext secret_cxt = NULL;
static SecretEntry secret_cache[SECRET_CACHE_SIZE];
static SecretEntry secret_oneshot;	/* a longer secret, released at the next call */
static SecretEntry *secret_last = NULL;
static uint64 secret_clock = 0;

/* Free the entry's HMAC contexts and wipe its secret (jwt_keyset_free does both). */
static void
secret_release(SecretEntry *e)
{
	JwtKeySet	set = {1, false, &e->key};

	if (secret_last == e)
		secret_last = NULL;
	jwt_keyset_free(&set);
	memset(e, 0, sizeof(*e));
}

static inline bool
secret_matches(const SecretEntry *e, uint32 hash, const char *secret, size_t len)
{
	return e->used && e->hash == hash && (size_t) e->key.secret_len == len &&
		jwt_equal_const_time(e->key.secret, secret, len);
}

JwtKey *
pgjwt_secret_key(const char *secret, size_t len)
{
	uint32		hash;
	SecretEntry *slot = NULL;

	if (secret_oneshot.used)
		secret_release(&secret_oneshot);

	/* one application, one secret: the last entry is the usual hit */
	if (secret_last != NULL && secret_last->used && (size_t) secret_last->key.secret_len == len &&
		jwt_equal_const_time(secret_last->key.secret, secret, len))
	{
		secret_last->last_used = ++secret_clock;
		return &secret_last->key;
	}
	hash = hash_bytes((const unsigned char *) secret, (int) len);
	for (int i = 0; i < SECRET_CACHE_SIZE; i++)
		if (secret_matches(&secret_cache[i], hash, secret, len))
		{
			secret_last = &secret_cache[i];
			secret_last->last_used = ++secret_clock;
			return &secret_last->key;
		}

	if (secret_cxt == NULL)
		secret_cxt = AllocSetContextCreate(TopMemoryContext, "pgjwt secrets",
										   ALLOCSET_SMALL_SIZES);
	if (len > SECRET_CACHE_MAX_LEN)
		slot = &secret_oneshot;
	else
	{
		for (int i = 0; i < SECRET_CACHE_SIZE; i++)
		{
			SecretEntry *e = &secret_cache[i];

			if (!e->used)
			{
				slot = e;
				break;
			}
			if (slot == NULL || e->last_used < slot->last_used)
				slot = e;
		}
		if (slot->used)
			secret_release(slot);
	}

	/* allocate before marking the entry used: an out-of-memory error leaves it empty */
	jwt_key_init(&slot->key);
	jwt_key_set_hmac_secret(&slot->key, (const unsigned char *) secret, len, secret_cxt);
	slot->hash = hash;
	slot->used = true;
	slot->last_used = ++secret_clock;
	if (slot != &secret_oneshot)
		secret_last = slot;
	return &slot->key;
}

/* ---------- payload ->> 'nbf', payload ->> 'exp' ---------- */

/* Callback signatures changed in PostgreSQL 16: they now return a status. */
#if PG_VERSION_NUM >= 160000
#define JSON_CB_TYPE JsonParseErrorType
#define JSON_CB_RETURN return JSON_SUCCESS
#else
#define JSON_CB_TYPE void
#define JSON_CB_RETURN return
#endif

typedef struct TimesState
{
	JsonLexContext *lex;
	PgjwtField *fields[2];		/* nbf, exp */
	PgjwtField *next_scalar;	/* a string value to take from the scalar callback */
	PgjwtField *pending;		/* a non-string value whose text starts at start */
	const char *start;
} TimesState;

static const char *const time_names[2] = {"nbf", "exp"};

/* The field the member names, if it is a member of the top-level object. */
static PgjwtField *
times_target(TimesState *st, const char *fname)
{
	if (st->lex->lex_level != 1 || fname == NULL)
		return NULL;
	for (int i = 0; i < 2; i++)
		if (strcmp(fname, time_names[i]) == 0)
			return st->fields[i];
	return NULL;
}

/* As get_object_field_start: a later member of the same name replaces an earlier one. */
static JSON_CB_TYPE
times_field_start(void *state, char *fname, bool isnull)
{
	TimesState *st = (TimesState *) state;
	PgjwtField *f = times_target(st, fname);

	(void) isnull;
	if (f != NULL)
	{
		f->present = false;
		f->text = NULL;
		f->len = 0;
		st->pending = NULL;
		st->start = NULL;
		if (st->lex->token_type == JSON_TOKEN_STRING)
			st->next_scalar = f;
		else
		{
			st->pending = f;
			st->start = st->lex->token_start;
		}
	}
	JSON_CB_RETURN;
}

/* As get_object_field_end: null gives NULL, other values their text in the document. */
static JSON_CB_TYPE
times_field_end(void *state, char *fname, bool isnull)
{
	TimesState *st = (TimesState *) state;
	PgjwtField *f = times_target(st, fname);

	if (f != NULL && f == st->pending && st->start != NULL)
	{
		if (!isnull)
		{
			f->len = (int) (st->lex->prev_token_terminator - st->start);
			f->text = pnstrdup(st->start, f->len);
			f->present = true;
		}
		st->pending = NULL;
		st->start = NULL;
	}
	JSON_CB_RETURN;
}

/* As get_scalar: a string member's value, de-escaped. */
static JSON_CB_TYPE
times_scalar(void *state, char *token, JsonTokenType tokentype)
{
	TimesState *st = (TimesState *) state;

	(void) tokentype;
	if (st->next_scalar != NULL)
	{
		st->next_scalar->text = pstrdup(token);
		st->next_scalar->len = (int) strlen(token);
		st->next_scalar->present = true;
		st->next_scalar = NULL;
	}
	JSON_CB_RETURN;
}

/*
 * The fast path: one pass over the JSON that tokens carry, a top-level object
 * whose strings hold no backslash and no control character, nested at most
 * SCAN_MAX_DEPTH deep.  Within that subset PostgreSQL's parser accepts exactly
 * what this accepts (RFC 8259 numbers and literals, each followed by a
 * delimiter), and ->> gives a member's text as it stands.  Anything else,
 * valid or not, returns false: the parser decides.
 */
#define SCAN_MAX_DEPTH 64

static inline bool
scan_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* After a number or a literal: the end, white space or a structural character. */
static inline bool
scan_delimited(const char *p, const char *end)
{
	return p == end || scan_is_space(*p) || *p == ',' || *p == '}' || *p == ']';
}

/* A string's body; *p is past the opening quote, left past the closing one. */
static bool
scan_string(const char **p, const char *end)
{
	const char *s = *p;

	while (s < end && *s != '"')
	{
		if (*s == '\\' || (unsigned char) *s < 0x20)
			return false;
		s++;
	}
	if (s == end)
		return false;
	*p = s + 1;
	return true;
}

static bool
scan_number(const char **p, const char *end)
{
	const char *s = *p;

	if (s < end && *s == '-')
		s++;
	if (s < end && *s == '0')
		s++;
	else if (s < end && *s >= '1' && *s <= '9')
		while (s < end && *s >= '0' && *s <= '9')
			s++;
	else
		return false;
	if (s < end && *s == '.')
	{
		s++;
		if (s == end || *s < '0' || *s > '9')
			return false;
		while (s < end && *s >= '0' && *s <= '9')
			s++;
	}
	if (s < end && (*s == 'e' || *s == 'E'))
	{
		s++;
		if (s < end && (*s == '+' || *s == '-'))
			s++;
		if (s == end || *s < '0' || *s > '9')
			return false;
		while (s < end && *s >= '0' && *s <= '9')
			s++;
	}
	*p = s;
	return scan_delimited(s, end);
}

static bool
scan_literal(const char **p, const char *end)
{
	static const char *const words[] = {"true", "false", "null"};

	for (int i = 0; i < 3; i++)
	{
		size_t		n = strlen(words[i]);

		if ((size_t) (end - *p) >= n && memcmp(*p, words[i], n) == 0 &&
			scan_delimited(*p + n, end))
		{
			*p += n;
			return true;
		}
	}
	return false;
}

/* The value of a top-level nbf or exp, from its first character to end. */
static void
scan_set(PgjwtField *f, const char *value, const char *end)
{
	if (*value == 'n')
		return;					/* null: ->> gives NULL */
	if (*value == '"')
	{
		value++;				/* a string without escapes is its own text */
		end--;
	}
	f->len = (int) (end - value);
	f->text = pnstrdup(value, f->len);
	f->present = true;
}

static bool
scan_times(const char *json, int len, PgjwtField *nbf, PgjwtField *exp)
{
	const char *p = json;
	const char *end = json + len;
	char		stack[SCAN_MAX_DEPTH];	/* '{' or '[' per open container */
	int			depth = 0;
	PgjwtField *member = NULL;	/* a top-level nbf or exp whose value is being read */
	const char *member_value = NULL;

	while (p < end && scan_is_space(*p))
		p++;
	if (p == end || *p != '{')
		return false;

	for (;;)
	{
		/* a value */
		while (p < end && scan_is_space(*p))
			p++;
		if (p == end)
			return false;
		if (*p == '{' || *p == '[')
		{
			if (depth == SCAN_MAX_DEPTH)
				return false;
			stack[depth++] = *p++;
			while (p < end && scan_is_space(*p))
				p++;
			if (p < end && *p == (stack[depth - 1] == '{' ? '}' : ']'))
			{
				p++;
				depth--;
				goto after_value;
			}
			if (stack[depth - 1] == '[')
				continue;
			goto member_name;
		}
		else if (*p == '"')
		{
			p++;
			if (!scan_string(&p, end))
				return false;
		}
		else if (*p == '-' || (*p >= '0' && *p <= '9'))
		{
			if (!scan_number(&p, end))
				return false;
		}
		else if (!scan_literal(&p, end))
			return false;

after_value:
		/* a value ended at p, inside the container at depth (0: the document) */
		if (member != NULL && depth == 1)
		{
			scan_set(member, member_value, p);
			member = NULL;
		}
		while (p < end && scan_is_space(*p))
			p++;
		if (depth == 0)
			return p == end;
		if (p == end)
			return false;
		if (*p == ',')
		{
			p++;
			if (stack[depth - 1] == '[')
				continue;
			while (p < end && scan_is_space(*p))
				p++;
			goto member_name;
		}
		if (*p != (stack[depth - 1] == '{' ? '}' : ']'))
			return false;
		p++;
		depth--;
		goto after_value;

member_name:
		/* "name" : then the value */
		{
			const char *name;

			if (p == end || *p != '"')
				return false;
			name = ++p;
			if (!scan_string(&p, end))
				return false;
			if (depth == 1)
			{
				member = NULL;
				if (p - 1 - name == 3 && memcmp(name, "nbf", 3) == 0)
					member = nbf;
				else if (p - 1 - name == 3 && memcmp(name, "exp", 3) == 0)
					member = exp;
				if (member != NULL)
				{
					/* a later member of the same name replaces an earlier one */
					member->present = false;
					member->text = NULL;
					member->len = 0;
				}
			}
			while (p < end && scan_is_space(*p))
				p++;
			if (p == end || *p != ':')
				return false;
			p++;
			while (p < end && scan_is_space(*p))
				p++;
			member_value = p;
		}
	}
}

bool
pgjwt_read_times(char *json, int len, PgjwtField *nbf, PgjwtField *exp)
{
	JsonSemAction sem;
	TimesState	st;
	JsonLexContext *lex;
	JsonParseErrorType rc;

	memset(nbf, 0, sizeof(*nbf));
	memset(exp, 0, sizeof(*exp));
	if (scan_times(json, len, nbf, exp))
		return true;
	memset(nbf, 0, sizeof(*nbf));
	memset(exp, 0, sizeof(*exp));
	/* de-escaping, as ->> does: it refuses \u0000 and lone surrogates too */
#if PG_VERSION_NUM >= 170000
	lex = makeJsonLexContextCstringLen(NULL, json, len, GetDatabaseEncoding(), true);
#else
	lex = makeJsonLexContextCstringLen(json, len, GetDatabaseEncoding(), true);
#endif
	memset(&st, 0, sizeof(st));
	st.lex = lex;
	st.fields[0] = nbf;
	st.fields[1] = exp;
	memset(&sem, 0, sizeof(sem));
	sem.semstate = &st;
	sem.object_field_start = times_field_start;
	sem.object_field_end = times_field_end;
	sem.scalar = times_scalar;
	rc = pg_parse_json(lex, &sem);
#if PG_VERSION_NUM >= 170000
	freeJsonLexContext(lex);
#else
	if (lex->strval != NULL)
	{
		pfree(lex->strval->data);
		pfree(lex->strval);
	}
	pfree(lex);
#endif
	return rc == JSON_SUCCESS;
}

/* ---------- strict mode ---------- */

JwtStatus
pgjwt_check_numeric_dates(const JsonDoc *claims, JwtError *err)
{
	static const char *const names[] = {"exp", "nbf", "iat"};

	for (int i = 0; i < (int) lengthof(names); i++)
	{
		const JsonMember *m = json_doc_get(claims, names[i]);
		double		v;

		if (m == NULL)
			continue;
		if (m->value.kind != JK_NUMBER)
		{
			jwt_fail(err, JWT_ERR_CLAIM_FORMAT, "claim \"%s\" must be a number", names[i]);
			jwt_fail_detail(err, "A NumericDate is a JSON number of seconds since 1970-01-01T00:00:00Z.");
			return JWT_ERR_CLAIM_FORMAT;
		}
		v = json_number_double(&m->value);
		if (!isfinite(v) || v < 0 || v > JWT_NUMERICDATE_MAX)
		{
			jwt_fail(err, JWT_ERR_CLAIM_FORMAT, "claim \"%s\" is out of range", names[i]);
			jwt_fail_detail(err, "A NumericDate must lie between 1970 and the end of year 9999.");
			return JWT_ERR_CLAIM_FORMAT;
		}
	}
	return JWT_OK;
}
