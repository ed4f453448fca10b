#!/usr/bin/env bash
# PostgreSQL servers of the majors this machine's Debian release does not
# carry, built from Debian's source packages, so that the tests run on them.
#
# Usage:  bash test/pg_majors.sh [MAJOR...]      (default: 13 14 16 17 18)
# One line per major, to stdout:
#   PG 18: ready /var/cache/jwt-pg-builds/18 (18.1-1, built in 312s)
#   PG 14: unavailable (no postgresql-14 source package in Debian (...))
#   PG 17: FAILED (configure failed; log /var/cache/jwt-pg-builds/17.build.log)
# A ready major's install prefix is the path printed: <path>/bin/pg_config,
# <path>/bin/postgres, PGXS and pg_regress under <path>/lib/postgresql/pgxs/.
#
# Where the builds land (outside the checkout, once per machine):
#   $JWT_PG_BUILDS_CACHE, else $XDG_CACHE_HOME/jwt-pg-builds, else (root)
#   /var/cache/jwt-pg-builds, else ~/.cache/jwt-pg-builds.
#   <cache>/<major>/            the install prefix, moved into place when complete;
#                               <cache>/<major>/.built holds the Debian version,
#                               .recipe what was built (another recipe is rebuilt)
#   <cache>/apt/                the private apt state (Sources indices)
#   <cache>/<major>.unavailable why a major could not be obtained (looked up again
#                               after a week, or with JWT_PG_REFRESH=1)
#   <cache>/<major>.build.log   the log of a failed build
#
# Source: `apt-get source --download-only postgresql-<major>` under a private
# apt configuration derived from this machine's own apt sources (test/pg_apt.sh:
# no host name is written in the repository, the system's apt state and its
# PostgreSQL are not touched). Only the upstream tarball (the .orig.tar) is
# built, with configure and make: a lean server (OpenSSL for TLS, no ICU,
# readline, zlib or docs) and the contrib modules the suites need (pgcrypto,
# dblink). Debian's patches and packaging are not applied.
# Build needs: build-essential, libssl-dev, bison, flex, perl (recent majors
# ship no pre-generated parsers in their tarballs).
#
# Settings (environment):
#   JWT_PG_BUILD_JOBS   make -j (default: number of cores)
#   JWT_PG_REFRESH=1    look up an unavailable major again now (a ready build is
#                       kept; delete <cache>/<major> to rebuild it)
#   JWT_DEBIAN_MIRROR, JWT_DEBIAN_SECURITY_MIRROR: see test/pg_apt.sh
#
# Exit status: 0 every major asked for is ready or unavailable in Debian;
# 1 some build failed; 2 the archive could not be reached for a major that is
# not built yet.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

MAJORS=${*:-"13 14 16 17 18"}
if [ -n "${JWT_PG_BUILDS_CACHE:-}" ]; then
    CACHE=$JWT_PG_BUILDS_CACHE
elif [ -n "${XDG_CACHE_HOME:-}" ]; then
    CACHE=$XDG_CACHE_HOME/jwt-pg-builds
elif [ "$(id -u)" = 0 ]; then
    CACHE=/var/cache/jwt-pg-builds
else
    CACHE=${HOME:-/tmp}/.cache/jwt-pg-builds
fi
JOBS=${JWT_PG_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}

# Where Debian keeps PostgreSQL majors: bullseye 13, trixie 17, sid 18 (and
# experimental the next one); the -security and -updates suites may carry
# newer minors. Only Sources indices are fetched.
APT_DIR=$CACHE/apt
APT_TYPES=deb-src
APT_SUITES=${JWT_DEBIAN_SOURCE_SUITES:-"bullseye bullseye-updates trixie trixie-updates sid"}
APT_SEC_SUITES=${JWT_DEBIAN_SECURITY_SOURCE_SUITES:-"bullseye-security trixie-security"}
. "$HERE/pg_apt.sh"

mkdir -p "$CACHE" || { echo "cannot create cache dir $CACHE" >&2; exit 2; }
# The servers run as another user (postgres) when the tests run as root.
chmod 755 "$CACHE" 2>/dev/null

# What is built: a lean server (TLS through OpenSSL; no ICU, readline, zlib),
# and the contrib modules the suites use (sql/jwt_setup.sql: pgcrypto;
# jwt_revocation, jwt_keyring_access: dblink). A cached build of another
# recipe is rebuilt.
CONFIGURE_FLAGS="--with-openssl --without-icu --without-readline --without-zlib"
CONTRIB="pgcrypto dblink"
RECIPE="$CONFIGURE_FLAGS; contrib: $CONTRIB"

# build_major MAJOR: download, configure, make, install into $CACHE/MAJOR.
# Sets MSG; returns 0 built, 1 unavailable, 2 unreachable, 3 build failed.
build_major() {
    local v=$1 prefix=$CACHE/$1 work ver orig log=$CACHE/$1.build.log t0=$SECONDS rc
    MSG=
    pg_apt_fetch source "postgresql-$v" "$CACHE/.build-$v.XXXXXX" ||
        { rc=$?; MSG=$PG_APT_ERR; return $rc; }
    work=$PG_APT_WORK ver=$PG_APT_VERSION
    orig=$(ls "$work"/postgresql-"$v"_*.orig.tar.* 2>/dev/null | head -1)
    if [ -z "$orig" ] || ! tar -C "$work" -xf "$orig" || ! ls -d "$work"/postgresql-"$v"*/configure >/dev/null 2>&1; then
        MSG="could not unpack an upstream tarball with a configure script from postgresql-$v $ver"
        rm -rf "$work"
        return 3
    fi
    local srcdir dest=$work/dest
    srcdir=$(dirname "$(ls -d "$work"/postgresql-"$v"*/configure | head -1)")
    # Installed into a staging directory, then moved into place: the prefix
    # never holds half a build, and a rebuild replaces the old one at once.
    (
        echo "== postgresql-$v $ver: configure"
        (cd "$srcdir" && ./configure --prefix="$prefix" $CONFIGURE_FLAGS) &&
        echo "== make" &&
        make -C "$srcdir" -j"$JOBS" -s &&
        echo "== install" &&
        make -C "$srcdir/src" -s install DESTDIR="$dest" &&
        make -C "$srcdir/config" -s install DESTDIR="$dest" &&
        for c in $CONTRIB; do
            echo "== contrib/$c" && make -C "$srcdir/contrib/$c" -s install DESTDIR="$dest" || exit 1
        done
    ) >"$log" 2>&1
    local rc=$?
    if [ $rc -ne 0 ] || [ ! -x "$dest$prefix/bin/pg_config" ]; then
        MSG="build of postgresql-$v $ver failed; log $log"
        tail -n 30 "$log" | sed 's/^/    | /' >&2
        rm -rf "$work"
        return 3
    fi
    chmod -R a+rX "$dest$prefix"
    echo "$ver" > "$dest$prefix/.built"
    echo "$RECIPE" > "$dest$prefix/.recipe"
    rm -rf "$prefix.old"
    [ -e "$prefix" ] && mv "$prefix" "$prefix.old"
    mv "$dest$prefix" "$prefix" || return 3
    rm -rf "$work" "$log" "$prefix.old"
    MSG="$ver, built in $((SECONDS - t0))s"
}

# ready MAJOR: a complete build of this recipe is in place.
ready() { [ -f "$CACHE/$1/.built" ] && [ "$(cat "$CACHE/$1/.recipe" 2>/dev/null)" = "$RECIPE" ]; }

status=0
for v in $MAJORS; do
    if [ "$v" = 15 ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
        echo "PG 15: installed /usr/lib/postgresql/15 ($(/usr/lib/postgresql/15/bin/pg_config --version | sed 's/^PostgreSQL //'))"
        continue
    fi
    if ready "$v"; then
        echo "PG $v: ready $CACHE/$v ($(cat "$CACHE/$v/.built"), cached)"
        continue
    fi
    if [ -z "${JWT_PG_REFRESH:-}" ] && [ -n "$(find "$CACHE/$v.unavailable" -mtime -7 2>/dev/null)" ]; then
        echo "PG $v: unavailable ($(cat "$CACHE/$v.unavailable"); cached, JWT_PG_REFRESH=1 looks again)"
        continue
    fi
    # One build at a time per major, between concurrent runs sharing the cache.
    exec 9>"$CACHE/$v.lock"
    flock 9 2>/dev/null || true
    if ready "$v"; then
        echo "PG $v: ready $CACHE/$v ($(cat "$CACHE/$v/.built"), built by another run)"
        exec 9>&-
        continue
    fi
    build_major "$v"; rc=$?
    exec 9>&-
    case $rc in
        0) rm -f "$CACHE/$v.unavailable"; echo "PG $v: ready $CACHE/$v ($MSG)" ;;
        1) echo "$MSG" > "$CACHE/$v.unavailable"; echo "PG $v: unavailable ($MSG)" ;;
        2) echo "PG $v: NOT OBTAINED ($MSG)"; [ $status -eq 0 ] && status=2 ;;
        *) echo "PG $v: FAILED ($MSG)"; status=1 ;;
    esac
done
exit $status
