-- Keys: the key decides the algorithm family, weak or malformed keys are refused,
-- and no error message ever contains key material.
SET jwt.default_lifetime = 0;
CREATE FUNCTION vk(token text, key text, opts text DEFAULT '') RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT jwt_verify(%L, %L, now => %L %s)', token, key, '2030-01-01 00:00:00+00', opts);
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE TABLE toks AS SELECT
  jwt_sign('{"exp":1893459600}', secret()) AS hs256,
  jwt_sign('{"exp":1893459600}', k('rsa'), 'RS256') AS rs256,
  jwt_sign('{"exp":1893459600}', k('rsa'), 'PS256') AS ps256,
  jwt_sign('{"exp":1893459600}', k('ec_p256')) AS es256,
  jwt_sign('{"exp":1893459600}', k('ed25519')) AS eddsa;

-- key confusion: a public key's text is never an HMAC secret
SELECT vk(forge('{"alg":"HS256"}', '{"exp":1893459600}', k('rsa_pub')), k('rsa_pub')) AS rsa_pem_as_secret;
SELECT vk(forge('{"alg":"HS256"}', '{"exp":1893459600}', k('rsa_pub_jwk')), k('rsa_pub_jwk')) AS rsa_jwk_as_secret;
SELECT vk(forge('{"alg":"HS256"}', '{"exp":1893459600}', k('ec_p256_pub')), k('ec_p256_pub')) AS ec_pem_as_secret;
SELECT vk(forge('{"alg":"HS384"}', '{"exp":1893459600}', k('ed25519_pub'), 'sha384'), k('ed25519_pub')) AS ed_pem_as_secret;
SELECT try(format('SELECT jwt_verify(%L, convert_to(%L, ''UTF8''))', forge('{"alg":"HS256"}', '{}', k('rsa_pub')), k('rsa_pub'))) AS pem_as_bytea_secret;
SELECT try(format('SELECT jwt_verify(%L, convert_to(%L, ''UTF8''))', forge('{"alg":"HS256"}', '{}', k('rsa_pub_jwk')), k('rsa_pub_jwk'))) AS jwk_as_bytea_secret;
-- raw bytes are refused only when they really are a key: random secrets may start with '{'
SELECT jwt_verify(jwt_sign('{"sub":"r","exp":1893459600}', '\x7b0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'::bytea),
                  '\x7b0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'::bytea, now => '2030-01-01 00:00+00') ->> 'sub' AS brace_secret;
SELECT try($$SELECT jwt_sign('{}', '\x202d2d2d2d2d424547494e2020'::bytea || decode(repeat('00', 32), 'hex'))$$) AS pem_marker_bytes;
SELECT vk(hs256, k('rsa_pub')) AS hs_token_rsa_key, vk(rs256, secret()) AS rs_token_hmac_key FROM toks;

-- the caller's allowlist
SELECT vk(hs256, secret(), ', algorithms => ARRAY[''HS256'']') AS listed,
       vk(hs256, secret(), ', algorithms => ARRAY[''RS256'',''ES256'']') AS not_listed FROM toks;
SELECT vk(hs256, secret(), ', algorithms => ARRAY[''none'']') AS none_in_list FROM toks;
SELECT vk(hs256, secret(), ', algorithms => ARRAY[''hs256'']') AS lower_case_in_list FROM toks;
SELECT vk(hs256, secret(), ', algorithms => ARRAY[]::text[]') AS empty_list FROM toks;
SELECT vk(hs256, secret(), ', algorithms => ARRAY[NULL]') AS null_in_list FROM toks;

-- wrong scheme and wrong curve
SELECT vk(rs256, k('rsa_pub'), ', algorithms => ARRAY[''PS256'']') AS rs_token_ps_only FROM toks;
SELECT vk(with_header(rs256, '{"alg":"PS256"}'), k('rsa_pub')) AS rs_signature_relabelled_ps FROM toks;
SELECT vk(with_header(ps256, '{"alg":"RS256"}'), k('rsa_pub')) AS ps_signature_relabelled_rs FROM toks;
SELECT vk(with_header(es256, '{"alg":"ES384"}'), k('ec_p256_pub')) AS es384_header_p256_key FROM toks;
SELECT vk(es256, k('ec_p384_pub')) AS p256_token_p384_key FROM toks;
SELECT vk(with_header(es256, '{"alg":"EdDSA"}'), k('ec_p256_pub')) AS eddsa_header_ec_key FROM toks;
SELECT vk(eddsa, k('ec_p256_pub')) AS eddsa_token_ec_key FROM toks;
SELECT vk(eddsa, k('ed448_pub')) AS ed25519_token_ed448_key FROM toks;
SELECT vk(es256, k('rsa_pub')) AS es_token_rsa_key FROM toks;

-- ECDSA signatures: raw r||s of exact length, no zero values, below the group order
-- (a signature whose first byte is 0x00 already, 1 in 256, gets 0x01: the signature always changes)
SELECT vk(with_sig(es256, set_byte(unb64u(split_part(es256, '.', 3)), 0,
                                   CASE get_byte(unb64u(split_part(es256, '.', 3)), 0) WHEN 0 THEN 1 ELSE 0 END)),
          k('ec_p256_pub')) AS first_byte_zeroed FROM toks;
SELECT vk(with_sig(es256, decode(repeat('00', 64), 'hex')), k('ec_p256_pub')) AS psychic_zero FROM toks;
SELECT vk(with_sig(es256, decode(repeat('00', 32) || repeat('00', 31) || '01', 'hex')), k('ec_p256_pub')) AS r_zero FROM toks;
SELECT vk(with_sig(es256, decode('FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551' || repeat('00', 31) || '01', 'hex')), k('ec_p256_pub')) AS r_is_order FROM toks;
SELECT vk(with_sig(es256, decode(repeat('FF', 64), 'hex')), k('ec_p256_pub')) AS r_s_above_order FROM toks;
SELECT vk(with_sig(es256, '\x30440220'::bytea || substring(unb64u(split_part(es256, '.', 3)) from 1 for 32)
                         || '\x0220'::bytea || substring(unb64u(split_part(es256, '.', 3)) from 33)), k('ec_p256_pub')) AS der_signature FROM toks;
SELECT vk(with_sig(es256, substring(unb64u(split_part(es256, '.', 3)) from 2)), k('ec_p256_pub')) AS short_signature FROM toks;
SELECT vk(with_sig(es256, unb64u(split_part(es256, '.', 3)) || '\x00'::bytea), k('ec_p256_pub')) AS long_signature FROM toks;
-- RSA signatures must be exactly the modulus length
SELECT vk(with_sig(rs256, substring(unb64u(split_part(rs256, '.', 3)) from 2)), k('rsa_pub')) AS rsa_short FROM toks;
SELECT vk(with_sig(rs256, '\x00'::bytea || unb64u(split_part(rs256, '.', 3))), k('rsa_pub')) AS rsa_zero_prefixed FROM toks;
SELECT vk(with_sig(hs256, substring(unb64u(split_part(hs256, '.', 3)) from 1 for 16)), secret()) AS hmac_truncated FROM toks;
SELECT vk(with_sig(eddsa, decode(repeat('00', 64), 'hex')), k('ed25519_pub')) AS eddsa_zero FROM toks;

-- weak keys, for signing and for verifying
SELECT try($$SELECT jwt_sign('{}', k('rsa1024'))$$) AS sign_rsa_1024;
SELECT vk(rs256, k('rsa1024_pub')) AS verify_rsa_1024 FROM toks;
SELECT try($$SELECT jwt_sign('{}', repeat('k', 31))$$) AS sign_hmac_31_bytes;
SELECT try($$SELECT jwt_sign('{}', ''::bytea)$$) AS sign_empty_secret;
SELECT try($$SELECT jwt_sign('{}', repeat('k', 32), 'HS384')$$) AS sign_hs384_32_bytes;
SELECT vk(hs256, repeat('k', 31)) AS verify_hmac_31_bytes FROM toks;
SELECT vk(forge('{"alg":"HS512"}', '{"exp":1893459600}', repeat('k', 40), 'sha512'), repeat('k', 40)) AS hs512_token_40_byte_key;
SELECT vk(forge('{"alg":"HS512"}', '{"exp":1893459600}', repeat('k', 40), 'sha512'), repeat('k', 40), ', algorithms => ARRAY[''HS512'']') AS hs512_listed_40_byte_key;
SELECT vk(forge('{"alg":"HS512"}', '{"exp":1893459600}', repeat('k', 64), 'sha512'), repeat('k', 64)) AS hs512_64_byte_key;

-- key formats that are refused
SELECT name, try(format('SELECT jwt_sign(''{}'', %L)', k(name))) FROM (VALUES
  ('rsa_enc'), ('rsapss'), ('x25519'), ('ec_secp256k1'), ('rsa_pub'), ('ed25519_cert')) AS v(name);
SELECT try($$SELECT jwt_sign('{}', '-----BEGIN PRIVATE KEY-----
bm90IGEga2V5
-----END PRIVATE KEY-----')$$) AS garbage_pem;
SELECT try($$SELECT jwt_sign('{}', '-----BEGIN DH PARAMETERS-----
bm90IGEga2V5
-----END DH PARAMETERS-----')$$) AS other_pem_block;
SELECT try($$SELECT jwt_sign('{}', '-----BEGIN PRIVATE KEY-----')$$) AS truncated_pem;
SELECT vk(es256, k('ec_secp256k1_pub')) AS secp256k1_public FROM toks;

-- JWKs that are refused
SELECT name, try(format('SELECT jwt_verify(%L, %L)', (SELECT es256 FROM toks), jwk)) FROM (VALUES
  ('not JSON', '{"kty":'),
  ('no kty', '{"crv":"P-256"}'),
  ('kty number', '{"kty":1}'),
  ('unknown kty', '{"kty":"DSA"}'),
  ('use enc', '{"kty":"oct","use":"enc","k":"' || b64u(repeat('k', 32)) || '"}'),
  ('oct short', '{"kty":"oct","k":"' || b64u(repeat('k', 16)) || '"}'),
  ('oct bad base64', '{"kty":"oct","k":"a+b/"}'),
  ('oct padded base64', '{"kty":"oct","k":"' || b64u(repeat('k', 32)) || '="}'),
  ('RSA no n', '{"kty":"RSA","e":"AQAB"}'),
  ('RSA partial factors', (k('rsa_jwk')::jsonb - 'qi')::text),
  ('RSA multi-prime', (k('rsa_jwk')::jsonb || '{"oth":[]}')::text),
  ('RSA private without factors', (k('rsa_jwk')::jsonb - 'p' - 'q' - 'dp' - 'dq' - 'qi')::text),
  ('curve name with control bytes', '{"kty":"EC","crv":"P-256\n' || repeat('é', 30) || '","x":"AA","y":"AA"}'),
  ('EC unknown curve', '{"kty":"EC","crv":"P-192","x":"AA","y":"AA"}'),
  ('EC off-curve point', jsonb_set(k('ec256_pub_jwk')::jsonb, '{y}', to_jsonb(b64u(decode(repeat('11', 32), 'hex'))))::text),
  ('EC coordinate too long', jsonb_set(k('ec256_pub_jwk')::jsonb, '{x}', to_jsonb(b64u(decode(repeat('11', 33), 'hex'))))::text),
  ('EC d not matching', jsonb_set(k('ec256_jwk')::jsonb, '{d}', to_jsonb(b64u(decode(repeat('11', 32), 'hex'))))::text),
  ('OKP X25519', '{"kty":"OKP","crv":"X25519","x":"' || b64u(decode(repeat('11', 32), 'hex')) || '"}'),
  ('OKP d not matching x', jsonb_set(k('ed25519_jwk')::jsonb, '{d}', to_jsonb(b64u(decode(repeat('11', 32), 'hex'))))::text),
  ('alg not for key', (k('ec256_pub_jwk')::jsonb || '{"alg":"RS256"}')::text),
  ('alg unknown', (k('ec256_pub_jwk')::jsonb || '{"alg":"none"}')::text),
  ('duplicate member', '{"kty":"oct","k":"' || b64u(repeat('k', 32)) || '","k":"x"}')
) AS v(name, jwk);

-- a JWK's alg pins the algorithm
SELECT vk(rs256, (k('rsa_pub_jwk')::jsonb || '{"alg":"PS256"}')::text) AS rs_token_ps_jwk FROM toks;
SELECT vk(ps256, (k('rsa_pub_jwk')::jsonb || '{"alg":"PS256"}')::text) AS ps_token_ps_jwk FROM toks;
SELECT try($$SELECT jwt_sign('{}', (k('rsa_jwk')::jsonb || '{"alg":"PS256"}')::text, 'RS256')$$) AS sign_against_jwk_alg;

-- JWKS: the token's kid selects the key
CREATE TABLE sets AS SELECT jsonb_build_object('keys', jsonb_build_array(
    k('ec256_pub_jwk')::jsonb || '{"kid":"ec-1","use":"sig"}',
    k('rsa_pub_jwk')::jsonb || '{"kid":"rsa-1"}',
    k('ed25519_pub_jwk')::jsonb || '{"kid":"ed-1"}',
    '{"kty":"RSA","use":"enc","kid":"enc-1","n":"AQAB","e":"AQAB"}'::jsonb))::text AS jwks;
SELECT vk(jwt_sign('{"exp":1893459600}', k('ec_p256'), header => '{"kid":"ec-1"}'), jwks) AS by_kid_ec,
       vk(jwt_sign('{"exp":1893459600}', k('rsa'), 'PS256', header => '{"kid":"rsa-1"}'), jwks) AS by_kid_rsa,
       vk(jwt_sign('{"exp":1893459600}', k('ed25519'), header => '{"kid":"ed-1"}'), jwks) AS by_kid_ed,
       vk(jwt_sign('{"exp":1893459600}', k('ec_p256'), header => '{"kid":"rsa-1"}'), jwks) AS wrong_kid,
       vk(jwt_sign('{"exp":1893459600}', k('ec_p256'), header => '{"kid":"nope"}'), jwks) AS unknown_kid,
       vk(jwt_sign('{"exp":1893459600}', k('ec_p256')), jwks) AS no_kid_one_candidate,
       vk(jwt_sign('{"exp":1893459600}', k('rsa'), header => '{"kid":"enc-1"}'), jwks) AS enc_key_skipped
FROM sets;
SELECT vk(jwt_sign('{"exp":1893459600}', k('ec_p256')),
          jsonb_build_object('keys', jsonb_build_array(k('ec256_pub_jwk')::jsonb || '{"kid":"a"}', k('ec256_pub_jwk')::jsonb || '{"kid":"b"}'))::text) AS no_kid_two_candidates;
SELECT vk(jwt_sign('{"exp":1893459600}', k('ec_p256'), header => ('{"kid":"' || repeat('../', 300) || '"}')::jsonb), jwks) AS huge_path_kid FROM sets;
SELECT vk(jwt_sign('{"exp":1893459600}', k('ec_p256'), header => '{"kid":"x''; DROP TABLE sets; --"}'), jwks) AS sql_kid FROM sets;
SELECT name, try(format('SELECT jwt_verify(%L, %L)', (SELECT es256 FROM toks), jwks)) FROM (VALUES
  ('duplicate kid', jsonb_build_object('keys', jsonb_build_array(k('ec256_pub_jwk')::jsonb || '{"kid":"a"}', k('rsa_pub_jwk')::jsonb || '{"kid":"a"}'))::text),
  ('symmetric and asymmetric', jsonb_build_object('keys', jsonb_build_array(k('ec256_pub_jwk')::jsonb, jsonb_build_object('kty', 'oct', 'k', b64u(repeat('k', 32)))))::text),
  ('no keys', '{"keys":[]}'),
  ('only enc keys', '{"keys":[{"kty":"oct","use":"enc","k":"AAAA"}]}'),
  ('keys not array', '{"keys":{}}'),
  ('key not object', '{"keys":["x"]}'),
  ('bad key inside', '{"keys":[{"kty":"EC","crv":"P-256"}]}')
) AS v(name, jwks);
SELECT try(format('SELECT jwt_sign(''{}'', %L)', jwks)) AS sign_with_jwks FROM sets;

-- a single JWK with a kid refuses tokens naming another kid
SELECT vk(jwt_sign('{"exp":1893459600}', k('ec_p256'), header => '{"kid":"other"}'), (k('ec256_pub_jwk')::jsonb || '{"kid":"mine"}')::text) AS single_jwk_other_kid;
SELECT vk(jwt_sign('{"exp":1893459600}', k('ec_p256'), header => '{"kid":"mine"}'), (k('ec256_pub_jwk')::jsonb || '{"kid":"mine"}')::text) AS single_jwk_same_kid;

-- signing: private keys only, the algorithm must fit the key
SELECT try($$SELECT jwt_sign('{}', k('ec_p256_pub'))$$) AS public_key_signs;
SELECT try($$SELECT jwt_sign('{}', k('ec256_pub_jwk'))$$) AS public_jwk_signs;
SELECT try($$SELECT jwt_sign('{}', k('ec_p256'), 'ES384')$$) AS p256_as_es384;
SELECT try($$SELECT jwt_sign('{}', k('rsa'), 'ES256')$$) AS rsa_as_es256;
SELECT try($$SELECT jwt_sign('{}', secret(), 'none')$$) AS sign_none;
SELECT try($$SELECT jwt_sign('{}', secret(), 'hs256')$$) AS sign_lower_case;

-- RFC 9864's fully-specified names: Ed25519 and Ed448 name EdDSA over that
-- curve only; EdDSA stays the default and is still accepted
SELECT (jwt_decode(jwt_sign('{}', k('ed25519'), 'Ed25519'))).header ->> 'alg' AS ed25519_name,
       (jwt_decode(jwt_sign('{}', k('ed448'), 'Ed448'))).header ->> 'alg' AS ed448_name,
       (jwt_decode(jwt_sign('{}', k('ed25519')))).header ->> 'alg' AS default_still_eddsa;
SELECT vk(jwt_sign('{"exp":1893459600}', k('ed25519'), 'Ed25519'), k('ed25519_pub')) AS ed25519_verifies,
       vk(jwt_sign('{"exp":1893459600}', k('ed448'), 'Ed448'), k('ed448_pub')) AS ed448_verifies,
       vk(jwt_sign('{"exp":1893459600}', k('ed25519'), 'Ed25519'), k('ed25519_pub_jwk')) AS with_jwk;
SELECT vk(jwt_sign('{"exp":1893459600}', k('ed25519'), 'Ed25519'), k('ed25519_pub'), ', algorithms => ''{Ed25519}''') AS allowlisted,
       vk(jwt_sign('{"exp":1893459600}', k('ed25519'), 'Ed25519'), k('ed25519_pub'), ', algorithms => ''{EdDSA}''') AS eddsa_allowlist_refuses_ed25519;
SELECT try($$SELECT jwt_sign('{}', k('ed25519'), 'Ed448')$$) AS ed25519_key_as_ed448,
       try($$SELECT jwt_sign('{}', k('ed448'), 'Ed25519')$$) AS ed448_key_as_ed25519,
       try($$SELECT jwt_sign('{}', k('ec_p256'), 'Ed25519')$$) AS ec_key_as_ed25519,
       try($$SELECT jwt_sign('{}', k('ed25519'), 'ed25519')$$) AS lower_case;
SELECT vk(forge('{"alg":"Ed448"}', '{"exp":1893459600}', k('ed25519_pub')), k('ed25519_pub')) AS ed448_token_ed25519_key,
       vk(jwt_sign('{"exp":1893459600}', k('ed25519'), 'Ed25519'), (k('ed25519_pub_jwk')::jsonb || '{"alg":"EdDSA"}')::text) AS jwk_pinned_to_eddsa,
       vk(jwt_sign('{"exp":1893459600}', k('ed25519')), (k('ed25519_pub_jwk')::jsonb || '{"alg":"Ed25519"}')::text) AS jwk_pinned_to_ed25519;

-- no message or detail ever contains the key
CREATE FUNCTION all_text(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE m text; d text; h text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN concat_ws(' | ', m, d, h);
END $$;
SELECT q, position('tiny-secret' IN all_text(q)) = 0 AND position('MII' IN all_text(q)) = 0
          AND position('"d":' IN all_text(q)) = 0 AS no_key_in_error
FROM (VALUES
  ($$SELECT jwt_sign('{}', 'tiny-secret')$$),
  ($$SELECT jwt_verify('a.b.c', 'tiny-secret')$$),
  ($$SELECT jwt_sign('{}', 'tiny-secret'::bytea)$$),
  ($$SELECT jwt_sign('{}', k('rsa1024'))$$),
  ($$SELECT jwt_sign('{}', replace(k('rsa'), 'MII', 'MIJ'))$$),
  ($$SELECT jwt_sign('{}', (k('ec256_jwk')::jsonb || '{"alg":"RS256"}')::text)$$),
  ($$SELECT jwt_verify(jwt_sign('{"exp":1}', 'tiny-secret-tiny-secret-tiny-secret'), 'tiny-secret-tiny-secret-tiny-secret')$$)
) AS v(q);
