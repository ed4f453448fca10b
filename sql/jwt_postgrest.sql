-- jwt_postgrest: issue 13 items 1-4: jwt_postgrest_pre_request replayed as PostgREST runs it
-- Each test names the attack it replays.
--
-- PostgREST 12 runs, in each request's transaction, one SELECT of set_config
-- calls (search_path, role, request.jwt.claims, request.method, request.path,
-- request.headers, request.cookies) and then the pre-request function.
-- request.jwt.claims is the JSON of the claims it verified with "role" set
-- to the role it switched to ({"role": anon} for an anonymous request);
-- request.headers is a JSON object, names in lower case, the last header of
-- a repeated name.  replay() sends exactly that as the authenticator and
-- says what the request then ran as, or what the helper refused (HTTP 401).
SELECT jwt_generate_key('ES256', 'pgrst-test') IS NOT NULL AS key;
CREATE ROLE regress_pgrst_authenticator NOINHERIT;
CREATE ROLE regress_pgrst_anon;
CREATE ROLE regress_pgrst_user;
CREATE ROLE regress_pgrst_admin;
CREATE ROLE regress_pgrst_outsider;
GRANT regress_pgrst_anon, regress_pgrst_user, regress_pgrst_admin TO regress_pgrst_authenticator;
-- the README's setup names PostgREST's anonymous role (db-anon-role) to the database
SET jwt.anonymous_role = 'regress_pgrst_anon';
CREATE TABLE regress_pgrst_secrets (body text);
INSERT INTO regress_pgrst_secrets VALUES ('launch codes');
GRANT SELECT ON regress_pgrst_secrets TO regress_pgrst_admin;

CREATE FUNCTION replay(role text, claims text, headers text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    detail text;
    secrets text := '-';
BEGIN
    PERFORM set_config('search_path', current_setting('search_path'), true),
            set_config('role', role, true),
            set_config('request.jwt.claims', claims, true),
            set_config('request.method', 'GET', true),
            set_config('request.path', '/regress_pgrst_secrets', true),
            set_config('request.headers', headers, true),
            set_config('request.cookies', '{}', true);
    PERFORM jwt_postgrest_pre_request();
    IF has_table_privilege('regress_pgrst_secrets', 'SELECT') THEN
        EXECUTE 'SELECT string_agg(body, '','') FROM regress_pgrst_secrets' INTO secrets;
    END IF;
    RETURN format('ran as %s, sub %s, reads %s', current_user, coalesce(jwt_claim('sub'), '-'), secrets);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    IF SQLSTATE = 'PGRST' THEN   -- what PostgREST answers: the status, the body, the header
        RETURN format('%s %s %s', detail::json ->> 'status', SQLERRM, detail::json -> 'headers');
    END IF;
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- The claims PostgREST sets for a token it verified: all of them, "role" as it switched.
CREATE FUNCTION pgrst_claims(token text, role text) RETURNS text LANGUAGE sql AS $$
    SELECT ((SELECT payload FROM jwt_decode(token)) || jsonb_build_object('role', role))::text $$;
-- request.headers for a request with these Authorization headers: the last one
CREATE FUNCTION bearer(VARIADIC auth text[]) RETURNS text LANGUAGE sql AS $$
    SELECT json_build_object('accept', '*/*', 'authorization', auth[cardinality(auth)])::text $$;

SET jwt.default_lifetime = '1h';
SELECT jwt_sign('{"sub":"mallory","role":"regress_pgrst_admin"}') AS t_admin \gset
SELECT jwt_revoke(:'t_admin', 'mallory is no admin any more');
SELECT jwt_sign('{"sub":"mallory","role":"regress_pgrst_user"}') AS t_mallory \gset
SELECT jwt_sign('{"sub":"alice","role":"regress_pgrst_user"}') AS t_alice \gset
SELECT jwt_sign('{"sub":"carol"}') AS t_norole \gset
-- roles the authenticator may not use: not granted to it, and none at all
SELECT jwt_sign('{"sub":"alice","role":"regress_pgrst_outsider"}') AS t_outsider \gset
SELECT jwt_sign('{"sub":"alice","role":"regress_pgrst_no_such_role"}') AS t_nosuch \gset
-- a token with only a "role" claim (PostgREST's tutorial shape), which the database refuses (no exp)
SET jwt.default_lifetime = 0;
SET jwt.add_jti = off;
SELECT jwt_sign('{"role":"regress_pgrst_admin"}') AS t_roleonly \gset
RESET jwt.add_jti;
SET jwt.default_lifetime = '1h';
-- carol's claims and role admin, signed with a key PostgREST trusts (a stale jwks.json) but the keyring does not have
SELECT jws_sign(convert_to(((SELECT payload FROM jwt_decode(:'t_norole')) || '{"role":"regress_pgrst_admin"}')::text, 'UTF8'),
                (SELECT key FROM test_keys WHERE name = 'ec_p256'), 'ES256') AS t_foreign \gset
SELECT payload ->> 'exp' AS alice_exp, payload ->> 'iat' AS alice_iat, payload ->> 'jti' AS alice_jti FROM jwt_decode(:'t_alice') \gset
SET SESSION AUTHORIZATION regress_pgrst_authenticator;

-- What works: a valid token as PostgREST sends it; a token naming no role
-- (PostgREST's anonymous role, with the token's identity); no token at all.
SELECT replay('regress_pgrst_user', pgrst_claims(:'t_alice', 'regress_pgrst_user'), bearer('Bearer ' || :'t_alice')) AS valid;
SELECT replay('regress_pgrst_anon', pgrst_claims(:'t_norole', 'regress_pgrst_anon'), bearer('Bearer ' || :'t_norole')) AS no_role_claim;
SELECT replay('regress_pgrst_anon', '{"role":"regress_pgrst_anon"}', '{"accept":"*/*"}') AS anonymous;
-- PostgREST re-encodes the claims (key order, escapes, number spelling): compared as jsonb
SELECT replay('regress_pgrst_user',
              format('{"role":"regress_pgrst_user","exp":%s.0,"iat":%s,"jti":"%s","sub":"\u0061lice"}',
                     :'alice_exp', :'alice_iat', :'alice_jti'),
              bearer('Bearer ' || :'t_alice')) AS claims_compared_as_jsonb;

-- Item 1, the attack: two Authorization headers.  PostgREST verifies the
-- first (mallory's revoked admin token) and switches to regress_pgrst_admin;
-- request.headers keeps the last (her valid user token).  The helper used to
-- authenticate the last and the request read the launch codes as admin.
SELECT replay('regress_pgrst_admin', pgrst_claims(:'t_admin', 'regress_pgrst_admin'),
              bearer('Bearer ' || :'t_admin', 'Bearer ' || :'t_mallory')) AS two_headers;
-- the same with someone else's valid token last
SELECT replay('regress_pgrst_admin', pgrst_claims(:'t_admin', 'regress_pgrst_admin'),
              bearer('Bearer ' || :'t_admin', 'Bearer ' || :'t_alice')) AS two_headers_other_user;
-- item 1: without request.jwt.claims (a PostgREST that does not set them), the role alone refuses
SELECT replay('regress_pgrst_admin', '', bearer('Bearer ' || :'t_admin', 'Bearer ' || :'t_mallory')) AS role_check_alone;
-- item 1: the same claims but another role than the token names
SELECT replay('regress_pgrst_admin', pgrst_claims(:'t_mallory', 'regress_pgrst_admin'), bearer('Bearer ' || :'t_mallory')) AS other_role;
-- item 1: PostgREST verified a token (first header, empty last one) that request.headers does not show
SELECT replay('regress_pgrst_admin', pgrst_claims(:'t_admin', 'regress_pgrst_admin'), bearer('Bearer ' || :'t_admin', '')) AS token_hidden;
SELECT replay('regress_pgrst_admin', pgrst_claims(:'t_admin', 'regress_pgrst_admin'), '{"accept":"*/*"}') AS token_not_in_headers;
-- item 1: the valid token first, a revoked one last: PostgREST accepts, the helper refuses
SELECT replay('regress_pgrst_user', pgrst_claims(:'t_mallory', 'regress_pgrst_user'),
              bearer('Bearer ' || :'t_mallory', 'Bearer ' || :'t_admin')) AS revoked_last;
-- item 1: an anonymous request whose role is not PostgREST's anonymous one
SELECT replay('regress_pgrst_admin', '{"role":"regress_pgrst_anon"}', '{}') AS anonymous_as_admin;
-- item 1, with jwt.role_claim = 'role' (the README's setup): the database switches role too
RESET SESSION AUTHORIZATION;
SET jwt.role_claim = 'role';
SET SESSION AUTHORIZATION regress_pgrst_authenticator;
SELECT replay('regress_pgrst_user', pgrst_claims(:'t_alice', 'regress_pgrst_user'), bearer('Bearer ' || :'t_alice')) AS role_claim_valid;
SELECT replay('regress_pgrst_admin', pgrst_claims(:'t_admin', 'regress_pgrst_admin'),
              bearer('Bearer ' || :'t_admin', 'Bearer ' || :'t_mallory')) AS role_claim_two_headers;
SELECT replay('regress_pgrst_anon', pgrst_claims(:'t_norole', 'regress_pgrst_anon'), bearer('Bearer ' || :'t_norole')) AS role_claim_none;
-- Review finding 6d: a role the authenticator may not use, in the last header: 401 (28JR1), not a server error
SELECT replay('regress_pgrst_user', pgrst_claims(:'t_alice', 'regress_pgrst_user'),
              bearer('Bearer ' || :'t_alice', 'Bearer ' || :'t_outsider')) AS role_claim_outsider_last;
SELECT replay('regress_pgrst_user', pgrst_claims(:'t_alice', 'regress_pgrst_user'),
              bearer('Bearer ' || :'t_alice', 'Bearer ' || :'t_nosuch')) AS role_claim_no_such_role_last;
RESET SESSION AUTHORIZATION;
RESET jwt.role_claim;
SET SESSION AUTHORIZATION regress_pgrst_authenticator;

-- Review of issue 13, finding 1 (high): a role-only token, then an EMPTY
-- Authorization header.  PostgREST verifies the first and switches to
-- regress_pgrst_admin; request.headers keeps "" and request.jwt.claims holds
-- only "role", so the request looked anonymous and jwt_authenticate (which
-- refuses the token: no exp) was never called.  An authorization header that
-- is not a bearer token (empty, null, not a string) is 401 28JP3.
SELECT replay('regress_pgrst_admin', pgrst_claims(:'t_roleonly', 'regress_pgrst_admin'),
              bearer('Bearer ' || :'t_roleonly', '')) AS role_only_then_empty_header;
SELECT replay('regress_pgrst_admin', pgrst_claims(:'t_roleonly', 'regress_pgrst_admin'),
              bearer('Bearer ' || :'t_roleonly', ' ')) AS role_only_then_blank_header;
SELECT replay('regress_pgrst_admin', pgrst_claims(:'t_roleonly', 'regress_pgrst_admin'),
              '{"accept":"*/*","authorization":null}') AS role_only_then_null_header;
-- (the role-only token alone: the database checks it and refuses it)
SELECT replay('regress_pgrst_admin', pgrst_claims(:'t_roleonly', 'regress_pgrst_admin'),
              bearer('Bearer ' || :'t_roleonly')) AS role_only_alone;
-- finding 1: a request without a token must run as jwt.anonymous_role, whatever request.jwt.claims says
SELECT replay('regress_pgrst_admin', '{"role":"regress_pgrst_admin"}', '{"accept":"*/*"}') AS no_token_admin_claims;
-- finding 1: jwt.anonymous_role unset: the helper cannot tell PostgREST's
-- anonymous role from a role a token chose, so only the connection's own role
-- (no role switched) runs without a token; otherwise a server error says what to set
RESET SESSION AUTHORIZATION;
RESET jwt.anonymous_role;
SET SESSION AUTHORIZATION regress_pgrst_authenticator;
SELECT replay('regress_pgrst_admin', pgrst_claims(:'t_roleonly', 'regress_pgrst_admin'), '{"accept":"*/*"}') AS unset_anonymous_role_admin;
SELECT replay('regress_pgrst_anon', '{"role":"regress_pgrst_anon"}', '{"accept":"*/*"}') AS unset_anonymous_role_anon;
SELECT replay('regress_pgrst_authenticator', '{"role":"regress_pgrst_authenticator"}', '{"accept":"*/*"}') AS unset_anonymous_role_own_role;
-- finding 1: a non-superuser cannot set jwt.anonymous_role
SELECT try($$SET jwt.anonymous_role = 'regress_pgrst_admin'$$) AS set_by_authenticator;
SELECT try($$SELECT set_config('jwt.anonymous_role', 'regress_pgrst_admin', true)$$) AS set_config_by_authenticator;

-- Review finding 2: with jwt.role_claim unset, a verified token naming no
-- role ran as whatever role request.jwt.claims named, i.e. what the FIRST
-- header said: a token the keyring does not know (carol's claims and role
-- admin) first, carol's genuine token naming no role last.  A token naming no
-- role must run as jwt.anonymous_role.
SELECT replay('regress_pgrst_admin', pgrst_claims(:'t_foreign', 'regress_pgrst_admin'),
              bearer('Bearer ' || :'t_foreign', 'Bearer ' || :'t_norole')) AS unset_foreign_then_no_role;
RESET SESSION AUTHORIZATION;
SET jwt.anonymous_role = 'regress_pgrst_anon';
SET SESSION AUTHORIZATION regress_pgrst_authenticator;
SELECT replay('regress_pgrst_admin', pgrst_claims(:'t_foreign', 'regress_pgrst_admin'),
              bearer('Bearer ' || :'t_foreign', 'Bearer ' || :'t_norole')) AS foreign_then_no_role;

-- Review finding 3: with jwt.session_identity = on, alice's identity
-- outlived her request: the next request on the connection, anonymous, still
-- had jwt_claim('sub') = alice.  The helper forgets it first.
RESET SESSION AUTHORIZATION;
SET jwt.session_identity = on;
SET SESSION AUTHORIZATION regress_pgrst_authenticator;
SELECT replay('regress_pgrst_user', pgrst_claims(:'t_alice', 'regress_pgrst_user'), bearer('Bearer ' || :'t_alice')) AS session_identity_alice;
SELECT replay('regress_pgrst_anon', '{"role":"regress_pgrst_anon"}', '{"accept":"*/*"}') AS session_identity_next_anonymous;
RESET SESSION AUTHORIZATION;
RESET jwt.session_identity;
SELECT jwt_reset();
SET SESSION AUTHORIZATION regress_pgrst_authenticator;

-- Review finding 4 (availability): PostgREST 11/12 re-encodes the claims
-- through jose's ClaimsSet: a one-element "aud" array becomes its string and
-- registered claims that are null are dropped.  A genuine token was 401 28JP1.
RESET SESSION AUTHORIZATION;
SET jwt.audience = 'api';
SELECT jwt_sign('{"sub":"alice","role":"regress_pgrst_user","aud":["api"]}') AS t_jose \gset
SET SESSION AUTHORIZATION regress_pgrst_authenticator;
SELECT replay('regress_pgrst_user',
              (pgrst_claims(:'t_jose', 'regress_pgrst_user')::jsonb || '{"aud":"api"}')::text,
              bearer('Bearer ' || :'t_jose')) AS jose_reencoded_claims;
-- a registered claim whose value is null, which jose drops: the database
-- refuses such a token anyway (22J06), so it never reaches the comparison;
-- the normalisation of both sides, directly
RESET SESSION AUTHORIZATION;
SELECT try($$SELECT jwt_sign('{"sub":"alice","jti":null}')$$) AS null_jti_signs;
SELECT jws_sign(convert_to('{"sub":"alice","role":"regress_pgrst_user","aud":"api","exp":' || :'alice_exp' || ',"jti":null}', 'UTF8'),
                (SELECT key FROM test_keys WHERE name = 'ec_p256'), 'ES256') AS t_nulljti \gset
SELECT try(format('SELECT jwt_verify(%L, (SELECT key FROM test_keys WHERE name = %L), audience => %L)', :'t_nulljti', 'ec_p256', 'api')) AS null_jti_verifies;
SELECT _jwt_postgrest_claims('{"role":"r","aud":["api"],"iss":null,"sub":"a","exp":1,"nbf":null,"iat":null,"jti":null,"tenant":null}') AS normalised,
       _jwt_postgrest_claims('{"aud":["a","b"]}') AS two_audiences, _jwt_postgrest_claims('{"role":"r"}') AS role_only;
-- the normalisation in C (it was an SQL function, parsed on every request)
-- gives what the SQL definition gave, on every shape a claim can take
CREATE TEMP TABLE pgrst_norm_cases (claims jsonb);
INSERT INTO pgrst_norm_cases VALUES (NULL), ('{}'), ('{"role":null}'), ('{"aud":[]}'), ('{"aud":[null]}'),
    ('{"aud":[["x"]]}'), ('{"aud":[{"a":1}]}'), ('{"aud":"api","x":[1]}'), ('{"AUD":["a"],"Role":"r"}'),
    ('{"aud":null,"exp":null,"nested":{"role":"r","aud":["y"]},"tenant":null}'), ('{"sub":"","iss":false,"jti":0}'),
    ('{"é":"ü","aud":["a\"b"],"role":{"r":1}}');
SELECT count(*) AS cases, count(*) FILTER (WHERE _jwt_postgrest_claims(claims) IS NOT DISTINCT FROM (
           SELECT coalesce(jsonb_object_agg(k, CASE WHEN k = 'aud' AND jsonb_typeof(v) = 'array'
                                                         AND jsonb_array_length(v) = 1
                                                    THEN v -> 0 ELSE v END), '{}')
           FROM jsonb_each(claims - 'role') AS e(k, v)
           WHERE NOT (k IN ('iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti') AND v = 'null'))) AS same_as_sql
FROM pgrst_norm_cases;
SELECT try($$SELECT _jwt_postgrest_claims('[1]')$$) AS array_claims, try($$SELECT _jwt_postgrest_claims('"s"')$$) AS scalar_claims;
-- attack: a claims object on which the C normalisation and the SQL definition
-- disagree would let a request pair the token PostgREST verified with another
-- (the helper compares the two normalised): generated cases (every tricky key
-- with every value shape, then 3000 random objects of up to 7 keys, duplicates
-- and nested objects included) compared as text, so 1.0 and 1 or a key's bytes
-- count, against the SQL definition verbatim
CREATE FUNCTION pg_temp.pgrst_claims_sql(claims jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(jsonb_object_agg(k, CASE WHEN k = 'aud' AND jsonb_typeof(v) = 'array'
                                                  AND jsonb_array_length(v) = 1
                                             THEN v -> 0 ELSE v END), '{}')
    FROM jsonb_each(claims - 'role') AS e(k, v)
    WHERE NOT (k IN ('iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti') AND v = 'null')
$$;
CREATE TEMP TABLE pgrst_keys AS
SELECT row_number() OVER () AS i, k FROM unnest(ARRAY[
    'role', 'Role', 'ROLE', 'role ', ' role', 'rolé', 'rol', 'roles', 'aud', 'AUD', 'aud ', 'aüd', 'au',
    'iss', 'sub', 'exp', 'nbf', 'iat', 'jti', 'Jti', 'jti2', 'ssi', '', ' ', 'x', E'\\', '"', E'a\nb', E'\t',
    'null', E'aud\u00a0', repeat('k', 300)]) AS k;
CREATE TEMP TABLE pgrst_values AS
SELECT row_number() OVER () AS i, v::jsonb AS v FROM unnest(ARRAY[
    'null', 'true', 'false', '0', '-0', '1', '1.0', '1.00', '1e2', '100', '0.1e-400', '""', '"api"', '"null"',
    '"[\"a\"]"', '[]', '[null]', '["a"]', '["a","b"]', '["a","a"]', '[["x"]]', '[[null]]', '[[]]', '[{}]',
    '[{"aud":["y"],"role":"r"}]', '[1.0]', '[1]', '[true]', '[[1.0]]', '{}', '{"role":"r","aud":[1]}',
    '{"aud":null}', '[null,null]']) AS v;
CREATE TEMP TABLE pgrst_gen (claims jsonb);
INSERT INTO pgrst_gen SELECT jsonb_build_object(k, v) FROM pgrst_keys, pgrst_values;
SELECT setseed(0.42);
INSERT INTO pgrst_gen
SELECT ('{' || coalesce(string_agg(to_jsonb(k.k)::text || ':' || (CASE WHEN r.nest THEN
            jsonb_build_object(k.k, v.v, 'aud', jsonb_build_array(v.v)) ELSE v.v END)::text, ','), '') || '}')::jsonb
FROM generate_series(1, 3000) AS n,
     LATERAL (SELECT 1 + floor(random() * (SELECT count(*) FROM pgrst_keys))::int AS ki,
                     1 + floor(random() * (SELECT count(*) FROM pgrst_values))::int AS vi,
                     random() < 0.1 AS nest
              FROM generate_series(0, floor(random() * 8)::int - 1) WHERE n > 0) AS r
     LEFT JOIN pgrst_keys AS k ON k.i = r.ki LEFT JOIN pgrst_values AS v ON v.i = r.vi
GROUP BY n;
SELECT count(*) > 3500 AS generated, count(DISTINCT claims) > 3000 AS varied,
       count(*) FILTER (WHERE claims ? 'role' OR claims ? 'aud') > 500 AS with_role_or_aud,
       count(*) FILTER (WHERE jsonb_typeof(claims -> 'aud') = 'array' AND jsonb_array_length(claims -> 'aud') = 1) > 100 AS one_aud,
       count(*) FILTER (WHERE _jwt_postgrest_claims(claims)::text IS DISTINCT FROM pg_temp.pgrst_claims_sql(claims)::text) AS differ_as_text,
       count(*) FILTER (WHERE _jwt_postgrest_claims(claims) IS DISTINCT FROM pg_temp.pgrst_claims_sql(claims)) AS differ
FROM pgrst_gen;
-- attack: a huge or deep claims object (200000 keys; an "aud" whose one element
-- nests 5000 arrays): the same as the SQL definition, no crash
SELECT ('{' || string_agg(format('"k%s":%s', g, CASE g % 3 WHEN 0 THEN 'null' WHEN 1 THEN '[1.0]' ELSE '"v"' END), ',')
        || ',"aud":["x"],"role":"r","jti":null}')::jsonb AS claims
INTO TEMP pgrst_huge FROM generate_series(1, 200000) AS g;
SELECT (SELECT count(*) FROM jsonb_object_keys(_jwt_postgrest_claims(claims))) AS huge_keys,
       _jwt_postgrest_claims(claims)::text = pg_temp.pgrst_claims_sql(claims)::text AS huge_same_as_sql
FROM pgrst_huge;
SELECT _jwt_postgrest_claims(c)::text = pg_temp.pgrst_claims_sql(c)::text AS deep_same_as_sql,
       _jwt_postgrest_claims(c) -> 'aud' = c -> 'aud' -> 0 AS deep_aud_unwrapped
FROM (SELECT ('{"aud":[' || repeat('[', 5000) || repeat(']', 5000) || '],"role":"r"}')::jsonb AS c) AS d;
DROP TABLE pgrst_keys, pgrst_values, pgrst_gen, pgrst_huge;
SET SESSION AUTHORIZATION regress_pgrst_authenticator;
-- ... and only that: another audience, or a null that is not a registered claim, still differ
SELECT replay('regress_pgrst_user',
              (pgrst_claims(:'t_jose', 'regress_pgrst_user')::jsonb || '{"aud":"other"}')::text,
              bearer('Bearer ' || :'t_jose')) AS jose_other_audience;
SELECT replay('regress_pgrst_user',
              (pgrst_claims(:'t_jose', 'regress_pgrst_user')::jsonb || '{"aud":"api","tenant":null}')::text,
              bearer('Bearer ' || :'t_jose')) AS jose_extra_null_claim;
RESET SESSION AUTHORIZATION;
RESET jwt.audience;
SET SESSION AUTHORIZATION regress_pgrst_authenticator;

-- Item 2: a bare token, without "Bearer ": PostgREST treats the request as
-- anonymous, so the helper must not authenticate it.
SELECT replay('regress_pgrst_anon', '{"role":"regress_pgrst_anon"}', bearer(:'t_alice')) AS bare_token;
SELECT replay('regress_pgrst_anon', '{"role":"regress_pgrst_anon"}', bearer('Basic YWxpY2U6c2VjcmV0')) AS basic_scheme;
SELECT replay('regress_pgrst_anon', '{"role":"regress_pgrst_anon"}', bearer('Bearer ' || :'t_alice' || ' ' || :'t_mallory')) AS two_tokens;
SELECT replay('regress_pgrst_anon', '{"role":"regress_pgrst_anon"}', bearer('Bearer')) AS empty_bearer;
-- item 2: the scheme is case-insensitive (RFC 7235) ...
SELECT replay('regress_pgrst_user', pgrst_claims(:'t_alice', 'regress_pgrst_user'), bearer(E'bearer \t' || :'t_alice' || ' ')) AS lower_case_scheme;
-- ... as in PostgREST (wai-extra's extractBearerAuth): "BEARER" is verified there too, so the helper accepts it
SELECT replay('regress_pgrst_user', pgrst_claims(:'t_alice', 'regress_pgrst_user'), bearer('BEARER ' || :'t_alice')) AS upper_case_scheme;

-- Item 3: request.headers empty or not JSON: a clear error for a caller that
-- is not PostgREST, a 401 where a token was attempted (never a bare 22P02).
SELECT replay('regress_pgrst_anon', '', '') AS headers_empty;
SELECT replay('regress_pgrst_anon', '', 'accept: */*') AS headers_not_json;
SELECT replay('regress_pgrst_anon', '', '["authorization"]') AS headers_not_an_object;
SELECT replay('regress_pgrst_anon', '', 'Authorization: Bearer ' || :'t_alice') AS headers_not_json_with_token;
SELECT replay('regress_pgrst_admin', pgrst_claims(:'t_admin', 'regress_pgrst_admin'), '') AS headers_empty_after_a_token;
SELECT replay('regress_pgrst_anon', '{"role":"regress_pgrst_anon"}', '{"authorization":"Bearer \u0000"}') AS nul_in_header;
SELECT replay('regress_pgrst_anon', '{"role":"regress_pgrst_anon"}', '{"authorization":["Bearer x"]}') AS header_not_a_string;
SELECT replay('regress_pgrst_anon', 'not json', '{}') AS claims_not_json;
-- outside PostgREST altogether (no request settings in this transaction)
SELECT try('SELECT jwt_postgrest_pre_request()') AS outside_postgrest;

-- Item 4: a correctly signed token for another audience or issuer: the 401
-- body says what failed, not what the server expects.
RESET SESSION AUTHORIZATION;
SET jwt.audience = 'regress-internal-audience';
SELECT jwt_sign('{"sub":"alice","role":"regress_pgrst_user","aud":"other"}') AS t_aud \gset
SET SESSION AUTHORIZATION regress_pgrst_authenticator;
SELECT replay('regress_pgrst_user', pgrst_claims(:'t_aud', 'regress_pgrst_user'), bearer('Bearer ' || :'t_aud')) AS wrong_audience;
SELECT replay('regress_pgrst_user', pgrst_claims(:'t_alice', 'regress_pgrst_user'), bearer('Bearer ' || :'t_alice')) AS no_audience;
RESET SESSION AUTHORIZATION;
RESET jwt.audience;
SET jwt.issuer = 'https://regress-internal-issuer.example';
SET SESSION AUTHORIZATION regress_pgrst_authenticator;
SELECT replay('regress_pgrst_user', pgrst_claims(:'t_alice', 'regress_pgrst_user'), bearer('Bearer ' || :'t_alice')) AS no_issuer;
RESET SESSION AUTHORIZATION;
RESET jwt.issuer;
-- (the jwt_authenticate error itself still has the detail, for the server's log)
SET jwt.audience = 'regress-internal-audience';
\set VERBOSITY default
SELECT jwt_authenticate(:'t_aud');
RESET jwt.audience;

-- Review finding 3: a placeholder.  In a session that has not loaded the
-- library yet, a non-superuser's SET jwt.anonymous_role is only a
-- placeholder, discarded when the library loads; the helper loads it (through
-- jwt_reset) before reading any jwt.* setting, so the placeholder never
-- stands in for the superuser's setting.  (A new connection, as the
-- superuser, then the authenticator without loading anything.)
SELECT current_user AS regress_superuser \gset
\c - :regress_superuser
SELECT count(*) AS jwt_loaded_before FROM pg_settings WHERE name = 'jwt.anonymous_role';
SET SESSION AUTHORIZATION regress_pgrst_authenticator;
SET jwt.anonymous_role = 'regress_pgrst_admin';
SELECT replay('regress_pgrst_admin', '{"role":"regress_pgrst_admin"}', '{"accept":"*/*"}') AS placeholder_anonymous_role;
RESET SESSION AUTHORIZATION;

RESET jwt.default_lifetime;
DROP FUNCTION replay(text, text, text), pgrst_claims(text, text), bearer(text[]);
DROP TABLE regress_pgrst_secrets;
DROP ROLE regress_pgrst_authenticator, regress_pgrst_anon, regress_pgrst_user, regress_pgrst_admin, regress_pgrst_outsider;
RESET jwt.anonymous_role;
SELECT jwt_retire_key('pgrst-test') IS NOT NULL AS retired;
