/*
 * jspath.h - the claim path of jwt.role_claim: PostgREST's jwt-role-claim-key
 */
#ifndef JWT_JSPATH_H
#define JWT_JSPATH_H

#include <stdbool.h>
#include <stddef.h>

/* A longer path, or one of more steps, is refused: no role sits that deep. */
#define JSPATH_MAX_LEN 1024
#define JSPATH_MAX_STEPS 32

typedef enum JsPathStepKind
{
	JSPATH_KEY,					/* .name or ."any name" */
	JSPATH_INDEX,				/* [0] */
	JSPATH_FILTER				/* [?(@ op "value")]: the first string element that matches */
} JsPathStepKind;

typedef enum JsPathOp
{
	JSPATH_EQ,					/* == */
	JSPATH_NE,					/* != */
	JSPATH_STARTS,				/* ^== */
	JSPATH_ENDS,				/* ==^ */
	JSPATH_CONTAINS				/* *== */
} JsPathOp;

/* Names and values point into the parsed text (not NUL-terminated). */
typedef struct JsPathStep
{
	JsPathStepKind kind;
	const char *text;
	size_t		len;
	int			index;
	JsPathOp	op;
} JsPathStep;

typedef struct JsPath
{
	int			nsteps;
	JsPathStep	steps[JSPATH_MAX_STEPS];
} JsPath;

/*
 * Parse a jwt.role_claim value: a JSPath (starting with "." or "$.") in
 * PostgREST's jwt-role-claim-key grammar, or else a plain claim name.  On
 * failure returns false and a message (without the path) in *error.
 */
extern bool jspath_parse(const char *text, size_t len, JsPath *path, const char **error);
/* Does the string value pass the filter step? */
extern bool jspath_filter_matches(const JsPathStep *step, const char *value, size_t len);

#endif
