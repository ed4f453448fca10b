#!/usr/bin/env bash
# Observability (issue 16) with the library in shared_preload_libraries: a
# cluster of its own.  jwt_stats counts in shared memory across sessions, per
# database; jwt_stats_reset() works for a granted role and is refused (42501)
# to an ungranted one; jwt.log_authentications writes one line per
# jwt_authenticate() to the server log with no token and no secret, and a
# claim holding a newline does not make a second line; a plain role can turn
# neither setting off; jwt_authenticate() outside a transaction block warns.
# jwt.stats_databases = 2: the third and fourth databases share the row of
# the others (datid NULL).
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh

own_cluster "-c shared_preload_libraries=jwt -c jwt.log_authentications=on -c jwt.stats_databases=2"
LOG=$CLUSTER_DIR/server.log
SECRET='stats test secret: correct horse battery staple 42'

# q [DB] SQL: one value; errors as "ERROR:  SQLSTATE" lines
q() { psql -X -A -t -q -v VERBOSITY=sqlstate -d "${2:-postgres}" -c "$1" 2>&1 || true; }
qu() { psql -X -A -t -q -v VERBOSITY=sqlstate -U "$1" -d postgres -c "$2" 2>&1 || true; }

q "CREATE EXTENSION jwt" >/dev/null
own_database stats_two
q "CREATE EXTENSION jwt" stats_two >/dev/null
q "SELECT jwt_add_key('$SECRET', 'HS256', 'stats-hs')" >/dev/null
q "CREATE ROLE stats_monitor LOGIN; CREATE ROLE stats_mallory LOGIN"
q "GRANT EXECUTE ON FUNCTION jwt_stats_reset() TO stats_monitor"
TOK=$(q "SELECT jwt_sign('{\"sub\":\"alice\",\"iss\":\"https://idp.example/\",\"jti\":\"t-1\",\"sid\":\"s-1\"}')")
q "SELECT jwt_stats_reset()" >/dev/null

check "preloaded: the counts are the cluster's" "$(q "SELECT scope FROM jwt_stats LIMIT 1")" cluster

# --- across sessions, per database ---
for _ in 1 2 3; do q "SELECT jwt_is_valid('$TOK')" >/dev/null; done
q "SELECT jwt_is_valid('${TOK}x')" >/dev/null
for _ in 1 2; do q "SELECT jwt_verify('$TOK', '$SECRET') ->> 'sub'" stats_two >/dev/null; done
check "verifications of four sessions, counted in the first database" \
    "$(q "SELECT verifications || '/' || verification_failures FROM jwt_stats WHERE datname = 'postgres'")" 4/1
check "and of two sessions in the second, in its own row" \
    "$(q "SELECT verifications || '/' || key_cache_misses FROM jwt_stats WHERE datname = 'stats_two'")" 2/2
check "failures by SQLSTATE" \
    "$(q "SELECT failures FROM jwt_stats WHERE datname = 'postgres'")" '{"28J03": 1}'
check "every database's rows are visible from any database, to anyone" \
    "$(qu stats_mallory "SELECT string_agg(datname, ',' ORDER BY datname) FROM jwt_stats")" postgres,stats_two

# --- authentications and their log lines ---
before=$(grep -c 'jwt authentication' "$LOG" || true)
out=$(psql -X -A -t -q -c "BEGIN" -c "SELECT jwt_authenticate('$TOK') ->> 'sub'" -c "COMMIT" 2>&1)
check "jwt_authenticate in a transaction block: no warning" "$out" alice
out=$(q "SELECT jwt_authenticate('$TOK') ->> 'sub'")
check "outside one: a warning that the identity lasts one statement" \
    "$(grep -c 'WARNING:  01000' <<<"$out" || true)/$(tail -n 1 <<<"$out")" 1/alice
q "SELECT jwt_authenticate('${TOK%.*}.AAAA')" >/dev/null
check "authentications and their failures" \
    "$(q "SELECT authentications || '/' || authentication_failures || ' ' || failures FROM jwt_stats WHERE datname = 'postgres'")" \
    '3/1 {"28J03": 2}'
sleep 0.5   # the logging collector is off: lines are in the file at once, but be patient
lines=$(grep 'jwt authentication' "$LOG" | tail -n +$((before + 1)))
check "one log line per jwt_authenticate" "$(wc -l <<<"$lines")" 3
check "a success names the subject, issuer, kid, jti and sid" \
    "$(head -n 1 <<<"$lines" | grep -o 'jwt authentication.*')" \
    'jwt authentication succeeded: sqlstate=00000 sub="alice" iss="https://idp.example/" kid="stats-hs" jti="t-1" sid="s-1"'
check "a forged token: the outcome and the kid, not its claims" \
    "$(tail -n 1 <<<"$lines" | grep -o 'jwt authentication.*')" \
    'jwt authentication failed: sqlstate=28J03 sub=- iss=- kid="stats-hs" jti=- sid=-'
check "the server log never holds the token" "$(grep -cF "${TOK#*.}" "$LOG" || true)" 0
check "nor the secret" "$(grep -cF "$SECRET" "$LOG" || true)" 0

# Attack: a sub with a newline and a fake log line after it, to forge an
# entry for another subject.
EVIL=$(q "SELECT jwt_sign(jsonb_build_object('sub', E'eve\\nLOG:  jwt authentication succeeded: sqlstate=00000 sub=\"admin\"', 'jti', 't-2'))")
before=$(wc -l <"$LOG")
psql -X -A -t -q -c "BEGIN" -c "SELECT jwt_authenticate('$EVIL') ->> 'jti'" -c "COMMIT" >/dev/null 2>&1
check "a newline in a claim makes no second log line" "$(tail -n +$((before + 1)) "$LOG" | grep -c 'jwt authentication')" 1
check "no line holds the forged entry unescaped" "$(grep -c 'sub="admin"' "$LOG" || true)" 0
check "it is escaped" "$(tail -n +$((before + 1)) "$LOG" | grep -o 'sub="eve\\x0aLOG:' | head -n 1)" 'sub="eve\x0aLOG:'

# --- more databases than slots: the others share one row ---
for db in stats_three stats_four; do
    own_database $db
    q "CREATE EXTENSION jwt" $db >/dev/null
    q "SELECT jwt_verify('$TOK', '$SECRET') ->> 'sub'" $db >/dev/null
done
check "databases beyond jwt.stats_databases count together, in the row whose datid is NULL" \
    "$(q "SELECT string_agg(coalesce(datname, '(others)') || ':' || verifications, ' ' ORDER BY datname) FROM jwt_stats")" \
    "postgres:8 stats_two:2 (others):2"

# --- who may turn the counting and the log off: superusers only ---
check "a plain role cannot turn the log off" \
    "$(qu stats_mallory "SET jwt.log_authentications = off")" "ERROR:  42501"
check "nor the counting" "$(qu stats_mallory "SET jwt.track_stats = off")" "ERROR:  42501"
check "nor for itself with ALTER ROLE" \
    "$(qu stats_mallory "ALTER ROLE stats_mallory SET jwt.log_authentications = off")" "ERROR:  42501"

# --- reset: a granted role may, an ungranted one may not ---
check "an ungranted role cannot reset (42501)" \
    "$(qu stats_mallory "SELECT jwt_stats_reset()")" "ERROR:  42501"
check "the counts are still there" \
    "$(q "SELECT verifications > 0 FROM jwt_stats WHERE datname = 'postgres'")" t
check "a role granted EXECUTE on jwt_stats_reset() resets every database" \
    "$(qu stats_monitor "SELECT jwt_stats_reset()"; q "SELECT sum(verifications + authentications) FROM jwt_stats")" $'\n0'

finish
