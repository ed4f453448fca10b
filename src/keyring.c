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
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
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
#include "json_strict.h"
#include "keyring.h"
#include "token_cache.h"
#include "stats.h"

/* The jwt_keys.state values; 0.1.0 rows read as active or retired. */
typedef enum KeyState
{
	KEY_STANDBY,
	KEY_ACTIVE,
	KEY_RETIRED,
	KEY_REVOKED
} KeyState;

typedef struct KeyringEntry
{
	char	   *kid;
	char	   *issuer;			/* UTF-8; NULL: this database (jwt.issuer) */
	KeyState	state;
	TimestampTz activated_at;	/* the latest activated active key signs */
	JwtAlg		alg;			/* JWT_ALG_NONE: what the key type admits */
	char	   *alg_name;		/* the row's alg, NULL if none */
	char	   *kty;			/* "oct", "RSA", "EC" or "OKP" */
	bool		imported;		/* origin 'jwks': a provider's key, verification only */
	bool		is_secret;		/* material is an HMAC secret */
	bool		has_private;
	char	   *material;		/* private key PEM, HMAC secret, or public JWK text */
	int			material_len;
	TimestampTz created_at;
	bool		has_verify_until;
	TimestampTz verify_until;
	JwtKeySet  *parsed;			/* parsed on first use */
	bool		parse_failed;
	bool		warned_unbound;
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

/*
 * jwt.key_encryption_key: jwt.c's _PG_init registers the setting over this
 * variable, so that the keyring reads it without calling up into the SQL layer.
 */
char	   *jwt_key_encryption_key = NULL;
/* jwt.previous_key_encryption_key: during a KEK rotation, the one keys may still be sealed under */
char	   *jwt_previous_key_encryption_key = NULL;

/* Whether the library was loaded by shared_preload_libraries (see jwt_kek). */
static bool keyring_preloaded = false;

/* Called from _PG_init. */
void
jwt_keyring_init(void)
{
	keyring_preloaded = process_shared_preload_libraries_in_progress;
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

/* The column called name, or -1 when the table has none. */
static int
column_number_opt(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped &&
			strcmp(NameStr(TupleDescAttr(desc, i)->attname), name) == 0)
			return i;
	return -1;
}

/* A jwt_keys.state value; anything else is read as revoked (fail closed). */
static KeyState
key_state(const char *name)
{
	if (strcmp(name, "active") == 0)
		return KEY_ACTIVE;
	if (strcmp(name, "standby") == 0)
		return KEY_STANDBY;
	if (strcmp(name, "retired") == 0)
		return KEY_RETIRED;
	return KEY_REVOKED;
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
	int			c_kid, c_alg, c_kty, c_jwk, c_priv, c_origin, c_created, c_retired, c_until,
				c_issuer, c_state, c_activated;
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
	/* 0.1.0's table (a new library before ALTER EXTENSION UPDATE) has none of these */
	c_issuer = column_number_opt(desc, "issuer");
	c_state = column_number_opt(desc, "state");
	c_activated = column_number_opt(desc, "activated_at");
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
		e->has_verify_until = !nulls[c_until];
		if (e->has_verify_until)
			e->verify_until = DatumGetTimestampTz(values[c_until]);
		if (c_issuer >= 0 && !nulls[c_issuer])
		{
			char	   *server = TextDatumGetCString(values[c_issuer]);

			e->issuer = pg_server_to_any(server, strlen(server), PG_UTF8);
		}
		e->state = nulls[c_retired] ? KEY_ACTIVE : KEY_RETIRED;
		if (c_state >= 0)
			e->state = key_state(TextDatumGetCString(values[c_state]));
		/* whatever the state column says, a retirement time means the key no longer signs */
		if (!nulls[c_retired] && e->state < KEY_RETIRED)
			e->state = KEY_RETIRED;
		e->activated_at = e->created_at;
		if (c_activated >= 0 && !nulls[c_activated])
			e->activated_at = DatumGetTimestampTz(values[c_activated]);
		keyring_count++;
	}
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	pfree(values);
	pfree(nulls);
	MemoryContextSwitchTo(old);
	jwt_stats_count(JWT_STAT_KEYRING_LOAD);
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
	switch (e->state)
	{
		case KEY_STANDBY:
		case KEY_ACTIVE:
			return true;
		case KEY_RETIRED:
			return e->has_verify_until && e->verify_until > now;
		case KEY_REVOKED:
			break;
	}
	return false;
}

/* The row identity a sealed value of the entry is bound to. */
static EnvelopeRow
entry_row(const KeyringEntry *e)
{
	EnvelopeRow row = {e->kid, e->alg_name, e->kty, e->created_at};

	return row;
}

/*
 * The key-encryption key (64 hex digits), or NULL when none is set; raises if
 * it is malformed.  "file:PATH" reads it from a file, which keeps the key out
 * of the server log: PostgreSQL logs the new value of a setting changed by a
 * reload.
 */
static const char *
kek_from(const char *value, const char *name, char *kek)
{
	if (value == NULL || value[0] == '\0')
		return NULL;

	/*
	 * Until the library is loaded a setting from the configuration files is a
	 * placeholder that any role can SHOW; only preloading hides it from the start.
	 */
	if (!keyring_preloaded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s needs jwt in shared_preload_libraries", name),
				 errdetail("Otherwise sessions that have not loaded jwt show the setting to every role.")));
	if (strncmp(value, "file:", 5) == 0)
	{
		FILE	   *f = AllocateFile(value + 5, "r");
		char		buf[256];
		size_t		n,
					got;
		bool		failed,
					junk;

		if (f == NULL)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open the jwt key-encryption key file \"%s\": %m", value + 5)));
		/* the whole file: the key and trailing whitespace, nothing else */
		n = 0;
		junk = false;
		while (!junk && (got = fread(buf, 1, sizeof(buf), f)) > 0)
		{
			for (size_t i = 0; i < got && !junk; i++, n++)
			{
				if (n < 64)
					kek[n] = buf[i];
				else
					junk = !isspace((unsigned char) buf[i]);
			}
		}
		failed = ferror(f) != 0;
		FreeFile(f);
		explicit_bzero(buf, sizeof(buf));
		if (failed)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read the jwt key-encryption key file \"%s\"", value + 5)));
		/* a short file, or a NUL or a space among the 64 bytes, fails the hex check */
		kek[n >= 64 && !junk ? 64 : 0] = '\0';
		if (!envelope_kek_valid(kek))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be 64 hexadecimal digits, or file: and the path of a file holding them", name),
					 errdetail("The file \"%s\" holds something else: only whitespace may follow the key.",
							   value + 5)));
		value = kek;
	}
	if (!envelope_kek_valid(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be 64 hexadecimal digits, or file: and the path of a file holding them", name)));
	return value;
}

const char *
jwt_kek(void)
{
	static char kek[65];

	return kek_from(jwt_key_encryption_key, "jwt.key_encryption_key", kek);
}

/*
 * The previous key-encryption key, during a rotation: keys sealed under it
 * still open, and jwt_reseal_keys() seals them under jwt_kek().  NULL when unset.
 */
const char *
jwt_previous_kek(void)
{
	static char kek[65];

	return kek_from(jwt_previous_key_encryption_key, "jwt.previous_key_encryption_key", kek);
}

/* Open sealed material with the current key-encryption key, else the previous one. */
static char *
open_sealed(const EnvelopeRow *row, const char *sealed, size_t len, size_t *outlen, bool *by_previous)
{
	const char *kek = jwt_kek();
	const char *previous;
	char	   *plain = NULL;

	*by_previous = false;
	if (kek != NULL)
		plain = envelope_open(kek, row, sealed, len, outlen);
	if (plain == NULL && (previous = jwt_previous_kek()) != NULL &&
		(plain = envelope_open(previous, row, sealed, len, outlen)) != NULL)
		*by_previous = true;
	return plain;
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
			bool		by_previous;

			material = open_sealed(&row, e->material, e->material_len, &len, &by_previous);
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

/* Set by the issuer refresher: told when a token names a kid its issuer has no key for. */
jwt_keyring_kid_miss_hook_type jwt_keyring_kid_miss_hook = NULL;

/*
 * The token's iss, read before its signature is checked only to choose among
 * keys (the claims are checked again once it has verified): NULL when it is
 * absent, not a string, or the payload is not a JSON object.  Parsed once.
 */
typedef struct IssHint
{
	const char *payload;
	size_t		len;
	bool		done;
	const char *iss;
} IssHint;

static const char *
hint_iss(IssHint *h)
{
	if (!h->done)
	{
		JsonDoc		doc;
		const JsonMember *m;

		h->done = true;
		if (h->payload != NULL &&
			json_strict_parse(h->payload, h->len, &doc) == JSON_STRICT_OK &&
			(m = json_doc_get(&doc, "iss")) != NULL && m->value.kind == JK_STRING)
			h->iss = m->value.str;
	}
	return h->iss;
}

/* Is the entry bound to iss?  Unbound entries (this database) are bound to no iss. */
static bool
entry_of_issuer(const KeyringEntry *e, const char *iss)
{
	return e->issuer != NULL && iss != NULL && strcmp(e->issuer, iss) == 0;
}

/* A provider's key imported before 0.2.0, bound to no issuer: say so once per load. */
static void
warn_unbound(KeyringEntry *e)
{
	if (e->imported && e->issuer == NULL && !e->warned_unbound)
	{
		e->warned_unbound = true;
		ereport(WARNING,
				(errmsg("key \"%s\" in the jwt keyring was imported from a JWKS without an issuer", e->kid),
				 errdetail("It verifies tokens whatever their \"iss\", as jwt.issuer allows."),
				 errhint("Bind it: UPDATE jwt_keys SET issuer = '<the provider''s iss>' WHERE origin = 'jwks' AND issuer IS NULL.")));
	}
}

/*
 * A key bound to an issuer verifies only that issuer's tokens: the caller
 * checks the verified claims' iss against *key_issuer (JwtClaimRules.key_issuer),
 * so no claim is trusted before the signature.  A bare JWS (payload NULL,
 * jws_verify) has no iss to check: such a key never verifies one.
 */
static JwtStatus
check_binding(const KeyringEntry *e, const char *payload, JwtError *err)
{
	char		buf[72];

	if (e->issuer == NULL || payload != NULL)
		return JWT_OK;
	jwt_fail(err, JWT_ERR_ISSUER, "token has no issuer, and its key belongs to one");
	jwt_fail_detail(err, "Key \"%s\" verifies only JWTs of its issuer.",
					jwt_printable(e->kid, buf, sizeof(buf)));
	return JWT_ERR_ISSUER;
}

typedef enum CandidateFilter
{
	CAND_ALL,
	CAND_OF_ISS,				/* keys bound to iss */
	CAND_UNBOUND				/* this database's keys */
} CandidateFilter;

/*
 * How many usable keys admit alg (those the filter keeps); *found is the last
 * one, *unopened the first sealed one that might have.
 */
static int
kidless_candidates(JwtAlg alg, TimestampTz now, CandidateFilter filter, const char *iss,
				   KeyringEntry **found, JwtKey **found_key,
				   KeyringEntry **unopened, const char **unopened_why)
{
	int			n = 0;

	*found = NULL;
	*found_key = NULL;
	for (int i = 0; i < keyring_count; i++)
	{
		KeyringEntry *e = &keyring[i];
		JwtKey	   *k;
		const char *sealed;

		if (!entry_verifies(e, now))
			continue;
		if ((filter == CAND_OF_ISS && !entry_of_issuer(e, iss)) ||
			(filter == CAND_UNBOUND && e->issuer != NULL))
			continue;
		if ((k = entry_key(e, &sealed)) == NULL)
		{
			if (sealed != NULL && *unopened == NULL && entry_may_admit(e, alg))
			{
				*unopened = e;
				*unopened_why = sealed;
			}
			continue;
		}
		if (!(jwt_key_admitted_algs(k) & JWT_ALG_BIT(alg)))
			continue;
		n++;
		*found = e;
		*found_key = k;
	}
	return n;
}

/*
 * The keyring key that verifies a token: the one its kid names, or without a
 * kid the single usable key that admits its algorithm.  Keys are looked up by
 * (iss, kid): when two issuers use one kid, the token's iss chooses; a key
 * bound to an issuer never verifies a token of another (28J06).  payload is
 * the token's (unverified) claims, read for iss only when that matters.
 * *key_issuer is set to the key's issuer (UTF-8), NULL for this database's.
 */
JwtStatus
jwt_keyring_verify_key(JwtAlg alg, const char *kid, const char *payload, size_t payload_len,
					   JwtKey **key, const char **key_issuer, JwtError *err)
{
	TimestampTz now = GetCurrentStatementStartTimestamp();
	KeyringEntry *found = NULL;
	JwtKey	   *found_key = NULL;
	KeyringEntry *unopened = NULL;
	const char *unopened_why = NULL;
	IssHint		hint = {payload, payload_len, false, NULL};
	char		buf[72];
	JwtStatus	st;

	*key_issuer = NULL;
	keyring_ensure();
	if (kid != NULL)
	{
		KeyringEntry *e = NULL;
		KeyringEntry *unbound = NULL;
		int			nmatches = 0;
		JwtKey	   *k;
		const char *sealed;

		for (int i = 0; i < keyring_count; i++)
			if (strcmp(keyring[i].kid, kid) == 0)
			{
				nmatches++;
				e = &keyring[i];
				if (e->issuer == NULL)
					unbound = e;
			}
		if (nmatches > 1)
		{
			/* several issuers use this kid: the token's iss chooses, else this database's key */
			const char *iss = hint_iss(&hint);

			e = unbound;
			for (int i = 0; i < keyring_count; i++)
				if (strcmp(keyring[i].kid, kid) == 0 && entry_of_issuer(&keyring[i], iss))
					e = &keyring[i];
			if (e == NULL)
			{
				jwt_fail(err, JWT_ERR_ISSUER, "token issuer is not the issuer of any key with its kid");
				jwt_fail_detail(err, "%d keys of other issuers have kid \"%s\".", nmatches,
								jwt_printable(kid, buf, sizeof(buf)));
				return JWT_ERR_ISSUER;
			}
		}
		if (e == NULL)
		{
			/* perhaps the token's issuer rotated: its refresher may look now */
			if (jwt_keyring_kid_miss_hook != NULL && hint_iss(&hint) != NULL)
				jwt_keyring_kid_miss_hook(hint_iss(&hint), kid);
			return jwt_fail(err, JWT_ERR_NO_KEY, "no key in the keyring has kid \"%s\"",
							jwt_printable(kid, buf, sizeof(buf)));
		}
		if ((st = check_binding(e, payload, err)) != JWT_OK)
			return st;
		if (!entry_verifies(e, now))
			return jwt_fail(err, JWT_ERR_NO_KEY, e->state == KEY_REVOKED ? "key \"%s\" is revoked"
							: "key \"%s\" is retired", jwt_printable(kid, buf, sizeof(buf)));
		if ((k = entry_key(e, &sealed)) == NULL)
		{
			/* the key exists: say it cannot be opened, not that it is unknown */
			if (sealed != NULL)
				return fail_sealed(err, e->kid, sealed);
			return jwt_fail(err, JWT_ERR_NO_KEY, "key \"%s\" in the keyring cannot be used",
							jwt_printable(kid, buf, sizeof(buf)));
		}
		warn_unbound(e);
		*key = k;
		if (e->issuer != NULL)
			*key_issuer = pstrdup(e->issuer);
		return JWT_OK;
	}

	/* without a kid: the one key that could verify it, among those of its iss if several */
	if (kidless_candidates(alg, now, CAND_ALL, NULL, &found, &found_key, &unopened, &unopened_why) > 1)
	{
		const char *iss = hint_iss(&hint);
		CandidateFilter filter = CAND_UNBOUND;

		for (int i = 0; i < keyring_count && filter == CAND_UNBOUND; i++)
			if (entry_of_issuer(&keyring[i], iss))
				filter = CAND_OF_ISS;
		if (kidless_candidates(alg, now, filter, iss, &found, &found_key, &unopened, &unopened_why) > 1)
			return jwt_fail(err, JWT_ERR_NO_KEY,
							"token has no kid and several keys in the keyring could verify it");
	}
	if (found == NULL)
	{
		/* a key that might have verified it is sealed: say so rather than "none" */
		if (unopened != NULL)
			return fail_sealed(err, unopened->kid, unopened_why);
		return jwt_fail(err, JWT_ERR_NO_KEY, "no key in the keyring can verify %s tokens",
						jwt_alg_name(alg));
	}
	if ((st = check_binding(found, payload, err)) != JWT_OK)
		return st;
	warn_unbound(found);
	*key = found_key;
	if (found->issuer != NULL)
		*key_issuer = pstrdup(found->issuer);
	return JWT_OK;
}

/*
 * Is iss the issuer of any key bound to it (in any state)?  Read from the
 * keyring as the last lookup loaded it, right after that lookup.
 */
bool
jwt_keyring_issuer_is_bound(const char *iss)
{
	for (int i = 0; i < keyring_count; i++)
		if (entry_of_issuer(&keyring[i], iss))
			return true;
	return false;
}

/*
 * The key to sign with: the one named by kid, or the active key activated
 * last that has private material.  Never a key imported from a JWKS, whatever
 * it holds: a provider's key verifies the provider's tokens, it does not sign
 * ours; never a standby key (published, not yet signing), a retired or a
 * revoked one.  Raises when there is none.
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

		if (!e->has_private)
			continue;
		if (kid != NULL && strcmp(e->kid, kid) == 0 && e->imported)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("key \"%s\" was imported from a JWKS and cannot sign", e->kid),
					 errdetail("Imported keys only verify tokens of the provider that published them.")));
		if (kid != NULL && strcmp(e->kid, kid) == 0 && e->state == KEY_STANDBY)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("key \"%s\" is in standby and does not sign yet", e->kid),
					 errhint("Activate it with jwt_activate_key() or jwt_rotate_keys().")));
		if (e->imported || e->state != KEY_ACTIVE)
			continue;
		if (kid != NULL ? strcmp(e->kid, kid) == 0
			: (best == NULL || e->activated_at > best->activated_at ||
			   (e->activated_at == best->activated_at && strcmp(e->kid, best->kid) > 0)))
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
 * A keyring row's private material sealed (again) under the current
 * key-encryption key, for jwt_seal_keys() and jwt_reseal_keys(): plain
 * material, and 0.1.0 envelopes bound to the kid only, become version 2
 * envelopes; a version 2 envelope that opens under the current key comes back
 * as NULL (keep it as it is).  Sets *sealed_len.
 */
char *
jwt_keyring_seal_row(const EnvelopeRow *row, const char *material, size_t len,
					 size_t *sealed_len)
{
	const char *kek;
	const char *plain = material;
	int			version = envelope_version(material, len);
	bool		by_previous = false;
	char	   *sealed;

	if ((kek = jwt_kek()) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("jwt.key_encryption_key is not set")));
	/*
	 * Sealed material must open under this key, or under the previous one
	 * during a rotation (then it is sealed again under this one): never keys
	 * that no configured key opens.
	 */
	if (version != 0 &&
		(plain = open_sealed(row, material, len, &len, &by_previous)) == NULL)
	{
		JwtError	err;

		fail_sealed(&err, row->kid, jwt_previous_kek() != NULL
					? "neither jwt.key_encryption_key nor jwt.previous_key_encryption_key opens it"
					: "jwt.key_encryption_key does not open it");
		jwt_raise(&err);
	}
	if (version == 2 && !by_previous)
	{
		memset(unconstify(char *, plain), 0, len);
		pfree(unconstify(char *, plain));
		return NULL;
	}
	sealed = envelope_seal(kek, row, plain, len, sealed_len);
	if (version != 0)
	{
		memset(unconstify(char *, plain), 0, len);
		pfree(unconstify(char *, plain));
	}
	return sealed;
}

