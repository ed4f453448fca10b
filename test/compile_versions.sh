#!/usr/bin/env bash
# Compile-only check of the extension against several PostgreSQL major versions.
#
# Usage:  bash test/compile_versions.sh [SOURCE_DIR]
#   SOURCE_DIR defaults to this repository's root.  Every C file behind the
#   Makefile's OBJS (read at run time) is compiled with gcc -fsyntax-only and
#   warnings as errors, once per PostgreSQL version, against that version's
#   server headers.  One line per version: "PG 17: ok (...)", or the errors.
#
# Headers: a version installed on this machine (/usr/lib/postgresql/N/bin/pg_config,
# e.g. 15 from postgresql-server-dev-15) is used as it is.  Any other is taken
# from Debian's archive: postgresql-server-dev-N (the headers) and
# postgresql-client-N (PGXS's Makefile.global, for that version's CFLAGS) are
# downloaded with apt-get under a private configuration (test/pg_apt.sh; the system's sources
# and package state are not touched, nothing is installed) and unpacked with
# dpkg-deb into a cache.  Debian has never shipped some majors (14, 16 at the
# time of writing); they are reported as "unavailable" and skipped.
#
# Settings (environment):
#   PG_VERSIONS              majors to check (default: "13 14 15 16 17 18")
#   JWT_PG_HEADERS_CACHE     cache dir (default: $XDG_CACHE_HOME/jwt-pg-headers,
#                            else /tmp/jwt-pg-headers, -UID for non-root)
#   JWT_PG_REFRESH=1         fetch again even if cached
#   JWT_PG_REQUIRE_ALL=1     an unavailable version fails the run (exit 2)
#   JWT_DEBIAN_MIRROR        default: the URI this machine's apt sources use
#                            for its release (e.g. bookworm)
#   JWT_DEBIAN_SECURITY_MIRROR  default: the URI they use for <release>-security
#   JWT_DEBIAN_SUITES        suites searched (see below)
#   JWT_DEBIAN_SECURITY_SUITES
#   JWT_CSTD                 -std= value (default gnu99)
#   CC                       compiler (default gcc)
#
# Exit status: 0 every obtainable version compiles; 1 some version fails to
# compile; 2 headers could not be obtained (archive unreachable, or a version
# unavailable under JWT_PG_REQUIRE_ALL=1) and nothing failed to compile.
set -uo pipefail

SRC=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
SRC=$(cd "$SRC" && pwd) || { echo "no such source dir: ${1:-}" >&2; exit 2; }
[ -f "$SRC/Makefile" ] || { echo "$SRC has no Makefile" >&2; exit 2; }

PG_VERSIONS=${PG_VERSIONS:-"13 14 15 16 17 18"}
if [ -n "${JWT_PG_HEADERS_CACHE:-}" ]; then
    CACHE=$JWT_PG_HEADERS_CACHE
elif [ -n "${XDG_CACHE_HOME:-}" ]; then
    CACHE=$XDG_CACHE_HOME/jwt-pg-headers
elif [ "$(id -u)" = 0 ]; then
    CACHE=/tmp/jwt-pg-headers
else
    CACHE=/tmp/jwt-pg-headers-$(id -u)
fi
# Where Debian keeps PostgreSQL majors: bullseye 13, bookworm 15 (installed
# here), trixie 17, sid 18, experimental the next one.  Backports and the
# security suites may carry newer minors.
SUITES=${JWT_DEBIAN_SUITES:-"bullseye bullseye-updates bookworm-backports trixie trixie-updates trixie-backports sid experimental"}
SEC_SUITES=${JWT_DEBIAN_SECURITY_SUITES:-"bullseye-security trixie-security"}
# The private apt configuration (shared with test/pg_majors.sh): binary
# package indices only.
APT_DIR=$CACHE/apt
APT_TYPES=deb
APT_SUITES=$SUITES
APT_SEC_SUITES=$SEC_SUITES
. "$(dirname "${BASH_SOURCE[0]}")/pg_apt.sh"
CC=${CC:-gcc}
CSTD=${JWT_CSTD:-gnu99}

mkdir -p "$CACHE" || { echo "cannot create cache dir $CACHE" >&2; exit 2; }

# ---------------------------------------------------------------- sources

# The C files behind OBJS, as make itself evaluates the variable (+=,
# conditionals, continuation lines).  PGXS is replaced by an empty include so
# that no pg_config is needed.
list_sources() {
    local objs o c
    objs=$(make -s --no-print-directory -C "$SRC" -f Makefile -f - \
                PGXS=/dev/null PG_CONFIG=true jwt-print-objs <<'EOF' 2>/dev/null
jwt-print-objs:
	@echo $(OBJS)
EOF
    ) || objs=
    if [ -z "$objs" ]; then
        # Fallback: read OBJS assignments by hand.
        objs=$(sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' "$SRC/Makefile" |
               sed -n 's/^[[:space:]]*OBJS[[:space:]]*[+:]*=\(.*\)$/\1/p' | tr -s ' \t' '\n' | grep -v '\$' )
    fi
    [ -n "$objs" ] || { echo "no OBJS found in $SRC/Makefile" >&2; return 1; }
    for o in $objs; do
        c=${o%.o}.c
        if [ -f "$SRC/$c" ]; then
            echo "$c"
        else
            echo "OBJS lists $o but $SRC/$c does not exist" >&2
            return 1
        fi
    done
}

# ------------------------------------------------------------- fetching

# Unpack postgresql-server-dev-$1 (and PGXS's Makefile.global from
# postgresql-client-$1) into $CACHE/$1.  Sets FETCH_ERR on failure;
# returns 1 when unavailable, 2 when the archive could not be reached.
fetch_version() {
    local v=$1 dest=$CACHE/$1 tmp pkgver deb cdeb rc
    FETCH_ERR=
    pg_apt_fetch deb "postgresql-server-dev-$v" "$CACHE/.fetch-$v.XXXXXX"; rc=$?
    if [ $rc -ne 0 ]; then
        FETCH_ERR=$PG_APT_ERR
        [ $rc -eq 1 ] && FETCH_ERR="unavailable: $FETCH_ERR"
        return $rc
    fi
    tmp=$PG_APT_WORK pkgver=$PG_APT_VERSION
    deb=$(ls "$tmp"/postgresql-server-dev-"$v"_*.deb 2>/dev/null | head -1)
    mkdir -p "$tmp/root"
    if [ -z "$deb" ] || ! dpkg-deb -x "$deb" "$tmp/root" || [ ! -f "$tmp/root/usr/include/postgresql/$v/server/postgres.h" ]; then
        FETCH_ERR="could not unpack the headers from $deb"
        rm -rf "$tmp"
        return 2
    fi
    # CFLAGS that PGXS of that version uses (optional: fall back to ours).
    if apt_download "$tmp" "postgresql-client-$v" "$pkgver $(apt_versions "postgresql-client-$v")" >/dev/null; then
        cdeb=$(ls "$tmp"/postgresql-client-"$v"_*.deb 2>/dev/null | head -1)
        [ -n "$cdeb" ] && dpkg-deb --fsys-tarfile "$cdeb" |
            tar -xOf - "./usr/lib/postgresql/$v/lib/pgxs/src/Makefile.global" 2>/dev/null |
            sed -n 's/^CFLAGS *= *//p' | head -1 > "$tmp/cflags"
    fi
    echo "$pkgver" > "$tmp/version"
    rm -f "$tmp"/*.deb "$tmp/download.log"
    rm -rf "$dest"
    mv "$tmp" "$dest" || return 2
}

# ------------------------------------------------------------- compiling

# Keep only the flags of a PGXS CFLAGS line that matter to a syntax check
# and that this compiler knows (a newer Debian's gcc has warnings ours lacks).
filter_cflags() {
    local f kept=()
    for f in $1; do
        case $f in
            -W*|-fno-strict-aliasing|-fwrapv|-fexcess-precision=*) ;;
            *) continue ;;
        esac
        if "$CC" -Werror "$f" -fsyntax-only -x c /dev/null >/dev/null 2>&1; then
            kept+=("$f")
        fi
    done
    echo "${kept[*]}"
}

# Sets SERVER_INC, INC, PG_CFLAGS_V, ORIGIN for version $1; returns 1 (unavailable) or 2 (unreachable).
locate_headers() {
    local v=$1 pgc=/usr/lib/postgresql/$1/bin/pg_config rc
    REFRESH_NOTE=
    if [ -x "$pgc" ] && [ -f "$("$pgc" --includedir-server)/postgres.h" ]; then
        SERVER_INC=$("$pgc" --includedir-server)
        INC=$("$pgc" --includedir)
        PG_CFLAGS_V=$("$pgc" --cflags)
        ORIGIN="installed $("$pgc" --version | sed 's/^PostgreSQL //')"
        return 0
    fi
    # A version Debian does not have is looked up again after a week.
    if [ -z "${JWT_PG_REFRESH:-}" ] && [ -n "$(find "$CACHE/$v.unavailable" -mtime -7 2>/dev/null)" ]; then
        FETCH_ERR="$(cat "$CACHE/$v.unavailable") [cached; JWT_PG_REFRESH=1 looks again]"
        return 1
    fi
    if [ -n "${JWT_PG_REFRESH:-}" ] || [ ! -f "$CACHE/$v/root/usr/include/postgresql/$v/server/postgres.h" ]; then
        # Serialise fetches between concurrent runs sharing the cache.
        exec 9>"$CACHE/.lock"
        flock 9 2>/dev/null || true
        if [ -n "${JWT_PG_REFRESH:-}" ] || [ ! -f "$CACHE/$v/root/usr/include/postgresql/$v/server/postgres.h" ]; then
            fetch_version "$v"; rc=$?
            if [ $rc -eq 1 ]; then echo "$FETCH_ERR" > "$CACHE/$v.unavailable"; else rm -f "$CACHE/$v.unavailable"; fi
            if [ $rc -ne 0 ] && [ -f "$CACHE/$v/root/usr/include/postgresql/$v/server/postgres.h" ]; then
                REFRESH_NOTE="; refresh failed, cached headers used: $FETCH_ERR"
            elif [ $rc -ne 0 ]; then
                exec 9>&-; return $rc
            fi
        fi
        exec 9>&-
    fi
    SERVER_INC=$CACHE/$v/root/usr/include/postgresql/$v/server
    INC=$CACHE/$v/root/usr/include/postgresql
    PG_CFLAGS_V=$(cat "$CACHE/$v/cflags" 2>/dev/null)
    # Without that version's Makefile.global, use the installed PGXS's flags.
    [ -n "$PG_CFLAGS_V" ] || PG_CFLAGS_V=$(pg_config --cflags 2>/dev/null)
    ORIGIN="Debian $(cat "$CACHE/$v/version" 2>/dev/null)$REFRESH_NOTE"
}

src_list=$(list_sources) || exit 2
mapfile -t SOURCES <<<"$src_list"
command -v "$CC" >/dev/null || { echo "$CC not found" >&2; exit 2; }

failed=0 unobtainable=0
for v in $PG_VERSIONS; do
    locate_headers "$v"; rc=$?
    if [ $rc -eq 1 ]; then
        echo "PG $v: skipped ($FETCH_ERR)"
        [ -n "${JWT_PG_REQUIRE_ALL:-}" ] && unobtainable=1
        continue
    elif [ $rc -ne 0 ]; then
        echo "PG $v: NOT CHECKED - $FETCH_ERR"
        unobtainable=1
        continue
    fi
    # The flags PGXS builds with (see the Makefile and test/common.sh), minus
    # code generation: that version's CFLAGS, CPPFLAGS (-O2 for FORTIFY),
    # PG_CFLAGS=-Wall -Wextra -Werror, PG_CPPFLAGS -I src -isystem server.
    read -r -a version_flags <<<"$(filter_cflags "$PG_CFLAGS_V")"
    flags=(-fsyntax-only "-std=$CSTD" "${version_flags[@]}"
           -O2 -Wdate-time -D_FORTIFY_SOURCE=2 -D_GNU_SOURCE
           -Wall -Wextra -Werror
           -I "$SRC/src" -isystem "$SERVER_INC" -isystem "$INC" -I "$SRC")
    [ -d "$INC/internal" ] && flags+=(-isystem "$INC/internal")
    errs=
    nbad=0
    for c in "${SOURCES[@]}"; do
        if ! out=$(cd "$SRC" && "$CC" "${flags[@]}" "$c" 2>&1); then
            nbad=$((nbad + 1))
            errs+="$out"$'\n'
        elif [ -n "$out" ]; then
            errs+="$out"$'\n'   # notes or #warning output without failure
        fi
    done
    if [ $nbad -eq 0 ]; then
        echo "PG $v: ok ($ORIGIN, ${#SOURCES[@]} files)"
    else
        echo "PG $v: FAILED in $nbad of ${#SOURCES[@]} files ($ORIGIN)"
        failed=1
    fi
    [ -n "$errs" ] && printf '%s' "$errs" | sed 's/^/    /'
done

[ $failed -ne 0 ] && exit 1
[ $unobtainable -ne 0 ] && exit 2
exit 0
