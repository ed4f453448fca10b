-- Impersonation for testing (issue 16): jwt_impersonate(claims) sets the
-- identity through jwt_authenticate's path, for superusers and the roles
-- granted jwt_impersonator() only; jwt_identity() tells it apart; each use
-- is logged; the marker is as unforgeable as the claims.

-- Attack: forge an impersonation marker (and claims) as placeholders before
-- the library loads, so that the identity reads as a superuser's test
-- (issue 16, impersonation: unforgeable marker).  This must run first: no
-- jwt function has been called in this session yet.
CREATE ROLE regress_imp_mallory;
SET ROLE regress_imp_mallory;
SET jwt.impersonated_by = 'postgres';
SET jwt.claims = '{"sub":"victim"}';
\set VERBOSITY sqlstate
-- loading the library discards both, each with a 42501 warning
SELECT authenticated, impersonated, impersonated_by, claims FROM jwt_identity();
\set VERBOSITY default
SELECT current_setting('jwt.impersonated_by') AS marker, current_setting('jwt.claims') AS claims;
RESET ROLE;

SET jwt.default_lifetime = '1h';
SELECT jwt_generate_key('ES256', 'imp-test') AS kid;

CREATE ROLE regress_imp_authenticator NOINHERIT;
CREATE ROLE regress_imp_tester NOINHERIT;
CREATE ROLE regress_imp_web;
CREATE ROLE regress_imp_admin;
GRANT regress_imp_web TO regress_imp_authenticator, regress_imp_tester;
CREATE TABLE imp_docs (id int PRIMARY KEY, owner text NOT NULL);
INSERT INTO imp_docs SELECT i, (ARRAY['alice', 'bob', 'carol'])[1 + i % 3] FROM generate_series(1, 30) i;
ALTER TABLE imp_docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY imp_docs_owner ON imp_docs USING (owner = jwt_claim('sub'));
GRANT SELECT ON imp_docs TO regress_imp_web;
SELECT jwt_sign('{"sub":"alice","role":"regress_imp_web"}') AS talice \gset

-- Without an identity: neither authenticated nor impersonated.
SELECT * FROM jwt_identity();

-- Item: an RLS policy sees the impersonated identity exactly as an
-- authenticated one (same role switch, same rows); jwt_identity() tells
-- them apart.  First the production path, with a token:
SET jwt.role_claim = 'role';
SET SESSION AUTHORIZATION regress_imp_authenticator;
BEGIN;
SELECT jwt_authenticate(:'talice') ->> 'sub' AS sub, current_user;
SELECT count(*) AS rows, count(*) FILTER (WHERE owner <> 'alice') AS others FROM imp_docs;
SELECT authenticated, impersonated, impersonated_by, claims ->> 'sub' AS sub FROM jwt_identity();
COMMIT;
RESET SESSION AUTHORIZATION;

-- Item: a superuser can impersonate; the same claims give the same rows.
BEGIN;
SELECT jwt_impersonate('{"sub":"alice","role":"regress_imp_web"}') ->> 'sub' AS sub, current_user;
SELECT count(*) AS rows, count(*) FILTER (WHERE owner <> 'alice') AS others FROM imp_docs;
SELECT authenticated, impersonated, impersonated_by, claims FROM jwt_identity();
SELECT jwt_claim('sub') AS sub, jwt_claims() AS claims;
COMMIT;
-- transaction-scoped like jwt_authenticate: gone at commit, role back
SELECT current_user, * FROM jwt_identity();

-- Attack: an ungranted role impersonates a user to read their rows
-- (issue 16, impersonation: superusers and granted roles only): 42501.
SET ROLE regress_imp_mallory;
SELECT try($$SELECT jwt_impersonate('{"sub":"alice"}')$$) AS ungranted;
SELECT try($$SELECT jwt_impersonator()$$) AS marker_not_executable;
SELECT * FROM jwt_identity();
RESET ROLE;

-- Item: a granted role can impersonate, and the role switch is the one
-- production makes: it checks the session user's membership.
GRANT EXECUTE ON FUNCTION jwt_impersonator() TO regress_imp_tester;
SET SESSION AUTHORIZATION regress_imp_tester;
BEGIN;
SELECT jwt_impersonate('{"sub":"bob","role":"regress_imp_web"}') ->> 'sub' AS sub, current_user;
SELECT count(*) AS rows, count(*) FILTER (WHERE owner <> 'bob') AS others FROM imp_docs;
SELECT authenticated, impersonated, impersonated_by, claims ->> 'sub' AS sub FROM jwt_identity();
-- Attack: the impersonated identity impersonates again to escalate: the
-- current role (regress_imp_web) has no grant.
SELECT try($$SELECT jwt_impersonate('{"sub":"carol","role":"regress_imp_web"}')$$) AS impersonated_role_cannot;
COMMIT;
-- Attack: impersonate into a role the session user may not become (42501,
-- as jwt_authenticate would refuse the same token).
SELECT try($$SELECT jwt_impersonate('{"sub":"bob","role":"regress_imp_admin"}')$$) AS role_not_granted;
-- the same refusal as jwt_authenticate for claims naming no role (28J08)
SELECT try($$SELECT jwt_impersonate('{"sub":"bob"}')$$) AS no_role_claim;
SELECT current_user, * FROM jwt_identity();
RESET SESSION AUTHORIZATION;
RESET jwt.role_claim;

-- Item: jwt_authenticate replaces an impersonation and clears the marker;
-- jwt_impersonate replaces an authentication and sets it.
BEGIN;
SELECT jwt_impersonate('{"sub":"carol"}') ->> 'sub' AS impersonated;
SELECT jwt_authenticate(:'talice') ->> 'sub' AS authenticated;
SELECT authenticated, impersonated, impersonated_by, claims ->> 'sub' AS sub FROM jwt_identity();
SELECT jwt_impersonate('{"sub":"carol"}') ->> 'sub' AS impersonated_again;
SELECT authenticated, impersonated, impersonated_by, claims ->> 'sub' AS sub FROM jwt_identity();
ROLLBACK;
SELECT * FROM jwt_identity();

-- Item: jwt_reset() clears an impersonation (session scope, where it would
-- otherwise outlive the transaction).
SET jwt.session_identity = on;
SELECT jwt_impersonate('{"sub":"carol"}') ->> 'sub' AS session;
SELECT impersonated, impersonated_by, claims ->> 'sub' AS next_statement FROM jwt_identity();
SELECT jwt_reset();
SELECT * FROM jwt_identity();
SELECT current_setting('jwt.impersonated_by') AS marker_after_reset;
SELECT jwt_impersonate('{"sub":"carol"}') ->> 'sub' AS again;
RESET ALL;
SELECT * FROM jwt_identity();

-- Bad claims get their own SQLSTATE.
SELECT try($$SELECT jwt_impersonate(NULL)$$) AS null_claims;
SELECT try($$SELECT jwt_impersonate('["alice"]')$$) AS array_claims;
SELECT try($$SELECT jwt_impersonate('"alice"')$$) AS string_claims;
SELECT * FROM jwt_identity();

-- Attack: forge the impersonation marker after the library loaded, however
-- a role tries (issue 16, impersonation: unforgeable marker): 42501.
SET ROLE regress_imp_mallory;
SELECT try($$SET jwt.impersonated_by = 'postgres'$$) AS set;
SELECT try($$SET LOCAL jwt.impersonated_by = 'postgres'$$) AS set_local;
SELECT try($$SELECT set_config('jwt.impersonated_by', 'postgres', false)$$) AS set_config;
SELECT try($$SELECT set_config('jwt.impersonated_by', 'postgres', true)$$) AS set_config_local;
SELECT try($$ALTER ROLE regress_imp_mallory SET jwt.impersonated_by = 'postgres'$$) AS alter_role;
SELECT * FROM jwt_identity();
RESET ROLE;

-- The PostgREST fallback (a superuser's choice) is neither authenticated nor impersonated.
SET jwt.trust_postgrest_claims = on;
SELECT set_config('request.jwt.claims', '{"sub":"from-postgrest"}', false) IS NOT NULL;
SELECT * FROM jwt_identity();
RESET jwt.trust_postgrest_claims;
RESET request.jwt.claims;

-- Item: each use is logged, with the impersonating role and the claims'
-- sub (JSON-quoted, so that no sub can forge a log line), never the other
-- claims.
SET client_min_messages = log;
SELECT jwt_impersonate('{"sub":"alice","secret_note":"not for the log"}') IS NOT NULL AS logged;
SELECT jwt_impersonate(jsonb_build_object('sub', E'eve\nLOG:  forged line')) IS NOT NULL AS logged_quoted;
SELECT jwt_impersonate('{"sub":42}') IS NOT NULL AS numeric_sub;
SELECT jwt_impersonate('{"iss":"none"}') IS NOT NULL AS no_sub;
SET jwt.role_claim = 'role';
BEGIN;
SELECT jwt_impersonate('{"sub":"alice","role":"regress_imp_web"}') IS NOT NULL AS logged_with_role;
ROLLBACK;
RESET jwt.role_claim;
SET SESSION AUTHORIZATION regress_imp_tester;
SELECT jwt_impersonate('{"sub":"dave"}') IS NOT NULL AS logged_as_tester;
RESET SESSION AUTHORIZATION;
-- a role reached with SET ROLE: the log names the session user too
GRANT regress_imp_tester TO regress_imp_mallory;
SET SESSION AUTHORIZATION regress_imp_mallory;
SET ROLE regress_imp_tester;
SELECT jwt_impersonate('{"sub":"erin"}') IS NOT NULL AS logged_with_session_user;
RESET ROLE;
RESET SESSION AUTHORIZATION;
RESET client_min_messages;

-- Clean up.
DROP TABLE imp_docs;
REVOKE EXECUTE ON FUNCTION jwt_impersonator() FROM regress_imp_tester;
DROP ROLE regress_imp_mallory, regress_imp_authenticator, regress_imp_tester, regress_imp_web, regress_imp_admin;
SELECT jwt_retire_key('imp-test') AS retired;
