#!/usr/bin/env bash
# The whole test run (`make test`, and CI through .ci/run): install missing
# packages, build with warnings as errors, install, start a throwaway cluster,
# then run the pg_regress suites, test/interop/*.py and executable test/*.t.sh.
# Ends with "N passed, N failed" and exits non-zero if anything failed.
# Each suite is limited to JWT_SUITE_TIMEOUT seconds (default 900).
set -uo pipefail   # no -e: a failing suite is counted, not fatal
cd "$(dirname "$0")/.." || exit 1
. test/common.sh


# Logs live outside the source tree, in a directory removed on exit.
LOG_DIR=$(mktemp -d /tmp/jwt-test-logs.XXXXXX)
at_exit remove_logs
remove_logs() { rm -rf "$LOG_DIR"; }

# run_logged NAME CMD...: run CMD with a time limit, output to $LOG_DIR/NAME.log.
# `timeout` puts CMD in its own process group and we `wait` for it in the
# background, so Ctrl-C/TERM reach our trap at once and kill_suite can end the
# whole group (make, pg_regress, psql...) before the cluster is stopped.
SUITE_PID='' LOG_MARK=0
kill_suite() { [ -n "$SUITE_PID" ] && kill -TERM -- "-$SUITE_PID" "$SUITE_PID" 2>/dev/null; SUITE_PID=''; }
run_logged() {
    local name=$1 rc; shift
    LOG_MARK=$(cluster_log | wc -l)
    timeout -k 10 "${JWT_SUITE_TIMEOUT:-900}" "$@" >"$LOG_DIR/$name.log" 2>&1 </dev/null &
    SUITE_PID=$!
    wait "$SUITE_PID"; rc=$?
    SUITE_PID=
    [ $rc = 124 ] && echo "(timed out after ${JWT_SUITE_TIMEOUT:-900}s)" >>"$LOG_DIR/$name.log"
    return $rc
}

# Show a failed suite's output, and the server log if a backend crashed.
show_failure() {
    sed 's/^/    | /' "$LOG_DIR/$1.log"
    show_crash
}
show_crash() {   # only what the server logged since the suite started
    cluster_log | tail -n +$((LOG_MARK + 1)) |
        grep -A1 -E 'terminated by signal|PANIC|TRAP:' | sed 's/^/    server: /'
}

# A fresh database with the extension created, so suites don't see each other.
fresh_db() {
    "$PGBIN/psql" -X -q -d postgres -v ON_ERROR_STOP=1 \
        -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null &&
    "$PGBIN/psql" -X -q -d "$1" -v ON_ERROR_STOP=1 -c "CREATE EXTENSION jwt" >/dev/null
}

echo "== dependencies"
ensure_deps || { fail dependencies; finish; }

# The other PostgreSQL majors' servers (test/pg_majors.sh, cached once per
# machine) are built in the background, at the lowest priority, while 15's
# suites run; test/majors.sh then runs the suites on them. JWT_MAJORS="" skips
# them (and the README matrix check).
JWT_MAJORS=${JWT_MAJORS-"13 14 16 17 18"}
MAJORS_BUILD_PID=''
stop_majors_build() { [ -n "$MAJORS_BUILD_PID" ] && kill -TERM -- "-$MAJORS_BUILD_PID" 2>/dev/null; MAJORS_BUILD_PID=''; }
if [ -n "$JWT_MAJORS" ]; then
    echo "== building the servers of PostgreSQL $JWT_MAJORS in the background (test/pg_majors.sh)"
    # shellcheck disable=SC2086
    timeout -k 10 "${JWT_MAJORS_BUILD_TIMEOUT:-3600}" nice -n 19 bash test/pg_majors.sh $JWT_MAJORS \
        >"$LOG_DIR/pg_majors.log" 2>&1 </dev/null &
    MAJORS_BUILD_PID=$!
    at_exit stop_majors_build
fi

build_install || { fail "build and install"; finish; }
echo "== starting throwaway cluster"
cluster_start || { fail cluster; finish; }
at_exit kill_suite   # registered last, so it runs first: end the suite, then the cluster

# --- pg_regress (REGRESS in the Makefile) ---
# Runs as root in the source tree (it writes results/ here) and talks to the
# server over the socket; the server itself never reads the source tree.
echo "== pg_regress"
rm -rf results regression.diffs regression.out
run_logged regress make installcheck; rc=$?
# pg_regress 15 prints "test NAME ... ok" (or "     NAME ... ok" in a parallel group).
while read -r name status; do
    case $status in ok*|"failed (ignored)"*) pass "$name" ;; *) fail "$name" ;; esac
done < <(sed -n 's/^\(test \)\{0,1\} *\([A-Za-z0-9_./-]*\) \{1,\}\.\.\. \{1,\}\(.*\)$/\2 \3/p' "$LOG_DIR/regress.log")
if [ $rc != 0 ]; then
    # A failure outside any test (no FAILED line) still has to count.
    grep -q '\.\.\. *FAILED' "$LOG_DIR/regress.log" || fail "pg_regress (exit $rc)"
    if [ -s regression.diffs ]; then   # the diffs say it all; the log would repeat the list
        echo "    regression.diffs (first 1000 lines):"
        head -n 1000 regression.diffs
        digest_failure pg_regress regression.diffs
        show_crash
    else
        show_failure regress
    fi
fi

# --- interop suites and shell suites: each gets its own database ---
shopt -s nullglob
suites=(test/interop/*.py)
for f in test/*.t.sh; do [ -x "$f" ] && suites+=("$f"); done
[ ${#suites[@]} -gt 0 ] && echo "== other suites"
n=0
for f in "${suites[@]}"; do
    n=$((n + 1)); name=$(basename "$f"); db="jwt_suite_$n"
    if ! fresh_db "$db" >"$LOG_DIR/$name.log" 2>&1; then fail "$name (database setup)"; show_failure "$name"; continue; fi
    # Debian's python: only it has the jwt/psycopg2/cryptography modules.
    case $f in *.py) cmd=(/usr/bin/python3 "$f") ;; *) cmd=("./$f") ;; esac
    if PGDATABASE=$db run_logged "$name" "${cmd[@]}"; then
        # Mention the suite's own count, if it prints one ("12 passed, 0 failed").
        count=$(grep -E '^[0-9]+ passed' "$LOG_DIR/$name.log" | tail -n 1)
        pass "$name${count:+  ($count)}"
    else
        fail "$name"; show_failure "$name"; digest_failure "$name" "$LOG_DIR/$name.log"
    fi
done

# --- the other PostgreSQL majors (test/majors.sh) ---
if [ -n "$JWT_MAJORS" ]; then
    echo "== other PostgreSQL majors"
    t0=$SECONDS
    wait "$MAJORS_BUILD_PID"; MAJORS_BUILD_PID=''
    sed 's/^/  build: /' "$LOG_DIR/pg_majors.log"
    echo "  (waited $((SECONDS - t0))s for the builds)"
    # Its "  ok  NAME" / "  FAILED  NAME" lines count here; the rest is shown.
    while IFS= read -r line; do
        case $line in
            "  ok      "*) pass "${line#  ok      }" ;;
            "  FAILED  "*) fail "${line#  FAILED  }" ;;
            [0-9]*" passed, "*" failed") ;;
            "failed: "*) ;;   # its own list; finish lists them all
            *) printf '%s\n' "$line" ;;
        esac
    done < <(JWT_MAJORS=$JWT_MAJORS bash test/majors.sh 2>&1 </dev/null)
fi

finish
