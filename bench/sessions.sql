-- bench/sessions.sql: tables and timing functions for bench/sessions.sh (refresh-token
-- rotation and single-use tokens), in a database of its own.  Loads bench/bench.sql first
-- for backend_cpu().
--
-- Stateful operations cannot be repeated on the same input (a refresh token refreshes
-- once, a single-use token is consumed once), so every round makes fresh inputs first,
-- untimed, then times one statement over all of them; the best round counts.

\set ON_ERROR_STOP 1
\ir bench.sql

SELECT jwt_generate_key('HS256', 'bench-sessions');

-- The inputs of one round: n fresh sessions (their refresh tokens) and n fresh
-- single-use tokens (every one with its own jti).
CREATE TABLE rt (id int PRIMARY KEY, tok text NOT NULL);
CREATE TABLE ct (id int PRIMARY KEY, tok text NOT NULL);
CREATE FUNCTION bench_sessions_inputs(n int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE rt, ct;
    INSERT INTO rt SELECT i, (jwt_session_start(jsonb_build_object('sub', 'user' || i))).refresh_token
    FROM generate_series(1, n) i;
    INSERT INTO ct SELECT i, jwt_sign(jsonb_build_object('sub', 'user' || i, 'purpose', 'reset'))
    FROM generate_series(1, n) i;
    ANALYZE rt, ct;
END $$;

-- One timing: wall and on-CPU seconds of q (which returns a count), run loops times
-- (a repeatable statement shorter than the on-CPU clock's 4 ms tick), per run.
CREATE FUNCTION bench_once(q text, loops int, OUT secs float8, OUT cpu float8, OUT n bigint)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    c0 float8;
BEGIN
    c0 := backend_cpu();
    t0 := clock_timestamp();
    FOR i IN 1..loops LOOP
        EXECUTE q INTO n;
    END LOOP;
    secs := extract(epoch FROM clock_timestamp() - t0)::float8 / loops;
    cpu := (backend_cpu() - c0) / loops;
END $$;

-- reps rounds of: fresh inputs; then, over the same n rows, the bare scan, keyring
-- sign (what a session start or refresh signs), jwt_session_start, jwt_session_refresh,
-- keyring jwt_verify of the single-use tokens, and jwt_consume of them.  Best of each.
CREATE FUNCTION bench_sessions(n int, reps int)
RETURNS TABLE (what text, secs float8, cpu float8, rows bigint)
LANGUAGE plpgsql AS $$
DECLARE
    w text[] := ARRAY['scan', 'sign', 'start', 'refresh', 'verify', 'consume'];
    q text[] := ARRAY['SELECT count(tok) FROM rt',
                      'SELECT count(jwt_sign(jsonb_build_object(''sub'', ''user'' || id))) FROM rt',
                      'SELECT count((jwt_session_start(jsonb_build_object(''sub'', ''user'' || id))).session_id) FROM rt',
                      'SELECT count((jwt_session_refresh(tok)).session_id) FROM rt',
                      'SELECT count(jwt_verify(tok)) FROM ct',
                      'SELECT count(jwt_consume(tok)) FROM ct'];
    -- scan, sign and verify can be repeated on the same rows; start, refresh and consume not
    loops int[] := ARRAY[200, 20, 1, 1, 20, 1];
    best_w float8[] := array_fill('Infinity'::float8, ARRAY[6]);
    best_c float8[] := array_fill('Infinity'::float8, ARRAY[6]);
    r record;
BEGIN
    FOR k IN 1..reps LOOP
        PERFORM bench_sessions_inputs(n);
        FOR i IN 1..6 LOOP
            r := bench_once(q[i], loops[i]);
            IF r.n <> n THEN
                RAISE EXCEPTION '% counted % rows, not %', w[i], r.n, n;
            END IF;
            best_w[i] := least(best_w[i], r.secs);
            best_c[i] := least(best_c[i], coalesce(r.cpu, 'Infinity'));
        END LOOP;
    END LOOP;
    FOR i IN 1..6 LOOP
        what := w[i];
        secs := best_w[i];
        cpu := CASE WHEN best_c[i] = 'Infinity' THEN NULL ELSE best_c[i] END;
        rows := n;
        RETURN NEXT;
    END LOOP;
END $$;

-- pgbench: one refresh token per client (row client_id), rotated by every transaction;
-- one fresh single-use token per transaction from a pool (k counts per client).
CREATE TABLE pgb_rt (client int PRIMARY KEY, tok text NOT NULL);
CREATE TABLE pgb_ct (id bigint PRIMARY KEY, tok text NOT NULL);
