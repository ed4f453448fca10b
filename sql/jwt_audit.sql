-- jwt_audit: one test per item of issue 12 (an adversarial review of 958eb03), each
-- preceded by a comment naming the attack it replays.  Items that need two sessions, a
-- restart, a standby or another database encoding are in test/revocation_sessions.t.sh
-- (3, 4, 12), test/keyring_encryption.t.sh (23, 24), test/encodings.t.sh (19),
-- test/registry_hosts.t.sh (18) and the memory verdict in jwt_memory (25).
--
-- Part 1: claims, signing and signatures (items 14-16).
SET jwt.default_lifetime = 0;

-- Item 14. A NumericDate beyond numeric's range (exp: 1e999999999) raised
-- numeric's 22003 instead of the claims SQLSTATE.  Every claim-number failure
-- is 22J06, whichever claim holds it and however far out it is.
SELECT outcome(claims_token('{"sub":"a","exp":1e999999999}')) AS exp_beyond_numeric;
SELECT outcome(claims_token('{"sub":"a","exp":1e99}')) AS exp_past_9999;
SELECT outcome(claims_token('{"sub":"a","nbf":-1e999999999}')) AS nbf_beyond_numeric;
SELECT outcome(claims_token('{"sub":"a","iat":1e-999999999}')) AS iat_tiny;
SELECT outcome(claims_token('{"sub":"a","exp":1893459600,"n":1e1001}')) AS custom_claim_beyond_numeric;
SELECT outcome(claims_token('{"sub":"a","exp":1893459600,"x":{"y":[1,2e9999]}}')) AS nested_number_beyond_numeric;
SELECT outcome(claims_token('{"sub":"a","exp":1893459600,"n":1e1000,"m":1.5e-1000}')) AS at_the_limits_accepted;
SELECT try(format('SELECT jwt_decode(%L)', claims_token('{"exp":1e999999999}'))) AS decode;
SELECT try(format('SELECT jwt_is_revoked(%L)', claims_token('{"exp":1e999999999}'))) AS is_revoked;
SELECT outcome(forge('{"alg":"HS256","n":1e999999999}', '{"exp":1893459600}')) AS header_number_beyond_numeric;
-- the claim's name, when it is the token's, is quoted only as printable text
SELECT outcome(claims_token(E'{"\\u001b[31mevil":1e999999999,"exp":1893459600}')) AS name_made_printable;

-- Item 15. jwt_sign made tokens that jwt_verify then refuses whatever the time
-- (exp before iat; exp - iat beyond jwt.max_lifetime).  Now signing refuses
-- them with verification's SQLSTATE and message.
SELECT try($$SELECT jwt_sign('{"sub":"a","iat":1893459600,"exp":1893456000}', secret())$$) AS sign_exp_before_iat;
SELECT outcome(claims_token('{"sub":"a","iat":1893459600,"exp":1893456000}'), at => '2030-01-01 00:30+00') AS verify_exp_before_iat;
SET jwt.max_lifetime = 3600;
SELECT try($$SELECT jwt_sign('{"sub":"a","iat":1893456000,"exp":1893463200}', secret())$$) AS sign_beyond_max_lifetime;
SELECT outcome(claims_token('{"sub":"a","iat":1893456000,"exp":1893463200}'), at => '2030-01-01 00:30+00') AS verify_beyond_max_lifetime;
-- without iat the lifetime runs from now, as verification counts it
SELECT try($$SELECT jwt_sign(jsonb_build_object('sub', 'a', 'exp', extract(epoch from now())::bigint + 7200), secret())$$) AS sign_no_iat_beyond;
SELECT try($$SELECT jwt_sign(jsonb_build_object('sub', 'a', 'exp', extract(epoch from now())::bigint + 600), secret())$$) AS sign_no_iat_within;
-- jwt.default_lifetime beyond jwt.max_lifetime: refused, not silently shortened
SET jwt.default_lifetime = 7200;
SELECT try($$SELECT jwt_sign('{"sub":"a"}', secret())$$) AS default_beyond_max_lifetime;
SET jwt.default_lifetime = 600;
SELECT jwt_is_valid(jwt_sign('{"sub":"a"}', secret()), secret()) AS default_within_max_lifetime;
RESET jwt.max_lifetime;
SET jwt.default_lifetime = 0;

-- Item 16. ECDSA signatures are malleable: (r, s) and (r, n - s) both verify.
-- Other issuers produce high-S signatures, so both forms are accepted (the
-- README said "exactly one form"; it no longer does).  What matters is that
-- nothing depends on the signature bytes: a token revoked by its jti stays
-- revoked when an attacker re-encodes its signature.
CREATE FUNCTION bytes_to_numeric(b bytea) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(sum(get_byte(b, i)::numeric * 256::numeric ^ (length(b) - 1 - i)), 0)
  FROM generate_series(0, length(b) - 1) i $$;
CREATE FUNCTION numeric_to_bytes(n numeric, len int) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT string_agg(set_byte('\x00'::bytea, 0, (trunc(n / 256::numeric ^ (len - 1 - i)) % 256)::int), ''::bytea ORDER BY i)
  FROM generate_series(0, len - 1) i $$;
-- the order of P-256
SELECT bytes_to_numeric('\xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551') AS p256_n \gset
SELECT jwt_sign('{"sub":"mallory","jti":"malleable-1","exp":1893459600}', k('ec_p256')) AS es_token \gset
SELECT with_sig(:'es_token',
                substring(unb64u(split_part(:'es_token', '.', 3)) from 1 for 32)
                || numeric_to_bytes(:p256_n - bytes_to_numeric(substring(unb64u(split_part(:'es_token', '.', 3)) from 33 for 32)), 32))
       AS es_twin \gset
SELECT :'es_twin' <> :'es_token' AS twin_differs,
       outcome(:'es_token', k('ec_p256_pub')) AS original,
       outcome(:'es_twin', k('ec_p256_pub')) AS high_s_twin_accepted;
SELECT jwt_revoke(:'es_token') AS revoked;
SELECT try(format('SELECT jwt_verify(%L, %L, now => %L, check_revoked => true)', :'es_twin', k('ec_p256_pub'), '2030-01-01 00:00+00')) AS twin_still_revoked;
SELECT jwt_is_revoked(:'es_twin') AS twin_is_revoked;
DELETE FROM jwt_revoked_tokens WHERE jti = 'malleable-1';

-- =============================================================================
RESET ALL;
-- Part 2, revocation: issue 12 items 1-5, 12, 17: revocation that must not be undone
-- Each test names the attack it replays.  (Items 3 and 12, which need two
-- sessions, are replayed by test/revocation_sessions.t.sh; item 3 also here.)

-- Item 1: a revoker sets jwt.leeway as a placeholder (the library not yet
-- loaded in its session), then purges: the purge read the placeholder and
-- deleted a live jti revocation and every subject cut-off.
CREATE ROLE regress_rev_revoker;
GRANT EXECUTE ON FUNCTION jwt_purge_revocations() TO regress_rev_revoker;
SELECT jwt_generate_key('HS256', 'audit-revocation') IS NOT NULL AS key;
SELECT jwt_sign('{"sub":"rev-alice","jti":"rev-live-1"}') AS t_live,
       jwt_sign('{"sub":"rev-bob"}') AS t_bob \gset
SELECT jwt_revoke(:'t_live', 'stolen');
SELECT jwt_revoke_subject('rev-bob', now() + interval '1 minute');
-- a new session: the library is not loaded until a jwt function runs
\c -
SET ROLE regress_rev_revoker;
SET jwt.leeway = '-3650 days';
SET jwt.max_lifetime = '1s';
SELECT jwt_purge_revocations() AS purged_with_placeholders;
RESET ROLE;
SELECT jti, sub FROM jwt_revoked_tokens WHERE jti = 'rev-live-1';
SELECT sub FROM jwt_revoked_subjects WHERE sub = 'rev-bob';
SELECT try(format('SELECT jwt_verify(%L)', :'t_live')) AS live_revocation_kept,
       try(format('SELECT jwt_verify(%L)', :'t_bob')) AS cutoff_kept;
-- once loaded, the settings are superuser-only: a revoker cannot set them
SET ROLE regress_rev_revoker;
SELECT try($$SET jwt.leeway = '-3650 days'$$) AS set_leeway_after_load;
SELECT try($$SET jwt.max_lifetime = '1s'$$) AS set_max_lifetime_after_load;
RESET ROLE;
-- The purge reads no setting, not even a superuser's session value: a
-- revoked id stays until its token has been expired for longer than the
-- largest leeway jwt.leeway admits (one day); a verifier with any leeway
-- setting still refuses its token until then.
SELECT max_val, unit FROM pg_settings WHERE name = 'jwt.leeway';
SELECT jwt_revoke_jti('rev-exp-23h', now() - interval '23 hours'),
       jwt_revoke_jti('rev-exp-25h', now() - interval '25 hours'),
       jwt_revoke_jti('rev-no-exp', NULL);
SET jwt.leeway = 0;
SELECT jwt_purge_revocations() AS purged_with_leeway_0;
RESET jwt.leeway;
SELECT jti FROM jwt_revoked_tokens WHERE jti LIKE 'rev-%' ORDER BY jti;
-- an id revoked again with a later expiry (another token with the same jti)
-- keeps the later one, and NULL (never expires) wins
SELECT jwt_revoke_jti('rev-twice', now() - interval '3 days') AS first,
       jwt_revoke_jti('rev-twice', now() + interval '1 hour') AS again;
SELECT jwt_revoke_jti('rev-never', now() - interval '3 days'), jwt_revoke_jti('rev-never', NULL);
SELECT jwt_purge_revocations() AS purged;
SELECT jti, expires_at IS NULL AS never_expires FROM jwt_revoked_tokens
WHERE jti IN ('rev-twice', 'rev-never') ORDER BY jti;
-- the same through jwt_revoke: a second token with the same jti and a later exp
SELECT jwt_sign('{"sub":"rev-carl","jti":"rev-shared","iat":999999000,"exp":1000000000}', secret()) AS t_old_exp,
       jwt_sign('{"sub":"rev-carl","jti":"rev-shared"}') AS t_new_exp \gset
SELECT jwt_revoke(:'t_old_exp') AS first, jwt_revoke(:'t_new_exp') AS again;
SELECT jwt_purge_revocations() AS purged;
SELECT try(format('SELECT jwt_verify(%L)', :'t_new_exp')) AS later_token_still_revoked;

-- Item 2: tokens without exp (jwt.require_exp = off) or without iat are
-- covered by a cut-off forever: a purge with jwt.max_lifetime set dropped
-- the cut-off and they verified again.  Cut-offs are never purged.
SET jwt.default_lifetime = 0;
SELECT jwt_sign(jsonb_build_object('sub', 'rev-dora',
                'exp', floor(extract(epoch FROM now() + interval '30 minutes')))) AS t_no_iat,
       jwt_sign('{"sub":"rev-dora"}') AS t_no_exp \gset
RESET jwt.default_lifetime;
SELECT jwt_revoke_subject('rev-dora', '2001-01-01 00:00+00', 'long ago');
SET jwt.max_lifetime = '1h';
SET jwt.require_exp = off;
SELECT jwt_purge_revocations() AS purged_with_max_lifetime;
SELECT sub, revoked_before = '2001-01-01 00:00+00' AS kept FROM jwt_revoked_subjects WHERE sub = 'rev-dora';
SELECT try(format('SELECT jwt_verify(%L)', :'t_no_iat')) AS no_iat_still_revoked,
       try(format('SELECT jwt_verify(%L)', :'t_no_exp')) AS no_exp_still_revoked;
RESET jwt.max_lifetime;
RESET jwt.require_exp;

-- Item 3: the default cut-off was now(), the revoking transaction's start:
-- a token issued (by any session) later in that transaction survived.  It is
-- the moment of the call.
BEGIN;
SELECT pg_sleep(0.05);
SELECT jwt_revoke_subject('rev-erin');
SELECT revoked_before > now() AS after_transaction_start,
       revoked_before <= clock_timestamp() AS not_after_the_call
FROM jwt_revoked_subjects WHERE sub = 'rev-erin';
SELECT jwt_revoke_subject('rev-erin-2', NULL);
SELECT revoked_before > now() AS null_is_the_call FROM jwt_revoked_subjects WHERE sub = 'rev-erin-2';
COMMIT;
SELECT try('SELECT jwt_revocation_cutoff()') AS superuser_may_call;
SET ROLE regress_rev_revoker;
SELECT try('SELECT jwt_revocation_cutoff()') AS internal_not_public;
RESET ROLE;

-- Item 4: revoke every token of a subject, then issue a fresh one (the
-- password-change flow): iat in whole seconds was before the cut-off, so the
-- fresh token was refused forever, and so was every token signed in the rest
-- of that second.  iat stays the whole second of the statement's start, but
-- a token of a subject cut off earlier in that second is issued to the
-- microsecond, at or after the cut-off.
SELECT (p ->> 'iat')::numeric = floor(extract(epoch FROM statement_timestamp())) AS iat_is_statement_second,
       (p ->> 'exp')::numeric - (p ->> 'iat')::numeric AS lifetime
FROM (SELECT (jwt_decode(jwt_sign('{"sub":"rev-x"}'))).payload AS p) s;
SELECT jwt_verify(jwt_sign('{"sub":"rev-x"}')) ->> 'sub' AS signed_and_verified_in_one_statement;
-- in one transaction, statement by statement
SELECT jwt_sign('{"sub":"rev-fred"}') AS t_fred_before \gset
BEGIN;
SELECT jwt_revoke_subject('rev-fred', reason => 'password changed');
SELECT jwt_sign('{"sub":"rev-fred"}') AS t_fred_after \gset
COMMIT;
SELECT jwt_sign('{"sub":"rev-fred"}') AS t_fred_later \gset
SELECT try(format('SELECT jwt_verify(%L)', :'t_fred_before')) AS issued_before,
       try(format('SELECT jwt_verify(%L)', :'t_fred_after')) AS issued_after_same_transaction,
       try(format('SELECT jwt_verify(%L)', :'t_fred_later')) AS issued_later;
-- in one plpgsql function, one top-level statement: sign, revoke, sign
CREATE TEMP TABLE rev_tokens (name text, token text);
CREATE FUNCTION rev_change_password(who text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rev_tokens VALUES ('before', jwt_sign(jsonb_build_object('sub', who)));
    PERFORM jwt_revoke_subject(who, reason => 'password changed');
    INSERT INTO rev_tokens VALUES ('after', jwt_sign(jsonb_build_object('sub', who)));
    INSERT INTO rev_tokens VALUES ('after, another subject', jwt_sign('{"sub":"rev-other"}'));
END $$;
SELECT rev_change_password('rev-gina');
SELECT name, try(format('SELECT jwt_verify(%L)', token)) AS outcome FROM rev_tokens ORDER BY name;
-- the fresh token of the subject is issued at the cut-off, to the microsecond;
-- the others in the whole second of the statement's start
SELECT a.iat > b.iat AS after_later_than_before, o.iat = b.iat AS other_subject_same_second,
       a.iat = extract(epoch FROM s.revoked_before) AS after_issued_at_cutoff,
       b.iat = trunc(b.iat) AS before_whole_second
FROM (SELECT ((jwt_decode(token)).payload ->> 'iat')::numeric AS iat FROM rev_tokens WHERE name = 'after') a,
     (SELECT ((jwt_decode(token)).payload ->> 'iat')::numeric AS iat FROM rev_tokens WHERE name = 'before') b,
     (SELECT ((jwt_decode(token)).payload ->> 'iat')::numeric AS iat FROM rev_tokens WHERE name LIKE 'after, %') o,
     jwt_revoked_subjects s WHERE s.sub = 'rev-gina';
-- (verifying in that same statement would see the fresh token's iat, the
-- cut-off, after the statement's start: verify it in a later statement)
DROP FUNCTION rev_change_password(text);

-- Item 5: a 6,400-byte jti could not be stored in the revocation list's
-- index, so the token could not be revoked and kept verifying.  jti and sub
-- are at most 1024 bytes where revocation applies.
SELECT try(format('SELECT jwt_sign(%L)', jsonb_build_object('sub', 'rev-h', 'jti', repeat('j', 6400)))) AS sign_long_jti,
       try(format('SELECT jwt_sign(%L)', jsonb_build_object('sub', repeat('s', 1025)))) AS sign_long_sub,
       jwt_sign(jsonb_build_object('jti', repeat('j', 1024), 'sub', repeat('s', 1024))) IS NOT NULL AS sign_1024;
SELECT jws_sign(convert_to(jsonb_build_object('sub', 'rev-h', 'jti', repeat('j', 6400),
                                              'exp', 4102444800)::text, 'UTF8')) AS t_long_jti,
       jws_sign(convert_to(jsonb_build_object('sub', repeat('s', 6400), 'exp', 4102444800)::text, 'UTF8')) AS t_long_sub,
       jws_sign(convert_to(jsonb_build_object('jti', repeat('j', 6400), 'exp', 4102444800)::text, 'UTF8'),
                secret()) AS t_long_jti_secret \gset
SELECT try(format('SELECT jwt_verify(%L)', :'t_long_jti')) AS keyring_long_jti,
       try(format('SELECT jwt_verify(%L)', :'t_long_sub')) AS keyring_long_sub,
       try(format('SELECT jwt_authenticate(%L)', :'t_long_jti')) AS authenticate_long_jti;
SELECT try(format('SELECT jwt_verify(%L, %L, check_revoked => true)', :'t_long_jti_secret', secret())) AS explicit_key_checked,
       try(format('SELECT jwt_verify(%L, %L)', :'t_long_jti_secret', secret())) AS explicit_key_unchecked;
SELECT try(format('SELECT jwt_is_revoked(%L)', :'t_long_jti')) AS is_revoked_long_jti,
       try(format('SELECT jwt_is_revoked(%L)', :'t_long_sub')) AS is_revoked_long_sub;
SELECT try(format('SELECT jwt_revoke(%L)', :'t_long_jti')) AS revoke_long_jti,
       try(format('SELECT jwt_revoke_jti(%L, NULL)', repeat('j', 1025))) AS revoke_jti_long,
       try(format('SELECT jwt_revoke_subject(%L)', repeat('s', 1025))) AS revoke_subject_long;
SELECT jwt_revoke_jti(repeat('j', 1024), NULL) AS revoke_jti_1024,
       try(format('SELECT jwt_revoke_subject(%L)', repeat('s', 1024))) AS revoke_subject_1024;
DELETE FROM jwt_revoked_tokens WHERE jti = repeat('j', 1024);
DELETE FROM jwt_revoked_subjects WHERE sub = repeat('s', 1024);

-- Item 17: the README said keyring verification always consults revocation,
-- but check_revoked => false skipped it for any caller.  With the keyring
-- the option cannot be false (22023), for any role; with an explicit key it
-- still chooses.
CREATE ROLE regress_rev_plain;
SET ROLE regress_rev_plain;
SELECT try(format('SELECT jwt_verify(%L, check_revoked => false)', :'t_live')) AS plain_role_skips,
       try(format('SELECT jwt_is_valid(%L, check_revoked => false)', :'t_live')) AS plain_role_is_valid;
RESET ROLE;
SELECT try(format('SELECT jwt_verify(%L, check_revoked => false)', :'t_live')) AS superuser_skips,
       try(format('SELECT jwt_verify(%L, check_revoked => true)', :'t_live')) AS checked;
SELECT jwt_sign('{"sub":"rev-ivan","jti":"rev-ivan-1"}', secret()) AS t_ivan \gset
SELECT jwt_revoke(:'t_ivan');
SELECT try(format('SELECT jwt_verify(%L, %L, check_revoked => false)', :'t_ivan', secret())) AS explicit_key_unchecked,
       try(format('SELECT jwt_verify(%L, %L, check_revoked => true)', :'t_ivan', secret())) AS explicit_key_checked;

-- clean up
DELETE FROM jwt_revoked_tokens WHERE jti LIKE 'rev-%' OR sub LIKE 'rev-%';
DELETE FROM jwt_revoked_subjects WHERE sub LIKE 'rev-%';
SELECT jwt_retire_key('audit-revocation') IS NOT NULL AS retired;
REVOKE EXECUTE ON FUNCTION jwt_purge_revocations() FROM regress_rev_revoker;
DROP ROLE regress_rev_revoker;
DROP ROLE regress_rev_plain;

-- =============================================================================
RESET ALL;
-- Part 3, keys: issue 12 items 6-11, 13, 21: keys that must not be accepted, resource limits
-- Each test names the attack it replays.
-- Test keys made for this suite only (python3-cryptography, ssh-keygen -e): a 2048-bit RSA key
-- whose primes have Infineon's ROCA form, RSA public keys with e = 3, a 2046-bit e and a
-- 9000-bit modulus, an 8192-bit RSA key, and the OpenSSH / RFC 4716 spellings of test_keys.
CREATE TABLE audit_keys (name text PRIMARY KEY, key text NOT NULL);
INSERT INTO audit_keys VALUES
('roca_jwk', $k${"kty":"RSA","n":"2uJkhhfRegQXZa9rdJ-PepZq2TRUUwSW8PwozIvdtswz6yXhJhRsK7eFjo0IJpppvOI6Df9UM-ZgBi4ZuT0b0wJFgWADpIxqSbTkF6CHy7BqqG90-Byw8_TzFfPCouEnlv6yg2rG-wiN5ZHfrlUetNtyfmxMduRxHn6bk2jENRedVuJ0Y3-DFkOo-iKvXuv7fklbbJyIeWxCBrpmPzjAUuoDQh1W0NWJcY31ySFmXGh052FUlhdU_0_v5TgKviiUx0LJQbPRbCsUnSuH_-PkqS2i5IlSECL0X4eQ4Fqz_lAXz-O519cH8APOxdIRY-uoS6U-JptCIQfzzAsNVQ8KPQ","e":"AQAB","d":"LR_1R2vLpNMJG86RYaavhr9R4duW8tKEZ8QkiR7go5nvri_N_fLB5jVclGng30yANg-RlmcoLdb1vvBsHzNI9DSIrcZkmdzU4MMpLvHKbSS-qGDqBWis1m6OWt05KCkw50E0_kDaKtC1qDltmtwzi2eecA_Vp8EqzPWfD0HPCX6mEsX312hU5704qT1FEtM8g-Gm_JNh6HNFyroG2iNPRuHIwRu-sVQqnvR0eiCymUOTM2hPEEbd0wCsWja8l5BYTzqkc37NMk4LdtQhHO52tYK0dWc7SA8me-c4PvkHwNTYUEGPhqV1CkcboLreYkAhzYO9yDEDAon7lhRSHcnHJQ","p":"-fcoSVbvaQYYYX_5ABDOv1wz5HJ38fP1_ls5Vp8CQx_D68epMBDzgfHRZNttMVxUiHm3zEc-BMUUVOq_vEPt6CoIN1Uoww4DiCT5cujxsuGk9TQvDNn09en3wwOEZXTlyqqgWS7eSG7Ij95eumzFzAJb6FbMN9la4GwlMlUfwBM","q":"4CslpVRLgX8RB4BqtO5FkVaCK1C54qL_a750gb5fzkXKwKmuMP-ukZrswqx23DGpA0eHuJzzr7m4pv5G1pc9MlqXXLKigANVnVD2iAsJPc_Eqrsjvs-0CZSVnkNH-mmScsrZFgpwJHF7tPz3LKdBXwzB_MdS_KVykDf6Kdt2dm8","dp":"DONMZXOhBmY1DZneib1UG5OybT3lp0jvzvx_GVM7d6CEpnx14a-ODo4cQLn7iEb9aMf1zQeDUBWlNbegySErfAPmxouSfXQUhIl7fww5ogJ2Udot7tiyA5fbmWduBRkg2_EuMUr0VQG5P4m0kqIXFKyudm07PEntoJKS3GR9LZc","dq":"3U1bReN5AyepbSl2rpYH8dpgeVihmj9mPzzvkeKafG3kIt2gjNjtwusaT3mpgeo4u3cTYsr3vARyadHfpxv5m0tZ4Hat_AjOrZbvOxECF5aUxiQnvskYKNkZ9_reBTXSESd2ts6pNSEfimatsdSQscBLhjxVDfxbpErO2iHByls","qi":"-YE9fWGl-f0yHZFiXgPzHz-XiEFu5pLQDrOJuxH4MnEnKlbhXvi-JWnb5yipeeislHtcObyAVL1BVDDBqvEtoqZ7dHCbcxjgxaoLmOiKbhNsFbNLZG5DnXFSIoQnJWRxMHtAf2C1xVqoIVbOxT9dxlYKbVJbT0v23DoYAm55a-Y"}$k$),
('roca_pub_jwk', $k${"kty":"RSA","n":"2uJkhhfRegQXZa9rdJ-PepZq2TRUUwSW8PwozIvdtswz6yXhJhRsK7eFjo0IJpppvOI6Df9UM-ZgBi4ZuT0b0wJFgWADpIxqSbTkF6CHy7BqqG90-Byw8_TzFfPCouEnlv6yg2rG-wiN5ZHfrlUetNtyfmxMduRxHn6bk2jENRedVuJ0Y3-DFkOo-iKvXuv7fklbbJyIeWxCBrpmPzjAUuoDQh1W0NWJcY31ySFmXGh052FUlhdU_0_v5TgKviiUx0LJQbPRbCsUnSuH_-PkqS2i5IlSECL0X4eQ4Fqz_lAXz-O519cH8APOxdIRY-uoS6U-JptCIQfzzAsNVQ8KPQ","e":"AQAB"}$k$),
('roca_pub', $k$-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2uJkhhfRegQXZa9rdJ+P
epZq2TRUUwSW8PwozIvdtswz6yXhJhRsK7eFjo0IJpppvOI6Df9UM+ZgBi4ZuT0b
0wJFgWADpIxqSbTkF6CHy7BqqG90+Byw8/TzFfPCouEnlv6yg2rG+wiN5ZHfrlUe
tNtyfmxMduRxHn6bk2jENRedVuJ0Y3+DFkOo+iKvXuv7fklbbJyIeWxCBrpmPzjA
UuoDQh1W0NWJcY31ySFmXGh052FUlhdU/0/v5TgKviiUx0LJQbPRbCsUnSuH/+Pk
qS2i5IlSECL0X4eQ4Fqz/lAXz+O519cH8APOxdIRY+uoS6U+JptCIQfzzAsNVQ8K
PQIDAQAB
-----END PUBLIC KEY-----
$k$),
('e3_pub', $k$-----BEGIN PUBLIC KEY-----
MIIBIDANBgkqhkiG9w0BAQEFAAOCAQ0AMIIBCAKCAQEAsb+3uMbkeVT84UH7yYtO
QAllJ5Wtr94Z88dxsKXJcw2Vm3cQe6ulhl5NayFdEXvqAMwFfCG3fdf11dcoUMlk
eXR40a0pcy6M8WZZEaS2eUXec44W3s8PrdCD4HDDxllews+Ix7uRJIH7Ud7dHKsG
ksMGsRwbcMcHfVHlFvN/T7vIZO77QPOvJCGRiMH3nsmmEwPGFv00tc7wS/Z9Wf+I
oK2Bl7xjWZK/jiPmf+4QwL9adEkZ+muLAT2/06wBlC5XQcE5HzGHCa5OwNsnovhR
z2lxwjV9Y8emCUD9r7UafByijW5Cx1SwWc547BPiHIpMlyRr6aV7ewCAU7C4OnFs
NwIBAw==
-----END PUBLIC KEY-----
$k$),
('big_e_pub', $k$-----BEGIN PUBLIC KEY-----
MIICITANBgkqhkiG9w0BAQEFAAOCAg4AMIICCQKCAQEAsb+3uMbkeVT84UH7yYtO
QAllJ5Wtr94Z88dxsKXJcw2Vm3cQe6ulhl5NayFdEXvqAMwFfCG3fdf11dcoUMlk
eXR40a0pcy6M8WZZEaS2eUXec44W3s8PrdCD4HDDxllews+Ix7uRJIH7Ud7dHKsG
ksMGsRwbcMcHfVHlFvN/T7vIZO77QPOvJCGRiMH3nsmmEwPGFv00tc7wS/Z9Wf+I
oK2Bl7xjWZK/jiPmf+4QwL9adEkZ+muLAT2/06wBlC5XQcE5HzGHCa5OwNsnovhR
z2lxwjV9Y8emCUD9r7UafByijW5Cx1SwWc547BPiHIpMlyRr6aV7ewCAU7C4OnFs
NwKCAQAgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAB
-----END PUBLIC KEY-----
$k$),
('big_n_pub', $k$-----BEGIN PUBLIC KEY-----
MIIEhzANBgkqhkiG9w0BAQEFAAOCBHQAMIIEbwKCBGYAgsCdWs90QkFI5Wr+Gk55
kzPztG4b7zdNQAVjYSj/bHi2NnVO2oJ1HthwCJDZ/IgplgmBjmQjzTxOl4HEgVCr
wmEvzyA6SdeYOwIghMbFb0n/6uiPKL5YCBpCekTSnjcYP5y3ZMRbqW7tiaMpJCvF
6Ot1j1T23AYuTIHVQga77uv3sjGkKw6kDKvMfqBB5zOAcKzEx0uWzSOC7bBcCtBr
ixA7XzvHRQe2IVJeZ2dkK7cCgrWffVUdF3ZmRp3BbON3HObpWWeii4JFDi3eHjD2
bCqdPSoL0nFS9+yQb+rU4hGoDyk2ZtJrp28sFgHV4/qxbtsTUK3DX6qb+ymOXPPj
aJ4zj4/nfidRo5aAv6pLDLYPeLT2x8LOUZe+KdDbgSd/iNMJWiZnSYp22fNuX3sF
SQOA9hDR2g4A7aiMG9impKF8cZBvA5zPDgx5XNpGL4X3BSVNvJf5HNSvRcVJmFAK
C9D/hQFsxvULP/Cru2GwtY3xwhi+8ZZxSeFZg+20usivpjzUqidoyxx0Cj7oKYi0
ubRfBEOXokIc+GFV5ETSHavOmZQx0TZtvYaqXXY5OpQfaJiOKIXnIXkyUNgPA3do
4NT/s4guMxScQUvkrVxkT+1QhQbMHRTbUeW/2i4/ziqPymSo22YgS3ViZJ4+14uf
hn5bywlf/1yKCg+RdZJSilCRfX0GoxsS4HVBo8orD59rtXidwssauE0DTfe4lEZO
NpNiZT7cxdHubhG0+utZ34KXSPsrQ91LIkQVIQOxIoIqDhcjEFmKxL9zLakoXuFZ
Oj6pUu8M3dSkznVyJhwnBYJ0sHJxkpO61BBQknT2SSyB8JL54OHRg/2E4Jiqj4mn
fAxbqmcosJBILk5779ndUKG5vQJ3J5HoXLL5YVtpNF/5Y90JRrV/xgzKdNxdGB0y
ulH971kdMr6NiYtqZCLBslhTGktBETQrx6yDLWN7uvNVIYRax2akn6GudrtyIDA7
VQxGP16MzZckKxGEunKkJR0O5FUQXa+7uAkk0WbinMpvrJCUyL/uyZycnpzKJE8N
08B8WaVWvYUgohhOwTD+l3V5WqgOePYDe3pEGPeu6BGPUIIstviSmbrNqHCsdNNw
eoGsWDkYlQbiwMeBSupJ8bq6YtOukSQwC8h7Rvmok8sRyd9udwC+TDNpz9PiKHHF
tKWFY2KVdCUknmh+kQ96JgtB9rQ5cZukMl3fnlwJShCie3SUdlb6SSo/X3I1kqea
mdt+CIwR8IN52rQxuLuI4tbeMJw7p2ysu7A4re3zQZkhL6yxyXW2CGHyMluNZEjC
iFiCuN5XGFggQZKVT9cmKgHp9vF+CpcXmBW/xY1iVbLUV3GInnXPPm3kr/cg7joq
9KsvhGXFTnf1PMXGzIdR7hv2yEEN/b+wbWdDS38b3rFzmNUfloVAYJz1dwTbMNKE
cYrZ/YA3f7t0L6loB4pcUBua6RKwtSK/RLYu/5kFZxzRWLgxY402UycnpRy61KWj
oeh9TZwdAgMBAAE=
-----END PUBLIC KEY-----
$k$),
('rsa8192_pub_jwk', $k${"kty":"RSA","n":"50Uy2y2F-jW_5Bmh361o3iVQqIrGiJQqkhqM4mBmoKp-pIgZdrZRagarpCR_OCmFdQsnn2GchIzc5CiVd4FReZVkeob1rKriLBM7mHxL-gzmgLknaYkfo-UpSMsJyni3MsnxWjWXU6NzPh22keKcST0blcEhEmiNSDCybibV66uhTEhO3-qY_bwwp5U5nAftgUbBAllmYXaF3apaAlqsiDRhYs230nc877gNt9-9Aw6DZt4gu00-p9zpNCoSO-iTKV7BSeIWtSC1aT7KVD5Z8HYraBVtKa_EP5Tgw08hmm29RWzhfxWdJ1Er8RNN7MqIMxgYfWJzdmVa_p0EZxpJ2aK3SJ_YGK7cV6r06_aZcZZiprHvT_2ySwFenrSk-AXqlG7pNO5ZGU26i6zxnGv8jF4_clkWksFobNdccA2MwrMCt9RkUiQP1haFqHZPMbFTK1HPXU2Og2E6BcaKbu1AJxt55qPEPiXGQjTpv89ZZNRKqlCLvvbGW4YbOOUTGkcOQkkdJw3Wc4xMbT5MM9Ywi8a6xNQSqSPxi3s5gymtwenimUSEyCxOC3mNIf8zf_sVz6j6CDKXbrBtBPmH6N1Ncm5stXxDK1f23PkVjnZds6fn7nGQ2fOTuitUnIHoW2on_dP4dzeFUbqY2mlNOERhmXfgQkY0WPQDkAwhUP2MjkBzUE97BfG3PQar9FwdvJHhULgODj89j7D75GS10wC6M5c-3YyhcTSIQUn2CPTFCRBiewPkpwjFshxykXAKUQGKlI0ebhlFS3Qc8cYzxPlVbsSgNhKdtgKMrysLx8Q5hmHDwUnzEdWFmzxdhkkRyozjF0V-dEp0CexyZhemQQfRJdfkYmG1Sq7kaCXdTWMhcQCKeAAiCjZl5ei9YUT5naqAxN46ev5h5Xk9p1c8Trp-T8KHsczwWf7TpkIfqEkZKfL6ijBw6VZOwx-j-nRwOps9PJWfGD250BVJuvJ4aK4tLLlWQkr_rKjjfPzR1xeZQrIJeL2jJMltNfgNleGgC2q-pcmtZpYQwphZwSc_7MG8_JJ4gc9oVO8WY6szWTmEfYEG_sgB0__TtX-unyfZSdWu5zA6hSASW76dkMVBO0swDjUiQ4ZonXiUUSdRa0o0vxDGxfJMmJ1rLsl8iIpIrv3rb9epoQ7bBQgfcu1KmQ-wmk1aUGt2NUXbLOjQCT3lcUndVXyeq-NaZ6OgDVFFPlsnVdLx87AyUYKCWiDg7ovCIqDtnCRWR-L1VeqlHSJdkFWmE0MvvxobI8HfLpduGguhcBKoO_ksxd2I9MFjE-cDk3lFPVSwdXDaZrSxnMwAQW5Mw3ObUy5bS0Z8tMvhWf3CgdO4qJzyI7DguZTji131RQ","e":"AQAB"}$k$),
('ssh_rsa', $k$ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC4B4VvdDWUjY+rshs7LVdK1xkLjOPNBNGKEveV0CNAyBKhwWO2v+N3863mrEzCz0gNqOdFNw3sS4y2bw8WQNpgn7HCQzKm0aOtN+Y286KjaCIX9Ol+u2NirCQX+iBuqGsyHlRJDEHQW6q4NgU+GB+8760AeI0TYRTgxpOQf+ZojvjK7pB5yeeoQCyVPJr3OC3uq/TgBF7dcO0/tyQ0BqnVRz2XpTH1tzMoJ1fZtRE1NCTukDCz0WXe1AbA3nLY5BkO79JovS3QYvtPd2Prjg2tvUOl/CtT/laWM2Lc982YNc/Ttx8Xtg5UOW6UQhItiVrfVb5ZeP1atsGAzmVttLtv$k$),
('ssh_ed25519', $k$ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHabwJVc1CxhSySBpmwvCbHlWFozpCyNMysD9Yz8lUmc$k$),
('ssh_ecdsa', $k$ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBPwEoEAaDptUWCIMp7WhHzow85ryW0nX9LAmt7oH62/3pjX8ewE07PhA+A52xmNyW3Rl8YFYEwImYcP20kHyYPE=$k$),
('rfc4716_rsa', $k$---- BEGIN SSH2 PUBLIC KEY ----
Comment: "2048-bit RSA, test key"
AAAAB3NzaC1yc2EAAAADAQABAAABAQC4B4VvdDWUjY+rshs7LVdK1xkLjOPNBNGKEveV0C
NAyBKhwWO2v+N3863mrEzCz0gNqOdFNw3sS4y2bw8WQNpgn7HCQzKm0aOtN+Y286KjaCIX
9Ol+u2NirCQX+iBuqGsyHlRJDEHQW6q4NgU+GB+8760AeI0TYRTgxpOQf+ZojvjK7pB5ye
eoQCyVPJr3OC3uq/TgBF7dcO0/tyQ0BqnVRz2XpTH1tzMoJ1fZtRE1NCTukDCz0WXe1AbA
3nLY5BkO79JovS3QYvtPd2Prjg2tvUOl/CtT/laWM2Lc982YNc/Ttx8Xtg5UOW6UQhItiV
rfVb5ZeP1atsGAzmVttLtv
---- END SSH2 PUBLIC KEY ----
$k$),
('rfc4716_ed25519', $k$---- BEGIN SSH2 PUBLIC KEY ----
Comment: "256-bit ED25519, test key"
AAAAC3NzaC1lZDI1NTE5AAAAIHabwJVc1CxhSySBpmwvCbHlWFozpCyNMysD9Yz8lUmc
---- END SSH2 PUBLIC KEY ----
$k$);
CREATE FUNCTION ak(name text) RETURNS text LANGUAGE sql STABLE
AS $$ SELECT key FROM audit_keys WHERE audit_keys.name = ak.name $$;

-- The body of a PEM block: bare base64, as identity providers display keys.
CREATE FUNCTION pem_body(pem text, one_line boolean DEFAULT true) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE WHEN one_line THEN replace(b, E'\n', '') ELSE b END
      FROM trim(regexp_replace(pem, '-----(BEGIN|END) [A-Z0-9 ]+-----', '', 'g'), E'\n') AS b $$;

-- An Ed25519 or Ed448 public key, as a JWK, from the hex of its encoding.
CREATE FUNCTION okp_jwk(crv text, x_hex text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT json_build_object('kty', 'OKP', 'crv', crv, 'x', b64u(decode(x_hex, 'hex')))::text $$;

-- The same as SubjectPublicKeyInfo PEM.
CREATE FUNCTION okp_pem(crv text, x_hex text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT E'-----BEGIN PUBLIC KEY-----\n'
          || replace(encode(decode(CASE crv WHEN 'Ed25519' THEN '302a300506032b6570032100'
                                            ELSE '3043300506032b6571033a00' END || x_hex, 'hex'), 'base64'), E'\n', '')
          || E'\n-----END PUBLIC KEY-----\n' $$;

-- Run a statement: 'ok', or SQLSTATE, message and detail.
CREATE FUNCTION try_detail(q text) RETURNS text LANGUAGE plpgsql
AS $$
DECLARE
    msg text;
    det text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || msg || CASE WHEN det <> '' THEN ' / ' || det ELSE '' END;
END $$;

-- Everything an error shows (message, detail, hint, context): to look for quoted key bytes.
CREATE FUNCTION error_text(q text) RETURNS text LANGUAGE plpgsql
AS $$
DECLARE
    msg text;
    det text;
    hnt text;
BEGIN
    EXECUTE q;
    RETURN '';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ' ' || msg || ' ' || det || ' ' || hnt;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Item 6: RS->HS key confusion through other public-key spellings (the PyJWT CVE-2022-29217
-- pattern).  The verifier is configured with a public key as text; the attacker HMACs a token
-- with that same text.  PEM and JWK were already refused as secrets; OpenSSH, RFC 4716 and bare
-- base64 DER (SPKI, PKCS#1, PKCS#8, SEC1, an x5c certificate) became HMAC secrets and verified.
-- Each must be refused (22023) to verify and to sign, as text and as bytea.
CREATE TABLE spellings (name text, key text);
INSERT INTO spellings VALUES
  ('OpenSSH ssh-rsa', ak('ssh_rsa')),
  ('OpenSSH ssh-rsa with comment', ak('ssh_rsa') || ' alice@example.org'),
  ('OpenSSH ssh-ed25519', ak('ssh_ed25519')),
  ('OpenSSH ecdsa-sha2-nistp256', ak('ssh_ecdsa')),
  ('authorized_keys line with options', 'from="10.0.0.1",no-pty ' || ak('ssh_ed25519') || E' bob\n'),
  ('RFC 4716 RSA', ak('rfc4716_rsa')),
  ('RFC 4716 Ed25519', ak('rfc4716_ed25519')),
  ('base64 SPKI RSA, one line', pem_body(k('rsa_pub'))),
  ('base64 SPKI RSA, wrapped', pem_body(k('rsa_pub'), false)),
  ('base64url SPKI RSA', translate(pem_body(k('rsa_pub')), '+/=', '-_')),
  ('base64 SPKI P-256', pem_body(k('ec_p256_pub'))),
  ('base64 SPKI Ed25519', pem_body(k('ed25519_pub'))),
  ('base64 PKCS#1 RSA public', pem_body(k('rsa_pub_pkcs1'))),
  ('base64 PKCS#8 RSA private', pem_body(k('rsa'))),
  ('base64 SEC1 EC private', pem_body(k('ec_p256_sec1'))),
  ('base64 DER certificate (x5c)', pem_body(k('ed25519_cert'))),
  -- found by the second review
  ('base64 of a whole PEM (Kubernetes, env)', replace(encode(convert_to(k('rsa_pub'), 'UTF8'), 'base64'), E'\n', '')),
  ('OpenSSH blob without its type word', split_part(ak('ssh_rsa'), ' ', 2)),
  ('OpenSSH Ed25519 blob', split_part(ak('ssh_ed25519'), ' ', 2)),
  ('hex DER SPKI', encode(decode(pem_body(k('rsa_pub')), 'base64'), 'hex')),
  ('lower-case PEM', lower(k('rsa_pub'))),
  ('PEM with four dashes', replace(k('rsa_pub'), '-----', '----'));
SELECT name,
       outcome(forge('{"alg":"HS256","typ":"JWT"}', '{"sub":"admin","exp":1900000000}', key), key) AS verify_text,
       try(format('SELECT jwt_verify(%L, %L::bytea)',
                  forge('{"alg":"HS256","typ":"JWT"}', '{"sub":"admin","exp":1900000000}', key),
                  convert_to(key, 'UTF8'))) AS verify_bytea,
       try(format('SELECT jwt_sign(''{}'', %L, ''HS256'')', key)) = try(format('SELECT jwt_sign(''{}'', %L::bytea, ''HS256'')', convert_to(key, 'UTF8'))) AS sign_same
FROM spellings ORDER BY name;
SELECT try_detail(format('SELECT jwt_sign(''{}'', %L, ''HS256'')', ak('ssh_ed25519'))) AS sign_ssh,
       try_detail(format('SELECT jwt_sign(''{}'', %L::bytea, ''HS512'')', convert_to(pem_body(k('rsa_pub')), 'UTF8'))) AS sign_der_bytea;
-- DER bytes themselves as a bytea secret
SELECT try(format('SELECT jwt_verify(''a.b.c'', %L::bytea)', decode(pem_body(k('rsa_pub')), 'base64'))) AS raw_der_bytea;
-- the keyring: jwt_add_key and a JWK "oct" whose k is a key
SELECT try(format('SELECT jwt_add_key(%L)', ak('ssh_rsa'))) AS add_key_ssh,
       try(format('SELECT jwt_add_key(%L)', pem_body(k('rsa_pub')))) AS add_key_der,
       try(format('SELECT jwt_verify(''a.b.c'', %L)',
                  json_build_object('kty', 'oct', 'k', b64u(k('rsa_pub'))))) AS oct_k_is_pem;
-- Legitimate secrets that look a little like keys stay secrets.
SELECT name, outcome(forge('{"alg":"HS256"}', '{"sub":"u","exp":1900000000}', secret), secret) AS verifies
FROM (VALUES
  ('base64 secret starting with M', 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY='),
  ('base64 of DER-like garbage', 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAAAAAAAAAAAAAAAAAAAAA'),
  ('words ssh-rsa without a blob', 'rotate the ssh-rsa host key and this secret 2026'),
  ('hex secret', encode(sha256('secret'), 'hex')),
  ('four dashes, no SSH2', '---- BEGIN SECRET ---- 0123456789abcdef0123')
) AS s(name, secret);

-- ---------------------------------------------------------------------------------------------
-- Item 7: small-order EdDSA public keys allow universal forgery.  With the identity point
-- (x = 01 00..00) as the key, R = identity and S = 0 satisfy [S]B = R + [k]A for every message:
-- a constant signature verified over any payload, and after jwt_import_jwks it authenticated as
-- anyone.  Every key with a small-order or non-canonical point is refused (22023).
SELECT outcome(b64u('{"alg":"EdDSA"}') || '.' || b64u('{"sub":"admin","exp":1900000000}') || '.'
               || b64u(decode('01' || repeat('00', 63), 'hex')),
               okp_jwk('Ed25519', '01' || repeat('00', 31))) AS identity_key_forgery;
-- The eight Ed25519 points of order 1, 2, 4 and 8, and non-canonical spellings (y >= p, or
-- x = 0 with its sign bit set), as JWK and as PEM.
SELECT name, try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', okp_jwk('Ed25519', x))) AS jwk,
       try(format('SELECT jwt_verify(''a.b.c'', %L)', okp_pem('Ed25519', x))) AS pem
FROM (VALUES
  ('identity (order 1)', '0100000000000000000000000000000000000000000000000000000000000000'),
  ('order 2', 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
  ('order 4', '0000000000000000000000000000000000000000000000000000000000000000'),
  ('order 4, other sign', '0000000000000000000000000000000000000000000000000000000000000080'),
  ('order 8', '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05'),
  ('order 8, other sign', '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85'),
  ('order 8, second y', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'),
  ('order 8, second y, other sign', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa'),
  ('y = p (0 spelled + p)', 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
  ('y = p + 1 (identity + p)', 'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
  ('identity with x sign bit', '0100000000000000000000000000000000000000000000000000000000000080'),
  ('y = 2^255 - 1', 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
  ('not on the curve (y = 2)', '0200000000000000000000000000000000000000000000000000000000000000')
) AS v(name, x);
-- Ed448 (cofactor 4): identity, order 2, order 4, and y >= p.
SELECT name, try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', okp_jwk('Ed448', x))) AS jwk,
       try(format('SELECT jwt_verify(''a.b.c'', %L)', okp_pem('Ed448', x))) AS pem
FROM (VALUES
  ('identity (order 1)', '01' || repeat('00', 56)),
  ('order 2', 'fe' || repeat('ff', 27) || 'fe' || repeat('ff', 27) || '00'),
  ('order 4', repeat('00', 57)),
  ('order 4, other sign', repeat('00', 56) || '80'),
  ('y = p (0 spelled + p)', 'ff' || repeat('ff', 27) || 'fe' || repeat('ff', 27) || '00'),
  ('bits 448-454 set', '01' || repeat('00', 55) || '01')
) AS v(name, x);
-- Valid keys still work.
SELECT outcome(jwt_sign('{"sub":"u","exp":1900000000}', k('ed25519'), 'EdDSA'), k('ed25519_pub_jwk')) AS ed25519_ok,
       outcome(jwt_sign('{"sub":"u","exp":1900000000}', k('ed448'), 'EdDSA'), k('ed448_pub_jwk')) AS ed448_ok;
-- x and d of the wrong length are refused, never zero-padded.
SELECT name, try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', jwk)) AS result
FROM (VALUES
  ('Ed25519 x of 31 bytes', okp_jwk('Ed25519', substr('769bc0955cd4614b2481a66c2f09b1e5585a33a42c8d332b03f58cfc95499c', 1, 62))),
  ('Ed25519 x of 33 bytes', okp_jwk('Ed25519', '00' || encode(unb64u(k('ed25519_pub_jwk')::json->>'x'), 'hex'))),
  ('Ed25519 d of 31 bytes', (k('ed25519_jwk')::jsonb || jsonb_build_object('d', b64u(substr(unb64u(k('ed25519_jwk')::json->>'d'), 2))))::text),
  ('Ed448 x of 56 bytes', okp_jwk('Ed448', encode(substr(unb64u(k('ed448_pub_jwk')::json->>'x'), 2), 'hex')))
) AS v(name, jwk);
-- Everywhere a key is read: the keyring (jwt_add_key, jwt_import_jwks) refuses them too.
SELECT try(format('SELECT jwt_add_key(%L)', okp_jwk('Ed25519', '01' || repeat('00', 31)))) AS add_key,
       try(format('SELECT jwt_add_key(%L)', okp_pem('Ed25519', 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'))) AS add_key_pem,
       try(format('SELECT jwt_import_jwks(%L)', jsonb_build_object('keys', jsonb_build_array(
           okp_jwk('Ed25519', '01' || repeat('00', 31))::jsonb || '{"kid":"forger"}')))) AS import_jwks,
       (SELECT count(*) FROM jwt_keys WHERE kid = 'forger') AS imported;
-- and a JWKS given to jwt_verify
SELECT outcome(b64u('{"alg":"EdDSA","kid":"a"}') || '.' || b64u('{"sub":"admin","exp":1900000000}') || '.'
               || b64u(decode('01' || repeat('00', 63), 'hex')),
               jsonb_build_object('keys', jsonb_build_array(k('ed25519_pub_jwk')::jsonb || '{"kid":"b"}',
                   okp_jwk('Ed25519', '01' || repeat('00', 31))::jsonb || '{"kid":"a"}'))::text) AS jwks_with_identity;

-- ---------------------------------------------------------------------------------------------
-- Item 8: JWK "key_ops" was ignored: a key published for ["encrypt"] verified signatures.
-- RFC 7517: a key verifies only when "use" is absent or "sig" and "key_ops" is absent or lists
-- "verify" (signing: "sign").  Alone, a key for neither is refused like "use":"enc" (22023);
-- in a JWKS it is skipped like one; a key for the other operation is refused with 28J07.
CREATE TABLE ops_tokens AS
SELECT jwt_sign('{"sub":"u","exp":1900000000}', k('ec256_jwk'), 'ES256') AS es,
       jwt_sign('{"sub":"u","exp":1900000000}', k('ec256_jwk'), 'ES256', '{"kid":"e1"}') AS es_kid;
SELECT name, (SELECT outcome(es, jwk) FROM ops_tokens) AS verify
FROM (VALUES
  ('key_ops encrypt', (k('ec256_pub_jwk')::jsonb || '{"key_ops":["encrypt"]}')::text),
  ('key_ops wrapKey, deriveKey', (k('ec256_pub_jwk')::jsonb || '{"key_ops":["wrapKey","deriveKey"]}')::text),
  ('key_ops empty', (k('ec256_pub_jwk')::jsonb || '{"key_ops":[]}')::text),
  ('key_ops sign (public key)', (k('ec256_pub_jwk')::jsonb || '{"key_ops":["sign"]}')::text),
  ('use sig, key_ops encrypt', (k('ec256_pub_jwk')::jsonb || '{"use":"sig","key_ops":["encrypt"]}')::text),
  ('use enc (unchanged)', (k('ec256_pub_jwk')::jsonb || '{"use":"enc"}')::text),
  ('key_ops not an array', (k('ec256_pub_jwk')::jsonb || '{"key_ops":"verify"}')::text),
  ('key_ops with a number', (k('ec256_pub_jwk')::jsonb || '{"key_ops":["verify",1]}')::text),
  ('key_ops duplicate', (k('ec256_pub_jwk')::jsonb || '{"key_ops":["verify","verify"]}')::text),
  ('key_ops verify', (k('ec256_pub_jwk')::jsonb || '{"key_ops":["verify"]}')::text),
  ('key_ops sign, verify', (k('ec256_pub_jwk')::jsonb || '{"key_ops":["sign","verify"]}')::text),
  ('use sig, key_ops verify', (k('ec256_pub_jwk')::jsonb || '{"use":"sig","key_ops":["verify"]}')::text),
  ('no key_ops', k('ec256_pub_jwk'))
) AS v(name, jwk);
-- signing: a private key listing only "verify" does not sign; one listing "sign" does
SELECT try(format('SELECT jwt_sign(''{}'', %L)', k('ec256_jwk')::jsonb || '{"key_ops":["verify"]}')) AS sign_verify_only,
       try(format('SELECT jwt_sign(''{}'', %L)', k('ec256_jwk')::jsonb || '{"key_ops":["sign"]}')) AS sign_sign_only,
       try(format('SELECT jwt_sign(''{}'', %L)', k('ec256_jwk')::jsonb || '{"key_ops":["encrypt"]}')) AS sign_encrypt;
-- in a JWKS: an encryption key is skipped; a signing-only key is not chosen for a token without
-- kid, and refused by kid
SELECT (SELECT outcome(es, jsonb_build_object('keys', jsonb_build_array(
           k('ec256_pub_jwk')::jsonb || '{"kid":"e1","key_ops":["encrypt"]}'))::text) FROM ops_tokens) AS only_encrypt_key,
       (SELECT outcome(es, jsonb_build_object('keys', jsonb_build_array(
           k('ec256_pub_jwk')::jsonb || '{"kid":"e1","key_ops":["encrypt"]}',
           k('ec256_pub_jwk')::jsonb || '{"kid":"e2"}'))::text) FROM ops_tokens) AS encrypt_key_skipped,
       (SELECT outcome(es, jsonb_build_object('keys', jsonb_build_array(
           k('ec256_pub_jwk')::jsonb || '{"kid":"e1","key_ops":["sign"]}'))::text) FROM ops_tokens) AS sign_only_no_kid,
       (SELECT outcome(es_kid, jsonb_build_object('keys', jsonb_build_array(
           k('ec256_pub_jwk')::jsonb || '{"kid":"e1","key_ops":["sign"]}'))::text) FROM ops_tokens) AS sign_only_by_kid,
       (SELECT outcome(es_kid, jsonb_build_object('keys', jsonb_build_array(
           k('ec256_pub_jwk')::jsonb || '{"kid":"e1","key_ops":["verify"]}'))::text) FROM ops_tokens) AS verify_by_kid;
DROP TABLE ops_tokens;

-- ---------------------------------------------------------------------------------------------
-- Item 9: RSA moduli with the ROCA fingerprint (CVE-2017-15361) were accepted.  roca_* is a
-- real, consistent 2048-bit key whose primes have the form k*M + (65537^a mod M); it is refused
-- as a private JWK, a public JWK and a PEM, and by the keyring.  An ordinary key still works.
SELECT name, try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', ak(name))) AS result
FROM (VALUES ('roca_jwk'), ('roca_pub_jwk'), ('roca_pub')) AS v(name);
SELECT try(format('SELECT jwt_add_key(%L)', ak('roca_jwk'))) AS add_key,
       try(format('SELECT jwt_import_jwks(%L)', jsonb_build_object('keys', jsonb_build_array(ak('roca_pub_jwk')::jsonb)))) AS import_jwks,
       outcome(jwt_sign('{"sub":"u","exp":1900000000}', k('rsa'), 'RS256'), k('rsa_pub')) AS ordinary_key;

-- ---------------------------------------------------------------------------------------------
-- Item 10: uncancellable work.  A JWKS of large RSA keys ran past statement_timeout and ignored
-- pg_cancel_backend, and duplicate-kid detection was quadratic.  A key set has at most 100 keys
-- (54000 beyond), RSA moduli at most 8192 bits, and parsing a set checks for interrupts.
SELECT try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', jsonb_build_object('keys',
           (SELECT jsonb_agg(k('ec256_pub_jwk')::jsonb || jsonb_build_object('kid', i::text)) FROM generate_series(1, 101) i)))) AS jwks_101_keys,
       try(format('SELECT jwt_verify(''a.b.c'', %L)', jsonb_build_object('keys',
           (SELECT jsonb_agg(k('ec256_pub_jwk')::jsonb || jsonb_build_object('kid', i::text)) FROM generate_series(1, 100) i)))) AS jwks_100_keys,
       try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', jsonb_build_object('keys',
           (SELECT jsonb_agg(k('ec256_pub_jwk')::jsonb || jsonb_build_object('kid', CASE i WHEN 97 THEN '3' ELSE i::text END))
            FROM generate_series(1, 100) i)))) AS duplicate_kid;
-- A big but allowed set (100 8192-bit RSA keys, about 13 s of key checks) stops at
-- statement_timeout.  These timed checks compare work done against work skipped, with a
-- margin of several times either way, so that a loaded machine cannot flip them.
CREATE TABLE slow_jwks AS SELECT jsonb_build_object('keys',
    (SELECT jsonb_agg(ak('rsa8192_pub_jwk')::jsonb || jsonb_build_object('kid', i::text)) FROM generate_series(1, 100) i))::text AS jwks;
CREATE FUNCTION try_cancel(q text) RETURNS text LANGUAGE plpgsql
AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN query_canceled THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE TABLE timing (t0 timestamptz);
INSERT INTO timing VALUES (clock_timestamp());
SET statement_timeout = '200ms';
SELECT try_cancel((SELECT format('SELECT jwt_verify(''a.b.c'', %L)', jwks) FROM slow_jwks)) AS big_jwks;
RESET statement_timeout;
SELECT clock_timestamp() - t0 < interval '4 s' AS cancelled_promptly FROM timing;
DROP TABLE slow_jwks, timing;
DROP FUNCTION try_cancel(text);
-- A review found the checks of private keys a CPU amplifier (100 private 8192-bit RSA JWKs in
-- one set: 455 s of primality tests for one jwt_is_valid call).  A set of several keys only
-- verifies, so private members there are refused before any check.
SELECT try_detail(format('SELECT jwt_is_valid(''a.b.c'', %L)', jsonb_build_object('keys', jsonb_build_array(
           k('ec256_pub_jwk')::jsonb || '{"kid":"pub"}', k('rsa_jwk')::jsonb - 'key_ops' || '{"kid":"priv"}'))))
       AS private_member_in_a_set;
-- A failed parse is not a free CPU amplifier.  OpenSSL's checks (a primality test of each
-- modulus, about 0.13 s at 8192 bits) run only once every cheaper check of every key has passed:
-- 99 such keys (13 s of checks) and a 100th with e = 3 fail at once.
CREATE TABLE bad_jwks AS SELECT jsonb_build_object('keys',
    (SELECT jsonb_agg(ak('rsa8192_pub_jwk')::jsonb || jsonb_build_object('kid', i::text)) FROM generate_series(1, 99) i)
    || jsonb_build_array(k('rsa_pub_jwk')::jsonb || '{"kid":"100","e":"Aw"}'))::text AS jwks;
CREATE TABLE timing (t0 timestamptz);
INSERT INTO timing VALUES (clock_timestamp());
SELECT try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', jwks)) AS cheap_failure_last FROM bad_jwks;
SELECT clock_timestamp() - t0 < interval '3 s' AS failed_before_the_checks FROM timing;
DROP TABLE bad_jwks, timing;
-- A set that fails in those checks (20 8192-bit keys, 2.6 s of checks, then an even modulus)
-- fails once; the same bytes again fail from the cache, without the checks.
CREATE TABLE bad_jwks AS SELECT jsonb_build_object('keys',
    (SELECT jsonb_agg(ak('rsa8192_pub_jwk')::jsonb || jsonb_build_object('kid', i::text)) FROM generate_series(1, 20) i)
    || jsonb_build_array(k('rsa_pub_jwk')::jsonb || jsonb_build_object('kid', '21', 'n',
           b64u(overlay(unb64u(k('rsa_pub_jwk')::json->>'n') PLACING '\x00'::bytea FROM 256)))))::text AS jwks;
SELECT try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', jwks)) AS first_call FROM bad_jwks;
CREATE TABLE timing (t0 timestamptz);
INSERT INTO timing VALUES (clock_timestamp());
SELECT try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', jwks)) AS second_call FROM bad_jwks;
SELECT clock_timestamp() - t0 < interval '0.6 s' AS second_call_cached FROM timing;
DROP TABLE bad_jwks, timing;

-- ---------------------------------------------------------------------------------------------
-- Item 11: the key cache pinned unbounded memory (three 100 MB secrets held 600 MB).  Key text
-- over 256 kB is not cached, and the cache is bounded in bytes.  Three 1 MB secrets verify and
-- leave nothing behind.
SELECT i, outcome(forge('{"alg":"HS256"}', '{"sub":"u","exp":1900000000}', s), s) AS verifies
FROM generate_series(1, 3) i, LATERAL (SELECT repeat(md5(i::text), 32768) AS s) AS big;
SELECT coalesce(sum(total_bytes), 0) < 1024 * 1024 AS cache_small,
       count(*) FILTER (WHERE name = 'jwt key (uncached)') AS uncached_left
FROM pg_backend_memory_contexts WHERE name LIKE 'jwt key%';

-- ---------------------------------------------------------------------------------------------
-- Item 13: private key bytes in an error message.  A PEM whose BEGIN line lacks its trailing
-- dashes echoed 40 characters of the base64 body (11 bytes of an EC private scalar).  No message
-- quotes key material: only fixed labels from a known list, or nothing.
CREATE TABLE leaky (name text, key text);
INSERT INTO leaky VALUES
  ('BEGIN line without dashes', replace(k('ec_p256'), E'-----BEGIN PRIVATE KEY-----', '-----BEGIN PRIVATE KEY')),
  ('BEGIN line with body on it', replace(k('ec_p256'), E'PRIVATE KEY-----\n', 'PRIVATE KEY ')),
  ('unknown label', replace(replace(k('ec_p256'), 'BEGIN PRIVATE KEY', 'BEGIN ' || substr(pem_body(k('ec_p256')), 20, 30)), 'END PRIVATE KEY', 'END X')),
  ('known label', E'-----BEGIN DH PARAMETERS-----\nMAA=\n-----END DH PARAMETERS-----\n'),
  ('curve name is key bytes', json_build_object('kty', 'EC', 'crv', substr(pem_body(k('ec_p256')), 40, 40), 'x', 'AA', 'y', 'AA')::text),
  ('kty is key bytes', json_build_object('kty', substr(pem_body(k('ec_p256')), 40, 40))::text),
  ('alg is key bytes', (k('ec256_pub_jwk')::jsonb || jsonb_build_object('alg', substr(pem_body(k('ec_p256')), 40, 40)))::text),
  ('OKP curve is key bytes', json_build_object('kty', 'OKP', 'crv', substr(pem_body(k('ec_p256')), 40, 40), 'x', 'AA')::text),
  ('duplicate kid is key bytes', jsonb_build_object('keys', jsonb_build_array(
      k('ec256_pub_jwk')::jsonb || jsonb_build_object('kid', substr(pem_body(k('ec_p256')), 40, 40)),
      k('ec256_pub_jwk')::jsonb || jsonb_build_object('kid', substr(pem_body(k('ec_p256')), 40, 40))))::text);
SELECT name, try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', key)) AS error,
       position(substr(pem_body(k('ec_p256')), 40, 12) IN error_text(format('SELECT jwt_verify(''a.b.c'', %L)', key))) = 0
       AND position(substr(pem_body(k('ec_p256')), 20, 12) IN error_text(format('SELECT jwt_verify(''a.b.c'', %L)', key))) = 0 AS no_key_bytes
FROM leaky;
DROP TABLE leaky;

-- ---------------------------------------------------------------------------------------------
-- Item 21: RSA public exponents had no upper bound: a 2046-bit e made each verification 85x
-- slower.  e must be odd and 2^16 < e < 2^256 (NIST SP 800-56B) for every RSA key read; the
-- modulus is bounded too (8192 bits).
SELECT name, try_detail(format('SELECT jwt_verify(''a.b.c'', %L)', key)) AS result
FROM (VALUES
  ('PEM, e = 3', ak('e3_pub')),
  ('PEM, e of 2046 bits', ak('big_e_pub')),
  ('JWK, e = 3', (k('rsa_pub_jwk')::jsonb || '{"e":"Aw"}')::text),
  ('JWK, e = 65535', (k('rsa_pub_jwk')::jsonb || '{"e":"__8"}')::text),
  ('JWK, e = 65536 (even)', (k('rsa_pub_jwk')::jsonb || '{"e":"AQAA"}')::text),
  ('JWK, e = 2^256 + 1', (k('rsa_pub_jwk')::jsonb || jsonb_build_object('e', b64u(decode('01' || repeat('00', 31) || '01', 'hex'))))::text),
  ('JWK, e of 2046 bits', (k('rsa_pub_jwk')::jsonb || jsonb_build_object('e', b64u(decode('20' || repeat('00', 254) || '01', 'hex'))))::text),
  ('JWK, e = 65537', k('rsa_pub_jwk')),
  ('PEM, 9000-bit modulus', ak('big_n_pub')),
  ('JWK, 9000-bit modulus', (k('rsa_pub_jwk')::jsonb || jsonb_build_object('n', b64u(decode('80' || repeat('ab', 1124) || '01', 'hex'))))::text),
  ('JWK, 8192-bit modulus', ak('rsa8192_pub_jwk'))
) AS v(name, key);

DROP TABLE spellings;
DROP FUNCTION ak(text), pem_body(text, boolean), okp_jwk(text, text), okp_pem(text, text), try_detail(text), error_text(text);
DROP TABLE audit_keys;

-- =============================================================================
RESET ALL;
-- Part 4, the keyring: issue 12 items 20, 22-24: the keyring's imports, kids and envelopes
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
SELECT jwt_import_jwks(jsonb_build_object('keys', jsonb_build_array(k('ed25519_pub_jwk')::jsonb || '{"kid":"audit-kr-idp"}')), 'https://idp.example') AS imported;
SELECT jwt_verify(jwt_sign('{"sub":"idp-user","iss":"https://idp.example"}', k('ed25519'), header => '{"kid":"audit-kr-idp"}')) ->> 'sub' AS provider_token;

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
-- re-importing the kid (bound to its issuer since 0.2.0) stores no private material
SELECT jwt_import_jwks(jsonb_build_object('keys', jsonb_build_array(k('ec256_pub_jwk')::jsonb || '{"kid":"audit-kr-old-ec"}')), 'https://idp.example') AS reimported;
SELECT has_private AS reimport_has_private FROM jwt_key_list WHERE kid = 'audit-kr-old-ec' AND issuer = 'https://idp.example';
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
         k('ec256_pub_jwk')::jsonb || '{"kid":"ops-verify","key_ops":["verify"]}')), 'https://idp.example') AS imported_only_verify_keys;
SELECT kid FROM jwt_key_list WHERE kid LIKE 'ops-%' ORDER BY kid;
DELETE FROM jwt_keys WHERE kid LIKE 'ops-%';
