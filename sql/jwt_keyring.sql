-- The keyring: keys generated, added, imported, retired and published by the database.
-- Generated kids are random thumbprints, so most results here are booleans and counts.
SET jwt.default_lifetime = '1h';

SELECT count(*) AS empty_keyring FROM jwt_key_list;
SELECT try($$SELECT jwt_sign('{"sub":"a"}')$$) AS sign_with_empty_keyring;
SELECT valid(jwt_sign('{"exp":1893459600}', secret()), NULL) AS verify_with_empty_keyring;

-- generate one key of every kind; the kid is the RFC 7638 thumbprint (random for secrets) unless given
SELECT alg, length(jwt_generate_key(alg)) AS kid_length
FROM unnest(ARRAY['HS256','HS384','HS512','RS256','PS384','ES256','ES384','ES512','EdDSA']) AS alg;
SELECT jwt_generate_key('ES256', 'signing-2026');
SELECT try($$SELECT jwt_generate_key('ES256', 'signing-2026')$$) AS duplicate_kid;
SELECT try($$SELECT jwt_generate_key('none')$$) AS generate_none;
SELECT try($$SELECT jwt_generate_key('ES256', '')$$) AS empty_kid;
SELECT kid = 'signing-2026' AS newest_is_signing, alg, kty, origin, state, has_private
FROM jwt_key_list ORDER BY created_at DESC LIMIT 1;
SELECT kty, count(*), bool_and(has_private) AS all_private, bool_and(state = 'active') AS all_active
FROM jwt_key_list GROUP BY kty ORDER BY kty;

-- the thumbprint is RFC 7638's: RFC 7638 section 3.1's example key
SELECT jwt_add_key('{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}', kid => NULL) AS kid_from_jwk;
SELECT jwt_add_key('{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB"}') AS rfc7638_thumbprint;
SELECT kid, alg, kty, origin, has_private FROM jwt_key_list WHERE origin = 'added' ORDER BY kid;

-- sign with the current signing key (the newest active key with private material)
SELECT jwt_sign('{"sub":"alice","exp":1893459600}') AS t \gset
SELECT (jwt_decode(:'t')).header ->> 'kid' AS kid, (jwt_decode(:'t')).header ->> 'alg' AS alg;
SELECT jwt_verify(:'t', now => '2030-01-01 00:00+00') ->> 'sub' AS keyring_verify;
SELECT jwt_verify(:'t', audience => NULL, now => '2030-01-01 00:00+00') ->> 'sub' AS with_options;
SELECT jwt_verify(:'t', algorithms => ARRAY['ES256'], now => '2030-01-01 00:00+00') ->> 'sub' AS with_allowlist;
SELECT valid(:'t', NULL) AS jwt_is_valid_keyring;
SELECT try(format('SELECT jwt_verify(%L, algorithms => ARRAY[''RS256''], now => %L)', :'t', '2030-01-01 00:00+00')) AS not_in_allowlist;
-- the options of the core apply
SELECT try(format('SELECT jwt_verify(%L, audience => ''api'', now => %L)', :'t', '2030-01-01 00:00+00')) AS audience_expected;
SELECT try(format('SELECT jwt_verify(%L)', jwt_sign('{"sub":"a","iat":900,"exp":1000}'))) AS expired;
-- an explicit key still works beside the keyring
SELECT jwt_verify(jwt_sign('{"sub":"b"}', secret()), secret()) ->> 'sub' AS explicit_key;
SELECT jwt_verify(jwt_sign('{"sub":"b"}', k('rsa')), k('rsa_pub'), algorithms => ARRAY['RS256']) ->> 'sub' AS explicit_key_allowlist;

-- a kid in the header picks another signing key, of any algorithm
SELECT kid AS hs_kid FROM jwt_key_list WHERE alg = 'HS512' \gset
SELECT (jwt_decode(t)).header ->> 'alg' AS alg, jwt_verify(t) ->> 'sub' AS sub
FROM (SELECT jwt_sign('{"sub":"carol"}', header => jsonb_build_object('kid', :'hs_kid')) AS t) s;
SELECT alg, jwt_verify(jwt_sign('{"sub":"d"}', header => jsonb_build_object('kid', kid))) ->> 'sub' AS sub
FROM jwt_key_list WHERE origin = 'generated' ORDER BY alg;
SELECT try($$SELECT jwt_sign('{}', header => '{"kid":"no-such-key"}')$$) AS unknown_signing_kid;
SELECT try($$SELECT jwt_sign('{}', header => '{"kid":7}')$$) AS kid_not_string;
SELECT try($$SELECT jwt_sign('{}', header => '{"kid":"2011-04-29"}')$$) AS public_key_cannot_sign;
SELECT try($$SELECT jwt_sign('{}', alg => 'RS256')$$) AS alg_not_of_signing_key;
-- jws too
SELECT convert_from(jws_verify(jws_sign('payload'::bytea)), 'UTF8') AS jws_keyring;

-- tokens without a kid: tried against the keyring only when one key fits
SELECT valid(forge('{"alg":"HS256"}', '{"exp":1893459600}'), NULL) AS foreign_hs256;
SELECT try(format('SELECT jwt_verify(%L)', jwt_sign('{"sub":"e"}', k('ec_p256'))));
SELECT try(format('SELECT jwt_verify(%L)', jwt_sign('{"sub":"e"}', k('ec_p256'), header => '{"kid":"signing-2026"}'))) AS wrong_key_same_kid;
SELECT try(format('SELECT jwt_verify(%L)', jwt_sign('{"sub":"e"}', k('ec_p256'), header => '{"kid":"unknown"}'))) AS unknown_kid;
-- a kid is data, never code or a path
SELECT try(format('SELECT jwt_verify(%L)', jwt_sign('{"sub":"e"}', k('ec_p256'), header => jsonb_build_object('kid', v))))
FROM unnest(ARRAY[''' OR 1=1 --', '../../../../etc/passwd', repeat('k', 5000), E'tab\there']) AS v;

-- retire: stops signing at once; verifying at once, or after a grace period
SELECT jwt_sign('{"sub":"in grace"}', header => '{"kid":"signing-2026"}') AS t26 \gset
SELECT jwt_retire_key('signing-2026', grace => '1 hour');
SELECT state FROM jwt_key_list WHERE kid = 'signing-2026';
SELECT jwt_verify(:'t26') ->> 'sub' AS verifies_in_grace;
SELECT try($$SELECT jwt_sign('{}', header => '{"kid":"signing-2026"}')$$) AS retired_cannot_sign;
SELECT (jwt_decode(jwt_sign('{}'))).header ->> 'kid' <> 'signing-2026' AS next_key_signs;
SELECT jwt_retire_key('signing-2026') AS retire_again;
UPDATE jwt_keys SET verify_until = now() - interval '1 second' WHERE kid = 'signing-2026';  -- the grace period ends
SELECT state FROM jwt_key_list WHERE kid = 'signing-2026';
SELECT try(format('SELECT jwt_verify(%L)', :'t26')) AS after_grace;
SELECT kid AS es_kid FROM jwt_key_list WHERE alg = 'ES384' \gset
SELECT jwt_sign('{"sub":"g"}', header => jsonb_build_object('kid', :'es_kid')) AS t384 \gset
SELECT jwt_retire_key(:'es_kid');
SELECT try(format('SELECT jwt_verify(%L)', :'t384')) = '28J0D: key "' || :'es_kid' || '" is retired' AS refused_at_once;
SELECT try($$SELECT jwt_retire_key('no-such-key')$$);
SELECT try($$SELECT jwt_retire_key('signing-2026', '-1 day')$$);

-- JWKS out: public members only, our signing keys that still verify
SELECT jsonb_array_length(jwt_jwks() -> 'keys') AS published,
       (SELECT count(*) FROM jwt_key_list WHERE has_private AND kty <> 'oct' AND state <> 'retired') AS expected;
SELECT DISTINCT key FROM jsonb_array_elements(jwt_jwks() -> 'keys') AS k, jsonb_object_keys(k) AS key ORDER BY 1;
SELECT bool_and(k ->> 'kid' IS NOT NULL AND k ->> 'use' = 'sig') AS all_have_kid_and_use FROM jsonb_array_elements(jwt_jwks() -> 'keys') AS k;
-- our published JWKS verifies our tokens as an explicit key set
SELECT jwt_verify(jwt_sign('{"sub":"h"}'), jwt_jwks()::text) ->> 'sub' AS jwks_round_trip;

-- import a provider's JWKS, bound to its issuer: upsert by (issuer, kid), skip encryption keys,
-- refuse what the core refuses
SELECT jwt_import_jwks(jsonb_build_object('keys', jsonb_build_array(
    k('ec256_pub_jwk')::jsonb || '{"kid":"idp-ec","alg":"ES256"}',
    k('rsa_pub_jwk')::jsonb - 'key_ops' || '{"kid":"idp-rsa","use":"sig"}',
    k('ed25519_pub_jwk')::jsonb || '{"kid":"idp-ed"}',
    '{"kty":"RSA","use":"enc","kid":"idp-enc","n":"AQAB","e":"AQAB"}'::jsonb)), 'https://idp.example') AS imported;
SELECT kid, alg, kty, origin, has_private FROM jwt_key_list WHERE origin = 'jwks' ORDER BY kid;
SELECT jwt_verify(jwt_sign('{"sub":"i","iss":"https://idp.example"}', k('rsa'), 'PS256', header => '{"kid":"idp-rsa"}')) ->> 'sub' AS provider_rsa_any_rs_ps;
SELECT jwt_verify(jwt_sign('{"sub":"i","iss":"https://idp.example"}', k('ed25519'), header => '{"kid":"idp-ed"}')) ->> 'sub' AS provider_ed;
SELECT jwt_import_jwks(jsonb_build_object('keys', jsonb_build_array(k('ec256_pub_jwk')::jsonb || '{"kid":"idp-ec","alg":"ES256"}')), 'https://idp.example') AS reimported;
SELECT count(*) FILTER (WHERE origin = 'jwks') AS jwks_keys FROM jwt_key_list;
SELECT name, try(format('SELECT jwt_import_jwks(%L, %L)', jwks, 'https://idp.example')) FROM (VALUES
  ('not a JWKS', '[]'),
  ('keys not array', '{"keys":{}}'),
  ('weak RSA', jsonb_build_object('keys', jsonb_build_array(jsonb_build_object('kty', 'RSA', 'kid', 'weak', 'e', 'AQAB', 'n', b64u(decode(repeat('ff', 128), 'hex')))))::text),
  ('off-curve point', jsonb_build_object('keys', jsonb_build_array(jsonb_set(k('ec256_pub_jwk')::jsonb, '{y}', to_jsonb(b64u(decode(repeat('11', 32), 'hex')))) || '{"kid":"bad"}'))::text),
  ('unknown curve', '{"keys":[{"kty":"EC","crv":"secp256k1","kid":"k1","x":"AA","y":"AA"}]}')
) AS v(name, jwks);
-- (a kid is unique within its issuer since 0.2.0: jwt_issuers tests a provider's kid equal to ours)
-- without its issuer, a key set is refused (after its keys are checked)
SELECT try(format('SELECT jwt_import_jwks(%L)', jsonb_build_object('keys', jsonb_build_array(k('ec256_pub_jwk')::jsonb || '{"kid":"idp-ec2"}')))) AS unbound_refused;
SELECT count(*) FILTER (WHERE origin = 'jwks') AS jwks_keys_unchanged FROM jwt_key_list;

-- add: PEM keys, JWKs, secrets; public keys only verify
SELECT jwt_add_key(k('ed448'), kid => 'ed448-pem');
SELECT jwt_add_key(k('rsa_pub'), 'PS256', 'rsa-public-pem');
SELECT jwt_add_key(repeat('s', 48), 'HS384', 'shared-secret');
SELECT kid, alg, kty, has_private FROM jwt_key_list WHERE kid IN ('ed448-pem', 'rsa-public-pem', 'shared-secret') ORDER BY kid;
SELECT jwt_verify(jwt_sign('{"sub":"j"}', repeat('s', 48), 'HS384', header => '{"kid":"shared-secret"}')) ->> 'sub' AS shared_secret;
SELECT try(format('SELECT jwt_verify(%L)', jwt_sign('{"sub":"j"}', k('rsa'), 'RS256', header => '{"kid":"rsa-public-pem"}'))) AS pinned_ps256;
SELECT name, try(format('SELECT jwt_add_key(%L, %L)', key, alg)) FROM (VALUES
  ('weak RSA', k('rsa1024'), NULL),
  ('short secret', 'short', NULL),
  ('alg for another key type', k('ec_p256'), 'RS256'),
  ('a JWKS', jsonb_build_object('keys', jsonb_build_array(k('ec256_pub_jwk')::jsonb))::text, NULL),
  ('encrypted PEM', k('rsa_enc'), NULL)
) AS v(name, key, alg);

-- the keyring's bytes are never in an error message
SELECT position(encode(private_key, 'escape') IN try(format('SELECT jwt_add_key(%L, ''ES256'')', convert_from(private_key, 'UTF8')))) = 0 AS no_secret_in_error
FROM jwt_keys WHERE kid = 'shared-secret';

-- RFC 9864's fully-specified EdDSA names as keyring algorithms: the key is of
-- that curve and tokens carry the name
SELECT jwt_generate_key('Ed448', 'ed448-named') AS kid, jwt_generate_key('Ed25519', 'ed25519-named') AS kid2;
SELECT kid, alg, kty, public_jwk ->> 'crv' AS crv, public_jwk ->> 'alg' AS jwk_alg
FROM jwt_keys WHERE kid IN ('ed448-named', 'ed25519-named') ORDER BY kid;
SELECT (jwt_decode(t)).header ->> 'alg' AS header_alg, jwt_verify(t) ->> 'sub' AS sub
FROM (SELECT jwt_sign('{"sub":"named"}', header => jsonb_build_object('kid', kid)) AS t
      FROM unnest(ARRAY['ed448-named', 'ed25519-named']) kid) s;
SELECT jwt_retire_key('ed448-named'), jwt_retire_key('ed25519-named');
