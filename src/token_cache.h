/*
 * token_cache.h - verified tokens cached per backend: their parse and the
 * key object whose signature check they passed
 */
#ifndef JWT_TOKEN_CACHE_H
#define JWT_TOKEN_CACHE_H

#include "jws.h"
#include "utils/jsonb.h"

typedef struct TokenCacheProbe
{
	uint32		hash;
	bool		admit;			/* a miss worth storing if it verifies */
	uint64		verified_by;	/* a hit: the key object that verified it then */
} TokenCacheProbe;

typedef struct TokenCacheStats
{
	int			entries;
	Size		bytes;
	uint64		hits;			/* found, and the key chosen now had verified it */
	uint64		misses;			/* not found, or found with another key */
	uint64		stores;
	uint64		evictions;
	uint64		flushes;
} TokenCacheStats;

extern void jwt_token_cache_init(void);
extern void jwt_token_cache_invalidate(void);
extern bool jwt_token_cache_lookup(const char *token, size_t len, TokenCacheProbe *probe,
								   JwsToken *tok, JsonDoc *claims, bool *has_claims,
								   Jsonb **claims_jsonb);
extern void jwt_token_cache_count(const TokenCacheProbe *probe, const JwsToken *tok);
extern MemoryContext jwt_token_cache_context(void);
extern void jwt_token_cache_store(const TokenCacheProbe *probe, MemoryContext cxt,
								  const char *token, size_t len, const JwsToken *tok,
								  const JsonDoc *claims, Jsonb *jsonb);
extern void jwt_token_cache_stats(TokenCacheStats *stats);

#endif
