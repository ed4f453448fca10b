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

-- (end of the keyring section)

-- ======================================================================
-- PostgREST's pre-request helper authenticates exactly the token PostgREST
-- verified (issue 13 items 1-4).
-- ======================================================================

-- (end of the PostgREST section)
