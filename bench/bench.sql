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
-- The statements run in turn, reps rounds, the best of each counting: a slow spell of
-- the machine then weighs on every statement alike instead of on all runs of one.
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
    labels text[] := ARRAY['scan_v', 'verify', 'scan_s', 'sign'];
    queries text[];
    best_secs float8[];
    best_cpu float8[];
    counts bigint[];
    r record;
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

    queries := ARRAY[format('SELECT count(tok) FROM %I', v),
                     format('SELECT count(jwt_verify(tok, %s, now => to_timestamp(1900000000))) FROM %I', pub, v),
                     format('SELECT count(claims) FROM %I', s),
                     format('SELECT count(jwt_sign(claims, %s, %L)) FROM %I', priv, alg, s)];
    IF breakdown THEN
        labels := labels || ARRAY['is_valid', 'jws_verify', 'decode'];
        queries := queries || ARRAY[
            format('SELECT count(*) FILTER (WHERE jwt_is_valid(tok, %s, now => to_timestamp(1900000000))) FROM %I', pub, v),
            format('SELECT count(jws_verify(tok, %s)) FROM %I', pub, v),
            format('SELECT count((jwt_decode(tok)).payload) FROM %I', v)];
    END IF;
    best_secs := array_fill('Infinity'::float8, ARRAY[cardinality(queries)]);
    best_cpu := array_fill('Infinity'::float8, ARRAY[cardinality(queries)]);
    counts := array_fill(0::bigint, ARRAY[cardinality(queries)]);
    FOR round IN 1..reps LOOP
        FOR i IN 1..cardinality(queries) LOOP
            SELECT * INTO r FROM bench_time(queries[i], 1);
            best_secs[i] := least(best_secs[i], r.secs);
            best_cpu[i] := least(best_cpu[i], coalesce(r.cpu, 'Infinity'));
            counts[i] := r.n;
        END LOOP;
    END LOOP;
    FOR i IN 1..cardinality(queries) LOOP
        what := labels[i];
        secs := best_secs[i];
        n := counts[i];
        cpu := CASE WHEN best_cpu[i] = 'Infinity' THEN NULL ELSE best_cpu[i] END;
        RETURN NEXT;
    END LOOP;
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

-- The cost of the statistics (issue 16) on HS256 verify: the same statement with
-- jwt.track_stats on and off, in turn, reps rounds, the best of each counting.
--   what: scan_v, verify_stats_on, verify_stats_off
CREATE FUNCTION bench_stats(reps int)
RETURNS TABLE (what text, secs float8, n bigint, cpu float8)
LANGUAGE plpgsql AS $$
DECLARE
    pub text;
    q text;
    labels text[] := ARRAY['scan_v', 'verify_stats_on', 'verify_stats_off'];
    setting text[] := ARRAY['on', 'on', 'off'];
    best_secs float8[] := array_fill('Infinity'::float8, ARRAY[3]);
    best_cpu float8[] := array_fill('Infinity'::float8, ARRAY[3]);
    counts bigint[] := array_fill(0::bigint, ARRAY[3]);
    r record;
    i int;
BEGIN
    SELECT quote_literal(keys.pub) INTO STRICT pub FROM keys WHERE keys.alg = 'HS256';
    -- eight times the table: statements long enough for the on-CPU clock's 4 ms ticks
    q := format('SELECT count(jwt_verify(tok, %s, now => to_timestamp(1900000000))) FROM v_hs256, generate_series(1, 8) g', pub);
    EXECUTE format('SELECT count(jwt_verify(tok, %s, now => to_timestamp(1900000000))) FROM (SELECT tok FROM v_hs256 LIMIT 10) x', pub);
    FOR round IN 1..reps LOOP
        -- on before off in odd rounds, off before on in even ones: a slow spell of the
        -- machine cannot always fall on the same setting
        FOREACH i IN ARRAY CASE WHEN round % 2 = 1 THEN ARRAY[1, 2, 3] ELSE ARRAY[1, 3, 2] END LOOP
            PERFORM set_config('jwt.track_stats', setting[i], false);
            SELECT * INTO r FROM bench_time(CASE WHEN i = 1 THEN 'SELECT count(tok) FROM v_hs256, generate_series(1, 8) g' ELSE q END, 1);
            best_secs[i] := least(best_secs[i], r.secs);
            best_cpu[i] := least(best_cpu[i], coalesce(r.cpu, 'Infinity'));
            counts[i] := r.n;
        END LOOP;
    END LOOP;
    PERFORM set_config('jwt.track_stats', 'on', false);
    FOR i IN 1..3 LOOP
        what := labels[i];
        secs := best_secs[i];
        n := counts[i];
        cpu := CASE WHEN best_cpu[i] = 'Infinity' THEN NULL ELSE best_cpu[i] END;
        RETURN NEXT;
    END LOOP;
END $$;
