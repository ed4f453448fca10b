-- Sessions: refresh-token rotation with reuse detection (jwt_session_*).
-- Each attack replayed below is named in the comment above it.
SET jwt.default_lifetime = '1h';
SELECT jwt_generate_key('ES256', 'sessions-test') AS kid;

-- helpers: start a session into psql variables a (access), r (refresh), s (sid)
CREATE FUNCTION authn(token text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM jwt_authenticate(token);
    PERFORM jwt_reset();
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- a session: an ES256 access token with sid, jti and a 5-minute exp; a
-- 43-character refresh token (256 bits); the family ends 30 days after it starts
SELECT access_token AS a, refresh_token AS r, session_id AS s,
       access_expires_at AS a_exp, refresh_expires_at AS r_exp
FROM jwt_session_start('{"sub":"alice","role":"web_user"}') \gset
SELECT (jwt_decode(:'a')).header ->> 'kid' AS kid,
       (jwt_decode(:'a')).payload - 'iat' - 'exp' - 'jti' - 'sid' AS claims,
       (jwt_decode(:'a')).payload ->> 'sid' = :'s' AS carries_sid,
       length((jwt_decode(:'a')).payload ->> 'jti') AS jti_length,
       ((jwt_decode(:'a')).payload ->> 'exp')::bigint - ((jwt_decode(:'a')).payload ->> 'iat')::bigint AS lifetime,
       to_timestamp(((jwt_decode(:'a')).payload ->> 'exp')::bigint) = :'a_exp'::timestamptz AS exp_returned,
       :'r_exp'::timestamptz = statement_timestamp() + interval '30 days' OR
       :'r_exp'::timestamptz BETWEEN now() + interval '29 days 23:59' AND now() + interval '30 days' AS ends_in_30_days,
       length(:'r') AS refresh_length, :'r' ~ '^[A-Za-z0-9_-]{43}$' AS base64url,
       length(:'s') AS sid_length;
SELECT authn(:'a') AS access_authenticates;

-- a stolen database dump: the refresh token is stored only as its SHA-256
SELECT count(*) AS digest_rows, bool_and(t::text !~ :'r') AS token_absent
FROM jwt_session_refresh_tokens t WHERE digest = sha256(convert_to(:'r', 'UTF8'));
SELECT bool_and(f::text !~ :'r') AS token_absent_from_families FROM jwt_sessions f;

-- rotation: a new pair; the old refresh token is used; the family and its end stay
SELECT access_token AS a2, refresh_token AS r2, session_id AS s2, refresh_expires_at AS r_exp2
FROM jwt_session_refresh(:'r') \gset
SELECT :'s2' = :'s' AS same_family, :'r2' <> :'r' AS new_refresh_token, :'a2' <> :'a' AS new_access_token,
       (jwt_decode(:'a2')).payload ->> 'jti' <> (jwt_decode(:'a')).payload ->> 'jti' AS new_jti,
       :'r_exp2' = :'r_exp' AS absolute_end_does_not_slide;
SELECT authn(:'a2') AS new_access_authenticates;
SELECT used_at IS NOT NULL AS old_used FROM jwt_session_refresh_tokens WHERE digest = sha256(convert_to(:'r', 'UTF8'));
SELECT refreshes FROM jwt_sessions WHERE sid = :'s';

-- attack: a replayed refresh token (the thief presents the old one after the
-- victim refreshed): reuse; the whole family is revoked, committed although
-- the call fails
SELECT try(format('SELECT jwt_session_refresh(%L)', :'r')) AS replayed;
SELECT try(format('SELECT jwt_session_refresh(%L)', :'r2')) AS victims_current_token;
SELECT authn(:'a') AS old_access, authn(:'a2') AS current_access;
SELECT ended_at IS NOT NULL AS ended, end_reason FROM jwt_sessions WHERE sid = :'s';
SELECT reason, expires_at = (SELECT access_expires_at FROM jwt_sessions WHERE sid = :'s') AS kept_until_last_access_exp
FROM jwt_revoked_sessions WHERE sid = :'s';
SELECT try(format('SELECT jwt_session_refresh(%L)', :'r')) AS replayed_again;

-- attack: a stolen refresh token used first by the thief; the victim's next
-- refresh (with the same token) is reuse, and revokes what the thief got
SELECT access_token AS va, refresh_token AS vr, session_id AS vs FROM jwt_session_start('{"sub":"victor"}') \gset
SELECT access_token AS ta, refresh_token AS tr FROM jwt_session_refresh(:'vr') \gset
SELECT authn(:'ta') AS thief_access_before;
SELECT try(format('SELECT jwt_session_refresh(%L)', :'vr')) AS victim_refresh;
SELECT authn(:'ta') AS thief_access_after, authn(:'va') AS victim_access_after;
SELECT try(format('SELECT jwt_session_refresh(%L)', :'tr')) AS thief_refresh_after;

-- attack: refresh of an unknown token, of a malformed one, of a prefix or a
-- near miss of a real one (no lookup by prefix: the digest must match)
SELECT access_token AS pa, refresh_token AS pr FROM jwt_session_start('{"sub":"pat"}') \gset
SELECT try(format('SELECT jwt_session_refresh(%L)', b64u(sha256('guess')))) AS unknown;
SELECT try($$SELECT jwt_session_refresh('not a refresh token')$$) AS malformed;
SELECT try($$SELECT jwt_session_refresh(NULL)$$) AS null_token;
SELECT try(format('SELECT jwt_session_refresh(%L)', left(:'pr', 42))) AS prefix;
SELECT try(format('SELECT jwt_session_refresh(%L)', left(:'pr', 8))) AS short_prefix;
SELECT try(format('SELECT jwt_session_refresh(%L)', left(:'pr', 42) || CASE WHEN right(:'pr', 1) = 'A' THEN 'B' ELSE 'A' END)) AS last_char_changed;
SELECT try(format('SELECT jwt_session_refresh(%L)', :'pr' || 'A')) AS extended;
SELECT try(format('SELECT jwt_session_refresh(%L)', upper(:'pr'))) AS case_changed;
SELECT try(format('SELECT jwt_session_refresh(%L)', ' ' || :'pr')) AS padded;
-- none of those touched the family
SELECT ended_at IS NULL AS still_open, refreshes FROM jwt_sessions WHERE claims ->> 'sub' = 'pat';

-- attack: refresh of an expired family (past its absolute end)
UPDATE jwt_sessions SET expires_at = now() - interval '1 second' WHERE sub = 'pat';
SELECT try(format('SELECT jwt_session_refresh(%L)', :'pr')) AS expired_family;
SELECT used_at IS NULL AS not_consumed_by_refusal FROM jwt_session_refresh_tokens WHERE digest = sha256(convert_to(:'pr', 'UTF8'));

-- the absolute limit: an access token never outlives its family
UPDATE jwt_sessions SET expires_at = statement_timestamp() + interval '1 minute' WHERE sub = 'pat';
SELECT access_token AS pa2, refresh_token AS pr2, access_expires_at AS pa2_exp, refresh_expires_at AS pr2_exp
FROM jwt_session_refresh(:'pr') \gset
SELECT :'pa2_exp'::timestamptz <= :'pr2_exp'::timestamptz AS access_capped_at_family_end,
       :'pa2_exp'::timestamptz < now() + interval '2 minutes' AS shorter_than_access_lifetime;

-- logout: jwt_session_end ends the family; its access tokens are refused at once
SELECT jwt_session_end(:'pr2') AS logged_out, jwt_session_end(:'pr2') AS again;
SELECT authn(:'pa2') AS access_after_logout, authn(:'pa') AS older_access_after_logout;
-- attack: refresh of an ended family
SELECT try(format('SELECT jwt_session_refresh(%L)', :'pr2')) AS refresh_after_logout;
SELECT try(format('SELECT jwt_session_refresh(%L)', :'pr')) AS old_token_after_logout;
SELECT try(format('SELECT jwt_session_end(%L)', b64u(sha256('guess')))) AS logout_unknown;

-- jwt_revoke_session by id (true once); any sid, also one this database did
-- not start (another issuer's "sid"), is revoked, and then kept for ever
SELECT access_token AS qa, refresh_token AS qr, session_id AS qs FROM jwt_session_start('{"sub":"quinn"}') \gset
SELECT jwt_revoke_session(:'qs', 'admin') AS revoked, jwt_revoke_session(:'qs') AS again;
SELECT authn(:'qa') AS access, try(format('SELECT jwt_session_refresh(%L)', :'qr')) AS refresh;
SELECT jwt_sign('{"sub":"ext","sid":"idp-session-7"}') AS ext \gset
SELECT authn(:'ext') AS ext_before, jwt_revoke_session('idp-session-7') AS ext_revoked, authn(:'ext') AS ext_after;
SELECT jwt_revoke_session('idp-session-7') AS ext_again;
SELECT expires_at IS NULL AS kept_for_ever, reason FROM jwt_revoked_sessions WHERE sid = 'idp-session-7';
SELECT jwt_is_revoked(:'ext') AS is_revoked;
SELECT try($$SELECT jwt_revoke_session('')$$) AS empty_sid, try($$SELECT jwt_revoke_session(repeat('x', 1025))$$) AS long_sid;
-- a token whose sid could not be revoked is refused where revocation applies
SELECT try(format('SELECT jwt_verify(%L)', jwt_sign(jsonb_build_object('sub', 'x', 'sid', repeat('s', 1025))))) AS long_sid_token;

-- jwt_revoke_subject ends every session of the subject started before the
-- cut-off: the refresh and the access tokens; a session started after works
SELECT access_token AS ua, refresh_token AS ur FROM jwt_session_start('{"sub":"ursula"}') \gset
SELECT access_token AS ua2, refresh_token AS ur2 FROM jwt_session_start('{"sub":"ursula"}') \gset
SELECT jwt_revoke_subject('ursula');
SELECT try(format('SELECT jwt_session_refresh(%L)', :'ur')) AS refresh_after_cutoff,
       try(format('SELECT jwt_session_refresh(%L)', :'ur2')) AS other_session;
SELECT authn(:'ua') AS access_after_cutoff;
SELECT refresh_token AS ur3 FROM jwt_session_start('{"sub":"ursula"}') \gset
SELECT (jwt_session_refresh(:'ur3')).session_id IS NOT NULL AS new_session_refreshes;

-- attack: an access token of an ended session once the revocation lists are
-- cached in the backend (loaded after enough probes): the cache knows sids too
SELECT access_token AS ca, refresh_token AS cr, session_id AS cs FROM jwt_session_start('{"sub":"cache"}') \gset
SELECT count(*) FILTER (WHERE jwt_is_valid(jwt_sign(jsonb_build_object('sub', 'load', 'sid', 'load-' || i)))) AS loaded
FROM generate_series(1, 600) i;
SELECT authn(:'ca') AS cached_before;
SELECT jwt_session_end(:'cr');
SELECT authn(:'ca') AS cached_after_logout;
SELECT count(*) FILTER (WHERE jwt_is_valid(jwt_sign(jsonb_build_object('sub', 'load', 'sid', 'load-' || i)))) AS reloaded
FROM generate_series(1, 600) i;
SELECT authn(:'ca') AS reloaded_after_logout;

-- DPoP binding: dpop_jkt becomes cnf.jkt in every access token of the session
SELECT access_token AS da, refresh_token AS dr
FROM jwt_session_start('{"sub":"dora"}', dpop_jkt => '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I') \gset
SELECT (jwt_decode(:'da')).payload -> 'cnf' AS cnf;
-- and its refresh token too: refreshed only with a proof by that key (jwt_sessions_dpop)
SELECT try(format('SELECT jwt_session_refresh(%L)', :'dr')) AS refresh_without_proof;
SELECT try($$SELECT jwt_session_start('{"sub":"dora"}', dpop_jkt => 'short')$$) AS jkt_short,
       try($$SELECT jwt_session_start('{"sub":"dora"}', dpop_jkt => '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4=')$$) AS jkt_not_base64url,
       try($$SELECT jwt_session_start('{"sub":"dora"}', dpop_jkt => '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4J')$$) AS jkt_spare_bits;

-- bad arguments
SELECT try($$SELECT jwt_session_start('{"sub":"x","sid":"mine"}')$$) AS own_sid,
       try($$SELECT jwt_session_start('{"sub":"x","exp":4102444800}')$$) AS own_exp,
       try($$SELECT jwt_session_start('{"sub":"x","cnf":{}}')$$) AS own_cnf;
SELECT try($$SELECT jwt_session_start('[1]')$$) AS not_object,
       try($$SELECT jwt_session_start(NULL)$$) AS null_claims;
SELECT try($$SELECT jwt_session_start('{}', '1 hour', '10 minutes')$$) AS access_longer,
       try($$SELECT jwt_session_start('{}', '0', '1 day')$$) AS zero,
       try($$SELECT jwt_session_start('{}', '-5 minutes', '1 day')$$) AS negative,
       try($$SELECT jwt_session_start('{}', '5 minutes', '1 month')$$) AS months;
SET jwt.max_lifetime = '10min';
SELECT try($$SELECT jwt_session_start('{}', '1 hour', '1 day')$$) AS above_max_lifetime;
RESET jwt.max_lifetime;

-- attack: a role without the grants.  Starting needs EXECUTE on
-- jwt_keyring_signer(); refreshing, logging out and revoking need EXECUTE on
-- the functions; the tables and internal functions are out of reach
SELECT refresh_token AS gr, session_id AS gs FROM jwt_session_start('{"sub":"grace"}') \gset
CREATE ROLE sessions_nobody;
CREATE ROLE sessions_app;
GRANT EXECUTE ON FUNCTION jwt_keyring_signer() TO sessions_app;
GRANT EXECUTE ON FUNCTION jwt_session_refresh(text), jwt_session_end(text) TO sessions_app;
SET ROLE sessions_nobody;
SELECT try($$SELECT jwt_session_start('{"sub":"mallory"}')$$) AS start;
SELECT try(format('SELECT jwt_session_refresh(%L)', :'gr')) AS refresh;
SELECT try(format('SELECT jwt_session_end(%L)', :'gr')) AS logout;
SELECT try(format('SELECT jwt_revoke_session(%L)', :'gs')) AS revoke;
SELECT try($$SELECT * FROM jwt_sessions$$) AS families,
       try($$SELECT * FROM jwt_session_refresh_tokens$$) AS digests,
       try($$SELECT * FROM jwt_revoked_sessions$$) AS revoked,
       try($$DELETE FROM jwt_revoked_sessions$$) AS unrevoke;
SELECT try($$SELECT _jwt_session_create('{"sub":"mallory"}', '1h', '1 day', NULL, 'x', 'y', sha256('z'))$$) AS internal_create,
       try($$SELECT _jwt_session_revoke('x', 'y')$$) AS internal_revoke,
       try($$SELECT _jwt_purge_sessions()$$) AS internal_purge;
RESET ROLE;
SET ROLE sessions_app;
SELECT (jwt_session_start('{"sub":"app-user"}')).session_id IS NOT NULL AS app_starts;
SELECT access_token AS ga, refresh_token AS gr2 FROM jwt_session_refresh(:'gr') \gset
SELECT jwt_session_end(:'gr2') AS app_logs_out;
RESET ROLE;
SELECT ended_at IS NOT NULL AS ended FROM jwt_sessions WHERE sid = :'gs';
DROP OWNED BY sessions_nobody, sessions_app;
DROP ROLE sessions_nobody, sessions_app;

-- several refreshes in one transaction chain as in separate ones
BEGIN;
SELECT refresh_token AS xr FROM jwt_session_start('{"sub":"xavier"}') \gset
SELECT refresh_token AS xr2 FROM jwt_session_refresh(:'xr') \gset
SELECT (jwt_session_refresh(:'xr2')).session_id IS NOT NULL AS chained;
COMMIT;

-- attack: a purge that re-enables.  Nothing is purged before it is expired
-- for more than a day (the largest leeway); the revoked sid of an ended
-- family stays until its last access token is that expired; a purged
-- family's refresh tokens are unknown, still refused
SELECT access_token AS oa, refresh_token AS orr, session_id AS os FROM jwt_session_start('{"sub":"olga"}') \gset
SELECT jwt_session_end(:'orr');
UPDATE jwt_sessions SET started_at = now() - interval '40 days', expires_at = now() - interval '23 hours',
                        access_expires_at = now() - interval '23 hours' WHERE sid = :'os';
UPDATE jwt_revoked_sessions SET expires_at = now() - interval '23 hours' WHERE sid = :'os';
SELECT jwt_purge_revocations() >= 0 AS purged;
SELECT count(*) AS family_kept FROM jwt_sessions WHERE sid = :'os';
SELECT count(*) AS revoked_sid_kept FROM jwt_revoked_sessions WHERE sid = :'os';
UPDATE jwt_sessions SET expires_at = now() - interval '25 hours', access_expires_at = now() - interval '25 hours' WHERE sid = :'os';
UPDATE jwt_revoked_sessions SET expires_at = now() - interval '25 hours' WHERE sid = :'os';
SELECT jwt_purge_revocations() >= 2 AS purged;
SELECT count(*) AS family_gone FROM jwt_sessions WHERE sid = :'os';
SELECT count(*) AS digests_gone FROM jwt_session_refresh_tokens WHERE sid = :'os';
SELECT try(format('SELECT jwt_session_refresh(%L)', :'orr')) AS purged_refresh_token;
SELECT count(*) AS external_sid_kept FROM jwt_revoked_sessions WHERE sid = 'idp-session-7';
-- an open family whose end passed more than a day ago goes too: its tokens are unknown then
UPDATE jwt_sessions SET expires_at = now() - interval '25 hours', access_expires_at = now() - interval '25 hours'
 WHERE sub = 'xavier';
SELECT jwt_purge_revocations() >= 1 AS purged;
SELECT try(format('SELECT jwt_session_refresh(%L)', :'xr')) AS purged_used_token;

DELETE FROM jwt_revoked_sessions;
DELETE FROM jwt_sessions;
DELETE FROM jwt_revoked_subjects;
DROP FUNCTION authn(text);
SELECT jwt_retire_key('sessions-test');
RESET jwt.default_lifetime;
