-- jwt_token_cache: issue 17: the per-backend verified-token cache never changes an answer.
-- Every item verifies a token until it is cached, then replays an attack on the cached
-- token and shows the SQLSTATE beside [hit] (parse and signature came from the cache,
-- every other check ran again) or [miss] (the signature was checked again).
SET jwt.default_lifetime = '1h';
CREATE TABLE tc_tokens (name text PRIMARY KEY, token text NOT NULL);
CREATE FUNCTION tc_tok(n text) RETURNS text LANGUAGE sql STABLE
AS $$ SELECT token FROM tc_tokens WHERE name = n $$;
-- Run a statement: 'ok' or its SQLSTATE and message, and whether its verification was a hit.
CREATE FUNCTION tc(q text) RETURNS text LANGUAGE plpgsql
AS $$
DECLARE
    h bigint := (SELECT hits FROM jwt_token_cache_stats());
    r text := try(q);
BEGIN
    RETURN r || CASE WHEN (SELECT hits FROM jwt_token_cache_stats()) > h THEN ' [hit]' ELSE ' [miss]' END;
END $$;
-- The same after three runs of it (a token is stored on its second sight).
CREATE FUNCTION tc_warm(q text) RETURNS text LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM try(q);
    PERFORM try(q);
    PERFORM try(q);
    RETURN tc(q);
END $$;
INSERT INTO tc_tokens VALUES
  ('es', jwt_sign('{"sub": "alice", "aud": "app", "iss": "https://idp", "nbf": 1900000000, "iat": 1900000000, "exp": 1900003600}', k('ec_p256'), header => '{"typ": "JWT"}')),
  ('es2', jwt_sign('{"sub": "alice", "exp": 1900003600}', k('ec_p256'))),
  ('hs', jwt_sign('{"sub": "bob", "jti": "tc-hs-1", "exp": 1900003600}', secret(), header => '{"kid": "tc-nowhere"}')),
  ('rs', jwt_sign('{"sub": "carol", "exp": 1900003600}', k('rsa')));

-- The cache at work: the same token verified again is a hit, with the same claims.
SELECT tc_warm($$SELECT jwt_verify(tc_tok('es'), k('ec_p256_pub'), audience => 'app', now => '2030-03-17 18:00+00')$$) AS repeated_es256;
SELECT jwt_verify(tc_tok('es'), k('ec_p256_pub'), audience => 'app', now => '2030-03-17 18:00+00')
     = (jwt_decode(tc_tok('es'))).payload AS same_claims_on_a_hit;
SELECT tc_warm($$SELECT jwt_verify(tc_tok('hs'), secret(), now => '2030-03-17 18:00+00')$$) AS repeated_hs256;
SELECT tc_warm($$SELECT jws_verify(tc_tok('rs'), k('rsa_pub'))$$) AS repeated_jws_rs256;

-- Attack: a forged signature on a cached token's header and payload (random bytes).
SELECT tc($$SELECT jwt_verify(with_sig(tc_tok('es'), decode(repeat('ab', 64), 'hex')), k('ec_p256_pub'), audience => 'app', now => '2030-03-17 18:00+00')$$) AS forged_signature;
-- Attack: a cached token's header and payload with the key's genuine signature of another token.
SELECT tc($$SELECT jwt_verify(with_sig(tc_tok('es'), unb64u(split_part(tc_tok('es2'), '.', 3))), k('ec_p256_pub'), audience => 'app', now => '2030-03-17 18:00+00')$$) AS transplanted_signature;
-- Attack: a cached HS256 token's payload re-signed with a guessed secret.
SELECT tc($$SELECT jwt_verify(with_sig(tc_tok('hs'), hmac(split_part(tc_tok('hs'), '.', 1) || '.' || split_part(tc_tok('hs'), '.', 2), 'guessed secret of thirty-two bytes!', 'sha256')), secret(), now => '2030-03-17 18:00+00')$$) AS resigned_with_guessed_secret;

-- Attack: the same cached token verified with a different explicit key (an HMAC secret it was not made with).
SELECT tc($$SELECT jwt_verify(tc_tok('hs'), 'another secret, also 32 bytes long', now => '2030-03-17 18:00+00')$$) AS other_secret;
-- Attack: a token cached under jwt_verify(key) offered to jwt_verify(other_key): another P-256 key,
-- another RSA key (public JWKs of keys made for this test), a P-384 key.
SELECT jwt_generate_key('ES256', 'tc-other-es') AS kid;
SELECT jwt_generate_key('RS256', 'tc-other-rs') AS kid;
-- The bytes the cache's memory contexts hold, as the server counts them
-- (pg_backend_memory_contexts, 14+; its parent column is gone in 18, so by
-- name).  PostgreSQL 13 has no such view: there jwt_token_cache_stats()'s
-- own count is the only measure, and this reports 0.
CREATE FUNCTION tc_context_bytes() RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE b bigint;
BEGIN
    IF current_setting('server_version_num')::int < 140000 THEN
        RETURN 0;
    END IF;
    EXECUTE $q$SELECT coalesce(sum(total_bytes), 0) FROM pg_backend_memory_contexts
               WHERE name IN ('jwt token cache', 'jwt token cache entry')$q$ INTO b;
    RETURN b;
END
$f$;
CREATE FUNCTION tc_jwk(kid text) RETURNS text LANGUAGE sql
AS $$ SELECT j::text FROM jsonb_array_elements(jwt_jwks() -> 'keys') j WHERE j ->> 'kid' = kid $$;
SELECT tc($$SELECT jwt_verify(tc_tok('es'), tc_jwk('tc-other-es'), audience => 'app', now => '2030-03-17 18:00+00')$$) AS other_p256_key;
SELECT tc($$SELECT jwt_verify(tc_tok('rs'), tc_jwk('tc-other-rs'), now => '2030-03-17 18:00+00')$$) AS other_rsa_key;
SELECT tc($$SELECT jwt_verify(tc_tok('es'), k('ec_p384_pub'), audience => 'app', now => '2030-03-17 18:00+00')$$) AS other_curve_key;
DELETE FROM jwt_keys WHERE kid IN ('tc-other-es', 'tc-other-rs');
-- Attack: the token cached under a text secret offered with other secret bytes as bytea.
SELECT tc($$SELECT jwt_verify(tc_tok('hs'), convert_to('another secret, also 32 bytes long', 'UTF8'), now => '2030-03-17 18:00+00')$$) AS other_bytea_secret;
-- Attack: a token cached under an explicit key offered to the keyring, which holds no such key.
SELECT tc($$SELECT jwt_verify(tc_tok('hs'), now => '2030-03-17 18:00+00')$$) AS keyring_has_no_such_key;
-- ...and the right key still gives a hit afterwards.
SELECT tc($$SELECT jwt_verify(tc_tok('hs'), secret(), now => '2030-03-17 18:00+00')$$) AS right_key_again;

-- Different options on the same cached token: each is checked again on a hit.
-- Attack: a token for another audience.
SELECT tc($$SELECT jwt_verify(tc_tok('es'), k('ec_p256_pub'), audience => 'other-app', now => '2030-03-17 18:00+00')$$) AS other_audience;
-- Attack: a token of another issuer.
SELECT tc($$SELECT jwt_verify(tc_tok('es'), k('ec_p256_pub'), audience => 'app', issuer => 'https://evil', now => '2030-03-17 18:00+00')$$) AS other_issuer;
-- Attack: a token of another subject.
SELECT tc($$SELECT jwt_verify(tc_tok('es'), k('ec_p256_pub'), audience => 'app', subject => 'mallory', now => '2030-03-17 18:00+00')$$) AS other_subject;
-- Attack: a token of another type.
SELECT tc($$SELECT jwt_verify(tc_tok('es'), k('ec_p256_pub'), audience => 'app', typ => 'at+jwt', now => '2030-03-17 18:00+00')$$) AS other_typ;
-- Attack: a token missing a claim the caller requires.
SELECT tc($$SELECT jwt_verify(tc_tok('es'), k('ec_p256_pub'), audience => 'app', required => '{email}', now => '2030-03-17 18:00+00')$$) AS required_claim;
-- Attack: a token issued too long ago for max_age.
SELECT tc($$SELECT jwt_verify(tc_tok('es'), k('ec_p256_pub'), audience => 'app', max_age => '1 minute', now => '2030-03-17 18:00+00')$$) AS max_age;
-- Attack: an algorithm the caller does not allow.
SELECT tc($$SELECT jwt_verify(tc_tok('es'), k('ec_p256_pub'), algorithms => '{RS256}', audience => 'app', now => '2030-03-17 18:00+00')$$) AS algorithm_not_allowed;
-- Attack: the cached token replayed after its exp.
SELECT tc($$SELECT jwt_verify(tc_tok('es'), k('ec_p256_pub'), audience => 'app', now => '2030-03-17 20:00+00')$$) AS after_exp;
-- Attack: the cached token used before its nbf.
SELECT tc($$SELECT jwt_verify(tc_tok('es'), k('ec_p256_pub'), audience => 'app', now => '2030-03-17 16:00+00')$$) AS before_nbf;
-- ...but leeway applies as on a miss.
SELECT tc($$SELECT jwt_verify(tc_tok('es'), k('ec_p256_pub'), audience => 'app', leeway => '3 hours', now => '2030-03-17 16:00+00')$$) AS before_nbf_within_leeway;
-- Attack: jwt_is_valid and jwt_verify on the same cached token answer alike.
SELECT jwt_is_valid(tc_tok('es'), k('ec_p256_pub'), audience => 'app', now => '2030-03-17 20:00+00') AS is_valid_after_exp,
       jwt_is_valid(tc_tok('es'), k('ec_p256_pub'), audience => 'app', now => '2030-03-17 18:00+00') AS is_valid_in_time;
-- Attack: a cached token longer than a lowered jwt.max_token_length.
SET jwt.max_token_length = 64;
SELECT tc($$SELECT jwt_verify(tc_tok('hs'), secret(), now => '2030-03-17 18:00+00')$$) AS shorter_max_token_length;
RESET jwt.max_token_length;

-- Revocation is checked on every hit.
-- Attack: a revoked token replayed while cached.
SELECT tc_warm($$SELECT jwt_verify(tc_tok('hs'), secret(), check_revoked => true, now => '2030-03-17 18:00+00')$$) AS before_revocation;
SELECT jwt_revoke_jti('tc-hs-1', '2030-03-17 19:00+00');
SELECT tc($$SELECT jwt_verify(tc_tok('hs'), secret(), check_revoked => true, now => '2030-03-17 18:00+00')$$) AS revoked_token;
-- Attack: a token of a subject cut off after it was cached.
SELECT tc_warm($$SELECT jwt_verify(tc_tok('rs'), k('rsa_pub'), check_revoked => true, now => '2030-03-17 18:00+00')$$) AS before_cutoff;
SELECT jwt_revoke_subject('carol', '2030-03-17 00:00+00');
SELECT tc($$SELECT jwt_verify(tc_tok('rs'), k('rsa_pub'), check_revoked => true, now => '2030-03-17 18:00+00')$$) AS subject_cut_off;
DELETE FROM jwt_revoked_tokens WHERE jti = 'tc-hs-1';
DELETE FROM jwt_revoked_subjects WHERE sub = 'carol';

-- The keyring: the key is looked up again, with its state, on every hit.
SELECT jwt_generate_key('ES256', 'tc-es') AS kid;
SELECT jwt_generate_key('HS256', 'tc-hs') AS kid;
INSERT INTO tc_tokens VALUES
  ('ring_es', jwt_sign('{"sub": "dave", "jti": "tc-ring-1"}', NULL, 'ES256', '{"kid": "tc-es"}')),
  ('ring_hs', jwt_sign('{"sub": "erin", "jti": "tc-ring-2"}', NULL, 'HS256', '{"kid": "tc-hs"}')),
  ('ring_es_nokid', jwt_sign('{"sub": "frank"}', NULL, 'ES256', '{"kid": "tc-es"}'));
SELECT tc_warm($$SELECT jwt_verify(tc_tok('ring_es'))$$) AS keyring_es256;
-- Attack: a token the keyring verifies, offered with algorithms that exclude it.
SELECT tc($$SELECT jwt_verify(tc_tok('ring_es'), algorithms => '{HS256}')$$) AS keyring_algorithm_not_allowed;
-- Attack: a revoked token of the keyring replayed while cached.
SELECT jwt_revoke(tc_tok('ring_es'), 'cache test');
SELECT tc($$SELECT jwt_verify(tc_tok('ring_es'))$$) AS keyring_revoked_token;
-- Attack: a token of a key retired after the token was cached.
SELECT tc_warm($$SELECT jwt_verify(tc_tok('ring_es_nokid'))$$) AS before_retirement;
SELECT jwt_retire_key('tc-es');
SELECT tc($$SELECT jwt_verify(tc_tok('ring_es_nokid'))$$) AS retired_key;
-- Attack: a token of a key removed from the keyring after the token was cached.
SELECT tc_warm($$SELECT jwt_verify(tc_tok('ring_hs'))$$) AS before_removal;
DELETE FROM jwt_keys WHERE kid = 'tc-hs';
SELECT tc($$SELECT jwt_verify(tc_tok('ring_hs'))$$) AS removed_key;
SELECT (SELECT flushes FROM jwt_token_cache_stats()) > 0 AS keyring_changes_flushed_the_cache;
-- Attack: a token of a key revoked (key state revoked) after the token was cached.
SELECT jwt_generate_key('ES256', 'tc-rk') AS kid;
INSERT INTO tc_tokens VALUES ('ring_rk', jwt_sign('{"sub": "ivan"}', NULL, 'ES256', '{"kid": "tc-rk"}'));
SELECT tc_warm($$SELECT jwt_verify(tc_tok('ring_rk'))$$) AS before_key_revocation;
SELECT jwt_revoke_key('tc-rk');
SELECT tc($$SELECT jwt_verify(tc_tok('ring_rk'))$$) AS revoked_key;
DELETE FROM jwt_keys WHERE kid = 'tc-rk';
-- Attack: a token of a session ended (by its sid) after the token was cached.
SELECT jwt_generate_key('HS256', 'tc-sid') AS kid;
INSERT INTO tc_tokens VALUES ('ring_sid', jwt_sign('{"sub": "judy", "sid": "tc-session-1"}', NULL, 'HS256', '{"kid": "tc-sid"}'));
SELECT tc_warm($$SELECT jwt_verify(tc_tok('ring_sid'))$$) AS before_session_end;
SELECT jwt_revoke_session('tc-session-1', 'cache test');
SELECT tc($$SELECT jwt_verify(tc_tok('ring_sid'))$$) AS ended_session;
DELETE FROM jwt_keys WHERE kid = 'tc-sid';
DELETE FROM jwt_revoked_sessions WHERE sid = 'tc-session-1';
-- Attack: a secret put back under the kid of a removed key: a new key object, whose check of the
-- signature is done again (the same secret: the token verifies).
SELECT jwt_add_key('tc secret put back, thirty-two bytes', 'HS256', 'tc-back') AS kid;
INSERT INTO tc_tokens VALUES ('ring_back', jwt_sign('{"sub": "hal"}', NULL, 'HS256', '{"kid": "tc-back"}'));
SELECT tc_warm($$SELECT jwt_verify(tc_tok('ring_back'))$$) AS before_put_back;
DELETE FROM jwt_keys WHERE kid = 'tc-back';
SELECT jwt_add_key('tc secret put back, thirty-two bytes', 'HS256', 'tc-back') AS kid;
SELECT tc($$SELECT jwt_verify(tc_tok('ring_back'))$$) AS key_put_back;
SELECT tc($$SELECT jwt_verify(tc_tok('ring_back'))$$) AS key_put_back_again;
DELETE FROM jwt_keys WHERE kid = 'tc-back';
DELETE FROM jwt_keys WHERE kid = 'tc-es';
DELETE FROM jwt_revoked_tokens WHERE jti = 'tc-ring-1';

-- Attack: a cached token replayed once its exp has passed on the wall clock (it leaves the cache).
INSERT INTO tc_tokens VALUES
  ('short', jwt_sign(jsonb_build_object('sub', 'gina', 'exp', extract(epoch FROM clock_timestamp())::bigint + 2), secret()));
SELECT tc_warm($$SELECT jwt_verify(tc_tok('short'), secret())$$) AS short_lived_in_time;
SELECT entries AS entries_before FROM jwt_token_cache_stats() \gset
SELECT pg_sleep(3);
SELECT tc($$SELECT jwt_verify(tc_tok('short'), secret())$$) AS short_lived_after_exp;
SELECT entries < :entries_before AS expired_entry_left FROM jwt_token_cache_stats();

-- Attack: a stream of distinct tokens (each verified twice, so each is stored) to grow the backend's memory.
CREATE TABLE tc_stream AS
SELECT i, jwt_sign(jsonb_build_object('sub', 'user' || i, 'exp', 1900003600), secret()) AS token
FROM generate_series(1, 3000) i;
SET jwt.token_cache_size = 200;
SELECT count(*) FILTER (WHERE jwt_is_valid(token, secret(), now => '2030-03-17 18:00+00')) AS valid FROM tc_stream, generate_series(1, 2);
SELECT entries <= 200 AS entries_bounded, bytes <= 4096 * 1024 AS bytes_bounded, evictions > 0 AS evicted FROM jwt_token_cache_stats();
SET jwt.token_cache_memory = '64kB';
SELECT count(*) FILTER (WHERE jwt_is_valid(token, secret(), now => '2030-03-17 18:00+00')) AS valid FROM tc_stream, generate_series(1, 2);
SELECT entries > 0 AS some_entries, bytes <= 64 * 1024 AS bytes_within_64kB FROM jwt_token_cache_stats();
SELECT tc_context_bytes() <= 64 * 1024 + 16 * 1024 AS contexts_within_budget;
RESET jwt.token_cache_size;
RESET jwt.token_cache_memory;

-- jwt.token_cache = off: nothing is cached, the answers are the same.
SET jwt.token_cache = off;
SELECT tc_warm($$SELECT jwt_verify(tc_tok('es'), k('ec_p256_pub'), audience => 'app', now => '2030-03-17 18:00+00')$$) AS off_repeated;
SELECT tc($$SELECT jwt_verify(tc_tok('es'), k('ec_p256_pub'), audience => 'other-app', now => '2030-03-17 18:00+00')$$) AS off_other_audience;
SELECT entries AS entries_when_off FROM jwt_token_cache_stats();
RESET jwt.token_cache;

-- Attack: a session that is not superuser turns the cache off or resizes it (its settings are superuser-only).
CREATE ROLE tc_user;
SET ROLE tc_user;
SELECT try('SET jwt.token_cache = off') AS user_sets_token_cache;
SELECT try('SET jwt.token_cache_size = 1') AS user_sets_token_cache_size;
RESET ROLE;
DROP ROLE tc_user;

-- Review of issue 17 (adversarial): attacks on the cache's key identity and lookup.
-- Attack: the same token bytes verified first by a keyring key, then by an explicit key: the
-- keyring key's own public JWK (the same material, another key object: checked again, verifies)
-- and another P-256 key (refused).
SELECT jwt_generate_key('ES256', 'tc-rv-ring') AS kid;
INSERT INTO tc_tokens VALUES ('rv_ring', jwt_sign('{"sub": "kim", "exp": 1900003600}', NULL, 'ES256', '{"kid": "tc-rv-ring"}'));
SELECT tc_warm($$SELECT jwt_verify(tc_tok('rv_ring'), now => '2030-03-17 18:00+00') ->> 'sub'$$) AS rv_keyring_first;
SELECT tc($$SELECT jwt_verify(tc_tok('rv_ring'), tc_jwk('tc-rv-ring'), now => '2030-03-17 18:00+00') ->> 'sub'$$) AS rv_then_same_material_explicit;
SELECT tc($$SELECT jwt_verify(tc_tok('rv_ring'), k('ec_p256_pub'), now => '2030-03-17 18:00+00') ->> 'sub'$$) AS rv_then_other_explicit_key;
-- Attack: a token cached under an explicit key, then a keyring key of other material put under the
-- token's kid: the keyring's key is another key object, and refuses the signature.
INSERT INTO tc_tokens VALUES ('rv_expl', jwt_sign('{"sub": "lee", "exp": 1900003600}', k('ec_p256'), header => '{"kid": "tc-rv-expl"}'));
SELECT tc_warm($$SELECT jwt_verify(tc_tok('rv_expl'), k('ec_p256_pub'), now => '2030-03-17 18:00+00') ->> 'sub'$$) AS rv_explicit_first;
SELECT jwt_generate_key('ES256', 'tc-rv-expl') AS kid;
SELECT tc($$SELECT jwt_verify(tc_tok('rv_expl'), now => '2030-03-17 18:00+00') ->> 'sub'$$) AS rv_then_keyring_other_material;
SELECT tc($$SELECT jwt_verify(tc_tok('rv_expl'), k('ec_p256_pub'), now => '2030-03-17 18:00+00') ->> 'sub'$$) AS rv_explicit_again;
DELETE FROM jwt_keys WHERE kid IN ('tc-rv-ring', 'tc-rv-expl');
-- Attack: a token that differs from a cached one only before the hashed tail (its last 32 bytes
-- are the cached token's signature, its length the same: the same hash): compared in full, a miss,
-- and the signature is refused.
CREATE FUNCTION tc_b64u(b bytea) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT rtrim(translate(replace(encode(b, 'base64'), E'\n', ''), '+/', '-_'), '=') $$;
SELECT tc_warm($$SELECT jwt_verify(tc_tok('es2'), k('ec_p256_pub'), now => '2030-03-17 18:00+00') ->> 'sub'$$) AS rv_collision_cached;
SELECT length(t) = length(tc_tok('es2')) AS rv_same_length, right(t, 32) = right(tc_tok('es2'), 32) AS rv_same_tail,
       tc(format($$SELECT jwt_verify(%L, k('ec_p256_pub'), now => '2030-03-17 18:00+00') ->> 'sub'$$, t)) AS rv_same_tail_other_payload
FROM (SELECT split_part(tc_tok('es2'), '.', 1) || '.' ||
             tc_b64u(convert_to(replace(convert_from(unb64u(split_part(tc_tok('es2'), '.', 2)), 'UTF8'), 'alice', 'admin'), 'UTF8')) || '.' ||
             split_part(tc_tok('es2'), '.', 3) AS t) s;
-- Attack: a cached token with trailing whitespace, or a NUL-free prefix of it (other lengths).
SELECT tc($$SELECT jwt_verify(tc_tok('es2') || ' ', k('ec_p256_pub'), now => '2030-03-17 18:00+00') ->> 'sub'$$) AS rv_trailing_space;
SELECT tc($$SELECT jwt_verify(tc_tok('es2') || E'\n', k('ec_p256_pub'), now => '2030-03-17 18:00+00') ->> 'sub'$$) AS rv_trailing_newline;
SELECT tc($$SELECT jwt_verify(left(tc_tok('es2'), -1), k('ec_p256_pub'), now => '2030-03-17 18:00+00') ->> 'sub'$$) AS rv_one_byte_shorter;
-- Attack: a token cached by jws_verify (no claim rules) offered to jwt_verify's claim rules:
-- expired at now, another audience.
INSERT INTO tc_tokens VALUES ('rv_jws', jwt_sign('{"sub": "max", "aud": "app", "exp": 1900003600}', k('rsa')));
SELECT tc_warm($$SELECT jws_verify(tc_tok('rv_jws'), k('rsa_pub')) IS NOT NULL$$) AS rv_jws_cached;
SELECT tc($$SELECT jwt_verify(tc_tok('rv_jws'), k('rsa_pub'), audience => 'app', now => '2030-03-17 20:00+00') ->> 'sub'$$) AS rv_jws_then_jwt_expired;
SELECT tc($$SELECT jwt_verify(tc_tok('rv_jws'), k('rsa_pub'), audience => 'other', now => '2030-03-17 18:00+00') ->> 'sub'$$) AS rv_jws_then_jwt_other_audience;
SELECT jwt_is_valid(tc_tok('rv_jws'), k('rsa_pub'), audience => 'other', now => '2030-03-17 18:00+00') AS rv_jws_then_is_valid;
-- Attack: an error after a hit in the same statement (the entry pinned when the statement
-- aborts): the pin goes with the statement's memory, and the entry serves again.
SELECT try($$SELECT jwt_verify(tc_tok('es2'), k('ec_p256_pub'), now => '2030-03-17 18:00+00') ->> 'sub', 1/0$$) AS rv_error_after_hit;
SELECT tc($$SELECT jwt_verify(tc_tok('es2'), k('ec_p256_pub'), now => '2030-03-17 18:00+00') ->> 'sub'$$) AS rv_hit_after_error;
-- Attack: the keyring changed in the middle of a statement that holds a cached entry (pinned):
-- the entry is flushed while in use, and the token verified again with the new keyring's key.
SELECT jwt_generate_key('ES256', 'tc-rv-mid') AS kid;
INSERT INTO tc_tokens VALUES ('rv_mid', jwt_sign('{"sub": "ned", "exp": 1900003600}', NULL, 'ES256', '{"kid": "tc-rv-mid"}'));
SELECT tc_warm($$SELECT jwt_verify(tc_tok('rv_mid'), now => '2030-03-17 18:00+00') ->> 'sub'$$) AS rv_mid_cached;
SELECT jwt_verify(tc_tok('rv_mid'), now => '2030-03-17 18:00+00') ->> 'sub' AS rv_mid_before,
       (SELECT count(*) FROM jwt_keys WHERE kid = 'tc-rv-mid' AND jwt_retire_key('tc-rv-mid') IS NOT NULL) AS rv_mid_retired,
       try($$SELECT jwt_verify(tc_tok('rv_mid'), now => '2030-03-17 18:00+00') ->> 'sub'$$) AS rv_mid_after;
SELECT tc($$SELECT jwt_verify(tc_tok('rv_mid'), now => '2030-03-17 18:00+00') ->> 'sub'$$) AS rv_mid_next_statement;
-- ...the same statement with the cache off gives the same answers.
SELECT jwt_generate_key('ES256', 'tc-rv-mid2') AS kid;
INSERT INTO tc_tokens VALUES ('rv_mid2', jwt_sign('{"sub": "ned", "exp": 1900003600}', NULL, 'ES256', '{"kid": "tc-rv-mid2"}'));
SET jwt.token_cache = off;
SELECT jwt_verify(tc_tok('rv_mid2'), now => '2030-03-17 18:00+00') ->> 'sub' AS rv_mid_off_before,
       (SELECT count(*) FROM jwt_keys WHERE kid = 'tc-rv-mid2' AND jwt_retire_key('tc-rv-mid2') IS NOT NULL) AS rv_mid_off_retired,
       try($$SELECT jwt_verify(tc_tok('rv_mid2'), now => '2030-03-17 18:00+00') ->> 'sub'$$) AS rv_mid_off_after;
RESET jwt.token_cache;
DELETE FROM jwt_keys WHERE kid = 'tc-rv-mid2';
DELETE FROM jwt_keys WHERE kid = 'tc-rv-mid';
DROP FUNCTION tc_b64u(bytea);
-- Attack: tokens of nearly 1 MB (jwt.max_token_length raised to its most), each verified three times, to grow the
-- backend's memory past the cache's budget: one bigger than a quarter of the budget is not kept,
-- and the cache's memory stays within jwt.token_cache_memory.
SET jwt.max_token_length = '1MB';
CREATE TABLE tc_huge AS
SELECT i, jwt_sign(jsonb_build_object('sub', 'big' || i, 'pad', repeat('x', 700 * 1024), 'exp', 1900003600), secret()) AS token
FROM generate_series(1, 6) i;
SELECT count(*) FILTER (WHERE jwt_is_valid(token, secret(), now => '2030-03-17 18:00+00')) AS rv_huge_valid_4MB_budget
FROM tc_huge, generate_series(1, 3);
SELECT count(*) FILTER (WHERE jwt_is_valid(token, secret(), now => '2030-03-17 18:00+00')) AS rv_huge_valid_4MB_budget_again
FROM tc_huge, generate_series(1, 3);
SELECT bytes <= 4096 * 1024 AS rv_huge_bytes_within_4MB, entries AS rv_huge_entries_4MB FROM jwt_token_cache_stats();
SET jwt.token_cache_memory = '16MB';
SELECT count(*) FILTER (WHERE jwt_is_valid(token, secret(), now => '2030-03-17 18:00+00')) AS rv_huge_valid_16MB_budget
FROM tc_huge, generate_series(1, 3);
SELECT count(*) FILTER (WHERE jwt_is_valid(token, secret(), now => '2030-03-17 18:00+00')) AS rv_huge_valid_16MB_budget_again
FROM tc_huge, generate_series(1, 3);
SELECT entries > 0 AS rv_huge_some_kept, bytes <= 16 * 1024 * 1024 AS rv_huge_bytes_within_16MB FROM jwt_token_cache_stats();
SELECT tc_context_bytes() <= 16 * 1024 * 1024 + 64 * 1024 AS rv_huge_contexts_within_16MB;
RESET jwt.token_cache_memory;
-- ...and lowering jwt.token_cache_memory brings the cache within it at its next lookup.
SELECT jwt_is_valid((SELECT token FROM tc_huge WHERE i = 1), secret(), now => '2030-03-17 18:00+00') AS rv_huge_after_budget_lowered;
SELECT (SELECT bytes <= 4096 * 1024 FROM jwt_token_cache_stats()) AS rv_huge_bytes_within_4MB_again,
       tc_context_bytes() <= 4096 * 1024 + 64 * 1024 AS rv_huge_contexts_within_4MB_again;
RESET jwt.max_token_length;
DROP TABLE tc_huge;

DROP TABLE tc_stream, tc_tokens;
DROP FUNCTION tc_warm(text), tc(text), tc_tok(text), tc_jwk(text), tc_context_bytes();
RESET jwt.default_lifetime;
