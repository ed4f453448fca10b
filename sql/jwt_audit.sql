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
