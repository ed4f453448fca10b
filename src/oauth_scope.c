/*
 * oauth_scope.c - the claim checks of a login with a bearer token that belong to
 * OAuth rather than to JWT: the scopes pg_hba.conf requires
 */
#include "postgres.h"

#include "oauth_scope.h"

/* Whether the space-separated list granted (len bytes) holds the scope s (n bytes). */
static bool
scope_in_list(const char *granted, int len, const char *s, size_t n)
{
	int			i = 0;

	while (i < len)
	{
		int			start;

		while (i < len && granted[i] == ' ')
			i++;
		start = i;
		while (i < len && granted[i] != ' ')
			i++;
		if ((size_t) (i - start) == n && n > 0 && memcmp(granted + start, s, n) == 0)
			return true;
	}
	return false;
}

bool
jwt_oauth_scopes_granted(const JsonDoc *claims, const char *required, char **missing)
{
	const JsonMember *scope = json_doc_get(claims, "scope");
	const char *p = required ? required : "";

	*missing = NULL;
	while (*p)
	{
		const char *start;

		while (*p == ' ')
			p++;
		start = p;
		while (*p && *p != ' ')
			p++;
		if (p == start)
			continue;
		/* scope is a string by RFC 8693 and 9068; anything else grants nothing */
		if (scope == NULL || scope->value.kind != JK_STRING ||
			!scope_in_list(scope->value.str, scope->value.len, start, p - start))
		{
			*missing = pnstrdup(start, p - start);
			return false;
		}
	}
	return true;
}
