#!/usr/bin/env bash
# The suites on every PostgreSQL major the README names, besides the system's
# 15 (which test/run-tests.sh tests with every suite): the servers come from
# test/pg_majors.sh (built once per machine from Debian's source packages, in a
# cache outside the checkout); on each, the extension is built with warnings as
# errors in a build directory of its own (the checkout's objects are not
# touched) and installed into that server's prefix, a throwaway cluster is
# started, and the pg_regress suites and the shell suites below run on it.
#
# Then the compatibility matrix: what ran where, one row per major, printed and
# compared with the README's (between its "compatibility matrix" markers). A
# major that could not be obtained is a row that says so. A README row that
# differs from this run's is a failure, unless this run passed where the README
# says the major was not tested (a machine that can fetch more than the one the
# README's matrix came from): that is a note. JWT_MATRIX_UPDATE=1 writes this
# run's matrix into the README instead.
#
# Usage: bash test/majors.sh   (make test runs it from test/run-tests.sh)
# Prints "  ok      pg17/jwt_basic" / "  FAILED  ..." lines and "N passed, N failed".
# Settings (environment):
#   JWT_MAJORS          the majors (default "13 14 16 17 18"; 15 is run-tests.sh's)
#   JWT_SUITE_TIMEOUT   seconds per suite (default 900)
#   and those of test/pg_majors.sh (cache, jobs).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
SRC=$PWD
. test/common.sh

MAJORS=${JWT_MAJORS-"13 14 16 17 18"}
# The pg_regress suites that run on every major: all of REGRESS but
# jwt_memory, the slowest by far (320,000 calls in timed windows: most of
# pg_regress's time on 15), whose subject, memory growth of the extension's own
# code, runs on 15.
MAJOR_REGRESS_SKIP="jwt_memory"
# And where a major lacks what a suite reads: 13 has no pg_backend_memory_contexts
# (14 and later), which jwt_audit reads for the key cache's memory.
declare -A MAJOR_REGRESS_SKIP_ALSO=([13]="jwt_audit")
# The shell suites that exercise server behaviour: sessions, standbys, crash
# recovery, extension upgrade. (The others test clients, packaging and tools.)
MAJOR_SHELL_SUITES="revocation_sessions revocation_standby keyring_standby two_standbys revocation_crash upgrade transport"

# The pg_regress suites of the Makefile (REGRESS), as make evaluates it.
regress_all=$(make -s --no-print-directory -f Makefile -f - PGXS=/dev/null PG_CONFIG=true jwt-print-regress <<'EOF' 2>/dev/null
jwt-print-regress:
	@echo $(REGRESS)
EOF
)
[ -n "$regress_all" ] || { echo "no REGRESS in the Makefile" >&2; exit 1; }
N_REGRESS=$(wc -w <<<"$regress_all")
# regress_for MAJOR: sets REGRESS_RUN and SKIPPED for that major.
regress_for() {
    local s skip="$MAJOR_REGRESS_SKIP ${MAJOR_REGRESS_SKIP_ALSO[$1]:-}"
    REGRESS_RUN=() SKIPPED=()
    for s in $regress_all; do
        case " $skip " in *" $s "*) SKIPPED+=("$s") ;; *) REGRESS_RUN+=("$s") ;; esac
    done
}

# Logs and build directories live outside the checkout.
WORK=$(mktemp -d /tmp/jwt-majors.XXXXXX)
chmod 755 "$WORK"
at_exit remove_work
remove_work() { rm -rf "$WORK"; }
SUITE_PID=''
kill_suite() { [ -n "$SUITE_PID" ] && kill -TERM -- "-$SUITE_PID" "$SUITE_PID" 2>/dev/null; SUITE_PID=''; }
at_exit kill_suite

# logged LOG CMD...: CMD with a time limit, in its own process group (timeout),
# output to LOG.
logged() {
    local log=$1 rc; shift
    timeout -k 10 "${JWT_SUITE_TIMEOUT:-900}" "$@" >"$log" 2>&1 </dev/null &
    SUITE_PID=$!
    wait "$SUITE_PID"; rc=$?
    SUITE_PID=
    [ $rc = 124 ] && echo "(timed out after ${JWT_SUITE_TIMEOUT:-900}s)" >>"$log"
    return $rc
}
show() { sed 's/^/    | /' "$1"; }

# copy_sources DIR: the source tree without build products.
copy_sources() {
    mkdir -p "$1"
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
            xargs -0 cp -a --parents -t "$1"
    else
        cp -a . "$1" && make -s -C "$1" clean >/dev/null 2>&1
    fi
}

# --- the servers ---
echo "== PostgreSQL servers (test/pg_majors.sh: $MAJORS)"
t0=$SECONDS
# The cluster of the caller (run-tests.sh) is not ours.
unset PGHOST PGPORT PGDATABASE PGUSER
servers=$(bash test/pg_majors.sh $MAJORS 2>"$WORK/pg_majors.err")
sed 's/^/  /' <<<"$servers"
[ -s "$WORK/pg_majors.err" ] && show "$WORK/pg_majors.err"
echo "  ($((SECONDS - t0))s)"

declare -A ROW_SERVER ROW_REGRESS ROW_SHELL ROW_RESULT
for v in $MAJORS; do
    line=$(grep "^PG $v: " <<<"$servers")
    case $line in
        "PG $v: ready "*) ;;
        "PG $v: installed "*)
            ROW_SERVER[$v]="installed: \`$(sed 's/^PG [0-9]*: installed \([^ ]*\).*/\1/' <<<"$line")\`"
            ROW_RESULT[$v]="see the main run"; continue ;;
        "PG $v: unavailable "*)
            ROW_SERVER[$v]="none: Debian's archive has no \`postgresql-$v\` source package"
            ROW_RESULT[$v]="not built, not tested"; continue ;;
        "PG $v: NOT OBTAINED "*)
            # Reported, and a row that says so: the README's row for this major
            # must say so too (a README claiming a run here fails the check).
            echo "  note: PostgreSQL $v not obtained, not tested: ${line#PG $v: NOT OBTAINED }"
            case $line in
                *"download of source package"*)
                    ROW_SERVER[$v]="not obtained: Debian's \`postgresql-$v\` source package is listed, its download failed" ;;
                *) ROW_SERVER[$v]="not obtained: Debian's archive could not be reached" ;;
            esac
            ROW_RESULT[$v]="not tested"; continue ;;
        *)
            fail "pg$v: server (${line#PG $v: })"
            ROW_SERVER[$v]="build failed"
            ROW_RESULT[$v]="not tested"; continue ;;
    esac
    prefix=$(sed 's/^PG [0-9]*: ready \([^ ]*\) .*/\1/' <<<"$line")
    PG_CONFIG_V=$prefix/bin/pg_config
    ROW_SERVER[$v]="built from Debian's \`postgresql-$v\` source package"
    regress_for "$v"
    ROW_REGRESS[$v]="${#REGRESS_RUN[@]} of $N_REGRESS (not $(IFS=,; sed 's/,/, /g' <<<"${SKIPPED[*]}"))"
    ROW_SHELL[$v]=${MAJOR_SHELL_SUITES// /, }
    failed_before=$FAILED
    echo "== PostgreSQL $v ($("$PG_CONFIG_V" --version | sed 's/^PostgreSQL //'), $prefix)"
    t0=$SECONDS

    # The extension, built in a copy of the source tree (tracked and new
    # files, no build products: a VPATH build would take the checkout's 15
    # objects as up to date) and installed into this server's prefix.
    B=$WORK/src-$v
    copy_sources "$B"
    mk() { make -C "$B" PG_CONFIG="$PG_CONFIG_V" "$@"; }
    if ! { mk -s -j"$(nproc)" PG_CFLAGS="$JWT_WARN_FLAGS" && mk -s install; } >"$WORK/build-$v.log" 2>&1; then
        fail "pg$v: build and install ($JWT_WARN_FLAGS)"; show "$WORK/build-$v.log"
        ROW_RESULT[$v]="FAILS to build"
        continue
    fi
    pass "pg$v: build and install ($JWT_WARN_FLAGS)"

    PGBIN=$prefix/bin
    OLD_PATH=$PATH
    export PATH="$PGBIN:$PATH" PGBIN
    JWT_TEST_PORT=$(( 54000 + RANDOM % 1000 ))
    if ! cluster_start >"$WORK/cluster-$v.log" 2>&1; then
        fail "pg$v: cluster"; show "$WORK/cluster-$v.log"
        ROW_RESULT[$v]="FAILS to start a cluster"
        PATH=$OLD_PATH; unset PGBIN PGHOST PGPORT PGDATABASE PGUSER
        continue
    fi

    # pg_regress: its results/ in the build directory.
    logged "$WORK/regress-$v.log" make -C "$B" PG_CONFIG="$PG_CONFIG_V" installcheck REGRESS="${REGRESS_RUN[*]}"; rc=$?
    # "test NAME ... ok" (13-15) or TAP "ok 1 - NAME" / "not ok 2 - NAME" (16-).
    while read -r name status; do
        case $status in ok*|"failed (ignored)"*) pass "pg$v/$name" ;; *) fail "pg$v/$name" ;; esac
    done < <(sed -n -e 's/^\(test \)\{0,1\} *\([A-Za-z0-9_./-]*\) \{1,\}\.\.\. \{1,\}\(.*\)$/\2 \3/p' \
                    -e 's/^\(not ok\|ok\) \{1,\}[0-9]\{1,\} \{1,\}[-+] \{1,\}\([A-Za-z0-9_./-]*\) .*/\2 \1/p' \
                    "$WORK/regress-$v.log" | sed 's/ not ok$/ FAILED/')
    if [ $rc != 0 ]; then
        grep -qE '\.\.\. *FAILED|^not ok' "$WORK/regress-$v.log" || fail "pg$v: pg_regress (exit $rc)"
        if [ -s "$B/regression.diffs" ]; then
            echo "    regression.diffs (first 300 lines):"; head -n 300 "$B/regression.diffs"
        else
            show "$WORK/regress-$v.log"
        fi
    fi

    # The shell suites, each in a database of its own.
    n=0
    for s in $MAJOR_SHELL_SUITES; do
        f=test/$s.t.sh n=$((n + 1)) db=jwt_major_$n
        [ -x "$f" ] || { fail "pg$v/$s.t.sh (missing)"; continue; }
        if ! { "$PGBIN/psql" -X -q -d postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" &&
               "$PGBIN/psql" -X -q -d "$db" -v ON_ERROR_STOP=1 -c "CREATE EXTENSION jwt"; } >"$WORK/$s-$v.log" 2>&1; then
            fail "pg$v/$s.t.sh (database setup)"; show "$WORK/$s-$v.log"; continue
        fi
        if PGDATABASE=$db logged "$WORK/$s-$v.log" "./$f"; then
            count=$(grep -E '^[0-9]+ passed' "$WORK/$s-$v.log" | tail -n 1)
            pass "pg$v/$s.t.sh${count:+  ($count)}"
        else
            fail "pg$v/$s.t.sh"; show "$WORK/$s-$v.log"
        fi
    done
    crash=$(cluster_log | grep -A1 -E 'terminated by signal|PANIC|TRAP:')
    [ -n "$crash" ] && { fail "pg$v: the server log shows a crash"; sed 's/^/    server: /' <<<"$crash"; }
    cluster_stop
    PATH=$OLD_PATH; unset PGBIN PGHOST PGPORT PGDATABASE PGUSER
    if [ "$FAILED" -eq "$failed_before" ]; then ROW_RESULT[$v]=passes
    else ROW_RESULT[$v]="FAILS ($((FAILED - failed_before)))"; fi
    echo "  ($((SECONDS - t0))s)"
done

# --- the matrix ---
# The Debian package (debian/, pg_buildext) builds for the majors whose
# postgresql-server-dev-N is installed; say which are installable here.
deb_cell() {
    local v=$1 cand
    if dpkg-query -W -f='${Status}' "postgresql-server-dev-$v" 2>/dev/null | grep -q 'install ok installed'; then
        echo "built and installed (debian_package.t.sh)"; return
    fi
    cand=$(apt-cache policy "postgresql-server-dev-$v" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
    if [ -n "$cand" ] && [ "$cand" != "(none)" ]; then
        echo "not built: \`postgresql-server-dev-$v\` installable but not installed"
    else
        echo "not built: no \`postgresql-server-dev-$v\` in this machine's apt sources"
    fi
}
matrix() {
    local v
    echo "| PostgreSQL | Server in \`make test\` | pg_regress suites | Shell suites | Result | Debian package |"
    echo "|---|---|---|---|---|---|"
    for v in $(printf '%s\n' $MAJORS 15 | sort -un); do
        if [ "$v" = 15 ] && [ -z "${ROW_SERVER[15]:-}" ]; then
            echo "| 15 | Debian 12's \`postgresql-15\` | all $N_REGRESS | all | main run | $(deb_cell 15) |"
            continue
        fi
        echo "| $v | ${ROW_SERVER[$v]} | ${ROW_REGRESS[$v]:-none} | ${ROW_SHELL[$v]:-none} | ${ROW_RESULT[$v]} | $(deb_cell "$v") |"
    done
}
echo "== compatibility matrix"
matrix | tee "$WORK/matrix.md" | sed 's/^/  /'

BEGIN_MARK='<!-- compatibility matrix: written by test/majors.sh, checked by make test -->'
END_MARK='<!-- end of the compatibility matrix -->'
readme_matrix() { sed -n "\\|^$BEGIN_MARK\$|,\\|^$END_MARK\$|p" README.md | sed '1d;$d'; }
if [ -n "${JWT_MATRIX_UPDATE:-}" ]; then
    awk -v b="$BEGIN_MARK" -v e="$END_MARK" -v f="$WORK/matrix.md" '
        $0 == b { print; while ((getline l < f) > 0) print l; skip = 1; next }
        $0 == e { skip = 0 }
        !skip' README.md >"$WORK/README.md" && cat "$WORK/README.md" >README.md
    echo "  (written into README.md)"
elif [ -z "$(readme_matrix)" ]; then
    fail "README.md has a compatibility matrix between its markers"
else
    # Row by row, for the majors of this run: the README may say less than
    # the run showed (a major this machine could not obtain, where another
    # could), never more.
    bad=0 notes=
    while IFS= read -r row; do
        v=$(awk -F'|' '{gsub(/ /, "", $2); print $2}' <<<"$row")
        [ "$v" = PostgreSQL ] || [ "$v" = --- ] && continue
        readme_row=$(readme_matrix | awk -F'|' -v v="$v" '{m = $2; gsub(/ /, "", m)} m == v')
        [ "$readme_row" = "$row" ] && continue
        result=$(awk -F'|' '{print $6}' <<<"$row" | sed 's/^ *//; s/ *$//')
        readme_result=$(awk -F'|' '{print $6}' <<<"$readme_row" | sed 's/^ *//; s/ *$//')
        if [ "$result" = passes ] && [ -n "$readme_row" ] && [ "$readme_result" != passes ]; then
            notes+="  note: PostgreSQL $v passes here, the README says \"$readme_result\""$'\n'
        else
            bad=1
            printf '    README:   %s\n    this run: %s\n' "${readme_row:-(no row)}" "$row" >>"$WORK/matrix.diff"
        fi
    done <"$WORK/matrix.md"
    [ -n "$notes" ] && printf '%s' "$notes"
    if [ $bad = 0 ]; then
        pass "README.md's compatibility matrix claims no more than this run showed"
    else
        fail "README.md's compatibility matrix claims no more than this run showed (JWT_MATRIX_UPDATE=1 bash test/majors.sh writes this run's)"
        cat "$WORK/matrix.diff"
    fi
fi
finish
