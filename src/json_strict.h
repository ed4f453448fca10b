/*
 * json_strict.h - strict JSON object parsing for token headers, claims and keys
 */
#ifndef JWT_JSON_STRICT_H
#define JWT_JSON_STRICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Nesting deeper than this is refused before the parser recurses. */
#define JSON_STRICT_MAX_DEPTH 32

typedef enum JsonKind
{
	JK_STRING,
	JK_NUMBER,
	JK_TRUE,
	JK_FALSE,
	JK_NULL,
	JK_OBJECT,
	JK_ARRAY
} JsonKind;

/*
 * A value at the top level of the document or an element of a top-level
 * array.  Strings are de-escaped and NUL-terminated (\u0000 is refused);
 * numbers keep their text; objects and arrays keep their raw span in the
 * input text, so that a JWKS key or a nested claim can be parsed again.
 */
typedef struct JsonValue
{
	JsonKind	kind;
	bool		is_int;			/* a number written as an integer of <= 18 digits */
	int64_t		ival;			/* its value, when is_int */
	const char *str;			/* string, number text, or raw span start */
	int			len;			/* length of str */
	int			nelems;			/* arrays at the top level: their elements */
	struct JsonValue *elems;
} JsonValue;

typedef struct JsonMember
{
	const char *name;
	size_t		name_len;
	JsonValue	value;
} JsonMember;

/* The members of a top-level JSON object. */
typedef struct JsonDoc
{
	int			nmembers;
	JsonMember *members;
	const char *out_of_range;	/* JSON_STRICT_NUMBER_RANGE: the top-level member */
} JsonDoc;

typedef enum JsonStrictResult
{
	JSON_STRICT_OK = 0,
	JSON_STRICT_BAD_UTF8,
	JSON_STRICT_SYNTAX,
	JSON_STRICT_NOT_OBJECT,
	JSON_STRICT_DUPLICATE,
	JSON_STRICT_TOO_DEEP,
	JSON_STRICT_NUMBER_RANGE,	/* a number PostgreSQL's numeric cannot hold */
	JSON_STRICT_ESCAPE_ENCODING /* a \u escape past ASCII, in a database not in UTF-8 */
} JsonStrictResult;

extern JsonStrictResult json_strict_parse(const char *text, size_t len, JsonDoc *doc);
/* The same without the flat-object fast path: for differential tests. */
extern JsonStrictResult json_strict_parse_full(const char *text, size_t len, JsonDoc *doc);
/* Whether a JSON number's text lies within what numeric_in accepts. */
extern bool json_number_in_range(const char *s, size_t len);
/* A JSON number's text that is an integer of at most 18 digits, as int64. */
extern bool json_number_as_int(const char *s, size_t len, int64_t *value);

/* A JK_NUMBER value as a double: integers, the usual case, without strtod. */
static inline double
json_number_double(const JsonValue *v)
{
	return v->is_int ? (double) v->ival : strtod(v->str, NULL);
}
#ifndef FRONTEND
#include "utils/jsonb.h"
extern JsonStrictResult json_strict_parse_jsonb(const char *text, size_t len, JsonDoc *doc,
												Jsonb **jsonb);
#endif

/* The member called name, or NULL.  Inline: strlen of a literal is folded. */
static inline const JsonMember *
json_doc_get(const JsonDoc *doc, const char *name)
{
	size_t		len = strlen(name);

	for (int i = 0; i < doc->nmembers; i++)
		if (doc->members[i].name_len == len && doc->members[i].name[0] == name[0] &&
			memcmp(doc->members[i].name, name, len) == 0)
			return &doc->members[i];
	return NULL;
}
extern const char *json_strict_result_text(JsonStrictResult r);

#endif
