#!/usr/bin/env bash
# Revocation across sessions (issue 12 items 3, 4 and 12):
#  - jwt_revoke_subject's default cut-off is the moment of the call, not the
#    start of the revoking transaction: a token another session issues while
#    the revoking transaction is open, before the call, is revoked; one it
#    issues after the call returns is not, even in the same second, whether
#    its session is new or was open before; such a token's iat has
#    microseconds, which PyJWT accepts (with a second of leeway in that second);
#  - an open session keeps working after another session drops and re-creates
#    the extension (new table OIDs): no "could not open relation with OID".
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
use_cluster

DB=jwt_revsessions_$$
own_database "$DB"
p "CREATE EXTENSION jwt" >/dev/null
p "SELECT jwt_generate_key('HS256')" >/dev/null
# sqlstate SQL: "ok:<value>", or the SQLSTATE of the error
sqlstate() {
    local out
    out=$("$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -d "$DB" -c "$1" 2>&1) &&
        { echo "ok:$out"; return 0; }
    sed -n 's/^\(psql:[^ ]* \)\{0,1\}ERROR:  \([0-9A-Z]\{5\}\)$/\2/p' <<<"$out" | tail -n 1
}

psql_session_start -d "$DB"

# --- item 3: a long revoking transaction; another session issues tokens in it ---
# Attack: with the cut-off at now() (the revoking transaction's start), a
# token issued by another session after that start survived the revocation.
in_session "BEGIN; SELECT 1;" >/dev/null
sleep 1.1   # a later second than the transaction's start
BEFORE=$(p "SELECT jwt_sign('{\"sub\":\"bob\"}')")
sleep 0.2
in_session "SELECT jwt_revoke_subject('bob', reason => 'long transaction');" >/dev/null
# (another session cannot see the cut-off before its commit: in the cut-off's
# own second it would issue whole-second tokens, revoked too, the safe side)
sleep 1.1
AFTER=$(p "SELECT jwt_sign('{\"sub\":\"bob\"}')")
in_session "COMMIT;" >/dev/null
check "item 3: a token issued in the revoking transaction before the call is revoked" \
    "$(sqlstate "SELECT jwt_verify('$BEFORE')->>'sub'")" 28J04
check "item 3: a token issued after the call returned (before its commit) is not" \
    "$(sqlstate "SELECT jwt_verify('$AFTER')->>'sub'")" ok:bob

# --- item 4: revoke, then another session issues at once (the same second) ---
# Attack: whole-second iat against a cut-off with microseconds refused every
# token issued in the rest of the second of the revocation.
refused=0
for _ in 1 2 3 4 5; do
    in_session "SELECT jwt_revoke_subject('carol');" >/dev/null
    T=$(p "SELECT jwt_sign('{\"sub\":\"carol\"}')")
    [ "$(sqlstate "SELECT jwt_verify('$T')->>'sub'")" = ok:carol ] || refused=$((refused + 1))
done
check "item 4: tokens issued by another session right after the revocation verify" "$refused" 0
# ... and by a session that has signed and verified before (it learns of the
# cut-off from the invalidation the revoking commit sends)
LONG=$("$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -d "$DB" 2>&1 <<SQL
SELECT jwt_verify(jwt_sign('{"sub":"carol"}')) IS NOT NULL AS warm \gset
SELECT pg_sleep(1.1) \gset
\\! "$PGBIN/psql" -X -q -d "$DB" -c "SELECT jwt_revoke_subject('carol')" >/dev/null
SELECT jwt_sign('{"sub":"carol"}') AS t1 \gset
SELECT jwt_sign('{"sub":"carol"}') AS t2 \gset
SELECT jwt_verify(:'t1') ->> 'sub', jwt_verify(:'t2') ->> 'sub';
SQL
)
check "item 4: ... and by a session open before the revocation" "$LONG" "carol|carol"
OLD=$(p "SELECT jwt_sign('{\"sub\":\"carol\"}')")
in_session "SELECT jwt_revoke_subject('carol');" >/dev/null
check "item 4: a token issued by another session right before the revocation is refused" \
    "$(sqlstate "SELECT jwt_verify('$OLD')->>'sub'")" 28J04

# --- item 4: what other verifiers make of the iat jwt_sign writes ---
# Whole seconds as before; to the microsecond only for a token of a subject
# cut off earlier in the same second, which PyJWT (Debian's 2.6 compares iat
# with a whole-second clock) accepts with a second of leeway, or a second later.
SECRET='interop secret of at least thirty-two bytes'
# (from /, so that "import jwt" does not find this directory's jwt.so)
pyjwt() { (cd / && /usr/bin/python3 -c 'import sys, jwt
try:
    print(jwt.decode(sys.argv[1], sys.argv[2], algorithms=["HS256"], leeway=float(sys.argv[3]))["sub"])
except jwt.PyJWTError as e:
    print(type(e).__name__)' "$@"); }
PLAIN=$(p "SELECT jwt_sign('{\"sub\":\"hal\"}', '$SECRET')")
check "item 4: jwt_sign's iat is whole seconds" \
    "$(p "SELECT (jwt_decode('$PLAIN')).payload ->> 'iat' ~ '^[0-9]+\$'")" t
check "item 4: PyJWT accepts it at once" "$(pyjwt "$PLAIN" "$SECRET" 0)" hal
EXACT=$(p "SELECT jwt_revoke_subject('hal'); SELECT jwt_sign('{\"sub\":\"hal\"}', '$SECRET')" | tail -n 1)
check "item 4: after a cut-off in its second, iat has microseconds" \
    "$(p "SELECT (jwt_decode('$EXACT')).payload ->> 'iat' ~ '^[0-9]+\.[0-9]{6}\$'")" t
check "item 4: PyJWT accepts that with a second of leeway" "$(pyjwt "$EXACT" "$SECRET" 1)" hal
sleep 1
check "item 4: ... and a second later without" "$(pyjwt "$EXACT" "$SECRET" 0)" hal
check "item 4: jwt_verify accepts it, checking revocation" \
    "$(sqlstate "SELECT jwt_verify('$EXACT', '$SECRET', check_revoked => true)->>'sub'")" ok:hal

# --- item 12: DROP EXTENSION; CREATE EXTENSION in another session ---
# Attack: an open session kept the tables' old OIDs and failed with "could not
# open relation with OID" until it reconnected.
T=$(p "SELECT jwt_sign('{\"sub\":\"dave\"}')")
check "item 12: the open session verifies (keyring and revocation looked up)" \
    "$(in_session "SELECT jwt_verify('$T')->>'sub';")" dave
check "item 12: ... and revokes" "$(in_session "SELECT jwt_revoke_subject('erin'); SELECT jwt_is_revoked('$T');")" f
p "DROP EXTENSION jwt; CREATE EXTENSION jwt;" >/dev/null
p "SELECT jwt_generate_key('HS256', 'second')" >/dev/null
T2=$(p "SELECT jwt_sign('{\"sub\":\"dave\"}')")
check "item 12: after re-creation, the open session verifies a new token" \
    "$(in_session "SELECT jwt_verify('$T2')->>'sub';")" dave
check "item 12: ... refuses one of the dropped keyring" \
    "$(in_session "SELECT jwt_verify('$T')->>'sub';")" "ERROR:  28J0D"
check "item 12: ... revokes in the new tables" \
    "$(in_session "SELECT jwt_revoke('$T2'); SELECT jwt_is_revoked('$T2');")" $'t\nt'
check "item 12: ... and a revocation counts in another session" \
    "$(sqlstate "SELECT jwt_verify('$T2')->>'sub'")" 28J04
check "item 12: ... and the open session refuses it" \
    "$(in_session "SELECT jwt_verify('$T2')->>'sub';")" "ERROR:  28J04"
p "DROP EXTENSION jwt; CREATE EXTENSION jwt;" >/dev/null
check "item 12: with the extension re-created in a transaction of the open session" \
    "$(in_session "BEGIN; SELECT jwt_is_revoked('$T2'); SELECT jwt_generate_key('HS256', 'third') IS NOT NULL; COMMIT;")" $'f\nt'
check "item 12: ... it signs with the new keyring and authenticates" \
    "$(in_session "BEGIN; SELECT jwt_authenticate(jwt_sign('{\"sub\":\"fay\"}')) ->> 'sub'; COMMIT;")" fay
p "DROP EXTENSION jwt; CREATE SCHEMA IF NOT EXISTS jwt_elsewhere; CREATE EXTENSION jwt SCHEMA jwt_elsewhere;" >/dev/null
p "SELECT jwt_elsewhere.jwt_generate_key('HS256', 'fourth')" >/dev/null
T3=$(p "SELECT jwt_elsewhere.jwt_sign('{\"sub\":\"gil\"}')")
p "SELECT jwt_elsewhere.jwt_revoke_subject('gil')" >/dev/null
check "item 12: ... and follows the extension into another schema" \
    "$(in_session "SELECT jwt_elsewhere.jwt_verify('$T3')->>'sub';")" "ERROR:  28J04"

finish
