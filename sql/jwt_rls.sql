-- Identity for row-level security: jwt_authenticate, unforgeable claims, role
-- switching, parallel query, and PostgREST's transaction protocol.
SET jwt.default_lifetime = '1h';
SELECT jwt_generate_key('ES256', 'rls-test') AS kid;
SELECT jwt_sign('{"sub":"alice","uid":"7d4a5c1e-2b3f-4a6d-9e8f-0a1b2c3d4e5f","tenant":42,"admin":false,
                  "groups":["staff","ops"],"nested":{"a":[1,null]},"ratio":1.5,"nothing":null}') AS ta \gset
SELECT jwt_sign('{"sub":"rls-bob"}') AS tb \gset
SELECT jwt_sign('{"sub":"alice","exp":1000,"iat":900}') AS texpired \gset
SELECT jwt_sign('{"sub":"mallory"}', k('ec_p256'), header => '{"kid":"rls-test"}') AS tforged \gset

-- unauthenticated: NULL, never an error
SELECT jwt_claims() IS NULL AS no_claims, jwt_claim('sub') IS NULL AS no_sub;

-- the identity lasts for the transaction (safe behind transaction poolers)
BEGIN;
SELECT jwt_authenticate('Bearer ' || :'ta') ->> 'sub' AS authenticated;
SELECT jwt_claim('sub') AS sub, jwt_claim_uuid('uid') AS uid, jwt_claim_bigint('tenant') AS tenant,
       jwt_claim_boolean('admin') AS admin, jwt_claim_array('groups') AS groups,
       jwt_claim('nested') AS nested, jwt_claim('tenant') AS tenant_text, jwt_claim('missing') AS missing,
       jwt_claim('nothing') AS json_null;
SELECT jwt_claims() - 'exp' - 'iat' - 'jti' AS claims;
COMMIT;
SELECT jwt_claims() IS NULL AS cleared_at_commit;
BEGIN;
SELECT jwt_authenticate(:'ta') ->> 'sub';
ROLLBACK;
SELECT jwt_claims() IS NULL AS cleared_at_rollback;

-- typed accessors raise on a wrong type instead of guessing
BEGIN;
SELECT jwt_authenticate(:'ta') IS NOT NULL;
SELECT try($$SELECT jwt_claim_uuid('sub')$$) AS uuid_of_text;
SELECT try($$SELECT jwt_claim_uuid('tenant')$$) AS uuid_of_number;
SELECT try($$SELECT jwt_claim_bigint('ratio')$$) AS bigint_of_fraction;
SELECT try($$SELECT jwt_claim_bigint('sub')$$) AS bigint_of_text;
SELECT try($$SELECT jwt_claim_boolean('tenant')$$) AS boolean_of_number;
SELECT try($$SELECT jwt_claim_array('sub')$$) AS array_of_text;
SELECT try($$SELECT jwt_claim_array('nested')$$) AS array_of_object;
COMMIT;

-- failures leave no identity
SELECT try(format('SELECT jwt_authenticate(%L)', :'texpired')) AS expired;
SELECT try(format('SELECT jwt_authenticate(%L)', :'tforged')) AS forged;
SELECT try(format('SELECT jwt_authenticate(%L)', 'Bearer')) AS empty_bearer;
SELECT try(format('SELECT jwt_authenticate(%L)', 'Basic ' || :'ta')) AS basic_scheme;
SELECT try('SELECT jwt_authenticate(NULL)') AS null_token;
SELECT try(format('SELECT jwt_authenticate(%L)', jwt_sign('{"sub":"x"}', secret(), header => '{"kid":"rls-test"}'))) AS hmac_token_for_ec_key;
BEGIN;
SELECT jwt_authenticate(:'ta') ->> 'sub' AS first;
SELECT try(format('SELECT jwt_authenticate(%L)', :'tforged')) AS second_fails;
SELECT jwt_claim('sub') AS still_first;
COMMIT;
SELECT jwt_authenticate(E'  bearer \t' || :'tb' || E'\n') ->> 'sub' AS bearer_any_case_and_space;

-- the policy settings apply
SET jwt.audience = 'api';
SELECT try(format('SELECT jwt_authenticate(%L)', :'ta')) AS audience_required;
RESET jwt.audience;

-- unforgeable: no role but a superuser can set the claims, however it tries
CREATE ROLE regress_rls_user;
CREATE SCHEMA regress_rls AUTHORIZATION regress_rls_user;
SET ROLE regress_rls_user;
SELECT try($$SET jwt.claims = '{"sub":"mallory"}'$$) AS set;
SELECT try($$SET LOCAL jwt.claims = '{"sub":"mallory"}'$$) AS set_local;
SELECT try($$SELECT set_config('jwt.claims', '{"sub":"mallory"}', false)$$) AS set_config;
SELECT try($$SELECT set_config('jwt.claims', '{"sub":"mallory"}', true)$$) AS set_config_local;
SELECT try($$ALTER ROLE regress_rls_user SET jwt.claims = '{"sub":"mallory"}'$$) AS alter_role;
SELECT try($$CREATE FUNCTION regress_rls.evil() RETURNS text LANGUAGE sql SET jwt.claims = '{"sub":"mallory"}' AS 'SELECT 1'$$) AS function_set_clause;
SELECT try($$SET jwt.session_identity = on$$) AS session_identity;
SELECT try($$SET jwt.role_claim = 'role'$$) AS role_claim;
SELECT try($$SET jwt.trust_postgrest_claims = on$$) AS trust_postgrest;
SELECT try($$SET jwt.leeway = '1d'$$) AS widen_leeway;
SELECT try($$SET jwt.audience = ''$$) AS drop_audience;
SELECT set_config('request.jwt.claims', '{"sub":"mallory"}', false) IS NOT NULL AS postgrest_setting_set;
SELECT jwt_claims() IS NULL AS still_unauthenticated;
RESET ALL;
RESET ROLE;
SELECT jwt_claims() IS NULL AS superuser_sees_nothing_either;

-- session scope (a superuser's choice): until jwt_reset, RESET ALL or DISCARD ALL
SET jwt.session_identity = on;
SELECT jwt_authenticate(:'tb') ->> 'sub' AS session;
SELECT jwt_claim('sub') AS next_statement;
SELECT jwt_reset();
SELECT jwt_claims() IS NULL AS after_jwt_reset;
SELECT jwt_authenticate(:'tb') ->> 'sub' AS again;
RESET ALL;
SELECT jwt_claims() IS NULL AS after_reset_all;
SET jwt.session_identity = on;
SELECT jwt_authenticate(:'tb') ->> 'sub' AS again;
DISCARD ALL;
SELECT jwt_claims() IS NULL AS after_discard_all;

-- PostgREST fallback, only when a superuser trusts it
SET jwt.trust_postgrest_claims = on;
SELECT set_config('request.jwt.claims', '{"sub":"from-postgrest"}', false) IS NOT NULL;
SELECT jwt_claim('sub') AS fallback;
BEGIN;
SELECT jwt_authenticate(:'ta') ->> 'sub';
SELECT jwt_claim('sub') AS verified_wins;
COMMIT;
RESET jwt.trust_postgrest_claims;
RESET request.jwt.claims;

-- role switching: the claim names the role, only if the session user may become it
CREATE ROLE regress_authenticator NOINHERIT;
CREATE ROLE regress_web_user;
CREATE ROLE regress_admin_role;
GRANT regress_web_user TO regress_authenticator;
CREATE TABLE docs (id int PRIMARY KEY, owner text NOT NULL, body text);
INSERT INTO docs SELECT i, (ARRAY['alice', 'bob', 'carol'])[1 + i % 3], 'doc ' || i FROM generate_series(1, 30000) i;
ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY docs_owner ON docs USING (owner = jwt_claim('sub'));
GRANT SELECT ON docs TO regress_web_user;
ANALYZE docs;
SELECT jwt_sign('{"sub":"alice","role":"regress_web_user"}') AS tweb \gset
SELECT jwt_sign('{"sub":"alice","role":"regress_admin_role"}') AS tadmin \gset
SELECT jwt_sign('{"sub":"alice"}') AS tnorole \gset
SET jwt.role_claim = 'role';
SET SESSION AUTHORIZATION regress_authenticator;
BEGIN;
SELECT jwt_authenticate(:'tweb') ->> 'sub' AS sub, current_user;
SELECT count(*) AS alices_docs, count(*) FILTER (WHERE owner <> 'alice') AS others FROM docs;
COMMIT;
SELECT current_user AS after_commit;
SELECT try(format('SELECT jwt_authenticate(%L)', :'tadmin')) AS role_not_granted;
SELECT try(format('SELECT jwt_authenticate(%L)', :'tnorole')) AS no_role_claim;
SELECT try('SELECT count(*) FROM docs') AS authenticator_cannot_read;
RESET SESSION AUTHORIZATION;
RESET jwt.role_claim;

-- parallel query: workers see the same identity and the same rows
CREATE FUNCTION workers_launched(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        IF line ~ 'Workers Launched: [1-9]' THEN RETURN true; END IF;
    END LOOP;
    RETURN false;
END $$;
SET ROLE regress_web_user;
BEGIN;
SELECT jwt_authenticate(:'ta') ->> 'sub';
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT count(*) AS serial_count, min(id), max(id) FROM docs;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
-- force_parallel_mode is called debug_parallel_query from PostgreSQL 16 on
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
    THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', true) AS parallel_forced \gset
SELECT count(*) AS parallel_count, min(id), max(id) FROM docs;
SELECT workers_launched('SELECT count(*) FROM docs') AS ran_in_workers;
SELECT count(*) AS parallel_claims_in_workers FROM docs WHERE jwt_claim('sub') = 'alice' AND body LIKE 'doc%';
COMMIT;
RESET ROLE;

-- PostgREST's transaction protocol, replayed: SET LOCAL ROLE, the request
-- settings, the pre-request function, then the query.
SELECT jwt_sign('{"sub":"rls-bob"}') AS trevoked \gset
SELECT jwt_revoke(:'trevoked');
-- PostgREST's db-anon-role, told to the database: a token naming no role and an anonymous request run as it
SET jwt.anonymous_role = 'regress_web_user';
SET SESSION AUTHORIZATION regress_authenticator;
-- a valid token
BEGIN;
SET LOCAL ROLE regress_web_user;
-- (request.jwt.claims: the token's claims, with the role PostgREST chose, as PostgREST 12 sets them)
SELECT set_config('request.jwt.claims', ((SELECT payload FROM jwt_decode(:'ta')) || '{"role":"regress_web_user"}')::text, true) IS NOT NULL,
       set_config('request.headers', json_build_object('authorization', 'Bearer ' || :'ta')::text, true) IS NOT NULL,
       set_config('request.method', 'GET', true) IS NOT NULL;
SELECT jwt_postgrest_pre_request();
SELECT jwt_claim('sub') AS sub, count(*) AS rows FROM docs;
COMMIT;
-- an expired, a revoked and a forged token: HTTP 401, no rows
BEGIN;
SET LOCAL ROLE regress_web_user;
SELECT set_config('request.headers', json_build_object('authorization', 'Bearer ' || :'texpired')::text, true) IS NOT NULL;
SELECT jwt_postgrest_pre_request();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL ROLE regress_web_user;
SELECT set_config('request.headers', json_build_object('authorization', 'Bearer ' || :'trevoked')::text, true) IS NOT NULL;
SELECT jwt_postgrest_pre_request();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL ROLE regress_web_user;
SELECT set_config('request.headers', json_build_object('authorization', 'Bearer ' || :'tforged')::text, true) IS NOT NULL;
SELECT jwt_postgrest_pre_request();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- an anonymous request: no identity, the policy shows nothing
BEGIN;
SET LOCAL ROLE regress_web_user;
SELECT set_config('request.headers', '{}', true) IS NOT NULL;
SELECT jwt_postgrest_pre_request();
SELECT jwt_claims() IS NULL AS anonymous, count(*) AS rows FROM docs;
COMMIT;
RESET SESSION AUTHORIZATION;
RESET jwt.anonymous_role;

DROP TABLE docs;
DROP FUNCTION workers_launched(text);
DROP SCHEMA regress_rls;
DROP ROLE regress_rls_user, regress_authenticator, regress_web_user, regress_admin_role;
SELECT jwt_retire_key('rls-test');
