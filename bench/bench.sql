-- bench/bench.sql: tables and timing functions for bench/run.sh (run in a throwaway cluster).
--
-- keys(alg, priv, pub)       the floor's keys (HMAC: the secret, as text, in both columns)
-- v_<alg>(id, tok)           distinct tokens made by the floor, exp in 2100
-- s_<alg>(id, claims)        distinct claims, same shape as the floor's payloads
--
-- Pitfalls avoided (see PERF-NOTES): every row has a different input, so nothing
-- can be folded to a constant; the cost of the bare scan is measured separately
-- and subtracted; jit and parallel query are off; each figure is the best of
-- several runs of the whole statement.

SET jit = off;
SET max_parallel_workers_per_gather = 0;

CREATE EXTENSION IF NOT EXISTS jwt;

-- The measured statements carry the key as a literal (a Const), as an application
-- passing it as a parameter would: no per-row detoasting of a key column.
CREATE TABLE keys (alg text PRIMARY KEY, priv text NOT NULL, pub text NOT NULL);

\ir measure.sql

-- Run query q (which must return one bigint: a count) reps times; the best wall
-- time and the best on-CPU time.
CREATE FUNCTION bench_time(q text, reps int, OUT secs float8, OUT n bigint, OUT cpu float8)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    c0 float8;
BEGIN
    secs := 'Infinity';
    cpu := 'Infinity';
    FOR i IN 1..reps LOOP
        c0 := backend_cpu();
        t0 := clock_timestamp();
        EXECUTE q INTO n;
        secs := least(secs, extract(epoch FROM clock_timestamp() - t0)::float8);
        cpu := least(cpu, backend_cpu() - c0);
    END LOOP;
    IF cpu = 'Infinity' THEN
        cpu := NULL;
    END IF;
END $$;

-- All figures for one algorithm: one row per measured statement.
--   what: scan_v (bare scan of the tokens), verify, scan_s (bare scan of the claims), sign
--   hs_bytea: pass the HMAC secret as bytea instead of text
--   breakdown: also time jwt_is_valid (no jsonb result), jws_verify (signature only)
--              and jwt_decode (no verification), to see where verify time goes
CREATE FUNCTION bench_alg(alg text, reps int, hs_bytea boolean DEFAULT false,
                          breakdown boolean DEFAULT false)
RETURNS TABLE (what text, secs float8, n bigint, cpu float8)
LANGUAGE plpgsql AS $$
DECLARE
    v text := 'v_' || lower(alg);
    s text := 's_' || lower(alg);
    k keys;
    priv text;
    pub text;
BEGIN
    SELECT * INTO STRICT k FROM keys WHERE keys.alg = bench_alg.alg;
    priv := quote_literal(k.priv);
    pub := quote_literal(k.pub);
    IF hs_bytea THEN
        priv := format('%L::bytea', convert_to(k.priv, 'UTF8'));
        pub := priv;
    END IF;

    -- Warm the buffers and the backend's key cache.
    EXECUTE format('SELECT count(tok) FROM %I', v);
    EXECUTE format('SELECT count(claims) FROM %I', s);
    EXECUTE format('SELECT count(jwt_verify(tok, %s, now => to_timestamp(1900000000))) FROM (SELECT tok FROM %I LIMIT 10) x', pub, v);
    EXECUTE format('SELECT count(jwt_sign(claims, %s, %L)) FROM (SELECT claims FROM %I LIMIT 10) x', priv, alg, s);

    what := 'scan_v';
    SELECT * INTO secs, n, cpu FROM bench_time(format('SELECT count(tok) FROM %I', v), reps);
    RETURN NEXT;
    what := 'verify';
    SELECT * INTO secs, n, cpu FROM bench_time(format(
        'SELECT count(jwt_verify(tok, %s, now => to_timestamp(1900000000))) FROM %I', pub, v), reps);
    RETURN NEXT;
    what := 'scan_s';
    SELECT * INTO secs, n, cpu FROM bench_time(format('SELECT count(claims) FROM %I', s), reps);
    RETURN NEXT;
    what := 'sign';
    SELECT * INTO secs, n, cpu FROM bench_time(format(
        'SELECT count(jwt_sign(claims, %s, %L)) FROM %I', priv, alg, s), reps);
    RETURN NEXT;
    IF breakdown THEN
        what := 'is_valid';
        SELECT * INTO secs, n, cpu FROM bench_time(format(
            'SELECT count(*) FILTER (WHERE jwt_is_valid(tok, %s, now => to_timestamp(1900000000))) FROM %I',
            pub, v), reps);
        RETURN NEXT;
        what := 'jws_verify';
        SELECT * INTO secs, n, cpu FROM bench_time(format(
            'SELECT count(jws_verify(tok, %s)) FROM %I', pub, v), reps);
        RETURN NEXT;
        what := 'decode';
        SELECT * INTO secs, n, cpu FROM bench_time(format(
            'SELECT count((jwt_decode(tok)).payload) FROM %I', v), reps);
        RETURN NEXT;
    END IF;
END $$;

-- Create and fill s_<alg> with n distinct claims, and an empty v_<alg>.
CREATE FUNCTION bench_tables(alg text, n int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE %I (id int GENERATED ALWAYS AS IDENTITY, tok text NOT NULL)',
                   'v_' || lower(alg));
    EXECUTE format('CREATE TABLE %I (id int, claims jsonb NOT NULL)', 's_' || lower(alg));
    -- {"sub":"user-0000001","iat":1700000001,"exp":4102444800,"jti":"<16 hex>"}: the floor's shape
    EXECUTE format($q$
        INSERT INTO %I
        SELECT i, jsonb_build_object('sub', 'user-' || lpad(i::text, 7, '0'),
                                     'iat', 1700000000 + i, 'exp', 4102444800,
                                     'jti', left(md5(i::text), 16))
        FROM generate_series(1, %s) i $q$, 's_' || lower(alg), n);
END $$;
