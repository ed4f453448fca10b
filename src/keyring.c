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
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "envelope.h"
#include "keyring.h"
#include "token_cache.h"

typedef struct KeyringEntry
{
	char	   *kid;
	JwtAlg		alg;			/* JWT_ALG_NONE: what the key type admits */
	char	   *alg_name;		/* the row's alg, NULL if none */
	char	   *kty;			/* "oct", "RSA", "EC" or "OKP" */
	bool		imported;		/* origin 'jwks': a provider's key, verification only */
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
		jwt_token_cache_invalidate();
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
	int			c_kid, c_alg, c_kty, c_jwk, c_priv, c_origin, c_created, c_retired, c_until;
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
	c_origin = column_number(desc, "origin");
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

		CHECK_FOR_INTERRUPTS();
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
			e->alg_name = copy_text(values[c_alg], &len);
			e->alg = jwt_alg_from_name(e->alg_name, len);
		}
		e->kty = TextDatumGetCString(values[c_kty]);
		e->imported = strcmp(TextDatumGetCString(values[c_origin]), "jwks") == 0;
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

/* The row identity a sealed value of the entry is bound to. */
static EnvelopeRow
entry_row(const KeyringEntry *e)
{
	EnvelopeRow row = {e->kid, e->alg_name, e->kty, e->created_at};

	return row;
}

/* Is a key-encryption key configured?  Its value is not checked here: that may raise. */
static bool
kek_configured(void)
{
	const char *value = GetConfigOption("jwt.key_encryption_key", true, false);

	return value != NULL && value[0] != '\0';
}

/*
 * Parse an entry's key on first use; NULL if it cannot be used.  Sealed
 * material that does not open sets *sealed to why, and is tried again at the
 * next use: a reload may bring the right key-encryption key.
 */
static JwtKey *
entry_key(KeyringEntry *e, const char **sealed)
{
	JwtError	err;

	*sealed = NULL;
	if (e->parsed == NULL && !e->parse_failed)
	{
		JwtKeySet  *set;
		const char *material = e->material;
		size_t		len = e->material_len;
		int			version = e->has_private ? envelope_version(material, len) : 0;
		JwtStatus	st;

		if (version != 0)
		{
			const char *kek = jwt_kek();
			EnvelopeRow row = entry_row(e);

			material = kek ? envelope_open(kek, &row, e->material, e->material_len, &len) : NULL;
			if (material == NULL)
			{
				*sealed = kek ? "jwt.key_encryption_key does not open it (another key-encryption key, or a value of another row)"
					: "jwt.key_encryption_key is not set";
				return NULL;
			}
			if (version == 1)
				ereport(WARNING,
						(errmsg("key \"%s\" in the jwt keyring is sealed in the 0.1.0 format, bound to its kid only",
								e->kid),
						 errhint("SELECT jwt_seal_keys() reseals it bound to its row.")));
		}
		else if (e->has_private && kek_configured())
			ereport(WARNING,
					(errmsg("key \"%s\" in the jwt keyring is stored unencrypted although jwt.key_encryption_key is set",
							e->kid),
					 errhint("SELECT jwt_seal_keys() seals it.")));
		set = MemoryContextAllocZero(keyring_cxt, sizeof(JwtKeySet));
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

/* The key type whose keys sign alg. */
static const char *
alg_kty(JwtAlg alg)
{
	const char *name = jwt_alg_name(alg);

	if (name[0] == 'H')
		return "oct";
	if (name[0] == 'R' || name[0] == 'P')
		return "RSA";
	if (name[0] == 'E' && name[1] == 'S')
		return "EC";
	return "OKP";
}

/* Could the entry, once opened, verify alg?  Judged from its row alone. */
static bool
entry_may_admit(const KeyringEntry *e, JwtAlg alg)
{
	return e->alg != JWT_ALG_NONE ? e->alg == alg : strcmp(e->kty, alg_kty(alg)) == 0;
}

static JwtStatus
fail_sealed(JwtError *err, const char *kid, const char *why)
{
	char		buf[72];

	jwt_fail(err, JWT_ERR_KEY_SEALED, "key \"%s\" in the keyring cannot be opened",
			 jwt_printable(kid, buf, sizeof(buf)));
	jwt_fail_detail(err, "Its private material is sealed and %s.", why);
	return JWT_ERR_KEY_SEALED;
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
	KeyringEntry *unopened = NULL;
	const char *unopened_why = NULL;
	char		buf[72];

	keyring_ensure();
	for (int i = 0; i < keyring_count; i++)
	{
		KeyringEntry *e = &keyring[i];
		JwtKey	   *k;
		const char *sealed;

		if (kid != NULL)
		{
			if (strcmp(e->kid, kid) != 0)
				continue;
			if (!entry_verifies(e, now))
				return jwt_fail(err, JWT_ERR_NO_KEY, "key \"%s\" is retired",
								jwt_printable(kid, buf, sizeof(buf)));
			if ((k = entry_key(e, &sealed)) == NULL)
			{
				/* the key exists: say it cannot be opened, not that it is unknown */
				if (sealed != NULL)
					return fail_sealed(err, e->kid, sealed);
				return jwt_fail(err, JWT_ERR_NO_KEY, "key \"%s\" in the keyring cannot be used",
								jwt_printable(kid, buf, sizeof(buf)));
			}
			*key = k;
			return JWT_OK;
		}
		if (!entry_verifies(e, now))
			continue;
		if ((k = entry_key(e, &sealed)) == NULL)
		{
			if (sealed != NULL && unopened == NULL && entry_may_admit(e, alg))
			{
				unopened = e;
				unopened_why = sealed;
			}
			continue;
		}
		if (!(jwt_key_admitted_algs(k) & JWT_ALG_BIT(alg)))
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
		/* a key that might have verified it is sealed: say so rather than "none" */
		if (unopened != NULL)
			return fail_sealed(err, unopened->kid, unopened_why);
		return jwt_fail(err, JWT_ERR_NO_KEY, "no key in the keyring can verify %s tokens",
						jwt_alg_name(alg));
	}
	*key = found;
	return JWT_OK;
}

/*
 * The key to sign with: the one named by kid, or the newest active key with
 * private material.  Never a key imported from a JWKS, whatever it holds: a
 * provider's key verifies the provider's tokens, it does not sign ours.
 * Raises when there is none.
 */
JwtKey *
jwt_keyring_signing_key(const char *kid)
{
	KeyringEntry *best = NULL;
	JwtKey	   *key;
	const char *sealed;

	keyring_ensure();
	for (int i = 0; i < keyring_count; i++)
	{
		KeyringEntry *e = &keyring[i];

		if (!e->has_private || e->retired)
			continue;
		if (kid != NULL && strcmp(e->kid, kid) == 0 && e->imported)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("key \"%s\" was imported from a JWKS and cannot sign", e->kid),
					 errdetail("Imported keys only verify tokens of the provider that published them.")));
		if (e->imported)
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
	key = entry_key(best, &sealed);
	if (key == NULL && sealed != NULL)
	{
		JwtError	err;

		fail_sealed(&err, best->kid, sealed);
		jwt_raise(&err);
	}
	if (key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the signing key \"%s\" in the keyring cannot be used", best->kid)));
	return key;
}

/*
 * _jwt_key_seal(kid text, alg text, kty text, created_at timestamptz, private_key bytea) RETURNS bytea
 * A row's private material sealed (again) for that row under the current
 * key-encryption key: plain material, and 0.1.0 envelopes bound to the kid
 * only, become version 2 envelopes; a version 2 envelope comes back as it is
 * once it is shown to open.  For jwt_seal_keys(); not for PUBLIC.
 */
PG_FUNCTION_INFO_V1(jwt_key_seal_internal);
Datum
jwt_key_seal_internal(PG_FUNCTION_ARGS)
{
	EnvelopeRow row;
	bytea	   *in;
	const char *kek;
	const char *plain;
	size_t		len;
	int			version;
	char	   *sealed;
	size_t		sealed_len;
	bytea	   *out;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("only alg may be null")));
	row.kid = text_to_cstring(PG_GETARG_TEXT_PP(0));
	row.alg = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	row.kty = text_to_cstring(PG_GETARG_TEXT_PP(2));
	row.created_at = PG_GETARG_TIMESTAMPTZ(3);
	in = PG_GETARG_BYTEA_PP(4);
	plain = VARDATA_ANY(in);
	len = VARSIZE_ANY_EXHDR(in);
	version = envelope_version(plain, len);
	if ((kek = jwt_kek()) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("jwt.key_encryption_key is not set")));
	/* sealed material must open under this key: never two key-encryption keys in one keyring */
	if (version != 0 && (plain = envelope_open(kek, &row, plain, len, &len)) == NULL)
	{
		JwtError	err;

		fail_sealed(&err, row.kid, "jwt.key_encryption_key does not open it");
		jwt_raise(&err);
	}
	if (version == 2)
	{
		memset(unconstify(char *, plain), 0, len);
		pfree(unconstify(char *, plain));
		PG_RETURN_BYTEA_P(in);
	}
	sealed = envelope_seal(kek, &row, plain, len, &sealed_len);
	if (version == 1)
	{
		memset(unconstify(char *, plain), 0, len);
		pfree(unconstify(char *, plain));
	}
	out = palloc(VARHDRSZ + sealed_len);
	SET_VARSIZE(out, VARHDRSZ + sealed_len);
	memcpy(VARDATA(out), sealed, sealed_len);
	PG_RETURN_BYTEA_P(out);
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
