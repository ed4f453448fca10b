-- A short tour of the jwt extension. `make demo` runs it on a throwaway
-- cluster with psql --echo-all: each line of this file, comments included, is
-- shown as written (:'token' stays short) before its result. Refusals are
-- meant to fail: the demo goes on after errors.

-- Errors show their SQLSTATE, e.g. "ERROR:  28J01: token has expired"
-- (demo.sh drops the LOCATION lines that verbose mode adds).
\set VERBOSITY verbose
\set SHOW_CONTEXT never

-- === 1. Install the extension ====================================================
CREATE EXTENSION IF NOT EXISTS jwt;

-- === 2. HS256: sign with a shared secret (at least 32 bytes), verify, decode =====
\set secret 'demo-secret-with-at-least-32-bytes-of-entropy!'
-- alg defaults to HS256 for a secret; iat and exp (now + jwt.default_lifetime) are added.
SELECT jwt_sign('{"sub": "alice", "role": "reader"}', :'secret') AS token \gset
\echo token: :token
SELECT jwt_verify(:'token', :'secret') AS verified_claims;
-- jwt_decode checks nothing at all: for looking inside a token, never for authorization.
SELECT header, payload, encode(signature, 'hex') AS signature FROM jwt_decode(:'token');

-- === 3. EdDSA: sign with an Ed25519 private key, verify with the public key ======
-- A throwaway key pair made with `openssl genpkey -algorithm ed25519` (demo only!).
SELECT '-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIIr1eNxVF6UP/Jdkd3MgfoszN0yLUaVG1uqnMQsvf7Y1
-----END PRIVATE KEY-----
' AS ed_private, '-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAcAmDbL/V8XRuLvZMBbZ6KIhR+JS9N0DBUibsofnnZfI=
-----END PUBLIC KEY-----
' AS ed_public \gset
SELECT jwt_sign('{"sub": "bob", "aud": "reports", "iss": "https://issuer.example"}',
                :'ed_private', header => '{"kid": "demo-ed25519"}') AS ed_token \gset
\echo token: :ed_token
-- The algorithm came from the key: EdDSA.
SELECT (jwt_decode(:'ed_token')).header;
SELECT jwt_verify(:'ed_token', :'ed_public', algorithms => '{EdDSA}',
                  audience => 'reports', issuer => 'https://issuer.example') AS verified_claims;

-- === 4. Refusals (each one is an error with its own SQLSTATE) ====================
-- Helper for hand-made tokens: base64url without padding.
CREATE FUNCTION pg_temp.b64url(s text) RETURNS text LANGUAGE sql AS
$$ SELECT rtrim(translate(encode(convert_to(s, 'UTF8'), 'base64'), E'+/\n', '-_'), '=') $$;

-- --- expired: exp is one hour ago
SELECT jwt_verify(jwt_sign(jsonb_build_object('sub', 'alice',
                           'exp', extract(epoch FROM now() - interval '1 hour')::bigint),
                           :'secret'),
                  :'secret');

-- --- wrong key: the HS256 token checked against another secret
SELECT jwt_verify(:'token', 'another-secret-that-is-also-32-bytes-long!');

-- --- alg "none": an unsigned token claiming to be admin
SELECT pg_temp.b64url('{"alg":"none","typ":"JWT"}') || '.' ||
       pg_temp.b64url('{"sub":"mallory","role":"admin","exp":4102444800}') || '.' AS none_token \gset
\echo token: :none_token
SELECT jwt_verify(:'none_token', :'secret');

-- --- audience mismatch: the EdDSA token was issued for "reports", not "billing"
SELECT jwt_verify(:'ed_token', :'ed_public', audience => 'billing');

-- --- tampered payload: role changed to admin, header and signature kept
SELECT split_part(:'token', '.', 1) || '.' ||
       pg_temp.b64url(((jwt_decode(:'token')).payload || '{"role": "admin"}')::text) || '.' ||
       split_part(:'token', '.', 3) AS tampered \gset
SELECT jwt_verify(:'tampered', :'secret');

-- --- algorithm not allowed: only ES256 accepted here
SELECT jwt_verify(:'ed_token', :'ed_public', algorithms => '{ES256}');

-- === 5. jwt_is_valid: true or false instead of an error ===========================
SELECT jwt_is_valid(:'token', :'secret')        AS genuine,
       jwt_is_valid(:'tampered', :'secret')     AS tampered,
       jwt_is_valid(:'none_token', :'secret')   AS alg_none,
       jwt_is_valid('not.a.token', :'secret')   AS garbage;

-- === 6. The keyring: keys live in the database, tokens name them by kid ===========
SELECT jwt_generate_key('ES256', 'demo-2026-11') AS kid;
SELECT jwt_sign('{"sub": "carol", "role": "reader"}') AS ring_token \gset
SELECT (jwt_decode(:'ring_token')).header AS header_names_the_key;
SELECT jwt_verify(:'ring_token') ->> 'sub' AS verified_by_kid;
-- rotate: a new key signs from now on; the old one verifies for a grace period
SELECT jwt_generate_key('ES256', 'demo-2026-12') AS new_kid;
SELECT jwt_retire_key('demo-2026-11', grace => '1 hour');
SELECT kid, alg, state, has_private FROM jwt_key_list ORDER BY created_at;
SELECT jwt_verify(:'ring_token') ->> 'sub' AS old_token_still_verifies;
-- the public half, for anyone who verifies our tokens (no private member, ever)
SELECT jsonb_array_length(jwt_jwks() -> 'keys') AS published_keys;

-- === 7. Row-level security from a token ===========================================
CREATE TABLE demo_notes (owner text NOT NULL DEFAULT jwt_claim('sub'), body text);
ALTER TABLE demo_notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON demo_notes USING (owner = jwt_claim('sub'));
INSERT INTO demo_notes VALUES ('carol', 'carol''s note'), ('dave', 'dave''s note');
CREATE ROLE demo_app;                          -- superusers bypass RLS: the app is a plain role
GRANT SELECT ON demo_notes TO demo_app;
BEGIN;
SET LOCAL ROLE demo_app;
SELECT jwt_authenticate('Bearer ' || :'ring_token') ->> 'sub' AS authenticated_as;
SELECT * FROM demo_notes;                      -- only carol's row
COMMIT;
SET ROLE demo_app;
SELECT count(*) AS rows_without_a_token FROM demo_notes;
-- nobody but a superuser can forge the identity
SET jwt.claims = '{"sub": "dave"}';
SELECT set_config('jwt.claims', '{"sub": "dave"}', false);
RESET ROLE;
-- revoke the token: it stops working at once, everywhere
SELECT jwt_revoke(:'ring_token');
SELECT jwt_authenticate(:'ring_token');
DROP TABLE demo_notes;
DROP ROLE demo_app;
