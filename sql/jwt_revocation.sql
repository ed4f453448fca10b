-- Revocation by token id and by subject.
SET jwt.default_lifetime = '1h';
SELECT jwt_generate_key('ES256', 'revocation-test') AS kid;
SELECT jwt_sign('{"sub":"alice"}') AS t1 \gset
SELECT jwt_sign('{"sub":"alice"}') AS t2 \gset
SELECT jwt_sign('{"sub":"bob"}') AS tb \gset
SELECT jwt_sign('{"sub":"carol","jti":"carol-1"}') AS tc \gset

-- jwt_sign gives every token a random 128-bit jti, unless the claims have one
SELECT length((jwt_decode(:'t1')).payload ->> 'jti') AS jti_length,
       (jwt_decode(:'t1')).payload ->> 'jti' <> (jwt_decode(:'t2')).payload ->> 'jti' AS distinct_jtis,
       (jwt_decode(:'tc')).payload ->> 'jti' AS given_jti;
SET jwt.add_jti = off;
SELECT (jwt_decode(jwt_sign('{"sub":"x"}'))).payload ? 'jti' AS jti_when_off;
RESET jwt.add_jti;

-- revoke one token: it stops verifying with the keyring; its sibling does not
SELECT jwt_is_revoked(:'t1') AS before;
SELECT jwt_revoke(:'t1', 'stolen laptop') AS revoked;
SELECT jwt_revoke(:'t1') AS revoked_again;
SELECT jwt_is_revoked(:'t1') AS after, jwt_is_revoked(:'t2') AS sibling;
SELECT try(format('SELECT jwt_verify(%L)', :'t1')) AS keyring_verify;
SELECT valid(:'t1', NULL) AS keyring_is_valid;
SELECT jwt_verify(:'t2') ->> 'sub' AS sibling_verifies;
SELECT try(format('SELECT jwt_authenticate(%L)', :'t1')) AS authenticate;
SELECT jti = (jwt_decode(:'t1')).payload ->> 'jti' AS jti_stored, sub, reason,
       expires_at = to_timestamp(((jwt_decode(:'t1')).payload ->> 'exp')::numeric) AS expiry_recorded
FROM jwt_revoked_tokens;

-- an explicit key consults revocation only when asked; the keyring always
SELECT jwt_sign('{"sub":"dave","jti":"dave-1","exp":1893459600}', secret()) AS td \gset
SELECT jwt_revoke_jti('dave-1', '2030-01-01 01:00+00');
SELECT jwt_verify(:'td', secret(), now => '2030-01-01 00:00+00') ->> 'sub' AS explicit_key_default;
SELECT try(format('SELECT jwt_verify(%L, %L, now => %L, check_revoked => true)', :'td', secret(), '2030-01-01 00:00+00')) AS explicit_key_checked;
SELECT try(format('SELECT jwt_verify(%L, check_revoked => false)', :'t1')) AS keyring_unchecked;
SELECT jwt_is_valid(:'td', secret(), now => '2030-01-01 00:00+00', check_revoked => true) AS is_valid_checked;

-- subject cut-off: every token of the subject issued before the time
SELECT jwt_sign('{"sub":"bob","iat":1893456000,"exp":1893459600}') AS tb_later \gset
SELECT jwt_revoke_subject('bob', '2029-01-01 00:00+00', 'password changed');
SELECT try(format('SELECT jwt_verify(%L)', :'tb')) AS cutoff_in_the_future_covers_now;
SELECT jwt_revoke_subject('bob');
SELECT try(format('SELECT jwt_verify(%L)', :'tb')) AS issued_before_cutoff;
SELECT jwt_verify(:'tb_later', now => '2030-01-01 00:00+00') ->> 'sub' AS issued_after_cutoff;
SELECT jwt_revoke_subject('bob', '2020-01-01 00:00+00');
SELECT revoked_before > '2020-01-01' AS cutoff_never_moves_back FROM jwt_revoked_subjects WHERE sub = 'bob';
SET jwt.default_lifetime = 0;
SELECT try(format('SELECT jwt_verify(%L, %L, check_revoked => true, now => %L)', jwt_sign('{"sub":"bob","exp":1893459600}', secret()), secret(), '2030-01-01 00:00+00')) AS no_iat_is_revoked;
RESET jwt.default_lifetime;
SELECT jwt_is_revoked(jws_sign(convert_to('{"sub":"bob","exp":1893459600}', 'UTF8'), secret())) AS no_iat_counts_as_before;
SELECT jwt_is_revoked(:'tc') AS other_subject;

-- bad input
SELECT try($$SELECT jwt_revoke(jws_sign(convert_to('{"sub":"x"}', 'UTF8'), secret()))$$) AS no_jti;
SELECT try($$SELECT jwt_revoke('not a token')$$) AS not_a_token;
SELECT try($$SELECT jwt_revoke_jti('', now())$$) AS empty_jti;
SELECT try($$SELECT jwt_revoke_subject(NULL)$$) AS null_subject;
SELECT try($$SELECT jwt_is_revoked('a.b')$$) AS malformed;

-- purge: ids of tokens expired for more than a day (the largest jwt.leeway);
-- subject cut-offs stay, whatever jwt.max_lifetime says (tokens without iat)
SELECT jwt_revoke_jti('old-1', now() - interval '2 days');
SELECT jwt_revoke_jti('old-2', now() - interval '1 minute');
SELECT jwt_revoke_jti('no-expiry', NULL);
SELECT jwt_purge_revocations() AS purged;
SELECT jti FROM jwt_revoked_tokens WHERE jti IN ('old-1', 'old-2', 'no-expiry') ORDER BY jti;
SET jwt.max_lifetime = '1d';
SET jwt.leeway = '30s';
SELECT jwt_revoke_subject('eve', now() - interval '3 days');
SELECT jwt_purge_revocations() AS purged_with_max_lifetime;
SELECT sub FROM jwt_revoked_subjects ORDER BY sub;
RESET jwt.max_lifetime;
RESET jwt.leeway;

-- lookups go through hash indexes on the keys (0.2.0), among many entries
SELECT indexrelid::regclass AS index, amname
FROM pg_index JOIN pg_class c ON c.oid = indexrelid JOIN pg_am am ON am.oid = c.relam
WHERE indrelid IN ('jwt_revoked_tokens'::regclass, 'jwt_revoked_subjects'::regclass)
ORDER BY indexrelid::regclass::text;
INSERT INTO jwt_revoked_tokens (jti, expires_at) SELECT 'bulk-' || i, '2100-01-01' FROM generate_series(1, 20000) i;
INSERT INTO jwt_revoked_subjects (sub, revoked_before) SELECT 'bulk-' || i, '2100-01-01' FROM generate_series(1, 5000) i;
SELECT jwt_sign('{"sub":"erin","jti":"bulk-777"}') AS te \gset
SELECT jwt_sign('{"sub":"bulk-4321"}') AS tf \gset
SELECT jwt_sign('{"sub":"frank","jti":"bulk-20001"}') AS tg \gset
SELECT try(format('SELECT jwt_verify(%L)', :'te')) AS revoked_id_among_many,
       try(format('SELECT jwt_verify(%L)', :'tf')) AS cutoff_among_many,
       jwt_verify(:'tg') ->> 'sub' AS not_revoked_among_many;
-- a key that differs only in case or by a trailing byte is another key
SELECT jwt_is_revoked(jwt_sign('{"sub":"g","jti":"BULK-777"}')) AS other_case,
       jwt_is_revoked(jwt_sign('{"sub":"g","jti":"bulk-777 "}')) AS trailing_space;
DELETE FROM jwt_revoked_tokens WHERE jti LIKE 'bulk-%';
DELETE FROM jwt_revoked_subjects WHERE sub LIKE 'bulk-%';
SELECT jwt_verify(:'te') ->> 'sub' AS deleted_entry_no_longer_counts;

-- only granted roles revoke; anyone can ask whether a token is revoked
CREATE ROLE regress_jwt_plain;
SET ROLE regress_jwt_plain;
SELECT try(format('SELECT jwt_revoke(%L)', :'t2')) AS revoke;
SELECT try($$SELECT jwt_revoke_jti('x', now())$$) AS revoke_jti;
SELECT try($$SELECT jwt_revoke_subject('alice')$$) AS revoke_subject;
SELECT try($$SELECT jwt_purge_revocations()$$) AS purge;
SELECT try('SELECT * FROM jwt_revoked_tokens') AS read_tokens;
SELECT try($$INSERT INTO jwt_revoked_subjects VALUES ('x', now())$$) AS write_subjects;
SELECT jwt_is_revoked(:'t1') AS is_revoked_public;
RESET ROLE;
DROP ROLE regress_jwt_plain;
SELECT jwt_retire_key('revocation-test');

-- An empty revocation list is not probed. A backend that found it empty
-- learns of a revocation at its next statement (the change trigger's
-- invalidation at commit), even inside an open transaction, and also of rows
-- written in replica mode (logical replication's apply): the trigger fires always.
SELECT tgname, tgenabled FROM pg_trigger
WHERE tgrelid IN ('jwt_revoked_tokens'::regclass, 'jwt_revoked_subjects'::regclass) AND NOT tgisinternal
ORDER BY tgname;
SELECT jwt_generate_key('HS256', 'revocation-test-2') AS kid;
DELETE FROM jwt_revoked_tokens;
DELETE FROM jwt_revoked_subjects;
SELECT jwt_sign('{"sub":"henry"}') AS th \gset
CREATE EXTENSION dblink;
SELECT dblink_connect('other', format('dbname=%s host=%s port=%s', current_database(),
       split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port')));
SELECT * FROM dblink('other', format('SELECT jwt_verify(%L) ->> ''sub''', :'th')) AS t(sub text);
SELECT jwt_revoke(:'th');
SELECT * FROM dblink('other', format('SELECT try(format(''SELECT jwt_verify(%%L)'', %L))', :'th')) AS t(outcome text);
DELETE FROM jwt_revoked_tokens;
SELECT dblink_exec('other', 'BEGIN ISOLATION LEVEL REPEATABLE READ');
SELECT * FROM dblink('other', format('SELECT jwt_verify(%L) ->> ''sub''', :'th')) AS t(sub text);
SELECT jwt_revoke_subject('henry');
SELECT * FROM dblink('other', format('SELECT try(format(''SELECT jwt_verify(%%L)'', %L))', :'th')) AS t(outcome text);
SELECT dblink_exec('other', 'COMMIT');
DELETE FROM jwt_revoked_subjects;
SELECT * FROM dblink('other', format('SELECT jwt_verify(%L) ->> ''sub''', :'th')) AS t(sub text);
SET session_replication_role = replica;
INSERT INTO jwt_revoked_tokens (jti) VALUES ((jwt_decode(:'th')).payload ->> 'jti');
RESET session_replication_role;
SELECT * FROM dblink('other', format('SELECT try(format(''SELECT jwt_verify(%%L)'', %L))', :'th')) AS t(outcome text);
-- with the trigger disabled nothing announces changes, so every verification probes
DELETE FROM jwt_revoked_tokens;
ALTER TABLE jwt_revoked_tokens DISABLE TRIGGER jwt_revoked_tokens_changed;
SELECT * FROM dblink('other', format('SELECT jwt_verify(%L) ->> ''sub''', :'th')) AS t(sub text);
INSERT INTO jwt_revoked_tokens (jti) VALUES ((jwt_decode(:'th')).payload ->> 'jti');
SELECT * FROM dblink('other', format('SELECT try(format(''SELECT jwt_verify(%%L)'', %L))', :'th')) AS t(outcome text);
ALTER TABLE jwt_revoked_tokens ENABLE ALWAYS TRIGGER jwt_revoked_tokens_changed;
DELETE FROM jwt_revoked_tokens;

-- The revocation cache: a backend that has checked many tokens since the
-- lists last changed keeps them in memory (a Bloom filter of the ids, the
-- subjects' latest cut-offs by hash) and probes only on a "maybe". Any change
-- drops it (the change trigger's invalidation), in this session or another.
-- (Autovacuum is kept off the tables here: its VACUUM also drops the cache,
-- which would move the DEBUG lines that show it loading.)
ALTER TABLE jwt_revoked_tokens SET (autovacuum_enabled = off);
ALTER TABLE jwt_revoked_subjects SET (autovacuum_enabled = off);
INSERT INTO jwt_revoked_tokens (jti) SELECT 'revoked-' || i FROM generate_series(1, 500) i;
INSERT INTO jwt_revoked_subjects (sub, revoked_before)
SELECT 'cut-' || i, '2020-01-01 00:00+00' FROM generate_series(1, 100) i;
-- a cut-off before 1970 still revokes a token without iat
INSERT INTO jwt_revoked_subjects VALUES ('cut-1969', '1969-12-31 23:00+00');
ANALYZE jwt_revoked_tokens, jwt_revoked_subjects;
SELECT jwt_sign('{"sub":"kate","jti":"kate-1"}') AS tk,
       jwt_sign('{"sub":"leo","jti":"revoked-7"}') AS tr,
       jwt_sign('{"sub":"cut-3","jti":"m-1"}') AS tc,
       jwt_sign('{"sub":"cut-4","jti":"m-2","iat":1500000000}') AS told \gset
SET jwt.default_lifetime = 0;
SELECT jwt_sign('{"sub":"cut-1969","jti":"m-3","exp":4102444800}') AS t1969 \gset
RESET jwt.default_lifetime;
-- a parallel query reads with the statement's snapshot, which may predate
-- invalidations already taken in: it does not load the cache
-- (force_parallel_mode is called debug_parallel_query from PostgreSQL 16 on)
SELECT CASE WHEN current_setting('server_version_num')::int >= 160000
    THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END AS force_parallel \gset
SET :force_parallel = on;
SET parallel_setup_cost = 0;
SET client_min_messages = debug1;
SELECT count(*) FILTER (WHERE jwt_is_valid(:'tk')) AS valid_checks_in_worker FROM generate_series(1, 2000);
RESET client_min_messages;
RESET :force_parallel;
RESET parallel_setup_cost;
SET client_min_messages = debug1;
SELECT count(*) FILTER (WHERE jwt_is_valid(:'tk')) AS valid_checks FROM generate_series(1, 2000);
RESET client_min_messages;
SELECT jwt_is_valid(:'tk') AS not_revoked, jwt_is_valid(:'tr') AS revoked_id,
       jwt_is_valid(:'tc') AS issued_after_cutoff, jwt_is_valid(:'told') AS issued_before_cutoff,
       jwt_is_valid(:'t1969') AS no_iat_cutoff_1969;
SELECT * FROM dblink('other', format('SELECT jwt_revoke(%L) IS NOT NULL', :'tk')) AS t(revoked boolean);
SELECT jwt_is_valid(:'tk') AS revoked_by_another_session;
SELECT dblink_exec('other', 'DELETE FROM jwt_revoked_tokens WHERE jti = ''kate-1''');
SET client_min_messages = debug1;
SELECT count(*) FILTER (WHERE jwt_is_valid(:'tk')) AS valid_again FROM generate_series(1, 2000);
RESET client_min_messages;
SELECT dblink_exec('other', 'INSERT INTO jwt_revoked_subjects VALUES (''kate'', now() + interval ''1 minute'')');
SELECT jwt_is_valid(:'tk') AS subject_revoked_by_another_session;
SELECT dblink_exec('other', 'DELETE FROM jwt_revoked_subjects WHERE sub = ''kate''');
SELECT count(*) FILTER (WHERE jwt_is_valid(:'tk')) AS valid_again FROM generate_series(1, 2000);
BEGIN;
SELECT jwt_revoke(:'tk') IS NOT NULL AS revoked_in_open_transaction;
SELECT jwt_is_valid(:'tk') AS seen_in_same_transaction;
ROLLBACK;
SELECT jwt_is_valid(:'tk') AS valid_after_rollback;
SET jwt.revocation_cache = off;
SELECT jwt_is_valid(:'tk') AS uncached_not_revoked, jwt_is_valid(:'tr') AS uncached_revoked_id;
RESET jwt.revocation_cache;
DELETE FROM jwt_revoked_tokens;
DELETE FROM jwt_revoked_subjects;
ALTER TABLE jwt_revoked_tokens RESET (autovacuum_enabled);
ALTER TABLE jwt_revoked_subjects RESET (autovacuum_enabled);
SELECT dblink_disconnect('other');
DROP EXTENSION dblink;
SELECT jwt_retire_key('revocation-test-2');

-- in parallel mode (here forced: the calls run in a parallel worker; a
-- plpgsql helper would keep them in the leader), the keyring and the
-- revocation lists are read with the statement's snapshot
SELECT jwt_generate_key('HS256', 'parallel-test') AS kid;
SELECT jwt_sign('{"sub":"ivy","jti":"ivy-1"}') AS ti \gset
SET :force_parallel = on;
SET parallel_setup_cost = 0;
SELECT jwt_verify(:'ti') ->> 'sub' AS keyring_in_worker,
       jwt_is_valid(:'ti', NULL::text, check_revoked => true) AS is_valid_in_worker,
       jwt_is_revoked(:'ti') AS is_revoked_in_worker,
       (jwt_decode(jwt_sign('{"sub":"ivy"}'))).header ->> 'kid' AS signs_in_worker;
RESET :force_parallel;
SELECT jwt_revoke(:'ti');
SET :force_parallel = on;
SELECT jwt_is_valid(:'ti', NULL::text, check_revoked => true) AS is_valid_in_worker,
       jwt_is_revoked(:'ti') AS is_revoked_in_worker;
RESET :force_parallel;
RESET parallel_setup_cost;
DELETE FROM jwt_revoked_tokens;
SELECT jwt_retire_key('parallel-test');
