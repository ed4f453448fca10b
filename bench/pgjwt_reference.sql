-- bench/pgjwt_reference.sql: pgjwt 0.2.0's algorithm restated over pgcrypto, in schema
-- pgjwt_reference. It is the baseline of bench/pgjwt.sh ("the PL/pgSQL original's
-- algorithm": SQL functions over pgcrypto's hmac(), a PL/pgSQL cast guarded by an
-- exception block) and the oracle of test/pgjwt/differential.sql, which checks that the
-- C functions of the pgjwt extension give the same rows and the same errors.
--
-- What pgjwt 0.2.0 computes, and what this file restates:
--   url_encode(bytes)   base64 with '+' '/' as '-' '_', no '=' padding, no line breaks
--   url_decode(text)    '-' '_' back to '+' '/', '=' up to a multiple of 4 characters,
--                       then decode(..., 'base64'), with that function's errors
--   algorithm_sign      HMAC (pgcrypto) of the text with the secret: HS256/HS384/HS512
--                       name sha256/sha384/sha512, anything else the empty digest name,
--                       which pgcrypto refuses ('Cannot use "": No such hash algorithm')
--   sign                header '{"alg":"<algorithm>","typ":"JWT"}' and the payload's own
--                       text, both as UTF-8, encoded, joined by '.', then the signature
--   verify              the token split at every '.'; header and payload decoded from
--                       parts 1 and 2 (UTF-8, then json); valid = (part 3 equals the
--                       signature of "part1.part2") AND the range [nbf, exp) built from
--                       the payload's nbf and exp (anything that is not a float is no
--                       bound) contains the transaction's timestamp
--
-- Every function has a SQL-standard body (RETURN / BEGIN ATOMIC), so names are bound
-- when this file runs: pgcrypto must be installed, and its schema on the search_path
-- here. The functions keep the original's execution structure, which decides both its
-- results and its cost: url_encode and verify are single expressions or a single
-- SELECT that the planner inlines into the calling query (so a query reading only some
-- of verify()'s columns evaluates only those, and raises only their errors); url_decode,
-- algorithm_sign and sign are not inlinable and run as queries of their own per call;
-- try_cast_double is PL/pgSQL with an exception block.
--
-- Usage: psql -v ON_ERROR_STOP=1 -f bench/pgjwt_reference.sql (creates pgcrypto if
-- missing; drops and recreates the schema pgjwt_reference).

\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
DROP SCHEMA IF EXISTS pgjwt_reference CASCADE;
CREATE SCHEMA pgjwt_reference;
SELECT set_config('search_path',
                  'pgjwt_reference, ' || quote_ident(n.nspname) || ', pg_catalog', false)
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pgcrypto' \gset
RESET client_min_messages;

CREATE FUNCTION pgjwt_reference.url_encode(data bytea) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN rtrim(translate(replace(encode(data, 'base64'), E'\n', ''), '+/', '-_'), '=');

-- url_decode and algorithm_sign each compute a value first (the padded text, the
-- digest name) in a FROM clause: as in the original, the planner cannot inline them,
-- so every call runs as a query of its own (that is where the original's time goes).
CREATE FUNCTION pgjwt_reference.url_decode(data text) RETURNS bytea
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
    SELECT decode(p.padded, 'base64')
    FROM (SELECT rpad(translate(data, '-_', '+/'), (length(data) + 3) / 4 * 4, '=') AS padded) AS p;
END;

CREATE FUNCTION pgjwt_reference.algorithm_sign(signables text, secret text, algorithm text)
RETURNS text
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
    SELECT pgjwt_reference.url_encode(hmac(signables, secret, d.name))
    FROM (SELECT CASE algorithm WHEN 'HS256' THEN 'sha256'
                                WHEN 'HS384' THEN 'sha384'
                                WHEN 'HS512' THEN 'sha512'
                                ELSE '' END AS name) AS d;
END;

CREATE FUNCTION pgjwt_reference.sign(payload json, secret text, algorithm text DEFAULT 'HS256')
RETURNS text
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
    SELECT s.input || '.' || pgjwt_reference.algorithm_sign(s.input, secret, algorithm)
    FROM (SELECT pgjwt_reference.url_encode(convert_to('{"alg":"' || algorithm || '","typ":"JWT"}', 'utf8'))
                 || '.' || pgjwt_reference.url_encode(convert_to(payload::text, 'utf8')) AS input) AS s;
END;

-- A float, or NULL for anything the cast refuses (a subtransaction per call, as in the
-- original).
CREATE FUNCTION pgjwt_reference.try_cast_double(inp text) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN inp::double precision;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END $$;

-- One row always (the split of a NULL token is a NULL array). The payload expression is
-- written out where it is used, as the original's is after inlining.
CREATE FUNCTION pgjwt_reference.verify(token text, secret text, algorithm text DEFAULT 'HS256')
RETURNS TABLE (header json, payload json, valid boolean)
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
    SELECT convert_from(pgjwt_reference.url_decode(part[1]), 'utf8')::json,
           convert_from(pgjwt_reference.url_decode(part[2]), 'utf8')::json,
           part[3] = pgjwt_reference.algorithm_sign(part[1] || '.' || part[2], secret, algorithm)
           AND tstzrange(
                 to_timestamp(pgjwt_reference.try_cast_double(
                     convert_from(pgjwt_reference.url_decode(part[2]), 'utf8')::json ->> 'nbf')),
                 to_timestamp(pgjwt_reference.try_cast_double(
                     convert_from(pgjwt_reference.url_decode(part[2]), 'utf8')::json ->> 'exp')))
               @> CURRENT_TIMESTAMP
    FROM regexp_split_to_array(token, '\.') AS part;
END;

RESET search_path;
