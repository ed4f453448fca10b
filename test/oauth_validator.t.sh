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
"$PGBIN/psql" -X -q -d postgres -c "CREATE DATABASE oauthcomma" >/dev/null
DB=oauthcomma q "CREATE EXTENSION jwt"
DB=oauthcomma q "SELECT jwt_import_jwks('$(cat "$KEYS/login.jwks")'::jsonb, '$ISSUER/t/a,b')" >/dev/null

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
hostssl oauthcomma all      127.0.0.1/32 oauth issuer="$ISSUER/t/a,b" scope="db:login" map=tokens
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
    if grep -q -F "refused ($3" <<<"$new" && { [ -z "${4:-}" ] || grep -q -F -e "$4" <<<"$new"; }; then
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
# Attack (review of issue 17): the token cache keeping the login token, which the login wipes
# everywhere else (verified twice in the backend, steps 1 and 2: stored on its second sight).
check "the login leaves no copy of its token in the token cache" \
    "$(login "$GOOD" oauthdb alice "SELECT entries || ' ' || stores FROM jwt_token_cache_stats()")" "0 0"
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
if grep -q -F -e "$GOOD" "$LOG"; then notok "a valid token is not in the log either"; else ok "a valid token is not in the log either"; fi

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
# log injection: PostgreSQL logs the identity verbatim ("connection authenticated:
# identity=..."); a newline in the claim would forge a line of the server log
refused "an identity with a newline (log injection)" \
    "$(sign "$(claims | sed 's/"sub": "alice@example.com"/"sub": "alice@example.com\\u000aLOG:  forged by the token"/')")" \
    28JO2 "control character"
check "no forged line reached the log" "$(grep -c '^[[:space:]]*LOG:  forged by the token' "$LOG" || true)" 0
refused "an identity of 1000 bytes (log flooding)" \
    "$(sign "$(claims | sed "s/\"sub\": \"alice@example.com\"/\"sub\": \"$(printf '%01000d' 0 | tr 0 a)@example.com\"/")")" \
    28JO2 "more than 512 bytes"
refused "a key not in the file" "$(sign "$(claims)" not-in-file)" 28J0D ""
refused "garbage" "not.a.token" 22J0 ""
refused "a forged signature" "$(sign "$(claims)" | sed 's/\.[^.]*$/.AAAA/')" 28J03 ""
# RFC 9449 section 7.1, issue 15 review: a stolen DPoP-bound token (cnf.jkt) used
# as an OAUTHBEARER login, where no proof can come with it
refused "a DPoP-bound token (cnf.jkt) as a bearer login" \
    "$(sign "$(claims '"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}')")" 28JDD ""
refused "a token bound by another method (cnf.x5t#S256)" \
    "$(sign "$(claims '"cnf": {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}')")" 28JDC ""

# issuer confusion: pg_hba.conf's issuer= is one URL, which may hold a comma; read as
# a jwt.issuer list it would accept a token of the issuer "$ISSUER/t/a" (another tenant)
comma_login() {
    OAUTH_TOKEN=$1 "$WORK/oauth_client" "host=127.0.0.1 port=$PGPORT dbname=oauthcomma user=alice \
        sslmode=require oauth_issuer=$ISSUER/t/a,b oauth_client_id=test-client" "SELECT current_user" 2>&1 ||
        echo refused
}
check "issuer= with a comma: its own issuer logs in" \
    "$(comma_login "$(sign "$(claims | sed "s#\"iss\": \"$ISSUER\"#\"iss\": \"$ISSUER/t/a,b\"#")")")" alice
mark=$(wc -l <"$LOG")
check "issuer= with a comma is not a list (the issuer before the comma is refused)" \
    "$(comma_login "$(sign "$(claims | sed "s#\"iss\": \"$ISSUER\"#\"iss\": \"$ISSUER/t/a\"#")")" | tail -n 1)" refused
# at authentication, by pg_hba.conf's issuer (the keyring of step 2 may well hold that tenant's keys)
check "and the log says pg_hba.conf's issuer refused it (28J06)" \
    "$(tail -n +$((mark + 1)) "$LOG" | grep -c 'refused (28J06): token issuer does not match' | sed 's/^[1-9][0-9]*$/yes/')" yes

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
# settings bypass: a superuser's startup packet may set superuser settings, and
# they are applied before step 2 runs; options=-c jwt.audience=... would undo
# the database's own audience
q "CREATE ROLE chief LOGIN SUPERUSER" >/dev/null
ROOT_TOKEN=$(sign "$(claims '"jti": "chief-1"' | sed 's/alice@/chief@/')")
out=$(OAUTH_TOKEN=$ROOT_TOKEN "$WORK/oauth_client" "host=127.0.0.1 port=$PGPORT dbname=oauthdb user=chief \
      sslmode=require oauth_issuer=$ISSUER oauth_client_id=test-client options='-c jwt.audience=db.example.com'" \
      "SELECT current_user" 2>&1 || true)
check "a superuser's options=-c jwt.audience=... does not override the database's (refused)" \
    "$(grep -c 'cannot set "jwt.audience" in the connection request' <<<"$out" | sed 's/^[1-9][0-9]*$/yes/')" yes
q "ALTER DATABASE oauthdb RESET jwt.audience" >/dev/null
check "without the option the superuser's token logs in (mapped in pg_ident.conf)" \
    "$(login "$ROOT_TOKEN" oauthdb chief)" chief
# code loaded before step 2: a superuser's startup packet may name any library file, and
# it was loaded (its _PG_init run) before the revocation check; refused at authentication
for opt in "-c session_preload_libraries=/nonexistent/evil" "--Session-Preload-Libraries=/nonexistent/evil"; do
    mark=$(wc -l <"$LOG")
    out=$(OAUTH_TOKEN=$ROOT_TOKEN "$WORK/oauth_client" "host=127.0.0.1 port=$PGPORT dbname=oauthdb user=chief \
          sslmode=require oauth_issuer=$ISSUER oauth_client_id=test-client options='$opt'" \
          "SELECT current_user" 2>&1 || echo refused)
    check "options=$opt: refused" "$(tail -n 1 <<<"$out")" refused
    sleep 0.2
    new=$(tail -n +$((mark + 1)) "$LOG")
    check "options=$opt: refused at authentication (28JO5), no library loaded" \
        "$(grep -c 'refused (28JO5)' <<<"$new")/$(grep -c 'nonexistent/evil' <<<"$new")" 1/0
done
out=$(OAUTH_TOKEN=$GOOD "$WORK/oauth_client" "host=127.0.0.1 port=$PGPORT dbname=oauthdb user=alice \
      sslmode=require oauth_issuer=$ISSUER oauth_client_id=test-client options='-c jwt.revocation_cache=off'" \
      "SELECT current_user" 2>&1 || true)
check "a user-settable jwt setting in the startup packet is refused too" \
    "$(grep -c 'cannot set "jwt.revocation_cache"' <<<"$out" | sed 's/^[1-9][0-9]*$/yes/')" yes
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
# a logical walsender (replication=database) reads commands right after startup: step 2
# must have run at its startup transaction's commit, as for any other connection
out=$(OAUTH_TOKEN=$(sign "$(claims '"jti": "revoked-1"')") "$WORK/oauth_client" "host=127.0.0.1 port=$PGPORT \
      dbname=oauthdb user=alice replication=database sslmode=require oauth_issuer=$ISSUER \
      oauth_client_id=test-client" "IDENTIFY_SYSTEM" 2>&1 || true)
check "a logical replication connection with a revoked token is refused (FATAL 28J04 before any command)" \
    "$(grep -c 'FATAL:  token has been revoked' <<<"$out" | sed 's/^[1-9][0-9]*$/yes/')" yes
check "a logical replication connection with a valid token gets its identity" \
    "$(OAUTH_TOKEN=$GOOD "$WORK/oauth_client" "host=127.0.0.1 port=$PGPORT dbname=oauthdb user=alice \
       replication=database sslmode=require oauth_issuer=$ISSUER oauth_client_id=test-client" \
       "SELECT jwt_claim('jti')" 2>&1)" login-ok-1
q "ALTER ROLE alice NOREPLICATION" >/dev/null

# --- delegate_ident_mapping: the role claim names the role ---
DEL=$(sign "$(claims '"db_role": "reporting"')")
check "delegation: the role claim's role logs in" "$(login "$DEL" oauthdel reporting)" reporting
check "delegation: jwt_claims() is the token's" \
    "$(login "$DEL" oauthdel reporting "SELECT jwt_claim('db_role') || ' ' || session_user")" "reporting reporting"
refused "delegation: another role than the claim's" "$DEL" 28JO3 "token does not name the requested role" oauthdel alice
refused "delegation: no role claim" "$(sign "$(claims)")" 28JO3 "" oauthdel alice
# privilege escalation: on a line for all users, a token whose role claim names
# a superuser would log in as that superuser, on the token issuer's word alone
q "CREATE ROLE boss LOGIN SUPERUSER" >/dev/null
refused "delegation: a role claim naming a superuser" "$(sign "$(claims '"db_role": "boss"')")" 28JO3 \
    "does not log in a superuser" oauthdel boss
# the same through a predefined role that reaches the server's programs (COPY ... PROGRAM)
q "CREATE ROLE runner LOGIN; GRANT pg_execute_server_program TO runner" >/dev/null
refused "delegation: a role claim naming a member of pg_execute_server_program" \
    "$(sign "$(claims '"db_role": "runner"')")" 28JO3 "does not log in a superuser" oauthdel runner

# --- the keys file: whoever can write it chooses the keys logins trust ---
chmod 666 "$KEYS/login.jwks"
refused "a world-writable keys file (anyone could add a key)" "$GOOD" "F0000" "writable by no one else"
chmod 664 "$KEYS/login.jwks"
refused "a group-writable keys file" "$GOOD" "F0000" "writable by no one else"
chmod 644 "$KEYS/login.jwks"
check "a keys file only its owner writes is used again" "$(login "$GOOD")" alice
ln -s "$KEYS/login.jwks" "$KEYS/link.jwks"
# a file that is neither JSON nor PEM would be taken for an HMAC secret
printf 'not a key: only text, and long enough to pass for an HMAC secret of a good length\n' >"$KEYS/secret.txt"
[ "$(id -u)" = 0 ] && chown -h "${JWT_SERVER_USER:-postgres}" "$KEYS/secret.txt" "$KEYS/link.jwks"
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d oauthdb -c "LOAD 'jwt'" \
    -c "ALTER SYSTEM SET jwt.oauth_keys_file = '$KEYS/link.jwks'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
check "a symbolic link to the keys file works (the server administrator's choice)" "$(login "$GOOD")" alice
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d oauthdb -c "LOAD 'jwt'" \
    -c "ALTER SYSTEM SET jwt.oauth_keys_file = '$KEYS/secret.txt'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
refused "a keys file of plain text (taken for an HMAC secret)" "$GOOD" "F0000" "holds no usable key"
# a private key: a signing key kept where only verifying is needed (and checking it
# would cost every connection attempt, authenticated or not)
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$KEYS/private.pem" 2>/dev/null
chmod 600 "$KEYS/private.pem"
[ "$(id -u)" = 0 ] && chown "${JWT_SERVER_USER:-postgres}" "$KEYS/private.pem"
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d oauthdb -c "LOAD 'jwt'" \
    -c "ALTER SYSTEM SET jwt.oauth_keys_file = '$KEYS/private.pem'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
refused "a keys file holding a private key" "$GOOD" "F0000" "a private or secret (HMAC) key"

# --- a missing keys file refuses everything ---
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d oauthdb -c "LOAD 'jwt'" \
    -c "ALTER SYSTEM SET jwt.oauth_keys_file = '$KEYS/missing.jwks'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
refused "no keys file" "$GOOD" "F0000" "cannot use jwt.oauth_keys_file"

[ -z "${JWT_OAUTH_KEEP_LOG:-}" ] || cp "$LOG" "$JWT_OAUTH_KEEP_LOG"
grep -E 'terminated by signal|PANIC|TRAP:' "$LOG" && notok "no backend crashed" || ok "no backend crashed"
finish
