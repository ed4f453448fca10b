#!/usr/bin/env bash
# Every suite again, with the extension built with AddressSanitizer and
# UndefinedBehaviorSanitizer and the servers started with the runtime
# preloaded (test/sanitize.sh, also `make sanitize`).  Fails on any report.
set -uo pipefail
cd "$(dirname "$0")/.."
unset PGHOST PGPORT PGDATABASE
exec bash test/sanitize.sh
