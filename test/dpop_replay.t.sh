#!/usr/bin/env bash
# DPoP replay across rollbacks (RFC 9449 section 11.1): with jwt in
# shared_preload_libraries a proof seen is remembered in shared memory,
# outside the caller's transaction, so
#   BEGIN; SELECT jwt_authenticate('DPoP ' || tok, proof, 'GET', url); ...; ROLLBACK;
# cannot be run again with the same proof.  Attacks, on a cluster of its own
# with jwt.dpop_replay_entries = 16 (the least):
#   replay after ROLLBACK (jwt_dpop_verify, and jwt_authenticate with a bound
#   token), after ROLLBACK TO SAVEPOINT, from a second session while the first
#   is still open; two concurrent first uses (exactly one wins); the store
#   full of live proofs (53400, naming the setting; half of it is all
#   jwt_dpop_verify may fill, so jwt_authenticate still works), and new proofs
#   accepted once those expire; a proof used and committed, then a restart:
#   the table still refuses it; a preloaded standby under
#   jwt.dpop_on_standby = skip_replay_check refuses a replay to itself.
# And, named after the attack: a PL/pgSQL exception block; one proof to
# jwt_dpop_verify and jwt_authenticate, either order; jti holding dots; iat at
# the edges (skew ahead, further, +-1e300, too old); SERIALIZABLE READ ONLY
# must not burn the proof; no token or proof in the server log (53400, 25006);
# a narrow window (a role's jwt.dpop_max_age) then a wider one after the
# sweep; kill -9 of a backend (a crash restart empties the store).
# Then the cluster restarts without the preload: the old behaviour (a
# rollback erases the record, documented) and a committed record still
# refuses.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh

own_cluster "-c shared_preload_libraries=jwt -c jwt.dpop_replay_entries=16"
DB=jwt_dpopreplay
own_database "$DB"

# q SQL: the output with errors as "ERROR:  SQLSTATE" lines (stdin: a script)
q() { psql -X -A -t -q -v VERBOSITY=sqlstate -d "$DB" -c "$1" 2>&1 || true; }
qs() { psql -X -A -t -q -v VERBOSITY=sqlstate -d "$DB" -f - 2>&1 | sed "s/^psql:<stdin>:[0-9]*: //" || true; }

# RFC 8037's published example key pair signs the proofs
PRIV='{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}'
PUB='{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}'
JKT=kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k
URL='https://api.example.com/things'
q "CREATE EXTENSION jwt" >/dev/null
# mkproof([token]): a proof with a fresh jti, issued now (and its ath for token)
p "CREATE FUNCTION mkproof(token text DEFAULT NULL) RETURNS text LANGUAGE sql AS \$\$
    SELECT jws_sign(convert_to((jsonb_build_object('jti', gen_random_uuid(), 'htm', 'GET', 'htu', '$URL',
               'iat', floor(extract(epoch FROM statement_timestamp())))
           || CASE WHEN token IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('ath',
               rtrim(translate(encode(sha256(convert_to(token, 'UTF8')), 'base64'), '+/', '-_'), '=')) END)::text, 'UTF8'),
        '$PRIV', 'EdDSA', jsonb_build_object('typ', 'dpop+jwt', 'jwk', '$PUB'::jsonb)) \$\$" >/dev/null
# fill(n, token): n fresh proofs in one statement, by jwt_dpop_verify (token
# NULL) or jwt_authenticate (a bound token): how many passed, then the
# SQLSTATE of the first refusal
p "CREATE FUNCTION fill(n int, token text DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE passed int := 0;
BEGIN
    FOR i IN 1 .. n LOOP
        BEGIN
            IF token IS NULL THEN
                PERFORM jwt_dpop_verify(mkproof(), 'GET', '$URL');
            ELSE
                PERFORM jwt_authenticate('DPoP ' || token, mkproof(token), 'GET', '$URL');
            END IF;
            passed := passed + 1;
        EXCEPTION WHEN OTHERS THEN
            RETURN passed || ' ' || SQLSTATE;
        END;
    END LOOP;
    RETURN passed::text;
END \$\$" >/dev/null
# mkproof_at(iat, jti, token): a proof with the given iat and jti (for token's ath)
p "CREATE FUNCTION mkproof_at(iat numeric, jti text, token text DEFAULT NULL) RETURNS text LANGUAGE sql AS \$\$
    SELECT jws_sign(convert_to((jsonb_build_object('jti', jti, 'htm', 'GET', 'htu', '$URL', 'iat', iat)
           || CASE WHEN token IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('ath',
               rtrim(translate(encode(sha256(convert_to(token, 'UTF8')), 'base64'), '+/', '-_'), '=')) END)::text, 'UTF8'),
        '$PRIV', 'EdDSA', jsonb_build_object('typ', 'dpop+jwt', 'jwk', '$PUB'::jsonb)) \$\$" >/dev/null
# sqlstate(sql): the SQLSTATE the statement raises, or ok
p "CREATE FUNCTION sqlstate(sql text) RETURNS text LANGUAGE plpgsql AS \$\$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END \$\$" >/dev/null
q "SELECT jwt_generate_key('ES256', 'replay-test')" >/dev/null
TOK=$(p "SELECT jwt_sign(jsonb_build_object('sub', 'alice', 'exp', extract(epoch FROM now() + interval '1 hour')::bigint,
                                            'cnf', jsonb_build_object('jkt', '$JKT')), header => '{\"kid\":\"replay-test\"}')")
verify() { echo "SELECT jwt_dpop_verify('$1', 'GET', '$URL') ->> 'jkt';"; }
auth() { echo "SELECT jwt_authenticate('DPoP $TOK', '$1', 'GET', '$URL') ->> 'sub';"; }

check "preloaded: the shared store is there (pg_shmem_allocations)" \
    "$(q "SELECT count(*) FROM pg_shmem_allocations WHERE name = 'jwt DPoP proofs'")" 1
check "preloaded: its size is jwt.dpop_replay_entries" "$(q "SHOW jwt.dpop_replay_entries")" 16
check "a session cannot change it (55P02)" "$(q "SET jwt.dpop_replay_entries = 1000000")" "ERROR:  55P02"

# --- the store full of live proofs; they expire and room comes back ---
# First, while the store is empty, with proofs that live 3 s
# (jwt.dpop_max_age = 2): one statement fills it and tries it, so that no
# record expires before the statement is done.
export PGOPTIONS="-c jwt.dpop_max_age=2 -c jwt.dpop_clock_skew=0"
p "CREATE FUNCTION full_store(token text) RETURNS SETOF text LANGUAGE plpgsql AS \$\$
DECLARE proof text := mkproof(); hint text;
BEGIN
    PERFORM jwt_dpop_verify(proof, 'GET', '$URL');
    RETURN NEXT 'verify ' || fill(20);
    RETURN NEXT 'authenticate ' || fill(20, token);
    BEGIN
        PERFORM jwt_dpop_verify(proof, 'GET', '$URL');
        RETURN NEXT 'replay accepted';
    EXCEPTION WHEN OTHERS THEN
        RETURN NEXT 'replay ' || SQLSTATE;
    END;
    BEGIN
        PERFORM jwt_authenticate('DPoP ' || token, mkproof(token), 'GET', '$URL');
        RETURN NEXT 'new accepted';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
        RETURN NEXT 'new ' || SQLSTATE || ' ' || hint;
    END;
END \$\$" >/dev/null
FULL=$(q "SELECT full_store('$TOK')")
check "full: jwt_dpop_verify fills its half of the store (1 + 7 of 16), then fails closed (53400)" \
    "$(sed -n 1p <<<"$FULL")" "verify 7 53400"
check "full: jwt_authenticate (proofs bound to a verified token) still has the other half (8), then 53400" \
    "$(sed -n 2p <<<"$FULL")" "authenticate 8 53400"
check "full: a replay is still a replay (28JD9), not a full store" \
    "$(sed -n 3p <<<"$FULL")" "replay 28JD9"
check "full: a new proof is refused, no live record is evicted (53400, naming the setting)" \
    "$(sed -n 4p <<<"$FULL")" "new 53400 Raise jwt.dpop_replay_entries (a restart), or lower jwt.dpop_max_age."
check "full: 53400 at the top level of a statement that holds the token" \
    "$(qs <<<"BEGIN; SELECT fill(20, '$TOK') IS NOT NULL AND jwt_authenticate('DPoP $TOK', mkproof('$TOK'), 'GET', '$URL') IS NOT NULL; ROLLBACK;")" \
    "ERROR:  53400"
check "full: it is logged, without the statement: no line of the server log quotes the token" \
    "$(cluster_log | grep -c -e 'the store of DPoP proofs seen is full' -e "$TOK" || true)" 1
P=$(q "SELECT mkproof()")
check "full: 53400 by jwt_dpop_verify, at the top level of a statement that holds the proof" \
    "$(q "SELECT fill(20) IS NOT NULL AND jwt_dpop_verify('$P', 'GET', '$URL') IS NOT NULL")" "ERROR:  53400"
check "full: it is logged, without the statement: no line of the server log quotes the proof" \
    "$(cluster_log | grep -c -e 'the store of DPoP proofs seen is full' -e "$P" || true)" 2
sleep 4
check "expired: the records are reused, proofs are accepted again (jwt_authenticate)" \
    "$(q "SELECT fill(8, '$TOK')")" 8
check "expired: and by jwt_dpop_verify" "$(q "SELECT fill(8)")" 8
sleep 4

# --- attack: a narrow window (a role's jwt.dpop_max_age) shortens a record;
# once the sweep frees it, a session with a wider window must not accept the
# proof again ---
P=$(q "SELECT mkproof('$TOK')")
qs <<<"BEGIN; $(auth "$P") ROLLBACK;" >/dev/null
sleep 4
check "narrow window: jwt_dpop_verify fills its half, the next one finds it full and sweeps the expired record" \
    "$(q "SELECT fill(9)")" "8 53400"
check "narrow window, then a wider one: the swept proof is refused (28JD8), not accepted again" \
    "$(PGOPTIONS='' qs <<<"BEGIN; $(auth "$P") ROLLBACK;")" "ERROR:  28JD8"
check "narrow window, then a wider one: a fresh proof is accepted" \
    "$(PGOPTIONS='' qs <<<"BEGIN; $(auth "$(q "SELECT mkproof('$TOK')")") ROLLBACK;")" alice
sleep 4
unset PGOPTIONS

# --- replay after ROLLBACK ---
P=$(q "SELECT mkproof()")
check "rollback: jwt_dpop_verify, BEGIN ... ROLLBACK, then the same proof again: refused (28JD9)" \
    "$(qs <<<"BEGIN; $(verify "$P") ROLLBACK; $(verify "$P")")" "$JKT"$'\n'"ERROR:  28JD9"
check "rollback: the table's record was rolled back (it is the shared store that refused)" \
    "$(q "SELECT count(*) FROM jwt_dpop_proofs WHERE expires_at > now()")" 0
P=$(q "SELECT mkproof('$TOK')")
check "rollback: jwt_authenticate with a bound token, BEGIN ... ROLLBACK, again: refused (28JD9)" \
    "$(qs <<<"BEGIN; $(auth "$P") ROLLBACK; BEGIN; $(auth "$P") ROLLBACK;")" "alice"$'\n'"ERROR:  28JD9"
check "rollback: and again in a later session (28JD9)" "$(qs <<<"BEGIN; $(auth "$P") ROLLBACK;")" "ERROR:  28JD9"

# --- replay after ROLLBACK TO SAVEPOINT ---
P=$(q "SELECT mkproof('$TOK')")
check "savepoint: jwt_authenticate, ROLLBACK TO SAVEPOINT, the same proof in the same transaction (28JD9)" \
    "$(qs <<<"BEGIN; SAVEPOINT s; $(auth "$P") ROLLBACK TO SAVEPOINT s; $(auth "$P") ROLLBACK;")" \
    "alice"$'\n'"ERROR:  28JD9"

# --- attack: an exception block (a PL/pgSQL subtransaction) undoes the use ---
P=$(q "SELECT mkproof('$TOK')")
p "CREATE FUNCTION use_and_undo(proof text) RETURNS text LANGUAGE plpgsql AS \$\$
BEGIN
    BEGIN
        PERFORM jwt_authenticate('DPoP $TOK', proof, 'GET', '$URL');
        RAISE EXCEPTION 'undo';
    EXCEPTION WHEN raise_exception THEN NULL;
    END;
    RETURN sqlstate(format('SELECT jwt_authenticate(%L, %L, %L, %L)', 'DPoP $TOK', proof, 'GET', '$URL'));
END \$\$" >/dev/null
check "exception block: a proof used in a block that raised, then again in the same function (28JD9)" \
    "$(q "SELECT use_and_undo('$P')")" 28JD9

# --- attack: one proof to both functions (rolled back in between) ---
P=$(q "SELECT mkproof('$TOK')")
check "verify then authenticate: jwt_dpop_verify (rolled back), then jwt_authenticate (28JD9)" \
    "$(qs <<<"BEGIN; SELECT jwt_dpop_verify('$P', 'GET', '$URL', '$TOK') ->> 'jkt'; ROLLBACK; $(auth "$P")")" \
    "$JKT"$'\n'"ERROR:  28JD9"
P=$(q "SELECT mkproof('$TOK')")
check "authenticate then verify: jwt_authenticate (rolled back), then jwt_dpop_verify (28JD9)" \
    "$(qs <<<"BEGIN; $(auth "$P") ROLLBACK; SELECT jwt_dpop_verify('$P', 'GET', '$URL', '$TOK') ->> 'jkt';")" \
    "alice"$'\n'"ERROR:  28JD9"

# --- attack: jti holding '.': the digest input is thumbprint "." jti, and a
# thumbprint is always 43 base64url characters (no '.'), so no two (key, jti)
# pairs give one input; a jti with dots is one jti ---
T=$(q "SELECT floor(extract(epoch FROM now()))")
check "jti with dots: 'a.b' is accepted, 'a' and 'b' are other proofs, 'a.b' again is a replay" \
    "$(qs <<<"BEGIN; $(auth "$(q "SELECT mkproof_at($T, 'a.b.$T', '$TOK')")") $(auth "$(q "SELECT mkproof_at($T, 'a.$T', '$TOK')")") $(auth "$(q "SELECT mkproof_at($T, 'b.$T', '$TOK')")") ROLLBACK; $(auth "$(q "SELECT mkproof_at($T, 'a.b.$T', '$TOK')")")")" \
    "alice"$'\n'"alice"$'\n'"alice"$'\n'"ERROR:  28JD9"

# --- attack: iat at the edges, to make a record expire at once or live forever ---
T=$(q "SELECT floor(extract(epoch FROM now()))")
P=$(q "SELECT mkproof_at($T + 30, gen_random_uuid()::text, '$TOK')")
check "iat as far ahead as jwt.dpop_clock_skew allows (30 s): accepted once, then a replay (28JD9)" \
    "$(qs <<<"BEGIN; $(auth "$P") ROLLBACK; $(auth "$P")")" "alice"$'\n'"ERROR:  28JD9"
check "iat further ahead (40 s): refused (28JD8), nothing recorded for ever" \
    "$(q "$(verify "$(q "SELECT mkproof_at($T + 40, gen_random_uuid()::text)")")")" "ERROR:  28JD8"
check "iat 1e300: refused (28JD8) before any expiry is computed" \
    "$(q "$(verify "$(q "SELECT mkproof_at(1e300, gen_random_uuid()::text)")")")" "ERROR:  28JD8"
check "iat -1e300: refused (28JD8)" \
    "$(q "$(verify "$(q "SELECT mkproof_at(-1e300, gen_random_uuid()::text)")")")" "ERROR:  28JD8"
check "iat older than the window: refused (28JD8), not recorded as expiring at once" \
    "$(q "$(verify "$(q "SELECT mkproof_at($T - 400, gen_random_uuid()::text)")")")" "ERROR:  28JD8"

# --- attack: a SERIALIZABLE READ ONLY transaction cannot record: it must not burn the proof ---
P=$(q "SELECT mkproof()")
check "serializable read only: refused (25006), the proof not burnt: it then verifies" \
    "$(qs <<<"BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY; $(verify "$P") ROLLBACK; $(verify "$P")")" \
    "ERROR:  25006"$'\n'"$JKT"
check "serializable read only: the error is logged without the statement, which holds the proof" \
    "$(cluster_log | grep -c -e 'read-only serializable transaction' -e "$P" || true)" 1

# --- a second session, while the first is still open ---
P=$(q "SELECT mkproof()")
psql_session_start -d "$DB"
check "two sessions: the first uses the proof and keeps its transaction open" \
    "$(in_session "BEGIN; $(verify "$P")")" "$JKT"
check "two sessions: the second is refused at once, without waiting for the first (28JD9)" \
    "$(psql -X -A -t -q -v VERBOSITY=sqlstate -d "$DB" -c "SET lock_timeout = '5s'" -c "$(verify "$P")" 2>&1 || true)" "ERROR:  28JD9"
check "two sessions: the first rolls back; the proof stays used (28JD9)" \
    "$(in_session "ROLLBACK;"; q "$(verify "$P")")" "ERROR:  28JD9"

# --- two concurrent first uses: exactly one wins ---
P=$(q "SELECT mkproof('$TOK')")
O1=$(mktemp) O2=$(mktemp)
remove_at_exit "$O1"; remove_at_exit "$O2"
qs <<<"BEGIN; $(auth "$P") ROLLBACK;" >"$O1" &
J1=$!
qs <<<"BEGIN; $(auth "$P") ROLLBACK;" >"$O2" &
J2=$!
wait "$J1" "$J2"
check "race: two sessions present one proof at once (and roll back): exactly one wins" \
    "$(cat "$O1" "$O2" | LC_ALL=C sort | tr '\n' ' ')" "ERROR:  28JD9 alice "

# --- a preloaded standby under skip_replay_check catches replays made to it ---
P=$(q "SELECT mkproof()")
standby_start
wait_replay
check "standby: preloaded, it has a shared store" \
    "$(s "SELECT count(*) FROM pg_shmem_allocations WHERE name = 'jwt DPoP proofs'")" 1
check "standby: by default it still fails closed (25006)" "$(s "$(verify "$P")")" "ERROR:  25006"
check "standby: the 25006 is logged without the statement, which holds the proof" \
    "$(grep -c -e 'cannot be checked for replay on a standby' -e "$P" "$SB/server.log" || true)" 1
check "standby, skip_replay_check: a fresh proof verifies" \
    "$(s "SET jwt.dpop_on_standby = skip_replay_check; $(verify "$P")")" "$JKT"
check "standby, skip_replay_check: the same proof replayed to the standby is refused (28JD9)" \
    "$(s "SET jwt.dpop_on_standby = skip_replay_check; $(verify "$P")")" "ERROR:  28JD9"
check "standby: (a replay to another server is not caught: the primary accepts it, documented)" \
    "$(q "$(verify "$P")")" "$JKT"
_standby_stop
SB=''

# --- attack: kill -9 of a backend: the postmaster empties shared memory (a
# crash restart), and with it the store; a proof used and rolled back before
# must not verify again.  Every proof issued up to jwt.dpop_clock_skew ahead
# of the crash may have been, so until then all are refused (here 1 s).
sys jwt.dpop_clock_skew 1 >/dev/null
settle jwt.dpop_clock_skew 1s
P=$(q "SELECT mkproof()")
qs <<<"BEGIN; $(verify "$P") ROLLBACK;" >/dev/null
BPID=$(in_session "SELECT pg_backend_pid();")
kill -KILL "$BPID"
for _ in $(seq 100); do [ "$(q "SELECT 1" 2>/dev/null)" = 1 ] && break; sleep 0.2; done
check "crash: the server is back after a backend was killed" "$(q "SELECT 1")" 1
check "crash: the shared store was made again" \
    "$(q "SELECT count(*) FROM pg_shmem_allocations WHERE name = 'jwt DPoP proofs'")" 1
check "crash: a use rolled back before the crash restart is refused (28JD8), not accepted again" \
    "$(q "$(verify "$P")")" "ERROR:  28JD8"
check "crash: so is a fresh proof, until jwt.dpop_clock_skew has passed (28JD8)" \
    "$(q "$(verify "$(q "SELECT mkproof()")")")" "ERROR:  28JD8"
sleep 3
check "crash: then fresh proofs are accepted" "$(q "$(verify "$(q "SELECT mkproof()")")")" "$JKT"
check "crash: and the one used before is still refused (28JD8)" "$(q "$(verify "$P")")" "ERROR:  28JD8"
"$PGBIN/psql" -X -q -c "ALTER SYSTEM RESET jwt.dpop_clock_skew" >/dev/null
settle jwt.dpop_clock_skew 30s

# --- restart: the committed record refuses; the shared store starts empty ---
PC=$(q "SELECT mkproof()")
PR=$(q "SELECT mkproof()")
q "$(verify "$PC")" >/dev/null
qs <<<"BEGIN; $(verify "$PR") ROLLBACK;" >/dev/null
restart() {
    as_server_user "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w -m fast stop >/dev/null
    as_server_user "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w \
        -o "-p $JWT_TEST_PORT -k $CLUSTER_DIR/sock -c listen_addresses='' -c fsync=off $1" \
        start >/dev/null || { cluster_log 30 >&2; exit 1; }
}
restart "$JWT_SERVER_OPTS"
check "restart: a proof used and committed before is refused by the table (28JD9)" \
    "$(q "$(verify "$PC")")" "ERROR:  28JD9"
check "restart: (a use rolled back before the restart is forgotten, documented)" \
    "$(q "$(verify "$PR")")" "$JKT"

# --- without the preload: the old behaviour ---
restart "-c shared_preload_libraries=''"
check "not preloaded: no shared store" \
    "$(q "SELECT count(*) FROM pg_shmem_allocations WHERE name = 'jwt DPoP proofs'")" 0
P=$(q "SELECT mkproof()")
check "not preloaded: a rollback erases the record, the proof verifies again (documented)" \
    "$(qs <<<"BEGIN; $(verify "$P") ROLLBACK; $(verify "$P")")" "$JKT"$'\n'"$JKT"
check "not preloaded: once committed, a replay is refused (28JD9)" "$(q "$(verify "$P")")" "ERROR:  28JD9"
check "not preloaded: jwt.dpop_replay_entries is not defined (a placeholder at most)" \
    "$(q "SELECT current_setting('jwt.dpop_replay_entries', true) IS NULL")" t

finish
