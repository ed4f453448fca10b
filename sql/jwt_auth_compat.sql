-- jwt_auth (issue 16): Supabase's and Neon pg_session_jwt's auth.* functions
-- over jwt's verified identity.  Policies written the way their
-- documentation writes them run unchanged, as a non-superuser, with tokens
-- from the keyring; a forged request.jwt.claims changes nothing.

-- Attack: a role creates the schema auth before the extension, to own what
-- policies will trust (its owner could drop auth.uid() and put its own in).
CREATE ROLE regress_auth_squatter;
CREATE SCHEMA auth AUTHORIZATION regress_auth_squatter;
SELECT try('CREATE EXTENSION jwt_auth') AS schema_of_a_non_superuser;
DROP SCHEMA auth;
DROP ROLE regress_auth_squatter;

CREATE EXTENSION jwt_auth;
SELECT e.extversion, n.nspname AS schema, e.extrelocatable
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'jwt_auth';

-- STABLE and PARALLEL SAFE like jwt_claims() (the two Neon initialisers
-- change the identity: VOLATILE); EXECUTE for everyone, as in Supabase.
SELECT p.proname, p.provolatile, p.proparallel, p.prosecdef, p.proconfig,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
FROM pg_proc p WHERE p.pronamespace = 'auth'::regnamespace ORDER BY p.proname;
SELECT has_schema_privilege('public', 'auth', 'USAGE') AS public_usage;

SET jwt.default_lifetime = '1h';
SELECT jwt_generate_key('ES256', 'auth-compat') AS kid;

-- Roles as in Supabase (authenticator, anon, authenticated), with our prefix.
CREATE ROLE regress_auth_authenticator NOINHERIT;
CREATE ROLE regress_auth_anon;
CREATE ROLE regress_auth_user;
GRANT regress_auth_anon, regress_auth_user TO regress_auth_authenticator;
CREATE SCHEMA regress_auth_app;
GRANT USAGE ON SCHEMA regress_auth_app TO regress_auth_anon, regress_auth_user;
SET search_path = regress_auth_app, public;

-- Supabase's documentation's policies, unchanged.
CREATE TABLE profiles (id int PRIMARY KEY, user_id uuid NOT NULL, body text);
ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users can view their own profile" ON profiles
    FOR SELECT USING (auth.uid() = user_id);
CREATE TABLE todos (id int PRIMARY KEY, user_id uuid NOT NULL);
ALTER TABLE todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Individuals can view their own todos" ON todos
    FOR SELECT TO regress_auth_user USING ((select auth.uid()) = user_id);
CREATE TABLE mfa_secrets (id int PRIMARY KEY, body text);
ALTER TABLE mfa_secrets ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Restrict access to MFA users" ON mfa_secrets AS RESTRICTIVE
    FOR SELECT TO regress_auth_user USING ((select auth.jwt() ->> 'aal') = 'aal2');
CREATE POLICY "Everyone else" ON mfa_secrets FOR SELECT USING (true);
CREATE TABLE notices (id int PRIMARY KEY, audience text NOT NULL);
ALTER TABLE notices ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Signed-in users" ON notices FOR SELECT
    USING (auth.role() = 'regress_auth_user' AND audience = 'members');
CREATE POLICY "Public notices" ON notices FOR SELECT USING (audience = 'public');
CREATE TABLE team_docs (id int PRIMARY KEY, team_id text NOT NULL);
ALTER TABLE team_docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY "User is in team" ON team_docs FOR SELECT TO regress_auth_user
    USING (team_id IN (SELECT jsonb_array_elements_text(auth.jwt() -> 'app_metadata' -> 'teams')));
CREATE TABLE newsletter (id int PRIMARY KEY, email text NOT NULL);
ALTER TABLE newsletter ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Own subscription" ON newsletter FOR SELECT USING (auth.email() = email);
-- Neon's documentation's policy, unchanged.
CREATE TABLE neon_todos (id int PRIMARY KEY, user_id text NOT NULL DEFAULT (auth.user_id()), task text);
ALTER TABLE neon_todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Individuals can view their own todos." ON neon_todos
    FOR SELECT TO regress_auth_user USING ((select auth.user_id() = user_id));
CREATE POLICY "Individuals can create todos." ON neon_todos
    FOR INSERT TO regress_auth_user WITH CHECK ((select auth.user_id()) = user_id);

INSERT INTO profiles VALUES (1, '11111111-1111-4111-8111-111111111111', 'alice'),
                            (2, '22222222-2222-4222-8222-222222222222', 'bob');
INSERT INTO todos SELECT i, CASE WHEN i % 2 = 0 THEN '11111111-1111-4111-8111-111111111111'::uuid
                                 ELSE '22222222-2222-4222-8222-222222222222'::uuid END
                  FROM generate_series(1, 10) i;
INSERT INTO mfa_secrets VALUES (1, 'secret');
INSERT INTO notices VALUES (1, 'public'), (2, 'members');
INSERT INTO team_docs VALUES (1, 'red'), (2, 'blue'), (3, 'green');
INSERT INTO newsletter VALUES (1, 'alice@example.com'), (2, 'bob@example.com');
INSERT INTO neon_todos VALUES (1, '11111111-1111-4111-8111-111111111111', 'alice''s'),
                              (2, 'user_bob', 'bob''s');
GRANT SELECT ON ALL TABLES IN SCHEMA regress_auth_app TO regress_auth_anon, regress_auth_user;
GRANT INSERT ON neon_todos TO regress_auth_user;

SELECT jwt_sign('{"sub":"11111111-1111-4111-8111-111111111111","role":"regress_auth_user",
                  "email":"alice@example.com","aal":"aal2",
                  "app_metadata":{"teams":["red","green"]}}') AS talice \gset
SELECT jwt_sign('{"sub":"22222222-2222-4222-8222-222222222222","role":"regress_auth_user",
                  "email":"bob@example.com","aal":"aal1","app_metadata":{"teams":["blue"]}}') AS tbob \gset
SELECT jwt_sign('{"role":"regress_auth_anon"}') AS tanon \gset
SELECT jwt_sign('{"sub":"user_bob","role":"regress_auth_user"}') AS tneonbob \gset
SELECT jwt_sign('{"sub":"not-a-uuid","role":"regress_auth_user"}') AS tnotuuid \gset
SELECT jwt_sign('{"sub":"alice","exp":1000,"iat":900}') AS texpired \gset
SELECT jwt_sign('{"sub":"11111111-1111-4111-8111-111111111111","role":"regress_auth_user"}') AS trevoked \gset
SELECT jwt_revoke(:'trevoked') AS revoked;
SELECT jwt_sign('{"sub":"11111111-1111-4111-8111-111111111111","role":"regress_auth_user"}',
                k('ec_p256'), header => '{"kid":"auth-compat"}') AS tforged \gset

-- A view of what the current identity sees through every policy.
CREATE FUNCTION sees() RETURNS TABLE (profiles text, todos bigint, mfa bigint, notices text,
                                      teams text, newsletter text, neon text)
LANGUAGE sql AS $$
    SELECT (SELECT string_agg(body, ',' ORDER BY id) FROM profiles),
           (SELECT count(*) FROM todos),
           (SELECT count(*) FROM mfa_secrets),
           (SELECT string_agg(audience, ',' ORDER BY id) FROM notices),
           (SELECT string_agg(team_id, ',' ORDER BY id) FROM team_docs),
           (SELECT string_agg(email, ',' ORDER BY id) FROM newsletter),
           (SELECT string_agg(task, ',' ORDER BY id) FROM neon_todos)
$$;
GRANT EXECUTE ON FUNCTION sees() TO regress_auth_anon, regress_auth_user;

SET jwt.role_claim = 'role';
SET SESSION AUTHORIZATION regress_auth_authenticator;

-- Item (Supabase): a signed-in user with MFA sees their own rows through
-- every policy, as a non-superuser after jwt_authenticate's role switch.
BEGIN;
SELECT jwt_authenticate(:'talice') ->> 'email' AS authenticated, current_user;
SELECT auth.uid(), auth.role(), auth.email(), auth.jwt() ->> 'aal' AS aal,
       auth.jwt() -> 'app_metadata' AS app_metadata;
SELECT * FROM sees();
-- Attack: the session forges request.jwt.claims (and Supabase's older
-- request.jwt.claim.*) to become bob (issue 16, compat: forged claims).
SELECT set_config('request.jwt.claims',
                  '{"sub":"22222222-2222-4222-8222-222222222222","role":"regress_auth_user","email":"bob@example.com","aal":"aal2","app_metadata":{"teams":["blue"]}}',
                  true) IS NOT NULL AS forged;
SELECT set_config('request.jwt.claim.sub', '22222222-2222-4222-8222-222222222222', true) IS NOT NULL AS forged_legacy;
SELECT auth.uid(), auth.email(), auth.user_id();
SELECT * FROM sees();
COMMIT;

-- Item (Supabase): without MFA (aal1) the restrictive policy hides the
-- secret; bob sees only his own rows.
BEGIN;
SELECT jwt_authenticate(:'tbob') ->> 'email' AS authenticated;
SELECT * FROM sees();
COMMIT;

-- Item: the planner evaluates (select auth.uid()) once per statement (an
-- InitPlan), and inlines auth.uid() into the policy.  (How the text form of
-- a plan names an InitPlan's value differs between majors, $0 before 17,
-- (InitPlan 1).col1 since: the JSON form's structure is read instead.)
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE p json;
BEGIN
    EXECUTE 'EXPLAIN (COSTS OFF, FORMAT JSON) ' || q INTO p;
    RETURN p -> 0 -> 'Plan';
END $$;
BEGIN;
SELECT jwt_authenticate(:'talice') IS NOT NULL;
SELECT p ->> 'Node Type' AS node, p ->> 'Relation Name' AS relation,
       p ->> 'Filter' LIKE '%= user_id)' AS filter_on_user_id,
       jsonb_path_query_array(p, '$.Plans[*]."Parent Relationship"') AS subplans,
       jsonb_path_query_array(p, '$.Plans[*]."Node Type"') AS subplan_nodes
FROM pg_temp.plan_of('SELECT * FROM todos') p;
EXPLAIN (COSTS OFF) SELECT * FROM profiles;
COMMIT;
DROP FUNCTION pg_temp.plan_of(text);

-- Item: anonymous (no identity) as documented: every reader is NULL
-- (Supabase), auth.session() is JSON null (Neon); policies match nothing.
SET ROLE regress_auth_anon;
SELECT auth.uid() IS NULL AS uid, auth.jwt() IS NULL AS jwt, auth.role() IS NULL AS role,
       auth.email() IS NULL AS email, auth.user_id() IS NULL AS user_id, auth.session() AS session,
       jsonb_typeof(auth.session()) AS session_type;
SELECT * FROM sees();
-- Attack: anonymous forges request.jwt.claims to sign in as alice.
SELECT set_config('request.jwt.claims', '{"sub":"11111111-1111-4111-8111-111111111111","role":"regress_auth_user","email":"alice@example.com","aal":"aal2"}', false) IS NOT NULL AS forged;
SELECT set_config('request.jwt.claim.sub', '11111111-1111-4111-8111-111111111111', false) IS NOT NULL AS forged_legacy;
SELECT auth.uid() IS NULL AS uid, auth.jwt() IS NULL AS jwt, auth.email() IS NULL AS email,
       auth.user_id() IS NULL AS user_id, auth.session() AS session;
SELECT * FROM sees();
RESET request.jwt.claims;
RESET request.jwt.claim.sub;
RESET ROLE;
-- Supabase's anonymous key is a token of its own (role anon, no sub).
BEGIN;
SELECT jwt_authenticate(:'tanon') IS NOT NULL, current_user;
SELECT auth.uid(), auth.role(), auth.user_id(), auth.session() - 'exp' - 'iat' - 'jti' AS session;
SELECT * FROM sees();
COMMIT;

-- Attack: a role puts a schema of its own first in search_path, with its own
-- jwt_claims()/jwt_claim_uuid()/jwt_claim() and -> operator, to make auth.*
-- answer what it likes (the bodies are qualified: nothing changes).
RESET SESSION AUTHORIZATION;
CREATE SCHEMA regress_auth_evil AUTHORIZATION regress_auth_user;
SET SESSION AUTHORIZATION regress_auth_authenticator;
BEGIN;
SELECT jwt_authenticate(:'tbob') IS NOT NULL, current_user;
CREATE FUNCTION regress_auth_evil.jwt_claims() RETURNS jsonb LANGUAGE sql
    AS $$ SELECT '{"sub":"11111111-1111-4111-8111-111111111111","email":"alice@example.com"}'::jsonb $$;
CREATE FUNCTION regress_auth_evil.jwt_claim(text) RETURNS text LANGUAGE sql
    AS $$ SELECT '11111111-1111-4111-8111-111111111111' $$;
CREATE FUNCTION regress_auth_evil.jwt_claim_uuid(text) RETURNS uuid LANGUAGE sql
    AS $$ SELECT '11111111-1111-4111-8111-111111111111'::uuid $$;
CREATE FUNCTION regress_auth_evil.jsonb_typeof(jsonb) RETURNS text LANGUAGE sql AS $$ SELECT 'string' $$;
CREATE FUNCTION regress_auth_evil.arrow(jsonb, text) RETURNS jsonb LANGUAGE sql
    AS $$ SELECT '"11111111-1111-4111-8111-111111111111"'::jsonb $$;
CREATE OPERATOR regress_auth_evil.-> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = regress_auth_evil.arrow);
SET LOCAL search_path = regress_auth_evil, pg_catalog, regress_auth_app, public;
SELECT auth.uid(), auth.email(), auth.user_id(), auth.session() ->> 'sub' AS session_sub;
SELECT * FROM sees();
ROLLBACK;

-- Item (Neon): auth.init() then auth.jwt_session_init(jwt), then Neon's
-- policies on auth.user_id() (text, any string sub).
BEGIN;
SELECT auth.init();
SELECT auth.jwt_session_init(:'tneonbob');
SELECT current_user, auth.user_id(), auth.session() ->> 'sub' AS session_sub, auth.jwt() ->> 'sub' AS jwt_sub;
SELECT string_agg(task, ',' ORDER BY id) AS neon FROM neon_todos;
INSERT INTO neon_todos (id, task) VALUES (3, 'bob''s second');
SELECT try($$INSERT INTO neon_todos (id, user_id, task) VALUES (4, '11111111-1111-4111-8111-111111111111', 'as alice')$$) AS insert_as_other;
SELECT string_agg(task, ',' ORDER BY id) AS neon FROM neon_todos;
-- the same non-UUID sub on a table with Supabase's auth.uid() policy: 22P02 (see below)
SELECT try('SELECT count(*) FROM profiles') AS supabase_policy;
ROLLBACK;

-- Attack: auth.jwt_session_init takes a weaker path than jwt_authenticate
-- (issue 16, compat: Neon): forged, expired and revoked tokens are refused.
SELECT try(format('SELECT auth.jwt_session_init(%L)', :'tforged')) AS forged;
SELECT try(format('SELECT auth.jwt_session_init(%L)', :'texpired')) AS expired;
SELECT try(format('SELECT auth.jwt_session_init(%L)', :'trevoked')) AS revoked;
SELECT try('SELECT auth.jwt_session_init(NULL)') AS null_token;
SELECT auth.user_id() IS NULL AS still_anonymous, current_user;

-- Malformed sub, decided and documented: auth.uid() raises 22P02 for a sub
-- that is not a UUID string (as Supabase's cast does); auth.user_id() gives
-- any string and raises 22P02 for a non-string; JSON null reads as NULL.
BEGIN;
SELECT jwt_authenticate(:'tnotuuid') ->> 'sub';
SELECT try('SELECT auth.uid()') AS uid_not_uuid, auth.user_id();
SELECT try('SELECT count(*) FROM profiles') AS policy_not_uuid;
COMMIT;
-- (jwt_sign refuses a non-string sub: a superuser impersonates one)
RESET SESSION AUTHORIZATION;
RESET jwt.role_claim;
BEGIN;
SELECT jwt_impersonate('{"sub":42}') ->> 'sub' AS sub;
SELECT try('SELECT auth.uid()') AS uid_number, try('SELECT auth.user_id()') AS user_id_number;
SELECT jwt_impersonate('{"sub":{"id":"11111111-1111-4111-8111-111111111111"}}') -> 'sub' AS sub;
SELECT try('SELECT auth.uid()') AS uid_object, try('SELECT auth.user_id()') AS user_id_object;
SELECT jwt_impersonate('{"sub":null}') ->> 'sub' AS sub;
SELECT auth.uid() IS NULL AS uid, auth.user_id() IS NULL AS user_id;
SELECT jwt_impersonate('{"email":"x@example.com"}') ->> 'sub' AS sub;
SELECT auth.uid() IS NULL AS uid, auth.user_id() IS NULL AS user_id;
ROLLBACK;
SET jwt.role_claim = 'role';

-- Item: with jwt_impersonate (a superuser's test), the same policies see
-- the impersonated identity.
BEGIN;
SELECT jwt_impersonate('{"sub":"22222222-2222-4222-8222-222222222222","role":"regress_auth_user","email":"bob@example.com","aal":"aal2","app_metadata":{"teams":["blue"]}}') IS NOT NULL;
SELECT current_user, auth.uid();
SELECT * FROM sees();
ROLLBACK;

-- jwt.trust_postgrest_claims (a superuser's choice, jwt_claims()'s own
-- documented fallback) is the only way request.jwt.claims reaches auth.*.
SET jwt.trust_postgrest_claims = on;
SELECT set_config('request.jwt.claims', '{"sub":"22222222-2222-4222-8222-222222222222"}', false) IS NOT NULL;
SELECT auth.uid() AS trusted_fallback;
RESET jwt.trust_postgrest_claims;
SELECT auth.uid() IS NULL AS not_trusted;
RESET request.jwt.claims;
RESET jwt.role_claim;
RESET search_path;

-- Clean up.
DROP SCHEMA regress_auth_evil CASCADE;
DROP SCHEMA regress_auth_app CASCADE;
DROP EXTENSION jwt_auth;
-- CREATE EXTENSION created the schema; DROP EXTENSION leaves it
DROP SCHEMA auth;
DROP ROLE regress_auth_authenticator, regress_auth_anon, regress_auth_user;
SELECT jwt_retire_key('auth-compat') AS retired;
