#!/usr/bin/env bash
# fuzz/run.sh - build the libFuzzer targets and run each for a while
#
#   bash fuzz/run.sh [seconds]        # default 60 seconds per target
#
# Builds fuzz/fuzz_*.c against the parsing and signature core (src/b64url.c,
# error.c, json_strict.c, jws.c, claims.c, crypto.c, keys.c) with
# PostgreSQL's frontend libpgcommon/libpgport and OpenSSL, outside the
# server, with ASan + UBSan + libFuzzer.  Each target runs from the seed
# corpus fuzz/corpus/<target> (read only: new inputs go to a scratch
# directory) plus the regression inputs in fuzz/crashes/<target>, all targets
# in parallel.  Prints executions and coverage per target, and for a crash,
# leak, timeout or sanitizer report the input (hex and base64) and the stack.
#
# Environment:
#   CC            compiler (default: clang, else clang-14)
#   FUZZ_TARGETS  targets to run (default: all), e.g. "token key"
#   FUZZ_BUILD    build directory (default: fuzz/build, gitignored)
#   FUZZ_JOBS     targets run at once (default: all of them)
#   FUZZ_MERGE=1  merge new interesting inputs back into fuzz/corpus/<target>
#
# Exit status: 0 clean; 1 a target crashed, leaked, timed out or hit a
# sanitizer; 2 the toolchain is missing or the build failed.
# Needs (Debian 12): clang libclang-rt-14-dev libssl-dev postgresql-server-dev-15
# (and llvm-14 for symbolized stacks and fuzz/coverage.sh)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
seconds=${1:-60}
build=${FUZZ_BUILD:-$here/build}
all_targets="token json b64url key jspath"
targets=${FUZZ_TARGETS:-$all_targets}
PG_CONFIG=${PG_CONFIG:-pg_config}

case $seconds in
	''|*[!0-9]*) echo "usage: $0 [seconds]" >&2; exit 2 ;;
esac

die() { echo "fuzz: $*" >&2; exit 2; }

if [ -z "${CC:-}" ]; then
	if command -v clang >/dev/null 2>&1; then CC=clang
	elif command -v clang-14 >/dev/null 2>&1; then CC=clang-14
	else die "clang not found (apt-get install clang libclang-rt-14-dev)"
	fi
fi
command -v "$PG_CONFIG" >/dev/null 2>&1 || die "pg_config not found (apt-get install postgresql-server-dev-15)"
pg_inc=$("$PG_CONFIG" --includedir-server)
pg_lib=$("$PG_CONFIG" --libdir)
[ -f "$pg_lib/libpgcommon.a" ] && [ -f "$pg_lib/libpgport.a" ] \
	|| pg_lib=$("$PG_CONFIG" --pkglibdir)
[ -f "$pg_lib/libpgcommon.a" ] && [ -f "$pg_lib/libpgport.a" ] \
	|| die "libpgcommon.a/libpgport.a not found (apt-get install postgresql-server-dev-15)"
[ -f "$pg_inc/postgres_fe.h" ] || die "postgres_fe.h not found in $pg_inc"

# ---- build ----
mkdir -p "$build/obj" || die "cannot create $build"
san=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
cflags=(-g -O1 "${san[@]}" -Wall -Wno-ignored-attributes -Wno-unused-parameter
	-I"$here/shim" -I"$here" -I"$root/src" -isystem "$pg_inc")
core="b64url error json_strict jws claims crypto keys jspath"
libs=("$pg_lib/libpgcommon.a" "$pg_lib/libpgport.a" -lcrypto -lm)

# the fuzzer runtime is a separate Debian package: say so rather than fail obscurely
echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' > "$build/probe.c"
"$CC" -fsanitize=fuzzer,address "$build/probe.c" -o "$build/probe" >"$build/probe.log" 2>&1 \
	|| { cat "$build/probe.log" >&2; die "$CC cannot link -fsanitize=fuzzer (apt-get install libclang-rt-14-dev)"; }

build_one() {	# source object [flags...]
	local src=$1 obj=$2
	shift 2
	"$CC" "${cflags[@]}" "$@" -c "$src" -o "$obj" || die "compiling $src failed"
}

echo "fuzz: building with $CC into $build"
objs=()
for f in $core; do
	# coverage-instrumented: these are what the fuzzer explores
	build_one "$root/src/$f.c" "$build/obj/$f.o" -fsanitize=fuzzer-no-link
	objs+=("$build/obj/$f.o")
done
build_one "$here/shim/arena.c" "$build/obj/arena.o"
objs+=("$build/obj/arena.o")
for t in $targets; do
	[ -f "$here/fuzz_$t.c" ] || die "no target fuzz/fuzz_$t.c"
	build_one "$here/fuzz_$t.c" "$build/obj/fuzz_$t.o" -fsanitize=fuzzer-no-link
	# arena.o before libpgcommon.a: its palloc family replaces fe_memutils.o
	"$CC" "${san[@]}" -fsanitize=fuzzer "$build/obj/fuzz_$t.o" "${objs[@]}" "${libs[@]}" \
		-o "$build/fuzz_$t" || die "linking fuzz_$t failed"
done

[ "$seconds" -gt 0 ] || { echo "fuzz: built $targets"; exit 0; }

# ---- run ----
max_len() {
	case $1 in
		token) echo 8192 ;;
		key) echo 8192 ;;
		*) echo 4096 ;;
	esac
}

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/jwt-fuzz.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$run_dir"' EXIT
# symbolized stacks: llvm-symbolizer is in llvm-14, which clang only recommends
if ! command -v llvm-symbolizer >/dev/null 2>&1 && [ -z "${ASAN_SYMBOLIZER_PATH:-}" ]; then
	for s in /usr/lib/llvm-14/bin/llvm-symbolizer /usr/bin/llvm-symbolizer-14; do
		[ -x "$s" ] && { export ASAN_SYMBOLIZER_PATH=$s; break; }
	done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
jobs_max=${FUZZ_JOBS:-0}

run_one() {	# target
	local t=$1 work="$run_dir/$1"
	mkdir -p "$work/corpus" "$work/artifacts"
	local dirs=("$work/corpus" "$here/corpus/$t")
	[ -d "$here/crashes/$t" ] && dirs+=("$here/crashes/$t")
	local dict=()
	[ "$t" != b64url ] && dict=(-dict="$here/jwt.dict")
	"$build/fuzz_$t" -max_total_time="$seconds" -max_len="$(max_len "$t")" "${dict[@]}" \
		-timeout=30 -rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/" "${dirs[@]}" >"$work/log" 2>&1
	echo $? >"$work/rc"
}

echo "fuzz: running $targets for ${seconds}s each"
running=0
for t in $targets; do
	run_one "$t" &
	running=$((running + 1))
	if [ "$jobs_max" -gt 0 ] && [ "$running" -ge "$jobs_max" ]; then
		wait -n; running=$((running - 1))
	fi
done
wait

status=0
mkdir -p "$build/artifacts"
for t in $targets; do
	work="$run_dir/$t"
	rc=$(cat "$work/rc" 2>/dev/null || echo 99)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
	cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$work/log" | tail -1)
	corp=$(grep -Eo 'corp: [0-9]+/[0-9]+[bBkKmM]*' "$work/log" | tail -1)
	artifact=$(ls "$work/artifacts" 2>/dev/null | head -1)
	if [ "$rc" = 0 ] && [ -z "$artifact" ]; then
		printf 'fuzz_%-7s %10s execs  %-22s %-16s clean\n' "$t" "${execs:-?}" "${cov:-cov: ?}" "${corp:-}"
		if [ "${FUZZ_MERGE:-0}" = 1 ]; then
			"$build/fuzz_$t" -merge=1 -max_len="$(max_len "$t")" "$here/corpus/$t" "$work/corpus" \
				>"$work/merge.log" 2>&1 && echo "  merged new inputs into fuzz/corpus/$t"
		fi
		continue
	fi
	status=1
	printf 'fuzz_%-7s %10s execs  %-22s FAILED (exit %s)\n' "$t" "${execs:-?}" "${cov:-cov: ?}" "$rc"
	if [ -n "$artifact" ]; then
		cp "$work/artifacts/$artifact" "$build/artifacts/$t-$artifact"
		echo "  input: $build/artifacts/$t-$artifact ($(wc -c <"$work/artifacts/$artifact") bytes)"
		echo "  hex:    $(head -c 512 "$work/artifacts/$artifact" | od -An -tx1 | tr -d ' \n')"
		echo "  base64: $(head -c 512 "$work/artifacts/$artifact" | base64 -w0)"
		echo "  reproduce: $build/fuzz_$t $build/artifacts/$t-$artifact"
	fi
	cp "$work/log" "$build/fuzz_$t.log"
	echo "  log: $build/fuzz_$t.log; report:"
	# the sanitizer or invariant report, without progress lines and shadow maps
	awk '/ERROR|invariant failed|runtime error|deadly signal|fuzz arena|ALARM|out-of-memory|Direct leak|Indirect leak/ { p = 1 }
		/Shadow bytes around|^MS: [0-9]/ { p = 0 }
		p && !/^#[0-9]+[[:space:]]|^INFO:|^[[:space:]]*$/' "$work/log" | head -60 | sed 's/^/    /'
done
exit $status
