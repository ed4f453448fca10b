-- The attack catalog: every known way to get a JWT library to accept what it
-- should not, each asserting the exact SQLSTATE of its refusal.
-- Verification runs at 2030-01-01 00:00 UTC; valid claims expire an hour later.
SET jwt.default_lifetime = 0;
SELECT jwt_generate_key('ES256', 'attack-key') AS kid;
CREATE TABLE attack_tokens AS SELECT
  jwt_sign('{"sub":"alice","exp":1893459600}', secret()) AS hs,
  jwt_sign('{"sub":"alice","exp":1893459600}', k('rsa'), 'RS256') AS rs,
  jwt_sign('{"sub":"alice","exp":1893459600}', k('rsa'), 'PS256') AS ps,
  jwt_sign('{"sub":"alice","exp":1893459600}', k('ec_p256')) AS es,
  jwt_sign('{"sub":"alice","exp":1893459600}', k('ed25519')) AS ed,
  jwt_sign('{"sub":"alice","exp":1893459600}', header => '{"kid":"attack-key"}') AS ring;

CREATE TABLE attacks (id serial, name text, expected text, stmt text);
CREATE FUNCTION attack(name text, expected text, stmt text) RETURNS void LANGUAGE sql
AS $$ INSERT INTO attacks (name, expected, stmt) VALUES (name, expected, stmt) $$;
-- vx(token, key [, options]): jwt_verify at the fixed time
CREATE FUNCTION vx(token text, key text, opts text DEFAULT '') RETURNS text LANGUAGE sql
AS $$ SELECT format('SELECT jwt_verify(%L, %L, now => %L %s)', token, key, '2030-01-01 00:00+00', opts) $$;
CREATE FUNCTION vring(token text) RETURNS text LANGUAGE sql
AS $$ SELECT format('SELECT jwt_verify(%L, now => %L)', token, '2030-01-01 00:00+00') $$;

-- alg "none", every spelling
SELECT attack('alg none', '28J07', vx(forge('{"alg":"none"}', '{"exp":1893459600}'), secret()));
SELECT attack('alg None', '28J07', vx(forge('{"alg":"None"}', '{"exp":1893459600}'), secret()));
SELECT attack('alg NONE', '28J07', vx(forge('{"alg":"NONE"}', '{"exp":1893459600}'), secret()));
SELECT attack('alg nOnE', '28J07', vx(forge('{"alg":"nOnE"}', '{"exp":1893459600}'), secret()));
SELECT attack('alg none, empty signature', '22J01', vx(b64u('{"alg":"none"}') || '.' || b64u('{"exp":1893459600}') || '.', secret()));
SELECT attack('alg none against the keyring', '28J07', vring(forge('{"alg":"none","kid":"attack-key"}', '{"exp":1893459600}')));
SELECT attack('alg none with a public key', '28J07', vx(forge('{"alg":"none"}', '{"exp":1893459600}'), k('rsa_pub')));
SELECT attack('alg empty string', '28J07', vx(forge('{"alg":""}', '{"exp":1893459600}'), secret()));
SELECT attack('alg missing', '22J04', vx(forge('{"typ":"JWT"}', '{"exp":1893459600}'), secret()));
SELECT attack('alg null', '22J04', vx(forge('{"alg":null}', '{"exp":1893459600}'), secret()));
SELECT attack('alg array', '22J04', vx(forge('{"alg":["HS256"]}', '{"exp":1893459600}'), secret()));
SELECT attack('alg lower case', '28J07', vx(forge('{"alg":"hs256"}', '{"exp":1893459600}'), secret()));
-- key confusion: a public key's text used as an HMAC secret
SELECT attack('RS/HS: RSA PEM as HMAC secret', '28J07', vx(forge('{"alg":"HS256"}', '{"exp":1893459600}', k('rsa_pub')), k('rsa_pub')));
SELECT attack('RS/HS: PKCS#1 PEM as HMAC secret', '28J07', vx(forge('{"alg":"HS256"}', '{"exp":1893459600}', k('rsa_pub_pkcs1')), k('rsa_pub_pkcs1')));
SELECT attack('RS/HS: RSA JWK as HMAC secret', '28J07', vx(forge('{"alg":"HS256"}', '{"exp":1893459600}', k('rsa_pub_jwk')), k('rsa_pub_jwk')));
SELECT attack('ES/HS: EC PEM as HMAC secret', '28J07', vx(forge('{"alg":"HS256"}', '{"exp":1893459600}', k('ec_p256_pub')), k('ec_p256_pub')));
SELECT attack('ES/HS: EC JWK as HMAC secret', '28J07', vx(forge('{"alg":"HS256"}', '{"exp":1893459600}', k('ec256_pub_jwk')), k('ec256_pub_jwk')));
SELECT attack('EdDSA/HS: Ed25519 PEM as HMAC secret', '28J07', vx(forge('{"alg":"HS512"}', '{"exp":1893459600}', k('ed25519_pub'), 'sha512'), k('ed25519_pub')));
SELECT attack('RS/HS: PEM passed as bytea secret', '22023', format('SELECT jwt_verify(%L, convert_to(%L, ''UTF8''))', forge('{"alg":"HS256"}', '{}', k('rsa_pub')), k('rsa_pub')));
SELECT attack('HS against the keyring EC key', '28J07', vring(forge('{"alg":"HS256","kid":"attack-key"}', '{"exp":1893459600}')));
-- wrong scheme, wrong curve
SELECT attack('RS signature relabelled PS', '28J03', (SELECT vx(with_header(rs, '{"alg":"PS256"}'), k('rsa_pub')) FROM attack_tokens));
SELECT attack('PS signature relabelled RS', '28J03', (SELECT vx(with_header(ps, '{"alg":"RS256"}'), k('rsa_pub')) FROM attack_tokens));
SELECT attack('RS token, PS-only allowlist', '28J07', (SELECT vx(rs, k('rsa_pub'), ', algorithms => ARRAY[''PS256'']') FROM attack_tokens));
SELECT attack('ES256 signature relabelled ES384', '28J07', (SELECT vx(with_header(es, '{"alg":"ES384"}'), k('ec_p256_pub')) FROM attack_tokens));
SELECT attack('P-256 token, P-384 key', '28J07', (SELECT vx(es, k('ec_p384_pub')) FROM attack_tokens));
SELECT attack('Ed25519 token, Ed448 key', '28J03', (SELECT vx(ed, k('ed448_pub')) FROM attack_tokens));
SELECT attack('EdDSA header, EC key', '28J07', (SELECT vx(with_header(es, '{"alg":"EdDSA"}'), k('ec_p256_pub')) FROM attack_tokens));
SELECT attack('secp256k1 key', '22023', (SELECT vx(es, k('ec_secp256k1_pub')) FROM attack_tokens));
-- embedded keys are never used
SELECT attack('embedded jwk', '28J03', vx(forge('{"alg":"HS256","jwk":{"kty":"oct","k":"' || b64u('attacker key attacker key attacker key') || '"}}', '{"exp":1893459600}', 'attacker key attacker key attacker key'), secret()));
SELECT attack('embedded jku', '28J03', vx(forge('{"alg":"HS256","jku":"https://evil.example/jwks.json"}', '{"exp":1893459600}', 'attacker key attacker key attacker key'), secret()));
SELECT attack('embedded x5u', '28J03', vx(forge('{"alg":"HS256","x5u":"https://evil.example/cert.pem"}', '{"exp":1893459600}', 'attacker key attacker key attacker key'), secret()));
SELECT attack('embedded x5c', '28J03', vx(jwt_sign('{"exp":1893459600}', k('ed448'), header => jsonb_build_object('x5c', jsonb_build_array(replace(replace(replace(k('ed25519_cert'), '-----BEGIN CERTIFICATE-----', ''), '-----END CERTIFICATE-----', ''), E'\n', '')))), k('ed25519_pub')));
SELECT attack('embedded jwk, keyring', '28J03', vring(jwt_sign('{"exp":1893459600}', k('ec_p256'), header => ('{"kid":"attack-key","jwk":' || k('ec256_pub_jwk') || '}')::jsonb)));
-- ECDSA signature forms
SELECT attack('psychic signature r=s=0', '28J03', (SELECT vx(with_sig(es, decode(repeat('00', 64), 'hex')), k('ec_p256_pub')) FROM attack_tokens));
SELECT attack('ECDSA r = 0', '28J03', (SELECT vx(with_sig(es, decode(repeat('00', 32), 'hex') || substring(unb64u(split_part(es, '.', 3)) from 33)), k('ec_p256_pub')) FROM attack_tokens));
SELECT attack('ECDSA s = 0', '28J03', (SELECT vx(with_sig(es, substring(unb64u(split_part(es, '.', 3)) from 1 for 32) || decode(repeat('00', 32), 'hex')), k('ec_p256_pub')) FROM attack_tokens));
SELECT attack('ECDSA r = group order', '28J03', (SELECT vx(with_sig(es, decode('FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551', 'hex') || substring(unb64u(split_part(es, '.', 3)) from 33)), k('ec_p256_pub')) FROM attack_tokens));
SELECT attack('ECDSA s = group order', '28J03', (SELECT vx(with_sig(es, substring(unb64u(split_part(es, '.', 3)) from 1 for 32) || decode('FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551', 'hex')), k('ec_p256_pub')) FROM attack_tokens));
SELECT attack('ECDSA r, s above the order', '28J03', (SELECT vx(with_sig(es, decode(repeat('FF', 64), 'hex')), k('ec_p256_pub')) FROM attack_tokens));
SELECT attack('ECDSA DER instead of raw', '28J03', (SELECT vx(with_sig(es, '\x30440220'::bytea || substring(unb64u(split_part(es, '.', 3)) from 1 for 32) || '\x0220'::bytea || substring(unb64u(split_part(es, '.', 3)) from 33)), k('ec_p256_pub')) FROM attack_tokens));
SELECT attack('ECDSA signature one byte short', '28J03', (SELECT vx(with_sig(es, substring(unb64u(split_part(es, '.', 3)) from 2)), k('ec_p256_pub')) FROM attack_tokens));
-- RSA signature lengths
SELECT attack('RSA signature one byte short', '28J03', (SELECT vx(with_sig(rs, substring(unb64u(split_part(rs, '.', 3)) from 2)), k('rsa_pub')) FROM attack_tokens));
SELECT attack('RSA signature zero-prefixed', '28J03', (SELECT vx(with_sig(rs, '\x00'::bytea || unb64u(split_part(rs, '.', 3))), k('rsa_pub')) FROM attack_tokens));
SELECT attack('HMAC truncated to 16 bytes', '28J03', (SELECT vx(with_sig(hs, substring(unb64u(split_part(hs, '.', 3)) from 1 for 16)), secret()) FROM attack_tokens));
SELECT attack('tampered payload', '28J03', (SELECT vx(split_part(hs, '.', 1) || '.' || b64u('{"sub":"admin","exp":1893459600}') || '.' || split_part(hs, '.', 3), secret()) FROM attack_tokens));
-- weak keys
SELECT attack('RSA 1024-bit verify key', '22023', (SELECT vx(rs, k('rsa1024_pub')) FROM attack_tokens));
SELECT attack('RSA 1024-bit sign key', '22023', format('SELECT jwt_sign(''{}'', %L)', k('rsa1024')));
SELECT attack('HMAC secret of 31 bytes', '22023', (SELECT vx(hs, repeat('k', 31)) FROM attack_tokens));
SELECT attack('HS512 token, 32-byte secret', '28J07', vx(forge('{"alg":"HS512"}', '{"exp":1893459600}', repeat('k', 32), 'sha512'), repeat('k', 32)));
SELECT attack('empty HMAC secret', '22023', 'SELECT jwt_sign(''{}'', ''''::bytea)');
-- critical and unsupported header parameters
SELECT attack('crit unknown', '22J04', vx(forge('{"alg":"HS256","crit":["x-ext"],"x-ext":1}', '{"exp":1893459600}'), secret()));
SELECT attack('crit empty', '22J04', vx(forge('{"alg":"HS256","crit":[]}', '{"exp":1893459600}'), secret()));
SELECT attack('crit not an array', '22J04', vx(forge('{"alg":"HS256","crit":"exp"}', '{"exp":1893459600}'), secret()));
SELECT attack('b64 false (unencoded payload)', '22J04', vx(forge('{"alg":"HS256","b64":false,"crit":["b64"]}', '{"exp":1893459600}'), secret()));
SELECT attack('zip (compressed payload)', '22J04', vx(forge('{"alg":"HS256","zip":"DEF"}', '{"exp":1893459600}'), secret()));
SELECT attack('enc (a JWE header)', '22J04', vx(forge('{"alg":"HS256","enc":"A256GCM"}', '{"exp":1893459600}'), secret()));
SELECT attack('JWE compact (5 segments)', '22J01', vx('eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXY.Y2lwaGVy.dGFn', secret()));
SELECT attack('JWS JSON serialization', '22J01', vx('{"payload":"e30","signatures":[{"protected":"eyJhbGciOiJIUzI1NiJ9","signature":"AAAA"}]}', secret()));
-- duplicates and non-objects
SELECT attack('duplicate alg in header', '22J03', vx(forge('{"alg":"HS256","alg":"none"}', '{"exp":1893459600}'), secret()));
SELECT attack('duplicate alg via \u escape', '22J03', vx(forge('{"alg":"HS256","\u0061lg":"none"}', '{"exp":1893459600}'), secret()));
SELECT attack('duplicate sub in claims', '22J03', vx(claims_token('{"exp":1893459600,"sub":"alice","sub":"admin"}'), secret()));
SELECT attack('duplicate sub via escape', '22J03', vx(claims_token('{"exp":1893459600,"sub":"alice","\u0073ub":"admin"}'), secret()));
SELECT attack('header is an array', '22J03', vx(forge('[{"alg":"HS256"}]', '{"exp":1893459600}'), secret()));
SELECT attack('claims are an array', '22J03', vx(claims_token('[{"exp":1893459600}]'), secret()));
SELECT attack('claims are a string', '22J03', vx(claims_token('"{\"exp\":1893459600}"'), secret()));
-- encoding
SELECT attack('invalid UTF-8 in claims', '22J03', vx(jws_sign('\x7b22657870223a313839333435393630302c22737562223a22ff227d'::bytea, secret(), 'HS256'), secret()));
SELECT attack('overlong UTF-8 in header', '22J03', vx(b64u('\x7b22616c67223a224853323536222c226b6964223a22c0af227d'::bytea) || '.' || b64u('{}') || '.' || b64u('sig'), secret()));
SELECT attack('\u0000 in a claim', '22J03', vx(claims_token('{"exp":1893459600,"sub":"admin\u0000alice"}'), secret()));
SELECT attack('lone high surrogate', '22J03', vx(claims_token('{"exp":1893459600,"sub":"\ud800"}'), secret()));
SELECT attack('lone low surrogate', '22J03', vx(claims_token('{"exp":1893459600,"sub":"\udc00x"}'), secret()));
-- NumericDate type confusion
SELECT attack('exp as a string', '22J06', vx(claims_token('{"exp":"1893459600"}'), secret()));
SELECT attack('exp as a boolean', '22J06', vx(claims_token('{"exp":true}'), secret()));
SELECT attack('exp null', '22J06', vx(claims_token('{"exp":null}'), secret()));
SELECT attack('exp huge', '22J06', vx(claims_token('{"exp":1e400}'), secret()));
SELECT attack('exp negative', '22J06', vx(claims_token('{"exp":-1893459600}'), secret()));
SELECT attack('nbf as a string', '22J06', vx(claims_token('{"exp":1893459600,"nbf":"0"}'), secret()));
SELECT attack('iat as an object', '22J06', vx(claims_token('{"exp":1893459600,"iat":{}}'), secret()));
SELECT attack('no exp', '28J08', vx(claims_token('{"sub":"alice"}'), secret()));
SELECT attack('expired', '28J01', vx(claims_token('{"exp":1893455999}'), secret()));
SELECT attack('not yet valid', '28J02', vx(claims_token('{"exp":1893459600,"nbf":1893456060}'), secret()));
SELECT attack('issued in the future', '28J09', vx(claims_token('{"exp":1893459600,"iat":1893456060}'), secret()));
-- audience and issuer
SELECT attack('aud present, none expected', '28J05', vx(claims_token('{"exp":1893459600,"aud":"other"}'), secret()));
SELECT attack('aud mismatch', '28J05', vx(claims_token('{"exp":1893459600,"aud":"other"}'), secret(), ', audience => ''api'''));
SELECT attack('aud missing when expected', '28J05', vx(claims_token('{"exp":1893459600}'), secret(), ', audience => ''api'''));
SELECT attack('aud case differs', '28J05', vx(claims_token('{"exp":1893459600,"aud":"API"}'), secret(), ', audience => ''api'''));
SELECT attack('aud array with a number', '22J06', vx(claims_token('{"exp":1893459600,"aud":["api",1]}'), secret(), ', audience => ''api'''));
SELECT attack('iss mismatch', '28J06', vx(claims_token('{"exp":1893459600,"iss":"https://evil.example"}'), secret(), ', issuer => ''https://id.example'''));
SELECT attack('iss trailing slash', '28J06', vx(claims_token('{"exp":1893459600,"iss":"https://id.example/"}'), secret(), ', issuer => ''https://id.example'''));
SELECT attack('iss as an array', '22J06', vx(claims_token('{"exp":1893459600,"iss":["https://id.example"]}'), secret(), ', issuer => ''https://id.example'''));
-- base64url
SELECT attack('padding', '22J02', (SELECT vx(replace(hs, '.', '=.'), secret()) FROM attack_tokens));
SELECT attack('standard base64 characters', '22J02', (SELECT vx('+' || hs, secret()) FROM attack_tokens));
SELECT attack('non-zero spare bits', '22J02', vx(b64u('{"alg":"HS256"}') || '.YR.' || b64u('sig'), secret()));
SELECT attack('leading space', '22J02', (SELECT vx(' ' || hs, secret()) FROM attack_tokens));
SELECT attack('embedded newline', '22J02', (SELECT vx(replace(hs, '.', E'\n.'), secret()) FROM attack_tokens));
SELECT attack('non-ASCII byte', '22J02', (SELECT vx('é' || hs, secret()) FROM attack_tokens));
-- size and depth
SELECT attack('huge token', '22J05', vx(forge('{"alg":"HS256"}', '{"exp":1893459600,"pad":"' || repeat('x', 100000) || '"}'), secret()));
SELECT attack('deep nesting in header', '22J03', vx(forge('{"alg":"HS256","x":' || repeat('[', 1000) || repeat(']', 1000) || '}', '{}'), secret()));
SELECT attack('deep nesting in claims', '22J03', vx(claims_token('{"exp":1893459600,"x":' || repeat('[', 5000) || repeat(']', 5000) || '}'), secret()));
-- kid against the keyring
SELECT attack('kid with SQL', '28J0D', vring(jwt_sign('{"exp":1893459600}', k('ec_p256'), header => '{"kid":"x'' OR ''1''=''1"}')));
SELECT attack('kid with a path', '28J0D', vring(jwt_sign('{"exp":1893459600}', k('ec_p256'), header => '{"kid":"../../../../etc/passwd"}')));
SELECT attack('kid oversized', '28J0D', vring(jwt_sign('{"exp":1893459600}', k('ec_p256'), header => jsonb_build_object('kid', repeat('k', 20000)))));
SELECT attack('kid as a number', '22J04', vring(forge('{"alg":"ES256","kid":1}', '{"exp":1893459600}')));
SELECT attack('kid of the key, signed by another', '28J03', vring(jwt_sign('{"exp":1893459600}', k('ec_p256'), header => '{"kid":"attack-key"}')));
-- revocation
SELECT jwt_sign('{"sub":"victim","exp":1893459600,"jti":"attack-jti"}', header => '{"kid":"attack-key"}') AS revoked_token \gset
SELECT jwt_revoke(:'revoked_token');
SELECT attack('revoked jti', '28J04', vring(:'revoked_token'));
SELECT jwt_revoke_subject('attack-subject', '2030-01-01 00:00+00');
SELECT attack('subject cut-off', '28J04', vring(jwt_sign('{"sub":"attack-subject","exp":1893459600,"iat":1893455000}', header => '{"kid":"attack-key"}')));
SELECT attack('subject cut-off, no iat', '28J04', vring(jwt_sign('{"sub":"attack-subject","exp":1893459600}', header => '{"kid":"attack-key"}')));

-- every attack is refused with its SQLSTATE
SELECT id, name, expected, substring(try(stmt) from 1 for 5) AS got
FROM attacks ORDER BY id;
SELECT count(*) AS cases,
       count(*) FILTER (WHERE substring(try(stmt) from 1 for 5) = expected) AS refused_as_expected
FROM attacks;
-- the control: the untouched tokens verify
SELECT try(vx(hs, secret())) AS hs, try(vx(rs, k('rsa_pub'))) AS rs, try(vx(es, k('ec_p256_pub'))) AS es,
       try(vring(ring)) AS keyring FROM attack_tokens;
SELECT jwt_retire_key('attack-key');
