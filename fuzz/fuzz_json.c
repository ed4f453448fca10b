/*
 * fuzz/fuzz_json.c - strict JSON objects (headers, claims, JWKs)
 *
 * Beyond "no crash": a document that parses has unique, de-escaped member
 * names; strings hold no NUL; a nested object or array is kept as the exact
 * span of its text, and a nested object parses again on its own (that is how
 * a JWKS reads its keys).  And the flat-object fast path agrees with
 * PostgreSQL's parser: the same result, the same members and values.
 */
#include "fuzz_common.h"

#include "json_strict.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_value(const JsonValue *v, const char *text, size_t size, int level)
{
	switch (v->kind)
	{
		case JK_STRING:
		case JK_NUMBER:
		case JK_TRUE:
		case JK_FALSE:
		case JK_NULL:
			FUZZ_CHECK(v->str != NULL, "scalar kind %d without text", (int) v->kind);
			FUZZ_CHECK(strlen(v->str) == (size_t) v->len, "scalar length %d, strlen %zu",
					   v->len, strlen(v->str));
			if (v->kind == JK_TRUE)
				FUZZ_CHECK(strcmp(v->str, "true") == 0, "true is \"%s\"", v->str);
			if (v->kind == JK_FALSE)
				FUZZ_CHECK(strcmp(v->str, "false") == 0, "false is \"%s\"", v->str);
			if (v->kind == JK_NULL)
				FUZZ_CHECK(strcmp(v->str, "null") == 0, "null is \"%s\"", v->str);
			break;
		case JK_OBJECT:
		case JK_ARRAY:
			{
				char		open = v->kind == JK_OBJECT ? '{' : '[';
				char		close = v->kind == JK_OBJECT ? '}' : ']';

				FUZZ_CHECK(v->str >= text && v->len >= 2 && v->str + v->len <= text + size,
						   "span %td+%d outside the text of %zu bytes", v->str - text, v->len, size);
				FUZZ_CHECK(v->str[0] == open && v->str[v->len - 1] == close,
						   "span %td+%d is not a %s", v->str - text, v->len,
						   v->kind == JK_OBJECT ? "object" : "array");
				if (v->kind == JK_OBJECT)
				{
					JsonDoc		sub;
					JsonStrictResult r = json_strict_parse(v->str, v->len, &sub);

					FUZZ_CHECK(r == JSON_STRICT_OK, "nested object at %td+%d does not parse: %s",
							   v->str - text, v->len, json_strict_result_text(r));
				}
				if (v->kind == JK_ARRAY && level == 0)
				{
					FUZZ_CHECK(v->nelems >= 0 && (v->nelems == 0 || v->elems != NULL),
							   "array with %d elements", v->nelems);
					for (int i = 0; i < v->nelems; i++)
						check_value(&v->elems[i], text, size, level + 1);
				}
				else
					FUZZ_CHECK(v->nelems == 0, "nested value with %d elements", v->nelems);
			}
			break;
		default:
			FUZZ_CHECK(false, "unknown kind %d", (int) v->kind);
	}
}

/* Two parses of the same text give the same value. */
static void
check_same_value(const JsonValue *a, const JsonValue *b, int level)
{
	FUZZ_CHECK(a->kind == b->kind, "kinds %d and %d", (int) a->kind, (int) b->kind);
	FUZZ_CHECK(a->len == b->len && memcmp(a->str, b->str, a->len) == 0,
			   "values \"%.*s\" and \"%.*s\"", a->len, a->str, b->len, b->str);
	FUZZ_CHECK(a->is_int == b->is_int && (!a->is_int || a->ival == b->ival),
			   "integer %d/%lld and %d/%lld", (int) a->is_int, (long long) a->ival,
			   (int) b->is_int, (long long) b->ival);
	FUZZ_CHECK(a->nelems == b->nelems, "%d and %d elements", a->nelems, b->nelems);
	if (level == 0)
		for (int i = 0; i < a->nelems; i++)
			check_same_value(&a->elems[i], &b->elems[i], level + 1);
}

/* The fast path (json_strict_parse) against the full parser alone. */
static void
check_fast_path(const char *text, size_t size, JsonStrictResult r, const JsonDoc *doc)
{
	JsonDoc		full;
	JsonStrictResult rf = json_strict_parse_full(text, size, &full);

	FUZZ_CHECK(r == rf, "result %s, full parser %s", json_strict_result_text(r),
			   json_strict_result_text(rf));
	if (r != JSON_STRICT_OK)
		return;
	FUZZ_CHECK(doc->nmembers == full.nmembers, "%d members, full parser %d",
			   doc->nmembers, full.nmembers);
	for (int i = 0; i < doc->nmembers; i++)
	{
		const JsonMember *m = &doc->members[i],
				   *f = &full.members[i];

		FUZZ_CHECK(m->name_len == f->name_len && memcmp(m->name, f->name, m->name_len) == 0,
				   "member %d: \"%s\", full parser \"%s\"", i, m->name, f->name);
		FUZZ_CHECK(m->name_len == strlen(m->name), "name length %zu, strlen %zu",
				   m->name_len, strlen(m->name));
		check_same_value(&m->value, &f->value, 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
		"alg", "kid", "typ", "crit", "keys", "aud", "exp", "nbf", "iat", "", "\xc3\xa9"};
	const char *text = (const char *) data;
	JsonDoc		doc;
	JsonStrictResult r;

	fuzz_input_begin();
	r = json_strict_parse(text, size, &doc);
	FUZZ_CHECK(r >= JSON_STRICT_OK && r <= JSON_STRICT_ESCAPE_ENCODING, "result %d", (int) r);
	FUZZ_CHECK(r != JSON_STRICT_NUMBER_RANGE || doc.out_of_range != NULL, "no member for a number out of range");
	FUZZ_CHECK(json_strict_result_text(r) != NULL, "no text for %d", (int) r);
	check_fast_path(text, size, r, &doc);
	if (r == JSON_STRICT_OK)
	{
		FUZZ_CHECK(doc.nmembers >= 0 && (doc.nmembers == 0 || doc.members != NULL),
				   "%d members", doc.nmembers);
		for (int i = 0; i < doc.nmembers; i++)
		{
			const JsonMember *m = &doc.members[i];

			FUZZ_CHECK(m->name != NULL, "member %d has no name", i);
			FUZZ_CHECK(json_doc_get(&doc, m->name) == m, "member \"%s\" is not unique", m->name);
			check_value(&m->value, text, size, 0);
		}
		for (size_t i = 0; i < lengthof(names); i++)
		{
			const JsonMember *m = json_doc_get(&doc, names[i]);

			FUZZ_CHECK(m == NULL || strcmp(m->name, names[i]) == 0, "lookup of \"%s\"", names[i]);
		}
	}
	else
		FUZZ_CHECK(doc.nmembers == 0 || r != JSON_STRICT_BAD_UTF8, "members after bad UTF-8");
	fuzz_input_end();
	return 0;
}
