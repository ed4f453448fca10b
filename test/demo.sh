#!/usr/bin/env bash
# `make demo`: install packages if needed, build and install like the tests,
# start a throwaway cluster and run test/demo.sql with --echo-all, so each line
# of it (comments too) is shown before its result. Errors are part of the tour,
# so psql does not stop on them.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. test/common.sh

ensure_deps && build_install || exit 1
cluster_start || exit 1
# 2>&1: errors (stderr) interleave with results (stdout) in order. The sed adds
# a blank line before each heading (psql does not echo blank lines) and drops
# the LOCATION lines of verbose errors (C file and line: noise here).
"$PGBIN/psql" -X -v ON_ERROR_STOP=0 --echo-all -f test/demo.sql 2>&1 |
    sed -e 's/^-- \(===\|---\) /\n&/' -e '/^LOCATION:  /d'
