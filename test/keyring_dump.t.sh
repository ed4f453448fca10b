#!/usr/bin/env bash
# The keyring survives pg_dump / pg_restore: jwt_keys is an extension config
# table (pg_extension_config_dump), so its rows, retirement included, are dumped
# and tokens signed before the dump verify in the restored database.
# Uses the cluster the PG* variables name (test/run-tests.sh sets them); without
# PGHOST it starts a throwaway cluster of its own. Creates two databases and
# drops them on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
use_cluster

DB1=jwt_dump_src_$$ DB2=jwt_dump_dst_$$
TMP=$(mktemp -d /tmp/jwt-dump.XXXXXX)
remove_at_exit "$TMP"

# q DB SQL: one value, unaligned; errors are fatal (set -e).
q() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
# sqlstate DB SQL: the SQLSTATE the statement fails with ("none" if it succeeds).
sqlstate() {
    local out
    out=$("$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -d "$1" -c "$2" 2>&1) && { echo none; return; }
    sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\).*/\1/p' <<<"$out" | head -n 1
}

# --- the original database and its keyring ---
own_database "$DB1"
q "$DB1" "CREATE EXTENSION jwt" >/dev/null
KID_ES=$(q "$DB1" "SELECT jwt_generate_key('ES256')")
KID_HS=$(q "$DB1" "SELECT jwt_generate_key('HS256', 'hs-1')")
KID_RS=$(q "$DB1" "SELECT jwt_generate_key('RS256')")
openssl genpkey -algorithm ed25519 -out "$TMP/ed.pem" 2>/dev/null
KID_ED=$(q "$DB1" "SELECT jwt_add_key(\$k\$$(cat "$TMP/ed.pem")\$k\$, kid => 'ed-added')")
# A JWKS with the public half of another Ed25519 key (x: the last 32 bytes of
# the SPKI DER), and an encryption key that the import skips.
openssl genpkey -algorithm ed25519 -out "$TMP/ext.pem" 2>/dev/null
X=$(openssl pkey -in "$TMP/ext.pem" -pubout -outform DER | tail -c 32 | base64 | tr '+/' '-_' | tr -d '=\n')
JWKS='{"keys":[{"kty":"OKP","crv":"Ed25519","x":"'$X'","kid":"ext-1"},
               {"kty":"OKP","crv":"Ed25519","x":"'$X'","kid":"ext-enc","use":"enc"}]}'
check "jwt_import_jwks imports the signing key only" "$(q "$DB1" "SELECT jwt_import_jwks('$JWKS', 'https://ext.example')")" 1

# Tokens: the default signing key, each key by kid, and the JWKS key's private half.
declare -A TOK
TOK[default]=$(q "$DB1" "SELECT jwt_sign('{\"sub\":\"a\"}')")
for kid in "$KID_ES" "$KID_HS" "$KID_RS" "$KID_ED"; do
    TOK[$kid]=$(q "$DB1" "SELECT jwt_sign('{\"sub\":\"a\"}', header => '{\"kid\":\"$kid\"}')")
done
TOK[ext-1]=$(q "$DB1" "SELECT jwt_sign('{\"sub\":\"a\",\"iss\":\"https://ext.example\"}', \$k\$$(cat "$TMP/ext.pem")\$k\$, header => '{\"kid\":\"ext-1\"}')")
check "the default signing key is the newest one with private material" \
    "$(q "$DB1" "SELECT (jwt_decode('${TOK[default]}')).header->>'kid'")" "$KID_ED"

# Retire the RS256 key (no grace): its token is refused from now on.
check "jwt_retire_key" "$(q "$DB1" "SELECT jwt_retire_key('$KID_RS')")" t
check "the retired key's token is refused before the dump (28J0D)" \
    "$(sqlstate "$DB1" "SELECT jwt_verify('${TOK[$KID_RS]}')")" 28J0D

# What the restored database must reproduce.
STATES="SELECT string_agg(kid || '=' || state, ',' ORDER BY kid) FROM jwt_key_list"
DIGEST="SELECT md5(string_agg(k::text, ',' ORDER BY kid)) FROM jwt_keys k"
JWKS_OUT=$(q "$DB1" "SELECT jwt_jwks()")
COUNT=$(q "$DB1" "SELECT count(*) FROM jwt_keys")
check "the original keyring has 5 keys" "$COUNT" 5

# --- dump (custom format), restore into a new database ---
"$PGBIN/pg_dump" -Fc -d "$DB1" -f "$TMP/db.dump"
own_database "$DB2" TEMPLATE template0
if "$PGBIN/pg_restore" --exit-on-error -d "$DB2" "$TMP/db.dump" 2>"$TMP/restore.err"; then
    ok "pg_restore -d succeeds"
else
    notok "pg_restore -d succeeds"; sed 's/^/#   /' "$TMP/restore.err"
fi

for name in default "$KID_ES" "$KID_HS" "$KID_ED" ext-1; do
    check "restored: token signed with $name verifies" \
        "$(q "$DB2" "SELECT jwt_verify('${TOK[$name]}')->>'sub'" 2>&1)" a
done
check "restored: the retired key's token is refused (28J0D)" \
    "$(sqlstate "$DB2" "SELECT jwt_verify('${TOK[$KID_RS]}')")" 28J0D
check "restored: the retired key is still retired" \
    "$(q "$DB2" "SELECT state FROM jwt_key_list WHERE kid = '$KID_RS'")" retired
check "restored: every key keeps its state" "$(q "$DB2" "$STATES")" "$(q "$DB1" "$STATES")"
check "restored: jwt_jwks() equals the original's" "$(q "$DB2" "SELECT jwt_jwks()")" "$JWKS_OUT"
check "restored: jwt_jwks() lists the active keys with a public half (ES256, Ed25519)" \
    "$(q "$DB2" "SELECT string_agg(k->>'kid', ',' ORDER BY k->>'kid') FROM jsonb_array_elements(jwt_jwks()->'keys') k")" \
    "$(printf '%s\n' "$KID_ES" "$KID_ED" | LC_ALL=C sort | paste -sd,)"
check "restored: count(*) FROM jwt_keys equals the original's" "$(q "$DB2" "SELECT count(*) FROM jwt_keys")" "$COUNT"
check "restored: jwt_keys rows are identical" "$(q "$DB2" "$DIGEST")" "$(q "$DB1" "$DIGEST")"
check "restored: the keyring still signs (HS256 by kid)" \
    "$(q "$DB2" "SELECT jwt_verify(jwt_sign('{\"sub\":\"b\"}', header => '{\"kid\":\"hs-1\"}'))->>'sub'")" b

# --- the plain-format dump carries the config table's data ---
"$PGBIN/pg_dump" -Fp -d "$DB1" -f "$TMP/db.sql"
check "pg_dump -Fp has COPY ... jwt_keys with 5 rows" \
    "$(awk '/^COPY [a-z_."]*jwt_keys /{on=1; next} on && /^\\\.$/{on=0} on{n++} END{print n+0}' "$TMP/db.sql")" 5

finish
