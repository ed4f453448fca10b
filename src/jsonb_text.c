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

/*
 * A JSON string.  Most strings need no escaping and are copied whole;
 * escape_json (which appends a byte at a time) only gets the others.
 */
void
jsonb_append_string(StringInfo out, const char *s, int len)
{
	char	   *cstr;

	for (int i = 0; i < len; i++)
	{
		unsigned char c = s[i];

		if (c < 0x20 || c == '"' || c == '\\')
		{
			cstr = pnstrdup(s, len);
			escape_json(out, cstr);
			pfree(cstr);
			return;
		}
	}
	enlargeStringInfo(out, len + 2);
	out->data[out->len++] = '"';
	memcpy(out->data + out->len, s, len);
	out->len += len;
	out->data[out->len++] = '"';
	out->data[out->len] = '\0';
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
			jsonb_append_string(out, v->val.string.val, v->val.string.len);
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
				jsonb_append_string(out, v.val.string.val, v.val.string.len);
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

/* A value from an iteration with skipNested: a scalar or a whole container. */
void
jsonb_append_value(StringInfo out, JsonbValue *v)
{
	if (v->type == jbvBinary)
		jsonb_append_compact(out, v->val.binary.data);
	else
		append_scalar(out, v);
}

/*
 * Append the members of an object as `"k":v` pairs, each preceded by a comma
 * when *any is set (which it then is).
 */
void
jsonb_append_object_members(StringInfo out, JsonbContainer *container, bool *any)
{
	JsonbIterator *it = JsonbIteratorInit(container);
	JsonbValue	v;
	JsonbIteratorToken tok;

	tok = JsonbIteratorNext(&it, &v, false);
	Assert(tok == WJB_BEGIN_OBJECT);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		if (*any)
			appendStringInfoChar(out, ',');
		jsonb_append_string(out, v.val.string.val, v.val.string.len);
		appendStringInfoChar(out, ':');
		tok = JsonbIteratorNext(&it, &v, true);
		jsonb_append_value(out, &v);
		*any = true;
	}
}
