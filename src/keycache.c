/*
 * keycache.c - parsed keys cached per backend, keyed by the key's bytes
 *
 * Parsing a PEM key costs hundreds of microseconds, far more than using it,
 * so each backend keeps its last few parsed keys (with their keyed HMAC
 * contexts).  An entry lives in its own memory context; evicting it frees
 * the OpenSSL objects and wipes the key bytes and secrets.
 */
#include "postgres.h"

#include <openssl/crypto.h>

#include "common/hashfn.h"
#include "utils/memutils.h"

#include "keycache.h"

#define KEYCACHE_SIZE 32

typedef struct KeyCacheEntry
{
	uint32		hash;
	bool		is_secret;
	size_t		len;
	char	   *bytes;			/* copy of the key text, to compare */
	MemoryContext cxt;
	JwtKeySet  *set;
	uint64		last_used;
} KeyCacheEntry;

static MemoryContext keycache_cxt = NULL;
static KeyCacheEntry keycache[KEYCACHE_SIZE];
static int	keycache_count = 0;
static uint64 keycache_clock = 0;

static void
entry_release(KeyCacheEntry *e)
{
	jwt_keyset_free(e->set);
	OPENSSL_cleanse(e->bytes, e->len);
	MemoryContextDelete(e->cxt);
	memset(e, 0, sizeof(*e));
}

/* The parsed key set for these key bytes, parsing them on first use. */
JwtStatus
jwt_keycache_get(const char *data, size_t len, bool is_secret, JwtKeySet **set, JwtError *err)
{
	uint32		hash = hash_bytes((const unsigned char *) data, (int) len);
	KeyCacheEntry *slot = NULL;
	MemoryContext cxt;
	JwtKeySet  *parsed;
	volatile JwtStatus st = JWT_OK;

	for (int i = 0; i < keycache_count; i++)
	{
		KeyCacheEntry *e = &keycache[i];

		if (e->hash == hash && e->len == len && e->is_secret == is_secret &&
			memcmp(e->bytes, data, len) == 0)
		{
			e->last_used = ++keycache_clock;
			*set = e->set;
			return JWT_OK;
		}
	}

	if (keycache_cxt == NULL)
		keycache_cxt = AllocSetContextCreate(TopMemoryContext, "jwt key cache",
											 ALLOCSET_SMALL_SIZES);
	cxt = AllocSetContextCreate(keycache_cxt, "jwt key", ALLOCSET_SMALL_SIZES);
	parsed = MemoryContextAllocZero(cxt, sizeof(JwtKeySet));

	/* an error thrown mid-parse (out of memory) must not leave a half-made entry */
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
		jwt_keyset_free(parsed);
		MemoryContextDelete(cxt);
		return st;
	}

	if (keycache_count < KEYCACHE_SIZE)
		slot = &keycache[keycache_count++];
	else
	{
		slot = &keycache[0];
		for (int i = 1; i < KEYCACHE_SIZE; i++)
			if (keycache[i].last_used < slot->last_used)
				slot = &keycache[i];
		entry_release(slot);
	}
	slot->hash = hash;
	slot->is_secret = is_secret;
	slot->len = len;
	slot->bytes = MemoryContextAlloc(cxt, Max(len, 1));
	memcpy(slot->bytes, data, len);
	slot->cxt = cxt;
	slot->set = parsed;
	slot->last_used = ++keycache_clock;
	*set = parsed;
	return JWT_OK;
}
