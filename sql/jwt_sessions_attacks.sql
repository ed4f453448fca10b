-- Sessions and single-use tokens: attacks replayed by the reviewer of issue 15.
-- Each attack is named in the comment above it.
SET jwt.default_lifetime = '1h';
SELECT jwt_generate_key('ES256', 'sessions-attacks') IS NOT NULL AS key;
CREATE FUNCTION authn(token text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM jwt_authenticate(token);
    PERFORM jwt_reset();
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE ROLE sa_app LOGIN;
CREATE ROLE sa_evil LOGIN;
GRANT EXECUTE ON FUNCTION jwt_keyring_signer() TO sa_app;
GRANT EXECUTE ON FUNCTION jwt_session_refresh(text), jwt_session_end(text) TO sa_app;
GRANT CREATE ON SCHEMA public TO sa_evil;

-- attack: a role that may create objects in the extension's schema (public)
-- adds an exact-match overload of a function the SECURITY DEFINER session
-- code calls (jwt_sign(jsonb)), hoping it runs as the extension's owner
SET ROLE sa_evil;
CREATE FUNCTION public.jwt_sign(c jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'attacker code runs as %', current_user;
    RETURN 'x.y.z';
END $$;
CREATE FUNCTION pg_temp.to_timestamp(double precision) RETURNS timestamptz LANGUAGE sql AS $$ SELECT now() + interval '100 years' $$;
RESET ROLE;
SET ROLE sa_app;
SELECT access_token AS a, refresh_token AS r, session_id AS s FROM jwt_session_start('{"sub":"eve-target"}') \gset
SELECT (jwt_decode(:'a')).payload ->> 'sid' = :'s' AS minted_by_the_real_jwt_sign,
       ((jwt_decode(:'a')).payload ->> 'exp')::bigint < extract(epoch FROM now() + interval '1 day') AS exp_not_shadowed;
SELECT try(format('SELECT jwt_session_refresh(%L)', :'r')) AS refresh_with_shadows;
RESET ROLE;
DROP FUNCTION public.jwt_sign(jsonb);
REVOKE CREATE ON SCHEMA public FROM sa_evil;

-- attack: a role without grants calls the internal functions directly
SET ROLE sa_evil;
SELECT try($$SELECT _jwt_session_revoke('x', 'y')$$) AS internal_revoke;
SELECT try($$SELECT _jwt_consume_record('x', NULL)$$) AS internal_consume;
SELECT try($$SELECT _jwt_purge_sessions()$$) AS internal_purge;
SELECT try($$SELECT _jwt_session_rotate('\x00'::bytea, '\x00'::bytea, 'j', NULL)$$) AS internal_rotate;
SELECT try($$SELECT _jwt_session_binding('\x00'::bytea)$$) AS internal_binding;
SELECT try($$SELECT count(*) FROM jwt_session_refresh_tokens$$) AS read_digests;
SELECT try($$SELECT count(*) FROM jwt_sessions$$) AS read_sessions;
SELECT try($$SELECT count(*) FROM jwt_revoked_sessions$$) AS read_ended_sessions;
SELECT try($$SELECT count(*) FROM jwt_consumed_tokens$$) AS read_consumed;
SELECT try($$SELECT _jwt_session_create('{}', '1 min', '1 h', NULL, 'sid', 'jti', '\x00'::bytea)$$) AS internal_create;
SELECT try($$SELECT _jwt_session_refusal(NULL::jwt_sessions)$$) AS internal_refusal;
SELECT try($$SELECT _jwt_session_mint(NULL::jwt_sessions, 'j')$$) AS internal_mint;
SELECT try($$SELECT jwt_session_start('{}')$$) AS start_without_grant;
SELECT try(format('SELECT jwt_session_refresh(%L)', :'r')) AS refresh_without_grant;
SELECT try(format('SELECT jwt_session_end(%L)', :'r')) AS end_without_grant;
SELECT try(format('SELECT jwt_revoke_session(%L)', :'s')) AS revoke_without_grant;
RESET ROLE;

-- attack: logout, then replay the access token through every door
SELECT access_token AS la, refresh_token AS lr, session_id AS ls FROM jwt_session_start('{"sub":"lou","role":"sa_app"}') \gset
SELECT jwt_session_end(:'lr') AS logged_out;
SELECT authn(:'la') AS authenticate;
SELECT try(format('SELECT jwt_verify(%L)', :'la')) AS verify_keyring;
SELECT jwt_is_valid(:'la') AS is_valid;
SELECT try(format('SELECT jwt_consume(%L)', :'la')) AS consume;
SELECT try(format('SELECT jwt_session_refresh(%L)', :'lr')) AS refresh_after_logout;

-- attack: revoke_subject, then start a session in the same second: refused
-- (started before the cut-off) or usable (after it), never half
SELECT jwt_revoke_subject('sam') IS NOT NULL AS cut;
SELECT access_token AS sma, refresh_token AS smr FROM jwt_session_start('{"sub":"sam"}') \gset
SELECT authn(:'sma') AS access_after_cut, try(format('SELECT 1 FROM jwt_session_refresh(%L)', :'smr')) AS refresh_after_cut;

-- attack: a session whose "sub" is not a string (a number): jwt_revoke_subject
-- of that subject ends its refreshes, and must refuse its access tokens too
SELECT try($$SELECT 1 FROM jwt_session_start('{"sub":12345}')$$) AS numeric_sub;
SELECT try($$SELECT 1 FROM jwt_session_start('{"sub":{"id":"x"}}')$$) AS object_sub;
SELECT try($$SELECT 1 FROM jwt_session_start('{"sub":null}')$$) AS null_sub;

-- attack: a single-use token's jti consumed under one issuer, presented again
-- in a token of another issuer (same keyring): the id is consumed whatever the
-- issuer, so the second is refused (ids are one namespace)
SELECT try(format('SELECT 1 FROM jwt_consume(%L, issuer => %L)',
                  jwt_sign('{"jti":"reset-42","iss":"https://a.example","sub":"u"}'), 'https://a.example')) AS first_issuer;
SELECT try(format('SELECT 1 FROM jwt_consume(%L, issuer => %L)',
                  jwt_sign('{"jti":"reset-42","iss":"https://b.example","sub":"u"}'), 'https://b.example')) AS other_issuer;
DELETE FROM jwt_consumed_tokens WHERE jti = 'reset-42';

-- attack: huge and odd inputs
SELECT try($$SELECT jwt_session_start(jsonb_build_object('sub', repeat('x', 2000)))$$) AS long_sub;
SELECT try($$SELECT jwt_session_start('{"sid":"mine"}')$$) AS own_sid;
SELECT try($$SELECT jwt_session_start('[]')$$) AS array_claims;
SELECT try($$SELECT jwt_session_start('{}', '1 mon')$$) AS months;
SELECT try($$SELECT jwt_session_start('{}', '-1 s')$$) AS negative;
SELECT try($$SELECT jwt_session_start('{}', '1 h', '1 min')$$) AS access_longer;
SELECT try($$SELECT jwt_session_start('{}', NULL)$$) AS null_lifetime;
SELECT try($$SELECT jwt_session_start(NULL)$$) AS null_claims;
SELECT try($$SELECT jwt_session_start('{}', dpop_jkt => 'x')$$) AS bad_jkt;
SELECT try($$SELECT jwt_session_start('{}', '100000000 days', '100000000 days')$$) AS huge_lifetime;
SELECT try($$SELECT jwt_session_end(NULL)$$) AS end_null;
SELECT try($$SELECT jwt_revoke_session(NULL)$$) AS revoke_null;
SELECT try($$SELECT jwt_revoke_session(repeat('x', 5000))$$) AS revoke_huge;
SELECT try($$SELECT jwt_session_refresh(repeat('x', 10000000))$$) AS refresh_huge;
SELECT try($$SELECT jwt_consume(NULL)$$) AS consume_null;
SELECT try($$SELECT jwt_consume('a.b.c', leeway => '2 days')$$) AS consume_long_leeway;
SELECT try($$SELECT jwt_consume('a.b.c', leeway => '1 mon')$$) AS consume_month_leeway;

-- attack: a revoked session's access token presented with a long leeway
-- after the purge (its sid no longer listed)
SELECT access_token AS pa, refresh_token AS pr, session_id AS ps FROM jwt_session_start('{"sub":"pur"}', '1 s', '2 s') \gset
SELECT jwt_revoke_session(:'ps');
UPDATE jwt_revoked_sessions SET expires_at = now() - interval '2 days' WHERE sid = :'ps';
UPDATE jwt_sessions SET expires_at = now() - interval '2 days', access_expires_at = now() - interval '2 days', started_at = now() - interval '3 days' WHERE sid = :'ps';
SELECT jwt_purge_revocations() > 0 AS purged;
SELECT try(format('SELECT jwt_verify(%L, leeway => %L)', :'pa', '10 days')) AS verify_long_leeway_after_purge;
SELECT try(format('SELECT jwt_is_valid(%L, leeway => %L)', :'pa', '25 hours')) AS is_valid_long_leeway;
SELECT try(format('SELECT jwt_verify(%L, now => now() - interval ''3 days'')', :'pa')) AS verify_past_now;
-- the limit is a day, not less: a day of leeway is still allowed
SELECT try(format('SELECT jwt_verify(%L, leeway => %L)', :'pa', '1 day')) AS verify_one_day_leeway;
-- an explicit key without revocation checks is not limited
SELECT try(format('SELECT jwt_verify(%L, %L, leeway => %L)', jwt_sign('{"sub":"x"}', secret()), secret(), '10 days')) AS explicit_key_long_leeway;
SELECT try(format('SELECT 1 FROM jwt_session_refresh(%L)', :'pr')) AS refresh_after_purge;

-- attack: reuse detected while its revocation cannot be committed by a
-- worker (here: the caller's own transaction holds the family's row lock, so
-- the worker gives up after 5 s; no free max_worker_processes slot is the
-- same): the family must not stay refreshable, nor its access tokens valid
SELECT access_token AS wa, refresh_token AS wr1, session_id AS ws FROM jwt_session_start('{"sub":"walt"}') \gset
SELECT access_token AS wa2, refresh_token AS wr2 FROM jwt_session_refresh(:'wr1') \gset
SET client_min_messages = error;   -- the worker's WARNING names the random sid
BEGIN;
SELECT 1 AS rotated_in_open_transaction FROM jwt_session_refresh(:'wr2');
SELECT try(format('SELECT jwt_session_refresh(%L)', :'wr1')) AS reuse_while_worker_blocked;
ROLLBACK;
RESET client_min_messages;
SELECT count(*) AS pending_records FROM pg_ls_dir('pg_jwt_pending') AS f WHERE f LIKE (SELECT oid FROM pg_database WHERE datname = current_database()) || '.%' AND f NOT LIKE '%.tmp';
-- the thief's (or victim's) current refresh token: refused from now on
SELECT try(format('SELECT 1 FROM jwt_session_refresh(%L)', :'wr2')) AS current_token_after_unrecorded_reuse;
SELECT try(format('SELECT 1 FROM jwt_session_refresh(%L)', :'wr2')) AS current_token_again;
-- a refresh that applied the record and failed inside a subtransaction (of a
-- transaction that then commits) does not drop the record
SELECT refresh_token AS xr FROM jwt_session_start('{"sub":"xavier"}') \gset
BEGIN;
SELECT try(format('SELECT 1 FROM jwt_session_refresh(%L)', b64u(sha256('no such token')))) AS failed_in_subtransaction;
COMMIT;
SELECT count(*) AS still_pending FROM pg_ls_dir('pg_jwt_pending') AS f WHERE f LIKE (SELECT oid FROM pg_database WHERE datname = current_database()) || '.%' AND f NOT LIKE '%.tmp';
-- any other refresh that commits commits the family's end: its access tokens are refused
SELECT 1 AS other_refresh FROM jwt_session_refresh(:'xr');
SELECT count(*) AS pending_after_commit FROM pg_ls_dir('pg_jwt_pending') AS f WHERE f LIKE (SELECT oid FROM pg_database WHERE datname = current_database()) || '.%' AND f NOT LIKE '%.tmp';
SELECT authn(:'wa') AS first_access, authn(:'wa2') AS current_access;
SELECT ended_at IS NOT NULL AS ended, end_reason FROM jwt_sessions WHERE sid = :'ws';

DROP FUNCTION authn(text);
REVOKE ALL ON FUNCTION jwt_keyring_signer() FROM sa_app;
REVOKE ALL ON FUNCTION jwt_session_refresh(text), jwt_session_end(text) FROM sa_app;
DROP ROLE sa_app;
DROP OWNED BY sa_evil;
DROP ROLE sa_evil;
