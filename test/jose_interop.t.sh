#!/usr/bin/env bash
# Interoperability with the `jose` npm package: test/interop/jose/jose_interop.mjs
# (every algorithm both ways, the keyring's JWKS in both directions, refusals).
# Installs the pinned packages (package-lock.json) with `npm ci` when
# node_modules is missing or does not hold the pinned versions; needs node and
# npm (CI has them preinstalled) and, for that install, the npm registry.
# Uses the cluster the PG* variables name (test/run-tests.sh sets them); without
# PGHOST it starts a throwaway cluster of its own. Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=test/interop/jose

fail_setup() {
    echo "not ok - $1"
    echo "0 passed, 1 failed"
    exit 1
}

for tool in node npm; do
    command -v "$tool" >/dev/null ||
        fail_setup "$tool not found: the jose interop suite needs Node.js (20 or later) and npm on PATH"
done

# shellcheck source=test/npm.sh
. test/npm.sh
npm_ensure "$DIR" || fail_setup "the pinned npm packages of $DIR are not installed (see above)"

# shellcheck source=test/cluster.sh
. test/cluster.sh
if [ -z "${PGHOST:-}" ]; then
    cluster_start
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION IF NOT EXISTS jwt"
fi

cd "$DIR"
node jose_interop.mjs
