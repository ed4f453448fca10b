-- jwt_audit_revocation: issue 12 items 1-5, 12, 17: revocation that must not be undone
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
