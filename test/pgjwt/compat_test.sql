-- test/pgjwt/compat_test.sql: the pgjwt drop-in (extension pgjwt), as pgTAP tests.
--
-- What pgjwt 0.2.0's users rely on (known-answer tokens, its error codes and messages,
-- verify()'s three columns) and the corners of its algorithm: base64 line wrapping,
-- unpadded and non-canonical base64url, multibyte and multi-line payloads kept as
-- written, tokens of 1, 2 and 4 parts, bad base64, bad UTF-8, bad JSON, every kind of
-- nbf and exp, SQL's three-valued logic, the columns a query does not read; then the
-- strict mode (jwt.pgjwt_strict). Independent HMACs come from pgcrypto.
--
-- Run as a superuser in a database where jwt is installed (test/pgjwt_compat.t.sh):
--   psql -X -v ON_ERROR_STOP=1 -f test/pgjwt/compat_test.sql
-- Everything happens in one transaction, rolled back.

\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only on
\pset pager off

SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
BEGIN;
CREATE EXTENSION pgjwt;
SELECT n.nspname AS crypto FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pgcrypto' \gset
SET LOCAL search_path = pgjwt, public;
SET LOCAL TIME ZONE 'UTC';

-- Test data: the jwt.io example claims, and tokens relative to this transaction's time.
CREATE TEMP TABLE kat (alg text, token text);
INSERT INTO kat VALUES
  ('HS256', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ'),
  ('HS384', 'eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.DtVnCyiYCsCbg8gUP-579IC2GJ7P3CtFw6nfTTPw-0lZUzqgWAo9QIQElyxOpoRm'),
  ('HS512', 'eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.YI0rUGDq5XdRw8vW2sDLRNFMN8Waol03iSFH8I4iLzuYK7FKHaQYWzPt0BJFGrAmKJ6SjY0mJIMZqNQJFVpkuw');
\set claims '\'{"sub":"1234567890","name":"John Doe","admin":true}\''
\set now_s 'extract(epoch FROM now())'

-- base64url of bytes, and a token with a chosen header and payload text signed with
-- secret, computed here without the functions under test
CREATE FUNCTION pg_temp.b64u(b bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT rtrim(translate(replace(encode(b, 'base64'), E'\n', ''), '+/', '-_'), '=')
$$;
CREATE FUNCTION pg_temp.forge(header text, payload bytea, secret text, digest text DEFAULT 'sha256')
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    input text := pg_temp.b64u(convert_to(header, 'utf8')) || '.' || pg_temp.b64u(payload);
BEGIN
    RETURN input || '.' || pg_temp.b64u(public.hmac(convert_to(input, 'utf8'), convert_to(secret, 'utf8'), digest));
END $$;
CREATE FUNCTION pg_temp.claims_token(claims text, secret text DEFAULT 'secret') RETURNS text
LANGUAGE sql AS $$
    SELECT pg_temp.forge('{"alg":"HS256","typ":"JWT"}', convert_to(claims, 'utf8'), secret)
$$;
-- SQLSTATE: message / detail of the error a statement raises (NULL if none)
CREATE FUNCTION pg_temp.error_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    det text;
BEGIN
    EXECUTE q;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    RETURN st || ': ' || msg || coalesce(' / ' || nullif(det, ''), '');
END $$;
CREATE FUNCTION pg_temp.valid(claims text) RETURNS boolean LANGUAGE sql AS $$
    SELECT valid FROM pgjwt.verify(pg_temp.claims_token(claims), 'secret')
$$;

SELECT plan(124);

-- ---------- the extension ----------
SELECT has_schema('pgjwt', 'CREATE EXTENSION pgjwt creates the schema pgjwt');
SELECT is((SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.oid::regprocedure::text)
           FROM pg_proc p WHERE p.pronamespace = 'pgjwt'::regnamespace AND p.proname NOT LIKE '\_%'),
          'algorithm_sign(text,text,text), sign(json,text,text), try_cast_double(text), url_decode(text), url_encode(bytea), verify(text,text,text)',
          'pgjwt 0.2.0''s functions, with its argument types');
SELECT is(pg_get_function_arguments('pgjwt.sign(json,text,text)'::regprocedure),
          'payload json, secret text, algorithm text DEFAULT ''HS256''::text', 'sign: argument names and default');
SELECT is(pg_get_function_result('pgjwt.verify(text,text,text)'::regprocedure),
          'TABLE(header json, payload json, valid boolean)', 'verify returns TABLE(header json, payload json, valid boolean)');
SELECT is(pg_get_function_arguments('pgjwt.verify(text,text,text)'::regprocedure),
          'token text, secret text, algorithm text DEFAULT ''HS256''::text', 'verify: argument names and default');
SELECT is((SELECT string_agg(proname || '=' || provolatile::text || CASE WHEN proisstrict THEN 's' ELSE '' END, ' ' ORDER BY proname)
           FROM pg_proc WHERE pronamespace = 'pgjwt'::regnamespace AND proname NOT LIKE '\_%'),
          'algorithm_sign=i sign=i try_cast_double=i url_decode=i url_encode=i verify=s',
          'volatility as pgjwt declares it (IMMUTABLE, not STRICT), verify STABLE');
SELECT is((SELECT count(*)::int FROM pg_proc WHERE pronamespace = 'pgjwt'::regnamespace AND proparallel <> 's'),
          0, 'every function is PARALLEL SAFE');

-- ---------- sign: known answers, algorithms, errors ----------
SELECT is(sign(:claims, 'secret'), (SELECT token FROM kat WHERE alg = 'HS256'), 'sign: HS256 by default (jwt.io example)');
SELECT is(sign(:claims, 'secret', 'HS256'), (SELECT token FROM kat WHERE alg = 'HS256'), 'sign: HS256');
SELECT is(sign(:claims, 'secret', 'HS384'), (SELECT token FROM kat WHERE alg = 'HS384'), 'sign: HS384');
SELECT is(sign(:claims, 'secret', 'HS512'), (SELECT token FROM kat WHERE alg = 'HS512'), 'sign: HS512');
SELECT throws_ok($$SELECT sign('{"a":1}', 'secret', 'bogus')$$, '22023', 'Cannot use "": No such hash algorithm',
                 'sign: an unknown algorithm raises pgcrypto''s error');
SELECT throws_ok($$SELECT sign('{"a":1}', 'secret', 'hs256')$$, '22023', 'Cannot use "": No such hash algorithm',
                 'sign: algorithm names are case-sensitive');
SELECT throws_ok($$SELECT sign('{"a":1}', 'secret', 'RS256')$$, '22023', 'Cannot use "": No such hash algorithm',
                 'sign: only HMAC algorithms');
SELECT ok(sign(NULL, 'secret') IS NULL AND sign('{}', NULL) IS NULL AND sign('{}', 'secret', NULL) IS NULL,
          'sign: any NULL argument gives NULL');
SELECT ok(sign(NULL, 'secret', 'bogus') IS NULL AND sign('{}', NULL, 'bogus') IS NULL,
          'sign: with a NULL payload or secret, even an unknown algorithm gives NULL (hmac() is strict)');
SELECT is(sign('{"a":1}', ''), pg_temp.forge('{"alg":"HS256","typ":"JWT"}', '{"a":1}', ''),
          'sign: an empty secret is used as it is');
SELECT is(sign('{"a":1}', repeat('long secret ', 20), 'HS512'),
          pg_temp.forge('{"alg":"HS512","typ":"JWT"}', '{"a":1}', repeat('long secret ', 20), 'sha512'),
          'sign: a secret longer than the hash block is hashed first (HMAC)');
SELECT is(sign('{"a":1}', 'sécret 秘密 🔑', 'HS384'),
          pg_temp.forge('{"alg":"HS384","typ":"JWT"}', '{"a":1}', 'sécret 秘密 🔑', 'sha384'),
          'sign: a multibyte secret is its UTF-8 bytes');
SELECT is(split_part(sign(E'{\n  "sub" : "spaced" ,\n\t"n": 1 }', 'secret'), '.', 2),
          pg_temp.b64u(convert_to(E'{\n  "sub" : "spaced" ,\n\t"n": 1 }', 'utf8')),
          'sign: the payload is the json text as written, white space and line breaks included');
SELECT is(sign(json_build_object('text', repeat('0123456789', 30)), 'secret'),
          pg_temp.forge('{"alg":"HS256","typ":"JWT"}', convert_to(json_build_object('text', repeat('0123456789', 30))::text, 'utf8'), 'secret'),
          'sign: a payload longer than 57 bytes (encode() wraps its base64 lines)');
SELECT ok(strpos(sign(json_build_object('text', repeat('0123456789', 30)), 'secret'), E'\n') = 0,
          'sign: no line break in a long token');
SELECT is(split_part(sign('{"name":"Zoë 日本 🎉"}', 'secret'), '.', 2), pg_temp.b64u(convert_to('{"name":"Zoë 日本 🎉"}', 'utf8')),
          'sign: a multibyte payload is its UTF-8 bytes');
SELECT is(sign('[1,2]', 'secret'), pg_temp.forge('{"alg":"HS256","typ":"JWT"}', '[1,2]', 'secret'),
          'sign: any json, not only objects');
SELECT ok(sign('{"a":1}', 'secret') !~ '[+/=]', 'sign: base64url without padding');

-- ---------- url_encode, url_decode, algorithm_sign, try_cast_double ----------
SELECT is(url_encode('\xfbff'::bytea), '-_8', 'url_encode: - and _ for + and /, no padding');
SELECT is(url_encode(''::bytea), '', 'url_encode: empty');
SELECT is(url_encode(decode(repeat('00ff', 60), 'hex')), pg_temp.b64u(decode(repeat('00ff', 60), 'hex')),
          'url_encode: 120 bytes, no line breaks');
SELECT ok(url_encode(NULL) IS NULL AND url_decode(NULL) IS NULL, 'url_encode, url_decode: NULL gives NULL');
SELECT is(url_decode('YQ'), '\x61'::bytea, 'url_decode: unpadded, 2 characters');
SELECT is(url_decode('YWI'), '\x6162'::bytea, 'url_decode: unpadded, 3 characters');
SELECT is(url_decode('YQ=='), '\x61'::bytea, 'url_decode: padded');
SELECT is(url_decode('-_8'), '\xfbff'::bytea, 'url_decode: - and _');
SELECT is(url_decode('+/8'), '\xfbff'::bytea, 'url_decode: + and / as well (decode() accepts them)');
SELECT is(url_decode('YR'), '\x61'::bytea, 'url_decode: spare bits are ignored, as by decode()');
SELECT is(url_decode(''), ''::bytea, 'url_decode: empty');
SELECT is(url_decode('YWJj    ZGVm'), '\x616263646566'::bytea, 'url_decode: white space is skipped, as by decode()');
SELECT throws_ok($$SELECT url_decode('!!!')$$, '22023', 'invalid symbol "!" found while decoding base64 sequence',
                 'url_decode: decode()''s error for a bad character');
SELECT throws_ok($$SELECT url_decode('é')$$, '22023', 'invalid symbol "é" found while decoding base64 sequence',
                 'url_decode: a multibyte character');
SELECT throws_ok($$SELECT url_decode('a')$$, '22023', 'unexpected "=" while decoding base64 sequence',
                 'url_decode: a lone character (padded with ===)');
SELECT throws_ok($$SELECT url_decode('YW Jj')$$, '22023', 'unexpected "=" while decoding base64 sequence',
                 'url_decode: padding counts the space, as pgjwt does');
SELECT is(algorithm_sign('abc.def', 'secret', 'HS256'),
          pg_temp.b64u(public.hmac(convert_to('abc.def', 'utf8'), 'secret', 'sha256')), 'algorithm_sign: HMAC of the text');
SELECT throws_ok($$SELECT algorithm_sign('abc', 'secret', NULL)$$, '22023', 'Cannot use "": No such hash algorithm',
                 'algorithm_sign: a NULL algorithm is unknown');
SELECT ok(algorithm_sign(NULL, 'secret', 'bogus') IS NULL AND algorithm_sign('x', NULL, 'bogus') IS NULL,
          'algorithm_sign: NULL text or secret gives NULL');
SELECT is(ARRAY[try_cast_double('1.5e9'), try_cast_double(' 12 '), try_cast_double('Infinity'), try_cast_double('-inf')],
          ARRAY[1.5e9, 12, 'Infinity', '-Infinity']::float8[], 'try_cast_double: what the float cast accepts');
SELECT ok(try_cast_double('soon') IS NULL AND try_cast_double('') IS NULL AND try_cast_double('1e400') IS NULL
          AND try_cast_double(NULL) IS NULL, 'try_cast_double: NULL where the cast raises');
SELECT ok(try_cast_double('NaN') = 'NaN', 'try_cast_double: NaN is a float');

-- ---------- verify: known answers ----------
SELECT results_eq($$SELECT header::text, payload::text, valid FROM verify((SELECT token FROM kat WHERE alg = 'HS256'), 'secret')$$,
                  $$VALUES ('{"alg":"HS256","typ":"JWT"}', '{"sub":"1234567890","name":"John Doe","admin":true}', true)$$,
                  'verify: HS256, the right secret');
SELECT results_eq($$SELECT header::text, payload::text, valid FROM verify((SELECT token FROM kat WHERE alg = 'HS256'), 'badsecret')$$,
                  $$VALUES ('{"alg":"HS256","typ":"JWT"}', '{"sub":"1234567890","name":"John Doe","admin":true}', false)$$,
                  'verify: a wrong secret gives valid false, and the data');
SELECT results_eq($$SELECT valid FROM kat, verify(token, 'secret', alg) ORDER BY alg$$, $$VALUES (true), (true), (true)$$,
                  'verify: HS256, HS384, HS512');
SELECT is((SELECT valid FROM verify((SELECT token FROM kat WHERE alg = 'HS384'), 'secret')), false,
          'verify: the algorithm is the caller''s, not the header''s (an HS384 token under HS256)');
SELECT throws_ok($$SELECT * FROM verify((SELECT token FROM kat WHERE alg = 'HS256'), 'secret', 'bogus')$$,
                 '22023', 'Cannot use "": No such hash algorithm', 'verify: an unknown algorithm raises');
SELECT is((SELECT payload::text FROM verify(sign(E'{ "a" :\n 1 }', 'secret'), 'secret')), E'{ "a" :\n 1 }',
          'verify: the payload exactly as signed, white space included');
SELECT is((SELECT payload::text FROM verify(sign('{"name":"Zoë 日本 🎉"}', 'secret'), 'secret')), '{"name":"Zoë 日本 🎉"}',
          'verify: a multibyte payload');
SELECT ok((SELECT valid FROM verify(sign(json_build_object('text', repeat('x', 5000)), 'secret'), 'secret')),
          'verify: a 5000-byte payload');

-- ---------- verify: malformed tokens ----------
SELECT throws_ok($$SELECT * FROM verify('eyJhbGciOiJIUzI1NiIBOGUScCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.x', 'secret')$$,
                 '22P02', 'invalid input syntax for type json', 'verify: a header that decodes to no JSON');
SELECT throws_ok($$SELECT * FROM verify('!!!.e30.x', 'secret')$$,
                 '22023', 'invalid symbol "!" found while decoding base64 sequence', 'verify: a header that is no base64');
SELECT throws_ok($$SELECT * FROM verify(pg_temp.forge('{"alg":"HS256"}', '\xff', 'secret'), 'secret')$$,
                 '22021', 'invalid byte sequence for encoding "UTF8": 0xff', 'verify: a payload that is no UTF-8');
SELECT throws_ok($$SELECT * FROM verify(pg_temp.forge('{"alg":"HS256"}', '\x7b7d00', 'secret'), 'secret')$$,
                 '22021', 'invalid byte sequence for encoding "UTF8": 0x00', 'verify: a NUL byte in the payload');
SELECT throws_ok($$SELECT * FROM verify(pg_temp.forge('{"alg":"HS256"}', convert_to('not json', 'utf8'), 'secret'), 'secret')$$,
                 '22P02', 'invalid input syntax for type json', 'verify: a payload that is no JSON');
SELECT throws_ok($$SELECT * FROM verify('', 'secret')$$, '22P02', 'invalid input syntax for type json',
                 'verify: an empty token (one empty part: no JSON)');
SELECT results_eq($$SELECT header::text, payload::text, valid FROM verify('e30.eyJhIjoxfQ', 'secret')$$,
                  $$VALUES ('{}', '{"a":1}', NULL::boolean)$$, 'verify: two parts: no signature, valid is NULL');
SELECT results_eq($$SELECT header::text, payload::text, valid FROM verify('e30', 'secret')$$,
                  $$VALUES ('{}', NULL, NULL::boolean)$$, 'verify: one part: no payload either');
SELECT throws_ok($$SELECT * FROM verify('e30.eyJhIjoxfQ', 'secret', 'bogus')$$, '22023', 'Cannot use "": No such hash algorithm',
                 'verify: two parts and an unknown algorithm raise (the signature of part 1 and 2 is computed)');
SELECT is((SELECT valid FROM verify((SELECT token FROM kat WHERE alg = 'HS256') || '.extra', 'secret')), true,
          'verify: parts after the third are ignored, as by pgjwt');
SELECT is((SELECT valid FROM verify((SELECT token FROM kat WHERE alg = 'HS256') || '=', 'secret')), false,
          'verify: the signature is compared as text (padding makes it differ)');
SELECT results_eq($$SELECT header::text, payload::text, valid FROM verify(NULL, 'secret')$$, $$VALUES (NULL, NULL, NULL::boolean)$$,
                  'verify: a NULL token gives one row of NULLs');
SELECT is((SELECT valid FROM verify((SELECT token FROM kat WHERE alg = 'HS256'), NULL)), NULL::boolean,
          'verify: a NULL secret gives valid NULL');

-- ---------- verify: only the columns read are computed, as with pgjwt ----------
SELECT is((SELECT valid FROM verify('!!!.eyJzdWIiOiIxMjM0NTY3ODkwIn0.x', 'secret')),
          false, 'verify: valid alone, a bad header and a wrong signature: false, no error');
SELECT throws_ok($$SELECT valid FROM verify((SELECT '!!!.eyJzdWIiOiIxMjM0NTY3ODkwIn0.x'), 'secret')$$,
                 '22023', 'invalid symbol "!" found while decoding base64 sequence',
                 'verify: a sub-select in the arguments keeps verify() from being inlined: every column is computed, as with pgjwt');
SELECT throws_ok($$SELECT header, valid FROM verify('_w.!!!', 'secret')$$, '22023', 'invalid symbol "!" found while decoding base64 sequence',
                 'verify: with constant arguments the planner decodes part 2 for valid before the header''s UTF-8 is checked, as for pgjwt');
SELECT lives_ok($$SELECT header FROM (VALUES ('e30.!!!.x')) t(tok), verify(t.tok, 'secret')$$,
                'verify: header alone, from a table: the bad payload is not read');
SELECT throws_ok($$SELECT valid FROM verify('!!!.e30.x', 'secret', 'bogus')$$, '22023', 'Cannot use "": No such hash algorithm',
                 'verify: valid alone: the unknown algorithm raises, the bad header is not read');

-- ---------- verify: nbf and exp ----------
SELECT is(pg_temp.valid(format('{"exp":%s}', (:now_s + 3600)::bigint)), true, 'exp in the future: valid');
SELECT is(pg_temp.valid(format('{"exp":%s}', (:now_s - 3600)::bigint)), false, 'exp in the past: not valid');
SELECT is(pg_temp.valid(format('{"exp":%s}', :now_s)), false, 'exp equal to the transaction''s time: not valid ([nbf, exp) range)');
SELECT is(pg_temp.valid(format('{"nbf":%s}', (:now_s + 3600)::bigint)), false, 'nbf in the future: not valid');
SELECT is(pg_temp.valid(format('{"nbf":%s}', :now_s)), true, 'nbf equal to the transaction''s time: valid');
SELECT is(pg_temp.valid(format('{"nbf":%s,"exp":%s}', (:now_s - 60)::bigint, (:now_s + 60)::bigint)), true, 'nbf past, exp future: valid');
SELECT is(pg_temp.valid(format('{"exp":"%s"}', (:now_s + 3600)::bigint)), true, 'exp as a string of digits: read as a number, as by pgjwt');
SELECT is(pg_temp.valid(format('{"exp":"%s"}', (:now_s - 3600)::bigint)), false, 'exp as a string in the past');
SELECT is(pg_temp.valid('{"exp":"soon"}'), true, 'exp that is no number: no bound (pgjwt ignores it)');
SELECT is(pg_temp.valid('{"exp":true}'), true, 'exp true: no bound');
SELECT is(pg_temp.valid('{"exp":null}'), true, 'exp null: no bound');
SELECT is(pg_temp.valid('{"exp":"Infinity"}'), true, 'exp Infinity: never expires');
SELECT is(pg_temp.valid('{"exp":"-Infinity"}'), false, 'exp -Infinity: expired');
SELECT is(pg_temp.valid('{"exp":1e400}'), true, 'exp 1e400 overflows the float cast: no bound');
SELECT is(pg_temp.valid('{"exp":4102444800,"exp":1000}'), false, 'duplicate exp: the last one counts (json ->>)');
SELECT is(pg_temp.valid('{"nested":{"exp":1000}}'), true, 'only top-level members count');
SELECT is(pg_temp.valid('[{"exp":1000}]'), true, 'a payload that is no object has no exp');
SELECT throws_ok(format($$SELECT pg_temp.valid(%L)$$, '{"exp":"NaN"}'), '22008', 'timestamp cannot be NaN',
                 'exp NaN: to_timestamp() raises');
SELECT throws_ok(format($$SELECT pg_temp.valid(%L)$$, '{"exp":1e300}'), '22008', 'timestamp out of range: "1e+300"',
                 'exp 1e300: to_timestamp() raises');
SELECT throws_ok(format($$SELECT pg_temp.valid(%L)$$, '{"nbf":2000,"exp":1000}'), '22000',
                 'range lower bound must be less than or equal to range upper bound', 'nbf after exp: tstzrange() raises');
SELECT throws_ok(format($$SELECT pg_temp.valid(%L)$$, '{"x":"\u0000","exp":4102444800}'), '22P05',
                 'unsupported Unicode escape sequence', '\u0000 anywhere in the payload: ->> raises');
SELECT is((SELECT valid FROM verify(pg_temp.claims_token('{"exp":"NaN"}'), 'wrong')), false,
          'a wrong signature: the claims are not read (no error)');
SELECT is((SELECT valid FROM verify(split_part(pg_temp.claims_token(format('{"exp":%s}', (:now_s - 60)::bigint)), '.', 1) || '.'
                                    || split_part(pg_temp.claims_token(format('{"exp":%s}', (:now_s - 60)::bigint)), '.', 2), 'secret')),
          false, 'no signature and expired: false (NULL AND false)');

-- ---------- strict mode: jwt.pgjwt_strict ----------
SELECT is(current_setting('jwt.pgjwt_strict'), 'off', 'jwt.pgjwt_strict is off by default');
SET LOCAL jwt.pgjwt_strict = on;
\set strong '\'a secret of exactly thirty-two b\''
\set strong48 '\'a secret of at least forty-eight bytes for HS384!\''
SELECT throws_ok($$SELECT sign('{"exp":4102444800}', 'secret')$$, '22023', 'HMAC key is too short for HS256',
                 'strict: sign refuses a secret shorter than the hash');
SELECT throws_ok(format($$SELECT sign('{"exp":4102444800}', %L, 'HS384')$$, :strong), '22023', 'HMAC key is too short for HS384',
                 'strict: HS384 needs 48 bytes');
SELECT is(sign('{"exp":4102444800}', :strong48, 'HS384'),
          pg_temp.forge('{"alg":"HS384","typ":"JWT"}', '{"exp":4102444800}', :strong48, 'sha384'),
          'strict: a long enough secret signs as before');
SELECT throws_ok(format($$SELECT sign('{"exp":"4102444800"}', %L)$$, :strong), '22023', 'claim "exp" must be a number',
                 'strict: sign refuses exp that is no number');
SELECT throws_ok(format($$SELECT sign('{"iat":-5}', %L)$$, :strong), '22023', 'claim "iat" is out of range',
                 'strict: sign refuses a NumericDate before 1970');
SELECT throws_ok(format($$SELECT sign('{"a":1,"a":2}', %L)$$, :strong), '22023', 'token claims are not valid',
                 'strict: sign refuses duplicate member names');
SELECT throws_ok($$SELECT * FROM verify((SELECT token FROM kat WHERE alg = 'HS256'), 'secret')$$, '22023',
                 'HMAC key is too short for HS256', 'strict: verify refuses a short secret');
SELECT is((SELECT valid FROM verify(pg_temp.claims_token(format('{"exp":%s}', (:now_s + 60)::bigint), :strong), :strong)),
          true, 'strict: a token with exp in the future is valid');
SELECT is((SELECT valid FROM verify(pg_temp.claims_token(format('{"exp":%s}', (:now_s - 60)::bigint), :strong), :strong)),
          false, 'strict: an expired token is not valid (no error)');
SELECT throws_ok(format($$SELECT * FROM verify(pg_temp.claims_token('{"sub":"x"}', %1$L), %1$L)$$, :strong), '28J08',
                 'token has no "exp" claim', 'strict: a verified token without exp raises 28J08');
SELECT throws_ok(format($$SELECT * FROM verify(pg_temp.claims_token('{"exp":"4102444800"}', %1$L), %1$L)$$, :strong), '22J06',
                 'claim "exp" must be a number', 'strict: exp as a string raises 22J06');
SELECT throws_ok(format($$SELECT * FROM verify(pg_temp.claims_token('{"exp":4102444800,"nbf":"0"}', %1$L), %1$L)$$, :strong),
                 '22J06', 'claim "nbf" must be a number', 'strict: nbf as a string raises 22J06');
SELECT throws_ok(format($$SELECT * FROM verify(pg_temp.claims_token('{"exp":4102444800,"exp":1}', %1$L), %1$L)$$, :strong),
                 '22J03', 'token claims are not valid', 'strict: duplicate claims raise 22J03');
SELECT is((SELECT valid FROM verify(pg_temp.claims_token('{"sub":"x"}', 'another secret of thirty-two b!!'), :strong)),
          false, 'strict: a wrong signature is false, the claims unread');
SELECT is((SELECT valid FROM verify(split_part(pg_temp.claims_token('{"exp":4102444800}', :strong), '.', 1) || '.e30', :strong)),
          false, 'strict: two parts: false, not NULL');
SELECT is((SELECT valid FROM verify(pg_temp.claims_token('{"exp":4102444800}', :strong) || '.extra', :strong)),
          false, 'strict: four parts: false');
SELECT is((SELECT valid FROM verify(pg_temp.claims_token('{"exp":4102444800}', :strong), NULL)),
          false, 'strict: a NULL secret: false');
SELECT is((SELECT valid FROM verify(NULL, :strong)), false, 'strict: a NULL token: false');
SELECT alike(pg_temp.error_of($$SELECT sign('{}', 'hunter2-hunter2')$$), '22023: HMAC key is too short for HS256 / %',
            'strict: the error names the rule and the length needed');
SELECT unalike(pg_temp.error_of($$SELECT sign('{}', 'hunter2-hunter2')$$), '%hunter2%', 'strict: no secret in the message');
RESET jwt.pgjwt_strict;
SELECT is(sign('{}', 'secret'), pg_temp.forge('{"alg":"HS256","typ":"JWT"}', '{}', 'secret'), 'strict off again: short secrets sign');

-- only a superuser sets it (pgTAP's state is the superuser's: assert after RESET ROLE)
CREATE ROLE pgjwt_test_user;
SET LOCAL ROLE pgjwt_test_user;
SELECT pg_temp.error_of('SET jwt.pgjwt_strict = off') AS role_error \gset
RESET ROLE;
SELECT is(:'role_error'::text, '42501: permission denied to set parameter "jwt.pgjwt_strict"', 'jwt.pgjwt_strict is superuser-only');

-- an ordinary role switches by its search_path alone (the schema is usable by PUBLIC)
SET LOCAL ROLE pgjwt_test_user;
SET LOCAL search_path = pgjwt, public;
SELECT sign('{"sub":"1234567890","name":"John Doe","admin":true}', 'secret') AS role_token \gset
SELECT valid AS role_valid FROM verify(:'role_token', 'secret') \gset
RESET ROLE;
SET LOCAL search_path = pgjwt, public;
SELECT is(:'role_token'::text, 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ',
          'a non-superuser signs through search_path = pgjwt, public');
SELECT is(:'role_valid'::boolean, true, 'a non-superuser verifies');

-- secrets longer than the cache keeps (1 kB) sign and verify the same, in turn with short ones
SELECT is(sign('{}', repeat('k', 5000)), pg_temp.forge('{"alg":"HS256","typ":"JWT"}', '{}', repeat('k', 5000)),
          'a 5000-byte secret (not cached) signs as pgcrypto computes');
SELECT is((SELECT valid FROM verify(sign('{}', repeat('k', 5000)), repeat('k', 5000))), true,
          'a long secret verifies (no exp or nbf: an unbounded range, as pgjwt)');
SELECT is((SELECT valid FROM verify(sign('{}', repeat('k', 5000)), 'secret')), false,
          'a token of the long secret does not verify with a short one');

SELECT * FROM finish();
ROLLBACK;
