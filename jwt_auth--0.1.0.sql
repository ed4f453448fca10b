\echo Use "CREATE EXTENSION jwt_auth" to load this file. \quit

-- Supabase's and Neon pg_session_jwt's auth.* functions, with their names and
-- result types, over the jwt extension's verified identity (jwt_claims()),
-- so that policies written for them run unchanged.  See the README's
-- "Moving from Supabase, Neon or PostgREST".
--
-- Unlike the originals, none reads request.jwt.claims (or request.jwt.claim.*),
-- which any role can set: a forged setting changes nothing.  The only way in
-- is jwt's own, through jwt_claims(): jwt_authenticate(), jwt_impersonate(),
-- and request.jwt.claims only if a superuser turned jwt.trust_postgrest_claims on.
--
-- Plain SQL functions, STABLE and PARALLEL SAFE like jwt_claims(), so that the
-- planner inlines them and (select auth.uid()) is evaluated once per statement.
-- SQL bodies are parsed with the caller's search_path when they run, so every
-- name in them is qualified (jwt's schema, pg_catalog): a role that puts a
-- schema of its own first cannot swap in its own jwt_claims() or operator.
-- jwt's schema is known only at install time: the bodies are built here.

-- The owner of a schema may drop what is in it and create its own auth.uid()
-- for new policies to trust: a schema auth that existed before must be a
-- superuser's.
DO $owner$
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_namespace n
            JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
            WHERE n.nspname = '@extschema@') THEN
        RAISE EXCEPTION 'schema "@extschema@" is not owned by a superuser'
            USING ERRCODE = '42501',
                  HINT = 'Its owner could replace the functions that policies trust: ALTER SCHEMA @extschema@ OWNER TO a superuser, then CREATE EXTENSION jwt_auth.';
    END IF;
END
$owner$;

-- Readers of the identity are for everyone, as in Supabase.
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

-- Neon's user_id() raises for a "sub" that is not a string (see below).
CREATE FUNCTION @extschema@._claim_not_a_string(name text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
BEGIN
    RAISE EXCEPTION 'claim "%" is not a string', name USING ERRCODE = '22P02';
END
$$;
COMMENT ON FUNCTION @extschema@._claim_not_a_string(text) IS 'internal to auth.user_id()';

DO $install$
DECLARE
    j text := (SELECT quote_ident(n.nspname) FROM pg_catalog.pg_extension e
               JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
               WHERE e.extname = 'jwt');
    a text := quote_ident('@extschema@');
BEGIN
    -- Supabase: the uuid of "sub"; NULL when anonymous (or "sub" absent or
    -- JSON null).  A "sub" that is not a UUID string raises 22P02, as
    -- Supabase's cast does (Neon's auth.uid() returns NULL instead).
    EXECUTE format($f$
        CREATE FUNCTION %1$s.uid() RETURNS uuid
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $b$ SELECT %2$s.jwt_claim_uuid('sub') $b$ $f$, a, j);

    -- Supabase: all the claims; NULL when anonymous.
    EXECUTE format($f$
        CREATE FUNCTION %1$s.jwt() RETURNS jsonb
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $b$ SELECT %2$s.jwt_claims() $b$ $f$, a, j);

    -- Supabase: the claim "role" as text (any JSON value as its text, like
    -- ->>); NULL when anonymous or absent.
    EXECUTE format($f$
        CREATE FUNCTION %1$s.role() RETURNS text
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $b$ SELECT %2$s.jwt_claim('role') $b$ $f$, a, j);

    -- Supabase: the claim "email" as text; NULL when anonymous or absent.
    EXECUTE format($f$
        CREATE FUNCTION %1$s.email() RETURNS text
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $b$ SELECT %2$s.jwt_claim('email') $b$ $f$, a, j);

    -- Neon: nothing to initialise (the keyring is jwt's, not a setting); it
    -- loads the library, which discards any placeholder jwt.* setting a role
    -- set before.
    EXECUTE format($f$
        CREATE FUNCTION %1$s.init() RETURNS void
        LANGUAGE sql VOLATILE
        AS $b$ SELECT %2$s.jwt_claims() $b$ $f$, a, j);

    -- Neon: authenticate a token.  Through jwt_authenticate(), so with the
    -- keyring, jwt.* policy settings, revocation and jwt.role_claim; the
    -- identity lasts the transaction unless jwt.session_identity is on.
    EXECUTE format($f$
        CREATE FUNCTION %1$s.jwt_session_init(jwt text) RETURNS void
        LANGUAGE sql VOLATILE
        AS $b$ SELECT %2$s.jwt_authenticate(jwt) $b$ $f$, a, j);

    -- Neon: all the claims; JSON null (not SQL NULL) when anonymous.
    EXECUTE format($f$
        CREATE FUNCTION %1$s.session() RETURNS jsonb
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $b$ SELECT COALESCE(%2$s.jwt_claims(), 'null'::pg_catalog.jsonb) $b$ $f$, a, j);

    -- Neon: "sub" as text; NULL when anonymous, absent or JSON null; a "sub"
    -- that is not a string raises 22P02 (Neon raises 42804).
    EXECUTE format($f$
        CREATE FUNCTION %1$s.user_id() RETURNS text
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $b$
            SELECT CASE
                WHEN pg_catalog.jsonb_typeof(pg_catalog.jsonb_object_field(%2$s.jwt_claims(), 'sub')) IS NULL
                  OR pg_catalog.texteq(pg_catalog.jsonb_typeof(pg_catalog.jsonb_object_field(%2$s.jwt_claims(), 'sub')), 'null')
                THEN NULL
                WHEN pg_catalog.texteq(pg_catalog.jsonb_typeof(pg_catalog.jsonb_object_field(%2$s.jwt_claims(), 'sub')), 'string')
                THEN %2$s.jwt_claim('sub')
                ELSE %1$s._claim_not_a_string('sub')
            END
        $b$ $f$, a, j);
END
$install$;

COMMENT ON FUNCTION @extschema@.uid() IS 'Supabase: the uuid of the verified identity''s "sub" claim, NULL when anonymous';
COMMENT ON FUNCTION @extschema@.jwt() IS 'Supabase: the verified identity''s claims, NULL when anonymous';
COMMENT ON FUNCTION @extschema@.role() IS 'Supabase: the verified identity''s "role" claim';
COMMENT ON FUNCTION @extschema@.email() IS 'Supabase: the verified identity''s "email" claim';
COMMENT ON FUNCTION @extschema@.init() IS 'Neon pg_session_jwt: nothing to do (the keys are jwt''s keyring)';
COMMENT ON FUNCTION @extschema@.jwt_session_init(text) IS 'Neon pg_session_jwt: authenticates a token with jwt_authenticate()';
COMMENT ON FUNCTION @extschema@.session() IS 'Neon pg_session_jwt: the verified identity''s claims, JSON null when anonymous';
COMMENT ON FUNCTION @extschema@.user_id() IS 'Neon pg_session_jwt: the verified identity''s "sub" claim as text';
