#!/usr/bin/env bash
# bench/sessions.sh: refresh-token rotation and single-use token throughput.
# bench/run.sh calls it at its end with its cluster up (BENCH_CLUSTER_UP=1); alone it
# builds and installs the extension (unless BENCH_NO_BUILD=1) and starts its own
# throwaway cluster.  Everything happens in a database of its own, bench_sessions.
#
#   per call   over BENCH_SESSIONS_ROWS fresh inputs a round (HS256 keyring key), the bare
#              scan subtracted, best of BENCH_REPS rounds: keyring jwt_sign vs
#              jwt_session_start and jwt_session_refresh (what the session tables add to the
#              signature); keyring jwt_verify vs jwt_consume (what recording the jti adds)
#   pgbench    refreshes per second (each transaction rotates its client's refresh token)
#              and consumptions per second (each a fresh token), 1 and 2 clients,
#              BENCH_PGBENCH_SECONDS per run, BENCH_PGBENCH_PASSES passes, the best counting
#
# Figures are printed, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${BENCH_REPS:-5}
CLOCK=${BENCH_CLOCK:-cpu}
ROWS=${BENCH_SESSIONS_ROWS:-2000}
PGB_SECS=${BENCH_PGBENCH_SECONDS:-5}
PGB_PASSES=${BENCH_PGBENCH_PASSES:-4}

# shellcheck source=bench/common.sh
. bench/common.sh
bench_cluster 256MB
PGBIN=${PGBIN:-$(pg_config --bindir)}
WORK=$(mktemp -d /tmp/jwt-bench-sessions.XXXXXX)
chmod 755 "$WORK"
DB=bench_sessions
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$DB")
"${PSQL[@]}" -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
cleanup_sessions_bench() {
    rm -rf "$WORK"
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
}
at_exit cleanup_sessions_bench

echo "== sessions: refresh rotation and jwt_consume (best of $REPS rounds of $ROWS fresh inputs, $CLOCK time)"
"${PSQL[@]}" -f bench/sessions.sql >/dev/null
"${PSQL[@]}" -At -F $'\t' -c "SELECT what, secs, coalesce(cpu::text, ''), rows FROM bench_sessions($ROWS, $REPS)" \
    >"$WORK/calls.tsv"
awk -F'\t' '{ printf "   %-10s %6d rows  wall %9.5f s  on-CPU %9.5f s\n", $1, $4, $2, $3 }' "$WORK/calls.tsv"

# us per call beyond the bare scan, by the chosen clock (the scan, short, in wall time)
per_call() {
    awk -F'\t' -v w="$1" -v clock="$CLOCK" '
        $1 == "scan" { scan = $2 }
        $1 == w { t = (clock == "cpu" && $3 != "") ? $3 : $2; n = $4 }
        END { printf "%.2f", (t - scan) / n * 1e6 }' "$WORK/calls.tsv"
}
line() {   # name A_label A B_label B
    awk -v c="$1" -v al="$2" -v a="$3" -v bl="$4" -v b="$5" 'BEGIN {
        printf "sessions    %-8s %-20s %8.2f us/op %8.0f ops/s   vs  %-16s %8.2f us/op   ratio %5.2fx\n",
               c, al, a, (a > 0 ? 1e6 / a : 0), bl, b, (b > 0 ? a / b : 0) }'
}
RESULTS=$WORK/report.txt
{
    line start "jwt_session_start" "$(per_call start)" "keyring jwt_sign" "$(per_call sign)"
    line refresh "jwt_session_refresh" "$(per_call refresh)" "keyring jwt_sign" "$(per_call sign)"
    line consume "jwt_consume" "$(per_call consume)" "keyring jwt_verify" "$(per_call verify)"
} >"$RESULTS"

# --- pgbench: refreshes and consumptions per second, 1 and 2 clients ---------------------------
echo "== sessions: pgbench, $PGB_PASSES passes of ${PGB_SECS}s per configuration"
cat >"$WORK/refresh.pgb" <<'PGB'
UPDATE pgb_rt SET tok = (jwt_session_refresh(tok)).refresh_token WHERE client = :client_id;
PGB
cat >"$WORK/consume.pgb" <<'PGB'
\set k :k + 1
SELECT jwt_consume(tok) IS NOT NULL FROM pgb_ct WHERE id = :client_id * 10000000 + :k;
PGB
declare -A TPS
for ((p = 1; p <= PGB_PASSES; p++)); do
    for c in 1 2; do
        for s in refresh consume; do
            # fresh state: a session per client; enough single-use tokens for any run
            "${PSQL[@]}" >/dev/null <<SQL
TRUNCATE pgb_rt, pgb_ct;
INSERT INTO pgb_rt SELECT c, (jwt_session_start(jsonb_build_object('sub', 'client' || c))).refresh_token
FROM generate_series(0, 1) c;
SQL
            if [ "$s" = consume ]; then
                # about 1.5x what the fastest pass so far did, at least 20,000 per client
                want=$(awk -v t="${TPS[consume.$c]:-0}" -v s="$PGB_SECS" -v c="$c" \
                    'BEGIN { n = int(t * s * 1.5 / c) + 1; print (n < 20000 ? 20000 : n) }')
                "${PSQL[@]}" -c "INSERT INTO pgb_ct SELECT c * 10000000 + k, jwt_sign(jsonb_build_object('sub', 'u' || k, 'purpose', 'reset'))
                    FROM generate_series(0, 1) c, generate_series(1, $want) k" -c "VACUUM ANALYZE pgb_ct" >/dev/null
            fi
            "${PSQL[@]}" -c "VACUUM ANALYZE pgb_rt" >/dev/null
            out=$WORK/pgbench_${s}_$c.txt
            "$PGBIN/pgbench" -n -M prepared -D k=0 -d "$DB" -c "$c" -j "$c" -T "$PGB_SECS" \
                -f "$WORK/$s.pgb" >"$out" 2>&1 || true
            tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out" | tail -n 1)
            failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
            if [ -z "$tps" ] || [ "${failed:-0}" != 0 ] || grep -qiE 'aborted|error' "$out"; then
                echo "   pgbench $s -c $c failed:"; sed 's/^/   | /' "$out"; tps=0
            fi
            printf '   pass %d  %-8s %d client(s)  %9.1f tps\n' "$p" "$s" "$c" "$tps"
            TPS[$s.$c]=$(awk -v a="${TPS[$s.$c]:-0}" -v b="$tps" 'BEGIN { print (b > a ? b : a) }')
        done
    done
done
for s in refresh consume; do
    awk -v s="$s" -v a="${TPS[$s.2]}" -v b="${TPS[$s.1]}" 'BEGIN {
        printf "sessions    %-8s %-20s %8.0f tps           vs  %-16s %8.0f tps     ratio %5.2fx   [scaling tps2/tps1]\n",
               s, "2 clients", a, "1 client", b, (b > 0 ? a / b : 0) }'
done >>"$RESULTS"

echo
echo "== results: sessions (us/op: (statement - bare scan) / rows, $CLOCK time; pgbench: wall-clock tps)"
echo "   load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$RESULTS"
