\echo Use "CREATE EXTENSION pgjwt" to load this file. \quit

-- pgjwt 0.2.0's functions, with its names, argument types, defaults and results
-- (errors included), in C over the jwt extension's core, in the schema pgjwt:
-- an application switches with SET search_path = pgjwt, public.
--
-- Declared properties are pgjwt's (IMMUTABLE, not STRICT), except:
--   - verify() is STABLE, not IMMUTABLE: it reads the transaction's timestamp.
--     Declared IMMUTABLE, a call with constant arguments could be folded when a
--     statement is planned and its "valid" kept in a cached plan after the
--     token expired.
--   - every function is PARALLEL SAFE (pgjwt declares nothing, so its functions
--     are PARALLEL UNSAFE and keep queries that call them from parallel plans).
--     Results are the same either way.
-- jwt.pgjwt_strict (superuser-only, default off) adds the core's rules; see README.
-- It is read when a function runs: a call that the planner folded (all arguments
-- constant) keeps what it gave under the setting in force when it was planned.

CREATE FUNCTION url_encode(data bytea) RETURNS text
AS 'MODULE_PATHNAME', 'pgjwt_url_encode'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION url_decode(data text) RETURNS bytea
AS 'MODULE_PATHNAME', 'pgjwt_url_decode'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION algorithm_sign(signables text, secret text, algorithm text) RETURNS text
AS 'MODULE_PATHNAME', 'pgjwt_algorithm_sign'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION sign(payload json, secret text, algorithm text DEFAULT 'HS256') RETURNS text
AS 'MODULE_PATHNAME', 'pgjwt_sign'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION try_cast_double(inp text) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgjwt_try_cast_double'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- The functions of verify()'s body.  Internal: call verify().
--   _url_decode_part(token, n)  url_decode(regexp_split_to_array(token, '\.')[n])
--   _header_json(part), _payload_json(part)
--                               convert_from(part, 'utf8')::json
--   _signature_ok(token, secret, algorithm)
--                               part 3 = algorithm_sign(part 1 || '.' || part 2, ...)
--   _times_ok(payload)          tstzrange(to_timestamp(try_cast_double(... ->> 'nbf')),
--                               to_timestamp(... ->> 'exp')) @> CURRENT_TIMESTAMP
-- Each has the volatility of the builtins it stands for in pgjwt's body (decode()
-- and pgcrypto's hmac() are IMMUTABLE, convert_from() and CURRENT_TIMESTAMP are
-- not), so that with constant arguments the planner evaluates the same parts
-- early as for pgjwt, and a token with several defects raises the same error.
CREATE FUNCTION _url_decode_part(token text, n integer) RETURNS bytea
AS 'MODULE_PATHNAME', 'pgjwt_url_decode_part'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION _header_json(part bytea) RETURNS json
AS 'MODULE_PATHNAME', 'pgjwt_header_json'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION _payload_json(part bytea) RETURNS json
AS 'MODULE_PATHNAME', 'pgjwt_payload_json'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION _signature_ok(token text, secret text, algorithm text) RETURNS boolean
AS 'MODULE_PATHNAME', 'pgjwt_signature_ok'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION _times_ok(payload bytea) RETURNS boolean
AS 'MODULE_PATHNAME', 'pgjwt_times_ok'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION _url_decode_part(text, integer) IS 'internal: part of verify()';
COMMENT ON FUNCTION _header_json(bytea) IS 'internal: part of verify()';
COMMENT ON FUNCTION _payload_json(bytea) IS 'internal: part of verify()';
COMMENT ON FUNCTION _signature_ok(text, text, text) IS 'internal: part of verify()';
COMMENT ON FUNCTION _times_ok(bytea) IS 'internal: part of verify()';

-- A SQL function of one SELECT, like pgjwt's, so that the planner inlines it the
-- same way: a query that reads some of the columns evaluates only those, and
-- raises only their errors (SELECT valid FROM verify(...) of a token whose
-- header is not JSON gives false, as with pgjwt, where SELECT * raises); AND
-- skips the time check when the signature does not match.
-- Names are schema-qualified: the body is parsed with the caller's search_path.
CREATE FUNCTION verify(token text, secret text, algorithm text DEFAULT 'HS256')
RETURNS TABLE (header json, payload json, valid boolean)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT @extschema@._header_json(@extschema@._url_decode_part(token, 1)),
           @extschema@._payload_json(@extschema@._url_decode_part(token, 2)),
           @extschema@._signature_ok(token, secret, algorithm)
           AND @extschema@._times_ok(@extschema@._url_decode_part(token, 2))
$$;

-- CREATE EXTENSION made the schema, owned by the superuser and usable by no one
-- else; pgjwt's functions were usable by every role, so these are too.
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
