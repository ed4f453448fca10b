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
