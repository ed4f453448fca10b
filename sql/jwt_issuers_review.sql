-- Adversarial review of issue 14's issuer-bound keyring, key states and
-- audience/issuer lists.  Each test names the attack it replays.
SET jwt.default_lifetime = '1h';
SET jwt.issuer = 'https://api.example';
-- 'ok' or the SQLSTATE and message of a verification with the keyring
CREATE FUNCTION pg_temp.kv(token text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM jwt_verify(token);
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- a token signed with key (a test key's name) and kid, with these claims and an hour to live
CREATE FUNCTION pg_temp.tok(claims jsonb, key text, kid text) RETURNS text LANGUAGE sql AS $$
    SELECT jwt_sign(claims || jsonb_build_object('exp', extract(epoch FROM now() + interval '1 hour')::bigint),
                    k(key), header => jsonb_build_object('kid', kid))
$$;
CREATE FUNCTION pg_temp.jwks(key text, kid text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('keys', jsonb_build_array(k(key)::jsonb || jsonb_build_object('kid', kid)))
$$;

-- Attack: a provider key revoked (its private key leaked) comes back under
-- another kid: the provider's next key set, or an import, publishes the same
-- public key as "k2".  A revocation is of the key's material, not of its kid.
SELECT jwt_import_jwks(pg_temp.jwks('ec256_pub_jwk', 'rv-1'), 'https://rv.example') AS imported;
SELECT jwt_revoke_key('rv-1', 'https://rv.example') AS revoked;
SELECT jwt_import_jwks(pg_temp.jwks('ec256_pub_jwk', 'rv-2'), 'https://rv.example') AS same_key_new_kid;
SELECT kid, state, verifies FROM jwt_key_list WHERE issuer = 'https://rv.example' ORDER BY kid;
SELECT pg_temp.kv(pg_temp.tok('{"iss":"https://rv.example"}', 'ec_p256', 'rv-2')) AS import_new_kid;
-- ... or under another issuer's name
SELECT jwt_import_jwks(pg_temp.jwks('ec256_pub_jwk', 'rv-3'), 'https://rv2.example') AS other_issuer;
SELECT pg_temp.kv(pg_temp.tok('{"iss":"https://rv2.example"}', 'ec_p256', 'rv-3')) AS import_other_issuer;
-- the refresher: a set whose only key is the revoked one is no usable set (nothing changes) ...
SELECT jwt_import_jwks(pg_temp.jwks('ed25519_pub_jwk', 'rv-ed'), 'https://rv.example') AS working_key;
SELECT try(format('SELECT _jwt_replace_issuer_keys(%L, %L)', 'https://rv.example',
                  pg_temp.jwks('ec256_pub_jwk', 'rv-4'))) AS refresh_only_revoked;
SELECT kid, state, verifies FROM jwt_key_list WHERE issuer = 'https://rv.example' ORDER BY kid;
-- ... and beside a usable key it is stored revoked
SELECT _jwt_replace_issuer_keys('https://rv.example', jsonb_build_object('keys',
       (pg_temp.jwks('ec256_pub_jwk', 'rv-4') -> 'keys') || (pg_temp.jwks('ed25519_pub_jwk', 'rv-ed') -> 'keys'))) AS refreshed;
SELECT kid, state, verifies FROM jwt_key_list WHERE issuer = 'https://rv.example' ORDER BY kid;
SELECT pg_temp.kv(pg_temp.tok('{"iss":"https://rv.example"}', 'ec_p256', 'rv-4')) AS refresh_new_kid;
SELECT pg_temp.kv(pg_temp.tok('{"iss":"https://rv.example"}', 'ed25519', 'rv-ed')) AS working_key_verifies;
DELETE FROM jwt_keys WHERE issuer IN ('https://rv.example', 'https://rv2.example');
-- Attack: the same provider key was imported twice before it leaked: under
-- two kids, or for two issuers sharing the provider's keys (one key set for
-- every tenant).  Revoking one row left the twin verifying.
SELECT jwt_import_jwks(jsonb_build_object('keys', (pg_temp.jwks('ec256_pub_jwk', 'tw-1') -> 'keys') ||
       (pg_temp.jwks('ec256_pub_jwk', 'tw-2') -> 'keys')), 'https://tenant-a.example') AS twins;
SELECT jwt_import_jwks(pg_temp.jwks('ec256_pub_jwk', 'tw-1'), 'https://tenant-b.example') AS other_tenant;
SELECT jwt_import_jwks(pg_temp.jwks('ed25519_pub_jwk', 'tw-other'), 'https://tenant-b.example') AS other_key;
SELECT jwt_revoke_key('tw-1', 'https://tenant-a.example') AS revoked;
SELECT kid, issuer, state FROM jwt_key_list WHERE issuer LIKE 'https://tenant-%' ORDER BY issuer, kid;
SELECT pg_temp.kv(pg_temp.tok('{"iss":"https://tenant-a.example"}', 'ec_p256', 'tw-2')) AS twin_kid;
SELECT pg_temp.kv(pg_temp.tok('{"iss":"https://tenant-b.example"}', 'ec_p256', 'tw-1')) AS twin_issuer;
SELECT pg_temp.kv(pg_temp.tok('{"iss":"https://tenant-b.example"}', 'ed25519', 'tw-other')) AS other_key_verifies;
DELETE FROM jwt_keys WHERE issuer LIKE 'https://tenant-%';

-- ---------------------------------------------------------------------------
-- Audience and issuer lists as arguments: jwt_verify(token, audiences => ...)
-- and jwt_is_valid, text and bytea keys (any item matches)
-- ---------------------------------------------------------------------------
RESET jwt.issuer;
-- an HS256 token with these claims and an hour to live
CREATE FUNCTION pg_temp.t(claims text) RETURNS text LANGUAGE sql AS $$
    SELECT claims_token((claims::jsonb || jsonb_build_object('exp', extract(epoch FROM now() + interval '1 hour')::bigint))::text)
$$;
SELECT jwt_verify(pg_temp.t('{"aud":"web"}'), audiences => ARRAY['api', 'web'], key => secret()) ->> 'aud' AS named_list;
SELECT jwt_verify(pg_temp.t('{"aud":["x","api"]}'), ARRAY['api', 'web'], secret()) ->> 'aud' AS positional_list;
SELECT jwt_is_valid(pg_temp.t('{"aud":"web"}'), ARRAY['api', 'web'], secret()) AS is_valid_list,
       jwt_is_valid(pg_temp.t('{"aud":"web"}'), ARRAY['api', 'web'], convert_to(secret(), 'UTF8')) AS is_valid_list_bytea,
       jwt_verify(pg_temp.t('{"aud":"api"}'), audiences => ARRAY['api'], key => convert_to(secret(), 'UTF8')) ->> 'aud' AS verify_list_bytea;
-- the text forms are unchanged: one value, named or positional, typed or not
SELECT jwt_verify(pg_temp.t('{"aud":"api"}'), secret(), audience => 'api') ->> 'aud' AS text_named,
       jwt_verify(pg_temp.t('{"aud":"api"}'), secret(), NULL, 'api') ->> 'aud' AS text_positional,
       jwt_is_valid(pg_temp.t('{"aud":"api"}'), secret(), audience => 'api'::varchar) AS text_varchar;
-- an untyped NULL key is still the text form's (the keyring), not ambiguous
SELECT try(format('SELECT jwt_verify(%L, NULL)', jwt_sign('{"sub":"x"}', secret(), header => '{"kid":"review-no-such-kid"}'))) AS null_key_text_form;
PREPARE untyped AS SELECT jwt_is_valid($1, $2, audience => $3, issuer => $4);
EXECUTE untyped(pg_temp.t('{"aud":"api","iss":"i"}'), secret(), 'api', 'i');
DEALLOCATE untyped;
PREPARE untyped_list AS SELECT jwt_is_valid($1, audiences => $2, key => $3);
EXECUTE untyped_list(pg_temp.t('{"aud":"api"}'), '{web,api}', secret());
DEALLOCATE untyped_list;
-- Attack: a token whose aud is none of the list, is the list written as one
-- string, or a prefix of an item
SELECT try(format('SELECT jwt_verify(%L, audiences => %L, key => %L)', pg_temp.t('{"aud":"mobile"}'), '{api,web}', secret())) AS not_in_list;
SELECT try(format('SELECT jwt_verify(%L, audiences => %L, key => %L)', pg_temp.t('{"aud":"api,web"}'), '{api,web}', secret())) AS whole_list_as_aud;
SELECT try(format('SELECT jwt_verify(%L, audiences => %L, key => %L)', pg_temp.t('{"aud":"ap"}'), '{api,web}', secret())) AS prefix_of_item;
SELECT try(format('SELECT jwt_verify(%L, audiences => %L, key => %L)', pg_temp.t('{"sub":"x"}'), '{api,web}', secret())) AS no_aud;
-- a literal that looks like a list is one audience in the text form
SELECT try(format('SELECT jwt_verify(%L, %L, audience => %L)', pg_temp.t('{"aud":"api"}'), secret(), '{api,web}')) AS text_form_is_one_value;
-- Attack: an empty list, NULL items or a 2-D array would accept nothing or be
-- read loosely: refused as mistakes.  NULL is "no list": the setting applies.
SELECT try(format('SELECT jwt_verify(%L, audiences => %L, key => %L)', pg_temp.t('{"aud":"api"}'), '{}', secret())) AS empty_list;
SELECT try(format('SELECT jwt_verify(%L, audiences => %L, key => %L)', pg_temp.t('{"aud":"api"}'), '{api,NULL}', secret())) AS null_item;
SELECT try(format('SELECT jwt_verify(%L, audiences => %L, key => %L)', pg_temp.t('{"aud":"api"}'), '{{api},{web}}', secret())) AS two_dimensions;
SELECT try(format('SELECT jwt_verify(%L, audiences => NULL, key => %L)', pg_temp.t('{"aud":"api"}'), secret())) AS null_list_no_setting;
SET jwt.audience = 'api';
SELECT jwt_verify(pg_temp.t('{"aud":"api"}'), audiences => NULL, key => secret()) ->> 'aud' AS null_list_setting;
SELECT try(format('SELECT jwt_verify(%L, audiences => %L, key => %L)', pg_temp.t('{"aud":"api"}'), '{web}', secret())) AS list_replaces_setting;
RESET jwt.audience;
-- Attack: CPU through a long list against a token's long aud array: 10000
-- items against 2000 aud values is matched by sorted search
SELECT jwt_verify(pg_temp.t(json_build_object('aud', (SELECT json_agg('aud-' || i) FROM generate_series(1, 2000) i))::text),
                  audiences => (SELECT array_agg('list-' || i) || ARRAY['aud-2000'] FROM generate_series(1, 10000) i),
                  key => secret()) -> 'aud' ->> 1999 AS long_lists;
-- issuers: any item; with a provider's key the list still narrows its issuer
SELECT jwt_verify(pg_temp.t('{"iss":"https://b.example"}'), audiences => NULL, key => secret(),
                  issuers => ARRAY['https://a.example', 'https://b.example']) ->> 'iss' AS issuer_list;
SELECT try(format('SELECT jwt_verify(%L, audiences => NULL, key => %L, issuers => %L)', pg_temp.t('{"iss":"https://c.example"}'), secret(), '{https://a.example,https://b.example}')) AS issuer_not_in_list;
SELECT try(format('SELECT jwt_verify(%L, audiences => NULL, key => %L, issuers => %L)', pg_temp.t('{"sub":"x"}'), secret(), '{https://a.example}')) AS issuer_list_no_iss;
SELECT try(format('SELECT jwt_verify(%L, audiences => NULL, key => %L, issuers => %L)', pg_temp.t('{"iss":"x"}'), secret(), '{}')) AS issuer_list_empty;
SELECT jwt_import_jwks(pg_temp.jwks('ec256_pub_jwk', 'lst-1'), 'https://l.example') AS provider;
SELECT jwt_verify(pg_temp.tok('{"iss":"https://l.example"}', 'ec_p256', 'lst-1'), audiences => NULL,
                  issuers => ARRAY['https://l.example', 'https://m.example']) ->> 'iss' AS provider_in_list;
SELECT try(format('SELECT jwt_verify(%L, audiences => NULL, issuers => %L)', pg_temp.tok('{"iss":"https://l.example"}', 'ec_p256', 'lst-1'), '{https://m.example}')) AS provider_list_narrows;
-- Attack: a list naming this database's issuer does not let a provider's key mint it
SELECT try(format('SELECT jwt_verify(%L, audiences => NULL, issuers => %L)', pg_temp.tok('{"iss":"https://api.example"}', 'ec_p256', 'lst-1'), '{https://api.example,https://l.example}')) AS list_does_not_unbind;
DELETE FROM jwt_keys WHERE issuer = 'https://l.example';
-- jwt_consume's list form: any audience matches, once; the key is still refused
SELECT jwt_generate_key('HS256', 'lst-consume') AS consume_key;
SELECT jwt_sign('{"sub":"dan","aud":"mail","jti":"lst-c1"}', header => '{"kid":"lst-consume"}') AS c1 \gset
SELECT try(format('SELECT jwt_consume(%L, audiences => %L)', :'c1', '{web,api}')) AS consume_not_in_list;
SELECT jwt_consume(:'c1', audiences => ARRAY['web', 'mail']) ->> 'sub' AS consume_list;
SELECT try(format('SELECT jwt_consume(%L, audiences => %L)', :'c1', '{web,mail}')) AS consume_list_twice;
SELECT try(format('SELECT jwt_consume(%L, audiences => %L, key => %L)', :'c1', '{mail}', secret())) AS consume_list_key;
SELECT try(format('SELECT jwt_consume(%L, audiences => %L)', :'c1', '{}')) AS consume_list_empty;
SELECT try(format('SELECT jwt_consume(%L, audiences => NULL, issuers => %L)',
       jwt_sign('{"sub":"dan","jti":"lst-c2","iss":"https://x.example"}', header => '{"kid":"lst-consume"}'), '{https://y.example}')) AS consume_issuer_list;
SELECT jwt_delete_key('lst-consume') AS deleted;
DELETE FROM jwt_consumed_tokens WHERE jti LIKE 'lst-c%';
-- the list forms are for everyone, as jwt_verify is
SELECT p.oid::regprocedure AS function, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_execute
FROM pg_proc p WHERE p.proname IN ('jwt_verify', 'jwt_is_valid', 'jwt_consume') AND 'audiences' = ANY (p.proargnames)
ORDER BY p.oid::regprocedure::text;
RESET jwt.default_lifetime;
