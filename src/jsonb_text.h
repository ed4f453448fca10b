/*
 * jsonb_text.h - compact JSON text from jsonb, for token headers and claims
 */
#ifndef JWT_JSONB_TEXT_H
#define JWT_JSONB_TEXT_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

extern void jsonb_append_string(StringInfo out, const char *s, int len);
extern void jsonb_append_value(StringInfo out, JsonbValue *v);
extern void jsonb_append_compact(StringInfo out, JsonbContainer *container);
extern void jsonb_append_object_members(StringInfo out, JsonbContainer *container, bool *any);

#endif
