-- bench/token_cache.sql: tables and timing for bench/token_cache.sh (the verified-token
-- cache, issue 17).  Needs bench/measure.sql (backend_cpu).

-- Keys made in the keyring (their public JWKs serve as explicit keys) and, per algorithm,
-- a table of n rows holding one token (repeated verification) and one of n distinct tokens.
SET jwt.default_lifetime = 0;
SELECT jwt_generate_key('HS256', 'bench-hs'), jwt_generate_key('ES256', 'bench-es'),
       jwt_generate_key('RS256', 'bench-rs'), jwt_generate_key('EdDSA', 'bench-ed');
-- bench_keys.key: the literal of the explicit key, a public JWK (text) or the secret (bytea)
CREATE TABLE bench_keys AS
SELECT j ->> 'alg' AS alg, j ->> 'kid' AS kid, quote_literal(j::text) AS key
FROM jsonb_array_elements(jwt_jwks() -> 'keys') j;
-- the HMAC secret is not published: read it as a superuser
INSERT INTO bench_keys
SELECT 'HS256', kid, quote_literal(private_key::text) || '::bytea' FROM jwt_keys WHERE kid = 'bench-hs';

CREATE FUNCTION bench_cache_tables(alg text, n int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    kid text := (SELECT kid FROM bench_keys b WHERE b.alg = bench_cache_tables.alg);
    one text := jwt_sign(jsonb_build_object('sub', 'user1', 'exp', 4102444800),
                         alg => alg, header => jsonb_build_object('kid', kid));
BEGIN
    EXECUTE format('CREATE TABLE rep_%s AS SELECT i, %L::text AS tok FROM generate_series(1, %s) i',
                   lower(alg), one, n);
    EXECUTE format('CREATE TABLE dist_%s AS SELECT i, jwt_sign(jsonb_build_object(''sub'', ''user'' || i, ''exp'', 4102444800), alg => %L, header => %L) AS tok FROM generate_series(1, %s) i',
                   lower(alg), alg, jsonb_build_object('kid', kid), n);
END $$;

-- Time q with jwt.token_cache set to setting: a warm-up run, then reps timings of at least
-- target seconds each (q repeated), the best counting.  Per execution of q: wall and on-CPU
-- seconds.
CREATE FUNCTION bench_cache_time(setting text, q text, reps int, target float8,
                                 OUT secs float8, OUT cpu float8, OUT n bigint)
LANGUAGE plpgsql AS $$
DECLARE
    loops int;
    t0 timestamptz;
    c0 float8;
    w float8;
BEGIN
    PERFORM set_config('jwt.token_cache', setting, false);
    t0 := clock_timestamp();
    EXECUTE q INTO n;
    w := extract(epoch FROM clock_timestamp() - t0)::float8;
    loops := greatest(1, ceil(target / greatest(w, 1e-6)))::int;
    secs := 'Infinity';
    cpu := 'Infinity';
    FOR r IN 1..reps LOOP
        c0 := backend_cpu();
        t0 := clock_timestamp();
        FOR j IN 1..loops LOOP
            EXECUTE q INTO n;
        END LOOP;
        secs := least(secs, extract(epoch FROM clock_timestamp() - t0)::float8 / loops);
        cpu := least(cpu, (backend_cpu() - c0) / loops);
    END LOOP;
    PERFORM set_config('jwt.token_cache', 'on', false);
END $$;

-- The PostgREST-style transaction: docs, 100 rows per owner, an index on owner, and two
-- RLS policies that read the identity once per query: jwt's (docs_jwt) and PostgREST's own
-- idiom, request.jwt.claims set by set_config (docs_literal).
CREATE ROLE bench_authenticator LOGIN NOINHERIT;
CREATE ROLE bench_web_user;
CREATE ROLE bench_anon;
GRANT bench_web_user, bench_anon TO bench_authenticator;
CREATE TABLE docs_jwt (id int NOT NULL, owner text NOT NULL, body text NOT NULL);
INSERT INTO docs_jwt SELECT i, 'user' || (i % 100 + 1), md5(i::text) FROM generate_series(1, 10000) i;
CREATE INDEX ON docs_jwt (owner);
CREATE TABLE docs_literal AS TABLE docs_jwt;
CREATE INDEX ON docs_literal (owner);
ALTER TABLE docs_jwt ENABLE ROW LEVEL SECURITY;
ALTER TABLE docs_literal ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON docs_jwt FOR SELECT TO bench_web_user USING (owner = (SELECT jwt_claim('sub')));
CREATE POLICY own ON docs_literal FOR SELECT TO bench_web_user
    USING (owner = (SELECT current_setting('request.jwt.claims', true)::json ->> 'sub'));
GRANT SELECT ON docs_jwt, docs_literal TO bench_web_user;
VACUUM (FREEZE, ANALYZE) docs_jwt, docs_literal;
