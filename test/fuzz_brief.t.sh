#!/usr/bin/env bash
# A short fuzzing pass inside the main test run: every libFuzzer target for
# FUZZ_BRIEF_SECONDS (default 10) from the committed seed corpus, plus any
# saved crash inputs.  The long runs have their own command: make fuzz.
set -uo pipefail
cd "$(dirname "$0")/.."
bash fuzz/run.sh "${FUZZ_BRIEF_SECONDS:-10}"
rc=$?
if [ $rc = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $rc
