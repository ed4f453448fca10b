-- bench/pgjwt.sql: inputs and timing for bench/pgjwt.sh, in a database of its own.
--
-- psql variables: rows     distinct payloads and tokens (default 20000)
--                 secret   the HMAC secret (a literal in every measured statement)
--
-- pj_claims(id, payload json)  distinct payloads, the shape applications sign:
--                              sub, name, role, iat, exp (in 2100)
-- pj_tokens(id, tok)           those payloads signed by pgjwt_reference.sign(), the
--                              PL/pgSQL side, so both sides verify tokens neither made
--
-- Pitfalls avoided (see PERF-NOTES): every row has a different input, so nothing can
-- be folded to a constant; the bare scan is measured beside the statements and
-- subtracted; jit and parallel query are off (set by the caller).

\set ON_ERROR_STOP 1
\if :{?rows}
\else
\set rows 20000
\endif

CREATE EXTENSION IF NOT EXISTS jwt;
CREATE EXTENSION IF NOT EXISTS pgjwt;
\ir pgjwt_reference.sql

CREATE TABLE pj_claims (id int PRIMARY KEY, payload json NOT NULL);
INSERT INTO pj_claims
SELECT i, json_build_object('sub', 'user' || i, 'name', md5(i::text), 'role', 'reader',
                            'iat', 1764000000 + i, 'exp', 4102444800 + i)
FROM generate_series(1, :rows) i;

CREATE TABLE pj_tokens (id int PRIMARY KEY, tok text NOT NULL);
INSERT INTO pj_tokens SELECT id, pgjwt_reference.sign(payload, :'secret') FROM pj_claims;
VACUUM (FREEZE, ANALYZE) pj_claims, pj_tokens;

\ir measure.sql

-- The measured statements, the same for both sides (schema s): sign every payload;
-- verify every token reading every column (as SELECT * FROM verify(...) does; the
-- columns are only tested for NULL, the cheapest way to make every one of them
-- computed), reading only valid (WHERE valid), and calling verify() in the select list
-- (not inlined: the SQL function runs as a query of its own each call).
CREATE FUNCTION pj_queries(s text, secret text, OUT labels text[], OUT queries text[])
LANGUAGE sql AS $$
    SELECT ARRAY['scan_s', 'sign', 'scan_v', 'verify', 'verify_valid', 'verify_call'],
           ARRAY['SELECT count(payload) FROM pj_claims',
                 format('SELECT count(%I.sign(payload, %L)) FROM pj_claims', s, secret),
                 'SELECT count(tok) FROM pj_tokens',
                 format('SELECT count(*) FILTER (WHERE v.header IS NOT NULL AND v.payload IS NOT NULL '
                        'AND v.valid IS NOT NULL) FROM pj_tokens t, %I.verify(t.tok, %L) v', s, secret),
                 format('SELECT count(*) FILTER (WHERE v.valid) FROM pj_tokens t, %I.verify(t.tok, %L) v',
                        s, secret),
                 format('SELECT count(x) FROM (SELECT %I.verify(t.tok, %L) AS x FROM pj_tokens t) v',
                        s, secret)]
$$;

-- Both sides, interleaved: one row per side and statement.
CREATE FUNCTION pj_run(secret text, reps int, target float8)
RETURNS TABLE (side text, what text, secs float8, n bigint, cpu float8, loops int)
LANGUAGE plpgsql AS $$
DECLARE
    c record;
    r record;
BEGIN
    SELECT * INTO c FROM pj_queries('pgjwt', secret);
    SELECT * INTO r FROM pj_queries('pgjwt_reference', secret);
    RETURN QUERY
    SELECT split_part(b.what, ':', 1), split_part(b.what, ':', 2), b.secs, b.n, b.cpu, b.loops
    FROM bench_many(array(SELECT 'c:' || l FROM unnest(c.labels) l) ||
                  array(SELECT 'plpgsql:' || l FROM unnest(r.labels) l),
                  c.queries || r.queries,
                  array_fill(NULL::text, ARRAY[cardinality(c.queries) + cardinality(r.queries)]),
                  reps, target) b;
END $$;
