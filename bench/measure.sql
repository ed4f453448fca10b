-- bench/measure.sql: timing functions shared by the benchmark SQL (bench.sql, identity.sql,
-- pgjwt.sql).

-- On-CPU time of this backend in seconds (Linux /proc/self/schedstat, in ns; it
-- lags by at most a scheduler tick): unlike wall time, not inflated when other work
-- on a busy machine deschedules the backend. NULL where unavailable.
CREATE FUNCTION backend_cpu() RETURNS float8
LANGUAGE plpgsql AS $$
BEGIN
    RETURN split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::float8 / 1e9;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END $$;

-- Time several statements side by side.  Each q[i] returns one bigint (a count).
-- A first run of every statement warms caches and measures it; each then runs
-- loops = ceil(target / that time) times per timing, so that a timing lasts at
-- least `target` seconds (the on-CPU clock advances by scheduler ticks, 4 ms here).
-- The statements are timed in turn, reps rounds, so drift on a busy machine hits all
-- of them alike; the best round of each counts.  role[i]: run q[i] as that role
-- (NULL: as the caller).  Returns per-execution wall and on-CPU seconds.
CREATE FUNCTION bench_many(labels text[], queries text[], roles text[], reps int, target float8,
                           OUT what text, OUT secs float8, OUT n bigint, OUT cpu float8,
                           OUT loops int)
RETURNS SETOF record
LANGUAGE plpgsql AS $$
DECLARE
    k int := array_length(queries, 1);
    nloop int[] := array_fill(1, ARRAY[k]);
    best_wall float8[] := array_fill('Infinity'::float8, ARRAY[k]);
    best_cpu float8[] := array_fill('Infinity'::float8, ARRAY[k]);
    nrows bigint[] := array_fill(0::bigint, ARRAY[k]);
    t0 timestamptz;
    c0 float8;
    w float8;
    c float8;
    cnt bigint;
BEGIN
    FOR r IN 0..reps LOOP
        FOR i IN 1..k LOOP
            IF roles[i] IS NOT NULL THEN
                EXECUTE format('SET ROLE %I', roles[i]);
            END IF;
            c0 := backend_cpu();
            t0 := clock_timestamp();
            FOR j IN 1..nloop[i] LOOP
                EXECUTE queries[i] INTO cnt;
            END LOOP;
            w := extract(epoch FROM clock_timestamp() - t0)::float8;
            c := backend_cpu() - c0;
            IF roles[i] IS NOT NULL THEN
                RESET ROLE;
            END IF;
            nrows[i] := cnt;
            IF r = 0 THEN   -- warm-up and calibration
                nloop[i] := greatest(1, ceil(target / greatest(w, 1e-6)))::int;
            ELSE
                best_wall[i] := least(best_wall[i], w / nloop[i]);
                best_cpu[i] := least(best_cpu[i], c / nloop[i]);
            END IF;
        END LOOP;
    END LOOP;
    FOR i IN 1..k LOOP
        what := labels[i];
        secs := best_wall[i];
        n := nrows[i];
        cpu := CASE WHEN best_cpu[i] = 'Infinity' THEN NULL ELSE best_cpu[i] END;
        loops := nloop[i];
        RETURN NEXT;
    END LOOP;
END $$;
