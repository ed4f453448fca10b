#!/usr/bin/env bash
# The runners' digest of a failed suite (test/common.sh digest_failure, printed
# by finish): it never fails the run, never hides a failure, and says what
# failed whatever the log holds. No server needed. Each case runs the runner's
# functions in a bash of its own under the runners' options (set -uo pipefail).
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh

T=$(mktemp -d /tmp/jwt-digest.XXXXXX)
trap 'rm -rf "$T"' EXIT
# runner SCRIPT: what the runner's functions print and their exit status
runner() { bash -c 'set -uo pipefail; . test/common.sh; '"$1" 2>&1; echo "rc=$?"; }

# attack: a suite's log with a NUL byte or a byte that is not UTF-8 (grep
# calls it binary and prints no line): the check lines are still shown
printf 'ok - a\nnot ok - with a NUL \0 here\n#   got:      x\n' >"$T/nul.log"
printf 'not ok - caf\xe9 latin-1\n' >"$T/latin1.log"
out=$(runner "fail nul; digest_failure nul '$T/nul.log'; fail latin1; digest_failure latin1 '$T/latin1.log'; finish")
check "a log with a NUL byte: its not ok line is in the digest" "$(grep -ac '^    not ok - with a NUL' <<<"$out")" 1
check "... and its got line" "$(grep -ac '^    #   got:      x' <<<"$out")" 1
check "a log with a byte that is not UTF-8: its not ok line is in the digest" "$(grep -ac '^    not ok - caf' <<<"$out")" 1

# attack: a missing log, an empty log, a log with no check line: the digest
# says so, the failure still counts and the run still fails
: >"$T/empty.log"
out=$(runner "pass good; fail 'gone suite'; digest_failure 'gone suite' '$T/missing.log'; fail empty; digest_failure empty '$T/empty.log'; finish")
check "a missing or empty log: said, no error from the digest" \
    "$(grep -c '(no check line; see its output above)' <<<"$out")" 2
check "a suite name with a space is kept whole" "$(grep -c '^  gone suite:$' <<<"$out")" 1
check "the run still fails: the count line and status" "$(tail -n 2 <<<"$out" | tr '\n' ' ')" "1 passed, 2 failed rc=1 "
check "nothing on stderr about the missing log" "$(grep -c 'No such file' <<<"$out" || true)" 0

# attack: a log whose lines could pass for the count line, or are very long:
# the digest is indented (a reader of "^N passed" finds only finish's line)
# and each line is cut
{ echo "not ok - $(head -c 100000 /dev/zero | tr '\0' x)"; echo "9 passed, 0 failed"; echo "+9 passed, 0 failed"; } >"$T/tricky.log"
out=$(runner "fail tricky; digest_failure tricky '$T/tricky.log'; finish")
check "only finish's count line starts a line" "$(grep -E '^[0-9]+ passed' <<<"$out")" "0 passed, 1 failed"
check "a very long line is cut to 200 characters (and the indent)" "$(grep -a '^    not ok' <<<"$out" | awk '{ print length($0) }')" 204
check "the status is still the failure's" "$(tail -n 1 <<<"$out")" "rc=1"

# a run without failures prints no digest and passes
out=$(runner "pass a; finish")
check "no failure: no digest, status 0" "$(grep -c 'what failed' <<<"$out" || true) $(tail -n 1 <<<"$out")" "0 rc=0"
finish
