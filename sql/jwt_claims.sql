-- Claim rules (RFC 7519 4.1, RFC 8725). The clock is fixed at 2030-01-01 00:00 UTC = 1893456000.
CREATE FUNCTION v(claims text, opts text DEFAULT '') RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT jwt_verify(%L, secret(), now => %L %s)',
                   claims_token(claims), '2030-01-01 00:00:00+00', opts);
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- exp: required by default, the current time must be before it
SELECT v('{"sub":"a"}');
SELECT v('{"exp":1893456001}');
SELECT v('{"exp":1893456000}');
SELECT v('{"exp":1893455999}');
SELECT v('{"exp":1893456000.5}') AS fractional;
SELECT v('{"exp":1893455991}', ', leeway => ''10 seconds''');
SELECT v('{"exp":1893455989}', ', leeway => ''10 seconds''');
SET jwt.leeway = '30s';
SELECT v('{"exp":1893455980}') AS setting_leeway;
SELECT v('{"exp":1893455980}', ', leeway => ''0''') AS argument_wins;
RESET jwt.leeway;
SELECT v('{"exp":1893459600}', ', leeway => ''-1 second''');
SET jwt.require_exp = off;
SELECT v('{"sub":"a"}') AS exp_optional;
RESET jwt.require_exp;

-- NumericDate type confusion
SELECT v('{"exp":"1893459600"}');
SELECT v('{"exp":true}');
SELECT v('{"exp":null}');
SELECT v('{"exp":[1893459600]}');
SELECT v('{"exp":{"t":1893459600}}');
SELECT v('{"exp":-1}');
SELECT v('{"exp":1e300}');
SELECT v('{"exp":1e400}');
SELECT v('{"exp":253402300800}');
SELECT v('{"exp":1893459600,"nbf":"0"}');
SELECT v('{"exp":1893459600,"iat":false}');

-- nbf and iat: not in the future beyond leeway
SELECT v('{"exp":1893459600,"nbf":1893456000}');
SELECT v('{"exp":1893459600,"nbf":1893456001}');
SELECT v('{"exp":1893459600,"nbf":1893456030}', ', leeway => ''30s''');
SELECT v('{"exp":1893459600,"iat":1893456000}');
SELECT v('{"exp":1893459600,"iat":1893456005}');
SELECT v('{"exp":1893459600,"iat":1893456005}', ', leeway => ''5s''');

-- max_age from iat
SELECT v('{"exp":1893459600,"iat":1893455000}', ', max_age => ''1 hour''');
SELECT v('{"exp":1893459600,"iat":1893450000}', ', max_age => ''1 hour''');
SELECT v('{"exp":1893459600}', ', max_age => ''1 hour''');

-- jwt.max_lifetime: exp - iat (or exp - now without iat)
SET jwt.max_lifetime = '1h';
SELECT v('{"exp":1893459600,"iat":1893456000}');
SELECT v('{"exp":1893459601,"iat":1893456000}');
SELECT v('{"exp":1893463200}');
RESET jwt.max_lifetime;

-- aud (RFC 7519 4.1.3)
SELECT v('{"exp":1893459600,"aud":"api"}');
SELECT v('{"exp":1893459600,"aud":"api"}', ', audience => ''api''');
SELECT v('{"exp":1893459600,"aud":"api"}', ', audience => ''API''');
SELECT v('{"exp":1893459600,"aud":["web","api"]}', ', audience => ''api''');
SELECT v('{"exp":1893459600,"aud":["web","app"]}', ', audience => ''api''');
SELECT v('{"exp":1893459600,"aud":[]}', ', audience => ''api''');
SELECT v('{"exp":1893459600,"aud":[]}');
SELECT v('{"exp":1893459600}', ', audience => ''api''');
SELECT v('{"exp":1893459600,"aud":["api",1]}', ', audience => ''api''');
SELECT v('{"exp":1893459600,"aud":{"api":true}}', ', audience => ''api''');
SET jwt.audience = 'api';
SELECT v('{"exp":1893459600,"aud":"api"}') AS setting_audience;
SELECT v('{"exp":1893459600,"aud":"api"}', ', audience => ''web''') AS argument_wins;
RESET jwt.audience;

-- iss: exact match when expected
SELECT v('{"exp":1893459600,"iss":"https://id.example"}', ', issuer => ''https://id.example''');
SELECT v('{"exp":1893459600,"iss":"https://id.example/"}', ', issuer => ''https://id.example''');
SELECT v('{"exp":1893459600}', ', issuer => ''https://id.example''');
SELECT v('{"exp":1893459600,"iss":["https://id.example"]}', ', issuer => ''https://id.example''');
SELECT v('{"exp":1893459600,"iss":"anyone"}') AS issuer_not_checked;
SET jwt.issuer = 'https://id.example';
SELECT v('{"exp":1893459600,"iss":"https://id.example"}') AS setting_issuer;
SELECT v('{"exp":1893459600,"iss":"https://evil.example"}') AS setting_issuer;
RESET jwt.issuer;

-- sub, jti: strings; subject option
SELECT v('{"exp":1893459600,"sub":"alice"}', ', subject => ''alice''');
SELECT v('{"exp":1893459600,"sub":"bob"}', ', subject => ''alice''');
SELECT v('{"exp":1893459600}', ', subject => ''alice''');
SELECT v('{"exp":1893459600,"sub":42}');
SELECT v('{"exp":1893459600,"jti":42}');

-- required claims
SELECT v('{"exp":1893459600,"sub":"a","role":null}', ', required => ARRAY[''sub'',''role'']');
SELECT v('{"exp":1893459600,"sub":"a"}', ', required => ARRAY[''sub'',''jti'']');
SELECT v('{"exp":1893459600}', ', required => ARRAY[NULL]');

-- typ: compared case-insensitively, "application/" optional (RFC 7515 4.1.9)
SELECT try(format('SELECT jwt_verify(%L, secret(), typ => %L, now => %L)',
           jwt_sign('{"exp":1893459600}', secret(), header => '{"typ":"at+jwt"}'), t, '2030-01-01 00:00+00'))
FROM unnest(ARRAY['at+jwt', 'AT+JWT', 'application/at+jwt', 'JWT']) AS t;
SELECT try(format('SELECT jwt_verify(%L, secret(), typ => ''JWT'', now => %L)',
           claims_token('{"exp":1893459600}'), '2030-01-01 00:00+00')) AS no_typ;

-- the returned claims are exactly the token's
SELECT jwt_verify(claims_token('{"exp":1893459600,"n":1.50,"big":123456789012345678901234567890,"s":"\u00e9\n","deep":{"a":[{"b":null}]}}'),
                  secret(), now => '2030-01-01 00:00+00');
