-- test/pgjwt/differential.sql: the pgjwt drop-in against bench/pgjwt_reference.sql
-- (pgjwt 0.2.0's algorithm over pgcrypto) on generated inputs: random payloads and
-- secrets, multibyte and long texts, malformed tokens of every kind, claims of every
-- type, bogus algorithms, NULLs. Each call is run several ways (every column, single
-- columns, the scalar form; arguments as constants, which the planner may fold, and
-- from a table, evaluated at run time), and its outcome compared: the rows as text, or
-- SQLSTATE, message and detail of the error.
--
--   psql -v ON_ERROR_STOP=1 -f bench/pgjwt_reference.sql -f test/pgjwt/differential.sql
--
-- psql variables: schemas  implementations to compare, the first being the oracle
--                          (default 'pgjwt_reference,pgjwt'; each schema has pgjwt's
--                          functions)
--                 seed     for setseed() (default 0.4242): the inputs are reproducible
-- Prints each mismatch, then "differential: N calls, N comparisons, N mismatches".
-- Everything runs in one transaction, so that every verify() sees the same
-- CURRENT_TIMESTAMP, and is rolled back.

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only on
\pset pager off
\if :{?schemas}
\else
\set schemas 'pgjwt_reference,pgjwt'
\endif
\if :{?seed}
\else
\set seed 0.4242
\endif

BEGIN;
SET LOCAL search_path = pg_catalog;
SET LOCAL client_min_messages = warning;
SELECT setseed(:seed) \gset
-- for the DO block below (psql variables do not reach into quoted text)
SELECT set_config('pgjwt_differential.schemas', :'schemas', true) \gset
-- the generator signs with pgcrypto's hmac(), independently of what is compared
SELECT quote_ident(n.nspname) AS crypto
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto' \gset

-- ---------- generators ----------

-- A random string of n characters of one kind.
CREATE FUNCTION pg_temp.rnd_text(n int, kind text DEFAULT 'ascii') RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT coalesce(string_agg(CASE kind
        WHEN 'ascii' THEN chr(32 + floor(random() * 95)::int)
        WHEN 'alnum' THEN substr('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
                                 1 + floor(random() * 62)::int, 1)
        WHEN 'b64url' THEN substr('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
                                  1 + floor(random() * 64)::int, 1)
        WHEN 'b64any' THEN substr('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= .é',
                                  1 + floor(random() * 69)::int, 1)
        WHEN 'multibyte' THEN chr(CASE floor(random() * 4)::int
                                  WHEN 0 THEN 32 + floor(random() * 95)::int
                                  WHEN 1 THEN 160 + floor(random() * 1800)::int
                                  WHEN 2 THEN 19968 + floor(random() * 2000)::int
                                  ELSE 128512 + floor(random() * 80)::int END)
        ELSE chr(1 + floor(random() * 126)::int) END, ''), '')
    FROM generate_series(1, n)
$$;

-- n random bytes.
CREATE FUNCTION pg_temp.rnd_bytes(n int) RETURNS bytea
LANGUAGE sql VOLATILE AS $$
    SELECT decode(coalesce(string_agg(lpad(to_hex(floor(random() * 256)::int), 2, '0'), ''), ''), 'hex')
    FROM generate_series(1, n)
$$;

CREATE FUNCTION pg_temp.pick(VARIADIC choices text[]) RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT choices[1 + floor(random() * cardinality(choices))::int]
$$;

-- base64url without padding, written independently of both implementations.
CREATE FUNCTION pg_temp.b64u(b bytea) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT rtrim(translate(replace(encode(b, 'base64'), E'\n', ''), '+/', '-_'), '=')
$$;

-- The outcome of a query: its rows as text, or its error.
CREATE FUNCTION pg_temp.outcome(q text) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    r text;
    st text;
    msg text;
    det text;
BEGIN
    EXECUTE 'SELECT string_agg(x::text, '' | '') FROM (' || q || ') x' INTO r;
    RETURN 'rows: ' || coalesce(r, '<null>');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    RETURN 'ERROR ' || st || ': ' || msg || coalesce(' / ' || nullif(det, ''), '');
END $$;

-- ---------- the inputs ----------

-- calls(fn, args): fn is the function, args its arguments as SQL literals (%L).
CREATE TEMP TABLE calls (id serial PRIMARY KEY, fn text, a text, b text, c text, argc int,
                         bin bytea, note text);

-- url_encode: random bytes of every length around the 57-byte line of encode()
INSERT INTO calls (fn, bin, note)
SELECT 'url_encode', pg_temp.rnd_bytes(n), 'random bytes ' || n
FROM generate_series(0, 130) n
UNION ALL SELECT 'url_encode', pg_temp.rnd_bytes(1000 + floor(random() * 3000)::int), 'long bytes'
FROM generate_series(1, 10)
UNION ALL SELECT 'url_encode', NULL, 'NULL';

-- url_decode: canonical and not, padded, spaced, other alphabets, multibyte, NULL
INSERT INTO calls (fn, a, note)
SELECT 'url_decode', pg_temp.b64u(pg_temp.rnd_bytes(n)), 'canonical ' || n
FROM generate_series(0, 80) n
UNION ALL SELECT 'url_decode', pg_temp.rnd_text(n, 'b64url'), 'b64url chars ' || n
FROM generate_series(0, 40) n
UNION ALL SELECT 'url_decode', pg_temp.rnd_text(1 + floor(random() * 40)::int, 'b64any'), 'mixed alphabet'
FROM generate_series(1, 120)
UNION ALL SELECT 'url_decode', pg_temp.rnd_text(1 + floor(random() * 12)::int, 'multibyte'), 'multibyte'
FROM generate_series(1, 30)
UNION ALL SELECT 'url_decode', x, 'chosen'
FROM unnest(ARRAY['', 'a', 'ab', 'abc', 'abcd', 'YR', 'YW', 'YWI', 'YWJ', 'ab=c', 'YQ==', 'YQ=', 'YWJj===',
                  'YW Jj', ' YWJj', E'YW\nJj', E'YWJj\t', 'Y W J j Z A', '+/+/', '-_-_', '====', '=', 'é', 'aé',
                  'YWJjZA', 'YWJjZA=', 'YWJjZA==', 'YWJjZ', '..', 'a.b', E'\\x00']) x
UNION ALL SELECT 'url_decode', NULL, 'NULL';

-- try_cast_double
INSERT INTO calls (fn, a, note)
SELECT 'try_cast_double', x, 'chosen'
FROM unnest(ARRAY['1', '-1', '1.5e9', ' 12 ', '12 ', 'inf', '-inf', 'Infinity', '-Infinity', 'infinity',
                  'NaN', 'nan', '1e308', '1e309', '1e400', '-1e400', '1e-300', '1e-400', '0x10', '0x1p3',
                  '', ' ', 'abc', '1,5', '1.5.5', '+3', '.5', '5.', '1e', 'true', 'null', '"1"', '١٢',
                  '4102444800', '253402300799', '-0', '00012', E'\t7\n']) x
UNION ALL SELECT 'try_cast_double', pg_temp.rnd_text(1 + floor(random() * 8)::int,
                                                     pg_temp.pick('ascii', 'alnum', 'multibyte')), 'random'
FROM generate_series(1, 40)
UNION ALL SELECT 'try_cast_double', (random() * 10 ^ floor(random() * 30 - 10))::text, 'random number'
FROM generate_series(1, 20)
UNION ALL SELECT 'try_cast_double', NULL, 'NULL';

-- secrets and algorithms shared by the signing inputs
CREATE TEMP TABLE secrets AS
SELECT s FROM unnest(ARRAY['', 'secret', 'badsecret', ' ', 'a', 'ünïcödé 秘密 🔑',
                           repeat('k', 64), repeat('x', 129), repeat('long secret ', 30)]) s
UNION ALL SELECT pg_temp.rnd_text(floor(random() * 80)::int, pg_temp.pick('ascii', 'multibyte', 'any'))
FROM generate_series(1, 12);
CREATE TEMP TABLE algs AS
SELECT a FROM unnest(ARRAY['HS256', 'HS384', 'HS512', 'bogus', '', 'hs256', 'HS256 ', 'RS256', 'none',
                           'HS256"', 'é']) a;

-- payloads: objects of every shape, whitespace kept, multibyte, long, not objects
CREATE TEMP TABLE payloads (p text);
INSERT INTO payloads
SELECT x FROM unnest(ARRAY[
    '{"sub":"1234567890","name":"John Doe","admin":true}',
    '{}', '[]', '[1,2,3]', '"a string"', '42', 'true', 'null',
    E'{\n  "sub" : "spaced",\n\t"exp" :  4102444800\n}',
    '{"a":{"b":{"c":[1,{"d":null}]}}}',
    '{"name":"Zoë 日本 🎉","emoji":"🙂🙃"}',
    '{"esc":"quote \" backslash \\ slash \/ \u00e9 \ud83d\ude00 \n"}',
    '{"nul":"\u0000"}', '{"lone":"\ud800"}', '{"exp":4102444800,"exp":1000}',
    '{"dup":1,"dup":2}', ' {"lead":"space"} ']) x
UNION ALL
SELECT json_build_object('sub', pg_temp.rnd_text(1 + floor(random() * 20)::int, 'multibyte'),
                         'n', floor(random() * 1e6)::int,
                         'admin', random() < 0.5,
                         'text', pg_temp.rnd_text(floor(random() * 200)::int, pg_temp.pick('ascii', 'multibyte')),
                         'exp', 4102444800)::text
FROM generate_series(1, 25)
UNION ALL
SELECT json_build_object('blob', pg_temp.rnd_text(500 + floor(random() * 2500)::int, 'ascii'))::text
FROM generate_series(1, 4);

-- sign and algorithm_sign
INSERT INTO calls (fn, a, b, c, argc, note)
SELECT 'sign', p.p, s.s, a.a, 3, 'sign'
FROM payloads p, secrets s, algs a
WHERE random() < 0.08
UNION ALL SELECT 'sign', p.p, s.s, NULL, 2, 'sign, default algorithm'
FROM payloads p, secrets s WHERE random() < 0.1
UNION ALL SELECT 'sign', x.p, x.s, x.a, 3, 'NULLs'
FROM (VALUES (NULL, 'secret', 'HS256'), ('{}', NULL, 'HS256'), ('{}', 'secret', NULL),
             (NULL, 'secret', 'bogus'), ('{}', NULL, 'bogus'), (NULL, NULL, NULL)) x(p, s, a);
INSERT INTO calls (fn, a, b, c, argc, note)
SELECT 'algorithm_sign', pg_temp.rnd_text(floor(random() * 300)::int, pg_temp.pick('ascii', 'multibyte')),
       s.s, a.a, 3, 'algorithm_sign'
FROM secrets s, algs a WHERE random() < 0.3
UNION ALL SELECT 'algorithm_sign', x.t, x.s, x.a, 3, 'NULLs'
FROM (VALUES (NULL, 'secret', 'HS256'), ('x', NULL, 'HS256'), ('x', 'secret', NULL),
             (NULL, 'secret', 'bogus'), ('x', NULL, 'bogus'), ('', '', 'HS512')) x(t, s, a);

-- verify: tokens signed right and wrong, then broken in every way.
-- Claims with every kind of nbf and exp (the time check only runs when the
-- signature matches or is missing).
CREATE TEMP TABLE times (claims text);
INSERT INTO times
SELECT '{' || string_agg(m, ',') || '}'
FROM (SELECT i, pg_temp.pick(
          '"exp":1000', '"exp":4102444800', '"exp":"4102444800"', '"exp":"soon"', '"exp":""',
          '"exp":" 4102444800 "', '"exp":true', '"exp":null', '"exp":{"a":1}', '"exp":[1]',
          '"exp":"NaN"', '"exp":"Infinity"', '"exp":"-Infinity"', '"exp":"inf"', '"exp":1e300',
          '"exp":-1e20', '"exp":1e400', '"exp":1e-400', '"exp":"0x10"', '"exp":4102444800.5',
          '"\u0065xp":1000', '"exp":"\u0034102444800"', '"exp":' || (extract(epoch FROM now()) + 1)::text,
          '"exp":' || extract(epoch FROM now())::text, '"exp":' || (extract(epoch FROM now()) - 0.5)::text,
          '"nbf":1000', '"nbf":4102444800', '"nbf":"1000"', '"nbf":"Infinity"', '"nbf":"-Infinity"',
          '"nbf":"NaN"', '"nbf":1e300', '"nbf":null', '"nbf":false', '"nbf":' || extract(epoch FROM now())::text,
          '"nbf":' || (extract(epoch FROM now()) + 0.5)::text, '"iat":"x"', '"sub":"s"',
          '"nested":{"exp":1000}', '"exp":4102444800,"exp":1000', '"exp":1000,"exp":4102444800') AS m
      FROM generate_series(1, 200) i, generate_series(1, 3) k
      WHERE random() < 0.8) per_member
GROUP BY i;
INSERT INTO times VALUES ('{}'), ('[{"exp":1000}]'), ('"exp"'), ('{"nbf":2000,"exp":1000}'),
    ('{"nbf":1000,"exp":1000}'), ('{"nbf":"Infinity","exp":"Infinity"}'), ('{"exp":"\u0000"}'),
    ('{"other":"\u0000","exp":4102444800}'), ('{"x":"\ud83d","exp":4102444800}');

-- Random JSON documents, to stress both ways of reading the claims (a fast scan of
-- the usual shapes, PostgreSQL's parser for the rest): nesting, white space, every
-- kind of number and literal, escapes, duplicate and escaped names, and one random
-- edit in some of them (which mostly makes them invalid).
CREATE FUNCTION pg_temp.rnd_ws() RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT pg_temp.pick('', '', '', ' ', '  ', E'\n', E'\t', E'\r\n ')
$$;
CREATE FUNCTION pg_temp.rnd_scalar() RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT pg_temp.pick('1000', '4102444800', '-1', '0', '1.5', '1e3', '1E+10', '-0.0', '1e400', '2e-5',
        '"4102444800"', '"1000"', '" 12 "', '"x"', '""', 'true', 'false', 'null', '"\u0031000"',
        '"a\"b"', '"\\"', '"\/"', '"é"', '"\u00e9"', '"\ud83d\ude00"', '"\t"', '"🙂"', '[]', '{}',
        '01', '1.', '.5', '+1', '-', 'tru', 'nul', 'True', '"\u0000"', '"\ud800"', '"\q"',
        E'"raw\ttab"', '"x', '1e', '0x10', '1 2', '-0', '1.0e-0')
$$;
CREATE FUNCTION pg_temp.rnd_json(depth int, top boolean DEFAULT false) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    r float8 := random();
    s text;
BEGIN
    IF NOT top AND (depth <= 0 OR r < 0.45) THEN
        RETURN pg_temp.rnd_scalar();
    END IF;
    IF top OR r < 0.8 THEN
        s := '{' || pg_temp.rnd_ws();
        FOR i IN 1 .. floor(random() * (CASE WHEN top THEN 6 ELSE 3 END))::int LOOP
            s := s || CASE WHEN i > 1 THEN ',' || pg_temp.rnd_ws() ELSE '' END
                   || pg_temp.pick('"exp"', '"nbf"', '"exp"', '"nbf"', '"iat"', '"sub"', '"e\u0078p"',
                                   '"ex"', '""', '"exp "', '"EXP"', '"n\u0062f"')
                   || pg_temp.rnd_ws() || ':' || pg_temp.rnd_ws() || pg_temp.rnd_json(depth - 1)
                   || pg_temp.rnd_ws();
        END LOOP;
        RETURN s || '}';
    END IF;
    s := '[' || pg_temp.rnd_ws();
    FOR i IN 1 .. floor(random() * 3)::int LOOP
        s := s || CASE WHEN i > 1 THEN ',' || pg_temp.rnd_ws() ELSE '' END || pg_temp.rnd_json(depth - 1);
    END LOOP;
    RETURN s || pg_temp.rnd_ws() || ']';
END $$;
CREATE FUNCTION pg_temp.mutate(s text) RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT CASE WHEN random() < 0.75 THEN s
                ELSE overlay(s PLACING pg_temp.pick('', ',', ':', '{', '}', '[', ']', '"', E'\\', ' ', 'x', '0')
                             FROM 1 + floor(random() * length(s))::int
                             FOR floor(random() * 2)::int) END
$$;
INSERT INTO times
SELECT pg_temp.mutate(pg_temp.rnd_json(3, true)) FROM generate_series(1, 250);

CREATE TEMP TABLE tokens (tok text, secret text, alg text, argc int, note text);
-- well-formed: right secret, wrong secret, wrong algorithm
INSERT INTO tokens
SELECT t.tok, CASE WHEN random() < 0.75 THEN t.s ELSE t.s || 'x' END,
       CASE WHEN random() < 0.85 THEN t.a ELSE pg_temp.pick('HS256', 'HS384', 'HS512', 'bogus') END, 3, 'signed'
FROM (SELECT x.claims, s.s, a.a,
             pg_temp.b64u(convert_to('{"alg":"' || a.a || '","typ":"JWT"}', 'utf8')) || '.' ||
             pg_temp.b64u(convert_to(x.claims, 'utf8')) AS input
      FROM times x, (SELECT s FROM secrets WHERE s <> '' LIMIT 4) s,
           unnest(ARRAY['HS256', 'HS384', 'HS512']) a(a)
      WHERE random() < 0.3) u,
     LATERAL (SELECT u.input || '.' ||
                     pg_temp.b64u(:crypto.hmac(convert_to(u.input, 'utf8'), convert_to(u.s, 'utf8'),
                                       lower(replace(u.a, 'HS', 'sha')))) AS tok,
                     u.s, u.a) t;
INSERT INTO tokens
SELECT tok, secret, NULL, 2, 'default algorithm' FROM tokens WHERE alg = 'HS256' AND random() < 0.3;

-- segments that break decoding, UTF-8 or JSON, each with a signature that matches
-- (so that the payload is read), one that does not, and none
CREATE TEMP TABLE segments (seg text, note text);
INSERT INTO segments
SELECT pg_temp.b64u(b), note FROM (VALUES
    ('\x7b22616c67223a224853323536227d'::bytea, 'json object'),
    ('\xff', 'not UTF-8'), ('\xc3', 'truncated UTF-8'), ('\x7b7d00', 'NUL byte'), ('\xeda080', 'surrogate UTF-8'),
    (convert_to('hello', 'utf8'), 'not JSON'), (convert_to('{', 'utf8'), 'truncated JSON'),
    (convert_to('', 'utf8'), 'empty'), (convert_to('{"a":1}x', 'utf8'), 'trailing garbage'),
    (convert_to('{"a":"\u0000"}', 'utf8'), '\u0000'), (convert_to('{"a":"\udc00"}', 'utf8'), 'lone low surrogate'),
    (convert_to('{"a":"\q"}', 'utf8'), 'bad escape'), (convert_to(E'{"a":"\t"}', 'utf8'), 'raw tab'),
    (convert_to('{"a":01}', 'utf8'), 'leading zero'), (convert_to('{"exp":1000', 'utf8'), 'unterminated'),
    (convert_to('[1,2', 'utf8'), 'open array'), (convert_to('{"exp":"\u00zz"}', 'utf8'), 'bad \u'),
    (convert_to('{"exp":1000} ', 'utf8'), 'trailing space')) v(b, note)
UNION ALL SELECT x, 'bad base64' FROM unnest(ARRAY['!!!', 'a', 'ab=c', 'YW Jj', 'abc=', 'YQ==', 'e30+', 'e30/',
                                                   'é', 'e3 0', 'eyJ', 'e30', 'e31']) x;
INSERT INTO tokens
SELECT h || '.' || p || '.' || sig, 'secret', 'HS256', 3, 'broken: ' || hn || ' / ' || pn || ' / ' || sn
FROM (SELECT h.seg h, h.note hn, p.seg p, p.note pn FROM segments h, segments p WHERE random() < 0.25) x,
     LATERAL (SELECT pg_temp.b64u(:crypto.hmac(convert_to(x.h || '.' || x.p, 'utf8'), 'secret', 'sha256')), 'matching'
              UNION ALL SELECT 'AAAA', 'wrong') s(sig, sn);
INSERT INTO tokens
SELECT h.seg || '.' || p.seg, 'secret', pg_temp.pick('HS256', 'bogus'), 3, 'two parts: ' || h.note || ' / ' || p.note
FROM segments h, segments p WHERE random() < 0.1;
INSERT INTO tokens
SELECT x, pg_temp.pick('secret', NULL), pg_temp.pick('HS256', 'bogus', NULL), 3, 'shapes'
FROM unnest(ARRAY['', '.', '..', '...', 'a', 'a.', '.a', 'a.b', 'a..b', 'e30', 'e30.', 'e30.e30',
                  'e30.e30.', 'e30.e30..', 'e30.e30.x.y', 'e30.e30.x.y.z', '.e30.', ' e30.e30.x', 'e30 .e30.x']) x,
     generate_series(1, 3);
-- four and five parts after a valid three-part token, NULL arguments
INSERT INTO tokens
SELECT tok || pg_temp.pick('.', '.x', '.x.y', '..'), secret, alg, 3, 'extra parts'
FROM tokens WHERE note = 'signed' AND random() < 0.2;
INSERT INTO tokens
SELECT x.t, x.s, x.a, 3, 'NULLs'
FROM (SELECT tok FROM tokens WHERE note = 'signed' LIMIT 1) g,
     LATERAL (VALUES (NULL, 'secret', 'HS256'), (NULL, 'secret', 'bogus'), (NULL, NULL, NULL),
                     (g.tok, NULL, 'HS256'), (g.tok, NULL, 'bogus'), (g.tok, 'secret', NULL),
                     (g.tok, NULL, NULL)) x(t, s, a);

INSERT INTO calls (fn, a, b, c, argc, note)
SELECT 'verify', tok, secret, alg, argc, note FROM tokens;

-- ---------- run and compare ----------

CREATE TEMP TABLE outcomes (call_id int, how text, schema text, outcome text);

DO $do$
DECLARE
    schemas text[] := string_to_array(current_setting('pgjwt_differential.schemas'), ',');
    c record;
    s text;
    args text;
    q text;
    hows text[];
BEGIN
    FOR c IN SELECT * FROM calls ORDER BY id LOOP
        FOREACH s IN ARRAY schemas LOOP
            args := CASE c.fn
                WHEN 'url_encode' THEN format('%L::bytea', c.bin)
                WHEN 'url_decode' THEN format('%L::text', c.a)
                WHEN 'try_cast_double' THEN format('%L::text', c.a)
                WHEN 'sign' THEN format('%L::json, %L::text', c.a, c.b)
                              || CASE WHEN c.argc = 3 THEN format(', %L::text', c.c) ELSE '' END
                ELSE format('%L::text, %L::text', c.a, c.b)
                     || CASE WHEN c.argc = 3 THEN format(', %L::text', c.c) ELSE '' END
                END;
            IF c.fn = 'verify' THEN
                hows := ARRAY[
                    format('SELECT * FROM %I.verify(%s)', s, args),
                    format('SELECT valid FROM %I.verify(%s)', s, args),
                    format('SELECT header FROM %I.verify(%s)', s, args),
                    format('SELECT payload FROM %I.verify(%s)', s, args),
                    format('SELECT valid, header::text FROM %I.verify(%s)', s, args),
                    format('SELECT %I.verify(%s)', s, args),
                    format('SELECT v.* FROM pg_temp.calls c, %I.verify(c.a, c.b%s) v WHERE c.id = %s',
                           s, CASE WHEN c.argc = 3 THEN ', c.c' ELSE '' END, c.id),
                    format('SELECT v.valid FROM pg_temp.calls c, %I.verify(c.a, c.b%s) v WHERE c.id = %s',
                           s, CASE WHEN c.argc = 3 THEN ', c.c' ELSE '' END, c.id),
                    format('SELECT v.payload, v.valid FROM pg_temp.calls c, %I.verify(c.a, c.b%s) v WHERE c.id = %s',
                           s, CASE WHEN c.argc = 3 THEN ', c.c' ELSE '' END, c.id)];
            ELSIF c.fn = 'url_encode' THEN
                hows := ARRAY[format('SELECT %I.url_encode(%s)', s, args),
                              format('SELECT %I.url_encode(c.bin) FROM pg_temp.calls c WHERE c.id = %s', s, c.id)];
            ELSIF c.fn IN ('url_decode', 'try_cast_double') THEN
                hows := ARRAY[format('SELECT %I.%I(%s)', s, c.fn, args),
                              format('SELECT %I.%I(c.a) FROM pg_temp.calls c WHERE c.id = %s', s, c.fn, c.id)];
            ELSIF c.fn = 'sign' THEN
                hows := ARRAY[format('SELECT %I.sign(%s)', s, args),
                              format('SELECT %I.sign(c.a::json, c.b%s) FROM pg_temp.calls c WHERE c.id = %s',
                                     s, CASE WHEN c.argc = 3 THEN ', c.c' ELSE '' END, c.id)];
            ELSE
                hows := ARRAY[format('SELECT %I.algorithm_sign(%s)', s, args),
                              format('SELECT %I.algorithm_sign(c.a, c.b, c.c) FROM pg_temp.calls c WHERE c.id = %s',
                                     s, c.id)];
            END IF;
            FOR i IN 1 .. cardinality(hows) LOOP
                INSERT INTO outcomes VALUES (c.id, i::text, s, pg_temp.outcome(hows[i]));
            END LOOP;
        END LOOP;
    END LOOP;
END
$do$;

-- every implementation against the first
CREATE TEMP VIEW mismatches AS
SELECT c.id, c.fn, c.note, o.how, o.schema, oracle.outcome AS expected, o.outcome AS got,
       c.a, c.b, c.c
FROM outcomes o
JOIN outcomes oracle ON oracle.call_id = o.call_id AND oracle.how = o.how
                    AND oracle.schema = split_part(:'schemas', ',', 1)
JOIN calls c ON c.id = o.call_id
WHERE o.schema <> oracle.schema AND o.outcome IS DISTINCT FROM oracle.outcome;

SELECT format(E'MISMATCH %s #%s (%s) form %s, %s\n  args:     %s | %s | %s\n  expected: %s\n  got:      %s',
              fn, id, note, how, schema, left(a, 200), left(b, 60), c, left(expected, 300), left(got, 300))
FROM mismatches ORDER BY id, how LIMIT 40;

-- what the inputs covered: outcomes by kind (errors by SQLSTATE)
SELECT format('covered: %-16s %s', fn, string_agg(format('%s x%s', k, n), ', ' ORDER BY k))
FROM (SELECT c.fn, CASE WHEN o.outcome LIKE 'ERROR%' THEN left(o.outcome, 11)
                        WHEN c.fn = 'verify' AND o.how = '2' THEN o.outcome ELSE 'rows' END AS k,
             count(*) AS n
      FROM outcomes o JOIN calls c ON c.id = o.call_id
      WHERE o.schema = split_part(:'schemas', ',', 1)
      GROUP BY 1, 2) x
GROUP BY fn ORDER BY fn;

SELECT format('differential: %s calls, %s comparisons, %s mismatches',
              (SELECT count(*) FROM calls),
              (SELECT count(*) FROM outcomes WHERE schema <> split_part(:'schemas', ',', 1)),
              (SELECT count(*) FROM mismatches));
ROLLBACK;
