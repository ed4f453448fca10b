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
