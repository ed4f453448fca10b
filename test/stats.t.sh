#!/usr/bin/env bash
# Observability (issue 16) with the library in shared_preload_libraries: a
# cluster of its own.  jwt_stats counts in shared memory across sessions, per
# database; jwt_stats_reset() works for a granted role and is refused (42501)
# to an ungranted one; jwt.log_authentications writes one line per
# jwt_authenticate() to the server log with no token and no secret, and a
# claim holding a newline does not make a second line; a plain role can turn
# neither setting off; jwt_authenticate() outside a transaction block warns.
# Review attacks: a verified token refused afterwards (28J08, 28JR1) or the
# warning's context (dynamic SQL) must not log the token; a forged header's
# kid is escaped and cut.  Counts of a parallel worker and of a backend
# terminated mid-transaction are kept; a crash restart zeroes them.
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
check "the server log never holds the token" "$(grep -cF -e "${TOK#*.}" "$LOG" || true)" 0
check "nor the secret" "$(grep -cF -e "$SECRET" "$LOG" || true)" 0

# Attack: a sub with a newline and a fake log line after it, to forge an
# entry for another subject.
EVIL=$(q "SELECT jwt_sign(jsonb_build_object('sub', E'eve\\nLOG:  jwt authentication succeeded: sqlstate=00000 sub=\"admin\"', 'jti', 't-2'))")
before=$(wc -l <"$LOG")
psql -X -A -t -q -c "BEGIN" -c "SELECT jwt_authenticate('$EVIL') ->> 'jti'" -c "COMMIT" >/dev/null 2>&1
check "a newline in a claim makes no second log line" "$(tail -n +$((before + 1)) "$LOG" | grep -c 'jwt authentication')" 1
check "no line holds the forged entry unescaped" "$(grep -c 'sub="admin"' "$LOG" || true)" 0
check "it is escaped" "$(tail -n +$((before + 1)) "$LOG" | grep -o 'sub="eve\\x0aLOG:' | head -n 1)" 'sub="eve\x0aLOG:'

# Attack: read a valid bearer token out of the server log.  A token that
# verifies but is then refused (no role claim: 28J08; a role the session
# cannot use: 28JR1) used to log its statement (log_min_error_statement).
NOROLE=$(q "SELECT jwt_sign('{\"sub\":\"carol\",\"jti\":\"t-3\"}')")
BADROLE=$(q "SELECT jwt_sign('{\"sub\":\"dave\",\"jti\":\"t-4\",\"role\":\"no_such_role\"}')")
check "a verified token without a role claim is refused (28J08)" \
    "$(q "SET jwt.role_claim = 'role'; BEGIN; SELECT jwt_authenticate('$NOROLE'); COMMIT" | head -n 1)" "ERROR:  28J08"
check "one naming a role the session cannot use is refused (28JR1)" \
    "$(q "SET jwt.role_claim = 'role'; BEGIN; SELECT jwt_authenticate('$BADROLE'); COMMIT" | head -n 1)" "ERROR:  28JR1"
check "neither refused token is in the server log" \
    "$(grep -cF -e "${NOROLE#*.}" -e "${BADROLE#*.}" "$LOG" || true)" 0
check "both refusals are logged, with the subject" \
    "$(grep -o 'jwt authentication failed: sqlstate=28J[0-9A-Z]* sub="[a-z]*"' "$LOG" | tail -n 2 | tr '\n' ' ')" \
    'jwt authentication failed: sqlstate=28J08 sub="carol" jwt authentication failed: sqlstate=28JR1 sub="dave" '

# Attack: the same through the WARNING (outside a transaction block) when the
# token is a literal in dynamic SQL: its CONTEXT line quoted the statement.
DYN=$(q "SELECT jwt_sign('{\"sub\":\"erin\",\"jti\":\"t-5\"}')")
check "dynamic SQL outside a transaction block: the warning" \
    "$(q "DO \$\$BEGIN EXECUTE format('SELECT jwt_authenticate(%L)', '$DYN'); END\$\$")" "WARNING:  01000"
check "its context does not log the valid token" "$(grep -cF -e "${DYN#*.}" "$LOG" || true)" 0

# Attack: forge log content through the kid of a forged token's header
# (never verified): a multi-byte character, a newline, a quote and a fake
# field, longer than the cut.  Bytes that are not UTF-8 at all: 22J03, no kid.
b64() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
HDR=$(printf '{"alg":"HS256","kid":"\xc3\xa9\\n\\" sub=\\"admin %080d"}' 0 | b64)
q "BEGIN; SELECT jwt_authenticate('$HDR.$(printf '{"sub":"admin"}' | b64).AAAA'); COMMIT" >/dev/null
check "a forged header's kid: escaped and cut, and never its claims" \
    "$(grep -o 'jwt authentication failed: sqlstate=[0-9A-Z]* sub=- iss=- kid=.*' "$LOG" | tail -n 1)" \
    'jwt authentication failed: sqlstate=28J0D sub=- iss=- kid="\xc3\xa9\x0a\" sub=\"admin 000000000000000000000000000000000000000000000000"...(96 bytes) jti=- sid=-'
HDR=$(printf '{"alg":"HS256","kid":"\xff\xfe"}' | b64)
q "BEGIN; SELECT jwt_authenticate('$HDR.$(printf '{"sub":"admin"}' | b64).AAAA'); COMMIT" >/dev/null
check "a kid that is not UTF-8: refused (22J03) before it is read" \
    "$(grep -o 'jwt authentication failed: sqlstate=[0-9A-Z]* sub=- iss=- kid=[^ ]*' "$LOG" | tail -n 1)" \
    'jwt authentication failed: sqlstate=22J03 sub=- iss=- kid=-'

# --- counts that must not be lost: a parallel worker's, a terminated backend's ---
q "SELECT jwt_stats_reset()" >/dev/null
check "a verification run in a parallel worker" \
    "$(q "SET force_parallel_mode = on; SET parallel_setup_cost = 0; SELECT jwt_verify('$TOK', '$SECRET') ->> 'sub'")" alice
check "is counted once, in the database's row" \
    "$(q "SELECT verifications FROM jwt_stats WHERE datname = 'postgres'")" 1
psql -X -q -c "BEGIN" -c "SELECT jwt_is_valid('$TOK')" -c "SELECT jwt_is_valid('$TOK')" \
    -c "SELECT pg_sleep(60) /* stats-victim */" >/dev/null 2>&1 &
victim=$!
for _ in $(seq 100); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%stats-victim%' AND state = 'active' AND pid <> pg_backend_pid()")" = 1 ] && break
    sleep 0.1
done
check "counts of a transaction still running are not in the view yet" \
    "$(q "SELECT verifications FROM jwt_stats WHERE datname = 'postgres'")" 1
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%stats-victim%' AND pid <> pg_backend_pid()" >/dev/null
wait "$victim" || true
check "a backend terminated mid-transaction adds them as it exits" \
    "$(q "SELECT verifications FROM jwt_stats WHERE datname = 'postgres'")" 3

# --- more databases than slots: the others share one row ---
for db in stats_three stats_four; do
    own_database $db
    q "CREATE EXTENSION jwt" $db >/dev/null
    q "SELECT jwt_verify('$TOK', '$SECRET') ->> 'sub'" $db >/dev/null
done
check "databases beyond jwt.stats_databases count together, in the row whose datid is NULL (a reset keeps the slots)" \
    "$(q "SELECT string_agg(coalesce(datname, '(others)') || ':' || verifications, ' ' ORDER BY datname) FROM jwt_stats")" \
    "postgres:3 stats_two:0 (others):2"

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

# --- a crash: the server makes its shared memory anew, and the counters with it ---
q "SELECT jwt_is_valid('$TOK')" >/dev/null
psql -X -q -c "SELECT pg_sleep(60) /* stats-crash */" >/dev/null 2>&1 &
crashed=$!
for _ in $(seq 100); do
    pid=$(q "SELECT pid FROM pg_stat_activity WHERE query LIKE '%stats-crash%' AND state = 'active' AND pid <> pg_backend_pid()")
    [ -n "$pid" ] && break
    sleep 0.1
done
kill -9 "$pid"
wait "$crashed" || true
for _ in $(seq 100); do
    [ "$(q "SELECT 1")" = 1 ] && break
    sleep 0.2
done
check "after a crash restart the counters start anew" \
    "$(q "SELECT coalesce(sum(verifications), 0) FROM jwt_stats")" 0
finish
