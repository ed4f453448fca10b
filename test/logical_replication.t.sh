#!/usr/bin/env bash
# Keyring and revocations through logical replication: a database subscribes
# to another's jwt_keys and revocation lists, and a session of the subscriber
# that has already verified (so it has the keyring cached and knows the
# revocation lists empty) refuses a token as soon as the publisher's
# retirement or revocation has been applied. Logical replication's apply
# fires row triggers only, in replica mode: the extension's change triggers
# are row triggers enabled ALWAYS.
# Always a throwaway cluster of its own (wal_level = logical); both databases
# live in it (the subscription uses a slot made beforehand, as it must there).
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
own_cluster "-c wal_level=logical -c max_replication_slots=4 -c max_wal_senders=4"

PUB=jwt_lr_pub SUB=jwt_lr_sub
q() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
own_database "$PUB"
own_database "$SUB"
drop_at_exit "SELECT pg_drop_replication_slot('jwt_lr') FROM pg_replication_slots WHERE slot_name = 'jwt_lr'"
for db in "$PUB" "$SUB"; do q "$db" "CREATE EXTENSION jwt" >/dev/null; done

# Keys made on the publisher reach the subscriber with the initial copy.
q "$PUB" "SELECT jwt_generate_key('HS256', 'lr-hs')" >/dev/null
q "$PUB" "SELECT jwt_generate_key('ES256', 'lr-es')" >/dev/null
T_HS=$(q "$PUB" "SELECT jwt_sign('{\"sub\":\"alice\",\"jti\":\"lr-1\"}', header => '{\"kid\":\"lr-hs\"}')")
T_SUB=$(q "$PUB" "SELECT jwt_sign('{\"sub\":\"bob\"}', header => '{\"kid\":\"lr-hs\"}')")
T_ES=$(q "$PUB" "SELECT jwt_sign('{\"sub\":\"carol\"}', header => '{\"kid\":\"lr-es\"}')")
q "$PUB" "CREATE PUBLICATION jwt_lr FOR TABLE jwt_keys, jwt_revoked_tokens, jwt_revoked_subjects" >/dev/null
q "$PUB" "SELECT pg_create_logical_replication_slot('jwt_lr', 'pgoutput')" >/dev/null
q "$SUB" "CREATE SUBSCRIPTION jwt_lr CONNECTION 'dbname=$PUB host=$PGHOST port=$PGPORT user=postgres'
          PUBLICATION jwt_lr WITH (create_slot = false, slot_name = 'jwt_lr')" >/dev/null
drop_at_exit "DROP DATABASE IF EXISTS $SUB WITH (FORCE)"   # before the slot: the subscription holds it

# wait_for DB SQL: until SQL returns t (30 s).
wait_for() {
    for _ in $(seq 300); do
        [ "$(q "$1" "$2" 2>/dev/null)" = t ] && return 0
        sleep 0.1
    done
    echo "# timed out waiting for: $2" >&2; return 1
}
wait_for "$SUB" "SELECT count(*) = 2 FROM jwt_keys"
ok "the keys reached the subscriber"

psql_session_start -d "$SUB"
check "subscriber session: the HS256 token verifies (keyring cached, lists found empty)" \
    "$(in_session "SELECT jwt_verify('$T_HS')->>'sub';")" alice
check "subscriber session: bob's token verifies" "$(in_session "SELECT jwt_verify('$T_SUB')->>'sub';")" bob
check "subscriber session: the ES256 token verifies" "$(in_session "SELECT jwt_verify('$T_ES')->>'sub';")" carol

q "$PUB" "SELECT jwt_revoke('$T_HS', 'replicated')" >/dev/null
wait_for "$SUB" "SELECT count(*) = 1 FROM jwt_revoked_tokens"
check "the revocation, once applied, counts in the open subscriber session" \
    "$(in_session "SELECT jwt_verify('$T_HS')->>'sub';")" "ERROR:  28J04"

q "$PUB" "SELECT jwt_revoke_subject('bob')" >/dev/null
wait_for "$SUB" "SELECT count(*) = 1 FROM jwt_revoked_subjects"
check "the subject cut-off, once applied, counts in the open subscriber session" \
    "$(in_session "SELECT jwt_verify('$T_SUB')->>'sub';")" "ERROR:  28J04"

q "$PUB" "SELECT jwt_retire_key('lr-es')" >/dev/null
wait_for "$SUB" "SELECT retired_at IS NOT NULL FROM jwt_keys WHERE kid = 'lr-es'"
check "the retirement, once applied, counts in the open subscriber session" \
    "$(in_session "SELECT jwt_verify('$T_ES')->>'sub';")" "ERROR:  28J0D"

finish
