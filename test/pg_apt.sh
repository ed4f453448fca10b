# shellcheck shell=bash
# A private apt configuration over Debian's archive, for the PostgreSQL majors
# this machine's release does not carry. Sourced by test/compile_versions.sh
# (header packages) and test/pg_majors.sh (source packages); both download
# through pg_apt_fetch (at the end).
#
# The archive is the one this machine's apt already uses: its URIs are read
# from the system's sources (one-line .list files and deb822 .sources files),
# so no host name is written here and a local mirror is honoured. The system's
# sources, package state and installed packages are never touched: apt runs
# with its lists, cache and status under $APT_DIR, and nothing is installed.
#
# Before calling pg_apt_prepare, the caller sets:
#   APT_DIR          private state directory (created)
#   APT_SUITES       suites on the main archive URI
#   APT_SEC_SUITES   suites on the security archive URI
#   APT_TYPES        "deb", "deb-src" or "deb deb-src" (default "deb")
# Settings (environment):
#   JWT_DEBIAN_MIRROR           default: the URI this machine's apt sources use
#                               for its release (e.g. bookworm)
#   JWT_DEBIAN_SECURITY_MIRROR  default: the URI they use for <release>-security

# apt_source_uri SUITE: the URI of the first enabled "deb" source for SUITE.
apt_source_uri() {
    local want=$1 f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        # deb [options] URI SUITE COMPONENT...
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
            awk -v s="$want" '$1 == "deb" && $3 == s { print $2; exit }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        # deb822 stanzas, separated by blank lines
        awk -v s="$want" '
            function flush() { if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " s " ")) { split(uris, u, " "); print u[1]; found = 1 }
                               types = uris = suites = enabled = "" }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); if (found) exit; next }
            { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
              if (key == "types") types = $0; else if (key == "uris") uris = $0
              else if (key == "suites") suites = $0; else if (key == "enabled") enabled = tolower($0) }
            END { if (!found) flush() }' "$f"
    done | head -n 1
}
CODENAME=$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")
MIRROR=${JWT_DEBIAN_MIRROR:-$(apt_source_uri "$CODENAME")}
SEC_MIRROR=${JWT_DEBIAN_SECURITY_MIRROR:-$(apt_source_uri "$CODENAME-security")}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

APT_READY=        # "", "ok", or "unreachable"
APT_FAILED_SUITES=

apt_opts() {
    local arch
    arch=$(dpkg --print-architecture)
    printf '%s\n' \
        -o "Dir::Etc::sourcelist=$APT_DIR/sources.list" \
        -o "Dir::Etc::sourceparts=$APT_DIR/sources.list.d" \
        -o "Dir::Etc::preferences=$APT_DIR/preferences" \
        -o "Dir::Etc::preferencesparts=$APT_DIR/preferences.d" \
        -o "Dir::State::lists=$APT_DIR/lists" \
        -o "Dir::State::status=$APT_DIR/status" \
        -o "Dir::Cache=$APT_DIR/cache" \
        -o "APT::Architecture=$arch" \
        -o "APT::Architectures=$arch" \
        -o "Acquire::Retries=1" \
        -o "Acquire::http::Timeout=30" \
        -o "Acquire::Languages=none"
}

# Private apt state, refreshed at most once per run.
pg_apt_prepare() {
    [ "$APT_READY" = ok ] && return 0
    [ -n "$APT_READY" ] && return 1
    if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
        APT_READY=unreachable; APT_FAILED_SUITES="apt-get/dpkg-deb not installed"; return 1
    fi
    [ -r "$KEYRING" ] || { APT_READY=unreachable; APT_FAILED_SUITES="no $KEYRING"; return 1; }
    [ -n "$MIRROR" ] || { APT_READY=unreachable; APT_FAILED_SUITES="no apt source for '$CODENAME' on this machine (set JWT_DEBIAN_MIRROR)"; return 1; }
    mkdir -p "$APT_DIR"/{lists/partial,cache/archives/partial,sources.list.d,preferences.d}
    : > "$APT_DIR/status"
    : > "$APT_DIR/preferences"
    {
        local s t
        for t in ${APT_TYPES:-deb}; do
            for s in $APT_SUITES; do echo "$t [signed-by=$KEYRING] $MIRROR $s main"; done
            [ -n "$SEC_MIRROR" ] && for s in $APT_SEC_SUITES; do echo "$t [signed-by=$KEYRING] $SEC_MIRROR $s main"; done
        done
    } > "$APT_DIR/sources.list"
    local out opts
    mapfile -t opts < <(apt_opts)
    out=$(apt-get "${opts[@]}" -q update 2>&1)
    APT_FAILED_SUITES=$(printf '%s\n' "$out" | sed -n 's/^Err:[0-9]* *http[^ ]* \([^ ]*\) InRelease.*/\1/p' | sort -u | tr '\n' ' ')
    # Reachable if at least one index was fetched or found unchanged.
    if ! printf '%s\n' "$out" | grep -qE '^(Hit|Get):'; then
        APT_READY=unreachable
        printf '%s\n' "$out" | grep -E '^ +[A-Za-z].*' | sort -u | head -2 | sed 's/^ */    apt: /' >&2
        return 1
    fi
    APT_READY=ok
}

# Versions of binary package $1 that the private lists offer, newest first.
apt_versions() {
    local opts
    mapfile -t opts < <(apt_opts)
    apt-cache "${opts[@]}" madison "$1" 2>/dev/null | awk -F'|' '$3 !~ /Sources/ {gsub(/ /, "", $2); print $2}' | awk '!seen[$0]++'
}

# Versions of source package $1 that the private lists offer, newest first.
apt_source_versions() {
    local opts
    mapfile -t opts < <(apt_opts)
    apt-cache "${opts[@]}" showsrc --only-source "$1" 2>/dev/null |
        sed -n 's/^Version: *//p' | sort -urV
}

# A directory apt can download into: as root, apt downloads as the
# unprivileged _apt user.
apt_download_dir() {
    if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$1"; fi
}

# Download package $2 into dir $1, trying versions $3 in turn (a mirror may
# list a version whose file it lacks).  Prints the version it got.
apt_download() {
    local dir=$1 pkg=$2 ver opts
    mapfile -t opts < <(apt_opts)
    for ver in $3; do
        if (cd "$dir" && apt-get "${opts[@]}" -q download "$pkg=$ver" >>download.log 2>&1); then
            echo "$ver"
            return 0
        fi
    done
    return 1
}

# Download source package $2 (.dsc, orig tarball, Debian tarball, checked
# against the signed Sources index) into dir $1, trying versions $3 in turn.
# Prints the version it got.
apt_source_download() {
    local dir=$1 pkg=$2 ver opts
    mapfile -t opts < <(apt_opts)
    for ver in $3; do
        if (cd "$dir" && apt-get "${opts[@]}" -q source --download-only "$pkg=$ver" >>download.log 2>&1); then
            echo "$ver"
            return 0
        fi
    done
    return 1
}

# pg_apt_fetch deb|source PKG TEMPLATE: prepare the private apt state and
# download the newest version of binary or source package PKG that its lists
# offer (and the mirror has) into a new directory, mktemp -d TEMPLATE.  Sets
# PG_APT_WORK (that directory), PG_APT_VERSION (the version downloaded) and
# PG_APT_ERR (why not; test/majors.sh reads "download of source package").
# Returns 0; 1 when the suites have no PKG; 2 when the archive could not be
# reached or the download failed (no directory is left then).
pg_apt_fetch() {
    local pkg=$2 versions list=apt_versions get=apt_download
    local what=$2 missing="$2 not found" dl=$2
    if [ "$1" = source ]; then
        list=apt_source_versions get=apt_source_download
        what="$2 source package" missing="no $2 source package found" dl="source package $2"
    fi
    PG_APT_WORK= PG_APT_VERSION= PG_APT_ERR=
    if ! pg_apt_prepare; then
        PG_APT_ERR="Debian archive unreachable: $MIRROR, $SEC_MIRROR (failed: ${APT_FAILED_SUITES% })"
        return 2
    fi
    versions=$("$list" "$pkg")
    if [ -z "$versions" ]; then
        if [ -n "$APT_FAILED_SUITES" ]; then
            PG_APT_ERR="$missing, but some suites could not be fetched: ${APT_FAILED_SUITES% }"
            return 2
        fi
        PG_APT_ERR="no $what in Debian ($APT_SUITES $APT_SEC_SUITES)"
        return 1
    fi
    PG_APT_WORK=$(mktemp -d "$3") || { PG_APT_WORK=; PG_APT_ERR="cannot create a directory $3"; return 2; }
    apt_download_dir "$PG_APT_WORK"
    if ! PG_APT_VERSION=$("$get" "$PG_APT_WORK" "$pkg" "$versions"); then
        PG_APT_ERR="download of $dl ($(echo "$versions" | tr '\n' ' ')) failed: $(grep -E '^(E|Err)' "$PG_APT_WORK/download.log" | head -2 | tr '\n' ' ')"
        rm -rf "$PG_APT_WORK"
        PG_APT_WORK=
        return 2
    fi
}
