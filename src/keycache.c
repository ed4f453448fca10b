/*
 * keycache.c - parsed keys cached per backend, keyed by the key's bytes
 *
 * Parsing a PEM key costs hundreds of microseconds, far more than using it,
 * so each backend keeps its last few parsed keys (with their keyed HMAC
 * contexts).  An entry lives in its own memory context; evicting it frees
 * the OpenSSL objects and wipes the key bytes and secrets.
 *
 * The cache is bounded by entries and by bytes: key text longer than
 * KEYCACHE_MAX_KEY_LEN is parsed for the one call and freed with the call's
 * memory, and the entries together stay under KEYCACHE_MAX_BYTES.  A key
 * that fails to parse is remembered too (its bytes and its error), so that
 * calling again with an expensive bad key set costs a lookup, not a parse.
 */
#include "postgres.h"

#include <openssl/crypto.h>

#include "common/hashfn.h"
#include "utils/memutils.h"

#include "keycache.h"
#include "stats.h"

#define KEYCACHE_SIZE 32
/* longer key text is never cached: a JWKS of 100 8192-bit RSA keys is 150 kB */
#define KEYCACHE_MAX_KEY_LEN (256 * 1024)
/* all entries together, as their memory contexts measure them */
#define KEYCACHE_MAX_BYTES (8 * 1024 * 1024)

typedef struct KeyCacheEntry
{
	uint32		hash;
	bool		is_secret;
	size_t		len;
	char	   *bytes;			/* copy of the key text, to compare */
	MemoryContext cxt;
	JwtKeySet  *set;			/* NULL: the key failed to parse */
	JwtError   *failure;		/* then: why */
	Size		size;			/* memory of cxt */
	uint64		last_used;
} KeyCacheEntry;

static MemoryContext keycache_cxt = NULL;
static KeyCacheEntry keycache[KEYCACHE_SIZE];
static int	keycache_count = 0;
static Size keycache_bytes = 0;
static uint64 keycache_clock = 0;

static void
entry_release(KeyCacheEntry *e)
{
	jwt_keyset_free(e->set);
	OPENSSL_cleanse(e->bytes, e->len);
	MemoryContextDelete(e->cxt);
	keycache_bytes -= e->size;
	memset(e, 0, sizeof(*e));
}

/* Drop entry i, keeping the used entries at the front of the array. */
static void
entry_remove(int i)
{
	entry_release(&keycache[i]);
	keycache[i] = keycache[--keycache_count];
	memset(&keycache[keycache_count], 0, sizeof(KeyCacheEntry));
}

/* The least recently used entry other than keep, or -1. */
static int
entry_oldest(const KeyCacheEntry *keep)
{
	int			oldest = -1;

	for (int i = 0; i < keycache_count; i++)
		if (&keycache[i] != keep &&
			(oldest < 0 || keycache[i].last_used < keycache[oldest].last_used))
			oldest = i;
	return oldest;
}

/*
 * OpenSSL's memory for a key set, which no memory context sees: a rough
 * bound (an RSA key and its cached contexts hold some copies of the modulus).
 */
static Size
openssl_estimate(const JwtKeySet *set)
{
	Size		size = 0;

	if (set == NULL)
		return 0;
	for (int i = 0; i < set->nkeys; i++)
		size += 2048 + (set->keys[i].type == JWT_KEY_RSA ? (Size) set->keys[i].bits : 0);
	return size;
}

/* Frees an uncached key set when the call's memory goes. */
static void
oneshot_release(void *arg)
{
	jwt_keyset_free((JwtKeySet *) arg);
}

/*
 * A key too long to cache, parsed into a child of the caller's memory
 * context: it lives as long as the call's memory, and its OpenSSL objects
 * and secrets go with it (a reset callback), even when an error ends the call.
 */
static JwtStatus
parse_uncached(const char *data, size_t len, bool is_secret, JwtKeySet **set, JwtError *err)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "jwt key (uncached)",
											  ALLOCSET_SMALL_SIZES);
	JwtKeySet  *parsed = MemoryContextAllocZero(cxt, sizeof(JwtKeySet));
	MemoryContextCallback *cb = MemoryContextAlloc(cxt, sizeof(MemoryContextCallback));
	JwtStatus	st;

	jwt_stats_count(JWT_STAT_KEYCACHE_MISS);

	cb->func = oneshot_release;
	cb->arg = parsed;
	MemoryContextRegisterResetCallback(cxt, cb);
	st = jwt_keyset_parse(data, len, is_secret, cxt, parsed, err);
	if (st != JWT_OK)
	{
		MemoryContextDelete(cxt);
		return st;
	}
	*set = parsed;
	return JWT_OK;
}

/* The parsed key set for these key bytes, parsing them on first use. */
JwtStatus
jwt_keycache_get(const char *data, size_t len, bool is_secret, JwtKeySet **set, JwtError *err)
{
	uint32		hash;
	KeyCacheEntry *slot = NULL;
	MemoryContext cxt;
	JwtKeySet  *parsed;
	volatile JwtStatus st = JWT_OK;
	int			victim;

	if (len > KEYCACHE_MAX_KEY_LEN)
		return parse_uncached(data, len, is_secret, set, err);

	hash = hash_bytes((const unsigned char *) data, (int) len);
	for (int i = 0; i < keycache_count; i++)
	{
		KeyCacheEntry *e = &keycache[i];

		if (e->hash == hash && e->len == len && e->is_secret == is_secret &&
			memcmp(e->bytes, data, len) == 0)
		{
			e->last_used = ++keycache_clock;
			jwt_stats_count(JWT_STAT_KEYCACHE_HIT);
			if (e->set == NULL)
			{
				*err = *e->failure;
				return err->status;
			}
			*set = e->set;
			return JWT_OK;
		}
	}

	jwt_stats_count(JWT_STAT_KEYCACHE_MISS);
	if (keycache_cxt == NULL)
		keycache_cxt = AllocSetContextCreate(TopMemoryContext, "jwt key cache",
											 ALLOCSET_SMALL_SIZES);
	cxt = AllocSetContextCreate(keycache_cxt, "jwt key", ALLOCSET_SMALL_SIZES);
	parsed = MemoryContextAllocZero(cxt, sizeof(JwtKeySet));

	/*
	 * An error thrown mid-parse (out of memory, a cancel) must not leave a
	 * half-made entry.
	 */
	PG_TRY();
	{
		st = jwt_keyset_parse(data, len, is_secret, cxt, parsed, err);
	}
	PG_CATCH();
	{
		jwt_keyset_free(parsed);
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (st != JWT_OK)
	{
		/* keep the failure, not what was parsed before it */
		jwt_keyset_free(parsed);
		if (st == JWT_ERR_INTERNAL)
		{
			/* OpenSSL failing where it should not may not happen again */
			MemoryContextDelete(cxt);
			return st;
		}
		MemoryContextReset(cxt);
		parsed = NULL;
	}

	if (keycache_count == KEYCACHE_SIZE)
		entry_remove(entry_oldest(NULL));
	slot = &keycache[keycache_count++];
	slot->hash = hash;
	slot->is_secret = is_secret;
	slot->len = len;
	slot->bytes = MemoryContextAlloc(cxt, Max(len, 1));
	memcpy(slot->bytes, data, len);
	slot->cxt = cxt;
	slot->set = parsed;
	if (parsed == NULL)
	{
		slot->failure = MemoryContextAlloc(cxt, sizeof(JwtError));
		*slot->failure = *err;
	}
	slot->size = MemoryContextMemAllocated(cxt, true) + openssl_estimate(parsed);
	slot->last_used = ++keycache_clock;
	keycache_bytes += slot->size;

	/* evict the least recently used until the cache fits its byte budget */
	while (keycache_bytes > KEYCACHE_MAX_BYTES && (victim = entry_oldest(slot)) >= 0)
	{
		bool		moves = &keycache[keycache_count - 1] == slot;

		entry_remove(victim);
		/* entry_remove moved the last entry into the hole */
		if (moves)
			slot = &keycache[victim];
	}

	if (slot->set == NULL)
		return slot->failure->status;
	*set = slot->set;
	return JWT_OK;
}
