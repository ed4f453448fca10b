/*
 * token_cache.c - verified tokens cached per backend
 *
 * A client of a connection pool sends the same bearer token with every
 * request of its session, and an ES256 verification costs 60 µs or more.
 * So each backend keeps the tokens that verified: their exact bytes (compared
 * in full on a hit), their parse (header, payload, claims and their jsonb)
 * and the serial number of the parsed key object whose signature check they
 * passed.  That is all a hit gives: the caller runs every other check again
 * (algorithm allowlist, the key's own restrictions, the keyring's lookup and
 * the key's state, time, options, revocation), and jws_verify_key() skips the
 * signature only when the key chosen now is that very key object.  A key
 * object's serial is never reused in a backend: new key bytes, a reparse, or
 * a keyring reload all give a new one, so another key is always a miss.
 *
 * What is cached depends neither on time nor on options, so an entry cannot
 * change an answer; it leaves no later than its "exp" (it is never served
 * after it), on the keyring's invalidation, and under a CLOCK policy bounded
 * by jwt.token_cache_size entries and jwt.token_cache_memory bytes.  Only
 * tokens that passed every check are stored, and only on their second sight
 * (a small table of hashes, the doorkeeper), so a stream of distinct tokens
 * pays a lookup and nothing more.
 *
 * Each entry lives in a memory context of its own under "jwt token cache".
 * A hit pins its entry until the caller's memory is reset, because the caller
 * reads the parse after the call that may have dropped it (an invalidation
 * arrives whenever a lock is taken); an entry dropped while pinned is freed
 * when the last pin goes.
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "mb/pg_wchar.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "token_cache.h"

/* hashes of tokens seen once (a direct-mapped table) */
#define DOORKEEPER_SIZE 4096
/* the hash reads the end of the token: the signature, different in every token */
#define HASH_TAIL 32

typedef struct TokenCacheEntry
{
	struct TokenCacheEntry *next;	/* hash chain */
	MemoryContext cxt;			/* holds the entry and everything it points to */
	uint32		hash;
	int			slot;			/* place in the ring */
	bool		visited;		/* CLOCK: hit since the hand last passed */
	bool		dead;			/* dropped while pinned: freed by the last unpin */
	int			pins;
	size_t		len;
	char	   *token;
	JwsToken	tok;			/* tok.sig_verified_by: the key object that verified it */
	bool		has_claims;
	JsonDoc		claims;
	Jsonb	   *jsonb;			/* the claims as jsonb, or NULL */
	double		expires;		/* its exp (seconds since the epoch), or infinity */
	Size		size;
} TokenCacheEntry;

static bool token_cache_enabled = true;
static int	token_cache_size = 1000;
static int	token_cache_memory_kb = 4096;

static MemoryContext cache_cxt = NULL;
static TokenCacheEntry **ring = NULL;
static int	ring_capacity = 0;
static int	hand = 0;
static TokenCacheEntry **buckets = NULL;
static uint32 nbuckets = 0;
static int	count = 0;
static Size bytes = 0;
static double next_expiry = INFINITY;
static bool flush_pending = false;
static uint32 doorkeeper[DOORKEEPER_SIZE];
static TokenCacheStats counters;

void
jwt_token_cache_init(void)
{
	/* superuser-only: the cache never changes an answer, but it is memory */
	DefineCustomBoolVariable("jwt.token_cache",
							 "Keep verified tokens per backend, so that verifying one again skips its parse and signature.",
							 NULL, &token_cache_enabled, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("jwt.token_cache_size",
							"Most verified tokens a backend keeps.",
							NULL, &token_cache_size, 1000, 1, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("jwt.token_cache_memory",
							"Most memory a backend's verified-token cache holds.",
							NULL, &token_cache_memory_kb, 4096, 64, 1024 * 1024,
							PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);
}

/* The keyring changed (keyring.c's invalidation): drop everything at the next lookup. */
void
jwt_token_cache_invalidate(void)
{
	/* only mark: this may run while a caller reads an entry */
	flush_pending = true;
}

static double
wall_clock_seconds(void)
{
	TimestampTz now = GetCurrentTimestamp();

	return (double) now / USECS_PER_SEC +
		(double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
}

static uint32
token_hash(const char *token, size_t len)
{
	size_t		n = Min(len, HASH_TAIL);

	return hash_combine(hash_bytes((const unsigned char *) token + len - n, (int) n),
						(uint32) len);
}

/* The last pin of an entry went with its caller's memory. */
static void
unpin(void *arg)
{
	TokenCacheEntry *e = (TokenCacheEntry *) arg;

	if (--e->pins == 0 && e->dead)
		MemoryContextDelete(e->cxt);
}

/* Keep an entry alive while the caller's memory lives. */
static void
pin(TokenCacheEntry *e)
{
	MemoryContextCallback *cb = MemoryContextAlloc(CurrentMemoryContext, sizeof(*cb));

	cb->func = unpin;
	cb->arg = e;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	e->pins++;
}

/* Take an entry out of the ring and its chain, and free it unless pinned. */
static void
entry_drop(TokenCacheEntry *e)
{
	TokenCacheEntry **p = &buckets[e->hash & (nbuckets - 1)];

	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	ring[e->slot] = NULL;
	count--;
	bytes -= e->size;
	if (e->pins > 0)
		e->dead = true;
	else
		MemoryContextDelete(e->cxt);
}

static void
flush_all(void)
{
	for (int i = 0; i < ring_capacity; i++)
		if (ring[i] != NULL)
			entry_drop(ring[i]);
	hand = 0;
	next_expiry = INFINITY;
}

/* Drop the entries whose exp has come, and find the next exp. */
static void
sweep_expired(double now)
{
	next_expiry = INFINITY;
	for (int i = 0; i < ring_capacity; i++)
	{
		TokenCacheEntry *e = ring[i];

		if (e == NULL)
			continue;
		if (e->expires <= now)
			entry_drop(e);
		else if (e->expires < next_expiry)
			next_expiry = e->expires;
	}
}

/* The ring and the hash table sized for jwt.token_cache_size (emptied if it changed). */
static void
ensure_table(void)
{
	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(TopMemoryContext, "jwt token cache",
										  ALLOCSET_SMALL_SIZES);
	if (ring != NULL && ring_capacity == token_cache_size)
		return;
	if (ring != NULL)
	{
		flush_all();
		pfree(ring);
		pfree(buckets);
		ring = NULL;
	}
	nbuckets = 16;
	while (nbuckets < (uint32) token_cache_size * 2)
		nbuckets <<= 1;
	buckets = MemoryContextAllocZero(cache_cxt, sizeof(TokenCacheEntry *) * nbuckets);
	ring = MemoryContextAllocZero(cache_cxt, sizeof(TokenCacheEntry *) * token_cache_size);
	ring_capacity = token_cache_size;
	hand = 0;
}

/*
 * CLOCK: the first entry the hand finds not visited since it last passed
 * (the hand clears the marks it passes), dropped, never keep; or, when
 * take_free, a free slot met first.  -1 when there is nothing else to drop.
 */
static int
clock_slot(const TokenCacheEntry *keep, bool take_free)
{
	for (int steps = 0; steps <= 2 * ring_capacity; steps++)
	{
		int			i = hand;
		TokenCacheEntry *e = ring[i];

		hand = (hand + 1) % ring_capacity;
		if (e == NULL)
		{
			if (take_free)
				return i;
			continue;
		}
		if (e == keep)
			continue;
		if (e->visited)
			e->visited = false;
		else
		{
			entry_drop(e);
			counters.evictions++;
			return i;
		}
	}
	return -1;
}

static TokenCacheEntry *
find(const char *token, size_t len, uint32 hash)
{
	for (TokenCacheEntry *e = buckets[hash & (nbuckets - 1)]; e != NULL; e = e->next)
		if (e->hash == hash && e->len == len && memcmp(e->token, token, len) == 0)
			return e;
	return NULL;
}

/*
 * Look a token up.  A hit fills tok as jws_parse() would (with
 * tok->sig_verified_by set) and, when the claims were cached, claims and the
 * claims' jsonb (a copy in the caller's memory, if claims_jsonb is not NULL).
 * A miss says in probe whether the token is worth storing once it verifies.
 */
bool
jwt_token_cache_lookup(const char *token, size_t len, TokenCacheProbe *probe,
					   JwsToken *tok, JsonDoc *claims, bool *has_claims, Jsonb **claims_jsonb)
{
	TokenCacheEntry *e;
	double		now;
	uint32	   *seen;

	memset(probe, 0, sizeof(*probe));
	*has_claims = false;
	if (!token_cache_enabled)
	{
		if (count > 0)
			flush_all();
		return false;
	}
	ensure_table();
	if (flush_pending)
	{
		flush_pending = false;
		if (count > 0)
		{
			flush_all();
			counters.flushes++;
		}
	}
	/* jwt.token_cache_memory lowered: the budget holds from now, not from the next store */
	while (bytes > (Size) token_cache_memory_kb * 1024 && clock_slot(NULL, false) >= 0)
		;
	now = wall_clock_seconds();
	if (now >= next_expiry)
		sweep_expired(now);

	probe->hash = token_hash(token, len);
	e = find(token, len, probe->hash);
	if (e == NULL)
	{
		counters.misses++;
		seen = &doorkeeper[probe->hash % DOORKEEPER_SIZE];
		probe->admit = *seen == probe->hash;
		*seen = probe->hash;
		return false;
	}
	probe->verified_by = e->tok.sig_verified_by;
	e->visited = true;
	pin(e);
	*tok = e->tok;
	tok->text = token;
	/* the skip is for the key object that checked it; verified_by is this call's */
	tok->sig_cached_by = e->tok.sig_verified_by;
	tok->sig_verified_by = 0;
	if (e->has_claims && claims != NULL)
	{
		*claims = e->claims;
		*has_claims = true;
		if (claims_jsonb != NULL && e->jsonb != NULL)
		{
			*claims_jsonb = palloc(VARSIZE(e->jsonb));
			memcpy(*claims_jsonb, e->jsonb, VARSIZE(e->jsonb));
		}
	}
	return true;
}

/* Count a found token, once its key was chosen and checked: a hit or not. */
void
jwt_token_cache_count(const TokenCacheProbe *probe, const JwsToken *tok)
{
	if (tok->sig_verified_by == probe->verified_by)
		counters.hits++;
	else
		counters.misses++;
}

/*
 * A memory context for a miss's parse: the caller's child, so that an error
 * or a refusal leaves it to the caller's memory; the store adopts it.
 */
MemoryContext
jwt_token_cache_context(void)
{
	return AllocSetContextCreate(CurrentMemoryContext, "jwt token cache entry",
								 ALLOCSET_SMALL_SIZES);
}

/*
 * Store a token that passed every check.  cxt holds its parse (tok's payload
 * and signature, claims, jsonb); the header may point into jws.c's header
 * cache, so the entry parses its own copy.  tok->sig_verified_by names the key
 * object that checked the signature.  The entry stays pinned for the caller,
 * who still reads tok and claims.
 */
void
jwt_token_cache_store(const TokenCacheProbe *probe, MemoryContext cxt,
					  const char *token, size_t len, const JwsToken *tok,
					  const JsonDoc *claims, Jsonb *jsonb)
{
	TokenCacheEntry *e;
	MemoryContext old;
	JwtError	err;
	const JsonMember *exp = NULL;
	double		expires = INFINITY;
	Size		max_bytes = (Size) token_cache_memory_kb * 1024;
	int			slot;

	if (!token_cache_enabled || tok->sig_verified_by == 0 || ring == NULL)
		return;
	if (claims == NULL)
	{
		/* a JWS (jws_verify): if its payload is claims, it too leaves at its exp */
		JsonDoc    *doc = MemoryContextAlloc(cxt, sizeof(JsonDoc));

		old = MemoryContextSwitchTo(cxt);
		if (json_strict_parse(tok->payload, tok->payload_len, doc) == JSON_STRICT_OK)
			exp = json_doc_get(doc, "exp");
		MemoryContextSwitchTo(old);
	}
	else
		exp = json_doc_get(claims, "exp");
	if (exp != NULL)
	{
		if (exp->value.kind != JK_NUMBER)
			return;
		expires = json_number_double(&exp->value);
		if (expires <= wall_clock_seconds())
			return;
	}
	/* an entry for these bytes came in meanwhile (a nested call) */
	if (find(token, len, probe->hash) != NULL)
		return;

	old = MemoryContextSwitchTo(cxt);
	e = palloc0(sizeof(TokenCacheEntry));
	e->cxt = cxt;
	e->hash = probe->hash;
	e->len = len;
	e->token = palloc(len);
	memcpy(e->token, token, len);
	e->tok = *tok;
	e->tok.text = NULL;
	e->tok.header_json = palloc(tok->header_len + 1);
	memcpy(e->tok.header_json, tok->header_json, tok->header_len);
	e->tok.header_json[tok->header_len] = '\0';
	e->tok.header_checked = false;
	if (json_strict_parse(e->tok.header_json, e->tok.header_len, &e->tok.header) != JSON_STRICT_OK ||
		jws_check_header(&e->tok, &err) != JWT_OK || e->tok.alg != tok->alg)
	{
		/* cannot happen: the same header passed a moment ago */
		MemoryContextSwitchTo(old);
		return;
	}
	e->tok.header_checked = true;
	if (claims != NULL)
	{
		e->has_claims = true;
		e->claims = *claims;
		e->jsonb = jsonb;
	}
	e->expires = expires;
	MemoryContextSwitchTo(old);
	e->size = MemoryContextMemAllocated(cxt, true);
	if (e->size > max_bytes / 4)
		return;

	if (count < ring_capacity)
	{
		/* a free slot: the next one after the hand */
		while (ring[hand] != NULL)
			hand = (hand + 1) % ring_capacity;
		slot = hand;
		hand = (hand + 1) % ring_capacity;
	}
	else if ((slot = clock_slot(NULL, true)) < 0)
		return;

	MemoryContextSetParent(cxt, cache_cxt);
	e->slot = slot;
	ring[slot] = e;
	e->next = buckets[e->hash & (nbuckets - 1)];
	buckets[e->hash & (nbuckets - 1)] = e;
	count++;
	bytes += e->size;
	counters.stores++;
	if (expires < next_expiry)
		next_expiry = expires;
	pin(e);

	/* the byte budget: drop others until it fits */
	while (bytes > max_bytes && clock_slot(e, false) >= 0)
		;
}

void
jwt_token_cache_stats(TokenCacheStats *stats)
{
	*stats = counters;
	stats->entries = count;
	stats->bytes = bytes;
}
