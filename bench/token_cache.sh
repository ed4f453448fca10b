#!/usr/bin/env bash
# bench/token_cache.sh: the verified-token cache (issue 17), cache off beside cache on.
# bench/run.sh calls it with its cluster up (BENCH_CLUSTER_UP=1); alone it builds and
# installs the extension (unless BENCH_NO_BUILD=1) and starts its own throwaway cluster.
# Everything happens in a database of its own, bench_cache.
#
#   repeated     one token verified over and over (jwt_verify with the explicit key): ES256,
#                RS256, EdDSA, HS256; jwt.token_cache = off is today's cost (parse and
#                signature every time)
#   distinct     a table of distinct tokens, each seen once per pass over it: the cache's
#                miss overhead (a lookup, and a store where the doorkeeper lets one in)
#   statement    pgbench -M prepared, 1 client: SELECT jwt_verify(:tok, :key) (HS256: :key::bytea) against
#                SELECT 1, as extra us per statement (server CPU and latency)
#   postgrest    pgbench -M prepared, 1 client, as an authenticator role, PostgREST's
#                transaction: set_config of role, request.jwt.claims, request.headers...,
#                jwt_postgrest_pre_request(), then a count under an RLS policy reading
#                jwt_claim('sub'); keyring ES256 and HS256 tokens, and the same transaction
#                with no verification, the policy reading request.jwt.claims (PostgREST's idiom)
#
# Environment: BENCH_REPS, BENCH_SECONDS, BENCH_CLOCK as in run.sh;
#              BENCH_PGBENCH_SECONDS (default 5), BENCH_PGBENCH_PASSES (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${BENCH_REPS:-5}
CLOCK=${BENCH_CLOCK:-cpu}
SECS=${BENCH_SECONDS:-0.4}
PGB_SECS=${BENCH_PGBENCH_SECONDS:-5}
PGB_PASSES=${BENCH_PGBENCH_PASSES:-5}

# shellcheck source=bench/common.sh
. bench/common.sh
bench_cluster 512MB
PGBIN=${PGBIN:-$(pg_config --bindir)}
WORK=$(mktemp -d /tmp/jwt-bench-cache.XXXXXX)
chmod 755 "$WORK"
remove_cache_work() { rm -rf "$WORK"; }
at_exit remove_cache_work

DB=bench_cache
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$DB")
"${PSQL[@]}" -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
"${PSQL[@]}" -d postgres -c "SET client_min_messages = warning" \
    -c "DROP ROLE IF EXISTS bench_authenticator" -c "DROP ROLE IF EXISTS bench_web_user" -c "DROP ROLE IF EXISTS bench_anon"
"${PSQL[@]}" -c "CREATE EXTENSION jwt" -f bench/measure.sql -f bench/token_cache.sql >/dev/null
"${PSQL[@]}" -c "ALTER DATABASE $DB SET jwt.role_claim = 'role'" -c "ALTER DATABASE $DB SET jwt.anonymous_role = 'bench_anon'"
echo "== token cache benchmarks (best of $REPS timings of at least $SECS s; $CLOCK time; pgbench ${PGB_PASSES}x${PGB_SECS}s)"
t0=$SECONDS
# distinct tables hold 4x the doorkeeper's 4096 hashes: by the time a pass comes back to a
# token, its hash is gone (a stream of new tokens); the repeated tables are as long
for a in ES256:16384 RS256:16384 EdDSA:16384 HS256:40000; do
    "${PSQL[@]}" -c "SELECT bench_cache_tables('${a%%:*}', ${a##*:})" >/dev/null
done
"${PSQL[@]}" -c "VACUUM (FREEZE, ANALYZE)"
echo "   setup: keys, tokens ($((SECONDS - t0)) s)"

RESULTS=$WORK/report.txt
: >"$RESULTS"
# pline CASE A_LABEL A B_LABEL B UNIT NOTE [OP TARGET]: A beside B, A/B, and the target
pline() {
    awk -v c="$1" -v al="$2" -v a="$3" -v bl="$4" -v b="$5" -v u="$6" -v note="$7" \
        -v op="${8:-}" -v t="${9:-}" 'BEGIN {
        r = (b > 0) ? a / b : 0
        v = ""
        if (op == "<=") v = sprintf("   target <= %.2fx: %s", t, r <= t ? "met" : "MISSED")
        if (op == "us") v = sprintf("   target <= %.2f us: %s", t, a <= t ? "met" : "MISSED")
        printf "cache %-12s %-16s %9.2f %-6s vs  %-16s %9.2f %-6s %-34s ratio %6.3fx%s\n",
               c, al, a, u, bl, b, u, note, r, v }' | tee -a "$RESULTS"
}
key_literal() { "${PSQL[@]}" -At -c "SELECT key FROM bench_keys WHERE alg = '$1'"; }
# us per row of q beyond the bare scan of its table, with jwt.token_cache = setting
per_row() {   # setting table q
    "${PSQL[@]}" -At -F $'\t' -c "SELECT t.secs, t.cpu, t.n, s.secs, s.cpu
        FROM bench_cache_time('$1', \$q\$$3\$q\$, $REPS, $SECS) t,
             bench_cache_time('$1', 'SELECT count(tok) FROM $2', $REPS, $SECS) s" |
        awk -F'\t' -v clock="$CLOCK" '{
            # the bare scan too is timed over at least BENCH_SECONDS, so the on-CPU clock serves both
            a = (clock == "cpu" ? $2 : $1); s = (clock == "cpu" ? $5 : $4)
            printf "%.4f\n", (a - s) / $3 * 1e6 }'
}

# --- repeated and distinct: SQL, cache off beside cache on -------------------------------------
declare -A R
for kind in rep dist; do
    for alg in ES256 RS256 EdDSA HS256; do
        key=$(key_literal "$alg")
        q="SELECT count(jwt_verify(tok, $key, now => '2030-01-01 00:00+00')) FROM ${kind}_${alg,,}"
        # three passes, off and on taking turns first: a slow spell of this shared VM
        # (seconds long) then cannot fall on the same setting every time
        for pass in 1 2 3; do
            settings="off on"; [ "$pass" = 2 ] && settings="on off"
            for setting in $settings; do
                v=$(per_row "$setting" "${kind}_${alg,,}" "$q")
                printf '   %-5s %-6s cache %-3s %10.3f us/op\n' "$kind" "$alg" "$setting" "$v"
                k=$kind.$alg.$setting
                R[$k]=$(awk -v a="${R[$k]:-}" -v b="$v" 'BEGIN { print (a == "" || b < a) ? b : a }')
            done
        done
    done
done

# --- pgbench helpers --------------------------------------------------------------------------
PM=$("${PSQL[@]}" -At -c "SELECT split_part(pg_read_file('postmaster.pid'), E'\n', 1)")
HZ=$(getconf CLK_TCK)
children_ticks() { sed 's/.*) //' "/proc/$PM/stat" | awk '{ print $14 + $15 }'; }
declare -A CPU LAT
# pgb NAME SCRIPT USER [-D ...]: PGB_PASSES runs; best server CPU and latency per transaction (us)
pgb() {
    local name=$1 script=$2 user=$3 out k0 k1 tps ntx cpu lat
    shift 3
    out=$WORK/pgbench_$name.txt
    k0=$(children_ticks)
    "$PGBIN/pgbench" -n -M prepared -U "$user" -d "$DB" -c 1 -j 1 -T "$PGB_SECS" -f "$script" "$@" >"$out" 2>&1 || true
    sleep 0.2   # let the postmaster reap the backend
    k1=$(children_ticks)
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out" | tail -n 1)
    ntx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
    if [ -z "$tps" ] || [ -z "$ntx" ] || grep -qiE 'aborted|error' "$out"; then
        echo "   pgbench $name failed:"; sed 's/^/   | /' "$out"; return 1
    fi
    cpu=$(awk -v k="$((k1 - k0))" -v hz="$HZ" -v n="$ntx" 'BEGIN { printf "%.2f", k / hz / n * 1e6 }')
    lat=$(awk -v t="$tps" 'BEGIN { printf "%.2f", 1e6 / t }')
    printf '   %-22s %9.1f tps  latency %8.2f us  server CPU %8.2f us/txn\n' "$name" "$tps" "$lat" "$cpu"
    CPU[$name]=$(awk -v a="${CPU[$name]:-}" -v b="$cpu" 'BEGIN { print (a == "" || b < a) ? b : a }')
    LAT[$name]=$(awk -v a="${LAT[$name]:-}" -v b="$lat" 'BEGIN { print (a == "" || b < a) ? b : a }')
}

# --- statement: SELECT jwt_verify(:tok, :key) against SELECT 1 ---------------------------------
echo 'SELECT 1;' >"$WORK/select1.pgb"
echo 'SELECT jwt_verify(:tok, :key) IS NOT NULL;' >"$WORK/verify_ES256.pgb"
# the HS256 key is the keyring's random secret: bytea
echo 'SELECT jwt_verify(:tok, :key::bytea) IS NOT NULL;' >"$WORK/verify_HS256.pgb"
declare -A TOK KEY
for alg in ES256 HS256; do
    TOK[$alg]=$("${PSQL[@]}" -At -c "SELECT tok FROM rep_${alg,,} LIMIT 1")
    KEY[$alg]=$("${PSQL[@]}" -At -c "SELECT $(key_literal "$alg")::text")
done
SU=$("${PSQL[@]}" -At -c "SELECT current_user")
for ((p = 1; p <= PGB_PASSES; p++)); do
    pgb select1 "$WORK/select1.pgb" "$SU"
    for alg in ES256 HS256; do
        pgb "verify_$alg" "$WORK/verify_$alg.pgb" "$SU" -D "tok=${TOK[$alg]}" -D "key=${KEY[$alg]}"
        PGOPTIONS="$PGOPTIONS -c jwt.token_cache=off" pgb "verify_${alg}_off" "$WORK/verify_$alg.pgb" "$SU" \
            -D "tok=${TOK[$alg]}" -D "key=${KEY[$alg]}"
    done
done

# --- postgrest: the per-request transaction ------------------------------------------------------
cat >"$WORK/pgrst_jwt.pgb" <<'EOS'
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT set_config('search_path', 'public', true), set_config('role', :role, true), set_config('request.jwt.claims', :claims, true), set_config('request.method', 'GET', true), set_config('request.path', '/docs_jwt', true), set_config('request.headers', :headers, true), set_config('request.cookies', '{}', true);
SELECT jwt_postgrest_pre_request();
SELECT count(*) FROM docs_jwt;
COMMIT;
EOS
cat >"$WORK/pgrst_literal.pgb" <<'EOS'
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT set_config('search_path', 'public', true), set_config('role', :role, true), set_config('request.jwt.claims', :claims, true), set_config('request.method', 'GET', true), set_config('request.path', '/docs_literal', true), set_config('request.headers', :headers, true), set_config('request.cookies', '{}', true);
SELECT count(*) FROM docs_literal;
COMMIT;
EOS
declare -A PTOK PCLAIMS
for alg in ES256 HS256; do
    kid=$("${PSQL[@]}" -At -c "SELECT kid FROM bench_keys WHERE alg = '$alg'")
    PTOK[$alg]=$("${PSQL[@]}" -At -c "SELECT jwt_sign('{\"sub\": \"user7\", \"role\": \"bench_web_user\", \"exp\": 4102444800}', alg => '$alg', header => '{\"kid\": \"$kid\"}')")
    PCLAIMS[$alg]=$("${PSQL[@]}" -At -c "SELECT ((jwt_decode('${PTOK[$alg]}')).payload)::text")
done
hdr() { printf '{"accept": "*/*", "authorization": "Bearer %s"}' "$1"; }
# the transaction must do what it says: 100 rows seen, as the token's subject
check_count=$(psql -X -q -At -U bench_authenticator -d "$DB" -c "BEGIN" \
    -c "SELECT set_config('role', 'bench_web_user', true), set_config('request.jwt.claims', '${PCLAIMS[ES256]}', true), set_config('request.headers', '$(hdr "${PTOK[ES256]}")', true)" \
    -c "SELECT jwt_postgrest_pre_request()" -c "SELECT count(*) FROM docs_jwt" -c "COMMIT" | tail -n 1)
echo "   check: the ES256 request sees $check_count rows (100 expected)"
for ((p = 1; p <= PGB_PASSES; p++)); do
    pgb pgrst_literal "$WORK/pgrst_literal.pgb" bench_authenticator -D role=bench_web_user \
        -D "claims=${PCLAIMS[ES256]}" -D "headers=$(hdr "${PTOK[ES256]}")"
    # ES256 first in odd passes, HS256 in even ones: neither always follows the same run
    algs="ES256 HS256"; [ $((p % 2)) = 0 ] && algs="HS256 ES256"
    for alg in $algs; do
        pgb "pgrst_$alg" "$WORK/pgrst_jwt.pgb" bench_authenticator -D role=bench_web_user \
            -D "claims=${PCLAIMS[$alg]}" -D "headers=$(hdr "${PTOK[$alg]}")"
    done
    # jwt.token_cache is superuser-only: the authenticator cannot set it itself
    "${PSQL[@]}" -c "ALTER ROLE bench_authenticator SET jwt.token_cache = off"
    pgb pgrst_ES256_off "$WORK/pgrst_jwt.pgb" bench_authenticator \
        -D role=bench_web_user -D "claims=${PCLAIMS[ES256]}" -D "headers=$(hdr "${PTOK[ES256]}")"
    "${PSQL[@]}" -c "ALTER ROLE bench_authenticator RESET jwt.token_cache"
done

# --- report ------------------------------------------------------------------------------------
echo
echo "== results: verified-token cache (cache on vs off in the same run; lower is better)"
echo "   SQL figures: (statement - bare scan) / rows, $CLOCK time, best of $REPS x 3 passes;"
echo "   pgbench: 1 client, -M prepared, best of $PGB_PASSES runs of ${PGB_SECS}s; server CPU = backend CPU / transactions"
echo "   load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
{
for alg in ES256 RS256 EdDSA; do
    pline repeated "$alg on" "${R[rep.$alg.on]}" "$alg off" "${R[rep.$alg.off]}" us/op "[one token, again and again]" us 2
done
pline repeated "HS256 on" "${R[rep.HS256.on]}" "HS256 off" "${R[rep.HS256.off]}" us/op "[no slower than today]" "<=" 1.00
for alg in ES256 RS256 EdDSA HS256; do
    pline distinct "$alg on" "${R[dist.$alg.on]}" "$alg off" "${R[dist.$alg.off]}" us/op "[every token new]" "<=" 1.03
done
for alg in ES256 HS256; do
    for s in "" _off; do
        pline statement "verify $alg${s:+ off}" \
            "$(awk -v a="${CPU[verify_$alg$s]}" -v b="${CPU[select1]}" 'BEGIN { printf "%.2f", a - b }')" \
            "SELECT 1" "${CPU[select1]}" us "[extra server CPU per statement]"
        pline statement "verify $alg${s:+ off}" \
            "$(awk -v a="${LAT[verify_$alg$s]}" -v b="${LAT[select1]}" 'BEGIN { printf "%.2f", a - b }')" \
            "SELECT 1" "${LAT[select1]}" us "[extra latency per statement]"
    done
done
pline postgrest "ES256 keyring" "${CPU[pgrst_ES256]}" "HS256 keyring" "${CPU[pgrst_HS256]}" us/txn "[server CPU]" "<=" 1.05
pline postgrest "ES256 keyring" "${LAT[pgrst_ES256]}" "HS256 keyring" "${LAT[pgrst_HS256]}" us/txn "[latency]" "<=" 1.05
for s in ES256 HS256 ES256_off; do
    pline postgrest "$s" "${CPU[pgrst_$s]}" "literal" "${CPU[pgrst_literal]}" us/txn "[server CPU; literal: set_config only]"
    pline postgrest "$s" "${LAT[pgrst_$s]}" "literal" "${LAT[pgrst_literal]}" us/txn "[latency]"
done
} >/dev/null
cat "$RESULTS"
