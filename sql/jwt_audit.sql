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
