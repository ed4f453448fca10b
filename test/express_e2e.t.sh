#!/usr/bin/env bash
# The Express example (examples/express) end to end, in headless Chromium:
# schema.sql is loaded into a database of the suite's own, a few checks of the
# app's role are made in SQL, server.js is started on a free port of 127.0.0.1
# with one pooled connection, and examples/express/test/e2e.mjs (playwright-core
# driving Debian's chromium) logs alice and bob in, checks that each sees only
# their rows and that document.cookie cannot read the token, replays the
# attacks of issue 13 (a page on another port of localhost planting bob's token
# in alice's browser, a cross-site logout form, NUL bytes, repeated wrong
# passwords), logs alice out, and replays her old token over HTTP and into
# jwt_authenticate(); then shows refresh-token rotation (a silent refresh once
# the 5-minute access cookie is gone) and that bob's old refresh cookie,
# replayed from a second browser context, logs bob out everywhere (issue 15).
# e2e.mjs serves the attacker's pages from a server of its own on 127.0.0.1.
# Installs the pinned packages (package-lock.json) with `npm ci` when
# node_modules is missing or does not hold the pinned versions; needs node and
# npm (CI has them preinstalled), /usr/bin/chromium (test/common.sh installs
# it) and, for that install, the npm registry.
# Uses the cluster the PG* variables name (test/run-tests.sh sets them); without
# PGHOST it starts a throwaway cluster of its own. The app and the browser are
# ended on every exit path. Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
DIR=examples/express
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

# A missing tool: one failure and the count line.
setup_failed() { notok "$1"; finish; exit 1; }
for tool in node npm; do
    command -v "$tool" >/dev/null ||
        setup_failed "$tool not found: the Express example needs Node.js (20 or later) and npm on PATH"
done
[ -x "$CHROMIUM" ] || setup_failed "$CHROMIUM not found (Debian package chromium)"

# shellcheck source=test/npm.sh
. test/npm.sh
npm_ensure "$DIR" || setup_failed "the pinned npm packages of $DIR are not installed (see above)"

use_cluster

# --- the app and the browser: ended at exit, before the database is dropped ---
WORK=$(mktemp -d /tmp/jwt-express.XXXXXX)
APP_PID='' E2E_PID=''
stop_processes() {
    trap '' INT TERM HUP   # a second signal must not cut the cleanups short
    local f pid
    if [ -n "$E2E_PID" ]; then kill -TERM "$E2E_PID" 2>/dev/null || true; wait "$E2E_PID" 2>/dev/null || true; fi
    # The browser, if e2e.mjs could not close it (playwright starts it in a
    # process group of its own): the processes whose command line names our
    # $WORK, where its fresh profile lives, and only those.
    for f in /proc/[0-9]*/cmdline; do
        pid=${f#/proc/}; pid=${pid%/cmdline}
        if grep -qaF -- "$WORK/" "$f" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    done
    if [ -n "$APP_PID" ]; then kill -TERM "$APP_PID" 2>/dev/null || true; wait "$APP_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
at_exit stop_processes

# --- the database: schema.sql in a database of our own ---
DB=jwt_express_$$
own_database "$DB"
# express_app is a cluster-wide role: drop it at exit (after the database)
# unless it was there before us.
if [ "$(p "SELECT count(*) FROM pg_roles WHERE rolname = 'express_app'")" = 0 ]; then
    drop_at_exit "DROP ROLE IF EXISTS express_app"
fi
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$DIR/schema.sql" >/dev/null

# --- the app's role, in SQL ---
# app SQL: the output of SQL as express_app, errors as "ERROR:  SQLSTATE".
app() { "$PGBIN/psql" -X -q -A -t -v VERBOSITY=sqlstate -U express_app -d "$DB" -c "$1" 2>&1 || true; }
check "express_app is neither a superuser nor exempt from RLS" \
    "$(app "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")" f
check "express_app owns no table (so RLS applies to it)" \
    "$(app "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)")" 0
check "express_app cannot read the password hashes" "$(app "SELECT count(*) FROM users")" "ERROR:  42501"
check "express_app cannot sign with the keyring (only login() can)" \
    "$(app "SELECT jwt_sign('{\"sub\":\"alice\"}')")" "ERROR:  42501"
# (A session that has not loaded jwt yet takes the SET as a placeholder; jwt
# discards it with a warning when it loads, so no identity results either way.)
check "express_app cannot forge an identity with SET jwt.claims" \
    "$(app "SET jwt.claims = '{\"sub\":\"alice\"}'; SELECT count(*) FROM notes" | grep -v '^WARNING:')" 0
check "express_app without an identity sees no rows" "$(app "SELECT count(*) FROM notes")" 0
check "express_app cannot read or reset the login failure counts" \
    "$(app "DELETE FROM login_failures")" "ERROR:  42501"
check "login() returns nothing for a wrong password" "$(app "SELECT count(*) FROM login('alice', 'guess', '192.0.2.1')")" 0
# With HOST=:: every IPv4 client arrives as ::ffff:a.b.c.d; a /64 of those is
# all of IPv4, so 20 failures from one client used to lock out every IPv4 login.
check "an IPv4-mapped address counts as its IPv4 address; IPv6 per /64" \
    "$(app "SELECT login_address_key('::ffff:198.51.100.7') || ' ' || login_address_key('::ffff:203.0.113.9') || ' ' ||
                   login_address_key('198.51.100.7') || ' ' || login_address_key('2001:db8::1:2:3:4')")" \
    "addr:198.51.100.7 addr:203.0.113.9 addr:198.51.100.7 addr:2001:db8::"
app "DO \$\$ BEGIN
         FOR i IN 1..21 LOOP
             BEGIN PERFORM login('mapped-' || i, 'a password', '::ffff:198.51.100.7');
             EXCEPTION WHEN program_limit_exceeded THEN NULL; END;
         END LOOP;
     END \$\$" >/dev/null
check "20 failures from one IPv4 client behind HOST=:: lock it out (429), mapped or not" \
    "$(app "SELECT count(*) FROM login('mapped-x', 'a password', '::ffff:198.51.100.7')"; app "SELECT count(*) FROM login('mapped-x', 'a password', '198.51.100.7')")" \
    "$(printf 'ERROR:  54000\nERROR:  54000')"
check "... but not another IPv4 client" \
    "$(app "SELECT count(*) FROM login('mapped-y', 'a password', '::ffff:203.0.113.9')")" 0

# --- the app: on a free port of 127.0.0.1, one pooled connection ---
# POOL_SIZE=1: alice's and bob's requests all go through the same database
# session, so an identity that outlived its request would show.
(cd "$DIR" && exec env PGUSER=express_app PGDATABASE="$DB" HOST=127.0.0.1 PORT=0 POOL_SIZE=1 \
    node server.js) >"$WORK/app.log" 2>&1 &
APP_PID=$!
PORT=
for _ in $(seq 100); do
    PORT=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$WORK/app.log")
    [ -n "$PORT" ] && break
    kill -0 "$APP_PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$PORT" ]; then
    sed 's/^/# app: /' "$WORK/app.log"
    setup_failed "the app did not start"
fi
ok "the app listens on 127.0.0.1:$PORT"

# --- the browser test ---
# http://localhost: a secure context for Chromium, so it keeps Secure cookies.
# TMPDIR: the browser's fresh profile goes under $WORK, removed at exit.
rc=0
(cd "$DIR" && exec env TMPDIR="$WORK" APP_URL="http://localhost:$PORT" CHROMIUM="$CHROMIUM" \
    PGUSER=express_app PGDATABASE="$DB" ADMIN_PGUSER="$(p "SELECT current_user")" \
    timeout -k 5 120 node test/e2e.mjs) >"$WORK/e2e.log" 2>&1 &
E2E_PID=$!
wait "$E2E_PID" || rc=$?
E2E_PID=
while IFS= read -r line; do
    case $line in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) notok "${line#not ok - }" ;;
        *) echo "# $line" ;;
    esac
done <"$WORK/e2e.log"
case $rc in
    0) ;;
    124) notok "e2e.mjs did not finish within 120 s" ;;
    *) grep -q '^not ok - ' "$WORK/e2e.log" || notok "e2e.mjs exited with status $rc" ;;
esac

# The app answered every refusal with 401, never with a server error, but for
# the logout e2e.mjs made fail on purpose (its error, up to the closing brace
# of the logged object, is left out).
extra=$(awk '/^listening on /{next} /e2e: revocation made to fail/{skip=1} skip{if ($0 == "}") skip=0; next} {print}' "$WORK/app.log")
check "the app logged nothing but its address (no server error)" "$extra" ""

finish
