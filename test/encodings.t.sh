#!/usr/bin/env bash
# A database that is not UTF-8 (LATIN1): tokens are UTF-8, the revocation
# lists store ids in the database encoding. Non-ASCII token ids and subjects
# revoked there are found, written raw or as \u escapes; an id the encoding
# cannot represent makes the check fail closed (an error), never pass.
# Uses the cluster the PG* variables name (test/run-tests.sh sets them);
# without PGHOST it starts a throwaway cluster of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
use_cluster

DB=jwt_latin1_$$
own_database "$DB ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
# psql's client encoding is UTF-8: the literals below are converted to LATIN1
export PGCLIENTENCODING=UTF8
p "CREATE EXTENSION jwt" >/dev/null
check "the database is LATIN1" "$(p "SHOW server_encoding")" LATIN1

SECRET='a secret of at least thirty-two bytes!!'
tok() { p "SELECT jws_sign(convert_to('$1', 'UTF8'), '$SECRET')"; }
checked() { p "SELECT jwt_is_valid('$1', '$SECRET', check_revoked => true)"; }

T1=$(tok '{"sub":"jürgen","jti":"jé-1","exp":4000000000}')
T2=$(tok '{"sub":"zoë","jti":"plain-2","exp":4000000000}')
# an escaped e-acute: the JSON parser turns it into the database encoding
T3=$(tok '{"sub":"ann","jti":"\u00e9-3","exp":4000000000}')
# a raw UTF-8 euro sign, which LATIN1 lacks (bytes, not a LATIN1 literal)
T4=$(p "SELECT jws_sign(decode('7b22737562223a22656d6d61222c226a7469223a22e282ac2d34222c22657870223a343030303030303030307d', 'hex'), '$SECRET')")
check "the tokens verify before any revocation" "$(checked "$T1")$(checked "$T2")$(checked "$T3")" ttt
check "claims come back in the database encoding" "$(p "SELECT jwt_verify('$T1', '$SECRET')->>'sub'")" "jürgen"

p "SELECT jwt_revoke('$T1')" >/dev/null
check "a non-ASCII jti revoked with jwt_revoke is found" "$(p "SELECT jwt_is_revoked('$T1')")" t
check "and the token is refused" "$(checked "$T1")" f

p "SELECT jwt_revoke_subject('zoë')" >/dev/null
check "a non-ASCII subject cut-off is found" "$(p "SELECT jwt_is_revoked('$T2')")" t
check "and the subject's token is refused" "$(checked "$T2")" f

p "SELECT jwt_revoke_jti('é-3', '2100-01-01')" >/dev/null
check "an escaped non-ASCII jti is found too" "$(p "SELECT jwt_is_revoked('$T3')")" t
check "and that token is refused" "$(checked "$T3")" f

check "an id LATIN1 cannot represent: the check fails closed (22P05), never accepts" \
    "$(p "SELECT jwt_is_valid('$T4', '$SECRET', check_revoked => true)" 2>&1 | grep -o 'has no equivalent in encoding "LATIN1"' | head -1)" \
    'has no equivalent in encoding "LATIN1"'
check "without the check, the signature and claims still verify" \
    "$(p "SELECT jwt_is_valid('$T4', '$SECRET')")" t

finish
