/*
 * fuzz/fuzz_jspath.c - jwt.role_claim's JSPath parser (src/jspath.c): any
 * bytes either parse into at most JSPATH_MAX_STEPS steps whose names and
 * values lie inside the input, or are refused with a message; a filter step
 * is the last one; the filter matchers agree with their definitions.
 */
#include "fuzz_common.h"

#include "jspath.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the definition of each operator, written the slow way */
static bool
reference_match(const JsPathStep *step, const char *v, size_t len)
{
	const char *p = step->text;
	size_t		n = step->len;
	bool		found = false;

	switch (step->op)
	{
		case JSPATH_EQ:
			return len == n && memcmp(v, p, n) == 0;
		case JSPATH_NE:
			return !(len == n && memcmp(v, p, n) == 0);
		case JSPATH_STARTS:
			return len >= n && strncmp(v, p, n) == 0;
		case JSPATH_ENDS:
			return len >= n && memcmp(v + (len - n), p, n) == 0;
		case JSPATH_CONTAINS:
			for (size_t i = 0; i + n <= len && !found; i++)
				found = memcmp(v + i, p, n) == 0;
			return found;
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so that ASan sees any overrun */
	char	   *text = malloc(size ? size : 1);
	JsPath		path;
	const char *error = NULL;

	memcpy(text, data, size);
	if (jspath_parse(text, size, &path, &error))
	{
		FUZZ_CHECK(size > 0 && size <= JSPATH_MAX_LEN, "parsed a path of %zu bytes", size);
		FUZZ_CHECK(path.nsteps >= 1 && path.nsteps <= JSPATH_MAX_STEPS, "%d steps", path.nsteps);
		for (int i = 0; i < path.nsteps; i++)
		{
			const JsPathStep *s = &path.steps[i];

			FUZZ_CHECK(s->text == NULL || (s->text >= text && s->text + s->len <= text + size),
					   "step %d points outside the input", i);
			FUZZ_CHECK(s->kind != JSPATH_FILTER || i == path.nsteps - 1, "filter step %d is not last", i);
			FUZZ_CHECK(s->kind != JSPATH_INDEX || (s->index >= 0 && s->index <= 999999999),
					   "index %d", s->index);
			if (s->kind == JSPATH_FILTER)
			{
				/* the matchers, on the input itself and on its halves */
				for (size_t cut = 0; cut <= size; cut += size / 2 + 1)
					FUZZ_CHECK(jspath_filter_matches(s, text, cut) == reference_match(s, text, cut),
							   "operator %d disagrees on %zu bytes", (int) s->op, cut);
			}
		}
	}
	else
		FUZZ_CHECK(error != NULL && error[0] != '\0', "refused without a message");
	free(text);
	return 0;
}
