-- Signing and verifying with every algorithm and every key form.
SET jwt.default_lifetime = 0;
SET jwt.add_jti = off;  -- known-answer tokens below

CREATE TABLE claims AS SELECT '{"sub":"alice","exp":1893459600,"admin":true,"n":[1,2.5,"x"],"nested":{"a":"é"}}'::jsonb AS c;

-- HMAC: deterministic, so the token itself is a known answer
SELECT jwt_sign(c, secret()) FROM claims;
SELECT jwt_verify(jwt_sign(c, secret()), secret(), now => '2030-01-01 00:00+00') FROM claims;
SELECT jwt_verify(jwt_sign(c, secret()), secret(), now => '2030-01-01 00:00+00') = c AS same_claims FROM claims;

-- every algorithm: sign with the private key, verify with each public form
CREATE TABLE cases (alg text, priv text, pub text);
INSERT INTO cases VALUES
  ('HS256', secret(), secret()),
  ('HS384', repeat('k', 48), repeat('k', 48)),
  ('HS512', repeat('k', 64), repeat('k', 64)),
  ('RS256', 'rsa', 'rsa_pub'), ('RS384', 'rsa_pkcs1', 'rsa_pub_pkcs1'), ('RS512', 'rsa', 'rsa_pub_jwk'),
  ('PS256', 'rsa', 'rsa_pub'), ('PS384', 'rsa_jwk', 'rsa_pub_pkcs1'), ('PS512', 'rsa_pkcs1', 'rsa_pub_jwk'),
  ('ES256', 'ec_p256', 'ec_p256_pub'), ('ES256', 'ec_p256_sec1', 'ec256_pub_jwk'), ('ES256', 'ec256_jwk', 'ec_p256_pub'),
  ('ES384', 'ec_p384', 'ec_p384_pub'), ('ES512', 'ec_p521', 'ec_p521_pub'), ('ES512', 'ec_p521', 'ec521_pub_jwk'),
  ('EdDSA', 'ed25519', 'ed25519_pub'), ('EdDSA', 'ed25519_jwk', 'ed25519_pub_jwk'), ('EdDSA', 'ed25519', 'ed25519_cert'),
  ('EdDSA', 'ed448', 'ed448_pub'), ('EdDSA', 'ed448', 'ed448_pub_jwk');

SELECT alg, priv, pub,
       (jwt_decode(t)).header->>'alg' AS header_alg,
       jwt_verify(t, coalesce(k(pub), pub), ARRAY[alg], now => '2030-01-01 00:00+00') = c AS verified,
       jwt_is_valid(t, coalesce(k(pub), pub), now => '2030-01-01 00:00+00') AS valid,
       length((jwt_decode(t)).signature) AS sig_bytes
FROM cases, claims, LATERAL jwt_sign(c, coalesce(k(priv), priv), alg) AS t
ORDER BY alg, priv, pub;

-- the algorithm defaults from the key
SELECT name, (jwt_decode(jwt_sign('{"exp":1893459600}', k(name)))).header
FROM (VALUES ('rsa'), ('ec_p256'), ('ec_p384'), ('ec_p521'), ('ed25519'), ('ed448'), ('ec256_jwk')) AS v(name);
SELECT (jwt_decode(jwt_sign('{}', secret()))).header;
SELECT (jwt_decode(jwt_sign('{}', repeat('k', 64)::bytea))).header;
SELECT (jwt_decode(jwt_sign('{}', '{"kty":"oct","k":"' || b64u(repeat('k', 48)) || '","alg":"HS384","kid":"k1"}'))).header;

-- RSA PKCS#1 v1.5 and EdDSA are deterministic: known answers
SELECT md5(jwt_sign('{"sub":"x"}', k('rsa'), 'RS256')) = md5(jwt_sign('{"sub":"x"}', k('rsa_pkcs1'), 'RS256')) AS same_rsa_signature;
SELECT jwt_sign('{"sub":"x"}', k('ed25519'));

-- header members: kid, typ, cty, custom; alg cannot be set through the header
SELECT (jwt_decode(jwt_sign('{}', secret(), header => '{"kid":"key-1","typ":"at+jwt","cty":"x","x-custom":[1,{"a":null}]}'))).header;
SELECT try($$SELECT jwt_sign('{}', secret(), header => '{"alg":"none"}')$$);
SELECT try($$SELECT jwt_sign('{}', secret(), header => '{"crit":["exp"]}')$$);
SELECT try($$SELECT jwt_sign('{}', secret(), header => '{"b64":false}')$$);
SELECT try($$SELECT jwt_sign('{}', secret(), header => '[1]')$$);

-- claims must be an object of well-typed registered claims
SELECT try($$SELECT jwt_sign('[1,2]', secret())$$);
SELECT try($$SELECT jwt_sign('"x"', secret())$$);
SELECT try($$SELECT jwt_sign('{"exp":"tomorrow"}', secret())$$);
SELECT try($$SELECT jwt_sign('{"exp":-1}', secret())$$);
SELECT try($$SELECT jwt_sign('{"nbf":1e20}', secret())$$);
SELECT try($$SELECT jwt_sign('{"sub":42}', secret())$$);

-- jwt.default_lifetime adds iat and exp, and leaves given ones alone
SET jwt.default_lifetime = '10min';
SELECT (p->>'exp')::numeric - (p->>'iat')::numeric AS lifetime,
       abs((p->>'iat')::numeric - extract(epoch FROM now())::numeric) < 60 AS iat_is_now
FROM (SELECT jwt_verify(jwt_sign('{"sub":"a"}', secret()), secret()) AS p) s;
SELECT jwt_verify(jwt_sign('{"exp":1893459600}', secret()), secret(), now => '2030-01-01 00:00+00') ? 'iat' AS added_iat;
SELECT jwt_sign('{"exp":1893459600,"iat":1893456000}', secret());
RESET jwt.default_lifetime;

-- jws: any payload bytes, no claim rules
SELECT jws_sign('\x00ff10'::bytea, secret());
SELECT jws_verify(jws_sign('\x00ff10'::bytea, secret()), secret());
SELECT jws_verify(jws_sign('', secret()), secret()) AS empty_payload;
SELECT jws_verify(jws_sign('not json', k('ec_p256'), 'ES256'), k('ec_p256_pub'), ARRAY['ES256']);
SELECT jws_verify(jws_sign('x', repeat('k', 64)::bytea, 'HS512'), repeat('k', 64)::bytea);
SELECT (jwt_decode(jws_sign('{}', secret()))).header AS no_typ_for_jws;

-- NULL in, NULL out (a NULL text key means the keyring: see jwt_keyring)
SELECT jwt_sign(NULL, secret()) IS NULL, jwt_verify(NULL, secret()) IS NULL,
       jwt_verify('a.b.c', NULL::bytea) IS NULL, jwt_is_valid(NULL, secret()) IS NULL,
       jws_verify(NULL, secret()) IS NULL, jwt_decode(NULL) IS NULL, jwt_sign('{}', NULL::bytea) IS NULL;

-- jwt_decode does not verify: it is only for looking
SELECT * FROM jwt_decode(forge('{"alg":"HS256"}', '{"sub":"mallory"}', 'wrong key wrong key wrong key wrong'));

-- jwt_verify builds its jsonb in the same parse that checks the claims: it
-- must equal what jsonb_in makes of the same text, for every kind of value
SELECT p AS payload,
       jwt_verify(jws_sign(convert_to(p, 'UTF8'), secret()), secret(), now => '2030-01-01 00:00+00')::text
         = p::jsonb::text AS same_as_jsonb_in
FROM (VALUES
    ('{"exp":1999999999}'),
    ('{ "exp" : 1999999999 , "b":{"z":1,"a":[1,2,{"k":null}]}, "a":[], "c":{}}'),
    ('{"exp":1999999999,"n":[0,-0,1.50,1e3,-2.5E-3,123456789012345678901234567890]}'),
    ('{"exp":1999999999,"s":"tab\tnl\nq\"bs\\sl\/u\u00e9\ud83d\ude00","t":true,"f":false,"z":null}'),
    ('{"exp":1999999999,"é":"ü","deep":[[[[{"x":[[]]}]]]]}'),
    ('{"exp":1999999999,"zz":1,"aa":2,"mm":{"b":1,"a":2}}')
) v(p);

-- headers are cached per backend by their exact segment (the last four): six
-- headers in turn, twice, each verifies with its own header, and a header that
-- differs by one byte is not taken for a cached one
SELECT i % 6 AS n,
       (jwt_decode(t)).header ->> 'kid' AS kid,
       jwt_verify(t, secret(), now => '2030-01-01 00:00+00') ->> 'n' AS claim
FROM (SELECT i, jwt_sign(jsonb_build_object('n', i % 6, 'exp', 1999999999), secret(),
                         header => jsonb_build_object('kid', 'k' || (i % 6))) AS t
      FROM generate_series(0, 11) i) s
ORDER BY i;
SELECT try(format('SELECT jwt_verify(%L, %L)',
       replace(jwt_sign('{"exp":1999999999}', secret(), header => '{"kid":"k1"}'), 'eyJ', 'eyK'), secret())) AS altered_header;
