/*
 * keyring.c - SQL entry points of the keyring's administration (src/keyring.c)
 *
 * _jwt_key_describe() and _jwt_key_generate(), which jwt_add_key(),
 * jwt_generate_key() and jwt_import_jwks() call, parse, check, generate and
 * seal key material for a jwt_keys row.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/timestamp.h"

#include "envelope.h"
#include "keygen.h"
#include "keyring.h"
#include "jwt_sql.h"

static bytea *
bytes_to_bytea(const void *data, size_t len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), data, len);
	return b;
}

/*
 * Fill the describe row for a parsed key.  With natts 6 the row carries the
 * created_at the material is sealed for (the caller inserts it); the 0.1.0
 * SQL has 5 columns, and gets a kid-bound (version 1) envelope.
 */
static void
describe_key(FunctionCallInfo fcinfo, JwtKey *key, Datum *values, bool *nulls, int natts)
{
	TimestampTz created_at = GetCurrentTimestamp();
	JwtAlg		alg = key->jwk_alg;
	JwtError	err;

	if (!PG_ARGISNULL(2))
	{
		alg = jwt_algorithm_argument(PG_GETARG_TEXT_PP(2));
		if (jwt_key_check_alg(key, alg, &err) != JWT_OK)
		{
			err.status = JWT_ERR_KEY;
			jwt_raise(&err);
		}
	}
	if (!PG_ARGISNULL(3))
		values[0] = PointerGetDatum(PG_GETARG_TEXT_PP(3));
	else if (key->kid != NULL)
		values[0] = CStringGetTextDatum(key->kid);
	else if (key->type == JWT_KEY_HMAC)
		values[0] = CStringGetTextDatum(jwt_key_random_kid());	/* a thumbprint is a hash of the secret */
	else
		values[0] = CStringGetTextDatum(jwt_key_thumbprint(key));
	nulls[1] = alg == JWT_ALG_NONE;
	values[1] = nulls[1] ? (Datum) 0 : CStringGetTextDatum(jwt_alg_name(alg));
	values[2] = CStringGetTextDatum(jwt_key_type_name(key));
	nulls[3] = key->type == JWT_KEY_HMAC;
	if (!nulls[3])
		values[3] = DirectFunctionCall1(jsonb_in, CStringGetDatum(jwt_key_canonical_jwk(key)));
	nulls[4] = !key->has_private;
	if (key->has_private)
	{
		char	   *plain = key->type == JWT_KEY_HMAC ? (char *) key->secret : jwt_key_private_pem(key);
		size_t		len = key->type == JWT_KEY_HMAC ? (size_t) key->secret_len : strlen(plain);
		const char *kek = jwt_kek();

		if (kek != NULL)
		{
			EnvelopeRow row = {TextDatumGetCString(values[0]),
				nulls[1] ? NULL : jwt_alg_name(alg), jwt_key_type_name(key), created_at};
			size_t		sealed_len;
			char	   *sealed = natts >= 6
				? envelope_seal(kek, &row, plain, len, &sealed_len)
				: envelope_seal_v1(kek, row.kid, plain, len, &sealed_len);

			values[4] = PointerGetDatum(bytes_to_bytea(sealed, sealed_len));
		}
		else
			values[4] = PointerGetDatum(bytes_to_bytea(plain, len));
		if (key->type != JWT_KEY_HMAC)
			memset(plain, 0, len);
	}
	if (natts >= 6)
		values[5] = TimestampTzGetDatum(created_at);
}

/*
 * jwt_key_describe_internal(material bytea, is_secret boolean, alg text, kid text,
 *     OUT kid text, OUT alg text, OUT kty text, OUT public_jwk jsonb, OUT private_key bytea)
 * One key, parsed and checked, as a jwt_keys row.  Not for PUBLIC: it
 * returns private material.
 */
PG_FUNCTION_INFO_V1(jwt_key_describe_internal);
Datum
jwt_key_describe_internal(PG_FUNCTION_ARGS)
{
	bytea	   *material;
	bool		is_secret;
	JwtKeySet	set;
	JwtError	err;
	JwtStatus	st;
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key material must not be null")));
	material = PG_GETARG_BYTEA_PP(0);
	is_secret = PG_GETARG_BOOL(1);
	memset(&set, 0, sizeof(set));
	PG_TRY();
	{
		st = jwt_keyset_parse(VARDATA_ANY(material), VARSIZE_ANY_EXHDR(material), is_secret,
							  CurrentMemoryContext, &set, &err);
		if (st != JWT_OK)
			jwt_raise(&err);
		if (set.is_jwks)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a key set cannot be added as one key"),
					 errhint("Use jwt_import_jwks() for a JWKS.")));
		/* the keyring verifies with every key and signs with its private ones */
		if ((set.keys[0].key_ops & JWT_KEYOP_LISTED) &&
			(!(set.keys[0].key_ops & JWT_KEYOP_VERIFY) ||
			 (set.keys[0].has_private && !(set.keys[0].key_ops & JWT_KEYOP_SIGN))))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a keyring key must allow \"verify\", and \"sign\" when it is private"),
					 errdetail("The JWK's \"key_ops\" limits it to fewer operations than the keyring uses it for.")));
		describe_key(fcinfo, &set.keys[0], values, nulls, Min(tupdesc->natts, 6));
	}
	PG_FINALLY();
	{
		jwt_keyset_free(&set);
	}
	PG_END_TRY();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/*
 * jwt_key_generate_internal(alg text) RETURNS bytea
 * New key material for alg: PKCS#8 PEM, or an HMAC secret.  Not for PUBLIC.
 */
PG_FUNCTION_INFO_V1(jwt_key_generate_internal);
Datum
jwt_key_generate_internal(PG_FUNCTION_ARGS)
{
	JwtAlg		alg = jwt_algorithm_argument(PG_GETARG_TEXT_PP(0));
	char	   *pem;
	unsigned char *secret;
	int			secret_len;
	bytea	   *out;

	jwt_key_generate(alg, &pem, &secret, &secret_len);
	if (pem != NULL)
	{
		out = bytes_to_bytea(pem, strlen(pem));
		memset(pem, 0, strlen(pem));
	}
	else
	{
		out = bytes_to_bytea(secret, secret_len);
		memset(secret, 0, secret_len);
	}
	PG_RETURN_BYTEA_P(out);
}

/*
 * _jwt_key_seal(kid text, alg text, kty text, created_at timestamptz, private_key bytea) RETURNS bytea
 * A row's private material sealed (again) for that row under the current
 * key-encryption key (see jwt_keyring_seal_row).  For jwt_seal_keys() and
 * jwt_reseal_keys(); not for PUBLIC.
 */
PG_FUNCTION_INFO_V1(jwt_key_seal_internal);
Datum
jwt_key_seal_internal(PG_FUNCTION_ARGS)
{
	EnvelopeRow row;
	bytea	   *in;
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
	sealed = jwt_keyring_seal_row(&row, VARDATA_ANY(in), VARSIZE_ANY_EXHDR(in), &sealed_len);
	if (sealed == NULL)
		PG_RETURN_BYTEA_P(in);
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
