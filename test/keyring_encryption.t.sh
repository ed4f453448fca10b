#!/usr/bin/env bash
# Envelope encryption of the keyring: with jwt.key_encryption_key set (and jwt
# preloaded, which keeps the setting hidden), private material is stored sealed
# with AES-256-GCM, a dump holds only ciphertext, and the keys still sign and
# verify in new sessions.  Starts its own cluster: it needs a restart setting.
set -euo pipefail
cd "$(dirname "$0")/.."
unset PGHOST PGPORT PGDATABASE
JWT_TEST_PORT=$(( 55000 + RANDOM % 1000 )) JWT_SERVER_OPTS="-c shared_preload_libraries=jwt"
. test/cluster.sh
cluster_start

PASSED=0 FAILED=0
check() {  # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then PASSED=$((PASSED + 1)); echo "ok - $1"
    else FAILED=$((FAILED + 1)); echo "not ok - $1: expected [$2], got [$3]"; fi
}
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
sqlstate() { psql -X -A -t -q -c '\set VERBOSITY sqlstate' -c "$1" 2>&1 | grep -o '[0-9A-Z]\{5\}' | tail -n 1; }
set_kek() { q "ALTER SYSTEM $1" && q "SELECT pg_reload_conf()" >/dev/null && sleep 0.5; }
kek=$(openssl rand -hex 32)
q "CREATE EXTENSION jwt"

# the file form keeps the key out of the server log (a reload logs new values)
kek_file="$CLUSTER_DIR/jwt.kek"
echo "$kek" >"$kek_file"
chmod 600 "$kek_file"
[ "$(id -u)" = 0 ] && chown "${JWT_SERVER_USER:-postgres}" "$kek_file"
set_kek "SET jwt.key_encryption_key = 'file:$kek_file'"
q "CREATE ROLE regress_kek_viewer"
check "non-superusers cannot see the setting" "42501" \
    "$(sqlstate "SET ROLE regress_kek_viewer; SHOW jwt.key_encryption_key")"
check "nor list it" "0" \
    "$(q "SET ROLE regress_kek_viewer; SELECT count(*) FROM pg_settings WHERE name = 'jwt.key_encryption_key' AND setting <> ''")"

check "keys generated" "sealed-es sealed-hs" \
    "$(q "SELECT jwt_generate_key('ES256', 'sealed-es')") $(q "SELECT jwt_generate_key('HS256', 'sealed-hs')")"
check "stored sealed" "2" \
    "$(q "SELECT count(*) FROM jwt_keys WHERE substring(private_key from 1 for 8) = 'JWTKEK1:'::bytea")"
check "no PEM in the table" "0" \
    "$(q "SELECT count(*) FROM jwt_keys WHERE position('PRIVATE KEY'::bytea in private_key) > 0")"

token=$(q "SELECT jwt_sign('{\"sub\":\"sealed\"}', header => '{\"kid\":\"sealed-es\"}')")
token_hs=$(q "SELECT jwt_sign('{\"sub\":\"sealed-hs\"}', header => '{\"kid\":\"sealed-hs\"}')")
check "a new session verifies" "sealed" "$(q "SELECT jwt_verify('$token') ->> 'sub'")"
check "the hmac key verifies" "sealed-hs" "$(q "SELECT jwt_verify('$token_hs') ->> 'sub'")"

dump=$(pg_dump -Fp -a -t jwt_keys postgres)
check "the dump has the rows" "yes" "$(grep -q 'sealed-es' <<<"$dump" && echo yes || echo no)"
check "the dump holds no private key" "no" "$(grep -q 'PRIVATE KEY' <<<"$dump" && echo yes || echo no)"

# a sealed value moved to another row does not open: the kid is bound in
q "UPDATE jwt_keys SET private_key = (SELECT private_key FROM jwt_keys WHERE kid = 'sealed-hs') WHERE kid = 'sealed-es'"
check "moved ciphertext cannot sign" "22023" "$(sqlstate "SELECT jwt_sign('{}', header => '{\"kid\":\"sealed-es\"}')")"

# without the key-encryption key the sealed keys cannot be used, and say why
set_kek "RESET jwt.key_encryption_key"
out=$(psql -X -A -t -q -c "SELECT jwt_is_valid('$token_hs')" 2>&1)
check "without the KEK: not valid" "f" "$(tail -n 1 <<<"$out")"
check "without the KEK: a warning says why" "yes" \
    "$(grep -q 'encrypted and jwt.key_encryption_key is not set' <<<"$out" && echo yes || echo no)"

# the key itself never reaches the server log or a client message
check "the KEK is not in the server log" "no" "$(grep -qi "$kek" "$CLUSTER_DIR/server.log" && echo yes || echo no)"
# a malformed KEK file is refused without echoing its contents
echo "not-hex-$kek" >"$kek_file"
set_kek "SET jwt.key_encryption_key = 'file:$kek_file'"
out=$(psql -X -A -t -q -c "SELECT jwt_generate_key('ES256')" 2>&1 || true)
check "malformed KEK refused" "yes" "$(grep -q 'must be 64 hexadecimal digits' <<<"$out" && echo yes || echo no)"
check "and not echoed" "no" "$(grep -qi "$kek" <<<"$out" && echo yes || echo no)"

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
