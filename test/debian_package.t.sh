#!/usr/bin/env bash
# The Debian package: debian/ (pg_buildext) builds postgresql-<major>-jwt, the
# .deb holds the extension's files (the same ones `make install` installs) and
# no test files, and once installed with dpkg it works in a clean cluster.
#
# Builds in a copy of the work tree under /tmp (the tree itself is not touched).
# Needs root (dpkg -i). The package's files are where `make install` puts the
# extension, so the files there before the suite (the test run's make install)
# are saved first, and put back, byte for byte, once the package is purged: the
# suites that follow still run on the extension the test run built.
# Always starts a throwaway cluster of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh

if [ "$(id -u)" != 0 ]; then echo "# needs root (dpkg -i)" >&2; exit 1; fi

TMP=$(mktemp -d /tmp/jwt-deb.XXXXXX)
PKG='' BACKUP_LIST=() INSTALLED_BY_US='' RESTORED=''
# At exit (registered before the cluster, so it runs after cluster_stop): purge
# the package if this suite installed it, put make install's files back, and
# remove the temporary directory. The normal path has done the first two
# already, as counted checks.
_deb_cleanup() {
    if [ -n "$INSTALLED_BY_US" ]; then
        # A dpkg killed half-way must finish configuring before it can purge.
        dpkg -P "$PKG" >/dev/null 2>&1 ||
            { dpkg --configure -a >/dev/null 2>&1; dpkg -P "$PKG" >/dev/null 2>&1; } ||
            echo "# could not purge $PKG" >&2
    fi
    if [ -z "$RESTORED" ]; then restore_files || echo "# could not restore make install's files" >&2; fi
    rm -rf "$TMP"
}
at_exit _deb_cleanup

# Save / restore the files at PATHS that the package would overwrite. Restored
# by rename, never by rewriting a file in place: a server may have jwt.so mapped.
backup_files() {
    local f
    for f in "$@"; do
        [ -e "$f" ] || continue
        mkdir -p "$TMP/backup$(dirname "$f")"
        cp -a "$f" "$TMP/backup$f"
        BACKUP_LIST+=("$f")
    done
}
restore_files() {
    local f
    RESTORED=1
    [ ${#BACKUP_LIST[@]} -gt 0 ] || return 0
    for f in "${BACKUP_LIST[@]}"; do
        mkdir -p "$(dirname "$f")"
        cp -a "$TMP/backup$f" "$f.jwt-deb-restore" && mv -f "$f.jwt-deb-restore" "$f" || return 1
    done
}

own_cluster ""

# Build settings: the one PostgreSQL the tests use (pg_config), and what the
# package says it ships (derived, never hard-coded: default_version may move).
PG_CONFIG=$(command -v pg_config)
PGMAJOR=$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
PKG=postgresql-$PGMAJOR-jwt
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
EXTDIR=$("$PG_CONFIG" --sharedir)/extension
EXTVERSION=$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" jwt.control)
# The install and update scripts: every jwt--*.sql at the top of the tree.
SQL_FILES=()
for f in jwt--*.sql; do [ -f "$f" ] && SQL_FILES+=("$EXTDIR/$f"); done
VERSION=$(dpkg-parsechangelog -l debian/changelog -S Version)
ARCH=$(dpkg --print-architecture)
DEB=$TMP/${PKG}_${VERSION#*:}_$ARCH.deb
# make from test/run-tests.sh (make test) may have exported its jobserver.
CLEAN_ENV=(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL)

# --- a copy of the work tree: tracked and new files, no build products ---
mkdir "$TMP/src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
        xargs -0 cp -a --parents -t "$TMP/src"
else
    cp -a . "$TMP/src" && "${CLEAN_ENV[@]}" make -s -C "$TMP/src" clean >/dev/null 2>&1
fi

check "pg_buildext builds for PostgreSQL $PGMAJOR (debian/pgversions)" \
    "$(cd "$TMP/src" && pg_buildext supported-versions | grep -Fx "$PGMAJOR")" "$PGMAJOR"
check "the package version is jwt.control's default_version" \
    "$(v=${VERSION#*:}; echo "${v%-*}")" "$EXTVERSION"

# --- build the binary package ---
if (cd "$TMP/src" && DEB_BUILD_OPTIONS="noddebs parallel=$(nproc)" \
        "${CLEAN_ENV[@]}" dpkg-buildpackage -us -uc -b) >"$TMP/build.log" 2>&1; then
    ok "dpkg-buildpackage -us -uc -b"
else
    notok "dpkg-buildpackage -us -uc -b"; tail -n 40 "$TMP/build.log" | sed 's/^/#   /'
    finish; exit
fi
check "it built $(basename "$DEB")" "$(ls "$DEB" 2>&1)" "$DEB"
# One package per major pg_buildext supports here (debian/pgversions and the
# installed postgresql-server-dev-*: on Debian 12's own archive, 15 only).
for v in $(cd "$TMP/src" && pg_buildext supported-versions); do
    check "it built postgresql-$v-jwt (pg_buildext supports $v here)" \
        "$(ls "$TMP"/postgresql-"$v"-jwt_*_"$ARCH".deb 2>/dev/null | wc -l)" 1
done
check "its Depends name postgresql-$PGMAJOR" \
    "$(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -Fx "postgresql-$PGMAJOR")" \
    "postgresql-$PGMAJOR"

# --- its contents ---
dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\.||' >"$TMP/contents"
for f in "$PKGLIBDIR/jwt.so" "$EXTDIR/jwt.control" "${SQL_FILES[@]}"; do
    check "dpkg-deb -c lists $f" "$(grep -Fx "$f" "$TMP/contents")" "$f"
done
check "dpkg-deb -c lists no test files" \
    "$(grep -E '/(test|tests|sql|expected|results|fuzz|bench|examples|notes)/|\.t\.sh$|\.py$|regress' "$TMP/contents")" ""

# The same files as `make install` from the same tree (the documentation in
# /usr/share/doc aside). Text files are identical; jwt.so and the JIT bitcode
# are compiled with Debian's flags (and jwt.so stripped), so for jwt.so compare
# the symbols it exports.
dpkg-deb -x "$DEB" "$TMP/deb"
if "${CLEAN_ENV[@]}" make -s -C "$TMP/src" -j"$(nproc)" install DESTDIR="$TMP/mi" \
        PG_CONFIG="/usr/lib/postgresql/$PGMAJOR/bin/pg_config" >"$TMP/make.log" 2>&1; then
    (cd "$TMP/deb" && find . -type f ! -path './usr/share/doc/*' | sort) >"$TMP/deb.files"
    (cd "$TMP/mi" && find . -type f | sort) >"$TMP/mi.files"
    check "the package installs the files make install does" \
        "$(diff "$TMP/mi.files" "$TMP/deb.files" | grep '^[<>]' || true)" ""
    differ=$(grep -vE '\.(so|bc)$' "$TMP/deb.files" | while read -r f; do
                 cmp -s "$TMP/deb/$f" "$TMP/mi/$f" || echo "$f"; done)
    check "its control file and SQL scripts are make install's" "$differ" ""
    syms() { nm -D --defined-only "$1" | awk '{print $3}' | sort; }
    check "its jwt.so exports what make install's does" \
        "$(diff <(syms "$TMP/mi$PKGLIBDIR/jwt.so") <(syms "$TMP/deb$PKGLIBDIR/jwt.so") || true)" ""
else
    notok "make install DESTDIR=... in the copy"; tail -n 20 "$TMP/make.log" | sed 's/^/#   /'
fi

# --- dpkg -i, over the test run's make install ---
PKG_FILES=$(grep -v '/$' "$TMP/contents")
# shellcheck disable=SC2086  # one path a line, no spaces
backup_files $PKG_FILES
RESTORED=''
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'install ok installed'; then
    echo "# $PKG was installed before this suite: it stays installed (with make install's files)"
else
    INSTALLED_BY_US=1
fi
if dpkg -i "$DEB" >"$TMP/dpkg.log" 2>&1; then ok "dpkg -i $(basename "$DEB")"
else notok "dpkg -i $(basename "$DEB")"; sed 's/^/#   /' "$TMP/dpkg.log"; fi
check "dpkg-query: $PKG $VERSION is installed" \
    "$(dpkg-query -W -f='${Status} ${Version}' "$PKG" 2>&1)" "install ok installed $VERSION"
dpkg -L "$PKG" >"$TMP/dpkg-L" 2>&1 || true
for f in "$PKGLIBDIR/jwt.so" "$EXTDIR/jwt.control" "${SQL_FILES[@]}"; do
    check "dpkg -L $PKG shows $f (pg_config's directory)" "$(grep -Fx "$f" "$TMP/dpkg-L")" "$f"
done
check "dpkg --verify $PKG: the installed files are the package's" "$(dpkg --verify "$PKG" 2>&1)" ""

# --- the installed package in a clean cluster ---
SECRET='a secret of at least thirty-two bytes!!'
psql_session_start -d postgres   # in_session: end each statement with ";"
check "CREATE EXTENSION jwt" "$(in_session "CREATE EXTENSION jwt;")" ""
check "the extension's version is $EXTVERSION" \
    "$(in_session "SELECT extversion FROM pg_extension WHERE extname = 'jwt';")" "$EXTVERSION"
check "HS256 sign + verify round trip" \
    "$(in_session "SELECT jwt_verify(jwt_sign('{\"sub\":\"deb\"}', '$SECRET'), '$SECRET')->>'sub';")" deb
in_session "SELECT jwt_generate_key('ES256');" >/dev/null
check "keyring ES256 sign + verify round trip" \
    "$(in_session "SELECT jwt_verify(jwt_sign('{\"sub\":\"deb\"}'))->>'sub';")" deb
# The backend runs the package's jwt.so: the file it has mapped is that inode.
BACKEND=$(in_session "SELECT pg_backend_pid();")
[[ $BACKEND =~ ^[0-9]+$ ]] || BACKEND=none
check "the server runs the package's jwt.so" \
    "$(awk -v f="$PKGLIBDIR/jwt.so" '$6 == f {print $5; exit}' "/proc/$BACKEND/maps" 2>&1)" \
    "$(stat -c %i "$PKGLIBDIR/jwt.so")"
# Every extension the Makefile lists is in the package (pgjwt, jwt_auth).
for ext in $(sed -n 's/^EXTENSION *= *//p' Makefile); do
    check "dpkg -L $PKG shows $ext.control" \
        "$(grep -Fx "$EXTDIR/$ext.control" "$TMP/dpkg-L")" "$EXTDIR/$ext.control"
done
check "CREATE EXTENSION jwt_auth (auth.uid() over jwt's identity)" \
    "$(in_session "CREATE EXTENSION jwt_auth; SELECT auth.uid() IS NULL;")" t
kill "$SESSION_PSQL_PID" 2>/dev/null || true; SESSION_PSQL_PID=''

# --- purge it, and put make install's files back ---
if [ -n "$INSTALLED_BY_US" ]; then
    if dpkg -P "$PKG" >"$TMP/dpkg.log" 2>&1; then ok "dpkg -P $PKG"
    else notok "dpkg -P $PKG"; sed 's/^/#   /' "$TMP/dpkg.log"; fi
    INSTALLED_BY_US=''
    check "dpkg-query: $PKG is gone" \
        "$(dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -v not-installed || true)" ""
fi
if restore_files; then ok "make install's files put back"; else notok "make install's files put back"; fi
bad=''
for f in ${BACKUP_LIST[@]+"${BACKUP_LIST[@]}"}; do cmp -s "$TMP/backup$f" "$f" || bad+=" $f"; done
check "they are byte for byte what was there before" "$bad" ""
if [ ${#BACKUP_LIST[@]} -gt 0 ]; then
    DB=jwt_deb_after_$$
    own_database "$DB"
    check "afterwards: CREATE EXTENSION jwt and a round trip (make install's files)" \
        "$(p "CREATE EXTENSION jwt; SELECT jwt_verify(jwt_sign('{\"sub\":\"mi\"}', '$SECRET'), '$SECRET')->>'sub'")" mi
else
    echo "# no extension was installed before this suite (no make install): none is now"
fi

finish
