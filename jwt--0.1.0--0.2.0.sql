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
    -- sessions, ended sessions and consumed ids (the sessions section)
    n := n + @extschema@._jwt_purge_sessions();
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

-- A provider's key set is refused whole if it holds a private member or a
-- secret (item 20): jwt_import_jwks checks it with _jwt_jwks_keys (issuers section).

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
-- In C (postgrest.c): as an SQL function it was parsed and planned again on
-- every request, a fifth of the helper's time.
CREATE FUNCTION _jwt_postgrest_claims(claims jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_postgrest_claims'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
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
-- The error_description of a refused token, by SQLSTATE: fixed text, so
-- that nothing of the token reaches the header (and no quote breaks it).
CREATE FUNCTION _jwt_error_description(state text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN state LIKE '22J%' THEN 'The token is malformed'
                ELSE coalesce((SELECT d.text FROM (VALUES ('28J01', 'The token has expired'), ('28J02', 'The token is not valid yet'),
                       ('28J03', 'The token signature is invalid'), ('28J04', 'The token has been revoked'),
                       ('28J05', 'The token audience is not accepted'), ('28J06', 'The token issuer is not accepted'),
                       ('28J07', 'The token algorithm is not accepted'), ('28J08', 'The token lacks a required claim'),
                       ('28J09', 'The token was issued in the future'), ('28J0A', 'The token is too old'),
                       ('28J0B', 'The token subject is not accepted'), ('28J0C', 'The token type is not accepted'),
                       ('28J0D', 'No key verifies the token'),
                       ('28JR1', 'The token names a role that cannot be used'),
                       ('28JP1', 'The token is not the one that was verified'),
                       ('28JP2', 'The request does not run as the token''s role'),
                       ('28JP4', 'The request could not be read')) AS d(code, text)
                WHERE d.code = state), 'The token was refused') END
$$;

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
    token_cookie text;
    headers jsonb;
    auth jsonb;
    token text;
    scheme text;
    scheme_token text[];
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
    token_cookie := nullif(current_setting('jwt.token_cookie'), '');
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
        -- jwt.token_cookie: a token in that cookie (an HttpOnly cookie a browser
        -- sends), for a request without an Authorization header.  PostgREST
        -- verifies the header only, so the header wins; a cookie token is
        -- verified here alone and makes the request's role from anonymous.
        IF auth IS NULL AND token_cookie IS NOT NULL
           AND coalesce(current_setting('request.cookies', true), '') NOT IN ('', '{}') THEN
            BEGIN
                token := current_setting('request.cookies', true)::jsonb ->> token_cookie;
            EXCEPTION WHEN data_exception THEN
                RAISE SQLSTATE '28JP4' USING MESSAGE = 'request.cookies is not a JSON object';
            END;
            IF token IS NOT NULL THEN
                IF postgrest_verified OR postgrest_claims ->> 'role' <> postgrest_role THEN
                    RAISE SQLSTATE '28JP1' USING MESSAGE = 'token is not the one PostgREST verified';
                END IF;
                -- PostgREST chose its anonymous role: the cookie's token chooses now
                PERFORM @extschema@._jwt_postgrest_anonymous(anonymous_role, postgrest_role);
                IF token !~ '^[A-Za-z0-9_.-]+$' THEN
                    RAISE SQLSTATE '28JP3' USING MESSAGE = 'the token cookie does not hold a token';
                END IF;
                IF NOT @extschema@._jwt_forwarded_https_ok(headers ->> 'x-forwarded-proto') THEN
                    PERFORM @extschema@._jwt_revoke_exposed(token);
                    RAISE SQLSTATE '28JT2' USING MESSAGE = 'bearer token refused: the request did not come over HTTPS';
                END IF;
                -- jwt_authenticate switches to the role jwt.role_claim names
                verified := @extschema@.jwt_authenticate(token);
                named_role := coalesce(@extschema@._jwt_token_role(verified),
                                       CASE WHEN current_setting('jwt.role_claim') = '' THEN verified ->> 'role' END);
                IF named_role IS NULL THEN
                    PERFORM @extschema@._jwt_postgrest_anonymous(anonymous_role, current_user);
                ELSIF named_role <> current_user THEN
                    -- jwt.role_claim is empty: the database switched no role
                    RAISE SQLSTATE '28JP2' USING MESSAGE = 'request does not run as the role the token names';
                END IF;
                RETURN;
            END IF;
        END IF;
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
            -- RFC 6750: "Bearer", in any case (as PostgREST), then the token alone;
            -- RFC 9449: "DPoP" for a token bound to a key (see the DPoP section)
            scheme_token := regexp_match(auth #>> '{}', '^[ \t]*(bearer|dpop)[ \t]+([^ \t]+)[ \t]*$', 'i');
            scheme := lower(scheme_token[1]);
            token := scheme_token[2];
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

        IF scheme = 'dpop' THEN   -- RFC 9449, see the DPoP section
            PERFORM @extschema@._jwt_postgrest_dpop(token, headers ->> 'dpop', postgrest_verified, anonymous_role, postgrest_role);
            RETURN;
        END IF;
        verified := @extschema@.jwt_authenticate('Bearer ' || token, NULL, NULL, NULL);   -- a DPoP-bound one: 28JDD

        IF postgrest_claims IS NOT NULL AND @extschema@._jwt_postgrest_claims(postgrest_claims)
                                            <> @extschema@._jwt_postgrest_claims(verified) THEN
            RAISE SQLSTATE '28JP1' USING MESSAGE = 'token is not the one PostgREST verified';
        END IF;
        IF postgrest_claims ->> 'role' <> postgrest_role THEN
            RAISE SQLSTATE '28JP2' USING MESSAGE = 'request does not run as the role the token names';
        END IF;
        -- jwt.role_claim: a claim name or PostgREST's JSPath, as jwt_authenticate read it
        named_role := coalesce(@extschema@._jwt_token_role(verified),
                               CASE WHEN current_setting('jwt.role_claim') = '' THEN verified ->> 'role' END);
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
        -- RFC 6750 3: error_description is fixed text per SQLSTATE, never the
        -- message (which may quote a kid or a role from the token)
        RAISE SQLSTATE 'PGRST'
            USING MESSAGE = json_build_object('code', state, 'message', message,
                                              'details', NULL, 'hint', NULL)::text,
                  DETAIL = json_build_object('status', 401, 'headers', json_build_object(
                               'WWW-Authenticate', CASE WHEN state IN ('28JDC', '28JDD', '28JDE')
                                   THEN 'DPoP error="invalid_token", error_description="The token is not bound to a key as required"'
                                   WHEN state LIKE '28JD_'
                                   THEN 'DPoP error="invalid_dpop_proof", error_description="The DPoP proof was refused"'
                                   WHEN state = '28JP3'
                                   THEN 'Bearer error="invalid_request", error_description="The credentials are not a bearer token"'
                                   WHEN state IN ('28JT1', '28JT2')
                                   THEN 'Bearer error="invalid_request", error_description="HTTPS required"'
                                   ELSE 'Bearer error="invalid_token", error_description="' ||
                                        @extschema@._jwt_error_description(state) || '"' END))::text;
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

-- Every key belongs to an issuer: a provider's keys verify only tokens whose
-- iss is that provider, so an imported key can never mint a local identity.
-- issuer NULL is this database: keys generated or added here (their tokens
-- are checked against jwt.issuer, which may change) and, until bound, keys
-- imported before 0.2.0 (they keep working, with a WARNING; see the README's
-- "Identity providers" for the one-statement migration).
--
-- state: standby (published in jwt_jwks(), not signing yet), active (signs,
-- the most recently activated first), retired (verifies until verify_until),
-- revoked (refused at once, kept so that no refresh brings it back).  The
-- 0.1.0 model maps onto it: retired_at set = retired (or revoked), and
-- verify_until stays the end of the grace.
ALTER TABLE jwt_keys ADD COLUMN issuer text COLLATE "C";
ALTER TABLE jwt_keys ADD COLUMN state text NOT NULL DEFAULT 'active';
ALTER TABLE jwt_keys ADD COLUMN activated_at timestamptz;
UPDATE jwt_keys SET state = 'retired' WHERE retired_at IS NOT NULL;
UPDATE jwt_keys SET activated_at = created_at WHERE state = 'active';
-- a key stored by _jwt_store_key signs from the moment it is stored
ALTER TABLE jwt_keys ALTER COLUMN activated_at SET DEFAULT clock_timestamp();

-- The state and its times agree whoever writes the row: a 0.1.0-style
-- "UPDATE jwt_keys SET retired_at = now()" retires the key, a state change
-- sets the times.  Checked here rather than by CHECK constraints, whose
-- violation would print the failing row, private key included.
CREATE FUNCTION _jwt_keys_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.state IS NULL OR NEW.state NOT IN ('standby', 'active', 'retired', 'revoked') THEN
        RAISE EXCEPTION 'a key''s state is standby, active, retired or revoked' USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.issuer IS NOT NULL AND (length(NEW.issuer) NOT BETWEEN 1 AND 2048 OR NEW.issuer ~ '[[:cntrl:]]') THEN
        RAISE EXCEPTION 'an issuer must be 1 to 2048 characters without control characters'
            USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.state = OLD.state AND NEW.retired_at IS DISTINCT FROM OLD.retired_at THEN
        -- the 0.1.0 way: retired_at says it
        IF NEW.retired_at IS NULL AND NEW.state IN ('retired', 'revoked') THEN
            NEW.state := 'active';
        ELSIF NEW.retired_at IS NOT NULL AND NEW.state IN ('standby', 'active') THEN
            NEW.state := 'retired';
        END IF;
    ELSIF TG_OP = 'INSERT' AND NEW.retired_at IS NOT NULL AND NEW.state IN ('standby', 'active') THEN
        NEW.state := 'retired';
    END IF;
    CASE NEW.state
        WHEN 'standby' THEN
            NEW.retired_at := NULL; NEW.verify_until := NULL; NEW.activated_at := NULL;
        WHEN 'active' THEN
            NEW.retired_at := NULL; NEW.verify_until := NULL;
            NEW.activated_at := coalesce(NEW.activated_at, clock_timestamp());
        WHEN 'retired' THEN
            NEW.retired_at := coalesce(NEW.retired_at, clock_timestamp());
        ELSE
            NEW.retired_at := coalesce(NEW.retired_at, clock_timestamp()); NEW.verify_until := NULL;
    END CASE;
    -- only this database's keys wait in standby: a provider signs with its own
    IF NEW.state = 'standby' AND NEW.origin = 'jwks' THEN
        RAISE EXCEPTION 'a key imported from a JWKS cannot be in standby' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION _jwt_keys_row() FROM PUBLIC;
CREATE TRIGGER jwt_keys_row
    BEFORE INSERT OR UPDATE ON jwt_keys
    FOR EACH ROW EXECUTE FUNCTION _jwt_keys_row();
COMMENT ON COLUMN jwt_keys.issuer IS 'the iss of every token the key verifies; NULL: this database (jwt.issuer)';
COMMENT ON COLUMN jwt_keys.state IS 'standby, active, retired (verifies until verify_until) or revoked';
COMMENT ON COLUMN jwt_keys.activated_at IS 'when the key began to sign: the latest activated active key signs';

-- A kid is unique within its issuer; two providers may both publish "key-1".
-- Token verification looks keys up by (iss, kid).
ALTER TABLE jwt_keys DROP CONSTRAINT jwt_keys_pkey;
CREATE UNIQUE INDEX jwt_keys_issuer_kid ON jwt_keys (issuer, kid) WHERE issuer IS NOT NULL;
CREATE UNIQUE INDEX jwt_keys_local_kid ON jwt_keys (kid) WHERE issuer IS NULL;
-- Without the primary key the table needs another replica identity, or a
-- publication of it refuses every UPDATE and DELETE (retiring, rotating): the
-- whole row, which a table of a few keys can afford.
ALTER TABLE jwt_keys REPLICA IDENTITY FULL;

-- The issuer arguments: one issuer, as the iss claim will spell it.
CREATE FUNCTION _jwt_check_issuer(issuer text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF issuer IS NULL OR length(issuer) NOT BETWEEN 1 AND 2048 OR issuer ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'an issuer must be 1 to 2048 characters without control characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN issuer;
END $$;
REVOKE ALL ON FUNCTION _jwt_check_issuer(text) FROM PUBLIC;

-- The one key a kid (and issuer) names for the administration functions below;
-- with issuer NULL, the kid must be unique in the keyring.
CREATE FUNCTION _jwt_key_row(kid text, issuer text) RETURNS @extschema@.jwt_keys
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r @extschema@.jwt_keys;
    n bigint;
BEGIN
    SELECT count(*) INTO n FROM @extschema@.jwt_keys AS t
     WHERE t.kid = _jwt_key_row.kid AND (_jwt_key_row.issuer IS NULL OR t.issuer = _jwt_key_row.issuer);
    IF n = 0 THEN
        RAISE EXCEPTION 'no key in the keyring has kid "%"', kid USING ERRCODE = 'undefined_object';
    ELSIF n > 1 THEN
        RAISE EXCEPTION 'several keys in the keyring have kid "%"', kid
            USING ERRCODE = 'ambiguous_parameter', HINT = 'Name the key''s issuer too.';
    END IF;
    SELECT * INTO STRICT r FROM @extschema@.jwt_keys AS t
     WHERE t.kid = _jwt_key_row.kid AND (_jwt_key_row.issuer IS NULL OR t.issuer = _jwt_key_row.issuer)
       FOR UPDATE;
    RETURN r;
END $$;
REVOKE ALL ON FUNCTION _jwt_key_row(text, text) FROM PUBLIC;

-- A provider's key set, checked whole before anything is stored: the keys
-- to verify with, described (public only).  Raises on any private member or
-- secret (item 20): anyone who read such a set can sign, so the whole set is
-- refused, never stored, signed with or republished.  Internal: its callers
-- run as the extension's owner.
CREATE FUNCTION _jwt_jwks_keys(jwks jsonb, OUT kid text, OUT alg text, OUT kty text, OUT public_jwk jsonb)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k jsonb;
    i bigint;
    r record;
    seen text[] := '{}';
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
        IF length(r.kid) NOT BETWEEN 1 AND 256 THEN
            RAISE EXCEPTION 'a kid must be 1 to 256 characters long' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF r.kid = ANY (seen) THEN
            RAISE EXCEPTION 'the JWKS has two keys with kid "%"', r.kid
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'A token''s kid must name one key of its issuer.';
        END IF;
        seen := seen || r.kid;
        kid := r.kid; alg := r.alg; kty := r.kty; public_jwk := r.public_jwk;
        RETURN NEXT;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION _jwt_jwks_keys(jsonb) FROM PUBLIC;

-- Imports bind the keys to the provider's issuer (the iss of its tokens).
-- A key already imported for that issuer with the same kid is replaced (and
-- made active again, unless it was revoked: a revoked key stays refused).
CREATE FUNCTION jwt_import_jwks(jwks jsonb, issuer text) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    r record;
    n integer := 0;
BEGIN
    PERFORM @extschema@._jwt_check_issuer(jwt_import_jwks.issuer);
    FOR r IN SELECT * FROM @extschema@._jwt_jwks_keys(jwks) LOOP
        IF EXISTS (SELECT 1 FROM @extschema@.jwt_keys AS t WHERE t.issuer = jwt_import_jwks.issuer
                      AND t.kid = r.kid AND t.origin <> 'jwks') THEN
            RAISE EXCEPTION 'kid "%" of issuer "%" belongs to a key that was not imported from a JWKS', r.kid, jwt_import_jwks.issuer
                USING ERRCODE = 'unique_violation';
        END IF;
        -- a revoked key stays revoked under any kid: the revocation is of its material
        INSERT INTO @extschema@.jwt_keys AS t (kid, issuer, alg, kty, public_jwk, private_key, origin, state)
        VALUES (r.kid, jwt_import_jwks.issuer, r.alg, r.kty, r.public_jwk, NULL, 'jwks',
                CASE WHEN EXISTS (SELECT 1 FROM @extschema@.jwt_keys AS v
                                   WHERE v.state = 'revoked' AND v.public_jwk = r.public_jwk)
                     THEN 'revoked' ELSE 'active' END)
        ON CONFLICT (issuer, kid) WHERE issuer IS NOT NULL DO UPDATE
            SET alg = EXCLUDED.alg, kty = EXCLUDED.kty, public_jwk = EXCLUDED.public_jwk, private_key = NULL,
                state = EXCLUDED.state, activated_at = coalesce(t.activated_at, EXCLUDED.activated_at),
                retired_at = NULL, verify_until = NULL
            WHERE t.state <> 'revoked';
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
COMMENT ON FUNCTION jwt_import_jwks(jsonb, text) IS
'loads the public signing keys of a provider''s JWKS, bound to its issuer: they verify only tokens whose iss is issuer; returns how many';
REVOKE ALL ON FUNCTION jwt_import_jwks(jsonb, text) FROM PUBLIC;

-- Without an issuer, an imported key would verify tokens of any issuer,
-- this database's own included: the set is checked (so a leaked private key
-- is still reported as such), then refused.
CREATE OR REPLACE FUNCTION jwt_import_jwks(jwks jsonb) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM count(*) FROM @extschema@._jwt_jwks_keys(jwks);
    RAISE EXCEPTION 'jwt_import_jwks needs the issuer of the key set'
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = 'An imported key verifies only tokens whose "iss" is its issuer.',
              HINT = 'SELECT jwt_import_jwks(jwks, ''https://issuer.example/'') with the iss of the provider''s tokens.';
END $$;
COMMENT ON FUNCTION jwt_import_jwks(jsonb) IS
'refused since 0.2.0: use jwt_import_jwks(jwks, issuer)';

-- Internal, for the issuer refresher (jwt_add_issuer's background worker and
-- jwt_refresh_issuer): replaces the key set of one issuer atomically.  The
-- whole set is checked before anything changes, and a set without one usable
-- signing key is refused (a broken response never removes working keys).
-- Keys of the set are inserted or updated (a revoked one stays revoked); the
-- issuer's imported keys missing from it retire and keep verifying for
-- overlap (never longer than a grace they already had); retired ones whose
-- grace has ended are deleted; revoked ones stay.  Returns the number of keys
-- in the set.  Concurrent replacements of one issuer are serialized.
CREATE FUNCTION _jwt_replace_issuer_keys(issuer text, jwks jsonb, overlap interval DEFAULT '10 minutes')
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    keys jsonb;
    kids text[];
    n integer;
    usable integer;
BEGIN
    PERFORM @extschema@._jwt_check_issuer(_jwt_replace_issuer_keys.issuer);
    IF overlap IS NULL OR overlap < interval '0' THEN
        RAISE EXCEPTION 'overlap must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('jwt issuer keys'), hashtext(_jwt_replace_issuer_keys.issuer));
    -- a key whose material was revoked (under any kid) is stored revoked, and is no usable key
    SELECT count(*), coalesce(jsonb_agg(to_jsonb(k)), '[]'), coalesce(array_agg(k.kid), '{}'),
           count(*) FILTER (WHERE NOT k.revoked)
      INTO n, keys, kids, usable
      FROM (SELECT j.*, EXISTS (SELECT 1 FROM @extschema@.jwt_keys AS v
                                 WHERE v.state = 'revoked' AND v.public_jwk = j.public_jwk) AS revoked
              FROM @extschema@._jwt_jwks_keys(jwks) AS j) AS k;
    IF usable = 0 THEN
        RAISE EXCEPTION 'the JWKS of issuer "%" has no signing key', _jwt_replace_issuer_keys.issuer
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The issuer''s keys are left as they were.';
    END IF;
    IF EXISTS (SELECT 1 FROM @extschema@.jwt_keys AS t WHERE t.issuer = _jwt_replace_issuer_keys.issuer
                  AND t.origin <> 'jwks' AND t.kid = ANY (kids)) THEN
        RAISE EXCEPTION 'a kid of issuer "%" belongs to a key that was not imported from a JWKS', _jwt_replace_issuer_keys.issuer
            USING ERRCODE = 'unique_violation';
    END IF;
    -- gone from the set: verify for overlap more (never longer than before), then go
    UPDATE @extschema@.jwt_keys AS t
       SET state = 'retired', retired_at = coalesce(t.retired_at, clock_timestamp()),
           verify_until = least(coalesce(t.verify_until, 'infinity'), clock_timestamp() + overlap)
     WHERE t.issuer = _jwt_replace_issuer_keys.issuer AND t.origin = 'jwks'
       AND (t.state = 'active' OR (t.state = 'retired' AND t.verify_until > clock_timestamp() + overlap))
       AND NOT (t.kid = ANY (kids));
    DELETE FROM @extschema@.jwt_keys AS t
     WHERE t.issuer = _jwt_replace_issuer_keys.issuer AND t.origin = 'jwks'
       AND t.state = 'retired' AND t.verify_until <= clock_timestamp();
    INSERT INTO @extschema@.jwt_keys AS t (kid, issuer, alg, kty, public_jwk, private_key, origin, state)
    SELECT k.kid, _jwt_replace_issuer_keys.issuer, k.alg, k.kty, k.public_jwk, NULL, 'jwks',
           CASE WHEN k.revoked THEN 'revoked' ELSE 'active' END
      FROM jsonb_to_recordset(keys) AS k(kid text, alg text, kty text, public_jwk jsonb, revoked boolean)
    ON CONFLICT (issuer, kid) WHERE issuer IS NOT NULL DO UPDATE
        SET alg = EXCLUDED.alg, kty = EXCLUDED.kty, public_jwk = EXCLUDED.public_jwk, private_key = NULL,
            state = EXCLUDED.state, activated_at = coalesce(t.activated_at, EXCLUDED.activated_at),
            retired_at = NULL, verify_until = NULL
        -- a revoked key stays revoked; an unchanged row is not rewritten (no invalidation, no WAL)
        WHERE t.state <> 'revoked'
          AND (t.alg, t.kty, t.public_jwk, t.state, t.private_key IS NULL)
              IS DISTINCT FROM (EXCLUDED.alg, EXCLUDED.kty, EXCLUDED.public_jwk, EXCLUDED.state, true);
    RETURN n;
END $$;
COMMENT ON FUNCTION _jwt_replace_issuer_keys(text, jsonb, interval) IS
'internal (issuer refresher): replaces one issuer''s imported keys by a JWKS atomically; vanished keys verify for overlap more';
REVOKE ALL ON FUNCTION _jwt_replace_issuer_keys(text, jsonb, interval) FROM PUBLIC;

-- Functions whose signature grows are dropped and created again: keep the
-- EXECUTE grants an administrator gave on the old ones.
CREATE FUNCTION pg_temp.jwt_saved_grants(f regprocedure) RETURNS text[]
LANGUAGE sql AS $$
    SELECT coalesce(array_agg(quote_ident(r.rolname)), '{}')
      FROM pg_proc p, aclexplode(p.proacl) a JOIN pg_roles r ON r.oid = a.grantee
     WHERE p.oid = f AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner
$$;
CREATE TEMP TABLE jwt_saved_grants AS
SELECT pg_temp.jwt_saved_grants('jwt_generate_key(text, text)'::regprocedure) AS generate_key;

DROP FUNCTION jwt_generate_key(text, text);
-- standby => true: published by jwt_jwks() at once, signing only once activated.
CREATE FUNCTION jwt_generate_key(alg text DEFAULT 'ES256', kid text DEFAULT NULL,
                                 standby boolean DEFAULT false, issuer text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    stored text;
BEGIN
    IF issuer IS NOT NULL THEN
        PERFORM @extschema@._jwt_check_issuer(issuer);
    END IF;
    SELECT * INTO STRICT r
    FROM @extschema@._jwt_key_describe(@extschema@._jwt_key_generate(alg), alg IN ('HS256', 'HS384', 'HS512'), alg, kid);
    stored := @extschema@._jwt_store_key(r, 'generated');
    UPDATE @extschema@.jwt_keys AS t
       SET issuer = jwt_generate_key.issuer,
           state = CASE WHEN standby THEN 'standby' ELSE 'active' END,
           activated_at = CASE WHEN standby THEN NULL ELSE clock_timestamp() END
     WHERE t.kid = stored AND t.issuer IS NULL AND t.created_at = r.created_at;
    RETURN stored;
END $$;
COMMENT ON FUNCTION jwt_generate_key(text, text, boolean, text) IS
'creates a key in the keyring and returns its kid (unless given: the RFC 7638 thumbprint, random for HMAC secrets); standby: published, not signing until activated';
REVOKE ALL ON FUNCTION jwt_generate_key(text, text, boolean, text) FROM PUBLIC;
DO $$
DECLARE
    g text;
BEGIN
    FOREACH g IN ARRAY (SELECT generate_key FROM pg_temp.jwt_saved_grants) LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION @extschema@.jwt_generate_key(text, text, boolean, text) TO %s', g);
    END LOOP;
END $$;
DROP TABLE pg_temp.jwt_saved_grants;
DROP FUNCTION pg_temp.jwt_saved_grants(regprocedure);

-- A key may sign (standby -> active): it becomes the keyring's signing key.
CREATE FUNCTION jwt_activate_key(kid text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r @extschema@.jwt_keys := @extschema@._jwt_key_row(kid, NULL);
BEGIN
    IF r.origin = 'jwks' THEN
        RAISE EXCEPTION 'key "%" was imported from a JWKS and cannot sign', kid
            USING ERRCODE = 'object_not_in_prerequisite_state';
    ELSIF r.state IN ('retired', 'revoked') THEN
        RAISE EXCEPTION 'key "%" is %: it cannot sign again', kid, r.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Generate a new key.';
    END IF;
    UPDATE @extschema@.jwt_keys AS t SET state = 'active', activated_at = clock_timestamp()
     WHERE t.kid = r.kid AND t.issuer IS NOT DISTINCT FROM r.issuer;
    RETURN r.state = 'standby';
END $$;
COMMENT ON FUNCTION jwt_activate_key(text) IS
'makes a standby (or active) key the keyring''s signing key; true if it was in standby';

-- Retiring keeps a key verifying for grace; retiring again may shorten the
-- grace, never lengthen it (that would undo a retirement).
CREATE OR REPLACE FUNCTION jwt_retire_key(kid text, grace interval DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r @extschema@.jwt_keys;
    until timestamptz;
BEGIN
    IF grace < interval '0' THEN
        RAISE EXCEPTION 'grace must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    r := @extschema@._jwt_key_row(kid, NULL);
    until := clock_timestamp() + coalesce(grace, interval '0');
    IF r.state = 'revoked' THEN
        RETURN false;
    ELSIF r.state = 'retired' THEN
        UPDATE @extschema@.jwt_keys AS t SET verify_until = until
         WHERE t.kid = r.kid AND t.issuer IS NOT DISTINCT FROM r.issuer
           AND (t.verify_until IS NULL OR t.verify_until > until);
        RETURN false;   -- already retired
    END IF;
    UPDATE @extschema@.jwt_keys AS t
       SET state = 'retired', retired_at = clock_timestamp(), verify_until = until
     WHERE t.kid = r.kid AND t.issuer IS NOT DISTINCT FROM r.issuer;
    RETURN true;
END $$;
COMMENT ON FUNCTION jwt_retire_key(text, interval) IS
'stops a key signing at once and verifying after grace (default: at once; retiring again may shorten it); it stays listed';

-- Keys of a provider are named by issuer and kid.
CREATE FUNCTION jwt_retire_key(kid text, grace interval, issuer text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r @extschema@.jwt_keys := @extschema@._jwt_key_row(kid, @extschema@._jwt_check_issuer(issuer));
    until timestamptz := clock_timestamp() + coalesce(grace, interval '0');
BEGIN
    IF grace < interval '0' THEN
        RAISE EXCEPTION 'grace must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE @extschema@.jwt_keys AS t
       SET state = 'retired', retired_at = coalesce(t.retired_at, clock_timestamp()),
           verify_until = least(coalesce(t.verify_until, 'infinity'), until)
     WHERE t.kid = r.kid AND t.issuer = r.issuer AND t.state IN ('active', 'retired');
    RETURN r.state = 'active';
END $$;

-- Revoked: refused at once by every session (the keyring cache of each drops
-- at its next statement), never signs again, not published; the row stays
-- so that a refresh of its issuer's JWKS cannot bring it back.  What is
-- revoked is the key: every row holding the same public key (imported under
-- another kid, or for another issuer that shares the provider's keys) too.
CREATE FUNCTION jwt_revoke_key(kid text, issuer text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r @extschema@.jwt_keys := @extschema@._jwt_key_row(kid, issuer);
BEGIN
    UPDATE @extschema@.jwt_keys AS t
       SET state = 'revoked', retired_at = coalesce(t.retired_at, clock_timestamp()), verify_until = NULL
     WHERE ((t.kid = r.kid AND t.issuer IS NOT DISTINCT FROM r.issuer)
            OR (r.public_jwk IS NOT NULL AND t.public_jwk = r.public_jwk))
       AND t.state <> 'revoked';
    RETURN FOUND;
END $$;
COMMENT ON FUNCTION jwt_revoke_key(text, text) IS
'refuses every token of the key (of every row with its public key) at once; it no longer signs or is published (issuer: needed when two issuers use the kid)';

-- Deleting forgets the key: its tokens are refused; a provider's key comes
-- back at the next refresh of its issuer (revoke it to keep it out).
CREATE FUNCTION jwt_delete_key(kid text, issuer text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r @extschema@.jwt_keys := @extschema@._jwt_key_row(kid, issuer);
BEGIN
    DELETE FROM @extschema@.jwt_keys AS t WHERE t.kid = r.kid AND t.issuer IS NOT DISTINCT FROM r.issuer;
    RETURN FOUND;
END $$;
COMMENT ON FUNCTION jwt_delete_key(text, text) IS
'removes a key from the keyring (a provider''s key returns at its next refresh: revoke it instead)';

-- One call for pg_cron: the standby key signs, the active keys retire with
-- grace, a new standby (same algorithm) is published for the next rotation,
-- so that verifiers caching jwt_jwks() hold each key before it signs.
-- Without a standby key, the newest active key's algorithm is used for a new
-- key that signs at once.
CREATE FUNCTION jwt_rotate_keys(grace interval DEFAULT '1 day') RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    next_key @extschema@.jwt_keys;
    current_key @extschema@.jwt_keys;
    new_alg text;
BEGIN
    IF grace IS NULL OR grace < interval '0' THEN
        RAISE EXCEPTION 'grace must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- one rotation at a time
    LOCK TABLE @extschema@.jwt_keys IN SHARE ROW EXCLUSIVE MODE;
    SELECT * INTO current_key FROM @extschema@.jwt_keys AS t
     WHERE t.origin <> 'jwks' AND t.issuer IS NULL AND t.state = 'active' AND t.private_key IS NOT NULL
     ORDER BY t.activated_at DESC, t.kid DESC LIMIT 1;
    SELECT * INTO next_key FROM @extschema@.jwt_keys AS t
     WHERE t.origin <> 'jwks' AND t.issuer IS NULL AND t.state = 'standby' AND t.private_key IS NOT NULL
     ORDER BY t.created_at DESC, t.kid DESC LIMIT 1;
    IF next_key.kid IS NULL AND current_key.kid IS NULL THEN
        RAISE EXCEPTION 'the keyring has no key of this database to rotate'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Create one with jwt_generate_key(), and a standby with jwt_generate_key(standby => true).';
    END IF;
    new_alg := coalesce(next_key.alg, current_key.alg, 'ES256');
    IF next_key.kid IS NULL THEN
        next_key.kid := @extschema@.jwt_generate_key(new_alg);
    ELSE
        UPDATE @extschema@.jwt_keys AS t SET state = 'active', activated_at = clock_timestamp()
         WHERE t.kid = next_key.kid AND t.issuer IS NULL;
    END IF;
    -- keys that sign retire; verification-only keys someone added stay
    UPDATE @extschema@.jwt_keys AS t
       SET state = 'retired', retired_at = clock_timestamp(), verify_until = clock_timestamp() + grace
     WHERE t.origin <> 'jwks' AND t.issuer IS NULL AND t.state = 'active' AND t.private_key IS NOT NULL
       AND t.kid <> next_key.kid;
    PERFORM @extschema@.jwt_generate_key(new_alg, standby => true);
    RETURN next_key.kid;
END $$;
COMMENT ON FUNCTION jwt_rotate_keys(interval) IS
'standby -> active, active -> retired with grace, a new standby generated; returns the kid that now signs';

REVOKE ALL ON FUNCTION jwt_activate_key(text), jwt_retire_key(text, interval, text),
                      jwt_revoke_key(text, text), jwt_delete_key(text, text),
                      jwt_rotate_keys(interval) FROM PUBLIC;

-- include_imported: the providers' public keys too (still verifying), so
-- that one file serves as PostgREST's jwt-secret for every issuer.  Standby
-- keys are published (verifiers fetch them before they sign); revoked keys
-- and keys past their grace are not.
CREATE FUNCTION jwt_jwks(include_imported boolean) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('keys', coalesce(jsonb_agg(
               jsonb_strip_nulls(public_jwk || jsonb_build_object('kid', kid, 'alg', alg, 'use', 'sig'))
               ORDER BY imported, issuer, created_at DESC, kid), '[]'::jsonb))
    FROM (SELECT t.*, t.origin = 'jwks' AS imported,
                 count(*) OVER (PARTITION BY t.kid) AS uses
          FROM @extschema@.jwt_keys AS t
          WHERE t.public_jwk IS NOT NULL
            AND (CASE WHEN t.origin = 'jwks' THEN coalesce(include_imported, false) ELSE t.private_key IS NOT NULL END)
            AND (t.state IN ('standby', 'active') OR (t.state = 'retired' AND t.verify_until > now()))) AS k
    -- one set cannot tell two issuers' keys with one kid apart: a provider's
    -- key whose kid another published key has is left out (ours stays)
    WHERE NOT (imported AND uses > 1)
$$;
COMMENT ON FUNCTION jwt_jwks(boolean) IS
'the public keys that verify: this database''s (standby keys too), and with include_imported the providers'' keys';
CREATE OR REPLACE FUNCTION jwt_jwks() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT @extschema@.jwt_jwks(false)
$$;
COMMENT ON FUNCTION jwt_jwks() IS 'jwt_jwks(include_imported => false)';

-- The keyring without its secrets, with each key's issuer and state.
DROP VIEW jwt_key_list;
CREATE VIEW jwt_key_list AS
SELECT kid, issuer, alg, kty, origin, state,
       state IN ('standby', 'active') OR (state = 'retired' AND verify_until > now()) AS verifies,
       created_at, activated_at, retired_at, verify_until,
       private_key IS NOT NULL AS has_private
FROM jwt_keys;
COMMENT ON VIEW jwt_key_list IS 'the keyring without secrets; issuer NULL: this database (jwt.issuer)';
GRANT SELECT ON jwt_key_list TO PUBLIC;

-- Keys imported before 0.2.0 are bound to no issuer: they keep verifying
-- (with a WARNING) until bound.  Say so once, at the update.
DO $$
DECLARE
    n bigint;
BEGIN
    SELECT count(*) INTO n FROM @extschema@.jwt_keys WHERE origin = 'jwks' AND issuer IS NULL;
    IF n > 0 THEN
        RAISE WARNING '% key(s) imported from a JWKS are bound to no issuer: they verify tokens of any issuer', n
            USING HINT = 'Bind them: UPDATE jwt_keys SET issuer = ''<the provider''''s iss>'' WHERE origin = ''jwks'' AND issuer IS NULL (see the README, "Identity providers").';
    END IF;
END $$;

-- Key-encryption key rotation: seals every private key and secret under
-- jwt.key_encryption_key, bound to its row: plain ones (stored before a KEK
-- was set), 0.1.0 envelopes, and envelopes of jwt.previous_key_encryption_key.
-- All or nothing: a key that neither key opens stops it (55J01) before any
-- row changes.  Rows already sealed under the current key are not rewritten.
CREATE FUNCTION jwt_reseal_keys() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    UPDATE @extschema@.jwt_keys AS t SET private_key = s.sealed
      FROM (SELECT k.ctid AS tid, k.private_key AS before,
                   @extschema@._jwt_key_seal(k.kid, k.alg, k.kty, k.created_at, k.private_key) AS sealed
              FROM @extschema@.jwt_keys AS k WHERE k.private_key IS NOT NULL) AS s
     WHERE t.ctid = s.tid AND s.sealed <> s.before;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION jwt_reseal_keys() IS
'seals every private key and secret of the keyring under jwt.key_encryption_key (also those sealed under jwt.previous_key_encryption_key); returns how many it rewrote';
REVOKE ALL ON FUNCTION jwt_reseal_keys() FROM PUBLIC;

-- The role jwt.role_claim (a claim name or PostgREST's JSPath) names in
-- verified claims; NULL when the setting is empty or the claims name none.
-- The setting is read in C after the library is loaded.
CREATE FUNCTION _jwt_token_role(claims jsonb) RETURNS text
AS 'MODULE_PATHNAME', 'jwt_token_role'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION _jwt_token_role(jsonb) IS
'the role jwt.role_claim names in these claims (NULL: none)';

-- JWKS URLs ------------------------------------------------------------------
-- Issuers whose key sets are fetched from a URL (or found by OpenID Connect
-- discovery) and refreshed by the issuer worker, by jwt_refresh_issuer(), or
-- by jwt_refresh_issuers() from pg_cron.  Fetching is C (jwks_fetch.c,
-- src/http_fetch.c, src/jwks_fetch.c): https only, TLS verified, no redirects,
-- bounded in time and size, public keys only.  A failed fetch is recorded
-- and changes no key; a good one replaces the issuer's keys in one
-- transaction.  Verification never fetches: an unknown kid only nudges the
-- worker (src/issuer_refresh.c).

CREATE TABLE jwt_issuer_sources (
    issuer          text COLLATE "C" PRIMARY KEY CHECK (length(issuer) BETWEEN 1 AND 2048),
    jwks_url        text COLLATE "C" CHECK (length(jwks_url) BETWEEN 1 AND 2048),
    refresh         interval NOT NULL CHECK (refresh BETWEEN interval '1 minute' AND interval '7 days'),
    fetched_url     text,
    added_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_fetch      timestamptz,
    last_success    timestamptz,
    last_error      text,
    last_error_code text,
    failures        integer NOT NULL DEFAULT 0,
    next_refresh    timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE jwt_issuer_sources IS 'jwt: identity providers whose JWKS is fetched from a URL; see the jwt_issuers view';
COMMENT ON COLUMN jwt_issuer_sources.jwks_url IS 'NULL: found by OpenID Connect discovery at each refresh';
SELECT pg_catalog.pg_extension_config_dump('jwt_issuer_sources', '');
REVOKE ALL ON jwt_issuer_sources FROM PUBLIC;

CREATE FUNCTION _jwt_fetch_jwks(issuer text, jwks_url text,
                                OUT jwks jsonb, OUT fetched_url text, OUT max_age integer, OUT keys integer)
RETURNS record
AS 'MODULE_PATHNAME', 'jwt_fetch_jwks_sql'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION _jwt_fetch_jwks(text, text) FROM PUBLIC;

CREATE FUNCTION _jwt_check_fetch_url(url text) RETURNS void
AS 'MODULE_PATHNAME', 'jwt_check_fetch_url'
LANGUAGE C STRICT STABLE;
REVOKE ALL ON FUNCTION _jwt_check_fetch_url(text) FROM PUBLIC;

-- When a fetched set is next due: refresh, or sooner when the provider's
-- Cache-Control max-age says so, but not sooner than 5 minutes (or refresh,
-- if that is shorter): a rotation reaches the keyring early through the
-- kid-miss nudge anyway, and a max-age of seconds must not make us poll.
CREATE FUNCTION _jwt_issuer_next(refresh interval, max_age integer) RETURNS interval
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN max_age IS NULL THEN refresh
                ELSE least(refresh, greatest(least(refresh, interval '5 minutes'),
                                             max_age * interval '1 second')) END
$$;

-- A fetch succeeded: store its keys and record it; the number of keys.
CREATE FUNCTION _jwt_issuer_fetched(issuer text, refresh interval, jwks jsonb, fetched_url text,
                                    max_age integer) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    -- in place of the previous set, atomically; keys that disappeared keep
    -- verifying for 5 minutes (tokens signed just before a rotation)
    n := @extschema@._jwt_replace_issuer_keys(issuer, jwks, interval '5 minutes');
    UPDATE @extschema@.jwt_issuer_sources AS s
       SET fetched_url = _jwt_issuer_fetched.fetched_url, last_fetch = clock_timestamp(),
           last_success = clock_timestamp(), last_error = NULL, last_error_code = NULL, failures = 0,
           next_refresh = clock_timestamp() + @extschema@._jwt_issuer_next(_jwt_issuer_fetched.refresh,
                                                                           _jwt_issuer_fetched.max_age)
     WHERE s.issuer = _jwt_issuer_fetched.issuer;
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION _jwt_issuer_fetched(text, interval, jsonb, text, integer) FROM PUBLIC;

CREATE FUNCTION jwt_add_issuer(issuer text, jwks_url text DEFAULT NULL, refresh interval DEFAULT '1 hour')
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    f record;
BEGIN
    IF issuer IS NULL OR refresh IS NULL THEN
        RAISE EXCEPTION 'issuer and refresh must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF refresh < interval '1 minute' OR refresh > interval '7 days' THEN
        RAISE EXCEPTION 'refresh must lie between 1 minute and 7 days' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- with discovery, the issuer itself is the URL fetched
    PERFORM @extschema@._jwt_check_fetch_url(coalesce(jwks_url, issuer));
    -- the first fetch must succeed: an error here stores nothing
    SELECT * INTO STRICT f FROM @extschema@._jwt_fetch_jwks(issuer, jwks_url);
    INSERT INTO @extschema@.jwt_issuer_sources AS s (issuer, jwks_url, refresh)
    VALUES (issuer, jwks_url, refresh)
    ON CONFLICT ON CONSTRAINT jwt_issuer_sources_pkey
    DO UPDATE SET jwks_url = EXCLUDED.jwks_url, refresh = EXCLUDED.refresh;
    RETURN @extschema@._jwt_issuer_fetched(issuer, refresh, f.jwks, f.fetched_url, f.max_age);
END $$;
COMMENT ON FUNCTION jwt_add_issuer(text, text, interval) IS
'trusts issuer with the keys of its JWKS, fetched now from jwks_url (NULL: by OpenID Connect discovery) and refreshed every refresh; returns the number of signing keys';

CREATE FUNCTION jwt_refresh_issuer(issuer text) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    src @extschema@.jwt_issuer_sources;
    f record;
    n integer;
    code text;
    msg text;
    detail text;
BEGIN
    SELECT * INTO src FROM @extschema@.jwt_issuer_sources AS s
     WHERE s.issuer = jwt_refresh_issuer.issuer FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no issuer "%" was added with jwt_add_issuer', issuer USING ERRCODE = 'undefined_object';
    END IF;
    BEGIN
        SELECT * INTO STRICT f FROM @extschema@._jwt_fetch_jwks(src.issuer, src.jwks_url);
        n := @extschema@._jwt_issuer_fetched(src.issuer, src.refresh, f.jwks, f.fetched_url, f.max_age);
    EXCEPTION WHEN OTHERS THEN
        -- (not a cancel or a termination: OTHERS does not catch those)
        -- nothing of the fetch is kept; the issuer's keys stay as they were
        GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
        UPDATE @extschema@.jwt_issuer_sources AS s
           SET last_fetch = clock_timestamp(), last_error = msg, last_error_code = code,
               failures = s.failures + 1,
               -- back off: 30 s, 1 min, 2 min ... up to refresh or an hour
               next_refresh = clock_timestamp() + least(s.refresh, interval '1 hour',
                                                        interval '30 seconds' * power(2, least(s.failures, 12)))
         WHERE s.issuer = src.issuer;
        RAISE WARNING 'jwt: fetching the keys of issuer "%" failed: %', src.issuer, msg
            USING ERRCODE = code, DETAIL = coalesce(detail, ''),
                  HINT = 'The issuer''s keys are unchanged; jwt_issuers shows the error.';
        RETURN NULL;
    END;
    RETURN n;
END $$;
COMMENT ON FUNCTION jwt_refresh_issuer(text) IS
'fetches issuer''s JWKS now and replaces its keys; on failure changes no key, records the error in jwt_issuers, warns and returns NULL';

-- The issuers due for a refresh; nudged (a kid miss, at most once a minute
-- per database: src/issuer_refresh.c): all of them.
CREATE FUNCTION _jwt_issuers_due(nudged boolean) RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT issuer FROM @extschema@.jwt_issuer_sources
     WHERE nudged OR next_refresh <= clock_timestamp()
     ORDER BY next_refresh
$$;
REVOKE ALL ON FUNCTION _jwt_issuers_due(boolean) FROM PUBLIC;

CREATE FUNCTION jwt_refresh_issuers() RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT count(@extschema@.jwt_refresh_issuer(issuer))::integer FROM @extschema@._jwt_issuers_due(false)
$$;
COMMENT ON FUNCTION jwt_refresh_issuers() IS
'refreshes every issuer that is due (for pg_cron, without the preloaded worker); returns how many succeeded';

CREATE FUNCTION jwt_drop_issuer(issuer text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM @extschema@.jwt_issuer_sources AS s WHERE s.issuer = jwt_drop_issuer.issuer;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- stop trusting it: its imported keys go too
    DELETE FROM @extschema@.jwt_keys AS t WHERE t.issuer = jwt_drop_issuer.issuer AND t.origin = 'jwks';
    RETURN true;
END $$;
COMMENT ON FUNCTION jwt_drop_issuer(text) IS
'stops fetching issuer''s JWKS and deletes its fetched keys; false if it was not added';

-- Adding issuers makes the server fetch URLs: for superusers and the roles they grant it to.
REVOKE ALL ON FUNCTION jwt_add_issuer(text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION jwt_refresh_issuer(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION jwt_refresh_issuers() FROM PUBLIC;
REVOKE ALL ON FUNCTION jwt_drop_issuer(text) FROM PUBLIC;

-- key_count: the issuer's keys that verify now (those of its last set, and
-- those gone from it still in their overlap)
CREATE VIEW jwt_issuers AS
SELECT s.issuer, coalesce(s.jwks_url, s.fetched_url) AS jwks_url, s.jwks_url IS NULL AS discovered, s.refresh,
       s.last_fetch, s.last_success, s.last_error, s.last_error_code, s.failures, s.next_refresh,
       (SELECT count(*) FROM jwt_keys AS k
         WHERE k.issuer = s.issuer AND k.origin = 'jwks'
           AND (k.state = 'active' OR (k.state = 'retired' AND k.verify_until > now())))::integer AS key_count,
       CASE WHEN s.last_error IS NULL THEN 'ok' ELSE 'failing' END AS state
FROM jwt_issuer_sources AS s;
COMMENT ON VIEW jwt_issuers IS 'jwt: issuers whose JWKS is fetched from a URL, and how the last fetch went';
GRANT SELECT ON jwt_issuers TO PUBLIC;
-- (end of JWKS URLs)
-- Audience and issuer lists: the list forms of jwt_verify and jwt_is_valid.
-- audiences text[] (and issuers text[]) in place of audience/issuer text; any
-- item matches.  audiences comes second and has no default: a call of the
-- text forms (positional, named, with untyped parameters from a driver)
-- resolves exactly as before, and a call naming audiences => (or passing a
-- text[] second) can only be one of these.  The text forms stay as they are,
-- so the update drops nothing that views or policies may depend on.
CREATE FUNCTION jwt_verify(token text, audiences text[], key text DEFAULT NULL, algorithms text[] DEFAULT NULL,
                           issuers text[] DEFAULT NULL, leeway interval DEFAULT NULL, required text[] DEFAULT NULL,
                           max_age interval DEFAULT NULL, typ text DEFAULT NULL, subject text DEFAULT NULL,
                           now timestamptz DEFAULT NULL, check_revoked boolean DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_verify_lists_text'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jwt_verify(token text, audiences text[], key bytea, algorithms text[] DEFAULT NULL,
                           issuers text[] DEFAULT NULL, leeway interval DEFAULT NULL, required text[] DEFAULT NULL,
                           max_age interval DEFAULT NULL, typ text DEFAULT NULL, subject text DEFAULT NULL,
                           now timestamptz DEFAULT NULL, check_revoked boolean DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_verify_lists_bytea'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jwt_is_valid(token text, audiences text[], key text DEFAULT NULL, algorithms text[] DEFAULT NULL,
                             issuers text[] DEFAULT NULL, leeway interval DEFAULT NULL, required text[] DEFAULT NULL,
                             max_age interval DEFAULT NULL, typ text DEFAULT NULL, subject text DEFAULT NULL,
                             now timestamptz DEFAULT NULL, check_revoked boolean DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_is_valid_lists_text'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jwt_is_valid(token text, audiences text[], key bytea, algorithms text[] DEFAULT NULL,
                             issuers text[] DEFAULT NULL, leeway interval DEFAULT NULL, required text[] DEFAULT NULL,
                             max_age interval DEFAULT NULL, typ text DEFAULT NULL, subject text DEFAULT NULL,
                             now timestamptz DEFAULT NULL, check_revoked boolean DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_is_valid_lists_bytea'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION jwt_verify(text, text[], text, text[], text[], interval, text[], interval, text, text, timestamptz, boolean) IS
'jwt_verify with lists: any of audiences (and of issuers) matches; NULL: the setting';
COMMENT ON FUNCTION jwt_verify(text, text[], bytea, text[], text[], interval, text[], interval, text, text, timestamptz, boolean) IS
'jwt_verify with lists and a key as bytes: any of audiences (and of issuers) matches';
COMMENT ON FUNCTION jwt_is_valid(text, text[], text, text[], text[], interval, text[], interval, text, text, timestamptz, boolean) IS
'jwt_is_valid with lists: any of audiences (and of issuers) matches; NULL: the setting';
COMMENT ON FUNCTION jwt_is_valid(text, text[], bytea, text[], text[], interval, text[], interval, text, text, timestamptz, boolean) IS
'jwt_is_valid with lists and a key as bytes: any of audiences (and of issuers) matches';

-- (end of the issuers section)


-- ---------------------------------------------------------------------------
-- Sessions: refresh-token rotation with reuse detection, single-use tokens.
-- ---------------------------------------------------------------------------

-- A session family: the claims every access token of the session carries,
-- and its absolute end (expires_at = started_at + refresh_lifetime, never
-- moved by a refresh).  access_expires_at is the latest exp of an access
-- token the family issued: revoking the family keeps its sid revoked until
-- then (+ the largest leeway), so a purge never re-enables one.
CREATE TABLE jwt_sessions (
    sid               text COLLATE "C" PRIMARY KEY,
    sub               text,
    claims            jsonb NOT NULL,
    dpop_jkt          text,
    access_lifetime   interval NOT NULL,
    started_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    access_expires_at timestamptz NOT NULL,
    refreshed_at      timestamptz,
    refreshes         bigint NOT NULL DEFAULT 0,
    ended_at          timestamptz,
    end_reason        text
);
CREATE INDEX jwt_sessions_sub ON jwt_sessions (sub);
CREATE INDEX jwt_sessions_expires_at ON jwt_sessions (expires_at);
COMMENT ON TABLE jwt_sessions IS 'jwt: session families (refresh-token rotation); readable by superusers only';

-- Refresh tokens exist only as SHA-256 digests.  A used one stays as long as
-- its family, so that presenting it again is recognised as reuse.
CREATE TABLE jwt_session_refresh_tokens (
    digest    bytea PRIMARY KEY CHECK (octet_length(digest) = 32),
    sid       text COLLATE "C" NOT NULL REFERENCES jwt_sessions ON DELETE CASCADE,
    issued_at timestamptz NOT NULL,
    used_at   timestamptz
);
CREATE INDEX jwt_session_refresh_tokens_sid ON jwt_session_refresh_tokens (sid);
COMMENT ON TABLE jwt_session_refresh_tokens IS 'jwt: SHA-256 digests of refresh tokens; used_at set by the refresh that rotated it';

-- Ended sessions: every token whose "sid" is here is revoked (revocation.c),
-- looked up and cached as the other lists, with the same change trigger.
CREATE TABLE jwt_revoked_sessions (
    sid        text COLLATE "C" PRIMARY KEY,
    revoked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at timestamptz,
    reason     text
);
CREATE INDEX jwt_revoked_sessions_sid_hash ON jwt_revoked_sessions USING hash (sid);
CREATE INDEX jwt_revoked_sessions_expires_at ON jwt_revoked_sessions (expires_at);
COMMENT ON TABLE jwt_revoked_sessions IS 'jwt: ended sessions; every token carrying the sid is revoked; expires_at: the latest exp of its access tokens (NULL: kept for ever)';
CREATE TRIGGER jwt_revoked_sessions_changed
    AFTER INSERT OR UPDATE OR DELETE ON jwt_revoked_sessions
    FOR EACH ROW EXECUTE FUNCTION jwt_revocations_changed();
ALTER TABLE jwt_revoked_sessions ENABLE ALWAYS TRIGGER jwt_revoked_sessions_changed;

-- Single-use tokens consumed by jwt_consume, kept until exp + one day (the
-- largest leeway) and then purged.
CREATE TABLE jwt_consumed_tokens (
    jti         text COLLATE "C" PRIMARY KEY,
    consumed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at  timestamptz
);
CREATE INDEX jwt_consumed_tokens_expires_at ON jwt_consumed_tokens (expires_at);
COMMENT ON TABLE jwt_consumed_tokens IS 'jwt: ids of single-use tokens already consumed';

SELECT pg_catalog.pg_extension_config_dump('jwt_sessions', '');
SELECT pg_catalog.pg_extension_config_dump('jwt_session_refresh_tokens', '');
SELECT pg_catalog.pg_extension_config_dump('jwt_revoked_sessions', '');
SELECT pg_catalog.pg_extension_config_dump('jwt_consumed_tokens', '');
REVOKE ALL ON jwt_sessions, jwt_session_refresh_tokens, jwt_revoked_sessions, jwt_consumed_tokens
    FROM PUBLIC;

-- Internal.  The C entry points (sessions.c) check who calls, generate the
-- random values and digests, and call these directly (not through SQL, so
-- PUBLIC needs no EXECUTE on them).  They never see a refresh token, only
-- its digest.

-- An access token of family s: its claims with sid, a fresh jti, exp (never
-- past the family's end) and cnf.  Signed with the keyring as the owner.
CREATE FUNCTION _jwt_session_mint(s jwt_sessions, jti text, OUT token text, OUT exp timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c jsonb;
BEGIN
    exp := to_timestamp(floor(extract(epoch FROM least(statement_timestamp() + s.access_lifetime,
                                                       s.expires_at))));
    c := s.claims || jsonb_build_object('sid', s.sid, 'jti', jti,
                                        'exp', extract(epoch FROM exp)::bigint);
    IF s.dpop_jkt IS NOT NULL THEN
        c := c || jsonb_build_object('cnf', jsonb_build_object('jkt', s.dpop_jkt));
    END IF;
    -- every argument typed: an overload jwt_sign(jsonb) that a role with CREATE
    -- on the extension's schema adds cannot be chosen (nor make this ambiguous)
    token := @extschema@.jwt_sign(c, NULL::text, NULL::text, NULL::jsonb);
END $$;
REVOKE ALL ON FUNCTION _jwt_session_mint(jwt_sessions, text) FROM PUBLIC;

CREATE FUNCTION _jwt_session_create(claims jsonb, access_lifetime interval, refresh_lifetime interval,
                                    dpop_jkt text, sid text, jti text, digest bytea)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s @extschema@.jwt_sessions;
    m record;
BEGIN
    s.sid := sid;
    s.sub := claims ->> 'sub';
    s.claims := claims;
    s.dpop_jkt := dpop_jkt;
    s.access_lifetime := access_lifetime;
    s.started_at := statement_timestamp();
    s.expires_at := s.started_at + refresh_lifetime;
    s.refreshes := 0;
    SELECT * INTO m FROM @extschema@._jwt_session_mint(s, jti);
    s.access_expires_at := m.exp;
    INSERT INTO @extschema@.jwt_sessions SELECT s.*;
    INSERT INTO @extschema@.jwt_session_refresh_tokens (digest, sid, issued_at)
    VALUES (digest, sid, s.started_at);
    RETURN jsonb_build_object('status', 'ok', 'access_token', m.token, 'session_id', sid,
                              'access_expires_at', m.exp, 'refresh_expires_at', s.expires_at);
END $$;
REVOKE ALL ON FUNCTION _jwt_session_create(jsonb, interval, interval, text, text, text, bytea) FROM PUBLIC;

-- Why family s cannot be refreshed now (NULL: it can): ended, expired, or
-- its subject cut off (jwt_revoke_subject) after it started.
CREATE FUNCTION _jwt_session_refusal(s jwt_sessions) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE
        WHEN s.ended_at IS NOT NULL THEN 'ended'
        WHEN s.expires_at <= statement_timestamp() THEN 'expired'
        WHEN EXISTS (SELECT FROM @extschema@.jwt_revoked_sessions r WHERE r.sid = s.sid) THEN 'ended'
        WHEN s.sub IS NOT NULL AND EXISTS (SELECT FROM @extschema@.jwt_revoked_subjects r
                                            WHERE r.sub = s.sub AND r.revoked_before > s.started_at)
            THEN 'subject'
    END
$$;
REVOKE ALL ON FUNCTION _jwt_session_refusal(jwt_sessions) FROM PUBLIC;

-- The family of a refresh token's digest, the key it is bound to and why it
-- may no longer be refreshed ({"session_id", "dpop_jkt", "refusal"}; NULL:
-- unknown): a DPoP proof is checked against that key before anything is
-- written, and only for a family still open, since checking a proof records
-- it where no rollback erases it (src/dpop_replay.c).  A family's dpop_jkt
-- never changes, so the refresh that follows sees the same.  PL/pgSQL: its
-- plan is kept across the C callers' calls (a SQL function's would be
-- planned at every call).
CREATE FUNCTION _jwt_session_binding(digest bytea) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (SELECT jsonb_build_object('session_id', f.sid, 'dpop_jkt', f.dpop_jkt,
                                      'refusal', @extschema@._jwt_session_refusal(f))
              FROM @extschema@.jwt_session_refresh_tokens AS t
              JOIN @extschema@.jwt_sessions AS f ON f.sid = t.sid
             WHERE t.digest = _jwt_session_binding.digest);
END $$;
REVOKE ALL ON FUNCTION _jwt_session_binding(bytea) FROM PUBLIC;

-- One refresh.  The UPDATE ... WHERE used_at IS NULL is the one point where
-- two refreshes with one token meet: the second waits for the first, and
-- once it commits finds the token used: reuse.  Reuse writes nothing here
-- (the caller's error would roll it back): the C caller has the family
-- revoked in a transaction of its own.  dpop_jkt is the thumbprint of the key
-- whose proof the caller verified (NULL: no proof): a family bound to a key
-- (RFC 9449 section 5) is refreshed only with a proof by that key, an unbound
-- one only without a proof.  Any other presentation, of a spent token too,
-- writes nothing and is not reuse: whoever lacks the key can neither rotate
-- nor end a bound family.
CREATE FUNCTION _jwt_session_rotate(digest bytea, new_digest bytea, jti text, dpop_jkt text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    family text;
    s @extschema@.jwt_sessions;
    refusal text;
    m record;
BEGIN
    UPDATE @extschema@.jwt_session_refresh_tokens AS t SET used_at = clock_timestamp()
     WHERE t.digest = _jwt_session_rotate.digest AND t.used_at IS NULL
       AND EXISTS (SELECT FROM @extschema@.jwt_sessions AS f
                    WHERE f.sid = t.sid AND f.dpop_jkt IS NOT DISTINCT FROM _jwt_session_rotate.dpop_jkt)
    RETURNING t.sid INTO family;
    IF NOT FOUND THEN
        SELECT t.sid INTO family FROM @extschema@.jwt_session_refresh_tokens AS t
         WHERE t.digest = _jwt_session_rotate.digest;
        IF NOT FOUND THEN
            RETURN jsonb_build_object('status', 'unknown');
        END IF;
        SELECT * INTO s FROM @extschema@.jwt_sessions AS f WHERE f.sid = family;
        IF s.dpop_jkt IS DISTINCT FROM _jwt_session_rotate.dpop_jkt THEN
            RETURN jsonb_build_object('status', CASE WHEN s.dpop_jkt IS NULL THEN 'dpop_unbound'
                                                     WHEN _jwt_session_rotate.dpop_jkt IS NULL THEN 'dpop_required'
                                                     ELSE 'dpop_mismatch' END,
                                      'session_id', family);
        END IF;
        refusal := @extschema@._jwt_session_refusal(s);
        RETURN jsonb_build_object('status', coalesce(refusal, 'reused'), 'session_id', family);
    END IF;
    -- The family, if it may be refreshed (as _jwt_session_refusal says), updated
    -- and so locked: a concurrent revocation waits for this refresh, and then
    -- sees the exp of the access token it issues (computed as _jwt_session_mint does).
    UPDATE @extschema@.jwt_sessions AS f
       SET refreshed_at = statement_timestamp(), refreshes = f.refreshes + 1,
           access_expires_at = greatest(f.access_expires_at,
               to_timestamp(floor(extract(epoch FROM least(statement_timestamp() + f.access_lifetime,
                                                           f.expires_at)))))
     WHERE f.sid = family AND f.ended_at IS NULL AND f.expires_at > statement_timestamp()
       AND NOT EXISTS (SELECT FROM @extschema@.jwt_revoked_sessions AS r WHERE r.sid = f.sid)
       AND NOT (f.sub IS NOT NULL AND EXISTS (SELECT FROM @extschema@.jwt_revoked_subjects AS r
                                               WHERE r.sub = f.sub AND r.revoked_before > f.started_at))
    RETURNING f.* INTO s;
    IF NOT FOUND THEN
        SELECT * INTO s FROM @extschema@.jwt_sessions AS f WHERE f.sid = family;
        refusal := @extschema@._jwt_session_refusal(s);
        RETURN jsonb_build_object('status', coalesce(refusal, 'ended'), 'session_id', family);
    END IF;
    SELECT * INTO m FROM @extschema@._jwt_session_mint(s, jti);
    INSERT INTO @extschema@.jwt_session_refresh_tokens (digest, sid, issued_at)
    VALUES (new_digest, family, statement_timestamp());
    RETURN jsonb_build_object('status', 'ok', 'access_token', m.token, 'session_id', family,
                              'access_expires_at', m.exp, 'refresh_expires_at', s.expires_at);
END $$;
REVOKE ALL ON FUNCTION _jwt_session_rotate(bytea, bytea, text, text) FROM PUBLIC;

-- End a family (any sid: one this database did not start is revoked for
-- ever, expires_at NULL); true if this call ended it.  The sid stays
-- revoked until the latest exp of its access tokens; a second revocation
-- keeps the later expiry.
CREATE FUNCTION _jwt_session_revoke(sid text, reason text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    until timestamptz;
    ended boolean;
    known boolean;
BEGIN
    IF sid IS NULL OR sid = '' THEN
        RAISE EXCEPTION 'session_id must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF octet_length(sid) > 1024 THEN
        RAISE EXCEPTION 'session_id is too long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A session id longer than 1024 bytes cannot be revoked; such tokens are refused.';
    END IF;
    -- waits for a refresh in progress, then sees the access token it issued
    UPDATE @extschema@.jwt_sessions AS f SET ended_at = clock_timestamp(), end_reason = reason
     WHERE f.sid = _jwt_session_revoke.sid AND f.ended_at IS NULL
    RETURNING f.access_expires_at INTO until;
    ended := FOUND;
    IF NOT ended THEN
        SELECT f.access_expires_at INTO until FROM @extschema@.jwt_sessions AS f
         WHERE f.sid = _jwt_session_revoke.sid;
        known := FOUND;
    ELSE
        known := true;
    END IF;
    INSERT INTO @extschema@.jwt_revoked_sessions AS r (sid, expires_at, reason)
    VALUES (sid, CASE WHEN known THEN until END, reason)
    ON CONFLICT ON CONSTRAINT jwt_revoked_sessions_pkey DO UPDATE
        SET expires_at = CASE WHEN r.expires_at IS NULL OR EXCLUDED.expires_at IS NULL THEN NULL
                              ELSE greatest(r.expires_at, EXCLUDED.expires_at) END
        WHERE r.expires_at IS NOT NULL
          AND (EXCLUDED.expires_at IS NULL OR r.expires_at < EXCLUDED.expires_at);
    -- a sid of no family here: true if it was not revoked (for ever) already
    RETURN ended OR (NOT known AND FOUND);
END $$;
REVOKE ALL ON FUNCTION _jwt_session_revoke(text, text) FROM PUBLIC;

-- Record a consumed token id; false if it was consumed already.  A second
-- consumer waits on the unique index for the first to commit or roll back.
CREATE FUNCTION _jwt_consume_record(jti text, expires_at timestamptz) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO @extschema@.jwt_consumed_tokens AS t (jti, expires_at)
    VALUES (_jwt_consume_record.jti, _jwt_consume_record.expires_at)
    ON CONFLICT ON CONSTRAINT jwt_consumed_tokens_pkey DO NOTHING;
    RETURN FOUND;
END $$;
REVOKE ALL ON FUNCTION _jwt_consume_record(text, timestamptz) FROM PUBLIC;

-- Purge (called by jwt_purge_revocations): what has been expired for more
-- than a day, the largest jwt.leeway, reads no setting.  A family goes once
-- its absolute end has passed (its access tokens end by then too), with its
-- refresh digests: a refresh token of it is then unknown, still refused.
CREATE FUNCTION _jwt_purge_sessions() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    horizon timestamptz := now() - interval '1 day';
    n bigint;
    total bigint := 0;
BEGIN
    DELETE FROM @extschema@.jwt_sessions WHERE expires_at < horizon AND access_expires_at < horizon;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
    DELETE FROM @extschema@.jwt_revoked_sessions WHERE expires_at < horizon;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
    DELETE FROM @extschema@.jwt_consumed_tokens WHERE expires_at < horizon;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN total + n;
END $$;
REVOKE ALL ON FUNCTION _jwt_purge_sessions() FROM PUBLIC;

-- Public entry points.
CREATE FUNCTION jwt_session_start(claims jsonb, access_lifetime interval DEFAULT '5 minutes',
                                  refresh_lifetime interval DEFAULT '30 days', dpop_jkt text DEFAULT NULL,
                                  OUT access_token text, OUT refresh_token text, OUT session_id text,
                                  OUT access_expires_at timestamptz, OUT refresh_expires_at timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'jwt_session_start'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION jwt_session_start(jsonb, interval, interval, text) IS
'starts a session: a keyring-signed access token with sid and jti, and an opaque refresh token; needs EXECUTE on jwt_keyring_signer()';

CREATE FUNCTION jwt_session_refresh(refresh_token text,
                                    OUT access_token text, OUT refresh_token text, OUT session_id text,
                                    OUT access_expires_at timestamptz, OUT refresh_expires_at timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'jwt_session_refresh'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION jwt_session_refresh(text) IS
'a new access and refresh token for a refresh token, which is then used; a used one presented again ends the session (28JS1); a DPoP-bound session needs the form with a proof (28JS6)';

-- The refresh of a DPoP-bound session (RFC 9449 section 5): a proof by the
-- session's key for this request (method, url; no "ath": a refresh token is
-- not an access token).  The one-argument form stays as it was (same C
-- function); dpop_proof has no default so that a one-argument call still
-- matches it alone, as jwt_authenticate's DPoP form does.  A NULL proof is
-- the one-argument form.
CREATE FUNCTION jwt_session_refresh(refresh_token text, dpop_proof text, method text DEFAULT NULL,
                                    url text DEFAULT NULL,
                                    OUT access_token text, OUT refresh_token text, OUT session_id text,
                                    OUT access_expires_at timestamptz, OUT refresh_expires_at timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'jwt_session_refresh'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION jwt_session_refresh(text, text, text, text) IS
'jwt_session_refresh with a DPoP proof (RFC 9449): a session started with dpop_jkt is refreshed only with a valid proof by that key for this method and url';

CREATE FUNCTION jwt_session_end(refresh_token text) RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_session_end'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION jwt_session_end(text) IS
'logout: ends the session of a refresh token (any of its family) and revokes its access tokens; true if it was not ended already; a DPoP-bound session needs the form with a proof (28JS6)';

-- Logout of a DPoP-bound session: a proof by the session's key, as for a
-- refresh, so that a refresh token alone cannot end the session either.
CREATE FUNCTION jwt_session_end(refresh_token text, dpop_proof text, method text DEFAULT NULL,
                                url text DEFAULT NULL) RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_session_end'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION jwt_session_end(text, text, text, text) IS
'jwt_session_end with a DPoP proof (RFC 9449): a session started with dpop_jkt is ended only with a valid proof by that key for this method and url';

CREATE FUNCTION jwt_revoke_session(session_id text, reason text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN @extschema@._jwt_session_revoke(session_id, coalesce(reason, 'revoked'));
END $$;
COMMENT ON FUNCTION jwt_revoke_session(text, text) IS
'ends a session: its refresh tokens and every token carrying its sid; true if it was not ended already';

-- key is there so that jwt_verify's positional arguments mean the same here;
-- only NULL (the keyring) is accepted.
CREATE FUNCTION jwt_consume(token text, key text DEFAULT NULL, algorithms text[] DEFAULT NULL,
                            audience text DEFAULT NULL,
                            issuer text DEFAULT NULL, leeway interval DEFAULT NULL,
                            required text[] DEFAULT NULL, max_age interval DEFAULT NULL,
                            typ text DEFAULT NULL, subject text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_consume'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION jwt_consume(text, text, text[], text, text, interval, text[], interval, text, text) IS
'verifies a single-use token with the keyring (as jwt_verify) and records its jti as used; a second use is 28JS5';

-- The list form, as jwt_verify's: any of audiences (and of issuers) matches.
CREATE FUNCTION jwt_consume(token text, audiences text[], key text DEFAULT NULL, algorithms text[] DEFAULT NULL,
                            issuers text[] DEFAULT NULL, leeway interval DEFAULT NULL,
                            required text[] DEFAULT NULL, max_age interval DEFAULT NULL,
                            typ text DEFAULT NULL, subject text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_consume_lists'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION jwt_consume(text, text[], text, text[], text[], interval, text[], interval, text, text) IS
'jwt_consume with lists: any of audiences (and of issuers) matches; NULL: the setting';

-- Refreshing and logging out are for the roles the application uses (the
-- refresh token is the credential); starting needs the keyring signer grant,
-- checked in C; revoking a session is for the roles that may revoke.
REVOKE ALL ON FUNCTION jwt_session_refresh(text), jwt_session_refresh(text, text, text, text),
                      jwt_session_end(text), jwt_session_end(text, text, text, text),
                      jwt_revoke_session(text, text) FROM PUBLIC;

-- (end of the sessions section)


-- ---------------------------------------------------------------------------
-- DPoP (RFC 9449): proofs of possession and sender-constrained tokens.
-- ---------------------------------------------------------------------------

-- Proofs already seen (RFC 9449 section 11.1): the SHA-256 of the proof
-- key's thumbprint and its jti, kept until the proof would be refused as too
-- old anyway.  The primary key makes recording atomic: of two sessions with
-- one proof, one inserts and the other finds the row.  Private: jwt writes it
-- from C as its owner; nobody else reads, writes or clears it.  Not dumped:
-- its rows live minutes.
CREATE TABLE jwt_dpop_proofs (
    digest bytea PRIMARY KEY CHECK (octet_length(digest) = 32),
    expires_at timestamptz NOT NULL
);
CREATE INDEX jwt_dpop_proofs_expires_at ON jwt_dpop_proofs (expires_at);
REVOKE ALL ON jwt_dpop_proofs FROM PUBLIC;
COMMENT ON TABLE jwt_dpop_proofs IS
'DPoP proofs seen (SHA-256 of key thumbprint and jti) until they expire; private to jwt';

-- IMMUTABLE: the thumbprint depends on the key alone.
CREATE FUNCTION jwt_thumbprint(jwk jsonb) RETURNS text
AS 'MODULE_PATHNAME', 'jwt_thumbprint'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION jwt_thumbprint(jsonb) IS
'RFC 7638 SHA-256 thumbprint of a public JWK (RSA, EC, OKP); a JWK with private members is refused';

-- VOLATILE and PARALLEL UNSAFE: it records the proof's jti.
CREATE FUNCTION jwt_dpop_verify(proof text, method text, url text,
                                access_token text DEFAULT NULL, nonce text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_dpop_verify'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION jwt_dpop_verify(text, text, text, text, text) IS
'checks a DPoP proof (RFC 9449) for a request and records it as used; returns {"jkt": thumbprint, "claims": claims}';

-- Deletes the rows of proofs that are refused as too old anyway; for a
-- superuser's cron job.
CREATE FUNCTION jwt_dpop_purge() RETURNS bigint
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    WITH gone AS (DELETE FROM @extschema@.jwt_dpop_proofs WHERE expires_at < now() RETURNING 1)
    SELECT count(*) FROM gone
$$;
REVOKE ALL ON FUNCTION jwt_dpop_purge() FROM PUBLIC;
COMMENT ON FUNCTION jwt_dpop_purge() IS
'deletes the records of DPoP proofs past jwt.dpop_max_age (they are refused as too old anyway)';

-- jwt_authenticate with a DPoP proof: a token bound to a key (cnf.jkt) is
-- accepted only with a valid proof by that key, for this token and request.
-- The one-argument jwt_authenticate(token) stays as it was (same C function):
-- dropping it would break, or make ALTER EXTENSION UPDATE fail on, whatever
-- calls it (jwt_auth's functions, PostgREST helpers, users' own functions);
-- dpop_proof has no default so that a one-argument call still matches it
-- alone.  VOLATILE and PARALLEL UNSAFE like it, and it records the proof.
CREATE FUNCTION jwt_authenticate(token text, dpop_proof text, method text DEFAULT NULL,
                                 url text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_authenticate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION jwt_authenticate(text, text, text, text) IS
'jwt_authenticate(token) for DPoP (RFC 9449): a token with cnf.jkt needs a valid proof by that key for this method and url; "Bearer" is refused for it';

-- jwt_postgrest_pre_request for "Authorization: DPoP <token>".  PostgREST
-- reads only "Bearer", so it verified nothing and runs the request as its
-- anonymous role: the request must say so (else 28JP1, 28JP2), and the
-- database checks the token and the DPoP header's proof for request.method
-- and jwt.dpop_base_url || request.path; jwt.role_claim then switches to the
-- token's role.  jwt.dpop_base_url (superuser-only, read after the caller
-- loaded the library) unset: fails closed (55000).  Refusals propagate to the
-- caller's handler (401).
CREATE FUNCTION _jwt_postgrest_dpop(token text, proof text, postgrest_verified boolean,
                                    anonymous_role text, postgrest_role text)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    base text := nullif(current_setting('jwt.dpop_base_url'), '');
BEGIN
    IF postgrest_verified THEN
        RAISE SQLSTATE '28JP1' USING MESSAGE = 'token is not the one PostgREST verified';
    END IF;
    PERFORM @extschema@._jwt_postgrest_anonymous(anonymous_role, postgrest_role);
    -- A proof is recorded in the request's transaction: with "Prefer: tx=rollback"
    -- (PostgREST's db-tx-end = rollback-allow) the record would roll back with
    -- it, and a captured proof could be replayed again and again in its window.
    IF coalesce(current_setting('request.headers', true), '') NOT IN ('', '{}')
       AND current_setting('request.headers', true)::json ->> 'prefer' ~* 'tx[[:space:]]*=[[:space:]]*"?rollback' THEN
        RAISE SQLSTATE '28JD9' USING
            MESSAGE = 'a DPoP proof cannot be used in a request whose transaction is rolled back',
            DETAIL = 'The request says "Prefer: tx=rollback"; its proof would not stay recorded as used.';
    END IF;
    IF base IS NULL THEN
        RAISE SQLSTATE '55000' USING
            MESSAGE = 'jwt_postgrest_pre_request: jwt.dpop_base_url is not set',
            DETAIL = 'A DPoP proof names the URL the client used, which the database cannot know.',
            HINT = 'As a superuser: ALTER DATABASE ... SET jwt.dpop_base_url = ''https://api.example.com''.';
    END IF;
    -- "." and ".." segments would be removed when the URL is normalized, and could climb
    -- out of the base URL's path to another API's URL on the same host: a proof for that
    -- one would then match.  Clients send normalized paths.
    IF current_setting('request.path', true) ~* '(^|/)(\.|%2e){1,2}(/|$)' THEN
        RAISE SQLSTATE '28JD7' USING MESSAGE = 'the request path has dot segments';
    END IF;
    PERFORM @extschema@.jwt_authenticate('DPoP ' || token, proof, current_setting('request.method', true),
                                         rtrim(base, '/') || coalesce(current_setting('request.path', true), '/'));
END $$;

-- (end of the DPoP section)


-- ---------------------------------------------------------------------------
-- Statistics and authentication logging.
-- ---------------------------------------------------------------------------

-- One row per database slot; scope 'cluster' when the library is in
-- shared_preload_libraries (shared memory), 'backend' otherwise (this
-- backend's own counts).  Readable by everyone, as pg_stat_database is:
-- counts only, no token, claim or key.
CREATE FUNCTION _jwt_stats(OUT scope text, OUT datid oid,
                           OUT verifications bigint, OUT verification_failures bigint,
                           OUT authentications bigint, OUT authentication_failures bigint,
                           OUT revocation_hits bigint,
                           OUT key_cache_hits bigint, OUT key_cache_misses bigint,
                           OUT keyring_loads bigint,
                           OUT revocation_cache_hits bigint, OUT revocation_cache_misses bigint,
                           OUT revocation_cache_loads bigint,
                           OUT failures jsonb, OUT stats_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'jwt_stats_rows'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION _jwt_stats() IS
'the counters behind the view jwt_stats';

CREATE VIEW jwt_stats AS
SELECT s.scope, s.datid, d.datname,
       s.verifications, s.verification_failures,
       s.authentications, s.authentication_failures,
       s.revocation_hits,
       s.key_cache_hits, s.key_cache_misses, s.keyring_loads,
       s.revocation_cache_hits, s.revocation_cache_misses, s.revocation_cache_loads,
       s.failures, s.stats_reset
FROM @extschema@._jwt_stats() s
LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.datid;
COMMENT ON VIEW jwt_stats IS
'verifications, authentications, failures by SQLSTATE, revocation hits and cache use, per database (scope: cluster when preloaded, else this backend)';
GRANT SELECT ON jwt_stats TO PUBLIC;

-- Resetting is not for everyone: superusers, and the roles granted EXECUTE.
CREATE FUNCTION jwt_stats_reset() RETURNS void
AS 'MODULE_PATHNAME', 'jwt_stats_reset'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION jwt_stats_reset() IS
'zeroes the counters of jwt_stats (superusers and roles granted EXECUTE on it)';
REVOKE ALL ON FUNCTION jwt_stats_reset() FROM PUBLIC;

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
