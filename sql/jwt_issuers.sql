-- Identity providers as they are (issue 14): keys bound to their issuer,
-- audience and issuer lists, key states and rotation, roles where providers
-- put them.  Each test names the attack it replays.
SET jwt.default_lifetime = '1h';
SET jwt.issuer = 'https://api.example';
-- 'ok' or the SQLSTATE and message of a verification with the keyring
CREATE FUNCTION pg_temp.kv(token text, iss text DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM jwt_verify(token, issuer => iss);
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- a token signed with key (a test key's name) and kid, with these claims and an hour to live
CREATE FUNCTION pg_temp.tok(claims jsonb, key text, kid text DEFAULT NULL) RETURNS text LANGUAGE sql AS $$
    SELECT jwt_sign(claims || jsonb_build_object('exp', extract(epoch FROM now() + interval '1 hour')::bigint),
                    k(key), header => CASE WHEN kid IS NULL THEN NULL ELSE jsonb_build_object('kid', kid) END)
$$;

-- a token signed by this database's key iss-local
CREATE FUNCTION pg_temp.ltok(claims jsonb) RETURNS text LANGUAGE sql AS $$
    SELECT jwt_sign(claims, header => '{"kid":"iss-local"}')
$$;

-- This database's key, and two providers: A (EC) and B (Ed25519, RSA).
SELECT jwt_generate_key('ES256', 'iss-local') AS local_kid;
SELECT jwt_import_jwks(jsonb_build_object('keys', jsonb_build_array(
    k('ec256_pub_jwk')::jsonb || '{"kid":"a-ec","alg":"ES256"}',
    k('ec256_pub_jwk')::jsonb || '{"kid":"shared-kid","alg":"ES256"}')), 'https://a.example') AS a_keys;
SELECT jwt_import_jwks(jsonb_build_object('keys', jsonb_build_array(
    k('ed25519_pub_jwk')::jsonb || '{"kid":"shared-kid"}',
    k('rsa_pub_jwk')::jsonb - 'key_ops' || '{"kid":"b-rsa","alg":"RS256"}')), 'https://b.example') AS b_keys;
SELECT kid, issuer, origin, state, verifies, has_private FROM jwt_key_list
WHERE kid IN ('iss-local', 'a-ec', 'shared-kid', 'b-rsa') ORDER BY kid, issuer;

-- Several issuers are trusted at once, each for its own keys (jwt.issuer is
-- this database's issuer: it does not apply to a provider's keys).
SELECT pg_temp.kv(pg_temp.ltok('{"sub":"local","iss":"https://api.example"}')) AS local_token;
SELECT pg_temp.kv(pg_temp.tok('{"sub":"a","iss":"https://a.example"}', 'ec_p256', 'a-ec')) AS a_token;
SELECT pg_temp.kv(pg_temp.tok('{"sub":"b","iss":"https://b.example"}', 'rsa', 'b-rsa')) AS b_token;

-- Attack: an identity provider's key mints a local identity (iss = this
-- database's issuer, signed by the provider's imported key).
SELECT pg_temp.kv(pg_temp.tok('{"sub":"admin","iss":"https://api.example"}', 'ec_p256', 'a-ec')) AS idp_mints_local;
SELECT try(format('SELECT jwt_authenticate(%L)', pg_temp.tok('{"sub":"admin","iss":"https://api.example"}', 'ec_p256', 'a-ec'))) AS idp_mints_local_authenticate;
SELECT valid(pg_temp.tok('{"sub":"admin","iss":"https://api.example"}', 'ec_p256', 'a-ec'), NULL, now()) AS idp_mints_local_is_valid;
-- the same without any iss
SELECT pg_temp.kv(pg_temp.tok('{"sub":"admin"}', 'ec_p256', 'a-ec')) AS idp_token_without_iss;

-- Attack: a token claiming issuer B carries the kid of issuer A's key.
SELECT pg_temp.kv(pg_temp.tok('{"sub":"x","iss":"https://b.example"}', 'ec_p256', 'a-ec')) AS b_claims_a_kid;
-- ... or an issuer the keyring does not know
SELECT pg_temp.kv(pg_temp.tok('{"sub":"x","iss":"https://c.example"}', 'ec_p256', 'a-ec')) AS unknown_issuer_a_kid;
-- an explicit issuer argument still narrows a bound key's tokens
SELECT pg_temp.kv(pg_temp.tok('{"sub":"a","iss":"https://a.example"}', 'ec_p256', 'a-ec'), 'https://b.example') AS argument_narrows;

-- Attack: kid collision across issuers.  "shared-kid" is A's EC key and B's
-- Ed25519 key: the token's iss chooses, and a token of one issuer never
-- reaches the other's key.
SELECT pg_temp.kv(pg_temp.tok('{"sub":"a","iss":"https://a.example"}', 'ec_p256', 'shared-kid')) AS collision_a;
SELECT pg_temp.kv(pg_temp.tok('{"sub":"b","iss":"https://b.example"}', 'ed25519', 'shared-kid')) AS collision_b;
SELECT pg_temp.kv(pg_temp.tok('{"sub":"b","iss":"https://a.example"}', 'ed25519', 'shared-kid')) AS collision_b_key_claims_a;
SELECT pg_temp.kv(pg_temp.tok('{"sub":"x","iss":"https://c.example"}', 'ec_p256', 'shared-kid')) AS collision_other_issuer;
SELECT pg_temp.kv(pg_temp.tok('{"sub":"x"}', 'ec_p256', 'shared-kid')) AS collision_no_iss;
-- this database may use the kid too: tokens of its issuer (or none) get its key
SELECT jwt_generate_key('ES384', 'shared-kid') AS local_shared;
SELECT pg_temp.kv(jwt_sign('{"sub":"l","iss":"https://api.example"}', header => '{"kid":"shared-kid"}')) AS collision_local;
SELECT pg_temp.kv(pg_temp.tok('{"sub":"a","iss":"https://a.example"}', 'ec_p256', 'shared-kid')) AS collision_a_still;
-- the administration functions want the issuer when a kid is ambiguous
SELECT try($$SELECT jwt_revoke_key('shared-kid')$$) AS ambiguous_kid;

-- Attack: a token without a kid, verified by whichever key admits its
-- algorithm: with several issuers' keys, only the keys of its iss are candidates.
BEGIN;
UPDATE jwt_keys SET state = 'revoked' WHERE issuer IS NULL OR kid <> 'a-ec';
SELECT pg_temp.kv(pg_temp.tok('{"sub":"a","iss":"https://a.example"}', 'ec_p256')) AS kidless_a;
SELECT pg_temp.kv(pg_temp.tok('{"sub":"x","iss":"https://api.example"}', 'ec_p256')) AS kidless_claims_local;
ROLLBACK;

-- Attack: jws_verify has no claims to check the issuer in: a provider's key never verifies there.
SELECT try(format('SELECT jws_verify(%L)', jws_sign('{"iss":"https://a.example"}'::bytea, k('ec_p256'), header => '{"kid":"a-ec"}'))) AS jws_with_idp_key;

-- jwt_jwks publishes this database's keys; include_imported the providers' too.
SELECT count(*) FILTER (WHERE k ->> 'kid' IN ('a-ec', 'b-rsa')) AS imported_in_default_jwks
FROM jsonb_array_elements(jwt_jwks() -> 'keys') AS k;
SELECT count(*) FILTER (WHERE k ->> 'kid' IN ('a-ec', 'b-rsa')) AS imported_in_full_jwks,
       count(*) FILTER (WHERE k ->> 'kid' = 'iss-local') AS local_in_full_jwks,
       count(*) FILTER (WHERE k ?| ARRAY['d', 'p', 'q', 'k']) AS private_members
FROM jsonb_array_elements(jwt_jwks(include_imported => true) -> 'keys') AS k;
-- the combined set verifies both issuers' tokens as one explicit key set (PostgREST's
-- jwt-secret); a kid two issuers use cannot be told apart there: only ours is published
SELECT count(*) AS shared_kid_published FROM jsonb_array_elements(jwt_jwks(true) -> 'keys') AS k WHERE k ->> 'kid' = 'shared-kid';
SELECT jwt_verify(pg_temp.tok('{"sub":"b","iss":"https://b.example"}', 'rsa', 'b-rsa'), jwt_jwks(true)::text, issuer => 'https://b.example') ->> 'sub' AS combined_set_b;

-- Existing unbound imports (0.1.0) keep working, with a WARNING, until bound.
-- (its own key: the review made revoking a key revoke every row holding its public key)
INSERT INTO jwt_keys (kid, alg, kty, public_jwk, origin) VALUES ('legacy-idp', 'ES512', 'EC', k('ec521_pub_jwk')::jsonb, 'jwks');
SELECT pg_temp.kv(pg_temp.tok('{"sub":"l","iss":"https://api.example"}', 'ec_p521', 'legacy-idp')) AS legacy_unbound;
-- the documented migration: bind them to the provider's issuer
UPDATE jwt_keys SET issuer = 'https://legacy.example' WHERE origin = 'jwks' AND issuer IS NULL;
SELECT pg_temp.kv(pg_temp.tok('{"sub":"l","iss":"https://api.example"}', 'ec_p521', 'legacy-idp')) AS legacy_bound_local_refused;
SELECT pg_temp.kv(pg_temp.tok('{"sub":"l","iss":"https://legacy.example"}', 'ec_p521', 'legacy-idp')) AS legacy_bound_own;
SELECT try($$SELECT jwt_import_jwks('{"keys":[]}')$$) AS import_needs_issuer;
SELECT try($$SELECT jwt_import_jwks('{"keys":[]}', E'https://x\n')$$) AS issuer_control_char;

-- ---------------------------------------------------------------------------
-- Audience and issuer lists
-- ---------------------------------------------------------------------------
SET jwt.audience = 'api, web';
SELECT pg_temp.kv(pg_temp.ltok('{"sub":"a","iss":"https://api.example","aud":"web"}')) AS aud_list_second;
SELECT pg_temp.kv(pg_temp.ltok('{"sub":"a","iss":"https://api.example","aud":["x","api"]}')) AS aud_array_list;
-- Attack: an audience that is the whole list, or a part of an item
SELECT pg_temp.kv(pg_temp.ltok('{"sub":"a","iss":"https://api.example","aud":"api, web"}')) AS aud_whole_list;
SELECT pg_temp.kv(pg_temp.ltok('{"sub":"a","iss":"https://api.example","aud":"ap"}')) AS aud_prefix;
-- an argument is one audience, not a list
SELECT try(format('SELECT jwt_verify(%L, %L, audience => %L)', jwt_sign('{"aud":"api","iss":"https://api.example"}', secret()), secret(), 'api, web')) AS aud_argument_exact;
RESET jwt.audience;
SET jwt.issuer = 'https://api.example,https://api2.example';
SELECT pg_temp.kv(pg_temp.ltok('{"sub":"a","iss":"https://api2.example"}')) AS iss_list_second;
SELECT pg_temp.kv(pg_temp.ltok('{"sub":"a","iss":"https://api3.example"}')) AS iss_list_other;
-- the list is for this database's keys: a provider's key still wants its own issuer
SELECT pg_temp.kv(pg_temp.tok('{"sub":"a","iss":"https://api2.example"}', 'ec_p256', 'a-ec')) AS iss_list_not_for_idp;
SET jwt.issuer = 'https://api.example';

-- ---------------------------------------------------------------------------
-- Key states and rotation (in a transaction: the other suites' keys stay)
-- ---------------------------------------------------------------------------
BEGIN;
-- this database's other signing keys retire, so that the rotation below starts from one key
UPDATE jwt_keys SET state = 'retired', verify_until = NULL WHERE issuer IS NULL AND kid <> 'iss-local';
SELECT jwt_generate_key('ES256', 'iss-next', standby => true) AS standby_kid;
SELECT kid, state, verifies FROM jwt_key_list WHERE kid IN ('iss-local', 'iss-next') ORDER BY kid;
-- a standby key is published before it signs ...
SELECT count(*) AS standby_published FROM jsonb_array_elements(jwt_jwks() -> 'keys') AS k WHERE k ->> 'kid' = 'iss-next';
-- Attack: a standby key signs before its time
SELECT (jwt_decode(jwt_sign('{"sub":"s"}'))).header ->> 'kid' AS signer_before_activation;
SELECT try($$SELECT jwt_sign('{"sub":"s"}', header => '{"kid":"iss-next"}')$$) AS standby_cannot_sign;
SELECT jwt_sign('{"sub":"before","iss":"https://api.example"}') AS token_before \gset
-- one call rotates: standby -> active, active -> retired with grace, a new standby
SELECT jwt_rotate_keys('1 hour') AS now_signing;
SELECT CASE WHEN kid IN ('iss-local', 'iss-next') THEN kid ELSE '(generated)' END AS kid,
       state, verifies, verify_until > now() + interval '59 minutes' AS grace_hour
FROM jwt_key_list WHERE issuer IS NULL AND state <> 'retired' OR kid = 'iss-local' ORDER BY state, kid = 'iss-local' DESC;
SELECT count(*) AS one_new_standby FROM jwt_key_list WHERE issuer IS NULL AND state = 'standby';
-- Attack: the old key (or the new standby) still signs after the rotation
SELECT (jwt_decode(jwt_sign('{"sub":"s"}'))).header ->> 'kid' AS signer_after_rotation;
SELECT try($$SELECT jwt_sign('{"sub":"s"}', header => '{"kid":"iss-local"}')$$) AS retired_cannot_sign;
-- tokens signed before the rotation verify through the grace
SELECT pg_temp.kv(:'token_before') AS old_token_in_grace;
-- rotating again: the standby generated last time signs, iss-next retires
SELECT jwt_rotate_keys('1 hour') <> 'iss-next' AS rotated_again;
SELECT kid, state FROM jwt_key_list WHERE kid IN ('iss-local', 'iss-next') ORDER BY kid;
SELECT (jwt_decode(jwt_sign('{"sub":"s"}'))).header ->> 'kid' NOT IN ('iss-local', 'iss-next') AS newest_signs;
-- Attack: a retired key past its grace.  Retiring again may shorten the grace ...
SELECT jwt_retire_key('iss-local', '0 seconds') AS shortened;
SELECT pg_temp.kv(:'token_before') AS retired_past_grace;
-- ... never lengthen it (that would undo a retirement)
SELECT jwt_retire_key('iss-local', '1 day') AS lengthened;
SELECT verify_until <= clock_timestamp() AS still_ended FROM jwt_key_list WHERE kid = 'iss-local';
SELECT try($$SELECT jwt_activate_key('iss-local')$$) AS retired_cannot_activate;
SELECT try($$SELECT jwt_activate_key('a-ec')$$) AS imported_cannot_activate_a;
SELECT try($$SELECT jwt_activate_key('b-rsa')$$) AS imported_cannot_activate;
SELECT try($$SELECT jwt_retire_key('iss-local', '-1 hour')$$) AS negative_grace;
ROLLBACK;
-- jwt_activate_key on its own: the standby signs, the other keys keep verifying
BEGIN;
SELECT jwt_generate_key('ES256', 'iss-act', standby => true) AS standby_kid;
SELECT jwt_activate_key('iss-act') AS activated;
SELECT (jwt_decode(jwt_sign('{"sub":"s"}'))).header ->> 'kid' AS signer_after_activation;
SELECT pg_temp.kv(pg_temp.ltok('{"sub":"local","iss":"https://api.example"}')) AS previous_still_verifies;
ROLLBACK;

-- Attack: a revoked key verifies (revocation is immediate, no grace), signs,
-- is published, or comes back with its provider's next key set.
SELECT pg_temp.tok('{"sub":"a","iss":"https://a.example"}', 'ec_p256', 'a-ec') AS a_token \gset
SELECT jwt_revoke_key('a-ec', 'https://a.example') AS revoked;
SELECT pg_temp.kv(:'a_token') AS revoked_key_token;
SELECT jwt_revoke_key('a-ec', 'https://a.example') AS revoked_again;
SELECT count(*) AS revoked_published FROM jsonb_array_elements(jwt_jwks(true) -> 'keys') AS k WHERE k ->> 'kid' = 'a-ec';
SELECT _jwt_replace_issuer_keys('https://a.example', jsonb_build_object('keys', jsonb_build_array(
    k('ec256_pub_jwk')::jsonb || '{"kid":"a-ec","alg":"ES256"}',
    k('ec256_pub_jwk')::jsonb || '{"kid":"shared-kid","alg":"ES256"}',
    k('ed448_pub_jwk')::jsonb || '{"kid":"a-ed448"}'))) AS refreshed;
SELECT state FROM jwt_key_list WHERE kid = 'a-ec';
SELECT pg_temp.kv(:'a_token') AS revoked_after_refresh;
SELECT jwt_generate_key('HS256', 'iss-hs') AS hs;
SELECT jwt_revoke_key('iss-hs') AS hs_revoked;
SELECT try($$SELECT jwt_sign('{"sub":"s"}', header => '{"kid":"iss-hs"}')$$) AS revoked_cannot_sign;
SELECT jwt_delete_key('iss-hs') AS deleted, jwt_delete_key('iss-local') AS deleted_local;
SELECT try($$SELECT jwt_delete_key('iss-hs')$$) AS deleted_twice;

-- ---------------------------------------------------------------------------
-- The refresher's replacement of an issuer's key set (_jwt_replace_issuer_keys)
-- ---------------------------------------------------------------------------
SELECT pg_temp.tok('{"sub":"b","iss":"https://b.example"}', 'rsa', 'b-rsa') AS b_token \gset
-- the provider rotated: b-rsa left the set, b-new came; b-rsa verifies for the overlap
SELECT _jwt_replace_issuer_keys('https://b.example', jsonb_build_object('keys', jsonb_build_array(
    k('ed25519_pub_jwk')::jsonb || '{"kid":"b-new"}')), '5 minutes') AS replaced;
SELECT kid, state, verifies FROM jwt_key_list WHERE issuer = 'https://b.example' ORDER BY kid;
SELECT pg_temp.kv(:'b_token') AS left_key_in_overlap;
SELECT pg_temp.kv(pg_temp.tok('{"sub":"b","iss":"https://b.example"}', 'ed25519', 'b-new')) AS new_key;
-- Attack: a broken or hostile response removes working keys
SELECT try($$SELECT _jwt_replace_issuer_keys('https://b.example', '{"keys":[]}')$$) AS empty_set;
SELECT try($$SELECT _jwt_replace_issuer_keys('https://b.example', '{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}')$$) AS only_encryption_keys;
SELECT try(format('SELECT _jwt_replace_issuer_keys(%L, %L)', 'https://b.example',
       jsonb_build_object('keys', jsonb_build_array(k('ed25519_jwk')::jsonb || '{"kid":"b-leak"}')))) AS leaked_private;
SELECT try(format('SELECT _jwt_replace_issuer_keys(%L, %L)', 'https://b.example',
       jsonb_build_object('keys', jsonb_build_array(k('ed25519_pub_jwk')::jsonb || '{"kid":"dup"}', k('ec256_pub_jwk')::jsonb || '{"kid":"dup"}')))) AS duplicate_kid;
SELECT count(*) AS b_keys_kept FROM jwt_key_list WHERE issuer = 'https://b.example' AND verifies;
-- an overlap of nothing: the left key stops at once
SELECT _jwt_replace_issuer_keys('https://b.example', jsonb_build_object('keys', jsonb_build_array(
    k('ed25519_pub_jwk')::jsonb || '{"kid":"b-new"}')), '0 seconds') AS replaced_no_overlap;
SELECT pg_temp.kv(:'b_token') AS left_key_after_overlap;

-- Attack: a key revoked in one session still verifies in another session
-- that has it cached (the keyring cache of each backend drops at its next
-- statement, inside an open transaction too).
CREATE EXTENSION dblink;
SELECT dblink_connect('other', format('dbname=%s host=%s port=%s', current_database(),
       split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port')));
SELECT pg_temp.tok('{"sub":"b","iss":"https://b.example"}', 'ed25519', 'b-new') AS bnew_token \gset
SELECT pg_temp.tok('{"sub":"l","iss":"https://legacy.example"}', 'ec_p521', 'legacy-idp') AS legacy_token \gset
SELECT * FROM dblink('other', format('SELECT jwt_verify(%L) ->> ''sub''', :'bnew_token')) AS t(sub text);
SELECT jwt_revoke_key('b-new', 'https://b.example') AS revoked;
SELECT * FROM dblink('other', format('SELECT try(format(''SELECT jwt_verify(%%L)'', %L))', :'bnew_token')) AS t(outcome text);
SELECT dblink_exec('other', 'BEGIN');
SELECT * FROM dblink('other', format('SELECT jwt_verify(%L) ->> ''sub''', :'legacy_token')) AS t(sub text);
SELECT jwt_revoke_key('legacy-idp') AS revoked;
SELECT * FROM dblink('other', format('SELECT try(format(''SELECT jwt_verify(%%L)'', %L))', :'legacy_token')) AS t(outcome text);
SELECT dblink_exec('other', 'COMMIT');
SELECT dblink_disconnect('other');
DROP EXTENSION dblink;

-- None of this is for PUBLIC.
SELECT p.oid::regprocedure AS function, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_execute
FROM pg_proc p WHERE p.proname IN ('jwt_import_jwks', '_jwt_replace_issuer_keys', '_jwt_jwks_keys', '_jwt_key_row',
    'jwt_generate_key', 'jwt_activate_key', 'jwt_retire_key', 'jwt_revoke_key', 'jwt_delete_key', 'jwt_rotate_keys')
ORDER BY p.oid::regprocedure::text;

-- ---------------------------------------------------------------------------
-- Roles where providers put them: jwt.role_claim in PostgREST's JSPath
-- ---------------------------------------------------------------------------
RESET jwt.issuer;
-- Attack: a key of this database signs a token claiming a provider's issuer
-- (with jwt.issuer unset, any other issuer is this database's to sign)
SELECT jwt_generate_key('ES256', 'iss-local2') AS local2;
SELECT pg_temp.kv(jwt_sign('{"sub":"x","iss":"https://b.example"}', header => '{"kid":"iss-local2"}')) AS local_key_provider_issuer;
SELECT pg_temp.kv(jwt_sign('{"sub":"x","iss":"https://elsewhere.example"}', header => '{"kid":"iss-local2"}')) AS local_key_other_issuer;
SELECT jwt_delete_key('iss-local2') AS deleted;
CREATE ROLE regress_iss_authenticator NOINHERIT;
CREATE ROLE regress_iss_anon;
CREATE ROLE regress_iss_user;
CREATE ROLE regress_iss_admin;
CREATE ROLE regress_iss_outsider;
GRANT regress_iss_anon, regress_iss_user, regress_iss_admin TO regress_iss_authenticator;
-- the role jwt_authenticate switches to, or its refusal
CREATE FUNCTION pg_temp.auth_role(token text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM jwt_authenticate(token);
    RETURN current_user;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- A Keycloak-style token: roles nested in realm_access, a namespaced claim, several roles
SELECT jwt_sign('{"sub":"kc","realm_access":{"roles":["regress_iss_user","offline_access"]},
                  "https://x.example/role":"regress_iss_admin",
                  "roles":["uma_authorization","regress_iss_admin","regress_iss_user"],
                  "groups":[{"name":"g"}], "n": 5}') AS kc \gset
SET jwt.role_claim = '.realm_access.roles[0]';
BEGIN; SELECT pg_temp.auth_role(:'kc') AS realm_roles_0; ROLLBACK;
SET jwt.role_claim = '$.realm_access.roles[0]';
BEGIN; SELECT pg_temp.auth_role(:'kc') AS dollar_root; ROLLBACK;
SET jwt.role_claim = '."https://x.example/role"';
BEGIN; SELECT pg_temp.auth_role(:'kc') AS quoted_member; ROLLBACK;
SET jwt.role_claim = '.roles[?(@ == "regress_iss_admin")]';
BEGIN; SELECT pg_temp.auth_role(:'kc') AS filter_equals; ROLLBACK;
SET jwt.role_claim = '.roles[?(@ ^== "regress_iss_")]';
BEGIN; SELECT pg_temp.auth_role(:'kc') AS filter_starts_with; ROLLBACK;
SET jwt.role_claim = '.roles[?(@ ==^ "_user")]';
BEGIN; SELECT pg_temp.auth_role(:'kc') AS filter_ends_with; ROLLBACK;
SET jwt.role_claim = '.roles[?(@ *== "iss_adm")]';
BEGIN; SELECT pg_temp.auth_role(:'kc') AS filter_contains; ROLLBACK;
SET jwt.role_claim = '.roles[?(@ != "uma_authorization")]';
BEGIN; SELECT pg_temp.auth_role(:'kc') AS filter_not_equals; ROLLBACK;
-- a plain claim name is still one claim, as before 0.2.0 (dots and all)
SET jwt.role_claim = 'https://x.example/role';
BEGIN; SELECT pg_temp.auth_role(:'kc') AS plain_name; ROLLBACK;
-- paths that lead nowhere, or to no string, name no role (28J08)
SELECT path, (SELECT set_config('jwt.role_claim', path, false)) IS NOT NULL AS set, pg_temp.auth_role(:'kc') AS outcome
FROM (VALUES ('.realm_access.roles[5]'), ('.realm_access'), ('.n'), ('.groups[0]'), ('.roles[?(@ == "root")]'),
             ('.realm_access.roles.x'), ('.sub[0]')) AS v(path);

-- Attack: JSPath filter injection and huge paths.  The setting refuses what
-- does not parse (there are no escapes: a quote ends a value), and the
-- parser is bounded (1024 bytes, 32 steps).
SELECT path, try(format('SET jwt.role_claim = %L', path)) AS refused FROM (VALUES
    ('.roles[?(@ == "a") || @ != "b")]'),
    ('.roles[?(@ == "a\") || true || (@ == "b")]'),
    ('.roles[?(@ == "a")].x'),
    ('.roles[?(@ =~ "a.*")]'),
    ('.roles[?(@.x == "a")]'),
    ('.roles[-1]'),
    ('.roles[1e3]'),
    ('.roles[9999999999]'),
    ('.roles[*]'),
    ('..roles'),
    ('.'),
    ('$'),
    ('."unterminated'),
    ('.a b')) AS v(path);
SELECT left(try(format('SET jwt.role_claim = %L', repeat('.a', 513))), 60) AS path_over_1024_bytes;
SELECT left(try(format('SET jwt.role_claim = %L', repeat('.a', 33))), 60) AS path_of_33_steps;
SELECT try(format('SET jwt.role_claim = %L', repeat('.a', 32))) AS path_of_32_steps;
-- a token nested deeper than any path reaches is no harder to read
SELECT pg_temp.auth_role(jwt_sign(jsonb_build_object('sub', 'deep', 'a', (SELECT jsonb_build_object('a', 1))))) AS deep_no_role;

-- ---------------------------------------------------------------------------
-- jwt_postgrest_pre_request: a role the session cannot become is a token
-- failure (401, error_description); the token may come in a cookie.
-- ---------------------------------------------------------------------------
SET jwt.anonymous_role = 'regress_iss_anon';
SET jwt.role_claim = '.realm_access.roles[0]';
SET jwt.token_cookie = 'access_token';
-- PostgREST's transaction: its set_config calls, then the pre-request function
CREATE FUNCTION pg_temp.replay(role text, claims text, headers text, cookies text DEFAULT '{}') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    PERFORM set_config('role', role, true),
            set_config('request.jwt.claims', claims, true),
            set_config('request.method', 'GET', true),
            set_config('request.headers', headers, true),
            set_config('request.cookies', cookies, true);
    PERFORM jwt_postgrest_pre_request();
    RETURN format('ran as %s, sub %s', current_user, coalesce(jwt_claim('sub'), '-'));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    IF SQLSTATE = 'PGRST' THEN
        RETURN format('%s %s %s', detail::json ->> 'status', SQLERRM::json ->> 'code', detail::json -> 'headers' ->> 'WWW-Authenticate');
    END IF;
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE FUNCTION pg_temp.claims(token text, role text) RETURNS text LANGUAGE sql AS $$
    SELECT ((SELECT payload FROM jwt_decode(token)) || jsonb_build_object('role', role))::text $$;
SELECT jwt_sign('{"sub":"u","realm_access":{"roles":["regress_iss_user"]}}') AS t_user \gset
SELECT jwt_sign('{"sub":"a","realm_access":{"roles":["regress_iss_admin"]}}') AS t_admin \gset
SELECT jwt_sign('{"sub":"o","realm_access":{"roles":["regress_iss_outsider"]}}') AS t_outsider \gset
SELECT jwt_sign('{"sub":"n","realm_access":{"roles":["regress_iss_no_such_role"]}}') AS t_nosuch \gset
SELECT jwt_sign('{"sub":"x"}', k('ec_p256'), header => '{"kid":"no \"such\" kid, error=\"x\""}') AS t_quotes \gset
SET SESSION AUTHORIZATION regress_iss_authenticator;
SELECT pg_temp.replay('regress_iss_user', pg_temp.claims(:'t_user', 'regress_iss_user'),
                      json_build_object('authorization', 'Bearer ' || :'t_user')::text) AS header_nested_role;
-- Attack: the role claim names a role the session cannot become: 401 with
-- WWW-Authenticate and error_description, not 42501/403
-- (PostgREST, its role-claim-key finding no role, ran the request as anonymous)
SELECT pg_temp.replay('regress_iss_anon', pg_temp.claims(:'t_outsider', 'regress_iss_anon'),
                      json_build_object('authorization', 'Bearer ' || :'t_outsider')::text) AS outsider_role;
SELECT pg_temp.replay('regress_iss_anon', pg_temp.claims(:'t_nosuch', 'regress_iss_anon'),
                      json_build_object('authorization', 'Bearer ' || :'t_nosuch')::text) AS no_such_role;
-- error_description is fixed text: nothing of the token (here a kid full of quotes) reaches the header
SELECT pg_temp.replay('regress_iss_anon', '{"role":"regress_iss_anon"}',
                      json_build_object('authorization', 'Bearer ' || :'t_quotes')::text) AS quotes_in_kid;
-- the token in an HttpOnly cookie (no Authorization header): PostgREST ran
-- the request as anonymous, the helper verifies the cookie and switches role
SELECT pg_temp.replay('regress_iss_anon', '{"role":"regress_iss_anon"}', '{"accept":"*/*"}',
                      json_build_object('access_token', :'t_user')::text) AS cookie_token;
SELECT pg_temp.replay('regress_iss_anon', '{"role":"regress_iss_anon"}', '{"accept":"*/*"}',
                      json_build_object('other', :'t_user')::text) AS other_cookie_anonymous;
SELECT pg_temp.replay('regress_iss_anon', '{"role":"regress_iss_anon"}', '{"accept":"*/*"}',
                      json_build_object('access_token', :'t_outsider')::text) AS cookie_outsider_role;
SELECT pg_temp.replay('regress_iss_anon', '{"role":"regress_iss_anon"}', '{"accept":"*/*"}',
                      json_build_object('access_token', 'x y')::text) AS cookie_not_a_token;
-- Attack: cookie and Authorization both present.  PostgREST verifies the
-- header only, so the header wins: the cookie's admin token is never read.
SELECT pg_temp.replay('regress_iss_user', pg_temp.claims(:'t_user', 'regress_iss_user'),
                      json_build_object('authorization', 'Bearer ' || :'t_user')::text,
                      json_build_object('access_token', :'t_admin')::text) AS header_and_cookie;
-- ... and a cookie cannot ride on a request PostgREST ran as another role than anonymous
SELECT pg_temp.replay('regress_iss_user', '{"role":"regress_iss_user"}', '{"accept":"*/*"}',
                      json_build_object('access_token', :'t_admin')::text) AS cookie_not_anonymous;
RESET SESSION AUTHORIZATION;
-- the cookie's name is a superuser setting, checked
SELECT try($$SET jwt.token_cookie = 'a;b'$$) AS cookie_name_checked;
SELECT context FROM pg_settings WHERE name = 'jwt.token_cookie';
SELECT _jwt_error_description(c) AS description, c FROM unnest(ARRAY['28J01', '28J06', '28JR1', '22J02', '28Z99']) AS c;

RESET jwt.token_cookie;
RESET jwt.anonymous_role;
RESET jwt.role_claim;
DROP ROLE regress_iss_authenticator, regress_iss_anon, regress_iss_user, regress_iss_admin, regress_iss_outsider;
DELETE FROM jwt_keys WHERE issuer IS NOT NULL OR kid IN ('shared-kid', 'iss-local');
RESET jwt.default_lifetime;
