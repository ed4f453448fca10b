/*
 * fuzz/shim/arena.c - palloc and friends over per-arena chunk lists
 *
 * Replaces libpgcommon's frontend fe_memutils palloc family (this object is
 * linked before libpgcommon.a, so fe_memutils.o is never pulled in), and so
 * also serves the allocations of libpgcommon's jsonapi.o and stringinfo.o.
 *
 * Every palloc'd buffer is its own malloc() block of exactly the size asked
 * for, so AddressSanitizer reports overruns against the real bounds.  The
 * bookkeeping lives elsewhere: a chunk record links each buffer into its
 * arena (so that fuzz_arena_reset() frees what the core did not pfree, as a
 * server memory context reset would), and a pointer-keyed hash table finds
 * the record again for pfree and repalloc.  A pointer that is not in the
 * table is handed to free() anyway, so that ASan reports the double free or
 * bad free with its stacks.
 *
 * Misuse that the server would refuse with an ERROR or a crash (pfree of
 * NULL, a request over MaxAllocSize) aborts with a message here, so that
 * libFuzzer reports it.
 */
#include "postgres.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "arena.h"

typedef struct Chunk
{
	struct Chunk *prev;
	struct Chunk *next;
	struct FuzzArena *owner;
	void	   *ptr;
	size_t		size;
} Chunk;

struct FuzzArena
{
	Chunk		head;			/* circular list sentinel */
	size_t		nchunks;
	const char *name;
};

static struct FuzzArena top_arena = {
	.head = {&top_arena.head, &top_arena.head, &top_arena, NULL, 0},
	.name = "TopMemoryContext",
};

MemoryContext CurrentMemoryContext = &top_arena;

static void
arena_die(const char *what, size_t size)
{
	fprintf(stderr, "fuzz arena: %s (size %zu)\n", what, size);
	abort();
}

/* ---- pointer -> chunk: open addressing, linear probing, backward-shift delete ---- */

static Chunk **table;
static size_t table_size;		/* a power of two */
static size_t table_used;

static inline size_t
slot_of(const void *p)
{
	return (size_t) (((uintptr_t) p >> 4) * UINT64_C(0x9E3779B97F4A7C15) >> 20) & (table_size - 1);
}

static void table_insert(Chunk *c);

static void
table_grow(void)
{
	Chunk	  **old = table;
	size_t		old_size = table_size;

	table_size = table_size ? table_size * 2 : 1024;
	table = calloc(table_size, sizeof(Chunk *));
	if (table == NULL)
		arena_die("out of memory", table_size * sizeof(Chunk *));
	table_used = 0;
	for (size_t i = 0; i < old_size; i++)
		if (old[i])
			table_insert(old[i]);
	free(old);
}

static void
table_insert(Chunk *c)
{
	size_t		i;

	if ((table_used + 1) * 2 > table_size)
		table_grow();
	for (i = slot_of(c->ptr); table[i] != NULL; i = (i + 1) & (table_size - 1))
		;
	table[i] = c;
	table_used++;
}

static size_t
table_find(const void *p)
{
	if (table_size == 0)
		return SIZE_MAX;
	for (size_t i = slot_of(p); table[i] != NULL; i = (i + 1) & (table_size - 1))
		if (table[i]->ptr == p)
			return i;
	return SIZE_MAX;
}

static void
table_delete(size_t i)
{
	size_t		j = i;

	table[i] = NULL;
	table_used--;
	for (;;)
	{
		size_t		k;

		j = (j + 1) & (table_size - 1);
		if (table[j] == NULL)
			return;
		k = slot_of(table[j]->ptr);
		/* move table[j] back to i unless its home slot lies cyclically in (i, j] */
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j)))
		{
			table[i] = table[j];
			table[j] = NULL;
			i = j;
		}
	}
}

/* ---- arenas ---- */

static void
arena_init(struct FuzzArena *a, const char *name)
{
	a->head.prev = a->head.next = &a->head;
	a->head.owner = a;
	a->nchunks = 0;
	a->name = name;
}

MemoryContext
fuzz_arena_create(const char *name)
{
	struct FuzzArena *a = malloc(sizeof(*a));

	if (a == NULL)
		arena_die("out of memory", sizeof(*a));
	arena_init(a, name);
	return a;
}

static void
chunk_link(struct FuzzArena *a, Chunk *c)
{
	c->owner = a;
	c->prev = &a->head;
	c->next = a->head.next;
	a->head.next->prev = c;
	a->head.next = c;
	a->nchunks++;
}

static void
chunk_unlink(Chunk *c)
{
	c->prev->next = c->next;
	c->next->prev = c->prev;
	c->owner->nchunks--;
}

static void *
arena_alloc(struct FuzzArena *a, Size size, bool zero)
{
	Chunk	   *c;

	/* the server's palloc refuses these with an ERROR */
	if (size > MaxAllocSize)
		arena_die("invalid memory alloc request size", size);
	c = malloc(sizeof(Chunk));
	/* malloc(0) may return NULL or a shared pointer: palloc(0) is a real chunk */
	if (c == NULL || (c->ptr = malloc(size ? size : 1)) == NULL)
		arena_die("out of memory", size);
	c->size = size;
	chunk_link(a, c);
	table_insert(c);
	if (zero)
		memset(c->ptr, 0, size);
	return c->ptr;
}

/* The chunk record of a palloc'd pointer; a stranger goes to free() for ASan to judge. */
static size_t
chunk_slot(void *pointer, const char *caller)
{
	size_t		i;

	if (pointer == NULL)
		arena_die(caller, 0);
	i = table_find(pointer);
	if (i == SIZE_MAX)
	{
		free(pointer);
		arena_die("pointer was not palloc'd, or was already freed", 0);
	}
	return i;
}

void
fuzz_arena_reset(MemoryContext cxt)
{
	Chunk	   *c = cxt->head.next;

	while (c != &cxt->head)
	{
		Chunk	   *next = c->next;

		table_delete(table_find(c->ptr));
		free(c->ptr);
		free(c);
		c = next;
	}
	cxt->head.prev = cxt->head.next = &cxt->head;
	cxt->nchunks = 0;
}

void
fuzz_arena_delete(MemoryContext cxt)
{
	fuzz_arena_reset(cxt);
	if (cxt == CurrentMemoryContext)
		CurrentMemoryContext = &top_arena;
	if (cxt != &top_arena)
		free(cxt);
	if (table_used == 0)
	{
		free(table);
		table = NULL;
		table_size = 0;
	}
}

size_t
fuzz_arena_chunks(MemoryContext cxt)
{
	return cxt->nchunks;
}

/* ---- the server's MemoryContext API, as far as the core uses it ---- */

void *
MemoryContextAlloc(MemoryContext cxt, Size size)
{
	return arena_alloc(cxt, size, false);
}

void *
MemoryContextAllocZero(MemoryContext cxt, Size size)
{
	return arena_alloc(cxt, size, true);
}

char *
MemoryContextStrdup(MemoryContext cxt, const char *string)
{
	size_t		len = strlen(string);
	char	   *s = arena_alloc(cxt, len + 1, false);

	memcpy(s, string, len + 1);
	return s;
}

/* ---- common/fe_memutils.h ---- */

void *
palloc(Size size)
{
	return arena_alloc(CurrentMemoryContext, size, false);
}

void *
palloc0(Size size)
{
	return arena_alloc(CurrentMemoryContext, size, true);
}

void *
palloc_extended(Size size, int flags)
{
	if (size > MaxAllocSize && !(flags & MCXT_ALLOC_HUGE))
		arena_die("invalid memory alloc request size", size);
	return arena_alloc(CurrentMemoryContext, size, (flags & MCXT_ALLOC_ZERO) != 0);
}

void
pfree(void *pointer)
{
	size_t		i = chunk_slot(pointer, "pfree of NULL");
	Chunk	   *c = table[i];

	table_delete(i);
	chunk_unlink(c);
	free(c->ptr);
	free(c);
}

void *
repalloc(void *pointer, Size size)
{
	size_t		i = chunk_slot(pointer, "repalloc of NULL");
	Chunk	   *c = table[i];
	void	   *n;

	if (size > MaxAllocSize)
		arena_die("invalid memory alloc request size", size);
	/* always move, so that a stale pointer to the old buffer is caught */
	n = malloc(size ? size : 1);
	if (n == NULL)
		arena_die("out of memory", size);
	memcpy(n, c->ptr, Min(size, c->size));
	table_delete(i);
	free(c->ptr);
	c->ptr = n;
	c->size = size;
	table_insert(c);
	return n;
}

char *
pstrdup(const char *in)
{
	return MemoryContextStrdup(CurrentMemoryContext, in);
}

char *
pnstrdup(const char *in, Size size)
{
	size_t		len = strnlen(in, size);
	char	   *s = palloc(len + 1);

	memcpy(s, in, len);
	s[len] = '\0';
	return s;
}
