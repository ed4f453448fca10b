/*
 * jsonb_text.c - compact JSON text from jsonb
 *
 * jsonb's own output puts a space after every ':' and ',', which only makes
 * tokens longer; this writes the same JSON without insignificant whitespace.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/numeric.h"

#include "jsonb_text.h"

static void
append_string(StringInfo out, const char *s, int len)
{
	char	   *cstr = pnstrdup(s, len);

	escape_json(out, cstr);
	pfree(cstr);
}

static void
append_scalar(StringInfo out, const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			appendStringInfoString(out, "null");
			break;
		case jbvString:
			append_string(out, v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			appendStringInfoString(out, DatumGetCString(DirectFunctionCall1(numeric_out,
																			NumericGetDatum(v->val.numeric))));
			break;
		case jbvBool:
			appendStringInfoString(out, v->val.boolean ? "true" : "false");
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
}

/* Append the whole container (object, array or raw scalar) as compact JSON. */
void
jsonb_append_compact(StringInfo out, JsonbContainer *container)
{
	JsonbIterator *it = JsonbIteratorInit(container);
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		first = true;	/* no comma before the next item */
	bool		raw_scalar = false;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_OBJECT:
			case WJB_BEGIN_ARRAY:
				if (tok == WJB_BEGIN_ARRAY && v.val.array.rawScalar)
				{
					raw_scalar = true;
					break;
				}
				if (!first)
					appendStringInfoChar(out, ',');
				appendStringInfoChar(out, tok == WJB_BEGIN_OBJECT ? '{' : '[');
				first = true;
				break;
			case WJB_END_OBJECT:
			case WJB_END_ARRAY:
				if (!raw_scalar)
					appendStringInfoChar(out, tok == WJB_END_OBJECT ? '}' : ']');
				first = false;
				break;
			case WJB_KEY:
				if (!first)
					appendStringInfoChar(out, ',');
				append_string(out, v.val.string.val, v.val.string.len);
				appendStringInfoChar(out, ':');
				first = true;
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				if (!first)
					appendStringInfoChar(out, ',');
				append_scalar(out, &v);
				first = false;
				break;
			default:
				break;
		}
	}
}

/*
 * Append the members of an object as `"k":v` pairs, each preceded by a comma
 * when *any is set (which it then is), leaving out the names in skip.
 */
void
jsonb_append_object_members(StringInfo out, JsonbContainer *container,
							const char *const *skip, int nskip, bool *any)
{
	JsonbIterator *it = JsonbIteratorInit(container);
	JsonbValue	v;
	JsonbIteratorToken tok;

	tok = JsonbIteratorNext(&it, &v, false);
	Assert(tok == WJB_BEGIN_OBJECT);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		bool		skipped = false;

		if (tok != WJB_KEY)
			continue;
		for (int i = 0; i < nskip; i++)
			if (strlen(skip[i]) == (size_t) v.val.string.len &&
				memcmp(skip[i], v.val.string.val, v.val.string.len) == 0)
				skipped = true;
		if (!skipped)
		{
			if (*any)
				appendStringInfoChar(out, ',');
			append_string(out, v.val.string.val, v.val.string.len);
			appendStringInfoChar(out, ':');
		}
		/* the value: a scalar, or a container passed over whole (skipNested) */
		tok = JsonbIteratorNext(&it, &v, true);
		if (!skipped)
		{
			if (v.type == jbvBinary)
				jsonb_append_compact(out, v.val.binary.data);
			else
				append_scalar(out, &v);
			*any = true;
		}
	}
}
