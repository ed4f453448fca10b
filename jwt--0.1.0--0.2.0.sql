-- jwt 0.1.0 -> 0.2.0
\echo Use "ALTER EXTENSION jwt UPDATE TO '0.2.0'" to load this file. \quit

-- ======================================================================
-- Revocation lookups go through hash indexes on the keys: a probe reads one
-- bucket page and compares hash codes, where the primary key's B-tree
-- descends several levels comparing text.  The primary keys stay: they keep
-- the ids unique for jwt_revoke's upserts.
-- ======================================================================
CREATE INDEX jwt_revoked_tokens_jti_hash ON jwt_revoked_tokens USING hash (jti);
CREATE INDEX jwt_revoked_subjects_sub_hash ON jwt_revoked_subjects USING hash (sub);

-- ======================================================================
-- Every change to a revocation list tells every backend (and, through WAL,
-- every hot standby) at commit, as jwt_keys' trigger does for the keyring:
-- a backend that found a list empty skips probing it until then.  Row
-- triggers, because logical replication's apply fires row triggers only;
-- ENABLE ALWAYS, because it runs in replica mode.  (TRUNCATE gives a table a
-- new file, which invalidates it anyway.)  jwt_keys gets one too: a retirement
-- applied by logical replication must reach the subscriber's sessions.
-- ======================================================================
CREATE FUNCTION jwt_revocations_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'jwt_keyring_changed'
LANGUAGE C;
REVOKE ALL ON FUNCTION jwt_revocations_changed() FROM PUBLIC;
CREATE TRIGGER jwt_revoked_tokens_changed
    AFTER INSERT OR UPDATE OR DELETE ON jwt_revoked_tokens
    FOR EACH ROW EXECUTE FUNCTION jwt_revocations_changed();
CREATE TRIGGER jwt_revoked_subjects_changed
    AFTER INSERT OR UPDATE OR DELETE ON jwt_revoked_subjects
    FOR EACH ROW EXECUTE FUNCTION jwt_revocations_changed();
CREATE TRIGGER jwt_keys_changed_rows
    AFTER INSERT OR UPDATE OR DELETE ON jwt_keys
    FOR EACH ROW EXECUTE FUNCTION jwt_keyring_changed();
ALTER TABLE jwt_revoked_tokens ENABLE ALWAYS TRIGGER jwt_revoked_tokens_changed;
ALTER TABLE jwt_revoked_subjects ENABLE ALWAYS TRIGGER jwt_revoked_subjects_changed;
ALTER TABLE jwt_keys ENABLE ALWAYS TRIGGER jwt_keys_changed_rows;

-- ======================================================================
-- RFC 9864's fully-specified EdDSA names, Ed25519 and Ed448, may name a
-- keyring key's algorithm too.
-- ======================================================================
ALTER TABLE jwt_keys DROP CONSTRAINT jwt_keys_alg_check;
ALTER TABLE jwt_keys ADD CONSTRAINT jwt_keys_alg_check
    CHECK (alg IN ('HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
                   'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'Ed448'));

-- ======================================================================
-- Revocation that must not be undone (issue 12 items 1-5, 17): policy is
-- read in C, never from a setting a session can set; nothing is purged
-- that could still cover an unexpired token.
-- ======================================================================

-- The cut-off jwt_revoke_subject sets when given none: this moment, and
-- later than every iat this backend has handed out in the statement (a
-- token signed before the call is revoked even within a microsecond).
-- Internal: jwt_revoke_subject, running as its owner, calls it.
CREATE FUNCTION jwt_revocation_cutoff() RETURNS timestamptz
AS 'MODULE_PATHNAME', 'jwt_revocation_cutoff'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION jwt_revocation_cutoff() FROM PUBLIC;

-- A revoked id or subject is at most 1024 bytes (revocation.h's
-- JWT_REVOCABLE_MAX): the keys are indexed, and a token whose key could not
-- be stored could not be revoked; verification refuses such tokens (22J06).
-- A token id revoked twice keeps the later expiry (NULL: never expires), so
-- that a purge keeps it for every token that carries it.
CREATE OR REPLACE FUNCTION jwt_revoke_jti(jti text, expires_at timestamptz, reason text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF jti IS NULL OR jti = '' THEN
        RAISE EXCEPTION 'jti must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF octet_length(jti) > 1024 THEN
        RAISE EXCEPTION 'jti is too long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A token id longer than 1024 bytes cannot be revoked; such tokens are refused.';
    END IF;
    LOOP
        INSERT INTO @extschema@.jwt_revoked_tokens AS t (jti, expires_at, reason)
        VALUES (jwt_revoke_jti.jti, jwt_revoke_jti.expires_at, jwt_revoke_jti.reason)
        ON CONFLICT ON CONSTRAINT jwt_revoked_tokens_pkey DO NOTHING;
        IF FOUND THEN
            RETURN true;
        END IF;
        UPDATE @extschema@.jwt_revoked_tokens AS t SET expires_at = jwt_revoke_jti.expires_at
         WHERE t.jti = jwt_revoke_jti.jti AND t.expires_at IS NOT NULL
           AND (jwt_revoke_jti.expires_at IS NULL OR t.expires_at < jwt_revoke_jti.expires_at);
        IF FOUND THEN
            RETURN false;
        END IF;
        PERFORM FROM @extschema@.jwt_revoked_tokens AS t WHERE t.jti = jwt_revoke_jti.jti;
        IF FOUND THEN
            RETURN false;
        END IF;
        -- purged meanwhile: insert again
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION jwt_revoke(token text, reason text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    claims jsonb := (@extschema@.jwt_decode(token)).payload;
    expires timestamptz;
BEGIN
    IF jsonb_typeof(claims -> 'jti') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'token has no "jti" claim to revoke'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Revoke every token of its subject with jwt_revoke_subject().';
    END IF;
    IF octet_length(claims ->> 'jti') > 1024 THEN
        RAISE EXCEPTION 'jti is too long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A token id longer than 1024 bytes cannot be revoked; such tokens are refused.';
    END IF;
    IF jsonb_typeof(claims -> 'exp') = 'number' THEN
        expires := to_timestamp((claims ->> 'exp')::double precision);
    END IF;
    LOOP
        INSERT INTO @extschema@.jwt_revoked_tokens AS t (jti, sub, expires_at, reason)
        VALUES (claims ->> 'jti', claims ->> 'sub', expires, jwt_revoke.reason)
        ON CONFLICT ON CONSTRAINT jwt_revoked_tokens_pkey DO NOTHING;
        IF FOUND THEN
            RETURN true;
        END IF;
        UPDATE @extschema@.jwt_revoked_tokens AS t SET expires_at = expires
         WHERE t.jti = claims ->> 'jti' AND t.expires_at IS NOT NULL
           AND (expires IS NULL OR t.expires_at < expires);
        IF FOUND THEN
            RETURN false;
        END IF;
        PERFORM FROM @extschema@.jwt_revoked_tokens AS t WHERE t.jti = claims ->> 'jti';
        IF FOUND THEN
            RETURN false;
        END IF;
    END LOOP;
END $$;

-- Without before (or with NULL), the cut-off is the moment of the call, not
-- the transaction's start: a token issued by any session before the call
-- returns is revoked, one jwt_sign issues after it (even in the same
-- statement) is not: see jwt_revocation_issue_time() in revocation.c.
CREATE OR REPLACE FUNCTION jwt_revoke_subject(sub text, before timestamptz DEFAULT NULL, reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF sub IS NULL THEN
        RAISE EXCEPTION 'sub must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF octet_length(sub) > 1024 THEN
        RAISE EXCEPTION 'sub is too long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A subject longer than 1024 bytes cannot be revoked; such tokens are refused.';
    END IF;
    IF before IS NULL THEN
        before := @extschema@.jwt_revocation_cutoff();
    END IF;
    INSERT INTO @extschema@.jwt_revoked_subjects AS t (sub, revoked_before, reason)
    VALUES (jwt_revoke_subject.sub, jwt_revoke_subject.before, jwt_revoke_subject.reason)
    ON CONFLICT ON CONSTRAINT jwt_revoked_subjects_pkey DO UPDATE
        SET revoked_before = greatest(t.revoked_before, EXCLUDED.revoked_before),
            revoked_at = EXCLUDED.revoked_at,
            reason = coalesce(EXCLUDED.reason, t.reason);
END $$;
COMMENT ON FUNCTION jwt_revoke_subject(text, timestamptz, text) IS
'revokes every token of sub issued (iat) before before (default: the moment of the call)';

-- The purge reads no setting: jwt.leeway and jwt.max_lifetime are policy a
-- session must not choose for rows every session relies on, and a
-- placeholder set before the library is loaded would be read as such.  A
-- revoked id is dropped once its token has been expired for longer than
-- the largest leeway jwt.leeway admits (one day), so no leeway setting can
-- make it verify again.  Subject cut-offs are never dropped: a token without
-- iat is covered by every cut-off of its subject whatever its exp, and one
-- without exp (jwt.require_exp = off) forever, and no setting refuses
-- either for every caller; the table holds one row per subject.
CREATE OR REPLACE FUNCTION jwt_purge_revocations() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM @extschema@.jwt_revoked_tokens WHERE expires_at < now() - interval '1 day';
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION jwt_purge_revocations() IS
'drops revoked ids of tokens expired for more than a day (the largest jwt.leeway); subject cut-offs stay';

-- (end of the revocation section)

-- ======================================================================
-- The keyring takes providers' keys as verification keys only (issue 12
-- items 20, 22-24): no private member or secret is imported, signed with
-- or republished.
-- ======================================================================

-- A key's row identity is bound into its envelope (item 23): the describe row
-- carries the created_at the material was sealed for, and the row is stored
-- with exactly that created_at.
DROP FUNCTION _jwt_key_describe(bytea, boolean, text, text);
CREATE FUNCTION _jwt_key_describe(material bytea, is_secret boolean, alg text, kid text,
                                  OUT kid text, OUT alg text, OUT kty text,
                                  OUT public_jwk jsonb, OUT private_key bytea,
                                  OUT created_at timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'jwt_key_describe_internal'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION _jwt_key_describe(bytea, boolean, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION _jwt_store_key(r record, key_origin text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF length(r.kid) NOT BETWEEN 1 AND 256 THEN
        RAISE EXCEPTION 'a kid must be 1 to 256 characters long' USING ERRCODE = 'check_violation';
    END IF;
    BEGIN
        INSERT INTO @extschema@.jwt_keys (kid, alg, kty, public_jwk, private_key, origin, created_at)
        VALUES (r.kid, r.alg, r.kty, r.public_jwk, r.private_key, key_origin, r.created_at);
    EXCEPTION
        WHEN unique_violation THEN
            RAISE EXCEPTION 'a key with kid "%" already exists in the keyring', r.kid
                USING ERRCODE = 'unique_violation';
        -- the constraint's own detail would print the failing row, private key included
        WHEN check_violation OR not_null_violation THEN
            RAISE EXCEPTION 'the key cannot be stored in the keyring' USING ERRCODE = SQLSTATE;
    END;
    RETURN r.kid;
END $$;

-- A provider's key set holds public keys to verify its tokens with (item 20).
-- A private member or a shared secret in it is a leak: anyone who read the
-- set can sign.  Refuse the whole set; never store, sign with or republish it.
CREATE OR REPLACE FUNCTION jwt_import_jwks(jwks jsonb) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k jsonb;
    i bigint;
    r record;
    n integer := 0;
BEGIN
    IF jsonb_typeof(jwks) IS DISTINCT FROM 'object' OR jsonb_typeof(jwks -> 'keys') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'a JWKS is a JSON object with a "keys" array' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- every key first, encryption keys too: a set that leaks one key is refused whole
    FOR k, i IN SELECT value, ordinality FROM jsonb_array_elements(jwks -> 'keys') WITH ORDINALITY LOOP
        IF jsonb_typeof(k) = 'object' AND k ->> 'kty' = 'oct' THEN
            RAISE EXCEPTION 'key % of the JWKS is a shared secret (kty "oct")', i
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'A secret published in a key set lets anyone who read it sign tokens.',
                      HINT = 'Add a shared secret with jwt_add_key().';
        END IF;
        IF jsonb_typeof(k) = 'object' AND k ?| ARRAY['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] THEN
            RAISE EXCEPTION 'key % of the JWKS has private key members', i
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'A JWKS to import holds public keys only: whoever published this one leaked its private keys.',
                      HINT = 'Add a key of your own with jwt_add_key() or jwt_generate_key().';
        END IF;
    END LOOP;
    FOR k IN SELECT value FROM jsonb_array_elements(jwks -> 'keys') LOOP
        -- providers publish encryption keys beside signing keys: they are not ours to use
        CONTINUE WHEN coalesce(k ->> 'use', 'sig') <> 'sig';
        -- and keys whose key_ops do not allow verifying (RFC 7517 4.3)
        CONTINUE WHEN jsonb_typeof(k -> 'key_ops') = 'array' AND NOT (k -> 'key_ops') ? 'verify';
        SELECT * INTO STRICT r FROM @extschema@._jwt_key_describe(convert_to(k::text, 'UTF8'), false, NULL, NULL);
        IF r.private_key IS NOT NULL OR r.kty = 'oct' THEN   -- whatever spelling got past the checks above
            RAISE EXCEPTION 'key "%" of the JWKS is not a public key', r.kid
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF EXISTS (SELECT 1 FROM @extschema@.jwt_keys WHERE jwt_keys.kid = r.kid AND origin <> 'jwks') THEN
            RAISE EXCEPTION 'kid "%" belongs to a key that was not imported from a JWKS', r.kid
                USING ERRCODE = 'unique_violation';
        END IF;
        INSERT INTO @extschema@.jwt_keys AS t (kid, alg, kty, public_jwk, private_key, origin)
        VALUES (r.kid, r.alg, r.kty, r.public_jwk, NULL, 'jwks')
        ON CONFLICT (kid) DO UPDATE
            SET alg = EXCLUDED.alg, kty = EXCLUDED.kty, public_jwk = EXCLUDED.public_jwk,
                private_key = NULL;
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
COMMENT ON FUNCTION jwt_import_jwks(jsonb) IS
'loads the public signing keys of a provider''s JWKS into the keyring, to verify with only; refuses private members and secrets; returns how many';

-- An HMAC secret's default kid is random (item 22): its thumbprint is a hash of the secret.
COMMENT ON FUNCTION jwt_generate_key(text, text) IS
'creates a key in the keyring and returns its kid (unless given: the RFC 7638 thumbprint, random for HMAC secrets)';
COMMENT ON FUNCTION jwt_add_key(text, text, text) IS
'adds a PEM key, a JWK or an HMAC secret to the keyring and returns its kid (unless given: the JWK''s, else the RFC 7638 thumbprint, random for HMAC secrets)';

-- Our own keys only: never a key imported from a provider, whatever its row holds.
CREATE OR REPLACE FUNCTION jwt_jwks() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('keys', coalesce(jsonb_agg(
               jsonb_strip_nulls(public_jwk || jsonb_build_object('kid', kid, 'alg', alg, 'use', 'sig'))
               ORDER BY created_at DESC, kid), '[]'::jsonb))
    FROM @extschema@.jwt_keys
    WHERE private_key IS NOT NULL AND public_jwk IS NOT NULL AND origin <> 'jwks'
      AND (retired_at IS NULL OR verify_until > now())
$$;

-- Seal what is not sealed for its row yet (item 23): plain private material
-- stored before a key-encryption key was set, and 0.1.0 envelopes, which bind
-- the kid only.
CREATE FUNCTION _jwt_key_seal(kid text, alg text, kty text, created_at timestamptz, private_key bytea)
RETURNS bytea
AS 'MODULE_PATHNAME', 'jwt_key_seal_internal'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION _jwt_key_seal(text, text, text, timestamptz, bytea) FROM PUBLIC;

CREATE FUNCTION jwt_seal_keys() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    -- every sealed key must open under the current key first: sealing the
    -- others under another key would leave a keyring no one key opens
    PERFORM @extschema@._jwt_key_seal(t.kid, t.alg, t.kty, t.created_at, t.private_key)
       FROM @extschema@.jwt_keys AS t
      WHERE substring(t.private_key FROM 1 FOR 8) = 'JWTKEK2:'::bytea;
    UPDATE @extschema@.jwt_keys AS t
       SET private_key = @extschema@._jwt_key_seal(t.kid, t.alg, t.kty, t.created_at, t.private_key)
     WHERE t.private_key IS NOT NULL
       AND substring(t.private_key FROM 1 FOR 8) IS DISTINCT FROM 'JWTKEK2:'::bytea;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION jwt_seal_keys() IS
'seals every private key and secret of the keyring under jwt.key_encryption_key, bound to its row; returns how many it rewrote';
REVOKE ALL ON FUNCTION jwt_seal_keys() FROM PUBLIC;

-- Keys imported before 0.2.0 may hold a provider's private material: from
-- now on they only verify.  Say so once, at the update.
DO $$
DECLARE
    n bigint;
BEGIN
    SELECT count(*) INTO n FROM @extschema@.jwt_keys WHERE origin = 'jwks' AND private_key IS NOT NULL;
    IF n > 0 THEN
        RAISE WARNING '% key(s) imported from a JWKS hold private material: they no longer sign and are no longer published', n
            USING HINT = 'The provider leaked them: delete them from jwt_keys and re-import its public keys.';
    END IF;
END $$;

-- (end of the keyring section)

-- ======================================================================
-- PostgREST's pre-request helper authenticates exactly the token PostgREST
-- verified (issue 13 items 1-4).
-- ======================================================================

-- The claims as PostgREST 11/12 puts them in request.jwt.claims: it re-encodes
-- them through the jose library's ClaimsSet, which writes a one-element "aud"
-- array as its string and drops registered claims whose value is null; "role"
-- is left out (PostgREST rewrites it to the role it chose).
CREATE FUNCTION _jwt_postgrest_claims(claims jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(jsonb_object_agg(k, CASE WHEN k = 'aud' AND jsonb_typeof(v) = 'array'
                                                  AND jsonb_array_length(v) = 1
                                             THEN v -> 0 ELSE v END), '{}')
    FROM jsonb_each(claims - 'role') AS e(k, v)
    WHERE NOT (k IN ('iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti') AND v = 'null')
$$;
COMMENT ON FUNCTION _jwt_postgrest_claims(jsonb) IS
'claims as PostgREST re-encodes them (one-element aud array as a string, null registered claims dropped), without role';

-- A request without a token, or with a verified token naming no role, must
-- run as PostgREST's anonymous role: jwt.anonymous_role (read by the caller
-- after the library loaded).  Unset, the helper cannot tell that role from one
-- a token named, so only the connection's own role (no switch) is let through.
CREATE FUNCTION _jwt_postgrest_anonymous(anonymous_role text, running_as text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF anonymous_role IS NULL THEN
        IF running_as = session_user THEN
            RETURN;
        END IF;
        RAISE SQLSTATE '55000' USING
            MESSAGE = 'jwt_postgrest_pre_request: jwt.anonymous_role is not set',
            DETAIL = 'Without it a request with no token, or with a token naming no role, cannot be told from one whose role a token chose.',
            HINT = 'As a superuser: ALTER DATABASE ... SET jwt.anonymous_role = PostgREST''s db-anon-role.';
    ELSIF running_as <> anonymous_role THEN
        RAISE SQLSTATE '28JP2' USING MESSAGE = 'request does not run as the anonymous role';
    END IF;
END $$;

-- PostgREST verifies the first Authorization header and switches to the role
-- it names; request.headers keeps the last one.  So the helper authenticates
-- the bearer token of request.headers and then refuses (HTTP 401) unless that
-- token is the one PostgREST verified: the same claims as request.jwt.claims
-- (as jsonb, as PostgREST re-encodes them, apart from "role", which it
-- rewrites), and current_user the role the token names (jwt.role_claim, else
-- "role"; jwt.anonymous_role for a token that names none).  An Authorization
-- header that is not a bearer token (empty included) is refused; a request
-- without one must run as jwt.anonymous_role.  The client sees the refusal's
-- SQLSTATE and message; the detail (which may name the configured audience or
-- issuer) goes to the server log only.
CREATE OR REPLACE FUNCTION jwt_postgrest_pre_request() RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    headers_text text := current_setting('request.headers', true);
    claims_text text := current_setting('request.jwt.claims', true);
    -- the role PostgREST switched to, before jwt_authenticate may switch
    postgrest_role text := current_user;
    postgrest_claims jsonb;
    postgrest_verified boolean := false;   -- PostgREST verified a token
    anonymous_role text;
    role_claim text;
    headers jsonb;
    auth jsonb;
    token text;
    verified jsonb;
    named_role text;
    state text;
    message text;
    detail text;
BEGIN
    -- Forget the identity of an earlier request on this connection (with
    -- jwt.session_identity on it would outlive its transaction).  This also
    -- loads the library, so the jwt.* settings read below are the real ones:
    -- a placeholder a session set before the library loaded is dropped then.
    PERFORM @extschema@.jwt_reset();
    anonymous_role := nullif(current_setting('jwt.anonymous_role'), '');
    role_claim := coalesce(nullif(current_setting('jwt.role_claim'), ''), 'role');
    BEGIN
        -- what PostgREST verified: its claims, "role" aside
        IF coalesce(claims_text, '') <> '' THEN
            BEGIN
                postgrest_claims := claims_text::jsonb;
            EXCEPTION WHEN data_exception THEN
                postgrest_claims := NULL;
            END;
            IF jsonb_typeof(postgrest_claims) IS DISTINCT FROM 'object' THEN
                RAISE SQLSTATE '28JP4' USING MESSAGE = 'request.jwt.claims is not a JSON object';
            END IF;
            postgrest_verified := (postgrest_claims - 'role') <> '{}';
        END IF;

        -- the headers: PostgREST sets them as a JSON object, names in lower case
        IF coalesce(headers_text, '') = '' THEN
            IF postgrest_verified THEN
                RAISE SQLSTATE '28JP4' USING MESSAGE = 'request.headers is not set';
            END IF;
            RAISE SQLSTATE '55000' USING
                MESSAGE = 'request.headers is not set',
                HINT = 'jwt_postgrest_pre_request() is PostgREST''s db-pre-request; elsewhere call jwt_authenticate(token).';
        END IF;
        BEGIN
            headers := headers_text::jsonb;
        EXCEPTION WHEN data_exception THEN
            headers := NULL;
        END;
        IF jsonb_typeof(headers) IS DISTINCT FROM 'object' THEN
            IF postgrest_verified OR headers_text ILIKE '%authorization%' THEN
                RAISE SQLSTATE '28JP4' USING MESSAGE = 'request.headers is not a JSON object';
            END IF;
            RAISE SQLSTATE '22023' USING
                MESSAGE = 'request.headers is not a JSON object',
                HINT = 'jwt_postgrest_pre_request() is PostgREST''s db-pre-request; elsewhere call jwt_authenticate(token).';
        END IF;

        auth := headers -> 'authorization';
        IF auth IS NULL THEN
            -- anonymous: PostgREST must have verified nothing either ...
            IF postgrest_verified THEN
                RAISE SQLSTATE '28JP1' USING MESSAGE = 'token is not the one PostgREST verified';
            END IF;
            -- ... and the request runs as the anonymous role: a token with only
            -- a "role" claim looks anonymous in request.jwt.claims
            IF postgrest_claims ->> 'role' <> postgrest_role THEN
                RAISE SQLSTATE '28JP2' USING MESSAGE = 'request does not run as the role PostgREST chose';
            END IF;
            PERFORM @extschema@._jwt_postgrest_anonymous(anonymous_role, postgrest_role);
            RETURN;
        END IF;
        -- an empty header (a second "Authorization:" hides the first) or a non-string is no bearer token
        IF jsonb_typeof(auth) = 'string' THEN
            -- RFC 6750: "Bearer", in any case (as PostgREST), then the token alone
            token := (regexp_match(auth #>> '{}', '^[ \t]*bearer[ \t]+([^ \t]+)[ \t]*$', 'i'))[1];
        END IF;
        IF token IS NULL THEN
            RAISE SQLSTATE '28JP3' USING MESSAGE = 'authorization is not a bearer token';
        END IF;
        -- jwt.require_forwarded_https: a token that came over plain HTTP is refused (and revoked
        -- when jwt.revoke_exposed_tokens is on); the setting is read in C
        IF NOT @extschema@._jwt_forwarded_https_ok(headers ->> 'x-forwarded-proto') THEN
            PERFORM @extschema@._jwt_revoke_exposed(token);
            RAISE SQLSTATE '28JT2' USING MESSAGE = 'bearer token refused: the request did not come over HTTPS';
        END IF;

        verified := @extschema@.jwt_authenticate(token);

        IF postgrest_claims IS NOT NULL AND @extschema@._jwt_postgrest_claims(postgrest_claims)
                                            <> @extschema@._jwt_postgrest_claims(verified) THEN
            RAISE SQLSTATE '28JP1' USING MESSAGE = 'token is not the one PostgREST verified';
        END IF;
        IF postgrest_claims ->> 'role' <> postgrest_role THEN
            RAISE SQLSTATE '28JP2' USING MESSAGE = 'request does not run as the role the token names';
        END IF;
        named_role := verified ->> role_claim;
        IF named_role IS NULL THEN
            -- a token naming no role: PostgREST's anonymous role, never the one
            -- request.jwt.claims names (that is whatever the first header said)
            PERFORM @extschema@._jwt_postgrest_anonymous(anonymous_role, postgrest_role);
        ELSIF named_role <> postgrest_role THEN
            RAISE SQLSTATE '28JP2' USING MESSAGE = 'request does not run as the role the token names';
        END IF;
    EXCEPTION WHEN invalid_authorization_specification OR data_exception THEN
        -- token failures only (class 28, and 22J*); a misconfigured key stays a server error
        IF SQLSTATE NOT LIKE '28%' AND SQLSTATE NOT LIKE '22J%' THEN
            RAISE;
        END IF;
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
        -- the detail may name configuration (the expected audience, issuer): the server log only
        IF detail <> '' THEN
            RAISE LOG 'jwt_postgrest_pre_request: % (%): %', message, state, detail;
        END IF;
        RAISE SQLSTATE 'PGRST'
            USING MESSAGE = json_build_object('code', state, 'message', message,
                                              'details', NULL, 'hint', NULL)::text,
                  DETAIL = json_build_object('status', 401, 'headers', json_build_object(
                               'WWW-Authenticate', CASE WHEN state = '28JP3'
                                   THEN 'Bearer error="invalid_request"'
                                   WHEN state IN ('28JT1', '28JT2')
                                   THEN 'Bearer error="invalid_request", error_description="HTTPS required"'
                                   ELSE 'Bearer error="invalid_token"' END))::text;
    END;
END $$;

-- (end of the PostgREST section)

-- ======================================================================
-- Transport (issue 19): no bearer token over an unencrypted connection.
-- jwt.require_secure_transport (off, remote, always) is enforced in C by
-- jwt_authenticate; this is the same rule for any connection, for tests.
-- ======================================================================
CREATE FUNCTION _jwt_transport_allowed(mode text, unix_socket boolean, tls boolean, client inet)
RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_transport_allowed_sql'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION _jwt_transport_allowed(text, boolean, boolean, inet) IS
'whether jwt.require_secure_transport = mode lets a connection of this kind carry a bearer token';

CREATE FUNCTION _jwt_forwarded_https_ok(x_forwarded_proto text) RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_forwarded_https_ok'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION _jwt_forwarded_https_ok(text) IS
'false when jwt.require_forwarded_https is on and X-Forwarded-Proto is not https on every hop';

-- Revokes the token only if its signature verifies and jwt.revoke_exposed_tokens is on.
CREATE FUNCTION _jwt_revoke_exposed(token text) RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_revoke_exposed'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION _jwt_revoke_exposed(text) IS
'revokes a token seen over plain HTTP (by jti, else by digest) when jwt.revoke_exposed_tokens is on';

-- ======================================================================
-- Impersonation (issue 16): jwt_impersonate(claims) sets the identity as
-- jwt_authenticate() would (scope, role switch), for tests of row-level
-- security, marked in jwt.impersonated_by (PGC_SUSET, set from C only).
-- ======================================================================

-- Impersonating anyone reads what anyone may read: it needs EXECUTE on this
-- function (or superuser), which PUBLIC does not have.
CREATE FUNCTION jwt_impersonator() RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT true';
COMMENT ON FUNCTION jwt_impersonator() IS
'GRANT EXECUTE on this function to the roles that may impersonate an identity with jwt_impersonate()';
REVOKE ALL ON FUNCTION jwt_impersonator() FROM PUBLIC;

-- Checks the grant above in C; logs each use (the role and the claims' sub).
CREATE FUNCTION jwt_impersonate(claims jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_impersonate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION jwt_impersonate(jsonb) IS
'makes claims the current identity without a token, as jwt_authenticate would (for superusers and roles granted jwt_impersonator())';

-- STABLE like jwt_claims(): constant within a statement.
CREATE FUNCTION jwt_identity(OUT authenticated boolean, OUT impersonated boolean,
                             OUT impersonated_by text, OUT claims jsonb)
RETURNS record
AS 'MODULE_PATHNAME', 'jwt_identity'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION jwt_identity() IS
'the current identity and where it comes from: a verified token (authenticated) or jwt_impersonate (impersonated, by whom)';

-- (end of the impersonation section)

-- ---------------------------------------------------------------------------
-- Issuers: issuer-bound keys, key states and rotation, JWKS fetched from URLs.
-- ---------------------------------------------------------------------------

-- (end of the issuers section)


-- ---------------------------------------------------------------------------
-- Sessions: refresh-token rotation with reuse detection, single-use tokens.
-- ---------------------------------------------------------------------------

-- (end of the sessions section)


-- ---------------------------------------------------------------------------
-- DPoP (RFC 9449): proofs of possession and sender-constrained tokens.
-- ---------------------------------------------------------------------------

-- (end of the DPoP section)


-- ---------------------------------------------------------------------------
-- Statistics and authentication logging.
-- ---------------------------------------------------------------------------

-- (end of the statistics section)


-- ---------------------------------------------------------------------------
-- Verified-token cache.
-- ---------------------------------------------------------------------------

-- This backend's verified-token cache: counts only, no token.
CREATE FUNCTION jwt_token_cache_stats(OUT entries integer, OUT bytes bigint, OUT hits bigint,
                                      OUT misses bigint, OUT stores bigint, OUT evictions bigint,
                                      OUT flushes bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'jwt_token_cache_stats_sql'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

-- (end of the token cache section)
