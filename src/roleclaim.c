/*
 * roleclaim.c - the role a token's claims name, through jwt.role_claim's
 * JSPath (src/jspath.c), evaluated on the verified claims as jsonb
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/jsonb.h"

#include "jspath.h"
#include "roleclaim.h"

const char *
jwt_role_claim_check(const char *path)
{
	JsPath		parsed;
	const char *error;

	return jspath_parse(path, strlen(path), &parsed, &error) ? NULL : error;
}

/* The first string element of an array that passes the filter, or NULL. */
static JsonbValue *
first_match(JsonbContainer *array, const JsPathStep *step)
{
	uint32		n = JsonContainerSize(array);

	for (uint32 i = 0; i < n; i++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(array, i);

		if (v != NULL && v->type == jbvString &&
			jspath_filter_matches(step, v->val.string.val, v->val.string.len))
			return v;
	}
	return NULL;
}

char *
jwt_role_claim_value(Jsonb *claims, const char *path)
{
	JsPath		parsed;
	const char *error;
	JsonbValue	root;
	JsonbValue *v = &root;

	if (!jspath_parse(path, strlen(path), &parsed, &error))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("jwt.role_claim is not a valid claim path"),
				 errdetail("%s", error)));
	root.type = jbvBinary;
	root.val.binary.data = &claims->root;
	root.val.binary.len = VARSIZE(claims) - VARHDRSZ;
	for (int i = 0; i < parsed.nsteps; i++)
	{
		const JsPathStep *step = &parsed.steps[i];
		JsonbContainer *c;

		CHECK_FOR_INTERRUPTS();
		if (v->type != jbvBinary)
			return NULL;
		c = v->val.binary.data;
		switch (step->kind)
		{
			case JSPATH_KEY:
				if (!JsonContainerIsObject(c))
					return NULL;
				v = getKeyJsonValueFromContainer(c, step->text, step->len, NULL);
				break;
			case JSPATH_INDEX:
				if (!JsonContainerIsArray(c) || JsonContainerIsScalar(c) ||
					(uint32) step->index >= JsonContainerSize(c))
					return NULL;
				v = getIthJsonbValueFromContainer(c, (uint32) step->index);
				break;
			case JSPATH_FILTER:
				if (!JsonContainerIsArray(c) || JsonContainerIsScalar(c))
					return NULL;
				v = first_match(c, step);
				break;
		}
		if (v == NULL)
			return NULL;
	}
	if (v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}
