#!/usr/bin/env bash
# Interoperability with real DPoP clients: test/interop/dpop/dpop_interop.mjs
# (proofs from the `dpop` npm package verify and their thumbprints agree;
# replayed, wrong-method, wrong-URL, stale, tampered, key-mismatched,
# private-key, HS256 and alg-none proofs are refused; two sessions with one
# proof; bound tokens through jwt_authenticate).
# Installs the pinned packages (package-lock.json) with `npm ci` when
# node_modules is missing or does not hold the pinned versions; needs node and
# npm and, for that install, the npm registry.
# Uses the cluster the PG* variables name (test/run-tests.sh sets them); without
# PGHOST it starts a throwaway cluster of its own. Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=test/interop/dpop

# shellcheck source=test/npm.sh
. test/npm.sh
# shellcheck source=test/cluster.sh
. test/cluster.sh
node_suite_setup "$DIR" "the DPoP interop suite"

cd "$DIR"
node dpop_interop.mjs
