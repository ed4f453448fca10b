-- bench/identity.sql: tables, keys and timing functions for bench/identity.sh (the keyring,
-- revocation, RLS, memory and concurrency figures), in their own database of a throwaway
-- cluster.  Loads bench/bench.sql first for backend_cpu().
--
-- psql variables: hs_rows, es_rows (tokens per table).
--
-- tok_hs(id, tok), tok_es(id, tok)  distinct tokens signed with the keyring keys bench-hs
--                                   (HS256) and bench-es (ES256); every one has its own
--                                   jti (jwt_sign adds one), sub user<id % 1000>, exp 2100
-- rls_docs(id, owner, body)         made by bench_rls_table(n): owner user<id % 1000>; RLS
--                                   enabled with one policy per reading role (see below); no index
-- roles  bench_claim  sees rls_docs through the policy owner = jwt_claim('sub')
--        bench_lit    sees rls_docs through the policy owner = 'user7'
--        bench_sub    sees rls_docs through the policy owner = (SELECT jwt_claim('sub'))
--        bench_app    LOGIN, for pgbench (docs / docs_plain, made by identity.sh)
--
-- Pitfalls avoided (see PERF-NOTES): distinct tokens per row, so nothing can be
-- folded; jit off (set by the caller); the bare scan is measured beside each set.

\set ON_ERROR_STOP 1
\ir bench.sql

SELECT jwt_generate_key('HS256', 'bench-hs'), jwt_generate_key('ES256', 'bench-es');

CREATE TABLE tok_hs (id int PRIMARY KEY, tok text NOT NULL);
CREATE TABLE tok_es (id int PRIMARY KEY, tok text NOT NULL);
INSERT INTO tok_hs
SELECT i, jwt_sign(jsonb_build_object('sub', 'user' || (i % 1000), 'exp', 4102444800, 'n', i),
                   header => '{"kid": "bench-hs"}')
FROM generate_series(1, :hs_rows) i;
INSERT INTO tok_es
SELECT i, jwt_sign(jsonb_build_object('sub', 'user' || (i % 1000), 'exp', 4102444800, 'n', i),
                   header => '{"kid": "bench-es"}')
FROM generate_series(1, :es_rows) i;

-- The keyring's material, read as superuser, for the explicit-key side: the raw
-- secret bytes (HS256, verified with the bytea overload) and the PKCS#8 PEM (ES256).
CREATE TABLE bench_keys AS
SELECT kid, private_key AS secret,
       CASE WHEN kty <> 'oct' THEN convert_from(private_key, 'UTF8') END AS pem
FROM jwt_keys WHERE kid IN ('bench-hs', 'bench-es');

-- Roles (cluster-wide; the cluster is thrown away).  pg_read_server_files: backend_cpu()
-- reads /proc/self/schedstat; it does not bypass row-level security.
CREATE ROLE bench_claim;
CREATE ROLE bench_lit;
CREATE ROLE bench_sub;
CREATE ROLE bench_app LOGIN;
GRANT pg_read_server_files TO bench_claim, bench_lit, bench_sub, bench_app;

CREATE FUNCTION bench_rls_table(n int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    CREATE TABLE rls_docs (id int NOT NULL, owner text NOT NULL, body text NOT NULL);
    INSERT INTO rls_docs SELECT i, 'user' || (i % 1000), md5(i::text) FROM generate_series(1, n) i;
    ALTER TABLE rls_docs ENABLE ROW LEVEL SECURITY;
    CREATE POLICY by_claim ON rls_docs FOR SELECT TO bench_claim USING (owner = jwt_claim('sub'));
    CREATE POLICY by_literal ON rls_docs FOR SELECT TO bench_lit USING (owner = 'user7');
    CREATE POLICY by_subselect ON rls_docs FOR SELECT TO bench_sub USING (owner = (SELECT jwt_claim('sub')));
    GRANT SELECT ON rls_docs TO bench_claim, bench_lit, bench_sub;
END $$;

-- Memory figures of this backend from /proc/self/status, in kB.
CREATE FUNCTION proc_status_kb(field text) RETURNS bigint
LANGUAGE sql AS $$
    SELECT substring(pg_read_file('/proc/self/status') FROM field || ':\s+(\d+) kB')::bigint
$$;

-- keyring section: the keyring against the exported key, same tokens.
--   keyring           jwt_verify(tok): kid -> keyring key, signature, claims, revocation
--   explicit          jwt_verify(tok, key): HS256 the raw secret as bytea, ES256 the PEM
--   explicit_revoked  jwt_verify(tok, key, check_revoked => true): all but the key lookup
CREATE FUNCTION bench_keyring(alg text, reps int, target float8, with_revoked boolean DEFAULT true)
RETURNS TABLE (what text, secs float8, n bigint, cpu float8, loops int)
LANGUAGE plpgsql AS $$
DECLARE
    tab text := CASE alg WHEN 'HS256' THEN 'tok_hs' WHEN 'ES256' THEN 'tok_es' END;
    key text;
    q text[];
    w text[];
BEGIN
    SELECT CASE alg WHEN 'HS256' THEN format('%L::bytea', secret) ELSE quote_literal(pem) END
      INTO STRICT key
      FROM bench_keys WHERE kid = CASE alg WHEN 'HS256' THEN 'bench-hs' ELSE 'bench-es' END;
    w := ARRAY['scan', 'keyring', 'explicit'];
    q := ARRAY[format('SELECT count(tok) FROM %I', tab),
               format('SELECT count(jwt_verify(tok)) FROM %I', tab),
               format('SELECT count(jwt_verify(tok, %s)) FROM %I', key, tab)];
    IF with_revoked THEN
        w := w || 'explicit_revoked'::text;
        q := q || format('SELECT count(jwt_verify(tok, %s, check_revoked => true)) FROM %I', key, tab);
    END IF;
    RETURN QUERY SELECT * FROM bench_many(w, q, array_fill(NULL::text, ARRAY[cardinality(q)]), reps, target);
END $$;

-- issuers section: issuer binding.  Two keys of each algorithm, one bound to
-- an issuer (jwt_generate_key(issuer => ...)) and one not, kids of the same
-- length; the same claims signed by each, so that the two tables differ only in
-- the key that verifies them -- and in iss, of the same length: a key of this
-- database never verifies a token of a provider's issuer (28J06).
--   bound    jwt_verify(tok): the key's issuer must be the token's iss
--   unbound  jwt_verify(tok): a key of this database, no binding (jwt.issuer unset)
SELECT jwt_generate_key('HS256', 'bench-hs-bound', issuer => 'https://bench.example'),
       jwt_generate_key('HS256', 'bench-hs-unbnd'),
       jwt_generate_key('ES256', 'bench-es-bound', issuer => 'https://bench.example'),
       jwt_generate_key('ES256', 'bench-es-unbnd');
CREATE TABLE tok_iss (alg text, bound boolean, id int, tok text NOT NULL, PRIMARY KEY (alg, bound, id));
INSERT INTO tok_iss
SELECT a.alg, b.bound, i,
       jwt_sign(jsonb_build_object('sub', 'user' || (i % 1000), 'exp', 4102444800, 'n', i,
                                   'iss', CASE WHEN b.bound THEN 'https://bench.example'
                                               ELSE 'https://local.example' END),
                header => jsonb_build_object('kid', format('bench-%s-%s', lower(left(a.alg, 2)),
                                                            CASE WHEN b.bound THEN 'bound' ELSE 'unbnd' END)))
FROM (VALUES ('HS256', :hs_rows), ('ES256', :es_rows)) AS a(alg, n),
     (VALUES (true), (false)) AS b(bound), generate_series(1, a.n) i;
CREATE TABLE tok_iss_hs_bound AS SELECT id, tok FROM tok_iss WHERE alg = 'HS256' AND bound;
CREATE TABLE tok_iss_hs_unbnd AS SELECT id, tok FROM tok_iss WHERE alg = 'HS256' AND NOT bound;
CREATE TABLE tok_iss_es_bound AS SELECT id, tok FROM tok_iss WHERE alg = 'ES256' AND bound;
CREATE TABLE tok_iss_es_unbnd AS SELECT id, tok FROM tok_iss WHERE alg = 'ES256' AND NOT bound;
DROP TABLE tok_iss;

CREATE FUNCTION bench_issuers(alg text, reps int, target float8)
RETURNS TABLE (what text, secs float8, n bigint, cpu float8, loops int)
LANGUAGE plpgsql AS $$
DECLARE
    a text := lower(left(alg, 2));
BEGIN
    RETURN QUERY SELECT * FROM bench_many(
        ARRAY['scan_bound', 'bound', 'scan_unbound', 'unbound'],
        ARRAY[format('SELECT count(tok) FROM tok_iss_%s_bound', a),
              format('SELECT count(jwt_verify(tok)) FROM tok_iss_%s_bound', a),
              format('SELECT count(tok) FROM tok_iss_%s_unbnd', a),
              format('SELECT count(jwt_verify(tok)) FROM tok_iss_%s_unbnd', a)],
        array_fill(NULL::text, ARRAY[4]), reps, target);
END $$;

-- revocation section: a million revoked token ids (random, as jwt_sign makes them:
-- 22 characters of base64url), and 5,000 subject cut-offs: for user0..user499 (half
-- the tokens' subjects, so half the verifications find a cut-off row and compare iat;
-- cut-offs in 2000, before every iat) and 4,500 other subjects.
CREATE FUNCTION bench_revocation_load(n int) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO jwt_revoked_tokens (jti, sub, expires_at, reason)
    SELECT rtrim(translate(encode(uuid_send(gen_random_uuid()), 'base64'), '+/', '-_'), '='),
           'gone' || (i % 50000), '2100-01-01', 'bench'
    FROM generate_series(1, n) i;
    INSERT INTO jwt_revoked_subjects (sub, revoked_before, reason)
    SELECT 'user' || i, timestamptz '2000-01-01', 'bench' FROM generate_series(0, 499) i
    UNION ALL
    SELECT 'gone' || i, '2100-01-01', 'bench' FROM generate_series(1, 4500) i;
$$;

-- rls section, inside a transaction after jwt_authenticate (sub user7) and with
-- request.jwt.claims set: count(*) over rls_docs (no index) filtered by a literal,
-- by jwt_claim('sub'), by (SELECT jwt_claim('sub')) (an InitPlan: evaluated once),
-- by the PostgREST idiom; and through the policies, as the roles they apply to
-- (the caller, a superuser, bypasses them).
CREATE FUNCTION bench_rls(reps int, target float8)
RETURNS TABLE (what text, secs float8, n bigint, cpu float8, loops int)
LANGUAGE sql AS $$
    SELECT * FROM bench_many(
        ARRAY['scan', 'literal', 'jwt_claim', 'jwt_claim_sub', 'postgrest',
              'policy_literal', 'policy_jwt_claim', 'policy_jwt_claim_sub'],
        ARRAY['SELECT count(*) FROM rls_docs',
              'SELECT count(*) FROM rls_docs WHERE owner = ''user7''',
              'SELECT count(*) FROM rls_docs WHERE owner = jwt_claim(''sub'')',
              'SELECT count(*) FROM rls_docs WHERE owner = (SELECT jwt_claim(''sub''))',
              'SELECT count(*) FROM rls_docs WHERE owner = current_setting(''request.jwt.claims'', true)::json->>''sub''',
              'SELECT count(*) FROM rls_docs',
              'SELECT count(*) FROM rls_docs',
              'SELECT count(*) FROM rls_docs'],
        ARRAY[NULL, NULL, NULL, NULL, NULL, 'bench_lit', 'bench_claim', 'bench_sub'],
        reps, target)
$$;

-- memory section: failing tokens, four kinds of 500: a tampered signature, expired,
-- signed by a key since retired (no grace), malformed.
SELECT jwt_generate_key('HS256', 'bench-retired');
CREATE TABLE tok_bad (id int PRIMARY KEY, tok text NOT NULL);
INSERT INTO tok_bad
SELECT i, CASE i % 4
    WHEN 0 THEN overlay(t.tok PLACING CASE WHEN substr(t.tok, length(t.tok) - 10, 1) = 'A' THEN 'B' ELSE 'A' END
                        FROM length(t.tok) - 10 FOR 1)
    WHEN 1 THEN jwt_sign(jsonb_build_object('sub', 'user' || i, 'iat', 900, 'exp', 1000), header => '{"kid": "bench-hs"}')
    WHEN 2 THEN jwt_sign(jsonb_build_object('sub', 'user' || i, 'exp', 4102444800), header => '{"kid": "bench-retired"}')
    ELSE 'x' || t.tok END
FROM generate_series(1, 2000) i JOIN tok_hs t ON t.id = i;
SELECT jwt_retire_key('bench-retired');

-- One round: every good token verified with the keyring and with the explicit
-- secret, every failing one through jwt_is_valid (false, no error) and through
-- jwt_verify (an error, caught: a subtransaction rolled back), both ways.
-- Returns the number of verifications.
CREATE FUNCTION mem_round() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    secret bytea := (SELECT b.secret FROM bench_keys b WHERE kid = 'bench-hs');
    good bigint;
    bad bigint;
    raised bigint := 0;
    t text;
BEGIN
    SELECT count(jwt_verify(tok)) + count(jwt_verify(tok, secret)) INTO good FROM tok_hs;
    SELECT count(*) FILTER (WHERE NOT jwt_is_valid(tok)) + count(*) FILTER (WHERE NOT jwt_is_valid(tok, secret))
      INTO bad FROM tok_bad;
    FOR t IN SELECT tok FROM tok_bad LOOP
        BEGIN
            PERFORM jwt_verify(t);
        EXCEPTION WHEN OTHERS THEN
            raised := raised + 1;
        END;
        BEGIN
            PERFORM jwt_verify(t, secret);
        EXCEPTION WHEN OTHERS THEN
            raised := raised + 1;
        END;
    END LOOP;
    RETURN good + bad + raised;
END $$;

VACUUM (FREEZE, ANALYZE);
