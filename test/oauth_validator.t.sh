#!/usr/bin/env bash
# Logging in to PostgreSQL 18 with a bearer token (issue 18): jwt as the
# server's OAuth validator (oauth_validator_libraries = 'jwt').
# Runs on the PostgreSQL 18 that test/pg_majors.sh builds (skipped, saying so,
# when it is not built). Builds the extension against it in a directory of its
# own (never in the source tree, where the PostgreSQL 15 build lives), installs
# it into a private copy of that installation, and compiles a libpq 18
# client that hands over a token through PQAUTHDATA_OAUTH_BEARER_TOKEN.
# A cluster of its own: pg_hba.conf has `oauth issuer=... scope=... map=...`
# lines over TLS and one with delegate_ident_mapping=1; pg_ident.conf maps the
# token's identity claim to a role. A valid token logs in as the mapped role
# and jwt_claims() shows its claims; expired, not-yet-valid, revoked (jti, sid,
# subject), wrong-audience, wrong-issuer, missing-scope, retired-key,
# unknown-key, identity-less and garbage tokens are refused, each with its
# reason and SQLSTATE in the server log and no token in it.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh

# --- PostgreSQL 18: where test/pg_majors.sh puts it ---
if [ -n "${JWT_PG_BUILDS_CACHE:-}" ]; then CACHE=$JWT_PG_BUILDS_CACHE
elif [ -n "${XDG_CACHE_HOME:-}" ]; then CACHE=$XDG_CACHE_HOME/jwt-pg-builds
elif [ "$(id -u)" = 0 ]; then CACHE=/var/cache/jwt-pg-builds
else CACHE=${HOME:-/tmp}/.cache/jwt-pg-builds; fi
PG18=$CACHE/18
if [ ! -f "$PG18/.built" ] || [ ! -x "$PG18/bin/pg_config" ]; then
    echo "# PG 18 not built (no $PG18/.built): run 'bash test/pg_majors.sh 18' first"
    echo "0 passed, 0 failed (skipped: PG 18 not built)"
    exit 0
fi

WORK=$(mktemp -d /tmp/jwt-oauth.XXXXXX)
remove_at_exit "$WORK"
chmod 755 "$WORK"
# A private copy of the installation (36 MB; PostgreSQL finds its files relative
# to its binaries): other runs install their own jwt.so into the shared prefix
# whenever they like, and this suite must test its own. Copied under the lock
# test/pg_majors.sh holds while it builds, so never half-written.
( flock 9; cp -a "$CACHE/18" "$WORK/pg18" ) 9>"$CACHE/18.lock"
PG18=$WORK/pg18

# --- the extension, built for 18 in a copy of the tree, and the client ---
# A copy, not a VPATH build: make would take the source tree's objects (built
# for 15 by the main run) for the targets, and the copy leaves none of 18's there.
mkdir "$WORK/src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
        xargs -0 cp -a --parents -t "$WORK/src"
else
    cp -a . "$WORK/src"
fi
CLEAN_ENV=(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL)
make18() { "${CLEAN_ENV[@]}" make -s -C "$WORK/src" PG_CONFIG="$PG18/bin/pg_config" "$@"; }
make18 clean >/dev/null 2>&1
make18 PG_CFLAGS="-Wall -Wextra -Werror" -j"$(nproc)" >"$WORK/build.log" 2>&1 ||
    { cat "$WORK/build.log"; echo "build for PostgreSQL 18 failed"; exit 1; }
make18 install >/dev/null
gcc -Wall -Wextra -Werror -o "$WORK/oauth_client" test/oauth/oauth_client.c \
    -I"$PG18/include" -L"$PG18/lib" -Wl,-rpath,"$PG18/lib" -lpq

# --- the cluster: TLS, the validator, the keys file ---
CERTS=$WORK/certs KEYS=$WORK/keys
mkdir "$CERTS" "$KEYS"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -keyout "$CERTS/server.key" -out "$CERTS/server.crt" >/dev/null 2>&1
chmod 600 "$CERTS/server.key"
echo '{"keys": []}' >"$KEYS/login.jwks"
[ "$(id -u)" = 0 ] && chown -R "${JWT_SERVER_USER:-postgres}" "$CERTS" "$KEYS"
ISSUER=https://issuer.example.com
PGBIN=$PG18/bin
export PATH="$PG18/bin:$PATH"
own_cluster "-c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=$CERTS/server.crt \
 -c ssl_key_file=$CERTS/server.key -c log_connections=authentication,authorization"
LOG=$CLUSTER_DIR/server.log
DATA=$CLUSTER_DIR/data

q() { "$PGBIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -d "${DB:-oauthdb}" -c "$1"; }
"$PGBIN/psql" -X -q -d postgres -c "CREATE DATABASE oauthdb" -c "CREATE DATABASE oauthdel" >/dev/null
DB=oauthdb q "CREATE EXTENSION jwt"
DB=oauthdel q "CREATE EXTENSION jwt"
q "CREATE ROLE alice LOGIN; CREATE ROLE reporting LOGIN"

# two login keys in the keyring and in the file; a third only in the keyring
q "SELECT jwt_generate_key('ES256', 'login-1')" >/dev/null
q "SELECT jwt_generate_key('ES256', 'login-2')" >/dev/null
q "SELECT jwt_generate_key('ES256', 'not-in-file')" >/dev/null
q "SELECT jsonb_build_object('keys', jsonb_path_query_array(jwt_jwks(), '\$.keys[*] ? (@.kid != \"not-in-file\")'))" \
    >"$KEYS/login.jwks"
# the delegation database has its own keyring: the same public keys, bound to the issuer
DB=oauthdel q "SELECT jwt_import_jwks('$(cat "$KEYS/login.jwks")'::jsonb, '$ISSUER')" >/dev/null

# in postgresql.conf, as in the README (ALTER SYSTEM can then override them)
cat >>"$DATA/postgresql.conf" <<EOF
oauth_validator_libraries = 'jwt'
jwt.oauth_keys_file = '$KEYS/login.jwks'
jwt.audience = 'db.example.com'
jwt.role_claim = 'db_role'
EOF
cat >"$DATA/pg_hba.conf" <<EOF
local   all       all                   trust
hostssl replication all     127.0.0.1/32 oauth issuer=$ISSUER scope="db:login" map=tokens
hostssl oauthdel  all       127.0.0.1/32 oauth issuer=$ISSUER scope="db:login" delegate_ident_mapping=1
hostssl oauthdb   all       127.0.0.1/32 oauth issuer=$ISSUER scope="openid db:login" map=tokens
hostssl all       all       127.0.0.1/32 oauth issuer=$ISSUER scope="db:login" map=tokens
EOF
cat >"$DATA/pg_ident.conf" <<'EOF'
tokens  /^([a-z]+)@example\.com$   \1
EOF
[ "$(id -u)" = 0 ] && chown "${JWT_SERVER_USER:-postgres}" "$DATA/pg_hba.conf" "$DATA/pg_ident.conf"
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5

NOW=$(date +%s)
# sign CLAIMS [KID]: a token from the keyring (login-1 unless KID)
sign() { q "SELECT jwt_sign('$1'::jsonb, NULL, NULL, '{\"kid\": \"${2:-login-1}\"}')"; }
# sign_noexp CLAIMS: a token without exp (jwt_sign adds one unless told not to)
sign_noexp() { "$PGBIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -d oauthdb -c "SET jwt.default_lifetime = 0" \
                   -c "SELECT jwt_sign('$1'::jsonb, NULL, NULL, '{\"kid\": \"login-1\"}')"; }
claims() {   # claims [EXTRA-JSON-MEMBERS]
    echo "{\"iss\": \"$ISSUER\", \"aud\": \"db.example.com\", \"sub\": \"alice@example.com\",
           \"scope\": \"openid profile db:login\", \"iat\": $NOW, \"exp\": $((NOW + 600))${1:+, $1}}"
}
# login TOKEN [DB] [USER] [SQL]: the client's output, or "refused" plus libpq's message
login() {
    local out
    if out=$(OAUTH_TOKEN=$1 "$WORK/oauth_client" \
        "host=127.0.0.1 port=$PGPORT dbname=${2:-oauthdb} user=${3:-alice} sslmode=require \
         oauth_issuer=$ISSUER oauth_client_id=test-client" \
        "${4:-SELECT current_user}" 2>&1); then
        echo "$out"
    else
        echo "refused: $out"
    fi
}
# refused NAME TOKEN SQLSTATE [REASON] [DB] [USER]: the login fails, the server log
# says "refused (SQLSTATE" (and REASON), and the token is nowhere in the log
refused() {
    local mark out new
    [ -n "$2" ] || { notok "$1: no token was made"; return 0; }
    mark=$(wc -l <"$LOG")
    out=$(login "$2" "${5:-oauthdb}" "${6:-alice}")
    check "$1: refused" "${out%%:*}" refused
    sleep 0.2
    new=$(tail -n +$((mark + 1)) "$LOG")
    if grep -q -F "refused ($3" <<<"$new" && { [ -z "${4:-}" ] || grep -q -F "$4" <<<"$new"; }; then
        ok "$1: the log says why ($3${4:+, $4})"
    else
        notok "$1: the log says why ($3${4:+, $4})"; sed 's/^/#   log: /' <<<"$new"
    fi
    if grep -q -F -e "$2" <<<"$new"; then
        notok "$1: the token is not in the log"
    else
        ok "$1: the token is not in the log"
    fi
}

# --- a valid token ---
GOOD=$(sign "$(claims '"jti": "login-ok-1"')")
check "a valid token logs in as the mapped role" "$(login "$GOOD")" alice
check "jwt_claims() is the login token's claims" \
    "$(login "$GOOD" oauthdb alice "SELECT jwt_claims()->>'sub' || ' ' || (jwt_claims()->>'jti')")" \
    "alice@example.com login-ok-1"
check "the identity lasts the session (a later transaction sees it)" \
    "$(login "$GOOD" oauthdb alice "BEGIN; SELECT 1; COMMIT; SELECT jwt_claim('jti')")" login-ok-1
check "RESET ALL clears it (fails closed: no identity)" \
    "$(login "$GOOD" oauthdb alice "RESET ALL; SELECT jwt_claims() IS NULL")" t
check "it is not marked as impersonated" \
    "$(login "$GOOD" oauthdb alice "SELECT current_setting('jwt.impersonated_by') = ''")" t
check "a session cannot overwrite it" \
    "$(login "$GOOD" oauthdb alice "SELECT set_config('jwt.claims', '{\"sub\": \"mallory\"}', false)" | head -n 1 | cut -d: -f1)" refused
check "system_user is the token's identity" \
    "$(login "$GOOD" oauthdb alice "SELECT system_user")" "oauth:alice@example.com"
check "the identity may not pick another role (pg_ident maps alice only)" \
    "$(login "$GOOD" oauthdb reporting | head -n 1 | cut -d: -f1)" refused
if grep -q -F "$GOOD" "$LOG"; then notok "a valid token is not in the log either"; else ok "a valid token is not in the log either"; fi

# --- refusals at authentication (no database needed) ---
refused "expired" "$(sign "$(claims | sed "s/\"iat\": [0-9]*/\"iat\": $((NOW - 720))/; s/\"exp\": [0-9]*/\"exp\": $((NOW - 120))/")")" 28J01
refused "not yet valid" "$(sign "$(claims "\"nbf\": $((NOW + 3600))")")" 28J02 ""
refused "wrong audience" "$(sign "$(claims | sed 's/db.example.com/other.example.com/')")" 28J05 ""
refused "wrong issuer (not pg_hba.conf's)" \
    "$(sign "$(claims | sed 's#https://issuer.example.com#https://evil.example.com#')")" 28J06 ""
refused "missing scope" "$(sign "$(claims | sed 's/ db:login//')")" 28JO1 "token lacks a required scope"
refused "scope as a prefix is not the scope" "$(sign "$(claims | sed 's/db:login/db:log/')")" 28JO1 ""
refused "no exp" "$(sign_noexp "$(claims | sed "s/, \"exp\": [0-9]*//")")" 28J08 ""
refused "no identity claim" "$(sign "$(claims | sed 's/"sub": "alice@example.com",//')")" 28JO2 ""
refused "a key not in the file" "$(sign "$(claims)" not-in-file)" 28J0D ""
refused "garbage" "not.a.token" 22J0 ""
refused "a forged signature" "$(sign "$(claims)" | sed 's/\.[^.]*$/.AAAA/')" 28J03 ""

# --- refusals once the database is connected: the keyring and revocation ---
q "SELECT jwt_revoke_jti('revoked-1', now() + interval '1 hour')" >/dev/null
refused "revoked jti" "$(sign "$(claims '"jti": "revoked-1"')")" 28J04 ""
q "CREATE ROLE bob LOGIN" >/dev/null
BOB_TOKEN=$(sign "$(claims '"jti": "bob-1"' | sed 's/alice@/bob@/')")
check "bob logs in before his subject is revoked" "$(login "$BOB_TOKEN" oauthdb bob)" bob
sleep 1
q "SELECT jwt_revoke_subject('bob@example.com')" >/dev/null
refused "revoked subject" "$BOB_TOKEN" 28J04 "" oauthdb bob
SID_TOKEN=$(sign "$(claims '"jti": "sid-1", "sid": "session-42"')")
check "a token of a live session logs in" "$(login "$SID_TOKEN")" alice
q "SELECT jwt_revoke_session('session-42')" >/dev/null
refused "revoked session (sid)" "$SID_TOKEN" 28J04 ""
RETIRED=$(sign "$(claims '"jti": "retired-1"')" login-2)
check "a login-2 token logs in while the key is active" "$(login "$RETIRED")" alice
q "SELECT jwt_retire_key('login-2')" >/dev/null
refused "retired key (still in the file)" "$RETIRED" 28J0D ""
check "the database refusal is the connection's error (FATAL, before any query)" \
    "$(login "$RETIRED" | grep -c 'FATAL' | sed 's/^[1-9][0-9]*$/yes/')" yes

# step 2 applies the database's own settings, as jwt_authenticate does there
q "ALTER DATABASE oauthdb SET jwt.audience = 'reports.example.com'" >/dev/null
refused "a per-database audience" "$GOOD" 28J05 "token audience does not match"
q "ALTER DATABASE oauthdb RESET jwt.audience" >/dev/null
check "and without it the token logs in again" "$(login "$GOOD")" alice

# a database without the extension cannot check revocation: no login there
"$PGBIN/psql" -X -q -d postgres -c "CREATE DATABASE noext" >/dev/null
out=$(login "$GOOD" noext)
check "a database without the extension refuses the login" "${out%%:*}" refused
check "with a FATAL error at connection" "$(grep -c FATAL <<<"$out" | sed 's/^[1-9][0-9]*$/yes/')" yes

# a physical replication connection has no database to check the token in
q "ALTER ROLE alice REPLICATION" >/dev/null
out=$(OAUTH_TOKEN=$GOOD "$WORK/oauth_client" "host=127.0.0.1 port=$PGPORT user=alice replication=true \
      sslmode=require oauth_issuer=$ISSUER oauth_client_id=test-client" "IDENTIFY_SYSTEM" 2>&1 || true)
check "a replication connection cannot log in with a token (28JO4)" \
    "$(grep -c 'a token login needs a database connection' <<<"$out" | sed 's/^[1-9][0-9]*$/yes/')" yes
q "ALTER ROLE alice NOREPLICATION" >/dev/null

# --- delegate_ident_mapping: the role claim names the role ---
DEL=$(sign "$(claims '"db_role": "reporting"')")
check "delegation: the role claim's role logs in" "$(login "$DEL" oauthdel reporting)" reporting
check "delegation: jwt_claims() is the token's" \
    "$(login "$DEL" oauthdel reporting "SELECT jwt_claim('db_role') || ' ' || session_user")" "reporting reporting"
refused "delegation: another role than the claim's" "$DEL" 28JO3 "token does not name the requested role" oauthdel alice
refused "delegation: no role claim" "$(sign "$(claims)")" 28JO3 "" oauthdel alice

# --- a missing keys file refuses everything ---
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d oauthdb -c "LOAD 'jwt'" \
    -c "ALTER SYSTEM SET jwt.oauth_keys_file = '$KEYS/missing.jwks'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
refused "no keys file" "$GOOD" "F0000" "cannot use jwt.oauth_keys_file"

[ -z "${JWT_OAUTH_KEEP_LOG:-}" ] || cp "$LOG" "$JWT_OAUTH_KEEP_LOG"
grep -E 'terminated by signal|PANIC|TRAP:' "$LOG" && notok "no backend crashed" || ok "no backend crashed"
finish
