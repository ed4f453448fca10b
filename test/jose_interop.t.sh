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

# shellcheck source=test/npm.sh
. test/npm.sh
# shellcheck source=test/cluster.sh
. test/cluster.sh
node_suite_setup "$DIR" "the jose interop suite"

cd "$DIR"
node jose_interop.mjs
