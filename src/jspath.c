/*
 * jspath.c - the claim path of jwt.role_claim
 *
 * PostgREST's jwt-role-claim-key names the role claim with a small JSPath
 * (its Config/JSPath grammar, which PostgREST 13 still reads): steps
 *   .name        a member; name is letters, digits, "_", "$" or "@"
 *   ."any name"  a member whose name is anything but a double quote
 *   [0]          an array element
 *   [?(@ == "v")] the first string element of an array that matches, with
 *                ==, != , ^== (starts with), ==^ (ends with), *== (contains);
 *                only as the last step
 * A leading "$" (as in "$.realm_access.roles[0]") is allowed.  A value that
 * starts with none of ".", "$" or "[" is one claim name, as jwt.role_claim
 * was before 0.2.0 ("role", "https://example.com/role").
 *
 * The parser reads only the setting (never a token), is bounded by
 * JSPATH_MAX_LEN and JSPATH_MAX_STEPS, and has no escapes: a quoted name or
 * value ends at the first double quote, so nothing can be injected past it.
 * This file has no server dependencies (the fuzzers may link it).
 */
#include "postgres.h"

#include "jspath.h"

static bool
name_char(unsigned char c)
{
	/* UTF-8 bytes past ASCII: PostgREST's alphaNum admits letters of any script */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '_' || c == '$' || c == '@' || c >= 0x80;
}

static bool
fail(const char **error, const char *message)
{
	*error = message;
	return false;
}

/* A double-quoted string at *p: its contents, without escapes. */
static bool
quoted(const char **p, const char *end, const char **text, size_t *len)
{
	const char *q;

	if (*p >= end || **p != '"')
		return false;
	q = memchr(*p + 1, '"', end - (*p + 1));
	if (q == NULL)
		return false;
	*text = *p + 1;
	*len = q - (*p + 1);
	*p = q + 1;
	return true;
}

static void
skip_spaces(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r' ||
						**p == '\f' || **p == '\v'))
		(*p)++;
}

/* The filter operator at *p (the longest first: "==^" before "=="). */
static bool
filter_op(const char **p, const char *end, JsPathOp *op)
{
	static const struct
	{
		const char *s;
		JsPathOp	op;
	}			ops[] = {
		{"==^", JSPATH_ENDS},
		{"==", JSPATH_EQ},
		{"!=", JSPATH_NE},
		{"^==", JSPATH_STARTS},
		{"*==", JSPATH_CONTAINS},
	};

	for (size_t i = 0; i < lengthof(ops); i++)
	{
		size_t		n = strlen(ops[i].s);

		if ((size_t) (end - *p) >= n && memcmp(*p, ops[i].s, n) == 0)
		{
			*op = ops[i].op;
			*p += n;
			return true;
		}
	}
	return false;
}

bool
jspath_parse(const char *text, size_t len, JsPath *path, const char **error)
{
	const char *p = text;
	const char *end = text + len;

	path->nsteps = 0;
	if (len == 0)
		return fail(error, "the path is empty");
	if (len > JSPATH_MAX_LEN)
		return fail(error, "the path is longer than 1024 bytes");
	if (memchr(text, '\0', len) != NULL)
		return fail(error, "the path contains a NUL byte");
	if (*p != '.' && *p != '$' && *p != '[')
	{
		/* one claim name, as it is */
		path->nsteps = 1;
		path->steps[0].kind = JSPATH_KEY;
		path->steps[0].text = text;
		path->steps[0].len = len;
		return true;
	}
	if (*p == '$')
	{
		p++;
		if (p == end)
			return fail(error, "a path must name at least one step after \"$\"");
	}
	while (p < end)
	{
		JsPathStep *step;

		if (path->nsteps == JSPATH_MAX_STEPS)
			return fail(error, "the path has more than 32 steps");
		step = &path->steps[path->nsteps];
		memset(step, 0, sizeof(*step));
		if (*p == '.')
		{
			const char *start = ++p;

			step->kind = JSPATH_KEY;
			if (p < end && *p == '"')
			{
				if (!quoted(&p, end, &step->text, &step->len))
					return fail(error, "a quoted member name has no closing double quote");
			}
			else
			{
				while (p < end && name_char((unsigned char) *p))
					p++;
				if (p == start)
					return fail(error, "\".\" must be followed by a member name");
				step->text = start;
				step->len = p - start;
			}
		}
		else if (*p == '[' && end - p >= 3 && memcmp(p, "[?(", 3) == 0)
		{
			p += 3;
			step->kind = JSPATH_FILTER;
			if (p >= end || *p != '@')
				return fail(error, "a filter must be [?(@ == \"value\")] (or !=, ^==, ==^, *==)");
			p++;
			skip_spaces(&p, end);
			if (!filter_op(&p, end, &step->op))
				return fail(error, "a filter's operator must be ==, !=, ^==, ==^ or *==");
			skip_spaces(&p, end);
			if (!quoted(&p, end, &step->text, &step->len))
				return fail(error, "a filter compares with a double-quoted string");
			if (end - p < 2 || p[0] != ')' || p[1] != ']')
				return fail(error, "a filter must end with \")]\"");
			p += 2;
			if (p != end)
				return fail(error, "a filter must be the last step of the path");
		}
		else if (*p == '[')
		{
			int			digits = 0;
			int			index = 0;

			p++;
			step->kind = JSPATH_INDEX;
			while (p < end && *p >= '0' && *p <= '9')
			{
				if (++digits > 9)
					return fail(error, "an array index has more than 9 digits");
				index = index * 10 + (*p - '0');
				p++;
			}
			if (digits == 0 || p >= end || *p != ']')
				return fail(error, "an array index is [ and digits and ]");
			p++;
			step->index = index;
		}
		else
			return fail(error, "each step of the path starts with \".\" or \"[\"");
		path->nsteps++;
	}
	return true;
}

bool
jspath_filter_matches(const JsPathStep *step, const char *value, size_t len)
{
	const char *pat = step->text;
	size_t		n = step->len;

	switch (step->op)
	{
		case JSPATH_EQ:
			return len == n && memcmp(value, pat, n) == 0;
		case JSPATH_NE:
			return !(len == n && memcmp(value, pat, n) == 0);
		case JSPATH_STARTS:
			return len >= n && memcmp(value, pat, n) == 0;
		case JSPATH_ENDS:
			return len >= n && memcmp(value + len - n, pat, n) == 0;
		case JSPATH_CONTAINS:
			if (n == 0)
				return true;
			for (size_t i = 0; i + n <= len; i++)
				if (memcmp(value + i, pat, n) == 0)
					return true;
			return false;
	}
	return false;
}
