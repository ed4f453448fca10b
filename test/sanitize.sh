#!/usr/bin/env bash
# Sanitizer run (`make sanitize`): the extension built with AddressSanitizer and
# UndefinedBehaviorSanitizer, loaded into Debian's (uninstrumented) PostgreSQL
# 15 started with the sanitizer runtime preloaded. The pg_regress suites, the
# interop suites and the executable test/*.t.sh run against it; any sanitizer
# report, or any crash in the server log, is a failure.
# Ends with "N passed, N failed" and exits non-zero if anything failed.
#
# Nothing outside a temporary directory is touched: not this source tree (the
# build happens in a copy) nor PostgreSQL's installed extension directory (the
# sanitized jwt.so goes into a private, relocated copy of the PostgreSQL
# installation, see make_private_install). So it can run beside `make test`,
# and `make test` afterwards uses the normal build as always.
#
# clang, not gcc: gcc puts UBSan in a runtime of its own (libubsan) beside
# libasan. Preloaded into an uninstrumented postgres, libubsan initialises only
# at its first report, in a backend, whose environment PostgreSQL has by then
# overwritten with its process title, so UBSAN_OPTIONS is lost (no stack, exit
# code 1 instead of an abort), and libasan's exported __sanitizer_set_report_path
# takes libubsan's calls, so UBSan reports never reach log_path. clang's shared
# ASan runtime carries UBSan in itself: one runtime, initialised in the
# postmaster before the environment is touched, one set of report files.
#
# Limits: PostgreSQL itself is not instrumented, and palloc'd memory comes out
# of the server's memory-context blocks, so ASan sees an overflow of a palloc'd
# chunk only where it leaves its block (allocations over 8 kB have a block of
# their own). Stack, globals and malloc'd memory (OpenSSL's), and the UBSan
# checks in the extension's own code, are fully covered.
#
# Settings: JWT_SUITE_TIMEOUT (seconds per suite, default 900),
# JWT_SANITIZE_KEEP=1 keeps the temporary directory (build, reports, logs).
set -uo pipefail   # no -e: a failing suite is counted, not fatal
cd "$(dirname "$0")/.." || exit 1
SRC=$PWD
. test/common.sh


# clang-14's sanitizer runtimes are only "recommended" by libclang-common-14-dev
# (and ensure_deps installs without recommends); llvm-14 has llvm-symbolizer,
# which puts file:line into the reports.
JWT_APT_PACKAGES="$JWT_APT_PACKAGES libclang-rt-14-dev llvm-14"

SAN_CC=clang
SAN_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -shared-libsan"
SAN_CFLAGS="$SAN_FLAGS -fno-omit-frame-pointer -g -O1"
# clang does not know some of the gcc flags that PGXS passes on from pg_config.
SAN_CFLAGS="$SAN_CFLAGS -Wno-unknown-warning-option -Wno-ignored-optimization-argument -Wno-ignored-attributes"

WORK=$(mktemp -d /tmp/jwt-sanitize.XXXXXX) || exit 1
chmod 755 "$WORK"
at_exit remove_work
remove_work() {
    if [ -n "${JWT_SANITIZE_KEEP:-}" ]; then echo "(kept $WORK)"; else rm -rf "$WORK"; fi
}
LOG_DIR=$WORK/logs REPORTS=$WORK/reports ROOT=$WORK/root
mkdir -p "$LOG_DIR" "$REPORTS"
chmod 1777 "$REPORTS"   # the server writes its reports here, as the server user

# --- suite runner (as in test/run-tests.sh) ---------------------------------
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
show_log() { sed 's/^/    | /' "$LOG_DIR/$1.log"; }

# Server log lines that mean a sanitizer report or a crash. (Reports go to
# files under $REPORTS; they reach stderr, i.e. the server log, only if a file
# cannot be written.)
BAD_LOG_LINES='AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:|terminated by signal|server process .* exited with exit code|PANIC|TRAP:'

# Report files written since the last call (named report.PID).
REPORTS_SEEN=0
new_reports() {
    local all n
    all=$(find "$REPORTS" -type f | sort)
    [ -n "$all" ] || return 1
    n=$(wc -l <<<"$all")
    [ "$n" -gt "$REPORTS_SEEN" ] || return 1
    tail -n +$((REPORTS_SEEN + 1)) <<<"$all"
    REPORTS_SEEN=$n
}
show_reports() {
    local f
    for f in "$@"; do
        echo "    sanitizer report $(basename "$f") (first 60 lines):"
        head -n 60 "$f" | sed 's/^/    # /'
    done
}
# After a suite: the sanitizer reports and the crash lines that came with it.
# (The shell suites that start clusters of their own share $REPORTS too.)
check_suite() {
    local files lines bad=0
    if files=$(new_reports); then
        bad=1
        # shellcheck disable=SC2086  # file names have no spaces
        show_reports $files
    fi
    lines=$(cluster_log | tail -n +$((LOG_MARK + 1)) | grep -E -A2 "$BAD_LOG_LINES")
    if [ -n "$lines" ]; then
        bad=1
        sed 's/^/    server: /' <<<"$lines"
    fi
    return $bad
}

# --- private installation ---------------------------------------------------
# PostgreSQL finds its library and share directories relative to its own
# executable, so copies of postgres, pg_ctl and initdb under
# $ROOT/usr/lib/postgresql/15/bin use $ROOT/usr/lib/postgresql/15/lib and
# $ROOT/usr/share/postgresql/15, which hold symlinks to the real files except
# jwt's; `make install DESTDIR=$ROOT` puts the sanitized ones there. `postgres`
# is a wrapper that sets the sanitizer environment and execs the real binary,
# so that only the server (initdb's bootstrap runs, the postmaster and its
# children) runs with the runtime preloaded, not pg_ctl, runuser or the shell.
link_dir_except_jwt() {   # SRC_DIR DEST_DIR: symlink every entry but jwt's
    local e
    mkdir -p "$2"
    for e in "$1"/* "$1"/.[!.]*; do
        [ -e "$e" ] || continue
        case ${e##*/} in jwt|jwt.so|jwt.control|jwt--*|jwt.index.bc) continue ;; esac
        ln -s "$e" "$2/"
    done
}
make_private_install() {
    local bindir pkglibdir sharedir e
    bindir=$(pg_config --bindir) pkglibdir=$(pg_config --pkglibdir) sharedir=$(pg_config --sharedir)
    PRIV_BIN=$ROOT$bindir
    mkdir -p "$PRIV_BIN" "$ROOT$pkglibdir" "$ROOT$sharedir" || return 1
    for e in "$bindir"/*; do
        case ${e##*/} in
            postgres) cp "$e" "$PRIV_BIN/postgres.bin" ;;
            postmaster) ;;
            pg_ctl|initdb) cp "$e" "$PRIV_BIN/" ;;
            *) ln -s "$e" "$PRIV_BIN/" ;;
        esac
    done
    for e in "$pkglibdir"/* "$sharedir"/*; do
        case $e in
            */bitcode|*/extension) link_dir_except_jwt "$e" "$ROOT$e" ;;
            */jwt.so) ;;
            *) ln -s "$e" "$ROOT$e" ;;
        esac
    done
    # Preloaded into an uninstrumented program, ASan initialises at the first
    # malloc: in postgres that is in a library constructor (libgpg-error's)
    # inside bindtextdomain(), which holds glibc's gettext lock. ASan looks up
    # the Swift demangler, dlsym fails, and ASan's dlerror() translates the
    # message through gettext, which takes and releases that same lock; the
    # unlock in bindtextdomain then corrupts it, and postgres hangs for good in
    # its own bindtextdomain() call in main() (the symptom of
    # google/sanitizers#1270; both gcc's and clang's runtimes do it). A
    # swift_demangle that exists (and demangles nothing) keeps dlsym from
    # failing, so nothing is translated.
    printf '%s\n' '#include <stddef.h>' \
        'char *swift_demangle(const char *m, size_t n, char *o, size_t *on, unsigned f);' \
        'char *swift_demangle(const char *m, size_t n, char *o, size_t *on, unsigned f)' \
        '{ (void) m; (void) n; (void) o; (void) on; (void) f; return NULL; }' >"$WORK/swift_demangle_stub.c"
    cc -shared -fPIC -O2 "$WORK/swift_demangle_stub.c" -o "$WORK/swift_demangle_stub.so" || return 1
    cat >"$PRIV_BIN/postgres" <<EOF
#!/bin/sh
# Written by test/sanitize.sh: the server with the sanitizer runtime preloaded.
export LD_PRELOAD="$ASAN_LIB $WORK/swift_demangle_stub.so"
export ASAN_OPTIONS="$ASAN_OPTIONS_VALUE"
export UBSAN_OPTIONS="$UBSAN_OPTIONS_VALUE"
export ASAN_SYMBOLIZER_PATH="$SYMBOLIZER"
case " \$* " in *" -D "*) echo "\$\$ \$*" >>"$WORK/server-starts.log" ;; esac   # a postmaster (pg_ctl start)
exec "$PRIV_BIN/postgres.bin" "\$@"
EOF
    chmod 755 "$PRIV_BIN/postgres"
    : >"$WORK/server-starts.log" && chmod 666 "$WORK/server-starts.log"
    chmod -R a+rX "$ROOT" "$WORK/swift_demangle_stub.so"
}

# Copy the source tree (without build products, results or .git) into $WORK.
copy_source() {
    mkdir -p "$WORK/src" &&
    tar -C "$SRC" --exclude=./.git --exclude=./results --exclude=./log --exclude=./tmp_check \
        --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
        --exclude=./regression.diffs --exclude=./regression.out -cf - . |
        tar -C "$WORK/src" -xf -
}

# make in DIR with the sanitizer flags. with_llvm=no: no JIT bitcode (it would
# be uninstrumented code anyway).
san_make() {
    local dir=$1; shift
    (cd "$dir" && make -s CC="$SAN_CC" with_llvm=no PG_CFLAGS="$SAN_CFLAGS" PG_LDFLAGS="$SAN_FLAGS" "$@")
}

echo "== dependencies"
ensure_deps || { fail dependencies; finish; }
ASAN_LIB=$($SAN_CC -print-file-name=libclang_rt.asan-x86_64.so)
[ -f "$ASAN_LIB" ] || { echo "ASan runtime not found: $ASAN_LIB" >&2; fail "sanitizer runtime"; finish; }
SYMBOLIZER=$(dirname "$(readlink -f "$(command -v $SAN_CC)")")/llvm-symbolizer
[ -x "$SYMBOLIZER" ] || SYMBOLIZER=$(command -v llvm-symbolizer || echo /nonexistent)

# ASan: detect_leaks=0, because PostgreSQL deliberately leaves memory to the
# end of the process (memory contexts, caches, the postmaster's own state): the
# leak checker would report hundreds of "leaks" at every backend exit. (The
# regression suite jwt_memory checks per-call growth instead.)
# abort_on_error=1: a report aborts the backend, so the server log shows
# "terminated by signal 6" and the suite that caused it fails; log_path: the
# report itself goes to $REPORTS/report.PID (UBSan's too: in clang's runtime
# the two share one report file and the last log_path set wins, so both name
# the same). handle_segv (the default): a segfault anywhere in the server is
# reported, with its stack, too.
# detect_stack_use_after_return=1: locals of the extension's functions live in
# heap frames, so a pointer to them kept after return is caught.
ASAN_OPTIONS_VALUE="detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=1:log_path=$REPORTS/report"
# UBSan (-fno-sanitize-recover: every check is fatal): with the stack.
UBSAN_OPTIONS_VALUE="print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=$REPORTS/report"

echo "== building with $SAN_CC $SAN_CFLAGS (in $WORK/src)"
copy_source || { fail "copy source"; finish; }
if ! { san_make "$WORK/src" clean && san_make "$WORK/src" -j"$(nproc)"; } >"$LOG_DIR/build.log" 2>&1; then
    show_log build; fail "sanitized build"; finish
fi
if ! readelf -d "$WORK/src/jwt.so" | grep libclang_rt.asan >/dev/null; then
    echo "jwt.so is not linked with the shared ASan runtime" >&2; fail "sanitized build"; finish
fi
echo "== installing into a private copy of the PostgreSQL installation ($ROOT)"
make_private_install || { fail "private install"; finish; }
if ! san_make "$WORK/src" install DESTDIR="$ROOT" >"$LOG_DIR/install.log" 2>&1; then
    show_log install; fail "private install"; finish
fi

# A canary module with one deliberate bug of each kind, built and installed
# the same way: proves that reports from the server reach $REPORTS.
mkdir -p "$WORK/canary"
cat >"$WORK/canary/jwt_sanitize_canary.c" <<'EOF'
#include "postgres.h"
#include "fmgr.h"
PG_MODULE_MAGIC;
PG_FUNCTION_INFO_V1(canary_heap_overflow);
Datum canary_heap_overflow(PG_FUNCTION_ARGS)
{
    char *volatile p = malloc(8);   /* volatile: ASan's to find, not UBSan's */
    p[PG_GETARG_INT32(0)] = 1;
    free(p);
    PG_RETURN_VOID();
}
PG_FUNCTION_INFO_V1(canary_shift);
Datum canary_shift(PG_FUNCTION_ARGS)
{
    PG_RETURN_INT32(1 << PG_GETARG_INT32(0));
}
EOF
printf '%s\n' 'MODULES = jwt_sanitize_canary' 'PG_CONFIG = pg_config' \
    'PGXS := $(shell $(PG_CONFIG) --pgxs)' 'include $(PGXS)' >"$WORK/canary/Makefile"
if ! { san_make "$WORK/canary" && san_make "$WORK/canary" install DESTDIR="$ROOT"; } >"$LOG_DIR/canary.log" 2>&1; then
    show_log canary; fail "canary build"; finish
fi
chmod -R a+rX "$ROOT"
pass "sanitized build, private install"

# Every server started from here on (ours and the suites' own clusters, which
# call cluster_start or $PGBIN/pg_ctl) runs the private installation.
export PGBIN=$PRIV_BIN

echo "== starting throwaway cluster (server with $(basename "$ASAN_LIB") preloaded)"
cluster_start || { fail cluster; finish; }
at_exit kill_suite   # registered last, so it runs first: end the suite, then the cluster

psql_q() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }
wait_ready() {   # after a crash, the server restarts: wait until it accepts connections
    local _
    for _ in $(seq 1 60); do
        psql_q -d postgres -c "SELECT 1" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    return 1
}

# The canary: each call must abort its backend and leave its report.
canary() {
    psql_q -d postgres -c "CREATE DATABASE jwt_sanitize_check" >/dev/null &&
    psql_q -d jwt_sanitize_check \
        -c "CREATE FUNCTION canary_heap_overflow(int) RETURNS void AS 'jwt_sanitize_canary' LANGUAGE C STRICT" \
        -c "CREATE FUNCTION canary_shift(int) RETURNS int AS 'jwt_sanitize_canary' LANGUAGE C STRICT" \
        -c "SELECT canary_heap_overflow(0), canary_shift(1)" >/dev/null || return 1
    psql_q -d jwt_sanitize_check -c "SELECT canary_heap_overflow(8)" >/dev/null 2>&1 && return 1
    wait_ready || return 1
    psql_q -d jwt_sanitize_check -c "SELECT canary_shift(40)" >/dev/null 2>&1 && return 1
    wait_ready || return 1
    # Two reports, each with its stack.
    grep -A3 'ERROR: AddressSanitizer: heap-buffer-overflow' "$REPORTS"/report.* 2>/dev/null | grep -q 'in canary_heap_overflow' &&
        grep -A1 'runtime error: shift exponent 40' "$REPORTS"/report.* 2>/dev/null | grep -q 'in canary_shift' &&
        [ "$(cluster_log | grep -c 'terminated by signal 6')" = 2 ]
}
if canary; then
    pass "canary: an ASan and a UBSan report from the server reach $REPORTS"
    rm -f "$REPORTS"/*
else
    fail "canary: sanitizer reports from the server do not reach $REPORTS"
    ls -l "$REPORTS"; cluster_log 30 | sed 's/^/    server: /'
    finish
fi
psql_q -d postgres -c "DROP DATABASE jwt_sanitize_check" >/dev/null
CANARY_END=$(cluster_log | wc -l)   # the canary's crashes are above this line

# The backends really run the sanitized jwt.so of the private installation
# (a backend reads its own /proc/self/maps; CREATE EXTENSION has loaded jwt.so).
loaded_check() {
    local maps
    psql_q -d postgres -c "CREATE DATABASE jwt_sanitize_check" >/dev/null || return 1
    maps=$(psql_q -d jwt_sanitize_check -c "CREATE EXTENSION jwt" -c "SELECT pg_read_file('/proc/self/maps')")
    psql_q -d postgres -c "DROP DATABASE jwt_sanitize_check" >/dev/null
    grep "$ROOT.*/jwt\.so" <<<"$maps" >/dev/null && grep libclang_rt.asan <<<"$maps" >/dev/null
}
if loaded_check; then pass "backends load the sanitized jwt.so"; else fail "sanitized jwt.so not loaded"; finish; fi

# --- pg_regress (REGRESS in the Makefile), from the copy ---
# jwt_memory checks that the backend's VmData stays flat over 300,000 calls.
# Under ASan it cannot: freed memory waits in ASan's quarantine (256 MB) before
# reuse, so that a use after free is caught; VmData grows by some 260 MB. (With
# ASAN_OPTIONS=quarantine_size_mb=0 the suite passes.) So a jwt_memory diff
# that changes only its two growth results counts as a pass; any other
# difference is a failure. The calls themselves run under the sanitizers.
only_memory_growth_differs() {
    local diffs=$WORK/src/regression.diffs
    [ -s "$diffs" ] || return 1
    # every diff section is jwt_memory's ...
    [ "$(grep -c '^diff ' "$diffs")" = 1 ] && grep -q '^diff .*/jwt_memory\.out' "$diffs" || return 1
    # ... and every changed line is one of the growth results: "t"/"f" (one
    # verdict row: "t | t"), the rows of the windows' growth that the suite
    # prints on failure ("1 | 33984 | 242") and their count, or the empty value.
    ! grep -E '^[-+]' "$diffs" | grep -v -E '^(---|\+\+\+) /' |
        grep -v -E '^[-+]( [tf]( +\| [tf])?| +[0-9]+ \| +-?[0-9]+ \| +-?[0-9]+|\([0-9]+ rows?\)| )$' | grep -q .
}
echo "== pg_regress"
run_logged regress make -C "$WORK/src" installcheck; rc=$?
memory_growth_only=
[ $rc != 0 ] && only_memory_growth_differs && memory_growth_only=1
while read -r name status; do
    case $status in
        ok*|"failed (ignored)"*) pass "$name" ;;
        FAILED*) if [ "$name" = jwt_memory ] && [ -n "$memory_growth_only" ]; then
                     pass "$name  (all but the VmData growth check, which ASan's quarantine defeats)"
                 else fail "$name"; fi ;;
        *) fail "$name" ;;
    esac
done < <(sed -n 's/^\(test \)\{0,1\} *\([A-Za-z0-9_./-]*\) \{1,\}\.\.\. \{1,\}\(.*\)$/\2 \3/p' "$LOG_DIR/regress.log")
if [ $rc != 0 ] && [ -z "$memory_growth_only" ]; then
    grep -q '\.\.\. *FAILED' "$LOG_DIR/regress.log" || fail "pg_regress (exit $rc)"
    if [ -s "$WORK/src/regression.diffs" ]; then
        echo "    regression.diffs (first 300 lines):"
        head -n 300 "$WORK/src/regression.diffs"
        digest_failure pg_regress "$WORK/src/regression.diffs"
    else
        show_log regress
    fi
fi
if check_suite; then pass "pg_regress: no sanitizer report, no crash"; else fail "pg_regress: sanitizer report or crash"; fi

# --- interop suites and shell suites, from the copy: each its own database ---
fresh_db() {
    psql_q -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null &&
    psql_q -d "$1" -c "CREATE EXTENSION jwt" >/dev/null
}
shopt -s nullglob
cd "$WORK/src" || exit 1
suites=(test/interop/*.py)
# Not these: the sanitizer run itself, and the suites that exercise no server
# (fuzzing, the .deb build with its own cluster of Debian's binaries, compiling
# against other versions' headers).
not_sanitized=" test/sanitized_suites.t.sh test/fuzz_brief.t.sh test/debian_package.t.sh test/compile_versions.t.sh "
for f in test/*.t.sh; do [ -x "$f" ] && [[ "$not_sanitized" != *" $f "* ]] && suites+=("$f"); done
[ ${#suites[@]} -gt 0 ] && echo "== other suites"
n=0
for f in "${suites[@]}"; do
    n=$((n + 1)); name=$(basename "$f"); db="jwt_suite_$n"
    if ! fresh_db "$db" >"$LOG_DIR/$name.log" 2>&1; then fail "$name (database setup)"; show_log "$name"; continue; fi
    # Debian's python: only it has the jwt/psycopg2/cryptography modules.
    case $f in *.py) cmd=(/usr/bin/python3 "$f") ;; *) cmd=("./$f") ;; esac
    if PGDATABASE=$db run_logged "$name" "${cmd[@]}"; then
        count=$(grep -E '^[0-9]+ passed' "$LOG_DIR/$name.log" | tail -n 1)
        if check_suite; then pass "$name${count:+  ($count)}"; else fail "$name: sanitizer report or crash"; fi
    else
        fail "$name"; show_log "$name"; digest_failure "$name" "$LOG_DIR/$name.log"; check_suite
    fi
done
cd "$SRC" || exit 1

# --- stop the server: nothing may be reported at shutdown either ---
echo "== stopping the cluster"
as_server_user "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -t 60 -w stop >/dev/null
cp "$CLUSTER_DIR/server.log" "$LOG_DIR/server.log"
cluster_stop
if files=$(new_reports); then
    # shellcheck disable=SC2086
    show_reports $files; fail "sanitizer report at shutdown"
fi
# The whole run, canary excepted: no report file, no crash in the server log.
total=$(find "$REPORTS" -type f | wc -l)
crashes=$(tail -n +$((CANARY_END + 1)) "$LOG_DIR/server.log" | grep -c -E "$BAD_LOG_LINES")
if [ "$total" = 0 ] && [ "$crashes" = 0 ]; then
    pass "whole run: no sanitizer report, no crash in the server log ($(wc -l <"$WORK/server-starts.log") postmaster starts, all under ASan+UBSan)"
else
    fail "whole run: $total sanitizer report files, $crashes crash lines in the server log"
fi
finish
