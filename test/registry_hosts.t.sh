#!/usr/bin/env bash
# Repository hygiene (issue 12 item 18): no file in the repository names a host
# of this machine's package registries.  The hosts are read at run time from
# apt's own sources and npm's configuration, so this test names none either.
set -uo pipefail
cd "$(dirname "$0")/.."
hosts=()
while read -r uri; do
    h=${uri#*://}; h=${h%%/*}; h=${h##*@}; h=${h%%:*}
    [ -n "$h" ] && hosts+=("$h")
done < <( { apt-get indextargets --no-release-info --format '$(REPO_URI)' 2>/dev/null
            command -v npm >/dev/null && npm config get registry 2>/dev/null; } | sort -u)
passed=0 failed=0
if [ ${#hosts[@]} -eq 0 ]; then
    echo "not ok - no registry host could be read from apt or npm"; failed=1
else
    for h in $(printf '%s\n' "${hosts[@]}" | sort -u); do
        hits=$(git ls-files -z | xargs -0 grep -IlF -- "$h" 2>/dev/null)
        if [ -z "$hits" ]; then
            echo "ok - no file names the registry host of apt/npm source #$((passed + failed + 1))"
            passed=$((passed + 1))
        else
            echo "not ok - a registry host is written in: $(echo $hits)"
            failed=$((failed + 1))
        fi
    done
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
