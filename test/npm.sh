# shellcheck shell=bash
# Pinned npm packages for the suites that run Node.js (jose and DPoP interop,
# the Express example). Source it; needs node and npm on PATH.
#
#   npm_ensure DIR   install package-lock.json's packages with `npm ci` unless
#                    node_modules already holds the versions package.json pins
#                    (dependencies and devDependencies; "npm:name@x" aliases too).
#                    Returns non-zero, having said why ("# ..."), on failure.
#   node_suite_setup DIR WHAT
#                    the whole setup of an interop suite (see below).

npm_pinned_ok() {
    # shellcheck disable=SC2016 # JavaScript, not shell
    (cd "$1" && node -e '
        const fs = require("fs");
        const pkg = JSON.parse(fs.readFileSync("package.json"));
        for (const [name, spec] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
            const want = spec.replace(/^npm:.*@/, "");
            let got;
            try { got = JSON.parse(fs.readFileSync(`node_modules/${name}/package.json`)).version; } catch { got = null; }
            if (got !== want) process.exit(1);
        }') 2>/dev/null
}

npm_ensure() {
    npm_pinned_ok "$1" && return 0
    echo "# npm ci in $1"
    # --ignore-scripts: no package needs an install script, and CI runs as root.
    # --include=dev: devDependencies (playwright-core) even with NODE_ENV=production.
    (cd "$1" && npm ci --no-audit --no-fund --ignore-scripts --include=dev 2>&1) | sed 's/^/#   /' ||
        { echo "# npm ci in $1 failed (is the npm registry reachable?)"; return 1; }
    npm_pinned_ok "$1" ||
        { echo "# npm ci in $1 did not install the versions package.json pins"; return 1; }
}

# node_suite_setup DIR WHAT: what a Node.js suite that prints its own count (the
# interop suites) needs before it runs: node and npm on PATH, DIR's pinned
# packages, and a cluster with the extension: the one the PG* variables name,
# else a throwaway one (source test/cluster.sh first). WHAT names the suite in
# the message for a missing tool. A missing piece is one failure and the count
# line, and exits.
node_suite_setup() {
    local tool
    for tool in node npm; do
        command -v "$tool" >/dev/null ||
            _node_setup_failed "$tool not found: $2 needs Node.js (20 or later) and npm on PATH"
    done
    npm_ensure "$1" || _node_setup_failed "the pinned npm packages of $1 are not installed (see above)"
    if [ -z "${PGHOST:-}" ]; then
        cluster_start
        "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION IF NOT EXISTS jwt"
    fi
}
_node_setup_failed() {
    echo "not ok - $1"
    echo "0 passed, 1 failed"
    exit 1
}
