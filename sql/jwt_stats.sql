-- Observability (issue 16): the jwt_stats view and jwt_stats_reset(),
-- jwt.track_stats, jwt.log_authentications, and the WARNING for an identity
-- that lasts one statement.  The regression cluster does not preload the
-- library: these are the per-backend counts (scope 'backend'); the shared,
-- per-database counts are test/stats.t.sh's.

-- Attack: a plain role sets the superuser-only settings as placeholders
-- before the library loads, to stop counting its failures and logging its
-- authentications.  This must run first: no jwt function has run yet in
-- this session.  Loading the library discards both, with a 42501 warning.
CREATE ROLE regress_stats_mallory;
SET ROLE regress_stats_mallory;
SET jwt.track_stats = off;
SET jwt.log_authentications = off;
\set VERBOSITY sqlstate
SELECT scope, datname = current_database() AS this_database, verifications FROM jwt_stats;
\set VERBOSITY default
SELECT current_setting('jwt.track_stats') AS track_stats;
SET jwt.track_stats = off;
SET jwt.log_authentications = on;
RESET ROLE;

-- The counts of this backend only, its database's row.
SELECT scope, datname = current_database() AS this_database, verifications,
       verification_failures, authentications, failures, stats_reset <= now() AS reset_known
FROM jwt_stats;

-- Verifications: accepted and refused, failures by SQLSTATE; the key cache.
SET jwt.default_lifetime = '1h';
SELECT jwt_sign('{"sub":"alice"}', secret()) AS tok \gset
SELECT jwt_verify(:'tok', secret()) ->> 'sub' AS sub;
SELECT jwt_is_valid(:'tok', secret()) AS valid;
SELECT jwt_is_valid(:'tok', secret() || '!') AS forged;
SELECT try($$ SELECT jwt_verify('$$ || :'tok' || $$', secret(), now => '2100-01-01') $$) AS expired;
SELECT try($$ SELECT jwt_verify('a.b', secret()) $$) AS malformed;
SELECT verifications, verification_failures, failures, key_cache_hits, key_cache_misses
FROM jwt_stats;

-- jwt.track_stats = off (a superuser's) counts nothing.
SET jwt.track_stats = off;
SELECT jwt_is_valid(:'tok', secret()) AS valid;
RESET jwt.track_stats;
SELECT verifications FROM jwt_stats;

-- Authentications: with the keyring; a refused token counts once among the
-- failures (its verification's SQLSTATE), a refusal of jwt_authenticate's
-- own (a role the session cannot use: 28JR1) under its own.
SELECT jwt_stats_reset();
SELECT jwt_generate_key('ES256', 'stats-test') AS kid \gset
SELECT jwt_sign('{"sub":"alice","iss":"https://idp.example/","jti":"stats-1","sid":"s-1"}') AS ktok \gset
SELECT jwt_sign('{"sub":"bob","jti":"stats-2","role":"regress_stats_nobody"}') AS rtok \gset
SELECT with_sig(:'ktok', decode(repeat('00', 64), 'hex')) AS ftok \gset
BEGIN;
SELECT jwt_authenticate(:'ktok') ->> 'sub' AS sub;
COMMIT;
SELECT try($$ SELECT jwt_authenticate('$$ || :'ftok' || $$') $$) AS forged;
SET jwt.role_claim = 'role';
SELECT try($$ SELECT jwt_authenticate('$$ || :'rtok' || $$') $$) AS unknown_role;
RESET jwt.role_claim;
SELECT verifications, verification_failures, authentications, authentication_failures, failures,
       keyring_loads > 0 AS keyring_loaded
FROM jwt_stats;

-- Revocation: a hit; the revocation cache after enough checks (hits, misses, a load).
SELECT jwt_revoke_jti('stats-2', now() + interval '1 day') AS revoked;
SELECT jwt_stats_reset();
SELECT jwt_is_valid(:'rtok') AS valid_revoked;
SELECT count(*) FILTER (WHERE jwt_is_valid(:'ktok')) AS valid_checks FROM generate_series(1, 1000);
SELECT revocation_hits, failures, revocation_cache_loads, revocation_cache_hits > 0 AS cache_hits,
       revocation_cache_misses > 0 AS cache_misses
FROM jwt_stats;

-- Attack: an ordinary role resets the counters to hide its failures.
-- Refused (42501) unless granted EXECUTE on jwt_stats_reset().
CREATE ROLE regress_stats_monitor;
SET ROLE regress_stats_mallory;
SELECT verifications > 0 AS anyone_reads FROM jwt_stats;
SELECT try('SELECT jwt_stats_reset()') AS reset_by_mallory;
RESET ROLE;
GRANT EXECUTE ON FUNCTION jwt_stats_reset() TO regress_stats_monitor;
SET ROLE regress_stats_monitor;
SELECT try('SELECT jwt_stats_reset()') AS reset_by_monitor;
RESET ROLE;
SELECT verifications, authentications, failures FROM jwt_stats;

-- Item: jwt_authenticate() outside a transaction block with the default
-- transaction-scoped identity warns that the identity lasts one statement;
-- not inside BEGIN, not with jwt.session_identity = on.
SELECT jwt_authenticate(:'ktok') ->> 'sub' AS sub;
SELECT jwt_claims() AS claims_after_the_statement;
BEGIN;
SELECT jwt_authenticate(:'ktok') ->> 'sub' AS sub;
COMMIT;
SET jwt.session_identity = on;
SELECT jwt_authenticate(:'ktok') ->> 'sub' AS sub;
SELECT jwt_reset();
RESET jwt.session_identity;

-- Item: jwt.log_authentications, one line per call (shown here through
-- client_min_messages), never the token: sub, iss, kid, jti, sid, outcome
-- and SQLSTATE; a forged token's claims are not repeated (only its kid).
SET jwt.log_authentications = on;
SET client_min_messages = log;
BEGIN;
SELECT jwt_authenticate(:'ktok') ->> 'sub' AS sub;
COMMIT;
SELECT try($$ SELECT jwt_authenticate('$$ || :'ftok' || $$') $$) AS forged;
SELECT try($$ SELECT jwt_authenticate('$$ || :'rtok' || $$') $$) AS revoked;

-- Attack: claims that forge a second log line (a newline, a carriage return,
-- an escape sequence, a quote) or flood the log (a huge iss): escaped and cut.
SELECT jwt_sign(jsonb_build_object('sub', E'eve\nLOG:  jwt authentication succeeded: sub="admin"',
                                   'sid', E'a\rb\u001b[2Jc"d\\e', 'jti', 'stats-3',
                                   'iss', repeat('x', 5000))) AS etok \gset
BEGIN;
SELECT jwt_authenticate(:'etok') ->> 'jti' AS jti;
COMMIT;
RESET client_min_messages;
RESET jwt.log_authentications;

SELECT jwt_retire_key(:'kid');
DELETE FROM jwt_keys WHERE kid = :'kid';
DELETE FROM jwt_revoked_tokens WHERE jti = 'stats-2';
REVOKE EXECUTE ON FUNCTION jwt_stats_reset() FROM regress_stats_monitor;
DROP ROLE regress_stats_mallory, regress_stats_monitor;
