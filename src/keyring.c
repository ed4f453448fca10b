/*
 * keyring.c - the keys stored in the extension's jwt_keys table
 *
 * Each backend reads the table once into a cache and parses a key on its
 * first use.  Triggers on the table send a relcache invalidation for it on
 * every change (a statement trigger, and since 0.2.0 a row trigger enabled
 * ALWAYS, which logical replication's apply fires too); every backend (on a
 * hot standby too, where the invalidation is replayed from WAL) drops its
 * cache when that arrives, so a key retired in one session stops verifying in
 * all others at their next statement.  The table is read directly, not through SQL: no search_path,
 * no privilege of the caller is involved, and nothing is written.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "envelope.h"
#include "keyring.h"

typedef struct KeyringEntry
{
	char	   *kid;
	JwtAlg		alg;			/* JWT_ALG_NONE: what the key type admits */
	char	   *kty;			/* "oct", "RSA", "EC" or "OKP" */
	bool		is_secret;		/* material is an HMAC secret */
	bool		has_private;
	char	   *material;		/* private key PEM, HMAC secret, or public JWK text */
	int			material_len;
	TimestampTz created_at;
	bool		retired;
	TimestampTz retired_at;
	bool		has_verify_until;
	TimestampTz verify_until;
	JwtKeySet  *parsed;			/* parsed on first use */
	bool		parse_failed;
} KeyringEntry;

static MemoryContext keyring_cxt = NULL;
static KeyringEntry *keyring = NULL;
static int	keyring_count = 0;
static bool keyring_valid = false;
static Oid	keyring_relid = InvalidOid;

/* Called when any relcache entry is invalidated; relid 0 means all of them. */
static void
keyring_relcache_callback(Datum arg, Oid relid)
{
	(void) arg;
	if (relid == InvalidOid || relid == keyring_relid)
	{
		/* only mark: this may run while a caller still holds a key */
		keyring_valid = false;
		/* and look the table up again: DROP EXTENSION; CREATE EXTENSION gives it a new OID */
		keyring_relid = InvalidOid;
	}
}

void
jwt_keyring_init(void)
{
	CacheRegisterRelcacheCallback(keyring_relcache_callback, (Datum) 0);
}

static void
keyring_release(void)
{
	for (int i = 0; i < keyring_count; i++)
		jwt_keyset_free(keyring[i].parsed);
	if (keyring_cxt != NULL)
	{
		/* wipe secrets before the memory goes back to the allocator */
		for (int i = 0; i < keyring_count; i++)
			if (keyring[i].material)
				memset(keyring[i].material, 0, keyring[i].material_len);
		MemoryContextDelete(keyring_cxt);
	}
	keyring_cxt = NULL;
	keyring = NULL;
	keyring_count = 0;
}

/* The schema of the jwt extension (get_extension_schema is not exported before PostgreSQL 16). */
Oid
jwt_extension_schema(void)
{
	Oid			ext = get_extension_oid("jwt", true);
	Oid			nsp = InvalidOid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;

	if (!OidIsValid(ext))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"jwt\" is not installed in this database")));
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	if (HeapTupleIsValid(tuple = systable_getnext(scan)))
		nsp = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return nsp;
}

static Oid
keyring_table_oid(void)
{
	return get_relname_relid("jwt_keys", jwt_extension_schema());
}

static int
column_number(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped &&
			strcmp(NameStr(TupleDescAttr(desc, i)->attname), name) == 0)
			return i;
	elog(ERROR, "jwt_keys has no column \"%s\"", name);
	return -1;					/* keep compiler quiet */
}

static char *
copy_text(Datum d, int *len)
{
	text	   *t = DatumGetTextPP(d);
	char	   *out;

	*len = VARSIZE_ANY_EXHDR(t);
	out = palloc(*len + 1);
	memcpy(out, VARDATA_ANY(t), *len);
	out[*len] = '\0';
	return out;
}

/* Read every row of jwt_keys into keyring_cxt. */
static void
keyring_load(void)
{
	Relation	rel;
	TupleDesc	desc;
	Snapshot	snapshot;
	TableScanDesc scan;
	HeapTuple	tuple;
	int			capacity = 8;
	int			c_kid, c_alg, c_kty, c_jwk, c_priv, c_created, c_retired, c_until;
	Datum	   *values;
	bool	   *nulls;
	MemoryContext old;

	keyring_release();
	if (!OidIsValid(keyring_relid))
		keyring_relid = keyring_table_oid();
	if (!OidIsValid(keyring_relid))
		elog(ERROR, "table jwt_keys of extension jwt is missing");

	keyring_cxt = AllocSetContextCreate(TopMemoryContext, "jwt keyring", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(keyring_cxt);
	keyring = palloc0(sizeof(KeyringEntry) * capacity);

	/* the lock first: it takes in pending invalidations, then the snapshot sees their commits */
	rel = table_open(keyring_relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	c_kid = column_number(desc, "kid");
	c_alg = column_number(desc, "alg");
	c_kty = column_number(desc, "kty");
	c_jwk = column_number(desc, "public_jwk");
	c_priv = column_number(desc, "private_key");
	c_created = column_number(desc, "created_at");
	c_retired = column_number(desc, "retired_at");
	c_until = column_number(desc, "verify_until");
	keyring_valid = true;
	/* in parallel mode no new snapshot may be taken: the statement's serves */
	snapshot = RegisterSnapshot(IsInParallelMode() ? GetActiveSnapshot() : GetLatestSnapshot());
	values = palloc(sizeof(Datum) * desc->natts);
	nulls = palloc(sizeof(bool) * desc->natts);
	scan = table_beginscan(rel, snapshot, 0, NULL);
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		KeyringEntry *e;
		int			len;

		heap_deform_tuple(tuple, desc, values, nulls);
		if (keyring_count == capacity)
		{
			capacity *= 2;
			keyring = repalloc(keyring, sizeof(KeyringEntry) * capacity);
		}
		e = &keyring[keyring_count];
		memset(e, 0, sizeof(*e));
		e->kid = copy_text(values[c_kid], &len);
		e->alg = JWT_ALG_NONE;
		if (!nulls[c_alg])
		{
			char	   *alg = copy_text(values[c_alg], &len);

			e->alg = jwt_alg_from_name(alg, len);
		}
		e->kty = TextDatumGetCString(values[c_kty]);
		e->is_secret = strcmp(e->kty, "oct") == 0;
		e->has_private = !nulls[c_priv];
		if (e->has_private)
			e->material = copy_text(values[c_priv], &e->material_len);
		else if (!nulls[c_jwk])
			e->material = DatumGetCString(DirectFunctionCall1(jsonb_out, values[c_jwk]));
		else
			continue;			/* nothing to verify with */
		if (e->material_len == 0)
			e->material_len = strlen(e->material);
		e->created_at = DatumGetTimestampTz(values[c_created]);
		e->retired = !nulls[c_retired];
		if (e->retired)
			e->retired_at = DatumGetTimestampTz(values[c_retired]);
		e->has_verify_until = !nulls[c_until];
		if (e->has_verify_until)
			e->verify_until = DatumGetTimestampTz(values[c_until]);
		keyring_count++;
	}
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	pfree(values);
	pfree(nulls);
	MemoryContextSwitchTo(old);
}

/* The cached keyring, reloaded if any session changed the table. */
static void
keyring_ensure(void)
{
	/* see other sessions' commits even inside a long transaction */
	AcceptInvalidationMessages();
	for (int tries = 0; !keyring_valid && tries < 3; tries++)
	{
		PG_TRY();
		{
			keyring_load();
		}
		PG_CATCH();
		{
			keyring_valid = false;
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
}

static bool
entry_verifies(const KeyringEntry *e, TimestampTz now)
{
	return !e->retired || (e->has_verify_until && e->verify_until > now);
}

/* Parse an entry's key on first use; NULL if it cannot be used. */
static JwtKey *
entry_key(KeyringEntry *e)
{
	JwtError	err;

	if (e->parsed == NULL && !e->parse_failed)
	{
		JwtKeySet  *set = MemoryContextAllocZero(keyring_cxt, sizeof(JwtKeySet));
		const char *material = e->material;
		size_t		len = e->material_len;
		JwtStatus	st;

		if (envelope_is_sealed(material, len))
		{
			const char *kek = jwt_kek();

			material = kek ? envelope_open(kek, e->kid, e->material, e->material_len, &len) : NULL;
			if (material == NULL)
			{
				e->parse_failed = true;
				ereport(WARNING,
						(errmsg("key \"%s\" in the jwt keyring cannot be used: it is encrypted and jwt.key_encryption_key %s",
								e->kid, kek ? "does not open it" : "is not set")));
				return NULL;
			}
		}
		st = jwt_keyset_parse(material, len, e->is_secret, keyring_cxt, set, &err);
		if (material != e->material)
		{
			memset(unconstify(char *, material), 0, len);
			pfree(unconstify(char *, material));
		}
		if (st != JWT_OK || set->nkeys != 1)
		{
			jwt_keyset_free(set);
			e->parse_failed = true;
			ereport(WARNING,
					(errmsg("key \"%s\" in the jwt keyring cannot be used: %s", e->kid, err.message)));
			return NULL;
		}
		/* the row's kty must be what the material is: never a key of another family */
		if (strcmp(jwt_key_type_name(&set->keys[0]), e->kty) != 0)
		{
			jwt_keyset_free(set);
			e->parse_failed = true;
			ereport(WARNING,
					(errmsg("key \"%s\" in the jwt keyring cannot be used: its material is not of type %s",
							e->kid, e->kty)));
			return NULL;
		}
		set->keys[0].kid = e->kid;
		if (e->alg != JWT_ALG_NONE)
			set->keys[0].jwk_alg = e->alg;
		e->parsed = set;
	}
	return e->parsed ? &e->parsed->keys[0] : NULL;
}

/*
 * The keyring key that verifies a token: the one its kid names, or without a
 * kid the single usable key that admits its algorithm.
 */
JwtStatus
jwt_keyring_verify_key(JwtAlg alg, const char *kid, JwtKey **key, JwtError *err)
{
	TimestampTz now = GetCurrentStatementStartTimestamp();
	JwtKey	   *found = NULL;
	char		buf[72];

	keyring_ensure();
	for (int i = 0; i < keyring_count; i++)
	{
		KeyringEntry *e = &keyring[i];
		JwtKey	   *k;

		if (kid != NULL)
		{
			if (strcmp(e->kid, kid) != 0)
				continue;
			if (!entry_verifies(e, now))
				return jwt_fail(err, JWT_ERR_NO_KEY, "key \"%s\" is retired",
								jwt_printable(kid, buf, sizeof(buf)));
			if ((k = entry_key(e)) == NULL)
				break;
			*key = k;
			return JWT_OK;
		}
		if (!entry_verifies(e, now) || (k = entry_key(e)) == NULL ||
			!(jwt_key_admitted_algs(k) & JWT_ALG_BIT(alg)))
			continue;
		if (found != NULL)
			return jwt_fail(err, JWT_ERR_NO_KEY,
							"token has no kid and several keys in the keyring could verify it");
		found = k;
	}
	if (found == NULL)
	{
		if (kid != NULL)
			return jwt_fail(err, JWT_ERR_NO_KEY, "no key in the keyring has kid \"%s\"",
							jwt_printable(kid, buf, sizeof(buf)));
		return jwt_fail(err, JWT_ERR_NO_KEY, "no key in the keyring can verify %s tokens",
						jwt_alg_name(alg));
	}
	*key = found;
	return JWT_OK;
}

/*
 * The key to sign with: the one named by kid, or the newest active key with
 * private material.  Raises when there is none.
 */
JwtKey *
jwt_keyring_signing_key(const char *kid)
{
	KeyringEntry *best = NULL;
	JwtKey	   *key;

	keyring_ensure();
	for (int i = 0; i < keyring_count; i++)
	{
		KeyringEntry *e = &keyring[i];

		if (!e->has_private || e->retired)
			continue;
		if (kid != NULL ? strcmp(e->kid, kid) == 0
			: (best == NULL || e->created_at > best->created_at ||
			   (e->created_at == best->created_at && strcmp(e->kid, best->kid) > 0)))
			best = e;
	}
	if (best == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 kid != NULL
				 ? errmsg("the keyring has no active signing key with kid \"%s\"", kid)
				 : errmsg("the keyring has no active signing key"),
				 errhint("Create one with jwt_generate_key() or jwt_add_key().")));
	key = entry_key(best);
	if (key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the signing key \"%s\" in the keyring cannot be used", best->kid)));
	return key;
}

/* Trigger on jwt_keys: tell every backend to drop its cached keyring. */
PG_FUNCTION_INFO_V1(jwt_keyring_changed);
Datum
jwt_keyring_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "jwt_keyring_changed must be called as a trigger");
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}
