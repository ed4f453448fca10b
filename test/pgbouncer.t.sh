#!/usr/bin/env bash
# jwt_authenticate behind pgbouncer in transaction pooling mode: with one
# server connection shared by two clients (default_pool_size = 1), clients
# authenticating as different subjects in alternation never see each other's
# claims, because the identity lasts for the transaction only. Then the
# counter-proof: with jwt.session_identity = on for the clients' role, the
# identity does leak from one client to the next on the shared backend, which
# is why transaction scope is the default.
# The server is the cluster the PG* variables name (test/run-tests.sh sets
# them); without PGHOST a throwaway cluster is started. pgbouncer (the Debian
# package, see test/common.sh) runs on its own port and socket directory as the
# server user, and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
use_cluster
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
PYTHON=/usr/bin/python3   # Debian's: it has psycopg2

DB=jwt_pgbouncer_$$
APP=jwt_pgbouncer_app_$$   # the clients' role: not a superuser
PB=$(mktemp -d /tmp/jwt-pgbouncer.XXXXXX)
PB_PORT=$(( 30000 + RANDOM % 2000 ))   # below the ephemeral range (32768 and up): no outgoing connection holds it
PB_PID=
stop_pgbouncer() {
    [ -n "$PB_PID" ] || return 0
    kill -TERM "$PB_PID" 2>/dev/null || true   # SIGTERM: immediate shutdown
    # exited, or a zombie (nothing may reap a daemonized process here)
    for _ in $(seq 50); do
        { [ ! -e "/proc/$PB_PID" ] || grep -q '^State:[[:space:]]*Z' "/proc/$PB_PID/status" 2>/dev/null; } && break
        sleep 0.1
    done
    PB_PID=
}
# At exit: pgbouncer first (it holds a connection to $DB), then the database
# and the role are dropped and $PB removed (test/suite.sh).
cleanup() {
    trap '' INT TERM HUP   # a second signal must not cut the cleanups short
    stop_pgbouncer
}
at_exit cleanup
remove_at_exit "$PB"

# admin SQL: pgbouncer's admin console.
admin() { "$PGBIN/psql" -X -q -A -t -h "$PB" -p "$PB_PORT" -U postgres -d pgbouncer -c "$1"; }

# --- the database, the clients' role, a key and two tokens ---
own_database "$DB"
drop_at_exit "DROP ROLE IF EXISTS $APP"
p "CREATE ROLE $APP LOGIN" >/dev/null
p "CREATE EXTENSION jwt" >/dev/null
p "SELECT jwt_generate_key('ES256')" >/dev/null
TA=$(p "SELECT jwt_sign('{\"sub\":\"alice\",\"team\":\"red\"}')")
TB=$(p "SELECT jwt_sign('{\"sub\":\"bob\",\"team\":\"blue\"}')")

# --- pgbouncer: transaction pooling, one server connection ---
chmod 755 "$PB"
cat >"$PB/pgbouncer.ini" <<EOF
[databases]
$DB = host=$PGHOST port=$PGPORT dbname=$DB

[pgbouncer]
listen_addr =
listen_port = $PB_PORT
unix_socket_dir = $PB
auth_type = trust
auth_file = $PB/userlist.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = 1
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 20
logfile = $PB/pgbouncer.log
pidfile = $PB/pgbouncer.pid
EOF
# auth_type = trust still wants the users listed
printf '"%s" ""\n"postgres" ""\n' "$APP" >"$PB/userlist.txt"
[ "$(id -u)" = 0 ] && chown -R "${JWT_SERVER_USER:-postgres}" "$PB"
# pgbouncer refuses to run as root: as_server_user runs it as postgres then.
as_server_user "$PGBOUNCER" -q -d "$PB/pgbouncer.ini" || { cat "$PB/pgbouncer.log" >&2; exit 1; }
for _ in $(seq 100); do [ -s "$PB/pgbouncer.pid" ] && break; sleep 0.05; done
PB_PID=$(cat "$PB/pgbouncer.pid")
for _ in $(seq 100); do admin "SHOW VERSION" >/dev/null 2>&1 && break; sleep 0.1; done
check "pgbouncer runs in transaction mode with default_pool_size = 1" \
    "$(admin "SHOW CONFIG" | awk -F'|' '$1 == "pool_mode" || $1 == "default_pool_size" {print $1 "=" $2}' | sort | tr '\n' ' ')" \
    "default_pool_size=1 pool_mode=transaction "

# --- the clients: two psycopg2 connections through pgbouncer ---
# clients PHASE ROUNDS [LABEL]: prints "ok - ..." / "not ok - ..." lines (tallied
# below) and "# ..." comments.
clients() {
    PB_DIR=$PB PB_PORT=$PB_PORT PB_DB=$DB PB_USER=$APP TA=$TA TB=$TB \
    "$PYTHON" - "$@" <<'PY'
import os, sys
import psycopg2

phase, rounds = sys.argv[1], int(sys.argv[2])
env = os.environ
def connect(name):
    c = psycopg2.connect(host=env["PB_DIR"], port=env["PB_PORT"], dbname=env["PB_DB"],
                         user=env["PB_USER"], application_name=name)
    c.autocommit = False
    return c

label = sys.argv[3] + ": " if len(sys.argv) > 3 else ""
def result(name, good, detail=""):
    print(("ok - " if good else "not ok - ") + label + name)
    if not good and detail:
        print("#   " + detail)

A, B = connect("client-a"), connect("client-b")
clients = {"A": (A, env["TA"], "alice", "red"), "B": (B, env["TB"], "bob", "blue")}

def authenticated(who):
    """A transaction that authenticates: returns (sub from jwt_authenticate, jwt_claim('sub'), team, pid)."""
    conn, token, _, _ = clients[who]
    cur = conn.cursor()
    cur.execute("SELECT jwt_authenticate(%s)->>'sub'", (token,))
    auth_sub = cur.fetchone()[0]
    cur.execute("SELECT jwt_claim('sub'), jwt_claims()->>'team', pg_backend_pid()")
    sub, team, pid = cur.fetchone()
    conn.commit()
    return auth_sub, sub, team, pid

def plain(who):
    """A transaction that does not authenticate: returns (jwt_claims(), jwt_claim('sub'), pid)."""
    conn = clients[who][0]
    cur = conn.cursor()
    cur.execute("SELECT jwt_claims(), jwt_claim('sub'), pg_backend_pid()")
    row = cur.fetchone()
    conn.commit()
    return row

if phase == "transaction":
    pids = {"A": set(), "B": set()}
    bad_auth, leaks = [], []
    # A authenticates, B does not, B authenticates, A does not, and so on.
    for r in range(rounds):
        for who, other in (("A", "B"), ("B", "A")):
            _, _, want, team = clients[who]
            auth_sub, sub, got_team, pid = authenticated(who)
            pids[who].add(pid)
            if (auth_sub, sub, got_team) != (want, want, team):
                bad_auth.append((r, who, auth_sub, sub, got_team))
            claims, osub, pid = plain(other)
            pids[other].add(pid)
            if claims is not None or osub is not None:
                leaks.append((r, other, claims, osub))
    n = 2 * rounds
    result("%d authenticated transactions (alternating A/B) each saw their own claims" % n,
           not bad_auth, "wrong: %r" % bad_auth[:5])
    result("%d transactions without jwt_authenticate, each right after the other client's, saw jwt_claims() IS NULL" % n,
           not leaks, "leaked: %r" % leaks[:5])
    result("both clients ran on one and the same server backend",
           len(pids["A"]) == 1 and pids["A"] == pids["B"], "pids: %r" % pids)

    # A transaction that authenticates and then rolls back, or fails, leaves nothing behind.
    cur = A.cursor()
    cur.execute("SELECT jwt_authenticate(%s)->>'sub'", (env["TA"],))
    A.rollback()
    claims, sub, _ = plain("B")
    result("after A authenticates and rolls back, B sees no claims", claims is None and sub is None,
           "got %r" % ((claims, sub),))
    cur = A.cursor()
    cur.execute("SELECT jwt_authenticate(%s)->>'sub'", (env["TA"],))
    try:
        cur.execute("SELECT 1/0")
    except psycopg2.errors.DivisionByZero:
        pass
    A.rollback()
    claims, sub, _ = plain("B")
    result("after A authenticates and its transaction fails, B sees no claims",
           claims is None and sub is None, "got %r" % ((claims, sub),))
    # A failed authentication (a forged token: bob's claims, alice's signature) sets nothing.
    head, _, sig = env["TA"].split(".")
    forged = ".".join([head, env["TB"].split(".")[1], sig])
    cur = B.cursor()
    try:
        cur.execute("SELECT jwt_authenticate(%s)", (forged,))
        state = "accepted"
    except psycopg2.Error as e:
        state = e.pgcode
    B.rollback()
    claims, sub, _ = plain("B")
    result("a forged token is refused (%s) and leaves no identity" % state,
           state not in ("accepted", None) and claims is None and sub is None,
           "got %r" % ((state, claims, sub),))
    print("# server backend pid: %s" % sorted(pids["A"] | pids["B"]))

elif phase == "session":
    # jwt.session_identity = on for this role: A's identity outlives A's transaction,
    # and the next client on the shared backend inherits it.
    pids = set()
    auth_sub, sub, _, pid = authenticated("A")
    pids.add(pid)
    cur = A.cursor()
    cur.execute("SELECT current_setting('jwt.session_identity')")
    setting = cur.fetchone()[0]
    A.commit()
    result("session scope: jwt.session_identity is on for the clients' role", setting == "on",
           "got %r" % setting)
    claims, bsub, pid = plain("B")
    pids.add(pid)
    result("session scope: client B's fresh transaction sees client A's identity (the leak)",
           bsub == "alice" and claims is not None and claims.get("team") == "red",
           "B saw %r" % ((claims, bsub),))
    auth_sub, sub, _, pid = authenticated("B")
    pids.add(pid)
    claims, asub, pid = plain("A")
    pids.add(pid)
    result("session scope: and then client A sees client B's identity",
           asub == "bob", "A saw %r" % ((claims, asub),))
    result("session scope: still one shared server backend", len(pids) == 1, "pids: %r" % pids)
    print("# server backend pid: %s" % sorted(pids))
A.close()
B.close()
PY
}
# tally LINES: count the clients' ok / not ok lines, echo everything.
tally() {
    local line
    while IFS= read -r line; do
        case $line in
            "ok - "*) ok "${line#ok - }" ;;
            "not ok - "*) notok "${line#not ok - }" ;;
            *) echo "$line" ;;
        esac
    done
}
run_clients() {
    local out rc=0
    out=$(clients "$@" 2>&1) || rc=$?
    tally <<<"$out"
    [ $rc = 0 ] || notok "the clients ($1) exited with status $rc"
}
# Make pgbouncer open a new server connection (which applies the role's
# settings, such as jwt.session_identity) and wait until the old one is gone.
new_server_connection() {
    admin "RECONNECT $DB" >/dev/null
    for _ in $(seq 100); do
        [ "$(p "SELECT count(*) FROM pg_stat_activity WHERE usename = '$APP'")" = 0 ] && return 0
        sleep 0.1
    done
    echo "# pgbouncer kept its old server connection" >&2; return 1
}

# --- transaction scope (the default) ---
run_clients transaction 50
check "the server saw a single connection of the clients' role" \
    "$(p "SELECT count(*) FROM pg_stat_activity WHERE usename = '$APP'")" 1

# --- session scope: the identity leaks between the clients ---
p "ALTER ROLE $APP IN DATABASE $DB SET jwt.session_identity = on"
new_server_connection
run_clients session 1

# --- back to transaction scope: no leak again ---
p "ALTER ROLE $APP IN DATABASE $DB RESET jwt.session_identity"
new_server_connection
run_clients transaction 5 "after the reset"

stop_pgbouncer
check "pgbouncer logged no error" "$(grep -c ' ERROR ' "$PB/pgbouncer.log" || true)" 0

finish
