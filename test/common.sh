# shellcheck shell=bash
# Shared by test/run-tests.sh and test/demo.sh: dependencies, build, install.
# Source it from the repository root; it sources test/cluster.sh too.

. test/cluster.sh

# Debian packages the build, the tests and the demo need. libkrb5-dev: the server's
# libpq-be.h (read for the client connection's transport) includes gssapi.h. python3-* are for the
# interop suites, which run under /usr/bin/python3 (Debian's, not pyenv's);
# pgtap for the pgjwt compatibility suite; debhelper, dpkg-dev, fakeroot and
# postgresql-server-dev-all (pg_buildext) to build the .deb; chromium for the
# example app's browser test; bison and flex to build the other majors' servers
# from their tarballs (test/pg_majors.sh: recent majors ship no generated parsers).
JWT_APT_PACKAGES="postgresql-15 postgresql-server-dev-15 libssl-dev libkrb5-dev libcurl4-openssl-dev build-essential gcc make
    clang libclang-rt-14-dev openssl python3-jwt python3-psycopg2 python3-cryptography pgbouncer
    postgresql-15-pgtap debhelper dpkg-dev fakeroot postgresql-server-dev-all chromium bison flex"

# Warnings fail the build. (The Makefile includes PostgreSQL's headers with
# -isystem: they are not -Wextra clean.)
JWT_WARN_FLAGS="-Wall -Wextra -Werror"

is_root() { [ "$(id -u)" = 0 ]; }

# Install missing packages (as root), or say what is missing (otherwise).
# apt is only touched when something is missing, so repeat runs stay fast.
ensure_deps() {
    local p missing=()
    for p in $JWT_APT_PACKAGES; do
        # dpkg -s also succeeds for removed packages whose config files remain.
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! is_root; then
        echo "missing packages: ${missing[*]}" >&2
        echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
        return 1
    fi
    echo "== installing: ${missing[*]}"
    # Stop postgresql-15's postinst from starting Debian's default cluster: the
    # tests use their own throwaway one and nothing should be left running.
    local policy=/usr/sbin/policy-rc.d made_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    local rc=0 log
    log=$(mktemp)
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } \
        </dev/null >"$log" 2>&1 || { rc=1; cat "$log" >&2; echo "apt-get failed" >&2; }
    rm -f "$log"
    [ -n "$made_policy" ] && rm -f "$policy"
    return $rc
}

# Clean build with warnings as errors (clean, so that objects built earlier
# without -Werror are recompiled and checked), then install into PostgreSQL.
build_install() {
    echo "== building (PG_CFLAGS=$JWT_WARN_FLAGS)"
    make -s clean >/dev/null 2>&1
    make -s -j"$(nproc)" PG_CFLAGS="$JWT_WARN_FLAGS" || { echo "build failed" >&2; return 1; }
    echo "== installing extension"
    if [ -w "$(pg_config --pkglibdir)" ] && [ -w "$(pg_config --sharedir)/extension" ]; then
        make -s install >/dev/null
    elif command -v sudo >/dev/null; then
        sudo make -s install >/dev/null
    else
        echo "cannot write to $(pg_config --pkglibdir) and no sudo: run 'make install' as root" >&2
        return 1
    fi || { echo "make install failed" >&2; return 1; }
}

# Counting for the runners (run-tests.sh, sanitize.sh): one line a suite, then
# the closing "N passed, N failed" line that CI reads; finish exits non-zero
# when anything failed.
PASSED=0 FAILED=0 FAILED_NAMES=()
pass() { PASSED=$((PASSED + 1)); printf '  ok      %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1"); printf '  FAILED  %s\n' "$1"; }
# digest_failure NAME LOG: the lines of a failed suite's log that say what
# failed (its "not ok" checks with their got/expected lines, the nested
# FAILED lines of a suite that runs suites, diff lines), kept for finish.
# finish prints them last, so a view of only the output's tail still says
# what failed. -a: a log with a NUL or a byte that is not UTF-8 is still
# read as text (else grep only says "binary file matches", on stderr).
FAILURE_DIGEST=''
digest_failure() {
    local lines
    lines=$(grep -a -E '^(not ok|#   (got|expected))|FAILED  |^    \| (not ok|#   (got|expected))|^[-+][^-+]|timed out|stopped early' "$2" 2>/dev/null |
            head -n 12 | cut -c1-200 | sed "s/^/    /")
    FAILURE_DIGEST+="  $1:"$'\n'"${lines:-    (no check line; see its output above)}"$'\n'
}
finish() {
    echo
    [ -n "$FAILURE_DIGEST" ] && printf '== what failed\n%s' "$FAILURE_DIGEST"
    [ $FAILED -gt 0 ] && echo "failed: ${FAILED_NAMES[*]}"
    echo "$PASSED passed, $FAILED failed"
    [ $FAILED -eq 0 ]
    exit
}
