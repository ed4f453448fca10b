#!/usr/bin/env bash
# Two streaming hot standbys behind one primary, each under a pgbench load of
# authentications (jwt_authenticate in every transaction). A token revoked on
# the primary and a token whose key the primary retires are refused on both
# standbys once they have replayed the change: by new sessions, and by every
# transaction of the load. Each load transaction checks its own outcome
# against what its standby had replayed just before and just after the call
# (load_auth below): a token accepted although its revocation or retirement
# was already visible, a refusal with another SQLSTATE, or a refusal before the
# change was visible, raises an error, which aborts that pgbench client. The
# suite asserts outcomes only: no pgbench client aborted, no error in the load's
# output, and the refusals on both standbys. jwt_authenticate is called in a
# transaction block, as it is meant to be (outside one it warns).
# The primary is the cluster the PG* variables name (test/run-tests.sh sets
# them); without PGHOST a throwaway cluster is started. The standbys are
# pg_basebackups of it (test/suite.sh), stopped and removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
use_cluster

# --- the primary: keys, tokens, and the load's function (before the base
# backups, so the standbys start with them) ---
DB=jwt_twostandbys_$$
own_database "$DB"
p "CREATE EXTENSION jwt" >/dev/null
p "SELECT jwt_generate_key('HS256', 'k-stays')" >/dev/null
p "SELECT jwt_generate_key('ES256', 'k-retired')" >/dev/null
p "CREATE TABLE load_tokens (id int PRIMARY KEY, sub text, jti text, kid text, refusal text, token text)" >/dev/null
# 1: revoked by jti; 2: its key is retired; 3: never refused.
p "INSERT INTO load_tokens (id, sub, jti, kid, refusal) VALUES
     (1, 'alice', 'load-revoked', 'k-stays', '28J04'),
     (2, 'bob', 'load-retired', 'k-retired', '28J0D'),
     (3, 'carol', 'load-ok', 'k-stays', NULL)" >/dev/null
p "UPDATE load_tokens SET token = jwt_sign(jsonb_build_object('sub', sub, 'jti', jti), header => jsonb_build_object('kid', kid))" >/dev/null
# load_refused(id): whether the standby has replayed the change that refuses token id.
p "CREATE FUNCTION load_refused(i int) RETURNS boolean LANGUAGE sql AS \$\$
     SELECT CASE i
       WHEN 1 THEN EXISTS (SELECT 1 FROM jwt_revoked_tokens WHERE jti = 'load-revoked')
       WHEN 2 THEN EXISTS (SELECT 1 FROM jwt_key_list WHERE kid = 'k-retired' AND state = 'retired')
       ELSE false END \$\$" >/dev/null
# load_auth(id): authenticate with token id; its outcome ('ok' or the SQLSTATE),
# or an error if that outcome contradicts what was replayed before and after.
p "CREATE FUNCTION load_auth(i int) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
    t load_tokens;
    before boolean;
    outcome text;
    who text;
BEGIN
    SELECT * INTO STRICT t FROM load_tokens WHERE id = i;
    before := load_refused(i);
    BEGIN
        PERFORM jwt_authenticate(t.token);
        who := jwt_claim('sub');
        outcome := 'ok';
    EXCEPTION WHEN OTHERS THEN
        outcome := SQLSTATE;
    END;
    IF outcome = 'ok' AND who IS DISTINCT FROM t.sub THEN
        RAISE EXCEPTION 'jwt load: token % authenticated as %', i, who;
    ELSIF outcome = 'ok' AND before THEN
        RAISE EXCEPTION 'jwt load: token % accepted after its refusal was replayed', i;
    ELSIF outcome <> 'ok' AND outcome IS DISTINCT FROM t.refusal THEN
        RAISE EXCEPTION 'jwt load: token % refused with %', i, outcome;
    ELSIF outcome <> 'ok' AND NOT load_refused(i) THEN
        RAISE EXCEPTION 'jwt load: token % refused before its refusal was replayed', i;
    END IF;
    RETURN outcome;
END \$\$" >/dev/null

# --- two standbys (test/suite.sh makes one at a time: keep the first's
# directory and port, and stop it at exit ourselves) ---
standby_start
SB1=$SB SB1_PORT=$SB_PORT
stop_first_standby() { if [ -n "${SB1:-}" ]; then ( CLUSTER_DIR=$SB1 cluster_stop ); fi; }
at_exit stop_first_standby
standby_start
SB2=$SB SB2_PORT=$SB_PORT

# on N SQL...: the output of the SQL statements (one -c each) in a new session
# on standby N ("ERROR:  SQLSTATE" on error).
on() {
    local dir port sql args=()
    if [ "$1" = 1 ]; then dir=$SB1 port=$SB1_PORT; else dir=$SB2 port=$SB2_PORT; fi
    shift
    for sql in "$@"; do args+=(-c "$sql"); done
    "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate \
        -h "$dir/sock" -p "$port" -d "$DB" "${args[@]}" 2>&1
}
# replayed N: wait until standby N has replayed everything the primary has written.
replayed() {
    local lsn
    lsn=$("$PGBIN/psql" -X -A -t -d postgres -c "SELECT pg_current_wal_lsn()")
    for _ in $(seq 300); do
        [ "$(on "$1" "SELECT pg_last_wal_replay_lsn() >= '$lsn'" 2>/dev/null)" = t ] && return 0
        sleep 0.1
    done
    echo "# standby $1 did not replay up to $lsn in 30 s" >&2; return 1
}
replayed 1; replayed 2

for n in 1 2; do
    check "standby $n: in recovery" "$(on $n "SELECT pg_is_in_recovery()")" t
    check "standby $n: the three tokens authenticate" \
        "$(on $n BEGIN "SELECT string_agg(load_auth(id), ',' ORDER BY id) FROM load_tokens" COMMIT)" "ok,ok,ok"
done

# --- the load: 2 pgbench clients on each standby, each transaction one
# load_auth of a random token; stopped by the suite (-T is only a cap) ---
TMP=$(mktemp -d /tmp/jwt-twostandbys.XXXXXX)
remove_at_exit "$TMP"
cat >"$TMP/load.sql" <<'EOF'
\set i random(1, 3)
BEGIN;
SELECT load_auth(:i);
COMMIT;
EOF
LOAD_PIDS=()
stop_load() { local pid; for pid in "${LOAD_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
              for pid in "${LOAD_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done; LOAD_PIDS=(); }
at_exit stop_load
for n in 1 2; do
    if [ $n = 1 ]; then dir=$SB1 port=$SB1_PORT; else dir=$SB2 port=$SB2_PORT; fi
    PGOPTIONS="-c track_functions=pl" "$PGBIN/pgbench" -n -c 2 -j 1 -T 900 -f "$TMP/load.sql" -h "$dir/sock" -p "$port" -U postgres "$DB" \
        >"$TMP/pgbench-$n.log" 2>&1 &
    LOAD_PIDS+=($!)
done
# clients N: how many pgbench sessions standby N has.
clients() { on "$1" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench' AND datname = current_database()"; }
for n in 1 2; do
    for _ in $(seq 300); do [ "$(clients $n)" = 2 ] && break; sleep 0.1; done
    check "standby $n: the load's 2 pgbench clients are connected" "$(clients $n)" 2
done

# --- the revocation and the retirement, on the primary ---
check "primary: jwt_revoke(token 1)" "$(p "SELECT jwt_revoke(token) FROM load_tokens WHERE id = 1")" t
check "primary: jwt_retire_key('k-retired')" "$(p "SELECT jwt_retire_key('k-retired')")" t
replayed 1; replayed 2

for n in 1 2; do
    check "standby $n: the revoked token is refused (28J04)" \
        "$(on $n BEGIN "SELECT jwt_authenticate(token) FROM load_tokens WHERE id = 1" COMMIT)" "ERROR:  28J04"
    check "standby $n: the retired key's token is refused (28J0D)" \
        "$(on $n BEGIN "SELECT jwt_authenticate(token) FROM load_tokens WHERE id = 2" COMMIT)" "ERROR:  28J0D"
    check "standby $n: the third token still authenticates" \
        "$(on $n BEGIN "SELECT jwt_authenticate(token)->>'sub' FROM load_tokens WHERE id = 3" COMMIT)" carol
    check "standby $n: load_auth gives each token its outcome" \
        "$(on $n BEGIN "SELECT string_agg(load_auth(id), ',' ORDER BY id) FROM load_tokens" COMMIT)" "28J04,28J0D,ok"
done
# The load goes on after the replay: 100 more of its load_auth calls on each
# standby (counted by the standby's statistics: only the load's sessions track
# functions), then both clients still connected: a client whose transaction
# saw a contradiction has aborted.
commits() { on "$1" "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE funcname = 'load_auth'"; }
for n in 1 2; do
    base=$(commits $n) now=$base
    for _ in $(seq 600); do now=$(commits $n); [ "$now" -ge $((base + 100)) ] && break; sleep 0.1; done
    check "standby $n: the load made 100 more calls after the replay" \
        "$([ "$now" -ge $((base + 100)) ] && echo yes || echo "no ($((now - base)))")" yes
    check "standby $n: both load clients are still running (no transaction contradicted the replay)" \
        "$(clients $n)" 2
done
stop_load
for n in 1 2; do
    check "standby $n: the load's output has no error or warning" \
        "$(grep -E 'ERROR|WARNING|aborted|jwt load' "$TMP/pgbench-$n.log" || true)" ""
done

finish
