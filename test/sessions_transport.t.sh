#!/usr/bin/env bash
# Sessions and single-use tokens under jwt.require_secure_transport: the
# functions that take or return bearer credentials (jwt_session_start,
# jwt_session_refresh, jwt_session_end, jwt_consume) refuse a TCP connection
# without TLS (28JT1) and work over TLS and the Unix socket; the refusal never
# quotes the token, nor does the server log.  With jwt.revoke_exposed_tokens,
# a refresh token refused so ends its session (committed although the call
# fails), unless the session is bound to a DPoP key, and a single-use token
# refused so is revoked.  Whatever fails inside
# them, the statement (which holds the token) stays out of the server log.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh

# (jwt preloaded: its shared store of DPoP proofs keeps what a rollback erases)
tls_cluster "-c log_min_error_statement=error -c shared_preload_libraries=jwt"

q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -c "$1"; }
tcp() { psql -X -A -t -q -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate "host=127.0.0.1 port=$PGPORT dbname=postgres user=postgres sslmode=$1" -c "$2"; }
# (state, vtcp, sys and settle: test/suite.sh)
pair() { q "SELECT access_token || '|' || refresh_token FROM jwt_session_start('$1')"; }

q "CREATE EXTENSION jwt"
q "SELECT jwt_generate_key('ES256', 'sessions-transport')" >/dev/null
IFS='|' read -r A R <<<"$(pair '{"sub":"alice"}')"
T=$(q "SELECT jwt_sign('{\"sub\":\"bob\",\"purpose\":\"reset\"}')")

sys jwt.require_secure_transport always
settle jwt.require_secure_transport always
check "TCP without TLS: jwt_session_start refused (28JT1)" \
    "$(state tcp disable "SELECT jwt_session_start('{\"sub\":\"carol\"}')")" 28JT1
check "TCP without TLS: jwt_session_refresh refused (28JT1)" \
    "$(state tcp disable "SELECT jwt_session_refresh('$R')")" 28JT1
check "TCP without TLS: jwt_session_end refused (28JT1)" \
    "$(state tcp disable "SELECT jwt_session_end('$R')")" 28JT1
check "TCP without TLS: jwt_consume refused (28JT1)" \
    "$(state tcp disable "SELECT jwt_consume('$T')")" 28JT1
out=$(vtcp disable "SELECT jwt_session_refresh('$R')")
check "the refusal never echoes the refresh token" "$(grep -cF -e "$R" <<<"$out" || true)" 0
check "the server log holds no refresh token" "$(grep -cF -e "$R" "$CLUSTER_DIR/server.log" || true)" 0
check "with revoke_exposed_tokens off, the session goes on (over TLS)" \
    "$(tcp require "SELECT (jwt_session_refresh('$R')).refresh_token IS NOT NULL")" t
IFS='|' read -r A R <<<"$(pair '{"sub":"alice"}')"
check "over TLS: jwt_session_start works" \
    "$(tcp require "SELECT (jwt_session_start('{\"sub\":\"carol\"}')).session_id IS NOT NULL")" t
check "over the Unix socket: jwt_consume works" "$(q "SELECT jwt_consume('$T') ->> 'sub'")" bob

# --- jwt.revoke_exposed_tokens: what crossed the network in clear is ended ---
sys jwt.revoke_exposed_tokens on
settle jwt.revoke_exposed_tokens on
T2=$(q "SELECT jwt_sign('{\"sub\":\"dave\",\"purpose\":\"reset\"}')")
check "a refresh token sent in clear: refused (28JT1)" \
    "$(state tcp disable "SELECT jwt_session_refresh('$R')")" 28JT1
check "... and its session is ended: refresh over TLS (28JS4)" \
    "$(state tcp require "SELECT jwt_session_refresh('$R')")" 28JS4
check "... and its access token is revoked (28J04)" \
    "$(state tcp require "SELECT jwt_authenticate('$A')")" 28J04
check "... the reason is recorded" "$(q "SELECT end_reason FROM jwt_sessions WHERE claims ->> 'sub' = 'alice' AND ended_at IS NOT NULL")" \
    "exposed in clear"
check "a single-use token sent in clear: refused (28JT1)" \
    "$(state tcp disable "SELECT jwt_consume('$T2')")" 28JT1
check "... and revoked: consuming it over TLS (28J04)" \
    "$(state tcp require "SELECT jwt_consume('$T2')")" 28J04
# Attack: a copy of a DPoP-bound session's refresh token, sent in clear on
# purpose: the token is useless without the client's key, so ending the
# session would only hand whoever holds a copy a way to log its user out.
# The client's key: RFC 8037's example Ed25519 pair.
PUB='{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}'
PRIV='{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}'
URL=https://app.example.com/auth/refresh
proof() { q "SELECT jws_sign(convert_to(jsonb_build_object('jti', gen_random_uuid(), 'htm', 'POST', 'htu', '$1',
                 'iat', floor(extract(epoch FROM now())))::text, 'UTF8'), '$PRIV', 'EdDSA',
                 jsonb_build_object('typ', 'dpop+jwt', 'jwk', '$PUB'::jsonb))"; }
ended() { q "SELECT coalesce(end_reason, 'live') FROM jwt_sessions WHERE claims ->> 'sub' = '$1'"; }
BR=$(q "SELECT refresh_token FROM jwt_session_start('{\"sub\":\"bound\"}', dpop_jkt => jwt_thumbprint('$PUB'))")
check "a DPoP-bound session's refresh token sent in clear: refused (28JT1)" \
    "$(state tcp disable "SELECT jwt_session_refresh('$BR')")" 28JT1
check "... and its session is not ended (no proof of the key came)" "$(ended bound)" live
check "... with a proof for another request: refused (28JT1)" \
    "$(state tcp disable "SELECT jwt_session_refresh('$BR', '$(proof https://app.example.com/other)', 'POST', '$URL')")" 28JT1
check "... and its session is not ended (the proof is good for nothing)" "$(ended bound)" live
check "... as a logout without a proof: refused (28JT1), not ended" \
    "$(state tcp disable "SELECT jwt_session_end('$BR')")|$(ended bound)" "28JT1|live"
check "... with the client's proof for this request: refused (28JT1)" \
    "$(state tcp disable "SELECT jwt_session_refresh('$BR', '$(proof $URL)', 'POST', '$URL')")" 28JT1
check "... and the session is ended: a usable proof crossed in clear with it" "$(ended bound)" "exposed in clear"
check "an unknown refresh token in clear ends nothing and starts no worker" \
    "$(vtcp disable "SELECT jwt_session_refresh('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')" | grep -c 'WARNING' || true)" 0
sys jwt.revoke_exposed_tokens off
sys jwt.require_secure_transport off
settle jwt.require_secure_transport off

# --- the shared store of DPoP proofs and sessions that have ended ---
# Attack: fill the store's half for bound tokens (53400 for every DPoP request
# once full) with the refresh token of a bound session that has ended, kept
# until purged: a proof by the client's key checked (and so recorded, which no
# rollback erases) before the refusal (28JS4), again and again.  Filling that
# half must take a live session, which can be ended.
LOGOUT=https://app.example.com/auth/logout
ER=$(q "SELECT refresh_token FROM jwt_session_start('{\"sub\":\"ended\"}', dpop_jkt => jwt_thumbprint('$PUB'))")
check "a bound session logged out with its key" "$(q "SELECT jwt_session_end('$ER', '$(proof $LOGOUT)', 'POST', '$LOGOUT')")" t
P6=$(proof $URL) P7=$(proof $LOGOUT)
check "its refresh token with a valid proof: refused (28JS4)" \
    "$(state q "SELECT jwt_session_refresh('$ER', '$P6', 'POST', '$URL')")" 28JS4
check "its logout again with a valid proof: false" "$(q "SELECT jwt_session_end('$ER', '$P7', 'POST', '$LOGOUT')")" f
LR=$(q "SELECT refresh_token FROM jwt_session_start('{\"sub\":\"live\"}', dpop_jkt => jwt_thumbprint('$PUB'))")
check "... neither proof was recorded: they refresh and end a live session" \
    "$(q "SELECT session_id IS NOT NULL FROM jwt_session_refresh('$LR', '$P6', 'POST', '$URL')")|$(q "SELECT jwt_session_end('$LR', '$P7', 'POST', '$LOGOUT')")" "t|t"

# --- any failure inside the session functions keeps the statement out of the log ---
# Attack: a refresh token passed as a literal, and the call failing for a reason
# of its own (here a read-only transaction): log_min_error_statement = error
# would write the statement, and the 30-day credential, to the server log.
IFS='|' read -r A R <<<"$(pair '{"sub":"erin"}')"
T3=$(q "SELECT jwt_sign('{\"sub\":\"erin\",\"purpose\":\"reset\"}')")
check "a refresh in a read-only transaction fails (25006)" \
    "$(state q "BEGIN READ ONLY; SELECT jwt_session_refresh('$R'); COMMIT")" 25006
check "a logout in a read-only transaction fails (25006)" \
    "$(state q "BEGIN READ ONLY; SELECT jwt_session_end('$R'); COMMIT")" 25006
check "a consumption in a read-only transaction fails (25006)" \
    "$(state q "BEGIN READ ONLY; SELECT jwt_consume('$T3'); COMMIT")" 25006
check "... and the server log holds neither token" \
    "$(grep -cF -e "$R" -e "${T3#*.}" "$CLUSTER_DIR/server.log" || true)" 0
check "... while it logged the errors" "$(grep -c 'read-only transaction' "$CLUSTER_DIR/server.log" || true)" 3

# Attack: the DPoP forms refused for any reason (no proof, a proof for another
# URL, a garbage proof, a proof for an unbound session, a read-only
# transaction), token and proof as literals, the server logging at debug1:
# neither the refresh token nor the proof (single-use, but good for minutes
# until used) reaches the server log.
sys log_min_messages debug1
settle log_min_messages debug1
BR2=$(q "SELECT refresh_token FROM jwt_session_start('{\"sub\":\"bound2\"}', dpop_jkt => jwt_thumbprint('$PUB'))")
UR=$(q "SELECT refresh_token FROM jwt_session_start('{\"sub\":\"unbound2\"}')")
P1=$(proof https://app.example.com/other) P2=$(proof $URL) P3=$(proof $URL)
check "DPoP forms refused: no proof (28JS6), another URL (28JD7), garbage (28JD1), unbound (28JDC), read-only (25006)" \
    "$(state q "SELECT jwt_session_refresh('$BR2')")|$(state q "SELECT jwt_session_refresh('$BR2', '$P1', 'POST', '$URL')")|$(state q "SELECT jwt_session_end('$BR2', 'x$P2', 'POST', '$URL')")|$(state q "SELECT jwt_session_refresh('$UR', '$P2', 'POST', '$URL')")|$(state q "BEGIN READ ONLY; SELECT jwt_session_refresh('$BR2', '$P3', 'POST', '$URL'); COMMIT")" \
    "28JS6|28JD7|28JD1|28JDC|25006"
check "... and the server log holds neither the refresh tokens nor the proofs" \
    "$(grep -cF -e "$BR2" -e "$UR" -e "${P1##*.}" -e "${P2##*.}" -e "${P3##*.}" "$CLUSTER_DIR/server.log" || true)" 0
check "... while it logged the errors" \
    "$(grep -c -e 'refresh token is bound to a DPoP key' -e 'DPoP proof is for another URL' -e 'DPoP proof is malformed' -e 'refresh token is not bound' "$CLUSTER_DIR/server.log" || true)" 4
# Attack: the same with log_min_error_statement at debug1 (any level may be
# chosen): a message that is no error, raised inside the function (here the
# WARNING of a reuse whose revocation waits for the caller's own lock), would
# log the statement with it.
BR3=$(q "SELECT refresh_token FROM jwt_session_start('{\"sub\":\"bound3\"}', dpop_jkt => jwt_thumbprint('$PUB'))")
P4=$(proof $URL) P5=$(proof $URL)
check "a reuse with the key in the refreshing transaction: WARNING, then 28JS1" \
    "$(q "SET log_min_error_statement = debug1; BEGIN; SELECT 1 FROM jwt_session_refresh('$BR3', '$P4', 'POST', '$URL'); SELECT 1 FROM jwt_session_refresh('$BR3', '$P5', 'POST', '$URL'); COMMIT" 2>&1 | grep -o -e '^WARNING:  01000' -e '^ERROR:  28JS1' | tr '\n' '|')" \
    "WARNING:  01000|ERROR:  28JS1|"
check "... and the server log holds neither the refresh token nor the proofs" \
    "$(grep -cF -e "$BR3" -e "${P4##*.}" -e "${P5##*.}" "$CLUSTER_DIR/server.log" || true)" 0
check "... while it logged the WARNING" "$(grep -c 'WARNING:  session ".*" could not be revoked' "$CLUSTER_DIR/server.log" || true)" 1
sys log_min_messages warning

finish
