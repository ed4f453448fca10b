-- DPoP-bound sessions (RFC 9449 section 5): the refresh token of a session
-- started with dpop_jkt is bound to that key, and a refresh needs a proof by it.
-- Each attack is named in the comment above it; refusals assert their SQLSTATE.
SET jwt.default_lifetime = '1h';
SELECT jwt_generate_key('ES256', 'sessions-dpop') IS NOT NULL AS key;
CREATE ROLE sd_app LOGIN;
GRANT EXECUTE ON FUNCTION jwt_keyring_signer() TO sd_app;
GRANT EXECUTE ON FUNCTION jwt_session_refresh(text), jwt_session_refresh(text, text, text, text),
                          jwt_session_end(text) TO sd_app;

-- sd_proof(claims [, key, alg, header jwk]): a DPoP proof, by default by the
-- client's ES256 key (test keys by name: k(key || '_jwk') signs, the header
-- carries k(key || '_pub_jwk') or k(jwk)); SECURITY DEFINER to read test_keys
CREATE FUNCTION sd_proof(claims jsonb, key text DEFAULT 'ec256', alg text DEFAULT 'ES256', jwk text DEFAULT NULL)
RETURNS text LANGUAGE sql SECURITY DEFINER
AS $$ SELECT jws_sign(convert_to(claims::text, 'UTF8'), k(key || '_jwk'), alg,
                      jsonb_build_object('typ', 'dpop+jwt', 'jwk', k(coalesce(jwk, key || '_pub_jwk'))::jsonb)) $$;
-- sd_claims([htm, htu]): a refresh request's proof claims with a fresh jti, issued now
CREATE FUNCTION sd_claims(htm text DEFAULT 'POST', htu text DEFAULT 'https://app.example.com/auth/refresh',
                          extra jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE sql
AS $$ SELECT jsonb_build_object('jti', gen_random_uuid()::text, 'htm', htm, 'htu', htu,
                                'iat', floor(extract(epoch FROM statement_timestamp()))::bigint) || extra $$;
-- sd_refresh(refresh token, proof [, method, url]): 'ok' or the SQLSTATE and message
CREATE FUNCTION sd_refresh(r text, proof text, method text DEFAULT 'POST',
                           url text DEFAULT 'https://app.example.com/auth/refresh')
RETURNS text LANGUAGE sql
AS $$ SELECT try(format('SELECT jwt_session_refresh(%L, %L, %L, %L)', r, proof, method, url)) $$;
-- sd_used(refresh token): whether the refresh token has been spent (NULL: unknown)
CREATE FUNCTION sd_used(r text) RETURNS boolean LANGUAGE sql
AS $$ SELECT used_at IS NOT NULL FROM jwt_session_refresh_tokens WHERE digest = digest(r, 'sha256') $$;
-- sd_ended(session id): whether the session has ended
CREATE FUNCTION sd_ended(s text) RETURNS boolean LANGUAGE sql
AS $$ SELECT ended_at IS NOT NULL FROM jwt_sessions WHERE sid = s $$;
GRANT EXECUTE ON FUNCTION sd_proof(jsonb, text, text, text), sd_claims(text, text, jsonb),
                          sd_refresh(text, text, text, text) TO sd_app;

SELECT jwt_thumbprint(k('ec256_pub_jwk')::jsonb) AS jkt, k('ec256_pub_jwk') AS pub \gset
SET ROLE sd_app;
SELECT access_token AS a, refresh_token AS r, session_id AS s
FROM jwt_session_start('{"sub":"dora"}', dpop_jkt => :'jkt') \gset
RESET ROLE;

-- attack: a thief with the refresh token only (not the client's private key)
-- refreshes with the one-argument form: refused, and the token is not spent
SET ROLE sd_app;
SELECT try(format('SELECT jwt_session_refresh(%L)', :'r')) AS stolen_refresh_without_proof;
-- ... nor with the DPoP form and no proof (NULL is the one-argument form)
SELECT sd_refresh(:'r', NULL) AS stolen_refresh_null_proof;
RESET ROLE;
SELECT sd_used(:'r') AS spent, sd_ended(:'s') AS ended;

-- attack: the thief signs a proof with a key of their own: refused (the key is
-- not the session's), before the refresh token is spent
SET ROLE sd_app;
SELECT sd_refresh(:'r', sd_proof(sd_claims(), 'ed25519', 'EdDSA')) AS proof_by_another_key;
RESET ROLE;
SELECT sd_used(:'r') AS spent, sd_ended(:'s') AS ended;

-- attack: a proof for another request (method, URL), a stale one, one whose
-- header carries the private key, an HMAC "proof": DPoP refusals, nothing spent
SET ROLE sd_app;
SELECT sd_refresh(:'r', sd_proof(sd_claims('GET'))) AS wrong_htm,
       sd_refresh(:'r', sd_proof(sd_claims(htu => 'https://app.example.com/api/things'))) AS wrong_htu,
       sd_refresh(:'r', sd_proof(sd_claims(extra => jsonb_build_object('iat', floor(extract(epoch FROM now() - interval '1 hour'))::bigint)))) AS stale_proof;
SELECT sd_refresh(:'r', sd_proof(sd_claims(), jwk => 'ec256_jwk')) AS private_jwk,
       sd_refresh(:'r', jws_sign(convert_to(sd_claims()::text, 'UTF8'), 'secret-secret-secret-secret-secret!', 'HS256',
                                 jsonb_build_object('typ', 'dpop+jwt', 'jwk', :'pub'::jsonb))) AS hmac_proof,
       sd_refresh(:'r', 'not-a-proof') AS garbage_proof;
-- a proof without the request's method and url cannot be checked
SELECT try(format('SELECT jwt_session_refresh(%L, %L)', :'r', sd_proof(sd_claims()))) AS proof_without_request;
RESET ROLE;
SELECT sd_used(:'r') AS spent, sd_ended(:'s') AS ended;

-- the victim (the key holder) still refreshes: a valid proof rotates the token,
-- and the new access token carries the same cnf.jkt
SELECT sd_proof(sd_claims()) AS p1 \gset
SET ROLE sd_app;
SELECT access_token AS a2, refresh_token AS r2, session_id = :'s' AS same_session
FROM jwt_session_refresh(:'r', :'p1', 'POST', 'https://app.example.com/auth/refresh') \gset
RESET ROLE;
SELECT :'same_session' AS same_session, sd_used(:'r') AS old_spent, sd_used(:'r2') AS new_spent;
SELECT (jwt_decode(:'a2')).payload -> 'cnf' ->> 'jkt' = :'jkt' AS new_access_bound_to_the_key,
       (jwt_decode(:'a2')).payload ->> 'sid' = :'s' AS new_access_same_sid;
-- ... and it authenticates with a proof by that key for an API request (ath: its hash)
BEGIN;
SELECT (jwt_authenticate(:'a2', sd_proof(sd_claims('GET', 'https://app.example.com/api/things',
                                                   jsonb_build_object('ath', b64u(digest(:'a2', 'sha256'))))),
                         'GET', 'https://app.example.com/api/things')) ->> 'sub' AS authenticated;
SELECT jwt_reset();
COMMIT;
-- attack: a proof made for a request with an access token ("ath"), its htm
-- and htu those of the refresh endpoint (a caller that passes the method and
-- URL the client names): refused (28JDA), the refresh token not spent
SELECT sd_proof(sd_claims(extra => jsonb_build_object('ath', b64u(digest(:'a2', 'sha256'))))) AS p2 \gset
SET ROLE sd_app;
SELECT sd_refresh(:'r2', :'p2') AS proof_with_ath_at_refresh;
RESET ROLE;
SELECT sd_used(:'r2') AS spent_by_proof_with_ath;
-- attack: an API call's proof (ath) intercepted and sent to the refresh
-- endpoint first, to burn it: the refusal records nothing, so the proof still
-- passes for the request with the access token it was made for
SELECT (jwt_dpop_verify(:'p2', 'POST', 'https://app.example.com/auth/refresh', :'a2')) ->> 'jkt' = :'jkt' AS ath_proof_not_burned_by_refusal;
-- a refresh proof needs no "ath" (a refresh token is not an access token,
-- RFC 9449 section 4.2)
SELECT sd_proof(sd_claims()) AS p2 \gset
SET ROLE sd_app;
SELECT refresh_token AS r3 FROM jwt_session_refresh(:'r2', :'p2', 'POST', 'https://app.example.com/auth/refresh') \gset
RESET ROLE;
SELECT sd_used(:'r2') AS spent_without_ath;

-- attack: a refresh request (token and proof) captured and replayed: the
-- proof is single-use, refused before reuse detection, so the family lives
SET ROLE sd_app;
SELECT sd_refresh(:'r2', :'p2') AS replayed_request;
RESET ROLE;
SELECT sd_ended(:'s') AS ended;
-- ... and the replayed proof with the current token: refused too, nothing spent
SET ROLE sd_app;
SELECT sd_refresh(:'r3', :'p2') AS replayed_proof_current_token;
RESET ROLE;
SELECT sd_used(:'r3') AS spent, sd_ended(:'s') AS ended;

-- attack: a thief with a spent refresh token of the family but not the key
-- presents it (without a proof, or with a proof by their key): not reuse, since
-- a keyless party could otherwise end any bound session; the family lives
SET ROLE sd_app;
SELECT try(format('SELECT jwt_session_refresh(%L)', :'r')) AS spent_token_without_proof,
       sd_refresh(:'r', sd_proof(sd_claims(), 'ed25519', 'EdDSA')) AS spent_token_other_key;
RESET ROLE;
SELECT sd_ended(:'s') AS ended;
SET ROLE sd_app;
SELECT sd_refresh(:'r3', sd_proof(sd_claims())) AS victim_still_refreshes;
RESET ROLE;

-- attack: the spent token with a valid proof by the session's key (the key
-- and the token both stolen, or a client that forked): reuse, the family is ended
SET ROLE sd_app;
SELECT sd_refresh(:'r', sd_proof(sd_claims())) AS spent_token_with_key;
RESET ROLE;
SELECT sd_ended(:'s') AS ended;
SELECT try(format('SELECT jwt_verify(%L)', :'a2')) AS access_after_reuse;
SET ROLE sd_app;
SELECT sd_refresh(:'r3', sd_proof(sd_claims())) AS family_after_reuse;
RESET ROLE;

-- an unbound session refreshed with a proof: refused (it would stay unbound,
-- its access tokens bearer tokens, which a client sending proofs does not
-- expect; a thief's key must not bind it either); without a proof it refreshes
SET ROLE sd_app;
SELECT refresh_token AS ur, session_id AS us FROM jwt_session_start('{"sub":"ursula"}') \gset
SELECT sd_refresh(:'ur', sd_proof(sd_claims())) AS unbound_with_proof;
SELECT sd_refresh(:'ur', NULL) AS unbound_null_proof_form;
RESET ROLE;
SELECT sd_used(:'ur') AS spent, (SELECT dpop_jkt FROM jwt_sessions WHERE sid = :'us') IS NULL AS still_unbound;

-- unknown, malformed and NULL refresh tokens with a proof: the session codes
SET ROLE sd_app;
SELECT sd_refresh(repeat('A', 43), sd_proof(sd_claims())) AS unknown_token,
       sd_refresh('short', sd_proof(sd_claims())) AS malformed_token,
       sd_refresh(NULL, sd_proof(sd_claims())) AS null_token;
RESET ROLE;

-- ---------- logout (jwt_session_end) of a bound session ----------
-- sd_end(refresh token, proof [, method, url]): the result or the SQLSTATE and message
CREATE FUNCTION sd_end(r text, proof text, method text DEFAULT 'POST',
                       url text DEFAULT 'https://app.example.com/auth/logout')
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN jwt_session_end(r, proof, method, url)::text;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
GRANT EXECUTE ON FUNCTION sd_end(text, text, text, text) TO sd_app;
GRANT EXECUTE ON FUNCTION jwt_session_end(text, text, text, text) TO sd_app;
SET ROLE sd_app;
SELECT refresh_token AS er, session_id AS es FROM jwt_session_start('{"sub":"ed"}', dpop_jkt => :'jkt') \gset
RESET ROLE;

-- attack: a thief with the refresh token but not the key logs the user out
-- (one-argument logout, or a proof by their own key): refused, the session lives
SET ROLE sd_app;
SELECT try(format('SELECT jwt_session_end(%L)', :'er')) AS stolen_token_logout,
       sd_end(:'er', NULL) AS stolen_token_logout_null_proof,
       sd_end(:'er', sd_proof(sd_claims(htu => 'https://app.example.com/auth/logout'), 'ed25519', 'EdDSA')) AS logout_other_key;
-- a proof for the refresh URL is not one for logout
SELECT sd_end(:'er', sd_proof(sd_claims())) AS logout_wrong_htu;
-- attack: an API call's proof (ath) by the session's key, its htm and htu the
-- logout endpoint's: refused (28JDA), as at refresh, the session lives
SELECT sd_end(:'er', sd_proof(sd_claims(htu => 'https://app.example.com/auth/logout',
                                        extra => jsonb_build_object('ath', b64u(digest('any access token', 'sha256'))))))
       AS logout_proof_with_ath;
RESET ROLE;
SELECT sd_ended(:'es') AS ended;

-- the user (the key holder) logs out with a proof for the logout request
SET ROLE sd_app;
SELECT sd_end(:'er', sd_proof(sd_claims(htu => 'https://app.example.com/auth/logout'))) AS logout_with_key,
       sd_end(:'er', sd_proof(sd_claims(htu => 'https://app.example.com/auth/logout'))) AS logout_again;
RESET ROLE;
SELECT sd_ended(:'es') AS ended;
-- an ended bound session refreshed with a valid proof: ended (28JS4)
SET ROLE sd_app;
SELECT sd_refresh(:'er', sd_proof(sd_claims())) AS ended_with_proof;
-- an unbound session: logout with a proof refused (as its refresh is), without one it ends
SELECT refresh_token AS ur2 FROM jwt_session_start('{"sub":"ulla"}') \gset
SELECT sd_end(:'ur2', sd_proof(sd_claims(htu => 'https://app.example.com/auth/logout'))) AS unbound_logout_with_proof,
       sd_end(:'ur2', NULL) AS unbound_logout_null_proof_form;
SELECT sd_end(NULL, NULL) AS logout_null_token, sd_end(repeat('A', 43), NULL) AS logout_unknown_token;
RESET ROLE;

-- attack: a role without the grant on the DPoP form
CREATE ROLE sd_evil LOGIN;
SET ROLE sd_evil;
SELECT try(format('SELECT jwt_session_refresh(%L, %L, %L, %L)', :'r3', 'x', 'POST', 'https://x')) AS refresh_dpop_without_grant;
RESET ROLE;

-- the forms: one argument matches the original alone; their grants are separate
SELECT p.oid::regprocedure AS form, has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute,
       p.prosecdef AS security_definer
FROM pg_proc p WHERE p.proname IN ('jwt_session_refresh', 'jwt_session_end') ORDER BY p.proname, p.pronargs;

-- ---------- review: further attacks on bound sessions ----------
SET ROLE sd_app;
SELECT access_token AS xa, refresh_token AS xr, session_id AS xs
FROM jwt_session_start('{"sub":"xena"}', dpop_jkt => :'jkt') \gset
RESET ROLE;

-- attack: a proof captured from an API call (htm GET or POST, htu the API's
-- URL, ath for the access token) presented at the refresh endpoint: refused
-- by its method or URL (28JD6, 28JD7), and the refresh token is not spent
SET ROLE sd_app;
SELECT sd_refresh(:'xr', sd_proof(sd_claims('GET', 'https://app.example.com/api/things',
                                            jsonb_build_object('ath', b64u(digest(:'xa', 'sha256')))))) AS api_get_proof_at_refresh,
       sd_refresh(:'xr', sd_proof(sd_claims('POST', 'https://app.example.com/api/things',
                                            jsonb_build_object('ath', b64u(digest(:'xa', 'sha256')))))) AS api_post_proof_at_refresh;
-- ... nor does URL normalisation make another resource's proof fit: another
-- scheme, host, port, path case, a trailing slash, an encoded "/" (28JD7)
SELECT sd_refresh(:'xr', sd_proof(sd_claims(htu => 'http://app.example.com/auth/refresh'))) AS other_scheme,
       sd_refresh(:'xr', sd_proof(sd_claims(htu => 'https://api.example.com/auth/refresh'))) AS other_host,
       sd_refresh(:'xr', sd_proof(sd_claims(htu => 'https://app.example.com:8443/auth/refresh'))) AS other_port;
SELECT sd_refresh(:'xr', sd_proof(sd_claims(htu => 'https://app.example.com/auth/Refresh'))) AS path_case,
       sd_refresh(:'xr', sd_proof(sd_claims(htu => 'https://app.example.com/auth/refresh/'))) AS trailing_slash,
       sd_refresh(:'xr', sd_proof(sd_claims(htu => 'https://app.example.com/auth%2Frefresh'))) AS encoded_slash;
RESET ROLE;
SELECT sd_used(:'xr') AS spent, sd_ended(:'xs') AS ended;
-- (the same resource spelled otherwise is the same URL, RFC 3986 section 6)
SET ROLE sd_app;
SELECT refresh_token AS xr2
FROM jwt_session_refresh(:'xr', sd_proof(sd_claims(htu => 'HTTPS://App.Example.COM:443/auth/%72efresh?x=1#y')),
                         'POST', 'https://app.example.com/auth/refresh') \gset
RESET ROLE;
SELECT sd_used(:'xr') AS spent_by_normalised_url;

-- attack: the thumbprint spelled otherwise at session start (padding, spare
-- bits set in the last character, standard base64): refused (22023), so that
-- no session is bound to a string no proof's thumbprint can equal
SET ROLE sd_app;
SELECT try($$SELECT jwt_session_start('{}', dpop_jkt => 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k=')$$) AS jkt_padded,
       try($$SELECT jwt_session_start('{}', dpop_jkt => 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4l')$$) AS jkt_spare_bits,
       try($$SELECT jwt_session_start('{}', dpop_jkt => 'kPrK/qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k')$$) AS jkt_standard_base64;
-- ... and a thumbprint in another case (its first letter) is another key's:
-- the client's proof is refused (28JDC), the comparison is exact
SELECT refresh_token AS cr
FROM jwt_session_start('{"sub":"casey"}', dpop_jkt => overlay(:'jkt' PLACING
         CASE WHEN left(:'jkt', 1) ~ '[a-z]' THEN upper(left(:'jkt', 1))
              WHEN left(:'jkt', 1) ~ '[A-Z]' THEN lower(left(:'jkt', 1)) ELSE 'A' END FROM 1 FOR 1)) \gset
SELECT sd_refresh(:'cr', sd_proof(sd_claims())) AS jkt_other_case;
RESET ROLE;

-- attack: the application's role (or any other) calls the internal functions
-- directly: a forged proven key for _jwt_session_rotate, _jwt_session_binding
-- to learn whether a session is bound and to which key: no EXECUTE (42501),
-- and the tables that hold dpop_jkt are not readable either
SET ROLE sd_app;
SELECT try(format('SELECT _jwt_session_rotate(digest(%L, ''sha256''), digest(''x'', ''sha256''), ''j'', %L)', :'xr2', :'jkt')) AS rotate_forged_jkt,
       try(format('SELECT _jwt_session_binding(digest(%L, ''sha256''))', :'xr2')) AS binding_lookup,
       try('SELECT dpop_jkt FROM jwt_sessions LIMIT 1') AS read_sessions;
RESET ROLE;
SET ROLE sd_evil;
SELECT try(format('SELECT _jwt_session_rotate(digest(%L, ''sha256''), digest(''x'', ''sha256''), ''j'', NULL)', :'xr2')) AS rotate_null_jkt,
       try(format('SELECT _jwt_session_binding(digest(%L, ''sha256''))', :'xr2')) AS binding_lookup;
RESET ROLE;
SELECT p.oid::regprocedure AS internal, has_function_privilege('sd_app', p.oid, 'EXECUTE') AS app_execute,
       p.prosecdef AS security_definer, p.proconfig AS config
FROM pg_proc p WHERE p.proname IN ('_jwt_session_rotate', '_jwt_session_binding') ORDER BY 1::text;

-- attack: NULLs against the key comparison (three-valued logic): the
-- internal rotate, called as the superuser would, with a NULL key for a bound
-- session or a key for an unbound one, spends nothing (IS NOT DISTINCT FROM)
SELECT _jwt_session_rotate(digest(:'xr2', 'sha256'), digest(gen_random_uuid()::text, 'sha256'), 'j1', NULL) ->> 'status' AS bound_null_key,
       _jwt_session_rotate(digest(:'xr2', 'sha256'), digest(gen_random_uuid()::text, 'sha256'), 'j2', '') ->> 'status' AS bound_empty_key;
SELECT sd_used(:'xr2') AS spent;
SET ROLE sd_app;
SELECT refresh_token AS nr FROM jwt_session_start('{"sub":"nell"}') \gset
RESET ROLE;
SELECT _jwt_session_rotate(digest(:'nr', 'sha256'), digest(gen_random_uuid()::text, 'sha256'), 'j3', :'jkt') ->> 'status' AS unbound_with_key;
SELECT sd_used(:'nr') AS spent;

-- the user lost the key (a wiped browser): the session cannot be ended with
-- its refresh token alone, but a role that may revoke ends it by its sid
-- (jwt_revoke_session, as for back-channel logout): refreshes are then 28JS4
-- and its access tokens are revoked
SELECT jwt_revoke_session(:'xs', 'key lost') AS revoked_by_sid;
SET ROLE sd_app;
SELECT sd_refresh(:'xr2', sd_proof(sd_claims())) AS refresh_after_revoke;
RESET ROLE;
SELECT try(format('SELECT jwt_verify(%L)', :'xa')) AS access_after_revoke;

-- attack: fill the shared store of proofs with the refresh token of a bound
-- session that has ended (kept until purged): a refresh or logout of an ended
-- family checks no proof (so records none; test/sessions_transport.t.sh shows
-- it with the store preloaded): 28JS4, and a logout is false with any proof,
-- or none, since ending it again takes nothing from its user
SET ROLE sd_app;
SELECT sd_refresh(:'xr2', 'not-a-proof') AS ended_refresh_garbage_proof,
       sd_end(:'xr2', 'not-a-proof') AS ended_logout_garbage_proof,
       sd_end(:'xr2', NULL) AS ended_logout_without_proof;
RESET ROLE;

DROP FUNCTION sd_proof(jsonb, text, text, text), sd_claims(text, text, jsonb),
              sd_refresh(text, text, text, text), sd_end(text, text, text, text), sd_used(text), sd_ended(text);
DROP OWNED BY sd_app, sd_evil;
DROP ROLE sd_app, sd_evil;
