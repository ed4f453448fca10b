# shellcheck shell=bash
# Pinned npm packages for the suites that run Node.js (jose interop, the
# Express example). Source it; needs node and npm on PATH.
#
#   npm_ensure DIR   install package-lock.json's packages with `npm ci` unless
#                    node_modules already holds the versions package.json pins
#                    (dependencies and devDependencies; "npm:name@x" aliases too).
#                    Returns non-zero, having said why ("# ..."), on failure.

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
