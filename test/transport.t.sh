#!/usr/bin/env bash
# Transport (issue 19): no bearer token over an unencrypted connection.
# A cluster of its own with ssl = on and a certificate made here, listening on
# 127.0.0.1 as well as its socket.  jwt.require_secure_transport = always
# refuses jwt_authenticate over TCP without TLS (28JT1, saying sslmode=require,
# never the token, and no statement holding it in the log) and accepts TLS and
# the Unix socket; remote lets loopback TCP through, and its rule for other
# addresses is shown through _jwt_transport_allowed.  jwt.revoke_exposed_tokens
# revokes a refused token (by jti, else by digest) in a transaction that the
# refusal does not roll back.  Sessions cannot lower the setting, not even with
# a placeholder set before the library loads, and a hot standby says at once that it
# cannot revoke.  The PostgREST helper refuses a
# request whose X-Forwarded-Proto is not https when jwt.require_forwarded_https
# is on (401, 28JT2).
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh

tls_cluster "-c log_min_error_statement=error"

# q: over the Unix socket; tcp MODE SQL: over TCP with sslmode MODE
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -c "$1"; }
tcp() { psql -X -A -t -q -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate "host=127.0.0.1 port=$PGPORT dbname=postgres user=${2:-postgres} sslmode=$1" -c "$3"; }
# (state, vtcp, sys and settle: test/suite.sh)

q "CREATE EXTENSION jwt"
q "SELECT jwt_generate_key('ES256', 'transport-key')" >/dev/null
q "CREATE ROLE transport_app LOGIN"
q "GRANT EXECUTE ON FUNCTION jwt_keyring_signer() TO transport_app"
T1=$(q "SELECT jwt_sign('{\"sub\":\"alice\",\"jti\":\"exposed-1\"}')")
T2=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -c "SET jwt.add_jti = off" -c "SELECT jwt_sign('{\"sub\":\"bob\"}')")
T3=$(q "SELECT jwt_sign('{\"sub\":\"carol\",\"jti\":\"exposed-3\"}')")

check "TLS is on for sslmode=require" "$(tcp require postgres "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")" t
check "and off for sslmode=disable" "$(tcp disable postgres "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")" f
check "off (the default): TCP without TLS still authenticates" \
    "$(tcp disable postgres "SELECT jwt_authenticate('$T1') ->> 'sub'")" alice

# --- the rule, for every kind of connection (addresses only as values) ---
check "_jwt_transport_allowed: the matrix" "$(q "
SELECT string_agg(format('%s/%s/%s/%s=%s', m, u, t, coalesce(host(a), '-'),
                         _jwt_transport_allowed(m, u, t, a)::int), ' ' ORDER BY m, u, t, host(a) COLLATE \"C\")
FROM unnest('{off,remote,always}'::text[]) m, unnest('{f,t}'::bool[]) u, unnest('{f,t}'::bool[]) t,
     unnest('{127.0.0.1,127.9.9.9,10.1.2.3,::1,::ffff:127.0.0.2,2001:db8::1}'::inet[]) a
WHERE NOT u OR a = '127.0.0.1'")" \
"$(printf '%s ' \
  always/f/f/10.1.2.3=0 always/f/f/127.0.0.1=0 always/f/f/127.9.9.9=0 always/f/f/2001:db8::1=0 always/f/f/::1=0 always/f/f/::ffff:127.0.0.2=0 \
  always/f/t/10.1.2.3=1 always/f/t/127.0.0.1=1 always/f/t/127.9.9.9=1 always/f/t/2001:db8::1=1 always/f/t/::1=1 always/f/t/::ffff:127.0.0.2=1 \
  always/t/f/127.0.0.1=1 always/t/t/127.0.0.1=1 \
  off/f/f/10.1.2.3=1 off/f/f/127.0.0.1=1 off/f/f/127.9.9.9=1 off/f/f/2001:db8::1=1 off/f/f/::1=1 off/f/f/::ffff:127.0.0.2=1 \
  off/f/t/10.1.2.3=1 off/f/t/127.0.0.1=1 off/f/t/127.9.9.9=1 off/f/t/2001:db8::1=1 off/f/t/::1=1 off/f/t/::ffff:127.0.0.2=1 \
  off/t/f/127.0.0.1=1 off/t/t/127.0.0.1=1 \
  remote/f/f/10.1.2.3=0 remote/f/f/127.0.0.1=1 remote/f/f/127.9.9.9=1 remote/f/f/2001:db8::1=0 remote/f/f/::1=1 remote/f/f/::ffff:127.0.0.2=1 \
  remote/f/t/10.1.2.3=1 remote/f/t/127.0.0.1=1 remote/f/t/127.9.9.9=1 remote/f/t/2001:db8::1=1 remote/f/t/::1=1 remote/f/t/::ffff:127.0.0.2=1 \
  remote/t/f/127.0.0.1=1 remote/t/t/127.0.0.1=1 | sed 's/ $//')"

# --- always ---
sys jwt.require_secure_transport always
settle jwt.require_secure_transport always
check "always: TCP without TLS is refused (28JT1)" \
    "$(state tcp disable postgres "SELECT jwt_authenticate('$T1')")" 28JT1
out=$(vtcp disable "SELECT jwt_authenticate('$T1')")
check "the refusal says what to change" "$(grep -o 'sslmode=require' <<<"$out" | head -1)" sslmode=require
check "and never echoes the token" "$(grep -cF -e "${T1#*.}" <<<"$out" || true)" 0
check "the server log holds no statement with the token" "$(grep -cF -e "${T1#*.}" "$CLUSTER_DIR/server.log" || true)" 0
check "always: TCP with TLS authenticates" "$(tcp require postgres "SELECT jwt_authenticate('$T1') ->> 'sub'")" alice
check "always: the Unix socket authenticates" "$(q "SELECT jwt_authenticate('$T1') ->> 'sub'")" alice
check "a refused token is not revoked unless asked" "$(q "SELECT jwt_is_revoked('$T1')")" f

# a session cannot lower the setting: not with SET, not with a placeholder set
# before the library loads (LOAD would load it; the first jwt call does too)
check "a non-superuser cannot SET it off (42501)" \
    "$(state tcp require transport_app "SELECT jwt_claims(); SET jwt.require_secure_transport = off")" 42501
check "a placeholder set before the library loads does not lower it" \
    "$(state tcp disable transport_app "SET jwt.require_secure_transport = off; SELECT jwt_authenticate('$T3')")" 28JT1

# --- remote ---
sys jwt.require_secure_transport remote
settle jwt.require_secure_transport remote
check "remote: loopback TCP without TLS authenticates" \
    "$(tcp disable postgres "SELECT jwt_authenticate('$T1') ->> 'sub'")" alice
check "remote: the Unix socket authenticates" "$(q "SELECT jwt_authenticate('$T1') ->> 'sub'")" alice

# --- revoke_exposed_tokens ---
sys jwt.require_secure_transport always
sys jwt.revoke_exposed_tokens on
settle jwt.revoke_exposed_tokens on
out=$(vtcp disable "SELECT jwt_authenticate('$T1')")
check "exposed: refused, and the detail says it was revoked" \
    "$(grep -o 'The token has been revoked' <<<"$out" | head -1)" "The token has been revoked"
check "the revocation outlived the refusal's rollback (by jti)" \
    "$(q "SELECT jti || ':' || coalesce(reason, '') FROM jwt_revoked_tokens WHERE jti = 'exposed-1'")" \
    "exposed-1:sent over a connection without TLS"
check "the token is refused even over the socket now (28J04)" \
    "$(state q "SELECT jwt_authenticate('$T1')")" 28J04
check "a token without jti is revoked by its digest" \
    "$(state tcp disable postgres "SELECT jwt_authenticate('$T2')"; state q "SELECT jwt_authenticate('$T2')")" \
    "$(printf '28JT1\n28J04')"
check "the id is the digest of the claims: sha256:<base64url>" \
    "$(q "SELECT count(*) FROM jwt_revoked_tokens WHERE jti ~ '^sha256:[A-Za-z0-9_-]{43}\$'")" 1
TE=$(q "SELECT jwt_sign('{\"sub\":\"eve\",\"jti\":\"\"}')")
out=$(vtcp disable "SELECT jwt_authenticate('$TE')")
check "an empty jti cannot be revoked: refused, and the refusal does not claim it was" \
    "$(grep -c 'could not be revoked\|has been revoked' <<<"$out" || true)" 0
FORGED="${T3%.*}.$(printf 'AAAA%.0s' $(seq 21))"
check "a forged token is refused and revokes nothing" \
    "$(state tcp disable postgres "SELECT jwt_authenticate('$FORGED')"; q "SELECT count(*) FROM jwt_revoked_tokens")" \
    "$(printf '28JT1\n2')"
check "the untouched token still works over TLS" \
    "$(tcp require postgres "SELECT jwt_authenticate('$T3') ->> 'sub'")" carol

# a hot standby cannot write: revoking there must say so at once, not wait for a worker that
# could only start after recovery (it held the caller, and a worker slot, for ever)
DB=postgres
standby_start
wait_replay
out=$("$PGBIN/psql" -X -q -A -t -h "$SB/sock" -p "$SB_PORT" -d postgres \
          -c "SET statement_timeout = '20s'; SELECT _jwt_revoke_exposed('$T3')" 2>&1 || true)
check "on a standby: no revocation, a WARNING that says why, and no wait" \
    "$(grep -o 'cannot be revoked on a standby' <<<"$out" | head -1) $(tail -n 1 <<<"$out")" \
    "cannot be revoked on a standby f"

# --- behind PostgREST: X-Forwarded-Proto ---
sys jwt.revoke_exposed_tokens off
sys jwt.require_forwarded_https on
settle jwt.require_forwarded_https on
pre() {  # pre PROTO_JSON: replay PostgREST's statements with T3 as the bearer token
    psql -X -A -t -q -v VERBOSITY=verbose <<SQL 2>&1 | grep -o '28JT2\|"status" *: *401\|HTTPS required\|^ok$' | sed 's/"status" *: */"status": /' | tr '\n' ' ' | sed 's/ $//'
BEGIN;
SELECT set_config('request.jwt.claims', (jwt_verify('$T3') || '{"role":"postgres"}')::text, true) IS NULL;
SELECT set_config('request.headers', (jsonb_build_object('authorization', 'Bearer $T3') || '$1'::jsonb)::text, true) IS NULL;
SELECT jwt_postgrest_pre_request();
SELECT 'ok';
COMMIT;
SQL
}
check "forwarded https: accepted" "$(pre '{"x-forwarded-proto":"https"}')" ok
check "forwarded HTTPS (any case): accepted" "$(pre '{"x-forwarded-proto":" HTTPS "}')" ok
check "forwarded http: 401 with 28JT2 and an HTTPS description" \
    "$(pre '{"x-forwarded-proto":"http"}')" '28JT2 "status": 401 HTTPS required'
check "a hop in http: refused" "$(pre '{"x-forwarded-proto":"https, http"}')" '28JT2 "status": 401 HTTPS required'
check "no X-Forwarded-Proto: refused" "$(pre '{}')" '28JT2 "status": 401 HTTPS required'
psql -X -q -c "ALTER SYSTEM RESET ALL"
settle jwt.require_forwarded_https off
check "off: plain http passes" "$(pre '{"x-forwarded-proto":"http"}')" ok

finish
