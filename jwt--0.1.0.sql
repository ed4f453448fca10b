/* jwt--0.1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION jwt" to load this file. \quit

-- A NULL (or omitted) text key means the keyring (jwt_keys, below).

-- Signing reads the clock (iat, exp) and the CSPRNG (ECDSA, PSS): VOLATILE.
CREATE FUNCTION jwt_sign(claims jsonb, key text DEFAULT NULL, alg text DEFAULT NULL, header jsonb DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'jwt_sign_text'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION jwt_sign(claims jsonb, key bytea, alg text DEFAULT NULL, header jsonb DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'jwt_sign_bytea'
LANGUAGE C VOLATILE PARALLEL SAFE;

-- Verification reads the clock and settings: STABLE.
CREATE FUNCTION jwt_verify(token text, key text DEFAULT NULL, algorithms text[] DEFAULT NULL,
                           audience text DEFAULT NULL, issuer text DEFAULT NULL,
                           leeway interval DEFAULT NULL, required text[] DEFAULT NULL,
                           max_age interval DEFAULT NULL, typ text DEFAULT NULL,
                           subject text DEFAULT NULL, now timestamptz DEFAULT NULL,
                           check_revoked boolean DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_verify_text'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jwt_verify(token text, key bytea, algorithms text[] DEFAULT NULL,
                           audience text DEFAULT NULL, issuer text DEFAULT NULL,
                           leeway interval DEFAULT NULL, required text[] DEFAULT NULL,
                           max_age interval DEFAULT NULL, typ text DEFAULT NULL,
                           subject text DEFAULT NULL, now timestamptz DEFAULT NULL,
                           check_revoked boolean DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_verify_bytea'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jwt_is_valid(token text, key text DEFAULT NULL, algorithms text[] DEFAULT NULL,
                             audience text DEFAULT NULL, issuer text DEFAULT NULL,
                             leeway interval DEFAULT NULL, required text[] DEFAULT NULL,
                             max_age interval DEFAULT NULL, typ text DEFAULT NULL,
                             subject text DEFAULT NULL, now timestamptz DEFAULT NULL,
                             check_revoked boolean DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_is_valid_text'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jwt_is_valid(token text, key bytea, algorithms text[] DEFAULT NULL,
                             audience text DEFAULT NULL, issuer text DEFAULT NULL,
                             leeway interval DEFAULT NULL, required text[] DEFAULT NULL,
                             max_age interval DEFAULT NULL, typ text DEFAULT NULL,
                             subject text DEFAULT NULL, now timestamptz DEFAULT NULL,
                             check_revoked boolean DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_is_valid_bytea'
LANGUAGE C STABLE PARALLEL SAFE;

-- UNSAFE for authorization: decodes without verifying anything.
-- STABLE: it reads jwt.max_token_length.
CREATE FUNCTION jwt_decode(token text, OUT header jsonb, OUT payload jsonb, OUT signature bytea)
RETURNS record
AS 'MODULE_PATHNAME', 'jwt_decode'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION jwt_decode(text) IS
'Decodes a token WITHOUT verifying its signature or claims: never use the result for authorization.';

CREATE FUNCTION jws_sign(payload bytea, key text DEFAULT NULL, alg text DEFAULT NULL, header jsonb DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'jws_sign_text'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION jws_sign(payload bytea, key bytea, alg text DEFAULT NULL, header jsonb DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'jws_sign_bytea'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION jws_verify(token text, key text DEFAULT NULL, algorithms text[] DEFAULT NULL)
RETURNS bytea
AS 'MODULE_PATHNAME', 'jws_verify_text'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jws_verify(token text, key bytea, algorithms text[] DEFAULT NULL)
RETURNS bytea
AS 'MODULE_PATHNAME', 'jws_verify_bytea'
LANGUAGE C STABLE PARALLEL SAFE;

-- ======================================================================
-- Keyring: keys generated, stored, rotated and published by the database.
-- ======================================================================

-- Private material and HMAC secrets live here; PUBLIC cannot read the table.
-- The C code reads it directly (never through SQL), so neither search_path
-- nor the caller's privileges change what it reads.
CREATE TABLE jwt_keys (
    kid          text PRIMARY KEY CHECK (length(kid) BETWEEN 1 AND 256),
    alg          text CHECK (alg IN ('HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512',
                                     'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA')),
    kty          text NOT NULL CHECK (kty IN ('oct', 'RSA', 'EC', 'OKP')),
    public_jwk   jsonb,
    private_key  bytea,
    origin       text NOT NULL CHECK (origin IN ('generated', 'added', 'jwks')),
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    retired_at   timestamptz,
    verify_until timestamptz,
    CHECK (public_jwk IS NOT NULL OR private_key IS NOT NULL)
);
COMMENT ON TABLE jwt_keys IS 'jwt keyring: private material; readable by superusers only';
COMMENT ON COLUMN jwt_keys.alg IS 'the one algorithm the key signs and verifies; NULL: those its type admits';
COMMENT ON COLUMN jwt_keys.verify_until IS 'a retired key still verifies until then';
-- dumped by pg_dump, so a restored database keeps its keys
SELECT pg_catalog.pg_extension_config_dump('jwt_keys', '');
REVOKE ALL ON jwt_keys FROM PUBLIC;

-- Every change tells every backend (and hot standby) to drop its cached keyring.
CREATE FUNCTION jwt_keyring_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'jwt_keyring_changed'
LANGUAGE C;
REVOKE ALL ON FUNCTION jwt_keyring_changed() FROM PUBLIC;
CREATE TRIGGER jwt_keys_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON jwt_keys
    FOR EACH STATEMENT EXECUTE FUNCTION jwt_keyring_changed();

-- Signing with the keyring mints tokens the database trusts: it needs
-- EXECUTE on this function, which PUBLIC does not have.
CREATE FUNCTION jwt_keyring_signer() RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT true';
COMMENT ON FUNCTION jwt_keyring_signer() IS
'GRANT EXECUTE on this function to the roles that may sign with the keyring';
REVOKE ALL ON FUNCTION jwt_keyring_signer() FROM PUBLIC;

-- Internal: a key parsed and checked, as a row; new key material.
-- They return private material, so only the SECURITY DEFINER functions below call them.
CREATE FUNCTION _jwt_key_describe(material bytea, is_secret boolean, alg text, kid text,
                                  OUT kid text, OUT alg text, OUT kty text,
                                  OUT public_jwk jsonb, OUT private_key bytea)
RETURNS record
AS 'MODULE_PATHNAME', 'jwt_key_describe_internal'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION _jwt_key_describe(bytea, boolean, text, text) FROM PUBLIC;

CREATE FUNCTION _jwt_key_generate(alg text) RETURNS bytea
AS 'MODULE_PATHNAME', 'jwt_key_generate_internal'
LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION _jwt_key_generate(text) FROM PUBLIC;

CREATE FUNCTION _jwt_store_key(r record, key_origin text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO @extschema@.jwt_keys (kid, alg, kty, public_jwk, private_key, origin)
    VALUES (r.kid, r.alg, r.kty, r.public_jwk, r.private_key, key_origin);
    RETURN r.kid;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'a key with kid "%" already exists in the keyring', r.kid
        USING ERRCODE = 'unique_violation';
END $$;
REVOKE ALL ON FUNCTION _jwt_store_key(record, text) FROM PUBLIC;

CREATE FUNCTION jwt_generate_key(alg text DEFAULT 'ES256', kid text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO STRICT r
    FROM @extschema@._jwt_key_describe(@extschema@._jwt_key_generate(alg), alg IN ('HS256', 'HS384', 'HS512'), alg, kid);
    RETURN @extschema@._jwt_store_key(r, 'generated');
END $$;
COMMENT ON FUNCTION jwt_generate_key(text, text) IS
'creates a key in the keyring and returns its kid (the RFC 7638 thumbprint unless given)';

CREATE FUNCTION jwt_add_key(key text, alg text DEFAULT NULL, kid text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO STRICT r
    FROM @extschema@._jwt_key_describe(convert_to(key, 'UTF8'), false, alg, kid);
    RETURN @extschema@._jwt_store_key(r, 'added');
END $$;
COMMENT ON FUNCTION jwt_add_key(text, text, text) IS
'imports a PEM key, a JWK or an HMAC secret into the keyring and returns its kid';

CREATE FUNCTION jwt_import_jwks(jwks jsonb) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k jsonb;
    r record;
    n integer := 0;
BEGIN
    IF jsonb_typeof(jwks) IS DISTINCT FROM 'object' OR jsonb_typeof(jwks -> 'keys') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'a JWKS is a JSON object with a "keys" array' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k IN SELECT value FROM jsonb_array_elements(jwks -> 'keys') LOOP
        -- providers publish encryption keys beside signing keys: they are not ours to use
        CONTINUE WHEN coalesce(k ->> 'use', 'sig') <> 'sig';
        SELECT * INTO STRICT r FROM @extschema@._jwt_key_describe(convert_to(k::text, 'UTF8'), false, NULL, NULL);
        IF EXISTS (SELECT 1 FROM @extschema@.jwt_keys WHERE jwt_keys.kid = r.kid AND origin <> 'jwks') THEN
            RAISE EXCEPTION 'kid "%" belongs to a key that was not imported from a JWKS', r.kid
                USING ERRCODE = 'unique_violation';
        END IF;
        INSERT INTO @extschema@.jwt_keys AS t (kid, alg, kty, public_jwk, private_key, origin)
        VALUES (r.kid, r.alg, r.kty, r.public_jwk, r.private_key, 'jwks')
        ON CONFLICT (kid) DO UPDATE
            SET alg = EXCLUDED.alg, kty = EXCLUDED.kty, public_jwk = EXCLUDED.public_jwk,
                private_key = EXCLUDED.private_key;
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
COMMENT ON FUNCTION jwt_import_jwks(jsonb) IS
'loads the signing keys of a JWKS into the keyring, replacing keys with the same kid; returns how many';

CREATE FUNCTION jwt_retire_key(kid text, grace interval DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF grace < interval '0' THEN
        RAISE EXCEPTION 'grace must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE @extschema@.jwt_keys AS t
       SET retired_at = clock_timestamp(), verify_until = clock_timestamp() + coalesce(grace, interval '0')
     WHERE t.kid = jwt_retire_key.kid AND t.retired_at IS NULL;
    IF FOUND THEN
        RETURN true;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM @extschema@.jwt_keys AS t WHERE t.kid = jwt_retire_key.kid) THEN
        RAISE EXCEPTION 'no key in the keyring has kid "%"', kid USING ERRCODE = 'undefined_object';
    END IF;
    RETURN false;   -- already retired
END $$;
COMMENT ON FUNCTION jwt_retire_key(text, interval) IS
'stops a key signing at once and verifying after grace (default: at once); it stays listed';

-- Keyring administration is for the roles a superuser grants it to.
REVOKE ALL ON FUNCTION jwt_generate_key(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION jwt_add_key(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION jwt_import_jwks(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION jwt_retire_key(text, interval) FROM PUBLIC;

-- The public keys of our own signing keys that still verify: never a private member, never a secret.
CREATE FUNCTION jwt_jwks() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('keys', coalesce(jsonb_agg(
               jsonb_strip_nulls(public_jwk || jsonb_build_object('kid', kid, 'alg', alg, 'use', 'sig'))
               ORDER BY created_at DESC, kid), '[]'::jsonb))
    FROM @extschema@.jwt_keys
    WHERE private_key IS NOT NULL AND public_jwk IS NOT NULL
      AND (retired_at IS NULL OR verify_until > now())
$$;

-- The keyring without its secrets.
CREATE VIEW jwt_key_list AS
SELECT kid, alg, kty, origin, created_at, retired_at, verify_until,
       CASE WHEN retired_at IS NULL THEN 'active'
            WHEN verify_until > now() THEN 'retiring'
            ELSE 'retired' END AS state,
       private_key IS NOT NULL AS has_private
FROM jwt_keys;
GRANT SELECT ON jwt_key_list TO PUBLIC;

-- ======================================================================
-- Revocation: by token id and by subject.  Ordinary WAL-logged rows, so
-- revocations survive crashes and reach standbys.  The keys are COLLATE "C":
-- the C lookups compare bytes.
-- ======================================================================
CREATE TABLE jwt_revoked_tokens (
    jti        text COLLATE "C" PRIMARY KEY,
    sub        text,
    revoked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at timestamptz,
    reason     text
);
CREATE INDEX jwt_revoked_tokens_expires_at ON jwt_revoked_tokens (expires_at);
COMMENT ON TABLE jwt_revoked_tokens IS 'jwt: revoked token ids; expires_at is the token''s own expiry, for purging';

CREATE TABLE jwt_revoked_subjects (
    sub            text COLLATE "C" PRIMARY KEY,
    revoked_before timestamptz NOT NULL,
    revoked_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    reason         text
);
COMMENT ON TABLE jwt_revoked_subjects IS 'jwt: every token of sub issued before revoked_before is revoked';

SELECT pg_catalog.pg_extension_config_dump('jwt_revoked_tokens', '');
SELECT pg_catalog.pg_extension_config_dump('jwt_revoked_subjects', '');
REVOKE ALL ON jwt_revoked_tokens, jwt_revoked_subjects FROM PUBLIC;

CREATE FUNCTION jwt_is_revoked(token text) RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_is_revoked'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION jwt_is_revoked(text) IS
'whether the token''s jti or its subject''s cut-off is revoked; the signature is not checked';

CREATE FUNCTION jwt_revoke_jti(jti text, expires_at timestamptz, reason text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF jti IS NULL OR jti = '' THEN
        RAISE EXCEPTION 'jti must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO @extschema@.jwt_revoked_tokens AS t (jti, expires_at, reason)
    VALUES (jwt_revoke_jti.jti, jwt_revoke_jti.expires_at, jwt_revoke_jti.reason)
    ON CONFLICT ON CONSTRAINT jwt_revoked_tokens_pkey DO NOTHING;
    RETURN FOUND;
END $$;
COMMENT ON FUNCTION jwt_revoke_jti(text, timestamptz, text) IS
'revokes a token id; true if it was not revoked already';

CREATE FUNCTION jwt_revoke(token text, reason text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    claims jsonb := (@extschema@.jwt_decode(token)).payload;
BEGIN
    IF jsonb_typeof(claims -> 'jti') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'token has no "jti" claim to revoke'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Revoke every token of its subject with jwt_revoke_subject().';
    END IF;
    INSERT INTO @extschema@.jwt_revoked_tokens AS t (jti, sub, expires_at, reason)
    VALUES (claims ->> 'jti', claims ->> 'sub',
            CASE WHEN jsonb_typeof(claims -> 'exp') = 'number'
                 THEN to_timestamp((claims ->> 'exp')::double precision) END,
            jwt_revoke.reason)
    ON CONFLICT ON CONSTRAINT jwt_revoked_tokens_pkey DO NOTHING;
    RETURN FOUND;
END $$;
COMMENT ON FUNCTION jwt_revoke(text, text) IS
'revokes a token by its jti (the token is decoded, not verified); true if it was not revoked already';

CREATE FUNCTION jwt_revoke_subject(sub text, before timestamptz DEFAULT now(), reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF sub IS NULL OR before IS NULL THEN
        RAISE EXCEPTION 'sub and before must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO @extschema@.jwt_revoked_subjects AS t (sub, revoked_before, reason)
    VALUES (jwt_revoke_subject.sub, jwt_revoke_subject.before, jwt_revoke_subject.reason)
    ON CONFLICT ON CONSTRAINT jwt_revoked_subjects_pkey DO UPDATE
        SET revoked_before = greatest(t.revoked_before, EXCLUDED.revoked_before),
            revoked_at = EXCLUDED.revoked_at,
            reason = coalesce(EXCLUDED.reason, t.reason);
END $$;
COMMENT ON FUNCTION jwt_revoke_subject(text, timestamptz, text) IS
'revokes every token of sub issued (iat) before before';

CREATE FUNCTION jwt_purge_revocations() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- a token is refused once now >= exp + leeway: only then is its entry useless
    horizon timestamptz := now() - current_setting('jwt.leeway')::interval;
    n bigint;
    m bigint := 0;
BEGIN
    DELETE FROM @extschema@.jwt_revoked_tokens WHERE expires_at < horizon;
    GET DIAGNOSTICS n = ROW_COUNT;
    -- a subject cut-off outlives every token it covers only when lifetimes are bounded
    IF current_setting('jwt.max_lifetime')::interval > interval '0' THEN
        DELETE FROM @extschema@.jwt_revoked_subjects
         WHERE revoked_before + current_setting('jwt.max_lifetime')::interval < horizon;
        GET DIAGNOSTICS m = ROW_COUNT;
    END IF;
    RETURN n + m;
END $$;
COMMENT ON FUNCTION jwt_purge_revocations() IS
'drops revocations of tokens that have expired anyway (subject cut-offs only when jwt.max_lifetime is set)';

-- Revoking is for the roles a superuser grants it to.
REVOKE ALL ON FUNCTION jwt_revoke(text, text), jwt_revoke_jti(text, timestamptz, text),
                      jwt_revoke_subject(text, timestamptz, text), jwt_purge_revocations() FROM PUBLIC;

-- ======================================================================
-- Identity for row-level security
-- ======================================================================
CREATE FUNCTION jwt_authenticate(token text) RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_authenticate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION jwt_authenticate(text) IS
'verifies a token (bare or "Bearer <token>") with the keyring, the policy settings and revocation, and makes its claims the current identity';

CREATE FUNCTION jwt_reset() RETURNS void
AS 'MODULE_PATHNAME', 'jwt_reset'
LANGUAGE C VOLATILE;

-- STABLE: constant within a statement.
CREATE FUNCTION jwt_claims() RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_claims'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jwt_claim(name text) RETURNS text
AS 'MODULE_PATHNAME', 'jwt_claim'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION jwt_claim_uuid(name text) RETURNS uuid
AS 'MODULE_PATHNAME', 'jwt_claim_uuid'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION jwt_claim_bigint(name text) RETURNS bigint
AS 'MODULE_PATHNAME', 'jwt_claim_bigint'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION jwt_claim_boolean(name text) RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_claim_boolean'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION jwt_claim_array(name text) RETURNS text[]
AS 'MODULE_PATHNAME', 'jwt_claim_array'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- PostgREST's db-pre-request: authenticate the request's bearer token.  A
-- token failure becomes HTTP 401 with a WWW-Authenticate header, through
-- PostgREST's documented RAISE SQLSTATE 'PGRST' convention (PostgREST 11+).
CREATE FUNCTION jwt_postgrest_pre_request() RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    auth_header text := current_setting('request.headers', true)::json ->> 'authorization';
    message text;
    detail text;
BEGIN
    IF auth_header IS NULL THEN
        RETURN;     -- an anonymous request: PostgREST's anonymous role applies
    END IF;
    PERFORM @extschema@.jwt_authenticate(auth_header);
EXCEPTION WHEN invalid_authorization_specification OR data_exception THEN
    -- token failures only (class 28, and 22J*); a misconfigured key stays a server error
    IF SQLSTATE NOT LIKE '28%' AND SQLSTATE NOT LIKE '22J%' THEN
        RAISE;
    END IF;
    GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    RAISE SQLSTATE 'PGRST'
        USING MESSAGE = json_build_object('code', SQLSTATE, 'message', message,
                                          'details', nullif(detail, ''), 'hint', NULL)::text,
              DETAIL = json_build_object('status', 401, 'headers', json_build_object(
                           'WWW-Authenticate', 'Bearer error="invalid_token"'))::text;
END $$;
