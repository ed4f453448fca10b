#!/usr/bin/env bash
# A database that is not UTF-8 (LATIN1): tokens are UTF-8, the revocation
# lists store ids in the database encoding. Non-ASCII token ids and subjects
# revoked there are found, written raw or as \u escapes; an id the encoding
# cannot represent makes the check fail closed (an error), never pass; a
# forged header kid it cannot represent names no key (false, 28J0D).
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
# an escaped e-acute: PostgreSQL's JSON lexer turns it into the database encoding while the
# token's other characters stay UTF-8, so such a token is refused here (see below)
T3=$(tok '{"sub":"ann","jti":"\u00e9-3","exp":4000000000}')
# a raw UTF-8 euro sign, which LATIN1 lacks (bytes, not a LATIN1 literal)
T4=$(p "SELECT jws_sign(decode('7b22737562223a22656d6d61222c226a7469223a22e282ac2d34222c22657870223a343030303030303030307d', 'hex'), '$SECRET')")
check "the tokens verify before any revocation" "$(checked "$T1")$(checked "$T2")" tt
check "claims come back in the database encoding" "$(p "SELECT jwt_verify('$T1', '$SECRET')->>'sub'")" "jürgen"

p "SELECT jwt_revoke('$T1')" >/dev/null
check "a non-ASCII jti revoked with jwt_revoke is found" "$(p "SELECT jwt_is_revoked('$T1')")" t
check "and the token is refused" "$(checked "$T1")" f

p "SELECT jwt_revoke_subject('zoë')" >/dev/null
check "a non-ASCII subject cut-off is found" "$(p "SELECT jwt_is_revoked('$T2')")" t
check "and the subject's token is refused" "$(checked "$T2")" f

# An escaped character past ASCII would be read two ways (escapes in the database encoding,
# the rest UTF-8): "\u00c3\u00a9" would come out as the bytes of UTF-8 "é".  Refused (22J03).
check "an escaped non-ASCII jti is refused in LATIN1 (22J03), never read two ways" \
    "$(p "SELECT jwt_is_valid('$T3', '$SECRET')"; p "SELECT jwt_verify('$T3', '$SECRET')" 2>&1 | grep -o 'escapes a character past ASCII' | head -1)" \
    "$(printf 'f\nescapes a character past ASCII')"
TR=$(tok '{"sub":"ann","role":"\u00c3\u00a9","exp":4000000000}')
check "a role spelt with escapes cannot pass for another role (22J03)" \
    "$(p "SELECT jwt_is_valid('$TR', '$SECRET')")" f
check "an escape of an ASCII character is read as it is" \
    "$(p "SELECT jwt_verify('$(tok '{"sub":"\u0061nn","exp":4000000000}')', '$SECRET')->>'sub'")" ann

check "an id LATIN1 cannot represent: the check fails closed (22P05), never accepts" \
    "$(p "SELECT jwt_is_valid('$T4', '$SECRET', check_revoked => true)" 2>&1 | grep -o 'has no equivalent in encoding "LATIN1"' | head -1)" \
    'has no equivalent in encoding "LATIN1"'
check "without the check, the signature and claims still verify" \
    "$(p "SELECT jwt_is_valid('$T4', '$SECRET')")" t

# --- issue 12 item 19: identity confusion in databases not encoded in UTF-8 ---
# Before: jwt_sign copied LATIN1 bytes into the token, so the user "Ã©" (bytes
# c3 a9 in LATIN1) got a token every verifier reads as "é", another user.
hexpart() { p "SELECT encode(decode(rpad(translate(split_part('$1', '.', $2), '-_', '+/'), (length(split_part('$1', '.', $2)) + 3) / 4 * 4, '='), 'base64'), 'hex')"; }
TE=$(p "SELECT jwt_sign('{\"sub\":\"é\",\"exp\":4000000000}', '$SECRET')")
TA=$(p "SELECT jwt_sign('{\"sub\":\"Ã©\",\"exp\":4000000000}', '$SECRET')")
check "LATIN1: jwt_sign writes é as UTF-8 (c3a9) in the claims" \
    "$(hexpart "$TE" 2 | grep -o '22737562223a22c3a922' | head -1)" '22737562223a22c3a922'
check "LATIN1: and Ã© as its own UTF-8 (c383c2a9), not as é" \
    "$(hexpart "$TA" 2 | grep -o '22737562223a22c383c2a922' | head -1)" '22737562223a22c383c2a922'
check "LATIN1: each user's token verifies as that user" \
    "$(p "SELECT jwt_verify('$TE', '$SECRET')->>'sub' = 'é' AND jwt_verify('$TA', '$SECRET')->>'sub' = 'Ã©'")" t
check "LATIN1: PyJWT reads the tokens as é and Ã©" \
    "$(/usr/bin/python3 -I -c 'import jwt,sys; k=sys.argv[1]; print(jwt.decode(sys.argv[2], k, algorithms=["HS256"])["sub"] == "\u00e9", jwt.decode(sys.argv[3], k, algorithms=["HS256"])["sub"] == "\u00c3\u00a9")' "$SECRET" "$TE" "$TA")" "True True"
check "LATIN1: subject => 'é' matches é's token (the option is compared as UTF-8)" \
    "$(p "SELECT jwt_is_valid('$TE', '$SECRET', subject => 'é')")" t
check "LATIN1: subject => 'Ã©' does not match é's token" \
    "$(p "SELECT jwt_is_valid('$TE', '$SECRET', subject => 'Ã©')")" f
check "LATIN1: audience and issuer options are compared as UTF-8 too" \
    "$(p "SELECT jwt_is_valid(jwt_sign('{\"iss\":\"café\",\"aud\":\"thé\",\"exp\":4000000000}', '$SECRET'), '$SECRET', issuer => 'café', audience => 'thé')")" t
p "SELECT jwt_generate_key('HS256', 'clé')" >/dev/null
TK=$(p "SELECT jwt_sign('{\"sub\":\"é\",\"exp\":4000000000}', header => '{\"kid\":\"clé\"}')")
check "LATIN1: a non-ASCII kid is written as UTF-8 in the header" \
    "$(hexpart "$TK" 1 | grep -o '636cc3a9' | head -1)" '636cc3a9'
check "LATIN1: and the keyring finds the key by it" "$(p "SELECT jwt_verify('$TK')->>'sub' = 'é'")" t
check "LATIN1: jwt_authenticate and jwt_claim('sub') see é" \
    "$(p "SELECT jwt_authenticate('$TK') IS NOT NULL, jwt_claim('sub') = 'é'" | tr -d '|')" tt

# Attack: a forged token whose header kid LATIN1 cannot represent (a euro
# sign): the keyring lookup converted it and raised 22P05, so jwt_is_valid
# raised instead of answering false, and jwt_authenticate failed with a code
# that is not the token's.  It names no key: refused as an unknown kid.
FK=$(printf '{"alg":"HS256","kid":"\xe2\x82\xac"}' | base64 -w0 | tr '+/' '-_' | tr -d '=')
FK="$FK.$(printf '{"sub":"admin"}' | base64 -w0 | tr '+/' '-_' | tr -d '=').AAAA"
check "LATIN1: a forged kid the encoding cannot represent: jwt_is_valid is false" \
    "$(p "SELECT jwt_is_valid('$FK')" 2>&1)" f
check "LATIN1: and jwt_authenticate refuses it as an unknown kid (28J0D)" \
    "$("$PGBIN/psql" -X -q -A -t -v VERBOSITY=sqlstate -d "$DB" -c "BEGIN" -c "SELECT jwt_authenticate('$FK')" -c "ROLLBACK" 2>&1 | head -n 1)" "ERROR:  28J0D"

DB2=jwt_eucjp_$$
own_database "$DB2 ENCODING 'EUC_JP' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
DB_SAVED=$DB; DB=$DB2
p "CREATE EXTENSION jwt" >/dev/null
TJ=$(p "SELECT jwt_sign('{\"sub\":\"日本\",\"exp\":4000000000}', '$SECRET')")
check "EUC_JP: jwt_sign writes 日本 as UTF-8 (e697a5e69cac)" \
    "$(hexpart "$TJ" 2 | grep -o 'e697a5e69cac' | head -1)" 'e697a5e69cac'
check "EUC_JP: it verifies as 日本, also with subject => '日本'" \
    "$(p "SELECT jwt_verify('$TJ', '$SECRET', subject => '日本')->>'sub' = '日本'")" t
check "EUC_JP: PyJWT reads 日本" \
    "$(/usr/bin/python3 -I -c 'import jwt,sys; print(jwt.decode(sys.argv[2], sys.argv[1], algorithms=["HS256"])["sub"] == "\u65e5\u672c")' "$SECRET" "$TJ")" True

DB3=jwt_sqlascii_$$
own_database "$DB3 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
DB=$DB3
p "CREATE EXTENSION jwt" >/dev/null
TS=$(p "SELECT jwt_sign('{\"sub\":\"é\",\"exp\":4000000000}', '$SECRET')")
check "SQL_ASCII: UTF-8 text signs and verifies unchanged" \
    "$(p "SELECT jwt_verify('$TS', '$SECRET', subject => 'é')->>'sub' = 'é'")" t
check "SQL_ASCII: claims that are not UTF-8 are refused at signing (22021)" \
    "$(p "SELECT jwt_sign(jsonb_build_object('sub', chr(233), 'exp', 4000000000), '$SECRET')" 2>&1 | grep -o 'the claims must be valid UTF-8' | head -1)" 'the claims must be valid UTF-8'
check "SQL_ASCII: a header kid that is not UTF-8 is refused too" \
    "$(p "SELECT jwt_sign('{\"exp\":4000000000}', '$SECRET', header => jsonb_build_object('kid', chr(233)))" 2>&1 | grep -o 'the header must be valid UTF-8' | head -1)" 'the header must be valid UTF-8'
DB=$DB_SAVED

finish
