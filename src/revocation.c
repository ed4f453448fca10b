/*
 * revocation.c - is a verified token revoked?
 *
 * Three tables of the extension: jwt_revoked_tokens (by jti),
 * jwt_revoked_subjects (every token of a subject issued before a time) and
 * jwt_revoked_sessions (every token carrying a session id "sid": an ended
 * session family, see sessions.c; missing before 0.2.0).
 * They are ordinary WAL-logged rows, so revocations survive crashes and
 * replicate to standbys.  Lookups go through the primary-key indexes directly,
 * with the latest snapshot, so a revocation committed by another session
 * counts at once; nothing is written.  jwt_sign asks here for the iat of a
 * token whose subject was cut off a moment ago, so that a token issued after
 * a cut-off is not revoked by it.
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/xact.h"
#include "access/hash.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_trigger.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/jsonb.h"
#include "utils/reltrigger.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "b64url.h"
#include "crypto.h"
#include "keyring.h"
#include "revocation.h"
#include "stats.h"

/*
 * The two tables, the index each lookup goes through and the column a
 * lookup may read, found once per backend: looking them up by name on every
 * verification cost more than the index lookups themselves.  Any relcache
 * invalidation of the tables (DROP EXTENSION, a rewrite, a new index) or a
 * full reset forgets them.
 *
 * The lookup index is the hash index on the key when there is one (since
 * 0.2.0): a probe reads one bucket page and compares 32-bit hash codes,
 * where the primary key's B-tree descends several levels comparing text
 * through the function manager; with a million revoked ids that was most of
 * the cost of a verification.  Without it (a library newer than the
 * installed SQL), the primary key serves.
 */
enum
{
	REVOKED_TOKENS,
	REVOKED_SUBJECTS,
	REVOKED_SESSIONS
};
typedef struct RevocationTable
{
	const char *name;
	const char *want_col;		/* column read from a matching row, or NULL */
	Oid			relid;
	Oid			indexid;
	AttrNumber	want_attnum;
	bool		has_change_trigger; /* see table_known_empty() */
	bool		known_empty;
	bool		known_nonempty;
} RevocationTable;

static RevocationTable revocation_tables[] = {
	{"jwt_revoked_tokens", NULL, InvalidOid, InvalidOid, InvalidAttrNumber, false, false, false},
	{"jwt_revoked_subjects", "revoked_before", InvalidOid, InvalidOid, InvalidAttrNumber, false, false, false},
	{"jwt_revoked_sessions", NULL, InvalidOid, InvalidOid, InvalidAttrNumber, false, false, false}
};
static bool revocation_tables_known = false;
static uint64 revocation_invalidations = 0;

/*
 * The revocation cache.  With long lists every verification paid one or two
 * index probes, mostly cache misses over a large index: with a million
 * revoked ids that doubled the cost of an HS256 verification.  A backend
 * that has checked many tokens since the lists last changed loads them into
 * memory instead:
 *  - the ids as a blocked Bloom filter (12 bits an id, one cache line a
 *    lookup): "absent" is certain; "maybe" (about 1 in 300 absent ids) is
 *    settled by the index probe;
 *  - the subject cut-offs as a table from a 64-bit hash of the subject to
 *    the latest cut-off with that hash: a token issued at or after it is not
 *    revoked, whichever subject the hash belongs to; anything else is settled
 *    by the probe.
 * The cache is exact as of the snapshot that loaded it, and valid until the
 * next relcache invalidation of either table, which the change triggers send
 * at every commit that changes them (see table_known_empty()).  Loading reads
 * both tables whole, so a backend loads only once the probes since the last
 * change reach a sixteenth of the rows (at least REVOCATION_CACHE_MIN_PROBES):
 * the probes it saves pay for it, and a backend that verifies a handful of
 * tokens never loads.
 */
#define REVOCATION_CACHE_MIN_PROBES 256
#define BLOOM_BITS_PER_ID 12
#define BLOOM_BLOCK_WORDS 8		/* 512 bits: one cache line */
#define BLOOM_HASHES 7

typedef struct RevocationCache
{
	MemoryContext cxt;			/* NULL: not loaded */
	uint64		invalidations;	/* revocation_invalidations before its snapshot */
	uint64		probes;			/* probes since the lists last changed */
	uint64		load_after;		/* probes that make loading worth it */
	uint64	   *bloom;
	uint32		bloom_blocks;
	struct SubjectSlot *subjects;	/* open addressing */
	uint32		subject_mask;	/* slots - 1 */
} RevocationCache;

typedef struct SubjectSlot
{
	uint64		hash;			/* 0: empty */
	int64		cutoff;			/* Unix microseconds */
} SubjectSlot;

/* Start fetching a cache line the check will read: hides part of a miss. */
#if defined(__GNUC__) || defined(__clang__)
#define prefetch(p) __builtin_prefetch(p)
#else
#define prefetch(p) ((void) (p))
#endif

static RevocationCache revocation_cache;
static bool revocation_cache_enabled = true;

/*
 * When this backend last learnt of a change to the subject cut-offs (or
 * found the tables), and the latest iat jwt_sign handed out in the current
 * statement: see jwt_revocation_issue_time().
 */
static TimestampTz subjects_changed_at = 0;
static TimestampTz issued_statement = 0;
static TimestampTz issued_latest = 0;

static void
revocation_relcache_callback(Datum arg, Oid relid)
{
	(void) arg;
	if (relid == InvalidOid ||
		relid == revocation_tables[REVOKED_TOKENS].relid ||
		relid == revocation_tables[REVOKED_SUBJECTS].relid ||
		relid == revocation_tables[REVOKED_SESSIONS].relid)
	{
		revocation_tables_known = false;
		revocation_invalidations++;
		revocation_cache.probes = 0;
		if (relid != revocation_tables[REVOKED_TOKENS].relid &&
			relid != revocation_tables[REVOKED_SESSIONS].relid)
			subjects_changed_at = GetCurrentTimestamp();
	}
}

/*
 * Does the table have 0.2.0's row trigger that sends a relcache invalidation
 * on every inserted, updated or deleted row, firing always?  A row trigger,
 * because logical replication's apply fires row triggers only, and ALWAYS,
 * because it runs in replica mode.  (TRUNCATE gives the table a new file,
 * which invalidates it anyway.)  ALTER TABLE ... ENABLE TRIGGER ALL, as after
 * pg_restore --disable-triggers, makes it fire on origin only: then every
 * verification probes until it is enabled ALWAYS again.
 */
static bool
has_change_trigger(Relation rel, const char *table)
{
	TriggerDesc *td = rel->trigdesc;
	char		name[NAMEDATALEN];

	snprintf(name, sizeof(name), "%s_changed", table);
	if (td == NULL)
		return false;
	for (int i = 0; i < td->numtriggers; i++)
	{
		Trigger    *tg = &td->triggers[i];

		if (strcmp(tg->tgname, name) == 0)
			return tg->tgenabled == TRIGGER_FIRES_ALWAYS && TRIGGER_FOR_ROW(tg->tgtype) &&
				TRIGGER_FOR_INSERT(tg->tgtype) && TRIGGER_FOR_UPDATE(tg->tgtype) &&
				TRIGGER_FOR_DELETE(tg->tgtype);
	}
	return false;
}

void
jwt_revocation_init(void)
{
	DefineCustomBoolVariable("jwt.revocation_cache",
							 "Keep the revocation lists in backend memory once enough checks pay for loading them.",
							 NULL, &revocation_cache_enabled, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	CacheRegisterRelcacheCallback(revocation_relcache_callback, (Datum) 0);
}

/* A hash index on exactly the table's first column (the key), if any. */
static Oid
key_hash_index(Relation rel)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);

		if (index->rd_rel->relam == HASH_AM_OID &&
			index->rd_index->indnatts == 1 &&
			index->rd_index->indkey.values[0] == 1 &&
			index->rd_index->indisvalid &&
			RelationGetIndexPredicate(index) == NIL &&
			RelationGetIndexExpressions(index) == NIL)
			found = RelationGetRelid(index);
		index_close(index, AccessShareLock);
		if (OidIsValid(found))
			break;
	}
	list_free(indexes);
	return found;
}

static void
find_revocation_tables(void)
{
	Oid			schema = jwt_extension_schema();
	double		rows = 0;

	for (int i = 0; i < (int) lengthof(revocation_tables); i++)
	{
		RevocationTable *t = &revocation_tables[i];
		Oid			relid = get_relname_relid(t->name, schema);
		Relation	rel;

		/* 0.1.0's SQL has no session list: nothing is revoked by sid there */
		if (!OidIsValid(relid) && i == REVOKED_SESSIONS)
		{
			t->relid = InvalidOid;
			t->indexid = InvalidOid;
			t->has_change_trigger = true;
			t->known_empty = true;
			t->known_nonempty = false;
			continue;
		}
		if (!OidIsValid(relid))
			elog(ERROR, "table %s of extension jwt is missing", t->name);
		rel = table_open(relid, AccessShareLock);
		t->indexid = key_hash_index(rel);
		if (!OidIsValid(t->indexid))
#if PG_VERSION_NUM >= 180000
			t->indexid = RelationGetPrimaryKeyIndex(rel, false);
#else
			t->indexid = RelationGetPrimaryKeyIndex(rel);
#endif
		t->want_attnum = InvalidAttrNumber;
		t->has_change_trigger = has_change_trigger(rel, t->name);
		t->known_empty = t->known_nonempty = false;
		/* reltuples is -1 before the first VACUUM or ANALYZE (PostgreSQL 14+) */
		rows += rel->rd_rel->reltuples >= 0 ? rel->rd_rel->reltuples
			: (double) RelationGetNumberOfBlocks(rel) * 100;
		if (t->want_col != NULL)
		{
			TupleDesc	desc = RelationGetDescr(rel);

			for (int a = 0; a < desc->natts; a++)
				if (!TupleDescAttr(desc, a)->attisdropped &&
					strcmp(NameStr(TupleDescAttr(desc, a)->attname), t->want_col) == 0)
					t->want_attnum = a + 1;
			if (t->want_attnum == InvalidAttrNumber)
				elog(ERROR, "table %s has no column %s", t->name, t->want_col);
		}
		table_close(rel, AccessShareLock);
		if (!OidIsValid(t->indexid))
			elog(ERROR, "table %s has no primary key", t->name);
		t->relid = relid;
	}
	revocation_cache.load_after = Max(REVOCATION_CACHE_MIN_PROBES, (uint64) (rows / 16));
	revocation_tables_known = true;
	/* a change before now may not have been heard of */
	subjects_changed_at = GetCurrentTimestamp();
}

/*
 * Is there a row of a revocation table whose text key (declared COLLATE "C",
 * as the scan key below assumes) equals value, visible to snapshot?  When
 * there is and the table has a column to read, its value goes to *want.
 *
 * The locks are kept to the end of the transaction, as the executor does:
 * releasing and retaking them on every row of a query cost more than the
 * probe.
 */
static bool
lookup_by_key(RevocationTable *t, const char *value, Snapshot snapshot,
			  Datum *want, bool *want_null)
{
	Relation	rel;
	Relation	index;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData key;
	text	   *value_text = cstring_to_text(value);
	bool		found = false;

	rel = table_open(t->relid, AccessShareLock);
	index = index_open(t->indexid, AccessShareLock);
	ScanKeyInit(&key, 1,
				index->rd_rel->relam == HASH_AM_OID ? HTEqualStrategyNumber : BTEqualStrategyNumber,
				F_TEXTEQ, PointerGetDatum(value_text));
	/* the index's own collation (the column is declared C; this keeps a B-tree descent right) */
	key.sk_collation = index->rd_indcollation[0];
	slot = table_slot_create(rel, NULL);
	/* PostgreSQL 18 added an instrumentation argument (NULL: none). */
#if PG_VERSION_NUM >= 180000
	scan = index_beginscan(rel, index, snapshot, NULL, 1, 0);
#else
	scan = index_beginscan(rel, index, snapshot, 1, 0);
#endif
	index_rescan(scan, &key, 1, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		stored = slot_getattr(slot, 1, &isnull);

		/* a hash index matches hash codes: compare the key itself */
		if (scan->xs_recheck &&
			(isnull || !DatumGetBool(DirectFunctionCall2Coll(texteq, C_COLLATION_OID,
															  stored, PointerGetDatum(value_text)))))
			continue;
		found = true;
		if (want != NULL)
			*want = slot_getattr(slot, t->want_attnum, want_null);
		break;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(rel, NoLock);
	pfree(value_text);
	return found;
}

/*
 * Is the table known to have no rows?  Most databases revoke little or
 * nothing, and an empty table need not be probed on every verification.
 * What a backend learnt stays true until a relcache invalidation of the
 * table, which the change trigger sends at the commit of any change (also
 * through WAL to hot standbys, and from logical replication's apply);
 * jwt_check_revocation takes in pending invalidations first.  The commit
 * becomes visible a moment before its invalidation is sent, so a snapshot
 * taken after the invalidation sees the new rows, and a revocation counts in
 * every session by the time the revoking COMMIT returns.  Without the
 * trigger (0.1.0's SQL, or not enabled ALWAYS), every verification probes.
 *
 * invalidations is the counter as read before snapshot was taken; NULL when
 * the snapshot may be older than that (a parallel query's, which can predate
 * invalidations already taken in): then nothing is learnt, since a change
 * the snapshot misses might already have been counted.
 */
static bool
table_known_empty(RevocationTable *t, Snapshot snapshot, const uint64 *invalidations)
{
	Relation	rel;
	TableScanDesc scan;
	TupleTableSlot *slot;
	bool		empty;

	if (!OidIsValid(t->relid))
		return true;			/* a list the installed SQL lacks */
	if (!t->has_change_trigger || t->known_nonempty)
		return false;
	if (t->known_empty)
		return true;
	rel = table_open(t->relid, AccessShareLock);
	slot = table_slot_create(rel, NULL);
	scan = table_beginscan(rel, snapshot, 0, NULL);
	empty = !table_scan_getnextslot(scan, ForwardScanDirection, slot);
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	/* an invalidation taken in meanwhile (opening takes them) may be newer than the snapshot */
	if (invalidations != NULL && *invalidations == revocation_invalidations && revocation_tables_known)
	{
		t->known_empty = empty;
		t->known_nonempty = !empty;
	}
	return empty;
}

static inline uint64
key_hash(const char *s, size_t len)
{
	uint64		h = hash_bytes_extended((const unsigned char *) s, (int) len, 0);

	return h != 0 ? h : 1;		/* 0 marks an empty slot */
}

/*
 * A session id's hash, kept in the same Bloom filter as the token ids: a
 * different seed, so that a jti equal to a revoked sid is not a hit (the
 * probe would settle it anyway).
 */
static inline uint64
sid_hash(const char *s, size_t len)
{
	uint64		h = hash_bytes_extended((const unsigned char *) s, (int) len, UINT64CONST(0x6a77742d736964));

	return h != 0 ? h : 1;
}

/* The block of a hash, and the BLOOM_HASHES bits in it, from independent bits. */
static inline uint64 *
bloom_block(const RevocationCache *c, uint64 h)
{
	return c->bloom + (((h >> 32) * (uint64) c->bloom_blocks) >> 32) * BLOOM_BLOCK_WORDS;
}

static inline uint64
bloom_bits_source(uint64 h)
{
	return (h ^ (h >> 31)) * UINT64CONST(0x9E3779B97F4A7C15);
}

static void
bloom_add(RevocationCache *c, uint64 h)
{
	uint64	   *block = bloom_block(c, h);
	uint64		bits = bloom_bits_source(h);

	for (int i = 0; i < BLOOM_HASHES; i++, bits >>= 9)
		block[(bits & 511) >> 6] |= UINT64CONST(1) << (bits & 63);
}

static bool
bloom_maybe(const RevocationCache *c, uint64 h)
{
	const uint64 *block = bloom_block(c, h);
	uint64		bits = bloom_bits_source(h);

	for (int i = 0; i < BLOOM_HASHES; i++, bits >>= 9)
		if (!(block[(bits & 511) >> 6] & (UINT64CONST(1) << (bits & 63))))
			return false;
	return true;
}

static void
subject_add(RevocationCache *c, uint64 h, int64 cutoff)
{
	SubjectSlot *slot = &c->subjects[(uint32) h & c->subject_mask];

	while (slot->hash != 0 && slot->hash != h)
		slot = &c->subjects[(slot - c->subjects + 1) & c->subject_mask];
	if (slot->hash == 0 || cutoff > slot->cutoff)
		slot->cutoff = cutoff;
	slot->hash = h;
}

/*
 * The latest cut-off of subjects with hash h into *cutoff; false when none
 * has it.  (Any value can be a cut-off: before 1970, or -infinity.)
 */
static bool
subject_latest_cutoff(const RevocationCache *c, uint64 h, int64 *cutoff)
{
	uint32		i = (uint32) h & c->subject_mask;

	while (c->subjects[i].hash != 0)
	{
		if (c->subjects[i].hash == h)
		{
			*cutoff = c->subjects[i].cutoff;
			return true;
		}
		i = (i + 1) & c->subject_mask;
	}
	return false;
}

/*
 * A cut-off as Unix microseconds, exact: a cut-off and the iat of a token
 * signed a microsecond later must compare as they happened.  -infinity and
 * +infinity (and the few finite values beyond int64 once shifted) saturate.
 */
static int64
unix_micros(TimestampTz ts)
{
	int64		us;

	if (TIMESTAMP_IS_NOBEGIN(ts))
		return PG_INT64_MIN;
	if (TIMESTAMP_IS_NOEND(ts) ||
		pg_add_s64_overflow(ts, (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY, &us))
		return PG_INT64_MAX;
	return us;
}

static void
revocation_cache_free(void)
{
	if (revocation_cache.cxt != NULL)
		MemoryContextDelete(revocation_cache.cxt);
	revocation_cache.cxt = NULL;
}

/*
 * The hashes of a table's keys visible to snapshot, and for the subjects
 * their cut-offs, in arrays allocated in the current context.
 */
static int64
read_keys(RevocationTable *t, Snapshot snapshot, uint64 **hashes, int64 **cutoffs)
{
	Relation	rel;
	TupleTableSlot *slot;
	TableScanDesc scan;
	int64		n = 0,
				cap = 1024;
	uint64	   *h = palloc(sizeof(uint64) * cap);
	int64	   *cut = cutoffs != NULL ? palloc(sizeof(int64) * cap) : NULL;

	if (!OidIsValid(t->relid))
	{
		*hashes = h;
		return 0;
	}
	rel = table_open(t->relid, AccessShareLock);
	slot = table_slot_create(rel, NULL);
	scan = table_beginscan(rel, snapshot, 0, NULL);

	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		key = slot_getattr(slot, 1, &isnull);
		text	   *k;

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		if (n == cap)
		{
			cap *= 2;
			h = repalloc_huge(h, sizeof(uint64) * cap);
			if (cut != NULL)
				cut = repalloc_huge(cut, sizeof(int64) * cap);
		}
		if (cut != NULL)
		{
			Datum		before = slot_getattr(slot, t->want_attnum, &isnull);

			if (isnull)
				continue;		/* a cut-off without a time revokes nothing */
			cut[n] = unix_micros(DatumGetTimestampTz(before));
		}
		k = DatumGetTextPP(key);
		h[n++] = t == &revocation_tables[REVOKED_SESSIONS]
			? sid_hash(VARDATA_ANY(k), VARSIZE_ANY_EXHDR(k))
			: key_hash(VARDATA_ANY(k), VARSIZE_ANY_EXHDR(k));
		if ((Pointer) k != DatumGetPointer(key))
			pfree(k);
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	*hashes = h;
	if (cutoffs != NULL)
		*cutoffs = cut;
	return n;
}

/*
 * Load both lists as snapshot sees them.  invalidations is the counter read
 * before the snapshot was taken: a change the snapshot missed is announced
 * after it, so the cache is valid while the counter has not moved.  Built in
 * a context under the caller's and kept only once complete, so an error or a
 * cancel on the way leaves nothing half-built.
 */
static void
revocation_cache_load(Snapshot snapshot, uint64 invalidations)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "jwt revocation cache",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	MemoryContext scratch = AllocSetContextCreate(cxt, "jwt revocation cache load",
												  ALLOCSET_DEFAULT_SIZES);
	RevocationCache c;
	uint64	   *ids,
			   *subjects,
			   *sids;
	int64	   *cutoffs;
	int64		nids,
				nsubjects,
				nsids;
	uint64		slots = 16;
	TimestampTz start = GetCurrentTimestamp();

	memset(&c, 0, sizeof(c));
	MemoryContextSwitchTo(scratch);
	nids = read_keys(&revocation_tables[REVOKED_TOKENS], snapshot, &ids, NULL);
	nsubjects = read_keys(&revocation_tables[REVOKED_SUBJECTS], snapshot, &subjects, &cutoffs);
	nsids = read_keys(&revocation_tables[REVOKED_SESSIONS], snapshot, &sids, NULL);
	MemoryContextSwitchTo(cxt);

	c.bloom_blocks = (uint32) Max(1, ((nids + nsids) * BLOOM_BITS_PER_ID + 511) / 512);
	c.bloom = MemoryContextAllocExtended(cxt, sizeof(uint64) * BLOOM_BLOCK_WORDS * (Size) c.bloom_blocks,
										 MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	for (int64 i = 0; i < nids; i++)
		bloom_add(&c, ids[i]);
	for (int64 i = 0; i < nsids; i++)
		bloom_add(&c, sids[i]);
	while (slots < (uint64) nsubjects * 2)
		slots *= 2;
	c.subject_mask = (uint32) (slots - 1);
	c.subjects = MemoryContextAllocExtended(cxt, sizeof(SubjectSlot) * slots,
											MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	for (int64 i = 0; i < nsubjects; i++)
		subject_add(&c, subjects[i], cutoffs[i]);
	MemoryContextDelete(scratch);
	MemoryContextSwitchTo(old);

	revocation_cache_free();
	MemoryContextSetParent(cxt, TopMemoryContext);
	c.cxt = cxt;
	c.invalidations = invalidations;
	c.probes = revocation_cache.probes;
	c.load_after = revocation_cache.load_after;
	revocation_cache = c;
	elog(DEBUG1, "jwt: revocation lists cached: " INT64_FORMAT " ids, " INT64_FORMAT " subjects",
		 nids, nsubjects);
	if (nsids > 0)
		elog(DEBUG1, "jwt: revocation lists cached: " INT64_FORMAT " ended sessions", nsids);
	elog(DEBUG2, "jwt: loading the revocation cache took %.1f ms, %zu bytes",
		 (double) (GetCurrentTimestamp() - start) / 1000.0, MemoryContextMemAllocated(cxt, true));
	jwt_stats_count(JWT_STAT_REVCACHE_LOAD);
}

/* The cache can answer: loaded, and no change announced since. */
static bool
revocation_cache_valid(void)
{
	if (revocation_cache.cxt == NULL)
		return false;
	if (revocation_cache_enabled && revocation_cache.invalidations == revocation_invalidations &&
		revocation_tables[REVOKED_TOKENS].has_change_trigger &&
		revocation_tables[REVOKED_SUBJECTS].has_change_trigger &&
		revocation_tables[REVOKED_SESSIONS].has_change_trigger)
		return true;
	revocation_cache_free();
	return false;
}

/*
 * Does a subject cut-off revoke the token?  Without a numeric iat the token
 * cannot show it came after the cut-off.  iat is compared to the microsecond,
 * a cut-off's precision (jwt_sign writes it after a cut-off in the same
 * second): the nearest microsecond of the double is the one its decimal
 * names, for any date before 2255.
 */
static bool
cutoff_revokes(const JsonDoc *claims, int64 cutoff)
{
	const JsonMember *iat = json_doc_get(claims, "iat");
	double		us;

	if (iat == NULL || iat->value.kind != JK_NUMBER)
		return true;
	us = rint(json_number_double(&iat->value) * USECS_PER_SEC);
	if (isnan(us))
		return true;
	if (us >= (double) PG_INT64_MAX)
		return cutoff == PG_INT64_MAX;
	if (us <= (double) PG_INT64_MIN)
		return cutoff > PG_INT64_MIN;
	return (int64) us < cutoff;
}

/*
 * Could the cache's lists revoke this token?  false is certain; true needs
 * the probes.
 */
static bool
revocation_cache_maybe(uint64 jti_hash, uint64 sub_hash, uint64 sid_h, const JsonDoc *claims)
{
	int64		cutoff;

	if (jti_hash != 0 && bloom_maybe(&revocation_cache, jti_hash))
		return true;
	if (sid_h != 0 && bloom_maybe(&revocation_cache, sid_h))
		return true;
	return sub_hash != 0 && subject_latest_cutoff(&revocation_cache, sub_hash, &cutoff) &&
		cutoff_revokes(claims, cutoff);
}


static const char *
string_claim(const JsonDoc *claims, const char *name)
{
	const JsonMember *m = json_doc_get(claims, name);

	return (m != NULL && m->value.kind == JK_STRING) ? m->value.str : NULL;
}

/* A string member of a jsonb object as a C string, or NULL. */
static const char *
jsonb_string(Jsonb *jb, const char *name)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&jb->root, name, strlen(name), NULL);

	return (v != NULL && v->type == jbvString) ? pnstrdup(v->val.string.val, v->val.string.len) : NULL;
}

/*
 * The cut-off of subject sub, as the latest snapshot sees it (in parallel
 * mode, the statement's); false when it has none.
 */
static bool
lookup_subject_cutoff(const char *sub, TimestampTz *cutoff)
{
	uint64		invalidations = revocation_invalidations;
	bool		fresh = !IsInParallelMode();
	Snapshot	snapshot = RegisterSnapshot(fresh ? GetLatestSnapshot() : GetActiveSnapshot());
	Datum		before = (Datum) 0;
	bool		before_null = true;
	bool		found = false;

	if (!table_known_empty(&revocation_tables[REVOKED_SUBJECTS], snapshot, fresh ? &invalidations : NULL))
		found = lookup_by_key(&revocation_tables[REVOKED_SUBJECTS], sub, snapshot, &before, &before_null) &&
			!before_null;
	UnregisterSnapshot(snapshot);
	if (found)
		*cutoff = DatumGetTimestampTz(before);
	return found;
}

/*
 * Called after the signature and the claim rules have passed.  The lists
 * hold ids in the database encoding, as jwt_revoke reads them from the
 * claims converted to it.  In a UTF-8 (or SQL_ASCII) database the strictly
 * parsed claims are that already; in any other, the parser's strings can mix
 * UTF-8 bytes with \u escapes converted to the database encoding, so the ids
 * are read as jwt_revoke reads them: from the payload converted, as jsonb
 * (a character the encoding lacks is an error there too).
 */
/*
 * The revocation id of a token without "jti": "sha256:" and the base64url
 * SHA-256 of its claims, as they travel (not of the signature, which ECDSA
 * lets anyone re-encode).  A token revoked so (jwt.revoke_exposed_tokens)
 * is found by its claims; tokens with the same claims go together.
 */
char *
jwt_revocation_digest_id(const char *payload, size_t payload_len)
{
	unsigned char digest[32];
	char	   *id = palloc(7 + B64URL_ENCODED_LEN(32) + 1);

	if (!jwt_sha256(payload, payload_len, digest))
		elog(ERROR, "could not compute a token digest");
	memcpy(id, "sha256:", 7);
	id[7 + b64url_encode(digest, sizeof(digest), id + 7)] = '\0';
	return id;
}

JwtStatus
jwt_check_revocation(const JsonDoc *claims, const char *payload, size_t payload_len, JwtError *err)
{
	int			enc = GetDatabaseEncoding();
	const char *jti;
	const char *sub;
	const char *sid;
	Snapshot	snapshot;
	Datum		before = (Datum) 0;
	bool		before_null = true;
	bool		revoked_id = false;
	bool		subject_cutoff = false;
	bool		revoked_session = false;
	uint64		invalidations;
	bool		fresh;
	uint64		jti_hash = 0,
				sub_hash = 0,
				sid_h = 0;

	if (enc == PG_UTF8 || enc == PG_SQL_ASCII)
	{
		jti = string_claim(claims, "jti");
		sub = string_claim(claims, "sub");
		sid = string_claim(claims, "sid");
	}
	else
	{
		char	   *text = pg_any_to_server(payload, (int) payload_len, PG_UTF8);
		Jsonb	   *jb;

		if (text == payload)
			text = pnstrdup(payload, payload_len);
		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
		jti = jsonb_string(jb, "jti");
		sub = jsonb_string(jb, "sub");
		sid = jsonb_string(jb, "sid");
	}
	if ((jti != NULL && strlen(jti) > JWT_REVOCABLE_MAX) ||
		(sub != NULL && strlen(sub) > JWT_REVOCABLE_MAX) ||
		(sid != NULL && strlen(sid) > JWT_REVOCABLE_MAX))
	{
		/* the lists' keys are indexed: a longer one could not be stored, so not revoked */
		jwt_fail(err, JWT_ERR_CLAIM_FORMAT, "claim \"%s\" is too long",
				 (jti != NULL && strlen(jti) > JWT_REVOCABLE_MAX) ? "jti"
				 : (sub != NULL && strlen(sub) > JWT_REVOCABLE_MAX) ? "sub" : "sid");
		jwt_fail_detail(err, "A token id, subject or session id longer than %d bytes could not be revoked.",
						JWT_REVOCABLE_MAX);
		return JWT_ERR_CLAIM_FORMAT;
	}
	if (revocation_cache.cxt != NULL)
	{
		/* the cache lines the check reads load while invalidations are taken in */
		jti_hash = jti != NULL ? key_hash(jti, strlen(jti)) : 0;
		sub_hash = sub != NULL ? key_hash(sub, strlen(sub)) : 0;
		sid_h = sid != NULL ? sid_hash(sid, strlen(sid)) : 0;
		if (jti_hash != 0)
			prefetch(bloom_block(&revocation_cache, jti_hash));
		if (sub_hash != 0)
			prefetch(&revocation_cache.subjects[(uint32) sub_hash & revocation_cache.subject_mask]);
	}
	/* other sessions' revocations, even inside a long transaction */
	AcceptInvalidationMessages();
	if (!revocation_tables_known)
		find_revocation_tables();
	/*
	 * A token without jti may have been revoked by its digest
	 * (jwt.revoke_exposed_tokens), unless no id is revoked at all: asked
	 * only now, with other sessions' changes taken in.
	 */
	if (jti == NULL && !revocation_tables[REVOKED_TOKENS].known_empty)
	{
		jti = jwt_revocation_digest_id(payload, payload_len);
		if (revocation_cache.cxt != NULL)
			jti_hash = key_hash(jti, strlen(jti));
	}
	if (jti == NULL && sub == NULL && sid == NULL)
		return JWT_OK;
	if (revocation_cache_valid() && !revocation_cache_maybe(jti_hash, sub_hash, sid_h, claims))
		return jwt_stats_counted(JWT_STAT_REVCACHE_HIT, JWT_OK);
	jwt_stats_count(JWT_STAT_REVCACHE_MISS);
	/*
	 * The latest snapshot, not the statement's: a revocation committed by
	 * another session counts at once, even inside a long transaction.  One
	 * snapshot serves both lookups.  The counter is read before it is taken,
	 * so that what is learnt from it (known_empty, the cache) is dropped by
	 * any change it may miss.  In parallel mode (a parallel query's leader or
	 * worker) no new snapshot may be taken: the statement's serves, which may
	 * be older than invalidations already counted, so nothing is learnt.
	 */
	invalidations = revocation_invalidations;
	fresh = !IsInParallelMode();
	snapshot = RegisterSnapshot(fresh ? GetLatestSnapshot() : GetActiveSnapshot());
	if (jti != NULL &&
		!table_known_empty(&revocation_tables[REVOKED_TOKENS], snapshot, fresh ? &invalidations : NULL))
		revoked_id = lookup_by_key(&revocation_tables[REVOKED_TOKENS], jti, snapshot, NULL, NULL);
	if (!revoked_id && sub != NULL &&
		!table_known_empty(&revocation_tables[REVOKED_SUBJECTS], snapshot, fresh ? &invalidations : NULL))
	{
		subject_cutoff = lookup_by_key(&revocation_tables[REVOKED_SUBJECTS], sub, snapshot,
									   &before, &before_null);
		/* revoked_before is NOT NULL; timestamptz is by value, so it outlives the slot */
		subject_cutoff = subject_cutoff && !before_null;
	}
	/* an ended session (sessions.c): every token carrying its sid */
	if (!revoked_id && sid != NULL &&
		!table_known_empty(&revocation_tables[REVOKED_SESSIONS], snapshot, fresh ? &invalidations : NULL))
		revoked_session = lookup_by_key(&revocation_tables[REVOKED_SESSIONS], sid, snapshot, NULL, NULL);
	/* a failed load (an error, a cancel) is tried again only after as many checks */
	if (fresh && revocation_cache_enabled && revocation_cache.cxt == NULL &&
		revocation_tables[REVOKED_TOKENS].has_change_trigger &&
		revocation_tables[REVOKED_SUBJECTS].has_change_trigger &&
		revocation_tables[REVOKED_SESSIONS].has_change_trigger &&
		++revocation_cache.probes >= revocation_cache.load_after &&
		invalidations == revocation_invalidations)
	{
		revocation_cache.probes = 0;
		revocation_cache_load(snapshot, invalidations);
	}
	UnregisterSnapshot(snapshot);

	if (revoked_id)
		return jwt_stats_counted(JWT_STAT_REVOKED, jwt_fail(err, JWT_ERR_REVOKED, "token has been revoked"));
	if (revoked_session)
	{
		jwt_fail(err, JWT_ERR_REVOKED, "token has been revoked");
		jwt_fail_detail(err, "Its session has ended.");
		return jwt_stats_counted(JWT_STAT_REVOKED, JWT_ERR_REVOKED);
	}
	if (subject_cutoff && cutoff_revokes(claims, unix_micros(DatumGetTimestampTz(before))))
	{
		jwt_fail(err, JWT_ERR_REVOKED, "token has been revoked");
		jwt_fail_detail(err, "Every token of its subject issued before a cut-off is revoked.");
		return jwt_stats_counted(JWT_STAT_REVOKED, JWT_ERR_REVOKED);
	}
	return JWT_OK;
}

/*
 * The last subject jwt_sign looked up, and its cut-off: valid until a change
 * to the lists is taken in, so that a statement signing many tokens of one
 * subject probes once.
 */
static struct
{
	bool		valid;
	uint64		invalidations;	/* revocation_invalidations when looked up */
	size_t		len;
	char		sub[JWT_REVOCABLE_MAX];
	bool		found;
	TimestampTz cutoff;
}			last_subject;

/* lookup_subject_cutoff() through last_subject. */
static bool
recent_subject_cutoff(const char *sub, size_t sub_len, TimestampTz *cutoff)
{
	char	   *key;
	uint64		invalidations = revocation_invalidations;

	if (last_subject.valid && last_subject.invalidations == invalidations &&
		last_subject.len == sub_len && memcmp(last_subject.sub, sub, sub_len) == 0)
	{
		*cutoff = last_subject.cutoff;
		return last_subject.found;
	}
	key = pnstrdup(sub, sub_len);
	last_subject.valid = false;
	last_subject.found = lookup_subject_cutoff(key, &last_subject.cutoff);
	pfree(key);
	/* kept only if no change was taken in meanwhile (opening the table takes them) */
	if (sub_len <= sizeof(last_subject.sub) && invalidations == revocation_invalidations &&
		!IsInParallelMode())
	{
		last_subject.valid = true;
		last_subject.invalidations = invalidations;
		last_subject.len = sub_len;
		memcpy(last_subject.sub, sub, sub_len);
	}
	*cutoff = last_subject.cutoff;
	return last_subject.found;
}

/*
 * The iat jwt_sign gives a token of subject sub (NULL: none), and whether it
 * must be written to the microsecond (*exact) or may be the whole second.
 *
 * iat is whole seconds, as most verifiers expect, except for a token of a
 * subject whose cut-off lies in the current second and has passed: then its
 * iat is the later of the statement's start and the cut-off, to the
 * microsecond, so that the token, issued after the cut-off, is not revoked
 * by it (a token issued before it, in the same second, has the whole second
 * and is).  Such a cut-off is looked up only when this backend has learnt of
 * a change to the cut-offs since the second began: a default cut-off (the
 * moment of jwt_revoke_subject's call) precedes its commit, and so the
 * invalidation this backend takes in.  An explicit cut-off within the second
 * set earlier may revoke tokens issued later in that second: the safe side.
 */
TimestampTz
jwt_revocation_issue_time(const char *sub, size_t sub_len, bool *exact)
{
	TimestampTz start = GetCurrentStatementStartTimestamp();
	TimestampTz second = start - start % USECS_PER_SEC;
	TimestampTz t = start;

	*exact = false;
	if (sub != NULL)
	{
		AcceptInvalidationMessages();
		if (!revocation_tables_known)
			find_revocation_tables();
		if (subjects_changed_at >= second)
		{
			TimestampTz cutoff;

			if (recent_subject_cutoff(sub, sub_len, &cutoff) && cutoff > second &&
				cutoff <= GetCurrentTimestamp())
			{
				t = Max(start, cutoff);
				*exact = true;
			}
		}
	}
	if (issued_statement != start)
	{
		issued_statement = start;
		issued_latest = start;
	}
	issued_latest = Max(issued_latest, t);
	return t;
}

/*
 * The cut-off jwt_revoke_subject sets without before: the moment of the
 * call, and after every iat this backend has handed out in the statement,
 * even when the clock has not moved since.
 */
TimestampTz
jwt_revocation_next_cutoff(void)
{
	TimestampTz start = GetCurrentStatementStartTimestamp();
	TimestampTz t = GetCurrentTimestamp();

	if (issued_statement != start)
	{
		issued_statement = start;
		issued_latest = start;
	}
	if (t <= issued_latest)
		t = issued_latest + 1;
	return t;
}
