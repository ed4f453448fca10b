-- DPoP (RFC 9449): proofs of possession, thumbprints (RFC 7638), bound tokens.
-- Each refusal asserts its SQLSTATE; each test names the attack it replays.

-- ---------- jwt_thumbprint ----------

-- RFC 7638 section 3.1: the known answer for the RFC's RSA key (extra members ignored)
SELECT jwt_thumbprint('{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}')
       = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' AS rfc7638_rsa_known_answer;
-- RFC 8037 appendix A.3: the known answer for the RFC's Ed25519 key
SELECT jwt_thumbprint('{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}')
       = 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k' AS rfc8037_okp_known_answer;
-- EC: crv, kty, x, y in that order, whatever the input's order and other members
SELECT jwt_thumbprint(k('ec256_pub_jwk')::jsonb || '{"kid":"k1","use":"sig","alg":"ES256"}')
       = b64u(digest('{"crv":"P-256","kty":"EC","x":"_ASgQBoOm1RYIgyntaEfOjDzmvJbSdf0sCa3ugfrb_c","y":"pjX8ewE07PhA-A52xmNyW3Rl8YFYEwImYcP20kHyYPE"}', 'sha256'))
       AS ec_canonical_order;
-- OKP: crv, kty, x
SELECT jwt_thumbprint(k('ed25519_pub_jwk')::jsonb)
       = b64u(digest('{"crv":"Ed25519","kty":"OKP","x":"dpvAlVzULGFLJIGmbC8JseVYWjOkLI0zKwP1jPyVSZw"}', 'sha256'))
       AS okp_canonical_order;
-- RSA: e, kty, n
SELECT jwt_thumbprint(k('rsa_pub_jwk')::jsonb)
       = b64u(digest('{"e":"AQAB","kty":"RSA","n":"' || (k('rsa_pub_jwk')::jsonb ->> 'n') || '"}', 'sha256'))
       AS rsa_canonical_order;
-- a private JWK is refused, never hashed (it would put the key in a statement log)
SELECT try($$SELECT jwt_thumbprint(k('ec256_jwk')::jsonb)$$) AS private_ec;
SELECT try($$SELECT jwt_thumbprint(k('ed25519_jwk')::jsonb)$$) AS private_okp;
-- a symmetric key has no public thumbprint
SELECT try($$SELECT jwt_thumbprint('{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}')$$) AS symmetric;
-- not a key: missing members, a JWKS, an array, a key keys.c refuses
SELECT try($$SELECT jwt_thumbprint('{"kty":"EC","crv":"P-256","x":"_ASgQBoOm1RYIgyntaEfOjDzmvJbSdf0sCa3ugfrb_c"}')$$) AS missing_y;
SELECT try($$SELECT jwt_thumbprint(jsonb_build_object('keys', jsonb_build_array(k('ec256_pub_jwk')::jsonb)))$$) AS jwks;
SELECT try($$SELECT jwt_thumbprint('[1]')$$) AS not_an_object;
SELECT try($$SELECT jwt_thumbprint('{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}')$$) AS not_on_the_curve;

-- ---------- proofs ----------

-- dpop_proof(claims [, signing key, header jwk, alg, typ]): a proof, by default an ES256 one
CREATE FUNCTION dpop_proof(claims jsonb, key text DEFAULT k('ec256_jwk'), jwk jsonb DEFAULT k('ec256_pub_jwk')::jsonb,
                     alg text DEFAULT 'ES256', typ text DEFAULT 'dpop+jwt')
RETURNS text LANGUAGE sql
AS $$ SELECT jws_sign(convert_to(claims::text, 'UTF8'), key, alg, jsonb_build_object('typ', typ, 'jwk', jwk)) $$;
-- dpop_claims([htm, htu, extra]): a proof's claims with a fresh jti, issued now
CREATE FUNCTION dpop_claims(htm text DEFAULT 'GET', htu text DEFAULT 'https://api.example.com/things', extra jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE sql
AS $$ SELECT jsonb_build_object('jti', gen_random_uuid()::text, 'htm', htm, 'htu', htu,
                                'iat', floor(extract(epoch FROM statement_timestamp()))::bigint) || extra $$;
-- dpop_v(proof [, method, url, access_token, nonce]): 'ok' or the SQLSTATE and message
CREATE FUNCTION dpop_v(proof text, method text DEFAULT 'GET', url text DEFAULT 'https://api.example.com/things',
                  access_token text DEFAULT NULL, nonce text DEFAULT NULL)
RETURNS text LANGUAGE sql
AS $$ SELECT try(format('SELECT jwt_dpop_verify(%L, %L, %L, %L, %L)', proof, method, url, access_token, nonce)) $$;

-- a valid proof: its claims and its key's thumbprint
SELECT dpop_proof(dpop_claims()) AS proof \gset
SELECT r ->> 'jkt' = jwt_thumbprint(k('ec256_pub_jwk')::jsonb) AS jkt_is_thumbprint,
       r -> 'claims' ->> 'htm' AS htm, r -> 'claims' ->> 'htu' AS htu
FROM jwt_dpop_verify(:'proof', 'GET', 'https://api.example.com/things') AS r;
-- replayed proof: refused, across statements (the record committed) ...
SELECT dpop_v(:'proof') AS replayed_proof;
-- ... and within one statement
SELECT dpop_proof(dpop_claims()) AS proof2 \gset
SELECT dpop_v(:'proof2') AS first_use, dpop_v(:'proof2') AS second_use;
-- Ed25519 and RSA (RS256, PS256) proofs
SELECT dpop_v(dpop_proof(dpop_claims(), k('ed25519_jwk'), k('ed25519_pub_jwk')::jsonb, 'EdDSA')) AS eddsa;
SELECT dpop_v(dpop_proof(dpop_claims(), k('rsa'), k('rsa_pub_jwk')::jsonb, 'RS256')) AS rs256;
SELECT dpop_v(dpop_proof(dpop_claims(), k('rsa'), k('rsa_pub_jwk')::jsonb, 'PS256')) AS ps256;

-- proof for another method
SELECT dpop_v(dpop_proof(dpop_claims('POST'))) AS other_method;
-- methods are case-sensitive (RFC 9110 section 9.1)
SELECT dpop_v(dpop_proof(dpop_claims('get'))) AS method_case;
-- proof for another URL: host, path, scheme, port
SELECT dpop_v(dpop_proof(dpop_claims(htu => 'https://evil.example.com/things'))) AS other_host;
SELECT dpop_v(dpop_proof(dpop_claims(htu => 'https://api.example.com/other'))) AS other_path;
SELECT dpop_v(dpop_proof(dpop_claims(htu => 'http://api.example.com/things'))) AS other_scheme;
SELECT dpop_v(dpop_proof(dpop_claims(htu => 'https://api.example.com:8443/things'))) AS other_port;
SELECT dpop_v(dpop_proof(dpop_claims(htu => 'https://api.example.com/things/'))) AS trailing_slash;
-- a query-string-only difference: equal once query and fragment are stripped (RFC 9449 4.3)
SELECT dpop_v(dpop_proof(dpop_claims()), url => 'https://api.example.com/things?id=eq.1#top') AS query_in_request;
SELECT dpop_v(dpop_proof(dpop_claims(htu => 'https://api.example.com/things?id=eq.2'))) AS query_in_htu;
-- RFC 3986 syntax- and scheme-based normalization: case, default port, percent-encoding, dot segments
SELECT dpop_v(dpop_proof(dpop_claims(htu => 'HTTPS://API.Example.COM:443/a/./b/../%7Euser/x%2fy')),
         url => 'https://api.example.com/a/~user/x%2Fy') AS normalized_equal;
SELECT dpop_v(dpop_proof(dpop_claims(htu => 'http://api.example.com:80')), url => 'http://api.example.com/') AS empty_path_default_port;
-- ... but an encoded reserved character is not its decoded self, nor is the path's case folded
SELECT dpop_v(dpop_proof(dpop_claims(htu => 'https://api.example.com/a%2Fb')), url => 'https://api.example.com/a/b') AS encoded_slash;
SELECT dpop_v(dpop_proof(dpop_claims(htu => 'https://api.example.com/Things'))) AS path_case;
-- an htu that is no URL, or carries user information
SELECT dpop_v(dpop_proof(dpop_claims(htu => 'api.example.com/things'))) AS relative_htu;
SELECT dpop_v(dpop_proof(dpop_claims(htu => 'https://user@api.example.com/things'))) AS userinfo_htu;
SELECT dpop_v(dpop_proof(dpop_claims(htu => 'https://api.example.com/th ings'))) AS space_in_htu;
SELECT dpop_v(dpop_proof(dpop_claims(htu => 'https://api.example.com/%zz'))) AS bad_escape_in_htu;
-- the caller's URL and method are checked too (22023: a caller's mistake)
SELECT dpop_v(dpop_proof(dpop_claims()), url => 'ftp://api.example.com/things') AS caller_url_not_http;
SELECT dpop_v(dpop_proof(dpop_claims()), method => 'GET /') AS caller_method_not_a_token;

-- tampered proof: claims changed after signing
SELECT dpop_v(split_part(p, '.', 1) || '.' || b64u(replace(convert_from(unb64u(split_part(p, '.', 2)), 'UTF8'), 'things', 'admin')) || '.' || split_part(p, '.', 3),
         url => 'https://api.example.com/admin') AS tampered
FROM dpop_proof(dpop_claims()) AS p;
-- proof key swapped: signed by one key, another key in the header
-- (RFC 8037 appendix A's Ed25519 key signs; the test key is in the header)
SELECT dpop_v(dpop_proof(dpop_claims(), '{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}',
              k('ed25519_pub_jwk')::jsonb, 'EdDSA')) AS signed_by_another_key;
-- proof with jwk holding "d": private key material in the header
SELECT dpop_v(dpop_proof(dpop_claims(), jwk => k('ec256_jwk')::jsonb)) AS jwk_with_d;
SELECT dpop_v(dpop_proof(dpop_claims(), k('ed25519_jwk'), k('ed25519_jwk')::jsonb, 'EdDSA')) AS okp_jwk_with_d;
-- proof signed by a symmetric key (HS256, with the secret as an "oct" jwk, or as it is)
SELECT dpop_v(dpop_proof(dpop_claims(), secret(), jsonb_build_object('kty', 'oct', 'k', b64u(secret())), 'HS256')) AS hs256_oct_jwk;
SELECT dpop_v(dpop_proof(dpop_claims(), secret(), k('ec256_pub_jwk')::jsonb, 'HS256')) AS hs256_ec_jwk;
-- alg none
SELECT dpop_v(b64u(jsonb_build_object('alg', 'none', 'typ', 'dpop+jwt', 'jwk', k('ec256_pub_jwk')::jsonb)::text)
         || '.' || b64u(dpop_claims()::text) || '.AA') AS alg_none;
-- alg of another key type than the jwk's
SELECT dpop_v(b64u(jsonb_build_object('alg', 'ES384', 'typ', 'dpop+jwt', 'jwk', k('ec256_pub_jwk')::jsonb)::text)
         || substr(p, strpos(p, '.'))) AS alg_mismatch
FROM dpop_proof(dpop_claims()) AS p;
-- no jwk, jwk not an object, jwk a key set, jwk with use "enc"
SELECT dpop_v(forge_proof) AS no_jwk FROM (SELECT jws_sign(convert_to(dpop_claims()::text, 'UTF8'), k('ec256_jwk'), 'ES256', '{"typ":"dpop+jwt"}') AS forge_proof) AS f;
SELECT dpop_v(dpop_proof(dpop_claims(), jwk => to_jsonb(k('ec256_pub_jwk')))) AS jwk_string;
SELECT dpop_v(dpop_proof(dpop_claims(), jwk => jsonb_build_object('keys', jsonb_build_array(k('ec256_pub_jwk')::jsonb)))) AS jwk_set;
SELECT dpop_v(dpop_proof(dpop_claims(), jwk => k('ec256_pub_jwk')::jsonb || '{"use":"enc"}')) AS jwk_use_enc;
-- review: a flood of proofs, each with a fresh 8192-bit RSA key (OpenSSL's check of a new
-- modulus costs ~130 ms; an ES256 proof ~0.1 ms): refused by size before any of that work
SELECT dpop_v(dpop_proof(dpop_claims(), k('rsa_jwk'), jsonb_build_object('kty', 'RSA', 'e', 'AQAB', 'n', 'w' || repeat('A', 1365)),
                         'RS256')) AS rsa_8192_bit_proof_key;
-- typ not dpop+jwt: an access token or ID token replayed as a proof
SELECT dpop_v(dpop_proof(dpop_claims(), typ => 'JWT')) AS typ_jwt;
SELECT dpop_v(jws_sign(convert_to(dpop_claims()::text, 'UTF8'), k('ec256_jwk'), 'ES256', jsonb_build_object('jwk', k('ec256_pub_jwk')::jsonb))) AS typ_missing;
SELECT dpop_v(dpop_proof(dpop_claims(), typ => 'application/dpop+jwt')) AS typ_with_application;
-- claims missing or of the wrong type
SELECT dpop_v(dpop_proof(dpop_claims() - 'jti')) AS no_jti;
SELECT dpop_v(dpop_proof(dpop_claims() - 'htm')) AS no_htm;
SELECT dpop_v(dpop_proof(dpop_claims() - 'htu')) AS no_htu;
SELECT dpop_v(dpop_proof(dpop_claims() - 'iat')) AS no_iat;
SELECT dpop_v(dpop_proof(dpop_claims(extra => '{"iat":"now"}'))) AS iat_string;
SELECT dpop_v(dpop_proof(dpop_claims(extra => '{"jti":""}'))) AS empty_jti;
SELECT dpop_v(dpop_proof(dpop_claims(extra => '{"jti":42}'))) AS jti_number;
-- proof with huge jti / long htu / huge proof: bounded lengths
SELECT dpop_v(dpop_proof(dpop_claims(extra => jsonb_build_object('jti', repeat('j', 257))))) AS huge_jti;
SELECT dpop_v(dpop_proof(dpop_claims(extra => jsonb_build_object('jti', repeat('j', 256))))) AS jti_at_the_bound;
SELECT dpop_v(dpop_proof(dpop_claims(htu => 'https://api.example.com/' || repeat('a', 3000)))) AS long_htu;
SELECT dpop_v(dpop_proof(dpop_claims()), url => 'https://api.example.com/' || repeat('a', 3000)) AS long_caller_url;
SELECT dpop_v(dpop_proof(dpop_claims(extra => jsonb_build_object('pad', repeat('p', 9000))))) AS huge_proof;
-- proof iat far in future/past (jwt.dpop_max_age 300 s, jwt.dpop_clock_skew 30 s)
SELECT dpop_v(dpop_proof(dpop_claims(extra => jsonb_build_object('iat', floor(extract(epoch FROM statement_timestamp()))::bigint + 3600)))) AS iat_future;
SELECT dpop_v(dpop_proof(dpop_claims(extra => jsonb_build_object('iat', floor(extract(epoch FROM statement_timestamp()))::bigint - 3600)))) AS iat_past;
SELECT dpop_v(dpop_proof(dpop_claims(extra => jsonb_build_object('iat', floor(extract(epoch FROM statement_timestamp()))::bigint + 20)))) AS iat_within_skew;
SELECT dpop_v(dpop_proof(dpop_claims(extra => jsonb_build_object('iat', floor(extract(epoch FROM statement_timestamp()))::bigint - 320)))) AS iat_within_window;
SELECT dpop_v(dpop_proof(dpop_claims(extra => '{"iat":1e400}'))) AS iat_huge;
-- ath for another token; ath missing; the right ath
SELECT dpop_v(dpop_proof(dpop_claims(extra => jsonb_build_object('ath', b64u(digest('token-a', 'sha256'))))), access_token => 'token-b') AS ath_for_another_token;
SELECT dpop_v(dpop_proof(dpop_claims()), access_token => 'token-a') AS ath_missing;
SELECT dpop_v(dpop_proof(dpop_claims(extra => jsonb_build_object('ath', b64u(digest('token-a', 'sha256'))))), access_token => 'token-a') AS ath_matches;
-- nonce: another one, none, the right one
SELECT dpop_v(dpop_proof(dpop_claims(extra => '{"nonce":"n-1"}')), nonce => 'n-2') AS other_nonce;
SELECT dpop_v(dpop_proof(dpop_claims()), nonce => 'n-1') AS nonce_missing;
SELECT dpop_v(dpop_proof(dpop_claims(extra => '{"nonce":"n-1"}')), nonce => 'n-1') AS nonce_matches;
-- not a JWS at all
SELECT dpop_v('not-a-proof') AS not_a_jws;
SELECT dpop_v(NULL) AS no_proof;

-- ---------- the replay store ----------

-- a proof is recorded in a read-only transaction too (PostgREST runs GET in one) ...
BEGIN READ ONLY;
SELECT dpop_proof(dpop_claims()) AS ro_proof \gset
SELECT dpop_v(:'ro_proof') AS read_only_first_use;
COMMIT;
BEGIN READ ONLY;
SELECT dpop_v(:'ro_proof') AS read_only_replay;
COMMIT;
-- ... but not in a serializable read-only one (25006, fail closed)
BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY;
SELECT dpop_v(dpop_proof(dpop_claims())) AS serializable_read_only;
COMMIT;
-- without the library preloaded (as here) a proof checked in a transaction that rolls back
-- is forgotten with it; preloaded, shared memory refuses it (test/dpop_replay.t.sh)
BEGIN;
SELECT dpop_proof(dpop_claims()) AS rb_proof \gset
SELECT dpop_v(:'rb_proof') AS in_rolled_back_transaction;
ROLLBACK;
SELECT dpop_v(:'rb_proof') AS after_rollback;

-- an unprivileged role reading/clearing the replay table: refused; checking proofs: allowed
CREATE ROLE regress_dpop_user;
GRANT USAGE ON SCHEMA public TO regress_dpop_user;
SELECT dpop_proof(dpop_claims()) AS user_proof \gset
SET ROLE regress_dpop_user;
SELECT dpop_v(:'user_proof') AS unprivileged_verify, dpop_v(:'user_proof') AS unprivileged_replay;
SELECT try('SELECT count(*) FROM jwt_dpop_proofs') AS read_replay_table;
SELECT try('DELETE FROM jwt_dpop_proofs') AS clear_replay_table;
SELECT try('TRUNCATE jwt_dpop_proofs') AS truncate_replay_table;
SELECT try($$INSERT INTO jwt_dpop_proofs VALUES (decode(repeat('00', 32), 'hex'), 'infinity')$$) AS fill_replay_table;
SELECT try('SELECT jwt_dpop_purge()') AS purge;
RESET ROLE;
-- a search_path hijack: the replay store's statements run as the table's owner, so the
-- caller's operators and functions (here a "<" and a now() of its own, first in its
-- search_path) must not be the ones they run; 130 proofs make the backend purge too
CREATE SCHEMA regress_dpop_evil AUTHORIZATION regress_dpop_user;
CREATE TABLE regress_dpop_proofs AS SELECT dpop_proof(dpop_claims()) AS p FROM generate_series(1, 130);
GRANT SELECT ON regress_dpop_proofs TO regress_dpop_user;
SET ROLE regress_dpop_user;
CREATE FUNCTION regress_dpop_evil.lt(a timestamptz, b timestamptz) RETURNS boolean LANGUAGE plpgsql
AS $$ BEGIN RAISE NOTICE 'hijacked, running as %', current_user; RETURN a OPERATOR(pg_catalog.<) b; END $$;
CREATE OPERATOR regress_dpop_evil.< (FUNCTION = regress_dpop_evil.lt, LEFTARG = timestamptz, RIGHTARG = timestamptz);
CREATE FUNCTION regress_dpop_evil.now() RETURNS timestamptz LANGUAGE plpgsql
AS $$ BEGIN RAISE NOTICE 'hijacked, running as %', current_user; RETURN pg_catalog.now(); END $$;
SET search_path = regress_dpop_evil, pg_catalog, public;
SELECT count(*) FILTER (WHERE dpop_v(p) = 'ok') AS verified_under_hijack FROM regress_dpop_proofs;
RESET search_path;
RESET ROLE;
DROP SCHEMA regress_dpop_evil CASCADE;
DROP TABLE regress_dpop_proofs;
-- the settings are the superuser's
SET ROLE regress_dpop_user;
SELECT try('SET jwt.dpop_max_age = 86400') AS set_max_age, try('SET jwt.dpop_on_standby = skip_replay_check') AS set_standby,
       try('SET jwt.require_dpop = off') AS set_require;
RESET ROLE;

-- purge: only rows past their expiry go
SELECT count(*) > 0 AS rows_recorded FROM jwt_dpop_proofs;
SELECT jwt_dpop_purge() AS purged_fresh;
UPDATE jwt_dpop_proofs SET expires_at = now() - interval '1 second';
SELECT jwt_dpop_purge() > 0 AS purged_expired;
SELECT count(*) AS left_over FROM jwt_dpop_proofs;

-- recording purges expired rows as it goes: 128 proofs delete up to 256 of them
INSERT INTO jwt_dpop_proofs SELECT digest(i::text, 'sha256'), now() - interval '1 hour' FROM generate_series(1, 200) AS i;
SELECT count(*) FILTER (WHERE dpop_v(dpop_proof(dpop_claims())) = 'ok') AS recorded FROM generate_series(1, 128);
SELECT count(*) FILTER (WHERE expires_at < now()) AS expired_left, count(*) AS fresh_rows FROM jwt_dpop_proofs;
DELETE FROM jwt_dpop_proofs;

-- a stale setting widened by the superuser works (and is the superuser's alone)
SET jwt.dpop_max_age = 7200;
SELECT dpop_v(dpop_proof(dpop_claims(extra => jsonb_build_object('iat', floor(extract(epoch FROM statement_timestamp()))::bigint - 3600)))) AS iat_past_window_widened;
RESET jwt.dpop_max_age;

-- a session setting a placeholder GUC (jwt.dpop_*) before the library loads:
-- discarded when it loads, so the superuser's window stands.  (A new
-- connection, as the superuser, then the unprivileged role without loading anything.)
CREATE TABLE regress_dpop_stale AS SELECT dpop_proof(dpop_claims(extra => jsonb_build_object('iat', floor(extract(epoch FROM statement_timestamp()))::bigint - 3600))) AS p;
GRANT SELECT ON regress_dpop_stale TO regress_dpop_user;
SELECT current_user AS regress_superuser \gset
\c - :regress_superuser
SET SESSION AUTHORIZATION regress_dpop_user;
SET jwt.dpop_max_age = 86400;
SET jwt.dpop_clock_skew = 3600;
SELECT dpop_v(p) AS placeholder_max_age FROM regress_dpop_stale;
SELECT current_setting('jwt.dpop_max_age') AS max_age_in_force;
RESET SESSION AUTHORIZATION;

-- ---------- bound tokens: jwt_authenticate(token, dpop_proof, method, url) ----------
SELECT jwt_generate_key('ES256', 'dpop-test') IS NOT NULL AS key;
SET jwt.default_lifetime = '1h';
SELECT jwt_sign(jsonb_build_object('sub', 'alice', 'cnf', jsonb_build_object('jkt', jwt_thumbprint(k('ec256_pub_jwk')::jsonb))),
                header => '{"kid":"dpop-test"}') AS bound \gset
SELECT jwt_sign('{"sub":"bob"}', header => '{"kid":"dpop-test"}') AS unbound \gset
-- dpop_ath(token): the claim that binds a proof to a token
CREATE FUNCTION dpop_ath(token text) RETURNS jsonb LANGUAGE sql
AS $$ SELECT jsonb_build_object('ath', b64u(digest(token, 'sha256'))) $$;
-- dpop_auth(token, proof [, method, url]): jwt_authenticate's verdict: the sub, or the SQLSTATE and message
CREATE FUNCTION dpop_auth(token text, proof text, method text DEFAULT 'GET', url text DEFAULT 'https://api.example.com/things')
RETURNS text LANGUAGE plpgsql
AS $$
BEGIN
    RETURN 'sub ' || (jwt_authenticate(token, proof, method, url) ->> 'sub');
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- the bound token with its proof: under the DPoP scheme, and bare
SELECT dpop_auth('DPoP ' || :'bound', dpop_proof(dpop_claims(extra => dpop_ath(:'bound')))) AS dpop_scheme;
SELECT dpop_auth(:'bound', dpop_proof(dpop_claims(extra => dpop_ath(:'bound')))) AS bare_token;
SELECT dpop_auth('dpop   ' || :'bound', dpop_proof(dpop_claims(extra => dpop_ath(:'bound')))) AS scheme_any_case;
-- proof key ≠ cnf.jkt: a valid proof, by another key
SELECT dpop_auth('DPoP ' || :'bound', dpop_proof(dpop_claims(extra => dpop_ath(:'bound')), k('ed25519_jwk'), k('ed25519_pub_jwk')::jsonb, 'EdDSA')) AS proof_key_not_cnf_jkt;
-- token stolen without the key: as a bearer token (with or without a proof), or with no proof
SELECT dpop_auth('Bearer ' || :'bound', NULL, NULL, NULL) AS stolen_bearer;
SELECT dpop_auth('Bearer ' || :'bound', dpop_proof(dpop_claims(extra => dpop_ath(:'bound')))) AS stolen_bearer_with_proof;
SELECT dpop_auth(:'bound', NULL, NULL, NULL) AS stolen_no_proof;
SELECT try(format('SELECT jwt_authenticate(%L)', :'bound')) AS stolen_one_argument;
SELECT try(format('SELECT jwt_authenticate(%L)', 'Bearer ' || :'bound')) AS stolen_one_argument_bearer;
-- ath for another token, and no ath
SELECT dpop_auth('DPoP ' || :'bound', dpop_proof(dpop_claims(extra => dpop_ath(:'unbound')))) AS ath_for_another_token;
SELECT dpop_auth('DPoP ' || :'bound', dpop_proof(dpop_claims())) AS no_ath;
-- the proof's other checks apply: replay, URL, method
SELECT dpop_proof(dpop_claims(extra => dpop_ath(:'bound'))) AS bound_proof \gset
SELECT dpop_auth('DPoP ' || :'bound', :'bound_proof') AS first_use, dpop_auth('DPoP ' || :'bound', :'bound_proof') AS replayed;
SELECT dpop_auth('DPoP ' || :'bound', dpop_proof(dpop_claims(extra => dpop_ath(:'bound'))), url => 'https://api.example.com/admin') AS other_url;
SELECT dpop_auth('DPoP ' || :'bound', dpop_proof(dpop_claims(extra => dpop_ath(:'bound'))), method => 'DELETE') AS other_method;
-- a proof without the request to check it against: the caller's mistake
SELECT dpop_auth('DPoP ' || :'bound', dpop_proof(dpop_claims(extra => dpop_ath(:'bound'))), NULL, NULL) AS no_method_or_url;
-- a refused token sets no identity
SELECT jwt_claims() IS NULL AS no_identity_after_refusals;
-- bound otherwise (mTLS's x5t#S256): nothing here checks that binding, so it is refused
SELECT dpop_auth(jwt_sign('{"sub":"carol","cnf":{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}', header => '{"kid":"dpop-test"}'),
         dpop_proof(dpop_claims())) AS cnf_without_jkt;
SELECT dpop_auth(jwt_sign('{"sub":"carol","cnf":"jkt"}', header => '{"kid":"dpop-test"}'), dpop_proof(dpop_claims())) AS cnf_not_an_object;
SELECT dpop_auth(jwt_sign('{"sub":"carol","cnf":{"jkt":1}}', header => '{"kid":"dpop-test"}'), dpop_proof(dpop_claims())) AS jkt_not_a_string;
-- review: a stolen DPoP-bound token (it has a jti, as a session's access token has) used
-- without the key where a single-use token is consumed: jwt_consume has no proof to
-- check, so it refuses it (RFC 9449 section 7.1), and records nothing
SELECT jwt_sign(jsonb_build_object('sub', 'alice', 'jti', 'regress-dpop-consume',
                                   'cnf', jsonb_build_object('jkt', jwt_thumbprint(k('ec256_pub_jwk')::jsonb))),
                header => '{"kid":"dpop-test"}') AS bound_jti \gset
SELECT try(format('SELECT jwt_consume(%L)', :'bound_jti')) AS stolen_bound_consumed;
SELECT try(format('SELECT jwt_consume(%L, NULL::text[])', :'bound_jti')) AS stolen_bound_consumed_lists;
-- an unbound token: unaffected as a bearer token; refused under the DPoP scheme
BEGIN;
SELECT dpop_auth('Bearer ' || :'unbound', NULL, NULL, NULL) AS unbound_bearer, jwt_authenticate(:'unbound') ->> 'sub' AS unbound_one_argument;
COMMIT;
SELECT dpop_auth('DPoP ' || :'unbound', dpop_proof(dpop_claims(extra => dpop_ath(:'unbound')))) AS unbound_dpop_scheme;
-- jwt.require_dpop: only bound tokens
SET jwt.require_dpop = on;
SELECT dpop_auth('Bearer ' || :'unbound', NULL, NULL, NULL) AS require_dpop_unbound;
SELECT dpop_auth('DPoP ' || :'bound', dpop_proof(dpop_claims(extra => dpop_ath(:'bound')))) AS require_dpop_bound;
RESET jwt.require_dpop;

-- ---------- PostgREST: jwt_postgrest_pre_request with the DPoP scheme ----------
CREATE ROLE regress_dpop_authenticator NOINHERIT;
CREATE ROLE regress_dpop_anon;
CREATE ROLE regress_dpop_reader;
GRANT regress_dpop_anon, regress_dpop_reader TO regress_dpop_authenticator;
SET jwt.anonymous_role = 'regress_dpop_anon';
SET jwt.role_claim = 'role';
SET jwt.dpop_base_url = 'https://api.example.com/rest/';
SELECT jwt_sign(jsonb_build_object('sub', 'alice', 'role', 'regress_dpop_reader',
                                   'cnf', jsonb_build_object('jkt', jwt_thumbprint(k('ec256_pub_jwk')::jsonb))),
                header => '{"kid":"dpop-test"}') AS pbound \gset
-- dpop_pgrst(role, claims, auth, dpop [, method, path]): PostgREST 12's statements, then the helper
CREATE FUNCTION dpop_pgrst(role text, claims text, auth text, dpop text, method text DEFAULT 'GET', path text DEFAULT '/things',
                           prefer text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    PERFORM set_config('role', role, true),
            set_config('request.jwt.claims', claims, true),
            set_config('request.method', method, true),
            set_config('request.path', path, true),
            set_config('request.headers', json_strip_nulls(json_build_object('authorization', auth, 'dpop', dpop, 'prefer', prefer))::text, true);
    PERFORM jwt_postgrest_pre_request();
    RETURN format('ran as %s, sub %s', current_user, coalesce(jwt_claim('sub'), '-'));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    IF SQLSTATE = 'PGRST' THEN
        RETURN format('%s %s %s', detail::json ->> 'status', SQLERRM::json ->> 'code', detail::json -> 'headers');
    END IF;
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT dpop_proof(dpop_claims(htu => 'https://api.example.com/rest/things', extra => dpop_ath(:'pbound'))) AS pproof \gset
SELECT dpop_proof(dpop_claims(htu => 'https://api.example.com/rest/other', extra => dpop_ath(:'pbound'))) AS pproof_other \gset
SELECT dpop_proof(dpop_claims(htu => 'https://api.example.com/rest/things', extra => dpop_ath(:'pbound'))) AS pproof2 \gset
SELECT dpop_proof(dpop_claims(htu => 'https://api.example.com/rest/things', extra => dpop_ath(:'pbound'))) AS pproof3 \gset
SELECT dpop_proof(dpop_claims(htu => 'https://api.example.com/admin', extra => dpop_ath(:'pbound'))) AS pproof_admin \gset
SELECT dpop_proof(dpop_claims(htu => 'https://api.example.com/admin', extra => dpop_ath(:'pbound'))) AS pproof_admin2 \gset
SET SESSION AUTHORIZATION regress_dpop_authenticator;
-- the bound token with its proof: PostgREST saw no bearer token (anonymous); the database switches role
SELECT dpop_pgrst('regress_dpop_anon', '{"role":"regress_dpop_anon"}', 'DPoP ' || :'pbound', :'pproof') AS dpop_request;
-- replayed proof: 401 with WWW-Authenticate: DPoP error="invalid_dpop_proof"
SELECT dpop_pgrst('regress_dpop_anon', '{"role":"regress_dpop_anon"}', 'DPoP ' || :'pbound', :'pproof') AS replayed_proof;
-- proof for another URL
SELECT dpop_pgrst('regress_dpop_anon', '{"role":"regress_dpop_anon"}', 'DPoP ' || :'pbound', :'pproof_other') AS other_url;
-- no DPoP header
SELECT dpop_pgrst('regress_dpop_anon', '{"role":"regress_dpop_anon"}', 'DPoP ' || :'pbound', NULL) AS no_proof;
-- token stolen without the key, as a bearer token PostgREST verified and switched for
SELECT dpop_pgrst('regress_dpop_reader', (SELECT (payload || '{"role":"regress_dpop_reader"}')::text FROM jwt_decode(:'pbound')),
             'Bearer ' || :'pbound', NULL) AS stolen_bearer;
-- a DPoP request PostgREST says it verified a (bearer) token for: not this token
SELECT dpop_pgrst('regress_dpop_reader', (SELECT (payload || '{"role":"regress_dpop_reader"}')::text FROM jwt_decode(:'pbound')),
             'DPoP ' || :'pbound', :'pproof2') AS postgrest_verified_another;
-- review: a captured proof replayed with "Prefer: tx=rollback" (db-tx-end = rollback-allow):
-- its record would roll back with the request, so it could be replayed again and again
-- in its window (each time with another query string: htu has none); refused, unrecorded
SELECT dpop_pgrst('regress_dpop_anon', '{"role":"regress_dpop_anon"}', 'DPoP ' || :'pbound', :'pproof2',
                  prefer => 'return=minimal, tx=rollback') AS replay_by_rollback;
SELECT dpop_pgrst('regress_dpop_anon', '{"role":"regress_dpop_anon"}', 'DPoP ' || :'pbound', :'pproof2',
                  prefer => 'TX = "rollback"') AS replay_by_rollback_spelled;
-- review: a proof for another API on the same host (https://api.example.com/admin, its own
-- replay store) replayed here with a request.path whose dot segments climb out of
-- jwt.dpop_base_url's prefix (/rest), so that base || path normalizes to its htu: refused
SELECT dpop_pgrst('regress_dpop_anon', '{"role":"regress_dpop_anon"}', 'DPoP ' || :'pbound',
                  :'pproof_admin', path => '/../admin') AS path_climbs_out_of_base;
SELECT dpop_pgrst('regress_dpop_anon', '{"role":"regress_dpop_anon"}', 'DPoP ' || :'pbound',
                  :'pproof_admin2', path => '/%2e%2E/admin') AS path_climbs_out_encoded;
-- a DPoP request that does not run as the anonymous role
SELECT dpop_pgrst('regress_dpop_reader', '{"role":"regress_dpop_reader"}', 'DPoP ' || :'pbound', :'pproof2') AS not_anonymous;
RESET SESSION AUTHORIZATION;
-- review: a stolen DPoP-bound token in the token cookie (jwt.token_cookie), where no
-- proof comes with it: refused (401 invalid_token), runs as nobody
SET jwt.token_cookie = 'regress_at';
SET SESSION AUTHORIZATION regress_dpop_authenticator;
SELECT set_config('request.cookies', json_build_object('regress_at', :'pbound')::text, false) IS NOT NULL AS cookie_set;
SELECT dpop_pgrst('regress_dpop_anon', '{"role":"regress_dpop_anon"}', NULL, NULL) AS stolen_in_cookie;
RESET request.cookies;
RESET SESSION AUTHORIZATION;
RESET jwt.token_cookie;
-- jwt.dpop_base_url unset: fails closed (500), the proof unused
RESET jwt.dpop_base_url;
SET SESSION AUTHORIZATION regress_dpop_authenticator;
SELECT dpop_pgrst('regress_dpop_anon', '{"role":"regress_dpop_anon"}', 'DPoP ' || :'pbound', :'pproof3') AS no_base_url;
RESET SESSION AUTHORIZATION;
SET jwt.dpop_base_url = 'https://API.example.com:443/rest';
SET SESSION AUTHORIZATION regress_dpop_authenticator;
SELECT dpop_pgrst('regress_dpop_anon', '{"role":"regress_dpop_anon"}', 'DPoP ' || :'pbound', :'pproof3') AS base_url_normalized;
RESET SESSION AUTHORIZATION;
RESET jwt.dpop_base_url;
RESET jwt.role_claim;
RESET jwt.anonymous_role;
DROP FUNCTION dpop_pgrst(text, text, text, text, text, text, text);
DROP ROLE regress_dpop_authenticator, regress_dpop_anon, regress_dpop_reader;
SELECT jwt_retire_key('dpop-test') IS NOT NULL AS retired;
RESET jwt.default_lifetime;

DROP TABLE regress_dpop_stale;
REVOKE USAGE ON SCHEMA public FROM regress_dpop_user;
DROP ROLE regress_dpop_user;
DELETE FROM jwt_dpop_proofs;
DROP FUNCTION dpop_auth(text, text, text, text), dpop_ath(text), dpop_v(text, text, text, text, text),
              dpop_claims(text, text, jsonb), dpop_proof(jsonb, text, jsonb, text, text);
