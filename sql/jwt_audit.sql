-- jwt_audit: issue 12 items 14, 15, 16, 18, 19, 25: claims, signing, encodings, hygiene
-- Each test names the attack it replays.
SET jwt.default_lifetime = 0;

-- Item 14. A NumericDate beyond numeric's range (exp: 1e999999999) raised
-- numeric's 22003 instead of the claims SQLSTATE.  Every claim-number failure
-- is 22J06, whichever claim holds it and however far out it is.
SELECT outcome(claims_token('{"sub":"a","exp":1e999999999}')) AS exp_beyond_numeric;
SELECT outcome(claims_token('{"sub":"a","exp":1e99}')) AS exp_past_9999;
SELECT outcome(claims_token('{"sub":"a","nbf":-1e999999999}')) AS nbf_beyond_numeric;
SELECT outcome(claims_token('{"sub":"a","iat":1e-999999999}')) AS iat_tiny;
SELECT outcome(claims_token('{"sub":"a","exp":1893459600,"n":1e1001}')) AS custom_claim_beyond_numeric;
SELECT outcome(claims_token('{"sub":"a","exp":1893459600,"x":{"y":[1,2e9999]}}')) AS nested_number_beyond_numeric;
SELECT outcome(claims_token('{"sub":"a","exp":1893459600,"n":1e1000,"m":1.5e-1000}')) AS at_the_limits_accepted;
SELECT try(format('SELECT jwt_decode(%L)', claims_token('{"exp":1e999999999}'))) AS decode;
SELECT try(format('SELECT jwt_is_revoked(%L)', claims_token('{"exp":1e999999999}'))) AS is_revoked;
SELECT outcome(forge('{"alg":"HS256","n":1e999999999}', '{"exp":1893459600}')) AS header_number_beyond_numeric;
-- the claim's name, when it is the token's, is quoted only as printable text
SELECT outcome(claims_token(E'{"\\u001b[31mevil":1e999999999,"exp":1893459600}')) AS name_made_printable;

-- Item 15. jwt_sign made tokens that jwt_verify then refuses whatever the time
-- (exp before iat; exp - iat beyond jwt.max_lifetime).  Now signing refuses
-- them with verification's SQLSTATE and message.
SELECT try($$SELECT jwt_sign('{"sub":"a","iat":1893459600,"exp":1893456000}', secret())$$) AS sign_exp_before_iat;
SELECT outcome(claims_token('{"sub":"a","iat":1893459600,"exp":1893456000}'), at => '2030-01-01 00:30+00') AS verify_exp_before_iat;
SET jwt.max_lifetime = 3600;
SELECT try($$SELECT jwt_sign('{"sub":"a","iat":1893456000,"exp":1893463200}', secret())$$) AS sign_beyond_max_lifetime;
SELECT outcome(claims_token('{"sub":"a","iat":1893456000,"exp":1893463200}'), at => '2030-01-01 00:30+00') AS verify_beyond_max_lifetime;
-- without iat the lifetime runs from now, as verification counts it
SELECT try($$SELECT jwt_sign(jsonb_build_object('sub', 'a', 'exp', extract(epoch from now())::bigint + 7200), secret())$$) AS sign_no_iat_beyond;
SELECT try($$SELECT jwt_sign(jsonb_build_object('sub', 'a', 'exp', extract(epoch from now())::bigint + 600), secret())$$) AS sign_no_iat_within;
-- jwt.default_lifetime beyond jwt.max_lifetime: refused, not silently shortened
SET jwt.default_lifetime = 7200;
SELECT try($$SELECT jwt_sign('{"sub":"a"}', secret())$$) AS default_beyond_max_lifetime;
SET jwt.default_lifetime = 600;
SELECT jwt_is_valid(jwt_sign('{"sub":"a"}', secret()), secret()) AS default_within_max_lifetime;
RESET jwt.max_lifetime;
SET jwt.default_lifetime = 0;

-- Item 16. ECDSA signatures are malleable: (r, s) and (r, n - s) both verify.
-- Other issuers produce high-S signatures, so both forms are accepted (the
-- README said "exactly one form"; it no longer does).  What matters is that
-- nothing depends on the signature bytes: a token revoked by its jti stays
-- revoked when an attacker re-encodes its signature.
CREATE FUNCTION bytes_to_numeric(b bytea) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(sum(get_byte(b, i)::numeric * 256::numeric ^ (length(b) - 1 - i)), 0)
  FROM generate_series(0, length(b) - 1) i $$;
CREATE FUNCTION numeric_to_bytes(n numeric, len int) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT string_agg(set_byte('\x00'::bytea, 0, (trunc(n / 256::numeric ^ (len - 1 - i)) % 256)::int), ''::bytea ORDER BY i)
  FROM generate_series(0, len - 1) i $$;
-- the order of P-256
SELECT bytes_to_numeric('\xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551') AS p256_n \gset
SELECT jwt_sign('{"sub":"mallory","jti":"malleable-1","exp":1893459600}', k('ec_p256')) AS es_token \gset
SELECT with_sig(:'es_token',
                substring(unb64u(split_part(:'es_token', '.', 3)) from 1 for 32)
                || numeric_to_bytes(:p256_n - bytes_to_numeric(substring(unb64u(split_part(:'es_token', '.', 3)) from 33 for 32)), 32))
       AS es_twin \gset
SELECT :'es_twin' <> :'es_token' AS twin_differs,
       outcome(:'es_token', k('ec_p256_pub')) AS original,
       outcome(:'es_twin', k('ec_p256_pub')) AS high_s_twin_accepted;
SELECT jwt_revoke(:'es_token') AS revoked;
SELECT try(format('SELECT jwt_verify(%L, %L, now => %L, check_revoked => true)', :'es_twin', k('ec_p256_pub'), '2030-01-01 00:00+00')) AS twin_still_revoked;
SELECT jwt_is_revoked(:'es_twin') AS twin_is_revoked;
DELETE FROM jwt_revoked_tokens WHERE jti = 'malleable-1';
