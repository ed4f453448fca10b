# shellcheck shell=bash
# Shared by the benchmark scripts that can run alone or inside bench/run.sh.
# Source it from the repository root; it sources test/cluster.sh.

# shellcheck source=test/cluster.sh
. test/cluster.sh

# bench_cluster SHARED_BUFFERS: with BENCH_CLUSTER_UP=1 (bench/run.sh started the
# cluster and set the PG* variables) nothing; otherwise build and install the
# extension (unless BENCH_NO_BUILD=1) and start a throwaway cluster.
bench_cluster() {
    [ "${BENCH_CLUSTER_UP:-}" != 1 ] || return 0
    if [ "${BENCH_NO_BUILD:-}" != 1 ]; then
        echo "== building and installing the extension"
        make -s
        if [ -w "$(pg_config --pkglibdir)" ]; then make -s install >/dev/null; else sudo make -s install >/dev/null; fi
    fi
    echo "== cluster"
    JWT_SERVER_OPTS="-c shared_buffers=$1 -c jit=off -c max_parallel_workers_per_gather=0 ${JWT_SERVER_OPTS:-}"
    cluster_start
    export PGOPTIONS="-c jit=off -c max_parallel_workers_per_gather=0"
    echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; other work on the machine skews figures)"
}
