-- jwt_audit_keyring: issue 12 items 20, 22-24: the keyring's imports, kids and envelopes
-- Each test names the attack it replays.
-- (Envelopes under a key-encryption key need a restart setting: test/keyring_encryption.t.sh.)
SET jwt.default_lifetime = '1h';

-- Run a statement: 'ok', or its SQLSTATE, message and detail.
CREATE FUNCTION pg_temp.try_detail(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    d text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(nullif(E'\n  DETAIL: ' || d, E'\n  DETAIL: '), '');
END $$;

-- Our own signing key, so that "the newest key" below is well defined.
SELECT jwt_generate_key('ES256', 'audit-kr-own') AS own;

-- ---------------------------------------------------------------------------
-- Item 20.  Attack: an identity provider's JWKS carries an "oct" secret (or a
-- private member); jwt_import_jwks stored it, the newest key with private
-- material signed this database's tokens with a secret anyone who read the
-- published JWKS has, and jwt_jwks() republished the provider's key as ours.
-- ---------------------------------------------------------------------------
SELECT pg_temp.try_detail(format('SELECT jwt_import_jwks(%L)', '{"keys":[{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}')) AS oct_refused;
SELECT pg_temp.try_detail(format('SELECT jwt_import_jwks(%L)', jsonb_build_object('keys', jsonb_build_array(k('ec256_jwk')::jsonb)))) AS private_refused;
SELECT name, try(format('SELECT jwt_import_jwks(%L)', jwks)) AS refused FROM (VALUES
  ('oct secret', '{"keys":[{"kty":"oct","kid":"audit-kr-oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}'),
  ('oct, no k', '{"keys":[{"kty":"oct","kid":"audit-kr-oct2"}]}'),
  ('RSA with d, p, q...', jsonb_build_object('keys', jsonb_build_array(k('rsa_jwk')::jsonb - 'key_ops' || '{"kid":"audit-kr-rsa"}'))::text),
  ('EC with d', jsonb_build_object('keys', jsonb_build_array(k('ec256_jwk')::jsonb || '{"kid":"audit-kr-ec"}'))::text),
  ('Ed25519 with d', jsonb_build_object('keys', jsonb_build_array(k('ed25519_jwk')::jsonb || '{"kid":"audit-kr-ed"}'))::text),
  ('private encryption key', jsonb_build_object('keys', jsonb_build_array(k('ec256_jwk')::jsonb || '{"kid":"audit-kr-enc","use":"enc"}'))::text),
  ('one leaked key among public ones', jsonb_build_object('keys', jsonb_build_array(
      k('ed25519_pub_jwk')::jsonb || '{"kid":"audit-kr-pub"}',
      k('ec256_jwk')::jsonb || '{"kid":"audit-kr-ec"}'))::text)
) AS v(name, jwks);
SELECT count(*) AS nothing_stored FROM jwt_keys WHERE kid LIKE 'audit-kr-%' AND kid <> 'audit-kr-own';
-- the refusal never quotes the material
SELECT position('ZKIWQPypybZQC3EhnhIW3BjY8WUwkNhoUt7AvAywVs8' IN
                try(format('SELECT jwt_import_jwks(%L)', jsonb_build_object('keys', jsonb_build_array(k('ec256_jwk')::jsonb))))) = 0
       AS no_secret_in_error;
-- public keys still import, and verify the provider's tokens
SELECT jwt_import_jwks(jsonb_build_object('keys', jsonb_build_array(k('ed25519_pub_jwk')::jsonb || '{"kid":"audit-kr-idp"}'))) AS imported;
SELECT jwt_verify(jwt_sign('{"sub":"idp-user"}', k('ed25519'), header => '{"kid":"audit-kr-idp"}')) ->> 'sub' AS provider_token;

-- Rows that earlier imports (0.1.0) stored with private material: the check
-- is on the row's origin, so they never sign and are never published, however
-- new they are.
INSERT INTO jwt_keys (kid, alg, kty, private_key, origin)
VALUES ('audit-kr-old-oct', 'HS256', 'oct', convert_to('an imported secret that was published 0123456789', 'UTF8'), 'jwks');
INSERT INTO jwt_keys (kid, alg, kty, public_jwk, private_key, origin)
SELECT 'audit-kr-old-ec', 'ES256', 'EC', k('ec256_pub_jwk')::jsonb, convert_to(k('ec_p256'), 'UTF8'), 'jwks';
SELECT (jwt_decode(jwt_sign('{"sub":"a"}'))).header ->> 'kid' AS default_signer_is_ours;
SELECT convert_from(unb64u(split_part(jws_sign('payload'::bytea), '.', 1)), 'UTF8')::jsonb ->> 'kid' AS jws_signer_is_ours;
SELECT pg_temp.try_detail($$SELECT jwt_sign('{}', header => '{"kid":"audit-kr-old-oct"}')$$) AS imported_secret_cannot_sign;
SELECT try($$SELECT jwt_sign('{}', header => '{"kid":"audit-kr-old-ec"}')$$) AS imported_private_key_cannot_sign;
SELECT count(*) AS imported_not_published
FROM jsonb_array_elements(jwt_jwks() -> 'keys') AS k WHERE k ->> 'kid' LIKE 'audit-kr-old-%' OR k ->> 'kid' = 'audit-kr-idp';
SELECT bool_or(k ->> 'kid' = 'audit-kr-own') AS own_key_published FROM jsonb_array_elements(jwt_jwks() -> 'keys') AS k;
-- they still verify the provider's tokens (their rows say what they verify)
SELECT jwt_verify(jwt_sign('{"sub":"old"}', k('ec_p256'), header => '{"kid":"audit-kr-old-ec"}')) ->> 'sub' AS old_import_verifies;
-- re-importing the kid replaces the row's private material with nothing
SELECT jwt_import_jwks(jsonb_build_object('keys', jsonb_build_array(k('ec256_pub_jwk')::jsonb || '{"kid":"audit-kr-old-ec"}'))) AS reimported;
SELECT has_private AS reimport_has_private FROM jwt_key_list WHERE kid = 'audit-kr-old-ec';
DELETE FROM jwt_keys WHERE kid IN ('audit-kr-old-oct', 'audit-kr-old-ec', 'audit-kr-idp');

-- ---------------------------------------------------------------------------
-- Item 22.  Attack: the default kid of an HMAC secret was its RFC 7638
-- thumbprint, SHA-256 of {"k":...,"kty":"oct"} with no salt; every role reads
-- kids in jwt_key_list and tests guessed secrets offline.  Secrets get random
-- kids; a kid the caller gives stays.
-- ---------------------------------------------------------------------------
CREATE FUNCTION pg_temp.oct_thumbprint(secret bytea) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT b64u(digest('{"k":"' || b64u(secret) || '","kty":"oct"}', 'sha256')) $$;
SELECT jwt_generate_key('HS256') AS hs_kid \gset
SELECT jwt_add_key('correct horse battery staple, but longer!!', 'HS256') AS added_kid \gset
SELECT jwt_add_key('correct horse battery staple, but longer!!', 'HS256') AS added_again_kid \gset
SELECT count(*) AS random_kids, bool_and(length(kid) = 43) AS kid_length_43,
       bool_or(kid = pg_temp.oct_thumbprint(private_key)) AS any_kid_is_thumbprint
FROM jwt_keys WHERE kid IN (:'hs_kid', :'added_kid', :'added_again_kid');
SELECT :'added_kid' <> :'added_again_kid' AS same_secret_two_kids;
-- an explicit kid stays, as argument or as the JWK's own member
SELECT jwt_add_key('correct horse battery staple, but longer!!', 'HS256', 'audit-kr-hs-named') AS named;
SELECT jwt_add_key('{"kty":"oct","kid":"audit-kr-hs-jwk","k":"' || b64u('a 32-byte secret for the jwk....'::text) || '"}', 'HS256') AS jwk_kid;
-- other keys keep their RFC 7638 thumbprint (a hash of public values)
SELECT jwt_add_key(k('ed25519_pub_jwk')) AS ed_kid \gset
SELECT :'ed_kid' = b64u(digest('{"crv":"Ed25519","kty":"OKP","x":"' || (k('ed25519_pub_jwk')::jsonb ->> 'x') || '"}', 'sha256'))
       AS public_key_thumbprint;
-- the new kids sign and verify
SELECT jwt_verify(jwt_sign('{"sub":"hs"}', header => jsonb_build_object('kid', :'added_kid'))) ->> 'sub' AS random_kid_signs;
DELETE FROM jwt_keys WHERE kid IN (:'hs_kid', :'added_kid', :'added_again_kid', 'audit-kr-hs-named', 'audit-kr-hs-jwk')
   OR kid = :'ed_kid';

-- ---------------------------------------------------------------------------
-- Item 24 (without a key-encryption key).  Attack on the operator: a sealed
-- key that cannot be opened was reported as "no key in the keyring has kid",
-- so a lost or wrong KEK looked like a forged token.  It has its own error,
-- 55J01, naming the kid.
-- ---------------------------------------------------------------------------
INSERT INTO jwt_keys (kid, alg, kty, private_key, origin)
VALUES ('audit-kr-sealed', 'HS256', 'oct', convert_to('JWTKEK2:', 'UTF8') || decode(repeat('00', 60), 'hex'), 'generated');
SELECT forge('{"alg":"HS256","kid":"audit-kr-sealed"}', '{"sub":"x","exp":1893459600}') AS sealed_token \gset
SELECT pg_temp.try_detail(format('SELECT jwt_verify(%L)', :'sealed_token')) AS verify_sealed;
-- jwt_is_valid raises too: the server cannot decide, the token is not at fault
SELECT valid(:'sealed_token', NULL) AS is_valid_sealed;
-- a token without a kid that only the sealed key could verify says so too
-- (the other suites' keys stop verifying for the length of a transaction)
BEGIN;
UPDATE jwt_keys SET retired_at = coalesce(retired_at, now()), verify_until = NULL WHERE kid <> 'audit-kr-sealed';
SELECT try(format('SELECT jwt_verify(%L)', forge('{"alg":"HS256"}', '{"sub":"x","exp":1893459600}'))) AS verify_sealed_no_kid;
-- but not a token of another key type
SELECT try(format('SELECT jwt_verify(%L)', jwt_sign('{"sub":"x"}', k('ec_p256')))) AS no_kid_other_type;
ROLLBACK;
SELECT try($$SELECT jwt_sign('{}', header => '{"kid":"audit-kr-sealed"}')$$) AS sign_sealed;
-- the 0.1.0 format is recognised as sealed too
UPDATE jwt_keys SET private_key = convert_to('JWTKEK1:', 'UTF8') || decode(repeat('00', 60), 'hex') WHERE kid = 'audit-kr-sealed';
SELECT try(format('SELECT jwt_verify(%L)', :'sealed_token')) AS verify_sealed_v1;
-- sealing needs the key-encryption key
SELECT try('SELECT jwt_seal_keys()') AS seal_without_kek;
DELETE FROM jwt_keys WHERE kid = 'audit-kr-sealed';

-- ---------------------------------------------------------------------------
-- Storing a key: a row the table's constraints refuse was reported with the
-- constraint's detail, "Failing row contains (...)", private key included.
-- ---------------------------------------------------------------------------
SELECT pg_temp.try_detail(format('SELECT jwt_add_key(%L, %L, %L)', 'a secret of thirty-two bytes!!!!', 'HS256', repeat('k', 257))) AS long_kid_no_detail;
SELECT try($$SELECT jwt_generate_key('HS256', '')$$) AS empty_kid;

-- the administration functions are not for PUBLIC
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_execute
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.proname IN ('jwt_seal_keys', '_jwt_key_seal', '_jwt_key_describe', 'jwt_import_jwks')
ORDER BY 1;

DELETE FROM jwt_keys WHERE kid = 'audit-kr-own';

-- Issue 12 item 8 in the keyring: the stored key keeps no key_ops, so a JWK
-- limited to signing or to encryption must not become a keyring key that
-- verifies; inside a JWKS such keys are skipped, as "use":"enc" keys are.
SELECT try(format('SELECT jwt_add_key(%L)', (k('ec256_pub_jwk')::jsonb || '{"key_ops":["encrypt"]}')::text)) AS add_encrypt_only_jwk;
SELECT try(format('SELECT jwt_add_key(%L)', (k('ec256_jwk')::jsonb || '{"key_ops":["verify"]}')::text)) AS add_private_verify_only_jwk;
SELECT try(format('SELECT jwt_add_key(%L)', (k('ec256_pub_jwk')::jsonb || '{"key_ops":["sign"]}')::text)) AS add_public_sign_only_jwk;
SELECT jwt_import_jwks(jsonb_build_object('keys', jsonb_build_array(
         k('ec256_pub_jwk')::jsonb || '{"kid":"ops-enc","key_ops":["encrypt"]}',
         k('ec256_pub_jwk')::jsonb || '{"kid":"ops-sign","key_ops":["sign"]}',
         k('ec256_pub_jwk')::jsonb || '{"kid":"ops-verify","key_ops":["verify"]}'))) AS imported_only_verify_keys;
SELECT kid FROM jwt_key_list WHERE kid LIKE 'ops-%' ORDER BY kid;
DELETE FROM jwt_keys WHERE kid LIKE 'ops-%';
