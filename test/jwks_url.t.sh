#!/usr/bin/env bash
# JWKS from a URL: a local HTTPS identity provider on 127.0.0.1 with a CA of
# its own (test/jwks_idp.py: Debian python3, python3-jwt, python3-cryptography;
# certificates made with the openssl CLI in a temporary directory) serves
# OpenID Connect discovery and a JWKS per tenant (one tenant, one issuer) and
# signs tokens.  The server runs with jwt preloaded and a refresh worker for
# the database "postgres".  Tokens verify; rotations reach the keyring through
# the kid-miss nudge and through the scheduled refresh; a provider that is down
# or answers with something broken or hostile changes no key and shows its
# error in jwt_issuers; plain http, unverified TLS and strangers are refused;
# a hot standby sees the keys through WAL and runs no worker.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
PY="/usr/bin/python3 -I"

W=$(mktemp -d /tmp/jwt-idp.XXXXXX)
chmod 755 "$W"
IDP_PIDS=()
stop_idps() { local p; for p in "${IDP_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; IDP_PIDS=(); }

# --- certificates: a test CA, the provider's certificate, a self-signed one ---
ossl() { openssl "$@" >/dev/null 2>&1; }
ossl req -x509 -newkey rsa:2048 -nodes -keyout "$W/ca.key" -out "$W/ca.pem" -days 2 -subj /CN=jwt-test-ca
ossl req -newkey rsa:2048 -nodes -keyout "$W/idp.key" -out "$W/idp.csr" -subj /CN=127.0.0.1
printf 'subjectAltName=IP:127.0.0.1\n' >"$W/san.ext"
ossl x509 -req -in "$W/idp.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial \
    -out "$W/idp.pem" -days 2 -extfile "$W/san.ext"
ossl req -x509 -newkey rsa:2048 -nodes -keyout "$W/self.key" -out "$W/self.pem" -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1
chmod a+r "$W"/*

# A dead proxy in the postmaster's environment: fetches must go direct, never
# through whatever proxy the server's environment names.
export https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 \
    ALL_PROXY=http://127.0.0.1:9 all_proxy=http://127.0.0.1:9 NO_PROXY= no_proxy=
own_cluster "-c shared_preload_libraries=jwt -c jwt.issuer_databases=postgres \
    -c jwt.http_ca_file=$W/ca.pem -c jwt.http_timeout=2000"
at_exit stop_idps
remove_at_exit "$W"
DB=postgres

# idp_start PORT CERT KEY: a provider on 127.0.0.1:PORT, once it accepts connections
idp_start() {
    $PY test/jwks_idp.py serve "$W/root" "$1" "$2" "${3:-}" 2>>"$W/idp.log" &
    IDP_PIDS+=($!)
    for _ in $(seq 100); do
        # accepting, and still running (not another program's port it failed to bind)
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && sleep 0.2 && kill -0 "${IDP_PIDS[-1]}" 2>/dev/null && return 0
        kill -0 "${IDP_PIDS[-1]}" 2>/dev/null || break   # it exited: the port is taken
        sleep 0.1
    done
    echo "# the provider on port $1 did not start:" >&2
    tail -n 5 "$W/idp.log" | sed 's/^/#   /' >&2
    return 1
}
# The three providers, on ports below the kernel's ephemeral range (32768 and
# up by default), where no outgoing connection of the run can hold one; if one
# is taken all the same, three other ports.
for attempt in 1 2 3 4 5; do
    PORT=$(( 20000 + RANDOM % 9000 )); SELF_PORT=$((PORT + 1)); PLAIN_PORT=$((PORT + 2))
    if idp_start "$PORT" "$W/idp.pem" "$W/idp.key" && idp_start "$SELF_PORT" "$W/self.pem" "$W/self.key" &&
       idp_start "$PLAIN_PORT" - -; then
        break
    fi
    stop_idps
    [ "$attempt" != 5 ] || exit 1
done
IDP_PID=${IDP_PIDS[0]}

iss() { echo "https://127.0.0.1:$PORT/$1"; }
key() { $PY test/jwks_idp.py key "$W/root" "$1" "$2"; }
drop() { $PY test/jwks_idp.py drop "$W/root" "$1" "$2"; }
sign() { $PY test/jwks_idp.py sign "$W/root" "$1" "$2" "${3:-$(iss "$1")}"; }
mode() { echo "$2" >"$W/root/$1/mode"; }
# q SQL: its output, errors and warnings as "ERROR:  SQLSTATE" / "WARNING:  SQLSTATE" lines
q() { "$PGBIN/psql" -X -q -A -t -v VERBOSITY=sqlstate -d "$DB" -c "$1" 2>&1; }
verify() { q "SELECT jwt_verify('$1')->>'sub'"; }
# until_ok SQL EXPECTED: poll (up to N tenths of a second, default 300) until SQL gives EXPECTED
until_ok() {
    local out
    for _ in $(seq "${3:-300}"); do
        out=$(q "$1") && [ "$out" = "$2" ] && { echo "$out"; return 0; }
        sleep 0.1
    done
    echo "$out"
}
for t in a b c d p s; do mkdir -p "$W/root/$t"; done
chmod -R a+rwX "$W/root"
key a a1; key b b1; key c c1; key d d1; key s s1

p "CREATE EXTENSION jwt" >/dev/null
check "the refresh worker runs on the primary" \
    "$(until_ok "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'jwt issuer refresh'" 1)" 1

# --- discovery and explicit URLs ---
check "discovery: jwt_add_issuer finds the JWKS through the issuer's discovery document" \
    "$(q "SELECT jwt_add_issuer('$(iss a)')")" 1
check "jwt_issuers: the discovered URL, state ok, one key" \
    "$(q "SELECT jwks_url, discovered, state, key_count, last_error IS NULL FROM jwt_issuers WHERE issuer = '$(iss a)'")" \
    "$(iss a)/jwks|t|ok|1|t"
check "proxy from the environment: the postmaster's https_proxy (dead) is not used" \
    "$(q "SELECT jwt_refresh_issuer('$(iss a)')")" 1
T_A1=$(sign a a1)
check "a token signed by the provider's key verifies" "$(verify "$T_A1")" user-a1
check "an explicit jwks_url is fetched without discovery" \
    "$(q "SELECT jwt_add_issuer('$(iss b)', '$(iss b)/jwks', '2 hours')")" 1
check "jwt_issuers: the explicit URL, not discovered" \
    "$(q "SELECT jwks_url, discovered, refresh FROM jwt_issuers WHERE issuer = '$(iss b)'")" \
    "$(iss b)/jwks|f|02:00:00"
check "a token of the second provider verifies" "$(verify "$(sign b b1)")" user-b1

# --- rotation, reached through the kid-miss nudge ---
key a a2
T_A2=$(sign a a2)
check "rotation: a token signed by a key the keyring has not fetched yet is refused at first (28J0D)" \
    "$(verify "$T_A2")" "ERROR:  28J0D"
check "rotation: the kid miss nudged the worker, and the new key verifies soon after" \
    "$(until_ok "SELECT jwt_verify('$T_A2')->>'sub'" user-a2)" user-a2
check "rotation: the old key still verifies" "$(verify "$T_A1")" user-a1

# --- rotation, reached by the scheduled refresh (refresh 1 minute, no nudge) ---
echo "max-age=30" >"$W/root/c/cache_control"
check "an issuer refreshed every minute" "$(q "SELECT jwt_add_issuer('$(iss c)', refresh => '1 minute')")" 1
check "Cache-Control max-age below the floor (5 minutes, or refresh if shorter) is raised to it" \
    "$(q "SELECT round(extract(epoch FROM next_refresh - last_success)) FROM jwt_issuers WHERE issuer = '$(iss c)'")" 60
echo "max-age=86400" >"$W/root/b/cache_control"
q "SELECT jwt_refresh_issuer('$(iss b)')" >/dev/null
check "Cache-Control max-age above the refresh interval is cut to it" \
    "$(q "SELECT round(extract(epoch FROM next_refresh - last_success)) FROM jwt_issuers WHERE issuer = '$(iss b)'")" 7200
echo "public, max-age=1800, stale-while-revalidate=60" >"$W/root/b/cache_control"
q "SELECT jwt_refresh_issuer('$(iss b)')" >/dev/null
check "Cache-Control max-age within the bounds is honoured" \
    "$(q "SELECT round(extract(epoch FROM next_refresh - last_success)) FROM jwt_issuers WHERE issuer = '$(iss b)'")" 1800
echo "max-age=15" >"$W/root/b/cache_control"
q "SELECT jwt_refresh_issuer('$(iss b)')" >/dev/null
check "Cache-Control max-age of seconds does not make the worker poll (5 minutes)" \
    "$(q "SELECT round(extract(epoch FROM next_refresh - last_success)) FROM jwt_issuers WHERE issuer = '$(iss b)'")" 300
# search_path attack on the worker (CVE-2018-1058 style): it runs as the
# bootstrap superuser; an operator in a schema it searches (public is writable
# by everyone up to PostgreSQL 14; a database owner can also ALTER DATABASE SET
# search_path) must never be picked over pg_catalog's by its SQL.
p "CREATE ROLE jwt_url_squatter" >/dev/null
drop_at_exit "DROP OWNED BY jwt_url_squatter; DROP ROLE IF EXISTS jwt_url_squatter"
p "GRANT CREATE ON SCHEMA public TO jwt_url_squatter" >/dev/null
q "SET ROLE jwt_url_squatter;
   CREATE FUNCTION public.squat(integer, numeric) RETURNS numeric LANGUAGE plpgsql AS
     'BEGIN ALTER ROLE jwt_url_squatter SUPERUSER; RETURN \$1::numeric * \$2; END';
   CREATE FUNCTION public.squat(integer, double precision) RETURNS double precision LANGUAGE plpgsql AS
     'BEGIN ALTER ROLE jwt_url_squatter SUPERUSER; RETURN \$1::float8 * \$2; END';
   CREATE OPERATOR public.* (LEFTARG = integer, RIGHTARG = numeric, FUNCTION = public.squat);
   CREATE OPERATOR public.* (LEFTARG = integer, RIGHTARG = double precision, FUNCTION = public.squat)" >/dev/null
key c c2
check "rotation: the worker's scheduled refresh fetches the new key within the refresh" \
    "$(until_ok "SELECT key_count FROM jwt_issuers WHERE issuer = '$(iss c)'" 2 1200)" 2
check "rotation: a token of the new key verifies" "$(verify "$(sign c c2)")" user-c2
check "search_path attack: the worker finished a round after the operator was planted" \
    "$(until_ok "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'jwt issuer refresh' AND wait_event_type = 'Extension'" 1)" 1
check "search_path attack: the worker never ran a role's operator as superuser" \
    "$(q "SELECT rolsuper FROM pg_roles WHERE rolname = 'jwt_url_squatter'")" f

# kid-miss flood: a stream of tokens naming a kid no key has (an unverified
# token's iss/kid) must not turn into a stream of fetches: one nudge a minute.
hits() { wc -c <"$W/root/$1/hits" 2>/dev/null || echo 0; }
T_MISS=$(sign d d1 "$(iss b)")
H0=$(hits b)
for _ in $(seq 30); do verify "$T_MISS" >/dev/null || true; done
check "kid-miss flood: 30 unknown-kid tokens are refused" "$(verify "$T_MISS")" "ERROR:  28J0D"
until_ok "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'jwt issuer refresh' AND wait_event_type = 'Extension'" 1 >/dev/null
check "kid-miss flood: at most one early fetch of the provider's JWKS (rate limit)" \
    "$(( $(hits b) - H0 <= 1 ))" 1

# --- the provider goes down ---
kill "$IDP_PID"; wait "$IDP_PID" 2>/dev/null || true
check "provider down: jwt_refresh_issuer warns (58JF1) and returns NULL" \
    "$(q "SELECT coalesce(jwt_refresh_issuer('$(iss a)')::text, 'null')")" $'WARNING:  58JF1\nnull'
check "provider down: jwt_issuers shows the error, state failing, one failure" \
    "$(q "SELECT state, last_error_code, failures, last_error FROM jwt_issuers WHERE issuer = '$(iss a)'")" \
    "failing|58JF1|1|fetch failed"
check "provider down: retried after 30 s (backoff), not after the refresh interval" \
    "$(q "SELECT round(extract(epoch FROM next_refresh - last_fetch)) FROM jwt_issuers WHERE issuer = '$(iss a)'")" 30
q "SELECT jwt_refresh_issuer('$(iss a)')" >/dev/null
check "provider down: the backoff doubles" \
    "$(q "SELECT failures, round(extract(epoch FROM next_refresh - last_fetch)) FROM jwt_issuers WHERE issuer = '$(iss a)'")" "2|60"
check "provider down: existing keys keep verifying" "$(verify "$T_A1")" user-a1
check "provider down: the rotated key keeps verifying" "$(verify "$T_A2")" user-a2
idp_start "$PORT" "$W/idp.pem" "$W/idp.key"
check "provider back: jwt_refresh_issuer succeeds" "$(q "SELECT jwt_refresh_issuer('$(iss a)')")" 2
check "provider back: the error is cleared" \
    "$(q "SELECT state, last_error_code IS NULL, failures FROM jwt_issuers WHERE issuer = '$(iss a)'")" "ok|t|0"

# --- broken and hostile responses: refused, nothing lost ---
hostile() {   # hostile NAME MODE SQLSTATE
    mode a "$2"
    check "$1: refused ($3)" "$(q "SELECT coalesce(jwt_refresh_issuer('$(iss a)')::text, 'null')")" \
        $'WARNING:  '"$3"$'\nnull'
    check "$1: jwt_issuers shows $3" \
        "$(q "SELECT state, last_error_code FROM jwt_issuers WHERE issuer = '$(iss a)'")" "failing|$3"
    check "$1: both keys still verify" "$(verify "$T_A1") $(verify "$T_A2")" "user-a1 user-a2"
    mode a ok
}
hostile "oversized JWKS (2 MB, past jwt.http_max_bytes)" oversized 58JF6
hostile "slow provider (past jwt.http_timeout)" slow 58JF2
hostile "malformed JWKS (truncated JSON)" malformed 22JF2
hostile "wrong issuer in the discovery document (an impostor)" wrong-issuer 28JF1
hostile "redirect to another host" redirect 58JF5
hostile "JWKS served as text/html" html 22JF1
hostile "JWKS with private key members" private 22JF3
hostile "empty JWKS (would remove every key)" empty 22JF3
hostile "provider error (HTTP 500)" status500 58JF4
hostile "JWKS of 101 keys (a verification-cost amplifier)" toomany 22JF3
hostile "JWKS with a duplicate \"keys\" member (parser differential)" duplicate 22JF2
hostile "gzip bomb sent unasked (libcurl must not inflate it)" gzip 22JF2
hostile "endless chunked body (no Content-Length)" endless 58JF6
hostile "JSON nested 100000 deep" deep 22JF2
hostile "SSRF: discovery names a jwks_uri on the cloud metadata address" ssrf 22JF4
check "after the hostile responses: a good one is accepted again" \
    "$(q "SELECT jwt_refresh_issuer('$(iss a)')")" 2

# --- a key the provider dropped: the overlap ---
drop a a1
check "a key the provider dropped: the refresh installs the one key left" \
    "$(q "SELECT jwt_refresh_issuer('$(iss a)')")" 1
check "a key the provider dropped keeps verifying during the 5-minute overlap" "$(verify "$T_A1")" user-a1
check "a key the provider dropped is listed as retired, verifying for 5 minutes more" \
    "$(q "SELECT state, round(extract(epoch FROM verify_until - retired_at)) FROM jwt_key_list WHERE kid = 'a1' AND issuer = '$(iss a)'")" \
    "retired|300"
check "jwt_issuers counts the active key and the one in its overlap" \
    "$(q "SELECT key_count FROM jwt_issuers WHERE issuer = '$(iss a)'")" 2

# --- fetched keys are bound to their issuer ---
check "a provider's key cannot sign for another provider (28J06)" \
    "$(verify "$(sign a a2 "$(iss b)")")" "ERROR:  28J06"
check "a provider's key cannot mint a local identity (28J06)" \
    "$(verify "$(sign a a2 https://api.example)")" "ERROR:  28J06"

# --- refused before anything is stored ---
mode d wrong-issuer
check "wrong issuer at jwt_add_issuer: refused (28JF1)" "$(q "SELECT jwt_add_issuer('$(iss d)')")" "ERROR:  28JF1"
check "wrong issuer at jwt_add_issuer: nothing stored" \
    "$(q "SELECT count(*) FROM jwt_issuers WHERE issuer = '$(iss d)'")" 0
check "plain http: refused (22JF4)" \
    "$(q "SELECT jwt_add_issuer('http://127.0.0.1:$PLAIN_PORT/p')")" "ERROR:  22JF4"
check "plain http to another host, even with the test setting: refused (22JF4)" \
    "$(q "SET jwt.http_allow_loopback_http = on; SELECT jwt_add_issuer('http://idp.example/p', 'http://idp.example/p/jwks')")" \
    "ERROR:  22JF4"
key p p1
check "plain http to loopback with the superuser test setting: fetched" \
    "$(q "SET jwt.http_allow_loopback_http = on; SELECT jwt_add_issuer('http://127.0.0.1:$PLAIN_PORT/p')")" 1
check "self-signed certificate without the CA: refused (58JF3)" \
    "$(q "SELECT jwt_add_issuer('https://127.0.0.1:$SELF_PORT/s')")" "ERROR:  58JF3"
check "credentials in the URL: refused (22JF4)" \
    "$(q "SELECT jwt_add_issuer('$(iss b)', 'https://user:pw@127.0.0.1:$PORT/b/jwks')")" "ERROR:  22JF4"
check "ftp URL: refused (22JF4)" \
    "$(q "SELECT jwt_add_issuer('$(iss b)', 'ftp://127.0.0.1/b/jwks')")" "ERROR:  22JF4"
for u in 'file:///etc/passwd' 'gopher://127.0.0.1:6379/_FLUSHALL' 'dict://127.0.0.1:11211/stats' \
         'http://169.254.169.254/latest/meta-data/' 'http://2852039166/latest/meta-data/' \
         'http://[::ffff:127.0.0.1]/jwks' 'http://127.0.0.1.nip.io/jwks' \
         "https://127.0.0.1:$PORT/b/jwks"$'\r\n''X-Injected: 1' "https://127.0.0.1:$PORT/b/jwks#frag" \
         "https://127.0.0.1:$PORT/$(printf 'a%.0s' $(seq 3000))"; do
    check "SSRF/injection: $(printf %q "${u:0:60}") is refused, even with the loopback test setting (22JF4)" \
        "$(q "SET jwt.http_allow_loopback_http = on; SELECT jwt_add_issuer('$(iss b)', '$u')")" "ERROR:  22JF4"
done
check "a refresh of less than a minute: refused (22023)" \
    "$(q "SELECT jwt_add_issuer('$(iss b)', refresh => '1 second')")" "ERROR:  22023"
mode a slow
check "a hung provider cannot hold a backend: statement_timeout cancels the fetch (57014)" \
    "$(q "SET jwt.http_timeout = '60s'; SET statement_timeout = '1s'; SELECT jwt_refresh_issuer('$(iss a)')")" \
    "ERROR:  57014"
mode a ok

# --- who may ---
p "CREATE ROLE jwt_url_stranger" >/dev/null
drop_at_exit "DROP ROLE IF EXISTS jwt_url_stranger"
check "a role without a grant cannot add issuers (42501)" \
    "$(q "SET ROLE jwt_url_stranger; SELECT jwt_add_issuer('$(iss d)')")" "ERROR:  42501"
check "a role without a grant cannot refresh issuers (42501)" \
    "$(q "SET ROLE jwt_url_stranger; SELECT jwt_refresh_issuer('$(iss a)')")" "ERROR:  42501"
check "a role without a grant cannot set the loopback test setting (42501)" \
    "$(q "SET ROLE jwt_url_stranger; SET jwt.http_allow_loopback_http = on")" "ERROR:  42501"
check "a role without a grant cannot read the sources table (42501)" \
    "$(q "SET ROLE jwt_url_stranger; SELECT * FROM jwt_issuer_sources")" "ERROR:  42501"
check "anyone may read jwt_issuers" \
    "$(q "SET ROLE jwt_url_stranger; SELECT count(*) FROM jwt_issuers")" 4
check "a refresh of an issuer never added: 42704" \
    "$(q "SELECT jwt_refresh_issuer('$(iss d)')")" "ERROR:  42704"

# --- a hot standby ---
standby_start
wait_replay
check "standby: a provider's token verifies (the keys came through WAL)" "$(s "SELECT jwt_verify('$T_A2')->>'sub'")" user-a2
check "standby: jwt_issuers shows the issuers" \
    "$(s "SELECT state FROM jwt_issuers WHERE issuer = '$(iss a)'")" ok
check "standby: no refresh worker runs there" \
    "$(s "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'jwt issuer refresh'")" 0
check "standby: jwt_refresh_issuer cannot write there (25006)" \
    "$(s "SELECT jwt_refresh_issuer('$(iss a)')")" "ERROR:  25006"

# --- drop ---
check "jwt_drop_issuer: true for an added issuer" "$(q "SELECT jwt_drop_issuer('$(iss c)')")" t
check "jwt_drop_issuer: false for an unknown one" "$(q "SELECT jwt_drop_issuer('$(iss c)')")" f
check "jwt_drop_issuer: gone from jwt_issuers" "$(q "SELECT count(*) FROM jwt_issuers WHERE issuer = '$(iss c)'")" 0

[ "$FAILED" -eq 0 ] || grep -E 'jwt issuer refresh|jwt: |ERROR' "$CLUSTER_DIR/server.log" | tail -20 | sed 's/^/# server: /'
grep -q 'terminated by signal' "$CLUSTER_DIR/server.log" && notok "no backend crashed" || ok "no backend crashed"
finish
