#!/usr/bin/env bash
# The pgjwt drop-in (extension pgjwt, pgjwt_compat.c):
#   - test/pgjwt/compat_test.sql, our pgTAP suite: every test ok and the plan met
#     (each TAP test counts as one check here);
#   - the differential test: test/pgjwt/differential.sql runs generated inputs through
#     the drop-in and through bench/pgjwt_reference.sql (pgjwt 0.2.0's algorithm over
#     pgcrypto) and compares rows, and SQLSTATE and message of errors;
#   - the setting the way an administrator sets it (ALTER DATABASE ... SET), and the
#     extension's dependencies;
#   - when JWT_PGJWT_UPSTREAM_TEST names pgjwt's own test/test.sql, that suite unchanged
#     (test/pgjwt/run-upstream.sh).
# Uses the cluster the PG* variables name (test/run-tests.sh sets them); without PGHOST
# it starts a throwaway cluster of its own. Needs pgTAP (postgresql-15-pgtap) and
# pgcrypto. Works in databases of its own, dropped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
use_cluster

DB=pgjwt_compat_$$
own_database "$DB"
p "CREATE EXTENSION jwt" >/dev/null
# psql in $DB: errors as "ERROR:  SQLSTATE: message" lines
q() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=default -d "$DB" "$@" 2>&1; }
# sqlstate SQL: the SQLSTATE the statement fails with ("none" if it succeeds).
sqlstate() {
    local out
    out=$("$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -d "$DB" -c "$1" 2>&1) && { echo none; return; }
    sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\).*/\1/p' <<<"$out" | head -n 1
}

# --- our pgTAP suite ---------------------------------------------------------------
if tap=$(q -f test/pgjwt/compat_test.sql); then rc=0; else rc=$?; fi
plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' <<<"$tap" | head -n 1)
ran=0
while IFS= read -r line; do
    case $line in
        "ok "*) ran=$((ran + 1)); ok "compat_test: ${line#ok }" ;;
        "not ok "*) ran=$((ran + 1)); notok "compat_test: ${line#not ok }" ;;
        "# "*) echo "$line" ;;   # pgTAP's diagnostics of a failed test
    esac
done <<<"$tap"
check "compat_test.sql ran to the end (psql exit status)" "$rc" 0
check "compat_test.sql met its plan" "$ran" "${plan:-no plan}"
if [ "$rc" != 0 ]; then grep -E '^(psql|ERROR)' <<<"$tap" | sed 's/^/#   /' | head -n 20; fi

# --- differential test against pgjwt 0.2.0's algorithm -------------------------------
p "CREATE EXTENSION IF NOT EXISTS pgjwt" >/dev/null
if diff_out=$(q -f bench/pgjwt_reference.sql -f test/pgjwt/differential.sql); then rc=0; else rc=$?; fi
summary=$(grep '^differential:' <<<"$diff_out" || true)
echo "# $summary"
check "differential test ran (psql exit status)" "$rc" 0
check "differential test: no mismatch" "$(sed -n 's/.* \([0-9]*\) mismatches$/\1/p' <<<"$summary")" 0
comparisons=$(sed -n 's/.* \([0-9]*\) comparisons.*/\1/p' <<<"$summary")
check "differential test: at least 25000 comparisons" "$([ "${comparisons:-0}" -ge 25000 ] && echo yes || echo "only ${comparisons:-0}")" yes
if [ "$rc" != 0 ] || ! grep -q ' 0 mismatches$' <<<"$summary"; then
    grep -E '^(MISMATCH|  |psql|ERROR)' <<<"$diff_out" | sed 's/^/#   /' | head -n 60
fi

# --- the setting, set per database as an administrator would -------------------------
p "ALTER DATABASE $DB SET jwt.pgjwt_strict = on" >/dev/null
check "ALTER DATABASE ... SET jwt.pgjwt_strict = on: a new session refuses a weak secret (22023)" \
    "$(sqlstate "SELECT pgjwt.sign('{\"exp\":4102444800}', 'secret')")" 22023
check "... and signs with a strong one" \
    "$(q -c "SELECT pgjwt.sign('{\"exp\":4102444800}', 'a secret of exactly thirty-two b') LIKE 'eyJ%'")" t
check "... and a verified token without exp raises 28J08" \
    "$(sqlstate "SELECT * FROM pgjwt.verify(pgjwt.sign('{\"sub\":\"x\"}', 'a secret of exactly thirty-two b'), 'a secret of exactly thirty-two b')")" 28J08
p "ALTER DATABASE $DB RESET jwt.pgjwt_strict" >/dev/null
check "ALTER DATABASE ... RESET: pgjwt's behaviour again" \
    "$(q -c "SELECT valid FROM pgjwt.verify(pgjwt.sign('{\"sub\":\"x\"}', 'secret'), 'secret')")" t

# --- dependencies ------------------------------------------------------------------
check "DROP EXTENSION jwt is refused while pgjwt depends on it (2BP01)" "$(sqlstate "DROP EXTENSION jwt")" 2BP01
check "DROP EXTENSION pgjwt" "$(sqlstate "DROP EXTENSION pgjwt")" none
check "CREATE EXTENSION pgjwt again" "$(sqlstate "CREATE EXTENSION pgjwt")" none
DB2=pgjwt_nojwt_$$
own_database "$DB2"
check "CREATE EXTENSION pgjwt without jwt is refused (42704)" \
    "$("$PGBIN/psql" -X -q -A -t -v VERBOSITY=sqlstate -d "$DB2" -c "CREATE EXTENSION pgjwt" 2>&1 | sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\).*/\1/p')" 42704
check "CREATE EXTENSION pgjwt CASCADE installs jwt too" \
    "$("$PGBIN/psql" -X -q -A -t -d "$DB2" -c "SET client_min_messages = warning" -c "CREATE EXTENSION pgjwt CASCADE" -c "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension WHERE extname LIKE '%jwt'" 2>&1)" jwt,pgjwt

# --- pgjwt's own suite, unchanged ----------------------------------------------------
if [ -n "${JWT_PGJWT_UPSTREAM_TEST:-}" ]; then
    if up_out=$(bash test/pgjwt/run-upstream.sh "$JWT_PGJWT_UPSTREAM_TEST" 2>&1); then rc=0; else rc=$?; fi
    check "pgjwt's own suite ($JWT_PGJWT_UPSTREAM_TEST) passes unchanged with search_path = pgjwt, public" "$rc" 0
    grep -E '^(1\.\.|# all)' <<<"$up_out" | sed 's/^/# upstream: /'
    [ "$rc" = 0 ] || sed 's/^/#   /' <<<"$up_out" | head -n 60
else
    echo "# skipped: pgjwt's own suite (set JWT_PGJWT_UPSTREAM_TEST to its test/test.sql)"
fi

finish
