/* jwt--0.1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION jwt" to load this file. \quit

-- Signing reads the clock (iat, exp) and the CSPRNG (ECDSA, PSS): VOLATILE.
CREATE FUNCTION jwt_sign(claims jsonb, key text, alg text DEFAULT NULL, header jsonb DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'jwt_sign_text'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION jwt_sign(claims jsonb, key bytea, alg text DEFAULT NULL, header jsonb DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'jwt_sign_bytea'
LANGUAGE C VOLATILE PARALLEL SAFE;

-- Verification reads the clock and settings: STABLE.
CREATE FUNCTION jwt_verify(token text, key text, algorithms text[] DEFAULT NULL,
                           audience text DEFAULT NULL, issuer text DEFAULT NULL,
                           leeway interval DEFAULT NULL, required text[] DEFAULT NULL,
                           max_age interval DEFAULT NULL, typ text DEFAULT NULL,
                           subject text DEFAULT NULL, now timestamptz DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_verify_text'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jwt_verify(token text, key bytea, algorithms text[] DEFAULT NULL,
                           audience text DEFAULT NULL, issuer text DEFAULT NULL,
                           leeway interval DEFAULT NULL, required text[] DEFAULT NULL,
                           max_age interval DEFAULT NULL, typ text DEFAULT NULL,
                           subject text DEFAULT NULL, now timestamptz DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'jwt_verify_bytea'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jwt_is_valid(token text, key text, algorithms text[] DEFAULT NULL,
                             audience text DEFAULT NULL, issuer text DEFAULT NULL,
                             leeway interval DEFAULT NULL, required text[] DEFAULT NULL,
                             max_age interval DEFAULT NULL, typ text DEFAULT NULL,
                             subject text DEFAULT NULL, now timestamptz DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'jwt_is_valid_text'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jwt_is_valid(token text, key bytea, algorithms text[] DEFAULT NULL,
                             audience text DEFAULT NULL, issuer text DEFAULT NULL,
                             leeway interval DEFAULT NULL, required text[] DEFAULT NULL,
                             max_age interval DEFAULT NULL, typ text DEFAULT NULL,
                             subject text DEFAULT NULL, now timestamptz DEFAULT NULL)
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

CREATE FUNCTION jws_sign(payload bytea, key text, alg text DEFAULT NULL, header jsonb DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'jws_sign_text'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION jws_sign(payload bytea, key bytea, alg text DEFAULT NULL, header jsonb DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'jws_sign_bytea'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION jws_verify(token text, key text, algorithms text[] DEFAULT NULL)
RETURNS bytea
AS 'MODULE_PATHNAME', 'jws_verify_text'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jws_verify(token text, key bytea, algorithms text[] DEFAULT NULL)
RETURNS bytea
AS 'MODULE_PATHNAME', 'jws_verify_bytea'
LANGUAGE C STABLE PARALLEL SAFE;
