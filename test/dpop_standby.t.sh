#!/usr/bin/env bash
# DPoP on a hot standby: a standby cannot record a proof's jti, so by default
# jwt_dpop_verify fails closed there (25006, naming jwt.dpop_on_standby); with
# jwt.dpop_on_standby = skip_replay_check (superuser-only) proofs verify
# without being recorded, and a proof already used on the primary (its record
# replayed) is still refused (28JD9).
# The primary is the cluster the PG* variables name (test/run-tests.sh sets
# them); without PGHOST a throwaway cluster is started. The standby is a
# pg_basebackup of it, stopped and removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
use_cluster
standby_start

DB=jwt_dpopstandby_$$
own_database "$DB"
p "CREATE EXTENSION jwt" >/dev/null
p "CREATE ROLE dpop_standby_user" >/dev/null
drop_at_exit "DROP ROLE IF EXISTS dpop_standby_user"
# RFC 8037's published example key pair signs the proofs
PRIV='{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}'
PUB='{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}'
URL='https://api.example.com/things'
proof() {
    p "SELECT jws_sign(convert_to(jsonb_build_object('jti', gen_random_uuid(), 'htm', 'GET', 'htu', '$URL',
        'iat', floor(extract(epoch FROM now())))::text, 'UTF8'), '$PRIV', 'EdDSA',
        jsonb_build_object('typ', 'dpop+jwt', 'jwk', '$PUB'::jsonb))"
}
P1=$(proof)
P2=$(proof)
P3=$(proof)
check "primary: a proof verifies and is recorded" \
    "$(p "SELECT jwt_dpop_verify('$P1', 'GET', '$URL')->>'jkt'")" "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
wait_replay

check "the standby is in recovery" "$(s "SELECT pg_is_in_recovery()")" t
check "standby: a fresh proof fails closed (25006), the default jwt.dpop_on_standby = refuse" \
    "$(s "SELECT jwt_dpop_verify('$P2', 'GET', '$URL')")" "ERROR:  25006"
check "standby: an unprivileged role cannot choose skip_replay_check (42501)" \
    "$(s "LOAD 'jwt'; SET ROLE dpop_standby_user; SET jwt.dpop_on_standby = skip_replay_check")" "ERROR:  42501"
check "standby: nor set it as a placeholder before the library loads (the proof still fails closed)" \
    "$(s "SET ROLE dpop_standby_user; SET jwt.dpop_on_standby = skip_replay_check; SELECT jwt_dpop_verify('$P2', 'GET', '$URL')")" \
    "WARNING:  42501"$'\n'"ERROR:  25006"
check "standby, skip_replay_check: a fresh proof verifies (not recorded)" \
    "$(s "SET jwt.dpop_on_standby = skip_replay_check; SELECT jwt_dpop_verify('$P2', 'GET', '$URL')->>'jkt'")" \
    "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
check "standby, skip_replay_check: a proof used on the primary is still refused (28JD9)" \
    "$(s "SET jwt.dpop_on_standby = skip_replay_check; SELECT jwt_dpop_verify('$P1', 'GET', '$URL')")" "ERROR:  28JD9"
check "standby, skip_replay_check: the other checks stand (another URL: 28JD7)" \
    "$(s "SET jwt.dpop_on_standby = skip_replay_check; SELECT jwt_dpop_verify('$P3', 'GET', '$URL/x')")" "ERROR:  28JD7"
check "primary: the proof verified on the standby was not recorded, and still verifies there" \
    "$(p "SELECT jwt_dpop_verify('$P2', 'GET', '$URL')->>'jkt'")" "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

finish
