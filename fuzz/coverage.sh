#!/usr/bin/env bash
# fuzz/coverage.sh - line coverage of the core by the fuzz corpora
#
#   bash fuzz/coverage.sh [corpus-dir-of-target...]
#
# Builds the targets with clang source-based coverage into fuzz/build/cov,
# replays fuzz/corpus/<target> (and fuzz/crashes/<target>, plus any extra
# directories named NAME=DIR, e.g. token=/tmp/work/token) through each target,
# and prints llvm-cov's per-file report for src/.  Needs llvm-profdata and
# llvm-cov (Debian: llvm-14, which clang depends on).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${FUZZ_BUILD:-$here/build}/cov
CC=${CC:-clang}
PG_CONFIG=${PG_CONFIG:-pg_config}
pg_inc=$("$PG_CONFIG" --includedir-server)
pg_lib=$("$PG_CONFIG" --libdir)
[ -f "$pg_lib/libpgcommon.a" ] || pg_lib=$("$PG_CONFIG" --pkglibdir)
profdata=$(command -v llvm-profdata || command -v llvm-profdata-14)
llvmcov=$(command -v llvm-cov || command -v llvm-cov-14)
targets="token json b64url key"

mkdir -p "$build"
rm -f "$build"/*.profraw
flags="-g -O0 -fprofile-instr-generate -fcoverage-mapping -Wno-ignored-attributes
	-I$here/shim -I$here -I$root/src -isystem $pg_inc"
srcs=""
for f in b64url error json_strict jws claims crypto keys; do srcs="$srcs $root/src/$f.c"; done
for t in $targets; do
	"$CC" $flags -fsanitize=fuzzer "$here/fuzz_$t.c" $srcs "$here/shim/arena.c" \
		"$pg_lib/libpgcommon.a" "$pg_lib/libpgport.a" -lcrypto -lm -o "$build/fuzz_$t"
	dirs=("$here/corpus/$t")
	[ -d "$here/crashes/$t" ] && dirs+=("$here/crashes/$t")
	for extra in "$@"; do
		[ "${extra%%=*}" = "$t" ] && dirs+=("${extra#*=}")
	done
	LLVM_PROFILE_FILE="$build/$t.profraw" "$build/fuzz_$t" -runs=0 "${dirs[@]}" >/dev/null 2>&1 || true
done
"$profdata" merge -o "$build/all.profdata" "$build"/*.profraw
objs=()
for t in $targets; do objs+=(-object "$build/fuzz_$t"); done
"$llvmcov" report "${objs[@]:1}" -instr-profile="$build/all.profdata" $srcs
echo "html: $llvmcov show ${objs[*]:1} -instr-profile=$build/all.profdata -format=html -output-dir=$build/html $srcs"
