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
